#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-stats: `vmatrace stats` against what the other commands and the DB say.

Per process, the counts by syscall and the failures by (errno, syscall) equal those of
`vmatrace events --json`; the busiest threads equal the per-tid counts (threads). Per mm,
the peak and final virtual size and VMA count equal the max over every seq of the sums of
`vmatrace maps --at SEQ` (and the seq where it was first reached); mm_users peak and the
largest mappings equal what the DB's tables say. --pid, the text report and errors too.
"""
import collections
import json
import os
import re
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vtlib  # noqa: E402

tap = vtlib.Tap()


def stats(s, db, *args):
    r = s.cmd('stats', '-d', db, '--json', *args)
    try:
        return json.loads(r.text), r
    except ValueError:
        return None, r


def check_counts(name, proc, evs):
    mine = [e for e in evs if e['pid'] == proc['pid'] and
            proc['start_seq'] <= e['seq'] <= (proc['end_seq'] or 1 << 62)]
    tap.eq(proc['syscalls'], dict(collections.Counter(e['syscall'] for e in mine)),
           '%s: events by syscall equal events --json' % name)
    tap.eq(proc['events'], len(mine), '%s: event total' % name)
    errs = collections.Counter((e['errno'], e['syscall']) for e in mine if 'errno' in e)
    tap.eq({(x['errno'], x['syscall']): x['count'] for x in proc['errors']}, dict(errs),
           '%s: failures by errno equal events --json' % name)
    tids = collections.Counter(e['tid'] for e in mine)
    want = sorted(tids.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    tap.eq([(t['tid'], t['events']) for t in proc['threads']], want,
           '%s: busiest threads' % name)


def check_sizes(s, db, pid, mm, first, last):
    """Peak/final VSZ and VMA count from `maps --at` at every seq of the mm's life."""
    best = (-1, 0)
    bestn = (-1, 0)
    final = None
    for seq in range(first, last + 1):
        r = s.cmd('maps', '-d', db, '--pid', pid, '--at', seq)
        if r.rc != 0:
            continue
        size = n = 0
        for l in r.text.splitlines():
            lo, hi = (int(x, 16) for x in l.split()[0].split('-'))
            size += hi - lo
            n += 1
        if size > best[0]:
            best = (size, seq)
        if n > bestn[0]:
            bestn = (n, seq)
        final = (size, n)
    tap.eq((mm['peak_vsz'], mm['peak_vsz_seq']), best,
           'mm %d: peak virtual size and its event equal the max over maps --at' % mm['mm'])
    tap.eq((mm['peak_vmas'], mm['peak_vmas_seq']), bestn,
           'mm %d: peak VMA count and its event' % mm['mm'])
    tap.eq((mm['final_vsz'], mm['final_vmas']), final,
           'mm %d: final size and count are the last state (maps)' % mm['mm'])


with vtlib.Session(tap) as s:
    db = s.path('memops.db')
    r = s.run([vtlib.prog('memops')], db=db)
    evs = s.events(db)
    pid = evs[0]['pid']
    st, r = stats(s, db)
    tap.ok(st and r.rc == 0, 'stats --json is one JSON object', r)
    proc = st['processes'][0]
    check_counts('memops', proc, evs)
    tap.ok(any(x['errno'] == 'EINVAL' and x['syscall'] == 'munmap' for x in proc['errors']),
           "memops: its unaligned munmap's EINVAL is counted")
    tap.eq(st['trace']['events'], len(evs), 'trace: event count')
    tap.ok(st['trace']['duration_ns'] and st['trace']['first_event_ns'] <=
           st['trace']['last_event_ns'], 'trace: duration and first/last event times')
    mm = st['mms'][0]
    tap.eq(proc['mms'], [mm['mm']], 'memops: one mm after its execve')
    check_sizes(s, db, pid, mm, 1, evs[-1]['seq'])
    con = sqlite3.connect('file:%s?mode=ro' % db, uri=True)
    ranges = {}
    for lo, hi in con.execute('SELECT start, end FROM vma WHERE mm = ? AND (died_seq IS NULL'
                              ' OR died_seq > born_seq)', (mm['mm'],)):
        ranges[(lo, hi)] = hi - lo
    want = sorted(ranges.values(), reverse=True)[:5]
    tap.eq([x['size'] for x in mm['largest']], want, 'largest mappings: the 5 largest ranges')

    # The text report: sections and aligned rows that say the same.
    r = s.cmd('stats', '-d', db)
    t = r.text
    tap.ok(r.rc == 0 and re.search(r'^process %d  ' % pid, t, re.M) and
           re.search(r'^mm %d  made by execve at event 1 \(process %d\)' % (mm['mm'], pid), t,
                     re.M), 'text: a process section and an mm section', r)
    tap.ok(re.search(r'^    mmap +%d$' % proc['syscalls']['mmap'], t, re.M) and
           re.search(r'^  events +%d \(seq 1\.\.%d\)$' % (len(evs), evs[-1]['seq']), t, re.M),
           'text: syscall counts and the event total', t[:1500])
    tap.ok(re.search(r'^    EINVAL +1  munmap$', t, re.M), 'text: a failure row', t[:2000])
    kb = '{:,} kB'.format(mm['peak_vsz'] >> 10)
    tap.ok(re.search(r'^  virtual size +peak %s after event %d, final ' %
                     (re.escape(kb), mm['peak_vsz_seq']), t, re.M),
           'text: the peak virtual size line', t)

    # threads: 5 threads, busiest first.
    tdb = s.path('threads.db')
    r = s.run([vtlib.prog('threads'), '7'], db=tdb)
    tevs = s.events(tdb)
    st, r = stats(s, tdb, '--pid', tevs[0]['pid'])
    tap.ok(st and len(st['processes']) == 1, 'threads: --pid gives one process', r)
    check_counts('threads', st['processes'][0], tevs)
    tap.eq(len(st['processes'][0]['threads']), 5, 'threads: 5 threads listed')

    # forks: every process; mm_users peaks as in the DB.
    fdb = s.path('forks.db')
    r = s.run([vtlib.prog('forks')], db=fdb)
    fevs = s.events(fdb)
    st, r = stats(s, fdb)
    tap.eq(len(st['processes']), 6, 'forks: 6 processes')
    for p in st['processes']:
        check_counts('forks %s' % p['process'], p, fevs)
    con = sqlite3.connect('file:%s?mode=ro' % fdb, uri=True)
    want = {m: (u, q) for m, u, q in con.execute(
        'SELECT mm, users, min(seq) FROM mm_users u WHERE users = (SELECT max(users) FROM'
        ' mm_users WHERE mm = u.mm) GROUP BY mm')}
    tap.eq({m['mm']: (m['peak_users'], m['peak_users_seq']) for m in st['mms']}, want,
           'forks: mm_users peaks and their events equal the mm_users table')
    tap.ok(want.get(1, (0,))[0] >= 2, 'forks: mm 1 had 2 users (vfork)')
    par = fevs[0]['pid']
    st2, r = stats(s, fdb, '--pid', par)
    tap.ok(st2 and [p['pid'] for p in st2['processes']] == [par] and
           [m['mm'] for m in st2['mms']] == st2['processes'][0]['mms'],
           '--pid: that process and its mms only', r)

    # Errors: one line, exit 1.
    fake = s.path('fake.db')
    with open(fake, 'w') as f:
        f.write('x' * 4096)
    for args, want in ((['-d', db, '--pid', 1], r"^vmatrace: stats: no process 1 in "),
                       (['-d', db, '--pid', '%d@2' % pid], r'^vmatrace: stats: no process '),
                       (['-d', s.path('none.db')], r'no such file'),
                       (['-d', fake], r'not a vmatrace DB'),
                       (['-d', db, '--pid', 'x'], r"invalid --pid 'x'")):
        r = s.cmd('stats', *args)
        tap.ok(r.rc == 1 and len(r.errtext.splitlines()) == 1 and re.search(want, r.errtext)
               and not r.out, 'error: %s' % ' '.join(map(str, args)), r)

tap.done()
