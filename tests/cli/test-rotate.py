#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-rotate: keeping the previous trace as DB.old, and two runs on one DB (issue 13,
items 6 and 7).

- Rotation: a stale DB.old-wal (left by an earlier trace whose daemon died) is not
  replayed onto the trace that becomes DB.old: after the rotation DB.old reads back
  exactly as that trace read before it, and no stale side file is left. A WAL that
  belongs to the rotated DB goes along with it.
- Lock: while a run writes DB, a second run (and an attach) to the same DB is refused
  with one line naming the first trace, exits non-zero and leaves the file alone; the
  first run's summary names DB, and DB holds the first trace. After it ended, a run to
  DB works again (and keeps the first as DB.old).
"""
import os
import shutil
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vtlib  # noqa: E402

tap = vtlib.Tap()


def stale_wal(s, db, into):
    """A real WAL of another DB (a copy of @db with its events deleted), at @into."""
    other = s.path('other.db')
    shutil.copy(db, other)
    c = sqlite3.connect(other)
    c.execute('PRAGMA journal_mode = WAL')
    c.execute('PRAGMA wal_autocheckpoint = 0')
    c.execute('DELETE FROM event')
    c.commit()
    # Copied while the connection is open: closing it would checkpoint and remove it.
    shutil.copy(other + '-wal', into)
    c.close()


def check_rotation(s):
    db = s.path('t.db')
    r = s.run([vtlib.prog('memops')], db)
    tap.ok(r.rc == 0, 'trace A', r)
    r = s.run(['/bin/true'], db)
    tap.ok(r.rc == 0 and os.path.exists(db + '.old'), 'trace B; A kept as t.db.old', r)
    b_events = s.events(db)
    # A stale WAL beside t.db.old, as a killed daemon's rotation would have left it.
    stale_wal(s, db + '.old', db + '.old-wal')
    r = s.run(['/bin/true'], db)
    tap.ok(r.rc == 0, 'trace C; B becomes t.db.old', r)
    r = s.cmd('events', '-d', db + '.old', '--json')
    tap.ok(r.rc == 0, 'events on t.db.old works', r)
    try:
        got = s.events(db + '.old')
    except RuntimeError as e:
        got = str(e)
    tap.ok(got == b_events, 't.db.old reads back as trace B did (the stale WAL is gone)',
           'got %d events' % len(got) if isinstance(got, list) else got)
    left = sorted(n for n in os.listdir(s.workdir) if n.startswith('t.db'))
    tap.eq(left, ['t.db', 't.db.old'], 'no stale -wal/-shm beside them')

    # A WAL that belongs to the rotated DB goes along: its events stay readable.
    d2 = s.path('w.db')
    r = s.run(['/bin/true'], d2)
    want = s.events(d2)
    c = sqlite3.connect(d2)
    c.execute('PRAGMA journal_mode = WAL')
    c.execute('PRAGMA wal_autocheckpoint = 0')
    c.execute("UPDATE trace SET host = 'moved-with-its-wal'")
    c.commit()
    shutil.copy(d2 + '-wal', s.path('w.wal'))
    c.close()
    shutil.copy(s.path('w.wal'), d2 + '-wal')  # as if the writer died before a checkpoint
    r = s.run(['/bin/true'], d2)
    c = sqlite3.connect('file:%s?mode=ro' % (d2 + '.old'), uri=True)
    host = c.execute('SELECT host FROM trace').fetchone()[0]
    c.close()
    tap.ok(r.rc == 0 and host == 'moved-with-its-wal' and s.events(d2 + '.old') == want,
           'the WAL of the rotated DB went with it', r, host)


def check_lock(s):
    db = s.path('l.db')
    sleeper = subprocess.Popen([s.vmatrace, 'run', '-o', db, '--', '/bin/sleep', '3'],
                               env=s.env, cwd=s.workdir, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Wait until the daemon writes the trace (its first commit names the command).
    deadline = time.time() + 20
    while time.time() < deadline:
        r = s.cmd('status')
        if db in r.text:
            break
        time.sleep(0.1)
    time.sleep(0.4)
    r = s.run(['/bin/true'], db)
    lines = r.errtext.splitlines()
    tap.ok(r.rc != 0 and len(lines) == 1 and 'being written by another trace' in lines[0]
           and "run of '/bin/sleep 3', pid " in lines[0],
           'a second run to the same DB is refused with one line naming the first', r)
    r = s.cmd('attach', '-o', db, os.getpid())
    tap.ok(r.rc != 0 and 'being written by another trace' in r.errtext,
           'an attach to the same DB is refused too', r)
    tap.ok(not os.path.exists(db + '.old'), 'the refused runs moved nothing')
    out, err = sleeper.communicate(timeout=60)
    err = err.decode()
    tap.ok(sleeper.returncode == 0 and err.rstrip().endswith('-> %s' % db),
           'the first run ends and its summary names the DB', err)
    c = sqlite3.connect('file:%s?mode=ro' % db, uri=True)
    exe = c.execute('SELECT exe FROM process ORDER BY id LIMIT 1').fetchone()[0]
    c.close()
    tap.eq(exe, '/bin/sleep', 'the DB holds the first trace')
    r = s.run(['/bin/true'], db)
    tap.ok(r.rc == 0 and os.path.exists(db + '.old'),
           'after it ended, a run to the DB works and keeps it as DB.old', r)


def main():
    with vtlib.Session(tap) as s:
        check_rotation(s)
        check_lock(s)


main()
tap.done()
