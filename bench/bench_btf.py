#!/usr/bin/env python3
"""Benchmark corepy's BTF layer against libbpf (bench/c) and bpftool, side by side.

Not a test: prints a table with PASS/MISS against the targets of issue 2 and writes the
"btf" part of bench/results.json. Everything is measured in one run with the Python and C
sides interleaved round by round, because this kind of machine drifts 5-30 % between
runs; compare the ratios, not the absolute numbers.

    python bench/bench_btf.py [--btf /sys/kernel/btf/vmlinux] [--type task_struct]
                              [--runs 15] [--json PATH] [--root DIR]

Measured:

* in process, Python worker vs the C harness (libbpf ``btf__parse`` +
  ``btf__find_by_name_kind`` + member walk, ``bench/c``), alternating: read + index +
  find + decode ``task_struct``, without the on-disk index cache (the ~25 ms scan) and
  with a warm one; decoding one struct cold; index memory (tracemalloc, and RSS growth vs
  libbpf's for one parsed BTF);
* whole processes, the installed ``corepy`` console script: ``corepy btf dump FILE --name
  task_struct`` vs ``btf_parse_bench --dump`` (same output) and the full ``corepy btf dump``
  vs ``bpftool btf dump file`` (byte-identical output), each without the index cache
  (``COREPY_BTF_CACHE=off``) and with a warm one, with ``python -c pass`` measured in the
  same run so ratios can be given raw and with the interpreter's start-up subtracted, and
  under ``python -S`` (no ``site``, so none of the sandbox's ``.pth`` hooks);
* ``import btf`` / ``import corepy.cli`` (``-X importtime``).

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
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
C_DIR = ROOT / "bench" / "c"
BUILD_DIR = Path(os.environ.get("COREPY_BUILD_DIR", "/tmp/corepy-build")) / "bench"
C_BENCH = BUILD_DIR / "btf_parse_bench"
SITE = sysconfig.get_path("purelib")

TARGETS = {
    "inproc_ratio": 2.5,  # index + find + decode vs btf__parse + btf__find_by_name_kind
    "decode_struct_ms": 0.5,
    "index_mem_mb": 15.0,
    "name_dump_ratio": 3.0,  # corepy btf dump --name vs btf_parse_bench --dump
    "full_dump_ratio": 2.5,  # corepy btf dump vs bpftool btf dump file
}

WORKER = r"""
import gc, json, sys, time, tracemalloc
path, name, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
cache_dir = sys.argv[4] if len(sys.argv) > 4 else None
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
del spec
def one(cache):
    t = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        data = f.readall()
    t1 = time.perf_counter()
    s = Spec(data, cache_dir=cache)
    t2 = time.perf_counter()
    (tid,) = s.find_by_name(name, Kind.STRUCT)
    t3 = time.perf_counter()
    ty = s.type(tid)
    n = sum(1 for m in ty.members if m.name is not None)
    t4 = time.perf_counter()
    s._decode(tid)
    t5 = time.perf_counter()
    return tid, n, (t1 - t, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t4 - t1, t4 - t)
keys = ("read", "index", "find", "decode", "decode_names_cached", "index_find_decode",
        "read_index_find_decode")
cold = {k: [] for k in keys}
warm = {k: [] for k in keys}
if cache_dir:
    one(cache_dir)  # writes the cache file
for _ in range(runs):
    tid, n, ts = one(None)
    for k, v in zip(keys, ts):
        cold[k].append(v * 1e3)
    if cache_dir:
        tid, n, ts = one(cache_dir)
        for k, v in zip(keys, ts):
            warm[k].append(v * 1e3)
out["cold_ms"] = cold
out["warm_cache_ms"] = warm
out["type_id"] = tid
out["members"] = n
gc.collect()
tracemalloc.start()
s = Spec(data)
cur, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
out["index_tracemalloc_bytes"] = cur
out["index_tracemalloc_peak_bytes"] = peak
print(json.dumps(out))
"""


def child_env(root: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(root) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                     else "")
    env.update(extra)
    return env


def console_script() -> str:
    """The installed ``corepy`` entry point (not a pyenv shim, which adds a bash start)."""
    for cand in (Path(sysconfig.get_path("scripts")) / "corepy",
                 Path(sys.executable).parent / "corepy"):
        if cand.is_file():
            return str(cand)
    found = shutil.which("corepy")
    if found is None:
        raise SystemExit("the corepy console script is not installed "
                         "(pip install -e . --config-settings editable_mode=compat)")
    return found


def build_c() -> str | None:
    """Build bench/c's harness; returns an error text when that is impossible."""
    if not (C_DIR / "Makefile").exists():
        return "bench/c is missing"
    r = subprocess.run(["make", "-s", "-C", str(C_DIR), f"BUILD_DIR={BUILD_DIR}"],
                       capture_output=True, text=True)
    if r.returncode or not C_BENCH.exists():
        return f"building bench/c failed: {r.stderr.strip()[-400:]}"
    return None


def run_proc(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, bytes]:
    """Wall seconds and stdout of one process run (raises if it fails)."""
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - t
    if p.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): "
                           f"{p.stderr.decode(errors='replace')[-500:]}")
    return wall, p.stdout


def interleaved(cmds: dict[str, tuple[list[str], dict[str, str] | None]], runs: int
                ) -> dict[str, dict[str, float]]:
    """Run every command once per repetition, ``runs`` times; min/median wall ms of each."""
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


def importtime(module: str, env: dict[str, str], root: Path) -> float:
    """Cumulative import time (ms) of ``module`` from ``-X importtime``."""
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                         env=env, capture_output=True, text=True, check=True, cwd=root).stderr
    for line in err.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1]) / 1e3
    return float("nan")


def ms(xs: list[float]) -> dict[str, float]:
    return {"min": min(xs), "median": statistics.median(xs)}


def inproc(btf_path: str, type_name: str, runs: int, env: dict[str, str], cache_dir: str,
           have_c: bool, root: Path) -> tuple[dict[str, object], dict[str, object] | None]:
    """Python worker and C harness, alternating in rounds; min/median over all samples."""
    rounds = max(1, min(5, runs))
    per = max(1, -(-runs // rounds))
    py_runs: list[dict[str, object]] = []
    c_runs: list[dict[str, object]] = []
    for _ in range(rounds):
        # cwd = root: ``python -c`` puts the working directory first on sys.path
        w = subprocess.run([sys.executable, "-c", WORKER, btf_path, type_name, str(per),
                            cache_dir], env=env, capture_output=True, text=True, cwd=root)
        if w.returncode:
            raise RuntimeError(f"in-process worker failed: {w.stderr[-800:]}")
        py_runs.append(json.loads(w.stdout))
        if have_c:
            cj = subprocess.run([str(C_BENCH), "-n", str(max(per, 10)), "--type", type_name,
                                 btf_path], capture_output=True, text=True, check=True).stdout
            c_runs.append(json.loads(cj))
    py: dict[str, object] = dict(py_runs[0])
    for part in ("cold_ms", "warm_cache_ms"):
        merged: dict[str, list[float]] = {}
        for r in py_runs:
            for k, v in r[part].items():  # type: ignore[attr-defined]
                merged.setdefault(k, []).extend(v)
        py[part] = {k: ms(v) for k, v in merged.items() if v}
    c: dict[str, object] | None = None
    if have_c:
        c = dict(c_runs[0])
        for k in ("total_us", "parse_us", "lookup_us"):
            c[k] = {"min": min(r[k]["min"] for r in c_runs),  # type: ignore[index]
                    "median": statistics.median(r[k]["median"] for r in c_runs)}  # type: ignore[index]
    return py, c


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--btf", default="/sys/kernel/btf/vmlinux", help="raw BTF file")
    ap.add_argument("--type", default="task_struct", help="struct to look up")
    ap.add_argument("--runs", type=int, default=15, help="repetitions of every measurement")
    ap.add_argument("--json", default=str(ROOT / "bench" / "results.json"),
                    help="results file (its \"btf\" key is replaced)")
    ap.add_argument("--root", default=str(ROOT), help="checkout whose btf/corepy to measure")
    args = ap.parse_args()
    root = Path(args.root).resolve()
    btf_path = args.btf
    if not Path(btf_path).exists():
        print(f"{btf_path} does not exist", file=sys.stderr)
        return 1
    env = child_env(root)
    env.pop("COREPY_BTF_CACHE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", "btf", "corepy"], cwd=root,
                   env=env, check=True)
    script = console_script()
    tmp = Path(tempfile.mkdtemp(prefix="corepy-bench-btf-"))
    cache_dir = str(tmp / "cache")
    env_off = child_env(root, COREPY_BTF_CACHE="off")
    env_warm = child_env(root, COREPY_BTF_CACHE=cache_dir)
    env_s = dict(env_off, PYTHONPATH=os.pathsep.join([str(root), SITE]))
    env_s_warm = dict(env_warm, PYTHONPATH=env_s["PYTHONPATH"])
    res: dict[str, object] = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "host": {"python": platform.python_version(), "machine": platform.machine(),
                 "kernel": platform.release(), "cpus": os.cpu_count()},
        "root": str(root), "console_script": script, "btf": btf_path,
        "btf_bytes": Path(btf_path).stat().st_size, "type": args.type, "runs": args.runs,
        "targets": TARGETS,
    }
    try:
        c_err = build_c()
        py, c = inproc(btf_path, args.type, args.runs, env, cache_dir, c_err is None, root)
        res["python_inproc"] = py
        res["libbpf_inproc"] = c if c is not None else {"error": c_err}

        name_cmd = [script, "btf", "dump", btf_path, "--name", args.type]
        full_cmd = [script, "btf", "dump", btf_path]
        cmds: dict[str, tuple[list[str], dict[str, str] | None]] = {
            "python_pass": ([sys.executable, "-c", "pass"], env_off),
            "python_S_pass": ([sys.executable, "-S", "-c", "pass"], env_s),
            "corepy_name": (name_cmd, env_off),
            "corepy_name_cache": (name_cmd, env_warm),
            "corepy_name_S": ([sys.executable, "-S", *name_cmd], env_s),
            "corepy_name_cache_S": ([sys.executable, "-S", *name_cmd], env_s_warm),
        }
        if c is not None:
            cmds["c_dump"] = ([str(C_BENCH), "--dump", "--type", args.type, btf_path], None)
        run_proc(name_cmd, env_warm)  # fill the cache
        procs = interleaved(cmds, args.runs)
        checks: dict[str, object] = {}
        if c is not None:
            checks["name_dump_output_equal"] = (run_proc(name_cmd, env_off)[1]
                                                == run_proc(cmds["c_dump"][0], None)[1])
        bpftool = shutil.which("bpftool")
        if bpftool:
            bt = [bpftool, "btf", "dump", "file", btf_path]
            procs.update(interleaved({
                "corepy_full": (full_cmd, env_off),
                "corepy_full_cache": (full_cmd, env_warm),
                "bpftool_full": (bt, None),
            }, max(3, args.runs // 3)))
            ha = hashlib.sha256(run_proc(full_cmd, env_off)[1]).hexdigest()
            hb = hashlib.sha256(run_proc(bt)[1]).hexdigest()
            checks["full_dump_output_equal"] = ha == hb
        res["processes_ms"] = procs
        res["checks"] = checks
        rss: dict[str, int] = {"corepy_name": max_rss(name_cmd, env_off),
                               "corepy_full": max_rss(full_cmd, env_off)}
        if c is not None:
            rss["c_dump"] = max_rss(cmds["c_dump"][0], None)
        if bpftool:
            rss["bpftool_full"] = max_rss([bpftool, "btf", "dump", "file", btf_path], None)
        res["processes_max_rss_kib"] = rss
        res["importtime_ms"] = {m: importtime(m, env, root)
                                for m in ("btf", "btf.spec", "corepy", "corepy.cli")}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    rows = table(res)
    res["table"] = rows
    path = Path(args.json)
    doc = json.loads(path.read_text()) if path.exists() else {}
    # keep the other script's part; drop anything else (the older flat format)
    doc = {k: v for k, v in doc.items() if k in ("relocate", "btf") and isinstance(v, dict)}
    doc["btf"] = res
    path.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"BTF: {btf_path} ({res['btf_bytes']} bytes, {py['types']} types); {args.runs} runs, "
          "interleaved; min (median) ms")
    print_table(rows)
    if c_err:
        print(f"note: {c_err}")
    print(f"written: {path} (key \"btf\")")
    return 0


def _fmt(d: object) -> str:
    if isinstance(d, dict):
        return f"{d['min']:.2f} ({d['median']:.2f})"
    return f"{d:.2f}" if isinstance(d, float) else str(d)


def table(res: dict[str, object]) -> list[list[str]]:
    """Rows: measure, corepy, reference, ratio (min/min), target, PASS/MISS."""
    py: dict = res["python_inproc"]  # type: ignore[assignment]
    c: dict = res["libbpf_inproc"]  # type: ignore[assignment]
    pr: dict = res["processes_ms"]  # type: ignore[assignment]
    rss: dict = res["processes_max_rss_kib"]  # type: ignore[assignment]
    rows = [["measure", "corepy", "reference", "ratio", "target", "result"]]

    def row(what: str, mine: object, ref: object = "-", ratio: float | None = None,
            target: str = "", ok: bool | None = None) -> None:
        rows.append([what, _fmt(mine), _fmt(ref), "-" if ratio is None else f"{ratio:.2f}x",
                     target, "-" if ok is None else ("PASS" if ok else "MISS")])

    has_c = "error" not in c
    t = res["type"]
    cp = ({"min": c["total_us"]["min"] / 1e3, "median": c["total_us"]["median"] / 1e3}
          if has_c else "n/a")
    cparse = ({"min": c["parse_us"]["min"] / 1e3, "median": c["parse_us"]["median"] / 1e3}
              if has_c else "n/a")
    lim = TARGETS["inproc_ratio"]
    for part, label in (("cold_ms", "no index cache"), ("warm_cache_ms", "warm index cache")):
        d = py.get(part) or {}
        if not d:
            continue
        row(f"in process, {label}: read file (ms)", d["read"])
        row(f"in process, {label}: index, Spec(data) (ms)", d["index"], cparse,
            d["index"]["min"] / cparse["min"] if has_c else None)  # type: ignore[index]
        row(f"in process, {label}: find_by_name({t}) (ms)", d["find"])
        for key, what in (("read_index_find_decode", "read+index+find+decode"),
                          ("index_find_decode", "index+find+decode (file already read)")):
            v = d[key]
            ratio = v["min"] / cp["min"] if has_c else None  # type: ignore[index]
            row(f"in process, {label}: {what} vs btf__parse+find (ms)", v, cp, ratio,
                f"<= {lim}x", None if ratio is None else ratio <= lim)
    dec = py["cold_ms"]["decode"]
    row(f"decode {t} cold (ms)", dec, "-", None, f"<= {TARGETS['decode_struct_ms']} ms",
        dec["min"] <= TARGETS["decode_struct_ms"])
    row(f"decode {t}, names cached (ms)", py["cold_ms"]["decode_names_cached"])
    mem = py["index_tracemalloc_bytes"] / 2**20
    row("index memory, tracemalloc (MB)", mem, "-", None,
        f"<= {TARGETS['index_mem_mb']:.0f} MB", mem <= TARGETS["index_mem_mb"])
    py_rss = (py["rss_index_kib"] - py["rss_before_kib"]) / 1024
    c_rss = c["rss_btf_delta_kib"] / 1024 if has_c else "n/a"
    row("RSS growth read+index vs libbpf's one parsed BTF (MB)", py_rss, c_rss,
        py_rss / c_rss if has_c else None, f"<= {TARGETS['index_mem_mb']:.0f} MB",  # type: ignore[operator]
        py_rss <= TARGETS["index_mem_mb"])
    row("process: python -c pass (ms)", pr["python_pass"])
    row("process: python -S -c pass (ms)", pr["python_S_pass"])
    lim = TARGETS["name_dump_ratio"]
    if "c_dump" in pr:
        ref = pr["c_dump"]
        for key, label, base in (
                ("corepy_name", "no cache", "python_pass"),
                ("corepy_name_cache", "warm cache", "python_pass"),
                ("corepy_name_S", "no cache, python -S", "python_S_pass"),
                ("corepy_name_cache_S", "warm cache, python -S", "python_S_pass")):
            mine = pr[key]
            ratio = mine["min"] / ref["min"]
            row(f"process: corepy btf dump --name {t}, {label} vs btf_parse_bench --dump (ms)",
                mine, ref, ratio, f"<= {lim}x", ratio <= lim)
            if base == "python_pass":
                net = mine["min"] - pr[base]["min"]
                row(f"  same minus `python -c pass` ({label})", net, ref, net / ref["min"],
                    f"<= {lim}x", net / ref["min"] <= lim)
    lim = TARGETS["full_dump_ratio"]
    if "bpftool_full" in pr:
        for key, label in (("corepy_full", "no cache"), ("corepy_full_cache", "warm cache")):
            ratio = pr[key]["min"] / pr["bpftool_full"]["min"]
            row(f"process: full corepy btf dump, {label} vs bpftool btf dump file (ms)",
                pr[key], pr["bpftool_full"], ratio, f"<= {lim}x", ratio <= lim)
    if "c_dump" in rss:
        row("peak RSS: dump --name vs C (MB)", rss["corepy_name"] / 1024, rss["c_dump"] / 1024,
            rss["corepy_name"] / rss["c_dump"])
    if "bpftool_full" in rss:
        row("peak RSS: full dump vs bpftool (MB)", rss["corepy_full"] / 1024,
            rss["bpftool_full"] / 1024, rss["corepy_full"] / rss["bpftool_full"])
    it: dict = res["importtime_ms"]  # type: ignore[assignment]
    row("import btf / corepy.cli, -X importtime (ms)",
        f"{it['btf']:.2f} / {it['corepy.cli']:.2f}")
    for k, v in res["checks"].items():  # type: ignore[attr-defined]
        row(f"check: {k}", v, "", None, "True", bool(v))
    return rows


def print_table(rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(str(x).ljust(w) for x, w in zip(r, widths, strict=True)).rstrip())


if __name__ == "__main__":
    sys.exit(main())
