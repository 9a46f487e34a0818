"""``corepy relocate``: resolve an object's CO-RE relocations offline and write the result.

Only os and sys are imported at module level (start-up cost; the CLI parses plain command
lines with ``FAST`` below, without argparse); the JSON report is built, and json imported,
only when ``--report`` or ``--json`` asks for it.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from corepy.api import Relocation
    from corepy.commands import FastSpec

EPILOG = """\
The output is the input object with every CO-RE instruction patched for TARGET and
the .BTF.ext CO-RE records removed (core_relo_len = 0), so libbpf, cilium/ebpf, aya or
any other loader loads it without relocating again. Nothing else in the file changes.

TARGET is any file holding a kernel's BTF: raw BTF (/sys/kernel/btf/vmlinux, a
.btf file), an ELF vmlinux or .ko, a compressed file, a vmlinuz, a linux-image .deb.
Without --target the running kernel is used, and its module BTF (/sys/kernel/btf/*)
is searched for types vmlinux lacks, as libbpf does. With --target, modules are
searched only if --modules is given.

A relocation libbpf cannot resolve but would not refuse (a field missing on the
target) "poisons" its instruction: it becomes a call to the invalid helper
0xbad2310, which the verifier rejects only if that code is reachable. Poisoned
instructions are reported as warnings; --strict makes them fail.

exit codes: 0 every relocation resolved (poisoned instructions allowed unless --strict)
            1 a relocation failed (or was poisoned with --strict); nothing is written
            2 bad input: unreadable or malformed object or target, bad arguments

examples:
  corepy relocate prog.bpf.o -o prog.host.o
  corepy relocate prog.bpf.o --target /boot/vmlinuz-6.1.0-13-cloud-amd64 -o prog.6.1.o
  corepy relocate prog.bpf.o --target vmlinux-6.12.btf --modules ./6.12-modules/ -o out.o
  corepy relocate prog.bpf.o --target k.btf -o out.o --report out.json --strict
"""


#: ``add_arguments`` as a table for ``corepy.cli.fast_args`` (a test keeps them in step).
FAST: FastSpec = (
    (),
    ("object",),
    {"-t": "target", "--target": "target", "-o": "output", "--output": "output",
     "--modules": "modules", "--report": "report"},
    {"--strict": "strict", "--json": "json"},
    frozenset(),
    frozenset({"output"}),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("object", metavar="OBJ", help="BPF object compiled by clang (-g, CO-RE)")
    parser.add_argument("-t", "--target", metavar="TARGET",
                        help="target kernel BTF (default: the running kernel)")
    parser.add_argument("-o", "--output", metavar="OUT", required=True,
                        help="where to write the relocated object (written atomically)")
    parser.add_argument("--modules", metavar="DIR",
                        help="directory of module BTF files or .ko files (split on TARGET)")
    parser.add_argument("--report", metavar="R.json",
                        help="also write the JSON report of every decision "
                             "(docs/report-schema.md), even when relocation fails")
    parser.add_argument("--strict", action="store_true",
                        help="treat poisoned instructions as errors (exit 1, nothing written)")
    parser.add_argument("--json", action="store_true",
                        help="print the JSON report on stdout instead of the summary line")


def _emit_report(args: argparse.Namespace, rel: Relocation) -> dict[str, Any]:
    import json

    doc = rel.report()
    if args.report:
        from corepy.writer import write_atomic

        write_atomic(args.report, (json.dumps(doc, indent=2) + "\n").encode())
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return doc


def print_problems(rel: Relocation) -> None:
    """Warnings for poisoned instructions and errors, one line each, on stderr."""
    for w in rel.warnings:
        print(f"corepy: warning: {w}", file=sys.stderr)
    for f in rel.fixups:
        if f.outcome == "poisoned":
            print(f"corepy: warning: prog '{f.program}' insn #{f.insn_idx} poisoned: "
                  f"{f.message}", file=sys.stderr)
        elif f.outcome == "error":
            print(f"corepy: error: {f.error_line}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from corepy.api import relocate

    # one target per process: the target cache (and its cachetools import) cannot help
    rel = relocate(args.object, args.target, modules=args.modules, collect_errors=True,
                   target_cache=False)
    if args.report or args.json:
        _emit_report(args, rel)
    print_problems(rel)
    if not rel.ok:
        print(f"corepy: {len(rel.errors)} relocation(s) failed; {args.output} not written",
              file=sys.stderr)
        return 1
    if args.strict and rel.poisoned:
        print(f"corepy: {len(rel.poisoned)} poisoned instruction(s) with --strict; "
              f"{args.output} not written", file=sys.stderr)
        return 1
    rel.write(args.output)
    if not args.json:
        patched = sum(1 for f in rel.fixups if f.outcome == "patched")
        print(f"{os.fspath(args.output)}: {len(rel.fixups)} CO-RE relocation(s): "
              f"{patched} patched, {len(rel.poisoned)} poisoned", file=sys.stderr)
    return 0
