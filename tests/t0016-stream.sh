#!/bin/sh
# t0016: streamed calls (SPEC 10.16) end to end against tests/fake_server.py:
# a streamed build equals a plain one (stream: false) byte for byte, for both
# providers and both structured formats, with the stream split every few
# bytes; a stream hung up on, ended early, stalled or carrying an error event
# is retried and the build ends as a clean one; pings keep a slow stream
# alive; a server that cannot stream works with stream: false; a base URL
# with nobody listening exits 4 within seconds, naming it.
. "$(dirname "$0")/lib.sh"

fake_provider ANTHROPIC_API_KEY --answers "$ANSWERS" --strict-answers
OPENAI_API_KEY=$ANTHROPIC_API_KEY
export OPENAI_API_KEY

HAIKU="models: {low: claude-haiku-5-5, medium: claude-haiku-5-5, high: claude-haiku-5-5}"

# build DIR PROVIDER FORMAT STREAM: the demo built in DIR from a cold cache, one call at a time
build() {
	fake_reset && new_project "$1" &&
	printf "version: 1\nprovider: %s\nanswer_format: %s\nstream: %s\n%s\n" "$2" "$3" "$4" "$HAIKU" \
		>"$1/mpbuild.yaml" &&
	(cd "$1" && mpbuild -j 1 --progress plain >../"$1".out 2>&1) &&
	cp "$FAKE_LOG" "$1.log"
}

# rows DIR: the ledger of DIR without its ids, run ids and latencies
rows() {
	(cd "$1" && ledger "SELECT target, attempt, try, model, input, cache_write, cache_write_1h, cache_read,
		output, cost, outcome FROM ledger ORDER BY id")
}

# streamed LOG YES: every request of LOG asked for a stream (YES=1) or none did (0)
streamed() {
	python3 - "$@" <<-'PY'
	import json, sys
	for l in open(sys.argv[1]):
	    e = json.loads(l)
	    b = json.loads(e["body"])
	    want = sys.argv[2] == "1"
	    assert b.get("stream", False) == want, "stream in %s" % e["target"]
	    assert ("text/event-stream" in e["headers"].get("accept", "")) == want, e["headers"]
	    if e["api"] == "openai" and want:
	        assert b["stream_options"] == {"include_usage": True}
	PY
}

# same DIR1 DIR2: the same outputs, lock and ledger (latency aside)
same() {
	diff -r -x cache -x plans -x mpbuild.yaml "$1" "$2" &&
	cmp_files "$1/mpbuild.lock" "$2/mpbuild.lock" &&
	rows "$1" >"$1.rows" && rows "$2" >"$2.rows" && cmp_files "$1.rows" "$2.rows" &&
	test -s "$1.rows"
}

for pf in anthropic:json_schema anthropic:tool openai:json_schema openai:tool; do
	p=${pf%%:*} f=${pf#*:}
	expect_success "$p, $f: a streamed build equals a plain one byte for byte" '
		build plain-$p-$f $p $f false &&
		streamed plain-$p-$f.log 0 &&
		fake_control "{\"chunk\": 5}" >/dev/null &&
		build stream-$p-$f $p $f true &&
		fake_control "{\"chunk\": 0}" >/dev/null &&
		streamed stream-$p-$f.log 1 &&
		same_as_answers stream-$p-$f &&
		same plain-$p-$f stream-$p-$f
	'
done

expect_success 'a stream hung up on, ended early, stalled or with an error event is retried; the build ends as a clean one' '
	build clean anthropic json_schema true &&
	fake_reset && new_project faults && cp clean/mpbuild.yaml faults/ &&
	fake_control "{\"faults\": [
		{\"target\": \"T-001\", \"cut\": true},
		{\"target\": \"T-002\", \"stream_cut\": true},
		{\"target\": \"T-003\", \"stall\": 4},
		{\"target\": \"T-004\", \"error_event\": \"overloaded_error\"},
		{\"target\": \"T-005\", \"error_event\": \"api_error\", \"chunk\": 3}]}" >/dev/null &&
	(cd faults && MPBUILD_STALL_TIMEOUT=1 mpbuild -j 1 --progress plain >../faults.out 2>&1) &&
	grep "5 built, 0 restored, 0 up to date, 0 failed, 0 skipped" faults.out &&
	same_as_answers faults &&
	diff -r -x cache -x plans clean faults &&
	(cd faults && ledger "SELECT target, try, outcome FROM ledger ORDER BY id") >faults.rows &&
	cat >want <<-EOF &&
	T-001|1|retry
	T-001|2|ok
	T-002|1|retry
	T-002|2|ok
	T-003|1|retry
	T-003|2|ok
	T-004|1|retry
	T-004|2|ok
	T-005|1|retry
	T-005|2|ok
	EOF
	cmp_files want faults.rows
'

expect_success 'the messages name what went wrong with each stream' '
	fake_reset && new_project msgs && cp clean/mpbuild.yaml msgs/ &&
	fake_control "{\"faults\": [{\"target\": \"T-001\", \"stream_cut\": true, \"times\": 5}]}" >/dev/null &&
	(cd msgs && expect_code 1 mpbuild T-001 --progress plain >../msgs.out 2>&1) &&
	grep "answer cut off: the stream ended before message_stop (gave up after 5 tries)" msgs.out &&
	fake_reset &&
	fake_control "{\"faults\": [{\"target\": \"T-001\", \"error_event\": \"invalid_request_error\"}]}" >/dev/null &&
	(cd msgs && expect_code 1 mpbuild T-001 --progress plain >../msgs.out 2>&1) &&
	grep "provider sent an error mid-stream (400): " msgs.out &&
	test "$(grep -c "\"target\": \"T-001\"" "$FAKE_LOG")" = 1 &&
	fake_reset && printf "version: 1\nprovider: openai\n%s\n" "$HAIKU" >msgs/mpbuild.yaml &&
	fake_control "{\"faults\": [{\"target\": \"T-001\", \"stream_cut\": true, \"times\": 5}]}" >/dev/null &&
	(cd msgs && expect_code 1 mpbuild T-001 --progress plain >../msgs.out 2>&1) &&
	grep "answer cut off: the stream ended before \[DONE\]" msgs.out
'

expect_success 'pings keep a slow stream alive: the stall timeout runs between events' '
	fake_reset && new_project pings && cp clean/mpbuild.yaml pings/ &&
	fake_control "{\"faults\": [{\"target\": \"T-001\", \"stall\": 3, \"ping\": 0.3}]}" >/dev/null &&
	(cd pings && MPBUILD_STALL_TIMEOUT=1 mpbuild T-001 --progress plain >../pings.out 2>&1) &&
	(cd pings && ledger "SELECT target, try, outcome FROM ledger") >pings.rows &&
	echo "T-001|1|ok" >want && cmp_files want pings.rows
'

fake_n_before=$fake_n
start_fake_server --answers "$ANSWERS" --strict-answers --no-stream --api-key "$KEY" ||
	skip_test 'a fake server that cannot stream' 'tests/fake_server.py does not start'
NOSTREAM_URL=$FAKE_URL
expect_success 'a server that cannot stream: stream: false sends plain requests' '
	new_project nostream &&
	(cd nostream && ANTHROPIC_BASE_URL=$NOSTREAM_URL expect_code 1 mpbuild T-001 --progress plain >../ns.out 2>&1) &&
	grep "provider answered 400: stream: this server cannot stream" ns.out &&
	printf "version: 1\nstream: false\n" >nostream/mpbuild.yaml &&
	(cd nostream && ANTHROPIC_BASE_URL=$NOSTREAM_URL mpbuild T-001 --progress plain >../ns.out 2>&1) &&
	grep "1 built" ns.out
'

expect_success 'a base URL with nobody listening exits 4 within seconds, naming it and where it came from' '
	port=$(free_port) && new_project refused &&
	start=$(date +%s) &&
	(cd refused && ANTHROPIC_BASE_URL=http://127.0.0.1:$port MPBUILD_BACKOFF_SCALE=1 \
		expect_code 4 mpbuild --progress plain >../refused.out 2>&1) &&
	test $(($(date +%s) - start)) -le 5 &&
	grep "cannot reach the provider at http://127.0.0.1:$port (from ANTHROPIC_BASE_URL): " refused.out &&
	printf "version: 1\nprovider: openai\nbase_url: http://127.0.0.1:%s/v1\n" $port >refused/mpbuild.yaml &&
	(cd refused && MPBUILD_BACKOFF_SCALE=1 expect_code 4 mpbuild --progress plain >../refused.out 2>&1) &&
	grep "cannot reach the provider at http://127.0.0.1:$port/v1 (from base_url in mpbuild.yaml): " refused.out &&
	test ! -e refused/src
'

done_testing
