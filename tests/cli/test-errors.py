#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Issue 13 item 15: errors that said the wrong thing now say what happened, in one line.
- `vmatrace run` inside `vmatrace run`, and `attach` to a process a run traces: "already
  traced by vmatrace" (it was "Operation not permitted" and a hint about containers);
- strace (and gdb) inside `run` cannot trace (every process has its tracer already): the
  run adds a hint saying so;
- a damaged DB: not strerror(EUCLEAN)'s "Structure needs cleaning";
- a DB missing a row it needs: stats no longer says "not an error";
- a DB in WAL mode in a directory the reader cannot write: read when its -wal is empty,
  else one line saying what to do (as a second user: root writes anywhere)."""

import os
import shutil
import sqlite3
import subprocess
import tempfile
import time

import vtlib

tap = vtlib.Tap()


def one_line(r):
    return r.errtext.strip().splitlines()


with vtlib.Session(tap) as s:
    db = s.path('a.db')
    r = s.run(['/bin/true'], db)
    tap.ok(r.rc == 0, 'a trace to work on', r)

    # Nested tracing.
    # (LeakSanitizer's exit check, in an ASan build, cannot work in a traced process: its
    # helper task is made CLONE_UNTRACED, so under the run's filter its syscalls fail.)
    r = s.run([s.vmatrace, 'run', '-o', s.path('inner.db'), '--', '/bin/true'],
              s.path('outer.db'), env={'ASAN_OPTIONS': 'detect_leaks=0'})
    inner = [ln for ln in one_line(r) if 'already traced' in ln or 'hint' in ln]
    tap.ok(r.rc == 1 and len(inner) == 1 and 'already traced by vmatrace' in inner[0],
           '`vmatrace run` inside `vmatrace run`: "already traced by vmatrace", no hint', r)
    run = subprocess.Popen([s.vmatrace, 'run', '-o', s.path('sl.db'), '--', 'sleep', '30'],
                           env=s.env, cwd=s.workdir, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        pid = None
        for _ in range(100):
            st = s.cmd('status')
            for line in st.text.splitlines()[1:]:
                if 'sl.db' in line:
                    pid = int(line.split()[1])
            if pid:
                break
            time.sleep(0.1)
        r = s.cmd('attach', '-o', s.path('att.db'), str(pid), timeout=30)
        lines = one_line(r)
        tap.ok(r.rc == 1 and len(lines) == 1 and
               'pid %d is already traced by vmatrace' % pid in lines[0],
               '`vmatrace attach` to a process of a run: "already traced by vmatrace"', r)
    finally:
        os.killpg(run.pid, 9)
        run.wait()

    # A tracer inside run.
    strace = shutil.which('strace')
    if not strace:
        tap.skip('strace inside run gets a hint', 'strace is not installed')
    else:
        r = s.run([strace, '-o', '/dev/null', '/bin/true'], s.path('st.db'))
        hint = [ln for ln in one_line(r) if ln.startswith('vmatrace: hint:')]
        tap.ok(len(hint) == 1 and 'tried to become a tracer' in hint[0] and
               'a process has one tracer' in hint[0],
               'strace inside run: a hint says why it could not trace', r)

    # A damaged DB: cut short.
    with open(db, 'rb') as f:
        data = f.read()
    cut = s.path('cut.db')
    with open(cut, 'wb') as f:
        f.write(data[:len(data) // 2])
    for cmd in (['events', '-d', cut], ['stats', '-d', cut], ['run', '-o', cut, '--',
                                                             '/bin/true']):
        r = s.cmd(*cmd, timeout=30)
        lines = one_line(r)
        tap.ok(r.rc != 0 and len(lines) == 1 and 'damaged' in lines[0] and
               'Structure needs cleaning' not in lines[0],
               'a DB cut short: %s says it is damaged, in one line' % cmd[0], r)

    # A DB missing its trace row.
    norow = s.path('norow.db')
    shutil.copy(db, norow)
    con = sqlite3.connect(norow)
    con.execute('DELETE FROM trace')
    con.commit()
    con.close()
    r = s.cmd('stats', '-d', norow, timeout=30)
    lines = one_line(r)
    tap.ok(r.rc == 1 and len(lines) == 1 and 'not an error' not in lines[0] and
           'inconsistent' in lines[0], 'stats of a DB without its trace row says why', r)

    # WAL mode in a directory the reader cannot write.
    if os.geteuid() != 0:
        tap.skip('a WAL DB in a read-only directory', 'needs root to act as another user')
    else:
        alice, _ = vtlib.test_users(tap)
        ro = tempfile.mkdtemp(prefix='vt-ro-', dir='/tmp')
        try:
            wal = os.path.join(ro, 'wal.db')
            shutil.copy(db, wal)
            con = sqlite3.connect(wal)
            con.execute('PRAGMA journal_mode=WAL')
            con.close()  # the WAL is checkpointed and removed: the file alone says WAL
            busy = os.path.join(ro, 'busy.db')
            shutil.copy(db, busy)
            con = sqlite3.connect(busy)
            con.execute('PRAGMA journal_mode=WAL')
            con.execute('PRAGMA wal_autocheckpoint=0')
            con.execute("UPDATE trace SET end_status = 'done, later'")
            con.commit()
            # a copy of the DB with its -wal as a killed writer leaves them, no -shm
            shutil.copy(busy, busy + '.c')
            shutil.copy(busy + '-wal', busy + '.c-wal')
            con.close()
            os.rename(busy + '.c', busy)
            os.rename(busy + '.c-wal', busy + '-wal')
            if os.path.exists(busy + '-shm'):
                os.unlink(busy + '-shm')
            for f in os.listdir(ro):
                os.chmod(os.path.join(ro, f), 0o644)
            os.chmod(ro, 0o555)
            r = vtlib.execute(vtlib.as_user(alice) + [s.vmatrace, 'events', '-d', wal],
                              env=s.env, timeout=30, cwd='/')
            tap.ok(r.rc == 0 and 'execve' in r.text,
                   'a WAL-mode DB with no WAL, in a directory the user cannot write: '
                   'events reads it', r)
            r = vtlib.execute(vtlib.as_user(alice) + [s.vmatrace, 'stats', '-d', busy],
                              env=s.env, timeout=30, cwd='/')
            lines = one_line(r)
            tap.ok(r.rc == 1 and len(lines) == 1 and '-wal' in lines[0] and
                   'copy' in lines[0],
                   'with commits in its -wal there: one line saying what to do', r)
        finally:
            os.chmod(ro, 0o755)
            shutil.rmtree(ro, ignore_errors=True)

tap.done()
