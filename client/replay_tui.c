// SPDX-License-Identifier: MIT
/*
 * The interactive view of `vmatrace replay` (replay.h): the current event at the top, the
 * whole map of the process after it below, the lines it added highlighted and the lines it
 * removed shown struck through, for that step only. Plain termios and ANSI escapes (no
 * curses: every terminal in use speaks these few sequences, and the client stays free of
 * another library). The whole replay is in memory, so a key never queries the DB: the map
 * is an alive flag per version, stepping applies a step's changes, stepping back reverses
 * them.
 *
 * The terminal is restored on every exit: q, end of input, SIGINT/SIGTERM/SIGHUP (then
 * the signal is raised again with its default action, so the shell sees it), and exit()
 * from anywhere (atexit). SIGWINCH redraws at the new size.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "client.h"
#include "log.h"
#include "replay.h"
#include "xalloc.h"

enum mark { MARK_NONE, MARK_ADD, MARK_DEL };

#define HEAD_ROWS 3             /* status, event, change summary */

struct tui {
	struct replay *rp;
	long cur;               /* the step shown; -1: the starting map */
	unsigned char *mark;    /* per version: enum mark, for step cur */
	size_t *order;          /* every version, by address */
	size_t *rows, n_rows;   /* the map as drawn: versions alive or removed at cur */
	long hit;               /* version found by '/', -1 if none */
	size_t top;             /* first map row on screen */
	int height, width;
	char msg[256];          /* for the bottom line, once */
	char *out;              /* the frame being built */
	size_t len, cap;
};

static struct termios saved_tio;
static sigset_t saved_mask;     /* the signal mask before; ppoll() waits with it */
static bool raw_on;
static volatile sig_atomic_t got_signal, got_winch;

static void restore_terminal(void)
{
	static const char leave[] = "\033[0m\033[?25h\033[?1049l";

	if (!raw_on)
		return;
	raw_on = false;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	sigprocmask(SIG_SETMASK, &saved_mask, NULL);
	if (write(STDOUT_FILENO, leave, sizeof(leave) - 1) < 0)
		return; /* nothing more to do on the way out */
}

static void on_signal(int sig)
{
	if (sig == SIGWINCH)
		got_winch = 1;
	else
		got_signal = sig;
}

/* enter_raw - keys one by one without echo; ISIG stays on, so ^C is SIGINT. */
static int enter_raw(void)
{
	static const char enter[] = "\033[?1049h\033[?25l";
	struct termios t;
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block;

	if (tcgetattr(STDIN_FILENO, &saved_tio) < 0)
		return -errno;
	t = saved_tio;
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO | IEXTEN);
	t.c_iflag &= ~(tcflag_t)(IXON | ICRNL);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	/*
	 * Blocked except inside ppoll(): a signal that arrives while we draw is seen at the
	 * next wait, never lost between a check of the flags and a blocking read.
	 */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGWINCH);
	sigprocmask(SIG_BLOCK, &block, &saved_mask);
	atexit(restore_terminal);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) < 0)
		return -errno;
	raw_on = true;
	if (write(STDOUT_FILENO, enter, sizeof(enter) - 1) < 0)
		return -errno;
	return 0;
}

static void get_size(struct tui *t)
{
	struct winsize ws;

	t->height = 24;
	t->width = 80;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
		t->height = ws.ws_row;
		t->width = ws.ws_col;
	}
	if (t->height < HEAD_ROWS + 2)
		t->height = HEAD_ROWS + 2;
}

/* Frame output. -------------------------------------------------------------------------- */

static void put(struct tui *t, const char *s, size_t n)
{
	if (!n)
		return;
	if (t->len + n > t->cap) {
		t->cap = 2 * (t->len + n) + 4096;
		t->out = xrealloc(t->out, t->cap);
	}
	memcpy(t->out + t->len, s, n);
	t->len += n;
}

static void puts_esc(struct tui *t, const char *s)
{
	put(t, s, strlen(s));
}

/* put_line - @text cut to the screen's width between @pre and a reset, then erase the
 * rest of the line. */
static void put_line(struct tui *t, const char *pre, const char *text)
{
	size_t n = strlen(text);

	if (n > (size_t)t->width)
		n = (size_t)t->width;
	puts_esc(t, pre);
	put(t, text, n);
	puts_esc(t, "\033[0m\033[K\r\n");
}

static void flush_frame(struct tui *t)
{
	size_t off = 0;

	while (off < t->len) {
		ssize_t n = write(STDOUT_FILENO, t->out + off, t->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	t->len = 0;
}

/* Stepping. ------------------------------------------------------------------------------ */

static const struct rp_step *step(struct tui *t, long i)
{
	return i >= 0 ? &t->rp->steps[i] : NULL;
}

static void set_marks(struct tui *t, long i, bool on)
{
	const struct rp_step *st = step(t, i);

	if (!st)
		return;
	for (size_t k = 0; k < st->n_del; k++)
		t->mark[t->rp->changes[st->del + k]] = on ? MARK_DEL : MARK_NONE;
	for (size_t k = 0; k < st->n_add; k++)
		t->mark[t->rp->changes[st->add + k]] = on ? MARK_ADD : MARK_NONE;
}

/* apply - step @i forward (@fwd) or back. */
static void apply(struct tui *t, long i, bool fwd)
{
	const struct rp_step *st = step(t, i);

	for (size_t k = 0; k < st->n_del; k++)
		t->rp->alive[t->rp->changes[st->del + k]] = !fwd;
	for (size_t k = 0; k < st->n_add; k++)
		t->rp->alive[t->rp->changes[st->add + k]] = fwd;
}

static void build_rows(struct tui *t)
{
	t->n_rows = 0;
	for (size_t k = 0; k < t->rp->n_vs; k++) {
		size_t i = t->order[k];
		if (t->rp->alive[i] || t->mark[i] == MARK_DEL)
			t->rows[t->n_rows++] = i;
	}
}

static size_t map_height(const struct tui *t)
{
	return (size_t)(t->height - HEAD_ROWS - 1);
}

/* scroll_to - make map row @row visible, with a little context above it. */
static void scroll_to(struct tui *t, size_t row)
{
	size_t h = map_height(t);

	if (row >= t->top && row < t->top + h)
		return;
	t->top = row > 2 ? row - 2 : 0;
}

/* go - show step @target, applying or reversing the steps between. */
static void go(struct tui *t, long target)
{
	set_marks(t, t->cur, false);
	while (t->cur < target)
		apply(t, ++t->cur, true);
	while (t->cur > target)
		apply(t, t->cur--, false);
	set_marks(t, t->cur, true);
	t->hit = -1;
	build_rows(t);
	for (size_t r = 0; r < t->n_rows; r++)
		if (t->mark[t->rows[r]] != MARK_NONE) {
			scroll_to(t, r);
			break;
		}
}

/* Drawing. ------------------------------------------------------------------------------- */

static void draw(struct tui *t)
{
	struct replay *rp = t->rp;
	const struct rp_step *st = step(t, t->cur);
	char buf[8448], line[8192];
	uint64_t kb = 0;
	size_t alive = 0;

	for (size_t r = 0; r < t->n_rows; r++)
		if (rp->alive[t->rows[r]]) {
			alive++;
			kb += (rp->vs[t->rows[r]].v.end - rp->vs[t->rows[r]].v.start) >> 10;
		}
	puts_esc(t, "\033[H");
	snprintf(buf, sizeof(buf), " vmatrace replay  process %s  %s %" PRIu64 "  step %ld/%zu"
		 "  mm %" PRIu64 "  %zu VMAs  %" PRIu64 " kB", rp->who, st ? "event" : "before event",
		 st ? st->seq : rp->from, t->cur + 1, rp->n_steps, st ? st->mm : rp->initial_mm,
		 alive, kb);
	put_line(t, "\033[7m", buf);
	if (st)
		snprintf(buf, sizeof(buf), "%" PRIu64 " %s", st->seq, st->line);
	else
		snprintf(buf, sizeof(buf), "(the map after event %" PRIu64 ", before the first step)",
			 rp->from - 1);
	put_line(t, "\033[1m", buf);
	if (!st)
		buf[0] = '\0';
	else if (st->old_mm != st->mm)
		snprintf(buf, sizeof(buf), "execve: mm %" PRIu64 " -> mm %" PRIu64
			 "; -%zu +%zu VMAs", st->old_mm, st->mm, st->n_del, st->n_add);
	else if (st->n_del || st->n_add)
		snprintf(buf, sizeof(buf), "-%zu +%zu VMAs", st->n_del, st->n_add);
	else
		snprintf(buf, sizeof(buf), "(no change)");
	put_line(t, "", buf);

	size_t h = map_height(t);
	for (size_t r = t->top; r < t->top + h; r++) {
		if (r >= t->n_rows) {
			puts_esc(t, "\033[K\r\n");
			continue;
		}
		size_t i = t->rows[r];
		vma_format_maps(&rp->vs[i].v, line, sizeof(line));
		const char *pre = "", *sign = "  ";
		if (t->mark[i] == MARK_ADD)
			pre = "\033[1;32m", sign = "+ ";
		else if (t->mark[i] == MARK_DEL)
			pre = "\033[9;31m", sign = "- ";
		if ((long)i == t->hit)
			pre = "\033[7;1m", sign = "> ";
		snprintf(buf, sizeof(buf), "%s%s", sign, line);
		put_line(t, pre, buf);
	}
	if (t->msg[0])
		snprintf(buf, sizeof(buf), "%s", t->msg);
	else
		snprintf(buf, sizeof(buf), "rows %zu-%zu of %zu   n/space next  p previous  g seq"
			 "  / address  j/k scroll  q quit  ? help", t->n_rows ? t->top + 1 : 0,
			 t->top + h < t->n_rows ? t->top + h : t->n_rows, t->n_rows);
	t->msg[0] = '\0';
	size_t n = strlen(buf) > (size_t)t->width ? (size_t)t->width : strlen(buf);
	puts_esc(t, "\033[7m");
	put(t, buf, n);
	puts_esc(t, "\033[0m\033[K");
	flush_frame(t);
}

static const char *const help_text[] = {
	"vmatrace replay: keys",
	"",
	"  n, space, Right   next event",
	"  p, Left           previous event",
	"  g                 go to an event (seq)",
	"  /                 search an address: the next event that changed a VMA covering it",
	"  j, Down / k, Up   scroll the map by a line",
	"  PgDn / PgUp       scroll the map by a page",
	"  q                 quit",
	"",
	"Green +: added by this event.  Red, struck -: removed by it.  > the VMA found by /.",
	"",
	"Press a key.",
};

static void draw_help(struct tui *t)
{
	puts_esc(t, "\033[H\033[2J");
	for (size_t i = 0; i < sizeof(help_text) / sizeof(help_text[0]); i++)
		put_line(t, i ? "" : "\033[1m", help_text[i]);
	flush_frame(t);
}

/* Input. --------------------------------------------------------------------------------- */

enum { KEY_NONE = -1, KEY_QUIT = -2, KEY_UP = 0x101, KEY_DOWN, KEY_RIGHT, KEY_LEFT, KEY_PGUP,
       KEY_PGDN };

/* read_key - one key (escape sequences decoded); KEY_NONE after a signal, KEY_QUIT at EOF. */
static int read_key(void)
{
	unsigned char c, seq[3];
	struct pollfd in = { .fd = STDIN_FILENO, .events = POLLIN };

	if (got_signal)
		return KEY_NONE;
	if (ppoll(&in, 1, NULL, &saved_mask) < 0)
		return errno == EINTR ? KEY_NONE : KEY_QUIT;
	ssize_t n = read(STDIN_FILENO, &c, 1);
	if (n < 0 && errno == EINTR)
		return KEY_NONE;
	if (n <= 0)
		return KEY_QUIT;
	if (c != 0x1b)
		return c;
	/* An escape sequence arrives at once; a lone Esc does not continue. */
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	size_t k = 0;
	while (k < sizeof(seq) && poll(&p, 1, 50) == 1 && read(STDIN_FILENO, &seq[k], 1) == 1) {
		k++;
		if (k >= 2 && seq[0] == '[' && (seq[k - 1] >= 'A' && seq[k - 1] <= 'Z'))
			break;
		if (k >= 2 && seq[k - 1] == '~')
			break;
	}
	if (k >= 2 && seq[0] == '[') {
		switch (seq[1]) {
		case 'A': return KEY_UP;
		case 'B': return KEY_DOWN;
		case 'C': return KEY_RIGHT;
		case 'D': return KEY_LEFT;
		case '5': return KEY_PGUP;
		case '6': return KEY_PGDN;
		}
	}
	return 0x1b;
}

/* prompt - read a line on the bottom row into @buf; false if cancelled (Esc, ^C). */
static bool prompt(struct tui *t, const char *what, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (;;) {
		char line[256];
		snprintf(line, sizeof(line), "\033[%d;1H\033[0m\033[K%s%s\033[?25h", t->height, what,
			 buf);
		puts_esc(t, line);
		flush_frame(t);
		int c = read_key();
		if (got_signal || c == KEY_QUIT || c == 0x1b)
			break;
		if (c == KEY_NONE)
			continue;
		if (c == '\r' || c == '\n') {
			puts_esc(t, "\033[?25l");
			return n > 0;
		}
		if ((c == 0x7f || c == 0x08) && n > 0)
			buf[--n] = '\0';
		else if (c >= 0x20 && c < 0x7f && n + 1 < size) {
			buf[n++] = (char)c;
			buf[n] = '\0';
		}
	}
	puts_esc(t, "\033[?25l");
	return false;
}

static bool parse_u64(const char *s, int base, uint64_t *ret)
{
	char *end;

	errno = 0;
	if (base == 0 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		base = 16, s += 2;
	else if (base == 0)
		base = 10;
	unsigned long long v = strtoull(s, &end, base);
	if (errno || end == s || *end || s[0] == '-' || s[0] == '+')
		return false;
	*ret = v;
	return true;
}

static void cmd_goto(struct tui *t)
{
	struct replay *rp = t->rp;
	char buf[32];
	uint64_t seq;

	if (!prompt(t, "go to event: ", buf, sizeof(buf)))
		return;
	if (!parse_u64(buf, 10, &seq)) {
		snprintf(t->msg, sizeof(t->msg), "not an event number: %s", buf);
		return;
	}
	if (seq < rp->from || seq > rp->to) {
		snprintf(t->msg, sizeof(t->msg), "event %" PRIu64 " is outside this replay "
			 "(events %" PRIu64 "..%" PRIu64 ")", seq, rp->from, rp->to);
		return;
	}
	/* The last step at or before seq (binary search: steps are in seq order). */
	long lo = -1, hi = (long)rp->n_steps - 1;
	while (lo < hi) {
		long mid = lo + (hi - lo + 1) / 2;
		if (rp->steps[mid].seq <= seq)
			lo = mid;
		else
			hi = mid - 1;
	}
	go(t, lo);
	if (lo < 0 || rp->steps[lo].seq != seq)
		snprintf(t->msg, sizeof(t->msg), "event %" PRIu64 " is not a step of this process;"
			 " showing the state after it", seq);
}

/* covering - a version among step @i's changes that covers @addr, or -1. */
static long covering(const struct tui *t, long i, uint64_t addr)
{
	const struct rp_step *st = &t->rp->steps[i];

	if (!t->rp->changes)
		return -1;
	const size_t *lists[2] = { t->rp->changes + st->add, t->rp->changes + st->del };
	const size_t counts[2] = { st->n_add, st->n_del };

	/* An added version first: that is the one the map shows after the step. */
	for (int l = 0; l < 2; l++)
		for (size_t k = 0; k < counts[l]; k++) {
			const struct store_vma *v = &t->rp->vs[lists[l][k]].v;
			if (v->start <= addr && addr < v->end)
				return (long)lists[l][k];
		}
	return -1;
}

static void cmd_search(struct tui *t)
{
	char buf[64];
	uint64_t addr;

	if (!prompt(t, "address (0x-hex or decimal): ", buf, sizeof(buf)))
		return;
	if (!parse_u64(buf, 0, &addr)) {
		snprintf(t->msg, sizeof(t->msg), "not an address: %s", buf);
		return;
	}
	for (long i = t->cur + 1; i < (long)t->rp->n_steps; i++) {
		long v = covering(t, i, addr);
		if (v < 0)
			continue;
		go(t, i);
		t->hit = v;
		for (size_t r = 0; r < t->n_rows; r++)
			if (t->rows[r] == (size_t)v)
				scroll_to(t, r);
		return;
	}
	snprintf(t->msg, sizeof(t->msg), "no later event changed a VMA covering 0x%" PRIx64, addr);
}

static void scroll(struct tui *t, long by)
{
	long h = (long)map_height(t), max = (long)t->n_rows - h;
	long top = (long)t->top + by;

	if (top > max)
		top = max;
	if (top < 0)
		top = 0;
	t->top = (size_t)top;
}

/* Main loop. ----------------------------------------------------------------------------- */

static const struct replay *sort_rp;

static int cmp_addr(const void *a, const void *b)
{
	const struct rp_version *x = &sort_rp->vs[*(const size_t *)a];
	const struct rp_version *y = &sort_rp->vs[*(const size_t *)b];

	if (x->v.start != y->v.start)
		return x->v.start < y->v.start ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static bool handle_key(struct tui *t, int c)
{
	long last = (long)t->rp->n_steps - 1;

	switch (c) {
	case 'q': case 'Q': case KEY_QUIT:
		return false;
	case 'n': case ' ': case KEY_RIGHT:
		if (t->cur < last)
			go(t, t->cur + 1);
		else
			snprintf(t->msg, sizeof(t->msg), "at the last event (%" PRIu64 ")", t->rp->to);
		break;
	case 'p': case KEY_LEFT:
		if (t->cur > -1)
			go(t, t->cur - 1);
		else
			snprintf(t->msg, sizeof(t->msg), "at the start");
		break;
	case 'g':
		cmd_goto(t);
		break;
	case '/':
		cmd_search(t);
		break;
	case 'j': case KEY_DOWN:
		scroll(t, 1);
		break;
	case 'k': case KEY_UP:
		scroll(t, -1);
		break;
	case KEY_PGDN:
		scroll(t, (long)map_height(t));
		break;
	case KEY_PGUP:
		scroll(t, -(long)map_height(t));
		break;
	case '?':
		draw_help(t);
		while (!got_signal && read_key() == KEY_NONE && !got_signal)
			;
		break;
	default:
		snprintf(t->msg, sizeof(t->msg), "unknown key: press ? for help, q to quit");
	}
	return true;
}

int replay_tui(struct replay *rp, const char *who)
{
	struct tui t = { .rp = rp, .cur = -1, .hit = -1 };

	(void)who;
	t.mark = xcalloc(rp->n_vs + 1, 1);
	t.order = xcalloc(rp->n_vs + 1, sizeof(size_t));
	t.rows = xcalloc(rp->n_vs + 1, sizeof(size_t));
	for (size_t i = 0; i < rp->n_vs; i++)
		t.order[i] = i;
	sort_rp = rp;
	qsort(t.order, rp->n_vs, sizeof(size_t), cmp_addr);
	/* replay_load() left the state after the last step: back to the start. */
	memset(rp->alive, 0, rp->n_vs * sizeof(*rp->alive));
	for (size_t i = 0; i < rp->n_initial; i++)
		rp->alive[rp->initial[i]] = true;

	if (enter_raw() < 0) {
		restore_terminal();
		log_error("replay: cannot set up the terminal: %s", strerror(errno));
		return 1;
	}
	get_size(&t);
	go(&t, rp->n_steps ? 0 : -1);
	for (;;) {
		if (got_winch) {
			got_winch = 0;
			get_size(&t);
			scroll(&t, 0);
		}
		draw(&t);
		int c = read_key();
		if (got_signal)
			break;
		if (c != KEY_NONE && !handle_key(&t, c))
			break;
	}
	restore_terminal();
	free(t.mark);
	free(t.order);
	free(t.rows);
	free(t.out);
	if (got_signal) {
		int sig = got_signal;
		sigset_t one;
		signal(sig, SIG_DFL);
		sigemptyset(&one);
		sigaddset(&one, sig);
		sigprocmask(SIG_UNBLOCK, &one, NULL);
		raise(sig);
		return 128 + sig;
	}
	return 0;
}
