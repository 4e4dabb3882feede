/* SPDX-License-Identifier: MIT */
/*
 * Where the per-user daemon lives: $XDG_RUNTIME_DIR/vmatrace/ when that is set, else
 * /tmp/vmatrace-$UID/. The directory is 0700 and owned by the user; the socket
 * (vmatraced.sock) is 0600, the lock (vmatraced.lock) keeps one daemon per directory, and the
 * daemon's log (vmatraced.log) sits beside them. $VMATRACE_SOCKET_DIR overrides all of it.
 */
#ifndef VMATRACE_PATHS_H
#define VMATRACE_PATHS_H

#include <stddef.h>
#include <sys/types.h>

#define PATHS_SOCKET "vmatraced.sock"
#define PATHS_LOCK "vmatraced.lock"
#define PATHS_LOG "vmatraced.log"

#define PATHS_SYSTEM_DIR "/run/vmatrace"

/* paths_runtime_dir - the directory's path into @buf. 0 or -ENAMETOOLONG. */
int paths_runtime_dir(char *buf, size_t size);

/* paths_system_dir - the system daemon's directory ($VMATRACE_SOCKET_DIR overrides it too). */
int paths_system_dir(char *buf, size_t size);

/*
 * paths_ensure_dir - create @dir 0700 if missing; refuse (-EPERM) one that is a symlink,
 * not a directory, not ours, or open to others. 0 or -errno.
 */
int paths_ensure_dir(const char *dir);

/* paths_ensure_system_dir - the same for the system daemon: root's, 0755 (anyone may reach
 * the socket; only root may write there). */
int paths_ensure_system_dir(const char *dir);

/*
 * paths_check_socket - may a client of @uid talk to the daemon socket @name in @dir? The
 * directory must be a real directory (not a symlink) owned by @uid or root and writable by
 * nobody else, the socket a socket owned by @uid or root: otherwise another user could
 * have put their own daemon there (as ssh-agent's users check its socket). 0; -ENOENT
 * (or another -errno) when either is missing; -EPERM with the reason in @why.
 */
int paths_check_socket(const char *dir, const char *name, uid_t uid, char *why, size_t size);

/* paths_join - "@dir/@name" into @buf. 0 or -ENAMETOOLONG. */
int paths_join(char *buf, size_t size, const char *dir, const char *name);

#endif
