/* SPDX-License-Identifier: MIT */
/*
 * A minimal TAP producer for C tests, after git's test-lib.h: plan, ok, check_int,
 * check_str, skip_all, done. Header-only; each test is one program.
 *
 *   int main(void) { plan(2); check_int(1 + 1, 2); check_str("a", "a"); return done(); }
 */
#ifndef VMATRACE_TAP_H
#define VMATRACE_TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed, tap_planned = -1;

static inline void plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

/* plan_lazy - print the plan at done() (for tests whose count depends on data). */
static inline void plan_lazy(void)
{
	tap_planned = -2;
}

static inline __attribute__((format(printf, 2, 3))) int ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		tap_failed++;
	return cond;
}

static inline __attribute__((format(printf, 1, 2))) void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

#define check_int(a, b)                                                                    \
	do {                                                                               \
		long long _a = (long long)(a), _b = (long long)(b);                       \
		if (!ok(_a == _b, "%s:%d: %s == %s", __FILE__, __LINE__, #a, #b))         \
			diag("  got %lld (0x%llx), expected %lld (0x%llx)", _a,            \
			     (unsigned long long)_a, _b, (unsigned long long)_b);          \
	} while (0)

#define check_str(a, b)                                                                    \
	do {                                                                               \
		const char *_a = (a), *_b = (b);                                           \
		int _eq = (_a && _b) ? strcmp(_a, _b) == 0 : _a == _b;                     \
		if (!ok(_eq, "%s:%d: %s == %s", __FILE__, __LINE__, #a, #b))              \
			diag("  got '%s', expected '%s'", _a ? _a : "(null)",              \
			     _b ? _b : "(null)");                                          \
	} while (0)

static inline __attribute__((noreturn)) void skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	exit(0);
}

static inline int done(void)
{
	if (tap_planned == -2)
		printf("1..%d\n", tap_n);
	else if (tap_planned >= 0 && tap_planned != tap_n)
		printf("# planned %d tests but ran %d\n", tap_planned, tap_n), tap_failed++;
	fflush(stdout);
	return tap_failed ? 1 : 0;
}

#endif
