"""The self-check objects under libbpf on the host, and their expected inputs per kernel.

libbpf relocates the objects itself here, so these tests prove the objects, their checks and
the harness's expected values right before corepy's relocations are judged by them. The
negative controls relocate for another kernel's BTF and must be caught.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import btfdump, libbpf_ref, selfcheck
from .kernels import Kernel

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
