// SPDX-License-Identifier: MIT
/*
 * What /proc says about a process we are asked to attach to: whether we may (and the
 * one-line reason if not), and its command line.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
 * The kernel's ptrace_may_access() rules, for a client of @uid/@gid: every uid of the task
 * (real, effective, saved, filesystem) is the client's, and every gid; no capability the
 * client lacks (a user's client is taken to have none: a task with permitted capabilities
 * needs root); and a dumpable process (a set-uid program or PR_SET_DUMPABLE 0 is not, and
 * its /proc files then belong to root). The daemon checks it itself because, in system
 * mode, the kernel would let it (CAP_SYS_PTRACE) where the user could not.
 * @what: "status" (the leader) or "task/TID/status" (a thread: credentials are per thread).
 */
static int creds_check(pid_t pid, const char *what, uid_t uid, gid_t gid, char **ret_msg)
{
	char uids[128], gids[128], caps[64], path[64], *st = NULL;
	unsigned u[4] = { 0 }, g[4] = { 0 };
	struct stat sb;
	size_t len;

	if (uid == 0)
		return 0;
	if (proc_read(pid, what, &st, &len) < 0) {
		*ret_msg = xasprintf("no process %d", pid);
		return -ESRCH;
	}
	bool ok = status_field(st, "Uid", uids, sizeof(uids)) &&
		  status_field(st, "Gid", gids, sizeof(gids));
	if (!status_field(st, "CapPrm", caps, sizeof(caps)))
		strcpy(caps, "0");
	free(st);
	if (!ok || sscanf(uids, "%u %u %u %u", &u[0], &u[1], &u[2], &u[3]) != 4 ||
	    sscanf(gids, "%u %u %u %u", &g[0], &g[1], &g[2], &g[3]) != 4) {
		*ret_msg = xasprintf("no process %d", pid);
		return -ESRCH;
	}
	if (u[0] != uid || u[1] != uid) {
		*ret_msg = xasprintf("pid %d is not your process (uid %u)", pid, u[1]);
		return -EPERM;
	}
	if (u[2] != uid || u[3] != uid) {
		*ret_msg = xasprintf("pid %d can act as uid %u (its saved or filesystem uid): only "
				     "root may trace it", pid, u[2] != uid ? u[2] : u[3]);
		return -EPERM;
	}
	for (int i = 0; i < 4; i++)
		if (g[i] != gid) {
			*ret_msg = xasprintf("pid %d can act as group %u (its real, effective, saved "
					     "or filesystem gid; yours is %u): only root may trace "
					     "it", pid, g[i], (unsigned)gid);
			return -EPERM;
		}
	if (strtoull(caps, NULL, 16) != 0) {
		*ret_msg = xasprintf("pid %d has capabilities (CapPrm %s): only root may trace it",
				     pid, caps);
		return -EPERM;
	}
	/* (the files, not the directory: its owner is not updated when dumpable changes) */
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (stat(path, &sb) < 0) {
		*ret_msg = xasprintf("no process %d", pid);
		return -ESRCH;
	}
	if (sb.st_uid != uid) {
		*ret_msg = xasprintf("pid %d is not dumpable (a set-uid program or PR_SET_DUMPABLE "
				     "0): only root may trace it", pid);
		return -EPERM;
	}
	return 0;
}

/*
 * Whether @uid may have us attach to @pid, and why not: the one-line reasons a user sees.
 * Returns 0 or -errno with *ret_msg set.
 */
int procinfo_attach_check(pid_t pid, uid_t uid, gid_t gid, char **ret_msg)
{
	char state[64], tracer[32], *st = NULL, *stat = NULL;
	unsigned long long flags = 0;
	size_t len;

	if (proc_read(pid, "status", &st, &len) < 0) {
		*ret_msg = xasprintf("no process %d", pid);
		return -ESRCH;
	}
	bool ok = status_field(st, "State", state, sizeof(state)) &&
		  status_field(st, "TracerPid", tracer, sizeof(tracer));
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
		*ret_msg = procinfo_traced_by(pid, atoi(tracer));
		return -EBUSY;
	}
	return procinfo_creds_check(pid, uid, gid, ret_msg);
}

int procinfo_creds_check(pid_t pid, uid_t uid, gid_t gid, char **ret_msg)
{
	char path[64], what[64];
	int r = creds_check(pid, "status", uid, gid, ret_msg);

	if (r < 0 || uid == 0)
		return r;
	/* Credentials are per thread: a thread may have switched ids the others have not. */
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	struct dirent *de;
	while (r == 0 && d && (de = readdir(d))) {
		pid_t tid = (pid_t)atoi(de->d_name);
		if (tid <= 0 || tid == pid)
			continue;
		snprintf(what, sizeof(what), "task/%d/status", (int)tid);
		r = creds_check(pid, what, uid, gid, ret_msg);
		if (r == -ESRCH) { /* that thread just ended */
			free(*ret_msg);
			*ret_msg = NULL;
			r = 0;
		}
	}
	if (d)
		closedir(d);
	return r;
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

int procinfo_ids(pid_t pid, pid_t *ret_tgid, pid_t *ret_ppid)
{
	char tgid[32], ppid[32], *st = NULL;
	size_t len;

	if (proc_read(pid, "status", &st, &len) < 0)
		return -ESRCH;
	bool found = status_field(st, "Tgid", tgid, sizeof(tgid)) &&
		     status_field(st, "PPid", ppid, sizeof(ppid));
	free(st);
	if (!found)
		return -ESRCH;
	*ret_tgid = (pid_t)atoi(tgid);
	*ret_ppid = (pid_t)atoi(ppid);
	return 0;
}

pid_t procinfo_tracer(pid_t pid)
{
	char val[32], *st = NULL;
	size_t len;

	if (proc_read(pid, "status", &st, &len) < 0)
		return -ESRCH;
	bool found = status_field(st, "TracerPid", val, sizeof(val));
	free(st);
	return found ? (pid_t)atoi(val) : 0;
}

char *procinfo_traced_by(pid_t pid, pid_t tracer)
{
	char comm[64] = "", *text = NULL;
	size_t len;

	if (tracer == getpid())
		return xasprintf("pid %d is already traced by vmatrace (this daemon, pid %d): a "
				 "process has one tracer, so traces cannot nest", pid, (int)tracer);
	if (proc_read(tracer, "comm", &text, &len) == 0) {
		snprintf(comm, sizeof(comm), "%.*s", (int)strcspn(text, "\n"), text);
		free(text);
	}
	if (!strcmp(comm, "vmatraced"))
		return xasprintf("pid %d is already traced by vmatrace (vmatraced pid %d): a "
				 "process has one tracer, so traces cannot nest", pid, (int)tracer);
	return xasprintf("pid %d is already traced by %s (pid %d): a process has one tracer",
			 pid, comm[0] ? comm : "another process", (int)tracer);
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
