"""Which BTF a relocation run matches against: a file, a Spec, or the running kernel.

libbpf's order is kept: candidates come from vmlinux first, and module BTF is consulted
only for a root type vmlinux has no candidate for. Module BTF is therefore loaded lazily
(the calculator calls :attr:`Target.modules` only when it needs it), and a module whose BTF
is corrupt is skipped with a warning rather than failing the run, as libbpf skips modules it
cannot load. A user-given target replaces vmlinux and disables the search of the running
kernel's modules (libbpf's ``btf_custom_path``), unless modules are given explicitly.
"""

from __future__ import annotations

import lzma
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import TargetError

if TYPE_CHECKING:
    from btf.spec import Spec

SYS_BTF = "/sys/kernel/btf"
SYS_VMLINUX = "/sys/kernel/btf/vmlinux"

_MODULE_SUFFIXES = (".ko.xz", ".ko.zst", ".ko.gz", ".ko", ".btf.xz", ".btf")

PathLike = str | os.PathLike[str]
ModulesArg = PathLike | Sequence[PathLike] | None


@dataclass
class Target:
    """A resolved target: vmlinux BTF plus (possibly lazy) module BTFs."""

    #: ``corepy.core.calc.TargetBTF`` of vmlinux (named "vmlinux", as libbpf names it).
    vmlinux: Any
    #: Module TargetBTFs, or a callable that loads them on first use.
    modules: Sequence[Any] | Callable[[], Sequence[Any]]
    #: Where the target came from: a path, "running kernel (...)", or "<Spec ...>".
    source: str
    #: Where module BTF comes from (a directory, /sys/kernel/btf, or None: no modules).
    module_source: str | None = None
    #: Problems that did not stop the run (skipped module BTFs, ...).
    warnings: list[str] = field(default_factory=list)

    def loaded_modules(self) -> list[str]:
        """Names of the module BTFs loaded so far (without triggering a load)."""
        mods = self.modules
        if callable(mods):
            loaded = getattr(mods, "loaded", None)
            return [m.name for m in loaded] if loaded is not None else []
        return [m.name for m in mods]


def make_target_btf(name: str, spec: Spec, is_module: bool = False) -> Any:
    """A ``corepy.core.calc.TargetBTF`` (the calculation layer's input type)."""
    try:
        from .core.calc import TargetBTF
    except ImportError:  # the calculation layer has not landed in this checkout
        return _TargetBTF(name, spec, is_module)
    return TargetBTF(name=name, spec=spec, is_module=is_module)


@dataclass
class _TargetBTF:
    """Stand-in with ``TargetBTF``'s fields, used only while corepy.core is missing."""

    name: str
    spec: Spec
    is_module: bool = False


def _sources() -> Any:
    """``btf.sources`` when it is available (it reads every container format)."""
    try:
        import btf.sources as sources
    except ImportError:
        return None
    return sources


def load_btf(path: PathLike, base: Spec | None = None) -> Spec:
    """Any BTF file: raw, ELF ``.BTF`` (vmlinux, .ko, .o), compressed, vmlinuz, .deb."""
    sources = _sources()
    if sources is not None:
        spec: Spec = sources.load(path, base=base)
        return spec
    return _load_minimal(path, base)


def _load_minimal(path: PathLike, base: Spec | None) -> Spec:
    """Raw BTF or an ELF with ``.BTF`` (optionally .xz): enough until btf.sources exists."""
    from btf.spec import Spec

    from .objfile import ElfFile

    name = os.fspath(path)
    with open(name, "rb") as f:
        data = f.read()
    if data[:6] == b"\xfd7zXZ\x00":
        try:
            data = lzma.decompress(data)
        except lzma.LZMAError as exc:
            raise TargetError(f"{name}: corrupt xz data: {exc}") from None
    if data[:2] in (b"\x9f\xeb", b"\xeb\x9f"):
        return Spec(data, source=name, base=base)
    if data[:4] == b"\x7fELF":
        elf = ElfFile(data, name)
        sec = elf.section_by_name(".BTF")
        if sec is None:
            raise TargetError(f"{name}: ELF file has no .BTF section")
        return Spec(elf.section_data(sec), source=f"{name}:.BTF", base=base,
                    ptr_size=None if base is not None else (8 if elf.elf64 else 4))
    raise TargetError(f"{name}: not BTF (neither raw BTF nor an ELF file with .BTF)")


def module_name(path: PathLike) -> str:
    """Module name from a file name: ``nf_tables.ko.xz`` -> ``nf_tables``."""
    base = os.path.basename(os.fspath(path))
    for suf in _MODULE_SUFFIXES:
        if base.endswith(suf):
            base = base[: -len(suf)]
            break
    return base.replace("-", "_")


class LazyModules:
    """Loads module BTFs on the first call, keeps them, and records skipped ones."""

    def __init__(self, paths: Callable[[], list[tuple[str, str]]], base: Spec,
                 warnings: list[str]) -> None:
        self._paths = paths
        self._base = base
        self._warnings = warnings
        self.loaded: list[Any] | None = None

    def __call__(self) -> Sequence[Any]:
        if self.loaded is None:
            self.loaded = _load_modules(self._paths(), self._base, self._warnings)
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
        except (BTFError, CorepyError, OSError, ValueError) as exc:
            warnings.append(f"skipping module BTF {path}: {exc}")
            continue
        out.append(make_target_btf(name, spec, True))
    return out


def _dir_modules(directory: str) -> list[tuple[str, str]]:
    items = []
    for root, _dirs, files in os.walk(directory):
        for f in sorted(files):
            if f.endswith(_MODULE_SUFFIXES) or f.endswith(".raw"):
                items.append((module_name(f), os.path.join(root, f)))
    items.sort(key=lambda it: it[1])
    return items


def _sys_modules() -> list[tuple[str, str]]:
    try:
        names = sorted(os.listdir(SYS_BTF))
    except OSError:
        return []
    return [(n, os.path.join(SYS_BTF, n)) for n in names if n != "vmlinux"]


def _module_list(modules: ModulesArg) -> tuple[str, Callable[[], list[tuple[str, str]]]]:
    if isinstance(modules, (str, os.PathLike)):
        p = os.fspath(modules)
        if os.path.isdir(p):
            return p, lambda: _dir_modules(p)
        if not os.path.exists(p):
            raise TargetError(f"{p}: module BTF directory or file does not exist")
        return p, lambda: [(module_name(p), p)]
    assert modules is not None
    paths = [os.fspath(m) for m in modules]
    for p in paths:
        if not os.path.exists(p):
            raise TargetError(f"{p}: module BTF file does not exist")
    return ", ".join(paths), lambda: [(module_name(p), p) for p in paths]


def resolve(target: PathLike | Spec | None, modules: ModulesArg = None) -> Target:
    """Turn the user's ``target``/``modules`` into a :class:`Target` (vmlinux loaded now)."""
    from btf.spec import Spec

    warnings: list[str] = []
    if target is None:
        spec, source = _running_kernel()
        default_modules = True
    elif isinstance(target, Spec):
        spec, source = target, f"<Spec {target.source}>"
        default_modules = False
    else:
        path = os.fspath(target)
        if not os.path.exists(path):
            raise TargetError(f"{path}: target BTF file does not exist")
        spec, source = load_btf(path), path
        default_modules = False
    vmlinux = make_target_btf("vmlinux", spec, False)
    if modules is not None:
        msource, lister = _module_list(modules)
    elif default_modules:
        msource, lister = SYS_BTF, _sys_modules
    else:
        return Target(vmlinux, (), source, None, warnings)
    return Target(vmlinux, LazyModules(lister, spec, warnings), source, msource, warnings)


def _running_kernel() -> tuple[Spec, str]:
    sources = _sources()
    if sources is not None and hasattr(sources, "running_kernel"):
        spec: Spec = sources.running_kernel()
        return spec, f"running kernel ({spec.source})"
    if not os.path.exists(SYS_VMLINUX):
        raise TargetError(
            f"no target given and the running kernel has no BTF at {SYS_VMLINUX} "
            "(CONFIG_DEBUG_INFO_BTF); pass --target with a kernel's BTF"
        )
    return _load_minimal(SYS_VMLINUX, None), f"running kernel ({SYS_VMLINUX})"
