"""The BTF model: one parsed blob (plus its base for split BTF), decoded lazily.

Opening a kernel's BTF (120k+ types) must be cheap, and answering one question about it
must not decode every type. So opening does exactly three things: check the header and the
section bounds, and walk the type section once to record where each type starts and its
``name_off``. Types are decoded on first access and memoised; names are found by searching
the string table for the name and then the recorded ``name_off`` column (both in C).

Ids follow libbpf: 0 is ``void``; a base blob's types are 1..N; a split blob (module BTF)
continues at its base's type count and its string offsets continue after the base's strings.
"""

from __future__ import annotations

import struct
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from typing import NamedTuple

from . import _layouts as L
from .errors import BTFFormatError, BTFReferenceCycleError, BTFTypeError
from .kinds import (
    KIND_FLAG_SHIFT,
    KIND_MASK,
    KIND_SHIFT,
    MAX_KNOWN_KIND,
    MODIFIER_KINDS,
    SIZED_KINDS,
    VLEN_MASK,
    Kind,
    kind_name,
)
from .names import essential_name
from .types import VOID, EnumValue, Member, Param, Type, VarSecInfo

Buffer = bytes | bytearray | memoryview

MIN_HEADER = 24
#: Longest chain of modifiers/typedefs followed before we call it a cycle.
MAX_CHAIN = 1024
#: libbpf's resolve depth for sizes (MAX_RESOLVE_DEPTH).
MAX_RESOLVE_DEPTH = 32

_LONG_NAMES = (
    "long",
    "long int",
    "int long",
    "unsigned long",
    "long unsigned",
    "unsigned long int",
    "unsigned int long",
    "long unsigned int",
    "long int unsigned",
    "int unsigned long",
    "int long unsigned",
)

_TRAILERS = L.TRAILER_SIZES


class Header(NamedTuple):
    """The decoded BTF header; offsets are relative to the end of the header."""

    magic: int
    version: int
    flags: int
    hdr_len: int
    type_off: int
    type_len: int
    str_off: int
    str_len: int
    layout_off: int = 0
    layout_len: int = 0


def detect_byteorder(data: Buffer) -> str | None:
    """``"little"``/``"big"`` from the BTF magic, or None if ``data`` is not BTF."""
    head = bytes(data[:2])
    if head == b"\x9f\xeb":
        return "little"
    if head == b"\xeb\x9f":
        return "big"
    return None


class Spec:
    """A BTF blob, indexed but not decoded.

    ``Spec(data)`` parses raw BTF as found in ``/sys/kernel/btf/vmlinux`` or an ELF ``.BTF``
    section. Pass ``base`` for split BTF (module BTF on vmlinux). ``ptr_size`` overrides the
    pointer size; by default it is guessed like libbpf does (from ``long``), inherited from
    the base for split BTF.
    """

    def __init__(
        self,
        data: Buffer,
        *,
        source: str = "<bytes>",
        base: Spec | None = None,
        ptr_size: int | None = None,
    ) -> None:
        self.source = source
        self.base = base
        self._data = data if isinstance(data, bytes) else bytes(data)
        self.header = self._parse_header()
        self.endian = "<" if self.byteorder == "little" else ">"
        hdr = self.header
        self._type_start = hdr.hdr_len + hdr.type_off
        self._str_start = hdr.hdr_len + hdr.str_off
        self._strs = self._data[self._str_start : self._str_start + hdr.str_len]
        self.first_id = base.type_count if base is not None else 1
        #: First logical string offset of this blob's own strings.
        self.str_base = (base.str_base + base.header.str_len) if base is not None else 0
        self._check_strings()
        self._layout = self._parse_layout()
        self._offs = self._scan()
        #: Number of ids including void and the base's ids (libbpf ``btf__type_cnt``).
        self.type_count = self.first_id + len(self._offs)
        self._cache: dict[int, Type] = {}
        self._str_cache: dict[int, str] = {}
        self._flavors: dict[bytes, list[int]] | None = None
        self._ptr_size = ptr_size

    # ------------------------------------------------------------------ parsing
    def _err(self, msg: str) -> BTFFormatError:
        return BTFFormatError(msg, source=self.source)

    def _parse_header(self) -> Header:
        data = self._data
        size = len(data)
        if size < MIN_HEADER:
            raise self._err(
                f"{size} bytes is too short for a BTF header (needs {MIN_HEADER} bytes)"
            )
        order = detect_byteorder(data)
        if order is None:
            raise self._err(
                f"bad magic 0x{data[0]:02x}{data[1]:02x} at offset 0: not BTF "
                "(expected 9f eb for little-endian or eb 9f for big-endian data)"
            )
        self.byteorder = order
        fmt = L.HEADER_LE if order == "little" else L.HEADER_BE
        hdr = Header(*struct.unpack_from(fmt, data, 0))
        if hdr.version != 1:
            raise self._err(f"unsupported BTF version {hdr.version} at offset 2 (expected 1)")
        if hdr.flags != 0:
            raise self._err(f"unsupported BTF flags 0x{hdr.flags:x} at offset 3 (expected 0)")
        if hdr.hdr_len < MIN_HEADER:
            raise self._err(f"hdr_len {hdr.hdr_len} at offset 4 is below the minimum of 24")
        if hdr.hdr_len > size:
            raise self._err(f"hdr_len {hdr.hdr_len} at offset 4 runs past the end ({size} bytes)")
        if hdr.hdr_len >= 32:
            lfmt = L.HEADER_LAYOUT_LE if order == "little" else L.HEADER_LAYOUT_BE
            hdr = hdr._replace(**dict(zip(("layout_off", "layout_len"),
                                          struct.unpack_from(lfmt, data, 24), strict=True)))
            known = 32
        else:
            known = 24
        extra = data[known : hdr.hdr_len]
        if extra.strip(b"\0"):
            first = known + next(i for i, b in enumerate(extra) if b)
            raise self._err(
                f"header byte at offset {first} is non-zero: this BTF uses header fields "
                f"beyond the {known} bytes this reader understands"
            )
        body = size - hdr.hdr_len
        if hdr.type_off % 4:
            raise self._err(f"type section offset {hdr.type_off} is not 4-byte aligned")
        if hdr.type_len % 4:
            raise self._err(f"type section length {hdr.type_len} is not a multiple of 4")
        if hdr.str_off + hdr.str_len > body:
            raise self._err(
                f"string section [{hdr.hdr_len + hdr.str_off}, "
                f"{hdr.hdr_len + hdr.str_off + hdr.str_len}) runs past the end ({size} bytes)"
            )
        if hdr.type_off + hdr.type_len > hdr.str_off:
            raise self._err(
                f"type section [{hdr.hdr_len + hdr.type_off}, "
                f"{hdr.hdr_len + hdr.type_off + hdr.type_len}) overlaps the string section "
                f"at {hdr.hdr_len + hdr.str_off}"
            )
        if hdr.layout_len:
            lo, ll = hdr.layout_off, hdr.layout_len
            if lo % 4 or ll % 4:
                raise self._err(f"layout section offset {lo} / length {ll} not 4-byte aligned")
            if lo < hdr.type_off + hdr.type_len or lo + ll > hdr.str_off:
                raise self._err(
                    f"layout section [{hdr.hdr_len + lo}, {hdr.hdr_len + lo + ll}) must lie "
                    "between the type and string sections"
                )
        return hdr

    def _check_strings(self) -> None:
        strs = self._strs
        if self.base is None:
            if not strs:
                raise self._err("string section is empty (base BTF needs at least one NUL)")
            if strs[0] != 0:
                raise self._err(
                    f"string section at offset {self._str_start} does not start with NUL: "
                    "malformed, or split BTF opened without its base (use --base)"
                )
        if strs and strs[-1] != 0:
            raise self._err(
                f"string section does not end with NUL (last byte at offset "
                f"{self._str_start + len(strs) - 1})"
            )

    def _parse_layout(self) -> dict[int, tuple[int, int]]:
        hdr = self.header
        if not hdr.layout_len:
            return self.base._layout if self.base is not None else {}
        start = hdr.hdr_len + hdr.layout_off
        fmt = L.LAYOUT_RECORD_LE if self.byteorder == "little" else L.LAYOUT_RECORD_BE
        out: dict[int, tuple[int, int]] = {}
        for kind, (info_sz, elem_sz, _flags) in enumerate(
            struct.iter_unpack(fmt, self._data[start : start + hdr.layout_len])
        ):
            if info_sz % 4 or elem_sz % 4:
                raise self._err(
                    f"layout record for kind {kind} at offset {start + 4 * kind} has sizes "
                    f"{info_sz}/{elem_sz} that are not multiples of 4"
                )
            out[kind] = (info_sz, elem_sz)
        return out

    def _words(self) -> memoryview | array[int]:
        """The type section as native-order u32 words."""
        raw = self._data[self._type_start : self._type_start + self.header.type_len]
        if self.byteorder == sys.byteorder:
            return memoryview(raw).cast("I")
        words = array("I")
        words.frombytes(raw)
        words.byteswap()
        return words

    def _record_words(self, info: int, type_id: int, pos: int) -> int:
        kind = (info >> KIND_SHIFT) & KIND_MASK
        vlen = info & VLEN_MASK
        sizes = _TRAILERS.get(kind) if kind <= MAX_KNOWN_KIND else None
        if sizes is None or kind == 0:
            sizes = self._layout.get(kind)
            if sizes is None:
                raise BTFFormatError(
                    f"type [{type_id}] at offset {self._type_start + 4 * pos} has unknown kind "
                    f"{kind} and no layout section describes it",
                    source=self.source,
                )
        single, elem = sizes
        return 3 + (single + vlen * elem) // 4

    def _scan(self) -> array[int]:
        """Walk the type section once, recording each type's start (in u32 words).

        This is the only full pass over the types; ~300 distinct info words occur in a
        kernel, so record lengths come from a memo instead of being recomputed.
        """
        words = self._words()
        self._w = words
        n = len(words)
        offs = array("I")
        add = offs.append
        memo: dict[int, int] = {}
        get = memo.get
        pos = 0
        try:
            while pos < n:
                info = words[pos + 1]
                step = get(info)
                if step is None:
                    step = memo[info] = self._record_words(info, self.first_id + len(offs), pos)
                add(pos)
                pos += step
        except IndexError:
            pass
        if pos != n:
            last = self.first_id + len(offs) - 1
            start = self._type_start + 4 * offs[-1] if offs else self._type_start
            raise self._err(
                f"type [{last}] at offset {start} runs past the end of the type section "
                f"({self.header.type_len} bytes): truncated or malformed types"
            )
        return offs

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return self.type_count

    def __repr__(self) -> str:
        return (
            f"<Spec {self.source!r} {self.byteorder}-endian ids "
            f"{self.first_id}..{self.type_count - 1}>"
        )

    @property
    def data(self) -> bytes:
        """The raw blob this spec was parsed from."""
        return self._data

    @property
    def own_ids(self) -> range:
        """Ids of the types stored in this blob (not its base's)."""
        return range(self.first_id, self.type_count)

    @property
    def is_split(self) -> bool:
        return self.base is not None

    @property
    def ptr_size(self) -> int:
        """Pointer size in bytes for size resolution (libbpf's rules)."""
        if self._ptr_size is None:
            self._ptr_size = self.base.ptr_size if self.base is not None else self._guess_ptr()
        return self._ptr_size

    def _guess_ptr(self) -> int:
        for name in _LONG_NAMES:
            for tid in self.find_by_name(name, Kind.INT):
                size = self._header_words(tid)[2]
                if size in (4, 8):
                    return size
        return struct.calcsize("P")

    def string(self, off: int) -> str:
        """The string at logical offset ``off`` (offsets continue the base's for split BTF)."""
        s = self._str_cache.get(off)
        if s is not None:
            return s
        if off < self.str_base:
            assert self.base is not None
            return self.base.string(off)
        local = off - self.str_base
        strs = self._strs
        if local >= len(strs):
            raise BTFFormatError(
                f"string offset {off} is beyond the string section "
                f"({self.str_base + len(strs)} bytes)",
                source=self.source,
            )
        end = strs.index(b"\0", local)
        s = strs[local:end].decode("utf-8", "replace")
        self._str_cache[off] = s
        return s

    def _idx(self, type_id: int) -> int:
        idx = type_id - self.first_id
        if idx < 0 or idx >= len(self._offs):
            raise BTFTypeError(
                f"type id {type_id} is out of range (valid ids are 0..{self.type_count - 1})",
                source=self.source,
            )
        return idx

    def _header_words(self, type_id: int) -> tuple[int, int, int]:
        if type_id < self.first_id:
            if self.base is not None and type_id > 0:
                return self.base._header_words(type_id)
            if type_id == 0:
                return (0, 0, 0)
        pos = self._offs[self._idx(type_id)]
        w = self._w
        return (w[pos], w[pos + 1], w[pos + 2])

    def kind(self, type_id: int) -> int:
        """Kind of ``type_id`` without decoding it."""
        return (self._header_words(type_id)[1] >> KIND_SHIFT) & KIND_MASK

    def name(self, type_id: int) -> str:
        """Name of ``type_id`` ('' if anonymous) without decoding it."""
        return self.string(self._header_words(type_id)[0]) if type_id else ""

    def spec_for(self, type_id: int) -> Spec:
        """The blob (this one or a base) that stores ``type_id``."""
        spec: Spec = self
        while type_id < spec.first_id and spec.base is not None:
            spec = spec.base
        return spec

    # ------------------------------------------------------------------ decoding
    def type(self, type_id: int) -> Type:
        """The decoded type ``type_id`` (memoised). Raises :class:`BTFTypeError` if invalid."""
        t = self._cache.get(type_id)
        if t is not None:
            return t
        if type_id < self.first_id:
            if type_id == 0:
                return VOID
            if self.base is not None and type_id > 0:
                return self.base.type(type_id)
        t = self._decode(type_id)
        self._cache[type_id] = t
        return t

    def __getitem__(self, type_id: int) -> Type:
        return self.type(type_id)

    def _check_ref(self, type_id: int, ref: int, what: str) -> int:
        if ref >= self.type_count:
            raise BTFTypeError(
                f"type [{type_id}] {what} refers to type id {ref}, beyond the last id "
                f"{self.type_count - 1}",
                source=self.source,
            )
        return ref

    def _name(self, type_id: int, off: int, what: str) -> str:
        try:
            return self.string(off)
        except BTFFormatError:
            raise BTFTypeError(
                f"type [{type_id}] {what} has name offset {off} outside the string section",
                source=self.source,
            ) from None

    def _decode(self, type_id: int) -> Type:
        idx = self._idx(type_id)
        pos = self._offs[idx]
        w = self._w
        name_off, info, st = w[pos], w[pos + 1], w[pos + 2]
        kind = (info >> KIND_SHIFT) & KIND_MASK
        vlen = info & VLEN_MASK
        name = self._name(type_id, name_off, "")
        t = Type(type_id, kind, name, name_off, info, st, offset=4 * pos)
        le = self.byteorder == "little"
        body = self._type_start + 4 * pos + 12
        data = self._data
        chk = self._check_ref
        if kind not in SIZED_KINDS and kind != Kind.ARRAY and kind <= MAX_KNOWN_KIND:
            if kind not in (Kind.FWD, Kind.UNKN):
                chk(type_id, st, kind_name(kind))
        if kind == Kind.INT:
            enc = w[pos + 3]
            t.encoding = (enc >> 24) & 0x0F
            t.bits_offset = (enc >> 16) & 0xFF
            t.bits = enc & 0xFF
        elif kind == Kind.ARRAY:
            t.elem_type = chk(type_id, w[pos + 3], "ARRAY element")
            t.index_type = chk(type_id, w[pos + 4], "ARRAY index")
            t.nelems = w[pos + 5]
        elif kind in (Kind.STRUCT, Kind.UNION):
            bitfields = bool(info >> KIND_FLAG_SHIFT)
            members = []
            for i in range(vlen):
                p = pos + 3 + 3 * i
                moff, mtype, offset = w[p], w[p + 1], w[p + 2]
                mname = self._name(type_id, moff, f"member #{i}")
                chk(type_id, mtype, f"member #{i} '{mname}'")
                if bitfields:
                    members.append(
                        Member(mname, moff, mtype, offset & 0xFFFFFF, offset >> 24, offset)
                    )
                else:
                    members.append(Member(mname, moff, mtype, offset, 0, offset))
            t.members = tuple(members)
        elif kind == Kind.ENUM:
            fmt = L.ENUM_VALUE_LE if le else L.ENUM_VALUE_BE
            t.values = tuple(
                EnumValue(self._name(type_id, no, f"enumerator #{i}"), no, v)
                for i, (no, v) in enumerate(struct.iter_unpack(fmt, data[body : body + 8 * vlen]))
            )
        elif kind == Kind.ENUM64:
            vals = []
            for i in range(vlen):
                p = pos + 3 + 3 * i
                no = w[p]
                vals.append(
                    EnumValue(self._name(type_id, no, f"enumerator #{i}"), no,
                              w[p + 1] | (w[p + 2] << 32))
                )
            t.values = tuple(vals)
        elif kind == Kind.FUNC_PROTO:
            params = []
            for i in range(vlen):
                p = pos + 3 + 2 * i
                no, pt = w[p], w[p + 1]
                params.append(Param(self._name(type_id, no, f"param #{i}"), no,
                                    chk(type_id, pt, f"param #{i}")))
            t.params = tuple(params)
        elif kind == Kind.VAR:
            t.linkage = w[pos + 3]
        elif kind == Kind.DATASEC:
            secs = []
            for i in range(vlen):
                p = pos + 3 + 3 * i
                secs.append(VarSecInfo(chk(type_id, w[p], f"DATASEC entry #{i}"),
                                       w[p + 1], w[p + 2]))
            t.secinfos = tuple(secs)
        elif kind == Kind.DECL_TAG:
            v = w[pos + 3]
            t.component_idx = v - (1 << 32) if v & 0x80000000 else v
        elif kind == Kind.FUNC:
            target = self.kind(st) if st else 0
            if target != Kind.FUNC_PROTO:
                raise BTFTypeError(
                    f"type [{type_id}] FUNC '{name}' refers to type [{st}], a "
                    f"{kind_name(target)}, not a FUNC_PROTO",
                    source=self.source,
                )
        elif kind > MAX_KNOWN_KIND or kind == 0:
            single, elem = self._layout[kind]
            t.extra = data[body : body + single + vlen * elem]
        return t

    def iter_types(self) -> Iterator[Type]:
        """Every own type in id order (decoded, memoised)."""
        for tid in self.own_ids:
            yield self.type(tid)

    # ------------------------------------------------------------------ names
    def _own_string_offsets(self, name: bytes) -> list[int]:
        """Logical offsets of every string in this blob's own section equal to ``name``."""
        strs = self._strs
        out = []
        if strs.startswith(name + b"\0"):
            out.append(self.str_base)
        needle = b"\0" + name + b"\0"
        i = strs.find(needle)
        while i >= 0:
            out.append(self.str_base + i + 1)
            i = strs.find(needle, i + 1)
        return out

    def _string_offsets(self, name: bytes) -> list[int]:
        offs = self._own_string_offsets(name)
        if self.base is not None:
            offs = self.base._string_offsets(name) + offs
        return offs

    def _ids_with_name_offs(self, offsets: list[int]) -> list[int]:
        """Own type ids whose ``name_off`` is one of ``offsets``.

        Searches the type section for the offset's bytes (C speed) and keeps hits that
        sit at the start of a type record; no per-type name column is ever built.
        """
        data = self._data
        ts = self._type_start
        te = ts + self.header.type_len
        offs = self._offs
        n = len(offs)
        first = self.first_id
        pack = struct.Struct(self.endian + "I").pack
        ids: list[int] = []
        for off in offsets:
            pat = pack(off)
            i = data.find(pat, ts, te)
            while i >= 0:
                rel = i - ts
                if not rel & 3:
                    word = rel >> 2
                    j = bisect_left(offs, word)
                    if j < n and offs[j] == word:
                        ids.append(first + j)
                i = data.find(pat, i + 1, te)
        ids.sort()
        return ids

    def _filter_kind(self, ids: list[int], kind: int | None) -> list[int]:
        if kind is None:
            return ids
        return [i for i in ids if self.kind(i) == kind]

    def find_by_name(self, name: str, kind: int | None = None, *, own_only: bool = False) -> list[int]:
        """Ids of the types named exactly ``name`` (optionally of one kind), in id order.

        Split BTF searches its base first unless ``own_only``.
        """
        if not name:
            return []
        enc = name.encode()
        ids = self._ids_with_name_offs(self._string_offsets(enc))
        if self.base is not None and not own_only:
            ids = self.base.find_by_name(name) + ids
        return self._filter_kind(ids, kind)

    def _flavor_index(self) -> dict[bytes, list[int]]:
        """essential name -> logical offsets of own strings that are flavors of it."""
        if self._flavors is None:
            idx: dict[bytes, list[int]] = {}
            strs = self._strs
            p = strs.find(b"___")
            while p >= 0:
                start = strs.rfind(b"\0", 0, p) + 1
                end = strs.find(b"\0", p)
                full = strs[start:end].decode("utf-8", "replace")
                ess = essential_name(full)
                if ess != full:
                    idx.setdefault(ess.encode(), []).append(self.str_base + start)
                p = strs.find(b"___", end)
            self._flavors = idx
        return self._flavors

    def _essential_offsets(self, ess: bytes) -> list[int]:
        offs = self._own_string_offsets(ess) + self._flavor_index().get(ess, [])
        if self.base is not None:
            offs = self.base._essential_offsets(ess) + offs
        return offs

    def find_by_essential_name(
        self, name: str, kind: int | None = None, *, own_only: bool = False
    ) -> list[int]:
        """Ids whose essential name equals ``essential_name(name)``, in id order.

        This is CO-RE's candidate search (libbpf scans all types comparing essential names);
        only the string table and the ``name_off`` column are searched.
        """
        ess = essential_name(name)
        if not ess:
            return []
        ids = self._ids_with_name_offs(self._essential_offsets(ess.encode()))
        if self.base is not None and not own_only:
            ids = self.base.find_by_essential_name(ess) + ids
        return self._filter_kind(ids, kind)

    # ------------------------------------------------------------------ helpers for CO-RE
    def skip_mods(self, type_id: int) -> int:
        """Follow const/volatile/restrict/type_tag links."""
        for _ in range(MAX_CHAIN):
            if self.kind(type_id) not in MODIFIER_KINDS:
                return type_id
            type_id = self._header_words(type_id)[2]
        raise BTFReferenceCycleError(
            f"type [{type_id}]: modifier chain longer than {MAX_CHAIN} links (a cycle?)",
            source=self.source,
        )

    def skip_mods_and_typedefs(self, type_id: int) -> int:
        """Follow modifiers and typedefs to the underlying type (libbpf's rule)."""
        start = type_id
        for _ in range(MAX_CHAIN):
            k = self.kind(type_id)
            if k not in MODIFIER_KINDS and k != Kind.TYPEDEF:
                return type_id
            type_id = self._header_words(type_id)[2]
        raise BTFReferenceCycleError(
            f"type [{start}]: typedef/modifier chain longer than {MAX_CHAIN} links (a cycle?)",
            source=self.source,
        )

    def resolve_size(self, type_id: int) -> int:
        """Byte size of ``type_id`` following libbpf's ``btf__resolve_size``.

        Raises :class:`BTFTypeError` for void, FWD, FUNC, FUNC_PROTO and chains deeper
        than 32 links, and when an array's size overflows 32 bits.
        """
        start = type_id
        nelems = 1
        for _ in range(MAX_RESOLVE_DEPTH):
            _no, info, st = self._header_words(type_id)
            k = (info >> KIND_SHIFT) & KIND_MASK
            if k in SIZED_KINDS:
                size = st
                break
            if k == Kind.PTR:
                size = self.ptr_size
                break
            if k in (Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.VAR,
                     Kind.DECL_TAG, Kind.TYPE_TAG):
                type_id = st
                continue
            if k == Kind.ARRAY:
                arr = self.type(type_id)
                if nelems and arr.nelems > 0xFFFFFFFF // nelems:
                    raise BTFTypeError(f"type [{start}]: array size overflows 32 bits",
                                       source=self.source)
                nelems *= arr.nelems
                type_id = arr.elem_type
                continue
            raise BTFTypeError(
                f"type [{start}]: cannot size a {kind_name(k)} (type [{type_id}])",
                source=self.source,
            )
        else:
            raise BTFReferenceCycleError(
                f"type [{start}]: size resolution deeper than {MAX_RESOLVE_DEPTH} links",
                source=self.source,
            )
        if nelems and size > 0xFFFFFFFF // nelems:
            raise BTFTypeError(f"type [{start}]: size overflows 32 bits", source=self.source)
        return nelems * size

    def validate(self) -> None:
        """Decode every own type, so that any bad reference or string offset raises now."""
        for tid in self.own_ids:
            self.type(tid)
