#!/bin/sh
# The Debian packages (`make deb`, debian/): they build, lintian finds no
# error (its warnings are listed), and on this machine dpkg installs them,
# the installed stratad and strata run from /usr, the library is found by
# pkg-config; `dpkg -r` removes all but the conffile, `dpkg -P` that too.
# A development install (`make install`, /usr/local) and an
# /etc/strata/stratad.conf that was there before are left as they were.
# The packages must not be installed when it starts (it refuses to touch
# them then).  It never starts the service: where systemd runs (the
# postinst would start it), it installs only under a policy-rc.d that
# refuses (deb-systemd-invoke asks it).  On exit (lib.sh's trap), whatever
# it installed is purged and the old stratad.conf put back.
set -u
. "$(dirname -- "$0")/../lib.sh"
. "$(dirname -- "$0")/../cli-lib.sh"
lib_init deb
need_tools dpkg dpkg-buildpackage lintian pkg-config git
PKGS="strata libstrata-client0 libstrata-client-dev"
VERSION=$(sed -n 's/^#define STRATA_VERSION "\(.*\)"$/\1/p' "$REPO/common/args.h")
CONF=/etc/strata/stratad.conf
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH)

for p in $PKGS; do
	if dpkg-query -W -f '${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^.[^n]'; then
		fail "$p is not installed before the test" "remove it first (dpkg -P $p): the test would replace it"
		summary
		exit 1
	fi
done

# What must survive: the development install's files and the admin's config.
dev_state() {
	for f in /usr/local/sbin/stratad /usr/local/sbin/stratad-broker /usr/local/bin/strata \
		/usr/local/lib/libstrata-client.so.$VERSION /usr/local/include/strata/client.h $CONF; do
		if [ -e "$f" ]; then printf '%s %s\n' "$f" "$(sha256sum <"$f" | cut -d' ' -f1)"; else echo "$f absent"; fi
	done
}
dev_state >"$T/dev.before"
had_etc_strata=0
[ -d /etc/strata ] && had_etc_strata=1
[ ! -e "$CONF" ] || cp -p "$CONF" "$T/stratad.conf.saved"
restore() {
	installed=''
	for p in $PKGS; do
		dpkg-query -W -f '${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^.[^n]' && installed="$installed $p"
	done
	# shellcheck disable=SC2086 # a list of package names
	[ -z "$installed" ] || dpkg -P $installed >>"$T/dpkg.log" 2>&1
	if [ -e "$T/stratad.conf.saved" ]; then
		mkdir -p /etc/strata && cp -p "$T/stratad.conf.saved" "$CONF"
	elif [ "$had_etc_strata" = 0 ]; then
		rmdir /etc/strata 2>/dev/null
	fi
	[ -z "${made_policy:-}" ] || rm -f /usr/sbin/policy-rc.d
}
at_exit restore

# ---- build and lintian ----
if ! make -s -C "$REPO" deb B="$B" >"$T/build.log" 2>&1; then
	fail "make deb" "$(tail -n 15 "$T/build.log")"
	summary
	exit 1
fi
pass "make deb"
D=$B/deb
debs=''
for p in $PKGS; do
	f=$D/${p}_$VERSION-1_$(dpkg --print-architecture).deb
	if [ -f "$f" ]; then debs="$debs $f"; else fail "make deb builds $p" "no $f"; fi
done
# The worker and the CLI hold libarchive's tar reader, and the binaries
# OpenSSL's SHA-256, linked statically: the package names the versions.
same "strata's Built-Using names the libarchive and OpenSSL linked into it" \
	"$(dpkg-deb -f "$D/strata_$VERSION-1_$(dpkg --print-architecture).deb" Built-Using 2>&1)" \
	"$(dpkg-query -W -f '${source:Package} (= ${source:Version}), ' libarchive-dev libssl-dev | sed 's/, $//')"
# Not as root: lintian says so in a line of its own; its findings are E:, W:, I:...
lintian "$D"/strata_"$VERSION"-1_*.changes >"$T/lintian" 2>&1
lrc=$?
grep '^W:' "$T/lintian" | sed 's/^/     lintian: /'
if [ "$lrc" -ne 0 ] || grep -q '^E:' "$T/lintian"; then
	fail "lintian: no error" "exit $lrc: $(grep -v '^[WINP]:' "$T/lintian" | head -n 10 | tr '\n' ' ')"
else
	pass "lintian: no error ($(grep -c '^W:' "$T/lintian") warnings)"
fi

# ---- install ----
# deb-systemd-invoke starts nothing when policy-rc.d answers 101.
made_policy=''
if [ -d /run/systemd/system ] && [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 0755 /usr/sbin/policy-rc.d
	made_policy=1
fi
# --force-confold: an existing stratad.conf stays as it is.
# shellcheck disable=SC2086 # a list of files
if dpkg --force-confold -i $debs >"$T/dpkg.log" 2>&1; then
	pass "dpkg -i installs the packages"
else
	fail "dpkg -i installs the packages" "$(tail -n 10 "$T/dpkg.log")"
	summary
	exit 1
fi
same "/usr/sbin/stratad --version" "$(/usr/sbin/stratad --version 2>&1)" "stratad $VERSION"
if /usr/bin/strata --version >"$T/out" 2>&1; then
	check "/usr/bin/strata --version names $VERSION" grep -q "$VERSION" "$T/out"
else
	check "/usr/bin/strata --help runs (no --version)" /usr/bin/strata --help
fi
check "the account strata exists" getent passwd strata
same "pkg-config finds the packaged library" \
	"$(PKG_CONFIG_LIBDIR=/usr/lib/$MULTIARCH/pkgconfig pkg-config --modversion --variable=libdir strata-client 2>&1 | tr '\n' ' ')" \
	"$VERSION /usr/lib/$MULTIARCH "
check "the unit starts /usr/sbin/stratad" grep -q '^ExecStart=/usr/sbin/stratad ' /lib/systemd/system/strata.service
check "the library is in the multiarch directory" test -f "/usr/lib/$MULTIARCH/libstrata-client.so.$VERSION"
check "stratad.conf is a conffile of strata" sh -c "dpkg-query -W -f '\${Conffiles}' strata | grep -q ' $CONF '"
started=''
for p in /proc/[0-9]*; do
	[ "$(readlink "$p/exe" 2>/dev/null)" = /usr/sbin/stratad ] && started="$started ${p#/proc/}"
done
same "no stratad was started from /usr/sbin" "$started" ""

# ---- remove, then purge ----
# shellcheck disable=SC2086 # a list of package names
dpkg -r $PKGS >>"$T/dpkg.log" 2>&1
left=''
for f in /usr/sbin/stratad /usr/sbin/stratad-worker /usr/bin/strata /lib/systemd/system/strata.service \
	/lib/systemd/system/strata.socket /usr/lib/sysusers.d/strata.conf /usr/include/strata \
	"/usr/lib/$MULTIARCH/libstrata-client.so.0" "/usr/lib/$MULTIARCH/pkgconfig/strata-client.pc"; do
	[ ! -e "$f" ] || left="$left $f"
done
same "dpkg -r removes every file" "$left" ""
check "dpkg -r keeps the conffile" test -f "$CONF"
# shellcheck disable=SC2086 # a list of package names
dpkg -P $PKGS >>"$T/dpkg.log" 2>&1
gone=1
for p in $PKGS; do
	dpkg-query -W -f '${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^.[^n]' && gone=0
done
same "dpkg -P leaves no trace in dpkg's database" "$gone" 1
check "dpkg -P removes the enabling links" sh -c '! ls /etc/systemd/system/*/strata.* 2>/dev/null | grep -q .'
if [ -e "$T/stratad.conf.saved" ]; then
	restore
else
	check "dpkg -P removes the conffile" test ! -e "$CONF"
fi
dev_state >"$T/dev.after"
if cmp -s "$T/dev.before" "$T/dev.after"; then
	pass "the development install and the old stratad.conf are as they were"
else
	fail "the development install and the old stratad.conf are as they were" \
		"$(diff "$T/dev.before" "$T/dev.after" | tr '\n' ' ')"
fi
summary
