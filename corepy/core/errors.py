"""Errors of the calculation layer.

libbpf reports every CO-RE failure as a negative errno plus (sometimes) a warning line. The
calculation keeps both: :class:`CoreError` travels inside the layer and carries the errno
and the warning text; the driver turns it into :class:`CoreRelocationError`, a
:class:`corepy.errors.RelocationError` that also keeps the errno and libbpf-style log lines,
so a differential test can compare them with libbpf's own.
"""

from __future__ import annotations

from corepy.errors import RelocationError

EINVAL = 22
E2BIG = 7
EOPNOTSUPP = 95


class CoreError(Exception):
    """A libbpf error code (positive ``errno``) with the warning line libbpf would print."""

    def __init__(self, errno: int, warning: str | None = None, detail: str | None = None) -> None:
        self.errno = errno
        #: The line libbpf prints for this error (without the "libbpf: " prefix), if any.
        self.warning = warning
        #: Extra explanation for people, when libbpf prints nothing useful.
        self.detail = detail
        super().__init__(warning or detail or f"error -{errno}")


class CoreRelocationError(RelocationError):
    """libbpf would fail this relocation; ``errno`` is libbpf's (positive) code."""

    def __init__(
        self,
        message: str,
        *,
        errno: int,
        log: list[str] | None = None,
        section: str | None = None,
        index: int | None = None,
        insn_off: int | None = None,
        spec: str | None = None,
    ) -> None:
        super().__init__(message, section=section, index=index, insn_off=insn_off, spec=spec)
        self.errno = errno
        #: libbpf-style log lines (debug and warning) up to and including the failure.
        self.log = log if log is not None else []
