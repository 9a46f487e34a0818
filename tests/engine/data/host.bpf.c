// SPDX-License-Identifier: GPL-2.0
/*
 * Host object for tests/engine: ~100 CO-RE relocations against the host 6.18 kernel's
 * types (fixtures/include/vmlinux.h), in programs the host kernel loads: a raw_tp program
 * reading task fields through BPF_CORE_READ (probe reads, MOV/ADD imm relocations) and a
 * tp_btf program with direct loads (LDX off relocations). Rebuild: ./build.sh
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

__u64 out[90];

SEC("raw_tp/sys_enter")
int host_reads(void *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();

	out[0] = BPF_CORE_READ(t, flags);
	out[1] = BPF_CORE_READ(t, on_cpu);
	out[2] = BPF_CORE_READ(t, wakee_flips);
	out[3] = BPF_CORE_READ(t, recent_used_cpu);
	out[4] = BPF_CORE_READ(t, wake_cpu);
	out[5] = BPF_CORE_READ(t, on_rq);
	out[6] = BPF_CORE_READ(t, prio);
	out[7] = BPF_CORE_READ(t, static_prio);
	out[8] = BPF_CORE_READ(t, normal_prio);
	out[9] = BPF_CORE_READ(t, rt_priority);
	out[10] = BPF_CORE_READ(t, btrace_seq);
	out[11] = BPF_CORE_READ(t, policy);
	out[12] = BPF_CORE_READ(t, nr_cpus_allowed);
	out[13] = BPF_CORE_READ(t, exit_state);
	out[14] = BPF_CORE_READ(t, exit_code);
	out[15] = BPF_CORE_READ(t, exit_signal);
	out[16] = BPF_CORE_READ(t, pdeath_signal);
	out[17] = BPF_CORE_READ(t, jobctl);
	out[18] = BPF_CORE_READ(t, personality);
	out[19] = BPF_CORE_READ(t, atomic_flags);
	out[20] = BPF_CORE_READ(t, pid);
	out[21] = BPF_CORE_READ(t, tgid);
	out[22] = BPF_CORE_READ(t, utime);
	out[23] = BPF_CORE_READ(t, stime);
	out[24] = BPF_CORE_READ(t, gtime);
	out[25] = BPF_CORE_READ(t, nvcsw);
	out[26] = BPF_CORE_READ(t, nivcsw);
	out[27] = BPF_CORE_READ(t, start_time);
	out[28] = BPF_CORE_READ(t, start_boottime);
	out[29] = BPF_CORE_READ(t, min_flt);
	out[30] = BPF_CORE_READ(t, maj_flt);
	out[31] = BPF_CORE_READ(t, last_switch_count);
	out[32] = BPF_CORE_READ(t, last_switch_time);
	out[33] = BPF_CORE_READ(t, sas_ss_sp);
	out[34] = BPF_CORE_READ(t, sas_ss_size);
	out[35] = BPF_CORE_READ(t, sas_ss_flags);
	out[36] = BPF_CORE_READ(t, parent_exec_id);
	out[37] = BPF_CORE_READ(t, self_exec_id);
	out[38] = BPF_CORE_READ(t, ptrace_message);
	out[39] = BPF_CORE_READ(t, nr_dirtied);
	out[40] = BPF_CORE_READ(t, nr_dirtied_pause);
	out[41] = BPF_CORE_READ(t, dirty_paused_when);
	out[42] = BPF_CORE_READ(t, timer_slack_ns);
	out[43] = BPF_CORE_READ(t, __state);
	out[44] = BPF_CORE_READ(t, real_parent, pid);
	out[45] = BPF_CORE_READ(t, real_parent, tgid);
	out[46] = BPF_CORE_READ(t, parent, pid);
	out[47] = BPF_CORE_READ(t, group_leader, pid);
	out[48] = BPF_CORE_READ(t, real_parent, real_parent, pid);
	out[49] = BPF_CORE_READ(t, mm, total_vm);
	out[50] = BPF_CORE_READ(t, mm, map_count);
	out[51] = BPF_CORE_READ(t, mm, start_code);
	out[52] = BPF_CORE_READ(t, mm, end_code);
	out[53] = BPF_CORE_READ(t, mm, start_stack);
	out[54] = BPF_CORE_READ(t, mm, arg_start);
	out[55] = BPF_CORE_READ(t, mm, env_start);
	out[56] = BPF_CORE_READ(t, cred, uid.val);
	out[57] = BPF_CORE_READ(t, cred, gid.val);
	out[58] = BPF_CORE_READ(t, cred, euid.val);
	out[59] = BPF_CORE_READ(t, cred, egid.val);
	out[60] = BPF_CORE_READ(t, real_cred, suid.val);
	out[61] = BPF_CORE_READ(t, real_cred, fsuid.val);
	out[62] = BPF_CORE_READ(t, nsproxy, pid_ns_for_children, level);
	out[63] = BPF_CORE_READ(t, signal, nr_threads);
	out[64] = BPF_CORE_READ(t, signal, oom_score_adj);
	out[65] = BPF_CORE_READ(t, se.vruntime);
	out[66] = BPF_CORE_READ(t, se.sum_exec_runtime);
	out[67] = BPF_CORE_READ(t, se.load.weight);
	out[68] = BPF_CORE_READ(t, sched_info.pcount);
	out[69] = BPF_CORE_READ(t, ioac.rchar);
	out[70] = BPF_CORE_READ(t, ioac.wchar);
	out[71] = BPF_CORE_READ(t, ioac.syscr);
	out[72] = bpf_core_field_exists(t->mm_cid);
	out[73] = bpf_core_field_exists(t->rseq_len);
	out[74] = bpf_core_field_exists(t->numa_scan_seq);
	out[75] = bpf_core_field_exists(t->stack_canary);
	out[76] = bpf_core_field_exists(t->pi_top_task);
	out[77] = bpf_core_field_size(t->pid);
	out[78] = bpf_core_field_size(t->comm);
	out[79] = bpf_core_field_size(t->utime);
	out[80] = bpf_core_field_size(t->flags);
	out[81] = bpf_core_field_size(t->se);
	out[82] = bpf_core_type_exists(struct task_struct);
	out[83] = bpf_core_type_size(struct mm_struct);
	out[84] = bpf_core_enum_value(enum bpf_map_type, BPF_MAP_TYPE_ARRAY);
	out[85] = bpf_core_enum_value_exists(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF);
	return 0;
}

SEC("tp_btf/sched_switch")
int host_direct(__u64 *ctx)
{
	struct task_struct *next = (struct task_struct *)ctx[2];

	out[86] = next->pid;
	out[87] = next->tgid;
	out[88] = next->prio;
	out[89] = next->flags;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
