"""The ``corepy`` command line.

Sub-commands live in :mod:`corepy.commands`, one module each, imported only when chosen so
that start-up stays cheap (no construct, no pyelftools, nothing decoded until asked).

Exit codes: 0 success, 1 a relocation libbpf would refuse (or poison with ``--strict``),
2 bad input or usage.

Plain command lines (``corepy relocate OBJ -t T -o OUT``, ``corepy btf dump FILE --name X``)
are parsed by :func:`fast_args` from the table each command module declares in ``FAST``,
without argparse: argparse, with the gettext/locale/shutil imports its parser construction
triggers, costs ~10 ms of a ~100 ms run. Anything else (help, errors, abbreviations,
``--opt=value``, values starting with ``-``) goes to argparse, so its behaviour is unchanged;
a test checks that both parsers give the same namespace wherever the fast one answers.
"""

from __future__ import annotations

import os
import sys

from . import __version__

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from types import SimpleNamespace
    from typing import Any

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
    import argparse

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
            _command_module(module).add_arguments(p)
    return parser


def _command_module(module: str) -> Any:
    """``corepy.commands.<module>`` (``__import__``: the importlib package costs ~1 ms)."""
    name = f"corepy.commands.{module}"
    __import__(name)
    return sys.modules[name]


def fast_args(argv: Sequence[str]) -> SimpleNamespace | None:
    """The namespace argparse would return for a plain ``argv``, or None to use argparse.

    A command module's ``FAST`` is ``(words, positionals, options, flags, ints, required)``:
    fixed words after the command (``(("btf_command", "dump"),)``), positional dests in
    order, option string -> dest for options taking one value, option string -> dest for
    ``store_true`` flags, dests converted with ``int``, and dests that must be given.
    Only exact option strings followed by a separate value not starting with ``-`` are
    accepted; the last occurrence wins, as in argparse.
    """
    from types import SimpleNamespace

    if not argv or argv[0] not in COMMANDS:
        return None
    command = argv[0]
    module = COMMANDS[command][0]
    mod = _command_module(module)
    spec = getattr(mod, "FAST", None)
    if spec is None:
        return None
    words, positionals, options, flags, ints, required = spec
    ns: dict[str, object] = {"command": command, "_module": module}
    ns.update((dest, None) for dest in options.values())
    ns.update((dest, False) for dest in flags.values())
    rest = list(argv[1:])
    for dest, word in words:
        if not rest or rest[0] != word:
            return None
        ns[dest] = rest.pop(0)
    given: set[str] = set()
    pos: list[str] = []
    i = 0
    while i < len(rest):
        tok = rest[i]
        if tok in options:
            if i + 1 >= len(rest) or rest[i + 1].startswith("-"):
                return None
            dest = options[tok]
            value: object = rest[i + 1]
            if dest in ints:
                try:
                    value = int(rest[i + 1])
                except ValueError:
                    return None
            ns[dest] = value
            given.add(dest)
            i += 2
        elif tok in flags:
            ns[flags[tok]] = True
            i += 1
        elif tok.startswith("-"):
            return None
        else:
            pos.append(tok)
            i += 1
    if len(pos) != len(positionals) or not given.issuperset(required):
        return None
    ns.update(zip(positionals, pos, strict=True))
    return SimpleNamespace(**ns)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and return the exit code.

    Without ``argv`` (the console script, ``python -m corepy``) the process is about to
    exit: the cyclic garbage collector is then kept out of the way. It would otherwise run
    during the relocation (tens of thousands of small objects) and once more over every
    object at interpreter exit, ~10 ms together; memory is returned at exit anyway.
    """
    if argv is not None:
        return _main(argv)
    import gc

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _main(sys.argv[1:])
    finally:
        gc.freeze()  # exit-time collections skip everything made during the run
        if was_enabled:
            gc.enable()


def _main(argv: Sequence[str]) -> int:
    args: argparse.Namespace | SimpleNamespace | None = fast_args(argv)
    if args is None:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help(sys.stderr)
            return 2
    mod = _command_module(args._module)
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
