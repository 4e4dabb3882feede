/* SPDX-License-Identifier: MIT */
/*
 * Asking the kernel about a tracee's VMAs: the PROCMAP_QUERY ioctl on /proc/PID/maps
 * (Linux 6.11+: one VMA with its file identity and build-id in well under a microsecond),
 * with a parse of the /proc/PID/maps text as the fallback on older kernels, and reading the
 * whole maps file (the initial layout at exec).
 */
#ifndef VMATRACE_PROCMAP_H
#define VMATRACE_PROCMAP_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

/* One VMA as the kernel reports it.
 *   7f3b2c000000-7f3b2c022000 r--p 00000000 08:01 131090  /usr/lib/x86_64-linux-gnu/libc.so.6 */
struct procmap_vma {
	uint64_t start, end;
	char perms[5];          /* "r-xp" */
	uint64_t offset;        /* file offset in bytes */
	uint64_t dev;           /* makedev(major, minor) */
	uint64_t ino;
	char name[4096];        /* path or [heap] etc., "" for none */
	char build_id[41];      /* lowercase hex, "" if none or unknown */
};

/* procmap_open - open /proc/@pid/maps (O_CLOEXEC). Returns the fd or -errno. */
int procmap_open(pid_t pid);

/*
 * procmap_query - the VMA covering @addr in the maps file @fd of @pid (@fd may be -1; the
 * fallback path then reads /proc/@pid/maps). With @want_build_id, asks for the build-id.
 * Returns 0, -ENOENT when no VMA covers @addr, or -errno.
 */
int procmap_query(int fd, pid_t pid, uint64_t addr, int want_build_id, struct procmap_vma *ret);

/* procmap_query_next - the VMA covering @addr or, if none, the first one above it. */
int procmap_query_next(int fd, pid_t pid, uint64_t addr, struct procmap_vma *ret);

/*
 * procmap_read - read all of /proc/@pid/maps into a new NUL-terminated buffer (caller
 * frees). Returns 0 and the buffer in @ret (length in @ret_len), or -errno.
 */
int procmap_read(pid_t pid, char **ret, size_t *ret_len);

/*
 * proc_read - all of /proc/@pid/@what ("smaps", "stat", "fdinfo/3"...) into a new
 * NUL-terminated buffer (caller frees), as procmap_read. 0 or -errno.
 */
int proc_read(pid_t pid, const char *what, char **ret, size_t *ret_len);

/* procmap_parse_line - parse one maps line into @ret. 0 or -EINVAL. */
int procmap_parse_line(const char *line, struct procmap_vma *ret);

#endif
