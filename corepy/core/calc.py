"""The CO-RE calculation driver: one :class:`CoreCalculator` per object relocation pass.

It follows libbpf's ``bpf_core_resolve_relo`` / ``bpf_core_calc_relo_insn`` step by step:

1. the local root id must exist (else EINVAL);
2. candidates are searched once per local root id and cached (not for TYPE_ID_LOCAL); an
   anonymous root fails here;
3. the access string is parsed into the local spec;
4. TYPE_ID_LOCAL returns the local id at once;
5. every cached candidate is matched in order; each match computes values; all matches
   must agree on the bit offset ("field offset ambiguity") and on poison/new value
   ("relocation decision ambiguity");
6. the cache entry is pruned to the matching candidates (left alone if none matched);
7. with no match the values are computed for "no target": 0 for existence and type-based
   kinds, poison for the other field kinds and ENUMVAL_VALUE.

Results carry every candidate's verdict, a sentence for people when the value is poison or
0 for lack of a target, and libbpf-style log lines (``ReloResult.log``) for comparison with
libbpf's debug log.
"""

from __future__ import annotations

from btf.names import essential_name
from btf.spec import Spec
from corepy._record import Frozen
from corepy.relo import CandidateVerdict, CoreRelo, ReloResult

from ..relo import FIELD_KINDS, TYPE_ID_LOCAL
from .access import CoreSpec, format_spec, parse_spec, relo_kind_str, truncate_spec
from .btfutil import kind_str
from .candidates import Candidate, TargetBTF, candidate_log_line, search_btf
from .describe import describe
from .errors import EINVAL, EOPNOTSUPP, CoreError, CoreRelocationError
from .match import local_path, match_candidate
from .values import calc_relo

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Sequence

    from .candidates import Modules

__all__ = ["Candidate", "CoreCalculator", "CoreOptions", "TargetBTF"]

#: What the program gets when nothing matched, per kind (ends the reason sentence).
_POISONED = "so the instruction is poisoned: "
_CONSEQUENCE: dict[int, str] = {
    0: _POISONED + "guard the access with bpf_core_field_exists()",
    1: _POISONED + "guard the access with bpf_core_field_exists()",
    2: "so bpf_core_field_exists() is 0",
    3: _POISONED + "guard the access with bpf_core_field_exists()",
    4: _POISONED + "guard the access with bpf_core_field_exists()",
    5: _POISONED + "guard the access with bpf_core_field_exists()",
    7: "so bpf_core_type_id_kernel() is 0",
    8: "so bpf_core_type_exists() is 0",
    9: "so bpf_core_type_size() is 0: check bpf_core_type_exists() first",
    10: "so bpf_core_enum_value_exists() is 0",
    11: _POISONED + "check bpf_core_enum_value_exists() before using the value",
    12: "so bpf_core_type_matches() is 0",
}


class CoreOptions(Frozen):
    """Switches for reproducing older libbpf releases exactly.

    ``legacy_array_mem_size``: libbpf before the February 2025 fix (this includes 1.1.x)
    remembered the *whole* size of an array-typed access for load/store size adjustment,
    so a direct load from an array member whose dimension changed is poisoned; newer
    libbpf remembers the element size.
    """

    _fields = ("legacy_array_mem_size",)
    legacy_array_mem_size: bool

    def __init__(self, legacy_array_mem_size: bool = False) -> None:
        object.__setattr__(self, "legacy_array_mem_size", legacy_array_mem_size)


class CoreCalculator:
    """Calculates CO-RE relocations of one object against one target (plus modules).

    ``local`` is the object's BTF (sizes use 8-byte pointers whatever its ``ptr_size``, as
    libbpf forces for BPF objects). ``modules`` are searched only for a root type vmlinux
    has no candidate for; a callable is called (once) only then.
    """

    def __init__(
        self,
        local: Spec,
        vmlinux: TargetBTF,
        modules: Modules = (),
        *,
        options: CoreOptions | None = None,
    ) -> None:
        self.local = local
        self.vmlinux = vmlinux
        self._modules_src: Modules = modules
        self._modules: list[TargetBTF] | None = None
        self.options = options or CoreOptions()
        self.big_endian = local.byteorder == "big"
        #: Candidate cache per local root type id (pruned after each resolved relocation).
        self._cands: dict[int, list[Candidate]] = {}
        #: Candidates removed from a root's list by pruning, for explanations.
        self._pruned: dict[int, list[Candidate]] = {}
        self._searched: dict[int, str] = {}

    # ------------------------------------------------------------------ candidates
    @property
    def modules(self) -> list[TargetBTF]:
        """Module BTFs (loads them if given as a callable)."""
        if self._modules is None:
            src = self._modules_src
            mods: Sequence[TargetBTF] = src() if callable(src) else src
            self._modules = list(mods)
        return self._modules

    def _find(self, local_id: int, local_kind: int, local_name: str,
              log: list[str]) -> list[Candidate]:
        cands = search_btf(self.vmlinux, local_kind, local_name)
        where = self.vmlinux.name
        # libbpf names the main target "vmlinux" in its log whatever file it came from.
        log.extend(candidate_log_line(local_id, local_kind, local_name, c, "vmlinux")
                   for c in cands)
        if not cands:
            mods = self.modules
            for mod in mods:
                found = search_btf(mod, local_kind, local_name, own_only=True)
                log.extend(candidate_log_line(local_id, local_kind, local_name, c, mod.name)
                           for c in found)
                cands.extend(found)
            if mods:
                where = f"{self.vmlinux.name} or any of {len(mods)} module BTFs"
        self._searched[local_id] = where
        return cands

    def candidates(self, local_id: int) -> list[Candidate] | None:
        """The cached (possibly pruned) candidate list of a root type id, None if not cached."""
        c = self._cands.get(local_id)
        return list(c) if c is not None else None

    # ------------------------------------------------------------------ main entry
    def calc(self, relo: CoreRelo, prog_name: str) -> ReloResult:
        """Calculate ``relo`` (found in program ``prog_name``).

        Raises :class:`~corepy.core.errors.CoreRelocationError` (a ``RelocationError``)
        where libbpf fails the relocation, and ``btf.errors.BTFError`` for BTF that libbpf
        would not have accepted in the first place (bad type references, cycles).
        """
        local = self.local
        kind = relo.kind
        kshort = relo_kind_str(kind)
        pfx = f"prog '{prog_name}': relo #{relo.index}: "
        insn_idx = relo.insn_off // 8
        tid = relo.type_id
        log: list[str] = []

        def fail(errno: int, line: str | None, detail: str | None = None,
                 spec: str | None = None) -> CoreRelocationError:
            """The error libbpf reports: its own line (if any), then "failed to relocate"."""
            if line is not None:
                log.append(line)
            log.append(f"{pfx}failed to relocate: -{errno}")
            msg = line if line is not None else f"{pfx}failed to relocate: -{errno}"
            if detail:
                msg += f" ({detail})"
            if spec:
                msg += f"; relocation: {spec}"
            return CoreRelocationError(msg, errno=errno, log=log, section=relo.section,
                                       index=relo.index, insn_off=relo.insn_off, spec=spec)

        if not 0 <= tid < local.type_count:
            raise fail(EINVAL, None, f"local type id {tid} is out of range "
                                     f"(the object's BTF has ids 0..{local.type_count - 1})")
        local_kind = local.kind(tid)
        local_name = local.name(tid)
        cands: list[Candidate] = []
        if kind != TYPE_ID_LOCAL:
            cached = self._cands.get(tid)
            if cached is None:
                if not local_name:
                    raise fail(
                        EINVAL,
                        f"{pfx}target candidate search failed for [{tid}] "
                        f"{kind_str(local_kind)} {local_name}: -{EINVAL}",
                        "CO-RE needs a named root type; anonymous types only work with "
                        "bpf_core_type_id_local()",
                    )
                cached = self._find(tid, local_kind, local_name, log)
                self._cands[tid] = cached
            cands = cached

        try:
            lspec = parse_spec(local, tid, relo.access, kind, prog_name, ptr_size=8)
        except CoreError as exc:
            if exc.warning:
                log.append(exc.warning)
            raise fail(
                EINVAL,
                f"{pfx}parsing [{tid}] {kind_str(local_kind)} {local_name or '<anon>'} + "
                f"{relo.access} failed: -{exc.errno}",
                exc.detail,
            ) from None
        local_str = format_spec(lspec)
        with_kind = f"<{kshort}> {local_str}"
        log.append(pfx + truncate_spec(with_kind))

        if kind == TYPE_ID_LOCAL:
            return ReloResult(relo, local_str, orig_val=tid, new_val=tid, validate=False,
                              log=log)
        if not local_name:  # unreachable: the candidate search refused it already
            raise fail(EOPNOTSUPP, f"{pfx}<{kshort}> ({kind}) relocation doesn't support "
                                   "anonymous types", spec=with_kind)

        opts = self.options
        verdicts: list[CandidateVerdict] = []
        kept: list[Candidate] = []
        best = None
        best_spec: CoreSpec | None = None
        best_cand: Candidate | None = None
        best_str: str | None = None
        for i, cand in enumerate(cands):
            tspec = cand.target.spec
            warns: list[str] = []
            m = match_candidate(lspec, tspec, cand.type_id, ptr_size=tspec.ptr_size,
                                warnings=warns)
            log.extend(warns)
            cstr = format_spec(m.spec)
            if m.status < 0:
                errno = -m.status
                raise fail(errno, f"{pfx}error matching candidate #{i} "
                                  f"{truncate_spec(f'<{kshort}> {cstr}')}: -{errno}",
                           m.reason, with_kind)
            matched = m.status > 0
            log.append(f"{pfx}{'matching' if matched else 'non-matching'} candidate #{i} "
                       f"{truncate_spec(f'<{kshort}> {cstr}')}")
            verdicts.append(CandidateVerdict(cand.target.name, cand.type_id, cstr, matched,
                                             None if matched else m.reason))
            if not matched:
                continue
            try:
                vals = calc_relo(kind, lspec, m.spec, prog_name=prog_name,
                                 relo_idx=relo.index, insn_idx=insn_idx, local_ptr_size=8,
                                 targ_ptr_size=tspec.ptr_size, big_endian=self.big_endian,
                                 legacy_mem_size=opts.legacy_array_mem_size)
            except CoreError as exc:
                raise fail(exc.errno, exc.warning, exc.detail, with_kind) from None
            if best is None:
                best, best_spec, best_cand, best_str = vals, m.spec, cand, cstr
            else:
                assert best_spec is not None and best_cand is not None
                if m.spec.bit_offset != best_spec.bit_offset:
                    raise fail(EINVAL, f"{pfx}field offset ambiguity: {m.spec.bit_offset} != "
                                       f"{best_spec.bit_offset}",
                               f"candidates [{best_cand.type_id}] and [{cand.type_id}] put the "
                               "field at different offsets", with_kind)
                if vals.poison != best.poison or vals.new_val != best.new_val:
                    raise fail(
                        EINVAL,
                        f"{pfx}relocation decision ambiguity: "
                        f"{'failure' if vals.poison else 'success'} {vals.new_val} != "
                        f"{'failure' if best.poison else 'success'} {best.new_val}",
                        f"candidates [{best_cand.type_id}] and [{cand.type_id}] give "
                        "different values", with_kind)
            kept.append(cand)

        if kept:
            if len(kept) != len(cands):
                gone = [c for c in cands if c not in kept]
                self._pruned.setdefault(tid, []).extend(gone)
            self._cands[tid] = kept
        reason: str | None = None
        if best is None:
            log.append(f"{pfx}no matching targets found")
            try:
                best = calc_relo(kind, lspec, None, prog_name=prog_name, relo_idx=relo.index,
                                 insn_idx=insn_idx, local_ptr_size=8, targ_ptr_size=8,
                                 big_endian=self.big_endian,
                                 legacy_mem_size=opts.legacy_array_mem_size)
            except CoreError as exc:
                raise fail(exc.errno, exc.warning, exc.detail, with_kind) from None
            reason = self._reason(kind, tid, local_kind, local_name, lspec, verdicts)
        res = ReloResult(
            relo, local_str,
            orig_val=best.orig_val, new_val=best.new_val, poison=best.poison,
            validate=best.validate, fail_memsz_adjust=best.fail_memsz_adjust,
            orig_sz=best.orig_sz, orig_type_id=best.orig_type_id,
            new_sz=best.new_sz, new_type_id=best.new_type_id,
            target_spec=best_str,
            candidates=verdicts, reason=reason, log=log,
        )
        if best_cand is not None:
            res.target_btf = best_cand.target.name
        return res

    # ------------------------------------------------------------------ explanations
    def _reason(self, kind: int, tid: int, local_kind: int, local_name: str,
                lspec: CoreSpec, verdicts: list[CandidateVerdict]) -> str:
        """One sentence: what is missing on this kernel, and what the program gets."""
        then = _CONSEQUENCE.get(kind, "")
        if not verdicts:
            where = self._searched.get(tid, self.vmlinux.name)
            what = describe(self.local, tid)
            ess = essential_name(local_name)
            why = (f"{what} does not exist on this kernel (no {kind_str(local_kind)} named "
                   f"'{ess}' in {where})")
            if kind in FIELD_KINDS:
                why += f" to resolve '{local_path(lspec, len(lspec.acc))}'"
            return f"{why}, {then}"
        first = next((v.reason for v in verdicts if v.reason), None) or "no candidate matched"
        if first.startswith("field '"):
            first = first.replace(" not found in ", " does not exist in ", 1)
        if kind == 12:
            first = f"{describe(self.local, tid)} does not match the target's definition ({first})"
        extra = ""
        if len(verdicts) > 1:
            extra = f" (none of {len(verdicts)} candidates matched)"
        pruned = self._pruned.get(tid)
        if pruned:
            extra += (f" (candidates {', '.join(f'[{c.type_id}]' for c in pruned)} were ruled "
                      f"out by an earlier relocation of the same type, as libbpf does)")
        return f"{first} on this kernel{extra}, {then}"
