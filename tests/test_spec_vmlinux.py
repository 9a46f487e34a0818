"""Spec against the running kernel's BTF, with ``bpftool btf dump file`` as the oracle."""

from __future__ import annotations

import random
import struct
import sys
from pathlib import Path

import pytest
from test_spec_oracle import BPFTOOL, Raw, assert_matches, bpftool_dump, parse_raw_dump

from btf import BTFTypeError, Kind, Spec, essential_name

VMLINUX = Path("/sys/kernel/btf/vmlinux")

pytestmark = [
    pytest.mark.skipif(not VMLINUX.exists(), reason="no /sys/kernel/btf/vmlinux on this host "
                       "(kernel without CONFIG_DEBUG_INFO_BTF)"),
    pytest.mark.skipif(BPFTOOL is None, reason="bpftool (the oracle) is not installed"),
]


@pytest.fixture(scope="module")
def kernel() -> tuple[Spec, dict[int, Raw]]:
    spec = Spec(VMLINUX.read_bytes(), source=str(VMLINUX))
    return spec, parse_raw_dump(bpftool_dump(VMLINUX))


def _one(raw: dict[int, Raw], name: str, kind: str) -> Raw:
    (r,) = [r for r in raw.values() if r.name == name and r.kind == kind]
    return r


def test_ids_and_header(kernel: tuple[Spec, dict[int, Raw]]) -> None:
    spec, raw = kernel
    assert list(spec.own_ids) == sorted(raw) and spec.first_id == 1
    assert spec.byteorder == sys.byteorder  # sysfs BTF is in the kernel's byte order
    hdr = spec.header
    assert hdr.hdr_len + hdr.str_off + hdr.str_len == len(spec.data)
    assert hdr.layout_len == 0 or hdr.hdr_len >= 32


def test_task_struct_members(kernel: tuple[Spec, dict[int, Raw]]) -> None:
    spec, raw = kernel
    r = _one(raw, "task_struct", "STRUCT")
    assert spec.find_by_name("task_struct", Kind.STRUCT) == [r.id]
    t = spec.type(r.id)
    assert t.size == int(r.attrs["size"]) and len(t.members) == int(r.attrs["vlen"]) > 100
    assert [(m.name, m.type, m.bit_offset, m.bitfield_size) for m in t.members] == [
        (n if n != "(anon)" else "", int(v["type_id"]), int(v["bits_offset"]),
         int(v.get("bitfield_size", 0))) for n, v in r.items
    ]
    pid = next(m for m in t.members if m.name == "pid")
    assert spec.resolve_size(pid.type) == 4  # pid_t


def test_every_type_matches_bpftool(kernel: tuple[Spec, dict[int, Raw]]) -> None:
    spec, raw = kernel
    for r in raw.values():
        assert_matches(spec, r)


def test_find_by_name_against_bpftool_list(kernel: tuple[Spec, dict[int, Raw]]) -> None:
    spec, raw = kernel
    by_name: dict[str, list[int]] = {}
    for r in raw.values():
        if r.name != "(anon)":
            by_name.setdefault(r.name, []).append(r.id)
    names = sorted(by_name)
    rng = random.Random(20260)
    sample = set(rng.sample(names, 300))
    sample |= {n for n, ids in by_name.items() if len(ids) > 1 and rng.random() < 0.2}
    last = raw[max(raw)]
    sample |= {"task_struct", "sk_buff", "int", "long unsigned int", "char", raw[1].name}
    if last.name != "(anon)":
        sample.add(last.name)
    for n in sample:
        assert spec.find_by_name(n) == by_name[n], n
    for n in ("task_struc", "ask_struct", "no_such_type_at_all", "task_struct\0"):
        assert spec.find_by_name(n) == []


def test_flavored_kernel_names(kernel: tuple[Spec, dict[int, Raw]]) -> None:
    spec, raw = kernel
    flavored = [r for r in raw.values() if r.name != "(anon)" and essential_name(r.name) != r.name]
    for r in flavored:
        ess = essential_name(r.name)
        want = sorted(x.id for x in raw.values()
                      if x.name != "(anon)" and essential_name(x.name) == ess)
        assert spec.find_by_essential_name(r.name) == want
        assert spec.find_by_essential_name(ess) == want


def test_ptr_size_and_resolve_size(kernel: tuple[Spec, dict[int, Raw]]) -> None:
    spec, raw = kernel
    assert spec.ptr_size == struct.calcsize("P") == 8
    expect = {"task_struct": "STRUCT", "sk_buff": "STRUCT", "list_head": "STRUCT",
              "u64": "TYPEDEF", "pid_t": "TYPEDEF", "atomic_t": "TYPEDEF"}
    for name, kind in expect.items():
        r = _one(raw, name, kind)
        target = r
        while target.kind == "TYPEDEF":
            target = raw[int(target.attrs["type_id"])]
        assert spec.resolve_size(r.id) == int(target.attrs["size"]), name
    # every array, pointer and sized type
    for r in raw.values():
        if r.kind in ("STRUCT", "UNION", "INT", "ENUM", "ENUM64", "FLOAT"):
            assert spec.resolve_size(r.id) == int(r.attrs["size"])
        elif r.kind == "PTR":
            assert spec.resolve_size(r.id) == 8
        elif r.kind == "ARRAY":
            elem = int(r.attrs["type_id"])
            try:
                esize = spec.resolve_size(elem)
            except BTFTypeError:
                continue
            assert spec.resolve_size(r.id) == int(r.attrs["nr_elems"]) * esize
        elif r.kind in ("FUNC", "FUNC_PROTO", "FWD"):
            with pytest.raises(BTFTypeError):
                spec.resolve_size(r.id)
