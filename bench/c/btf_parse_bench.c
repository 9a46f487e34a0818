// SPDX-License-Identifier: Apache-2.0
/*
 * btf_parse_bench: libbpf's cost for "parse a BTF file, find one struct, read its
 * members" -- the number corepy's lazy BTF model is compared with.
 *
 * Timing mode (default): N timed iterations, each btf__parse() (or
 * btf__parse_split() with --base) + btf__find_by_name_kind() + a walk over the
 * members (name string, type id, bit offset, bitfield size).  btf__free() runs
 * outside the timed region.  Prints one JSON object with min/median/mean in
 * microseconds for the whole operation and for its parse and lookup phases, and
 * the process RSS before parsing, with one parsed BTF alive, and at peak.
 *
 * Dump mode (--dump): one parse + lookup, then the type printed the way
 * `bpftool btf dump file F format raw` prints it, so the whole process can be
 * timed from outside (and its output compared with bpftool's).
 *
 * See README.md for the command line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

struct opts {
	const char *path;
	const char *base;
	const char *type;
	int kind;
	long iterations;
	long warmup;
	bool dump;
};

struct walk {
	int32_t id;
	uint32_t size;
	uint32_t vlen;
	uint64_t checksum;	/* keeps the member walk from being optimized away */
};

static int silent_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN)
		return vfprintf(stderr, fmt, ap);
	return 0;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* VmRSS of this process in KiB, -1 if unknown. */
static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

static long maxrss_kib(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

static struct btf *parse(const struct opts *o, struct btf *base)
{
	struct btf *btf = base ? btf__parse_split(o->path, base) : btf__parse(o->path, NULL);

	if (!btf) {
		fprintf(stderr, "btf_parse_bench: cannot parse %s: %s\n", o->path,
			strerror(errno));
		exit(1);
	}
	return btf;
}

static int lookup(const struct opts *o, const struct btf *btf, struct walk *w)
{
	const struct btf_type *t;
	const struct btf_member *m;
	uint32_t i;

	w->id = btf__find_by_name_kind(btf, o->type, o->kind);
	if (w->id < 0)
		return w->id;
	t = btf__type_by_id(btf, w->id);
	w->size = t->size;
	w->vlen = btf_vlen(t);
	w->checksum = 0;
	m = btf_members(t);
	for (i = 0; i < w->vlen; i++, m++) {
		const char *name = btf__name_by_offset(btf, m->name_off);

		w->checksum += (uint64_t)(name ? (unsigned char)name[0] : 0) + m->type +
			       btf_member_bit_offset(t, i) + btf_member_bitfield_size(t, i);
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void stats(const char *name, double *v, long n, bool last)
{
	double sum = 0, median;
	long i;

	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	for (i = 0; i < n; i++)
		sum += v[i];
	median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	printf("  \"%s\": {\"min\": %.3f, \"median\": %.3f, \"mean\": %.3f, \"max\": %.3f}%s\n",
	       name, v[0], median, sum / (double)n, v[n - 1], last ? "" : ",");
}

static const char *kind_name(int kind)
{
	return kind == BTF_KIND_UNION ? "UNION" : "STRUCT";
}

static void print_jstr(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static int run_dump(const struct opts *o, struct btf *base)
{
	struct btf *btf = parse(o, base);
	const struct btf_type *t;
	const struct btf_member *m;
	struct walk w;
	uint32_t i;

	if (lookup(o, btf, &w) < 0) {
		fprintf(stderr, "btf_parse_bench: %s '%s' not found in %s\n",
			kind_name(o->kind), o->type, o->path);
		return 1;
	}
	t = btf__type_by_id(btf, w.id);
	printf("[%d] %s '%s' size=%u vlen=%u\n", w.id, kind_name(o->kind),
	       *o->type ? o->type : "(anon)", t->size, btf_vlen(t));
	m = btf_members(t);
	for (i = 0; i < btf_vlen(t); i++, m++) {
		const char *name = btf__name_by_offset(btf, m->name_off);
		uint32_t bsz = btf_member_bitfield_size(t, i);

		printf("\t'%s' type_id=%u bits_offset=%u", name && *name ? name : "(anon)",
		       m->type, btf_member_bit_offset(t, i));
		if (bsz)
			printf(" bitfield_size=%u", bsz);
		putchar('\n');
	}
	btf__free(btf);
	return 0;
}

static int run_timing(const struct opts *o, struct btf *base)
{
	double *total = calloc((size_t)o->iterations, sizeof(double));
	double *parse_t = calloc((size_t)o->iterations, sizeof(double));
	double *lookup_t = calloc((size_t)o->iterations, sizeof(double));
	long rss_before, rss_held, i;
	struct walk w = {0};
	struct btf *held;
	struct stat st;

	if (!total || !parse_t || !lookup_t) {
		fputs("btf_parse_bench: out of memory\n", stderr);
		return 1;
	}
	rss_before = rss_kib();
	for (i = 0; i < o->warmup + o->iterations; i++) {
		double t0, t1, t2;
		struct btf *btf;

		t0 = now_us();
		btf = parse(o, base);
		t1 = now_us();
		if (lookup(o, btf, &w) < 0) {
			fprintf(stderr, "btf_parse_bench: %s '%s' not found in %s\n",
				kind_name(o->kind), o->type, o->path);
			return 1;
		}
		t2 = now_us();
		btf__free(btf);
		if (i >= o->warmup) {
			total[i - o->warmup] = t2 - t0;
			parse_t[i - o->warmup] = t1 - t0;
			lookup_t[i - o->warmup] = t2 - t1;
		}
	}
	/* RSS with one parsed BTF alive (measured after the loop so the allocator is warm). */
	held = parse(o, base);
	lookup(o, held, &w);
	rss_held = rss_kib();

	printf("{\n  \"tool\": \"libbpf\",\n  \"libbpf_version\": ");
	print_jstr(libbpf_version_string());
	printf(",\n  \"path\": ");
	print_jstr(o->path);
	printf(",\n  \"base\": ");
	if (o->base)
		print_jstr(o->base);
	else
		fputs("null", stdout);
	printf(",\n  \"file_size\": %lld,\n", stat(o->path, &st) == 0 ? (long long)st.st_size : -1LL);
	printf("  \"type\": ");
	print_jstr(o->type);
	printf(",\n  \"kind\": \"%s\",\n  \"type_id\": %d,\n  \"size\": %u,\n  \"members\": %u,\n",
	       kind_name(o->kind), w.id, w.size, w.vlen);
	printf("  \"nr_types\": %u,\n  \"checksum\": %llu,\n", btf__type_cnt(held) - 1,
	       (unsigned long long)w.checksum);
	printf("  \"iterations\": %ld,\n  \"warmup\": %ld,\n  \"unit\": \"us\",\n", o->iterations,
	       o->warmup);
	stats("total_us", total, o->iterations, false);
	stats("parse_us", parse_t, o->iterations, false);
	stats("lookup_us", lookup_t, o->iterations, false);
	printf("  \"rss_before_kib\": %ld,\n  \"rss_with_btf_kib\": %ld,\n"
	       "  \"rss_btf_delta_kib\": %ld,\n  \"maxrss_kib\": %ld\n}\n",
	       rss_before, rss_held, rss_held - rss_before, maxrss_kib());
	btf__free(held);
	free(total);
	free(parse_t);
	free(lookup_t);
	return 0;
}

static int usage(void)
{
	fputs("usage: btf_parse_bench [-n ITERATIONS] [-w WARMUP] [--type NAME] [--union]\n"
	      "                       [--base BASE_BTF] [--dump] BTF_FILE\n", stderr);
	return 2;
}

static long parse_count(const char *s, long min)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min)
		return -1;
	return v;
}

int main(int argc, char **argv)
{
	struct opts o = {
		.type = "task_struct",
		.kind = BTF_KIND_STRUCT,
		.iterations = 100,
		.warmup = 3,
	};
	struct btf *base = NULL;
	int i, ret;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if ((!strcmp(a, "-n") || !strcmp(a, "--iterations")) && i + 1 < argc) {
			o.iterations = parse_count(argv[++i], 1);
			if (o.iterations < 0)
				return usage();
		} else if ((!strcmp(a, "-w") || !strcmp(a, "--warmup")) && i + 1 < argc) {
			o.warmup = parse_count(argv[++i], 0);
			if (o.warmup < 0)
				return usage();
		} else if (!strcmp(a, "--type") && i + 1 < argc) {
			o.type = argv[++i];
		} else if (!strcmp(a, "--union")) {
			o.kind = BTF_KIND_UNION;
		} else if (!strcmp(a, "--base") && i + 1 < argc) {
			o.base = argv[++i];
		} else if (!strcmp(a, "--dump")) {
			o.dump = true;
		} else if (a[0] == '-' && a[1]) {
			return usage();
		} else if (!o.path) {
			o.path = a;
		} else {
			return usage();
		}
	}
	if (!o.path)
		return usage();

	libbpf_set_print(silent_print);
	if (o.base) {
		/* The base is parsed once, outside any timing: only the split part is measured. */
		base = btf__parse(o.base, NULL);
		if (!base) {
			fprintf(stderr, "btf_parse_bench: cannot parse base %s: %s\n", o.base,
				strerror(errno));
			return 1;
		}
	}
	ret = o.dump ? run_dump(&o, base) : run_timing(&o, base);
	btf__free(base);
	return ret;
}
