"""On-disk layouts of BTF and ``.BTF.ext``, declared once with construct.

These declarations are the single source of truth for every binary layout the package
reads. Hot paths do not import construct (it costs ~45 ms of start-up): they use the
``struct`` format strings and record-size tables in :mod:`btf._layouts`, which are
*generated* from the declarations below (``python -m btf.formats > btf/_layouts.py``);
``tests/test_formats.py`` proves the generated file equals what these declarations give.
"""

from __future__ import annotations

import sys
from typing import Any

import construct as cs

# Two flavours of every integer, picked by the blob's byte order ("<" little, ">" big).
_U8 = cs.Int8ul
_U16 = {"<": cs.Int16ul, ">": cs.Int16ub}
_U32 = {"<": cs.Int32ul, ">": cs.Int32ub}
_S32 = {"<": cs.Int32sl, ">": cs.Int32sb}

BTF_MAGIC = 0xEB9F


def btf_header(e: str) -> cs.Struct:
    """The BTF header. ``hdr_len`` may exceed 24 (the 2026 layout fields follow)."""
    return cs.Struct(
        "magic" / _U16[e],
        "version" / _U8,
        "flags" / _U8,
        "hdr_len" / _U32[e],
        "type_off" / _U32[e],
        "type_len" / _U32[e],
        "str_off" / _U32[e],
        "str_len" / _U32[e],
    )


def btf_header_layout_ext(e: str) -> cs.Struct:
    """The two words after the classic header (present when ``hdr_len >= 32``)."""
    return cs.Struct("layout_off" / _U32[e], "layout_len" / _U32[e])


def btf_type(e: str) -> cs.Struct:
    """The 12-byte header of every type record."""
    return cs.Struct("name_off" / _U32[e], "info" / _U32[e], "size_type" / _U32[e])


def btf_layout_record(e: str) -> cs.Struct:
    """One entry of the optional layout section (one per kind number)."""
    return cs.Struct("info_sz" / _U8, "elem_sz" / _U8, "flags" / _U16[e])


# Trailing data of each kind: (single record after btf_type, per-vlen element record).
def int_info(e: str) -> cs.Struct:
    return cs.Struct("encoding_word" / _U32[e])


def array_info(e: str) -> cs.Struct:
    return cs.Struct("type" / _U32[e], "index_type" / _U32[e], "nelems" / _U32[e])


def member(e: str) -> cs.Struct:
    return cs.Struct("name_off" / _U32[e], "type" / _U32[e], "offset" / _U32[e])


def enum_value(e: str) -> cs.Struct:
    return cs.Struct("name_off" / _U32[e], "val" / _S32[e])


def param(e: str) -> cs.Struct:
    return cs.Struct("name_off" / _U32[e], "type" / _U32[e])


def var_info(e: str) -> cs.Struct:
    return cs.Struct("linkage" / _U32[e])


def var_secinfo(e: str) -> cs.Struct:
    return cs.Struct("type" / _U32[e], "offset" / _U32[e], "size" / _U32[e])


def decl_tag_info(e: str) -> cs.Struct:
    return cs.Struct("component_idx" / _S32[e])


def enum64_value(e: str) -> cs.Struct:
    return cs.Struct("name_off" / _U32[e], "val_lo32" / _U32[e], "val_hi32" / _U32[e])


# Bit-level layouts of single u32 words. The hot paths use shift/mask constants
# (btf.kinds); tests/test_formats.py checks those constants against these declarations.
def _word_bits(e: str, bits: cs.Construct) -> cs.Construct:
    """A u32 word of bit fields, most significant field first, in byte order ``e``."""
    return cs.ByteSwapped(bits) if e == "<" else bits


def btf_info_word(e: str) -> cs.Construct:
    """``btf_type.info``: kind_flag bit 31, kind bits 24-30, vlen bits 0-23."""
    return _word_bits(
        e,
        cs.BitStruct(
            "kind_flag" / cs.Flag, "kind" / cs.BitsInteger(7), "vlen" / cs.BitsInteger(24)
        ),
    )


def int_encoding_word(e: str) -> cs.Construct:
    """INT trailing word: encoding bits 24-27, bit offset bits 16-23, nr_bits bits 0-7."""
    return _word_bits(
        e,
        cs.BitStruct(
            "unused_hi" / cs.BitsInteger(4),
            "encoding" / cs.BitsInteger(4),
            "offset" / cs.BitsInteger(8),
            "unused_lo" / cs.BitsInteger(8),
            "bits" / cs.BitsInteger(8),
        ),
    )


def bitfield_member_offset(e: str) -> cs.Construct:
    """A member's ``offset`` when the composite's kind_flag is 1: size 24-31, offset 0-23."""
    return _word_bits(
        e, cs.BitStruct("bitfield_size" / cs.BitsInteger(8), "bit_offset" / cs.BitsInteger(24))
    )


def line_col_word(e: str) -> cs.Construct:
    """``bpf_line_info.line_col``: line number bits 10-31, column bits 0-9."""
    return _word_bits(e, cs.BitStruct("line" / cs.BitsInteger(22), "col" / cs.BitsInteger(10)))


#: kind number -> (single trailing record or None, per-vlen record or None)
KIND_TRAILERS: dict[int, tuple[Any, Any]] = {
    1: (int_info, None),
    2: (None, None),
    3: (array_info, None),
    4: (None, member),
    5: (None, member),
    6: (None, enum_value),
    7: (None, None),
    8: (None, None),
    9: (None, None),
    10: (None, None),
    11: (None, None),
    12: (None, None),
    13: (None, param),
    14: (var_info, None),
    15: (None, var_secinfo),
    16: (None, None),
    17: (decl_tag_info, None),
    18: (None, None),
    19: (None, enum64_value),
}


# .BTF.ext
def btf_ext_header(e: str) -> cs.Struct:
    """``.BTF.ext`` header up to line_info; CO-RE fields follow when ``hdr_len >= 32``."""
    return cs.Struct(
        "magic" / _U16[e],
        "version" / _U8,
        "flags" / _U8,
        "hdr_len" / _U32[e],
        "func_info_off" / _U32[e],
        "func_info_len" / _U32[e],
        "line_info_off" / _U32[e],
        "line_info_len" / _U32[e],
    )


def btf_ext_core_header(e: str) -> cs.Struct:
    return cs.Struct("core_relo_off" / _U32[e], "core_relo_len" / _U32[e])


def btf_ext_info_sec(e: str) -> cs.Struct:
    """Header of one section's block inside a func/line/core sub-section."""
    return cs.Struct("sec_name_off" / _U32[e], "num_info" / _U32[e])


def bpf_func_info(e: str) -> cs.Struct:
    return cs.Struct("insn_off" / _U32[e], "type_id" / _U32[e])


def bpf_line_info(e: str) -> cs.Struct:
    return cs.Struct(
        "insn_off" / _U32[e],
        "file_name_off" / _U32[e],
        "line_off" / _U32[e],
        "line_col" / _U32[e],
    )


def bpf_core_relo(e: str) -> cs.Struct:
    return cs.Struct(
        "insn_off" / _U32[e],
        "type_id" / _U32[e],
        "access_str_off" / _U32[e],
        "kind" / _U32[e],
    )


_S16 = {"<": cs.Int16sl, ">": cs.Int16sb}


def bpf_insn(e: str) -> cs.Struct:
    """One BPF instruction slot; the register byte's nibble order depends on byte order."""
    return cs.Struct("code" / _U8, "regs" / _U8, "off" / _S16[e], "imm" / _S32[e])


#: Layouts whose struct format strings the hot paths use, by generated constant name.
STRUCTS: dict[str, Any] = {
    "HEADER": btf_header,
    "HEADER_LAYOUT": btf_header_layout_ext,
    "TYPE": btf_type,
    "LAYOUT_RECORD": btf_layout_record,
    "INT_INFO": int_info,
    "ARRAY_INFO": array_info,
    "MEMBER": member,
    "ENUM_VALUE": enum_value,
    "PARAM": param,
    "VAR_INFO": var_info,
    "VAR_SECINFO": var_secinfo,
    "DECL_TAG_INFO": decl_tag_info,
    "ENUM64_VALUE": enum64_value,
    "EXT_HEADER": btf_ext_header,
    "EXT_CORE_HEADER": btf_ext_core_header,
    "EXT_INFO_SEC": btf_ext_info_sec,
    "FUNC_INFO": bpf_func_info,
    "LINE_INFO": bpf_line_info,
    "CORE_RELO": bpf_core_relo,
    "INSN": bpf_insn,
}


def struct_format(decl: cs.Struct, endian: str) -> str:
    """The ``struct`` format equivalent to a construct Struct of fixed-size integer fields.

    Every field must be a FormatField in byte order ``endian`` (or a single byte, which has
    none); anything else raises ValueError, so a declaration the hot paths cannot mirror
    with ``struct`` is caught when ``_layouts.py`` is generated.
    """
    codes = []
    for sub in decl.subcons:
        field = sub.subcon
        fmt = getattr(field, "fmtstr", None)
        if not isinstance(fmt, str) or len(fmt) != 2 or fmt[0] not in "<>":
            raise ValueError(f"field {sub.name!r} is not a fixed-size integer: {field!r}")
        if fmt[1] not in "bB" and fmt[0] != endian:
            raise ValueError(f"field {sub.name!r} has byte order {fmt[0]!r}, not {endian!r}")
        codes.append(fmt[1])
    return endian + "".join(codes)


def derived_formats() -> dict[str, str]:
    """Name -> struct format, for both byte orders (suffix ``_LE``/``_BE``)."""
    out: dict[str, str] = {}
    for name, factory in STRUCTS.items():
        out[f"{name}_LE"] = struct_format(factory("<"), "<")
        out[f"{name}_BE"] = struct_format(factory(">"), ">")
    return out


def derived_trailer_sizes() -> dict[int, tuple[int, int]]:
    """kind -> (bytes of the single trailing record, bytes per vlen element)."""
    sizes: dict[int, tuple[int, int]] = {}
    for kind, (single, elem) in KIND_TRAILERS.items():
        sizes[kind] = (
            single("<").sizeof() if single else 0,
            elem("<").sizeof() if elem else 0,
        )
    return sizes


def generate() -> str:
    """Source text of :mod:`btf._layouts`."""
    lines = [
        '"""Generated by ``python -m btf.formats``: struct formats derived from btf.formats.',
        "",
        "Do not edit: tests/test_formats.py checks this file against the declarations.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
    ]
    for name, fmt in derived_formats().items():
        lines.append(f"{name} = {fmt!r}")
    lines.append("")
    lines.append("#: kind -> (single trailing record bytes, bytes per vlen element)")
    lines.append("TRAILER_SIZES: dict[int, tuple[int, int]] = {")
    for kind, (a, b) in derived_trailer_sizes().items():
        lines.append(f"    {kind}: ({a}, {b}),")
    lines.append("}")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(generate())
