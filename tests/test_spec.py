"""Spec against clang-compiled BPF objects (every kind, both byte orders), bpftool as oracle.

Objects come from tests/data/spec/kinds.bpf.c: the committed ``kinds.bpf{el,eb}.o`` always,
and a fresh build with clang-19 when it is installed. The committed
``kinds.bpf{el,eb}.btf.txt`` are bpftool's dumps of the committed objects (rebuilt by
``tests/data/spec/build.sh``), so the oracle comparisons run without bpftool too.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from test_spec_oracle import BPFTOOL, Raw, assert_matches, bpftool_dump, parse_raw_dump

from btf import BTFError, BTFTypeError, Kind, Spec, essential_name
from btf.names import has_flavor

DATA = Path(__file__).parent / "data" / "spec"
CLANG = shutil.which("clang-19")
ORDERS = ("bpfel", "bpfeb")


def btf_sections(path: Path) -> tuple[bytes, bytes | None]:
    """(.BTF, .BTF.ext) of an ELF object."""
    with path.open("rb") as f:
        elf = ELFFile(f)
        ext = elf.get_section_by_name(".BTF.ext")
        return elf.get_section_by_name(".BTF").data(), ext.data() if ext is not None else None


@pytest.fixture(scope="module", params=["committed", "fresh"])
def objects(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> dict[str, tuple[Path, str]]:
    """order -> (object path, bpftool raw dump of it)."""
    if request.param == "committed":
        return {o: (DATA / f"kinds.{o}.o", (DATA / f"kinds.{o}.btf.txt").read_text())
                for o in ORDERS}
    if CLANG is None:
        pytest.skip("clang-19 not installed: only the committed objects are tested")
    if BPFTOOL is None:
        pytest.skip("bpftool not installed: no oracle for freshly built objects")
    out = tmp_path_factory.mktemp("kinds")
    shutil.copy(DATA / "kinds.bpf.c", out)
    result = {}
    for o in ORDERS:
        obj = out / f"kinds.{o}.o"
        subprocess.run([CLANG, "-g", "-O2", f"--target={o}", "-c", "kinds.bpf.c", "-o", obj.name],
                       cwd=out, check=True)
        result[o] = (obj, bpftool_dump(obj))
    return result


def load(path: Path) -> Spec:
    return Spec(btf_sections(path)[0], source=str(path))


@pytest.mark.parametrize("order", ORDERS)
def test_every_type_matches_bpftool(objects: dict[str, tuple[Path, str]], order: str) -> None:
    path, dump = objects[order]
    spec = load(path)
    raw = parse_raw_dump(dump)
    assert sorted(raw) == list(spec.own_ids)
    for r in raw.values():
        assert_matches(spec, r)
    spec.validate()


@pytest.mark.skipif(BPFTOOL is None, reason="bpftool not installed")
@pytest.mark.parametrize("order", ORDERS)
def test_committed_oracle_dumps_are_current(order: str) -> None:
    assert bpftool_dump(DATA / f"kinds.{order}.o") == (DATA / f"kinds.{order}.btf.txt").read_text()


def test_both_orders_decode_identically(objects: dict[str, tuple[Path, str]]) -> None:
    le, be = load(objects["bpfel"][0]), load(objects["bpfeb"][0])
    assert (le.byteorder, be.byteorder, le.endian, be.endian) == ("little", "big", "<", ">")
    assert le.header[1:] == be.header[1:] and le.header.magic == be.header.magic == 0xEB9F
    assert le.type_count == be.type_count
    assert list(le.iter_types()) == list(be.iter_types())
    names = {le.name(i) for i in le.own_ids} - {""}
    for n in names:
        assert le.find_by_name(n) == be.find_by_name(n)
        assert le.find_by_essential_name(n) == be.find_by_essential_name(n)
    for i in le.own_ids:
        assert _size_or_error(le, i) == _size_or_error(be, i)


def test_every_kind_is_decoded(objects: dict[str, tuple[Path, str]]) -> None:
    spec = load(objects["bpfel"][0])
    assert {t.kind for t in spec.iter_types()} == {k.value for k in Kind if k != Kind.UNKN}


def _by_name(spec: Spec, name: str, kind: Kind) -> int:
    (tid,) = spec.find_by_name(name, kind)
    return tid


@pytest.mark.parametrize("order", ORDERS)
def test_kind_specific_values(objects: dict[str, tuple[Path, str]], order: str) -> None:
    spec = load(objects[order][0])
    kinds_t = spec.type(_by_name(spec, "kinds", Kind.STRUCT))
    m = {x.name: x for x in kinds_t.members}
    # 24-bit member offsets with kind_flag bitfields
    bits = spec.type(_by_name(spec, "bits", Kind.STRUCT))
    assert bits.kind_flag
    assert [(x.name, x.bit_offset, x.bitfield_size) for x in bits.members] == [
        ("a", 0, 3), ("b", 3, 5), ("c", 8, 12), ("d", 20, 40), ("tail", 64, 0)
    ]
    assert bits.members[3].raw_offset == (40 << 24) | 20
    # ENUM64: u64 value from two words; signed enum64 keeps the two's complement bits
    big = spec.type(_by_name(spec, "big_enum", Kind.ENUM64))
    assert [(v.name, v.value) for v in big.values] == [("BIG_LOW", 1),
                                                        ("BIG_HIGH", 0xFEDCBA9876543210)]
    sbig = spec.type(_by_name(spec, "signed_big", Kind.ENUM64))
    assert sbig.kind_flag and sbig.values[0].value == (1 << 64) - (1 << 32)
    small = spec.type(_by_name(spec, "small_enum", Kind.ENUM))
    assert [v.value for v in small.values] == [-3, 0, 7] and small.kind_flag
    # varargs FUNC_PROTO behind the function pointer member
    proto = spec.type(spec.type(m["varargs_fn"].type).ref)
    assert proto.kind == Kind.FUNC_PROTO and proto.is_varargs and len(proto.params) == 2
    plain = spec.type(spec.type(m["plain_fn"].type).ref)
    assert plain.params == () and not plain.is_varargs and plain.ref == 0
    # FWD struct / union
    assert not spec.type(_by_name(spec, "fwd_only", Kind.FWD)).is_fwd_union
    assert spec.type(_by_name(spec, "fwd_union", Kind.FWD)).is_fwd_union
    # TYPE_TAG sits between the PTR and the pointee
    tag = spec.type(spec.type(m["tagged"].type).ref)
    assert (tag.kind, tag.name, spec.name(tag.ref)) == (Kind.TYPE_TAG, "user", "int")
    # DECL_TAGs: whole struct (-1) and the first parameter of helper (0)
    tags = {t.name: t for t in spec.iter_types() if t.kind == Kind.DECL_TAG}
    assert tags["kinds_tag"].component_idx == -1 and tags["kinds_tag"].ref == kinds_t.id
    assert tags["param_tag"].component_idx == 0
    assert spec.name(tags["param_tag"].ref) == "helper"
    # FUNC -> FUNC_PROTO, linkage in vlen; VAR linkage; DATASEC of the .data vars
    helper = spec.type(_by_name(spec, "helper", Kind.FUNC))
    assert helper.vlen == 1 and spec.kind(helper.ref) == Kind.FUNC_PROTO
    assert [p.name for p in spec.type(helper.ref).params] == ["k", "x"]
    assert spec.type(_by_name(spec, "local_byte", Kind.VAR)).linkage == 0
    assert spec.type(_by_name(spec, "config", Kind.VAR)).linkage == 1
    data = spec.type(_by_name(spec, ".data", Kind.DATASEC))
    assert [spec.name(s.type) for s in data.secinfos] == [
        "local_byte", "global_kinds", "flavored", "many", "four"
    ]
    assert [s.size for s in data.secinfos] == [1, 136, 16, 4, 4]
    # FLOAT sizes as the BPF target defines them
    assert [spec.type(_by_name(spec, n, Kind.FLOAT)).size for n in
            ("float", "double", "long double")] == [4, 4 * 2, 8]
    # multi-dimensional array chain: char[2][3]
    outer = spec.type(m["matrix"].type)
    inner = spec.type(outer.elem_type)
    assert (outer.nelems, inner.nelems, spec.name(inner.elem_type)) == (2, 3, "char")


def _expected_size(raw: dict[int, Raw], tid: int, ptr: int) -> int | None:
    """bpftool-derived size of ``tid`` following btf__resolve_size's rules; None = error."""
    n = 1
    for _ in range(32):
        if tid == 0:
            return None
        r = raw[tid]
        if r.kind in ("INT", "STRUCT", "UNION", "ENUM", "ENUM64", "DATASEC", "FLOAT"):
            return n * int(r.attrs["size"])
        if r.kind == "PTR":
            return n * ptr
        if r.kind == "ARRAY":
            n *= int(r.attrs["nr_elems"])
            tid = int(r.attrs["type_id"])
            continue
        if r.kind in ("TYPEDEF", "VOLATILE", "CONST", "RESTRICT", "VAR", "DECL_TAG",
                      "TYPE_TAG"):
            tid = int(r.attrs["type_id"])
            continue
        return None
    return None


def _size_or_error(spec: Spec, tid: int) -> int | None:
    try:
        return spec.resolve_size(tid)
    except BTFTypeError:
        return None


@pytest.mark.parametrize("order", ORDERS)
def test_resolve_size_of_every_type(objects: dict[str, tuple[Path, str]], order: str) -> None:
    path, dump = objects[order]
    spec = load(path)
    raw = parse_raw_dump(dump)
    assert spec.ptr_size == 8  # guessed from INT 'long' (size 8) like libbpf
    for tid in spec.own_ids:
        assert _size_or_error(spec, tid) == _expected_size(raw, tid, 8), raw[tid]
    assert spec.resolve_size(_by_name(spec, "kinds", Kind.STRUCT)) == 136
    assert spec.resolve_size(_by_name(spec, "u32_alias", Kind.TYPEDEF)) == 4
    with pytest.raises(BTFTypeError):
        spec.resolve_size(0)


@pytest.mark.parametrize("order", ORDERS)
def test_skip_mods_and_typedefs(objects: dict[str, tuple[Path, str]], order: str) -> None:
    spec = load(objects[order][0])
    m = {x.name: x for x in spec.type(_by_name(spec, "kinds", Kind.STRUCT)).members}
    uint = _by_name(spec, "unsigned int", Kind.INT)
    assert spec.skip_mods_and_typedefs(m["cv"].type) == uint  # const volatile u32
    assert spec.skip_mods_and_typedefs(m["alias"].type) == uint  # u32_alias -> u32 -> uint
    assert spec.skip_mods(m["cv"].type) == _by_name(spec, "u32", Kind.TYPEDEF)
    assert spec.skip_mods(m["rp"].type) == spec.type(m["rp"].type).ref  # restrict int *
    assert spec.skip_mods_and_typedefs(0) == 0


@pytest.mark.parametrize("order", ORDERS)
def test_find_by_name_matches_bpftool(objects: dict[str, tuple[Path, str]], order: str) -> None:
    path, dump = objects[order]
    spec = load(path)
    raw = parse_raw_dump(dump)
    by_name: dict[str, list[int]] = {}
    for r in raw.values():
        if r.name != "(anon)":
            by_name.setdefault(r.name, []).append(r.id)
    assert "int" in by_name and len(by_name) > 40
    for name, ids in by_name.items():
        assert spec.find_by_name(name) == ids, name
        for kind in {spec.kind(i) for i in ids}:
            assert spec.find_by_name(name, kind) == [i for i in ids if spec.kind(i) == kind]
        # essential-name search equals a scan of bpftool's names
        ess = essential_name(name)
        assert spec.find_by_essential_name(name) == sorted(
            r.id for r in raw.values() if r.name != "(anon)" and essential_name(r.name) == ess
        ), name
    for missing in ("", "in", "nt", "kinds___", "no_such_type", "int\0", "\udcff"):
        assert spec.find_by_name(missing) == []


@pytest.mark.parametrize("order", ORDERS)
def test_flavor_lookups(objects: dict[str, tuple[Path, str]], order: str) -> None:
    spec = load(objects[order][0])
    kinds_id = _by_name(spec, "kinds", Kind.STRUCT)
    v2 = _by_name(spec, "kinds___v2", Kind.STRUCT)
    assert spec.find_by_essential_name("kinds", Kind.STRUCT) == [kinds_id, v2]
    assert spec.find_by_essential_name("kinds___local", Kind.STRUCT) == [kinds_id, v2]
    many = _by_name(spec, "many___under___scores", Kind.STRUCT)
    # the query is stripped too: "many___under" means essential name "many"
    assert spec.find_by_essential_name("many___under___x", Kind.STRUCT) == [many]
    assert spec.find_by_essential_name("many___under", Kind.STRUCT) == []
    assert spec.find_by_essential_name("many", Kind.STRUCT) == []
    assert spec.find_by_essential_name("many") == [_by_name(spec, "many", Kind.VAR)]
    four = _by_name(spec, "four____under", Kind.STRUCT)
    assert spec.find_by_essential_name("four____under") == [four]  # 4 underscores: no flavor


def test_essential_name_rules() -> None:
    """Examples from core-semantics.md 4.1 (libbpf's bpf_core_essential_name_len)."""
    cases = {
        "task_struct___local": "task_struct",
        "a___b___c": "a___b",
        "core_reloc_nesting___err_dup_incompat_types__1": "core_reloc_nesting",
        "foo____bar": "foo____bar",
        "___foo": "___foo",
        "core_reloc_flavors__err_wrong_name": "core_reloc_flavors__err_wrong_name",
        "a___b": "a",
        "a___": "a___",
        "x___y_": "x",
        "": "",
    }
    for name, ess in cases.items():
        assert essential_name(name) == ess, name
        assert has_flavor(name) == (ess != name)


def test_ptr_size_override_and_errors_are_btf_errors(
    objects: dict[str, tuple[Path, str]]
) -> None:
    data = btf_sections(objects["bpfel"][0])[0]
    spec = Spec(data, ptr_size=4)
    assert spec.ptr_size == 4
    ptr = spec.type(_by_name(spec, "kinds", Kind.STRUCT)).members[4].type  # rp: restrict ptr
    assert spec.resolve_size(ptr) == 4
    with pytest.raises(BTFError):
        spec.type(spec.type_count)
    with pytest.raises(BTFError):
        spec.type(-1)
    with pytest.raises(BTFError):
        spec.string(len(data))
    with pytest.raises(BTFError):
        spec.string(-1)
