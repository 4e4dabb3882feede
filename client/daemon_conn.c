// SPDX-License-Identifier: MIT
/*
 * Reaching the daemon: connect to the per-user socket, start vmatraced on demand when none
 * answers, and exchange HELLO. Also the small commands that only talk to the daemon
 * (status, stop).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "log.h"
#include "paths.h"
#include "proto.h"
#include "xalloc.h"

int daemon_socket_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

char *daemon_binary(void)
{
	const char *env = getenv("VMATRACED");
	char self[PATH_MAX];

	if (env && *env)
		return xstrdup(env);
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *path = xasprintf("%s/vmatraced", dirname(self));
		if (access(path, X_OK) == 0)
			return path;
		free(path);
	}
	return xstrdup("vmatraced");
}

static int start_daemon(void)
{
	char *bin = daemon_binary();
	pid_t pid = fork();
	int status;

	if (pid < 0) {
		free(bin);
		return -errno;
	}
	if (pid == 0) {
		execlp(bin, "vmatraced", "--idle-exit", "600", (char *)NULL);
		log_error("cannot start the daemon '%s': %m", bin);
		_exit(127);
	}
	free(bin);
	/* The first vmatraced process exits once the daemon listens (or failed). */
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return -ENOENT;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

/*
 * Connect to the socket @name in @dir if both are ours (or root's): a daemon listening
 * there gets our pid to trace and our programs' memory. -EPERM after one line saying why.
 */
static int trusted_connect(const char *dir, const char *name)
{
	char path[4096], why[4200];
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int r = paths_check_socket(dir, name, geteuid(), why, sizeof(why));

	if (r == -EPERM) {
		log_error("refusing to use the daemon socket: %s (remove it, or set "
			  "VMATRACE_SOCKET_DIR)", why);
		return r;
	}
	if (r < 0 && r != -ENOENT)
		return r;
	if (paths_join(path, sizeof(path), dir, name) < 0)
		return -ENAMETOOLONG;
	int fd = daemon_socket_connect(path);
	if (fd < 0)
		return fd;
	/* And the one who listens is us or root (the checks above raced with a rename). */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid != geteuid() &&
	    cred.uid != 0) {
		log_error("refusing to use the daemon socket %s: its daemon runs as uid %u, not "
			  "as you or root", path, (unsigned)cred.uid);
		close(fd);
		return -EPERM;
	}
	return fd;
}

int daemon_connect(struct conn *c, bool autostart, pid_t *ret_pid)
{
	char dir[4000], path[4096];
	int fd, r;

	if (paths_runtime_dir(dir, sizeof(dir)) < 0 ||
	    paths_join(path, sizeof(path), dir, PATHS_SOCKET) < 0) {
		log_error("the runtime directory path is too long");
		return -ENAMETOOLONG;
	}
	fd = trusted_connect(dir, PATHS_SOCKET);
	if (fd == -EPERM)
		return fd;
	/* No daemon of our own: a system daemon (vmatraced --system) serves us as well. */
	if (fd < 0 && !getenv("VMATRACE_SOCKET_DIR")) {
		int sfd = trusted_connect(PATHS_SYSTEM_DIR, PATHS_SOCKET);
		if (sfd == -EPERM)
			return sfd;
		if (sfd >= 0)
			fd = sfd;
	}
	if (fd < 0 && autostart && (fd == -ENOENT || fd == -ECONNREFUSED)) {
		r = start_daemon();
		if (r < 0) {
			log_error("cannot start the daemon (vmatraced): %s; see %s/%s",
				  r == -ENOENT ? "program not found" : "it failed to start", dir,
				  PATHS_LOG);
			return r;
		}
		fd = trusted_connect(dir, PATHS_SOCKET);
		if (fd == -EPERM)
			return fd;
	}
	if (fd < 0) {
		if (fd == -ENOENT || fd == -ECONNREFUSED)
			log_error("no daemon is running (socket %s)", path);
		else
			log_error("cannot connect to the daemon at %s: %s", path, strerror(-fd));
		return fd;
	}
	conn_init(c, fd);
	struct proto_msg m = { .type = PROTO_HELLO };
	m.u.hello.pid = (uint32_t)getpid();
	m.u.hello.version = (char *)VMATRACE_VERSION;
	struct proto_msg reply;
	r = conn_send(c, &m);
	/* A daemon that refuses us says why and closes: read that even if our send failed. */
	if (r == 0 || r == -EPIPE || r == -ECONNRESET)
		r = conn_recv(c, &reply);
	if (r < 0) {
		log_error("the daemon did not answer: %s", strerror(-r));
		goto error_close;
	}
	if (reply.type != PROTO_HELLO) {
		if (reply.type == PROTO_ERROR)
			log_error("the daemon refused: %s", reply.u.error.message);
		else
			log_error("the daemon answered with an unexpected %s",
				  proto_type_name(reply.type));
		proto_msg_release(&reply);
		r = -EPROTO;
		goto error_close;
	}
	*ret_pid = (pid_t)reply.u.hello.pid;
	proto_msg_release(&reply);
	return 0;

error_close:
	close(fd);
	conn_release(c);
	return r;
}

static int simple_command(int argc, char **argv, const char *help)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, {} };
	int ch;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h') {
			printf("%s", help);
			exit(0);
		}
		fprintf(stderr, "%s", help);
		exit(2);
	}
	if (optind < argc)
		die("%s: unexpected argument '%s'", argv[0], argv[optind]);
	return 0;
}

int cmd_status(int argc, char **argv)
{
	struct conn c;
	pid_t dpid;
	struct proto_msg m = { .type = PROTO_STATUS }, reply;

	simple_command(argc, argv, "Usage: vmatrace status\n\nList the daemon's live traces.\n");
	if (daemon_connect(&c, false, &dpid) < 0)
		return 1;
	int r = conn_send(&c, &m);
	if (r == 0)
		r = conn_recv(&c, &reply);
	if (r < 0 || reply.type != PROTO_STATUS_REPLY)
		die("the daemon did not answer the status request");
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	printf("vmatraced pid %u, %u trace(s)\n", reply.u.status_reply.daemon_pid,
	       reply.u.status_reply.n);
	if (reply.u.status_reply.n)
		printf("%4s %8s %-16s %10s %10s  %s\n", "ID", "PID", "PROGRAM", "EVENTS",
		       "EVENTS/S", "DB");
	for (uint32_t i = 0; i < reply.u.status_reply.n; i++) {
		const struct proto_trace_info *t = &reply.u.status_reply.traces[i];
		double secs = (double)(now - t->start_mono_ns) / 1e9;
		printf("%4u %8u %-16s %10" PRIu64 " %10.0f  %s\n", t->trace_id, t->pid,
		       t->program, t->events, secs > 0 ? (double)t->events / secs : 0.0,
		       t->db_path);
	}
	proto_msg_release(&reply);
	close(c.fd);
	conn_release(&c);
	return 0;
}

int cmd_stop(int argc, char **argv)
{
	struct conn c;
	pid_t dpid;
	struct proto_msg m = { .type = PROTO_STOP }, reply;

	simple_command(argc, argv,
		       "Usage: vmatrace stop\n\nAsk the daemon to exit. It takes no new traces; "
		       "running traces go on to their end first.\n");
	if (daemon_connect(&c, false, &dpid) < 0)
		return 1;
	/* Opened before the request: the pid cannot be reused under us, and its exit (not its
	 * reaping by whoever is its parent) makes the fd readable. */
	int pidfd = dpid > 0 ? (int)syscall(SYS_pidfd_open, dpid, 0) : -1;
	int r = conn_send(&c, &m);
	if (r == 0)
		r = conn_recv(&c, &reply);
	if (r < 0)
		die("the daemon did not answer the stop request");
	int err = reply.type == PROTO_ERROR ? reply.u.error.err : EPROTO;
	if (err)
		log_error("stop: %s", reply.type == PROTO_ERROR ? reply.u.error.message :
								 "unexpected answer from the daemon");
	proto_msg_release(&reply);
	close(c.fd);
	conn_release(&c);
	if (err) {
		if (pidfd >= 0)
			close(pidfd);
		return 1;
	}
	/* Wait (bounded) until it is gone, so that a following command starts a new one. */
	if (pidfd >= 0) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		poll(&p, 1, 5000);
		close(pidfd);
	} else {
		/* no pidfd_open (Linux < 5.3): a zombie answers kill() until it is reaped */
		for (int i = 0; i < 500 && kill(dpid, 0) == 0; i++)
			usleep(10000);
	}
	return 0;
}
