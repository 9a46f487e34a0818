"""The committed fixture objects are exactly what their build scripts make from the sources.

The fixtures are rebuilt in a copy of ``fixtures/`` somewhere else (a different path
length, as clang's BTF type order once depended on it) and compared byte for byte, so
a source edit without a rebuild, or a build that depends on where it ran, fails here.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"


def _tools_missing(*tools: str) -> str | None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        return f"{' and '.join(missing)} not installed: the committed objects are not rebuilt"
    if not Path("/usr/include/bpf/bpf_helpers.h").is_file():
        return "libbpf-dev headers (/usr/include/bpf) not installed"
    return None


def _rebuild(tmp_path: Path, script: str) -> Path:
    copy = tmp_path / "elsewhere" / "fixtures"
    shutil.copytree(FIXTURES, copy, ignore=shutil.ignore_patterns("kernels", "*.o"))
    subprocess.run(["bash" if script.endswith("core/build.sh") else "sh", str(copy / script)],
                   check=True, capture_output=True, timeout=600)
    return copy


def _assert_same_objects(built: Path, committed: Path) -> None:
    names = sorted(p.relative_to(committed).as_posix() for p in committed.rglob("*.o"))
    assert names, f"no committed objects under {committed}"
    assert sorted(p.relative_to(built).as_posix() for p in built.rglob("*.o")) == names
    stale = [n for n in names if (built / n).read_bytes() != (committed / n).read_bytes()]
    assert not stale, f"differ from a fresh build (rerun the build script): {stale}"


def test_core_fixtures_rebuild_identically(tmp_path: Path) -> None:
    reason = _tools_missing("clang-19", "pahole")
    if reason:
        pytest.skip(reason)
    copy = _rebuild(tmp_path, "core/build.sh")
    _assert_same_objects(copy / "core", FIXTURES / "core")
    sums = (FIXTURES / "core" / "SHA256SUMS").read_text()
    assert (copy / "core" / "SHA256SUMS").read_text() == sums


def test_selfcheck_fixtures_rebuild_identically(tmp_path: Path) -> None:
    reason = _tools_missing("clang-19", "gcc")
    if reason:
        pytest.skip(reason)
    copy = _rebuild(tmp_path, "selfcheck/build.sh")
    _assert_same_objects(copy / "selfcheck", FIXTURES / "selfcheck")
