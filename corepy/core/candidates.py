"""Target candidate search (libbpf ``bpf_core_find_cands``) and the target BTF record.

A candidate is a target type whose kind equals the local root's (ENUM and ENUM64 count as
one kind) and whose essential (flavor-less) name equals the local root's essential name.
vmlinux is searched first; module BTFs only when vmlinux has no candidate at all, and then
every module's own types, all candidates concatenated.
"""

from __future__ import annotations

from collections import namedtuple
from weakref import WeakKeyDictionary

from btf.names import essential_name
from btf.spec import Spec
from corepy._record import Record

from .btfutil import kind_str, kinds_core_compat

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import NamedTuple


class TargetBTF(Record):
    """One BTF to search: vmlinux (or a user-given target file) or a kernel module's.

    ``name`` is "vmlinux" or the module's name; a module's ``spec`` is split BTF on top of
    vmlinux, so its type ids continue vmlinux's.
    """

    _fields = ("name", "spec", "is_module")

    def __init__(self, name: str, spec: Spec, is_module: bool = False) -> None:
        self.name = name
        self.spec = spec
        self.is_module = is_module


if TYPE_CHECKING:
    class Candidate(NamedTuple):
        target: TargetBTF
        type_id: int

    Modules = Sequence[TargetBTF] | Callable[[], Sequence[TargetBTF]]
else:
    # the same class typing.NamedTuple would build, without importing typing
    Candidate = namedtuple("Candidate", "target type_id")


def __getattr__(name: str) -> object:
    # ``Modules`` names a typing construct; built on demand.
    if name == "Modules":
        from collections.abc import Callable, Sequence

        return Sequence[TargetBTF] | Callable[[], Sequence[TargetBTF]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Per target Spec: (essential name, own_only) -> ids. Name searches cost a scan of the
#: target's tables, and the same Spec usually serves many objects.
_LOOKUPS: WeakKeyDictionary[Spec, dict[tuple[str, bool], list[int]]] = WeakKeyDictionary()


def _ids_named(spec: Spec, name: str, own_only: bool) -> list[int]:
    memo = _LOOKUPS.get(spec)
    if memo is None:
        memo = _LOOKUPS[spec] = {}
    key = (essential_name(name), own_only)
    ids = memo.get(key)
    if ids is None:
        ids = memo[key] = spec.find_by_essential_name(name, own_only=own_only)
    return ids


def search_btf(
    target: TargetBTF,
    local_kind: int,
    local_name: str,
    *,
    own_only: bool = False,
) -> list[Candidate]:
    """Candidates for a root of ``local_kind`` named ``local_name`` in one BTF, in id order."""
    spec = target.spec
    out = []
    for tid in _ids_named(spec, local_name, own_only):
        if kinds_core_compat(spec.kind(tid), local_kind):
            out.append(Candidate(target, tid))
    return out


def candidate_log_line(
    local_id: int, local_kind: int, local_name: str, cand: Candidate, btf_label: str
) -> str:
    """libbpf's debug line for one candidate found while filling the cache."""
    spec = cand.target.spec
    return (
        f"CO-RE relocating [{local_id}] {kind_str(local_kind)} {local_name}: found target "
        f"candidate [{cand.type_id}] {kind_str(spec.kind(cand.type_id))} "
        f"{spec.name(cand.type_id)} in [{btf_label}]"
    )
