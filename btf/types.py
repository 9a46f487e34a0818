"""Decoded BTF types.

One :class:`Type` class serves every kind: the 12-byte header fields are always set,
kind-specific data lives in attributes that are empty/zero for other kinds. A single
class keeps callers free of ``isinstance`` ladders and keeps decoding cheap (slots, no
per-kind dispatch on attribute access).

The classes are written out by hand rather than with ``dataclasses``: importing
``dataclasses`` pulls in ``inspect`` (~7 ms of start-up on every CLI run). They behave
like ``@dataclass(slots=True)`` classes: keyword or positional construction, field-wise
``==`` and ``repr``, mutable, unhashable.
"""

from __future__ import annotations

from .kinds import INT_BOOL, INT_CHAR, INT_SIGNED, SIZED_KINDS, KindNum, kind_name


class _Record:
    """Field-wise ``__eq__``/``__repr__`` over ``__slots__`` (what a dataclass would give)."""

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value
    _repr_fields: tuple[str, ...] = ()

    def _astuple(self) -> tuple[object, ...]:
        names: tuple[str, ...] = self.__slots__
        return tuple(getattr(self, f) for f in names)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Record) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._astuple() == other._astuple()

    def __repr__(self) -> str:
        fields: tuple[str, ...] = self._repr_fields or self.__slots__
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in fields)
        return f"{self.__class__.__name__}({inner})"


class Member(_Record):
    """A struct/union member. ``bit_offset`` is from the start of the composite.

    ``bitfield_size`` is the bitfield width; 0 when the member is not a bitfield (or the
    struct's kind_flag is 0). ``raw_offset`` is the ``offset`` word as stored (packed
    bitfield size and offset when kind_flag=1).
    """

    __slots__ = ("name", "name_off", "type", "bit_offset", "bitfield_size", "raw_offset")

    def __init__(
        self,
        name: str,
        name_off: int,
        type: int,
        bit_offset: int,
        bitfield_size: int = 0,
        raw_offset: int = 0,
    ) -> None:
        self.name = name
        self.name_off = name_off
        self.type = type
        self.bit_offset = bit_offset
        self.bitfield_size = bitfield_size
        self.raw_offset = raw_offset


class EnumValue(_Record):
    """An enumerator. ``value`` is the stored s32 (ENUM) or the u64 ``hi<<32|lo`` (ENUM64)."""

    __slots__ = ("name", "name_off", "value")

    def __init__(self, name: str, name_off: int, value: int) -> None:
        self.name = name
        self.name_off = name_off
        self.value = value


class Param(_Record):
    """A FUNC_PROTO parameter; a trailing ``Param('', 0, 0)`` means varargs."""

    __slots__ = ("name", "name_off", "type")

    def __init__(self, name: str, name_off: int, type: int) -> None:
        self.name = name
        self.name_off = name_off
        self.type = type


class VarSecInfo(_Record):
    """A DATASEC entry: a VAR or FUNC placed at ``offset`` with ``size`` bytes."""

    __slots__ = ("type", "offset", "size")

    def __init__(self, type: int, offset: int, size: int) -> None:
        self.type = type
        self.offset = offset
        self.size = size


_TYPE_FIELDS = (
    "id", "kind", "name", "name_off", "info", "size_type", "offset", "encoding",
    "bits_offset", "bits", "elem_type", "index_type", "nelems", "members", "values",
    "params", "secinfos", "linkage", "component_idx", "extra",
)


class Type(_Record):
    """One decoded BTF type.

    ``size_type`` is the raw third header word: a byte size for sized kinds, a type id
    otherwise; :attr:`size` and :attr:`ref` read it with the right meaning. ``offset`` is
    the byte offset of this type's header inside its blob's type section.

    Kind-specific attributes: INT ``encoding``/``bits_offset``/``bits``; ARRAY
    ``elem_type``/``index_type``/``nelems``; STRUCT/UNION ``members``; ENUM/ENUM64
    ``values``; FUNC_PROTO ``params``; DATASEC ``secinfos``; VAR ``linkage`` (FUNC linkage
    is ``vlen``); DECL_TAG ``component_idx``; ``extra`` holds the raw trailing bytes of a
    kind described only by a layout section.
    """

    __slots__ = _TYPE_FIELDS
    _repr_fields = _TYPE_FIELDS[:-1]

    def __init__(
        self,
        id: int,
        kind: int,
        name: str,
        name_off: int,
        info: int,
        size_type: int,
        offset: int = 0,
        encoding: int = 0,
        bits_offset: int = 0,
        bits: int = 0,
        elem_type: int = 0,
        index_type: int = 0,
        nelems: int = 0,
        members: tuple[Member, ...] = (),
        values: tuple[EnumValue, ...] = (),
        params: tuple[Param, ...] = (),
        secinfos: tuple[VarSecInfo, ...] = (),
        linkage: int = 0,
        component_idx: int = -1,
        extra: bytes = b"",
    ) -> None:
        self.id = id
        self.kind = kind
        self.name = name
        self.name_off = name_off
        self.info = info
        self.size_type = size_type
        self.offset = offset
        self.encoding = encoding
        self.bits_offset = bits_offset
        self.bits = bits
        self.elem_type = elem_type
        self.index_type = index_type
        self.nelems = nelems
        self.members = members
        self.values = values
        self.params = params
        self.secinfos = secinfos
        self.linkage = linkage
        self.component_idx = component_idx
        self.extra = extra

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
        return self.kind == KindNum.INT and bool(self.encoding & INT_SIGNED)

    @property
    def is_char(self) -> bool:
        return self.kind == KindNum.INT and bool(self.encoding & INT_CHAR)

    @property
    def is_bool(self) -> bool:
        return self.kind == KindNum.INT and bool(self.encoding & INT_BOOL)

    @property
    def is_composite(self) -> bool:
        return self.kind in (KindNum.STRUCT, KindNum.UNION)

    @property
    def is_enum(self) -> bool:
        return self.kind in (KindNum.ENUM, KindNum.ENUM64)

    @property
    def is_fwd_union(self) -> bool:
        """For FWD: True when it forward-declares a union (kind_flag 1), else a struct."""
        return self.kind == KindNum.FWD and self.kind_flag

    @property
    def is_varargs(self) -> bool:
        """For FUNC_PROTO: True when the last parameter is the ``...`` marker."""
        return bool(self.params) and self.params[-1].name_off == 0 and self.params[-1].type == 0


#: The implicit type 0.
VOID = Type(id=0, kind=KindNum.UNKN, name="", name_off=0, info=0, size_type=0)
