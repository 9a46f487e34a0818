"""A tiny raw-BTF writer for tests: hand-made (also hostile) type graphs.

Types are added in id order; every ``add_*`` returns the new id. Forward references are
fine (pass an id you will add later), which is how cycles are built. ``build()`` returns
the raw blob (header + types + strings) in the chosen byte order, ready for
``btf.spec.Spec`` (pass ``base=`` for split BTF built with ``BTFBuilder(base=...)``).
"""

from __future__ import annotations

import struct

from btf.spec import Spec

INT, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF = 1, 2, 3, 4, 5, 6, 7, 8
VOLATILE, CONST, RESTRICT, FUNC, FUNC_PROTO, VAR, DATASEC, FLOAT = 9, 10, 11, 12, 13, 14, 15, 16
DECL_TAG, TYPE_TAG, ENUM64 = 17, 18, 19

SIGNED, CHAR, BOOL = 1, 2, 4


class BTFBuilder:
    def __init__(self, byteorder: str = "little", base: Spec | None = None) -> None:
        self.e = "<" if byteorder == "little" else ">"
        self.base = base
        self.first_id = base.type_count if base is not None else 1
        self.str_base = (base.str_base + base.header.str_len) if base is not None else 0
        self.strs = bytearray() if base is not None else bytearray(b"\0")
        self._str_offs: dict[str, int] = {}
        self.recs: list[bytes] = []

    # ------------------------------------------------------------------ plumbing
    def s(self, name: str) -> int:
        if not name:
            return 0
        off = self._str_offs.get(name)
        if off is None:
            off = self.str_base + len(self.strs)
            self.strs += name.encode() + b"\0"
            self._str_offs[name] = off
        return off

    @property
    def next_id(self) -> int:
        return self.first_id + len(self.recs)

    def raw(self, kind: int, name: str, vlen: int, st: int, extra: bytes = b"",
            kflag: bool = False) -> int:
        info = (int(kflag) << 31) | (kind << 24) | vlen
        self.recs.append(struct.pack(self.e + "III", self.s(name), info, st) + extra)
        return self.first_id + len(self.recs) - 1

    def _u32(self, *vals: int) -> bytes:
        return struct.pack(self.e + "I" * len(vals), *[v & 0xFFFFFFFF for v in vals])

    # ------------------------------------------------------------------ kinds
    def int(self, name: str, size: int, enc: int = 0, bits: int | None = None,
            offset: int = 0) -> int:
        nbits = size * 8 if bits is None else bits
        return self.raw(INT, name, 0, size, self._u32((enc << 24) | (offset << 16) | nbits))

    def ptr(self, t: int) -> int:
        return self.raw(PTR, "", 0, t)

    def array(self, elem: int, nelems: int, index: int = 0) -> int:
        return self.raw(ARRAY, "", 0, 0, self._u32(elem, index, nelems))

    def _composite(self, kind: int, name: str, size: int,
                   members: list[tuple[str, int, int] | tuple[str, int, int, int]]) -> int:
        kflag = any(len(m) == 4 and m[3] for m in members)
        extra = b""
        for m in members:
            mname, mtype, boff = m[0], m[1], m[2]
            bsz = m[3] if len(m) == 4 else 0  # type: ignore[misc]
            off = (bsz << 24) | boff if kflag else boff
            extra += self._u32(self.s(mname), mtype, off)
        return self.raw(kind, name, len(members), size, extra, kflag)

    def struct(self, name: str, size: int,
               members: list[tuple[str, int, int] | tuple[str, int, int, int]]) -> int:
        """``members``: (name, type, bit offset[, bitfield size])."""
        return self._composite(STRUCT, name, size, members)

    def union(self, name: str, size: int,
              members: list[tuple[str, int, int] | tuple[str, int, int, int]]) -> int:
        return self._composite(UNION, name, size, members)

    def enum(self, name: str, size: int, values: list[tuple[str, int]],
             signed: bool = False) -> int:
        extra = b"".join(self._u32(self.s(n), v) for n, v in values)
        return self.raw(ENUM, name, len(values), size, extra, signed)

    def enum64(self, name: str, size: int, values: list[tuple[str, int]],
               signed: bool = False) -> int:
        extra = b"".join(self._u32(self.s(n), v & 0xFFFFFFFF, (v >> 32) & 0xFFFFFFFF)
                         for n, v in values)
        return self.raw(ENUM64, name, len(values), size, extra, signed)

    def fwd(self, name: str, union: bool = False) -> int:
        return self.raw(FWD, name, 0, 0, kflag=union)

    def typedef(self, name: str, t: int) -> int:
        return self.raw(TYPEDEF, name, 0, t)

    def const(self, t: int) -> int:
        return self.raw(CONST, "", 0, t)

    def volatile(self, t: int) -> int:
        return self.raw(VOLATILE, "", 0, t)

    def type_tag(self, name: str, t: int) -> int:
        return self.raw(TYPE_TAG, name, 0, t)

    def func_proto(self, ret: int, params: list[int]) -> int:
        extra = b"".join(self._u32(0, p) for p in params)
        return self.raw(FUNC_PROTO, "", len(params), ret, extra)

    def float(self, name: str, size: int) -> int:
        return self.raw(FLOAT, name, 0, size)

    # ------------------------------------------------------------------ output
    def build(self) -> bytes:
        types = b"".join(self.recs)
        strs = bytes(self.strs)
        hdr = struct.pack(self.e + "HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types),
                          len(strs))
        return hdr + types + strs

    def spec(self, **kw: object) -> Spec:
        return Spec(self.build(), base=self.base, **kw)  # type: ignore[arg-type]
