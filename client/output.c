// SPDX-License-Identifier: MIT
/*
 * What every command shares about its output: standard output checked at exit (a full
 * disk, a closed pipe), the file an -o option names (replaced or written in place), and
 * the one line that says why a DB could not be read.
 *
 * stdio buffers: a printf into a full disk does not fail, a later flush does, and by then
 * the command may have returned 0. So the check is made once, at exit (atexit, as
 * coreutils' close_stdout does), whatever path the command took to exit: the flush of
 * what is left, ferror() for a write that failed earlier, and the close (NFS reports
 * some errors only there). glibc keeps no errno with ferror(), and a failed flush in the
 * middle may drop the buffer, so that the last flush succeeds: standard output is a
 * stream of our own (fopencookie) over fd 1 whose write remembers the first error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "log.h"
#include "store.h"
#include "xalloc.h"

static int stdout_errno;        /* the first failed write's errno */

static ssize_t stdout_write(void *cookie, const char *buf, size_t size)
{
	size_t done = 0;

	(void)cookie;
	while (done < size) {
		ssize_t n = write(STDOUT_FILENO, buf + done, size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!stdout_errno)
				stdout_errno = n < 0 ? errno : EIO;
			return -1;
		}
		done += (size_t)n;
	}
	return (ssize_t)size;
}

static int stdout_close(void *cookie)
{
	(void)cookie;
	if (close(STDOUT_FILENO) < 0 && errno != EBADF) {
		if (!stdout_errno)
			stdout_errno = errno;
		return -1;
	}
	return 0;
}

static void close_stdout(void)
{
	int failed = fflush(stdout) != 0 || ferror(stdout);

	if (fclose(stdout) != 0)
		failed = 1;
	/* A reader that went away (| head) is not an error: it has what it wanted. */
	if (!failed || stdout_errno == EPIPE)
		return;
	log_error("write error: %s", strerror(stdout_errno ? stdout_errno : EIO));
	_exit(1);
}

void output_init(void)
{
	static const cookie_io_functions_t io = { .write = stdout_write,
						  .close = stdout_close };
	FILE *f = fopencookie(NULL, "w", io);

	/* Nothing was written yet: the stream can be swapped. Without memory, stdio's own
	 * stdout stays, and a write error reads as EIO. */
	if (f) {
		if (isatty(STDOUT_FILENO))
			setvbuf(f, NULL, _IOLBF, 0);
		stdout = f;
	}
	atexit(close_stdout);
}

bool output_failed(void)
{
	return ferror(stdout) != 0;
}

void db_read_error(const char *cmd, const char *db, struct store_ro *r, int err)
{
	/* The DB was fine: writing failed, and close_stdout() says so. */
	if (output_failed())
		return;
	if (err == -EUCLEAN)
		log_error("'%s' is damaged: %s", db, store_ro_errmsg(r));
	else if (err == -ENOMEM)
		log_error("%s: cannot read '%s': %s", cmd, db, strerror(ENOMEM));
	else
		log_error("%s: cannot read '%s': %s", cmd, db, store_ro_errmsg(r));
}

int out_file_open(struct out_file *o, const char *path)
{
	struct stat st;

	*o = (struct out_file){ .path = path };
	if (!strcmp(path, "-")) {
		o->f = stdout;
		return 0;
	}
	/*
	 * Only a regular file (or a new name) is replaced, through a temporary file renamed
	 * over it at the end: a failure leaves no half file. A device (/dev/null), a FIFO, a
	 * symlink (/dev/fd/N of a shell's >(cmd), or a link the user keeps) is written in
	 * place, as a shell's > would: renaming over it would destroy it, and as root would
	 * turn /dev/full into a regular file.
	 */
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		o->f = fopen(path, "we");
		return o->f ? 0 : -errno;
	}
	o->tmp = xasprintf("%s.tmp%d", path, (int)getpid());
	o->f = fopen(o->tmp, "wxe");
	if (!o->f) {
		int err = -errno;

		free(o->tmp);
		o->tmp = NULL;
		return err;
	}
	return 0;
}

bool out_file_in_place(const char *path)
{
	struct stat st;

	return !strcmp(path, "-") || (lstat(path, &st) == 0 && !S_ISREG(st.st_mode));
}

int out_file_close(struct out_file *o, int err)
{
	if (!o->f)
		return err;
	if (o->f == stdout) {
		/* Standard output's errors are close_stdout()'s to report, at exit (its flush
		 * sees the errno of the failing write; a flush here would use it up). */
		o->f = NULL;
		return err;
	}
	if (fflush(o->f) != 0 && !err)
		err = -errno;
	if (ferror(o->f) && !err)
		err = -EIO;
	if (fclose(o->f) != 0 && !err)
		err = -errno;
	o->f = NULL;
	if (o->tmp) {
		if (!err && rename(o->tmp, o->path) < 0)
			err = -errno;
		if (err)
			unlink(o->tmp);
		free(o->tmp);
		o->tmp = NULL;
	}
	return err;
}
