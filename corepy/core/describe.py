"""Short C-like names of BTF types, for the reasons people read ("int", "struct foo *").

Only used to explain decisions, never to make them. Depth is bounded, so cyclic BTF
prints as ``...`` instead of recursing.
"""

from __future__ import annotations

from btf.errors import BTFError
from btf.kinds import KindNum
from btf.spec import Spec

_MAX_DEPTH = 8

_QUAL: dict[int, str] = {KindNum.CONST: "const", KindNum.VOLATILE: "volatile",
                         KindNum.RESTRICT: "restrict"}


def describe(spec: Spec, type_id: int, depth: int = 0) -> str:
    """``type_id`` as a short C type name, e.g. ``unsigned int``, ``struct foo *``, ``char[3]``."""
    if depth > _MAX_DEPTH:
        return "..."
    try:
        t = spec.type(type_id)
    except BTFError:
        return f"<bad type [{type_id}]>"
    k = t.kind
    name = t.name
    if k == KindNum.UNKN:
        return "void"
    if k in (KindNum.INT, KindNum.FLOAT, KindNum.TYPEDEF):
        return name or f"<anon {'typedef' if k == KindNum.TYPEDEF else 'int'}>"
    if k in (KindNum.STRUCT, KindNum.UNION):
        return f"{'struct' if k == KindNum.STRUCT else 'union'} {name or '<anon>'}"
    if k in (KindNum.ENUM, KindNum.ENUM64):
        return f"enum {name or '<anon>'}"
    if k == KindNum.FWD:
        return f"{'union' if t.kind_flag else 'struct'} {name or '<anon>'} (declaration only)"
    if k in _QUAL:
        return f"{_QUAL[k]} {describe(spec, t.size_type, depth + 1)}"
    if k == KindNum.TYPE_TAG:
        return describe(spec, t.size_type, depth + 1)
    if k == KindNum.PTR:
        inner = spec.kind(t.size_type) if _valid(spec, t.size_type) else -1
        if inner == KindNum.FUNC_PROTO:
            return "function pointer"
        return f"{describe(spec, t.size_type, depth + 1)} *"
    if k == KindNum.ARRAY:
        return f"{describe(spec, t.elem_type, depth + 1)}[{t.nelems}]"
    if k == KindNum.FUNC_PROTO:
        return "function prototype"
    if k == KindNum.FUNC:
        return f"function {name}"
    return f"{t.kind_name.lower()} {name}".rstrip()


def _valid(spec: Spec, type_id: int) -> bool:
    return 0 <= type_id < spec.type_count


def kind_word(spec: Spec, type_id: int) -> str:
    """The kind of ``type_id`` after typedefs/modifiers, as a word ("an int", "a struct")."""
    try:
        k = spec.kind(spec.skip_mods_and_typedefs(type_id))
    except BTFError:
        return "an invalid type"
    words: dict[int, str] = {
        KindNum.UNKN: "void", KindNum.INT: "an integer", KindNum.PTR: "a pointer",
        KindNum.ARRAY: "an array",
        KindNum.STRUCT: "a struct", KindNum.UNION: "a union", KindNum.ENUM: "an enum",
        KindNum.ENUM64: "an enum", KindNum.FWD: "a forward declaration",
        KindNum.FUNC_PROTO: "a function prototype", KindNum.FLOAT: "a floating-point type",
    }
    return words.get(k, f"kind {k}")
