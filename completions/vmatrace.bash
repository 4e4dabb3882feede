# SPDX-License-Identifier: MIT
# bash completion for vmatrace and vmatraced. Installed as
# share/bash-completion/completions/vmatrace (and vmatraced, a link); needs nothing from
# the bash-completion package, but uses its _command_offset for `run PROG ...` when loaded.
#
# Adding a subcommand: add its name to _vmatrace_commands and a line to _vmatrace_opts.

_vmatrace_commands='run attach detach events maps history why timeline export diff sql replay stats
	ps status stop doctor'

# _vmatrace_opts CMD - the options of subcommand CMD.
_vmatrace_opts()
{
	case $1 in
	run)     echo '-o --output --stacks --verify --verify-all -h --help' ;;
	attach)  echo '-o --output --stacks -h --help' ;;
	detach)  echo '-h --help' ;;
	events)  echo '-d --db -p --pid -t --tid --mm -e --syscall -k --stacks --json -h --help' ;;
	maps)    echo '-d --db -p --pid -a --at -x --extended -A --range --json -h --help' ;;
	history) echo '-d --db -p --pid --no-stacks --json -h --help' ;;
	why)     echo '-d --db -p --pid --no-stacks --json -h --help' ;;
	timeline) echo '-d --db -p --pid -o --output --seq --max-rects -h --help' ;;
	export)  echo '-d --db -p --pid --perfetto --folded -o --output -h --help' ;;
	diff)    echo '-d --db -p --pid --json -h --help' ;;
	sql)     echo '-d --db -l --list --json -h --help' ;;
	replay)  echo '-d --db -p --pid -f --from -t --to -j --json --plain -h --help' ;;
	stats)   echo '-d --db -p --pid -j --json -h --help' ;;
	ps)      echo '-d --db --json -h --help' ;;
	status)  echo '-h --help' ;;
	stop)    echo '-h --help' ;;
	doctor)  echo '-d --db -h --help' ;;
	esac
}

# The pids of the processes we may trace: our own (all of them for root).
_vmatrace_pids()
{
	local d
	for d in /proc/[0-9]*; do
		[[ -O $d ]] && printf '%s\n' "${d#/proc/}"
	done
}

# DB files (*.db) and directories to reach them.
_vmatrace_dbs()
{
	compopt -o filenames 2>/dev/null
	COMPREPLY=($(compgen -f -X '!*.db' -- "$1") $(compgen -d -- "$1"))
}

_vmatrace()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local cmd= i

	# The subcommand is the first word after vmatrace's own options.
	for ((i = 1; i < COMP_CWORD; i++)); do
		if [[ ${COMP_WORDS[i]} != -* ]]; then
			cmd=${COMP_WORDS[i]}
			break
		fi
	done
	if [[ -z $cmd ]]; then
		COMPREPLY=($(compgen -W "$_vmatrace_commands -h --help -V --version" -- "$cur"))
		return
	fi

	# Options whose argument depends on the command: timeline and export write other
	# files than DBs, and replay's -t is --to (a seq), not --tid.
	case $cmd:$prev in
	timeline:-o|timeline:--output)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -X '!*.svg' -- "$cur") $(compgen -f -X '!*.html' -- "$cur")
			$(compgen -d -- "$cur"))
		return ;;
	export:-o|export:--output)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	replay:-f|replay:--from|replay:-t|replay:--to)
		return ;;
	esac

	case $prev in
	-o|--output|-d|--db)
		_vmatrace_dbs "$cur"
		return ;;
	-p|--pid|-t|--tid)
		COMPREPLY=($(compgen -W "$(_vmatrace_pids)" -- "$cur"))
		return ;;
	-e|--syscall)
		COMPREPLY=($(compgen -W '%memory %process %file mmap munmap mremap brk mprotect madvise
			mlock munlock mlockall munlockall shmat shmdt clone clone3 fork vfork execve
			exit exit_group prctl unlink unlinkat rename renameat renameat2' -- "$cur"))
		return ;;
	--mm|-a|--at|-A|--range|--max-rects)
		return ;;
	esac

	# run: PROG is the first word that is not an option (or the one after --); from
	# there on the words are PROG's.
	if [[ $cmd == run ]]; then
		local j=$((i + 1)) dashdash=
		while ((j < COMP_CWORD)); do
			case ${COMP_WORDS[j]} in
			-o|--output) ((j += 2)) ;;
			--) ((j++)); dashdash=1; break ;;
			-*) ((j++)) ;;
			*) break ;;
			esac
		done
		if ((j < COMP_CWORD)); then
			if declare -F _command_offset >/dev/null; then
				_command_offset "$j"
			else
				compopt -o filenames 2>/dev/null
				COMPREPLY=($(compgen -f -- "$cur"))
			fi
			return
		fi
		if [[ -n $dashdash || $cur != -* ]]; then
			COMPREPLY=($(compgen -c -- "$cur"))
			return
		fi
	fi

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_vmatrace_opts "$cmd")" -- "$cur"))
		return
	fi
	case $cmd in
	attach|detach)
		COMPREPLY=($(compgen -W "$(_vmatrace_pids)" -- "$cur")) ;;
	esac
}

_vmatraced()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}

	case $prev in
	--idle-exit|--poll-us|--stack-depth)
		return ;;
	esac
	COMPREPLY=($(compgen -W '-f --foreground -v --verbose --idle-exit --system --poll-us
		--stack-depth -h --help -V --version' -- "$cur"))
}

complete -F _vmatrace vmatrace
complete -F _vmatraced vmatraced
