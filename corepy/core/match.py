"""Matching a local spec against one target candidate (libbpf ``bpf_core_spec_match``).

The target spec is built with the same mutable steps libbpf uses, including its quirks,
because the partial spec of a *non-matching* candidate is printed in libbpf's log and in
our verdicts:

* a named member whose type turns out incompatible pops its accessor but leaves its raw
  index and bit offset in place;
* an unmatched enum candidate prints enumerator #0.

Besides libbpf's answer every non-match gets a reason a person can read.
"""

from __future__ import annotations

from collections import namedtuple
from weakref import WeakKeyDictionary

from btf.kinds import KindNum
from btf.names import essential_name
from btf.spec import Spec
from btf.types import Member

from ..relo import ENUMVAL_KINDS, TYPE_KINDS
from .access import (
    SPEC_MAX_LEN,
    Accessor,
    CoreSpec,
    is_flex_arr,
)
from .btfutil import COMPOSITE_KINDS, ENUM_KINDS, U32, resolve, resolve_cache, resolve_size
from .compat import fields_are_compat, types_are_compat, types_match
from .describe import describe
from .errors import E2BIG, EINVAL, CoreError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from typing import NamedTuple

    class MatchOutcome(NamedTuple):
        """``status`` is libbpf's: 1 match, 0 no match, negative errno for a hard error."""

        status: int
        spec: CoreSpec
        reason: str | None = None
        error: CoreError | None = None
else:
    # the same class typing.NamedTuple would build, without importing typing
    MatchOutcome = namedtuple("MatchOutcome", "status spec reason error", defaults=(None, None))
    MatchOutcome.__doc__ = (
        "``status`` is libbpf's: 1 match, 0 no match, negative errno for a hard error."
    )


def local_path(spec: CoreSpec, upto: int) -> str:
    """The C-like path of the first ``upto`` local accessors, e.g. ``task_struct.mm``."""
    btf = spec.btf
    parts = [btf.name(spec.root_type_id) or "<anon>"]
    for i, a in enumerate(spec.acc[:upto]):
        if a.name is not None:
            parts.append(f".{a.name}")
        elif i > 0 or a.idx > 0:
            parts.append(f"[{a.idx}]")
    return "".join(parts)


#: Per target Spec: composite id -> (first index of each member name, anonymous indices).
_MEMBER_INDEX: WeakKeyDictionary[Spec, dict[int, tuple[dict[str, int], list[int]]]] = (
    WeakKeyDictionary()
)


def _member_index(btf: Spec, tid: int,
                  members: tuple[Member, ...]) -> tuple[dict[str, int], list[int]]:
    per = _MEMBER_INDEX.get(btf)
    if per is None:
        per = _MEMBER_INDEX[btf] = {}
    idx = per.get(tid)
    if idx is None:
        names: dict[str, int] = {}
        anon: list[int] = []
        for i, m in enumerate(members):
            if m.name:
                names.setdefault(m.name, i)
            else:
                anon.append(i)
        idx = per[tid] = (names, anon)
    return idx


class _FieldMatcher:
    def __init__(self, local: CoreSpec, targ: CoreSpec, ptr_size: int) -> None:
        self.local = local
        self.targ = targ
        self.tbtf = targ.btf
        self.rc = resolve_cache(targ.btf)
        self.ptr_size = ptr_size
        self.next_tid = 0
        self.name_hits = 0
        self.reason: str | None = None
        #: (composite id, raw length on entry) searched without meeting the name at all.
        self.clean_miss: set[tuple[int, int]] = set()

    def member(self, lacc: Accessor, targ_id: int, lname: str, lmember_type: int) -> int:
        """libbpf ``bpf_core_match_member``: 1 found, 0 not, negative errno.

        libbpf walks every member in order. Only anonymous members (searched recursively)
        and the first member named ``lname`` can change the outcome, so those are visited,
        in the same order, with the same effects on the spec; the others only add and
        remove their offset again. Should an incompatible same-named member deep inside
        leave its raw index behind (libbpf does not undo it), the rest of the walk
        continues member by member exactly as libbpf's would.
        """
        tbtf, spec = self.tbtf, self.targ
        tid = resolve(tbtf, self.rc, targ_id)
        t = tbtf.type(tid)
        if t.kind not in COMPOSITE_KINDS:
            return 0
        members = t.members
        if not members:
            return 0
        raw = spec.raw
        if len(raw) == SPEC_MAX_LEN:
            self.reason = (f"member '{lname}' is nested more than {SPEC_MAX_LEN} levels "
                           "deep in the target")
            return -E2BIG
        key = (tid, len(raw))
        if key in self.clean_miss:
            return 0
        names, anon = _member_index(tbtf, tid, members)
        direct = names.get(lname)
        order = anon if direct is None else [i for i in anon if i < direct] + [direct]
        hits = self.name_hits
        for i in order:
            res = self._step(tid, i, lacc, lname, lmember_type)
            if res is not None:
                return res
            if self.name_hits != hits:
                for j in range(i + 1, len(members)):
                    res = self._step(tid, j, lacc, lname, lmember_type)
                    if res is not None:
                        return res
                return 0
        self.clean_miss.add(key)
        return 0

    def _step(self, tid: int, i: int, lacc: Accessor, lname: str,
              lmember_type: int) -> int | None:
        """One iteration of libbpf's member loop; None means "go on with the next"."""
        tbtf, spec = self.tbtf, self.targ
        raw = spec.raw
        m = tbtf.type(tid).members[i]
        if len(raw) == SPEC_MAX_LEN:
            self.reason = (f"member '{lname}' is nested more than {SPEC_MAX_LEN} levels "
                           "deep in the target")
            return -E2BIG
        spec.bit_offset = (spec.bit_offset + m.bit_offset) & U32
        raw.append(i)
        if not m.name:
            found = self.member(lacc, m.type, lname, lmember_type)
            if found:
                return found
        elif m.name == lname:
            self.name_hits += 1
            spec.acc.append(Accessor(tid, i, m.name))
            self.next_tid = m.type
            try:
                v = fields_are_compat(self.local.btf, lmember_type, tbtf, m.type)
            except CoreError as exc:
                self.reason = exc.detail
                return -exc.errno
            if v.ok:
                return 1
            spec.acc.pop()
            self.reason = (f"field '{lname}' is {describe(self.local.btf, lmember_type)} "
                           f"in the object but {describe(tbtf, m.type)} in the target")
            return 0
        spec.bit_offset = (spec.bit_offset - m.bit_offset) & U32
        raw.pop()
        return None

    def run(self) -> int:
        local, spec, tbtf = self.local, self.targ, self.tbtf
        tid = spec.root_type_id
        rc = self.rc
        for i, lacc in enumerate(local.acc):
            tid = resolve(tbtf, rc, tid)
            if lacc.name is not None:
                lmember = local.btf.type(lacc.type_id).members[lacc.idx]
                found = self.member(lacc, tid, lacc.name, lmember.type)
                if found <= 0:
                    if found == 0 and self.reason is None:
                        self.reason = self._not_found(i, lacc.name, tid)
                    return found
                tid = self.next_tid
                continue
            if i > 0:
                t = tbtf.type(tid)
                where = local_path(local, i)
                if t.kind != KindNum.ARRAY:
                    self.reason = (f"'{where}' is {describe(tbtf, tid)} in the target, "
                                   "not an array")
                    return 0
                if not is_flex_arr(tbtf, spec.acc[i - 1], t.nelems) and lacc.idx >= t.nelems:
                    self.reason = (f"index {lacc.idx} out of bounds for array of {t.nelems} "
                                   f"('{where}' in the target)")
                    return 0
                tid = resolve(tbtf, rc, t.elem_type)
            if len(spec.raw) == SPEC_MAX_LEN:
                self.reason = f"access nested more than {SPEC_MAX_LEN} levels deep in the target"
                return -E2BIG
            spec.acc.append(Accessor(tid, lacc.idx))
            spec.raw.append(lacc.idx)
            try:
                sz = resolve_size(tbtf, tid, self.ptr_size)
            except CoreError as exc:
                self.reason = exc.detail
                return -exc.errno
            spec.bit_offset = (spec.bit_offset + lacc.idx * sz * 8) & U32
        return 1

    def _not_found(self, i: int, name: str, tid: int) -> str:
        t = self.tbtf.type(tid)
        where = f" (at '{local_path(self.local, i)}')" if i > 1 else ""
        if t.kind not in COMPOSITE_KINDS:
            return (f"'{local_path(self.local, i)}' is {describe(self.tbtf, tid)} in the "
                    f"target, not a struct or union, so it has no field '{name}'")
        return f"field '{name}' not found in {describe(self.tbtf, tid)}{where}"


def _match_enum(local: CoreSpec, spec: CoreSpec) -> tuple[int, str | None]:
    tbtf = spec.btf
    tid = tbtf.skip_mods_and_typedefs(spec.root_type_id)
    t = tbtf.type(tid)
    lname = local.acc[0].name or ""
    if t.kind not in ENUM_KINDS:
        return 0, f"{describe(tbtf, spec.root_type_id)} is {describe(tbtf, tid)} in the " \
                  "target, not an enum"
    ess = essential_name(lname)
    for i, e in enumerate(t.values):
        if essential_name(e.name) == ess:
            spec.acc.append(Accessor(tid, i, e.name))
            spec.raw.append(i)
            return 1, None
    return 0, f"enumerator '{lname}' not found in {describe(tbtf, tid)}"


def match_candidate(
    local: CoreSpec,
    targ_btf: Spec,
    targ_id: int,
    *,
    ptr_size: int | None = None,
    warnings: list[str] | None = None,
) -> MatchOutcome:
    """Match ``local`` against candidate ``targ_id`` of ``targ_btf``.

    ``ptr_size`` defaults to the target's (libbpf's rule for target BTF). libbpf's warning
    lines ("unexpected kind ...") are appended to ``warnings``.
    """
    kind = local.kind
    spec = CoreSpec(targ_btf, targ_id, kind)
    if kind in TYPE_KINDS:
        try:
            if kind == 12:
                v = types_match(local.btf, local.root_type_id, targ_btf, targ_id,
                                warnings=warnings)
            else:
                v = types_are_compat(local.btf, local.root_type_id, targ_btf, targ_id,
                                     warnings=warnings)
        except CoreError as exc:
            return MatchOutcome(-exc.errno, spec, exc.detail, exc)
        return MatchOutcome(1 if v.ok else 0, spec, v.reason)
    if kind in ENUMVAL_KINDS:
        status, reason = _match_enum(local, spec)
        return MatchOutcome(status, spec, reason)
    if not local.acc:
        return MatchOutcome(-EINVAL, spec, "not a field relocation")
    fm = _FieldMatcher(local, spec, targ_btf.ptr_size if ptr_size is None else ptr_size)
    status = fm.run()
    err = CoreError(-status, detail=fm.reason) if status < 0 else None
    return MatchOutcome(status, spec, fm.reason if status != 1 else None, err)
