"""Relocated self-check objects in real kernels: the results matrix as tests.

Object (selfcheck / selfcheck_probe, relocated by corepy or by libbpf as the reference, for
the kernel it runs in or for another one) × kernel (the host; Debian 6.1 and 6.12 under
QEMU) × loader (Debian's libbpf through libbpf_runner, relocating nothing; the pure-Python
bpfload). An object relocated for the kernel it runs in must pass every check, with raw values
matching the process that ran it; relocated for another kernel it must be caught (refused by
the verifier, or loaded with its layout checks failing). See matrix.py; all cases of one
kernel run in one boot. With COREPY_MATRIX_OUT=FILE the Markdown table is written there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from . import matrix, qemu

KERNELS = [pytest.param("host", marks=pytest.mark.root),
           pytest.param("6.1", marks=[pytest.mark.qemu, pytest.mark.network]),
           pytest.param("6.12", marks=[pytest.mark.qemu, pytest.mark.network])]
# Values that depend on the task that ran the program, not on the kernel's layout (mm_cid is
# the task's current concurrency id in its mm).
PROCESS_VALUES = {"out_pid_tgid", "out_core_pid", "out_core_tgid", "out_core_leader_pid",
                  "out_core_parent_tgid", "out_btf_pid", "out_btf_tgid", "out_btf_parent_tgid",
                  "out_btf_leader_pid", "out_cur_comm", "out_core_comm", "out_btf_comm",
                  "out_mm_cid"}


@pytest.fixture(scope="module", autouse=True)
def _matrix_file() -> Iterator[None]:
    yield
    matrix.write_if_requested()


def _run(kernel: str) -> matrix.KernelRun:
    try:
        return matrix.run_kernel(kernel)
    except matrix.Unavailable as err:
        pytest.skip(str(err))


def _cells(run: matrix.KernelRun, **where: str) -> dict[matrix.Case, matrix.Cell]:
    """Cells of this run that match ``where`` (Case fields) and actually ran."""
    return {c: cell for c, cell in run.cells.items()
            if all(getattr(c, k) == v for k, v in where.items()) and cell.status != "skipped"}


@pytest.mark.parametrize("case", matrix.CASES, ids=str)
@pytest.mark.parametrize("kernel", KERNELS)
def test_matrix(kernel: str, case: matrix.Case) -> None:
    cell = _run(kernel).cells[case]
    if cell.status == "skipped":
        pytest.skip(cell.detail)
    assert cell.status == case.expected, f"{cell.status}: {cell.detail}"


@pytest.mark.parametrize("kernel", KERNELS)
def test_ran_in_that_kernel(kernel: str) -> None:
    run = _run(kernel)
    if kernel == "host":
        assert run.release == os.uname().release
        return
    k, _ = qemu.kernel_or_reason(kernel)
    assert k is not None
    assert run.release == k.release and run.package == f"{k.package} {k.version}"


@pytest.mark.parametrize("obj", matrix.OBJECTS)
@pytest.mark.parametrize("kernel", KERNELS)
def test_loaders_and_relocators_agree_on_layout(kernel: str, obj: str) -> None:
    """Relocated for this kernel, the kernel-dependent values are the same whoever relocated
    and whoever loaded: corepy's object under libbpf reads what libbpf's reads."""
    cells = _cells(_run(kernel), obj=obj, target="same")
    if len(cells) < 2:
        pytest.skip("fewer than two cases ran")
    layouts = {}
    for case, cell in cells.items():
        assert cell.status == "pass", f"{case}: {cell.detail}"
        values = cell.summary["values"]
        assert isinstance(values, dict)
        layouts[str(case)] = {k: v for k, v in values.items() if k not in PROCESS_VALUES}
    first = next(iter(layouts.values()))
    assert first["out_pid_offset"] == matrix.EXPECTED.get(kernel, first)["out_pid_offset"]
    for name, layout in layouts.items():
        assert layout == first, name


@pytest.mark.parametrize("obj", matrix.OBJECTS)
@pytest.mark.parametrize("kernel", KERNELS)
def test_negative_controls_agree(kernel: str, obj: str) -> None:
    """Another kernel's relocation is caught the same way by both loaders and for both
    relocators: the same verifier complaint, or the same failed checks."""
    cells = _cells(_run(kernel), obj=obj, target="other")
    if len(cells) < 2:
        pytest.skip("fewer than two cases ran")
    verdicts = {str(c): (cell.status, cell.detail if cell.detail.startswith("refused")
                         else tuple(cell.summary.get("failed", ())))  # type: ignore[arg-type]
                for c, cell in cells.items()}
    assert len(set(verdicts.values())) == 1, verdicts
    status, detail = next(iter(verdicts.values()))
    assert status == "caught"
    if obj == "selfcheck":  # direct BTF-pointer loads at another layout's offsets
        assert isinstance(detail, str) and "task_struct" in detail
