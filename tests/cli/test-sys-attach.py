#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""System mode, issue 13 item 3: attach applies the kernel's ptrace_may_access() rules for
the client's credentials, which the root daemon (CAP_SYS_PTRACE) would otherwise skip.
Alice may attach to her own plain process, but not to a process of hers that is not
dumpable, nor to one whose saved uid, filesystem uid or saved gid is Bob's (it can switch
to Bob at will). Each refusal is one line. Acts as two users with setpriv: needs root."""

import os
import shutil
import subprocess
import sys
import tempfile
import time

import vtlib

tap = vtlib.Tap()
alice, bob = vtlib.test_users(tap)

# A sleeper as root turns itself into the case named by argv[1], then says "ready".
SLEEPER = r'''
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
case, au, ag, bu, bg = sys.argv[1], *map(int, sys.argv[2:6])
PR_SET_DUMPABLE, PR_SET_KEEPCAPS = 4, 8
if case == 'sgid':
    os.setresgid(ag, ag, bg)
else:
    os.setresgid(ag, ag, ag)
os.setgroups([])
if case == 'fsuid':
    # Keep CAP_SETUID across the switch to alice, set the fsuid, then drop every cap.
    class Hdr(ctypes.Structure):
        _fields_ = [('version', ctypes.c_uint32), ('pid', ctypes.c_int)]
    class Data(ctypes.Structure):
        _fields_ = [('eff', ctypes.c_uint32), ('perm', ctypes.c_uint32),
                    ('inh', ctypes.c_uint32)]
    def capset(bits):
        d = (Data * 2)(Data(bits, bits, 0), Data(0, 0, 0))
        assert libc.capset(ctypes.byref(Hdr(0x20080522, 0)), d) == 0, ctypes.get_errno()
    libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)
    os.setresuid(au, au, au)
    capset(1 << 7)  # CAP_SETUID
    libc.setfsuid(bu)
    capset(0)
elif case == 'suid':
    os.setresuid(au, au, bu)
else:
    os.setresuid(au, au, au)
# Changing ids made it not dumpable; every case but one wants it dumpable again.
libc.prctl(PR_SET_DUMPABLE, 0 if case == 'nodump' else 1, 0, 0, 0)
print('ready', open('/proc/self/status').read().split('Uid:')[1].split('Groups')[0]
      .replace('\n', ' ').replace('\t', ' '), flush=True)
time.sleep(120)
'''

with vtlib.Session(tap) as s:
    d = vtlib.SystemDaemon(tap)
    home = tempfile.mkdtemp(prefix='vt-att-', dir='/tmp')
    os.chown(home, *alice)
    try:
        def attach(case):
            p = subprocess.Popen([sys.executable, '-c', SLEEPER, case,
                                  *map(str, alice + bob)], stdout=subprocess.PIPE)
            line = p.stdout.readline().decode()
            try:
                if not line.startswith('ready'):
                    return None, line
                db = os.path.join(home, case + '.db')
                argv = vtlib.as_user(alice) + [s.vmatrace, 'attach', '-o', db, str(p.pid)]
                if case == 'plain':
                    a = subprocess.Popen(argv, env=d.env, cwd=home, stderr=subprocess.PIPE)
                    # attached once it is in the status list; then detach it
                    for _ in range(100):
                        st = vtlib.execute(vtlib.as_user(alice) + [s.vmatrace, 'status'],
                                           env=d.env, timeout=30)
                        if str(p.pid) in st.text:
                            break
                        subprocess.run(['sleep', '0.1'])
                    vtlib.execute(vtlib.as_user(alice) + [s.vmatrace, 'detach', str(p.pid)],
                                  env=d.env, timeout=30)
                    _, err = a.communicate(timeout=60)
                    return vtlib.Result(argv, a.returncode, b'', err), line
                return vtlib.execute(argv, env=d.env, timeout=15, cwd=home), line
            finally:
                p.kill()
                p.wait()

        r, ids = attach('plain')
        tap.ok(r is not None and r.rc == 0, 'alice attaches to her own plain process (and '
               'detaches)', r, ids)
        for case, want in (('nodump', 'is not dumpable'),
                           ('suid', 'can act as uid %d' % bob[0]),
                           ('fsuid', 'can act as uid %d' % bob[0]),
                           ('sgid', 'can act as group %d' % bob[1])):
            r, ids = attach(case)
            lines = r.errtext.strip().splitlines() if r else []
            tap.ok(r is not None and r.rc == 1 and lines and want in lines[0] and
                   'only root may trace it' in lines[0],
                   'alice may not attach to her process with %s: "%s"' % (case, want), r,
                   'ids: ' + ids)
        # Attached, alice's process execs a set-uid-root program: the root daemon's
        # CAP_SYS_PTRACE must not keep it privileged (it seizes with alice's ids).
        suid = os.path.join(home, 'id-root')
        shutil.copy('/usr/bin/id', suid)
        os.chown(suid, 0, 0)
        os.chmod(suid, 0o4755)
        plain = vtlib.execute(vtlib.as_user(alice) + [suid, '-u'], timeout=30)
        if plain.text.strip() != '0':
            tap.skip('an attached process execs a set-uid program',
                     'set-uid programs are not honoured here')
        else:
            sh = subprocess.Popen(vtlib.as_user(alice) + ['/bin/sh', '-c',
                                                          'read x; exec "$0" -u', suid],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            time.sleep(0.3)
            a = subprocess.Popen(vtlib.as_user(alice) + [s.vmatrace, 'attach', '-o',
                                                         os.path.join(home, 'x.db'),
                                                         str(sh.pid)],
                                 env=d.env, cwd=home, stderr=subprocess.PIPE)
            for _ in range(100):
                st = vtlib.execute(vtlib.as_user(alice) + [s.vmatrace, 'status'], env=d.env,
                                   timeout=30)
                if str(sh.pid) in st.text:
                    break
                time.sleep(0.1)
            try:
                out, _ = sh.communicate(b'go\n', timeout=30)
                _, err = a.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                sh.kill()
                a.kill()
                out, err = sh.communicate()[0], a.communicate()[1]
            tap.ok(out.strip() == str(alice[0]).encode() and b'events' in err,
                   'an attached process of alice execs a set-uid-root program: it runs as '
                   'alice, not root', out, err)
        tap.ok(d.alive(), 'the daemon is still up')
    finally:
        d.close()
        shutil.rmtree(home, ignore_errors=True)

tap.done()
