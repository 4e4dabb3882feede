/* SPDX-License-Identifier: MIT */
/*
 * The daemon's event loop: the listening socket, client sessions, signals (SIGCHLD drives
 * the tracer; SIGTERM/SIGINT stop the daemon gracefully) and the idle timer.
 */
#ifndef VMATRACE_SERVER_H
#define VMATRACE_SERVER_H

struct server_config {
	unsigned idle_exit_s;   /* exit after this long with no trace and no client; 0: never */
	int listen_fd;          /* a listening socket passed by systemd (LISTEN_FDS), or -1 */
};

/*
 * server_activation_fd - the listening socket systemd passed us, if any: sd_listen_fds()'s
 * protocol without libsystemd. With LISTEN_PID equal to our pid and LISTEN_FDS=1, fd 3 must
 * be a listening AF_UNIX stream socket; it is made CLOEXEC and non-blocking. LISTEN_PID,
 * LISTEN_FDS and LISTEN_FDNAMES are unset either way, so that no child inherits them.
 * Returns the fd, -ENOENT when we were not socket-activated, or -errno (-EINVAL: not one
 * socket, -ENOTSOCK/-EPROTOTYPE: not what we serve) with the reason in *@ret_why.
 */
int server_activation_fd(const char **ret_why);

/*
 * server_listen - take the per-user lock and bind the socket (see lib/paths.h). Returns 0
 * with the lock fd (held for the daemon's life) in @ret_lock_fd; -EADDRINUSE when another
 * daemon holds the lock; -errno otherwise. With @cfg->listen_fd >= 0 (socket activation)
 * it takes the lock but serves that socket: it neither binds nor ever unlinks a socket file.
 */
int server_listen(const struct server_config *cfg, int *ret_lock_fd);

/* server_run - serve until stopped (SIGTERM, SIGINT, STOP, idle). Signals SIGCHLD, SIGTERM
 * and SIGINT must be blocked in every thread before any thread is created. 0 or -errno. */
int server_run(void);

#endif
