/* SPDX-License-Identifier: MIT */
/*
 * Syscall knowledge shared by daemon and client: the x86_64 syscall table (number <-> name),
 * the set of syscalls vmatrace records, and decoding of an event into strace-like text and
 * JSON Lines.
 *
 * Text format (one line, no trailing newline written by the caller's FILE unless said):
 *   [1234] mmap(NULL, 65536, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f3b2c000000
 *   [1234] munmap(0x7f3b2c000000, 65536) = -1 EINVAL (Invalid argument)
 *   [1234] execve("/usr/bin/python3", ["python3", "-c", "print(42)"], ...) = 0
 *   [1234] +++ exited with 0 +++          (EVENT_TASK_EXIT; "+++ killed by SIGKILL +++")
 * The [pid] prefix names the tid when tid != pid: "[1234/1240]".
 *
 * JSON Lines: {"seq":3,"time_ns":...,"pid":1234,"tid":1234,"mm":1,"syscall":"mmap",
 *   "args":[0,8192,3,34,-1,0],"ret":139893...,"errno":"EINVAL"(failures only),
 *   "path":..., "dev":"08:01", "ino":..., "argv":[...] (when present)}
 * args are printed as signed 64-bit integers for fd-like args, unsigned otherwise.
 */
#ifndef VMATRACE_SYSENT_H
#define VMATRACE_SYSENT_H

#include <stdbool.h>
#include <stdio.h>

#include "event.h"

/* sysent_name - the x86_64 name of syscall @nr ("mmap"), or NULL if unknown. */
const char *sysent_name(int nr);

/* sysent_lookup - the number of syscall @name, or -1. Accepts every x86_64 name. */
int sysent_lookup(const char *name);

/* The syscalls vmatrace records (stopped by the seccomp filter), sorted by number. */
extern const int sysent_recorded[];
extern const unsigned sysent_n_recorded;
bool sysent_is_recorded(int nr);

/*
 * sysent_parse_list - parse a comma-separated --syscall LIST ("mmap,munmap" or "%memory",
 * "%process" classes) into numbers. Returns the count (>= 0) with a malloc'ed array in
 * @ret_nrs, or -EINVAL with the offending name in @ret_bad (static or pointing into @list,
 * valid while @list is).
 */
int sysent_parse_list(const char *list, int **ret_nrs, const char **ret_bad);

/* event_print - print @ev as one strace-like line plus '\n' to @out. */
void event_print(const struct event *ev, FILE *out);

/* event_print_json - print @ev as one JSON object plus '\n' to @out. */
void event_print_json(const struct event *ev, FILE *out);

/* errno_name - "ENOMEM" for 12, NULL if unknown. */
const char *errno_name(int err);

#endif
