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

int paths_system_dir(char *buf, size_t size)
{
	const char *o = getenv("VMATRACE_SOCKET_DIR");

	return fit(snprintf(buf, size, "%s", o && *o ? o : PATHS_SYSTEM_DIR), size);
}

/* Create @dir with @mode if missing; then it must be a real directory, ours, with no more
 * rights for others than @mode gives. */
static int ensure(const char *dir, mode_t mode)
{
	struct stat st;

	if (mkdir(dir, mode) < 0 && errno != EEXIST)
		return -errno;
	/* lstat: a symlink planted in /tmp by someone else must not redirect us. */
	if (lstat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077 & ~mode))
		return -EPERM;
	return 0;
}

int paths_ensure_dir(const char *dir)
{
	return ensure(dir, 0700);
}

int paths_ensure_system_dir(const char *dir)
{
	int r = ensure(dir, 0755);

	return r == 0 && chmod(dir, 0755) < 0 ? -errno : r;
}

int paths_join(char *buf, size_t size, const char *dir, const char *name)
{
	return fit(snprintf(buf, size, "%s/%s", dir, name), size);
}
