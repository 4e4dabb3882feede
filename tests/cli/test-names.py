#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-names: mapped files renamed and unlinked, by the program and by someone else.

/proc/PID/maps names a file mapping by the file's current path (" (deleted)" once it is
unlinked); `vmatrace maps --at` must too, from the event on. The tracee tests/progs/
snap-files copies its own /proc/self/maps after each step and makes a marker call; each
copy must equal `maps --at <marker>` byte for byte ([stack] by its end, as in
test-replay). Its own rename, rename over a mapped file, unlink, renameat of a directory,
unlinkat and renameat2(RENAME_EXCHANGE) are recorded (`events --syscall %file`); a rename
and an unlink made by this test, outside the trace, while the tracee waits, come in as
"+rename" events. The same run under --verify, which no longer forgives " (deleted)",
reports 0 divergences.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vtlib  # noqa: E402

tap = vtlib.Tap()
STACK_START = re.compile(rb'^[0-9a-f]+-(?=[0-9a-f]+ .* \[stack\]$)', re.M)
VERIFY = re.compile(r'^vmatrace: verify: (\d+) events? checked, (\d+) diverged$', re.M)


def parse_snaps(d):
    res = []
    for name in sorted(os.listdir(d)):
        if not name.startswith('snap-') or not name.endswith('.out'):
            continue
        with open(os.path.join(d, name), 'rb') as f:
            data = f.read()
        i = 0
        while i < len(data):
            nl = data.index(b'\n', i)
            head = data[i:nl].decode('utf-8', 'replace').split(' ', 6)
            n = int(head[4])
            res.append({'pid': int(head[1]), 'idx': int(head[3]), 'label': head[5],
                        'maps': data[nl + 1:nl + 1 + n]})
            i = nl + 1 + n
    return res


def run_interactive(s, db, outdir, verify=False):
    """snap-files under `vmatrace run`, renaming and unlinking its file when it asks."""
    argv = [s.vmatrace, 'run'] + (['--verify'] if verify else []) + \
        ['-o', db, '--', vtlib.prog('snap-files'), outdir]
    p = subprocess.Popen(argv, env=s.env, cwd=s.workdir, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    asked = []
    for line in p.stdout:
        line = line.decode().strip()
        if not line.startswith('EXTERNAL '):
            asked.append(line)
            continue
        path = line.split(' ', 1)[1]
        if not asked or not asked[-1].startswith('EXTERNAL'):
            os.rename(path, path + '.moved')
        else:
            os.unlink(path)
        asked.append(line)
        p.stdin.write(b'x')
        p.stdin.flush()
    p.stdin.close()
    err = p.stderr.read().decode(errors='replace')
    p.wait(timeout=120)
    return p.returncode, asked, err


def check_snaps(s, db, outdir, what):
    snaps = parse_snaps(outdir)
    evs = s.events(db)
    markers = [e for e in evs if vtlib.is_marker(e)]
    tap.eq(len(markers), len(snaps), '%s: one marker per snapshot' % what)
    for sn, mk in zip(snaps, markers):
        r = s.cmd('maps', '-d', db, '--pid', sn['pid'], '--at', mk['seq'], timeout=60)
        want = STACK_START.sub(b'*-', sn['maps'])
        got = STACK_START.sub(b'*-', r.out)
        tap.ok(r.rc == 0 and got == want, '%s: snapshot %d (%s) = maps --at %d' %
               (what, sn['idx'], sn['label'], mk['seq']),
               'kernel:\n' + sn['maps'].decode(errors='replace'),
               'replay:\n' + r.out.decode(errors='replace') if isinstance(r.out, bytes)
               else r.out, r.err)
    return evs


def main():
    with vtlib.Session(tap) as s:
        outdir = s.path('files.d')
        os.mkdir(outdir)
        db = s.path('files.db')
        rc, said, err = run_interactive(s, db, outdir)
        tap.ok(rc == 0 and any('failed=0' in l for l in said), 'snap-files exits 0', said, err)
        tap.eq(sum(1 for l in said if l.startswith('EXTERNAL')), 2,
               'the tracee asked for the outside rename and unlink')
        evs = check_snaps(s, db, outdir, 'names')
        files = [e for e in evs if e.get('syscall') in
                 ('rename', 'unlink', 'unlinkat', 'renameat', 'renameat2')]
        tap.eq([e['syscall'] for e in files],
               ['rename', 'rename', 'unlink', 'renameat', 'unlinkat', 'renameat2', 'unlink'],
               'its own renames and unlinks are events, in order')
        tap.ok(files and files[0].get('argv', [''])[0].endswith('/files/one') and
               files[0]['argv'][1].endswith('/files/one-renamed'),
               'a rename event carries both paths', files[:1])
        r = s.cmd('events', '-d', db, '--syscall', '%file')
        tap.ok(r.rc == 0 and 'renameat2(AT_FDCWD, "' in r.text and 'RENAME_EXCHANGE) = 0'
               in r.text and 'unlinkat(' in r.text and 'ENOENT' in r.text,
               'events --syscall %file decodes them like strace', r)
        ren = [e for e in evs if e.get('syscall') == '+rename']
        tap.ok(len(ren) == 2 and ren[0]['path'].endswith('six.moved') and
               ren[1]['path'].endswith('six.moved (deleted)'),
               'the outside rename and unlink are +rename events with the new names', ren)
        r = s.cmd('events', '-d', db)
        tap.ok(r.rc == 0 and '+++ renamed outside the trace: "' in r.text,
               'events prints them', r.text[-2000:])

        # The same under --verify: " (deleted)" is compared, not forgiven.
        outdir2 = s.path('files-verify.d')
        os.mkdir(outdir2)
        rc, said, err = run_interactive(s, s.path('files-verify.db'), outdir2, verify=True)
        m = VERIFY.search(err)
        tap.ok(rc == 0 and m and int(m.group(1)) > 0 and m.group(2) == '0',
               'snap-files under --verify: 0 divergences', err)


main()
tap.done()
