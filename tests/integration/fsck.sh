#!/bin/sh
# strata fsck: each kind of disagreement between the metadata, the snapshot
# directories and the mount holds, made on purpose, is reported (exit 1), and
# --repair fixes what it can (exit 0) or says what is left (exit 1).
set -u
. "$(dirname "$0")/../lib.sh"
lib_init fsck
ensure_user
need_tools python3
STRATA="$B/strata"
ADDR=$T/s.sock
ROOT=$T/root
st() { "$STRATA" --address "$ADDR" "$@"; }
# The snapshot id in the mounts a prepare printed (upperdir or bind source).
mount_id()
{
	sed -n -e 's|.*upperdir=[^,]*/snapshots/\([0-9]*\)/fs.*|\1|p' -e 's|^bind [^ ]*/snapshots/\([0-9]*\)/fs .*|\1|p' |
		head -n 1
}
# fsck_is WANT [ARGS...]: fsck's exit status is WANT (its output in $T/fsck.out).
fsck_is()
{
	_want=$1
	shift
	st fsck "$@" >"$T/fsck.out" 2>&1
	_rc=$?
	cat "$T/fsck.out"
	[ "$_rc" = "$_want" ]
}
says() { grep -q -- "$1" "$T/fsck.out"; }
restart()
{
	stop_stratad
	: >"$T/stratad.log"
	start_stratad "$ROOT" "$ADDR"
}

start_stratad "$ROOT" "$ADDR" || { fail "daemon starts"; summary; exit 1; }
check "an empty store is clean" fsck_is 0
check "clean says so" says '0 snapshots, 0 directories, 0 holds: clean'
check "--help describes the repairs" sh -c "'$STRATA' fsck --help | grep -q 'removes its record'"
check "an unknown option is a usage error (2)" sh -c "'$STRATA' --address '$ADDR' fsck --bogus; test \$? = 2"

a=$(st prepare a-w | mount_id)
echo one >"$ROOT/snapshots/$a/fs/f"
st commit a a-w
b=$(st prepare b-w a | mount_id)
st commit b b-w
w=$(st prepare w a | mount_id)
st view v b >/dev/null

# pending usage: a note, not a disagreement; --repair measures it
check "committed snapshots awaiting their usage are clean (notes only)" fsck_is 0
check "the note names the pending usage" says '^pending-usage *a '
check "--repair measures the pending usage" fsck_is 0 --repair
check "the measurement is reported" says 'measured: '
check "no pending usage after the repair" fsck_is 0
check "nothing is pending any more" sh -c "! grep -q pending-usage '$T/fsck.out'"
check "the usage was recorded" sh -c "'$STRATA' --address '$ADDR' usage a --json | grep -q '\"inodes\":2'"

# orphan directories: made while the daemon runs (start-up would sweep them)
mkdir -p "$ROOT/snapshots/9000/fs/x" "$ROOT/snapshots/rm-9001/fs" "$ROOT/snapshots/new-9002/fs"
check "directories without a record are disagreements" fsck_is 1
check "a numbered one is named" says '^orphan-directory .*snapshots/9000 has no record'
check "an rm- one is named" says 'snapshots/rm-9001 has no record'
check "a new- one is named" says 'snapshots/new-9002 has no record'
check "--repair removes them" fsck_is 0 --repair
check "the repair is reported" says 'directory removed \[repaired\]'
check "they are gone" test ! -e "$ROOT/snapshots/9000" -a ! -e "$ROOT/snapshots/rm-9001" -a ! -e "$ROOT/snapshots/new-9002"
check "clean after the repair" fsck_is 0

# a record without its directory
restart || { fail "daemon restarts"; summary; exit 1; }
rm -rf "$ROOT/snapshots/$w"
check "a record without a directory is a disagreement" fsck_is 1
check "it is named" says "^missing-directory *w (id $w): active snapshot has no directory"
check "--repair removes the record" fsck_is 0 --repair
check "the repair is reported" says 'record removed \[repaired\]'
check "the snapshot is gone" sh -c "! '$STRATA' --address '$ADDR' stat w"
check "clean after the repair" fsck_is 0

# ... which --repair keeps while another snapshot is built on it
rm -rf "$ROOT/snapshots/$b"
check "a parent without its directory is a disagreement" fsck_is 1
check "--repair leaves a record with children" fsck_is 1 --repair
check "and says why" says "^missing-directory *b .*not repaired"
st rm v
check "once the child is gone, --repair removes it" fsck_is 0 --repair
check "clean after the repair" fsck_is 0

# a hold whose mount is gone
st view hv a >/dev/null
mkdir "$T/m"
st mount hv "$T/m" >/dev/null || fail "mount hv"
umount "$T/m"
check "a hold of a mount that is gone is a disagreement" fsck_is 1
check "it is named" says "^stale-hold *hv .*nothing is mounted at \`$T/m\`"
check "the view cannot be removed while held" sh -c "! '$STRATA' --address '$ADDR' rm hv"
check "--repair ends the hold" fsck_is 0 --repair
check "the repair is reported" says 'hold ended \[repaired\]'
check "the view can be removed now" st rm hv
check "clean at the end" fsck_is 0
check "--json is one document" sh -c "'$STRATA' --address '$ADDR' --json fsck | grep -q '^{\"problems\":\\[.*\"left\":0}$'"
# a snapshot whose parent has no record (damage no call can make)
p=$(st prepare p-w | mount_id)
st commit p p-w
q=$(st prepare q p | mount_id)
stop_stratad
check "the parent's record is deleted" python3 "$REPO/tests/tools/metadel.py" "$ROOT/meta" p
: >"$T/stratad.log"
start_stratad "$ROOT" "$ADDR" || { fail "daemon restarts"; summary; exit 1; }
i=0
while [ -e "$ROOT/snapshots/$p" ] && [ $i -lt 50 ]; do # start-up sweeps p's directory
	sleep 0.1
	i=$((i + 1))
done
check "a missing parent is a disagreement" fsck_is 1
check "it is named" says "^missing-parent *q (id $q): parent \`p\` has no record"
check "--repair does not touch it" fsck_is 1 --repair
check "the child is still there" st stat q
check "fsck still reports it" fsck_is 1
check "Remove of the child works without its parent's record" st rm q
check "... and leaves nothing to report" fsck_is 0

summary
