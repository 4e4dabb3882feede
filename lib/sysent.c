// SPDX-License-Identifier: MIT
/*
 * Syscall knowledge for x86_64: the table of lib/syscallent.h (one row per syscall: name,
 * arguments, result, flags, printer, model and effects functions) and what reads it here:
 * number <-> name, the recorded set and its classes, and the two renderings of an event, a
 * strace-like line and a JSON Lines object. The formats are documented in sysent.h; the
 * per-syscall printers are in lib/sys_mem.c, sys_proc.c and sys_file.c, which share the
 * helpers below; this file owns errno and signal names.
 *
 * Everything here is pure: no allocation except sysent_parse_list()'s result and a scratch
 * buffer while printing an execve argv, no global state except a thread-local copy of the
 * name sysent_parse_list() rejected.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <linux/mman.h>

#include "sysent.h"
#include "stresc.h"
#include "sysent_int.h"

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#endif
#ifndef EVENT_RET_UNFINISHED
#define EVENT_RET_UNFINISHED INT64_MIN
#endif

/* ---- the table ------------------------------------------------------------------------- */

/* clang-format off */
#define SYSENT(nr, name, nargs, int_args, ret, flags, print, model, effects)                \
	[nr] = { #name, nargs, int_args, ret, flags, sys_print_##print, mm_sys_##model,     \
		 sys_effects_##effects },
#define SYSENT0(nr, name) [nr] = { #name, 6, 0, RET_DEC, 0, NULL, NULL, NULL },
/* clang-format on */
#define sys_print_none NULL
#define mm_sys_none NULL
#define sys_effects_none NULL

static const struct sysent sysent_table[SYSENT_NR_END] = {
#include "syscallent.h"
};

#undef SYSENT
#undef SYSENT0
#undef sys_print_none
#undef mm_sys_none
#undef sys_effects_none

const struct sysent *sysent_get(int nr)
{
	if (nr < 0 || nr >= SYSENT_NR_END || !sysent_table[nr].name)
		return NULL;
	return &sysent_table[nr];
}

unsigned sysent_flags(int nr)
{
	const struct sysent *s = sysent_get(nr);

	return s ? s->flags : 0;
}

void sysent_effects(const struct event *ev, uint64_t shm_size, struct sysent_effects *ret)
{
	const struct sysent *s = sysent_get(ev->nr);

	*ret = (struct sysent_effects){ .unfinished_all = true, .shared_fd = -1 };
	if (s && s->effects)
		s->effects(ev, shm_size, ret);
}

bool sysent_is_recorded(int nr)
{
	return sysent_flags(nr) & SF_RECORDED;
}

bool sysent_records(int nr, const uint64_t *args)
{
	unsigned f = sysent_flags(nr);

	if (!(f & SF_RECORDED))
		return false;
	if (f & SF_PRCTL_RULE)
		return args[0] == PR_SET_VMA;
	return true;
}


/* ---- names: syscalls, errnos, signals ---------------------------------------------------- */

const char *sysent_name(int nr)
{
	const struct sysent *s = sysent_get(nr);

	return s ? s->name : NULL;
}

/* Lookup by a name that need not be NUL-terminated (a token inside a --syscall list). */
static int lookup_n(const char *name, size_t len)
{
	/* A linear scan: this runs once per name on a command line, never per event. */
	for (int nr = 0; nr < SYSENT_NR_END; nr++) {
		const char *n = sysent_table[nr].name;

		if (n && strncmp(n, name, len) == 0 && n[len] == '\0')
			return nr;
	}
	return -1;
}

int sysent_lookup(const char *name)
{
	return name ? lookup_n(name, strlen(name)) : -1;
}

#define ENAME(e) [e] = #e
/* asm-generic/errno-base.h and errno.h, which x86_64 uses; 41 and 58 are unassigned. */
/* clang-format off */
static const char *const errno_names[] = {
	ENAME(EPERM), ENAME(ENOENT), ENAME(ESRCH), ENAME(EINTR), ENAME(EIO), ENAME(ENXIO),
	ENAME(E2BIG), ENAME(ENOEXEC), ENAME(EBADF), ENAME(ECHILD), ENAME(EAGAIN),
	ENAME(ENOMEM), ENAME(EACCES), ENAME(EFAULT), ENAME(ENOTBLK), ENAME(EBUSY),
	ENAME(EEXIST), ENAME(EXDEV), ENAME(ENODEV), ENAME(ENOTDIR), ENAME(EISDIR),
	ENAME(EINVAL), ENAME(ENFILE), ENAME(EMFILE), ENAME(ENOTTY), ENAME(ETXTBSY),
	ENAME(EFBIG), ENAME(ENOSPC), ENAME(ESPIPE), ENAME(EROFS), ENAME(EMLINK), ENAME(EPIPE),
	ENAME(EDOM), ENAME(ERANGE), ENAME(EDEADLK), ENAME(ENAMETOOLONG), ENAME(ENOLCK),
	ENAME(ENOSYS), ENAME(ENOTEMPTY), ENAME(ELOOP), ENAME(ENOMSG), ENAME(EIDRM),
	ENAME(ECHRNG), ENAME(EL2NSYNC), ENAME(EL3HLT), ENAME(EL3RST), ENAME(ELNRNG),
	ENAME(EUNATCH), ENAME(ENOCSI), ENAME(EL2HLT), ENAME(EBADE), ENAME(EBADR),
	ENAME(EXFULL), ENAME(ENOANO), ENAME(EBADRQC), ENAME(EBADSLT), ENAME(EBFONT),
	ENAME(ENOSTR), ENAME(ENODATA), ENAME(ETIME), ENAME(ENOSR), ENAME(ENONET),
	ENAME(ENOPKG), ENAME(EREMOTE), ENAME(ENOLINK), ENAME(EADV), ENAME(ESRMNT),
	ENAME(ECOMM), ENAME(EPROTO), ENAME(EMULTIHOP), ENAME(EDOTDOT), ENAME(EBADMSG),
	ENAME(EOVERFLOW), ENAME(ENOTUNIQ), ENAME(EBADFD), ENAME(EREMCHG), ENAME(ELIBACC),
	ENAME(ELIBBAD), ENAME(ELIBSCN), ENAME(ELIBMAX), ENAME(ELIBEXEC), ENAME(EILSEQ),
	ENAME(ERESTART), ENAME(ESTRPIPE), ENAME(EUSERS), ENAME(ENOTSOCK), ENAME(EDESTADDRREQ),
	ENAME(EMSGSIZE), ENAME(EPROTOTYPE), ENAME(ENOPROTOOPT), ENAME(EPROTONOSUPPORT),
	ENAME(ESOCKTNOSUPPORT), ENAME(EOPNOTSUPP), ENAME(EPFNOSUPPORT), ENAME(EAFNOSUPPORT),
	ENAME(EADDRINUSE), ENAME(EADDRNOTAVAIL), ENAME(ENETDOWN), ENAME(ENETUNREACH),
	ENAME(ENETRESET), ENAME(ECONNABORTED), ENAME(ECONNRESET), ENAME(ENOBUFS),
	ENAME(EISCONN), ENAME(ENOTCONN), ENAME(ESHUTDOWN), ENAME(ETOOMANYREFS),
	ENAME(ETIMEDOUT), ENAME(ECONNREFUSED), ENAME(EHOSTDOWN), ENAME(EHOSTUNREACH),
	ENAME(EALREADY), ENAME(EINPROGRESS), ENAME(ESTALE), ENAME(EUCLEAN), ENAME(ENOTNAM),
	ENAME(ENAVAIL), ENAME(EISNAM), ENAME(EREMOTEIO), ENAME(EDQUOT), ENAME(ENOMEDIUM),
	ENAME(EMEDIUMTYPE), ENAME(ECANCELED), ENAME(ENOKEY), ENAME(EKEYEXPIRED),
	ENAME(EKEYREVOKED), ENAME(EKEYREJECTED), ENAME(EOWNERDEAD), ENAME(ENOTRECOVERABLE),
	ENAME(ERFKILL), ENAME(EHWPOISON),
};
/* clang-format on */

/*
 * The kernel's internal errnos (include/linux/errno.h). User space never sees them as a
 * result, but a tracer does: the ERESTART* family at the exit stop of a syscall that a
 * signal interrupted and that the kernel will restart. libc has no text for them.
 */
/* clang-format off */
static const struct {
	const char *name, *desc;
} kernel_errnos[] = {
	[512 - 512] = { "ERESTARTSYS", "Interrupted by a signal, restarted if SA_RESTART" },
	[513 - 512] = { "ERESTARTNOINTR", "Interrupted by a signal, always restarted" },
	[514 - 512] = { "ERESTARTNOHAND", "Interrupted by a signal, restarted if not handled" },
	[515 - 512] = { "ENOIOCTLCMD", "Unknown ioctl command" },
	[516 - 512] = { "ERESTART_RESTARTBLOCK", "Interrupted by a signal, resumed later" },
	[517 - 512] = { "EPROBE_DEFER", "Driver probe deferred" },
	[518 - 512] = { "EOPENSTALE", "Open raced with a stale dentry" },
	[519 - 512] = { "ENOPARAM", "Unsupported parameter" },
	[521 - 512] = { "EBADHANDLE", "Bad NFS file handle" },
	[522 - 512] = { "ENOTSYNC", "Synchronisation mismatch" },
	[523 - 512] = { "EBADCOOKIE", "Stale cookie" },
	[524 - 512] = { "ENOTSUPP", "Operation not supported" },
	[525 - 512] = { "ETOOSMALL", "Buffer or request too small" },
	[526 - 512] = { "ESERVERFAULT", "Server error without translation" },
	[527 - 512] = { "EBADTYPE", "Type not supported by the server" },
	[528 - 512] = { "EJUKEBOX", "Request started, will not finish before the timeout" },
	[529 - 512] = { "EIOCBQUEUED", "I/O control block queued" },
	[530 - 512] = { "ERECALLCONFLICT", "Conflicts with recalled state" },
	[531 - 512] = { "ENOGRACE", "Lock reclaim refused" },
};
/* clang-format on */

const char *errno_name(int err)
{
	if (err > 0 && (size_t)err < ARRAY_SIZE(errno_names))
		return errno_names[err];
	if (err >= 512 && (size_t)(err - 512) < ARRAY_SIZE(kernel_errnos))
		return kernel_errnos[err - 512].name;
	return NULL;
}

/* The text strace-like output shows in parentheses; NULL if none is known. */
static const char *errno_desc(int err)
{
	if (err >= 512 && (size_t)(err - 512) < ARRAY_SIZE(kernel_errnos))
		return kernel_errnos[err - 512].desc;
	/* strerrordesc_np, unlike strerror, is untranslated and never writes a buffer. */
	return errno_name(err) ? strerrordesc_np(err) : NULL;
}

/* The ERESTART* results: the syscall will run again, so strace-like output shows "?". */
static bool errno_is_restart(int err)
{
	return (err >= 512 && err <= 514) || err == 516;
}

#define SNAME(s) [s] = #s
#define RTNAME(n) [32 + (n)] = "SIGRT_" #n
/*
 * x86_64 signal numbers. 32..64 are the kernel's real-time range; glibc keeps 32 and 33 for
 * itself and calls 34 SIGRTMIN, so naming them by their offset from 32 avoids both views'
 * confusion.
 */
/* clang-format off */
static const char *const signal_names[] = {
	SNAME(SIGHUP), SNAME(SIGINT), SNAME(SIGQUIT), SNAME(SIGILL), SNAME(SIGTRAP),
	SNAME(SIGABRT), SNAME(SIGBUS), SNAME(SIGFPE), SNAME(SIGKILL), SNAME(SIGUSR1),
	SNAME(SIGSEGV), SNAME(SIGUSR2), SNAME(SIGPIPE), SNAME(SIGALRM), SNAME(SIGTERM),
	SNAME(SIGSTKFLT), SNAME(SIGCHLD), SNAME(SIGCONT), SNAME(SIGSTOP), SNAME(SIGTSTP),
	SNAME(SIGTTIN), SNAME(SIGTTOU), SNAME(SIGURG), SNAME(SIGXCPU), SNAME(SIGXFSZ),
	SNAME(SIGVTALRM), SNAME(SIGPROF), SNAME(SIGWINCH), SNAME(SIGIO), SNAME(SIGPWR),
	SNAME(SIGSYS),
	RTNAME(0), RTNAME(1), RTNAME(2), RTNAME(3), RTNAME(4), RTNAME(5), RTNAME(6), RTNAME(7),
	RTNAME(8), RTNAME(9), RTNAME(10), RTNAME(11), RTNAME(12), RTNAME(13), RTNAME(14),
	RTNAME(15), RTNAME(16), RTNAME(17), RTNAME(18), RTNAME(19), RTNAME(20), RTNAME(21),
	RTNAME(22), RTNAME(23), RTNAME(24), RTNAME(25), RTNAME(26), RTNAME(27), RTNAME(28),
	RTNAME(29), RTNAME(30), RTNAME(31), RTNAME(32),
};
/* clang-format on */

const char *signal_name(int sig)
{
	if (sig > 0 && (size_t)sig < ARRAY_SIZE(signal_names))
		return signal_names[sig];
	return NULL;
}

/* ---- printing helpers of lib/sys_*.c ---------------------------------------------------- */

void sys_sep(FILE *out, bool *first)
{
	if (!*first)
		fputc('|', out);
	*first = false;
}

void sys_flags_names(FILE *out, uint64_t *rest, const struct flag_name *tab, size_t n,
			bool *first)
{
	for (size_t i = 0; i < n; i++) {
		if ((*rest & tab[i].val) != tab[i].val)
			continue;
		sys_sep(out, first);
		fputs(tab[i].name, out);
		*rest &= ~tab[i].val;
	}
}

void sys_print_flags(FILE *out, uint64_t v, const struct flag_name *tab, size_t n,
			const char *none)
{
	bool first = true;

	if (!v) {
		fputs(none, out);
		return;
	}
	sys_flags_names(out, &v, tab, n, &first);
	if (v) {
		sys_sep(out, &first);
		fprintf(out, "%#" PRIx64, v);
	}
}

void sys_print_addr(FILE *out, uint64_t addr)
{
	if (addr)
		fprintf(out, "%#" PRIx64, addr);
	else
		fputs("NULL", out);
}

void sys_print_range(FILE *out, const uint64_t *a)
{
	sys_print_addr(out, a[0]);
	fprintf(out, ", %" PRIu64, a[1]);
}

void sys_print_raw_args(const struct event *ev, unsigned nargs, unsigned int_args, FILE *out)
{
	for (unsigned i = 0; i < nargs; i++) {
		if (i)
			fputs(", ", out);
		if (int_args & ARG(i))
			fprintf(out, "%d", (int)ev->args[i]);
		else
			fprintf(out, "%#" PRIx64, ev->args[i]);
	}
}

/* ---- --syscall lists ------------------------------------------------------------------- */

int sysent_parse_list(const char *list, int **ret_nrs, const char **ret_bad)
{
	/* Names longer than this are cut in the error message only. */
	static _Thread_local char bad[64];
	bool want[SYSENT_NR_END] = {false};
	const char *p = list;
	int *nrs, n = 0;

	for (;;) {
		size_t len = strcspn(p, ",");
		int cls = 0, nr;

		if (len == 3 && strncmp(p, "all", 3) == 0) {
			for (nr = 0; nr < SYSENT_NR_END; nr++)
				want[nr] = sysent_table[nr].name != NULL;
		} else if (len == 7 && strncmp(p, "%memory", 7) == 0) {
			cls = SF_MEMORY;
		} else if (len == 8 && strncmp(p, "%process", 8) == 0) {
			cls = SF_PROCESS;
		} else if (len == 5 && strncmp(p, "%file", 5) == 0) {
			cls = SF_FILE;
		} else if ((nr = lookup_n(p, len)) >= 0) {
			want[nr] = true;
		} else {
			snprintf(bad, sizeof(bad), "%.*s", (int)len, p);
			if (ret_bad)
				*ret_bad = bad;
			return -EINVAL;
		}
		for (nr = 0; cls && nr < SYSENT_NR_END; nr++)
			if (sysent_table[nr].flags & cls)
				want[nr] = true;
		if (p[len] == '\0')
			break;
		p += len + 1;
	}

	for (int nr = 0; nr < SYSENT_NR_END; nr++)
		n += want[nr];
	nrs = malloc((n ? n : 1) * sizeof(*nrs));
	if (!nrs)
		return -ENOMEM;
	n = 0;
	for (int nr = 0; nr < SYSENT_NR_END; nr++)
		if (want[nr])
			nrs[n++] = nr;
	*ret_nrs = nrs;
	return n;
}

/* ---- text -------------------------------------------------------------------------------- */

static void print_task_exit(int status, FILE *out)
{
	if (WIFEXITED(status)) {
		fprintf(out, "+++ exited with %d +++", WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		const char *name = signal_name(WTERMSIG(status));

		fputs("+++ killed by ", out);
		if (name)
			fputs(name, out);
		else
			fprintf(out, "signal %d", WTERMSIG(status));
		fprintf(out, "%s +++", WCOREDUMP(status) ? " (core dumped)" : "");
	} else {
		/* Not a status wait() gives for an ended task; show it rather than guess. */
		fprintf(out, "+++ ended with status %#x +++", (unsigned)status);
	}
}

static void print_ret(const struct event *ev, int style, FILE *out)
{
	if (style == RET_NONE || ev->ret == EVENT_RET_UNFINISHED) {
		fputs("?", out);
	} else if (event_is_error(ev)) {
		int err = (int)-ev->ret;
		const char *name = errno_name(err), *desc = errno_desc(err);

		fputs(errno_is_restart(err) ? "? " : "-1 ", out);
		if (name)
			fprintf(out, "%s (%s)", name, desc ? desc : "?");
		else
			fprintf(out, "(errno %d)", err);
	} else if (style == RET_ADDR) {
		fprintf(out, "%#" PRIx64, (uint64_t)ev->ret);
	} else {
		fprintf(out, "%" PRId64, ev->ret);
	}
}

static void print_syscall_name(const struct event *ev, FILE *out)
{
	const char *name = sysent_name(ev->nr);

	if (name)
		fputs(name, out);
	else
		fprintf(out, "syscall_%#x", (unsigned)ev->nr);
}

char *event_line(const struct event *ev)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	event_print(ev, f);
	if (fclose(f) != 0) {
		free(buf);
		errno = ENOMEM;
		return NULL;
	}
	if (len && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	return buf;
}

void event_print(const struct event *ev, FILE *out)
{
	const struct sysent *fmt;

	if (ev->tid != ev->pid)
		fprintf(out, "[%d/%d] ", (int)ev->pid, (int)ev->tid);
	else
		fprintf(out, "[%d] ", (int)ev->pid);
	if (ev->kind == EVENT_TASK_EXIT) {
		print_task_exit((int)ev->ret, out);
		fputc('\n', out);
		return;
	}
	if (ev->kind == EVENT_SIGNAL) {
		signal_event_print(ev, out);
		return;
	}
	if (ev->kind == EVENT_RENAME) {
		fputs("+++ renamed outside the trace: ", out);
		stresc_print_quoted(out, ev->path ? ev->path : "");
		fprintf(out, " (%02x:%02x %" PRIu64 ") +++\n", major(ev->dev), minor(ev->dev), ev->ino);
		return;
	}
	fmt = sysent_get(ev->nr);
	print_syscall_name(ev, out);
	fputc('(', out);
	if (fmt && fmt->print)
		fmt->print(ev, out);
	else if (fmt)
		sys_print_raw_args(ev, fmt->nargs, fmt->int_args, out);
	else
		sys_print_raw_args(ev, 6, 0, out);
	fputs(") = ", out);
	print_ret(ev, fmt ? fmt->ret : RET_DEC, out);
	fputc('\n', out);
}

/* ---- JSON -------------------------------------------------------------------------------- */

void event_print_json(const struct event *ev, FILE *out)
{
	fprintf(out,
		"{\"seq\":%" PRIu64 ",\"time_ns\":%" PRIu64 ",\"pid\":%d,\"tid\":%d,"
		"\"mm\":%" PRIu64,
		ev->seq, ev->time_ns, (int)ev->pid, (int)ev->tid, ev->mm);
	if (ev->kind == EVENT_TASK_EXIT) {
		int status = (int)ev->ret;

		fprintf(out, ",\"syscall\":\"+exit\",\"status\":%d", status);
		if (WIFEXITED(status)) {
			fprintf(out, ",\"exit_code\":%d", WEXITSTATUS(status));
		} else if (WIFSIGNALED(status)) {
			const char *name = signal_name(WTERMSIG(status));

			if (name)
				fprintf(out, ",\"signal\":\"%s\"", name);
			else
				fprintf(out, ",\"signal\":%d", WTERMSIG(status));
			if (WCOREDUMP(status))
				fputs(",\"core_dumped\":true", out);
		}
	} else if (ev->kind == EVENT_SIGNAL) {
		signal_event_print_json(ev, out);
	} else if (ev->kind == EVENT_RENAME) {
		fputs(",\"syscall\":\"+rename\"", out);
	} else {
		const struct sysent *fmt = sysent_get(ev->nr);
		unsigned nargs = fmt ? fmt->nargs : 6, int_args = fmt ? fmt->int_args : 0;

		fputs(",\"syscall\":\"", out);
		print_syscall_name(ev, out);
		fprintf(out, "\",\"nr\":%d,\"args\":[", ev->nr);
		for (unsigned i = 0; i < nargs; i++) {
			if (i)
				fputc(',', out);
			if (int_args & ARG(i))
				fprintf(out, "%d", (int)ev->args[i]);
			else
				fprintf(out, "%" PRIu64, ev->args[i]);
		}
		/* An unknown result is null, not INT64_MIN, which JSON readers round. */
		if (ev->ret == EVENT_RET_UNFINISHED)
			fputs("],\"ret\":null", out);
		else
			fprintf(out, "],\"ret\":%" PRId64, ev->ret);
		if (event_is_error(ev)) {
			const char *name = errno_name((int)-ev->ret);

			if (name)
				fprintf(out, ",\"errno\":\"%s\"", name);
			else
				fprintf(out, ",\"errno\":\"%d\"", (int)-ev->ret);
		}
		fprintf(out, ",\"dur_ns\":%" PRIu64, ev->dur_ns);
	}
	if (ev->path) {
		fputs(",\"path\":", out);
		json_print_string(out, ev->path);
	}
	if (ev->dev || ev->ino)
		fprintf(out, ",\"dev\":\"%02x:%02x\",\"ino\":%" PRIu64, major(ev->dev),
			minor(ev->dev), ev->ino);
	if (ev->argv) {
		/* Verbatim when it is the array it should be; a string keeps the line valid. */
		fputs(",\"argv\":", out);
		if (stresc_json_ok(ev->argv) && stresc_print_argv(ev->argv, NULL) == 0)
			fputs(ev->argv, out);
		else
			json_print_string(out, ev->argv);
	}
	if (ev->stack_id)
		fprintf(out, ",\"stack_id\":%" PRId64, ev->stack_id);
	fputs("}\n", out);
}
