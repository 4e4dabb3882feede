#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Issue 13 item 12: `vmatraced --idle-exit SECS` counts from the last activity (a trace or
a connection ending), not from its start; and a client that connects just as the idle time
ends is served, not reset. The second case is made certain by stopping the daemon
(SIGSTOP) across its deadline while a client connects: when it continues, the expired
timer and the waiting connection are handled in the same loop iteration. And an idle
daemon sleeps: no CPU while it waits after a trace (its inotify queue was once left
unread there, and the loop spun)."""

import os
import signal
import subprocess
import time

import vtlib

tap = vtlib.Tap()


def start(s, idle):
    log = open(os.path.join(s.workdir, 'daemon-%d.log' % idle), 'w')
    p = subprocess.Popen([os.environ['VMATRACED'], '-f', '--idle-exit', str(idle)],
                         env=s.env, stderr=log)
    sock = os.path.join(s.sockdir, 'vmatraced.sock')
    for _ in range(200):
        if os.path.exists(sock):
            break
        time.sleep(0.02)
    return p, time.monotonic()


def cpu_ticks(pid):
    """User and system time of @pid so far, in clock ticks (/proc/PID/stat)."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return int(fields[11]) + int(fields[12])


def gone_within(p, secs):
    try:
        p.wait(timeout=secs)
        return True
    except subprocess.TimeoutExpired:
        return False


with vtlib.Session(tap) as s:
    # 1. From the last activity.
    d, t0 = start(s, 3)
    time.sleep(2)
    r = s.run(['/bin/true'], s.path('a.db'), timeout=30)
    t_end = time.monotonic()
    tap.ok(r.rc == 0, 'a run 2 s after the start of a daemon with --idle-exit 3', r)
    c0, w0 = cpu_ticks(d.pid), time.monotonic()
    time.sleep(max(0, t0 + 4.2 - time.monotonic()))
    used = (cpu_ticks(d.pid) - c0) / os.sysconf('SC_CLK_TCK')
    tap.ok(used < 0.1, 'the idle daemon used %.2f s of CPU in the %.1f s after the run' %
           (used, time.monotonic() - w0))
    tap.ok(d.poll() is None, 'the daemon is still there 4 s after its start (the run ended '
           '%.1f s ago)' % (time.monotonic() - t_end))
    tap.ok(gone_within(d, t_end + 3 + 3 - time.monotonic()),
           'and exits about 3 s after the run ended')
    if d.poll() is None:
        d.kill()
        d.wait()

    # 2. A client connecting as the idle time ends.
    d, t0 = start(s, 2)
    time.sleep(1.5)
    os.kill(d.pid, signal.SIGSTOP)
    run = subprocess.Popen([s.vmatrace, 'run', '-o', s.path('b.db'), '--', '/bin/echo',
                            'ran'], env=s.env, cwd=s.workdir, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, start_new_session=True)
    time.sleep(1.5)  # the deadline passes while the daemon is stopped, the client waiting
    os.kill(d.pid, signal.SIGCONT)
    try:
        out, err = run.communicate(timeout=30)
        r = vtlib.Result(run.args, run.returncode, out, err)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)
        out, err = run.communicate()
        r = vtlib.Result(run.args, None, out, err, timed_out=True)
    tap.ok(r.rc == 0 and r.text == 'ran\n' and 'events' in r.errtext,
           'a run that connected as the idle time ended is served: its program ran', r)
    with open(os.path.join(s.workdir, 'daemon-2.log')) as f:
        tap.diag('daemon log: ' + ' | '.join(line.strip() for line in f if 'idle' in line))
    tap.ok(gone_within(d, 2 + 4), 'the daemon exits once idle again after it')
    if d.poll() is None:
        d.kill()
        d.wait()
    tap.ok(not os.path.exists(os.path.join(s.sockdir, 'vmatraced.sock')),
           'and removes its socket')
    r = s.run(['/bin/true'], s.path('c.db'), timeout=30)
    tap.ok(r.rc == 0, 'the next run starts a new daemon', r)

tap.done()
