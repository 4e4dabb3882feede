#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-replay: the replayed map equals the kernel's /proc/PID/maps, line for line.

The snapshot tracees of tests/progs/ (snap-mem, snap-procs) read their own /proc/self/maps
after each change to their address space and then make the marker madvise(NULL, 0,
MADV_NORMAL), a recorded no-op; they write the snapshots to files in a directory we give
them (format in tests/progs/snap-mem.c). For each snapshot, the marker is found in
`vmatrace events --json` (the markers of the snapshot's pid, in seq order, the k-th for
index k) and `vmatrace maps --pid P --at <marker seq>` must equal the snapshot byte for byte.

One normalisation, and only one: the START of the [stack] line. The stack grows on page
faults, which no syscall shows, so the model cannot know how far down it reaches; the
[stack] line is compared by its end address and the rest of the line.

One TAP point per snapshot; on a mismatch a unified diff (kernel = the snapshot, replay =
vmatrace maps) and the events since the previous marker of that address space are shown.
"""
import difflib
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vtlib  # noqa: E402

tap = vtlib.Tap()

PROGS = ['snap-mem', 'snap-procs']
STACK_START = re.compile(rb'^[0-9a-f]+-(?=[0-9a-f]+ .* \[stack\]$)')


def parse_snaps(d):
    """The snapshots the tracee wrote to directory @d: a list of dicts (pid, tid, idx, len,
    label, note, maps (bytes), file)."""
    res = []
    for path in sorted(glob.glob(os.path.join(d, 'snap-*.out'))):
        with open(path, 'rb') as f:
            data = f.read()
        i = 0
        while i < len(data):
            nl = data.index(b'\n', i)
            head = data[i:nl].decode('utf-8', 'replace').split(' ', 6)
            if len(head) != 7 or head[0] != 'SNAP':
                raise RuntimeError('%s: bad snapshot header at byte %d: %r' % (path, i,
                                                                               data[i:nl]))
            n = int(head[4])
            res.append({'pid': int(head[1]), 'tid': int(head[2]), 'idx': int(head[3]),
                        'len': n, 'label': head[5], 'note': head[6],
                        'maps': data[nl + 1:nl + 1 + n], 'file': os.path.basename(path)})
            i = nl + 1 + n
    return res


def lines_of(b):
    ls = b.split(b'\n')
    if ls and ls[-1] == b'':
        ls.pop()
    return ls


def normalise(lines):
    """The one documented normalisation: the [stack] line without its start address."""
    return [STACK_START.sub(b'*-', l) for l in lines]


def show(lines):
    return [l.decode('utf-8', 'backslashreplace') for l in lines]


class Trace:
    """One traced run: its events (JSON and, for diagnostics, text) and its markers."""

    def __init__(self, s, db):
        self.s, self.db = s, db
        self.evs = s.events(db)
        self._text = None
        self.markers = {}
        for e in self.evs:
            if vtlib.is_marker(e):
                self.markers.setdefault(e['pid'], []).append(e)
        for v in self.markers.values():
            v.sort(key=lambda e: e['seq'])

    def text_lines(self):
        """`vmatrace events` text, by seq (zipped with the JSON, same order)."""
        if self._text is None:
            r = self.s.cmd('events', '-d', self.db, timeout=60)
            lines = r.text.splitlines() if r.rc == 0 else []
            if len(lines) == len(self.evs):
                self._text = {e['seq']: l for e, l in zip(self.evs, lines)}
            else:
                self._text = {}
        return self._text

    def around(self, marker):
        """The events of @marker's mm (and pid) after the previous marker of that pid, up to
        and including @marker, as text."""
        mine = self.markers[marker['pid']]
        k = mine.index(marker)
        lo = mine[k - 1]['seq'] if k else 0
        text = self.text_lines()
        out = []
        for e in self.evs:
            if lo < e['seq'] <= marker['seq'] and (e.get('mm') == marker['mm'] or
                                                    e['pid'] == marker['pid']):
                t = text.get(e['seq'])
                if t is None:
                    t = '[%d/%d] %s(%s) = %s' % (e['pid'], e['tid'], e['syscall'],
                                                 ', '.join(hex(a) for a in e.get('args', [])),
                                                 e.get('ret'))
                out.append('  seq %d mm %s: %s' % (e['seq'], e.get('mm'), t))
        return '\n'.join(out[-40:])


def check_prog(s, name):
    prog = vtlib.prog(name)
    outdir = s.path(name + '.d')
    os.mkdir(outdir)
    db = s.path(name + '.db')
    r = s.run([prog, outdir], db)
    if not tap.ok(r.rc == 0, '%s exits 0 under vmatrace' % name, r):
        return
    snaps = parse_snaps(outdir)
    tr = Trace(s, db)
    by_pid = {}
    for sn in snaps:
        by_pid.setdefault(sn['pid'], []).append(sn)
    counts = {p: len(v) for p, v in by_pid.items()}
    mcounts = {p: len(tr.markers.get(p, [])) for p in by_pid}
    tap.ok(snaps and counts == mcounts and
           all(sorted(x['idx'] for x in v) == list(range(len(v))) for v in by_pid.values()),
           '%s: %d snapshots from %d process(es), one marker event for each' %
           (name, len(snaps), len(by_pid)), 'snapshots by pid: %r' % counts,
           'markers by pid:   %r' % mcounts)
    for pid in sorted(by_pid):
        for sn in sorted(by_pid[pid], key=lambda x: x['idx']):
            check_snap(s, tr, name, sn)


def check_snap(s, tr, name, sn):
    pid, idx = sn['pid'], sn['idx']
    desc = '%s: pid %d snapshot %d (%s)' % (name, pid, idx, sn['label'])
    mk = tr.markers.get(pid, [])
    if idx >= len(mk):
        tap.ok(False, desc + ': has a marker event', 'only %d markers for pid %d' %
               (len(mk), pid))
        return
    ev = mk[idx]
    desc += ' = maps --at %d' % ev['seq']
    if ev['tid'] != sn['tid'] or ev.get('ret') != 0:
        tap.ok(False, desc, 'the marker event is not the snapshot\'s: tid %d, want %d' %
               (ev['tid'], sn['tid']), ev)
        return
    r = s.cmd('maps', '-d', tr.db, '--pid', pid, '--at', ev['seq'], timeout=60)
    if r.rc != 0:
        tap.ok(False, desc, r)
        return
    want = normalise(lines_of(sn['maps']))
    got = normalise(lines_of(r.out))
    if got == want:
        tap.ok(True, desc)
        return
    diff = difflib.unified_diff(show(want), show(got), 'kernel (/proc/self/maps)',
                                'replay (vmatrace maps)', lineterm='', n=2)
    tap.ok(False, desc,
           'results of the program\'s calls since the previous snapshot: %s' % sn['note'],
           '\n'.join(diff),
           'events since the previous marker (mm %s):\n%s' % (ev.get('mm'), tr.around(ev)))


def main():
    with vtlib.Session(tap) as s:
        for name in PROGS:
            check_prog(s, name)


main()
tap.done()
