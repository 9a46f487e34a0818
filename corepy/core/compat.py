"""Type compatibility relations of CO-RE (libbpf's three, with their limits and quirks).

* :func:`types_are_compat` - type-based relocations (TYPE_EXISTS/SIZE/ID_TARGET): kinds
  must agree down through pointers, arrays and function prototypes; composites are never
  looked into. 32 loop steps per call and 32 levels of prototype recursion, else EINVAL.
* :func:`fields_are_compat` - the last step of matching a named member.
* :func:`types_match` - TYPE_MATCHES: structural, names and members recursively (except
  behind pointers). Same limits.

libbpf has no FLOAT case in the first and last relation: a float there is "unexpected"
(a warning, and not compatible). That quirk is kept, so our answers equal libbpf's.

Every function returns a :class:`Verdict` (``ok`` plus a reason when not ok) and raises
:class:`~corepy.core.errors.CoreError` where libbpf returns an error. libbpf's warning
lines are appended to ``warnings`` when given. Results are memoised per call, which keeps
hostile BTF (diamond-shaped prototype or member graphs) from taking exponential time; the
memo only ever replays what libbpf would compute again, so answers and warnings are
unchanged (replayed warnings are capped at :data:`MAX_WARNINGS`).
"""

from __future__ import annotations

from collections import namedtuple
from functools import lru_cache

from btf.kinds import INT_SIGNED, KindNum
from btf.names import essential_name
from btf.spec import Spec
from btf.types import Type

from .btfutil import (
    COMPOSITE_KINDS,
    ENUM_KINDS,
    kind_str,
    kinds_core_compat,
    resolve,
    resolve_cache,
)
from .describe import describe
from .errors import EINVAL, CoreError

#: libbpf's loop budget (``depth``) and recursion budget (``level``) of both relations.
MAX_DEPTH = 32
MAX_LEVEL = 32
#: fields_are_compat has no limit in libbpf (a cyclic array chain hangs it); ours.
FIELDS_MAX_STEPS = 1024
#: Cap on warning lines collected for one relation check.
MAX_WARNINGS = 64


TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from typing import NamedTuple

    class Verdict(NamedTuple):
        ok: bool
        reason: str | None = None
else:
    # the same class typing.NamedTuple would build, without importing typing
    Verdict = namedtuple("Verdict", "ok reason", defaults=(None,))


_OK = Verdict(True)


def _unexpected(local: Spec, lid: int, tid: int, warnings: list[str] | None) -> Verdict:
    lk = local.kind(lid)
    if warnings is not None and len(warnings) < MAX_WARNINGS:
        warnings.append(f"unexpected kind {kind_str(lk)} relocated, local [{lid}], target [{tid}]")
    return Verdict(False, f"libbpf cannot compare {kind_str(lk)} types here "
                          f"(it reports 'unexpected kind {kind_str(lk)}')")


def _depth_error(what: str) -> CoreError:
    return CoreError(EINVAL, detail=f"{what}: type chain deeper than {MAX_DEPTH} steps")


def _level_error(what: str) -> CoreError:
    return CoreError(EINVAL, detail=f"{what}: types nested deeper than {MAX_LEVEL} levels")


# ----------------------------------------------------------------------------- are_compat


class _AreCompat:
    def __init__(self, local: Spec, targ: Spec, warnings: list[str] | None) -> None:
        self.local = local
        self.targ = targ
        self.warnings = warnings
        self.lrc, self.trc = resolve_cache(local), resolve_cache(targ)
        # Only "compatible" results are memoised: a "no" or an error ends the whole check
        # at once in libbpf, so it is never computed twice.
        self.memo: set[tuple[int, int, int]] = set()

    def run(self, lid: int, tid: int, level: int) -> Verdict:
        key = (lid, tid, level)
        if key in self.memo:
            return _OK
        v = self._run(lid, tid, level)
        if v.ok:
            self.memo.add(key)
        return v

    def _run(self, lid: int, tid: int, level: int) -> Verdict:
        local, targ = self.local, self.targ
        lk, tk = local.kind(lid), targ.kind(tid)
        if not kinds_core_compat(lk, tk):
            return Verdict(False, f"{describe(local, lid)} is {kind_str(lk)} in the object "
                                  f"but {describe(targ, tid)} is {kind_str(tk)} in the target")
        depth = MAX_DEPTH
        while True:
            depth -= 1
            if depth < 0:
                raise _depth_error("type compatibility")
            lid = resolve(local, self.lrc, lid)
            tid = resolve(targ, self.trc, tid)
            lt, tt = local.type(lid), targ.type(tid)
            lk, tk = lt.kind, tt.kind
            if not kinds_core_compat(lk, tk):
                return Verdict(False, f"{describe(local, lid)} in the object vs "
                                      f"{describe(targ, tid)} in the target")
            if lk in (KindNum.UNKN, KindNum.STRUCT, KindNum.UNION, KindNum.ENUM, KindNum.FWD,
                      KindNum.ENUM64):
                return _OK
            if lk == KindNum.INT:
                if lt.bits_offset == 0 and tt.bits_offset == 0:
                    return _OK
                return Verdict(False, "integer with a non-zero bit offset (legacy bitfield "
                                      "encoding) is never compatible")
            if lk == KindNum.PTR:
                lid, tid = lt.size_type, tt.size_type
                continue
            if lk == KindNum.ARRAY:
                lid, tid = lt.elem_type, tt.elem_type
                continue
            if lk == KindNum.FUNC_PROTO:
                if lt.vlen != tt.vlen:
                    return Verdict(False, f"function prototypes take {lt.vlen} parameters in "
                                          f"the object but {tt.vlen} in the target")
                for i, (lp, tp) in enumerate(zip(lt.params, tt.params, strict=True)):
                    if level <= 0:
                        raise _level_error("type compatibility")
                    v = self.run(resolve(local, self.lrc, lp.type),
                                 resolve(targ, self.trc, tp.type), level - 1)
                    if not v.ok:
                        return Verdict(False, f"parameter #{i}: {v.reason}")
                lid = resolve(local, self.lrc, lt.size_type)
                tid = resolve(targ, self.trc, tt.size_type)
                continue
            return _unexpected(local, lid, tid, self.warnings)


def types_are_compat(
    local: Spec,
    local_id: int,
    targ: Spec,
    targ_id: int,
    *,
    level: int = MAX_LEVEL,
    warnings: list[str] | None = None,
) -> Verdict:
    """libbpf ``bpf_core_types_are_compat`` (root names are assumed already matched)."""
    return _AreCompat(local, targ, warnings).run(local_id, targ_id, level)


# ----------------------------------------------------------------------------- fields


def fields_are_compat(local: Spec, local_id: int, targ: Spec, targ_id: int) -> Verdict:
    """libbpf ``bpf_core_fields_are_compat``: may a member of this type stand for that one."""
    lid0, tid0 = local_id, targ_id
    lrc, trc = resolve_cache(local), resolve_cache(targ)
    for _ in range(FIELDS_MAX_STEPS):
        lid = resolve(local, lrc, local_id)
        tid = resolve(targ, trc, targ_id)
        lt, tt = local.type(lid), targ.type(tid)
        lk, tk = lt.kind, tt.kind
        if lk in COMPOSITE_KINDS and tk in COMPOSITE_KINDS:
            return _OK
        if not kinds_core_compat(lk, tk):
            return Verdict(False, f"{describe(local, lid0)} in the object but "
                                  f"{describe(targ, tid0)} in the target")
        if lk in (KindNum.PTR, KindNum.FLOAT):
            return _OK
        if lk in (KindNum.FWD, KindNum.ENUM, KindNum.ENUM64):
            ln, tn = essential_name(lt.name), essential_name(tt.name)
            if not ln or not tn or ln == tn:
                return _OK
            return Verdict(False, f"{describe(local, lid)} in the object but "
                                  f"{describe(targ, tid)} in the target")
        if lk == KindNum.INT:
            if lt.bits_offset == 0 and tt.bits_offset == 0:
                return _OK
            return Verdict(False, "integer with a non-zero bit offset (legacy bitfield "
                                  "encoding) is never compatible")
        if lk == KindNum.ARRAY:
            local_id, targ_id = lt.elem_type, tt.elem_type
            continue
        return Verdict(False, f"{describe(local, lid0)} cannot be relocated as a field "
                              f"({kind_str(lk)})")
    raise CoreError(EINVAL, detail=f"field compatibility: array chain longer than "
                                   f"{FIELDS_MAX_STEPS} (cyclic BTF; libbpf would hang)")


# ----------------------------------------------------------------------------- match


_essential = lru_cache(maxsize=65536)(essential_name)


def _names_match(ln: str, tn: str) -> bool:
    if not tn:
        return not ln
    return _essential(ln) == _essential(tn)


class _Matcher:
    def __init__(self, local: Spec, targ: Spec, warnings: list[str] | None) -> None:
        self.local = local
        self.targ = targ
        self.warnings = warnings
        self.lrc, self.trc = resolve_cache(local), resolve_cache(targ)
        self.memo: dict[tuple[int, int, bool, int], tuple[Verdict, list[str]]] = {}

    def run(self, lid: int, tid: int, behind_ptr: bool, level: int) -> Verdict:
        key = (lid, tid, behind_ptr, level)
        hit = self.memo.get(key)
        if hit is not None:
            verdict, warned = hit
            if self.warnings is not None:
                for w in warned:
                    if len(self.warnings) >= MAX_WARNINGS:
                        break
                    self.warnings.append(w)
            return verdict
        outer = self.warnings
        mine: list[str] = []
        self.warnings = mine
        try:
            verdict = self._run(lid, tid, behind_ptr, level)
        finally:
            self.warnings = outer
        if outer is not None:
            outer.extend(mine[: max(0, MAX_WARNINGS - len(outer))])
        self.memo[key] = (verdict, mine)
        return verdict

    def _run(self, lid: int, tid: int, behind_ptr: bool, level: int) -> Verdict:
        if level <= 0:
            raise _level_error("type match")
        local, targ = self.local, self.targ
        depth = MAX_DEPTH
        while True:
            depth -= 1
            if depth < 0:
                raise _depth_error("type match")
            lid = resolve(local, self.lrc, lid)
            tid = resolve(targ, self.trc, tid)
            lt, tt = local.type(lid), targ.type(tid)
            if not _names_match(lt.name, tt.name):
                return Verdict(False, f"{describe(local, lid)} in the object but "
                                      f"{describe(targ, tid)} in the target (names differ)")
            lk, tk = lt.kind, tt.kind
            mism = Verdict(False, f"{describe(local, lid)} in the object but "
                                  f"{describe(targ, tid)} in the target")
            if lk == KindNum.UNKN:
                return _OK if tk == KindNum.UNKN else mism
            if lk == KindNum.FWD:
                lf = lt.kind_flag
                if behind_ptr:
                    if tk == KindNum.FWD:
                        return _OK if lf == tt.kind_flag else mism
                    ok = (tk == KindNum.STRUCT and not lf) or (tk == KindNum.UNION and lf)
                    return _OK if ok else mism
                if tk != KindNum.FWD:
                    return mism
                return _OK if lf == tt.kind_flag else mism
            if lk in ENUM_KINDS:
                if tk not in ENUM_KINDS:
                    return mism
                return self._enums(lt, tt)
            if lk in COMPOSITE_KINDS:
                if behind_ptr:
                    if lk == tk:
                        return _OK
                    if tk != KindNum.FWD:
                        return mism
                    return _OK if (lk == KindNum.UNION) == tt.kind_flag else mism
                if lk != tk:
                    return mism
                return self._composites(lt, tt, behind_ptr, level)
            if lk == KindNum.INT:
                if tk != lk:
                    return mism
                if lt.size_type == tt.size_type and (lt.encoding & INT_SIGNED) == (
                    tt.encoding & INT_SIGNED
                ):
                    return _OK
                return Verdict(False, f"{_int_word(lt)} in the object but {_int_word(tt)} "
                                      "in the target")
            if lk == KindNum.PTR:
                if tk != lk:
                    return mism
                behind_ptr = True
                lid, tid = lt.size_type, tt.size_type
                continue
            if lk == KindNum.ARRAY:
                if tk != lk:
                    return mism
                if lt.nelems != tt.nelems:
                    return Verdict(False, f"{describe(local, lid)} in the object but "
                                          f"{describe(targ, tid)} in the target "
                                          "(different number of elements)")
                lid, tid = lt.elem_type, tt.elem_type
                continue
            if lk == KindNum.FUNC_PROTO:
                if tk != lk:
                    return mism
                if lt.vlen != tt.vlen:
                    return Verdict(False, f"function prototypes take {lt.vlen} parameters in "
                                          f"the object but {tt.vlen} in the target")
                for i, (lp, tp) in enumerate(zip(lt.params, tt.params, strict=True)):
                    v = self.run(lp.type, tp.type, behind_ptr, level - 1)
                    if not v.ok:
                        return Verdict(False, f"parameter #{i}: {v.reason}")
                lid, tid = lt.size_type, tt.size_type
                continue
            return _unexpected(local, lid, tid, self.warnings)

    def _enums(self, lt: Type, tt: Type) -> Verdict:
        if lt.size_type != tt.size_type:
            return Verdict(False, f"enum {lt.name or '<anon>'} is {lt.size_type} bytes in the "
                                  f"object but {tt.size_type} in the target")
        if lt.vlen > tt.vlen:
            return Verdict(False, f"enum {lt.name or '<anon>'} has {lt.vlen} enumerators in "
                                  f"the object but {tt.vlen} in the target")
        for le in lt.values:
            if not any(_names_match(le.name, te.name) for te in tt.values):
                return Verdict(False, f"enumerator '{le.name}' of enum {lt.name or '<anon>'} "
                                      "is missing in the target")
        return _OK

    def _composites(self, lt: Type, tt: Type, behind_ptr: bool, level: int) -> Verdict:
        what = f"{kind_str(lt.kind)} {lt.name or '<anon>'}"
        if lt.vlen > tt.vlen:
            return Verdict(False, f"{what} has {lt.vlen} members in the object but "
                                  f"{tt.vlen} in the target")
        for lm in lt.members:
            last: str | None = None
            for tm in tt.members:
                if not _names_match(lm.name, tm.name):
                    continue
                v = self.run(lm.type, tm.type, behind_ptr, level - 1)
                if v.ok:
                    break
                last = v.reason
            else:
                mname = f"member '{lm.name}'" if lm.name else "an anonymous member"
                if last is None:
                    return Verdict(False, f"{mname} of {what} is missing in the target")
                return Verdict(False, f"{mname} of {what} does not match: {last}")
        return _OK


def types_match(
    local: Spec,
    local_id: int,
    targ: Spec,
    targ_id: int,
    *,
    behind_ptr: bool = False,
    level: int = MAX_LEVEL,
    warnings: list[str] | None = None,
) -> Verdict:
    """libbpf ``bpf_core_types_match`` (TYPE_MATCHES)."""
    return _Matcher(local, targ, warnings).run(local_id, targ_id, behind_ptr, level)


def _int_word(t: Type) -> str:
    sign = "signed" if t.encoding & INT_SIGNED else "unsigned"
    return f"{t.name or 'int'} ({t.size_type}-byte {sign})"
