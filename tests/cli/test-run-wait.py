#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Issue 13 item 14: `vmatrace run` waits for every descendant of the program, background
daemons included; once the program has exited, the first Ctrl-C (SIGINT) says what it
waits for and the second stops waiting: the client exits with the program's status, and
the processes left behind keep running, still traced (their seccomp filter needs a
tracer) until they exit, when the trace ends complete."""

import os
import signal
import subprocess
import time

import vtlib

tap = vtlib.Tap()


def alive(p, secs):
    try:
        p.wait(timeout=secs)
        return False
    except subprocess.TimeoutExpired:
        return True


with vtlib.Session(tap) as s:
    db = s.path('bg.db')
    run = subprocess.Popen([s.vmatrace, 'run', '-o', db, '--', '/bin/sh', '-c',
                            'sleep 120 >/dev/null 2>&1 & echo $!; exit 3'], env=s.env, cwd=s.workdir,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           start_new_session=True)
    bg = int(run.stdout.readline())
    try:
        tap.ok(alive(run, 1.5), 'the client waits while the program\'s background child runs')
        run.send_signal(signal.SIGINT)
        tap.ok(alive(run, 1.5), 'after one Ctrl-C it still waits')
        run.send_signal(signal.SIGINT)
        gone = not alive(run, 10)
        out, err = run.communicate(timeout=10) if gone else (b'', b'')
        r = vtlib.Result(run.args, run.returncode, out, err)
        tap.ok(gone and run.returncode == 3,
               'after the second it exits at once, with the program\'s status (3)', r)
        lines = r.errtext.splitlines()
        tap.ok(len(lines) == 2 and 'waiting for the processes it left running' in lines[0]
               and 'Ctrl-C again' in lines[0] and 'stay traced' in lines[1],
               'each Ctrl-C gets one line saying what happens', r)
        tracer = vtlib.tracer_of(bg)
        tap.ok(tracer not in (None, 0), 'the background child runs on, still traced '
               '(tracer %s)' % tracer)
        st = s.cmd('status', timeout=30)
        tap.ok(st.rc == 0 and db in st.text, 'vmatrace status lists its trace', st)
        os.kill(bg, signal.SIGKILL)
        done = False
        for _ in range(100):
            st = s.cmd('status', timeout=30)
            if db not in st.text:
                done = True
                break
            time.sleep(0.1)
        evs = s.events(db) if done else []
        tap.ok(done and evs and evs[-1].get('syscall') == '+exit' and
               evs[-1].get('pid') == bg and evs[-1].get('signal') == 'SIGKILL',
               'when it dies, the trace ends with its exit recorded', evs[-1:] if evs else st)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        try:
            os.kill(bg, signal.SIGKILL)
        except ProcessLookupError:
            pass

tap.done()
