// SPDX-License-Identifier: MIT
/*
 * vmatrace detach: stop tracing an attached process from another terminal, as Ctrl-C in
 * its `vmatrace attach` does; the process goes on running untraced.
 */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "client.h"
#include "log.h"
#include "proto.h"

int cmd_detach(int argc, char **argv)
{
	static const struct option opts[] = { ARG_OPT_HELP, {} };
	struct conn c;
	pid_t dpid;
	int ch;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h') {
			printf("Usage: vmatrace detach PID\n\nStop tracing the attached process "
			       "PID and leave it running.\n");
			return 0;
		}
		return 2;
	}
	if (optind != argc - 1)
		die("detach: expected one pid (see 'vmatrace detach --help')");
	pid_t pid = parse_pid(argv[optind], "pid");
	if (daemon_connect(&c, false, &dpid) < 0)
		return 1;
	struct proto_msg m = { .type = PROTO_DETACH }, reply;
	m.u.detach.pid = (uint32_t)pid;
	if (daemon_request(&c, &m, &reply) < 0) {
		close(c.fd);
		conn_release(&c);
		return 1;
	}
	return daemon_finish(&c, &reply, "") ? 1 : 0;
}
