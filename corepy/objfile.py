"""Read a clang-built BPF object: sections, functions, ``.BTF`` and CO-RE records.

The ELF reader is a small ``struct``-based one rather than pyelftools: objects may be
hostile or truncated, and every such problem must come out as one
:class:`~corepy.errors.ObjectFormatError` naming the file, the offset and the rule, never
as a traceback from deep inside a library. It handles both byte orders and both ELF classes
(ELF32 appears only for target BTF; BPF objects themselves are always ELF64).

Programs follow libbpf: every ``STT_FUNC`` symbol inside an executable ``SHT_PROGBITS``
section is a function; functions in ``.text`` are subprograms. CO-RE relocations are
applied per function (libbpf relocates each function before it appends subprograms), so
each record is attributed to the function containing its instruction, and one whose
instruction lies in no function is skipped, as libbpf skips relocations of an
"eliminated weak subprogram".
"""

from __future__ import annotations

import os
import struct
from bisect import bisect_right

from ._record import Frozen, Record
from .errors import ObjectFormatError
from .insn import INSN_SIZE
from .relo import CoreRelo

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from btf.ext import BTFExt
    from btf.spec import Spec

    from .insn import ByteOrder

_set = object.__setattr__

EM_NONE = 0
EM_BPF = 247
ET_REL = 1
SHT_NULL = 0
SHT_PROGBITS = 1
SHT_SYMTAB = 2
SHT_STRTAB = 3
SHT_NOBITS = 8
SHF_EXECINSTR = 0x4
STT_FUNC = 2
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
SHN_UNDEF = 0
SHN_LORESERVE = 0xFF00
SHN_XINDEX = 0xFFFF

#: Offset of ``core_relo_len`` within the ``.BTF.ext`` header.
CORE_RELO_LEN_FIELD = 28


class Section(Frozen):
    """One ELF section header (``offset``/``size`` locate its bytes in the file)."""

    __slots__ = ("index", "name", "type", "flags", "offset", "size", "link", "info", "entsize")
    index: int
    name: str
    type: int
    flags: int
    offset: int
    size: int
    link: int
    info: int
    entsize: int

    def __init__(self, index: int, name: str, type: int, flags: int, offset: int, size: int,
                 link: int, info: int, entsize: int) -> None:
        _set(self, "index", index)
        _set(self, "name", name)
        _set(self, "type", type)
        _set(self, "flags", flags)
        _set(self, "offset", offset)
        _set(self, "size", size)
        _set(self, "link", link)
        _set(self, "info", info)
        _set(self, "entsize", entsize)

    @property
    def is_exec(self) -> bool:
        return self.type == SHT_PROGBITS and bool(self.flags & SHF_EXECINSTR)


class Symbol(Frozen):
    """One ELF symbol, name resolved."""

    __slots__ = ("name", "value", "size", "type", "bind", "shndx")
    name: str
    value: int
    size: int
    type: int
    bind: int
    shndx: int

    def __init__(self, name: str, value: int, size: int, type: int, bind: int,
                 shndx: int) -> None:
        _set(self, "name", name)
        _set(self, "value", value)
        _set(self, "size", size)
        _set(self, "type", type)
        _set(self, "bind", bind)
        _set(self, "shndx", shndx)


class ElfFile:
    """Section headers, names and symbols of one ELF file held in memory."""

    def __init__(self, data: bytes, source: str) -> None:
        self.data = data
        self.source = source
        try:
            self._parse_header()
            self.sections = self._parse_sections()
        except ObjectFormatError:
            raise
        except (struct.error, IndexError, ValueError, UnicodeDecodeError) as exc:
            raise self.err(f"malformed ELF: {exc}") from None

    def err(self, msg: str) -> ObjectFormatError:
        return ObjectFormatError(f"{self.source}: {msg}")

    def _parse_header(self) -> None:
        data = self.data
        if len(data) < 16 or data[:4] != b"\x7fELF":
            raise self.err("not an ELF file (no \\x7fELF magic at offset 0)")
        cls, order = data[4], data[5]
        if cls not in (1, 2):
            raise self.err(f"unknown ELF class {cls} at offset 4 (expected 1 or 2)")
        if order not in (1, 2):
            raise self.err(f"unknown ELF data encoding {order} at offset 5 (expected 1 or 2)")
        self.elf64 = cls == 2
        self.byteorder: ByteOrder = "little" if order == 1 else "big"
        e = "<" if order == 1 else ">"
        self._e = e
        hdr_fmt = e + ("HHIQQQIHHHHHH" if self.elf64 else "HHIIIIIHHHHHH")
        need = 16 + struct.calcsize(hdr_fmt)
        if len(data) < need:
            raise self.err(f"{len(data)} bytes is too short for an ELF header ({need} bytes)")
        (self.e_type, self.e_machine, _ver, _entry, _phoff, shoff, _flags, _ehsize, _phentsize,
         _phnum, shentsize, shnum, shstrndx) = struct.unpack_from(hdr_fmt, data, 16)
        self._shdr = struct.Struct(e + ("IIQQQQIIQQ" if self.elf64 else "IIIIIIIIII"))
        self._shoff = shoff
        want = self._shdr.size
        if shoff == 0:
            self._shnum = 0
            self._shstrndx = 0
            return
        if shentsize != want:
            raise self.err(f"e_shentsize {shentsize} at offset "
                           f"{58 if self.elf64 else 46} is not {want}")
        if shoff + want > len(data):
            raise self.err(f"section header table at offset {shoff} runs past the end "
                           f"({len(data)} bytes)")
        if shnum == 0 or shstrndx == SHN_XINDEX:
            # Extended numbering: the real values live in section header 0.
            s0 = self._shdr.unpack_from(data, shoff)
            if shnum == 0:
                shnum = s0[5]
            if shstrndx == SHN_XINDEX:
                shstrndx = s0[6]
        if shnum > (len(data) - shoff) // want:
            raise self.err(f"{shnum} section headers at offset {shoff} run past the end "
                           f"({len(data)} bytes)")
        self._shnum = shnum
        self._shstrndx = shstrndx

    def _raw_section(self, idx: int) -> tuple[int, ...]:
        return self._shdr.unpack_from(self.data, self._shoff + idx * self._shdr.size)

    def _parse_sections(self) -> list[Section]:
        n = self._shnum
        if n == 0:
            return []
        raws = [self._raw_section(i) for i in range(n)]
        if self._shstrndx >= n:
            raise self.err(f"e_shstrndx {self._shstrndx} names no section (there are {n})")
        strtab = self._checked_bytes(self._shstrndx, raws[self._shstrndx])
        out = []
        for i, r in enumerate(raws):
            name_off, typ, flags, _addr, off, size, link, info, _align, entsize = r
            if i and typ != SHT_NOBITS:
                self._checked_bytes(i, r)
            if name_off >= len(strtab) and i:
                raise self.err(f"section #{i} name offset {name_off} is outside the section "
                               f"name table ({len(strtab)} bytes)")
            end = strtab.find(b"\0", name_off)
            name = strtab[name_off : end if end >= 0 else len(strtab)].decode("utf-8", "replace")
            out.append(Section(i, name, typ, flags, off, size, link, info, entsize))
        return out

    def _checked_bytes(self, idx: int, raw: tuple[int, ...]) -> bytes:
        off, size = raw[4], raw[5]
        if off + size > len(self.data):
            raise self.err(f"section #{idx} [{off}, {off + size}) runs past the end of the file "
                           f"({len(self.data)} bytes): truncated?")
        return self.data[off : off + size]

    def section_by_name(self, name: str) -> Section | None:
        for s in self.sections:
            if s.name == name and s.index:
                return s
        return None

    def section_data(self, sec: Section) -> bytes:
        if sec.type == SHT_NOBITS:
            return b""
        return self.data[sec.offset : sec.offset + sec.size]

    def symbols(self) -> list[Symbol]:
        """All entries of the (first) ``SHT_SYMTAB`` section, names resolved."""
        symtab = next((s for s in self.sections if s.type == SHT_SYMTAB), None)
        if symtab is None:
            return []
        fmt = struct.Struct(self._e + ("IBBHQQ" if self.elf64 else "IIIBBH"))
        if symtab.entsize not in (0, fmt.size):
            raise self.err(f"symbol table entry size {symtab.entsize} is not {fmt.size}")
        if symtab.link >= len(self.sections):
            raise self.err(f"symbol table links to string section #{symtab.link}, "
                           "which does not exist")
        strs = self.section_data(self.sections[symtab.link])
        raw = self.section_data(symtab)
        out = []
        for pos in range(0, len(raw) - len(raw) % fmt.size, fmt.size):
            if self.elf64:
                name_off, info, _other, shndx, value, size = fmt.unpack_from(raw, pos)
            else:
                name_off, value, size, info, _other, shndx = fmt.unpack_from(raw, pos)
            if name_off >= len(strs) and name_off:
                raise self.err(f"symbol at offset {symtab.offset + pos} has name offset "
                               f"{name_off} outside its string table")
            end = strs.find(b"\0", name_off)
            name = strs[name_off : end if end >= 0 else len(strs)].decode("utf-8", "replace")
            out.append(Symbol(name, value, size, info & 0xF, info >> 4, shndx))
        return out


class Function(Frozen):
    """A function symbol in an executable section: a program, or a subprogram in .text.

    ``start`` is the byte offset of its first instruction within its section, ``size``
    its length in bytes.
    """

    __slots__ = ("name", "section", "sec_index", "start", "size", "is_subprog", "bind")
    name: str
    section: str
    sec_index: int
    start: int
    size: int
    is_subprog: bool
    bind: int

    def __init__(self, name: str, section: str, sec_index: int, start: int, size: int,
                 is_subprog: bool, bind: int) -> None:
        _set(self, "name", name)
        _set(self, "section", section)
        _set(self, "sec_index", sec_index)
        _set(self, "start", start)
        _set(self, "size", size)
        _set(self, "is_subprog", is_subprog)
        _set(self, "bind", bind)

    @property
    def end(self) -> int:
        return self.start + self.size

    @property
    def insn_count(self) -> int:
        return self.size // INSN_SIZE


class CoreSite(Record):
    """One CO-RE record located in the object: its function and instruction index.

    ``function`` is None for an eliminated weak subprogram; ``insn_idx`` is the instruction
    index within ``function`` (libbpf's ``insn #N``), or within the section when
    ``function`` is None.
    """

    __slots__ = ("relo", "function", "insn_idx")

    def __init__(self, relo: CoreRelo, function: Function | None, insn_idx: int) -> None:
        self.relo = relo
        self.function = function
        self.insn_idx = insn_idx


class BPFObject(Record):
    """A parsed BPF object. ``data`` is the file's bytes, untouched; ``sites`` holds every
    CO-RE record in ``.BTF.ext`` order, with its location."""

    _fields = ("source", "data", "elf", "byteorder", "functions", "btf", "ext", "sites")

    def __init__(self, source: str, data: bytes, elf: ElfFile, byteorder: ByteOrder,
                 functions: list[Function], btf: Spec | None, ext: BTFExt | None,
                 sites: list[CoreSite] | None = None) -> None:
        self.source = source
        self.data = data
        self.elf = elf
        self.byteorder: ByteOrder = byteorder
        self.functions = functions
        self.btf = btf
        self.ext = ext
        self.sites: list[CoreSite] = [] if sites is None else sites

    @property
    def core_relos(self) -> list[CoreRelo]:
        return [s.relo for s in self.sites]

    @property
    def programs(self) -> list[Function]:
        """Main programs (functions outside ``.text``) in section order."""
        return [f for f in self.functions if not f.is_subprog]

    @property
    def exec_sections(self) -> list[Section]:
        return [s for s in self.elf.sections if s.is_exec]

    def section(self, name: str) -> Section:
        sec = self.elf.section_by_name(name)
        if sec is None:
            raise ObjectFormatError(f"{self.source}: no section named {name!r}")
        return sec

    def section_data(self, name: str) -> bytes:
        return self.elf.section_data(self.section(name))

    def core_relo_len_offset(self) -> int | None:
        """File offset of ``core_relo_len`` in the ``.BTF.ext`` header (None if absent)."""
        if self.ext is None or self.ext.hdr_len < 32:
            return None
        return self.section(".BTF.ext").offset + CORE_RELO_LEN_FIELD

    def function_at(self, section: str, insn_off: int) -> Function | None:
        """The function whose bytes contain ``insn_off`` in ``section`` (libbpf's lookup)."""
        funcs = [f for f in self.functions if f.section == section]
        starts = [f.start for f in funcs]
        i = bisect_right(starts, insn_off) - 1
        if i >= 0 and funcs[i].start <= insn_off < funcs[i].end:
            return funcs[i]
        return None

    # ------------------------------------------------------------------ reading
    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> BPFObject:
        with open(path, "rb") as f:
            data = f.read()
        return cls.from_bytes(data, source=os.fspath(path))

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "<bytes>") -> BPFObject:
        """Parse ``data``; raises :class:`ObjectFormatError` or ``BTFError`` if malformed."""
        data = bytes(data)
        elf = ElfFile(data, source)
        if not elf.elf64:
            raise elf.err("ELF32 file: BPF objects are always 64-bit ELF")
        if elf.e_type != ET_REL or elf.e_machine not in (EM_BPF, EM_NONE):
            raise elf.err(
                f"not a BPF object file (e_type {elf.e_type}, e_machine {elf.e_machine}; "
                f"expected a relocatable ELF with e_machine {EM_BPF} (EM_BPF))"
            )
        try:
            functions = _functions(elf)
        except (struct.error, IndexError, ValueError) as exc:
            raise elf.err(f"malformed symbol table: {exc}") from None
        btf, ext = _read_btf(elf)
        obj = cls(source, data, elf, elf.byteorder, functions, btf, ext)
        obj.sites = _sites(obj)
        return obj


def _functions(elf: ElfFile) -> list[Function]:
    secs = elf.sections
    text = elf.section_by_name(".text")
    out = []
    for sym in elf.symbols():
        if sym.type != STT_FUNC or sym.shndx == SHN_UNDEF or sym.shndx >= SHN_LORESERVE:
            continue
        if sym.shndx >= len(secs):
            raise elf.err(f"function {sym.name!r} names section #{sym.shndx}, which does "
                          "not exist")
        sec = secs[sym.shndx]
        if not sec.is_exec:
            continue
        if sym.value % INSN_SIZE or sym.size % INSN_SIZE:
            raise elf.err(
                f"function {sym.name!r} in section {sec.name!r} at offset {sym.value} with "
                f"size {sym.size}: not a whole number of 8-byte instructions"
            )
        if sym.value + sym.size > sec.size:
            raise elf.err(
                f"function {sym.name!r} [{sym.value}, {sym.value + sym.size}) runs past the "
                f"end of section {sec.name!r} ({sec.size} bytes)"
            )
        is_sub = text is not None and sec.index == text.index
        out.append(Function(sym.name, sec.name, sec.index, sym.value, sym.size, is_sub,
                            sym.bind))
    out.sort(key=lambda f: (f.sec_index, f.start))
    return out


def _read_btf(elf: ElfFile) -> tuple[Spec | None, BTFExt | None]:
    btf_sec = elf.section_by_name(".BTF")
    ext_sec = elf.section_by_name(".BTF.ext")
    if btf_sec is None:
        if ext_sec is not None:
            raise elf.err("has a .BTF.ext section but no .BTF section to name its strings")
        return None, None
    from btf.spec import Spec

    spec = Spec(elf.section_data(btf_sec), source=f"{elf.source}:.BTF", ptr_size=8)
    if spec.byteorder != elf.byteorder:
        raise elf.err(f".BTF is {spec.byteorder}-endian in a {elf.byteorder}-endian ELF file")
    if ext_sec is None:
        return spec, None
    from btf.ext import parse_btf_ext

    ext = parse_btf_ext(elf.section_data(ext_sec), spec, source=f"{elf.source}:.BTF.ext")
    return spec, ext


def _sites(obj: BPFObject) -> list[CoreSite]:
    ext, spec = obj.ext, obj.btf
    if ext is None or spec is None:
        return []
    from btf.errors import BTFError

    sites = []
    for sec in ext.core_relos:
        elf_sec = obj.elf.section_by_name(sec.name)
        if elf_sec is None or not elf_sec.is_exec:
            what = "does not exist" if elf_sec is None else "is not an executable section"
            raise obj.elf.err(
                f".BTF.ext CO-RE records name section {sec.name!r}, which {what}"
            )
        for i, rec in enumerate(sec.records):
            where = f".BTF.ext CO-RE record #{i} of section {sec.name!r}"
            if rec.insn_off % INSN_SIZE:
                raise obj.elf.err(f"{where}: insn_off {rec.insn_off} is not a multiple of 8")
            if rec.insn_off + INSN_SIZE > elf_sec.size:
                raise obj.elf.err(
                    f"{where}: insn_off {rec.insn_off} is outside the section "
                    f"({elf_sec.size} bytes)"
                )
            try:
                access = spec.string(rec.access_str_off)
            except BTFError:
                raise obj.elf.err(
                    f"{where}: access string offset {rec.access_str_off} is outside the "
                    ".BTF string section"
                ) from None
            relo = CoreRelo(sec.name, i, rec.insn_off, rec.type_id, access, rec.kind)
            func = obj.function_at(sec.name, rec.insn_off)
            base = func.start if func is not None else 0
            sites.append(CoreSite(relo, func, (rec.insn_off - base) // INSN_SIZE))
    return sites
