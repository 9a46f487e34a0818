"""Differential test against libbpf 1.1 (tests/oracle.py): same instructions, same decisions.

For every object x every target, corepy's final instruction bytes at each CO-RE site and its
decision (patched / poisoned / error / skipped) must equal what libbpf submitted and logged,
and each relocation's ``Fixup.log`` must be libbpf's whole debug log for it, line for line
(candidate search, spec, candidates, patch or failure lines).
libbpf stops at its first failing relocation, so when the whole-object run fails each main
program is also run alone (libbpf_relocate_per_program) to observe every other relocation.

Objects: fixtures/core/bpfel/prog__*.o, tests/engine/data/{engine,host}.bpfel.o and the
oracle's own test object. Targets: fixtures/core/bpfel/btf__*.o, the engine's targets, the
vmlinux BTFs in fixtures/kernels (decompressed to a temp file; libbpf reads raw BTF), the
host's /sys/kernel/btf/vmlinux, and each object's own BTF. ``COREPY_DIFF=quick`` keeps only
the family-matched pairs and the kernel targets (for a fast local loop); the default is the
full cross product (~2200 pairs, ~30 s on 2 cores).

bpfeb objects cannot be opened by libbpf on this little-endian host, so they are compared
with their bpfel twins (which are compared with libbpf) in test_bpfeb_matches_bpfel_twin:
identical decisions and values, except LSHIFT_U64 of bitfields, which corepy computes for
the *target's* byte order where libbpf uses the host's (a deliberate difference, see
docs/usage.md).
"""

from __future__ import annotations

import lzma
import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .conftest import DATA, ROOT, needs_calc

pytestmark = [needs_calc, pytest.mark.root]

FIX = ROOT / "fixtures" / "core"
KERNELS = ROOT / "fixtures" / "kernels"
SYS_VMLINUX = Path("/sys/kernel/btf/vmlinux")


def _oracle() -> Any:
    import oracle

    reason = oracle.oracle_unavailable_reason()
    if reason:
        pytest.skip(reason)
    return oracle


def objects(arch: str = "bpfel") -> list[Path]:
    objs = sorted((FIX / arch).glob("prog__*.o"))
    objs += [DATA / f"engine.{arch}.o", DATA / f"host.{arch}.o"]
    if arch == "bpfel":
        objs.append(ROOT / "tests" / "harness" / "testdata" / "oracle_progs.bpfel.o")
    return [o for o in objs if o.exists()]


def _kernel_targets(tmp: Path) -> list[Path]:
    import json

    out = []
    manifest = KERNELS / "manifest.json"
    if manifest.exists():
        for k in json.loads(manifest.read_text()):
            if "." in k["name"]:  # "<kernel>.<module>": split BTF, not a standalone target
                continue
            raw = tmp / f"{k['name']}.btf"
            if not raw.exists():
                raw.write_bytes(lzma.decompress((KERNELS / k["file"]).read_bytes()))
            out.append(raw)
    if SYS_VMLINUX.exists():
        out.append(SYS_VMLINUX)
    return out


def targets(tmp: Path, arch: str = "bpfel") -> list[Path]:
    t = sorted((FIX / arch).glob("btf__*.o")) + sorted(DATA.glob(f"engine_target*.{arch}.o"))
    return t + _kernel_targets(tmp)


def family(path: Path) -> str:
    """prog__arrays.o / btf__arrays___diff.o -> 'arrays'; engine*, host -> own family."""
    stem = path.name.split(".")[0]
    stem = stem.split("__", 1)[1] if "__" in stem else stem
    return stem.split("___")[0].removesuffix("_target")


def is_kernel(path: Path) -> bool:
    return path.suffix == ".btf" or path == SYS_VMLINUX


def pairs(tmp: Path) -> list[tuple[Path, Path]]:
    quick = os.environ.get("COREPY_DIFF") == "quick"
    out = []
    for o in objects():
        out.append((o, o))  # its own BTF as the target (see test_own_btf_invariant)
        for t in targets(tmp):
            if quick and not (is_kernel(t) or family(o).startswith(family(t))
                              or family(t).startswith(family(o))):
                continue
            out.append((o, t))
    return out


def options_for(libbpf_version: str) -> Any:
    """libbpf before 1.6 sized array-typed direct accesses by the whole array (see CoreOptions)."""
    from corepy.core.calc import CoreOptions

    major, minor = (int(x) for x in libbpf_version.lstrip("v").split(".")[:2])
    return CoreOptions(legacy_array_mem_size=(major, minor) < (1, 6))


@dataclass
class Tally:
    compared: int = 0
    bytes_compared: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    unobserved: int = 0
    logs_compared: int = 0
    failures: list[str] = field(default_factory=list)


_SPECS: dict[Path, Any] = {}


def _target_spec(path: Path) -> Any:
    from corepy.targets import load_btf

    if path not in _SPECS:
        _SPECS[path] = load_btf(path)
    return _SPECS[path]


_SEC_FOUND = re.compile(r"sec '([^']*)': found \d+ CO-RE relocations$")
_SEC_SKIP = re.compile(r"sec '([^']*)': skipping CO-RE relocation #(\d+) for insn ")
_RELO_LINE = re.compile(r"prog '[^']*': relo #(\d+): ")
# printed before the first "relo #N:" line of the relocation they belong to
_LEADING = re.compile(r"CO-RE relocating \[|prog '[^']*': relo for ")
# the first line after the CO-RE phase: another "prog 'P': ..." line, or the failure summary
_OTHER_STAGE = re.compile(r"prog '[^']*': (?!relo )|failed to perform CO-RE relocations")


def libbpf_relo_logs(log: Sequence[str]) -> dict[tuple[str, int], list[str]]:
    """libbpf's CO-RE log cut into each relocation's lines, by (section, relo index).

    A relocation's lines: its candidate search ("CO-RE relocating ..."), every
    "prog 'P': relo #N: ..." line, and the lines libbpf prints in between (warnings such as
    "prog 'P': relo 0 at insn #28 can't be satisfied for bitfield"); a skipped record's
    "skipping" line. The CO-RE phase ends at the first "prog 'P': ..." line that is not
    about a relocation (subprogram linking) or at "failed to perform CO-RE relocations".
    """
    out: dict[tuple[str, int], list[str]] = {}
    section: str | None = None
    current: list[str] | None = None
    pending: list[str] = []
    for raw in log:
        line = raw.lstrip(" ").removeprefix("libbpf: ")
        if m := _SEC_FOUND.match(line):
            section, current = m[1], None
        elif section is None:
            continue
        elif m := _SEC_SKIP.match(line):
            out[(m[1], int(m[2]))] = [line]
            current = None
        elif _LEADING.match(line):
            pending.append(line)
        elif m := _RELO_LINE.match(line):
            key = (section, int(m[1]))
            if key not in out:
                out[key], pending = pending, []
            current = out[key]
            current.append(line)
        elif _OTHER_STAGE.match(line):
            break
        elif current is not None:
            current.append(line)
    return out


def _libbpf_outcomes(oracle: Any, obj: Path, target: Path) -> tuple[Any, dict[Any, Any], list[Any]]:
    whole = oracle.libbpf_relocate(obj, target)
    runs = [whole]
    if not whole.ok:
        runs += list(oracle.libbpf_relocate_per_program(obj, target).values())
    seen: dict[tuple[str, int], Any] = {}
    for run in runs:
        for r in run.relocations:
            prev = seen.get((r.section, r.relo_index))
            if prev is None or prev.outcome == "unknown":
                seen[(r.section, r.relo_index)] = r
    return whole, seen, runs


def compare_pair(oracle: Any, obj: Path, target: Path, tally: Tally) -> None:
    from btf.errors import BTFError
    from corepy.api import relocate
    from corepy.errors import CorepyError

    whole, seen, runs = _libbpf_outcomes(oracle, obj, target)
    try:
        ours = relocate(obj, _target_spec(target), collect_errors=True,
                        options=options_for(whole.libbpf_version))
    except (BTFError, CorepyError) as exc:
        err = whole.error
        if err is None or err.relo is not None:
            tally.failures.append(f"{obj.name} x {target.name}: corepy refused ({exc}), "
                                  f"libbpf did not ({err})")
        return
    where = f"{obj.name} x {target.name}"
    if whole.ok and not ours.ok:
        tally.failures.append(f"{where}: libbpf loaded, corepy errors: "
                              f"{[f.message for f in ours.errors]}")
    if whole.error is not None and whole.error.relo is not None:
        fail = next((f for f in ours.fixups if (f.relo.section, f.relo.index) ==
                     (whole.error.section, whole.error.relo)), None)
        if fail is None or fail.outcome != "error":
            tally.failures.append(f"{where}: libbpf failed at sec '{whole.error.section}' relo "
                                  f"#{whole.error.relo}, corepy: {fail and fail.outcome}")
    whole_logs = libbpf_relo_logs(whole.log)
    for f in ours.fixups:
        t = seen.get((f.relo.section, f.relo.index))
        tag = f"{where} sec '{f.relo.section}' relo #{f.relo.index}"
        lines = whole_logs.get((f.relo.section, f.relo.index))
        if lines is not None:  # the whole-object run reached it: the same lines, all of them
            tally.logs_compared += 1
            if list(f.log) != lines:
                tally.failures.append(f"{tag}: log {list(f.log)} != libbpf's {lines}")
        if t is None or t.outcome == "unknown":
            tally.unobserved += 1
            continue
        tally.compared += 1
        tally.outcomes[f.outcome] += 1
        want = {"failed": "error"}.get(t.outcome, t.outcome)
        if f.outcome != want:
            tally.failures.append(f"{tag}: corepy {f.outcome} ({f.message}), libbpf "
                                  f"{t.outcome} ({t.messages or t.errors})")
            continue
        if f.outcome == "error":
            _compare_error_text(f, t, tag, tally)
            continue
        if f.outcome == "skipped":
            continue
        if t.insn_index is not None and t.insn_index != f.insn_idx:
            tally.failures.append(f"{tag}: insn #{f.insn_idx} vs libbpf #{t.insn_index}")
        for run in runs:
            if not run.ok:
                continue
            for prog, idx in run.final_sites(f.program, f.insn_idx):
                got = b"".join(run.insn(prog, idx + k) for k in range(len(f.after) // 8))
                tally.bytes_compared += 1
                if got != f.after:
                    tally.failures.append(f"{tag}: final insn {f.after.hex()} != libbpf's "
                                          f"{got.hex()} in prog '{prog}' #{idx}")
            break
        else:
            # no successful run submitted it: compare the logged value at least
            if f.outcome == "patched" and t.new_value is not None and f.result is not None:
                mask = (1 << 64) - 1
                if t.new_value & 0xFFFFFFFF != f.result.new_val & mask & 0xFFFFFFFF:
                    tally.failures.append(f"{tag}: new value {f.result.new_val} vs libbpf "
                                          f"{t.new_value}")


def _compare_error_text(f: Any, t: Any, tag: str, tally: Tally) -> None:
    """Patcher errors are worded like libbpf's: the line must appear in libbpf's log."""
    from corepy.patcher import PatchError

    if not isinstance(f.error, PatchError) or "register source" in (f.message or ""):
        return
    prefix = f"prog '{f.program}': relo #{f.relo.index}: "
    mine = (f.message or "").removeprefix(prefix)
    if mine not in t.messages:
        tally.failures.append(f"{tag}: corepy says {mine!r}, libbpf said {t.messages}")


def _run_pairs(oracle: Any, todo: list[tuple[Path, Path]]) -> Tally:
    tally = Tally()
    for t in {t for _, t in todo}:
        try:
            _target_spec(t)
        except Exception:  # noqa: BLE001 - reported per pair by compare_pair
            pass

    def one(pair: tuple[Path, Path]) -> Tally:
        sub = Tally()
        compare_pair(oracle, pair[0], pair[1], sub)
        return sub

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        for sub in pool.map(one, todo):
            tally.compared += sub.compared
            tally.bytes_compared += sub.bytes_compared
            tally.outcomes.update(sub.outcomes)
            tally.unobserved += sub.unobserved
            tally.logs_compared += sub.logs_compared
            tally.failures.extend(sub.failures)
    return tally


@pytest.fixture(scope="module")
def kernel_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kernels")


def _chunks() -> Iterator[str]:
    yield from (o.name for o in objects())


@pytest.mark.parametrize("obj_name", list(_chunks()))
def test_matches_libbpf(obj_name: str, kernel_tmp: Path) -> None:
    oracle = _oracle()
    todo = [(o, t) for o, t in pairs(kernel_tmp) if o.name == obj_name]
    tally = _run_pairs(oracle, todo)
    assert not tally.failures, "\n".join(tally.failures[:40])
    assert tally.compared > 0, f"no relocation of {obj_name} was observed in libbpf's log"
    assert tally.logs_compared > 0


def test_every_outcome_is_exercised(kernel_tmp: Path) -> None:
    """Guard against a vacuous pass: the family-matched pairs cover all four decisions."""
    oracle = _oracle()
    todo = [(o, t) for o, t in pairs(kernel_tmp)
            if family(o) == family(t) or (o.name.startswith("engine") and "engine" in t.name)]
    tally = _run_pairs(oracle, todo)
    assert not tally.failures, "\n".join(tally.failures[:40])
    assert tally.outcomes["patched"] > 100 and tally.outcomes["poisoned"] > 5
    assert tally.outcomes["error"] >= 3 and tally.bytes_compared > 100
    assert tally.logs_compared > 500


def _key(fix: Any, spec: Any) -> tuple[str, int, str, str]:
    return (fix.relo.section, fix.relo.kind, spec.name(fix.relo.type_id), fix.relo.access)


def _decisions(obj: Path, target: Path) -> Counter[tuple[Any, ...]]:
    from corepy.api import relocate
    from corepy.objfile import BPFObject

    o = BPFObject.open(obj)
    rel = relocate(o, _target_spec(target), collect_errors=True,
                   options=options_for("1.1"))
    assert o.btf is not None
    out: Counter[tuple[Any, ...]] = Counter()
    for f in rel.fixups:
        res = f.result
        value = None
        # LSHIFT_U64 of a bitfield depends on the byte order (corepy: the target's)
        if f.outcome == "patched" and res is not None and f.relo.kind != 4:
            value = res.new_val & ((1 << 64) - 1)
        out[(*_key(f, o.btf), f.outcome, value)] += 1
    return out


@pytest.mark.parametrize("obj_name", [o.name for o in objects("bpfeb")])
def test_bpfeb_matches_bpfel_twin(obj_name: str, kernel_tmp: Path) -> None:
    """bpfeb decisions equal the bpfel twin's (themselves equal to libbpf's above)."""
    eb = next(o for o in objects("bpfeb") if o.name == obj_name)
    el = Path(str(eb).replace("bpfeb", "bpfel"))
    checked = 0
    for t_el in targets(kernel_tmp, "bpfel"):
        if is_kernel(t_el):
            t_eb = t_el
        elif family(eb).startswith(family(t_el)) or family(t_el).startswith(family(eb)):
            t_eb = Path(str(t_el).replace("bpfel", "bpfeb"))
        else:
            continue
        if not t_eb.exists():
            continue
        a, b = _decisions(el, t_el), _decisions(eb, t_eb)
        # clang may emit different code (and so extra records) per byte order: compare the
        # keys present in both, each with its multiset of decisions
        common = {k[:4] for k in a} & {k[:4] for k in b}
        assert common
        for k in common:
            da = sorted((kk[4:], n) for kk, n in a.items() if kk[:4] == k)
            db = sorted((kk[4:], n) for kk, n in b.items() if kk[:4] == k)
            assert {x for x, _ in da} == {x for x, _ in db}, (obj_name, t_el.name, k, da, db)
        checked += 1
    assert checked


@pytest.mark.parametrize("arch", ["bpfel", "bpfeb"])
def test_own_btf_invariant(arch: str) -> None:
    """Relocated against its own BTF, an object keeps every instruction value...

    ...except where libbpf itself changes it (and test_matches_libbpf shows corepy does the
    same as libbpf on these very pairs): bitfield byte_sz / byte_off / lshift, which libbpf
    recomputes without validation and which clang may have chosen differently; FLOAT in
    type-based checks (libbpf: incompatible); objects defining local flavors (flavors,
    trace_task_file: ambiguous against themselves); an unsigned 32-bit enumerator >= 2**31
    (validation compares libbpf's sign-extended value with clang's zero-extended one).
    """
    from corepy.api import relocate
    from corepy.objfile import BPFObject

    libbpf_quirks = {"prog__bitfields_direct.o", "prog__bitfields_probed.o",
                     "prog__type_based.o", "prog__flavors.o", "prog__enumval_u32.o",
                     "prog__trace_exec.o", "prog__trace_skb.o", "prog__trace_task_file.o"}
    checked = 0
    for path in objects(arch):
        obj = BPFObject.open(path)
        assert obj.btf is not None
        rel = relocate(obj, obj.btf, collect_errors=True)
        changed = [f for f in rel.fixups if f.outcome != "patched" or f.before != f.after]
        if path.name in libbpf_quirks:
            continue
        assert not changed, (path, [(f.relo, f.outcome, f.message) for f in changed])
        checked += len(rel.fixups)
    assert checked > 250
