"""A Python loader doing CO-RE through corepy's library API, with no file written.

    python3 examples/relocate_and_run.py OBJECT.o [--target BTF] [--var NAME ...] [PROG ...]

(as root). The object is relocated in memory for the target (default: the running kernel,
its module BTF included), handed as bytes to the pure-Python loader in
``examples/pyloader/bpfload.py`` (which does no CO-RE itself), loaded with ``bpf()``,
test-run with ``BPF_PROG_TEST_RUN``, and the named global variables are printed.

This is the whole integration a loader needs: ``corepy.relocate()`` then ``to_bytes()``;
each ``Fixup`` says what was done to which instruction, for logs or diagnostics.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "pyloader"))

import bpfload  # noqa: E402

import corepy  # noqa: E402


def relocate_and_run(obj: str | Path, target: str | Path | None = None,
                     programs: Sequence[str] = (), variables: Sequence[str] = (),
                     ) -> tuple[corepy.Relocation, dict[str, int], dict[str, bytes]]:
    """Relocate ``obj`` for ``target``, load it, run ``programs`` (all when empty).

    Returns the relocation, each program's return value and the raw bytes of each variable
    read back after the runs. Raises ``corepy.CorepyError`` (CO-RE failed: libbpf would
    refuse the object too) or ``bpfload.LoaderError`` (the kernel refused it; a refused
    program's ``BPFError.log`` holds the verifier log).
    """
    rel = corepy.relocate(obj, target)
    with bpfload.Object.open(rel.to_bytes()) as loaded:
        loaded.load_into_kernel()
        retvals = {name: loaded.run(name) for name in programs or sorted(loaded.programs)}
        values = {var: loaded.read_var(var) for var in variables}
    return rel, retvals, values


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("object")
    ap.add_argument("programs", nargs="*", help="programs to test-run (default: all)")
    ap.add_argument("--target", help="target kernel BTF (default: the running kernel)")
    ap.add_argument("--var", action="append", default=[], help="global variable to print")
    args = ap.parse_args(argv)
    try:
        rel, retvals, values = relocate_and_run(args.object, args.target, args.programs,
                                                args.var)
    except (corepy.CorepyError, bpfload.LoaderError, OSError) as err:
        print(f"relocate_and_run: {err}", file=sys.stderr)
        return 1
    counts = Counter(fixup.outcome for fixup in rel.fixups)
    print(f"{len(rel.fixups)} CO-RE relocation(s): "
          + ", ".join(f"{n} {what}" for what, n in sorted(counts.items())))
    for name, ret in retvals.items():
        print(f"{name}: retval {ret}")
    for var, raw in values.items():
        print(f"{var}: {raw.hex()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
