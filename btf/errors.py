"""Errors raised while reading BTF.

Every problem with input data raises a subclass of :class:`BTFError`. The message
always names where the problem is (file, byte offset or type id) and which rule was
broken, so a command line can print ``str(err)`` as its single line of output.
"""

from __future__ import annotations


class BTFError(Exception):
    """Base class of every error raised by the :mod:`btf` package."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


class BTFFormatError(BTFError):
    """The bytes are not well-formed BTF (bad magic, truncated, overlapping sections, ...)."""


class BTFExtFormatError(BTFFormatError):
    """A ``.BTF.ext`` section is malformed."""


class BTFTypeError(BTFError):
    """A type id is out of range, or a type refers to something it must not."""


class BTFReferenceCycleError(BTFTypeError):
    """Following type references loops (typedef -> typedef -> ...) or runs too deep."""


class BTFNotFoundError(BTFError):
    """The input holds no BTF (e.g. an ELF file without a ``.BTF`` section)."""


class BTFSourceError(BTFError):
    """A container (ELF, compressed image, Debian package) cannot be opened or is too large."""
