"""libbpf's patch rules (core-semantics.md §5.2, §5.4) on crafted instructions.

Messages are compared with libbpf 1.1's wording (relo_core.c ``bpf_core_patch_insn``);
test_libbpf_diff.py checks the same paths end to end against libbpf itself.
"""

from __future__ import annotations

import pytest

from corepy import insn as I
from corepy.patcher import ERANGE, PatchError, patch_insn
from corepy.relo import CoreRelo, ReloResult

RELO = CoreRelo("sec", 3, 0, 2, "0:1", 0)
AT = r"; sec 'sec', insn_off 0$"  # how str(PatchError) ends: RELO's location


def res(orig: int, new: int, **kw: object) -> ReloResult:
    return ReloResult(RELO, "<byte_off> [2] struct s.b (0:1 @ offset 8)", orig, new, **kw)  # type: ignore[arg-type]


def code(order: I.ByteOrder, *insns: I.Insn) -> bytearray:
    return bytearray(b"".join(I.encode(i, order) for i in insns))


def at(buf: bytearray, idx: int, order: I.ByteOrder) -> I.Insn:
    return I.decode(buf, idx * 8, order)


MOV = I.Insn(0xB7, 1, 0, 0, 8)  # r1 = 8 (ALU64 MOV K)
ADD32 = I.Insn(0x04, 2, 0, 0, 8)  # w2 += 8 (ALU ADD K)
ADDX = I.Insn(0x0F, 1, 2, 0, 0)  # r1 += r2 (ALU64 ADD X)
LDXW = I.Insn(0x61, 2, 1, 8, 0)  # r2 = *(u32 *)(r1 + 8)
STW = I.Insn(0x62, 1, 0, 8, 7)  # *(u32 *)(r1 + 8) = 7
STXDW = I.Insn(0x7B, 1, 2, 8, 0)  # *(u64 *)(r1 + 8) = r2
EXIT = I.Insn(0x95, 0, 0, 0, 0)


def ld64(lo: int, hi: int, dst: int = 1) -> tuple[I.Insn, I.Insn]:
    return I.Insn(0x18, dst, 0, 0, lo), I.Insn(0, 0, 0, 0, hi)


@pytest.mark.parametrize("insn", [MOV, ADD32])
def test_alu_imm(byteorder: I.ByteOrder, insn: I.Insn) -> None:
    buf = code(byteorder, EXIT, insn, EXIT)
    p = patch_insn(buf, 1, res(8, 24), "p", byteorder)
    assert p.outcome == "patched" and p.old_value == 8
    assert at(buf, 1, byteorder) == insn.with_(imm=24)
    assert p.before == I.encode(insn, byteorder) and p.after == bytes(buf[8:16])
    assert p.log == ("prog 'p': relo #3: patched insn #1 (ALU/ALU64) imm 8 -> 24",)
    assert buf[:8] == I.encode(EXIT, byteorder) and buf[16:] == I.encode(EXIT, byteorder)


def test_alu_validation_sign_extends(byteorder: I.ByteOrder) -> None:
    # imm -1 equals a u64 orig of 2**64-1 (C compares the sign-extended imm)
    buf = code(byteorder, MOV.with_(imm=-1))
    patch_insn(buf, 0, res((1 << 64) - 1, 5), "p", byteorder)
    assert at(buf, 0, byteorder).imm == 5


def test_alu_value_mismatch() -> None:
    buf = code("little", MOV)
    with pytest.raises(PatchError) as e:
        patch_insn(buf, 0, res(9, 24), "p", "little")
    assert e.value.reason == ("prog 'p': relo #3: unexpected insn #0 (ALU/ALU64) value: "
                            "got 8, exp 9 -> 24")
    assert buf == code("little", MOV)  # untouched


def test_alu_mismatch_prints_unsigned_64() -> None:
    with pytest.raises(PatchError, match=r"got 18446744073709551615, exp 9 -> 24" + AT):
        patch_insn(code("little", MOV.with_(imm=-1)), 0, res(9, 24), "p", "little")


def test_alu_no_validation() -> None:
    buf = code("little", MOV)
    patch_insn(buf, 0, res(99, 3, validate=False), "p", "little")
    assert at(buf, 0, "little").imm == 3


def test_alu_truncates_new_to_32_bits() -> None:
    buf = code("little", MOV)
    patch_insn(buf, 0, res(8, (1 << 32) + 7), "p", "little")
    assert at(buf, 0, "little").imm == 7


def test_alu_register_source_fails() -> None:
    with pytest.raises(PatchError) as e:
        patch_insn(code("little", ADDX), 0, res(0, 8), "p", "little")
    assert e.value.errno == 22


@pytest.mark.parametrize("insn", [LDXW, STW, STXDW])
def test_mem_off(byteorder: I.ByteOrder, insn: I.Insn) -> None:
    buf = code(byteorder, insn)
    p = patch_insn(buf, 0, res(8, 1264), "p", byteorder)
    assert at(buf, 0, byteorder) == insn.with_(off=1264)
    assert p.log == ("prog 'p': relo #3: patched insn #0 (LDX/ST/STX) off 8 -> 1264",)


def test_st_keeps_immediate() -> None:
    buf = code("big", STW)
    patch_insn(buf, 0, res(8, 16, orig_sz=4, new_sz=8), "p", "big")
    got = at(buf, 0, "big")
    assert (got.code, got.off, got.imm) == (0x7A, 16, 7)  # ST DW, imm untouched


def test_mem_value_mismatch() -> None:
    with pytest.raises(PatchError) as e:
        patch_insn(code("little", LDXW), 0, res(4, 16), "p", "little")
    assert e.value.reason == ("prog 'p': relo #3: unexpected insn #0 (LDX/ST/STX) value: "
                            "got 8, exp 4 -> 16")


def test_mem_negative_off_sign_extends() -> None:
    buf = code("little", LDXW.with_(off=-8))
    patch_insn(buf, 0, res(-8, 16), "p", "little")
    assert at(buf, 0, "little").off == 16


def test_value_too_big_is_hard_error() -> None:
    buf = code("little", LDXW)
    patch_insn(bytearray(buf), 0, res(8, 32767), "p", "little")  # the largest allowed
    with pytest.raises(PatchError) as e:
        patch_insn(buf, 0, res(8, 32768), "p", "little")
    assert e.value.reason == "prog 'p': relo #3: insn #0 (LDX/ST/STX) value too big: 32768"
    assert e.value.errno == ERANGE


def test_value_too_big_checked_before_memsz_poison() -> None:
    with pytest.raises(PatchError, match="value too big: 40000"):
        patch_insn(code("little", LDXW), 0, res(8, 40000, fail_memsz_adjust=True), "p", "little")


def test_memsz_adjust_forbidden_poisons(byteorder: I.ByteOrder) -> None:
    buf = code(byteorder, LDXW, EXIT)
    p = patch_insn(buf, 0, res(8, 16, fail_memsz_adjust=True, orig_sz=4, new_sz=8), "p",
                   byteorder)
    assert p.outcome == "poisoned"
    assert bytes(buf[:8]) == I.poison(byteorder)
    assert p.log[0].startswith("prog 'p': relo #3: insn #0 (LDX/ST/STX) accesses field "
                               "incorrectly. Make sure you are accessing pointers, unsigned "
                               "integers, or fields of matching type and size.")
    assert p.log[-1] == "prog 'p': relo #3: substituting insn #0 w/ invalid insn"
    assert p.reason and "bpf_core_field_size" in p.reason


def test_memsz_change(byteorder: I.ByteOrder) -> None:
    buf = code(byteorder, LDXW)
    p = patch_insn(buf, 0, res(8, 16, orig_sz=4, new_sz=8), "p", byteorder)
    got = at(buf, 0, byteorder)
    assert (got.code, got.dst, got.src, got.off) == (0x79, 2, 1, 16)  # LDX DW
    assert p.log[-1] == "prog 'p': relo #3: patched insn #0 (LDX/ST/STX) mem_sz 4 -> 8"


def test_memsz_keeps_memsx_mode() -> None:
    ldsx = I.Insn(0x91, 2, 1, 8, 0)  # r2 = *(s8 *)(r1 + 8) (MEMSX)
    buf = code("little", ldsx)
    patch_insn(buf, 0, res(8, 8, orig_sz=1, new_sz=2), "p", "little")
    assert at(buf, 0, "little").code == 0x89  # MEMSX | H | LDX


def test_memsz_unexpected_size() -> None:
    with pytest.raises(PatchError) as e:
        patch_insn(code("little", LDXW), 0, res(8, 8, orig_sz=2, new_sz=8), "p", "little")
    assert e.value.reason == ("prog 'p': relo #3: insn #0 (LDX/ST/STX) unexpected mem size: "
                            "got 4, exp 2")


def test_error_line_names_the_location_once() -> None:
    with pytest.raises(PatchError) as e:
        patch_insn(code("little", MOV), 0, res(9, 24), "p", "little")
    assert str(e.value) == ("prog 'p': relo #3: unexpected insn #0 (ALU/ALU64) value: "
                            "got 8, exp 9 -> 24; sec 'sec', insn_off 0")
    assert (e.value.section, e.value.index, e.value.insn_off) == ("sec", 3, 0)


def test_failure_log_is_libbpfs() -> None:
    """What libbpf logs before failing: lines so far, its own line, "failed to patch"."""
    with pytest.raises(PatchError) as e:
        patch_insn(code("little", LDXW), 0, res(8, 16, orig_sz=2, new_sz=8), "p", "little")
    assert e.value.log == [
        "prog 'p': relo #3: patched insn #0 (LDX/ST/STX) off 8 -> 16",
        "prog 'p': relo #3: insn #0 (LDX/ST/STX) unexpected mem size: got 4, exp 2",
        "prog 'p': relo #3: failed to patch insn #0: -22",
    ]
    with pytest.raises(PatchError) as e:
        patch_insn(code("little", ADDX), 0, res(0, 8), "p", "little")
    # libbpf prints no line of its own for a register-source ALU instruction
    assert e.value.log == ["prog 'p': relo #3: failed to patch insn #0: -22"]
    assert e.value.reason.startswith("prog 'p': relo #3: failed to patch insn #0: -22 (ALU/ALU64")


def test_memsz_invalid_new_size() -> None:
    with pytest.raises(PatchError) as e:
        patch_insn(code("little", LDXW), 0, res(8, 8, orig_sz=4, new_sz=3), "p", "little")
    assert e.value.reason == "prog 'p': relo #3: insn #0 (LDX/ST/STX) invalid new mem size: 3"


def test_ldimm64(byteorder: I.ByteOrder) -> None:
    lo, hi = ld64(7, 0)
    buf = code(byteorder, lo, hi, EXIT)
    new = 0x1_2345_6789
    p = patch_insn(buf, 0, res(7, new), "p", byteorder)
    a, b = at(buf, 0, byteorder), at(buf, 1, byteorder)
    assert (a.imm & 0xFFFFFFFF, b.imm & 0xFFFFFFFF) == (0x2345_6789, 1)
    assert a.dst == 1 and len(p.before) == len(p.after) == 16
    assert p.log == (f"prog 'p': relo #3: patched insn #0 (LDIMM64) imm64 7 -> {new}",)


def test_ldimm64_validates_unsigned_64() -> None:
    lo, hi = ld64(-1, -1)  # 0xffffffffffffffff
    buf = code("little", lo, hi)
    patch_insn(buf, 0, res(-1, 3), "p", "little")
    assert (at(buf, 0, "little").imm, at(buf, 1, "little").imm) == (3, 0)
    with pytest.raises(PatchError, match=r"\(LDIMM64\) value: got 3, exp 4 -> 5" + AT):
        patch_insn(buf, 0, res(4, 5), "p", "little")


@pytest.mark.parametrize("first,second", [
    (I.Insn(0x18, 1, 1, 0, 7), I.Insn(0, 0, 0, 0, 0)),  # src_reg set (pseudo map)
    (I.Insn(0x18, 1, 0, 1, 7), I.Insn(0, 0, 0, 0, 0)),  # off set
    (I.Insn(0x18, 1, 0, 0, 7), I.Insn(0x95, 0, 0, 0, 0)),  # second slot not code 0
    (I.Insn(0x18, 1, 0, 0, 7), I.Insn(0, 1, 0, 0, 0)),  # second slot dst
    (I.Insn(0x18, 1, 0, 0, 7), I.Insn(0, 0, 0, 1, 0)),  # second slot off
    (I.Insn(0x20, 0, 0, 0, 7), I.Insn(0, 0, 0, 0, 0)),  # LD ABS: class LD, not ld_imm64
])
def test_ldimm64_bad_form(first: I.Insn, second: I.Insn) -> None:
    with pytest.raises(PatchError) as e:
        patch_insn(code("little", first, second), 0, res(7, 8), "p", "little")
    assert e.value.reason == "prog 'p': relo #3: insn #0 (LDIMM64) has unexpected form"


def test_ldimm64_truncated_at_end() -> None:
    lo, _ = ld64(7, 0)
    with pytest.raises(PatchError, match="has unexpected form"):
        patch_insn(code("little", EXIT, lo), 1, res(7, 8), "p", "little")


def test_relo_on_second_ldimm64_slot_is_bad_form() -> None:
    lo, hi = ld64(7, 0)
    with pytest.raises(PatchError, match=r"insn #1 \(LDIMM64\) has unexpected form"):
        patch_insn(code("little", lo, hi), 1, res(0, 8), "p", "little")


@pytest.mark.parametrize("insn", [I.Insn(0x15, 1, 0, 2, 8), I.Insn(0x16, 1, 0, 2, 8)])
def test_jump_unrecognized(insn: I.Insn) -> None:
    with pytest.raises(PatchError) as e:
        patch_insn(code("little", insn), 0, res(8, 9), "p", "little")
    assert e.value.reason == (f"prog 'p': relo #3: trying to relocate unrecognized insn #0, "
                            f"code:0x{insn.code:x}, src:0x0, dst:0x1, off:0x2, imm:0x8")


def test_unrecognized_prints_raw_bits() -> None:
    with pytest.raises(PatchError, match=r"off:0xffff, imm:0xfffffff8" + AT):
        patch_insn(code("little", I.Insn(0x05, 0, 0, -1, -8)), 0, res(0, 1), "p", "little")


@pytest.mark.parametrize("insn", [MOV, LDXW, I.Insn(0x15, 1, 0, 2, 8), ADDX])
def test_poison_any_class(byteorder: I.ByteOrder, insn: I.Insn) -> None:
    buf = code(byteorder, insn, EXIT)
    p = patch_insn(buf, 0, res(123, 0, poison=True), "p", byteorder)
    assert p.outcome == "poisoned" and p.old_value is None
    assert bytes(buf) == I.poison(byteorder) + I.encode(EXIT, byteorder)
    assert p.log == ("prog 'p': relo #3: substituting insn #0 w/ invalid insn",)


def test_poison_ldimm64_both_slots(byteorder: I.ByteOrder) -> None:
    lo, hi = ld64(7, 0)
    buf = code(byteorder, lo, hi, EXIT)
    p = patch_insn(buf, 0, res(7, 0, poison=True), "p", byteorder)
    assert bytes(buf[:16]) == I.poison(byteorder) * 2
    assert p.log == ("prog 'p': relo #3: substituting insn #1 w/ invalid insn",
                     "prog 'p': relo #3: substituting insn #0 w/ invalid insn")
    assert len(p.after) == 16


def test_index_outside_function() -> None:
    with pytest.raises(PatchError, match="outside the program"):
        patch_insn(code("little", MOV), 1, res(8, 9), "p", "little")
