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
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "log.h"
#include "proto.h"
#include "store.h"
#include "stresc.h"
#include "xalloc.h"

static const char *arg_output = DB_DEFAULT;
static unsigned arg_flags;

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vmatrace run [-o DB] [--stacks] [--verify] [--] PROG [ARG...]\n"
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
		"  -h, --help        show this help\n",
		DB_DEFAULT);
}

static void parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "stacks", no_argument, NULL, 'S' },
		{ "verify", no_argument, NULL, 'Y' },
		{ "help", no_argument, NULL, 'h' },
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
		die("refusing to replace '%s': %s", path,
		    err == -EMEDIUMTYPE ? "not a vmatrace DB" : strerror(-err));
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
	if (daemon_connect(&c, true, &daemon_pid) < 0)
		return 1;
	char *db = prepare_db(arg_output);
	if (!getcwd(cwd, sizeof(cwd)))
		strcpy(cwd, "?");

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
	r = conn_recv(&c, &reply);
	if (r < 0) {
		log_error("lost the daemon before the trace was complete: %s; the DB holds "
			  "what it committed",
			  r == -ECONNRESET ? "it closed the connection" : strerror(-r));
	} else if (reply.type == PROTO_FINISHED) {
		print_summary(&reply.u.finished, arg_output, arg_flags);
		proto_msg_release(&reply);
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
