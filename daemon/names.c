// SPDX-License-Identifier: MIT
/*
 * The names of mapped files. /proc/PID/maps shows a file mapping by the file's current
 * path: renamed, it shows the new one; unlinked, the old one with " (deleted)". No memory
 * syscall says so, so the tracer watches the syscalls that do it.
 *
 * The tracee's own unlink, unlinkat, rename, renameat and renameat2 are recorded (class
 * %file; rare, so their two stops cost little). At the entry stop the daemon reads the
 * paths and stats what they name (through /proc/TID/cwd, /proc/TID/fd/N or /proc/TID/root,
 * so that the tracee's view is used, without following a final symlink): the file being
 * renamed or removed, and for a rename the file the new name replaces. At the exit stop of
 * a successful call, every address space of the trace re-reads, with PROCMAP_QUERY, the
 * names of its file VMAs of those inodes (of all its files, if a directory was renamed),
 * and a changed name is a new VMA version born at that event. Order: the name changes at
 * the event's seq, which is taken at its exit stop.
 *
 * Other processes' renames and unlinks are seen through inotify: see notify.c.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "livemodel.h"
#include "store.h"
#include "peek.h"
#include "log.h"
#include "sysent.h"
#include "tracer_int.h"
#include "xalloc.h"

/* Where @path, taken relative to @dirfd by task @tid, is from the daemon. */
static void tracee_path(pid_t tid, int dirfd, const char *path, char *buf, size_t size)
{
	if (path[0] == '/')
		snprintf(buf, size, "/proc/%d/root%s", (int)tid, path);
	else if (dirfd == AT_FDCWD)
		snprintf(buf, size, "/proc/%d/cwd/%s", (int)tid, path);
	else
		snprintf(buf, size, "/proc/%d/fd/%d/%s", (int)tid, dirfd, path);
}

/* Note what @path (of @dirfd) names now, for names_changed(). */
static void note_target(struct task *t, int dirfd, const char *path)
{
	char buf[PATH_MAX + 64];
	struct stat st;

	if (!path) {
		t->names_all = true; /* unreadable: the kernel will say what changed */
		return;
	}
	tracee_path(t->tid, dirfd, path, buf, sizeof(buf));
	if (lstat(buf, &st) < 0)
		return; /* nothing there (a rename's new name), or the call will fail */
	if (S_ISDIR(st.st_mode)) {
		t->names_all = true;
	} else if (S_ISREG(st.st_mode) && t->n_names < 2) {
		t->names[t->n_names][0] = st.st_dev;
		t->names[t->n_names][1] = st.st_ino;
		t->n_names++;
	}
}

/*
 * tracer->names_in_flight counts the tasks of any trace between the entry and exit stops
 * of one of these calls. inotify reports the change the call makes as soon as the kernel
 * makes it, before its exit stop; read then, it would look like someone else's. So what
 * inotify says waits (notify.c) until no such call is in flight, by which time the call's
 * own exit stop has named the change, and the kernel's names then match the model's.
 */

bool names_quiet(void)
{
	struct tracer *tracer = tracer_get();

	return !tracer->names_in_flight;
}

void names_leave(struct task *t)
{
	struct tracer *tracer = tracer_get();

	if (!t->in_names)
		return;
	t->in_names = false;
	if (!--tracer->names_in_flight)
		notify_pending();
}

void names_begin(struct task *t)
{
	struct tracer *tracer = tracer_get();
	struct sysent_effects e;
	char *paths[2] = { NULL, NULL };

	t->n_names = 0;
	t->names_all = false;
	sysent_effects(&t->ev, 0, &e);
	if (!e.n_paths)
		return;
	for (unsigned i = 0; i < e.n_paths; i++)
		paths[i] = peek_string(t->tid, e.paths[i], PATH_MAX);
	for (unsigned i = 0; i < e.n_paths; i++)
		note_target(t, e.dirfds[i], paths[i]);
	t->in_names = true;
	tracer->names_in_flight++;
	if (paths[0])
		t->ev.argv = json_string_array((const char *const *)paths, e.n_paths);
	free(paths[0]);
	free(paths[1]);
}

bool names_syscall(int nr)
{
	return sysent_flags(nr) & SF_NAMES;
}

void names_recheck(struct trace *tr, uint64_t seq, const uint64_t (*ids)[2], unsigned n,
		   bool all)
{
	struct tracer *tracer = tracer_get();
	unsigned gen = ++tracer->recheck_gen;

	/* every address space of the trace once, asked through one of its live tasks */
	for (unsigned h = 0; h < TASK_HASH_SIZE; h++)
		for (struct task *u = tracer->tasks[h]; u; u = u->hnext) {
			struct mmref *mm = u->mm;
			if (u->trace != tr || !mm->model || mm->names_gen == gen)
				continue;
			mm->names_gen = gen;
			livemodel_names_recheck(mm->model, u->tid, seq, ids, n, all, NULL, 0,
						&tr->counts);
		}
}

void names_changed_outside(struct trace *tr, const uint64_t (*ids)[2])
{
	struct tracer *tracer = tracer_get();
	unsigned gen = ++tracer->outside_gen;
	char name[4096];
	struct task *first = NULL;

	/* Ask first: most inotify events (a chmod, a new link) change no name. */
	for (unsigned h = 0; h < TASK_HASH_SIZE && !first; h++)
		for (struct task *u = tracer->tasks[h]; u && !first; u = u->hnext) {
			struct mmref *mm = u->mm;
			if (u->trace != tr || !mm->model || mm->names_gen == ~gen)
				continue;
			mm->names_gen = ~gen;
			if (livemodel_names_recheck(mm->model, u->tid, 0, ids, 1, false, name,
						    sizeof(name), &tr->counts) > 0)
				first = u;
		}
	if (!first)
		return;
	struct event ev = {
		.kind = EVENT_RENAME, .nr = -1, .time_ns = tracer_now_ns(), .pid = first->proc->pid,
		.tid = first->proc->pid, .mm = first->mm->id, .dev = ids[0][0], .ino = ids[0][1],
		.path = xstrdup(name), .seq = trace_take_seq(tr),
	};
	uint64_t seq = ev.seq;
	tr->events++;
	store_add_event(tr->store, &ev);
	names_recheck(tr, seq, ids, 1, false);
}
