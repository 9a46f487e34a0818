"""`corepy btf dump` against bpftool 7.1.

Expected outputs come from bpftool itself: committed dumps of the fixtures in
tests/data/dump (made by its build.sh), sha256 of bpftool's dumps of the real kernels in
fixtures/kernels, and bpftool run live on the host's /sys/kernel/btf/vmlinux (and on the
committed fixtures, to catch a stale golden file).
"""

from __future__ import annotations

import hashlib
import io
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from btf.dump import KIND_CHOICES, dump_json, dump_text, format_type, kind_from_name, select
from btf.errors import BTFTypeError
from btf.spec import Spec
from corepy.cli import main

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "dump"
EXPECTED = DATA / "expected"
KERNELS = ROOT / "fixtures" / "kernels"
HOST_BTF = Path("/sys/kernel/btf/vmlinux")
BPFTOOL = shutil.which("bpftool")

#: Committed inputs: (file, base or None). Their bpftool dumps are in expected/.
INPUTS = [
    ("kinds.bpfel.o", None),
    ("kinds.bpfeb.o", None),
    ("crafted.le.btf", None),
    ("crafted.be.btf", None),
    ("split_base.le.btf", None),
    ("split_base.be.btf", None),
    ("split.le.btf", "split_base.le.btf"),
    ("split.be.btf", "split_base.be.btf"),
]

needs_bpftool = pytest.mark.skipif(BPFTOOL is None, reason="bpftool is not installed "
                                   "(Debian package bpftool)")


def dump_args(path: Path | str, base: Path | str | None = None, *extra: str) -> list[str]:
    args = ["btf", "dump", str(path), *extra]
    if base is not None:
        args += ["--base", str(base)]
    return args


def run_cli(capsysbinary: pytest.CaptureFixture[bytes], args: list[str]) -> tuple[int, bytes, str]:
    rc = main(args)
    out, err = capsysbinary.readouterr()
    return rc, out, err.decode()


def load_json(raw: bytes) -> Any:
    """Parse a dump; bpftool writes raw control characters and non-UTF-8 bytes in names."""
    return json.loads(raw.decode("utf-8", "surrogateescape"), strict=False)


def bpftool_json_names(obj: Any) -> Any:
    """Our JSON as bpftool 7.1 would spell it: it writes a backslash in a name as ``\\n``.

    That is the one deliberate difference (docs/btf-dump.md); applying bpftool's bug to
    our output lets every other field be compared exactly.
    """
    if isinstance(obj, dict):
        return {k: (v.replace("\\", "\n") if k == "name" else bpftool_json_names(v))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [bpftool_json_names(v) for v in obj]
    return obj


def blocks(text: bytes) -> dict[int, bytes]:
    """bpftool's text split into one block per type id (a block is a header + its lines)."""
    out: dict[int, bytes] = {}
    starts = [m for m in re.finditer(rb"^\[(\d+)\] ", text, re.M)]
    for m, nxt in zip(starts, [*starts[1:], None], strict=True):
        out[int(m.group(1))] = text[m.start() : nxt.start() if nxt else len(text)]
    return out


def bpftool(*args: str) -> bytes:
    assert BPFTOOL is not None
    return subprocess.run([BPFTOOL, *args], check=True, capture_output=True).stdout


# ---------------------------------------------------------------------------- committed fixtures
@pytest.mark.parametrize(("name", "base"), INPUTS)
def test_text_matches_bpftool(capsysbinary: pytest.CaptureFixture[bytes], name: str,
                              base: str | None) -> None:
    rc, out, err = run_cli(capsysbinary, dump_args(DATA / name, base and DATA / base))
    assert (rc, err) == (0, "")
    assert out == (EXPECTED / f"{name}.txt").read_bytes()


@pytest.mark.parametrize(("name", "base"), INPUTS)
def test_json_matches_bpftool(capsysbinary: pytest.CaptureFixture[bytes], name: str,
                              base: str | None) -> None:
    rc, out, err = run_cli(capsysbinary, dump_args(DATA / name, base and DATA / base, "--json"))
    assert (rc, err) == (0, "")
    expected = load_json((EXPECTED / f"{name}.json").read_bytes())
    assert bpftool_json_names(load_json(out)) == expected


@needs_bpftool
@pytest.mark.parametrize(("name", "base"), INPUTS)
def test_committed_expectations_are_current(name: str, base: str | None) -> None:
    """The golden files are what the installed bpftool prints now."""
    b = ["-B", str(DATA / base)] if base else []
    assert bpftool("btf", "dump", *b, "file", str(DATA / name)) == \
        (EXPECTED / f"{name}.txt").read_bytes()
    assert load_json(bpftool("-j", "btf", "dump", *b, "file", str(DATA / name))) == \
        load_json((EXPECTED / f"{name}.json").read_bytes())


def test_both_byte_orders_print_the_same() -> None:
    """Sanity of the fixtures: bpftool printed bpfeb objects exactly like bpfel ones."""
    for le, be in (("kinds.bpfel.o", "kinds.bpfeb.o"), ("crafted.le.btf", "crafted.be.btf"),
                   ("split.le.btf", "split.be.btf")):
        assert (EXPECTED / f"{le}.txt").read_bytes() == (EXPECTED / f"{be}.txt").read_bytes()


def test_every_kind_and_corner_is_covered() -> None:
    """The fixtures exercise what the dump format distinguishes (so the tests above bite)."""
    text = b"".join((EXPECTED / f"{n}.txt").read_bytes() for n, _ in INPUTS)
    for kind in KIND_CHOICES:
        assert f"] {kind.upper()} '".encode() in text, kind
    for needle in (b"encoding=(none)", b"encoding=SIGNED", b"encoding=CHAR", b"encoding=BOOL",
                   b"encoding=UNKN", b"bitfield_size=", b"fwd_kind=union", b"fwd_kind=struct",
                   b"linkage=static", b"linkage=global", b"linkage=extern",
                   b"linkage=(unknown)", b", linkage=extern", b"val=-1LL", b"ULL",
                   b"encoding=SIGNED size=4", b"'(anon)' type_id=0\n",  # varargs
                   b"(invalid)", b"(UNKNOWN '(anon)')", b"(FUNC '", b"type_id=99999\n",
                   b"component_idx=-1", b"component_idx=5", b"TYPEDEF '' type_id"):
        assert needle in text, needle


def test_json_quirks_of_bpftool_kept_and_fixed(capsysbinary: pytest.CaptureFixture[bytes]
                                               ) -> None:
    """Unsigned 32-bit enumerators with the top bit set are sign-extended (as bpftool
    does); a backslash in a name stays a backslash (bpftool writes ``\\n``)."""
    rc, out, _ = run_cli(capsysbinary, dump_args(DATA / "crafted.le.btf", None, "--json"))
    types = {t["id"]: t for t in load_json(out)["types"]}
    e_u_small = next(t for t in types.values() if t["name"] == "e_u_small")
    assert [v["val"] for v in e_u_small["values"]] == [0, 1, 0xFFFFFFFF80000000,
                                                       0xFFFFFFFFFFFFFFFF]
    names = {t["name"] for t in types.values()}
    assert "back\\slash" in names and "back\nslash" not in names
    bpf = {t["id"]: t["name"] for t in load_json((EXPECTED / "crafted.le.btf.json")
                                                 .read_bytes())["types"]}
    assert "back\nslash" in bpf.values()  # what bpftool 7.1 prints


def test_invalid_utf8_names_are_written_as_stored(capsysbinary: pytest.CaptureFixture[bytes]
                                                  ) -> None:
    rc, out, _ = run_cli(capsysbinary, dump_args(DATA / "crafted.le.btf", None, "--json"))
    assert b'"name":"bad\xff\xfeutf8"' in out
    rc, out, _ = run_cli(capsysbinary, dump_args(DATA / "crafted.le.btf", None))
    assert b"TYPEDEF 'bad\xff\xfeutf8' type_id=1\n" in out


# ---------------------------------------------------------------------------- filters
def expected_selection(name: str, pick: Any) -> tuple[bytes, list[Any]]:
    """bpftool's text blocks and JSON objects of the types ``pick(json_type)`` accepts."""
    text = blocks((EXPECTED / f"{name}.txt").read_bytes())
    types = [t for t in load_json((EXPECTED / f"{name}.json").read_bytes())["types"] if pick(t)]
    return b"".join(text[t["id"]] for t in types), types


#: (file, base, arguments, which bpftool JSON types are expected, whether that is non-empty)
FILTERS = [
    ("kinds.bpfel.o", None, ["--kind", "struct"], lambda t: t["kind"] == "STRUCT", True),
    ("kinds.bpfeb.o", None, ["--kind", "ENUM64"], lambda t: t["kind"] == "ENUM64", True),
    ("kinds.bpfel.o", None, ["--kind", "Decl_Tag"], lambda t: t["kind"] == "DECL_TAG", True),
    ("kinds.bpfel.o", None, ["--name", "bits"], lambda t: t["name"] == "bits", True),
    ("kinds.bpfel.o", None, ["--name", "prog", "--kind", "func"],
     lambda t: t["name"] == "prog" and t["kind"] == "FUNC", True),
    ("kinds.bpfel.o", None, ["--name", "prog", "--kind", "var"], lambda t: False, False),
    ("kinds.bpfel.o", None, ["--id", "5"], lambda t: t["id"] == 5, True),
    ("kinds.bpfel.o", None, ["--id", "5", "--name", "bits", "--kind", "struct"],
     lambda t: t["id"] == 5, True),
    ("kinds.bpfel.o", None, ["--id", "5", "--name", "other"], lambda t: False, False),
    ("kinds.bpfel.o", None, ["--name", "no_such_type"], lambda t: False, False),
    # split BTF: only the split blob's own types are candidates (base 'sock' is [2])
    ("split.le.btf", "split_base.le.btf", ["--name", "sock"],
     lambda t: t["name"] == "sock", True),
    ("split.be.btf", "split_base.be.btf", ["--name", "int"], lambda t: t["name"] == "int", True),
    ("split.le.btf", "split_base.le.btf", ["--kind", "typedef"],
     lambda t: t["kind"] == "TYPEDEF", True),
    # broken types print like in the full dump: dangling id, DATASEC with a missing entry
    ("crafted.le.btf", None, ["--id", "15"], lambda t: t["id"] == 15, True),
    ("crafted.be.btf", None, ["--kind", "datasec"], lambda t: t["kind"] == "DATASEC", True),
    ("crafted.le.btf", None, ["--kind", "enum"], lambda t: t["kind"] == "ENUM", True),
    ("crafted.be.btf", None, ["--kind", "struct"], lambda t: t["kind"] == "STRUCT", True),
    ("crafted.le.btf", None, ["--kind", "func"], lambda t: t["kind"] == "FUNC", True),
    # "(invalid)" and "(anon)" are how names print, not names one can search for
    ("crafted.le.btf", None, ["--name", "(invalid)"], lambda t: False, False),
    ("crafted.le.btf", None, ["--name", "(anon)"], lambda t: False, False),
]


@pytest.mark.parametrize(("name", "base", "args", "pick", "nonempty"), FILTERS)
def test_filters(capsysbinary: pytest.CaptureFixture[bytes], name: str, base: str | None,
                 args: list[str], pick: Any, nonempty: bool) -> None:
    text, types = expected_selection(name, pick)
    assert bool(types) == nonempty
    rc, out, err = run_cli(capsysbinary, dump_args(DATA / name, base and DATA / base, *args))
    assert (rc, out, err) == (0, text, "")
    rc, out, err = run_cli(capsysbinary,
                           dump_args(DATA / name, base and DATA / base, *args, "--json"))
    assert (rc, err) == (0, "")
    assert bpftool_json_names(load_json(out)) == {"types": types}


def test_name_filter_finds_every_type_of_that_name() -> None:
    """Several kinds may share a name: all are printed, in id order."""
    spec = Spec((DATA / "crafted.le.btf").read_bytes())
    ids = select(spec, name="int")
    assert ids == [1]
    text = io.StringIO()
    dump_text(spec, text, name="f_link1")
    assert text.getvalue() == "[56] FUNC 'f_link1' type_id=52 linkage=global\n"
    base = Spec((DATA / "split_base.le.btf").read_bytes())
    split = Spec((DATA / "split.le.btf").read_bytes(), base=base)
    assert select(split, name="sock") == [5]  # the base's STRUCT 'sock' [2] is not dumped
    assert select(split, name="int") == [7]


def test_library_api_matches_blocks() -> None:
    raw = (DATA / "crafted.be.btf").read_bytes()
    spec = Spec(raw)
    expected = blocks((EXPECTED / "crafted.be.btf.txt").read_bytes())
    objs = {t["id"]: t for t in load_json((EXPECTED / "crafted.be.btf.json").read_bytes())
            ["types"]}
    for tid in spec.own_ids:
        assert format_type(spec, tid).encode("utf-8", "surrogateescape") == expected[tid]
        got = json.loads(format_type(spec, tid, json=True))
        assert bpftool_json_names(got) == objs[tid]
    out = io.StringIO()
    assert dump_json(spec, out, kind=kind_from_name("float")) == 1
    assert json.loads(out.getvalue()) == {"types": [objs[22]]}


def test_kind_names() -> None:
    assert kind_from_name("struct") == 4 and kind_from_name("ENUM64") == 19
    assert kind_from_name("func_proto") == 13
    with pytest.raises(ValueError, match="valid kinds: int, ptr, array, struct"):
        kind_from_name("structure")
    with pytest.raises(ValueError):
        kind_from_name("unknown")  # kind 0 is not a kind one can ask for


# ---------------------------------------------------------------------------- errors
def test_unknown_kind_exits_2(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    rc, out, err = run_cli(capsysbinary, dump_args(DATA / "kinds.bpfel.o", None,
                                                   "--kind", "strcut"))
    assert rc == 2 and out == b""
    assert err == ("corepy: error: unknown kind 'strcut' (valid kinds: int, ptr, array, struct, "
                   "union, enum, fwd, typedef, volatile, const, restrict, func, func_proto, "
                   "var, datasec, float, decl_tag, type_tag, enum64)\n")


@pytest.mark.parametrize("type_id", ["0", "68", "-1", "100000"])
def test_id_outside_the_dump_exits_2(capsysbinary: pytest.CaptureFixture[bytes],
                                     type_id: str) -> None:
    rc, out, err = run_cli(capsysbinary, dump_args(DATA / "crafted.le.btf", None,
                                                   "--id", type_id))
    assert rc == 2 and out == b""
    assert err.startswith("corepy: error: ") and err.count("\n") == 1
    assert "is not in this BTF (its types are 1..67)" in err


def test_id_of_a_base_type_in_split_dump_exits_2(capsysbinary: pytest.CaptureFixture[bytes]
                                                 ) -> None:
    rc, _, err = run_cli(capsysbinary, dump_args(DATA / "split.le.btf",
                                                 DATA / "split_base.le.btf", "--id", "2"))
    assert rc == 2 and "its types are 4..10" in err
    with pytest.raises(BTFTypeError):
        select(Spec((DATA / "crafted.le.btf").read_bytes()), type_id=68)


def bad_inputs(tmp: Path) -> dict[str, Path]:
    good = (DATA / "crafted.le.btf").read_bytes()
    files = {
        "garbage": b"this is not BTF at all, nor ELF\n" * 4,
        "empty": b"",
        "truncated": good[:100],
        "bad_version": good[:2] + b"\x02" + good[3:],
        "split_without_base": (DATA / "split.le.btf").read_bytes(),
    }
    out = {}
    for name, data in files.items():
        (tmp / name).write_bytes(data)
        out[name] = tmp / name
    out["missing"] = tmp / "does-not-exist"
    out["directory"] = tmp
    return out


@pytest.mark.parametrize("case", ["garbage", "empty", "truncated", "bad_version",
                                  "split_without_base", "missing", "directory"])
def test_bad_input_is_one_line_exit_2(capsysbinary: pytest.CaptureFixture[bytes],
                                      tmp_path: Path, case: str) -> None:
    path = bad_inputs(tmp_path)[case]
    rc, out, err = run_cli(capsysbinary, dump_args(path))
    assert rc == 2 and out == b""
    assert err.startswith("corepy: error: ") and err.endswith("\n") and err.count("\n") == 1
    assert "Traceback" not in err


def test_bad_base_is_one_line_exit_2(capsysbinary: pytest.CaptureFixture[bytes],
                                     tmp_path: Path) -> None:
    (tmp_path / "junk").write_bytes(b"\x00" * 64)
    rc, out, err = run_cli(capsysbinary, dump_args(DATA / "split.le.btf", tmp_path / "junk"))
    assert rc == 2 and out == b"" and err.startswith("corepy: error: ")
    assert err.count("\n") == 1


# ---------------------------------------------------------------------------- subprocess
def python_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def test_python_m_corepy_matches_bpftool() -> None:
    proc = subprocess.run([sys.executable, "-m", "corepy", "btf", "dump",
                           str(DATA / "crafted.be.btf")], capture_output=True, env=python_env(),
                          cwd=ROOT, check=False)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert proc.stdout == (EXPECTED / "crafted.be.btf.txt").read_bytes()


@pytest.mark.parametrize("name", ["crafted.le.btf", "kinds.bpfeb.o"])
def test_start_up_does_not_import_construct_or_pyelftools(name: str) -> None:
    code = ("import sys; from corepy.cli import main; "
            f"rc = main(['btf', 'dump', {str(DATA / name)!r}, '--name', 'int']); "
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('construct', 'elftools', 'numpy')); print(rc, heavy, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, env=python_env(),
                          cwd=ROOT, check=True)
    assert proc.stderr.decode().strip() == "0 []"


def big_input(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    if HOST_BTF.exists():
        return HOST_BTF
    return decompressed(tmp_path_factory, "debian-6.1-cloud-amd64")


def test_broken_pipe_is_quiet(tmp_path_factory: pytest.TempPathFactory) -> None:
    """`corepy btf dump vmlinux | head -1`: no traceback, no error message."""
    path = big_input(tmp_path_factory)
    if path is None:
        pytest.skip("needs /sys/kernel/btf/vmlinux or fixtures/kernels/debian-6.1-cloud-amd64")
    for extra in ([], ["--json"]):
        proc = subprocess.Popen([sys.executable, "-m", "corepy", "btf", "dump", str(path),
                                 *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=python_env(), cwd=ROOT)
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read()
        rc = proc.wait(timeout=60)
        assert first.startswith(b"[1] " if not extra else b'{"types":[{"id":1,')
        assert err == b"" and rc == 0


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
def test_write_error_is_one_line_exit_2() -> None:
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([sys.executable, "-m", "corepy", "btf", "dump",
                               str(DATA / "crafted.le.btf")], stdout=full,
                              stderr=subprocess.PIPE, env=python_env(), cwd=ROOT, check=False)
    assert proc.returncode == 2
    assert proc.stderr == (b"corepy: error: cannot write the dump to stdout: "
                           b"No space left on device\n")


# ---------------------------------------------------------------------------- real kernels
def kernel_manifest() -> list[dict[str, Any]]:
    path = KERNELS / "manifest.json"
    if not path.exists():
        return []
    entries: list[dict[str, Any]] = json.loads(path.read_text())
    return entries


def decompressed(factory: pytest.TempPathFactory, name: str) -> Path | None:
    entry = next((e for e in kernel_manifest() if e["name"] == name), None)
    if entry is None or not (KERNELS / entry["file"]).exists():
        return None
    out = factory.getbasetemp() / "kernels" / name
    if not out.exists():
        out.parent.mkdir(exist_ok=True)
        out.write_bytes(lzma.decompress((KERNELS / entry["file"]).read_bytes()))
    return out


def kernel_hashes() -> dict[str, str]:
    path = EXPECTED / "kernels.sha256"
    if not path.exists():
        return {}
    return {name: digest for digest, name in (line.split() for line in path.read_text()
                                              .splitlines())}


KERNEL_NAMES = [e["name"] for e in kernel_manifest()] or ["(no fixtures/kernels)"]


@pytest.mark.parametrize("fmt", ["txt", "json"])
@pytest.mark.parametrize("name", KERNEL_NAMES)
def test_kernel_fixture_matches_bpftool(capsysbinary: pytest.CaptureFixture[bytes],
                                        tmp_path_factory: pytest.TempPathFactory,
                                        name: str, fmt: str) -> None:
    """Real 6.1/6.12 kernels (amd64, arm64, big-endian s390x) and module BTF with --base:
    the output's sha256 equals that of bpftool's dump (expected/kernels.sha256)."""
    path = decompressed(tmp_path_factory, name)
    if path is None:
        pytest.skip(f"fixtures/kernels has no {name}")
    digest = kernel_hashes().get(f"{name}.{fmt}")
    if digest is None:
        pytest.skip(f"no recorded bpftool hash for {name}.{fmt}: rerun tests/data/dump/build.sh")
    entry = next(e for e in kernel_manifest() if e["name"] == name)
    base = decompressed(tmp_path_factory, entry["base"]) if entry.get("base") else None
    extra = ["--json"] if fmt == "json" else []
    rc, out, err = run_cli(capsysbinary, dump_args(path, base, *extra))
    assert (rc, err) == (0, "")
    assert hashlib.sha256(out).hexdigest() == digest


def test_kernel_fixture_filters_are_blocks_of_the_full_dump(
        capsysbinary: pytest.CaptureFixture[bytes],
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """On a big-endian kernel: the full dump is bpftool's (by hash); filtered dumps are
    exactly its blocks, both for few matches and for many (names decoded in bulk)."""
    name = "debian-6.12-s390x"
    path = decompressed(tmp_path_factory, name)
    digest = kernel_hashes().get(f"{name}.txt")
    if path is None or digest is None:
        pytest.skip(f"fixtures/kernels has no {name} (or no recorded bpftool hash)")
    rc, full, _ = run_cli(capsysbinary, dump_args(path))
    assert rc == 0 and hashlib.sha256(full).hexdigest() == digest
    by_id = blocks(full)
    header = re.compile(rb"\[\d+\] (\w+) '([^'\n]*)'")
    meta: dict[int, tuple[bytes, bytes]] = {}
    for tid, block in by_id.items():
        m = header.match(block)
        assert m is not None
        meta[tid] = (m.group(1), m.group(2))
    cases: list[tuple[list[str], Callable[[tuple[bytes, bytes]], bool]]] = [
        (["--kind", "func"], lambda m: m[0] == b"FUNC"),
        (["--kind", "struct"], lambda m: m[0] == b"STRUCT"),
        (["--kind", "float"], lambda m: m[0] == b"FLOAT"),
        (["--name", "task_struct"], lambda m: m[1] == b"task_struct"),
        (["--name", "addrtype", "--kind", "struct"],  # 5 structs share this name
         lambda m: m == (b"STRUCT", b"addrtype")),
    ]
    for args, pick in cases:
        want = b"".join(by_id[t] for t in sorted(by_id) if pick(meta[t]))
        assert want, args
        rc, out, err = run_cli(capsysbinary, dump_args(path, None, *args))
        assert (rc, err, out) == (0, "", want), args


def test_kernel_fixture_name_filter(capsysbinary: pytest.CaptureFixture[bytes],
                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    """Values recorded from bpftool in fixtures/kernels/README.md."""
    path = decompressed(tmp_path_factory, "debian-6.12-s390x")
    if path is None:
        pytest.skip("fixtures/kernels has no debian-6.12-s390x")
    rc, out, _ = run_cli(capsysbinary, dump_args(path, None, "--name", "task_struct"))
    assert rc == 0 and out.startswith(b"[254] STRUCT 'task_struct' size=5120 vlen=")
    tun = decompressed(tmp_path_factory, "debian-6.12-cloud-amd64.tun")
    base = decompressed(tmp_path_factory, "debian-6.12-cloud-amd64")
    if tun is None or base is None:
        pytest.skip("fixtures/kernels has no 6.12 amd64 tun module")
    rc, out, _ = run_cli(capsysbinary, dump_args(tun, base, "--name", "tun_file"))
    assert out.startswith(b"[107339] STRUCT 'tun_file' size=1728 vlen=14\n")
    assert b"\t'socket' type_id=3335 bits_offset=6656\n" in out


# ---------------------------------------------------------------------------- host kernel
needs_host = pytest.mark.skipif(not HOST_BTF.exists(),
                                reason="/sys/kernel/btf/vmlinux is missing (no kernel BTF)")


@needs_host
@needs_bpftool
def test_host_vmlinux_text_matches_bpftool(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    expected = bpftool("btf", "dump", "file", str(HOST_BTF))
    rc, out, err = run_cli(capsysbinary, dump_args(HOST_BTF))
    assert (rc, err) == (0, "")
    assert out == expected


@needs_host
@needs_bpftool
def test_host_vmlinux_json_matches_bpftool(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    expected = bpftool("-j", "btf", "dump", "file", str(HOST_BTF))
    rc, out, err = run_cli(capsysbinary, dump_args(HOST_BTF, None, "--json"))
    assert (rc, err) == (0, "")
    assert bpftool_json_names(load_json(out)) == load_json(expected)


@needs_host
@needs_bpftool
def test_host_vmlinux_filters_match_bpftool(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    full = bpftool("btf", "dump", "file", str(HOST_BTF))
    by_id = blocks(full)
    header = re.compile(rb"\[(\d+)\] (\w+) '([^'\n]*)'")
    kinds: dict[int, bytes] = {}
    names: dict[int, bytes] = {}
    for tid, block in by_id.items():
        m = header.match(block)
        assert m is not None
        kinds[tid], names[tid] = m.group(2), m.group(3)
    for args, pick in (
        (["--name", "task_struct"], lambda t: names[t] == b"task_struct"),
        (["--kind", "datasec"], lambda t: kinds[t] == b"DATASEC"),
        (["--kind", "enum64"], lambda t: kinds[t] == b"ENUM64"),
        (["--kind", "func"], lambda t: kinds[t] == b"FUNC"),  # 56k: names decoded in bulk
        (["--name", "pid_t", "--kind", "typedef"],
         lambda t: names[t] == b"pid_t" and kinds[t] == b"TYPEDEF"),
        (["--name", "perf_aux_event"], lambda t: names[t] == b"perf_aux_event"),  # 3 structs
        (["--name", "bpf_kfunc", "--kind", "decl_tag"], lambda t: names[t] == b"bpf_kfunc"),
        (["--id", "1"], lambda t: t == 1),
    ):
        want = b"".join(by_id[t] for t in sorted(by_id) if pick(t))
        assert want, args
        rc, out, err = run_cli(capsysbinary, dump_args(HOST_BTF, None, *args))
        assert (rc, err) == (0, "") and out == want, args


# ---------------------------------------------------------------------------- beyond bpftool
def layout_btf() -> bytes:
    """BTF whose kind 20 only its layout section describes (bpftool 7.1 refuses the file).

    [1] INT 'int', [2] kind 20 'x' (4-byte record + 2 x 8-byte elements), [3] PTR -> 1.
    """
    strings = b"\0int\0x\0"
    words = [1, (1 << 24), 4, (1 << 24) | 32,
             5, (20 << 24) | 2, 0, 7, 1, 2, 3, 4,
             0, (2 << 24), 1]
    types = b"".join(w.to_bytes(4, "little") for w in words)
    layout = bytearray(4 * 21)
    layout[4 * 20 : 4 * 20 + 4] = bytes([4, 8, 0, 0])
    for kind, (single, elem) in enumerate([(0, 0), (4, 0), (0, 0)]):
        layout[4 * kind : 4 * kind + 2] = bytes([single, elem])
    hdr = (0xEB9F).to_bytes(2, "little") + bytes([1, 0]) + b"".join(
        v.to_bytes(4, "little") for v in (32, 0, len(types), len(types) + len(layout),
                                          len(strings), len(types), len(layout)))
    return hdr + types + bytes(layout) + strings


def test_kinds_only_a_layout_section_describes() -> None:
    """Documented behaviour (docs/btf-dump.md): such a type prints as UNKNOWN with its
    name, and the records after it are still found (sized from the layout section)."""
    spec = Spec(layout_btf())
    out = io.StringIO()
    assert dump_text(spec, out) == 3
    assert out.getvalue() == (
        "[1] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED\n"
        "[2] UNKNOWN 'x'\n"
        "[3] PTR '(anon)' type_id=1\n"
    )
    out = io.StringIO()
    dump_text(spec, out, kind=kind_from_name("ptr"))
    assert out.getvalue() == "[3] PTR '(anon)' type_id=1\n"
    assert format_type(spec, 2) == "[2] UNKNOWN 'x'\n"
    assert json.loads(format_type(spec, 2, json=True)) == {"id": 2, "kind": "UNKNOWN",
                                                          "name": "x"}
