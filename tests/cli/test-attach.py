#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vmatrace attach / detach on real running processes: a multithreaded python3 that keeps
mapping memory is attached, recorded and detached (by Ctrl-C, by `vmatrace detach`, by the
daemon's SIGTERM) and must run on unharmed; the replayed last map equals the process's own
/proc/PID/maps; and every refusal is one clear line."""

import os
import re
import signal
import subprocess
import sys
import time

import vtlib

tap = vtlib.Tap()

# A target that keeps making recorded syscalls from 3 threads, prints "alive" when told
# (SIGUSR1) that its test is over, then exits 3: run on unharmed means exactly that.
# (A test took 67 s once: the signal had gone to a worker thread while the main one slept
# in a 60 s wait.)
BUSY = r'''
import mmap, os, signal, sys, threading, time
done = threading.Event()
signal.signal(signal.SIGUSR1, lambda *a: done.set())
def work():
    while not done.is_set():
        m = mmap.mmap(-1, 1 << 16); m[0] = 1; m.close(); time.sleep(0.005)
for i in range(3):
    threading.Thread(target=work, daemon=True).start()
print("ready", flush=True)
# Short waits: the kernel may give SIGUSR1 to a worker thread (the main one in a ptrace stop
# or with a signal pending), and CPython runs the handler only when the main thread next
# runs bytecode: one wait(60) would then sleep through it.
end = time.monotonic() + 60
while not done.wait(0.1) and time.monotonic() < end:
    pass
print("alive", flush=True)
sys.exit(3)
'''

# A target whose map stops changing: it maps a few regions, says so, and sleeps.
STEADY = r'''
import mmap, sys, time
keep = [mmap.mmap(-1, (i + 1) << 16) for i in range(4)]
print("ready", flush=True)
sys.stdin.read()
'''


def start(code, stdin=subprocess.DEVNULL):
    p = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE,
                         stdin=stdin, text=True)
    tap.ok(p.stdout.readline().strip() == 'ready', 'the target is ready')
    return p


def attach(s, pid, db):
    p = subprocess.Popen([s.vmatrace, 'attach', '-o', db, str(pid)], env=s.env,
                         cwd=s.workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    for _ in range(100):
        if vtlib.tracer_of(pid) != 0:
            break
        time.sleep(0.05)
    return p


def finish_busy(target):
    target.send_signal(signal.SIGUSR1)
    out, _ = target.communicate(timeout=60)
    tap.ok(target.returncode == 3 and 'alive' in out,
           'the target ran on unharmed after the detach (exit 3, "alive")',
           target.returncode, out)


with vtlib.Session(tap) as s:
    # 1. Ctrl-C detaches.
    target = start(BUSY)
    db = s.path('busy.db')
    a = attach(s, target.pid, db)
    time.sleep(1.0)
    a.send_signal(signal.SIGINT)
    out, err = a.communicate(timeout=60)
    tap.ok(a.returncode == 0 and 'events' in err and 'detaching' in err,
           'attach: Ctrl-C detaches and prints the summary', a.returncode, err)
    tap.eq(vtlib.tracer_of(target.pid), 0, 'no tracer left on the target')
    evs = s.events(db)
    tids = {e['tid'] for e in evs if e['syscall'] == 'mmap'}
    tap.ok(len(tids) >= 2, 'mmaps recorded from several threads', tids)
    munmaps = [e for e in evs if e['syscall'] == 'munmap' and e['ret'] == 0]
    tap.ok(len(munmaps) > 10, 'many events recorded (%d munmaps)' % len(munmaps))
    r = s.cmd('ps', '-d', db)
    tap.ok(r.rc == 0 and str(target.pid) in r.text, 'ps lists the attached process', r)
    finish_busy(target)

    # 2. `vmatrace detach` from another terminal.
    target = start(BUSY)
    db = s.path('busy2.db')
    a = attach(s, target.pid, db)
    time.sleep(0.5)
    r = s.cmd('detach', str(target.pid))
    tap.ok(r.rc == 0, 'detach PID answers 0', r)
    out, err = a.communicate(timeout=60)
    tap.ok(a.returncode == 0 and 'events' in err, 'the attach client ends with a summary',
           err)
    tap.eq(vtlib.tracer_of(target.pid), 0, 'no tracer left after detach')
    finish_busy(target)
    r = s.cmd('detach', str(target.pid))
    tap.ok(r.rc not in (0, None) and len(r.err.splitlines()) == 1,
           'detach of a pid not traced: one line, non-zero exit', r)

    # 3. The replayed map equals the process's own, VMAs before the attach included.
    target = start(STEADY, stdin=subprocess.PIPE)
    db = s.path('steady.db')
    a = attach(s, target.pid, db)
    time.sleep(0.3)
    s.cmd('detach', str(target.pid))
    a.communicate(timeout=60)
    with open('/proc/%d/maps' % target.pid) as f:
        kernel = f.read().splitlines()
    r = s.cmd('maps', '-d', db, '--pid', str(target.pid))
    model = r.text.splitlines()
    norm = lambda ls: [re.sub(r'^[0-9a-f]+(-[0-9a-f]+ .*\[stack\])$', r'STACK\1', l)
                       for l in ls]
    tap.ok(r.rc == 0 and norm(model) == norm(kernel),
           'maps after the attach equals /proc/PID/maps line for line ([stack] start '
           'normalised)', '\n'.join(model), '\n'.join(kernel))
    target.stdin.close()
    target.wait(timeout=30)
    out = subprocess.run(['sqlite3', db, 'select count(*), sum(origin_unknown) from vma'],
                         capture_output=True, text=True).stdout.strip()
    n, unknown = (int(x or 0) for x in out.split('|')) if '|' in out else (0, 0)
    tap.ok(n > 0 and unknown > 0, 'VMAs found at the attach are marked of unknown origin',
           out)

    # 4. Refusals: one line, non-zero, no DB.
    def refused(pid, desc, want):
        db = s.path('refused.db')
        r = s.cmd('attach', '-o', db, str(pid), timeout=30)
        tap.ok(r.rc not in (0, None) and len(r.err.splitlines()) == 1 and
               re.search(want, r.errtext) and not os.path.exists(db),
               'attach to %s: one line (%s), non-zero exit, no DB' % (desc, want), r)

    refused(4194303, 'a pid that does not exist', 'no process')
    refused(2, 'a kernel thread', 'kernel thread')
    z = subprocess.Popen(['true'])
    time.sleep(0.3)  # exited, not reaped: a zombie
    refused(z.pid, 'a zombie', 'zombie')
    z.wait()
    traced = subprocess.Popen(['strace', '-o', '/dev/null', 'sleep', '5'])
    time.sleep(0.5)
    child = int(subprocess.run(['pgrep', '-P', str(traced.pid)], capture_output=True,
                               text=True).stdout.split()[0])
    refused(child, 'a process already traced', 'already traced')
    traced.kill()
    traced.wait()
    run = subprocess.Popen([s.vmatrace, 'run', '-o', s.path('run.db'), '--', 'sleep', '2'],
                           env=s.env, cwd=s.workdir, stderr=subprocess.PIPE)
    time.sleep(0.5)
    child = int(subprocess.run(['pgrep', '-P', str(run.pid)], capture_output=True,
                               text=True).stdout.split()[0])
    r = s.cmd('detach', str(child))
    tap.ok(r.rc not in (0, None) and 'seccomp' in r.errtext,
           'detach of a run target is refused: its filter needs the tracer', r)
    run.communicate(timeout=30)

    # 6. While attached, the DB is readable and at most a second behind; kill -9 of the
    # daemon leaves the attached process running (no EXITKILL for attach).
    target = start(BUSY)
    live = s.path('live.db')
    a = attach(s, target.pid, live)
    time.sleep(1.2)
    r = s.cmd('events', '-d', live, '--json', '--syscall', 'munmap')
    tap.ok(r.rc == 0 and len(r.text.splitlines()) > 5,
           'a live trace\'s DB shows its events within about a second', r)
    st = s.cmd('status')
    dpid = int(st.text.split()[2].rstrip(','))
    os.kill(dpid, signal.SIGKILL)
    out, err = a.communicate(timeout=60)
    tap.ok(a.returncode not in (0, None) and 'lost the daemon' in err,
           'attach: a vanished daemon is one clear line', err)
    for _ in range(50):
        if vtlib.tracer_of(target.pid) == 0:
            break
        time.sleep(0.05)
    tap.eq(vtlib.tracer_of(target.pid), 0, 'kill -9 of the daemon: the attached process is free')
    finish_busy(target)
    r = s.cmd('events', '-d', live, '--json', '--syscall', 'munmap')
    tap.ok(r.rc == 0 and len(r.text.splitlines()) > 5,
           'the DB of the killed daemon opens, with what it committed', r)

    # 7. Two processes sharing one address space (clone(CLONE_VM), no CLONE_THREAD),
    # attached into one trace: one mm id, and the child's mappings are events of it.
    sh = subprocess.Popen([vtlib.prog('sharers')], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True)
    m = re.match(r'PARENT (\d+) CHILD (\d+)', sh.stdout.readline())
    if tap.ok(m, 'sharers: two processes, one address space', m):
        parent, child = int(m.group(1)), int(m.group(2))
        db = s.path('sharers.db')
        a = subprocess.Popen([s.vmatrace, 'attach', '-o', db, str(parent), str(child)],
                             env=s.env, cwd=s.workdir, stderr=subprocess.PIPE, text=True)
        for _ in range(100):
            if vtlib.tracer_of(parent) and vtlib.tracer_of(child):
                break
            time.sleep(0.05)
        time.sleep(0.5)
        s.cmd('detach', str(parent))
        out, err = a.communicate(timeout=60)
        tap.ok(a.returncode == 0, 'attach PARENT CHILD ends with a summary', err)
        evs = s.events(db)
        mms = {e['pid']: e['mm'] for e in evs}
        tap.ok(child in mms, 'the CLONE_VM child\'s events are recorded', sorted(mms))
        q = subprocess.run(['sqlite3', db, 'select pid, mm from process'],
                           capture_output=True, text=True).stdout
        mm_of = dict(tuple(int(x) for x in l.split('|')) for l in q.split())
        tap.ok(parent in mm_of and mm_of.get(parent) == mm_of.get(child),
               'parent and CLONE_VM child have one mm id (kcmp)', q)
        tap.ok(all(e['mm'] == mm_of.get(parent) for e in evs if e['pid'] == child),
               'the child\'s events are events of that mm')
        r = s.cmd('ps', '-d', db)
        users = [l for l in r.text.split('\n\n')[1].splitlines()[1:] if l.strip()]
        tap.ok(len(users) == 1 and ' 2@0' in users[0],
               'that mm has 2 users from the start', r.text)
        sh.stdin.close()
        sh.wait(timeout=30)
        tap.eq(sh.returncode, 0, 'sharers ran on and exited 0 after the detach')

    # 5. The daemon stopping detaches attached processes; they run on.
    target = start(BUSY)
    a = attach(s, target.pid, s.path('term.db'))
    time.sleep(0.5)
    st = s.cmd('status')
    dpid = int(st.text.split()[2].rstrip(','))
    os.kill(dpid, signal.SIGTERM)
    out, err = a.communicate(timeout=60)
    tap.ok(a.returncode == 0 and 'events' in err,
           'SIGTERM to the daemon: the attach client gets its summary', err)
    tap.eq(vtlib.tracer_of(target.pid), 0, 'no tracer left after the daemon stopped')
    finish_busy(target)

tap.done()
