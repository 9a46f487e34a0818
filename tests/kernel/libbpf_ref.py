"""libbpf as the reference: build libbpf_runner.c and run self-check objects through it.

libbpf relocates the object itself (against the running kernel, or a BTF file given with
--btf), so this proves the self-check objects and their expected inputs are right before
corepy is asked to produce the same relocations.

relocate() also turns libbpf's relocation into an object file, the way corepy's writer
does (patched instructions, empty core_relo sub-section), so the Python loader and the QEMU
guests can run libbpf-relocated objects before corepy exists, and so corepy's output can be
compared with libbpf's byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

from . import selfcheck
from .kernels import cache_dir
from .selfcheck import bpfload

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
                          "-l:libbpf.a", "-lelf", "-lz", "-ldl"], capture_output=True, text=True)
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


class CaptureError(Exception):
    """libbpf did not relocate the program (its message is in the exception)."""


def relocate(obj_path: Path, btf: str | Path, prog: str = selfcheck.SELFCHECK_PROG) -> bytes:
    """The object with libbpf's CO-RE relocation for ``btf`` applied, as an ELF file.

    libbpf submits the main program followed by the .text subprograms it calls; every
    instruction is taken from that submission except the ones libbpf rewrites for loading
    rather than for CO-RE (ld_imm64 that carry an ELF relocation, i.e. map references, and
    bpf-to-bpf calls), which keep their original bytes. Supports programs that call at most
    one .text function (the self-check objects); anything else raises CaptureError.
    """
    runner = build_runner()
    with tempfile.TemporaryDirectory() as tmp:
        cap = Path(tmp) / "insns"
        res = subprocess.run([str(runner), "--btf", str(btf), "--capture", str(cap),
                              str(obj_path), prog], capture_output=True, text=True,
                             timeout=120, cwd=tmp)
        if res.returncode != 0 or not cap.is_file():
            raise CaptureError(f"libbpf: {res.stdout.strip()} {res.stderr.strip()[-2000:]}")
        insns = cap.read_bytes()
    data = bytearray(obj_path.read_bytes())
    obj = bpfload.Object.open(bytes(data), allow_core_relos=True)
    main = obj.sections[obj.programs[prog].sym.shndx]
    text = next((s for s in obj.sections if s.name == ".text"), None)
    layout = [(main, 0)]
    if len(insns) != main.size:
        text_funcs = [s for s in obj.symbols if text and s.shndx == text.index and s.type == 2]
        if text is None or len(insns) != main.size + text.size or len(text_funcs) != 1:
            raise CaptureError(f"unsupported layout: {len(insns)} bytes submitted for "
                               f"{main.size} in {main.name}")
        layout.append((text, main.size))
    for sec, base in layout:
        relocs = obj.relocs.get(sec.index, {})
        body = bytearray(sec.data)
        i = 0
        while i < sec.size:
            code, regs = body[i], body[i + 1]
            if code == 0x18:  # ld_imm64: libbpf's only if CO-RE, not if it was a map load
                if i not in relocs:
                    body[i:i + 16] = insns[base + i:base + i + 16]
                i += 16
                continue
            if not (code == 0x85 and regs >> 4 == 1):  # all but bpf-to-bpf calls
                body[i:i + 8] = insns[base + i:base + i + 8]
            i += 8
        data[sec.offset:sec.offset + sec.size] = body
    ext = next(s for s in obj.sections if s.name == ".BTF.ext")
    struct.pack_into("<I", data, ext.offset + 28, 0)  # core_relo_len: nothing left to do
    return bytes(data)
