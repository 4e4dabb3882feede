/* SPDX-License-Identifier: MIT */
/*
 * /proc facts about a process, for attach. Returned strings are malloc'ed (caller frees).
 */
#ifndef VMATRACE_PROCINFO_H
#define VMATRACE_PROCINFO_H

#include <sys/types.h>

/*
 * procinfo_attach_check - may a client of @uid/@gid attach to @pid? 0, or -errno with a
 * one-line reason in *ret_msg: no such process, a kernel thread, a zombie, already traced,
 * not the user's: the kernel's ptrace_may_access() rules for the client's credentials
 * (every uid and gid of the process the client's, no permitted capability, dumpable);
 * root may attach to anything.
 */
int procinfo_attach_check(pid_t pid, uid_t uid, gid_t gid, char **ret_msg);

/* procinfo_creds_check - the credential part of that, for every thread of @pid. */
int procinfo_creds_check(pid_t pid, uid_t uid, gid_t gid, char **ret_msg);

/*
 * procinfo_traced_by - the one line for "@pid is already traced by @tracer": by this
 * daemon or another vmatraced ("already traced by vmatrace"), else by the tracer's name.
 */
char *procinfo_traced_by(pid_t pid, pid_t tracer);

/* procinfo_tracer - the TracerPid of @pid: 0 if untraced, -errno if unknown. */
pid_t procinfo_tracer(pid_t pid);

/* procinfo_ids - the thread group and the parent of task @pid; -ESRCH if it is gone. */
int procinfo_ids(pid_t pid, pid_t *ret_tgid, pid_t *ret_ppid);

/*
 * procinfo_no_new_privs - 1 if @pid has no_new_privs (PR_SET_NO_NEW_PRIVS: no exec of it or
 * of its descendants can gain privileges), 0 if not, -errno if unknown.
 */
int procinfo_no_new_privs(pid_t pid);

/* procinfo_cmdline_json - /proc/@pid/cmdline as a JSON array; argv[0] in *ret_program. */
char *procinfo_cmdline_json(pid_t pid, char **ret_program);

#endif
