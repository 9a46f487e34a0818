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
from .kinds import KindNum
from .names import essential_name
from .spec import Spec
from .types import EnumValue, Member, Param, Type, VarSecInfo

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from ._kind_enum import Kind


def __getattr__(name: str) -> object:
    """``btf.Kind``, the IntEnum, imported on first use (see :mod:`btf.kinds`)."""
    if name == "Kind":
        from ._kind_enum import Kind

        return Kind
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "KindNum",
    "Member",
    "Param",
    "Spec",
    "Type",
    "VarSecInfo",
    "essential_name",
]
