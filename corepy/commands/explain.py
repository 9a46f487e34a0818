"""``corepy explain``: show every CO-RE relocation decision for a target, writing nothing.

Unlike ``relocate`` it does not stop at the first failing relocation: every record is
calculated and shown with its candidates, so one run shows everything to fix.
"""

from __future__ import annotations

import json
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    import argparse

EPILOG = """\
Text output groups the relocations by program; for each one it shows libbpf's spec of
the local access, the decision (patched old -> new, POISONED, ERROR) and one line per
target candidate (match / mismatch and why). --json prints the same as the report of
`corepy relocate --report` (docs/report-schema.md).

exit codes: 0 every relocation resolves (poisoned ones allowed); 1 at least one
            relocation fails as libbpf would fail it; 2 bad input

examples:
  corepy explain prog.bpf.o                      # against the running kernel
  corepy explain prog.bpf.o --target /boot/vmlinuz-6.1.0-13-amd64
  corepy explain prog.bpf.o --target vmlinux.btf --modules mods/ --json | jq .summary
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("object", metavar="OBJ", help="BPF object compiled by clang (-g, CO-RE)")
    parser.add_argument("-t", "--target", metavar="TARGET",
                        help="target kernel BTF (default: the running kernel)")
    parser.add_argument("--modules", metavar="DIR",
                        help="directory of module BTF files or .ko files (split on TARGET)")
    parser.add_argument("--json", action="store_true", help="print the JSON report")
    parser.add_argument("-q", "--brief", action="store_true",
                        help="text output without the candidate lines")


def run(args: argparse.Namespace) -> int:
    from corepy.api import relocate
    from corepy.report import render_text

    # one target per process: the target cache (and its cachetools import) cannot help
    rel = relocate(args.object, args.target, modules=args.modules, collect_errors=True,
                   target_cache=False)
    doc = rel.report()
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_text(doc, verbose=not args.brief))
    return 0 if rel.ok else 1
