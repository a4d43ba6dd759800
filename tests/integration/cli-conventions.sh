#!/bin/sh
# The CLI's conventions, as users of ctr, nerdctl and podman expect them:
# --version and `strata version` (NM_VERSION, for any peer that can
# connect), -q and --format, snake_case --json everywhere and JSON errors,
# exit codes by error class, the messages when the daemon cannot be reached,
# `import -`, bad filters as usage errors, and on a 40-column terminal
# (tests/tools/ptyrun.py) the progress line with its ETA and Ctrl-C.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cli-lib.sh"
lib_init cli-conventions
need_tools python3 setpriv tar
ensure_user
STRATA=${STRATA:-$B/strata}
ADDR=$T/s.sock
CALL_TIMEOUT=60
PTYRUN=$REPO/tests/tools/ptyrun.py
start_stratad "$T/root" "$ADDR" --enable-probe || { fail "daemon starts"; summary; exit 1; }
version=$(sed -n 's/^#define STRATA_VERSION "\(.*\)"$/\1/p' "$REPO/common/args.h")

# A python expression over the JSON document in $T/out (or FILE) as d.
json_is() { # NAME EXPR [FILE]
	if python3 -c 'import json,sys; d=json.load(open(sys.argv[2])); sys.exit(0 if eval(sys.argv[1]) else 1)' \
		"$2" "${3:-$T/out}" 2>"$T/json.err"; then
		pass "$1"
	else
		fail "$1" "$(show) $(cat "$T/json.err")"
	fi
}
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

# ---- version ----
run "$STRATA" --version
expect_rc "strata --version exits 0" 0
out_is "strata --version prints the client's version" "strata $version"
run st version
expect_rc "strata version exits 0" 0
out_match "version: the client's" "^client: +strata $version\$"
out_match "version: the daemon's, with its socket" "^daemon: +stratad $version at $ADDR.fd\$"
out_match "version: the features it serves (enable_probe)" '^features:.* probe( |$)'
out_lacks "version: no tenants configured, none listed" "tenants"
out_lacks "version: no content_root, no diff service" "diff_service"
out_match "version: the caller's tenant" '^tenant: +containerd$'
run st --json version
json_is "version --json: client and daemon, snake_case" \
	"d['client']['version'] == '$version' and d['daemon']['version'] == '$version' and 'fsck' in d['daemon']['features'] and d['daemon']['address'] == '$ADDR.fd'"
# A peer that is no tenant's may ask the version, and nothing else.
chmod 0666 "$ADDR.fd"
run nobody "$STRATA" --address "$ADDR" version
expect_rc "version: a peer that is no tenant's may ask it" 0
out_match "... and learns it has no tenant" '^tenant: +- '
run nobody "$STRATA" --address "$ADDR" ls
expect_rc "... while its other calls are refused (permission denied: 5)" 5
chmod 0660 "$ADDR.fd"
run "$STRATA" --address "$T/none.sock" version
expect_rc "version with the daemon down: unreachable (4)" 4
out_is "... still prints the client's version" "client:   strata $version"
err_has "... and says why" "cannot connect to stratad at \`$T/none.sock.fd\`"
run "$STRATA" --json --address "$T/none.sock" version
json_is "... --json: the client's version on stdout" "d == {'client': {'version': '$version'}}"
json_is "... and the error as JSON on stderr" "d['code'] == 'unavailable' and 'is it running?' in d['message']" "$T/err"
run "$STRATA" help --help
expect_rc "strata help --help" 0
out_has "... shows help's usage" "help [COMMAND]"
run "$STRATA" help version
out_has "strata help version" "Usage: strata [--address PATH] [--json] version"
out_has "... lists the features" "parallel_unpack"
run "$STRATA" --help
out_has "strata --help lists version" "  version "
out_has "strata --help lists the exit codes" "3  not found"
out_has "... up to permission denied" "5  permission denied"

# ---- the daemon cannot be reached ----
run "$STRATA" --address "$T/none.sock" ls
expect_rc "no socket: 4" 4
err_has "no socket: what to do" "is it running? (start it with \`systemctl start strata\` or \`stratad --config FILE\`"
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind(sys.argv[1]); s.close()' "$T/dead.sock.fd"
run "$STRATA" --address "$T/dead.sock" ls
expect_rc "a socket nothing listens on: 4" 4
err_has "... Connection refused, and what to do" "Connection refused: is it running?"
run nobody "$STRATA" --address "$ADDR" ls
expect_rc "a socket the caller may not open: permission denied (5)" 5
err_has "... naming socket_group" "Permission denied: only root and the members of the daemon's socket_group"
run "$STRATA" --address "$ADDR.fd" version
expect_rc "--address with the .fd suffix works" 0
out_match "... naming the same socket" "^daemon: .* at $ADDR.fd\$"

# ---- exit codes and --json errors ----
st prepare base >/dev/null && st commit base-c base && st prepare kid base-c >/dev/null
run st stat nosuch
expect_rc "not found: 3" 3
err_has "... human message" "strata: stat nosuch: NotFound: "
run st --json stat nosuch
expect_rc "not found with --json: 3" 3
json_is "... one JSON object on stderr" \
	"d['code'] == 'not_found' and d['command'] == 'stat' and d['object'] == 'nosuch' and 'nosuch' in d['message']" "$T/err"
if [ "$(wc -l <"$T/err")" -eq 1 ] && [ ! -s "$T/out" ]; then pass "... alone, on one line"; else fail "... alone, on one line" "$(show)"; fi
run st rm base-c
expect_rc "a failed call (FailedPrecondition): 1" 1
run st --json rm base-c
json_is "... --json: failed_precondition" "d['code'] == 'failed_precondition'" "$T/err"
run st --json stat
expect_rc "usage error with --json: 2" 2
json_is "... as JSON" "d['code'] == 'usage' and d['command'] == 'stat'" "$T/err"
run st --json bogus
json_is "unknown command with --json: JSON" "d['code'] == 'usage' and 'bogus' in d['message']" "$T/err"
run st --json --address
expect_rc "--address without a value: 2" 2
json_is "... as JSON too" "d['code'] == 'usage'" "$T/err"
run "$STRATA" --json
expect_rc "no command with --json: 2" 2
json_is "... as JSON" "d['code'] == 'usage' and 'no command' in d['message']" "$T/err"

# ---- ls: -q, --format, filters ----
run st ls -q
expect_rc "ls -q" 0
out_is "ls -q: the names only" "base-c
kid"
run st ls --quiet 'kind==active'
out_is "ls --quiet with a filter" "kid"
run st ls --format '{{.Name}}\t{{.Parent}}|{{.Kind}}'
expect_rc "ls --format" 0
out_is "ls --format: fields, and a tab for backslash-t" "$(printf 'base-c\t|committed\nkid\tbase-c|active')"
run st ls --format '{{ .Name }} {{json .Labels}}' 'name==kid'
out_is "ls --format: spaces in braces, json of a field" 'kid {}'
run st ls --format '{{json .}}' 'name==base-c'
json_is "ls --format '{{json .}}': the Info as --json" "d['name'] == 'base-c' and d['kind'] == 'committed'"
run st stat kid --format '{{.Name}} <- {{.Parent}}'
out_is "stat --format" "kid <- base-c"
run st ls --format '{{.Nope}}'
expect_rc "ls --format with an unknown field: 2" 2
err_has "... naming it" "unknown field \`.Nope\`"
run st ls -q --format '{{.Name}}'
expect_rc "-q with --format: 2" 2
run st usage -q
out_is "usage -q: the keys only" "base-c
kid"
for f in bogus 'foo==bar' 'kind==weird' 'name==' 'labels' 'name=="x'; do
	run st ls "$f"
	expect_rc "ls '$f' is a usage error" 2
	err_has "... saying the filter is bad" "strata: ls: bad filter: "
done
run st ls 'kind==committed' 'labels.a==b' 'name~=^k' 'parent==base-c'
expect_rc "good filters: 0" 0

# ---- --json: snake_case keys, lower-case kinds, everywhere ----
# Labels and annotations are data: their keys are the user's.
cat >"$T/keys.py" <<'EOF'
import json, re, sys
bad = []
def walk(v, path, data):
    if isinstance(v, dict):
        for k, x in v.items():
            if not data and not re.fullmatch(r"[a-z][a-z0-9_]*", k):
                bad.append(path + "." + k)
            if k == "kind" and isinstance(x, str) and x != x.lower():
                bad.append(path + ".kind=" + x)
            walk(x, path + "." + k, k in ("labels", "annotations"))
    elif isinstance(v, list):
        for x in v:
            walk(x, path + "[]", False)
for f in sys.argv[1:]:
    walk(json.load(open(f)), f.rsplit("/", 1)[-1], False)
print(" ".join(bad))
sys.exit(1 if bad else 0)
EOF
mkdir -p "$T/json" "$T/lay/d" "$T/mnt"
echo hello >"$T/lay/d/f"
tar -C "$T/lay" -cf "$T/small.tar" d
j=0
jrun() { # ARGS...: st --json ARGS, its stdout kept as one of the documents
	j=$((j + 1))
	st --json "$@" >"$T/json/$j-$1" 2>"$T/json.err" || fail "strata --json $*" "$(cat "$T/json.err")"
}
jrun prepare jp --label a.B/c=1
jrun view jv base-c
jrun mounts jp
jrun apply jp "$T/small.tar"
jrun label jp X=y
jrun stat jp
jrun commit jc jp
jrun share jc --all
jrun ls
jrun tree
jrun usage jc
jrun usage
jrun diff jc -o "$T/d.tar.gz"
jrun export jc "$T/exp.tar"
jrun import "$T/exp.tar"
st prepare jm jc >/dev/null
jrun mount jm "$T/mnt"
jrun umount "$T/mnt"
jrun debug probe usage close jm
jrun fsck
jrun version
jrun rm jv jm
jrun cleanup
run python3 "$T/keys.py" "$T"/json/*
expect_rc "every command's --json: snake_case keys, lower-case kinds ($j documents)" 0
run st ls
out_match "human kinds are lower case" '^base-c +- +committed$'

# ---- import - ----
sh "$REPO/tests/fixtures/make-oci.sh" "$T/img.tar" "$T/small.tar" >/dev/null 2>&1 || fail "image built"
run st import "$T/img.tar"
expect_rc "import of a file" 0
chain=$(cat "$T/out")
st rm "$chain" >/dev/null
run sh -c "cat '$T/img.tar' | '$STRATA' --address '$ADDR' import -"
expect_rc "import - from a pipe" 0
out_is "... the same chain ID" "$chain"
st rm "$chain" >/dev/null
run sh -c "'$STRATA' --address '$ADDR' import - <'$T/img.tar'"
expect_rc "import - from a redirected file" 0
out_is "... the same chain ID" "$chain"
printf 'not a tar\n' >"$T/notatar"
run sh -c "'$STRATA' --address '$ADDR' import - <'$T/notatar'"
expect_rc "import - of something else fails" 1
err_has "... naming standard input" "image archive \`standard input\`: Unrecognized archive format"
run st import "$T/notatar"
err_has "import of a non-tar names the file" "image archive \`$T/notatar\`: Unrecognized archive format"
run st import "$T/nosuch.tar"
expect_rc "import of a missing file: not found (3)" 3

# ---- a 40-column terminal: the progress line, its ETA, Ctrl-C ----
# Files of random bytes: an apply that takes some tenths of a second and
# sends several progress records (every 0.1 s).
mkdir -p "$T/big/d"
i=0
while [ $i -lt 40 ]; do
	head -c 1048576 /dev/urandom >"$T/big/d/f$i"
	i=$((i + 1))
done
(cd "$T/big" && for n in $(seq 0 2999); do printf x >"d/s$n"; done)
tar -C "$T/big" -cf "$T/big.tar" d
key=a-rather-long-snapshot-key-for-a-narrow-terminal
st prepare "$key" >/dev/null
run python3 "$PTYRUN" 40 "$T/pty" -- "$STRATA" --address "$ADDR" apply "$key" "$T/big.tar"
expect_rc "apply on a 40-column terminal" 0
out_match "... exits 0, and nothing wrapped" '^exit 0 widest [0-9]+ wrapped 0$'
widest=$(sed -n 's/.* widest \([0-9]*\) .*/\1/p' "$T/out")
if [ -n "$widest" ] && [ "$widest" -le 40 ] && [ "$widest" -gt 20 ]; then
	pass "... no progress line is wider than 40 columns ($widest)"
else
	fail "... no progress line is wider than 40 columns" "$(cat "$T/out"); $(cat -v "$T/pty" | head -c 600)"
fi
if grep -q 'ETA [0-9-]:[0-9-][0-9-]' "$T/pty"; then pass "... the progress line shows an ETA"; else
	fail "... the progress line shows an ETA" "$(cat -v "$T/pty" | head -c 600)"
fi
if grep -q "$(printf '\r')" "$T/pty" && grep -q "$(printf '\033')\[K" "$T/pty"; then
	pass "... redrawn in place (CR, then erase to the end)"
else
	fail "... redrawn in place (CR, then erase to the end)" "$(cat -v "$T/pty" | head -c 600)"
fi
if [ -z "$(tr -d '\n' <"$T/pty.screen")" ]; then pass "... and erased at the end: nothing stale on the screen"; else
	fail "... and erased at the end" "$(cat "$T/pty.screen")"
fi
if grep -q '^sha256:[0-9a-f]\{64\}$' "$T/pty.stdout"; then pass "... the diff ID on stdout"; else
	fail "... the diff ID on stdout" "$(cat "$T/pty.stdout")"
fi

# Ctrl-C: half the layer through a pipe that then stalls.
st prepare ctrlc >/dev/null
half=$(($(wc -c <"$T/big.tar") / 2))
run python3 "$PTYRUN" 40 "$T/pty2" --feed "$T/big.tar" "$half" --sigint-after "$half" -- \
	"$STRATA" --address "$ADDR" apply ctrlc -
out_match "Ctrl-C mid-apply exits 130" '^exit 130 '
if grep -q "apply interrupted: active snapshot \`ctrlc\` is left behind, partly applied" "$T/pty2.screen" &&
	grep -q "re-run the apply" "$T/pty2.screen" && grep -q "remove it with \`strata rm ctrlc\`" "$T/pty2.screen"; then
	pass "... saying what is left behind and what to do"
else
	fail "... saying what is left behind and what to do" "$(cat "$T/pty2.screen")"
fi
run st stat ctrlc
expect_rc "... and the daemon keeps serving" 0
i=0
while ! st rm ctrlc >/dev/null 2>&1 && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
run st stat ctrlc
expect_rc "... and \`strata rm\` of the key, once the apply is cancelled, works" 3

summary
