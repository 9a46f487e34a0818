"""Object reader: functions, CO-RE records in .BTF.ext order, attribution, hostile input."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from btf.errors import BTFError
from corepy.errors import ObjectFormatError
from corepy.objfile import BPFObject

from .conftest import ENGINE, ENGINE_TARGET, HOST


def test_functions_and_sections(byteorder: str) -> None:
    obj = BPFObject.open(ENGINE[byteorder])
    assert obj.byteorder == byteorder
    funcs = {f.name: (f.section, f.start, f.is_subprog) for f in obj.functions}
    # llvm-objdump -t: sub_read_x is the only .text function, each program starts its section
    assert funcs == {
        "sub_read_x": (".text", 0, True),
        "prog_alu": ("raw_tp/sys_enter", 0, False),
        "prog_ldimm64": ("raw_tp/sys_exit", 0, False),
        "prog_direct": ("tp_btf/sched_switch", 0, False),
    }
    assert [p.name for p in obj.programs] == ["prog_alu", "prog_ldimm64", "prog_direct"]
    assert obj.btf is not None and obj.btf.ptr_size == 8


def test_relocations_in_btf_ext_order() -> None:
    obj = BPFObject.open(ENGINE["little"])
    assert obj.ext is not None
    expect = [(s.name, i, r.insn_off) for s in obj.ext.core_relos for i, r in enumerate(s.records)]
    got = [(s.relo.section, s.relo.index, s.relo.insn_off) for s in obj.sites]
    assert got == expect
    # index restarts per section (libbpf's "relo #N")
    assert [s.relo.index for s in obj.sites if s.relo.section == ".text"] == [0, 1]


def test_text_subprog_relocations_named_after_subprog() -> None:
    obj = BPFObject.open(ENGINE["little"])
    text = [s for s in obj.sites if s.relo.section == ".text"]
    assert {s.function.name for s in text if s.function} == {"sub_read_x"}
    # as libbpf logs them: relo #0 at insn #1 (access 0:3:0 = in.x), relo #1 at insn #7
    assert [(s.relo.access, s.insn_idx) for s in text] == [("0:3:0", 1), ("0:3:1", 7)]


def test_record_fields_decoded() -> None:
    obj = BPFObject.open(ENGINE["big"])
    first = obj.sites[0].relo
    # llvm-readelf/bpftool agree: first raw_tp/sys_enter record is byte_off of eng_s.b
    assert (first.section, first.kind, first.access) == ("raw_tp/sys_enter", 0, "0:2")
    assert obj.btf is not None and obj.btf.name(first.type_id) == "eng_s"


def test_object_without_core_relos() -> None:
    obj = BPFObject.open(ENGINE_TARGET["little"])
    assert obj.sites == []


def test_host_object_counts() -> None:
    obj = BPFObject.open(HOST["little"])
    assert len(obj.sites) == 98
    assert {s.function.name for s in obj.sites if s.function} == {"host_reads", "host_direct"}


@pytest.mark.parametrize("path", [*ENGINE.values(), *HOST.values()], ids=lambda p: p.name)
def test_elf_layer_agrees_with_pyelftools(path: Path) -> None:
    """Sections and symbols as read by btf.elf.ElfReader equal pyelftools' reading."""
    from elftools.elf import enums
    from elftools.elf.elffile import ELFFile

    def num(table: dict[str, int], v: str | int) -> int:  # pyelftools gives names
        return v if isinstance(v, int) else table[v]

    sht = {**enums.ENUM_SH_TYPE_BASE, **enums.ENUM_SH_TYPE_AMD64}
    with path.open("rb") as f:
        ref = ELFFile(f)
        want_secs = [(s.name, num(sht, s["sh_type"]), s["sh_flags"], s["sh_offset"],
                      s["sh_size"], s["sh_link"], s["sh_info"], s["sh_entsize"])
                     for s in ref.iter_sections()]
        symtab = ref.get_section_by_name(".symtab")
        want_syms = [(s.name, s["st_value"], s["st_size"],
                      num(enums.ENUM_ST_INFO_TYPE, s["st_info"]["type"]),
                      num(enums.ENUM_ST_INFO_BIND, s["st_info"]["bind"]),
                      num(enums.ENUM_ST_SHNDX, s["st_shndx"])) for s in symtab.iter_symbols()]
    obj = BPFObject.open(path)
    got_secs = [(s.name, s.type, s.flags, s.offset, s.size, s.link, s.info, s.entsize)
                for s in obj.elf.sections]
    assert got_secs == want_secs
    got_syms = [(s.name, s.value, s.size, s.type, s.bind, s.shndx) for s in obj.elf.symbols()]
    assert got_syms == want_syms
    assert len(got_syms) > 10 and sum(s[3] == 2 for s in got_syms) >= 2  # STT_FUNC


def test_elf_errors_become_object_format_errors() -> None:
    data = bytearray(ENGINE["little"].read_bytes())
    struct.pack_into("<Q", data, 0x28, len(data) + 64)  # e_shoff past the end
    with pytest.raises(ObjectFormatError, match=r"^x\.o: malformed ELF: .* runs past the end"):
        BPFObject.from_bytes(bytes(data), "x.o")
    data = bytearray(ENGINE["little"].read_bytes())
    data[6] = 9  # EI_VERSION
    with pytest.raises(ObjectFormatError, match=r"^x\.o: malformed ELF: unknown ELF version 9 "
                                                r"at offset 6"):
        BPFObject.from_bytes(bytes(data), "x.o")


def _ext_core_record_offset(obj: BPFObject) -> int:
    """File offset of the first core_relo record's insn_off."""
    assert obj.ext is not None
    ext = obj.section(".BTF.ext")
    return ext.offset + obj.ext.hdr_len + obj.ext.core_relo_off + 4 + 8


def test_misaligned_insn_off_is_named() -> None:
    obj = BPFObject.open(ENGINE["little"])
    data = bytearray(obj.data)
    pos = _ext_core_record_offset(obj)
    struct.pack_into("<I", data, pos, 17)
    with pytest.raises(ObjectFormatError) as e:
        BPFObject.from_bytes(bytes(data), "x.o")
    assert str(e.value) == ("x.o: .BTF.ext CO-RE record #0 of section 'raw_tp/sys_enter': "
                            "insn_off 17 is not a multiple of 8")


def test_insn_off_outside_section_is_named() -> None:
    obj = BPFObject.open(ENGINE["big"])
    data = bytearray(obj.data)
    struct.pack_into(">I", data, _ext_core_record_offset(obj), 80000)
    with pytest.raises(ObjectFormatError, match=r"record #0 of section 'raw_tp/sys_enter': "
                       r"insn_off 80000 is outside the section \(\d+ bytes\)"):
        BPFObject.from_bytes(bytes(data), "x.o")


def test_not_elf() -> None:
    with pytest.raises(ObjectFormatError, match="not an ELF file"):
        BPFObject.from_bytes(b"hello world, not an object", "x.o")


def test_elf32_rejected() -> None:
    data = bytearray(ENGINE["little"].read_bytes())
    data[4] = 1
    with pytest.raises(ObjectFormatError):
        BPFObject.from_bytes(bytes(data), "x.o")


def test_truncated_everywhere_raises_cleanly() -> None:
    data = ENGINE["little"].read_bytes()
    for cut in range(0, len(data), 97):
        try:
            BPFObject.from_bytes(data[:cut], "x.o")
        except (ObjectFormatError, BTFError) as exc:
            assert str(exc).startswith(("x.o", "x.o:.BTF"))
        else:  # pragma: no cover - a prefix cut this far is never a valid object
            pytest.fail(f"truncated at {cut} parsed")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_corrupted_bytes_never_traceback(data: st.DataObject) -> None:
    raw = bytearray(ENGINE[data.draw(st.sampled_from(["little", "big"]))].read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    try:
        obj = BPFObject.from_bytes(bytes(raw), "x.o")
    except (ObjectFormatError, BTFError):
        return
    for s in obj.sites:  # whatever parsed must be self-consistent
        assert s.relo.insn_off % 8 == 0
