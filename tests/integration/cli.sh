#!/bin/sh
# The strata CLI against a real daemon: every command, its human and --json
# output, exit codes (0 ok, 1 failed call, 2 usage), error messages and
# --help.  Starts build/stratad (as root) on a temp root and address; lib.sh
# stops it by pid, unmounts leftovers and removes the temp dir on exit.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cli-lib.sh"
lib_init cli
need_tools python3
ensure_user
STRATA=${STRATA:-$B/strata}
ADDR=$T/s.sock
start_stratad "$T/root" "$ADDR" --enable-probe || { fail "daemon starts"; summary; exit 1; }

# --json output is one valid document.
json_ok() {
	if python3 -c 'import json,sys; json.load(sys.stdin)' <"$T/out" 2>/dev/null; then
		pass "$1 is valid JSON"
	else
		fail "$1 is valid JSON" "$(show)"
	fi
}

# ---- help ----
run "$STRATA" --help
expect_rc "strata --help exits 0" 0
out_has "strata --help lists the commands" "Commands:"
run "$STRATA"
expect_rc "strata without a command is a usage error" 2
for c in prepare view mounts commit rm stat ls usage label tree cleanup debug version; do
	run "$STRATA" "$c" --help
	expect_rc "$c --help exits 0" 0
	out_has "$c --help shows its usage" "Usage: strata [--address PATH] [--json] $c"
	run "$STRATA" help "$c"
	out_has "help $c shows its usage" "Usage: strata [--address PATH] [--json] $c"
done
run "$STRATA" stat -h
out_has "stat -h shows its usage" "Usage: strata [--address PATH] [--json] stat KEY"

# ---- usage errors: exit 2 and no call ----
for args in "bogus" "help bogus" "stat" "stat a b" "prepare" "prepare a b c" "prepare a --bogus" \
	"prepare a --label novalue" "prepare a --label" "view a" "commit a" "label a" "label a novalue" \
	"usage a b" "tree x" "cleanup x" "debug" "debug probe usage getpid" "debug bogus a b c" \
	"debug probe usage getpid a --hold soon" "mounts"; do
	# shellcheck disable=SC2086 # word splitting of the argument list is the point
	run st $args
	expect_rc "'strata $args' is a usage error" 2
done
run st stat
err_has "usage error names the command" "strata: stat: "

# ---- prepare, stat, commit ----
run st prepare base --label strata.test/a=1
expect_rc "prepare base" 0
out_match "prepare without parent gives a bind mount" '^bind /.*/snapshots/[0-9]+/fs .*rbind'
base_fs=$(awk '{ print $2; exit }' "$T/out")
run st prepare base
expect_rc "prepare of an existing key fails" 1
err_has "existing key: AlreadyExists" "strata: prepare base: AlreadyExists: "
run st --json mounts base
expect_rc "mounts --json" 0
out_has "mounts --json has the mounts array" '{"mounts":[{"type":"bind","source":"'
out_has "mounts --json has options" '"options":["'
json_ok "mounts --json"

run st stat base
expect_rc "stat base" 0
out_match "stat shows the name" '^name: +base$'
out_match "stat shows the kind" '^kind: +active$'
out_match "stat shows no parent" '^parent: +-$'
out_match "stat shows RFC 3339 times" '^created: +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}(\.[0-9]+)?Z$'
out_match "stat shows the label" '^  strata.test/a=1$'

# A file in the active snapshot, for usage.
dd if=/dev/zero of="$base_fs/blob" bs=1024 count=1536 2>/dev/null
run st usage base
expect_rc "usage base" 0
out_match "usage shows human size" '^size: +1\.[5-9] MiB \([0-9]+ bytes\)$'
out_match "usage shows inodes" '^inodes: +[1-9]'
run st usage base --json
out_match "usage --json has the size in bytes" '"size":15[0-9]{5}'
json_ok "usage --json"

run st commit base-c base --label strata.test/b=2
expect_rc "commit base as base-c" 0
out_lacks "commit prints nothing" "base"
run st stat base
expect_rc "the committed key is gone (not found: 3)" 3
err_has "stat of a missing key: NotFound on stderr" "strata: stat base: NotFound: "
run st --json stat base-c
expect_rc "stat --json base-c" 0
out_has "stat --json: name" '"name":"base-c"'
out_has "stat --json: kind in lower case" '"kind":"committed"'
out_has "stat --json: labels object" '"strata.test/b":"2"'
out_match "stat --json: created_at RFC 3339" '"created_at":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}(\.[0-9]+)?Z"'
out_has "stat --json: updated_at" '"updated_at":"'
json_ok "stat --json"
run st stat base-c --json
out_has "--json after the command and its args" '"name":"base-c"'
run env STRATA_ADDRESS="$ADDR" "$STRATA" stat --json base-c
out_has "STRATA_ADDRESS names the daemon" '"kind":"committed"'

# ---- children, views, mounts ----
run st prepare child base-c
expect_rc "prepare child of base-c" 0
out_match "active child is an overlay with lowerdir" '^overlay overlay .*lowerdir=/'
out_has "active child has an upperdir" "upperdir="
cp "$T/out" "$T/prepare.out"
run st mounts child
expect_rc "mounts child" 0
if cmp -s "$T/out" "$T/prepare.out"; then pass "mounts repeats prepare's mounts"; else fail "mounts repeats prepare's mounts" "$(show)"; fi
run st view v1 base-c
expect_rc "view v1 of base-c" 0
out_match "a view of one layer is a read-only bind" "^bind $base_fs .*ro"
run st --json view v2 base-c
out_has "view --json" '"type":"bind"'
run st view v3 nosuch
expect_rc "view of a missing parent fails (not found: 3)" 3
err_has "missing parent: NotFound" "strata: view v3: NotFound: "

# ---- ls, tree ----
run st ls
expect_rc "ls" 0
out_match "ls has a header" '^NAME +PARENT +KIND$'
out_match "ls shows the committed snapshot" '^base-c +- +committed$'
out_match "ls shows the active child" '^child +base-c +active$'
out_match "ls shows the view" '^v1 +base-c +view$'
run st ls --json
out_has "ls --json is {\"info\":[...]}" '{"info":[{"name":"base-c"'
out_has "ls --json has the child's parent" '"name":"child","parent":"base-c","kind":"active"'
json_ok "ls --json"
run st tree
expect_rc "tree" 0
out_match "tree: root at the left" '^base-c \(committed\)$'
out_match "tree: children indented" '^  child \(active\)$'
out_match "tree: views indented" '^  v1 \(view\)$'
run st tree --json
out_has "tree --json nests children" '{"tree":[{"name":"base-c","kind":"committed","children":[{"name":"child"'
json_ok "tree --json"

# ---- usage of everything ----
run st usage
expect_rc "usage of every snapshot" 0
out_match "usage table header" '^NAME +SIZE +INODES$'
out_match "usage row for base-c" '^base-c +1\.[5-9] MiB +[1-9]'
out_match "usage total" '^TOTAL +[0-9.]+ [KMG]?i?B +[0-9]+$'
run st --json usage
out_has "usage --json has the total" '"total":{"size":'
json_ok "usage --json (all)"

# ---- labels ----
run st label base-c strata.test/c=3
expect_rc "label base-c c=3" 0
out_match "label prints the new label" '^  strata.test/c=3$'
out_match "label keeps the other labels" '^  strata.test/b=2$'
run st label base-c strata.test/b=
expect_rc "label base-c b= (remove)" 0
run st --json stat base-c
out_lacks "K= removed the label" '"strata.test/b"'
out_has "other labels stay" '"strata.test/c":"3"'
run st label nosuch a=b
expect_rc "label of a missing key fails (not found: 3)" 3
err_has "label of a missing key: NotFound" "strata: label nosuch: NotFound: "

# ---- debug probe ----
# close(0) is in the usage policy; fd 0 is not open in a worker: EBADF (9)
run st debug probe usage close child
expect_rc "probe of an allowed syscall" 0
out_match "probe prints the pid" '^pid [1-9][0-9]*$'
out_match "probe prints the result" '^ret -1 errno 9$'
run st --json debug probe usage close child
out_match "probe --json" '"done":true,"ret":-1'
json_ok "probe --json"
# `pid N` must come out (flushed) while the worker still holds.
st debug probe usage close child --hold 2000 >"$T/probe.out" 2>&1 &
probe=$!
at_exit "kill $probe 2>/dev/null"
i=0
while ! grep -q '^pid ' "$T/probe.out" && [ $i -lt 30 ]; do sleep 0.05; i=$((i + 1)); done
w=$(awk '$1 == "pid" { print $2; exit }' "$T/probe.out")
if [ -n "$w" ] && [ -d "/proc/$w" ] && ! grep -q '^ret' "$T/probe.out"; then
	pass "probe pid printed while the worker holds"
else
	fail "probe pid printed while the worker holds" "$(cat "$T/probe.out")"
fi
wait "$probe"
rc=$?
expect_rc "held probe ends well" 0
run st debug probe usage mount child
expect_rc "probe of a forbidden syscall fails" 1
err_has "probe failure names the probe" "strata: debug probe usage mount: "

# ---- rm ----
# child gets content, so that its directory goes to a remove worker; the
# others are bare skeletons, which the spawner deletes itself.
# batch1 and batch2 go in one rm, so that one remove worker empties both.
child_fs=$(st mounts child | sed -n 's/.*upperdir=\([^,]*\).*/\1/p')
for b in batch1 batch2; do
	st prepare "$b" base-c >/dev/null
	b_fs=$(st mounts "$b" | sed -n 's/.*upperdir=\([^,]*\).*/\1/p')
	mkdir -p "$b_fs/d/e" && echo "$b" >"$b_fs/d/e/f" && chmod 000 "$b_fs/d/e"
done
run st rm batch1 batch2
expect_rc "rm of two snapshots with content" 0
mkdir -p "$child_fs/etc/deep" "$T/victim" && echo x >"$child_fs/etc/deep/file" && echo v >"$T/victim/file" &&
	ln -s "$T/victim" "$child_fs/link"
check "child's upperdir has the content" test -f "$child_fs/etc/deep/file"
run st rm base-c
expect_rc "rm of a parent fails" 1
err_has "rm of a parent: FailedPrecondition" "strata: rm base-c: FailedPrecondition: "
run st rm child nosuch v1
expect_rc "rm with one missing key exits 3 (not found)" 3
err_has "rm names the missing key" "strata: rm nosuch: NotFound: "
run st stat child
expect_rc "rm went past the failure (child gone)" 3
run st stat v1
expect_rc "rm went past the failure (v1 gone)" 3
run st --json rm v2 base-c
expect_rc "rm --json" 0
out_has "rm --json lists what it removed" '{"removed":["v2","base-c"]}'
run st ls
out_match "ls after rm shows only the header" '^NAME +PARENT +KIND$'
if [ "$(wc -l <"$T/out")" -eq 1 ]; then pass "nothing left"; else fail "nothing left" "$(show)"; fi
run st tree --json
out_has "empty tree" '{"tree":[]}'
# Removal finishes after the answer: wait for the directories to go.
i=0
while [ "$i" -lt 50 ] && [ -n "$(ls -A "$T/root/snapshots")" ]; do
	sleep 0.1
	i=$((i + 1))
done
if [ -z "$(ls -A "$T/root/snapshots")" ]; then
	pass "every snapshot directory is gone, with content or without"
else
	fail "every snapshot directory is gone" "$(ls -lA "$T/root/snapshots")"
fi
check "a link's target survives its removal" test -f "$T/victim/file"

# ---- cleanup ----
run st cleanup
expect_rc "cleanup" 0
run st --json cleanup
out_has "cleanup --json prints {}" '{}'

# ---- a tree that cannot be deleted ----
# An immutable file (no capability of the remove worker overrides it) keeps
# its snapshot's directory; the other snapshot of the same batch still goes,
# the daemon says why, and Cleanup deletes the rest once the flag is gone.
st prepare stuck >/dev/null && st prepare freed >/dev/null
stuck_fs=$(st mounts stuck | awk '{ print $2 }')
freed_fs=$(st mounts freed | awk '{ print $2 }')
stuck_id=$(basename "$(dirname "$stuck_fs")")
freed_id=$(basename "$(dirname "$freed_fs")")
echo s >"$stuck_fs/f" && echo f >"$freed_fs/f"
if chattr +i "$stuck_fs/f" 2>/dev/null; then
	run st rm stuck freed
	expect_rc "rm of a snapshot whose tree cannot be deleted" 0
	i=0
	while [ "$i" -lt 50 ] && { [ -e "$T/root/snapshots/rm-$freed_id" ] || [ -e "$T/root/snapshots/$freed_id" ]; }; do
		sleep 0.1
		i=$((i + 1))
	done
	i=0
	while [ "$i" -lt 50 ] && ! grep -q "Operation not permitted" "$T/stratad.log"; do
		sleep 0.1
		i=$((i + 1))
	done
	check "the other snapshot of the batch is gone" test ! -e "$T/root/snapshots/rm-$freed_id" -a ! -e "$T/root/snapshots/$freed_id"
	check "the undeletable one stays, as rm-ID" test -e "$T/root/snapshots/rm-$stuck_id/fs/f"
	check "the daemon logs why" grep -q "removing .*rm-.*Operation not permitted" "$T/stratad.log"
	run st stat freed
	expect_rc "both are gone from the metadata" 3
	chattr -i "$T/root/snapshots/rm-$stuck_id/fs/f"
	run st cleanup
	expect_rc "cleanup after the flag is gone" 0
	check "cleanup deleted the rest" test ! -e "$T/root/snapshots/rm-$stuck_id"
else
	st rm stuck freed >/dev/null
	fail "an undeletable tree: chattr +i on $stuck_fs/f" "the file system of \$TMPDIR needs the immutable flag"
fi

# ---- no daemon ----
run "$STRATA" --address "$T/none.sock" stat x
expect_rc "no daemon: exit 4" 4
err_has "no daemon: says so, naming the socket" "strata: cannot connect to stratad at \`$T/none.sock.fd\`: No such file or directory: is it running?"

summary
