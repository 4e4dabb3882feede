// SPDX-License-Identifier: MIT
/*
 * vmatrace run: trace a program and all its descendants through the daemon.
 *
 * The handshake (see DESIGN.md): we fork the child; it allows the daemon to trace it
 * (PR_SET_PTRACER, for Yama) and waits on a pipe; we ask the daemon to seize it (RUN); once
 * the daemon answers ATTACHED we let the child go: it installs the seccomp filter and execs
 * the program. The program stays our child, in the user's terminal and process group, with
 * the environment unchanged; we wait for it and exit with its status (128+N when killed by
 * signal N), then wait for the daemon's FINISHED (all descendants ended, DB committed) and
 * print a one-paragraph summary to stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "log.h"
#include "proto.h"
#include "store.h"
#include "stresc.h"
#include "sysent.h"
#include "xalloc.h"

static const char *arg_output = DB_DEFAULT;
static unsigned arg_flags;
static bool arg_verify_all;

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vmatrace run [-o DB] [--stacks] [--verify | --verify-all] [--] PROG\n"
		"                    [ARG...]\n"
		"\n"
		"Trace PROG and all its descendants: every memory and process syscall, with its\n"
		"result, into DB (default ./%s; an existing one is kept as DB.old).\n"
		"Exits with PROG's status (128+N if killed by signal N).\n"
		"\n"
		"  -o, --output DB   write the trace to DB\n"
		"      --stacks      record the user stack of the thread at each event, with\n"
		"                    symbols (see 'vmatrace events --stacks', 'history')\n"
		"      --verify      compare the replayed map with /proc/PID/maps after every\n"
		"                    event and report divergences (slower)\n"
		"      --verify-all  the same, and print every divergence, not only the first\n"
		"                    (all are in the DB's divergence table either way)\n"
		"  -h, --help        show this help\n",
		DB_DEFAULT);
}

static void parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		ARG_OPT_OUTPUT,
		{ "stacks", no_argument, NULL, 'S' },
		{ "verify", no_argument, NULL, 'Y' },
		{ "verify-all", no_argument, NULL, 'A' },
		ARG_OPT_HELP,
		{}
	};
	int c;

	/* '+': stop at PROG, so that its own options pass through (as strace does). */
	while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (!*optarg)
				die("run: -o needs a file name");
			arg_output = optarg;
			break;
		case 'S':
			arg_flags |= PROTO_F_STACKS;
			break;
		case 'A':
			arg_verify_all = true;
			/* fall through */
		case 'Y':
			arg_flags |= PROTO_F_VERIFY;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind >= argc)
		die("run: no program given (see 'vmatrace run --help')");
}

/* PROG as execvp would find it, or NULL with errno set. */
static char *resolve_program(const char *prog)
{
	struct stat st;

	if (strchr(prog, '/')) {
		if (stat(prog, &st) < 0)
			return NULL;
		if (S_ISDIR(st.st_mode) || access(prog, X_OK) < 0) {
			errno = S_ISDIR(st.st_mode) ? EISDIR : EACCES;
			return NULL;
		}
		return xstrdup(prog);
	}
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	errno = ENOENT;
	for (const char *p = path;; p = strchr(p, ':') + 1) {
		size_t len = strcspn(p, ":");
		char *cand = xasprintf("%.*s%s%s", (int)len, p, len ? "/" : "", prog);
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
			return cand;
		free(cand);
		if (!p[len])
			break;
	}
	errno = ENOENT;
	return NULL;
}

/* first_pid - the first process of a trace: the one run or attached. */
static int first_pid(const struct store_proc_info *p, void *data)
{
	*(pid_t *)data = p->pid;
	return 1;
}

bool db_in_use(const char *path, const char *abs)
{
	struct store_trace_info t;
	struct store_ro *r;
	pid_t pid = 0;
	char *who = NULL;
	size_t len = 0;
	FILE *f;
	int lock = store_try_lock(abs);

	if (lock != -EBUSY) {
		if (lock >= 0)
			close(lock);
		return false;
	}
	/* Named as far as the live trace has committed: mode, command line, first pid. */
	if (store_open_ro(abs, &r) == 0) {
		f = open_memstream(&who, &len);
		if (f && store_query_trace(r, &t) == 0 && t.cmdline) {
			fprintf(f, " (%s of '", t.mode ? t.mode : "trace");
			if (stresc_print_argv_words(t.cmdline, f) < 0)
				stresc_print_name(f, t.cmdline);
			fputc('\'', f);
			store_query_processes(r, first_pid, &pid);
			if (pid > 0)
				fprintf(f, ", pid %d", (int)pid);
			fputc(')', f);
			store_trace_info_release(&t);
		}
		if (f)
			fclose(f);
		store_ro_close(r);
	}
	log_error("'%s' is being written by another trace%s: wait for it to end, or write "
		  "another file with -o", path, who ? who : "");
	free(who);
	return true;
}

char *prepare_db(const char *path)
{
	static const char *const side[] = { "-wal", "-journal" };
	char cwd[PATH_MAX];
	char *abs;
	struct stat st;

	if (path[0] == '/') {
		abs = xstrdup(path);
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			die("cannot get the working directory: %m");
		abs = xasprintf("%s/%s", cwd, path);
	}
	if (lstat(abs, &st) < 0) {
		if (errno != ENOENT)
			die("cannot use '%s': %m", path);
		return abs;
	}
	/* A trace being written there (its daemon holds the lock): never move it away. */
	int lock = store_try_lock(abs);
	if (lock == -EBUSY && db_in_use(path, abs)) {
		free(abs);
		exit(1);
	}
	struct store_ro *r;
	int err = store_open_ro(abs, &r);
	if (err < 0) {
		free(abs);
		die("refusing to replace '%s': %s", path, db_strerror(err));
	}
	store_ro_close(r);

	/*
	 * PATH -> PATH.old, with its side files. The old PATH.old's -wal, -journal and -shm
	 * go first: SQLite would replay a stale WAL (or journal) onto the trace that takes
	 * that name, and break it ("malformed"). A WAL not yet checkpointed holds committed
	 * events: it goes along; -shm is only an index of the WAL, rebuilt from it.
	 */
	char *old = xasprintf("%s.old", abs);
	for (size_t i = 0; i < sizeof(side) / sizeof(side[0]) + 1; i++) {
		char *o = xasprintf("%s%s", old, i < 2 ? side[i] : "-shm");
		if (unlink(o) < 0 && errno != ENOENT)
			die("cannot remove '%s%s' to keep '%s' as '%s.old': %m", path,
			    o + strlen(abs), path, path);
		free(o);
	}
	if (rename(abs, old) < 0)
		die("cannot keep '%s' as '%s.old': %m", path, path);
	for (size_t i = 0; i < sizeof(side) / sizeof(side[0]); i++) {
		char *from = xasprintf("%s%s", abs, side[i]), *to = xasprintf("%s%s", old, side[i]);
		if (rename(from, to) < 0 && errno != ENOENT)
			die("cannot keep '%s%s' as '%s.old%s': %m", path, side[i], path, side[i]);
		free(from);
		free(to);
	}
	char *shm = xasprintf("%s-shm", abs);
	unlink(shm);
	free(shm);
	free(old);
	if (lock >= 0)
		close(lock);
	return abs;
}

static void child(int go_fd, pid_t daemon_pid, const char *prog, char **argv)
{
	char c;

	/* Yama (ptrace_scope 1) lets only ancestors trace us unless we name the tracer. */
	prctl(PR_SET_PTRACER, daemon_pid, 0, 0, 0);
	if (read(go_fd, &c, 1) != 1)
		_exit(126); /* the parent gave up: it reports why */
	close(go_fd);
	int r = seccomp_install();
	if (r < 0) {
		log_error("cannot install the seccomp filter: %s", strerror(-r));
		advise_seccomp_error(-r);
		_exit(126);
	}
	execv(prog, argv);
	log_error("cannot run '%s': %m", argv[0]);
	_exit(errno == ENOENT ? 127 : 126);
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}

/*
 * What --stacks cost, read back from the finished DB: the daemon does not know the bytes
 * SQLite took, and the wire protocol stays as it is.
 */
static void print_stack_summary(const char *db)
{
	struct store_stack_summary s;
	struct store_ro *r;

	if (store_open_ro(db, &r) < 0)
		return;
	if (store_query_stack_summary(r, &s) == 0)
		fprintf(stderr, "vmatrace: stacks: %llu distinct stack%s of %llu distinct frame%s "
			"for %llu event%s, %.1f bytes of stack storage per event\n",
			(unsigned long long)s.stacks, s.stacks == 1 ? "" : "s",
			(unsigned long long)s.frames, s.frames == 1 ? "" : "s",
			(unsigned long long)s.events_with_stack,
			s.events_with_stack == 1 ? "" : "s",
			s.events ? (double)s.bytes / (double)s.events : 0.0);
	store_ro_close(r);
}

/* The last fatal +signal in [0], the last fault the kernel raised in [1]. */
static int last_fatal_row(const struct event *ev, void *data)
{
	struct event *last = data;
	int sig = (int)ev->args[EVENT_SIG_SIGNO], code = (int)ev->args[EVENT_SIG_CODE];

	if (ev->ret == EVENT_SIG_FATAL) {
		/* A crash handler's re-raise of the fault it took: name that fault (as why). */
		if (code <= 0 && last[1].seq && last[1].tid == ev->tid &&
		    last[1].args[EVENT_SIG_SIGNO] == (uint64_t)sig)
			last[0] = last[1];
		else
			last[0] = *ev;
		last[0].path = last[0].argv = NULL;
	}
	if (signal_code_has_addr(sig, code)) {
		last[1] = *ev;
		last[1].path = last[1].argv = NULL;
	}
	return 0;
}

/*
 * The program died of a fault signal: one line pointing at `vmatrace why`, with the
 * address the DB recorded (the signal-delivery stop came before the death).
 */
static void print_why_hint(const char *db, pid_t pid)
{
	struct store_event_filter f = { .pid = pid, .signals_only = true };
	struct event found[2] = { { 0 } }, last;
	struct store_ro *r;

	if (store_open_ro(db, &r) < 0)
		return;
	if (store_query_events(r, &f, last_fatal_row, found) == 0 && found[0].seq) {
		last = found[0];
		int sig = (int)last.args[EVENT_SIG_SIGNO], code = (int)last.args[EVENT_SIG_CODE];
		const char *name = signal_name(sig), *cname = signal_code_name(sig, code);
		char where[64];

		if (signal_code_has_addr(sig, code))
			snprintf(where, sizeof(where), " at %#" PRIx64, last.args[EVENT_SIG_ADDR]);
		else
			snprintf(where, sizeof(where), " (%s)", cname ? cname : "sent");
		if (!strcmp(db, DB_DEFAULT))
			fprintf(stderr, "vmatrace: hint: 'vmatrace why' explains the %s%s\n",
				name ? name : "signal", where);
		else
			fprintf(stderr, "vmatrace: hint: 'vmatrace why -d %s' explains the %s%s\n",
				db, name ? name : "signal", where);
	}
	store_ro_close(r);
}

static int print_divergence(uint64_t seq, uint64_t mm, const char *report, void *data)
{
	(void)data;
	fprintf(stderr, "vmatrace: mm %llu diverged after event %llu: %s",
		(unsigned long long)mm, (unsigned long long)seq, report);
	return 0;
}

/* --verify-all: every divergence the daemon stored, from the finished DB. */
static void print_divergences(const char *db)
{
	struct store_ro *r;

	if (store_open_ro(db, &r) < 0)
		return;
	store_query_divergences(r, print_divergence, NULL);
	store_ro_close(r);
}

static int first_ptrace_eperm(const struct event *ev, void *data)
{
	if (ev->ret != -EPERM)
		return 0;
	*(struct event *)data = *ev;
	((struct event *)data)->path = NULL;
	((struct event *)data)->argv = NULL;
	return 1;
}

/*
 * strace, gdb or ltrace inside `vmatrace run` cannot trace: every process of the run has a
 * tracer already (the daemon), and a process has one. They say "Operation not permitted",
 * which reads like a permission problem; the filter records their ptrace calls (seccomp.c),
 * so say here what happened.
 */
static void advise_nested_tracer(const char *db)
{
	static const int nrs[] = { SYS_ptrace };
	struct store_event_filter filter = { .nrs = nrs, .n_nrs = 1, .syscalls_only = true };
	struct event ev = { 0 };
	struct store_ro *r;

	if (store_open_ro(db, &r) < 0)
		return;
	if (store_query_events(r, &filter, first_ptrace_eperm, &ev) == 1)
		fprintf(stderr, "vmatrace: hint: pid %d tried to become a tracer (ptrace %s) and "
			"was refused: under 'vmatrace run' every process is traced by vmatraced "
			"already, and a process has one tracer; run strace or gdb outside vmatrace\n",
			(int)ev.pid, ev.args[0] == PTRACE_TRACEME ? "PTRACE_TRACEME" :
				     ev.args[0] == PTRACE_ATTACH ? "PTRACE_ATTACH" : "PTRACE_SEIZE");
	store_ro_close(r);
}

void print_summary(const struct proto_finished *f, const char *db, unsigned flags)
{
	fprintf(stderr, "vmatrace: %llu event%s, %llu process%s, %llu address space%s -> %s\n",
		(unsigned long long)f->events, f->events == 1 ? "" : "s",
		(unsigned long long)f->processes, f->processes == 1 ? "" : "es",
		(unsigned long long)f->mms, f->mms == 1 ? "" : "s", db);
	if (flags & PROTO_F_VERIFY)
		fprintf(stderr, "vmatrace: verify: %llu event%s checked, %llu diverged\n",
			(unsigned long long)f->verified, f->verified == 1 ? "" : "s",
			(unsigned long long)f->diverged);
	if (flags & PROTO_F_STACKS)
		print_stack_summary(db);
	if (f->store_error)
		fprintf(stderr, "vmatrace: recording ended early: %s\n", strerror(f->store_error));
	if (f->message && *f->message)
		fprintf(stderr, "vmatrace: %s\n", f->message);
}

static volatile sig_atomic_t interrupts;

static void on_sigint(int sig)
{
	(void)sig;
	interrupts++;
}

/*
 * After the program's exit, wait for the daemon's FINISHED: it comes when every descendant
 * has ended, background daemons included. A shell would not wait for those, so Ctrl-C
 * now works: the first says what we wait for (the terminal also sent it to the
 * descendants still in its foreground process group, which may end them), the second
 * stops waiting. The descendants are not killed, and stay traced: their seccomp filter
 * needs a tracer (without one each filtered syscall would fail with ENOSYS); the daemon
 * keeps recording them until they exit, like strace's detach leaves a program running.
 * Returns conn_recv()'s result, or -ECANCELED after the second Ctrl-C.
 */
static int wait_finished(struct conn *c, struct proto_msg *ret, const char *prog)
{
	struct sigaction sa = { .sa_handler = on_sigint }; /* no SA_RESTART */
	sigset_t block, during;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &during);
	sigdelset(&during, SIGINT);
	sigaction(SIGINT, &sa, NULL);
	for (int seen = 0;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		int n = ppoll(&pfd, 1, NULL, &during);
		if (n > 0)
			break;
		if (n < 0 && errno != EINTR)
			break; /* conn_recv() says what is wrong */
		if (interrupts == seen)
			continue;
		seen = interrupts;
		if (seen >= 2) {
			signal(SIGINT, SIG_IGN);
			return -ECANCELED;
		}
		fprintf(stderr, "vmatrace: %s has exited; waiting for the processes it left "
			"running (the trace ends with the last of them); Ctrl-C again to stop "
			"waiting and leave them running, still traced\n", prog);
	}
	signal(SIGINT, SIG_IGN);
	return conn_recv(c, ret);
}

int cmd_run(int argc, char **argv)
{
	struct conn c;
	pid_t daemon_pid, pid;
	int go[2], status = 0, r;
	char cwd[PATH_MAX];

	parse_args(argc, argv);
	char **prog_argv = argv + optind;
	char *prog = resolve_program(prog_argv[0]);
	if (!prog) {
		log_error("cannot run '%s': %m", prog_argv[0]);
		return 127;
	}
	if (daemon_connect(&c, true, &daemon_pid) < 0) {
		free(prog);
		return 1;
	}
	char *db = prepare_db(arg_output);
	if (!getcwd(cwd, sizeof(cwd)))
		strcpy(cwd, "?");

	/*
	 * The daemon traces only a child that cannot gain privileges by exec (a tracer with
	 * CAP_SYS_PTRACE would keep a set-uid exec privileged): no_new_privs, set here before
	 * the fork so the child has it when the daemon checks. seccomp_install() needs it
	 * anyway without CAP_SYS_ADMIN. Root runs set-uid programs as it would untraced.
	 */
	if (geteuid() != 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die("prctl(PR_SET_NO_NEW_PRIVS): %m");
	if (pipe2(go, O_CLOEXEC) < 0)
		die("pipe: %m");
	pid = fork();
	if (pid < 0)
		die("fork: %m");
	if (pid == 0) {
		close(go[1]);
		close(c.fd);
		child(go[0], daemon_pid, prog, prog_argv);
	}
	close(go[0]);

	struct proto_msg m = { .type = PROTO_RUN }, reply;
	m.u.run = (struct proto_run){
		.pid = (uint32_t)pid, .flags = arg_flags, .db_path = db, .cwd = cwd,
		.argc = (uint32_t)(argc - optind), .argv = prog_argv,
	};
	if (m.u.run.argc > PROTO_MAX_STRV)
		m.u.run.argc = PROTO_MAX_STRV; /* metadata only: the program gets all of them */
	r = conn_send(&c, &m);
	if (r == 0)
		r = conn_recv(&c, &reply);
	if (r < 0 || reply.type != PROTO_ATTACHED) {
		if (r < 0)
			log_error("the daemon did not answer: %s", strerror(-r));
		else if (reply.type == PROTO_ERROR) {
			/* Two runs that both found no DB: the second daemon finds the first's. */
			if (reply.u.error.err != EEXIST || !db_in_use(arg_output, db))
				log_error("%s", reply.u.error.message);
			advise_trace_error((int)reply.u.error.err, pid, false);
		} else
			log_error("the daemon answered with an unexpected %s",
				  proto_type_name(reply.type));
		if (r == 0)
			proto_msg_release(&reply);
		close(go[1]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(c.fd);
		conn_release(&c);
		free(db);
		free(prog);
		return 1;
	}
	proto_msg_release(&reply);

	/* Like a shell running a command: the terminal's ^C and ^\ are for the program. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	if (write(go[1], "!", 1) != 1)
		die("cannot start the child: %m");
	close(go[1]);

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			die("waitpid: %m");
	}
	/* Descendants may outlive the program: the daemon says when all of them ended. */
	r = wait_finished(&c, &reply, prog_argv[0]);
	if (r == -ECANCELED) {
		fprintf(stderr, "vmatrace: stopped waiting; the processes %s left stay traced "
			"into %s until they exit (their seccomp filter needs a tracer): 'vmatrace "
			"status' lists the trace\n", prog_argv[0], arg_output);
	} else if (r < 0) {
		log_error("lost the daemon before the trace was complete: %s; the DB holds "
			  "what it committed",
			  r == -ECONNRESET ? "it closed the connection" : strerror(-r));
	} else if (reply.type == PROTO_FINISHED) {
		print_summary(&reply.u.finished, arg_output, arg_flags);
		if (arg_verify_all && reply.u.finished.diverged)
			print_divergences(arg_output);
		advise_nested_tracer(db);
		proto_msg_release(&reply);
		if (WIFSIGNALED(status) && signal_is_fault(WTERMSIG(status)))
			print_why_hint(arg_output, pid);
	} else {
		log_error("the daemon answered with an unexpected %s", proto_type_name(reply.type));
		proto_msg_release(&reply);
	}
	close(c.fd);
	conn_release(&c);
	free(db);
	free(prog);
	return exit_code(status);
}
