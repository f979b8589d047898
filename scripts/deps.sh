#!/bin/sh
# Install every Debian package Herald needs to build, test, bench and demo.
# (mandoc lints the man pages; debhelper, dpkg-dev and lintian build and
# check the .deb; logrotate and systemd-analyze check their files;
# systemd-nspawn boots a container where the .deb is installed and run.)
# Idempotent and non-interactive: does nothing when everything is present.
set -eu

PKGS="build-essential pkg-config
libzmq3-dev libhiredis-dev libcurl4-openssl-dev libesmtp-dev libjansson-dev
libinih-dev libmicrohttpd-dev libglib2.0-dev libsystemd-dev libcups2-dev libcairo2-dev
libpango1.0-dev libgmime-3.0-dev libssl-dev libcmocka-dev libjemalloc-dev clang libclang-rt-14-dev
redis-server redis-tools postfix cups cups-client cups-bsd kannel kannel-extras
poppler-utils tzdata fonts-dejavu-core fonts-noto-core fonts-wqy-zenhei python3 python3-zmq curl cppcheck clang-format
mandoc debhelper dpkg-dev lintian logrotate systemd systemd-container"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages:$missing" >&2
	echo "deps.sh: run as root (or: sudo $0)" >&2
	exit 1
fi

echo "deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# postfix asks questions at install time; answer them up front.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string localhost" | debconf-set-selections
# Packaged servers (redis, postfix, cups, kannel) must not start system-wide
# while they install: tests run private copies. Without systemd, maintainer
# scripts start services through invoke-rc.d, which asks policy-rc.d.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	own_policy=1
fi
trap '[ $own_policy = 1 ] && rm -f "$policy"' EXIT
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
# Packaged servers must not run system-wide: tests start private copies.
for svc in redis-server postfix cups cups-browsed kannel; do
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		systemctl disable --now "$svc" >/dev/null 2>&1 || true
	fi
done
echo "deps.sh: done"
