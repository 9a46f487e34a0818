"""Apply one calculated CO-RE result to its instruction, by libbpf's rules.

This mirrors ``bpf_core_patch_insn``: what may be patched depends on the instruction
class, the compiler's value is validated first, poison replaces the instruction with a call
to the non-existent helper 0xbad2310 (both slots of an ``ld_imm64``), and every refusal
uses libbpf's wording so that a user can grep libbpf's sources or logs for it.

Comparisons follow C's conversions in libbpf: ``orig_val``/``new_val`` are u64, an
instruction's ``imm`` (s32) and ``off`` (s16) are sign-extended before comparing, and an
``ld_imm64`` value is composed unsigned from its two halves.
"""

from __future__ import annotations

from . import insn as I
from ._record import Frozen
from .errors import RelocationError
from .relo import ReloResult

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from typing import Literal

    Outcome = Literal["patched", "poisoned"]


def __getattr__(name: str) -> object:
    # ``Outcome`` is only needed by type checkers; build it on demand for anyone else.
    if name == "Outcome":
        from typing import Literal

        return Literal["patched", "poisoned"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_U64 = (1 << 64) - 1
_SHRT_MAX = 0x7FFF
EINVAL = 22
ERANGE = 34


class Patch(Frozen):
    """What patching did to one CO-RE site (``before``/``after``: 8 or 16 bytes).

    ``old_value``: the value found in the instruction before patching (imm, off or imm64),
    None if poisoned; ``log``: libbpf-style lines ("patched insn #3 (ALU/ALU64) imm 8 ->
    24", ...); ``reason``: why the patcher itself poisoned the instruction (memory-size
    rule), else None.
    """

    __slots__ = ("outcome", "before", "after", "old_value", "log", "reason")
    outcome: Outcome
    before: bytes
    after: bytes
    old_value: int | None
    log: tuple[str, ...]
    reason: str | None

    def __init__(self, outcome: Outcome, before: bytes, after: bytes, old_value: int | None,
                 log: tuple[str, ...], reason: str | None = None) -> None:
        _set = object.__setattr__
        _set(self, "outcome", outcome)
        _set(self, "before", before)
        _set(self, "after", after)
        _set(self, "old_value", old_value)
        _set(self, "log", log)
        _set(self, "reason", reason)


def _u64(v: int) -> int:
    return v & _U64


class PatchError(RelocationError):
    """libbpf would fail the load while patching this instruction.

    ``log``: libbpf's lines for the failure, its own (if any) and then ``failed to patch
    insn #N: -errno``.
    """

    def __init__(
        self,
        message: str,
        errno: int,
        *,
        section: str | None = None,
        index: int | None = None,
        insn_off: int | None = None,
        spec: str | None = None,
        log: list[str] | None = None,
    ) -> None:
        super().__init__(message, section=section, index=index, insn_off=insn_off, spec=spec,
                         log=log)
        self.errno = errno


def patch_insn(
    code: bytearray,
    idx: int,
    res: ReloResult,
    prog_name: str,
    byteorder: I.ByteOrder,
) -> Patch:
    """Patch instruction ``idx`` of ``code`` (one function's bytes) in place.

    ``idx`` counts 8-byte slots from the function's start. Raises :class:`PatchError`
    (a :class:`RelocationError`) with libbpf's message when libbpf would refuse.
    """
    relo = res.relo
    pfx = f"prog '{prog_name}': relo #{relo.index}: "
    n = len(code) // I.INSN_SIZE
    pos = idx * I.INSN_SIZE
    log: list[str] = []  # libbpf's lines so far

    def fail(msg: str | None, errno: int = EINVAL, detail: str | None = None) -> PatchError:
        """libbpf's line ``msg`` (None: it prints none), then its "failed to patch" line."""
        failed = f"{pfx}failed to patch insn #{idx}: -{errno}"
        lines = [failed] if msg is None else [pfx + msg, failed]
        message = lines[0] + (f" ({detail})" if detail else "")
        return PatchError(message, errno, section=relo.section, index=relo.index,
                          insn_off=relo.insn_off, spec=res.local_spec, log=[*log, *lines])

    if not 0 <= idx < n:
        raise fail(f"insn #{idx} is outside the program ({n} instructions)")
    ins = I.decode(code, pos, byteorder)
    width = 16 if ins.is_ld_imm64 and idx + 1 < n else 8
    before = bytes(code[pos : pos + width])

    if res.poison:
        return _poison(code, idx, n, ins, byteorder, pfx, before, None, ())

    orig, new = _u64(res.orig_val), _u64(res.new_val)
    cls = ins.cls
    if cls in (I.CLASS_ALU, I.CLASS_ALU64):
        if ins.source != I.SRC_K:
            raise fail(None, EINVAL, "ALU/ALU64 instruction with a register source has no "
                                     "immediate to relocate")
        got = _u64(ins.imm)
        if res.validate and got != orig:
            raise fail(f"unexpected insn #{idx} (ALU/ALU64) value: got {got}, exp {orig} -> {new}")
        code[pos : pos + 8] = I.encode(ins.with_(imm=new), byteorder)
        log.append(f"{pfx}patched insn #{idx} (ALU/ALU64) imm {got} -> {new}")
        old_value = ins.imm
    elif cls in (I.CLASS_LDX, I.CLASS_ST, I.CLASS_STX):
        got = _u64(ins.off)
        if res.validate and got != orig:
            raise fail(f"unexpected insn #{idx} (LDX/ST/STX) value: got {got}, exp {orig} -> {new}")
        if new > _SHRT_MAX:
            raise fail(f"insn #{idx} (LDX/ST/STX) value too big: {new}", ERANGE)
        if res.fail_memsz_adjust:
            msg = (
                f"{pfx}insn #{idx} (LDX/ST/STX) accesses field incorrectly. Make sure you are "
                "accessing pointers, unsigned integers, or fields of matching type and size."
            )
            reason = (
                f"the {res.orig_sz}-byte field is {res.new_sz} bytes on the target and this "
                "load cannot be resized safely (only pointers, unsigned integers or fields of "
                "matching size can); read it with BPF_CORE_READ into a variable of the "
                "target's size, or guard it with bpf_core_field_size()"
            )
            return _poison(code, idx, n, ins, byteorder, pfx, before, reason, (msg,))
        patched = ins.with_(off=new)
        log.append(f"{pfx}patched insn #{idx} (LDX/ST/STX) off {got} -> {new}")
        if res.new_sz != res.orig_sz:
            have = I.size_bytes(ins)
            if have != res.orig_sz:
                raise fail(f"insn #{idx} (LDX/ST/STX) unexpected mem size: got {have}, "
                           f"exp {res.orig_sz}")
            bits = I.size_bits_for(res.new_sz)
            if bits is None:
                raise fail(f"insn #{idx} (LDX/ST/STX) invalid new mem size: {res.new_sz}")
            patched = patched.with_(code=ins.mode | bits | ins.cls)
            log.append(f"{pfx}patched insn #{idx} (LDX/ST/STX) mem_sz {have} -> {res.new_sz}")
        code[pos : pos + 8] = I.encode(patched, byteorder)
        old_value = ins.off
    elif cls == I.CLASS_LD:
        hi = I.decode(code, pos + 8, byteorder) if idx + 1 < n else None
        if (
            not ins.is_ld_imm64
            or ins.src != 0
            or ins.off != 0
            or hi is None
            or hi.code != 0
            or hi.dst != 0
            or hi.src != 0
            or hi.off != 0
        ):
            raise fail(f"insn #{idx} (LDIMM64) has unexpected form")
        got = (ins.imm & 0xFFFFFFFF) | (hi.imm & 0xFFFFFFFF) << 32
        if res.validate and got != orig:
            raise fail(f"unexpected insn #{idx} (LDIMM64) value: got {got}, exp {orig} -> {new}")
        code[pos : pos + 8] = I.encode(ins.with_(imm=new & 0xFFFFFFFF), byteorder)
        code[pos + 8 : pos + 16] = I.encode(hi.with_(imm=new >> 32), byteorder)
        log.append(f"{pfx}patched insn #{idx} (LDIMM64) imm64 {got} -> {new}")
        old_value = got
    else:
        raise fail(
            f"trying to relocate unrecognized insn #{idx}, code:0x{ins.code:x}, "
            f"src:0x{ins.src:x}, dst:0x{ins.dst:x}, off:0x{ins.off & 0xFFFF:x}, "
            f"imm:0x{ins.imm & 0xFFFFFFFF:x}"
        )
    return Patch("patched", before, bytes(code[pos : pos + width]), old_value, tuple(log))


def _poison(
    code: bytearray,
    idx: int,
    n: int,
    ins: I.Insn,
    byteorder: I.ByteOrder,
    pfx: str,
    before: bytes,
    reason: str | None,
    log: tuple[str, ...],
) -> Patch:
    """Replace the instruction (and an ld_imm64's second slot, first) with the bad call."""
    pos = idx * I.INSN_SIZE
    bad = I.poison(byteorder)
    lines = list(log)
    width = 8
    if ins.is_ld_imm64 and idx + 1 < n:
        code[pos + 8 : pos + 16] = bad
        lines.append(f"{pfx}substituting insn #{idx + 1} w/ invalid insn")
        width = 16
    code[pos : pos + 8] = bad
    lines.append(f"{pfx}substituting insn #{idx} w/ invalid insn")
    return Patch("poisoned", before, bytes(code[pos : pos + width]), None, tuple(lines), reason)
