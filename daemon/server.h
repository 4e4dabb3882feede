/* SPDX-License-Identifier: MIT */
/*
 * The daemon's event loop: the listening socket, client sessions, signals (SIGCHLD drives
 * the tracer; SIGTERM/SIGINT stop the daemon gracefully) and the idle timer.
 */
#ifndef VMATRACE_SERVER_H
#define VMATRACE_SERVER_H

struct server_config {
	unsigned idle_exit_s;   /* exit after this long with no trace and no client; 0: never */
};

/*
 * server_listen - take the per-user lock and bind the socket (see lib/paths.h). Returns 0
 * with the lock fd (held for the daemon's life) in @ret_lock_fd; -EADDRINUSE when another
 * daemon holds the lock; -errno otherwise.
 */
int server_listen(const struct server_config *cfg, int *ret_lock_fd);

/* server_run - serve until stopped (SIGTERM, SIGINT, STOP, idle). Signals SIGCHLD, SIGTERM
 * and SIGINT must be blocked in every thread before any thread is created. 0 or -errno. */
int server_run(void);

#endif
