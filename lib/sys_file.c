// SPDX-License-Identifier: MIT
/*
 * Decoders of the name syscalls (%file): unlink, unlinkat, rename, renameat, renameat2,
 * recorded because they rename or remove a name a mapping shows. Each is a row of
 * lib/syscallent.h that names its printer and its effects function (the paths the daemon
 * reads, daemon/names.c) here; the formats are sysent.h's.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>

#include "stresc.h"
#include "sysent_int.h"

/*
 * unlink, unlinkat, rename, renameat, renameat2: the paths the daemon read are ev->argv, a
 * JSON array (one path, or old and new); @k is the path's place there.
 */
static void print_path_k(const struct event *ev, unsigned k, uint64_t ptr, FILE *out)
{
	if (!ev->argv || stresc_print_argv_item(ev->argv, k, out) < 0)
		sys_print_addr(out, ptr);
}

static void print_dirfd(FILE *out, uint64_t fd)
{
	if ((int)fd == AT_FDCWD)
		fputs("AT_FDCWD", out);
	else
		fprintf(out, "%d", (int)fd);
}

void sys_print_unlink(const struct event *ev, FILE *out)
{
	print_path_k(ev, 0, ev->args[0], out);
}

void sys_print_unlinkat(const struct event *ev, FILE *out)
{
	print_dirfd(out, ev->args[0]);
	fputs(", ", out);
	print_path_k(ev, 0, ev->args[1], out);
	fputs((unsigned)ev->args[2] & AT_REMOVEDIR ? ", AT_REMOVEDIR" :
	      (unsigned)ev->args[2] ? "" : ", 0", out);
	if ((unsigned)ev->args[2] & ~(unsigned)AT_REMOVEDIR)
		fprintf(out, ", %#x", (unsigned)ev->args[2]);
}

void sys_print_rename(const struct event *ev, FILE *out)
{
	print_path_k(ev, 0, ev->args[0], out);
	fputs(", ", out);
	print_path_k(ev, 1, ev->args[1], out);
}

/* renameat (4 arguments) and renameat2 (5, the flags) */
void sys_print_renameat(const struct event *ev, FILE *out)
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

/* ---- effects: the paths and the directories they are relative to --------------------- */

static void path_at(struct sysent_effects *e, int dirfd, uint64_t path)
{
	e->dirfds[e->n_paths] = dirfd;
	e->paths[e->n_paths++] = path;
}

void sys_effects_unlink(const struct event *ev, uint64_t shm_size, struct sysent_effects *e)
{
	path_at(e, AT_FDCWD, ev->args[0]);
}

void sys_effects_unlinkat(const struct event *ev, uint64_t shm_size, struct sysent_effects *e)
{
	path_at(e, (int)ev->args[0], ev->args[1]);
}

void sys_effects_rename(const struct event *ev, uint64_t shm_size, struct sysent_effects *e)
{
	path_at(e, AT_FDCWD, ev->args[0]);
	path_at(e, AT_FDCWD, ev->args[1]);
}

/* renameat and renameat2 (the flags, last, change no path) */
void sys_effects_renameat(const struct event *ev, uint64_t shm_size, struct sysent_effects *e)
{
	path_at(e, (int)ev->args[0], ev->args[1]);
	path_at(e, (int)ev->args[2], ev->args[3]);
}
