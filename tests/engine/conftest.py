"""Shared helpers for the engine tests: object paths and a calculator stand-in.

``ScriptedCalc`` plays the calculation layer's role with results the test chooses, so
the engine (reader, patcher, writer, report, CLI plumbing) is tested on its own; the
differential tests in test_libbpf_diff.py use the real calculator against libbpf.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from corepy import insn as I
from corepy.objfile import BPFObject
from corepy.relo import CoreRelo, ReloResult

DATA = Path(__file__).resolve().parent / "data"
ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

ENGINE = {"little": DATA / "engine.bpfel.o", "big": DATA / "engine.bpfeb.o"}
ENGINE_TARGET = {"little": DATA / "engine_target.bpfel.o", "big": DATA / "engine_target.bpfeb.o"}
HOST = {"little": DATA / "host.bpfel.o", "big": DATA / "host.bpfeb.o"}


def current_value(obj: BPFObject, relo: CoreRelo) -> int:
    """What the compiler put in the relocated field (imm, off or imm64), as libbpf reads it."""
    data = obj.section_data(relo.section)
    ins = I.decode(data, relo.insn_off, obj.byteorder)
    if ins.cls in (I.CLASS_LDX, I.CLASS_ST, I.CLASS_STX):
        return ins.off
    if ins.is_ld_imm64:
        hi = I.decode(data, relo.insn_off + 8, obj.byteorder)
        return (ins.imm & 0xFFFFFFFF) | (hi.imm & 0xFFFFFFFF) << 32
    return ins.imm


class ScriptedCalc:
    """Calculator stand-in: ``rule(relo, current) -> ReloResult`` decides each result."""

    def __init__(self, obj: BPFObject,
                 rule: Callable[[CoreRelo, int], ReloResult] | None = None) -> None:
        self.obj = obj
        self.rule = rule or (lambda r, v: ReloResult(r, f"[{r.type_id}] x", v, v))
        self.calls: list[tuple[CoreRelo, str]] = []

    def calc(self, relo: CoreRelo, prog_name: str) -> ReloResult:
        self.calls.append((relo, prog_name))
        return self.rule(relo, current_value(self.obj, relo))


@pytest.fixture(params=["little", "big"])
def byteorder(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def has_calc() -> bool:
    try:
        import corepy.core.calc  # noqa: F401
    except ImportError:
        return False
    return True


needs_calc = pytest.mark.skipif(not has_calc(), reason="corepy.core.calc has not landed yet")
