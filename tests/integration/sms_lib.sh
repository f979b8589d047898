# sms_lib.sh - helpers shared by the sms channel's integration tests
# (sourced after lib.sh).

# stop_quick PID...: TERM each, then reap it as soon as it has exited (up
# to 5 s, then KILL). Under dash an exited child stays a zombie until
# waited for, so lib.sh's cleanup would otherwise spend its full 5 s on each;
# once reaped here, the cleanup finds nothing left to stop.
stop_quick() {
	for _q in "$@"; do
		kill -TERM "$_q" 2>/dev/null || continue
		_n=0
		while [ $_n -lt 50 ]; do
			_st=$(ps -o stat= -p "$_q" 2>/dev/null)
			case "$_st" in "" | Z*) break ;; esac
			sleep 0.1
			_n=$((_n + 1))
		done
		kill -KILL "$_q" 2>/dev/null || true
		wait "$_q" 2>/dev/null || true
	done
}

# kannel_conf: a Kannel with the test SMSC (smsc = fake) on free loopback
# ports. Refuses (not ok, exit) when bearerbox, smsbox or fakesmsc are
# missing; sets FAKESMSC, ADMIN_PORT, BOX_PORT, SENDSMS_PORT, FAKE_PORT and
# K (the folder) and writes $K/kannel.conf with the core, smsc, smsbox and
# sendsms-user (herald / k4nnel-pw) groups; a test appends its own groups.
kannel_conf() {
	FAKESMSC=${FAKESMSC:-/usr/lib/kannel/test/fakesmsc}
	for b in /usr/sbin/bearerbox /usr/sbin/smsbox "$FAKESMSC"; do
		if [ ! -x "$b" ]; then
			not_ok "Kannel test programs installed ($b missing: apt-get install kannel kannel-extras)"
			finish
			exit 1
		fi
	done
	ADMIN_PORT=$(free_port)
	BOX_PORT=$(free_port)
	SENDSMS_PORT=$(free_port)
	FAKE_PORT=$(free_port)
	K=$T/kannel
	mkdir -p "$K"
	cat >"$K/kannel.conf" <<EOF
group = core
admin-port = $ADMIN_PORT
admin-interface = 127.0.0.1
admin-password = adm1n-$$
admin-allow-ip = "127.0.0.1"
smsbox-port = $BOX_PORT
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
log-file = "$K/bearerbox.log"
log-level = 0
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = FAKE
port = $FAKE_PORT
our-host = 127.0.0.1
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = $BOX_PORT
sendsms-port = $SENDSMS_PORT
sendsms-interface = 127.0.0.1
log-file = "$K/smsbox.log"
log-level = 0

group = sendsms-user
username = herald
password = k4nnel-pw
max-messages = 10
concatenation = true
EOF
}

# kannel_bearerbox: starts bearerbox on $K/kannel.conf (BB_PID) and waits
# until its fake SMSC listens. The test then starts fakesmsc (FAKE_PID) its
# own way and calls kannel_smsbox.
kannel_bearerbox() {
	/usr/sbin/bearerbox -v 1 "$K/kannel.conf" >"$K/bearerbox.out" 2>&1 &
	BB_PID=$!
	track_pid $BB_PID
	wait_for 10 grep -q "Adding interface fake\|FAKE.*listening\|Start-up done" "$K/bearerbox.log" ||
		wait_for 5 sh -c "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $FAKE_PORT), 1)'"
}

# kannel_smsbox: starts smsbox (SB_PID) and checks that its sendsms port
# answers (ok); not ok, the Kannel logs and exit when it does not.
kannel_smsbox() {
	/usr/sbin/smsbox -v 1 "$K/kannel.conf" >"$K/smsbox.out" 2>&1 &
	SB_PID=$!
	track_pid $SB_PID
	if wait_for 20 sh -c "curl -s -o /dev/null -w '%{http_code}' 'http://127.0.0.1:$SENDSMS_PORT/cgi-bin/sendsms' | grep -q '^[1-5]'"; then
		ok "Kannel smsbox answers on 127.0.0.1:$SENDSMS_PORT"
	else
		not_ok "Kannel smsbox answers on 127.0.0.1:$SENDSMS_PORT"
		tail -20 "$K/bearerbox.log" "$K/smsbox.log" | sed 's/^/#   /'
		finish
		exit 1
	fi
}

# kannel_sms_conf: the [channel.sms] section that sends through this Kannel
# (profile kannel, its sendsms port and user), for write_conf or a
# chanrun ini; a test adds its own keys below it.
kannel_sms_conf() {
	cat <<EOF
[channel.sms]
profile = kannel
url = http://127.0.0.1:$SENDSMS_PORT/cgi-bin/sendsms
username = herald
password = k4nnel-pw
from = HERALD
timeout = 5
EOF
}
