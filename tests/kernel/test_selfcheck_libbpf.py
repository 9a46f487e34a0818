"""The self-check objects under libbpf on the host, and their expected inputs per kernel.

libbpf relocates the objects itself here, so these tests prove the objects, their checks and
the harness's expected values right before corepy's relocations are judged by them. The
negative controls relocate for another kernel's BTF and must be caught.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from . import btfdump, libbpf_ref, selfcheck
from .kernels import Kernel
from .selfcheck import bpfload

HOST_BTF = Path("/sys/kernel/btf/vmlinux")
OBJECTS = ["selfcheck.bpfel.o", "selfcheck_probe.bpfel.o"]


def _need_host_btf() -> None:
    if not HOST_BTF.is_file():
        pytest.skip("host kernel has no /sys/kernel/btf/vmlinux")
    try:
        btfdump.load(str(HOST_BTF))
    except btfdump.BpftoolMissing as err:
        pytest.skip(f"bpftool unavailable (apt-get install bpftool): {err}")


def _runner() -> None:
    try:
        libbpf_ref.build_runner()
    except libbpf_ref.RunnerUnavailable as err:
        pytest.skip(str(err))


@pytest.mark.network
def test_guest_kernel_inputs_match_known_layouts(guest_kernel: Kernel) -> None:
    """Facts measured on these Debian kernels (docs/real-kernels.md, shared notes)."""
    inputs = selfcheck.kernel_inputs(guest_kernel.btf)
    expect = {"6.1": (2416, 9728, 0, 16), "6.12": (2432, 9792, 1, 6)}[guest_kernel.series]
    got = (inputs["in_pid_offset"], inputs["in_task_size"], inputs["in_has_mm_cid"],
           inputs["in_pg_head"])
    assert got == expect
    assert (inputs["in_pid_size"], inputs["in_pid_signed"], inputs["in_comm_size"]) == (4, 1, 16)
    assert inputs["in_has_map_arena"] == (0 if guest_kernel.series == "6.1" else 1)


@pytest.mark.root
@pytest.mark.parametrize("name", OBJECTS)
def test_selfcheck_passes_under_libbpf(host_bpf: None, name: str) -> None:
    _need_host_btf()
    _runner()
    res = libbpf_ref.run_selfcheck(selfcheck.fixture(name), HOST_BTF)
    assert res.get("error") is None, res.get("log")
    assert res["failed"] == [] and res["ok"], res
    v = res["values"]
    assert isinstance(v, dict)
    pid = res["runner_pid"]
    # Raw values against the runner's own pid (a single-threaded process: pid == tgid).
    assert v["out_pid_tgid"] == (pid << 32) | pid  # type: ignore[operator]
    assert v["out_core_pid"] == v["out_core_tgid"] == v["out_core_leader_pid"] == pid
    assert v["out_reset_on_fork"] == v["out_subreaper"] == 1  # --prepare set both
    assert v["out_core_comm"] == v["out_cur_comm"]
    assert str(v["out_cur_comm"]).startswith("libbpf_runner")
    assert v["out_pid_offset"] == selfcheck.kernel_inputs(HOST_BTF)["in_pid_offset"]
    assert v["out_matches_ok"] == 1 and v["out_matches_bad"] == 0
    if name == "selfcheck.bpfel.o":
        assert v["out_btf_pid"] == v["out_btf_tgid"] == v["out_btf_leader_pid"] == pid
        assert v["out_btf_comm"] == v["out_cur_comm"]


@pytest.mark.root
@pytest.mark.network
def test_wrong_kernel_relocation_is_caught(host_bpf: None, guest_kernel: Kernel) -> None:
    """Relocated by libbpf for a Debian kernel, run on the host: must not pass."""
    _need_host_btf()
    _runner()
    full = libbpf_ref.run_selfcheck(selfcheck.fixture("selfcheck.bpfel.o"), HOST_BTF,
                                    relocate_btf=guest_kernel.btf)
    assert not full["ok"]
    assert "load" in str(full.get("error")), full  # the verifier refuses the BTF loads
    probe = libbpf_ref.run_selfcheck(selfcheck.fixture("selfcheck_probe.bpfel.o"), HOST_BTF,
                                     relocate_btf=guest_kernel.btf)
    assert probe.get("error") is None, probe.get("log")
    assert probe["done"] and not probe["ok"]  # it loaded and ran, and its values told
    failed = probe["failed"]
    assert isinstance(failed, list)
    for name in ("probe pid", "probe tgid", "field_offset pid", "type_size task_struct"):
        assert name in failed


def _core_sites(obj: bpfload.Object) -> dict[str, set[int]]:
    """Byte offsets of CO-RE relocated instructions per section, from .BTF.ext."""
    ext = next(s for s in obj.sections if s.name == ".BTF.ext").data
    btf = next(s for s in obj.sections if s.name == ".BTF").data
    hdr_len, t_off, t_len, s_off = struct.unpack_from("<IIII", btf, 4)
    strs = btf[hdr_len + s_off:]
    ext_hdr = struct.unpack_from("<I", ext, 4)[0]
    off, length = struct.unpack_from("<II", ext, 24)
    pos, end = ext_hdr + off, ext_hdr + off + length
    rec_size = struct.unpack_from("<I", ext, pos)[0]
    pos += 4
    sites: dict[str, set[int]] = {}
    while pos < end:
        name_off, num = struct.unpack_from("<II", ext, pos)
        name = strs[name_off:strs.index(b"\0", name_off)].decode()
        for i in range(num):
            sites.setdefault(name, set()).add(
                struct.unpack_from("<I", ext, pos + 8 + i * rec_size)[0])
        pos += 8 + num * rec_size
    return sites


@pytest.mark.root
@pytest.mark.network
def test_libbpf_relocated_object_changes_only_core_sites(host_bpf: None,
                                                         guest_kernel: Kernel) -> None:
    """libbpf_ref.relocate writes back exactly CO-RE instructions, nothing else."""
    _runner()
    path = selfcheck.fixture("selfcheck.bpfel.o")
    orig = bpfload.Object.open(path, allow_core_relos=True)
    sites = _core_sites(orig)
    assert set(sites) == {"raw_tp/sys_enter", ".text"}
    rel = bpfload.Object.open(libbpf_ref.relocate(path, guest_kernel.btf))  # no CO-RE left
    changed_total = 0
    for a, b in zip(orig.sections, rel.sections, strict=True):
        assert a.name == b.name and a.size == b.size
        if a.name in sites:
            changed = {i for i in range(0, a.size, 8) if a.data[i:i + 8] != b.data[i:i + 8]}
            # A CO-RE ld_imm64 covers two slots (libbpf poisons both when it fails).
            allowed = sites[a.name] | {i + 8 for i in sites[a.name] if a.data[i] == 0x18}
            assert changed <= allowed, a.name
            changed_total += len(changed)
        elif a.name != ".BTF.ext":
            assert a.data == b.data, a.name
    assert changed_total > len(sites["raw_tp/sys_enter"]) // 2
    # task_struct.pid's offset is in the object now, as an immediate or a load offset.
    pid_off = selfcheck.kernel_inputs(guest_kernel.btf)["in_pid_offset"]
    text = next(s for s in rel.sections if s.name == "raw_tp/sys_enter").data
    imms = {struct.unpack_from("<i", text, i + 4)[0] for i in range(0, len(text), 8)}
    offs = {struct.unpack_from("<h", text, i + 2)[0] for i in range(0, len(text), 8)}
    assert pid_off in imms and pid_off in offs
