#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Socket activation, done the way systemd does it: we create and bind the listening Unix
socket, fork, move it to fd 3 in the child, set LISTEN_FDS=1 and LISTEN_PID to the child's
own pid and exec `vmatraced -f`. The client must then work as with a daemon it started
itself (status, a real run), the daemon must not remove a socket file it did not create,
connections queued while no daemon runs are served by the next one (systemd's restart on
demand), and a passed fd that is not a listening Unix stream socket is refused in one
line."""

import os
import socket
import subprocess
import time

import vtlib

tap = vtlib.Tap()


def start_activated(vmatraced, sock, env, fds='1', pid_offset=0):
    """Fork and exec `vmatraced -f` with @sock as fd 3; returns (pid, stderr read fd)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(w, 2)
            if sock.fileno() != 3:
                os.dup2(sock.fileno(), 3)
            os.set_inheritable(3, True)  # dup2(3, 3) would leave it close-on-exec
            e = dict(env, LISTEN_FDS=fds, LISTEN_PID=str(os.getpid() + pid_offset))
            os.execve(vmatraced, [vmatraced, '-f'], e)
        finally:
            os._exit(127)
    os.close(w)
    return pid, r


def read_all(fd):
    out = b''
    while True:
        b = os.read(fd, 65536)
        if not b:
            break
        out += b
    os.close(fd)
    return out.decode('utf-8', 'replace')


def wait_exit(pid, timeout=30):
    for _ in range(int(timeout / 0.05)):
        p, st = os.waitpid(pid, os.WNOHANG)
        if p:
            return st
        time.sleep(0.05)
    os.kill(pid, 9)
    return os.waitpid(pid, 0)[1]


with vtlib.Session(tap) as s:
    vmatraced = os.environ['VMATRACED']
    path = os.path.join(s.sockdir, 'vmatraced.sock')
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(path)
    os.chmod(path, 0o600)
    lsock.listen(16)

    pid, errfd = start_activated(vmatraced, lsock, s.env)
    st = s.cmd('status', timeout=30)
    tap.ok(st.rc == 0 and ('vmatraced pid %d,' % pid) in st.text,
           'status is answered by the socket-activated daemon (pid %d)' % pid, st)

    memops = vtlib.prog('memops')
    r = s.run([memops], s.path('a.db'))
    tap.ok(r.rc == 0 and 'events' in r.errtext, 'a real run through the activated daemon', r)
    evs = s.events(s.path('a.db'))
    tap.ok(vtlib.window(evs, evs[0]['pid']) if evs else False,
           'its DB holds the program\'s window of events')

    r = s.cmd('stop', timeout=60)
    st = wait_exit(pid)
    log = read_all(errfd)
    tap.ok(r.rc == 0 and os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0,
           'vmatrace stop ends the activated daemon with status 0', r, vtlib.wait_status_str(st),
           log)
    tap.ok('passed by systemd' in log, 'its log says the socket was passed', log)
    tap.ok(os.path.exists(path), 'the socket file it did not create is still there')

    # A connection made while no daemon runs waits in the backlog for the next one.
    late = subprocess.Popen([s.vmatrace, 'status'], env=s.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    time.sleep(0.3)
    tap.ok(late.poll() is None, 'with no daemon, a client waits on the passed socket')
    pid, errfd = start_activated(vmatraced, lsock, s.env)
    out, err = late.communicate(timeout=30)
    tap.ok(late.returncode == 0 and ('vmatraced pid %d,' % pid).encode() in out,
           'the next activated daemon answers the queued client', out, err)
    s.cmd('stop', timeout=60)
    wait_exit(pid)
    read_all(errfd)

    # LISTEN_PID naming another process: not for us, the daemon binds its own socket.
    other = vtlib.execute([vmatraced, '-f', '--idle-exit', '1'],
                          env=dict(s.env, LISTEN_FDS='1', LISTEN_PID='1'), timeout=30)
    tap.ok(other.rc == 0 and 'passed by systemd' not in other.errtext and
           'listening on' in other.errtext,
           'LISTEN_PID of another process is ignored (it binds and listens itself)', other)
    lsock.close()

    # fd 3 not a listening stream socket: refused with one line, non-zero exit.
    for what, sk in (('a datagram socket', socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)),
                     ('a socket that does not listen',
                      socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)),
                     ('an inet socket', socket.socket(socket.AF_INET, socket.SOCK_STREAM))):
        pid, errfd = start_activated(vmatraced, sk, s.env)
        st = wait_exit(pid)
        log = read_all(errfd)
        tap.ok(os.WIFEXITED(st) and os.WEXITSTATUS(st) != 0 and
               'socket activation:' in log and len(log.strip().splitlines()) == 1,
               'fd 3 is %s: refused in one line' % what, log, vtlib.wait_status_str(st))
        sk.close()
    sk = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    pid, errfd = start_activated(vmatraced, sk, s.env, fds='2')
    st = wait_exit(pid)
    log = read_all(errfd)
    tap.ok(os.WIFEXITED(st) and os.WEXITSTATUS(st) != 0 and 'LISTEN_FDS' in log,
           'LISTEN_FDS=2: refused', log)
    sk.close()

tap.done()
