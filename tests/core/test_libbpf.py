"""Differential tests: corepy's calculation against libbpf 1.1.2 itself (tests/oracle.py).

For each (object, target) pair libbpf loads the object with the target as
``btf_custom_path``; its debug log lines about the calculation (candidates, local spec,
each candidate's spec, no-match, failures) must equal ``ReloResult.log`` line for line,
and every value libbpf wrote (or its poisoning, or its load size change) must equal ours.
libbpf 1.1.2 predates the February 2025 load-size fix, so these runs use
``CoreOptions(legacy_array_mem_size=True)``; the one place where current libbpf differs
is asserted separately. Skipped where the oracle cannot run (needs root, gcc, libbpf-dev).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corepy.core import CoreOptions

from .difflibbpf import _oracle, diff_against_libbpf

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "fixtures" / "core"
LEGACY = CoreOptions(legacy_array_mem_size=True)

PROGS = ("fields", "direct", "bitfields", "types", "enums", "flavors")
ERR_PROGS = ("e_offset", "e_decision", "e_type_id", "e_deep", "e_bitfield", "e_array",
             "e_ptr_depth", "e_match_level")


@pytest.fixture(scope="module")
def oracle():  # type: ignore[no-untyped-def]
    mod = _oracle()
    reason = mod.oracle_unavailable_reason()
    if reason:
        pytest.skip(reason)
    return mod


@pytest.mark.parametrize("variant", ["same", "diff", "missing", "t32"])
@pytest.mark.parametrize("prog", PROGS)
def test_local_object(oracle, data_dir, variant, prog):
    d = data_dir / "bpfel"
    assert diff_against_libbpf(d / "local.o", d / f"target_{variant}.o", LEGACY, [prog]) == []


@pytest.mark.parametrize("prog", ERR_PROGS)
def test_errors_object(oracle, data_dir, prog):
    d = data_dir / "bpfel"
    assert diff_against_libbpf(d / "errors.o", d / "target_errs.o", LEGACY, [prog]) == []


def test_current_libbpf_load_size_rule_differs_only_where_expected(oracle, data_dir):
    d = data_dir / "bpfel"
    problems = diff_against_libbpf(d / "local.o", d / "target_diff.o", CoreOptions(),
                                   ["direct"])
    assert problems == ["raw_tp/direct relo #0 (0:4, kind 0): libbpf patches, corepy poisons"]


def _corpus_pairs() -> list[tuple[str, str]]:
    manifest = FIX / "manifest.json"
    if not manifest.exists():
        return []
    m = json.loads(manifest.read_text())
    pairs = []
    for obj, o in m["objects"].items():
        for case in o["cases"]:
            tgt = case["target"]
            if tgt != "-":
                pairs.append((obj, tgt))
    return pairs


@pytest.mark.parametrize("obj,target", _corpus_pairs())
def test_fixture_corpus(oracle, obj, target):
    tpath = FIX / target if target.startswith("kernel/") else FIX / "bpfel" / target
    assert diff_against_libbpf(FIX / "bpfel" / obj, tpath, LEGACY) == []


def test_harness_testdata(oracle):
    td = ROOT / "tests" / "harness" / "testdata"
    for target in ("oracle_target.btf", "oracle_target_ambig.bpfel.o"):
        assert diff_against_libbpf(td / "oracle_progs.bpfel.o", td / target, LEGACY) == []


# Access strings clang never writes, patched into local.o (same length): libbpf's parser
# quirks (white space and signs accepted, a leading colon or trailing blank refused) and
# its "captures type ... of unexpected kind" message.
PATCHES = [
    ("0:4:2", "0:6:0", "fields"),  # through a pointer: captures type ... ptr
    ("0:3:1", "0:9:0", "fields"),  # through an int
    ("0:4:2", ":04:2", "fields"),
    ("0:4:2", "0 4 2", "fields"),
    ("0:4:2", "+0:+4", "fields"),
    ("0:4:2", "0:4:9", "fields"),
    ("0:4:2", "0x4:2", "fields"),
    ("0:4:2", "0:04 ", "fields"),
    ("0:10", "0:1a", "fields"),
    ("0", "1", "types"),  # type-based relocations need exactly "0"
    ("1", "9", "enums"),  # enumerator index out of range
]


@pytest.mark.parametrize("old,new,prog", PATCHES)
def test_odd_access_strings(oracle, data_dir, tmp_path, old, new, prog):
    from .difflibbpf import patch_string

    d = data_dir / "bpfel"
    obj = tmp_path / "patched.o"
    patch_string(d / "local.o", old, new, obj)
    assert diff_against_libbpf(obj, d / "target_same.o", LEGACY, [prog]) == []
