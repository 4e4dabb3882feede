# SPDX-License-Identifier: MIT
"""Shared helpers of the trace tests: TAP output, an isolated daemon per test, running
`vmatrace run` with a timeout, reading `vmatrace events --json`, and the ptrace probe.

Every test does:

    import vtlib
    tap = vtlib.Tap()
    with vtlib.Session(tap) as s:        # skips the whole test without ptrace (fails if CI=true)
        r = s.run([vtlib.prog('memops')], db=s.path('m.db'))
        evs = s.events(s.path('m.db'))
        tap.ok(r.rc == 0, 'memops exits 0', r)
    tap.done()

A Session owns a fresh VMATRACE_SOCKET_DIR (mkdtemp, mode 0700, ours), so that the test has
its own daemon, and a scratch directory for DBs. Leaving the `with` block runs `vmatrace stop`
(also after an exception, which becomes a failed test point) and removes both directories,
unless a test point failed: then they are kept and named in a diagnostic, daemon log
included.

Environment: VMATRACE (the client), VMATRACED (the daemon, honoured by the client),
PROG_<NAME> (the tracees of tests/progs/). Set by tests/cli/meson.build.
"""

import ctypes
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback

RUN_TIMEOUT = 120  # seconds for one `vmatrace run`; the meson timeout is 300 per test


class Tap:
    """A TAP producer. The plan is printed at the end (TAP allows it there)."""

    def __init__(self):
        self.n = 0
        self.failed = 0
        sys.stdout.reconfigure(line_buffering=True)

    def ok(self, cond, desc, *details, todo=None):
        """One test point; @details (anything with a str()) are printed on failure. With
        @todo (the reason), a failure is reported as TAP's "# TODO": known, not fatal."""
        self.n += 1
        print('%sok %d - %s%s' % ('' if cond else 'not ', self.n, desc,
                                  ' # TODO ' + todo if todo else ''))
        if not cond:
            self.failed += 0 if todo else 1
            for d in details:
                self.diag(str(d))
        return bool(cond)

    def eq(self, got, want, desc, *details):
        """ok(got == want), showing both on failure."""
        return self.ok(got == want, desc, 'got:  %r' % (got,), 'want: %r' % (want,), *details)

    def skip(self, desc, reason):
        self.n += 1
        print('ok %d - %s # SKIP %s' % (self.n, desc, reason))

    def diag(self, msg):
        for line in str(msg).splitlines() or ['']:
            print('# ' + line)

    def skip_all(self, reason):
        print('1..0 # SKIP %s' % reason)
        sys.exit(0)

    def bail(self, reason):
        print('Bail out! %s' % reason)
        sys.exit(1)

    def done(self):
        print('1..%d' % self.n)
        sys.exit(1 if self.failed else 0)


def need_env(tap, name):
    v = os.environ.get(name)
    if not v:
        tap.bail('%s is not set: run the tests through meson test' % name)
    return v


def prog(name):
    """The full path of tracee @name of tests/progs/ (PROG_<NAME>)."""
    key = 'PROG_' + name.upper().replace('-', '_')
    v = os.environ.get(key)
    if not v:
        raise RuntimeError('%s is not set: run the tests through meson test' % key)
    return v


def in_ci():
    """True under a CI runner (the environment variable CI=true, as CI services and .ci/run
    set it). There, a test that cannot do its job must fail rather than skip: a machine
    without ptrace would otherwise turn the whole trace suite into green skips."""
    return os.environ.get('CI', '').lower() in ('true', '1', 'yes')


def no_ptrace(tap, why, desc='ptrace is permitted here'):
    """ptrace is unavailable (@why): skip the whole test, or fail it under CI."""
    if in_ci():
        tap.ok(False, desc, 'CI=true and %s: a CI runner must allow ptrace '
               '(unset CI to skip instead)' % why)
        tap.done()
    tap.skip_all(why)


def tracer_of(pid):
    """The TracerPid of @pid (0: untraced), or None when it is gone."""
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('TracerPid:'):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def ptrace_problem():
    """None if we may ptrace a child of ours (PTRACE_SEIZE), else why not.

    The daemon is not our parent's ancestor, but the traced child names it with
    PR_SET_PTRACER, so the question is whether ptrace works at all here (a container's
    seccomp policy, Yama at 3, a missing CAP_SYS_PTRACE in a user namespace...).
    """
    PTRACE_SEIZE = 0x4206
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError as e:
        return 'cannot load libc for the ptrace probe: %s' % e
    pid = os.fork()
    if pid == 0:
        try:
            time.sleep(30)
        finally:
            os._exit(0)
    try:
        r = libc.ptrace(ctypes.c_int(PTRACE_SEIZE), ctypes.c_int(pid), ctypes.c_void_p(0),
                        ctypes.c_void_p(0))
        err = ctypes.get_errno()
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    if r != 0:
        return 'ptrace is not permitted here (PTRACE_SEIZE: %s)' % os.strerror(err)
    return None


class Result:
    """What a command did: argv, rc (negative -N when killed by signal N, None on timeout),
    stdout and stderr as bytes."""

    def __init__(self, argv, rc, out, err, timed_out=False):
        self.argv, self.rc, self.out, self.err, self.timed_out = argv, rc, out, err, timed_out

    @property
    def text(self):
        return self.out.decode('utf-8', 'replace')

    @property
    def errtext(self):
        return self.err.decode('utf-8', 'replace')

    def __str__(self):
        s = '$ %s\n-> rc=%s%s' % (' '.join(repr(os.fsdecode(a)) if isinstance(a, bytes) else a
                                            for a in self.argv), self.rc,
                                  ' (timed out)' if self.timed_out else '')
        for name, data in (('stdout', self.out), ('stderr', self.err)):
            if data:
                t = data.decode('utf-8', 'replace')
                if len(t) > 3000:
                    t = t[:1500] + '\n[...]\n' + t[-1500:]
                s += '\n%s:\n%s' % (name, t.rstrip('\n'))
        return s


def _short_tmp():
    """A directory for the socket dir: sun_path holds 107 bytes, so keep it short."""
    d = tempfile.gettempdir()
    return d if len(d) < 60 else '/tmp'


def execute(argv, env=None, timeout=RUN_TIMEOUT, cwd=None, stdin=subprocess.DEVNULL):
    """Run @argv in its own session; on timeout kill its whole process group."""
    p = subprocess.Popen(argv, env=env, cwd=cwd, stdin=stdin, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
        return Result(argv, p.returncode, out, err)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = p.communicate()
        return Result(argv, None, out, err, timed_out=True)


class Session:
    """An isolated daemon (its own socket dir) and a scratch directory."""

    def __init__(self, tap, need_ptrace=True):
        self.tap = tap
        self.vmatrace = need_env(tap, 'VMATRACE')
        need_env(tap, 'VMATRACED')
        if need_ptrace:
            why = ptrace_problem()
            if why:
                no_ptrace(tap, why)
        self.sockdir = tempfile.mkdtemp(prefix='vt-sock-', dir=_short_tmp())
        os.chmod(self.sockdir, 0o700)
        self.workdir = tempfile.mkdtemp(prefix='vt-work-')
        self.env = dict(os.environ, VMATRACE_SOCKET_DIR=self.sockdir)

    def __enter__(self):
        return self

    def __exit__(self, etype, value, tb):
        if etype is not None and not issubclass(etype, SystemExit):
            self.tap.ok(False, 'no unexpected exception',
                        ''.join(traceback.format_exception(etype, value, tb)))
        self.close()
        return etype is not None and not issubclass(etype, SystemExit)

    def path(self, name):
        """@name in the scratch directory."""
        return os.path.join(self.workdir, name)

    def cmd(self, *args, timeout=RUN_TIMEOUT, env=None, cwd=None):
        """Run `vmatrace ARGS...` with the session's environment (plus @env)."""
        e = dict(self.env, **(env or {}))
        return execute([self.vmatrace] + [str(a) for a in args], env=e, timeout=timeout,
                       cwd=cwd or self.workdir)

    def run(self, argv, db, timeout=RUN_TIMEOUT, env=None, wrapper=(), cwd=None):
        """`[WRAPPER...] vmatrace run -o DB -- ARGV...`."""
        e = dict(self.env, **(env or {}))
        full = list(wrapper) + [self.vmatrace, 'run', '-o', db, '--'] + list(argv)
        if any(isinstance(a, bytes) for a in full):
            full = [os.fsencode(a) for a in full]
        return execute(full, env=e, timeout=timeout, cwd=cwd or self.workdir)

    def events(self, db, *filters):
        """`vmatrace events --json -d DB FILTERS...` as a list of dicts (raises on error)."""
        r = self.cmd('events', '-d', db, '--json', *filters, timeout=60)
        if r.rc != 0:
            raise RuntimeError('vmatrace events failed\n%s' % r)
        evs = []
        for i, line in enumerate(r.text.splitlines()):
            try:
                evs.append(json.loads(line))
            except ValueError as e:
                raise RuntimeError('line %d of events --json is not JSON (%s): %r' %
                                   (i + 1, e, line))
        return evs

    def daemon_log(self):
        try:
            with open(os.path.join(self.sockdir, 'vmatraced.log'), errors='replace') as f:
                return f.read()[-4000:]
        except OSError:
            return ''

    def close(self):
        r = self.cmd('stop', timeout=60)
        if r.timed_out:
            self.tap.ok(False, 'vmatrace stop ends', r)
        if self.tap.failed:
            self.tap.diag('kept for inspection: %s (DBs) and %s (daemon socket dir)' %
                          (self.workdir, self.sockdir))
            log = self.daemon_log()
            if log:
                self.tap.diag('daemon log (tail):\n' + log)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
            shutil.rmtree(self.sockdir, ignore_errors=True)


def wait_status_str(st):
    if st is None:
        return 'None'
    if os.WIFEXITED(st):
        return 'exited %d' % os.WEXITSTATUS(st)
    if os.WIFSIGNALED(st):
        return 'killed by %d' % os.WTERMSIG(st)
    return 'status 0x%x' % st


def json_text(b):
    """What a JSON reader should get for the bytes @b, per sysent.h's json_print_string():
    well-formed UTF-8 as text, each other byte as U+00XX."""
    s = b.decode('utf-8', 'surrogateescape')
    return ''.join(chr(ord(c) - 0xdc00) if 0xdc80 <= ord(c) <= 0xdcff else c for c in s)


def c_quoted(b):
    """@b as `vmatrace events` quotes a string (sysent.h): "..." with C escapes, control
    bytes and bytes that are not UTF-8 in octal, valid UTF-8 as is. (C1 controls and DEL,
    which sysent.h also turns into octal, are left out of the tests' names.)"""
    esc = {'\\': '\\\\', '"': '\\"', '\n': '\\n', '\t': '\\t', '\r': '\\r',
           '\v': '\\v', '\f': '\\f'}
    out = []
    for c in b.decode('utf-8', 'surrogateescape'):
        o = ord(c)
        if c in esc:
            out.append(esc[c])
        elif 0xdc80 <= o <= 0xdcff:
            out.append('\\%03o' % (o - 0xdc00))
        elif o < 0x20 or o == 0x7f:
            out.append('\\%03o' % o)
        else:
            out.append(c)
    return '"' + ''.join(out) + '"'


def is_marker(ev):
    """madvise(NULL, 0, MADV_NORMAL), the no-op the tracees put around their window."""
    return ev.get('syscall') == 'madvise' and ev.get('args', [None])[:3] == [0, 0, 0]


def window(evs, tid):
    """The events of thread @tid strictly between its first two markers, or None."""
    mine = [e for e in evs if e.get('tid') == tid]
    idx = [i for i, e in enumerate(mine) if is_marker(e)]
    if len(idx) < 2:
        return None
    return mine[idx[0] + 1:idx[1]]


def syscalls(evs):
    """The syscall events (no +exit or +signal pseudo events)."""
    return [e for e in evs if e.get('syscall') not in ('+exit', '+signal')]


def exits(evs):
    """The +exit pseudo events, by tid."""
    return {e['tid']: e for e in evs if e.get('syscall') == '+exit'}


def parse_kv(text, tag):
    """Lines 'TAG k=v k=v' of a tracee's output as a list of dicts (ints where they parse)."""
    res = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0] != tag:
            continue
        d = {'_args': parts[1:]}
        for p in parts[1:]:
            if '=' in p:
                k, v = p.split('=', 1)
                try:
                    d[k] = int(v)
                except ValueError:
                    d[k] = v
        res.append(d)
    return res


# ---- two users, the system daemon, and the wire protocol (tests of system mode) ----------

TEST_USERS = ('vt-alice', 'vt-bob')


def test_users(tap):
    """[(uid, gid), (uid, gid)] of two unprivileged users for the tests that act as someone
    else (setpriv). Created with useradd when missing: the tests run as root in CI. Skips
    the test when that is not possible."""
    import pwd
    if os.geteuid() != 0:
        tap.skip_all('needs root to act as other users')
    if not shutil.which('setpriv'):
        tap.skip_all('setpriv (util-linux) is missing')
    res = []
    for name in TEST_USERS:
        for _ in range(50):
            try:
                pw = pwd.getpwnam(name)
                res.append((pw.pw_uid, pw.pw_gid))
                break
            except KeyError:
                pass
            if not shutil.which('useradd'):
                tap.skip_all('user %s is missing and useradd is not installed' % name)
            # Another test may be adding it at the same time: /etc/passwd is locked then.
            subprocess.run(['useradd', '--system', '--no-create-home', '--user-group',
                            '--shell', '/usr/sbin/nologin', name],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.1)
        else:
            tap.skip_all('cannot create the test user %s' % name)
    return res


def as_user(ids):
    """The setpriv prefix that runs a command as @ids (uid, gid), no supplementary groups."""
    return ['setpriv', '--reuid=%d' % ids[0], '--regid=%d' % ids[1], '--clear-groups', '--']


class SystemDaemon:
    """`vmatraced --system -f` in a fresh root-owned directory (0755) given to clients as
    VMATRACE_SOCKET_DIR; stopped (and its directory removed) by close()."""

    def __init__(self, tap, args=()):
        self.tap = tap
        self.dir = tempfile.mkdtemp(prefix='vt-sys-', dir='/tmp')
        os.chmod(self.dir, 0o755)
        self.env = dict(os.environ, VMATRACE_SOCKET_DIR=self.dir)
        self.sock = os.path.join(self.dir, 'vmatraced.sock')
        self.log = open(os.path.join(self.dir, 'vmatraced.log'), 'w+')
        self.proc = subprocess.Popen([os.environ['VMATRACED'], '--system', '-f'] + list(args),
                                     env=self.env, stderr=self.log)
        for _ in range(200):
            if os.path.exists(self.sock):
                break
            time.sleep(0.05)

    def log_text(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-4000:]

    def alive(self):
        return self.proc.poll() is None

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.tap.failed:
            self.tap.diag('system daemon log (tail):\n' + self.log_text())
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


PROTO_MAGIC = 0x50544d56
T_HELLO, T_RUN, T_ATTACHED, T_FINISHED, T_ERROR, T_ATTACH = 1, 2, 3, 4, 5, 6


def _pstr(s):
    b = os.fsencode(s)
    return struct.pack('<I', len(b)) + b


def frame(typ, payload=b''):
    return struct.pack('<IHHI', PROTO_MAGIC, 1, typ, len(payload)) + payload


def hello_frame():
    return frame(T_HELLO, struct.pack('<I', os.getpid()) + _pstr('test'))


def run_frame(pid, db, argv=('prog',), flags=0, typ=None):
    payload = struct.pack('<II', pid, flags) + _pstr(db) + _pstr('/') + \
        struct.pack('<I', len(argv)) + b''.join(_pstr(a) for a in argv)
    return frame(T_RUN if typ is None else typ, payload)


def recv_frame(sock, timeout=30):
    """(type, payload) of the next frame on @sock, or (None, why)."""
    sock.settimeout(timeout)
    data = b''
    try:
        while len(data) < 12 or len(data) < 12 + struct.unpack_from('<I', data, 8)[0]:
            b = sock.recv(65536)
            if not b:
                return None, 'closed after %d bytes' % len(data)
            data += b
    except OSError as e:
        return None, str(e)
    return struct.unpack_from('<H', data, 6)[0], data[12:]


def error_text(payload):
    """The message of an ERROR payload."""
    n = struct.unpack_from('<I', payload, 4)[0]
    return payload[8:8 + n].decode('utf-8', 'replace')
