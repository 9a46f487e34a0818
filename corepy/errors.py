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

    ``reason`` is the message as given: libbpf's line, which names the relocation the way
    libbpf does (``prog 'p': relo #3: ...``), plus any explanation. ``spec`` is libbpf's spec
    string of the local access, ``section``/``index``/``insn_off`` locate the record in
    ``.BTF.ext`` (``index`` restarts per section, as in libbpf's ``relo #N``). ``log`` holds
    the lines libbpf logs for this relocation up to and including its failure (without
    ``libbpf: ``), when the raiser knows them.

    ``str()`` is one line: the reason, then what it does not already say of the location,
    e.g. ``prog 'p': relo #3: field offset ambiguity: 32 != 0 (...); sec 'raw_tp/x',
    insn_off 200`` (``relo #N`` is added only when the reason lacks it).
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
        where = []
        if section is not None:
            where.append(f"sec '{section}'")
        if index is not None and f"relo #{index}:" not in message:
            where.append(f"relo #{index}")
        if insn_off is not None:
            where.append(f"insn_off {insn_off}")
        super().__init__(f"{message}; {', '.join(where)}" if where else message)
