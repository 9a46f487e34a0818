"""Facts about a kernel's BTF, read through `bpftool btf dump ... format raw`.

The self-check objects compare what relocated code computed with values the harness writes
into their global data. Those expected values come from bpftool here, not from corepy's own
BTF library, so a bug in corepy cannot hide itself by agreeing with its own expectations.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from dataclasses import dataclass, field

_TYPE = re.compile(r"\[(\d+)\] (\w+) '([^']*)'(.*)")
_HEADER = re.compile(r"^\[(\d+)\] (\w+) '([^']*)'", re.M)
_MEMBER = re.compile(r"\s+'([^']*)' (.*)")
_KV = re.compile(r"(\w+)=(\S+)")
_MODIFIERS = ("TYPEDEF", "CONST", "VOLATILE", "RESTRICT", "TYPE_TAG")


class BpftoolMissing(Exception):
    """bpftool is not installed or failed."""


@dataclass
class BtfType:
    id: int
    kind: str
    name: str
    attrs: dict[str, str]
    members: list[tuple[str, dict[str, str]]] = field(default_factory=list)


class BtfDump:
    """Types of one BTF file, indexed by id and by (kind, name); a type's lines are parsed
    only when asked for (a kernel has ~100k types and a test needs a handful)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts: dict[int, tuple[int, int]] = {}  # id -> (start, end) in text
        self.by_name: dict[tuple[str, str], list[int]] = {}
        prev: int | None = None
        for m in _HEADER.finditer(text):
            tid = int(m.group(1))
            if prev is not None:
                self.starts[prev] = (self.starts[prev][0], m.start())
            self.starts[tid] = (m.start(), len(text))
            self.by_name.setdefault((m.group(2), m.group(3)), []).append(tid)
            prev = tid
        self._cache: dict[int, BtfType] = {}

    def type(self, tid: int) -> BtfType:
        t = self._cache.get(tid)
        if t is None:
            start, end = self.starts[tid]
            lines = self.text[start:end].splitlines()
            m = _TYPE.match(lines[0])
            assert m is not None
            t = BtfType(tid, m.group(2), m.group(3), dict(_KV.findall(m.group(4))))
            for line in lines[1:]:
                mm = _MEMBER.match(line)
                if mm:
                    t.members.append((mm.group(1), dict(_KV.findall(mm.group(2)))))
            self._cache[tid] = t
        return t

    def find(self, kind: str, name: str) -> BtfType | None:
        ids = self.by_name.get((kind, name), [])
        return self.type(ids[0]) if ids else None

    def resolve(self, tid: int) -> BtfType:
        t = self.type(tid)
        while t.kind in _MODIFIERS:
            t = self.type(int(t.attrs["type_id"]))
        return t

    def size(self, tid: int) -> int:
        t = self.resolve(tid)
        if t.kind == "PTR":
            return 8
        if t.kind == "ARRAY":
            return int(t.attrs["nr_elems"]) * self.size(int(t.attrs["type_id"]))
        return int(t.attrs["size"])

    def signed(self, tid: int) -> bool:
        t = self.resolve(tid)
        if t.kind == "INT":
            return t.attrs.get("encoding") == "SIGNED"
        if t.kind in ("ENUM", "ENUM64"):
            return t.attrs.get("encoding") == "SIGNED"
        return False

    def member(self, struct: str, name: str) -> dict[str, str] | None:
        t = self.find("STRUCT", struct)
        if t is None:
            return None
        return next((attrs for mname, attrs in t.members if mname == name), None)

    def enum_value(self, enum: str, name: str) -> int | None:
        for kind in ("ENUM", "ENUM64"):
            t = self.find(kind, enum)
            if t is not None:
                for mname, attrs in t.members:
                    if mname == name:
                        return int(attrs["val"])
        return None


@functools.lru_cache(maxsize=8)
def load(path: str) -> BtfDump:
    """Parse a BTF file (raw BTF such as /sys/kernel/btf/vmlinux) with bpftool."""
    tool = shutil.which("bpftool") or "/usr/sbin/bpftool"
    try:
        res = subprocess.run([tool, "btf", "dump", "file", path, "format", "raw"],
                             capture_output=True, text=True, timeout=120, check=True)
    except (OSError, subprocess.CalledProcessError) as err:
        raise BpftoolMissing(f"bpftool btf dump {path}: {err}") from err
    return BtfDump(res.stdout)
