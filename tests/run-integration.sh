#!/bin/sh
# Runs every integration test against the real kernel, the built daemon and
# Debian's containerd, in a fixed order, and prints one summary line.
# Each test script cleans up after itself (daemons by pid, mounts, temp dirs).
set -u
cd "$(dirname "$0")/.."
order="cli privsep boundaries probe-broker unit recovery grpc-robustness apply-cli diff-cli diff-roundtrip mount holds jobs maximal commit-guard import-sandbox export-cli diff-apply apply-diff hostile testsuite containerd"
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
