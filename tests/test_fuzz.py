"""Hostile input: mutated real BTF / .BTF.ext must only ever raise BTFError subclasses.

Inputs are real blobs (clang objects in both byte orders, hand-made blobs with every kind,
split BTF) mutated by bit flips, byte overwrites, truncation, splicing, random header
fields, huge vlen claims and random kinds. Every public entry point is exercised on the
result. A per-example deadline turns hangs into failures; examples are derandomised so
CI runs are reproducible (set COREPY_FUZZ_EXAMPLES to run more, e.g. 5000, locally).
"""

from __future__ import annotations

import os
import struct
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_spec import DATA, btf_sections
from test_spec_builder import Builder, sample

from btf import BTFError, Spec
from btf.ext import parse_btf_ext

EXAMPLES = int(os.environ.get("COREPY_FUZZ_EXAMPLES", "120"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=2),
    derandomize=EXAMPLES <= 120,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _split_pair(e: str) -> tuple[bytes, bytes]:
    base = sample(e)
    split = Builder(e, base)
    s = split.struct("mod_s", 16, [("a", 1, 0), ("own", 2, 64)])
    split.ref("PTR", s)
    split.ref("TYPEDEF", 5, "mod_t")
    return base.blob(), split.blob()


OBJ = {o: btf_sections(DATA / f"kinds.{o}.o") for o in ("bpfel", "bpfeb")}
SEEDS: list[bytes] = [OBJ["bpfel"][0], OBJ["bpfeb"][0], sample("<").blob(), sample(">").blob()]
BASES = {e: Spec(_split_pair(e)[0]) for e in "<>"}
SPLITS = {e: _split_pair(e)[1] for e in "<>"}
NAMES = ["int", "kinds", "kinds___v2", "pair", "bits", "size_t", "mod_s", "long", "x", ""]


def exercise(spec: Spec) -> None:
    """Call every public reader on ``spec``; only BTFError may escape each call."""
    calls: list[Callable[[], object]] = [spec.validate, lambda: spec.ptr_size]
    ids = list(range(-1, min(spec.type_count + 2, 400)))
    for tid in ids:
        calls += [
            lambda t=tid: spec.type(t),
            lambda t=tid: spec.kind(t),
            lambda t=tid: spec.name(t),
            lambda t=tid: spec.resolve_size(t),
            lambda t=tid: spec.skip_mods_and_typedefs(t),
            lambda t=tid: spec.skip_mods(t),
            lambda t=tid: spec.header_words(t),
            lambda t=tid: spec.type_offset(t),
            lambda t=tid: spec.spec_for(t),
        ]
    for n in NAMES:
        calls += [lambda n=n: spec.find_by_name(n), lambda n=n: spec.find_by_essential_name(n)]
    for off in (0, 1, 5, spec.str_base + spec.header.str_len - 1, 1 << 31):
        calls.append(lambda o=off: spec.string(o))
    calls.append(lambda: list(spec.iter_types()))
    for call in calls:
        try:
            call()
        except BTFError:
            pass


def open_and_exercise(data: bytes, base: Spec | None = None) -> None:
    try:
        spec = Spec(data, base=base)
    except BTFError:
        return
    exercise(spec)


# ---------------------------------------------------------------------------- mutators
def _seed_spec(data: bytes, base: Spec | None) -> Spec | None:
    try:
        return Spec(data, base=base)
    except BTFError:
        return None  # a .BTF.ext seed: no type records to aim at


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes], base: Spec | None = None) -> bytes:
    seed = draw(st.sampled_from(seeds))
    data = bytearray(seed)
    ops = draw(st.lists(st.sampled_from(
        ["flip", "byte", "word", "truncate", "splice", "header", "vlen", "kind"]),
        min_size=1, max_size=4))
    spec0 = _seed_spec(seed, base)
    for op in ops:
        n = len(data)
        if n < 4:
            break
        if op == "flip":
            pos = draw(st.integers(0, n * 8 - 1))
            data[pos // 8] ^= 1 << (pos % 8)
        elif op == "byte":
            data[draw(st.integers(0, n - 1))] = draw(st.integers(0, 255))
        elif op == "word":
            pos = draw(st.integers(0, n - 4)) & ~3
            data[pos:pos + 4] = struct.pack("<I", draw(_interesting_u32()))
        elif op == "truncate":
            del data[draw(st.integers(0, n - 1)):]
        elif op == "splice":
            other = draw(st.sampled_from(seeds))
            cut = draw(st.integers(0, n))
            data = data[:cut] + other[draw(st.integers(0, len(other))):]
        elif op == "header":
            field = draw(st.integers(1, 5))  # hdr_len, type_off, type_len, str_off, str_len
            order = "<" if data[:2] == b"\x9f\xeb" else ">"
            if len(data) >= 4 + 4 * field + 4:
                struct.pack_into(order + "I", data, 4 * field, draw(_interesting_u32()))
        elif op in ("vlen", "kind") and spec0 is not None and len(spec0.own_ids):
            tid = draw(st.sampled_from(spec0.own_ids))
            at = spec0.header.hdr_len + spec0.header.type_off + 4 * spec0.type_offset(tid) + 4
            if at + 4 <= len(data):
                (info,) = struct.unpack_from(spec0.endian + "I", data, at)
                if op == "vlen":
                    info = (info & ~0xFFFFFF) | draw(st.sampled_from(
                        [0xFFFFFF, 0x10000, 0xFFFF, 1, 0, draw(st.integers(0, 0xFFFFFF))]))
                else:
                    info = (info & ~(0x7F << 24)) | (draw(st.integers(0, 0x7F)) << 24)
                struct.pack_into(spec0.endian + "I", data, at, info)
    return bytes(data)


def _interesting_u32() -> st.SearchStrategy[int]:
    return st.one_of(
        st.sampled_from([0, 1, 3, 4, 23, 24, 25, 32, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
                         0xFFFFFFFC, 0x10000]),
        st.integers(0, 0xFFFFFFFF),
        st.integers(0, 4096),
    )


# ---------------------------------------------------------------------------- tests
def test_seeds_are_valid() -> None:
    for s in SEEDS:
        Spec(s).validate()
    for e in "<>":
        Spec(SPLITS[e], base=BASES[e]).validate()


@FUZZ
@given(mutated(SEEDS))
def test_mutated_btf_only_raises_btf_errors(data: bytes) -> None:
    open_and_exercise(data)


@FUZZ
@given(st.sampled_from("<>").flatmap(
    lambda e: st.tuples(st.just(e), mutated([SPLITS[e]], BASES[e]))))
def test_mutated_split_btf_only_raises_btf_errors(case: tuple[str, bytes]) -> None:
    e, data = case
    open_and_exercise(data, base=BASES[e])


@FUZZ
@given(st.binary(min_size=0, max_size=512), st.sampled_from([b"\x9f\xeb\x01\x00",
                                                              b"\xeb\x9f\x01\x00", b""]))
def test_random_bytes(data: bytes, prefix: bytes) -> None:
    open_and_exercise(prefix + data)


@FUZZ
@given(st.sampled_from(["bpfel", "bpfeb"]).flatmap(
    lambda o: st.tuples(st.just(o), mutated([OBJ[o][1] or b""]))))
def test_mutated_btf_ext_only_raises_btf_errors(case: tuple[str, bytes]) -> None:
    order, data = case
    spec = Spec(OBJ[order][0])
    try:
        ext = parse_btf_ext(data, spec)
    except BTFError:
        return
    for sec in ext.func_info + ext.line_info + ext.core_relos:
        assert sec.records and spec.string(sec.name_off) == sec.name


@pytest.mark.parametrize("e", ["<", ">"])
def test_hostile_strings_stay_linear(e: str) -> None:
    """Many names pointing into the middle of one long string: decoding is budgeted."""
    b = Builder(e)
    long_off = b.s("x" * 200_000)
    for i in range(0, 20_000):
        b.raw(long_off + 5 * i, 1 << 24, 4, 32)
    data = b.blob()
    tracemalloc.start()
    try:
        spec = Spec(data)
        with pytest.raises(BTFError, match="middle of a string"):
            spec.validate()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * len(data) + (8 << 20)


@pytest.mark.parametrize("e", ["<", ">"])
def test_hostile_duplicate_strings_stay_linear(e: str) -> None:
    """A name repeated 100k times in the string table: one pass, not 100k searches."""
    b = Builder(e)
    b.strings += b"dup\0" * 100_000
    for i in range(2000):
        b.raw(1 + 4 * i, 1 << 24, 4, 32)
    spec = Spec(b.blob())
    assert len(spec.find_by_name("dup")) == 2000
    assert len(spec.find_by_essential_name("dup___x")) == 2000


VMLINUX = Path("/sys/kernel/btf/vmlinux")
_KERNEL: list[bytes] = []


def _kernel() -> list[bytes]:
    if not _KERNEL:
        _KERNEL.append(VMLINUX.read_bytes())
    return _KERNEL


@pytest.mark.skipif(not VMLINUX.exists(), reason="no /sys/kernel/btf/vmlinux on this host")
@settings(FUZZ, max_examples=min(EXAMPLES, 8), deadline=timedelta(seconds=10))
@given(st.data())
def test_mutated_kernel_btf(data: st.DataObject) -> None:
    """A few mutations of a real kernel's BTF (each open scans 5 MB, so only a handful)."""
    open_and_exercise(data.draw(mutated(_kernel())))
