"""The public :class:`Kind` enum, kept out of start-up (see :mod:`btf.kinds`)."""

from __future__ import annotations

from enum import IntEnum

from .kinds import KindNum


class Kind(IntEnum):
    """The kind of a BTF type, bits 24-30 of its ``info`` word."""

    UNKN = KindNum.UNKN
    INT = KindNum.INT
    PTR = KindNum.PTR
    ARRAY = KindNum.ARRAY
    STRUCT = KindNum.STRUCT
    UNION = KindNum.UNION
    ENUM = KindNum.ENUM
    FWD = KindNum.FWD
    TYPEDEF = KindNum.TYPEDEF
    VOLATILE = KindNum.VOLATILE
    CONST = KindNum.CONST
    RESTRICT = KindNum.RESTRICT
    FUNC = KindNum.FUNC
    FUNC_PROTO = KindNum.FUNC_PROTO
    VAR = KindNum.VAR
    DATASEC = KindNum.DATASEC
    FLOAT = KindNum.FLOAT
    DECL_TAG = KindNum.DECL_TAG
    TYPE_TAG = KindNum.TYPE_TAG
    ENUM64 = KindNum.ENUM64
