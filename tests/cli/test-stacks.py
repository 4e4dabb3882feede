#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-stacks: `vmatrace run --stacks` records who made each event, from where.

tests/progs/stacks mmaps from known call chains (vt_outer_alpha -> vt_middle_beta ->
vt_leaf_gamma in the executable, vtlib_deep_one -> vtlib_deep_two in its own library) in the
main thread, a second thread and a forked child, each chain with its own length. The stack
of each such mmap must name those functions in order, in the right modules; a stripped copy
of the program must give the same frames as module+offset; `history ADDR` of a python3 heap
buffer must name glibc's allocator; a schema-1 DB must still be readable.
"""
import json
import re
import os
import shutil
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vtlib  # noqa: E402

tap = vtlib.Tap()

EXE_CHAIN = ['vt_leaf_gamma', 'vt_middle_beta', 'vt_outer_alpha']
LIB_CHAIN = ['vtlib_deep_two', 'vtlib_deep_one']


def maps_of(text):
    """The tracee's "MAP where len pid tid" lines: {where: (len, pid, tid)}."""
    res = {}
    for line in text.splitlines():
        p = line.split()
        if len(p) == 5 and p[0] == 'MAP':
            res[p[1]] = (int(p[2]), int(p[3]), int(p[4]))
    return res


def mmap_of(evs, length):
    for e in evs:
        if e.get('syscall') == 'mmap' and e.get('args', [0, 0])[1] == length:
            return e
    return None


def in_order(names, want):
    """@want appears in @names in order, one right after the other."""
    for i in range(len(names) - len(want) + 1):
        if names[i:i + len(want)] == want:
            return i
    return -1


def check_chain(e, where, want, module_end, caller_tail):
    stack = e.get('stack', [])
    names = [f.get('function') for f in stack]
    i = in_order(names, want)
    tap.ok(i == 1, '%s: frames 1.. are %s' % (where, ' <- '.join(want)), names[:8])
    mods = [os.path.basename(f.get('module', '')) for f in stack[i:i + len(want)]] if i >= 0 else []
    tap.ok(mods and all(m == module_end for m in mods), '%s: ... in %s' % (where, module_end), mods)
    top = stack[0] if stack else {}
    tap.ok('libc.so' in top.get('module', '') and 'mmap' in (top.get('function') or ''),
           '%s: frame 0 is the mmap wrapper in libc' % where, top)
    tap.ok(caller_tail in names, '%s: the stack goes on to %s' % (where, caller_tail), names)
    tap.ok(all(f.get('build_id') for f in stack if f.get('module', '').startswith('/')),
           '%s: every file frame has its module\'s build-id' % where)


def check_program(s):
    db = s.path('stacks.db')
    r = s.cmd('run', '--stacks', '-o', db, '--', vtlib.prog('stacks'))
    if not tap.ok(r.rc == 0, 'run --stacks stacks exits 0', r):
        return None
    tap.ok('stacks:' in r.errtext and 'bytes of stack storage per event' in r.errtext,
           'the summary reports the stacks and their cost per event', r.errtext)
    where = maps_of(r.text)
    tap.eq(sorted(where), sorted(['main', 'main-lib', 'thread', 'thread-lib', 'child',
                                  'child-lib']), 'the tracee ran every chain')
    evs = s.events(db, '--stacks')
    tails = {'main': 'main', 'thread': 'thread_body', 'child': 'main'}
    for w, (length, pid, tid) in sorted(where.items()):
        e = mmap_of(evs, length)
        if not tap.ok(e is not None and e.get('stack'), '%s: its mmap has a stack' % w, e):
            continue
        tap.eq((e['pid'], e['tid']), (pid, tid), '%s: event of pid %d tid %d' % (w, pid, tid))
        base = w.split('-')[0]
        if w.endswith('-lib'):
            check_chain(e, w, LIB_CHAIN, 'libstackdemo.so', tails[base])
        else:
            check_chain(e, w, EXE_CHAIN, 'stacks', tails[base])
    tap.ok(where.get('thread', (0, 0, 0))[2] != where.get('thread', (0, 0, 0))[1],
           'the thread chain ran in a thread of its own')
    tap.ok(where.get('child', (0, 0, 0))[1] != where.get('main', (0, 0, 0))[1],
           'the child chain ran in another process')

    # strace -k style text
    r = s.cmd('events', '-d', db, '--stacks', '--syscall', 'mmap')
    tap.ok(r.rc == 0 and any(l.startswith(' > ') and '/stacks(vt_leaf_gamma+0x' in l
                             for l in r.text.splitlines()),
           'events --stacks prints " > MODULE(FUNCTION+OFF) [ADDR]" lines', r.text[:600])
    r = s.cmd('events', '-d', db)
    tap.ok(r.rc == 0 and not any(l.startswith(' > ') for l in r.text.splitlines()),
           'events without --stacks prints no frames')

    # the view for sqlite3 users
    con = sqlite3.connect('file:%s?mode=ro' % db, uri=True)
    rows = con.execute("SELECT count(*) FROM stacks_v WHERE function = 'vt_leaf_gamma'"
                       " AND module LIKE '%/stacks'").fetchone()[0]
    dup = con.execute("SELECT count(*) FROM (SELECT file, rel_pc FROM frame"
                      " GROUP BY file, rel_pc HAVING count(*) > 1)").fetchone()[0]
    nstack = con.execute("SELECT count(*) FROM stack").fetchone()[0]
    nev = con.execute("SELECT count(stack_id) FROM event").fetchone()[0]
    con.close()
    tap.ok(rows >= 1, 'stacks_v names vt_leaf_gamma in the stacks module', rows)
    tap.eq(dup, 0, 'a frame is stored once per (file, rel_pc)')
    tap.ok(0 < nstack < nev, 'stacks are deduplicated (%d stacks for %d events)' % (nstack, nev))
    check_folded(s, db, where)
    return evs, where


def folded_chains(text):
    """{(caller of chains(), outermost function of the chain): bytes} of folded lines."""
    got = {}
    for l in text.splitlines():
        key, n = l.rsplit(' ', 1)
        frames = key.split(';')
        for caller in ('main', 'thread_body'):
            for chain in (EXE_CHAIN, LIB_CHAIN):
                tail = [caller, 'chains'] + chain[::-1]
                if frames[-len(tail) - 1:-1] == tail and 'mmap' in frames[-1]:
                    got[(caller, chain[-1])] = got.get((caller, chain[-1]), 0) + int(n)
    return got


def check_folded(s, db, where):
    """export --folded: per stack, the bytes its events mapped. The chains' mmaps are the
    only mappings of their lengths; main and the forked child run one program with the
    same stack, so their line sums both lengths."""
    r = s.cmd('export', '-d', db, '--folded', '-o', '-')
    lines = r.text.splitlines() if r.rc == 0 else []
    tap.ok(lines and all(re.fullmatch(r'stacks(;[^;]+)+ \d+', l) for l in lines),
           'export --folded: "stacks;outer;...;inner BYTES" lines', r.text[:600])
    tap.eq(lines, sorted(set(lines)), 'export --folded: sorted, one line per stack')
    n = {w: v[0] for w, v in where.items()}
    tap.eq(folded_chains(r.text),
           {('main', 'vt_outer_alpha'): n['main'] + n['child'],
            ('main', 'vtlib_deep_one'): n['main-lib'] + n['child-lib'],
            ('thread_body', 'vt_outer_alpha'): n['thread'],
            ('thread_body', 'vtlib_deep_one'): n['thread-lib']},
           'export --folded: each chain counts the bytes its mmaps mapped')
    r = s.cmd('export', '-d', db, '--folded', '--pid', str(where['main'][1]), '-o', '-')
    tap.eq(folded_chains(r.text) if r.rc == 0 else r.errtext,
           {('main', 'vt_outer_alpha'): n['main'], ('main', 'vtlib_deep_one'): n['main-lib'],
            ('thread_body', 'vt_outer_alpha'): n['thread'],
            ('thread_body', 'vtlib_deep_one'): n['thread-lib']},
           'export --folded --pid: that process only (not its forked child)')


def check_stripped(s, evs, where):
    db = s.path('stripped.db')
    r = s.cmd('run', '--stacks', '-o', db, '--', vtlib.prog('stacks-stripped'))
    if not tap.ok(r.rc == 0, 'run --stacks of the stripped copy exits 0', r):
        return
    swhere = maps_of(r.text)
    sevs = s.events(db, '--stacks')
    e = mmap_of(sevs, swhere.get('main', (0,))[0])
    ref = mmap_of(evs, where.get('main', (0,))[0])
    if not tap.ok(e and ref and e.get('stack'), 'stripped: the main chain has a stack'):
        return
    exe = [f for f in e['stack'] if f.get('module', '').endswith('/stacks-stripped')]
    tap.ok(len(exe) >= 4 and all('function' not in f for f in exe),
           'stripped: the executable\'s frames have no function name', exe)
    ref_pcs = [f['pc'] for f in ref['stack'] if f.get('module', '').endswith('/stacks')]
    tap.eq([f['pc'] for f in exe], ref_pcs,
           'stripped: ... and the same module offsets as the unstripped program')
    r = s.cmd('events', '-d', db, '--stacks', '--syscall', 'mmap')
    tap.ok(any('/stacks-stripped() [0x' in l for l in r.text.splitlines()),
           'stripped: text frames show module() [offset]', r.text[:400])
    lib = mmap_of(sevs, swhere.get('main-lib', (0,))[0])
    names = [f.get('function') for f in (lib or {}).get('stack', [])]
    tap.ok(in_order(names, LIB_CHAIN) == 1, 'stripped: its library is still named', names)


PY = r'''
import ctypes
b = bytearray(12 << 20)
print(hex(ctypes.addressof((ctypes.c_char * 1).from_buffer(b))), flush=True)
'''


def check_python_history(s):
    python = shutil.which('python3')
    db = s.path('py.db')
    r = s.cmd('run', '--stacks', '-o', db, '--', python, '-c', PY)
    if not tap.ok(r.rc == 0 and r.text.strip().startswith('0x'), 'python3 under run --stacks', r):
        return
    addr = r.text.strip()
    r = s.cmd('history', '-d', db, '--json', addr)
    lines = [json.loads(l) for l in r.text.splitlines()] if r.rc == 0 else []
    made = [e['event'] for e in lines
            if e.get('event') and e['event'].get('syscall') == 'mmap' and e.get('began')]
    if not tap.ok(made, 'history --json: the mmap that made the buffer\'s mapping', r):
        return
    stack = made[0].get('stack', [])
    libc = [f.get('function') or '' for f in stack if 'libc.so' in f.get('module', '')]
    tap.ok(any('mmap' in n for n in libc) and any('malloc' in n for n in libc),
           'history: its stack names glibc\'s allocator (mmap wrapper and malloc)', libc)
    r = s.cmd('history', '-d', db, addr)
    tap.ok(r.rc == 0 and any(l.startswith(' > ') and 'libc.so' in l and 'malloc' in l
                             for l in r.text.splitlines()),
           'history (text) prints the stack under the event', r.text[:800])
    r = s.cmd('history', '-d', db, '--no-stacks', addr)
    tap.ok(r.rc == 0 and not any(l.startswith(' > ') for l in r.text.splitlines()),
           'history --no-stacks leaves them out')


def check_old_schema(s):
    """A trace written before stacks existed (schema version 1) still reads."""
    db = s.path('old.db')
    r = s.cmd('run', '-o', db, '--', vtlib.prog('stacks'))
    tap.ok(r.rc == 0, 'run without --stacks exits 0', r)
    tap.ok('stacks:' not in r.errtext, 'no stack summary without --stacks')
    evs = s.events(db)
    tap.ok(evs and all('stack_id' not in e for e in evs), 'no event has a stack without --stacks')
    con = sqlite3.connect(db)
    con.executescript('DROP VIEW stacks_v; DROP TABLE stack_frame; DROP TABLE stack;'
                      ' DROP TABLE frame; PRAGMA user_version = 1;')
    con.close()
    r = s.cmd('events', '-d', db, '--stacks', '--json')
    tap.ok(r.rc == 0 and '"stack":[]' in r.text, 'a version-1 DB: events --stacks reads, no frames',
           r)


def main():
    with vtlib.Session(tap) as s:
        res = check_program(s)
        if res:
            check_stripped(s, *res)
        check_python_history(s)
        check_old_schema(s)
    tap.done()


main()
