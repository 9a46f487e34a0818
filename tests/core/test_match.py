"""Matching a local spec against one candidate (corepy.core.match).

The partial target specs of non-matching candidates follow libbpf's state machine; the
shapes asserted here were seen in libbpf 1.1.2's log for the fixture corpus (e.g.
``nesting___err_array_field`` prints ``.b.b (0:1:1:0 @ offset 12)``: the incompatible
innermost ``b`` keeps its raw index and offset but loses its accessor).
"""

from __future__ import annotations

from corepy.core.access import format_spec, parse_spec
from corepy.core.errors import E2BIG
from corepy.core.match import match_candidate

from .btfbuild import SIGNED, BTFBuilder


def local_btf():  # type: ignore[no-untyped-def]
    b = BTFBuilder()
    i = b.int("int", 4, SIGNED)
    inner = b.struct("inner", 8, [("x", i, 0), ("y", i, 32)])
    arr = b.array(i, 4)
    s = b.struct("s", 32, [("a", i, 0), ("in", inner, 32), ("arr", arr, 96)])
    e = b.enum("e", 4, [("ONE", 1), ("TWO___new", 2)])
    return b.spec(ptr_size=8), s, e


def test_match_through_anonymous_members_and_reordering():
    lspec_btf, s, _e = local_btf()
    t = BTFBuilder()
    ti = t.int("int", 4, SIGNED)
    tin = t.struct("inner", 8, [("y", ti, 0), ("x", ti, 32)])
    anon = t.union("", 8, [("pad", t.int("long", 8), 0), ("in", tin, 0)])
    ts = t.struct("s___v2", 48, [("arr", t.array(ti, 8), 0), ("", anon, 256),
                                 ("a", ti, 320)])
    tbtf = t.spec(ptr_size=8)
    local = parse_spec(lspec_btf, s, "0:1:0", 0, "p")  # s.in.x
    m = match_candidate(local, tbtf, ts)
    assert m.status == 1
    assert format_spec(m.spec) == "[6] struct s___v2.in.x (0:1:1:1 @ offset 36)"
    local = parse_spec(lspec_btf, s, "1:2:3", 0, "p")  # s[1].arr[3]: root scaled by 48
    m = match_candidate(local, tbtf, ts)
    assert format_spec(m.spec) == "[6] struct s___v2[1].arr[3] (1:0:3 @ offset 60)"


def _target(members_of_s):  # type: ignore[no-untyped-def]
    t = BTFBuilder()
    ti = t.int("int", 4, SIGNED)
    ts = members_of_s(t, ti)
    return t.spec(ptr_size=8), ts


def test_incompatible_named_member_keeps_raw_index():
    lb, s, _e = local_btf()
    tbtf, ts = _target(lambda t, ti: t.struct("s", 16, [("x", ti, 0), ("a", t.array(ti, 1), 64)]))
    m = match_candidate(parse_spec(lb, s, "0:0", 0, "p"), tbtf, ts)
    assert m.status == 0
    assert format_spec(m.spec) == "[3] struct s (0:1 @ offset 8)"
    assert m.reason == "field 'a' is int in the object but int[1] in the target"


def test_missing_field_and_bounds():
    lb, s, _e = local_btf()
    tbtf, ts = _target(lambda t, ti: t.struct("s", 16, [("b", ti, 0), ("arr", t.array(ti, 2), 32)]))
    m = match_candidate(parse_spec(lb, s, "0:0", 0, "p"), tbtf, ts)
    assert (m.status, format_spec(m.spec)) == (0, "[3] struct s (0 @ offset 0)")
    assert m.reason == "field 'a' not found in struct s"
    m = match_candidate(parse_spec(lb, s, "0:2:3", 0, "p"), tbtf, ts)
    assert (m.status, format_spec(m.spec)) == (0, "[3] struct s.arr (0:1 @ offset 4)")
    assert m.reason == "index 3 out of bounds for array of 2 ('s.arr' in the target)"


def test_container_of_wrong_kind():
    lb, s, _e = local_btf()
    tbtf, ts = _target(lambda t, ti: t.struct("s", 16, [("in", t.ptr(ti), 0)]))
    m = match_candidate(parse_spec(lb, s, "0:1:1", 0, "p"), tbtf, ts)
    assert m.status == 0
    # 'in' is found by name but a pointer is no struct: accessor dropped, raw index kept
    assert format_spec(m.spec) == "[3] struct s (0:0 @ offset 0)"
    assert m.reason == "field 'in' is struct inner in the object but int * in the target"


def test_flexible_array_only_when_last_and_named():
    lb = BTFBuilder()
    li = lb.int("int", 4, SIGNED)
    ls = lb.struct("f", 8, [("n", li, 0), ("data", lb.array(li, 0), 32)])
    lbtf = lb.spec(ptr_size=8)
    local = parse_spec(lbtf, ls, "0:1:7", 0, "p")
    ok_btf, ok = _target(lambda t, ti: t.struct("f", 8, [("n", ti, 0),
                                                         ("data", t.array(ti, 0), 64)]))
    assert match_candidate(local, ok_btf, ok).status == 1
    bad_btf, bad = _target(lambda t, ti: t.struct("f", 8, [("data", t.array(ti, 0), 0),
                                                           ("n", ti, 0)]))
    m = match_candidate(local, bad_btf, bad)
    assert m.status == 0 and "out of bounds for array of 0" in (m.reason or "")


def test_too_deep_target_is_e2big():
    lb, s, _e = local_btf()

    def deep(t, ti):  # type: ignore[no-untyped-def]
        inner = t.struct("", 4, [("a", ti, 0)])
        for _ in range(64):
            inner = t.struct("", 4, [("", inner, 0)])
        return t.struct("s", 4, [("", inner, 0)])

    tbtf, ts = _target(deep)
    m = match_candidate(parse_spec(lb, s, "0:0", 0, "p"), tbtf, ts)
    assert m.status == -E2BIG
    assert m.error is not None and m.error.errno == E2BIG


def test_diamond_of_anonymous_members_terminates():
    """2^40 paths to search for a missing field: libbpf would walk them all."""
    lb, s, _e = local_btf()

    def diamond(t, ti):  # type: ignore[no-untyped-def]
        inner = t.struct("", 4, [("z", ti, 0)])
        for _ in range(40):
            inner = t.struct("", 4, [("", inner, 0), ("", inner, 0)])
        return t.struct("s", 4, [("", inner, 0)])

    tbtf, ts = _target(diamond)
    m = match_candidate(parse_spec(lb, s, "0:0", 0, "p"), tbtf, ts)
    assert m.status == 0 and m.reason == "field 'a' not found in struct s"


def test_enum_matching():
    lb, _s, e = local_btf()
    t = BTFBuilder()
    te = t.enum64("e", 8, [("TWO", 22), ("ONE___old", 11)], signed=True)
    tbtf = t.spec()
    m = match_candidate(parse_spec(lb, e, "1", 11, "p"), tbtf, te)
    assert m.status == 1
    assert format_spec(m.spec) == "[1] enum64 e::TWO = 22"
    t = BTFBuilder()
    te = t.enum("e", 4, [("THREE", 3)])
    m = match_candidate(parse_spec(lb, e, "0", 10, "p"), t.spec(), te)
    # libbpf prints enumerator #0 of an unmatched candidate
    assert (m.status, format_spec(m.spec)) == (0, "[1] enum e::THREE = 3")
    assert m.reason == "enumerator 'ONE' not found in enum e"
    t = BTFBuilder()
    td = t.typedef("e", t.int("int", 4))
    m = match_candidate(parse_spec(lb, e, "0", 10, "p"), t.spec(), td)
    assert m.status == 0 and "not an enum" in (m.reason or "")
