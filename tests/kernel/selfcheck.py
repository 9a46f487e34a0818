"""The self-check objects' interface: their inputs, their checks, decoding their outputs.

fixtures/selfcheck/selfcheck.bpf.c sets bit N of out_failed when check N fails. Inputs come
in two kinds: per-kernel facts computed here from the target kernel's BTF (through bpftool,
see btfdump.py) and per-process facts the runner fills in right before the test run.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

from . import btfdump

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures" / "selfcheck"
sys.path.insert(0, str(REPO / "examples" / "pyloader"))

import bpfload  # noqa: E402

__all__ = ["CHECKS", "DONE_MAGIC", "FIXTURES", "bpfload", "decode", "failed_checks", "fixture",
           "job", "kernel_inputs", "summarize"]

DONE_MAGIC = 0x5E1FC4EC
SELFCHECK_PROG = "selfcheck"

CHECKS: dict[int, str] = {
    0: "probe pid", 1: "probe tgid", 2: "probe comm", 3: "probe group_leader->pid (subprog)",
    4: "probe real_parent->tgid", 5: "btf pid", 6: "btf tgid", 7: "btf real_parent->tgid",
    8: "btf comm", 9: "btf group_leader->pid", 10: "bitfield sched_reset_on_fork (probe)",
    11: "bitfield sched_reset_on_fork (btf)", 12: "bitfield signal->is_child_subreaper",
    13: "field_exists mm_cid", 14: "guarded mm_cid read", 15: "field_size pid",
    16: "field_size comm", 17: "field_signed pid", 18: "field_signed flags",
    19: "field_offset pid", 20: "field_exists (missing field)", 21: "type_exists task_struct",
    22: "type_size task_struct", 23: "type_id_kernel task_struct", 24: "type_exists mm_cid",
    25: "type_exists (missing type)", 26: "type_matches (matching flavor)",
    27: "type_matches (mismatching flavor)", 28: "enum_value PG_head", 29: "enum_value NR_SHMEM",
    30: "enum_value_exists BPF_MAP_TYPE_ARENA",
}

# .data inputs the runner fills from its own process state.
PROCESS_INPUTS = {"in_ppid": "ppid", "in_reset_on_fork": "reset_on_fork",
                  "in_subreaper": "subreaper"}

U64_OUTPUTS = (
    "out_failed", "out_done", "out_pid_tgid", "out_core_pid", "out_core_tgid",
    "out_core_leader_pid", "out_core_parent_tgid", "out_btf_pid", "out_btf_tgid",
    "out_btf_parent_tgid", "out_btf_leader_pid", "out_reset_on_fork", "out_reset_on_fork_btf",
    "out_subreaper", "out_has_mm_cid", "out_mm_cid_read", "out_mm_cid", "out_pid_offset",
    "out_pid_size", "out_pid_signed", "out_flags_signed", "out_comm_size", "out_no_such_field",
    "out_task_exists", "out_task_size", "out_task_type_id", "out_has_struct_mm_cid",
    "out_struct_mm_cid_size", "out_no_such_type", "out_matches_ok", "out_matches_bad",
    "out_pg_head", "out_nr_shmem", "out_has_map_arena", "out_map_arena",
)
STR_OUTPUTS = ("out_cur_comm", "out_core_comm", "out_btf_comm")


def fixture(name: str) -> Path:
    return FIXTURES / name


def kernel_inputs(btf_path: str | Path) -> dict[str, int]:
    """The .rodata inputs for one target kernel, from its BTF."""
    b = btfdump.load(str(btf_path))
    task = b.find("STRUCT", "task_struct")
    pid = b.member("task_struct", "pid")
    flags = b.member("task_struct", "flags")
    comm = b.member("task_struct", "comm")
    if task is None or pid is None or flags is None or comm is None:
        raise ValueError(f"{btf_path}: no task_struct with pid, flags and comm")

    def enum(e: str, v: str) -> int:
        val = b.enum_value(e, v)
        if val is None:
            raise ValueError(f"{btf_path}: enum {e} has no {v}")
        return val

    return {
        "in_pid_offset": int(pid["bits_offset"]) // 8,
        "in_pid_size": b.size(int(pid["type_id"])),
        "in_pid_signed": int(b.signed(int(pid["type_id"]))),
        "in_flags_signed": int(b.signed(int(flags["type_id"]))),
        "in_comm_size": b.size(int(comm["type_id"])),
        "in_has_mm_cid": int(b.member("task_struct", "mm_cid") is not None),
        "in_task_size": int(task.attrs["size"]),
        "in_task_type_id": task.id,
        "in_has_struct_mm_cid": int(b.find("STRUCT", "mm_cid") is not None),
        "in_pg_head": enum("pageflags", "PG_head"),
        "in_nr_shmem": enum("node_stat_item", "NR_SHMEM"),
        "in_has_map_arena": int(b.enum_value("bpf_map_type", "BPF_MAP_TYPE_ARENA") is not None),
    }


def job(obj_bytes: bytes, btf_path: str | Path, name: str = "selfcheck",
        thread: bool = True) -> dict[str, object]:
    """A runner job (see guest_runner.py) for a relocated self-check object.

    ``obj_bytes`` goes in the job under "object_bytes"; run_jobs writes it where the runner
    can read it. ``thread`` test-runs from a second thread so that pid != tgid.
    """
    obj = bpfload.Object.open(obj_bytes, allow_core_relos=True)
    sets: list[list[object]] = []
    for var, val in kernel_inputs(btf_path).items():
        sec, off, size = obj.variable(var)
        sets.append([sec, off, struct.pack("<I", val)[:size].hex()])
    procs: list[list[object]] = []
    for var, what in PROCESS_INPUTS.items():
        sec, off, _size = obj.variable(var)
        procs.append([sec, off, what])
    return {"name": name, "object_bytes": obj_bytes, "prog": SELFCHECK_PROG, "prepare": True,
            "set": sets, "set_proc": procs, "thread": thread}


def decode(obj_bytes: bytes, sections: dict[str, str]) -> dict[str, object]:
    """out_* values of a finished run, by name, from the hex section dumps."""
    obj = bpfload.Object.open(obj_bytes, allow_core_relos=True)
    out: dict[str, object] = {}
    for var in U64_OUTPUTS + STR_OUTPUTS:
        sec, off, size = obj.variable(var)
        raw = bytes.fromhex(sections[sec])[off:off + size]
        if var in STR_OUTPUTS:
            out[var] = raw.split(b"\0", 1)[0].decode(errors="replace")
        else:
            out[var] = struct.unpack("<Q", raw)[0]
    return out


def failed_checks(mask: int) -> list[str]:
    """Names of the checks whose bits are set (unknown bits shown as numbers)."""
    return [CHECKS.get(bit, f"bit {bit}") for bit in range(64) if mask >> bit & 1]


def summarize(obj_bytes: bytes, result: dict[str, object]) -> dict[str, object]:
    """One job result turned into {'ok', 'failed', 'values', ...}; errors kept as such."""
    if "error" in result:
        return {"ok": False, "error": result["error"], "errno": result.get("errno"),
                "log": result.get("log", "")}
    sections = result["sections"]
    assert isinstance(sections, dict)
    values = decode(obj_bytes, sections)
    mask = int(values["out_failed"])  # type: ignore[call-overload]
    done = values["out_done"] == DONE_MAGIC
    return {"ok": done and mask == 0 and result.get("retval") == 0, "failed": failed_checks(mask),
            "failed_mask": mask, "done": done, "retval": result.get("retval"),
            "tid": result.get("tid"), "values": values}
