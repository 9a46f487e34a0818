"""Minimal BPF object loader: stdlib + ctypes + raw bpf() syscalls, no libbpf.

It exists to prove that objects relocated offline by corepy run in real kernels, including
inside a QEMU guest whose initramfs carries only Python's stdlib, so it imports nothing
outside the stdlib and keeps those imports few (ctypes, os, struct, sys).

What it does: parse the ELF (sections, symbols, SHT_REL), create a BPF_MAP_TYPE_ARRAY per
global-data section and the maps declared in ``.maps`` (described by the object's BTF), link
each program with the ``.text`` subprograms it calls, patch ld_imm64 map references, load
with BPF_PROG_LOAD (retrying with a verifier log on failure) and run with BPF_PROG_TEST_RUN.

What it refuses: objects that still carry CO-RE relocations in ``.BTF.ext`` (it expects
objects corepy already relocated: patched instructions and an empty core_relo sub-section),
externs (kconfig, ksyms, kfuncs), legacy ``maps`` sections and objects whose byte order
differs from the host's.
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys

__all__ = ["BPFError", "LoaderError", "Map", "Object", "Program", "core_relo_count"]

# ---------------------------------------------------------------------------------------------
# Constants (values from the kernel UAPI and the ELF specification)

EM_BPF = 247
SHT_PROGBITS, SHT_SYMTAB, SHT_NOBITS, SHT_REL = 1, 2, 8, 9
SHF_ALLOC, SHF_EXECINSTR = 0x2, 0x4
STB_GLOBAL, STB_WEAK = 1, 2
STT_OBJECT, STT_FUNC, STT_SECTION = 1, 2, 3
SHN_UNDEF = 0
R_BPF_64_64, R_BPF_64_32 = 1, 10

BPF_MAP_CREATE, BPF_MAP_LOOKUP_ELEM, BPF_MAP_UPDATE_ELEM = 0, 1, 2
BPF_PROG_LOAD, BPF_PROG_TEST_RUN, BPF_MAP_FREEZE = 5, 10, 22
BPF_MAP_TYPE_ARRAY = 2
BPF_F_RDONLY_PROG = 1 << 7
BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_CALL = 1, 2, 1
OP_LD_IMM64 = 0x18  # BPF_LD | BPF_IMM | BPF_DW
OP_CALL = 0x85  # BPF_JMP | BPF_CALL
INSN_SIZE = 8

# Program types by section-name prefix, longest prefix first.
# (prefix, prog_type, expected_attach_type); a prefix ending in "/" also matches without it.
SECTION_PROG_TYPES: tuple[tuple[str, int, int], ...] = (
    ("raw_tracepoint/", 17, 0),
    ("raw_tp/", 17, 0),
    ("tracepoint/", 5, 0),
    ("tp/", 5, 0),
    ("kprobe/", 2, 0),
    ("kretprobe/", 2, 0),
    ("socket", 1, 0),
    ("xdp", 6, 37),
    ("classifier", 3, 0),
    ("tc", 3, 0),
    ("syscall", 31, 0),
)

_NR_BPF = {"x86_64": 321, "aarch64": 280, "s390x": 351, "ppc64le": 361, "riscv64": 280}

_BTF_KIND_INT, _BTF_KIND_PTR, _BTF_KIND_ARRAY, _BTF_KIND_STRUCT = 1, 2, 3, 4
_BTF_KIND_UNION, _BTF_KIND_ENUM, _BTF_KIND_TYPEDEF, _BTF_KIND_VOLATILE = 5, 6, 8, 9
_BTF_KIND_CONST, _BTF_KIND_RESTRICT, _BTF_KIND_VAR, _BTF_KIND_DATASEC = 10, 11, 14, 15
_BTF_KIND_FLOAT, _BTF_KIND_TYPE_TAG, _BTF_KIND_ENUM64 = 16, 18, 19
# Bytes that follow the 12-byte common header, per kind: (fixed, per vlen entry).
_BTF_EXTRA = {1: (4, 0), 3: (12, 0), 4: (0, 12), 5: (0, 12), 6: (0, 8), 13: (0, 8),
              14: (4, 0), 15: (0, 12), 17: (4, 0), 19: (0, 12)}
_BTF_MODIFIERS = (_BTF_KIND_TYPEDEF, _BTF_KIND_VOLATILE, _BTF_KIND_CONST, _BTF_KIND_RESTRICT,
                  _BTF_KIND_TYPE_TAG)


class LoaderError(Exception):
    """The object cannot be handled by this loader (malformed or unsupported)."""


class BPFError(LoaderError):
    """A bpf() command failed; ``log`` holds the verifier log for BPF_PROG_LOAD."""

    def __init__(self, what: str, err: int, log: str = "") -> None:
        self.errno = err
        self.log = log
        msg = f"{what}: {os.strerror(err)} (errno {err})"
        if log:
            msg += "\nverifier log (tail):\n" + "\n".join(log.rstrip().splitlines()[-30:])
        super().__init__(msg)


# ---------------------------------------------------------------------------------------------
# bpf() syscall

_libc: ctypes.CDLL | None = None


def _bpf(cmd: int, attr: bytes | bytearray, what: str) -> tuple[int, bytes]:
    """Issue bpf(cmd, attr); return (result, attr as the kernel left it)."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    nr = _NR_BPF.get(os.uname().machine)
    if nr is None:
        raise LoaderError(f"bpf() syscall number unknown for {os.uname().machine}")
    buf = ctypes.create_string_buffer(bytes(attr), len(attr))
    ret = _libc.syscall(ctypes.c_long(nr), ctypes.c_long(cmd),
                        ctypes.c_void_p(ctypes.addressof(buf)), ctypes.c_long(len(attr)))
    if ret < 0:
        raise BPFError(what, ctypes.get_errno())
    return int(ret), buf.raw


def _addr(buf: ctypes.Array[ctypes.c_char]) -> int:
    return ctypes.addressof(buf)


def _kname(name: str) -> bytes:
    """Kernel object names: at most 15 chars of [A-Za-z0-9_.]."""
    ok = "".join(c if (c.isascii() and (c.isalnum() or c in "_.")) else "_" for c in name)
    return ok[:15].encode()


# ---------------------------------------------------------------------------------------------
# ELF model


class _Section:
    __slots__ = ("index", "name", "type", "flags", "offset", "size", "link", "info", "entsize",
                 "data")

    def __init__(self, index: int, name: str, sh: tuple[int, ...], data: bytes) -> None:
        self.index = index
        self.name = name
        (_, self.type, self.flags, _, self.offset, self.size, self.link, self.info, _,
         self.entsize) = sh
        self.data = data


class _Symbol:
    __slots__ = ("name", "bind", "type", "shndx", "value", "size")

    def __init__(self, name: str, info: int, shndx: int, value: int, size: int) -> None:
        self.name = name
        self.bind = info >> 4
        self.type = info & 0xF
        self.shndx = shndx
        self.value = value
        self.size = size


class Program:
    """One BPF program: a global function in an executable section other than .text."""

    __slots__ = ("name", "section", "prog_type", "attach_type", "sym", "fd", "insns")

    def __init__(self, name: str, section: str, prog_type: int, attach_type: int,
                 sym: _Symbol) -> None:
        self.name = name
        self.section = section
        self.prog_type = prog_type
        self.attach_type = attach_type
        self.sym = sym
        self.fd = -1
        self.insns = b""  # linked instructions, set at load time


class Map:
    """A map the object needs: a global-data section or a ``.maps`` definition."""

    __slots__ = ("name", "map_type", "key_size", "value_size", "max_entries", "flags",
                 "initial", "fd", "section")

    def __init__(self, name: str, map_type: int, key_size: int, value_size: int,
                 max_entries: int, flags: int, initial: bytes | None, section: str) -> None:
        self.name = name
        self.map_type = map_type
        self.key_size = key_size
        self.value_size = value_size
        self.max_entries = max_entries
        self.flags = flags
        self.initial = bytearray(initial) if initial is not None else None
        self.fd = -1
        self.section = section


def _is_data_section(name: str) -> bool:
    return name in (".bss", ".data", ".rodata") or name.startswith((".data.", ".rodata."))


def core_relo_count(btf_ext: bytes, endian: str = "<") -> int:
    """Number of CO-RE relocation records in a .BTF.ext section (0 if it has none)."""
    if len(btf_ext) < 24:
        raise LoaderError(".BTF.ext too short")
    magic, _ver, _flags, hdr_len = struct.unpack_from(endian + "HBBI", btf_ext, 0)
    if magic != 0xEB9F:
        raise LoaderError(".BTF.ext has a bad magic")
    if hdr_len < 32:
        return 0
    off, length = struct.unpack_from(endian + "II", btf_ext, 24)
    if length == 0:
        return 0
    pos, end = hdr_len + off, hdr_len + off + length
    if end > len(btf_ext) or length < 4:
        raise LoaderError(".BTF.ext core_relo sub-section out of bounds")
    (rec_size,) = struct.unpack_from(endian + "I", btf_ext, pos)
    pos += 4
    count = 0
    while pos + 8 <= end:
        _sec, num = struct.unpack_from(endian + "II", btf_ext, pos)
        count += num
        pos += 8 + num * rec_size
    return count


class _MiniBTF:
    """Just enough of the object's BTF to read ``.maps`` definitions."""

    def __init__(self, data: bytes, endian: str) -> None:
        magic, _v, _f, hdr_len, t_off, t_len, s_off, s_len = struct.unpack_from(
            endian + "HBBIIIII", data, 0)
        if magic != 0xEB9F:
            raise LoaderError(".BTF has a bad magic")
        self.e = endian
        self.strs = data[hdr_len + s_off:hdr_len + s_off + s_len]
        self.types: list[tuple[int, int, int, int, int]] = [(0, 0, 0, 0, 0)]  # void
        self.data = data
        pos, end = hdr_len + t_off, hdr_len + t_off + t_len
        while pos < end:
            name_off, info, size_type = struct.unpack_from(endian + "III", data, pos)
            kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
            fixed, per = _BTF_EXTRA.get(kind, (0, 0))
            self.types.append((kind, name_off, vlen, size_type, pos + 12))
            pos += 12 + fixed + per * vlen

    def name(self, off: int) -> str:
        end = self.strs.index(b"\0", off)
        return self.strs[off:end].decode()

    def skip_mods(self, tid: int) -> int:
        while self.types[tid][0] in _BTF_MODIFIERS:
            tid = self.types[tid][3]
        return tid

    def size(self, tid: int) -> int:
        tid = self.skip_mods(tid)
        kind, _n, _v, size_type, extra = self.types[tid]
        if kind == _BTF_KIND_PTR:
            return 8
        if kind == _BTF_KIND_ARRAY:
            elem, _idx, nelems = struct.unpack_from(self.e + "III", self.data, extra)
            return int(nelems) * self.size(elem)
        if kind in (_BTF_KIND_INT, _BTF_KIND_STRUCT, _BTF_KIND_UNION, _BTF_KIND_ENUM,
                    _BTF_KIND_ENUM64, _BTF_KIND_FLOAT, _BTF_KIND_DATASEC):
            return size_type
        raise LoaderError(f"BTF type {tid} (kind {kind}) has no size")

    def members(self, tid: int) -> list[tuple[str, int]]:
        tid = self.skip_mods(tid)
        kind, _n, vlen, _s, extra = self.types[tid]
        if kind != _BTF_KIND_STRUCT:
            raise LoaderError(f"BTF type {tid} is not a struct")
        out = []
        for i in range(vlen):
            name_off, mtype, _off = struct.unpack_from(self.e + "III", self.data, extra + 12 * i)
            out.append((self.name(name_off), mtype))
        return out

    def find_var(self, name: str) -> int:
        for tid, (kind, name_off, _v, _s, _x) in enumerate(self.types):
            if kind == _BTF_KIND_VAR and self.name(name_off) == name:
                return tid
        raise LoaderError(f"no BTF VAR for map {name!r}")

    def map_def(self, var_name: str) -> dict[str, int]:
        """Decode a BTF-defined map: __uint(f, N) is PTR->ARRAY[N], __type(f, T) is PTR->T."""
        struct_tid = self.types[self.find_var(var_name)][3]
        out: dict[str, int] = {}
        for mname, mtype in self.members(struct_tid):
            kind, _n, _v, target, _x = self.types[self.skip_mods(mtype)]
            if kind != _BTF_KIND_PTR:
                raise LoaderError(f"map {var_name!r} field {mname!r} is not a pointer")
            tkind, _n2, _v2, _s2, textra = self.types[self.skip_mods(target)]
            if mname in ("key", "value"):
                out[mname + "_size"] = self.size(target)
            elif tkind == _BTF_KIND_ARRAY:
                out[mname] = struct.unpack_from(self.e + "III", self.data, textra)[2]
            else:
                raise LoaderError(f"map {var_name!r}: unsupported field {mname!r}")
        return out


class _Linker:
    """Lays out one program: its function first, then each subprogram it reaches, once."""

    def __init__(self, obj: Object) -> None:
        self.obj = obj
        self.out = bytearray()
        self.placed: dict[tuple[int, int], int] = {}  # (shndx, func start) -> index in out
        self.todo: list[tuple[int, int, int]] = []

    def place(self, shndx: int, start: int, count: int) -> int:
        key = (shndx, start)
        if key not in self.placed:
            self.placed[key] = len(self.out) // INSN_SIZE
            data = self.obj.sections[shndx].data
            self.out.extend(data[start * INSN_SIZE:(start + count) * INSN_SIZE])
            self.todo.append((shndx, start, count))
        return self.placed[key]

    def place_insn(self, shndx: int, insn: int) -> int:
        """Index in the output of instruction ``insn`` of section shndx, placing its function."""
        start, count = self.obj._func_at(shndx, insn)
        return self.place(shndx, start, count) + insn - start


class Object:
    """A BPF ELF object; ``load_into_kernel()`` creates its maps and programs.

    Global data can be written before loading (changes the initial contents) or after
    (updates the map); ``.rodata`` is created with BPF_F_RDONLY_PROG and left unfrozen so the
    caller may still write inputs into it after loading.
    """

    def __init__(self, data: bytes, name: str = "obj", allow_core_relos: bool = False) -> None:
        self.name = name
        self.raw = bytes(data)
        self.sections: list[_Section] = []
        self.symbols: list[_Symbol] = []
        self.relocs: dict[int, dict[int, _Symbol]] = {}  # shndx -> insn byte offset -> sym
        self.programs: dict[str, Program] = {}
        self.maps: dict[str, Map] = {}  # by section name for data, by map name for .maps
        self._maps_by_offset: dict[int, Map] = {}
        self.license = b""
        self.loaded = False
        self._parse(allow_core_relos)

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def open(cls, src: str | os.PathLike[str] | bytes, allow_core_relos: bool = False) -> Object:
        """Parse an object from a path or bytes without touching the kernel."""
        if isinstance(src, bytes | bytearray | memoryview):
            return cls(bytes(src), "obj", allow_core_relos)
        with open(src, "rb") as f:
            data = f.read()
        return cls(data, os.path.basename(os.fspath(src)), allow_core_relos)

    @classmethod
    def load(cls, src: str | os.PathLike[str] | bytes) -> Object:
        """Parse and load into the kernel in one step."""
        obj = cls.open(src)
        obj.load_into_kernel()
        return obj

    def _parse(self, allow_core_relos: bool) -> None:
        d = self.raw
        if len(d) < 64 or d[:4] != b"\x7fELF":
            raise LoaderError("not an ELF file")
        if d[4] != 2:
            raise LoaderError("not a 64-bit ELF")
        self.endian = "<" if d[5] == 1 else ">"
        e = self.endian
        (_t, machine, _v, _entry, _phoff, shoff, _fl, _ehs, _phes, _phn, shentsize, shnum,
         shstrndx) = struct.unpack_from(e + "HHIQQQIHHHHHH", d, 16)
        if machine != EM_BPF:
            raise LoaderError(f"ELF machine {machine} is not BPF")
        if shnum == 0 or shentsize != 64 or shoff + shnum * 64 > len(d):
            raise LoaderError("bad or unsupported ELF section header table")
        headers = [struct.unpack_from(e + "IIQQQQIIQQ", d, shoff + 64 * i) for i in range(shnum)]
        strtab = headers[shstrndx]
        names = d[strtab[4]:strtab[4] + strtab[5]]
        for i, sh in enumerate(headers):
            end = names.index(b"\0", sh[0])
            body = b"" if sh[1] == SHT_NOBITS else d[sh[4]:sh[4] + sh[5]]
            if sh[1] != SHT_NOBITS and len(body) != sh[5]:
                raise LoaderError(f"section {i} extends past the end of the file")
            self.sections.append(_Section(i, names[sh[0]:end].decode(), sh, body))
        for sec in self.sections:
            if sec.type == SHT_SYMTAB:
                self._parse_symtab(sec)
        for sec in self.sections:
            if sec.name == "maps":
                raise LoaderError("legacy 'maps' section is not supported; use BTF .maps")
            if sec.name == "license":
                self.license = sec.data.split(b"\0", 1)[0]
            if sec.name == ".BTF.ext" and not allow_core_relos:
                n = core_relo_count(sec.data, e)
                if n:
                    raise LoaderError(
                        f"object still has {n} CO-RE relocation(s) in .BTF.ext; relocate it "
                        "for the target kernel first (corepy), this loader does not do CO-RE")
            if sec.type == SHT_REL:
                self._parse_rel(sec)
        self._find_programs()
        self._find_maps()

    def _parse_symtab(self, sec: _Section) -> None:
        strs = self.sections[sec.link].data
        for off in range(0, len(sec.data), 24):
            st_name, info, _other, shndx, value, size = struct.unpack_from(
                self.endian + "IBBHQQ", sec.data, off)
            name = strs[st_name:strs.index(b"\0", st_name)].decode()
            self.symbols.append(_Symbol(name, info, shndx, value, size))

    def _parse_rel(self, sec: _Section) -> None:
        target = self.sections[sec.info]
        if not target.flags & SHF_EXECINSTR:
            return  # DWARF, .BTF.ext and friends: not needed to load
        table = self.relocs.setdefault(target.index, {})
        for off in range(0, len(sec.data), 16):
            r_offset, r_info = struct.unpack_from(self.endian + "QQ", sec.data, off)
            rtype, sym = r_info & 0xFFFFFFFF, r_info >> 32
            if rtype not in (R_BPF_64_64, R_BPF_64_32):
                raise LoaderError(f"unsupported relocation type {rtype} in {sec.name}")
            table[r_offset] = self.symbols[sym]

    def _find_programs(self) -> None:
        for sym in self.symbols:
            if sym.type != STT_FUNC or sym.bind not in (STB_GLOBAL, STB_WEAK):
                continue
            if sym.shndx == SHN_UNDEF or sym.shndx >= len(self.sections):
                continue
            sec = self.sections[sym.shndx]
            if not sec.flags & SHF_EXECINSTR or sec.name == ".text":
                continue
            for prefix, ptype, atype in SECTION_PROG_TYPES:
                if sec.name.startswith(prefix) or sec.name == prefix.rstrip("/"):
                    self.programs[sym.name] = Program(sym.name, sec.name, ptype, atype, sym)
                    break
            else:
                raise LoaderError(f"program {sym.name!r}: unknown section {sec.name!r}")

    def _find_maps(self) -> None:
        for sec in self.sections:
            if sec.flags & SHF_ALLOC and _is_data_section(sec.name) and sec.size:
                flags = BPF_F_RDONLY_PROG if sec.name.startswith(".rodata") else 0
                init = sec.data if sec.type != SHT_NOBITS else bytes(sec.size)
                self.maps[sec.name] = Map(sec.name, BPF_MAP_TYPE_ARRAY, 4, sec.size, 1, flags,
                                          init, sec.name)
        maps_sec = next((s for s in self.sections if s.name == ".maps"), None)
        if maps_sec is None:
            return
        btf_sec = next((s for s in self.sections if s.name == ".BTF"), None)
        if btf_sec is None:
            raise LoaderError(".maps needs the object's .BTF (compile with -g)")
        btf = _MiniBTF(btf_sec.data, self.endian)
        for sym in self.symbols:
            if sym.shndx != maps_sec.index or sym.type == STT_SECTION or not sym.name:
                continue
            d = btf.map_def(sym.name)
            for need in ("type", "key_size", "value_size", "max_entries"):
                if need not in d:
                    raise LoaderError(f"map {sym.name!r} lacks {need}")
            extra = set(d) - {"type", "key_size", "value_size", "max_entries", "map_flags"}
            if extra:
                raise LoaderError(f"map {sym.name!r}: unsupported fields {sorted(extra)}")
            m = Map(sym.name, d["type"], d["key_size"], d["value_size"], d["max_entries"],
                    d.get("map_flags", 0), None, ".maps")
            self.maps[sym.name] = m
            self._maps_by_offset[sym.value] = m

    # -- global variables ----------------------------------------------------------------------

    def variable(self, name: str) -> tuple[str, int, int]:
        """(section, offset, size) of a global variable, from the symbol table."""
        for sym in self.symbols:
            if sym.name == name and sym.type == STT_OBJECT and 0 < sym.shndx < len(self.sections):
                sec = self.sections[sym.shndx].name
                if sec in self.maps:
                    return sec, sym.value, sym.size
        raise LoaderError(f"no global variable {name!r}")

    def set_global(self, section: str, offset: int, data: bytes) -> None:
        """Write bytes into a global-data section (before or after loading)."""
        m = self._data_map(section)
        if offset < 0 or offset + len(data) > m.value_size:
            raise LoaderError(f"write of {len(data)} bytes at {offset} outside {section}")
        assert m.initial is not None
        m.initial[offset:offset + len(data)] = data
        if self.loaded:
            self._update(m, bytes(m.initial))

    def read_global(self, section: str) -> bytes:
        """Current contents of a global-data section (from the kernel once loaded)."""
        m = self._data_map(section)
        if not self.loaded:
            assert m.initial is not None
            return bytes(m.initial)
        val = ctypes.create_string_buffer(m.value_size)
        key = ctypes.create_string_buffer(4)
        attr = struct.pack("=IIQQQ", m.fd, 0, _addr(key), _addr(val), 0)
        _bpf(BPF_MAP_LOOKUP_ELEM, attr, f"lookup in {section}")
        return val.raw

    def set_var(self, name: str, data: bytes) -> None:
        sec, off, size = self.variable(name)
        if len(data) != size:
            raise LoaderError(f"variable {name!r} has {size} bytes, got {len(data)}")
        self.set_global(sec, off, data)

    def read_var(self, name: str) -> bytes:
        sec, off, size = self.variable(name)
        return self.read_global(sec)[off:off + size]

    def _data_map(self, section: str) -> Map:
        m = self.maps.get(section)
        if m is None or m.initial is None:
            raise LoaderError(f"no global-data section {section!r}")
        return m

    def _update(self, m: Map, value: bytes) -> None:
        val = ctypes.create_string_buffer(value, len(value))
        key = ctypes.create_string_buffer(4)
        attr = struct.pack("=IIQQQ", m.fd, 0, _addr(key), _addr(val), 0)
        _bpf(BPF_MAP_UPDATE_ELEM, attr, f"update of {m.name}")

    # -- loading -------------------------------------------------------------------------------

    def load_into_kernel(self) -> None:
        """Create maps, link and load every program."""
        if self.loaded:
            raise LoaderError("object already loaded")
        if sys.byteorder != ("little" if self.endian == "<" else "big"):
            raise LoaderError("object byte order differs from the host's")
        try:
            for m in self.maps.values():
                attr = struct.pack("=IIIIIII16s", m.map_type, m.key_size, m.value_size,
                                   m.max_entries, m.flags, 0, 0, _kname(m.name))
                m.fd, _ = _bpf(BPF_MAP_CREATE, attr, f"map create {m.name}")
                if m.initial is not None:
                    self._update(m, bytes(m.initial))
            self.loaded = True
            for prog in self.programs.values():
                prog.insns = self._link(prog)
                prog.fd = self._prog_load(prog)
        except BaseException:
            self.close()
            raise

    def _prog_load(self, prog: Program) -> int:
        insns = ctypes.create_string_buffer(prog.insns, len(prog.insns))
        lic = ctypes.create_string_buffer(self.license + b"\0")
        log_size = 0
        log = ctypes.create_string_buffer(1)
        while True:
            level = 1 if log_size else 0
            attr = struct.pack("=IIQQIIQII16sII", prog.prog_type, len(prog.insns) // INSN_SIZE,
                               _addr(insns), _addr(lic), level, log_size,
                               _addr(log) if log_size else 0, 0, 0, _kname(prog.name), 0,
                               prog.attach_type)
            try:
                fd, _ = _bpf(BPF_PROG_LOAD, attr + bytes(128 - len(attr)), f"load {prog.name}")
                return fd
            except BPFError as err:
                if log_size == 0 or (err.errno == 28 and log_size < (1 << 30)):  # ENOSPC
                    log_size = max(log_size * 4, 1 << 20)
                    log = ctypes.create_string_buffer(log_size)
                    continue
                text = log.value.decode(errors="replace")
                raise BPFError(f"BPF_PROG_LOAD of {prog.name!r}", err.errno, text) from None

    def _functions(self, shndx: int) -> list[_Symbol]:
        return [s for s in self.symbols if s.shndx == shndx and s.type == STT_FUNC]

    def _func_at(self, shndx: int, insn: int) -> tuple[int, int]:
        """(start, count) in instructions of the function of section shndx containing insn."""
        sec = self.sections[shndx]
        for s in self._functions(shndx):
            start = s.value // INSN_SIZE
            size = s.size if s.size else sec.size - s.value
            if start <= insn < start + size // INSN_SIZE:
                return start, size // INSN_SIZE
        raise LoaderError(f"no function at instruction {insn} of {sec.name}")

    def _link(self, prog: Program) -> bytes:
        """Copy the program, append the subprograms it calls, patch calls and map loads."""
        e = self.endian
        ln = _Linker(self)
        ln.place(prog.sym.shndx, *self._func_at(prog.sym.shndx, prog.sym.value // INSN_SIZE))
        out = ln.out
        while ln.todo:
            shndx, start, count = ln.todo.pop(0)
            base = ln.placed[(shndx, start)]
            relocs = self.relocs.get(shndx, {})
            for i in range(count):
                pos = (base + i) * INSN_SIZE
                code, regs, _off, imm = struct.unpack_from(e + "BBhi", out, pos)
                src = regs >> 4 if e == "<" else regs & 0xF
                sym = relocs.get((start + i) * INSN_SIZE)
                if code == OP_CALL and src == BPF_PSEUDO_CALL:
                    if sym is not None:
                        tshndx, tinsn = sym.shndx, sym.value // INSN_SIZE + imm + 1
                    else:
                        tshndx, tinsn = shndx, start + i + imm + 1
                    fpos = ln.place_insn(tshndx, tinsn)
                    struct.pack_into(e + "i", out, pos + 4, fpos - (base + i) - 1)
                elif sym is not None and code == OP_LD_IMM64:
                    self._patch_ld_imm64(out, pos, sym, imm)
                elif sym is not None:
                    what = f"{sym.name or self.sections[sym.shndx].name}"
                    raise LoaderError(f"{prog.name}: unsupported relocation to {what} "
                                      f"on instruction {i} (opcode {code:#x})")
        return bytes(out)

    def _patch_ld_imm64(self, out: bytearray, pos: int, sym: _Symbol, imm: int) -> None:
        e = self.endian
        if sym.shndx == SHN_UNDEF or sym.shndx >= len(self.sections):
            raise LoaderError(f"extern {sym.name!r} (kconfig/ksym) is not supported")
        sec = self.sections[sym.shndx]

        def set_src(src: int) -> None:
            regs = out[pos + 1]
            out[pos + 1] = (regs & 0x0F) | (src << 4) if e == "<" else (regs & 0xF0) | src

        if sec.name in self.maps:  # global data: map value pointer
            set_src(BPF_PSEUDO_MAP_VALUE)
            struct.pack_into(e + "i", out, pos + 4, self.maps[sec.name].fd)
            struct.pack_into(e + "i", out, pos + 12, sym.value + imm)
        elif sec.name == ".maps":
            m = self._maps_by_offset.get(sym.value + imm)
            if m is None:
                raise LoaderError(f"no map at offset {sym.value + imm} of .maps")
            set_src(BPF_PSEUDO_MAP_FD)
            struct.pack_into(e + "i", out, pos + 4, m.fd)
            struct.pack_into(e + "i", out, pos + 12, 0)
        elif sec.flags & SHF_EXECINSTR:
            raise LoaderError("callbacks (address of a subprogram) need prog BTF func_info, "
                              "which this loader does not pass")
        else:
            raise LoaderError(f"ld_imm64 refers to unsupported section {sec.name!r}")

    # -- running -------------------------------------------------------------------------------

    def run(self, prog_name: str, ctx: bytes = b"", data: bytes = b"") -> int:
        """BPF_PROG_TEST_RUN once; return the program's return value.

        raw_tp programs take no data and repeat 0 (they run in the calling task); ``ctx`` is
        their u64 argument array.
        """
        prog = self.programs.get(prog_name)
        if prog is None:
            raise LoaderError(f"no program {prog_name!r}; have {sorted(self.programs)}")
        if prog.fd < 0:
            raise LoaderError(f"program {prog_name!r} is not loaded")
        ctx_buf = ctypes.create_string_buffer(ctx, max(len(ctx), 1))
        data_buf = ctypes.create_string_buffer(data, max(len(data), 1))
        attr = struct.pack("=IIIIQQIIIIQQIII", prog.fd, 0, len(data), 0,
                           _addr(data_buf) if data else 0, 0, 0, 0, len(ctx), 0,
                           _addr(ctx_buf) if ctx else 0, 0, 0, 0, 0)
        _, back = _bpf(BPF_PROG_TEST_RUN, attr + bytes(4), f"test run of {prog_name}")
        retval: int = struct.unpack_from("=I", back, 4)[0]
        return retval

    def close(self) -> None:
        """Close every fd this object owns."""
        for p in self.programs.values():
            if p.fd >= 0:
                os.close(p.fd)
                p.fd = -1
        for m in self.maps.values():
            if m.fd >= 0:
                os.close(m.fd)
                m.fd = -1
        self.loaded = False

    def __enter__(self) -> Object:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: list[str]) -> int:
    """``bpfload.py OBJ [PROG...]``: load, test-run each program, print retvals and .bss."""
    if not argv:
        print("usage: bpfload.py OBJECT.o [PROGRAM ...]", file=sys.stderr)
        return 2
    try:
        with Object.load(argv[0]) as obj:
            for name in argv[1:] or sorted(obj.programs):
                print(f"{name}: retval {obj.run(name)}")
            for sec in obj.maps:
                if obj.maps[sec].initial is not None:
                    print(f"{sec}: {obj.read_global(sec).hex()}")
    except (LoaderError, OSError) as err:
        print(f"bpfload: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
