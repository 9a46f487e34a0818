"""Run BPF test jobs with the pure-Python loader and print one JSON result line.

The same script runs inside QEMU guests (as /corepy/guest_runner.py, started by the
initramfs's /init) and on the host (as a subprocess, so that the process state a job changes,
like SCHED_RESET_ON_FORK, never touches the test process). It imports only the stdlib and
bpfload, and imports everything at the top so the initramfs builder sees every module it needs.

usage: guest_runner.py JOBS.json
JOBS.json: {"jobs": [{"name": str, "object": path, "prog": str,
                      "prepare": bool,   # subreaper + SCHED_RESET_ON_FORK, in the running task
                      "set": [[section, offset, hex]],
                      "set_proc": [[section, offset, what]],  # ppid|pid|reset_on_fork|subreaper
                      "thread": bool,                  # test-run from a second thread
                      "loader": "python" | "libbpf",   # default python (bpfload)
                      "runner": path}]}                # libbpf: the libbpf_runner binary
Output: a line "COREPY-RESULT <json>" with "uname", "pid", "comm" and "results" (per job:
"retval", "sections" {name: hex}, "tid", and "pid", "ppid", "comm" of the process and task
that ran the program; or "error", "errno" and "log").

A "libbpf" job runs libbpf_runner (Debian's libbpf) as a child process on the object, with no
--btf: the objects are already relocated (core_relo_len 0), so libbpf relocates nothing and
loads exactly the object's instructions. Its inputs are the same "set"/"set_proc" entries,
written into libbpf's copies of the sections before loading; "set_proc" values are the
child's own (it reads them itself after --prepare).
"""

from __future__ import annotations

import ctypes
import json
import os
import struct
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "examples", "pyloader"))

import bpfload  # noqa: E402

MARKER = "COREPY-RESULT "
PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER = 36, 37


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def prepare() -> None:
    """Give this process a non-default bitfield state the self-check can read back."""
    if _libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    os.sched_setscheduler(0, os.SCHED_OTHER | os.SCHED_RESET_ON_FORK, os.sched_param(0))


def proc_value(what: str) -> int:
    if what == "ppid":
        return os.getppid()
    if what == "pid":
        return os.getpid()
    if what == "reset_on_fork":
        return 1 if os.sched_getscheduler(0) & os.SCHED_RESET_ON_FORK else 0
    if what == "subreaper":
        val = ctypes.c_int(0)
        _libc().prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(val), 0, 0, 0)
        return val.value
    raise ValueError(f"unknown process value {what!r}")


def thread_comm() -> str:
    with open("/proc/thread-self/comm") as f:
        return f.read().strip()


def run_libbpf_job(job: dict[str, object]) -> dict[str, object]:
    """The job under libbpf: libbpf_runner's JSON line, or its error and stderr tail."""
    res: dict[str, object] = {"name": job.get("name", ""), "loader": "libbpf"}
    args = [str(job["runner"])]
    if job.get("prepare"):
        args.append("--prepare")
    if job.get("thread"):
        args.append("--thread")
    args += [str(job["object"]), str(job["prog"])]
    for sec, off, hexval in job.get("set", []):  # type: ignore[attr-defined]
        args.append(f"{sec}:{off}:{hexval}")
    for sec, off, what in job.get("set_proc", []):  # type: ignore[attr-defined]
        args.append(f"{sec}:{off}:@{what}")
    try:
        proc = subprocess.run(args, capture_output=True, text=True, errors="replace",
                              timeout=60, cwd="/")
    except (OSError, subprocess.SubprocessError) as err:
        res["error"] = f"{type(err).__name__}: {err}"
        return res
    lines = proc.stdout.strip().splitlines()
    try:
        out = json.loads(lines[-1])
        assert isinstance(out, dict)
    except (ValueError, IndexError, AssertionError):
        res["error"] = f"libbpf_runner exit {proc.returncode}, no result line"
        res["log"] = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        return res
    res.update(out)
    if "error" in out:
        res["log"] = "\n".join(proc.stderr.splitlines()[-40:])
    return res


def run_job(job: dict[str, object]) -> dict[str, object]:
    if job.get("loader", "python") == "libbpf":
        return run_libbpf_job(job)
    res: dict[str, object] = {"name": job.get("name", ""), "loader": "python",
                              "pid": os.getpid(), "ppid": os.getppid()}
    try:
        with bpfload.Object.open(str(job["object"])) as obj:
            obj.load_into_kernel()
            for sec, off, hexval in job.get("set", []):  # type: ignore[attr-defined]
                obj.set_global(sec, off, bytes.fromhex(hexval))
            out: dict[str, object] = {}

            def go() -> None:
                # In the task that runs the program: SCHED_RESET_ON_FORK is per task and a new
                # thread starts with it cleared.
                if job.get("prepare"):
                    prepare()
                for sec, off, what in job.get("set_proc", []):  # type: ignore[attr-defined]
                    obj.set_global(sec, off, struct.pack("=I", proc_value(what)))
                out["tid"] = threading.get_native_id()
                out["comm"] = thread_comm()
                out["retval"] = obj.run(str(job["prog"]))

            if job.get("thread"):
                errors: list[BaseException] = []

                def in_thread() -> None:
                    try:
                        go()
                    except BaseException as err:  # reported by the caller's thread
                        errors.append(err)

                t = threading.Thread(target=in_thread, name="bpf-runner")
                t.start()
                t.join()
                if errors:
                    raise errors[0]
            else:
                go()
            res.update(out)
            res["sections"] = {name: obj.read_global(name).hex() for name, m in obj.maps.items()
                               if m.initial is not None}
    except bpfload.BPFError as err:
        res["error"] = str(err).splitlines()[0]
        res["errno"] = err.errno
        res["log"] = "\n".join(err.log.splitlines()[-40:])
    except (bpfload.LoaderError, OSError, RuntimeError, ValueError, KeyError) as err:
        res["error"] = f"{type(err).__name__}: {err}"
    return res


def main(argv: list[str]) -> int:
    with open(argv[0]) as f:
        spec = json.load(f)
    jobs = spec["jobs"]
    report: dict[str, object] = {"results": [run_job(j) for j in jobs]}
    u = os.uname()
    with open("/proc/self/comm") as f:
        comm = f.read().strip()
    report.update({"uname": {"release": u.release, "version": u.version, "machine": u.machine},
                   "pid": os.getpid(), "ppid": os.getppid(), "comm": comm})
    sys.stdout.write(MARKER + json.dumps(report, sort_keys=True) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
