# SPDX-License-Identifier: MIT
"""vmatrace export --perfetto: record forks and memops, export them, and check the JSON.

- It is valid JSON with a traceEvents array.
- One "X" slice per event (`vmatrace events --json`), with seq, syscall, args and result.
- One async begin ("b") and one end ("e") per VMA version of the exported mms, ids unique.
- Counters ("C", one series per mm) are in time order, and at a known event (memops'
  markers) the mm's virtual_bytes and vmas equal the sum and count of `vmatrace maps --at`.
- A flow leaves each fork/clone/vfork that made a task and enters that task's first event.
- --pid keeps one process; --folded on a trace without stacks is refused with one line
  (test-stacks checks its output); bad input exits 1.
"""

import json
import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vtlib  # noqa: E402

tap = vtlib.Tap()


def export(s, db, *args):
    out = s.path(os.path.basename(db) + '.json')
    r = s.cmd('export', '-d', db, '--perfetto', '-o', out, *args)
    if not tap.ok(r.rc == 0 and os.path.exists(out), 'export --perfetto %s exits 0' %
                  ' '.join(map(str, args)), r):
        return None
    try:
        with open(out) as f:
            d = json.load(f)
    except ValueError as e:
        tap.ok(False, 'the export is valid JSON', e)
        return None
    tap.ok(isinstance(d.get('traceEvents'), list), 'the export is JSON with traceEvents')
    return d['traceEvents']


def versions(db):
    c = sqlite3.connect('file:%s?mode=ro' % db, uri=True)
    try:
        return c.execute('SELECT count(*) FROM vma').fetchone()[0]
    finally:
        c.close()


def check_counts(s, db, tes, evs):
    xs = [e for e in tes if e['ph'] == 'X']
    tap.eq(sorted(e['seq'] for e in xs), [e['seq'] for e in evs],
           'one X slice per event, by seq')
    bad = [e for e in xs if set(e['args']) < {'seq', 'syscall', 'args', 'result'}]
    tap.ok(not bad, 'every event slice has args seq, syscall, args, result', bad[:3])
    mm = [e for e in xs if e['name'] == 'mmap' and e['args']['result'].startswith('0x')]
    tap.ok(mm and 'PROT_READ' in mm[0]['args']['args'], 'an mmap slice has decoded args',
           mm[:1])
    bs = [e for e in tes if e['ph'] == 'b']
    es = [e for e in tes if e['ph'] == 'e']
    n = versions(db)
    tap.ok(len(bs) == n and len(es) == n and len({(e['cat'], e['id']) for e in bs}) == n and
           {(e['cat'], e['id']) for e in bs} == {(e['cat'], e['id']) for e in es},
           'one async begin and end per VMA version (%d), ids unique' % n,
           'b %d e %d' % (len(bs), len(es)))
    ends = {(e['cat'], e['id']): e['ts'] for e in es}
    tap.ok(all(ends[(b['cat'], b['id'])] >= b['ts'] for b in bs),
           'no VMA slice ends before it begins')
    cs = {}
    for e in tes:
        if e['ph'] == 'C':
            cs.setdefault(e['name'], []).append(e)
    tap.ok(cs and all(all(a['ts'] <= b['ts'] and a['seq'] < b['seq'] for a, b in zip(v, v[1:]))
                      for v in cs.values()), 'counters are in time order (%d series)' % len(cs))
    return cs


def check_counter_value(s, db, cs, evs):
    """At memops' second marker, the counter equals what maps --at shows."""
    pid = evs[0]['pid']
    mk = [e for e in evs if vtlib.is_marker(e) and e['pid'] == pid]
    for m in mk:
        r = s.cmd('maps', '-d', db, '--pid', pid, '--at', m['seq'])
        size = 0
        lines = r.text.splitlines()
        for l in lines:
            a, b = l.split()[0].split('-')
            size += int(b, 16) - int(a, 16)
        series = [c for c in cs.get('mm %d' % m['mm'], []) if c['seq'] <= m['seq']]
        got = series[-1]['args'] if series else {}
        tap.ok(r.rc == 0 and got.get('virtual_bytes') == size and got.get('vmas') == len(lines)
               and got['virtual_bytes'] == got['anon_bytes'] + got['file_bytes'] +
               got['prot_none_bytes'],
               'memops: mm %d counters at seq %d = maps --at: %d bytes in %d VMAs' %
               (m['mm'], m['seq'], size, len(lines)), got, r)


def check_flows(tes, evs):
    forks = [e for e in evs if e.get('syscall') in ('fork', 'vfork', 'clone', 'clone3') and
             isinstance(e.get('ret'), int) and e['ret'] > 0]
    outs = {e['bind_id']: e for e in tes if e.get('flow_out')}
    ins = {e['bind_id']: e for e in tes if e.get('flow_in')}
    good = []
    for f in forks:
        o = [x for x in outs.values() if x['seq'] == f['seq']]
        i = ins.get(o[0]['bind_id']) if o else None
        good.append(bool(i and i['tid'] == f['ret']))
    tap.ok(forks and all(good), 'forks: a flow from each of the %d fork/clone/vfork events to '
           'its child\'s first event' % len(forks), list(zip([f['seq'] for f in forks], good)))
    names = {e['pid']: e['args']['name'] for e in tes if e['ph'] == 'M' and
             e['name'] == 'process_name'}
    tap.ok(all(f['ret'] in names for f in forks), 'forks: every child has a process name',
           names)


def main():
    with vtlib.Session(tap) as s:
        db = s.path('forks.db')
        r = s.run([vtlib.prog('forks')], db)
        if tap.ok(r.rc == 0, 'forks exits 0 under vmatrace', r):
            evs = s.events(db)
            tes = export(s, db)
            if tes is not None:
                check_counts(s, db, tes, evs)
                check_flows(tes, evs)
            child = [e for e in evs if e.get('syscall') == 'fork' and e['ret'] > 0]
            if child:
                cp = child[0]['ret']
                tes = export(s, db, '--pid', cp) or []
                mine = [e['seq'] for e in evs if e['pid'] == cp]
                tap.eq(sorted(e['seq'] for e in tes if e['ph'] == 'X'), mine,
                       'export --pid %d: that process\'s events only' % cp)
        db = s.path('memops.db')
        r = s.run([vtlib.prog('memops')], db)
        if tap.ok(r.rc == 0, 'memops exits 0 under vmatrace', r):
            evs = s.events(db)
            tes = export(s, db)
            if tes is not None:
                cs = check_counts(s, db, tes, evs)
                check_counter_value(s, db, cs, evs)
        # Refusals: one line, exit 1, nothing written.
        for args, what, msg in (
                (['--folded', '-o', s.path('x.folded')], '--folded without stacks', 'no stacks'),
                (['--perfetto', '--pid', '999999', '-o', s.path('x.json')], 'unknown process',
                 'no process'),
                (['--perfetto', '-o', '/nonexistent-dir/x.json'], 'unwritable output',
                 'cannot write'),
                (['-o', s.path('x.json')], 'no format', '--perfetto or --folded'),
                (['--perfetto', '-d', s.path('missing.db'), '-o', s.path('x.json')],
                 'missing DB', 'no such file')):
            r = s.cmd('export', '-d', db, *args) if '-d' not in args else s.cmd('export', *args)
            lines = r.errtext.strip().splitlines()
            tap.ok(r.rc == 1 and len(lines) == 1 and msg in lines[0] and
                   not os.path.exists(s.path('x.json')) and not os.path.exists(s.path('x.folded')),
                   'export, %s: exit 1 with one line' % what, r)


main()
tap.done()
