"""The report: schema, libbpf-formatted spec strings (checked against libbpf's log), text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from corepy.report import SCHEMA_VERSION, render_text

from .conftest import DATA, ENGINE, needs_calc

pytestmark = needs_calc
TARGET = DATA / "engine_target.bpfel.o"


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    from corepy.api import relocate

    return relocate(ENGINE["little"], TARGET, collect_errors=True).report()


def test_schema_top_level(doc: dict[str, Any]) -> None:
    assert doc["schema"] == SCHEMA_VERSION == 1
    assert doc["tool"]["name"] == "corepy" and doc["tool"]["version"]
    assert doc["target"] == {"source": str(TARGET), "modules_source": None, "modules_loaded": []}
    s = doc["summary"]
    assert s["relocations"] == len(doc["relocations"]) == 42
    assert s["patched"] + s["poisoned"] + s["errors"] + s["skipped"] == 42
    assert s["poisoned"] == 3 and s["ok"] is True
    json.dumps(doc)  # serialisable as is


def test_records(doc: dict[str, Any]) -> None:
    by = {(r["section"], r["index"]): r for r in doc["relocations"]}
    narrow = by[("tp_btf/sched_switch", 1)]
    assert narrow["kind"] == "byte_off" and narrow["mem_size"] == [4, 8]
    # r2 = *(u32 *)(r1 + 28) -> r2 = *(u64 *)(r1 + 56), little-endian bytes
    assert (narrow["insn_before"], narrow["insn"]) == ("61121c0000000000", "7912380000000000")
    enum = by[("raw_tp/sys_exit", 4)]
    assert enum["result"] == "poisoned" and len(bytes.fromhex(enum["insn"])) == 16
    assert enum["insn"] == "850000001023ad0b" * 2 and enum["new"] is None
    assert "bpf_core_enum_value_exists" in enum["action"]
    ldimm = by[("raw_tp/sys_exit", 3)]
    assert (ldimm["orig"], ldimm["new"]) == (1, 11)
    for r in doc["relocations"]:
        assert r["spec"].startswith(f"<{r['kind']}> [{r['type_id']}] ")
        assert len(bytes.fromhex(r["insn"])) in (8, 16)
        assert (r["action"] is None) == (r["result"] == "patched")


@pytest.fixture(scope="module")
def lib() -> Any:
    """libbpf 1.1's run of the same object and target (tests/oracle.py)."""
    import oracle

    reason = oracle.oracle_unavailable_reason()
    if reason:
        pytest.skip(reason)
    return oracle.libbpf_relocate(ENGINE["little"], TARGET)


@pytest.mark.root
def test_spec_strings_equal_libbpf_log(doc: dict[str, Any], lib: Any) -> None:
    assert lib.ok
    for r in doc["relocations"]:
        t = lib.relocation(r["section"], r["index"])
        assert r["spec"] == t.local_spec
        assert r["program"] == t.function
        mine = [(c["verdict"] == "match", c["spec"]) for c in r["candidates"]]
        theirs = [(c.matched, c.spec) for c in t.candidates]
        assert mine == theirs, (r["section"], r["index"])


def test_text(doc: dict[str, Any]) -> None:
    text = render_text(doc)
    assert text.startswith(f"object: {ENGINE['little']} (little-endian)\ntarget: {TARGET}\n")
    assert "42 CO-RE relocations: 39 patched, 3 poisoned, 0 errors" in text
    block = text.split("program 'prog_direct' (section tp_btf/sched_switch)\n")[1]
    assert block.startswith(
        "  relo #0 insn #1: <byte_off> [5] struct eng_s.in.y (0:3:1 @ offset 20)\n"
        "      => patched: 20 -> 40\n"
        "      match    vmlinux <byte_off> [1] struct eng_s.in.y (0:4:1 @ offset 40)\n"
        "  relo #1 insn #7: <byte_off> [5] struct eng_s.narrow (0:5 @ offset 28)\n"
        "      => patched: 28 -> 56, load size 4 -> 8 bytes\n")
    assert "=> POISONED (call 0xbad2310)" in block
    brief = render_text(doc, verbose=False)
    assert "match    vmlinux" not in brief


@pytest.mark.root
def test_log_lines_equal_libbpf_debug_log(doc: dict[str, Any], lib: Any) -> None:
    """Each relocation's log is libbpf's whole debug log for it, line for line."""
    from .test_libbpf_diff import libbpf_relo_logs

    theirs = libbpf_relo_logs(lib.log)
    mine = {(r["section"], r["index"]): r["log"] for r in doc["relocations"]}
    assert mine == theirs
    # candidate search, spec, candidate and patch/poison lines all take part
    lines = [ln for log in mine.values() for ln in log]
    for needle in ("found target candidate", "matching candidate #0", "patched insn",
                   "substituting insn", "no matching targets found"):
        assert any(needle in ln for ln in lines), needle
