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
    subprocess.run(["bash", str(copy / script)], check=True, capture_output=True, timeout=600)
    return copy


@pytest.mark.parametrize(("fixture", "tools"), [
    ("core", ("clang-19", "pahole")),  # pahole: the 32-bit autosize targets
    ("selfcheck", ("clang-19", "gcc")),  # gcc -print-multiarch: the libc header path
])
def test_fixtures_rebuild_identically(tmp_path: Path, fixture: str,
                                      tools: tuple[str, ...]) -> None:
    reason = _tools_missing(*tools)
    if reason:
        pytest.skip(reason)
    built, committed = _rebuild(tmp_path, f"{fixture}/build.sh") / fixture, FIXTURES / fixture
    names = sorted(p.relative_to(committed).as_posix() for p in committed.rglob("*.o"))
    assert names, f"no committed objects under {committed}"
    assert sorted(p.relative_to(built).as_posix() for p in built.rglob("*.o")) == names
    stale = [n for n in names if (built / n).read_bytes() != (committed / n).read_bytes()]
    assert not stale, f"differ from a fresh build (rerun the build script): {stale}"
    sums = committed / "SHA256SUMS"
    if sums.exists():
        assert (built / "SHA256SUMS").read_text() == sums.read_text()
