// SPDX-License-Identifier: Apache-2.0
/*
 * Target BTF with two flavors of corepy_s that put field b at different
 * offsets (8 and 16): libbpf must fail with "field offset ambiguity".
 */
struct corepy_inner {
	int x;
	int y;
};

struct corepy_s {
	int a;
	unsigned short c;
	long b;
	struct corepy_inner in;
};

struct corepy_s___v2 {
	int a;
	unsigned short c;
	long pad;
	long b;
	struct corepy_inner in;
};

struct corepy_s corepy_target_s;
struct corepy_s___v2 corepy_target_s2;
