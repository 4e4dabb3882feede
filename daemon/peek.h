/* SPDX-License-Identifier: MIT */
/*
 * Reading a tracee's memory. The tracee must be stopped (or the data may change under us).
 * Returned strings are malloc'ed and owned by the caller.
 */
#ifndef VMATRACE_PEEK_H
#define VMATRACE_PEEK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARGV_MAX_BYTES 32768    /* execve argv kept as metadata, truncated past this */
#define ARGV_MAX_COUNT 256

/* peek - read @len bytes at @addr of @tid; process_vm_readv's result. */
ssize_t peek(pid_t tid, uint64_t addr, void *buf, size_t len);

/* peek_string - the NUL-terminated string at @addr (at most @max bytes), NULL if unreadable. */
char *peek_string(pid_t tid, uint64_t addr, size_t max);

/* peek_argv - the argv array at @argv_addr as a JSON array of strings ("[]" if none). */
char *peek_argv(pid_t tid, uint64_t argv_addr);

#endif
