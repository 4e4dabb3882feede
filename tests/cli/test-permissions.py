#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The refusals a user meets when the kernel will not let us trace, and the advice line the
client prints after each (README, "Permissions"): attaching to another user's process, to
a process of ours that is not dumpable, and, where Yama is active, with ptrace_scope 2 (set
for the test and restored). Acts as `nobody` with setpriv: needs root."""

import os
import shutil
import subprocess
import tempfile
import time

import vtlib

tap = vtlib.Tap()
NOBODY = 65534
YAMA = '/proc/sys/kernel/yama/ptrace_scope'

if os.geteuid() != 0:
    tap.skip_all('needs root to act as another user')
if not shutil.which('setpriv'):
    tap.skip_all('setpriv (util-linux) is missing')
AS_NOBODY = ['setpriv', '--reuid=%d' % NOBODY, '--regid=%d' % NOBODY, '--clear-groups', '--']


def lines(r):
    return r.errtext.strip().splitlines()


with vtlib.Session(tap) as s:
    vmatrace = s.vmatrace
    # nobody's own daemon, in a directory nobody owns.
    sockdir = tempfile.mkdtemp(prefix='vt-nb-', dir='/tmp')
    os.chown(sockdir, NOBODY, NOBODY)
    home = tempfile.mkdtemp(prefix='vt-nbh-', dir='/tmp')
    os.chown(home, NOBODY, NOBODY)
    env = dict(s.env, VMATRACE_SOCKET_DIR=sockdir)

    def attach_as_nobody(pid):
        return vtlib.execute(AS_NOBODY + [vmatrace, 'attach', '-o',
                                          os.path.join(home, 'a.db'), str(pid)],
                             env=env, timeout=60, cwd='/')

    try:
        root_sleep = subprocess.Popen(['sleep', '60'])
        r = attach_as_nobody(root_sleep.pid)
        root_sleep.kill()
        root_sleep.wait()
        ls = lines(r)
        tap.ok(r.rc == 1 and len(ls) == 2 and
               ls[0] == 'vmatrace: pid %d is not your process (uid 0)' % root_sleep.pid and
               ls[1].startswith('vmatrace: hint: pid %d belongs to another user' %
                                root_sleep.pid) and 'sudo vmatrace attach' in ls[1],
               'attach to another user\'s process: the error, then the advice', r)

        # Our own uid, but not dumpable: the daemon refuses, as the kernel would.
        code = ('import ctypes,time; ctypes.CDLL(None).prctl(4, 0, 0, 0, 0); '
                'print("ready", flush=True); time.sleep(60)')
        py = shutil.which('python3', path='/usr/bin:/bin') or 'python3'  # one nobody may run
        nd = subprocess.Popen(AS_NOBODY + [py, '-c', code], stdout=subprocess.PIPE)
        tap.eq(nd.stdout.readline(), b'ready\n', 'a non-dumpable process of nobody runs')
        pid = nd.pid
        r = attach_as_nobody(pid)
        nd.kill()
        nd.wait()
        ls = lines(r)
        tap.ok(r.rc == 1 and len(ls) == 2 and
               ls[0] == 'vmatrace: pid %d is not dumpable (a set-uid program or '
               'PR_SET_DUMPABLE 0): only root may trace it' % pid and 'sudo' in ls[1],
               'attach to a process that is not dumpable: the error, then the advice', r)

        if not os.path.exists(YAMA):
            tap.skip('Yama ptrace_scope 2: attach needs CAP_SYS_PTRACE',
                     'Yama is not active on this kernel')
        else:
            old = open(YAMA).read().strip()
            if old == '3':
                tap.skip('Yama ptrace_scope 2', 'ptrace_scope is 3 here')
            else:
                theirs = subprocess.Popen(AS_NOBODY + ['sleep', '60'])
                time.sleep(0.3)
                try:
                    with open(YAMA, 'w') as f:
                        f.write('2')
                    r = attach_as_nobody(theirs.pid)
                finally:
                    with open(YAMA, 'w') as f:
                        f.write(old)
                    theirs.kill()
                    theirs.wait()
                ls = lines(r)
                tap.ok(r.rc == 1 and len(ls) == 2 and 'ptrace_scope is 2' in ls[1],
                       'Yama ptrace_scope 2: the error, then the advice', r)
    finally:
        vtlib.execute(AS_NOBODY + [vmatrace, 'stop'], env=env, timeout=60, cwd='/')
        shutil.rmtree(sockdir, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)

tap.done()
