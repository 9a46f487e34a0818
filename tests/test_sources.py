"""btf.sources and its containers, on the committed real kernel BTF (fixtures/kernels).

Expected values (type counts, ids, sizes, offsets) were read from ``bpftool btf dump`` of
the same files; see fixtures/kernels/README.md. Containers that are not committed (ELF,
compressed files, boot images, packages, module trees) are built here around that real
BTF; whole Debian packages are read in test_sources_network.py.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path

import lz4.block
import lz4.frame
import pytest
import zstandard

from btf import compress, deb, elf, kimage, sources
from btf.errors import (
    BTFError,
    BTFFormatError,
    BTFNotFoundError,
    BTFSourceError,
)
from btf.kinds import Kind
from btf.spec import Spec

REPO = Path(__file__).resolve().parent.parent
KDIR = REPO / "fixtures" / "kernels"
CORE = REPO / "fixtures" / "core"

# name: (byteorder, types, task_struct id, size, pid bit offset, "long int" id) from bpftool
KERNELS = {
    "debian-6.1-cloud-amd64": ("little", 95068, 191, 9728, 19328, 50),
    "debian-6.12-cloud-amd64": ("little", 107331, 112, 9792, 19456, 44),
    "debian-6.1-cloud-arm64": ("little", 97830, 238, 4160, 10816, 15),
    "debian-6.12-s390x": ("big", 88137, 254, 5120, 15360, 39),
}
# module fixture: (base, own types from bpftool)
MODULES = {
    "debian-6.12-cloud-amd64.tun": ("debian-6.12-cloud-amd64", 114),
    "debian-6.12-cloud-amd64.vxlan": ("debian-6.12-cloud-amd64", 354),
    "debian-6.12-cloud-amd64.nf_tables": ("debian-6.12-cloud-amd64", 1322),
    "debian-6.12-s390x.tun": ("debian-6.12-s390x", 118),
}


def _sums() -> dict[str, str]:
    out = {}
    for line in (KDIR / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(None, 1)
        out[name] = digest
    return out


SUMS = _sums()
_RAW: dict[str, bytes] = {}


def raw(name: str) -> bytes:
    """Uncompressed fixture BTF, checked against SHA256SUMS."""
    if name not in _RAW:
        data = lzma.decompress((KDIR / f"{name}.btf.xz").read_bytes())
        assert hashlib.sha256(data).hexdigest() == SUMS[f"{name}.btf"]
        _RAW[name] = data
    return _RAW[name]


@pytest.fixture(scope="module")
def v612() -> Spec:
    return sources.load(KDIR / "debian-6.12-cloud-amd64.btf.xz")


@pytest.fixture(scope="module")
def s390() -> Spec:
    return sources.load(KDIR / "debian-6.12-s390x.btf.xz")


# --------------------------------------------------------------------- ELF builder
def make_elf(
    sections: list[tuple[str, int, int, bytes]],
    *,
    cls: int = 64,
    endian: str = "<",
    machine: int = 247,  # EM_BPF
) -> bytes:
    """A minimal relocatable ELF with ``(name, sh_type, sh_flags, data)`` sections."""
    is64 = cls == 64
    ehsize, shentsize = (64, 64) if is64 else (52, 40)
    names = b"\0"
    name_offs = []
    for name, *_ in sections + [(".shstrtab", 3, 0, b"")]:
        name_offs.append(len(names))
        names += name.encode() + b"\0"
    body = bytearray()
    placed = []
    for _n, _t, _f, data in sections:
        while (ehsize + len(body)) % 8:
            body += b"\0"
        placed.append((ehsize + len(body), len(data)))
        body += data
    placed.append((ehsize + len(body), len(names)))
    body += names
    while (ehsize + len(body)) % 8:
        body += b"\0"
    shoff = ehsize + len(body)
    types = [s[1] for s in sections] + [3]
    flags = [s[2] for s in sections] + [0]
    shfmt = endian + ("IIQQQQIIQQ" if is64 else "IIIIIIIIII")
    table = struct.pack(shfmt, *([0] * 10))
    for i, (off, size) in enumerate(placed):
        size_in_hdr = size
        table += struct.pack(shfmt, name_offs[i], types[i], flags[i], 0, off, size_in_hdr,
                             0, 0, 1, 0)
    shnum = len(placed) + 1
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 1 if endian == "<" else 2, 1]) + bytes(9)
    hfmt = endian + ("HHIQQQIHHHHHH" if is64 else "HHIIIIIHHHHHH")
    header = ident + struct.pack(hfmt, 1, machine, 1, 0, 0, shoff, 0, ehsize, 0, 0,
                                 shentsize, shnum, shnum - 1)
    return header + bytes(body) + table


def btf_elf(btf: bytes, **kw: object) -> bytes:
    return make_elf([(".text", 1, 6, b"\x95" + bytes(7)), (".BTF", 1, 0, btf)], **kw)  # type: ignore[arg-type]


# -------------------------------------------------------------- legacy lz4 encoder
def lz4_legacy(data: bytes, trailer: bool = True) -> bytes:
    """Kernel-style legacy LZ4 (``lz4 -l``): magic, then (u32 size, block) per 8 MiB."""
    out = bytearray(b"\x02\x21\x4c\x18")
    for pos in range(0, len(data), 8 << 20):
        block = lz4.block.compress(data[pos : pos + (8 << 20)], store_size=False)
        out += struct.pack("<I", len(block)) + block
    if trailer:  # the kernel build appends the uncompressed size
        out += struct.pack("<I", len(data))
    return bytes(out)


def zstd_c(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=3).compress(data)


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "xz": lambda d: lzma.compress(d, preset=0),
    "zstd": zstd_c,
    "lz4": lz4.frame.compress,
    "lz4-legacy": lz4_legacy,
    "bzip2": lambda d: bz2.compress(d, 1),
}


# ========================================================================= raw BTF
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_fixture_kernels(name: str) -> None:
    order, count, ts_id, ts_size, pid_off, long_id = KERNELS[name]
    spec = sources.load(KDIR / f"{name}.btf.xz")
    assert spec.data == raw(name)
    assert spec.byteorder == order
    assert len(spec) == count + 1  # plus void
    assert spec.source == f"{KDIR / name}.btf.xz[xz]"
    assert spec.find_by_name("task_struct", Kind.STRUCT) == [ts_id]
    ts = spec.type(ts_id)
    assert ts.size == ts_size
    assert [m.bit_offset for m in ts.members if m.name == "pid"] == [pid_off]
    assert long_id in spec.find_by_name("long int", Kind.INT)
    assert spec.ptr_size == 8  # raw BTF: libbpf's guess from "long"


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_raw_bytes_and_file(name: str, tmp_path: Path) -> None:
    data = raw(name)
    from_bytes = sources.load(data)
    assert from_bytes.source == "<bytes>" and len(from_bytes) == KERNELS[name][1] + 1
    path = tmp_path / "vmlinux.btf"
    path.write_bytes(data)
    spec = sources.load(path, source="custom")
    assert spec.source == "custom" and spec.data == data
    assert sources.read_blobs(path).container == "raw"


def test_big_endian_raw_is_big(s390: Spec) -> None:
    assert raw("debian-6.12-s390x")[:2] == b"\xeb\x9f"
    assert s390.byteorder == "big"
    assert s390.type(254).name == "task_struct"


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
@pytest.mark.parametrize("name", ["debian-6.12-cloud-amd64", "debian-6.12-s390x"])
def test_compressed_raw(kind: str, name: str, tmp_path: Path) -> None:
    data = raw(name)
    packed = COMPRESSORS[kind](data)
    assert compress.detect(packed) == kind
    path = tmp_path / "x.btf.whatever"
    path.write_bytes(packed)
    spec = sources.load(path)
    assert spec.data == data
    assert spec.source == f"{path}[{kind}]"
    assert len(spec) == KERNELS[name][1] + 1


def test_compressed_elf(tmp_path: Path) -> None:
    data = raw("debian-6.12-cloud-amd64")
    path = tmp_path / "vmlinux.zst"
    path.write_bytes(zstd_c(btf_elf(data)))
    found = sources.read_blobs(path)
    assert found.container == "elf" and found.btf == data and found.ptr_size == 8


# ============================================================================ split
@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_on_base(name: str) -> None:
    base_name, own = MODULES[name]
    base = sources.load(raw(base_name))
    mod = sources.load(KDIR / f"{name}.btf.xz", base=base)
    assert mod.data == raw(name)
    assert mod.base is base and mod.byteorder == base.byteorder
    assert mod.first_id == len(base) == KERNELS[base_name][1] + 1
    assert len(mod.own_ids) == own
    assert mod.str_base == base.header.str_len


def test_module_types_resolve_into_base(v612: Spec) -> None:
    tun = sources.load(raw("debian-6.12-cloud-amd64.tun"), base=v612)
    tf = tun.type(107339)
    assert (tf.name, tf.size, len(tf.members)) == ("tun_file", 1728, 14)
    by_name = {m.name: m for m in tf.members}
    sk, sock = by_name["sk"], by_name["socket"]
    # the member name "sk" is a base string, "tun_file" is the module's own string
    assert sk.name_off < v612.header.str_len <= tf.name_off
    assert (sk.type, tun.name(sk.type), tun.type(sk.type).size) == (3075, "sock", 776)
    assert (sock.type, tun.name(sock.type), sock.bit_offset) == (3335, "socket", 6656)
    assert tun.type(107341).name == "tun_struct" and tun.type(107341).size == 10616
    assert tun.find_by_name("tun_struct", Kind.STRUCT) == [107341]
    nft = sources.load(raw("debian-6.12-cloud-amd64.nf_tables"), base=v612)
    assert (nft.type(107352).name, nft.type(107352).size) == ("nft_ctx", 56)


def test_big_endian_module(s390: Spec) -> None:
    tun = sources.load(raw("debian-6.12-s390x.tun"), base=s390)
    assert tun.byteorder == "big" and tun.first_id == 88138
    names = {tun.type(i).name for i in tun.own_ids}
    assert "tun_struct" in names or "tun_file" in names


# ============================================================================== ELF
def test_elf_class_sets_pointer_size(v612: Spec) -> None:
    data = raw("debian-6.12-cloud-amd64")
    spec32 = sources.load(btf_elf(data, cls=32))
    assert spec32.ptr_size == 4  # libbpf: ELFCLASS32 -> 4, whatever "long" says
    assert spec32.resolve_size(v612.find_by_name("long int", Kind.INT)[0]) == 8
    spec64 = sources.load(btf_elf(data, cls=64))
    assert spec64.ptr_size == 8


def test_big_endian_elf(s390: Spec) -> None:
    spec = sources.load(btf_elf(raw("debian-6.12-s390x"), endian=">"))
    assert spec.byteorder == "big" and len(spec) == len(s390)


def test_elf_with_ext_and_base(v612: Spec) -> None:
    data = make_elf([
        (".BTF", 1, 0, raw("debian-6.12-cloud-amd64.tun")),
        (".BTF.base", 1, 0, raw("debian-6.12-cloud-amd64")),
    ])
    blobs = sources.read_blobs(data)
    assert blobs.base == raw("debian-6.12-cloud-amd64") and blobs.ext is None
    spec = sources.load(data)  # uses its own .BTF.base
    assert spec.base is not None and spec.base.source == "<bytes>:.BTF.base"
    assert spec.first_id == 107332 and spec.type(107339).name == "tun_file"
    with pytest.raises(BTFSourceError, match="distilled base"):
        sources.load(data, base=v612)


def test_compressed_elf_section() -> None:
    data = raw("debian-6.12-cloud-amd64.vxlan")
    chdr = struct.pack("<IIQQ", 1, 0, len(data), 1)
    packed = make_elf([(".BTF", 1, elf.SHF_COMPRESSED, chdr + zlib.compress(data))])
    assert sources.read_blobs(packed).btf == data
    chdr_z = struct.pack("<IIQQ", 2, 0, len(data), 1)
    packed = make_elf([(".BTF", 1, elf.SHF_COMPRESSED, chdr_z + zstd_c(data))])
    assert sources.read_blobs(packed).btf == data


def test_corrupt_compressed_elf_section() -> None:
    data = raw("debian-6.12-cloud-amd64.vxlan")
    chdr = struct.pack("<IIQQ", 1, 0, len(data), 1)
    packed = make_elf([(".BTF", 1, elf.SHF_COMPRESSED, chdr + b"\x78\x9c not zlib at all")])
    with pytest.raises(BTFFormatError, match=r"section \.BTF: corrupt zlib data"):
        sources.read_blobs(packed)


def test_elf_without_section_table() -> None:
    good = bytearray(btf_elf(raw("debian-6.12-cloud-amd64.tun")))
    struct.pack_into("<Q", good, 0x28, 0)  # e_shoff = 0: no section header table
    assert elf.ElfReader(bytes(good)).sections == []
    with pytest.raises(BTFNotFoundError, match="no section header table"):
        sources.load(bytes(good))


def _bpf_objects() -> list[Path]:
    objs = sorted((CORE / "bpfel").glob("prog__*.o"))[:2] + sorted(
        (CORE / "bpfeb").glob("prog__*.o"))[:2]
    return objs


@pytest.mark.parametrize("obj", _bpf_objects(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_bpf_objects(obj: Path) -> None:
    blobs = sources.read_blobs(obj)
    assert blobs.container == "elf" and blobs.ptr_size == 8
    assert blobs.ext is not None  # clang emits .BTF.ext for CO-RE programs
    spec = sources.load(obj)
    assert spec.byteorder == ("big" if obj.parent.name == "bpfeb" else "little")
    _check_against_bpftool(obj, spec)


def _check_against_bpftool(path: Path, spec: Spec) -> None:
    tool = shutil.which("bpftool")
    if tool is None:
        return
    out = subprocess.run([tool, "btf", "dump", "file", str(path)], capture_output=True,
                         text=True, check=True).stdout
    assert sum(line.startswith("[") for line in out.splitlines()) == len(spec) - 1


BPF_SRC = r"""
struct task_struct { int pid; int tgid; } __attribute__((preserve_access_index));
struct { int x; } bss_var;
int probe(struct task_struct *t) { return __builtin_preserve_access_index(t->tgid); }
char _license[] __attribute__((section("license"))) = "GPL";
"""


@pytest.mark.parametrize("target", ["bpfel", "bpfeb"])
def test_clang_built_object(target: str, tmp_path: Path) -> None:
    clang = shutil.which("clang-19") or shutil.which("clang")
    if clang is None:
        pytest.skip("clang not installed: cannot build a BPF object")
    src = tmp_path / "p.c"
    src.write_text(BPF_SRC)
    obj = tmp_path / "p.o"
    subprocess.run([clang, "-g", "-O2", "-target", target, "-c", str(src), "-o", str(obj)],
                   check=True)
    blobs = sources.read_blobs(obj)
    assert blobs.ext is not None and blobs.ext[:2] == blobs.btf[:2]
    spec = sources.load(obj)
    assert spec.byteorder == ("little" if target == "bpfel" else "big")
    (ts,) = spec.find_by_name("task_struct", Kind.STRUCT)
    assert [m.name for m in spec.type(ts).members] == ["pid", "tgid"]
    _check_against_bpftool(obj, spec)
    # stripped of BTF: a clear "no .BTF" error
    plain = tmp_path / "plain.c"
    plain.write_text("int f(int x) { return x + 1; }\n")
    nobtf = tmp_path / "nobtf.o"
    subprocess.run([clang, "-O2", "-target", target, "-c", str(plain), "-o", str(nobtf)],
                   check=True)
    with pytest.raises(BTFNotFoundError, match=r"no \.BTF section"):
        sources.load(nobtf)


# ==================================================================== boot images
def _bzimage(payload: bytes, setup_sects: int = 3, version: int = 0x20F) -> bytes:
    """An x86 boot image: real-mode setup sectors, then protected-mode code + payload."""
    setup = bytearray((setup_sects + 1) * 512)
    setup[0:2] = b"MZ"
    setup[0x1F1] = setup_sects
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, version)
    pm_code = b"\x90" * 700  # stands for the decompressor stub
    struct.pack_into("<II", setup, 0x248, len(pm_code), len(payload) + 4)
    return bytes(setup) + pm_code + payload + struct.pack("<I", 12345) + b"\0" * 64


@pytest.mark.parametrize("kind", ["gzip", "xz", "zstd", "lz4-legacy", "bzip2"])
def test_bzimage(kind: str) -> None:
    data = raw("debian-6.12-cloud-amd64")
    vmlinux = btf_elf(data, machine=62)
    image = _bzimage(COMPRESSORS[kind](vmlinux))
    assert kimage.is_bzimage(image)
    found = sources.read_blobs(image)
    assert found.btf == data and found.container == "elf" and found.ptr_size == 8
    assert found.source == f"<bytes>[{kind}]"


def test_bzimage_errors() -> None:
    image = bytearray(_bzimage(zstd_c(btf_elf(raw("debian-6.12-cloud-amd64.tun")))))
    struct.pack_into("<I", image, 0x24C, 10**8)  # payload longer than the file
    with pytest.raises(BTFFormatError, match="outside the file"):
        sources.load(bytes(image))
    old = _bzimage(b"x", version=0x206)
    with pytest.raises(BTFSourceError, match="older than 2.08"):
        sources.load(old)
    lzo = _bzimage(b"\x89LZO\0\r\n\x1a\n" + bytes(100))
    with pytest.raises(BTFSourceError, match="lzo is not supported"):
        sources.load(lzo)


def _arm64_image(blob: bytes, *, decoy: bool = True) -> bytes:
    head = bytearray(64)
    head[0:2] = b"MZ"
    head[0x38:0x3C] = b"ARM\x64"
    code = bytearray(os.urandom(4096))
    if decoy:  # BTF magic in code/data that is not a BTF header
        code[100:104] = b"\x9f\xeb\x01\x00"
        code[200:224] = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, 4, 4, 10**9)
    return bytes(head) + bytes(code) + blob + os.urandom(1000)


def test_arm64_image() -> None:
    data = raw("debian-6.1-cloud-arm64")
    image = _arm64_image(data)
    found = sources.read_blobs(image)
    assert found.btf == data and found.container == "image"
    assert found.source == f"<bytes>@{64 + 4096:#x}"
    spec = sources.load(gzip.compress(image, 1))  # Image.gz
    assert spec.data == data and spec.source.startswith("<bytes>[gzip]@")
    with pytest.raises(BTFNotFoundError, match="holds no BTF"):
        sources.load(_arm64_image(b""))


def test_zboot_image() -> None:
    data = raw("debian-6.1-cloud-arm64")
    payload = gzip.compress(_arm64_image(data, decoy=False), 1)
    head = bytearray(64)
    head[0:2] = b"MZ"
    head[4:8] = b"zimg"
    struct.pack_into("<II", head, 8, 512, len(payload))
    head[24:28] = b"gzip"
    image = bytes(head) + bytes(448) + payload + bytes(32)
    assert sources.load(image).data == data


def test_unknown_wrapper_is_scanned() -> None:
    """Like the s390x vmlinuz: a zstd stream somewhere inside an unknown image."""
    data = raw("debian-6.12-s390x")
    kernel = os.urandom(5000) + data + os.urandom(100)
    image = b"\x00\x08\x00\x00" + os.urandom(3000) + b"\x28\xb5\x2f\xfd" + bytes(40) \
        + zstd_c(kernel) + os.urandom(64)
    found = sources.read_blobs(image)
    assert found.btf == data
    assert "[zstd@0xbb8]" not in found.source  # the false zstd magic at 3004 was skipped
    assert found.source.endswith(f"@{5000:#x}")


# ========================================================================== .deb
def _ar(members: list[tuple[str, bytes]]) -> bytes:
    out = bytearray(b"!<arch>\n")
    for name, data in members:
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode()
        out += data + (b"\n" if len(data) % 2 else b"")
    return bytes(out)


def _tar(files: dict[str, bytes], kind: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for d in ("./", "./boot/"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            tf.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    plain = buf.getvalue()
    return {"xz": lambda d: lzma.compress(d, preset=0), "zst": zstd_c,
            "gz": gzip.compress, "": lambda d: d}[kind](plain)


def _deb(files: dict[str, bytes], kind: str = "xz") -> bytes:
    return _ar([
        ("debian-binary", b"2.0\n"),
        ("control.tar.xz", lzma.compress(b"")),
        (f"data.tar.{kind}".rstrip("."), _tar(files, kind)),
    ])


@pytest.fixture(scope="module")
def fake_deb_files() -> dict[str, bytes]:
    v = "6.12.117+deb12-cloud-amd64"
    mods = f"./lib/modules/{v}/kernel"
    return {
        f"./boot/config-{v}": b"CONFIG_DEBUG_INFO_BTF=y\n",
        f"./boot/vmlinuz-{v}": _bzimage(zstd_c(btf_elf(raw("debian-6.12-cloud-amd64")))),
        f"{mods}/drivers/net/tun.ko": btf_elf(raw("debian-6.12-cloud-amd64.tun")),
        f"{mods}/drivers/net/vxlan/vxlan.ko.xz": lzma.compress(
            btf_elf(raw("debian-6.12-cloud-amd64.vxlan"))),
        f"{mods}/net/netfilter/nf_tables.ko.zst": zstd_c(
            btf_elf(raw("debian-6.12-cloud-amd64.nf_tables"))),
        f"{mods}/drivers/nobtf-mod.ko": make_elf([(".text", 1, 6, b"\x95" + bytes(7))]),
    }


@pytest.mark.parametrize("kind", ["xz", "zst", "gz", ""])
def test_deb(kind: str, fake_deb_files: dict[str, bytes], tmp_path: Path) -> None:
    path = tmp_path / "linux-image.deb"
    path.write_bytes(_deb(fake_deb_files, kind))
    base = sources.load(path)
    assert base.data == raw("debian-6.12-cloud-amd64")
    assert base.source == f"{path}:boot/vmlinuz-6.12.117+deb12-cloud-amd64[zstd]"
    mods = sources.load_modules(path, base)
    assert sorted(mods) == ["nf_tables", "tun", "vxlan"]  # nobtf_mod skipped
    for name, spec in mods.items():
        assert spec.data == raw(f"debian-6.12-cloud-amd64.{name}")
        assert spec.base is base and spec.first_id == 107332
    assert mods["vxlan"].source.endswith("vxlan.ko.xz")
    # base defaults to the package's own kernel
    only = sources.load_modules(path, names=["nf-tables"])
    assert list(only) == ["nf_tables"] and only["nf_tables"].base is not None
    assert only["nf_tables"].type(107352).name == "nft_ctx"
    with pytest.raises(BTFNotFoundError, match="no module BTF for: ext4"):
        sources.load_modules(path, base, names=["tun", "ext4"])


def test_deb_errors(fake_deb_files: dict[str, bytes]) -> None:
    good = _deb(fake_deb_files)
    with pytest.raises(BTFFormatError, match="truncated"):
        sources.load(good[: len(good) // 2])
    nokernel = _deb({"./usr/share/doc/x": b"hello"})
    with pytest.raises(BTFNotFoundError, match="no kernel image"):
        sources.load(nokernel)
    notdeb = _ar([("foo.o", b"x")])
    with pytest.raises(BTFSourceError, match="not a Debian package"):
        sources.load(notdeb)
    # data.tar.xz whose xz stream is cut: the tar reader fails cleanly
    members = deb.ar_members(good)
    dt = members[2]
    cut = _ar([("debian-binary", b"2.0\n"), ("control.tar.xz", lzma.compress(b"")),
               ("data.tar.xz", good[dt.offset : dt.offset + dt.size // 3])])
    with pytest.raises(BTFFormatError):
        sources.load(cut)
    with pytest.raises(BTFSourceError, match="size cap"):
        sources.load(good, max_size=1 << 20)


# =================================================================== module trees
def test_module_directory(fake_deb_files: dict[str, bytes], tmp_path: Path,
                          v612: Spec) -> None:
    for name, data in fake_deb_files.items():
        if "/lib/modules/" in name:
            p = tmp_path / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
    (tmp_path / "README").write_text("not a module")
    mods = sources.load_modules(tmp_path, v612)
    assert sorted(mods) == ["nf_tables", "tun", "vxlan"]
    assert all(m.base is v612 for m in mods.values())
    assert mods["tun"].type(107341).name == "tun_struct"


def test_sysfs_layout(tmp_path: Path) -> None:
    (tmp_path / "vmlinux").write_bytes(raw("debian-6.12-cloud-amd64"))
    for mod in ("tun", "vxlan"):
        (tmp_path / mod).write_bytes(raw(f"debian-6.12-cloud-amd64.{mod}"))
    got = list(sources.running_modules(directory=tmp_path))
    assert [n for n, _ in got] == ["tun", "vxlan"]
    assert all(s.first_id == 107332 and s.base is not None for _, s in got)
    assert got[0][1].source == str(tmp_path / "tun")
    mods = sources.load_modules(tmp_path)  # base = vmlinux in the directory
    assert sorted(mods) == ["tun", "vxlan"]
    (tmp_path / "broken").write_bytes(b"\x9f\xeb\x01\x00" + bytes(8))
    with pytest.raises(BTFFormatError, match="broken"):
        list(sources.running_modules(directory=tmp_path))


# =================================================================== running kernel
SYSFS = Path("/sys/kernel/btf/vmlinux")


@pytest.mark.skipif(not SYSFS.exists(), reason="no /sys/kernel/btf/vmlinux on this kernel")
def test_running_kernel() -> None:
    spec = sources.running_kernel()
    assert spec.data == SYSFS.read_bytes()
    assert spec.source == str(SYSFS)
    direct = Spec(SYSFS.read_bytes())
    assert len(spec) == len(direct)
    (ts,) = spec.find_by_name("task_struct", Kind.STRUCT)
    assert spec.type(ts).size == direct.type(ts).size
    assert sources.load(SYSFS).data == spec.data
    listed = sorted(p.name for p in SYSFS.parent.iterdir() if p.name != "vmlinux")
    assert [n for n, _ in sources.running_modules(spec)] == listed


def test_running_kernel_missing(tmp_path: Path) -> None:
    with pytest.raises(BTFNotFoundError, match="CONFIG_DEBUG_INFO_BTF"):
        sources.running_kernel(tmp_path / "vmlinux")


# ====================================================================== bad input
@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_decompression_bomb(kind: str) -> None:
    bomb = COMPRESSORS[kind](bytes(64 << 20))
    assert len(bomb) < 1 << 20
    with pytest.raises(BTFSourceError, match="exceeds the size cap of 4 MiB"):
        sources.load(bomb, max_size=4 << 20)
    with pytest.raises(BTFSourceError, match="size cap"):
        compress.decompress(bomb, max_size=4 << 20)


def test_default_cap_stops_big_bomb() -> None:
    """600 MiB of zeros in ~20 KB of zstd: refused at the default 512 MiB cap."""
    cobj = zstandard.ZstdCompressor(level=1).compressobj()
    chunk = bytes(16 << 20)
    bomb = b"".join(cobj.compress(chunk) for _ in range(600 // 16)) + cobj.flush()
    assert len(bomb) < 1 << 20
    with pytest.raises(BTFSourceError, match="512 MiB"):
        sources.load(bomb)


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_truncated_compressed(kind: str) -> None:
    packed = COMPRESSORS[kind](raw("debian-6.12-cloud-amd64.nf_tables"))
    with pytest.raises(BTFFormatError):
        sources.load(packed[: len(packed) // 2])


def test_truncated_elf_every_layer() -> None:
    elf_bytes = btf_elf(raw("debian-6.12-cloud-amd64.tun"))
    for cut in [0, 3, 10, 20, 40, 63, 64, 100, len(elf_bytes) // 2, len(elf_bytes) - 1]:
        with pytest.raises(BTFError) as info:
            sources.load(elf_bytes[:cut])
        assert type(info.value) is not BTFError  # always a specific subclass
    with pytest.raises(BTFFormatError, match="truncated"):
        sources.load(elf_bytes[:-1])


@pytest.mark.parametrize("obj", _bpf_objects()[:1], ids=["committed-object"])
def test_truncated_real_object(obj: Path, tmp_path: Path) -> None:
    data = obj.read_bytes()
    for cut in range(0, len(data), max(1, len(data) // 97)):
        p = tmp_path / "cut.o"
        p.write_bytes(data[:cut])
        with pytest.raises(BTFError, match=str(p)):
            sources.load(p)


def test_elf_without_btf() -> None:
    with pytest.raises(BTFNotFoundError, match=r"no \.BTF section"):
        sources.load(make_elf([(".text", 1, 6, bytes(8))]))


def test_btf_section_wrong_type() -> None:
    data = make_elf([(".BTF", 8, 0, raw("debian-6.12-cloud-amd64.tun"))])  # SHT_NOBITS
    with pytest.raises(BTFFormatError, match="expected SHT_PROGBITS"):
        sources.load(data)


def test_byte_order_mismatch() -> None:
    le_btf = raw("debian-6.12-cloud-amd64.tun")
    with pytest.raises(BTFFormatError,
                       match="holds little-endian BTF but the ELF file is big-endian"):
        sources.load(btf_elf(le_btf, endian=">"))
    with pytest.raises(BTFFormatError,
                       match="holds big-endian BTF but the ELF file is little-endian"):
        sources.load(btf_elf(raw("debian-6.12-s390x.tun"), endian="<"))


def test_btf_section_without_magic() -> None:
    with pytest.raises(BTFFormatError, match="does not start with the BTF magic"):
        sources.load(make_elf([(".BTF", 1, 0, b"hello world, not btf")]))


@pytest.mark.parametrize("blob", [
    b"\x9f\xeb\x01\x00" + os.urandom(200),
    b"\xeb\x9f\x01\x00" + bytes(20),
    b"\x9f\xeb",
    b"\x9f\xeb\x01\x00" + struct.pack("<IIIII", 24, 0, 10**6, 10**6, 5) + bytes(4),
], ids=["random", "be-zero-header", "two-bytes", "huge-sections"])
def test_garbage_with_btf_magic(blob: bytes) -> None:
    with pytest.raises(BTFFormatError):
        sources.load(blob)


@pytest.mark.parametrize("blob", [b"", b"abc", b"hello world" * 100, os.urandom(5000)],
                         ids=["empty", "3-bytes", "text", "random"])
def test_unrecognised_input(blob: bytes, tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(blob)
    with pytest.raises(BTFFormatError, match=str(p)):
        sources.load(p)


def test_paths_that_are_not_files(tmp_path: Path) -> None:
    with pytest.raises(BTFNotFoundError, match="no such file"):
        sources.load(tmp_path / "missing")
    with pytest.raises(BTFSourceError, match="is a directory"):
        sources.load(tmp_path)
    with pytest.raises(BTFSourceError, match="Debian package or a directory"):
        p = tmp_path / "x.btf"
        p.write_bytes(raw("debian-6.12-cloud-amd64.tun"))
        sources.load_modules(p)


def test_elf_bad_headers() -> None:
    good = btf_elf(raw("debian-6.12-cloud-amd64.tun"))
    bad_class = good[:4] + b"\x07" + good[5:]
    with pytest.raises(BTFFormatError, match="unknown ELF class 7"):
        sources.load(bad_class)
    shoff_at = 0x28
    huge = bytearray(good)
    struct.pack_into("<Q", huge, shoff_at, 10**9)
    with pytest.raises(BTFFormatError, match="runs past the end of the file"):
        sources.load(bytes(huge))


def test_nesting_limit() -> None:
    blob = raw("debian-6.12-cloud-amd64.tun")
    for _ in range(sources.MAX_DEPTH + 2):
        blob = gzip.compress(blob, 1)
    with pytest.raises(BTFSourceError, match="nested more than"):
        sources.load(blob)


# ======================================================================= hygiene
def test_import_is_light() -> None:
    code = (
        "import sys, btf, btf.sources;"
        "heavy = [m for m in ('elftools', 'zstandard', 'lz4', 'lzma', 'bz2', 'tarfile')"
        " if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout.strip()
    assert "elftools" not in out and "zstandard" not in out and "'lz4'" not in out


def test_mutated_containers_raise_only_btf_errors(v612: Spec) -> None:
    """Seeded truncations and byte flips of every container kind: BTFError or success only."""
    import random

    rnd = random.Random(20240601)
    tun = raw("debian-6.12-cloud-amd64.tun")
    small = btf_elf(tun)
    cases = {
        "elf32be": btf_elf(raw("debian-6.12-s390x.tun"), cls=32, endian=">"),
        "bzimage-zstd": _bzimage(zstd_c(small)),
        "bzimage-lz4": _bzimage(lz4_legacy(small)),
        "arm64": _arm64_image(tun),
        "deb": _deb({"./boot/vmlinuz-x": _bzimage(zstd_c(small)),
                     "./lib/modules/v/kernel/a.ko.xz": lzma.compress(small, preset=0)}),
        **{kind: comp(small) for kind, comp in COMPRESSORS.items()},
    }
    loaded = 0
    for name, data in cases.items():
        for _ in range(60):
            b = bytearray(data)
            if rnd.random() < 0.3:
                del b[rnd.randrange(len(b)):]
            else:
                for _ in range(rnd.randint(1, 8)):
                    limit = min(len(b), 4096) if rnd.random() < 0.6 else len(b)
                    b[rnd.randrange(limit)] = rnd.randrange(256)
            try:
                spec = sources.load(bytes(b), base=v612, max_size=8 << 20)
            except BTFError:
                continue
            except Exception as exc:  # noqa: BLE001 - the point of the test
                pytest.fail(f"{name}: {type(exc).__name__}: {exc}")
            assert spec.first_id == 107332
            loaded += 1
    assert loaded > 20  # flips in padding or ignored bytes still load
