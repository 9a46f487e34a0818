"""corepy: BPF CO-RE relocation in Python, offline or as a library.

Importing this package is cheap: the engine, pyelftools and construct load on first use.
``corepy.relocate`` and the names below are resolved lazily (PEP 562).
"""

from __future__ import annotations

__version__ = "0.1.0"

# A plain constant instead of typing.TYPE_CHECKING: importing typing costs ~14 ms at
# start-up, more than indexing a BPF object. mypy treats this name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .api import Fixup, Relocation, relocate
    from .errors import CorepyError, ObjectFormatError, RelocationError, TargetError

_LAZY = {
    "relocate": "api",
    "Relocation": "api",
    "Fixup": "api",
    "CorepyError": "errors",
    "ObjectFormatError": "errors",
    "RelocationError": "errors",
    "TargetError": "errors",
}

__all__ = [
    "CorepyError",
    "Fixup",
    "ObjectFormatError",
    "Relocation",
    "RelocationError",
    "TargetError",
    "__version__",
    "relocate",
]


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'corepy' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{mod}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
