// SPDX-License-Identifier: MIT
/*
 * What to do when the kernel refuses to let us trace: one "vmatrace: hint: ..." line after
 * the error line, chosen from what this machine says (Yama's ptrace_scope, the target's
 * owner). README.md's "Permissions" section lists the same cases with the same words.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"

#define YAMA_SCOPE_FILE "/proc/sys/kernel/yama/ptrace_scope"

int yama_ptrace_scope(void)
{
	FILE *f = fopen(YAMA_SCOPE_FILE, "re");
	int v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

const char *yama_meaning(int scope)
{
	switch (scope) {
	case -1:
		return "Yama is not active: the usual ptrace rules apply";
	case 0:
		return "classic: any process of the same user may be traced";
	case 1:
		return "restricted: only descendants, or a tracer named with PR_SET_PTRACER";
	case 2:
		return "admin-only: tracing needs CAP_SYS_PTRACE";
	case 3:
		return "no attach: nobody may trace, until the next boot";
	default:
		return "unknown value";
	}
}

/* The real and effective uid of @pid and the owner of /proc/PID/status (root for a process
 * that is not dumpable: set-uid programs, PR_SET_DUMPABLE 0). false if it is gone. */
static bool target_uids(pid_t pid, uid_t *ruid, uid_t *euid, uid_t *owner)
{
	char path[64], line[256];
	struct stat st;
	bool found = false;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (stat(path, &st) < 0)
		return false;
	*owner = st.st_uid;
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned r, e;
		if (sscanf(line, "Uid: %u %u", &r, &e) == 2) {
			*ruid = r;
			*euid = e;
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

/* A kernel thread has no address space to trace: the daemon's refusal says it all. */
static bool is_kernel_thread(pid_t pid)
{
	char path[64], buf[512];
	unsigned long long flags = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: the fields start after the last ')' */
	char *p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %llu", &flags) != 1)
		return false;
	return flags & 0x00200000; /* PF_KTHREAD */
}

void advise_trace_error(int err, pid_t pid, bool attach)
{
	uid_t me = getuid(), ruid, euid, owner;
	int scope = yama_ptrace_scope();

	if ((err != EPERM && err != EACCES) || is_kernel_thread(pid))
		return;
	if (attach && me != 0 && target_uids(pid, &ruid, &euid, &owner) &&
	    (ruid != me || euid != me || owner != me)) {
		fprintf(stderr, "vmatrace: hint: pid %d belongs to another user%s; only root may "
				"trace it: sudo vmatrace attach %d\n",
			pid, owner != me && ruid == me && euid == me ?
				     " (it is not dumpable: a set-uid program or PR_SET_DUMPABLE 0)" :
				     "",
			pid);
		return;
	}
	if (scope == 3) {
		fprintf(stderr, "vmatrace: hint: kernel.yama.ptrace_scope is 3: no process may be "
				"traced until the next boot (the value cannot be lowered)\n");
		return;
	}
	if (attach && scope == 1) {
		fprintf(stderr, "vmatrace: hint: kernel.yama.ptrace_scope is 1: only a process's "
				"ancestors may attach to it; use 'vmatrace run', or 'sudo vmatrace "
				"attach %d', or 'sudo sysctl kernel.yama.ptrace_scope=0'\n", pid);
		return;
	}
	if (attach && scope == 2) {
		fprintf(stderr, "vmatrace: hint: kernel.yama.ptrace_scope is 2: attaching needs "
				"CAP_SYS_PTRACE: 'sudo vmatrace attach %d', or use 'vmatrace run'\n",
			pid);
		return;
	}
	fprintf(stderr, "vmatrace: hint: ptrace is forbidden here, even on your own processes: "
			"in a container, allow it (docker run --cap-add=SYS_PTRACE, and "
			"--security-opt seccomp=unconfined before Docker 19.03); see "
			"'vmatrace doctor'\n");
}

void advise_seccomp_error(int err)
{
	if (err == EINVAL)
		fprintf(stderr, "vmatrace: hint: this kernel has no seccomp filters "
				"(CONFIG_SECCOMP_FILTER); 'vmatrace run' needs them, 'vmatrace "
				"attach' does not\n");
	else if (err == EACCES || err == EPERM || err == EFAULT)
		fprintf(stderr, "vmatrace: hint: a seccomp policy forbids installing filters "
				"here: in a container, run it with --security-opt "
				"seccomp=unconfined, or use 'vmatrace attach'\n");
}
