"""corepy's relocated self-check objects, loaded by Debian's libbpf on the host.

The object corepy writes has no CO-RE records left, so libbpf relocates nothing: what runs
is exactly corepy's output. The checks inside the program compare what it read through
CO-RE with what the kernel reports on its own (pid/tgid, comm, sizes from BTF).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import corepy

from . import libbpf_ref, selfcheck

HOST_BTF = Path("/sys/kernel/btf/vmlinux")
OBJECTS = ["selfcheck.bpfel.o", "selfcheck_probe.bpfel.o"]


@pytest.mark.root
@pytest.mark.parametrize("name", OBJECTS)
def test_corepy_output_runs_under_libbpf(host_bpf: None, name: str, tmp_path: Path) -> None:
    if not HOST_BTF.is_file():
        pytest.skip("host kernel has no /sys/kernel/btf/vmlinux")
    try:
        libbpf_ref.build_runner()
    except libbpf_ref.RunnerUnavailable as err:
        pytest.skip(str(err))
    rel = corepy.relocate(selfcheck.fixture(name), HOST_BTF)
    assert rel.ok and not rel.errors
    out = tmp_path / name
    rel.write(out)
    res = libbpf_ref.run_selfcheck(out, HOST_BTF)
    assert res.get("error") is None, res.get("log")
    assert res["failed"] == [] and res["ok"], res
    v = res["values"]
    assert isinstance(v, dict)
    pid = res["runner_pid"]
    assert v["out_pid_tgid"] == (pid << 32) | pid  # type: ignore[operator]
    assert v["out_core_pid"] == v["out_core_tgid"] == v["out_core_leader_pid"] == pid
    assert v["out_core_comm"] == v["out_cur_comm"]
    assert v["out_pid_offset"] == selfcheck.kernel_inputs(HOST_BTF)["in_pid_offset"]
    if name == "selfcheck.bpfel.o":
        assert v["out_btf_pid"] == v["out_btf_tgid"] == pid


@pytest.mark.root
@pytest.mark.parametrize("name", OBJECTS)
def test_corepy_equals_libbpf_on_host(host_bpf: None, name: str) -> None:
    """Whole-object equality with what libbpf itself relocates for the running kernel."""
    if not HOST_BTF.is_file():
        pytest.skip("host kernel has no /sys/kernel/btf/vmlinux")
    try:
        ref = libbpf_ref.relocate(selfcheck.fixture(name), HOST_BTF)
    except libbpf_ref.RunnerUnavailable as err:
        pytest.skip(str(err))
    ours = corepy.relocate(selfcheck.fixture(name), HOST_BTF).to_bytes()
    assert ours == ref
