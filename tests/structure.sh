#!/bin/sh
# The tree's boundaries, as `make check` keeps them (README: Layout).
#   includes: a folder is a process and its privilege; what crosses between
#     processes lives in proto/, shared plumbing in common/.  The root side
#     (parent/) includes nothing of the broker's, the broker nothing of the
#     root side's or the workers', and proto/, common/ and client/ nothing of
#     any process's.
#   libraries: stratad (the root parent) maps none of the libraries that read
#     untrusted bytes or serve clients; the broker none of the layer
#     codecs'; the spawner, which lives as long as its broker, none of
#     either (stratad-worker, which it execs for the layer roles, carries
#     the codecs); those are why they are separate binaries.  No daemon
#     binary maps what only the CLI needs.  Mapped means by ldd: every
#     library the loader maps at start, also through another library.
#     Two libraries are linked statically, in part: libarchive's tar reader
#     into the worker and the CLI (Makefile: ARCHIVE_STATIC), and OpenSSL's
#     SHA-256 into every binary that hashes (CRYPTO_STATIC, common/sha256.h).
#     No binary maps libcrypto.so, and the worker and the CLI map neither
#     libarchive.so nor what its other formats pull in (libxml2, ICU,
#     libstdc++, the other codecs; the CLI keeps zlib for gzip-compressed
#     archives).  ldd sees every other library a binary links.
#   calls: no binary binds glibc's qsort (common/sort.h says why).
# Usage: sh tests/structure.sh [BUILD_DIR [SBIN_DIR]]   (prints each breach;
#   exit 1 if any).  SBIN_DIR: where `make install` put the daemon binaries,
#   checked as well as BUILD_DIR's.
set -u
cd "$(dirname "$0")/.." || exit 2
B=${1:-${B:-build}}
SBIN=${2:-}
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
# Private headers: the metadata store's internals stay in its own files.
_out=$(grep -ln '#include "meta_store.h"' broker/*.c tests/unit/*.c 2>/dev/null | grep -v '^broker/meta[_a-z]*\.c$')
[ -z "$_out" ] || breach "meta_store.h is private to broker/meta*.c, yet included by: $_out"

# DIR BINARY FORBIDDEN-LIBRARY...: DIR/BINARY maps none of them.
check_libs() {
	_bin=$1/$2
	shift 2
	[ -x "$_bin" ] || { breach "no $_bin"; return; }
	_mapped=$(ldd "$_bin" 2>&1) || { breach "ldd $_bin: $_mapped"; return; }
	_mapped=$(echo "$_mapped" | awk '{ sub(/.*\//, "", $1); print $1 }')
	for _lib in "$@"; do
		echo "$_mapped" | grep -q "^$_lib\\." && breach "$_bin maps $_lib"
	done
	return 0
}
untrusted_bytes='libarchive libcrypto libzstd libisal libdeflate'
client_facing='libprotobuf-c libnghttp2 liblmdb'
cli_only='libjansson'
archive_formats='libarchive libxml2 libicuuc libstdc++ liblzma libbz2 liblz4 libnettle libacl'
# DIR: the daemon binaries in DIR.
check_daemon_libs() {
	# shellcheck disable=SC2086 # lists of library names
	check_libs "$1" stratad $untrusted_bytes $client_facing $cli_only
	# shellcheck disable=SC2086
	check_libs "$1" stratad-broker $untrusted_bytes $cli_only
	# shellcheck disable=SC2086
	check_libs "$1" stratad-spawner $untrusted_bytes $client_facing $cli_only
	# shellcheck disable=SC2086
	check_libs "$1" stratad-worker $client_facing $cli_only $archive_formats libz libcrypto
}
check_daemon_libs "$B"
# shellcheck disable=SC2086
check_libs "$B" strata $archive_formats libcrypto
[ -z "$SBIN" ] || check_daemon_libs "$SBIN"

# BINARY...: none binds glibc's qsort, which may call sysinfo, a call no
# confined process's policy allows (common/sort.h sorts instead).
check_no_qsort() {
	for _b in "$@"; do
		[ -x "$B/$_b" ] || continue
		nm -D --undefined-only "$B/$_b" | grep -qE ' qsort(_r)?(@|$)' && breach "$_b binds glibc's qsort (use sort_array, common/sort.h)"
	done
	return 0
}
check_no_qsort stratad stratad-broker stratad-spawner stratad-worker strata

[ "$bad" -eq 0 ] && echo "structure: includes and libraries keep to the layout"
exit "$bad"
