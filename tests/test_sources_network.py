"""Whole Debian kernel packages and their vmlinuz, read with btf.sources.

Downloads with ``apt-get download`` through fixtures/kernels/fetch.py's private apt setup
(cached in ``$COREPY_CACHE_DIR/debs``, default ``~/.cache/corepy/debs``; ~30-70 MB each,
about a second each on Debian's mirror). Skips with the reason when apt or the mirror is
unavailable. The BTF extracted from each package must be byte-identical to the committed
fixture made from the same package version (fixtures/kernels/SHA256SUMS).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import pytest

from btf import deb, sources
from btf.kinds import Kind
from btf.spec import Spec

REPO = Path(__file__).resolve().parent.parent
KDIR = REPO / "fixtures" / "kernels"
sys.path.insert(0, str(KDIR))
import fetch  # noqa: E402

pytestmark = pytest.mark.network
MANIFEST = {e["name"]: e for e in json.loads((KDIR / "manifest.json").read_text())}
_APT: fetch.Apt | None = None


def package(name: str) -> Path:
    """The cached or freshly downloaded package for fixture ``name`` (skip if impossible)."""
    global _APT
    if shutil.which("apt-get") is None:
        pytest.skip("apt-get not available: cannot download Debian kernel packages")
    try:
        if _APT is None:
            _APT = fetch.Apt(fetch.cache_dir() / "apt")
        return _APT.download(fetch.ALL[name])
    except (RuntimeError, OSError) as exc:
        pytest.skip(f"apt-get download of {fetch.ALL[name].package} failed: {exc}")


def pinned(path: Path, name: str) -> bool:
    """Is ``path`` the exact package version the fixture was made from?"""
    k = fetch.ALL[name]
    return path.name.startswith(f"{k.package}_{k.version.replace(':', '%3a')}_")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# container expected on the way to the BTF, per package
CONTAINERS = {
    "debian-6.1-cloud-amd64": "[lz4-legacy]",
    "debian-6.12-cloud-amd64": "[zstd]",
    "debian-6.1-cloud-arm64": "@0xf6a1e0",
    "debian-6.12-s390x": "[zstd@0xcb5a0]@0xf8e688",
    "debian-6.1-amd64": "[xz]",
}


@pytest.mark.parametrize("name", sorted(CONTAINERS))
def test_deb_and_vmlinuz(name: str, tmp_path: Path) -> None:
    path = package(name)
    spec = sources.load(path)
    member = spec.source.split(":", 1)[1]
    assert member.startswith("boot/vmlinuz-")
    if pinned(path, name):
        assert member.endswith(CONTAINERS[name])
        if name in MANIFEST:
            assert sha(spec.data) == MANIFEST[name]["btf_sha256"]
            assert len(spec) - 1 == MANIFEST[name]["types"]
        else:  # 6.1 generic amd64 (xz): values read with bpftool from this package
            assert sha(spec.data) == (
                "ecf4e48fcbed6d520b857baf9fd06621b734094ce76fe41b0b0bc5e159ae6efd")
            assert len(spec) - 1 == 100642
            assert spec.find_by_name("task_struct", Kind.STRUCT) == [192]
            assert spec.type(192).size == 9792
    # the same image, extracted to a file, gives the same BTF
    pkg = deb.DebPackage(path.read_bytes(), source=str(path))
    img_name, image = pkg.kernel_image()
    img = tmp_path / Path(img_name).name
    img.write_bytes(image)
    again = sources.load(img)
    assert again.data == spec.data
    assert again.source == f"{img}{CONTAINERS[name]}" or not pinned(path, name)
    assert spec.find_by_name("task_struct", Kind.STRUCT)


@pytest.mark.parametrize("base_name,mods", [
    ("debian-6.12-cloud-amd64", ["tun", "vxlan", "nf_tables"]),
    ("debian-6.12-s390x", ["tun"]),
])
def test_deb_modules(base_name: str, mods: list[str]) -> None:
    path = package(base_name)
    if not pinned(path, base_name):
        pytest.skip(f"{fetch.ALL[base_name].package} {fetch.ALL[base_name].version} is no "
                    "longer on the mirror; fixture hashes apply only to that version")
    base = sources.load(path)
    got = sources.load_modules(path, base, names=mods)
    assert sorted(got) == sorted(mods)
    for mod, spec in got.items():
        entry = MANIFEST[f"{base_name}.{mod}"]
        assert sha(spec.data) == entry["btf_sha256"]
        assert spec.first_id == entry["first_id"] == len(base)
        assert spec.source.endswith(entry["member"])


def test_all_modules_of_a_package() -> None:
    """Every module of the 6.1 cloud kernel (plain .ko) parses as split BTF on its vmlinux."""
    path = package("debian-6.1-cloud-amd64")
    base = sources.load(path)
    mods = sources.load_modules(path, base)
    assert len(mods) > 900  # 1121 .ko files in 6.1.0-50-cloud-amd64
    for name, spec in mods.items():
        assert spec.first_id == len(base), name
        assert isinstance(spec, Spec) and spec.byteorder == "little"
