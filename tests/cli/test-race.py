#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-race: threads of one address space racing their map changes (daemon/order.c).

The tracer sees each syscall as an interval, entry stop to exit stop, and the exit stops
of overlapping syscalls arrive in either order. The stored order of one mm's map changes
must be one the kernel could have applied them in. Two checks, both against things the
tracer did not compute (racelib.py):

- `run --verify`: after events at which no other syscall of the mm was in flight, the
  model equals the kernel (/proc/PID/maps, PROCMAP_QUERY). 0 divergences is required.
- the stored history itself: a successful mmap without MAP_FIXED got addresses that were
  free in the kernel, so in the replay no VMA may end at that mmap's event inside the
  range it returned. A late munmap of another thread applied after the mmap that reused
  its range (the bug this guards against) shows here as a mapped-over VMA, and no later
  reconciliation with the kernel can hide it. (SQL on the DB, read-only.)

Tracee: tests/progs/race (4 threads x VT_RACE_ROUNDS rounds, default 5,000: about 42,000
events, handed buffers, mremap, 10 forks meanwhile) VT_RACE_RUNS times in a row (default
20); then the same under `attach`, and `detach` mid-race 3 times. The stress setup
(`meson test --setup stress`, run by .ci/run) runs it with 12,500 rounds. Real
multi-threaded programs are test-race-apps.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import racelib  # noqa: E402
import vtlib  # noqa: E402

tap = vtlib.Tap()
RUNS = int(os.environ.get('VT_RACE_RUNS', '20'))
ROUNDS = int(os.environ.get('VT_RACE_ROUNDS', '5000'))
MIN_EVENTS = 8 * ROUNDS  # 8.5 map events a round


def race_runs(s, exe):
    failed = 0
    for i in range(RUNS):
        if not racelib.traced(tap, s, 'race run %d of %d' % (i + 1, RUNS),
                              [exe, str(ROUNDS), '4', '10'], 'failures=0',
                              min_events=MIN_EVENTS):
            failed += 1
            break  # the DB and the log of the first failure are kept
    tap.eq(failed, 0, 'race: %d consecutive runs without a divergence' % RUNS)


def attached_race(s, exe, db, rounds, forks):
    """tests/progs/race waiting for its go, attached (into @db) once it is ready, then let
    go: (target, attach client, the READY line)."""
    target = subprocess.Popen([exe, str(rounds), '4', str(forks), 'wait'],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ready = target.stdout.readline().strip()
    a = subprocess.Popen([s.vmatrace, 'attach', '-o', db, str(target.pid)], env=s.env,
                         cwd=s.workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    for _ in range(200):
        if vtlib.tracer_of(target.pid):
            break
        time.sleep(0.05)
    target.stdin.write('g')
    target.stdin.close()
    return target, a, ready


def race_attach(s, exe):
    db = s.path('race-attach.db')
    target, a, ready = attached_race(s, exe, db, ROUNDS, 0)
    tap.eq(ready, 'READY', 'attach: race is ready')
    out = target.stdout.read()
    target.wait(timeout=racelib.TIMEOUT)
    _, err = a.communicate(timeout=racelib.TIMEOUT)
    tap.ok(target.returncode == 0 and 'failures=0' in out,
           'attach: race exits 0 (%s)' % out.strip(), err)
    tap.ok(a.returncode == 0, 'attach: the client ends with a summary', err)
    n = racelib.EVENTS.search(err)
    tap.ok(n and int(n.group(1)) >= MIN_EVENTS, 'attach: %s events recorded' %
           (n.group(1) if n else None), err)
    tap.eq(racelib.mapped_over(db), [], 'attach: no mmap result was mapped over in the history')


def race_detach(s, exe):
    """`vmatrace detach` while the threads race: whatever was held goes out in the order
    known, and the model must stay whole (a grown or moved mremap over pages an unapplied
    munmap still held once broke it), the process runs on untraced, the daemon serves on."""
    for i in range(3):
        target, a, _ = attached_race(s, exe, s.path('race-detach-%d.db' % i), 4 * ROUNDS, 3)
        time.sleep(0.2 + 0.2 * i)
        d = s.cmd('detach', target.pid)
        out = target.stdout.read()
        target.wait(timeout=racelib.TIMEOUT)
        _, err = a.communicate(timeout=racelib.TIMEOUT)
        tap.ok(d.rc == 0 and target.returncode == 0 and 'failures=0' in out and a.returncode == 0,
               'detach %d mid-race: detached, race exits 0 (%s), the client ends' %
               (i + 1, out.strip()), str(d) + err + s.daemon_log())
    st = s.cmd('status')
    tap.ok(st.rc == 0, 'after the detaches the daemon still answers', st)


def main():
    with vtlib.Session(tap) as s:
        exe = vtlib.prog('race')
        plain = vtlib.execute([exe, '2000', '4', '2'], timeout=racelib.TIMEOUT)
        tap.ok(plain.rc == 0 and 'failures=0' in plain.text, 'race runs untraced', plain)
        race_runs(s, exe)
        race_attach(s, exe)
        race_detach(s, exe)


main()
tap.done()
