// SPDX-License-Identifier: MIT
/*
 * snap-files: the names of mapped files, as /proc/self/maps shows them, when the files
 * are renamed or unlinked (daemon/names.c, daemon/notify.c). Snapshots as in snap.h:
 * after each step the program copies its own /proc/self/maps and makes the marker call;
 * tests/cli/test-names.py compares each with `vmatrace maps --at <marker>`.
 *
 * Its own calls: rename of a mapped file; rename onto a mapped file (which becomes
 * " (deleted)"); unlink; renameat of a directory holding a mapped file; unlinkat relative
 * to a directory fd; renameat2(RENAME_EXCHANGE) of two mapped files. Then, for a process
 * outside the trace: it writes "EXTERNAL PATH\n" on stdout and waits for a byte on stdin
 * (meanwhile the test renames PATH to PATH.moved), snapshots, then "EXTERNAL PATH.moved\n",
 * waits (the test unlinks it), snapshots. With a second argument "alone" it skips that.
 *
 * Usage: snap-files DIR [alone]     (DIR: an empty directory of its own)
 */
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "snap.h"

static long pg;
static char dir[2048];

static const char *at(const char *name)
{
	static char bufs[4][4096];
	static int k;
	char *b = bufs[k++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
	return b;
}

/* A new file of two pages at @path, mapped shared (read) and private (copy). */
static void map_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || ftruncate(fd, 2 * pg) < 0) {
		failed = 1;
		return;
	}
	call("mmap", syscall(SYS_mmap, 0L, 2 * pg, (long)PROT_READ, (long)MAP_SHARED, (long)fd, 0L),
	     1);
	call("mmap", syscall(SYS_mmap, 0L, pg, (long)(PROT_READ | PROT_WRITE), (long)MAP_PRIVATE,
			     (long)fd, pg), 1);
	close(fd);
}

static void say_and_wait(const char *path)
{
	char msg[4200], c;
	int n = snprintf(msg, sizeof(msg), "EXTERNAL %s\n", path);

	if (write(1, msg, (size_t)n) != n || read(0, &c, 1) != 1)
		failed = 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		static const char usage[] = "usage: snap-files DIR [alone]\n";
		(void)!write(2, usage, sizeof(usage) - 1);
		return 2;
	}
	out_dir = argv[1];
	snprintf(dir, sizeof(dir), "%s/files", argv[1]);
	pg = sysconf(_SC_PAGESIZE);
	if (mkdir(dir, 0700) < 0)
		return 1;

	map_file(at("one"));
	snapshot("mapped");
	call("rename", syscall(SYS_rename, at("one"), at("one-renamed")), 1);
	snapshot("renamed");

	map_file(at("two"));
	close(open(at("other"), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	call("rename", syscall(SYS_rename, at("other"), at("two")), 1);
	snapshot("renamed-over");

	call("unlink", syscall(SYS_unlink, at("one-renamed")), 1);
	snapshot("unlinked");

	mkdir(at("d1"), 0700);
	map_file(at("d1/three"));
	call("renameat", syscall(SYS_renameat, (long)AT_FDCWD, at("d1"), (long)AT_FDCWD, at("d2")),
	     1);
	snapshot("dir-renamed");
	int dfd = open(at("d2"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	call("unlinkat", syscall(SYS_unlinkat, (long)dfd, "three", 0L), 1);
	close(dfd);
	snapshot("unlinkat");

	map_file(at("four"));
	map_file(at("five"));
	call("renameat2", syscall(SYS_renameat2, (long)AT_FDCWD, at("four"), (long)AT_FDCWD,
				  at("five"), (long)RENAME_EXCHANGE), 1);
	snapshot("exchanged");
	call("unlink", syscall(SYS_unlink, at("missing")), 0); /* ENOENT: nothing changes */
	snapshot("failed-unlink");

	if (argc < 3 || strcmp(argv[2], "alone") != 0) {
		char moved[4200];
		map_file(at("six"));
		snapshot("six");
		say_and_wait(at("six"));
		snapshot("external-rename");
		snprintf(moved, sizeof(moved), "%s.moved", at("six"));
		say_and_wait(moved);
		snapshot("external-unlink");
	}
	snapshot("end");
	write_snaps("files");
	char msg[128];
	int n = snprintf(msg, sizeof(msg), "snap-files pid=%d snapshots=%d failed=%d\n",
			 (int)getpid(), snap_idx, failed);
	(void)!write(1, msg, (size_t)n);
	return failed;
}
