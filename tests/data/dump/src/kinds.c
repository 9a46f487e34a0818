/* Exercises every BTF kind and the formatting corners of `bpftool btf dump`:
 * INT encodings, bitfields (kind_flag), signed/unsigned ENUM and ENUM64, FWD of
 * struct and union, all modifiers, FUNC linkage (static/global/extern), varargs
 * FUNC_PROTO, VAR linkage (static/global/extern), DATASEC, FLOAT, DECL_TAG on
 * types/members/functions/params/variables, TYPE_TAG, anonymous members. */
#define SEC(n) __attribute__((section(n), used))
#define TAG(s) __attribute__((btf_decl_tag(s)))
#define UTAG(s) __attribute__((btf_type_tag(s)))

typedef unsigned long long u64;
typedef signed char s8;

struct fwd_struct;
union fwd_union;

enum plain { P_ZERO, P_ONE, P_BIG = 0x7fffffff };
enum negative { N_MINUS = -5, N_ZERO = 0, N_MAX = 2147483647 };
enum unsigned_top { U_TOP = 0xffffffffu, U_LOW = 1 };
enum __attribute__((packed)) small { S_A = 1, S_B = 200 };
enum big64 { B_SMALL = 1, B_BIG = 0xfedcba9876543210ULL };
enum neg64 { M_NEG = -0x100000000LL, M_POS = 0x100000000LL, M_M1 = -1 };

struct TAG("struct_tag") TAG("quote\"'\\tag") bits {
	unsigned int a : 3;
	int b : 5;
	unsigned long long c : 40;
	_Bool flag : 1;
	char ch;
	s8 sc;
	unsigned char uc;
	short sh TAG("member_tag");
	unsigned short ush;
	long l;
	unsigned long ul;
	long long ll;
	__int128 i128;
	unsigned __int128 u128;
	float f;
	double d;
	long double ld;
	struct {
		int x;
		union {
			int y;
			float z;
		};
	};
	int arr[3][4];
	const volatile int *restrict cvp;
	int UTAG("user") UTAG("rcu") *tagged;
	struct fwd_struct *fs;
	union fwd_union *fu;
	enum plain e1;
	enum negative e2;
	enum unsigned_top e3;
	enum small e4;
	enum big64 e5;
	enum neg64 e6;
	int (*varfn)(int, ...);
	void (*nofn)(void);
	int flex[];
};

union plain_union {
	int i;
	u64 q;
	struct bits *b;
};

typedef struct bits bits_t TAG("typedef_tag");

union TAG("union_tag") ubits {
	unsigned int lo : 4;
	unsigned int hi : 28;
	int all;
};

bits_t *global_bits_ptr;
union ubits global_ubits;
int tagged_var TAG("var_tag") = 3;

struct {
	int type;
	int max_entries;
} fake_map SEC(".maps");

int global_counter = 1;
static volatile int static_counter;
const volatile u64 rodata_const = 42;
int bss_var;
extern int ext_var __attribute__((section(".kconfig"), weak));
extern int ext_func(int a, long b) __attribute__((section(".ksyms")));
char _license[] SEC("license") = "GPL";

static __attribute__((noinline)) int static_helper(int x TAG("param_tag")) TAG("func_tag")
{
	return x * static_counter;
}

__attribute__((noinline)) int global_helper(struct bits *b, union plain_union *u)
{
	return b->a + b->b + u->i + b->ch;
}

SEC("raw_tp/sys_enter")
int prog(void *ctx)
{
	struct bits b = {};
	union plain_union u = {};
	bits_t *bt = &b;
	int r = static_helper(global_counter) + global_helper(bt, &u) + bss_var + (int)rodata_const;

	r += global_ubits.hi + tagged_var + (global_bits_ptr ? global_bits_ptr->a : 0);

	if (ext_var)
		r += ext_func(r, 2);
	return r;
}
