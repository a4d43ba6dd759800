#!/bin/sh
# Runs containerd's snapshotter test suite (snapshots/testsuite, containerd
# 1.6 from Debian's golang-github-containerd-containerd-dev) against stratad:
# tests/go/src/strata-tests/snapsuite starts one stratad per subtest and talks
# to it through containerd's proxy snapshotter client.
#
# Built offline in lib.sh's go_env.  Needs root (the suite mounts what the
# snapshotter returns).
set -u
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname -- "$0")/../lib.sh"

# The Go test runs in its package directory: give it an absolute path.
case $STRATAD in /*) ;; *) STRATAD=$PWD/$STRATAD ;; esac
export STRATAD

if [ "$(id -u)" -ne 0 ]; then
	echo "testsuite.sh: must run as root" >&2
	exit 1
fi
if [ ! -x "$STRATAD" ]; then
	echo "testsuite.sh: no stratad at $STRATAD (make all, or set STRATAD)" >&2
	exit 1
fi
ensure_user

lib_init testsuite
go_env
export TMPDIR="$T"

# -test.root: the suite's own guard (pkg/testutil.RequiresRoot) would skip, and
# a skipped suite must not look like a passing one.
cd "$REPO/tests/go/src/strata-tests/snapsuite" || exit 1
"${GO:-go}" test -count=1 -v -timeout 20m . -args -test.root >"$T/go-test.log" 2>&1
rc=$?
cat "$T/go-test.log"

echo "== containerd snapshotter suite against stratad"
# Leaf results only (a parent test passes or fails with its children).
np=$(grep -c '^ *--- PASS: TestStrata/' "$T/go-test.log")
nf=$(grep -c '^ *--- FAIL: TestStrata/' "$T/go-test.log")
ns=$(grep -c '^ *--- SKIP: TestStrata/' "$T/go-test.log")
grep -E '^ *--- (FAIL|SKIP): TestStrata/' "$T/go-test.log" | sed 's/^ */  /'
echo "$np passed, $nf failed, $ns skipped (go test exit $rc)"
if [ "$rc" -ne 0 ] || [ "$np" -eq 0 ]; then
	exit 1
fi
exit 0
