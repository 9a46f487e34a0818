"""Mutated objects through the whole pipeline: read, calculate, patch, write, report.

The reader's own fuzz test (test_objfile.py) stops once an object parses; here a parsed
mutant goes on to :func:`corepy.relocate` against a target variant, ``to_bytes()`` and the
JSON report. Only corepy's and btf's own errors may escape, each one line, within a
per-example deadline. Derandomised for reproducible CI runs; ``COREPY_FUZZ_EXAMPLES`` scales
it (e.g. 5000) locally.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import corepy
from btf.errors import BTFError
from corepy.errors import CorepyError

CORE = Path(__file__).resolve().parents[2] / "fixtures" / "core"
PROGS = sorted(CORE.glob("bpfe*/prog__*.o"))
VARIANTS = sorted(CORE.glob("bpfe*/btf__*.o"))


def test_corpus_is_there() -> None:
    assert len(PROGS) >= 40 and len(VARIANTS) >= 100


EXAMPLES = max(250, int(os.environ.get("COREPY_FUZZ_EXAMPLES", "250")))


@settings(max_examples=EXAMPLES, deadline=timedelta(seconds=2), derandomize=EXAMPLES <= 250,
          database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_mutated_objects_relocate_or_fail_cleanly(data: st.DataObject) -> None:
    prog = data.draw(st.sampled_from(PROGS))
    # a variant of the same family and byte order, so matching code paths are reached
    family = prog.name.removeprefix("prog__").removesuffix(".o")
    same = [v for v in VARIANTS if v.parent == prog.parent
            and v.name.startswith(f"btf__{family}")] or VARIANTS
    target = data.draw(st.sampled_from(same))
    raw = bytearray(prog.read_bytes())
    if data.draw(st.booleans()):
        del raw[data.draw(st.integers(0, len(raw) - 1)):]
    else:
        for _ in range(data.draw(st.integers(1, 6))):
            pos = data.draw(st.integers(len(raw) // 2 if data.draw(st.booleans()) else 0,
                                        len(raw) - 1))
            raw[pos] = data.draw(st.integers(0, 255))
    try:
        rel = corepy.relocate(bytes(raw), target, collect_errors=True, target_cache=False)
        out = rel.to_bytes()
        json.dumps(rel.report())
    except (CorepyError, BTFError) as e:
        msg = str(e)
        assert msg and "\n" not in msg.strip(), msg
        event(type(e).__name__)
        return
    event(f"relocated: {len(rel.errors)} errors, {len(rel.poisoned)} poisoned")
    assert len(out) == len(raw)  # only instruction bytes and one length change
