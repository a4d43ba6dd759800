# Helpers for the tests that drive the strata CLI (source after tests/lib.sh
# and set STRATA and ADDR first).
#   st ARGS...               the CLI on this test's daemon; with CALL_TIMEOUT
#                            set (seconds), a call that takes longer fails the
#                            test and ends it: a wedged daemon must not hang
#                            make check
#   upper_of KEY             the upperdir of active snapshot KEY (bind source
#                            or overlay's upperdir=)
#   run CMD...               stdout in $T/out, stderr in $T/err, exit status in $rc
#   expect_rc NAME N         the last run exited N
#   out_is / out_has / out_lacks / out_match / err_has NAME TEXT
#                            the last run's stdout is / holds / lacks / matches
#                            (ERE) TEXT; its stderr holds TEXT
#   same NAME A B            A equals B
#   sha FILE                 "sha256:HEX" of FILE
#   mount_of KEY DIR         mounts active snapshot KEY at DIR (lib.sh unmounts it)
#   tree_listing DIR         DIR's manifest by treemanifest (go_build strata-tests/treemanifest
#                            first) as far as a layer carries it: mtimes in whole seconds,
#                            none for directories (their times change as entries are
#                            created) nor whiteouts (made when applied)
#   same_listing NAME A B    the listings in files A and B are equal (and A is not empty)
#   same_tree NAME DIR1 DIR2 the trees' listings are equal

st()
{
	[ -n "${CALL_TIMEOUT:-}" ] || {
		"$STRATA" --address "$ADDR" "$@"
		return
	}
	timeout "$CALL_TIMEOUT" "$STRATA" --address "$ADDR" "$@"
	_st_rc=$?
	if [ $_st_rc -eq 124 ]; then
		fail "strata $1 answers within $CALL_TIMEOUT s" "the daemon is stuck; see $T/stratad.log"
		summary
		exit 1
	fi
	return $_st_rc
}
upper_of()
{
	st mounts "$1" | awk '
		$1 == "bind" { print $2; exit }
		$1 == "overlay" { n = split($3, o, ","); for (i = 1; i <= n; i++)
			if (o[i] ~ /^upperdir=/) { print substr(o[i], 10); exit } }'
}
run()
{
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
}
show() { printf 'exit %s; stdout: %s; stderr: %s' "$rc" "$(head -c 400 "$T/out")" "$(head -c 400 "$T/err")"; }
expect_rc() { if [ "$rc" -eq "$2" ]; then pass "$1"; else fail "$1" "want exit $2: $(show)"; fi; }
out_is() { if [ "$(cat "$T/out")" = "$2" ]; then pass "$1"; else fail "$1" "want stdout $2: $(show)"; fi; }
out_has() { if grep -qF -- "$2" "$T/out"; then pass "$1"; else fail "$1" "$(show)"; fi; }
out_lacks() { if grep -qF -- "$2" "$T/out"; then fail "$1" "$(show)"; else pass "$1"; fi; }
out_match() { if grep -qE -- "$2" "$T/out"; then pass "$1"; else fail "$1" "$(show)"; fi; }
err_has() { if grep -qF -- "$2" "$T/err"; then pass "$1"; else fail "$1" "$(show)"; fi; }
same() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "\`$2\` != \`$3\`"; fi; }
sha() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
mount_of()
{
	mkdir -p "$2"
	st mounts "$1" | awk '{ print $1, $2, $3; exit }' | {
		read -r type src opts
		if [ "$type" = bind ]; then
			mount --bind "$src" "$2"
		else
			mount -t "$type" -o "$opts" "$src" "$2"
		fi
	}
}
tree_listing()
{
	"$T/bin/treemanifest" "$1" >"$T/.tree" || return 1
	sed -E -e '/ type=dir | type=char .* rdev=0:0 /s/ mtime=[0-9]+$//' \
		-e 's/( mtime=[0-9]+)[0-9]{9}$/\1/' "$T/.tree"
}
same_listing()
{
	: >"$T/.tree.diff"
	if [ -s "$2" ] && diff "$2" "$3" >"$T/.tree.diff"; then
		pass "$1"
	else
		fail "$1" "$(head -c 1500 "$T/.tree.diff")"
	fi
}
same_tree()
{
	if tree_listing "$2" >"$T/.tree1" && tree_listing "$3" >"$T/.tree2"; then
		same_listing "$1" "$T/.tree1" "$T/.tree2"
	else
		fail "$1" "treemanifest failed on $2 or $3"
	fi
}
