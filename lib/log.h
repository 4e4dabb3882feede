/* SPDX-License-Identifier: MIT */
/*
 * Logging for daemon and client. The level is tested before the arguments are evaluated.
 * lib/ logs only at debug level; daemon and client decide what to report.
 * Lines go to stderr as "PROG: message" (client) or "vmatraced[pid]: level: message".
 */
#ifndef VMATRACE_LOG_H
#define VMATRACE_LOG_H

#include <stdnoreturn.h>

enum log_level { LOG_ERR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

extern int log_max_level;
extern const char *log_prog;    /* "vmatrace" or "vmatraced" */
extern int log_with_pid;        /* daemon: prefix with [pid] and level */

void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_at(lvl, ...)                                 \
	do {                                             \
		if ((lvl) <= log_max_level)              \
			log_write((lvl), __VA_ARGS__);   \
	} while (0)
#define log_error(...) log_at(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_at(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_at(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)

/* die - log an error line and exit(1). For main, option parsing and OOM. */
noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
