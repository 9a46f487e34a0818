"""A small BTF writer for hand-made test blobs (split BTF, odd headers, hostile input).

Other test modules import :class:`Builder`. The tests here check the writer itself
against bpftool, so blobs built with it are known to mean what the tests say they mean.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from test_spec_oracle import BPFTOOL, assert_matches, bpftool_dump, parse_raw_dump

from btf import Spec

KIND = {
    "INT": 1, "PTR": 2, "ARRAY": 3, "STRUCT": 4, "UNION": 5, "ENUM": 6, "FWD": 7,
    "TYPEDEF": 8, "VOLATILE": 9, "CONST": 10, "RESTRICT": 11, "FUNC": 12, "FUNC_PROTO": 13,
    "VAR": 14, "DATASEC": 15, "FLOAT": 16, "DECL_TAG": 17, "TYPE_TAG": 18, "ENUM64": 19,
}


class Builder:
    """Collects types and strings; :meth:`blob` lays them out as raw BTF.

    For split BTF pass the base builder: ids and string offsets continue after it, and
    names already in the base are referenced there (like pahole does for modules).
    """

    def __init__(self, endian: str = "<", base: Builder | None = None) -> None:
        self.endian = endian
        self.base = base
        self.first_id = base.next_id if base is not None else 1
        self.str_base = base.str_base + len(base.strings) if base is not None else 0
        self.strings = bytearray() if base is not None else bytearray(b"\0")
        self._str_index: dict[str, int] = {}
        self.types: list[bytes] = []

    @property
    def next_id(self) -> int:
        return self.first_id + len(self.types)

    def s(self, name: str) -> int:
        """Logical offset of ``name`` (0 for ''), adding it if neither we nor a base has it."""
        if not name:
            return 0
        b: Builder | None = self
        while b is not None:
            if name in b._str_index:
                return b._str_index[name]
            b = b.base
        off = self.str_base + len(self.strings)
        self.strings += name.encode() + b"\0"
        self._str_index[name] = off
        return off

    def raw(self, name_off: int, info: int, size_type: int, *trailer: int) -> int:
        """Append a record from raw words; returns its id."""
        n = len(trailer)
        self.types.append(struct.pack(f"{self.endian}III{n}I", name_off, info, size_type,
                                      *(w & 0xFFFFFFFF for w in trailer)))
        return self.next_id - 1

    def add(self, kind: str, name: str, size_type: int, *trailer: int, vlen: int = 0,
            kflag: int = 0) -> int:
        info = (kflag << 31) | (KIND[kind] << 24) | vlen
        return self.raw(self.s(name), info, size_type, *trailer)

    # convenience wrappers -------------------------------------------------------------
    def int_(self, name: str, size: int, enc: int = 0, bits: int | None = None) -> int:
        return self.add("INT", name, size, (enc << 24) | (bits if bits is not None else 8 * size))

    def ref(self, kind: str, target: int, name: str = "") -> int:
        return self.add(kind, name, target)

    def array(self, elem: int, index: int, n: int) -> int:
        return self.add("ARRAY", "", 0, elem, index, n)

    def struct(self, name: str, size: int, members: list[tuple[str, int, int]],
               kind: str = "STRUCT", kflag: int = 0) -> int:
        words = [w for m, t, off in members for w in (self.s(m), t, off)]
        return self.add(kind, name, size, *words, vlen=len(members), kflag=kflag)

    def enum(self, name: str, size: int, values: list[tuple[str, int]], signed: int = 0) -> int:
        words = [w for n, v in values for w in (self.s(n), v)]
        return self.add("ENUM", name, size, *words, vlen=len(values), kflag=signed)

    def func_proto(self, ret: int, params: list[tuple[str, int]]) -> int:
        words = [w for n, t in params for w in (self.s(n), t)]
        return self.add("FUNC_PROTO", "", ret, *words, vlen=len(params))

    def blob(self, *, hdr_len: int = 24, version: int = 1, flags: int = 0,
             magic: int = 0xEB9F, layout: bytes = b"", header_tail: bytes = b"") -> bytes:
        """Header + types (+ layout section) + strings."""
        types = b"".join(self.types)
        strs = bytes(self.strings)
        e = self.endian
        hdr = struct.pack(f"{e}HBBIIIII", magic, version, flags, hdr_len, 0, len(types),
                          len(types) + len(layout), len(strs))
        if hdr_len >= 32:
            lo = len(types) if layout else 0
            hdr += struct.pack(f"{e}II", lo, len(layout))
        hdr += header_tail
        hdr = hdr.ljust(hdr_len, b"\0")
        return hdr + types + layout + strs


def sample(endian: str = "<") -> Builder:
    """A base BTF with one of most kinds (ids in comments)."""
    b = Builder(endian)
    i32 = b.int_("int", 4, 1)  # 1
    ulong = b.int_("long unsigned int", 8)  # 2
    cint = b.ref("CONST", i32)  # 3
    p = b.ref("PTR", cint)  # 4
    td = b.ref("TYPEDEF", ulong, "size_t")  # 5
    arr = b.array(i32, i32, 7)  # 6
    s = b.struct("pair", 24, [("a", i32, 0), ("p", p, 64), ("n", arr, 128)])  # 7
    b.struct("bits", 4, [("x", i32, (3 << 24) | 0), ("y", i32, (5 << 24) | 3)], kflag=1)  # 8
    b.enum("color", 4, [("RED", 0), ("NEG", -1)], signed=1)  # 9
    fp = b.func_proto(i32, [("s", p), ("", 0)])  # 10 (varargs)
    b.add("FUNC", "fn", fp, vlen=1)  # 11
    b.add("FWD", "later", 0, kflag=1)  # 12
    b.add("VAR", "v", s, 1)  # 13
    b.add("DATASEC", ".data", 24, 13, 0, 24, vlen=1)  # 14
    b.add("FLOAT", "double", 8)  # 15
    b.add("DECL_TAG", "tag", s, -1)  # 16
    b.add("TYPE_TAG", "user", i32)  # 17
    b.add("ENUM64", "e64", 8, b.s("BIG"), 0x89ABCDEF, 0x01234567, vlen=1)  # 18
    b.ref("VOLATILE", td)  # 19
    b.ref("RESTRICT", p)  # 20
    return b


needs_bpftool = pytest.mark.skipif(BPFTOOL is None, reason="bpftool not installed")


@needs_bpftool
@pytest.mark.parametrize("endian", ["<", ">"])
def test_builder_blobs_mean_what_bpftool_reads(tmp_path: Path, endian: str) -> None:
    blob = sample(endian).blob()
    path = tmp_path / "sample.btf"
    path.write_bytes(blob)
    raw = parse_raw_dump(bpftool_dump(path))
    spec = Spec(blob)
    assert sorted(raw) == list(spec.own_ids)
    for r in raw.values():
        assert_matches(spec, r)
    assert raw[7].items[2] == ("n", {"type_id": "6", "bits_offset": "128"})
    assert raw[10].items[-1] == ("(anon)", {"type_id": "0"})


@needs_bpftool
@pytest.mark.parametrize("endian", ["<", ">"])
def test_split_builder_blobs_mean_what_bpftool_reads(tmp_path: Path, endian: str) -> None:
    base = sample(endian)
    split = Builder(endian, base)
    sid = split.struct("mod_s", 16, [("a", 1, 0), ("own_name", 2, 64)])
    split.ref("PTR", sid)
    (tmp_path / "base.btf").write_bytes(base.blob())
    (tmp_path / "split.btf").write_bytes(split.blob())
    raw = parse_raw_dump(bpftool_dump(tmp_path / "split.btf", base=tmp_path / "base.btf"))
    assert sorted(raw) == [21, 22] == list(Spec(split.blob(), base=Spec(base.blob())).own_ids)
    spec = Spec(split.blob(), base=Spec(base.blob()))
    for r in raw.values():
        assert_matches(spec, r)
    assert raw[21].name == "mod_s" and raw[21].items[0][0] == "a"
