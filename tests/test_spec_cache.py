"""The optional on-disk index cache: used when valid, rebuilt when not, never an error."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import pytest
from test_fuzz import exercise
from test_spec_builder import Builder

import btf.spec
from btf import BTFError, Spec
from btf.spec import _CACHE_HEAD, CACHE_ENV, CACHE_MIN_SIZE

HEAD = _CACHE_HEAD.size  # magic, version, size, crc, base crc, count, 2 payload crcs


def big_blob(e: str = "<", n: int = 70_000, tag: str = "t") -> bytes:
    """A blob over the cache threshold: INTs and structs with distinct names."""
    b = Builder(e)
    i = b.int_("int", 4, 1)
    for k in range(n):
        if k % 7:
            b.int_(f"{tag}{k}", 4)
        else:
            b.struct(f"s{tag}{k}", 8, [("a", i, 0), ("b", i, 32)])
    data = b.blob()
    assert len(data) >= CACHE_MIN_SIZE
    return data


@pytest.fixture
def no_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(self: Spec) -> None:
        raise AssertionError("scanned although a valid cache exists")

    monkeypatch.setattr(btf.spec.Spec, "_scan", fail)


def _files(d: Path) -> list[Path]:
    return sorted(d.glob("*.idx"))


@pytest.mark.parametrize("e", ["<", ">"])
def test_cache_is_written_then_used(tmp_path: Path, e: str, monkeypatch: pytest.MonkeyPatch
                                    ) -> None:
    data = big_blob(e)
    ref = Spec(data)
    first = Spec(data, cache_dir=tmp_path)
    (f,) = _files(tmp_path)
    assert f.stat().st_size == HEAD + 8 * (ref.type_count - 1)
    monkeypatch.setattr(btf.spec.Spec, "_scan", lambda self: pytest.fail("scanned"))
    second = Spec(data, cache_dir=tmp_path)
    assert list(second.iter_types()) == list(ref.iter_types()) == list(first.iter_types())
    assert second.find_by_name("st700") == ref.find_by_name("st700") == [702]


def test_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = big_blob()
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "sub"))
    Spec(data)
    assert len(_files(tmp_path / "sub")) == 1
    monkeypatch.delenv(CACHE_ENV)
    Spec(data)  # no cache: nothing else written
    assert len(_files(tmp_path / "sub")) == 1


def test_small_blobs_are_not_cached(tmp_path: Path) -> None:
    b = Builder()
    b.int_("int", 4)
    Spec(b.blob(), cache_dir=tmp_path)
    assert _files(tmp_path) == []


def test_damaged_or_foreign_cache_files_are_rebuilt(tmp_path: Path) -> None:
    data = big_blob()
    ref = Spec(data)
    Spec(data, cache_dir=tmp_path)
    (f,) = _files(tmp_path)
    good = f.read_bytes()
    bad_variants = [
        good[:-4],  # truncated
        good[:100] + bytes([good[100] ^ 1]) + good[101:],  # payload bit flip
        b"x" + good[1:],  # magic
        b"",
    ]
    # an index of another blob of the same size, under this blob's key (a CRC collision)
    other = big_blob(tag="u")
    assert len(other) == len(data)
    other_dir = tmp_path / "other"
    Spec(other, cache_dir=other_dir)
    (of,) = _files(other_dir)
    foreign = good[:HEAD - 8] + of.read_bytes()[HEAD - 8 :]  # its payload and payload crcs
    bad_variants.append(foreign)
    for bad in bad_variants:
        f.write_bytes(bad)
        spec = Spec(data, cache_dir=tmp_path)
        assert spec.find_by_name("st700") == [702]
        assert [spec.name(i) for i in (1, 2, 70_001)] == [ref.name(i) for i in (1, 2, 70_001)]
        assert f.read_bytes() == good  # rewritten


def test_forged_index_only_raises_btf_errors(tmp_path: Path) -> None:
    """A cache file crafted to pass every check but describing other records."""
    data = big_blob()
    Spec(data, cache_dir=tmp_path)
    (f,) = _files(tmp_path)
    raw = bytearray(f.read_bytes())
    n = struct.unpack_from("=I", raw, HEAD - 12)[0]
    offs = bytearray(raw[HEAD : HEAD + 4 * n])
    # shift a run of offsets by one word, between the records the loader samples
    step = n // 64
    for k in range(step + 1, 2 * step):
        v = struct.unpack_from("=I", offs, 4 * k)[0]
        struct.pack_into("=I", offs, 4 * k, v + 1)
    raw[HEAD : HEAD + 4 * n] = offs
    struct.pack_into("=I", raw, HEAD - 8, zlib.crc32(bytes(offs)))
    f.write_bytes(bytes(raw))
    spec = Spec(data, cache_dir=tmp_path)
    assert spec._offs[step + 1] == Spec(data)._offs[step + 1] + 1  # the forged index is used
    exercise(spec)
    for tid in range(step - 5, 2 * step + 5):
        try:
            spec.type(tid)
        except BTFError:
            pass


def test_unwritable_cache_dir_is_ignored(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("not a directory")
    spec = Spec(big_blob(), cache_dir=target)
    assert spec.find_by_name("st700") == [702]
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        Spec(big_blob(), cache_dir=ro)
        assert _files(ro) == []
