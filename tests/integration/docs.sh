#!/bin/sh
# The manual pages, the README's summaries and the bash completion, against
# the binaries they describe:
#   - $B/man/* render without a warning (mandoc -Tlint, groff -ww);
#   - every command, each command's options and the global options that
#     `strata --help` and `strata COMMAND --help` name are in strata(1) (each
#     command's options in its own section) and in the README's CLI block
#     (each command's on its line); every flag and setting of
#     `stratad --help` (config.c's table) is in stratad(8), stratad.conf(5)
#     and the README;
#   - client/strata.bash completes commands, options, option values, files
#     and the snapshot keys of a daemon it starts (private root and socket),
#     and nothing, silently, without a daemon.
# A failure says what is missing from which page.
# shellcheck disable=SC2016 # the backquotes of the messages are text
set -u
. "$(dirname "$0")/../lib.sh"
lib_init docs
need_tools mandoc groff col bash awk
STRATA=${STRATA:-$B/strata}
MAN=$B/man
COMPLETION=$REPO/client/strata.bash
BASH_COMPLETION=/usr/share/bash-completion/bash_completion
[ -f "$BASH_COMPLETION" ] || fail "bash-completion is installed" "no $BASH_COMPLETION (make deps)"

# ---- the lists, from the binaries ----------------------------------------------

# Option words (-o, --long-name) in stdin, one per line.
option_words() { grep -oE -- '(^|[^A-Za-z0-9_-])--?[a-z][a-z0-9-]*' | sed -E 's/^[^-]*//' | sort -u; }

"$STRATAD" --help >"$T/stratad.help" || fail "stratad --help exits 0"
sed -nE 's/^  (--[a-z0-9-]+).*/\1/p' "$T/stratad.help" >"$T/settings"
sed 's/^--//' "$T/settings" | tr - _ >"$T/keys"
sed -n 's/^usage: stratad //p' "$T/stratad.help" | option_words >"$T/stratad.flags"
"$STRATA" --help >"$T/strata.help" || fail "strata --help exits 0"
# The left column of the option lines (`  -h, --help  ...`).
sed -nE 's/^  +(-[^ ].*)$/\1/p' "$T/strata.help" | sed -E 's/  .*//' | option_words >"$T/globals"
sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p' "$T/strata.help" >"$T/commands"
for f in settings stratad.flags globals commands; do
	if [ -s "$T/$f" ]; then pass "the help names $f"; else fail "the help names $f" "none parsed"; fi
done
# $T/opts.CMD: the options CMD's help names that are not global, on its
# Usage line and the lines that start with an option (`-q, --quiet: ...`);
# prose may name other commands' options.
while read -r c; do
	if [ "$c" = help ]; then
		: >"$T/opts.$c"
		continue
	fi
	"$STRATA" "$c" --help 2>&1 | grep -E '^(Usage:|-)' | option_words | grep -vxF -f "$T/globals" >"$T/opts.$c"
done <"$T/commands"

# ---- the pages render without a warning ------------------------------------------

for page in strata.1 stratad.8 stratad.conf.5; do
	if [ ! -s "$MAN/$page" ]; then
		fail "$page is rendered" "no $MAN/$page (make man)"
		: >"$T/$page.txt"
		continue
	fi
	# scdoc starts every paragraph with a paragraph macro, also where one is
	# redundant (after a heading, or twice): mandoc notes those, which change
	# nothing; any other note fails.
	mandoc -Tlint -W warning "$MAN/$page" 2>&1 | grep -v 'WARNING: skipping paragraph macro: PP ' >"$T/lint"
	groff -man -ww -z "$MAN/$page" >>"$T/lint" 2>&1
	if [ -s "$T/lint" ]; then
		fail "$page renders without a warning" "$(head -n 10 "$T/lint")"
	else
		pass "$page renders without a warning"
	fi
	# Lines as wide as they are, so that no option is broken across two.
	mandoc -T ascii -O width=1000 "$MAN/$page" | col -bx >"$T/$page.txt"
done

# ---- every command, option and setting is in the pages ---------------------------

# How a page names W: word, at a word boundary (not part of a longer option
# or key); entry, as the term of a definition list, its line starting (after
# the indent) with W, maybe after others (`-o FILE, --output FILE`);
# setting, as stratad.conf(5)'s `KEY = TYPE`.
word_re() { printf '(^|[^A-Za-z0-9_-])%s([^A-Za-z0-9_-]|$)' "$(printf '%s' "$1" | sed 's/[.]/\\./g')"; }
entry_re() { printf '^ +(-[^,]*, )*%s([ ,=]|$)' "$1"; }
setting_re() { printf '^ +%s = ' "$1"; }
# LIST HOW TEXT MESSAGE: for each word W of the file LIST that TEXT does not
# name (HOW: word, entry or setting), MESSAGE with W for its %s.
lacking()
{
	while read -r w; do
		# shellcheck disable=SC2059 # MESSAGE is the format
		grep -qE -- "$("$2_re" "$w")" "$3" || printf "$4\n" "$w"
	done <"$1"
}

# The checks print one line per thing missing, saying from which page.
# check_strata1 TEXT: strata(1)'s text.
check_strata1()
{
	lacking "$T/globals" entry "$1" 'strata.1: global option `%s` (from `strata --help`) has no entry under GLOBAL OPTIONS'
	while read -r c; do
		# The command's section: from its heading (`   CMD`) to the next heading.
		awk -v c="$c" '$0 == "   " c { on = 1; next } /^[^ ]|^   [^ ]/ { on = 0 } on' "$1" >"$T/section"
		if ! [ -s "$T/section" ]; then
			echo "strata.1: command \`$c\` (from \`strata --help\`) has no section under COMMANDS"
			continue
		fi
		lacking "$T/opts.$c" word "$T/section" "strata.1: command \`$c\` lacks its option \`%s\` (from \`strata $c --help\`)"
	done <"$T/commands"
}
# check_stratad TEXT8 TEXT5: stratad(8)'s and stratad.conf(5)'s texts.
check_stratad()
{
	lacking "$T/stratad.flags" entry "$1" 'stratad.8: flag `%s` (from `stratad --help`) has no entry under OPTIONS'
	lacking "$T/settings" entry "$1" 'stratad.8: setting flag `%s` (from `stratad --help`) has no entry under OPTIONS'
	lacking "$T/keys" setting "$2" 'stratad.conf.5: setting `%s` (from `stratad --help`) has no entry under SETTINGS'
}
# check_readme README: its CLI block (the first code block under `## The
# CLI`) has a line per command, starting with its name, that names each of
# its options, and names the global options; README.md names every flag.
check_readme()
{
	awk '/^## The CLI/ { s = 1 } s && /^```/ { if (b) exit; b = 1; next } b' "$1" >"$T/readme.cli"
	if ! [ -s "$T/readme.cli" ]; then
		echo "README.md: no code block under \`## The CLI\`"
		return
	fi
	lacking "$T/globals" word "$T/readme.cli" 'README.md: the CLI block lacks the global option `%s` (from `strata --help`)'
	while read -r c; do
		grep -E "^ *$c( |$)" "$T/readme.cli" >"$T/readme.line"
		if ! [ -s "$T/readme.line" ]; then
			echo "README.md: the CLI block has no line for command \`$c\` (from \`strata --help\`)"
			continue
		fi
		lacking "$T/opts.$c" word "$T/readme.line" "README.md: the CLI block's line of \`$c\` lacks its option \`%s\` (from \`strata $c --help\`)"
	done <"$T/commands"
	cat "$T/stratad.flags" "$T/settings" >"$T/flags"
	lacking "$T/flags" word "$1" 'README.md: lacks the flag `%s` (from `stratad --help`)'
}

# NAME FILE: passes when FILE is empty, else fails with its lines.
none_missing()
{
	if [ -s "$2" ]; then
		fail "$1" "$(wc -l <"$2") missing:
$(sed 's/^/       /' "$2")"
	else
		pass "$1"
	fi
}
check_strata1 "$T/strata.1.txt" >"$T/missing"
none_missing "strata.1 has every command, its options and the global options" "$T/missing"
check_stratad "$T/stratad.8.txt" "$T/stratad.conf.5.txt" >"$T/missing"
none_missing "stratad.8 and stratad.conf.5 have every flag and setting" "$T/missing"
check_readme "$REPO/README.md" >"$T/missing"
none_missing "README.md's CLI block has every command and option, and it every flag" "$T/missing"

# The checks catch what is missing: the same pages without one option each.
sed '/--source-date-epoch/d' "$T/strata.1.txt" >"$T/cut.txt"
check_strata1 "$T/cut.txt" >"$T/missing"
check "a command's option cut from strata.1 is reported" \
	grep -qxF "strata.1: command \`diff\` lacks its option \`--source-date-epoch\` (from \`strata diff --help\`)" "$T/missing"
sed '/^ *extract_max_ratio = /d' "$T/stratad.conf.5.txt" >"$T/cut.txt"
check_stratad "$T/stratad.8.txt" "$T/cut.txt" >"$T/missing"
check "a setting cut from stratad.conf.5 is reported" \
	grep -qxF "stratad.conf.5: setting \`extract_max_ratio\` (from \`stratad --help\`) has no entry under SETTINGS" "$T/missing"
sed '/^ *--tenant/d' "$T/strata.1.txt" >"$T/cut.txt"
check_strata1 "$T/cut.txt" >"$T/missing"
check "a global option cut from strata.1 is reported" grep -qF "global option \`--tenant\`" "$T/missing"
sed 's/--digest//' "$REPO/README.md" >"$T/cut.md"
check_readme "$T/cut.md" >"$T/missing"
check "an option cut from the README's CLI block is reported" grep -qF "line of \`apply\` lacks its option \`--digest\`" "$T/missing"

# ---- bash completion -------------------------------------------------------------

# comp WORD...: the completions of the last WORD (COMPREPLY, one a line, in
# $T/comp) as bash would ask for them; what the function printed on stderr in
# $T/comp.err.
comp()
{
	PATH="$B:$PATH" bash --norc -c '
		. "$1" || exit 1
		shift
		COMP_WORDS=("$@") COMP_CWORD=$(($# - 1)) COMP_LINE="$*" COMP_POINT=${#COMP_LINE}
		_strata
		[ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}"' comp "$COMPLETION" "$@" \
		>"$T/comp" 2>"$T/comp.err"
}
# NAME WANT WORD...: the completions, sorted and joined by spaces, are WANT
# and nothing went to stderr.
comp_is()
{
	_name=$1 _want=$2
	shift 2
	comp "$@"
	_got=$(sort "$T/comp" | tr '\n' ' ' | sed 's/ $//')
	if [ "$_got" = "$_want" ] && ! [ -s "$T/comp.err" ]; then
		pass "$_name"
	else
		fail "$_name" "want \`$_want\`, got \`$_got\`$(sed 's/^/; stderr: /' "$T/comp.err")"
	fi
}
# NAME WORDS HAS... [-- LACKS...]: the completions of WORDS (split at
# spaces) hold each HAS and no LACKS, and nothing went to stderr.
comp_has()
{
	_name=$1 _words=$2
	shift 2
	# shellcheck disable=SC2086 # the words, split at spaces
	comp $_words
	_bad=''
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		grep -qxF -- "$1" "$T/comp" || _bad="$_bad missing $1;"
		shift
	done
	[ $# -eq 0 ] || shift
	for _l in "$@"; do
		! grep -qxF -- "$_l" "$T/comp" || _bad="$_bad has $_l;"
	done
	if [ -z "$_bad" ] && ! [ -s "$T/comp.err" ]; then
		pass "$_name"
	else
		fail "$_name" "$_bad got: $(tr '\n' ' ' <"$T/comp")$(sed 's/^/; stderr: /' "$T/comp.err")"
	fi
}

_got=$(bash --norc -c '. "$1" && complete -p strata' sh "$COMPLETION" 2>&1)
if [ "$_got" = "complete -F _strata strata" ]; then
	pass "sourcing strata.bash binds the completion"
else
	fail "sourcing strata.bash binds the completion" "complete -p strata: $_got"
fi
comp_is "a command prefix completes the command" "prepare" strata pre
comp_is "a prefix of several commands completes each" "stat" strata st
comp_is "after help, a command" "umount usage" strata help u
comp_is "a global option prefix completes it" "--address" strata --add
comp_is "a global option after a global one's value" "--tenant" strata --address "$T/none" --ten
comp_has "a command's options after --" "strata apply --" --digest --json --address -- --label --parent
comp_has "diff's options, short and long" "strata diff k -" -o --output --media-type --parent --source-date-epoch -- --digest
comp_is "--media-type's values" "gzip tar zstd" strata diff k --media-type ""
: >"$T/layer.tar"
mkdir "$T/layers.d"
comp_is "a FILE argument completes files" "$T/layer.tar $T/layers.d" strata apply k "$T/lay"
comp_is "a DIR argument completes directories" "$T/layers.d" strata mount k "$T/lay"
comp_is "no daemon: no key, and nothing printed" "" strata --address "$T/none" stat ""

ensure_user
ADDR=$T/s.sock
if start_stratad "$T/root" "$ADDR"; then
	"$STRATA" --address "$ADDR" prepare a1 >/dev/null &&
		"$STRATA" --address "$ADDR" commit c1 a1 &&
		"$STRATA" --address "$ADDR" prepare a2 c1 >/dev/null &&
		"$STRATA" --address "$ADDR" view v1 c1 >/dev/null &&
		"$STRATA" --address "$ADDR" view default/1/sha256:ab c1 >/dev/null
	check "the snapshots to complete exist" "$STRATA" --address "$ADDR" stat v1
	comp_is "KEY completes every snapshot" "a2 c1 default/1/sha256:ab v1" strata --address "$ADDR" stat ""
	comp_is "keys of the daemon --address= names" "a2" strata --address="$ADDR" stat a
	comp_is "PARENT completes committed snapshots" "c1" strata --address "$ADDR" prepare new ""
	comp_is "apply's KEY completes active snapshots" "a2" strata --address "$ADDR" apply ""
	comp_is "mounts' KEY completes active snapshots and views" "a2 default/1/sha256:ab v1" strata --address "$ADDR" mounts ""
	comp_is "rm completes keys after keys" "a2 c1 default/1/sha256:ab v1" strata --address "$ADDR" rm a2 ""
	comp_is "--parent's value completes keys" "c1" strata --address "$ADDR" diff a2 --parent c
	comp_is "an option's value is no argument" "$T/layer.tar $T/layers.d" strata --address "$ADDR" apply --digest sha256:0 a2 "$T/lay"
	# As installed, bash-completion's helpers are there: a key with a colon,
	# where bash splits words, completes past it (bash puts in what follows).
	_got=$(PATH="$B:$PATH" bash --norc -c '
		. "$1" && . "$2" || exit 1
		COMP_LINE="strata --address $3 stat default/1/sha256:a" COMP_POINT=${#COMP_LINE}
		COMP_WORDS=(strata --address "$3" stat default/1/sha256 : a) COMP_CWORD=6
		_strata
		printf "%s\n" "${COMPREPLY[@]}"' sh "$BASH_COMPLETION" "$COMPLETION" "$ADDR" 2>&1)
	if [ "$_got" = ab ]; then
		pass "with bash-completion, a key completes past a colon"
	else
		fail "with bash-completion, a key completes past a colon" "want \`ab\`, got \`$_got\`"
	fi
else
	fail "daemon starts"
fi

summary
