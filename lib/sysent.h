/* SPDX-License-Identifier: MIT */
/*
 * Syscall knowledge shared by daemon and client: the x86_64 syscall table (number <-> name),
 * the set of syscalls vmatrace records, and decoding of an event into strace-like text and
 * JSON Lines.
 *
 * Text format (one line, no trailing newline written by the caller's FILE unless said):
 *   [1234] mmap(NULL, 65536, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f3b2c000000
 *   [1234] munmap(0x7f3b2c000000, 65536) = -1 EINVAL (Invalid argument)
 *   [1234] execve("/usr/bin/python3", ["python3", "-c", "print(42)"], ...) = 0
 *   [1234] +++ exited with 0 +++          (EVENT_TASK_EXIT; "+++ killed by SIGKILL +++")
 *   [1234] --- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x7f3b2c000010} pc=...
 *                                          (EVENT_SIGNAL: signal_event_print, below)
 * The [pid] prefix names the tid when tid != pid: "[1234/1240]".
 *
 * Text details, strace's conventions unless said:
 * - One space on each side of "=" (no column alignment). Addresses are hex, 0 is "NULL";
 *   lengths are decimal; offsets and other raw values are hex ("0" for zero); int
 *   arguments (fds, pkeys, exit codes, shm ids) are signed decimal.
 * - Flags print as NAME|NAME|0x<unknown bits>, "0" (or "PROT_NONE") when empty. mmap shows
 *   its type first (MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE, MAP_DROPPABLE, or hex),
 *   then the flags in bit order; with MAP_HUGETLB the size field prints as MAP_HUGE_2MB
 *   (or "N<<MAP_HUGE_SHIFT" for sizes without a macro), without it bit 26 is
 *   MAP_UNINITIALIZED. Unknown madvise advice prints in hex.
 * - File identity: when ev->path is set, the argument naming the mapped object carries the
 *   path in angle brackets, as strace -y shows an fd's path. Only mmap and shmat do this:
 *     mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, 3</usr/lib/libc.so.6>, 0x1000) = 0x7f3b2c000000
 *     mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS, -1</dev/zero (deleted)>, 0)
 *     shmat(5</SYSV00000000 (deleted)>, NULL, 0) = 0x7f3b2c000000
 *   dev and ino are shown only in JSON.
 * - Results: hex for mmap, mremap, brk, shmat and map_shadow_stack; signed decimal
 *   otherwise; "?" for exit and exit_group and for EVENT_RET_UNFINISHED. A failure is
 *   "-1 ENAME (libc's untranslated text)"; the kernel-internal ERESTART* results are
 *   "? ERESTARTSYS (...)" since the syscall runs again; an errno without a name is
 *   "-1 (errno N)".
 * - Strings (execve's path and argv, PR_SET_VMA_ANON_NAME's name, paths in <>) are escaped
 *   as C does: \\ \" \n \t \r \v \f, other control bytes and bytes that are not valid
 *   UTF-8 as three-digit octal (\033); valid UTF-8 prints as is, except C1 controls.
 *   Strings are never truncated.
 * - execve(path, argv, ...) and execveat(dirfd|AT_FDCWD, path, argv, ..., AT_* flags): path
 *   is ev->path, argv is ev->argv re-printed as ["a", "b"]; either falls back to the tracee
 *   pointer when absent (or, for argv, not a JSON array of strings). The environment is not
 *   recorded and prints as "...".
 * - clone(child_stack=ADDR, flags=CLONE_*|SIGNAL[, parent_tid=|pidfd=PTR][, tls=PTR]
 *   [, child_tidptr=PTR]): each pointer only when a flag makes the kernel read it. clone3
 *   prints its (unread) struct pointer and size: clone3(0x7ffd1c2e4f60, 88).
 * - prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, addr, len, name): name is ev->path quoted when
 *   the daemon copied it there, else the pointer. Other prctl options, mbind, io_setup,
 *   io_destroy, remap_file_pages, map_shadow_stack and any syscall outside the recorded set
 *   print raw arguments (hex; int arguments decimal); a syscall outside the recorded set
 *   prints all six, and a number without a name prints as syscall_0x1ce.
 * - Task exit: "+++ exited with N +++", "+++ killed by SIGSEGV (core dumped) +++". Real-time
 *   signals are SIGRT_N, N counted from the kernel's 32.
 *
 * JSON Lines: {"seq":3,"time_ns":...,"pid":1234,"tid":1234,"mm":1,"syscall":"mmap",
 *   "args":[0,8192,3,34,-1,0],"ret":139893...,"errno":"EINVAL"(failures only),
 *   "path":..., "dev":"08:01", "ino":..., "argv":[...] (when present)}
 * args are printed as signed integers for int args (fds...), unsigned otherwise (below).
 *
 * JSON details. Keys in this order:
 * - syscall events: seq, time_ns, pid, tid, mm, syscall (name, or "syscall_0x1ce"), nr,
 *   args, ret, errno (failures only), dur_ns, then path, dev, ino, argv, stack_id.
 * - EVENT_SIGNAL: seq, time_ns, pid, tid, mm, "syscall":"+signal", then the keys
 *   signal_event_print_json() lists, then path/dev/ino (the module of the pc), stack_id.
 * - EVENT_TASK_EXIT: seq, time_ns, pid, tid, mm, "syscall":"+exit", status (the raw wait
 *   status), then "exit_code":N, or "signal":"SIGSEGV" (a number if it has no name; plus
 *   "core_dumped":true), then the optional keys. No nr, args, ret or dur_ns.
 * - args: as many as the syscall takes (six for syscalls outside the recorded set). An
 *   argument the kernel declares as C int (mmap's fd, pkey_mprotect's pkey, shmat's id and
 *   flags, madvise's advice, mlock2's and mlockall's flags, execveat's dirfd and flags,
 *   prctl's option, exit codes) is its low 32 bits as a signed number, which is how the
 *   kernel reads it; every other argument is the raw register as an unsigned 64-bit number.
 * - ret: signed 64-bit; null for EVENT_RET_UNFINISHED. errno: the name, or the number as a
 *   string when it has none ("4000").
 * - path when non-NULL; dev ("%02x:%02x" major:minor as in /proc/PID/maps) and ino when
 *   either is non-zero; argv verbatim when it is a JSON array of strings (else as a JSON
 *   string, so the line stays valid); stack_id when non-zero.
 * - Strings are escaped by json_print_string().
 */
#ifndef VMATRACE_SYSENT_H
#define VMATRACE_SYSENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "event.h"

struct mm;
struct mm_file;

/* How a syscall's result prints in text. */
enum sysent_ret {
	RET_DEC = 0, /* signed decimal: 0, a tid */
	RET_ADDR,    /* hex: an address (mmap, mremap, brk, shmat, map_shadow_stack) */
	RET_NONE,    /* "?": the syscall does not return (exit, exit_group) */
};

/*
 * What vmatrace does with a syscall: the flags column of lib/syscallent.h. The first three
 * are the --syscall classes and partition the recorded set.
 */
enum sysent_flag {
	SF_MEMORY = 1 << 0,	 /* %memory: changes an address space */
	SF_PROCESS = 1 << 1,	 /* %process: creates, replaces or ends a task or an mm */
	SF_FILE = 1 << 2,	 /* %file: renames or removes a name a mapping may show */
	SF_RECORDED = 1 << 3,	 /* recorded: stopped by run's filter and by attach */
	SF_PRCTL_RULE = 1 << 4,	 /* only when args[0] is PR_SET_VMA (filter, attach) */
	SF_PTRACE_RULE = 1 << 5, /* run's filter stops it for PTRACE_TRACEME, ATTACH and SEIZE
				  * only, so that a failure can be explained; not SF_RECORDED:
				  * attach does not stop it */
	SF_ORDERED = 1 << 6,	 /* its seq is given among the mm's map changes (daemon/order.c):
				  * the map-changing calls, and ptrace, ordered alike */
	SF_FILE_ID = 1 << 7,	 /* its result is a new mapping whose file the daemon asks the
				  * kernel for (ev->path, dev, ino): mmap, shmat */
	SF_VMA_NAME = 1 << 8,	 /* the daemon reads the anon VMA name at args[4] (ev->path) */
	SF_EXEC = 1 << 9,	 /* execs: the daemon reads path and argv (ev->path, ev->argv) */
	SF_CLONE = 1 << 10,	 /* creates a task: the daemon needs its clone flags */
	SF_NAMES = 1 << 11,	 /* renames or removes a path: daemon/names.c reads the paths */
	SF_EXIT = 1 << 12,	 /* ends the thread or process: no exit stop follows */
	SF_DIRFD = 1 << 13,	 /* the first argument is a directory fd; paths follow it */
};

#define ARG(i) (1u << (i))

/* An address range [lo, hi). */
struct sys_range {
	uint64_t lo, hi;
};

/*
 * What a syscall did or may have done to an address space, and what the daemon must read
 * to follow it, as plain data: sysent_effects() fills it from the event, the row's effects
 * column names the function. The daemon reads it instead of knowing syscalls by number:
 * livemodel.c (touched, unfinished, shared_fd, result_size), order.c (needs_free, frees),
 * stops.c (result_file, result_anon, clone_flags, clone_args), names.c (paths, dirfds).
 * Lengths are rounded up to pages (mremap's new range in touched: new_len as given); for
 * mmap(NULL, 5000, ...) = 0x7f3b2c000000, touched[0] and needs_free are
 * [0x7f3b2c000000, 0x7f3b2c002000).
 */
struct sysent_effects {
	struct sys_range touched[2]; /* the addresses the event names, what the model made of
				      * it or not (empty: none); a failed call names its
				      * arguments' range, not its result */
	struct sys_range unfinished; /* what the call may have changed if its task died in it */
	bool unfinished_all;	     /* ... anything: its arguments do not say (the default) */
	bool has_needs_free;	     /* a success found needs_free unmapped: it went there */
	struct sys_range needs_free; /* mmap, mremap's new pages, shmat (with shm_size) */
	bool has_frees;		     /* a success unmapped what of frees is mapped */
	struct sys_range frees;	     /* munmap, mremap's old or cut pages, shmdt's segment
				      * ([addr, UINT64_MAX): its fragments from addr on); may
				      * be empty (mremap shrunk within its last page) */
	bool result_file;	     /* the result is a new mapping whose file the daemon asks
				      * the kernel for (ev->path, dev, ino) */
	bool result_anon;	     /* ... shared anonymous memory: its file is the kernel's
				      * ("/dev/zero (deleted)"), not one to read symbols from */
	bool result_size;	     /* the size of the mapping at the result is a fact to keep
				      * (shmat: shmdt unmaps the whole segment) */
	int shared_fd;		     /* a MAP_SHARED mapping of this fd: its open mode decides
				      * the VMA's flags (MM_FILE_*); -1: none (the default) */
	uint64_t clone_flags;	     /* the clone flags the call creates its task with ... */
	uint64_t clone_args;	     /* ... or, when not 0, the tracee address of the u64 that
				      * holds them (clone3's struct clone_args) */
	unsigned n_paths;	     /* the names it renames or removes: 0, 1 or 2 ... */
	uint64_t paths[2];	     /* ... the tracee addresses of the paths, */
	int dirfds[2];		     /* ... each relative to this fd, or AT_FDCWD */
};

/*
 * One row of lib/syscallent.h. int_args marks the arguments the kernel declares as C int:
 * their upper 32 register bits are not part of the value (the ABI leaves them undefined),
 * so both renderings print them as signed 32-bit numbers.
 */
struct sysent {
	const char *name;	/* "mmap"; NULL: no syscall has this number */
	unsigned char nargs;	/* arguments the syscall takes */
	unsigned char int_args; /* ARG(i) set: argument i is an int */
	unsigned char ret;	/* enum sysent_ret */
	unsigned flags;		/* enum sysent_flag */
	/* the arguments as text, after "name(" (NULL: raw) */
	void (*print)(const struct event *ev, FILE *out);
	/* the model transition (NULL: none), called by mm_apply(); as mm_apply() */
	int (*model)(struct mm *mm, const uint64_t a[6], int64_t ret, const struct mm_file *file,
		     const char *name);
	/* what it does to an address space (NULL: nothing); as sysent_effects() */
	void (*effects)(const struct event *ev, uint64_t shm_size, struct sysent_effects *ret);
};

/*
 * sysent_get - the row of syscall @nr, or NULL when no x86_64 syscall has that number. The
 * row is static. sysent_flags - its flags, 0 for an unknown number.
 */
const struct sysent *sysent_get(int nr);
unsigned sysent_flags(int nr);

/*
 * sysent_effects - fill @ret with what the syscall event @ev (its nr, args and ret) did or
 * may have done; @shm_size is the size of the segment a shmat mapped, read at its exit
 * stop (0: not known). A syscall whose row has no effects function touched nothing, and if
 * unfinished may have changed anything. Pure: neither @ev nor any state is read elsewhere.
 */
void sysent_effects(const struct event *ev, uint64_t shm_size, struct sysent_effects *ret);

/* sysent_name - the x86_64 name of syscall @nr ("mmap"), or NULL if unknown. */
const char *sysent_name(int nr);

/* sysent_lookup - the number of syscall @name, or -1. Accepts every x86_64 name. */
int sysent_lookup(const char *name);

/* One past the highest syscall number the table knows: rows are 0..SYSENT_NR_END-1. */
#define SYSENT_NR_END 463

/* sysent_is_recorded - whether vmatrace records syscall @nr (an SF_RECORDED row). */
bool sysent_is_recorded(int nr);

/*
 * sysent_records - whether vmatrace records syscall @nr called with raw @args when every
 * syscall stops (attach): an SF_RECORDED row whose argument rule, if any, holds (prctl:
 * PR_SET_VMA only). The ptrace requests run's filter stops (SF_PTRACE_RULE) are not.
 */
bool sysent_records(int nr, const uint64_t *args);

/*
 * sysent_parse_list - parse a comma-separated --syscall LIST ("mmap,munmap" or "%memory",
 * "%process" classes) into numbers. Returns the count (>= 0) with a malloc'ed array in
 * @ret_nrs, or -EINVAL with the offending name in @ret_bad (static or pointing into @list,
 * valid while @list is).
 *
 * Items: any x86_64 syscall name (recorded or not); "%memory", the recorded syscalls that
 * change an address space (SF_MEMORY rows: mmap munmap mremap brk mprotect pkey_mprotect
 * madvise mlock mlock2 munlock mlockall munlockall mseal shmat shmdt mbind io_setup
 * io_destroy map_shadow_stack remap_file_pages prctl); "%process", the recorded ones that
 * create, replace or end a task (SF_PROCESS: clone clone3 fork vfork execve execveat exit
 * exit_group); "%file", the ones that rename or remove a name (SF_FILE: unlink unlinkat
 * rename renameat renameat2); "all", every named syscall. The three classes partition the
 * recorded rows. The result is sorted
 * and without duplicates, and the caller frees it. An empty list or an empty item ("a,,b")
 * is -EINVAL with @ret_bad "". @ret_bad points to a thread-local copy of the bad item (cut
 * at 63 bytes), valid until the next call in the thread; @ret_bad may be NULL. -ENOMEM if
 * the array cannot be allocated. @ret_nrs is set only on success.
 */
int sysent_parse_list(const char *list, int **ret_nrs, const char **ret_bad);

/* event_print - print @ev as one strace-like line plus '\n' to @out. */
void event_print(const struct event *ev, FILE *out);

/*
 * event_line - event_print()'s line without its '\n', in a new string the caller frees.
 * NULL (errno ENOMEM) if it cannot be allocated.
 */
char *event_line(const struct event *ev);

/* event_print_json - print @ev as one JSON object plus '\n' to @out. */
void event_print_json(const struct event *ev, FILE *out);

/* errno_name - "ENOMEM" for 12, NULL if unknown. */
const char *errno_name(int err);

/*
 * errno_name() covers every errno x86_64 Linux returns (1..133) and the kernel-internal
 * ones a tracer can see at a syscall-exit stop (512..531, e.g. ERESTARTSYS).
 *
 * signal_name - "SIGSEGV" for 11, "SIGRT_2" for 34 (real-time signals count from the
 * kernel's SIGRTMIN, 32, not glibc's), NULL outside 1..64. The string is static.
 */
const char *signal_name(int sig);

/* Fault signals (EVENT_SIGNAL events, lib/sigevent.c). ------------------------------------ */

/* signal_is_fault - SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS: the ones recorded. */
bool signal_is_fault(int sig);

/* signal_code_name - "SEGV_MAPERR" for (SIGSEGV, 1), "SI_TKILL" for (any, -6); NULL if
 * unknown. signal_code_has_addr - whether si_addr means something for that code (a fault
 * the kernel raised at an address, not a signal sent by a process). */
const char *signal_code_name(int sig, int code);
bool signal_code_has_addr(int sig, int code);

/* signal_outcome_name - "handled", "fatal" or "unknown" (enum event_signal_outcome). */
const char *signal_outcome_name(int64_t outcome);

/*
 * signal_event_print - the text of an EVENT_SIGNAL after event_print()'s "[pid] " prefix,
 * strace's form plus where and what came of it, with its newline:
 *   --- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x7f3b2c000010}
 *       pc=0x55d0c4a1e1e9 (/tmp/uaf+0x11e9) fatal ---        (one line)
 * signal_event_print_json - its JSON keys after "mm": ,"syscall":"+signal","signal":
 * "SIGSEGV","signo":11,"si_code":1,"code":"SEGV_MAPERR" (when named),"addr","pc","sp",
 * "module_offset" (unsigned integers),"outcome":"fatal"|"handled"|"unknown".
 */
void signal_event_print(const struct event *ev, FILE *out);
void signal_event_print_json(const struct event *ev, FILE *out);

/*
 * json_print_string - print NUL-terminated @s to @out as a JSON string, quotes included.
 * Escapes '"', '\\', control bytes (\n \t \r \b \f, else \u00XX) and DEL; well-formed
 * UTF-8 passes through; each byte that is not part of well-formed UTF-8 becomes \u00XX.
 * Paths and argv are bytes, not text, so this keeps every line valid JSON; the price is
 * that a reader cannot tell the byte 0xe9 from U+00E9. vmatrace's own reader (the argv
 * re-printing in event_print) takes \u0080..\u00ff as the raw byte, so a round trip
 * through json_print_string is exact. The daemon should build ev->argv with this.
 */
void json_print_string(FILE *out, const char *s);

/*
 * json_string_array - @n strings (NULL ones as "") as a JSON array in a new string the
 * caller frees: ["ls","-l"]. Dies when out of memory (the daemon's and client's way).
 */
char *json_string_array(const char *const *v, size_t n);

#endif
