// SPDX-License-Identifier: MIT
/*
 * vmatraced: the tracing daemon. Thin: options, daemonizing, then the event loop.
 * Started on demand by the client (daemonizes, logs to the runtime directory), by hand in
 * the foreground with -f (logs to stderr), or by systemd, which passes the listening socket
 * (LISTEN_FDS; then it never daemonizes: systemd is its parent and keeps its log).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"
#include "paths.h"
#include "server.h"
#include "tracer.h"
#include "unwind.h"

static bool arg_foreground;
static struct server_config arg_server = { .idle_exit_s = 0, .listen_fd = -1 };

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vmatraced [-f] [-v] [--system] [--idle-exit SECS] [--poll-us USEC]\n"
		"                 [--stack-depth N]\n"
		"\n"
		"The vmatrace tracing daemon. The vmatrace client starts it on demand; run it\n"
		"by hand with -f to watch its log.\n"
		"\n"
		"  -f, --foreground     stay in the foreground and log to stderr\n"
		"  -v, --verbose        log more (twice: debug)\n"
		"      --idle-exit SECS exit after SECS with no trace and no client (0: never)\n"
		"      --system         the system daemon (root): socket in /run/vmatrace/, serves\n"
		"                       every user, each with their own rights\n"
		"      --poll-us USEC   after a ptrace stop, poll this long for the next one\n"
		"                       before sleeping (default %u; 0: never poll)\n"
		"      --stack-depth N  frames kept per stack of a trace with --stacks\n"
		"                       (default %u, at most %u)\n"
		"  -h, --help           show this help\n"
		"  -V, --version        show the version\n",
		tracer_config.poll_us, tracer_config.stack_depth, UNWIND_MAX_DEPTH);
}

static unsigned parse_uint(const char *s, const char *what)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > 100000000ul || s[0] == '-')
		die("invalid %s '%s'", what, s);
	return (unsigned)v;
}

static void parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "idle-exit", required_argument, NULL, 'I' },
		{ "poll-us", required_argument, NULL, 'P' },
		{ "system", no_argument, NULL, 'S' },
		{ "stack-depth", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{}
	};
	int c;

	while ((c = getopt_long(argc, argv, "fvhV", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			arg_foreground = true;
			break;
		case 'v':
			log_max_level++;
			break;
		case 'I':
			arg_server.idle_exit_s = parse_uint(optarg, "--idle-exit");
			break;
		case 'P':
			tracer_config.poll_us = parse_uint(optarg, "--poll-us");
			break;
		case 'S':
			tracer_config.system = true;
			break;
		case 'D':
			tracer_config.stack_depth = parse_uint(optarg, "--stack-depth");
			if (!tracer_config.stack_depth || tracer_config.stack_depth > UNWIND_MAX_DEPTH)
				die("--stack-depth: between 1 and %u", UNWIND_MAX_DEPTH);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("vmatraced %s\n", VMATRACE_VERSION);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc)
		die("unexpected argument '%s'", argv[optind]);
}

/*
 * Detach from the client that started us: a new session, stdio on /dev/null and the log
 * file. The first process waits until the daemon listens, so that the client can connect
 * as soon as it has reaped it. Returns in the daemon; the write end of @ready is left open
 * for the caller to close when listening.
 */
static int daemonize(void)
{
	int ready[2];
	char c;

	if (pipe2(ready, O_CLOEXEC) < 0)
		die("pipe: %m");
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %m");
	if (pid > 0) {
		close(ready[1]);
		/* EOF without a byte: the daemon failed (its log says why) or lost a race. */
		_exit(read(ready[0], &c, 1) == 1 ? 0 : 3);
	}
	close(ready[0]);
	setsid();
	if (chdir("/") < 0)
		die("chdir: %m");
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		close(null);
	}
	return ready[1];
}

static void log_to_file(void)
{
	char dir[4000], path[4096];

	int r = tracer_config.system ? paths_system_dir(dir, sizeof(dir)) :
				       paths_runtime_dir(dir, sizeof(dir));
	if (r < 0 || paths_join(path, sizeof(path), dir, PATHS_LOG))
		return;
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
}

int main(int argc, char **argv)
{
	sigset_t mask;
	int lock_fd, ready = -1;

	log_prog = "vmatraced";
	log_with_pid = 1;
	log_max_level = LOG_INFO;
	parse_args(argc, argv);
	if (tracer_config.system && geteuid() != 0)
		die("--system needs root");

	/* Blocked before any thread exists (the store's writers), read through a signalfd. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Before daemonize(): LISTEN_PID names this process, not a forked one. */
	const char *why;
	int fd = server_activation_fd(&why);
	if (fd >= 0)
		arg_server.listen_fd = fd;
	else if (fd != -ENOENT)
		die("socket activation: %s", why);

	if (!arg_foreground && fd < 0)
		ready = daemonize();
	int r = server_listen(&arg_server, &lock_fd);
	if (r == -EADDRINUSE) {
		/* Another daemon runs for this user: that is what the caller wanted. */
		if (ready >= 0) {
			ssize_t w = write(ready, "!", 1);
			(void)w;
		}
		if (arg_foreground || fd >= 0)
			die("another vmatraced is already running for this user");
		return 0;
	}
	if (r < 0)
		die("cannot listen: %s", strerror(-r));
	if (ready >= 0) {
		log_to_file();
		ssize_t w = write(ready, "!", 1);
		(void)w;
		close(ready);
	}
	r = server_run();
	close(lock_fd);
	return r < 0 ? 1 : 0;
}
