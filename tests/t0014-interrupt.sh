#!/bin/sh
# t0014: interrupting a build that talks to tests/fake_server.py (SPEC 7, 8):
# a first Ctrl-C lets the call in flight finish and land, starts nothing new
# and exits 130; a second one aborts the call in flight; kill -9 in the middle
# of a call.  In every case the finished targets are in the lock (or state.db),
# no file is half-written, and the next run finishes the build.
. "$(dirname "$0")/lib.sh"

fake_provider ANTHROPIC_API_KEY --answers "$ANSWERS" --strict-answers

# wait_asked TARGET: until the fake server has received a request for TARGET (at most 60 s)
wait_asked() {
	python3 - "$FAKE_URL/_control" "$1" <<-"PY"
	import json, sys, time, urllib.request
	for _ in range(600):
	    if sys.argv[2] in json.load(urllib.request.urlopen(sys.argv[1], timeout=5))["asked"]:
	        sys.exit(0)
	    time.sleep(0.1)
	sys.exit("no request for %s" % sys.argv[2])
	PY
}

# same_as_answer DIR T: the outputs of T in DIR are those of its fixture answer
same_as_answer() {
	python3 - "$ANSWERS/$2.json" "$1" <<-"PY"
	import json, os, sys
	for f in json.load(open(sys.argv[1], encoding="utf-8"))["files"]:
	    got = open(os.path.join(sys.argv[2], f["path"]), "rb").read()
	    assert got == f["content"].encode("utf-8"), f["path"] + " differs"
	PY
}

# no_leftovers: no temporary or set-aside file anywhere in the project
no_leftovers() {
	find . -name "*.mpbuild-*" >../left && cat ../left && ! test -s ../left
}

expect_success 'a first Ctrl-C lets the call in flight land, starts nothing new and exits 130' '
	fake_reset && new_project p1 && cd p1 &&
	fake_control "{\"faults\": [{\"target\": \"T-003\", \"delay\": 5}]}" >/dev/null &&
	{ "$MPBUILD" --progress plain >../out 2>../err & pid=$!; } &&
	wait_asked T-003 && kill -INT $pid &&
	{ wait $pid; rc=$?; } ; cat ../out ../err; test $rc = 130 &&
	grep "T-003 .*: built" ../out && ! grep "T-004" ../out &&
	for t in T-001 T-002 T-003; do grep -q "^  $t:" mpbuild.lock || exit 1; same_as_answer . $t || exit 1; done &&
	! grep "T-004\|T-005" mpbuild.lock && ! test -e demo/Makefile &&
	test "$(wc -l <"$FAKE_LOG")" = 3 &&
	no_leftovers &&
	mpbuild --progress plain >../out && grep "2 built, 0 restored, 3 up to date, 0 failed" ../out &&
	test "$(wc -l <"$FAKE_LOG")" = 5
'

expect_success 'a second Ctrl-C aborts the call in flight: nothing of it lands' '
	fake_reset && new_project p2 && cd p2 &&
	fake_control "{\"faults\": [{\"target\": \"T-003\", \"delay\": 60}]}" >/dev/null &&
	{ "$MPBUILD" --progress plain >../out 2>../err & pid=$!; } &&
	wait_asked T-003 && kill -INT $pid && sleep 0.3 && kill -INT $pid &&
	start=$(date +%s) && { wait $pid; rc=$?; } ; cat ../out ../err; test $rc = 130 &&
	test $(($(date +%s) - start)) -lt 40 &&
	grep -q "^  T-001:" mpbuild.lock && grep -q "^  T-002:" mpbuild.lock && ! grep "T-003" mpbuild.lock &&
	! test -e demo/src/main.c && no_leftovers &&
	fake_control "{\"clear_faults\": true}" >/dev/null &&
	mpbuild --progress plain >../out && grep "3 built, 0 restored, 2 up to date, 0 failed" ../out &&
	same_as_answer . T-003 && same_as_answer . T-005
'

expect_success 'kill -9 during a call: the next run keeps what was finished and completes' '
	fake_reset && new_project p3 && cd p3 &&
	fake_control "{\"faults\": [{\"target\": \"T-004\", \"delay\": 60}]}" >/dev/null &&
	{ "$MPBUILD" --progress plain >../out 2>../err & pid=$!; } &&
	wait_asked T-004 && kill -KILL $pid; wait $pid; rc=$?; test $rc = 137 &&
	fake_control "{\"clear_faults\": true}" >/dev/null && n0=$(wc -l <"$FAKE_LOG") &&
	mpbuild --progress plain >../out && grep "2 built, 0 restored, 3 up to date, 0 failed" ../out &&
	test "$(tail -n +$((n0 + 1)) "$FAKE_LOG" | grep -c "\"target\": \"T-00[123]\"")" = 0 &&
	for t in T-001 T-002 T-003 T-004 T-005; do same_as_answer . $t || exit 1; done &&
	no_leftovers
'

done_testing
