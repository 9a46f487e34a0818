// SPDX-License-Identifier: Apache-2.0
/*
 * The "program" side of the calculation tests: one section per topic, every
 * relocation stored into out[] so clang keeps it. tests/core/test_*.py look the
 * relocations up by kind, root type name and access string.
 */
#include "cx.h"

__u64 out[128];

/* ------------------------------------------------------------ fields */
struct cx_inner {
	int x;
	int y;
};

enum cx_e { CX_A = 1, CX_B = 2, CX_C = 3 };

struct cx_s {
	int a;
	unsigned short c;
	long b;
	struct cx_inner in;
	int arr[4];
	struct cx_inner inarr[2];
	char *p;
	enum cx_e e;
	union {
		int u1;
		char u2;
	};
	int gone;
	float f;
	__s8 sc;
	int flex[];
} __attribute__((preserve_access_index));

SEC("raw_tp/fields")
int fields(void *ctx)
{
	struct cx_s *s = ctx;

	out[0] = FI(s->b, BYTE_OFFSET);		/* 0:2 */
	out[1] = FI(s->c, BYTE_SIZE);		/* 0:1 */
	out[2] = FI(s->gone, EXISTS);		/* 0:9 */
	out[3] = FI(s->a, SIGNED);		/* 0:0 */
	out[4] = FI(s->a, LSHIFT_U64);
	out[5] = FI(s->a, RSHIFT_U64);
	out[6] = FI(s->in.y, BYTE_OFFSET);	/* 0:3:1 */
	out[7] = FI(s->arr[2], BYTE_OFFSET);	/* 0:4:2 */
	out[8] = FI(s->inarr[1].y, BYTE_OFFSET);	/* 0:5:1:1 */
	out[9] = FI(s->u2, BYTE_OFFSET);	/* 0:8:1 (anonymous union) */
	out[10] = FI(s->arr, BYTE_SIZE);	/* 0:4 */
	out[11] = FI(s->arr[1], BYTE_SIZE);	/* 0:4:1 */
	out[12] = FI(s->flex[5], BYTE_OFFSET);	/* 0:12:5 flexible array */
	out[13] = FI(s->f, BYTE_SIZE);		/* 0:10 float */
	out[14] = FI(s[3].c, BYTE_OFFSET);	/* 3:1 pointer used as array */
	out[15] = FI(s->e, SIGNED);		/* 0:7 unsigned enum */
	out[16] = FI(s->p, BYTE_SIZE);		/* 0:6 pointer */
	out[17] = FI(s->gone, BYTE_OFFSET);	/* poisoned when gone is gone */
	out[18] = FI(s->sc, SIGNED);		/* 0:11 signed char */
	out[19] = FI(s->in, BYTE_SIZE);		/* 0:3 struct */
	out[20] = FI(s->p, BYTE_OFFSET);	/* 0:6 */
	out[21] = FI(s->b, BYTE_SIZE);		/* 0:2 long */
	return 0;
}

/* Direct loads: BYTE_OFFSET relocations on LDX, with load size bookkeeping. */
SEC("raw_tp/direct")
int direct(struct cx_s *s)
{
	int *arr = __builtin_preserve_access_index(s->arr);	/* 0:4, array member */

	out[30] = s->a;		/* 0:0 int */
	out[31] = s->c;		/* 0:1 unsigned short */
	out[32] = s->arr[2];	/* 0:4:2 int element */
	out[33] = (long)s->p;	/* 0:6 pointer */
	out[34] = s->b;		/* 0:2 long */
	out[35] = arr[0] + arr[1];
	return 0;
}

/* ------------------------------------------------------------ bitfields */
struct cx_bf {
	__u8 ub1: 1;
	__u8 ub2: 2;
	__u32 ub7: 7;
	__s8 sb4: 4;
	__s32 sb20: 20;
	__u32 u32;
	__s32 s32;
} __attribute__((preserve_access_index));

struct cx_big {
	__u64 pad: 4;
	__u64 big: 60;
} __attribute__((preserve_access_index));

struct cx_bf2 {
	__u8 c: 4;
} __attribute__((preserve_access_index));

#define BF_ALL(i, f) \
	out[i] = FI(s->f, BYTE_OFFSET); \
	out[i + 1] = FI(s->f, BYTE_SIZE); \
	out[i + 2] = FI(s->f, LSHIFT_U64); \
	out[i + 3] = FI(s->f, RSHIFT_U64); \
	out[i + 4] = FI(s->f, SIGNED)

SEC("raw_tp/bitfields")
int bitfields(void *ctx)
{
	struct cx_bf *s = ctx;
	struct cx_big *b = ctx;
	struct cx_bf2 *c = ctx;

	BF_ALL(0, ub1);
	BF_ALL(5, ub2);
	BF_ALL(10, ub7);
	BF_ALL(15, sb4);
	BF_ALL(20, sb20);
	BF_ALL(25, u32);
	BF_ALL(30, s32);
	out[35] = FI(b->big, BYTE_OFFSET);
	out[36] = FI(b->big, BYTE_SIZE);
	out[37] = FI(b->big, LSHIFT_U64);
	out[38] = FI(b->big, RSHIFT_U64);
	out[39] = FI(c->c, BYTE_OFFSET);
	out[40] = FI(c->c, BYTE_SIZE);
	out[41] = FI(c->c, LSHIFT_U64);
	out[42] = FI(c->c, RSHIFT_U64);
	return 0;
}

/* ------------------------------------------------------------ type-based */
union cx_u {
	int i;
	long l;
};
typedef int cx_int_t;
typedef struct cx_s *cx_ptr_t;
typedef int (*cx_fn_t)(int, struct cx_s *);
typedef char cx_arr_t[4];
typedef float cx_float_t;
typedef struct {
	int q;
	char *r;
} cx_anon_t;
struct cx_match {
	int a;
	unsigned int b;
	struct cx_inner *p;
	enum cx_e e;
	char arr[3];
};
struct cx_nomatch {
	int a;
	long b;
};

SEC("raw_tp/types")
int types(void *ctx)
{
	out[0] = bpf_core_type_id_local(struct cx_s);
	out[1] = bpf_core_type_id_kernel(struct cx_s);
	out[2] = bpf_core_type_exists(struct cx_s);
	out[3] = bpf_core_type_size(struct cx_s);
	out[4] = bpf_core_type_matches(struct cx_match);
	out[5] = bpf_core_type_exists(union cx_u);
	out[6] = bpf_core_type_size(union cx_u);
	out[7] = bpf_core_type_exists(enum cx_e);
	out[8] = bpf_core_type_size(enum cx_e);
	out[9] = bpf_core_type_exists(cx_int_t);
	out[10] = bpf_core_type_size(cx_ptr_t);
	out[11] = bpf_core_type_exists(cx_fn_t);
	out[12] = bpf_core_type_size(cx_arr_t);
	out[13] = bpf_core_type_exists(cx_float_t);	/* FLOAT quirk: 0 */
	out[14] = bpf_core_type_matches(cx_float_t);	/* FLOAT quirk: 0 */
	out[15] = bpf_core_type_id_local(cx_anon_t);
	out[16] = bpf_core_type_exists(cx_anon_t);
	out[17] = bpf_core_type_matches(struct cx_nomatch);
	out[18] = bpf_core_type_matches(cx_int_t);
	out[19] = bpf_core_type_matches(cx_fn_t);
	out[20] = bpf_core_type_id_kernel(cx_int_t);
	out[21] = bpf_core_type_matches(enum cx_e);
	{
		struct {
			int q;
		} anon_var = {};

		out[22] = bpf_core_type_id_local(anon_var);	/* anonymous root: fine here */
		out[23] = anon_var.q;
	}
	return 0;
}

/* ------------------------------------------------------------ enums */
enum cx_e64 {
	CX64_BIG = 0x800000000ULL,
	CX64_ONE = 1,
	CX64_GONE = 7,
};
enum cx_se64 {
	CXS_NEG = -2,
	CXS_BIG = 0x100000000LL,
};
enum cx_fe { CX_FE_X___v2 = 10, CX_FE_Y = 20 };

SEC("raw_tp/enums")
int enums(void *ctx)
{
	out[0] = bpf_core_enum_value_exists(enum cx_e, CX_B);
	out[1] = bpf_core_enum_value(enum cx_e, CX_B);
	out[2] = bpf_core_enum_value_exists(enum cx_e, CX_C);
	out[3] = bpf_core_enum_value(enum cx_e, CX_C);
	out[4] = bpf_core_enum_value(enum cx_e64, CX64_BIG);
	out[5] = bpf_core_enum_value(enum cx_e64, CX64_ONE);
	out[6] = bpf_core_enum_value(enum cx_e64, CX64_GONE);
	out[7] = bpf_core_enum_value(enum cx_se64, CXS_NEG);
	out[8] = bpf_core_enum_value(enum cx_se64, CXS_BIG);
	out[9] = bpf_core_enum_value(enum cx_fe, CX_FE_X___v2);
	out[10] = bpf_core_enum_value_exists(enum cx_fe, CX_FE_Y);
	return 0;
}

/* ------------------------------------------------------------ flavors, pruning */
struct cx_fl___mine {
	int a;
	int b;
} __attribute__((preserve_access_index));

struct cx_pm {
	int a;
	int b;
} __attribute__((preserve_access_index));

struct cx_dup {
	int v;
} __attribute__((preserve_access_index));

SEC("raw_tp/flavors")
int flavors(void *ctx)
{
	struct cx_fl___mine *f = ctx;
	struct cx_pm *p = ctx;
	struct cx_dup *d = ctx;

	out[0] = FI(f->a, BYTE_OFFSET);
	out[1] = FI(f->b, BYTE_OFFSET);
	out[2] = FI(p->a, BYTE_OFFSET);	/* prunes cx_pm candidates to ___x */
	out[3] = FI(p->b, BYTE_OFFSET);	/* only ___y has b, but it was pruned */
	out[4] = FI(d->v, BYTE_OFFSET);	/* two compatible flavors, same offset */
	out[5] = bpf_core_type_exists(struct cx_dup);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
