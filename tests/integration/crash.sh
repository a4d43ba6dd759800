#!/bin/sh
# Crash test: several clients drive a mixed workload (prepare, apply,
# commit, diff, view + mount, remove) while one strata process (the parent,
# the spawner, the broker or a worker) is killed with SIGKILL at a random
# moment; then the daemon restarts, ROUNDS times (default 20; `make soak`
# runs 200).  Each client logs what was acknowledged (the CLI exited 0): a
# commit with the snapshot's id and a hash of its tree taken right after,
# and a removal (and, before it is asked for, that it is).  After each restart, for this round and the one before:
# every acknowledged commit exists with the same tree, every acknowledged
# removal stays removed, the snapshots directory holds exactly one numbered
# directory per record once start-up has swept, no snapshot of an older
# round is left, and `strata fsck` finds nothing.
set -u
. "$(dirname "$0")/../lib.sh"
lib_init crash
ensure_user
need_tools od awk sha256sum timeout mountpoint
ROUNDS=${ROUNDS:-20}
CLIENTS=${CLIENTS:-3}
STRATA="$B/strata"
ADDR=$T/s.sock
ROOT=$T/root
st() { timeout 60 "$STRATA" --address "$ADDR" "$@"; }
# rnd N: a number in 0..N-1
rnd() { od -An -N2 -tu2 /dev/urandom | awk -v n="$1" '{ print $1 % n }'; }
# The snapshot id in the mounts a prepare, view or mounts printed: the
# upperdir, the bind's source or the nearest lower layer (a view).
mount_id()
{
	sed -n -e 's|.*upperdir=[^,]*/snapshots/\([0-9]*\)/fs.*|\1|p' -e 's|^bind [^ ]*/snapshots/\([0-9]*\)/fs .*|\1|p' \
		-e 's|.*lowerdir=[^:,]*/snapshots/\([0-9]*\)/fs.*|\1|p' | head -n 1
}
# A tree's names, types, modes and file contents, as one hash.
treehash()
{
	(cd "$1" && find . -printf '%y %m %P\n' | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum) | sha256sum | cut -c1-64
}
no_process_of() { ! pgrep -f -- "--root=$1" >/dev/null; }
# Problems go to a file: some are found in pipelines' subshells.
problem() { echo "round $r: $*" | tee -a "$T/problems" | sed 's/^/     | /'; }
nproblems() { cat "$T/problems" 2>/dev/null | wc -l; }

# Three small layers for apply.
for l in 1 2 3; do
	mkdir -p "$T/src$l/etc/l$l" && printf 'layer %s\n' "$l" >"$T/src$l/etc/l$l/f" &&
		head -c $((l * 3000)) /dev/urandom >"$T/src$l/blob$l" && tar -C "$T/src$l" -cf "$T/layer$l.tar" .
done

start_stratad "$ROOT" "$ADDR" || { fail "daemon starts"; summary; exit 1; }
# A committed chain every round builds on, and that every round checks.
parent=''
for b in 1 2 3; do
	id=$(st prepare "base$b-a" $parent | mount_id)
	mkdir -p "$ROOT/snapshots/$id/fs/base$b" && echo "$b" >"$ROOT/snapshots/$id/fs/base$b/f"
	st commit "base$b" "base$b-a" && echo "commit base$b $id $(treehash "$ROOT/snapshots/$id/fs")" >>"$T/base.log"
	parent=base$b
done
check "the base chain is committed" test "$(wc -l <"$T/base.log")" = 3

# client K R: the workload of client K in round R until $T/stop exists.
client()
{
	k=$1 cr=$2 i=0 prev=''
	log=$T/log.$cr.$k
	mnt=$T/mnt.$k
	mkdir -p "$mnt"
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		key=r$cr-c$k-a$i name=r$cr-c$k-n$i
		case $(rnd 3) in
		0) p='' ;;
		1) p=base3 ;;
		*) p=$prev ;;
		esac
		id=$(st prepare "$key" $p 2>/dev/null | mount_id)
		[ -n "$id" ] || continue
		if [ "$(rnd 2)" = 0 ]; then
			st apply "$key" "$T/layer$(($(rnd 3) + 1)).tar" >/dev/null 2>&1
		else
			up=$ROOT/snapshots/$id/fs
			mkdir -p "$up/d$i" 2>/dev/null && printf '%s\n' "$name" >"$up/d$i/f" 2>/dev/null &&
				head -c "$(rnd 5000)" /dev/urandom >"$up/d$i/blob" 2>/dev/null
		fi
		if st commit "$name" "$key" >/dev/null 2>&1; then
			echo "commit $name $id $(treehash "$ROOT/snapshots/$id/fs")" >>"$log"
			prev=$name
		fi
		case $(rnd 6) in
		0) st diff "$name" -o "$T/diff.$k" >/dev/null 2>&1 ;;
		1)
			st view "$name-v" "$name" >/dev/null 2>&1 &&
				st mount "$name-v" "$mnt" >/dev/null 2>&1 && find "$mnt" >/dev/null &&
				st umount "$mnt" >/dev/null 2>&1 && echo "try-rm $name-v" >>"$log" &&
				st rm "$name-v" >/dev/null 2>&1 && echo "rm $name-v" >>"$log"
			;;
		2)
			# the last commit, unless a later one is built on it
			[ -n "$prev" ] && echo "try-rm $prev" >>"$log"
			if [ -n "$prev" ] && st rm "$prev" >/dev/null 2>&1; then
				echo "rm $prev" >>"$log"
				prev=''
			fi
			;;
		esac
	done
}

# Kills one process at random; prints what it killed.
kill_one()
{
	spawner=$(pgrep -P "$STRATAD_PID" -f -- '--role=spawner' | head -n 1)
	broker=$(pgrep -P "$STRATAD_PID" -f -- '--role=broker' | head -n 1)
	case $(rnd 4) in
	0) victim=parent pid=$STRATAD_PID ;;
	1) victim=spawner pid=$spawner ;;
	2) victim=broker pid=$broker ;;
	*)
		victim=worker pid=''
		n=0
		while [ -z "$pid" ] && [ $n -lt 40 ] && [ -n "$spawner" ]; do
			pid=$(pgrep -P "$spawner" | head -n 1)
			[ -n "$pid" ] || sleep 0.02
			n=$((n + 1))
		done
		[ -n "$pid" ] || victim=broker pid=$broker
		;;
	esac
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	echo "$victim"
}

# Waits until the daemon answers, then until start-up has swept: no
# new-/rm- directory, one directory per record.
wait_swept()
{
	n=0
	while ! st ls >/dev/null 2>&1; do
		[ $n -lt 200 ] || return 1
		sleep 0.1
		n=$((n + 1))
	done
	n=0
	while [ $n -lt 100 ]; do
		records=$(st ls | awk 'NR > 1' | wc -l)
		dirs=$(ls "$ROOT/snapshots" | wc -l)
		if [ "$records" = "$dirs" ] && ! ls "$ROOT/snapshots" | grep -qv '^[0-9][0-9]*$'; then
			return 0
		fi
		sleep 0.1
		n=$((n + 1))
	done
	return 1
}

restart_clean()
{
	stop_stratad >/dev/null 2>&1
	cat "$T/stratad.log" >>"$T/stratad.all"
	: >"$T/stratad.log"
	start_stratad "$ROOT" "$ADDR"
}

# The checks after round $r's crash and restart.
verify()
{
	prev_r=$((r - 1))
	cat "$T/base.log" "$T/log.$prev_r."* "$T/log.$r."* 2>/dev/null >"$T/acked"
	awk '$1 == "rm" { print $2 }' "$T/acked" | sort -u >"$T/removed"
	# A removal asked for but not answered may have happened or not.
	awk '$1 == "try-rm" { print $2 }' "$T/acked" | sort -u >"$T/asked"
	awk '$1 == "commit"' "$T/acked" | while read -r _ name id hash; do
		grep -qxF "$name" "$T/asked" || echo "$name $id $hash"
	done >"$T/kept"
	st ls 'kind==committed' | awk 'NR > 1 { print $1 }' >"$T/committed" || problem "ls fails"
	while read -r name id hash; do
		if ! grep -qxF "$name" "$T/committed"; then
			problem "acknowledged commit $name is gone"
		elif [ ! -d "$ROOT/snapshots/$id/fs" ]; then
			problem "committed $name has lost its directory $id"
		elif [ "$(treehash "$ROOT/snapshots/$id/fs")" != "$hash" ]; then
			problem "committed $name (directory $id) changed"
		fi
	done <"$T/kept"
	st ls | awk 'NR > 1 { print $1 }' >"$T/records" || problem "ls fails"
	grep -xF -f "$T/removed" "$T/records" | while read -r name; do
		problem "acknowledged removal of $name undone"
	done
	grep -v -e '^base[123]$' -e "^r$prev_r-" -e "^r$r-" "$T/records" | while read -r name; do
		problem "snapshot $name of an older round is there"
	done
	ls "$ROOT/snapshots" | grep -v '^[0-9][0-9]*$' | while read -r d; do problem "stray entry snapshots/$d"; done
	dirs=$(ls "$ROOT/snapshots" | wc -l)
	[ "$(wc -l <"$T/records")" = "$dirs" ] || problem "$dirs directories for $(wc -l <"$T/records") records"
	st fsck >"$T/fsck.out" 2>&1 || problem "fsck: $(grep -v -e '^pending-usage' "$T/fsck.out" | head -n 5)"
	# The record still names the same directory: a view of it shows it
	# (last: its removal leaves a directory that goes in the background).
	awk 'NR > 3' "$T/kept" | sort -R | head -n 2 >"$T/sample"
	while read -r name id hash; do
		got=$(st view "r$r-chk" "$name" 2>&1)
		[ "$(echo "$got" | mount_id)" = "$id" ] || problem "view of $name does not show directory $id: $got"
		st rm "r$r-chk" >/dev/null 2>&1 || problem "cannot remove view r$r-chk"
	done <"$T/sample"
}

# Removes every snapshot of round $1, children first (a Remove of a parent
# is refused): whatever is left shows at the next round's check.
purge()
{
	pass=0
	while [ $pass -lt 10 ]; do
		names=$(st ls | awk 'NR > 1 { print $1 }' | grep "^r$1-")
		[ -n "$names" ] || return 0
		# shellcheck disable=SC2086 # one word per name
		st rm $names >/dev/null 2>&1
		pass=$((pass + 1))
	done
	return 1
}

pids=''
at_exit 'touch "$T/stop"; for p in $pids; do kill "$p" 2>/dev/null; wait "$p"; done'
victims=''
r=1
while [ $r -le "$ROUNDS" ]; do
	rm -f "$T/stop"
	pids=''
	k=1
	while [ $k -le "$CLIENTS" ]; do
		client $k $r &
		pids="$pids $!"
		k=$((k + 1))
	done
	sleep "$(awk -v x="$(rnd 1000)" 'BEGIN { print 0.2 + x / 1000 }')"
	victim=$(kill_one)
	victims="$victims $victim"
	sleep 0.2
	touch "$T/stop"
	for p in $pids; do wait "$p"; done
	pids=''
	if [ "$victim" = parent ]; then
		wait "$STRATAD_PID" 2>/dev/null
		STRATAD_PID=''
		n=0
		while ! no_process_of "$ROOT" && [ $n -lt 50 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		no_process_of "$ROOT" || problem "processes of the killed daemon are left"
		cat "$T/stratad.log" >>"$T/stratad.all"
		: >"$T/stratad.log"
		start_stratad "$ROOT" "$ADDR" || { fail "round $r: daemon restarts after its parent was killed"; break; }
	fi
	# The parent restarts a killed broker or spawner by itself; after a
	# worker, the daemon restarts so that start-up sweeps what it left.
	if [ "$victim" = worker ]; then
		restart_clean || { fail "round $r: daemon restarts after a worker was killed"; break; }
	fi
	wait_swept || problem "no sweep within 30 s after the $victim was killed"
	before=$(nproblems)
	verify
	[ "$(nproblems)" = "$before" ] || tail -n 20 "$T/stratad.log" | sed 's/^/     | log: /'
	# Unmount what a crashed mount left and end its hold.
	k=1
	while [ $k -le "$CLIENTS" ]; do
		st umount "$T/mnt.$k" >/dev/null 2>&1
		mountpoint -q "$T/mnt.$k" && umount -l "$T/mnt.$k"
		k=$((k + 1))
	done
	purge $((r - 1)) || problem "snapshots of round $((r - 1)) cannot be removed"
	# (the parent's back-off between broker restarts starts afresh)
	if [ "$victim" = broker ] || [ "$victim" = spawner ]; then
		restart_clean || { fail "round $r: daemon restarts cleanly"; break; }
	fi
	r=$((r + 1))
done
echo "     | victims:$victims"
check "$ROUNDS rounds of crashes lose nothing acknowledged and leave nothing behind" test "$(nproblems)" = 0
committed=$(cat "$T"/log.* 2>/dev/null | grep -c '^commit')
removed=$(cat "$T"/log.* 2>/dev/null | grep -c '^rm')
echo "     | $committed commits and $removed removals acknowledged"
check "the clients got work done" test "$committed" -gt "$ROUNDS"
check "fsck is clean at the end" st fsck
summary
