#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vmatrace doctor: one line per check (ok/warn/FAIL, the check's name, what it found or
what to do), exit 0 when `run` can work here; it sees a running daemon, a DB it is given,
and reports a foreign DB and a missing daemon binary as failures."""

import os
import re

import vtlib

tap = vtlib.Tap()
CHECKS = ['kernel', 'ptrace', 'PTRACE_GET_SYSCALL_INFO', 'seccomp', 'PROCMAP_QUERY',
          'yama ptrace_scope', 'libunwind', 'daemon', 'DB']
LINE = re.compile(r'^(ok|warn|FAIL)  +(\S+(?: ptrace_scope)?) +(\S.*)$')


def parse(r):
    res = {}
    for line in r.text.splitlines():
        m = LINE.match(line)
        if m:
            res[m.group(2)] = (m.group(1), m.group(3))
    return res


with vtlib.Session(tap) as s:
    r = s.cmd('doctor')
    got = parse(r)
    tap.eq(list(got), CHECKS, 'one line per check, in order', r)
    tap.ok(r.rc == 0 and not r.err and all(v[0] != 'FAIL' for v in got.values()),
           'everything run needs works here: exit 0, no FAIL', r)
    tap.ok(got.get('ptrace', ('',))[0] == 'ok' and
           got.get('PTRACE_GET_SYSCALL_INFO', ('',))[0] == 'ok' and
           got.get('seccomp', ('',))[0] == 'ok', 'ptrace, syscall info and seccomp are ok', r)
    tap.ok('none running' in got.get('daemon', ('', ''))[1] and
           os.environ['VMATRACED'] in got['daemon'][1],
           'no daemon yet: it names the vmatraced the client would start', r)

    db = s.path('d.db')
    run = s.run(['/bin/true'], db)
    r = s.cmd('doctor', '-d', db)
    got = parse(r)
    st = s.cmd('status')
    tap.ok(run.rc == 0 and r.rc == 0 and got.get('daemon', ('',))[0] == 'ok' and
           'listens at ' + os.path.join(s.sockdir, 'vmatraced.sock') in got['daemon'][1] and
           ('pid %s ' % st.text.split()[2].rstrip(',')) in got['daemon'][1],
           'a running daemon: its pid and socket', r, st)
    tap.ok(got.get('DB', ('',))[0] == 'ok' and 'a vmatrace trace' in got['DB'][1],
           'doctor -d DB: the trace opens', r)

    foreign = s.path('foreign.db')
    with open(foreign, 'w') as f:
        f.write('not sqlite\n' * 100)
    r = s.cmd('doctor', '-d', foreign)
    tap.ok(r.rc == 1 and parse(r).get('DB', ('',))[0] == 'FAIL' and
           'not a vmatrace DB' in r.text, 'a foreign DB: FAIL and exit 1', r)

    s.cmd('stop')
    r = s.cmd('doctor', env={'VMATRACED': '/nonexistent/vmatraced'})
    tap.ok(r.rc == 1 and parse(r).get('daemon', ('',))[0] == 'FAIL' and
           '/nonexistent/vmatraced' in r.text,
           'no daemon and no binary to start: FAIL and exit 1', r)
    r = s.cmd('doctor', '--help')
    tap.ok(r.rc == 0 and r.text.startswith('Usage: vmatrace doctor'), 'doctor --help', r)

tap.done()
