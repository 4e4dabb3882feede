#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-race-apps: real multi-threaded programs under `run --verify`, judged as test-race
judges tests/progs/race (racelib.py: 0 divergences, no mmap result mapped over in the
stored history): python3 with 4 threads mapping (the case reported in issue 12), node
with 4 worker_threads, java with 4 threads starting processes, and headless Chromium
--dump-dom of a local page 5 times (each skipped when not installed).
"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import racelib  # noqa: E402
import vtlib  # noqa: E402

tap = vtlib.Tap()

PY_THREADS = '''import mmap, threading
def w():
    for i in range(5000):
        mmap.mmap(-1, 65536).close()
ts = [threading.Thread(target=w) for _ in range(4)]
[t.start() for t in ts]
[t.join() for t in ts]
print("python threads done")
'''

NODE_WORKERS = '''const { Worker, isMainThread, parentPort } = require('worker_threads');
if (isMainThread) {
  let done = 0;
  for (let i = 0; i < 4; i++)
    new Worker(__filename).on('message', () => { if (++done === 4) console.log('workers done'); });
} else {
  const a = [];
  for (let i = 0; i < 300; i++) { a.push(new ArrayBuffer(1 << 20)); if (a.length > 16) a.shift(); }
  parentPort.postMessage(a.length);
}
'''

JAVA_THREADS = '''import java.util.*;
public class Spawn {
  public static void main(String[] args) throws Exception {
    List<Thread> ts = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      Thread t = new Thread(() -> {
        try {
          for (int j = 0; j < 5; j++) {
            new ProcessBuilder("true").start().waitFor();
            byte[][] b = new byte[256][];
            for (int k = 0; k < b.length; k++) b[k] = new byte[1 << 16];
          }
        } catch (Exception e) { throw new RuntimeException(e); }
      });
      t.start();
      ts.add(t);
    }
    for (Thread t : ts) t.join();
    System.out.println("java threads done");
  }
}
'''

PAGE = ('<html><body><p id="x">x</p><script>var a = [];'
        'for (var i = 0; i < 2000; i++) a.push(new Array(1000).fill(i));'
        'document.getElementById("x").textContent = "sum " + a.length;</script>'
        '</body></html>')


def find(name):
    return shutil.which(name)


def chromium_runs(s):
    chromium = find('chromium') or find('chromium-browser')
    if not chromium:
        tap.skip('chromium --dump-dom under --verify', 'chromium is not installed')
        return
    page = s.path('page.html')
    with open(page, 'w') as f:
        f.write(PAGE)
    for i in range(5):
        profile = tempfile.mkdtemp(prefix='vt-chromium-')
        try:
            racelib.traced(tap, s, 'chromium --dump-dom run %d of 5' % (i + 1),
                           [chromium, '--headless', '--no-sandbox', '--disable-gpu',
                            '--no-first-run', '--disable-background-networking',
                            '--disable-component-update', '--disable-sync',
                            '--user-data-dir=' + profile, '--dump-dom', 'file://' + page],
                           'sum 2000', env={'HOME': profile})
        finally:
            shutil.rmtree(profile, ignore_errors=True)


def main():
    with vtlib.Session(tap) as s:
        py = find('python3') or sys.executable
        racelib.traced(tap, s, 'python3 4 threads', [py, '-c', PY_THREADS],
                       'python threads done', min_events=40000)
        node = find('node') or find('nodejs')
        if node:
            with open(s.path('workers.js'), 'w') as f:
                f.write(NODE_WORKERS)
            racelib.traced(tap, s, 'node 4 workers', [node, s.path('workers.js')],
                           'workers done')
        else:
            tap.skip('node worker_threads under --verify', 'node is not installed')
        javac, java = find('javac'), find('java')
        if javac and java:
            with open(s.path('Spawn.java'), 'w') as f:
                f.write(JAVA_THREADS)
            c = vtlib.execute([javac, '-d', s.workdir, s.path('Spawn.java')],
                              timeout=racelib.TIMEOUT)
            if tap.ok(c.rc == 0, 'javac Spawn.java', c):
                racelib.traced(tap, s, 'java 4 threads with ProcessBuilder',
                               [java, '-cp', s.workdir, 'Spawn'], 'java threads done')
        else:
            tap.skip('java threads under --verify', 'java or javac is not installed')
        chromium_runs(s)


main()
tap.done()
