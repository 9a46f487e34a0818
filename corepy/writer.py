"""Produce the relocated object: the input bytes, patched in place, written atomically.

The output must be loadable by any loader (libbpf, cilium/ebpf, aya, a hand-written one)
without relocating again, and must otherwise be the very object the user built. So the
writer changes exactly two things in a copy of the input: the instruction bytes at CO-RE
sites, and the ``core_relo_len`` field of the ``.BTF.ext`` header, set to 0 so that loaders
see no CO-RE records (libbpf then skips CO-RE entirely). Section sizes, offsets, symbols,
``func_info``/``line_info`` and the byte order stay as they were.

Writing goes through a temporary file in the destination directory, fsync, then
``os.replace``: a reader never sees a half-written object and a failure leaves nothing
behind. The temporary file is made here rather than with ``tempfile.mkstemp``: importing
``tempfile`` (random, shutil, bz2, lzma) costs more start-up time than writing the object.
"""

from __future__ import annotations

import os
import struct

from .errors import CorepyError
from .objfile import BPFObject

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Mapping

_TMP_FLAGS = (os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
              | getattr(os, "O_CLOEXEC", 0))


def build_output(obj: BPFObject, sections: Mapping[str, bytes]) -> bytes:
    """``obj``'s bytes with ``sections`` (name -> new bytes, same size) and no CO-RE records."""
    out = bytearray(obj.data)
    for name, new in sections.items():
        sec = obj.section(name)
        if len(new) != sec.size:
            raise CorepyError(
                f"internal error: section {name!r} changed size ({sec.size} -> {len(new)})"
            )
        out[sec.offset : sec.offset + sec.size] = new
    field = obj.core_relo_len_offset()
    if field is not None:
        order = "<" if obj.byteorder == "little" else ">"
        struct.pack_into(order + "I", out, field, 0)
    return bytes(out)


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file + fsync + rename), mode 0666 & ~umask."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = _mkstemp(directory, f".{os.path.basename(path)}.", ".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def _mkstemp(directory: str, prefix: str, suffix: str) -> tuple[int, str]:
    """A new file ``prefix + 8 random hex digits + suffix`` in ``directory``, mode 0600,
    opened exclusively (what ``tempfile.mkstemp`` does)."""
    for _ in range(100):
        name = os.path.join(directory, f"{prefix}{os.urandom(4).hex()}{suffix}")
        try:
            return os.open(name, _TMP_FLAGS, 0o600), name
        except FileExistsError:
            continue
    raise FileExistsError(f"{directory}: no usable temporary file name")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
