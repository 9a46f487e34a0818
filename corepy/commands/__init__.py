"""One module per CLI sub-command: ``add_arguments(parser)`` and ``run(args) -> int``."""

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    #: A command's ``FAST`` table for ``corepy.cli.fast_args``: fixed words, positional
    #: dests, value options, flags, int dests, required dests.
    FastSpec = tuple[tuple[tuple[str, str], ...], tuple[str, ...], dict[str, str],
                     dict[str, str], frozenset[str], frozenset[str]]
