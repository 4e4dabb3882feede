#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""System mode, issue 13 item 1: after a failed seize the root daemon removes the DB it
created, never by path. Alice, with a client of her own, asks for RUNs of a zombie child
of hers (the seize fails) with a DB under a directory of hers that a second process of
hers keeps swapping with a symlink to Bob's directory (renameat2 RENAME_EXCHANGE). Bob's
file of the same name must survive every attempt, and Alice's own DBs must not be left
behind. Acts as two users with setpriv: needs root."""

import os
import shutil
import subprocess
import sys
import tempfile

import vtlib

tap = vtlib.Tap()
alice, bob = vtlib.test_users(tap)
ATTEMPTS = 200

# Alice's swapper: exchanges d (a directory) and l (a symlink to Bob's directory) forever.
SWAPPER = r'''
import ctypes, os, random, sys, time
libc = ctypes.CDLL(None, use_errno=True)
base = sys.argv[1]
a, b = os.fsencode(base + '/d'), os.fsencode(base + '/l')
print('ready', flush=True)
while True:
    libc.renameat2(-100, a, -100, b, 2)  # AT_FDCWD, RENAME_EXCHANGE
    time.sleep(random.random() * 0.004)
'''

# Alice's client: HELLO, then RUN requests for a zombie child (seize fails: EPERM).
CLIENT = r'''
import os, random, socket, sys, time
sys.path.insert(0, sys.argv[1])
import vtlib
sock, db, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
import ctypes
ctypes.CDLL(None).prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS, as the daemon requires
pid = os.fork()
if pid == 0:
    os._exit(0)
time.sleep(0.2)  # a zombie now: we never reap it
c = socket.socket(socket.AF_UNIX)
c.connect(sock)
c.sendall(vtlib.hello_frame())
vtlib.recv_frame(c)
kinds = {}
for i in range(n):
    # The name exists in bob's directory: "File exists" means the symlink was there; try
    # again a little later, so that each name gets a DB really created in ours.
    for _ in range(50):
        c.sendall(vtlib.run_frame(pid, db % i))
        typ, payload = vtlib.recv_frame(c)
        msg = vtlib.error_text(payload) if typ == vtlib.T_ERROR else str(typ)
        if 'File exists' not in msg:
            break
        time.sleep(random.random() * 0.003)
    k = msg.replace(db % i, 'DB')
    kinds[k] = kinds.get(k, 0) + 1
print(kinds)
'''

with vtlib.Session(tap) as s:
    d = vtlib.SystemDaemon(tap)
    try:
        top = tempfile.mkdtemp(prefix='vt-unlink-', dir='/tmp')
        os.chmod(top, 0o755)
        victim = os.path.join(top, 'bob')
        os.mkdir(victim)
        os.chown(victim, *bob)
        for i in range(ATTEMPTS):
            target = os.path.join(victim, 'x%d.db' % i)
            with open(target, 'w') as f:
                f.write('bob\'s file\n')
            os.chown(target, *bob)
            os.chmod(target, 0o644)
        mine = os.path.join(top, 'alice')
        os.mkdir(mine)
        os.mkdir(os.path.join(mine, 'd'))
        os.symlink(victim, os.path.join(mine, 'l'))
        for p in (mine, os.path.join(mine, 'd')):
            os.chown(p, *alice)
        os.lchown(os.path.join(mine, 'l'), *alice)

        swapper = subprocess.Popen(vtlib.as_user(alice) + [sys.executable, '-c', SWAPPER, mine],
                                   stdout=subprocess.PIPE)
        tap.eq(swapper.stdout.readline(), b'ready\n', 'alice swaps her directory with a '
               'symlink to bob\'s, over and over')
        r = vtlib.execute(vtlib.as_user(alice) + [
            sys.executable, '-c', CLIENT, os.path.dirname(os.path.abspath(vtlib.__file__)),
            d.sock, os.path.join(mine, 'd', 'x%d.db'), str(ATTEMPTS)], env=d.env, timeout=240)
        swapper.kill()
        swapper.wait()
        tap.ok(r.rc == 0 and 'cannot trace pid' in r.text,
               'alice\'s %d RUNs of a zombie are refused (the seize fails)' % ATTEMPTS, r)
        tap.diag('replies: ' + r.text.strip())
        gone = [i for i in range(ATTEMPTS) if not os.path.exists(os.path.join(victim,
                                                                             'x%d.db' % i))]
        tap.ok(not gone, 'bob\'s files of those names survive every one of them',
               '%d deleted: %s' % (len(gone), gone[:10]))
        # Whichever side of the swap the real directory ended on, nothing is left in it.
        real = os.path.join(mine, 'd') if not os.path.islink(os.path.join(mine, 'd')) \
            else os.path.join(mine, 'l')
        left = [n for n in os.listdir(real) if n.startswith('x')]
        tap.ok(not left, 'the DBs the daemon created for alice were removed',
               '%d left: %s' % (len(left), sorted(left)[:10]))
        tap.ok(d.alive(), 'the daemon is still up')
    finally:
        d.close()
        shutil.rmtree(top, ignore_errors=True)

tap.done()
