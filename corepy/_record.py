"""Slotted record classes that behave like dataclasses, without importing ``dataclasses``.

``import dataclasses`` pulls ``inspect`` (and ``ast``, ``dis``, ``tokenize``) into start-up,
~10 ms, and every decorated class costs another ~1 ms because the decorator compiles its
methods with ``exec``. The CLI pays both on every run, more than relocating 100 records, so
the classes on that path derive from these bases instead.

What a subclass gets, exactly as ``@dataclass(slots=True)`` gave it: field-wise ``==``
(``NotImplemented`` for other classes) and ``repr`` over the fields (minus the names in
``_hidden``, which play ``field(compare=False, repr=False)``), ``__match_args__``, copy and
pickle support. :class:`Record` is mutable and unhashable; :class:`Frozen` refuses
assignment (``AttributeError``) and hashes its compared fields. Subclasses write their own
``__init__`` (frozen ones through ``object.__setattr__``).
"""

from __future__ import annotations

_set = object.__setattr__


class Record:
    """Field-wise ``==``/``repr`` over the fields; mutable, unhashable.

    The fields are ``__slots__``, or ``_fields`` for a class that keeps a ``__dict__``
    (those that were plain ``@dataclass`` classes, so callers may still add attributes).
    """

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]  # mutable and compared by value
    #: Fields of a class without ``__slots__`` of its own.
    _fields: tuple[str, ...] = ()
    #: Fields left out of ``==`` and ``repr``.
    _hidden: tuple[str, ...] = ()
    #: Fields compared and shown, in order (computed per class).
    _shown: tuple[str, ...] = ()

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        fields: tuple[str, ...] = cls.__dict__.get("__slots__", ()) or cls._fields
        cls._fields = fields
        cls.__match_args__ = fields  # type: ignore[attr-defined, misc]
        cls._shown = tuple(f for f in fields if f not in cls._hidden)

    def _values(self) -> tuple[object, ...]:
        return tuple([getattr(self, f) for f in self._shown])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __repr__(self) -> str:
        inner = ", ".join([f"{f}={getattr(self, f)!r}" for f in self._shown])
        return f"{self.__class__.__qualname__}({inner})"

    def __getstate__(self) -> dict[str, object]:
        state = {f: getattr(self, f) for f in self._fields}
        state.update(getattr(self, "__dict__", ()))
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        for name, value in state.items():
            _set(self, name, value)


class Frozen(Record):
    """A :class:`Record` whose fields cannot be reassigned; hashable by its compared fields."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:  # type: ignore[override]  # Record: None (unhashable)
        return hash(self._values())


__all__ = ["Frozen", "Record"]
