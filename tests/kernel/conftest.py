"""Fixtures for the real-kernel tests: root + bpf() on the host, Debian kernels for QEMU."""

from __future__ import annotations

import pytest

from . import qemu
from .kernels import Kernel


@pytest.fixture(scope="session")
def host_bpf() -> None:
    """Skip unless this process may load BPF programs."""
    reason = qemu.bpf_unavailable()
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
