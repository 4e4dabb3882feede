/* SPDX-License-Identifier: MIT */
/*
 * What every test tracee shares: output collected in a static buffer and written once at
 * the end with write(2) (stdio or malloc would change the map being measured), and the
 * marker: a recorded syscall that changes nothing, so a test can find a point in the
 * events. Header-only, like tests/tap.h.
 */
#ifndef VMATRACE_TRACEE_H
#define VMATRACE_TRACEE_H

#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static char out_buf[16384];
static size_t out_len;

/* out - append printf output to the buffer (silently cut when it is full). */
static inline void __attribute__((format(printf, 1, 2))) out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(out_buf + out_len, sizeof(out_buf) - out_len, fmt, ap);
	va_end(ap);
	if (n > 0)
		out_len += (size_t)n < sizeof(out_buf) - out_len ? (size_t)n : 0;
}

/* out_flush - write the buffer to stdout and empty it. */
static inline void out_flush(void)
{
	size_t off = 0;

	while (off < out_len) {
		ssize_t n = write(1, out_buf + off, out_len - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	out_len = 0;
}

/* marker - madvise(NULL, 0, MADV_NORMAL): returns 0, is recorded, changes nothing. */
static inline void marker(void)
{
	syscall(SYS_madvise, 0L, 0L, (long)MADV_NORMAL);
}

#endif
