#!/bin/sh
# containerd's diff v1 Apply over gRPC (the door containerd 2.x's diff proxy
# uses): blobs from a content directory in containerd's layout, mounts mapped
# back to strata's own active snapshots, error codes for everything else.
set -u
. "$(dirname -- "$0")/../lib.sh"
lib_init diff-service
ensure_user
mkdir -p "$T/content"
go_build strata-tests/diffapply || {
	fail "build diffapply"
	summary
	exit 1
}
start_stratad "$T/root" "$T/s.sock" --content-root "$T/content" || { fail "daemon starts"; summary; exit 1; }
"$T/bin/diffapply" -address "$T/s.sock" -content "$T/content" -root "$T/root"
