#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-verify: `vmatrace run --verify` over real programs and the snapshot tracees.

--verify compares the model with /proc/PID/maps after every event; the stderr summary has
`vmatrace: verify: N events checked, M diverged`, and the first divergence after it. For
each program: it must report more than 0 events checked and 0 diverged, and behave as it
does untraced: the same exit status (128+N when killed by signal N) and the same stdout.

Programs: python3 (json and sqlite3 imported, a list of 100000), node, gcc -c, java
-version (each skipped when it is not installed), a python3 that exits 7 and one that kills
itself with SIGTERM (status pass-through), and the snapshot tracees snap-mem and snap-procs
of tests/progs/ (their own check is test-replay).
"""
import os
import re
import shutil
import signal
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vtlib  # noqa: E402

tap = vtlib.Tap()
TIMEOUT = 240  # one traced run; java can take ~10 s under trace on a slow machine
VERIFY = re.compile(r'^vmatrace: verify: (\d+) events? checked, (\d+) diverged$', re.M)
SMALL_C = b'static int twice(int x) { return 2 * x; }\nint f(int x) { return twice(x) + 1; }\n'


def want_rc(r):
    """What `vmatrace run` should exit with for an untraced result @r."""
    if r.rc is None:
        return None
    return 128 - r.rc if r.rc < 0 else r.rc


def check(s, name, argv, cwd=None, compare_stdout=True, want=None):
    """Run @argv untraced (for the expected status and stdout), then under --verify."""
    exe = shutil.which(argv[0]) if not os.path.isabs(argv[0]) else argv[0]
    if not exe:
        tap.skip('%s under --verify' % name, '%s is not installed' % argv[0])
        return
    cwd = cwd or s.workdir
    plain = vtlib.execute(argv, env=s.env, timeout=TIMEOUT, cwd=cwd)
    if plain.timed_out:
        tap.skip('%s under --verify' % name, 'it does not end untraced in %d s' % TIMEOUT)
        return
    if want is not None and not tap.eq(want_rc(plain), want, '%s exits %d untraced' %
                                       (name, want), plain):
        return
    db = s.path(name.replace(' ', '_') + '.db')
    e = dict(s.env)
    full = [s.vmatrace, 'run', '--verify', '-o', db, '--'] + argv
    r = vtlib.execute(full, env=e, timeout=TIMEOUT, cwd=cwd)
    m = VERIFY.search(r.errtext)
    checked, diverged = (int(m.group(1)), int(m.group(2))) if m else (None, None)
    tap.ok(m and checked > 0 and diverged == 0,
           '%s: verify reports %s events checked, %s diverged' % (name, checked, diverged), r)
    tap.eq(r.rc, want_rc(plain), '%s: the exit status passes through' % name, r)
    if compare_stdout:
        tap.eq(r.out, plain.out, '%s: the same stdout as untraced' % name)
    return r


def main():
    with vtlib.Session(tap) as s:
        py = shutil.which('python3') or sys.executable
        check(s, 'python3', [py, '-c',
                             'import json, sqlite3; print(len([i for i in range(100000)]))'])
        check(s, 'python3 exit 7', [py, '-c', 'import sys; sys.exit(7)'], want=7)
        check(s, 'python3 SIGTERM', [py, '-c', 'import os, signal; '
                                     'os.kill(os.getpid(), signal.SIGTERM)'],
              want=128 + signal.SIGTERM)
        check(s, 'node', ['node', '-e', 'console.log(1)'])
        with open(s.path('small.c'), 'wb') as f:
            f.write(SMALL_C)
        r = check(s, 'gcc -c', ['gcc', '-c', 'small.c', '-o', 'small.o'])
        if r is not None:
            tap.ok(os.path.getsize(s.path('small.o')) > 0, 'gcc -c: wrote small.o')
        # java -version prints to stderr, and so does vmatrace: no stdout to compare.
        check(s, 'java -version', ['java', '-version'], compare_stdout=False)
        for name in ('snap-mem', 'snap-procs'):
            d = s.path(name + '.verify.d')
            d2 = s.path(name + '.plain.d')
            os.mkdir(d)
            os.mkdir(d2)
            # Untraced and traced runs each write their snapshots to their own directory;
            # the stdout names pids, so it is not compared.
            exe = vtlib.prog(name)
            plain = vtlib.execute([exe, d2], env=s.env, timeout=TIMEOUT, cwd=s.workdir)
            tap.eq(plain.rc, 0, '%s exits 0 untraced' % name, plain)
            db = s.path(name + '.verify.db')
            r = vtlib.execute([s.vmatrace, 'run', '--verify', '-o', db, '--', exe, d],
                              env=s.env, timeout=TIMEOUT, cwd=s.workdir)
            m = VERIFY.search(r.errtext)
            checked, diverged = (int(m.group(1)), int(m.group(2))) if m else (None, None)
            tap.ok(m and checked > 0 and diverged == 0,
                   '%s: verify reports %s events checked, %s diverged' %
                   (name, checked, diverged), r)
            tap.eq(r.rc, 0, '%s: exits 0 under vmatrace run --verify' % name, r)

        check_divergences(s)


def check_divergences(s):
    """A change no syscall shows (userfaultfd registration splits a VMA): --verify must see
    it; --verify-all prints each divergence, and the DB keeps them all."""
    exe = vtlib.prog('uffd-split')
    plain = vtlib.execute([exe], env=s.env, timeout=TIMEOUT, cwd=s.workdir)
    if plain.rc == 77:
        tap.skip('--verify-all on uffd-split', 'userfaultfd is not available here')
        return
    db = s.path('uffd.db')
    r = vtlib.execute([s.vmatrace, 'run', '--verify', '-o', db, '--', exe], env=s.env,
                      timeout=TIMEOUT, cwd=s.workdir)
    m = VERIFY.search(r.errtext)
    tap.ok(r.rc == 0 and m and int(m.group(2)) == 3,
           'uffd-split: --verify reports the 3 splits it cannot know of', r)
    tap.eq(r.errtext.count('diverged after event'), 1, '--verify prints the first only')
    con = sqlite3.connect('file:%s?mode=ro' % db, uri=True)
    rows = con.execute('SELECT seq, mm, report FROM divergence ORDER BY seq').fetchall()
    con.close()
    tap.ok(len(rows) == 3 and all('first divergence at 0x' in x[2] and 'kernel: ' in x[2]
                                  and 'model:  ' in x[2] for x in rows),
           'the DB\'s divergence table holds all 3, with the kernel and model lines', rows)
    db2 = s.path('uffd-all.db')
    r = vtlib.execute([s.vmatrace, 'run', '--verify-all', '-o', db2, '--', exe], env=s.env,
                      timeout=TIMEOUT, cwd=s.workdir)
    seqs = re.findall(r'^vmatrace: mm \d+ diverged after event (\d+): first divergence',
                      r.errtext, re.M)
    tap.ok(r.rc == 0 and len(set(seqs)) == 3 and 'registered 3' in r.text,
           '--verify-all prints every divergence (%s)' % sorted(set(seqs)), r)


main()
tap.done()
