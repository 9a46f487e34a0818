// SPDX-License-Identifier: Apache-2.0
/*
 * libbpf_relo: the libbpf oracle used by corepy's differential tests.
 *
 * It opens a BPF object with Debian's libbpf (linked statically), points
 * btf_custom_path at a target BTF file (raw BTF or an ELF with .BTF) and
 * reports, as JSON on stdout, the instructions libbpf hands to BPF_PROG_LOAD
 * for every program, together with libbpf's complete debug log.
 *
 * How the instructions are captured without the kernel verifying them:
 * the binary is linked with -Wl,--wrap=syscall, so every call to syscall()
 * made inside libbpf.a (libbpf issues all bpf() commands that way) lands in
 * __wrap_syscall() below.  A BPF_PROG_LOAD whose insns pointer and count are
 * exactly bpf_program__insns()/bpf_program__insn_cnt() of one of the object's
 * programs is the real load of that program: it is recorded and answered with
 * a dummy fd (an fd of /dev/null), so libbpf goes on with the next program.
 * Everything else (feature probes, which use their own instruction buffers,
 * BTF load, map creation, map updates, freezing) is forwarded unchanged to the
 * real kernel through __real_syscall (glibc's syscall()).
 *
 * Usage:
 *   libbpf_relo [--only PROG]... [--verbose] OBJECT TARGET_BTF
 *   libbpf_relo --check
 * TARGET_BTF "-" leaves btf_custom_path unset (libbpf uses the running
 * kernel's BTF).  --only may be repeated; other programs get autoload=false.
 * --verbose also copies libbpf's log to stderr.
 * Exit status: 0 when the JSON was written (even if libbpf failed: see
 * "error"), 2 on usage errors, 1 when even the JSON could not be produced.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

/* ------------------------------------------------------------------ */
/* small helpers                                                        */

static void *xrealloc(void *p, size_t n)
{
	void *r = realloc(p, n ? n : 1);

	if (!r) {
		fputs("libbpf_relo: out of memory\n", stderr);
		exit(1);
	}
	return r;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xrealloc(NULL, n), s, n);
}

/* Grow *arr (element size sz) so that index *len can be written; return it. */
static void *push(void *arr_p, size_t *len, size_t *cap, size_t sz)
{
	void **arr = arr_p;

	if (*len == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*arr = xrealloc(*arr, *cap * sz);
	}
	return (char *)*arr + (*len)++ * sz;
}

/* ------------------------------------------------------------------ */
/* state filled while libbpf runs                                       */

struct log_line {
	int level;		/* enum libbpf_print_level */
	char *text;		/* without trailing newline */
};

struct func_entry {		/* "sec 'S': found program 'P' at insn offset ..." */
	char *section;
	char *name;
	size_t sec_insn_off;
	size_t insn_cnt;
};

struct append_entry {		/* "prog 'M': added N insns from sub-prog 'S'" */
	char *main_prog;
	char *sub_prog;
	size_t insn_cnt;
};

struct capture {
	struct bpf_program *prog;
	bool submitted;
	int submissions;
	int dummy_fd;
	struct bpf_insn *insns;
	uint32_t insn_cnt;
	uint32_t prog_type;
	uint32_t expected_attach_type;
	uint32_t attach_btf_id;
	uint32_t prog_flags;
	char *license;
	char prog_name[BPF_OBJ_NAME_LEN + 1];
	uint32_t func_info_cnt;
	uint32_t *func_info;	/* pairs insn_off, type_id */
	uint32_t line_info_cnt;
};

struct relo_failure {
	char *program;
	char *section;
	int relo;
	int err;
	char *what;
};

static struct {
	bool verbose;
	struct bpf_object *obj;

	char *pending;		/* partial log line */
	size_t pending_len, pending_cap;

	struct log_line *log;
	size_t log_len, log_cap;

	struct func_entry *funcs;
	size_t funcs_len, funcs_cap;

	struct append_entry *appends;
	size_t appends_len, appends_cap;

	struct capture *caps;
	size_t caps_len;

	char *core_section;	/* section whose CO-RE relocations run now */
	struct relo_failure failure;
	bool have_failure;
	bool relocated;		/* a program load failed: every program was relocated */
} G;

/* ------------------------------------------------------------------ */
/* syscall interception                                                 */

long __real_syscall(long number, ...);
long __wrap_syscall(long number, ...);

static struct capture *capture_for(const union bpf_attr *attr, unsigned int size)
{
	size_t i;

	if (!G.obj || size < offsetof(union bpf_attr, insns) + sizeof(attr->insns))
		return NULL;
	for (i = 0; i < G.caps_len; i++) {
		struct bpf_program *p = G.caps[i].prog;

		if ((uint64_t)(uintptr_t)bpf_program__insns(p) == attr->insns &&
		    bpf_program__insn_cnt(p) == attr->insn_cnt)
			return &G.caps[i];
	}
	return NULL;
}

#define ATTR_HAS(attr_size, field) \
	((attr_size) >= offsetof(union bpf_attr, field) + sizeof(((union bpf_attr *)0)->field))

static long record_prog_load(struct capture *c, const union bpf_attr *attr, unsigned int size)
{
	const void *src = (const void *)(uintptr_t)attr->insns;
	size_t nbytes = (size_t)attr->insn_cnt * sizeof(struct bpf_insn);

	free(c->insns);
	c->insns = memcpy(xrealloc(NULL, nbytes), src, nbytes);
	c->insn_cnt = attr->insn_cnt;
	c->prog_type = attr->prog_type;
	free(c->license);
	c->license = attr->license ? xstrdup((const char *)(uintptr_t)attr->license) : NULL;
	if (ATTR_HAS(size, prog_flags))
		c->prog_flags = attr->prog_flags;
	if (ATTR_HAS(size, prog_name)) {
		memcpy(c->prog_name, attr->prog_name, BPF_OBJ_NAME_LEN);
		c->prog_name[BPF_OBJ_NAME_LEN] = '\0';
	}
	if (ATTR_HAS(size, expected_attach_type))
		c->expected_attach_type = attr->expected_attach_type;
	if (ATTR_HAS(size, attach_btf_id))
		c->attach_btf_id = attr->attach_btf_id;
	free(c->func_info);
	c->func_info = NULL;
	c->func_info_cnt = 0;
	if (ATTR_HAS(size, func_info_cnt) && attr->func_info && attr->func_info_cnt &&
	    attr->func_info_rec_size >= 2 * sizeof(uint32_t)) {
		const char *fi = (const char *)(uintptr_t)attr->func_info;
		uint32_t k;

		c->func_info_cnt = attr->func_info_cnt;
		c->func_info = xrealloc(NULL, 2 * sizeof(uint32_t) * c->func_info_cnt);
		for (k = 0; k < c->func_info_cnt; k++)
			memcpy(&c->func_info[2 * k], fi + (size_t)k * attr->func_info_rec_size,
			       2 * sizeof(uint32_t));
	}
	if (ATTR_HAS(size, line_info_cnt))
		c->line_info_cnt = attr->line_info ? attr->line_info_cnt : 0;

	c->submitted = true;
	c->submissions++;
	if (c->dummy_fd < 0)
		c->dummy_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	else
		c->dummy_fd = dup(c->dummy_fd);	/* libbpf owns (and closes) each fd */
	if (c->dummy_fd < 0)
		return -1;	/* errno from open()/dup() */
	return c->dummy_fd;
}

static bool is_dummy_fd(uint32_t fd)
{
	size_t i;

	for (i = 0; i < G.caps_len; i++)
		if (G.caps[i].dummy_fd >= 0 && (uint32_t)G.caps[i].dummy_fd == fd)
			return true;
	return false;
}

long __wrap_syscall(long number, ...)
{
	long a1, a2, a3, a4, a5, a6;
	va_list ap;

	/* glibc's syscall() takes six arguments after the number; so do we. */
	va_start(ap, number);
	a1 = va_arg(ap, long);
	a2 = va_arg(ap, long);
	a3 = va_arg(ap, long);
	a4 = va_arg(ap, long);
	a5 = va_arg(ap, long);
	a6 = va_arg(ap, long);
	va_end(ap);

	if (number == __NR_bpf) {
		int cmd = (int)a1;
		const union bpf_attr *attr = (const union bpf_attr *)(uintptr_t)a2;
		unsigned int size = (unsigned int)a3;

		if (cmd == BPF_PROG_LOAD && attr) {
			struct capture *c = capture_for(attr, size);

			if (c)
				return record_prog_load(c, attr, size);
		}
		/* libbpf binds .rodata to each loaded program; our fds are fake. */
		if (cmd == BPF_PROG_BIND_MAP && attr && ATTR_HAS(size, prog_bind_map.prog_fd) &&
		    is_dummy_fd(attr->prog_bind_map.prog_fd))
			return 0;
	}
	return __real_syscall(number, a1, a2, a3, a4, a5, a6);
}

/* ------------------------------------------------------------------ */
/* libbpf log capture and the few lines we interpret here               */

/* libbpf 1.1's "error matching candidate" format ends in "\n ", so the next line
 * starts with a space: skip it along with the "libbpf: " prefix. */
static const char *strip_prefix(const char *line)
{
	while (*line == ' ')
		line++;
	return strncmp(line, "libbpf: ", 8) == 0 ? line + 8 : line;
}

static const struct func_entry *find_func(const char *name, const char *section)
{
	size_t i;

	for (i = 0; i < G.funcs_len; i++)
		if (strcmp(G.funcs[i].name, name) == 0 &&
		    (!section || strcmp(G.funcs[i].section, section) == 0))
			return &G.funcs[i];
	return NULL;
}

static void interpret_line(const char *line)
{
	char a[512], b[512];
	size_t n1, n2, n3, n4;
	int i1, i2, end = 0;
	unsigned int u1;
	const char *l = strip_prefix(line);

	end = 0;
	if (sscanf(l, "sec '%511[^']': found program '%511[^']' at insn offset %zu (%zu bytes), "
		      "code size %zu insns (%zu bytes)%n", a, b, &n1, &n2, &n3, &n4, &end) == 6 &&
	    end > 0 && l[end] == '\0') {
		struct func_entry *f = push(&G.funcs, &G.funcs_len, &G.funcs_cap, sizeof(*f));

		f->section = xstrdup(a);
		f->name = xstrdup(b);
		f->sec_insn_off = n1;
		f->insn_cnt = n3;
		return;
	}
	end = 0;
	if (sscanf(l, "prog '%511[^']': added %zu insns from sub-prog '%511[^']'%n",
		   a, &n1, b, &end) == 3 && end > 0 && l[end] == '\0') {
		struct append_entry *e = push(&G.appends, &G.appends_len, &G.appends_cap,
					      sizeof(*e));

		e->main_prog = xstrdup(a);
		e->sub_prog = xstrdup(b);
		e->insn_cnt = n1;
		return;
	}
	end = 0;
	if (sscanf(l, "sec '%511[^']': found %d CO-RE relocations%n", a, &i1, &end) == 2 &&
	    end > 0 && l[end] == '\0') {
		free(G.core_section);
		G.core_section = xstrdup(a);
		return;
	}
	if (G.have_failure)
		return;
	end = 0;
	if (sscanf(l, "prog '%511[^']': relo #%d: failed to relocate: %d%n", a, &i1, &i2, &end)
	    == 3 && end > 0 && l[end] == '\0') {
		G.failure.what = xstrdup("failed to relocate");
	} else if (end = 0, sscanf(l, "prog '%511[^']': relo #%d: failed to patch insn #%u: %d%n",
				   a, &i1, &u1, &i2, &end) == 4 && end > 0 && l[end] == '\0') {
		G.failure.what = xstrdup("failed to patch insn");
	} else if (end = 0, sscanf(l, "prog '%511[^']': failed to load: %d%n", a, &i2, &end) == 2 &&
		   end > 0 && l[end] == '\0') {
		/* printed by the program-load loop, which runs after all relocations */
		const struct func_entry *f = find_func(a, NULL);

		G.failure.what = xstrdup("failed to load");
		G.failure.program = xstrdup(a);
		G.failure.section = f ? xstrdup(f->section) : NULL;
		G.failure.relo = -1;
		G.failure.err = i2;
		G.have_failure = true;
		G.relocated = true;
		return;
	} else {
		return;
	}
	G.have_failure = true;
	G.failure.program = xstrdup(a);
	G.failure.section = G.core_section ? xstrdup(G.core_section) : NULL;
	G.failure.relo = i1;
	G.failure.err = i2;
}

static void add_line(int level, const char *text, size_t len)
{
	struct log_line *ll = push(&G.log, &G.log_len, &G.log_cap, sizeof(*ll));

	ll->level = level;
	ll->text = xrealloc(NULL, len + 1);
	memcpy(ll->text, text, len);
	ll->text[len] = '\0';
	interpret_line(ll->text);
}

static int print_cb(enum libbpf_print_level level, const char *fmt, va_list args)
{
	va_list copy;
	int n;
	size_t start, i;

	va_copy(copy, args);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0)
		return 0;
	if (G.pending_len + (size_t)n + 1 > G.pending_cap) {
		G.pending_cap = G.pending_len + (size_t)n + 1 + 256;
		G.pending = xrealloc(G.pending, G.pending_cap);
	}
	vsnprintf(G.pending + G.pending_len, (size_t)n + 1, fmt, args);
	if (G.verbose)
		fputs(G.pending + G.pending_len, stderr);
	G.pending_len += (size_t)n;

	start = 0;
	for (i = 0; i < G.pending_len; i++) {
		if (G.pending[i] == '\n') {
			add_line(level, G.pending + start, i - start);
			start = i + 1;
		}
	}
	memmove(G.pending, G.pending + start, G.pending_len - start);
	G.pending_len -= start;
	return 0;
}

static void flush_pending(void)
{
	if (G.pending_len) {
		add_line(LIBBPF_WARN, G.pending, G.pending_len);
		G.pending_len = 0;
	}
}

/* ------------------------------------------------------------------ */
/* JSON output                                                          */

/* Length of the valid UTF-8 sequence at s (0 if invalid). */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* JSON string; invalid UTF-8 bytes become U+FFFD. NULL becomes null. */
static void jstr(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (!s) {
		fputs("null", stdout);
		return;
	}
	putchar('"');
	while (*p) {
		size_t n;

		switch (*p) {
		case '"': fputs("\\\"", stdout); p++; continue;
		case '\\': fputs("\\\\", stdout); p++; continue;
		case '\n': fputs("\\n", stdout); p++; continue;
		case '\t': fputs("\\t", stdout); p++; continue;
		case '\r': fputs("\\r", stdout); p++; continue;
		default: break;
		}
		if (*p < 0x20 || *p == 0x7f) {
			printf("\\u%04x", *p);
			p++;
			continue;
		}
		n = utf8_len(p);
		if (!n) {
			fputs("\\ufffd", stdout);
			p++;
			continue;
		}
		fwrite(p, 1, n, stdout);
		p += n;
	}
	putchar('"');
}

static void jhex(const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	putchar('"');
	for (i = 0; i < len; i++)
		printf("%02x", p[i]);
	putchar('"');
}

static void print_functions(void)
{
	size_t i;

	fputs("\"functions\": [", stdout);
	for (i = 0; i < G.funcs_len; i++) {
		fputs(i ? ", {\"section\": " : "{\"section\": ", stdout);
		jstr(G.funcs[i].section);
		fputs(", \"name\": ", stdout);
		jstr(G.funcs[i].name);
		printf(", \"sec_insn_off\": %zu, \"insn_count\": %zu}",
		       G.funcs[i].sec_insn_off, G.funcs[i].insn_cnt);
	}
	fputs("]", stdout);
}

/* Subprograms are appended in the order libbpf logged "added N insns". */
static void print_subprogs(const char *name, const struct func_entry *f)
{
	size_t i, off = f ? f->insn_cnt : 0;
	bool first = true;

	fputs(", \"subprogs\": [", stdout);
	for (i = 0; i < G.appends_len; i++) {
		if (strcmp(G.appends[i].main_prog, name) != 0)
			continue;
		fputs(first ? "{\"name\": " : ", {\"name\": ", stdout);
		first = false;
		jstr(G.appends[i].sub_prog);
		if (f)
			printf(", \"insn_off\": %zu", off);
		else
			fputs(", \"insn_off\": null", stdout);
		printf(", \"insn_count\": %zu}", G.appends[i].insn_cnt);
		off += G.appends[i].insn_cnt;
	}
	fputs("]", stdout);
}

static void print_program(const struct capture *c)
{
	struct bpf_program *p = c->prog;
	const char *name = bpf_program__name(p);
	const char *sec = bpf_program__section_name(p);
	const struct func_entry *f = find_func(name, sec);
	const struct btf *btf = bpf_object__btf(G.obj);
	uint32_t k;

	fputs("{\"name\": ", stdout);
	jstr(name);
	fputs(", \"section\": ", stdout);
	jstr(sec);
	printf(", \"autoload\": %s", bpf_program__autoload(p) ? "true" : "false");
	if (f)
		printf(", \"sec_insn_off\": %zu, \"orig_insn_count\": %zu",
		       f->sec_insn_off, f->insn_cnt);
	else
		fputs(", \"sec_insn_off\": null, \"orig_insn_count\": null", stdout);
	printf(", \"submitted\": %s", c->submitted ? "true" : "false");
	if (!c->submitted && G.relocated && bpf_program__autoload(p)) {
		/* Another program's load failed after relocation: libbpf's own buffer holds
		 * this program relocated, sanitized and with subprograms appended. */
		size_t cnt = bpf_program__insn_cnt(p);

		printf(", \"insns_source\": \"after_failed_load\", \"insn_count\": %zu, "
		       "\"insns_hex\": ", cnt);
		jhex(bpf_program__insns(p), cnt * sizeof(struct bpf_insn));
		print_subprogs(name, f);
		fputs(", \"func_info\": []}", stdout);
		return;
	}
	if (!c->submitted) {
		fputs(", \"insns_source\": null, \"insn_count\": 0, \"insns_hex\": null, "
		      "\"subprogs\": [], \"func_info\": []}", stdout);
		return;
	}
	printf(", \"insns_source\": \"submitted\", \"insn_count\": %u, \"insns_hex\": ",
	       c->insn_cnt);
	jhex(c->insns, (size_t)c->insn_cnt * sizeof(struct bpf_insn));
	printf(", \"prog_type\": %u, \"expected_attach_type\": %u, \"attach_btf_id\": %u, "
	       "\"prog_flags\": %u, \"kernel_name\": ", c->prog_type,
	       c->expected_attach_type, c->attach_btf_id, c->prog_flags);
	jstr(c->prog_name);
	fputs(", \"license\": ", stdout);
	jstr(c->license);
	printf(", \"submissions\": %d, \"line_info_count\": %u", c->submissions,
	       c->line_info_cnt);

	print_subprogs(name, f);

	fputs(", \"func_info\": [", stdout);
	for (k = 0; k < c->func_info_cnt; k++) {
		const struct btf_type *t = btf ? btf__type_by_id(btf, c->func_info[2 * k + 1]) : NULL;

		printf("%s{\"insn_off\": %u, \"type_id\": %u, \"name\": ", k ? ", " : "",
		       c->func_info[2 * k], c->func_info[2 * k + 1]);
		jstr(t ? btf__name_by_offset(btf, t->name_off) : NULL);
		fputs("}", stdout);
	}
	fputs("]}", stdout);
}

static void print_log(void)
{
	size_t i;
	bool first = true;

	fputs("\"warnings\": [", stdout);
	for (i = 0; i < G.log_len; i++) {
		if (G.log[i].level != LIBBPF_WARN)
			continue;
		if (!first)
			fputs(", ", stdout);
		first = false;
		jstr(G.log[i].text);
	}
	fputs("],\n\"log\": [", stdout);
	for (i = 0; i < G.log_len; i++) {
		if (i)
			fputs(",\n ", stdout);
		jstr(G.log[i].text);
	}
	fputs("]", stdout);
}

static char *warn_text(void)
{
	size_t i, len = 0;
	char *s;

	for (i = 0; i < G.log_len; i++)
		if (G.log[i].level == LIBBPF_WARN)
			len += strlen(G.log[i].text) + 1;
	s = xrealloc(NULL, len + 1);
	s[0] = '\0';
	len = 0;
	for (i = 0; i < G.log_len; i++) {
		size_t n;

		if (G.log[i].level != LIBBPF_WARN)
			continue;
		n = strlen(G.log[i].text);
		memcpy(s + len, G.log[i].text, n);
		s[len + n] = '\n';
		len += n + 1;
	}
	if (len)
		len--;	/* drop the last newline */
	s[len] = '\0';
	return s;
}

static void print_error(const char *stage, int err)
{
	char *msg, buf[128];

	if (!stage) {
		fputs("\"error\": null", stdout);
		return;
	}
	if (err < 0)
		err = -err;
	printf("\"error\": {\"stage\": ");
	jstr(stage);
	printf(", \"errno\": %d, \"strerror\": ", err);
	libbpf_strerror(err, buf, sizeof(buf));	/* knows libbpf's own 4000+ codes */
	jstr(buf);
	fputs(", \"program\": ", stdout);
	jstr(G.have_failure ? G.failure.program : NULL);
	fputs(", \"section\": ", stdout);
	jstr(G.have_failure ? G.failure.section : NULL);
	if (G.have_failure && G.failure.relo >= 0)
		printf(", \"relo\": %d", G.failure.relo);
	else
		fputs(", \"relo\": null", stdout);
	if (G.have_failure)
		printf(", \"libbpf_err\": %d", G.failure.err);
	else
		fputs(", \"libbpf_err\": null", stdout);
	fputs(", \"failure\": ", stdout);
	jstr(G.have_failure ? G.failure.what : NULL);
	fputs(", \"message\": ", stdout);
	msg = warn_text();
	jstr(msg);
	free(msg);
	fputs("}", stdout);
}

static void print_maps(void)
{
	struct bpf_map *m;
	bool first = true;

	fputs("\"maps\": [", stdout);
	bpf_object__for_each_map(m, G.obj) {
		fputs(first ? "{\"name\": " : ", {\"name\": ", stdout);
		first = false;
		jstr(bpf_map__name(m));
		printf(", \"type\": %d, \"fd\": %d}", (int)bpf_map__type(m), bpf_map__fd(m));
	}
	fputs("]", stdout);
}

/* ------------------------------------------------------------------ */

static int usage(void)
{
	fputs("usage: libbpf_relo [--only PROG]... [--verbose] OBJECT TARGET_BTF\n"
	      "       libbpf_relo --check\n", stderr);
	return 2;
}

/* Can this process use bpf()?  A two-instruction socket filter answers it. */
static int check_mode(void)
{
	struct bpf_insn insns[2];
	int fd, err = 0;

	memset(insns, 0, sizeof(insns));
	insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;	/* r0 = 0 */
	insns[1].code = BPF_JMP | BPF_EXIT;
	fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, NULL, "GPL", insns, 2, NULL);
	if (fd < 0)
		err = -fd;
	else
		close(fd);
	printf("{\"libbpf_version\": ");
	jstr(libbpf_version_string());
	printf(", \"bpf_syscall\": %s, \"errno\": %d}\n", fd >= 0 ? "true" : "false", err);
	return 0;
}

int main(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	const char **only = NULL;
	size_t only_len = 0, only_cap = 0, i, j;
	const char *obj_path, *btf_path, *stage = NULL;
	struct bpf_program *p;
	int argi, err = 0;

	for (argi = 1; argi < argc; argi++) {
		if (strcmp(argv[argi], "--verbose") == 0) {
			G.verbose = true;
		} else if (strcmp(argv[argi], "--only") == 0 && argi + 1 < argc) {
			*(const char **)push(&only, &only_len, &only_cap, sizeof(*only)) =
				argv[++argi];
		} else if (strcmp(argv[argi], "--check") == 0) {
			return check_mode();
		} else if (strcmp(argv[argi], "--") == 0) {
			argi++;
			break;
		} else if (argv[argi][0] == '-' && argv[argi][1] != '\0') {
			return usage();
		} else {
			break;
		}
	}
	if (argc - argi != 2)
		return usage();
	obj_path = argv[argi];
	btf_path = argv[argi + 1];

	libbpf_set_print(print_cb);
	if (strcmp(btf_path, "-") != 0)
		opts.btf_custom_path = btf_path;

	G.obj = bpf_object__open_file(obj_path, &opts);
	if (!G.obj) {
		err = -errno;
		stage = "open";
	} else {
		bpf_object__for_each_program(p, G.obj)
			G.caps_len++;
		G.caps = xrealloc(NULL, G.caps_len * sizeof(*G.caps));
		memset(G.caps, 0, G.caps_len * sizeof(*G.caps));
		i = 0;
		bpf_object__for_each_program(p, G.obj) {
			G.caps[i].prog = p;
			G.caps[i].dummy_fd = -1;
			i++;
		}
		for (j = 0; j < only_len; j++) {
			bool found = false;

			for (i = 0; i < G.caps_len; i++)
				if (strcmp(bpf_program__name(G.caps[i].prog), only[j]) == 0)
					found = true;
			if (!found) {
				fprintf(stderr, "libbpf_relo: no program named '%s'\n", only[j]);
				return 2;
			}
		}
		if (only_len) {
			for (i = 0; i < G.caps_len; i++) {
				bool keep = false;

				for (j = 0; j < only_len; j++)
					if (strcmp(bpf_program__name(G.caps[i].prog), only[j]) == 0)
						keep = true;
				bpf_program__set_autoload(G.caps[i].prog, keep);
			}
		}
		err = bpf_object__load(G.obj);
		if (err) {
			stage = "load";
		} else {
			for (i = 0; i < G.caps_len; i++) {
				if (bpf_program__autoload(G.caps[i].prog) && !G.caps[i].submitted) {
					/* loaded by the kernel without passing through our hook */
					stage = "capture";
					err = -ENOMSG;
					fprintf(stderr, "libbpf_relo: program '%s' was not captured\n",
						bpf_program__name(G.caps[i].prog));
				}
			}
		}
	}
	flush_pending();

	fputs("{\"libbpf_version\": ", stdout);
	jstr(libbpf_version_string());
	fputs(",\n\"object\": ", stdout);
	jstr(obj_path);
	fputs(",\n\"target_btf\": ", stdout);
	jstr(opts.btf_custom_path);
	fputs(",\n", stdout);
	print_functions();
	fputs(",\n\"programs\": [", stdout);
	for (i = 0; i < G.caps_len; i++) {
		if (i)
			fputs(",\n ", stdout);
		print_program(&G.caps[i]);
	}
	fputs("],\n", stdout);
	if (G.obj) {
		print_maps();
		fputs(",\n", stdout);
	} else {
		fputs("\"maps\": [],\n", stdout);
	}
	print_error(stage, err);
	fputs(",\n", stdout);
	print_log();
	fputs("}\n", stdout);
	if (fflush(stdout) != 0)
		return 1;
	bpf_object__close(G.obj);
	return 0;
}
