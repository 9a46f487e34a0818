"""The format rules of core-semantics.md sections 1.1-1.9 on hand-made blobs, both byte orders.

Blobs come from :class:`test_spec_builder.Builder` (itself checked against bpftool).
"""

from __future__ import annotations

import struct
import time

import pytest
from test_spec_builder import Builder, sample

from btf import (
    BTFError,
    BTFFormatError,
    BTFReferenceCycleError,
    BTFTypeError,
    Kind,
    Spec,
)

E = pytest.mark.parametrize("e", ["<", ">"])


def _patch(blob: bytes, off: int, fmt: str, *vals: int) -> bytes:
    b = bytearray(blob)
    struct.pack_into(fmt, b, off, *vals)
    return bytes(b)


# ---------------------------------------------------------------------------- header
@E
def test_header_rules(e: str) -> None:
    good = sample(e).blob()
    Spec(good)
    with pytest.raises(BTFFormatError, match="too short"):
        Spec(good[:23])
    with pytest.raises(BTFFormatError, match="bad magic"):
        Spec(b"\x00\x00" + good[2:])
    with pytest.raises(BTFFormatError, match="version 2"):
        Spec(sample(e).blob(version=2))  # libbpf ignores it; the kernel rejects it; so do we
    with pytest.raises(BTFFormatError, match="flags"):
        Spec(sample(e).blob(flags=1))
    with pytest.raises(BTFFormatError, match="below the minimum"):
        Spec(_patch(good, 4, e + "I", 20))
    with pytest.raises(BTFFormatError, match="runs past the end"):
        Spec(_patch(good, 4, e + "I", len(good) + 1))
    with pytest.raises(BTFFormatError, match="not 4-byte aligned"):
        Spec(_patch(good, 8, e + "I", 2))
    hdr = Spec(good).header
    with pytest.raises(BTFFormatError, match="runs past the end"):
        Spec(_patch(good, 20, e + "I", hdr.str_len + 1))
    with pytest.raises(BTFFormatError, match="not before the string section"):
        Spec(_patch(good, 16, e + "I", hdr.type_len - 4))  # strings overlap types


@E
def test_longer_headers(e: str) -> None:
    spec = Spec(sample(e).blob(hdr_len=28))
    assert spec.header.hdr_len == 28 and spec.type_count == 21
    spec = Spec(sample(e).blob(hdr_len=40))
    assert spec.header.layout_len == 0 and spec.type_count == 21
    with pytest.raises(BTFFormatError, match="header byte at offset 26 is non-zero"):
        Spec(sample(e).blob(hdr_len=28, header_tail=b"\0\0\1"))
    with pytest.raises(BTFFormatError, match="offset 33 is non-zero"):
        Spec(sample(e).blob(hdr_len=36, header_tail=b"\0\1"))


@E
def test_string_section_rules(e: str) -> None:
    b = sample(e)
    good = b.blob()
    hdr = Spec(good).header
    start = hdr.hdr_len + hdr.str_off
    with pytest.raises(BTFFormatError, match="does not start with NUL.*base"):
        Spec(_patch(good, start, "B", ord("x")))
    with pytest.raises(BTFFormatError, match="does not end with NUL"):
        Spec(good[:-1] + b"x")
    empty = _patch(good[:start], 20, e + "I", 0)
    with pytest.raises(BTFFormatError, match="string section is empty"):
        Spec(empty)


@E
def test_bad_references_raise_type_errors(e: str) -> None:
    cases = {
        "PTR": lambda b: b.ref("PTR", 99),
        "member": lambda b: b.struct("s", 4, [("a", 99, 0)]),
        "ARRAY element": lambda b: b.array(99, 1, 1),
        "ARRAY index": lambda b: b.array(1, 99, 1),
        "param": lambda b: b.func_proto(1, [("p", 99)]),
        "DATASEC entry": lambda b: b.add("DATASEC", ".d", 4, 99, 0, 4, vlen=1),
        "VAR": lambda b: b.add("VAR", "v", 99, 0),
        "DECL_TAG": lambda b: b.add("DECL_TAG", "t", 99, -1),
        "TYPE_TAG": lambda b: b.add("TYPE_TAG", "t", 99),
    }
    for what, make in cases.items():
        b = Builder(e)
        b.int_("int", 4, 1)
        bad = make(b)
        spec = Spec(b.blob())
        with pytest.raises(BTFTypeError, match=f"{what}.*99"):
            spec.type(bad)
        with pytest.raises(BTFTypeError):
            spec.validate()
    # a reference to the last id is fine
    b = Builder(e)
    b.int_("int", 4, 1)
    p = b.ref("PTR", 3)
    b.ref("CONST", 1)
    Spec(b.blob()).validate()
    assert Spec(b.blob()).type(p).ref == 3


@E
def test_func_must_point_to_func_proto(e: str) -> None:
    b = Builder(e)
    i = b.int_("int", 4, 1)
    f1 = b.add("FUNC", "f1", i)
    f0 = b.add("FUNC", "f0", 0)
    fp = b.func_proto(i, [])
    ok = b.add("FUNC", "ok", fp)
    spec = Spec(b.blob())
    with pytest.raises(BTFTypeError, match="FUNC 'f1' refers to type \\[1\\], a INT"):
        spec.type(f1)
    with pytest.raises(BTFTypeError, match="not a FUNC_PROTO"):
        spec.type(f0)
    assert spec.type(ok).ref == fp


@E
def test_name_offsets_are_checked(e: str) -> None:
    b = Builder(e)
    i = b.int_("int", 4, 1)
    bad_type = b.raw(9999, 1 << 24, 4, 32)
    bad_member = b.add("STRUCT", "s", 4, 9999, i, 0, vlen=1)
    bad_enum = b.add("ENUM", "en", 4, 9999, 0, vlen=1)
    bad_param = b.add("FUNC_PROTO", "", i, 9999, i, vlen=1)
    spec = Spec(b.blob())
    with pytest.raises(BTFTypeError, match=r"type \[2\] name offset 9999"):
        spec.type(bad_type)
    with pytest.raises(BTFTypeError, match="member #0 name offset 9999"):
        spec.type(bad_member)
    with pytest.raises(BTFTypeError, match="enumerator #0"):
        spec.type(bad_enum)
    with pytest.raises(BTFTypeError, match="param #0"):
        spec.type(bad_param)
    with pytest.raises(BTFError):
        spec.name(bad_type)


@E
def test_mid_string_offsets_and_bad_utf8(e: str) -> None:
    b = Builder(e)
    off = b.s("prefix_suffix")
    b.raw(off + 7, 1 << 24, 4, 32)  # INT named "suffix", a tail of another string
    raw_off = len(b.strings)
    b.strings += b"bad\xffname\0"
    b.raw(raw_off, 1 << 24, 4, 32)
    spec = Spec(b.blob())
    assert spec.name(1) == "suffix"
    assert spec.name(2) == "bad\ufffdname"


# ---------------------------------------------------------------------------- type section
@E
def test_truncated_and_overlong_records(e: str) -> None:
    b = sample(e)
    good = b.blob()
    hdr = Spec(good).header
    # the type section ends 4 bytes into a record
    shorter = _patch(good, 12, e + "I", hdr.type_len - 4)
    with pytest.raises(BTFFormatError, match=r"type \[20\] .* runs past the end"):
        Spec(shorter)
    # a struct claiming 2^24-1 members fails at scan time, without allocating
    b2 = Builder(e)
    b2.int_("int", 4, 1)
    b2.add("STRUCT", "huge", 4, 1, 1, 0, vlen=0xFFFFFF)
    t0 = time.perf_counter()
    with pytest.raises(BTFFormatError, match=r"type \[2\] .* runs past the end"):
        Spec(b2.blob())
    assert time.perf_counter() - t0 < 0.5


@E
@pytest.mark.parametrize("name_column", [False, True])
def test_scan_ends_exactly_at_the_section_end(e: str, name_column: bool) -> None:
    """Cut the type section at every word of its last record (the struct ``S``, four
    members): a partial record is an error naming it; cutting it whole leaves the rest."""
    b = sample(e)
    b.add("STRUCT", "S", 4, *(w for i in range(4) for w in (b.s(f"m{i}"), 1, 8 * i)), vlen=4)
    good = b.blob()
    full = Spec(good, name_column=name_column)
    last = full.own_ids[-1]
    hdr = full.header
    rec_words = hdr.type_len // 4 - full.type_offset(last)
    assert rec_words == 3 + 3 * 4
    at = hdr.hdr_len + hdr.type_off + 4 * full.type_offset(last)  # file offset of S
    for cut in range(1, rec_words + 1):
        blob = _patch(good, 12, e + "I", hdr.type_len - 4 * cut)
        if cut < rec_words:
            msg = rf"type \[{last}\] at offset {at} runs past the end"
            with pytest.raises(BTFFormatError, match=msg):
                Spec(blob, name_column=name_column)
        else:
            short = Spec(blob, name_column=name_column)
            assert short.own_ids == range(1, last)
            assert [short.name(i) for i in short.own_ids] == [full.name(i) for i in
                                                               range(1, last)]
    empty = Spec(_patch(good, 12, e + "I", 0), name_column=name_column)
    assert len(empty.own_ids) == 0 and empty.find_by_name("S") == []


@E
def test_24_bit_vlen(e: str) -> None:
    b = Builder(e)
    n = 70000  # above the old 16-bit limit
    names = [b.s(f"V{i}") for i in range(n)]
    words = [w for i, no in enumerate(names) for w in (no, i - 5)]
    en = b.add("ENUM", "wide", 4, *words, vlen=n, kflag=1)
    after = b.int_("after", 4)
    spec = Spec(b.blob())
    t = spec.type(en)
    assert t.vlen == n and len(t.values) == n
    assert (t.values[0].value, t.values[-1].value, t.values[-1].name) == (-5, n - 6, f"V{n - 1}")
    assert spec.name(after) == "after"


@E
def test_kind_bits_and_layout_section(e: str) -> None:
    """Kinds are 7 bits; unknown kinds need a layout record (info_sz, elem_sz, flags)."""
    def build(layout: bytes, hdr_len: int = 32) -> Builder:
        b = Builder(e)
        b.int_("int", 4, 1)
        b.raw(b.s("k20"), (20 << 24) | 2, 7, 0xAAAA, 1, 2, 3, 4)  # 4 + 2*8 bytes of trailer
        b.raw(b.s("k127"), (0x7F << 24) | 1, 0, 5, 6)  # 0 + 1*8
        b.int_("after", 8)
        return b

    layout = bytearray(4 * 128)
    struct.pack_into(e + "BBH", layout, 4 * 20, 4, 8, 0)
    struct.pack_into(e + "BBH", layout, 4 * 0x7F, 0, 8, 0)
    spec = Spec(build(bytes(layout)).blob(hdr_len=32, layout=bytes(layout)))
    assert spec.header.layout_len == 512
    t20 = spec.type(2)
    assert (t20.kind, t20.kind_name, t20.vlen, t20.size_type) == (20, "UNKNOWN", 2, 7)
    assert t20.extra == struct.pack(e + "5I", 0xAAAA, 1, 2, 3, 4)
    assert spec.type(3).kind == 127 and spec.type(3).extra == struct.pack(e + "2I", 5, 6)
    assert spec.name(4) == "after" and spec.resolve_size(4) == 8
    with pytest.raises(BTFTypeError, match="cannot size a UNKNOWN"):
        spec.resolve_size(2)
    spec.validate()
    # without a layout section the unknown kind is an error at open
    with pytest.raises(BTFFormatError, match=r"type \[2\] .* unknown kind 20"):
        Spec(build(b"").blob(hdr_len=32))
    # bad layout records
    odd = bytearray(layout)
    struct.pack_into(e + "BBH", odd, 4 * 20, 2, 8, 0)
    with pytest.raises(BTFFormatError, match="not multiples of 4"):
        Spec(build(bytes(odd)).blob(hdr_len=32, layout=bytes(odd)))
    blob = build(bytes(layout)).blob(hdr_len=32, layout=bytes(layout))
    with pytest.raises(BTFFormatError, match="not 4-byte aligned"):
        Spec(_patch(blob, 24, e + "I", Spec(blob).header.layout_off + 2))
    with pytest.raises(BTFFormatError, match="overlaps"):
        Spec(_patch(blob, 24, e + "I", 4))


@E
def test_kind_zero_in_the_type_section_is_rejected(e: str) -> None:
    b = Builder(e)
    b.raw(0, 0, 0)
    with pytest.raises(BTFFormatError, match="unknown kind 0"):
        Spec(b.blob())


# ---------------------------------------------------------------------------- chains
@E
def test_cycles_and_depth(e: str) -> None:
    b = Builder(e)
    i = b.int_("int", 4, 1)  # 1
    b.ref("TYPEDEF", 3, "a")  # 2 -> 3
    b.ref("TYPEDEF", 2, "b")  # 3 -> 2
    b.ref("CONST", 4)  # 4 -> 4
    arr = b.array(5, i, 1)  # 5: array of itself
    chain_start = b.next_id
    for k in range(31):  # 31 typedefs then the int: 32 types, libbpf's limit
        b.ref("TYPEDEF", chain_start + k + 1 if k < 30 else i, f"t{k}")
    long_start = b.next_id
    for k in range(32):  # 32 typedefs then the int: one too many
        b.ref("TYPEDEF", long_start + k + 1 if k < 31 else i, f"u{k}")
    spec = Spec(b.blob())
    spec.validate()  # cycles are not format errors; following them is
    for tid in (2, 3):
        with pytest.raises(BTFReferenceCycleError):
            spec.skip_mods_and_typedefs(tid)
        with pytest.raises(BTFReferenceCycleError):
            spec.resolve_size(tid)
    with pytest.raises(BTFReferenceCycleError):
        spec.skip_mods(4)
    assert spec.skip_mods(2) == 2
    with pytest.raises(BTFReferenceCycleError):
        spec.resolve_size(arr)
    assert spec.resolve_size(chain_start) == 4
    with pytest.raises(BTFReferenceCycleError, match="deeper than 32"):
        spec.resolve_size(long_start)
    assert spec.skip_mods_and_typedefs(long_start) == i  # not depth-limited to 32


@E
def test_array_size_overflow(e: str) -> None:
    b = Builder(e)
    i = b.int_("int", 4, 1)
    a1 = b.array(i, i, 0x10000)
    a2 = b.array(a1, i, 0x10000)  # 2^32 ints
    a3 = b.array(i, i, 0x3FFFFFFF)
    a4 = b.array(i, i, 0x40000000)  # 4 * 2^30 = 2^32: overflows
    a0 = b.array(a2, i, 0)  # zero elements of an overflowing type: 0
    spec = Spec(b.blob())
    assert spec.resolve_size(a1) == 0x40000
    with pytest.raises(BTFTypeError, match="overflows"):
        spec.resolve_size(a2)
    assert spec.resolve_size(a3) == 0xFFFFFFFC
    with pytest.raises(BTFTypeError, match="overflows"):
        spec.resolve_size(a4)
    assert spec.resolve_size(a0) == 0


# ---------------------------------------------------------------------------- ptr size
@E
def test_pointer_size_guess(e: str) -> None:
    b = Builder(e)
    b.int_("long", 2)  # wrong size: skipped
    b.int_("unsigned int", 4)  # not a long spelling
    b.int_("long unsigned", 4)  # first match in id order
    b.int_("long int", 8)
    p = b.ref("PTR", 0)
    spec = Spec(b.blob())
    assert spec.ptr_size == 4 and spec.resolve_size(p) == 4
    assert Spec(b.blob(), ptr_size=8).resolve_size(p) == 8
    b2 = Builder(e)
    b2.int_("int", 4, 1)
    p2 = b2.ref("PTR", 1)
    assert Spec(b2.blob()).resolve_size(p2) == struct.calcsize("P")  # nothing found: host


# ---------------------------------------------------------------------------- names
@E
def test_duplicate_strings_are_all_found(e: str) -> None:
    """Non-deduplicated string tables (hand-made BTF) still find every type."""
    for copies in (2, 20):  # 20 > the per-offset search limit: the set path
        b = Builder(e)
        ids = []
        for _ in range(copies):
            off = b.str_base + len(b.strings)
            b.strings += b"dup\0"
            ids.append(b.raw(off, 1 << 24, 4, 32))
            b.int_("other", 4)
        spec = Spec(b.blob())
        assert spec.find_by_name("dup") == ids
        assert spec.find_by_name("dup", Kind.INT) == ids
        assert spec.find_by_essential_name("dup___x") == ids


# ---------------------------------------------------------------------------- split
def _split(e: str) -> tuple[Builder, Builder]:
    base = sample(e)
    split = Builder(e, base)
    s = split.struct("mod_s", 16, [("a", 1, 0), ("own_member", 2, 64)])  # 21: base names reused
    split.ref("PTR", s)  # 22
    split.ref("TYPEDEF", 5, "mod_size_t")  # 23 -> base size_t
    split.struct("pair___mod", 4, [("x", 1, 0)])  # 24: a flavor of base 'pair'
    split.int_("int", 4, 1)  # 25: same name as base id 1
    return base, split


@E
def test_split_ids_and_strings(e: str) -> None:
    base_b, split_b = _split(e)
    base = Spec(base_b.blob())
    spec = Spec(split_b.blob(), base=base)
    assert (spec.first_id, spec.type_count, list(spec.own_ids)) == (21, 26, [21, 22, 23, 24, 25])
    assert spec.str_base == base.header.str_len and spec.is_split and not base.is_split
    assert spec.data[spec.header.hdr_len + spec.header.str_off] != 0  # split strings: no NUL
    t = spec.type(21)
    assert [(m.name, m.type) for m in t.members] == [("a", 1), ("own_member", 2)]
    assert t.members[0].name_off < spec.str_base <= t.members[1].name_off
    assert spec.type(1) is base.type(1) and spec.spec_for(1) is base and spec.spec_for(21) is spec
    assert spec.kind(5) == Kind.TYPEDEF and spec.name(5) == "size_t"
    assert spec.header_words(21)[1] >> 24 == Kind.STRUCT
    assert spec.string(t.members[1].name_off) == "own_member"
    assert spec.resolve_size(23) == 8 and spec.resolve_size(22) == 8
    assert spec.skip_mods_and_typedefs(23) == 2
    assert [x.id for x in spec.iter_types()] == [21, 22, 23, 24, 25]
    spec.validate()
    assert spec.find_by_name("int") == [1, 25]
    assert spec.find_by_name("int", own_only=True) == [25]
    assert spec.find_by_name("size_t") == [5] and spec.find_by_name("mod_s") == [21]
    assert spec.find_by_essential_name("pair___local") == [7, 24]
    assert spec.find_by_essential_name("pair", own_only=True) == [24]
    with pytest.raises(BTFTypeError):
        spec.type(26)
    with pytest.raises(BTFFormatError, match="does not start with NUL"):
        Spec(split_b.blob())  # split BTF opened without its base


@E
def test_split_pointer_size_and_layout_inherit(e: str) -> None:
    base_b = Builder(e)
    base_b.int_("long int", 4)
    split_b = Builder(e, base_b)
    split_b.int_("long", 8)  # ignored: the base decides
    p = split_b.ref("PTR", 0)
    assert Spec(split_b.blob(), base=Spec(base_b.blob())).resolve_size(p) == 4
    assert Spec(split_b.blob(), base=Spec(base_b.blob(), ptr_size=8)).ptr_size == 8
    # base without a long: the split's own INT decides
    base2 = Builder(e)
    base2.int_("int", 4, 1)
    split2 = Builder(e, base2)
    split2.int_("unsigned long", 4)
    assert Spec(split2.blob(), base=Spec(base2.blob())).ptr_size == 4
    # layout of the base describes the split's unknown kinds
    layout = bytearray(4 * 32)
    struct.pack_into(e + "BBH", layout, 4 * 25, 4, 0, 0)
    base3 = Builder(e)
    base3.int_("int", 4, 1)
    split3 = Builder(e, base3)
    split3.raw(0, 25 << 24, 0, 0x1234)
    split3.int_("x", 4)
    s3 = Spec(split3.blob(), base=Spec(base3.blob(hdr_len=32, layout=bytes(layout))))
    assert s3.type(2).extra == struct.pack(e + "I", 0x1234) and s3.name(3) == "x"


@E
def test_split_of_split(e: str) -> None:
    b0 = sample(e)
    b1 = Builder(e, b0)
    b1.struct("lvl1", 4, [("m1", 1, 0)])  # 21
    b2 = Builder(e, b1)
    b2.struct("lvl2", 8, [("m2", 21, 0), ("m1", 1, 32)])  # 22: names from both bases
    s0 = Spec(b0.blob())
    s1 = Spec(b1.blob(), base=s0)
    s2 = Spec(b2.blob(), base=s1)
    assert s2.first_id == 22 and s2.str_base == s1.str_base + s1.header.str_len
    assert [(m.name, m.type) for m in s2.type(22).members] == [("m2", 21), ("m1", 1)]
    assert s2.find_by_name("lvl1") == [21] and s2.find_by_name("m1") == []
    assert s2.resolve_size(22) == 8 and s2.spec_for(3) is s0 and s2.spec_for(21) is s1
