"""Short C-like names of BTF types, for the reasons people read ("int", "struct foo *").

Only used to explain decisions, never to make them. Depth is bounded, so cyclic BTF
prints as ``...`` instead of recursing.
"""

from __future__ import annotations

from btf.errors import BTFError
from btf.kinds import Kind
from btf.spec import Spec

_MAX_DEPTH = 8

_QUAL: dict[int, str] = {Kind.CONST: "const", Kind.VOLATILE: "volatile", Kind.RESTRICT: "restrict"}


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
    if k == Kind.UNKN:
        return "void"
    if k in (Kind.INT, Kind.FLOAT, Kind.TYPEDEF):
        return name or f"<anon {'typedef' if k == Kind.TYPEDEF else 'int'}>"
    if k in (Kind.STRUCT, Kind.UNION):
        return f"{'struct' if k == Kind.STRUCT else 'union'} {name or '<anon>'}"
    if k in (Kind.ENUM, Kind.ENUM64):
        return f"enum {name or '<anon>'}"
    if k == Kind.FWD:
        return f"{'union' if t.kind_flag else 'struct'} {name or '<anon>'} (declaration only)"
    if k in _QUAL:
        return f"{_QUAL[k]} {describe(spec, t.size_type, depth + 1)}"
    if k == Kind.TYPE_TAG:
        return describe(spec, t.size_type, depth + 1)
    if k == Kind.PTR:
        inner = spec.kind(t.size_type) if _valid(spec, t.size_type) else -1
        if inner == Kind.FUNC_PROTO:
            return "function pointer"
        return f"{describe(spec, t.size_type, depth + 1)} *"
    if k == Kind.ARRAY:
        return f"{describe(spec, t.elem_type, depth + 1)}[{t.nelems}]"
    if k == Kind.FUNC_PROTO:
        return "function prototype"
    if k == Kind.FUNC:
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
        Kind.UNKN: "void", Kind.INT: "an integer", Kind.PTR: "a pointer", Kind.ARRAY: "an array",
        Kind.STRUCT: "a struct", Kind.UNION: "a union", Kind.ENUM: "an enum",
        Kind.ENUM64: "an enum", Kind.FWD: "a forward declaration",
        Kind.FUNC_PROTO: "a function prototype", Kind.FLOAT: "a floating-point type",
    }
    return words.get(k, f"kind {k}")
