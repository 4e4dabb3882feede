#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-output: where the query commands write, and what they say when they cannot.

- Write errors: every query command with its standard output on /dev/full exits non-zero
  with exactly one line, "vmatrace: write error: No space left on device" (issue 13, 9),
  and does not blame the DB.
- -o of export and timeline (issue 13, 8): a symlink stays a symlink (its target gets the
  output), a FIFO stays a FIFO (its reader gets the output), a character device stays
  one (root only: a node of our own, never /dev/full itself), /dev/fd/N (a shell's
  >(cmd)) and '-' work; a regular file is still replaced whole.
"""
import json
import os
import select
import stat
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vtlib  # noqa: E402

tap = vtlib.Tap()
FULL = 'vmatrace: write error: No space left on device\n'


def to_full(s, *args):
    """`vmatrace ARGS...` with standard output on /dev/full: (rc, stderr text)."""
    with open('/dev/full', 'wb') as full:
        p = subprocess.run([s.vmatrace] + [str(a) for a in args], env=s.env, cwd=s.workdir,
                           stdin=subprocess.DEVNULL, stdout=full, stderr=subprocess.PIPE,
                           timeout=120)
    return p.returncode, p.stderr.decode('utf-8', 'replace')


def check_write_errors(s, db, pid, addr):
    cmds = [
        ('maps', '--pid', pid), ('maps', '--pid', pid, '--json'), ('ps',), ('ps', '--json'),
        ('stats',), ('stats', '--json'), ('history', addr), ('history', '--json', addr),
        ('diff', '--pid', pid, 1, 2), ('replay', '--pid', pid, '--plain'),
        ('replay', '--pid', pid, '--json'), ('events',), ('events', '--json'),
        ('sql', 'SELECT * FROM event'), ('export', '--perfetto', '-o', '-'),
        ('timeline', '-o', '-'),
    ]
    for c in cmds:
        rc, err = to_full(s, c[0], '-d', db, *c[1:])
        tap.ok(rc != 0 and err == FULL, '%s > /dev/full: exit %d and one line "write error"'
               % (' '.join(map(str, c)), rc), 'stderr: %r' % err)


def drain(fd, into, done):
    """Read @fd into @into until @done is set and nothing more comes."""
    while True:
        rd, _, _ = select.select([fd], [], [], 0.2)
        if rd:
            into.append(os.read(fd, 65536))
        elif done.is_set():
            return


def check_output_files(s, db):
    # A symlink: written through, still a link.
    target, link = s.path('target.json'), s.path('link.json')
    with open(target, 'w') as f:
        f.write('old')
    os.symlink('target.json', link)
    r = s.cmd('export', '-d', db, '--perfetto', '-o', link)
    tap.ok(r.rc == 0 and os.path.islink(link), 'export -o SYMLINK leaves the symlink', r)
    with open(target) as f:
        text = f.read()
    tap.ok(text.startswith('{"displayTimeUnit"'), 'its target holds the export', text[:80])

    # A FIFO: its reader gets the output, the FIFO stays.
    for cmd in (('export', '--perfetto'), ('timeline',)):
        fifo = s.path('out.fifo')
        if os.path.lexists(fifo):
            os.unlink(fifo)
        os.mkfifo(fifo)
        # Held open for reading and writing: the command's open never blocks, and
        # neither does this test if the command replaces the FIFO instead.
        fd = os.open(fifo, os.O_RDWR)
        got, done = [], threading.Event()
        t = threading.Thread(target=drain, args=(fd, got, done), daemon=True)
        t.start()
        r = s.cmd(cmd[0], '-d', db, *cmd[1:], '-o', fifo, timeout=60)
        done.set()
        t.join(30)
        os.close(fd)
        data = b''.join(got)
        tap.ok(r.rc == 0 and stat.S_ISFIFO(os.lstat(fifo).st_mode),
               '%s -o FIFO exits 0 and leaves the FIFO' % cmd[0], r)
        tap.ok(data.startswith(b'{"displayTimeUnit"' if cmd[0] == 'export' else b'<svg'),
               '%s -o FIFO: the reader gets the output' % cmd[0], data[:80])

    # /dev/fd/N, what bash's >(cmd) passes.
    for cmd in (('export', '--perfetto'), ('timeline',)):
        rfd, wfd = os.pipe()
        p = subprocess.Popen([s.vmatrace, cmd[0], '-d', db] + list(cmd[1:]) +
                             ['-o', '/dev/fd/%d' % wfd], env=s.env, cwd=s.workdir,
                             pass_fds=(wfd,), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        os.close(wfd)
        with os.fdopen(rfd, 'rb') as f:
            data = f.read()
        out, err = p.communicate(timeout=60)
        tap.ok(p.returncode == 0 and data.startswith(b'{' if cmd[0] == 'export' else b'<svg'),
               '%s -o /dev/fd/N (>(cmd)) writes into the pipe' % cmd[0],
               'rc %s, stderr %r, data %r' % (p.returncode, err, data[:80]))

    # '-': standard output.
    r = s.cmd('timeline', '-d', db, '-o', '-')
    tap.ok(r.rc == 0 and r.out.startswith(b'<svg'), 'timeline -o - writes SVG on stdout', r)
    r = s.cmd('export', '-d', db, '--perfetto', '-o', '-')
    tap.ok(r.rc == 0 and json.loads(r.text).get('traceEvents'), 'export -o - writes JSON', r)

    # A character device of our own (/dev/full's numbers): written in place, kept.
    node = s.path('full.node')
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    except OSError as e:
        for cmd in ('export', 'timeline'):
            tap.skip('%s -o DEVICE keeps the device' % cmd, 'cannot mknod: %s' % e)
    else:
        for cmd in (('export', '--perfetto'), ('timeline',)):
            r = s.cmd(cmd[0], '-d', db, *cmd[1:], '-o', node)
            st = os.lstat(node)
            tap.ok(stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 7),
                   '%s -o DEVICE keeps the device node' % cmd[0], r)
            tap.ok(r.rc == 1 and r.errtext == 'vmatrace: %s: cannot write \'%s\': No space '
                   'left on device\n' % (cmd[0], node),
                   '%s -o DEVICE (full): one line, exit 1' % cmd[0], r)
        leftovers = [n for n in os.listdir(s.workdir) if '.tmp' in n]
        tap.eq(leftovers, [], 'no temporary file left behind')

    # A regular file: replaced whole, as before.
    reg = s.path('reg.svg')
    with open(reg, 'w') as f:
        f.write('old')
    r = s.cmd('timeline', '-d', db, '-o', reg)
    with open(reg, 'rb') as f:
        data = f.read()
    tap.ok(r.rc == 0 and data.startswith(b'<svg') and data.rstrip().endswith(b'</svg>'),
           'timeline -o FILE.svg replaces a regular file', r)


def main():
    with vtlib.Session(tap) as s:
        db = s.path('m.db')
        r = s.run([vtlib.prog('memops')], db)
        if not tap.ok(r.rc == 0, 'memops traced', r):
            return
        pid = json.loads(s.cmd('ps', '-d', db, '--json').text.splitlines()[0])['pid']
        maps = s.cmd('maps', '-d', db, '--pid', pid, '--json')
        addr = hex(json.loads(maps.text.splitlines()[0])['start'])
        check_write_errors(s, db, pid, addr)
        check_output_files(s, db)


main()
tap.done()
