"""Name look-ups without the name column: searching the type section gives the same ids.

Without the on-disk cache, ``Spec`` does not record each type's ``name_off`` during the scan
(~1/3 of its cost); ``find_by_name`` then searches the type section for the name's string
offset and keeps hits that are a record's first word, and builds the column after a few
searches. These tests compare every path with a brute-force answer.
"""

from __future__ import annotations

import lzma
import random
import struct
from pathlib import Path

import pytest
from test_spec_builder import Builder

from btf import Spec

ROOT = Path(__file__).resolve().parent.parent
KERNEL = ROOT / "fixtures" / "kernels" / "debian-6.12-cloud-amd64.btf.xz"


def brute_force(spec: Spec) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for tid in spec.own_ids:
        out.setdefault(spec.name(tid), []).append(tid)
    return out


@pytest.fixture(scope="module")
def kernel() -> tuple[bytes, dict[str, list[int]]]:
    if not KERNEL.exists():
        pytest.skip(f"{KERNEL} missing")
    data = lzma.decompress(KERNEL.read_bytes())
    return data, brute_force(Spec(data))


def sample_names(truth: dict[str, list[int]], k: int) -> list[str]:
    rng = random.Random(7)
    names = sorted(n for n in truth if n)
    picked = rng.sample(names, k)
    # several types of one name, member-only names, missing names
    dup = sorted(n for n, ids in truth.items() if n and len(ids) > 1)[:5]
    return picked + dup + ["pid", "state", "no_such_type_xyz", "task_struct", "int"]


def test_type_section_search_matches_brute_force(
        kernel: tuple[bytes, dict[str, list[int]]]) -> None:
    data, truth = kernel
    spec = Spec(data)
    names = sample_names(truth, 5)
    for name in names[:7]:  # fewer than the column threshold: all type-section searches
        assert spec.find_by_name(name) == truth.get(name, []), name
    assert spec._names is None  # no column was needed


def test_column_built_after_many_searches_gives_the_same(
        kernel: tuple[bytes, dict[str, list[int]]]) -> None:
    data, truth = kernel
    spec = Spec(data)
    names = sample_names(truth, 40)
    for name in names:
        assert spec.find_by_name(name) == truth.get(name, []), name
    assert spec._names is not None  # switched to the column on the way
    assert list(spec._names) == [spec.header_words(t)[0] for t in spec.own_ids]


def test_cached_column_gives_the_same(kernel: tuple[bytes, dict[str, list[int]]],
                                      tmp_path: Path) -> None:
    data, truth = kernel
    Spec(data, cache_dir=tmp_path)
    spec = Spec(data, cache_dir=tmp_path)
    assert spec._names is not None
    for name in sample_names(truth, 10):
        assert spec.find_by_name(name) == truth.get(name, []), name


@pytest.mark.parametrize("e", ["<", ">"])
def test_overlapping_unaligned_occurrence_does_not_hide_a_record(e: str) -> None:
    """The name offset's bytes also start 3 bytes before the record (inside the previous
    record's last word): a non-overlapping search would skip the real record."""
    b = Builder(e)
    filler = "a" * (0x12300 - 2)
    assert b.s(filler) == 1 and b.s("target") == 0x12300
    # ARRAY's last word is nelems: 0x012300b0 puts "00 23 01" right before the struct's
    # name_off (00 23 01 00 little-endian); big-endian: 0xb0000123 then 00 01 23 00
    nelems = 0x012300B0 if e == "<" else 0xB0000123
    b.array(2, 2, nelems)
    sid = b.struct("target", 4, [])
    data = b.blob()
    pat = struct.pack(e + "I", 0x12300)
    start = 24
    hits = [i for i in range(start, len(data) - 3) if data[i:i + 4] == pat]
    assert [(h - start) % 4 for h in hits][:2] == [1, 0]  # unaligned, then the record
    spec = Spec(data)
    assert spec.find_by_name("target") == [sid]
    assert spec.find_by_name("target", own_only=True) == [sid]
