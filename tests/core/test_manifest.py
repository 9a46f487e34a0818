"""The fixture corpus (fixtures/core/manifest.json) through the calculator, without libbpf.

Each case's recorded outcome (verified with libbpf 1.1.2 and the kernel verifier for the
little-endian objects) must follow from our results alone:

* ``error``: a relocation raises, or a validated original value differs from what the
  compiler put into the instruction (libbpf's patcher refuses that);
* ``poison``: nothing raises and some instruction is poisoned (by the calculation, or by a
  refused load/store size change on a memory instruction);
* ``ok``: nothing raises and every validated value is the instruction's (poisoned
  instructions may remain: the corpus guards them, the verifier drops them as dead code).

Big-endian objects are held to the same outcomes.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from btf.spec import Spec
from corepy.core import CoreCalculator, CoreOptions, CoreRelocationError, TargetBTF

from .conftest import load_obj

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "core"


def _cases() -> list[tuple[str, str, str, str]]:
    path = FIX / "manifest.json"
    if not path.exists():
        return []
    m = json.loads(path.read_text())
    out = []
    for obj, o in m["objects"].items():
        for case in o["cases"]:
            if case["target"] == "-":
                continue
            for arch in ("bpfel", "bpfeb"):
                out.append((arch, obj, case["target"], case["outcome"]))
    return out


def _insn_value(data: bytes, off: int, order: str) -> tuple[int, int]:
    """(instruction class, the value libbpf compares with the original value)."""
    e = "<" if order == "little" else ">"
    code = data[off]
    ioff, imm = struct.unpack_from(e + "hi", data, off + 2)
    cls = code & 7
    if code == 0x18:
        hi = struct.unpack_from(e + "i", data, off + 12)[0]
        return cls, (imm & 0xFFFFFFFF) | (hi & 0xFFFFFFFF) << 32
    if cls in (1, 2, 3):
        return cls, ioff & 0xFFFFFFFFFFFFFFFF
    return cls, imm & 0xFFFFFFFFFFFFFFFF


def outcome(arch: str, obj: str, target: str, legacy: bool = True) -> str:
    prog = load_obj(FIX / arch / obj)
    if target.startswith("kernel/"):  # raw BTF of a little-endian kernel
        tbtf = Spec((FIX / target).read_bytes(), source=target)
    else:
        tbtf = load_obj(FIX / arch / target).btf
    calc = CoreCalculator(prog.btf, TargetBTF("vmlinux", tbtf),
                          options=CoreOptions(legacy_array_mem_size=legacy))
    poisoned = False
    order = prog.btf.byteorder
    for relo, name in prog.relos:
        try:
            res = calc.calc(relo, name)
        except CoreRelocationError:
            return "error"
        cls, value = _insn_value(prog.sections[relo.section], relo.insn_off, order)
        if res.poison:
            poisoned = True
            continue
        if res.validate and value != res.orig_val:
            return "error"
        if res.fail_memsz_adjust and cls in (1, 2, 3):
            poisoned = True
    return "poison" if poisoned else "ok"


@pytest.mark.parametrize("arch,obj,target,expect", _cases())
def test_manifest_outcome(arch, obj, target, expect):
    if not (FIX / arch / obj).exists():
        pytest.skip(f"{arch}/{obj} not built")
    got = outcome(arch, obj, target)
    if expect == "ok":
        assert got in ("ok", "poison")
    else:
        assert got == expect
