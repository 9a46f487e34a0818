"""Writer and engine plumbing with a scripted calculator: exactly the CO-RE bytes change."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from corepy import insn as I
from corepy.api import Relocation, run
from corepy.errors import RelocationError
from corepy.objfile import BPFObject
from corepy.relo import CoreRelo, ReloResult
from corepy.writer import write_atomic

from .conftest import ENGINE, HOST, ScriptedCalc


def diff_positions(a: bytes, b: bytes) -> list[int]:
    assert len(a) == len(b)
    return [i for i in range(len(a)) if a[i] != b[i]]


def core_relo_len_pos(obj: BPFObject) -> int:
    return obj.section(".BTF.ext").offset + 28


def plus(n: int):  # type: ignore[no-untyped-def]
    """Rule: every relocation gets current value + n (LD_IMM64 and ALU alike)."""
    def rule(r: CoreRelo, v: int) -> ReloResult:
        return ReloResult(r, "[1] x", v, v + n)
    return rule


def test_identity_changes_only_core_relo_len(byteorder: str) -> None:
    obj = BPFObject.open(ENGINE[byteorder])
    rel = run(obj, ScriptedCalc(obj))
    out = rel.to_bytes()
    pos = core_relo_len_pos(obj)
    assert diff_positions(obj.data, out) == [p for p in range(pos, pos + 4) if obj.data[p]]
    fmt = "<I" if byteorder == "little" else ">I"
    assert struct.unpack_from(fmt, out, pos)[0] == 0
    assert struct.unpack_from(fmt, obj.data, pos)[0] == obj.ext.core_relo_len  # type: ignore[union-attr]
    assert all(f.outcome == "patched" and f.before == f.after for f in rel.fixups)


def test_only_patched_bytes_differ(byteorder: str) -> None:
    obj = BPFObject.open(ENGINE[byteorder])
    rel = run(obj, ScriptedCalc(obj, plus(1)))
    out = rel.to_bytes()
    allowed = set(range(core_relo_len_pos(obj), core_relo_len_pos(obj) + 4))
    for f in rel.fixups:
        base = obj.section(f.relo.section).offset + f.relo.insn_off
        allowed |= set(range(base, base + len(f.after)))
    changed = diff_positions(obj.data, out)
    assert changed and set(changed) <= allowed
    # each site's final bytes are in the output, in the object's byte order
    for f in rel.fixups:
        base = obj.section(f.relo.section).offset + f.relo.insn_off
        assert out[base : base + len(f.after)] == f.after
        new = I.decode(f.after, 0, obj.byteorder)
        old = I.decode(f.before, 0, obj.byteorder)
        assert (new.dst, new.src, new.code) == (old.dst, old.src, old.code)
    # the output parses, has no CO-RE records left, same functions
    again = BPFObject.from_bytes(out, "out.o")
    assert again.sites == [] and again.functions == obj.functions


def test_ldimm64_sites_get_both_halves() -> None:
    obj = BPFObject.open(ENGINE["big"])
    def rule(r: CoreRelo, v: int) -> ReloResult:
        ld64 = r.kind in (6, 7, 10, 11)  # clang puts these kinds on ld_imm64
        return ReloResult(r, "[1] x", v, v + (1 << 32) if ld64 else v)

    rel = run(obj, ScriptedCalc(obj, rule))
    lds = [f for f in rel.fixups if I.decode(f.before, 0, "big").is_ld_imm64]
    assert len(lds) == 5
    for f in lds:
        hi_before = I.decode(f.before, 8, "big").imm
        assert I.decode(f.after, 8, "big").imm == hi_before + 1


def test_program_bytes_and_text_subprog() -> None:
    obj = BPFObject.open(ENGINE["little"])
    calc = ScriptedCalc(obj, plus(4))
    rel = run(obj, calc)
    # calculator was asked per function, .text records under the subprogram's own name
    assert {p for r, p in calc.calls if r.section == ".text"} == {"sub_read_x"}
    progs = rel.programs
    assert set(progs) == {"sub_read_x", "prog_alu", "prog_ldimm64", "prog_direct"}
    sub = progs["sub_read_x"]
    text = obj.section_data(".text")
    assert I.decode(sub, 8, "little").imm == I.decode(text, 8, "little").imm + 4


def test_error_stops_unless_collecting() -> None:
    obj = BPFObject.open(ENGINE["little"])

    def rule(r: CoreRelo, v: int) -> ReloResult:
        if r.section == "raw_tp/sys_exit" and r.index == 1:
            raise RelocationError("relocation decision ambiguity: 1 != 2", section=r.section,
                                  index=r.index)
        return ReloResult(r, "[1] x", v + 1, v)  # every other one fails validation

    with pytest.raises(RelocationError, match="unexpected insn #2 \\(ALU/ALU64\\)"):
        run(obj, ScriptedCalc(obj, rule))
    rel = run(obj, ScriptedCalc(obj, rule), collect_errors=True)
    assert len(rel.fixups) == len(obj.sites) and not rel.ok
    amb = [f for f in rel.fixups if f.result is None]
    assert len(amb) == 1 and "ambiguity" in (amb[0].message or "")
    with pytest.raises(RelocationError):
        rel.to_bytes()


def test_fixup_log_is_calculation_then_patch() -> None:
    """Fixup.log: the calculator's lines (up to its failure), then the patcher's."""
    obj = BPFObject.open(ENGINE["little"])

    def rule(r: CoreRelo, v: int) -> ReloResult:
        pfx = f"prog 'x': relo #{r.index}: "
        if r.section == "raw_tp/sys_exit" and r.index == 1:
            raise RelocationError(f"{pfx}boom", section=r.section, index=r.index,
                                  log=[f"{pfx}<spec>", f"{pfx}failed to relocate: -22"])
        return ReloResult(r, "[1] x", v + (r.index == 2), v, log=[f"{pfx}<spec>"])

    rel = run(obj, ScriptedCalc(obj, rule), collect_errors=True)
    by = {(f.relo.section, f.relo.index): f for f in rel.fixups}
    calc_failed = by[("raw_tp/sys_exit", 1)]
    assert calc_failed.log == ("prog 'x': relo #1: <spec>",
                               "prog 'x': relo #1: failed to relocate: -22")
    patch_failed, ok = by[("raw_tp/sys_enter", 2)], by[("raw_tp/sys_enter", 0)]
    assert patch_failed.outcome == "error" and patch_failed.log[0] == "prog 'x': relo #2: <spec>"
    assert patch_failed.log[1:] == (  # the patcher's lines, under the program's real name
        "prog 'prog_alu': relo #2: unexpected insn #15 (ALU/ALU64) value: got 1, exp 2 -> 1",
        "prog 'prog_alu': relo #2: failed to patch insn #15: -22")
    assert ok.log == ("prog 'x': relo #0: <spec>",
                      "prog 'prog_alu': relo #0: patched insn #2 (ALU/ALU64) imm 8 -> 8")


def test_poisoned_allowed_unless_strict(tmp_path: Path) -> None:
    obj = BPFObject.open(ENGINE["little"])

    def rule(r: CoreRelo, v: int) -> ReloResult:
        return ReloResult(r, "[1] x", v, v, poison=(r.index == 0))

    rel = run(obj, ScriptedCalc(obj, rule))
    assert rel.ok and len(rel.poisoned) == 4  # relo #0 of each of the 4 sections
    out = tmp_path / "o.o"
    with pytest.raises(RelocationError, match="poisoned"):
        rel.write(out, strict=True)
    assert not out.exists()
    rel.write(out)
    data = out.read_bytes()
    for f in rel.poisoned:
        base = obj.section(f.relo.section).offset + f.relo.insn_off
        assert data[base : base + 8] == I.poison("little")


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                ) -> None:
    target = tmp_path / "out.o"
    target.write_bytes(b"previous")

    def boom(fd: int) -> None:
        raise OSError(5, "I/O error")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        write_atomic(target, b"new content")
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.o"]


def test_write_mode_and_replace(tmp_path: Path) -> None:
    target = tmp_path / "out.o"
    write_atomic(target, b"abc")
    write_atomic(target, b"defg")
    assert target.read_bytes() == b"defg"
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_refuses_to_overwrite_input(tmp_path: Path) -> None:
    src = tmp_path / "in.o"
    src.write_bytes(ENGINE["little"].read_bytes())
    obj = BPFObject.open(src)
    rel = run(obj, ScriptedCalc(obj))
    with pytest.raises(Exception, match="refusing to overwrite the input"):
        rel.write(src)
    assert src.read_bytes() == ENGINE["little"].read_bytes()


def test_input_file_untouched(tmp_path: Path) -> None:
    before = HOST["little"].read_bytes()
    obj = BPFObject.open(HOST["little"])
    rel: Relocation = run(obj, ScriptedCalc(obj, plus(8)))
    rel.write(tmp_path / "x.o")
    assert HOST["little"].read_bytes() == before


@pytest.mark.skipif(shutil.which("llvm-objdump-19") is None, reason="llvm-objdump-19 missing")
def test_bpfeb_output_disassembles_as_expected(tmp_path: Path) -> None:
    """An independent decoder (llvm-objdump) reads corepy's big-endian output as intended."""
    pytest.importorskip("corepy.core.calc")
    from corepy.api import relocate

    from .conftest import ENGINE_TARGET

    out = tmp_path / "eb.o"
    relocate(ENGINE["big"], ENGINE_TARGET["big"]).write(out)
    dis = subprocess.run(["llvm-objdump-19", "-d", "-j", "tp_btf/sched_switch", str(out)],
                         capture_output=True, text=True, check=True).stdout
    lines = {ln.split(":")[0].strip(): ln.split("\t")[-1] for ln in dis.splitlines()
             if ":\t" in ln}
    assert lines["1"] == "r2 = *(u32 *)(r1 + 0x28)"  # eng_s.in.y: 20 -> 40
    assert lines["7"] == "r2 = *(u64 *)(r1 + 0x38)"  # eng_s.narrow: 28 -> 56, u32 -> u64
    assert lines["9"] == "call 0xbad2310"  # eng_s.snarrow: signed resize -> poison
