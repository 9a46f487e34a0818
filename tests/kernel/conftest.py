"""Fixtures for the real-kernel tests: root + bpf() on the host, Debian kernels for QEMU."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import pytest

from . import qemu
from .kernels import Kernel

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "pyloader"))

import bpfload  # noqa: E402


def _bpf_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "needs root for bpf() (run the suite as root)"
    try:  # a 4-byte array map: the cheapest bpf() command that proves the syscall works
        with bpfload.Object.open(qemu.REPO / "fixtures" / "selfcheck" / "plain.bpfel.o") as o:
            o.load_into_kernel()
    except bpfload.BPFError as err:
        if err.errno in (errno.EPERM, errno.ENOSYS):
            return f"bpf() not permitted here: {err}"
        raise
    return None


@pytest.fixture(scope="session")
def host_bpf() -> None:
    """Skip unless this process may load BPF programs."""
    reason = _bpf_unavailable()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session", params=["6.1", "6.12"])
def guest_kernel(request: pytest.FixtureRequest) -> Kernel:
    """A bootable Debian kernel per series; skips when QEMU or the download is unavailable."""
    missing = qemu.qemu_missing()
    if missing:
        pytest.skip(missing)
    kernel, reason = qemu.kernel_or_reason(str(request.param))
    if kernel is None:
        pytest.skip(reason)
    return kernel
