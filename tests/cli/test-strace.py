#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-strace: vmatrace records what strace sees.

Each workload runs twice under `setarch -R` (ASLR off, so that addresses repeat from run to
run): once under `strace -f -X raw -e trace=<the recorded set> -e signal=none`, once under
`vmatrace run`. Processes are matched in order of first appearance, and for each:
- single-threaded: the sequence of (syscall, result) must be equal, addresses included;
- multithreaded: the multiset of (syscall, success or errno) must be equal, since threads
  race and their addresses and interleaving differ from run to run. node gets a finer
  rule, explained at compare_node().

Normalisation, the same on both sides:
- the result of a successful clone/clone3/fork/vfork is a pid, which differs between runs:
  it compares as "PID"; exit and exit_group never return ("?", vmatrace's 0);
  a syscall the task died in (strace's <unfinished ...> never resumed, vmatrace's null
  ret) is "?";
- ERESTART* results (ERESTARTNOINTR for a fork interrupted by a signal...) are dropped on
  both sides: the kernel runs the syscall again, both tools record the second attempt, and
  whether the first was interrupted depends on when a signal (SIGCHLD) arrived, which is
  timing, not the program. Their count is printed as a diagnostic;
- strace cannot filter prctl by option, so prctl is left out of strace's list and
  vmatrace's (PR_SET_VMA only) prctl events are dropped; likewise syscalls strace does not
  know (strace 6.1 has no mseal or map_shadow_stack) and vmatrace's +exit pseudo events.
"""
import collections
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vtlib  # noqa: E402

tap = vtlib.Tap()



def table_rows():
    """The recorded rows of lib/syscallent.h, the one syscall table: {name: flags column}."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'lib',
                        'syscallent.h')
    rows = {}
    with open(path) as f:
        for line in f:
            m = re.match(r'SYSENT\(\s*\d+,\s*(\w+),\s*\d+,\s*[^,]+,\s*\w+,\s*([^,]+),', line)
            if m:
                rows[m.group(1)] = m.group(2).strip().split('|')
    return rows


# The %memory and %process syscalls, prctl aside (see above): the table's MEM and PROC rows.
RECORDED = [name for name, flags in table_rows().items()
            if ('MEM' in flags or 'PROC' in flags) and name != 'prctl']
FORKS = ('clone', 'clone3', 'fork', 'vfork')
CLONE_THREAD = 0x10000


def strace_knows(name):
    r = subprocess.run(['strace', '-qq', '-o', os.devnull, '-e', 'trace=' + name, 'true'],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    return r.returncode == 0


# --- strace's side ---------------------------------------------------------------------------

LINE = re.compile(r'^(\d+)\s+(.*)$')
RESUMED = re.compile(r'^<\.\.\. ([a-z0-9_]+) resumed>(.*)$')
NAME = re.compile(r'^([a-z0-9_]+)\(')
RESULT = re.compile(r'\)\s+=\s+(\?|-?\d+|0x[0-9a-f]+)(?:\s+(E[A-Z0-9_]+)\s+\(.*\))?'
                    r'(?:\s+\(.*\))?\s*$')
PIDS = re.compile(r'\b(pid=|tid=|PID )\d+')
FLAGS = re.compile(r'flags=(0x[0-9a-f]+|\d+)')


class Call:
    """One syscall of one thread: name, normalised result, and the raw text for diagnostics."""

    def __init__(self, tid, name, res, raw):
        self.tid, self.name, self.res, self.raw = tid, name, res, raw

    @property
    def key(self):
        return (self.name, self.res)

    @property
    def kind(self):
        """(name, 'ok' | errno name | '?') for multisets."""
        if isinstance(self.res, str) and self.res != 'PID':
            return (self.name, self.res)
        return (self.name, 'ok')


def norm(name, value, err):
    """Normalised result: an int, 'PID', '?', an errno name, or None to drop the call."""
    if err:
        return None if err.startswith('ERESTART') else err
    if value is None or name in ('exit', 'exit_group'):
        return '?'
    if name in FORKS and value > 0:
        return 'PID'
    return value


def parse_strace(path):
    """Calls from an `strace -f -X raw` log, <unfinished ...>/<... resumed> joined, grouped as
    {tgid: [Call]} in order of first appearance; plus the number of dropped restarts."""
    pending, joined = {}, []
    with open(path, errors='replace') as f:
        for line in f:
            m = LINE.match(line.rstrip('\n'))
            if not m:
                continue
            tid, rest = int(m.group(1)), m.group(2)
            if rest.startswith(('+++', '---')):
                continue
            if rest.endswith('<unfinished ...>'):
                pending[tid] = rest[:-len('<unfinished ...>')].rstrip()
                continue
            r = RESUMED.match(rest)
            if r:
                rest = pending.pop(tid, r.group(1) + '(') + r.group(2)
            joined.append((tid, rest))
    # A call never resumed: the thread died in it (exit_group of another thread, a signal).
    for tid, rest in pending.items():
        joined.append((tid, rest + ') = ?'))

    calls, tgid, restarts = [], {}, 0
    for tid, rest in joined:
        n = NAME.match(rest)
        m = RESULT.search(rest)
        if not n or not m:
            raise ValueError('cannot parse strace line: %d %s' % (tid, rest))
        name, val, err = n.group(1), m.group(1), m.group(2)
        value = None if val == '?' else int(val, 0)
        if name in FORKS and value and value > 0 and not err:
            f = FLAGS.search(rest)
            if f and int(f.group(1), 0) & CLONE_THREAD:
                tgid[value] = tid
        res = norm(name, value, err)
        if res is None:
            restarts += 1
            continue
        calls.append(Call(tid, name, res, rest))

    def root(t):
        while t in tgid:
            t = tgid[t]
        return t

    procs = collections.OrderedDict()
    for c in calls:
        procs.setdefault(root(c.tid), []).append(c)
    return procs, restarts


# --- vmatrace's side -------------------------------------------------------------------------

def from_events(evs, traced):
    """{pid: [Call]} in order of first appearance, from `events --json`; plus the number of
    dropped restarts."""
    procs, restarts = collections.OrderedDict(), 0
    for e in evs:
        if e['syscall'] not in traced:
            continue
        res = norm(e['syscall'], e.get('ret'), e.get('errno'))
        if res is None:
            restarts += 1
            continue
        args = ', '.join(str(a) for a in e.get('args', []))
        raw = '%s(%s) = %s%s' % (e['syscall'], args, e.get('ret'),
                                 ' ' + e['errno'] if 'errno' in e else '')
        procs.setdefault(e['pid'], []).append(Call(e['tid'], e['syscall'], res, raw))
    return procs, restarts


# --- comparison ------------------------------------------------------------------------------

def first_diff(a, b):
    """A readable account of where two call lists part."""
    i = next((i for i, (x, y) in enumerate(zip(a, b)) if x.key != y.key), min(len(a), len(b)))
    lines = ['%d calls (strace) vs %d (vmatrace); first difference at #%d' % (len(a), len(b), i)]
    for j in range(max(0, i - 3), min(max(len(a), len(b)), i + 4)):
        sa = a[j].raw if j < len(a) else '-'
        sb = b[j].raw if j < len(b) else '-'
        lines.append('%s #%d strace:   %s' % ('>' if j == i else ' ', j, sa))
        lines.append('%s #%d vmatrace: %s' % ('>' if j == i else ' ', j, sb))
    return '\n'.join(lines)


def multiset_diff(a, b):
    ma = collections.Counter(c.kind for c in a)
    mb = collections.Counter(c.kind for c in b)
    return 'only in strace: %s\nonly in vmatrace: %s' % (dict(ma - mb), dict(mb - ma))


def by_thread(calls):
    """[(tid, [Call])] in order of first appearance."""
    t = collections.OrderedDict()
    for c in calls:
        t.setdefault(c.tid, []).append(c)
    return list(t.items())


def compare_node(label, sp, vp):
    """node starts V8 platform workers and the libuv pool. Each worker's malloc arena is a
    128 MiB mmap trimmed to a 64 MiB-aligned half, so it makes 0, 1 or 2 munmaps depending on
    where its mmap landed, which depends on the order the threads ran in; and exit_group can
    catch a worker before or after that. What is deterministic, and compared:
    - the main thread up to and including its first clone/clone3, exactly (addresses too);
    - the main thread's multiset of (syscall, ok/errno) over the whole run;
    - the number of threads, and for the workers together the set of (syscall, ok/errno)
      kinds. Not their counts: a worker whose malloc meets contention makes itself an arena
      (mmap + mprotect) and one that does not reuses one, and that is a race too."""
    st, vt = by_thread(sp), by_thread(vp)
    smain, vmain = st[0][1], vt[0][1]
    k = next((i for i, c in enumerate(smain) if c.name in ('clone', 'clone3')), len(smain))
    pre_s, pre_v = smain[:k + 1], vmain[:k + 1]
    tap.ok([c.key for c in pre_s] == [c.key for c in pre_v],
           '%s: main thread until its first thread, exactly (%d calls)' % (label, len(pre_s)),
           first_diff(pre_s, pre_v))
    tap.ok(collections.Counter(c.kind for c in smain) ==
           collections.Counter(c.kind for c in vmain),
           '%s: main thread multiset of (syscall, ok/errno)' % label,
           multiset_diff(smain, vmain))
    tap.eq(len(vt), len(st), '%s: same number of threads' % label)
    sw = [c for _, cs in st[1:] for c in cs]
    vw = [c for _, cs in vt[1:] for c in cs]
    tap.eq(sorted({c.kind for c in vw}), sorted({c.kind for c in sw}),
           '%s: workers make the same kinds of calls' % label)


def compare(label, sprocs, vprocs, node=False):
    tap.eq(len(vprocs), len(sprocs), '%s: same number of processes (%d)' % (label, len(sprocs)),
           'strace pids: %s' % list(sprocs), 'vmatrace pids: %s' % list(vprocs))
    for i, ((spid, sp), (vpid, vp)) in enumerate(zip(sprocs.items(), vprocs.items())):
        what = '%s: process #%d (strace %d, vmatrace %d)' % (label, i + 1, spid, vpid)
        s_threads = len({c.tid for c in sp})
        v_threads = len({c.tid for c in vp})
        if s_threads == 1 and v_threads == 1:
            tap.ok([c.key for c in sp] == [c.key for c in vp],
                   '%s: same %d (syscall, result), in order' % (what, len(sp)),
                   first_diff(sp, vp))
        elif node:
            compare_node(what, sp, vp)
        else:
            tap.eq(v_threads, s_threads, '%s: same number of threads' % what)
            tap.ok(collections.Counter(c.kind for c in sp) ==
                   collections.Counter(c.kind for c in vp),
                   '%s: same multiset of %d (syscall, ok/errno)' % (what, len(sp)),
                   multiset_diff(sp, vp))


def workload(s, label, argv, traced, env=None, node=False):
    env = dict(s.env, **(env or {}))
    log = s.path(label + '.strace')
    db = s.path(label + '.db')
    st = vtlib.execute(['setarch', '-R', 'strace', '-f', '-qq', '-o', log, '-X', 'raw',
                        '-e', 'trace=' + ','.join(traced), '-e', 'signal=none', '--'] + argv,
                       env=env, cwd=s.workdir)
    vm = vtlib.execute(['setarch', '-R', s.vmatrace, 'run', '-o', db, '--'] + argv,
                       env=env, cwd=s.workdir)
    if not tap.ok(st.rc == 0 and vm.rc == 0, '%s: runs under strace and vmatrace' % label,
                  st, vm):
        return
    tap.eq(PIDS.sub(r'\1N', vm.text), PIDS.sub(r'\1N', st.text),
           '%s: same output under both (pids aside)' % label)
    sprocs, s_restarts = parse_strace(log)
    vprocs, v_restarts = from_events(s.events(db), set(traced))
    if s_restarts or v_restarts:
        tap.diag('%s: restarted syscalls dropped: %d (strace), %d (vmatrace)' %
                 (label, s_restarts, v_restarts))
    compare(label, sprocs, vprocs, node)


def main():
    for tool in ('strace', 'setarch'):
        if not shutil.which(tool):
            tap.skip_all('%s is not installed' % tool)
    with vtlib.Session(tap) as s:
        r = vtlib.execute(['setarch', '-R', 'true'])
        if r.rc != 0:
            tap.skip_all('setarch -R does not work here: %s' % r.errtext.strip())
        traced = [n for n in RECORDED if strace_knows(n)]
        tap.diag('strace traces: %s' % ','.join(traced))
        tap.diag('left out (strace does not know them): %s' %
                 (','.join(n for n in RECORDED if n not in traced) or 'none'))

        workload(s, 'memops', [vtlib.prog('memops')], traced)
        workload(s, 'forks', [vtlib.prog('forks')], traced)
        workload(s, 'threads', [vtlib.prog('threads')], traced)
        workload(s, 'python', [sys.executable, '-c', 'import json; print(sum(range(10)))'],
                 traced, env={'PYTHONHASHSEED': '0'})
        gcc = shutil.which('gcc')
        if gcc:
            with open(s.path('small.c'), 'w') as f:
                f.write('int twice(int x) { return 2 * x; }\n')
            workload(s, 'gcc', [gcc, '-c', 'small.c', '-o', 'small.o'], traced)
        else:
            tap.skip('gcc -c under strace and vmatrace', 'gcc is not installed')
        node = shutil.which('node')
        if node:
            workload(s, 'node', [node, '-e', 'console.log(1)'], traced, node=True)
        else:
            tap.skip('node -e under strace and vmatrace', 'node is not installed')


main()
tap.done()
