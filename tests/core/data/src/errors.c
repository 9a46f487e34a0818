// SPDX-License-Identifier: Apache-2.0
/*
 * Relocations libbpf refuses: one program per failure, so that each can be loaded
 * (and compared with libbpf) on its own.
 */
#include "cx.h"

__u64 out[16];

struct cx_amb {
	int f;
} __attribute__((preserve_access_index));

struct cx_ams {
	int f;
} __attribute__((preserve_access_index));

struct cx_tid {
	int v;
};

struct cx_deep {
	struct {
		struct {
			int b;
		} b;
	} b;
} __attribute__((preserve_access_index));

struct cx_toobig {
	__u64 pad: 4;
	__u64 big: 60;
} __attribute__((preserve_access_index));

#include "nest.h"

struct cx_arrsig {
	int arr[4];
} __attribute__((preserve_access_index));

SEC("raw_tp/e_offset")
int e_offset(void *ctx)
{
	struct cx_amb *s = ctx;

	out[0] = FI(s->f, BYTE_OFFSET);	/* field offset ambiguity */
	return 0;
}

SEC("raw_tp/e_decision")
int e_decision(void *ctx)
{
	struct cx_ams *s = ctx;

	out[1] = FI(s->f, BYTE_SIZE);	/* relocation decision ambiguity */
	return 0;
}

SEC("raw_tp/e_type_id")
int e_type_id(void *ctx)
{
	out[2] = bpf_core_type_id_kernel(struct cx_tid);	/* two flavors: ambiguity */
	return 0;
}

SEC("raw_tp/e_deep")
int e_deep(void *ctx)
{
	struct cx_deep *s = ctx;

	out[3] = FI(s->b.b.b, BYTE_OFFSET);	/* > 64 components in the target */
	return 0;
}

SEC("raw_tp/e_bitfield")
int e_bitfield(void *ctx)
{
	struct cx_toobig *s = ctx;

	out[4] = FI(s->big, LSHIFT_U64);	/* needs a 9-byte load in the target */
	return 0;
}

SEC("raw_tp/e_array")
int e_array(void *ctx)
{
	struct cx_arrsig *s = ctx;

	out[5] = FI(s->arr[1], SIGNED);	/* SIGNED on an array element */
	return 0;
}

SEC("raw_tp/e_ptr_depth")
int e_ptr_depth(void *ctx)
{
	out[6] = bpf_core_type_exists(cx_pp_t);	/* pointer chain beyond 32 steps */
	return 0;
}

SEC("raw_tp/e_match_level")
int e_match_level(void *ctx)
{
	out[7] = bpf_core_type_matches(struct cx_nest0);	/* recursion beyond 32 levels */
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
