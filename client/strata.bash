# bash completion for strata(1); installed as
# share/bash-completion/completions/strata.
#
# The commands and options come from the CLI's own help at completion time
# (`strata --help`, `strata COMMAND --help`), so they are those of the strata
# being completed.  Snapshot keys come from the daemon (`strata ls`, with the
# --address and --tenant typed so far); with no daemon there are none, and
# nothing is printed.

# The strata being completed: the command word, else the one on the PATH.
_strata_bin()
{
	local bin=${_strata_words[0]}
	[[ $bin == */* && -x $bin ]] || bin=strata
	printf '%s\n' "$bin"
}

# The global options typed so far, for the daemon calls (--address, --tenant).
_strata_target()
{
	local i w
	_strata_call=()
	for ((i = 1; i < _strata_cword; i++)); do
		w=${_strata_words[i]}
		case $w in
		--address | --tenant) _strata_call+=("$w" "${_strata_words[i + 1]}") ;;
		--address=* | --tenant=*) _strata_call+=("$w") ;;
		esac
	done
}

# Lines of HELP (stdin) that name options, as the help writes them.
_strata_option_words()
{
	grep -oE '(^|[^A-Za-z0-9_-])--?[a-z][a-z0-9-]*' | sed -E 's/^[^-]*//' | sort -u
}

# The global options: the left column of `strata --help`'s option lines.
_strata_globals()
{
	"$(_strata_bin)" --help 2>/dev/null | sed -nE 's/^  +(-[^ ].*)$/\1/p' | sed -E 's/  .*//' |
		_strata_option_words
}

# The global options that take a value (`--address PATH`).
_strata_global_values()
{
	"$(_strata_bin)" --help 2>/dev/null | sed -nE 's/^  +(-[^ ].*)$/\1/p' | sed -E 's/  .*//' |
		grep -oE -- '--?[a-z][a-z0-9-]* [^-|[ ]' | sed 's/ .$//'
}

_strata_commands()
{
	"$(_strata_bin)" --help 2>/dev/null | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p'
}

# COMMAND's options: those its help names that are not global.
_strata_command_options()
{
	local globals
	globals=$(_strata_globals)
	"$(_strata_bin)" "$1" --help 2>/dev/null | _strata_option_words | grep -vxF -e "${globals:---}"
}

# COMMAND's options that take a value: in its Usage line (`[--label K=V]`)
# or at the start of a line of its help (`--jobs N: ...`, `-o/--output FILE`).
_strata_command_values()
{
	"$(_strata_bin)" "$1" --help 2>/dev/null | sed -nE 's/^Usage: //p; /^-/p' |
		grep -oE -- '(^|[^A-Za-z0-9_-])(--?[a-z][a-z0-9-]*/)?--?[a-z][a-z0-9-]* [^-|[ ]' |
		grep -oE -- '--?[a-z][a-z0-9-]*' | sort -u
}

# Snapshot keys, of the kinds the filters name (containerd filters; none:
# all), starting with $cur.
_strata_keys()
{
	local bin out rc
	bin=$(_strata_bin)
	_strata_target
	out=$("$bin" "${_strata_call[@]}" ls -q "$@" 2>/dev/null)
	rc=$?
	if ((rc == 2)); then # no `ls -q`: the first column of the table
		out=$("$bin" "${_strata_call[@]}" ls "$@" 2>/dev/null | awk 'NR > 1 { print $1 }')
		rc=${PIPESTATUS[0]}
	fi
	((rc == 0)) || return 0
	local k
	while IFS= read -r k; do
		[[ -n $k && $k == "$cur"* ]] && COMPREPLY+=("$k")
	done <<<"$out"
}

_strata_files()
{
	compopt -o filenames 2>/dev/null
	mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}

_strata_dirs()
{
	compopt -o filenames 2>/dev/null
	mapfile -t COMPREPLY < <(compgen -d -- "$cur")
}

_strata_words_of()
{
	mapfile -t COMPREPLY < <(compgen -W "$*" -- "$cur")
}

# What the N-th argument of COMMAND is.
_strata_argument()
{
	local cmd=$1 n=$2
	case $cmd:$n in
	prepare:2 | view:2 | share:1 | export:1) _strata_keys 'kind==committed' ;;
	commit:2 | apply:1) _strata_keys 'kind==active' ;;
	mounts:1) _strata_keys 'kind==active' 'kind==view' ;;
	rm:* | stat:1 | usage:1 | label:1 | diff:1 | mount:1 | debug:4) _strata_keys ;;
	apply:2 | import:1 | export:2) _strata_files ;;
	mount:2 | umount:1) _strata_dirs ;;
	debug:1) _strata_words_of probe ;;
	debug:2) _strata_words_of extract diff mount usage remove rebase ;;
	help:1) _strata_words_of "$(_strata_commands)" ;;
	esac
}

# The value of option OPT.
_strata_value()
{
	case $1 in
	--address | -o | --output) _strata_files ;;
	--parent) _strata_keys ;;
	--media-type) _strata_words_of tar gzip zstd ;;
	esac
}

_strata()
{
	local cur _strata_words _strata_cword _strata_call
	if declare -F _init_completion >/dev/null; then
		# shellcheck disable=SC2034 # prev: _init_completion sets it too
		local prev words cword
		_init_completion -n := || return
		_strata_words=("${words[@]}") _strata_cword=$cword
	else
		_strata_words=("${COMP_WORDS[@]}") _strata_cword=$COMP_CWORD
		cur=${COMP_WORDS[COMP_CWORD]}
	fi
	COMPREPLY=()

	# The command, the argument being completed, and whether it is an
	# option's value.
	local i w cmd='' n=0 valued_opt='' dashdash=0 values
	values=$(_strata_global_values)
	for ((i = 1; i < _strata_cword; i++)); do
		w=${_strata_words[i]}
		if [[ -n $valued_opt ]]; then
			valued_opt=''
		elif ((!dashdash)) && [[ $w == -- ]]; then
			dashdash=1
		elif ((!dashdash)) && [[ $w == -* ]]; then
			grep -qxF -e "$w" <<<"$values" && valued_opt=$w
		elif [[ -z $cmd ]]; then
			cmd=$w
			values+=$'\n'$(_strata_command_values "$cmd")
		else
			n=$((n + 1))
		fi
	done
	if ((i > 1)) && [[ -n $valued_opt ]]; then
		_strata_value "$valued_opt"
	elif ((!dashdash)) && [[ $cur == -* ]]; then
		local opts
		opts=$(_strata_globals)
		[[ -z $cmd ]] || opts+=$'\n'$(_strata_command_options "$cmd")
		_strata_words_of "$opts"
	elif [[ -z $cmd ]]; then
		_strata_words_of "$(_strata_commands)"
	else
		_strata_argument "$cmd" $((n + 1))
	fi
	if declare -F __ltrim_colon_completions >/dev/null; then
		__ltrim_colon_completions "$cur"
	fi
	return 0
}

complete -F _strata strata
