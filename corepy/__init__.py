"""corepy: BPF CO-RE relocation in Python, offline or as a library.

Importing this package is cheap: the engine, pyelftools and construct load on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"
