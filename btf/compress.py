"""Bounded, streaming decompression for the formats kernels and BTF files are shipped in.

Kernel images and packages come from outside, so every decompressor here works in chunks
and stops with :class:`BTFSourceError` as soon as the output would exceed a cap (default
512 MiB) instead of filling memory: a small "bomb" can never cost more than the cap.

Formats are recognised by their magic bytes. ``lz4-legacy`` is the old LZ4 framing
(``lz4 -l``) that the kernel build uses for ``CONFIG_KERNEL_LZ4`` payloads (Debian 6.1 cloud
kernels); ``lzma`` is the headerless "LZMA alone" format used by ``CONFIG_KERNEL_LZMA`` and is
only tried where a kernel payload is expected, because its magic is too weak to sniff.
Third-party modules (``zstandard``, ``lz4``) are imported only when such data is met.
"""

from __future__ import annotations

import io
import mmap
import struct
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Protocol, cast

from .errors import BTFFormatError, BTFSourceError

#: Default cap on the decompressed size of one stream (and of one extracted file).
DEFAULT_MAX_SIZE = 512 << 20
#: Input is fed to decompressors in pieces of this size.
CHUNK = 1 << 20

GZIP = "gzip"
XZ = "xz"
ZSTD = "zstd"
LZ4 = "lz4"
LZ4_LEGACY = "lz4-legacy"
BZIP2 = "bzip2"
LZMA = "lzma"

#: Magic bytes of every format recognised by :func:`detect`, longest first.
MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"\xfd7zXZ\x00", XZ),
    (b"\x28\xb5\x2f\xfd", ZSTD),
    (b"\x04\x22\x4d\x18", LZ4),
    (b"\x02\x21\x4c\x18", LZ4_LEGACY),
    (b"\x1f\x8b\x08", GZIP),
    (b"BZh", BZIP2),
)

#: Legacy LZ4: each block decompresses to at most 8 MiB (what ``lz4 -l`` writes).
_LZ4_LEGACY_BLOCK = 8 << 20
_LZ4_LEGACY_MAGIC = 0x184C2102
_ZSTD_PIECE = 1024


#: What the readers here take: bytes in memory or a read-only file mapping.
Buffer = bytes | mmap.mmap


def detect(data: Buffer, offset: int = 0) -> str | None:
    """The compression format whose magic starts at ``offset``, or None."""
    head = data[offset : offset + 8]
    for magic, name in MAGICS:
        if head.startswith(magic):
            if name == BZIP2 and not (len(head) >= 4 and head[3:4] in b"123456789"):
                continue
            return name
    return None


class _Capped:
    """Counts produced bytes and raises once ``limit`` would be exceeded."""

    def __init__(self, limit: int, what: str, source: str | None) -> None:
        self.limit = limit
        self.total = 0
        self.what = what
        self.source = source

    def add(self, n: int) -> None:
        self.total += n
        if self.total > self.limit:
            raise BTFSourceError(
                f"{self.what}: decompressed data exceeds the size cap of {_mib(self.limit)} "
                "(raise max_size if this input is genuine)",
                source=self.source,
            )


def _mib(n: int) -> str:
    return f"{n / (1 << 20):g} MiB" if n >= 1 << 20 else f"{n} bytes"


def _pieces(data: Buffer, start: int) -> Iterator[bytes]:
    for pos in range(start, len(data), CHUNK):
        yield data[pos : pos + CHUNK]


class _Incremental(Protocol):
    """The zlib/lzma/bz2/lz4.frame decompressor-object protocol (with ``max_length``)."""

    @property
    def eof(self) -> bool: ...
    @property
    def needs_input(self) -> bool: ...
    @property
    def unused_data(self) -> bytes: ...
    def decompress(self, data: bytes, max_length: int = ..., /) -> bytes: ...


def _drive(dec: _Incremental, data: Buffer, start: int, cap: _Capped, out: bytearray) -> None:
    """Feed ``data[start:]`` to ``dec`` a chunk at a time, keeping output under the cap."""
    room = cap.limit - cap.total + 1
    for piece in _pieces(data, start):
        chunk = dec.decompress(piece, min(CHUNK, room))
        while True:
            cap.add(len(chunk))
            out += chunk
            room = cap.limit - cap.total + 1
            if dec.eof or dec.needs_input:
                break
            chunk = dec.decompress(b"", min(CHUNK, room))
        if dec.eof:
            return
    # Output may still be pending when the last piece filled max_length exactly.
    while not dec.eof:
        chunk = dec.decompress(b"", min(CHUNK, cap.limit - cap.total + 1))
        if not chunk:
            raise BTFFormatError(f"{cap.what}: compressed data is truncated", source=cap.source)
        cap.add(len(chunk))
        out += chunk


class _ZlibAdapter:
    """Give ``zlib.decompressobj`` the ``eof``/``needs_input`` interface of the others."""

    def __init__(self, wbits: int) -> None:
        self._d = zlib.decompressobj(wbits)

    @property
    def eof(self) -> bool:
        return self._d.eof

    @property
    def needs_input(self) -> bool:
        return not self._d.unconsumed_tail

    @property
    def unused_data(self) -> bytes:
        return self._d.unused_data

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        if not data:
            data = self._d.unconsumed_tail
        return self._d.decompress(data, max_length)


def _gzip(data: Buffer, start: int, cap: _Capped, out: bytearray) -> None:
    _drive(_ZlibAdapter(16 + zlib.MAX_WBITS), data, start, cap, out)


def _xz(data: Buffer, start: int, cap: _Capped, out: bytearray) -> None:
    import lzma

    _drive(lzma.LZMADecompressor(lzma.FORMAT_XZ), data, start, cap, out)


def _lzma_alone(data: Buffer, start: int, cap: _Capped, out: bytearray) -> None:
    import lzma

    _drive(lzma.LZMADecompressor(lzma.FORMAT_ALONE), data, start, cap, out)


def _bzip2(data: Buffer, start: int, cap: _Capped, out: bytearray) -> None:
    import bz2

    _drive(bz2.BZ2Decompressor(), data, start, cap, out)


def _lz4_frame(data: Buffer, start: int, cap: _Capped, out: bytearray) -> None:
    import lz4.frame

    _drive(lz4.frame.LZ4FrameDecompressor(), data, start, cap, out)


def _zstd(data: Buffer, start: int, cap: _Capped, out: bytearray) -> None:
    """zstd has no output-bounded incremental API in ``zstandard``, so feed small pieces.

    One zstd block header (3 bytes) plus one byte can expand to 128 KiB, so a 1 KiB piece
    yields at most ~32 MiB before the cap is checked again: memory stays bounded.
    """
    import zstandard

    dec = zstandard.ZstdDecompressor().decompressobj()
    for pos in range(start, len(data), _ZSTD_PIECE):
        chunk = dec.decompress(data[pos : pos + _ZSTD_PIECE])
        cap.add(len(chunk))
        out += chunk
        if dec.eof:
            return
    raise BTFFormatError(f"{cap.what}: compressed data is truncated", source=cap.source)


def _lz4_legacy(data: Buffer, start: int, cap: _Capped, out: bytearray) -> None:
    """Blocks of ``u32 LE compressed size`` + LZ4 block, each up to 8 MiB decompressed.

    The stream has no end marker: it ends with the input, at a repeated magic (another
    stream follows), or at a size word that cannot be a block (the kernel build appends the
    uncompressed length after the stream, which lands here).
    """
    import lz4.block

    bound = _LZ4_LEGACY_BLOCK + _LZ4_LEGACY_BLOCK // 255 + 16
    pos = start + 4
    end = len(data)
    blocks = 0
    while pos + 4 <= end:
        (size,) = struct.unpack("<I", data[pos : pos + 4])
        if size == _LZ4_LEGACY_MAGIC:
            pos += 4
            continue
        if size == 0 or size > bound or pos + 4 + size > end:
            if blocks:
                return
            raise BTFFormatError(
                f"{cap.what}: legacy lz4 block size {size} at offset {pos} is invalid",
                source=cap.source,
            )
        room = min(_LZ4_LEGACY_BLOCK, cap.limit - cap.total + 1)
        try:
            block = data[pos + 4 : pos + 4 + size]
            chunk = lz4.block.decompress(block, uncompressed_size=room)
        except lz4.block.LZ4BlockError as exc:
            if room < _LZ4_LEGACY_BLOCK:  # too big for what is left under the cap, or corrupt?
                try:
                    lz4.block.decompress(block, uncompressed_size=_LZ4_LEGACY_BLOCK)
                except lz4.block.LZ4BlockError:
                    pass
                else:
                    cap.add(_LZ4_LEGACY_BLOCK + 1)
            raise BTFFormatError(
                f"{cap.what}: legacy lz4 block at offset {pos} is corrupt ({exc})",
                source=cap.source,
            ) from None
        cap.add(len(chunk))
        out += chunk
        blocks += 1
        pos += 4 + size
    if not blocks:
        raise BTFFormatError(f"{cap.what}: legacy lz4 stream has no blocks", source=cap.source)


_DECODERS: dict[str, Callable[[Buffer, int, _Capped, bytearray], None]] = {
    GZIP: _gzip,
    XZ: _xz,
    ZSTD: _zstd,
    LZ4: _lz4_frame,
    LZ4_LEGACY: _lz4_legacy,
    BZIP2: _bzip2,
    LZMA: _lzma_alone,
}


def decompress(
    data: Buffer,
    kind: str | None = None,
    *,
    offset: int = 0,
    max_size: int = DEFAULT_MAX_SIZE,
    source: str | None = None,
) -> bytes:
    """Decompress the first stream starting at ``data[offset]``; trailing bytes are ignored.

    ``kind`` defaults to what :func:`detect` finds. Raises :class:`BTFSourceError` when the
    output would exceed ``max_size`` and :class:`BTFFormatError` for corrupt or truncated
    streams.
    """
    if kind is None:
        kind = detect(data, offset)
        if kind is None:
            raise BTFFormatError(f"no known compression magic at offset {offset}", source=source)
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise ValueError(f"unknown compression format {kind!r}")
    cap = _Capped(max_size, f"{kind} data at offset {offset}", source)
    out = bytearray()
    try:
        decoder(data, offset, cap, out)
    except (BTFSourceError, BTFFormatError):
        raise
    except MemoryError:
        raise BTFSourceError(f"{cap.what}: out of memory while decompressing",
                             source=source) from None
    except Exception as exc:  # zlib.error, lzma.LZMAError, OSError, zstd/lz4 errors ...
        raise BTFFormatError(
            f"{cap.what}: corrupt {kind} data after {cap.total} output bytes ({exc})",
            source=source,
        ) from None
    return bytes(out)


class CappedReader(io.RawIOBase):
    """Wrap a readable stream; raise :class:`BTFSourceError` once more than ``limit`` is read.

    Used around decompressing streams (``data.tar.xz`` of a package) that are read through
    ``tarfile`` in streaming mode.
    """

    def __init__(self, raw: IO[bytes], limit: int, what: str, source: str | None) -> None:
        self._raw = raw
        self._cap = _Capped(limit, what, source)

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = self._raw.read(len(b))
        n = len(chunk)
        self._cap.add(n)
        b[:n] = chunk
        return n


def open_stream(
    raw: IO[bytes], kind: str | None, *, max_size: int, what: str, source: str | None
) -> IO[bytes]:
    """A streaming, capped decompressing reader over ``raw`` (``kind`` None: stored)."""
    inner: IO[bytes]
    if kind is None:
        inner = raw
    elif kind == GZIP:
        import gzip

        inner = cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
    elif kind == XZ:
        import lzma

        inner = lzma.LZMAFile(raw, "rb")
    elif kind == BZIP2:
        import bz2

        inner = bz2.BZ2File(raw, "rb")
    elif kind == ZSTD:
        import zstandard

        inner = zstandard.ZstdDecompressor().stream_reader(raw, read_size=CHUNK)
    elif kind == LZ4:
        import lz4.frame

        inner = lz4.frame.LZ4FrameFile(raw, "rb")
    else:
        raise BTFSourceError(f"{what}: {kind} streams are not supported here", source=source)
    return io.BufferedReader(CappedReader(inner, max_size, what, source), CHUNK)
