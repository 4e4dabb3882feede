# SPDX-License-Identifier: MIT
"""What test-race and test-race-apps share: one `run --verify` of a program, judged by
two things the tracer did not compute: the verify summary (0 divergences) and the stored
history itself (no successful non-fixed mmap landed on a VMA that was still live)."""
import os
import re
import sqlite3

import vtlib

TIMEOUT = 240
VERIFY = re.compile(r'^vmatrace: verify: (\d+) events? checked, (\d+) diverged$', re.M)
EVENTS = re.compile(r'^vmatrace: (\d+) events?,', re.M)

# VMAs that a successful non-fixed mmap ended inside the range it returned.
MAPPED_OVER = '''
SELECT e.seq, e.tid, printf('%x', e.ret), printf('%x-%x', v.start, v.end), v.born_seq
FROM vma v CROSS JOIN event e ON e.seq = v.died_seq
WHERE v.born_seq < v.died_seq AND e.mm = v.mm AND e.kind = 0 AND e.nr = 9
 AND e.ret > 0 AND e.ret < 140737488355328 AND (e.a3 & 16) = 0 AND (e.a3 & 1048576) = 0
 AND v.start < e.ret + ((e.a1 + 4095) / 4096) * 4096 AND v.end > e.ret
LIMIT 5'''


def mapped_over(db):
    con = sqlite3.connect('file:%s?mode=ro' % db, uri=True)
    try:
        return con.execute(MAPPED_OVER).fetchall()
    finally:
        con.close()


def summary(r):
    m = VERIFY.search(r.errtext)
    e = EVENTS.search(r.errtext)
    return ((int(m.group(1)), int(m.group(2))) if m else (None, None),
            int(e.group(1)) if e else 0)


def traced(tap, s, name, argv, want_out, env=None, cwd=None, min_events=1):
    """`run --verify` of @argv: exit 0, @want_out in stdout, 0 divergences, no mapped-over
    VMA. Returns whether all held."""
    db = s.path(re.sub(r'\W', '_', name) + '.db')
    e = dict(s.env, **(env or {}))
    r = vtlib.execute([s.vmatrace, 'run', '--verify', '-o', db, '--'] + argv, env=e,
                      timeout=TIMEOUT, cwd=cwd or s.workdir)
    (checked, diverged), events = summary(r)
    good = r.rc == 0 and want_out in r.text
    good = tap.ok(good, '%s: exits 0 and prints %r' % (name, want_out), r) and good
    ok = checked is not None and checked > 0 and diverged == 0 and events >= min_events
    good = tap.ok(ok, '%s: %d events, verify: %s checked, %s diverged' %
                  (name, events, checked, diverged), r.errtext[-3000:]) and good
    over = mapped_over(db) if os.path.exists(db) else ['no DB']
    good = tap.eq(over, [], '%s: no mmap result was mapped over in the history' % name) and good
    return good


