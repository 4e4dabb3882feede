#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The daemon as the client sees it: several traces at once, `status`, the runtime
directory's permissions, a stale socket left by a killed daemon, an unsafe directory, and
a malformed protocol message that must not disturb other clients."""

import os
import socket
import stat
import struct
import subprocess
import time

import vtlib

tap = vtlib.Tap()


def summary(r):
    return [l for l in r.errtext.splitlines() if l.startswith('vmatrace: ')]


with vtlib.Session(tap) as s:
    memops = vtlib.prog('memops')

    # Three traces at once, each into its own DB, each complete.
    procs = []
    for i in range(3):
        argv = [s.vmatrace, 'run', '-o', s.path('c%d.db' % i), '--', memops]
        procs.append(subprocess.Popen(argv, env=s.env, cwd=s.workdir,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    outs = [p.communicate(timeout=120) for p in procs]
    tap.ok(all(p.returncode == 0 for p in procs), 'three concurrent runs exit 0',
           *[o[1] for o in outs])
    counts = []
    for i in range(3):
        evs = s.events(s.path('c%d.db' % i))
        counts.append(len(vtlib.window(evs, evs[0]['pid']) or []))
    tap.ok(counts[0] > 0 and len(set(counts)) == 1,
           'each concurrent trace holds the same window of events', counts)

    # status lists a live trace with its program and DB.
    sleeper = subprocess.Popen([s.vmatrace, 'run', '-o', s.path('sleep.db'), '--',
                                'sleep', '3'], env=s.env, cwd=s.workdir,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    st = None
    for _ in range(50):
        st = s.cmd('status')
        if 'sleep' in st.text:
            break
        time.sleep(0.1)
    tap.ok(st.rc == 0 and 'sleep' in st.text and s.path('sleep.db') in st.text,
           'status lists the live trace: program and DB', st)
    sleeper.communicate(timeout=60)
    tap.eq(sleeper.returncode, 0, 'the traced sleep exits 0')

    # The runtime directory is ours alone.
    mode = stat.S_IMODE(os.stat(s.sockdir).st_mode)
    tap.eq(mode, 0o700, 'the socket directory is 0700')
    sock = os.path.join(s.sockdir, 'vmatraced.sock')
    tap.eq(stat.S_IMODE(os.stat(sock).st_mode), 0o600, 'the socket is 0600')

    # A malformed frame gets an answer or a close, and the daemon keeps serving others.
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(sock)
    c.sendall(b'GET / HTTP/1.0\r\n\r\n')
    c.settimeout(10)
    try:
        reply = c.recv(4096)
        reply += c.recv(4096)
    except OSError:
        reply = b''
    c.close()
    tap.ok(reply[:4] == struct.pack('<I', 0x50544d56) or reply == b'',
           'a malformed frame is answered by an ERROR frame or a close', reply)
    st = s.cmd('status')
    tap.ok(st.rc == 0 and 'vmatraced pid' in st.text, 'the daemon still serves after it', st)

    # kill -9 the daemon: its socket file stays; the next run replaces it.
    pid = int(st.text.split()[2].rstrip(','))
    os.kill(pid, 9)
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    tap.ok(os.path.exists(sock), 'a killed daemon leaves its socket file behind')
    r = s.run([memops], s.path('after.db'))
    tap.ok(r.rc == 0 and summary(r), 'the next run starts a new daemon over the stale socket',
           r)
    st = s.cmd('status')
    tap.ok(st.rc == 0 and 'vmatraced pid %d,' % pid not in st.text,
           'status now answers from a new daemon', st)

    # An unsafe runtime directory (open to others) is refused with one line, nothing made.
    bad = s.path('open-dir')
    os.mkdir(bad, 0o755)
    os.chmod(bad, 0o755)
    r = s.run([memops], s.path('never.db'), env={'VMATRACE_SOCKET_DIR': bad})
    tap.ok(r.rc not in (0, None) and not os.path.exists(s.path('never.db')) and
           len(r.errtext.strip().splitlines()) >= 1,
           'an unsafe socket directory: non-zero exit, no DB', r)

# Every subcommand explains itself; unknown ones and bad options fail in one line.
with vtlib.Session(tap, need_ptrace=False) as s:
    r = s.cmd('--help')
    subs = [l.split()[0] for l in r.text.split('Commands:\n', 1)[-1].split('\n\n')[0]
            .splitlines() if l.strip()]
    tap.ok(len(subs) >= 16 and 'run' in subs and 'doctor' in subs,
           '--help lists the subcommands', subs)
    for sub in subs:
        r = s.cmd(sub, '--help')
        tap.ok(r.rc == 0 and r.text.startswith('Usage: vmatrace %s' % sub) and not r.err,
               '%s --help: usage on stdout, exit 0' % sub, r)
    r = s.cmd('--version')
    tap.ok(r.rc == 0 and r.text.startswith('vmatrace '), '--version', r)
    r = s.cmd('frobnicate')
    tap.ok(r.rc not in (0, None) and len(r.err.splitlines()) == 1 and not r.out,
           'an unknown subcommand: one line on stderr, non-zero exit', r)
    r = s.cmd('maps', '-d', s.path('none.db'), '--pid', '1')
    tap.ok(r.rc not in (0, None) and len(r.err.splitlines()) == 1 and 'no such file' in r.errtext,
           'maps on a missing DB: one line naming the problem', r)
    r = s.cmd('maps', '--pid', 'abc')
    tap.ok(r.rc not in (0, None) and len(r.err.splitlines()) == 1,
           'maps with a malformed pid: one line, non-zero exit', r)

tap.done()
