// SPDX-License-Identifier: MIT
/*
 * Mapped files renamed or unlinked by processes outside the trace (names.c covers the
 * traced ones' own calls). Every file a trace maps is watched with inotify for IN_ATTRIB
 * (its link count changed: an unlink, a link), IN_MOVE_SELF (renamed) and IN_DELETE_SELF.
 * When one fires, each address space of each trace re-reads the names of its VMAs of that
 * inode (PROCMAP_QUERY); if one changed, the trace gets a "+rename" event (kind
 * EVENT_RENAME: the file, its new name) and the new versions are born at it.
 *
 * Order: the change is recorded when the daemon reads the inotify event. The queue is
 * read before each stop is handled (tracer_drain) and when the loop wakes on it, and
 * the kernel queues the event inside the rename or unlink itself, so a tracee that learnt
 * of the change (its own /proc/self/maps, a message from the process that did it) sees it
 * recorded before any later event of its own. A rename of a directory above the file sends
 * the file no event: that one is seen at the tracee's next own rename or unlink of a file
 * (names.c), or not at all (README, Limits).
 *
 * Threading: the event-loop thread only, like the rest of the tracer.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "livemodel.h"
#include "store.h"
#include "tracer_int.h"
#include "xalloc.h"

#define NOTIFY_MASK (IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF)
/*
 * At most this many files watched at once, whatever the traces map: watches count
 * against the daemon user's fs.inotify.max_user_watches (root's, for --system), which
 * other programs of that user need too. Past it, renames of further files by other
 * processes are not seen (the traced programs' own still are).
 */
#define NOTIFY_MAX_WATCHES 4096

struct notify_watch {
	int wd;
	uint64_t dev, ino;
	unsigned refs;          /* traces that noted the file */
};

int notify_fd_get(void)
{
	struct tracer *tracer = tracer_get();

	if (tracer->notify_fd < 0) {
		tracer->notify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (tracer->notify_fd < 0)
			log_warn("inotify: %m; renames by other processes will not be seen");
	}
	return tracer->notify_fd;
}

static struct notify_watch *watch_by_file(uint64_t dev, uint64_t ino)
{
	struct tracer *tracer = tracer_get();

	for (size_t i = 0; i < tracer->n_watches; i++)
		if (tracer->watches[i].dev == dev && tracer->watches[i].ino == ino)
			return &tracer->watches[i];
	return NULL;
}

void notify_watch(pid_t pid, const char *path, uint64_t dev, uint64_t ino)
{
	struct tracer *tracer = tracer_get();
	char buf[PATH_MAX + 64];
	struct stat st;
	struct notify_watch *w = watch_by_file(dev, ino);

	if (w) {
		w->refs++;
		return;
	}
	if (path[0] != '/' || tracer->n_watches >= NOTIFY_MAX_WATCHES || notify_fd_get() < 0)
		return;
	/* the tracee's view of the path, and only if it still names that file */
	snprintf(buf, sizeof(buf), "/proc/%d/root%s", (int)pid, path);
	if (stat(buf, &st) < 0 || st.st_dev != dev || st.st_ino != ino || !S_ISREG(st.st_mode))
		return;
	int wd = inotify_add_watch(tracer->notify_fd, buf, NOTIFY_MASK | IN_DONT_FOLLOW);
	if (wd < 0) {
		log_debug("inotify_add_watch %s: %m", path);
		return;
	}
	if (tracer->n_watches == tracer->cap_watches) {
		tracer->cap_watches = tracer->cap_watches ? 2 * tracer->cap_watches : 64;
		tracer->watches = xrealloc(tracer->watches,
					   tracer->cap_watches * sizeof(*tracer->watches));
	}
	tracer->watches[tracer->n_watches++] =
		(struct notify_watch){ .wd = wd, .dev = dev, .ino = ino, .refs = 1 };
}

void notify_unwatch(uint64_t dev, uint64_t ino)
{
	struct tracer *tracer = tracer_get();
	struct notify_watch *w = watch_by_file(dev, ino);

	if (!w || --w->refs)
		return;
	inotify_rm_watch(tracer->notify_fd, w->wd);
	*w = tracer->watches[--tracer->n_watches];
}

/* A file changed its name or links: every trace re-reads the names of its VMAs. */
static void file_changed(uint64_t dev, uint64_t ino)
{
	struct tracer *tracer = tracer_get();
	const uint64_t id[1][2] = { { dev, ino } };

	if (!names_quiet()) {
		for (size_t i = 0; i < tracer->n_pending; i++)
			if (tracer->pending[i][0] == dev && tracer->pending[i][1] == ino)
				return;
		if (tracer->n_pending == tracer->cap_pending) {
			tracer->cap_pending = tracer->cap_pending ? 2 * tracer->cap_pending : 16;
			tracer->pending = xrealloc(tracer->pending,
						   tracer->cap_pending * sizeof(*tracer->pending));
		}
		tracer->pending[tracer->n_pending][0] = dev;
		tracer->pending[tracer->n_pending][1] = ino;
		tracer->n_pending++;
		return;
	}
	for (struct trace *tr = tracer->traces; tr; tr = tr->next)
		names_changed_outside(tr, id);
}

void notify_pending(void)
{
	struct tracer *tracer = tracer_get();

	while (tracer->n_pending && names_quiet()) {
		uint64_t *id = tracer->pending[--tracer->n_pending];

		file_changed(id[0], id[1]);
	}
}

/* Read the queue to its end: the loop watches the fd level-triggered, so whatever is left
 * (the IN_IGNORED of watches removed at a trace's end, when no watch is left to match it)
 * would wake it again at once, for ever. */
static void notify_read(void)
{
	struct tracer *tracer = tracer_get();
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	if (tracer->notify_fd < 0)
		return;
	for (;;) {
		ssize_t n = read(tracer->notify_fd, buf, sizeof(buf));
		if (n <= 0)
			return;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ie = (const struct inotify_event *)p;
			p += sizeof(*ie) + ie->len;
			for (size_t i = 0; i < tracer->n_watches; i++)
				if (tracer->watches[i].wd == ie->wd) {
					struct notify_watch w = tracer->watches[i];
					if (ie->mask & IN_IGNORED) /* the watch is gone */
						tracer->watches[i] =
							tracer->watches[--tracer->n_watches];
					file_changed(w.dev, w.ino);
					break;
				}
		}
	}
}

/* Before each stop: one read() per stop is not free, and with no watch nothing queued
 * can name a traced file. */
void notify_poll(void)
{
	if (tracer_get()->n_watches)
		notify_read();
}

int tracer_notify_fd(void)
{
	return notify_fd_get();
}

void tracer_notify(void)
{
	notify_read();
}
