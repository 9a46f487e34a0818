"""Data exchanged between corepy's layers: relocation records, results and verdicts.

The calculation layer (:mod:`corepy.core`) turns a :class:`CoreRelo` into a
:class:`ReloResult` without touching instructions or files; the patcher applies it; the
report renders both. Field names follow libbpf's ``bpf_core_relo_res`` so the logic reads
alike.
"""

from __future__ import annotations

from ._record import Frozen, Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from ._relo_kind import ReloKind  # noqa: F401 - the lazily imported public name

_set = object.__setattr__


def __getattr__(name: str) -> object:
    """``ReloKind``, the IntEnum of the kind numbers below, imported on first use."""
    if name == "ReloKind":
        from ._relo_kind import ReloKind

        return ReloKind
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Kind numbers as plain ints: what the library compares with. The ``ReloKind`` IntEnum
# (same numbers) is kept out of start-up: importing enum costs ~5 ms of a one-shot run.
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

#: Field-based, type-based and enum-value-based kinds (core-semantics §3.1).
FIELD_KINDS = frozenset({0, 1, 2, 3, 4, 5})
TYPE_KINDS = frozenset({6, 7, 8, 9, 12})
ENUMVAL_KINDS = frozenset({10, 11})

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


class CoreRelo(Frozen):
    """One CO-RE relocation record of the object, located in its ELF section.

    Fields: ``section``; ``index`` within its section's records (libbpf's ``relo #N``);
    ``insn_off``, the byte offset of the instruction within the ELF section (as in
    .BTF.ext); ``type_id``, the local (object BTF) root type id; ``access``; ``kind``.
    """

    __slots__ = ("section", "index", "insn_off", "type_id", "access", "kind")
    section: str
    index: int
    insn_off: int
    type_id: int
    access: str
    kind: int

    def __init__(self, section: str, index: int, insn_off: int, type_id: int, access: str,
                 kind: int) -> None:
        _set(self, "section", section)
        _set(self, "index", index)
        _set(self, "insn_off", insn_off)
        _set(self, "type_id", type_id)
        _set(self, "access", access)
        _set(self, "kind", kind)


class CandidateVerdict(Record):
    """What happened to one target candidate for one relocation.

    ``btf_name``: where the candidate lives ("vmlinux", a module name, or the target file's
    name); ``spec``: libbpf-style spec of the candidate (the matched target spec, or
    "[id] kind name"); ``reason``: why it was rejected (None when matched), e.g.
    "field 'pid' missing in struct task_struct".
    """

    __slots__ = ("btf_name", "type_id", "spec", "matched", "reason")

    def __init__(self, btf_name: str, type_id: int, spec: str, matched: bool,
                 reason: str | None = None) -> None:
        self.btf_name = btf_name
        self.type_id = type_id
        self.spec = spec
        self.matched = matched
        self.reason = reason


class ReloResult(Record):
    """The calculated outcome of one relocation (libbpf ``bpf_core_relo_res`` + why).

    ``local_spec``: libbpf's spec string of the local side, e.g.
    "[2] struct task_struct.pid (0:55 @ offset 1236)"; ``target_spec``: spec string of the
    chosen target, None when nothing matched; ``reason``: a sentence a person can act on,
    set when poisoned (or when a value is 0 for lack of target); ``target_btf``: name of the
    BTF the chosen target came from ("vmlinux" or a module), None if none; ``log``:
    libbpf-style debug/warning lines of the calculation (no "libbpf: " prefix): candidate
    discovery (first relocation of a root type only), local spec, candidates, no match.
    """

    __slots__ = ("relo", "local_spec", "orig_val", "new_val", "poison", "validate",
                 "fail_memsz_adjust", "orig_sz", "orig_type_id", "new_sz", "new_type_id",
                 "target_spec", "candidates", "reason", "target_btf", "log")

    def __init__(
        self,
        relo: CoreRelo,
        local_spec: str,
        orig_val: int = 0,
        new_val: int = 0,
        poison: bool = False,
        validate: bool = True,
        fail_memsz_adjust: bool = False,
        orig_sz: int = 0,
        orig_type_id: int = 0,
        new_sz: int = 0,
        new_type_id: int = 0,
        target_spec: str | None = None,
        candidates: list[CandidateVerdict] | None = None,
        reason: str | None = None,
        target_btf: str | None = None,
        log: list[str] | None = None,
    ) -> None:
        self.relo = relo
        self.local_spec = local_spec
        self.orig_val = orig_val
        self.new_val = new_val
        self.poison = poison
        self.validate = validate
        self.fail_memsz_adjust = fail_memsz_adjust
        self.orig_sz = orig_sz
        self.orig_type_id = orig_type_id
        self.new_sz = new_sz
        self.new_type_id = new_type_id
        self.target_spec = target_spec
        self.candidates: list[CandidateVerdict] = [] if candidates is None else candidates
        self.reason = reason
        self.target_btf = target_btf
        self.log: list[str] = [] if log is None else log

