# Shared helpers for strata's integration tests (POSIX sh; source it, do not run it).
#
#   . "$(dirname "$0")/../lib.sh"
#   lib_init NAME            temp dir $T (mode 0711) + EXIT/INT/TERM trap that runs the
#                            at_exit commands (last registered first), unmounts whatever is
#                            left under $T and removes $T
#   at_exit 'CMD'            register a cleanup command (runs even when the test fails)
#   ensure_user              create the broker account $STRATA_USER if it is missing
#   need_tools TOOL...       fail and end the test unless every TOOL is on the PATH (the
#                            Makefile's DEB_PACKAGES has them: `make deps` installs them)
#   start_stratad ROOT ADDR [FLAGS...]
#                            start $STRATAD in the background (log in $T/stratad.log), wait
#                            until it says it serves; sets STRATAD_PID; stopped on exit
#   stop_stratad             SIGTERM $STRATAD_PID, wait (kill after 10 s); returns its status
#   wait_socket PATH [SECS] [PID]   wait until PATH is a socket (and PID is alive)
#   umount_under DIR         unmount every mount at or below DIR, deepest first
#   pass NAME / fail NAME [WHY] / check NAME CMD...  count results (after lib_init)
#   summary                  print `N passed, M failed`; returns 1 if any failed
#   go_build PKG...          build the Go programs PKG (strata-tests/NAME, strata-bench/NAME)
#                            into $T/bin/NAME, offline: GOPATH mode over tests/go,
#                            tests/bench/go and Debian's /usr/share/gocode (containerd 1.6
#                            from golang-github-containerd-containerd-dev); on failure shows
#                            the build's last lines and returns 1
#   go_env                   export that environment (for `go test`)
#   containerd_config FILE   a private containerd 1.6 configuration: root, state,
#                            opt and the sockets ($T/containerd.sock, .ttrpc) under $T,
#                            the CRI plugin off; append sections to FILE
#
# Environment: REPO (default: two levels above the script), B (build dir, as in the
# Makefile; default build), STRATAD (default $B/stratad), STRATA_USER (default strata),
# STRATAD_ARGS (extra daemon flags), STRATA_UMASK (default 0077), KEEP=1 keeps $T,
# GO (the go command, default go; its build cache is $B/gocache, so HOME may be unset).

REPO=${REPO:-$(cd "$(dirname -- "${0}")/../.." && pwd)}
B=${B:-build}
case $B in /*) ;; *) B=$REPO/$B ;; esac
STRATAD=${STRATAD:-$B/stratad}
STRATA_USER=${STRATA_USER:-strata}
export REPO B STRATAD STRATA_USER

_lib_passed=0
_lib_failed=0
_lib_atexit=''
STRATAD_PID=''

lib_init()
{
	T=$(mktemp -d "${TMPDIR:-/tmp}/strata-$1.XXXXXX") || exit 1
	# The broker runs unprivileged and must traverse to its state under $T.
	chmod 0711 "$T"
	export T
	trap '_lib_cleanup' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

at_exit()
{
	_lib_atexit="$1
$_lib_atexit"
}

_lib_cleanup()
{
	_lib_rc=$?
	trap - EXIT
	# A here-document, not a pipe: the commands run in this shell, so they can
	# wait for its children.
	while IFS= read -r _lib_cmd; do
		[ -n "$_lib_cmd" ] && eval "$_lib_cmd" </dev/null
	done <<EOF
$_lib_atexit
EOF
	if [ -n "$STRATAD_PID" ]; then
		stop_stratad >/dev/null 2>&1
	fi
	if [ -n "${T:-}" ] && [ -d "$T" ]; then
		umount_under "$T"
		if [ "${KEEP:-0}" = 1 ]; then
			echo "kept $T" >&2
		else
			rm -rf "$T"
		fi
	fi
	exit "$_lib_rc"
}

ensure_user()
{
	sh "$REPO/systemd/ensure-user.sh" "$STRATA_USER" >/dev/null
}

need_tools()
{
	_lib_missing=''
	for _lib_tool in "$@"; do
		command -v "$_lib_tool" >/dev/null 2>&1 || _lib_missing="$_lib_missing $_lib_tool"
	done
	[ -n "$_lib_missing" ] || return 0
	fail "the tools the test uses are installed" "missing:$_lib_missing (make deps)"
	summary
	exit 1
}

# Deepest first (reverse of findmnt's tree order); a lazy unmount as the last resort.
umount_under()
{
	findmnt -rn -o TARGET | awk -v d="$1" '$0 == d || index($0, d "/") == 1' | sort -r |
		while IFS= read -r _lib_m; do
			umount "$_lib_m" 2>/dev/null || umount -l "$_lib_m" 2>/dev/null ||
				echo "lib.sh: cannot unmount $_lib_m" >&2
		done
}

wait_socket()
{
	_lib_i=0
	while [ "$_lib_i" -lt "$((${2:-10} * 10))" ]; do
		[ -S "$1" ] && return 0
		if [ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null; then
			return 1
		fi
		sleep 0.1
		_lib_i=$((_lib_i + 1))
	done
	return 1
}

# Ready means the parent logged `stratad: serving gRPC on ...`, which it does
# once the broker has told it it is ready (the sockets alone exist earlier).
start_stratad()
{
	_lib_root=$1 _lib_addr=$2
	shift 2
	# Under strata.service's umask (0077): the daemon must set the modes it means.
	# shellcheck disable=SC2086 # STRATAD_ARGS is a list of flags
	(umask "${STRATA_UMASK:-0077}" && exec "$STRATAD" --root "$_lib_root" --address "$_lib_addr" --user "$STRATA_USER" \
		${STRATAD_ARGS:-} "$@") >>"$T/stratad.log" 2>&1 &
	STRATAD_PID=$!
	_lib_i=0
	while [ "$_lib_i" -lt 100 ]; do
		if ! kill -0 "$STRATAD_PID" 2>/dev/null; then
			echo "lib.sh: stratad exited before serving; log:" >&2
			tail -n 30 "$T/stratad.log" >&2
			wait "$STRATAD_PID" 2>/dev/null
			STRATAD_PID=''
			return 1
		fi
		if [ -S "$_lib_addr" ] && grep -q 'serving gRPC' "$T/stratad.log"; then
			return 0
		fi
		sleep 0.1
		_lib_i=$((_lib_i + 1))
	done
	echo "lib.sh: stratad did not serve on $_lib_addr within 10 s; log:" >&2
	tail -n 30 "$T/stratad.log" >&2
	return 1
}

stop_stratad()
{
	[ -n "$STRATAD_PID" ] || return 0
	kill -TERM "$STRATAD_PID" 2>/dev/null
	_lib_i=0
	while kill -0 "$STRATAD_PID" 2>/dev/null && [ "$_lib_i" -lt 100 ]; do
		sleep 0.1
		_lib_i=$((_lib_i + 1))
	done
	if kill -0 "$STRATAD_PID" 2>/dev/null; then
		echo "lib.sh: stratad pid $STRATAD_PID ignored SIGTERM for 10 s, killing" >&2
		kill -KILL "$STRATAD_PID" 2>/dev/null
	fi
	wait "$STRATAD_PID"
	_lib_src=$?
	STRATAD_PID=''
	return "$_lib_src"
}

pass()
{
	_lib_passed=$((_lib_passed + 1))
	echo "ok   $1"
}

fail()
{
	_lib_failed=$((_lib_failed + 1))
	echo "FAIL $1${2:+: $2}"
}

# check NAME CMD...: passes when CMD exits 0; shows CMD's output when it fails.
# CMD runs in this shell (not a subshell), so it may stop and wait for children.
check()
{
	_lib_name=$1
	shift
	if "$@" >"$T/.check.out" 2>&1; then
		pass "$_lib_name"
	else
		fail "$_lib_name" "exit $?"
		tail -n 20 "$T/.check.out" | sed 's/^/     | /'
	fi
}

summary()
{
	echo "$_lib_passed passed, $_lib_failed failed"
	[ "$_lib_failed" -eq 0 ]
}

go_env()
{
	GO111MODULE=off GOFLAGS='' GOPATH="$REPO/tests/go:$REPO/tests/bench/go:/usr/share/gocode"
	GOCACHE=$B/gocache
	export GO111MODULE GOFLAGS GOPATH GOCACHE
	mkdir -p "$GOCACHE"
}

containerd_config()
{
	cat >"$1" <<EOF
version = 2
root = "$T/containerd-root"
state = "$T/containerd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "$T/containerd.sock"
[ttrpc]
  address = "$T/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$T/containerd-opt"
EOF
}

go_build()
{
	go_env
	mkdir -p "$T/bin"
	if ! "${GO:-go}" build -o "$T/bin/" "$@" >"$T/go-build.log" 2>&1; then
		echo "go build $*:" >&2
		tail -n 20 "$T/go-build.log" | sed 's/^/     | /' >&2
		return 1
	fi
}
