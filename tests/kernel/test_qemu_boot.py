"""Boot each Debian kernel under QEMU and run the loader in it.

The boot is the results matrix's (matrix.run_kernel: one boot per kernel carries every job);
among its jobs are the loader's smoke jobs: the non-CO-RE object (values checked against what
the guest reports about its runner process) and an unrelocated CO-RE object (the loader must
refuse it).
Skips when QEMU, busybox-static or the kernel packages are unavailable.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from . import btfdump, matrix, qemu
from .kernels import Kernel

pytestmark = [pytest.mark.qemu, pytest.mark.network]


def test_cpio_archive_lists_and_extracts(tmp_path: Path) -> None:
    """Our newc writer, read back by busybox's cpio (the format the kernel unpacks)."""
    busybox = shutil.which("busybox") or qemu.BUSYBOX
    if not os.path.exists(busybox):
        pytest.skip("busybox not installed (apt-get install busybox-static)")
    c = qemu.Cpio()
    c.file("a/b/c.txt", b"hello", 0o640, mtime=1_700_000_000)
    c.symlink("a/link", "b/c.txt")
    c.file("top", b"x" * 1001, 0o755)
    archive = tmp_path / "t.cpio"
    archive.write_bytes(c.finish())
    listing = subprocess.run([busybox, "cpio", "-t", "-F", str(archive)], capture_output=True,
                             text=True, check=True).stdout.split()
    assert listing == ["a", "a/b", "a/b/c.txt", "a/link", "top"]
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run([busybox, "cpio", "-i", "-d", "-m", "-F", str(archive)], cwd=out,
                   check=True, capture_output=True)
    assert (out / "a/b/c.txt").read_bytes() == b"hello"
    assert (out / "a/b/c.txt").stat().st_mode & 0o777 == 0o640
    assert int((out / "a/b/c.txt").stat().st_mtime) == 1_700_000_000
    assert (out / "a/link").is_symlink() and (out / "a/link").read_text() == "hello"
    assert (out / "top").read_bytes() == b"x" * 1001


def test_kernel_package_and_btf(guest_kernel: Kernel) -> None:
    """The extracted BTF is the kernel's: its banner names the package version, and bpftool
    reads the BTF (task_struct's size is the one measured on that kernel)."""
    assert guest_kernel.version in guest_kernel.banner
    assert guest_kernel.banner.startswith(guest_kernel.release + " ")
    assert guest_kernel.release.startswith(guest_kernel.series + ".")
    data = guest_kernel.btf.read_bytes()
    assert data[:2] == b"\x9f\xeb"  # BTF magic, little-endian
    task = btfdump.load(str(guest_kernel.btf)).find("STRUCT", "task_struct")
    assert task is not None
    assert int(task.attrs["size"]) == {"6.1": 9728, "6.12": 9792}[guest_kernel.series]


def test_boot_and_run_plain_object(guest_kernel: Kernel) -> None:
    """The loader's smoke jobs (matrix.smoke_jobs), run in the matrix's boot of this kernel."""
    try:
        run = matrix.run_kernel(guest_kernel.series)
    except matrix.Unavailable as err:
        pytest.skip(str(err))
    rep = run.report
    assert rep is not None
    assert rep.uname["release"] == guest_kernel.release
    assert rep.uname["version"] in guest_kernel.banner  # "#1 SMP PREEMPT_DYNAMIC Debian ..."
    plain, threaded, unrelocated = (run.smoke[n] for n in ("plain", "plain-thread",
                                                           "unrelocated"))
    assert "error" not in plain, plain
    pid = rep.data["pid"]
    assert isinstance(pid, int)
    assert plain["pid"] == pid and plain["comm"] == rep.data["comm"] == "python3"
    assert plain["retval"] == 0x600D  # the program saw the pid the runner wrote
    bss = bytes.fromhex(plain["sections"][".bss"])  # type: ignore[index]
    assert struct.unpack_from("<Q", bss, 0)[0] == (pid << 32) | pid
    assert bss[8:24].rstrip(b"\0").decode() == rep.data["comm"]
    assert struct.unpack_from("<I", bss, 24)[0] == 5 * 6 + 7  # out_mul: factor 6, seed 7
    # From a second thread the thread id differs from the pid the program was told.
    assert threaded["retval"] == 0xBAD and threaded["tid"] != pid
    tbss = bytes.fromhex(threaded["sections"][".bss"])  # type: ignore[index]
    tid = threaded["tid"]
    assert isinstance(tid, int)
    assert struct.unpack_from("<Q", tbss, 0)[0] == (pid << 32) | tid
    assert "CO-RE relocation" in str(unrelocated["error"])
    assert run.seconds < 90, f"boot took {run.seconds:.1f} s"
