// SPDX-License-Identifier: MIT
/*
 * Reaching the daemon: connect to the per-user socket, start vmatraced on demand when none
 * answers, and exchange HELLO, then requests on that connection. The commands that only
 * talk to the daemon are cmd_status.c, cmd_stop.c and cmd_detach.c.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
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

int daemon_request(struct conn *c, const struct proto_msg *m, struct proto_msg *reply)
{
	int r = conn_send(c, m);

	if (r == 0)
		r = conn_recv(c, reply);
	if (r < 0) {
		log_error("the daemon did not answer: %s", strerror(-r));
		return r;
	}
	return 0;
}

int daemon_finish(struct conn *c, struct proto_msg *reply, const char *prefix)
{
	/* OK is an ERROR message with errno 0 (proto.h) */
	int err = reply->type == PROTO_ERROR ? (int)reply->u.error.err : EPROTO;

	if (err)
		log_error("%s%s", prefix, reply->type == PROTO_ERROR ?
				 reply->u.error.message : "unexpected answer from the daemon");
	proto_msg_release(reply);
	close(c->fd);
	conn_release(c);
	return err;
}
