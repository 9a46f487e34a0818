"""libbpf as the reference: build libbpf_runner.c and run self-check objects through it.

libbpf relocates the object itself (against the running kernel, or a BTF file given with
--btf), so this proves the self-check objects and their expected inputs are right before
corepy is asked to produce the same relocations.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from . import selfcheck
from .kernels import cache_dir

SOURCE = Path(__file__).resolve().parent / "libbpf_runner.c"


class RunnerUnavailable(Exception):
    """gcc or the static libbpf is missing."""


def build_runner() -> Path:
    """Compile the runner once per source version (cached)."""
    src = SOURCE.read_bytes()
    out = cache_dir() / "bin" / f"libbpf_runner-{hashlib.sha256(src).hexdigest()[:12]}"
    if out.is_file():
        return out
    if shutil.which("gcc") is None:
        raise RunnerUnavailable("gcc not found (apt-get install gcc)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    res = subprocess.run(["gcc", "-O1", "-Wall", "-o", str(tmp), str(SOURCE),
                          "-l:libbpf.a", "-lelf", "-lz"], capture_output=True, text=True)
    if res.returncode != 0:
        raise RunnerUnavailable("cannot build libbpf_runner (apt-get install libbpf-dev "
                                f"libelf-dev zlib1g-dev): {res.stderr.strip()[-500:]}")
    tmp.rename(out)
    return out


def run_selfcheck(obj_path: Path, inputs_btf: str | Path,
                  relocate_btf: str | Path | None = None) -> dict[str, object]:
    """Load obj_path with libbpf on the host, fill inputs for inputs_btf, test-run it.

    relocate_btf makes libbpf relocate against that BTF instead of the running kernel's
    (a negative control when it is another kernel's). Returns selfcheck.summarize()'s dict
    plus 'runner_pid'.
    """
    runner = build_runner()
    obj_bytes = obj_path.read_bytes()
    job = selfcheck.job(obj_bytes, inputs_btf)
    args = [str(runner)]
    if relocate_btf is not None:
        args += ["--btf", str(relocate_btf)]
    args += ["--prepare", str(obj_path), str(job["prog"])]
    for sec, off, hexval in job["set"]:  # type: ignore[attr-defined]
        args.append(f"{sec}:{off}:{hexval}")
    for sec, off, what in job["set_proc"]:  # type: ignore[attr-defined]
        args.append(f"{sec}:{off}:@{what}")
    with tempfile.TemporaryDirectory() as tmp:
        res = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=tmp)
    try:
        data = json.loads(res.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"ok": False, "error": f"runner exit {res.returncode}", "log": res.stderr}
    if "error" in data:
        return {"ok": False, "error": data["error"], "log": res.stderr}
    out = selfcheck.summarize(obj_bytes, data)
    out["runner_pid"] = data["pid"]
    return out
