"""btf/_layouts.py (struct formats used by the hot paths) must equal what the construct
declarations in btf/formats.py give, and both must decode the same bytes identically."""

from __future__ import annotations

import random
import struct
import subprocess
import sys
from pathlib import Path

import construct as cs
import pytest

from btf import _layouts, formats, kinds
from btf.spec import Header

ROOT = Path(__file__).resolve().parent.parent
ORDERS = {"<": "little", ">": "big"}


def test_layouts_file_is_the_generated_text() -> None:
    assert (ROOT / "btf" / "_layouts.py").read_text() == formats.generate()


def test_generator_command_prints_the_file() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "btf.formats"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    assert out == (ROOT / "btf" / "_layouts.py").read_text()


def test_every_declared_struct_has_both_formats_in_layouts() -> None:
    for name in formats.STRUCTS:
        assert getattr(_layouts, f"{name}_LE").startswith("<")
        assert getattr(_layouts, f"{name}_BE").startswith(">")


def _samples(size: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    fixed = [bytes(size), b"\xff" * size, bytes(range(1, size + 1))]
    return fixed + [rng.randbytes(size) for _ in range(50)]


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("name", sorted(formats.STRUCTS))
def test_struct_format_agrees_with_construct(name: str, endian: str) -> None:
    decl = formats.STRUCTS[name](endian)
    fmt = getattr(_layouts, f"{name}_{'LE' if endian == '<' else 'BE'}")
    assert struct.calcsize(fmt) == decl.sizeof()
    field_names = [sc.name for sc in decl.subcons]
    for raw in _samples(decl.sizeof(), hash((name, endian)) & 0xFFFF):
        parsed = decl.parse(raw)
        assert tuple(parsed[f] for f in field_names) == struct.unpack(fmt, raw)


@pytest.mark.parametrize("endian", ["<", ">"])
def test_header_and_type_values_in_both_orders(endian: str) -> None:
    """A hand-made header and btf_type decode to the intended numbers in both orders."""
    hdr = struct.pack(endian + "HBBIIIII", 0xEB9F, 1, 0, 24, 0, 12, 12, 9)
    parsed = formats.btf_header(endian).parse(hdr)
    assert (parsed.magic, parsed.hdr_len, parsed.type_len, parsed.str_off, parsed.str_len) == (
        0xEB9F, 24, 12, 12, 9,
    )
    assert Header(*struct.unpack(getattr(_layouts, f"HEADER_{'LE' if endian == '<' else 'BE'}"),
                                 hdr)) == Header(0xEB9F, 1, 0, 24, 0, 12, 12, 9)
    # the magic's first byte is what byte-order detection reads
    assert hdr[:2] == (b"\x9f\xeb" if endian == "<" else b"\xeb\x9f")
    # an enum value's s32 sign survives in both decoders
    raw = struct.pack(endian + "Ii", 7, -5)
    assert formats.enum_value(endian).parse(raw).val == -5
    assert struct.unpack(_layouts.ENUM_VALUE_LE if endian == "<" else _layouts.ENUM_VALUE_BE,
                         raw) == (7, -5)


def test_trailer_sizes_match_declarations() -> None:
    assert formats.derived_trailer_sizes() == _layouts.TRAILER_SIZES
    # the record sizes the UAPI documents (core-semantics.md 1.5), kind by kind
    expected = {
        1: (4, 0), 2: (0, 0), 3: (12, 0), 4: (0, 12), 5: (0, 12), 6: (0, 8), 7: (0, 0),
        8: (0, 0), 9: (0, 0), 10: (0, 0), 11: (0, 0), 12: (0, 0), 13: (0, 8), 14: (4, 0),
        15: (0, 12), 16: (0, 0), 17: (4, 0), 18: (0, 0), 19: (0, 12),
    }
    assert _layouts.TRAILER_SIZES == expected
    assert set(expected) == {k.value for k in kinds.Kind if k.value}


def test_ext_record_sizes() -> None:
    assert struct.calcsize(_layouts.FUNC_INFO_LE) == 8
    assert struct.calcsize(_layouts.LINE_INFO_LE) == 16
    assert struct.calcsize(_layouts.CORE_RELO_LE) == 16
    assert struct.calcsize(_layouts.EXT_HEADER_LE) + struct.calcsize(
        _layouts.EXT_CORE_HEADER_LE) == 32


@pytest.mark.parametrize("endian", ["<", ">"])
def test_bit_layouts_agree_with_kind_constants(endian: str) -> None:
    """The shift/mask constants the scanner uses equal the construct bit declarations."""
    info_decl = formats.btf_info_word(endian)
    enc_decl = formats.int_encoding_word(endian)
    bf_decl = formats.bitfield_member_offset(endian)
    lc_decl = formats.line_col_word(endian)
    rng = random.Random(7)
    words = [0, 0xFFFFFFFF, 0x84000003, 0x13FFFFFF, 0x01000040] + [
        rng.getrandbits(32) for _ in range(300)
    ]
    for w in words:
        raw = struct.pack(endian + "I", w)
        info = info_decl.parse(raw)
        assert info.kind == (w >> kinds.KIND_SHIFT) & kinds.KIND_MASK
        assert info.vlen == w & kinds.VLEN_MASK
        assert info.kind_flag == bool(w >> kinds.KIND_FLAG_SHIFT)
        enc = enc_decl.parse(raw)
        assert (enc.encoding, enc.offset, enc.bits) == ((w >> 24) & 0x0F, (w >> 16) & 0xFF,
                                                        w & 0xFF)
        bf = bf_decl.parse(raw)
        assert (bf.bitfield_size, bf.bit_offset) == (w >> 24, w & 0xFFFFFF)
        lc = lc_decl.parse(raw)
        assert (lc.line, lc.col) == (w >> 10, w & 0x3FF)
        # building back gives the same bytes (the declarations are complete)
        assert info_decl.build(info) == raw


def test_struct_format_rejects_what_struct_cannot_mirror() -> None:
    with pytest.raises(ValueError):
        formats.struct_format(cs.Struct("x" / cs.CString("utf8")), "<")
    with pytest.raises(ValueError):
        formats.struct_format(cs.Struct("x" / cs.Int32ub), "<")
