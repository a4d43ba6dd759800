#!/bin/sh
# What an operator reads in the log: every line has a time (RFC 3339, UTC,
# milliseconds), or under systemd's journal a priority prefix instead; with
# log_format = json every line is one JSON object.  At the default level
# (info) the log has: a failed job (role, key, status, reason), a worker
# killed by seccomp (role, the syscall's name and number), a refused call,
# a limit reached, a restart of the broker; and a clean stop logs no kill,
# error or warning.
set -u
. "$(dirname "$0")/../lib.sh"
lib_init logs
ensure_user
need_tools python3
STRATA="$B/strata"
ADDR=$T/s.sock
st() { "$STRATA" --address "$ADDR" "$@"; }
logged() { grep -qE -- "$1" "$T/stratad.log" || { tail -n 5 "$T/stratad.log"; return 1; }; }
# Lines that do not start as the text format says.
TIME='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
HEAD='stratad(-broker|-spawner|-worker)?\[[0-9]+\]: (error|warning|info|debug): '
unset JOURNAL_STREAM

# Layers: one of 5 files (past extract_max_entries = 3), and one that is no
# layer at all.
mkdir -p "$T/five"
for i in 1 2 3 4 5; do printf '%s\n' "$i" >"$T/five/f$i"; done
tar -C "$T/five" -cf "$T/five.tar" .
head -c 4096 /dev/urandom >"$T/garbage.tar"

# ==== text, with the probe: failures, a seccomp kill, a limit, a restart ====
start_stratad "$T/root" "$ADDR" --enable-probe --extract-max-entries 3 --max-jobs 1 --max-queued-jobs 0 ||
	{ fail "daemon starts"; summary; exit 1; }

# ---- a failed job: role, key, status, reason ----
st prepare bad >/dev/null
if st apply bad "$T/garbage.tar" >/dev/null 2>&1; then fail "a garbage layer fails to apply"; fi
check "a failed apply is logged at info with role, key and status" \
	logged "info: job failed: .* job_role=extract status=[A-Za-z]+ snapshot=[0-9]+ key=bad$"

# ---- a limit: an extract limit is ResourceExhausted ----
st prepare many >/dev/null
if st apply many "$T/five.tar" >/dev/null 2>&1; then fail "a layer past extract_max_entries fails"; fi
check "a layer past a limit is logged as ResourceExhausted" \
	logged "info: job failed: .*max_entries.* status=ResourceExhausted .*key=many$"
check "... and the refused call is in the audit trail of the log" \
	logged "info: audit: .*method=ApplyLayer key=\"many\".* code=ResourceExhausted"

# ---- a limit: max_jobs busy and max_queued_jobs 0 ----
st prepare base >/dev/null
st debug probe usage close base --hold 3000 >/dev/null 2>&1 &
holder=$!
at_exit "kill $holder 2>/dev/null; wait $holder 2>/dev/null"
i=0
while [ "$i" -lt 50 ] && ! pgrep -f -- '--role=spawner' >/dev/null; do sleep 0.1; i=$((i + 1)); done
sleep 0.5
out=$(st debug probe usage close base 2>&1)
case $out in *ResourceExhausted*) pass "a job past max_queued_jobs is refused" ;; *) fail "a job past max_queued_jobs is refused" "$out" ;; esac
check "... and logged at info" logged "info: audit: .*method=Probe .*code=ResourceExhausted msg=\".*max_queued_jobs"
wait "$holder"

# ---- a worker killed by seccomp: the syscall's name and number ----
for spec in mount:ptrace:101 usage:mount:165; do
	role=${spec%%:*} rest=${spec#*:}
	sys=${rest%%:*} nr=${rest#*:}
	out=$(st debug probe "$role" "$sys" base 2>&1)
	case $out in
	*"it called $sys (syscall $nr)"*) pass "$role: the client's error names $sys" ;;
	*) fail "$role: the client's error names $sys" "$out" ;;
	esac
	check "$role: the spawner logs the killed worker, the call and its number" \
		logged "stratad-spawner\[[0-9]+\]: error: worker killed by seccomp: it called $sys \(syscall $nr\).* job_role=$role syscall=$sys nr=$nr"
	check "$role: the broker logs the failed job" \
		logged "stratad-broker\[[0-9]+\]: info: job failed: .*it called $sys \(syscall $nr\).* job_role=probe status=Internal"
done

# ---- an extract worker (stratad-worker, exec'ed) holds its report pipe ----
# Waiting, confined, for its input from a FIFO: fd 6 is the write end of a
# pipe.
mkfifo "$T/in.pipe"
st prepare slow >/dev/null
st apply slow - <"$T/in.pipe" >/dev/null 2>&1 &
applier=$!
exec 9>"$T/in.pipe"
at_exit "exec 9>&-; kill $applier 2>/dev/null; wait $applier 2>/dev/null"
i=0 w=''
while [ -z "$w" ] && [ "$i" -lt 50 ]; do
	w=$(pgrep -f -- '--role=worker' | head -n 1)
	[ -n "$w" ] && [ "$(awk '$1 == "Seccomp:" { print $2 }' "/proc/$w/status")" = 2 ] || { w=''; sleep 0.1; }
	i=$((i + 1))
done
if [ -n "$w" ]; then
	check "the extract worker has its report pipe on fd 6" sh -c "readlink /proc/$w/fd/6 | grep -q '^pipe:'"
	check "... write-only" sh -c "awk '\$1 == \"flags:\" { exit (\$2 % 4 == 1) ? 0 : 1 }' /proc/$w/fdinfo/6"
else
	fail "a confined extract worker found"
fi
exec 9>&-
wait "$applier" 2>/dev/null

# ---- a restart of the broker ----
broker=$(pgrep -P "$STRATAD_PID" -f -- '--role=broker' | head -n 1)
if [ -n "$broker" ]; then
	kill -KILL "$broker"
	i=0
	while [ "$i" -lt 100 ] && [ "$(grep -c 'serving gRPC' "$T/stratad.log")" -lt 2 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	check "a killed broker is logged as an error" logged "stratad\[[0-9]+\]: error: broker \(pid $broker\) killed by signal 9"
	check "... its restart is logged at info" logged "stratad\[[0-9]+\]: info: restarting the broker in"
	check "... and the new pair's start" logged "stratad\[[0-9]+\]: info: broker started, pid [0-9]+, spawner pid [0-9]+"
	check "... which serves" st stat base
else
	fail "broker process found"
fi

# ---- a clean stop ----
before=$(wc -l <"$T/stratad.log")
stop_stratad
tail -n +"$((before + 1))" "$T/stratad.log" >"$T/stop.log"
check "a clean stop is logged" grep -q 'info: stopped' "$T/stop.log"
check "... with no kill, error or warning" sh -c "! grep -E 'killed by signal|: (error|warning): ' '$T/stop.log'"
check "every line starts with an RFC 3339 time, the role, the pid and a level" \
	sh -c "! grep -vE '^$TIME $HEAD' '$T/stratad.log'"
mv "$T/stratad.log" "$T/text.log"

# ==== json: a refused call, a key no JSON string can hold as it is ====
start_stratad "$T/root" "$ADDR" --log-format json --max-connections 1 ||
	{ fail "json daemon starts"; summary; exit 1; }
out=$(st debug probe usage close base 2>&1)
case $out in *PermissionDenied*) pass "a probe is refused without enable_probe" ;; *) fail "probe refused" "$out" ;; esac
# A key with a quote, a backslash and control characters; a layer whose
# entry name is no UTF-8 (in the error; a JSON string holds U+FFFD).
key=$(printf 'q"uo\\te\tctl\001')
st prepare "$key" >/dev/null
python3 -c '
import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape")
i = tarfile.TarInfo("../\udcffname\x01")
i.size = 1
t.addfile(i, io.BytesIO(b"x"))
t.close()' "$T/evil.tar"
if st apply "$key" "$T/evil.tar" >/dev/null 2>&1; then fail "a layer with a hostile name fails to apply (json)"; fi
# max_connections: an apply waiting on its input holds the one connection.
st prepare slow >/dev/null
rm -f "$T/in.pipe"
mkfifo "$T/in.pipe"
st apply slow - <"$T/in.pipe" >/dev/null 2>&1 &
applier=$!
exec 9>"$T/in.pipe"
i=0
while [ "$i" -lt 50 ] && ! pgrep -f -- '--role=worker' >/dev/null; do sleep 0.1; i=$((i + 1)); done
if out=$(st ls 2>&1); then fail "a connection past max_connections is refused" "$out"; else pass "a connection past max_connections is refused"; fi
exec 9>&-
wait "$applier" 2>/dev/null
stop_stratad
cat >"$T/check.py" <<'EOF'
import json, sys
lines = open(sys.argv[1], "rb").read().decode("utf-8").splitlines()
found = {"refused": False, "failed": False, "replaced": False, "connections": False}
for n, line in enumerate(lines, 1):
    o = json.loads(line)
    for k in ("time", "level", "role", "pid", "msg"):
        assert k in o, "line %d has no %s: %s" % (n, k, line)
    assert o["level"] in ("error", "warning", "info", "debug"), line
    assert o["time"].endswith("Z") and len(o["time"]) == 24, line
    if "code=PermissionDenied" in o["msg"] and "method=Probe" in o["msg"]:
        found["refused"] = True
    if o["msg"].startswith("job failed") and o.get("job_role") == "extract":
        assert o["key"] == 'q"uo\\te\tctl\x01', repr(o["key"])
        assert o["status"] and o["snapshot"], line
        found["failed"] = True
    if o["level"] == "warning" and "connections refused" in o["msg"]:
        found["connections"] = True
    if "\ufffdname\x01" in o["msg"]:
        found["replaced"] = True
for k, v in found.items():
    assert v, "no %s line" % k
print("%d lines" % len(lines))
EOF
check "every json line parses and has time, level, role, pid, msg; the key is escaped" \
	python3 "$T/check.py" "$T/stratad.log"
mv "$T/stratad.log" "$T/json.log"

# ==== under the journal: priority prefixes, no time ====
: >"$T/stratad.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$T/stratad.log")
export JOURNAL_STREAM
start_stratad "$T/root" "$ADDR" || { fail "journal daemon starts"; summary; exit 1; }
st prepare gone >/dev/null
st rm gone
stop_stratad
unset JOURNAL_STREAM
check "under the journal every line starts with a priority prefix and no time" \
	sh -c "! grep -vE '^<[3467]>$HEAD' '$T/stratad.log'"
check "... info lines are <6>" grep -qE "^<6>stratad\[[0-9]+\]: info: stopped" "$T/stratad.log"

summary
