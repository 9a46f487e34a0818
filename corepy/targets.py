"""Which BTF a relocation run matches against: a file, a Spec, or the running kernel.

libbpf's order is kept: candidates come from vmlinux first, and module BTF is consulted
only for a root type vmlinux has no candidate for. Module BTF is therefore loaded lazily
(the calculator calls :attr:`Target.modules` only when it needs it), and a module whose BTF
is corrupt is skipped with a warning rather than failing the run, as libbpf skips modules it
cannot load. A user-given target replaces vmlinux and disables the search of the running
kernel's modules (libbpf's ``btf_custom_path``), unless modules are given explicitly.

A process that relocates many objects against the same kernel (a loader) should not read
and index that kernel's BTF every time: targets given by path, and the running kernel, are
kept in a small LRU cache (``cachetools``) keyed by the file's real path, device, inode,
size, modification and change times, so a changed or replaced file is read again. Only the vmlinux
``Spec`` is shared (with its name and type memos); every call gets its own
:class:`Target`, warnings and module BTFs. See :func:`resolve` and :func:`clear_cache`.
"""

from __future__ import annotations

import os

from ._record import Record
from .errors import TargetError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    from btf.spec import Spec

#: How many kernels' BTF the target cache keeps (least recently used dropped first).
CACHE_SIZE = 4

SYS_BTF = "/sys/kernel/btf"
SYS_VMLINUX = "/sys/kernel/btf/vmlinux"

_MODULE_SUFFIXES = (".ko.xz", ".ko.zst", ".ko.gz", ".ko")
_BTF_SUFFIXES = (".btf.xz", ".btf.zst", ".btf.gz", ".btf")

PathLike = str | os.PathLike[str]
if TYPE_CHECKING:
    ModulesArg = PathLike | Sequence[PathLike] | None


def __getattr__(name: str) -> object:
    # ``ModulesArg`` names a typing construct; built on demand (collections.abc and typing
    # are not needed at run time).
    if name == "ModulesArg":
        from collections.abc import Sequence

        return PathLike | Sequence[PathLike] | None
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Target(Record):
    """A resolved target: vmlinux BTF plus (possibly lazy) module BTFs.

    ``vmlinux``: the ``corepy.core.calc.TargetBTF`` of vmlinux (named "vmlinux", as libbpf
    names it); ``modules``: module TargetBTFs, or a callable that loads them on first use;
    ``source``: where the target came from (a path, "running kernel (...)", or
    "<Spec ...>"); ``module_source``: where module BTF comes from (a directory,
    /sys/kernel/btf, or None: no modules); ``warnings``: problems that did not stop the run
    (skipped module BTFs, ...).
    """

    _fields = ("vmlinux", "modules", "source", "module_source", "warnings")

    def __init__(self, vmlinux: Any, modules: Sequence[Any] | Callable[[], Sequence[Any]],
                 source: str, module_source: str | None = None,
                 warnings: list[str] | None = None) -> None:
        self.vmlinux = vmlinux
        self.modules = modules
        self.source = source
        self.module_source = module_source
        self.warnings: list[str] = [] if warnings is None else warnings

    def loaded_modules(self) -> list[str]:
        """Names of the module BTFs loaded so far (without triggering a load)."""
        mods = self.modules
        if callable(mods):
            loaded = getattr(mods, "loaded", None)
            return [m.name for m in loaded] if loaded is not None else []
        return [m.name for m in mods]


def make_target_btf(name: str, spec: Spec, is_module: bool = False) -> Any:
    """A ``corepy.core.calc.TargetBTF`` (the calculation layer's input type)."""
    from .core.calc import TargetBTF

    return TargetBTF(name=name, spec=spec, is_module=is_module)


def load_btf(path: PathLike, base: Spec | None = None) -> Spec:
    """Any BTF file: raw, ELF ``.BTF`` (vmlinux, .ko, .o), compressed, vmlinuz, .deb.

    A target vmlinux is scanned with its name column: the candidate search looks up one
    name per distinct root type, and with the column each look-up is ~3x cheaper.
    """
    from btf import sources

    return sources.load(path, base=base, name_column=base is None)


def module_name(path: PathLike) -> str:
    """Module name from a file name: ``nf_tables.ko.xz`` -> ``nf_tables``."""
    base = os.path.basename(os.fspath(path))
    for suf in _MODULE_SUFFIXES + _BTF_SUFFIXES:
        if base.endswith(suf):
            base = base[: -len(suf)]
            break
    return base.replace("-", "_")


class LazyModules:
    """Loads module BTFs on the first call, keeps them, and records skipped ones."""

    def __init__(self, load: Callable[[], list[Any]]) -> None:
        self._load = load
        self.loaded: list[Any] | None = None

    def __call__(self) -> Sequence[Any]:
        if self.loaded is None:
            self.loaded = self._load()
        return self.loaded


def _load_modules(items: list[tuple[str, str]], base: Spec, warnings: list[str]) -> list[Any]:
    from btf.errors import BTFError

    from .errors import CorepyError

    out = []
    for name, path in items:
        try:
            spec = load_btf(path, base=base)
            if spec.base is None:
                raise TargetError("it is not split BTF on the target's vmlinux")
            spec.validate()  # decode now: a corrupt module must be skipped, not fail later
        except (BTFError, CorepyError, OSError, ValueError) as exc:
            warnings.append(f"skipping module BTF {path}: {exc}")
            continue
        out.append(make_target_btf(name, spec, True))
    return out


def _is_raw_btf(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(2) in (b"\x9f\xeb", b"\xeb\x9f")
    except OSError:
        return False


def _dir_modules(directory: str) -> list[tuple[str, str]]:
    """``.ko[.xz|.zst|.gz]``, ``NAME.btf[.xz|.zst|.gz]`` and raw BTF files (sysfs layout)."""
    items = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for f in sorted(files):
            full = os.path.join(root, f)
            if f.endswith(_MODULE_SUFFIXES + _BTF_SUFFIXES):
                items.append((module_name(f), full))
            elif f != "vmlinux" and _is_raw_btf(full):
                items.append((f, full))
    return items


def _sys_modules() -> list[tuple[str, str]]:
    try:
        names = sorted(os.listdir(SYS_BTF))
    except OSError:
        return []
    return [(n, os.path.join(SYS_BTF, n)) for n in names if n != "vmlinux"]


def _deb_modules(path: str, base: Spec, warnings: list[str]) -> list[Any]:
    from btf import sources
    from btf.errors import BTFError

    try:
        found = sources.load_modules(path, base)
    except (BTFError, OSError) as exc:
        warnings.append(f"skipping module BTF from {path}: {exc}")
        return []
    return [make_target_btf(name, spec, True) for name, spec in found.items()]


def _module_loader(
    modules: ModulesArg, base: Spec, warnings: list[str]
) -> tuple[str, Callable[[], list[Any]]]:
    """(description, loader) for the user's ``modules`` argument."""
    if isinstance(modules, (str, os.PathLike)):
        p = os.fspath(modules)
        if os.path.isdir(p):
            return p, lambda: _load_modules(_dir_modules(p), base, warnings)
        if not os.path.exists(p):
            raise TargetError(f"{p}: module BTF directory or file does not exist")
        if p.endswith(".deb"):
            return p, lambda: _deb_modules(p, base, warnings)
        return p, lambda: _load_modules([(module_name(p), p)], base, warnings)
    assert modules is not None
    paths = [os.fspath(m) for m in modules]
    for p in paths:
        if not os.path.exists(p):
            raise TargetError(f"{p}: module BTF file does not exist")
    items = [(module_name(p), p) for p in paths]
    return ", ".join(paths), lambda: _load_modules(items, base, warnings)


#: (real path, st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns) -> Spec; made on first use so that
#: a one-shot CLI run (which never reuses a target) does not import cachetools.
_cache: Any = None
_cache_lock: Any = None


def _file_key(path: str) -> tuple[str, int, int, int, int, int]:
    real = os.path.realpath(path)
    st = os.stat(real)
    return (real, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _cached(path: str, load: Callable[[], Spec]) -> Spec:
    """``load()``'s Spec for ``path``, from the target cache when the file is unchanged."""
    global _cache, _cache_lock
    try:
        key = _file_key(path)
    except OSError:
        return load()  # let the loader report the problem
    if _cache is None:
        import threading

        from cachetools import LRUCache

        _cache_lock = threading.Lock()
        _cache = LRUCache(maxsize=CACHE_SIZE)
    with _cache_lock:
        spec: Spec | None = _cache.get(key)
    if spec is None:
        spec = load()
        with _cache_lock:
            _cache[key] = spec
    return spec


def clear_cache() -> None:
    """Forget every cached target Spec (they are freed once no Relocation uses them)."""
    if _cache is not None:
        with _cache_lock:
            _cache.clear()


def cache_info() -> dict[str, int]:
    """``{"size": cached kernels, "maxsize": CACHE_SIZE}`` of the target cache."""
    return {"size": len(_cache) if _cache is not None else 0, "maxsize": CACHE_SIZE}


def resolve(target: PathLike | Spec | None, modules: ModulesArg = None, *,
            cache: bool = True) -> Target:
    """Turn the user's ``target``/``modules`` into a :class:`Target` (vmlinux loaded now).

    With ``cache`` (the default), a target given by path and the running kernel's BTF
    come from the target cache when the file has not changed since it was read (see the
    module docstring); the CLI, which resolves one target per process, turns it off.
    """
    from btf.spec import Spec

    warnings: list[str] = []
    if target is None:
        spec, source = _running_kernel(cache)
        default_modules = True
    elif isinstance(target, Spec):
        spec, source = target, f"<Spec {target.source}>"
        default_modules = False
    else:
        path = os.fspath(target)
        if not os.path.exists(path):
            raise TargetError(f"{path}: target BTF file does not exist")
        spec = _cached(path, lambda: load_btf(path)) if cache else load_btf(path)
        source = path
        default_modules = False
    vmlinux = make_target_btf("vmlinux", spec, False)
    if modules is not None:
        msource, loader = _module_loader(modules, spec, warnings)
    elif default_modules:
        msource = SYS_BTF
        def loader() -> list[Any]:
            return _load_modules(_sys_modules(), spec, warnings)
    else:
        return Target(vmlinux, (), source, None, warnings)
    return Target(vmlinux, LazyModules(loader), source, msource, warnings)


def _running_kernel(cache: bool = False) -> tuple[Spec, str]:
    if not os.path.exists(SYS_VMLINUX):
        raise TargetError(
            f"no target given and the running kernel has no BTF at {SYS_VMLINUX} "
            "(CONFIG_DEBUG_INFO_BTF); pass --target with a kernel's BTF"
        )
    from btf import sources

    source = f"running kernel ({SYS_VMLINUX})"
    if cache:
        return _cached(SYS_VMLINUX, lambda: sources.running_kernel(SYS_VMLINUX,
                                                                   name_column=True)), source
    return sources.running_kernel(SYS_VMLINUX, name_column=True), source
