#!/bin/sh
# strata as the snapshotter of a real containerd (Debian's 1.6, private config
# and sockets under a temp dir, CRI off), driven with ctr:
#   1. ctr snapshots prepare/commit/view/mounts/ls/info/usage/rm, and data
#      written through one snapshot's mounts is seen through its child's;
#   2. an offline busybox OCI image is imported (containerd's walking differ
#      unpacks each layer onto mounts strata returns);
#   3. ctr run starts a container on that image (runc) and it prints a line.
# Needs root. CTRD_SNAPSHOTTER=overlayfs runs the same checks against
# containerd's own overlayfs snapshotter (a control; strata is not started).
set -u
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname -- "$0")/../lib.sh"

SN=${CTRD_SNAPSHOTTER:-strata}
IMAGE=strata.test/busybox:latest

if [ "$(id -u)" -ne 0 ]; then
	echo "containerd.sh: must run as root" >&2
	exit 1
fi
lib_init containerd
need_tools containerd ctr runc python3
CPID=''
CTR="ctr --address $T/containerd.sock -n strata-test"

# ---- daemons ------------------------------------------------------------------
stop_containerd()
{
	[ -n "$CPID" ] || return 0
	# Tasks first: a shim outlives containerd, and holds mounts under $T.
	for c in $($CTR containers ls -q 2>/dev/null); do
		$CTR tasks kill -s SIGKILL "$c" >/dev/null 2>&1
		$CTR tasks rm -f "$c" >/dev/null 2>&1
		$CTR containers rm "$c" >/dev/null 2>&1
	done
	kill -TERM "$CPID" 2>/dev/null
	i=0
	while kill -0 "$CPID" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "$CPID" 2>/dev/null
	wait "$CPID" 2>/dev/null
	CPID=''
	# Last resort for a shim left behind: only shims serving this containerd.
	for p in /proc/[0-9]*; do
		case $(cat "$p/comm" 2>/dev/null) in containerd-shim*) ;; *) continue ;; esac
		if { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF -- "-address $T/containerd.sock"; then
			kill -KILL "${p#/proc/}" 2>/dev/null
		fi
	done
}

start_containerd()
{
	containerd_config "$T/containerd.toml"
	cat >>"$T/containerd.toml" <<EOF
[debug]
  address = "$T/containerd-debug.sock"
  level = "debug"

[proxy_plugins.strata]
  type = "snapshot"
  address = "$T/strata.sock"
EOF
	containerd --config "$T/containerd.toml" >"$T/containerd.log" 2>&1 &
	CPID=$!
	at_exit stop_containerd
	if ! wait_socket "$T/containerd.sock" 20 "$CPID" || ! $CTR version >/dev/null 2>&1; then
		echo "containerd did not start; log:" >&2
		tail -n 30 "$T/containerd.log" >&2
		return 1
	fi
}

show_logs()
{
	echo "---- containerd log (last lines)"
	tail -n 40 "$T/containerd.log"
	if [ -f "$T/stratad.log" ]; then
		echo "---- stratad log (last lines)"
		tail -n 40 "$T/stratad.log"
	fi
}

if [ "$SN" = strata ]; then
	ensure_user
	# A short idle_timeout: the broker closes containerd's idle connection
	# (GOAWAY) while the suite runs, and containerd must dial again.
	# A tenant of the CLI beside containerd's (root acts as it with
	# --tenant): containerd's garbage collector must never see its snapshots.
	printf '[tenant ci]\n' >"$T/stratad.conf"
	start_stratad "$T/strata-root" "$T/strata.sock" --idle-timeout 3 --config "$T/stratad.conf" || exit 1
	ci() { "${STRATA:-$B/strata}" --address "$T/strata.sock" --tenant ci "$@"; }
	ci prepare keepme-w >/dev/null && echo kept >"$(ci mounts keepme-w | awk '{ print $2 }')/f" &&
		ci commit keepme keepme-w && ci prepare keepme-child keepme >/dev/null || {
		fail "the ci tenant makes its snapshots"
		exit 1
	}
	# What containerd's collections must leave on disk.
	CI_DIRS=$(ls "$T/strata-root/snapshots")
	CI_N=$(echo "$CI_DIRS" | wc -l)
fi
start_containerd || exit 1
SNAP="$CTR snapshots --snapshotter $SN"

# ---- helpers for assertions -----------------------------------------------------
# ls_row KEY: KEY's row of `ctr snapshots ls` as "KEY PARENT KIND" (PARENT "-" if none).
ls_row()
{
	$SNAP ls | awk -v k="$1" 'NR > 1 && $1 == k { if (NF == 2) print $1, "-", $2; else print $1, $2, $3 }'
}

expect_row()
{
	got=$(ls_row "$1")
	[ "$got" = "$1 $2 $3" ] || {
		echo "ls row for $1: want \`$1 $2 $3\`, got \`$got\`"
		$SNAP ls
		return 1
	}
}

# mount_snapshot KEY DIR: mount KEY's mounts on DIR, as containerd would.
mount_snapshot()
{
	mkdir -p "$2"
	$SNAP mounts "$2" "$1" >"$T/mount.cmd" || return 1
	cat "$T/mount.cmd"
	[ -s "$T/mount.cmd" ] && sh -e "$T/mount.cmd"
}

# ---- 1. snapshots through ctr -------------------------------------------------------
# Numeric snapshot directories strata has on disk (its layout: snapshots/<id>).
# strata_dirs: how many snapshot directories containerd's calls made (the ci
# tenant's, made first, are not counted).
strata_dirs()
{
	n=$((0 - ${CI_N:-0}))
	for d in "$T/strata-root/snapshots"/*; do
		case ${d##*/} in *[!0-9]* | '') ;; *) n=$((n + 1)) ;; esac
	done
	echo $n
}

t_prepare()
{
	$SNAP prepare sn-a && expect_row sn-a - Active || return 1
	# It is strata's: one snapshot directory appeared under its root.
	[ "$SN" != strata ] || [ "$(strata_dirs)" -eq 1 ]
}

t_write_through_mounts()
{
	mount_snapshot sn-a "$T/mnt-a" || return 1
	echo strata-layer-1 >"$T/mnt-a/hello" && mkdir "$T/mnt-a/dir" && echo x >"$T/mnt-a/dir/x"
	rc=$?
	umount "$T/mnt-a"
	return $rc
}

t_commit()
{
	$SNAP commit sn-c sn-a && expect_row sn-c - Committed && [ -z "$(ls_row sn-a)" ]
}

t_prepare_child()
{
	$SNAP prepare sn-b sn-c && expect_row sn-b sn-c Active
}

# The child sees the parent's files, and its own changes stay its own.
t_child_sees_parent()
{
	mount_snapshot sn-b "$T/mnt-b" || return 1
	grep -qx strata-layer-1 "$T/mnt-b/hello" && [ -f "$T/mnt-b/dir/x" ] &&
		rm "$T/mnt-b/dir/x" && echo layer-2 >"$T/mnt-b/two"
	rc=$?
	umount "$T/mnt-b"
	[ $rc -eq 0 ] || return 1
	# The committed parent is unchanged. (ctr labels what it prepares and
	# commits as a gc root, but not views: label it, or containerd's
	# garbage collector may take it when the next deletion triggers it.)
	$SNAP view sn-v sn-c && $SNAP label sn-v containerd.io/gc.root=test >/dev/null &&
		expect_row sn-v sn-c View || return 1
	mount_snapshot sn-v "$T/mnt-v" || return 1
	[ -f "$T/mnt-v/dir/x" ] && [ ! -e "$T/mnt-v/two" ] && ! touch "$T/mnt-v/ro" 2>/dev/null
	rc=$?
	umount "$T/mnt-v"
	return $rc
}

t_mounts_kinds()
{
	$SNAP mounts /target sn-b | grep -q '^mount -t overlay overlay /target -o .*lowerdir=' || return 1
	$SNAP mounts /target sn-v | grep -Eq '^mount -t (bind|overlay) .* /target -o (.*,)?ro(,|$)' || {
		$SNAP mounts /target sn-v
		return 1
	}
}

t_info()
{
	$SNAP info sn-b >"$T/info.json" || return 1
	cat "$T/info.json"
	grep -q '"Kind": "Active"' "$T/info.json" && grep -q '"Name": "sn-b"' "$T/info.json" &&
		grep -q '"Parent": "sn-c"' "$T/info.json" && grep -q '"containerd.io/gc.root"' "$T/info.json"
}

# sn-c holds hello (15 bytes), dir and dir/x (2 bytes): at least 3 inodes and 17 bytes.
t_usage()
{
	$SNAP usage -b sn-c >"$T/usage.txt" || return 1
	cat "$T/usage.txt"
	awk '$1 == "sn-c" && $2 >= 17 && $3 >= 3 { ok = 1 } END { exit !ok }' "$T/usage.txt"
}

t_rm_parent_refused()
{
	! $SNAP rm sn-c 2>"$T/rm.err" && cat "$T/rm.err" && expect_row sn-c - Committed
}

t_rm_all()
{
	$SNAP rm sn-b sn-v && $SNAP rm sn-c && [ "$($SNAP ls | wc -l)" -eq 1 ]
}

# containerd's garbage collector removes them from strata too (Remove, then
# Cleanup): no snapshot directory is left on disk. A deletion only schedules a
# collection, and one arriving during a collection may wait for the next
# trigger: ending a lease with --sync runs one and waits for it.
gc_now()
{
	lease=$($CTR leases create) && $CTR leases rm --sync "$lease"
}

t_gc_reaches_strata()
{
	gc_now || return 1
	[ "$SN" = strata ] || return 0
	[ -d "$T/strata-root/snapshots" ] || return 1
	i=0
	while [ $i -lt 150 ]; do
		left=$(ls "$T/strata-root/snapshots") || return 1
		[ "$left" = "$CI_DIRS" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	echo "left in $T/strata-root/snapshots: $left"
	return 1
}

check "prepare: active snapshot without parent" t_prepare
check "mounts of an active snapshot are writable" t_write_through_mounts
check "commit: committed snapshot replaces the active one" t_commit
check "prepare on a committed parent" t_prepare_child
check "child sees parent data; view is read-only and unchanged" t_child_sees_parent
check "mounts: overlay with lowerdir; view read-only" t_mounts_kinds
check "info: name, kind, parent, labels" t_info
check "usage: committed snapshot's size and inodes" t_usage
check "rm of a parent with children is refused" t_rm_parent_refused
check "rm: children, then the parent" t_rm_all
check "garbage collection removes them from strata's disk" t_gc_reaches_strata

# ---- 2. image import --------------------------------------------------------------
t_import()
{
	sh "$REPO/tests/fixtures/make-busybox-oci.sh" "$T/busybox-oci.tar" "$IMAGE" >/dev/null || return 1
	$CTR images import --snapshotter "$SN" "$T/busybox-oci.tar" || return 1
	$CTR images ls -q | grep -qx "$IMAGE" || return 1
	# Unpacked: the layer's chain id is a committed snapshot.
	$CTR images check | grep -F "$IMAGE" && $SNAP ls | awk 'NR > 1 && $NF == "Committed" { n++ } END { exit n != 1 }' ||
		return 1
	[ "$SN" != strata ] || [ "$(strata_dirs)" -eq 1 ]
}

t_unpacked_content()
{
	key=$($SNAP ls | awk 'NR > 1 && $NF == "Committed" { print $1 }')
	# prepare, not view: ctr makes it a gc root, and the import just ended a
	# lease, which starts containerd's garbage collector.
	$SNAP prepare sn-img "$key" || return 1
	mount_snapshot sn-img "$T/mnt-img" || return 1
	cmp "$T/mnt-img/bin/busybox" "${BUSYBOX:-/bin/busybox}" &&
		[ "$(readlink "$T/mnt-img/bin/echo")" = busybox ] &&
		[ "$(stat -c %a "$T/mnt-img/tmp")" = 1777 ]
	rc=$?
	umount "$T/mnt-img"
	$SNAP rm sn-img
	return $rc
}

check "ctr images import unpacks onto $SN" t_import
check "unpacked layer has the image's files" t_unpacked_content

# ---- 3. a container ----------------------------------------------------------------
t_run()
{
	out=$($CTR run --snapshotter "$SN" --rm "$IMAGE" ctr-test-1 /bin/echo strata-says-hello 2>&1)
	echo "$out"
	[ "$out" = strata-says-hello ]
}

# The container's rootfs is writable (the active snapshot's upperdir).
t_run_write()
{
	out=$($CTR run --snapshotter "$SN" --rm "$IMAGE" ctr-test-2 \
		/bin/sh -c 'echo written >/tmp/f && cat /tmp/f && rm /bin/ls && ! test -e /bin/ls && echo ok' 2>&1)
	echo "$out"
	[ "$out" = "written
ok" ]
}

# --rm removed the containers; their active snapshots go with them.
t_run_cleaned()
{
	[ -z "$($CTR containers ls -q)" ] && [ -z "$($SNAP ls | awk 'NR > 1 && $NF != "Committed"')" ]
}

check "ctr run prints the container's output" t_run
check "container rootfs is writable, the image is not changed" t_run_write
check "containers and their snapshots are removed" t_run_cleaned

# ---- 4. strata export -> ctr images import --------------------------------------------
# The busybox archive goes into strata directly (`strata import`: a committed
# snapshot named by its chain ID), comes back out as an image archive with
# `strata export --name`, and containerd imports it under that name and runs
# a container from it.  The import and export go to a second strata daemon
# of their own: containerd's garbage collector, which runs after every
# container removal above, removes whatever snapshot of its snapshotter its
# metadata does not know, and would race the export.
EXPORTED=strata.test/exported:1
t_export_import()
{
	(umask 0077 && exec "$STRATAD" --root "$T/strata-own" --address "$T/own.sock" \
		--user "$STRATA_USER") >>"$T/stratad-own.log" 2>&1 &
	own=$!
	at_exit "kill $own 2>/dev/null; wait $own 2>/dev/null"
	wait_socket "$T/own.sock.fd" 10 "$own" || return 1
	st() { "${STRATA:-$B/strata}" --address "$T/own.sock" "$@"; }
	top=$(st --json import "$T/busybox-oci.tar" | python3 -c '
import json, sys
print(json.load(sys.stdin)["chain_id"])') || return 1
	st export "$top" "$T/exported.tar" --name "$EXPORTED" >/dev/null || return 1
	kill "$own" && wait "$own"
	$CTR images import --snapshotter "$SN" "$T/exported.tar" >/dev/null || return 1
	$CTR images ls -q | grep -qx "$EXPORTED" &&
		[ "$($CTR run --snapshotter "$SN" --rm "$EXPORTED" ctr-test-3 /bin/echo exported-runs 2>&1)" = exported-runs ]
}
t_export_cleaned()
{
	$CTR images rm --sync "$EXPORTED" >/dev/null
}
if [ "$SN" = strata ]; then
	check "strata export --name: ctr images import names it and ctr run starts it" t_export_import
	check "the exported image is removed" t_export_cleaned
fi

# ---- an idle connection closed by the broker ----------------------------------------
t_idle_closed_then_served()
{
	_before=$($SNAP ls | wc -l)
	sleep 5
	grep -q "for idle_timeout" "$T/stratad.log" && [ "$($SNAP ls | wc -l)" = "$_before" ]
}
if [ "$SN" = strata ]; then
	check "containerd's connection idle past idle_timeout is closed, and containerd is served again" \
		t_idle_closed_then_served
fi

# ---- teardown: remove the image; strata must stop cleanly ----------------------------
t_image_rm()
{
	$CTR images rm --sync "$IMAGE" >/dev/null && [ -z "$($SNAP ls | awk 'NR > 1')" ]
}
check "image rm removes its snapshot" t_image_rm
check "garbage collection removes the image's snapshot from strata's disk" t_gc_reaches_strata
t_tenant_survives()
{
	[ "$(ci ls | awk 'NR > 1 { print $1 }' | tr '\n' ' ')" = "keepme keepme-child " ] || return 1
	lower=$(ci mounts keepme-child | awk '{ print $3 }' | tr ',' '\n' | sed -n 's/^lowerdir=//p')
	[ "$(cat "$lower/f")" = kept ]
}
if [ "$SN" = strata ]; then
	check "a CLI tenant's snapshots survive ctr images rm --sync and containerd's collections" t_tenant_survives
fi

stop_containerd
if [ "$SN" = strata ]; then
	check "stratad exits 0 on SIGTERM" stop_stratad
fi

summary || {
	show_logs
	exit 1
}
