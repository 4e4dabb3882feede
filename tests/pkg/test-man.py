#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The man pages: each built page renders with `man -l` and groff's warnings on (man-db's
--warnings) without a single line on stderr, at two widths; and vmatrace(1) has a section
for every subcommand that `vmatrace --help` lists."""

import os
import re
import shutil

import vtlib

tap = vtlib.Tap()
if not shutil.which('man'):
    tap.skip_all('man (man-db) is not installed')
pages = [p for p in os.environ.get('MAN_PAGES', '').split(':') if p]
if not pages:
    tap.bail('MAN_PAGES is not set: run the tests through meson test')

rendered = {}
for page in pages:
    name = os.path.basename(page)
    for width in ('80', '60'):
        env = dict(os.environ, MANWIDTH=width, LC_ALL='C.UTF-8', MAN_KEEP_FORMATTING='')
        env.pop('MANPAGER', None)
        env['PAGER'] = 'cat'
        r = vtlib.execute(['man', '--warnings', '-l', page], env=env, timeout=60)
        tap.ok(r.rc == 0 and not r.err and b'NAME' in r.out,
               '%s renders at width %s with no warning' % (name, width), r)
        rendered[name] = r.text

# Every subcommand of the client has its section (## name) in vmatrace(1).
helptext = vtlib.execute([os.environ['VMATRACE'], '--help']).text
cmds = re.findall(r'^  (\S+) ', helptext.split('Commands:', 1)[-1], re.M)
page = rendered.get('vmatrace.1', '')
body = page.split('COMMANDS', 1)[-1]
missing = [c for c in cmds if not re.search(r'^   %s$' % re.escape(c), body, re.M)]
tap.ok(cmds and not missing, 'vmatrace(1) has a section for each of the %d subcommands'
       % len(cmds), 'missing: %s' % missing)
tap.done()
