// SPDX-License-Identifier: MIT
/*
 * Unit tests of lib/sysent.c: the syscall table, the recorded set, --syscall lists, errno and
 * signal names, the exact text and JSON renderings of events, and the effects the rows give
 * (sysent_effects()), against values worked out here by hand. Expected lines are written
 * out in full: they are the user-visible contract of `vmatrace events`.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <linux/mman.h>

#include "../tap.h"
#include "event.h"
#include "stresc.h"
#include "sysent.h"

/* Newer than the installed UAPI headers. */
#define NR_map_shadow_stack 453
#define NR_mseal 462
#define MADV_GUARD_INSTALL_ 102
#define PTRACE_TRACEME_ 0

#define ADDR 0x7f3b2c000000ULL
#define NEG(x) ((uint64_t)(int64_t)(x)) /* an int argument as the register holds it */

/* A syscall event of task 1234, all else zero. */
#define SC(nr_, ret_, ...)                                                                  \
	((struct event){ .pid = 1234, .tid = 1234, .kind = EVENT_SYSCALL, .nr = (nr_),      \
			 .ret = (ret_), .args = { __VA_ARGS__ } })

/* A task-exit event with wait status @st. */
#define EXIT_EV(st) ((struct event){ .pid = 1234, .tid = 1234, .kind = EVENT_TASK_EXIT,    \
				     .nr = -1, .ret = (st) })

static char *render(void (*print)(const struct event *, FILE *), const struct event *ev)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f) {
		perror("open_memstream");
		exit(2);
	}
	print(ev, f);
	fclose(f);
	return buf;
}

static char *render_json_string(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f) {
		perror("open_memstream");
		exit(2);
	}
	json_print_string(f, s);
	fclose(f);
	return buf;
}

/* check_text/check_json are macros so that a failure names the test's line. */
#define check_render(fn, ev, expected)                                                      \
	do {                                                                                \
		struct event _ev = (ev);                                                    \
		char *_got = render(fn, &_ev);                                              \
		check_str(_got, expected);                                                  \
		free(_got);                                                                 \
	} while (0)
#define check_text(ev, expected) check_render(event_print, ev, expected)
#define check_json(ev, expected) check_render(event_print_json, ev, expected)

static void test_table(void)
{
	int named = 0, round_trip = 1;

	for (int nr = -5; nr < 600; nr++) {
		const char *name = sysent_name(nr);

		if (!name)
			continue;
		named++;
		if (sysent_lookup(name) != nr) {
			diag("%d %s does not round-trip", nr, name);
			round_trip = 0;
		}
	}
	/* 0..334 and 424..462: 335 + 39. */
	check_int(named, 374);
	ok(round_trip, "every name looks up to its number");
	check_str(sysent_name(0), "read");
	check_str(sysent_name(9), "mmap");
	check_str(sysent_name(__NR_mmap), "mmap");
	check_str(sysent_name(__NR_set_mempolicy_home_node), "set_mempolicy_home_node");
	check_str(sysent_name(451), "cachestat");
	check_str(sysent_name(NR_map_shadow_stack), "map_shadow_stack");
	check_str(sysent_name(461), "lsm_list_modules");
	check_str(sysent_name(NR_mseal), "mseal");
	check_str(sysent_name(335), NULL);
	check_str(sysent_name(423), NULL);
	check_str(sysent_name(463), NULL);
	check_str(sysent_name(-1), NULL);
	check_int(sysent_lookup("mseal"), 462);
	check_int(sysent_lookup("exit_group"), __NR_exit_group);
	check_int(sysent_lookup("mma"), -1);
	check_int(sysent_lookup("mmapx"), -1);
	check_int(sysent_lookup(""), -1);
	check_int(sysent_lookup(NULL), -1);
}

/* The recorded rows of the table, in number order: the list the tests iterate. */
static int recorded[SYSENT_NR_END];
static int n_recorded;

static void load_recorded(void)
{
	for (int nr = 0; nr < SYSENT_NR_END; nr++)
		if (sysent_is_recorded(nr))
			recorded[n_recorded++] = nr;
}

static int count_flag(unsigned flag)
{
	int n = 0;

	for (int nr = 0; nr < SYSENT_NR_END; nr++)
		n += (sysent_flags(nr) & flag) != 0;
	return n;
}

static void test_recorded(void)
{
	int named = 1, one_class = 1, shaped = 1, rendered = 1;
	uint64_t args[6] = { 0 };

	/* The rows themselves: what lib/syscallent.h promises of each (sysent.h). */
	for (int nr = 0; nr < SYSENT_NR_END; nr++) {
		const struct sysent *s = sysent_get(nr);
		unsigned f = s ? s->flags : 0, cls = f & (SF_MEMORY | SF_PROCESS | SF_FILE);

		if (s && (!s->name || sysent_lookup(s->name) != nr))
			named = 0;
		if (!s || !(f & SF_RECORDED)) {
			if (cls || (s && s->model))
				one_class = 0;
			continue;
		}
		if (cls != SF_MEMORY && cls != SF_PROCESS && cls != SF_FILE) {
			diag("%s: not in exactly one class", s->name);
			one_class = 0;
		}
		/* model functions only for memory rows; exits never return; the flags that
		 * make the daemon read something belong to one class each */
		if (s->nargs > 6 || (s->int_args >> s->nargs) || (s->model && cls != SF_MEMORY) ||
		    (!(f & SF_EXIT) != (s->ret != RET_NONE)) ||
		    ((f & (SF_FILE_ID | SF_VMA_NAME | SF_ORDERED)) && cls != SF_MEMORY) ||
		    ((f & (SF_EXEC | SF_CLONE | SF_EXIT)) && cls != SF_PROCESS) ||
		    ((f & SF_NAMES) && cls != SF_FILE)) {
			diag("%s: flags %#x, nargs %u, int_args %#x", s->name, f, s->nargs,
			     s->int_args);
			shaped = 0;
		}
	}
	/*
	 * The recorded set as the design lists it, written apart from the table, in three
	 * classes: a row that gains or loses a flag by mistake shows here.
	 */
	static const int memory[] = {
		__NR_mmap, __NR_munmap, __NR_mremap, __NR_brk, __NR_mprotect, __NR_pkey_mprotect,
		__NR_madvise, __NR_mlock, __NR_mlock2, __NR_munlock, __NR_mlockall,
		__NR_munlockall, NR_mseal, __NR_shmat, __NR_shmdt, __NR_mbind, __NR_io_setup,
		__NR_io_destroy, NR_map_shadow_stack, __NR_remap_file_pages, __NR_prctl,
	};
	static const int process[] = {
		__NR_clone, __NR_clone3, __NR_fork, __NR_vfork, __NR_execve, __NR_execveat,
		__NR_exit, __NR_exit_group,
	};
	static const int file[] = {
		__NR_unlink, __NR_unlinkat, __NR_rename, __NR_renameat, __NR_renameat2,
	};
	int listed = 1;
	for (size_t i = 0; i < sizeof(memory) / sizeof(memory[0]); i++)
		listed &= (sysent_flags(memory[i]) & (SF_RECORDED | SF_MEMORY)) ==
			  (SF_RECORDED | SF_MEMORY);
	for (size_t i = 0; i < sizeof(process) / sizeof(process[0]); i++)
		listed &= (sysent_flags(process[i]) & (SF_RECORDED | SF_PROCESS)) ==
			  (SF_RECORDED | SF_PROCESS);
	for (size_t i = 0; i < sizeof(file) / sizeof(file[0]); i++)
		listed &= (sysent_flags(file[i]) & (SF_RECORDED | SF_FILE)) ==
			  (SF_RECORDED | SF_FILE);
	ok(listed, "the recorded set is the one the design lists, each in its class");
	check_int(count_flag(SF_MEMORY), (int)(sizeof(memory) / sizeof(memory[0])));
	check_int(count_flag(SF_PROCESS), (int)(sizeof(process) / sizeof(process[0])));
	check_int(count_flag(SF_FILE), (int)(sizeof(file) / sizeof(file[0])));
	ok(named, "every row is named, and its name looks it up");
	ok(one_class, "every recorded row is in one class, and only recorded rows are");
	ok(shaped, "every recorded row's arguments, result and flags agree");
	check_int(n_recorded, count_flag(SF_MEMORY) + count_flag(SF_PROCESS) + count_flag(SF_FILE));
	ok(sysent_is_recorded(__NR_mmap) && sysent_is_recorded(__NR_execve) &&
	   sysent_is_recorded(__NR_unlink) && sysent_is_recorded(NR_mseal),
	   "mmap, execve, unlink and mseal are recorded");
	ok(!sysent_is_recorded(__NR_read), "read is not recorded");
	ok(!sysent_is_recorded(-1) && !sysent_is_recorded(9999), "out of range is not recorded");
	ok(!sysent_get(335) && !sysent_get(SYSENT_NR_END) && sysent_flags(-1) == 0,
	   "numbers without a syscall have no row");
	ok(!sysent_is_recorded(__NR_ptrace) && (sysent_flags(__NR_ptrace) & SF_PTRACE_RULE),
	   "ptrace is stopped by run's filter (tracer requests) but not recorded by attach");
	ok(sysent_flags(__NR_munmap) & SF_ORDERED, "munmap is ordered among map changes");
	ok(!(sysent_flags(__NR_execve) & SF_ORDERED) && (sysent_flags(__NR_execve) & SF_EXEC),
	   "execve is not ordered and reads its path");
	args[0] = PR_SET_VMA;
	ok(sysent_records(__NR_prctl, args), "prctl(PR_SET_VMA) is recorded");
	args[0] = PR_SET_NAME;
	ok(!sysent_records(__NR_prctl, args), "prctl(PR_SET_NAME) is not");
	args[0] = PTRACE_TRACEME_;
	ok(!sysent_records(__NR_ptrace, args) && sysent_records(__NR_mmap, args),
	   "attach records mmap, not ptrace");

	/* Every recorded syscall renders (and the decoder table agrees with the list). */
	for (int i = 0; i < n_recorded; i++) {
		struct event ev = SC(recorded[i], 0);
		char *text = render(event_print, &ev), *json = render(event_print_json, &ev);
		char prefix[64];

		snprintf(prefix, sizeof(prefix), "[1234] %s(", sysent_name(ev.nr));
		if (strncmp(text, prefix, strlen(prefix)) != 0 || !strchr(text, '\n') ||
		    strncmp(json, "{\"seq\":", 7) != 0) {
			diag("rendering %s: %s %s", sysent_name(ev.nr), text, json);
			rendered = 0;
		}
		free(text);
		free(json);
	}
	ok(rendered, "every recorded syscall renders as text and JSON");
}

static void test_parse_list(void)
{
	const char *bad = NULL;
	int dummy, *nrs = NULL, *mem = NULL, *proc = NULL, *both = NULL, *sentinel = &dummy;
	int n, nmem, nproc, nboth, disjoint = 1, same = 1;

	n = sysent_parse_list("munmap,mmap,mmap", &nrs, &bad);
	check_int(n, 2);
	if (n == 2) {
		check_int(nrs[0], __NR_mmap);
		check_int(nrs[1], __NR_munmap);
	}
	free(nrs);

	n = sysent_parse_list("read", &nrs, &bad);
	check_int(n, 1);
	free(nrs);

	nmem = sysent_parse_list("%memory", &mem, &bad);
	nproc = sysent_parse_list("%process", &proc, &bad);
	nboth = sysent_parse_list("%process,%memory,%file", &both, &bad);
	check_int(nmem, count_flag(SF_MEMORY));
	check_int(nproc, count_flag(SF_PROCESS));
	n = sysent_parse_list("%file", &nrs, &bad);
	check_int(n, count_flag(SF_FILE));
	free(nrs);
	check_int(nboth, n_recorded);
	for (int i = 0; i < nmem; i++)
		for (int j = 0; j < nproc; j++)
			if (mem[i] == proc[j])
				disjoint = 0;
	for (int i = 0; i < nboth && nboth == n_recorded; i++)
		if (both[i] != recorded[i])
			same = 0;
	ok(disjoint, "%%memory and %%process do not overlap");
	ok(same && nboth == n_recorded, "%%memory + %%process + %%file = the recorded rows");
	free(mem);
	free(proc);
	free(both);

	n = sysent_parse_list("all", &nrs, &bad);
	check_int(n, 374);
	free(nrs);

	nrs = sentinel;
	check_int(sysent_parse_list("mmap,bogus,munmap", &nrs, &bad), -EINVAL);
	check_str(bad, "bogus");
	ok(nrs == sentinel, "ret_nrs untouched on failure");
	check_int(sysent_parse_list("", &nrs, &bad), -EINVAL);
	check_str(bad, "");
	check_int(sysent_parse_list("mmap,", &nrs, &bad), -EINVAL);
	check_str(bad, "");
	check_int(sysent_parse_list("%mem", &nrs, &bad), -EINVAL);
	check_str(bad, "%mem");
	check_int(sysent_parse_list("MMAP", &nrs, NULL), -EINVAL);
	check_int(sysent_parse_list("mmap,xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				    "xxxxxxxxxxxxxxxxx", &nrs, &bad), -EINVAL);
	check_int(strlen(bad), 63);
	ok(nrs == sentinel, "ret_nrs untouched on failure");
}

static void test_names(void)
{
	int named = 0;

	for (int e = 1; e < 200; e++)
		named += errno_name(e) != NULL;
	check_int(named, 131); /* 1..133 without 41 and 58 */
	check_str(errno_name(ENOMEM), "ENOMEM");
	check_str(errno_name(EPERM), "EPERM");
	check_str(errno_name(EHWPOISON), "EHWPOISON");
	check_str(errno_name(EAGAIN), "EAGAIN");
	check_str(errno_name(41), NULL);
	check_str(errno_name(0), NULL);
	check_str(errno_name(-12), NULL);
	check_str(errno_name(512), "ERESTARTSYS");
	check_str(errno_name(516), "ERESTART_RESTARTBLOCK");
	check_str(errno_name(520), NULL);
	check_str(errno_name(531), "ENOGRACE");
	check_str(errno_name(532), NULL);

	check_str(signal_name(SIGKILL), "SIGKILL");
	check_str(signal_name(SIGCHLD), "SIGCHLD");
	check_str(signal_name(SIGSYS), "SIGSYS");
	check_str(signal_name(32), "SIGRT_0");
	check_str(signal_name(64), "SIGRT_32");
	check_str(signal_name(0), NULL);
	check_str(signal_name(65), NULL);
}

static void test_text_mm(void)
{
	struct event ev;

	check_text(SC(__NR_mmap, ADDR, 0, 65536, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, NEG(-1), 0),
		   "[1234] mmap(NULL, 65536, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, "
		   "0) = 0x7f3b2c000000\n");

	ev = SC(__NR_mmap, ADDR, 0, 8192, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_DENYWRITE,
		3, 0x1000);
	ev.path = "/usr/lib/x86_64-linux-gnu/libc.so.6";
	check_text(ev, "[1234] mmap(NULL, 8192, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_DENYWRITE, "
		       "3</usr/lib/x86_64-linux-gnu/libc.so.6>, 0x1000) = 0x7f3b2c000000\n");

	ev = SC(__NR_mmap, ADDR, 0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		NEG(-1), 0);
	ev.path = "/dev/zero (deleted)";
	check_text(ev, "[1234] mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS, "
		       "-1</dev/zero (deleted)>, 0) = 0x7f3b2c000000\n");

	check_text(SC(__NR_mmap, -ENOMEM, 0, 2 << 20, PROT_READ,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, NEG(-1), 0),
		   "[1234] mmap(NULL, 2097152, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|"
		   "MAP_HUGE_2MB, -1, 0) = -1 ENOMEM (Cannot allocate memory)\n");

	check_text(SC(__NR_mmap, -EINVAL, 0, 1 << 30, PROT_READ,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (22 << MAP_HUGE_SHIFT), NEG(-1),
		      0),
		   "[1234] mmap(NULL, 1073741824, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|"
		   "22<<MAP_HUGE_SHIFT, -1, 0) = -1 EINVAL (Invalid argument)\n");

	check_text(SC(__NR_mmap, -EBADF, 0, 4096, PROT_READ,
		      MAP_SHARED_VALIDATE | MAP_SYNC | 0x800000, 3, 4096),
		   "[1234] mmap(NULL, 4096, PROT_READ, MAP_SHARED_VALIDATE|MAP_SYNC|0x800000, 3, "
		   "0x1000) = -1 EBADF (Bad file descriptor)\n");

	check_text(SC(__NR_mmap, -EINVAL, ADDR, 4096, 0,
		      0x4 | MAP_ANONYMOUS | MAP_32BIT | MAP_FIXED_NOREPLACE | MAP_UNINITIALIZED,
		      NEG(-1), 0),
		   "[1234] mmap(0x7f3b2c000000, 4096, PROT_NONE, 0x4|MAP_ANONYMOUS|MAP_32BIT|"
		   "MAP_FIXED_NOREPLACE|MAP_UNINITIALIZED, -1, 0) = -1 EINVAL (Invalid "
		   "argument)\n");

	check_text(SC(__NR_mmap, ADDR, ADDR, 1 << 20,
		      PROT_READ | PROT_WRITE | PROT_GROWSDOWN | 0x100000,
		      MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_LOCKED |
			      MAP_NORESERVE | MAP_POPULATE | MAP_STACK,
		      NEG(-1), 0),
		   "[1234] mmap(0x7f3b2c000000, 1048576, PROT_READ|PROT_WRITE|PROT_GROWSDOWN|"
		   "0x100000, MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS|MAP_GROWSDOWN|MAP_LOCKED|"
		   "MAP_NORESERVE|MAP_POPULATE|MAP_STACK, -1, 0) = 0x7f3b2c000000\n");

	check_text(SC(__NR_munmap, -EINVAL, ADDR, 65536),
		   "[1234] munmap(0x7f3b2c000000, 65536) = -1 EINVAL (Invalid argument)\n");
	check_text(SC(__NR_munmap, 0, 0, 1), "[1234] munmap(NULL, 1) = 0\n");

	check_text(SC(__NR_mremap, ADDR + 0x40000, ADDR, 4096, 8192,
		      MREMAP_MAYMOVE | MREMAP_FIXED, ADDR + 0x40000),
		   "[1234] mremap(0x7f3b2c000000, 4096, 8192, MREMAP_MAYMOVE|MREMAP_FIXED, "
		   "0x7f3b2c040000) = 0x7f3b2c040000\n");
	/* Without MREMAP_FIXED the fifth register is not an argument. */
	check_text(SC(__NR_mremap, ADDR + 0x80000, ADDR, 4096, 4096,
		      MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0xdead),
		   "[1234] mremap(0x7f3b2c000000, 4096, 4096, MREMAP_MAYMOVE|MREMAP_DONTUNMAP) = "
		   "0x7f3b2c080000\n");
	check_text(SC(__NR_mremap, -ENOMEM, ADDR, 4096, 8192, 0),
		   "[1234] mremap(0x7f3b2c000000, 4096, 8192, 0) = -1 ENOMEM (Cannot allocate "
		   "memory)\n");

	check_text(SC(__NR_brk, 0x55d0c0de1000, 0), "[1234] brk(NULL) = 0x55d0c0de1000\n");
	check_text(SC(__NR_brk, 0x55d0c0e02000, 0x55d0c0e02000),
		   "[1234] brk(0x55d0c0e02000) = 0x55d0c0e02000\n");

	check_text(SC(__NR_mprotect, 0, ADDR, 4096, PROT_NONE),
		   "[1234] mprotect(0x7f3b2c000000, 4096, PROT_NONE) = 0\n");
	check_text(SC(__NR_pkey_mprotect, 0, ADDR, 4096, PROT_READ, NEG(-1)),
		   "[1234] pkey_mprotect(0x7f3b2c000000, 4096, PROT_READ, -1) = 0\n");

	check_text(SC(__NR_madvise, 0, ADDR, 8192, MADV_DONTFORK),
		   "[1234] madvise(0x7f3b2c000000, 8192, MADV_DONTFORK) = 0\n");
	check_text(SC(__NR_madvise, 0, ADDR, 8192, MADV_WIPEONFORK),
		   "[1234] madvise(0x7f3b2c000000, 8192, MADV_WIPEONFORK) = 0\n");
	check_text(SC(__NR_madvise, 0, ADDR, 8192, MADV_COLLAPSE),
		   "[1234] madvise(0x7f3b2c000000, 8192, MADV_COLLAPSE) = 0\n");
	check_text(SC(__NR_madvise, -ENOMEM, ADDR, 8192, MADV_GUARD_INSTALL_),
		   "[1234] madvise(0x7f3b2c000000, 8192, MADV_GUARD_INSTALL) = -1 ENOMEM "
		   "(Cannot allocate memory)\n");
	check_text(SC(__NR_madvise, -EINVAL, ADDR, 8192, 77),
		   "[1234] madvise(0x7f3b2c000000, 8192, 0x4d) = -1 EINVAL (Invalid argument)\n");

	check_text(SC(__NR_mlock, 0, ADDR, 4096), "[1234] mlock(0x7f3b2c000000, 4096) = 0\n");
	check_text(SC(__NR_munlock, 0, ADDR, 4096), "[1234] munlock(0x7f3b2c000000, 4096) = 0\n");
	check_text(SC(__NR_mlock2, 0, ADDR, 4096, MLOCK_ONFAULT),
		   "[1234] mlock2(0x7f3b2c000000, 4096, MLOCK_ONFAULT) = 0\n");
	check_text(SC(__NR_mlockall, 0, MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT),
		   "[1234] mlockall(MCL_CURRENT|MCL_FUTURE|MCL_ONFAULT) = 0\n");
	check_text(SC(__NR_munlockall, 0), "[1234] munlockall() = 0\n");
	check_text(SC(NR_mseal, -EPERM, ADDR, 4096, 0),
		   "[1234] mseal(0x7f3b2c000000, 4096, 0) = -1 EPERM (Operation not permitted)\n");

	ev = SC(__NR_shmat, ADDR, 5, 0, SHM_RDONLY | SHM_RND);
	ev.path = "/SYSV0000162e (deleted)";
	check_text(ev, "[1234] shmat(5</SYSV0000162e (deleted)>, NULL, SHM_RDONLY|SHM_RND) = "
		       "0x7f3b2c000000\n");
	check_text(SC(__NR_shmat, -EINVAL, 5, ADDR, SHM_REMAP | SHM_EXEC | 0x1),
		   "[1234] shmat(5, 0x7f3b2c000000, SHM_REMAP|SHM_EXEC|0x1) = -1 EINVAL "
		   "(Invalid argument)\n");
	check_text(SC(__NR_shmdt, 0, ADDR), "[1234] shmdt(0x7f3b2c000000) = 0\n");

	ev = SC(__NR_prctl, 0, PR_SET_VMA, PR_SET_VMA_ANON_NAME, ADDR, 4096, 0x55d0c0de2004);
	check_text(ev, "[1234] prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, 0x7f3b2c000000, 4096, "
		       "0x55d0c0de2004) = 0\n");
	ev.path = "jit heap";
	check_text(ev, "[1234] prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, 0x7f3b2c000000, 4096, "
		       "\"jit heap\") = 0\n");
	check_text(SC(__NR_prctl, 0, PR_SET_NAME, 0x55d0c0de2004),
		   "[1234] prctl(15, 0x55d0c0de2004, 0, 0, 0) = 0\n");

	check_text(SC(__NR_mbind, 0, ADDR, 8192, 2, 0x7ffd00001000, 65, 0),
		   "[1234] mbind(0x7f3b2c000000, 0x2000, 0x2, 0x7ffd00001000, 0x41, 0) = 0\n");
	check_text(SC(__NR_io_setup, 0, 128, 0x7ffd00001000),
		   "[1234] io_setup(0x80, 0x7ffd00001000) = 0\n");
	check_text(SC(NR_map_shadow_stack, ADDR, 0, 0x1000, 1),
		   "[1234] map_shadow_stack(0, 0x1000, 0x1) = 0x7f3b2c000000\n");
}

static void test_text_process(void)
{
	struct event ev;

	ev = SC(__NR_clone, 1240,
		CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
			CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID,
		0x7f3b2bfff990, 0x7f3b2c0009d0, 0x7f3b2c0009d0, 0x7f3b2c0006c0);
	ev.tid = 1239;
	check_text(ev, "[1234/1239] clone(child_stack=0x7f3b2bfff990, flags=CLONE_VM|CLONE_FS|"
		       "CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|"
		       "CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, parent_tid=0x7f3b2c0009d0, "
		       "tls=0x7f3b2c0006c0, child_tidptr=0x7f3b2c0009d0) = 1240\n");
	check_text(SC(__NR_clone, 1235, CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID | SIGCHLD, 0,
		      0, 0x7f3b2c000a10, 0),
		   "[1234] clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|"
		   "SIGCHLD, child_tidptr=0x7f3b2c000a10) = 1235\n");
	check_text(SC(__NR_clone, -EAGAIN, 0, 0),
		   "[1234] clone(child_stack=NULL, flags=0) = -1 EAGAIN (Resource temporarily "
		   "unavailable)\n");
	check_text(SC(__NR_clone3, 1236, 0x7ffd1c2e4f60, 88),
		   "[1234] clone3(0x7ffd1c2e4f60, 88) = 1236\n");
	check_text(SC(__NR_fork, 1237), "[1234] fork() = 1237\n");
	check_text(SC(__NR_vfork, 1238), "[1234] vfork() = 1238\n");

	ev = SC(__NR_execve, 0, 0x55d0c0de2000, 0x7ffd1c2e5000, 0x7ffd1c2e5100);
	ev.path = "/usr/bin/python3";
	ev.argv = "[\"python3\",\"-c\",\"print(42)\"]";
	check_text(ev, "[1234] execve(\"/usr/bin/python3\", [\"python3\", \"-c\", \"print(42)\"], "
		       "...) = 0\n");
	/* JSON escapes re-printed as C escapes; \u00ff is the raw byte 0xff. */
	ev.path = "/tmp/a b\"c";
	ev.argv = " [ \"a\\tb\" , \"q\\\"\\\\\\n\", \"\\u00ff\\u001b\", \"\xc3\xa9\\u00e9\", "
		  "\"\\ud83d\\ude00\", \"\" ] ";
	check_text(ev, "[1234] execve(\"/tmp/a b\\\"c\", [\"a\\tb\", \"q\\\"\\\\\\n\", "
		       "\"\\377\\033\", \"\xc3\xa9\\351\", \"\xf0\x9f\x98\x80\", \"\"], ...) "
		       "= 0\n");
	ev.path = NULL;
	ev.argv = "[\"unterminated]";
	check_text(ev, "[1234] execve(0x55d0c0de2000, 0x7ffd1c2e5000, ...) = 0\n");
	ev.argv = "[]";
	check_text(ev, "[1234] execve(0x55d0c0de2000, [], ...) = 0\n");

	ev = SC(__NR_execveat, -ENOENT, NEG(AT_FDCWD), 0x55d0c0de2000, 0x7ffd1c2e5000,
		0x7ffd1c2e5100, AT_EMPTY_PATH);
	ev.path = "/nonexistent\n";
	ev.argv = "[\"x\"]";
	check_text(ev, "[1234] execveat(AT_FDCWD, \"/nonexistent\\n\", [\"x\"], ..., "
		       "AT_EMPTY_PATH) = -1 ENOENT (No such file or directory)\n");

	check_text(SC(__NR_exit_group, 0, 0), "[1234] exit_group(0) = ?\n");
	check_text(SC(__NR_exit, 0, 0xffffffff), "[1234] exit(-1) = ?\n");

	check_text(EXIT_EV(0), "[1234] +++ exited with 0 +++\n");
	check_text(EXIT_EV(3 << 8), "[1234] +++ exited with 3 +++\n");
	check_text(EXIT_EV(SIGKILL), "[1234] +++ killed by SIGKILL +++\n");
	check_text(EXIT_EV(SIGSEGV | 0x80), "[1234] +++ killed by SIGSEGV (core dumped) +++\n");
	check_text(EXIT_EV(34), "[1234] +++ killed by SIGRT_2 +++\n");
}

static void test_text_other(void)
{
	struct event ev;

	/* Outside the recorded set: all six registers, raw. */
	check_text(SC(__NR_read, 5, 3, 0x7ffd1c2e5000, 4096),
		   "[1234] read(0x3, 0x7ffd1c2e5000, 0x1000, 0, 0, 0) = 5\n");
	check_text(SC(400, -ENOSYS),
		   "[1234] syscall_0x190(0, 0, 0, 0, 0, 0) = -1 ENOSYS (Function not "
		   "implemented)\n");
	check_text(SC(__NR_munmap, -512, ADDR, 4096),
		   "[1234] munmap(0x7f3b2c000000, 4096) = ? ERESTARTSYS (Interrupted by a signal, "
		   "restarted if SA_RESTART)\n");
	check_text(SC(__NR_munmap, -4000, ADDR, 4096),
		   "[1234] munmap(0x7f3b2c000000, 4096) = -1 (errno 4000)\n");
	ev = SC(__NR_munmap, INT64_MIN, ADDR, 4096);
	check_text(ev, "[1234] munmap(0x7f3b2c000000, 4096) = ?\n");
}

static void test_json(void)
{
	struct event ev;

	ev = SC(__NR_mmap, ADDR, 0, 8192, 3, 34, NEG(-1), 0);
	ev.seq = 3;
	ev.time_ns = 8123456789;
	ev.mm = 1;
	ev.dur_ns = 21000;
	check_json(ev, "{\"seq\":3,\"time_ns\":8123456789,\"pid\":1234,\"tid\":1234,\"mm\":1,"
		       "\"syscall\":\"mmap\",\"nr\":9,\"args\":[0,8192,3,34,-1,0],"
		       "\"ret\":139892117995520,\"dur_ns\":21000}\n");

	/* An int argument's upper register bits are not part of it. */
	ev = SC(__NR_mmap, ADDR, 0, 8192, 1, 2, 0xffffffffULL, 4096);
	ev.path = "/usr/lib/x86_64-linux-gnu/libc.so.6";
	ev.dev = makedev(8, 1);
	ev.ino = 131090;
	check_json(ev, "{\"seq\":0,\"time_ns\":0,\"pid\":1234,\"tid\":1234,\"mm\":0,"
		       "\"syscall\":\"mmap\",\"nr\":9,\"args\":[0,8192,1,2,-1,4096],"
		       "\"ret\":139892117995520,\"dur_ns\":0,"
		       "\"path\":\"/usr/lib/x86_64-linux-gnu/libc.so.6\",\"dev\":\"08:01\","
		       "\"ino\":131090}\n");
	ev.dev = makedev(259, 3);
	ev.path = NULL;
	ev.tid = 1239;
	check_json(ev, "{\"seq\":0,\"time_ns\":0,\"pid\":1234,\"tid\":1239,\"mm\":0,"
		       "\"syscall\":\"mmap\",\"nr\":9,\"args\":[0,8192,1,2,-1,4096],"
		       "\"ret\":139892117995520,\"dur_ns\":0,\"dev\":\"103:03\",\"ino\":131090}\n");

	check_json(SC(__NR_madvise, -EINVAL, ADDR, 4096, 0xffffffff00000004ULL),
		   "{\"seq\":0,\"time_ns\":0,\"pid\":1234,\"tid\":1234,\"mm\":0,"
		   "\"syscall\":\"madvise\",\"nr\":28,\"args\":[139892117995520,4096,4],"
		   "\"ret\":-22,\"errno\":\"EINVAL\",\"dur_ns\":0}\n");
	check_json(SC(__NR_munlockall, -4000),
		   "{\"seq\":0,\"time_ns\":0,\"pid\":1234,\"tid\":1234,\"mm\":0,"
		   "\"syscall\":\"munlockall\",\"nr\":152,\"args\":[],\"ret\":-4000,"
		   "\"errno\":\"4000\",\"dur_ns\":0}\n");
	check_json(SC(__NR_munmap, INT64_MIN, ADDR, 4096),
		   "{\"seq\":0,\"time_ns\":0,\"pid\":1234,\"tid\":1234,\"mm\":0,"
		   "\"syscall\":\"munmap\",\"nr\":11,\"args\":[139892117995520,4096],"
		   "\"ret\":null,\"dur_ns\":0}\n");

	ev = SC(__NR_execve, 0, 0x55d0c0de2000, 0x7ffd1c2e5000, 0x7ffd1c2e5100);
	ev.pid = ev.tid = 1240;
	ev.path = "/usr/bin/python3";
	ev.argv = "[\"python3\",\"-c\",\"print(42)\"]";
	ev.stack_id = 7;
	check_json(ev, "{\"seq\":0,\"time_ns\":0,\"pid\":1240,\"tid\":1240,\"mm\":0,"
		       "\"syscall\":\"execve\",\"nr\":59,\"args\":[94355077341184,140725076250624,"
		       "140725076250880],\"ret\":0,\"dur_ns\":0,\"path\":\"/usr/bin/python3\","
		       "\"argv\":[\"python3\",\"-c\",\"print(42)\"],\"stack_id\":7}\n");
	/* A malformed argv must not break the line. */
	ev.path = NULL;
	ev.stack_id = 0;
	ev.argv = "[\"a\",";
	check_json(ev, "{\"seq\":0,\"time_ns\":0,\"pid\":1240,\"tid\":1240,\"mm\":0,"
		       "\"syscall\":\"execve\",\"nr\":59,\"args\":[94355077341184,140725076250624,"
		       "140725076250880],\"ret\":0,\"dur_ns\":0,\"argv\":\"[\\\"a\\\",\"}\n");

	/* Raw control bytes or invalid UTF-8 are not JSON either. */
	ev.argv = "[\"a\tb\"]";
	check_json(ev, "{\"seq\":0,\"time_ns\":0,\"pid\":1240,\"tid\":1240,\"mm\":0,"
		       "\"syscall\":\"execve\",\"nr\":59,\"args\":[94355077341184,140725076250624,"
		       "140725076250880],\"ret\":0,\"dur_ns\":0,\"argv\":\"[\\\"a\\tb\\\"]\"}\n");
	ev.argv = "[\"\xff\"]";
	check_json(ev, "{\"seq\":0,\"time_ns\":0,\"pid\":1240,\"tid\":1240,\"mm\":0,"
		       "\"syscall\":\"execve\",\"nr\":59,\"args\":[94355077341184,140725076250624,"
		       "140725076250880],\"ret\":0,\"dur_ns\":0,\"argv\":\"[\\\"\\u00ff\\\"]\"}\n");

	check_json(SC(400, 0, 1, 2, 3, 4, 5, 6),
		   "{\"seq\":0,\"time_ns\":0,\"pid\":1234,\"tid\":1234,\"mm\":0,"
		   "\"syscall\":\"syscall_0x190\",\"nr\":400,\"args\":[1,2,3,4,5,6],\"ret\":0,"
		   "\"dur_ns\":0}\n");

	ev = EXIT_EV(1 << 8);
	ev.seq = 9;
	check_json(ev, "{\"seq\":9,\"time_ns\":0,\"pid\":1234,\"tid\":1234,\"mm\":0,"
		       "\"syscall\":\"+exit\",\"status\":256,\"exit_code\":1}\n");
	check_json(EXIT_EV(SIGKILL), "{\"seq\":0,\"time_ns\":0,\"pid\":1234,\"tid\":1234,"
				     "\"mm\":0,\"syscall\":\"+exit\",\"status\":9,"
				     "\"signal\":\"SIGKILL\"}\n");
	check_json(EXIT_EV(SIGSEGV | 0x80), "{\"seq\":0,\"time_ns\":0,\"pid\":1234,\"tid\":1234,"
					    "\"mm\":0,\"syscall\":\"+exit\",\"status\":139,"
					    "\"signal\":\"SIGSEGV\",\"core_dumped\":true}\n");
}

/* +signal events: strace's line plus where and what came of it; the JSON keys. */
static void test_signals(void)
{
	struct event ev = { .pid = 1234, .tid = 1240, .kind = EVENT_SIGNAL, .nr = -1,
			    .seq = 17, .ret = EVENT_SIG_FATAL, .path = "/tmp/a.out",
			    .args = { SIGSEGV, 1, ADDR + 0x10, 0x55d0c4a1e1e9, 0x7ffd1c2e4f60,
				      0x11e9 } };

	ok(signal_is_fault(SIGSEGV) && signal_is_fault(SIGBUS) && signal_is_fault(SIGILL) &&
	   signal_is_fault(SIGFPE) && signal_is_fault(SIGTRAP) && signal_is_fault(SIGSYS),
	   "the six fault signals are recorded");
	ok(!signal_is_fault(SIGKILL) && !signal_is_fault(SIGUSR1) && !signal_is_fault(SIGCHLD) &&
	   !signal_is_fault(SIGABRT), "other signals are not");
	check_str(signal_code_name(SIGSEGV, 2), "SEGV_ACCERR");
	check_str(signal_code_name(SIGBUS, 2), "BUS_ADRERR");
	check_str(signal_code_name(SIGBUS, 3), "BUS_OBJERR");
	check_str(signal_code_name(SIGSEGV, -6), "SI_TKILL");
	check_str(signal_code_name(SIGFPE, 0), "SI_USER");
	check_str(signal_code_name(SIGFPE, 1), "FPE_INTDIV");
	check_str(signal_code_name(SIGSYS, 1), "SYS_SECCOMP");
	ok(signal_code_name(SIGSEGV, 99) == NULL, "an unknown code has no name");
	ok(signal_code_has_addr(SIGSEGV, 1) && !signal_code_has_addr(SIGSEGV, 0) &&
	   !signal_code_has_addr(SIGSEGV, 0x80), "si_addr: for faults, not for sent signals");

	check_text(ev, "[1234/1240] --- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, "
		       "si_addr=0x7f3b2c000010} pc=0x55d0c4a1e1e9 (/tmp/a.out+0x11e9) fatal ---\n");
	check_json(ev, "{\"seq\":17,\"time_ns\":0,\"pid\":1234,\"tid\":1240,\"mm\":0,"
		       "\"syscall\":\"+signal\",\"signal\":\"SIGSEGV\",\"signo\":11,\"si_code\":1,"
		       "\"code\":\"SEGV_MAPERR\",\"addr\":139892117995536,"
		       "\"pc\":94355140501993,\"sp\":140725076250464,\"module_offset\":4585,"
		       "\"outcome\":\"fatal\",\"path\":\"/tmp/a.out\"}\n");
	ev.ret = EVENT_SIG_HANDLED;
	ev.path = NULL;
	ev.tid = 1234;
	ev.args[0] = SIGBUS;
	ev.args[1] = 2;
	check_text(ev, "[1234] --- SIGBUS {si_signo=SIGBUS, si_code=BUS_ADRERR, "
		       "si_addr=0x7f3b2c000010} pc=0x55d0c4a1e1e9 handled ---\n");
	/* A sent signal has no address; an unknown outcome says nothing. */
	ev.ret = EVENT_SIG_UNKNOWN;
	ev.args[0] = SIGSEGV;
	ev.args[1] = (uint64_t)(int64_t)-6;
	check_text(ev, "[1234] --- SIGSEGV {si_signo=SIGSEGV, si_code=SI_TKILL} "
		       "pc=0x55d0c4a1e1e9 ---\n");
	char *json = render(event_print_json, &ev);
	ok(strstr(json, "\"si_code\":-6,\"code\":\"SI_TKILL\"") &&
	   strstr(json, "\"outcome\":\"unknown\""), "JSON: a negative si_code, outcome unknown");
	free(json);
}

static void test_json_escaping(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", "\"\"" },
		{ "plain/path.so", "\"plain/path.so\"" },
		{ "q\"b\\s/", "\"q\\\"b\\\\s/\"" },
		{ "\b\f\n\r\t\x01\x1f\x7f", "\"\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f\"" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		  "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"" },
		/* Invalid UTF-8, byte by byte: stray, overlong, surrogate, > U+10FFFF, cut. */
		{ "\xff\x80", "\"\\u00ff\\u0080\"" },
		{ "\xc0\xaf", "\"\\u00c0\\u00af\"" },
		{ "\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\"" },
		{ "\xf4\x90\x80\x80", "\"\\u00f4\\u0090\\u0080\\u0080\"" },
		{ "a\xe2\x82", "\"a\\u00e2\\u0082\"" },
		{ "\xe2\x82x", "\"\\u00e2\\u0082x\"" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = render_json_string(cases[i].in);

		check_str(got, cases[i].out);
		free(got);
	}
}

/* Bytes -> json_print_string -> argv JSON -> event_print gives the bytes back, escaped. */
static void test_argv_round_trip(void)
{
	struct event ev = SC(__NR_execve, 0, 1, 2, 3);
	char *arg = render_json_string("\x01\xff\xc3\xa9\\\"x"), *json;

	if (asprintf(&json, "[%s]", arg) < 0)
		exit(2);
	ev.argv = json;
	check_text(ev, "[1234] execve(0x1, [\"\\001\\377\xc3\xa9\\\\\\\"x\"], ...) = 0\n");
	free(arg);
	free(json);
}

/*
 * stresc_name: names as /proc/PID/maps shows them, safe for a terminal (a newline as
 * \012, ESC, DEL, C1 and invalid UTF-8 in octal, a backslash as is), cut in a small
 * buffer before an escape or a character that does not fit, never inside one.
 */
static void test_name_escaping(void)
{
	static const struct {
		const char *in, *out;
		size_t size;
	} cases[] = {
		{ "/usr/lib/libc.so.6", "/usr/lib/libc.so.6", 64 },
		{ "a\nb", "a\\012b", 64 },
		{ "x\x1b[31my\x7f", "x\\033[31my\\177", 64 },
		{ "back\\slash \"q\"", "back\\slash \"q\"", 64 },
		{ "caf\xc3\xa9\xc2\x9b\xff", "caf\xc3\xa9\\302\\233\\377", 64 },
		{ "ab\ncd", "ab", 6 },         /* "ab\012" needs 7 bytes with its NUL */
		{ "ab\ncd", "ab\\012", 7 },
		{ "a\xe2\x82\xac", "a", 4 }, /* the euro sign whole or not at all */
		{ "abc", "", 1 },
	};
	char buf[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = stresc_name(buf, cases[i].size, cases[i].in);

		check_str(buf, cases[i].out);
		check_int((long)n, (long)strlen(cases[i].out));
	}
	check_int((long)stresc_name(buf, 0, "abc"), 0);
}

/* ---- effects: what the daemon reads of a row instead of knowing syscalls by number ---- */

#define ADDR2 0x7f3b2d000000ULL

static struct sysent_effects effects_of(struct event ev, uint64_t shm_size)
{
	struct sysent_effects e;

	sysent_effects(&ev, shm_size, &e);
	return e;
}

#define check_range(r, lo_, hi_)                                                            \
	do {                                                                                \
		check_int((r).lo, lo_);                                                     \
		check_int((r).hi, hi_);                                                     \
	} while (0)

/* Nothing but the default: no range, the whole map if unfinished, nothing to read. */
static bool effects_none(const struct sysent_effects *e)
{
	static const struct sys_range empty;

	return e->unfinished_all && !e->has_needs_free && !e->has_frees && !e->result_file &&
	       !e->result_anon && !e->result_size && e->shared_fd == -1 && !e->clone_flags &&
	       !e->clone_args && !e->n_paths &&
	       !memcmp(&e->touched[0], &empty, sizeof(empty)) &&
	       !memcmp(&e->touched[1], &empty, sizeof(empty));
}

static void test_effects_mem(void)
{
	struct sysent_effects e;

	/* mmap(NULL, 5000, ..., MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ADDR */
	e = effects_of(SC(__NR_mmap, ADDR, 0, 5000, 3, MAP_PRIVATE | MAP_ANONYMOUS, NEG(-1), 0), 0);
	check_range(e.touched[0], 0x7f3b2c000000, 0x7f3b2c002000);
	ok(e.has_needs_free, "mmap without MAP_FIXED found its pages free");
	check_range(e.needs_free, 0x7f3b2c000000, 0x7f3b2c002000);
	ok(!e.has_frees && e.unfinished_all && !e.result_file && e.shared_fd == -1,
	   "private anonymous mmap: frees nothing, unfinished anywhere, no file");
	/* MAP_FIXED: no free range needed; unfinished, its (rounded) pages */
	e = effects_of(SC(__NR_mmap, ADDR + 0x10, ADDR + 0x10, 4096, 3,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NEG(-1), 0), 0);
	ok(!e.has_needs_free && !e.unfinished_all, "MAP_FIXED replaces: nothing must be free");
	check_range(e.unfinished, 0x7f3b2c000000, 0x7f3b2c002000);
	/* a MAP_SHARED file: its file is asked, and the mode of fd 3 */
	e = effects_of(SC(__NR_mmap, ADDR, 0, 4096, 3, MAP_SHARED, 3, 0), 0);
	ok(e.result_file && !e.result_anon && e.shared_fd == 3, "shared file mmap: file, fd 3");
	e = effects_of(SC(__NR_mmap, ADDR, 0, 4096, 1, MAP_PRIVATE, 3, 0), 0);
	ok(e.result_file && !e.result_anon && e.shared_fd == -1, "private file mmap: file, no fd");
	e = effects_of(SC(__NR_mmap, ADDR, 0, 4096, 3, MAP_SHARED | MAP_ANONYMOUS, NEG(-1), 0), 0);
	ok(e.result_file && e.result_anon && e.shared_fd == -1,
	   "shared anonymous mmap: a shmem file, not one to note");
	e = effects_of(SC(__NR_mmap, -ENOMEM, 0, 4096, 3, MAP_SHARED, 3, 0), 0);
	ok(!e.has_needs_free && !e.result_file && e.shared_fd == -1 && e.touched[0].hi == 0,
	   "a failed mmap made nothing");
	e = effects_of(SC(__NR_mmap, INT64_MIN, 0, 4096, 3, MAP_SHARED, 3, 0), 0);
	ok(!e.has_needs_free && !e.result_file && e.unfinished_all,
	   "an unfinished mmap: anywhere");

	/* munmap(ADDR, 4097) = 0: two pages freed */
	e = effects_of(SC(__NR_munmap, 0, ADDR, 4097), 0);
	check_range(e.touched[0], 0x7f3b2c000000, 0x7f3b2c002000);
	ok(e.has_frees && !e.has_needs_free && !e.unfinished_all, "munmap frees its range");
	check_range(e.frees, 0x7f3b2c000000, 0x7f3b2c002000);
	check_range(e.unfinished, 0x7f3b2c000000, 0x7f3b2c002000);
	e = effects_of(SC(__NR_munmap, -EINVAL, ADDR, 4097), 0);
	ok(!e.has_frees && e.touched[0].hi == 0x7f3b2c002000,
	   "a failed munmap frees nothing, but names its range");

	/* mremap grown in place: the tail was free */
	e = effects_of(SC(__NR_mremap, ADDR, ADDR, 4096, 12288, MREMAP_MAYMOVE), 0);
	ok(e.has_needs_free && !e.has_frees && e.unfinished_all, "mremap grown in place");
	check_range(e.needs_free, 0x7f3b2c001000, 0x7f3b2c003000);
	check_range(e.touched[0], 0x7f3b2c000000, 0x7f3b2c003000);
	check_range(e.touched[1], 0x7f3b2c000000, 0x7f3b2c001000);
	/* shrunk in place: the tail goes */
	e = effects_of(SC(__NR_mremap, ADDR, ADDR, 12288, 4096, 0), 0);
	ok(!e.has_needs_free && e.has_frees, "mremap shrunk in place frees its tail");
	check_range(e.frees, 0x7f3b2c001000, 0x7f3b2c003000);
	/* shrunk within its last page: an empty range, which order.c compares as it is */
	e = effects_of(SC(__NR_mremap, ADDR, ADDR, 5000, 4097, 0), 0);
	ok(e.has_frees, "mremap shrunk within a page");
	check_range(e.frees, 0x7f3b2c002000, 0x7f3b2c002000);
	/* moved: the new range was free, the old one goes */
	e = effects_of(SC(__NR_mremap, ADDR2, ADDR, 8192, 16384, MREMAP_MAYMOVE), 0);
	ok(e.has_needs_free && e.has_frees, "mremap moved");
	check_range(e.needs_free, 0x7f3b2d000000, 0x7f3b2d004000);
	check_range(e.frees, 0x7f3b2c000000, 0x7f3b2c002000);
	check_range(e.touched[0], 0x7f3b2d000000, 0x7f3b2d004000);
	e = effects_of(SC(__NR_mremap, ADDR2, ADDR, 8192, 16384, MREMAP_MAYMOVE | MREMAP_FIXED,
			  ADDR2), 0);
	ok(!e.has_needs_free && e.has_frees, "MREMAP_FIXED replaces: nothing must be free");
	e = effects_of(SC(__NR_mremap, -ENOMEM, ADDR, 8192, 16384, 0), 0);
	ok(!e.has_needs_free && !e.has_frees && e.touched[0].hi == 0 &&
	   e.touched[1].hi == 0x7f3b2c002000, "a failed mremap names its old range only");

	/* shmat: the segment's size, once known */
	e = effects_of(SC(__NR_shmat, ADDR, 5, 0, 0), 0x10000);
	ok(e.has_needs_free && e.result_file && e.result_size && !e.result_anon,
	   "shmat found its segment's pages free, and its file and size are asked");
	check_range(e.needs_free, 0x7f3b2c000000, 0x7f3b2c010000);
	e = effects_of(SC(__NR_shmat, ADDR, 5, 0, 0), 0);
	ok(!e.has_needs_free && e.result_size, "shmat of an unknown size: nothing said free");
	e = effects_of(SC(__NR_shmat, ADDR, 5, ADDR, SHM_REMAP), 0x10000);
	ok(!e.has_needs_free, "shmat SHM_REMAP at an address replaces: nothing must be free");
	e = effects_of(SC(__NR_shmat, ADDR, 5, 0, SHM_REMAP), 0x10000);
	ok(e.has_needs_free, "SHM_REMAP without an address is ignored");
	/* shmdt: the segment's fragments from addr on */
	e = effects_of(SC(__NR_shmdt, 0, ADDR), 0);
	ok(e.has_frees && e.unfinished_all, "shmdt frees, unfinished anywhere");
	check_range(e.frees, 0x7f3b2c000000, UINT64_MAX);
	check_range(e.touched[0], 0x7f3b2c000000, 0x7f3b2c001000);
	ok(!effects_of(SC(__NR_shmdt, -EINVAL, ADDR), 0).has_frees, "a failed shmdt frees nothing");

	/* prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, addr, len, name): args 2 and 3 */
	e = effects_of(SC(__NR_prctl, 0, PR_SET_VMA, PR_SET_VMA_ANON_NAME, ADDR, 100, 0), 0);
	check_range(e.touched[0], 0x7f3b2c000000, 0x7f3b2c001000);
	ok(e.unfinished_all, "prctl unfinished: anywhere");
	/* mseal (462) and pkey_mprotect: their range */
	e = effects_of(SC(NR_mseal, 0, ADDR, 8192, 0), 0);
	ok(!e.unfinished_all && !e.has_frees, "mseal: its range");
	check_range(e.unfinished, 0x7f3b2c000000, 0x7f3b2c002000);
	e = effects_of(SC(__NR_pkey_mprotect, 0, ADDR + 0x800, 4096, 1, 2), 0);
	check_range(e.touched[0], 0x7f3b2c000800, 0x7f3b2c001800);
	check_range(e.unfinished, 0x7f3b2c000000, 0x7f3b2c002000);
	e = effects_of(SC(__NR_brk, ADDR, ADDR), 0);
	ok(effects_none(&e), "brk names no range: the model finds its VMAs");
}

static void test_effects_other(void)
{
	struct sysent_effects e;
	int all = 1;

	e = effects_of(SC(__NR_clone, 1240, CLONE_VM | CLONE_THREAD | SIGCHLD, 0x7f3b2bfff990), 0);
	check_int(e.clone_flags, CLONE_VM | CLONE_THREAD | SIGCHLD);
	check_int(e.clone_args, 0);
	e = effects_of(SC(__NR_clone3, 1236, 0x7ffd1c2e4f60, 88), 0);
	ok(e.clone_args == 0x7ffd1c2e4f60 && e.clone_flags == 0,
	   "clone3: the flags are the u64 at args[0]");
	e = effects_of(SC(__NR_vfork, 1238), 0);
	check_int(e.clone_flags, CLONE_VM | CLONE_VFORK);
	e = effects_of(SC(__NR_fork, 1237), 0);
	ok(e.clone_flags == 0 && e.clone_args == 0, "fork: no flags");

	e = effects_of(SC(__NR_renameat, 0, 5, 0x55d0c0de2000, NEG(AT_FDCWD), 0x55d0c0de2100), 0);
	check_int(e.n_paths, 2);
	ok(e.paths[0] == 0x55d0c0de2000 && e.dirfds[0] == 5 && e.paths[1] == 0x55d0c0de2100 &&
	   e.dirfds[1] == AT_FDCWD, "renameat: old at dirfd 5, new at AT_FDCWD");
	e = effects_of(SC(__NR_renameat2, 0, 5, 0x55d0c0de2000, 6, 0x55d0c0de2100, 1), 0);
	ok(e.n_paths == 2 && e.dirfds[1] == 6 && e.paths[1] == 0x55d0c0de2100,
	   "renameat2: as renameat");
	e = effects_of(SC(__NR_rename, 0, 0x55d0c0de2000, 0x55d0c0de2100), 0);
	ok(e.n_paths == 2 && e.paths[0] == 0x55d0c0de2000 && e.paths[1] == 0x55d0c0de2100 &&
	   e.dirfds[0] == AT_FDCWD && e.dirfds[1] == AT_FDCWD, "rename: two paths, AT_FDCWD");
	e = effects_of(SC(__NR_unlinkat, 0, 7, 0x55d0c0de2000, AT_REMOVEDIR), 0);
	ok(e.n_paths == 1 && e.paths[0] == 0x55d0c0de2000 && e.dirfds[0] == 7,
	   "unlinkat: one path at dirfd 7");
	e = effects_of(SC(__NR_unlink, 0, 0x55d0c0de2000), 0);
	ok(e.n_paths == 1 && e.paths[0] == 0x55d0c0de2000 && e.dirfds[0] == AT_FDCWD,
	   "unlink: one path");

	e = effects_of(SC(__NR_read, 5, 3, 0x7ffd1c2e5000, 4096), 0);
	ok(effects_none(&e), "read: no effects");
	e = effects_of(SC(400, 0), 0);
	ok(effects_none(&e), "a number without a row: no effects");
	e = effects_of(SC(__NR_execve, 0, 0x55d0c0de2000), 0);
	ok(effects_none(&e), "execve: no effects (its mm is a new one)");

	/* What the daemon reads of a row, every such row says. */
	for (int nr = 0; nr < SYSENT_NR_END; nr++) {
		const struct sysent *s = sysent_get(nr);
		unsigned f = s ? s->flags : 0;

		if ((f & (SF_ORDERED | SF_CLONE | SF_NAMES | SF_FILE_ID)) && !s->effects) {
			diag("%s: flags %#x and no effects function", s->name, f);
			all = 0;
		}
	}
	ok(all, "every ORDERED, CLONE, NAMES and FILE_ID row has an effects function");
}

int main(void)
{
	plan_lazy();
	test_name_escaping();
	test_table();
	load_recorded();
	test_recorded();
	test_parse_list();
	test_names();
	test_text_mm();
	test_text_process();
	test_text_other();
	test_json();
	test_signals();
	test_json_escaping();
	test_argv_round_trip();
	test_effects_mem();
	test_effects_other();
	return done();
}
