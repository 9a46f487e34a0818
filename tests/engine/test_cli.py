"""``corepy relocate`` / ``corepy explain``: exit codes, outputs, reports.

The calculation layer is replaced by a scripted stand-in module (so these tests pin the
CLI's behaviour, not the calculator's); test_libbpf_diff.py runs the real one.
"""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from corepy import insn as I
from corepy.cli import main
from corepy.errors import RelocationError
from corepy.objfile import BPFObject
from corepy.relo import CoreRelo, ReloResult

from .conftest import DATA, ENGINE, ENGINE_TARGET, ROOT, needs_calc

Rule = Callable[[CoreRelo], ReloResult]


def _ok(r: CoreRelo) -> ReloResult:
    return ReloResult(r, f"[{r.type_id}] struct eng_s", 0, 8, validate=False)


def install_calc(monkeypatch: pytest.MonkeyPatch, rule: Rule = _ok) -> list[Any]:
    """Put a fake ``corepy.core.calc`` in sys.modules; returns the created calculators."""
    made: list[Any] = []

    class TargetBTF:
        def __init__(self, name: str, spec: Any, is_module: bool = False) -> None:
            self.name, self.spec, self.is_module = name, spec, is_module

    class CoreCalculator:
        def __init__(self, local: Any, vmlinux: Any, modules: Sequence[Any] | Any = (),
                     *, options: Any = None) -> None:
            self.local, self.vmlinux, self.modules = local, vmlinux, modules
            made.append(self)

        def calc(self, relo: CoreRelo, prog_name: str) -> ReloResult:
            return rule(relo)

    mod = types.ModuleType("corepy.core.calc")
    mod.TargetBTF = TargetBTF  # type: ignore[attr-defined]
    mod.CoreCalculator = CoreCalculator  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "corepy.core.calc", mod)
    return made


def poison_first(r: CoreRelo) -> ReloResult:
    res = _ok(r)
    res.poison = r.section == "raw_tp/sys_enter" and r.index == 0
    return res


def fail_one(r: CoreRelo) -> ReloResult:
    if r.section == "raw_tp/sys_exit" and r.index == 2:
        raise RelocationError("prog 'prog_ldimm64': relo #2: relocation decision ambiguity")
    return _ok(r)


def test_relocate_ok(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                     capsys: pytest.CaptureFixture[str]) -> None:
    install_calc(monkeypatch)
    out, rep = tmp_path / "o.o", tmp_path / "r.json"
    rc = main(["relocate", str(ENGINE["little"]), "--target", str(ENGINE_TARGET["little"]),
               "-o", str(out), "--report", str(rep)])
    assert rc == 0
    assert BPFObject.open(out).sites == []
    doc = json.loads(rep.read_text())
    assert doc["schema"] == 1 and doc["summary"]["patched"] == len(doc["relocations"]) == 42
    assert "42 CO-RE relocation(s): 42 patched, 0 poisoned" in capsys.readouterr().err


def test_relocate_poison_warns_then_strict_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    install_calc(monkeypatch, poison_first)
    out = tmp_path / "o.o"
    args = ["relocate", str(ENGINE["big"]), "-t", str(ENGINE_TARGET["big"]), "-o", str(out)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "warning: prog 'prog_alu' insn #2 poisoned" in err
    data = out.read_bytes()
    obj = BPFObject.open(ENGINE["big"])
    pos = obj.section("raw_tp/sys_enter").offset + 16
    assert data[pos : pos + 8] == I.poison("big")
    out.unlink()
    assert main(args + ["--strict"]) == 1
    assert not out.exists()
    assert "with --strict; " in capsys.readouterr().err


def test_relocate_error_exit_1_nothing_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    install_calc(monkeypatch, fail_one)
    out, rep = tmp_path / "o.o", tmp_path / "r.json"
    rc = main(["relocate", str(ENGINE["little"]), "-t", str(ENGINE_TARGET["little"]),
               "-o", str(out), "--report", str(rep)])
    assert rc == 1 and not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]
    err = capsys.readouterr().err
    assert "relocation decision ambiguity" in err and "not written" in err
    doc = json.loads(rep.read_text())
    bad = [r for r in doc["relocations"] if r["result"] == "error"]
    assert len(bad) == 1 and bad[0]["action"].startswith("the target has several")


def test_relocate_error_line_names_the_location_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    def fail(r: CoreRelo) -> ReloResult:
        if r.section == "raw_tp/sys_exit" and r.index == 2:
            raise RelocationError("prog 'prog_ldimm64': relo #2: relocation decision ambiguity: "
                                  "success 1 != success 4", section=r.section, index=r.index,
                                  insn_off=r.insn_off)
        return _ok(r)

    install_calc(monkeypatch, fail)
    off = next(s.relo.insn_off for s in BPFObject.open(ENGINE["little"]).sites
               if (s.relo.section, s.relo.index) == ("raw_tp/sys_exit", 2))
    rc = main(["relocate", str(ENGINE["little"]), "-t", str(ENGINE_TARGET["little"]),
               "-o", str(tmp_path / "o.o")])
    assert rc == 1
    assert capsys.readouterr().err.splitlines() == [
        "corepy: error: prog 'prog_ldimm64': relo #2: relocation decision ambiguity: "
        f"success 1 != success 4; sec 'raw_tp/sys_exit', insn_off {off}",
        f"corepy: 1 relocation(s) failed; {tmp_path / 'o.o'} not written",
    ]


@needs_calc
def test_relocate_real_ambiguity_one_line(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """libbpf refuses prog__flavors.o against its own BTF (three flavors of one struct)."""
    obj = ROOT / "fixtures" / "core" / "bpfel" / "prog__flavors.o"
    rc = main(["relocate", str(obj), "-t", str(obj), "-o", str(tmp_path / "o.o")])
    assert rc == 1 and not (tmp_path / "o.o").exists()
    first = capsys.readouterr().err.splitlines()[0]
    assert first == (
        "corepy: error: prog 'test_flavors': relo #0: field offset ambiguity: 0 != 64 "
        "(candidates [5] and [15] put the field at different offsets); relocation: "
        "<byte_off> [5] struct core_reloc_flavors___reversed.a (0:2 @ offset 8); "
        "sec 'raw_tp/sys_enter', insn_off 0")


def test_relocate_json_stdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    install_calc(monkeypatch)
    rc = main(["relocate", str(ENGINE["little"]), "-t", str(ENGINE_TARGET["little"]),
               "-o", str(tmp_path / "o.o"), "--json"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["target"]["source"] == str(ENGINE_TARGET["little"])


@pytest.mark.parametrize("argv,needle", [
    (["relocate", "/nonexistent.o", "-o", "x"], "nonexistent.o"),
    (["relocate", str(DATA / "engine.bpf.c"), "-o", "x"], "not an ELF file"),
    (["relocate", str(ENGINE["little"]), "-t", "/nonexistent.btf", "-o", "x"],
     "nonexistent.btf"),
    (["relocate", str(ENGINE["little"]), "-t", str(DATA / "engine.bpf.c"), "-o", "x"],
     "engine.bpf.c"),
    (["relocate", str(ENGINE["little"])], "required: -o"),
    (["explain"], "required: OBJ"),
])
def test_bad_input_exit_2(argv: list[str], needle: str, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    install_calc(monkeypatch)
    monkeypatch.chdir(tmp_path)
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse usage errors
        rc = int(exc.code or 0)
    assert rc == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_explain_text_and_json(monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    install_calc(monkeypatch, fail_one)
    rc = main(["explain", str(ENGINE["little"]), "--target", str(ENGINE_TARGET["little"])])
    text = capsys.readouterr().out
    assert rc == 1
    assert "program 'sub_read_x' (section .text)" in text
    assert "=> ERROR" in text and "=> patched: 0 -> 8" in text
    rc = main(["explain", str(ENGINE["little"]), "-t", str(ENGINE_TARGET["little"]), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 1 and doc["summary"]["errors"] == 1 and doc["summary"]["ok"] is False


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    for cmd in ("relocate", "explain"):
        with pytest.raises(SystemExit) as e:
            main([cmd, "--help"])
        assert e.value.code == 0
        out = capsys.readouterr().out
        assert "examples:" in out and "exit codes:" in out


def test_user_target_disables_sys_modules(monkeypatch: pytest.MonkeyPatch, tmp_path: Path
                                          ) -> None:
    made = install_calc(monkeypatch)
    main(["relocate", str(ENGINE["little"]), "-t", str(ENGINE_TARGET["little"]),
          "-o", str(tmp_path / "o.o")])
    assert made[0].vmlinux.name == "vmlinux" and list(made[0].modules) == []


def test_modules_dir_lazy_and_corrupt_skipped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path
                                              ) -> None:
    made = install_calc(monkeypatch)
    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "broken.ko").write_bytes(b"\x7fELF garbage")
    (mods / "bad_raw").write_bytes(b"\x9f\xeb\x01\x00" + b"\xff" * 40)
    (mods / "README").write_text("not BTF, ignored")
    from corepy.api import relocate

    rel = relocate(ENGINE["little"], ENGINE_TARGET["little"], modules=mods)
    calc = made[0]
    assert callable(calc.modules) and calc.modules.loaded is None  # not needed: not loaded
    assert rel.report()["target"]["modules_source"] == str(mods)
    assert calc.modules() == []  # both corrupt: skipped, not fatal
    warnings = rel.report()["warnings"]
    assert [w.split(":")[0] for w in warnings] == [
        f"skipping module BTF {mods / 'bad_raw'}", f"skipping module BTF {mods / 'broken.ko'}"]
