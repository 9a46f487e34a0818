"""Relocation values from specs (libbpf ``bpf_core_calc_relo`` and its three helpers).

Each value is computed twice: on the local spec (the "original" value clang put into the
instruction, used for validation) and on the target spec (the "new" value). ``None`` as
target spec means no candidate matched: existence kinds and type-based kinds give 0, the
other field kinds and ENUMVAL_VALUE ask for poisoning.

Deliberate difference from libbpf: LSHIFT_U64 uses the byte order of the *object* (the
program's target), where libbpf uses the byte order of the machine it runs on. For a
little-endian object relocated on a little-endian host both are the same.
"""

from __future__ import annotations

from btf.kinds import INT_SIGNED, KindNum
from btf.spec import Spec
from corepy._record import Record

from ..relo import (
    ENUMVAL_EXISTS,
    ENUMVAL_KINDS,
    ENUMVAL_VALUE,
    FIELD_BYTE_OFFSET,
    FIELD_BYTE_SIZE,
    FIELD_EXISTS,
    FIELD_KINDS,
    FIELD_LSHIFT_U64,
    FIELD_RSHIFT_U64,
    FIELD_SIGNED,
    TYPE_EXISTS,
    TYPE_ID_TARGET,
    TYPE_KINDS,
    TYPE_MATCHES,
    TYPE_SIZE,
)
from .access import CoreSpec, relo_kind_str
from .btfutil import ENUM_KINDS, U32, enum_value_u64, resolve_size
from .errors import E2BIG, EINVAL, EOPNOTSUPP, CoreError


class _Poison(Exception):
    """libbpf's -EUCLEAN: no target, poison the instruction."""


class FieldValue(Record):
    """A field value; ``mem_sz``/``mem_type_id`` remember the access size and type for
    load/store size adjustment (BYTE_OFFSET only)."""

    __slots__ = ("value", "mem_sz", "mem_type_id", "validate", "bitfield")

    def __init__(self, value: int, mem_sz: int = 0, mem_type_id: int = 0,
                 validate: bool = True, bitfield: bool = False) -> None:
        self.value = value
        self.mem_sz = mem_sz
        self.mem_type_id = mem_type_id
        self.validate = validate
        self.bitfield = bitfield


class Values(Record):
    """libbpf's ``bpf_core_relo_res`` as computed for one candidate (or for none).

    ``bitfield``: the field is a bitfield on the target side (for explanations).
    """

    __slots__ = ("orig_val", "new_val", "poison", "validate", "fail_memsz_adjust", "orig_sz",
                 "orig_type_id", "new_sz", "new_type_id", "bitfield")

    def __init__(self, orig_val: int = 0, new_val: int = 0, poison: bool = False,
                 validate: bool = True, fail_memsz_adjust: bool = False, orig_sz: int = 0,
                 orig_type_id: int = 0, new_sz: int = 0, new_type_id: int = 0,
                 bitfield: bool = False) -> None:
        self.orig_val = orig_val
        self.new_val = new_val
        self.poison = poison
        self.validate = validate
        self.fail_memsz_adjust = fail_memsz_adjust
        self.orig_sz = orig_sz
        self.orig_type_id = orig_type_id
        self.new_sz = new_sz
        self.new_type_id = new_type_id
        self.bitfield = bitfield


def _innermost_elem(btf: Spec, type_id: int) -> int:
    """``type_id`` with every array level (and modifiers/typedefs) stripped."""
    tid = btf.skip_mods_and_typedefs(type_id)
    for _ in range(1024):
        t = btf.type(tid)
        if t.kind != KindNum.ARRAY:
            return tid
        tid = btf.skip_mods_and_typedefs(t.elem_type)
    raise CoreError(EINVAL, detail=f"type [{type_id}]: array chain too long (cyclic BTF)")


def _mem_size(btf: Spec, type_id: int, ptr_size: int, legacy: bool) -> int:
    """Access size remembered for a load/store of ``type_id``."""
    if legacy:
        return resolve_size(btf, type_id, ptr_size)
    return resolve_size(btf, _innermost_elem(btf, type_id), ptr_size)


def calc_field(
    kind: int,
    spec: CoreSpec | None,
    *,
    prog_name: str,
    insn_idx: int,
    ptr_size: int,
    big_endian: bool,
    legacy_mem_size: bool = False,
) -> FieldValue:
    """One side of a field relocation (libbpf ``bpf_core_calc_field_relo``).

    ``insn_idx`` is the section-relative instruction index libbpf prints. Raises
    :class:`_Poison` for a missing target, :class:`CoreError` for libbpf's errors.
    """
    if kind == FIELD_EXISTS:
        return FieldValue(1 if spec is not None else 0)
    if spec is None:
        raise _Poison
    btf = spec.btf
    acc = spec.acc[-1]
    if acc.name is None:
        if kind == FIELD_BYTE_OFFSET:
            try:
                sz = _mem_size(btf, acc.type_id, ptr_size, legacy_mem_size)
            except CoreError as exc:
                raise CoreError(EINVAL, detail=exc.detail) from None
            return FieldValue((spec.bit_offset & U32) // 8, sz, acc.type_id)
        if kind == FIELD_BYTE_SIZE:
            try:
                sz = resolve_size(btf, acc.type_id, ptr_size)
            except CoreError as exc:
                raise CoreError(EINVAL, detail=exc.detail) from None
            return FieldValue(sz)
        raise CoreError(
            EINVAL,
            warning=f"prog '{prog_name}': relo {kind} at insn #{insn_idx} can't be applied "
            "to array access",
        )
    t = btf.type(acc.type_id)
    m = t.members[acc.idx]
    field_type_id = btf.skip_mods_and_typedefs(m.type)
    mt = btf.type(field_type_id)
    bit_off = spec.bit_offset & U32
    bit_sz = m.bitfield_size if t.kind_flag else 0
    bitfield = bit_sz > 0
    if bitfield:
        # libbpf reads the base type's size word whatever its kind.
        byte_sz = mt.size_type
        if byte_sz == 0:
            raise CoreError(EINVAL, detail=f"bitfield '{m.name}' has a base type of size 0 "
                                           "(libbpf would divide by zero)")
        byte_off = bit_off // 8 // byte_sz * byte_sz
        while bit_off + bit_sz - byte_off * 8 > byte_sz * 8:
            if byte_sz >= 8:
                raise CoreError(
                    E2BIG,
                    warning=f"prog '{prog_name}': relo {kind} at insn #{insn_idx} can't be "
                    "satisfied for bitfield",
                )
            byte_sz *= 2
            byte_off = bit_off // 8 // byte_sz * byte_sz
    else:
        try:
            byte_sz = resolve_size(btf, field_type_id, ptr_size)
        except CoreError as exc:
            raise CoreError(EINVAL, detail=exc.detail) from None
        byte_off = bit_off // 8
        bit_sz = byte_sz * 8
    validate = not bitfield
    if kind == FIELD_BYTE_OFFSET:
        if bitfield:
            return FieldValue(byte_off, validate=validate, bitfield=True)
        try:
            sz = byte_sz if legacy_mem_size else _mem_size(btf, field_type_id, ptr_size, False)
        except CoreError as exc:
            raise CoreError(EINVAL, detail=exc.detail) from None
        return FieldValue(byte_off, sz, field_type_id, validate)
    if kind == FIELD_BYTE_SIZE:
        return FieldValue(byte_sz, validate=validate, bitfield=bitfield)
    if kind == FIELD_SIGNED:
        signed = (mt.kind in ENUM_KINDS and mt.kind_flag) or (
            mt.kind == KindNum.INT and bool(mt.encoding & INT_SIGNED)
        )
        return FieldValue(int(signed), validate=True, bitfield=bitfield)
    if kind == FIELD_LSHIFT_U64:
        if big_endian:
            val = ((8 - byte_sz) * 8 + (bit_off - byte_off * 8)) & U32
        else:
            val = (64 - (bit_off + bit_sz - byte_off * 8)) & U32
        return FieldValue(val, validate=validate, bitfield=bitfield)
    if kind == FIELD_RSHIFT_U64:
        return FieldValue((64 - bit_sz) & U32, validate=True, bitfield=bitfield)
    raise CoreError(EOPNOTSUPP)


def calc_type(kind: int, spec: CoreSpec | None, ptr_size: int) -> tuple[int, bool]:
    """One side of a type-based relocation: (value, validate)."""
    if spec is None:
        return 0, True
    if kind == TYPE_ID_TARGET:
        return spec.root_type_id, False
    if kind in (TYPE_EXISTS, TYPE_MATCHES):
        return 1, True
    if kind == TYPE_SIZE:
        try:
            return resolve_size(spec.btf, spec.root_type_id, ptr_size), True
        except CoreError as exc:
            raise CoreError(EINVAL, detail=exc.detail) from None
    raise CoreError(EOPNOTSUPP)


def calc_enumval(kind: int, spec: CoreSpec | None) -> int:
    """One side of an enum-value relocation."""
    if kind == ENUMVAL_EXISTS:
        return 1 if spec is not None else 0
    if kind == ENUMVAL_VALUE:
        if spec is None:
            raise _Poison
        acc = spec.acc[0]
        return enum_value_u64(spec.btf.type(acc.type_id), acc.idx)
    raise CoreError(EOPNOTSUPP)


def memsz_adjust_allowed(local: Spec, orig_type_id: int, targ: Spec, new_type_id: int) -> bool:
    """May a load/store change size between these remembered types? (pointers, or ints
    neither of which is exactly SIGNED)"""
    ot, nt = local.type(orig_type_id), targ.type(new_type_id)
    if ot.kind == KindNum.PTR and nt.kind == KindNum.PTR:
        return True
    return (ot.kind == KindNum.INT and nt.kind == KindNum.INT
            and ot.encoding != INT_SIGNED and nt.encoding != INT_SIGNED)


def calc_relo(
    kind: int,
    local: CoreSpec,
    targ: CoreSpec | None,
    *,
    prog_name: str,
    relo_idx: int,
    insn_idx: int,
    local_ptr_size: int = 8,
    targ_ptr_size: int = 8,
    big_endian: bool = False,
    legacy_mem_size: bool = False,
) -> Values:
    """libbpf ``bpf_core_calc_relo`` for one candidate (``targ``) or for none."""
    res = Values()
    try:
        if kind in FIELD_KINDS:
            lo = calc_field(kind, local, prog_name=prog_name, insn_idx=insn_idx,
                            ptr_size=local_ptr_size, big_endian=big_endian,
                            legacy_mem_size=legacy_mem_size)
            res.orig_val, res.orig_sz, res.orig_type_id = lo.value, lo.mem_sz, lo.mem_type_id
            res.validate = lo.validate
            tv = calc_field(kind, targ, prog_name=prog_name, insn_idx=insn_idx,
                            ptr_size=targ_ptr_size, big_endian=big_endian,
                            legacy_mem_size=legacy_mem_size)
            res.new_val, res.new_sz, res.new_type_id = tv.value, tv.mem_sz, tv.mem_type_id
            res.bitfield = tv.bitfield
            if res.orig_sz != res.new_sz:
                assert targ is not None
                res.fail_memsz_adjust = not memsz_adjust_allowed(
                    local.btf, res.orig_type_id, targ.btf, res.new_type_id)
        elif kind in TYPE_KINDS:
            res.orig_val, res.validate = calc_type(kind, local, local_ptr_size)
            res.new_val, _ = calc_type(kind, targ, targ_ptr_size)
        elif kind in ENUMVAL_KINDS:
            res.orig_val = calc_enumval(kind, local)
            res.new_val = calc_enumval(kind, targ)
        else:
            raise CoreError(EOPNOTSUPP)
    except _Poison:
        res.poison = True
    except CoreError as exc:
        if exc.errno == EOPNOTSUPP and exc.warning is None:
            exc.warning = (f"prog '{prog_name}': relo #{relo_idx}: unrecognized CO-RE "
                           f"relocation {relo_kind_str(kind)} ({kind}) at insn #{insn_idx}")
        raise
    return res
