"""The public :class:`ReloKind` enum, kept out of start-up (see :mod:`corepy.relo`)."""

from __future__ import annotations

from enum import IntEnum

from . import relo
from .relo import KIND_SHORT, TYPE_KINDS


class ReloKind(IntEnum):
    """A CO-RE relocation kind (libbpf's ``enum bpf_core_relo_kind``)."""

    FIELD_BYTE_OFFSET = relo.FIELD_BYTE_OFFSET
    FIELD_BYTE_SIZE = relo.FIELD_BYTE_SIZE
    FIELD_EXISTS = relo.FIELD_EXISTS
    FIELD_SIGNED = relo.FIELD_SIGNED
    FIELD_LSHIFT_U64 = relo.FIELD_LSHIFT_U64
    FIELD_RSHIFT_U64 = relo.FIELD_RSHIFT_U64
    TYPE_ID_LOCAL = relo.TYPE_ID_LOCAL
    TYPE_ID_TARGET = relo.TYPE_ID_TARGET
    TYPE_EXISTS = relo.TYPE_EXISTS
    TYPE_SIZE = relo.TYPE_SIZE
    ENUMVAL_EXISTS = relo.ENUMVAL_EXISTS
    ENUMVAL_VALUE = relo.ENUMVAL_VALUE
    TYPE_MATCHES = relo.TYPE_MATCHES

    @property
    def short(self) -> str:
        """libbpf's short name, as printed in spec strings and logs."""
        return KIND_SHORT[self]

    @property
    def is_field(self) -> bool:
        return self <= ReloKind.FIELD_RSHIFT_U64

    @property
    def is_type(self) -> bool:
        return self in TYPE_KINDS

    @property
    def is_enumval(self) -> bool:
        return self in (ReloKind.ENUMVAL_EXISTS, ReloKind.ENUMVAL_VALUE)
