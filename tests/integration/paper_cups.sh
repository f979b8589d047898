# paper_cups.sh - start a private cupsd for the paper channel tests (sourced
# after lib.sh). Everything lives under $T/cups; it listens on 127.0.0.1 only
# and is stopped by PID through lib.sh's trap.
#
#   start_cups     -> $CUPS_PORT, $CUPS_SPOOL (RequestRoot), cupsd running
#   cups_queue NAME DEVICE-URI [lpadmin options...]   add an enabled queue
#   lpc ...        run an lp* client command against it (lpc lpstat -o)

start_cups() {
	CUPS_PORT=$(free_port)
	CUPS_DIR=$T/cups
	CUPS_SPOOL=$CUPS_DIR/spool
	mkdir -p "$CUPS_DIR/spool" "$CUPS_DIR/cache" "$CUPS_DIR/state" "$CUPS_DIR/log" \
		"$CUPS_DIR/tmp" "$CUPS_DIR/ppd" "$CUPS_DIR/bin/backend"
	# ServerBin: the packaged filters and helpers, plus one backend of ours,
	# "herald-fail", that always fails (CUPS_BACKEND_FAILED). Mode 0700 makes
	# cupsd run it as root, which can reach $T.
	for _d in /usr/lib/cups/*; do
		[ "$_d" = /usr/lib/cups/backend ] || ln -s "$_d" "$CUPS_DIR/bin/"
	done
	printf '#!/bin/sh\n[ $# -eq 0 ] && exit 0\necho "ERROR: herald-fail backend" >&2\nexit 1\n' \
		>"$CUPS_DIR/bin/backend/herald-fail"
	chmod 0700 "$CUPS_DIR/bin/backend/herald-fail"
	cat >"$CUPS_DIR/cupsd.conf" <<CONF
Listen 127.0.0.1:$CUPS_PORT
LogLevel info
Browsing No
WebInterface No
DefaultAuthType None
PreserveJobFiles Yes
PreserveJobHistory Yes
MaxJobs 0
<Location />
  Order allow,deny
  Allow all
</Location>
<Policy default>
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
CONF
	# cupsd refuses "User root"; its defaults (lp / lpadmin) are fine.
	cat >"$CUPS_DIR/cups-files.conf" <<CONF
ServerRoot $CUPS_DIR
RequestRoot $CUPS_SPOOL
CacheDir $CUPS_DIR/cache
StateDir $CUPS_DIR/state
TempDir $CUPS_DIR/tmp
ServerBin $CUPS_DIR/bin
AccessLog $CUPS_DIR/log/access_log
ErrorLog $CUPS_DIR/log/error_log
PageLog $CUPS_DIR/log/page_log
FileDevice Yes
CONF
	cupsd -f -c "$CUPS_DIR/cupsd.conf" -s "$CUPS_DIR/cups-files.conf" \
		>"$CUPS_DIR/cupsd.out" 2>&1 &
	CUPS_PID=$!
	track_pid $CUPS_PID
	# lpstat -r exits 0 either way: look at what it says
	if ! wait_for 15 cups_running; then
		echo "# cupsd did not start"
		sed 's/^/#   /' "$CUPS_DIR/cupsd.out"
		tail -n 20 "$CUPS_DIR/log/error_log" 2>/dev/null | sed 's/^/#   /'
		exit 1
	fi
}

cups_running() {
	lpstat -h "127.0.0.1:$CUPS_PORT" -r 2>/dev/null | grep -q 'scheduler is running'
}

lpc() {
	_cmd=$1
	shift
	"$_cmd" -h "127.0.0.1:$CUPS_PORT" "$@"
}

cups_queue() {
	_q=$1
	_uri=$2
	shift 2
	lpc lpadmin -p "$_q" -E -v "$_uri" "$@"
}
