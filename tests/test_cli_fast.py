"""The CLI's argparse-free fast path gives exactly argparse's namespace, or steps aside.

``corepy.cli.fast_args`` parses plain command lines from each command module's ``FAST``
table (start-up time); everything else must fall through to argparse. Whenever the fast
parser answers, argparse must accept the same argv and produce the same attributes.
"""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corepy.cli import build_parser, fast_args

VOCAB = [
    # options of relocate / explain / btf dump, exact and not
    "-t", "--target", "-o", "--output", "--modules", "--report", "--strict", "--json",
    "-B", "--base", "--name", "--kind", "--id", "-j", "-q", "--brief", "-h", "--help",
    "--version", "--tar", "--target=x", "-oout", "--out", "--id=3", "--",
    # values and positionals
    "a.o", "", "x y", "-", "-v", "-3", "12", " 7 ", "1_0", "0x10", "dump", "btf",
    "relocate", "explain", "task_struct", "STRUCT",
]


def argparse_ns(argv: list[str]) -> dict[str, object] | None:
    """argparse's namespace as a dict, or None when it exits (error, help, version)."""
    sink = io.StringIO()
    try:
        with contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
            ns = build_parser(argv).parse_args(argv)
    except SystemExit:
        return None
    return vars(ns)


def check(argv: list[str]) -> bool:
    fast = fast_args(argv)
    if fast is None:
        return False
    assert argparse_ns(argv) == vars(fast), argv
    return True


@pytest.mark.parametrize("argv", [
    ["relocate", "a.o", "--target", "/sys/kernel/btf/vmlinux", "-o", "out.o"],
    ["relocate", "-t", "k.btf", "a.o", "--output", "o", "--strict", "--json"],
    ["relocate", "a.o", "-o", "o", "--modules", "m", "--report", "r.json", "-o", "p"],
    ["relocate", "a.o", "-o", ""],
    ["btf", "dump", "/sys/kernel/btf/vmlinux", "--name", "task_struct"],
    ["btf", "dump", "f", "--id", "12", "--kind", "struct", "-j", "-B", "base"],
    ["btf", "dump", "f", "--id", " 7 "],
])
def test_plain_command_lines_take_the_fast_path(argv: list[str]) -> None:
    assert check(argv)


@pytest.mark.parametrize("argv", [
    [], ["--help"], ["--version"], ["relocate"], ["relocate", "a.o"],
    ["relocate", "a.o", "-o"], ["relocate", "a.o", "-o", "-x"],
    ["relocate", "a.o", "b.o", "-o", "o"],
    ["relocate", "a.o", "--out", "o"], ["relocate", "a.o", "--output=o"],
    ["relocate", "a.o", "-oout"], ["relocate", "-h"], ["relocate", "a.o", "-o", "o", "--"],
    ["btf"], ["btf", "dump"], ["btf", "dump", "f", "--id", "x"], ["btf", "dump", "f", "--id", "-3"],
    ["btf", "dmp", "f"], ["explain", "a.o"], ["bogus"],
])
def test_anything_else_goes_to_argparse(argv: list[str]) -> None:
    assert fast_args(argv) is None


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([["relocate"], ["btf", "dump"], ["btf"], ["explain"], []]),
       st.lists(st.sampled_from(VOCAB), max_size=8))
def test_fast_path_agrees_with_argparse(head: list[str], tail: list[str]) -> None:
    check(head + tail)
