// SPDX-License-Identifier: Apache-2.0
/*
 * Target BTF variants for tests/core: compiled once per -DV_<name>.
 *   V_same     the local layouts (plus flavored types for the flavor/pruning tests)
 *   V_diff     changed layouts: reordered, resized, renamed, other enum values
 *   V_missing  none of the types
 *   V_errs     the ambiguous / too deep / too wide types errors.c trips on
 * V_same is also compiled for a 32-bit CPU (4-byte pointers and longs), see build.sh.
 */
typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;

#define USE(T, n) T *use_##n

#if defined(V_same) || defined(V_diff)
struct cx_inner {
	int x;
	int y;
};
#endif

#if defined(V_same)
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
};
struct cx_bf {
	__u8 ub1: 1;
	__u8 ub2: 2;
	__u32 ub7: 7;
	__s8 sb4: 4;
	__s32 sb20: 20;
	__u32 u32;
	__s32 s32;
};
struct cx_big {
	__u64 pad: 4;
	__u64 big: 60;
};
struct cx_bf2 {
	__u8 a: 7;
	__u8 b: 7;
	__u8 c: 4;
} __attribute__((packed));
union cx_u {
	int i;
	long l;
};
typedef int cx_int_t;
typedef struct cx_s *cx_ptr_t;
typedef int (*cx_fn_t)(int, struct cx_s *);
typedef char cx_arr_t[4];
typedef float cx_float_t;
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
enum cx_e64 {
	CX64_BIG = 0x800000000ULL,
	CX64_ONE = 1,
	CX64_GONE = 7,
};
enum cx_se64 {
	CXS_NEG = -2,
	CXS_BIG = 0x100000000LL,
};
enum cx_fe { CX_FE_X = 10, CX_FE_Y = 20 };
struct cx_fl {
	int b;
	int a;
};
struct cx_fl__two {	/* two underscores: not a flavor of cx_fl */
	int a;
	int b;
};
struct cx_fl____four {	/* four underscores: not a flavor either */
	int a;
	int b;
};
struct cx_pm___x {
	long pad;
	int a;
};
struct cx_pm___y {
	int b;
};
struct cx_dup___1 {
	int v;
};
struct cx_dup___2 {
	int v;
	int w;
};
#endif

#if defined(V_diff)
enum cx_e___diff { CX_B = 20, CX_A = 10 };	/* CX_C gone */
typedef enum cx_e___diff cx_e_t;
struct cx_s {
	long b;
	struct {
		union {
			char u2;
			int u1;
		};
		unsigned int c;
	};
	void *p;
	int a;
	struct cx_inner inarr[3];
	struct cx_inner in;
	short arr[8];
	enum cx_e___diff e;
	double f;
	long long sc;
	int flex[];
};
struct cx_bf {
	__u32 u32: 20;
	__s64 s32;
	__u16 ub7: 1;
	__s32 sb4: 1;
	__u8 ub1: 3;
	__u32 ub2: 20;
	__s32 sb20: 30;
};
struct cx_big {
	__u8 x;
	__u64 big: 33;
};
struct cx_bf2 {
	__u16 c: 4;
};
union cx_u {
	char c[24];
};
typedef unsigned int cx_int_t;
typedef union cx_u *cx_ptr_t;
typedef int (*cx_fn_t)(int);
typedef char cx_arr_t[7];
struct cx_match {
	char arr[3];
	enum cx_e___diff e;
	struct cx_inner *p;
	unsigned int b;
	int a;
	int extra;
};
struct cx_nomatch {
	int a;
	int b;
};
enum cx_e64 { CX64_ONE = 100, CX64_BIG = 200 };	/* 4-byte enum now */
enum cx_se64 { CXS_NEG = -101, CXS_BIG = -202 };	/* signed 4-byte */
enum cx_fe___x { CX_FE_X___old = 11, CX_FE_Y___new = 21 };
struct cx_fl___other {
	int a;
};
struct cx_pm {
	int b;
	int a;
};
struct cx_dup {
	int w;
	int v;
};
#endif

#if defined(V_missing)
struct cx_unrelated {
	int z;
};
#endif

#if defined(V_errs)
struct cx_amb___1 {
	int f;
};
struct cx_amb___2 {
	int pad;
	int f;
};
struct cx_ams___1 {
	int f;
};
struct cx_ams___2 {
	char f;
};
struct cx_tid___1 {
	int v;
};
struct cx_tid___2 {
	long v;
};
#include "deep.h"
struct cx_toobig {
	__u64 pad: 4;
	__u64 big: 61;
} __attribute__((packed));
struct cx_arrsig {
	int arr[4];
};
#include "nest.h"
#endif

/* Known values, to check that BYTE_OFFSET/BYTE_SIZE/LSHIFT/RSHIFT/SIGNED extract them. */
#if defined(V_same) || defined(V_diff)
struct cx_bf bf_value = {
	.ub1 = 1, .ub2 = 2, .ub7 = 1, .sb4 = -1, .sb20 = -54321, .u32 = 0xbeef, .s32 = -7,
};
struct cx_big big_value = { .big = 0x123456789ULL };
struct cx_bf2 bf2_value = { .c = 9 };
#endif

/* Pointers to every type, so the compiler emits them all. */
#if defined(V_same) || defined(V_diff)
USE(struct cx_s, s);
USE(struct cx_bf, bf);
USE(struct cx_big, big);
USE(struct cx_bf2, bf2);
USE(union cx_u, u);
USE(cx_int_t, int_t);
USE(cx_ptr_t, ptr_t);
USE(cx_fn_t, fn_t);
USE(cx_arr_t, arr_t);
USE(struct cx_match, match);
USE(struct cx_nomatch, nomatch);
USE(enum cx_e64, e64);
USE(enum cx_se64, se64);
#endif
#if defined(V_same)
USE(enum cx_e, e);
USE(cx_float_t, float_t);
USE(enum cx_fe, fe);
USE(struct cx_fl, fl);
USE(struct cx_fl__two, fl2);
USE(struct cx_fl____four, fl4);
USE(struct cx_pm___x, pmx);
USE(struct cx_pm___y, pmy);
USE(struct cx_dup___1, dup1);
USE(struct cx_dup___2, dup2);
#endif
#if defined(V_diff)
USE(cx_e_t, e_t);
USE(enum cx_fe___x, fe);
USE(struct cx_fl___other, fl);
USE(struct cx_pm, pm);
USE(struct cx_dup, dup);
#endif
#if defined(V_missing)
USE(struct cx_unrelated, unrelated);
#endif
#if defined(V_errs)
USE(struct cx_amb___1, amb1);
USE(struct cx_amb___2, amb2);
USE(struct cx_ams___1, ams1);
USE(struct cx_ams___2, ams2);
USE(struct cx_tid___1, tid1);
USE(struct cx_tid___2, tid2);
USE(struct cx_deep, deep);
USE(struct cx_toobig, toobig);
USE(struct cx_arrsig, arrsig);
USE(cx_pp_t, pp);
USE(struct cx_nest0, nest0);
#endif
