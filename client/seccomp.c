// SPDX-License-Identifier: MIT
/*
 * The seccomp-bpf filter of `vmatrace run`: SECCOMP_RET_TRACE for the recorded syscalls
 * (lib/sysent.c's list; prctl only for PR_SET_VMA), and ptrace's requests that make the
 * caller a tracer (TRACEME, ATTACH, SEIZE: rare, and recorded so that a failure can be
 * explained), SECCOMP_RET_ALLOW for everything else,
 * so that unrelated syscalls never stop the program. Tasks of another ABI (i386, x32) are
 * let through unrecorded: the decoder knows x86_64 only.
 *
 * The filter is installed by the traced child itself after the daemon has seized it: a
 * filtered syscall made with no tracer attached fails with ENOSYS.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "client.h"
#include "sysent.h"

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#endif

#define MAX_INSNS 128

int seccomp_install(void)
{
	struct sock_filter f[MAX_INSNS];
	unsigned n = 0;

	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
	/*
	 * One compare per recorded syscall, jumping to the TRACE return placed after the
	 * list (offsets patched below). x32 numbers have bit 30 set and never match.
	 */
	unsigned first = n;
	for (unsigned i = 0; i < sysent_n_recorded; i++) {
		if (sysent_recorded[i] == SYS_prctl)
			continue;
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						      (unsigned)sysent_recorded[i], 0, 0);
	}
	unsigned prctl_at = n;
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_prctl, 0, 0);
	unsigned ptrace_at = n;
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ptrace, 0, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	unsigned trace_at = n;
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
	/* prctl: only PR_SET_VMA (anon VMA names) changes the map. */
	unsigned prctl_args = n;
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, args[0]));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PR_SET_VMA, 0, 1);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	/*
	 * ptrace: only the requests that make the caller a tracer. They fail (EPERM) when the
	 * target is traced already, which under `vmatrace run` every descendant is: strace
	 * and gdb inside run fail so. Recorded, the run's summary can say why (cmd_run.c).
	 */
	unsigned ptrace_args = n;
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, args[0]));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PTRACE_TRACEME, 2, 0);
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PTRACE_ATTACH, 1, 0);
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PTRACE_SEIZE, 0, 1);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);

	for (unsigned i = first; i < prctl_at; i++)
		f[i].jt = (unsigned char)(trace_at - i - 1);
	f[prctl_at].jt = (unsigned char)(prctl_args - prctl_at - 1);
	f[ptrace_at].jt = (unsigned char)(ptrace_args - ptrace_at - 1);

	struct sock_fprog prog = { .len = (unsigned short)n, .filter = f };
	/* Without CAP_SYS_ADMIN the kernel wants no_new_privs first; as root we leave it off,
	 * so that setuid programs run as they would untraced. */
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0)
		return 0;
	if (errno != EACCES)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return -errno;
	return 0;
}
