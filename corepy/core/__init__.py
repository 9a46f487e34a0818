"""The CO-RE calculation layer: BTF specs and relocation records in, results out.

Pure computation (no ELF, no files, no instructions), restating libbpf's ``relo_core.c``
and its candidate search. Start with :class:`CoreCalculator`; the other modules are its
parts: :mod:`.access` (access strings, spec text), :mod:`.compat` (the three type
relations), :mod:`.match` (one candidate), :mod:`.values` (per-kind values, bitfields,
load/store size data), :mod:`.candidates` (candidate search). docs/core-calc.md describes
the layer and every deliberate difference from libbpf.
"""

from .calc import CoreCalculator, CoreOptions, TargetBTF
from .errors import CoreRelocationError

__all__ = ["CoreCalculator", "CoreOptions", "CoreRelocationError", "TargetBTF"]
