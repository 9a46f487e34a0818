"""``.BTF.ext``: per-section func_info, line_info and CO-RE relocation records.

Records are stepped by the ``rec_size`` stored in each sub-section (forward compatible);
fields beyond the known ones are ignored. ``insn_off`` stays a *byte* offset within the
ELF section, as clang writes it. Section and access-string names are resolved through the
object's ``.BTF`` strings.
"""

from __future__ import annotations

import struct
from collections import namedtuple

from . import _layouts as L
from .errors import BTFExtFormatError, BTFFormatError
from .spec import Spec, detect_byteorder
from .types import _Record

EXT_MIN_HEADER = 24
EXT_CORE_HEADER = 32

# Records are immutable tuples (cheap to build in bulk, hashable); the containers are
# mutable slot classes. No dataclasses: importing them costs ~7 ms of start-up.


class FuncInfo(namedtuple("FuncInfo", "insn_off type_id")):
    """A ``bpf_func_info`` record: the FUNC ``type_id`` of the code at ``insn_off`` bytes."""

    __slots__ = ()
    insn_off: int
    type_id: int


class LineInfo(namedtuple("LineInfo", "insn_off file_name_off line_off line_col")):
    """A ``bpf_line_info`` record (string offsets into ``.BTF``)."""

    __slots__ = ()
    insn_off: int
    file_name_off: int
    line_off: int
    line_col: int

    @property
    def line(self) -> int:
        return self.line_col >> 10

    @property
    def column(self) -> int:
        return self.line_col & 0x3FF


class CoreReloRecord(namedtuple("CoreReloRecord", "insn_off type_id access_str_off kind")):
    """One ``bpf_core_relo`` record as stored (``insn_off`` in bytes)."""

    __slots__ = ()
    insn_off: int
    type_id: int
    access_str_off: int
    kind: int


class ExtSection(_Record):
    """The records of one ELF section inside one sub-section."""

    __slots__ = ("name", "name_off", "records")

    def __init__(self, name: str, name_off: int, records: list | None = None  # type: ignore[type-arg]
                 ) -> None:
        self.name = name
        self.name_off = name_off
        self.records = records if records is not None else []


class BTFExt(_Record):
    """A parsed ``.BTF.ext`` section.

    ``core_relo_off``/``core_relo_len`` are the header's values (offset relative to the end
    of the header), for writers that rewrite the CO-RE sub-section; ``*_rec_size`` are the
    record sizes stored in each sub-section (0 when it is absent).
    """

    __slots__ = (
        "byteorder", "hdr_len", "func_info", "line_info", "core_relos", "core_relo_off",
        "core_relo_len", "func_rec_size", "line_rec_size", "core_rec_size",
    )

    def __init__(
        self,
        byteorder: str,
        hdr_len: int,
        func_info: list[ExtSection],
        line_info: list[ExtSection],
        core_relos: list[ExtSection],
        core_relo_off: int = 0,
        core_relo_len: int = 0,
        func_rec_size: int = 0,
        line_rec_size: int = 0,
        core_rec_size: int = 0,
    ) -> None:
        self.byteorder = byteorder
        self.hdr_len = hdr_len
        self.func_info = func_info
        self.line_info = line_info
        self.core_relos = core_relos
        self.core_relo_off = core_relo_off
        self.core_relo_len = core_relo_len
        self.func_rec_size = func_rec_size
        self.line_rec_size = line_rec_size
        self.core_rec_size = core_rec_size


def parse_btf_ext(data: bytes, strings: Spec, *, source: str = ".BTF.ext") -> BTFExt:
    """Parse ``data`` (a whole ``.BTF.ext`` section); names come from ``strings``' table.

    Raises :class:`BTFExtFormatError` naming the offset and rule for malformed input. Every
    count is checked against the bytes actually present before anything is allocated.
    """

    def err(msg: str) -> BTFExtFormatError:
        return BTFExtFormatError(msg, source=source)

    size = len(data)
    if size < EXT_MIN_HEADER:
        raise err(f"{size} bytes is too short for a .BTF.ext header (needs 24 bytes)")
    order = detect_byteorder(data)
    if order is None:
        raise err(f"bad magic 0x{data[0]:02x}{data[1]:02x} at offset 0: not .BTF.ext")
    if order != strings.byteorder:
        raise err(f".BTF.ext is {order}-endian but its .BTF is {strings.byteorder}-endian")
    le = order == "little"
    endian = "<" if le else ">"
    _magic, version, flags, hdr_len, fi_off, fi_len, li_off, li_len = struct.unpack_from(
        L.EXT_HEADER_LE if le else L.EXT_HEADER_BE, data, 0
    )
    if version != 1:
        raise err(f"unsupported .BTF.ext version {version} at offset 2 (expected 1)")
    if flags != 0:
        raise err(f"unsupported .BTF.ext flags 0x{flags:x} at offset 3 (expected 0)")
    if hdr_len < EXT_MIN_HEADER:
        raise err(f"hdr_len {hdr_len} at offset 4 is below the minimum of 24")
    if hdr_len > size:
        raise err(f"hdr_len {hdr_len} at offset 4 runs past the end ({size} bytes)")
    if hdr_len == size:
        raise err(".BTF.ext has a header but no data")
    cr_off = cr_len = 0
    if hdr_len >= EXT_CORE_HEADER:
        cr_off, cr_len = struct.unpack_from(
            L.EXT_CORE_HEADER_LE if le else L.EXT_CORE_HEADER_BE, data, 24
        )
    sec_fmt = struct.Struct(L.EXT_INFO_SEC_LE if le else L.EXT_INFO_SEC_BE)
    u32 = struct.Struct(endian + "I")

    def sub(
        name: str, off: int, length: int, fmt: str, make: type, min_size: int
    ) -> tuple[list[ExtSection], int]:
        if not length:
            return [], 0
        start = hdr_len + off
        end = start + length
        if off % 4:
            raise err(f"{name} sub-section offset {off} is not 4-byte aligned")
        if end > size:
            raise err(f"{name} sub-section [{start}, {end}) runs past the end ({size} bytes)")
        if length < 4:
            raise err(f"{name} sub-section at offset {start} is too short for its rec_size")
        (rec_size,) = u32.unpack_from(data, start)
        if rec_size < min_size or rec_size % 4:
            raise err(
                f"{name} rec_size {rec_size} at offset {start} is invalid "
                f"(must be a multiple of 4 and at least {min_size})"
            )
        if not le and rec_size != min_size:
            raise err(f"{name} rec_size {rec_size} at offset {start}: big-endian data must "
                      f"use the known record size {min_size}")
        rec = struct.Struct(fmt)
        build = make._make  # type: ignore[attr-defined]
        pos = start + 4
        secs: list[ExtSection] = []
        if pos == end:
            raise err(f"{name} sub-section at offset {start} has no records")
        while pos < end:
            if pos + 8 > end:
                raise err(f"{name} section header at offset {pos} is truncated")
            name_off, num = sec_fmt.unpack_from(data, pos)
            if num == 0:
                raise err(f"{name} section at offset {pos} has zero records")
            try:
                sec_name = strings.string(name_off)
            except BTFFormatError:
                raise err(
                    f"{name} section at offset {pos} names string offset {name_off}, "
                    "outside the .BTF string section"
                ) from None
            pos += 8
            if num > (end - pos) // rec_size:
                raise err(
                    f"{name} section '{sec_name}' claims {num} records of {rec_size} bytes "
                    f"at offset {pos}, but only {end - pos} bytes remain"
                )
            if rec_size == rec.size:
                records = list(map(build, rec.iter_unpack(data[pos : pos + num * rec_size])))
            else:  # newer, longer records: read the known prefix of each
                records = [build(rec.unpack_from(data, pos + i * rec_size)) for i in range(num)]
            secs.append(ExtSection(sec_name, name_off, records))
            pos += num * rec_size
        return secs, rec_size

    func_info, fsz = sub("func_info", fi_off, fi_len,
                         L.FUNC_INFO_LE if le else L.FUNC_INFO_BE, FuncInfo, 8)
    line_info, lsz = sub("line_info", li_off, li_len,
                         L.LINE_INFO_LE if le else L.LINE_INFO_BE, LineInfo, 16)
    core, csz = sub("core_relo", cr_off, cr_len,
                    L.CORE_RELO_LE if le else L.CORE_RELO_BE, CoreReloRecord, 16)
    return BTFExt(order, hdr_len, func_info, line_info, core, cr_off, cr_len, fsz, lsz, csz)
