#!/usr/bin/env python3
"""Benchmark corepy's BTF layer against libbpf (bench/c) and bpftool, side by side.

Not a test: prints a table and writes bench/results.json. Everything is measured in one run
with the Python and C sides interleaved, because this kind of machine drifts 5-30 %
between runs; compare the ratios, not the absolute numbers.

    python bench/bench_btf.py [--btf /sys/kernel/btf/vmlinux] [--runs 15] [--json PATH]

Measured:

* in process (a fresh worker process): read the file, build the index (``Spec``), find
  ``task_struct``, decode it cold (fresh Spec, empty string cache) -- vs libbpf's
  ``btf__parse`` + ``btf__find_by_name_kind`` + member walk (``btf_parse_bench``);
* index memory: tracemalloc of ``Spec(data)`` (the data itself excluded) and the RSS
  growth of reading + indexing, vs libbpf's RSS growth for one parsed BTF;
* whole processes: ``python -m corepy btf dump FILE --name task_struct`` vs
  ``btf_parse_bench --dump`` (same output), and the full dump vs ``bpftool btf dump file``
  (byte-identical output), each with and without the on-disk index cache;
* start-up: ``python -c pass``, ``import btf``, ``import corepy`` (``-X importtime``).

``PYTHONDONTWRITEBYTECODE`` is removed from the children's environment and the packages are
byte-compiled first, so start-up numbers do not include compiling.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
C_DIR = ROOT / "bench" / "c"
BUILD_DIR = Path(os.environ.get("COREPY_BUILD_DIR", "/tmp/corepy-build")) / "bench"
C_BENCH = BUILD_DIR / "btf_parse_bench"

TARGETS = {
    "decode_struct_ms": 0.5,
    "index_mem_mb": 15.0,
    "name_dump_ratio": 3.0,
    "full_dump_ratio": 2.5,
}

WORKER = r"""
import gc, json, sys, time, tracemalloc
path, name, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
t0 = time.perf_counter()
import btf
from btf import Kind, Spec
t_import = time.perf_counter() - t0
rss0 = rss_kib()
with open(path, "rb", buffering=0) as f:
    data = f.readall()
rss_read = rss_kib()
spec = Spec(data)
rss_index = rss_kib()
out = {"import_btf_ms": t_import * 1e3, "rss_before_kib": rss0, "rss_read_kib": rss_read,
       "rss_index_kib": rss_index, "types": spec.type_count - 1}
read, index, find, decode, decode_warm, total = [], [], [], [], [], []
for _ in range(runs):
    t = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        data = f.readall()
    t1 = time.perf_counter()
    s = Spec(data)
    t2 = time.perf_counter()
    (tid,) = s.find_by_name(name, Kind.STRUCT)
    t3 = time.perf_counter()
    ty = s.type(tid)
    n = sum(1 for m in ty.members if m.name is not None)
    t4 = time.perf_counter()
    s._decode(tid)
    t5 = time.perf_counter()
    read.append(t1 - t); index.append(t2 - t1); find.append(t3 - t2); decode.append(t4 - t3)
    decode_warm.append(t5 - t4); total.append(t4 - t1)
ms = lambda xs: {"min": min(xs) * 1e3, "median": sorted(xs)[len(xs) // 2] * 1e3}
out.update(read_ms=ms(read), index_ms=ms(index), find_ms=ms(find), decode_ms=ms(decode),
           decode_names_cached_ms=ms(decode_warm), parse_find_decode_ms=ms(total),
           type_id=tid, members=n)
del s
gc.collect()
tracemalloc.start()
s = Spec(data)
cur, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
out["index_tracemalloc_bytes"] = cur
out["index_tracemalloc_peak_bytes"] = peak
# with the on-disk index cache (directory given as argv[4])
if len(sys.argv) > 4:
    Spec(data, cache_dir=sys.argv[4])
    cached = []
    for _ in range(runs):
        t = time.perf_counter()
        Spec(data, cache_dir=sys.argv[4])
        cached.append(time.perf_counter() - t)
    out["index_cached_ms"] = ms(cached)
print(json.dumps(out))
"""


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                     else "")
    env.update(extra)
    return env


def build_c() -> str | None:
    """Build bench/c's harness; returns an error text when that is impossible."""
    if not (C_DIR / "Makefile").exists():
        return "bench/c is missing"
    r = subprocess.run(["make", "-s", "-C", str(C_DIR), f"BUILD_DIR={BUILD_DIR}"],
                       capture_output=True, text=True)
    if r.returncode or not C_BENCH.exists():
        return f"building bench/c failed: {r.stderr.strip()[-400:]}"
    return None


def run_proc(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, bytes]:
    """Wall seconds, peak RSS (KiB) and stdout of one process run."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    out, err = p.communicate()
    wall = time.perf_counter() - t
    if p.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {err.decode()[-500:]}")
    rss = 0
    try:
        import resource

        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # max over children
    except ImportError:
        pass
    return wall, rss, out


def timed_pair(cmds: dict[str, tuple[list[str], dict[str, str] | None]], runs: int
               ) -> dict[str, dict[str, float]]:
    """Run the commands interleaved ``runs`` times; min/median wall ms of each."""
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(runs):
        for k, (cmd, env) in cmds.items():
            times[k].append(run_proc(cmd, env)[0])
    return {k: {"min": min(v) * 1e3, "median": statistics.median(v) * 1e3}
            for k, v in times.items()}


def max_rss(cmd: list[str], env: dict[str, str] | None) -> int:
    """Peak RSS (KiB) of one run, measured in a wrapper so earlier children do not count."""
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
            "stdout=subprocess.DEVNULL); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, *cmd], env=env, capture_output=True,
                         text=True, check=True, cwd=ROOT).stdout
    return int(out.strip())


def importtime(module: str, env: dict[str, str]) -> float:
    """Cumulative import time (ms) of ``module`` from ``-X importtime``."""
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                         env=env, capture_output=True, text=True, check=True).stderr
    for line in err.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1]) / 1e3
    return float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--btf", default="/sys/kernel/btf/vmlinux", help="raw BTF file")
    ap.add_argument("--type", default="task_struct", help="struct to look up")
    ap.add_argument("--runs", type=int, default=15, help="repetitions of every measurement")
    ap.add_argument("--json", default=str(ROOT / "bench" / "results.json"), help="output file")
    args = ap.parse_args()
    btf_path = args.btf
    if not Path(btf_path).exists():
        print(f"{btf_path} does not exist", file=sys.stderr)
        return 1
    env = child_env()
    subprocess.run([sys.executable, "-m", "compileall", "-q", "btf", "corepy"], cwd=ROOT,
                   env=env, check=True)
    cache_dir = tempfile.mkdtemp(prefix="corepy-bench-cache-")
    env_cache = child_env(COREPY_BTF_CACHE=cache_dir)
    res: dict[str, object] = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "host": {"python": platform.python_version(), "machine": platform.machine(),
                 "kernel": platform.release(), "cpus": os.cpu_count()},
        "btf": btf_path, "btf_bytes": Path(btf_path).stat().st_size, "type": args.type,
        "targets": TARGETS,
    }

    # ---- in process
    w = subprocess.run([sys.executable, "-c", WORKER, btf_path, args.type, str(args.runs),
                        cache_dir], env=env, capture_output=True, text=True, check=True)
    py = json.loads(w.stdout)
    res["python_inproc"] = py
    c_err = build_c()
    c: dict[str, object] | None = None
    if c_err is None:
        cj = subprocess.run([str(C_BENCH), "-n", str(max(args.runs, 30)), "--type", args.type,
                             btf_path], capture_output=True, text=True, check=True).stdout
        c = json.loads(cj)
    res["libbpf_inproc"] = c if c is not None else {"error": c_err}

    # ---- whole processes (interleaved)
    name_cmd = [sys.executable, "-m", "corepy", "btf", "dump", btf_path, "--name", args.type]
    full_cmd = [sys.executable, "-m", "corepy", "btf", "dump", btf_path]
    name_cmd_s = [sys.executable, "-S", *name_cmd[1:]]
    cmds: dict[str, tuple[list[str], dict[str, str] | None]] = {
        "python_pass": ([sys.executable, "-c", "pass"], env),
        "python_pass_nosite": ([sys.executable, "-S", "-c", "pass"], env),
        "python_import_btf": ([sys.executable, "-c", "import btf"], env),
        "python_import_corepy_cli": ([sys.executable, "-c", "import corepy.cli"], env),
        "corepy_name": (name_cmd, env),
        "corepy_name_cached": (name_cmd, env_cache),
        "corepy_name_nosite": (name_cmd_s, env),
        "corepy_name_cached_nosite": (name_cmd_s, env_cache),
    }
    has_cli = (ROOT / "corepy" / "commands" / "btf_cmd.py").exists()
    if not has_cli:
        for k in list(cmds):
            if k.startswith("corepy_"):
                del cmds[k]
    if c is not None:
        cmds["c_dump"] = ([str(C_BENCH), "--dump", "--type", args.type, btf_path], None)
    run_proc(name_cmd, env_cache) if has_cli else None  # fill the cache
    res["processes_ms"] = timed_pair(cmds, args.runs)
    checks: dict[str, object] = {}
    if has_cli and c is not None:
        a = run_proc(name_cmd, env)[2]
        b = run_proc(cmds["c_dump"][0], None)[2]
        checks["name_dump_output_equal"] = a == b
    bpftool = shutil.which("bpftool")
    if has_cli and bpftool:
        full = timed_pair({
            "corepy_full": (full_cmd, env),
            "corepy_full_cached": (full_cmd, env_cache),
            "bpftool_full": ([bpftool, "btf", "dump", "file", btf_path], None),
        }, max(3, args.runs // 3))
        res["processes_ms"].update(full)  # type: ignore[union-attr]
        ha = hashlib.sha256(run_proc(full_cmd, env)[2]).hexdigest()
        hb = hashlib.sha256(run_proc([bpftool, "btf", "dump", "file", btf_path])[2]).hexdigest()
        checks["full_dump_output_equal"] = ha == hb
    res["checks"] = checks
    rss: dict[str, int] = {}
    if has_cli:
        rss["corepy_name"] = max_rss(name_cmd, env)
        rss["corepy_full"] = max_rss(full_cmd, env)
    if c is not None:
        rss["c_dump"] = max_rss(cmds["c_dump"][0], None)
    if bpftool:
        rss["bpftool_full"] = max_rss([bpftool, "btf", "dump", "file", btf_path], None)
    res["processes_max_rss_kib"] = rss
    res["importtime_ms"] = {m: importtime(m, env) for m in ("btf", "btf.spec", "corepy",
                                                            "corepy.cli")}
    shutil.rmtree(cache_dir, ignore_errors=True)

    rows = table(res)
    res["table"] = rows
    Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    print(f"BTF: {btf_path} ({res['btf_bytes']} bytes, {py['types']} types); "
          f"{args.runs} runs; min (median) wall times")
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(str(x).ljust(wd) for x, wd in zip(r, widths, strict=True)))
    if c_err:
        print(f"note: {c_err}")
    print(f"written: {args.json}")
    return 0


def _fmt(d: object) -> str:
    if isinstance(d, dict):
        return f"{d['min']:.2f} ({d['median']:.2f})"
    return f"{d:.2f}" if isinstance(d, float) else str(d)


def table(res: dict[str, object]) -> list[list[str]]:
    """Rows of the printed table: what, corepy, reference, ratio (min/min), target, ok."""
    py: dict = res["python_inproc"]  # type: ignore[assignment]
    c: dict = res["libbpf_inproc"]  # type: ignore[assignment]
    pr: dict = res["processes_ms"]  # type: ignore[assignment]
    rss: dict = res["processes_max_rss_kib"]  # type: ignore[assignment]
    rows = [["measure", "corepy", "reference", "ratio", "target", "ok"]]

    def row(what: str, mine: object, ref: object, ratio: float | None, target: str,
            ok: bool | None) -> None:
        rows.append([what, _fmt(mine), _fmt(ref),
                     "-" if ratio is None else f"{ratio:.2f}x", target,
                     "-" if ok is None else ("yes" if ok else "NO")])

    has_c = "error" not in c
    cp = {"min": c["parse_us"]["min"] / 1e3, "median": c["parse_us"]["median"] / 1e3} \
        if has_c else "n/a"
    cl = {"min": c["lookup_us"]["min"] / 1e3, "median": c["lookup_us"]["median"] / 1e3} \
        if has_c else "n/a"
    row("read file (ms)", py["read_ms"], "(in parse)", None, "", None)
    row("index: Spec(data) vs btf__parse (ms)", py["index_ms"], cp,
        py["index_ms"]["min"] / cp["min"] if has_c else None, "", None)  # type: ignore[index]
    if "index_cached_ms" in py:
        row("index from on-disk cache (ms)", py["index_cached_ms"], cp,
            py["index_cached_ms"]["min"] / cp["min"] if has_c else None, "", None)  # type: ignore[index]
    row("find_by_name vs find_by_name_kind (ms)", py["find_ms"], cl, None, "", None)
    dec = py["decode_ms"]["min"]
    row(f"decode {res['type']} cold (ms)", py["decode_ms"], "-", None,
        f"<= {TARGETS['decode_struct_ms']}", dec <= TARGETS["decode_struct_ms"])
    row(f"decode {res['type']}, names cached (ms)", py["decode_names_cached_ms"], "-", None, "",
        None)
    mem = py["index_tracemalloc_bytes"] / 2**20
    row("index memory, tracemalloc (MB)", mem, "-", None, f"<= {TARGETS['index_mem_mb']}",
        mem <= TARGETS["index_mem_mb"])
    py_rss = (py["rss_index_kib"] - py["rss_before_kib"]) / 1024
    c_rss = c["rss_btf_delta_kib"] / 1024 if has_c else "n/a"
    row("RSS growth read+index vs one parsed BTF (MB)", py_rss, c_rss,
        py_rss / c_rss if has_c else None, f"<= {TARGETS['index_mem_mb']}",  # type: ignore[operator]
        py_rss <= TARGETS["index_mem_mb"])
    for k in ("python_pass", "python_pass_nosite", "python_import_btf",
              "python_import_corepy_cli"):
        row(f"process: {k.removeprefix('python_').replace('_', ' ')} (ms)", pr[k], "-", None, "",
            None)
    if "corepy_name" in pr and "c_dump" in pr:
        for k in ("corepy_name", "corepy_name_cached", "corepy_name_nosite",
                  "corepy_name_cached_nosite"):
            ratio = pr[k]["min"] / pr["c_dump"]["min"]
            label = " (cache)" if "cached" in k else ""
            label += " python -S" if "nosite" in k else ""
            row(f"process: dump --name {res['type']}{label} vs btf_parse_bench --dump (ms)",
                pr[k], pr["c_dump"], ratio, f"<= {TARGETS['name_dump_ratio']}x",
                ratio <= TARGETS["name_dump_ratio"])
        for k in ("corepy_name", "corepy_name_cached"):
            net = pr[k]["min"] - pr["python_pass"]["min"]
            row(f"  {'cache, ' if 'cached' in k else ''}minus `python -c pass` (ms)", net,
                pr["c_dump"], net / pr["c_dump"]["min"], "", None)
    if "corepy_full" in pr and "bpftool_full" in pr:
        for k in ("corepy_full", "corepy_full_cached"):
            ratio = pr[k]["min"] / pr["bpftool_full"]["min"]
            row(f"process: full dump{' (cache)' if 'cached' in k else ''} vs bpftool (ms)",
                pr[k], pr["bpftool_full"], ratio, f"<= {TARGETS['full_dump_ratio']}x",
                ratio <= TARGETS["full_dump_ratio"])
    if "corepy_name" in rss and "c_dump" in rss:
        row("peak RSS: dump --name vs C (MB)", rss["corepy_name"] / 1024, rss["c_dump"] / 1024,
            rss["corepy_name"] / rss["c_dump"], "", None)
    if "corepy_full" in rss and "bpftool_full" in rss:
        row("peak RSS: full dump vs bpftool (MB)", rss["corepy_full"] / 1024,
            rss["bpftool_full"] / 1024, rss["corepy_full"] / rss["bpftool_full"], "", None)
    it: dict = res["importtime_ms"]  # type: ignore[assignment]
    row("import btf / corepy.cli, -X importtime (ms)", f"{it['btf']:.2f} / "
        f"{it['corepy.cli']:.2f}", "-", None, "", None)
    for k, v in res["checks"].items():  # type: ignore[attr-defined]
        row(f"check: {k}", v, "", None, "True", bool(v))
    return rows


if __name__ == "__main__":
    sys.exit(main())
