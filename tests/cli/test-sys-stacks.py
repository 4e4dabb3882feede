#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""System mode, issue 13 item 4: with --stacks the root daemon opens the files the tracee
maps; a FIFO put at such a path must not freeze it. Alice's traced program loads a library
of its own, moves it away and makes a FIFO of its old name, then calls into it (an mmap
whose stack crosses the library). The run must end, the daemon must answer Bob meanwhile,
and the frames are still named (through /proc/PID/map_files). Acts as two users with
setpriv: needs root."""

import os
import shutil
import subprocess
import sys
import tempfile
import time

import vtlib

tap = vtlib.Tap()
alice, bob = vtlib.test_users(tap)
PY = shutil.which('python3', path='/usr/bin:/bin') or sys.executable  # one alice may run

PROG = r'''
import ctypes, os, shutil, sys
lib, d = sys.argv[1], sys.argv[2]
path = os.path.join(d, 'libswap.so')
shutil.copy(lib, path)
h = ctypes.CDLL(path)
os.rename(path, path + '.moved')
os.mkfifo(path)
h.vtlib_deep_one.restype = ctypes.c_void_p
h.vtlib_deep_one.argtypes = [ctypes.c_size_t]
h.vtlib_deep_one(0x4d000)
print('called', flush=True)
'''

with vtlib.Session(tap) as s:
    d = vtlib.SystemDaemon(tap)
    home = tempfile.mkdtemp(prefix='vt-stk-', dir='/tmp')
    os.chown(home, *alice)
    try:
        lib = os.path.join(os.path.dirname(vtlib.prog('stacks')), 'libstackdemo.so')
        db = os.path.join(home, 's.db')
        argv = vtlib.as_user(alice) + [s.vmatrace, 'run', '--stacks', '-o', db, '--',
                                       PY, '-c', PROG, lib, home]
        run = subprocess.Popen(argv, env=d.env, cwd=home, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True)
        time.sleep(3)
        st = vtlib.execute(vtlib.as_user(bob) + [s.vmatrace, 'status'], env=d.env, timeout=5,
                           cwd='/')
        tap.ok(st.rc == 0, 'the daemon answers bob while alice\'s program runs', st)
        try:
            out, err = run.communicate(timeout=30)
            r = vtlib.Result(argv, run.returncode, out, err)
        except subprocess.TimeoutExpired:
            # A daemon frozen in open() holds the tracee (and its end of our pipes): kill
            # the daemon first, and the tracee dies with it (PTRACE_O_EXITKILL).
            d.proc.kill()
            os.killpg(run.pid, 9)
            out, err = run.communicate()
            r = vtlib.Result(argv, None, out, err, timed_out=True)
        tap.ok(r.rc == 0 and r.text == 'called\n',
               'alice\'s run ends: the FIFO at the library\'s old path froze nothing', r)
        ev = vtlib.execute(vtlib.as_user(alice) + [s.vmatrace, 'events', '-d', db, '--stacks',
                                                   '--syscall', 'mmap'], env=d.env,
                           timeout=60, cwd=home)
        # named as /proc/PID/maps names the library now: its new name (daemon/names.c)
        tap.ok(ev.rc == 0 and 'libswap.so.moved(vtlib_deep_two+' in ev.text,
               'the library\'s frames are named all the same', ev)
        tap.ok(d.alive(), 'the daemon is still up')
    finally:
        d.close()
        shutil.rmtree(home, ignore_errors=True)

tap.done()
