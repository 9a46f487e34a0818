"""Consistency checks for the committed CO-RE fixture corpus (fixtures/core/).

The corpus is what the relocation engine is tested against, so these tests
guard the corpus itself: the manifest names only objects that exist for both
byte orders, the committed bytes are the ones recorded in SHA256SUMS, and the
relocation kinds the manifest claims per object are really present in each
object's .BTF.ext.  No corepy code is used.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from elftools.elf.elffile import ELFFile

CORE = Path(__file__).resolve().parent.parent / "fixtures" / "core"
ARCHES = ("bpfel", "bpfeb")
EM_BPF = 247


def _manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CORE / "manifest.json").read_text())
    return data


MANIFEST = _manifest()
OBJECTS: dict[str, Any] = MANIFEST["objects"]
TARGETS: dict[str, Any] = MANIFEST["targets"]


def _sums() -> dict[str, str]:
    sums = {}
    for line in (CORE / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name.strip()] = digest
    return sums


def _core_relo_kinds(path: Path) -> list[int]:
    """Kinds of all CO-RE relocation records in an object's .BTF.ext."""
    with path.open("rb") as f:
        elf = ELFFile(f)
        sec = elf.get_section_by_name(".BTF.ext")
        assert sec is not None, f"{path.name}: no .BTF.ext"
        data = sec.data()
        bo = "<" if elf.little_endian else ">"
    magic, _version, _flags, hdr_len = struct.unpack_from(bo + "HBBI", data, 0)
    assert magic == 0xEB9F
    if hdr_len < 32:
        return []
    core_off, core_len = struct.unpack_from(bo + "II", data, 24)
    pos = hdr_len + core_off
    end = pos + core_len
    (rec_size,) = struct.unpack_from(bo + "I", data, pos)
    assert rec_size >= 16
    pos += 4
    kinds = []
    while pos < end:
        _sec_name_off, num = struct.unpack_from(bo + "II", data, pos)
        pos += 8
        for _ in range(num):
            kinds.append(struct.unpack_from(bo + "I", data, pos + 12)[0])
            pos += rec_size
    assert pos == end
    return kinds


def test_sha256sums_match_committed_files() -> None:
    sums = _sums()
    assert sums, "SHA256SUMS is empty"
    for name, digest in sums.items():
        path = CORE / name
        assert path.is_file(), f"{name} listed in SHA256SUMS but missing"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"{name} changed"


def test_every_committed_object_is_checksummed() -> None:
    sums = _sums()
    on_disk = {
        str(p.relative_to(CORE))
        for arch in (*ARCHES, "kernel")
        for p in (CORE / arch).glob("*")
        if p.suffix in (".o", ".btf")
    }
    assert on_disk == set(sums)


@pytest.mark.parametrize("arch", ARCHES)
def test_manifest_objects_and_targets_exist(arch: str) -> None:
    for oname, obj in OBJECTS.items():
        assert (CORE / arch / oname).is_file(), f"{arch}/{oname}"
        assert (CORE / obj["source"]).is_file()
        for case in obj["cases"]:
            target = case["target"]
            if target == "-":
                continue
            if target.startswith("kernel/"):
                assert (CORE / target).is_file(), target
            else:
                assert target in TARGETS, f"{oname}: {target} not in manifest targets"
                assert (CORE / arch / target).is_file(), f"{arch}/{target}"
    for tname, tgt in TARGETS.items():
        assert (CORE / arch / tname).is_file(), f"{arch}/{tname}"
        assert f"defined({tgt['define']})" in (CORE / tgt["source"]).read_text()


@pytest.mark.parametrize("arch", ARCHES)
def test_no_unlisted_objects(arch: str) -> None:
    files = {p.name for p in (CORE / arch).glob("*.o")}
    assert files == set(OBJECTS) | set(TARGETS)


def test_case_outcomes_are_known_values() -> None:
    allowed = set(MANIFEST["outcomes"])
    assert allowed == {"ok", "poison", "error"}
    for oname, obj in OBJECTS.items():
        assert obj["cases"], oname
        for case in obj["cases"]:
            assert case["outcome"] in allowed, (oname, case["target"])
            if case["outcome"] != "ok":
                assert "values_bpfel" not in case, "failed loads have no outputs"
            names = {f["name"] for f in obj["output"]}
            for prog, values in case.get("values_bpfel", {}).items():
                assert prog in obj["programs"], (oname, prog)
                assert set(values) <= names, (oname, set(values) - names)


@pytest.mark.parametrize("arch", ARCHES)
def test_elf_headers(arch: str) -> None:
    for name in (*OBJECTS, *TARGETS):
        with (CORE / arch / name).open("rb") as f:
            elf = ELFFile(f)
            assert elf.little_endian == (arch == "bpfel"), name
            assert elf.get_section_by_name(".BTF") is not None, name
            ptr_size = TARGETS[name]["pointer_size"] if name in TARGETS else 8
            assert elf.elfclass == ptr_size * 8, name
            if ptr_size == 8:
                assert elf["e_machine"] == "EM_BPF" or elf["e_machine"] == EM_BPF, name


@pytest.mark.parametrize("arch", ARCHES)
def test_reloc_kinds_match_btf_ext(arch: str) -> None:
    for oname, obj in OBJECTS.items():
        kinds = sorted(set(_core_relo_kinds(CORE / arch / oname)))
        assert kinds == obj["reloc_kinds"], f"{arch}/{oname}: {kinds}"


def test_all_relocation_kinds_covered() -> None:
    covered = set().union(*(set(o["reloc_kinds"]) for o in OBJECTS.values()))
    assert covered == set(range(13))
    assert len(MANIFEST["reloc_kind_names"]) == 13


def test_targets_have_no_core_relocations() -> None:
    for tname in TARGETS:
        with (CORE / "bpfel" / tname).open("rb") as f:
            elf = ELFFile(f)
            if elf.get_section_by_name(".BTF.ext") is None:
                continue
        assert _core_relo_kinds(CORE / "bpfel" / tname) == [], tname
