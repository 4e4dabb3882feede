#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""System mode, issue 13 item 2: RUN holds only a child that cannot gain privileges by
exec. Alice's own client skips the seccomp step (so no no_new_privs) and asks the root
daemon to trace a child that then execs a set-uid-root copy of id(1): a tracer with
CAP_SYS_PTRACE would keep that exec privileged. The daemon must refuse the RUN in one
line, and the program must never run as root under the trace; `vmatrace run` of the same
program as alice works and runs it as alice. Acts as two users with setpriv: needs root."""

import os
import shutil
import sys
import tempfile

import vtlib

tap = vtlib.Tap()
alice, bob = vtlib.test_users(tap)

# Alice's client: HELLO; fork a child that waits for a byte and then execs ARGV, with no
# seccomp filter and no no_new_privs; RUN it; on ATTACHED let it go. Prints the reply.
CLIENT = r'''
import os, socket, sys
sys.path.insert(0, sys.argv[1])
import vtlib
sock, db, argv = sys.argv[2], sys.argv[3], sys.argv[4:]
rd, wr = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(wr)
    if os.read(rd, 1) != b'!':
        os._exit(0)
    os.execv(argv[0], argv)
os.close(rd)
c = socket.socket(socket.AF_UNIX)
c.connect(sock)
c.sendall(vtlib.hello_frame())
vtlib.recv_frame(c)
c.sendall(vtlib.run_frame(pid, db, argv))
typ, payload = vtlib.recv_frame(c)
if typ == vtlib.T_ATTACHED:
    print('REPLY attached', flush=True)
    os.write(wr, b'!')
else:
    print('REPLY', vtlib.error_text(payload) if typ == vtlib.T_ERROR else typ, flush=True)
os.close(wr)
_, st = os.waitpid(pid, 0)
if typ == vtlib.T_ATTACHED:
    vtlib.recv_frame(c, timeout=60)  # FINISHED
'''

with vtlib.Session(tap) as s:
    d = vtlib.SystemDaemon(tap)
    top = tempfile.mkdtemp(prefix='vt-nnp-', dir='/tmp')
    try:
        os.chmod(top, 0o755)
        home = os.path.join(top, 'alice')
        os.mkdir(home)
        os.chown(home, *alice)
        suid = os.path.join(top, 'id-root')
        shutil.copy('/usr/bin/id', suid)
        os.chown(suid, 0, 0)
        os.chmod(suid, 0o4755)
        plain = vtlib.execute(vtlib.as_user(alice) + [suid, '-u'], timeout=30)
        if plain.text.strip() != '0':
            tap.skip_all('set-uid programs are not honoured here (%s)' % plain.text.strip())

        here = os.path.dirname(os.path.abspath(vtlib.__file__))
        r = vtlib.execute(vtlib.as_user(alice) + [sys.executable, '-c', CLIENT, here, d.sock,
                                                   os.path.join(home, 'c.db'), suid, '-u'],
                          env=d.env, timeout=90)
        lines = r.text.splitlines()
        tap.ok(lines and lines[0].startswith('REPLY pid ') and 'no_new_privs' in lines[0],
               'a RUN of a child without no_new_privs is refused in one line saying why', r)
        tap.ok('0' not in lines[1:], 'the set-uid program never ran as root under the '
               'trace', r)
        tap.ok(not os.path.exists(os.path.join(home, 'c.db')), 'no DB is left for it')

        r = vtlib.execute(vtlib.as_user(alice) + [s.vmatrace, 'run', '-o',
                                                   os.path.join(home, 'v.db'), '--', suid,
                                                   '-u'], env=d.env, timeout=90, cwd=home)
        tap.ok(r.rc == 0 and r.text.strip() == str(alice[0]),
               '`vmatrace run` of the set-uid program works, and it runs as alice', r)
        tap.ok(d.alive(), 'the daemon is still up')
    finally:
        d.close()
        shutil.rmtree(top, ignore_errors=True)

tap.done()
