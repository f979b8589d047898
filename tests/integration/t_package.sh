#!/bin/sh
# t_package.sh - Herald installed as an operator installs it (issue #14):
#  - make install PREFIX=/usr DESTDIR=root: every path in the unit, the
#    config and the man pages follows PREFIX; the config is 0640 root:herald
#    and heraldd -t, run as user herald (what ExecStartPre does), reads it;
#    heraldd's CURVE key pair is generated (0640 root:herald), a second
#    make install keeps it, services.d is 0750 root:herald;
#    the logs and spool are herald's; herald-channel.pc builds a plugin;
#    make uninstall leaves only the config; the default PREFIX=/usr/local
#  - make deb (dpkg-buildpackage -us -uc -b from a copy of the tree): the
#    packages build, lintian finds no error, the files, modes, conffiles
#    and maintainer scripts are right (dpkg-deb -x into a throw-away root),
#    systemd-analyze verify passes on the unit, its security exposure is
#    at most 1.5, mandoc -T lint is clean on the installed pages, logrotate
#    reads its file, and the packaged heraldd -t accepts the packaged config.
. "$HERALD_SRC/tests/integration/lib.sh"

for tool in dpkg-buildpackage dh lintian mandoc logrotate systemd-analyze setpriv; do
	command -v $tool >/dev/null || {
		not_ok "$tool is installed (scripts/deps.sh)"
		finish
		exit 1
	}
done
chmod 711 "$T" # user herald (setpriv below) walks through it
MK="make --no-print-directory -C $HERALD_SRC BUILD=$HERALD_BUILD"
mode() { stat -c '%a %u:%g' "$1" 2>/dev/null; }

# ---- make install PREFIX=/usr into a staging root -------------------------------
R=$T/root
if $MK install DESTDIR="$R" PREFIX=/usr INSTALL_USER=1 >"$T/install.log" 2>&1; then
	ok "make install PREFIX=/usr DESTDIR=... INSTALL_USER=1"
else
	not_ok "make install PREFIX=/usr DESTDIR=... INSTALL_USER=1"
	tail -n 20 "$T/install.log" | sed 's/^/#   /'
fi
uid=$(awk -F: '$1 == "herald" { print $3 }' "$R/etc/passwd" 2>/dev/null)
gid=$(awk -F: '$1 == "herald" { print $3 }' "$R/etc/group" 2>/dev/null)
check "the herald user and group are created (sysusers: uid ${uid:-none})" [ -n "$uid" ] && [ -n "$gid" ]
missing=""
for f in usr/sbin/heraldd usr/bin/heraldctl usr/lib/herald/channels/file.so \
	usr/lib/herald/channels/email.so usr/share/herald/templates/licence-renewal \
	usr/include/herald/channel.h usr/share/pkgconfig/herald-channel.pc \
	usr/share/man/man8/heraldd.8 usr/share/man/man1/heraldctl.1 \
	usr/share/man/man5/herald.conf.5 usr/share/man/man7/herald-channel.7 \
	lib/systemd/system/heraldd.service usr/lib/sysusers.d/herald.conf \
	usr/lib/tmpfiles.d/herald.conf etc/logrotate.d/herald etc/herald/herald.conf \
	usr/share/doc/herald/README.md; do
	[ -e "$R/$f" ] || missing="$missing $f"
done
expect_eq "make install installs programs, plugins, templates, header, .pc, man pages, unit, sysusers, tmpfiles, logrotate, config" "" "$missing"
expect_eq "config is 0640 root:herald" "640 0:$gid" "$(mode "$R/etc/herald/herald.conf")"
expect_eq "make install generated heraldd's secret key, 0640 root:herald" "640 0:$gid" "$(mode "$R/etc/herald/heraldd.key")"
expect_eq "and its public key, 0644 root:root" "644 0:0" "$(mode "$R/etc/herald/heraldd.pub")"
check "the key pair is 40 Z85 characters each" sh -c \
	"grep -qxE '.{40}' '$R/etc/herald/heraldd.key' && grep -qxE '.{40}' '$R/etc/herald/heraldd.pub'"
expect_eq "/etc/herald/services.d is 0750 root:herald" "750 0:$gid" "$(mode "$R/etc/herald/services.d")"
expect_grep "config: curve_secret_key_file names the generated key" \
	'^curve_secret_key_file = /etc/herald/heraldd.key$' "$R/etc/herald/herald.conf"
expect_grep "config: auth = curve (the default) as installed" '^auth = curve$' "$R/etc/herald/herald.conf"
key_sum=$(cat "$R/etc/herald/heraldd.key" "$R/etc/herald/heraldd.pub" | sha256sum)
$MK install DESTDIR="$R" PREFIX=/usr INSTALL_USER=1 >"$T/install2.log" 2>&1
check "make install again (INSTALL_USER=1)" [ $? -eq 0 ]
expect_eq "make install again keeps heraldd's key pair" "$key_sum" \
	"$(cat "$R/etc/herald/heraldd.key" "$R/etc/herald/heraldd.pub" | sha256sum)"
expect_eq "and its mode" "640 0:$gid" "$(mode "$R/etc/herald/heraldd.key")"
expect_eq "/var/log/herald is 0750 herald:herald" "750 $uid:$gid" "$(mode "$R/var/log/herald")"
expect_eq "/var/spool/herald is 0750 herald:herald" "750 $uid:$gid" "$(mode "$R/var/spool/herald")"
expect_eq "programs 0755, plugins 0644" "755 755 644" \
	"$(stat -c %a "$R/usr/sbin/heraldd" "$R/usr/bin/heraldctl" "$R/usr/lib/herald/channels/file.so" | tr '\n' ' ' | sed 's/ $//')"
unit=$R/lib/systemd/system/heraldd.service
expect_grep "unit: ExecStartPre runs /usr/sbin/heraldd -t" '^ExecStartPre=/usr/sbin/heraldd -t ' "$unit"
expect_grep "unit: ExecStart runs /usr/sbin/heraldd" '^ExecStart=/usr/sbin/heraldd ' "$unit"
expect_grep "config: templates of PREFIX" '^dir = /usr/share/herald/templates$' "$R/etc/herald/herald.conf"
expect_grep "config: plugins of PREFIX" '^dir = /usr/lib/herald/channels$' "$R/etc/herald/herald.conf"
expect_grep "heraldd(8) names the installed unit" '/lib/systemd/system/heraldd\.service' "$R/usr/share/man/man8/heraldd.8"
grep -rl /usr/local "$unit" "$R/etc/herald" "$R/usr/share/man" "$R/usr/share/pkgconfig" >"$T/local" 2>/dev/null
check "no /usr/local left in the unit, config, man pages or .pc" [ ! -s "$T/local" ]
sed 's/^/#   /' "$T/local"

# What ExecStartPre does, as user herald: the config is read through its group.
sed "s|= /usr/|= $R/usr/|; s|= /etc/herald/|= $R/etc/herald/|" "$R/etc/herald/herald.conf" >"$T/as-herald.conf"
chown "0:$gid" "$T/as-herald.conf" && chmod 640 "$T/as-herald.conf"
if setpriv --reuid="$uid" --regid="$gid" --clear-groups "$BIN/heraldd" -t -c "$T/as-herald.conf" \
	>"$T/t-herald.out" 2>&1; then
	ok "heraldd -t as user herald reads the installed config and key ($(cat "$T/t-herald.out"))"
else
	not_ok "heraldd -t as user herald reads the installed config and key"
	sed 's/^/#   /' "$T/t-herald.out"
fi
chown 0:0 "$R/etc/herald/heraldd.key"
if setpriv --reuid="$uid" --regid="$gid" --clear-groups "$BIN/heraldd" -t -c "$T/as-herald.conf" \
	>"$T/t-key.out" 2>&1; then
	not_ok "heraldd -t as user herald fails on a 0640 root:root key (the test can tell)"
else
	ok "heraldd -t as user herald fails on a 0640 root:root key (the test can tell)"
fi
chown "0:$gid" "$R/etc/herald/heraldd.key"
chown 0:0 "$T/as-herald.conf" # as make install left it before issue #14
if setpriv --reuid="$uid" --regid="$gid" --clear-groups "$BIN/heraldd" -t -c "$T/as-herald.conf" \
	>"$T/t-root.out" 2>&1; then
	not_ok "heraldd -t as user herald fails on a 0640 root:root config (the test can tell)"
else
	ok "heraldd -t as user herald fails on a 0640 root:root config (the test can tell)"
fi

# herald-channel.pc: a plugin built from the installed header alone.
cat >"$T/pigeon.c" <<'C'
#include <herald/channel.h>
static const char *const pigeon_variants[] = {"sms", NULL};
static int pigeon_open(const struct herald_host *h, void **st) { (void)h; *st = 0; return 0; }
static int pigeon_submit(void *st, const struct herald_msg *m) { (void)st; (void)m; return -1; }
static int pigeon_poll(void *st, struct herald_result *o, int max) { (void)st; (void)o; (void)max; return 0; }
static void pigeon_close(void *st) { (void)st; }
HERALD_CHANNEL_EXPORT = {.abi = HERALD_CHANNEL_ABI, .version = 1, .name = "pigeon",
	.variants = pigeon_variants, .open = pigeon_open, .submit = pigeon_submit,
	.poll = pigeon_poll, .close = pigeon_close};
C
pc_cflags=$(PKG_CONFIG_PATH="$R/usr/share/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$R" pkg-config --cflags herald-channel | sed 's/ *$//')
expect_eq "pkg-config --cflags herald-channel" "-I$R/usr/include" "$pc_cflags"
expect_eq "pkg-config --variable=channeldir herald-channel" "/usr/lib/herald/channels" \
	"$(PKG_CONFIG_PATH="$R/usr/share/pkgconfig" pkg-config --variable=channeldir herald-channel)"
if cc -std=c11 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden $pc_cflags "$T/pigeon.c" \
	-o "$T/pigeon.so" >"$T/cc.log" 2>&1 && nm -D --defined-only "$T/pigeon.so" | grep -q ' herald_channel$'; then
	ok "a plugin builds with the .pc's flags and exports herald_channel"
else
	not_ok "a plugin builds with the .pc's flags and exports herald_channel"
	sed 's/^/#   /' "$T/cc.log"
fi

# make uninstall: everything but the config (and the logs, spool, user).
$MK uninstall DESTDIR="$R" PREFIX=/usr >"$T/uninstall.log" 2>&1
check "make uninstall" [ $? -eq 0 ]
left=$(cd "$R" && find . -type f | grep -vE '^\./etc/(passwd|group|shadow|gshadow|\.pwd\.lock)$' | sort | tr '\n' ' ')
expect_eq "make uninstall leaves only the config and heraldd's key pair" \
	"./etc/herald/herald.conf ./etc/herald/heraldd.key ./etc/herald/heraldd.pub " "$left"
check "make uninstall leaves the logs and spool" [ -d "$R/var/log/herald" ] && [ -d "$R/var/spool/herald" ]

# The default PREFIX (/usr/local) into a staging root: no user made there.
L=$T/local-root
$MK install DESTDIR="$L" >"$T/install-local.log" 2>&1
check "make install (default PREFIX) DESTDIR=..." [ $? -eq 0 ]
expect_grep "PREFIX=/usr/local: unit runs /usr/local/sbin/heraldd" '^ExecStart=/usr/local/sbin/heraldd ' \
	"$L/usr/local/lib/systemd/system/heraldd.service"
expect_eq "with DESTDIR the config is 0640 (its group left to the package)" "640 0:0" "$(mode "$L/etc/herald/herald.conf")"
expect_grep "config: /usr/local templates" '^dir = /usr/local/share/herald/templates$' "$L/etc/herald/herald.conf"
check "with DESTDIR no key is generated (left to the package's postinst)" [ ! -e "$L/etc/herald/heraldd.key" ]
echo changed >>"$L/etc/herald/herald.conf"
$MK install DESTDIR="$L" >/dev/null 2>&1
expect_grep "make install again keeps an existing config" '^changed$' "$L/etc/herald/herald.conf"

# ---- the Debian packages --------------------------------------------------------
D=$T/deb
start=$(date +%s)
if $MK deb DEBDIR="$D" >"$T/deb.log" 2>&1; then
	ok "make deb: dpkg-buildpackage -us -uc -b ($(($(date +%s) - start)) s)"
else
	not_ok "make deb: dpkg-buildpackage -us -uc -b"
	tail -n 30 "$T/deb.log" | sed 's/^/#   /'
fi
deb=$(ls "$D"/herald_*_*.deb 2>/dev/null | head -n 1)
devdeb=$(ls "$D"/herald-dev_*_all.deb 2>/dev/null | head -n 1)
check "herald and herald-dev .deb built" [ -f "$deb" ] && [ -f "$devdeb" ]
parent=$(dirname "$HERALD_SRC")
check "the packaged heraldd is the optimised build, not a sanitizer one" sh -c \
	"dpkg-deb --fsys-tarfile '$deb' | tar -xOf - ./usr/sbin/heraldd | strings | grep -q __asan_init && exit 1; exit 0"
check "nothing written beside the source tree" [ -z "$(find "$parent" -maxdepth 1 -newer "$T/install.log" -name 'herald*_*' 2>/dev/null)" ]

lintian --fail-on error "$D"/herald_*.changes >"$T/lintian.log" 2>&1
rc=$?
if [ $rc -eq 0 ] && ! grep -q '^E: ' "$T/lintian.log"; then
	ok "lintian: no errors ($(grep -c '^W: ' "$T/lintian.log") warnings)"
else
	not_ok "lintian: no errors (exit $rc)"
fi
grep -E '^(E|W|I): ' "$T/lintian.log" | sed 's/^/# lintian: /'

X=$T/debroot
mkdir -p "$X"
dpkg-deb -x "$deb" "$X" && dpkg-deb -x "$devdeb" "$X"
dpkg-deb -e "$deb" "$T/control"
check "package: /usr/sbin/heraldd, /usr/bin/heraldctl, plugins, templates" \
	[ -x "$X/usr/sbin/heraldd" ] && [ -x "$X/usr/bin/heraldctl" ] && [ -f "$X/usr/lib/herald/channels/sms.so" ] &&
	[ -d "$X/usr/share/herald/templates/licence-renewal" ]
check "herald-dev: header, .pc, herald-channel(7)" [ -f "$X/usr/include/herald/channel.h" ] &&
	[ -f "$X/usr/share/pkgconfig/herald-channel.pc" ] && [ -f "$X/usr/share/man/man7/herald-channel.7.gz" ]
expect_eq "package: config is 0640 root:root in the archive (postinst sets group herald)" "-rw-r----- root/root" \
	"$(dpkg-deb -c "$deb" | awk '$6 == "./etc/herald/herald.conf" { print $1, $2 }')"
expect_grep "conffile /etc/herald/herald.conf" '^/etc/herald/herald.conf$' "$T/control/conffiles"
expect_grep "conffile /etc/logrotate.d/herald" '^/etc/logrotate.d/herald$' "$T/control/conffiles"
expect_grep "Depends on systemd's sysusers" 'systemd-sysusers' "$T/control/control"
pi=$T/control/postinst
n_users=$(grep -n 'systemd-sysusers' "$pi" | head -n 1 | cut -d: -f1)
n_chown=$(grep -n 'chown root:herald /etc/herald/herald.conf' "$pi" | head -n 1 | cut -d: -f1)
n_start=$(grep -n "deb-systemd-invoke .*heraldd.service" "$pi" | head -n 1 | cut -d: -f1)
check "postinst: user, then chown root:herald, then start heraldd.service" \
	[ -n "$n_users" ] && [ -n "$n_chown" ] && [ -n "$n_start" ] && [ "$n_users" -lt "$n_chown" ] && [ "$n_chown" -lt "$n_start" ]
expect_grep "postinst: enables heraldd.service" "deb-systemd-helper enable 'heraldd.service'" "$pi"
expect_grep "postinst: tmpfiles (logs, spool)" 'systemd-tmpfiles .*--create herald.conf' "$pi"
n_key=$(grep -n 'heraldctl keygen --server --force -d /etc/herald heraldd' "$pi" | head -n 1 | cut -d: -f1)
check "postinst: generates heraldd's key pair after the user exists, before the start" \
	[ -n "$n_key" ] && [ -n "$n_start" ] && [ "$n_users" -lt "$n_key" ] && [ "$n_key" -lt "$n_start" ]
check "postinst: only when there is no heraldd.key" grep -q 'if \[ ! -e "$KEY" \]' "$pi"
expect_grep "postrm: purge removes heraldd's key pair" '^[[:space:]]*rm -f /etc/herald/heraldd.key /etc/herald/heraldd.pub$' \
	"$T/control/postrm"
dpkg-deb -c "$deb" | awk '{ print $6 }' >"$T/deb-files"
check "package: /etc/herald/services.d is in the package" grep -qx './etc/herald/services.d/' "$T/deb-files"
check "package: no key in the package (each install generates its own)" sh -c "! grep -q 'heraldd\.\(key\|pub\)' '$T/deb-files'"
grep -rl /usr/local "$X" 2>/dev/null | grep -v "^$X/usr/share/doc/" >"$T/deb-local"
check "package: no /usr/local outside the docs" [ ! -s "$T/deb-local" ]

# systemd-analyze verify on the packaged unit, its commands resolved into
# the extracted root and its man: pages looked up there.
mkdir -p "$T/units"
sed "s|=/usr/sbin/heraldd|=$X/usr/sbin/heraldd|g" "$X/lib/systemd/system/heraldd.service" >"$T/units/heraldd.service"
if MANPATH=$X/usr/share/man systemd-analyze verify "$T/units/heraldd.service" >"$T/verify.log" 2>&1; then
	ok "systemd-analyze verify heraldd.service"
else
	not_ok "systemd-analyze verify heraldd.service"
	sed 's/^/#   /' "$T/verify.log"
fi
systemd-analyze security --offline=true --root="$X" --threshold=15 heraldd.service >"$T/security.log" 2>&1
rc=$?
score=$(sed -n 's/.*Overall exposure level for heraldd.service: \([0-9.]*\).*/\1/p' "$T/security.log")
check "systemd-analyze security heraldd.service: ${score:-?} <= 1.5" [ $rc -eq 0 ] && [ -n "$score" ]
grep '✗' "$T/security.log" | sed 's/  */ /g; s/^/# security: /'

bad=""
for p in "$X"/usr/share/man/man*/*.gz; do
	mandoc -T lint -W style "$p" >"$T/lint.out" 2>&1 && [ ! -s "$T/lint.out" ] || bad="$bad ${p##*/}"
done
expect_eq "mandoc -T lint: the installed pages are clean" "" "$bad"
if logrotate -d -s "$T/logrotate.state" "$X/etc/logrotate.d/herald" >"$T/logrotate.log" 2>&1 &&
	! grep -qiE '^error' "$T/logrotate.log"; then
	ok "logrotate reads /etc/logrotate.d/herald"
else
	not_ok "logrotate reads /etc/logrotate.d/herald"
	sed 's/^/#   /' "$T/logrotate.log" | head -n 10
fi
# (the key postinst would generate, by the packaged heraldctl)
"$X/usr/bin/heraldctl" keygen --server -d "$X/etc/herald" heraldd >/dev/null 2>&1
sed "s|= /usr/|= $X/usr/|; s|= /etc/herald/|= $X/etc/herald/|" "$X/etc/herald/herald.conf" >"$T/deb.conf"
if "$X/usr/sbin/heraldd" -t -c "$T/deb.conf" >"$T/deb-t.out" 2>&1; then
	ok "packaged heraldd -t accepts the packaged config ($(cat "$T/deb-t.out"))"
else
	not_ok "packaged heraldd -t accepts the packaged config"
	sed 's/^/#   /' "$T/deb-t.out"
fi

# ---- the package on a booted systemd --------------------------------------------
# A container (systemd-nspawn --boot, its own network namespace) over an
# overlay of this machine's root, in a mount namespace of its own, so
# nothing it does reaches the host: dpkg -i the package, then the service
# is used as an operator would, then the same from a plain make install
# (tests/integration/package_boot.sh).
if ! command -v systemd-nspawn >/dev/null || ! command -v unshare >/dev/null || [ "$(id -u)" != 0 ]; then
	diag "skip: booted-systemd checks need root, unshare and systemd-nspawn (systemd-container)"
elif [ -f "$deb" ]; then
	B=$T/boot
	mkdir -p "$B/ovl"
	cp "$deb" "$B/herald.deb"
	cp "$HERALD_SRC/tests/integration/package_boot.sh" "$B/"
	echo "$HERALD_SRC" >"$B/herald-src"
	start=$(date +%s)
	unshare -m --propagation private sh -c '
		B=$1
		mount -t tmpfs tmpfs "$B/ovl" && mkdir -p "$B/ovl/upper" "$B/ovl/work" "$B/ovl/root" &&
			mount -t overlay overlay -o "lowerdir=/,upperdir=$B/ovl/upper,workdir=$B/ovl/work" "$B/ovl/root" ||
			exit 1
		R=$B/ovl/root
		# what this test does not need, masked; the rest of the image boots
		for u in postgresql.service postgresql@15-main.service cups.service cups.path cups.socket \
			cups-browsed.service postfix.service postfix@-.service redis-sentinel.service \
			kannel.service systemd-networkd-wait-online.service console-getty.service \
			getty@tty1.service apt-daily.timer apt-daily-upgrade.timer man-db.timer \
			e2scrub_all.timer e2scrub_reap.service; do
			ln -sf /dev/null "$R/etc/systemd/system/$u"
		done
		cp "$B/herald.deb" "$B/package_boot.sh" "$B/herald-src" "$R/root/"
		cat >"$R/etc/systemd/system/herald-pkgtest.service" <<UNIT
[Unit]
Description=Herald package test
After=redis-server.service
Wants=redis-server.service
[Service]
Type=oneshot
ExecStart=/bin/sh -c "sh /root/package_boot.sh >/root/pkgtest.out 2>&1; systemctl poweroff"
UNIT
		mkdir -p "$R/etc/systemd/system/multi-user.target.wants"
		ln -sf /etc/systemd/system/herald-pkgtest.service "$R/etc/systemd/system/multi-user.target.wants/"
		rm -f "$R/etc/machine-id"
		timeout 300 systemd-nspawn -D "$R" --private-network --register=no --keep-unit -q \
			--bind-ro="$(cat "$B/herald-src")" --boot >"$B/boot.log" 2>&1
		cp "$R/root/pkgtest.out" "$B/pkgtest.out" 2>/dev/null
		exit 0
	' sh "$B"
	if [ -s "$B/pkgtest.out" ]; then
		ok "a systemd container booted and ran the package test ($(($(date +%s) - start)) s)"
		tap_merge "$B/pkgtest.out" 0 "package_boot.sh"
	else
		not_ok "a systemd container booted and ran the package test"
		tail -n 30 "$B/boot.log" | sed 's/^/#   /'
	fi
fi

finish
