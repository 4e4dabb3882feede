/* SPDX-License-Identifier: MIT */
/*
 * Allocation that dies on OOM (for the daemon's and client's own bookkeeping; the store
 * and the model return -ENOMEM where a caller can recover), and scoped cleanup helpers in
 * the manner of bubblewrap's utils.h.
 */
#ifndef VMATRACE_XALLOC_H
#define VMATRACE_XALLOC_H

#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* xasprintf - printf into a new string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline void cleanup_freep(void *p)
{
	free(*(void **)p);
}
static inline void cleanup_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_free_ __attribute__((cleanup(cleanup_freep)))
#define _cleanup_close_ __attribute__((cleanup(cleanup_closep)))

static inline void *steal_pointer(void *pp)
{
	void **p = pp, *r = *p;
	*p = NULL;
	return r;
}

#endif
