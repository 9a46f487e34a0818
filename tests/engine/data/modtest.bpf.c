// SPDX-License-Identifier: Apache-2.0
/*
 * Module BTF test object: struct tun_struct lives in the tun module's BTF, task_struct in
 * vmlinux. Relocated against Debian 6.12 (fixtures/kernels) with and without the module.
 */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct tun_struct {
	unsigned int numqueues;
	unsigned int flags;
} __attribute__((preserve_access_index));

struct task_struct {
	int pid;
} __attribute__((preserve_access_index));

unsigned long long out[4];

SEC("raw_tp/sys_enter")
int modtest(void *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct tun_struct *tun = (struct tun_struct *)ctx;

	out[0] = BPF_CORE_READ(t, pid);
	out[1] = BPF_CORE_READ(tun, numqueues);
	out[2] = BPF_CORE_READ(tun, flags);
	out[3] = bpf_core_type_exists(struct tun_struct);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
