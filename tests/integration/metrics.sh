#!/bin/sh
# Metrics and health: the Prometheus exposition on metrics_address (a unix
# socket, TCP, or a socket systemd passes) and from `strata metrics` parses
# strictly before and after a workload, and its counters move by what the
# workload did; the HTTP endpoint survives what a scraper should not send;
# grpc.health.v1 Check and `strata health` answer SERVING, and NOT_SERVING
# while the spawner or the parent does not answer.
set -u
. "$(dirname "$0")/../lib.sh"
lib_init metrics
ensure_user
need_tools go tar python3 setpriv
PY=/usr/bin/python3 # Debian's, which has python3-prometheus-client
STRATA="$B/strata"
ADDR=$T/s.sock
ROOT=$T/root
MSOCK=$T/metrics.sock
st() { "$STRATA" --address "$ADDR" "$@"; }

# http SOCKET-OR-HOST:PORT REQUEST-TEXT: the raw response (status line, head, body).
http()
{
	"$PY" - "$1" "$2" <<'PYEOF'
import socket, sys
where, req = sys.argv[1], sys.argv[2].encode().decode("unicode_escape").encode("latin-1")
if where.startswith("/"):
    s = socket.socket(socket.AF_UNIX)
    s.connect(where)
else:
    host, _, port = where.rpartition(":")
    s = socket.create_connection((host, int(port)))
s.settimeout(15)
s.sendall(req)
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.stdout.buffer.write(out)
PYEOF
}
# scrape WHERE OUT: GET /metrics, checked strictly, its samples as JSON in OUT.
scrape()
{
	http "$1" 'GET /metrics HTTP/1.1\r\nHost: strata\r\n\r\n' >"$T/resp" || return 1
	head -n 1 "$T/resp" | grep -q '^HTTP/1.1 200 ' || return 1
	grep -qi '^Content-Type: text/plain; version=0.0.4' "$T/resp" || return 1
	"$PY" -c 'import sys; d=open(sys.argv[1],"rb").read(); sys.stdout.buffer.write(d.split(b"\r\n\r\n",1)[1])' \
		"$T/resp" >"$T/body" || return 1
	"$PY" "$REPO/tests/tools/promcheck.py" <"$T/body" >"$2"
}
# val FILE SERIES: the sample's value (0 when absent), as an integer when it is one.
val()
{
	"$PY" -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2],0); print(int(v) if v==int(v) else v)' "$1" "$2"
}
# moved SERIES DELTA: the series went up by exactly DELTA from before.json to after.json.
moved()
{
	_a=$(val "$T/before.json" "$1") _b=$(val "$T/after.json" "$1")
	[ "$((_b - _a))" = "$2" ] || {
		echo "$1: $_a -> $_b, not +$2"
		return 1
	}
}
# is SERIES VALUE [FILE]: the sample (in after.json by default) has that value.
is() { [ "$(val "${3:-$T/after.json}" "$1")" = "$2" ] || { echo "$1 = $(val "${3:-$T/after.json}" "$1"), not $2"; return 1; }; }
SNAP='containerd.services.snapshots.v1.Snapshots'

# ---- a workload, its counters ------------------------------------------------
# One worker at a time and no queue: a second job while one runs is refused;
# a layer that moves no byte for 1 s is given up.
STRATAD_ARGS="--metrics-address $MSOCK --enable-probe --max-jobs 1 --max-queued-jobs 0 --job-idle-timeout 1"
start_stratad "$ROOT" "$ADDR" || { fail "daemon starts"; summary; exit 1; }
check "the metrics socket is there" test -S "$MSOCK"
check "a scrape of a fresh daemon parses strictly" scrape "$MSOCK" "$T/before.json"
check "its version is the daemon's" is "strata_build_info{version=$("$B/stratad" --version | cut -d' ' -f2)}" 1 "$T/before.json"

mkdir -p "$T/tree/d" && printf 'hello\n' >"$T/tree/d/f" && tar -C "$T/tree" -cf "$T/layer.tar" d
gzip -c "$T/layer.tar" >"$T/layer.tar.gz"
head -c 3000 /dev/urandom >"$T/junk.tar.gz"
workload()
{
	st prepare p1 "" >/dev/null && st prepare p2 "" >/dev/null && st prepare p3 "" >/dev/null || return 1
	! st stat nope1 >/dev/null 2>&1 && ! st stat nope2 >/dev/null 2>&1 || return 1
	st apply p1 "$T/layer.tar.gz" >/dev/null || return 1
	! st apply p2 "$T/junk.tar.gz" >/dev/null 2>&1 || return 1
	st commit c1 p1 >/dev/null && st rm p3 >/dev/null && st prepare p4 "" >/dev/null
}
check "the workload runs" workload
# A worker killed by its seccomp policy: the probe makes a call its role lacks.
check "a probe worker calls what its policy lacks" sh -c "! '$STRATA' --address '$ADDR' debug probe usage reboot p2 >/dev/null 2>&1"
# A layer that stalls: its job times out (job_idle_timeout 1 s); meanwhile
# a second apply finds no room (max_jobs 1, max_queued_jobs 0).
# Each apply starts once the one worker is where it should be: the probe's
# job frees its slot just after the CLI has its answer, and a fixed sleep
# lost both races on a loaded machine.
# running N: within 10 s, the daemon reports N jobs running.
running()
{
	_i=0
	while [ "$_i" -lt 100 ]; do
		scrape "$MSOCK" "$T/mid.json" && [ "$(val "$T/mid.json" 'strata_jobs_running{}')" = "$1" ] && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}
check "the probe's job is over" running 0
mkfifo "$T/fifo"
(exec 3<>"$T/fifo" && sleep 8) &
HOLDER=$!
at_exit "kill $HOLDER 2>/dev/null"
st apply p2 "$T/fifo" >"$T/stall.out" 2>&1 &
STALL=$!
check "the stalled apply holds the worker" running 1
check "a second job is refused while one runs" sh -c "'$STRATA' --address '$ADDR' apply p4 '$T/layer.tar' 2>&1 | grep -q 'no room'"
wait "$STALL"
check "the stalled apply timed out" grep -qi 'job_idle_timeout' "$T/stall.out"
kill "$HOLDER" 2>/dev/null
check "a scrape after the workload parses strictly" scrape "$MSOCK" "$T/after.json"
check "Prepare OK +4" moved "strata_calls_total{code=OK,method=Prepare,service=$SNAP}" 4
check "Stat NotFound +2" moved "strata_calls_total{code=NotFound,method=Stat,service=$SNAP}" 2
check "Commit OK +1" moved "strata_calls_total{code=OK,method=Commit,service=$SNAP}" 1
check "Remove OK +1" moved "strata_calls_total{code=OK,method=Remove,service=$SNAP}" 1
check "Prepare latency counted 4 more" moved "strata_call_duration_seconds_count{method=Prepare,service=$SNAP}" 4
check "extract ok +1" moved "strata_jobs_total{outcome=ok,role=extract}" 1
check "extract failed +1 (the junk layer)" moved "strata_jobs_total{outcome=failed,role=extract}" 1
check "extract timeout +1 (the stalled layer)" moved "strata_jobs_total{outcome=timeout,role=extract}" 1
check "extract refused +1 (no room)" moved "strata_jobs_total{outcome=refused,role=extract}" 1
check "seccomp kill +1, counted apart" moved "strata_jobs_total{outcome=seccomp_killed,role=usage}" 1
check "apply read the layer's bytes" moved "strata_layer_read_bytes_total{op=apply}" "$(stat -c %s "$T/layer.tar.gz")"
check "apply wrote its tar's bytes" moved "strata_layer_written_bytes_total{op=apply}" "$(stat -c %s "$T/layer.tar")"
check "worker peak RSS observed" sh -c "[ \$('$PY' -c 'import json,sys; print(int(json.load(open(sys.argv[1]))[\"strata_worker_peak_rss_bytes_count{role=extract}\"]))' '$T/after.json') -ge 3 ]"
check "snapshots by kind: 1 committed" is "strata_snapshots{kind=committed,tenant=containerd}" 1
check "snapshots by kind: 2 active (p2, p4)" is "strata_snapshots{kind=active,tenant=containerd}" 2
check "metadata commits timed" sh -c "[ \$('$PY' -c 'import json,sys; print(int(json.load(open(sys.argv[1]))[\"strata_metadata_commit_duration_seconds_count{}\"]))' '$T/after.json') -gt 0 ]"
check "metadata size is known" sh -c "[ \$('$PY' -c 'import json,sys; print(int(json.load(open(sys.argv[1]))[\"strata_metadata_size_bytes{}\"]))' '$T/after.json') -gt 0 ]"
check "no job queued or running now" is "strata_jobs_queued{}" 0

# `strata metrics` prints the same families.
families() { grep '^# TYPE' | sort; }
check "strata metrics parses strictly" sh -c "'$STRATA' --address '$ADDR' metrics | '$PY' '$REPO/tests/tools/promcheck.py' >/dev/null"
st metrics | families >"$T/cli.fam"
http "$MSOCK" 'GET /metrics HTTP/1.0\r\n\r\n' | families >"$T/http.fam"
check "strata metrics shows what /metrics shows" cmp "$T/cli.fam" "$T/http.fam"

# ---- what a scraper should not send -------------------------------------------
status_is() { http "$MSOCK" "$1" | head -n 1 | grep -q "^HTTP/1.1 $2 "; }
check "/ is 404" status_is 'GET / HTTP/1.1\r\n\r\n' 404
check "POST is 405" status_is 'POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n' 405
check "garbage is 400" status_is 'hello there\r\n\r\n' 400
check "HTTP/2 preface is 400" status_is 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' 400
check "a 9 KiB head is 431" status_is "GET /metrics HTTP/1.1\\r\\nX: $(head -c 9000 /dev/zero | tr '\0' a)\\r\\n\\r\\n" 431
head_only() { http "$MSOCK" 'HEAD /metrics HTTP/1.1\r\n\r\n' >"$T/head.out" && grep -q '^HTTP/1.1 200' "$T/head.out" && ! grep -q '^# HELP' "$T/head.out"; }
check "HEAD is 200 without the body" head_only
# Slots: 16 silent connections hold them all; a 17th is closed at once;
# the silent ones are closed at the deadline (10 s), and scrapes go on.
"$PY" - "$MSOCK" >"$T/slots.out" 2>&1 <<'PYEOF' &
import socket, sys, time
held = []
for i in range(16):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); held.append(s)
time.sleep(0.5)
extra = socket.socket(socket.AF_UNIX); extra.connect(sys.argv[1]); extra.settimeout(5)
print("extra-closed" if extra.recv(1) == b"" else "extra-open")
t = time.time()
for s in held:
    s.settimeout(15)
    if s.recv(1) != b"":
        print("held-got-data")
print("held-closed-after %.0f" % (time.time() - t))
PYEOF
SLOTS=$!
wait "$SLOTS"
check "a connection past the slots is closed at once" grep -q extra-closed "$T/slots.out"
check "silent connections are closed by the deadline" grep -q 'held-closed-after' "$T/slots.out"
check "scrapes go on after all that" scrape "$MSOCK" "$T/after2.json"

# ---- health -----------------------------------------------------------------------
check "healthcheck builds" go_build strata-tests/healthcheck
HC="$T/bin/healthcheck"
says() { _want=$1; shift; "$@" >"$T/out" 2>&1; grep -q "$_want" "$T/out" || { cat "$T/out"; return 1; }; }
check "gRPC Check: SERVING" says '^SERVING$' "$HC" -address "$ADDR"
check "gRPC Check of the snapshots service: SERVING" says '^SERVING$' "$HC" -address "$ADDR" -service "$SNAP"
check "gRPC Check of an unknown service: NotFound" says '^NotFound' "$HC" -address "$ADDR" -service nope
check "gRPC Watch: Unimplemented" says '^Unimplemented' "$HC" -address "$ADDR" -watch
check "strata health: SERVING, exit 0" says '^SERVING$' st health
check "strata --json health" says '"status":"SERVING"' st --json health
# Checks share rounds: 40 of them in a row cost a write or three, not 40.
commits() { "$STRATA" --address "$ADDR" metrics | awk '$1 == "strata_metadata_commit_duration_seconds_count" { print $2 }'; }
many_checks()
{
	_c0=$(commits)
	for _i in $(seq 40); do "$STRATA" --address "$ADDR" health >/dev/null || return 1; done
	_c1=$(commits)
	echo "metadata commits: $_c0 -> $_c1"
	[ $((_c1 - _c0)) -le 4 ]
}
check "40 health checks in a row write the store a few times only" many_checks
child() { ps -o pid= -o comm= --ppid "$STRATAD_PID" | awk -v c="$1" '$2 == c { print $1 }'; }
SPAWNER=$(child stratad-spawner)
check "the spawner is found" test -n "$SPAWNER"
kill -STOP "$SPAWNER"
at_exit "kill -CONT $SPAWNER 2>/dev/null"
sleep 1.2 # past the cached answer
check "spawner stopped: strata health NOT_SERVING, exit 1" sh -c "! '$STRATA' --address '$ADDR' health >'$T/h.out'; cat '$T/h.out'; grep -q '^NOT_SERVING' '$T/h.out' && grep -q 'spawner' '$T/h.out'"
check "spawner stopped: gRPC Check NOT_SERVING" says '^NOT_SERVING$' "$HC" -address "$ADDR"
kill -CONT "$SPAWNER"
sleep 1.2
check "spawner back: SERVING" says '^SERVING$' st health
kill -STOP "$STRATAD_PID"
sleep 1.2
check "parent stopped: NOT_SERVING naming it" sh -c "! '$STRATA' --address '$ADDR' health >'$T/h.out'; grep -q 'parent' '$T/h.out'"
kill -CONT "$STRATAD_PID"
sleep 1.2
check "parent back: SERVING" says '^SERVING$' st health
check "the change is logged" grep -q 'health: NOT_SERVING: the spawner' "$T/stratad.log"
check "the daemon still serves calls" sh -c "'$STRATA' --address '$ADDR' ls | grep -q c1"
stop_stratad
check "its metrics socket is gone after a stop" test ! -e "$MSOCK"

# ---- a tenant may not read them -----------------------------------------------------
cat >"$T/tenants.conf" <<EOF
socket_mode = 0666
[tenant t1]
uids = 65534
EOF
STRATAD_ARGS="--config $T/tenants.conf"
start_stratad "$ROOT" "$ADDR" || fail "daemon starts with a tenant"
check "a tenant's strata metrics is refused" sh -c "! setpriv --reuid 65534 --regid 65534 --clear-groups '$STRATA' --address '$ADDR' metrics 2>'$T/t.err'; grep -qi 'permission\|only root' '$T/t.err'"
check "and its own snapshots count under its name" sh -c "setpriv --reuid 65534 --regid 65534 --clear-groups '$STRATA' --address '$ADDR' prepare mine '' >/dev/null && '$STRATA' --address '$ADDR' metrics | grep -q 'strata_snapshots{tenant=\"t1\",kind=\"active\"} 1'"
stop_stratad

# ---- TCP, and sockets from systemd ---------------------------------------------------
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
STRATAD_ARGS="--metrics-address 127.0.0.1:$PORT"
start_stratad "$ROOT" "$ADDR" || fail "daemon starts with a TCP metrics address"
check "a scrape over TCP parses strictly" scrape "127.0.0.1:$PORT" "$T/tcp.json"
check "it counts the snapshots in the store" is "strata_snapshots{kind=committed,tenant=containerd}" 1 "$T/tcp.json"
stop_stratad
STRATAD_ARGS=''
rm -f "$ADDR" "$ADDR.fd" "$MSOCK"
# Three sockets as strata.socket passes them: gRPC, native, metrics, the
# last served though metrics_address is not set.
activated()
{
	(umask 0077 && exec "$PY" "$REPO/tests/tools/sdactivate.py" "stream:$ADDR" "seqpacket:$ADDR.fd" "stream:$MSOCK" -- \
		"$B/stratad" --root "$ROOT" --address "$ADDR" --user "$STRATA_USER") \
		>>"$T/stratad.log" 2>&1 &
	STRATAD_PID=$!
	for _i in $(seq 100); do
		grep -q 'metrics on' "$T/stratad.log" && return 0
		sleep 0.1
	done
	return 1
}
: >"$T/stratad.log"
check "stratad takes three sockets from socket activation" activated
check "the passed metrics socket is served" scrape "$MSOCK" "$T/sd.json"
check "the passed gRPC socket is served" says '^SERVING$' "$HC" -address "$ADDR"
stop_stratad
check "systemd's socket files are left to systemd" test -S "$MSOCK"

summary
