// SPDX-License-Identifier: MIT
/*
 * vmatrace stop: ask the daemon to exit, and wait until it has, so that the next command
 * starts a fresh one (a test suite or an upgrade relies on that).
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "client.h"
#include "log.h"
#include "proto.h"

int cmd_stop(int argc, char **argv)
{
	struct conn c;
	pid_t dpid;
	struct proto_msg m = { .type = PROTO_STOP }, reply;

	args_simple(argc, argv,
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
	if (daemon_finish(&c, &reply, "stop: ")) {
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
