/* SPDX-License-Identifier: MIT */
/*
 * Asking the kernel about a tracee's VMAs: the PROCMAP_QUERY ioctl on /proc/PID/maps
 * (Linux 6.11+: one VMA with its file identity and build-id in well under a microsecond),
 * with a parse of the /proc/PID/maps text (lib's mm_parse_maps_line) as the fallback on
 * older kernels, and reading the whole maps file (the initial layout at exec). Answers are
 * struct vma_desc (lib/mm.h).
 */
#ifndef VMATRACE_PROCMAP_H
#define VMATRACE_PROCMAP_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

#include "mm.h"

/* Room for a VMA's name (a path, "[heap]"...) and for a build-id in lowercase hex. */
#define PROCMAP_NAME_SIZE 4096
#define PROCMAP_BUILD_ID_SIZE 41

/* procmap_open - open /proc/@pid/maps (O_CLOEXEC). Returns the fd or -errno. */
int procmap_open(pid_t pid);

/*
 * procmap_query - the VMA covering @addr in the maps file @fd of @pid (@fd may be -1; the
 * fallback path then reads /proc/@pid/maps), into @ret (flags not known). ret->name points
 * at @name (@name_size bytes, the caller's), NUL-terminated, "" for none. With a non-NULL
 * @ret_build_id (PROCMAP_BUILD_ID_SIZE bytes), asks for the build-id too: "" if none or
 * unknown. Returns 0, -ENOENT when no VMA covers @addr, or -errno.
 */
int procmap_query(int fd, pid_t pid, uint64_t addr, struct vma_desc *ret, char *name,
		  size_t name_size, char *ret_build_id);

/* procmap_query_next - the VMA covering @addr or, if none, the first one above it. */
int procmap_query_next(int fd, pid_t pid, uint64_t addr, struct vma_desc *ret, char *name,
		       size_t name_size);

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

#endif
