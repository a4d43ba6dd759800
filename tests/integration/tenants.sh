#!/bin/sh
# Tenants, tried the way their users would break them: one daemon, root and
# two unprivileged users this test creates (strata-t-alice, by uid; and
# strata-t-bob, by the primary group strata-t-builders), and a third user
# (65534) that is no tenant's.  Checked both ways:
#   - a peer that is no tenant's is refused on both sockets, PermissionDenied
#     naming its uid and the setting, and the CLI prints that message;
#   - each tenant sees only its own keys (another's key is NotFound, as a
#     key that does not exist), the same key in two tenants is two
#     snapshots, List shows one keyspace, and root acts as `containerd`
#     unless it names a tenant (--tenant, or the gRPC metadata key); a
#     non-root --tenant is refused;
#   - Apply, Mounts, Diff and Remove of another tenant's snapshot fail;
#   - snapshots made before tenants existed are containerd's;
#   - sharing (strata share): a committed snapshot shared with bob is his to
#     build on, view and Stat by alice's key, and nothing else (not removed,
#     relabelled, committed, applied to, diffed, nor listed); a tenant it is
#     not shared with cannot see it; alice cannot remove it under bob's
#     child, told whose it is; unsharing stops new children while bob's
#     child still mounts; `--all`; bob's own key wins; only a committed
#     snapshot may carry the label, and its value is checked;
#   - the audit trail has a line for every change and every refusal, with
#     peer, tenant, method, key and code, in the log and in audit_log.
# lib.sh stops the daemon by pid and removes $T; the users and the group are
# removed at exit.
set -u
. "$(dirname -- "$0")/../lib.sh"
. "$(dirname "$0")/../cli-lib.sh"
lib_init tenants
ensure_user
need_tools setpriv useradd userdel groupadd groupdel tar
STRATA=${STRATA:-$B/strata}
ADDR=$T/s.sock
ROOT=$T/root
CALL_TIMEOUT=60

# ---- the users ------------------------------------------------------------------
ALICE=strata-t-alice BOB=strata-t-bob GROUP=strata-t-builders
for u in $ALICE $BOB; do userdel "$u" >/dev/null 2>&1; done
groupdel $GROUP >/dev/null 2>&1
at_exit "userdel $ALICE >/dev/null 2>&1; userdel $BOB >/dev/null 2>&1; groupdel $GROUP >/dev/null 2>&1"
groupadd --system $GROUP &&
	useradd --system --no-create-home --shell /usr/sbin/nologin --user-group $ALICE &&
	useradd --system --no-create-home --shell /usr/sbin/nologin --gid $GROUP $BOB || {
	fail "the test's users are created"
	summary
	exit 1
}
alice_uid=$(id -u $ALICE)
bob_gid=$(getent group $GROUP | cut -d: -f3)
# as USER CMD...: CMD as USER with its primary group only.
as() {
	_u=$1
	shift
	setpriv --reuid="$_u" --regid="$(id -g "$_u")" --clear-groups "$@"
}
# CLIs of each party.
sa() { as $ALICE timeout $CALL_TIMEOUT "$STRATA" --address "$ADDR" "$@"; }
sb() { as $BOB timeout $CALL_TIMEOUT "$STRATA" --address "$ADDR" "$@"; }
sn() { setpriv --reuid=65534 --regid=65534 --clear-groups timeout $CALL_TIMEOUT "$STRATA" --address "$ADDR" "$@"; }

# ---- before tenants: a snapshot of root's ---------------------------------------
start_stratad "$ROOT" "$ADDR" || { fail "daemon starts"; summary; exit 1; }
st prepare old-w >/dev/null && st commit old old-w
run sn ls
expect_rc "without tenants, a non-root peer cannot connect (the sockets are 0660 root:root)" 5
err_has "... Permission denied" "Permission denied"
chmod 0666 "$ADDR.fd" # as if an operator opened the socket by mistake
run sn ls
expect_rc "... nor be served through a socket opened to it" 5
err_has "... PermissionDenied naming its uid and the setting" \
	"PermissionDenied: uid 65534 may not use strata: only root may, as no tenant is configured"
stop_stratad

# ---- the daemon with tenants ------------------------------------------------------
cat >"$T/stratad.conf" <<EOF
socket_mode = 0666
audit_log = $T/audit.log

[tenant alice]
uids = $ALICE

[tenant bob]
gids = $GROUP
EOF
start_stratad "$ROOT" "$ADDR" --config "$T/stratad.conf" || { fail "daemon starts with tenants"; summary; exit 1; }
same "the sockets' mode is socket_mode" "$(stat -c %a "$ADDR") $(stat -c %a "$ADDR.fd")" "666 666"

run sn ls
expect_rc "a peer that is no tenant's is refused (native)" 5
err_has "... PermissionDenied, naming its uid and the setting" \
	"PermissionDenied: uid 65534 (gid 65534) is no tenant's: add it to the \`uids\` (or its group to the \`gids\`) of a [tenant NAME] section in stratad.conf"
run st ls
out_has "root acts as containerd: it sees the snapshot made before tenants" "old"
run sa version
expect_rc "a tenant may ask the daemon's version" 0
out_match "... which names the tenant" '^tenant: +alice$'
out_match "... and lists the tenants and audit features" '^features: audit .*tenants$'

# ---- keyspaces ----------------------------------------------------------------------
run sa prepare k
expect_rc "alice prepares k" 0
run sb prepare k
expect_rc "bob prepares k too: the same key in another keyspace" 0
run sb stat k
out_has "bob's k is bob's" "k"
run sa stat old
expect_rc "alice cannot see containerd's old" 3
err_has "... NotFound, as a key that does not exist" "NotFound"
sa prepare only-alice >/dev/null
run sb stat only-alice
expect_rc "bob cannot see alice's only-alice" 3
run sb stat no-such-key
same "... with the very message of a key that does not exist" \
	"$(sb stat only-alice 2>&1 | sed 's/only-alice/KEY/g')" "$(sb stat no-such-key 2>&1 | sed 's/no-such-key/KEY/g')"
run sb rm only-alice
expect_rc "bob cannot remove alice's snapshot" 3
check "... it is still there" sa stat only-alice
run sa ls
same "alice's List is her keyspace" "$(awk 'NR > 1 { print $1 }' "$T/out" | sort | tr '\n' ' ')" "k only-alice "
run st ls
out_lacks "containerd's List lacks alice's" "only-alice"
run st --tenant alice ls
out_has "root acts as alice with --tenant" "only-alice"
run sa --tenant bob ls
expect_rc "a non-root --tenant is refused" 5
err_has "... PermissionDenied" "PermissionDenied: --tenant bob: only root may act as another tenant"
run st --tenant nobody-here ls
expect_rc "--tenant of a tenant that does not exist is refused" 3
err_has "... NotFound" "no tenant \`nobody-here\`"
run sa ls 'name==k'
same "a filter sees keys, not the store's names" "$(awk 'NR > 1 { print $1 }' "$T/out")" "k"

# ---- the gRPC door -------------------------------------------------------------------
if go_build strata-tests/maxcalls; then
	: >"$T/no-filters"
	chmod 0644 "$T/no-filters"
	grpc_as() {
		_who=$1
		shift
		case $_who in
		root) timeout $CALL_TIMEOUT "$T/bin/maxcalls" -address "$ADDR" "$@" ;;
		*) setpriv --reuid="$_who" --regid="$(id -g "$_who" 2>/dev/null || echo "$_who")" --clear-groups \
			timeout $CALL_TIMEOUT "$T/bin/maxcalls" -address "$ADDR" "$@" ;;
		esac
	}
	same "gRPC: a peer that is no tenant's is refused" "$(grpc_as 65534 list "$T/no-filters" 2>&1)" \
		"PermissionDenied: uid 65534 (gid 65534) is no tenant's: add it to the \`uids\` (or its group to the \`gids\`) of a [tenant NAME] section in stratad.conf"
	same "gRPC: alice lists her keyspace" "$(grpc_as $ALICE list "$T/no-filters" 2>&1)" "OK 2"
	same "gRPC: root lists containerd's" "$(grpc_as root list "$T/no-filters" 2>&1)" "OK 1"
	same "gRPC: root with the metadata key strata-tenant lists alice's" \
		"$(grpc_as root -tenant alice list "$T/no-filters" 2>&1)" "OK 2"
	same "gRPC: alice with the metadata key is refused" "$(grpc_as $ALICE -tenant bob list "$T/no-filters" 2>&1)" \
		"PermissionDenied: only root may act as another tenant (\`bob\`)"
else
	fail "build maxcalls"
fi

# ---- apply, mounts, commit, diff across tenants ------------------------------------
mkdir -p "$T/layer"
echo alice >"$T/layer/file"
tar -C "$T/layer" -cf "$T/layer.tar" file
chmod 0644 "$T/layer.tar"
run sa apply k "$T/layer.tar"
expect_rc "alice applies a layer to her k" 0
run sb apply only-alice "$T/layer.tar"
expect_rc "bob cannot apply to alice's snapshot" 3
err_has "... NotFound" "NotFound"
run sb mounts only-alice
expect_rc "bob cannot have alice's mounts" 3
run sa commit base k
expect_rc "alice commits her k" 0
run sb prepare child base
expect_rc "bob cannot build on alice's committed base" 3
err_has "... NotFound" "NotFound"
run sb diff base
expect_rc "bob cannot diff alice's base" 3
run sa prepare child base
expect_rc "alice builds on her base" 0
run sa stat child
out_has "... and its parent is named by her key" "base"

# ---- sharing ------------------------------------------------------------------------
# alice's base holds `file` (alice) and has her child `child`.
SHARE=strata.io/shared-with
run sb prepare bchild base
expect_rc "not shared: bob cannot build on alice's base" 3
err_has "... NotFound" "NotFound"
run sa share base bob
expect_rc "alice shares base with bob" 0
out_has "... the label names him" "$SHARE=bob"
run sb prepare bchild base
expect_rc "bob builds on alice's base shared with him" 0
run sb view bview base
expect_rc "... and views it" 0
run st prepare cchild base
expect_rc "containerd, not named, cannot build on it" 3
err_has "... NotFound, as a key that does not exist" "NotFound"
run st stat base
expect_rc "... nor Stat it" 3
run sb stat base
expect_rc "bob Stats the shared base" 0
out_has "... by alice's key" "name:    base"
out_has "... committed" "kind:    committed"
run sb stat bchild
out_has "bob's child names its parent by alice's key" "parent:  base"
run sb ls
same "bob's List shows his own snapshots only" "$(awk 'NR > 1 { print $1 }' "$T/out" | sort | tr '\n' ' ')" \
	"bchild bview k "
run sb ls 'parent==base'
same "... and a filter on the parent sees alice's key" "$(awk 'NR > 1 { print $1 }' "$T/out" | sort | tr '\n' ' ')" \
	"bchild bview "
readonly_msg="FailedPrecondition: \`base\` is alice's, shared with you read-only"
run sb rm base
expect_rc "bob cannot remove the shared base" 1
err_has "... FailedPrecondition saying whose it is" "$readonly_msg"
run sb label base team=bob
expect_rc "bob cannot label it" 1
err_has "... FailedPrecondition" "$readonly_msg"
run sb share base --all
expect_rc "bob cannot share it on" 1
err_has "... FailedPrecondition" "$readonly_msg"
run sb diff base
expect_rc "bob cannot diff it" 1
err_has "... FailedPrecondition" "$readonly_msg"
run sb apply base "$T/layer.tar"
expect_rc "bob cannot apply to it" 1
err_has "... FailedPrecondition" "$readonly_msg"
run sb commit base2 base
expect_rc "bob cannot commit it" 1
err_has "... FailedPrecondition" "$readonly_msg"
run sa stat base
same "... and alice's base is as she left it" "$(grep -c "^  $SHARE=bob$" "$T/out")" 1
run sa rm base
expect_rc "alice cannot remove base while bob builds on it" 1
err_has "... FailedPrecondition naming the children of each tenant" \
	"FailedPrecondition: failed to remove: cannot remove snapshot with child: 3 children (1 of tenant alice, 2 of tenant bob)"
sa rm child >/dev/null
run sa rm base
err_has "... also when all of them are another tenant's" \
	"cannot remove snapshot with child: 2 children (2 of tenant bob)"
run sa share base --none
expect_rc "alice unshares base" 0
out_lacks "... the label is gone" "$SHARE"
run sb prepare bchild2 base
expect_rc "unshared: bob cannot build on it any more" 3
err_has "... NotFound" "NotFound"
run sb stat base
expect_rc "... nor Stat it" 3
run sb mounts bchild
expect_rc "bob's child built before still has its mounts" 0
mkdir -p "$T/bmnt"
run st --tenant bob mount bchild "$T/bmnt"
expect_rc "... and mounts (as bob's, by root)" 0
same "... with alice's file in it" "$(cat "$T/bmnt/file" 2>&1)" "alice"
st umount "$T/bmnt" >/dev/null 2>&1
run sb stat bchild
out_has "... and still names its parent by alice's key" "parent:  base"
run sa share base --all
expect_rc "alice shares base with all" 0
out_has "... as \`*\`" "$SHARE=*"
run st prepare cchild base
expect_rc "... and containerd builds on it" 0
st rm cchild >/dev/null
# Own key wins: bob commits a snapshot `lib` of his own; alice shares hers.
sa prepare lw >/dev/null && sa commit lib lw >/dev/null
sb prepare lw >/dev/null && sb commit lib lw >/dev/null
run sa share lib --all
expect_rc "alice shares her lib with all" 0
run sb stat lib
out_lacks "bob's own lib wins over alice's shared one" "$SHARE"
run st stat lib
out_has "... while containerd, with none, sees alice's" "$SHARE=*"
run sb rm lib
expect_rc "... and bob removes his own lib" 0
run sb stat lib
out_has "... after which alice's shows through" "$SHARE=*"
# The label: on a committed snapshot only, with a well-formed value.
sa prepare act >/dev/null
run sa share act bob
expect_rc "sharing an active snapshot is refused" 1
err_has "... FailedPrecondition" \
	"FailedPrecondition: label $SHARE: \`act\` is active: only a committed snapshot may be shared"
run sa label act "$SHARE=bob"
expect_rc "... through label too" 1
run sa prepare act2 --label "$SHARE=bob"
expect_rc "... and through Prepare's labels" 1
err_has "... FailedPrecondition" "FailedPrecondition: label $SHARE"
run sa prepare act2
expect_rc "... which made nothing" 0
run sa share base Bob
expect_rc "a malformed value is refused" 1
err_has "... InvalidArgument" "InvalidArgument: label $SHARE: bad tenant name \`Bob\`"
run sa label base "$SHARE=bob,"
expect_rc "... an empty name too" 1
err_has "... InvalidArgument" "InvalidArgument: label $SHARE"
run sa share base bob nobody-yet
expect_rc "a tenant not configured may be named" 0
out_has "... as given" "$SHARE=bob,nobody-yet"
run sa commit lib2 act --label "$SHARE=bob"
expect_rc "Commit may share what it commits" 0
run sb stat lib2
expect_rc "... and bob sees it" 0
run sa commit lib3 act2 --label "$SHARE=*,bob"
expect_rc "... with a well-formed value only" 1
err_has "... InvalidArgument" "InvalidArgument: label $SHARE"
run sa share
expect_rc "share without arguments is a usage error" 2
run sa share base
expect_rc "... and without tenants or --all or --none" 2

# ---- audit ----------------------------------------------------------------------------
check "the audit file has alice's Prepare of k" \
	grep -q "uid=$alice_uid gid=$(id -g $ALICE) pid=[0-9]* tenant=alice method=Prepare key=\"k\" parent=\"\" code=OK" "$T/audit.log"
check "... bob's refused Remove of only-alice" \
	grep -q "tenant=bob method=Remove key=\"only-alice\" code=NotFound" "$T/audit.log"
check "... bob, matched by his group" grep -q "gid=$bob_gid pid=[0-9]* tenant=bob" "$T/audit.log"
check "... the refused peer, with no tenant" \
	grep -q "uid=65534 gid=65534 pid=[0-9]* tenant=- method=List code=PermissionDenied" "$T/audit.log"
check "... root's --tenant" grep -q "uid=0 gid=0 pid=[0-9]* tenant=containerd method=ActAs as=\"alice\" code=OK" "$T/audit.log"
check "... every line has a time" sh -c "! grep -vqE '^time=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z ' '$T/audit.log'"
check "... and the log has them too" grep -q "audit: time=.* tenant=alice method=Prepare" "$T/stratad.log"
check "reads are not audited" sh -c "! grep -q 'method=Stat key=\"k\" code=OK' '$T/audit.log'"

check "the daemon stops cleanly" stop_stratad

# ---- limits per tenant ----------------------------------------------------------------
# Two jobs at a time in all; the tenant lim may own 3 snapshots, run 1 job
# and queue 1; the tenant flood has no limit of its own.
cat >>"$T/stratad.conf" <<EOF

[tenant lim]
max_snapshots = 3
max_jobs = 1
max_queued_jobs = 1

[tenant flood]
EOF
start_stratad "$ROOT" "$ADDR" --config "$T/stratad.conf" --max-jobs 2 || {
	fail "daemon restarts with limits"
	summary
	exit 1
}
sl() { st --tenant lim "$@"; }
sl prepare a >/dev/null && sl prepare b >/dev/null && sl prepare c >/dev/null
run sl prepare d
expect_rc "a tenant past max_snapshots is refused" 1
err_has "... ResourceExhausted naming the tenant and the setting" \
	"ResourceExhausted: tenant \`lim\` has 3 snapshots, its limit (max_snapshots of [tenant lim])"
run st prepare d
expect_rc "... while another tenant prepares as before" 0
sl rm a
run sl prepare d
expect_rc "a removal makes room again" 0
stop_stratad
start_stratad "$ROOT" "$ADDR" --config "$T/stratad.conf" --max-jobs 2 || {
	fail "daemon restarts"
	summary
	exit 1
}
run sl prepare e
expect_rc "the count survives a restart" 1
# Jobs: applies fed by FIFOs that nobody writes stay running, or queued.
# The test holds each FIFO open at both ends, so that the CLI's open returns
# and its reads wait.
mkfifo "$T/fifo1" "$T/fifo2"
exec 7<>"$T/fifo1" 8<>"$T/fifo2"
(exec "$STRATA" --address "$ADDR" --tenant lim apply b "$T/fifo1" >"$T/apply1.out" 2>&1) &
p1=$!
at_exit "kill $p1 2>/dev/null"
(exec "$STRATA" --address "$ADDR" --tenant lim apply c "$T/fifo2" >"$T/apply2.out" 2>&1) &
p2=$!
at_exit "kill $p2 2>/dev/null"
sleep 1
run sl apply d "$T/layer.tar"
expect_rc "a tenant past max_queued_jobs is refused" 1
err_has "... ResourceExhausted naming the tenant and the setting" \
	"ResourceExhausted: tenant \`lim\` has 1 jobs waiting, its limit (max_queued_jobs of [tenant lim])"
st prepare other >/dev/null
run st apply other "$T/layer.tar"
expect_rc "... while another tenant's apply runs beside lim's one job" 0
kill "$p1" "$p2" 2>/dev/null
wait "$p1" "$p2" 2>/dev/null
exec 7>&- 8>&-

# Fairness: one job at a time; flood queues 40 applies; one apply of
# containerd's, sent once flood's first has ended, waits only for the job
# running when its request arrives, and nothing runs beside it.  Counted
# from before the CLI starts, that is at most two of flood's: the one
# running then, and one that may start while the request is on its way
# (first in, first out, all 40 would end first).
stop_stratad
start_stratad "$ROOT" "$ADDR" --config "$T/stratad.conf" --max-jobs 1 || {
	fail "daemon restarts with one job at a time"
	summary
	exit 1
}
dd if=/dev/zero of="$T/layer/big" bs=1M count=24 2>/dev/null
tar -C "$T/layer" -czf "$T/big.tgz" big
i=0
while [ $i -lt 40 ]; do
	st --tenant flood prepare "f$i" >/dev/null
	i=$((i + 1))
done
st prepare fair >/dev/null
: >"$T/audit.log"
i=0
floods=''
while [ $i -lt 40 ]; do
	(exec "$STRATA" --address "$ADDR" --tenant flood apply "f$i" "$T/big.tgz" >/dev/null 2>&1) &
	floods="$floods $!"
	i=$((i + 1))
done
at_exit "kill $floods 2>/dev/null"
flood_done() { grep -c 'tenant=flood method=ApplyLayer .*code=OK' "$T/audit.log"; }
i=0
while [ "$(flood_done)" -lt 1 ] && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
before=$(flood_done)
st apply fair "$T/big.tgz" >/dev/null
after=$(awk '/tenant=containerd method=ApplyLayer key="fair"/ { print n + 0; exit }
	/tenant=flood method=ApplyLayer .*code=OK/ { n++ }' "$T/audit.log")
echo "     flood's applies done: $before when containerd's was sent, $after when it ended"
check "fair: containerd's one apply waited for the one job running when it came" test "$after" -le $((before + 2))
check "... while flood still had applies waiting" test "$after" -lt 40
# shellcheck disable=SC2086 # a list of pids
wait $floods
check "every one of flood's 40 applies completed" test "$(flood_done)" -eq 40

check "the daemon stops cleanly with limits" stop_stratad
summary
