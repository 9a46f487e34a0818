"""Per-kind values (corepy.core.values): bitfield math in both byte orders, enum values,
load/store size bookkeeping.

The strongest check here does not trust any formula: the target objects contain
initialised globals (``bf_value`` ...), laid out by the compiler for that target; reading
them the way ``BPF_CORE_READ_BITFIELD`` does, with the values we computed, must give back
the values the C source stored. That is done for little- and big-endian objects, BPF and
32-bit (i386 / powerpc) layouts.
"""

from __future__ import annotations

import pytest

from btf.spec import Spec
from corepy.core.access import parse_spec
from corepy.core.errors import E2BIG, CoreError
from corepy.core.values import calc_field, calc_relo, memsz_adjust_allowed

from .btfbuild import SIGNED, BTFBuilder

U64 = (1 << 64) - 1

#: (field, index of its BYTE_OFFSET relocation in prog 'bitfields', C value, signed)
BF_FIELDS = [
    ("ub1", 0, 1, False),
    ("ub2", 5, 2, False),
    ("ub7", 10, 1, False),
    ("sb4", 15, -1, True),
    ("sb20", 20, -54321, True),
    ("u32", 25, 0xBEEF, False),
    ("s32", 30, -7, True),
]


def _read_field(buf: bytes, off: int, size: int, lshift: int, rshift: int, signed: bool,
                order: str) -> int:
    """What a BPF program does with the five values (libbpf's BPF_CORE_READ_BITFIELD)."""
    chunk = buf[off : off + size]
    chunk += bytes(size - len(chunk))  # a packed struct may end inside the load
    v = int.from_bytes(chunk, order)  # low-order end of a u64
    v = (v << lshift) & U64
    if signed:
        v -= (v >> 63) << 64
    return v >> rshift


@pytest.mark.parametrize("arch", ["bpfel", "bpfeb"])
@pytest.mark.parametrize("variant", ["same", "diff", "t32"])
def test_bitfield_values_extract_the_stored_values(objs, arch, variant):
    local = objs(arch, "local")
    target = objs(arch, f"target_{variant}")
    calc = objs.calc(arch, "local", variant)
    order = "little" if target.btf.byteorder == "little" else "big"
    assert order == ("little" if arch == "bpfel" else "big")

    def vals(first: int, n: int) -> list[int]:
        out = []
        for i in range(first, first + n):
            res = calc.calc(local.find("bitfields", i), "bitfields")
            assert not res.poison
            out.append(res.new_val)
        return out

    buf = target.symbol_bytes("bf_value")
    for name, first, expect, signed in BF_FIELDS:
        off, size, lsh, rsh, sig = vals(first, 5)
        assert sig == int(signed), name
        assert _read_field(buf, off, size, lsh, rsh, signed, order) == expect, name
    off, size, lsh, rsh = vals(35, 4)
    assert _read_field(target.symbol_bytes("big_value"), off, size, lsh, rsh, False,
                       order) == 0x123456789
    off, size, lsh, rsh = vals(39, 4)
    assert _read_field(target.symbol_bytes("bf2_value"), off, size, lsh, rsh, False,
                       order) == 9


# Values of core-semantics.md §3.7 (little-endian) for the same-layout target; verified
# against libbpf 1.1.2 (tests/core/test_libbpf.py runs the same pairs through libbpf).
BF_TABLE_LE = {
    "ub1": (0, 1, 63, 63, 0),
    "ub2": (0, 1, 61, 62, 0),
    "ub7": (0, 4, 54, 57, 0),
    "sb4": (1, 1, 58, 60, 1),
    "sb20": (4, 4, 44, 44, 1),
    "u32": (8, 4, 32, 32, 0),
    "s32": (12, 4, 32, 32, 1),
}
# Big-endian: bit offsets count from the most significant bit, LSHIFT is
# 8*(8 - byte_sz) + (bit_off - 8*byte_off); the rest is the same.
BF_TABLE_BE = {
    "ub1": (0, 1, 56, 63, 0),
    "ub2": (0, 1, 57, 62, 0),
    "ub7": (0, 4, 35, 57, 0),
    "sb4": (1, 1, 58, 60, 1),
    "sb20": (4, 4, 32, 44, 1),
    "u32": (8, 4, 32, 32, 0),
    "s32": (12, 4, 32, 32, 1),
}


@pytest.mark.parametrize("arch,table", [("bpfel", BF_TABLE_LE), ("bpfeb", BF_TABLE_BE)])
def test_bitfield_table(objs, arch, table):
    local = objs(arch, "local")
    calc = objs.calc(arch, "local", "same")
    for name, first, _v, _s in BF_FIELDS:
        got = tuple(calc.calc(local.find("bitfields", first + k), "bitfields").new_val
                    for k in range(5))
        assert got == table[name], name
    # 60 bits at bit 4 of a u64: one 8-byte load; a u8:4 at bit 14 grows 1 -> 2 -> 4 bytes
    big = tuple(calc.calc(local.find("bitfields", 35 + k), "bitfields").new_val
                for k in range(4))
    bf2 = tuple(calc.calc(local.find("bitfields", 39 + k), "bitfields").new_val
                for k in range(4))
    if arch == "bpfel":
        assert big == (0, 8, 0, 4)
        assert bf2 == (0, 4, 46, 60)
    else:
        assert big == (0, 8, 4, 4)
        assert bf2 == (0, 4, 46, 60)  # bit 14 from the MSB of a 4-byte load: 32 + 14


def test_bitfield_validation_is_off_but_signed_and_rshift_stay_on(objs):
    local = objs("bpfel", "local")
    calc = objs.calc("bpfel", "local", "same")
    kinds = {}
    for k in range(5):
        res = calc.calc(local.find("bitfields", 15 + k), "bitfields")  # sb4
        kinds[local.find("bitfields", 15 + k).kind] = res.validate
    assert kinds == {0: False, 1: False, 4: False, 5: True, 3: True}
    res = calc.calc(local.find("bitfields", 27), "bitfields")  # u32 is no bitfield
    assert res.validate


def _bitfield_spec(bit_off: int, bits: int, base_size: int, *, order: str = "little"):
    """A one-member struct (packed: the member may sit anywhere) and its local spec."""
    b = BTFBuilder(order)
    base = b.int("t", base_size)
    s = b.struct("s", 16, [("f", base, bit_off, bits)])
    spec = b.spec(ptr_size=8)
    return spec, parse_spec(spec, s, "0:0", 0, "p")


@pytest.mark.parametrize(
    "bit_off,bits,base,expect_le,expect_be",
    [
        # (byte_off, byte_sz, lshift, rshift)
        (4, 60, 8, (0, 8, 0, 4), (0, 8, 4, 4)),
        (14, 4, 1, (0, 4, 46, 60), (0, 4, 46, 60)),
        (3, 7, 4, (0, 4, 54, 57), (0, 4, 35, 57)),
        (33, 3, 1, (4, 1, 60, 61), (4, 1, 57, 61)),
        (7, 2, 1, (0, 2, 55, 62), (0, 2, 55, 62)),
    ],
)
def test_bitfield_formulas(bit_off, bits, base, expect_le, expect_be):
    for order, expect in (("little", expect_le), ("big", expect_be)):
        spec, lspec = _bitfield_spec(bit_off, bits, base, order=order)
        got = tuple(
            calc_field(k, lspec, prog_name="p", insn_idx=0, ptr_size=8,
                       big_endian=order == "big").value
            for k in (0, 1, 4, 5)
        )
        assert got == expect, order


def test_bitfield_needing_more_than_8_bytes_is_an_error():
    spec, lspec = _bitfield_spec(4, 61, 8)
    with pytest.raises(CoreError) as ei:
        calc_field(4, lspec, prog_name="prog", insn_idx=7, ptr_size=8, big_endian=False)
    assert ei.value.errno == E2BIG
    # libbpf prints the kind number, and the section-relative instruction index
    assert ei.value.warning == "prog 'prog': relo 4 at insn #7 can't be satisfied for bitfield"


def test_bitfield_of_zero_sized_base_does_not_crash():
    spec, lspec = _bitfield_spec(0, 3, 0)
    with pytest.raises(CoreError):
        calc_field(0, lspec, prog_name="p", insn_idx=0, ptr_size=8, big_endian=False)


def test_signed_field_rules():
    b = BTFBuilder()
    i32 = b.int("int", 4, SIGNED)
    u32 = b.int("unsigned int", 4)
    sch = b.int("signed char", 1, SIGNED | 2)
    ch = b.int("char", 1, 2)
    boo = b.int("_Bool", 1, 4)
    se = b.enum("se", 4, [("A", -1)], signed=True)
    ue = b.enum("ue", 4, [("B", 1)])
    se64 = b.enum64("se64", 8, [("C", -5)], signed=True)
    p = b.ptr(i32)
    td = b.typedef("sint_t", b.const(i32))
    members = [("i", i32), ("u", u32), ("sc", sch), ("c", ch), ("b", boo), ("se", se),
               ("ue", ue), ("se64", se64), ("p", p), ("td", td)]
    s = b.struct("s", 80, [(n, t, 64 * k) for k, (n, t) in enumerate(members)])
    spec = b.spec(ptr_size=8)
    expect = [1, 0, 1, 0, 0, 1, 0, 1, 0, 1]
    for k, want in enumerate(expect):
        lspec = parse_spec(spec, s, f"0:{k}", 3, "p")
        assert calc_field(3, lspec, prog_name="p", insn_idx=0, ptr_size=8,
                          big_endian=False).value == want, members[k][0]


def test_enum_values_sign_extension(objs):
    """32-bit ENUM values are sign-extended to 64 bits; ENUM64 is hi:lo (verified in libbpf)."""
    local = objs("bpfel", "local")
    calc = objs.calc("bpfel", "local", "diff")
    # enum cx_se64 (signed ENUM64 locally) is a signed 4-byte ENUM in the target
    assert calc.calc(local.find("enums", 7), "enums").new_val == (-101) & U64
    assert calc.calc(local.find("enums", 8), "enums").new_val == (-202) & U64
    # local values: ENUM64 -2 as u64 (the orig value the instruction carries)
    assert calc.calc(local.find("enums", 7), "enums").orig_val == (-2) & U64
    same = objs.calc("bpfel", "local", "same")
    assert same.calc(local.find("enums", 4), "enums").new_val == 0x800000000
    b = BTFBuilder()
    e = b.enum("u", 4, [("BIG", 0x80000000)])  # unsigned enum, value >= 2^31
    spec = b.spec()
    lspec = parse_spec(spec, e, "0", 11, "p")
    res = calc_relo(11, lspec, lspec, prog_name="p", relo_idx=0, insn_idx=0)
    assert res.new_val == 0xFFFFFFFF80000000  # libbpf sign-extends regardless of kflag


def test_memsz_adjust_rules():
    b = BTFBuilder()
    i32 = b.int("int", 4, SIGNED)
    u16 = b.int("u16", 2)
    u32 = b.int("u32", 4)
    sch = b.int("signed char", 1, SIGNED | 2)
    p = b.ptr(i32)
    arr = b.array(u32, 4)
    spec = b.spec()
    assert memsz_adjust_allowed(spec, u16, spec, u32)
    assert memsz_adjust_allowed(spec, p, spec, p)
    assert not memsz_adjust_allowed(spec, i32, spec, u32)
    assert memsz_adjust_allowed(spec, sch, spec, u16)  # encoding SIGNED|CHAR is not "SIGNED"
    assert not memsz_adjust_allowed(spec, arr, spec, arr)
    assert not memsz_adjust_allowed(spec, p, spec, u32)


def test_direct_loads_size_bookkeeping(objs):
    """Remembered access sizes on LDX relocations (values verified against libbpf 1.1.2)."""
    local = objs("bpfel", "local")
    diff = objs.calc("bpfel", "local", "diff")
    res = diff.calc(local.find("direct", 2), "direct")  # u16 c -> unsigned int c
    assert (res.orig_sz, res.new_sz, res.fail_memsz_adjust) == (2, 4, False)
    res = diff.calc(local.find("direct", 3), "direct")  # int arr[2] -> short arr[2]
    assert (res.orig_sz, res.new_sz, res.fail_memsz_adjust) == (4, 2, True)
    t32 = objs.calc("bpfel", "local", "t32")
    res = t32.calc(local.find("direct", 4), "direct")  # pointer 8 -> 4: allowed
    assert (res.orig_sz, res.new_sz, res.fail_memsz_adjust) == (8, 4, False)
    res = t32.calc(local.find("direct", 5), "direct")  # long 8 -> 4, signed: refused
    assert (res.orig_sz, res.new_sz, res.fail_memsz_adjust) == (8, 4, True)


def test_array_member_access_size_current_vs_legacy(objs):
    """``int arr[4]`` read directly, target ``short arr[8]`` (same 16 bytes).

    Current libbpf remembers the element size (4 -> 2: an ARRAY, never adjustable, so the
    load is poisoned); libbpf before Feb 2025 (1.1.2, our oracle) remembers the whole
    array (16 -> 16: no size change, patched). Both modes are checked against libbpf
    1.1.2 for the legacy one in test_libbpf.py.
    """
    from corepy.core import CoreCalculator, CoreOptions

    local = objs("bpfel", "local")
    relo = local.find("direct", 0)
    assert relo.access == "0:4"
    cur = CoreCalculator(local.btf, objs.target("bpfel", "diff")).calc(relo, "direct")
    assert (cur.orig_sz, cur.new_sz, cur.fail_memsz_adjust) == (4, 2, True)
    old = CoreCalculator(local.btf, objs.target("bpfel", "diff"),
                         options=CoreOptions(legacy_array_mem_size=True)).calc(relo, "direct")
    assert (old.orig_sz, old.new_sz, old.fail_memsz_adjust) == (16, 16, False)
    assert cur.new_val == old.new_val == 60


def test_values_without_target():
    b = BTFBuilder()
    i32 = b.int("int", 4, SIGNED)
    s = b.struct("s", 4, [("a", i32, 0)])
    e = b.enum("e", 4, [("A", 3)])
    spec: Spec = b.spec()
    for kind, poison in ((0, True), (1, True), (2, False), (3, True), (4, True), (5, True)):
        lspec = parse_spec(spec, s, "0:0", kind, "p")
        res = calc_relo(kind, lspec, None, prog_name="p", relo_idx=0, insn_idx=0)
        assert res.poison is poison
        assert res.new_val == 0
    for kind in (7, 8, 9, 12):
        lspec = parse_spec(spec, s, "0", kind, "p")
        res = calc_relo(kind, lspec, None, prog_name="p", relo_idx=0, insn_idx=0)
        assert (res.poison, res.new_val) == (False, 0)
    lspec = parse_spec(spec, e, "0", 11, "p")
    res = calc_relo(11, lspec, None, prog_name="p", relo_idx=0, insn_idx=0)
    assert (res.poison, res.orig_val) == (True, 3)
    lspec = parse_spec(spec, e, "0", 10, "p")
    res = calc_relo(10, lspec, None, prog_name="p", relo_idx=0, insn_idx=0)
    assert (res.poison, res.orig_val, res.new_val) == (False, 1, 0)
