"""The BTF model: one parsed blob (plus its base for split BTF), decoded lazily.

Opening a kernel's BTF (120k+ types) must be cheap, and answering one question about it
must not decode every type. So opening does exactly three things: check the header and the
section bounds, and walk the type section once, recording where each type starts and its
``name_off`` (two ``array('I')`` columns, ~1 MB for a kernel). Types are decoded on first
access and memoised; names are found by searching the string section for the name and then
the ``name_off`` column for its offset (both searches run in C).

Ids follow libbpf: 0 is ``void``; a base blob's types are 1..N; a split blob (module BTF)
continues at its base's type count and its string offsets continue after the base's strings.

Robustness: every check that bounds work happens before the work. A record whose claimed
``vlen`` would run past the type section stops the scan at that record; reference chains are
followed a bounded number of steps; string decoding is linear in the string section (see
:meth:`Spec.string`). Bad input raises :class:`~btf.errors.BTFError` subclasses only.
"""

from __future__ import annotations

import os
import struct
import sys
from array import array
from bisect import bisect_left
from collections import namedtuple
from collections.abc import Callable, Iterator
from itertools import compress

from . import _layouts as L
from .errors import BTFFormatError, BTFReferenceCycleError, BTFTypeError
from .kinds import (
    KIND_FLAG_SHIFT,
    KIND_MASK,
    KIND_SHIFT,
    MAX_KNOWN_KIND,
    MODIFIER_KINDS,
    REF_KINDS,
    SIZE_FOLLOW_KINDS,
    SIZED_KINDS,
    VLEN_MASK,
    KindNum,
    kind_name,
)
from .names import essential_name
from .types import VOID, EnumValue, Member, Param, Type, VarSecInfo

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from typing import Any

Buffer = bytes | bytearray | memoryview

MIN_HEADER = 24
#: Longest chain of modifiers/typedefs followed before we call it a cycle.
MAX_CHAIN = 1024
#: libbpf's resolve depth for sizes (MAX_RESOLVE_DEPTH).
MAX_RESOLVE_DEPTH = 32
#: More distinct string offsets than this for one name: search the name column with a set
#: instead of once per offset (only hand-made or hostile BTF repeats strings).
_MAX_PER_OFFSET_SEARCHES = 8
#: Name searches done in the type section before the name column is built instead.
_MAX_SECTION_SEARCHES = 8

#: libbpf's spellings of ``long``/``unsigned long`` used to guess the pointer size.
_LONG_NAMES = frozenset(
    {
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
    }
)

_TRAILERS = L.TRAILER_SIZES

#: Environment variable naming a directory for the on-disk index cache (see Spec).
CACHE_ENV = "COREPY_BTF_CACHE"
#: Blobs smaller than this are always scanned: the scan is cheaper than a file read.
CACHE_MIN_SIZE = 1 << 20
_CACHE_MAGIC = b"corepy-btf-index"
_CACHE_VERSION = 1
_CACHE_HEAD = struct.Struct("=16sIIIIIII")  # magic, version, size, crc, base crc, n, crc*2

# Kind numbers as plain module-level ints for the hot paths (faster than attribute access).
_INT, _PTR, _ARRAY, _STRUCT = KindNum.INT, KindNum.PTR, KindNum.ARRAY, KindNum.STRUCT
_UNION, _ENUM, _FWD, _TYPEDEF = KindNum.UNION, KindNum.ENUM, KindNum.FWD, KindNum.TYPEDEF
_FUNC, _FUNC_PROTO, _VAR = KindNum.FUNC, KindNum.FUNC_PROTO, KindNum.VAR
_DATASEC, _DECL_TAG, _ENUM64 = KindNum.DATASEC, KindNum.DECL_TAG, KindNum.ENUM64
#: What skip_mods_and_typedefs follows.
_MODS_TYPEDEF = MODIFIER_KINDS | {_TYPEDEF}

_HeaderBase = namedtuple(
    "_HeaderBase",
    "magic version flags hdr_len type_off type_len str_off str_len layout_off layout_len",
    defaults=(0, 0),
)


class Header(_HeaderBase):
    """The decoded BTF header; offsets are relative to the end of the header (``hdr_len``).

    ``layout_off``/``layout_len`` are 0 unless ``hdr_len >= 32``.
    """

    __slots__ = ()
    magic: int
    version: int
    flags: int
    hdr_len: int
    type_off: int
    type_len: int
    str_off: int
    str_len: int
    layout_off: int
    layout_len: int


def detect_byteorder(data: Buffer) -> str | None:
    """``"little"``/``"big"`` from the BTF magic, or None if ``data`` is not BTF."""
    head = bytes(data[:2])
    if head == b"\x9f\xeb":
        return "little"
    if head == b"\xeb\x9f":
        return "big"
    return None


def _s32(v: int) -> int:
    return v - 0x100000000 if v & 0x80000000 else v


class Spec:
    """A BTF blob, indexed but not decoded.

    ``Spec(data)`` parses raw BTF as found in ``/sys/kernel/btf/vmlinux`` or an ELF ``.BTF``
    section. Pass ``base`` for split BTF (module BTF on vmlinux). ``ptr_size`` overrides the
    pointer size; by default it is guessed like libbpf does (from ``long``), inherited from
    the base for split BTF.

    ``cache_dir`` (default: the directory in ``$COREPY_BTF_CACHE``, if set) keeps the
    scan's result on disk for blobs of 1 MiB or more, keyed by size and CRC-32 of the blob
    (and of its base): opening the same kernel BTF again then costs a CRC and a 1 MB read
    instead of the ~25 ms scan. A missing, stale or damaged cache file is simply rebuilt.

    ``name_column=True`` records every type's ``name_off`` during the scan (~+30 % scan
    time), which makes each later name search ~3x cheaper and avoids importing ``re``: for
    callers that will search many names, such as CO-RE's candidate search. The cache
    always holds the column.
    """

    first_id: int
    type_count: int
    str_base: int

    def __init__(
        self,
        data: Buffer,
        *,
        source: str = "<bytes>",
        base: Spec | None = None,
        ptr_size: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        name_column: bool = False,
    ) -> None:
        self.source = source
        self.base = base
        self._data: bytes = data if isinstance(data, bytes) else bytes(data)
        #: "little" or "big": the blob's byte order, from its magic.
        self.byteorder = "little"
        self.header = self._parse_header()
        #: ``struct`` prefix of the blob's byte order.
        self.endian = "<" if self.byteorder == "little" else ">"
        hdr = self.header
        self._type_start = hdr.hdr_len + hdr.type_off
        self._str_start = hdr.hdr_len + hdr.str_off
        self._str_end = self._str_start + hdr.str_len
        #: First own type id (1 for base BTF; the base's type count for split BTF).
        self.first_id = base.type_count if base is not None else 1
        #: First logical string offset of this blob's own strings.
        self.str_base = (base.str_base + base.header.str_len) if base is not None else 0
        self._check_strings()
        self._layout = self._parse_layout()
        self._w: memoryview | array[int] = self._words()
        if cache_dir is None:
            cache_dir = os.environ.get(CACHE_ENV) or None
        self._offs, self._names = self._index(cache_dir, name_column)
        #: Number of ids including void and the base's ids (libbpf ``btf__type_cnt``).
        self.type_count = self.first_id + len(self._offs)
        self._cache: dict[int, Type] = {}
        self._str_cache: dict[int, str] = {0: ""} if base is None else {}
        #: Bytes decoded for offsets that point into the middle of a string (see string()).
        self._overlap = 0
        self._overlap_budget = 4 * hdr.str_len + (1 << 20)
        self._ess_memo: dict[bytes, list[int]] = {}
        self._names_bytes: bytes | None = None
        self._section_searches = 0
        self._offsets_memo: dict[bytes, list[int]] = {}
        self._ids_memo: dict[str, list[int]] = {}
        self._ptr_override = ptr_size
        self._ptr_size = ptr_size
        self._long_size: int | None = -1  # -1: not searched yet

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
            layout_off, layout_len = struct.unpack_from(lfmt, data, 24)
            hdr = hdr._replace(layout_off=layout_off, layout_len=layout_len)
            known = 32
        else:
            known = 24
        if data.count(0, known, hdr.hdr_len) != hdr.hdr_len - known:
            first = next(i for i in range(known, hdr.hdr_len) if data[i])
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
                f"{hdr.hdr_len + hdr.type_off + hdr.type_len}) is not before the string "
                f"section at {hdr.hdr_len + hdr.str_off}"
            )
        if hdr.str_len and hdr.str_len - 1 > 0x7FFFFFFF:
            raise self._err(f"string section length {hdr.str_len} exceeds 2 GiB")
        if hdr.layout_len:
            lo, ll = hdr.layout_off, hdr.layout_len
            if lo % 4 or ll % 4:
                raise self._err(f"layout section offset {lo} / length {ll} not 4-byte aligned")
            # libbpf places it between types and strings; an earlier proposal put it after
            # the strings. Accept either, as long as it overlaps nothing and fits.
            t_end = hdr.type_off + hdr.type_len
            s_end = hdr.str_off + hdr.str_len
            between = lo >= t_end and lo + ll <= hdr.str_off
            after = lo >= s_end and lo + ll <= body
            if not (between or after):
                raise self._err(
                    f"layout section [{hdr.hdr_len + lo}, {hdr.hdr_len + lo + ll}) overlaps "
                    "the type or string section or runs past the end"
                )
        return hdr

    def _check_strings(self) -> None:
        data, start, end = self._data, self._str_start, self._str_end
        if self.base is None:
            if start == end:
                raise self._err("string section is empty (base BTF needs at least one NUL)")
            if data[start] != 0:
                raise self._err(
                    f"string section at offset {start} does not start with NUL: "
                    "malformed, or split BTF opened without its base (use --base)"
                )
        if start != end and data[end - 1] != 0:
            raise self._err(
                f"string section does not end with NUL (last byte at offset {end - 1})"
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
            if kind > KIND_MASK:
                break  # kinds are 7 bits: records past 127 can never be used
            if info_sz % 4 or elem_sz % 4:
                raise self._err(
                    f"layout record for kind {kind} at offset {start + 4 * kind} has sizes "
                    f"{info_sz}/{elem_sz} that are not multiples of 4"
                )
            out[kind] = (info_sz, elem_sz)
        return out

    def _words(self) -> memoryview | array[int]:
        """The type section as native-order u32 words (a view for native-order blobs)."""
        start = self._type_start
        raw = memoryview(self._data)[start : start + self.header.type_len]
        if self.byteorder == sys.byteorder:
            return raw.cast("I")
        words = array("I")
        words.frombytes(raw)
        words.byteswap()
        return words

    def _record_words(self, info: int, type_id: int, pos: int) -> int:
        kind = (info >> KIND_SHIFT) & KIND_MASK
        vlen = info & VLEN_MASK
        sizes = _TRAILERS.get(kind) if 0 < kind <= MAX_KNOWN_KIND else None
        if sizes is None:
            sizes = self._layout.get(kind)
            if sizes is None:
                raise BTFFormatError(
                    f"type [{type_id}] at offset {self._type_start + 4 * pos} has unknown kind "
                    f"{kind} and no layout section describes it",
                    source=self.source,
                )
        single, elem = sizes
        return 3 + (single + vlen * elem) // 4

    def _index(self, cache_dir: str | os.PathLike[str] | None, name_column: bool
               ) -> tuple[array[int], array[int] | None]:
        """The offset column, and the name column when asked for or when it comes cheaply:
        from the on-disk cache when valid, else a scan (with names when the result is
        cached or ``name_column``)."""
        if cache_dir is None or len(self._data) < CACHE_MIN_SIZE:
            self._crc = 0
            if name_column:
                return self._scan_with_names()
            return self._scan(), None
        import zlib

        self._crc = zlib.crc32(self._data)
        base_crc = self.base._crc if self.base is not None else 0
        path = os.path.join(
            os.fsdecode(cache_dir),
            f"{len(self._data):x}-{self._crc:08x}-{base_crc:08x}-{sys.byteorder[0]}.idx",
        )
        cached = self._load_index(path, base_crc, zlib.crc32)
        if cached is not None:
            return cached
        offs, names = self._scan_with_names()
        self._store_index(path, base_crc, offs, names, zlib.crc32)
        return offs, names

    def _load_index(self, path: str, base_crc: int, crc32: Callable[[bytes], int]
                    ) -> tuple[array[int], array[int]] | None:
        """A cached index, or None when missing, stale or damaged (never an error)."""
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError:
            return None
        head = _CACHE_HEAD.size
        if len(raw) < head:
            return None
        magic, ver, size, crc, bcrc, n, offs_crc, names_crc = _CACHE_HEAD.unpack_from(raw)
        if (magic, ver, size, crc, bcrc) != (
            _CACHE_MAGIC, _CACHE_VERSION, len(self._data), self._crc, base_crc
        ) or len(raw) != head + 8 * n:
            return None
        ob, nb = raw[head : head + 4 * n], raw[head + 4 * n :]
        if crc32(ob) != offs_crc or crc32(nb) != names_crc:
            return None
        offs, names = array("I"), array("I")
        offs.frombytes(ob)
        names.frombytes(nb)
        # Cheap consistency checks against the data: first and last records, some names.
        w = self._w
        nw = len(w)
        if n:
            last = offs[-1]
            if offs[0] != 0 or last + 2 >= nw:
                return None
            try:
                end = last + self._record_words(w[last + 1], 0, last)
            except BTFFormatError:
                return None
            if end != nw or any(names[i] != w[offs[i]] for i in range(0, n, max(1, n // 64))):
                return None
        elif nw:
            return None
        return offs, names

    def _store_index(self, path: str, base_crc: int, offs: array[int], names: array[int],
                     crc32: Callable[[bytes], int]) -> None:
        """Write the index atomically; failures (read-only dir, full disk) are ignored."""
        ob, nb = offs.tobytes(), names.tobytes()
        head = _CACHE_HEAD.pack(_CACHE_MAGIC, _CACHE_VERSION, len(self._data), self._crc,
                                base_crc, len(offs), crc32(ob), crc32(nb))
        tmp = f"{path}.{os.getpid()}.tmp"
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(head + ob + nb)
            os.replace(tmp, path)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass

    def _scan(self) -> array[int]:
        """Walk the type section once: each type's start, in u32 words.

        This is the only full pass over the types (~14 ms for a kernel, the floor of a
        Python loop over 127k variable-length records); ~300 distinct info words occur in
        a kernel, so record lengths come from a memo, and the inner loop is three
        operations per record: the memo is filled in the ``KeyError`` path and the walk
        ends with ``IndexError`` past the last word. A record that claims more trailing
        data than the section holds ends the walk at once.
        """
        info = memoryview(self._w)[1:]  # info[pos] is the info word of a record at pos
        offs = array("I")
        add = offs.append
        steps: dict[int, int] = {}
        pos = 0
        while True:
            try:
                while True:
                    add(pos)
                    pos += steps[info[pos]]
            except KeyError:  # a new info word: its length, then walk on from pos
                word = info[pos]
                steps[word] = self._record_words(word, self.first_id + len(offs) - 1, pos)
                offs.pop()
            except IndexError:  # pos is at (or past) the end: it starts no record
                offs.pop()
                break
        self._check_scan_end(pos, offs)
        return offs

    def _scan_with_names(self) -> tuple[array[int], array[int]]:
        """:meth:`_scan` that also records each type's ``name_off`` (the name column).

        Recording it costs ~1/3 more than the bare walk (~5 ms for a kernel), so only a
        scan whose result goes into the on-disk cache or a caller that searches many names
        asks for it; otherwise names are searched in the type section itself (see
        :meth:`_ids_with_name_offs`).
        """
        words = self._w
        info = memoryview(words)[1:]
        offs = array("I")
        add = offs.append
        names = array("I")
        nadd = names.append
        steps: dict[int, int] = {}
        pos = 0
        while True:
            try:
                while True:
                    add(pos)
                    nadd(words[pos])
                    pos += steps[info[pos]]
            except KeyError:
                word = info[pos]
                steps[word] = self._record_words(word, self.first_id + len(offs) - 1, pos)
                offs.pop()
                names.pop()
            except IndexError:  # from words[pos] (pos at the end) or info[pos]
                offs.pop()
                if len(names) > len(offs):
                    names.pop()
                break
        self._check_scan_end(pos, offs)
        return offs, names

    def _check_scan_end(self, pos: int, offs: array[int]) -> None:
        nw = len(self._w)
        if pos != nw:
            # Past the end: the last record claimed more data than is left. Short of it:
            # one word is left, the start of a record whose info word was cut off.
            n = len(offs) - 1 if pos > nw else len(offs)
            start = offs[n] if n < len(offs) else pos
            raise self._err(
                f"type [{self.first_id + n}] at offset {self._type_start + 4 * start} runs "
                f"past the end of the type section ({self.header.type_len} bytes): "
                "truncated or malformed types"
            )

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
    def words(self) -> memoryview | array[int]:
        """The type section as native-order u32 words (``type_offset`` indexes into it)."""
        return self._w

    @property
    def own_ids(self) -> range:
        """Ids of the types stored in this blob (not its base's)."""
        return range(self.first_id, self.type_count)

    @property
    def is_split(self) -> bool:
        return self.base is not None

    @property
    def ptr_size(self) -> int:
        """Pointer size in bytes for size resolution (libbpf's rules).

        An explicit ``ptr_size`` wins; otherwise the size of the first INT (in id order,
        base first) of size 4 or 8 named like ``long``/``unsigned long``; otherwise the
        host's pointer size.
        """
        if self._ptr_size is None:
            guess = self._determined_ptr_size()
            self._ptr_size = guess if guess is not None else struct.calcsize("P")
        return self._ptr_size

    def _determined_ptr_size(self) -> int | None:
        """Explicit or guessed pointer size of this blob or its bases; None if unknown."""
        if self._ptr_override is not None:
            return self._ptr_override
        if self.base is not None:
            found = self.base._determined_ptr_size()
            if found is not None:
                return found
        return self._long_int_size()

    def _long_int_size(self) -> int | None:
        """Size of the first own INT of size 4/8 named like ``long``; None if there is none."""
        if self._long_size == -1:
            self._long_size = None
            w = self._w
            nw = len(w)
            for pos in self._offs:
                if pos + 2 >= nw:
                    break  # only with a mismatched cached index; type() reports it
                if (w[pos + 1] >> 24) & 0x7F == _INT and w[pos + 2] in (4, 8):
                    try:
                        name = self.string(w[pos])
                    except BTFFormatError:
                        continue
                    if name in _LONG_NAMES:
                        self._long_size = w[pos + 2]
                        break
        return self._long_size

    def string(self, off: int) -> str:
        """The string at logical offset ``off`` (offsets continue the base's for split BTF).

        Invalid UTF-8 is decoded with replacement characters. Raises
        :class:`BTFFormatError` for offsets outside the string sections. Offsets may point
        into the middle of a string (libbpf allows it), but the bytes decoded that way are
        budgeted to a few times the section size, so hostile offsets cannot make decoding
        quadratic.
        """
        s = self._str_cache.get(off)
        if s is not None:
            return s
        if off < self.str_base:
            if self.base is None or off < 0:
                raise BTFFormatError(f"string offset {off} is negative", source=self.source)
            return self.base.string(off)
        start = self._str_start + off - self.str_base
        end_sec = self._str_end
        if start >= end_sec:
            raise BTFFormatError(
                f"string offset {off} is beyond the string section "
                f"(valid offsets are below {self.str_base + self.header.str_len})",
                source=self.source,
            )
        data = self._data
        end = data.index(b"\0", start, end_sec)  # the section ends with NUL: always found
        if start > self._str_start and data[start - 1]:
            self._overlap += end - start
            if self._overlap > self._overlap_budget:
                raise BTFFormatError(
                    f"string offset {off} points into the middle of a string, and such "
                    "offsets have decoded more than 4x the string section: refusing",
                    source=self.source,
                )
        s = data[start:end].decode("utf-8", "replace")
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

    def header_words(self, type_id: int) -> tuple[int, int, int]:
        """``(name_off, info, size_or_type)`` of ``type_id`` without decoding it."""
        idx = type_id - self.first_id
        if idx < 0:
            if type_id == 0:
                return (0, 0, 0)
            if self.base is not None and type_id > 0:
                return self.base.header_words(type_id)
        offs = self._offs
        if idx < 0 or idx >= len(offs):
            self._idx(type_id)  # raises the out-of-range error
        pos = offs[idx]
        w = self._w
        try:
            return (w[pos], w[pos + 1], w[pos + 2])
        except IndexError:
            raise self._stale_index(type_id) from None

    _header_words = header_words

    def _stale_index(self, type_id: int) -> BTFFormatError:
        # Only reachable with a cached index that does not belong to this blob (a CRC-32
        # collision): the scan guarantees every indexed record lies inside the section.
        return self._err(f"type [{type_id}]: the index does not match the data "
                         f"(stale {CACHE_ENV} cache?)")

    def type_offset(self, type_id: int) -> int:
        """Word position of own type ``type_id`` in :attr:`words` (no decoding, no checks)."""
        return self._offs[self._idx(type_id)]

    def kind(self, type_id: int) -> int:
        """Kind of ``type_id`` without decoding it."""
        return (self.header_words(type_id)[1] >> KIND_SHIFT) & KIND_MASK

    def name(self, type_id: int) -> str:
        """Name of ``type_id`` ('' if anonymous) without decoding it."""
        return self.string(self.header_words(type_id)[0]) if type_id else ""

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
        try:
            t = self._decode(type_id)
        except (IndexError, ValueError):
            raise self._stale_index(type_id) from None
        self._cache[type_id] = t
        return t

    def __getitem__(self, type_id: int) -> Type:
        return self.type(type_id)

    def _bad_ref(self, type_id: int, ref: int, what: str) -> BTFTypeError:
        return BTFTypeError(
            f"type [{type_id}] {what} refers to type id {ref}, beyond the last id "
            f"{self.type_count - 1}",
            source=self.source,
        )

    def _check_refs(self, type_id: int, refs: list[int], what: str) -> None:
        if refs and max(refs) >= self.type_count:
            i = next(i for i, r in enumerate(refs) if r >= self.type_count)
            raise self._bad_ref(type_id, refs[i], f"{what} #{i}")

    def _name(self, type_id: int, off: int, what: str) -> str:
        s = self._str_cache.get(off)
        if s is not None:
            return s
        try:
            return self.string(off)
        except BTFFormatError as e:
            raise BTFTypeError(
                f"type [{type_id}] {what}name offset {off} is invalid: {e.args[0]}",
                source=self.source,
            ) from None

    def _names_of(self, type_id: int, offs: list[int], what: str) -> list[str]:
        """Names of a record's members/params/enumerators (the hot path of decoding).

        Own strings that start right after a NUL are decoded inline; everything else
        (base strings, mid-string offsets, bad offsets) goes through :meth:`string`.
        """
        cache = self._str_cache
        get = cache.get
        out = list(map(get, offs))
        if None not in out:
            return out  # type: ignore[return-value]
        data = self._data
        index = data.index
        lo = self.str_base
        shift = self._str_start - lo
        sec_start, sec_end = self._str_start, self._str_end
        for i, s in enumerate(out):
            if s is None:
                o = offs[i]
                start = o + shift
                if o >= lo and sec_start < start < sec_end and not data[start - 1]:
                    s = cache[o] = data[start : index(b"\0", start, sec_end)].decode(
                        "utf-8", "replace"
                    )
                else:
                    s = self._name(type_id, o, f"{what} #{i} ")
                out[i] = s
        return out  # type: ignore[return-value]

    def _decode(self, type_id: int) -> Type:
        offs = self._offs
        idx = type_id - self.first_id
        if idx < 0 or idx >= len(offs):
            self._idx(type_id)  # raises the out-of-range error
        pos = offs[idx]
        w = self._w
        name_off, info, st = w[pos], w[pos + 1], w[pos + 2]
        kind = (info >> 24) & 0x7F
        vlen = info & 0xFFFFFF
        name = self._str_cache.get(name_off)
        if name is None:
            name = self._name(type_id, name_off, "")
        t = Type(type_id, kind, name, name_off, info, st, 4 * pos)
        if kind in REF_KINDS and st >= self.type_count:
            raise self._bad_ref(type_id, st, kind_name(kind))
        if kind == _FUNC:
            if st >= self.first_id:
                target = (w[offs[st - self.first_id] + 1] >> 24) & 0x7F
            else:
                target = (self.header_words(st)[1] >> 24) & 0x7F if st else 0
            if target != _FUNC_PROTO:
                raise BTFTypeError(
                    f"type [{type_id}] FUNC '{name}' refers to type [{st}], a "
                    f"{kind_name(target)}, not a FUNC_PROTO",
                    source=self.source,
                )
        elif kind == _FUNC_PROTO:
            vals = w[pos + 3 : pos + 3 + 2 * vlen].tolist()
            noffs, types = vals[0::2], vals[1::2]
            names = self._names_of(type_id, noffs, "param")
            self._check_refs(type_id, types, "param")
            t.params = tuple(map(Param, names, noffs, types))
        elif kind == _STRUCT or kind == _UNION:
            vals = w[pos + 3 : pos + 3 + 3 * vlen].tolist()
            noffs, types, offsets = vals[0::3], vals[1::3], vals[2::3]
            names = self._names_of(type_id, noffs, "member")
            self._check_refs(type_id, types, "member")
            if info >> KIND_FLAG_SHIFT:
                t.members = tuple(
                    [
                        Member(n, no, ty, off & 0xFFFFFF, off >> 24, off)
                        for n, no, ty, off in zip(names, noffs, types, offsets, strict=True)
                    ]
                )
            else:
                t.members = tuple(
                    [
                        Member(n, no, ty, off, 0, off)
                        for n, no, ty, off in zip(names, noffs, types, offsets, strict=True)
                    ]
                )
        elif kind == _INT:
            enc = w[pos + 3]
            t.encoding = (enc >> 24) & 0x0F
            t.bits_offset = (enc >> 16) & 0xFF
            t.bits = enc & 0xFF
        elif kind == _ARRAY:
            elem, index, nelems = w[pos + 3], w[pos + 4], w[pos + 5]
            if elem >= self.type_count:
                raise self._bad_ref(type_id, elem, "ARRAY element")
            if index >= self.type_count:
                raise self._bad_ref(type_id, index, "ARRAY index")
            t.elem_type, t.index_type, t.nelems = elem, index, nelems
        elif kind == _ENUM:
            vals = w[pos + 3 : pos + 3 + 2 * vlen].tolist()
            noffs = vals[0::2]
            names = self._names_of(type_id, noffs, "enumerator")
            t.values = tuple(map(EnumValue, names, noffs, map(_s32, vals[1::2])))
        elif kind == _ENUM64:
            vals = w[pos + 3 : pos + 3 + 3 * vlen].tolist()
            noffs = vals[0::3]
            names = self._names_of(type_id, noffs, "enumerator")
            t.values = tuple(
                EnumValue(n, no, lo | (hi << 32))
                for n, no, lo, hi in zip(names, noffs, vals[1::3], vals[2::3], strict=True)
            )
        elif kind == _VAR:
            t.linkage = w[pos + 3]
        elif kind == _DATASEC:
            vals = w[pos + 3 : pos + 3 + 3 * vlen].tolist()
            types = vals[0::3]
            self._check_refs(type_id, types, "DATASEC entry")
            t.secinfos = tuple(map(VarSecInfo, types, vals[1::3], vals[2::3]))
        elif kind == _DECL_TAG:
            t.component_idx = _s32(w[pos + 3])
        elif kind > MAX_KNOWN_KIND or kind == 0:
            single, elem_sz = self._layout[kind]
            body = self._type_start + 4 * pos + 12
            t.extra = self._data[body : body + single + vlen * elem_sz]
        return t

    def iter_types(self) -> Iterator[Type]:
        """Every own type in id order (decoded, memoised)."""
        for tid in self.own_ids:
            yield self.type(tid)

    def validate(self) -> None:
        """Check every own type like libbpf does after parsing; raise on the first problem.

        Checks name offsets (types, members, params, enumerators), referenced type ids and
        FUNC -> FUNC_PROTO. Types are decoded but not memoised, so validating a kernel does
        not keep 100k objects alive.
        """
        cache = self._cache
        decode = self._decode
        for tid in self.own_ids:
            if tid not in cache:
                try:
                    decode(tid)
                except (IndexError, ValueError):
                    raise self._stale_index(tid) from None

    # ------------------------------------------------------------------ names
    def _own_string_offsets(self, name: bytes) -> list[int]:
        """Logical offsets of every string in this blob's own section equal to ``name``."""
        memo = self._offsets_memo.get(name)
        if memo is not None:
            return memo
        data, start, end = self._data, self._str_start, self._str_end
        out = []
        if start < end and data.startswith(name + b"\0", start, end):
            out.append(self.str_base)
        needle = b"\0" + name + b"\0"
        i = data.find(needle, start, end)
        while i >= 0:
            out.append(self.str_base + i + 1 - start)
            i = data.find(needle, i + 1 + len(name), end)
        if len(self._offsets_memo) < 4096:
            self._offsets_memo[name] = out
        return out

    def _string_offsets(self, name: bytes) -> list[int]:
        offs = self._own_string_offsets(name)
        if self.base is not None:
            offs = self.base._string_offsets(name) + offs
        return offs

    def _ids_with_name_offs(self, offsets: list[int]) -> list[int]:
        """Own type ids whose ``name_off`` is one of ``offsets``, in id order.

        With the name column (from the on-disk cache, or built after a few searches): its
        bytes are searched for each offset (C speed, ~0.2 ms for a kernel), or, for many
        offsets (only non-deduplicated or hostile BTF), matched in one pass with a set.
        Without it, the type section itself is searched for the offset (~1 ms for a
        kernel) and a hit is kept when it is a record's first word (a binary search in
        the offset column): cheaper than the ~6 ms the scan would spend recording names
        for the one to seven look-ups of a typical run.
        """
        if not offsets:
            return []
        names = self._names
        if names is None and (len(offsets) > _MAX_PER_OFFSET_SEARCHES
                              or self._section_searches >= _MAX_SECTION_SEARCHES):
            # many look-ups: building the column (~10 ms for a kernel) now pays for itself
            names = self._names = array("I", map(self._w.__getitem__, self._offs))
        first = self.first_id
        if names is not None and len(offsets) > _MAX_PER_OFFSET_SEARCHES:
            want = set(offsets)
            return [first + i for i in compress(range(len(names)),
                                                map(want.__contains__, names))]
        if names is None:
            self._section_searches += 1
            data, start = self._data, self._type_start
            end = start + self.header.type_len
            pack = struct.Struct(self.endian + "I").pack
        else:
            col = self._names_bytes
            if col is None:
                col = self._names_bytes = names.tobytes()
            data, start, end = col, 0, len(col)
            pack = struct.Struct("=I").pack
        # re scans ~2x faster than bytes.find, whose skip loop stalls on the many zero
        # bytes of small numbers (kernel type section: ~3 vs ~6 ms a name), but importing
        # it costs ~10 ms in a fresh interpreter (enum, functools, sre). So: use it when
        # loaded; import it from the second kernel-sized search on, when more are likely.
        rx = sys.modules.get("re")
        if rx is None and end - start >= CACHE_MIN_SIZE and self._section_searches > 1:
            import re as rx
        offs = self._offs
        n = len(offs)
        ids: list[int] = []
        for off in offsets:
            if off > 0xFFFFFFFF:
                continue
            pat = pack(off)
            hits = self._aligned_hits(data, pat, start, end, rx)
            if names is not None:
                ids += [first + (i >> 2) for i in hits]
                continue
            for i in hits:
                w = i >> 2
                k = bisect_left(offs, w)
                if k < n and offs[k] == w:
                    ids.append(first + k)
        if len(offsets) > 1:
            ids.sort()
        return ids

    @staticmethod
    def _aligned_hits(data: bytes, pat: bytes, start: int, end: int, rx: Any) -> list[int]:
        """Offsets (relative to ``start``, multiples of 4) where the 4 bytes ``pat`` occur
        in ``data[start:end]``, overlapping occurrences included."""
        out: list[int] = []
        if rx is not None:
            for m in rx.compile(rx.escape(pat)).finditer(data, start, end):
                i = m.start() - start
                if not i & 3:
                    out.append(i)
                    continue
                # a non-overlapping search resumes after this unaligned hit, so check the
                # one aligned position it overlaps
                j = (i | 3) + 1
                if data.startswith(pat, start + j, end):
                    out.append(j)
            return out
        i = data.find(pat, start, end)
        while i >= 0:
            if not (i - start) & 3:
                out.append(i - start)
            i = data.find(pat, i + 1, end)
        return out

    def _filter_kind(self, ids: list[int], kind: int | None) -> list[int]:
        if kind is None:
            return list(ids)
        return [i for i in ids if self.kind(i) == kind]

    @staticmethod
    def _encode_name(name: str) -> bytes | None:
        if not name or "\0" in name:
            return None
        try:
            return name.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return None

    def find_by_name(
        self, name: str, kind: int | None = None, *, own_only: bool = False
    ) -> list[int]:
        """Ids of the types named exactly ``name`` (optionally of one kind), in id order.

        Split BTF searches its base first unless ``own_only``. Results are memoised per
        name, so repeated lookups cost a dict get.
        """
        own = self._ids_memo.get(name)
        if own is None:
            enc = self._encode_name(name)
            own = [] if enc is None else self._ids_with_name_offs(self._string_offsets(enc))
            if len(self._ids_memo) < 4096:
                self._ids_memo[name] = own
        ids = own
        if self.base is not None and not own_only:
            ids = self.base.find_by_name(name) + own
        return self._filter_kind(ids, kind)

    def _own_essential_offsets(self, ess: bytes) -> list[int]:
        """Logical offsets of own strings whose essential name is ``ess``, in order.

        Such a string is ``ess`` itself or ``ess___flavor``, so it starts with ``ess``:
        one search for ``NUL ess`` finds both (the ~1 ms pass over a kernel's string
        section that an exact search costs anyway); each hit is then checked whole.
        """
        memo = self._ess_memo.get(ess)
        if memo is not None:
            return memo
        data, start, end = self._data, self._str_start, self._str_end
        out: list[int] = []
        n = len(ess)
        flavored = ess + b"___"
        ess_str: str | None = None
        i = start - 1 if start < end and data.startswith(ess, start, end) else -1
        if i < 0:
            i = data.find(b"\0" + ess, start, end)
        while i >= 0:
            s = i + 1
            e = data.index(b"\0", s, end)  # the section ends with NUL: always found
            if e == s + n:
                out.append(self.str_base + s - start)
            elif data.startswith(flavored, s, e):
                if ess_str is None:
                    ess_str = ess.decode("utf-8", "surrogateescape")
                full = data[s:e].decode("utf-8", "surrogateescape")
                if essential_name(full) == ess_str:
                    out.append(self.str_base + s - start)
            i = data.find(b"\0" + ess, e, end)
        if len(self._ess_memo) < 4096:
            self._ess_memo[ess] = out
        return out

    def _essential_offsets(self, ess: bytes) -> list[int]:
        offs = self._own_essential_offsets(ess)
        if self.base is not None:
            offs = self.base._essential_offsets(ess) + offs
        return offs

    def find_by_essential_name(
        self, name: str, kind: int | None = None, *, own_only: bool = False
    ) -> list[int]:
        """Ids whose essential name equals ``essential_name(name)``, in id order.

        This is CO-RE's candidate search (libbpf scans all types comparing essential names);
        only the string section and the ``name_off`` column are searched.
        """
        ess = essential_name(name)
        enc = self._encode_name(ess)
        if enc is None:
            return []
        ids = self._ids_with_name_offs(sorted(set(self._essential_offsets(enc))))
        if self.base is not None and not own_only:
            ids = self.base.find_by_essential_name(ess) + ids
        return self._filter_kind(ids, kind)

    # ------------------------------------------------------------------ helpers for CO-RE
    def skip_mods(self, type_id: int) -> int:
        """Follow const/volatile/restrict/type_tag links."""
        return self._follow(type_id, MODIFIER_KINDS, "modifier")

    def skip_mods_and_typedefs(self, type_id: int) -> int:
        """Follow modifiers and typedefs to the underlying type (libbpf's rule)."""
        return self._follow(type_id, _MODS_TYPEDEF, "typedef/modifier")

    def _follow(self, type_id: int, kinds: frozenset[int], what: str) -> int:
        """Follow the type word while the type's kind is in ``kinds``, at most MAX_CHAIN."""
        start = type_id
        for _ in range(MAX_CHAIN):
            _no, info, st = self.header_words(type_id)
            if (info >> 24) & 0x7F not in kinds:
                return type_id
            type_id = st
        raise BTFReferenceCycleError(
            f"type [{start}]: {what} chain longer than {MAX_CHAIN} links (a cycle?)",
            source=self.source,
        )

    def resolve_size(self, type_id: int) -> int:
        """Byte size of ``type_id`` following libbpf's ``btf__resolve_size``.

        Raises :class:`BTFTypeError` for void, FWD, FUNC, FUNC_PROTO and unknown kinds, and
        when an array's size overflows 32 bits; :class:`BTFReferenceCycleError` for chains
        deeper than 32 links.
        """
        start = type_id
        nelems = 1
        for _ in range(MAX_RESOLVE_DEPTH):
            _no, info, st = self.header_words(type_id)
            k = (info >> 24) & 0x7F
            if k in SIZED_KINDS:
                size = st
                break
            if k == _PTR:
                size = self.ptr_size
                break
            if k in SIZE_FOLLOW_KINDS:
                type_id = st
                continue
            if k == _ARRAY:
                arr = self.type(type_id)
                if nelems and arr.nelems > 0xFFFFFFFF // nelems:
                    raise BTFTypeError(
                        f"type [{start}]: array size overflows 32 bits", source=self.source
                    )
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


__all__ = ["Buffer", "Header", "Spec", "detect_byteorder"]
