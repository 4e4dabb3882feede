// SPDX-License-Identifier: MIT
/*
 * The seccomp-bpf filter of `vmatrace run`, generated from the table (lib/syscallent.h):
 * SECCOMP_RET_TRACE for the recorded rows (SF_RECORDED; prctl only for PR_SET_VMA,
 * SF_PRCTL_RULE), and for ptrace's requests that make the caller a tracer (SF_PTRACE_RULE:
 * TRACEME, ATTACH, SEIZE: rare, and recorded so that a failure can be explained),
 * SECCOMP_RET_ALLOW for everything else,
 * so that unrelated syscalls never stop the program. Tasks of another ABI (i386, x32) are
 * let through unrecorded: the decoder knows x86_64 only.
 *
 * The filter is installed by the traced child itself after the daemon has seized it: a
 * filtered syscall made with no tracer attached fails with ENOSYS.
 */
#include <assert.h>
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
#define MAX_RULES 4

#define STMT(code, k) ((struct sock_filter)BPF_STMT(code, k))
#define JEQ(k, jt, jf) ((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k, jt, jf))

/*
 * The argument rule of a row: stop only when args[0] is one of a few values. prctl: only
 * PR_SET_VMA (anon VMA names) changes the map. ptrace: only the requests that make the
 * caller a tracer. They fail (EPERM) when the target is traced already, which under
 * `vmatrace run` every descendant is: strace and gdb inside run fail so. Recorded, the
 * run's summary can say why (cmd_run.c).
 */
static unsigned rule_values(unsigned flags, unsigned ret_vals[3])
{
	if (flags & SF_PRCTL_RULE) {
		ret_vals[0] = PR_SET_VMA;
		return 1;
	}
	ret_vals[0] = PTRACE_TRACEME;
	ret_vals[1] = PTRACE_ATTACH;
	ret_vals[2] = PTRACE_SEIZE;
	return 3;
}

int seccomp_install(void)
{
	struct sock_filter f[MAX_INSNS];
	unsigned n = 0, n_rules = 0, rule_nr[MAX_RULES], rule_at[MAX_RULES];

	f[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[n++] = JEQ(AUDIT_ARCH_X86_64, 1, 0);
	f[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	/*
	 * One compare per recorded row without an argument rule, jumping to the TRACE return
	 * placed after the list (offsets patched below); then one per row with a rule, jumping
	 * to its argument checks. x32 numbers have bit 30 set and never match.
	 */
	unsigned first = n;
	for (int nr = 0; nr < SYSENT_NR_END; nr++) {
		unsigned fl = sysent_flags(nr);

		if (fl & (SF_PRCTL_RULE | SF_PTRACE_RULE)) {
			assert(n_rules < MAX_RULES);
			rule_nr[n_rules++] = (unsigned)nr;
		} else if (fl & SF_RECORDED) {
			f[n++] = JEQ((unsigned)nr, 0, 0);
		}
	}
	unsigned plain_end = n;
	for (unsigned r = 0; r < n_rules; r++) {
		rule_at[r] = n;
		f[n++] = JEQ(rule_nr[r], 0, 0);
	}
	f[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	unsigned trace_at = n;
	f[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
	for (unsigned i = first; i < plain_end; i++)
		f[i].jt = (unsigned char)(trace_at - i - 1);
	/* Each rule: load args[0], compare with each value, TRACE on a match, else ALLOW. */
	for (unsigned r = 0; r < n_rules; r++) {
		unsigned vals[3], nv = rule_values(sysent_flags((int)rule_nr[r]), vals);

		f[rule_at[r]].jt = (unsigned char)(n - rule_at[r] - 1);
		f[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]));
		for (unsigned v = 0; v < nv; v++)
			f[n++] = JEQ(vals[v], (unsigned char)(nv - 1 - v), v + 1 == nv ? 1 : 0);
		f[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
		f[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	}
	assert(n <= MAX_INSNS);

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
