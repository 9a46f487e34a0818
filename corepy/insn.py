"""BPF instructions: decode and encode one 8-byte slot in either byte order.

A slot is ``code`` (u8), a register byte, ``off`` (s16) and ``imm`` (s32). The multi-byte
fields follow the object's byte order, and so does the register byte: on little-endian
targets ``dst_reg`` is the low nibble, on big-endian targets it is the high nibble (the C
bitfield order of ``struct bpf_insn`` flips with the ABI). Getting that wrong silently
swaps registers on s390x, so every function here takes the byte order explicitly.
"""

from __future__ import annotations

import struct

from ._record import Frozen

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from typing import Literal

    ByteOrder = Literal["little", "big"]


def __getattr__(name: str) -> object:
    # ``ByteOrder`` is only needed by type checkers; build it on demand for anyone else.
    if name == "ByteOrder":
        from typing import Literal

        return Literal["little", "big"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


INSN_SIZE = 8

# Instruction classes (code & 0x07).
CLASS_LD = 0x00
CLASS_LDX = 0x01
CLASS_ST = 0x02
CLASS_STX = 0x03
CLASS_ALU = 0x04
CLASS_JMP = 0x05
CLASS_JMP32 = 0x06
CLASS_ALU64 = 0x07

# Size bits (code & 0x18) of load/store instructions.
SIZE_W = 0x00
SIZE_H = 0x08
SIZE_B = 0x10
SIZE_DW = 0x18

# Mode bits (code & 0xe0).
MODE_IMM = 0x00
MODE_MEM = 0x60

SRC_K = 0x00
SRC_X = 0x08

#: ``BPF_LD | BPF_IMM | BPF_DW``: the first slot of a 64-bit immediate load.
LD_IMM64 = CLASS_LD | MODE_IMM | SIZE_DW
#: ``BPF_JMP | BPF_CALL``.
CALL = 0x85
#: Helper id libbpf calls in a poisoned instruction ("bad relo"): 195896080.
POISON_IMM = 0xBAD2310

_SIZE_BYTES = {SIZE_B: 1, SIZE_H: 2, SIZE_W: 4, SIZE_DW: 8}
_BYTES_SIZE = {v: k for k, v in _SIZE_BYTES.items()}

_set = object.__setattr__

_FMT = {"little": struct.Struct("<BBhi"), "big": struct.Struct(">BBhi")}


class Insn(Frozen):
    """One decoded slot; ``off`` and ``imm`` are signed as in ``struct bpf_insn``."""

    __slots__ = ("code", "dst", "src", "off", "imm")
    code: int
    dst: int
    src: int
    off: int
    imm: int

    def __init__(self, code: int, dst: int, src: int, off: int, imm: int) -> None:
        _set(self, "code", code)
        _set(self, "dst", dst)
        _set(self, "src", src)
        _set(self, "off", off)
        _set(self, "imm", imm)

    @property
    def cls(self) -> int:
        return self.code & 0x07

    @property
    def size_bits(self) -> int:
        return self.code & 0x18

    @property
    def mode(self) -> int:
        return self.code & 0xE0

    @property
    def source(self) -> int:
        return self.code & 0x08

    @property
    def is_ld_imm64(self) -> bool:
        return self.code == LD_IMM64

    def with_(self, **changes: int) -> Insn:
        """A copy with some fields replaced (values are not range-checked here)."""
        fields = {"code": self.code, "dst": self.dst, "src": self.src, "off": self.off,
                  "imm": self.imm}
        for name in changes:
            if name not in fields:
                raise TypeError(f"Insn has no field {name!r}")
        fields.update(changes)
        return Insn(**fields)


def check_byteorder(byteorder: str) -> ByteOrder:
    if byteorder == "little":
        return "little"
    if byteorder == "big":
        return "big"
    raise ValueError(f"byte order must be 'little' or 'big', not {byteorder!r}")


def decode(data: bytes | bytearray | memoryview, pos: int, byteorder: ByteOrder) -> Insn:
    """Decode the slot at byte ``pos`` of ``data`` (``IndexError``-free: caller checks bounds)."""
    code, regs, off, imm = _FMT[byteorder].unpack_from(data, pos)
    if byteorder == "little":
        return Insn(code, regs & 0x0F, regs >> 4, off, imm)
    return Insn(code, regs >> 4, regs & 0x0F, off, imm)


def encode(insn: Insn, byteorder: ByteOrder) -> bytes:
    """The 8 bytes of ``insn``; ``off``/``imm`` are wrapped to s16/s32 like a C store would."""
    off = ((insn.off + 0x8000) & 0xFFFF) - 0x8000
    imm = ((insn.imm + 0x80000000) & 0xFFFFFFFF) - 0x80000000
    dst, src = insn.dst & 0x0F, insn.src & 0x0F
    regs = (dst | src << 4) if byteorder == "little" else (dst << 4 | src)
    return _FMT[byteorder].pack(insn.code & 0xFF, regs, off, imm)


def size_bytes(insn: Insn) -> int:
    """Memory access width in bytes of a load/store (libbpf ``insn_bpf_size_to_bytes``)."""
    return _SIZE_BYTES[insn.size_bits]


def size_bits_for(nbytes: int) -> int | None:
    """Size bits for an access of ``nbytes`` (1, 2, 4, 8), None for any other width."""
    return _BYTES_SIZE.get(nbytes)


def poison(byteorder: ByteOrder) -> bytes:
    """The slot libbpf writes over an unresolvable instruction: ``call 0xbad2310``."""
    return encode(Insn(CALL, 0, 0, 0, POISON_IMM), byteorder)


def to_hex(data: bytes) -> str:
    return data.hex()


CLASS_NAMES = {
    CLASS_LD: "ld",
    CLASS_LDX: "ldx",
    CLASS_ST: "st",
    CLASS_STX: "stx",
    CLASS_ALU: "alu",
    CLASS_JMP: "jmp",
    CLASS_JMP32: "jmp32",
    CLASS_ALU64: "alu64",
}
