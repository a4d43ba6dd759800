#!/bin/sh
# Creates the system account the broker runs as (default `strata`) unless it
# exists. Idempotent; used by `make run`, `make install` and the tests.
# systemd hosts get the same account from strata.sysusers.
set -eu
user=${1:-strata}
if getent passwd "$user" >/dev/null; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "ensure-user: account \`$user\` is missing and only root can create it" >&2
	exit 1
fi
useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
	--comment "strata snapshotter broker" "$user"
echo "ensure-user: created system account \`$user\`"
