/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared scaffolding for the calculation-layer test objects (tests/core).
 * No vmlinux.h: every type is written here or in the target variants, so that each
 * relocation in the objects is one a test asserts on.
 */
#ifndef CX_H
#define CX_H

typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define FI(expr, kind) __builtin_preserve_field_info(expr, BPF_FIELD_##kind)

#endif
