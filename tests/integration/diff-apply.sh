#!/bin/sh
# containerd's diff v1 Apply over gRPC (the door containerd 2.x's diff proxy
# uses): blobs from a content directory in containerd's layout, mounts mapped
# back to strata's own active snapshots, error codes for everything else.
set -u
. "$(dirname -- "$0")/../lib.sh"
lib_init diff-apply
ensure_user
export GO111MODULE=off GOFLAGS='' GOPATH="$REPO/tests/go:/usr/share/gocode"
export GOCACHE="${B:-$REPO/build}/gocache"
case $GOCACHE in /*) ;; *) GOCACHE=$REPO/$GOCACHE ;; esac
mkdir -p "$GOCACHE" "$T/content"
(cd "$REPO/tests/go/src/strata-tests/diffapply" && go build -o "$T/diffapply" .) || {
	fail "build diffapply"
	summary
	exit 1
}
start_stratad "$T/root" "$T/s.sock" --content-root "$T/content" || { fail "daemon starts"; summary; exit 1; }
"$T/diffapply" -address "$T/s.sock" -content "$T/content" -root "$T/root"
