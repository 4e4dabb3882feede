# SPDX-License-Identifier: MIT
"""vmatrace timeline: record memops and forks, draw them, and check the pictures.

- SVG: parses as XML; one <rect class="v ..."> per VMA version of the drawn mms (as the DB
  says; the traces are far below --max-rects, so nothing is merged); a known VMA (memops'
  first mmap) has a tooltip with its maps line (as `vmatrace maps --at` prints it) and the
  decoded events (as `vmatrace events` prints them) that made and ended it.
- HTML: opened in headless Chromium (skipped with a reason if it is not installed): the
  page's script runs without errors, the DOM has the same number of rectangles, and
  hovering the known VMA shows its text in the hover box. The test injects a script that
  catches errors (window.onerror) and one that writes its findings into the DOM, which
  --dump-dom prints.
- Errors: unknown process, unwritable output, missing and foreign DB, unknown extension:
  exit 1, one line on stderr, no file written.
"""

import json
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vtlib  # noqa: E402

tap = vtlib.Tap()
SVG = '{http://www.w3.org/2000/svg}'
CHROMIUM_TIMEOUT = 60


def db_mms(db, pid=None):
    """The mms the DB has versions for: all, or those of the last process with @pid."""
    c = sqlite3.connect('file:%s?mode=ro' % db, uri=True)
    try:
        if pid is None:
            mms = [r[0] for r in c.execute('SELECT DISTINCT mm FROM vma ORDER BY mm')]
        else:
            pid_id = c.execute('SELECT max(id) FROM process WHERE pid = ?', (pid,)).fetchone()[0]
            mms = [r[0] for r in c.execute(
                'SELECT mm FROM process WHERE id = ?1 UNION SELECT mm FROM exec WHERE process = ?1',
                (pid_id,)) if r[0]]
        n = c.execute('SELECT count(*) FROM vma WHERE mm IN (%s)' % ','.join('?' * len(mms)),
                      mms).fetchone()[0]
        return mms, n
    finally:
        c.close()


def vma_rects(path):
    root = ET.parse(path).getroot()
    return [r for r in root.iter(SVG + 'rect') if 'v' in r.get('class', '').split()]


def title(rect):
    t = rect.find(SVG + 'title')
    return t.text if t is not None else ''


def known_vma(s, db, evs):
    """memops' first mmap in its window: (maps line, born seq, its events text by seq)."""
    pid = evs[0]['pid']
    win = vtlib.window(evs, pid)
    mm = [e for e in win if e['syscall'] == 'mmap'][0]
    r = s.cmd('maps', '-d', db, '--pid', pid, '--at', mm['seq'])
    addr = '%08x-' % mm['ret']
    lines = [l for l in r.text.splitlines() if l.startswith(addr)]
    text = s.cmd('events', '-d', db).text.splitlines()
    by_seq = {e['seq']: t for e, t in zip(evs, text)}
    return (lines[0] if lines else None), mm['seq'], by_seq, pid


def check_svg(s, db, evs):
    out = s.path('memops.svg')
    r = s.cmd('timeline', '-d', db, '-o', out)
    if not tap.ok(r.rc == 0 and os.path.exists(out), 'timeline -o memops.svg exits 0', r):
        return None
    try:
        rects = vma_rects(out)
    except ET.ParseError as e:
        tap.ok(False, 'memops.svg parses as XML', e)
        return None
    mms, n = db_mms(db)
    tap.eq(len(rects), n, 'memops.svg: one rectangle per VMA version of its %d mm(s)' % len(mms))
    line, seq, by_seq, pid = known_vma(s, db, evs)
    # The same line may come back later (mprotect splits it, a second one merges it back).
    born = 'born: seq %d: %s' % (seq, by_seq.get(seq))
    mine = [t for t in map(title, rects) if t.split('\n')[0] == line and
            born in t.split('\n')]
    tap.ok(line and len(mine) == 1,
           'memops.svg: the tooltip of the first mmap\'s VMA is its maps line and the event '
           'that made it', 'maps line: %r' % line, 'want: %r' % born, 'tooltips: %r' % mine)
    died = re.search(r'^ended: seq (\d+): (.*)$', mine[0], re.M) if mine else None
    tap.ok(died and by_seq.get(int(died.group(1))) == died.group(2),
           'memops.svg: ... and the event that ended it', mine)
    # --pid: the same process's mms only.
    out2 = s.path('memops-pid.svg')
    r = s.cmd('timeline', '-d', db, '--pid', pid, '-o', out2)
    mms, n = db_mms(db, pid)
    tap.ok(r.rc == 0 and len(vma_rects(out2)) == n,
           'timeline --pid %d: one rectangle per version of its mms %r' % (pid, mms), r)
    return line


def check_forks(s):
    db = s.path('forks.db')
    r = s.run([vtlib.prog('forks')], db)
    if not tap.ok(r.rc == 0, 'forks exits 0 under vmatrace', r):
        return
    out = s.path('forks.svg')
    r = s.cmd('timeline', '-d', db, '-o', out)
    mms, n = db_mms(db)
    ok = r.rc == 0 and os.path.exists(out)
    root = ET.parse(out).getroot() if ok else None
    panels = [g for g in root.iter(SVG + 'g') if g.get('class') == 'mm'] if ok else []
    tap.ok(ok and len(vma_rects(out)) == n and len(panels) == len(mms),
           'forks: every mm gets a panel (%d) and every version a rectangle (%d)' %
           (len(mms), n), r, 'panels: %d' % len(panels))
    # Sampling: a cap below the number of versions merges some, and says so.
    out = s.path('forks-cap.svg')
    r = s.cmd('timeline', '-d', db, '--max-rects', '20', '-o', out)
    got = len(vma_rects(out)) if r.rc == 0 else -1
    tap.ok(r.rc == 0 and 0 < got < n and 'merged' in open(out).read(),
           'forks: --max-rects 20 merges narrow rectangles (%d -> %d)' % (n, got), r)
    out = s.path('forks-seq.html')
    r = s.cmd('timeline', '-d', db, '--seq', '-o', out)
    tap.ok(r.rc == 0 and os.path.getsize(out) > 0, 'forks: --seq -o FILE.html exits 0', r)


def find_chromium():
    for name in ('chromium', 'chromium-browser', 'google-chrome'):
        p = shutil.which(name)
        if p:
            return p
    return None


PROBE_HEAD = ('<script>window.__vtErrors = [];'
              'window.onerror = function (m, src, line) {'
              ' window.__vtErrors.push(String(m) + " at " + line); };</script>')
PROBE_TAIL = '''<script>
(function () {
  var res = {errors: window.__vtErrors};
  try {
    var rects = document.querySelectorAll('svg rect.v');
    res.rects = rects.length;
    res.titles_left = document.querySelectorAll('svg rect.v title').length;
    res.body_vmas = document.body.getAttribute('data-vmas');
    var r = rects[%d];
    var b = r.getBoundingClientRect();
    r.dispatchEvent(new MouseEvent('mousemove', {bubbles: true,
        clientX: b.left + 1, clientY: b.top + 1}));
    var tip = document.getElementById('tip');
    res.tip = tip.textContent;
    res.tip_shown = tip.style.display;
  } catch (e) {
    res.errors.push('probe: ' + e);
  }
  var pre = document.createElement('pre');
  pre.id = 'vt-result';
  pre.textContent = JSON.stringify(res);
  document.body.appendChild(pre);
})();
</script>'''


def check_browser(s, db, line):
    chromium = find_chromium()
    if not chromium:
        tap.skip('timeline HTML renders in headless Chromium', 'chromium is not installed '
                 '(Debian: apt-get install chromium)')
        return
    out = s.path('memops.html')
    r = s.cmd('timeline', '-d', db, '-o', out)
    if not tap.ok(r.rc == 0, 'timeline -o memops.html exits 0', r):
        return
    svg = s.path('memops.svg')
    titles = [title(x).split('\n')[0] for x in vma_rects(svg)]
    k = titles.index(line) if line in titles else 0  # the first version with that line
    mms, n = db_mms(db)
    with open(out) as f:
        page = f.read()
    tap.ok('http://' not in page.replace('http://www.w3.org/2000/svg', '') and
           'https://' not in page, 'memops.html loads nothing from the network')
    probe = s.path('probe.html')
    with open(probe, 'w') as f:
        f.write(page.replace('<head>', '<head>' + PROBE_HEAD, 1)
                .replace('</body>', PROBE_TAIL % k + '</body>', 1))
    profile = tempfile.mkdtemp(prefix='vt-chromium-')
    try:
        res = vtlib.execute([chromium, '--headless', '--no-sandbox', '--disable-gpu',
                             '--no-first-run', '--user-data-dir=' + profile,
                             '--enable-logging=stderr', '--v=0', '--dump-dom',
                             'file://' + probe], timeout=CHROMIUM_TIMEOUT,
                            env=dict(os.environ, HOME=profile))
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    m = re.search(r'<pre id="vt-result">(.*?)</pre>', res.text, re.S)
    if not tap.ok(m, 'chromium --dump-dom ran the page and the probe', res):
        return
    got = json.loads(m.group(1).replace('&quot;', '"').replace('&lt;', '<')
                     .replace('&gt;', '>').replace('&amp;', '&'))
    console = [l for l in res.errtext.splitlines() if 'CONSOLE' in l and
               ('Uncaught' in l or 'rror' in l)]
    tap.ok(not got.get('errors') and not console, 'memops.html: no script errors',
           got.get('errors'), '\n'.join(console))
    tap.eq(got.get('rects'), n, 'memops.html in Chromium: one rectangle per VMA version')
    tap.ok(got.get('titles_left') == 0 and got.get('body_vmas') == str(n),
           'memops.html: the page script took every tooltip into its hover box', got)
    tap.ok(got.get('tip_shown') == 'block' and (got.get('tip') or '').split('\n')[0] == line,
           'memops.html: hovering the first mmap\'s VMA shows its maps line', got,
           'want: %r' % line)


def check_errors(s, db):
    bad = s.path('not-a-db.txt')
    with open(bad, 'w') as f:
        f.write('hello\n')
    cases = [
        (['--pid', '999999', '-o', s.path('e1.svg')], 'unknown process', 'no process'),
        (['-o', '/nonexistent-dir/x.svg'], 'unwritable output', 'cannot write'),
        (['-o', s.path('e3.png')], 'unknown extension', 'FILE.svg or FILE.html'),
        ([], 'no -o', '-o FILE'),
    ]
    for args, what, msg in cases:
        r = s.cmd('timeline', '-d', db, *args)
        lines = r.errtext.strip().splitlines()
        tap.ok(r.rc == 1 and len(lines) == 1 and msg in lines[0] and
               not any(os.path.exists(a) for a in args if a.startswith(s.workdir)),
               'timeline, %s: exit 1 with one line' % what, r)
    for d, what, msg in ((s.path('missing.db'), 'missing DB', 'no such file'),
                         (bad, 'foreign DB', 'not a vmatrace DB')):
        r = s.cmd('timeline', '-d', d, '-o', s.path('e.svg'))
        lines = r.errtext.strip().splitlines()
        tap.ok(r.rc == 1 and len(lines) == 1 and msg in lines[0] and
               not os.path.exists(s.path('e.svg')), 'timeline, %s: exit 1 with one line' % what,
               r)


def main():
    with vtlib.Session(tap) as s:
        db = s.path('memops.db')
        r = s.run([vtlib.prog('memops')], db)
        if not tap.ok(r.rc == 0, 'memops exits 0 under vmatrace', r):
            return
        evs = s.events(db)
        line = check_svg(s, db, evs)
        check_browser(s, db, line)
        check_forks(s)
        check_errors(s, db)


main()
tap.done()
