"""Read BTF (BPF Type Format) wherever it lives, lazily and in both byte orders.

This package knows nothing of CO-RE. Entry points:

* :class:`Spec` parses one raw BTF blob (optionally split on a base);
* :func:`btf.sources.load` opens any file a user meets (raw, ELF, compressed, vmlinuz, .deb).
"""

from __future__ import annotations

from .errors import (
    BTFError,
    BTFExtFormatError,
    BTFFormatError,
    BTFNotFoundError,
    BTFReferenceCycleError,
    BTFSourceError,
    BTFTypeError,
)
from .kinds import Kind
from .names import essential_name
from .spec import Spec
from .types import EnumValue, Member, Param, Type, VarSecInfo

__all__ = [
    "BTFError",
    "BTFExtFormatError",
    "BTFFormatError",
    "BTFNotFoundError",
    "BTFReferenceCycleError",
    "BTFSourceError",
    "BTFTypeError",
    "EnumValue",
    "Kind",
    "Member",
    "Param",
    "Spec",
    "Type",
    "VarSecInfo",
    "essential_name",
]
