"""Boot images: find the kernel (and so its BTF) inside what ``/boot/vmlinuz-*`` holds.

* x86 ``bzImage``: the setup header (``HdrS`` at 0x202, protocol >= 2.08) gives the
  compressed payload's offset (relative to the protected-mode code, which starts after
  ``setup_sects + 1`` sectors) and length. The payload is gzip, xz, lz4 (legacy framing),
  zstd, bzip2, lzma or lzo (not supported) and decompresses to the vmlinux ELF.
* arm64/riscv ``Image``: an uncompressed raw binary (no ELF), identified by ``ARM\\x64`` /
  ``RSC\\x05`` at 0x38. The kernel's ``.BTF`` section is copied into it verbatim, so the BTF
  is found by scanning for the magic and validating the header (see :func:`find_raw_btf`).
* EFI zboot (``MZ`` + ``zimg``): compressed payload at the offset/size in the header.
* Anything else that looks like a kernel (s390x ``vmlinuz``, unknown wrappers): scan for
  an embedded raw BTF blob, then for compressed streams that decompress to something
  holding BTF (like the kernel's ``extract-vmlinux`` script).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from . import compress
from .compress import Buffer
from .errors import BTFFormatError, BTFSourceError

#: Header magic at 0x38 of arm64 and riscv ``Image`` files.
ARM64_MAGIC = b"ARM\x64"
RISCV_MAGIC = b"RSC\x05"
#: Stop scanning a blob after this many magic hits that are not BTF.
MAX_SCAN_CANDIDATES = 64

_BTF_MAGICS = ((b"\x9f\xeb\x01\x00", "<"), (b"\xeb\x9f\x01\x00", ">"))


@dataclass(frozen=True, slots=True)
class Payload:
    """A compressed kernel found inside a boot image."""

    offset: int
    length: int
    kind: str | None  # compression, or None when not recognised


def is_bzimage(data: Buffer) -> bool:
    return len(data) >= 0x250 and data[0x202:0x206] == b"HdrS"


def is_arm64_image(data: Buffer) -> bool:
    return data[0x38:0x3C] in (ARM64_MAGIC, RISCV_MAGIC)


def is_zboot(data: Buffer) -> bool:
    return data[0:2] == b"MZ" and data[4:8] == b"zimg"


def bzimage_payload(data: Buffer, *, source: str | None = None) -> Payload:
    """Locate the compressed kernel in an x86 bzImage from its setup header."""
    (version,) = struct.unpack("<H", data[0x206:0x208])
    if version < 0x208:
        raise BTFSourceError(
            f"bzImage boot protocol {version >> 8}.{version & 0xFF:02d} is older than 2.08 "
            "and does not record where its payload is",
            source=source,
        )
    setup_sects = data[0x1F1:0x1F2][0] or 4  # 0 means 4 (ancient convention)
    off, length = struct.unpack("<II", data[0x248:0x250])
    start = (setup_sects + 1) * 512 + off
    if length == 0 or start + length > len(data):
        raise BTFFormatError(
            f"bzImage payload [{start}, {start + length}) is outside the file "
            f"({len(data)} bytes): truncated?",
            source=source,
        )
    kind = compress.detect(data, start)
    if kind is None and data[start : start + 3] == b"\x5d\x00\x00":
        kind = compress.LZMA
    if kind is None:
        magic = data[start : start + 4].hex(" ")
        hint = " (lzo is not supported)" if data[start : start + 4] == b"\x89LZO" else ""
        raise BTFSourceError(
            f"bzImage payload at offset {start} uses an unknown compression "
            f"(magic {magic}){hint}",
            source=source,
        )
    return Payload(start, length, kind)


def zboot_payload(data: Buffer, *, source: str | None = None) -> Payload:
    """EFI zboot: u32 payload offset at 8, size at 12, compression name at 24."""
    off, length = struct.unpack("<II", data[8:16])
    if length == 0 or off + length > len(data):
        raise BTFFormatError(
            f"zboot payload [{off}, {off + length}) is outside the file ({len(data)} bytes)",
            source=source,
        )
    return Payload(off, length, compress.detect(data, off))


def _plausible_btf(data: Buffer, pos: int, endian: str) -> int | None:
    """Total length of a BTF blob at ``pos`` if its header is what pahole writes, else None.

    Kernel BTF comes from pahole/``resolve_btfids``: version 1, flags 0, a 24- or 32-byte
    header, the type section right after the header and the string section right after
    the types. Strings start and end with NUL. This rejects practically every accidental
    magic (instructions, the BTF parser's own constants) before a full parse is tried.
    """
    hdr = data[pos : pos + 32]
    if len(hdr) < 24:
        return None
    _m, version, flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack(
        endian + "HBBIIIII", hdr[:24]
    )
    if version != 1 or flags != 0 or hdr_len not in (24, 32) or type_off != 0:
        return None
    if str_off != type_len or type_len % 4 or str_len == 0:
        return None
    total = hdr_len + str_off + str_len
    if pos + total > len(data):
        return None
    s0 = pos + hdr_len + str_off
    if data[s0 : s0 + 1] != b"\0" or data[pos + total - 1 : pos + total] != b"\0":
        return None
    return int(total)


def find_raw_btf(data: Buffer, *, start: int = 0) -> list[tuple[int, int]]:
    """``(offset, length)`` of every plausible base BTF blob embedded in ``data``."""
    found: list[tuple[int, int]] = []
    misses = 0
    for magic, endian in _BTF_MAGICS:
        pos = data.find(magic, start)
        while pos >= 0 and misses < MAX_SCAN_CANDIDATES * 16:
            total = _plausible_btf(data, pos, endian)
            if total is not None:
                found.append((pos, total))
                pos = data.find(magic, pos + total)
            else:
                misses += 1
                pos = data.find(magic, pos + 1)
    found.sort()
    return found


def scan_compressed(data: Buffer, *, start: int = 0) -> list[Payload]:
    """Candidate compressed streams in ``data`` (by magic), in file order."""
    hits: list[Payload] = []
    for magic, kind in compress.MAGICS:
        pos = data.find(magic, start)
        while pos >= 0 and len(hits) < MAX_SCAN_CANDIDATES:
            if compress.detect(data, pos) == kind:
                hits.append(Payload(pos, len(data) - pos, kind))
            pos = data.find(magic, pos + 1)
    hits.sort(key=lambda p: p.offset)
    return hits[:MAX_SCAN_CANDIDATES]
