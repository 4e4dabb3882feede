// SPDX-License-Identifier: MIT
/*
 * vmatrace attach: trace a running process (every thread, and what it starts from then on)
 * until it exits or the user presses Ctrl-C, then detach and leave it running
 * (cmd_detach.c asks the same from another terminal).
 *
 * Without a seccomp filter every syscall of the process stops (the daemon lets the ones it
 * does not record through at once): attaching is slower than run, and harmless to leave.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "log.h"
#include "proto.h"

static volatile sig_atomic_t interrupted;
static unsigned attach_flags;   /* enum proto_trace_flags */

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void usage_attach(FILE *out)
{
	fprintf(out,
		"Usage: vmatrace attach [-o DB] [--stacks] PID [PID...]\n"
		"\n"
		"Trace the running process PID (all its threads, and the processes it starts) into\n"
		"DB (default ./%s; an existing one is kept as DB.old) until it exits or you\n"
		"press Ctrl-C; then detach and leave it running. Mappings that existed before are\n"
		"recorded as of unknown origin. More PIDs join the same trace; processes that\n"
		"share one address space (CLONE_VM, vfork) get one mm id.\n"
		"\n"
		"  -o, --output DB   write the trace to DB\n"
		"      --stacks      record the user stack of the thread at each event\n"
		"  -h, --help        show this help\n",
		DB_DEFAULT);
}

/* One request, one answer: 0, or the daemon's error printed and its errno. */
/*
 * Wait for FINISHED; a Ctrl-C sends DETACH (once) and keeps waiting. poll() rather than
 * conn_recv(), which retries EINTR and would not see the signal.
 */
static int wait_finished(struct conn *c, pid_t pid, const char *db)
{
	bool detach_sent = false;

	for (;;) {
		if (interrupted && !detach_sent) {
			struct proto_msg m = { .type = PROTO_DETACH };
			m.u.detach.pid = (uint32_t)pid;
			if (conn_send(c, &m) < 0)
				break;
			detach_sent = true;
			fprintf(stderr, "vmatrace: detaching from %d\n", pid);
		}
		struct proto_msg m;
		int r = conn_next(c, &m);
		if (r < 0)
			break;
		if (r == 1) {
			if (m.type == PROTO_FINISHED) {
				print_summary(&m.u.finished, db, attach_flags);
				proto_msg_release(&m);
				return 0;
			}
			if (m.type == PROTO_ERROR && m.u.error.err)
				log_error("%s", m.u.error.message);
			proto_msg_release(&m);
			continue;
		}
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		ssize_t n = conn_fill(c);
		if (n == 0 || (n < 0 && n != -EAGAIN && n != -EINTR))
			break;
	}
	log_error("lost the daemon before the trace was complete; the DB holds what it "
		  "committed");
	return 1;
}

static const char *arg_output = DB_DEFAULT;

static void parse_opt(int c, const char *arg)
{
	if (c == 'o')
		arg_output = arg;
	else if (c == 'S')
		attach_flags |= PROTO_F_STACKS;
}

/* The pids: checked below, where they are used (optind is at the first). */
static void keep_operands(struct cmd_args *a, int argc, char **argv)
{
	(void)a;
	(void)argc;
	(void)argv;
}

static const struct option attach_options[] = {
	ARG_OPT_OUTPUT, ARG_OPT_HELP, { "stacks", no_argument, NULL, 'S' }, {}
};

static const struct cmd_options attach_cmd = {
	usage_attach, "o:h", attach_options, parse_opt, keep_operands, NULL
};

int cmd_attach(int argc, char **argv)
{
	struct cmd_args a = { .name = "attach" };
	const char *output;
	char cwd[PATH_MAX];
	struct conn c;
	pid_t dpid;
	int status = args_parse(&a, &attach_cmd, argc, argv);

	if (status != ARGS_CONTINUE)
		return status;
	output = arg_output;
	if (optind >= argc)
		die("attach: expected a pid (see 'vmatrace attach --help')");
	pid_t pid = parse_pid(argv[optind], "pid");
	if (kill(pid, 0) < 0 && errno == ESRCH)
		die("attach: no process %d", pid);
	for (int i = optind + 1; i < argc; i++)
		parse_pid(argv[i], "pid");
	if (argc - optind - 1 > PROTO_MAX_STRV)
		die("attach: too many pids");
	if (daemon_connect(&c, true, &dpid) < 0)
		return 1;
	char *db = prepare_db(output);
	if (!getcwd(cwd, sizeof(cwd)))
		strcpy(cwd, "?");

	struct proto_msg m = { .type = PROTO_ATTACH }, reply;
	m.u.run = (struct proto_run){
		.pid = (uint32_t)pid, .flags = attach_flags, .db_path = db, .cwd = cwd,
		.argc = (uint32_t)(argc - optind - 1), .argv = argv + optind + 1,
	};
	if (daemon_request(&c, &m, &reply) < 0)
		goto error_close;
	if (reply.type != PROTO_ATTACHED) {
		/* Two traces that both found no DB: the second daemon finds the first's. */
		if (reply.type != PROTO_ERROR || reply.u.error.err != EEXIST ||
		    !db_in_use(output, db))
			log_error("%s", reply.type == PROTO_ERROR ? reply.u.error.message :
								    "unexpected answer from the daemon");
		if (reply.type == PROTO_ERROR)
			advise_trace_error((int)reply.u.error.err, pid, true);
		proto_msg_release(&reply);
		goto error_close;
	}
	proto_msg_release(&reply);
	fprintf(stderr, "vmatrace: attached to %d; Ctrl-C to detach\n", pid);

	struct sigaction sa = { .sa_handler = on_interrupt }; /* no SA_RESTART: poll sees it */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	int r = wait_finished(&c, pid, output);
	close(c.fd);
	conn_release(&c);
	free(db);
	return r;

error_close:
	close(c.fd);
	conn_release(&c);
	free(db);
	return 1;
}
