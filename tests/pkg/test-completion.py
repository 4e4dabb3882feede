#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Shell completion: both scripts parse (bash -n, zsh -n) and really complete. bash: the
script is sourced in a plain bash (no bash-completion package), COMP_WORDS/COMP_CWORD set
and _vmatrace called, as readline would. zsh: an interactive `zsh -f` in a pseudo-terminal
(the zpty module) with compinit; we type a line and TAB, and a widget writes the resulting
command line to a file. Both must know every subcommand that `vmatrace --help` lists."""

import os
import re
import shlex
import shutil
import subprocess
import tempfile

import vtlib

tap = vtlib.Tap()
src = os.path.join(os.environ['SOURCE_ROOT'], 'completions')
bash_script = os.path.join(src, 'vmatrace.bash')
zsh_script = os.path.join(src, '_vmatrace')
helptext = vtlib.execute([os.environ['VMATRACE'], '--help']).text
cmds = re.findall(r'^  (\S+) ', helptext.split('Commands:', 1)[-1], re.M)
work = tempfile.mkdtemp(prefix='vt-compl-')
open(os.path.join(work, 'trace1.db'), 'w').close()
open(os.path.join(work, 'notes.txt'), 'w').close()


def bash_complete(*words):
    """COMPREPLY for the command line @words (the last one is being completed)."""
    script = ('source %s\nCOMP_WORDS=(%s)\nCOMP_CWORD=%d\nCOMPREPLY=()\n_vmatrace\n'
              'printf "%%s\\n" "${COMPREPLY[@]}"\n' %
              (shlex.quote(bash_script), ' '.join(shlex.quote(w) for w in words),
               len(words) - 1))
    r = vtlib.execute(['bash', '--norc', '--noprofile', '-c', script], cwd=work, timeout=30)
    return r, r.text.split('\n')[:-1] if r.rc == 0 else None


r = vtlib.execute(['bash', '-n', bash_script])
tap.ok(r.rc == 0 and not r.err, 'bash -n accepts vmatrace.bash', r)
r, got = bash_complete('vmatrace', 'ru')
tap.eq(got, ['run'], 'bash: "vmatrace ru<TAB>" completes run', r)
r, got = bash_complete('vmatrace', '')
tap.ok(got is not None and set(cmds) <= set(got), 'bash: every subcommand is offered', r,
       'commands: %s' % cmds)
r, got = bash_complete('vmatrace', 'events', '--js')
tap.eq(got, ['--json'], 'bash: events --js<TAB> completes --json', r)
r, got = bash_complete('vmatrace', 'maps', '-d', 'tr')
tap.eq(got, ['trace1.db'], 'bash: -d offers .db files only', r)
r, got = bash_complete('vmatrace', 'run', '-o', '')
tap.ok(got is not None and 'trace1.db' in got and 'notes.txt' not in got,
       'bash: run -o offers .db files', r)
sleeper = subprocess.Popen(['sleep', '60'])
try:
    r, got = bash_complete('vmatrace', 'attach', str(sleeper.pid))
    tap.ok(got is not None and str(sleeper.pid) in got,
           'bash: attach offers the pid of our own process', r)
finally:
    sleeper.kill()
    sleeper.wait()
r, got = bash_complete('vmatrace', 'run', '--', 'bas')
tap.ok(got is not None and 'bash' in got, 'bash: run -- completes a program name', r)

zsh = shutil.which('zsh')
if not zsh:
    for what in ('zsh -n', 'ru', 'events --js', '-d', 'subcommands'):
        tap.skip('zsh: %s' % what, 'zsh is not installed')
    tap.done()

r = vtlib.execute([zsh, '-n', zsh_script])
tap.ok(r.rc == 0 and not r.err, 'zsh -n accepts _vmatrace', r)

# Drive an interactive zsh: compinit with only our directory added to fpath, TAB, then ^G
# runs a widget that writes $BUFFER to a file.
DRIVER = r'''
zmodload zsh/zpty || exit 2
zpty z zsh -f -i
zpty -w z "PS1='%% ' PROMPT_EOL_MARK=''"
zpty -w z "fpath=(${(q)1} \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z "dumpbuf() { print -r -- \"\$BUFFER\" > ${(q)2}; }; zle -N dumpbuf; bindkey '^G' dumpbuf"
zpty -w -n z "$3"$'\t'
sleep 1
zpty -w -n z $'\a'
for i in {1..100}; do [[ -s $2 ]] && break; sleep 0.1; done
zpty -d z
'''
fdir = os.path.join(work, 'fpath')
os.mkdir(fdir)
shutil.copy(zsh_script, fdir)
driver = os.path.join(work, 'driver.zsh')
with open(driver, 'w') as f:
    f.write(DRIVER)


def zsh_complete(line):
    out = os.path.join(work, 'buffer')
    if os.path.exists(out):
        os.unlink(out)
    r = vtlib.execute([zsh, '-f', driver, fdir, out, line], cwd=work, timeout=60,
                      env=dict(os.environ, TERM='dumb', HOME=work))
    try:
        with open(out) as f:
            return r, f.read().rstrip('\n')
    except OSError:
        return r, None


r, got = zsh_complete('vmatrace ru')
tap.eq(got, 'vmatrace run ', 'zsh: "vmatrace ru<TAB>" completes run', r)
r, got = zsh_complete('vmatrace events --js')
tap.eq(got, 'vmatrace events --json ', 'zsh: events --js<TAB> completes --json', r)
r, got = zsh_complete('vmatrace maps -d tr')
tap.eq(got, 'vmatrace maps -d trace1.db ', 'zsh: -d completes a .db file', r)
text = open(zsh_script).read()
missing = [c for c in cmds if ("'%s:" % c) not in text]
tap.ok(not missing, 'zsh: every subcommand is described', 'missing: %s' % missing)
shutil.rmtree(work, ignore_errors=True)
tap.done()
