"""Instruction codec: field layout in both byte orders (register nibbles flip on bpfeb)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corepy import insn as I

# Bytes and meaning as printed by llvm-objdump-19 for tests/engine/data/engine.*.o,
# prog_direct insn #1: r2 = *(u32 *)(r1 + 0x14)
LDX_LE = bytes.fromhex("6112140000000000")
LDX_BE = bytes.fromhex("6121001400000000")


@pytest.mark.parametrize("raw,order", [(LDX_LE, "little"), (LDX_BE, "big")])
def test_decode_matches_llvm_objdump(raw: bytes, order: I.ByteOrder) -> None:
    ins = I.decode(raw, 0, order)
    assert (ins.code, ins.dst, ins.src, ins.off, ins.imm) == (0x61, 2, 1, 0x14, 0)
    assert ins.cls == I.CLASS_LDX and ins.size_bits == I.SIZE_W and ins.mode == I.MODE_MEM
    assert I.encode(ins, order) == raw


def test_shift_imm_big_endian() -> None:
    # insn #2 of the same program: r2 <<= 0x20 (bpfeb bytes 67 20 00 00 00 00 00 20)
    ins = I.decode(bytes.fromhex("6720000000000020"), 0, "big")
    assert (ins.code, ins.dst, ins.src, ins.imm) == (0x67, 2, 0, 0x20)


def test_poison_bytes() -> None:
    # call 0xbad2310: code 0x85, regs 0, off 0, imm 195896080
    assert I.poison("little") == bytes.fromhex("8500000010" "23ad0b")
    assert I.poison("big") == bytes.fromhex("850000000bad2310")


def test_encode_wraps_like_c() -> None:
    ins = I.Insn(0xB7, 1, 0, 0, (1 << 32) + 5)
    assert I.decode(I.encode(ins, "little"), 0, "little").imm == 5
    assert I.decode(I.encode(I.Insn(0x61, 0, 0, 0xFFFF, 0), "big"), 0, "big").off == -1


def test_sizes() -> None:
    assert [I.size_bits_for(n) for n in (1, 2, 4, 8, 3)] == [0x10, 0x08, 0x00, 0x18, None]
    assert I.size_bytes(I.Insn(0x79, 0, 0, 0, 0)) == 8


@given(st.binary(min_size=8, max_size=8), st.sampled_from(["little", "big"]))
def test_roundtrip(raw: bytes, order: I.ByteOrder) -> None:
    assert I.encode(I.decode(raw, 0, order), order) == raw
