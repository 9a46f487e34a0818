"""Real kernel and module BTF (fixtures/kernels, Debian 6.12): vmlinux first, modules
only for roots vmlinux lacks, module type ids in the split id space.

Expected numbers are the ones bpftool printed for these files (fixtures/kernels/README.md):
``task_struct`` [112] with ``pid`` at byte 2432 in vmlinux; in the ``tun`` module
``tun_file`` [107339] (size 1728, ``socket`` at bit 6656) and ``tun_struct`` [107341]
(size 10616). libbpf cannot be asked directly here: with a custom target it never looks at
modules.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from btf.spec import Spec
from corepy.core import CoreCalculator, TargetBTF
from corepy.relo import CoreRelo

from .btfbuild import SIGNED, BTFBuilder

KERNELS = Path(__file__).resolve().parents[2] / "fixtures" / "kernels"
VMLINUX = KERNELS / "debian-6.12-cloud-amd64.btf.xz"
MODULES = ("tun", "vxlan", "nf_tables")


@pytest.fixture(scope="module")
def kernel() -> tuple[Spec, list[TargetBTF]]:
    if not VMLINUX.exists():
        pytest.skip(f"{VMLINUX} missing")
    from btf.sources import load

    vm = load(VMLINUX)
    mods = [TargetBTF(m, load(KERNELS / f"debian-6.12-cloud-amd64.{m}.btf.xz", base=vm), True)
            for m in MODULES]
    return vm, mods


def _local() -> tuple[Spec, dict[str, int]]:
    b = BTFBuilder()
    i = b.int("int", 4, SIGNED)
    sock = b.struct("socket", 8, [])
    ids = {
        "task": b.struct("task_struct___mine", 16, [("pid", i, 0)]),
        "tun_file": b.struct("tun_file", 16, [("socket", sock, 0)]),
        "tun_struct": b.struct("tun_struct", 8, []),
    }
    return b.spec(ptr_size=8), ids


def _relo(type_id: int, access: str, kind: int, i: int = 0) -> CoreRelo:
    return CoreRelo("kprobe/x", i, 8 * i, type_id, access, kind)


def test_vmlinux_and_module_candidates(kernel):
    vm, mods = kernel
    local, ids = _local()
    loads = []

    def lazy() -> list[TargetBTF]:
        loads.append(1)
        return mods

    calc = CoreCalculator(local, TargetBTF("vmlinux", vm), lazy)
    res = calc.calc(_relo(ids["task"], "0:0", 0), "p")
    assert res.new_val == 2432 and res.target_btf == "vmlinux"
    assert [v.type_id for v in res.candidates] == [112]
    assert loads == []
    res = calc.calc(_relo(ids["tun_file"], "0:0", 0, 1), "p")
    assert loads == [1]
    assert (res.new_val, res.target_btf) == (832, "tun")
    assert res.target_spec == "[107339] struct tun_file.socket (0:1 @ offset 832)"
    assert res.log[0] == ("CO-RE relocating [4] struct tun_file: found target candidate "
                          "[107339] struct tun_file in [tun]")
    assert calc.calc(_relo(ids["tun_file"], "0", 7, 2), "p").new_val == 107339
    assert calc.calc(_relo(ids["tun_struct"], "0", 9, 3), "p").new_val == 10616
    assert calc.calc(_relo(ids["tun_struct"], "0", 7, 4), "p").new_val == 107341
    assert loads == [1]
