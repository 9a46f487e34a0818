"""examples/relocate_and_run.py: corepy's library API feeding a pure-Python loader in memory.

The self-check object is relocated for the running kernel without writing a file, loaded
by bpfload and test-run in this process; what it read through CO-RE must equal what the
kernel reports through helpers and what this process knows about itself.
"""

from __future__ import annotations

import importlib.util
import os
import struct
import sys
from pathlib import Path
from types import ModuleType

import pytest

from . import selfcheck

REPO = Path(__file__).resolve().parents[2]
HOST_BTF = Path("/sys/kernel/btf/vmlinux")
VARS = ("out_done", "out_pid_tgid", "out_core_pid", "out_core_tgid", "out_core_comm",
        "out_cur_comm", "out_pid_offset")


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "relocate_and_run", REPO / "examples" / "relocate_and_run.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, mod)
    spec.loader.exec_module(mod)
    return mod


def _u64(raw: bytes) -> int:
    return int(struct.unpack("<Q", raw)[0])


@pytest.mark.root
@pytest.mark.parametrize("target", [None, HOST_BTF], ids=["running-kernel", "explicit-btf"])
def test_relocate_in_memory_then_load(host_bpf: None, target: Path | None) -> None:
    if not HOST_BTF.is_file():
        pytest.skip("host kernel has no /sys/kernel/btf/vmlinux")
    example = _example()
    rel, retvals, values = example.relocate_and_run(
        selfcheck.fixture("selfcheck.bpfel.o"), target, ["selfcheck"], VARS)
    assert rel.ok and {f.outcome for f in rel.fixups} == {"patched"}
    assert len(rel.fixups) == 54
    assert set(retvals) == {"selfcheck"}
    assert _u64(values["out_done"]) == selfcheck.DONE_MAGIC
    pid = os.getpid()  # test-run on this thread: pid == tid
    assert _u64(values["out_pid_tgid"]) == (pid << 32) | pid
    assert _u64(values["out_core_pid"]) == _u64(values["out_core_tgid"]) == pid
    assert values["out_core_comm"] == values["out_cur_comm"]
    assert values["out_core_comm"].split(b"\0")[0]  # a real, non-empty comm
    # the pid offset the program got through CO-RE is the one in the kernel's own BTF
    assert _u64(values["out_pid_offset"]) == selfcheck.kernel_inputs(HOST_BTF)["in_pid_offset"]


def test_cli_reports_a_bad_object_in_one_line(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str],
                                                         ) -> None:
    """A file that is not an object: one line, exit 1, before any bpf() call."""
    bad = tmp_path / "notelf.o"
    bad.write_bytes(b"not an ELF file at all")
    assert _example().main([str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("relocate_and_run: ") and str(bad) in err
    assert "Traceback" not in err and err.count("\n") == 1
