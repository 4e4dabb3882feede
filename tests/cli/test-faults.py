#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-faults: the daemon under faults, each with its own daemon.

1. Protocol robustness against a live daemon, while a `vmatrace run` is in flight: garbage,
   a wrong magic, version 2, an oversized length, an unknown type, a truncated frame then a
   close, a HELLO with half its payload then silence, a connection that says nothing. Where
   a reply is due it is an ERROR frame or a close; the silent connections block nobody
   (`status` answers, a raw HELLO is answered); the run ends with exit 0 and a complete DB.
   Then 70 idle connections (over MAX_SESSIONS, 64): the daemon refuses the excess, stays
   up, and serves again once they are closed.
2. kill -9 of the daemon mid-trace: the traced program dies with it (PTRACE_O_EXITKILL), the
   client exits non-zero with one line about losing the daemon, the DB keeps what was
   committed, and the next `vmatrace run` starts a new daemon over the stale socket.
3. ENOSPC (root only, a 1 MiB tmpfs): the program runs to its own exit status, the client
   says "recording ended early: No space left on device", the daemon keeps serving, and
   the DB is either readable or refused in one line.

Every wait is bounded: sockets have deadlines, commands have timeouts.
"""
import os
import random
import re
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vtlib  # noqa: E402

tap = vtlib.Tap()

MAGIC = 0x50544d56
HDR = struct.Struct('<IHHI')
T_HELLO, T_ERROR, T_STATUS = 1, 5, 8
MAX_SESSIONS = 64
REPLY_WAIT = 5.0     # seconds a reply (or a close) may take where one is due
PROMPT = 5.0         # seconds `vmatrace status` may take to be called prompt

SUMMARY = re.compile(r'^vmatrace: (\d+) events?, (\d+) process(?:es)?, (\d+) address spaces? '
                     r'-> (.+)$')


def summary(r):
    """The summary line's event count, or None."""
    for line in r.errtext.splitlines():
        m = SUMMARY.match(line)
        if m:
            return int(m.group(1))
    return None


def frame(typ, payload=b'', magic=MAGIC, version=1, length=None):
    return HDR.pack(magic, version, typ, len(payload) if length is None else length) + payload


def pstr(s):
    b = s.encode()
    return struct.pack('<I', len(b)) + b


def hello_payload():
    return struct.pack('<I', os.getpid()) + pstr('0.1.0')


def sock_path(s):
    return os.path.join(s.sockdir, 'vmatraced.sock')


def connect(path, deadline):
    """A connected socket (deadline-bounded: a full backlog makes a non-blocking AF_UNIX
    connect fail with EAGAIN, so retry until @deadline)."""
    while True:
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            c.connect(path)
            return c
        except (BlockingIOError, InterruptedError):
            c.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
        except OSError:
            c.close()
            raise


def send_quietly(c, data):
    """Send what the daemon takes; it may close on us half way (that is allowed)."""
    try:
        c.sendall(data)
        return None
    except OSError as e:
        return e


def read_until_close(c, wait=REPLY_WAIT):
    """Everything the daemon sends until it closes, or until @wait passes.
    Returns (bytes, how): how is 'eof', 'reset' or 'timeout'."""
    data = b''
    deadline = time.monotonic() + wait
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, 'timeout'
        c.settimeout(left)
        try:
            b = c.recv(65536)
        except socket.timeout:
            return data, 'timeout'
        except ConnectionResetError:
            return data, 'reset'
        if not b:
            return data, 'eof'
        data += b


def parse_frames(data):
    """[(type, payload)] for whole frames of ours in @data, or None if @data is anything
    else (wrong magic or version, trailing bytes)."""
    out = []
    while data:
        if len(data) < HDR.size:
            return None
        magic, ver, typ, ln = HDR.unpack_from(data)
        if magic != MAGIC or ver != 1 or len(data) < HDR.size + ln:
            return None
        out.append((typ, data[HDR.size:HDR.size + ln]))
        data = data[HDR.size + ln:]
    return out


def error_of(payload):
    """(err, message) of an ERROR payload, or None if it does not decode exactly."""
    if len(payload) < 8:
        return None
    err, n = struct.unpack_from('<iI', payload)
    if len(payload) != 8 + n:
        return None
    return err, payload[8:].decode('utf-8', 'replace')


def judge_reply(data, how):
    """None if (data, how) is an ERROR frame and/or a close, else what is wrong."""
    frames = parse_frames(data)
    if frames is None:
        return 'not a sequence of our frames: %r' % data[:200]
    if how == 'timeout' and not frames:
        return 'neither a reply nor a close within %.0f s' % REPLY_WAIT
    for typ, payload in frames:
        if typ != T_ERROR:
            return 'a frame of type %d, not ERROR' % typ
        e = error_of(payload)
        if e is None or e[0] == 0:
            return 'a malformed ERROR or one with err 0: %r' % payload
    return None


def daemon_pid(s):
    st = s.cmd('status', timeout=30)
    m = re.match(r'vmatraced pid (\d+),', st.text)
    return (int(m.group(1)) if st.rc == 0 and m else None), st


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_gone(pid, secs):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return not alive(pid)


def start_run(s, db, argv):
    return subprocess.Popen([s.vmatrace, 'run', '-o', db, '--'] + argv, env=s.env,
                            cwd=s.workdir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)


def finish_run(p, argv, timeout):
    """Wait for a start_run() client, bounded; a vtlib.Result."""
    try:
        out, err = p.communicate(timeout=timeout)
        return vtlib.Result(argv, p.returncode, out, err)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, 9)
        except ProcessLookupError:
            pass
        out, err = p.communicate()
        return vtlib.Result(argv, None, out, err, timed_out=True)


def wait_listed(s, needle, secs=10):
    """Poll `status` until a trace line contains @needle; (the line's fields or None, last
    status Result)."""
    end = time.monotonic() + secs
    st = None
    while time.monotonic() < end:
        st = s.cmd('status', timeout=30)
        for line in st.text.splitlines()[1:]:
            if needle in line:
                return line.split(), st
        time.sleep(0.1)
    return None, st


def db_meta(db):
    """What the DB says of itself, read with Python's sqlite3 (read-only), for diagnostics."""
    try:
        con = sqlite3.connect('file:%s?mode=ro' % db, uri=True, timeout=5)
        try:
            end = con.execute('SELECT end_status FROM trace').fetchall()
            n, mx = con.execute('SELECT count(*), max(seq) FROM event').fetchone()
        finally:
            con.close()
        return 'trace.end_status=%r, %s event rows, max seq %s' % (
            end[0][0] if end else '(no trace row)', n, mx)
    except sqlite3.Error as e:
        return 'sqlite3 cannot read it: %s' % e


def files_of(db):
    d = os.path.dirname(db)
    return ', '.join('%s %d B' % (f, os.path.getsize(os.path.join(d, f)))
                     for f in sorted(os.listdir(d)) if f.startswith(os.path.basename(db)))


# ---- 1. protocol robustness --------------------------------------------------------------

def test_protocol(s):
    path = sock_path(s)
    db = s.path('inflight.db')
    argv = [sys.executable, '-c', 'import time; time.sleep(4)']
    run = start_run(s, db, argv)
    fields, st = wait_listed(s, db)
    tap.ok(fields is not None, 'protocol: the in-flight run is listed by status', st)
    dpid, _ = daemon_pid(s)

    rnd = random.Random(1234)
    garbage = bytes(rnd.randrange(256) for _ in range(4096))
    if garbage[:4] == struct.pack('<I', MAGIC):
        garbage = b'X' + garbage
    hello = frame(T_HELLO, hello_payload())
    cases = [
        ('garbage bytes (4 KiB)', garbage),
        ('an HTTP request', b'GET / HTTP/1.0\r\n\r\n'),
        ('a wrong magic', frame(T_HELLO, hello_payload(), magic=0xdeadbeef)),
        ('version 2', frame(T_HELLO, hello_payload(), version=2)),
        ('version 0', frame(T_HELLO, hello_payload(), version=0)),
        ('len = 300 KiB (header only)', frame(T_HELLO, length=300 * 1024)),
        ('len = 300 KiB with the 300 KiB', frame(T_HELLO, b'\0' * (300 * 1024))),
        ('len = 0xffffffff', frame(T_HELLO, length=0xffffffff)),
        ('an unknown type (99)', frame(99)),
        ('STATUS with a payload', frame(T_STATUS, b'abcd')),
        ('HELLO with trailing bytes', frame(T_HELLO, hello_payload() + b'xx')),
        ('an ERROR sent to the daemon', frame(T_ERROR, struct.pack('<iI', 5, 0))),
    ]
    for name, data in cases:
        c = connect(path, time.monotonic() + REPLY_WAIT)
        try:
            serr = send_quietly(c, data)
            got, how = read_until_close(c)
        finally:
            c.close()
        why = judge_reply(got, how)
        tap.ok(why is None, 'protocol: %s gets an ERROR frame or a close' % name, why,
               'received %d bytes, then %s; send error: %s' % (len(got), how, serr))

    # Closing half way through a frame, then a HELLO with half its payload and a silent
    # connection, both left open.
    c = connect(path, time.monotonic() + REPLY_WAIT)
    c.sendall(hello[:7])
    c.close()
    c = connect(path, time.monotonic() + REPLY_WAIT)
    c.sendall(hello[:HDR.size + 5])
    c.close()
    half = connect(path, time.monotonic() + REPLY_WAIT)
    half.sendall(hello[:HDR.size + 3])
    silent = connect(path, time.monotonic() + REPLY_WAIT)
    partial_hdr = connect(path, time.monotonic() + REPLY_WAIT)
    partial_hdr.sendall(hello[:5])
    time.sleep(0.2)

    t0 = time.monotonic()
    st = s.cmd('status', timeout=30)
    took = time.monotonic() - t0
    tap.ok(st.rc == 0 and took < PROMPT and db in st.text,
           'protocol: status answers promptly (and lists the run) while a half frame, half '
           'a header and a silent connection stay open', st, 'took %.2f s' % took)

    c = connect(path, time.monotonic() + REPLY_WAIT)
    try:
        c.sendall(hello)
        c.settimeout(REPLY_WAIT)
        got = b''
        try:
            while len(got) < HDR.size or len(got) < HDR.size + HDR.unpack_from(got)[3]:
                b = c.recv(4096)
                if not b:
                    break
                got += b
        except OSError as e:
            got += b'<%s>' % str(e).encode()
    finally:
        c.close()
    frames = parse_frames(got)
    tap.ok(frames is not None and len(frames) == 1 and frames[0][0] == T_HELLO and
           len(frames[0][1]) >= 4 and struct.unpack_from('<I', frames[0][1])[0] == dpid,
           'protocol: a raw HELLO is answered by HELLO with the daemon pid meanwhile', got)

    # The silent ones get nothing (no reply is due) but must not have been answered with junk.
    for name, sk in (('half a HELLO payload', half), ('half a header', partial_hdr),
                     ('a silent connection', silent)):
        got, how = read_until_close(sk, wait=0.3)
        tap.ok(how == 'timeout' and got == b'',
               'protocol: %s is left waiting, unanswered' % name, 'got %r, %s' % (got, how))
        sk.close()

    r = finish_run(run, argv, 60)
    n = summary(r)
    tap.ok(r.rc == 0 and n is not None, 'protocol: the in-flight run exits 0 with its summary',
           r)
    evs = []
    try:
        evs = s.events(db)
    except RuntimeError as e:
        tap.diag(str(e))
    root = evs[0]['pid'] if evs else None
    last = evs[-1] if evs else {}
    tap.ok(evs and len(evs) == n and evs[0].get('syscall') == 'execve' and
           last.get('syscall') == '+exit' and last.get('pid') == root and
           last.get('exit_code') == 0,
           'protocol: its DB is complete: the summary count of events, from execve to the '
           "root's +exit", 'summary says %s, DB has %d; last %r' % (n, len(evs), last),
           db_meta(db))
    return dpid


def test_too_many(s, dpid):
    path = sock_path(s)
    db = s.path('busy.db')
    argv = [vtlib.prog('memops')]
    conns, errors = [], []
    deadline = time.monotonic() + 20
    for _ in range(MAX_SESSIONS + 6):
        try:
            conns.append(connect(path, deadline))
        except OSError as e:
            errors.append(str(e))
    time.sleep(0.5)
    closed = 0
    for c in conns:
        c.setblocking(False)
        try:
            got = c.recv(16)
            # closed, or told why first (an ERROR frame) and then closed
            if got == b'' or got[:4] == struct.pack('<I', 0x50544d56):
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    tap.ok(len(conns) == MAX_SESSIONS + 6 and alive(dpid),
           '70 idle connections: all connect, the daemon is up', errors)
    tap.eq(len(conns) - closed, MAX_SESSIONS,
           '70 idle connections: %d are kept, the rest closed by the daemon' % MAX_SESSIONS)
    t0 = time.monotonic()
    st = s.cmd('status', timeout=30)
    took = time.monotonic() - t0
    lines = st.errtext.splitlines()
    tap.ok(st.rc not in (0, None) and len(lines) == 1 and took < PROMPT and
           'too many clients' in st.errtext,
           '70 idle connections: status meanwhile fails promptly, in one line saying why', st)
    tap.diag('status with %d clients connected says: %s' % (MAX_SESSIONS, st.errtext.strip()))
    for c in conns:
        c.close()
    ok, st = False, None
    end = time.monotonic() + 5
    while time.monotonic() < end and not ok:
        st = s.cmd('status', timeout=30)
        ok = st.rc == 0 and ('vmatraced pid %d,' % dpid) in st.text
        if not ok:
            time.sleep(0.1)
    tap.ok(ok, '70 idle connections: once closed, the same daemon answers status', st)
    r = s.run(argv, db, timeout=60)
    tap.ok(r.rc == 0 and summary(r) is not None, '70 idle connections: then a run works', r)


# ---- 2. kill -9 of the daemon mid-trace ---------------------------------------------------

def test_kill9(s):
    marker = 'vt-fault-kill9-%d' % os.getpid()
    db = s.path('killed.db')
    argv = ['/bin/sh', '-c', 'while :; do /bin/true; done', marker]
    t0 = time.monotonic()
    run = start_run(s, db, argv)
    fields, st = wait_listed(s, db)
    dpid, st2 = daemon_pid(s)
    if fields is None or dpid is None:
        tap.ok(False, 'kill -9: the looping run is listed by status', st, st2)
        os.killpg(run.pid, 9)
        finish_run(run, argv, 10)
        return
    tracee = int(fields[1])
    # Let it record for a while, with at least 0.5 s (several commit ticks) of events.
    time.sleep(max(0.5, 1.5 - (time.monotonic() - t0)))
    os.kill(dpid, 9)
    r = finish_run(run, argv, 20)
    tap.ok(wait_gone(dpid, 5), 'kill -9: the daemon is gone')
    tap.ok(r.rc not in (0, None), 'kill -9: the client exits non-zero', r)
    lines = r.errtext.splitlines()
    tap.ok(len(lines) == 1 and lines[0].startswith('vmatrace: ') and 'daemon' in lines[0] and
           summary(r) is None,
           'kill -9: the client says so in one line about the daemon, no summary', r)
    tap.diag('kill -9: the client exited %s and said: %s' % (r.rc, r.errtext.strip()))
    left = []
    end = time.monotonic() + 5
    while time.monotonic() < end:
        left = []
        for p in os.listdir('/proc'):
            if not p.isdigit():
                continue
            try:
                with open('/proc/%s/cmdline' % p, 'rb') as f:
                    if marker.encode() in f.read():
                        left.append(int(p))
            except OSError:
                pass
        if not left and not alive(tracee):
            break
        time.sleep(0.1)
    tap.ok(not left and not alive(tracee),
           'kill -9: the traced program died with the daemon (EXITKILL)', 'left: %s' % left)
    for p in left:
        try:
            os.kill(p, 9)
        except OSError:
            pass
    try:
        evs = s.events(db)
        err = None
    except RuntimeError as e:
        evs, err = [], str(e)
    tap.ok(len(evs) > 0 and evs[0].get('syscall') == 'execve',
           'kill -9: the DB opens and holds the committed events, from the execve', err,
           files_of(db), db_meta(db))
    tap.diag('kill -9: %d events in the DB after %.1f s; %s' %
             (len(evs), time.monotonic() - t0, db_meta(db)))
    r = s.run([vtlib.prog('memops')], s.path('after.db'), timeout=60)
    tap.ok(r.rc == 0 and summary(r) is not None,
           'kill -9: the next run starts a new daemon over the stale socket', r)
    npid, st = daemon_pid(s)
    tap.ok(npid is not None and npid != dpid, 'kill -9: status answers from a new daemon', st)


# ---- 3. ENOSPC ----------------------------------------------------------------------------

def test_enospc(s):
    name = 'ENOSPC on a 1 MiB tmpfs'
    if os.geteuid() != 0:
        tap.skip(name, 'needs root to mount a tmpfs')
        return
    mnt = tempfile.mkdtemp(prefix='vt-enospc-')
    m = vtlib.execute(['mount', '-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', mnt],
                      timeout=30)
    if m.rc != 0:
        os.rmdir(mnt)
        tap.skip(name, 'cannot mount a tmpfs: %s' % (m.errtext.strip() or m.rc))
        return
    try:
        db = os.path.join(mnt, 'full.db')
        argv = ['/bin/sh', '-c', 'for i in $(seq 3000); do /bin/true; done; exit 7']
        r = s.run(argv, db, timeout=180)
        tap.eq(r.rc, 7, 'ENOSPC: the program runs to its own exit status (7)', r)
        lines = r.errtext.splitlines()
        tap.ok(any(l == 'vmatrace: recording ended early: No space left on device'
                   for l in lines) and summary(r) is not None,
               'ENOSPC: the client says "recording ended early: No space left on device"', r)
        tap.diag('ENOSPC: the client said: %s' % ' | '.join(lines))
        dpid, st = daemon_pid(s)
        tap.ok(dpid is not None, 'ENOSPC: the daemon keeps serving status', st)
        tap.diag('ENOSPC: on the tmpfs: %s' % files_of(db))
        tap.diag('ENOSPC: the DB: %s' % db_meta(db))
        ev = s.cmd('events', '-d', db, '--json', timeout=60)
        n = len(ev.text.splitlines())
        ok = (ev.rc == 0 and n > 0) or (ev.rc not in (0, None) and
                                        len(ev.errtext.splitlines()) == 1)
        tap.ok(ok, 'ENOSPC: `vmatrace events` on the full DB reads it or fails in one line',
               ev)
        m = re.search(r'vmatrace: (\d+) events?,', r.errtext)
        tap.ok(ev.rc == 0 and m and int(m.group(1)) == n,
               'ENOSPC: the summary counts the events the DB holds, not those it lost', m and
               m.group(0), n)
        tap.diag('ENOSPC: events exits %s with %d lines (summary said %s events)%s' %
                 (ev.rc, n, summary(r), '; stderr: ' + ev.errtext.strip() if ev.err else ''))
        r2 = s.run([vtlib.prog('memops')], s.path('after-enospc.db'), timeout=60)
        tap.ok(r2.rc == 0 and summary(r2) is not None and 'ended early' not in r2.errtext,
               'ENOSPC: a next run to a disk with room records fully', r2)
        npid, st = daemon_pid(s)
        tap.ok(npid is not None and npid == dpid, 'ENOSPC: all through the same daemon', st)
    finally:
        u = vtlib.execute(['umount', mnt], timeout=30)
        if u.rc != 0:
            vtlib.execute(['umount', '-l', mnt], timeout=30)
        try:
            os.rmdir(mnt)
        except OSError as e:
            tap.diag('cannot remove %s: %s' % (mnt, e))


with vtlib.Session(tap) as s:
    pid = test_protocol(s)
    test_too_many(s, pid)

def rss_kb(pid):
    with open('/proc/%d/status' % pid) as f:
        return int(re.search(r'VmRSS:\s*(\d+)', f.read()).group(1))


def test_no_reader(s):
    """A client that sends requests and never reads the replies cannot grow the daemon."""
    dpid, st = daemon_pid(s)
    if not tap.ok(dpid is not None, 'no reader: the daemon is up', st):
        return
    before = rss_kb(dpid)
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(sock_path(s))
    c.settimeout(0.5)
    blk = frame(8) * 10000  # STATUS frames
    sent, end = 0, time.monotonic() + 10
    while sent < 50_000_000 and time.monotonic() < end:
        try:
            sent += c.send(blk)
        except (socket.timeout, BlockingIOError):
            break  # the daemon stopped reading: what we wanted
    grown = rss_kb(dpid) - before
    tap.ok(grown < 16 * 1024, 'no reader: the daemon grew by %d KiB for %d bytes sent' %
           (grown, sent))
    t0 = time.monotonic()
    st = s.cmd('status', timeout=30)
    tap.ok(st.rc == 0 and time.monotonic() - t0 < PROMPT,
           'no reader: other clients are served meanwhile', st)
    c.close()


with vtlib.Session(tap) as s:
    s.cmd('status')
    r = s.run([vtlib.prog('memops')], s.path('warm.db'), timeout=60)  # starts the daemon
    test_no_reader(s)

with vtlib.Session(tap) as s:
    test_kill9(s)

with vtlib.Session(tap) as s:
    test_enospc(s)

tap.done()
