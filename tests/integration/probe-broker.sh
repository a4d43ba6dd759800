#!/bin/sh
# A compromised broker against the root side: the parent and the spawner must
# hold their promises whatever arrives on the broker's two ipc channels.
# tests/tools/probebroker.c, installed as stratad-broker next to copies of
# stratad, stratad-spawner and stratad-worker, makes the attacks (one generation of broker per
# attack that gets it killed; see its comment) and reports its verdicts in
# $P/results; this script sets the stage, checks what root did to the content
# store, the snapshots and the files, and reads the daemon's log:
#   - a blob is published only under the digest of the bytes root read, mode
#     0444, as a copy that the ingest fd the broker keeps cannot change; a
#     wrong digest publishes nothing; a FIFO as an ingest's data is refused
#     at once; JOB_KILL of an unknown job is ignored;
#   - containerd's own ingest in progress stays out of the broker's reach:
#     INGEST_OPEN of it is refused, INGEST_ABORT of it gets the broker
#     killed, PUBLISH of it neither tells the broker what it holds nor
#     publishes it;
#   - an extract worker given another user's regular file gets it reopened
#     read-only through a read-only, nosuid mount: the file is unchanged by
#     what the worker's capabilities do to its fd 4 (the very open file,
#     taken with pidfd_getfd, and its /proc path);
#   - SPAWN_INPUT of a directory or a socket, or of an O_PATH or write-only
#     fd of the layer (a reopen as root would read what it cannot), and
#     PUBLISH of a malformed name, are violations: the spawner exits 3, the
#     pair restarts;
#   - SNAP_RESET swaps a live snapshot's fs and nothing else: a snapshot
#     directory or fs that is a link, an rm-ID that exists, a parent whose
#     fs is a link are refused with nothing changed; id 0 is a violation.
# lib.sh stops the daemon by pid (the broker and spawner die with it) and
# removes $T.
set -u
. "$(dirname -- "$0")/../lib.sh"
lib_init probe-broker
need_tools python3
ensure_user
PROBE=${PROBE:-$B/tests/probebroker}
[ -x "$PROBE" ] || { fail "the probe broker is built" "make $PROBE"; summary; exit 1; }
umask 022

# ---- the stage ----
mkdir "$T/bin"
cp "$B/stratad" "$B/stratad-spawner" "$B/stratad-worker" "$T/bin/"
cp "$PROBE" "$T/bin/stratad-broker"
export STRATAD="$T/bin/stratad" # lib.sh's start_stratad runs it
C=$T/content
mkdir -p "$C/ingest" "$C/blobs/sha256"
chmod 0700 "$C/ingest"
P=$T/probe
R=$P/results
mkdir "$P"
# containerd's own ingest, being written
foreign=$(printf 'containerd-ref' | sha256sum | cut -d' ' -f1)
cing=$C/ingest/$foreign
mkdir -m 0700 "$cing"
printf 'half of a layer containerd is writing' >"$cing/data"
printf 'containerd-ref' >"$cing/ref"
printf 'started' >"$cing/startedat"
printf 'updated' >"$cing/updatedat"
foreign_state() { (cd "$cing" && ls -A && sha256sum data ref startedat updatedat); }
foreign_before=$(foreign_state)
foreign_digest=$(sha256sum "$cing/data" | cut -d' ' -f1)
# the layer: thousands of entries (the worker is caught before it is done),
# in a regular file of uid 65534's
mkdir "$T/tree"
(cd "$T/tree" && seq 1 3000 | xargs touch)
tar -C "$T/tree" -cf "$P/layer.tar" .
chown 65534:65534 "$P/layer.tar"
chmod 0644 "$P/layer.tar"
PROBE_DIR=$P PROBE_LAYER=$P/layer.tar PROBE_FOREIGN=$foreign PROBE_FOREIGN_DIGEST=$foreign_digest
PROBE_FOREIGN_SIZE=$(stat -c %s "$cing/data")
# SNAP_RESET's targets: 301 a link out of the snapshots directory, 302's fs
# a link, 303 beside an rm-303 of its own (each with a file to keep).
S=$T/root/snapshots PROBE_SNAPSHOTS=$T/root/snapshots
mkdir -p "$T/outside/fs" "$S/302" "$S/303/fs" "$S/rm-303"
echo keep >"$T/outside/fs/keep"
ln -s "$T/outside" "$S/301"
ln -s "$T/outside/fs" "$S/302/fs"
echo keep >"$S/303/fs/keep"
echo keep >"$S/rm-303/keep"
outside_state() { (cd "$T/outside" && find . | sort && cat fs/keep); }
outside_before=$(outside_state)
export PROBE_DIR PROBE_LAYER PROBE_FOREIGN PROBE_FOREIGN_DIGEST PROBE_FOREIGN_SIZE PROBE_SNAPSHOTS
start_stratad "$T/root" "$T/s.sock" --content-root "$C" --log-level debug ||
	{ fail "daemon starts with the probe broker"; summary; exit 1; }

# wait_line ERE SECS: until the probe reports a line matching ERE
wait_line()
{
	_i=0
	while ! grep -qE -- "$1" "$R" 2>/dev/null; do
		[ $_i -lt $(($2 * 10)) ] || return 1
		sleep 0.1
		_i=$((_i + 1))
	done
}
info() { awk -v k="$1" '$1 == "info" && $2 == k { print $3; exit }' "$R"; }

# The probe opens an ingest and waits; a FIFO takes the place of its data.
if wait_line '^wait fifo$' 30; then
	d=$C/ingest/$(info fifo-ingest)
	rm -f "$d/data" && mkfifo -m 0644 "$d/data" && touch "$P/fifo-placed"
fi
wait_line '^idle$' 90 || fail "the probe broker ran every generation" "$(tail -n 5 "$R" 2>/dev/null)"

# verdict CHECK NAME: the probe's verdict on CHECK
verdict()
{
	if grep -qx "ok $1" "$R"; then
		pass "$2"
	elif _l=$(grep -m1 "^FAIL $1:" "$R"); then
		fail "$2" "${_l#FAIL "$1": }"
	else
		fail "$2" "the probe gave no verdict on $1"
	fi
}
# section N: the daemon's log while generation N ran
section()
{
	awk -v a="probebroker: generation $1:" -v b="probebroker: generation $(($1 + 1)):" \
		'index($0, b) { exit } index($0, a) { f = 1 } f' "$T/stratad.log"
}
in_section() { section "$1" | grep -qE -- "$2"; }
blob=$(info blob)
B256=$C/blobs/sha256

# ---- publishing ----
verdict publish-wrong-digest-fails "PUBLISH with a wrong digest: JOB_FAIL FailedPrecondition, then JOB_EXIT"
check "... and no blob of that digest appears" test ! -e "$B256/$(info wrong)"
verdict job-kill-unknown-ignored "JOB_KILL of an exited and of an unknown job: ignored, the next request served"
verdict publish-right-digest "PUBLISH with the right digest and size: JOB_APPLIED"
check "... the blob exists, root's, mode 0444, a file of its own" \
	test "$(stat -c '%u:%g %a %h' "$B256/$blob" 2>&1)" = "0:0 444 1"
verdict rewrite-ingest-after-publish "the broker rewrites the ingest through its fd after the publish"
check "... the published blob still has its digest" test "$(sha256sum <"$B256/$blob" | cut -d' ' -f1)" = "$blob"
check "... and its bytes" test "$(cat "$B256/$blob")" = "strata probe: bytes the broker wrote"
verdict abort-own-ingest "INGEST_ABORT of an ingest strata created: done"
verdict publish-fifo-refused "a FIFO as an ingest's data: the publisher refuses it at once"
check "... publishing nothing (not even the empty blob)" \
	test ! -e "$B256/$(printf '' | sha256sum | cut -d' ' -f1)"
verdict abort-own-fifo-ingest "... and the ingest can be aborted"
check "strata's ingests are gone" test -z "$(find "$C/ingest" -mindepth 1 -maxdepth 1 ! -name "$foreign")"

# ---- containerd's ingest ----
verdict ingest-open-foreign-refused "INGEST_OPEN of containerd's ingest in progress: Unavailable"
check "INGEST_ABORT of containerd's ingest: the parent kills the broker" \
	in_section 0 "broker \(pid [0-9]+\) violated the ipc protocol: INGEST_ABORT of an ingest strata did not create"
pid0=$(section 0 | sed -n 's/.*generation 0: started, pid \([0-9]*\).*/\1/p' | head -n 1)
check "... by SIGKILL" in_section 0 "broker \(pid ${pid0:-none}\) killed by signal 9"
if grep -q '^FAIL abort-foreign-kills-broker:' "$R"; then
	verdict abort-foreign-kills-broker "... without a reply"
fi
verdict publish-foreign-unread "PUBLISH of containerd's ingest with a wrong digest: its digest is not told"
verdict publish-foreign-refused "PUBLISH of containerd's ingest, by its digest: refused"
check "... no blob of it appears" test ! -e "$B256/$foreign_digest"
check "containerd's ingest is as it was" test "$(foreign_state)" = "$foreign_before"

# ---- the spawner's input ----
verdict extract-worker-input-read-only "an extract worker given another user's regular file holds it on a read-only, nosuid mount"
verdict extract-worker-holds-no-other-layer-fd "... and no other fd of that file"
verdict extract-worker-input-changes-nothing "... on which fchown, fchmod, fsetxattr, futimens, write, ftruncate, fallocate and a writable shared map all fail"
check "... which chown, chmod and a capability through the worker's fd 4 leave as it was" \
	test "$(stat -c '%u:%g %a' "$P/layer.tar")" = "65534:65534 644"
check "... with no xattr" test "$(python3 -c 'import os, sys; print(os.listxattr(sys.argv[1]))' "$P/layer.tar")" = "[]"
verdict extract-from-file "... and the job completes"
check "... with every entry of the layer" \
	test "$(find "$T/root/snapshots/$(info extract-target)/fs" -mindepth 1 | wc -l)" = 3000
# input_violation N KIND WHAT WHY: generation N's SPAWN_INPUT of WHAT.
input_violation()
{
	check "SPAWN_INPUT of $3: a violation" in_section "$1" "broker violated the spawn protocol: SPAWN_INPUT of $4"
	check "... the spawner exits 3" in_section "$1" "spawner \(pid [0-9]+\) exited with status 3"
	check "... and nothing is extracted" \
		test -z "$(find "$T/root/snapshots/$(info "$2-target")/fs" -mindepth 1)"
	if grep -q "^FAIL spawn-input-$2-violation:" "$R"; then
		verdict "spawn-input-$2-violation" "... the spawner hangs up"
	fi
}
kind_msg="an fd that is neither a regular file nor a pipe"
input_violation 1 dir "a directory" "$kind_msg"
input_violation 2 socket "a socket" "$kind_msg"
check "PUBLISH of a malformed name: a violation" in_section 3 \
	"broker violated the spawn protocol: PUBLISH with a malformed name or digest"
check "... the spawner exits 3" in_section 3 "spawner \(pid [0-9]+\) exited with status 3"
check "... publishing nothing" test ! -e "$B256/$(info traversal)"
if grep -q '^FAIL publish-malformed-violation:' "$R"; then
	verdict publish-malformed-violation "... the spawner hangs up"
fi
input_violation 5 opath "an O_PATH fd of the layer" "an fd not open for reading"
input_violation 6 wronly "a write-only fd of the layer" "an fd not open for reading"
check "the pair restarts after each violation" in_section 7 "generation 7: started"

# ---- SNAP_RESET ----
verdict reset-own-snapshot "SNAP_RESET of a snapshot it created: done"
check "... its fs is a fresh empty directory, and the old one rm-300" \
	test -d "$S/300/fs" -a ! -L "$S/300/fs" -a -z "$(ls -A "$S/300/fs")" -a -d "$S/rm-300"
verdict reset-link-refused "SNAP_RESET of a snapshot directory that is a link: refused"
verdict reset-fs-link-refused "SNAP_RESET of a snapshot whose fs is a link: refused"
check "... what the links point at is as it was" test "$(outside_state)" = "$outside_before"
check "... the links are in place and no rm-301, rm-302 appeared" \
	test -L "$S/301" -a -L "$S/302/fs" -a ! -e "$S/rm-301" -a ! -e "$S/rm-302"
verdict reset-over-rm-refused "SNAP_RESET while rm-ID exists: EEXIST"
check "... both trees are as they were" test "$(cat "$S/303/fs/keep" "$S/rm-303/keep")" = "keep
keep"
verdict reset-bad-parent-refused "SNAP_RESET with a parent whose fs is a link: refused"
check "... nothing swapped, the directory it made is gone" test -e "$S/305/fs/marker" -a ! -e "$S/rm-305"
check "SNAP_RESET of id 0: the parent kills the broker" in_section 4 \
	"broker \(pid [0-9]+\) violated the ipc protocol: SNAP_RESET with a bad id"
if grep -q '^FAIL reset-zero-kills-broker:' "$R"; then
	verdict reset-zero-kills-broker "... without a reply"
fi

# ---- and on ----
# Verdicts on the way (a request refused, a generation miscounted...).
others=$(grep '^FAIL' "$R" | grep -vE '^FAIL (publish-|job-kill-|rewrite-|abort-|ingest-open-foreign|extract-worker-(input|holds)|extract-from-file:|spawn-input-|reset-)')
check "the probe met nothing else amiss" test -z "$others"
[ -z "$others" ] || echo "$others" | sed 's/^/     | /'
check "the daemon stops cleanly" stop_stratad

summary
