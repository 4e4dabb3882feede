// SPDX-License-Identifier: MIT
/*
 * Syscall knowledge for x86_64: number <-> name, the recorded set and its classes, and the
 * two renderings of an event: a strace-like line and a JSON Lines object. The formats are
 * documented in sysent.h; this file owns the decoding tables (flag names, errno and signal
 * names) and the string escaping both renderings need.
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
#include "sysent_x86_64.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The installed UAPI headers are older than the kernels we trace (Debian 12 ships 6.1), so
 * newer constants are spelled out here. The values are ABI and never change.
 */
#define NR_MAP_SHADOW_STACK 453 /* Linux 6.6 */
#define NR_MSEAL 462		/* Linux 6.10 */
#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08 /* Linux 6.11 */
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 */
#define MADV_GUARD_REMOVE 103
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x1000
#endif
#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif
#ifndef EVENT_RET_UNFINISHED
#define EVENT_RET_UNFINISHED INT64_MIN
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

/* The kernel's map type field and huge page size field of mmap flags. */
#define MMAP_TYPE_MASK 0x0fULL
#define MMAP_HUGE_SHIFT 26
#define MMAP_HUGE_MASK 0x3fULL

/* How a syscall's result prints in text. */
enum ret_style {
	RET_DEC = 0, /* signed decimal: 0, a tid */
	RET_ADDR,    /* hex: an address (mmap, mremap, brk, shmat, map_shadow_stack) */
	RET_NONE,    /* "?": the syscall does not return (exit, exit_group) */
};

/* Which --syscall class a recorded syscall belongs to. */
enum sys_class {
	CLASS_MEMORY = 1,  /* changes an address space: %memory */
	CLASS_PROCESS = 2, /* creates, replaces or ends a task or an mm: %process */
	CLASS_FILE = 4,    /* renames or removes a name a mapping may show: %file */
};

#define ARG(i) (1u << (i))

/*
 * Decoding of one recorded syscall. int_args marks the arguments the kernel declares as
 * C int: their upper 32 register bits are not part of the value (the ABI leaves them
 * undefined), so both renderings print them as signed 32-bit numbers.
 */
struct sys_fmt {
	int nr;
	unsigned char nargs;	/* arguments the syscall takes */
	unsigned char int_args; /* ARG(i) set: argument i is an int */
	unsigned char ret;	/* enum ret_style */
	unsigned char cls;	/* enum sys_class */
	void (*print_args)(const struct event *ev, FILE *out); /* NULL: raw arguments */
};

struct flag_name {
	uint64_t val;
	const char *name;
};
/* clang-format off */
#define FLAG(x) { (x), #x }
/* clang-format on */

/* ---- names: syscalls, errnos, signals ---------------------------------------------------- */

const char *sysent_name(int nr)
{
	if (nr < 0 || nr >= SYSENT_X86_64_NR_END)
		return NULL;
	return sysent_x86_64_names[nr];
}

/* Lookup by a name that need not be NUL-terminated (a token inside a --syscall list). */
static int lookup_n(const char *name, size_t len)
{
	/* A linear scan: this runs once per name on a command line, never per event. */
	for (int nr = 0; nr < SYSENT_X86_64_NR_END; nr++) {
		const char *n = sysent_x86_64_names[nr];

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

/* ---- flag and argument printers ----------------------------------------------------------- */

/* clang-format off */
static const struct flag_name prot_flags[] = {
	FLAG(PROT_READ), FLAG(PROT_WRITE), FLAG(PROT_EXEC), FLAG(PROT_SEM),
	FLAG(PROT_GROWSDOWN), FLAG(PROT_GROWSUP),
};

/* Values of mmap's type field (MMAP_TYPE_MASK). */
static const struct flag_name map_types[] = {
	FLAG(MAP_SHARED), FLAG(MAP_PRIVATE), FLAG(MAP_SHARED_VALIDATE), FLAG(MAP_DROPPABLE),
};

/* mmap flags outside the type field, in bit order. */
static const struct flag_name map_flags[] = {
	FLAG(MAP_FIXED), FLAG(MAP_ANONYMOUS), FLAG(MAP_32BIT), FLAG(MAP_GROWSDOWN),
	FLAG(MAP_DENYWRITE), FLAG(MAP_EXECUTABLE), FLAG(MAP_LOCKED), FLAG(MAP_NORESERVE),
	FLAG(MAP_POPULATE), FLAG(MAP_NONBLOCK), FLAG(MAP_STACK), FLAG(MAP_HUGETLB),
	FLAG(MAP_SYNC), FLAG(MAP_FIXED_NOREPLACE), FLAG(MAP_UNINITIALIZED),
};

/* The MAP_HUGE_* sizes <linux/mman.h> names, as log2 of the page size. */
static const struct flag_name map_huge_sizes[] = {
	{ 14, "MAP_HUGE_16KB" }, { 16, "MAP_HUGE_64KB" }, { 19, "MAP_HUGE_512KB" },
	{ 20, "MAP_HUGE_1MB" },  { 21, "MAP_HUGE_2MB" },  { 23, "MAP_HUGE_8MB" },
	{ 24, "MAP_HUGE_16MB" }, { 25, "MAP_HUGE_32MB" }, { 28, "MAP_HUGE_256MB" },
	{ 29, "MAP_HUGE_512MB" }, { 30, "MAP_HUGE_1GB" }, { 31, "MAP_HUGE_2GB" },
	{ 34, "MAP_HUGE_16GB" },
};

static const struct flag_name mremap_flags[] = {
	FLAG(MREMAP_MAYMOVE), FLAG(MREMAP_FIXED), FLAG(MREMAP_DONTUNMAP),
};

static const char *const madv_names[] = {
	ENAME(MADV_NORMAL), ENAME(MADV_RANDOM), ENAME(MADV_SEQUENTIAL), ENAME(MADV_WILLNEED),
	ENAME(MADV_DONTNEED), ENAME(MADV_FREE), ENAME(MADV_REMOVE), ENAME(MADV_DONTFORK),
	ENAME(MADV_DOFORK), ENAME(MADV_MERGEABLE), ENAME(MADV_UNMERGEABLE),
	ENAME(MADV_HUGEPAGE), ENAME(MADV_NOHUGEPAGE), ENAME(MADV_DONTDUMP), ENAME(MADV_DODUMP),
	ENAME(MADV_WIPEONFORK), ENAME(MADV_KEEPONFORK), ENAME(MADV_COLD), ENAME(MADV_PAGEOUT),
	ENAME(MADV_POPULATE_READ), ENAME(MADV_POPULATE_WRITE), ENAME(MADV_DONTNEED_LOCKED),
	ENAME(MADV_COLLAPSE), ENAME(MADV_HWPOISON), ENAME(MADV_SOFT_OFFLINE),
	ENAME(MADV_GUARD_INSTALL), ENAME(MADV_GUARD_REMOVE),
};

static const struct flag_name mlock2_flags[] = { FLAG(MLOCK_ONFAULT) };

static const struct flag_name mlockall_flags[] = {
	FLAG(MCL_CURRENT), FLAG(MCL_FUTURE), FLAG(MCL_ONFAULT),
};

static const struct flag_name shm_flags[] = {
	FLAG(SHM_RDONLY), FLAG(SHM_RND), FLAG(SHM_REMAP), FLAG(SHM_EXEC),
};

/* clone flags above the exit signal byte (CSIGNAL), in bit order. */
static const struct flag_name clone_flags[] = {
	FLAG(CLONE_VM), FLAG(CLONE_FS), FLAG(CLONE_FILES), FLAG(CLONE_SIGHAND),
	FLAG(CLONE_PIDFD), FLAG(CLONE_PTRACE), FLAG(CLONE_VFORK), FLAG(CLONE_PARENT),
	FLAG(CLONE_THREAD), FLAG(CLONE_NEWNS), FLAG(CLONE_SYSVSEM), FLAG(CLONE_SETTLS),
	FLAG(CLONE_PARENT_SETTID), FLAG(CLONE_CHILD_CLEARTID), FLAG(CLONE_DETACHED),
	FLAG(CLONE_UNTRACED), FLAG(CLONE_CHILD_SETTID), FLAG(CLONE_NEWCGROUP),
	FLAG(CLONE_NEWUTS), FLAG(CLONE_NEWIPC), FLAG(CLONE_NEWUSER), FLAG(CLONE_NEWPID),
	FLAG(CLONE_NEWNET), FLAG(CLONE_IO),
};

static const struct flag_name at_flags[] = {
	FLAG(AT_SYMLINK_NOFOLLOW), FLAG(AT_EMPTY_PATH),
};
/* clang-format on */

static void sep(FILE *out, bool *first)
{
	if (!*first)
		fputc('|', out);
	*first = false;
}

/* Print the names of the bits of *@rest found in @tab and clear them from *@rest. */
static void flags_names(FILE *out, uint64_t *rest, const struct flag_name *tab, size_t n,
			bool *first)
{
	for (size_t i = 0; i < n; i++) {
		if ((*rest & tab[i].val) != tab[i].val)
			continue;
		sep(out, first);
		fputs(tab[i].name, out);
		*rest &= ~tab[i].val;
	}
}

/* Print a flag word: its named bits, then the unknown bits as one hex value; @none if 0. */
static void print_flags(FILE *out, uint64_t v, const struct flag_name *tab, size_t n,
			const char *none)
{
	bool first = true;

	if (!v) {
		fputs(none, out);
		return;
	}
	flags_names(out, &v, tab, n, &first);
	if (v) {
		sep(out, &first);
		fprintf(out, "%#" PRIx64, v);
	}
}
#define PRINT_FLAGS(out, v, tab, none) print_flags(out, v, tab, ARRAY_SIZE(tab), none)

static void print_addr(FILE *out, uint64_t addr)
{
	if (addr)
		fprintf(out, "%#" PRIx64, addr);
	else
		fputs("NULL", out);
}

static void print_addr_len(FILE *out, const uint64_t *a)
{
	print_addr(out, a[0]);
	fprintf(out, ", %" PRIu64, a[1]);
}

/* An object path shown after the argument that names it, as strace -y shows fd paths. */
static void print_path_tag(FILE *out, const char *path)
{
	fputc('<', out);
	stresc_print_c(out, path, strlen(path));
	fputc('>', out);
}

static void print_map_flags(FILE *out, uint64_t v)
{
	uint64_t type = v & MMAP_TYPE_MASK, rest = v & ~MMAP_TYPE_MASK, huge = 0;
	bool first = true;

	/* The type is a value, not bits: MAP_SHARED_VALIDATE is MAP_SHARED|MAP_PRIVATE. */
	if (type) {
		const char *name = NULL;

		for (size_t i = 0; i < ARRAY_SIZE(map_types); i++)
			if (map_types[i].val == type)
				name = map_types[i].name;
		sep(out, &first);
		if (name)
			fputs(name, out);
		else
			fprintf(out, "%#" PRIx64, type);
	}
	/*
	 * The page size field shares bit 26 with MAP_UNINITIALIZED; the kernel reads the
	 * field only with MAP_HUGETLB, and so do we.
	 */
	if (v & MAP_HUGETLB) {
		huge = (v >> MMAP_HUGE_SHIFT) & MMAP_HUGE_MASK;
		rest &= ~(MMAP_HUGE_MASK << MMAP_HUGE_SHIFT);
	}
	flags_names(out, &rest, map_flags, ARRAY_SIZE(map_flags), &first);
	if (huge) {
		const char *name = NULL;

		for (size_t i = 0; i < ARRAY_SIZE(map_huge_sizes); i++)
			if (map_huge_sizes[i].val == huge)
				name = map_huge_sizes[i].name;
		sep(out, &first);
		if (name)
			fputs(name, out);
		else
			fprintf(out, "%" PRIu64 "<<MAP_HUGE_SHIFT", huge);
	}
	if (rest) {
		sep(out, &first);
		fprintf(out, "%#" PRIx64, rest);
	}
	if (first)
		fputc('0', out);
}

static void print_mmap(const struct event *ev, FILE *out)
{
	const uint64_t *a = ev->args;

	print_addr_len(out, a);
	fputs(", ", out);
	PRINT_FLAGS(out, a[2], prot_flags, "PROT_NONE");
	fputs(", ", out);
	print_map_flags(out, a[3]);
	fprintf(out, ", %d", (int)a[4]);
	if (ev->path)
		print_path_tag(out, ev->path);
	fprintf(out, ", %#" PRIx64, a[5]);
}

static void print_addr_len_args(const struct event *ev, FILE *out)
{
	print_addr_len(out, ev->args);
}

static void print_addr0(const struct event *ev, FILE *out)
{
	print_addr(out, ev->args[0]);
}

static void print_int0(const struct event *ev, FILE *out)
{
	fprintf(out, "%d", (int)ev->args[0]);
}

static void print_mremap(const struct event *ev, FILE *out)
{
	const uint64_t *a = ev->args;

	print_addr_len(out, a);
	fprintf(out, ", %" PRIu64 ", ", a[2]);
	PRINT_FLAGS(out, a[3], mremap_flags, "0");
	/* new_address is read only with MREMAP_FIXED; otherwise it is leftover garbage. */
	if (a[3] & MREMAP_FIXED) {
		fputs(", ", out);
		print_addr(out, a[4]);
	}
}

/* mprotect(addr, len, prot) and pkey_mprotect(addr, len, prot, pkey) */
static void print_mprotect(const struct event *ev, FILE *out)
{
	const uint64_t *a = ev->args;

	print_addr_len(out, a);
	fputs(", ", out);
	PRINT_FLAGS(out, a[2], prot_flags, "PROT_NONE");
	if (ev->nr == __NR_pkey_mprotect)
		fprintf(out, ", %d", (int)a[3]);
}

static void print_madvise(const struct event *ev, FILE *out)
{
	unsigned advice = (unsigned)ev->args[2];

	print_addr_len(out, ev->args);
	if (advice < ARRAY_SIZE(madv_names) && madv_names[advice])
		fprintf(out, ", %s", madv_names[advice]);
	else
		fprintf(out, ", %#x", advice);
}

static void print_mlock2(const struct event *ev, FILE *out)
{
	print_addr_len(out, ev->args);
	fputs(", ", out);
	PRINT_FLAGS(out, (unsigned)ev->args[2], mlock2_flags, "0");
}

static void print_mlockall(const struct event *ev, FILE *out)
{
	PRINT_FLAGS(out, (unsigned)ev->args[0], mlockall_flags, "0");
}

static void print_mseal(const struct event *ev, FILE *out)
{
	print_addr_len(out, ev->args);
	fprintf(out, ", %#" PRIx64, ev->args[2]);
}

static void print_shmat(const struct event *ev, FILE *out)
{
	const uint64_t *a = ev->args;

	fprintf(out, "%d", (int)a[0]);
	if (ev->path)
		print_path_tag(out, ev->path);
	fputs(", ", out);
	print_addr(out, a[1]);
	fputs(", ", out);
	PRINT_FLAGS(out, (unsigned)a[2], shm_flags, "0");
}

/* x86_64 clone(flags, stack, parent_tid, child_tid, tls): note tls last, unlike i386. */
static void print_clone(const struct event *ev, FILE *out)
{
	const uint64_t *a = ev->args;
	uint64_t flags = a[0], rest = flags & ~(uint64_t)CSIGNAL;
	int sig = (int)(flags & CSIGNAL);
	bool first = true;

	fputs("child_stack=", out);
	print_addr(out, a[1]);
	fputs(", flags=", out);
	flags_names(out, &rest, clone_flags, ARRAY_SIZE(clone_flags), &first);
	if (rest) {
		sep(out, &first);
		fprintf(out, "%#" PRIx64, rest);
	}
	if (sig) {
		sep(out, &first);
		if (signal_name(sig))
			fputs(signal_name(sig), out);
		else
			fprintf(out, "%d", sig);
	}
	if (first)
		fputc('0', out);
	/* The pointers print only when a flag makes the kernel use them, as strace does. */
	if (flags & CLONE_PIDFD)
		fprintf(out, ", pidfd=%#" PRIx64, a[2]);
	else if (flags & CLONE_PARENT_SETTID)
		fprintf(out, ", parent_tid=%#" PRIx64, a[2]);
	if (flags & CLONE_SETTLS)
		fprintf(out, ", tls=%#" PRIx64, a[4]);
	if (flags & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID))
		fprintf(out, ", child_tidptr=%#" PRIx64, a[3]);
}

static void print_clone3(const struct event *ev, FILE *out)
{
	/* struct clone_args lives in the tracee; only its address and size were recorded. */
	print_addr(out, ev->args[0]);
	fprintf(out, ", %" PRIu64, ev->args[1]);
}

/* execve's filename and argv: what the daemon read, else the tracee pointers. */
static void print_exec_args(const struct event *ev, uint64_t path, uint64_t argv, FILE *out)
{
	if (ev->path)
		stresc_print_quoted(out, ev->path);
	else
		print_addr(out, path);
	fputs(", ", out);
	if (!ev->argv || stresc_print_argv(ev->argv, NULL) < 0 || stresc_print_argv(ev->argv, out) < 0)
		print_addr(out, argv);
	/* The environment is not recorded. */
	fputs(", ...", out);
}

static void print_execve(const struct event *ev, FILE *out)
{
	print_exec_args(ev, ev->args[0], ev->args[1], out);
}

static void print_execveat(const struct event *ev, FILE *out)
{
	const uint64_t *a = ev->args;

	if ((int)a[0] == AT_FDCWD)
		fputs("AT_FDCWD, ", out);
	else
		fprintf(out, "%d, ", (int)a[0]);
	print_exec_args(ev, a[1], a[2], out);
	fputs(", ", out);
	PRINT_FLAGS(out, (unsigned)a[4], at_flags, "0");
}

static void print_raw_args(const struct event *ev, unsigned nargs, unsigned int_args, FILE *out)
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

static void print_prctl(const struct event *ev, FILE *out)
{
	const uint64_t *a = ev->args;

	if ((int)a[0] != PR_SET_VMA) {
		print_raw_args(ev, 5, ARG(0), out);
		return;
	}
	fputs("PR_SET_VMA, ", out);
	if (a[1] != PR_SET_VMA_ANON_NAME) {
		fprintf(out, "%#" PRIx64 ", %#" PRIx64 ", %#" PRIx64 ", %#" PRIx64, a[1], a[2],
			a[3], a[4]);
		return;
	}
	fputs("PR_SET_VMA_ANON_NAME, ", out);
	print_addr_len(out, a + 2);
	fputs(", ", out);
	/* The name is in tracee memory; the daemon may have copied it into ev->path. */
	if (ev->path && a[4])
		stresc_print_quoted(out, ev->path);
	else
		print_addr(out, a[4]);
}

/*
 * unlink, unlinkat, rename, renameat, renameat2: the paths the daemon read are ev->argv, a
 * JSON array (one path, or old and new); @k is the path's place there.
 */
static void print_path_k(const struct event *ev, unsigned k, uint64_t ptr, FILE *out)
{
	if (!ev->argv || stresc_print_argv_item(ev->argv, k, out) < 0)
		print_addr(out, ptr);
}

static void print_dirfd(FILE *out, uint64_t fd)
{
	if ((int)fd == AT_FDCWD)
		fputs("AT_FDCWD", out);
	else
		fprintf(out, "%d", (int)fd);
}

static void print_unlink(const struct event *ev, FILE *out)
{
	print_path_k(ev, 0, ev->args[0], out);
}

static void print_unlinkat(const struct event *ev, FILE *out)
{
	print_dirfd(out, ev->args[0]);
	fputs(", ", out);
	print_path_k(ev, 0, ev->args[1], out);
	fputs((unsigned)ev->args[2] & AT_REMOVEDIR ? ", AT_REMOVEDIR" :
	      (unsigned)ev->args[2] ? "" : ", 0", out);
	if ((unsigned)ev->args[2] & ~(unsigned)AT_REMOVEDIR)
		fprintf(out, ", %#x", (unsigned)ev->args[2]);
}

static void print_rename(const struct event *ev, FILE *out)
{
	print_path_k(ev, 0, ev->args[0], out);
	fputs(", ", out);
	print_path_k(ev, 1, ev->args[1], out);
}

/* renameat (4 arguments) and renameat2 (5, the flags) */
static void print_renameat(const struct event *ev, FILE *out)
{
	print_dirfd(out, ev->args[0]);
	fputs(", ", out);
	print_path_k(ev, 0, ev->args[1], out);
	fputs(", ", out);
	print_dirfd(out, ev->args[2]);
	fputs(", ", out);
	print_path_k(ev, 1, ev->args[3], out);
	if (ev->nr == __NR_renameat2) {
		static const struct flag_name rename_flags[] = {
			FLAG(RENAME_NOREPLACE), FLAG(RENAME_EXCHANGE), FLAG(RENAME_WHITEOUT),
		};
		fputs(", ", out);
		PRINT_FLAGS(out, (unsigned)ev->args[4], rename_flags, "0");
	}
}

/* ---- the recorded set -------------------------------------------------------------------- */

#define MEM CLASS_MEMORY
#define PROC CLASS_PROCESS
#define FILE_ CLASS_FILE

/* Same order as sysent_recorded[] (by number); sys_fmt_find() checks that they agree. */
/* clang-format off */
static const struct sys_fmt sys_fmts[] = {
	{ __NR_mmap, 6, ARG(4), RET_ADDR, MEM, print_mmap },
	{ __NR_mprotect, 3, 0, RET_DEC, MEM, print_mprotect },
	{ __NR_munmap, 2, 0, RET_DEC, MEM, print_addr_len_args },
	{ __NR_brk, 1, 0, RET_ADDR, MEM, print_addr0 },
	{ __NR_mremap, 5, 0, RET_ADDR, MEM, print_mremap },
	{ __NR_madvise, 3, ARG(2), RET_DEC, MEM, print_madvise },
	{ __NR_shmat, 3, ARG(0) | ARG(2), RET_ADDR, MEM, print_shmat },
	{ __NR_clone, 5, 0, RET_DEC, PROC, print_clone },
	{ __NR_fork, 0, 0, RET_DEC, PROC, NULL },
	{ __NR_vfork, 0, 0, RET_DEC, PROC, NULL },
	{ __NR_execve, 3, 0, RET_DEC, PROC, print_execve },
	{ __NR_exit, 1, ARG(0), RET_NONE, PROC, print_int0 },
	{ __NR_shmdt, 1, 0, RET_DEC, MEM, print_addr0 },
	{ __NR_rename, 2, 0, RET_DEC, FILE_, print_rename },
	{ __NR_unlink, 1, 0, RET_DEC, FILE_, print_unlink },
	{ __NR_mlock, 2, 0, RET_DEC, MEM, print_addr_len_args },
	{ __NR_munlock, 2, 0, RET_DEC, MEM, print_addr_len_args },
	{ __NR_mlockall, 1, ARG(0), RET_DEC, MEM, print_mlockall },
	{ __NR_munlockall, 0, 0, RET_DEC, MEM, NULL },
	{ __NR_prctl, 5, ARG(0), RET_DEC, MEM, print_prctl },
	{ __NR_io_setup, 2, 0, RET_DEC, MEM, NULL },
	{ __NR_io_destroy, 1, 0, RET_DEC, MEM, NULL },
	{ __NR_remap_file_pages, 5, 0, RET_DEC, MEM, NULL },
	{ __NR_exit_group, 1, ARG(0), RET_NONE, PROC, print_int0 },
	{ __NR_mbind, 6, 0, RET_DEC, MEM, NULL },
	{ __NR_unlinkat, 3, ARG(0) | ARG(2), RET_DEC, FILE_, print_unlinkat },
	{ __NR_renameat, 4, ARG(0) | ARG(2), RET_DEC, FILE_, print_renameat },
	{ __NR_renameat2, 5, ARG(0) | ARG(2), RET_DEC, FILE_, print_renameat },
	{ __NR_execveat, 5, ARG(0) | ARG(4), RET_DEC, PROC, print_execveat },
	{ __NR_mlock2, 3, ARG(2), RET_DEC, MEM, print_mlock2 },
	{ __NR_pkey_mprotect, 4, ARG(3), RET_DEC, MEM, print_mprotect },
	{ __NR_clone3, 2, 0, RET_DEC, PROC, print_clone3 },
	{ NR_MAP_SHADOW_STACK, 3, 0, RET_ADDR, MEM, NULL },
	{ NR_MSEAL, 3, 0, RET_DEC, MEM, print_mseal },
};
/* clang-format on */

/* clang-format off */
const int sysent_recorded[] = {
	__NR_mmap, __NR_mprotect, __NR_munmap, __NR_brk, __NR_mremap, __NR_madvise,
	__NR_shmat, __NR_clone, __NR_fork, __NR_vfork, __NR_execve, __NR_exit, __NR_shmdt,
	__NR_rename, __NR_unlink,
	__NR_mlock, __NR_munlock, __NR_mlockall, __NR_munlockall, __NR_prctl, __NR_io_setup,
	__NR_io_destroy, __NR_remap_file_pages, __NR_exit_group, __NR_mbind, __NR_unlinkat,
	__NR_renameat, __NR_renameat2, __NR_execveat,
	__NR_mlock2, __NR_pkey_mprotect, __NR_clone3, NR_MAP_SHADOW_STACK, NR_MSEAL,
};
/* clang-format on */
const unsigned sysent_n_recorded = ARRAY_SIZE(sysent_recorded);

_Static_assert(ARRAY_SIZE(sys_fmts) == ARRAY_SIZE(sysent_recorded),
	       "sys_fmts[] and sysent_recorded[] list the same syscalls");

/* Index of @nr in sysent_recorded[] (binary search: the list is sorted), or -1. */
static int recorded_index(int nr)
{
	int lo = 0, hi = (int)ARRAY_SIZE(sysent_recorded) - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;

		if (sysent_recorded[mid] == nr)
			return mid;
		if (sysent_recorded[mid] < nr)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

bool sysent_is_recorded(int nr)
{
	return recorded_index(nr) >= 0;
}

static const struct sys_fmt *sys_fmt_find(int nr)
{
	int i = recorded_index(nr);

	if (i < 0)
		return NULL;
	assert(sys_fmts[i].nr == nr);
	return &sys_fmts[i];
}

/* ---- --syscall lists ------------------------------------------------------------------- */

int sysent_parse_list(const char *list, int **ret_nrs, const char **ret_bad)
{
	/* Names longer than this are cut in the error message only. */
	static _Thread_local char bad[64];
	bool want[SYSENT_X86_64_NR_END] = {false};
	const char *p = list;
	int *nrs, n = 0;

	for (;;) {
		size_t len = strcspn(p, ",");
		int cls = 0, nr;

		if (len == 3 && strncmp(p, "all", 3) == 0) {
			for (nr = 0; nr < SYSENT_X86_64_NR_END; nr++)
				want[nr] = sysent_x86_64_names[nr] != NULL;
		} else if (len == 7 && strncmp(p, "%memory", 7) == 0) {
			cls = CLASS_MEMORY;
		} else if (len == 8 && strncmp(p, "%process", 8) == 0) {
			cls = CLASS_PROCESS;
		} else if (len == 5 && strncmp(p, "%file", 5) == 0) {
			cls = CLASS_FILE;
		} else if ((nr = lookup_n(p, len)) >= 0) {
			want[nr] = true;
		} else {
			snprintf(bad, sizeof(bad), "%.*s", (int)len, p);
			if (ret_bad)
				*ret_bad = bad;
			return -EINVAL;
		}
		for (size_t i = 0; cls && i < ARRAY_SIZE(sys_fmts); i++)
			if (sys_fmts[i].cls == cls)
				want[sys_fmts[i].nr] = true;
		if (p[len] == '\0')
			break;
		p += len + 1;
	}

	for (int nr = 0; nr < SYSENT_X86_64_NR_END; nr++)
		n += want[nr];
	nrs = malloc((n ? n : 1) * sizeof(*nrs));
	if (!nrs)
		return -ENOMEM;
	n = 0;
	for (int nr = 0; nr < SYSENT_X86_64_NR_END; nr++)
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

void event_print(const struct event *ev, FILE *out)
{
	const struct sys_fmt *fmt;

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
	fmt = sys_fmt_find(ev->nr);
	print_syscall_name(ev, out);
	fputc('(', out);
	if (fmt && fmt->print_args)
		fmt->print_args(ev, out);
	else if (fmt)
		print_raw_args(ev, fmt->nargs, fmt->int_args, out);
	else
		print_raw_args(ev, 6, 0, out);
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
		const struct sys_fmt *fmt = sys_fmt_find(ev->nr);
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
