#!/bin/sh
# package_boot.sh - run inside a booted systemd container by t_package.sh
# (as a oneshot unit, after redis-server): install the .deb as an operator
# would and use the service, purge it, then the same from a plain make
# install of the source tree (bound read-only into the container). TAP
# lines to standard output. Ingest is CURVE-authenticated (the default):
# the package generates heraldd's key pair; the test is the service dvla,
# with a key of its own (heraldctl keygen) and a policy in services.d.
set -u
ok() { echo "ok - $*"; }
nok() { echo "not ok - $*"; }
chk() {
	_d=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$_d"; else nok "$_d"; fi
}
wait_until() { # wait_until SECONDS command...
	_n=$(($1 * 5))
	shift
	while [ $_n -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
		_n=$((_n - 1))
	done
	return 1
}
unit_log() { journalctl -u heraldd.service --no-pager -o cat 2>/dev/null; }
KEYS=/root/keys # the service's side: dvla.key never goes to /etc/herald
event() { # event EVENT_ID [CITIZEN]
	echo "{\"event_id\":\"$1\",\"service\":\"dvla\",\"citizen_id\":\"${2:-c-1}\",\"template\":\"licence-renewal\",\"personalisation\":{\"name\":\"Ada\",\"expiry_date\":\"1 May 2027\",\"licence_type\":\"driving\"}}"
}
publish() { # publish EVENT_ID [CITIZEN]: prints heraldctl's answer
	event "$@" | heraldctl publish -k $KEYS/dvla.key --server-key /etc/herald/heraldd.pub -t 2000 -r 3
}
keysum() { cat /etc/herald/heraldd.key /etc/herald/heraldd.pub 2>&1 | sha256sum; }

rm -f /usr/sbin/policy-rc.d # (the overlay's copy: services may start here)
chk "redis-server runs in the container" systemctl is-active redis-server
if dpkg -i /root/herald.deb >/root/dpkg.log 2>&1; then
	ok "dpkg -i herald.deb"
else
	nok "dpkg -i herald.deb"
	sed 's/^/#   /' /root/dpkg.log
fi
chk "postinst created user herald (sysusers)" id herald
m=$(stat -c '%a %U:%G' /etc/herald/herald.conf 2>&1)
[ "$m" = "640 root:herald" ] && ok "config 0640 root:herald" || nok "config 0640 root:herald (got $m)"
m=$(stat -c '%a %U:%G' /var/log/herald /var/spool/herald 2>&1 | tr '\n' ' ')
[ "$m" = "750 herald:herald 750 herald:herald " ] && ok "logs and spool 0750 herald:herald" ||
	nok "logs and spool 0750 herald:herald (got $m)"
m=$(stat -c '%a %U:%G' /etc/herald/heraldd.key /etc/herald/heraldd.pub 2>&1 | tr '\n' ' ')
[ "$m" = "640 root:herald 644 root:root " ] && ok "postinst generated heraldd's key pair: key 0640 root:herald, pub 0644" ||
	nok "postinst generated heraldd's key pair: key 0640 root:herald, pub 0644 (got $m)"
chk "heraldd's secret key is unreadable to other users (nobody)" sh -c '! setpriv --reuid=nobody --regid=nogroup --clear-groups cat /etc/herald/heraldd.key'
m=$(stat -c '%a %U:%G' /etc/herald/services.d 2>&1)
[ "$m" = "750 root:herald" ] && ok "services.d 0750 root:herald" || nok "services.d 0750 root:herald (got $m)"
chk "heraldd.service is enabled" systemctl is-enabled heraldd.service
if wait_until 30 systemctl is-active heraldd.service; then
	ok "heraldd.service started by the package and is active (READY=1 under the sandbox)"
else
	nok "heraldd.service started by the package and is active"
	systemctl status heraldd.service --no-pager 2>&1 | sed 's/^/#   /'
fi
chk "heraldd runs as user herald" sh -c '[ "$(ps -o user= -p "$(systemctl show -p MainPID --value heraldd.service)")" = herald ]'
chk "/healthz answers 200 (HTTP listener)" wait_until 10 curl -fsS http://127.0.0.1:7402/healthz
chk "heraldd started with CURVE ingest and no service yet (logged)" wait_until 10 sh -c \
	'journalctl -u heraldd.service -o cat | grep -q "services: no service in /etc/herald/services.d"'

# The service dvla: its key pair made on its side, its policy (narrowed to
# what it sends) into services.d, then systemctl reload.
mkdir -p $KEYS && chmod 700 $KEYS
chk "heraldctl keygen dvla" heraldctl keygen -d $KEYS dvla
sed -i 's/^templates = .*/templates = licence-renewal/; s/^channels = .*/channels = file, email/' $KEYS/dvla.conf
install -m 644 $KEYS/dvla.conf /etc/herald/services.d/dvla.conf
systemctl reload heraldd.service
chk "systemctl reload: heraldd loaded the dvla policy" wait_until 10 sh -c \
	'journalctl -u heraldd.service -o cat | grep -q "services: 1 from /etc/herald/services.d"'

# One event end to end: ZMQ ingest, Redis TCP, the file channel's spool,
# the delivery logs under /var/log/herald.
redis-cli HSET herald:citizen:c-1 channels file name Ada locale en >/dev/null
a=$(publish pkg-1)
case "$a" in *'"accepted"'*) ok "heraldctl publish: accepted" ;; *) nok "heraldctl publish: accepted (got: $a)" ;; esac
chk "the file channel wrote the message to /var/spool/herald/file.jsonl" \
	wait_until 20 grep -q '"pkg-1"' /var/spool/herald/file.jsonl
chk "delivery.log has pkg-1 delivered" wait_until 10 grep -q '^.* pkg-1: .*status=delivered' /var/log/herald/delivery.log
chk "delivery.jsonl has pkg-1" grep -q '"pkg-1"' /var/log/herald/delivery.jsonl
chk "heraldctl trace pkg-1" sh -c 'heraldctl trace pkg-1 | grep -q delivered'

# A key heraldd does not know is refused at the handshake (and logged).
heraldctl keygen -d $KEYS intruder >/dev/null 2>&1
a=$(event pkg-x | heraldctl publish -k $KEYS/intruder.key --server-key /etc/herald/heraldd.pub -t 1000 -r 1 2>&1)
case "$a" in *'"accepted"'*) nok "a key not in services.d is refused (got: $a)" ;; *) ok "a key not in services.d is refused" ;; esac
chk "heraldd logged the unknown key" wait_until 10 sh -c \
	'journalctl -u heraldd.service -o cat | grep -q "ingest: connection refused: unknown key"'
chk "the refused event is not in Redis" sh -c '! heraldctl trace pkg-x 2>/dev/null | grep -q pkg-x'
a=$(event pkg-y | heraldctl publish -t 1000 -r 1 2>&1)
case "$a" in *'"accepted"'*) nok "a publisher without a key is refused (got: $a)" ;; *) ok "a publisher without a key is refused" ;; esac

# dpkg -i again (an upgrade to the same version): the key pair is kept, the
# service restarted with it, dvla still accepted.
sum=$(keysum)
if dpkg -i /root/herald.deb >/root/dpkg2.log 2>&1; then
	ok "dpkg -i herald.deb again (upgrade)"
else
	nok "dpkg -i herald.deb again (upgrade)"
	sed 's/^/#   /' /root/dpkg2.log
fi
[ "$(keysum)" = "$sum" ] && ok "the upgrade kept heraldd's key pair" || nok "the upgrade kept heraldd's key pair"
m=$(stat -c '%a %U:%G' /etc/herald/heraldd.key 2>&1)
[ "$m" = "640 root:herald" ] && ok "and its mode 0640 root:herald" || nok "and its mode 0640 root:herald (got $m)"
chk "the policy in services.d kept" test -f /etc/herald/services.d/dvla.conf
chk "heraldd.service active after the upgrade" wait_until 30 systemctl is-active heraldd.service
a=$(publish pkg-6)
case "$a" in *'"accepted"'*) ok "after the upgrade dvla's key is accepted" ;; *) nok "after the upgrade dvla's key is accepted (got: $a)" ;; esac
chk "pkg-6 delivered after the upgrade" wait_until 20 grep -q ' pkg-6: .*status=delivered' /var/log/herald/delivery.log

# Redis over its Unix socket, 0770 redis:redis, with the drop-in heraldd(8)
# describes (SupplementaryGroups=redis): the sandbox (PrivateUsers,
# ProtectSystem=strict) lets heraldd connect.
sed -i 's|^# *unixsocket .*|unixsocket /run/redis/redis-server.sock|; s|^# *unixsocketperm .*|unixsocketperm 770|' \
	/etc/redis/redis.conf
systemctl restart redis-server
mkdir -p /etc/systemd/system/heraldd.service.d
printf '[Service]\nSupplementaryGroups=redis\n' >/etc/systemd/system/heraldd.service.d/redis.conf
sed -i 's|^\[redis\]$|[redis]\nsocket = /run/redis/redis-server.sock|' /etc/herald/herald.conf
systemctl daemon-reload
systemctl restart heraldd.service
chk "heraldd restarted on Redis's Unix socket" wait_until 30 sh -c \
	'systemctl is-active -q heraldd.service && journalctl -u heraldd.service -o cat | grep -q "ready: .*, redis /run/redis/redis-server.sock,"'
a=$(publish pkg-3)
case "$a" in *'"accepted"'*) ok "publish over the socket setup: accepted" ;; *) nok "publish over the socket setup: accepted (got: $a)" ;; esac
chk "pkg-3 delivered with Redis on its socket" \
	wait_until 20 grep -q ' pkg-3: .*status=delivered' /var/log/herald/delivery.log

# The email channel under the sandbox: libesmtp to an SMTP relay (Postfix's
# smtp-sink), its workers switching to SCHED_BATCH.
SINK=$(command -v smtp-sink || ls /usr/sbin/smtp-sink /usr/lib/postfix/sbin/smtp-sink 2>/dev/null | head -n 1)
if [ -n "$SINK" ] && [ -x "$SINK" ]; then
	"$SINK" -u nobody 127.0.0.1:2525 16 >/root/sink.log 2>&1 &
	sink_pid=$!
	printf '\n[channel.email]\nrelay = 127.0.0.1:2525\nfrom = Herald Test <noreply@example.org>\n' \
		>>/etc/herald/herald.conf
	redis-cli HSET herald:citizen:c-2 channels email email ada@example.org name Ada locale en >/dev/null
	systemctl restart heraldd.service
	chk "heraldd restarted with the email channel" wait_until 30 sh -c \
		'systemctl is-active -q heraldd.service && journalctl -u heraldd.service -o cat | grep -q "ready: .*, 2 channels"'
	a=$(publish pkg-4 c-2)
	case "$a" in *'"accepted"'*) ok "publish to an email citizen: accepted" ;; *) nok "publish to an email citizen: accepted (got: $a)" ;; esac
	chk "pkg-4 sent by email through the relay" \
		wait_until 20 grep -q ' pkg-4: .*channel=email.*status=sent' /var/log/herald/delivery.log
	chk "email workers run SCHED_BATCH under the sandbox (ps: class B)" sh -c \
		'ps -L -o cls= -p "$(systemctl show -p MainPID --value heraldd.service)" | grep -q B'
	kill "$sink_pid" 2>/dev/null
else
	nok "Postfix's smtp-sink is in the image"
fi

# systemctl reload = SIGHUP: templates reloaded, still running.
systemctl reload heraldd.service
chk "systemctl reload: templates reloaded" wait_until 10 sh -c 'journalctl -u heraldd.service -o cat | grep -q "reload: .* templates"'
chk "still active after reload" systemctl is-active heraldd.service

# logrotate: the rotated file is closed, the next record goes to a new one.
if logrotate -f /etc/logrotate.d/herald >/root/logrotate.log 2>&1; then
	ok "logrotate -f /etc/logrotate.d/herald"
else
	nok "logrotate -f /etc/logrotate.d/herald"
	sed 's/^/#   /' /root/logrotate.log
fi
chk "delivery.log rotated to delivery.log.1" test -s /var/log/herald/delivery.log.1
a=$(publish pkg-2)
chk "after the rotation pkg-2 is logged in the new delivery.log" \
	wait_until 20 grep -q ' pkg-2: .*status=delivered' /var/log/herald/delivery.log
chk "and not in the rotated one" sh -c '! grep -q " pkg-2: " /var/log/herald/delivery.log.1'
m=$(stat -c '%a %U:%G' /var/log/herald/delivery.log 2>&1)
[ "$m" = "640 herald:herald" ] && ok "new delivery.log 0640 herald:herald" || nok "new delivery.log 0640 herald:herald (got $m)"

s=$(systemd-analyze security heraldd.service 2>/dev/null | sed -n 's/.*Overall exposure level for heraldd.service: \([0-9.]*\).*/\1/p')
chk "systemd-analyze security on the running unit: ${s:-?} <= 1.5" awk -v s="${s:-9}" 'BEGIN { exit !(s <= 1.5) }'
unit_log >/root/heraldd.journal
if grep -iE 'denied|not permitted|bad system call|SIGSYS|core dump' /root/heraldd.journal >/root/bad.log; then
	nok "the sandbox refused heraldd nothing (journal)"
	sed 's/^/#   /' /root/bad.log
else
	ok "the sandbox refused heraldd nothing (journal)"
fi

# systemctl stop = SIGTERM: drain, exit 0.
systemctl stop heraldd.service
chk "systemctl stop: heraldd drained and exited 0 (SIGTERM)" sh -c \
	'[ "$(systemctl show -p Result --value heraldd.service)" = success ] &&
	[ "$(systemctl show -p ExecMainStatus --value heraldd.service)" = 0 ] &&
	journalctl -u heraldd.service -o cat | grep -q "stopping: draining"'
if dpkg --purge herald >/root/purge.log 2>&1; then ok "dpkg --purge herald"; else nok "dpkg --purge herald"; fi
chk "purge removed the unit and the logs" sh -c '[ ! -e /lib/systemd/system/heraldd.service ] && [ ! -e /var/log/herald ]'
chk "purge removed heraldd's key pair" sh -c '[ ! -e /etc/herald/heraldd.key ] && [ ! -e /etc/herald/heraldd.pub ]'
chk "purge kept the services' policies (the administrator's)" test -f /etc/herald/services.d/dvla.conf
# make install from the tree, as an operator without the package does (no
# DESTDIR, the default PREFIX=/usr/local; an optimised build of its own):
# user, config group, logs, then the unit from /usr/local starts.
SRC=$(cat /root/herald-src 2>/dev/null)
if [ -n "$SRC" ] && [ -f "$SRC/Makefile" ]; then
	hash -r # the shell remembered the purged /usr/bin/heraldctl; now /usr/local/bin's
	if make -C "$SRC" BUILD=/root/build -j2 install >/root/make-install.log 2>&1; then
		ok "make install (PREFIX=/usr/local, no DESTDIR)"
	else
		nok "make install (PREFIX=/usr/local, no DESTDIR)"
		tail -n 20 /root/make-install.log | sed 's/^/#   /'
	fi
	m=$(stat -c '%a %U:%G' /etc/herald/herald.conf 2>&1)
	[ "$m" = "640 root:herald" ] && ok "make install: config 0640 root:herald" ||
		nok "make install: config 0640 root:herald (got $m)"
	chk "make install: /var/log/herald exists (tmpfiles)" test -d /var/log/herald
	m=$(stat -c '%a %U:%G' /etc/herald/heraldd.key 2>&1)
	[ "$m" = "640 root:herald" ] && ok "make install: generated heraldd's key 0640 root:herald" ||
		nok "make install: generated heraldd's key 0640 root:herald (got $m)"
	[ "$(keysum)" != "$sum" ] && ok "make install: a new key pair (the purged one is gone)" ||
		nok "make install: a new key pair (the purged one is gone)"
	systemctl daemon-reload
	chk "make install: the unit is /usr/local's" sh -c \
		'systemctl show -p FragmentPath --value heraldd.service | grep -q "^/usr/local/lib/systemd/system/heraldd.service$"'
	systemctl start heraldd.service
	chk "make install: heraldd.service starts (ExecStartPre heraldd -t as herald)" wait_until 30 systemctl is-active heraldd.service
	a=$(publish pkg-5)
	chk "make install: pkg-5 delivered" wait_until 20 grep -q ' pkg-5: .*status=delivered' /var/log/herald/delivery.log
	systemctl stop heraldd.service
	chk "make uninstall" make -C "$SRC" BUILD=/root/build uninstall
	chk "make uninstall: unit and programs gone, config kept" sh -c \
		'[ ! -e /usr/local/lib/systemd/system/heraldd.service ] && [ ! -e /usr/local/sbin/heraldd ] && [ -f /etc/herald/herald.conf ]'
else
	nok "the source tree is visible in the container ($SRC)"
fi

echo "# heraldd journal:"
sed 's/^/#   /' /root/heraldd.journal | tail -n 25
