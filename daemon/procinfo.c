// SPDX-License-Identifier: MIT
/*
 * What /proc says about a process we are asked to attach to: whether we may (and the
 * one-line reason if not), and its command line.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "procinfo.h"
#include "procmap.h"
#include "sysent.h"
#include "xalloc.h"

#define PF_KTHREAD 0x00200000 /* /proc/PID/stat flags: a kernel thread */

/* A "Key:\tvalue" line of /proc/PID/status, into @buf. */
static bool status_field(const char *status, const char *key, char *buf, size_t size)
{
	size_t n = strlen(key);

	for (const char *l = status; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (!strncmp(l, key, n) && l[n] == ':') {
			const char *v = l + n + 1;
			v += strspn(v, " \t");
			size_t len = strcspn(v, "\n");
			if (len >= size)
				len = size - 1;
			memcpy(buf, v, len);
			buf[len] = '\0';
			return true;
		}
	}
	return false;
}

/*
 * Whether @uid may have us attach to @pid, and why not: the one-line reasons a user sees.
 * Returns 0 or -errno with *ret_msg set.
 */
int procinfo_attach_check(pid_t pid, uid_t uid, char **ret_msg)
{
	char state[64], tracer[32], uids[128], *st = NULL, *stat = NULL;
	unsigned long long flags = 0;
	size_t len;

	if (proc_read(pid, "status", &st, &len) < 0) {
		*ret_msg = xasprintf("no process %d", pid);
		return -ESRCH;
	}
	bool ok = status_field(st, "State", state, sizeof(state)) &&
		  status_field(st, "TracerPid", tracer, sizeof(tracer)) &&
		  status_field(st, "Uid", uids, sizeof(uids));
	free(st);
	if (proc_read(pid, "stat", &stat, &len) < 0)
		stat = NULL;
	char *rp = stat ? strrchr(stat, ')') : NULL;
	/* fields after comm: state ppid pgrp session tty_nr tpgid flags */
	if (rp)
		sscanf(rp + 1, " %*c %*d %*d %*d %*d %*d %llu", &flags);
	free(stat);
	if (!ok) {
		*ret_msg = xasprintf("no process %d", pid);
		return -ESRCH;
	}
	if (flags & PF_KTHREAD) {
		*ret_msg = xasprintf("pid %d is a kernel thread: it has no user address space", pid);
		return -EPERM;
	}
	if (state[0] == 'Z' || state[0] == 'X') {
		*ret_msg = xasprintf("pid %d is a zombie: it has exited", pid);
		return -ESRCH;
	}
	if (atoi(tracer) != 0) {
		*ret_msg = xasprintf("pid %d is already traced (by pid %s)", pid, tracer);
		return -EBUSY;
	}
	unsigned ruid = 0, euid = 0;
	sscanf(uids, "%u %u", &ruid, &euid);
	if (uid != 0 && (ruid != uid || euid != uid)) {
		*ret_msg = xasprintf("pid %d is not your process (uid %u)", pid, euid);
		return -EPERM;
	}
	return 0;
}

int procinfo_no_new_privs(pid_t pid)
{
	char val[16], *st = NULL;
	size_t len;

	if (proc_read(pid, "status", &st, &len) < 0)
		return -ESRCH;
	bool found = status_field(st, "NoNewPrivs", val, sizeof(val));
	free(st);
	if (!found)
		return -ENOSYS; /* before Linux 4.10: the field is not shown */
	return atoi(val) == 1;
}

/* /proc/PID/cmdline as a JSON array, and argv[0] for the program column. */
char *procinfo_cmdline_json(pid_t pid, char **ret_program)
{
	char *json = NULL, *raw = NULL;
	size_t len = 0, n = 0;

	if (proc_read(pid, "cmdline", &raw, &n) < 0)
		raw = NULL;
	FILE *f = open_memstream(&json, &len);
	if (!f)
		die("out of memory");
	fputc('[', f);
	for (size_t i = 0; raw && i < n; i += strlen(raw + i) + 1) {
		if (i)
			fputc(',', f);
		json_print_string(f, raw + i);
	}
	fputc(']', f);
	fclose(f);
	*ret_program = xstrdup(raw && n ? raw : "?");
	free(raw);
	return json;
}
