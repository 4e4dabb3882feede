#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-replay-cmd: `vmatrace replay`, plain, JSON and on a terminal (a pty).

Plain: the map rebuilt from the header and the -/+ lines of each step equals `vmatrace maps
--at SEQ` after every step (memops, and every process of forks, across fork, vfork and
execve); the steps are exactly the process's events (plus the parent's fork event for a
forked child); memops' first mprotect shows the known split. JSON carries the same steps.
The terminal view is driven through a pty: keys move, the changed lines are highlighted,
q exits 0 and SIGTERM kills, both with the terminal restored. Errors are one line, exit 1.
"""
import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vtlib  # noqa: E402

tap = vtlib.Tap()
PG = os.sysconf('SC_PAGESIZE')


def parse_plain(text):
    """(header map lines, [(seq, event line, [('-'|'+', maps line)], mm switch)])."""
    lines = text.split('\n')
    assert lines[-1] == ''
    init, steps = [], []
    for l in lines[1:-1]:
        if l.startswith('    '):
            init.append(l[4:])
        elif l.startswith('  - ') or l.startswith('  + '):
            steps[-1][2].append((l[2], l[4:]))
        elif l.startswith('  mm '):
            steps[-1][3] = l
        elif l == '  (no change)':
            steps[-1][4] = True
        else:
            seq, ev = l.split(' ', 1)
            steps.append([int(seq), ev, [], None, False])
    return init, steps


def check_against_maps(s, db, pid, text, name):
    """Apply the steps; after each, the map must equal `maps --at SEQ`. Returns #steps."""
    init, steps = parse_plain(text)
    cur = set(init)
    bad = []
    for seq, ev, changes, sw, nochange in steps:
        for sign, line in changes:
            if sign == '-':
                if line not in cur:
                    bad.append('%d: removes a line not in the map: %s' % (seq, line))
                cur.discard(line)
            else:
                cur.add(line)
        if nochange == bool(changes):
            bad.append('%d: (no change) iff no -/+ lines' % seq)
        r = s.cmd('maps', '-d', db, '--pid', pid, '--at', seq)
        if r.rc != 0:
            # After the process's end maps has no map; the replay keeps the mm's (a vfork
            # child's parent still has it), or shows it removed when it died with it.
            if seq != steps[-1][0]:
                bad.append('%d: maps --at fails before the last step: %s' % (seq, r))
            continue
        want = set(r.text.splitlines())
        if cur != want:
            bad.append('%d: replayed %d lines, maps --at says %d; only replay: %s; only maps: %s'
                       % (seq, len(cur), len(want), sorted(cur - want)[:3],
                          sorted(want - cur)[:3]))
    tap.ok(not bad and steps, '%s: the map after every step equals maps --at (%d steps)'
           % (name, len(steps)), *bad[:5])
    return steps


def screen_until(fd, want, timeout=10):
    """Read from the pty master until @want (bytes, or a compiled regex) appears."""
    buf = b''
    end = time.time() + timeout
    while time.time() < end:
        if (want.search(buf) if hasattr(want, 'search') else want in buf):
            return buf, True
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            buf += data
    return buf, bool(want.search(buf) if hasattr(want, 'search') else want in buf)


def spawn_tui(s, db, pid, rows=30, cols=140):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
    before = termios.tcgetattr(slave)
    p = subprocess.Popen([s.vmatrace, 'replay', '-d', db, '--pid', str(pid)], stdin=slave,
                         stdout=slave, stderr=slave, env=s.env, start_new_session=True)
    return p, master, slave, before


def covering(s, db, pid, seq, addr):
    """(start, end) of the VMA covering @addr in `maps --at SEQ`."""
    for l in s.cmd('maps', '-d', db, '--pid', pid, '--at', seq).text.splitlines():
        lo, hi = (int(x, 16) for x in l.split()[0].split('-'))
        if lo <= addr < hi:
            return lo, hi
    return None


def expected_split(a, lo, hi):
    """mprotect(a + PG, PG, PROT_READ) in the anonymous rw VMA [lo, hi) (the kernel may have
    merged memops' 4 pages with a neighbour): one VMA out, three in."""
    fmt = '%08x-%08x %s 00000000 00:00 0 '
    return ([('-', fmt % (lo, hi, 'rw-p'))],
            [('+', fmt % (lo, a + PG, 'rw-p')), ('+', fmt % (a + PG, a + 2 * PG, 'r--p')),
             ('+', fmt % (a + 2 * PG, hi, 'rw-p'))])


with vtlib.Session(tap) as s:
    db = s.path('memops.db')
    r = s.run([vtlib.prog('memops')], db=db)
    tap.ok(r.rc == 0, 'memops traced', r)
    evs = s.events(db)
    pid = evs[0]['pid']
    win = vtlib.window(evs, pid)
    mmap1 = win[0]
    mprot = [e for e in win if e['syscall'] == 'mprotect'][0]
    a = mmap1['ret']

    r = s.cmd('replay', '-d', db, '--pid', pid)
    tap.ok(r.rc == 0 and r.err == b'', 'replay exits 0, nothing on stderr', r)
    tap.eq(r.text.split('\n')[0],
           'process %d, events 1..%d, from the map after event 0 (mm 0: 0 VMAs, 0 kB)'
           % (pid, evs[-1]['seq']), 'header line')
    steps = check_against_maps(s, db, pid, r.text, 'memops')
    tap.eq([st[0] for st in steps], [e['seq'] for e in evs],
           'memops: one step per event of the process, in order')
    tap.ok(steps and steps[0][3] == '  mm 0 -> mm 1 (execve: a new address space)',
           'the execve step says the process moved to a new mm', steps[0][:4] if steps else '')
    split = [st for st in steps if st[0] == mprot['seq']]
    lo, hi = covering(s, db, pid, mprot['seq'] - 1, a)
    dels, adds = expected_split(a, lo, hi)
    tap.eq(split[0][2] if split else None, dels + adds,
           'the first mprotect of memops: exactly the known 1 -> 3 split')
    tap.ok(split and split[0][1].startswith('[%d] mprotect(0x%x, %d, PROT_READ) = 0'
                                             % (pid, a + PG, PG)),
           'its event line is decoded as in vmatrace events', split[0][1] if split else '')
    nochg = [st for st in steps if st[1].startswith('[%d] madvise(NULL, 0, MADV_NORMAL)' % pid)]
    tap.ok(nochg and all(st[4] for st in nochg), 'the marker madvise steps say (no change)')

    # --from/--to: the header map is maps --at FROM-1, and only steps in range.
    f, t = mprot['seq'], mprot['seq'] + 3
    r = s.cmd('replay', '-d', db, '--pid', pid, '--from', f, '--to', t)
    init, rs = parse_plain(r.text)
    want = s.cmd('maps', '-d', db, '--pid', pid, '--at', f - 1).text.splitlines()
    tap.ok(r.rc == 0 and init == want, '--from: the starting map is maps --at FROM-1', r)
    tap.eq([x[0] for x in rs], list(range(f, t + 1)), '--from/--to: steps FROM..TO')
    check_against_maps(s, db, pid, r.text, 'memops --from/--to')

    # JSON: the same steps, removed/added as VMA objects.
    r = s.cmd('replay', '-d', db, '--pid', pid, '--json')
    objs = [json.loads(l) for l in r.text.splitlines()]
    tap.ok(r.rc == 0 and objs[0].get('map') == [] and objs[0]['pid'] == pid,
           '--json: the first object is the starting map', r.text[:300])
    tap.eq([o['seq'] for o in objs[1:]], [e['seq'] for e in evs], '--json: one object per step')
    js = [o for o in objs[1:] if o['seq'] == mprot['seq']][0]
    tap.eq(([(v['start'], v['end'], v['perms']) for v in js['removed']],
            [(v['start'], v['end'], v['perms']) for v in js['added']]),
           ([(lo, hi, 'rw-p')], [(lo, a + PG, 'rw-p'), (a + PG, a + 2 * PG, 'r--p'),
                                  (a + 2 * PG, hi, 'rw-p')]),
           '--json: the mprotect split')
    tap.eq(js['event'], mprot, '--json: the event object equals events --json')
    tap.ok(objs[1].get('old_mm') == 0 and objs[1]['mm'] == 1, '--json: the execve has old_mm')

    # Errors: one line on stderr, exit 1.
    fake = s.path('fake.db')
    with open(fake, 'w') as f:
        f.write('not a database\n' * 100)
    last = evs[-1]['seq']
    for args, want in (
            (['--pid', 1], r"^vmatrace: replay: no process 1 in '.*' \(see 'vmatrace ps'\)$"),
            (['--pid', '%d@3' % pid], r'^vmatrace: replay: no process %d@3 in ' % pid),
            (['--pid', pid, '--to', last + 5],
             r'^vmatrace: replay: event %d is past the end of the trace \(last: %d\)$'
             % (last + 5, last)),
            (['--pid', pid, '--from', 9, '--to', 8],
             r'^vmatrace: replay: --from 9 is after --to 8$'),
            (['--pid', pid, '-d', s.path('none.db')], r'no such file'),
            (['--pid', pid, '-d', fake], r'not a vmatrace DB')):
        r = s.cmd('replay', '-d', db, *args)
        tap.ok(r.rc == 1 and len(r.errtext.splitlines()) == 1 and re.search(want, r.errtext)
               and not r.out, 'error: %s' % ' '.join(map(str, args)), r)

    # forks: every process, across fork, vfork (shared map) and execve.
    fdb = s.path('forks.db')
    r = s.run([vtlib.prog('forks')], db=fdb)
    fevs = s.events(fdb)
    kids = {}
    for t in ('FORK', 'VFORK', 'VFORK2', 'SPAWN', 'REEXEC'):
        for d in vtlib.parse_kv(r.text, t):
            kids[t] = d['pid']
    for tag, kpid in sorted(kids.items()):
        rr = s.cmd('replay', '-d', fdb, '--pid', kpid)
        st = check_against_maps(s, fdb, kpid, rr.text, 'forks %s child %d' % (tag, kpid))
        mine = [e['seq'] for e in fevs if e['pid'] == kpid]
        tap.ok(set(mine) <= {x[0] for x in st},
               'forks %s: every event of the child is a step' % tag)
    fk = kids['FORK']
    st = parse_plain(s.cmd('replay', '-d', fdb, '--pid', fk).text)[1]
    clone = [e for e in fevs if e['pid'] != fk and e['seq'] == st[0][0]]
    tap.ok(clone and clone[0]['syscall'] in ('clone', 'fork', 'clone3') and
           all(c[0] == '+' for c in st[0][2]) and st[0][2],
           "forks: a forked child's first step is its parent's fork, adding the copied map")
    vk = kids['VFORK']
    st = parse_plain(s.cmd('replay', '-d', fdb, '--pid', vk).text)[1]
    ex = [x for x in st if x[3]]
    tap.ok(len(ex) == 1 and 'execve' in ex[0][1] and re.match(r'  mm \d+ -> mm \d+ ', ex[0][3])
           and ex[0][2] and ex[0][2][0][0] == '-' and ex[0][2][-1][0] == '+',
           'forks: the vfork child that execs moves mm, old map out, new map in',
           ex[0][:4] if ex else st[:3])

    # The terminal view, through a pty.
    p, master, slave, before = spawn_tui(s, db, pid)
    scr, ok = screen_until(master, b'execve(')
    tap.ok(ok and b'\033[?1049h' in scr, 'tty: the first step (execve) is drawn on the '
           'alternate screen', scr[-500:])
    os.write(master, b'g%d\r' % mprot['seq'])
    want_add = ('\033[1;32m+ ' + adds[1][1]).encode()
    want_del = ('\033[9;31m- ' + dels[0][1]).encode()
    scr, ok = screen_until(master, want_add)
    tap.ok(ok and want_del in scr and b'mprotect(0x%x' % (a + PG) in scr,
           'tty: g SEQ jumps to the mprotect; added lines green, removed struck red',
           scr[-1500:])
    os.write(master, b'n')
    scr, ok = screen_until(master, b'\033[1;32m+ ' + ('%08x-%08x rw-p' % (lo, hi)).encode())
    tap.ok(ok, 'tty: n steps to the merge back, the merged VMA highlighted', scr[-800:])
    os.write(master, b'\x1b[D')
    scr, ok = screen_until(master, want_add)
    tap.ok(ok, 'tty: Left steps back (reversing the merge)', scr[-800:])
    m = [e for e in win if e['syscall'] == 'mremap'][0]
    os.write(master, b'/0x%x\r' % (m['ret'] + PG))
    scr, ok = screen_until(master, b'\033[7;1m> ' + ('%08x-' % m['ret']).encode())
    tap.ok(ok and b'mremap(' in scr, 'tty: / ADDR jumps to the mremap that mapped it, '
           'the VMA highlighted', scr[-800:])
    os.write(master, b'?')
    scr, ok = screen_until(master, b'vmatrace replay: keys')
    tap.ok(ok, 'tty: ? shows the keys')
    os.write(master, b' ')
    os.write(master, b'q')
    try:
        rc = p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = None
    scr, _ = screen_until(master, b'\033[?1049l', timeout=2)
    tap.ok(rc == 0, 'tty: q exits 0', rc)
    tap.eq(termios.tcgetattr(slave), before, 'tty: the terminal settings are restored after q')
    os.close(master)
    os.close(slave)

    # SIGTERM: restored, then killed by the signal.
    p, master, slave, before = spawn_tui(s, db, pid, rows=10, cols=60)
    scr, ok = screen_until(master, b'execve(')
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 40, 200, 0, 0))
    p.send_signal(signal.SIGWINCH)
    scr, ok = screen_until(master, b'rows 1-')
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = None
    tap.eq(rc, -signal.SIGTERM, 'tty: SIGTERM ends it by that signal')
    tap.eq(termios.tcgetattr(slave), before, 'tty: the terminal settings are restored after '
           'SIGTERM')
    os.close(master)
    os.close(slave)

tap.done()
