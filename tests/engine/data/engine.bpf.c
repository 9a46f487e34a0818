// SPDX-License-Identifier: Apache-2.0
/*
 * Engine test object: every CO-RE relocation kind on every instruction form clang emits
 * (MOV/ADD imm, LDX/STX off with and without size change, ld_imm64), a .text
 * subprogram with its own relocations, several program sections. Not meant to load:
 * tests/engine checks patching, writing and reporting on it. Rebuild: ./build.sh
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

struct eng_inner {
	int x;
	int y;
} __attribute__((preserve_access_index));

struct eng_bits {
	unsigned int lo : 3;
	int mid : 7;
	unsigned int hi : 22;
} __attribute__((preserve_access_index));

struct eng_s {
	int a;
	unsigned short c;
	long b;
	struct eng_inner in;
	struct eng_bits bits;
	unsigned int narrow;	/* 8 bytes on the target: a safe (unsigned) size change */
	int snarrow;		/* 8 bytes on the target: an unsafe (signed) one -> poison */
	int gone;		/* missing on the target -> poison */
	int arr[4];
} __attribute__((preserve_access_index));

struct eng_absent {
	int z;
} __attribute__((preserve_access_index));

enum eng_e {
	ENG_ONE = 1,
	ENG_MISSING = 7,
};

typedef struct eng_s eng_t;

__u64 out[32];

static __attribute__((noinline)) __u64 sub_read_x(struct eng_s *s)
{
	return BPF_CORE_READ(s, in.x) + bpf_core_field_size(s->in.y);
}

SEC("raw_tp/sys_enter")
int prog_alu(void *ctx)
{
	struct eng_s *s = (struct eng_s *)bpf_get_current_task();

	out[0] = BPF_CORE_READ(s, b);
	out[1] = bpf_core_field_size(s->c);
	out[2] = bpf_core_field_exists(s->gone);
	out[3] = __builtin_preserve_field_info(s->a, BPF_FIELD_SIGNED);
	out[4] = BPF_CORE_READ_BITFIELD_PROBED(&s->bits, mid);
	out[5] = BPF_CORE_READ_BITFIELD_PROBED(&s->bits, hi);
	out[6] = bpf_core_type_exists(struct eng_absent);
	out[7] = bpf_core_type_size(struct eng_s);
	out[8] = bpf_core_type_matches(struct eng_inner);
	out[9] = BPF_CORE_READ(s, arr[2]);
	out[10] = sub_read_x(s);
	return 0;
}

SEC("raw_tp/sys_exit")
int prog_ldimm64(void *ctx)
{
	out[11] = bpf_core_type_id_kernel(struct eng_s);
	out[12] = bpf_core_type_id_local(eng_t);
	out[13] = bpf_core_enum_value_exists(enum eng_e, ENG_MISSING);
	out[14] = bpf_core_enum_value(enum eng_e, ENG_ONE);
	out[15] = bpf_core_enum_value(enum eng_e, ENG_MISSING);
	out[16] = sub_read_x((struct eng_s *)bpf_get_current_task());
	return 0;
}

SEC("tp_btf/sched_switch")
int prog_direct(__u64 *ctx)
{
	struct eng_s *s = (struct eng_s *)ctx[1];

	out[17] = s->in.y;		/* LDX off */
	out[18] = s->narrow;		/* LDX off, size 4 -> 8 on the target */
	out[19] = s->snarrow;		/* LDX off, signed size change -> poison */
	out[20] = BPF_CORE_READ_BITFIELD(&s->bits, hi);	/* LDX off with mem size */
	s->a = (int)out[21];		/* STX off */
	if (bpf_core_field_exists(s->gone))
		out[22] = s->gone;	/* poisoned, guarded */
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
