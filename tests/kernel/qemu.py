"""Boot Debian kernels under QEMU (TCG) and run BPF jobs in them with the Python loader.

The guest is a single initramfs: busybox-static, Debian's /usr/bin/python3 with only the
stdlib modules the runner imports and the shared libraries those need, the loader
(examples/pyloader/bpfload.py), tests/kernel/guest_runner.py, the objects and a jobs file;
with "libbpf" jobs also the host's libbpf_runner binary (Debian's libbpf linked in) and the
shared libraries ldd lists for it (libelf, libz; libc is there for python already).
/init runs the runner, which prints one "COREPY-RESULT <json>" line on the serial console,
then powers off. Nothing is written to disk; the console is the only channel.

Entry points: run_jobs(jobs, kernel) (kernel None = on the host, in a subprocess) and
run_selfcheck(obj_bytes, kernel) for self-check objects already relocated for that kernel.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import libbpf_ref, selfcheck
from .kernels import Kernel, KernelUnavailable, get_kernel

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
LOADER = REPO / "examples" / "pyloader" / "bpfload.py"
RUNNER = HERE / "guest_runner.py"
GUEST_PYTHON = "/usr/bin/python3"
GUEST_LIBBPF_RUNNER = "/corepy/libbpf_runner"
BUSYBOX = "/bin/busybox"
QEMU = "qemu-system-x86_64"
MARKER = "COREPY-RESULT "
DEFAULT_TIMEOUT = 120.0  # TCG boots in 3-5 s; a hung guest is killed after this

INIT_SCRIPT = """#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
read -r up _ < /proc/uptime; echo "COREPY-GUEST-START $up"
# A fixed hash seed: Python must not wait for the guest's entropy pool at startup.
PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -s -S /corepy/guest_runner.py \
    /corepy/jobs.json
rc=$?; read -r up _ < /proc/uptime; echo "COREPY-GUEST-EXIT $rc $up"
/bin/busybox poweroff -f
"""


class GuestError(Exception):
    """The guest did not produce a result line (boot failure, crash, timeout)."""

    def __init__(self, msg: str, console: str) -> None:
        super().__init__(msg + "\n--- console tail ---\n" + "\n".join(console.splitlines()[-40:]))
        self.console = console


@dataclass
class Report:
    """What the runner reported, plus how it went."""

    data: dict[str, object]
    seconds: float
    console: str = ""
    kernel: Kernel | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def results(self) -> list[dict[str, object]]:
        res = self.data.get("results", [])
        assert isinstance(res, list)
        return res

    @property
    def uname(self) -> dict[str, str]:
        u = self.data["uname"]
        assert isinstance(u, dict)
        return u


# ---------------------------------------------------------------------------------------------
# availability


def qemu_missing() -> str | None:
    """Why QEMU guests cannot run here, or None."""
    for tool, pkg in ((QEMU, "qemu-system-x86"), (BUSYBOX, "busybox-static"),
                      (GUEST_PYTHON, "python3"), ("dpkg-deb", "dpkg"), ("ldd", "libc-bin")):
        if shutil.which(tool) is None and not os.path.exists(tool):
            return f"{tool} not found (apt-get install {pkg})"
    if os.uname().machine != "x86_64":
        return "the guest runs the host's x86_64 python3 and busybox"
    return None


@functools.lru_cache(maxsize=1)
def bpf_unavailable() -> str | None:
    """Why this process cannot load BPF programs, or None."""
    if os.geteuid() != 0:
        return "needs root for bpf() (run the suite as root)"
    try:  # loading the plain object: a few array maps and a small raw_tp program
        with selfcheck.bpfload.Object.open(selfcheck.FIXTURES / "plain.bpfel.o") as o:
            o.load_into_kernel()
    except selfcheck.bpfload.BPFError as err:
        if err.errno in (errno.EPERM, errno.ENOSYS):
            return f"bpf() not permitted here: {err}"
        raise
    return None


def kernel_or_reason(series: str) -> tuple[Kernel | None, str]:
    try:
        return get_kernel(series), ""
    except (KernelUnavailable, OSError, subprocess.SubprocessError) as err:
        return None, f"kernel {series} unavailable: {err}"


# ---------------------------------------------------------------------------------------------
# initramfs


class Cpio:
    """A newc cpio archive built in memory (the format the kernel unpacks as initramfs)."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.ino = 1
        self.dirs: set[str] = set()

    def _entry(self, name: str, mode: int, data: bytes = b"", mtime: int = 0,
               rdev: tuple[int, int] = (0, 0)) -> None:
        nameb = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, 1, mtime, len(data), 0, 0, rdev[0], rdev[1],
                  len(nameb), 0]
        self.ino += 1
        self.buf += b"070701" + "".join(f"{v:08x}" for v in fields).encode() + nameb
        self.buf += bytes(-len(self.buf) % 4)
        self.buf += data
        self.buf += bytes(-len(self.buf) % 4)

    def mkdir(self, path: str) -> None:
        path = path.strip("/")
        if not path or path in self.dirs:
            return
        self.mkdir(os.path.dirname(path))
        self.dirs.add(path)
        self._entry(path, 0o040755)

    def file(self, path: str, data: bytes, mode: int = 0o644, mtime: int = 0) -> None:
        path = path.strip("/")
        self.mkdir(os.path.dirname(path))
        self._entry(path, 0o100000 | mode, data, mtime)

    def copy(self, src: str, dest: str | None = None) -> None:
        """Copy a host file, keeping its mode and mtime (.pyc files check the source's)."""
        st = os.stat(src)
        with open(src, "rb") as f:
            self.file(dest or src, f.read(), st.st_mode & 0o777, int(st.st_mtime))

    def symlink(self, path: str, target: str) -> None:
        path = path.strip("/")
        self.mkdir(os.path.dirname(path))
        self._entry(path, 0o120777, target.encode())

    def chardev(self, path: str, major: int, minor: int) -> None:
        path = path.strip("/")
        self.mkdir(os.path.dirname(path))
        self._entry(path, 0o020600, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return bytes(self.buf) + bytes(-len(self.buf) % 512)


def _ldd(path: str) -> list[str]:
    """Shared libraries (resolved paths) a binary or extension module needs."""
    out = subprocess.run(["ldd", path], capture_output=True, text=True, check=False).stdout
    libs = re.findall(r"=>\s*(/\S+)", out) + re.findall(r"^\s*(/\S+)\s+\(", out, re.M)
    return sorted(set(libs))


@functools.lru_cache(maxsize=1)
def python_files() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(stdlib files, shared libraries) the guest runner needs under GUEST_PYTHON.

    Found by importing the runner in that interpreter with the guest's flags and listing
    sys.modules, so the list follows whatever the loader and runner import.
    """
    probe = ("import sys; sys.argv=['x']; "
             f"sys.path.insert(0, {str(HERE)!r}); sys.path.insert(0, {str(LOADER.parent)!r}); "
             "import guest_runner; "
             "print('\\n'.join(sorted({getattr(m, '__file__', None) or '' "
             "for m in list(sys.modules.values())})))")
    env = {"PATH": "/usr/bin:/bin"}  # as bare as the guest's /init environment
    res = subprocess.run([GUEST_PYTHON, "-E", "-s", "-S", "-B", "-c", probe],
                         capture_output=True, text=True, check=True, env=env)
    prefix, tag = subprocess.run(
        [GUEST_PYTHON, "-E", "-S", "-c",
         "import sys; print(sys.prefix, sys.implementation.cache_tag)"],
        capture_output=True, text=True, check=True).stdout.split()
    stdlib = [f for f in res.stdout.split() if f.startswith(prefix + "/lib/python")]
    files: set[str] = set()
    for f in stdlib:
        files.add(f)
        pyc = Path(f).parent / "__pycache__" / f"{Path(f).stem}.{tag}.pyc"
        if f.endswith(".py") and pyc.is_file():  # so the guest does not compile at boot
            files.add(str(pyc))
    libs: set[str] = set(_ldd(os.path.realpath(GUEST_PYTHON)))
    for f in stdlib:
        if f.endswith(".so"):
            libs.update(_ldd(f))
    return tuple(sorted(files)), tuple(sorted(libs))


def build_initramfs(objects: dict[str, bytes], jobs: dict[str, object],
                    libbpf_runner: Path | None = None) -> bytes:
    """A cpio: busybox, python3 + needed stdlib, loader, runner, objects, jobs, and the
    libbpf runner with its shared libraries when given.

    Left uncompressed (~14 MB): gzip costs more in the TCG guest than the copy saves."""
    c = Cpio()
    for d in ("proc", "sys", "tmp", "dev", "usr/bin"):
        c.mkdir(d)
    c.chardev("dev/console", 5, 1)
    c.chardev("dev/null", 1, 3)
    c.copy(BUSYBOX, "bin/busybox")
    c.symlink("bin/sh", "busybox")
    real_python = os.path.realpath(GUEST_PYTHON)
    c.copy(real_python, real_python)
    if real_python != GUEST_PYTHON:
        c.symlink(GUEST_PYTHON, os.path.basename(real_python))
    files, py_libs = python_files()
    for f in files:
        c.copy(f)
    libs = set(py_libs)
    if libbpf_runner is not None:
        c.copy(str(libbpf_runner), GUEST_LIBBPF_RUNNER)
        libs.update(_ldd(str(libbpf_runner)))
    for lib in sorted(libs):  # at the paths ldd reported: ld.so's default dirs and PT_INTERP
        c.copy(lib, lib)
    c.copy(str(LOADER), "corepy/bpfload.py")
    c.copy(str(RUNNER), "corepy/guest_runner.py")
    for name, blob in objects.items():
        c.file(f"corepy/{name}", blob)
    c.file("corepy/jobs.json", json.dumps(jobs).encode())
    c.file("init", INIT_SCRIPT.encode(), 0o755)
    return c.finish()


# ---------------------------------------------------------------------------------------------
# running


def _split_jobs(jobs: list[dict[str, object]], objdir: str,
                runner: str) -> tuple[dict[str, bytes], dict[str, object]]:
    """Move each job's object bytes to a file name (one file per distinct object: ~680 KB
    each, and the same object often runs under both loaders) and point "libbpf" jobs at
    ``runner``; return (files, jobs document)."""
    objects: dict[str, bytes] = {}
    names: dict[bytes, str] = {}
    out = []
    for j in jobs:
        j = dict(j)
        data = j.pop("object_bytes", None)
        if data is not None:
            assert isinstance(data, bytes)
            name = names.setdefault(data, f"obj{len(names)}.o")
            objects[name] = data
            j["object"] = f"{objdir}/{name}"
        if j.get("loader") == "libbpf":
            j["runner"] = runner
        out.append(j)
    return objects, {"jobs": out}


def _needs_libbpf(jobs: list[dict[str, object]]) -> Path | None:
    """The compiled libbpf runner if any job uses it (RunnerUnavailable if it cannot be
    built)."""
    if any(j.get("loader") == "libbpf" for j in jobs):
        return libbpf_ref.build_runner()
    return None


def _parse_console(console: str) -> dict[str, object]:
    for line in console.replace("\r", "").splitlines():
        idx = line.find(MARKER)
        if idx >= 0:
            try:
                data = json.loads(line[idx + len(MARKER):])
            except ValueError as err:
                raise GuestError(f"garbled result line ({err})", console) from err
            assert isinstance(data, dict)
            return data
    raise GuestError("the guest printed no result line", console)


def boot(kernel: Kernel, initramfs: bytes, timeout: float = DEFAULT_TIMEOUT,
         memory_mb: int = 512) -> str:
    """Boot the kernel with this initramfs; return the serial console output."""
    with tempfile.TemporaryDirectory(prefix="corepy-qemu-") as tmp:
        initrd = Path(tmp) / "initramfs.cpio"
        initrd.write_bytes(initramfs)
        cmd = [QEMU, "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
               "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", str(memory_mb),
               "-serial", "stdio", "-monitor", "none",
               "-kernel", str(kernel.vmlinuz), "-initrd", str(initrd),
               "-append", "console=ttyS0 panic=-1 oops=panic quiet loglevel=4 mitigations=off "
                          "i8042.noaux i8042.nokbd i8042.nopnp rdinit=/init"]
        try:
            res = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                                 timeout=timeout)
        except subprocess.TimeoutExpired as err:
            out = (err.stdout or b"").decode(errors="replace")
            raise GuestError(f"guest still running after {timeout:.0f} s", out) from err
        return res.stdout.decode(errors="replace") + res.stderr.decode(errors="replace")


def run_jobs(jobs: list[dict[str, object]], kernel: Kernel | None,
             timeout: float = DEFAULT_TIMEOUT) -> Report:
    """Run jobs (see guest_runner.py; "object_bytes" instead of "object" is fine) in a QEMU
    guest booted with ``kernel``, or on the host in a subprocess when ``kernel`` is None.

    "libbpf" jobs get their "runner" filled in: the host's compiled libbpf_runner, which the
    guest carries at GUEST_LIBBPF_RUNNER (the same binary, so host and guests run one build).
    """
    t0 = time.monotonic()
    runner = _needs_libbpf(jobs)
    if kernel is None:
        with tempfile.TemporaryDirectory(prefix="corepy-run-") as tmp:
            objects, doc = _split_jobs(jobs, tmp, str(runner))
            for name, blob in objects.items():
                Path(tmp, name).write_bytes(blob)
            Path(tmp, "jobs.json").write_text(json.dumps(doc))
            res = subprocess.run([sys.executable, str(RUNNER), f"{tmp}/jobs.json"],
                                 capture_output=True, text=True, timeout=timeout)
        console = res.stdout + res.stderr
        return Report(_parse_console(console), time.monotonic() - t0, console)
    objects, doc = _split_jobs(jobs, "/corepy", GUEST_LIBBPF_RUNNER)
    initramfs = build_initramfs(objects, doc, runner)
    t1 = time.monotonic()
    console = boot(kernel, initramfs, timeout)
    t2 = time.monotonic()
    timings = {"initramfs": t1 - t0, "qemu": t2 - t1, "initramfs_bytes": float(len(initramfs))}
    m = re.search(r"COREPY-GUEST-START ([\d.]+)", console)
    if m:
        timings["guest_uptime_at_init"] = float(m.group(1))
    m2 = re.search(r"COREPY-GUEST-EXIT \d+ ([\d.]+)", console)
    if m and m2:
        timings["guest_runner"] = float(m2.group(1)) - float(m.group(1))
    return Report(_parse_console(console), t2 - t0, console, kernel, timings)


def summarize(obj_bytes: bytes, res: dict[str, object], rep: Report) -> dict[str, object]:
    """selfcheck.summarize() of one job result plus who ran it: 'runner_pid' / 'runner_ppid'
    (the process that test-ran the program: the python runner, or libbpf_runner), 'comm' of
    the task that ran it, 'uname', 'seconds' and 'timings' of the whole run."""
    summary = selfcheck.summarize(obj_bytes, res)
    summary.update({"uname": rep.uname, "runner_pid": res.get("pid", rep.data["pid"]),
                    "runner_ppid": res.get("ppid", rep.data["ppid"]),
                    "comm": res.get("comm", rep.data["comm"]), "loader": res.get("loader"),
                    "seconds": rep.seconds, "timings": rep.timings})
    return summary


def run_selfchecks(objects: dict[str, bytes], kernel: Kernel | None,
                   timeout: float = DEFAULT_TIMEOUT,
                   loader: str = "python") -> dict[str, dict[str, object]]:
    """Run several self-check objects, each already relocated (for ``kernel`` or, as a
    negative control, for another one), in one boot of ``kernel`` (None = the host), with
    ``loader`` ("python": bpfload; "libbpf": libbpf_runner, which relocates nothing).

    Expected inputs always come from ``kernel``'s own BTF. Per name: summarize()'s dict
    ('ok', 'failed' check names, decoded 'values', or 'error' and verifier 'log', plus
    'runner_pid', 'runner_ppid', 'comm', 'uname', 'seconds' of the whole boot).
    """
    btf = kernel.btf if kernel is not None else Path("/sys/kernel/btf/vmlinux")
    names = list(objects)
    jobs = [dict(selfcheck.job(objects[n], btf, name=n), loader=loader) for n in names]
    rep = run_jobs(jobs, kernel, timeout)
    if len(rep.results) != len(names):
        raise GuestError(f"runner reported {len(rep.results)} of {len(names)} jobs",
                         rep.console)
    return {name: summarize(objects[name], res, rep)
            for name, res in zip(names, rep.results, strict=True)}


def run_selfcheck(obj_bytes: bytes, kernel: Kernel | None,
                  timeout: float = DEFAULT_TIMEOUT) -> dict[str, object]:
    """Run one self-check object already relocated for ``kernel`` (None = the host)."""
    return run_selfchecks({"selfcheck": obj_bytes}, kernel, timeout)["selfcheck"]


__all__ = ["Cpio", "GuestError", "Kernel", "KernelUnavailable", "Report", "boot",
           "bpf_unavailable", "build_initramfs", "get_kernel", "kernel_or_reason",
           "python_files", "qemu_missing", "run_jobs", "run_selfcheck", "run_selfchecks",
           "summarize"]
