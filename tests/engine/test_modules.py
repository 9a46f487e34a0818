"""Module BTF offline (--modules): found only through the module, loaded only when needed.

Target: Debian 6.12 cloud amd64 vmlinux + its tun module (fixtures/kernels). The expected
offsets are read from ``bpftool btf dump file tun.btf -B vmlinux.btf`` (an independent
reader); task_struct.pid on 6.12 is at 2432 (docs real-kernels.md).
"""

from __future__ import annotations

import lzma
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import DATA, HOST, ROOT, needs_calc

pytestmark = needs_calc
KERNELS = ROOT / "fixtures" / "kernels"
OBJ = DATA / "modtest.bpfel.o"


@pytest.fixture(scope="module")
def k612(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    src = KERNELS / "debian-6.12-cloud-amd64.btf.xz"
    mod = KERNELS / "debian-6.12-cloud-amd64.tun.btf.xz"
    if not (src.exists() and mod.exists()):
        pytest.skip("fixtures/kernels 6.12 amd64 BTF missing")
    d = tmp_path_factory.mktemp("k612")
    (d / "vmlinux.btf").write_bytes(lzma.decompress(src.read_bytes()))
    mods = d / "mods"
    mods.mkdir()
    shutil.copy(mod, mods / "tun.btf.xz")  # compressed module BTF is read as is
    return d / "vmlinux.btf", mods


def bpftool_offsets(vmlinux: Path, mods: Path, struct: str) -> dict[str, int]:
    if shutil.which("bpftool") is None:
        pytest.skip("bpftool not installed")
    raw = mods.parent / "tun.raw"
    raw.write_bytes(lzma.decompress((mods / "tun.btf.xz").read_bytes()))
    out = subprocess.run(["bpftool", "btf", "dump", "file", str(raw), "-B", str(vmlinux)],
                         capture_output=True, text=True, check=True).stdout
    body = out.split(f"STRUCT '{struct}'", 1)[1].split("\n[", 1)[0]
    return {m[1]: int(m[2]) // 8 for m in re.finditer(r"'(\w+)' type_id=\d+ bits_offset=(\d+)",
                                                      body)}


def test_module_type_found_only_with_modules(k612: tuple[Path, Path]) -> None:
    from corepy.api import relocate

    vmlinux, mods = k612
    want = bpftool_offsets(vmlinux, mods, "tun_struct")
    without = relocate(OBJ, vmlinux)
    assert [f.outcome for f in without.fixups] == ["patched", "poisoned", "poisoned", "patched"]
    assert without.fixups[3].result and without.fixups[3].result.new_val == 0  # type_exists
    rel = relocate(OBJ, vmlinux, modules=mods)
    vals = [f.result.new_val for f in rel.fixups if f.result]
    assert vals == [2432, want["numqueues"], want["flags"], 1]
    assert [c.btf_name for c in rel.fixups[1].result.candidates] == ["tun"]  # type: ignore[union-attr]
    assert rel.report()["target"]["modules_loaded"] == ["tun"]


def test_modules_not_loaded_when_vmlinux_has_candidates(k612: tuple[Path, Path]) -> None:
    from corepy.api import relocate

    vmlinux, mods = k612
    rel = relocate(HOST["little"], vmlinux, modules=mods)
    assert rel.ok and rel.report()["target"]["modules_loaded"] == []


def test_corrupt_module_skipped_good_one_used(k612: tuple[Path, Path], tmp_path: Path) -> None:
    from corepy.api import relocate

    vmlinux, mods = k612
    d = tmp_path / "mods"
    shutil.copytree(mods, d)
    (d / "aaa_broken.ko").write_bytes(b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"junk")
    rel = relocate(OBJ, vmlinux, modules=d)
    assert [f.outcome for f in rel.fixups] == ["patched"] * 4
    rep = rel.report()
    assert rep["target"]["modules_loaded"] == ["tun"]
    assert len(rep["warnings"]) == 1 and "aaa_broken.ko" in rep["warnings"][0]


def test_cli_modules_flag(k612: tuple[Path, Path], tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    from corepy.cli import main

    vmlinux, mods = k612
    out = tmp_path / "o.o"
    assert main(["relocate", str(OBJ), "-t", str(vmlinux), "--modules", str(mods),
                 "-o", str(out), "--strict"]) == 0
    assert out.exists()
    assert main(["relocate", str(OBJ), "-t", str(vmlinux), "-o", str(tmp_path / "p.o"),
                 "--strict"]) == 1
    assert not (tmp_path / "p.o").exists()
    assert "poisoned" in capsys.readouterr().err
