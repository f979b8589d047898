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
