"""The calculation driver (corepy.core.calc.CoreCalculator), end to end.

Every value table below equals what libbpf 1.1.2 wrote into the instructions for the same
object and target (tests/core/test_libbpf.py re-checks that whenever libbpf can run here);
"P" marks a poisoned instruction, "!" a load/store size change libbpf refuses.
"""

from __future__ import annotations

import pytest

from corepy.core import CoreCalculator, CoreRelocationError, TargetBTF
from corepy.core.errors import E2BIG, EINVAL
from corepy.relo import CoreRelo

from .btfbuild import SIGNED, BTFBuilder

TABLES = {
    "same": {
        "fields": "0:8 1:2 2:1 3:1 4:32 5:32 6:20 7:32 8:52 9:68 10:16 11:4 12:104 13:4 "
                  "14:268 15:0 16:8 17:72 18:1 19:8 20:56 21:8",
        "direct": "0:24 1:0 2:4 3:32 4:56 5:8",
        "types": "0:5 1:18 2:1 3:88 4:1 5:1 6:8 7:1 8:4 9:1 10:8 11:1 12:4 13:0 14:0 15:49 "
                 "16:0 17:1 18:1 19:1 20:42 21:1 22:52",
        "enums": "0:1 1:2 2:1 3:3 4:34359738368 5:1 6:7 7:18446744073709551614 "
                 "8:4294967296 9:10 10:1",
        "flavors": "0:4 1:0 2:8 3:P 4:0 5:1",
    },
    "diff": {
        "fields": "0:0 1:4 2:0 3:1 4:32 5:32 6:56 7:64! 8:40 9:8 10:16 11:2 12:116 13:8 "
                  "14:300 15:0 16:8 17:P 18:1 19:8 20:16 21:8",
        "direct": "0:60! 1:24 2:12 3:64! 4:16 5:0",
        "types": "0:5 1:20 2:1 3:96 4:0 5:1 6:24 7:1 8:4 9:1 10:0 11:0 12:7 13:0 14:0 15:49 "
                 "16:0 17:0 18:0 19:0 20:46 21:0 22:52",
        "enums": "0:1 1:20 2:0 3:P 4:200 5:100 6:P 7:18446744073709551515 "
                 "8:18446744073709551414 9:11 10:1",
        "flavors": "0:0 1:P 2:4 3:0 4:4 5:1",
    },
    "missing": {
        "fields": " ".join(f"{i}:{'0' if i == 2 else 'P'}" for i in range(22)),
        "direct": " ".join(f"{i}:P" for i in range(6)),
        "types": "0:5 " + " ".join(f"{i}:0" for i in range(1, 15)) + " 15:49 "
                 + " ".join(f"{i}:0" for i in range(16, 22)) + " 22:52",
        "enums": "0:0 1:P 2:0 3:P 4:P 5:P 6:P 7:P 8:P 9:P 10:0",
        "flavors": "0:P 1:P 2:P 3:P 4:P 5:0",
    },
    "t32": {  # 4-byte pointers and longs
        "fields": "0:8! 1:2 2:1 3:1 4:32 5:32 6:16 7:28 8:48 9:60 10:16 11:4 12:96 13:P "
                  "14:232 15:0 16:4 17:64 18:1 19:8 20:52 21:4",
        "direct": "0:20 1:0 2:4 3:28 4:52 5:8!",
        "types": "0:5 1:16 2:1 3:76 4:1 5:1 6:4 7:1 8:4 9:1 10:4 11:1 12:4 13:0 14:0 15:49 "
                 "16:0 17:0 18:1 19:1 20:34 21:1 22:52",
    },
}


def _row(calc: CoreCalculator, relos: list[CoreRelo], prog: str) -> str:
    out = []
    for r in relos:
        res = calc.calc(r, prog)
        v = "P" if res.poison else str(res.new_val)
        out.append(f"{r.index}:{v}{'!' if res.fail_memsz_adjust else ''}")
    return " ".join(out)


@pytest.mark.parametrize("variant", sorted(TABLES))
def test_value_tables(objs, variant):
    local = objs("bpfel", "local")
    calc = objs.calc("bpfel", "local", variant)
    for prog in ("fields", "direct", "types", "enums", "flavors"):
        if prog in TABLES[variant]:
            assert _row(calc, local.of(prog), prog) == TABLES[variant][prog], prog


@pytest.mark.parametrize("variant", ["same", "diff", "missing"])
def test_big_endian_objects_give_the_same_decisions(objs, variant):
    """Offsets, sizes and decisions do not depend on the byte order (bitfields aside)."""
    local = objs("bpfeb", "local")
    calc = objs.calc("bpfeb", "local", variant)
    for prog in ("fields", "direct", "types", "enums", "flavors"):
        assert _row(calc, local.of(prog), prog) == TABLES[variant][prog], prog


def test_same_target_round_trips_orig_values(objs):
    local = objs("bpfel", "local")
    calc = objs.calc("bpfel", "local", "same")
    for prog in ("fields", "direct", "enums"):
        for r in local.of(prog):
            res = calc.calc(r, prog)
            if not res.poison and r.kind != 2:
                assert res.orig_val == res.new_val, (prog, r.index)


def test_verdicts_and_reasons(objs):
    local = objs("bpfel", "local")
    calc = objs.calc("bpfel", "local", "diff")
    res = calc.calc(local.find("fields", 17), "fields")  # s->gone
    assert res.poison and res.target_spec is None
    assert res.local_spec == "[5] struct cx_s.gone (0:9 @ offset 72)"
    [v] = res.candidates
    assert (v.btf_name, v.type_id, v.matched) == ("vmlinux", 20, False)
    assert v.spec == "[20] struct cx_s (0 @ offset 0)"
    assert v.reason == "field 'gone' not found in struct cx_s"
    assert res.reason == ("field 'gone' does not exist in struct cx_s on this kernel, so the "
                          "instruction is poisoned: guard the access with "
                          "bpf_core_field_exists()")
    res = calc.calc(local.find("fields", 0), "fields")
    assert res.target_spec == "[20] struct cx_s.b (0:0 @ offset 0)" and res.reason is None
    assert res.target_btf == "vmlinux"
    res = calc.calc(local.find("types", 4), "types")  # TYPE_MATCHES struct cx_match
    assert res.new_val == 0
    assert res.reason is not None and res.reason.startswith(
        "struct cx_match does not match the target's definition (")
    assert res.reason.endswith("on this kernel, so bpf_core_type_matches() is 0")
    res = calc.calc(local.find("enums", 3), "enums")
    assert res.poison
    assert res.reason == ("enumerator 'CX_C' not found in enum cx_e___diff on this kernel, so "
                          "the instruction is poisoned: check bpf_core_enum_value_exists() "
                          "before using the value")
    missing = objs.calc("bpfel", "local", "missing")
    res = missing.calc(local.find("types", 2), "types")
    assert res.reason == ("struct cx_s does not exist on this kernel (no struct named 'cx_s' "
                          "in vmlinux), so bpf_core_type_exists() is 0")


def test_log_lines_match_libbpf_format(objs):
    local = objs("bpfel", "local")
    calc = objs.calc("bpfel", "local", "same")
    res = calc.calc(local.find("fields", 0), "fields")
    assert res.log == [
        "CO-RE relocating [5] struct cx_s: found target candidate [18] struct cx_s in [vmlinux]",
        "prog 'fields': relo #0: <byte_off> [5] struct cx_s.b (0:2 @ offset 8)",
        "prog 'fields': relo #0: matching candidate #0 <byte_off> [18] struct cx_s.b "
        "(0:2 @ offset 8)",
    ]
    res = calc.calc(local.find("fields", 1), "fields")  # cache hit: no discovery line
    assert not res.log[0].startswith("CO-RE relocating")


def test_flavor_rule_and_pruning(objs):
    local = objs("bpfel", "local")
    calc = objs.calc("bpfel", "local", "same")
    fl = local.find("flavors", 0)  # struct cx_fl___mine
    calc.calc(fl, "flavors")
    # only cx_fl: cx_fl__two (two underscores) and cx_fl____four (four) are not flavors
    assert [calc_name(objs, c.type_id) for c in calc.candidates(fl.type_id) or []] == ["cx_fl"]
    a, b = local.find("flavors", 2), local.find("flavors", 3)
    res_a = calc.calc(a, "flavors")
    assert [(v.type_id, v.matched) for v in res_a.candidates] == [(88, True), (91, False)]
    assert [c.type_id for c in calc.candidates(a.type_id) or []] == [88]  # pruned
    res_b = calc.calc(b, "flavors")
    assert res_b.poison  # only ___y has b, and it was pruned away
    assert res_b.reason is not None and "[91] were ruled out by an earlier relocation" in \
        res_b.reason
    fresh = objs.calc("bpfel", "local", "same")
    res = fresh.calc(b, "flavors")  # without the first relocation, ___y matches
    assert (res.poison, res.new_val, res.target_spec) == (
        False, 0, "[91] struct cx_pm___y.b (0:0 @ offset 0)")
    # two compatible flavors at the same offset: fine, both kept
    d = local.find("flavors", 4)
    res = calc.calc(d, "flavors")
    assert [v.matched for v in res.candidates] == [True, True]
    assert len(calc.candidates(d.type_id) or []) == 2


def calc_name(objs, type_id: int) -> str:  # type: ignore[no-untyped-def]
    return objs("bpfel", "target_same").btf.name(type_id)


ERRORS = {
    "e_offset": (EINVAL, "prog 'e_offset': relo #0: field offset ambiguity: 32 != 0"),
    "e_decision": (EINVAL, "prog 'e_decision': relo #0: relocation decision ambiguity: "
                           "success 1 != success 4"),
    "e_type_id": (EINVAL, "prog 'e_type_id': relo #0: relocation decision ambiguity: "
                          "success 19 != success 16"),
    "e_deep": (E2BIG, "prog 'e_deep': relo #0: error matching candidate #0 <byte_off> [23] "
                      "struct cx_deep (" + ":".join(["0"] * 64) + " @ offset 0): -7"),
    "e_bitfield": (E2BIG, "prog 'e_bitfield': relo 4 at insn #0 can't be satisfied for "
                          "bitfield"),
    "e_array": (EINVAL, "prog 'e_array': relo 3 at insn #0 can't be applied to array access"),
    "e_ptr_depth": (EINVAL, "prog 'e_ptr_depth': relo #0: error matching candidate #0 "
                            "<type_exists> [103] typedef cx_pp_t: -22"),
    "e_match_level": (EINVAL, "prog 'e_match_level': relo #0: error matching candidate #0 "
                              "<type_matches> [139] struct cx_nest0: -22"),
}


@pytest.mark.parametrize("prog", sorted(ERRORS))
def test_relocation_errors(objs, prog):
    errno, line = ERRORS[prog]
    obj = objs("bpfel", "errors")
    calc = objs.calc("bpfel", "errors", "errs")
    [relo] = obj.of(prog)
    with pytest.raises(CoreRelocationError) as ei:
        calc.calc(relo, prog)
    exc = ei.value
    assert exc.errno == errno
    assert exc.reason.startswith(line)
    assert exc.log[-2:] == [line, f"prog '{prog}': relo #0: failed to relocate: -{errno}"]
    assert (exc.section, exc.index, exc.insn_off) == (relo.section, 0, relo.insn_off)
    assert exc.spec is not None and exc.spec.startswith("<")


# ------------------------------------------------------------------ hand-made BTF


def _local() -> tuple[BTFBuilder, dict[str, int]]:
    b = BTFBuilder()
    i = b.int("int", 4, SIGNED)
    ids = {
        "int": i,
        "s": b.struct("modst", 8, [("a", i, 0), ("b", i, 32)]),
        "anon": b.struct("", 4, [("x", i, 0)]),
        "e": b.enum("mode", 4, [("M_ON", 1)]),
    }
    return b, ids


def _relo(type_id: int, access: str, kind: int, index: int = 0) -> CoreRelo:
    return CoreRelo(".text", index, 8 * index, type_id, access, kind)


def test_anonymous_root_and_bad_ids():
    lb, ids = _local()
    local = lb.spec(ptr_size=8)
    vm = BTFBuilder()
    vm.int("int", 4, SIGNED)
    calc = CoreCalculator(local, TargetBTF("vmlinux", vm.spec()))
    with pytest.raises(CoreRelocationError) as ei:
        calc.calc(_relo(ids["anon"], "0:0", 0), "p")
    assert ei.value.errno == EINVAL
    assert ei.value.reason.startswith(
        "prog 'p': relo #0: target candidate search failed for [3] struct : -22")
    # TYPE_ID_LOCAL needs no name and no candidates
    res = calc.calc(_relo(ids["anon"], "0", 6), "p")
    assert (res.orig_val, res.new_val, res.validate, res.poison) == (3, 3, False, False)
    assert res.local_spec == "[3] struct <anon>"
    with pytest.raises(CoreRelocationError) as ei:
        calc.calc(_relo(99, "0", 8), "p")
    assert ei.value.reason.startswith("prog 'p': relo #0: failed to relocate: -22")
    with pytest.raises(CoreRelocationError) as ei:
        calc.calc(_relo(ids["s"], "0:7", 0, index=3), "q")
    assert ei.value.reason.startswith(
        "prog 'q': relo #3: parsing [2] struct modst + 0:7 failed: -22")
    with pytest.raises(CoreRelocationError):
        calc.calc(_relo(ids["s"], "0:0", 13), "p")  # no such kind


def _kernel() -> tuple[object, object, object]:
    vb = BTFBuilder()
    vi = vb.int("int", 4, SIGNED)
    vb.enum("mode", 4, [("M_OFF", 0), ("M_ON", 7)])
    vmlinux = vb.spec()
    m1 = BTFBuilder(base=vmlinux)
    m1.struct("other", 4, [("z", vi, 0)])
    m1.struct("modst", 8, [("b", vi, 0), ("a", vi, 32)])
    mod1 = m1.spec()
    m2 = BTFBuilder(base=vmlinux)
    m2.struct("modst___v2", 12, [("pad", vi, 0), ("a", vi, 64)])
    mod2 = m2.spec()
    return vmlinux, mod1, mod2


def test_module_candidates_only_when_vmlinux_has_none():
    lb, ids = _local()
    local = lb.spec(ptr_size=8)
    vmlinux, mod1, mod2 = _kernel()
    calls = []

    def modules() -> list[TargetBTF]:
        calls.append(1)
        return [TargetBTF("mod1", mod1, True), TargetBTF("mod2", mod2, True)]  # type: ignore[arg-type]

    calc = CoreCalculator(local, TargetBTF("vmlinux", vmlinux), modules)  # type: ignore[arg-type]
    res = calc.calc(_relo(ids["e"], "0", 11), "p")  # enum found in vmlinux
    assert res.new_val == 7 and not calls  # modules never loaded
    res = calc.calc(_relo(ids["s"], "0:1", 0, index=1), "p")  # modst.b
    assert calls == [1]
    # both modules' candidates, ids in the split id space (both modules start at 3)
    assert [(v.btf_name, v.type_id, v.matched) for v in res.candidates] == [
        ("mod1", 4, True), ("mod2", 3, False)]
    assert res.new_val == 0
    assert res.log[:2] == [
        "CO-RE relocating [2] struct modst: found target candidate [4] struct modst in [mod1]",
        "CO-RE relocating [2] struct modst: found target candidate [3] struct modst___v2 in "
        "[mod2]",
    ]
    # both have 'a', but they disagree on its offset
    with pytest.raises(CoreRelocationError) as ei:
        CoreCalculator(local, TargetBTF("vmlinux", vmlinux),  # type: ignore[arg-type]
                       modules).calc(_relo(ids["s"], "0:0", 0, index=1), "p")
    assert "field offset ambiguity: 64 != 32" in ei.value.reason
    assert calls == [1, 1]  # one load per calculator
    res = calc.calc(_relo(ids["s"], "0", 7, index=2), "p")  # TYPE_ID_TARGET, pruned list
    assert res.new_val == 4 and res.target_btf == "mod1"
    calc.calc(_relo(ids["s"], "0", 8, index=3), "p")
    assert calls == [1, 1]


def test_module_type_ids_and_sizes():
    lb, ids = _local()
    local = lb.spec(ptr_size=8)
    vmlinux, mod1, _mod2 = _kernel()
    calc = CoreCalculator(local, TargetBTF("vmlinux", vmlinux),  # type: ignore[arg-type]
                          [TargetBTF("mod1", mod1, True)])  # type: ignore[arg-type]
    assert calc.calc(_relo(ids["s"], "0:1", 0), "p").new_val == 0
    assert calc.calc(_relo(ids["s"], "0", 9, 1), "p").new_val == 8
    assert calc.calc(_relo(ids["s"], "0", 7, 2), "p").new_val == 4


def test_no_modules_no_candidates():
    lb, ids = _local()
    local = lb.spec(ptr_size=8)
    vmlinux, _m1, _m2 = _kernel()
    calc = CoreCalculator(local, TargetBTF("vmlinux", vmlinux))  # type: ignore[arg-type]
    res = calc.calc(_relo(ids["s"], "0:1", 1), "p")
    assert res.poison and res.candidates == []
    assert res.reason is not None and "no struct named 'modst' in vmlinux" in res.reason
    res = calc.calc(_relo(ids["s"], "0:1", 2, 1), "p")
    assert (res.poison, res.new_val, res.orig_val) == (False, 0, 1)


def test_enum_and_enum64_are_one_candidate_kind():
    lb = BTFBuilder()
    e = lb.enum64("big", 8, [("B_X", 1 << 40)])
    local = lb.spec(ptr_size=8)
    vb = BTFBuilder()
    vb.struct("big", 4, [])
    vb.enum("big___v1", 4, [("B_X", -3)], signed=True)
    calc = CoreCalculator(local, TargetBTF("vmlinux", vb.spec()))
    res = calc.calc(_relo(e, "0", 11), "p")
    assert [v.type_id for v in res.candidates] == [2]
    assert res.new_val == (1 << 64) - 3
    assert res.orig_val == 1 << 40


def test_hostile_btf_raises_instead_of_hanging():
    """A typedef cycle (libbpf would spin forever) is reported as bad BTF."""
    from btf.errors import BTFError

    lb, ids = _local()
    local = lb.spec(ptr_size=8)
    vb = BTFBuilder()
    vi = vb.int("int", 4, SIGNED)
    loop = vb.typedef("loop_t", vb.next_id + 1)
    vb.typedef("loop2_t", loop)
    vb.struct("modst", 8, [("a", loop, 0), ("b", vi, 32)])
    calc = CoreCalculator(local, TargetBTF("vmlinux", vb.spec()))
    with pytest.raises(BTFError):
        calc.calc(_relo(ids["s"], "0:0", 0), "p")
    assert calc.calc(_relo(ids["s"], "0:1", 0, 1), "p").new_val == 4
