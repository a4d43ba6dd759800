#!/bin/sh
# Runs strata's libFuzzer targets one after another (Makefile: fuzzing), each
# for SECONDS from its seeds (tests/fuzz/corpus/NAME) and from what earlier
# runs kept (FZ/corpus/NAME).  A target's output goes to FZ/NAME.log; one
# line sums up a clean run.  The first finding (a crash, leak, sanitizer
# report or timeout) stops the run: its report is printed and its input is in
# FZ/crash/.  Every clean run adds a line to FZ/fuzzed (target, seconds).
# Usage: sh tests/fuzz/run.sh FZ SECONDS TARGET...
set -u
fz=$1
secs=$2
shift 2
mkdir -p "$fz/crash"
export UBSAN_OPTIONS=print_stacktrace=1
export LSAN_OPTIONS="suppressions=$(pwd)/tests/fuzz/lsan.supp:print_suppressions=0"
for t in "$@"; do
	# The extract target's layers are larger than the others' inputs.
	max_len=16384
	[ "$t" = extract ] && max_len=65536
	# Whole stacks for the one suppressed leak (lsan.supp).
	asan=
	[ "$t" = policy ] && asan=fast_unwind_on_malloc=0
	mkdir -p "$fz/corpus/$t"
	if ! ASAN_OPTIONS="$asan" "$fz/fuzz_$t" -max_total_time="$secs" -max_len="$max_len" -timeout=25 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$fz/crash/$t-" \
		"$fz/corpus/$t" "tests/fuzz/corpus/$t" >"$fz/$t.log" 2>&1; then
		tail -n 80 "$fz/$t.log"
		echo "fuzz $t: a finding after at most $secs s (the input is in $fz/crash/, the log $fz/$t.log)"
		exit 1
	fi
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$fz/$t.log")
	cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$fz/$t.log" | tail -n 1)
	echo "fuzz $t: $secs s, $runs inputs, $cov, nothing found"
	echo "$t $secs" >>"$fz/fuzzed"
done
