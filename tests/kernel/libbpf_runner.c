// SPDX-License-Identifier: Apache-2.0
/*
 * Reference runner: load an object with libbpf (which does the CO-RE relocation itself,
 * against the running kernel or a BTF file), write inputs into its global data, test-run one
 * program and print the result as one JSON line. Used to check the self-check objects pass
 * under libbpf on the host, independently of corepy and of the Python loader.
 *
 * usage: libbpf_runner [--btf PATH] [--capture FILE] [--prepare] [--thread] OBJ PROG
 *                      [SEC:OFF:VALUE ...]
 *   VALUE is hex bytes, or @ppid / @reset_on_fork / @subreaper (u32 of this process,
 *   read after --prepare made this process a child subreaper with SCHED_RESET_ON_FORK).
 *   --thread: test-run from a second thread (so the program sees pid != tgid); with
 *   --prepare that thread sets SCHED_RESET_ON_FORK for itself (new threads start without).
 *   Output: {"retval", "pid", "ppid", "tid", "comm", "sections": {name: hex}} or
 *   {"error", "errno"}; libbpf's own messages (the verifier log) go to stderr.
 *   --capture: do not load PROG; write the instructions libbpf submits for it (relocated,
 *   subprograms appended, map fds in place) to FILE. This works for any target BTF, also
 *   when the running kernel would refuse the result: our syscall() below answers that one
 *   BPF_PROG_LOAD itself (libbpf.a is linked statically, so its calls resolve to it) and
 *   passes every other call to the C library's.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif

static const char *capture_path, *capture_prog;
static int captured = -1;

long syscall(long nr, ...)
{
	static long (*real)(long, ...);
	va_list ap;
	long a[6];

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr == __NR_bpf && capture_path && a[0] == BPF_PROG_LOAD) {
		union bpf_attr *attr = (union bpf_attr *)a[1];

		if (!strncmp(attr->prog_name, capture_prog, sizeof(attr->prog_name) - 1)) {
			FILE *f = fopen(capture_path, "wb");

			if (!f)
				return -1;
			fwrite((void *)(unsigned long)attr->insns, 8, attr->insn_cnt, f);
			fclose(f);
			captured = (int)attr->insn_cnt;
			return open("/dev/null", O_RDONLY | O_CLOEXEC);
		}
	}
	if (!real)
		real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

static int fail(const char *what, int err)
{
	err = err < 0 ? -err : err;
	printf("{\"error\": \"%s: %s\", \"errno\": %d}\n", what, strerror(err), err);
	return 1;
}

static int prepare(void)
{
	struct sched_param sp = {0};

	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) ||
	    sched_setscheduler(0, SCHED_OTHER | SCHED_RESET_ON_FORK, &sp))
		return -errno;
	return 0;
}

struct test_run {
	int prog_fd, prepare, err;
	__u32 retval;
	pid_t tid;
	char comm[16];
};

/* The test run, in the calling task: the program reads that task's pid, comm, flags. */
static void *test_run(void *arg)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	struct test_run *t = arg;

	if (t->prepare && (t->err = prepare()))
		return NULL;
	t->tid = (pid_t)syscall(SYS_gettid);
	prctl(PR_GET_NAME, t->comm, 0, 0, 0);
	t->err = bpf_prog_test_run_opts(t->prog_fd, &opts);
	if (t->err)
		t->err = -errno;
	t->retval = opts.retval;
	return NULL;
}

static struct bpf_map *data_map(struct bpf_object *obj, const char *sec)
{
	struct bpf_map *map;
	size_t n = strlen(sec);

	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);
		size_t len = strlen(name);

		if (bpf_map__is_internal(map) && len >= n && !strcmp(name + len - n, sec))
			return map;
	}
	return NULL;
}

static unsigned int proc_value(const char *what)
{
	int policy;
	int v = 0;

	if (!strcmp(what, "ppid"))
		return (unsigned int)getppid();
	if (!strcmp(what, "reset_on_fork")) {
		policy = sched_getscheduler(0);
		return (policy & SCHED_RESET_ON_FORK) ? 1 : 0;
	}
	if (!strcmp(what, "subreaper")) {
		prctl(PR_GET_CHILD_SUBREAPER, &v, 0, 0, 0);
		return (unsigned int)v;
	}
	fprintf(stderr, "unknown process value @%s\n", what);
	exit(2);
}

static int set_input(struct bpf_object *obj, char *spec)
{
	char *sec = strtok(spec, ":"), *off_s = strtok(NULL, ":"), *val = strtok(NULL, "");
	unsigned char buf[256];
	struct bpf_map *map;
	size_t size, len = 0;
	unsigned long off;
	char *data;

	if (!sec || !off_s || !val)
		return -EINVAL;
	map = data_map(obj, sec);
	if (!map)
		return -ENOENT;
	data = (char *)bpf_map__initial_value(map, &size); /* writable until load */
	off = strtoul(off_s, NULL, 0);
	if (val[0] == '@') {
		unsigned int v = proc_value(val + 1);

		memcpy(buf, &v, sizeof(v));
		len = sizeof(v);
	} else {
		for (; val[2 * len] && val[2 * len + 1] && len < sizeof(buf); len++)
			sscanf(val + 2 * len, "%2hhx", &buf[len]);
	}
	if (!data || off + len > size)
		return -ERANGE;
	memcpy(data + off, buf, len);
	return 0;
}

int main(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts);
	const char *secs[] = {".bss", ".data", ".rodata"};
	struct test_run run = {0};
	struct bpf_program *prog;
	struct bpf_object *obj;
	int i = 1, err, thread = 0, prep = 0;

	for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
		if (!strcmp(argv[i], "--btf") && i + 1 < argc)
			open_opts.btf_custom_path = argv[++i];
		else if (!strcmp(argv[i], "--capture") && i + 1 < argc)
			capture_path = argv[++i];
		else if (!strcmp(argv[i], "--prepare"))
			prep = 1;
		else if (!strcmp(argv[i], "--thread"))
			thread = 1;
		else
			break;
	}
	if (argc - i < 2) {
		fprintf(stderr, "usage: %s [--btf PATH] [--capture FILE] [--prepare] [--thread] "
			"OBJ PROG [SEC:OFF:VALUE ...]\n", argv[0]);
		return 2;
	}
	if (prep && (err = prepare()))
		return fail("prepare", err);
	capture_prog = argv[i + 1];
	obj = bpf_object__open_file(argv[i], &open_opts);
	if (!obj)
		return fail("open", errno);
	for (int a = i + 2; a < argc; a++) {
		err = set_input(obj, argv[a]);
		if (err)
			return fail(argv[a], err);
	}
	err = bpf_object__load(obj);
	if (err)
		return fail("load", err);
	prog = bpf_object__find_program_by_name(obj, argv[i + 1]);
	if (!prog)
		return fail("no such program", ENOENT);
	if (capture_path) {
		if (captured < 0)
			return fail("program was not submitted", ENOENT);
		printf("{\"captured\": %d}\n", captured);
		return 0;
	}
	run.prog_fd = bpf_program__fd(prog);
	if (thread) {
		pthread_t th;

		run.prepare = prep;
		err = pthread_create(&th, NULL, test_run, &run);
		if (err || (err = pthread_join(th, NULL)))
			return fail("thread", err);
	} else {
		test_run(&run);
	}
	if (run.err)
		return fail(run.prepare ? "prepare or test run" : "test run", run.err);
	printf("{\"retval\": %u, \"pid\": %d, \"ppid\": %d, \"tid\": %d, \"comm\": \"",
	       run.retval, getpid(), getppid(), run.tid);
	for (const char *c = run.comm; *c; c++)  /* a JSON string: escape what needs it */
		printf((*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) ? "\\u%04x" : "%c", *c);
	printf("\", \"sections\": {");
	for (unsigned int s = 0, first = 1; s < sizeof(secs) / sizeof(secs[0]); s++) {
		struct bpf_map *map = data_map(obj, secs[s]);
		unsigned char *val;
		__u32 key = 0;

		if (!map)
			continue;
		val = calloc(1, bpf_map__value_size(map));
		if (!val || bpf_map_lookup_elem(bpf_map__fd(map), &key, val))
			return fail("lookup", errno);
		printf("%s\"%s\": \"", first ? "" : ", ", secs[s]);
		for (unsigned int b = 0; b < bpf_map__value_size(map); b++)
			printf("%02x", val[b]);
		printf("\"");
		first = 0;
		free(val);
	}
	printf("}}\n");
	bpf_object__close(obj);
	return 0;
}
