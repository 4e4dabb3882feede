// SPDX-License-Identifier: MIT
/* The per-user runtime directory of vmatraced: naming and safe creation. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int paths_check_socket(const char *dir, const char *name, uid_t uid, char *why, size_t size)
{
	char path[4096];
	struct stat st;

	/* lstat: a symlink in /tmp may be anyone's, whatever it points to. */
	if (lstat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, size, "%s is not a directory", dir);
		return -EPERM;
	}
	if (st.st_uid != uid && st.st_uid != 0) {
		snprintf(why, size, "%s belongs to uid %u, not to you", dir, (unsigned)st.st_uid);
		return -EPERM;
	}
	if (st.st_mode & 022) {
		snprintf(why, size, "%s is writable by others (mode %04o)", dir,
			 (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	if (paths_join(path, sizeof(path), dir, name) < 0)
		return -ENAMETOOLONG;
	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(why, size, "%s is not a socket", path);
		return -EPERM;
	}
	if (st.st_uid != uid && st.st_uid != 0) {
		snprintf(why, size, "%s belongs to uid %u, not to you", path, (unsigned)st.st_uid);
		return -EPERM;
	}
	return 0;
}
