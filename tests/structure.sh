#!/bin/sh
# The tree's boundaries, as `make check` keeps them (README: Layout).
#   includes: a folder is a process and its privilege; what crosses between
#     processes lives in proto/, shared plumbing in common/.  The root side
#     (parent/) includes nothing of the broker's, the broker nothing of the
#     root side's or the workers', and proto/, common/ and client/ nothing of
#     any process's.
#   libraries: stratad (the root parent) maps none of the libraries that read
#     untrusted bytes or serve clients; the broker none of the layer
#     codecs'; those are why the three are separate binaries.
#   calls: no binary binds glibc's qsort (common/sort.h says why).
# Usage: sh tests/structure.sh [BUILD_DIR]   (prints each breach; exit 1 if any)
set -u
cd "$(dirname "$0")/.." || exit 2
B=${1:-${B:-build}}
bad=0
breach() {
	echo "structure: $*"
	bad=1
}

# FOLDER FORBIDDEN...: no file of FOLDER includes "../F/..." for a forbidden F.
no_includes() {
	_dir=$1
	shift
	for _f in "$@"; do
		grep -n "#include \"\\.\\./$_f/" "$_dir"/*.c "$_dir"/*.h 2>/dev/null |
			while IFS= read -r _l; do echo "$_l"; done
	done
}
check_includes() {
	_out=$(no_includes "$@")
	[ -z "$_out" ] || breach "$1/ includes across its boundary:
$_out"
}
check_includes parent broker client
check_includes broker parent worker client
check_includes worker broker client
check_includes proto broker parent worker client
check_includes common broker parent worker client
check_includes client broker parent worker

# BINARY FORBIDDEN-LIBRARY...: the binary does not need any of them.
check_libs() {
	_bin=$B/$1
	shift
	[ -x "$_bin" ] || { breach "no $_bin (make all)"; return; }
	_needed=$(readelf -d "$_bin" | awk '/NEEDED/ { gsub(/[][]/, "", $5); print $5 }')
	for _lib in "$@"; do
		echo "$_needed" | grep -q "^$_lib" && breach "$1 needs $_lib"
	done
	return 0
}
untrusted_bytes='libarchive libcrypto libzstd libisal libdeflate'
client_facing='libprotobuf-c libnghttp2 liblmdb'
# shellcheck disable=SC2086 # lists of library names
check_libs stratad $untrusted_bytes $client_facing
# shellcheck disable=SC2086
check_libs stratad-broker $untrusted_bytes

# BINARY...: none binds glibc's qsort, which may call sysinfo, a call no
# confined process's policy allows (common/sort.h sorts instead).
check_no_qsort() {
	for _b in "$@"; do
		[ -x "$B/$_b" ] || continue
		nm -D --undefined-only "$B/$_b" | grep -qE ' qsort(_r)?(@|$)' && breach "$_b binds glibc's qsort (use sort_array, common/sort.h)"
	done
	return 0
}
check_no_qsort stratad stratad-broker stratad-spawner strata

[ "$bad" -eq 0 ] && echo "structure: includes and libraries keep to the layout"
exit "$bad"
