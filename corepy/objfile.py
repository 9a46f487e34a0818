"""Read a clang-built BPF object: sections, functions, ``.BTF`` and CO-RE records.

The ELF layer is :class:`btf.elf.ElfReader` (header, section table, symbol table; ``struct``
based rather than pyelftools): objects may be hostile or truncated, and every such problem
must come out as one :class:`~corepy.errors.ObjectFormatError` naming the file, the offset
and the rule, never as a traceback from deep inside a library. The reader reports in btf's
errors; they are re-raised here as ``ObjectFormatError`` with the same text. It handles
both byte orders and both ELF classes; BPF objects themselves are always ELF64.

Section bytes are used as stored: like libbpf (libelf's ``elf_getdata``), corepy does not
decompress ``SHF_COMPRESSED`` sections of an object, and patches instructions in place.

Programs follow libbpf: every ``STT_FUNC`` symbol inside an executable ``SHT_PROGBITS``
section is a function; functions in ``.text`` are subprograms. CO-RE relocations are
applied per function (libbpf relocates each function before it appends subprograms), so
each record is attributed to the function containing its instruction, and one whose
instruction lies in no function is skipped, as libbpf skips relocations of an
"eliminated weak subprogram".
"""

from __future__ import annotations

import os
from bisect import bisect_right

from btf.elf import SHN_LORESERVE, SHN_UNDEF, ElfReader, Section
from btf.errors import BTFError

from ._record import Frozen, Record
from .errors import ObjectFormatError
from .insn import INSN_SIZE
from .relo import CoreRelo

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from btf.elf import Symbol
    from btf.ext import BTFExt
    from btf.spec import Spec

    from .insn import ByteOrder

_set = object.__setattr__

EM_NONE = 0
EM_BPF = 247
ET_REL = 1
STT_FUNC = 2

#: Offset of ``core_relo_len`` within the ``.BTF.ext`` header.
CORE_RELO_LEN_FIELD = 28


def _err(elf: ElfReader, msg: str) -> ObjectFormatError:
    """An ``ObjectFormatError`` about ``elf``'s file (the source names it, as btf's do)."""
    return ObjectFormatError(f"{elf.source}: {msg}")


def _read_elf(data: bytes, source: str) -> tuple[ElfReader, list[Symbol]]:
    """Header, sections (all within the file) and symbols, or ``ObjectFormatError``.

    btf's reader raises ``BTFError``; for an object that is corepy's ``ObjectFormatError``
    (same text, which names the file and the offset).
    """
    try:
        elf = ElfReader(data, source=source)
        elf.check_extents()
        if elf.info.elf_class != 2:
            raise _err(elf, "ELF32 file: BPF objects are always 64-bit ELF")
        if elf.info.type != ET_REL or elf.info.machine not in (EM_BPF, EM_NONE):
            raise _err(elf, f"not a BPF object file (e_type {elf.info.type}, e_machine "
                            f"{elf.info.machine}; expected a relocatable ELF with e_machine "
                            f"{EM_BPF} (EM_BPF))")
        return elf, elf.symbols()
    except BTFError as exc:
        raise ObjectFormatError(str(exc)) from None


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

    def __init__(self, source: str, data: bytes, elf: ElfReader, byteorder: ByteOrder,
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
        sec = self.elf.section(name)
        if sec is None:
            raise ObjectFormatError(f"{self.source}: no section named {name!r}")
        return sec

    def section_data(self, name: str) -> bytes:
        """The bytes of section ``name`` as stored in the file."""
        return self.elf.raw_data(self.section(name))

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
        elf, symbols = _read_elf(data, source)
        functions = _functions(elf, symbols)
        byteorder: ByteOrder = "little" if elf.info.byteorder == "little" else "big"
        btf, ext = _read_btf(elf, byteorder)
        obj = cls(source, data, elf, byteorder, functions, btf, ext)
        obj.sites = _sites(obj)
        return obj


def _functions(elf: ElfReader, symbols: list[Symbol]) -> list[Function]:
    secs = elf.sections
    text = elf.section(".text")
    out = []
    for sym in symbols:
        if sym.type != STT_FUNC or sym.shndx == SHN_UNDEF or sym.shndx >= SHN_LORESERVE:
            continue
        if sym.shndx >= len(secs):
            raise _err(elf, f"function {sym.name!r} names section #{sym.shndx}, which "
                            "does not exist")
        sec = secs[sym.shndx]
        if not sec.is_exec:
            continue
        if sym.value % INSN_SIZE or sym.size % INSN_SIZE:
            raise _err(elf, f"function {sym.name!r} in section {sec.name!r} at offset "
                            f"{sym.value} with size {sym.size}: not a whole number of 8-byte "
                            "instructions")
        if sym.value + sym.size > sec.size:
            raise _err(elf, f"function {sym.name!r} [{sym.value}, {sym.value + sym.size}) "
                            f"runs past the end of section {sec.name!r} ({sec.size} bytes)")
        is_sub = text is not None and sec.index == text.index
        out.append(Function(sym.name, sec.name, sec.index, sym.value, sym.size, is_sub,
                            sym.bind))
    out.sort(key=lambda f: (f.sec_index, f.start))
    return out


def _read_btf(elf: ElfReader, byteorder: ByteOrder) -> tuple[Spec | None, BTFExt | None]:
    btf_sec = elf.section(".BTF")
    ext_sec = elf.section(".BTF.ext")
    if btf_sec is None:
        if ext_sec is not None:
            raise _err(elf, "has a .BTF.ext section but no .BTF section to name its strings")
        return None, None
    from btf.spec import Spec

    spec = Spec(elf.raw_data(btf_sec), source=f"{elf.source}:.BTF", ptr_size=8)
    if spec.byteorder != byteorder:
        raise _err(elf, f".BTF is {spec.byteorder}-endian in a {byteorder}-endian ELF file")
    if ext_sec is None:
        return spec, None
    from btf.ext import parse_btf_ext

    ext = parse_btf_ext(elf.raw_data(ext_sec), spec, source=f"{elf.source}:.BTF.ext")
    return spec, ext


def _sites(obj: BPFObject) -> list[CoreSite]:
    ext, spec = obj.ext, obj.btf
    if ext is None or spec is None:
        return []
    sites = []
    for sec in ext.core_relos:
        elf_sec = obj.elf.section(sec.name)
        if elf_sec is None or not elf_sec.is_exec:
            what = "does not exist" if elf_sec is None else "is not an executable section"
            raise _err(obj.elf, f".BTF.ext CO-RE records name section {sec.name!r}, "
                                f"which {what}")
        for i, rec in enumerate(sec.records):
            where = f".BTF.ext CO-RE record #{i} of section {sec.name!r}"
            if rec.insn_off % INSN_SIZE:
                raise _err(obj.elf, f"{where}: insn_off {rec.insn_off} is not a multiple of 8")
            if rec.insn_off + INSN_SIZE > elf_sec.size:
                raise _err(obj.elf, f"{where}: insn_off {rec.insn_off} is outside the "
                                    f"section ({elf_sec.size} bytes)")
            try:
                access = spec.string(rec.access_str_off)
            except BTFError:
                raise _err(obj.elf, f"{where}: access string offset "
                                    f"{rec.access_str_off} is outside the .BTF string "
                                    "section") from None
            relo = CoreRelo(sec.name, i, rec.insn_off, rec.type_id, access, rec.kind)
            func = obj.function_at(sec.name, rec.insn_off)
            base = func.start if func is not None else 0
            sites.append(CoreSite(relo, func, (rec.insn_off - base) // INSN_SIZE))
    return sites
