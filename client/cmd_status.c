// SPDX-License-Identifier: MIT
/*
 * vmatrace status: the daemon's live traces, one line each (its pid, program, events so
 * far and their rate, DB). It never starts a daemon: none running means no traces.
 */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "log.h"
#include "proto.h"

int cmd_status(int argc, char **argv)
{
	struct conn c;
	pid_t dpid;
	struct proto_msg m = { .type = PROTO_STATUS }, reply;

	args_simple(argc, argv, "Usage: vmatrace status\n\nList the daemon's live traces.\n");
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
