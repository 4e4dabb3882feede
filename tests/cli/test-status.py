#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-status: a traced program ends, stops and writes as it would untraced, and `vmatrace
run` and `vmatrace events` handle bad input with one line and a non-zero exit.

Uses tests/progs/status: `status exit N`, `status signal SIG`, `status stop`, `status
output`. Each case is also run natively, and the two are compared.
"""
import os
import re
import select
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vtlib  # noqa: E402

tap = vtlib.Tap()

SUMMARY = re.compile(r'^vmatrace: (\d+) events?, (\d+) process(?:es)?, (\d+) address spaces? '
                     r'-> (.+)$')


def summary_lines(err):
    return [l for l in err.decode('utf-8', 'replace').splitlines() if l.startswith('vmatrace:')]


def check_exit_codes(s, prog):
    for code in (0, 3, 42):
        db = s.path('exit%d.db' % code)
        r = s.run([prog, 'exit', str(code)], db)
        tap.eq(r.rc, code, 'exit %d passes through' % code, r)
        evs = s.events(db) if os.path.exists(db) else []
        ex = vtlib.exits(evs).get(evs[0]['pid'] if evs else -1)
        tap.ok(ex is not None and ex.get('exit_code') == code and ex.get('status') == code << 8,
               'exit %d: +exit event with status %d, exit_code %d' % (code, code << 8, code), ex)


def check_signals(s, prog):
    for name, num in (('TERM', 15), ('KILL', 9), ('SEGV', 11)):
        native = vtlib.execute([prog, 'signal', name])
        db = s.path('sig%s.db' % name)
        r = s.run([prog, 'signal', name], db)
        tap.eq(native.rc, -num, 'natively, signal %s kills status' % name, native)
        tap.eq(r.rc, 128 + num, 'SIG%s: vmatrace run exits %d' % (name, 128 + num), r)
        evs = s.events(db) if os.path.exists(db) else []
        ex = vtlib.exits(evs).get(evs[0]['pid'] if evs else -1)
        tap.ok(ex is not None and ex.get('signal') == 'SIG' + name and ex.get('status') == num
               and 'exit_code' not in ex and not ex.get('core_dumped'),
               'SIG%s: +exit event with status %d, signal SIG%s, no core' % (name, num, name), ex)
        t = s.cmd('events', '-d', db)
        last = t.text.splitlines()[-1:] if t.rc == 0 else []
        tap.eq(last, ['[%d] +++ killed by SIG%s +++' % (ex['pid'] if ex else 0, name)],
               'SIG%s: text ends with "+++ killed by SIG%s +++"' % (name, name), t)


def check_output(s, prog):
    native = vtlib.execute([prog, 'output'])
    tap.ok(native.rc == 0 and b'\0' in native.out and native.err, 'natively, status output works',
           native)
    db = s.path('output.db')
    r = s.run([prog, 'output'], db)
    tap.eq(r.rc, 0, 'status output under vmatrace exits 0', r)
    tap.eq(r.out, native.out, 'stdout passes through byte for byte')
    tap.ok(r.err.startswith(native.err), 'stderr passes through byte for byte, before the summary',
           'native: %r' % native.err, 'traced: %r' % r.err)
    rest = r.err[len(native.err):].decode('utf-8', 'replace')
    # The program's last stderr line has no newline: the summary follows it directly.
    lines = rest.splitlines()
    tap.ok(len(lines) == 1 and SUMMARY.match(lines[0]),
           'after the program\'s stderr comes one summary line', repr(rest))


def check_summary(s, prog):
    db = s.path('summary.db')
    r = s.run([prog, 'exit', '0'], db)
    lines = summary_lines(r.err)
    m = SUMMARY.match(lines[0]) if len(lines) == 1 else None
    if not tap.ok(m, 'one summary line: "vmatrace: N events, N process, N address space -> DB"',
                  r):
        return
    evs = s.events(db)
    n, procs, mms, path = int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)
    tap.eq(path, db, 'summary names the DB as given to -o')
    tap.eq(n, len(evs), 'summary event count is the number of events in the DB (+exit '
           'included)')
    tap.eq((procs, mms), (1, 1), 'one process, one address space for a plain program', r)
    tap.ok(', 1 process, 1 address space -> ' in lines[0], 'summary uses the singular for 1',
           lines[0])
    tap.eq(len({e['pid'] for e in evs}), procs, 'summary process count matches the DB')


def proc_state(pid):
    """(state letter, comm) from /proc/PID/stat, or (None, None)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            data = f.read()
    except OSError:
        return None, None
    comm = data[data.index('(') + 1:data.rindex(')')]
    return data[data.rindex(')') + 2], comm


def children(pid):
    try:
        with open('/proc/%d/task/%d/children' % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        pass
    res = []
    for d in os.listdir('/proc'):
        if d.isdigit():
            try:
                with open('/proc/%s/stat' % d) as f:
                    data = f.read()
                if int(data[data.rindex(')') + 2:].split()[1]) == pid:
                    res.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return res


def read_line(pipe, deadline):
    """A line from @pipe (raw fd reads), or b'' at @deadline or EOF."""
    buf = b''
    while not buf.endswith(b'\n'):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([pipe], [], [], left)[0]:
            return buf
        c = os.read(pipe.fileno(), 1)
        if not c:
            return buf
        buf += c
    return buf


def stop_cont(argv, traced, label):
    """Run @argv (the program, or vmatrace run ... the program); once it printed "stopping"
    and stays stopped, check it does not go on by itself, then SIGCONT it. Bounded: about
    40 s in the worst case. Returns a list of failures (empty when all went well)."""
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True, env=traced)
    fails = []
    try:
        line = read_line(p.stdout, time.monotonic() + 30)
        if line != b'stopping\n':
            return ['no "stopping" line: %r' % line]
        # The process that stops: the program itself, or the child of `vmatrace run`.
        target = p.pid
        if label == 'traced':
            deadline = time.monotonic() + 10
            kids = []
            while time.monotonic() < deadline and not kids:
                kids = [c for c in children(p.pid) if proc_state(c)[1] == 'status']
                time.sleep(0.02)
            if not kids:
                return ['cannot find the traced child of vmatrace run (pid %d)' % p.pid]
            target = kids[0]
        # Stopped for 0.5 s in a row: a group-stop, not a passing ptrace stop.
        deadline = time.monotonic() + 10
        since, states = None, set()
        while time.monotonic() < deadline:
            st = proc_state(target)[0]
            states.add(st)
            if st in ('T', 't'):
                since = since or time.monotonic()
                if time.monotonic() - since >= 0.5:
                    break
            else:
                since = None
            time.sleep(0.02)
        else:
            return ['the program did not stay stopped (states seen: %s)' % sorted(map(str, states))]
        tap.diag('%s: stopped, /proc state %s' % (label, proc_state(target)[0]))
        # Stopped means stopped: nothing more for a second.
        if read_line(p.stdout, time.monotonic() + 1.0):
            fails.append('the program went on without SIGCONT')
        # Continue it; resend in case it was not yet in its group-stop (bounded).
        deadline = time.monotonic() + 20
        while p.poll() is None and time.monotonic() < deadline:
            try:
                os.kill(target, signal.SIGCONT)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        if p.poll() is None:
            return fails + ['still running 20 s after SIGCONT']
        out = p.stdout.read()
        if out != b'continued\n':
            fails.append('after SIGCONT the program printed %r, not "continued"' % out)
        if p.returncode != 0:
            fails.append('exit status %s, not 0; stderr %r' % (p.returncode, p.stderr.read()))
        return fails
    finally:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        p.stdout.close()
        p.stderr.close()


def check_stop(s, prog):
    fails = stop_cont([prog, 'stop'], None, 'native')
    tap.ok(not fails, 'natively, status stop stops until SIGCONT, then exits 0', *fails)
    db = s.path('stop.db')
    fails = stop_cont([s.vmatrace, 'run', '-o', db, '--', prog, 'stop'], s.env, 'traced')
    tap.ok(not fails, 'traced, SIGSTOP stops the program until SIGCONT, then it exits 0', *fails)


def files_in(d):
    return sorted(os.listdir(d))


def check_missing_program(s):
    for what in ('/nonexistent/dir/prog', 'no-such-program-vt'):
        d = s.path('missing-%d' % len(what))
        os.mkdir(d)
        db = os.path.join(d, 'x.db')
        r = s.run([what, 'arg'], db, cwd=d)
        tap.ok(r.rc == 127 and len(r.err.splitlines()) == 1 and not r.out,
               'missing program %s: exit 127, one line on stderr' % what, r)
        tap.eq(files_in(d), [], 'missing program %s: no DB created' % what)


def check_db_old(s, prog):
    db = s.path('again.db')
    r1 = s.run([prog, 'exit', '3'], db)
    first = s.events(db) if r1.rc == 3 else []
    r2 = s.run([prog, 'exit', '4'], db)
    tap.ok(r1.rc == 3 and r2.rc == 4, 'two runs into the same DB', r1, r2)
    tap.ok(os.path.exists(db + '.old'), 'the first DB is kept as DB.old', files_in(s.workdir))
    if os.path.exists(db + '.old'):
        old = s.events(db + '.old')
        tap.eq([(e['seq'], e['syscall'], e.get('ret')) for e in old],
               [(e['seq'], e['syscall'], e.get('ret')) for e in first],
               'DB.old holds the first run\'s events')
    new = s.events(db)
    ex = [e for e in new if e['syscall'] == '+exit']
    tap.ok(ex and ex[-1].get('exit_code') == 4, 'DB holds the second run', ex)


def check_foreign_output(s, prog):
    for name, content in (('notes.txt', b'hello, not a DB\n'),
                          ('image.db', bytes(range(256)) * 16)):
        path = s.path(name)
        with open(path, 'wb') as f:
            f.write(content)
        before = files_in(s.workdir)
        r = s.run([prog, 'output'], path)
        with open(path, 'rb') as f:
            after = f.read()
        tap.ok(r.rc not in (0, None) and len(r.err.splitlines()) == 1 and not r.out,
               '-o %s (not a vmatrace DB): refused with one line, program not run' % name, r)
        tap.eq(after, content, '-o %s: the file is untouched' % name)
        tap.eq(files_in(s.workdir), before, '-o %s: no file created or renamed' % name)


def check_events_bad_db(s):
    text = s.path('text.db')
    with open(text, 'w') as f:
        f.write('just some text\n' * 100)
    empty = s.path('empty-events.db')
    open(empty, 'w').close()
    missing = s.path('missing.db')
    for path, what in ((text, 'a text file'), (empty, 'an empty file'),
                       (missing, 'a missing file')):
        before = files_in(s.workdir)
        size = os.path.getsize(path) if os.path.exists(path) else None
        r = s.cmd('events', '-d', path)
        tap.ok(r.rc not in (0, None) and len(r.err.splitlines()) == 1 and not r.out and
               os.path.basename(path).encode() in r.err,
               'events on %s: non-zero exit, one line on stderr naming it' % what, r)
        tap.eq((files_in(s.workdir), os.path.getsize(path) if os.path.exists(path) else None),
               (before, size), 'events on %s: nothing written' % what)


def main():
    prog = vtlib.prog('status')
    with vtlib.Session(tap) as s:
        check_exit_codes(s, prog)
        check_signals(s, prog)
        check_output(s, prog)
        check_summary(s, prog)
        check_stop(s, prog)
        check_missing_program(s)
        check_db_old(s, prog)
        check_foreign_output(s, prog)
        check_events_bad_db(s)


main()
tap.done()
