"""Explain a relocation run: one record per CO-RE relocation, as JSON or as text.

The JSON layout is versioned (``"schema": 1``) and documented in docs/report-schema.md;
change it only compatibly (new keys), or bump the schema number. Spec strings use libbpf's
format including the ``<kind>`` prefix, so a record can be compared with libbpf's debug log
line for line.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from .relo import KIND_SHORT, ReloResult

if TYPE_CHECKING:
    from .api import Fixup, Relocation

SCHEMA_VERSION = 1


def kind_short(kind: int) -> str:
    return KIND_SHORT.get(kind, f"unknown({kind})")


def with_kind(spec: str | None, kind: int) -> str | None:
    """``spec`` with libbpf's ``<kind> `` prefix (added if the calculator left it off)."""
    if spec is None or spec.startswith("<"):
        return spec
    return f"<{kind_short(kind)}> {spec}"



def action_for(fix: Fixup) -> str | None:
    """One sentence telling a person what to do about a poisoned or failed relocation."""
    if fix.outcome == "poisoned":
        return fix.message
    if fix.outcome == "skipped":
        return fix.message
    if fix.outcome != "error":
        return None
    msg = fix.message or ""
    if "ambiguity" in msg:
        return ("the target has several matching definitions that disagree; libbpf refuses "
                "the object: make the local type's name or flavor (name___flavor) match only "
                "one of them")
    if "value too big" in msg:
        return ("on the target the field lies beyond the 32767-byte reach of a direct "
                "load/store offset: read it with BPF_CORE_READ()/bpf_core_read() so the offset "
                "is computed in a register")
    if "can't be satisfied for bitfield" in msg:
        return ("on the target this bitfield cannot be read with one load of at most 8 bytes: "
                "read the containing field instead, or guard the access")
    if "unexpected insn" in msg or "unexpected form" in msg or "unrecognized insn" in msg \
            or "mem size" in msg or "register source" in msg:
        return ("the instruction does not hold what the compiler recorded for this relocation "
                "(object modified after compilation, or relocated twice): rebuild the object "
                "from source")
    if "parsing" in msg or "unexpected kind" in msg or "anonymous" in msg:
        return ("the object's CO-RE record is malformed or unsupported: rebuild it with a "
                "current clang, and access named types only")
    return ("libbpf would refuse to load this object for this target: fix the access in the "
            "program or pick a target that has the type")


def _candidates(res: ReloResult | None) -> list[dict[str, Any]]:
    if res is None:
        return []
    kind = res.relo.kind
    return [
        {
            "btf": c.btf_name,
            "type_id": c.type_id,
            "spec": with_kind(c.spec, kind),
            "verdict": "match" if c.matched else "mismatch",
            "reason": c.reason,
        }
        for c in res.candidates
    ]


def _mem_size(fix: Fixup) -> list[int] | None:
    """[old, new] access width in bytes when the patch resized a load/store, else None."""
    res = fix.result
    if fix.outcome != "patched" or res is None or res.orig_sz == res.new_sz:
        return None
    if not any("mem_sz" in line for line in fix.log):
        return None
    return [res.orig_sz, res.new_sz]


def fixup_record(fix: Fixup) -> dict[str, Any]:
    relo, res = fix.relo, fix.result
    spec = res.local_spec if res is not None else None
    if spec is None and fix.error is not None:
        spec = fix.error.spec
    return {
        "program": fix.program,
        "section": relo.section,
        "index": relo.index,
        "insn_off": relo.insn_off,
        "insn_idx": fix.insn_idx,
        "kind": kind_short(relo.kind),
        "kind_id": relo.kind,
        "type_id": relo.type_id,
        "access": relo.access,
        "spec": with_kind(spec, relo.kind),
        "result": fix.outcome,
        "orig": res.orig_val if res is not None else None,
        "new": (res.new_val if res is not None and fix.outcome != "poisoned" else None),
        "found": fix.old_value,
        "mem_size": _mem_size(fix),
        "target_spec": with_kind(res.target_spec, relo.kind) if res is not None else None,
        "insn_before": fix.before.hex(),
        "insn": fix.insn.hex(),
        "candidates": _candidates(res),
        "message": fix.message,
        "action": action_for(fix),
        "log": list(fix.log),
    }


def build_report(rel: Relocation) -> dict[str, Any]:
    """The full report document (schema 1) for ``rel``."""
    from . import __version__

    obj = rel.object
    fixes = rel.fixups
    counts = {k: 0 for k in ("patched", "poisoned", "error", "skipped")}
    for f in fixes:
        counts[f.outcome] += 1
    tgt = rel.target
    return {
        "schema": SCHEMA_VERSION,
        "tool": {"name": "corepy", "version": __version__},
        "object": {
            "path": obj.source,
            "sha256": hashlib.sha256(obj.data).hexdigest(),
            "byteorder": obj.byteorder,
            "programs": [
                {"name": f.name, "section": f.section, "insn_off": f.start,
                 "insn_count": f.insn_count, "subprog": f.is_subprog}
                for f in obj.functions
            ],
        },
        "target": {
            "source": tgt.source if tgt is not None else None,
            "modules_source": tgt.module_source if tgt is not None else None,
            "modules_loaded": tgt.loaded_modules() if tgt is not None else [],
        },
        "summary": {
            "relocations": len(fixes),
            "patched": counts["patched"],
            "poisoned": counts["poisoned"],
            "errors": counts["error"],
            "skipped": counts["skipped"],
            "ok": rel.ok,
        },
        "warnings": list(rel.warnings),
        "relocations": [fixup_record(f) for f in fixes],
    }


# ---------------------------------------------------------------------------------- text

def _decision(rec: dict[str, Any]) -> str:
    r = rec["result"]
    if r == "patched":
        found = rec["found"]
        shown = rec["orig"] if found is None else found
        size = ""
        if rec.get("mem_size"):
            size = f", load size {rec['mem_size'][0]} -> {rec['mem_size'][1]} bytes"
        if rec["new"] == shown:
            return f"patched: {rec['new']} (unchanged){size}"
        return f"patched: {shown} -> {rec['new']}{size}"
    if r == "poisoned":
        return "POISONED (call 0xbad2310)"
    if r == "skipped":
        return "skipped"
    return "ERROR"


def render_text(doc: dict[str, Any], *, verbose: bool = True) -> str:
    """Human-readable explanation: grouped by program, one line per relocation."""
    out: list[str] = []
    obj, tgt, summ = doc["object"], doc["target"], doc["summary"]
    out.append(f"object: {obj['path']} ({obj['byteorder']}-endian)")
    line = f"target: {tgt['source']}"
    if tgt.get("modules_loaded"):
        line += f" + modules {', '.join(tgt['modules_loaded'])}"
    out.append(line)
    out.append(
        f"{summ['relocations']} CO-RE relocations: {summ['patched']} patched, "
        f"{summ['poisoned']} poisoned, {summ['errors']} errors"
        + (f", {summ['skipped']} skipped" if summ["skipped"] else "")
    )
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rec in doc["relocations"]:
        groups.setdefault((rec["program"] or "(no function)", rec["section"]), []).append(rec)
    for (prog, sec), recs in groups.items():
        out.append("")
        out.append(f"program '{prog}' (section {sec})")
        for rec in recs:
            spec = rec["spec"] or f"<{rec['kind']}> [{rec['type_id']}] {rec['access']}"
            out.append(f"  relo #{rec['index']} insn #{rec['insn_idx']}: {spec}")
            out.append(f"      => {_decision(rec)}")
            if verbose:
                for c in rec["candidates"]:
                    mark = "match   " if c["verdict"] == "match" else "mismatch"
                    why = f": {c['reason']}" if c.get("reason") else ""
                    out.append(f"      {mark} {c['btf']} {c['spec']}{why}")
            if rec["result"] == "error" and rec["message"]:
                out.append(f"      error: {rec['message']}")
            if rec["action"]:
                out.append(f"      what to do: {rec['action']}")
    if doc["warnings"]:
        out.append("")
        out.extend(f"warning: {w}" for w in doc["warnings"])
    return "\n".join(out) + "\n"
