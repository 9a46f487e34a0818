"""Random and hostile BTF: the calculator answers, or raises one of its documented errors.

Type graphs are random (cycles, self references, zero sizes, odd kinds), names come from a
small pool so local roots have candidates, and relocations use random kinds and access
strings. Whatever happens must be a ReloResult, a CoreRelocationError or a BTFError, and
quickly: never a hang, a RecursionError, an IndexError or the like.
"""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from btf.errors import BTFError
from corepy.core import CoreCalculator, CoreRelocationError, TargetBTF
from corepy.relo import CoreRelo

from .btfbuild import BTFBuilder

NAMES = ["", "a", "b", "s", "s___v1", "s___v2", "e", "t", "x___y"]

type_spec = st.tuples(
    st.sampled_from(["int", "ptr", "array", "struct", "union", "enum", "enum64", "fwd",
                     "typedef", "const", "proto", "float"]),
    st.sampled_from(NAMES),
    st.integers(0, 12),  # reference (type id) or size seed
    st.lists(st.tuples(st.sampled_from(NAMES), st.integers(0, 12), st.integers(0, 96),
                       st.integers(0, 8)), max_size=4),
)


def build(types: list[tuple[str, str, int, list[tuple[str, int, int, int]]]]) -> BTFBuilder:
    b = BTFBuilder()
    n = len(types)

    def ref(x: int) -> int:
        return x % (n + 1)

    for kind, name, r, members in types:
        if kind == "int":
            b.int(name or "int", [1, 2, 4, 8, 0, 3][r % 6], enc=r % 3, offset=r % 2)
        elif kind == "ptr":
            b.ptr(ref(r))
        elif kind == "array":
            b.array(ref(r), [0, 1, 2, 5][r % 4])
        elif kind in ("struct", "union"):
            ms = [(mn, ref(mt), off, bits) for mn, mt, off, bits in members]
            (b.struct if kind == "struct" else b.union)(name, r * 4, ms)  # type: ignore[arg-type]
        elif kind == "enum":
            vals = [(mn or "E", off - 40) for mn, _t, off, _b in members]
            b.enum(name, [4, 8, 1, 0][r % 4], vals, signed=bool(r & 1))
        elif kind == "enum64":
            b.enum64(name, 8, [(mn or "F", off << 40) for mn, _t, off, _b in members])
        elif kind == "fwd":
            b.fwd(name, union=bool(r & 1))
        elif kind == "typedef":
            b.typedef(name or "t", ref(r))
        elif kind == "const":
            b.const(ref(r))
        elif kind == "proto":
            b.func_proto(ref(r), [ref(mt) for _n, mt, _o, _b in members])
        else:
            b.float(name or "float", [4, 8, 0][r % 3])
    return b


relo_spec = st.tuples(
    st.integers(0, 14),  # root type id (taken modulo the local type count + 1)
    st.integers(0, 13),  # kind (13: invalid)
    st.tuples(st.sampled_from([0, 0, 0, 1]), st.lists(st.integers(0, 4), max_size=4)).map(
        lambda t: ":".join(map(str, [t[0], *t[1]]))),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(type_spec, min_size=1, max_size=12), st.lists(type_spec, min_size=1,
       max_size=12), st.lists(relo_spec, min_size=1, max_size=6))
def test_random_btf_never_crashes(local_types, target_types, relos):
    try:
        local = build(local_types).spec(ptr_size=8)
        target = build(target_types).spec(ptr_size=8)
    except BTFError:
        return
    calc = CoreCalculator(local, TargetBTF("vmlinux", target))
    start = time.perf_counter()
    for i, (tid, kind, access) in enumerate(relos):
        tid %= local.type_count + 1  # now and then one past the end
        relo = CoreRelo(".text", i, 8 * i, tid, "0" if kind in (6, 7, 8, 9, 12) and i % 2
                        else access, kind)
        try:
            calc.calc(relo, "p")
        except (CoreRelocationError, BTFError):
            pass
    assert time.perf_counter() - start < 5.0
