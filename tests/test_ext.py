""".BTF.ext parsing: clang objects in both byte orders, and the rules of core-semantics.md 2.

Oracles: the source file itself (every line_info record's text must be the source line it
names), bpftool's dump (func_info and CO-RE type ids name the right types), and the CO-RE
relocations the source asks for (kinds and access strings per core-semantics.md 3.1/3.2).
"""

from __future__ import annotations

import struct

import pytest
from elftools.elf.elffile import ELFFile
from test_spec import DATA, btf_sections
from test_spec_builder import sample

from btf import BTFExtFormatError, Spec
from btf.ext import BTFExt, CoreReloRecord, FuncInfo, parse_btf_ext

ORDERS = ("bpfel", "bpfeb")
SOURCE = (DATA / "kinds.bpf.c").read_text().splitlines()


def _load(order: str) -> tuple[Spec, BTFExt, dict[str, int]]:
    path = DATA / f"kinds.{order}.o"
    btf, ext = btf_sections(path)
    assert ext is not None
    spec = Spec(btf, source=str(path))
    with path.open("rb") as f:
        sizes = {s.name: s["sh_size"] for s in ELFFile(f).iter_sections()}
    return spec, parse_btf_ext(ext, spec, source=f"{path}:.BTF.ext"), sizes


@pytest.mark.parametrize("order", ORDERS)
def test_func_info(order: str) -> None:
    spec, ext, sizes = _load(order)
    assert ext.byteorder == ("little" if order == "bpfel" else "big")
    assert (ext.hdr_len, ext.func_rec_size, ext.line_rec_size, ext.core_rec_size) == (32, 8, 16,
                                                                                      16)
    got = {s.name: [(r.insn_off, spec.name(r.type_id)) for r in s.records]
           for s in ext.func_info}
    assert got == {".text": [(0, "helper")], "tp/test": [(0, "prog")],
                   "tp/core": [(0, "core_prog")]}
    for s in ext.func_info:
        assert spec.string(s.name_off) == s.name and s.name in sizes
        assert all(isinstance(r, FuncInfo) and spec.type(r.type_id).kind_name == "FUNC"
                   for r in s.records)


@pytest.mark.parametrize("order", ORDERS)
def test_line_info_names_real_source_lines(order: str) -> None:
    spec, ext, sizes = _load(order)
    total = 0
    for sec in ext.line_info:
        offs = [r.insn_off for r in sec.records]
        assert offs == sorted(offs) and all(o % 8 == 0 and o < sizes[sec.name] for o in offs)
        for r in sec.records:
            assert spec.string(r.file_name_off).endswith("kinds.bpf.c")
            text = SOURCE[r.line - 1]
            assert spec.string(r.line_off) == text, (r.line, text)
            assert 1 <= r.column <= len(text.expandtabs(1)) + 1
            total += 1
    assert total >= 10


@pytest.mark.parametrize("order", ORDERS)
def test_core_relocations(order: str) -> None:
    spec, ext, sizes = _load(order)
    (sec,) = ext.core_relos
    assert sec.name == "tp/core"
    got = sorted((r.kind, spec.string(r.access_str_off), spec.name(r.type_id))
                 for r in sec.records)
    assert got == [
        (0, "0:0", "core_target"),
        (0, "0:1:0:2", "core_target"),
        (2, "0:2", "core_target"),
        (7, "0", "core_target"),
        (9, "0", "core_target"),
        (11, "2", "small_enum"),
    ]
    assert all(isinstance(r, CoreReloRecord) and r.insn_off % 8 == 0
               and r.insn_off < sizes["tp/core"] for r in sec.records)


def test_both_orders_agree() -> None:
    le, be = _load("bpfel")[1], _load("bpfeb")[1]
    for attr in ("func_info", "line_info", "core_relos"):
        assert getattr(le, attr) == getattr(be, attr)
    assert le.core_relo_off == be.core_relo_off and le.core_relo_len == be.core_relo_len


# ---------------------------------------------------------------------------- rules
def _ext(e: str, *, hdr_len: int = 32, version: int = 1, flags: int = 0,
         subs: tuple[bytes, bytes, bytes] | None = None, magic: int = 0xEB9F) -> bytes:
    """A .BTF.ext with the given func/line/core sub-sections laid out back to back."""
    if subs is None:
        func = struct.pack(e + "IIIII", 8, 1, 1, 0, 11)  # rec 8; sec '' ... one record
        subs = (func, b"", b"")
    f, ln, c = subs
    hdr = struct.pack(e + "HBBIIIII", magic, version, flags, hdr_len, 0, len(f), len(f), len(ln))
    if hdr_len >= 32:
        hdr += struct.pack(e + "II", len(f) + len(ln), len(c))
    return hdr.ljust(hdr_len, b"\0") + f + ln + c


def _patch_hdr_len(blob: bytes, e: str, value: int) -> bytes:
    return blob[:4] + struct.pack(e + "I", value) + blob[8:]


def _strings(e: str) -> Spec:
    return Spec(sample(e).blob())  # string offset 1 is 'int'


@pytest.mark.parametrize("e", ["<", ">"])
def test_ext_header_rules(e: str) -> None:
    spec = _strings(e)
    ok = parse_btf_ext(_ext(e), spec)
    assert [(s.name, s.records) for s in ok.func_info] == [("int", [FuncInfo(0, 11)])]
    assert ok.line_info == [] and ok.core_relos == []
    cases = {
        "too short": _ext(e)[:23],
        "bad magic": b"\0\0" + _ext(e)[2:],
        "version 2": _ext(e, version=2),
        "flags": _ext(e, flags=1),
        "below the minimum": _patch_hdr_len(_ext(e), e, 16),
        "no data": _ext(e, subs=(b"", b"", b"")),
    }
    for what, blob in cases.items():
        with pytest.raises(BTFExtFormatError, match=what):
            parse_btf_ext(blob, spec)
    with pytest.raises(BTFExtFormatError, match="hdr_len 65535 .* runs past the end"):
        parse_btf_ext(_patch_hdr_len(_ext(e), e, 0xFFFF), spec)
    with pytest.raises(BTFExtFormatError, match=r"sub-section \[32, 52\) runs past the end"):
        parse_btf_ext(_ext(e)[:-4], spec)
    other = "<" if e == ">" else ">"
    with pytest.raises(BTFExtFormatError, match="endian"):
        parse_btf_ext(_ext(other), spec)
    # a 24-byte header has no CO-RE part; readers still parse func/line info
    short = parse_btf_ext(_ext(e, hdr_len=24), spec)
    assert short.hdr_len == 24 and short.core_relos == [] and len(short.func_info) == 1


@pytest.mark.parametrize("e", ["<", ">"])
def test_ext_subsection_rules(e: str) -> None:
    spec = _strings(e)
    rec = struct.pack(e + "IIII", 8, 1, 1, 0)  # rec_size 8, sec 'int', 1 record, insn 0
    cases = {
        "no records": struct.pack(e + "I", 8),
        "too short for its rec_size": b"\0\0",
        "rec_size 4 .* invalid": struct.pack(e + "IIIII", 4, 1, 1, 0, 11),
        "rec_size 10 .* invalid": struct.pack(e + "IIIII", 10, 1, 1, 0, 11),
        "zero records": struct.pack(e + "III", 8, 1, 0),
        "truncated": rec + struct.pack(e + "I", 11) + struct.pack(e + "I", 1),
        "claims 2 records": struct.pack(e + "IIIII", 8, 1, 2, 0, 11),
        "outside the .BTF string section": struct.pack(e + "IIIII", 8, 9999, 1, 0, 11),
    }
    for what, func in cases.items():
        with pytest.raises(BTFExtFormatError, match=what):
            parse_btf_ext(_ext(e, subs=(func, b"", b"")), spec)
    # misaligned sub-section offset
    blob = bytearray(_ext(e))
    struct.pack_into(e + "I", blob, 8, 2)
    with pytest.raises(BTFExtFormatError, match="not 4-byte aligned"):
        parse_btf_ext(bytes(blob) + b"\0\0", spec)
    # a huge record count fails before anything is allocated
    with pytest.raises(BTFExtFormatError, match="claims 4294967295"):
        parse_btf_ext(_ext(e, subs=(struct.pack(e + "IIIII", 8, 1, 0xFFFFFFFF, 0, 11), b"",
                                    b"")), spec)


def test_longer_records_are_stepped_by_rec_size() -> None:
    """Newer, longer records (little-endian only, like libbpf): known prefix, stepped."""
    spec = _strings("<")
    core = struct.pack("<III", 24, 1, 2) + struct.pack("<6I", 8, 1, 1, 0, 77, 77) + struct.pack(
        "<6I", 16, 2, 1, 1, 88, 88)
    ext = parse_btf_ext(_ext("<", subs=(b"", b"", core)), spec)
    assert ext.core_rec_size == 24
    assert ext.core_relos[0].records == [CoreReloRecord(8, 1, 1, 0), CoreReloRecord(16, 2, 1, 1)]
    with pytest.raises(BTFExtFormatError, match="big-endian data must use the known"):
        big = struct.pack(">III", 24, 1, 1) + struct.pack(">6I", 8, 1, 1, 0, 0, 0)
        parse_btf_ext(_ext(">", subs=(b"", b"", big)), _strings(">"))
