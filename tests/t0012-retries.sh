#!/bin/sh
# t0012: provider failures end to end against tests/fake_server.py: every
# transient failure (429 with retry-after, 5xx, 529, a dropped connection, a
# cut-off or non-JSON body) is retried and the build loses nothing, with a
# ledger row per try; retry-after-ms and x-should-retry; giving up after five
# tries; 400, 404 and 413 fail one target with the provider's message and its
# dependents are skipped; a missing key, a 401 and a 403 exit 4.
. "$(dirname "$0")/lib.sh"

fake_provider ANTHROPIC_API_KEY --answers "$ANSWERS" --strict-answers

# statuses LOG: "TARGET STATUS" per logged request, in order
statuses() {
	python3 -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    print(e["target"], e["status"])
' "$1"
}

# gap LOG TARGET: seconds between the first two requests for TARGET
gap() {
	python3 -c '
import json, sys
t = [json.loads(l)["time"] for l in open(sys.argv[1]) if json.loads(l)["target"] == sys.argv[2]]
print("%.3f" % (t[1] - t[0]))
' "$1" "$2"
}

# at_least A B: A >= B as decimals
at_least() { python3 -c 'import sys; sys.exit(float(sys.argv[1]) < float(sys.argv[2]))' "$1" "$2"; }

expect_success 'every transient failure is retried and the build loses nothing' '
	fake_reset && new_project p1 && cd p1 &&
	fake_control "{\"faults\": [
		{\"target\": \"T-001\", \"status\": 429, \"retry_after\": 100},
		{\"target\": \"T-001\", \"status\": 500},
		{\"target\": \"T-002\", \"status\": 502},
		{\"target\": \"T-002\", \"status\": 503},
		{\"target\": \"T-003\", \"status\": 504},
		{\"target\": \"T-003\", \"status\": 529},
		{\"target\": \"T-004\", \"drop\": true},
		{\"target\": \"T-004\", \"cut\": true},
		{\"target\": \"T-005\", \"garbage\": true}]}" >/dev/null &&
	mpbuild --progress plain >../out 2>&1 &&
	grep "5 built, 0 restored, 0 up to date, 0 failed, 0 skipped" ../out &&
	grep "success: 5 at the first attempt, 0 after a retry, 0 failed" ../out &&
	same_as_answers . &&
	statuses "$FAKE_LOG" >../st &&
	cat >../want <<-EOF &&
	T-001 429
	T-001 500
	T-001 200
	T-002 502
	T-002 503
	T-002 200
	T-003 504
	T-003 529
	T-003 200
	T-004 dropped
	T-004 cut
	T-004 200
	T-005 200
	T-005 200
	EOF
	cmp_files ../want ../st &&
	ledger "SELECT target, attempt, try, outcome, input + cache_write + cache_read + output > 0, cost > 0
		FROM ledger ORDER BY id" >../rows &&
	cat >../want <<-EOF &&
	T-001|1|1|retry|0|0
	T-001|1|2|retry|0|0
	T-001|1|3|ok|1|1
	T-002|1|1|retry|0|0
	T-002|1|2|retry|0|0
	T-002|1|3|ok|1|1
	T-003|1|1|retry|0|0
	T-003|1|2|retry|0|0
	T-003|1|3|ok|1|1
	T-004|1|1|retry|0|0
	T-004|1|2|retry|0|0
	T-004|1|3|ok|1|1
	T-005|1|1|retry|0|0
	T-005|1|2|ok|1|1
	EOF
	cmp_files ../want ../rows &&
	mpbuild --progress plain >../out && grep "everything is up to date" ../out
'

expect_success 'retry-after (seconds) is honoured: the second try waits for it' '
	g=$(gap "$FAKE_LOG" T-001) && echo "retried after $g s" &&
	at_least "$g" 0.9
'

expect_success 'retry-after-ms is honoured, x-should-retry true retries a 400 and false makes a 500 final' '
	fake_reset && new_project p2 && cd p2 &&
	fake_control "{\"faults\": [
		{\"target\": \"T-001\", \"status\": 529, \"retry_after_ms\": 50000},
		{\"target\": \"T-001\", \"status\": 400, \"should_retry\": true},
		{\"target\": \"T-002\", \"status\": 500, \"should_retry\": false, \"message\": \"try elsewhere\"}]}" >/dev/null &&
	expect_code 1 mpbuild --progress plain >../out 2>&1 &&
	grep "T-001 Tokenizer: built" ../out &&
	grep "T-002 Word counter: failed — provider answered 500: try elsewhere$" ../out &&
	statuses "$FAKE_LOG" >../st &&
	printf "T-001 529\nT-001 400\nT-001 200\nT-002 500\n" >../want && cmp_files ../want ../st &&
	g=$(gap "$FAKE_LOG" T-001) && echo "retried after $g s" && at_least "$g" 0.45 &&
	mpbuild --progress plain >../out && grep "4 built, 0 restored, 1 up to date, 0 failed" ../out
'

expect_success 'five transient failures in a row fail the target after five tries' '
	fake_reset && new_project p3 && cd p3 &&
	fake_control "{\"faults\": [{\"target\": \"T-002\", \"status\": 503, \"times\": 5}]}" >/dev/null &&
	expect_code 1 mpbuild --progress plain >../out 2>&1 &&
	grep "T-002 Word counter: failed — provider answered 503: Service unavailable (gave up after 5 tries)$" ../out &&
	grep "T-001 Tokenizer: built" ../out &&
	grep "T-003 .*: skipped — T-002 failed" ../out &&
	test "$(ledger "SELECT group_concat(try || outcome, \" \") FROM ledger WHERE target = \"T-002\"")" = \
		"1retry 2retry 3retry 4retry 5retry" &&
	test "$(grep -c "\"target\": \"T-002\"" "$FAKE_LOG")" = 5 &&
	mpbuild status >../st && grep "^failed .*T-002 .*gave up after 5 tries" ../st &&
	mpbuild --progress plain >../out && grep "4 built, 0 restored, 1 up to date, 0 failed" ../out
'

expect_success 'a stalled answer is abandoned after MPBUILD_STALL_TIMEOUT and retried' '
	fake_reset && new_project ps && cd ps &&
	fake_control "{\"faults\": [{\"target\": \"T-001\", \"stall\": 60}]}" >/dev/null &&
	start=$(date +%s) && MPBUILD_STALL_TIMEOUT=1 mpbuild T-001 --progress plain >../out 2>&1 &&
	test $(($(date +%s) - start)) -lt 45 &&
	grep "T-001 Tokenizer: built" ../out &&
	test "$(ledger "SELECT group_concat(try || outcome, \" \") FROM ledger")" = "1retry 2ok"
'

expect_success 'rate-limit headers pace the calls instead of collecting 429s' '
	fake_reset && new_project pr && cd pr &&
	fake_control "{\"ratelimit\": {\"anthropic-ratelimit-requests-remaining\": \"0\",
		\"anthropic-ratelimit-requests-reset\": \"+100\"}}" >/dev/null &&
	mpbuild T-001 T-002 --progress plain >../out 2>&1 && grep "2 built" ../out &&
	fake_control "{\"ratelimit\": {}}" >/dev/null &&
	statuses "$FAKE_LOG" >../st && printf "T-001 200\nT-002 200\n" >../want && cmp_files ../want ../st &&
	g=$(python3 -c "
import json, sys
t = [json.loads(l)[\"time\"] for l in open(sys.argv[1])]
print(t[1] - t[0])" "$FAKE_LOG") && echo "paced $g s" && at_least "$g" 0.5
'

expect_success 'an answer cut off at max_tokens fails its target, billed, with no retry' '
	fake_reset && new_project pm && cd pm &&
	fake_control "{\"faults\": [{\"target\": \"T-002\", \"stop_reason\": \"max_tokens\"}]}" >/dev/null &&
	expect_code 1 mpbuild --progress plain >../out 2>&1 &&
	grep "T-002 Word counter: failed — answer cut off at max_tokens (16000)" ../out &&
	test "$(ledger "SELECT try, outcome, output > 0, cost > 0 FROM ledger WHERE target = \"T-002\"")" = "1|failed|1|1" &&
	mpbuild --progress plain >../out && grep "4 built, 0 restored, 1 up to date, 0 failed" ../out
'

expect_success 'thinking blocks before the answer are skipped' '
	fake_reset && new_project pt && cd pt && fake_control "{\"thinking\": true}" >/dev/null &&
	mpbuild T-001 --progress plain >../out 2>&1 && grep "T-001 Tokenizer: built" ../out &&
	fake_control "{\"thinking\": false}" >/dev/null &&
	grep -q "\"target\": \"T-001\"" "$FAKE_LOG"
'

expect_success 'a rejected answer is asked again with the error as a second, uncached text block' '
	fake_reset && new_project pf && cd pf &&
	python3 - "$ANSWERS/T-001.json" >../control <<-"PY" &&
	import json, sys
	good = json.load(open(sys.argv[1]))
	bad = {"files": [{"path": "demo/src/wrong.h", "content": "/* wrong */\n"}], "summary": None}
	print(json.dumps({"answers": {"T-001": [bad, good]}}))
	PY
	fake_control "$(cat ../control)" >/dev/null &&
	mpbuild T-001 --progress plain >../out 2>&1 && grep "T-001 Tokenizer: built" ../out &&
	grep "success: 0 at the first attempt, 1 after a retry, 0 failed" ../out &&
	test "$(ledger "SELECT group_concat(attempt || \".\" || try || outcome, \" \") FROM ledger")" = "1.1ok 2.1ok" &&
	test -f cache/failed/T-001/1/answer.json && ! test -e demo/src/wrong.h &&
	python3 - "$FAKE_LOG" <<-"PY"
	import json, sys
	a, b = [json.loads(l) for l in open(sys.argv[1])]
	ba, bb = json.loads(a["body"]), json.loads(b["body"])
	assert ba["system"] == bb["system"]
	ca, cb = ba["messages"][0]["content"], bb["messages"][0]["content"]
	assert len(ca) == 1 and len(cb) == 2, (len(ca), len(cb))
	assert cb[0] == ca[0], "the task layer changed on the retry"
	assert "wrong.h" in cb[1]["text"], cb[1]["text"]
	assert all("cache_control" not in c for c in cb)
	assert b["usage"]["cache_read_input_tokens"] > 0, b["usage"]
	PY
'

expect_success 'a prose answer (no JSON object) is judged wrong like any other: asked again with the reason' '
	fake_reset && new_project pp && cd pp &&
	fake_control "{\"faults\": [{\"target\": \"T-001\", \"text\": \"Sure! Here is the tokenizer you asked for.\"}]}" >/dev/null &&
	mpbuild T-001 --progress plain >../out 2>&1 && grep "T-001 Tokenizer: built" ../out &&
	grep "success: 0 at the first attempt, 1 after a retry, 0 failed" ../out &&
	test -f cache/failed/T-001/1/error.txt &&
	python3 - "$FAKE_LOG" <<-"PY"
	import json, sys
	a, b = [json.loads(l) for l in open(sys.argv[1])]
	cb = json.loads(b["body"])["messages"][0]["content"]
	assert "rejected" in cb[-1]["text"] and "JSON" in cb[-1]["text"], cb[-1]["text"]
	PY
'

for STATUS in 400 404 413; do
	expect_success "a $STATUS fails its target with the provider's message; dependents skipped, others go on" '
		fake_reset && new_project p$STATUS && cd p$STATUS &&
		msg="the provider says $STATUS: max_tokens: 999999 > 128000, which is the maximum allowed" &&
		fake_control "{\"faults\": [{\"target\": \"T-001\", \"status\": $STATUS, \"message\": \"$msg\"}]}" >/dev/null &&
		expect_code 1 mpbuild --progress plain >../out 2>&1 &&
		grep "T-001 Tokenizer: failed — provider answered $STATUS: $msg$" ../out &&
		grep "T-002 Word counter: built" ../out &&
		grep "T-003 .*: skipped — T-001 failed" ../out &&
		grep "T-004 .*: skipped — T-001 failed" ../out &&
		grep "T-005 .*: skipped — T-001 failed" ../out &&
		grep "1 built, 0 restored, 0 up to date, 1 failed, 3 skipped" ../out &&
		test "$(grep -c "\"target\": \"T-001\"" "$FAKE_LOG")" = 1 &&
		test "$(ledger "SELECT try, outcome FROM ledger WHERE target = \"T-001\"")" = "1|failed" &&
		test -f demo/src/counter.c && ! test -e demo/src/tokenize.c &&
		mpbuild status >../st && grep "^failed .*T-001 .*provider answered $STATUS" ../st &&
		mpbuild --progress plain >../out && grep "4 built, 0 restored, 1 up to date, 0 failed" ../out
	'
done

expect_success 'a missing ANTHROPIC_API_KEY exits 4 naming the variable, before any request' '
	fake_reset && new_project pk && cd pk &&
	(unset ANTHROPIC_API_KEY; expect_code 4 mpbuild --progress plain >../out 2>../err) &&
	grep "^mpbuild: ANTHROPIC_API_KEY is not set" ../err &&
	(ANTHROPIC_API_KEY= && expect_code 4 mpbuild --progress plain >../out 2>../err) &&
	grep "^mpbuild: ANTHROPIC_API_KEY is not set" ../err &&
	! test -s "$FAKE_LOG" && ! test -e demo
'

expect_success 'a 401 exits 4 at once, naming the key, with no retry and no further call' '
	fake_reset && new_project p401 && cd p401 &&
	(ANTHROPIC_API_KEY=not-the-key && expect_code 4 mpbuild --progress plain >../out 2>&1) &&
	grep "authentication failed (401): invalid x-api-key; check ANTHROPIC_API_KEY" ../out &&
	statuses "$FAKE_LOG" >../st && echo "T-001 401" >../want && cmp_files ../want ../st &&
	! test -e demo &&
	mpbuild --progress plain >../out && grep "5 built" ../out
'

expect_success 'a 403 exits 4 too' '
	fake_reset && new_project p403 && cd p403 &&
	fake_control "{\"faults\": [{\"target\": \"T-002\", \"status\": 403}]}" >/dev/null &&
	expect_code 4 mpbuild --progress plain >../out 2>&1 &&
	grep "T-002 .*authentication failed (403): .*check ANTHROPIC_API_KEY" ../out &&
	statuses "$FAKE_LOG" >../st && printf "T-001 200\nT-002 403\n" >../want && cmp_files ../want ../st &&
	grep -q "T-001:" mpbuild.lock && ! grep -q "T-002:" mpbuild.lock
'

expect_success 'no API key in anything mpbuild wrote or printed' '
	! grep -rlaF "$KEY" "$TRASH"
'

done_testing
