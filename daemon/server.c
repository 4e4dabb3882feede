// SPDX-License-Identifier: MIT
/*
 * The daemon's event loop and client sessions. One libev loop made with ev_loop_new (the
 * default loop would install its own SIGCHLD handler and reap tracees with plain waitpid,
 * swallowing ptrace stops). SIGCHLD, SIGTERM and SIGINT are blocked and read from a
 * signalfd watched by ev_io; a SIGCHLD wake-up drains waitpid(-1, __WALL | WNOHANG).
 *
 * Each client connection is a struct session with its ev_io embedded. Requests and replies
 * are proto/ messages; a malformed frame gets an ERROR reply and the connection is closed,
 * other sessions are not affected.
 */
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "paths.h"
#include "proto.h"
#include "server.h"
#include "tracer.h"
#include "xalloc.h"

#define MAX_SESSIONS 64
#define MAX_SESSIONS_PER_UID 16     /* system mode: no user can take every slot */
#define SESSION_WBUF_MAX (1 << 20)  /* replies queued for a client that does not read */
#define SESSION_IDLE_S 30           /* a connection with no trace and no request */
/*
 * A request must arrive whole within this long of its first byte (of the connection, for
 * the first): clients send each frame at once, so only a stuck or hostile peer takes
 * longer, and 64 of those trickling a byte every few seconds would otherwise hold every
 * slot and lock the user's own clients out for good.
 */
#define SESSION_FRAME_S 5

struct session {
	ev_io io;               /* first: the watcher's address is the session's */
	struct conn conn;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	bool closing;           /* close once the write buffer is flushed */
	unsigned traces;        /* traces it started that are still running */
	ev_tstamp last_active;  /* last request */
	ev_tstamp frame_since;  /* first byte of the frame not yet complete, 0 if none */
	struct session *next;
};

static struct ev_loop *loop;
static ev_io listen_io, signal_io;
static ev_timer idle_timer, sweep_timer;
static int listen_fd = -1, signal_fd = -1;
static struct session *sessions;
static unsigned n_sessions;
static bool stopping;
static char socket_path[4096];
static bool socket_ours;        /* we bound socket_path: unlink it when we stop */
static struct server_config cfg;
static ev_io notify_io;
static ev_io store_io;          /* the stores' eventfd: a DB set up or closed */
static ev_tstamp last_activity; /* a connection or a trace began or ended (--idle-exit) */

/* Something happened that makes the daemon not idle from now: --idle-exit counts from
 * here. */
static void touch(void)
{
	last_activity = ev_now(loop);
}

/*
 * Read requests only while the replies to earlier ones are not piling up: a client that
 * sends without reading must not grow our memory.
 */
static bool session_reads(const struct session *s)
{
	return !s->closing && conn_pending(&s->conn) < SESSION_WBUF_MAX;
}

static void session_update(struct session *s)
{
	int events = (session_reads(s) ? EV_READ : 0) | (conn_pending(&s->conn) ? EV_WRITE : 0);

	if (events != (s->io.events & (EV_READ | EV_WRITE))) {
		ev_io_stop(loop, &s->io);
		ev_io_set(&s->io, s->io.fd, events);
		if (events)
			ev_io_start(loop, &s->io);
	}
}

static void session_free(struct session *s)
{
	tracer_forget_ctx(s);
	ev_io_stop(loop, &s->io);
	close(s->conn.fd);
	conn_release(&s->conn);
	for (struct session **p = &sessions; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	n_sessions--;
	free(s);
	touch();
}

static void session_send(struct session *s, const struct proto_msg *m)
{
	if (conn_queue(&s->conn, m) < 0) {
		log_warn("cannot encode %s for client %d", proto_type_name(m->type), s->pid);
		return;
	}
	int r = conn_flush(&s->conn);
	if (r < 0 && r != -EAGAIN)
		s->closing = true; /* the peer is gone; nothing more to say */
	session_update(s);
}

static void send_error(struct session *s, int err, const char *msg)
{
	struct proto_msg m = { .type = PROTO_ERROR };

	m.u.error.err = err;
	m.u.error.message = (char *)msg;
	session_send(s, &m);
}

/* Trace callbacks: the trace ended; tell the client that started it. */
static void on_trace_done(const struct trace_result *res, void *ctx)
{
	struct session *s = ctx;
	struct proto_msg m = { .type = PROTO_FINISHED };

	touch();
	s->traces--;
	m.u.finished = (struct proto_finished){
		.trace_id = res->trace_id, .status = res->status, .events = res->events,
		.processes = res->processes, .mms = res->mms, .verified = res->verified,
		.diverged = res->diverged, .store_error = res->store_error,
		.message = (char *)res->message,
	};
	session_send(s, &m);
}

/* A RUN or ATTACH accepted earlier has started (ATTACHED) or could not (ERROR). */
static void on_trace_started(int err, uint32_t id, const char *msg, void *ctx)
{
	struct session *s = ctx;

	touch();
	if (err < 0) {
		s->traces--;
		send_error(s, -err, msg);
		return;
	}
	struct proto_msg m = { .type = PROTO_ATTACHED };
	m.u.attached.trace_id = id;
	session_send(s, &m);
}

/* The pid a RUN names must be a child of the client that asks (its own fork). */
static bool is_child_of(pid_t pid, pid_t parent)
{
	char path[64], buf[512];
	int ppid = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* comm may contain spaces and parentheses: the fields start after the last ')' */
	char *p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return false;
	return ppid == parent;
}

/*
 * RUN (@attach false) and ATTACH: start a trace and answer ATTACHED or why not: at once
 * for what is known at once (a bad path, an existing DB), else from on_trace_started()
 * once the store's writer has set the DB up (the loop serves others meanwhile).
 */
static void handle_trace(struct session *s, struct proto_run *req, bool attach)
{
	char *msg = NULL;
	int r;

	if (stopping) {
		send_error(s, ESHUTDOWN, "the daemon is stopping");
		return;
	}
	if (req->db_path[0] != '/') {
		send_error(s, EINVAL, "the DB path must be absolute");
		return;
	}
	if (attach) {
		r = tracer_attach((pid_t)req->pid, req, s->uid, s->gid, on_trace_started,
				  on_trace_done, s, &msg);
	} else if (!is_child_of((pid_t)req->pid, s->pid)) {
		send_error(s, EPERM, "run: the pid is not a child of the requesting client");
		return;
	} else {
		r = tracer_run((pid_t)req->pid, req, s->uid, s->gid, on_trace_started,
			       on_trace_done, s, &msg);
	}
	if (r < 0) {
		send_error(s, -r, msg ? msg : strerror(-r));
		free(msg);
		return;
	}
	s->traces++; /* from now: its start is under way */
}

static void handle_detach(struct session *s, pid_t pid)
{
	char *msg = NULL;
	int r = tracer_detach(pid, s->uid, &msg);

	send_error(s, r < 0 ? -r : 0, r < 0 ? msg : "detaching");
	free(msg);
}

static void handle_status(struct session *s)
{
	struct proto_trace_info infos[PROTO_MAX_TRACES];
	struct proto_msg m = { .type = PROTO_STATUS_REPLY };

	m.u.status_reply.daemon_pid = (uint32_t)getpid();
	m.u.status_reply.n = tracer_status(s->uid, infos, PROTO_MAX_TRACES);
	m.u.status_reply.traces = infos;
	session_send(s, &m);
}

static void begin_stop(void);

static void handle_message(struct session *s, struct proto_msg *m)
{
	log_debug("client %d: %s", s->pid, proto_type_name(m->type));
	switch (m->type) {
	case PROTO_HELLO: {
		struct proto_msg r = { .type = PROTO_HELLO };
		r.u.hello.pid = (uint32_t)getpid();
		r.u.hello.version = (char *)VMATRACE_VERSION;
		session_send(s, &r);
		break;
	}
	case PROTO_RUN:
		handle_trace(s, &m->u.run, false);
		break;
	case PROTO_STATUS:
		handle_status(s);
		break;
	case PROTO_STOP:
		if (tracer_config.system && s->uid != 0) {
			send_error(s, EPERM, "only root may stop the system daemon");
			break;
		}
		send_error(s, 0, "stopping");
		begin_stop();
		break;
	case PROTO_ATTACH:
		handle_trace(s, &m->u.run, true);
		break;
	case PROTO_DETACH:
		handle_detach(s, (pid_t)m->u.detach.pid);
		break;
	default:
		send_error(s, EBADMSG, "unexpected message type");
		s->closing = true;
		break;
	}
}

/* Handle the requests already buffered, as long as replies do not pile up. */
static void session_process(struct session *s)
{
	while (session_reads(s)) {
		struct proto_msg m;
		int r = conn_next(&s->conn, &m);
		if (r == 0)
			break;
		if (r < 0) {
			log_warn("client %d: bad message: %s", s->pid, strerror(-r));
			send_error(s, -r, "malformed message");
			s->closing = true;
			break;
		}
		handle_message(s, &m);
		proto_msg_release(&m);
	}
}

static void session_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct session *s = (struct session *)w;

	(void)l;
	if (revents & EV_WRITE) {
		int r = conn_flush(&s->conn);
		if (r < 0 && r != -EAGAIN) {
			session_free(s);
			return;
		}
	}
	if ((revents & EV_READ) && session_reads(s)) {
		ssize_t n = conn_fill(&s->conn);
		if (n == 0 || (n < 0 && n != -EAGAIN && n != -EMSGSIZE)) {
			session_free(s);
			return;
		}
		s->last_active = ev_now(loop);
		if (n > 0 && !s->frame_since)
			s->frame_since = ev_now(loop);
		if (n == -EMSGSIZE) {
			send_error(s, EMSGSIZE, "malformed message");
			s->closing = true;
		}
	}
	session_process(s);
	if (!s->conn.rlen)
		s->frame_since = 0; /* every byte received made whole frames */
	if (s->closing && !conn_pending(&s->conn)) {
		session_free(s);
		return;
	}
	session_update(s);
}

/* Say why before closing a connection we will not serve (best effort, never blocks). */
static void refuse(int fd, int err, const char *why)
{
	struct proto_msg m = { .type = PROTO_ERROR };
	uint8_t buf[512];

	m.u.error.err = err;
	m.u.error.message = (char *)why;
	int n = proto_encode(&m, buf, sizeof(buf));
	if (n > 0 && send(fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("refuse: %m");
	close(fd);
}

static unsigned sessions_of(uid_t uid)
{
	unsigned n = 0;

	for (struct session *s = sessions; s; s = s->next)
		n += s->uid == uid;
	return n;
}

/* Close connections that have been silent for SESSION_IDLE_S and wait for no trace. */
static void sweep_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	for (struct session *s = sessions, *next; s; s = next) {
		next = s->next;
		if (s->frame_since && ev_now(loop) - s->frame_since > SESSION_FRAME_S) {
			log_info("closing the connection of pid %d: a request incomplete for %d s",
				 s->pid, SESSION_FRAME_S);
			session_free(s);
		} else if (!s->traces && ev_now(loop) - s->last_active > SESSION_IDLE_S) {
			log_info("closing the idle connection of pid %d", s->pid);
			session_free(s);
		}
	}
}

static void accept_cb(struct ev_loop *l, ev_io *w, int revents)
{
	(void)l;
	(void)revents;
	for (;;) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("accept: %m");
			return;
		}
		struct ucred cred;
		socklen_t len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
			close(fd);
			continue;
		}
		/* A user's daemon serves that user (and root); the system daemon everyone,
		 * each with their own rights (see tracer_attach, store_create_as). */
		if (!tracer_config.system && cred.uid != getuid() && cred.uid != 0) {
			log_warn("refused a connection from uid %u (pid %d): not our user",
				 (unsigned)cred.uid, (int)cred.pid);
			close(fd);
			continue;
		}
		if (n_sessions >= MAX_SESSIONS ||
		    (tracer_config.system && cred.uid != 0 &&
		     sessions_of(cred.uid) >= MAX_SESSIONS_PER_UID)) {
			log_warn("refused a connection from pid %d: too many clients", cred.pid);
			refuse(fd, EUSERS, "the daemon has too many clients; try again later");
			continue;
		}
		struct session *s = xcalloc(1, sizeof(*s));
		conn_init(&s->conn, fd);
		s->uid = cred.uid;
		s->gid = cred.gid;
		s->pid = cred.pid;
		s->last_active = ev_now(loop);
		s->frame_since = ev_now(loop); /* its first request is due */
		s->next = sessions;
		sessions = s;
		n_sessions++;
		touch();
		ev_io_init(&s->io, session_cb, fd, EV_READ);
		ev_io_start(loop, &s->io);
	}
}

static void maybe_exit(void)
{
	if (stopping && !tracer_busy()) {
		log_info("no traces left; exiting");
		ev_break(loop, EVBREAK_ALL);
	}
}

static void begin_stop(void)
{
	if (stopping)
		return;
	stopping = true;
	unsigned detached = tracer_detach_all();
	log_info("stopping: no new traces; %u attached process(es) detached, %u run trace(s) "
		 "go on to their end", detached, tracer_busy() - detached);
	if (listen_fd >= 0) {
		ev_io_stop(loop, &listen_io);
		close(listen_fd);
		listen_fd = -1;
		if (socket_ours)
			unlink(socket_path);
	}
	maybe_exit();
}

static void signal_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct signalfd_siginfo si[16];
	bool child = false;
	ssize_t n;

	(void)l;
	(void)revents;
	/* One read takes every queued signal (SIGCHLDs coalesce anyway). */
	while ((n = read(w->fd, si, sizeof(si))) > 0) {
		for (size_t i = 0; i < (size_t)n / sizeof(si[0]); i++) {
			if (si[i].ssi_signo == SIGCHLD)
				child = true;
			else
				begin_stop();
		}
		if ((size_t)n < sizeof(si))
			break;
	}
	if (child || tracer_busy())
		tracer_drain();
	maybe_exit();
}

static int bind_socket(void);

/*
 * Idle for --idle-exit: decide with the door closed. A client that connected just now sits
 * in the listen backlog, not yet in sessions; deciding first and closing after would reset
 * it, and its program would not run. So: refuse new connections first (shutdown: connect
 * gets ECONNREFUSED and the client starts a new daemon, which waits for our lock), take
 * what the backlog holds, and exit only if it held nothing; otherwise serve it, listening
 * again on a new socket. A socket passed by systemd is left as it is: what waits in it is
 * for the instance systemd starts next.
 */
static void idle_close(void)
{
	if (socket_ours) {
		if (shutdown(listen_fd, SHUT_RD) < 0)
			log_warn("shutdown of the listening socket: %m");
		unsigned before = n_sessions;
		accept_cb(loop, &listen_io, EV_READ);
		if (n_sessions > before) {
			log_info("a client came as the idle time ended: serving it");
			ev_io_stop(loop, &listen_io);
			close(listen_fd);
			listen_fd = -1;
			int r = bind_socket();
			if (r < 0) {
				log_error("cannot listen again on %s: %s", socket_path, strerror(-r));
				begin_stop();
				return;
			}
			ev_io_set(&listen_io, listen_fd, EV_READ);
			ev_io_start(loop, &listen_io);
			return;
		}
	}
	log_info("idle for %u s; exiting", cfg.idle_exit_s);
	begin_stop();
}

static void idle_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)revents;
	ev_tstamp left = last_activity + cfg.idle_exit_s - ev_now(loop);

	/* Busy: whatever ends it touches, so look again a full period later. */
	if (tracer_busy() || sessions)
		left = cfg.idle_exit_s;
	if (left > 0) {
		w->repeat = left;
		ev_timer_again(loop, w);
		return;
	}
	idle_close();
	if (!stopping) {
		w->repeat = cfg.idle_exit_s;
		ev_timer_again(loop, w);
	}
}

#define SD_LISTEN_FDS_START 3

int server_activation_fd(const char **ret_why)
{
	const char *pid_s = getenv("LISTEN_PID"), *fds_s = getenv("LISTEN_FDS");
	int fd = SD_LISTEN_FDS_START, val;
	socklen_t len = sizeof(val);
	char *end;

	*ret_why = NULL;
	bool ours = pid_s && fds_s && strtol(pid_s, &end, 10) == getpid() && !*end;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (!ours)
		return -ENOENT; /* absent, or meant for another process (our parent's) */
	if (strcmp(fds_s, "1") != 0) {
		*ret_why = "LISTEN_FDS must be 1: vmatraced serves one socket";
		return -EINVAL;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &val, &len) < 0) {
		*ret_why = "fd 3 is not a socket";
		return errno == EBADF ? -EBADF : -ENOTSOCK;
	}
	if (val != AF_UNIX) {
		*ret_why = "fd 3 is not a Unix socket (ListenStream= must be a path)";
		return -EPROTOTYPE;
	}
	len = sizeof(val);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &val, &len) < 0 || val != SOCK_STREAM) {
		*ret_why = "fd 3 is not a stream socket (ListenStream=)";
		return -EPROTOTYPE;
	}
	len = sizeof(val);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &val, &len) < 0 || !val) {
		*ret_why = "fd 3 is not listening (Accept=no is needed)";
		return -EINVAL;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		*ret_why = "cannot set fd 3 non-blocking";
		return -errno;
	}
	return fd;
}

/*
 * Put the passed socket's path in socket_path (which holds the usual path on entry), for the
 * log; clients look for it only at the usual path, so a different one is worth a warning.
 */
static void activated_path(int fd)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	char expected[sizeof(socket_path)];

	strcpy(expected, socket_path);
	memset(&sa, 0, sizeof(sa));
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 || len <= sizeof(sa_family_t) ||
	    !sa.sun_path[0]) {
		snprintf(socket_path, sizeof(socket_path), "(socket fd %d)", fd);
		return;
	}
	snprintf(socket_path, sizeof(socket_path), "%.*s",
		 (int)(len - offsetof(struct sockaddr_un, sun_path)), sa.sun_path);
	if (strcmp(socket_path, expected) != 0)
		log_warn("the socket passed by systemd is %s, but clients look for %s",
			 socket_path, expected);
}

/*
 * The lock keeps one daemon per directory. Held by a daemon that serves: -EADDRINUSE (the
 * client that started us connects to it). Held by one whose socket refuses connections:
 * it is exiting (idle, stopping), and the client that started us came in between; wait
 * for it (bounded) rather than leave that client with no daemon at all.
 */
static int lock_or_wait(int lock_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	size_t n = strlen(socket_path);

	memcpy(sa.sun_path, socket_path, n < sizeof(sa.sun_path) ? n : sizeof(sa.sun_path) - 1);
	for (int i = 0; i < 250; i++) {
		if (flock(lock_fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK)
			return -errno;
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		int r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
		if (r == 0)
			return -EADDRINUSE;
		usleep(20000);
	}
	return -EADDRINUSE;
}

int server_listen(const struct server_config *config, int *ret_lock_fd)
{
	char dir[4000], lock_path[4096];
	int r;

	cfg = *config;
	r = tracer_config.system ? paths_system_dir(dir, sizeof(dir)) :
				   paths_runtime_dir(dir, sizeof(dir));
	if (r < 0)
		return r;
	r = tracer_config.system ? paths_ensure_system_dir(dir) : paths_ensure_dir(dir);
	if (r < 0) {
		log_error("unsafe or unusable runtime directory '%s': %s", dir, strerror(-r));
		return r;
	}
	paths_join(lock_path, sizeof(lock_path), dir, PATHS_LOCK);
	int lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock_fd < 0)
		return -errno;
	paths_join(socket_path, sizeof(socket_path), dir, PATHS_SOCKET);
	r = lock_or_wait(lock_fd);
	if (r < 0) {
		close(lock_fd);
		return r;
	}
	if (cfg.listen_fd >= 0) {
		/* Socket activation: systemd owns the socket file, we only accept on it. */
		activated_path(cfg.listen_fd);
		listen_fd = cfg.listen_fd;
		*ret_lock_fd = lock_fd;
		return 0;
	}
	r = bind_socket();
	if (r < 0) {
		close(lock_fd);
		return r;
	}
	socket_ours = true;
	*ret_lock_fd = lock_fd;
	return 0;
}

/* A new listening socket at socket_path, into listen_fd. We hold the lock. 0 or -errno. */
static int bind_socket(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int r;

	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	/* We hold the lock: any socket file left is a dead daemon's (or our own). */
	unlink(socket_path);
	strcpy(sa.sun_path, socket_path);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (listen_fd < 0)
		return -errno;
	/* 0600: our user only; the system daemon's is for everyone (0666), checked per
	 * request with SO_PEERCRED. */
	mode_t old = umask(tracer_config.system ? 0111 : 0177);
	r = bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(listen_fd, 16) < 0) {
		r = -errno;
		close(listen_fd);
		listen_fd = -1;
		return r;
	}
	return 0;
}

static void notify_cb(struct ev_loop *l, ev_io *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	tracer_notify();
}

/* A store's writer finished its setup or its close: start or end those traces. */
static void store_cb(struct ev_loop *l, ev_io *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	tracer_store_events();
	maybe_exit();
}

int server_run(void)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (signal_fd < 0)
		return -errno;
	loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOSIGMASK);
	if (!loop)
		return -ENOMEM;
	ev_io_init(&signal_io, signal_cb, signal_fd, EV_READ);
	ev_io_start(loop, &signal_io);
	ev_io_init(&listen_io, accept_cb, listen_fd, EV_READ);
	ev_io_start(loop, &listen_io);
	/* mapped files renamed by other processes while the tracees sleep */
	int nfd = tracer_notify_fd();
	if (nfd >= 0) {
		ev_io_init(&notify_io, notify_cb, nfd, EV_READ);
		ev_io_start(loop, &notify_io);
	}
	int sfd = tracer_store_fd();
	if (sfd < 0)
		return -errno;
	ev_io_init(&store_io, store_cb, sfd, EV_READ);
	ev_io_start(loop, &store_io);
	ev_timer_init(&sweep_timer, sweep_cb, 1., 1.);
	ev_timer_start(loop, &sweep_timer);
	if (cfg.idle_exit_s) {
		touch();
		ev_timer_init(&idle_timer, idle_cb, 0., cfg.idle_exit_s);
		ev_timer_again(loop, &idle_timer);
	}
	log_info("listening on %s%s", socket_path,
		 socket_ours ? "" : " (passed by systemd)");
	ev_run(loop, 0);

	while (sessions)
		session_free(sessions);
	if (listen_fd >= 0) {
		close(listen_fd);
		if (socket_ours)
			unlink(socket_path);
	}
	ev_loop_destroy(loop);
	close(signal_fd);
	return 0;
}
