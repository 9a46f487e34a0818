"""Speed: 100 relocations against an already-opened kernel BTF take well under 15 ms.

"Already opened" means the target Spec exists and has answered these name lookups before
(a previous object was relocated against it, as in a long-running process or a batch);
the calculator itself starts cold: new candidate cache, no per-object state. Timing is the
best of several runs, to keep a noisy machine from failing the test.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from corepy.core import CoreCalculator, CoreRelocationError, TargetBTF

from .conftest import Obj, load_obj

ROOT = Path(__file__).resolve().parents[2]
KERNEL = ROOT / "fixtures" / "kernels" / "debian-6.12-cloud-amd64.btf.xz"
PROGS = ["prog__trace_exec.o", "prog__trace_skb.o", "prog__trace_task_file.o",
         "prog__kernel.o"]


def _run(objs: list[Obj], target: TargetBTF) -> int:
    n = 0
    for o in objs:
        calc = CoreCalculator(o.btf, target)
        for relo, prog in o.relos:
            try:
                calc.calc(relo, prog)
            except CoreRelocationError:
                pass
            n += 1
    return n


def test_hundred_relocations_under_15ms():
    if not KERNEL.exists():
        pytest.skip(f"{KERNEL} missing")
    from btf.sources import load

    objs = [load_obj(ROOT / "fixtures" / "core" / "bpfel" / p) for p in PROGS]
    objs = [o for o in objs if o.relos]
    if not objs:
        pytest.skip("fixture programs missing")
    target = TargetBTF("vmlinux", load(KERNEL))
    n = _run(objs, target)  # first contact: decodes types, searches names
    best = min(_timed(objs, target) for _ in range(7))
    per_100 = best / n * 100
    assert per_100 < 15.0, f"{per_100:.2f} ms per 100 relocations ({n} relocations)"


def _timed(objs: list[Obj], target: TargetBTF) -> float:
    t = time.perf_counter()
    _run(objs, target)
    return (time.perf_counter() - t) * 1e3
