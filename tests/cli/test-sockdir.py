#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Issue 13 item 5: the client talks only to a daemon socket that is its user's (or
root's), in a directory nobody else can write: otherwise another user's "daemon" would
get the client's program to trace. Bob plants a listening socket where Alice's client
looks ($XDG_RUNTIME_DIR/vmatrace): in a directory of his, then in one of Alice's that
anyone may write. Alice's `vmatrace run` must refuse in one line and never connect; in a
directory of her own it starts her daemon and works. Acts as two users with setpriv."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import vtlib

tap = vtlib.Tap()
alice, bob = vtlib.test_users(tap)

# Bob's listener: counts the connections it gets, for as long as it runs.
LISTENER = r'''
import os, socket, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
os.chmod(path, 0o777)
s.listen(8)
print('ready', flush=True)
while True:
    c, _ = s.accept()
    print('connection', flush=True)
    c.close()
'''

with vtlib.Session(tap) as s:
    top = tempfile.mkdtemp(prefix='vt-sockdir-', dir='/tmp')
    os.chmod(top, 0o755)
    env = {k: v for k, v in s.env.items() if k != 'VMATRACE_SOCKET_DIR'}
    try:
        def case(name, dir_owner, dir_mode):
            xdg = os.path.join(top, name)
            os.mkdir(xdg)
            os.chown(xdg, *alice)
            os.chmod(xdg, 0o755)  # bob may reach what is planted in it
            d = os.path.join(xdg, 'vmatrace')
            os.mkdir(d)
            os.chown(d, *dir_owner)
            os.chmod(d, dir_mode)
            lis = subprocess.Popen(vtlib.as_user(bob) + [sys.executable, '-c', LISTENER,
                                                         os.path.join(d, 'vmatraced.sock')],
                                   stdout=subprocess.PIPE)
            ready = lis.stdout.readline()
            r = vtlib.execute(vtlib.as_user(alice) + [s.vmatrace, 'run', '-o',
                                                       os.path.join(xdg, 't.db'), '--',
                                                       '/bin/true'],
                              env=dict(env, XDG_RUNTIME_DIR=xdg), timeout=30, cwd=xdg)
            time.sleep(0.3)
            lis.kill()
            out = lis.communicate()[0]
            return r, ready, out

        r, ready, got = case('bobs', bob, 0o755)
        lines = r.errtext.strip().splitlines()
        tap.ok(ready == b'ready\n' and r.rc == 1 and len(lines) == 1 and
               'belongs to uid %d, not to you' % bob[0] in lines[0],
               'a socket directory of bob\'s: alice\'s client refuses in one line', r)
        tap.eq(got, b'', 'and it never connected to bob\'s socket')

        r, ready, got = case('open', alice, 0o777)
        lines = r.errtext.strip().splitlines()
        tap.ok(ready == b'ready\n' and r.rc == 1 and len(lines) == 1 and
               'writable by others' in lines[0],
               'alice\'s socket directory writable by anyone: refused in one line', r)
        tap.eq(got, b'', 'and it never connected to the socket bob put there')

        xdg = os.path.join(top, 'good')
        os.mkdir(xdg)
        os.chown(xdg, *alice)
        os.chmod(xdg, 0o700)
        aenv = dict(env, XDG_RUNTIME_DIR=xdg)
        r = vtlib.execute(vtlib.as_user(alice) + [s.vmatrace, 'run', '-o',
                                                   os.path.join(xdg, 't.db'), '--',
                                                   '/bin/true'], env=aenv, timeout=60,
                          cwd=xdg)
        tap.ok(r.rc == 0 and 'events' in r.errtext,
               'in a directory of her own, alice\'s run starts her daemon and works', r)
        vtlib.execute(vtlib.as_user(alice) + [s.vmatrace, 'stop'], env=aenv, timeout=60,
                      cwd=xdg)
    finally:
        shutil.rmtree(top, ignore_errors=True)

tap.done()
