"""Small BTF helpers with libbpf's exact semantics (sizes, kind names, enum values).

``btf.spec.Spec`` has general-purpose versions of some of these; the calculation needs
libbpf's error codes (``-EINVAL`` vs ``-E2BIG``) and a pointer size chosen by the caller
(libbpf forces 8 for the object's own BTF), so they are restated here.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from btf.kinds import SIZE_FOLLOW_KINDS, SIZED_KINDS, KindNum
from btf.spec import Spec
from btf.types import Type

from .errors import E2BIG, EINVAL, CoreError

#: libbpf's ``btf_kind_str`` spelling of each kind (used in every CO-RE log line).
KIND_STR: dict[int, str] = {
    0: "void",
    1: "int",
    2: "ptr",
    3: "array",
    4: "struct",
    5: "union",
    6: "enum",
    7: "fwd",
    8: "typedef",
    9: "volatile",
    10: "const",
    11: "restrict",
    12: "func",
    13: "func_proto",
    14: "var",
    15: "datasec",
    16: "float",
    17: "decl_tag",
    18: "type_tag",
    19: "enum64",
}

ENUM_KINDS = frozenset({KindNum.ENUM, KindNum.ENUM64})
COMPOSITE_KINDS = frozenset({KindNum.STRUCT, KindNum.UNION})
#: libbpf's MAX_RESOLVE_DEPTH.
MAX_RESOLVE_DEPTH = 32
U32 = 0xFFFFFFFF
U64 = 0xFFFFFFFFFFFFFFFF


#: Per Spec: type id -> id after modifiers and typedefs (``skip_mods_and_typedefs``).
_RESOLVED: WeakKeyDictionary[Spec, dict[int, int]] = WeakKeyDictionary()


def resolve_cache(spec: Spec) -> dict[int, int]:
    """The memo of :func:`resolve` for ``spec`` (fetch once, then use :func:`resolve`)."""
    d = _RESOLVED.get(spec)
    if d is None:
        d = _RESOLVED[spec] = {}
    return d


def resolve(spec: Spec, cache: dict[int, int], type_id: int) -> int:
    """``spec.skip_mods_and_typedefs(type_id)``, memoised in ``cache``."""
    r = cache.get(type_id)
    if r is None:
        r = cache[type_id] = spec.skip_mods_and_typedefs(type_id)
    return r


def kind_str(kind: int) -> str:
    return KIND_STR.get(kind, "unknown")


def type_label(spec: Spec, type_id: int) -> str:
    """``"<kind> <name>"`` as libbpf prints a type (``<anon>`` for no name)."""
    return f"{kind_str(spec.kind(type_id))} {spec.name(type_id) or '<anon>'}"


def kinds_core_compat(k1: int, k2: int) -> bool:
    """libbpf ``btf_kind_core_compat``: same kind, or ENUM/ENUM64 in any mix."""
    return k1 == k2 or (k1 in ENUM_KINDS and k2 in ENUM_KINDS)


def resolve_size(spec: Spec, type_id: int, ptr_size: int) -> int:
    """libbpf ``btf__resolve_size`` with an explicit pointer size.

    Raises :class:`CoreError` with libbpf's code: E2BIG when the size overflows 32 bits,
    EINVAL for unsized kinds (void, FWD, FUNC, FUNC_PROTO) and chains deeper than 32.
    """
    nelems = 1
    size = -1
    tid = type_id
    for _ in range(MAX_RESOLVE_DEPTH):
        if tid == 0:
            break
        t = spec.type(tid)
        k = t.kind
        if k in SIZED_KINDS:
            size = t.size_type
            break
        if k == KindNum.PTR:
            size = ptr_size
            break
        if k in SIZE_FOLLOW_KINDS:
            tid = t.size_type
            continue
        if k == KindNum.ARRAY:
            if nelems and t.nelems > U32 // nelems:
                raise CoreError(E2BIG, detail=f"size of type [{type_id}] overflows 32 bits")
            nelems *= t.nelems
            tid = t.elem_type
            continue
        raise CoreError(EINVAL, detail=f"type [{type_id}] has no size ({kind_str(k)})")
    if size < 0:
        raise CoreError(EINVAL, detail=f"type [{type_id}] has no size")
    if nelems and size > U32 // nelems:
        raise CoreError(E2BIG, detail=f"size of type [{type_id}] overflows 32 bits")
    return nelems * size


def enum_value_u64(t: Type, idx: int) -> int:
    """Enumerator ``idx`` of ENUM/ENUM64 ``t`` as libbpf's u64 (ENUM values sign-extended)."""
    v = t.values[idx].value
    if t.kind == KindNum.ENUM:
        v &= U32
        if v & 0x80000000:
            v |= 0xFFFFFFFF00000000
        return v
    return v & U64
