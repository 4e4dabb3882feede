// SPDX-License-Identifier: MIT
/*
 * PROCMAP_QUERY and /proc/PID/maps reading for the tracer. The ioctl's ABI is declared here
 * because the build machine's kernel headers may predate it (Linux 6.11); the layout is the
 * kernel's UAPI and must not change.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "procmap.h"

struct vt_procmap_query {
	uint64_t size;
	uint64_t query_flags;
	uint64_t query_addr;
	uint64_t vma_start;
	uint64_t vma_end;
	uint64_t vma_flags;
	uint64_t vma_page_size;
	uint64_t vma_offset;
	uint64_t inode;
	uint32_t dev_major;
	uint32_t dev_minor;
	uint32_t vma_name_size;
	uint32_t build_id_size;
	uint64_t vma_name_addr;
	uint64_t build_id_addr;
};

#define VT_PROCMAP_QUERY _IOWR('f', 17, struct vt_procmap_query)
#define VT_PMQ_READABLE 0x01
#define VT_PMQ_WRITABLE 0x02
#define VT_PMQ_EXECUTABLE 0x04
#define VT_PMQ_SHARED 0x08
#define VT_PMQ_COVERING_OR_NEXT 0x10

/* Cleared once the kernel says ENOTTY: every later query goes to the text fallback. */
static int have_procmap_query = 1;

int procmap_open(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int procmap_read(pid_t pid, char **ret, size_t *ret_len)
{
	return proc_read(pid, "maps", ret, ret_len);
}

int proc_read(pid_t pid, const char *what, char **ret, size_t *ret_len)
{
	size_t cap = 16384, len = 0;
	char path[128], *buf;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		if (cap - len < 4096) {
			char *n = realloc(buf, cap * 2);
			if (!n) {
				free(buf);
				close(fd);
				return -ENOMEM;
			}
			buf = n;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + len, cap - len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int err = -errno;
			free(buf);
			close(fd);
			return err;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

static int query_text(pid_t pid, uint64_t addr, bool or_next, struct vma_desc *ret,
		      char *name, size_t name_size, char *ret_build_id)
{
	char *text, *line, *save = NULL;
	size_t len;
	int r = procmap_read(pid, &text, &len);

	if (r < 0)
		return r;
	r = -ENOENT;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct vma_desc v;
		if (mm_parse_maps_line(line, strlen(line), &v) < 0)
			continue;
		if ((addr >= v.start || or_next) && addr < v.end) {
			/* the name lives in @text: copy it to the caller's buffer */
			v.name_len = v.name_len < name_size ? v.name_len : name_size - 1;
			memcpy(name, v.name, v.name_len);
			name[v.name_len] = '\0';
			v.name = name;
			*ret = v;
			if (ret_build_id)
				ret_build_id[0] = '\0';
			r = 0;
			break;
		}
	}
	free(text);
	return r;
}

static void hex(char *dst, const unsigned char *src, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		dst[2 * i] = digits[src[i] >> 4];
		dst[2 * i + 1] = digits[src[i] & 15];
	}
	dst[2 * n] = '\0';
}

static int query(int fd, pid_t pid, uint64_t addr, bool or_next, struct vma_desc *ret,
		 char *name, size_t name_size, char *ret_build_id)
{
	struct vt_procmap_query q = { 0 };
	unsigned char build_id[20];
	int own_fd = -1;

	if (!have_procmap_query)
		return query_text(pid, addr, or_next, ret, name, name_size, ret_build_id);
	if (fd < 0) {
		own_fd = procmap_open(pid);
		if (own_fd < 0)
			return own_fd;
		fd = own_fd;
	}
	q.size = sizeof(q);
	q.query_addr = addr;
	q.query_flags = or_next ? VT_PMQ_COVERING_OR_NEXT : 0;
	q.vma_name_size = (uint32_t)name_size;
	q.vma_name_addr = (uint64_t)(uintptr_t)name;
	if (ret_build_id) {
		q.build_id_size = sizeof(build_id);
		q.build_id_addr = (uint64_t)(uintptr_t)build_id;
	}
	name[0] = '\0';
	int r = ioctl(fd, VT_PROCMAP_QUERY, &q);
	int err = r < 0 ? -errno : 0;
	if (own_fd >= 0)
		close(own_fd);
	if (err == -ENOTTY) {
		have_procmap_query = 0;
		return query_text(pid, addr, or_next, ret, name, name_size, ret_build_id);
	}
	if (err < 0)
		return err;
	memset(ret, 0, sizeof(*ret));
	ret->start = q.vma_start;
	ret->end = q.vma_end;
	ret->perms[0] = q.vma_flags & VT_PMQ_READABLE ? 'r' : '-';
	ret->perms[1] = q.vma_flags & VT_PMQ_WRITABLE ? 'w' : '-';
	ret->perms[2] = q.vma_flags & VT_PMQ_EXECUTABLE ? 'x' : '-';
	ret->perms[3] = q.vma_flags & VT_PMQ_SHARED ? 's' : 'p';
	ret->perms[4] = '\0';
	ret->offset = q.vma_offset;
	ret->dev = makedev(q.dev_major, q.dev_minor);
	ret->ino = q.inode;
	ret->name = name;
	ret->name_len = strlen(name);
	if (!ret_build_id)
		return 0;
	if (q.build_id_size > 0 && q.build_id_size <= sizeof(build_id))
		hex(ret_build_id, build_id, q.build_id_size);
	else
		ret_build_id[0] = '\0';
	return 0;
}

int procmap_query(int fd, pid_t pid, uint64_t addr, struct vma_desc *ret, char *name,
		  size_t name_size, char *ret_build_id)
{
	return query(fd, pid, addr, false, ret, name, name_size, ret_build_id);
}

int procmap_query_next(int fd, pid_t pid, uint64_t addr, struct vma_desc *ret, char *name,
		       size_t name_size)
{
	return query(fd, pid, addr, true, ret, name, name_size, NULL);
}
