#!/bin/sh
# Runs every integration test against the real kernel, the built daemon and
# Debian's containerd, in a fixed order, and prints one summary line.
# Each test script cleans up after itself (daemons by pid, mounts, temp dirs).
set -u
cd "$(dirname "$0")/.."
# One suite per line, so that a suite added by one change and one added by
# another do not touch the same line.
order="
	cli
	cli-conventions
	privsep
	boundaries
	probe-broker
	unit
	install
	deb
	recovery
	logs
	fsck
	crash
	full-disk
	grpc-robustness
	conn-limits
	apply-cli
	diff-cli
	diff-roundtrip
	mount
	holds
	docs
	metrics
	tenants
	jobs
	maximal
	load
	commit-guard
	apply-faults
	import-sandbox
	export-cli
	diff-service
	apply-vs-containerd
	parallel-import
	hostile
	testsuite
	containerd
"
# Suites named as arguments run instead of all (make check's sanitized pass).
[ $# -eq 0 ] || order=$*
passed=0
failed=0
failed_names=""
for name in $order; do
	t=tests/integration/$name.sh
	[ -f "$t" ] || { echo "missing integration test $t"; failed=$((failed + 1)); continue; }
	echo "=== integration: $name"
	if bash "$t"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failed_names="$failed_names $name"
	fi
done
[ -z "$failed_names" ] || echo "failed integration tests:$failed_names"
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
