#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Authorization, acting as another user with setpriv: the system daemon (vmatraced
--system, root) serves every user with that user's rights (DBs written as the user, only
where the user could; attach only to the user's own processes; only root stops it); a
user's own daemon refuses other users even when its socket is reachable. Needs root."""

import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time

import vtlib

tap = vtlib.Tap()
NOBODY = 65534

if os.geteuid() != 0:
    tap.skip_all('needs root to act as another user')
if not shutil.which('setpriv'):
    tap.skip_all('setpriv (util-linux) is missing')


def as_nobody(argv, env, timeout=60):
    full = ['setpriv', '--reuid=%d' % NOBODY, '--regid=%d' % NOBODY, '--clear-groups',
            '--'] + argv
    return vtlib.execute(full, env=env, timeout=timeout, cwd='/')


with vtlib.Session(tap) as s:
    vmatrace, vmatraced = os.environ['VMATRACE'], os.environ['VMATRACED']
    # The binaries must be reachable by nobody: the build tree usually is.
    sysdir = tempfile.mkdtemp(prefix='vt-sys-', dir='/tmp')
    os.chmod(sysdir, 0o755)
    env = dict(os.environ, VMATRACE_SOCKET_DIR=sysdir)
    daemon = subprocess.Popen([vmatraced, '--system', '-f'], env=env,
                              stderr=subprocess.PIPE, text=True)
    sock = os.path.join(sysdir, 'vmatraced.sock')
    for _ in range(100):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    tap.eq(stat.S_IMODE(os.stat(sock).st_mode), 0o666,
           'the system socket is open to everyone (0666): requests are checked one by one')

    home = tempfile.mkdtemp(prefix='vt-nobody-', dir='/tmp')
    os.chown(home, NOBODY, NOBODY)
    db = os.path.join(home, 'n.db')
    r = as_nobody([vmatrace, 'run', '-o', db, '--', '/bin/true'], env)
    tap.ok(r.rc == 0 and os.path.exists(db), 'nobody traces a program through the system '
           'daemon', r)
    tap.ok(os.path.exists(db) and os.stat(db).st_uid == NOBODY,
           'its DB belongs to nobody (written with its filesystem ids)')

    r = as_nobody([vmatrace, 'run', '-o', os.path.join(sysdir, 'x.db'), '--', '/bin/true'],
                  env)
    tap.ok(r.rc not in (0, None) and 'Permission denied' in r.errtext and
           not os.path.exists(os.path.join(sysdir, 'x.db')),
           'nobody cannot have the root daemon write where nobody may not', r)

    mine = subprocess.Popen(['sleep', '30'])
    r = as_nobody([vmatrace, 'attach', '-o', os.path.join(home, 'a.db'), str(mine.pid)], env)
    tap.ok(r.rc not in (0, None) and 'not your process' in r.errtext,
           'nobody cannot attach to root\'s process', r)
    mine.kill()
    mine.wait()

    theirs = subprocess.Popen(['setpriv', '--reuid=%d' % NOBODY, '--regid=%d' % NOBODY,
                               '--clear-groups', '--', 'sleep', '30'])
    time.sleep(0.3)
    att = subprocess.Popen(['setpriv', '--reuid=%d' % NOBODY, '--regid=%d' % NOBODY,
                            '--clear-groups', '--', vmatrace, 'attach', '-o',
                            os.path.join(home, 'b.db'), str(theirs.pid)],
                           env=env, cwd='/', stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    r = as_nobody([vmatrace, 'status'], env)
    tap.ok(r.rc == 0 and str(theirs.pid) in r.text, 'nobody sees its trace in status', r)
    r = as_nobody([vmatrace, 'detach', str(theirs.pid)], env)
    tap.ok(r.rc == 0, 'nobody detaches its own process', r)
    out, err = att.communicate(timeout=60)
    tap.ok(att.returncode == 0 and 'events' in err, 'nobody\'s attach ends with a summary', err)
    theirs.kill()
    theirs.wait()

    r = as_nobody([vmatrace, 'stop'], env)
    tap.ok(r.rc not in (0, None) and 'only root' in r.errtext,
           'nobody cannot stop the system daemon', r)
    r = vtlib.execute([vmatrace, 'stop'], env=env)
    tap.ok(r.rc == 0, 'root stops it', r)
    daemon.wait(timeout=30)
    tap.ok(not os.path.exists(sock), 'the socket is removed on the way out')

    # A user's own daemon: even with its socket reachable, another uid is refused.
    userdir = tempfile.mkdtemp(prefix='vt-user-', dir='/tmp')
    uenv = dict(os.environ, VMATRACE_SOCKET_DIR=userdir)
    r = vtlib.execute([vmatrace, 'run', '-o', s.path('u.db'), '--', '/bin/true'], env=uenv)
    tap.ok(r.rc == 0, 'root\'s own daemon runs', r)
    os.chmod(userdir, 0o755)
    os.chmod(os.path.join(userdir, 'vmatraced.sock'), 0o666)
    r = as_nobody([vmatrace, 'status'], uenv)
    tap.ok(r.rc not in (0, None), 'nobody is refused by root\'s own daemon', r)
    with open(os.path.join(userdir, 'vmatraced.log')) as f:
        log = f.read()
    tap.ok('refused a connection from uid %d' % NOBODY in log,
           'the refusal is logged', log[-2000:])
    os.chmod(userdir, 0o700)
    vtlib.execute([vmatrace, 'stop'], env=uenv)
    shutil.rmtree(userdir, ignore_errors=True)
    shutil.rmtree(sysdir, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)

tap.done()
