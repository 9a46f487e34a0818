"""The library entry point: ``corepy.relocate(obj, target)``.

One run mirrors libbpf's ``bpf_object__relocate_core``: the ``.BTF.ext`` CO-RE sections in
order, their records in order, one calculator (so one candidate cache, with libbpf's
pruning) for the whole object, each result applied to the instruction of the function that
contains it. By default the first relocation libbpf would refuse raises
:class:`~corepy.errors.RelocationError`, as libbpf stops the load there; with
``collect_errors=True`` every record is still processed and each failure is recorded in its
:class:`Fixup`, which is what ``corepy explain`` shows.
"""

from __future__ import annotations

import os

from ._record import Record
from .errors import CorepyError, RelocationError
from .insn import INSN_SIZE
from .objfile import BPFObject, CoreSite, Function
from .relo import CoreRelo, ReloResult

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from typing import Any, Literal, Protocol

    from btf.spec import Spec

    from .core.calc import CoreOptions
    from .targets import ModulesArg, Target

    Outcome = Literal["patched", "poisoned", "error", "skipped"]

    class Calculator(Protocol):
        """What the engine needs from the calculation layer (``CoreCalculator``)."""

        def calc(self, relo: CoreRelo, prog_name: str) -> ReloResult: ...


def __getattr__(name: str) -> object:
    # Typing-only names, built on demand: importing typing costs start-up time.
    if name in ("Calculator", "Outcome"):
        from typing import Literal, Protocol

        class Calculator(Protocol):
            """What the engine needs from the calculation layer (``CoreCalculator``)."""

            def calc(self, relo: CoreRelo, prog_name: str) -> ReloResult: ...

        Calculator.__module__ = __name__
        globals()["Calculator"] = Calculator
        globals()["Outcome"] = Literal["patched", "poisoned", "error", "skipped"]
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Fixup(Record):
    """The outcome of one CO-RE record: calculation, patch and final instruction bytes.

    ``program``: the function containing the instruction (libbpf's ``prog '...'``), None
    when skipped; ``insn_idx``: instruction index within ``program`` (libbpf's
    ``insn #N``), within the section when skipped; ``result``: the calculation's result,
    None when the calculation itself failed; ``before``/``after``: instruction bytes (16
    for ld_imm64) in the object's order; ``old_value``: value found in the instruction
    (imm / off / imm64) before patching; ``message``: why it was poisoned or skipped, for
    a person to act on, or libbpf's error line (``error.reason``; ``error_line`` adds the
    location); ``log``: libbpf's debug/warning lines for this relocation
    (without ``libbpf: ``): the calculation's, then the patch step's, up to the failure;
    ``error``: the exception when ``outcome == "error"`` (not compared, not in ``repr``).
    """

    _fields = ("relo", "program", "insn_idx", "outcome", "result", "before", "after",
               "old_value", "message", "log", "error")
    _hidden = ("error",)

    def __init__(
        self,
        relo: CoreRelo,
        program: str | None,
        insn_idx: int,
        outcome: Outcome,
        result: ReloResult | None = None,
        before: bytes = b"",
        after: bytes = b"",
        old_value: int | None = None,
        message: str | None = None,
        log: tuple[str, ...] = (),
        error: RelocationError | None = None,
    ) -> None:
        self.relo = relo
        self.program = program
        self.insn_idx = insn_idx
        self.outcome: Outcome = outcome
        self.result = result
        self.before = before
        self.after = after
        self.old_value = old_value
        self.message = message
        self.log = log
        self.error = error

    @property
    def insn(self) -> bytes:
        """Final instruction bytes (unchanged bytes when the relocation failed)."""
        return self.after or self.before

    @property
    def error_line(self) -> str:
        """The one-line error (the CLI's): ``str(error)``, libbpf's line and its location."""
        return str(self.error) if self.error is not None else self.message or ""


class Relocation(Record):
    """Everything one run produced; ``write``/``to_bytes`` give the relocated object.

    ``sections`` holds the patched bytes of every executable section, by section name.
    """

    _fields = ("object", "target", "fixups", "sections", "warnings")

    def __init__(self, object: BPFObject, target: Target | None, fixups: list[Fixup],
                 sections: dict[str, bytes], warnings: list[str] | None = None) -> None:
        self.object = object
        self.target = target
        self.fixups = fixups
        self.sections = sections
        self.warnings: list[str] = [] if warnings is None else warnings

    @property
    def ok(self) -> bool:
        """True when no relocation failed (poisoned instructions are allowed)."""
        return not self.errors

    @property
    def errors(self) -> list[Fixup]:
        return [f for f in self.fixups if f.outcome == "error"]

    @property
    def poisoned(self) -> list[Fixup]:
        return [f for f in self.fixups if f.outcome == "poisoned"]

    @property
    def programs(self) -> dict[str, bytes]:
        """Patched instructions of every function (programs and .text subprograms)."""
        return {f.name: self.function_code(f) for f in self.object.functions}

    def function_code(self, func: Function | str) -> bytes:
        if isinstance(func, str):
            found = next((f for f in self.object.functions if f.name == func), None)
            if found is None:
                raise KeyError(func)
            func = found
        return self.sections[func.section][func.start : func.end]

    def to_bytes(self, *, strict: bool = False) -> bytes:
        """The relocated object; raises :class:`RelocationError` if a relocation failed
        (or, with ``strict``, if one was poisoned)."""
        self._check(strict)
        from .writer import build_output

        changed = {
            name: data
            for name, data in self.sections.items()
            if data != self.object.section_data(name)
        }
        return build_output(self.object, changed)

    def write(self, path: str | os.PathLike[str], *, strict: bool = False) -> None:
        """Write the relocated object atomically; nothing is written if it cannot be built."""
        data = self.to_bytes(strict=strict)
        _refuse_overwriting_input(self.object.source, path)
        from .writer import write_atomic

        write_atomic(path, data)

    def report(self) -> dict[str, Any]:
        """The JSON-ready report (see docs/report-schema.md)."""
        from .report import build_report

        return build_report(self)

    def _check(self, strict: bool) -> None:
        errs = self.errors
        if errs:
            raise RelocationError(
                f"{len(errs)} CO-RE relocation(s) failed; first: {errs[0].error_line}")
        if strict and self.poisoned:
            p = self.poisoned[0]
            raise RelocationError(
                f"{len(self.poisoned)} instruction(s) poisoned (--strict); first: "
                f"prog '{p.program}' insn #{p.insn_idx}: {p.message}"
            )


def _refuse_overwriting_input(source: str, path: str | os.PathLike[str]) -> None:
    try:
        same = os.path.samefile(source, path)
    except OSError:
        return
    if same:
        raise CorepyError(f"{os.fspath(path)}: refusing to overwrite the input object")


def open_object(obj: str | os.PathLike[str] | bytes | bytearray | BPFObject) -> BPFObject:
    if isinstance(obj, BPFObject):
        return obj
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return BPFObject.from_bytes(bytes(obj))
    return BPFObject.open(obj)


def relocate(
    obj: str | os.PathLike[str] | bytes | BPFObject,
    target: str | os.PathLike[str] | Spec | None = None,
    *,
    modules: ModulesArg = None,
    collect_errors: bool = False,
    options: CoreOptions | None = None,
    target_cache: bool = True,
) -> Relocation:
    """Relocate ``obj``'s CO-RE records against ``target`` exactly as libbpf would.

    ``obj``: path or bytes of a clang BPF object. ``target``: any BTF file
    :func:`btf.sources.load` reads, an already opened :class:`btf.Spec`, or None for the
    running kernel (then module BTF from ``/sys/kernel/btf`` is searched too, lazily).
    ``modules``: a directory (or list) of module BTF / ``.ko`` files, split on the target.
    Raises :class:`RelocationError` at the first relocation libbpf would refuse, unless
    ``collect_errors``; bad input raises ``ObjectFormatError``/``TargetError``/``BTFError``.
    ``options``: :class:`corepy.core.calc.CoreOptions` to reproduce an older libbpf exactly.
    ``target_cache``: take a target given by path (or the running kernel) from the
    process-wide cache of indexed kernels when the file is unchanged
    (:func:`corepy.targets.resolve`), so repeated calls do not read and index it again.
    """
    from . import targets

    o = open_object(obj)
    tgt = targets.resolve(target, modules, cache=target_cache)
    calc: Calculator | None = None
    if o.sites:
        if o.btf is None:  # pragma: no cover - objfile refuses .BTF.ext without .BTF
            raise CorepyError(f"{o.source}: CO-RE records without .BTF")
        from .core.calc import CoreCalculator

        calc = CoreCalculator(o.btf, tgt.vmlinux, tgt.modules, options=options)
    return run(o, calc, tgt, collect_errors=collect_errors)


def run(
    obj: BPFObject,
    calc: Calculator | None,
    target: Target | None = None,
    *,
    collect_errors: bool = False,
) -> Relocation:
    """Apply ``calc`` to every CO-RE record of ``obj`` (the engine without target lookup)."""
    from .patcher import patch_insn

    sections = {s.name: bytearray(obj.elf.raw_data(s)) for s in obj.exec_sections}
    fixups: list[Fixup] = []
    for site in obj.sites:
        fix = _one(obj, calc, site, sections, patch_insn)
        fixups.append(fix)
        if fix.outcome == "error" and not collect_errors:
            assert fix.error is not None
            raise fix.error
    # shared with the target: module BTFs skipped later (lazy loading) still show up
    warnings = target.warnings if target is not None else []
    rel = Relocation(obj, target, fixups, {k: bytes(v) for k, v in sections.items()}, warnings)
    return rel


def _one(obj: BPFObject, calc: Calculator | None, site: CoreSite,
         sections: dict[str, bytearray], patch_insn: Any) -> Fixup:
    relo, func = site.relo, site.function
    sec = sections[relo.section]
    if func is None:
        return Fixup(
            relo, None, site.insn_idx, "skipped",
            before=bytes(sec[relo.insn_off : relo.insn_off + INSN_SIZE]),
            message=(
                f"skipped: insn #{site.insn_idx} of section '{relo.section}' belongs to no "
                "function (libbpf: eliminated weak subprogram), so libbpf ignores this record"
            ),
            log=(f"sec '{relo.section}': skipping CO-RE relocation #{relo.index} for insn "
                 f"#{site.insn_idx} belonging to eliminated weak subprogram",),
        )
    assert calc is not None
    pos = relo.insn_off
    before = bytes(sec[pos : pos + 16 if pos + 16 <= func.end else pos + 8])
    # The log is libbpf's for this relocation: the calculation's lines (candidate search,
    # spec, candidates; up to its failure), then the patch step's (up to its failure).
    try:
        res = calc.calc(relo, func.name)
    except RelocationError as exc:
        return Fixup(relo, func.name, site.insn_idx, "error", None, before,
                     message=exc.reason, log=tuple(exc.log), error=exc)
    code = bytearray(sec[func.start : func.end])
    try:
        patch = patch_insn(code, site.insn_idx, res, func.name, obj.byteorder)
    except RelocationError as exc:
        return Fixup(relo, func.name, site.insn_idx, "error", res, before,
                     message=exc.reason, log=(*res.log, *exc.log), error=exc)
    sec[func.start : func.end] = code
    message = None
    if patch.outcome == "poisoned":
        message = patch.reason or res.reason or _poison_message(res)
    return Fixup(relo, func.name, site.insn_idx, patch.outcome, res, patch.before, patch.after,
                 patch.old_value, message, (*res.log, *patch.log))


def _poison_message(res: ReloResult) -> str:
    spec = res.local_spec
    if res.relo.kind == 11:  # ENUMVAL_VALUE
        guard = "bpf_core_enum_value_exists()"
    else:
        guard = "bpf_core_field_exists()"
    return (
        f"nothing in the target matches {spec}: the instruction was replaced by a call to "
        f"the invalid helper 0xbad2310, so the verifier rejects the program if this code is "
        f"reachable; guard it with {guard} (or make the access match the target)"
    )


__all__ = ["Calculator", "Fixup", "Relocation", "open_object", "relocate", "run"]
