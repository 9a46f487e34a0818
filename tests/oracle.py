"""libbpf as a test oracle: what libbpf 1.1 submits for an object relocated against a BTF.

libbpf is corepy's reference, byte for byte.  This module builds the C harness in
``tests/harness/libbpf_relo.c`` (statically linked against Debian's ``libbpf.a``), runs it on
an object and a target BTF, and turns its JSON into typed results:

* the instructions libbpf handed to ``BPF_PROG_LOAD`` for every program (8-byte words, main
  program first, then the appended ``.text`` subprograms, see :class:`Subprog`);
* one :class:`RelocOutcome` per CO-RE relocation, parsed from libbpf's debug log (patched,
  poisoned, failed, the spec strings and old/new values libbpf printed);
* libbpf's error when the load failed (which program, which relocation, the messages).

Only the CO-RE sites are comparable with corepy's output: libbpf also rewrites map
references with the fds of maps it created on the running kernel.

Stdlib only, so that it runs wherever the test suite runs.  Needs gcc, libbpf-dev (static
``libbpf.a`` and headers), libelf-dev, zlib1g-dev and a working ``bpf()`` (root): libbpf probes
kernel features and creates the object's maps for real.  Tests call
:func:`oracle_unavailable_reason` and skip with its message.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

HARNESS_DIR = Path(__file__).resolve().parent / "harness"
HARNESS_SRC = HARNESS_DIR / "libbpf_relo.c"
TESTDATA_DIR = HARNESS_DIR / "testdata"

#: ``imm`` of the call libbpf writes over an instruction it poisons (0xbad2310, "bad relo").
POISON_IMM = 195896080

_CFLAGS = ("-O2", "-g", "-Wall", "-Wextra", "-std=gnu11")
_TIMEOUT = 120.0


class OracleError(Exception):
    """The oracle could not be built or run (not: libbpf refused the object)."""


class OracleUnavailable(OracleError):
    """A prerequisite (gcc, libbpf-dev, bpf() permission) is missing on this machine."""


# --------------------------------------------------------------------------------------------
# building


def build_dir() -> Path:
    """Where the harness binary goes: ``$COREPY_BUILD_DIR/harness`` or a per-user temp dir."""
    env = os.environ.get("COREPY_BUILD_DIR")
    base = Path(env) if env else Path(tempfile.gettempdir()) / f"corepy-build-{os.getuid()}"
    return base / "harness"


def _compiler() -> str:
    cc = os.environ.get("CC") or "gcc"
    path = shutil.which(cc)
    if path is None:
        raise OracleUnavailable(f"C compiler {cc!r} not found (apt install gcc)")
    return path


def _find_lib(cc: str, name: str) -> Path | None:
    """Ask the compiler where a library is; it echoes the bare name when it does not know."""
    out = subprocess.run(
        [cc, f"-print-file-name={name}"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return Path(out) if out and os.path.isabs(out) and os.path.exists(out) else None


def _link_inputs(cc: str) -> list[str]:
    libbpf_a = _find_lib(cc, "libbpf.a")
    if libbpf_a is None:
        raise OracleUnavailable("static libbpf.a not found (apt install libbpf-dev)")
    missing = [
        pkg
        for lib, pkg in (("libelf.so", "libelf-dev"), ("libz.so", "zlib1g-dev"))
        if _find_lib(cc, lib) is None and _find_lib(cc, lib[:-3] + ".a") is None
    ]
    if missing:
        raise OracleUnavailable(f"missing link libraries (apt install {' '.join(missing)})")
    return ["-Wl,--wrap=syscall", str(libbpf_a), "-lelf", "-lz"]


def build_harness() -> Path:
    """Compile the harness unless an up-to-date binary exists; return its path.

    The binary name carries a hash of the source, flags and libbpf.a identity, so editing
    the C file or upgrading libbpf triggers a rebuild; the compiler writes a private temp file
    that is renamed into place, so concurrent test processes cannot see a half-written one.
    """
    cc = _compiler()
    link = _link_inputs(cc)
    source = HARNESS_SRC.read_bytes()
    h = hashlib.sha256(source)
    for part in (cc, *_CFLAGS, *link):
        h.update(b"\0" + part.encode())
    st = os.stat(link[1])
    h.update(f"\0{st.st_size}\0{st.st_mtime_ns}".encode())
    out_dir = build_dir()
    out = out_dir / f"libbpf_relo-{h.hexdigest()[:16]}"
    if out.exists():
        return out
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".libbpf_relo-", dir=out_dir)
    except OSError as exc:
        raise OracleUnavailable(f"cannot write the harness build directory: {exc}") from exc
    os.close(fd)
    try:
        proc = subprocess.run(
            [cc, *_CFLAGS, "-o", tmp, str(HARNESS_SRC), *link],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            hint = " (libbpf-dev headers missing?)" if "bpf/" in tail else ""
            raise OracleUnavailable(f"building the libbpf harness failed{hint}:\n{tail}")
        os.replace(tmp, out)
        for stale in out_dir.glob("libbpf_relo-*"):  # older builds of the harness
            if stale != out:
                stale.unlink(missing_ok=True)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


@functools.cache
def oracle_unavailable_reason() -> str | None:
    """None when the oracle works here, else a sentence suitable for ``pytest.skip``."""
    try:
        exe = build_harness()
    except OracleUnavailable as exc:
        return str(exc)
    proc = subprocess.run(
        [str(exe), "--check"], capture_output=True, text=True, check=False, timeout=_TIMEOUT
    )
    try:
        check = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return f"libbpf harness --check failed: {proc.stderr.strip() or proc.returncode}"
    if check.get("bpf_syscall") is not True:
        err = check.get("errno")
        return (
            f"bpf() does not work here (errno {err}: {os.strerror(err) if err else '?'}); "
            "the libbpf oracle needs root and a kernel with BPF"
        )
    return None


# --------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class Function:
    """A function libbpf found in an executable section (main program or subprogram)."""

    section: str
    name: str
    sec_insn_off: int  # first instruction, counted in 8-byte slots from the section start
    insn_count: int


@dataclass(frozen=True)
class Subprog:
    """A subprogram libbpf appended to a main program, and where its copy starts."""

    name: str
    insn_off: int  # index in the submitted program
    insn_count: int


@dataclass(frozen=True)
class FuncInfo:
    """One ``func_info`` record as submitted (instruction index, BTF FUNC id and name)."""

    insn_off: int
    type_id: int
    name: str | None


@dataclass(frozen=True)
class OracleProgram:
    """One main program and, when libbpf got to loading it, what it submitted."""

    name: str
    section: str
    autoload: bool
    # True: insns are what BPF_PROG_LOAD received.  False with insns_source
    # "after_failed_load": another program failed to load after all relocations were done,
    # and insns is libbpf's relocated buffer for this one (bpf_program__insns()).
    submitted: bool
    insns_source: Literal["submitted", "after_failed_load"] | None
    sec_insn_off: int | None
    orig_insn_count: int | None
    insns: tuple[bytes, ...]  # 8-byte words, host (little-endian) order
    subprogs: tuple[Subprog, ...]
    func_info: tuple[FuncInfo, ...]
    prog_type: int | None
    expected_attach_type: int | None
    attach_btf_id: int | None
    license: str | None

    def offset_of(self, function: str) -> int | None:
        """Index in :attr:`insns` where ``function``'s code starts (None: not included)."""
        if function == self.name:
            return 0
        for sub in self.subprogs:
            if sub.name == function:
                return sub.insn_off
        return None


@dataclass(frozen=True)
class InsnPatch:
    """A "patched insn" debug line: which part of which instruction changed."""

    insn: int  # index within the function libbpf named (before subprogram appending)
    kind: Literal["ALU/ALU64", "LDX/ST/STX", "LDIMM64"]
    field: Literal["imm", "off", "mem_sz", "imm64"]
    old: int  # as libbpf printed it: unsigned
    new: int


@dataclass(frozen=True)
class Candidate:
    """A "(non-)matching candidate #i <spec>" line."""

    index: int
    matched: bool
    spec: str


Outcome = Literal["patched", "poisoned", "failed", "skipped", "unknown"]


@dataclass
class RelocOutcome:
    """What libbpf's debug log says about one CO-RE relocation.

    ``relo_index`` counts within the ``.BTF.ext`` core_relo list of ``section``; ``function``
    is the name libbpf printed as ``prog '...'`` (the subprogram itself for ``.text`` code);
    instruction indexes are relative to that function's first instruction.
    """

    section: str
    relo_index: int
    function: str | None = None
    local_spec: str | None = None
    # "[id] kind name in [obj]"; libbpf caches candidates per local type and logs them only
    # for the first relocation of that type
    target_candidates: list[str] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    no_match: bool = False
    patches: list[InsnPatch] = field(default_factory=list)
    poisoned_insns: list[int] = field(default_factory=list)
    failed: bool = False
    errno: int | None = None
    skipped: bool = False
    skipped_insn: int | None = None
    messages: list[str] = field(default_factory=list)  # every other line about this relo
    errors: list[str] = field(default_factory=list)  # those of them logged as warnings

    @property
    def outcome(self) -> Outcome:
        if self.failed:
            return "failed"
        if self.skipped:
            return "skipped"
        if self.poisoned_insns:
            return "poisoned"
        if self.patches:
            return "patched"
        return "unknown"

    @property
    def insn_index(self) -> int | None:
        """First instruction this relocation touched (LD_IMM64 poison logs slot 1 first)."""
        idx = [p.insn for p in self.patches] + self.poisoned_insns
        if self.skipped_insn is not None:
            idx.append(self.skipped_insn)
        return min(idx) if idx else None

    @property
    def new_value(self) -> int | None:
        """The value written into imm/off/imm64 (not mem_sz), None if none was."""
        for p in self.patches:
            if p.field != "mem_sz":
                return p.new
        return None

    @property
    def old_value(self) -> int | None:
        for p in self.patches:
            if p.field != "mem_sz":
                return p.old
        return None


@dataclass(frozen=True)
class LoadError:
    """Why ``bpf_object__open``/``load`` failed, with libbpf's failing relocation if any."""

    stage: str  # "open", "load" or "capture"
    errno: int
    strerror: str
    # The first "prog 'P': relo #N: failed to relocate|failed to patch insn" line, or else
    # "prog 'P': failed to load" (then relo is None): P, its section, N, libbpf's code.
    program: str | None
    section: str | None
    relo: int | None
    libbpf_err: int | None
    failure: str | None  # "failed to relocate", "failed to patch insn", "failed to load"
    message: str  # all libbpf warning lines, newline separated


@dataclass(frozen=True)
class MapInfo:
    name: str
    type: int
    fd: int


@dataclass
class OracleResult:
    """Everything the harness reported for one (object, target BTF) pair."""

    libbpf_version: str
    functions: tuple[Function, ...]
    programs: dict[str, OracleProgram]
    relocations: list[RelocOutcome]
    core_relo_counts: dict[str, int]  # section -> "found N CO-RE relocations"
    maps: tuple[MapInfo, ...]
    error: LoadError | None
    warnings: tuple[str, ...]
    log: tuple[str, ...]
    raw: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.error is None

    def relocation(self, section: str, relo_index: int) -> RelocOutcome:
        for r in self.relocations:
            if r.section == section and r.relo_index == relo_index:
                return r
        raise KeyError((section, relo_index))

    def relocations_of(self, function: str) -> list[RelocOutcome]:
        return [r for r in self.relocations if r.function == function]

    def function(self, name: str) -> Function:
        for f in self.functions:
            if f.name == name:
                return f
        raise KeyError(name)

    def sec_insn_index(self, reloc: RelocOutcome) -> int | None:
        """Index of the relocated instruction counted from its ELF section's start."""
        if reloc.function is None or reloc.insn_index is None:
            return None
        return self.function(reloc.function).sec_insn_off + reloc.insn_index

    def final_sites(self, function: str, insn: int) -> list[tuple[str, int]]:
        """Every (program, index in its submitted insns) holding ``function``'s insn ``insn``."""
        sites = []
        for prog in self.programs.values():
            off = prog.offset_of(function) if prog.insns else None
            if off is not None:
                sites.append((prog.name, off + insn))
        return sites

    def insn(self, program: str, index: int) -> bytes:
        return self.programs[program].insns[index]


def decode_insn(word: bytes) -> tuple[int, int, int, int, int]:
    """(code, dst_reg, src_reg, off, imm) of a little-endian 8-byte instruction."""
    code, regs, off, imm = struct.unpack("<BBhi", word)
    return code, regs & 0x0F, regs >> 4, off, imm


# --------------------------------------------------------------------------------------------
# log parsing

_SEC_CORE = re.compile(r"sec '([^']*)': found (\d+) CO-RE relocations$")
_SEC_SKIP = re.compile(
    r"sec '([^']*)': skipping CO-RE relocation #(\d+) for insn #(\d+) belonging to "
    r"eliminated weak subprogram$"
)
_CAND = re.compile(r"CO-RE relocating \[\d+\] .*: found target candidate (\[\d+\] .*)$")
_RELO = re.compile(r"prog '([^']*)': relo #(\d+): (.*)$")
_RELO_NOHASH = re.compile(r"prog '([^']*)': relo \d+ at insn #\d+ ")
_UNEXPECTED_KIND = re.compile(r"unexpected kind \S+ relocated, local \[\d+\], target \[\d+\]$")
_RELO_OTHER = re.compile(r"prog '([^']*)': relo for (.*)$")
_MATCH = re.compile(r"(matching|non-matching) candidate #(\d+) (.*)$")
_PATCHED = re.compile(
    r"patched insn #(\d+) \((ALU/ALU64|LDX/ST/STX|LDIMM64)\) (imm|off|mem_sz|imm64) "
    r"(\d+) -> (\d+)$"
)
_POISON = re.compile(r"substituting insn #(\d+) w/ invalid insn$")
_FAILED = re.compile(r"failed to relocate: (-?\d+)$")
_FAILED_PATCH = re.compile(r"failed to patch insn #(\d+): (-?\d+)$")


def _strip(line: str) -> str:
    # libbpf 1.1's "error matching candidate" format ends in "\n ": the next line starts
    # with a space before its "libbpf: " prefix.
    line = line.lstrip(" ")
    return line[8:] if line.startswith("libbpf: ") else line


def parse_core_log(
    log: Sequence[str], warnings: Sequence[str] = ()
) -> tuple[list[RelocOutcome], dict[str, int]]:
    """Group libbpf's CO-RE debug lines by relocation (section, index), in log order."""
    warn = set(warnings)
    relos: dict[tuple[str, int], RelocOutcome] = {}
    counts: dict[str, int] = {}
    section: str | None = None
    pending_cands: list[str] = []
    pending_msgs: list[tuple[str, bool]] = []  # lines printed before their relo's first
    last: RelocOutcome | None = None

    def get(fn: str | None, idx: int) -> RelocOutcome:
        key = (section or "?", idx)
        r = relos.get(key)
        if r is None:
            r = relos[key] = RelocOutcome(section=key[0], relo_index=idx, function=fn)
            r.target_candidates.extend(pending_cands)
            pending_cands.clear()
            for msg, is_warn in pending_msgs:
                r.messages.append(msg)
                if is_warn:
                    r.errors.append(msg)
            pending_msgs.clear()
        return r

    for raw_line in log:
        line = _strip(raw_line)
        is_warn = raw_line in warn
        if m := _SEC_CORE.match(line):
            section = m[1]
            counts[section] = int(m[2])
            continue
        if m := _SEC_SKIP.match(line):
            section = m[1]
            r = get(None, int(m[2]))
            r.skipped, r.skipped_insn = True, int(m[3])
            continue
        if m := _CAND.match(line):
            pending_cands.append(m[1])
            continue
        if _RELO_NOHASH.match(line):
            # "relo <kind> at insn #<section-relative index> ...": about the current relo
            if last is not None:
                last.messages.append(line)
                if is_warn:
                    last.errors.append(line)
            else:
                pending_msgs.append((line, is_warn))
            continue
        if _UNEXPECTED_KIND.match(line):
            # logged while matching a candidate of the relocation being processed
            if last is not None:
                last.messages.append(line)
                if is_warn:
                    last.errors.append(line)
            continue
        if m := _RELO_OTHER.match(line):
            pending_msgs.append((line, is_warn))
            continue
        m = _RELO.match(line)
        if m is None:
            continue
        r = last = get(m[1], int(m[2]))
        rest = m[3]
        if mm := _MATCH.match(rest):
            r.candidates.append(Candidate(int(mm[2]), mm[1] == "matching", mm[3]))
        elif rest == "no matching targets found":
            r.no_match = True
        elif mm := _PATCHED.match(rest):
            kind: Any = mm[2]
            fld: Any = mm[3]
            r.patches.append(InsnPatch(int(mm[1]), kind, fld, int(mm[4]), int(mm[5])))
        elif mm := _POISON.match(rest):
            r.poisoned_insns.append(int(mm[1]))
        elif mm := _FAILED.match(rest):
            r.failed, r.errno = True, -int(mm[1])
        elif mm := _FAILED_PATCH.match(rest):
            r.failed, r.errno = True, -int(mm[2])
            r.messages.append(rest)
        elif rest.startswith("<") and r.local_spec is None and not r.candidates:
            r.local_spec = rest
        else:
            r.messages.append(rest)
            if is_warn:
                r.errors.append(rest)
    return list(relos.values()), counts


# --------------------------------------------------------------------------------------------
# running


def _program(d: dict[str, Any]) -> OracleProgram:
    hexs = d.get("insns_hex") or ""
    data = bytes.fromhex(hexs)
    return OracleProgram(
        name=d["name"],
        section=d["section"],
        autoload=bool(d["autoload"]),
        submitted=bool(d["submitted"]),
        insns_source=d.get("insns_source"),
        sec_insn_off=d.get("sec_insn_off"),
        orig_insn_count=d.get("orig_insn_count"),
        insns=tuple(data[i : i + 8] for i in range(0, len(data), 8)),
        subprogs=tuple(
            Subprog(s["name"], s["insn_off"], s["insn_count"]) for s in d.get("subprogs", ())
        ),
        func_info=tuple(
            FuncInfo(f["insn_off"], f["type_id"], f["name"]) for f in d.get("func_info", ())
        ),
        prog_type=d.get("prog_type"),
        expected_attach_type=d.get("expected_attach_type"),
        attach_btf_id=d.get("attach_btf_id"),
        license=d.get("license"),
    )


def result_from_json(doc: dict[str, Any]) -> OracleResult:
    """Build an :class:`OracleResult` from the harness's JSON document."""
    log = tuple(doc["log"])
    warnings = tuple(doc["warnings"])
    relocs, counts = parse_core_log(log, warnings)
    err = doc.get("error")
    return OracleResult(
        libbpf_version=doc["libbpf_version"],
        functions=tuple(
            Function(f["section"], f["name"], f["sec_insn_off"], f["insn_count"])
            for f in doc["functions"]
        ),
        programs={p["name"]: _program(p) for p in doc["programs"]},
        relocations=relocs,
        core_relo_counts=counts,
        maps=tuple(MapInfo(m["name"], m["type"], m["fd"]) for m in doc["maps"]),
        error=None if err is None else LoadError(**err),
        warnings=warnings,
        log=log,
        raw=doc,
    )


def libbpf_relocate(
    obj_path: str | os.PathLike[str],
    target_btf_path: str | os.PathLike[str] | None,
    only: Sequence[str] = (),
    timeout: float = _TIMEOUT,
) -> OracleResult:
    """Open ``obj_path`` with libbpf, relocate against ``target_btf_path``, capture the load.

    ``target_btf_path`` is a raw BTF file or an ELF with ``.BTF`` (None: the running
    kernel's BTF).  ``only`` restricts loading to those programs (others get autoload off;
    libbpf still relocates every ``.text`` subprogram).  libbpf refusing the object is *not*
    an exception: see :attr:`OracleResult.error`.  Raises :class:`OracleUnavailable` when the
    harness cannot be built, :class:`OracleError` when it cannot run.
    """
    exe = build_harness()
    args = [str(exe)]
    for name in only:
        args += ["--only", name]
    # After "--" only a bare "-" is special (no btf_custom_path).
    target = "-" if target_btf_path is None else os.fspath(target_btf_path)
    if target_btf_path is not None and target == "-":
        target = "./-"
    args += ["--", os.fspath(obj_path), target]
    try:
        proc = subprocess.run(args, capture_output=True, check=False, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise OracleError(f"libbpf harness timed out after {timeout} s: {args}") from exc
    if proc.returncode != 0:
        raise OracleError(
            f"libbpf harness exited with {proc.returncode}: "
            f"{proc.stderr.decode(errors='replace').strip()}"
        )
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise OracleError(f"libbpf harness printed invalid JSON: {exc}") from exc
    return result_from_json(doc)


def libbpf_relocate_per_program(
    obj_path: str | os.PathLike[str],
    target_btf_path: str | os.PathLike[str] | None,
    programs: Sequence[str] | None = None,
) -> dict[str, OracleResult]:
    """One isolated libbpf run per main program, so one failing program hides no other.

    libbpf stops at its first failing relocation for the whole object; loading each
    program alone shows every program's own outcome.  A failing relocation in a ``.text``
    subprogram still fails every run, exactly as it does in libbpf.
    """
    if programs is None:
        programs = list(libbpf_relocate(obj_path, target_btf_path, only=()).programs)
    return {p: libbpf_relocate(obj_path, target_btf_path, only=[p]) for p in programs}


def iter_words(data: bytes) -> Iterator[bytes]:
    """Split a section's bytes into 8-byte instruction words."""
    for i in range(0, len(data) - len(data) % 8, 8):
        yield data[i : i + 8]
