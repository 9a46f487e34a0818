"""The results matrix: relocated self-check objects × kernel × loader, one run per kernel.

Kernels: the host (whatever it runs, 6.18 here) and Debian's 6.1 and 6.12 cloud kernels under
QEMU. Loaders: Debian's libbpf (libbpf_runner, given the relocated object and no --btf, so it
relocates nothing: the object's core_relo_len is 0) and the pure-Python bpfload. Objects:
selfcheck and selfcheck_probe, relocated by corepy and, as the reference, by libbpf
(libbpf_ref.relocate), either for the kernel they run in (must pass) or for another kernel
(the negative control: must be caught).

All jobs of one kernel run in one boot (for the guests also the loader smoke jobs of
test_qemu_boot.py), and each kernel is run at most once per process (run_kernel caches), so
the whole matrix costs two QEMU boots.

Cell statuses: "pass" (all checks passed and the raw values agree with the process that ran
the program), "caught" (another kernel's relocation: refused by the verifier with EACCES,
or ran to the end with the layout checks failing), "FAIL" / "MISSED" (the opposite, a real
problem), "error" (the harness or loader broke) and "skipped" (with the reason).

``python3 -m kernel.matrix [OUT.md]`` (from tests/) runs the whole matrix and prints or
writes the Markdown table; the tests write it when COREPY_MATRIX_OUT is set.
"""

from __future__ import annotations

import datetime
import errno
import functools
import os
import struct
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import btfdump, libbpf_ref, qemu, selfcheck
from .kernels import Kernel

HOST_BTF = Path("/sys/kernel/btf/vmlinux")
KERNELS = ("host", "6.1", "6.12")
# The kernel whose relocation is the negative control on each: for the host the Debian kernel
# closest to it, for the guests each other.
OTHER = {"host": "6.12", "6.1": "6.12", "6.12": "6.1"}
LOADERS = ("libbpf", "python")
LOADER_TITLES = {"libbpf": "libbpf", "python": "bpfload"}
OBJECTS = ("selfcheck", "selfcheck_probe")
TARGETS = ("same", "other")
# Facts measured on the Debian kernels (docs/real-kernels.md); the host's come from bpftool.
EXPECTED = {"6.1": {"out_pid_offset": 2416, "out_task_size": 9728, "out_has_mm_cid": 0},
            "6.12": {"out_pid_offset": 2432, "out_task_size": 9792, "out_has_mm_cid": 1}}
# Checks that fail for every pair of these kernels (task_struct layout differs in each).
WRONG_KERNEL_CHECKS = ("probe pid", "field_offset pid", "type_size task_struct")
MATRIX_ENV = "COREPY_MATRIX_OUT"


def _corepy_relocate(obj: Path, btf: Path) -> bytes:
    import corepy

    return corepy.relocate(obj, btf).to_bytes()


# name -> function(object path, target BTF path) -> relocated object bytes
RELOCATORS: dict[str, Callable[[Path, Path], bytes]] = {
    "corepy": _corepy_relocate,
    "libbpf": libbpf_ref.relocate,
}


@dataclass(frozen=True)
class Case:
    """One row entry: who relocated which object for which kernel, and who loads it."""

    relocator: str
    obj: str
    target: str  # "same": for the kernel it runs in; "other": OTHER[kernel]
    loader: str

    @property
    def expected(self) -> str:
        return "pass" if self.target == "same" else "caught"

    def __str__(self) -> str:
        return f"{self.relocator}-{self.obj}-{self.target}-{self.loader}"


CASES = tuple(Case(r, o, t, ld) for r in RELOCATORS for o in OBJECTS for t in TARGETS
              for ld in LOADERS)


@dataclass
class Cell:
    status: str  # pass | caught | FAIL | MISSED | error | skipped
    detail: str = ""
    summary: dict[str, object] = field(default_factory=dict)


@dataclass
class KernelRun:
    """The results of one kernel: one boot (or one host subprocess) for every case."""

    name: str
    release: str
    package: str  # "PACKAGE VERSION" for Debian kernels, "" for the host
    cells: dict[Case, Cell]
    smoke: dict[str, dict[str, object]]  # loader smoke jobs by name (guests only)
    report: qemu.Report | None
    seconds: float


class Unavailable(Exception):
    """This kernel cannot be run here (the reason is the message)."""


# ---------------------------------------------------------------------------------------------
# building the jobs


@functools.cache
def _kernel_or_reason(name: str) -> tuple[Kernel | None, str]:
    """Cached, failures included: a failed download is tried once per process, not per cell."""
    return qemu.kernel_or_reason(name)


def _kernel(name: str) -> Kernel:
    kernel, reason = _kernel_or_reason(name)
    if kernel is None:
        raise Unavailable(reason)
    return kernel


def _btf_of(name: str) -> Path:
    return HOST_BTF if name == "host" else _kernel(name).btf


@functools.cache
def _relocated(relocator: str, obj: str, btf: Path) -> bytes:
    return RELOCATORS[relocator](selfcheck.fixture(f"{obj}.bpfel.o"), btf)


def smoke_jobs() -> list[dict[str, object]]:
    """The loader's own checks, carried in the same guest boot (see test_qemu_boot.py)."""
    plain = (selfcheck.FIXTURES / "plain.bpfel.o").read_bytes()
    return [
        {"name": "plain", "object_bytes": plain, "prog": "plain",
         "set_proc": [[".data", 0, "pid"]], "set": [[".rodata", 0, struct.pack("<I", 6).hex()]]},
        {"name": "plain-thread", "object_bytes": plain, "prog": "plain", "thread": True,
         "set_proc": [[".data", 0, "pid"]]},
        {"name": "unrelocated", "prog": "selfcheck",
         "object_bytes": (selfcheck.FIXTURES / "selfcheck.bpfel.o").read_bytes()},
    ]


def _job_or_skip(case: Case, kernel: str, inputs_btf: Path,
                 runner_reason: str | None) -> tuple[dict[str, object] | None, Cell | None]:
    """The runner job of one case, or the cell that says why there is none."""
    if case.loader == "libbpf" and runner_reason:
        return None, Cell("skipped", runner_reason)
    target = kernel if case.target == "same" else OTHER[kernel]
    try:
        btf = _btf_of(target)
    except Unavailable as err:
        return None, Cell("skipped", str(err))
    try:
        if case.relocator == "libbpf" and qemu.bpf_unavailable():
            # libbpf_ref.relocate loads maps on the host to capture libbpf's instructions.
            return None, Cell("skipped", f"libbpf reference: {qemu.bpf_unavailable()}")
        data = _relocated(case.relocator, case.obj, btf)
    except libbpf_ref.RunnerUnavailable as err:
        return None, Cell("skipped", str(err))
    except Exception as err:  # a relocator failure is this cell's result, not the run's
        return None, Cell("FAIL" if case.target == "same" else "error",
                          f"relocation for {target} failed: {type(err).__name__}: {err}")
    job = selfcheck.job(data, inputs_btf, name=str(case))
    job["loader"] = case.loader
    return job, None


# ---------------------------------------------------------------------------------------------
# judging the results


def _value_problems(s: dict[str, object], kernel: str, obj: str) -> list[str]:
    """What disagrees between the program's raw values and the process that ran it."""
    v = s["values"]
    assert isinstance(v, dict)
    tgid, tid, ppid, comm = s["runner_pid"], s["tid"], s["runner_ppid"], s["comm"]
    assert isinstance(tgid, int) and isinstance(tid, int)
    want: list[tuple[str, object, object]] = [
        ("out_pid_tgid", v["out_pid_tgid"], (tgid << 32) | tid),
        ("out_core_pid", v["out_core_pid"], tid), ("out_core_tgid", v["out_core_tgid"], tgid),
        ("out_core_leader_pid", v["out_core_leader_pid"], tgid),
        ("out_core_parent_tgid", v["out_core_parent_tgid"], ppid),
        ("out_core_comm", v["out_core_comm"], comm), ("out_cur_comm", v["out_cur_comm"], comm),
        ("out_reset_on_fork", v["out_reset_on_fork"], 1),
        ("out_subreaper", v["out_subreaper"], 1),
    ]
    if obj == "selfcheck":
        want += [("out_btf_pid", v["out_btf_pid"], tid), ("out_btf_tgid", v["out_btf_tgid"], tgid),
                 ("out_btf_comm", v["out_btf_comm"], comm)]
    if kernel == "host":
        inputs = selfcheck.kernel_inputs(HOST_BTF)
        layout = {"out_pid_offset": inputs["in_pid_offset"],
                  "out_task_size": inputs["in_task_size"],
                  "out_has_mm_cid": inputs["in_has_mm_cid"]}
    else:
        layout = EXPECTED[kernel]
    want += [(k, v[k], val) for k, val in layout.items()]
    problems = [f"{name} = {got!r}, expected {exp!r}" for name, got, exp in want if got != exp]
    if tid == tgid:
        problems.append(f"tid == tgid == {tid}: not run from a second thread")
    return problems


def _verifier_reason(log: str) -> str:
    """The verifier's complaint: the last log line that is not a statistic."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    skip = ("processed ", "verification time", "stack depth", "-- END", "libbpf: prog",
            "libbpf: failed to load")
    for ln in reversed(lines):
        if not ln.startswith(skip):
            return ln.removeprefix("libbpf: ")[:120]
    return ""


def judge(case: Case, kernel: str, s: dict[str, object]) -> Cell:
    """The cell for one run (summary from qemu.summarize)."""
    if case.target == "same":
        if "error" in s:
            return Cell("FAIL", f"{s['error']} {_verifier_reason(str(s.get('log', '')))}", s)
        if not s["ok"]:
            return Cell("FAIL", f"failed checks: {s['failed']} (retval {s['retval']}, "
                                f"done {s['done']})", s)
        problems = _value_problems(s, kernel, case.obj)
        if problems:
            return Cell("FAIL", "; ".join(problems), s)
        checks = 31 if case.obj == "selfcheck" else 25
        return Cell("pass", f"{checks}/{checks} checks", s)
    if "error" in s:
        if s.get("errno") == errno.EACCES:  # the verifier's verdict (a loader bug is not)
            return Cell("caught", f"refused: {_verifier_reason(str(s.get('log', '')))}", s)
        return Cell("error", f"{s['error']} (errno {s.get('errno')})", s)
    if s["ok"]:
        return Cell("MISSED", "another kernel's relocation passed every check", s)
    failed = s["failed"]
    assert isinstance(failed, list)
    missing = [c for c in WRONG_KERNEL_CHECKS if c not in failed]
    if not s["done"] or missing:
        return Cell("error", f"ran but not as a wrong layout should: done {s['done']}, "
                             f"failed {failed}", s)
    return Cell("caught", f"{len(failed)} checks failed", s)


# ---------------------------------------------------------------------------------------------
# running


_RUNS: dict[str, KernelRun | Exception] = {}


def run_kernel(name: str) -> KernelRun:
    """Every case on one kernel ("host", "6.1" or "6.12"), once per process (cached, also
    when it fails). Raises Unavailable when this kernel cannot be run here."""
    if name not in _RUNS:
        try:
            _RUNS[name] = _run_kernel(name)
        except Exception as err:
            _RUNS[name] = err
    run = _RUNS[name]
    if isinstance(run, Exception):
        raise run
    return run


def _run_kernel(name: str) -> KernelRun:
    kernel: Kernel | None = None
    if name == "host":
        reason = qemu.bpf_unavailable()
        if reason:
            raise Unavailable(reason)
        if not HOST_BTF.is_file():
            raise Unavailable("host kernel has no /sys/kernel/btf/vmlinux")
    else:
        missing = qemu.qemu_missing()
        if missing:
            raise Unavailable(missing)
        kernel = _kernel(name)
    inputs_btf = _btf_of(name)
    try:  # the expected inputs come from bpftool; without it only the smoke jobs run
        btfdump.load(str(inputs_btf))
        inputs_reason = None
    except btfdump.BpftoolMissing as err:
        inputs_reason = f"bpftool unavailable (apt-get install bpftool): {err}"
    try:
        libbpf_ref.build_runner()
        runner_reason = None
    except libbpf_ref.RunnerUnavailable as err:
        runner_reason = str(err)
    cells: dict[Case, Cell] = {}
    jobs: list[dict[str, object]] = []
    ran: list[Case] = []
    for case in CASES:
        if inputs_reason:
            cells[case] = Cell("skipped", inputs_reason)
            continue
        job, cell = _job_or_skip(case, name, inputs_btf, runner_reason)
        if cell is not None:
            cells[case] = cell
        else:
            assert job is not None
            jobs.append(job)
            ran.append(case)
    smoke = smoke_jobs() if kernel is not None else []
    rep = qemu.run_jobs(jobs + smoke, kernel)
    if len(rep.results) != len(jobs) + len(smoke):
        raise qemu.GuestError(f"runner reported {len(rep.results)} of "
                              f"{len(jobs) + len(smoke)} jobs", rep.console)
    for case, job, res in zip(ran, jobs, rep.results, strict=False):
        data = job["object_bytes"]
        assert isinstance(data, bytes)
        cells[case] = judge(case, name, qemu.summarize(data, res, rep))
    smoke_res = {str(r["name"]): r for r in rep.results[len(jobs):]}
    release = rep.uname["release"]
    package = f"{kernel.package} {kernel.version}" if kernel is not None else ""
    return KernelRun(name, release, package, cells, smoke_res, rep, rep.seconds)


# ---------------------------------------------------------------------------------------------
# the Markdown table


def _host_title() -> str:
    rel = os.uname().release
    return f"host {'.'.join(rel.split('.')[:2])}"


def _short(cell: Cell) -> str:
    if cell.status in ("pass", "skipped"):
        return cell.status
    if cell.status == "caught":
        return "caught: refused" if cell.detail.startswith("refused") else \
            f"caught: {cell.detail.split()[0]} checks failed"
    return f"**{cell.status}**"


def markdown(names: tuple[str, ...] = KERNELS) -> str:
    """The matrix of every kernel run so far in this process (others shown as skipped)."""
    runs: dict[str, KernelRun | str] = {}
    for n in names:
        got = _RUNS.get(n)
        if got is None:
            runs[n] = "not run"
        elif isinstance(got, Exception):
            runs[n] = f"{type(got).__name__}: {str(got).splitlines()[0] if str(got) else ''}"
        else:
            runs[n] = got
    title = {n: _host_title() if n == "host" else n for n in names}
    cols = [(n, ld) for n in names for ld in LOADERS]
    out = [f"Measured {datetime.date.today().isoformat()}. Cells: object relocated by "
           "*relocator* for the kernel it runs in (*same*, must `pass`) or for another one "
           "(*other*: 6.12's on the host and on 6.1, 6.1's on 6.12; must be `caught`), "
           "loaded by libbpf (Debian's, no relocation left to do) or by bpfload "
           "(pure Python).", ""]
    out.append("| relocator | object | for | " + " | ".join(
        f"{title[n]} · {LOADER_TITLES[ld]}" for n, ld in cols) + " |")
    out.append("|---|---|---|" + "---|" * len(cols))
    for r in RELOCATORS:
        for o in OBJECTS:
            for t in TARGETS:
                row = [r, f"`{o}`", t]
                for n, ld in cols:
                    kr = runs[n]
                    row.append("skipped" if isinstance(kr, str)
                               else _short(kr.cells[Case(r, o, t, ld)]))
                out.append("| " + " | ".join(row) + " |")
    out += ["", "| kernel | release (`uname -r` in the run) | package | run (wall) |",
            "|---|---|---|---|"]
    for n in names:
        kr = runs[n]
        if isinstance(kr, str):
            out.append(f"| {title[n]} | — | — | skipped: {kr} |")
            continue
        how = "host subprocess" if n == "host" else "one QEMU boot"
        timings = kr.report.timings if kr.report is not None else {}
        extra = ""
        if "guest_uptime_at_init" in timings:
            extra = (f"; /init at {timings['guest_uptime_at_init']:.1f} s, jobs "
                     f"{timings.get('guest_runner', 0):.1f} s")
        out.append(f"| {title[n]} | `{kr.release}` | {kr.package or '—'} | "
                   f"{how}, {kr.seconds:.1f} s{extra} |")
    done = {n: r for n, r in runs.items() if isinstance(r, KernelRun)}
    refusals = sorted({f"- {title[n]}: {cell.detail.removeprefix('refused: ')}"
                       for n, r in done.items() for cell in r.cells.values()
                       if cell.status == "caught" and cell.detail.startswith("refused")})
    if refusals:
        out += ["", "Verifier messages of the refused (other-kernel, full `selfcheck`) objects:",
                "", *refusals]
    problems = [f"- {title[n]} {c}: {cell.status}: {cell.detail}" for n, r in done.items()
                for c, cell in r.cells.items() if cell.status not in ("pass", "caught",
                                                                     "skipped")]
    skips = sorted({f"- {title[n]}: {cell.detail}" for n, r in done.items()
                    for cell in r.cells.values() if cell.status == "skipped"})
    if skips:
        out += ["", "Skipped cells:", "", *skips]
    if problems:
        out += ["", "Not passed / caught:", "", *problems]
    return "\n".join(out) + "\n"


def write_if_requested() -> Path | None:
    """Write markdown() to $COREPY_MATRIX_OUT when it is set."""
    dest = os.environ.get(MATRIX_ENV)
    if not dest:
        return None
    path = Path(dest)
    path.write_text(markdown())
    return path


def main(argv: list[str]) -> int:
    for n in KERNELS:
        try:
            run_kernel(n)
        except (Unavailable, qemu.GuestError, subprocess.SubprocessError) as err:
            print(f"{n}: {err}", file=sys.stderr)
    text = markdown()
    if argv:
        Path(argv[0]).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
