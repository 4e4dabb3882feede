/* SPDX-License-Identifier: MIT */
/*
 * Inside lib/: what the rows of lib/syscallent.h point to (printers, effects functions,
 * model functions), and the printing helpers the decoder files share. The decoders, with
 * the effects functions, are split by family, as strace's mem.c and process.c:
 * lib/sys_mem.c (memory), lib/sys_proc.c (tasks), lib/sys_file.c (names); the model
 * functions are in lib/mm_range.c. Included by those files and lib/sysent.c only.
 */
#ifndef VMATRACE_SYSENT_INT_H
#define VMATRACE_SYSENT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "event.h"
#include "sysent.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The installed UAPI headers are older than the kernels we trace (Debian 12 ships 6.1), so
 * newer constants are spelled out here. The values are ABI and never change.
 */
#ifndef EVENT_RET_UNFINISHED
#define EVENT_RET_UNFINISHED INT64_MIN
#endif

/* A flag bit or value and its name, for the flag printers. */
struct flag_name {
	uint64_t val;
	const char *name;
};
/* clang-format off */
#define FLAG(x) { (x), #x }
/* clang-format on */

/* Print '|' unless *@first; clear *@first. */
void sys_sep(FILE *out, bool *first);
/* Print the names of the bits of *@rest found in @tab and clear them from *@rest. */
void sys_flags_names(FILE *out, uint64_t *rest, const struct flag_name *tab, size_t n,
		     bool *first);
/* Print a flag word: its named bits, then the unknown bits as one hex value; @none if 0. */
void sys_print_flags(FILE *out, uint64_t v, const struct flag_name *tab, size_t n,
		     const char *none);
#define PRINT_FLAGS(out, v, tab, none) sys_print_flags(out, v, tab, ARRAY_SIZE(tab), none)
/* An address in hex, 0 as "NULL". */
void sys_print_addr(FILE *out, uint64_t addr);
/* "ADDR, LEN" from a[0], a[1]: an address range as the kernel takes it. */
void sys_print_range(FILE *out, const uint64_t *a);
/* The first @nargs arguments raw: hex, or signed decimal for the ARG(i) of @int_args. */
void sys_print_raw_args(const struct event *ev, unsigned nargs, unsigned int_args, FILE *out);

/* The printers of the table's printer column (struct sysent.print). */
void sys_print_mmap(const struct event *ev, FILE *out);
void sys_print_mprotect(const struct event *ev, FILE *out);
void sys_print_addr_len(const struct event *ev, FILE *out);
void sys_print_addr0(const struct event *ev, FILE *out);
void sys_print_mremap(const struct event *ev, FILE *out);
void sys_print_madvise(const struct event *ev, FILE *out);
void sys_print_shmat(const struct event *ev, FILE *out);
void sys_print_mlockall(const struct event *ev, FILE *out);
void sys_print_mlock2(const struct event *ev, FILE *out);
void sys_print_prctl(const struct event *ev, FILE *out);
void sys_print_mseal(const struct event *ev, FILE *out);
void sys_print_clone(const struct event *ev, FILE *out);
void sys_print_clone3(const struct event *ev, FILE *out);
void sys_print_execve(const struct event *ev, FILE *out);
void sys_print_execveat(const struct event *ev, FILE *out);
void sys_print_int0(const struct event *ev, FILE *out);
void sys_print_rename(const struct event *ev, FILE *out);
void sys_print_unlink(const struct event *ev, FILE *out);
void sys_print_unlinkat(const struct event *ev, FILE *out);
void sys_print_renameat(const struct event *ev, FILE *out);

/* The functions of the table's effects column (struct sysent.effects), as sysent_effects(). */
#define SYS_EFFECTS(fn)                                                                \
	void sys_effects_##fn(const struct event *ev, uint64_t shm_size,               \
			      struct sysent_effects *e)
SYS_EFFECTS(range);
SYS_EFFECTS(munmap);
SYS_EFFECTS(whole);
SYS_EFFECTS(mmap);
SYS_EFFECTS(mremap);
SYS_EFFECTS(shmat);
SYS_EFFECTS(shmdt);
SYS_EFFECTS(prctl);
SYS_EFFECTS(clone);
SYS_EFFECTS(clone3);
SYS_EFFECTS(fork);
SYS_EFFECTS(vfork);
SYS_EFFECTS(unlink);
SYS_EFFECTS(unlinkat);
SYS_EFFECTS(rename);
SYS_EFFECTS(renameat);

/* The model functions of the table's model column (struct sysent.model), as mm_apply(). */
#define MM_SYS(fn)                                                                     \
	int mm_sys_##fn(struct mm *mm, const uint64_t a[6], int64_t ret,               \
			const struct mm_file *file, const char *name)
MM_SYS(mmap);
MM_SYS(munmap);
MM_SYS(mremap);
MM_SYS(brk);
MM_SYS(mprotect);
MM_SYS(pkey_mprotect);
MM_SYS(madvise);
MM_SYS(mlock);
MM_SYS(mlock2);
MM_SYS(munlock);
MM_SYS(mlockall);
MM_SYS(munlockall);
MM_SYS(mseal);
MM_SYS(shmat);
MM_SYS(shmdt);
MM_SYS(prctl);
MM_SYS(uncertain);

#endif
