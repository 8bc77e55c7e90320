#!/bin/sh
# t0015: -j against tests/fake_server.py (SPEC 5, 10.12): independent tasks are
# called at once, a task never before the tasks it depends on, -j 1 one call
# at a time; ready tasks that share an uncached prefix wait until the first
# has its answer, so they read the prefix instead of each writing it, and a
# prefix an earlier run wrote is not waited for; reservations of calls in
# flight count against the budget; a Ctrl-C lets every call in flight land.
. "$(dirname "$0")/lib.sh"

# five documentation tasks: T-001..T-004 independent, T-005 after T-001 and T-002
mkdir answers
for i in 1 2 3 4 5; do
	printf '{"files": [{"path": "docs/n%s.md", "content": "# Note %s\\n\\nThe note number %s.\\n"}]}\n' $i $i $i \
		>answers/T-00$i.json
done
plan() {
	mkdir -p "$1/plans" && {
		printf 'version: 1\nproject: notes\nphases:\n  - {id: P1, title: Notes}\n'
		printf 'milestones:\n  - {id: M1, phase: P1, title: Written}\ntasks:\n'
		for i in 1 2 3 4 5; do
			deps='[]'
			[ $i = 5 ] && deps='[T-001, T-002]'
			printf '  - id: T-00%s\n    title: Note %s\n    description: Write note number %s.\n' $i $i $i
			printf '    milestone: M1\n    complexity: low\n    rule: docs\n    depends_on: %s\n' "$deps"
			printf '    outputs: [docs/n%s.md]\n' $i
		done
	} >"$1/plans/masterplan.yaml"
}

fake_provider ANTHROPIC_API_KEY --answers "$TRASH/answers" --strict-answers

# calls.py: the fake server's log as "TARGET START END" per request, times
# relative to the first request, and checks on how they overlap
cat >calls.py <<'PY'
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
t0 = min(e["time"] for e in log)
calls = {e["target"]: (e["time"] - t0, e["answered"] - t0, e["usage"]) for e in log}
for t in sorted(calls):
    print("%s %.2f %.2f" % (t, calls[t][0], calls[t][1]), file=sys.stderr)
def overlap(a, b):
    return calls[a][0] < calls[b][1] and calls[b][0] < calls[a][1]
def before(a, b):  # a was answered before b was asked
    return calls[a][1] <= calls[b][0]
def most_in_flight():  # at any one moment (two calls can each overlap a third yet not each other)
    ev = sorted([(calls[t][1], -1) for t in calls] + [(calls[t][0], 1) for t in calls])
    n = top = 0
    for _, d in ev:
        n += d
        top = max(top, n)
    return top
PY
# warm live|expired|expire: count the prefixes state.db remembers as written
# within their TTL, or past it; or put them all past it, with one more that
# no task uses
warm() {
	case $1 in
	live) ledger "SELECT count(*) FROM meta WHERE name LIKE 'warm:%' AND CAST(value AS REAL) > CAST(strftime('%s', 'now') AS REAL)" ;;
	expired) ledger "SELECT count(*) FROM meta WHERE name LIKE 'warm:%' AND CAST(value AS REAL) <= CAST(strftime('%s', 'now') AS REAL)" ;;
	expire)
		ledger "UPDATE meta SET value = '1' WHERE name LIKE 'warm:%'" &&
		ledger "INSERT INTO meta(name, value) VALUES ('warm:gone', '1')" ;;
	esac
}
check_calls() { python3 -c "exec(open('$TRASH/calls.py').read()); $2" "$1"; }

expect_success '-j 4: independent tasks overlap; the first call writes the shared prefix, the rest read it' '
	fake_reset && plan p1 && cd p1 &&
	fake_control "{\"faults\": [{\"delay\": 1, \"times\": 100}]}" >/dev/null &&
	mpbuild -j 4 --progress plain >../out 2>&1 && cat ../out &&
	grep "5 built, 0 restored" ../out &&
	test "$(wc -l <"$FAKE_LOG")" = 5 &&
	check_calls "$FAKE_LOG" "
first = min(calls, key=lambda t: calls[t][0])
rest = [t for t in [\"T-001\", \"T-002\", \"T-003\", \"T-004\"] if t != first]
assert all(before(first, t) for t in rest), \"a call did not wait for the prefix\"
assert overlap(rest[0], rest[1]) and overlap(rest[1], rest[2]), \"calls did not overlap\"
assert before(\"T-001\", \"T-005\") and before(\"T-002\", \"T-005\"), \"T-005 went before its dependencies\"
w = calls[first][2]
assert w[\"cache_creation_input_tokens\"] > 0, w
for t in rest + [\"T-005\"]:
    u = calls[t][2]
    assert u[\"cache_read_input_tokens\"] >= w[\"cache_creation_input_tokens\"], (t, u, w)
" &&
	for i in 1 2 3 4 5; do cmp docs/n$i.md - <<-EOF || exit 1
	# Note $i

	The note number $i.
	EOF
	done &&
	test "$(ledger "SELECT count(*) FROM ledger")" = 5
'

expect_success 'a prefix an earlier run wrote within its TTL is not waited for' '
	cd p1 && : >"$FAKE_LOG" &&
	mpbuild -j 4 -B T-001 T-002 T-003 T-004 --progress plain >../out 2>&1 &&
	grep "4 built" ../out &&
	check_calls "$FAKE_LOG" "
ts = [\"T-001\", \"T-002\", \"T-003\", \"T-004\"]
assert all(overlap(a, b) for a in ts for b in ts if a != b), \"calls were held back\"
assert all(calls[t][2][\"cache_read_input_tokens\"] > 0 for t in ts)
"
'

expect_success 'a remembered prefix past its TTL is written again by one call while the rest wait' '
	cd p1 && : >"$FAKE_LOG" &&
	test "$(warm live)" -gt 0 && warm expire && test "$(warm live)" = 0 &&
	fake_control "{\"advance\": 600}" >/dev/null &&
	mpbuild -j 4 -B T-001 T-002 T-003 T-004 --progress plain >../out 2>&1 && cat ../out &&
	grep "4 built" ../out &&
	check_calls "$FAKE_LOG" "
first = min(calls, key=lambda t: calls[t][0])
assert all(before(first, t) for t in calls if t != first), \"a call did not wait for the prefix\"
assert calls[first][2][\"cache_creation_input_tokens\"] > 0
" &&
	test "$(warm expired)" = 0 && test "$(warm live)" -gt 0
'

expect_success '-j 1: one call at a time, in plan order' '
	fake_reset && plan p2 && cd p2 &&
	fake_control "{\"faults\": [{\"delay\": 0.3, \"times\": 100}]}" >/dev/null &&
	mpbuild -j 1 --progress plain >../out 2>&1 && grep "5 built" ../out &&
	check_calls "$FAKE_LOG" "
order = sorted(calls, key=lambda t: calls[t][0])
assert order == [\"T-001\", \"T-002\", \"T-003\", \"T-004\", \"T-005\"], order
assert all(before(a, b) for a, b in zip(order, order[1:]))
"
'

expect_success 'jobs: in mpbuild.yaml is the default for -j' '
	fake_reset && plan p3 && cd p3 &&
	printf "version: 1\njobs: 1\n" >mpbuild.yaml &&
	fake_control "{\"faults\": [{\"delay\": 0.3, \"times\": 100}]}" >/dev/null &&
	mpbuild --progress plain >../out 2>&1 && grep "5 built" ../out &&
	check_calls "$FAKE_LOG" "
order = sorted(calls, key=lambda t: calls[t][0])
assert all(before(a, b) for a, b in zip(order, order[1:]))
"
'

expect_success 'the budget counts the reservations of calls in flight: a call waits until it fits' '
	fake_reset && plan p4 && cd p4 &&
	budget=$(budget_of "w * 2.5") && echo "budget $budget" &&
	fake_control "{\"faults\": [{\"delay\": 1, \"times\": 100}]}" >/dev/null &&
	mpbuild -j 4 --budget "$budget" --progress plain >../out 2>&1 && cat ../out &&
	grep "5 built" ../out &&
	ledger "SELECT sum(cost) <= $budget FROM ledger" | grep -qx 1 &&
	check_calls "$FAKE_LOG" "
assert most_in_flight() <= 2, \"more calls in flight than the budget allows\"
assert overlap(\"T-002\", \"T-003\")
"
'

# T-002's first try is dropped while T-003 is in flight: the dropped try keeps
# its reservation, so the retry fits only once T-003 has settled, and waits
expect_success 'a retry that fits once the calls in flight settle waits for them' '
	fake_reset && plan p6 && cd p6 &&
	budget=$(budget_of "w * 2.5") &&
	fake_control "{\"faults\": [{\"target\": \"T-002\", \"drop\": true}, {\"target\": \"T-003\", \"delay\": 2},
		{\"delay\": 0.3, \"times\": 100}]}" >/dev/null &&
	mpbuild -j 4 --budget "$budget" --progress plain >../out 2>&1 && cat ../out &&
	grep "5 built" ../out &&
	python3 - "$FAKE_LOG" <<-\PY
	import json, sys
	log = [json.loads(l) for l in open(sys.argv[1])]
	t2 = [e for e in log if e["target"] == "T-002"]
	t3 = [e for e in log if e["target"] == "T-003"][0]
	assert len(t2) == 2 and t2[0]["status"] == "dropped", t2
	assert t2[0]["time"] < t3["answered"], "T-002 was not dropped while T-003 was in flight"
	assert t2[1]["time"] >= t3["answered"], "the retry did not wait for T-003 to settle"
	PY
'

# checked_plan DIR RULE: two notes, T-001 (rule docs) with a 3-second check
# that writes its end time to ../DIR.check.end (outside the project: what a check
# writes in the project stays in its box), and T-002 (rule RULE)
checked_plan() {
	mkdir -p "$1/plans" && {
		printf 'version: 1\nproject: notes\nphases:\n  - {id: P1, title: Notes}\n'
		printf 'milestones:\n  - {id: M1, phase: P1, title: Written}\ntasks:\n'
		printf '  - id: T-001\n    title: Note 1\n    description: Write note number 1.\n    milestone: M1\n'
		printf '    complexity: low\n    rule: docs\n    outputs: [docs/n1.md]\n'
		printf '    check: [[sh, -c, "sleep 3; date +%%s.%%N >../%s.check.end"]]\n' "$1"
		printf '  - id: T-002\n    title: Note 2\n    description: Write note number 2.\n    milestone: M1\n'
		printf '    complexity: low\n    rule: %s\n    outputs: [docs/n2.md]\n' "$2"
	} >"$1/plans/masterplan.yaml"
}

# T-001 and T-002 share no cached prefix (other rules), so both are called at
# once; T-001 lands at once and its check runs 3 s, while T-002's first try
# fails after 1 s: its retry is sent during the check, not after it
expect_success 'a retry is sent while another target'"'"'s check runs' '
	fake_reset && checked_plan p7 generic && cd p7 &&
	fake_control "{\"faults\": [{\"target\": \"T-002\", \"status\": 500, \"delay\": 1}]}" >/dev/null &&
	mpbuild -j 2 --progress plain >../out 2>&1 && cat ../out &&
	grep "2 built" ../out && test -s ../p7.check.end && ! test -e check.end &&
	python3 - "$FAKE_LOG" "$(cat ../p7.check.end)" <<-\PY
	import json, sys
	log = [json.loads(l) for l in open(sys.argv[1])]
	t1 = [e for e in log if e["target"] == "T-001"]
	t2 = sorted((e for e in log if e["target"] == "T-002"), key=lambda e: e["time"])
	end = float(sys.argv[2])
	assert len(t1) == 1 and len(t2) == 2 and t2[0]["status"] == 500, (t1, t2)
	assert t2[1]["time"] < end - 1, "the retry waited for the check (%.2f s before its end)" % (end - t2[1]["time"])
	PY
'

# T-002 waits for T-001's prefix; T-001 lands at once and its check runs 3 s:
# T-002 is called during the check, not after it
expect_success 'a task whose prefix is warm is called while another target'"'"'s check runs' '
	fake_reset && checked_plan p8 docs && cd p8 &&
	mpbuild -j 2 --progress plain >../out 2>&1 && cat ../out &&
	grep "2 built" ../out && test -s ../p8.check.end &&
	python3 - "$FAKE_LOG" "$(cat ../p8.check.end)" <<-\PY
	import json, sys
	log = {json.loads(l)["target"]: json.loads(l) for l in open(sys.argv[1])}
	end = float(sys.argv[2])
	assert log["T-001"]["answered"] <= log["T-002"]["time"], "T-002 did not wait for the prefix"
	assert log["T-002"]["usage"]["cache_read_input_tokens"] > 0, log["T-002"]["usage"]
	assert log["T-002"]["time"] < end - 1, "T-002 waited for the check (%.2f s before its end)" % (end - log["T-002"]["time"])
	PY
'

# T-001 goes first (it writes the prefix), then T-002 and T-003 are in flight together
expect_success 'a first Ctrl-C under -j lets every call in flight land, starts nothing new, exits 130' '
	fake_reset && plan p5 && cd p5 &&
	printf "version: 1\ncache_ttl: 5m\n" >mpbuild.yaml &&
	fake_control "{\"faults\": [{\"delay\": 3, \"times\": 100}]}" >/dev/null &&
	{ "$MPBUILD" -j 2 --progress plain >../out 2>../err & pid=$!; } &&
	python3 -c "
import json, sys, time, urllib.request
for _ in range(600):
    if json.load(urllib.request.urlopen(sys.argv[1], timeout=5))[\"requests\"] >= 3:
        sys.exit(0)
    time.sleep(0.1)
sys.exit(\"T-002 and T-003 were not called\")
" "$FAKE_URL/_control" &&
	kill -INT $pid && { wait $pid; rc=$?; }; cat ../out ../err; test $rc = 130 &&
	test "$(grep -c ": built" ../out)" = 3 && test "$(wc -l <"$FAKE_LOG")" = 3 &&
	for t in $(sed -n "s/.*\"target\": \"\(T-00[0-9]\)\".*/\1/p" "$FAKE_LOG"); do
		grep -q "^  $t:" mpbuild.lock || exit 1
	done &&
	! find . -name "*.mpbuild-*" | grep . &&
	mpbuild -j 2 --progress plain >../out && grep "2 built, 0 restored, 3 up to date" ../out
'

done_testing
