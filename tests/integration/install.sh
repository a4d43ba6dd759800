#!/bin/sh
# `make install` and `make uninstall` into a staging DESTDIR with PREFIX=/usr:
# every file in its place (the client library with its soname and links,
# exporting only the public API; headers; strata-client.pc), the list of
# what install made; uninstall removes exactly that (directories that were
# there before stay, and a stratad.conf the administrator changed).  Against
# the installed library alone (`pkg-config --cflags --libs strata-client`
# into DESTDIR): tests/tools/mountfd.c, tests/tools/layerfd.c and the
# README's example are built and run against a test daemon: a mount fd, a
# layer applied from an fd and written to one.  lib.sh stops the daemon by
# pid and removes $T.
set -u
. "$(dirname -- "$0")/../lib.sh"
. "$(dirname "$0")/../cli-lib.sh"
lib_init install
need_tools pkg-config cc nm readelf tar
ensure_user
umask 022
STRATA=${STRATA:-$B/strata}
ADDR=$T/s.sock
DEST=$T/dest
CALL_TIMEOUT=60
VERSION=$(sed -n 's/^#define STRATA_VERSION "\(.*\)"$/\1/p' "$REPO/common/args.h")
MAJOR=${VERSION%%.*}
LIB=$DEST/usr/lib

# What was there before install: a directory install also uses, one it
# fills, and a file of someone else's in a directory it writes into.
mkdir -p "$DEST/usr/share/man/man8" "$DEST/usr/lib/pkgconfig" "$DEST/etc"
printf 'other\n' >"$DEST/usr/lib/pkgconfig/other.pc"
listing() { (cd "$DEST" && find . | LC_ALL=C sort); }
listing >"$T/before"

inst() { make -s -C "$REPO" "$@" DESTDIR="$DEST" PREFIX=/usr B="$B" >>"$T/make.log" 2>&1; }
if ! inst install; then
	fail "make install DESTDIR=... PREFIX=/usr" "$(tail -n 5 "$T/make.log")"
	summary
	exit 1
fi
pass "make install DESTDIR=... PREFIX=/usr"

# ---- what went where ----
missing=''
for f in usr/sbin/stratad usr/sbin/stratad-broker usr/sbin/stratad-spawner usr/sbin/stratad-worker \
	usr/bin/strata "usr/lib/libstrata-client.so.$VERSION" usr/lib/pkgconfig/strata-client.pc \
	usr/include/strata/client.h usr/include/strata/mountfd.h usr/lib/systemd/system/strata.service \
	usr/lib/systemd/system/strata.socket usr/lib/sysusers.d/strata.conf etc/strata/stratad.conf \
	usr/share/strata/installed; do
	[ -f "$DEST/$f" ] || missing="$missing $f"
done
for m in "$REPO"/man/*.scd; do
	[ -f "$m" ] || continue
	page=$(basename "$m" .scd)
	[ -f "$DEST/usr/share/man/man${page##*.}/$page" ] || missing="$missing man:$page"
done
[ ! -f "$REPO/client/strata.bash" ] || [ -f "$DEST/usr/share/bash-completion/completions/strata" ] ||
	missing="$missing bash-completion"
same "every file is installed" "$missing" ""
same "libstrata-client.so.$MAJOR links to the library" "$(readlink "$LIB/libstrata-client.so.$MAJOR")" \
	"libstrata-client.so.$VERSION"
same "libstrata-client.so links to the soname" "$(readlink "$LIB/libstrata-client.so")" \
	"libstrata-client.so.$MAJOR"
same "the library's soname" "$(readelf -d "$LIB/libstrata-client.so.$VERSION" |
	sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')" "libstrata-client.so.$MAJOR"
same "the library is not executable" "$(stat -c %a "$LIB/libstrata-client.so.$VERSION")" 644
# Defined dynamic symbols (the version node aside) = the version script's globals.
nm -D --defined-only "$LIB/libstrata-client.so.$VERSION" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' |
	LC_ALL=C sort >"$T/exported"
sed -n '/global:/,/local:/s/^[[:space:]]*\([a-z_]*\);$/\1/p' "$REPO/client/libstrata-client.map" |
	LC_ALL=C sort >"$T/public"
if [ -s "$T/public" ] && cmp -s "$T/exported" "$T/public"; then
	pass "the library exports the public API alone ($(wc -l <"$T/public") names)"
else
	fail "the library exports the public API alone" "$(diff "$T/public" "$T/exported" | head -20 | tr '\n' ' ')"
fi
check "the unit starts /usr/sbin/stratad" grep -q '^ExecStart=/usr/sbin/stratad ' \
	"$DEST/usr/lib/systemd/system/strata.service"

# ---- programs built against the installed library alone ----
PKG_CONFIG_LIBDIR=$LIB/pkgconfig
PKG_CONFIG_SYSROOT_DIR=$DEST
export PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR
# (pkg-config ends its output with a space)
flags=$(pkg-config --cflags --libs strata-client | sed 's/ *$//')
same "pkg-config: the installed headers and library" "$flags" "-I$DEST/usr/include -L$LIB -lstrata-client"
same "pkg-config: the version" "$(pkg-config --modversion strata-client)" "$VERSION"
sed -n '/^<!-- example: mountfd -->$/,/^<!-- end example -->$/p' "$REPO/README.md" | sed '1,2d;$d' | sed '$d' \
	>"$T/example.c"
built=1
for prog in "$REPO/tests/tools/mountfd.c" "$REPO/tests/tools/layerfd.c" "$T/example.c"; do
	name=$(basename "$prog" .c)
	# shellcheck disable=SC2086 # flags is a list of compiler flags
	if [ -s "$prog" ] && cc -std=gnu11 -Wall -Werror -o "$T/$name" "$prog" $flags 2>"$T/cc.err"; then
		pass "$name builds against the installed library"
	else
		fail "$name builds against the installed library" "$(head -c 600 "$T/cc.err")"
		built=0
	fi
done
[ "$built" = 1 ] || { summary; exit 1; }
check "mountfd links the installed library" sh -c "readelf -d '$T/mountfd' | grep -q 'NEEDED.*libstrata-client.so.$MAJOR'"

start_stratad "$T/root" "$ADDR" || { fail "daemon starts"; summary; exit 1; }
pass "daemon starts"
export STRATA_ADDRESS="$ADDR"
export LD_LIBRARY_PATH="$LIB"
# A layer with one file, applied by the library from stdin.
mkdir -p "$T/layer/etc"
printf 'hello from a layer\n' >"$T/layer/etc/greeting"
tar -C "$T/layer" --owner=0 --group=0 -cf "$T/layer.tar" etc
st prepare lib >/dev/null
run "$T/layerfd" apply lib <"$T/layer.tar"
expect_rc "layerfd apply: strata_apply_layer() from an fd" 0
err_has "layerfd apply: the layer's diff ID and entries" "diff_id sha256:$(sha256sum "$T/layer.tar" | cut -d' ' -f1) entries 2"
run timeout $CALL_TIMEOUT "$T/mountfd" --address "$ADDR" lib read etc/greeting info
expect_rc "mountfd (installed library): strata_mount_fd(), read through it as nobody" 0
out_is "mountfd reads the layer's file and the mount's info" "hello from a layer
overlay 1 rw plain"
run timeout $CALL_TIMEOUT "$T/example" lib etc/greeting
expect_rc "the README's example runs" 0
out_is "the README's example prints the file" "hello from a layer"
run timeout $CALL_TIMEOUT "$T/example" nosuch etc/greeting
expect_rc "the README's example fails for a missing snapshot" 1
err_has "... with the daemon's status" "NotFound: "
run timeout $CALL_TIMEOUT "$T/layerfd" diff lib
expect_rc "layerfd diff: strata_diff_layer() to an fd" 0
check "the diff holds the layer's file" sh -c "tar -xOf '$T/out' etc/greeting | grep -qx 'hello from a layer'"
stop_stratad >/dev/null 2>&1
unset LD_LIBRARY_PATH STRATA_ADDRESS PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR

# ---- uninstall ----
if inst uninstall; then pass "make uninstall"; else fail "make uninstall" "$(tail -n 5 "$T/make.log")"; fi
listing >"$T/after"
if cmp -s "$T/before" "$T/after"; then
	pass "uninstall leaves what was there before, and nothing of strata's"
else
	fail "uninstall leaves what was there before, and nothing of strata's" \
		"$(diff "$T/before" "$T/after" | head -20 | tr '\n' ' ')"
fi
same "someone else's file is untouched" "$(cat "$DEST/usr/lib/pkgconfig/other.pc")" other

# Installed twice, stratad.conf changed: uninstall still removes everything
# install made, but the administrator's stratad.conf (and its directory).
: >"$T/make.log"
if inst install && inst install; then
	printf 'log_level = debug\n' >>"$DEST/etc/strata/stratad.conf"
	inst uninstall
	listing >"$T/after"
	printf './etc/strata\n./etc/strata/stratad.conf\n' | cat "$T/before" - | LC_ALL=C sort >"$T/want"
	if cmp -s "$T/want" "$T/after"; then
		pass "a changed stratad.conf stays after uninstall, the rest goes"
	else
		fail "a changed stratad.conf stays after uninstall, the rest goes" \
			"$(diff "$T/want" "$T/after" | head -20 | tr '\n' ' ')"
	fi
	check "uninstall says it kept it" grep -q 'kept .*/etc/strata/stratad.conf' "$T/make.log"
else
	fail "make install twice" "$(tail -n 5 "$T/make.log")"
fi
summary
