"""Compare corepy's calculation log with libbpf's, line by line (differential testing).

libbpf's debug log of a load contains, per CO-RE relocation, the candidate discovery lines,
the local spec, one line per candidate, "no matching targets found" and its failure lines.
:func:`corepy_lines` produces the same lines from :class:`corepy.core.CoreCalculator`
(``ReloResult.log`` / ``CoreRelocationError.log``); :func:`libbpf_lines` extracts them from
the oracle's log. Equal lists mean equal decisions *and* equal spec text.

Usable as a script: ``PYTHONPATH=. python3 tests/core/difflibbpf.py OBJECT TARGET [PROG...]
[--legacy]`` prints the differences (``--legacy``: libbpf < Feb 2025 load size rule).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from corepy.core import CoreCalculator, CoreOptions, CoreRelocationError, TargetBTF

_CALC = re.compile(
    r"^(CO-RE relocating \[|unexpected kind |prog '[^']*': relo for \[|"
    r"prog '[^']*': relo \d+ at insn #|"
    r"prog '[^']*': relo #\d+: (<|matching candidate|non-matching candidate|"
    r"no matching targets found|error matching candidate|field offset ambiguity|"
    r"relocation decision ambiguity|parsing \[|target candidate search failed|"
    r"failed to relocate|unrecognized CO-RE))"
)


def _oracle() -> Any:
    """tests/oracle.py, importable whether or not tests/ is on sys.path."""
    tests = str(Path(__file__).resolve().parents[1])
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import oracle

    return oracle


def libbpf_lines(log: Sequence[str]) -> list[str]:
    """The calculation lines of a libbpf debug log (prefix "libbpf: " removed)."""
    out = []
    for line in log:
        line = line.lstrip(" ")
        if line.startswith("libbpf: "):
            line = line[8:]
        line = line.rstrip("\n").rstrip(" ")
        if _CALC.match(line):
            out.append(line)
    return out


def _wanted(site: object, programs: Sequence[str] | None) -> bool:
    func = getattr(site, "function", None)
    if func is None:
        return False
    return programs is None or func.is_subprog or func.name in programs


def corepy_lines(obj_path: str | Path, target_path: str | Path,
                 options: CoreOptions | None = None,
                 programs: Sequence[str] | None = None,
                 stop_after: tuple[str, int] | None = None) -> list[str]:
    """The same lines from corepy, stopping at the first failing relocation as libbpf does.

    ``programs``: only relocations of these programs (and of ``.text`` subprograms), as
    libbpf does when the others are not autoloaded. ``stop_after``: (section, index) of a
    relocation after which libbpf stopped for a reason outside the calculation (its
    instruction patcher refused the instruction).
    """
    from corepy.api import open_object
    from corepy.targets import load_btf

    obj = open_object(str(obj_path))
    assert obj.btf is not None
    calc = CoreCalculator(obj.btf, TargetBTF("vmlinux", load_btf(str(target_path))),
                          options=options)
    out: list[str] = []
    for site in obj.sites:
        if not _wanted(site, programs):
            continue
        assert site.function is not None
        try:
            res = calc.calc(site.relo, site.function.name)
        except CoreRelocationError as exc:
            out.extend(exc.log)
            break
        out.extend(res.log)
        if stop_after == (site.relo.section, site.relo.index):
            break
    return out


def compare_values(obj_path: str | Path, target_path: str | Path, oracle_result: object,
                   options: CoreOptions | None = None,
                   programs: Sequence[str] | None = None) -> list[str]:
    """Problems found comparing corepy's values with what libbpf patched (empty: none).

    For every relocation libbpf processed: poisoned (by the calculation, or by a
    disallowed load/store size change on a memory instruction) vs the new value written;
    the load/store size change libbpf logged; failure vs success.
    """
    from corepy.api import open_object
    from corepy.targets import load_btf

    obj = open_object(str(obj_path))
    assert obj.btf is not None
    calc = CoreCalculator(obj.btf, TargetBTF("vmlinux", load_btf(str(target_path))),
                          options=options)
    theirs = {(r.section, r.relo_index): r for r in oracle_result.relocations}  # type: ignore[attr-defined]
    problems: list[str] = []
    for site in obj.sites:
        relo = site.relo
        key = (relo.section, relo.index)
        lb = theirs.get(key)
        if not _wanted(site, programs) or lb is None or lb.skipped:
            continue
        assert site.function is not None
        where = f"{relo.section} relo #{relo.index} ({relo.access}, kind {relo.kind})"
        try:
            res = calc.calc(relo, site.function.name)
        except CoreRelocationError as exc:
            if not lb.failed:
                problems.append(f"{where}: corepy fails ({exc}) but libbpf does not")
            break
        if lb.failed:
            # libbpf may fail in the patcher (validation, mem size): not our layer's call.
            if not any("failed to patch insn" in m for m in lb.messages + lb.errors):
                problems.append(f"{where}: libbpf fails the calculation, corepy does not")
            break
        code = obj.section_data(relo.section)[relo.insn_off]
        is_mem = code & 7 in (1, 2, 3)
        we_poison = res.poison or (res.fail_memsz_adjust and is_mem)
        if bool(lb.poisoned_insns) != we_poison:
            problems.append(f"{where}: libbpf {'poisons' if lb.poisoned_insns else 'patches'}, "
                            f"corepy {'poisons' if we_poison else 'patches'}")
            continue
        if we_poison:
            continue
        nv = lb.new_value
        if nv is not None and nv != res.new_val:
            problems.append(f"{where}: new value libbpf {nv}, corepy {res.new_val}")
        mem = [p for p in lb.patches if p.field == "mem_sz"]
        if is_mem and relo.kind == 0:
            if mem and (mem[0].old, mem[0].new) != (res.orig_sz, res.new_sz):
                problems.append(f"{where}: mem_sz libbpf {mem[0].old}->{mem[0].new}, corepy "
                                f"{res.orig_sz}->{res.new_sz}")
            if not mem and res.orig_sz != res.new_sz:
                problems.append(f"{where}: corepy changes mem size {res.orig_sz}->"
                                f"{res.new_sz}, libbpf does not")
    return problems


def diff_against_libbpf(obj_path: str | Path, target_path: str | Path,
                        options: CoreOptions | None = None,
                        programs: Sequence[str] | None = None) -> list[str]:
    """Run libbpf (the oracle) and corepy on one pair; the differences (empty: identical)."""
    import difflib

    libbpf_relocate = _oracle().libbpf_relocate

    res = libbpf_relocate(obj_path, target_path, only=list(programs or ()))
    stop = None
    err = res.error
    if err is not None and err.failure == "failed to patch insn" and err.section is not None \
            and err.relo is not None:
        stop = (err.section, err.relo)
    theirs = libbpf_lines(res.log)
    ours = corepy_lines(obj_path, target_path, options, programs, stop)
    problems = list(difflib.unified_diff(theirs, ours, "libbpf", "corepy", lineterm=""))
    problems += compare_values(obj_path, target_path, res, options, programs)
    return problems


def patch_string(obj_path: str | Path, old: str, new: str, out_path: str | Path) -> None:
    """Copy ``obj_path`` to ``out_path`` with string ``old`` of ``.BTF`` replaced by ``new``.

    Same length only (nothing moves), which is enough to feed libbpf and corepy odd access
    strings the compiler would never write.
    """
    import io
    import struct

    from elftools.elf.elffile import ELFFile

    if len(old) != len(new):
        raise ValueError("old and new must have the same length")
    data = bytearray(Path(obj_path).read_bytes())
    sec = ELFFile(io.BytesIO(bytes(data))).get_section_by_name(".BTF")
    off = sec["sh_offset"]
    blob = bytes(data[off : off + sec["sh_size"]])
    order = "<" if blob[:2] == b"\x9f\xeb" else ">"
    hdr_len, _to, _tl, str_off, str_len = struct.unpack_from(order + "5I", blob, 4)
    start = hdr_len + str_off
    i = blob.find(b"\0" + old.encode() + b"\0", start, start + str_len)
    if i < 0:
        raise ValueError(f"string {old!r} not in .BTF")
    data[off + i + 1 : off + i + 1 + len(old)] = new.encode()
    Path(out_path).write_bytes(bytes(data))


def main(argv: list[str]) -> int:
    args = [a for a in argv[1:] if not a.startswith("--")]
    legacy = "--legacy" in argv
    progs = args[2:] or None
    diff = diff_against_libbpf(args[0], args[1], CoreOptions(legacy_array_mem_size=legacy),
                               progs)
    print("\n".join(diff) if diff else "identical")
    return 1 if diff else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
