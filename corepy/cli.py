"""The ``corepy`` command line.

Sub-commands live in :mod:`corepy.commands`, one module each, imported only when chosen so
that start-up stays cheap (no construct, no pyelftools, nothing decoded until asked).

Exit codes: 0 success, 1 a relocation libbpf would refuse (or poison with ``--strict``),
2 bad input or usage.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from . import __version__

#: Environment variable of btf's on-disk index cache (btf.spec.CACHE_ENV).
CACHE_ENV = "COREPY_BTF_CACHE"

#: sub-command -> module in corepy.commands providing ``add_arguments(parser)`` and
#: ``run(args) -> int``; the help line is kept here so ``--help`` imports nothing.
COMMANDS: dict[str, tuple[str, str]] = {
    "btf": ("btf_cmd", "inspect BTF: `corepy btf dump FILE` (bpftool-compatible)"),
    "relocate": ("relocate", "relocate a BPF object's CO-RE records for a target kernel"),
    "explain": ("explain", "explain every CO-RE relocation decision for a target kernel"),
}

EPILOG = """\
environment:
  COREPY_BTF_CACHE  directory of the kernel type-index cache (default ~/.cache/corepy/btf);
                    "off" disables it

exit codes: 0 success; 1 a relocation failed (libbpf would refuse the object);
            2 bad input (unreadable/malformed file, bad arguments)

examples:
  corepy btf dump /sys/kernel/btf/vmlinux --name task_struct
  corepy relocate prog.bpf.o --target /boot/vmlinuz-6.1.0-13-amd64 -o prog.6.1.o
  corepy explain prog.bpf.o --target linux-image-6.12.deb --json
"""


def _chosen(argv: Sequence[str]) -> str | None:
    """The sub-command named in ``argv`` (first non-option word), if any."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser; only the chosen sub-command's module is imported (start-up cost)."""
    parser = argparse.ArgumentParser(
        prog="corepy",
        description="Make one compiled BPF CO-RE object run on many Linux kernels, offline.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"corepy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = _chosen(argv)
    for name, (module, help_line) in COMMANDS.items():
        p = sub.add_parser(name, help=help_line, description=help_line,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(_module=module)
        if name == chosen:
            mod = importlib.import_module(f"corepy.commands.{module}")
            mod.add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    mod = importlib.import_module(f"corepy.commands.{args._module}")
    from btf.errors import BTFError

    from .errors import CorepyError, RelocationError

    saved_cache = os.environ.get(CACHE_ENV)
    try:
        _default_index_cache()
        rc: int = mod.run(args)
        return rc
    except RelocationError as exc:
        print(f"corepy: error: {exc}", file=sys.stderr)
        return 1
    except (BTFError, CorepyError) as exc:
        print(f"corepy: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (``| head``): not an error; silence the flush at exit.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return 0
    except OSError as exc:
        what = f"{exc.filename}: " if exc.filename is not None else ""
        print(f"corepy: error: {what}{exc.strerror or exc}", file=sys.stderr)
        return 2
    finally:
        if saved_cache is None:
            os.environ.pop(CACHE_ENV, None)
        else:
            os.environ[CACHE_ENV] = saved_cache


def _default_index_cache() -> None:
    """Turn on btf's on-disk index cache for this run unless the user chose otherwise.

    A kernel's type index costs ~25 ms to build and ~2 ms to load; the cache file is keyed
    by the blob's size and CRC-32, so a different kernel never reuses it. ``COREPY_BTF_CACHE``
    names another directory, or disables the cache when set to ``off`` (or empty).
    """
    value = os.environ.get(CACHE_ENV)
    if value is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        os.environ[CACHE_ENV] = os.path.join(base, "corepy", "btf")
    elif value.strip().lower() in ("", "off", "0", "no", "none"):
        os.environ.pop(CACHE_ENV, None)


if __name__ == "__main__":
    sys.exit(main())
