"""Every patch-step error path, on objects crafted from engine.bpfel.o, against libbpf.

Each case edits one instruction (or one symbol) of the committed object in a temp copy and
runs libbpf 1.1 and corepy on it with the engine's target BTF. Both must reach the same
decision, and the line corepy reports must be the line libbpf logged. The fixture corpus
never trips these paths (clang emits well-formed CO-RE sites), so without crafting they
would be compared with nothing but the spec.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from corepy import insn as I
from corepy.objfile import BPFObject

from .conftest import DATA, ENGINE, needs_calc
from .test_libbpf_diff import Tally, _oracle, compare_pair

pytestmark = [needs_calc, pytest.mark.root]

TARGET = DATA / "engine_target.bpfel.o"
BIG = DATA / "engine_target_big.bpfel.o"


def edit_insn(sec: str, idx: int, change: Callable[[I.Insn], I.Insn], slot: int = 0
              ) -> Callable[[bytearray, BPFObject], None]:
    def apply(data: bytearray, obj: BPFObject) -> None:
        pos = obj.section(sec).offset + (idx + slot) * 8
        data[pos : pos + 8] = I.encode(change(I.decode(data, pos, "little")), "little")
    return apply


def shrink_symbol(name: str, size: int) -> Callable[[bytearray, BPFObject], None]:
    def apply(data: bytearray, obj: BPFObject) -> None:
        symtab = next(s for s in obj.elf.sections if s.type == 2)
        for i, sym in enumerate(obj.elf.symbols()):
            if sym.name == name:
                struct.pack_into("<Q", data, symtab.offset + i * 24 + 16, size)
                return
        raise AssertionError(name)
    return apply


CASES: dict[str, tuple[Callable[[bytearray, BPFObject], None], Path, str]] = {
    # (edit, target, what corepy must report for that relocation)
    "alu_value_mismatch": (edit_insn("raw_tp/sys_enter", 2, lambda i: i.with_(imm=9)),
                           TARGET, "unexpected insn #2 (ALU/ALU64) value: got 9, exp 8 -> 16"),
    "ldx_value_mismatch": (edit_insn("tp_btf/sched_switch", 1, lambda i: i.with_(off=24)),
                           TARGET, "unexpected insn #1 (LDX/ST/STX) value: got 24, exp 20 -> 40"),
    "ldx_value_too_big": (lambda d, o: None, BIG, "insn #1 (LDX/ST/STX) value too big: 40040"),
    "ldx_unexpected_mem_size": (
        edit_insn("tp_btf/sched_switch", 7, lambda i: i.with_(code=0x69)), TARGET,
        "insn #7 (LDX/ST/STX) unexpected mem size: got 2, exp 4"),
    "unrecognized_jump": (
        edit_insn("raw_tp/sys_enter", 2, lambda i: i.with_(code=0x15, off=1)), TARGET,
        "trying to relocate unrecognized insn #2, code:0x15, src:0x0, dst:0x1, off:0x1, "
        "imm:0x8"),
    "ldimm64_src_reg": (edit_insn("raw_tp/sys_exit", 0, lambda i: i.with_(src=1)), TARGET,
                        "insn #0 (LDIMM64) has unexpected form"),
    "ldimm64_second_slot": (
        edit_insn("raw_tp/sys_exit", 0, lambda i: i.with_(off=3), slot=1), TARGET,
        "insn #0 (LDIMM64) has unexpected form"),
    "ldimm64_value_mismatch": (
        edit_insn("raw_tp/sys_exit", 11, lambda i: i.with_(imm=2)), TARGET,
        "unexpected insn #11 (LDIMM64) value: got 2, exp 1 -> 11"),
    "alu_register_source": (
        edit_insn("raw_tp/sys_enter", 2, lambda i: i.with_(code=0xBF)), TARGET, ""),
    "eliminated_weak_subprog": (shrink_symbol("sub_read_x", 8), TARGET, ""),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_patch_path_matches_libbpf(case: str, tmp_path: Path) -> None:
    oracle = _oracle()
    edit, target, expect = CASES[case]
    obj = BPFObject.open(ENGINE["little"])
    data = bytearray(obj.data)
    edit(data, obj)
    path = tmp_path / f"{case}.o"
    path.write_bytes(bytes(data))
    tally = Tally()
    compare_pair(oracle, path, target, tally)
    assert not tally.failures, "\n".join(tally.failures)
    assert tally.compared > 0

    from corepy.api import relocate

    from .test_libbpf_diff import options_for

    rel = relocate(path, target, collect_errors=True, options=options_for("1.1"))
    if case == "eliminated_weak_subprog":
        skipped = [f for f in rel.fixups if f.outcome == "skipped"]
        # .text insns #1 and #7 now belong to no function
        assert [f.relo.index for f in skipped] == [0, 1]
        res: Any = oracle.libbpf_relocate(path, target)
        assert res.relocation(".text", 0).skipped and res.relocation(".text", 1).skipped
        return
    errors = [f.message or "" for f in rel.fixups if f.outcome == "error"]
    # the BIG target pushes all four direct loads of prog_direct out of reach
    assert len(errors) == (4 if target == BIG else 1)
    assert expect in errors[0]
