"""Access strings and CO-RE specs: parsing the local side and printing specs like libbpf.

A *spec* is libbpf's ``bpf_core_spec``: the raw index list (1:1 with the access string,
anonymous members included), the high-level accessors (root index, named members, array
indices) and the accumulated bit offset. The same class holds target specs built by
:mod:`corepy.core.match`, so that both print identically.
"""

from __future__ import annotations

from btf.kinds import KindNum
from btf.spec import Spec
from corepy._record import Record

from ..relo import ENUMVAL_KINDS, FIELD_KINDS, KIND_SHORT, TYPE_KINDS
from .btfutil import (
    COMPOSITE_KINDS,
    ENUM_KINDS,
    U32,
    kind_str,
    resolve_size,
)
from .errors import E2BIG, EINVAL, CoreError

#: libbpf's BPF_CORE_SPEC_MAX_LEN: at most this many raw components.
SPEC_MAX_LEN = 64

#: libbpf's short relocation kind names (``core_relo_kind_str``).
RELO_KIND_STR = KIND_SHORT

#: libbpf prints specs into a 256-byte buffer.
SPEC_BUF = 256

_WS = " \t\n\v\f\r"
_DIGITS = "0123456789"
_LONG_MIN = -(1 << 63)
_LONG_MAX = (1 << 63) - 1


def relo_kind_str(kind: int) -> str:
    return RELO_KIND_STR.get(kind, "unknown")


class Accessor(Record):
    """One high-level step: the root index, a named member, or an array index.

    ``type_id`` is the (resolved) composite for a member, the element type for an array
    index, and the root for the first accessor; ``name`` is None for indices.
    """

    __slots__ = ("type_id", "idx", "name")

    def __init__(self, type_id: int, idx: int, name: str | None = None) -> None:
        self.type_id = type_id
        self.idx = idx
        self.name = name


class CoreSpec:
    """libbpf's ``bpf_core_spec`` for one side (local object or one target candidate)."""

    __slots__ = ("btf", "root_type_id", "kind", "raw", "acc", "bit_offset")

    def __init__(self, btf: Spec, root_type_id: int, kind: int) -> None:
        self.btf = btf
        self.root_type_id = root_type_id
        self.kind = kind
        self.raw: list[int] = []
        self.acc: list[Accessor] = []
        #: Bit offset from the start of the root object (libbpf keeps it as a u32).
        self.bit_offset = 0

    def __repr__(self) -> str:
        return f"<CoreSpec {format_spec(self)}>"

    def format(self, with_kind: bool = False) -> str:
        return format_spec(self, with_kind=with_kind)


def _scan_int(s: str, pos: int) -> tuple[int, int] | None:
    """C ``sscanf(s + pos, "%d%n")``: the value (wrapped to int32 as glibc does) and end."""
    n = len(s)
    i = pos
    while i < n and s[i] in _WS:
        i += 1
    j = i
    if j < n and s[j] in "+-":
        j += 1
    k = j
    while k < n and s[k] in _DIGITS:
        k += 1
    if k == j:
        return None
    v = int(s[i:k])
    v = max(_LONG_MIN, min(_LONG_MAX, v))  # strtol clamps, then the store truncates
    v &= U32
    if v & 0x80000000:
        v -= 1 << 32
    return v, k


def parse_access(access: str) -> list[int]:
    """The raw index list of a field or enum access string, by libbpf's rules.

    Rejects an empty string, a leading ``:``, anything ``%d`` cannot read after a single
    ``:`` (``0::1``, ``0x1``, trailing ``:``), more than 64 components (E2BIG) and negative
    numbers (libbpf >= April 2026; older libbpf accepted them and misbehaved).
    Raises :class:`CoreError`.
    """
    if not access or access[0] == ":":
        raise CoreError(EINVAL, detail=f"access string {access!r} is empty or starts with ':'")
    raw: list[int] = []
    pos = 0
    n = len(access)
    while pos < n:
        if access[pos] == ":":
            pos += 1
        got = _scan_int(access, pos)
        if got is None:
            raise CoreError(EINVAL, detail=f"access string {access!r}: no number at {pos}")
        if len(raw) == SPEC_MAX_LEN:
            raise CoreError(
                E2BIG, detail=f"access string has more than {SPEC_MAX_LEN} components"
            )
        value, pos = got
        if value < 0:
            raise CoreError(EINVAL, detail=f"access string {access!r}: negative index {value}")
        raw.append(value)
    return raw


def is_flex_arr(btf: Spec, prev: Accessor | None, nelems: int) -> bool:
    """libbpf ``is_flex_arr``: a zero-length array that is the last member it was named by."""
    if prev is None or prev.name is None or nelems > 0:
        return False
    return prev.idx == btf.type(prev.type_id).vlen - 1


def parse_spec(
    btf: Spec,
    type_id: int,
    access: str,
    kind: int,
    prog_name: str,
    ptr_size: int = 8,
) -> CoreSpec:
    """Build the local spec of a relocation (libbpf ``bpf_core_parse_spec``).

    ``ptr_size`` is the pointer size used for sizes (libbpf forces 8 for the object's
    BTF). Raises :class:`CoreError`; its ``warning`` is set for the one failure libbpf
    explains itself ("captures type ... of unexpected kind").
    """
    spec = CoreSpec(btf, type_id, kind)
    if not access or access[0] == ":":
        raise CoreError(EINVAL, detail=f"access string {access!r} is empty or starts with ':'")
    if kind in TYPE_KINDS:
        if access != "0":
            raise CoreError(
                EINVAL, detail=f"type-based relocations need access string '0', not {access!r}"
            )
        return spec
    raw = parse_access(access)
    spec.raw = raw
    tid = btf.skip_mods_and_typedefs(type_id)
    t = btf.type(tid)
    first = raw[0]
    spec.acc.append(Accessor(tid, first))
    if kind in ENUMVAL_KINDS:
        if t.kind not in ENUM_KINDS:
            raise CoreError(
                EINVAL, detail=f"enum relocation on [{type_id}], a {kind_str(t.kind)}"
            )
        if len(raw) > 1:
            raise CoreError(EINVAL, detail=f"enum access string {access!r} has several indices")
        if first >= t.vlen:
            raise CoreError(
                EINVAL, detail=f"enumerator index {first} out of range (enum has {t.vlen})"
            )
        spec.acc[0].name = t.values[first].name
        return spec
    if kind not in FIELD_KINDS:
        raise CoreError(EINVAL, detail=f"unknown relocation kind {kind}")
    sz = resolve_size(btf, tid, ptr_size)
    bit_offset = (first * sz * 8) & U32
    for i in range(1, len(raw)):
        tid = btf.skip_mods_and_typedefs(tid)
        t = btf.type(tid)
        idx = raw[i]
        k = t.kind
        if k in COMPOSITE_KINDS:
            if idx >= t.vlen:
                raise CoreError(
                    EINVAL,
                    detail=f"member index {idx} out of range for {kind_str(k)} "
                    f"{t.name or '<anon>'} with {t.vlen} members",
                )
            m = t.members[idx]
            bit_offset = (bit_offset + m.bit_offset) & U32
            if m.name_off:
                if not m.name:
                    raise CoreError(EINVAL, detail=f"member {idx} of [{tid}] has an empty name")
                spec.acc.append(Accessor(tid, idx, m.name))
            tid = m.type
        elif k == KindNum.ARRAY:
            elem = btf.skip_mods_and_typedefs(t.elem_type)
            if not is_flex_arr(btf, spec.acc[-1], t.nelems) and idx >= t.nelems:
                raise CoreError(
                    EINVAL, detail=f"array index {idx} out of range (array of {t.nelems})"
                )
            spec.acc.append(Accessor(elem, idx))
            tid = elem
            sz = resolve_size(btf, elem, ptr_size)
            bit_offset = (bit_offset + idx * sz * 8) & U32
        else:
            # libbpf prints the access string after its parser consumed it: empty.
            raise CoreError(
                EINVAL,
                warning=f"prog '{prog_name}': relo for [{type_id}]  (at idx {i}) captures "
                f"type [{tid}] of unexpected kind {kind_str(k)}",
            )
    spec.bit_offset = bit_offset
    return spec


def _c_int(v: int) -> int:
    v &= U32
    return v - (1 << 32) if v & 0x80000000 else v


def format_spec(spec: CoreSpec, with_kind: bool = False) -> str:
    """libbpf's ``bpf_core_format_spec`` text, without the ``<kind>`` prefix by default.

    Not truncated (libbpf cuts at 255 characters; :func:`truncate_spec` does that for log
    lines).
    """
    btf = spec.btf
    rid = spec.root_type_id
    out = [f"<{relo_kind_str(spec.kind)}> " if with_kind else ""]
    out.append(f"[{rid}] {kind_str(btf.kind(rid))} {btf.name(rid) or '<anon>'}")
    kind = spec.kind
    if kind in TYPE_KINDS:
        return "".join(out)
    if kind in ENUMVAL_KINDS:
        t = btf.type(btf.skip_mods_and_typedefs(rid))
        idx = spec.raw[0] if spec.raw else 0
        # libbpf reads enumerator raw[0] (0 for an unmatched candidate) without checking
        # that there is one; we print nothing instead of reading past the end.
        if t.kind in ENUM_KINDS and 0 <= idx < t.vlen:
            e = t.values[idx]
            if t.kind == KindNum.ENUM:
                v = e.value & U32
                if t.kind_flag and v & 0x80000000:
                    v -= 1 << 32
            else:
                v = e.value & 0xFFFFFFFFFFFFFFFF
                if t.kind_flag and v >> 63:
                    v -= 1 << 64
            out.append(f"::{e.name} = {v}")
        return "".join(out)
    if kind in FIELD_KINDS:
        for i, a in enumerate(spec.acc):
            if a.name is not None:
                out.append(f".{a.name}")
            elif i > 0 or a.idx > 0:
                out.append(f"[{a.idx & U32}]")
        out.append(" (")
        out.append(":".join(str(_c_int(r)) for r in spec.raw))
        bo = spec.bit_offset & U32
        if bo % 8:
            out.append(f" @ offset {bo // 8}.{bo % 8})")
        else:
            out.append(f" @ offset {bo // 8})")
    return "".join(out)


def truncate_spec(text: str) -> str:
    """``text`` cut as libbpf's 256-byte spec buffer cuts it (255 bytes of UTF-8)."""
    data = text.encode()
    if len(data) < SPEC_BUF:
        return text
    return data[: SPEC_BUF - 1].decode("utf-8", "replace")
