// SPDX-License-Identifier: Apache-2.0
/*
 * Test object for the libbpf oracle (tests/test_oracle.py).
 * Relocated against oracle_target.bpf.c's BTF, every value below is known:
 * see the comments there.  Rebuild with `make -C tests/harness testdata`.
 */
typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct corepy_inner {
	int x;
	int y;
} __attribute__((preserve_access_index));

struct corepy_s {
	int a;
	unsigned short c;
	long b;
	struct corepy_inner in;
	int gone;		/* not in the target: poisoned */
} __attribute__((preserve_access_index));

struct corepy_absent {		/* no such type in the target */
	int z;
} __attribute__((preserve_access_index));

enum corepy_e {
	COREPY_E_ONE = 1,
	COREPY_E_MISSING = 7,	/* not in the target's enum */
};

__u64 out_a, out_b, out_c_size, out_x, out_gone, out_enum, out_enum_one, out_absent;

/* .text subprogram with its own CO-RE relocation, appended to both callers */
static __attribute__((noinline)) __u64 sub_read_x(struct corepy_s *s)
{
	return BPF_CORE_READ(s, in.x);
}

/* second subprogram: only prog_poison calls it, before sub_read_x */
static __attribute__((noinline)) __u64 sub_size_c(struct corepy_s *s)
{
	return bpf_core_field_size(s->c);
}

SEC("raw_tp/sys_enter")
int prog_fields(void *ctx)
{
	struct corepy_s *s = (struct corepy_s *)bpf_get_current_task();

	out_b = BPF_CORE_READ(s, b);
	out_c_size = bpf_core_field_size(s->c);
	out_x = sub_read_x(s);
	return 0;
}

SEC("raw_tp/sys_exit")
int prog_poison(void *ctx)
{
	struct corepy_s *s = (struct corepy_s *)bpf_get_current_task();

	if (bpf_core_field_exists(s->gone))
		out_gone = BPF_CORE_READ(s, gone);
	out_enum = bpf_core_enum_value(enum corepy_e, COREPY_E_MISSING);
	out_enum_one = bpf_core_enum_value(enum corepy_e, COREPY_E_ONE);
	out_absent = bpf_core_type_exists(struct corepy_absent);
	out_c_size = sub_size_c(s);
	out_x = sub_read_x(s);
	return 0;
}

SEC("raw_tp/sched_switch")
int prog_direct(__u64 *ctx)
{
	struct corepy_s *s = (struct corepy_s *)ctx[1];

	out_a = s->a;	/* LDX whose off is relocated */
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
