/* SPDX-License-Identifier: MIT */
/*
 * The snapshot machinery of the snap-* tracees: read our own /proc/self/maps into a static
 * buffer (no malloc, no stdio: they could change the map being read), keep it with its
 * index, then make the marker syscall that lets the test find this point in the events.
 * Header-only; include it once per program, after the system headers.
 */
#ifndef VMATRACE_SNAP_H
#define VMATRACE_SNAP_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static char maps_tmp[1 << 18];
static char snaps[8 << 20];
static size_t snaps_len;
static int snap_idx;
static char note[1024];
static size_t note_len;
static const char *out_dir;
static int failed;

static void __attribute__((format(printf, 1, 2))) note_add(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(note + note_len, sizeof(note) - note_len, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(note) - note_len)
		note_len += (size_t)n;
}

/* Record the raw result of a syscall() call under @what; @must: it cannot fail. */
static long call(const char *what, long r, int must)
{
	r = r == -1 ? -errno : r;
	if (r < 0 && r >= -4095)
		note_add("%s=%ld,", what, r);
	else
		note_add("%s=0x%lx,", what, r);
	if (must && r < 0 && r >= -4095)
		failed = 1;
	return r;
}

static void marker(void)
{
	syscall(SYS_madvise, 0L, 0L, (long)MADV_NORMAL);
}

static void snapshot(const char *label)
{
	size_t len = 0;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		for (;;) {
			ssize_t n = read(fd, maps_tmp + len, sizeof(maps_tmp) - len);
			if (n <= 0)
				break;
			len += (size_t)n;
		}
		close(fd);
	}
	marker();
	if (fd < 0 || len == sizeof(maps_tmp))
		failed = 1;
	int h = snprintf(snaps + snaps_len, sizeof(snaps) - snaps_len, "SNAP %d %ld %d %zu %s %s\n",
			 (int)getpid(), syscall(SYS_gettid), snap_idx, len, label,
			 note_len ? note : "-");
	if (h < 0 || (size_t)h + len >= sizeof(snaps) - snaps_len) {
		failed = 1;
	} else {
		memcpy(snaps + snaps_len + h, maps_tmp, len);
		snaps_len += (size_t)h + len;
	}
	snap_idx++;
	note_len = 0;
	note[0] = '\0';
}

static void write_snaps(const char *tag)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/snap-%d-%s.out", out_dir, (int)getpid(), tag);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		failed = 1;
		return;
	}
	for (size_t off = 0; off < snaps_len;) {
		ssize_t n = write(fd, snaps + off, snaps_len - off);
		if (n <= 0) {
			failed = 1;
			break;
		}
		off += (size_t)n;
	}
	close(fd);
}

#endif
