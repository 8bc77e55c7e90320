#!/bin/sh
# t0042: mpbuild is not dumpable (prctl PR_SET_DUMPABLE 0), so that other
# processes of the same user cannot read the API key from /proc/PID/environ
# or ptrace it.  The kernel shows it: the /proc/PID files of a non-dumpable
# process belong to root, those of any other to the process's user.  So
# mpbuild runs as a user other than root (nobody, when the tests run as
# root) during a call the fake server holds back.
. "$(dirname "$0")/lib.sh"

test -r /proc/self/environ || { skip_test 'non-dumpable' 'no /proc here'; done_testing; exit; }
if [ "$(id -u)" = 0 ]; then
	command -v setpriv >/dev/null || { skip_test 'non-dumpable' 'running as root without setpriv'; done_testing; exit; }
	AS="setpriv --reuid=65534 --regid=65534 --clear-groups"
	chmod 755 "$TRASH"
else
	AS=
fi

fake_provider ANTHROPIC_API_KEY --answers "$ANSWERS"

# asked: wait until mpbuild's first request reached the fake server (it is
# then well past startup) and is held there
asked() {
	n=0
	while [ $n -lt 100 ]; do
		fake_control | grep -q '"requests": [1-9]' && return
		sleep 0.1
		n=$((n + 1))
	done
	echo "mpbuild sent nothing"
	return 1
}

new_project proj && chmod -R a+rwX proj
fake_control '{"faults": [{"target": "T-001", "delay": 5}]}' >/dev/null
(cd proj && exec $AS "$MPBUILD" --progress plain >../out 2>&1) &
pid=$!
CLEANUP="$CLEANUP kill $pid 2>/dev/null; wait $pid 2>/dev/null;"

expect_success 'the environment and memory of a running mpbuild are root'"'"'s, not its user'"'"'s' '
	asked &&
	test "$(stat -c %u /proc/$pid/environ)" = 0 &&
	test "$(stat -c %u /proc/$pid/mem)" = 0 &&
	grep -q "^Uid:[[:space:]]*[1-9]" /proc/$pid/status
'

kill $pid 2>/dev/null
wait $pid 2>/dev/null

expect_success 'the same look at a dumpable process sees its user (the check can fail)' '
	$AS sleep 5 &
	spid=$! &&
	n=0 && while [ "$(readlink /proc/$spid/exe)" != "$(readlink -f "$(command -v sleep)")" ] && [ $n -lt 50 ]; do
		sleep 0.1; n=$((n + 1)); done &&
	uid=$(stat -c %u /proc/$spid/environ) && kill $spid && wait $spid 2>/dev/null;
	test "$uid" != 0
'

done_testing
