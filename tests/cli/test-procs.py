#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-procs: threads, processes and address spaces as vmatrace records them.

- threads: 4 pthreads each mmap/munmap NITER regions of 3 pages: their events carry their
  own tids, one pid and one mm; each has a +exit.
- forks: a fork child (own mm, exit 3), a vfork child that execs /bin/true, a vfork child
  that maps in the shared mm and exits 4, a posix_spawn child, a fork child that re-execs
  the binary (mmaps 7 pages, exits 5); the parent's clone/vfork results are the children's
  pids, and each child's +exit has the status the parent saw.
- exec-thread: a non-leader thread execs; the pid stays, the new image exits 7, and the ends
  of the threads the exec killed are recorded.
- park-kill: threads killed by exit_group out of stops that wait in the daemon's order, and
  clones whose creator dies before its event: the daemon survives, nothing stays stopped.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vtlib  # noqa: E402

tap = vtlib.Tap()
PG = os.sysconf('SC_PAGESIZE')
NITER = 20


def first_seq(evs, pid):
    return min((e['seq'] for e in evs if e['pid'] == pid), default=None)


def mms_of(evs, pid, after_seq=0):
    return {e['mm'] for e in evs if e['pid'] == pid and e['seq'] > after_seq}


def check_threads(s):
    prog = vtlib.prog('threads')
    db = s.path('threads.db')
    r = s.run([prog, str(NITER)], db)
    if not tap.ok(r.rc == 0, 'threads exits 0 under vmatrace', r):
        return
    th = vtlib.parse_kv(r.text, 'THREAD')
    pid = vtlib.parse_kv(r.text, 'PID')[0]['_args'][0]
    pid = int(pid)
    tids = [t['tid'] for t in th]
    tap.ok(len(tids) == 4 and len(set(tids)) == 4 and pid not in tids,
           'threads printed 4 distinct tids, none the pid', r)
    evs = s.events(db)
    tap.eq({e['pid'] for e in evs}, {pid}, 'all events carry the one pid')
    tap.eq(len({e['mm'] for e in evs}), 1, 'all events (threads included) share one mm')
    seen = sorted({e['tid'] for e in evs if e['tid'] != pid})
    tap.eq(seen, sorted(tids), 'events name exactly the 4 thread tids besides the leader')
    for t in tids:
        mine = [e for e in evs if e['tid'] == t]
        n_map = sum(1 for e in mine if e['syscall'] == 'mmap' and e['args'][1] == 3 * PG and
                    e['ret'] > 0)
        n_unmap = sum(1 for e in mine if e['syscall'] == 'munmap' and e['args'][1] == 3 * PG and
                      e['ret'] == 0)
        tap.eq((n_map, n_unmap), (NITER, NITER),
               'thread %d: %d mmaps and %d munmaps of 3 pages' % (t, NITER, NITER))
        ex = vtlib.exits(evs).get(t)
        tap.ok(ex is not None and ex.get('exit_code') == 0,
               'thread %d: +exit with exit_code 0' % t, ex)
        last = vtlib.syscalls(mine)[-1:]
        tap.ok(last and last[0]['syscall'] == 'exit', 'thread %d: its last syscall is exit' % t,
               last)
    t = s.cmd('events', '-d', db, '--tid', str(tids[0]))
    lines = t.text.splitlines() if t.rc == 0 else []
    tap.ok(lines and all(l.startswith('[%d/%d] ' % (pid, tids[0])) for l in lines) and
           len(lines) == sum(1 for e in evs if e['tid'] == tids[0]),
           'text: a thread\'s events are prefixed [pid/tid], --tid selects them', t)
    # The leader's clone/clone3 results are the tids, and each thread starts after its clone.
    clones = [e for e in evs if e['tid'] == pid and e['syscall'] in ('clone', 'clone3')
              and e['ret'] > 0]
    tap.eq(sorted(e['ret'] for e in clones), sorted(tids),
           'the leader\'s clone results are the thread tids')
    late = [c for c in clones
            if min((e['seq'] for e in evs if e['tid'] == c['ret']), default=0) < c['seq']]
    tap.ok(not late, 'no thread has an event before the clone that created it', *late)
    ex = vtlib.exits(evs).get(pid)
    tap.ok(ex is not None and ex.get('exit_code') == 0, 'leader: +exit with exit_code 0', ex)
    tap.eq(max(e['seq'] for e in evs), ex and ex['seq'], 'the leader\'s +exit is the last event')


def check_forks(s):
    prog = vtlib.prog('forks')
    db = s.path('forks.db')
    r = s.run([prog], db)
    if not tap.ok(r.rc == 0, 'forks exits 0 under vmatrace', r):
        return
    keys = ('FORK', 'VFORK', 'VFORK2', 'SPAWN', 'REEXEC', 'SECOND', 'PARENT')
    out = {k: vtlib.parse_kv(r.text, k) for k in keys}
    if not tap.ok(all(len(v) == 1 for v in out.values()), 'forks printed its report', r):
        return
    out = {k: v[0] for k, v in out.items()}
    parent = out['PARENT']['pid']
    kids = [out[k]['pid'] for k in ('FORK', 'VFORK', 'VFORK2', 'SPAWN', 'REEXEC')]
    c_fork, c_vfork, c_vfork2, c_spawn, c_re = kids
    tap.eq([out[k]['status'] for k in ('FORK', 'VFORK', 'VFORK2', 'SPAWN', 'REEXEC')],
           [3 << 8, 0, 4 << 8, 0, 5 << 8], 'the parent saw exit 3, 0, 4, 0 and 5')
    tap.eq(out['SECOND']['pid'], c_re, 'the second image runs in the re-exec child')

    evs = s.events(db)
    tap.eq(sorted({e['pid'] for e in evs}), sorted([parent] + kids),
           'events name the parent and its 5 children, nothing else')
    win = vtlib.window(evs, parent) or []
    # posix_spawn maps a stack for its child, clones (clone3 with CLONE_VM|CLONE_VFORK in
    # glibc >= 2.34, clone before) and unmaps the stack.
    got = [(e['syscall'], 'ADDR' if e['syscall'] == 'mmap' and e['ret'] > 0 else e['ret'])
           for e in win]
    spawn_call = next((e['syscall'] for e in win if e['ret'] == c_spawn), 'clone3')
    tap.eq(got, [('clone', c_fork), ('vfork', c_vfork), ('vfork', c_vfork2), ('munmap', 0),
                 ('mmap', 'ADDR'),
                 (spawn_call if spawn_call in ('clone', 'clone3') else 'clone3', c_spawn),
                 ('munmap', 0), ('clone', c_re)],
           'the parent\'s window: clone, vfork, vfork, munmap, [mmap, clone3, munmap], clone, '
           'returning the children\'s pids')
    makers = [e for e in win if e['syscall'] in ('clone', 'clone3', 'vfork')]
    for c, e in zip(kids, makers):
        tap.ok(first_seq(evs, c) is not None and first_seq(evs, c) > e['seq'],
               'child %d: its events come after the %s that made it' % (c, e['syscall']))
    pmm = mms_of(evs, parent)
    tap.eq(len(pmm), 1, 'the parent keeps one mm')
    exits = vtlib.exits(evs)

    # fork child: its own mm (a copy), one 5-page mmap, exit_group(3).
    mine = vtlib.syscalls([e for e in evs if e['pid'] == c_fork])
    tap.eq([(e['syscall'], e['args'][1] if e['syscall'] == 'mmap' else e['args'][0])
            for e in mine], [('mmap', 5 * PG), ('exit_group', 3)],
           'fork child: mmap of 5 pages, exit_group(3)')
    fmm = mms_of(evs, c_fork)
    tap.ok(len(fmm) == 1 and not (fmm & pmm), 'fork child: its own mm, not the parent\'s',
           fmm, pmm)
    ex = exits.get(c_fork)
    tap.ok(ex and ex.get('exit_code') == 3 and ex.get('status') == 3 << 8,
           'fork child: +exit status 768, exit_code 3', ex)

    # vfork child: execve("/bin/true") = 0, then the new image, exit 0.
    for c, what in ((c_vfork, 'vfork child'), (c_spawn, 'posix_spawn child')):
        mine = vtlib.syscalls([e for e in evs if e['pid'] == c])
        ex0 = mine[0] if mine else {}
        tap.ok(ex0.get('syscall') == 'execve' and ex0.get('path') == '/bin/true' and
               ex0.get('argv') == ['true'] and ex0.get('ret') == 0,
               '%s: first event execve("/bin/true", ["true"]) = 0' % what, ex0)
        after = mms_of(evs, c, ex0.get('seq', 0))
        tap.ok(len(after) == 1 and not (after & pmm), '%s: a new mm after its exec' % what,
               after, pmm)
        ex = exits.get(c)
        tap.ok(ex and ex.get('exit_code') == 0 and ex.get('status') == 0,
               '%s: +exit status 0' % what, ex)

    # vfork child that maps in the parent's address space and _exits(4).
    mine = vtlib.syscalls([e for e in evs if e['pid'] == c_vfork2])
    tap.eq([(e['syscall'], e['ret'] if e['syscall'] == 'mmap' else e['args'][0])
            for e in mine], [('mmap', out['VFORK2']['mmap']), ('exit_group', 4)],
           'vfork child 2: mmap (the address the parent saw), exit_group(4)')
    tap.ok(mine and all(e['mm'] in pmm for e in mine),
           'vfork child 2: its events are in the parent\'s mm (shared until exec or exit)',
           pmm, mine)
    unmap = [e for e in win if e['syscall'] == 'munmap']
    tap.ok(unmap and unmap[0]['args'][0] == out['VFORK2']['mmap'],
           'the parent unmaps what its vfork child mapped', unmap)
    ex = exits.get(c_vfork2)
    tap.ok(ex and ex.get('exit_code') == 4, 'vfork child 2: +exit with exit_code 4', ex)

    # re-exec child: execve of /proc/self/exe "second", mmap of 7 pages, exit_group(5).
    mine = vtlib.syscalls([e for e in evs if e['pid'] == c_re])
    ex0 = next((e for e in mine if e['syscall'] == 'execve'), {})
    tap.ok(ex0.get('path') == '/proc/self/exe' and ex0.get('argv') == [prog, 'second'] and
           ex0.get('ret') == 0, 're-exec child: execve("/proc/self/exe", [PROG, "second"]) = 0',
           ex0)
    tap.eq(mine[0].get('seq') if mine else None, ex0.get('seq'),
           're-exec child: execve is its first syscall event')
    after = [e for e in mine if e['seq'] > ex0.get('seq', 0)]
    big = [e for e in after if e['syscall'] == 'mmap' and e['args'][1] == 7 * PG]
    tap.ok(len(big) == 1 and big[0]['ret'] == out['SECOND']['mmap'],
           're-exec child: the second image\'s 7-page mmap, with the address it printed', big)
    tap.ok(after and after[-1]['syscall'] == 'exit_group' and after[-1]['args'] == [5],
           're-exec child: ends with exit_group(5)', after[-1:])
    rmm = mms_of(evs, c_re, ex0.get('seq', 0))
    tap.ok(len(rmm) == 1 and not (rmm & (pmm | fmm)), 're-exec child: a new mm after its exec',
           rmm)
    ex = exits.get(c_re)
    tap.ok(ex and ex.get('exit_code') == 5 and ex.get('status') == 5 << 8,
           're-exec child: +exit status 1280, exit_code 5', ex)

    ex = exits.get(parent)
    tap.ok(ex and ex.get('exit_code') == 0, 'parent: +exit with exit_code 0', ex)
    m = [l for l in r.errtext.splitlines() if l.startswith('vmatrace: ')]
    tap.ok(m and ' 6 processes, ' in m[0], 'summary counts 6 processes', r.errtext)

    # ps: the tree, statuses, programs and mms agree with the events.
    r = s.cmd('ps', '-d', db)
    rows = {}
    for line in r.text.split('\n\n')[0].splitlines()[1:]:
        f = line.split(None, 6)
        if len(f) == 7 and f[0].isdigit():
            rows[int(f[0])] = f
    tap.eq(sorted(rows), sorted([parent] + kids), 'ps lists the parent and its 5 children', r)
    want = {parent: 'exit 0', c_fork: 'exit 3', c_vfork: 'exit 0', c_vfork2: 'exit 4',
            c_spawn: 'exit 0', c_re: 'exit 5'}
    got = {p: ' '.join(rows[p][4:6]) if p in rows else None for p in want}
    tap.eq(got, want, 'ps: exit statuses')
    tap.ok(all(int(rows[c][1]) == parent for c in kids if c in rows),
           'ps: every child has the parent as PPID')
    tap.ok(c_re in rows and '\\_ ' in rows[c_re][6] and 'forks' in rows[c_re][6],
           'ps: the re-exec child is drawn under its parent, with its program', rows.get(c_re))
    users = [l for l in r.text.splitlines() if l.strip() and l.split()[0] == str(min(pmm))]
    tap.ok(users and '@' in users[-1],
           'ps: the parent\'s mm has an mm_users history', r.text)


def check_exec_thread(s):
    prog = vtlib.prog('exec-thread')
    db = s.path('exec-thread.db')
    r = s.run([prog], db)
    tap.eq(r.rc, 7, 'exec-thread exits 7 under vmatrace (the new image\'s status)', r)
    before = vtlib.parse_kv(r.text, 'before')
    after = vtlib.parse_kv(r.text, 'after')
    if not tap.ok(len(before) == 1 and len(after) == 1, 'exec-thread printed before and after',
                  r):
        return
    b, a = before[0], after[0]
    pid, sleeper, execer = b['pid'], b['sleeper'], b['execer']
    tap.ok(a['pid'] == pid and a['tid'] == pid,
           'after the exec the pid is the same and the execing thread took it', r.text)

    evs = s.events(db)
    tap.eq({e['pid'] for e in evs}, {pid}, 'all events carry the one pid')
    execs = [e for e in evs if e['syscall'] == 'execve']
    tap.eq(len(execs), 2, 'two execve events: the program\'s and the thread\'s')
    if len(execs) != 2:
        return
    ex = execs[1]
    tap.ok(ex['ret'] == 0 and ex.get('path') == '/proc/self/exe' and
           ex.get('argv') == [prog, 'after'] and ex['pid'] == pid,
           'the thread\'s execve("/proc/self/exe", [PROG, "after"]) = 0 in pid %d' % pid, ex)
    tap.ok(ex['tid'] in (execer, pid), 'the execve event names the execing thread '
           '(old tid %d or new tid %d)' % (execer, pid), ex)
    post = [e for e in evs if e['seq'] > ex['seq'] and e['syscall'] != '+exit']
    tap.ok(post and all(e['tid'] == pid for e in post),
           'after the exec, every syscall event is from tid %d' % pid,
           *[e for e in post if e['tid'] != pid][:3])
    pre_mm = {e['mm'] for e in evs if e['seq'] < ex['seq']}
    post_mm = {e['mm'] for e in post}
    tap.ok(len(post_mm) == 1 and not (post_mm & pre_mm), 'the new image has a new mm',
           pre_mm, post_mm)
    ends = [e for e in evs if e['syscall'] == '+exit']
    final = [e for e in ends if e['tid'] == pid and e['seq'] > ex['seq']]
    tap.ok(len(final) == 1 and final[0].get('exit_code') == 7 and final[0]['seq'] ==
           max(e['seq'] for e in evs), 'the last event is the +exit of tid %d, exit_code 7' % pid,
           final)
    tap.ok(any(e['tid'] == sleeper for e in ends), 'the sleeper thread\'s end is recorded',
           ends)
    tap.ok(any(e['tid'] == pid and e not in final for e in ends),
           'the old leader\'s end is recorded (a +exit of tid %d besides the final one)' % pid,
           ends)
    tap.ok(len(ends) == len({(e['tid'], e['seq']) for e in ends}) and
           sum(1 for e in ends if e['tid'] == sleeper) == 1, 'each thread ends once', ends)


def check_clone_exec(s):
    """A thread killed inside clone by its new sibling's exec: its clone's exit stop never
    comes, and the stored result is still the new thread's tid, never 0."""
    db = s.path('clone-exec.db')
    r = s.run([vtlib.prog('clone-exec'), '30'], db)
    tap.ok(r.rc == 0 and 'ok=30' in r.text, 'clone-exec: 30 children exec from a new thread', r)
    evs = s.events(db)
    clones = [e for e in evs if e.get('syscall') == 'clone' and e['args'][0] & 0x10000]
    execs = {e['pid']: e for e in evs if e.get('syscall') == 'execve' and e.get('ret') == 0}
    bad = [e for e in clones if not isinstance(e.get('ret'), int) or e['ret'] <= 0]
    tap.ok(len(clones) == 30 and not bad,
           'clone-exec: every thread clone (%d) has the new tid as its result' % len(clones),
           bad[:5])
    tap.ok(len(execs) >= 30, 'clone-exec: the exec of each child is recorded (%d)' % len(execs))


def traced_by(pid):
    """The pids whose TracerPid is @pid."""
    return [int(d) for d in os.listdir('/proc')
            if d.isdigit() and vtlib.tracer_of(int(d)) == pid]


def check_park_kill(s):
    """Threads killed by exit_group while their stops (a signal, a clone, a fork) wait in
    the daemon's order for other threads' map changes, and clones whose creator dies before
    its event: the daemon survives, every process of the trace ends (none is left stopped),
    and the model still equals the kernel."""
    prog = vtlib.prog('park-kill')
    for i in range(5):
        db = s.path('park-kill-%d.db' % i)
        r = vtlib.execute([s.vmatrace, 'run', '--verify', '-o', db, '--', prog, '20', '4'],
                          env=s.env, cwd=s.workdir, timeout=vtlib.RUN_TIMEOUT)
        m = re.search(r'verify: (\d+) events? checked, (\d+) diverged', r.errtext)
        if not tap.ok(r.rc == 0 and 'rounds=20 ok=20' in r.text and m and m.group(2) == '0',
                      'park-kill run %d: 20 children killed mid-flight, exit 0, 0 diverged'
                      % (i + 1), r.errtext[-2000:] + s.daemon_log()):
            return
        q = s.cmd('sql', '-d', db, '--list',
                  'SELECT count(*) FROM process WHERE end_seq IS NULL')
        tap.eq(q.text.split()[-1:], ['0'],
               'park-kill run %d: every recorded process ended' % (i + 1))
    st = s.cmd('status')
    tap.ok(st.rc == 0, 'park-kill: the daemon still answers', st)
    m = re.search(r'vmatraced\[(\d+)\]', s.daemon_log())
    left = traced_by(int(m.group(1))) if m else ['no daemon pid in the log']
    tap.eq(left, [], 'park-kill: no process is left stopped under the daemon')


def main():
    with vtlib.Session(tap) as s:
        check_threads(s)
        check_forks(s)
        check_exec_thread(s)
        check_clone_exec(s)
        check_park_kill(s)


main()
tap.done()
