"""Decoded BTF types.

One :class:`Type` class serves every kind: the 12-byte header fields are always set,
kind-specific data lives in attributes that are empty/zero for other kinds. A single
class keeps callers free of ``isinstance`` ladders and keeps decoding cheap (slots, no
per-kind dispatch on attribute access).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .kinds import INT_BOOL, INT_CHAR, INT_SIGNED, SIZED_KINDS, Kind, kind_name


@dataclass(slots=True)
class Member:
    """A struct/union member. ``bit_offset`` is from the start of the composite."""

    name: str
    name_off: int
    type: int
    bit_offset: int
    #: Bitfield width; 0 when the member is not a bitfield (or the struct's kind_flag is 0).
    bitfield_size: int = 0
    #: The raw ``offset`` word as stored (packed bitfield size and offset when kind_flag=1).
    raw_offset: int = 0


@dataclass(slots=True)
class EnumValue:
    """An enumerator. ``value`` is the stored s32 (ENUM) or the u64 ``hi<<32|lo`` (ENUM64)."""

    name: str
    name_off: int
    value: int


@dataclass(slots=True)
class Param:
    """A FUNC_PROTO parameter; a trailing ``Param('', 0, 0)`` means varargs."""

    name: str
    name_off: int
    type: int


@dataclass(slots=True)
class VarSecInfo:
    """A DATASEC entry: a VAR or FUNC placed at ``offset`` with ``size`` bytes."""

    type: int
    offset: int
    size: int


@dataclass(slots=True)
class Type:
    """One decoded BTF type.

    ``size_type`` is the raw third header word: a byte size for sized kinds, a type id
    otherwise; :attr:`size` and :attr:`ref` read it with the right meaning.
    """

    id: int
    kind: int
    name: str
    name_off: int
    info: int
    size_type: int
    #: Byte offset of this type's header inside its blob's type section.
    offset: int = 0
    # INT
    encoding: int = 0
    bits_offset: int = 0
    bits: int = 0
    # ARRAY
    elem_type: int = 0
    index_type: int = 0
    nelems: int = 0
    # STRUCT / UNION
    members: tuple[Member, ...] = ()
    # ENUM / ENUM64
    values: tuple[EnumValue, ...] = ()
    # FUNC_PROTO
    params: tuple[Param, ...] = ()
    # DATASEC
    secinfos: tuple[VarSecInfo, ...] = ()
    # VAR linkage (FUNC linkage is vlen)
    linkage: int = 0
    # DECL_TAG
    component_idx: int = -1
    #: Raw trailing bytes for kinds described only by a layout section.
    extra: bytes = field(default=b"", repr=False)

    @property
    def vlen(self) -> int:
        return self.info & 0xFFFFFF

    @property
    def kind_flag(self) -> bool:
        return bool(self.info >> 31)

    @property
    def kind_name(self) -> str:
        return kind_name(self.kind)

    @property
    def size(self) -> int:
        """Byte size for sized kinds (INT, STRUCT, UNION, ENUM, ENUM64, DATASEC, FLOAT)."""
        return self.size_type if self.kind in SIZED_KINDS else 0

    @property
    def ref(self) -> int:
        """Referenced type id for PTR, TYPEDEF, modifiers, FUNC, FUNC_PROTO, VAR, tags."""
        return 0 if self.kind in SIZED_KINDS else self.size_type

    @property
    def is_signed_int(self) -> bool:
        return self.kind == Kind.INT and bool(self.encoding & INT_SIGNED)

    @property
    def is_char(self) -> bool:
        return self.kind == Kind.INT and bool(self.encoding & INT_CHAR)

    @property
    def is_bool(self) -> bool:
        return self.kind == Kind.INT and bool(self.encoding & INT_BOOL)

    @property
    def is_composite(self) -> bool:
        return self.kind in (Kind.STRUCT, Kind.UNION)

    @property
    def is_enum(self) -> bool:
        return self.kind in (Kind.ENUM, Kind.ENUM64)


#: The implicit type 0.
VOID = Type(id=0, kind=Kind.UNKN, name="", name_off=0, info=0, size_type=0)
