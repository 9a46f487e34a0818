// SPDX-License-Identifier: Apache-2.0
/*
 * Target BTF for oracle_progs.bpf.c (only its .BTF matters).  Expected
 * relocation results, by construction:
 *   corepy_s.a      offset 0  -> 8
 *   corepy_s.c      size   2  -> 4
 *   corepy_s.b      offset 8  -> 24
 *   corepy_s.in.x   offset 16 -> 40 (in at 32, x at 8 inside it)
 *   corepy_s.gone   missing: exists 1 -> 0, its read poisoned
 *   COREPY_E_ONE    1 -> 11; COREPY_E_MISSING missing: poisoned (LD_IMM64)
 *   corepy_absent   missing: type exists 1 -> 0
 */
struct corepy_inner {
	long pad;
	int x;
	int y;
};

struct corepy_s {
	long pad0;
	int a;
	unsigned int c;
	long pad1;
	long b;
	struct corepy_inner in;
};

enum corepy_e {
	COREPY_E_ONE = 11,
	COREPY_E_TWO = 12,
};

struct corepy_s corepy_target_s;
enum corepy_e corepy_target_e;
