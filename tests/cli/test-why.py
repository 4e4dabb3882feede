#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-why: fault signals recorded as +signal events, and `vmatrace why` explaining them.

Each case of tests/progs/faults (use after munmap, write to a page made read-only, stack
overflow, a pointer kept across an mremap that moved the buffer, SIGBUS past the end of a
truncated file, a fault in a second thread, a second thread's stack overflow into its
guard page) is run with --stacks under a real daemon:
- the program dies of its signal and `run` prints the hint line with the address;
- the DB holds exactly one +signal: the signal, si_code, si_addr the program printed, a
  pc in the program, the faulting thread, outcome fatal, a stack;
- `why` (default: the last fatal signal) prints a verdict naming the right event, found
  here independently from `events --json` (the munmap, the mprotect, the mremap, the
  mmap of the file, the execve that made [stack]), its syscall and the functions of its
  stack; --json gives the same; `why SEQ` of the signal the same again;
- `events`, `history` of the address, `replay`, `stats`, `timeline` and the Perfetto
  export show the signal.
A handled SIGSEGV (siglongjmp) is recorded as handled and the program exits 0; `why` then
says in one line that nothing was fatal, and `why SEQ` explains it. A crash handler that
re-raises the fault (SI_TKILL): `why` explains the fault it took. A trace without a
fault: one line, exit 1. Bad input (unknown pid, a seq past the end, an event that is not
a signal, a foreign or missing DB): one line on stderr, exit 1. A schema-2 DB still reads,
and sql/0003-signals.sql migrates one.
"""
import json
import os
import re
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vtlib  # noqa: E402

tap = vtlib.Tap()
SIGSEGV, SIGBUS = 11, 7
MIGRATION = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'sql',
                         '0003-signals.sql')


def fault_addr(text, case):
    """The address the tracee printed before faulting ("FAULT case 0x...")."""
    m = re.search(r'^FAULT %s (\S+)$' % re.escape(case), text, re.M)
    return int(m.group(1), 16) if m and m.group(1) != '(nil)' else None


def last(evs, pred):
    found = [e for e in evs if pred(e)]
    return found[-1] if found else None


def verdict_line(text):
    lines = [l for l in text.splitlines() if l.startswith('verdict: ')]
    return lines[0][len('verdict: '):] if len(lines) == 1 else None


def covers(e, addr):
    return e['args'][0] <= addr < e['args'][0] + e['args'][1]


# case: (signal, code, the event that made the access fail (from the events), the verdict
# that must start the line, the function that made that event)
def cause_munmap(evs, addr):
    return last(evs, lambda e: e['syscall'] == 'munmap' and covers(e, addr))


def cause_mprotect(evs, addr):
    return last(evs, lambda e: e['syscall'] == 'mprotect' and e['args'][2] == 1 and
                covers(e, addr))


def cause_mremap(evs, addr):
    return last(evs, lambda e: e['syscall'] == 'mremap' and covers(e, addr))


def cause_sigbus(evs, addr):
    return last(evs, lambda e: e['syscall'] == 'mmap' and e['ret'] <= addr < e['ret'] +
                e['args'][1] and 'vmatrace-sigbus' in e.get('path', ''))


def cause_threadstack(evs, addr):
    MAP_STACK = 0x20000
    return last(evs, lambda e: e['syscall'] == 'mmap' and e['args'][3] & MAP_STACK and
                e['ret'] <= addr < e['ret'] + e['args'][1])


def cause_stack(evs, addr):
    return next((e for e in evs if e['syscall'] == 'execve'), None)


CASES = {
    'munmap': ('SIGSEGV', 'SEGV_MAPERR', cause_munmap, 'use after munmap: ',
               ' in release() <- case_munmap() <- main()'),
    'mprotect': ('SIGSEGV', 'SEGV_ACCERR', cause_mprotect, 'write to read-only memory: ',
                 ' in protect() <- case_mprotect() <- main()'),
    'stack': ('SIGSEGV', 'SEGV_MAPERR', cause_stack, 'stack overflow: ', None),
    'mremap': ('SIGSEGV', 'SEGV_MAPERR', cause_mremap, 'use after mremap: ',
               ' in grow() <- case_mremap() <- main()'),
    'sigbus': ('SIGBUS', 'BUS_ADRERR', cause_sigbus, 'access past the end of a file: ',
               ' in case_sigbus() <- main()'),
    'thread': ('SIGSEGV', 'SEGV_MAPERR', cause_munmap, 'use after munmap: ',
               ' in release() <- case_thread() <- main()'),
    'threadstack': ('SIGSEGV', 'SEGV_ACCERR', cause_threadstack,
                    'stack overflow: ', 'in the guard page below a stack'),
}


def check_case(s, case):
    sig, code, find_cause, kind, who = CASES[case]
    db = s.path('%s.db' % case)
    r = s.cmd('run', '--stacks', '-o', db, '--', vtlib.prog('faults'), case)
    signo = SIGBUS if sig == 'SIGBUS' else SIGSEGV
    tap.eq(r.rc, 128 + signo, '%s: run exits 128+%s' % (case, sig), r)
    addr = fault_addr(r.text, case)
    hints = [l for l in r.errtext.splitlines() if 'hint' in l]
    want_hint = "vmatrace: hint: 'vmatrace why -d %s' explains the %s at 0x" % (db, sig)
    tap.ok(len(hints) == 1 and hints[0].startswith(want_hint) and
           (addr is None or hints[0] == want_hint + '%x' % addr),
           '%s: one hint line naming why, the signal and its address' % case, r.errtext)

    evs = s.events(db)
    sigs = [e for e in evs if e['syscall'] == '+signal']
    tap.eq(len(sigs), 1, '%s: one +signal event' % case, sigs)
    if not sigs:
        return
    e = sigs[0]
    tap.ok(e['signal'] == sig and e['signo'] == signo and e.get('code') == code,
           '%s: %s %s' % (case, sig, code), e)
    if addr is not None:
        tap.eq(e['addr'], addr, '%s: si_addr is the address the program touched' % case)
    else:
        tap.ok(abs(e['addr'] - e['sp']) < 65536, '%s: si_addr is at the stack pointer' % case, e)
    tap.ok(e['outcome'] == 'fatal', '%s: outcome fatal' % case, e)
    tap.ok(e.get('path') == vtlib.prog('faults') and e['module_offset'] > 0,
           '%s: the pc lies in the program, at an offset in it' % case, e)
    tap.ok('stack_id' in e, '%s: the stack at the fault is recorded' % case, e)
    if case in ('thread', 'threadstack'):
        tap.ok(e['tid'] != e['pid'], '%s: the signal is the second thread\'s' % case, e)
    ex = [x for x in evs if x['syscall'] == '+exit' and x['tid'] == e['tid']]
    tap.ok(ex and ex[0].get('signal') == sig and ex[0]['seq'] > e['seq'],
           '%s: its thread\'s +exit comes after, killed by %s' % (case, sig), ex)

    cause = find_cause(evs, e['addr'])
    tap.ok(cause is not None, '%s: the cause is in the events' % case)
    if cause is None:
        return
    r = s.cmd('why', '-d', db)
    v = verdict_line(r.text)
    tap.ok(r.rc == 0 and v is not None, '%s: why exits 0 with one verdict line' % case, r)
    want = 'at event %d by %s(' % (cause['seq'], cause['syscall'])
    tap.ok(v and v.startswith(kind) and want in v,
           '%s: the verdict says "%s...%s..."' % (case, kind, want), v, r.text[-3000:])
    if who:
        tap.ok(v and who in v, '%s: ... and who:%s' % (case, who), v)
    if case == 'thread':
        tap.ok(v and '(thread %d)' % cause['tid'] in v,
               'thread: ... and that another thread (the main one) unmapped it', v)
    if case == 'mremap':
        tap.ok(v and ('moved to %#x' % (cause['ret'] + e['addr'] - cause['args'][0])) in v,
               'mremap: ... and where the buffer went', v)
    # (A stack overflow's address was never mapped: its history is the signal alone. A
    # thread's stack overflows into its guard page, made by the mmap of the stack.)
    in_history = case != 'stack'
    tap.ok('\n%d [' % e['seq'] in r.text and
           ('\n%d [' % cause['seq'] in r.text) == in_history,
           '%s: the history %sends with the signal' % (
               case, 'lists the cause and ' if in_history else ''), r.text[-2000:])
    tap.ok(' > ' in r.text, '%s: with stacks' % case)

    r = s.cmd('why', '-d', db, '--json')
    try:
        j = json.loads(r.text)
    except ValueError:
        j = {}
    tap.ok(r.rc == 0 and j.get('verdict') == v and j.get('verdict_seq') == cause['seq'] and
           j.get('signal', {}).get('seq') == e['seq'] and
           any(h['seq'] == cause['seq'] for h in j.get('history', [])) == in_history and
           j.get('history', [{}])[-1].get('seq') == e['seq'],
           '%s: why --json: the same verdict, verdict_seq, signal and history' % case, r)
    r = s.cmd('why', '-d', db, str(e['seq']))
    tap.ok(r.rc == 0 and verdict_line(r.text) == v, '%s: why SEQ says the same' % case, r)
    return db, e


def check_shown(s, db, e):
    """The other commands show the signal."""
    r = s.cmd('events', '-d', db)
    line = [l for l in r.text.splitlines() if '--- SIGSEGV {' in l]
    tap.ok(len(line) == 1 and 'si_addr=%#x' % e['addr'] in line[0] and line[0].endswith(
        ' fatal ---'), 'events: the strace-like line', line)
    r = s.cmd('history', '-d', db, '--no-stacks', '%#x' % e['addr'])
    tap.ok(r.rc == 0 and re.search(r'^%d \[.*--- SIGSEGV' % e['seq'], r.text, re.M),
           'history of the address shows the signal', r)
    r = s.cmd('replay', '-d', db, '--pid', str(e['pid']), '--plain')
    tap.ok(r.rc == 0 and re.search(r'^%d \[.*--- SIGSEGV' % e['seq'], r.text, re.M),
           'replay shows the signal', r.text[-1500:])
    r = s.cmd('stats', '-d', db)
    tap.ok(r.rc == 0 and re.search(r'^\s+\+signal\s+1$', r.text, re.M), 'stats counts it', r)
    svg = s.path('t.svg')
    r = s.cmd('timeline', '-d', db, '-o', svg)
    text = open(svg).read() if r.rc == 0 else ''
    tap.ok(('<g class="sig" data-seq="%d">' % e['seq']) in text and 'SIGSEGV' in text,
           'timeline: a marker for the signal, with its event as tooltip', r)
    r = s.cmd('export', '-d', db, '--perfetto', '-o', '-')
    try:
        te = json.loads(r.text)
        te = te['traceEvents'] if isinstance(te, dict) else te
    except ValueError:
        te = []
    sl = [x for x in te if x.get('name') == 'SIGSEGV']
    tap.ok(len(sl) == 1 and sl[0]['args'].get('outcome') == 'fatal' and
           sl[0]['args'].get('addr') == '%#x' % e['addr'] and sl[0].get('seq') == e['seq'],
           'perfetto: one slice named SIGSEGV with its address and outcome', sl)
    con = sqlite3.connect(db)
    rows = con.execute('SELECT seq, signal, code, addr, outcome FROM signals_v').fetchall()
    con.close()
    tap.eq(rows, [(e['seq'], 'SIGSEGV', e['code'], '%#x' % e['addr'], 'fatal')],
           'sql: signals_v decodes it')


def check_handled(s):
    db = s.path('handled.db')
    r = s.cmd('run', '--stacks', '-o', db, '--', vtlib.prog('faults'), 'handled')
    tap.ok(r.rc == 0 and 'RECOVERED' in r.text and 'hint' not in r.errtext,
           'handled: the program recovers and exits 0, no hint', r)
    evs = s.events(db)
    sigs = [e for e in evs if e['syscall'] == '+signal']
    addr = fault_addr(r.text, 'handled')
    tap.ok(len(sigs) == 1 and sigs[0]['outcome'] == 'handled' and sigs[0]['addr'] == addr and
           sigs[0].get('code') == 'SEGV_ACCERR', 'handled: one +signal, outcome handled', sigs)
    if not sigs:
        return
    r = s.cmd('why', '-d', db)
    tap.ok(r.rc == 1 and len(r.text.splitlines()) == 1 and not r.err and
           r.text.startswith('no fatal signal in') and
           "'vmatrace why %d'" % sigs[0]['seq'] in r.text,
           'handled: why says in one line that none was fatal, and which to ask', r)
    r = s.cmd('why', '-d', db, str(sigs[0]['seq']))
    mm = last(evs, lambda e: e['syscall'] == 'mmap' and e['ret'] == addr & ~4095)
    v = verdict_line(r.text)
    tap.ok(r.rc == 0 and mm and v and v.startswith('access to PROT_NONE memory: ') and
           ('at event %d by mmap(' % mm['seq']) in v and 'handled' in r.text,
           'handled: why SEQ explains it (PROT_NONE, made by the mmap)', r)


def check_reraise(s):
    """A crash handler takes the fault, reports and re-raises it: why explains the fault."""
    db = s.path('reraise.db')
    r = s.cmd('run', '--stacks', '-o', db, '--', vtlib.prog('faults'), 'reraise')
    addr = fault_addr(r.text, 'reraise')
    tap.ok(r.rc == 128 + SIGSEGV and 'REPORTED' in r.text and addr and
           ("explains the SIGSEGV at %#x" % addr) in r.errtext,
           'reraise: the handler reports, the process dies of SIGSEGV; the hint names the '
           'fault\'s address', r)
    evs = s.events(db)
    sigs = [e for e in evs if e['syscall'] == '+signal']
    tap.ok(len(sigs) == 2 and sigs[0].get('code') == 'SEGV_MAPERR' and
           sigs[0]['outcome'] == 'handled' and sigs[1].get('code') == 'SI_TKILL' and
           sigs[1]['outcome'] == 'fatal', 'reraise: the fault (handled) and the re-raise '
           '(SI_TKILL, fatal)', sigs)
    cause = cause_munmap(evs, addr or 0)
    r = s.cmd('why', '-d', db, '--json')
    try:
        j = json.loads(r.text)
    except ValueError:
        j = {}
    tap.ok(len(sigs) == 2 and cause and j.get('signal', {}).get('seq') == sigs[0]['seq'] and
           j.get('reraised_seq') == sigs[1]['seq'] and j.get('verdict_seq') == cause['seq'] and
           j.get('verdict', '').startswith('use after munmap: ') and
           ' in release() <- case_reraise() <- main()' in j.get('verdict', ''),
           'reraise: why explains the fault the handler took, not the re-raise', r)
    r = s.cmd('why', '-d', db, str(sigs[-1]['seq']) if sigs else '1')
    tap.ok(r.rc == 0 and (verdict_line(r.text) or '').startswith('not a fault: SIGSEGV was '
                                                                   'sent (SI_TKILL'),
           'reraise: why SEQ of the re-raise says it was sent, not a fault', r)


def check_errors(s, db, sig_seq):
    plain = s.path('plain.db')
    r = s.cmd('run', '-o', plain, '--', vtlib.prog('memops'))
    tap.ok(r.rc == 0 and 'hint' not in r.errtext, 'no fault: run prints no hint', r)
    tap.ok(not [e for e in s.events(plain) if e['syscall'] == '+signal'],
           'no fault: no +signal event')
    r = s.cmd('why', '-d', plain)
    tap.ok(r.rc == 1 and len(r.text.splitlines()) == 1 and not r.err and
           r.text.startswith("no fault signal in '%s': nothing to explain" % plain),
           'no fault: why says so in one line, exit 1', r)

    foreign = s.path('foreign.db')
    con = sqlite3.connect(foreign)
    con.execute('CREATE TABLE t (x)')
    con.close()
    last_seq = max(e['seq'] for e in s.events(db))
    bad = [
        (('--pid', '999999'), 'no process 999999'),
        ((str(last_seq + 100),), 'no event %d' % (last_seq + 100)),
        (('1',), 'event 1 is not a fault signal'),
        (('abc',), 'invalid event number'),
        (('1', '2'), 'at most one event number'),
    ]
    for args, want in bad:
        r = s.cmd('why', '-d', db, *args)
        tap.ok(r.rc == 1 and len(r.errtext.splitlines()) == 1 and want in r.errtext and
               not r.out, 'why %s: one error line (%s), exit 1' % (' '.join(args), want), r)
    for path, want in ((foreign, 'not a vmatrace DB'), (s.path('none.db'), 'no such file')):
        r = s.cmd('why', '-d', path)
        tap.ok(r.rc == 1 and len(r.errtext.splitlines()) == 1 and want in r.errtext,
               'why on %s: one error line, exit 1' % want, r)

    # A version-2 DB (no index, no signals_v) reads; the migration makes it version 3.
    con = sqlite3.connect(plain)
    con.executescript('DROP VIEW signals_v; DROP INDEX event_signal; DROP TABLE divergence; '
                      'PRAGMA user_version = 2;')
    con.close()
    r = s.cmd('why', '-d', plain)
    tap.ok(r.rc == 1 and r.text.startswith('no fault signal in'), 'a schema-2 DB: why reads it',
           r)
    con = sqlite3.connect(plain)
    with open(MIGRATION) as f:
        con.executescript(f.read())
    ver = con.execute('PRAGMA user_version').fetchone()[0]
    n = con.execute('SELECT count(*) FROM signals_v').fetchone()[0]
    con.close()
    tap.ok(ver == 3 and n == 0, 'sql/0003-signals.sql migrates a schema-2 DB to 3')


def main():
    with vtlib.Session(tap) as s:
        first = None
        for case in CASES:
            res = check_case(s, case)
            if case == 'munmap' and res:
                first = res
        if first:
            check_shown(s, *first)
            check_errors(s, first[0], first[1]['seq'])
        check_handled(s)
        check_reraise(s)
    tap.done()


main()
