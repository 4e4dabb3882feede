// SPDX-License-Identifier: MIT
/*
 * vmatrace doctor: check what tracing needs on this machine, by doing it on a child of our
 * own (seize it, stop it at a syscall, read the syscall with PTRACE_GET_SYSCALL_INFO;
 * install a seccomp filter in another), and read what cannot be tried (Yama, the daemon's
 * socket, a DB). One line per check, "ok", "warn" or "FAIL", with what to do about it.
 * Exit 0 when everything `run` needs works, 1 otherwise.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "log.h"
#include "paths.h"
#include "store.h"

enum verdict { OK, WARN, FAIL };

static bool failed;

static void report(enum verdict v, const char *check, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void report(enum verdict v, const char *check, const char *fmt, ...)
{
	static const char *const names[] = { "ok", "warn", "FAIL" };
	va_list ap;

	printf("%-4s  %-23s ", names[v], check);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	failed |= v == FAIL;
}

static void check_kernel(void)
{
	struct utsname u;
	unsigned major = 0, minor = 0;

	if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2) {
		report(WARN, "kernel", "cannot read the kernel version");
		return;
	}
	if (major < 5 || (major == 5 && minor < 3))
		report(FAIL, "kernel", "Linux %s: vmatrace needs 5.3 or later "
		       "(PTRACE_GET_SYSCALL_INFO)", u.release);
	else
		report(OK, "kernel", "Linux %s %s", u.release, u.machine);
}

/* A child that makes syscalls until it is killed. */
static pid_t spinning_child(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		for (;;)
			syscall(SYS_getppid);
	}
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
}

/* ptrace, then PTRACE_GET_SYSCALL_INFO at a syscall-entry stop of a child of ours. */
static void check_ptrace(void)
{
	struct __ptrace_syscall_info info;
	int status;

	pid_t pid = spinning_child();
	if (pid < 0) {
		report(FAIL, "ptrace", "fork: %s", strerror(errno));
		return;
	}
	if (ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL) < 0) {
		int err = errno;
		reap(pid);
		report(FAIL, "ptrace", "PTRACE_SEIZE of our own child: %s; %s", strerror(err),
		       yama_ptrace_scope() == 3 ?
			       "kernel.yama.ptrace_scope is 3 (no tracing until the next boot)" :
			       "ptrace is forbidden here: in a container, run it with "
			       "--cap-add=SYS_PTRACE (and --security-opt seccomp=unconfined "
			       "before Docker 19.03)");
		report(FAIL, "PTRACE_GET_SYSCALL_INFO", "not tried: ptrace does not work");
		return;
	}
	report(OK, "ptrace", "PTRACE_SEIZE of a child of ours works");
	/* Interrupt, then run to the next syscall-entry stop. */
	int r = (int)ptrace(PTRACE_INTERRUPT, pid, 0, 0);
	if (r == 0 && waitpid(pid, &status, __WALL) == pid)
		r = (int)ptrace(PTRACE_SYSCALL, pid, 0, 0);
	while (r == 0 && waitpid(pid, &status, __WALL) == pid && WIFSTOPPED(status) &&
	       WSTOPSIG(status) != (SIGTRAP | 0x80))
		r = (int)ptrace(PTRACE_SYSCALL, pid, 0, 0);
	memset(&info, 0, sizeof(info));
	long n = r == 0 ? ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof(info), &info) : -1;
	int err = errno;
	reap(pid);
	/* Any syscall: glibc's fork makes the child call set_robust_list before our loop. */
	if (n > 0 && info.op == PTRACE_SYSCALL_INFO_ENTRY)
		report(OK, "PTRACE_GET_SYSCALL_INFO", "reads a syscall at its entry stop");
	else
		report(FAIL, "PTRACE_GET_SYSCALL_INFO", "%s; vmatrace needs Linux 5.3 or later",
		       n < 0 ? strerror(err) : "unexpected answer");
}

/* A filter that fails getppid() with ESRCH and allows the rest, in a child. */
static void check_seccomp(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ESRCH),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
	int status;

	pid_t pid = fork();
	if (pid < 0) {
		report(FAIL, "seccomp", "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
			_exit(errno & 0x7f);
		_exit(syscall(SYS_getppid) == -1 && errno == ESRCH ? 0 : 100);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 101;
	uint32_t action = SECCOMP_RET_TRACE;
	if (code == 0 && syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) < 0)
		code = 102;
	if (code == 0)
		report(OK, "seccomp", "a filter installs and works; SECCOMP_RET_TRACE is available");
	else if (code == 100 || code == 101)
		report(FAIL, "seccomp", "a filter installed but did not act (a nested seccomp "
		       "policy?); 'vmatrace run' will not see the syscalls");
	else if (code == 102)
		report(FAIL, "seccomp", "SECCOMP_RET_TRACE is not available: 'vmatrace run' "
		       "needs it; 'vmatrace attach' does not");
	else if (code == EINVAL)
		report(FAIL, "seccomp", "no seccomp filters in this kernel (CONFIG_SECCOMP_FILTER):"
		       " 'vmatrace run' needs them; 'vmatrace attach' does not");
	else
		report(FAIL, "seccomp", "installing a filter: %s; in a container, run it with "
		       "--security-opt seccomp=unconfined", strerror(code));
}

/* The kernel's struct procmap_query (uapi linux/fs.h, Linux 6.11), as daemon/procmap.c. */
struct doctor_procmap_query {
	uint64_t size, query_flags, query_addr, vma_start, vma_end, vma_flags, vma_page_size;
	uint64_t vma_offset, inode;
	uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};

static void check_procmap_query(void)
{
	struct doctor_procmap_query q = { .size = sizeof(q) };
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		report(FAIL, "/proc", "cannot open /proc/self/maps: %s; is /proc mounted?",
		       strerror(errno));
		return;
	}
	q.query_addr = (uint64_t)(uintptr_t)&check_procmap_query;
	int r = ioctl(fd, _IOWR('f', 17, struct doctor_procmap_query), &q);
	int err = errno;
	close(fd);
	if (r == 0)
		report(OK, "PROCMAP_QUERY", "the ioctl answers (file identities without parsing "
		       "/proc/PID/maps)");
	else
		report(WARN, "PROCMAP_QUERY", "%s: needs Linux 6.11; vmatrace reads "
		       "/proc/PID/maps instead (slower, same results)",
		       err == ENOTTY ? "not in this kernel" : strerror(err));
}

static void check_yama(void)
{
	int scope = yama_ptrace_scope();

	if (scope < 0)
		report(OK, "yama ptrace_scope", "not present: %s", yama_meaning(scope));
	else if (scope <= 1)
		report(OK, "yama ptrace_scope", "%d: %s", scope, yama_meaning(scope));
	else if (scope == 2)
		report(WARN, "yama ptrace_scope", "2: %s; 'run' works, 'attach' needs sudo",
		       yama_meaning(scope));
	else
		report(FAIL, "yama ptrace_scope", "%d: %s", scope, yama_meaning(scope));
}

/*
 * Whether the remote unwinder loads: libunwind-x86_64 (unw_init_remote) and, on top of it,
 * libunwind-ptrace (the _UPT_ accessors), which does not link the former itself. This
 * client does not use them: the check says whether user stacks could be recorded here.
 */
static void check_libunwind(void)
{
	void *arch = dlopen("libunwind-x86_64.so.8", RTLD_LAZY | RTLD_GLOBAL);
	void *upt = arch ? dlopen("libunwind-ptrace.so.0", RTLD_LAZY) : NULL;

	if (upt)
		report(OK, "libunwind", "libunwind-x86_64.so.8 and libunwind-ptrace.so.0 load "
		       "(the remote unwinder, for user stacks)");
	else
		report(WARN, "libunwind", "%s; no user stacks (Debian: libunwind8, libunwind-dev)",
		       dlerror());
	if (upt)
		dlclose(upt);
	if (arch)
		dlclose(arch);
}

/* Who listens at @path: 0 with the daemon's pid and uid, or -errno. */
static int probe_socket(const char *path, pid_t *ret_pid, uid_t *ret_uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd = daemon_socket_connect(path), err = 0;

	if (fd < 0)
		return fd;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		err = -errno;
	close(fd);
	if (err)
		return err;
	*ret_pid = cred.pid;
	*ret_uid = cred.uid;
	return 0;
}

static void check_daemon(void)
{
	char dir[4000], path[4096];
	pid_t pid;
	uid_t uid;

	if (paths_runtime_dir(dir, sizeof(dir)) < 0 ||
	    paths_join(path, sizeof(path), dir, PATHS_SOCKET) < 0) {
		report(FAIL, "daemon", "the runtime directory path is too long");
		return;
	}
	int r = probe_socket(path, &pid, &uid);
	if (r == 0) {
		report(OK, "daemon", "vmatraced pid %d (uid %u) listens at %s", (int)pid,
		       (unsigned)uid, path);
		return;
	}
	if (r != -ENOENT && r != -ECONNREFUSED) {
		report(FAIL, "daemon", "cannot connect to %s: %s", path, strerror(-r));
		return;
	}
	if (!getenv("VMATRACE_SOCKET_DIR") &&
	    probe_socket(PATHS_SYSTEM_DIR "/" PATHS_SOCKET, &pid, &uid) == 0) {
		report(OK, "daemon", "the system daemon (pid %d) listens at %s", (int)pid,
		       PATHS_SYSTEM_DIR "/" PATHS_SOCKET);
		return;
	}
	char *bin = daemon_binary();
	bool found = strchr(bin, '/') ? access(bin, X_OK) == 0 : false;
	if (!found) {
		/* A bare name: look for it on PATH as execlp() will. */
		const char *p = getenv("PATH");
		char *copy = strdup(p ? p : "/usr/bin:/bin"), *save = NULL;
		for (char *d = strtok_r(copy, ":", &save); d && !found;
		     d = strtok_r(NULL, ":", &save)) {
			char cand[4096];
			snprintf(cand, sizeof(cand), "%s/%s", d, bin);
			found = access(cand, X_OK) == 0;
		}
		free(copy);
	}
	if (found)
		report(OK, "daemon", "none running; the client will start %s on demand "
		       "(socket %s)", bin, path);
	else
		report(FAIL, "daemon", "none running, and no %s to start: install vmatraced "
		       "beside vmatrace or on PATH, or set VMATRACED", bin);
	free(bin);
}

static void check_db(const char *db, bool named)
{
	struct store_ro *ro;

	if (!named && access(db, F_OK) < 0) {
		if (access(".", W_OK) == 0)
			report(OK, "DB", "no ./%s here yet; 'vmatrace run' writes one", db);
		else
			report(WARN, "DB", "this directory is not writable: use 'vmatrace run -o "
			       "DIR/x.db'");
		return;
	}
	int r = store_open_ro(db, &ro);
	if (r == 0) {
		int version = store_ro_version(ro);

		store_ro_close(ro);
		report(OK, "DB", "%s opens: a vmatrace trace (application_id 0x%x, schema "
		       "version %d%s)", db, STORE_APPLICATION_ID, version,
		       version < 2 ? ": no stack tables" : "");
	} else {
		report(named ? FAIL : WARN, "DB", "%s: %s", db,
		       r == -ENOENT ? "no such file" : db_strerror(r));
	}
}

int cmd_doctor(int argc, char **argv)
{
	static const struct option opts[] = {
		ARG_OPT_DB,
		ARG_OPT_HELP,
		{}
	};
	const char *db = DB_DEFAULT;
	bool named = false;
	int ch;

	while ((ch = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			db = optarg;
			named = true;
			break;
		case 'h':
			printf("Usage: vmatrace doctor [-d DB]\n"
			       "\n"
			       "Check what tracing needs on this machine: ptrace, seccomp,\n"
			       "PTRACE_GET_SYSCALL_INFO, PROCMAP_QUERY, Yama, libunwind, the daemon and\n"
			       "a DB (default ./%s if there is one). One line per check: ok, warn or\n"
			       "FAIL, and what to do. Exits 0 when 'vmatrace run' can work.\n"
			       "\n"
			       "  -d, --db DB   check DB\n"
			       "  -h, --help    show this help\n",
			       DB_DEFAULT);
			return 0;
		default:
			return 2;
		}
	}
	if (optind < argc)
		die("doctor: unexpected argument '%s'", argv[optind]);
	/* The forked children never flush stdio: they are killed or _exit. */
	check_kernel();
	check_ptrace();
	check_seccomp();
	check_procmap_query();
	check_yama();
	check_libunwind();
	check_daemon();
	check_db(db, named);
	return failed ? 1 : 0;
}
