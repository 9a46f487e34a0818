"""The corepy exception hierarchy.

Everything corepy raises for bad input or an unresolvable relocation is a
:class:`CorepyError`; problems inside BTF data surface as :class:`btf.errors.BTFError`
(the btf package knows nothing of corepy). The CLI maps them to exit codes:
:class:`RelocationError` -> 1, every other :class:`CorepyError` and ``BTFError`` -> 2.
"""

from __future__ import annotations


class CorepyError(Exception):
    """Base class of corepy's own errors."""


class ObjectFormatError(CorepyError):
    """The BPF object (ELF, sections, instructions, .BTF.ext records) is malformed."""


class TargetError(CorepyError):
    """The target BTF cannot be found or used."""


class RelocationError(CorepyError):
    """libbpf would fail this relocation (ambiguity, bitfield too wide, bad instruction, ...).

    ``spec`` is libbpf's spec string of the local access, ``section``/``index`` locate the
    record in ``.BTF.ext`` (``index`` restarts per section, as in libbpf's ``relo #N``).
    ``log`` holds the lines libbpf logs for this relocation up to and including its failure
    (without ``libbpf: ``), when the raiser knows them.
    """

    def __init__(
        self,
        message: str,
        *,
        section: str | None = None,
        index: int | None = None,
        insn_off: int | None = None,
        spec: str | None = None,
        log: list[str] | None = None,
    ) -> None:
        self.section = section
        self.index = index
        self.insn_off = insn_off
        self.spec = spec
        self.reason = message
        self.log: list[str] = [] if log is None else log
        where = ""
        if section is not None:
            where = f"sec '{section}' relo #{index}"
            if insn_off is not None:
                where += f" (insn_off {insn_off})"
            where += ": "
        super().__init__(where + message)
