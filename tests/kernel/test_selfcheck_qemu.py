"""Relocated self-check objects in real kernels: the host, and Debian 6.1 / 6.12 under QEMU.

An object relocated for the kernel it runs in must pass every check; the same object relocated
for the other kernel must be caught (refused by the verifier, or loaded and its values wrong).
Each test runs once per relocator: corepy's engine, and libbpf as the reference
(libbpf_ref.relocate: libbpf's patched instructions written back into the ELF the way
corepy's writer does).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from . import libbpf_ref, qemu, selfcheck
from .kernels import Kernel

HOST_BTF = Path("/sys/kernel/btf/vmlinux")
# name -> function(object path, target BTF path) -> relocated object bytes
def _corepy_relocate(obj: Path, btf: Path) -> bytes:
    import corepy

    return corepy.relocate(obj, btf).to_bytes()


RELOCATORS: dict[str, Callable[[Path, Path], bytes]] = {
    "libbpf": libbpf_ref.relocate,
    "corepy": _corepy_relocate,
}
EXPECTED = {"6.1": {"out_pid_offset": 2416, "out_task_size": 9728, "out_has_mm_cid": 0},
            "6.12": {"out_pid_offset": 2432, "out_task_size": 9792, "out_has_mm_cid": 1}}


def _relocate(relocator: str, name: str, btf: Path) -> bytes:
    try:
        return RELOCATORS[relocator](selfcheck.fixture(name), btf)
    except libbpf_ref.RunnerUnavailable as err:
        pytest.skip(str(err))


def _check_values(res: dict[str, object], series: str | None) -> None:
    assert res["ok"], res
    v = res["values"]
    assert isinstance(v, dict)
    tgid, tid = res["runner_pid"], res["tid"]
    assert isinstance(tgid, int) and isinstance(tid, int) and tid != tgid  # ran in a thread
    assert v["out_pid_tgid"] == (tgid << 32) | tid
    assert v["out_core_pid"] == tid and v["out_core_tgid"] == tgid
    assert v["out_core_leader_pid"] == tgid
    assert v["out_core_parent_tgid"] == res["runner_ppid"]
    # On the host the runner is sys.executable (its file name is the task's comm).
    comm = "python3" if series is not None else Path(sys.executable).name[:15]
    assert v["out_core_comm"] == v["out_cur_comm"] == comm
    assert v["out_reset_on_fork"] == v["out_subreaper"] == 1
    if series is not None:
        for key, val in EXPECTED[series].items():
            assert v[key] == val, key


@pytest.mark.root
@pytest.mark.parametrize("relocator", sorted(RELOCATORS))
def test_selfcheck_python_loader_on_host(host_bpf: None, relocator: str) -> None:
    objs = {n: _relocate(relocator, f"{n}.bpfel.o", HOST_BTF)
            for n in ("selfcheck", "selfcheck_probe")}
    results = qemu.run_selfchecks(objs, None)
    for res in results.values():
        _check_values(res, None)
    v = results["selfcheck"]["values"]
    assert isinstance(v, dict)
    assert v["out_btf_pid"] == results["selfcheck"]["tid"]
    assert v["out_pid_offset"] == selfcheck.kernel_inputs(HOST_BTF)["in_pid_offset"]


@pytest.mark.root
@pytest.mark.qemu
@pytest.mark.network
@pytest.mark.parametrize("relocator", sorted(RELOCATORS))
def test_selfcheck_in_guest(host_bpf: None, guest_kernel: Kernel, relocator: str) -> None:
    other_series = "6.12" if guest_kernel.series == "6.1" else "6.1"
    other, reason = qemu.kernel_or_reason(other_series)
    if other is None:
        pytest.skip(reason)
    objs = {}
    for n in ("selfcheck", "selfcheck_probe"):
        objs[n] = _relocate(relocator, f"{n}.bpfel.o", guest_kernel.btf)
        objs[n + "@wrong"] = _relocate(relocator, f"{n}.bpfel.o", other.btf)
    results = qemu.run_selfchecks(objs, guest_kernel)
    right = results["selfcheck"]
    uname = right["uname"]
    assert isinstance(uname, dict) and uname["release"] == guest_kernel.release
    _check_values(right, guest_kernel.series)
    _check_values(results["selfcheck_probe"], guest_kernel.series)
    v = right["values"]
    assert isinstance(v, dict)
    assert v["out_btf_pid"] == right["tid"] and v["out_btf_comm"] == "python3"
    # Negative controls: relocated for the other kernel.
    wrong = results["selfcheck@wrong"]
    assert not wrong["ok"] and "Permission denied" in str(wrong.get("error")), wrong
    wrong_probe = results["selfcheck_probe@wrong"]
    assert wrong_probe["done"] and not wrong_probe["ok"]
    failed = wrong_probe["failed"]
    assert isinstance(failed, list)
    assert {"probe pid", "field_offset pid", "type_size task_struct"} <= set(failed)
