/* Every BTF kind clang emits, for tests/test_spec.py (both byte orders).
 * Build: ./build.sh (clang-19 -g -O2 --target=bpfel / bpfeb). No includes on purpose. */

#define __tag(x) __attribute__((btf_decl_tag(x)))
#define __ttag(x) __attribute__((btf_type_tag(x)))
#define SEC(n) __attribute__((section(n), used))

typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef u32 u32_alias; /* typedef chain: u32_alias -> u32 -> unsigned int */

enum small_enum { SMALL_A = -3, SMALL_B = 0, SMALL_C = 7 };
enum big_enum { BIG_LOW = 1, BIG_HIGH = 0xfedcba9876543210ULL };
enum signed_big { SBIG_NEG = -0x100000000LL, SBIG_POS = 1 };

struct fwd_only; /* only ever used through a pointer: FWD */
union fwd_union;

struct bits {
	unsigned int a : 3;
	unsigned int b : 5;
	int c : 12;
	unsigned long long d : 40;
	char tail;
} __tag("bits_tag");

union either {
	u32 word;
	unsigned char bytes[4];
	float f;
};

struct kinds {
	int i;
	const volatile u32 cv;
	u32_alias alias;
	char matrix[2][3];
	int *restrict rp;
	int __ttag("user") * tagged;
	struct fwd_only *fwd;
	union fwd_union *fwdu;
	union either u;
	struct bits bf;
	enum small_enum se;
	enum big_enum be;
	enum signed_big sb;
	double d;
	long double ld;
	int (*varargs_fn)(const char *fmt, ...);
	void (*plain_fn)(void);
	u64 trailing[0];
} __tag("kinds_tag");

/* flavors for essential-name lookups (core-semantics.md 4.1) */
struct kinds___v2 { int i; long extra; };
struct many___under___scores { int x; };
struct four____under { int y; };

struct kinds global_kinds SEC(".data");
struct kinds___v2 flavored SEC(".data");
struct many___under___scores many SEC(".data");
struct four____under four SEC(".data");
int counter SEC(".bss");
const volatile int config = 42;
static volatile s8 local_byte SEC(".data") = 1;

__attribute__((noinline)) int helper(struct kinds *k __tag("param_tag"), int x)
{
	return k->i + x + k->bf.c + local_byte;
}

SEC("tp/test")
int prog(void *ctx)
{
	counter += helper(&global_kinds, config);
	return global_kinds.alias + (int)global_kinds.be + (int)global_kinds.sb + flavored.i +
	       many.x + four.y;
}

/* CO-RE relocations of known kinds for tests/test_ext.py (core-semantics.md 3.1/3.2) */
struct core_target {
	int first;
	struct { int inner[4]; } nested;
	unsigned int bf : 4;
} __attribute__((preserve_access_index));

SEC("tp/core")
int core_prog(struct core_target *t)
{
	int r = t->first;                                            /* kind 0, "0:0" */
	r += t->nested.inner[2];                                     /* kind 0, "0:1:0:2" */
	r += __builtin_preserve_field_info(t->bf, 2);                /* kind 2, "0:2" */
	r += __builtin_btf_type_id(*t, 1);                           /* kind 7, "0" */
	r += __builtin_preserve_type_info(*t, 1);                    /* kind 9, "0" */
	r += __builtin_preserve_enum_value(*(enum small_enum *)SMALL_C, 1); /* kind 11, "2" */
	return r;
}

char _license[] SEC("license") = "GPL";
