"""Write hand-made raw BTF that compilers never emit but bpftool still prints.

Covers the corners of `bpftool btf dump` that clang objects do not reach: every INT
encoding value (including combinations bpftool calls UNKN), FUNC/VAR linkage 3
("(unknown)"), names with control characters, backslashes, quotes, '%', non-ASCII and
invalid UTF-8, an empty name at a non-zero offset, a name offset beyond the string section
("(invalid)"), dangling type ids, DATASEC entries pointing at void / non-VAR / missing
types, bitfield and non-bitfield structs on both sides of the bulk-formatting threshold,
unsigned enums with the top bit set, and split BTF on a base.

Each blob is written in both byte orders. Run by build.sh; usage:
    python3 make_crafted.py OUTDIR
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

INT, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT = range(1, 12)
FUNC, FUNC_PROTO, VAR, DATASEC, FLOAT, DECL_TAG, TYPE_TAG, ENUM64 = range(12, 20)


class Builder:
    """Accumulates types (as u32 words) and a string table; ids are assigned in order."""

    def __init__(self, first_id: int = 1, str_base: int = 0) -> None:
        self.first_id = first_id
        self.str_base = str_base
        # A base's strings start with the empty string; a split blob's (module BTF as
        # pahole writes it) start right away with its first name.
        self.strings = bytearray(b"" if str_base else b"\0")
        self.offsets: dict[bytes, int] = {}
        self.types: list[list[int]] = []

    def s(self, name: str | bytes) -> int:
        raw = name.encode() if isinstance(name, str) else name
        if raw == b"":
            return 0  # anonymous
        if raw not in self.offsets:
            self.offsets[raw] = self.str_base + len(self.strings)
            self.strings += raw + b"\0"
        return self.offsets[raw]

    def add(self, name: str | bytes | int, kind: int, vlen: int, st: int, *extra: int,
            kflag: int = 0) -> int:
        name_off = name if isinstance(name, int) else self.s(name)
        self.types.append([name_off, (kflag << 31) | (kind << 24) | vlen, st, *extra])
        return self.first_id + len(self.types) - 1

    def blob(self, order: str) -> bytes:
        words = [w & 0xFFFFFFFF for t in self.types for w in t]
        body = struct.pack(f"{order}{len(words)}I", *words)
        hdr = struct.pack(f"{order}HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(body), len(body),
                          len(self.strings))
        return hdr + body + bytes(self.strings)


def crafted() -> Builder:
    b = Builder()
    i32 = b.add("int", INT, 0, 4, (1 << 24) | 32)
    for enc in (0, 1, 2, 3, 4, 5, 6, 7, 8, 15):
        b.add(f"int_enc_{enc}", INT, 0, 4, (enc << 24) | 32)
    b.add("u3_at_2", INT, 0, 1, (2 << 16) | 3)
    b.add("i128", INT, 0, 16, (1 << 24) | 128)
    b.add("", PTR, 0, i32)
    b.add("", PTR, 0, 99999)  # dangling reference: printed as stored
    b.add("", CONST, 0, i32)
    b.add("", VOLATILE, 0, i32)
    b.add("", RESTRICT, 0, i32)
    b.add("td", TYPEDEF, 0, i32)
    b.add("user", TYPE_TAG, 0, i32)
    b.add("", ARRAY, 0, 0, i32, i32, 0xFFFFFFFF)
    b.add("double", FLOAT, 0, 8)
    b.add("fs", FWD, 0, 0)
    b.add("fu", FWD, 0, 0, kflag=1)
    # Names bpftool prints verbatim (text) and escapes (JSON).
    for raw in (b"tab\there", b"nl\nhere", b"ctl\x01\x1f\x7f", b"back\\slash", b"q\"uo'te",
                b"pct%s%d%%", b"brace{0}{", "caf\u00e9 \u2603".encode(), b"bad\xff\xfeutf8"):
        b.add(raw, TYPEDEF, 0, i32)
    # Offset pointing at the NUL that ends another string: an empty, not anonymous, name.
    b.add(b.s("abc") + 3, TYPEDEF, 0, i32)
    b.add(0x7FFFFFF0, TYPEDEF, 0, i32)  # beyond the string section: "(invalid)"
    # Structs and unions below and above the bulk threshold, with and without kind_flag.
    for vlen, kflag, bits in ((2, 0, False), (9, 0, False), (2, 1, True), (9, 1, True),
                              (9, 1, False), (3, 1, False)):
        members: list[int] = []
        for m in range(vlen):
            size = (m % 7 + 1) if bits and m % 2 else 0
            off = 8 * m if not kflag else (size << 24) | (8 * m)
            members += [b.s(f"m{m}") if m != 1 else 0, i32, off]
        b.add(f"s{vlen}_{kflag}_{int(bits)}", STRUCT, vlen, 4 * vlen, *members, kflag=kflag)
    b.add("u_big_offset", UNION, 1, 4, b.s("far"), i32, 0x01234567)
    b.add("", STRUCT, 0, 0)
    # ENUMs: unsigned with top-bit values, signed with and without negatives, both sizes.
    for name, kflag, vals in (
        ("e_u_small", 0, [0, 1, 0x80000000, 0xFFFFFFFF]),
        ("e_u_big", 0, [0, 5, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF, 7]),
        ("e_s_small", 1, [0xFFFFFFFF, 0, 0x80000000]),
        ("e_s_big_neg", 1, [1, 2, 3, 4, 5, 0xFFFFFFFB, 0x80000000]),
        ("e_s_big_pos", 1, [0, 1, 2, 3, 4, 5, 0x7FFFFFFF]),
        ("e_empty", 0, []),
    ):
        words: list[int] = []
        for k, v in enumerate(vals):
            words += [b.s(f"{name}_{k}"), v]
        b.add(name, ENUM, len(vals), 4, *words, kflag=kflag)
    for name, kflag, vals in (
        ("e64_u", 0, [0, 1, 1 << 32, (1 << 64) - 1, 1 << 63]),
        ("e64_s", 1, [0, (1 << 64) - 1, 1 << 63, (1 << 63) - 1, 1 << 32]),
    ):
        words = []
        for k, v in enumerate(vals):
            words += [b.s(f"{name}_{k}"), v & 0xFFFFFFFF, v >> 32]
        b.add(name, ENUM64, len(vals), 8, *words, kflag=kflag)
    # Function prototypes: none, varargs, many params; FUNC of every linkage value.
    p0 = b.add("", FUNC_PROTO, 0, 0)
    b.add("", FUNC_PROTO, 2, i32, b.s("fmt"), i32, 0, 0)
    many: list[int] = []
    for k in range(8):
        many += [b.s(f"p{k}") if k % 3 else 0, i32]
    b.add("", FUNC_PROTO, 8, i32, *many)
    funcs = [b.add(f"f_link{lk}", FUNC, lk, p0) for lk in range(4)]
    vars_ = [b.add(f"v_link{lk}", VAR, 0, i32, lk) for lk in range(4)]
    b.add("tag_type", DECL_TAG, 0, funcs[0], 0xFFFFFFFF)
    b.add("tag_member", DECL_TAG, 0, i32, 0)
    b.add("tag_param", DECL_TAG, 0, funcs[1], 5)
    later = b.first_id + len(b.types) + 1  # the VAR defined right after the DATASEC
    b.add(".data", DATASEC, 7, 64,
          vars_[0], 0, 4,
          vars_[1], 4, 4,
          funcs[2], 8, 0,
          i32, 12, 4,       # not a VAR: bpftool prints the kind it finds
          0, 16, 4,         # void
          later, 20, 4,     # forward reference
          99999, 24, 4)     # no such type: no "(KIND 'name')" suffix
    b.add("v_after", VAR, 0, i32, 1)
    return b


def split_pair() -> tuple[Builder, Builder]:
    """A small base and a split blob whose types and strings continue the base's."""
    base = Builder()
    i32 = base.add("int", INT, 0, 4, (1 << 24) | 32)
    sock = base.add("sock", STRUCT, 1, 4, base.s("fd"), i32, 0)
    base.add("", PTR, 0, sock)
    split = Builder(first_id=base.first_id + len(base.types), str_base=len(base.strings))
    sk = split.s("sk")
    split.add("mod_struct", STRUCT, 2, 16, sk, sock + 1, 0, base.s("fd"), i32, 64)
    split.add("sock", FWD, 0, 0)  # same name as a base type
    split.add("", PTR, 0, split.first_id)
    split.add(base.s("int"), TYPEDEF, 0, i32)  # name taken from the base's strings
    split.add("m_var", VAR, 0, split.first_id, 1)
    split.add(".bss", DATASEC, 2, 16, split.first_id + 4, 0, 16, i32, 16, 4)
    split.add(sk + 2, TYPEDEF, 0, i32)  # the NUL ending "sk": an empty name, not (anon)
    return base, split


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    c = crafted()
    base, split = split_pair()
    for suffix, order in (("le", "<"), ("be", ">")):
        (out / f"crafted.{suffix}.btf").write_bytes(c.blob(order))
        (out / f"split_base.{suffix}.btf").write_bytes(base.blob(order))
        (out / f"split.{suffix}.btf").write_bytes(split.blob(order))


if __name__ == "__main__":
    main()
