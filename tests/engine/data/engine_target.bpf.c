// SPDX-License-Identifier: Apache-2.0
/* Target BTF for engine.bpf.c: the same types with another layout (see comments there).
 * Built twice: engine_target.*.o and, with -DENG_BIG, engine_target_big.*.o. */
struct eng_inner {
	long pad;
	int y;
	int x;
};

struct eng_bits {
	unsigned long long pad : 5;
	unsigned int lo : 3;
	int mid : 9;
	unsigned int hi : 22;
};

struct eng_s {
	long pad0;
#ifdef ENG_BIG
	char big[40000];	/* pushes every field past the reach of a 16-bit insn offset */
#endif
	int a;
	long b;
	unsigned int c;
	struct eng_inner in;
	struct eng_bits bits;
	unsigned long narrow;
	long snarrow;
	int arr[4];
};

struct eng_s2 {
	int q;
};

enum eng_e {
	ENG_ZERO = 0,
	ENG_ONE = 11,
};

struct eng_s eng_target_anchor;
struct eng_inner eng_inner_anchor;
enum eng_e eng_e_anchor;
