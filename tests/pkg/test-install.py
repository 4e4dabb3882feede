#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A DESTDIR install: `meson install --destdir TMP --no-rebuild` puts the binaries, man
pages, completion, systemd units and schema where they belong under the prefix, and the
installed client works on its own: with no VMATRACED and the build tree off PATH, it starts
the installed daemon (the one beside its own binary) and traces a program."""

import filecmp
import os
import shutil
import tempfile

import vtlib

tap = vtlib.Tap()
build = vtlib.need_env(tap, 'BUILD_ROOT')
prefix = os.environ['PREFIX']
dest = tempfile.mkdtemp(prefix='vt-destdir-')
root = dest + prefix


def under(opt, *parts):
    d = os.environ[opt]
    return os.path.join(root, d if not os.path.isabs(d) else os.path.relpath(d, prefix),
                        *parts)


r = vtlib.execute(['meson', 'install', '--no-rebuild', '--destdir', dest, '-C', build],
                  timeout=240)
tap.ok(r.rc == 0, 'meson install --destdir succeeds', r)

datadir = under('DATADIR')
zsh_dir = 'vendor-completions' if prefix == '/usr' else 'site-functions'
expected = [
    under('BINDIR', 'vmatrace'), under('BINDIR', 'vmatraced'),
    under('MANDIR', 'man1', 'vmatrace.1'), under('MANDIR', 'man8', 'vmatraced.8'),
    under('MANDIR', 'man5', 'vmatrace-db.5'),
    os.path.join(datadir, 'bash-completion', 'completions', 'vmatrace'),
    os.path.join(datadir, 'bash-completion', 'completions', 'vmatraced'),
    os.path.join(datadir, 'zsh', zsh_dir, '_vmatrace'),
    os.path.join(datadir, 'vmatrace', 'schema.sql'),
]
for kind in ('user', 'system'):
    for unit in ('vmatraced.socket', 'vmatraced.service'):
        expected.append(os.path.join(root, 'lib', 'systemd', kind, unit))
for path in expected:
    tap.ok(os.path.isfile(path), 'installed: %s' % os.path.relpath(path, dest))
schema = os.path.join(datadir, 'vmatrace', 'schema.sql')
tap.ok(os.path.isfile(schema) and
       filecmp.cmp(schema, os.path.join(os.environ['SOURCE_ROOT'], 'sql', 'schema.sql'),
                   shallow=False), 'the installed schema.sql is the source one')
for kind in ('user', 'system'):
    svc = os.path.join(root, 'lib', 'systemd', kind, 'vmatraced.service')
    text = open(svc).read() if os.path.isfile(svc) else ''
    exe = os.path.join(prefix, os.environ['BINDIR'], 'vmatraced')
    tap.ok(('ExecStart=%s ' % exe) in text and '@' not in text,
           '%s unit runs the installed vmatraced (%s)' % (kind, exe), text)

bindir = under('BINDIR')
vmatrace = os.path.join(bindir, 'vmatrace')
env = {k: v for k, v in os.environ.items() if k != 'VMATRACED'}
env['PATH'] = '/usr/bin:/bin'
r = vtlib.execute([vmatrace, '--version'], env=env)
tap.ok(r.rc == 0 and r.text.startswith('vmatrace '), 'the installed vmatrace --version', r)
r = vtlib.execute([os.path.join(bindir, 'vmatraced'), '--version'], env=env)
tap.ok(r.rc == 0 and r.text.startswith('vmatraced '), 'the installed vmatraced --version', r)

why = vtlib.ptrace_problem()
if why and vtlib.in_ci():
    tap.ok(False, 'the installed client traces a program',
           'CI=true and %s: a CI runner must allow ptrace' % why)
elif why:
    tap.skip('the installed client traces a program', why)
else:
    with vtlib.Session(tap) as s:
        s.env = dict(env, VMATRACE_SOCKET_DIR=s.sockdir)
        s.vmatrace = vmatrace
        db = s.path('i.db')
        r = s.run([vtlib.prog('memops')], db)
        tap.ok(r.rc == 0 and os.path.exists(db) and 'events' in r.errtext,
               'the installed client traces a program', r)
        st = s.cmd('status')
        exe = ''
        try:
            pid = int(st.text.split()[2].rstrip(','))
            exe = os.readlink('/proc/%d/exe' % pid)
        except (ValueError, IndexError, OSError):
            pass
        tap.eq(exe, os.path.join(bindir, 'vmatraced'),
               'it started the installed daemon, the one beside it', st)
        r = s.cmd('events', '-d', db, '--syscall', 'mmap')
        tap.ok(r.rc == 0 and 'mmap(' in r.text, 'the installed client reads the DB', r)

if not tap.failed:
    shutil.rmtree(dest, ignore_errors=True)
else:
    tap.diag('kept for inspection: %s' % dest)
tap.done()
