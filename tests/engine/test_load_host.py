"""The host object, relocated offline for the running kernel, loads with Debian's bpftool.

bpftool 7.1 (libbpf 1.1) sees core_relo_len = 0 and relocates nothing, so what the kernel
verifies is exactly corepy's output: the tp_btf program's direct loads of task_struct
fields at the offsets corepy computed, the raw_tp program's probe reads. The same object
relocated for another kernel (6.1) is the negative control: its tp_btf program reads
task_struct at 6.1's offsets, which the host's verifier must refuse.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from .conftest import HOST, ROOT, needs_calc

pytestmark = [needs_calc, pytest.mark.root]

SYS_VMLINUX = Path("/sys/kernel/btf/vmlinux")


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "loading BPF programs needs root"
    if shutil.which("bpftool") is None:
        return "bpftool not installed (apt install bpftool)"
    if not SYS_VMLINUX.exists():
        return "the running kernel has no BTF (/sys/kernel/btf/vmlinux)"
    if not Path("/sys/fs/bpf").is_dir():
        return "bpffs is not mounted at /sys/fs/bpf"
    return None


def _loadall(obj: Path) -> subprocess.CompletedProcess[str]:
    pin = Path("/sys/fs/bpf") / f"corepy_test_{uuid.uuid4().hex[:8]}"
    try:
        return subprocess.run(["bpftool", "prog", "loadall", str(obj), str(pin)],
                              capture_output=True, text=True, timeout=120, check=False)
    finally:
        if pin.exists():
            shutil.rmtree(pin, ignore_errors=True)
            if pin.exists():  # bpffs: unlink pins one by one
                for p in sorted(pin.rglob("*"), reverse=True):
                    p.unlink() if not p.is_dir() else p.rmdir()
                pin.rmdir()


def test_relocated_host_object_loads(tmp_path: Path) -> None:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    from corepy.api import relocate

    rel = relocate(HOST["little"], None)  # the running kernel, as by default
    assert rel.ok and not rel.poisoned, [f.message for f in rel.errors + rel.poisoned]
    out = tmp_path / "host.o"
    rel.write(out)
    res = _loadall(out)
    assert res.returncode == 0, res.stderr[-3000:]
    # direct loads got the host's offsets (task_struct.pid is at 1264 on the host's 6.18)
    direct = [f for f in rel.fixups if f.program == "host_direct"]
    assert len(direct) == 4 and all(f.outcome == "patched" for f in direct)


def test_object_for_another_kernel_is_refused(tmp_path: Path) -> None:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    import lzma

    from corepy.api import relocate

    k61 = ROOT / "fixtures" / "kernels" / "debian-6.1-cloud-amd64.btf.xz"
    if not k61.exists():
        pytest.skip("fixtures/kernels/debian-6.1-cloud-amd64.btf.xz missing")
    raw = tmp_path / "6.1.btf"
    raw.write_bytes(lzma.decompress(k61.read_bytes()))
    rel = relocate(HOST["little"], raw)
    host = relocate(HOST["little"], None)
    offs = {f.relo.index: f.result.new_val for f in rel.fixups
            if f.program == "host_direct" and f.result}
    host_offs = {f.relo.index: f.result.new_val for f in host.fixups
                 if f.program == "host_direct" and f.result}
    assert offs != host_offs  # the layouts differ (pid: 2416 on 6.1, 1264 on the host)
    out = tmp_path / "host-6.1.o"
    rel.write(out)
    res = _loadall(out)
    assert res.returncode != 0, "an object relocated for 6.1 loaded on the host kernel"
    # refused by the verifier at the 6.1 offset of task_struct.pid (2416), not for another reason
    assert f"(r1 +{offs[0]})" in res.stderr and offs[0] == 2416, res.stderr[-2000:]
