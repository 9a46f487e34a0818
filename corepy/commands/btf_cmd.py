"""``corepy btf dump``: print BTF exactly like ``bpftool btf dump file FILE``.

Only os and sys are imported at module level: ``corepy btf dump vmlinux --name X`` must
start fast (the CLI parses plain command lines with ``FAST`` below, without argparse).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    import argparse

    from btf.spec import Spec
    from corepy.commands import FastSpec

DUMP_HELP = "print every type like `bpftool btf dump file FILE` (format raw)"
DUMP_EPILOG = """\
Without filters the output is byte-for-byte bpftool's (with --base, that of
`bpftool btf dump -B BASE file FILE`: only the split file's own types). Filters
select types from that output and may be combined (all must match).

FILE (and BASE) may be anything btf.sources opens, in either byte order: raw BTF
(/sys/kernel/btf/vmlinux), an ELF file with a .BTF section (BPF object, .ko,
vmlinux), a compressed file, a vmlinuz/Image, a Debian linux-image package.

examples:
  corepy btf dump /sys/kernel/btf/vmlinux --name task_struct
  corepy btf dump prog.bpf.o --kind datasec --json
  corepy btf dump mod.ko --base vmlinux.btf
"""


#: ``add_arguments`` as a table for ``corepy.cli.fast_args`` (a test keeps them in step).
FAST: FastSpec = (
    (("btf_command", "dump"),),
    ("file",),
    {"-B": "base", "--base": "base", "--name": "name", "--kind": "kind", "--id": "type_id"},
    {"-j": "json", "--json": "json"},
    frozenset({"type_id"}),
    frozenset(),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    import argparse

    sub = parser.add_subparsers(dest="btf_command", metavar="SUBCOMMAND", required=True)
    p = sub.add_parser(
        "dump",
        help=DUMP_HELP,
        description=DUMP_HELP,
        epilog=DUMP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE",
                   help="BTF to dump (raw, ELF, compressed, kernel image, .deb)")
    p.add_argument("-B", "--base", metavar="BASE",
                   help="base BTF of a split FILE (module BTF on vmlinux)")
    p.add_argument("-j", "--json", action="store_true",
                   help="print bpftool's JSON (`bpftool -j btf dump`) instead of text")
    p.add_argument("--name", metavar="NAME", help="only types with exactly this name")
    p.add_argument("--kind", metavar="KIND",
                   help="only types of this kind: a bpftool kind name, any case "
                        "(int, ptr, array, struct, union, enum, fwd, typedef, volatile, "
                        "const, restrict, func, func_proto, var, datasec, float, "
                        "decl_tag, type_tag, enum64)")
    p.add_argument("--id", metavar="ID", type=int, dest="type_id",
                   help="only the type with this id")


def _load(path: str, base: Spec | None) -> Spec:
    """Open ``path`` (any container btf.sources knows) as a Spec, split on ``base`` if given.

    Raw BTF, the common case (``/sys/kernel/btf/*``), is parsed directly: importing the
    container machinery costs more start-up time than a ``--name`` look-up itself.
    """
    from btf.spec import Spec, detect_byteorder

    try:
        with open(path, "rb", buffering=0) as f:
            # pread, then one readall(): sysfs hands out 4 KiB per read, so any extra
            # buffering layer or copy is measurable here.
            if detect_byteorder(os.pread(f.fileno(), 2, 0)) is not None:
                return Spec(f.readall(), source=path, base=base)
    except OSError:
        pass  # btf.sources reports it
    import btf.sources

    spec: Spec = btf.sources.load(path, base=base)
    return spec


def _quiet_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so the final flush at exit cannot fail."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
    except (OSError, ValueError):
        pass


def run(args: argparse.Namespace) -> int:
    from btf.dump import dump_json, dump_text, kind_from_name

    from ..errors import CorepyError

    kind = None
    if args.kind is not None:
        try:
            kind = kind_from_name(args.kind)
        except ValueError as exc:
            raise CorepyError(str(exc)) from None
    base = _load(args.base, None) if args.base else None
    spec = _load(args.file, base)
    out = sys.stdout
    reconfigure = getattr(out, "reconfigure", None)
    if reconfigure is not None:
        # Names are bytes: keep non-UTF-8 ones intact, as bpftool prints them raw.
        reconfigure(encoding="utf-8", errors="surrogateescape")
    dump = dump_json if args.json else dump_text
    try:
        dump(spec, out, name=args.name, kind=kind, type_id=args.type_id)
        out.flush()
    except BrokenPipeError:
        _quiet_stdout()
    except OSError as exc:  # e.g. ENOSPC: the file name in OSError would be empty here
        _quiet_stdout()
        raise CorepyError(f"cannot write the dump to stdout: {exc.strerror or exc}") from None
    return 0
