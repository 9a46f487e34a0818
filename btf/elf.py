"""A small ELF reader: header, section table, section bytes, symbol table; and BTF lookup.

A full ELF library (pyelftools) costs ~45-55 ms to import and more to open a 60 MB vmlinux;
finding three sections by name needs only the header, the section table and the section
name table, which ``struct`` reads in well under a millisecond. The reader is generic (both
classes, both byte orders, extended section numbering) and reports every malformation as a
:class:`BTFFormatError` naming the file, the offset and the rule; :mod:`corepy.objfile`
reads BPF objects with it. It imports only ``struct`` and :mod:`btf.types` at start-up.

BTF rules follow libbpf's ``btf__parse_elf``: ``.BTF`` must be ``SHT_PROGBITS``;
``.BTF.ext`` and ``.BTF.base`` are optional; pointer size is 4 for ELFCLASS32 and 8 for
ELFCLASS64; the BTF byte order must be the ELF's (libbpf would byte-swap silently, but a
mismatch means a broken file). Beyond libbpf: sections compressed with ``SHF_COMPRESSED``
(zlib or zstd) are decompressed by :meth:`ElfReader.section_data`.
"""

from __future__ import annotations

import struct

from .errors import BTFFormatError, BTFNotFoundError, BTFSourceError
from .types import _Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from .compress import Buffer

ELF_MAGIC = b"\x7fELF"

SHT_NULL = 0
SHT_PROGBITS = 1
SHT_SYMTAB = 2
SHT_STRTAB = 3
SHT_NOBITS = 8
SHF_EXECINSTR = 0x4
SHF_COMPRESSED = 0x800
SHN_UNDEF = 0
SHN_LORESERVE = 0xFF00
SHN_XINDEX = 0xFFFF
ELFCOMPRESS_ZLIB = 1
ELFCOMPRESS_ZSTD = 2

BTF_SECTION = ".BTF"
BTF_EXT_SECTION = ".BTF.ext"
BTF_BASE_SECTION = ".BTF.base"


class Section(_Record):
    """One section header; ``offset``/``size`` locate its bytes in the file."""

    __slots__ = ("index", "name", "type", "flags", "offset", "size", "link", "info", "entsize")

    def __init__(self, index: int, name: str, type: int, flags: int, offset: int, size: int,
                 link: int = 0, info: int = 0, entsize: int = 0) -> None:
        self.index = index
        self.name = name
        self.type = type
        self.flags = flags
        self.offset = offset
        self.size = size
        self.link = link
        self.info = info
        self.entsize = entsize

    @property
    def is_exec(self) -> bool:
        """Program code: ``SHT_PROGBITS`` with ``SHF_EXECINSTR``."""
        return self.type == SHT_PROGBITS and bool(self.flags & SHF_EXECINSTR)


class Symbol(_Record):
    """One symbol table entry, name resolved; ``type``/``bind`` split from ``st_info``."""

    __slots__ = ("name", "value", "size", "type", "bind", "shndx")

    def __init__(self, name: str, value: int, size: int, type: int, bind: int,
                 shndx: int) -> None:
        self.name = name
        self.value = value
        self.size = size
        self.type = type
        self.bind = bind
        self.shndx = shndx


class ElfInfo(_Record):
    """ELF identity: what decides pointer size and byte order."""

    __slots__ = ("elf_class", "byteorder", "machine", "type")

    def __init__(self, elf_class: int, byteorder: str, machine: int, type: int) -> None:
        self.elf_class = elf_class  # 1 = 32-bit, 2 = 64-bit
        self.byteorder = byteorder  # "little" / "big"
        self.machine = machine
        self.type = type

    @property
    def ptr_size(self) -> int:
        return 4 if self.elf_class == 1 else 8


class ElfBTF(_Record):
    """The BTF-related sections of one ELF file, already copied out of it."""

    __slots__ = ("info", "btf", "ext", "base")

    def __init__(self, info: ElfInfo, btf: bytes, ext: bytes | None, base: bytes | None
                 ) -> None:
        self.info = info
        self.btf = btf
        self.ext = ext
        self.base = base


def is_elf(data: Buffer) -> bool:
    return data[:4] == ELF_MAGIC


class ElfReader:
    """Header and section table of an ELF image held in memory (``bytes`` or ``mmap``).

    The header and every section header are checked when the reader is made; a section's
    bytes are checked when they are asked for (:meth:`raw_data`, :meth:`section_data`) or by
    :meth:`check_extents`.
    """

    def __init__(self, data: Buffer, *, source: str | None = None) -> None:
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
            raise BTFSourceError("not an ELF file (no \\x7fELF magic at offset 0)",
                                 source=self.source)
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
        if shoff == 0:  # no section header table (allowed: e.g. a core dump)
            return []
        is64 = self.info.elf_class == 2
        fmt = self._e + ("IIQQQQIIQQ" if is64 else "IIIIIIIIII")
        want = struct.calcsize(fmt)
        if shentsize < want:
            raise self._err(f"e_shentsize {shentsize} at offset {58 if is64 else 46} is "
                            f"smaller than {want}")

        def raw(i: int) -> tuple[int, ...]:
            pos = shoff + i * shentsize
            if pos + want > self.size:
                raise self._err(
                    f"section header {i} at offset {pos} runs past the end of the file "
                    f"({self.size} bytes): truncated?"
                )
            return struct.unpack_from(fmt, self.data, pos)

        if shnum == 0 or shstrndx == SHN_XINDEX:  # extended numbering lives in section 0
            first = raw(0)
            shnum = shnum or first[5]
            if shstrndx == SHN_XINDEX:
                shstrndx = first[6]
        if shnum * shentsize > self.size:
            raise self._err(f"{shnum} section headers at offset {shoff} cannot fit in "
                            f"{self.size} bytes")
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
        for i, (name_off, stype, flags, _addr, off, size, link, info, _align, entsize
                ) in enumerate(rows):
            end = names.find(b"\0", name_off)
            if name_off >= len(names) or end < 0:
                raise self._err(f"section {i} name offset {name_off} is outside the name table")
            name = names[name_off:end].decode("utf-8", "replace")
            out.append(Section(i, name, stype, flags, off, size, link, info, entsize))
        return out

    def section(self, name: str) -> Section | None:
        """The first section called ``name``, or None (section 0 is never a real one)."""
        for sec in self.sections:
            if sec.name == name and sec.index:
                return sec
        return None

    def _check_extent(self, sec: Section) -> None:
        if sec.offset + sec.size > self.size:
            raise self._err(
                f"section {sec.name} [{sec.offset}, {sec.offset + sec.size}) runs past the end "
                f"of the file ({self.size} bytes): truncated?"
            )

    def check_extents(self) -> None:
        """Check that the bytes of every section (but ``SHT_NOBITS`` ones) are in the file."""
        for sec in self.sections:
            if sec.index and sec.type != SHT_NOBITS:
                self._check_extent(sec)

    def raw_data(self, sec: Section) -> bytes:
        """A copy of the section's bytes as stored (compressed or not; empty for NOBITS)."""
        if sec.type == SHT_NOBITS:
            return b""
        self._check_extent(sec)
        return self.data[sec.offset : sec.offset + sec.size]

    def section_data(self, sec: Section, *, max_size: int | None = None) -> bytes:
        """A copy of the section's contents (decompressed if ``SHF_COMPRESSED``).

        ``max_size`` caps the decompressed size (default :data:`btf.compress.DEFAULT_MAX_SIZE`).
        """
        if sec.type == SHT_NOBITS:
            raise self._err(f"section {sec.name} is SHT_NOBITS and has no data in the file")
        data = self.raw_data(sec)
        if sec.flags & SHF_COMPRESSED:
            data = self._uncompress(sec, data, max_size)
        return data

    def _uncompress(self, sec: Section, data: bytes, max_size: int | None) -> bytes:
        from . import compress

        if max_size is None:
            max_size = compress.DEFAULT_MAX_SIZE
        fmt = self._e + ("IIQQ" if self.info.elf_class == 2 else "III")
        hlen = struct.calcsize(fmt)
        if len(data) < hlen:
            raise self._err(f"compressed section {sec.name} is shorter than its header")
        ch_type, _res_or_size, *rest = struct.unpack_from(fmt, data, 0)
        ch_size = rest[0] if self.info.elf_class == 2 else _res_or_size
        if ch_type not in (ELFCOMPRESS_ZLIB, ELFCOMPRESS_ZSTD):
            raise self._err(f"section {sec.name} uses unknown compression type {ch_type}")
        what = f"section {sec.name}"
        if ch_type == ELFCOMPRESS_ZLIB:
            import zlib

            try:
                out = zlib.decompressobj().decompress(data[hlen:], max_size + 1)
            except zlib.error as exc:
                raise self._err(f"{what}: corrupt zlib data ({exc})") from None
            if len(out) > max_size:
                raise BTFSourceError(f"{what}: decompressed size exceeds the cap of {max_size}",
                                     source=self.source)
        else:
            out = compress.decompress(data, compress.ZSTD, offset=hlen, max_size=max_size,
                                      source=self.source)
        if len(out) != ch_size:
            raise self._err(f"{what}: decompressed to {len(out)} bytes, header says {ch_size}")
        return out

    def symbols(self) -> list[Symbol]:
        """All entries of the (first) ``SHT_SYMTAB`` section, names resolved."""
        symtab = next((s for s in self.sections if s.type == SHT_SYMTAB), None)
        if symtab is None:
            return []
        is64 = self.info.elf_class == 2
        fmt = struct.Struct(self._e + ("IBBHQQ" if is64 else "IIIBBH"))
        if symtab.entsize not in (0, fmt.size):
            raise self._err(f"symbol table entry size {symtab.entsize} is not {fmt.size}")
        if symtab.link >= len(self.sections):
            raise self._err(f"symbol table links to string section {symtab.link}, which "
                            "does not exist")
        strs = self.raw_data(self.sections[symtab.link])
        raw = self.raw_data(symtab)
        out = []
        for pos in range(0, len(raw) - len(raw) % fmt.size, fmt.size):
            if is64:
                name_off, info, _other, shndx, value, size = fmt.unpack_from(raw, pos)
            else:
                name_off, value, size, info, _other, shndx = fmt.unpack_from(raw, pos)
            if name_off >= len(strs) and name_off:
                raise self._err(f"symbol at offset {symtab.offset + pos} has name offset "
                                f"{name_off} outside its string table")
            end = strs.find(b"\0", name_off)
            name = strs[name_off : end if end >= 0 else len(strs)].decode("utf-8", "replace")
            out.append(Symbol(name, value, size, info & 0xF, info >> 4, shndx))
        return out


def _btf_byteorder(data: bytes) -> str | None:
    head = data[:2]
    return {b"\x9f\xeb": "little", b"\xeb\x9f": "big"}.get(head)


def read_btf_sections(
    data: Buffer,
    *,
    source: str | None = None,
    max_size: int | None = None,
) -> ElfBTF:
    """Copy ``.BTF`` (required), ``.BTF.ext`` and ``.BTF.base`` out of an ELF image.

    Raises :class:`BTFNotFoundError` without ``.BTF``, :class:`BTFFormatError` for a
    malformed ELF, a ``.BTF`` that is not ``SHT_PROGBITS``, or BTF whose byte order is not
    the ELF's. ``max_size`` caps each decompressed section (see
    :meth:`ElfReader.section_data`).
    """
    elf = ElfReader(data, source=source)
    if not elf.sections:
        raise BTFNotFoundError("ELF file has no section header table, so no .BTF section",
                               source=source)
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
