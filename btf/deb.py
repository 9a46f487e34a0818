"""Debian binary packages (``linux-image-*.deb``): the kernel image and the modules inside.

A ``.deb`` is an ``ar`` archive (``debian-binary``, ``control.tar.*``, ``data.tar.*``). The
data tarball is read in streaming mode (``tarfile`` ``r|``) through a capped decompressor,
so a 70 MB package never needs more memory than the one member being read, and reading the
kernel image stops as soon as it is found (``boot/`` comes first in kernel packages).
"""

from __future__ import annotations

import io
import posixpath
import re
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from . import compress
from .compress import Buffer
from .errors import BTFError, BTFFormatError, BTFNotFoundError, BTFSourceError

AR_MAGIC = b"!<arch>\n"
_AR_HEADER = 60

#: Default cap on the decompressed ``data.tar`` stream as a whole.
DEFAULT_MAX_ARCHIVE_SIZE = 4 << 30

#: Kernel image members, in order of preference.
KERNEL_PATTERNS = (
    re.compile(r"^boot/vmlinuz-[^/]+$"),
    re.compile(r"^boot/vmlinux-[^/]+$"),
    re.compile(r"^(usr/)?lib/debug/boot/vmlinux-[^/]+$"),
    re.compile(r"^(usr/)?lib/debug/lib/modules/[^/]+/vmlinux$"),
)
#: Module members: ``(usr/)lib/modules/VERSION/**/NAME.ko[.xz|.zst|.gz]``.
MODULE_RE = re.compile(r"^(?:usr/)?lib/modules/[^/]+/.+/([^/]+)\.ko(?:\.(xz|zst|gz))?$")
_MODULE_COMPRESSION = {"xz": compress.XZ, "zst": compress.ZSTD, "gz": compress.GZIP}


def is_ar(data: Buffer) -> bool:
    return data[:8] == AR_MAGIC


def module_name(filename: str) -> str | None:
    """Kernel module name for a ``.ko`` file name (``-`` becomes ``_`` as the kernel does)."""
    m = re.match(r"^(.+?)\.ko(?:\.(?:xz|zst|gz))?$", posixpath.basename(filename))
    return m.group(1).replace("-", "_") if m else None


def module_compression(filename: str) -> str | None:
    """Compression of a module file by its suffix (``None`` for a plain ``.ko``)."""
    ext = filename.rsplit(".", 1)[-1]
    return _MODULE_COMPRESSION.get(ext) if not filename.endswith(".ko") else None


@dataclass(frozen=True, slots=True)
class ArMember:
    name: str
    offset: int
    size: int


class _BufferReader(io.RawIOBase):
    """A read-only stream over ``data[start:end]`` (``bytes`` or ``mmap``) without a copy."""

    def __init__(self, data: Buffer, start: int, end: int) -> None:
        self._data = data
        self._pos = start
        self._end = end

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(b), self._end - self._pos)
        if n <= 0:
            return 0
        b[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


def ar_members(data: Buffer, *, source: str | None = None) -> list[ArMember]:
    """The members of an ``ar`` archive (System V / GNU names; no long-name table needed)."""
    if not is_ar(data):
        raise BTFSourceError("not an ar archive (no !<arch> magic)", source=source)
    out = []
    pos = 8
    size = len(data)
    while pos < size:
        if pos + _AR_HEADER > size:
            raise BTFFormatError(f"ar member header at offset {pos} is truncated", source=source)
        hdr = data[pos : pos + _AR_HEADER]
        if hdr[58:60] != b"`\n":
            raise BTFFormatError(f"ar member header at offset {pos} has a bad terminator",
                                 source=source)
        name = hdr[:16].decode("ascii", "replace").rstrip()
        name = name[:-1] if name.endswith("/") and name != "/" else name
        try:
            msize = int(hdr[48:58].decode("ascii").strip() or "-1")
        except ValueError:
            msize = -1
        start = pos + _AR_HEADER
        if msize < 0 or start + msize > size:
            raise BTFFormatError(
                f"ar member {name!r} at offset {pos} claims {msize} bytes, past the end of "
                f"the archive ({size} bytes): truncated?",
                source=source,
            )
        out.append(ArMember(name, start, msize))
        pos = start + msize + (msize & 1)
    return out


class DebPackage:
    """A Debian binary package held in memory (``bytes``) or mapped (``mmap``)."""

    def __init__(
        self,
        data: Buffer,
        *,
        source: str | None = None,
        max_size: int = compress.DEFAULT_MAX_SIZE,
        max_archive_size: int = DEFAULT_MAX_ARCHIVE_SIZE,
    ) -> None:
        self.data = data
        self.source = source
        self.max_size = max_size
        self.max_archive_size = max_archive_size
        members = ar_members(data, source=source)
        names = [m.name for m in members]
        if "debian-binary" not in names:
            raise BTFSourceError("ar archive without debian-binary: not a Debian package",
                                 source=source)
        tars = [m for m in members if m.name.startswith("data.tar")]
        if not tars:
            raise BTFSourceError(f"Debian package has no data.tar member ({', '.join(names)})",
                                 source=source)
        self.data_member = tars[0]

    def _open_tar(self) -> tarfile.TarFile:
        m = self.data_member
        raw = io.BufferedReader(_BufferReader(self.data, m.offset, m.offset + m.size),
                                compress.CHUNK)
        kind = compress.detect(self.data, m.offset)
        if kind is None and not m.name.endswith(".tar"):
            raise BTFSourceError(f"{m.name}: unknown compression", source=self.source)
        stream = compress.open_stream(raw, kind, max_size=self.max_archive_size,
                                      what=m.name, source=self.source)
        try:
            return tarfile.open(fileobj=stream, mode="r|")
        except BTFError:
            raise
        except Exception as exc:  # TarError, EOFError, lzma/zstd errors from the stream
            raise BTFFormatError(f"{m.name}: not a readable tar archive ({exc})",
                                 source=self.source) from None

    def _walk(self, want: Callable[[str], bool]) -> Iterator[tuple[str, bytes]]:
        """Regular members whose normalised path satisfies ``want``, with their bytes."""
        tf = self._open_tar()
        what = self.data_member.name
        try:
            for info in tf:
                path = info.name[2:] if info.name.startswith("./") else info.name
                path = path.lstrip("/")
                if not info.isreg() or not want(path):
                    continue
                if info.size > self.max_size:
                    raise BTFSourceError(
                        f"{what}:{path} is {info.size} bytes, over the size cap of "
                        f"{self.max_size} (raise max_size if this input is genuine)",
                        source=self.source,
                    )
                f = tf.extractfile(info)
                assert f is not None
                yield path, f.read()
        except BTFError:
            raise
        except Exception as exc:  # TarError, EOFError, lzma/zstd errors from the stream
            raise BTFFormatError(f"{what}: corrupt or truncated ({exc})",
                                 source=self.source) from None
        finally:
            try:
                tf.close()
            except Exception:  # noqa: BLE001 - closing a broken stream; error already raised
                pass

    def kernel_image(self) -> tuple[str, bytes]:
        """``(path, bytes)`` of the package's kernel image (``boot/vmlinuz-*`` first)."""

        def want(path: str) -> bool:
            return any(p.match(path) for p in KERNEL_PATTERNS)

        found: dict[str, bytes] = {}
        for path, blob in self._walk(want):
            if KERNEL_PATTERNS[0].match(path):
                return path, blob
            found.setdefault(path, blob)
        for pattern in KERNEL_PATTERNS:
            for path, blob in found.items():
                if pattern.match(path):
                    return path, blob
        raise BTFNotFoundError(
            "Debian package has no kernel image (boot/vmlinuz-*, boot/vmlinux-* or "
            "usr/lib/debug/boot/vmlinux-*)",
            source=self.source,
        )

    def modules(self, names: set[str] | None = None) -> Iterator[tuple[str, str, bytes]]:
        """``(module name, member path, ELF bytes)`` for each ``.ko`` (decompressed).

        ``names`` restricts the result to those module names (``-`` and ``_`` equivalent).
        """
        wanted = {n.replace("-", "_") for n in names} if names is not None else None

        def want(path: str) -> bool:
            m = MODULE_RE.match(path)
            if m is None:
                return False
            return wanted is None or m.group(1).replace("-", "_") in wanted

        for path, blob in self._walk(want):
            name = module_name(path)
            assert name is not None
            kind = module_compression(path)
            if kind is not None:
                blob = compress.decompress(blob, kind, max_size=self.max_size,
                                           source=f"{self.source}:{path}")
            yield name, path, blob

