"""The three type relations (corepy.core.compat), including limits and hostile BTF.

The limits (32 loop steps, 32 recursion levels, the FLOAT quirk) were checked against
libbpf 1.1.2 with the errors.o / types objects (tests/core/test_libbpf.py); the hostile
graphs below would make libbpf loop for a very long time, so only "terminates quickly
with the same answer" is asserted for them.
"""

from __future__ import annotations

import time

import pytest

from btf.spec import Spec
from corepy.core.compat import fields_are_compat, types_are_compat, types_match
from corepy.core.errors import EINVAL, CoreError

from .btfbuild import SIGNED, BTFBuilder


def pair() -> tuple[BTFBuilder, BTFBuilder]:
    return BTFBuilder(), BTFBuilder()


def test_types_are_compat_basics():
    a, b = pair()
    ai = a.int("int", 4, SIGNED)
    bu = b.int("unsigned long", 8)
    bi_off = b.int("int", 4, SIGNED, bits=3, offset=2)
    s1 = a.struct("s", 4, [("x", ai, 0)])
    s2 = b.struct("s", 12, [("y", bu, 0)])
    u2 = b.union("s", 8, [("y", bu, 0)])
    e32 = a.enum("e", 4, [("A", 1)])
    e64 = b.enum64("e", 8, [("B", 2)])
    pa = a.ptr(a.const(s1))
    pb = b.ptr(s2)
    arr_a = a.array(ai, 3)
    arr_b = b.array(bu, 9)
    fa = a.float("float", 4)
    fb = b.float("float", 4)
    fwa = a.fwd("s")
    fwb = b.fwd("s")
    la, lb = a.spec(), b.spec()
    assert types_are_compat(la, ai, lb, bu).ok  # size and sign ignored
    assert not types_are_compat(la, ai, lb, bi_off).ok  # legacy bitfield int
    assert types_are_compat(la, s1, lb, s2).ok  # members never looked at
    assert not types_are_compat(la, s1, lb, u2).ok  # struct vs union
    assert types_are_compat(la, e32, lb, e64).ok  # ENUM ~ ENUM64
    assert types_are_compat(la, pa, lb, pb).ok  # through pointers and modifiers
    assert types_are_compat(la, arr_a, lb, arr_b).ok  # dimensions ignored
    assert types_are_compat(la, fwa, lb, fwb).ok
    warnings: list[str] = []
    v = types_are_compat(la, fa, lb, fb, warnings=warnings)
    assert not v.ok  # libbpf has no FLOAT case here
    assert warnings == [f"unexpected kind float relocated, local [{fa}], target [{fb}]"]


def test_func_proto_compat():
    a, b = pair()
    ai = a.int("int", 4, SIGNED)
    bi = b.int("int", 4, SIGNED)
    bc = b.int("char", 1)
    sa = a.struct("s", 4, [])
    sb = b.struct("s", 4, [])
    fa = a.func_proto(ai, [ai, a.ptr(sa)])
    fb_ok = b.func_proto(bc, [bi, b.ptr(sb)])
    fb_n = b.func_proto(bi, [bi])
    fb_k = b.func_proto(bi, [bi, sb])
    la, lb = a.spec(), b.spec()
    assert types_are_compat(la, fa, lb, fb_ok).ok
    v = types_are_compat(la, fa, lb, fb_n)
    assert not v.ok and "2 parameters" in (v.reason or "")
    assert not types_are_compat(la, fa, lb, fb_k).ok  # pointer vs struct parameter


def _ptr_chain(b: BTFBuilder, n: int) -> int:
    t = b.int("int", 4, SIGNED)
    for _ in range(n):
        t = b.ptr(t)
    return b.typedef("pp", t)


def test_types_are_compat_loop_budget():
    # 32 steps: a chain of 31 pointers plus the int fits, 32 pointers do not (EINVAL)
    for n, ok in ((31, True), (32, False)):
        a, b = pair()
        ta, tb = _ptr_chain(a, n), _ptr_chain(b, n)
        if ok:
            assert types_are_compat(a.spec(), ta, b.spec(), tb).ok
        else:
            with pytest.raises(CoreError) as ei:
                types_are_compat(a.spec(), ta, b.spec(), tb)
            assert ei.value.errno == EINVAL


def _proto_nest(b: BTFBuilder, depth: int) -> int:
    """A prototype whose parameter is a pointer to a prototype ... ``depth`` times."""
    t = b.func_proto(b.int("int", 4), [])
    for _ in range(depth):
        t = b.func_proto(0, [b.ptr(t)])
    return b.typedef("fn", b.ptr(t))


def test_types_are_compat_recursion_levels():
    a, b = pair()
    ta, tb = _proto_nest(a, 32), _proto_nest(b, 32)
    assert types_are_compat(a.spec(), ta, b.spec(), tb).ok
    a, b = pair()
    ta, tb = _proto_nest(a, 33), _proto_nest(b, 33)
    with pytest.raises(CoreError):
        types_are_compat(a.spec(), ta, b.spec(), tb)


def test_cyclic_btf_terminates():
    a, b = pair()
    pa = a.ptr(a.next_id)  # pointer to itself
    pb = b.ptr(b.next_id)
    la, lb = a.spec(), b.spec()
    with pytest.raises(CoreError):
        types_are_compat(la, pa, lb, pb)
    with pytest.raises(CoreError):
        types_match(la, pa, lb, pb)
    assert fields_are_compat(la, pa, lb, pb).ok  # pointers: pointee never looked at
    # a prototype taking a pointer to itself
    a, b = pair()
    fa = a.func_proto(0, [a.next_id + 1])
    a.ptr(fa)
    fb = b.func_proto(0, [b.next_id + 1])
    b.ptr(fb)
    with pytest.raises(CoreError):
        types_are_compat(a.spec(), fa, b.spec(), fb)
    with pytest.raises(CoreError):
        types_match(a.spec(), fa, b.spec(), fb)
    # an array of itself: libbpf's fields_are_compat would never return
    a, b = pair()
    arr_a = a.array(a.next_id, 1)
    arr_b = b.array(b.next_id, 1)
    with pytest.raises(CoreError):
        fields_are_compat(a.spec(), arr_a, b.spec(), arr_b)


def test_diamond_graphs_take_linear_time():
    """2^30 paths through prototypes / structs: libbpf would walk them all."""
    def protos(b: BTFBuilder) -> int:
        t = b.func_proto(b.int("int", 4), [])
        for _ in range(30):
            p = b.ptr(t)
            t = b.func_proto(0, [p, p])
        return t

    def structs(b: BTFBuilder) -> int:
        t = b.struct("leaf", 4, [("x", b.int("int", 4), 0)])
        for i in range(30):
            t = b.struct(f"n{i}", 8, [("", t, 0), ("", t, 32)])
        return t

    for build in (protos, structs):
        a, b = pair()
        ta, tb = build(a), build(b)
        la, lb = a.spec(), b.spec()
        start = time.perf_counter()
        if build is protos:
            assert types_are_compat(la, ta, lb, tb).ok
        with pytest.raises(CoreError):  # 30 nested levels + the int: level budget holds
            types_match(la, ta, lb, tb, level=30)
        assert types_match(la, ta, lb, tb).ok
        assert time.perf_counter() - start < 2.0


def test_fields_are_compat():
    a, b = pair()
    ai = a.int("int", 4, SIGNED)
    bi = b.int("short", 2, SIGNED)
    bi_off = b.int("int", 4, bits=3, offset=1)
    sa = a.struct("x", 4, [])
    ub = b.union("y", 4, [])
    ea = a.enum("e___a", 4, [("A", 1)])
    eb = b.enum64("e___b", 8, [("B", 1)])
    ec = b.enum("other", 4, [("C", 1)])
    ean = b.enum("", 4, [("D", 1)])
    fa = a.float("float", 4)
    fb = b.float("double", 8)
    arr_a = a.array(ai, 2)
    arr_b = b.array(bi, 7)
    arr_s = b.array(ub, 2)
    pa = a.ptr(ai)
    pb = b.ptr(ub)
    fwa = a.fwd("f")
    fwb = b.fwd("f___x", union=True)
    fpa = a.func_proto(ai, [])
    fpb = b.func_proto(bi, [])
    la, lb = a.spec(), b.spec()
    assert fields_are_compat(la, ai, lb, bi).ok
    assert not fields_are_compat(la, ai, lb, bi_off).ok
    assert fields_are_compat(la, sa, lb, ub).ok  # struct ~ union
    assert fields_are_compat(la, ea, lb, eb).ok  # flavors stripped
    assert not fields_are_compat(la, ea, lb, ec).ok
    assert fields_are_compat(la, ea, lb, ean).ok  # anonymous matches any
    assert fields_are_compat(la, fa, lb, fb).ok  # FLOAT: any size
    assert fields_are_compat(la, arr_a, lb, arr_b).ok
    assert not fields_are_compat(la, arr_a, lb, arr_s).ok
    assert not fields_are_compat(la, ai, lb, arr_b).ok
    assert fields_are_compat(la, pa, lb, pb).ok  # pointee ignored
    assert fields_are_compat(la, fwa, lb, fwb).ok  # names only, not the kind flag
    assert not fields_are_compat(la, fpa, lb, fpb).ok  # never a field type
    assert not fields_are_compat(la, ai, lb, ub).ok


def _match(build_a, build_b, **kw):  # type: ignore[no-untyped-def]
    a, b = pair()
    ta, tb = build_a(a), build_b(b)
    return types_match(a.spec(), ta, b.spec(), tb, **kw)


def test_types_match_ints_and_names():
    assert _match(lambda b: b.int("int", 4, SIGNED), lambda b: b.int("int", 4, SIGNED)).ok
    assert not _match(lambda b: b.int("int", 4, SIGNED),
                      lambda b: b.int("unsigned int", 4)).ok  # name first
    assert not _match(lambda b: b.int("int", 4, SIGNED), lambda b: b.int("int", 4)).ok
    assert not _match(lambda b: b.int("int", 4, SIGNED), lambda b: b.int("int", 8, SIGNED)).ok
    assert _match(lambda b: b.typedef("t___x", b.int("int", 4)),
                  lambda b: b.typedef("t", b.const(b.int("int", 4)))).ok


def test_types_match_enums():
    def e(name, vals, size=4, k64=False):  # type: ignore[no-untyped-def]
        return lambda b: (b.enum64 if k64 else b.enum)(name, size, vals)

    assert _match(e("e", [("A", 1)]), e("e", [("B", 9), ("A___x", 5)])).ok  # values ignored
    assert not _match(e("e", [("A", 1), ("C", 2)]), e("e", [("A", 1)])).ok  # more locally
    assert not _match(e("e", [("A", 1)]), e("e", [("Z", 1)])).ok
    assert not _match(e("e", [("A", 1)]), e("e", [("A", 1)], size=8)).ok
    assert _match(e("e", [("A", 1)], size=8), e("e", [("A", 1)], size=8, k64=True)).ok
    assert not _match(e("e", [("A", 1)]), lambda b: b.int("e", 4)).ok


def test_types_match_composites():
    def local(b):  # type: ignore[no-untyped-def]
        i = b.int("int", 4, SIGNED)
        anon = b.union("", 4, [("u", i, 0)])
        return b.struct("s", 12, [("a", i, 0), ("", anon, 32), ("p", b.ptr(b.fwd("q")), 64)])

    def target_ok(b):  # type: ignore[no-untyped-def]
        i = b.int("int", 4, SIGNED)
        q = b.struct("q", 4, [])
        anon = b.union("", 4, [("u", i, 0)])
        return b.struct("s", 24, [("p", b.ptr(q), 0), ("x", i, 64), ("", anon, 96),
                                  ("a", i, 128)])

    def target_bad(b):  # type: ignore[no-untyped-def]
        i = b.int("int", 4, SIGNED)
        u = b.int("unsigned int", 4)
        anon = b.union("", 4, [("u", u, 0)])
        return b.struct("s", 24, [("a", i, 0), ("", anon, 32), ("p", b.ptr(b.fwd("q")), 64)])

    assert _match(local, target_ok).ok  # order and offsets ignored; fwd behind ptr ~ struct
    v = _match(local, target_bad)
    assert not v.ok and "anonymous member" in (v.reason or "")
    # not behind a pointer, struct vs fwd never matches; behind one, union fwd for union
    assert not _match(lambda b: b.struct("q", 4, []), lambda b: b.fwd("q")).ok
    assert _match(lambda b: b.ptr(b.union("q", 4, [])), lambda b: b.ptr(b.fwd("q", True))).ok
    assert not _match(lambda b: b.ptr(b.union("q", 4, [])), lambda b: b.ptr(b.fwd("q"))).ok
    assert not _match(lambda b: b.fwd("q"), lambda b: b.struct("q", 4, [])).ok


def test_types_match_arrays_protos_float():
    assert not _match(lambda b: b.array(b.int("int", 4), 3),
                      lambda b: b.array(b.int("int", 4), 4)).ok
    assert _match(lambda b: b.func_proto(b.int("int", 4), [b.ptr(b.int("char", 1))]),
                  lambda b: b.func_proto(b.int("int", 4), [b.ptr(b.int("char", 1))])).ok
    assert not _match(lambda b: b.func_proto(0, [b.int("int", 4)]),
                      lambda b: b.func_proto(0, [b.int("long", 8)])).ok
    warnings: list[str] = []
    a, b = pair()
    fa, fb = a.float("float", 4), b.float("float", 4)
    assert not types_match(a.spec(), fa, b.spec(), fb, warnings=warnings).ok
    assert warnings == [f"unexpected kind float relocated, local [{fa}], target [{fb}]"]


def test_types_match_level_limit():
    def nest(b: BTFBuilder, n: int) -> int:
        t = b.struct(f"n{n}", 4, [("leaf", b.int("int", 4), 0)])
        for i in reversed(range(n)):
            t = b.struct(f"n{i}", 4, [("n", t, 0)])
        return t

    # every member check costs a level, 32 in all: n0 .. n30 plus the int leaf fit
    a, b = pair()
    ta, tb = nest(a, 30), nest(b, 30)
    assert types_match(a.spec(), ta, b.spec(), tb).ok
    a, b = pair()
    ta, tb = nest(a, 31), nest(b, 31)
    with pytest.raises(CoreError):
        types_match(a.spec(), ta, b.spec(), tb)


def test_specs_are_independent_of_each_other():
    # compat functions only read the two Specs they are given
    a, b = pair()
    ta = a.int("int", 4)
    tb = b.int("int", 4)
    la: Spec = a.spec()
    lb: Spec = b.spec()
    assert types_are_compat(la, ta, lb, tb).ok and types_match(la, ta, lb, tb).ok
