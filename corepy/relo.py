"""Data exchanged between corepy's layers: relocation records, results and verdicts.

The calculation layer (:mod:`corepy.core`) turns a :class:`CoreRelo` into a
:class:`ReloResult` without touching instructions or files; the patcher applies it; the
report renders both. Field names follow libbpf's ``bpf_core_relo_res`` so the logic reads
alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum


class ReloKind(IntEnum):
    FIELD_BYTE_OFFSET = 0
    FIELD_BYTE_SIZE = 1
    FIELD_EXISTS = 2
    FIELD_SIGNED = 3
    FIELD_LSHIFT_U64 = 4
    FIELD_RSHIFT_U64 = 5
    TYPE_ID_LOCAL = 6
    TYPE_ID_TARGET = 7
    TYPE_EXISTS = 8
    TYPE_SIZE = 9
    ENUMVAL_EXISTS = 10
    ENUMVAL_VALUE = 11
    TYPE_MATCHES = 12

    @property
    def short(self) -> str:
        """libbpf's short name, as printed in spec strings and logs."""
        return KIND_SHORT[self]

    @property
    def is_field(self) -> bool:
        return self <= ReloKind.FIELD_RSHIFT_U64

    @property
    def is_type(self) -> bool:
        return self in _TYPE_KINDS

    @property
    def is_enumval(self) -> bool:
        return self in (ReloKind.ENUMVAL_EXISTS, ReloKind.ENUMVAL_VALUE)


_TYPE_KINDS = frozenset(
    {
        ReloKind.TYPE_ID_LOCAL,
        ReloKind.TYPE_ID_TARGET,
        ReloKind.TYPE_EXISTS,
        ReloKind.TYPE_SIZE,
        ReloKind.TYPE_MATCHES,
    }
)

KIND_SHORT: dict[int, str] = {
    0: "byte_off",
    1: "byte_sz",
    2: "field_exists",
    3: "signed",
    4: "lshift_u64",
    5: "rshift_u64",
    6: "local_type_id",
    7: "target_type_id",
    8: "type_exists",
    9: "type_size",
    10: "enumval_exists",
    11: "enumval_value",
    12: "type_matches",
}


@dataclass(frozen=True, slots=True)
class CoreRelo:
    """One CO-RE relocation record of the object, located in its ELF section."""

    section: str
    #: Index within its section's records (libbpf's ``relo #N``).
    index: int
    #: Byte offset of the instruction within the ELF section (as in .BTF.ext).
    insn_off: int
    #: Local (object BTF) root type id.
    type_id: int
    access: str
    kind: int


@dataclass(slots=True)
class CandidateVerdict:
    """What happened to one target candidate for one relocation."""

    #: Where the candidate lives: "vmlinux", a module name, or the target file's name.
    btf_name: str
    type_id: int
    #: libbpf-style spec of the candidate: the matched target spec, or "[id] kind name".
    spec: str
    matched: bool
    #: Why it was rejected (None when matched), e.g. "field 'pid' missing in struct task_struct".
    reason: str | None = None


@dataclass(slots=True)
class ReloResult:
    """The calculated outcome of one relocation (libbpf ``bpf_core_relo_res`` + why)."""

    relo: CoreRelo
    #: libbpf's spec string of the local side,
    #: e.g. "[2] struct task_struct.pid (0:55 @ offset 1236)".
    local_spec: str
    orig_val: int = 0
    new_val: int = 0
    poison: bool = False
    validate: bool = True
    fail_memsz_adjust: bool = False
    orig_sz: int = 0
    orig_type_id: int = 0
    new_sz: int = 0
    new_type_id: int = 0
    #: Spec string of the chosen target, None when nothing matched.
    target_spec: str | None = None
    candidates: list[CandidateVerdict] = field(default_factory=list)
    #: A sentence a person can act on, set when poisoned (or when a value is 0 for lack of target).
    reason: str | None = None
    #: Name of the BTF the chosen target came from ("vmlinux" or a module), None if none.
    target_btf: str | None = None
    #: libbpf-style debug/warning lines of the calculation (no "libbpf: " prefix): candidate
    #: discovery (first relocation of a root type only), local spec, candidates, no match.
    log: list[str] = field(default_factory=list)
