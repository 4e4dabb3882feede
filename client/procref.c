// SPDX-License-Identifier: MIT
/*
 * Processes named on the command line. The kernel reuses pids, so one trace may hold
 * several processes with the same pid: "PID" means the most recent of them, "PID@N" the
 * Nth in order of appearance (from 1), as `vmatrace ps` numbers them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "log.h"
#include "store.h"

int resolve_process(struct store_ro *r, const char *cmd, const char *db,
		    const struct proc_ref *ref, struct store_proc_info *ret)
{
	char name[PROC_REF_NAME_MAX];
	uint64_t count = 0;
	int err = store_query_process_nth(r, ref->pid, ref->nth, ret);

	if (err == -ENOENT && store_count_pid(r, ref->pid, &count) == 0 && count)
		log_error("%s: no process %s in '%s' (pid %d was used by %" PRIu64
			  " process%s: %d@1..%d@%" PRIu64 ")", cmd, proc_ref_name(ref, name), db,
			  ref->pid, count, count == 1 ? "" : "es", ref->pid, ref->pid, count);
	else if (err == -ENOENT)
		log_error("%s: no process %s in '%s' (see 'vmatrace ps')", cmd,
			  proc_ref_name(ref, name), db);
	else if (err < 0)
		db_read_error(cmd, db, r, err);
	return err < 0 ? -1 : 0;
}

int process_mm_at(struct store_ro *r, const char *cmd, const char *db,
		  const struct proc_ref *ref, const struct store_proc_info *p, uint64_t *at,
		  uint64_t *ret_mm)
{
	char name[PROC_REF_NAME_MAX];
	uint64_t last, mm = 0;
	int err = store_query_last_seq(r, &last);

	if (err < 0) {
		db_read_error(cmd, db, r, err);
		return -1;
	}
	if (*at > last) {
		log_error("%s: event %" PRIu64 " is past the end of the trace (last: %" PRIu64 ")",
			  cmd, *at, last);
		return -1;
	}
	/* Default: the last state, the one just before the process's end. */
	if (!*at)
		*at = p->end_seq ? p->end_seq - 1 : last;
	err = store_query_mm_of_process(r, p->id, *at, &mm);
	/* mm 0 is the client's own image before the first execve: not recorded. */
	if (err == -ENOENT || (err == 0 && (!mm || *at < p->start_seq ||
					    (p->end_seq && *at >= p->end_seq)))) {
		char end[32] = "the end of the trace";

		if (p->end_seq)
			snprintf(end, sizeof(end), "event %" PRIu64, p->end_seq);
		log_error("%s: process %s had no recorded map after event %" PRIu64
			  " (it lived from event %" PRIu64 " to %s)", cmd,
			  proc_ref_name(ref, name), *at, p->start_seq, end);
		return -1;
	}
	if (err < 0) {
		db_read_error(cmd, db, r, err);
		return -1;
	}
	*ret_mm = mm;
	return 0;
}
