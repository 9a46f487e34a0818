"""Tests of the libbpf oracle itself (tests/oracle.py + tests/harness/libbpf_relo.c).

Expected values come from the layouts written in tests/harness/testdata/*.bpf.c (checked
by hand against libbpf's own debug log) and from the original section bytes of the object:
the oracle must return libbpf's instructions exactly, so everything that is neither a CO-RE
site nor a map/call fix-up must be byte-identical to the compiled object.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from oracle import (
    POISON_IMM,
    TESTDATA_DIR,
    OracleResult,
    decode_insn,
    iter_words,
    libbpf_relocate,
    libbpf_relocate_per_program,
    oracle_unavailable_reason,
    parse_core_log,
)

PROGS = TESTDATA_DIR / "oracle_progs.bpfel.o"
TARGET_ELF = TESTDATA_DIR / "oracle_target.bpfel.o"
TARGET_RAW = TESTDATA_DIR / "oracle_target.btf"
TARGET_AMBIG = TESTDATA_DIR / "oracle_target_ambig.bpfel.o"

CALL, LDX_W, LD_IMM64, MOV64_K = 0x85, 0x61, 0x18, 0xB7


@pytest.fixture(scope="module")
def oracle() -> None:
    reason = oracle_unavailable_reason()
    if reason is not None:
        pytest.skip(f"libbpf oracle unavailable: {reason}")


@pytest.fixture(scope="module")
def relocated(oracle: None) -> OracleResult:
    return libbpf_relocate(PROGS, TARGET_ELF)


def section_words(obj: Path, name: str) -> list[bytes]:
    with obj.open("rb") as f:
        sec = ELFFile(f).get_section_by_name(name)
        assert sec is not None, name
        return list(iter_words(sec.data()))


def imm(word: bytes) -> int:
    return decode_insn(word)[4]


def imm64(lo: bytes, hi: bytes) -> int:
    return (imm(lo) & 0xFFFFFFFF) | (imm(hi) & 0xFFFFFFFF) << 32


# --------------------------------------------------------------------------------------------
# the committed object against the committed target


def test_layout_and_subprogram_appending(relocated: OracleResult) -> None:
    r = relocated
    assert r.ok, r.error
    assert r.libbpf_version == "v1.1"
    assert set(r.programs) == {"prog_fields", "prog_poison", "prog_direct"}
    funcs = {(f.section, f.name, f.sec_insn_off, f.insn_count) for f in r.functions}
    assert funcs == {
        (".text", "sub_read_x", 0, 11),
        (".text", "sub_size_c", 11, 2),
        ("raw_tp/sys_enter", "prog_fields", 0, 24),
        ("raw_tp/sys_exit", "prog_poison", 0, 42),
        ("raw_tp/sched_switch", "prog_direct", 0, 9),
    }
    fields = r.programs["prog_fields"]
    assert fields.section == "raw_tp/sys_enter" and fields.submitted
    assert len(fields.insns) == 35 == 24 + 11
    assert [(s.name, s.insn_off, s.insn_count) for s in fields.subprogs] == [("sub_read_x", 24, 11)]
    poison = r.programs["prog_poison"]
    assert [(s.name, s.insn_off) for s in poison.subprogs] == [
        ("sub_size_c", 42),
        ("sub_read_x", 44),
    ]
    assert len(poison.insns) == 55
    # func_info submitted to the kernel agrees with the log-derived layout
    assert [(f.insn_off, f.name) for f in poison.func_info] == [
        (0, "prog_poison"),
        (42, "sub_size_c"),
        (44, "sub_read_x"),
    ]
    assert fields.prog_type == 17 and fields.license == "GPL"  # BPF_PROG_TYPE_RAW_TRACEPOINT
    # the pseudo call in prog_fields (insn 18) now jumps to the appended copy at 24
    code, _, src, _, off_imm = decode_insn(fields.insns[18])
    assert (code, src, 18 + off_imm + 1) == (CALL, 1, 24)


def test_patched_values(relocated: OracleResult) -> None:
    f = relocated.programs["prog_fields"].insns
    assert decode_insn(f[2])[0] == MOV64_K and imm(f[2]) == 24  # offsetof(corepy_s, b)
    assert imm(f[13]) == 4  # sizeof(corepy_s.c): u16 -> u32
    assert imm(f[24 + 1]) == 40  # sub_read_x: offsetof(corepy_s, in.x) = 32 + 8
    p = relocated.programs["prog_poison"].insns
    assert imm(p[2]) == 0  # field_exists(gone) -> 0
    assert imm64(p[22], p[23]) == 11  # enum value COREPY_E_ONE 1 -> 11
    assert imm(p[27]) == 0  # type_exists(struct corepy_absent) -> 0
    assert imm(p[42]) == 4  # sub_size_c copy
    assert imm(p[44 + 1]) == 40  # sub_read_x copy at another offset
    d = relocated.programs["prog_direct"].insns
    code, dst, src, off, _ = decode_insn(d[1])
    assert (code, dst, src, off) == (LDX_W, 1, 1, 8)  # direct read of corepy_s.a


def test_poisoned_instructions(relocated: OracleResult) -> None:
    p = relocated.programs["prog_poison"].insns
    # byte_off of the missing field: MOV rewritten into "call 0xbad2310"
    assert decode_insn(p[4]) == (CALL, 0, 0, 0, POISON_IMM)
    # ENUMVAL_VALUE of a missing enumerator on LD_IMM64: both slots poisoned
    assert decode_insn(p[17]) == (CALL, 0, 0, 0, 195896080)
    assert decode_insn(p[18]) == (CALL, 0, 0, 0, 195896080)
    assert p[17].hex() == p[18].hex() == "850000001023ad0b"
    relo = relocated.relocation("raw_tp/sys_exit", 2)
    assert relo.outcome == "poisoned"
    assert relo.no_match
    assert relo.poisoned_insns == [18, 17]  # libbpf poisons the second slot first
    assert relo.insn_index == 17
    assert relo.local_spec == "<enumval_value> [16] enum corepy_e::COREPY_E_MISSING = 7"


def test_relocation_outcomes(relocated: OracleResult) -> None:
    r = relocated
    assert r.core_relo_counts == {
        "raw_tp/sys_enter": 2,
        ".text": 2,
        "raw_tp/sys_exit": 5,
        "raw_tp/sched_switch": 1,
    }
    got = {
        (x.section, x.relo_index): (x.function, x.outcome, x.insn_index, x.old_value, x.new_value)
        for x in r.relocations
    }
    assert got == {
        ("raw_tp/sys_enter", 0): ("prog_fields", "patched", 2, 8, 24),
        ("raw_tp/sys_enter", 1): ("prog_fields", "patched", 13, 2, 4),
        (".text", 0): ("sub_read_x", "patched", 1, 16, 40),
        (".text", 1): ("sub_size_c", "patched", 0, 2, 4),
        ("raw_tp/sys_exit", 0): ("prog_poison", "patched", 2, 1, 0),
        ("raw_tp/sys_exit", 1): ("prog_poison", "poisoned", 4, None, None),
        ("raw_tp/sys_exit", 2): ("prog_poison", "poisoned", 17, None, None),
        ("raw_tp/sys_exit", 3): ("prog_poison", "patched", 22, 1, 11),
        ("raw_tp/sys_exit", 4): ("prog_poison", "patched", 27, 1, 0),
        ("raw_tp/sched_switch", 0): ("prog_direct", "patched", 1, 0, 8),
    }
    b = r.relocation("raw_tp/sys_enter", 0)
    assert b.local_spec == "<byte_off> [5] struct corepy_s.b (0:2 @ offset 8)"
    assert [(c.index, c.matched, c.spec) for c in b.candidates] == [
        (0, True, "<byte_off> [1] struct corepy_s.b (0:4 @ offset 24)")
    ]
    assert b.patches[0].kind == "ALU/ALU64" and b.patches[0].field == "imm"
    direct = r.relocation("raw_tp/sched_switch", 0)
    assert (direct.patches[0].kind, direct.patches[0].field) == ("LDX/ST/STX", "off")
    # a .text relocation lands in every program that calls the subprogram
    sub = r.relocation(".text", 1)
    assert r.sec_insn_index(sub) == 11
    assert r.final_sites("sub_read_x", 1) == [("prog_fields", 25), ("prog_poison", 45)]
    assert r.final_sites("sub_size_c", 0) == [("prog_poison", 42)]


def test_untouched_instructions_are_the_compiled_ones(relocated: OracleResult) -> None:
    """Outside CO-RE sites, map loads and calls, libbpf submits the object's own bytes."""
    r = relocated
    text = section_words(PROGS, ".text")
    for prog in r.programs.values():
        expected = section_words(PROGS, prog.section)
        for sub in prog.subprogs:
            fn = r.function(sub.name)
            expected += text[fn.sec_insn_off : fn.sec_insn_off + fn.insn_count]
        assert len(expected) == len(prog.insns)
        core = {
            i
            for x in r.relocations
            for idx in [p.insn for p in x.patches] + x.poisoned_insns
            for name, i in r.final_sites(str(x.function), idx)
            if name == prog.name
        }
        changed = {i for i, (a, b) in enumerate(zip(expected, prog.insns, strict=True)) if a != b}
        assert core and core <= changed  # every CO-RE site of this object changes value
        fixups = {
            i
            for i in changed - core
            if decode_insn(expected[i])[0] in (LD_IMM64, CALL)
            or (i > 0 and decode_insn(expected[i - 1])[0] == LD_IMM64)
        }
        assert changed - core == fixups, (prog.name, sorted(changed - core - fixups))


def masked(insns: tuple[bytes, ...]) -> list[bytes]:
    """Instructions with both LD_IMM64 slots' imm zeroed (map fds differ between runs)."""
    out = list(insns)
    for i, w in enumerate(insns):
        if decode_insn(w)[0] == LD_IMM64 and i + 1 < len(out):
            out[i] = w[:4] + bytes(4)
            out[i + 1] = insns[i + 1][:4] + bytes(4)
    return out


def test_raw_btf_target_gives_the_same_result(relocated: OracleResult) -> None:
    raw = libbpf_relocate(PROGS, TARGET_RAW)
    assert raw.ok, raw.error
    summary = [(x.section, x.relo_index, x.outcome, x.new_value) for x in raw.relocations]
    assert summary == [
        (x.section, x.relo_index, x.outcome, x.new_value) for x in relocated.relocations
    ]
    for name, prog in raw.programs.items():
        assert masked(prog.insns) == masked(relocated.programs[name].insns), name


# --------------------------------------------------------------------------------------------
# failures


def test_field_offset_ambiguity(oracle: None) -> None:
    r = libbpf_relocate(PROGS, TARGET_AMBIG)
    assert not r.ok and r.error is not None
    e = r.error
    assert (e.stage, e.errno, e.program, e.section, e.relo, e.libbpf_err) == (
        "load",
        22,
        "prog_fields",
        "raw_tp/sys_enter",
        0,
        -22,
    )
    assert "prog 'prog_fields': relo #0: field offset ambiguity: 128 != 64" in e.message
    assert not any(p.submitted for p in r.programs.values())
    relo = r.relocation("raw_tp/sys_enter", 0)
    assert relo.outcome == "failed" and relo.errno == 22
    assert relo.errors == ["field offset ambiguity: 128 != 64"]
    assert [c.spec for c in relo.candidates] == [
        "<byte_off> [1] struct corepy_s.b (0:2 @ offset 8)",
        "<byte_off> [7] struct corepy_s___v2.b (0:3 @ offset 16)",
    ]
    assert relo.target_candidates == [
        "[1] struct corepy_s in [vmlinux]",
        "[7] struct corepy_s___v2 in [vmlinux]",
    ]


def test_only_and_per_program(oracle: None, relocated: OracleResult) -> None:
    # libbpf relocates .text even for programs that are not loaded: sub_read_x's in.x is
    # ambiguous (16 vs 24) in the ambiguous target, so even prog_direct alone fails there.
    alone = libbpf_relocate(PROGS, TARGET_AMBIG, only=["prog_direct"])
    assert alone.error is not None
    assert (alone.error.program, alone.error.section, alone.error.relo) == (
        "sub_read_x",
        ".text",
        0,
    )
    each = libbpf_relocate_per_program(PROGS, TARGET_ELF)
    assert set(each) == set(relocated.programs)
    for name, res in each.items():
        assert res.ok
        assert [p.name for p in res.programs.values() if p.submitted] == [name]
        assert res.programs[name].autoload
        assert masked(res.programs[name].insns) == masked(relocated.programs[name].insns)
    direct = each["prog_direct"]
    assert direct.relocation("raw_tp/sched_switch", 0).new_value == 8
    # no relocation of programs that are not loaded, .text ones always
    assert {(x.section, x.relo_index) for x in direct.relocations} == {
        (".text", 0),
        (".text", 1),
        ("raw_tp/sched_switch", 0),
    }


def test_missing_target_and_bad_object(oracle: None, tmp_path: Path) -> None:
    r = libbpf_relocate(PROGS, tmp_path / "nope.btf")
    assert r.error is not None
    assert (r.error.stage, r.error.errno) == ("load", 2)
    assert "failed to parse target BTF: -2" in r.error.message
    junk = tmp_path / "junk.o"
    junk.write_bytes(b"not an ELF file\n")
    r = libbpf_relocate(junk, TARGET_ELF)
    assert r.error is not None and r.error.stage == "open"
    assert r.error.errno == 4001  # LIBBPF_ERRNO__FORMAT
    assert r.programs == {}


# --------------------------------------------------------------------------------------------
# an object compiled right here


PRELUDE = """
typedef unsigned char __u8; typedef unsigned short __u16; typedef unsigned int __u32;
typedef unsigned long long __u64; typedef signed char __s8; typedef short __s16;
typedef int __s32; typedef long long __s64; typedef __u16 __be16; typedef __u32 __be32;
typedef __u32 __wsum;
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
"""

TINY_PROG = (
    PRELUDE
    + """
struct tiny { int pid; } __attribute__((preserve_access_index));
__u64 out_pid, out_size;
SEC("raw_tp/sys_enter")
int tiny_prog(__u64 *ctx)
{
    struct tiny *t = (struct tiny *)ctx[0];
    out_pid = t->pid;
    out_size = bpf_core_type_size(struct tiny);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""
)

TINY_TARGET = """
struct tiny { char pad[100]; int other; int pid; long tail; };
struct tiny target_tiny;
"""


def test_object_compiled_in_tmp(oracle: None, tmp_path: Path) -> None:
    clang = shutil.which("clang-19")
    if clang is None:
        pytest.skip("clang-19 not installed")
    (tmp_path / "tiny.bpf.c").write_text(TINY_PROG)
    (tmp_path / "target.bpf.c").write_text(TINY_TARGET)
    for name in ("tiny", "target"):
        subprocess.run(
            [clang, "-O2", "-g", "-target", "bpfel", "-c", f"{name}.bpf.c", "-o", f"{name}.o"],
            cwd=tmp_path,
            check=True,
        )
    r = libbpf_relocate(tmp_path / "tiny.o", tmp_path / "target.o")
    assert r.ok, r.error
    prog = r.programs["tiny_prog"]
    ldx = [decode_insn(w) for w in prog.insns if decode_insn(w)[0] == LDX_W]
    assert [i[3] for i in ldx] == [104]  # offsetof(struct tiny, pid) in the target
    sizes = [x for x in r.relocations if (x.local_spec or "").startswith("<type_size>")]
    assert len(sizes) == 1 and (sizes[0].old_value, sizes[0].new_value) == (4, 120)
    assert imm(prog.insns[sizes[0].insn_index or 0]) == 120


UNKNOWN_SEC_PROG = (
    PRELUDE
    + """
struct tiny { int pid; } __attribute__((preserve_access_index));
__u64 out_pid;
SEC("no_such_prog_type")
int bad_prog(__u64 *ctx)
{
    out_pid = ((struct tiny *)ctx[0])->pid;
    return 0;
}
SEC("raw_tp/sys_enter")
int good_prog(__u64 *ctx)
{
    out_pid = ((struct tiny *)ctx[1])->pid;
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""
)


def test_program_load_failure_keeps_relocated_insns(oracle: None, tmp_path: Path) -> None:
    """A program libbpf cannot load (unknown section) stops the load after relocation:
    the others' relocated instructions still come back, equal to a load of them alone."""
    clang = shutil.which("clang-19")
    if clang is None:
        pytest.skip("clang-19 not installed")
    (tmp_path / "p.bpf.c").write_text(UNKNOWN_SEC_PROG)
    (tmp_path / "t.bpf.c").write_text(TINY_TARGET)
    for name in ("p", "t"):
        subprocess.run(
            [clang, "-O2", "-g", "-target", "bpfel", "-c", f"{name}.bpf.c", "-o", f"{name}.o"],
            cwd=tmp_path,
            check=True,
        )
    r = libbpf_relocate(tmp_path / "p.o", tmp_path / "t.o")
    assert r.error is not None
    e = r.error
    assert (e.failure, e.program, e.section, e.relo, e.libbpf_err) == (
        "failed to load",
        "bad_prog",
        "no_such_prog_type",
        None,
        -22,
    )
    assert "prog 'bad_prog': missing BPF prog type, check ELF section name" in e.message
    good = r.programs["good_prog"]
    assert not good.submitted and good.insns_source == "after_failed_load"
    assert [decode_insn(w)[3] for w in good.insns if decode_insn(w)[0] == LDX_W] == [104]
    alone = libbpf_relocate(tmp_path / "p.o", tmp_path / "t.o", only=["good_prog"])
    assert alone.ok and alone.programs["good_prog"].insns_source == "submitted"
    assert masked(alone.programs["good_prog"].insns) == masked(good.insns)
    assert r.final_sites("good_prog", 1) == [("good_prog", 1)]


def _deep_target(levels: int) -> str:
    opening = "struct { " * levels
    closing = "}; " * levels
    return f"struct deep {{ int a; {opening}int b; {closing}}};\nstruct deep target_deep;\n"


DEEP_PROG = (
    PRELUDE
    + """
struct deep { int a; int b; } __attribute__((preserve_access_index));
__u64 out_b;
SEC("raw_tp/sys_enter")
int deep_prog(void *ctx)
{
    struct deep *d = (struct deep *)bpf_get_current_task();
    out_b = BPF_CORE_READ(d, b);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""
)


def test_matching_error_too_deep(oracle: None, tmp_path: Path) -> None:
    """A target nesting the field 70 anonymous structs deep: "error matching", -E2BIG.

    libbpf 1.1's format for that message ends in a newline plus a space, so the following
    "failed to relocate" line starts with " libbpf: "; both parsers must cope.
    """
    clang = shutil.which("clang-19")
    if clang is None:
        pytest.skip("clang-19 not installed")
    (tmp_path / "deep.bpf.c").write_text(DEEP_PROG)
    (tmp_path / "target.bpf.c").write_text(_deep_target(70))
    for name in ("deep", "target"):
        subprocess.run(
            [clang, "-O2", "-g", "-target", "bpfel", "-c", f"{name}.bpf.c", "-o", f"{name}.o"],
            cwd=tmp_path,
            check=True,
        )
    r = libbpf_relocate(tmp_path / "deep.o", tmp_path / "target.o")
    assert r.error is not None
    e = r.error
    assert (e.errno, e.program, e.section, e.relo, e.libbpf_err) == (
        7,
        "deep_prog",
        "raw_tp/sys_enter",
        0,
        -7,
    )
    assert any(line.startswith(" libbpf: prog 'deep_prog': relo #0: failed") for line in r.log)
    relo = r.relocation("raw_tp/sys_enter", 0)
    assert relo.outcome == "failed" and relo.errno == 7
    assert relo.errors[0].startswith("error matching candidate #0 <byte_off> [")
    assert relo.errors[0].endswith(" @ offset 4): -7")


# --------------------------------------------------------------------------------------------
# log parsing alone (no libbpf needed): lines in libbpf 1.1's exact formats


def test_parse_core_log_edge_lines() -> None:
    log = [
        "libbpf: sec 'kprobe/x': found 3 CO-RE relocations",
        "libbpf: prog 'p': relo #0: <byte_off> [3] struct s.bf (0:1 @ offset 0.3)",
        "libbpf: prog 'p': relo #0: matching candidate #0 <byte_off> [9] struct s.bf "
        "(0:1 @ offset 0.3)",
        "libbpf: prog 'p': relo 0 at insn #12 can't be satisfied for bitfield",
        "libbpf: prog 'p': relo #0: failed to relocate: -7",
        "libbpf: prog 'p': relo for [3] 0:1:2 (at idx 1) captures type [4] of unexpected kind ptr",
        "libbpf: prog 'p': relo #1: parsing [3] struct s + 0:1:2 failed: -22",
        "libbpf: prog 'p': relo #1: failed to relocate: -22",
        "libbpf: sec '.text': skipping CO-RE relocation #5 for insn #7 belonging to "
        "eliminated weak subprogram",
        "libbpf: sec 'kprobe/y': found 1 CO-RE relocations",
        "libbpf: prog 'q': relo #0: <byte_off> [3] struct s.a (0:0 @ offset 0)",
        "libbpf: prog 'q': relo #0: insn #4 (LDX/ST/STX) accesses field incorrectly. Make sure "
        "you are accessing pointers, unsigned integers, or fields of matching type and size.",
        "libbpf: prog 'q': relo #0: substituting insn #4 w/ invalid insn",
        "libbpf: prog 'q': relo #1: <enumval_value> [5] enum e::A = 1",
        "libbpf: unexpected kind float relocated, local [38], target [41]",
        "libbpf: prog 'q': relo #1: patched insn #9 (LDIMM64) imm64 1 -> 18446744073709551615",
    ]
    warnings = [log[3], log[4], log[5], log[6], log[7], log[11], log[14]]
    relocs, counts = parse_core_log(log, warnings)
    assert counts == {"kprobe/x": 3, "kprobe/y": 1}
    by = {(x.section, x.relo_index): x for x in relocs}
    assert list(by) == [
        ("kprobe/x", 0),
        ("kprobe/x", 1),
        (".text", 5),
        ("kprobe/y", 0),
        ("kprobe/y", 1),
    ]
    bf = by[("kprobe/x", 0)]
    assert bf.outcome == "failed" and bf.errno == 7 and bf.function == "p"
    assert bf.errors == [log[3][len("libbpf: ") :]]
    assert bf.local_spec == "<byte_off> [3] struct s.bf (0:1 @ offset 0.3)"
    parse = by[("kprobe/x", 1)]
    assert parse.outcome == "failed" and parse.errno == 22
    assert parse.errors[0].endswith("captures type [4] of unexpected kind ptr")
    assert parse.local_spec is None
    skipped = by[(".text", 5)]
    assert skipped.outcome == "skipped" and skipped.insn_index == 7
    bad_size = by[("kprobe/y", 0)]
    assert bad_size.outcome == "poisoned" and bad_size.poisoned_insns == [4]
    assert bad_size.errors and "accesses field incorrectly" in bad_size.errors[0]
    neg = by[("kprobe/y", 1)]
    assert neg.outcome == "patched" and neg.new_value == 2**64 - 1  # printed unsigned
    assert neg.patches[0].kind == "LDIMM64" and neg.patches[0].field == "imm64"
    assert neg.errors == ["unexpected kind float relocated, local [38], target [41]"]
