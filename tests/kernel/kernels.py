"""Debian kernels for the real-kernel tests: find, download, extract vmlinuz and BTF.

Everything is cached under $COREPY_CACHE_DIR (default ~/.cache/corepy)/kernels/PACKAGE/ so a
second run needs neither apt nor decompression. Kernels come from Debian's package archive
through apt (the only network these machines have); the system's apt lists are used first
and, when they lack a series, a private apt configuration built from the system's own source
URIs (so nothing about the host's apt setup changes).
"""

from __future__ import annotations

import json
import lzma
import os
import re
import shutil
import struct
import subprocess
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

# Series -> regex over package names; the number group orders candidates (newest wins).
SERIES: dict[str, str] = {
    "6.1": r"linux-image-6\.1\.0-(\d+)-cloud-amd64-unsigned",
    "6.12": r"linux-image-6\.12\.(\d+)\+deb12-cloud-amd64-unsigned",
}
# Suites the private apt configuration asks for, by the suite the system source names.
_EXTRA_SUITES = {"bookworm": ["bookworm", "bookworm-updates", "bookworm-backports"],
                 "bookworm-security": ["bookworm-security"]}


class KernelUnavailable(Exception):
    """A kernel could not be obtained (no apt, no matching package, download failed)."""


@dataclass(frozen=True)
class Kernel:
    """One downloaded Debian kernel, ready to boot and to relocate against."""

    series: str  # "6.1", "6.12"
    package: str  # Debian binary package name
    version: str  # Debian package version
    release: str  # what `uname -r` prints in the guest
    banner: str  # the bzImage's version string (`uname -v` is its tail)
    vmlinuz: Path
    btf: Path  # raw .BTF of the vmlinux, as the booted kernel shows in /sys/kernel/btf/vmlinux
    config: Path


def cache_dir() -> Path:
    base = os.environ.get("COREPY_CACHE_DIR") or os.path.expanduser("~/.cache/corepy")
    return Path(base)


# ---------------------------------------------------------------------------------------------
# apt


def _private_apt_opts() -> list[str]:
    """apt options for a private configuration (own sources, lists and cache dirs)."""
    root = cache_dir() / "apt"
    uris: dict[str, set[str]] = {}
    for path, text in _system_sources():
        for uri, suite in _parse_sources(text, deb822=path.endswith(".sources")):
            uris.setdefault(uri, set()).update(_EXTRA_SUITES.get(suite, []))
    lines = [f"deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] {uri} {s} main"
             for uri, suites in sorted(uris.items()) for s in sorted(suites)]
    if not lines:
        raise KernelUnavailable("no Debian bookworm source in the system's apt configuration")
    (root / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (root / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    (root / "sources.list").write_text("\n".join(lines) + "\n")
    return ["-o", f"Dir::Etc::sourcelist={root / 'sources.list'}",
            "-o", "Dir::Etc::sourceparts=-",
            "-o", f"Dir::State::lists={root / 'lists'}",
            "-o", f"Dir::Cache={root}",
            "-o", "Dir::State::status=/dev/null",
            "-o", "APT::Architectures::=amd64"]


def _system_sources() -> list[tuple[str, str]]:
    out = []
    for p in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        if p.is_file() and p.suffix in (".list", ".sources"):
            out.append((str(p), p.read_text(errors="replace")))
    return out


def _parse_sources(text: str, deb822: bool) -> list[tuple[str, str]]:
    """(uri, suite) pairs of the Debian bookworm sources in a sources file."""
    pairs: list[tuple[str, str]] = []
    if deb822:
        for stanza in re.split(r"\n\s*\n", text):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.M))
            for uri in fields.get("URIs", "").split():
                pairs += [(uri, s) for s in fields.get("Suites", "").split()]
    else:
        for line in text.splitlines():
            m = re.match(r"\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
            if m:
                pairs.append((m.group(1), m.group(2)))
    return [(u, s) for u, s in pairs if s in _EXTRA_SUITES]


def _apt_candidates(series: str, opts: list[str]) -> list[str]:
    pattern = SERIES[series]
    ere = "^" + pattern.replace(r"(\d+)", "[0-9]+") + "$"  # apt takes POSIX ERE
    res = subprocess.run(["apt-cache", *opts, "search", "--names-only", ere],
                         capture_output=True, text=True, timeout=120)
    names = [line.split(" ", 1)[0] for line in res.stdout.splitlines()]
    names = [n for n in names if re.fullmatch(pattern, n)]
    return sorted(names, key=lambda n: int(re.fullmatch(pattern, n).group(1)))  # type: ignore


def _download(series: str, dest: Path) -> Path:
    """apt-get download the newest package of a series into dest; return the .deb path."""
    if shutil.which("apt-get") is None:
        raise KernelUnavailable("apt-get not found")
    pinned = os.environ.get("COREPY_KERNEL_" + series.replace(".", "_"))
    # The system's apt lists first, then a private configuration; COREPY_KERNEL_APT=private
    # skips the first.
    tries: list[list[str]] = [] if os.environ.get("COREPY_KERNEL_APT") == "private" else [[]]
    try:
        tries.append(_private_apt_opts())
    except (KernelUnavailable, OSError):
        pass
    errors = []
    for opts in tries:
        if opts:  # the private lists need their own update
            subprocess.run(["apt-get", *opts, "-q", "update"], capture_output=True,
                           timeout=300)
        names = [pinned] if pinned else _apt_candidates(series, opts)
        if not names:
            errors.append(f"no package matches {SERIES[series]}")
            continue
        dest.mkdir(parents=True, exist_ok=True)
        res = subprocess.run(["apt-get", *opts, "-q", "-o", "APT::Sandbox::User=root",
                              "download", names[-1]], cwd=dest, capture_output=True,
                             text=True, timeout=600)
        debs = sorted(dest.glob(f"{names[-1].replace('+', '?')}_*.deb"))
        if res.returncode == 0 and debs:
            return debs[-1]
        errors.append(f"apt-get download {names[-1]}: {res.stderr.strip()[-300:]}")
    raise KernelUnavailable(f"kernel {series}: " + "; ".join(errors))


# ---------------------------------------------------------------------------------------------
# extraction


def _extract_deb(deb: Path, dest: Path) -> tuple[Path, Path, str]:
    """vmlinuz and config from the package; returns their paths and the kernel release."""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    vmlinuz = config = None
    release = ""
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
        for member in tar:
            name = member.name.lstrip("./")
            if not member.isfile() or not name.startswith("boot/"):
                continue
            f = tar.extractfile(member)
            assert f is not None
            base = name.split("/", 1)[1]
            if base.startswith("vmlinuz-"):
                release = base[len("vmlinuz-"):]
                vmlinuz = dest / "vmlinuz"
                vmlinuz.write_bytes(f.read())
            elif base.startswith("config-"):
                config = dest / "config"
                config.write_bytes(f.read())
    proc.wait()
    if vmlinuz is None or config is None:
        raise KernelUnavailable(f"{deb.name} has no /boot/vmlinuz-* or /boot/config-*")
    return vmlinuz, config, release


def bzimage_banner(image: bytes) -> str:
    """The version string a bzImage carries (boot protocol: kernel_version at 0x20e)."""
    (off,) = struct.unpack_from("<H", image, 0x20E)
    raw = image[off + 0x200:off + 0x200 + 256]
    return raw.split(b"\0", 1)[0].decode(errors="replace")


def bzimage_vmlinux(image: bytes) -> bytes:
    """Decompress the vmlinux ELF inside an x86 bzImage (gzip, xz, lz4 legacy or zstd)."""
    if image[0x202:0x206] != b"HdrS":
        raise KernelUnavailable("not a bzImage")
    setup_sects = image[0x1F1] or 4
    payload_off, payload_len = struct.unpack_from("<II", image, 0x248)
    start = (setup_sects + 1) * 512 + payload_off
    payload = image[start:start + payload_len]
    if payload[:2] == b"\x1f\x8b":
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(payload)
    if payload[:6] == b"\xfd7zXZ\x00":
        return lzma.LZMADecompressor(lzma.FORMAT_XZ).decompress(payload)
    if payload[:4] == b"\x28\xb5\x2f\xfd":
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj().decompress(payload)
    if payload[:4] == b"\x02\x21\x4c\x18":  # lz4 legacy frame: (u32 size, block)*
        import lz4.block

        out, pos = bytearray(), 4
        while pos + 4 <= len(payload):
            (size,) = struct.unpack_from("<I", payload, pos)
            if size == 0 or pos + 4 + size > len(payload):
                break  # the kernel appends the uncompressed size: not a block
            block = payload[pos + 4:pos + 4 + size]
            out += lz4.block.decompress(block, uncompressed_size=8 << 20)
            pos += 4 + size
        return bytes(out)
    raise KernelUnavailable(f"unknown bzImage compression {payload[:6].hex()}")


def elf_section(elf: bytes, wanted: str) -> bytes:
    """One section of a little-endian ELF64 file."""
    (shoff,) = struct.unpack_from("<Q", elf, 0x28)
    _ehs, _phes, _phn, shentsize, shnum, shstrndx = struct.unpack_from("<HHHHHH", elf, 0x34)
    hdrs = [struct.unpack_from("<IIQQQQIIQQ", elf, shoff + i * shentsize) for i in range(shnum)]
    names_off = hdrs[shstrndx][4]
    for h in hdrs:
        name_start = names_off + h[0]
        name = elf[name_start:elf.index(b"\0", name_start)].decode()
        if name == wanted:
            return elf[h[4]:h[4] + h[5]]
    raise KernelUnavailable(f"vmlinux has no {wanted} section")


# ---------------------------------------------------------------------------------------------


def get_kernel(series: str) -> Kernel:
    """A ready kernel of a series, from the cache or downloaded and extracted now."""
    if series not in SERIES:
        raise KernelUnavailable(f"unknown kernel series {series!r}; known: {sorted(SERIES)}")
    root = cache_dir() / "kernels"
    pinned = os.environ.get("COREPY_KERNEL_" + series.replace(".", "_"))
    if os.environ.get("COREPY_KERNEL_REFRESH") != "1":
        cached = sorted(root.glob(f"{series}-*/kernel.json"))
        for meta in reversed(cached):
            k = _read_meta(meta)
            if k is not None and (not pinned or k.package == pinned):
                return k
    tmp = root / f".download-{series}-{os.getpid()}"
    try:
        deb = _download(series, tmp)
        package, version = deb.name.split("_")[:2]
        version = version.replace("%3a", ":")
        dest = root / f"{series}-{package}"
        dest.mkdir(parents=True, exist_ok=True)
        try:
            vmlinuz, config, release = _extract_deb(deb, dest)
            image = vmlinuz.read_bytes()
            btf = dest / "vmlinux.btf"
            btf.write_bytes(elf_section(bzimage_vmlinux(image), ".BTF"))
        except Exception as err:  # tar, xz, zlib, zstd (ZstdError), lz4, ELF: all "cannot unpack"
            raise KernelUnavailable(f"cannot unpack {deb.name}: {err}") from err
        k = Kernel(series, package, version, release, bzimage_banner(image), vmlinuz, btf,
                   config)
        info = {"series": series, "package": package, "version": version, "release": release,
                "banner": k.banner}
        (dest / "kernel.json").write_text(json.dumps(info, indent=1) + "\n")
        return k
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _read_meta(path: Path) -> Kernel | None:
    try:
        m = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    d = path.parent
    files = [d / "vmlinuz", d / "vmlinux.btf", d / "config"]
    if not all(f.is_file() for f in files):
        return None
    return Kernel(m["series"], m["package"], m["version"], m["release"], m["banner"], *files)
