#!/bin/sh
# t0011: the OpenAI provider (Chat Completions) end to end against
# tests/fake_server.py: the demo builds with provider: openai and with
# --provider openai; the requests (Bearer key, one system message, strict
# json_schema response_format with a closed schema, no sampling parameters);
# cached_tokens read as cache reads in the ledger; a keyless local server;
# a missing key for a remote base URL; the tool format; failures and retries.
. "$(dirname "$0")/lib.sh"

# --openai-keyless: requests without Authorization are served, as local servers do
fake_provider OPENAI_API_KEY --answers "$ANSWERS" --strict-answers --openai-keyless

# check_requests LOG N AUTH FORMAT: N Chat Completions requests; AUTH "key"
# (Authorization: Bearer with the test key) or "none"; FORMAT json_schema or tool
check_requests() {
	python3 - "$@" "$KEY" <<-"PY"
	import json, sys
	log, n, auth, fmt, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
	entries = [json.loads(l) for l in open(log)]
	assert len(entries) == n, "%d requests, expected %d" % (len(entries), n)

	def closed(s, at="(root)"):
	    if isinstance(s, list):
	        for x in s:
	            closed(x, at)
	    if not isinstance(s, dict):
	        return
	    if s.get("type") == "object" or "properties" in s:
	        assert s.get("additionalProperties") is False, "open object at " + at
	        assert sorted(s.get("required", [])) == sorted(s.get("properties", {})), "optional field at " + at
	    for k, v in s.items():
	        if isinstance(v, (dict, list)):
	            closed(v, at + "." + k)

	systems = set()
	for e in entries:
	    h = e["headers"]
	    assert e["path"] == "/v1/chat/completions" and e["status"] == 200, (e["path"], e["status"])
	    if auth == "key":
	        assert h.get("authorization") == "[redacted %d bytes]" % len("Bearer " + key), h.get("authorization")
	    else:
	        assert "authorization" not in h, h
	    assert "x-api-key" not in h and "anthropic-version" not in h
	    assert h.get("content-type") == "application/json"
	    b = json.loads(e["body"])
	    for k in ("temperature", "top_p", "top_k", "seed"):
	        assert k not in b, "sampling parameter " + k
	    # a local server gets max_tokens beside max_completion_tokens
	    assert b["max_completion_tokens"] == b["max_tokens"] > 0
	    msgs = b["messages"]
	    assert [m["role"] for m in msgs] == ["system", "user"], [m["role"] for m in msgs]
	    assert isinstance(msgs[0]["content"], str) and isinstance(msgs[1]["content"], str)
	    assert "Target: %s\n" % e["target"] in msgs[1]["content"]
	    assert "cache_control" not in e["body"]
	    systems.add(msgs[0]["content"])
	    if fmt == "json_schema":
	        rf = b["response_format"]
	        assert rf["type"] == "json_schema" and rf["json_schema"]["strict"] is True, rf
	        assert rf["json_schema"]["name"] == "write_files"
	        closed(rf["json_schema"]["schema"])
	        assert "tools" not in b and "tool_choice" not in b
	    else:
	        assert "response_format" not in b
	        fn = b["tools"][0]["function"]
	        assert fn["name"] == "write_files" and fn["strict"] is True
	        closed(fn["parameters"])
	        assert b["tool_choice"] == {"type": "function", "function": {"name": "write_files"}}, b["tool_choice"]
	assert len(systems) == 1, "%d different system messages" % len(systems)
	PY
}

expect_success 'the demo builds with provider: openai (Chat Completions, json_schema)' '
	new_project p1 && cd p1 && printf "version: 1\nprovider: openai\n" >mpbuild.yaml &&
	mpbuild --progress plain >../out1 2>&1 && cp "$FAKE_LOG" ../log1 &&
	grep "5 built, 0 restored, 0 up to date, 0 failed" ../out1 &&
	same_as_answers . &&
	check_requests ../log1 5 key json_schema &&
	mpbuild --progress plain >../out && grep "everything is up to date" ../out
'

expect_success 'cached_tokens are cache reads in the ledger, the rest input' '
	cd p1 && ledger "SELECT target, try, input, cache_write, cache_read, output, cost, outcome FROM ledger ORDER BY id" >../ledger &&
	python3 - ../log1 ../ledger <<-"PY"
	import json, sys
	P = (0.10, 0.50, 0.125, 0.20, 0.01)    # claude-haiku-5-5, the default model
	log = [json.loads(l) for l in open(sys.argv[1])]
	rows = [l.rstrip("\n").split("|") for l in open(sys.argv[2])]
	assert len(rows) == len(log) == 5
	for i, (e, r) in enumerate(zip(log, rows)):
	    u = e["usage"]
	    cached = u["prompt_tokens_details"]["cached_tokens"]
	    assert (cached > 0) == (i > 0), (e["target"], cached)
	    want = [e["target"], "1", u["prompt_tokens"] - cached, 0, cached, u["completion_tokens"]]
	    assert r[:6] == [str(x) for x in want], (r, want)
	    cost = ((u["prompt_tokens"] - cached) * P[0] + cached * P[4] + u["completion_tokens"] * P[1]) / 1e6
	    assert abs(float(r[6]) - cost) < 1e-12 and r[7] == "ok", (r, cost)
	PY
	mpbuild cost --by target >../cost &&
	for t in T-002 T-003 T-004 T-005; do
		awk "\$1 == \"$t\" {print \$5}" ../cost | grep -q "^[1-9]" || { echo "no cache read for $t"; exit 1; }
	done
'

expect_success '--provider openai on an anthropic project, with the same requests' '
	fake_reset && new_project p2 && cd p2 &&
	(unset ANTHROPIC_API_KEY; mpbuild --provider openai --progress plain >../out) &&
	grep "5 built" ../out && same_as_answers . && check_requests "$FAKE_LOG" 5 key json_schema
'

expect_success 'keys depend on the wire family: up to date for openai, stale for anthropic' '
	cd p2 && mpbuild -n --provider openai >../st && grep "nothing to do" ../st &&
	mpbuild status >../st && grep "^stale .*T-001 .*inputs changed" ../st &&
	grep "^stale .*T-002 .*inputs changed" ../st
'

expect_success 'MPBUILD_PROVIDER=openai overrides provider: anthropic' '
	fake_reset && new_project p7 && cd p7 &&
	(unset ANTHROPIC_API_KEY; MPBUILD_PROVIDER=openai mpbuild T-001 --progress plain >../out 2>&1) &&
	grep "T-001 Tokenizer: built" ../out && check_requests "$FAKE_LOG" 1 key json_schema
'

expect_success 'a local base URL needs no key: no Authorization header is sent' '
	fake_reset && new_project p3 && cd p3 && printf "version: 1\nprovider: openai\n" >mpbuild.yaml &&
	(unset OPENAI_API_KEY; mpbuild T-001 --progress plain >../out) &&
	grep "T-001 Tokenizer: built" ../out && check_requests "$FAKE_LOG" 1 none json_schema
'

expect_success 'a remote base URL without OPENAI_API_KEY exits 4 naming the variable' '
	new_project p4 && cd p4 && printf "version: 1\nprovider: openai\nbase_url: https://openai.invalid/v1\n" >mpbuild.yaml &&
	(unset OPENAI_API_KEY; expect_code 4 mpbuild --progress plain >../out 2>../err) &&
	grep "^mpbuild: OPENAI_API_KEY is not set" ../err
'

expect_success 'answer_format: tool asks through a forced write_files function' '
	fake_reset && new_project p5 && cd p5 &&
	printf "version: 1\nprovider: openai\nanswer_format: tool\n" >mpbuild.yaml &&
	mpbuild --progress plain >../out && grep "5 built" ../out && same_as_answers . &&
	check_requests "$FAKE_LOG" 5 key tool
'

expect_success 'OpenAI failures: a 429 and a 500 are retried, a 400 fails its target, a 401 exits 4' '
	fake_reset && new_project p6 && cd p6 && printf "version: 1\nprovider: openai\n" >mpbuild.yaml &&
	fake_control "{\"faults\": [{\"target\": \"T-001\", \"status\": 429, \"retry_after\": 1},
		{\"target\": \"T-001\", \"status\": 500}, {\"target\": \"T-002\", \"status\": 400,
		\"message\": \"Invalid value for max_completion_tokens\"}]}" >/dev/null &&
	expect_code 1 mpbuild --progress plain >../out 2>&1 &&
	grep "T-001 Tokenizer: built" ../out &&
	grep "T-002 Word counter: failed — provider answered 400: Invalid value for max_completion_tokens$" ../out &&
	test "$(ledger "SELECT group_concat(target || \":\" || outcome, \" \") FROM ledger")" = \
		"T-001:retry T-001:retry T-001:ok T-002:failed" &&
	(OPENAI_API_KEY=not-the-key && expect_code 4 mpbuild --progress plain >../out 2>&1) &&
	grep "authentication failed (401): Incorrect API key provided.; check OPENAI_API_KEY" ../out
'

expect_success 'no API key in anything mpbuild wrote or printed' '
	! grep -rlaF "$KEY" "$TRASH"
'

done_testing
