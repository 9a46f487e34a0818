"""The public :class:`ReloKind` enum, kept out of start-up (see :mod:`corepy.relo`)."""

from __future__ import annotations

from enum import IntEnum

from .relo import KIND_SHORT, TYPE_KINDS


class ReloKind(IntEnum):
    """A CO-RE relocation kind (libbpf's ``enum bpf_core_relo_kind``)."""

    FIELD_BYTE_OFFSET = 0
    FIELD_BYTE_SIZE = 1
    FIELD_EXISTS = 2
    FIELD_SIGNED = 3
    FIELD_LSHIFT_U64 = 4
    FIELD_RSHIFT_U64 = 5
    TYPE_ID_LOCAL = 6
    TYPE_ID_TARGET = 7
    TYPE_EXISTS = 8
    TYPE_SIZE = 9
    ENUMVAL_EXISTS = 10
    ENUMVAL_VALUE = 11
    TYPE_MATCHES = 12

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
