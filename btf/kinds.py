"""BTF kind numbers and the bit layout of the ``info`` word (UAPI ``linux/btf.h``).

The library compares kinds as plain ints (:class:`KindNum`). The public :class:`Kind` (an
``IntEnum`` with the same names and numbers) is built on first use: importing :mod:`enum`
costs ~5 ms of a one-shot command's start-up, and nothing on the command paths needs it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from ._kind_enum import Kind  # noqa: F401 - the lazily imported public name


class KindNum:
    """Kind numbers as plain ints (what :class:`Kind` holds, without :mod:`enum`)."""

    UNKN = 0
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19


def __getattr__(name: str) -> object:
    """``btf.kinds.Kind``: the IntEnum, imported on first use."""
    if name == "Kind":
        from ._kind_enum import Kind

        return Kind
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Highest kind number this package decodes itself; others need a layout section.
MAX_KNOWN_KIND = 19

# info word: vlen bits 0-23 (24-bit since 2026, compatible with the old 16-bit field),
# kind bits 24-30 (7-bit), kind_flag bit 31.
VLEN_MASK = 0xFFFFFF
KIND_SHIFT = 24
KIND_MASK = 0x7F
KIND_FLAG_SHIFT = 31

# INT encoding word
INT_SIGNED = 1 << 0
INT_CHAR = 1 << 1
INT_BOOL = 1 << 2

#: Kinds whose third header word is a byte size (the others hold a type id).
SIZED_KINDS = frozenset(
    {KindNum.INT, KindNum.STRUCT, KindNum.UNION, KindNum.ENUM, KindNum.DATASEC, KindNum.FLOAT,
     KindNum.ENUM64}
)

#: Kinds that CO-RE skips when resolving a type (modifiers; TYPE_TAG behaves like one).
MODIFIER_KINDS = frozenset({KindNum.VOLATILE, KindNum.CONST, KindNum.RESTRICT, KindNum.TYPE_TAG})

#: Kinds whose size is that of the type in their third header word (libbpf's
#: ``btf__resolve_size`` follows them): typedefs, modifiers, VAR and DECL_TAG.
SIZE_FOLLOW_KINDS = frozenset(
    {KindNum.TYPEDEF, KindNum.VOLATILE, KindNum.CONST, KindNum.RESTRICT, KindNum.VAR,
     KindNum.DECL_TAG, KindNum.TYPE_TAG}
)

#: Kinds that reference another type through the third header word.
REF_KINDS = frozenset(
    {
        KindNum.PTR,
        KindNum.TYPEDEF,
        KindNum.VOLATILE,
        KindNum.CONST,
        KindNum.RESTRICT,
        KindNum.FUNC,
        KindNum.FUNC_PROTO,
        KindNum.VAR,
        KindNum.DECL_TAG,
        KindNum.TYPE_TAG,
    }
)

#: bpftool's spelling of each kind (``bpftool btf dump`` raw format).
KIND_NAMES: dict[int, str] = {
    0: "UNKNOWN",
    1: "INT",
    2: "PTR",
    3: "ARRAY",
    4: "STRUCT",
    5: "UNION",
    6: "ENUM",
    7: "FWD",
    8: "TYPEDEF",
    9: "VOLATILE",
    10: "CONST",
    11: "RESTRICT",
    12: "FUNC",
    13: "FUNC_PROTO",
    14: "VAR",
    15: "DATASEC",
    16: "FLOAT",
    17: "DECL_TAG",
    18: "TYPE_TAG",
    19: "ENUM64",
}


def kind_name(kind: int) -> str:
    """bpftool's name of ``kind``; unknown kinds print as ``UNKNOWN``."""
    return KIND_NAMES.get(kind, "UNKNOWN")
