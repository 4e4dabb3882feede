/* SPDX-License-Identifier: MIT */
/*
 * /proc facts about a process, for attach. Returned strings are malloc'ed (caller frees).
 */
#ifndef VMATRACE_PROCINFO_H
#define VMATRACE_PROCINFO_H

#include <sys/types.h>

/*
 * procinfo_attach_check - may a client of @uid attach to @pid? 0, or -errno with a
 * one-line reason in *ret_msg: no such process, a kernel thread, a zombie, already traced,
 * not the user's (real and effective uid must be @uid; root may attach to anything).
 */
int procinfo_attach_check(pid_t pid, uid_t uid, char **ret_msg);

/*
 * procinfo_no_new_privs - 1 if @pid has no_new_privs (PR_SET_NO_NEW_PRIVS: no exec of it or
 * of its descendants can gain privileges), 0 if not, -errno if unknown.
 */
int procinfo_no_new_privs(pid_t pid);

/* procinfo_cmdline_json - /proc/@pid/cmdline as a JSON array; argv[0] in *ret_program. */
char *procinfo_cmdline_json(pid_t pid, char **ret_program);

#endif
