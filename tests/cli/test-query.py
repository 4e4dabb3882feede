#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-query: the query commands on recorded traces of our test programs, exact outputs.

- diff: memops splits its anonymous area with mprotect and merges it back; the diff across
  each call is exactly the lines the documented rule (VMAs matched by start) gives from the
  two maps, and what memops' own addresses say; the totals line counts VMAs and kB; the
  window between memops' markers leaves the map as it was (an empty diff); an execve in
  between is said; --json says the same; every error is one line and exit 1.
- maps -x: pmap -x's columns, each VMA's Kbytes its size and the total their sum; -A keeps
  exactly the VMAs that overlap the range; --json is the text, field for field.
- sql: a known query in the three outputs; writes (DELETE, INSERT, PRAGMA x = y, VACUUM
  INTO, ATTACH, CREATE TEMP) and two statements refused with one line, the DB file byte for
  byte unchanged; every example query of the README runs.
- ps, events, maps, history, diff with PID@N on a trace where a pid is reused (python3
  sets ns_last_pid: needs root, else those points skip); ps and history --json.
"""
import hashlib
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vtlib  # noqa: E402

tap = vtlib.Tap()
PG = os.sysconf('SC_PAGESIZE')
README = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'README.md')


def parse_maps(text):
    """maps lines as dicts (start, end, perms, offset, dev, ino, name, line)."""
    res = []
    for line in text.splitlines():
        p = line.split(None, 5)
        lo, hi = p[0].split('-')
        res.append({'start': int(lo, 16), 'end': int(hi, 16), 'perms': p[1],
                    'offset': int(p[2], 16), 'dev': p[3], 'ino': int(p[4]),
                    'name': p[5].strip() if len(p) > 5 else '', 'line': line})
    return res


def want_diff(a, b):
    """The documented rule, independently: merge by start; (mark, line) pairs."""
    out = []
    ka = {v['start']: v for v in a}
    kb = {v['start']: v for v in b}
    for start in sorted(set(ka) | set(kb)):
        x, y = ka.get(start), kb.get(start)
        if x and not y:
            out.append('-  ' + x['line'])
        elif y and not x:
            out.append('+  ' + y['line'])
        elif any(x[k] != y[k] for k in ('end', 'perms', 'offset', 'dev', 'ino', 'name')):
            out += ['~- ' + x['line'], '~+ ' + y['line']]
    return out


def kb(vmas):
    return sum(v['end'] - v['start'] for v in vmas) // 1024


class Q:
    """Commands on one DB, with their results checked for exit 0."""

    def __init__(self, s, db):
        self.s, self.db = s, db

    def cmd(self, *args):
        return self.s.cmd(args[0], '-d', self.db, *args[1:], timeout=60)

    def ok(self, *args):
        r = self.cmd(*args)
        if r.rc != 0:
            raise RuntimeError('%s failed\n%s' % (args[0], r))
        return r.text

    def maps(self, pid, at):
        return parse_maps(self.ok('maps', '--pid', pid, '--at', at))


def one_line_error(r, desc, pattern):
    """Exit 1, nothing on stdout, one line on stderr matching @pattern."""
    lines = r.errtext.splitlines()
    tap.ok(r.rc == 1 and not r.out and len(lines) == 1 and re.search(pattern, lines[0]),
           desc, r)


def check_diff(q, pid, evs, text):
    ev_out = vtlib.parse_kv(text, 'EV')
    a = ev_out[0]['_args'][1] if ev_out else None
    win = vtlib.window(evs, pid)
    marks = [e['seq'] for e in evs if vtlib.is_marker(e) and e['pid'] == pid]
    prot = [e['seq'] for e in win or [] if e['syscall'] == 'mprotect']
    if not tap.ok(a and len(prot) == 2 and len(marks) >= 2, 'memops: window and mprotects',
                  text):
        return
    a = int(a)
    before = q.maps(pid, prot[0] - 1)
    split = q.maps(pid, prot[0])
    merged = q.maps(pid, prot[1])
    # What memops says: the VMA around a+pg split in three at a+pg and a+2pg.
    old = [v for v in before if v['start'] <= a + PG < v['end']]
    if not tap.ok(len(old) == 1, 'the VMA that memops splits is in maps --at'):
        return
    o = old[0]
    mid = [v for v in split if v['start'] == a + PG]
    top = [v for v in split if v['start'] == a + 2 * PG]
    low = [v for v in split if v['start'] == o['start']]
    exp = ['~- ' + o['line'], '~+ ' + low[0]['line'] if low else '?',
           '+  ' + mid[0]['line'] if mid else '?', '+  ' + top[0]['line'] if top else '?']
    tap.ok(mid and mid[0]['perms'] == 'r--p' and mid[0]['end'] == a + 2 * PG and top and
           top[0]['end'] == o['end'] and low and low[0]['end'] == a + PG,
           'the split is where memops made it', split)
    head = ['--- %d after event %d: mm %d, %d VMAs, %d kB' %
            (pid, prot[0] - 1, win[0]['mm'], len(before), kb(before)),
            '+++ %d after event %d: mm %d, %d VMAs, %d kB' %
            (pid, prot[0], win[0]['mm'], len(split), kb(split))]
    tail = ['total: %d -> %d VMAs (+2), %d -> %d kB (+0 kB); 2 added, 0 removed, 1 changed'
            % (len(before), len(split), kb(before), kb(split))]
    got = q.ok('diff', '--pid', pid, prot[0] - 1, prot[0]).splitlines()
    tap.eq(got, head + exp + tail, 'diff across mprotect: the split, exactly')
    tap.eq(got[2:-1], want_diff(before, split), 'diff across mprotect = the rule on maps --at')

    got = q.ok('diff', '--pid', pid, prot[0], prot[1]).splitlines()
    tap.eq(got[2:-1], ['~- ' + low[0]['line'], '~+ ' + o['line'], '-  ' + mid[0]['line'],
                       '-  ' + top[0]['line']], 'diff across the second mprotect: the merge')
    tap.eq(got[-1], 'total: %d -> %d VMAs (-2), %d -> %d kB (+0 kB); 0 added, 2 removed, '
           '1 changed' % (len(split), len(merged), kb(split), kb(merged)), 'its totals')

    # Every step of the window against the rule, and the totals line.
    bad = []
    for e in win[:8]:
        x, y = q.maps(pid, e['seq'] - 1), q.maps(pid, e['seq'])
        got = q.ok('diff', '--pid', pid, e['seq'] - 1, e['seq']).splitlines()
        if got[2:-1] != want_diff(x, y) or not got[-1].startswith(
                'total: %d -> %d VMAs' % (len(x), len(y))):
            bad.append((e['seq'], e['syscall'], got, want_diff(x, y)))
    tap.ok(not bad, 'diff of each of the first 8 calls = the rule on maps --at', *bad[:2])

    x = q.maps(pid, marks[0])
    got = q.ok('diff', '--pid', pid, marks[0], marks[1]).splitlines()
    tap.eq(got[2:], ['total: %d -> %d VMAs (+0), %d -> %d kB (+0 kB); 0 added, 0 removed, '
                     '0 changed' % (len(x), len(x), kb(x), kb(x))],
           'memops undoes what it did: empty diff between its markers')

    # --json says the same as the text.
    j = json.loads(q.ok('diff', '--pid', pid, '--json', prot[0] - 1, prot[0]))
    tap.ok(j['from'] == {'seq': prot[0] - 1, 'mm': win[0]['mm'], 'vmas': len(before),
                         'bytes': kb(before) * 1024} and
           [v['start'] for v in j['added']] == [a + PG, a + 2 * PG] and j['removed'] == [] and
           len(j['changed']) == 1 and j['changed'][0]['what'] == ['size'] and
           j['changed'][0]['before']['end'] == o['end'] and j['mm_changed'] is False,
           'diff --json: the same split', j)
    j = json.loads(q.ok('diff', '--pid', pid, '--json', prot[0], prot[1]))
    tap.ok([v['start'] for v in j['removed']] == [a + PG, a + 2 * PG] and
           j['changed'][0]['after']['end'] == o['end'], 'diff --json: the merge', j)

    # Errors: one line, exit 1.
    last = evs[-1]['seq']
    one_line_error(q.cmd('diff', '--pid', pid, 1, last + 5), 'diff: SEQ past the end',
                   r'diff: event %d is past the end of the trace \(last: %d\)' % (last + 5, last))
    one_line_error(q.cmd('diff', '--pid', 4000000, 1, 2), 'diff: unknown process',
                   r'diff: no process 4000000 in')
    one_line_error(q.cmd('diff', '--pid', pid, 'x1', 2), 'diff: malformed SEQ',
                   r"invalid SEQ1 'x1'")
    one_line_error(q.cmd('diff', '--pid', pid, 1, 0), 'diff: SEQ 0', r"invalid SEQ2 '0'")
    one_line_error(q.cmd('diff', '--pid', pid, 1), 'diff: one SEQ', r'expected two event')
    one_line_error(q.cmd('diff', 1, 2), 'diff: no --pid', r'--pid is required')


def check_exec_diff(s):
    """A process that exec'd between the two events: said, and diffed all the same."""
    db = s.path('sh.db')
    r = s.run(['/bin/sh', '-c', '/bin/true; exec %s' % vtlib.prog('memops')], db)
    if not tap.ok(r.rc == 0, 'sh -c "true; exec memops" traced', r):
        return
    q = Q(s, db)
    evs = s.events(db)
    execs = [e for e in evs if e['syscall'] == 'execve' and e['ret'] == 0]
    sh = execs[0]['pid']
    child = [e for e in execs if e['pid'] != sh]
    mine = [e for e in execs if e['pid'] == sh]
    if not tap.ok(len(mine) == 2 and child, 'sh exec\'d twice and forked true', execs):
        return
    a, b = mine[0]['seq'], mine[1]['seq']
    ma, mb = q.maps(sh, a), q.maps(sh, b)
    got = q.ok('diff', '--pid', sh, a, b).splitlines()
    mma = json.loads(q.ok('diff', '--pid', sh, '--json', a, b))
    tap.ok(got[2].startswith('# process %d changed address space (execve) between the two '
                             'events: comparing mm %d with mm %d' %
                             (sh, mma['from']['mm'], mma['to']['mm'])) and
           mma['mm_changed'] is True and mma['from']['mm'] != mma['to']['mm'],
           'diff across execve says so', got[:3])
    tap.eq(got[3:-1], want_diff(ma, mb), 'and diffs the two address spaces by the rule')
    # SEQ outside the life of the child (true): one line.
    c = child[0]['pid']
    one_line_error(q.cmd('diff', '--pid', c, 1, child[0]['seq']), 'diff: SEQ before the '
                   'process existed', r'diff: process %d had no recorded map after event 1 '
                   r'\(it lived from event \d+ to event \d+\)' % c)


def check_maps(q, pid, at):
    text = q.ok('maps', '--pid', pid, '--at', at)
    vm = parse_maps(text)
    x = q.ok('maps', '--pid', pid, '--at', at, '-x').splitlines()
    tap.eq(x[0], 'Address           Kbytes Mode  Mapping', 'maps -x: pmap -x header')
    rows = []
    for v in vm:
        name = (os.path.basename(v['name']) if v['name'].startswith('/') else
                '  [ stack ]' if v['name'] == '[stack]' else '  [ anon ]')
        mode = v['perms'][:3] + ('s' if v['perms'][3] == 's' else '-') + '-'
        rows.append('%016x %7d %s %s' % (v['start'], (v['end'] - v['start']) // 1024, mode,
                                         name))
    tap.eq(x[1:-2], rows, 'maps -x: one pmap line per VMA (Kbytes = its size)')
    tap.eq(x[-2:], ['---------------- -------', 'total kB %15d' % kb(vm)],
           'maps -x: total kB = the sum of the sizes (%d kB)' % kb(vm))

    js = [json.loads(l) for l in q.ok('maps', '--pid', pid, '--at', at, '--json').splitlines()]
    tap.eq([(j['start'], j['end'], j['perms'], j['offset'], j['dev'], j['ino'], j['name'])
            for j in js],
           [(v['start'], v['end'], v['perms'], v['offset'], v['dev'], v['ino'], v['name'])
            for v in vm], 'maps --json: the text, field for field')

    # -A: exactly the VMAs that overlap [LOW, HIGH).
    mid = vm[len(vm) // 2]
    cases = [('0x%x,0x%x' % (mid['start'] + 1, mid['end'] + 1), mid['start'] + 1, mid['end'] + 1),
             ('0x%x,' % mid['start'], mid['start'], 1 << 64),
             (',%d' % mid['end'], 0, mid['end']),
             ('0x%x' % (mid['end'] - 1), mid['end'] - 1, mid['end']),
             ('%d,%d' % (mid['end'], mid['end'] + 1), mid['end'], mid['end'] + 1)]
    for arg, lo, hi in cases:
        got = q.ok('maps', '--pid', pid, '--at', at, '-A', arg).splitlines()
        tap.eq(got, [v['line'] for v in vm if v['start'] < hi and v['end'] > lo],
               'maps -A %s: the VMAs that overlap it' % arg)
    got = q.ok('maps', '--pid', pid, '--at', at, '-x', '-A', '0x%x,' % mid['start'])
    sel = [v for v in vm if v['end'] > mid['start']]
    tap.eq(got.splitlines()[-1], 'total kB %15d' % kb(sel), 'maps -x -A: total of the range')
    for arg, pat in (('zz,', r"invalid address 'zz'"), ('0x10,0x5', 'LOW must be below'),
                     ('1,2,3', r"invalid address '2,3'"), ('-5,', r"invalid address '-5'")):
        one_line_error(q.cmd('maps', '--pid', pid, '-A', arg), 'maps -A %s: refused' % arg, pat)


def check_sql(s, q, pid, evs):
    lo, hi = evs[14]['seq'], evs[20]['seq']
    sql = ('SELECT seq, syscall, errno FROM events_v WHERE pid = %d AND seq BETWEEN %d AND %d'
           ' ORDER BY seq' % (pid, lo, hi))
    rows = [(e['seq'], e['syscall'], str(-e['ret']) if e['ret'] < 0 else '')
            for e in evs if lo <= e['seq'] <= hi]
    w = [max(len(str(r[i])) for r in rows + [('seq', 'syscall', 'errno')]) for i in range(3)]
    want = ['%-*s  %-*s  %s' % (w[0], 'seq', w[1], 'syscall', 'errno'),
            '%s  %s  %s' % ('-' * w[0], '-' * w[1], '-' * w[2])]
    want += [('%-*s  %-*s  %s' % (w[0], r[0], w[1], r[1], r[2])) for r in rows]
    tap.eq(q.ok('sql', sql).splitlines(), want, 'sql: the rows in aligned columns')
    tap.eq(q.ok('sql', '--list', sql).splitlines(),
           ['seq|syscall|errno'] + ['%s|%s|%s' % r for r in rows], 'sql --list: | separated')
    js = [json.loads(l) for l in q.ok('sql', '--json', sql).splitlines()]
    tap.eq(js, [{'seq': r[0], 'syscall': r[1], 'errno': int(r[2]) if r[2] else None}
                for r in rows], 'sql --json: one object per row, NULL as null')
    tap.eq(q.ok('sql', 'SELECT 1 WHERE 0'), '', 'sql: no rows, no output')

    with open(q.db, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    target = s.path('copy.db')
    for stmt in ('DELETE FROM event', 'INSERT INTO syscall VALUES (999, \'x\')',
                 'PRAGMA writable_schema=1', 'PRAGMA query_only = 0', 'PRAGMA user_version = 7',
                 'UPDATE process SET pid = 1', 'DROP TABLE event', "VACUUM INTO '%s'" % target,
                 "ATTACH '%s' AS x" % target, 'CREATE TEMP TABLE t (x)',
                 'SELECT 1; DELETE FROM event'):
        one_line_error(q.cmd('sql', stmt), 'sql refuses %s' % stmt, r'^vmatrace: sql: refused: ')
    with open(q.db, 'rb') as f:
        tap.eq(hashlib.sha256(f.read()).hexdigest(), digest, 'the DB file is unchanged')
    tap.ok(not os.path.exists(target), 'VACUUM INTO and ATTACH made no file')
    tap.eq(q.ok('sql', '--list', 'SELECT count(*) FROM event').splitlines()[-1], '%d' % len(evs),
           'the events are all there')
    one_line_error(q.cmd('sql', 'SELECT nope FROM event'), 'sql: an SQL error is one line',
                   r'^vmatrace: sql: no such column: nope$')
    one_line_error(q.cmd('sql', 'SELEC 1'), 'sql: a syntax error is one line',
                   r'^vmatrace: sql: near "SELEC": syntax error$')
    one_line_error(q.cmd('sql', ' ; '), 'sql: no statement', r'no SQL statement')
    tap.eq(q.ok('sql', '--list', 'PRAGMA table_info(file)').splitlines()[1:3],
           ['0|id|INTEGER|0||1', '1|dev|INTEGER|1||0'], 'sql: PRAGMA table_info reads')


def readme_queries():
    """The SQL example queries of the README: each statement of its ```sql blocks."""
    with open(README) as f:
        text = f.read()
    res = []
    for block in re.findall(r'```sql\n(.*?)```', text, re.S):
        cur = []
        for line in block.splitlines():
            if line.startswith('--') and not cur:
                continue
            cur.append(line)
            if line.rstrip().endswith(';'):
                res.append('\n'.join(cur))
                cur = []
    return res


def check_readme(q):
    qs = readme_queries()
    tap.ok(len(qs) >= 5, 'the README has at least five example queries (%d)' % len(qs))
    for sql in qs:
        r = q.cmd('sql', sql)
        tap.ok(r.rc == 0 and not r.err, 'README query runs: %s' %
               sql.splitlines()[0][:60], r)


REUSE = r'''
import os, sys
pid = os.fork()
if pid == 0:
    os._exit(3)
os.waitpid(pid, 0)
for i in range(200):
    with open('/proc/sys/kernel/ns_last_pid', 'w') as f:
        f.write(str(pid - 1))
    p2 = os.fork()
    if p2 == 0:
        os._exit(4)
    os.waitpid(p2, 0)
    if p2 == pid:
        break
print('REUSE %d %d' % (pid, p2))
'''


def check_reuse(s):
    db = s.path('reuse.db')
    if not os.access('/proc/sys/kernel/ns_last_pid', os.W_OK):
        tap.skip('PID@N on a reused pid', 'cannot write /proc/sys/kernel/ns_last_pid')
        return
    r = s.run(['python3', '-c', REUSE], db)
    m = re.search(r'REUSE (\d+) (\d+)', r.text)
    if not tap.ok(r.rc == 0 and m, 'python3 forks twice', r):
        return
    if m.group(1) != m.group(2):
        tap.skip('PID@N on a reused pid', 'the pid was taken by another process meanwhile')
        return
    pid = int(m.group(1))
    q = Q(s, db)
    ps = q.ok('ps').splitlines()
    mine = [l.split() for l in ps if l.split() and l.split()[0].startswith('%d@' % pid)]
    tap.eq([(l[0], l[4], l[5]) for l in mine], [('%d@1' % pid, 'exit', '3'),
                                                 ('%d@2' % pid, 'exit', '4')],
           'ps: the two processes of pid %d as %d@1 and %d@2' % (pid, pid, pid), '\n'.join(ps))
    js = [json.loads(l) for l in q.ok('ps', '--json').splitlines()]
    tap.eq([(j['ref'], j['status'] >> 8) for j in js if j['pid'] == pid],
           [('%d@1' % pid, 3), ('%d@2' % pid, 4)], 'ps --json: their refs and statuses')
    root = js[0]
    tap.ok(root['ref'] == str(root['pid']) and root['ppid'] == 0 and root['exe'] and
           isinstance(root['argv'], list) and root['mms'] and
           root['mm_users'][0]['changes'][0]['users'] == 1,
           'ps --json: the root process, with its mms and mm_users', root)
    tree = ps[1:ps.index('')] if '' in ps else ps[1:]
    tap.eq(sorted((l.split()[0], int(l.split()[1]), int(l.split()[2])) for l in tree),
           sorted((j['ref'], j['ppid'], j['start_seq']) for j in js),
           'ps text and --json: the same processes (ref, ppid, start)')
    ev1 = s.events(db, '--pid', '%d@1' % pid)
    ev2 = s.events(db, '--pid', '%d@2' % pid)
    tap.ok(ev1 and ev2 and ev1[-1]['seq'] < ev2[0]['seq'] and
           ev1[-1].get('exit_code') == 3 and ev2[-1].get('exit_code') == 4,
           'events --pid PID@1 and PID@2: each process\'s own events', ev1[-1:], ev2[-1:])
    at1, at2 = ev1[0]['seq'], ev2[0]['seq']
    m1 = q.ok('maps', '--pid', '%d@1' % pid, '--at', at1)
    m2 = q.ok('maps', '--pid', '%d@2' % pid, '--at', at2)
    tap.ok(m1 and m2, 'maps --pid PID@1 and PID@2')
    d = q.ok('diff', '--pid', '%d@2' % pid, at2, at2).splitlines()
    tap.ok(d[0].startswith('--- %d@2 after event %d' % (pid, at2)), 'diff --pid PID@2', d[:1])
    one_line_error(q.cmd('maps', '--pid', '%d@3' % pid), 'maps: PID@3 does not exist',
                   r'no process %d@3 in .* \(pid %d was used by 2 processes: %d@1..%d@2\)' %
                   (pid, pid, pid, pid))
    one_line_error(q.cmd('diff', '--pid', '%d@1' % pid, at2, at2), 'diff: SEQ outside PID@1',
                   r'process %d@1 had no recorded map after event %d' % (pid, at2))
    for cmd in (('events',), ('history', '0x1000'), ('diff', '1', '2'), ('maps',)):
        one_line_error(q.cmd(cmd[0], '--pid', '%d@0' % pid, *cmd[1:]),
                       '%s --pid PID@0: refused' % cmd[0], r'expected PID or PID@N')


def check_history(q, pid, evs, text):
    ev_out = vtlib.parse_kv(text, 'EV')
    a = int(ev_out[0]['_args'][1]) + PG
    t = q.ok('history', '--pid', pid, '0x%x' % a).splitlines()
    js = [json.loads(l) for l in q.ok('history', '--pid', pid, '--json', '0x%x' % a)
          .splitlines()]
    heads = [int(l.split()[0]) for l in t if not l.startswith(' ') and l[0].isdigit()]
    tap.eq([j['seq'] for j in js], heads, 'history --json: the events of the text')
    by = {}
    cur = None
    for l in t:
        if l[0].isdigit():
            cur = by.setdefault(int(l.split()[0]), {'-': 0, '+': 0})
        elif cur is not None and l.strip()[:1] in '-+':
            cur[l.strip()[0]] += 1
    tap.eq([(j['seq'], len(j['ended']), len(j['began'])) for j in js],
           [(k, by[k]['-'], by[k]['+']) for k in heads], 'history --json: ended and began')
    seqs = {e['seq']: e for e in evs}
    tap.ok(all(j['event'] == seqs.get(j['seq']) for j in js),
           'history --json: each event as events --json has it')
    prot = [j for j in js if j['event']['syscall'] == 'mprotect']
    tap.ok(len(prot) == 2 and any(v['start'] == a and v['perms'] == 'r--p'
                                  for v in prot[0]['began']), 'history: memops\' mprotects', prot)


def check_db_errors(s, q):
    bad = s.path('not-a-db.txt')
    with open(bad, 'w') as f:
        f.write('hello\n')
    for cmd in (('sql', 'SELECT 1'), ('diff', '--pid', '1', '1', '2'), ('maps', '--pid', '1'),
                ('ps',)):
        one_line_error(s.cmd(cmd[0], '-d', s.path('missing.db'), *cmd[1:]),
                       '%s: missing DB' % cmd[0], r"cannot open '.*missing.db': no such file")
        one_line_error(s.cmd(cmd[0], '-d', bad, *cmd[1:]), '%s: foreign file' % cmd[0],
                       r"cannot open '.*not-a-db.txt': not a vmatrace DB")


def check_arg_errors(q, pid):
    """Malformed addresses, seqs and pids: one line, exit 1, for every query command."""
    for args, pat in ((('history', 'zz'), r"invalid address 'zz'"),
                      (('history', '0x'), r"invalid address '0x'"),
                      (('history', '--pid', 'abc', '0x1000'), r"invalid --pid 'abc'"),
                      (('maps', '--pid', pid, '--at', 'abc'), r"invalid --at 'abc'"),
                      (('maps', '--pid', pid, '--at', '-1'), r"invalid --at '-1'"),
                      (('maps', '--pid', '%d@x' % pid), r'expected PID or PID@N'),
                      (('events', '--pid', '%d@2' % pid),
                       r'no process %d@2 in .*used by 1 process' % pid),
                      (('history', '--pid', '4000000', '0x1000'), r'no process 4000000 in'),
                      (('diff', '--pid', pid, '--json', '1', 'x'), r"invalid SEQ2 'x'"),
                      (('sql',), r'expected one SQL statement')):
        one_line_error(q.cmd(*args), '%s: %s refused' % (args[0], ' '.join(map(str, args[1:]))),
                       pat)


def main():
    with vtlib.Session(tap) as s:
        db = s.path('memops.db')
        r = s.run([vtlib.prog('memops')], db)
        if not tap.ok(r.rc == 0, 'memops traced', r):
            return
        evs = s.events(db)
        pid = evs[0]['pid']
        q = Q(s, db)
        check_diff(q, pid, evs, r.text)
        marks = [e['seq'] for e in evs if vtlib.is_marker(e)]
        check_maps(q, pid, marks[0] + 2)
        check_history(q, pid, evs, r.text)
        check_sql(s, q, pid, evs)
        check_exec_diff(s)
        check_reuse(s)
        check_readme(q)
        check_arg_errors(q, pid)
        check_db_errors(s, q)


main()
tap.done()
