"""The Python loader's object parsing and linking, checked without the kernel.

Expected values come from the compiled objects as llvm-readelf/llvm-objdump show them
(section sizes, symbol offsets, instruction counts) and from the C source.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from .selfcheck import FIXTURES, bpfload

PLAIN = FIXTURES / "plain.bpfel.o"
SELFCHECK = FIXTURES / "selfcheck.bpfel.o"


def _objdump_funcs(path: Path) -> dict[str, int]:
    """Instruction count per function symbol, according to llvm-objdump."""
    tool = shutil.which("llvm-objdump-19") or shutil.which("llvm-objdump")
    if tool is None:
        pytest.skip("llvm-objdump not installed (apt-get install llvm-19)")
    out = subprocess.run([tool, "-t", str(path)], capture_output=True, text=True,
                         check=True).stdout
    funcs = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 6 and "F" in parts[2:4]:
            funcs[parts[-1]] = int(parts[-2], 16) // 8
    return funcs


@pytest.mark.parametrize("endian", ["bpfel", "bpfeb"])
def test_plain_object_model(endian: str) -> None:
    obj = bpfload.Object.open(FIXTURES / f"plain.{endian}.o")
    assert obj.endian == ("<" if endian == "bpfel" else ">")
    assert sorted(obj.programs) == ["plain", "plain_other"]
    assert obj.programs["plain"].section == "raw_tp/sys_enter"
    assert obj.programs["plain"].prog_type == 17  # BPF_PROG_TYPE_RAW_TRACEPOINT
    assert obj.license == b"GPL"
    sizes = {name: (m.value_size, m.flags, m.max_entries) for name, m in obj.maps.items()}
    # From plain.bpf.c: .data = in_pid (4), .rodata = in_factor (4; tag[] is folded into an
    # immediate), .data.extra = in_seed (8), .bss = 48 bytes of outputs, counters[4] of u64.
    assert sizes == {".data": (4, 0, 1), ".rodata": (4, 0x80, 1), ".data.extra": (8, 0, 1),
                     ".bss": (48, 0, 1), "counters": (8, 0, 4)}
    assert obj.maps["counters"].key_size == 4
    e = obj.endian
    assert obj.read_global(".data") == struct.pack(e + "I", 0xFFFFFFFF)
    assert obj.read_global(".rodata") == struct.pack(e + "I", 3)
    assert obj.read_var("in_seed") == struct.pack(e + "Q", 7)
    assert obj.variable("out_comm") == (".bss", 8, 16)


def test_link_appends_called_subprograms_once() -> None:
    funcs = _objdump_funcs(PLAIN)
    obj = bpfload.Object.open(PLAIN)
    # plain calls scaled (global) and bump (static, via the .text section symbol); scaled
    # calls add_seed with a same-section call that has no relocation.
    expect = funcs["plain"] + funcs["scaled"] + funcs["add_seed"] + funcs["bump"]
    linked = obj._link(obj.programs["plain"])
    assert len(linked) // 8 == expect
    # Every pseudo call now lands on the first instruction of a placed function.
    starts = {0}
    pos = funcs["plain"]
    for name in ("scaled", "bump", "add_seed"):
        starts.add(pos)
        pos += funcs[name]
    targets = set()
    for i in range(len(linked) // 8):
        code, regs, _off, imm = struct.unpack_from("<BBhi", linked, i * 8)
        if code == 0x85 and regs >> 4 == 1:
            targets.add(i + imm + 1)
    assert targets and targets <= starts


def test_refuses_unrelocated_core_object() -> None:
    with pytest.raises(bpfload.LoaderError, match="CO-RE relocation"):
        bpfload.Object.open(SELFCHECK)
    obj = bpfload.Object.open(SELFCHECK, allow_core_relos=True)
    assert list(obj.programs) == ["selfcheck"]


def test_accepts_object_with_empty_core_relo_section() -> None:
    """corepy's writer leaves .BTF.ext with a zero-length core_relo sub-section."""
    data = bytearray(SELFCHECK.read_bytes())
    obj = bpfload.Object.open(bytes(data), allow_core_relos=True)
    ext = next(s for s in obj.sections if s.name == ".BTF.ext")
    assert bpfload.core_relo_count(ext.data) > 30  # at least one per check
    hdr_len = struct.unpack_from("<I", ext.data, 4)[0]
    assert hdr_len >= 32
    struct.pack_into("<I", data, ext.offset + 28, 0)  # core_relo_len = 0
    patched = bpfload.Object.open(bytes(data))
    assert list(patched.programs) == ["selfcheck"]
    assert patched.variable("out_failed")[0] == ".bss"


def test_core_relo_count_of_plain_is_zero() -> None:
    obj = bpfload.Object.open(PLAIN)
    ext = next(s for s in obj.sections if s.name == ".BTF.ext")
    assert bpfload.core_relo_count(ext.data) == 0


@pytest.mark.parametrize("data, msg", [
    (b"not an elf", "not an ELF"),
    (b"\x7fELF\x01" + bytes(60), "64-bit"),
])
def test_rejects_garbage(data: bytes, msg: str) -> None:
    with pytest.raises(bpfload.LoaderError, match=msg):
        bpfload.Object.open(data)


def test_rejects_foreign_byte_order_at_load() -> None:
    obj = bpfload.Object.open(FIXTURES / "plain.bpfeb.o")
    with pytest.raises(bpfload.LoaderError, match="byte order"):
        obj.load_into_kernel()


def test_set_global_before_load_changes_initial_value() -> None:
    obj = bpfload.Object.open(PLAIN)
    obj.set_var("in_pid", struct.pack("<I", 1234))
    assert obj.read_global(".data") == struct.pack("<I", 1234)
    with pytest.raises(bpfload.LoaderError, match="outside"):
        obj.set_global(".data", 2, b"\0\0\0")
    with pytest.raises(bpfload.LoaderError, match="no global-data section"):
        obj.set_global("counters", 0, b"\0")
