#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-escape: names from the traced program never reach the reader's terminal raw
(issue 13, 11).

A program whose own path holds an escape sequence maps a file whose name holds escape
sequences, a newline and a byte that is not UTF-8 (0x9b, the 8-bit CSI). maps (and -x),
diff, history, replay, stats and ps print no ESC, no raw 0x9b and no newline inside a
line; maps shows the name as /proc does (a newline as \\012) with the other control and
invalid bytes in octal, as `events` escapes them.
"""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vtlib  # noqa: E402

tap = vtlib.Tap()
NAME = b'evil\x1b[31mred\nline\x9b2J'
SHOWN = b'evil\\033[31mred\\012line\\2332J'
PROG = b'py\x1b]0;pwned\x07thon'

SCRIPT = r'''
import mmap, os, sys
fd = os.open(os.fsencode(sys.argv[1]), os.O_RDWR | os.O_CREAT, 0o600)
os.ftruncate(fd, 64 << 20)
m = mmap.mmap(fd, 64 << 20, mmap.MAP_SHARED)
sys.stdout.flush()
os._exit(0)
'''


def clean(desc, r, want=SHOWN):
    """@r exited 0 and printed no raw escape; with @want, that text appears."""
    bad = [b for b in (b'\x1b', b'\x9b', b'\x07') if b in r.out]
    tap.ok(r.rc == 0 and not bad, '%s: exit 0, no raw ESC/CSI/BEL' % desc, 'found %r' % bad, r)
    if want is not None:
        tap.ok(want in r.out, '%s: the name escaped as %s' % (desc, want.decode()), r)


def main():
    py = shutil.which('python3')
    with vtlib.Session(tap) as s:
        name = os.path.join(os.fsencode(s.workdir), NAME)
        prog = os.path.join(os.fsencode(s.workdir), PROG)
        os.symlink(os.fsencode(py), prog)
        db = s.path('e.db')
        r = s.run([prog, '-c', SCRIPT, name], db)
        if not tap.ok(r.rc == 0, 'the tracee ran', r):
            return
        evs = s.events(db)
        mm = [e for e in evs if e['syscall'] == 'mmap' and 'evil' in e.get('path', '')]
        if not tap.ok(len(mm) == 1, 'one mmap of the file', mm):
            return
        seq, pid, addr = mm[0]['seq'], mm[0]['pid'], mm[0]['ret']

        r = s.cmd('maps', '-d', db, '--pid', pid)
        clean('maps', r)
        lines = [ln for ln in r.out.split(b'\n') if b'evil' in ln]
        tap.ok(len(lines) == 1 and lines[0].endswith(os.fsencode(s.workdir) + b'/' + SHOWN),
               'maps: the line ends with the name, \\n as \\012', lines)
        clean('maps -x', s.cmd('maps', '-d', db, '--pid', pid, '-x'))
        clean('diff', s.cmd('diff', '-d', db, '--pid', pid, seq - 1, seq))
        clean('history', s.cmd('history', '-d', db, hex(addr)))
        clean('replay', s.cmd('replay', '-d', db, '--pid', pid, '--from', seq, '--to', seq,
                              '--plain'))
        clean('stats', s.cmd('stats', '-d', db))
        r = s.cmd('ps', '-d', db)
        clean('ps', r, want=None)
        tap.ok(b'py\\033]0;pwned\\007thon -c' in r.out, 'ps: the program path escaped', r)
        # JSON stays JSON: the name round-trips exactly.
        r = s.cmd('maps', '-d', db, '--pid', pid, '--json')
        names = [json.loads(ln)['name'] for ln in r.text.splitlines()]
        tap.ok(vtlib.json_text(name) in names, 'maps --json: the name exact', names)


main()
tap.done()
