// SPDX-License-Identifier: MIT
/*
 * status: ends in a chosen way, so that a test can check that a traced program's exit
 * status, signals, stops and output pass through as they would untraced.
 *
 *   status exit N       exit with status N
 *   status signal SIG   die by signal SIG (a name without "SIG", e.g. TERM, KILL, SEGV, or a
 *                       number), with core dumps disabled (RLIMIT_CORE 0)
 *   status stop         print "stopping\n", raise(SIGSTOP), and once continued print
 *                       "continued\n" and exit 0
 *   status output       write known bytes to stdout and stderr (see below), exit 0
 *
 * Bad usage exits 2 with a message on stderr.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "HUP", SIGHUP },   { "INT", SIGINT },   { "QUIT", SIGQUIT }, { "ILL", SIGILL },
	{ "ABRT", SIGABRT }, { "FPE", SIGFPE },   { "KILL", SIGKILL }, { "SEGV", SIGSEGV },
	{ "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM }, { "USR1", SIGUSR1 },
	{ "USR2", SIGUSR2 }, { "BUS", SIGBUS },
};

static void say(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, s, len);
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

#define SAY(fd, lit) say(fd, lit, sizeof(lit) - 1)

static int usage(void)
{
	SAY(2, "usage: status exit N | signal SIG | stop | output\n");
	return 2;
}

static int die_by(const char *name)
{
	int sig = 0;
	char *end;
	long v = strtol(name, &end, 10);

	if (end != name && !*end)
		sig = (int)v;
	for (size_t i = 0; !sig && i < sizeof(signals) / sizeof(signals[0]); i++)
		if (!strcmp(name, signals[i].name))
			sig = signals[i].sig;
	if (sig <= 0 || sig >= 65)
		return usage();

	struct rlimit rl = { 0, 0 };
	setrlimit(RLIMIT_CORE, &rl);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	signal(sig, SIG_DFL);
	raise(sig);
	SAY(2, "status: still alive after the signal\n");
	return 126;
}

/*
 * The exact bytes "output" writes, interleaved between the two streams: lines, a NUL, bytes
 * that are not UTF-8, a line without its newline. Tests compare byte for byte with an
 * untraced run.
 */
static int output(void)
{
	SAY(1, "stdout line 1\n");
	SAY(2, "stderr line 1\n");
	SAY(1, "stdout: tab\there, NUL \0 and bytes \xff\xfe\x80 end\n");
	SAY(2, "stderr: \xc3\xa9t\xc3\xa9 \x1b[0m\n");
	SAY(1, "stdout last line, no newline");
	SAY(2, "stderr last line, no newline");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "exit"))
		return atoi(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "signal"))
		return die_by(argv[2]);
	if (argc == 2 && !strcmp(argv[1], "stop")) {
		SAY(1, "stopping\n");
		raise(SIGSTOP);
		SAY(1, "continued\n");
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "output"))
		return output();
	return usage();
}
