"""Name rules shared by lookups: essential names of ``___flavor`` types."""

from __future__ import annotations


def essential_name(name: str) -> str:
    """Strip a CO-RE flavor suffix: ``task_struct___v2`` -> ``task_struct``.

    The suffix starts at the *last* ``X___Y`` where X and Y are not underscores (exactly
    three underscores), which is libbpf's rule; ``foo____bar`` and ``___foo`` keep their
    names, and names shorter than five characters never carry a flavor.
    """
    for i in range(len(name) - 5, -1, -1):
        if (
            name[i] != "_"
            and name[i + 1] == "_"
            and name[i + 2] == "_"
            and name[i + 3] == "_"
            and name[i + 4] != "_"
        ):
            return name[: i + 1]
    return name


def has_flavor(name: str) -> bool:
    """True when :func:`essential_name` would shorten ``name``."""
    return "___" in name and essential_name(name) != name
