// SPDX-License-Identifier: MIT
/* Logging to stderr, and die(). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"

int log_max_level = LOG_WARN;
const char *log_prog = "vmatrace";
int log_with_pid;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

static void log_vwrite(int level, const char *fmt, va_list ap)
{
	char buf[2048];
	int n;

	/* One write(2) per line, so lines of several processes do not interleave. */
	if (log_with_pid)
		n = snprintf(buf, sizeof(buf), "%s[%d]: %s: ", log_prog, (int)getpid(),
			     level_names[level]);
	else
		n = snprintf(buf, sizeof(buf), "%s: ", log_prog);
	if (n < 0 || (size_t)n >= sizeof(buf))
		n = 0;
	int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	/* One line per message, whatever a program name or path contains. */
	for (int i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 && buf[i] != '\t')
			buf[i] = '?';
	buf[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, buf, (size_t)n);
	(void)w;
}

void log_write(int level, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(level, fmt, ap);
	va_end(ap);
	errno = saved;
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}
