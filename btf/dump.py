"""``bpftool btf dump`` (format raw) as pure functions over a :class:`~btf.spec.Spec`.

The text output is byte-for-byte what bpftool 7.1 prints; the JSON output parses to what
``bpftool -j`` prints (see ``docs/btf-dump.md`` for the one deliberate difference).

Why this module reads the type section itself instead of calling ``Spec.type``: dumping a
kernel means formatting ~300k lines, and building a ``Type`` object per record would cost
more than all the formatting. So the renderer walks the raw u32 words record by record and
formats straight from them, looking names up in a memoised offset -> str table. A dump
therefore also shows what is actually stored, like bpftool: it does not chase references
(an out-of-range type id is printed as is, an out-of-range name offset as ``(invalid)``).
Filtered dumps find their types through the Spec's index and name search, so they decode
only the records they print.

Names are decoded with ``surrogateescape`` so that non-UTF-8 bytes survive a round trip;
write the output through a stream with ``errors="surrogateescape"`` to reproduce them.
"""

from __future__ import annotations

import sys
from array import array
from itertools import accumulate, count
from operator import add

from ._layouts import TRAILER_SIZES
from .errors import BTFError, BTFTypeError
from .kinds import KIND_MASK, KIND_NAMES, KIND_SHIFT, MAX_KNOWN_KIND, VLEN_MASK, KindNum
from .spec import Spec

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TextIO

__all__ = [
    "KIND_CHOICES",
    "dump_json",
    "dump_text",
    "format_type",
    "kind_from_name",
    "select",
]

#: Kinds accepted by :func:`kind_from_name`: bpftool's spellings, lower-cased.
KIND_CHOICES: tuple[str, ...] = tuple(
    KIND_NAMES[k].lower() for k in sorted(KIND_NAMES) if k != KindNum.UNKN
)

_INT_ENC = ["UNKN"] * 16
_INT_ENC[0], _INT_ENC[1], _INT_ENC[2], _INT_ENC[4] = "(none)", "SIGNED", "CHAR", "BOOL"
_LINKAGE = ("static", "global", "extern")
_FUNC_TAIL = tuple(f" linkage={lk}\n" for lk in _LINKAGE)
_FUNC_UNK = " linkage=(unknown)\n"
#: Kinds printed as just ``type_id=``: PTR, TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG.
_REF_KINDS = frozenset({2, 8, 9, 10, 11, 18})
_KINDS = [KIND_NAMES.get(k, "UNKNOWN") for k in range(KIND_MASK + 1)]

#: Record length in words by kind: fixed part (0 = a kind only a layout section sizes) and
#: words per vlen element.
_FIXED_WORDS = [0] * (KIND_MASK + 1)
_WORDS_PER_VLEN = [0] * (KIND_MASK + 1)
for _k, (_single, _elem) in TRAILER_SIZES.items():
    if 0 < _k <= MAX_KNOWN_KIND:
        _FIXED_WORDS[_k], _WORDS_PER_VLEN[_k] = 3 + _single // 4, _elem // 4
#: Above this many selected types, decoding the whole string table at once is cheaper.
_PRELOAD_MIN = 2000

#: Types rendered between two writes: big enough that writes are rare, small enough that a
#: kernel dump never holds more than a few MB of pending text.
_CHUNK = 16384

_U32_SIGN = 0x80000000
_S32_ADJ = 1 << 32
_S64_SIGN = 1 << 63
_S64_ADJ = 1 << 64
#: bpftool 7.1 passes an unsigned enumerator's stored s32 to a u64 JSON writer, so values
#: with the top bit set come out sign-extended (0xffffffff -> 18446744073709551615).
_U32_TO_U64_SIGNEXT = 0xFFFFFFFF00000000


def kind_from_name(name: str) -> int:
    """The kind number for a bpftool kind name (any case). Raises ValueError if unknown."""
    up = name.upper()
    for k, n in KIND_NAMES.items():
        if n == up and k != KindNum.UNKN:
            return k
    raise ValueError(f"unknown kind {name!r} (valid kinds: {', '.join(KIND_CHOICES)})")


class _Names(dict[int, str]):
    """Logical string offset -> name as bpftool prints it, filled on first use.

    Offset 0 is ``(anon)`` and offsets beyond the string sections are ``(invalid)``, which
    is what bpftool prints; a split blob's offsets below its own start go to its base.
    The blobs' bytes are searched in place (no copy of the string sections).
    """

    def __init__(self, spec: Spec) -> None:
        super().__init__()
        self[0] = "(anon)"
        #: (first logical offset, blob bytes, start of strings in them, string bytes)
        tables: list[tuple[int, bytes, int, int]] = []
        blob: Spec | None = spec
        while blob is not None:
            hdr = blob.header
            tables.append((blob.str_base, blob.data, hdr.hdr_len + hdr.str_off, hdr.str_len))
            blob = blob.base
        self._tables = tables

    def preload(self) -> None:
        """Decode the top blob's whole string section at once.

        For a full dump nearly every string is printed; one split and one dict build
        (~35 ms for a kernel) beat ~125k separate look-ups several times over.
        """
        base, data, start, size = self._tables[0]
        raw = data[start : start + size]
        text = raw.decode("utf-8", "surrogateescape")
        names = text.split("\0")
        # Offsets advance by byte lengths (equal to str lengths when the table is ASCII).
        lengths = map(len, names if raw.isascii() else raw.split(b"\0"))
        # name i starts at base + (lengths of names 0..i-1) + i separating NULs
        self.update(zip(map(add, accumulate(lengths, initial=base), count()), names,
                        strict=False))
        self[0] = "(anon)"
        # The split leaves an entry just past the section; that offset is "(invalid)".
        self.pop(base + size, None)

    def __missing__(self, off: int) -> str:
        name = "(invalid)"
        for base, data, start, size in self._tables:
            if off >= base:
                if off - base < size:
                    begin = start + off - base
                    end = data.find(b"\0", begin, start + size)
                    name = data[begin : end if end >= 0 else start + size].decode(
                        "utf-8", "surrogateescape"
                    )
                break
        self[off] = name
        return name


class _JNames(dict[int, str]):
    """Logical string offset -> the name as a quoted JSON string, filled on first use."""

    def __init__(self, names: _Names) -> None:
        super().__init__()
        self._names = names
        # Imported here: text dumps should not pay for the json package at start-up.
        from json.encoder import encode_basestring

        self._encode = encode_basestring

    def preload(self) -> None:
        """Encode every name already decoded (see :meth:`_Names.preload`) in one pass."""
        names = self._names
        self.update(zip(names.keys(), map(self._encode, names.values()), strict=True))

    def __missing__(self, off: int) -> str:
        s: str = self._encode(self._names[off])
        self[off] = s
        return s


def _words(blob: Spec) -> memoryview | array[int]:
    """The blob's type section as native u32 words (byte-swapped copy for foreign order)."""
    hdr = blob.header
    start = hdr.hdr_len + hdr.type_off
    raw = memoryview(blob.data)[start : start + hdr.type_len]
    if blob.byteorder == sys.byteorder:
        return raw.cast("I")
    words = array("I")
    words.frombytes(raw)
    words.byteswap()
    return words


class _Blob:
    """One blob's words plus, built only if ever needed, its own id -> position table."""

    __slots__ = ("spec", "words", "_positions")

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.words = _words(spec)
        self._positions: array[int] | None = None

    def record_words(self, tid: int, pos: int) -> int:
        """Length in words of the record for ``tid`` starting at word ``pos``."""
        info = self.words[pos + 1]
        kind = (info >> KIND_SHIFT) & KIND_MASK
        sizes = TRAILER_SIZES.get(kind) if 0 < kind <= MAX_KNOWN_KIND else None
        if sizes is None:
            # A kind only the blob's layout section describes: let the Spec size it.
            return 3 + len(self.spec.type(tid).extra) // 4
        single, elem = sizes
        return 3 + (single + (info & VLEN_MASK) * elem) // 4

    def position(self, tid: int) -> int:
        """Word position of own type ``tid``.

        Normally from the Spec's index (decoding just that type); a type that does not
        decode (a dangling reference, say) is found by walking the section instead, so
        filtered dumps print broken types exactly like the full dump does.
        """
        try:
            return self.spec.type(tid).offset >> 2
        except BTFError:
            pass
        if self._positions is None:
            positions = array("I")
            pos = 0
            for t in self.spec.own_ids:
                positions.append(pos)
                pos += self.record_words(t, pos)
            self._positions = positions
        return self._positions[tid - self.spec.first_id]


class _Ctx:
    """Everything a render loop needs: per-blob words and the shared name tables."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.names = _Names(spec)
        self._jnames: _JNames | None = None
        self._blobs: dict[int, _Blob] = {}

    @property
    def jnames(self) -> _JNames:
        if self._jnames is None:
            self._jnames = _JNames(self.names)
        return self._jnames

    def blob(self, tid: int) -> _Blob:
        spec = self.spec.spec_for(tid)
        b = self._blobs.get(id(spec))
        if b is None:
            b = self._blobs[id(spec)] = _Blob(spec)
        return b

    def ref_label(self, tid: int) -> tuple[str, int] | None:
        """(kind name, name offset) of a DATASEC entry's type; None if it does not exist."""
        if tid == 0:
            return "UNKNOWN", 0
        if tid >= self.spec.type_count:
            return None
        b = self.blob(tid)
        pos = b.position(tid)
        return _KINDS[(b.words[pos + 1] >> KIND_SHIFT) & KIND_MASK], b.words[pos]


# ---------------------------------------------------------------------------- text
#: From this many members/params/enumerators on, a type is printed through one cached
#: %-template (one C-level format call) instead of a Python loop over its lines.
_BULK = 6

_TEMPLATE_PARTS: dict[int, tuple[str, str]] = {
    4: ("[%d] STRUCT '%s' size=%d vlen=%d", "\n\t'%s' type_id=%d bits_offset=%d"),
    5: ("[%d] UNION '%s' size=%d vlen=%d", "\n\t'%s' type_id=%d bits_offset=%d"),
    6: ("[%d] ENUM '%s' encoding=UNSIGNED size=%d vlen=%d", "\n\t'%s' val=%d"),
    -6: ("[%d] ENUM '%s' encoding=SIGNED size=%d vlen=%d", "\n\t'%s' val=%d"),
    13: ("[%d] FUNC_PROTO '%s' ret_type_id=%d vlen=%d", "\n\t'%s' type_id=%d"),
}
_templates: dict[tuple[int, int], str] = {}


def _template(kind: int, vlen: int) -> str:
    """The %-format of a whole type of ``kind`` with ``vlen`` uniform lines (memoised)."""
    t = _templates.get((kind, vlen))
    if t is None:
        head, line = _TEMPLATE_PARTS[kind]
        t = _templates[kind, vlen] = head + line * vlen + "\n"
    return t


def _text(ctx: _Ctx, blob: _Blob, first: int, pos: int, stop: int, out: list[str]) -> int:
    """Append the raw-format lines of types ``first..stop-1`` (starting at word ``pos``).

    Returns the word position after the last record. The kinds are tested in the order of
    their frequency in kernel BTF (FUNC, FUNC_PROTO, PTR, STRUCT, ...).
    """
    w = blob.words
    n = ctx.names
    a = out.append
    name_of: Callable[[int], Any] = n.__getitem__
    enc_names = _INT_ENC
    linkage = _LINKAGE
    func_tail = _FUNC_TAIL
    ref_kinds = _REF_KINDS
    for tid in range(first, stop):
        no = w[pos]
        info = w[pos + 1]
        st = w[pos + 2]
        kind = (info >> 24) & 0x7F
        if kind == 12:  # FUNC
            vlen = info & 0xFFFFFF
            a(f"[{tid}] FUNC '{n[no]}' type_id={st}{func_tail[vlen] if vlen < 3 else _FUNC_UNK}")
            pos += 3
        elif kind == 13:  # FUNC_PROTO
            vlen = info & 0xFFFFFF
            p = pos + 3
            pos = p + 2 * vlen
            if vlen < _BULK:
                a(f"[{tid}] FUNC_PROTO '{n[no]}' ret_type_id={st} vlen={vlen}")
                while p < pos:
                    a(f"\n\t'{n[w[p]]}' type_id={w[p + 1]}")
                    p += 2
                a("\n")
            else:
                v = w[p:pos].tolist()
                v[::2] = map(name_of, v[::2])
                a(_template(13, vlen) % (tid, n[no], st, vlen, *v))
        elif kind in ref_kinds:  # PTR, CONST, TYPEDEF, VOLATILE, RESTRICT, TYPE_TAG
            a(f"[{tid}] {_KINDS[kind]} '{n[no]}' type_id={st}\n")
            pos += 3
        elif kind == 4 or kind == 5:  # STRUCT, UNION
            vlen = info & 0xFFFFFF
            p = pos + 3
            pos = p + 3 * vlen
            if vlen >= _BULK and not (info >> 31 and max(w[p + 2 : pos : 3]) >> 24):
                # No bitfield sizes to print: every member line has the same shape.
                v = w[p:pos].tolist()
                v[::3] = map(name_of, v[::3])
                a(_template(kind, vlen) % (tid, n[no], st, vlen, *v))
                continue
            a(f"[{tid}] {'STRUCT' if kind == 4 else 'UNION'} '{n[no]}' size={st} vlen={vlen}")
            if info >> 31:
                while p < pos:
                    off = w[p + 2]
                    bsz = off >> 24
                    if bsz:
                        a(f"\n\t'{n[w[p]]}' type_id={w[p + 1]} bits_offset={off & 0xFFFFFF}"
                          f" bitfield_size={bsz}")
                    else:
                        a(f"\n\t'{n[w[p]]}' type_id={w[p + 1]} bits_offset={off}")
                    p += 3
            else:
                while p < pos:
                    a(f"\n\t'{n[w[p]]}' type_id={w[p + 1]} bits_offset={w[p + 2]}")
                    p += 3
            a("\n")
        elif kind == 3:  # ARRAY
            a(f"[{tid}] ARRAY '{n[no]}' type_id={w[pos + 3]} index_type_id={w[pos + 4]}"
              f" nr_elems={w[pos + 5]}\n")
            pos += 6
        elif kind == 6:  # ENUM
            vlen = info & 0xFFFFFF
            signed = info >> 31
            p = pos + 3
            pos = p + 2 * vlen
            if vlen >= _BULK and not (signed and max(w[p + 1 : pos : 2]) & _U32_SIGN):
                v = w[p:pos].tolist()
                v[::2] = map(name_of, v[::2])
                a(_template(-6 if signed else 6, vlen) % (tid, n[no], st, vlen, *v))
                continue
            a(f"[{tid}] ENUM '{n[no]}' encoding={'SIGNED' if signed else 'UNSIGNED'}"
              f" size={st} vlen={vlen}")
            while p < pos:
                v32 = w[p + 1]
                a(f"\n\t'{n[w[p]]}' val={v32 - _S32_ADJ if signed and v32 & _U32_SIGN else v32}")
                p += 2
            a("\n")
        elif kind == 1:  # INT
            e = w[pos + 3]
            a(f"[{tid}] INT '{n[no]}' size={st} bits_offset={(e >> 16) & 0xFF}"
              f" nr_bits={e & 0xFF} encoding={enc_names[(e >> 24) & 0x0F]}\n")
            pos += 4
        elif kind == 14:  # VAR
            lk = w[pos + 3]
            a(f"[{tid}] VAR '{n[no]}' type_id={st}, linkage="
              f"{linkage[lk] if lk < 3 else '(unknown)'}\n")
            pos += 4
        elif kind == 17:  # DECL_TAG
            c = w[pos + 3]
            if c & _U32_SIGN:
                c -= _S32_ADJ
            a(f"[{tid}] DECL_TAG '{n[no]}' type_id={st} component_idx={c}\n")
            pos += 4
        elif kind == 7:  # FWD
            a(f"[{tid}] FWD '{n[no]}' fwd_kind={'union' if info >> 31 else 'struct'}\n")
            pos += 3
        elif kind == 19:  # ENUM64
            vlen = info & 0xFFFFFF
            signed = info >> 31
            a(f"[{tid}] ENUM64 '{n[no]}' encoding={'SIGNED' if signed else 'UNSIGNED'}"
              f" size={st} vlen={vlen}")
            p = pos + 3
            pos = p + 3 * vlen
            while p < pos:
                v64 = w[p + 1] | (w[p + 2] << 32)
                if signed:
                    if v64 & _S64_SIGN:
                        v64 -= _S64_ADJ
                    a(f"\n\t'{n[w[p]]}' val={v64}LL")
                else:
                    a(f"\n\t'{n[w[p]]}' val={v64}ULL")
                p += 3
            a("\n")
        elif kind == 15:  # DATASEC
            vlen = info & 0xFFFFFF
            a(f"[{tid}] DATASEC '{n[no]}' size={st} vlen={vlen}")
            p = pos + 3
            pos = p + 3 * vlen
            while p < pos:
                vt = w[p]
                a(f"\n\ttype_id={vt} offset={w[p + 1]} size={w[p + 2]}")
                label = ctx.ref_label(vt)
                if label is not None:
                    a(f" ({label[0]} '{n[label[1]]}')")
                p += 3
            a("\n")
        elif kind == 16:  # FLOAT
            a(f"[{tid}] FLOAT '{n[no]}' size={st}\n")
            pos += 3
        else:  # a kind bpftool does not know (described by a layout section)
            a(f"[{tid}] UNKNOWN '{n[no]}'\n")
            pos += blob.record_words(tid, pos)
    return pos


# ---------------------------------------------------------------------------- JSON
def _json(ctx: _Ctx, blob: _Blob, tid: int, pos: int, stop: int, out: list[str]) -> int:
    """Append one JSON object per type (each preceded by ``,``); like :func:`_text`."""
    w = blob.words
    j = ctx.jnames
    a = out.append
    enc_names = _INT_ENC
    linkage = _LINKAGE
    while tid < stop:
        no = w[pos]
        info = w[pos + 1]
        st = w[pos + 2]
        kind = (info >> 24) & 0x7F
        head = f',{{"id":{tid},"kind":"{_KINDS[kind]}","name":{j[no]}'
        if kind == 12:  # FUNC
            vlen = info & 0xFFFFFF
            a(f'{head},"type_id":{st},"linkage":"'
              f'{linkage[vlen] if vlen < 3 else "(unknown)"}"}}')
            pos += 3
        elif kind == 13:  # FUNC_PROTO
            vlen = info & 0xFFFFFF
            p = pos + 3
            pos = p + 2 * vlen
            items = []
            while p < pos:
                items.append(f'{{"name":{j[w[p]]},"type_id":{w[p + 1]}}}')
                p += 2
            a(f'{head},"ret_type_id":{st},"vlen":{vlen},"params":[{",".join(items)}]}}')
        elif kind == 2 or kind == 10 or kind == 8 or kind == 9 or kind == 11 or kind == 18:
            a(f'{head},"type_id":{st}}}')
            pos += 3
        elif kind == 4 or kind == 5:  # STRUCT, UNION
            vlen = info & 0xFFFFFF
            kflag = info >> 31
            p = pos + 3
            pos = p + 3 * vlen
            items = []
            while p < pos:
                off = w[p + 2]
                if kflag and off >> 24:
                    items.append(f'{{"name":{j[w[p]]},"type_id":{w[p + 1]},"bits_offset":'
                                 f'{off & 0xFFFFFF},"bitfield_size":{off >> 24}}}')
                else:
                    items.append(f'{{"name":{j[w[p]]},"type_id":{w[p + 1]},"bits_offset":'
                                 f'{off & 0xFFFFFF if kflag else off}}}')
                p += 3
            a(f'{head},"size":{st},"vlen":{vlen},"members":[{",".join(items)}]}}')
        elif kind == 3:  # ARRAY
            a(f'{head},"type_id":{w[pos + 3]},"index_type_id":{w[pos + 4]},'
              f'"nr_elems":{w[pos + 5]}}}')
            pos += 6
        elif kind == 6:  # ENUM
            vlen = info & 0xFFFFFF
            signed = info >> 31
            p = pos + 3
            pos = p + 2 * vlen
            items = []
            while p < pos:
                v = w[p + 1]
                if v & _U32_SIGN:
                    v = v - _S32_ADJ if signed else v | _U32_TO_U64_SIGNEXT
                items.append(f'{{"name":{j[w[p]]},"val":{v}}}')
                p += 2
            a(f'{head},"encoding":"{"SIGNED" if signed else "UNSIGNED"}","size":{st},'
              f'"vlen":{vlen},"values":[{",".join(items)}]}}')
        elif kind == 1:  # INT
            e = w[pos + 3]
            a(f'{head},"size":{st},"bits_offset":{(e >> 16) & 0xFF},"nr_bits":{e & 0xFF},'
              f'"encoding":"{enc_names[(e >> 24) & 0x0F]}"}}')
            pos += 4
        elif kind == 14:  # VAR
            lk = w[pos + 3]
            a(f'{head},"type_id":{st},"linkage":"{linkage[lk] if lk < 3 else "(unknown)"}"}}')
            pos += 4
        elif kind == 17:  # DECL_TAG
            c = w[pos + 3]
            if c & _U32_SIGN:
                c -= _S32_ADJ
            a(f'{head},"type_id":{st},"component_idx":{c}}}')
            pos += 4
        elif kind == 7:  # FWD
            a(f'{head},"fwd_kind":"{"union" if info >> 31 else "struct"}"}}')
            pos += 3
        elif kind == 19:  # ENUM64
            vlen = info & 0xFFFFFF
            signed = info >> 31
            p = pos + 3
            pos = p + 3 * vlen
            items = []
            while p < pos:
                v = w[p + 1] | (w[p + 2] << 32)
                if signed and v & _S64_SIGN:
                    v -= _S64_ADJ
                items.append(f'{{"name":{j[w[p]]},"val":{v}}}')
                p += 3
            a(f'{head},"encoding":"{"SIGNED" if signed else "UNSIGNED"}","size":{st},'
              f'"vlen":{vlen},"values":[{",".join(items)}]}}')
        elif kind == 15:  # DATASEC
            vlen = info & 0xFFFFFF
            p = pos + 3
            pos = p + 3 * vlen
            items = []
            while p < pos:
                items.append(f'{{"type_id":{w[p]},"offset":{w[p + 1]},"size":{w[p + 2]}}}')
                p += 3
            a(f'{head},"size":{st},"vlen":{vlen},"vars":[{",".join(items)}]}}')
        elif kind == 16:  # FLOAT
            a(f'{head},"size":{st}}}')
            pos += 3
        else:
            a(f"{head}}}")
            pos += blob.record_words(tid, pos)
        tid += 1
    return pos


# ---------------------------------------------------------------------------- drivers
if TYPE_CHECKING:
    _Render = Callable[[_Ctx, _Blob, int, int, int, list[str]], int]


def select(spec: Spec, *, name: str | None = None, type_id: int | None = None) -> list[int]:
    """Own type ids named ``name`` and/or equal to ``type_id``, in id order.

    The name search goes through the Spec's string search, so nothing is decoded; for
    split BTF only the split blob's own types are candidates, as only those are dumped.
    Raises :class:`BTFTypeError` if ``type_id`` is not one of the dumped ids.
    """
    if type_id is not None:
        if type_id not in spec.own_ids:
            raise BTFTypeError(
                f"type id {type_id} is not in this BTF "
                f"(its types are {spec.first_id}..{spec.type_count - 1})",
                source=spec.source,
            )
        if name is not None and spec.name(type_id) != name:
            return []
        return [type_id]
    if name is None:
        return list(spec.own_ids)
    return spec.find_by_name(name, own_only=True)


def _write(out: TextIO, parts: list[str]) -> None:
    if parts:
        out.write("".join(parts))
        parts.clear()


def _preload(ctx: _Ctx, render: _Render) -> None:
    """Decode (and for JSON, encode) all names up front: a walk prints nearly all of them."""
    ctx.names.preload()
    if render is _json:
        ctx.jnames.preload()


def _render(
    spec: Spec,
    out: TextIO,
    render: _Render,
    name: str | None,
    kind: int | None,
    type_id: int | None,
) -> int:
    """Render the selected own types to ``out`` in large chunks; returns how many."""
    ctx = _Ctx(spec)
    parts: list[str] = []
    count = 0
    first, stop = spec.first_id, spec.type_count
    if first >= stop:
        return 0
    if name is not None or type_id is not None:
        for tid in select(spec, name=name, type_id=type_id):
            if kind is not None and spec.kind(tid) != kind:
                continue
            blob = ctx.blob(tid)
            render(ctx, blob, tid, blob.position(tid), tid + 1, parts)
            count += 1
            if len(parts) >= _CHUNK:
                _write(out, parts)
    elif kind is not None:
        # Walk the records without decoding, noting where the requested kind is.
        blob = ctx.blob(first)
        w = blob.words
        fixed, per = _FIXED_WORDS, _WORDS_PER_VLEN
        found: list[tuple[int, int]] = []
        pos = 0
        for tid in range(first, stop):
            info = w[pos + 1]
            k = (info >> KIND_SHIFT) & KIND_MASK
            if k == kind:
                found.append((tid, pos))
            size = fixed[k]
            pos += size + per[k] * (info & VLEN_MASK) if size else blob.record_words(tid, pos)
        if len(found) > _PRELOAD_MIN:
            _preload(ctx, render)
        for tid, pos in found:
            render(ctx, blob, tid, pos, tid + 1, parts)
            if len(parts) >= _CHUNK:
                _write(out, parts)
        count = len(found)
    else:
        _preload(ctx, render)
        blob = ctx.blob(first)
        tid, pos = first, 0
        while tid < stop:
            end = min(tid + _CHUNK, stop)
            pos = render(ctx, blob, tid, pos, end, parts)
            count += end - tid
            tid = end
            _write(out, parts)
    _write(out, parts)
    return count


class _JSONItems:
    """Joins the ``,``-prefixed objects from :func:`_json` into one array body."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.first = True

    def write(self, s: str) -> int:
        if self.first:
            self.first = False
            s = s[1:]
        return self.out.write(s)


def dump_text(
    spec: Spec,
    out: TextIO,
    *,
    name: str | None = None,
    kind: int | None = None,
    type_id: int | None = None,
) -> int:
    """Write ``bpftool btf dump`` raw text for the own types matching every given filter.

    With no filter this is the whole dump, byte-for-byte bpftool's. Returns the number
    of types written.
    """
    return _render(spec, out, _text, name, kind, type_id)


def dump_json(
    spec: Spec,
    out: TextIO,
    *,
    name: str | None = None,
    kind: int | None = None,
    type_id: int | None = None,
) -> int:
    """Write ``bpftool -j btf dump`` JSON (``{"types":[...]}``); filters as in dump_text."""
    out.write('{"types":[')
    items = _JSONItems(out)
    count = _render(spec, items, _json, name, kind, type_id)  # type: ignore[arg-type]
    out.write("]}\n")
    return count


def format_type(spec: Spec, type_id: int, *, json: bool = False) -> str:
    """One type as bpftool prints it: a text block ending in a newline, or a JSON object."""
    ctx = _Ctx(spec)
    blob = ctx.blob(type_id)
    parts: list[str] = []
    (_json if json else _text)(ctx, blob, type_id, blob.position(type_id), type_id + 1, parts)
    s = "".join(parts)
    return s[1:] if json else s
