"""What a one-shot ``corepy`` command imports, and the lazily built public enums.

Start-up is most of a short command's time (bench/README.md), so the command paths must not
import modules they do not need: ``re`` (pip's console-script wrapper imports it; our
launcher scripts/corepy does not), ``enum`` (``btf.Kind`` and ``corepy.relo.ReloKind`` are
built on first use), ``typing``, ``dataclasses``, ``argparse`` for plain command lines, and
the container libraries (pyelftools, construct) unless the input needs them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAUNCHER = REPO / "scripts" / "corepy"
OBJ = REPO / "tests" / "engine" / "data" / "host.bpfel.o"
KERNEL_XZ = REPO / "fixtures" / "kernels" / "debian-6.1-cloud-amd64.btf.xz"
NEVER = {"re", "enum", "typing", "dataclasses", "argparse", "elftools", "construct",
         "inspect", "tempfile", "pathlib"}


def imported_by(argv: list[str], cwd: Path, cache: str = "off") -> set[str]:
    """Top-level names of every module the launcher imports to run ``argv``.

    The interpreter runs with ``-S``: ``.pth`` files of the installation run before any of
    our code and may import anything (CI's Python has one that loads certifi, and with it
    ``re``, ``enum``, ``pathlib``, ``tempfile`` and ``typing``). The site directories stay
    on the path through ``PYTHONPATH``, so third-party packages are still found.
    """
    path = [str(REPO), *(p for p in sys.path if p.endswith(("site-packages", "dist-packages")))]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(path), "COREPY_BTF_CACHE": cache}
    proc = subprocess.run([sys.executable, "-S", "-X", "importtime", str(LAUNCHER), *argv],
                          capture_output=True, text=True, cwd=cwd, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    assert "corepy" in names and "btf" in names  # the parse above worked
    return names


@pytest.fixture(scope="module")
def raw_kernel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import lzma

    out = tmp_path_factory.mktemp("startup") / "debian-6.1.btf"
    out.write_bytes(lzma.decompress(KERNEL_XZ.read_bytes()))
    return out


@pytest.mark.parametrize("cache", ["off", "warm"])
def test_btf_dump_name_imports_only_what_it_needs(raw_kernel: Path, tmp_path: Path,
                                                  cache: str) -> None:
    argv = ["btf", "dump", str(raw_kernel), "--name", "task_struct"]
    if cache == "warm":
        cache = str(tmp_path / "cache")
        imported_by(argv, tmp_path, cache)  # fills the index cache
        assert list((tmp_path / "cache").iterdir())
    names = imported_by(argv, tmp_path, cache)
    assert not names & NEVER, names & NEVER


@pytest.mark.parametrize("cache", ["off", "warm"])
def test_relocate_imports_only_what_it_needs(raw_kernel: Path, tmp_path: Path,
                                             cache: str) -> None:
    """Cold or warm: the target is scanned with its name column (corepy.targets), so the
    candidate search never needs ``re``'s faster scanner over the type section."""
    argv = ["relocate", str(OBJ), "--target", str(raw_kernel), "-o", str(tmp_path / "out.o")]
    if cache == "warm":
        cache = str(tmp_path / "cache")
        imported_by(argv, tmp_path, cache)
        (tmp_path / "out.o").unlink()
    names = imported_by(argv, tmp_path, cache)
    assert not names & NEVER, names & NEVER
    assert (tmp_path / "out.o").is_file()


def test_name_column_gives_the_same_answers(raw_kernel: Path) -> None:
    from btf import Spec

    data = raw_kernel.read_bytes()
    plain, column = Spec(data), Spec(data, name_column=True)
    assert plain._names is None and column._names is not None
    assert len(column._names) == len(column._offs) == len(plain._offs)
    for name in ("task_struct", "pid", "file", "sk_buff", "list_head", "nosuchname"):
        assert column.find_by_name(name) == plain.find_by_name(name)
        assert column.find_by_essential_name(name) == plain.find_by_essential_name(name)
    assert column.find_by_name("task_struct")  # a real answer, not two empty lists


def test_kind_enum_equals_plain_numbers() -> None:
    import btf
    from btf import kinds

    plain = {n: v for n, v in vars(kinds.KindNum).items() if n.isupper()}
    assert {k.name: k.value for k in btf.Kind} == plain
    assert len(plain) == 20 and plain["ENUM64"] == 19 and plain["TYPE_TAG"] == 18
    assert btf.Kind is kinds.Kind and btf.Kind.STRUCT == kinds.KindNum.STRUCT == 4
    assert all(kinds.KIND_NAMES[v] in (n, "UNKNOWN") for n, v in plain.items())
    with pytest.raises(AttributeError):
        _ = kinds.NoSuchThing  # type: ignore[attr-defined]


def test_relo_kind_enum_equals_plain_numbers() -> None:
    from corepy import relo

    assert [(k.name, k.value) for k in relo.ReloKind] == [
        (n, getattr(relo, n)) for n in (
            "FIELD_BYTE_OFFSET", "FIELD_BYTE_SIZE", "FIELD_EXISTS", "FIELD_SIGNED",
            "FIELD_LSHIFT_U64", "FIELD_RSHIFT_U64", "TYPE_ID_LOCAL", "TYPE_ID_TARGET",
            "TYPE_EXISTS", "TYPE_SIZE", "ENUMVAL_EXISTS", "ENUMVAL_VALUE", "TYPE_MATCHES")]
    # libbpf's names (relo_core.c core_relo_kind_str) and kind classes
    assert relo.ReloKind.TYPE_MATCHES.short == "type_matches"
    assert relo.ReloKind(1).short == "byte_sz" and relo.ReloKind(10).short == "enumval_exists"
    assert {k for k in relo.ReloKind if k.is_field} == set(relo.FIELD_KINDS)
    assert {k for k in relo.ReloKind if k.is_type} == set(relo.TYPE_KINDS)
    assert {k for k in relo.ReloKind if k.is_enumval} == set(relo.ENUMVAL_KINDS)
