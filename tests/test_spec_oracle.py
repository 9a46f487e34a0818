"""bpftool as the oracle: parse ``bpftool btf dump file X`` (raw format) into plain data and
compare it with what :class:`btf.Spec` decodes.

The other test_spec* modules import :func:`parse_raw_dump` and :func:`assert_matches`; this
module also tests the parser itself on a fixed bpftool excerpt.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from btf import Kind, Spec

BPFTOOL = shutil.which("bpftool")


@dataclass
class Raw:
    """One type as bpftool printed it."""

    id: int
    kind: str
    name: str
    attrs: dict[str, str]
    items: list[tuple[str, dict[str, str]]] = field(default_factory=list)


def _kv(text: str) -> dict[str, str]:
    return dict(p.split("=", 1) for p in text.replace(",", " ").split())


def parse_raw_dump(text: str) -> dict[int, Raw]:
    """id -> :class:`Raw` for every type in a bpftool raw dump.

    Lines are ``[id] KIND 'name' k=v ...`` followed by tab-indented items ``'name' k=v ...``
    (DATASEC items: ``type_id=.. offset=.. size=.. (VAR 'x')``). Names are taken between the
    first and the last quote of a line, which holds for every name bpftool prints.
    """
    out: dict[int, Raw] = {}
    cur: Raw | None = None
    for line in text.splitlines():
        if not line:
            continue
        if line[0] == "[":
            close = line.index("] ")
            q1, q2 = line.index("'"), line.rindex("'")
            kind = line[close + 2 : q1 - 1]
            assert kind.isupper() and q2 > q1, line
            cur = Raw(int(line[1:close]), kind, line[q1 + 1 : q2], _kv(line[q2 + 1 :]))
            out[cur.id] = cur
            continue
        assert cur is not None and line[0] == "\t", line
        if line.startswith("\ttype_id=") and cur.kind == "DATASEC":
            cur.items.append(("", _kv(line.split(" (", 1)[0])))
            continue
        q1, q2 = line.index("'"), line.rindex("'")
        assert q1 == 1 and q2 > q1, line
        cur.items.append((line[2:q2], _kv(line[q2 + 1 :])))
    return out


def bpftool_dump(path: Path | str, base: Path | str | None = None) -> str:
    """bpftool's raw dump of ``path`` (split on ``base`` when given)."""
    assert BPFTOOL is not None
    cmd = [BPFTOOL, "btf", "dump", "file", str(path)]
    if base is not None:
        cmd[1:1] = ["--base-btf", str(base)]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def _name(s: str) -> str:
    return "" if s == "(anon)" else s


_ENC = {"(none)": 0, "SIGNED": 1, "CHAR": 2, "BOOL": 4}
_LINKAGE = {"static": 0, "global": 1, "extern": 2}


def _enum_val(text: str) -> int:
    return int(text.removesuffix("ULL").removesuffix("LL"))


def assert_matches(spec: Spec, raw: Raw) -> None:
    """Every field bpftool prints for ``raw`` equals what ``spec`` decodes for that id."""
    t = spec.type(raw.id)
    a = raw.attrs
    where = f"[{raw.id}] {raw.kind} {raw.name!r}"
    assert t.kind_name == raw.kind, where
    assert t.name == _name(raw.name), where
    k = t.kind
    if k == Kind.INT:
        assert (t.size, t.bits_offset, t.bits, t.encoding) == (
            int(a["size"]), int(a["bits_offset"]), int(a["nr_bits"]), _ENC[a["encoding"]]
        ), where
    elif k in (Kind.PTR, Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG):
        assert t.ref == int(a["type_id"]), where
    elif k == Kind.ARRAY:
        assert (t.elem_type, t.index_type, t.nelems) == (
            int(a["type_id"]), int(a["index_type_id"]), int(a["nr_elems"])
        ), where
    elif k in (Kind.STRUCT, Kind.UNION):
        assert (t.size, t.vlen, len(t.members)) == (int(a["size"]), int(a["vlen"]),
                                                   len(raw.items)), where
        for m, (mname, mv) in zip(t.members, raw.items, strict=True):
            assert (m.name, m.type, m.bit_offset, m.bitfield_size) == (
                _name(mname), int(mv["type_id"]), int(mv["bits_offset"]),
                int(mv.get("bitfield_size", 0)),
            ), f"{where} member {mname}"
    elif k in (Kind.ENUM, Kind.ENUM64):
        assert (t.size, t.vlen) == (int(a["size"]), int(a["vlen"])), where
        assert t.kind_flag == (a["encoding"] == "SIGNED"), where
        got = []
        for v in t.values:
            val = v.value
            if k == Kind.ENUM and not t.kind_flag:
                val &= 0xFFFFFFFF
            elif k == Kind.ENUM64 and t.kind_flag and val >= 1 << 63:
                val -= 1 << 64
            got.append((v.name, val))
        assert got == [(_name(n), _enum_val(v["val"])) for n, v in raw.items], where
    elif k == Kind.FWD:
        assert ("union" if t.is_fwd_union else "struct") == a["fwd_kind"], where
    elif k == Kind.FUNC:
        assert (t.ref, t.vlen) == (int(a["type_id"]), _LINKAGE[a["linkage"]]), where
    elif k == Kind.FUNC_PROTO:
        assert (t.ref, t.vlen) == (int(a["ret_type_id"]), int(a["vlen"])), where
        assert [(p.name, p.type) for p in t.params] == [
            (_name(n), int(v["type_id"])) for n, v in raw.items
        ], where
    elif k == Kind.VAR:
        assert (t.ref, t.linkage) == (int(a["type_id"]), _LINKAGE[a["linkage"]]), where
    elif k == Kind.DATASEC:
        assert (t.size, t.vlen) == (int(a["size"]), int(a["vlen"])), where
        assert [(s.type, s.offset, s.size) for s in t.secinfos] == [
            (int(v["type_id"]), int(v["offset"]), int(v["size"])) for _n, v in raw.items
        ], where
    elif k == Kind.FLOAT:
        assert t.size == int(a["size"]), where
    elif k == Kind.DECL_TAG:
        assert (t.ref, t.component_idx) == (int(a["type_id"]), int(a["component_idx"])), where
    else:  # pragma: no cover - bpftool 7.1 knows no other kinds
        raise AssertionError(f"unexpected kind in {where}")


_EXCERPT = """\
[1] INT 'long unsigned int' size=8 bits_offset=0 nr_bits=64 encoding=(none)
[2] STRUCT 'bits' size=16 vlen=2
\t'a' type_id=1 bits_offset=0 bitfield_size=3
\t'(anon)' type_id=1 bits_offset=64
[3] ENUM64 'e' encoding=SIGNED size=8 vlen=1
\t'NEG' val=-4294967296LL
[4] DATASEC '.data' size=0 vlen=1
\ttype_id=5 offset=0 size=4 (VAR 'x')
[5] VAR 'x' type_id=1, linkage=global
[6] FUNC_PROTO '(anon)' ret_type_id=0 vlen=1
\t'(anon)' type_id=0
"""


def test_parser_reads_every_shape_bpftool_prints() -> None:
    got = parse_raw_dump(_EXCERPT)
    assert got[1].attrs == {"size": "8", "bits_offset": "0", "nr_bits": "64",
                            "encoding": "(none)"}
    assert got[2].items == [
        ("a", {"type_id": "1", "bits_offset": "0", "bitfield_size": "3"}),
        ("(anon)", {"type_id": "1", "bits_offset": "64"}),
    ]
    assert _enum_val(got[3].items[0][1]["val"]) == -(1 << 32)
    assert got[4].items == [("", {"type_id": "5", "offset": "0", "size": "4"})]
    assert got[5].attrs == {"type_id": "1", "linkage": "global"}
    assert got[6].items == [("(anon)", {"type_id": "0"})]
