#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-damaged: tampered trace DBs give one line, never a crash, a hang or a huge
allocation (issue 13, item 10).

Copies of a real trace are changed with Python's sqlite3 module:
- an event with a negative seq, a VMA version whose end is below its start, perms that
  are an escape sequence, a view named "event" (an endless recursive CTE) in place of the
  table, a generated column, pages overwritten with garbage: the readers (timeline,
  export, events, maps, replay, stats, history, diff) exit 1 with exactly one line,
  "vmatrace: 'DB' is damaged: WHY" (or, for SQLite's own findings, the same words);
- an event with seq 3,000,000,000 is legal: timeline and export answer within a 1 GiB
  address-space limit (memory follows the rows, not the largest seq);
- an 8 KiB+ VMA name is legal: timeline and export write it, cut, and exit 0.
"""
import json
import os
import re
import resource
import shutil
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vtlib  # noqa: E402

tap = vtlib.Tap()
DAMAGED = re.compile(r"^vmatrace: '[^']*' is damaged: .+\n$")


def tamper(s, src, name, *sql):
    db = s.path(name)
    shutil.copy(src, db)
    c = sqlite3.connect(db)
    for q in sql:
        c.execute(q)
    c.commit()
    c.close()
    return db


def out_args(s, cmd, db):
    """The output options of the commands that write a file."""
    if cmd == 'timeline':
        return ['-o', s.path(os.path.basename(db) + '.svg')]
    if cmd == 'export':
        return ['--perfetto', '-o', s.path(os.path.basename(db) + '.json')]
    return []


def damaged(s, db, what, cmds, pid):
    for cmd in cmds:
        args = [cmd, '-d', db] + out_args(s, cmd, db)
        if cmd in ('maps', 'replay', 'stats', 'diff'):
            args += ['--pid', pid]
        if cmd == 'replay':
            args += ['--plain']
        if cmd == 'diff':
            args += [1, 2]
        r = s.cmd(*args, timeout=30)
        tap.ok(r.rc == 1 and DAMAGED.match(r.errtext),
               '%s: %s exits 1 with one line "is damaged"' % (what, cmd), r)


def limited():
    """Runs in the child: at most 1 GiB of address space."""
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def asan(vmatrace):
    """AddressSanitizer reserves terabytes of address space: no RLIMIT_AS under it."""
    p = subprocess.run([vmatrace, '--version'], preexec_fn=limited, capture_output=True)
    return p.returncode != 0


def main():
    with vtlib.Session(tap) as s:
        src = s.path('good.db')
        r = s.run([vtlib.prog('memops')], src)
        if not tap.ok(r.rc == 0, 'memops traced', r):
            return
        pid = json.loads(s.cmd('ps', '-d', src, '--json').text.splitlines()[0])['pid']
        c = sqlite3.connect(src)
        mid = c.execute('SELECT seq FROM event ORDER BY seq LIMIT 1 OFFSET 5').fetchone()[0]
        # A version alive in the process's last state, which maps and replay show.
        vid, vstart = c.execute('SELECT id, start FROM vma ORDER BY coalesce(died_seq,'
                                ' 1 << 62) DESC, id LIMIT 1').fetchone()
        cols = [r[1] for r in c.execute('PRAGMA table_info(event)')]
        c.close()

        db = tamper(s, src, 'negseq.db', 'UPDATE event SET seq = -7 WHERE seq = %d' % mid)
        damaged(s, db, 'negative seq', ['timeline', 'export', 'events'], pid)

        db = tamper(s, src, 'inverted.db',
                    'UPDATE vma SET "end" = start - 4096 WHERE id = %d' % vid)
        damaged(s, db, 'end below start', ['timeline', 'export', 'maps', 'replay', 'stats'],
                pid)

        db = tamper(s, src, 'perms.db',
                    "UPDATE vma SET perms = char(27) || '[2J' WHERE id = %d" % vid)
        damaged(s, db, 'perms an escape sequence', ['maps', 'timeline'], pid)

        view = ('CREATE VIEW event AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1'
                ' FROM c) SELECT %s FROM c' %
                ', '.join('x AS ' + n if n == 'seq' else '0 AS ' + n for n in cols))
        db = tamper(s, src, 'view.db', 'ALTER TABLE event RENAME TO event_real', view)
        damaged(s, db, 'a view named event', ['events', 'timeline', 'export', 'stats'], pid)

        db = tamper(s, src, 'generated.db', 'ALTER TABLE vma RENAME TO vma_real',
                    'CREATE TABLE vma (id INTEGER PRIMARY KEY, mm, start, "end", perms,'
                    ' offset, dev, ino, name, born_seq, died_seq, origin_unknown,'
                    ' life_class, size_class, g AS (length(printf(\'%.1000000c\', \'x\'))))')
        damaged(s, db, 'a generated column', ['maps', 'timeline'], pid)

        # Garbage over every page but the first (the header and the schema stay).
        db = s.path('garbage.db')
        shutil.copy(src, db)
        size = os.path.getsize(db)
        with open(db, 'r+b') as f:
            f.seek(4096 * 2)
            f.write(bytes((i * 151 + 7) & 0xff for i in range(size - 4096 * 2)))
        for cmd in ('events', 'timeline', 'export', 'stats'):
            r = s.cmd(cmd, '-d', db, *out_args(s, cmd, db), timeout=30)
            tap.ok(r.rc == 1 and DAMAGED.match(r.errtext),
                   'garbage pages: %s exits 1 with one line "is damaged"' % cmd, r)

        # Legal but large: seq 3e9 must not cost memory in proportion to it.
        db = tamper(s, src, 'bigseq.db', 'UPDATE event SET seq = 3000000000 WHERE seq ='
                    ' (SELECT max(seq) FROM event)')
        pre = None if asan(s.vmatrace) else limited
        for cmd in ('timeline', 'export'):
            argv = [s.vmatrace, cmd, '-d', db] + out_args(s, cmd, db)
            p = subprocess.run(argv, env=s.env, cwd=s.workdir, preexec_fn=pre,
                               capture_output=True, timeout=60)
            tap.ok(p.returncode == 0 and not p.stderr,
                   'seq 3e9: %s exits 0 within 1 GiB of address space' % cmd,
                   'rc %d, stderr %r' % (p.returncode, p.stderr))

        # Legal but long: an 8 KiB+ name, on the largest version, so that it names its
        # band in the timeline (the label is the name found in the version's line).
        long_name = '/x' + 'a' * 9000
        db = tamper(s, src, 'longname.db', "UPDATE vma SET name = '%s' WHERE id = (SELECT"
                    ' id FROM vma ORDER BY "end" - start DESC LIMIT 1)' % long_name)
        for cmd in ('timeline', 'export'):
            r = s.cmd(cmd, '-d', db, *out_args(s, cmd, db))
            tap.ok(r.rc == 0 and not r.err, 'a 9 KiB name: %s exits 0' % cmd, r)
        with open(s.path('longname.db.svg'), encoding='utf-8', errors='replace') as f:
            svg = f.read()
        tap.ok('/xaaaaaaaaaaaaaaaa' in svg and '%x' % vstart in svg,
               'the timeline shows the VMA with its (cut) name')
        tap.ok(re.search(r'<text x="[0-9.]+" y="[0-9.]+">xaaaaaaaaaaaaaaaa', svg),
               'its band is labelled with the name', re.findall(r'<text x="[0-9.]+" '
                                                             r'y="[0-9.]+">[^<]{0,40}', svg))


main()
tap.done()
