"""The committed test objects are what build.sh makes from the committed sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import ARCHES, DATA, have_build_tools


def test_data_objects_up_to_date(data_dir: Path) -> None:
    if not have_build_tools() or data_dir == DATA:
        pytest.skip("clang-19 and pahole are needed to rebuild tests/core/data")
    for arch in ARCHES:
        built = sorted(p.name for p in (data_dir / arch).glob("*.o"))
        committed = sorted(p.name for p in (DATA / arch).glob("*.o"))
        assert built == committed, arch
        for name in built:
            assert (data_dir / arch / name).read_bytes() == (DATA / arch / name).read_bytes(), \
                f"{arch}/{name} differs from a fresh build: run tests/core/data/build.sh"
