/* SPDX-License-Identifier: MIT */
/*
 * A minimal TAP producer for C tests, after git's test-lib.h: plan, ok, check_int,
 * check_str, skip_all, skip_all_env, done. Header-only; each test is one program.
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
#include <strings.h>

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

/*
 * tap_in_ci - under a CI runner (CI=true, as CI services and .ci/run set it): there, what a
 * test needs from the machine (ptrace, a temporary directory) must be there, so missing it
 * is a failure, not a skip. The same rule as tests/cli/vtlib.py in_ci().
 */
static inline int tap_in_ci(void)
{
	const char *ci = getenv("CI");

	return ci && (!strcasecmp(ci, "true") || !strcmp(ci, "1") || !strcasecmp(ci, "yes"));
}

/*
 * skip_all_env - the machine lacks what the whole test needs (@why): skip it, or under CI
 * fail it with one test point that says why.
 */
static inline __attribute__((noreturn)) void skip_all_env(const char *why)
{
	if (tap_in_ci()) {
		printf("not ok 1 - the machine provides what the test needs\n"
		       "# CI=true and %s: a CI runner must provide it (unset CI to skip)\n1..1\n",
		       why);
		exit(1);
	}
	skip_all(why);
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
