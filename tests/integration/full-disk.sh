#!/bin/sh
# A full file system is an error, never a wedge.  On file systems this test
# makes (loop devices: ext4, xfs, an ext4 with few inodes, a tiny ext4 and a
# small metadata map), it runs them out of bytes, of inodes, and the
# metadata store out of room to grow, and checks for each: the failing
# call's code and message (which file system, what ran out), that rm and
# Cleanup still work and give the space back, that Prepare works again once
# there is space, without a restart (the broker's pid stays), and that no
# snapshot directory is left without a record.
set -u
. "$(dirname "$0")/../lib.sh"
lib_init full-disk
ensure_user
need_tools truncate mkfs.ext4 mkfs.xfs losetup mount umount df fallocate dd tar pgrep
STRATA="$B/strata"
. "$REPO/tests/cli-lib.sh"
CALL_TIMEOUT=60

# make_fs NAME SIZE MKFS [ARGS...]: a file system on a loop device of its own,
# mounted at $T/NAME; unmounted and detached on exit (the daemon stopped first).
make_fs()
{
	_name=$1 _size=$2
	shift 2
	truncate -s "$_size" "$T/$_name.img" && "$@" "$T/$_name.img" >"$T/mkfs.out" 2>&1 || {
		cat "$T/mkfs.out"
		return 1
	}
	_dev=$(losetup -f --show "$T/$_name.img") || return 1
	at_exit "losetup -d $_dev"
	mkdir -p "$T/$_name"
	mount "$_dev" "$T/$_name" || return 1
	at_exit "umount $T/$_name || umount -l $T/$_name"
	at_exit "stop_stratad"
	MNT=$T/$_name
}
# serve NAME [FLAGS...]: a daemon whose ROOT is on $MNT.
serve()
{
	_name=$1
	shift
	ROOT=$MNT/root ADDR=$T/$_name.sock
	: >"$T/stratad.log"
	start_stratad "$ROOT" "$ADDR" "$@" || return 1
	BROKER=$(broker_pid)
}
broker_pid() { pgrep -P "$STRATAD_PID" -f -- '--role=broker' | head -n 1; }
stop() { stop_stratad >/dev/null 2>&1; }
used_kb() { df --output=used -k "$MNT" | tail -n 1 | tr -d ' '; }
free_inodes() { df --output=iavail "$MNT" | tail -n 1 | tr -d ' '; }
# fill FILE: allocate every block that can be, as root (who may use ext4's
# reserve; xfs keeps a few blocks for itself, which df counts).
fill()
{
	_free=$(df --output=avail -B1 "$MNT" | tail -n 1 | tr -d ' ')
	[ "$_free" -gt 1048576 ] && fallocate -l $((_free - 1048576)) "$1"
	dd if=/dev/zero bs=64k oflag=append conv=notrunc of="$1" >/dev/null 2>&1
	! dd if=/dev/zero bs=1k oflag=append conv=notrunc of="$1" >/dev/null 2>&1 &&
		! dd if=/dev/zero bs=1k count=1 oflag=append conv=notrunc of="$1" >/dev/null 2>&1
}
# Every directory in ROOT/snapshots is a snapshot's; none is half made or removed.
no_orphans()
{
	_dirs=$(find "$ROOT/snapshots" -mindepth 1 -maxdepth 1 | wc -l)
	_snaps=$(st ls | awk 'NR > 1' | wc -l)
	[ "$_dirs" -eq "$_snaps" ] && ! ls "$ROOT/snapshots" | grep -q -e '^new-' -e '^rm-'
}
same_broker() { [ "$(broker_pid)" = "$BROKER" ]; }
# refused NAME WHAT: the last call failed with ResourceExhausted naming WHAT.
refused()
{
	expect_rc "$1 fails" 1
	err_has "$1: ResourceExhausted" "ResourceExhausted"
	err_has "$1: names $2" "$2"
}

head -c $((100 << 20)) /dev/urandom >"$T/big"
tar -C "$T" -cf "$T/big.tar" big && rm -f "$T/big"
mkdir "$T/many"
i=0
while [ $i -lt 600 ]; do
	: >"$T/many/f$i"
	i=$((i + 1))
done
tar -C "$T" -cf "$T/many.tar" many

# bytes FS SIZE MKFS...: an apply bigger than what is free, then a file that
# takes every block.
bytes()
{
	fs=$1
	make_fs "$fs" "$2" "$3" -q || {
		fail "$fs: make the file system"
		return
	}
	serve "$fs" || {
		fail "$fs: the daemon starts"
		return
	}
	: >"$MNT/fill"
	avail=$(df --output=avail -B1 "$MNT" | tail -n 1 | tr -d ' ')
	[ "$avail" -gt $((40 << 20)) ] && fallocate -l $((avail - (40 << 20))) "$MNT/fill"
	st prepare keep >/dev/null
	# Content of its own, written as a container would: rm frees it below.
	head -c $((8 << 20)) /dev/urandom >"$(upper_of keep)/data"
	st prepare b >/dev/null
	st prepare a >/dev/null
	before=$(used_kb)
	run st apply a "$T/big.tar"
	refused "$fs: an apply bigger than the file system" "the file system of \`$ROOT\` has"
	err_has "$fs: ... and says bytes ran out" "bytes available"
	run st rm a
	expect_rc "$fs: rm of the failed apply's snapshot succeeds" 0
	run st cleanup
	expect_rc "$fs: cleanup succeeds" 0
	after=$(used_kb)
	check "$fs: ... and the failed apply holds no space (df used $before -> $after KiB)" \
		test $((after - before)) -lt 2048
	check "$fs: no snapshot directory without a record" no_orphans

	check "$fs: a file takes every block left" fill "$MNT/fill"
	run st prepare c
	refused "$fs: prepare with 0 bytes free" "\`$ROOT"
	err_has "$fs: prepare with 0 bytes free: says bytes ran out" "bytes available"
	check "$fs: ... and creates nothing" no_orphans
	run st commit bc b
	refused "$fs: commit with 0 bytes free" "$ROOT/meta"
	run st stat b
	out_has "$fs: ... and b is still active" "active"
	full=$(used_kb)
	run st rm keep
	expect_rc "$fs: rm with 0 bytes free succeeds" 0
	run st cleanup
	expect_rc "$fs: cleanup with 0 bytes free succeeds" 0
	check "$fs: ... and gives the snapshot's 8 MiB back (df used $full -> $(used_kb) KiB)" \
		test $((full - $(used_kb))) -gt 7000
	check "$fs: no snapshot directory without a record" no_orphans
	rm -f "$MNT/fill"
	run st prepare d
	expect_rc "$fs: once space returns, prepare works" 0
	run st commit bc b
	expect_rc "$fs: ... and so does commit" 0
	run st apply d "$T/many.tar"
	expect_rc "$fs: ... and apply" 0
	check "$fs: the broker never restarted" same_broker
	stop
}

# An apply of more files than there are inodes; then no byte either.
inodes()
{
	fs=ext4-inodes
	make_fs $fs 32M mkfs.ext4 -q -N 300 || {
		fail "$fs: make the file system"
		return
	}
	serve $fs || {
		fail "$fs: the daemon starts"
		return
	}
	: >"$MNT/fill"
	st prepare a >/dev/null
	run st apply a "$T/many.tar"
	refused "$fs: an apply of more files than inodes" "the file system of \`$ROOT\` has no inodes left"
	check "$fs: no inode is free" test "$(free_inodes)" -eq 0
	run st prepare b
	refused "$fs: prepare with 0 inodes free" "no inodes left on the file system of \`$ROOT\`"
	check "$fs: ... and creates nothing" no_orphans
	check "$fs: a file takes every block left" fill "$MNT/fill"
	ibefore=$(free_inodes)
	run st rm a
	expect_rc "$fs: rm with 0 inodes and 0 bytes free succeeds" 0
	run st cleanup
	expect_rc "$fs: cleanup with 0 inodes and 0 bytes free succeeds" 0
	check "$fs: ... and gives the inodes back ($ibefore -> $(free_inodes) free)" test "$(free_inodes)" -gt 200
	rm -f "$MNT/fill"
	run st prepare c
	expect_rc "$fs: once space returns, prepare works" 0
	check "$fs: no snapshot directory without a record" no_orphans
	check "$fs: the broker never restarted" same_broker
	stop
}

# The metadata store cannot grow: a tiny file system, then a small map.  32
# labels of 4000 bytes: about the most one snapshot may have (128 KiB).
LABELS=''
j=0
while [ $j -lt 32 ]; do
	LABELS="$LABELS k$j=$(printf '%04000d' $j)"
	j=$((j + 1))
done
grow_until_refused()
{
	i=0
	rc=0
	while [ $i -lt 200 ]; do
		run st prepare "l$i"
		[ "$rc" -eq 0 ] || break
		# shellcheck disable=SC2086 # LABELS is a list of K=V
		run st label "l$i" $LABELS
		[ "$rc" -eq 0 ] || break
		i=$((i + 1))
	done
}
# store FS WHAT [FLAGS...]: on $MNT, the call that cannot grow the store names WHAT.
store()
{
	fs=$1 what=$2
	shift 2
	serve "$fs" "$@" || {
		fail "$fs: the daemon starts"
		return
	}
	grow_until_refused
	refused "$fs: labels until the store cannot grow ($i snapshots)" "$what"
	err_has "$fs: ... naming its store" "$ROOT/meta"
	check "$fs: ... and creates nothing" no_orphans
	size=$(stat -c %s "$ROOT/meta/data.mdb")
	n=0
	while [ $n -le $i ]; do
		st rm "l$n" >/dev/null 2>&1
		n=$((n + 1))
	done
	check "$fs: rm of every labelled snapshot succeeded" test -z "$(st ls | awk 'NR > 1')"
	run st cleanup
	expect_rc "$fs: cleanup succeeds" 0
	run st prepare again
	expect_rc "$fs: prepare works again" 0
	# shellcheck disable=SC2086
	run st label again $LABELS
	expect_rc "$fs: ... and labels as large as before fit again" 0
	check "$fs: ... in the pages the removals freed (data.mdb was $size bytes, now $(stat -c %s "$ROOT/meta/data.mdb"))" \
		test "$(stat -c %s "$ROOT/meta/data.mdb")" -le $((size + 65536))
	check "$fs: no snapshot directory without a record" no_orphans
	check "$fs: the broker never restarted" same_broker
	stop
}

bytes ext4 64M mkfs.ext4
bytes xfs 320M mkfs.xfs
inodes
make_fs tiny 8M mkfs.ext4 -q && store tiny "bytes available"
make_fs map 64M mkfs.ext4 -q && store map "meta_max_bytes" --meta-max-bytes 4194304
summary
