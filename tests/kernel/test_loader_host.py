"""The Python loader against the host kernel: load, write inputs, test-run, read back.

Needs root (bpf()). Values are checked against what the kernel and this process report
independently: os.getpid(), the thread id, /proc/self/comm, the inputs we wrote.
"""

from __future__ import annotations

import errno
import os
import struct
import threading

import pytest

from . import qemu
from .selfcheck import FIXTURES, bpfload

PLAIN = FIXTURES / "plain.bpfel.o"
pytestmark = pytest.mark.root


def _comm() -> bytes:
    with open("/proc/self/comm", "rb") as f:
        return f.read().strip()


def test_plain_program_reads_and_writes_globals(host_bpf: None) -> None:
    with bpfload.Object.open(PLAIN) as obj:
        obj.set_var("in_pid", struct.pack("<I", threading.get_native_id()))  # before load
        obj.load_into_kernel()
        obj.set_var("in_factor", struct.pack("<I", 4))  # .rodata, after load (not frozen)
        obj.set_global(".data.extra", 0, struct.pack("<Q", 100))
        assert obj.run("plain") == 0x600D  # (u32)pid_tgid == in_pid
        pid_tgid = struct.unpack("<Q", obj.read_var("out_pid_tgid"))[0]
        assert pid_tgid >> 32 == os.getpid()
        assert pid_tgid & 0xFFFFFFFF == threading.get_native_id()
        assert obj.read_var("out_comm").rstrip(b"\0") == _comm()
        assert struct.unpack("<I", obj.read_var("out_mul"))[0] == 5 * 4 + 100
        assert obj.read_var("out_tag") == b"ok!\0"
        assert struct.unpack("<Q", obj.read_var("out_map_val"))[0] == 1
        assert obj.run("plain") == 0x600D
        assert struct.unpack("<Q", obj.read_var("out_map_val"))[0] == 2  # map kept its value
        assert struct.unpack("<I", obj.read_var("out_runs"))[0] == 2
        # The other program shares .text subprograms and the counters map (slot 2).
        assert obj.run("plain_other") == 1 + 100
        assert struct.unpack("<I", obj.read_var("out_mul"))[0] == 11 * 4 + 100
        assert obj.run("plain_other") == 2 + 100
        obj.set_var("in_pid", struct.pack("<I", 1))
        assert obj.run("plain") == 0xBAD


def test_verifier_log_on_rejection(host_bpf: None) -> None:
    data = bytearray(PLAIN.read_bytes())
    obj = bpfload.Object.open(bytes(data))
    sec = next(s for s in obj.sections if s.name == "raw_tp/sys_enter")
    # Replace the first instruction (call bpf_get_current_pid_tgid) with r0 = *(u64 *)(r2 + 0):
    # r2 is not initialized at program entry.
    data[sec.offset:sec.offset + 8] = bytes([0x79, 0x20, 0, 0, 0, 0, 0, 0])
    broken = bpfload.Object.open(bytes(data))
    with pytest.raises(bpfload.BPFError) as err:
        broken.load_into_kernel()
    assert err.value.errno == errno.EACCES
    assert "R2 !read_ok" in err.value.log
    assert all(m.fd < 0 for m in broken.maps.values())  # closed on failure


def test_guest_runner_on_host(host_bpf: None) -> None:
    """The runner the QEMU guests use, here in a subprocess, testing from a second thread."""
    job = {"name": "plain", "object_bytes": PLAIN.read_bytes(), "prog": "plain",
           "thread": True, "set_proc": [[".data", 0, "pid"]]}
    rep = qemu.run_jobs([job], None)
    res = rep.results[0]
    assert "error" not in res, res
    assert res["retval"] == 0xBAD  # in_pid is the process id but the thread's id differs
    pid = rep.data["pid"]
    assert isinstance(pid, int) and res["tid"] != pid
    bss = bytes.fromhex(res["sections"][".bss"])  # type: ignore[index]
    pid_tgid = struct.unpack_from("<Q", bss, 0)[0]
    assert (pid_tgid >> 32, pid_tgid & 0xFFFFFFFF) == (pid, res["tid"])
    assert bss[8:24].rstrip(b"\0").decode() == rep.data["comm"]
    assert rep.uname["release"] == os.uname().release
