"""Just enough ELF to find BTF: the ELF header and the section header table.

A full ELF library (pyelftools) costs ~45-55 ms to import and more to open a 60 MB vmlinux;
finding three sections by name needs only the header, the section table and the section
name table, which ``struct`` reads in well under a millisecond. Rules follow libbpf's
``btf__parse_elf``: ``.BTF`` must be ``SHT_PROGBITS``; ``.BTF.ext`` and ``.BTF.base`` are
optional; pointer size is 4 for ELFCLASS32 and 8 for ELFCLASS64; the BTF byte order must be
the ELF's (libbpf would byte-swap silently, but a mismatch means a broken file).

Beyond libbpf: sections compressed with ``SHF_COMPRESSED`` (zlib or zstd) are decompressed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from . import compress
from .errors import BTFFormatError, BTFNotFoundError, BTFSourceError

ELF_MAGIC = b"\x7fELF"

SHT_PROGBITS = 1
SHT_NOBITS = 8
SHF_COMPRESSED = 0x800
SHN_UNDEF = 0
SHN_LORESERVE = 0xFF00
SHN_XINDEX = 0xFFFF
ELFCOMPRESS_ZLIB = 1
ELFCOMPRESS_ZSTD = 2

BTF_SECTION = ".BTF"
BTF_EXT_SECTION = ".BTF.ext"
BTF_BASE_SECTION = ".BTF.base"


@dataclass(frozen=True, slots=True)
class Section:
    """One section header (only the fields BTF extraction needs)."""

    index: int
    name: str
    type: int
    flags: int
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class ElfInfo:
    """ELF identity: what decides pointer size and byte order."""

    elf_class: int  # 1 = 32-bit, 2 = 64-bit
    byteorder: str  # "little" / "big"
    machine: int
    type: int

    @property
    def ptr_size(self) -> int:
        return 4 if self.elf_class == 1 else 8


@dataclass(frozen=True, slots=True)
class ElfBTF:
    """The BTF-related sections of one ELF file, already copied out of it."""

    info: ElfInfo
    btf: bytes
    ext: bytes | None
    base: bytes | None


def is_elf(data: compress.Buffer) -> bool:
    return data[:4] == ELF_MAGIC


class ElfReader:
    """Section table of an ELF image held in memory (``bytes`` or ``mmap``)."""

    def __init__(self, data: compress.Buffer, *, source: str | None = None) -> None:
        self.data = data
        self.source = source
        self.size = len(data)
        self.info, shoff, shentsize, shnum, shstrndx = self._header()
        self.sections = self._sections(shoff, shentsize, shnum, shstrndx)

    def _err(self, msg: str) -> BTFFormatError:
        return BTFFormatError(f"malformed ELF: {msg}", source=self.source)

    def _header(self) -> tuple[ElfInfo, int, int, int, int]:
        head = self.data[:64]
        if len(head) < 16 or head[:4] != ELF_MAGIC:
            raise BTFSourceError("not an ELF file (no \\x7fELF magic)", source=self.source)
        elf_class, data_enc, version = head[4], head[5], head[6]
        if elf_class not in (1, 2):
            raise self._err(f"unknown ELF class {elf_class} at offset 4 (expected 1 or 2)")
        if data_enc not in (1, 2):
            raise self._err(f"unknown data encoding {data_enc} at offset 5 (expected 1 or 2)")
        if version != 1:
            raise self._err(f"unknown ELF version {version} at offset 6 (expected 1)")
        self._e = "<" if data_enc == 1 else ">"
        fmt = self._e + ("HHIIIIIHHHHHH" if elf_class == 1 else "HHIQQQIHHHHHH")
        need = 16 + struct.calcsize(fmt)
        if len(head) < need:
            raise self._err(f"file is {self.size} bytes, too short for the {need}-byte header")
        (e_type, e_machine, _ver, _entry, _phoff, shoff, _flags, _ehsize, _phentsize, _phnum,
         shentsize, shnum, shstrndx) = struct.unpack_from(fmt, head, 16)
        info = ElfInfo(elf_class, "little" if data_enc == 1 else "big", e_machine, e_type)
        return info, shoff, shentsize, shnum, shstrndx

    def _sections(self, shoff: int, shentsize: int, shnum: int, shstrndx: int
                  ) -> list[Section]:
        if shoff == 0:
            raise BTFNotFoundError("ELF file has no section header table, so no .BTF section",
                                   source=self.source)
        is64 = self.info.elf_class == 2
        fmt = self._e + ("IIQQQQIIQQ" if is64 else "IIIIIIIIII")
        want = struct.calcsize(fmt)
        if shentsize < want:
            raise self._err(f"e_shentsize {shentsize} is smaller than {want}")

        def raw(i: int) -> tuple[int, ...]:
            pos = shoff + i * shentsize
            if pos + want > self.size:
                raise self._err(
                    f"section header {i} at offset {pos} runs past the end of the file "
                    f"({self.size} bytes): truncated?"
                )
            return struct.unpack(fmt, self.data[pos : pos + want])

        if shnum == 0 or shstrndx == SHN_XINDEX:  # extended numbering lives in section 0
            first = raw(0)
            shnum = shnum or first[5]
            if shstrndx == SHN_XINDEX:
                shstrndx = first[6]
        if shnum * shentsize > self.size:
            raise self._err(f"{shnum} section headers cannot fit in {self.size} bytes")
        rows = [raw(i) for i in range(shnum)]
        if not 0 < shstrndx < shnum:
            raise self._err(f"section name table index {shstrndx} is out of range ({shnum})")
        _n, stype, _f, _a, str_off, str_size, *_ = rows[shstrndx]
        if stype == SHT_NOBITS or str_off + str_size > self.size:
            raise self._err(
                f"section name table [{str_off}, {str_off + str_size}) runs past the end "
                f"of the file ({self.size} bytes): truncated?"
            )
        names = self.data[str_off : str_off + str_size]
        out = []
        for i, (name_off, stype, flags, _addr, off, size, *_rest) in enumerate(rows):
            end = names.find(b"\0", name_off)
            if name_off >= len(names) or end < 0:
                raise self._err(f"section {i} name offset {name_off} is outside the name table")
            name = names[name_off:end].decode("utf-8", "replace")
            out.append(Section(i, name, stype, flags, off, size))
        return out

    def section(self, name: str) -> Section | None:
        """The first section called ``name``, or None."""
        for sec in self.sections:
            if sec.name == name:
                return sec
        return None

    def section_data(self, sec: Section, *, max_size: int = compress.DEFAULT_MAX_SIZE
                     ) -> bytes:
        """A copy of the section's bytes (decompressed if ``SHF_COMPRESSED``)."""
        if sec.type == SHT_NOBITS:
            raise self._err(f"section {sec.name} is SHT_NOBITS and has no data in the file")
        if sec.offset + sec.size > self.size:
            raise self._err(
                f"section {sec.name} [{sec.offset}, {sec.offset + sec.size}) runs past the end "
                f"of the file ({self.size} bytes): truncated?"
            )
        data = self.data[sec.offset : sec.offset + sec.size]
        if sec.flags & SHF_COMPRESSED:
            data = self._uncompress(sec, data, max_size)
        return data

    def _uncompress(self, sec: Section, data: bytes, max_size: int) -> bytes:
        fmt = self._e + ("IIQQ" if self.info.elf_class == 2 else "III")
        hlen = struct.calcsize(fmt)
        if len(data) < hlen:
            raise self._err(f"compressed section {sec.name} is shorter than its header")
        ch_type, _res_or_size, *rest = struct.unpack_from(fmt, data, 0)
        ch_size = rest[0] if self.info.elf_class == 2 else _res_or_size
        kinds = {ELFCOMPRESS_ZLIB: "zlib", ELFCOMPRESS_ZSTD: compress.ZSTD}
        if ch_type not in kinds:
            raise self._err(f"section {sec.name} uses unknown compression type {ch_type}")
        what = f"section {sec.name}"
        if ch_type == ELFCOMPRESS_ZLIB:
            import zlib

            dec = zlib.decompressobj()
            out = dec.decompress(data[hlen:], max_size + 1)
            if len(out) > max_size:
                raise BTFSourceError(f"{what}: decompressed size exceeds the cap of {max_size}",
                                     source=self.source)
        else:
            out = compress.decompress(data, compress.ZSTD, offset=hlen, max_size=max_size,
                                      source=self.source)
        if len(out) != ch_size:
            raise self._err(f"{what}: decompressed to {len(out)} bytes, header says {ch_size}")
        return out


def _btf_byteorder(data: bytes) -> str | None:
    head = data[:2]
    return {b"\x9f\xeb": "little", b"\xeb\x9f": "big"}.get(head)


def read_btf_sections(
    data: compress.Buffer,
    *,
    source: str | None = None,
    max_size: int = compress.DEFAULT_MAX_SIZE,
) -> ElfBTF:
    """Copy ``.BTF`` (required), ``.BTF.ext`` and ``.BTF.base`` out of an ELF image.

    Raises :class:`BTFNotFoundError` without ``.BTF``, :class:`BTFFormatError` for a
    malformed ELF, a ``.BTF`` that is not ``SHT_PROGBITS``, or BTF whose byte order is not
    the ELF's.
    """
    elf = ElfReader(data, source=source)
    sec = elf.section(BTF_SECTION)
    if sec is None:
        raise BTFNotFoundError("ELF file has no .BTF section (built without BTF?)",
                               source=source)
    if sec.type != SHT_PROGBITS:
        raise BTFFormatError(
            f"ELF section .BTF has type {sec.type}, expected SHT_PROGBITS ({SHT_PROGBITS})",
            source=source,
        )
    out: dict[str, bytes | None] = {}
    for name in (BTF_SECTION, BTF_EXT_SECTION, BTF_BASE_SECTION):
        s = elf.section(name)
        blob = elf.section_data(s, max_size=max_size) if s is not None else None
        if blob is not None:
            order = _btf_byteorder(blob)
            if order is None:
                raise BTFFormatError(
                    f"ELF section {name} does not start with the BTF magic "
                    f"(found {blob[:2].hex(' ') or 'nothing'})",
                    source=source,
                )
            if order != elf.info.byteorder:
                raise BTFFormatError(
                    f"ELF section {name} holds {order}-endian BTF but the ELF file is "
                    f"{elf.info.byteorder}-endian",
                    source=source,
                )
        out[name] = blob
    btf = out[BTF_SECTION]
    assert btf is not None
    return ElfBTF(elf.info, btf, out[BTF_EXT_SECTION], out[BTF_BASE_SECTION])
