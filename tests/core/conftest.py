"""Fixtures for the calculation-layer tests: the test objects, their relocations, targets.

The objects are built from ``tests/core/data/src`` by ``tests/core/data/build.sh``. When
clang-19 is installed they are rebuilt once per session into a temporary directory (and
``test_data_objects_up_to_date`` checks the committed copies equal the rebuild); without
clang the committed objects are used. ``.BTF`` and ``.BTF.ext`` are read with pyelftools,
so these tests depend on nothing but ``btf`` and ``corepy.core``.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from btf.ext import parse_btf_ext
from btf.spec import Spec
from corepy.core import CoreCalculator, TargetBTF
from corepy.relo import CoreRelo

DATA = Path(__file__).resolve().parent / "data"
ARCHES = ("bpfel", "bpfeb")


def have_build_tools() -> bool:
    return shutil.which("clang-19") is not None and shutil.which("pahole") is not None


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory with bpfel/ and bpfeb/ objects: freshly built if possible, else committed."""
    if not have_build_tools():
        return DATA
    out = tmp_path_factory.mktemp("core-data")
    subprocess.run([str(DATA / "build.sh"), str(out)], check=True, capture_output=True)
    return out


@dataclass
class Obj:
    """A test object: its BTF, its relocations with program names, its raw ELF sections."""

    path: Path
    btf: Spec
    relos: list[tuple[CoreRelo, str]]
    elfclass: int
    sections: dict[str, bytes]
    symbols: dict[str, tuple[str, int, int]]  # name -> (section, value, size)

    def find(self, prog: str, index: int) -> CoreRelo:
        for r, p in self.relos:
            if p == prog and r.index == index:
                return r
        raise KeyError((prog, index))

    def of(self, prog: str) -> list[CoreRelo]:
        return [r for r, p in self.relos if p == prog]

    def symbol_bytes(self, name: str) -> bytes:
        sec, value, size = self.symbols[name]
        return self.sections[sec][value : value + size]


def load_obj(path: Path) -> Obj:
    data = path.read_bytes()
    elf = ELFFile(io.BytesIO(data))
    ptr = 4 if elf.elfclass == 32 else 8
    btf = Spec(elf.get_section_by_name(".BTF").data(), source=str(path), ptr_size=ptr)
    sections = {s.name: s.data() for s in elf.iter_sections() if s["sh_type"] == "SHT_PROGBITS"}
    symbols: dict[str, tuple[str, int, int]] = {}
    funcs: dict[str, str] = {}
    symtab = elf.get_section_by_name(".symtab")
    for sym in symtab.iter_symbols():
        shndx = sym["st_shndx"]
        if not isinstance(shndx, int):
            continue
        sec = elf.get_section(shndx).name
        symbols[sym.name] = (sec, sym["st_value"], sym["st_size"])
        if sym["st_info"]["type"] == "STT_FUNC":
            funcs[sec] = sym.name
    relos: list[tuple[CoreRelo, str]] = []
    ext_sec = elf.get_section_by_name(".BTF.ext")
    if ext_sec is not None:
        ext = parse_btf_ext(ext_sec.data(), btf)
        for sec in ext.core_relos:
            for i, rec in enumerate(sec.records):
                relo = CoreRelo(sec.name, i, rec.insn_off, rec.type_id,
                                btf.string(rec.access_str_off), rec.kind)
                relos.append((relo, funcs.get(sec.name, sec.name)))
    return Obj(path, btf, relos, elf.elfclass, sections, symbols)


class Objects:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[tuple[str, str], Obj] = {}

    def __call__(self, arch: str, name: str) -> Obj:
        key = (arch, name)
        if key not in self._cache:
            self._cache[key] = load_obj(self.root / arch / f"{name}.o")
        return self._cache[key]

    def target(self, arch: str, variant: str) -> TargetBTF:
        return TargetBTF("vmlinux", self(arch, f"target_{variant}").btf)

    def calc(self, arch: str, prog_obj: str, variant: str) -> CoreCalculator:
        return CoreCalculator(self(arch, prog_obj).btf, self.target(arch, variant))


@pytest.fixture(scope="session")
def objs(data_dir: Path) -> Objects:
    return Objects(data_dir)
