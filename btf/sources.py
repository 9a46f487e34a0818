"""Open BTF from any container a user meets and return a :class:`~btf.spec.Spec`.

Detection is by content, never by file name, in this order (first match wins):

1. raw BTF (magic ``9f eb`` little-endian or ``eb 9f`` big-endian), e.g. ``/sys/kernel/btf/*``;
2. ELF (vmlinux, ``.ko``, BPF object): the ``.BTF`` section, pointer size from the ELF class;
3. ``ar`` archive: a Debian package; its kernel image is opened (then steps 1-8 again);
4. gzip, xz, zstd, lz4 (frame or legacy), bzip2: decompressed under a cap, then 1-8 again;
5. x86 ``bzImage``: the payload named by the setup header, decompressed, then 1-8 again;
6. EFI zboot image: its payload, decompressed, then 1-8 again;
7. arm64/riscv ``Image``: the raw BTF blob embedded in it;
8. anything else: an embedded raw BTF blob, else the first embedded compressed stream
   that leads to BTF (s390x ``vmlinuz``, unknown wrappers).

Files are mapped, not read, where possible; every decompression is capped (``max_size``).

Start-up matters (a CLI run on raw kernel BTF is ~100 ms): the container modules (ELF,
.deb with tarfile, compressors, kernel images) are imported only when a file is not raw
BTF, and nothing here imports ``dataclasses``, ``typing``, ``contextlib`` or ``pathlib``.
"""

from __future__ import annotations

import mmap
import os
import stat

from .errors import BTFError, BTFFormatError, BTFNotFoundError, BTFSourceError
from .spec import Spec, detect_byteorder

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Iterator

    from . import kimage
    from .compress import Buffer

__all__ = [
    "DEFAULT_MAX_SIZE",
    "SYSFS_BTF",
    "BTFBlobs",
    "load",
    "load_modules",
    "read_blobs",
    "running_kernel",
    "running_modules",
]

#: Default cap on the decompressed size of one stream and of one file read; the same value
#: as ``btf.compress.DEFAULT_MAX_SIZE`` (kept here so raw BTF does not import compress).
DEFAULT_MAX_SIZE = 512 << 20
SYSFS_BTF = "/sys/kernel/btf"
#: How many containers may be nested (deb -> vmlinuz -> payload -> ELF is 3).
MAX_DEPTH = 6

Source = str | os.PathLike[str] | bytes | bytearray | memoryview


class BTFBlobs:
    """The raw BTF found in a source, before it is parsed.

    ``ptr_size`` is set when the container decides it (ELF class); ``ext`` and ``base``
    are an ELF's ``.BTF.ext`` and ``.BTF.base`` sections. ``source`` names the path through
    the containers, e.g. ``pkg.deb:boot/vmlinuz-6.1.0-50-cloud-amd64[lz4-legacy]``.

    Behaves like a frozen slotted dataclass (field-wise ``==``, ``repr`` and ``hash``;
    assignment raises ``AttributeError``), written by hand for start-up time.
    """

    __slots__ = ("btf", "source", "ptr_size", "ext", "base", "container")
    __match_args__ = ("btf", "source", "ptr_size", "ext", "base", "container")
    btf: bytes
    source: str
    ptr_size: int | None
    ext: bytes | None
    base: bytes | None
    container: str

    def __init__(self, btf: bytes, source: str, ptr_size: int | None = None,
                 ext: bytes | None = None, base: bytes | None = None,
                 container: str = "raw") -> None:
        _set = object.__setattr__
        _set(self, "btf", btf)
        _set(self, "source", source)
        _set(self, "ptr_size", ptr_size)
        _set(self, "ext", ext)
        _set(self, "base", base)
        _set(self, "container", container)

    def _values(self) -> tuple[object, ...]:
        return (self.btf, self.source, self.ptr_size, self.ext, self.base, self.container)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self.__slots__)
        return f"BTFBlobs({inner})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __getstate__(self) -> tuple[object, ...]:
        return self._values()

    def __setstate__(self, state: tuple[object, ...]) -> None:
        for name, value in zip(self.__slots__, state, strict=True):
            object.__setattr__(self, name, value)


# ---------------------------------------------------------------------------- input
class _open:
    """``with _open(src, max_size) as (buf, name)``: the input as ``bytes`` or a read-only
    private ``mmap`` (unmapped on exit), plus its name. A class rather than a
    ``contextlib.contextmanager`` generator: contextlib is not loaded at start-up."""

    def __init__(self, src: Source, max_size: int) -> None:
        self.buf: Buffer
        if isinstance(src, (bytes, bytearray, memoryview)):
            self.buf, self.name = bytes(src), "<bytes>"
            return
        path = os.fspath(src)
        self.buf, self.name = _read(path, max_size), path

    def __enter__(self) -> tuple[Buffer, str]:
        return self.buf, self.name

    def __exit__(self, *exc: object) -> None:
        buf = self.buf
        if isinstance(buf, mmap.mmap):
            try:
                buf.close()
            except BufferError:  # a traceback still references a view; GC will unmap it
                pass


def _read(path: str, max_size: int) -> Buffer:
    """The file mapped privately and read-only, or read when it cannot be mapped."""
    buf: Buffer
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if stat.S_ISDIR(st.st_mode):
                raise BTFSourceError("is a directory (use load_modules for module trees)",
                                     source=path)
            mm: mmap.mmap | None = None
            if st.st_size > 0:
                try:
                    mm = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
                except (OSError, ValueError):
                    mm = None
            if mm is None:
                data = f.read(max_size + 1)
                if len(data) > max_size:
                    raise BTFSourceError(
                        f"file is larger than the size cap of {max_size} bytes and cannot be "
                        "mapped", source=path)
                buf = data
            else:
                buf = mm
    except OSError as exc:
        raise _os_error(exc, path) from None
    return buf


def _os_error(exc: OSError, path: str) -> BTFError:
    if isinstance(exc, FileNotFoundError):
        return BTFNotFoundError("no such file", source=path)
    if isinstance(exc, IsADirectoryError):
        return BTFSourceError("is a directory (use load_modules for module trees)",
                              source=path)
    return BTFSourceError(f"cannot read: {exc.strerror or exc}", source=path)


# ------------------------------------------------------------------------ detection
def _extract(buf: Buffer, name: str, max_size: int, depth: int) -> BTFBlobs:
    if depth > MAX_DEPTH:
        raise BTFSourceError(f"containers nested more than {MAX_DEPTH} deep", source=name)
    if len(buf) < 4:
        raise BTFFormatError(f"{len(buf)} bytes is too short to be BTF or a container",
                             source=name)
    if detect_byteorder(buf[:2]) is not None:
        return BTFBlobs(buf[:], name)
    from . import compress, deb, elf, kimage

    if elf.is_elf(buf):
        found = elf.read_btf_sections(buf, source=name, max_size=max_size)
        return BTFBlobs(found.btf, name, found.info.ptr_size, found.ext, found.base, "elf")
    if deb.is_ar(buf):
        pkg = deb.DebPackage(buf, source=name, max_size=max_size)
        member, image = pkg.kernel_image()
        return _extract(image, f"{name}:{member}", max_size, depth + 1)
    kind = compress.detect(buf)
    if kind is not None:
        out = compress.decompress(buf, kind, max_size=max_size, source=name)
        return _extract(out, f"{name}[{kind}]", max_size, depth + 1)
    if kimage.is_bzimage(buf):
        return _payload(buf, kimage.bzimage_payload(buf, source=name), name, max_size, depth)
    if kimage.is_zboot(buf):
        return _payload(buf, kimage.zboot_payload(buf, source=name), name, max_size, depth)
    if kimage.is_arm64_image(buf):
        found_raw = _embedded_btf(buf, name)
        if found_raw is None:
            raise BTFNotFoundError("kernel Image holds no BTF (CONFIG_DEBUG_INFO_BTF off?)",
                                   source=name)
        return found_raw
    return _scan(buf, name, max_size, depth)


def _payload(buf: Buffer, p: kimage.Payload, name: str, max_size: int, depth: int
             ) -> BTFBlobs:
    from . import compress

    if p.kind is None:
        raise BTFSourceError(f"kernel payload at offset {p.offset} uses an unknown compression",
                             source=name)
    out = compress.decompress(buf[p.offset : p.offset + p.length], p.kind, max_size=max_size,
                              source=name)
    return _extract(out, f"{name}[{p.kind}]", max_size, depth + 1)


def _embedded_btf(buf: Buffer, name: str) -> BTFBlobs | None:
    """The largest embedded blob that parses as BTF (kernel ``.BTF`` copied verbatim)."""
    from . import kimage

    cands = sorted(kimage.find_raw_btf(buf), key=lambda c: -c[1])
    for off, length in cands:
        blob = buf[off : off + length]
        src = f"{name}@{off:#x}"
        try:
            Spec(blob, source=src)
        except BTFError:
            continue
        return BTFBlobs(blob, src, container="image")
    return None


def _scan(buf: Buffer, name: str, max_size: int, depth: int) -> BTFBlobs:
    from . import compress, kimage

    found = _embedded_btf(buf, name)
    if found is not None:
        return found
    errors: list[str] = []
    for p in kimage.scan_compressed(buf):
        assert p.kind is not None
        try:
            out = compress.decompress(buf, p.kind, offset=p.offset, max_size=max_size,
                                      source=name)
            return _extract(out, f"{name}[{p.kind}@{p.offset:#x}]", max_size, depth + 1)
        except BTFSourceError:
            raise
        except BTFError as exc:
            errors.append(f"{p.kind}@{p.offset:#x}: {exc}")
    if errors:
        raise BTFNotFoundError(
            "no BTF found in any embedded compressed stream (" + "; ".join(errors[:4])
            + (" ..." if len(errors) > 4 else "") + ")",
            source=name,
        )
    head = buf[:4].hex(" ")
    raise BTFFormatError(
        f"unrecognised format (starts with {head}): not BTF, ELF, a Debian package, "
        "compressed data or a kernel image",
        source=name,
    )


# ----------------------------------------------------------------------- public API
def read_blobs(src: Source, *, source: str | None = None, max_size: int = DEFAULT_MAX_SIZE
               ) -> BTFBlobs:
    """Find the raw BTF (and ``.BTF.ext`` / ``.BTF.base``) in ``src`` without parsing it."""
    with _open(src, max_size) as (buf, name):
        found = _extract(buf, source or name, max_size, 0)
    return found


def load(
    src: Source,
    *,
    base: Spec | None = None,
    source: str | None = None,
    max_size: int = DEFAULT_MAX_SIZE,
    name_column: bool = False,
) -> Spec:
    """Parse the BTF found in ``src`` (a path or the bytes of any supported container).

    ``base`` makes the result split BTF on it (module BTF on vmlinux). An ELF's own
    ``.BTF.base`` is used as base when ``base`` is None. ``source`` overrides the name used
    in errors and ``Spec.source``. ``name_column`` is passed to :class:`~btf.spec.Spec`
    (for callers about to search many names). Raises :class:`~btf.errors.BTFError`
    subclasses only.
    """
    found = read_blobs(src, source=source, max_size=max_size)
    return _spec(found, base, name_column)


def _spec(found: BTFBlobs, base: Spec | None, name_column: bool = False) -> Spec:
    if found.base is not None:
        if base is not None:
            raise BTFSourceError(
                "has a .BTF.base section (distilled base): relocating it onto the given base "
                "is not supported; load it without base= to use its own .BTF.base",
                source=found.source,
            )
        base = Spec(found.base, source=f"{found.source}:.BTF.base", ptr_size=found.ptr_size)
    return Spec(found.btf, source=found.source, base=base, ptr_size=found.ptr_size,
                name_column=name_column)


def running_kernel(path: str | os.PathLike[str] = f"{SYSFS_BTF}/vmlinux", *,
                   name_column: bool = False) -> Spec:
    """The running kernel's BTF, read from sysfs (mapped privately when the kernel allows).

    ``name_column`` is passed to :class:`~btf.spec.Spec`."""
    p = os.fspath(path)
    if not os.path.exists(p):
        raise BTFNotFoundError(
            "kernel BTF is missing (was CONFIG_DEBUG_INFO_BTF enabled?)", source=p
        )
    with _open(p, DEFAULT_MAX_SIZE) as (buf, name):
        data = buf[:]
    if detect_byteorder(data) is None:
        raise BTFFormatError("does not start with the BTF magic", source=name)
    return Spec(data, source=name, name_column=name_column)


def running_modules(
    base: Spec | None = None, *, directory: str | os.PathLike[str] = SYSFS_BTF
) -> Iterator[tuple[str, Spec]]:
    """``(module name, split Spec)`` for every module BTF in ``directory`` (not vmlinux).

    ``base`` defaults to ``directory/vmlinux``. Kernels without
    ``CONFIG_DEBUG_INFO_BTF_MODULES`` simply have no such files: nothing is yielded.
    """
    from pathlib import Path

    d = Path(directory)
    if base is None:
        base = running_kernel(d / "vmlinux")
    try:
        names = sorted(e.name for e in os.scandir(d) if e.name != "vmlinux" and e.is_file())
    except OSError as exc:
        raise _os_error(exc, str(d)) from None
    for name in names:
        path = d / name
        with _open(path, DEFAULT_MAX_SIZE) as (buf, src):
            data = buf[:]
        if detect_byteorder(data) is None:
            raise BTFFormatError("module BTF does not start with the BTF magic", source=src)
        yield name, Spec(data, source=src, base=base)


def load_modules(
    src: str | os.PathLike[str],
    base: Spec | None = None,
    *,
    names: set[str] | list[str] | None = None,
    max_size: int = DEFAULT_MAX_SIZE,
) -> dict[str, Spec]:
    """Module BTF from a Debian package or a directory, as split BTF on ``base``.

    * ``.deb``: every ``(usr/)lib/modules/*/**/*.ko[.xz|.zst|.gz]``; ``base`` defaults to
      the package's own kernel BTF.
    * directory: every ``*.ko[.xz|.zst|.gz]`` below it, plus raw module BTF files (the
      ``/sys/kernel/btf`` layout); ``base`` defaults to a ``vmlinux`` file in it.

    Keys are module names as the kernel spells them (``-`` becomes ``_``). ``names``
    restricts the result; a requested name that is not found raises
    :class:`BTFNotFoundError`. Modules without a ``.BTF`` section are skipped.
    """
    from . import deb

    path = os.fspath(src)
    wanted = {n.replace("-", "_") for n in names} if names is not None else None
    out: dict[str, Spec] = {}
    if os.path.isdir(path):
        if base is None:
            base = load(os.path.join(path, "vmlinux"), max_size=max_size)
        for name, where, blob in _dir_modules(path, wanted, max_size):
            _add_module(out, name, where, blob, base, max_size)
    else:
        with _open(path, max_size) as (buf, name):
            if not deb.is_ar(buf):
                raise BTFSourceError("load_modules needs a Debian package or a directory",
                                     source=name)
            pkg = deb.DebPackage(buf, source=name, max_size=max_size)
            if base is None:
                member, image = pkg.kernel_image()
                base = _spec(_extract(image, f"{name}:{member}", max_size, 1), None)
            for mod, member, blob in pkg.modules(wanted):
                _add_module(out, mod, f"{name}:{member}", blob, base, max_size)
    if wanted is not None and wanted - out.keys():
        missing = ", ".join(sorted(wanted - out.keys()))
        raise BTFNotFoundError(f"no module BTF for: {missing}", source=path)
    return out


def _dir_modules(root: str, wanted: set[str] | None, max_size: int
                 ) -> Iterator[tuple[str, str, bytes]]:
    from . import compress, deb

    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            full = os.path.join(dirpath, fn)
            mod = deb.module_name(fn)
            if mod is None:
                if fn == "vmlinux" or not os.path.isfile(full):
                    continue
                # sysfs layout: raw split BTF named after the module; other files ignored
                mod = fn
            if wanted is not None and mod not in wanted:
                continue
            with _open(full, max_size) as (buf, name):
                if deb.module_name(fn) is None and detect_byteorder(buf[:2]) is None:
                    continue
                blob = buf[:]
            kind = deb.module_compression(fn)
            if kind is not None:
                blob = compress.decompress(blob, kind, max_size=max_size, source=full)
            yield mod, full, blob


def _add_module(out: dict[str, Spec], name: str, where: str, blob: bytes, base: Spec,
                max_size: int) -> None:
    if name in out:
        return
    if detect_byteorder(blob) is not None:
        out[name] = Spec(blob, source=where, base=base)
        return
    from . import elf

    try:
        found = elf.read_btf_sections(blob, source=where, max_size=max_size)
    except BTFNotFoundError:
        return
    out[name] = Spec(found.btf, source=where, base=base, ptr_size=found.info.ptr_size)
