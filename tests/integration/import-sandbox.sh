#!/bin/sh
# `strata import` parses the untrusted archive only in confined parser
# processes (client/import_parser.c), never in the CLI, which often runs as
# root.  Against a real daemon: a parser caught mid-import (strace holds its
# first write for 2 s) runs as 65534 with no capability, no_new_privs, a
# seccomp filter and only its fds 3-5, while the import still completes; a
# parser killed with SIGSYS fails the import with a message saying so and
# leaves no temporary snapshot; an archive with UTF-8 names in pax headers
# (glibc's iconv looks for its modules under the filter) and a
# gzip-compressed archive import; an index.json at every limit of the JSON
# reader (client/oci_json.h) imports, one beyond a limit or malformed is
# refused with the reason; an archive that libarchive would decompress
# by running an external program (lrzip) is refused without running it, and
# an xz-compressed one is refused too; a FIFO is refused at once.
# lib.sh stops the daemon by pid and removes the temp dir on exit.
set -u
. "$(dirname -- "$0")/../lib.sh"
. "$(dirname "$0")/../cli-lib.sh"
lib_init import-sandbox
need_tools strace python3
ensure_user
STRATA=${STRATA:-$B/strata}
ADDR=$T/s.sock
start_stratad "$T/root" "$ADDR" || { fail "daemon starts"; summary; exit 1; }

field() { awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "/proc/$1/status" 2>/dev/null; }
no_temp_snapshots() {
	if st ls | grep -q '^import-'; then fail "$1" "$(st ls)"; else pass "$1"; fi
}
sh "$REPO/tests/fixtures/make-busybox-oci.sh" "$T/bb.tar" >/dev/null || { fail "fixture"; summary; exit 1; }
# One layer: the chain ID is the diff ID, sha256sum of the gunzipped blob.
layer=$(tar -tf "$T/bb.tar" | while read -r n; do
	case $n in blobs/sha256/?*) tar -xOf "$T/bb.tar" "$n" | gzip -t 2>/dev/null && echo "$n" ;; esac
done)
chain=sha256:$(tar -xOf "$T/bb.tar" "$layer" | gzip -dc | sha256sum | cut -d' ' -f1)

# caught_import ARGS: `strata import ARGS` under strace, which holds each
# process's first write for 2 s: a parser is held right after parsing, when
# it sends its first record, confined.  Sets tracer and parser (a pid, or
# empty when no child of the CLI showed up within 10 s).  LeakSanitizer
# cannot scan a traced process: the sanitizer build's CLI runs without it.
caught_import() {
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq -o /dev/null -e trace=write -e inject=write:delay_enter=2s:when=1 \
		"$STRATA" --address "$ADDR" import "$@" >"$T/out" 2>"$T/err" &
	tracer=$!
	at_exit "kill $tracer 2>/dev/null; wait $tracer 2>/dev/null"
	parser=''
	i=0
	while [ -z "$parser" ] && [ $i -lt 100 ]; do
		cli=$(pgrep -P "$tracer" | head -n 1)
		for p in $(pgrep -P "${cli:-0}"); do
			[ "$(field "$p" Seccomp)" = 2 ] && parser=$p
		done
		[ -n "$parser" ] || sleep 0.1
		i=$((i + 1))
	done
}

# ---- a parser caught mid-import ----
caught_import "$T/bb.tar"
if [ -n "$parser" ]; then
	pass "the CLI forks a parser"
	same "... which runs as nobody" "$(field "$parser" Uid)" "65534 65534 65534 65534"
	same "... in nogroup" "$(field "$parser" Gid)" "65534 65534 65534 65534"
	same "... with no supplementary group" "$(field "$parser" Groups | tr -d ' ')" ""
	same "... no effective capability" "$(field "$parser" CapEff)" 0000000000000000
	same "... no permitted capability" "$(field "$parser" CapPrm)" 0000000000000000
	same "... an empty bounding set" "$(field "$parser" CapBnd)" 0000000000000000
	same "... no_new_privs" "$(field "$parser" NoNewPrivs)" 1
	same "... a seccomp filter" "$(field "$parser" Seccomp)" 2
	same "... only the archive and its result socket" "$(ls /proc/"$parser"/fd | sort -n | tr '\n' ' ')" "3 4 "
	same "... the archive read-only" "$(stat -L -c %i /proc/"$parser"/fd/3) $(awk '$1 == "flags:" { print substr($2, length($2)) % 4 }' /proc/"$parser"/fdinfo/3)" \
		"$(stat -c %i "$T/bb.tar") 0"
else
	fail "the CLI forks a parser" "no child of the CLI with a seccomp filter: $(cat "$T/err")"
fi
wait "$tracer"
rc=$?
expect_rc "... and the import completes" 0
out_is "... printing the chain ID" "$chain"

# ---- a parser that dies ----
st rm "$chain" >/dev/null
caught_import "$T/bb.tar"
if [ -n "$parser" ]; then
	kill -SYS "$parser"
	wait "$tracer"
	rc=$?
	expect_rc "an import whose parser is killed by SIGSYS fails" 1
	err_has "... saying the parser was killed by SIGSYS" "was killed by SIGSYS"
	no_temp_snapshots "... leaving no temporary snapshot"
	run st stat "$chain"
	expect_rc "... and committing nothing" 3
else
	fail "a parser to kill" "$(cat "$T/err")"
fi

# ---- archives that import: UTF-8 pax names, gzip ----
python3 "$REPO/tests/fixtures/with-pax-names.py" "$T/bb.tar" "$T/utf8.tar"
run st import "$T/utf8.tar"
expect_rc "an archive with UTF-8 names in pax headers imports" 0
out_is "... the same chain ID" "$chain"
st rm "$chain" >/dev/null
gzip -c "$T/bb.tar" >"$T/bb.tar.gz"
run st import "$T/bb.tar.gz"
expect_rc "a gzip-compressed archive imports" 0
out_is "... the same chain ID" "$chain"

# ---- index.json at and beyond the JSON limits ----
# json_index KIND OUT: bb.tar with its index.json made KIND: max is a
# document at every limit of client/oci_json.h at once (nesting 64 deep,
# 200000 values, 4 MiB less one byte, 100000 keys in one object, int64's
# extremes, reals of 5000 digits and beyond double's range, a long string of
# every escape and raw UTF-8); deeper, more and bigger exceed one limit by
# one; dup, utf8 and trailing are malformed.
json_index() {
	python3 - "$T/bb.tar" "$1" "$2" <<'PY'
import io, json, sys, tarfile
src, kind, out = sys.argv[1:]
tin = tarfile.open(src)
index = json.load(tin.extractfile("index.json"))

def count(v):
    kids = v.values() if isinstance(v, dict) else v if isinstance(v, list) else []
    return 1 + sum(count(k) for k in kids)

def at_limits(depth=64, values=200000, size=(4 << 20) - 1):
    o = dict(index)
    deep = 1
    for i in range(depth - 1):  # the document is the first level
        deep = [deep] if i % 2 else {"k": deep}
    o["deep"] = deep
    o["ints"] = [2**63 - 1, -2**63, 0]
    o["keys"] = {"k%06d" % i: 2**63 - 1 - i for i in range(100000)}
    o["reals"] = "REALS"  # one value here, five in the document
    o["text"] = "TEXT"
    o["list"] = []
    o["list"] = [0] * (values - count(o) - 4)
    t = json.dumps(o, separators=(",", ":")).encode()
    reals = "[1.7976931348623157e308,-4.9e-324,1e-400,0.%s]" % ("1234567890" * 500)
    t = t.replace(b'"REALS"', reals.encode())
    unit = '\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00 \u00e9\u20ac\U0001f600 '.encode()
    fill = size - len(t) + len(b"TEXT")
    text = unit * (fill // len(unit)) + b"x" * (fill % len(unit))
    return t.replace(b"TEXT", text, 1)

small = json.dumps(index, separators=(",", ":")).encode()
doc = {
    "max": lambda: at_limits(),
    "deeper": lambda: at_limits(depth=65),
    "more": lambda: at_limits(values=200001),
    "bigger": lambda: at_limits(size=4 << 20),
    "dup": lambda: b'{"schemaVersion":2,' + small[1:],
    "utf8": lambda: small[:-1] + b',"x":"\xed\xa0\x80"}',
    "trailing": lambda: small + b"x",
}[kind]()
with tarfile.open(out, "w") as tout:
    for m in tin.getmembers():
        data = tin.extractfile(m).read() if m.isfile() else None
        if m.name == "index.json":
            data = doc
            m.size = len(doc)
        tout.addfile(m, io.BytesIO(data) if data is not None else None)
PY
}
st rm "$chain" >/dev/null
json_index max "$T/json-max.tar"
run st import "$T/json-max.tar"
expect_rc "an index.json at every JSON limit at once imports" 0
out_is "... the same chain ID" "$chain"
for c in "deeper|nesting deeper than the limit of 64" "more|more values than the limit of 200000" \
	"bigger|is larger than 4194304 bytes" "dup|duplicate object key" "utf8|unable to decode byte 0xed" \
	"trailing|end of file expected"; do
	kind=${c%%|*}
	json_index "$kind" "$T/json-$kind.tar"
	run st import "$T/json-$kind.tar"
	expect_rc "index.json $kind: refused" 1
	err_has "... by the parser, saying why" "${c#*|}"
done
no_temp_snapshots "refused JSON leaves no temporary snapshot"

# ---- archives that are refused ----
# libarchive reads lrzip only by running `lrzip -d`: a fake one on PATH
# records that it ran (and would hand back the real archive).
mkdir -p "$T/bin"
cat >"$T/bin/lrzip" <<EOF
#!/bin/sh
id -u >"$T/lrzip-ran"
cat "$T/bb.tar"
EOF
chmod 0755 "$T/bin/lrzip"
{ printf 'LRZI\000\006'; head -c 1018 /dev/zero; } >"$T/bb.tar.lrz"
run env PATH="$T/bin:$PATH" "$STRATA" --address "$ADDR" import "$T/bb.tar.lrz"
expect_rc "an lrzip archive is refused" 1
err_has "... saying which forms import reads" "tar or gzip-compressed tar only"
if [ -e "$T/lrzip-ran" ]; then
	fail "... and no external program ran" "lrzip ran as uid $(cat "$T/lrzip-ran")"
else
	pass "... and no external program ran"
fi
python3 -c 'import lzma, sys; sys.stdout.buffer.write(lzma.compress(open(sys.argv[1], "rb").read()))' \
	"$T/bb.tar" >"$T/bb.tar.xz"
run st import "$T/bb.tar.xz"
expect_rc "an xz-compressed archive is refused" 1
err_has "... saying which forms import reads" "tar or gzip-compressed tar only"
mkfifo "$T/fifo"
run timeout 10 "$STRATA" --address "$ADDR" import "$T/fifo"
expect_rc "a FIFO is refused at once" 1
err_has "... as not a regular file" "is not a regular file"
no_temp_snapshots "refused archives leave no temporary snapshot"
check "the daemon still serves" st ls
summary
