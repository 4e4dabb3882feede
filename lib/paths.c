// SPDX-License-Identifier: MIT
/* The per-user runtime directory of vmatraced: naming and safe creation. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paths.h"

static int fit(int n, size_t size)
{
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int paths_runtime_dir(char *buf, size_t size)
{
	const char *o = getenv("VMATRACE_SOCKET_DIR");
	const char *x = getenv("XDG_RUNTIME_DIR");

	if (o && *o)
		return fit(snprintf(buf, size, "%s", o), size);
	if (x && *x == '/')
		return fit(snprintf(buf, size, "%s/vmatrace", x), size);
	return fit(snprintf(buf, size, "/tmp/vmatrace-%u", (unsigned)getuid()), size);
}

int paths_ensure_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	/* lstat: a symlink planted in /tmp by someone else must not redirect us. */
	if (lstat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077))
		return -EPERM;
	return 0;
}

int paths_join(char *buf, size_t size, const char *dir, const char *name)
{
	return fit(snprintf(buf, size, "%s/%s", dir, name), size);
}
