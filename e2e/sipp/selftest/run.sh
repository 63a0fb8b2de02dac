#!/bin/sh
# Runs every carrier scenario of e2e/sipp against its stand-in bridge in
# selftest/ (sipp against sipp on 127.0.0.1) and prints PASS/FAIL per pair.
# It proves the scenarios themselves: each step, header check and exit code.
# Usage: e2e/sipp/selftest/run.sh [scenario-name ...]   (default: all)
# Ports: SIPP_SELFTEST_PORT (default 35200) and the next few dozen.
set -u
cd "$(dirname "$0")/.." || exit 2
base=${SIPP_SELFTEST_PORT:-35200}
logs=$(mktemp -d)
fail=0
n=0

extra_args() {
	case "$1" in
	uas_bye_from_far_end) echo "-set talk_ms 1000 -set reason_cause 34" ;;
	uas_session_timer) echo "-set se 10 -set allow INVITE,ACK,BYE,CANCEL,OPTIONS,UPDATE" ;;
	uas_session_timer_no_refresh) echo "-set se 3" ;;
	uas_422_min_se) echo "-set min_se 6" ;;
	uas_183_then_200_new_sdp) echo "-set answer_port $(($2 + 1004))" ;;
	uas_reinvite_hold_unhold) echo "-set hold_ms 2000 -set talk_ms 2000" ;;
	esac
}
uac_args() {
	case "$1" in
	uas_407_challenge) echo "-au agent7 -ap s3cret" ;;
	esac
}

names=${*:-$(for f in uas_*.xml; do basename "$f" .xml; done)}
for name in $names; do
	uas_port=$((base + n * 4))
	uac_port=$((uas_port + 1))
	n=$((n + 1))
	# shellcheck disable=SC2046
	sipp -sf "$name.xml" $(extra_args "$name" "$uas_port") -i 127.0.0.1 -p "$uas_port" \
		-mi 127.0.0.1 -mp $((uas_port + 1000)) -rtp_echo -m 1 -nostdin -timeout 40s \
		-trace_err -error_file "$logs/$name.uas.err" -trace_msg -message_file "$logs/$name.uas.msg" \
		>"$logs/$name.uas.out" 2>&1 &
	uas=$!
	sleep 0.3
	# shellcheck disable=SC2046
	sipp 127.0.0.1:"$uas_port" -sf "selftest/uac_for_${name#uas_}.xml" $(uac_args "$name") -s +15550100001 \
		-i 127.0.0.1 -p "$uac_port" -mi 127.0.0.1 -mp $((uas_port + 1010)) -m 1 -nostdin -timeout 40s \
		-trace_err -error_file "$logs/$name.uac.err" -trace_msg -message_file "$logs/$name.uac.msg" \
		>"$logs/$name.uac.out" 2>&1
	uac_rc=$?
	wait "$uas"
	uas_rc=$?
	if [ "$uas_rc" -eq 0 ] && [ "$uac_rc" -eq 0 ]; then
		echo "PASS $name"
	else
		echo "FAIL $name (uas rc=$uas_rc, uac rc=$uac_rc; logs in $logs)"
		fail=1
	fi
done
[ "$fail" -eq 0 ] && rm -rf "$logs"
exit "$fail"
