"""The target-Spec cache of ``corepy.targets``: reused while the file is unchanged.

A loader calling ``corepy.relocate(obj, path)`` many times must not read and index the
kernel's BTF each time; a changed or replaced file must be read again, and the CLI (one
target per process) must not pay for the cache's import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import cachetools
import pytest

import corepy
from corepy import targets

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "engine" / "data"
OBJ = DATA / "engine.bpfel.o"
SMALL = DATA / "engine_target.bpfel.o"
BIG = DATA / "engine_target_big.bpfel.o"


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    targets.clear_cache()


def outcomes(rel: corepy.Relocation) -> list[tuple[str, bytes]]:
    return [(f.outcome, f.insn) for f in rel.fixups]


def test_same_path_reuses_the_indexed_spec(tmp_path: Path) -> None:
    target = tmp_path / "k.o"
    shutil.copy(SMALL, target)
    a = corepy.relocate(OBJ, target, collect_errors=True)
    b = corepy.relocate(OBJ, str(target), collect_errors=True)
    assert a.target is not b.target and a.target is not None and b.target is not None
    assert a.target.vmlinux.spec is b.target.vmlinux.spec
    assert isinstance(targets._cache, cachetools.LRUCache)
    assert targets.cache_info() == {"size": 1, "maxsize": targets.CACHE_SIZE}
    assert outcomes(a) == outcomes(b)
    # another name for the same file (a symlink) is the same kernel
    link = tmp_path / "link.o"
    link.symlink_to(target)
    c = corepy.relocate(OBJ, link, collect_errors=True)
    assert c.target is not None and c.target.vmlinux.spec is a.target.vmlinux.spec
    assert c.target.source == str(link)


def test_changed_file_is_read_again(tmp_path: Path) -> None:
    target = tmp_path / "k.o"
    shutil.copy(SMALL, target)
    first = corepy.relocate(OBJ, target, collect_errors=True)
    assert first.ok
    shutil.copy(BIG, target)  # replaced in place: other size, mtime, ctime
    second = corepy.relocate(OBJ, target, collect_errors=True)
    direct = corepy.relocate(OBJ, BIG, collect_errors=True, target_cache=False)
    assert first.target is not None and second.target is not None
    assert second.target.vmlinux.spec is not first.target.vmlinux.spec
    assert not second.ok and outcomes(second) == outcomes(direct)
    # same bytes, newer timestamp: read again too (the key cannot see contents)
    st = os.stat(target)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    third = corepy.relocate(OBJ, target, collect_errors=True)
    assert third.target is not None
    assert third.target.vmlinux.spec is not second.target.vmlinux.spec
    assert outcomes(third) == outcomes(direct)


def test_least_recently_used_kernel_is_dropped(tmp_path: Path) -> None:
    paths = []
    for i in range(targets.CACHE_SIZE + 1):
        p = tmp_path / f"k{i}.o"
        shutil.copy(SMALL, p)
        paths.append(p)
    specs = [corepy.relocate(OBJ, p, collect_errors=True).target.vmlinux.spec  # type: ignore[union-attr]
             for p in paths]
    assert targets.cache_info()["size"] == targets.CACHE_SIZE
    again = corepy.relocate(OBJ, paths[-1], collect_errors=True).target
    assert again is not None and again.vmlinux.spec is specs[-1]
    oldest = corepy.relocate(OBJ, paths[0], collect_errors=True).target
    assert oldest is not None and oldest.vmlinux.spec is not specs[0]


def test_cache_off_and_spec_targets_bypass_it(tmp_path: Path) -> None:
    target = tmp_path / "k.o"
    shutil.copy(SMALL, target)
    a = corepy.relocate(OBJ, target, target_cache=False)
    b = corepy.relocate(OBJ, target, target_cache=False)
    assert a.target is not None and b.target is not None
    assert a.target.vmlinux.spec is not b.target.vmlinux.spec
    assert targets.cache_info()["size"] == 0
    c = corepy.relocate(OBJ, a.target.vmlinux.spec)
    assert c.target is not None and c.target.vmlinux.spec is a.target.vmlinux.spec
    assert targets.cache_info()["size"] == 0


def test_missing_target_is_still_an_error(tmp_path: Path) -> None:
    with pytest.raises(corepy.TargetError):
        corepy.relocate(OBJ, tmp_path / "nope.o")
    assert targets.cache_info()["size"] == 0


def test_cli_does_not_import_cachetools(tmp_path: Path) -> None:
    code = ("import sys; from corepy.cli import main; "
            f"rc = main(['relocate', {str(OBJ)!r}, '--target', {str(SMALL)!r}, '-o', "
            f"{str(tmp_path / 'out.o')!r}]); "
            "print(rc, 'cachetools' in sys.modules, file=sys.stderr)")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env,
                          cwd=ROOT, check=True)
    assert proc.stderr.decode().strip().splitlines()[-1] == "0 False"
