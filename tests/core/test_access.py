"""Access strings, local specs and libbpf's spec text (corepy.core.access).

Expected texts were taken from libbpf 1.1.2's debug log for the same objects
(tests/core/test_libbpf.py compares every line automatically when libbpf is available);
the odd access strings were checked by patching them into a compiled object and loading
it with libbpf.
"""

from __future__ import annotations

import pytest

from corepy.core.access import (
    SPEC_MAX_LEN,
    format_spec,
    parse_access,
    parse_spec,
    truncate_spec,
)
from corepy.core.errors import E2BIG, EINVAL, CoreError

from .btfbuild import SIGNED, BTFBuilder


@pytest.mark.parametrize(
    "text,raw",
    [
        ("0", [0]),
        ("0:1", [0, 1]),
        ("1:2:0:5", [1, 2, 0, 5]),
        ("10:1", [10, 1]),
        ("0 4 2", [0, 4, 2]),  # %d skips white space: libbpf accepts this
        ("+0:+4", [0, 4]),  # ... and a sign
        ("0:04", [0, 4]),
        ("0: 4", [0, 4]),
        ("0:-0", [0, 0]),
    ],
)
def test_parse_access_accepts(text, raw):
    assert parse_access(text) == raw


@pytest.mark.parametrize(
    "text",
    [
        "",
        ":0",
        ":04:2",  # leading colon (libbpf: -EINVAL)
        "0:",  # trailing colon
        "0::1",
        "0x4:2",
        "0:04 ",  # trailing blank (libbpf: -EINVAL)
        "0:1a",
        "a",
        "0:-1",  # libbpf >= 2026 rejects; libbpf 1.1.2 crashes on "0:-42"
        "-1",
    ],
)
def test_parse_access_rejects(text):
    with pytest.raises(CoreError) as ei:
        parse_access(text)
    assert ei.value.errno == EINVAL


def test_parse_access_component_limit():
    assert len(parse_access(":".join(["0"] * SPEC_MAX_LEN))) == 64
    with pytest.raises(CoreError) as ei:
        parse_access(":".join(["0"] * (SPEC_MAX_LEN + 1)))
    assert ei.value.errno == E2BIG


def test_parse_access_wraps_like_int():
    # %d stores through a 32-bit int: 2^32 + 5 wraps to 5, 2^31 becomes negative
    assert parse_access(str((1 << 32) + 5)) == [5]
    with pytest.raises(CoreError):
        parse_access(str(1 << 31))


LOCAL_SPECS = {
    # (prog, index): spec text libbpf printed (without the "<kind> " prefix)
    ("fields", 0): "[5] struct cx_s.b (0:2 @ offset 8)",
    ("fields", 6): "[5] struct cx_s.in.y (0:3:1 @ offset 20)",
    ("fields", 7): "[5] struct cx_s.arr[2] (0:4:2 @ offset 32)",
    ("fields", 8): "[5] struct cx_s.inarr[1].y (0:5:1:1 @ offset 52)",
    ("fields", 9): "[5] struct cx_s.u2 (0:8:1 @ offset 68)",  # anonymous union: raw only
    ("fields", 12): "[5] struct cx_s.flex[5] (0:12:5 @ offset 104)",  # flexible array
    ("fields", 14): "[5] struct cx_s[3].c (3:1 @ offset 268)",  # root index printed
    ("bitfields", 5): "[25] struct cx_bf.ub2 (0:1 @ offset 0.1)",
    ("bitfields", 15): "[25] struct cx_bf.sb4 (0:3 @ offset 1.2)",
    ("types", 0): "[5] struct cx_s",
    ("types", 9): "[41] typedef cx_int_t",
    ("types", 22): "[52] struct <anon>",
    ("enums", 1): "[14] enum cx_e::CX_B = 2",
    ("enums", 4): "[55] enum64 cx_e64::CX64_BIG = 34359738368",
    ("enums", 7): "[56] enum64 cx_se64::CXS_NEG = -2",
    ("enums", 9): "[57] enum cx_fe::CX_FE_X___v2 = 10",
    ("flavors", 0): "[60] struct cx_fl___mine.a (0:0 @ offset 0)",
}


@pytest.mark.parametrize("key", sorted(LOCAL_SPECS))
def test_local_spec_text(objs, key):
    local = objs("bpfel", "local")
    relo = local.find(*key)
    spec = parse_spec(local.btf, relo.type_id, relo.access, relo.kind, key[0])
    assert format_spec(spec) == LOCAL_SPECS[key]
    assert format_spec(spec, with_kind=True).endswith(LOCAL_SPECS[key])


def test_local_specs_identical_in_both_byte_orders(objs):
    for key, text in LOCAL_SPECS.items():
        relo = objs("bpfeb", "local").find(*key)
        spec = parse_spec(objs("bpfeb", "local").btf, relo.type_id, relo.access, relo.kind, "p")
        if key[0] == "bitfields":
            continue  # big-endian bit numbering differs
        assert format_spec(spec) == text


def _struct_btf():
    b = BTFBuilder()
    i32 = b.int("int", 4, SIGNED)
    p = b.ptr(i32)
    arr = b.array(i32, 3)
    flex = b.array(i32, 0)
    anon = b.struct("", 4, [("x", i32, 0)])
    s = b.struct("s", 40, [("a", i32, 0), ("p", p, 64), ("arr", arr, 128), ("", anon, 224),
                           ("z", flex, 256)])
    z = b.struct("z", 8, [("zero", flex, 0), ("last", i32, 32)])
    e = b.enum("e", 4, [("A", 1), ("B", -2)], signed=True)
    td = b.typedef("s_t", s)
    return b.spec(ptr_size=8), s, z, e, td


@pytest.mark.parametrize(
    "access,kind,errno",
    [
        ("0:9", 0, EINVAL),  # member index out of range
        ("0:2:3", 0, EINVAL),  # array index out of bounds
        ("0:1:0", 0, EINVAL),  # pointer in the chain (libbpf: "captures type")
        ("1", 8, EINVAL),  # type-based relocations need "0"
        ("0:0", 8, EINVAL),
        ("0", 13, EINVAL),  # unknown kind
        (":".join(["0"] * 65), 0, E2BIG),
    ],
)
def test_parse_spec_errors(access, kind, errno):
    spec, s, _z, _e, _td = _struct_btf()
    with pytest.raises(CoreError) as ei:
        parse_spec(spec, s, access, kind, "p")
    assert ei.value.errno == errno


def test_captures_type_warning_text():
    # libbpf prints the access string *after* its parser consumed it: an empty string,
    # hence the double blank (seen in libbpf 1.1.2's log).
    spec, s, _z, _e, _td = _struct_btf()
    with pytest.raises(CoreError) as ei:
        parse_spec(spec, s, "0:1:0", 0, "prog")
    assert ei.value.warning == (
        "prog 'prog': relo for [6]  (at idx 2) captures type [2] of unexpected kind ptr"
    )


def test_flexible_arrays():
    spec, s, z, _e, _td = _struct_btf()
    # last member, zero elements, reached through a named member: any index is fine
    sp = parse_spec(spec, s, "0:4:100", 0, "p")
    assert format_spec(sp) == "[6] struct s.z[100] (0:4:100 @ offset 432)"
    # zero-length array that is not the last member: index 0 is already out of bounds
    with pytest.raises(CoreError):
        parse_spec(spec, z, "0:0:0", 0, "p")


def test_enum_specs():
    spec, _s, _z, e, _td = _struct_btf()
    assert format_spec(parse_spec(spec, e, "1", 11, "p")) == "[8] enum e::B = -2"
    with pytest.raises(CoreError):
        parse_spec(spec, e, "2", 11, "p")
    with pytest.raises(CoreError):
        parse_spec(spec, e, "0:0", 10, "p")


def test_typedef_root_and_anonymous_member():
    spec, _s, _z, _e, td = _struct_btf()
    sp = parse_spec(spec, td, "0:3:0", 0, "p")
    # root printed as written (the typedef), the anonymous member only in the raw part
    assert format_spec(sp) == "[9] typedef s_t.x (0:3:0 @ offset 28)"
    assert [a.name for a in sp.acc] == [None, "x"]
    assert sp.raw == [0, 3, 0]


def test_root_index_scales_by_root_size():
    spec, s, _z, _e, _td = _struct_btf()
    sp = parse_spec(spec, s, "2:0", 0, "p")
    assert sp.bit_offset == 2 * 40 * 8
    assert format_spec(sp) == "[6] struct s[2].a (2:0 @ offset 80)"


def test_truncation_like_libbpf():
    assert truncate_spec("x" * 300) == "x" * 255
    assert truncate_spec("short") == "short"
