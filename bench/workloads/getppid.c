// SPDX-License-Identifier: MIT
/*
 * getppid N - make N getppid() syscalls (default 2,000,000).
 *
 * Syscalls that vmatrace does not record: under vmatrace the seccomp filter runs on each
 * and lets it through without a stop, so the whole cost is the filter (target: <= 1.05x
 * native).  syscall(2) is used so that no libc could ever cache the answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000000;
	long sum = 0;

	for (long i = 0; i < n; i++)
		sum += syscall(SYS_getppid);
	/* Use the result so that the loop cannot be dropped. */
	return sum == 0 && n > 0 ? 1 : 0;
}
