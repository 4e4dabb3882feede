/* SPDX-License-Identifier: MIT */
/* libstackdemo: a shared library of the stacks tracee's own (see stacks.c). */
#ifndef VMATRACE_LIBSTACKDEMO_H
#define VMATRACE_LIBSTACKDEMO_H

#include <stddef.h>

/* vtlib_deep_one - vtlib_deep_two - mmap(@len) and munmap; returns the address mapped. */
void *vtlib_deep_one(size_t len);

#endif
