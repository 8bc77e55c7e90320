#!/bin/sh
# t0010: the Anthropic provider end to end against tests/fake_server.py: what
# a request looks like on the wire (headers, cached system layers, the answer
# schema), the demo plan built over HTTP, the ledger against what the server
# answered, prompt-cache reuse across tasks and invocations, TTLs, dry runs,
# JSON progress events, --record/--replay, and API keys kept out of every file.
. "$(dirname "$0")/lib.sh"

# only this key is accepted, and a target with no fixture is a 500
fake_provider ANTHROPIC_API_KEY --answers "$ANSWERS" --strict-answers --known-models-only

# check_requests LOG MODEL N: the N requests of LOG have the Messages API shape
# of SPEC 5 and 10.11 for MODEL (minimum cacheable prefix from the model table)
check_requests() {
	python3 - "$@" "$KEY" <<-"PY"
	import json, sys
	log, model, n, key = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
	MIN = {"claude-haiku-5-5": 2048, "claude-sonnet-5-5": 512, "claude-opus-5-5": 512, "claude-haiku-4-5": 4096}
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
	            if k == "properties":
	                for name, sub in v.items():
	                    closed(sub, at + "." + name)
	            else:
	                closed(v, at + "." + k)

	systems, orders = set(), set()
	for e in entries:
	    h = e["headers"]
	    assert e["path"] == "/v1/messages" and e["status"] == 200, (e["path"], e["status"])
	    assert h.get("x-api-key") == "[redacted %d bytes]" % len(key), h.get("x-api-key")
	    assert h.get("anthropic-version") == "2023-06-01", h.get("anthropic-version")
	    assert h.get("content-type") == "application/json", h.get("content-type")
	    assert "authorization" not in h
	    raw = e["body"]
	    b = json.loads(raw)
	    orders.add(tuple(b))
	    assert b["model"] == model, b["model"]
	    assert isinstance(b["max_tokens"], int) and b["max_tokens"] > 0
	    for k in ("temperature", "top_p", "top_k"):
	        assert k not in b, "sampling parameter " + k
	    assert "tools" not in b and "tool_choice" not in b
	    fmt = b["output_config"]["format"]
	    assert fmt["type"] == "json_schema", fmt["type"]
	    closed(fmt["schema"])
	    assert "files" in fmt["schema"]["properties"]
	    system = b["system"]
	    assert len(system) == 3, "%d system blocks" % len(system)
	    for blk in system:
	        assert blk["type"] == "text" and blk["text"]
	        assert blk.get("cache_control", {"type": "ephemeral"}).get("type") == "ephemeral", blk
	    marked = ["cache_control" in blk for blk in system]
	    # the rule layer always ends with a breakpoint, whatever its length
	    # (SPEC 5); layer 4 takes the next ones, then layers 2 and 1, last first
	    assert marked[2], "layer 3 has no breakpoint"
	    assert marked[0] <= marked[1], "layer 1 marked, layer 2 not"
	    msgs = b["messages"]
	    assert len(msgs) == 1 and msgs[0]["role"] == "user"
	    content = msgs[0]["content"]
	    # each interface a block of its own; breakpoints end some of them, never
	    # the task's own part, the last block
	    at = [i for i, c in enumerate(content) if "Target: %s\n" % e["target"] in c["text"]][0]
	    assert at == len(content) - 1, "the task is not the last block"
	    for i, c in enumerate(content[:at]):
	        want = "# Interfaces of the tasks it depends on" if i == 0 else "\n## "
	        assert c["text"].startswith(want), c["text"][:60]
	        assert c["text"].rstrip("\n").endswith("```"), "a block ends inside an interface"
	    assert "cache_control" not in content[at], "a breakpoint on the task's own part"
	    n4 = sum("cache_control" in c for c in content)
	    if at > 0:
	        assert n4 >= 1, "no breakpoint after shared interfaces"
	    marks = sum(marked) + n4
	    assert marks == min(4, 3 + n4), (marked, n4)
	    assert raw.count("cache_control") == marks
	    # layers 1-3 as bytes on the wire, not only as equal JSON (the
	    # breakpoints aside: they are not part of the cached prefix)
	    systems.add(raw[raw.index("\"system\":"):raw.index(",\"messages\":")].replace(
	        ',"cache_control":{"type":"ephemeral"}', ""))
	assert len(systems) == 1, "%d different system prefixes" % len(systems)
	assert len(orders) == 1, "keys in different orders: %s" % orders
	PY
}

# usage_of LOG FIELD...: one line per answered request: target and the usage fields
usage_of() {
	python3 - "$@" <<-"PY"
	import json, sys
	for l in open(sys.argv[1]):
	    e = json.loads(l)
	    u = e["usage"] or {}
	    cc = u.get("cache_creation") or {}
	    print(e["target"], " ".join(str(u.get(f, cc.get(f))) for f in sys.argv[2:]))
	PY
}

new_project proj

expect_success 'the demo plan builds against the fake Messages API' '
	cd proj && mpbuild --progress plain >../out1 2>&1 &&
	cp "$FAKE_LOG" ../log1 &&
	grep "5 built, 0 restored, 0 up to date, 0 failed, 0 skipped" ../out1 &&
	test "$(grep -c "model: claude-haiku-5-5" mpbuild.lock)" = 5 &&
	same_as_answers . &&
	test "$(wc -l <../log1)" = 5 &&
	mpbuild --progress plain >../out && grep "everything is up to date" ../out &&
	test "$(wc -l <"$FAKE_LOG")" = 5
'

expect_success 'requests: headers, breakpoints on layer 3, the shared interfaces, then layers 2 and 1, closed schema, no sampling' '
	check_requests log1 claude-haiku-5-5 5
'

expect_success 'the run summary adds up what the server answered' '
	usage_of log1 input_tokens cache_creation_input_tokens cache_read_input_tokens output_tokens >sums &&
	set -- $(awk "{i+=\$2; w+=\$3; r+=\$4; o+=\$5} END {print i, w, r, o}" sums) &&
	grep "tokens: $1 input, $2 cache write, $3 cache read, $4 output;" out1 &&
	test "$3" -gt 0
'

expect_success 'mpbuild cost shows cache reads on every task after the first' '
	cd proj && mpbuild cost --by target >../cost &&
	awk "\$1 ~ /^T-/ {print \$1, \$2, \$4, \$5}" ../cost >../rows &&
	test "$(wc -l <../rows)" = 5 &&
	grep "^T-001 1 [1-9][0-9]* 0$" ../rows && grep "^T-002 1 0 [1-9][0-9]*$" ../rows &&
	for t in T-003 T-004 T-005; do
		# they write only the prefix of their dependencies interfaces
		grep "^$t 1 [0-9]* [1-9][0-9]*$" ../rows || { echo "no cache read for $t"; exit 1; }
	done &&
	grep "^total: 5 calls" ../cost
'

expect_success 'the ledger holds what the server answered, priced as model_cost does' '
	cd proj && ledger "SELECT target, attempt, try, model, input, cache_write, cache_write_1h, cache_read, output,
		cost, outcome FROM ledger ORDER BY id" >../ledger &&
	python3 - ../log1 ../ledger <<-"PY"
	import json, sys
	# claude-haiku-5-5 (docs/providers.md): input, output, write 5m, write 1h, read; the band above 100K
	P = (0.10, 0.50, 0.125, 0.20, 0.01)
	B = (0.50, 2.50, 0.625, 1.00, 0.05)
	log = [json.loads(l) for l in open(sys.argv[1])]
	rows = [l.rstrip("\n").split("|") for l in open(sys.argv[2])]
	assert len(rows) == len(log) == 5, (len(rows), len(log))
	for e, r in zip(log, rows):
	    u = e["usage"]
	    cc = u["cache_creation"]
	    want = [e["target"], "1", "1", "claude-haiku-5-5", u["input_tokens"], u["cache_creation_input_tokens"],
	            cc["ephemeral_1h_input_tokens"], u["cache_read_input_tokens"], u["output_tokens"]]
	    assert r[:9] == [str(x) for x in want], (r, want)
	    assert r[10] == "ok", r
	    w5 = cc["ephemeral_5m_input_tokens"]
	    w1 = cc["ephemeral_1h_input_tokens"]
	    prompt = u["input_tokens"] + w5 + w1 + u["cache_read_input_tokens"]
	    p = B if prompt > 100000 else P
	    cost = (u["input_tokens"] * p[0] + u["output_tokens"] * p[1] + w5 * p[2] + w1 * p[3] +
	            u["cache_read_input_tokens"] * p[4]) / 1e6
	    assert abs(float(r[9]) - cost) < 1e-12, (e["target"], r[9], cost)
	PY
'

expect_success 'a second invocation within the TTL reads the prefix the first run wrote' '
	cd proj && n0=$(wc -l <"$FAKE_LOG") &&
	mpbuild -B T-001 --progress plain >../out &&
	grep "T-001 Tokenizer: built" ../out && grep "1 built, 0 restored, 0 up to date, 0 failed" ../out &&
	tail -n +$((n0 + 1)) "$FAKE_LOG" >../new && test "$(wc -l <../new)" = 1 &&
	written=$(usage_of ../log1 cache_creation_input_tokens | sed -n "s/^T-001 //p") &&
	usage_of ../new cache_read_input_tokens cache_creation_input_tokens >../u &&
	grep "^T-001 $written 0$" ../u &&
	test "$(ledger "SELECT cache_read, cache_write FROM ledger WHERE run = (SELECT max(run) FROM ledger)")" = "$written|0"
'

expect_success 'after five idle minutes the prefix is written again; cache_ttl: 1h keeps it an hour' '
	cd proj && fake_control "{\"advance\": 301}" >/dev/null && n0=$(wc -l <"$FAKE_LOG") &&
	mpbuild -B T-001 -q && tail -n +$((n0 + 1)) "$FAKE_LOG" >../new &&
	usage_of ../new cache_read_input_tokens ephemeral_5m_input_tokens ephemeral_1h_input_tokens >../u &&
	grep "^T-001 0 [1-9][0-9]* 0$" ../u &&
	! grep -q "\"ttl\"" ../new &&
	printf "version: 1\ncache_ttl: 1h\n" >mpbuild.yaml &&
	fake_control "{\"advance\": 301}" >/dev/null && n0=$(wc -l <"$FAKE_LOG") &&
	mpbuild -B T-001 -q && tail -n +$((n0 + 1)) "$FAKE_LOG" >../new &&
	grep -q "ttl.*1h" ../new &&
	usage_of ../new cache_read_input_tokens ephemeral_5m_input_tokens ephemeral_1h_input_tokens >../u &&
	grep "^T-001 0 0 [1-9][0-9]*$" ../u &&
	ledger "SELECT cache_write_1h > 0 AND cache_write = cache_write_1h FROM ledger ORDER BY id DESC LIMIT 1" | grep -x 1 &&
	fake_control "{\"advance\": 1800}" >/dev/null && n0=$(wc -l <"$FAKE_LOG") &&
	mpbuild -B T-001 -q && tail -n +$((n0 + 1)) "$FAKE_LOG" >../new &&
	usage_of ../new cache_read_input_tokens cache_creation_input_tokens >../u &&
	grep "^T-001 [1-9][0-9]* 0$" ../u &&
	mpbuild status >../st && test "$(grep -c "^up to date" ../st)" = 5 &&
	rm mpbuild.yaml && mpbuild status >../st && test "$(grep -c "^up to date" ../st)" = 5
'

expect_success 'every layer gets its breakpoint; a prefix under the model minimum is simply not cached' '
	new_project pm && cd pm &&
	printf "version: 1\nmodels: {low: claude-sonnet-5-5, medium: claude-haiku-4-5}\n" >mpbuild.yaml &&
	n0=$(wc -l <"$FAKE_LOG") && mpbuild T-001 -q &&
	tail -n +$((n0 + 1)) "$FAKE_LOG" >../new && check_requests ../new claude-sonnet-5-5 1 &&
	test "$(grep -o "cache_control" ../new | wc -l)" = 3 &&
	usage_of ../new cache_creation_input_tokens >../u && grep "^T-001 [1-9][0-9]*$" ../u &&
	n0=$(wc -l <"$FAKE_LOG") && mpbuild T-002 -q &&
	tail -n +$((n0 + 1)) "$FAKE_LOG" >../new && check_requests ../new claude-haiku-4-5 1 &&
	test "$(grep -o "cache_control" ../new | wc -l)" = 3 &&
	usage_of ../new cache_creation_input_tokens cache_read_input_tokens >../u && grep "^T-002 0 0$" ../u
'

expect_success 'mpbuild -n lists the calls with model and estimated cost and sends nothing' '
	new_project pn && cd pn && n0=$(wc -l <"$FAKE_LOG") &&
	(unset ANTHROPIC_API_KEY; mpbuild -n >../out) &&
	grep "^would call T-001 Tokenizer (claude-haiku-5-5, never built): \$[0-9.]* to \$[0-9.]*$" ../out &&
	grep "^would call T-002 Word counter (claude-haiku-5-5, never built): \$[0-9.]* to \$[0-9.]*$" ../out &&
	grep "^may call  T-003 " ../out &&
	grep "^mpbuild: 2 calls now, up to 5 with the dependents they may change; estimated \$[0-9.]* to \$[0-9.]*$" ../out &&
	mpbuild -n --json >../json &&
	python3 -c "
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r[\"target\"] for r in rows] == [\"T-001\", \"T-002\", \"T-003\", \"T-004\", \"T-005\"]
for r in rows[:2]:
    assert r[\"model\"] == \"claude-haiku-5-5\" and 0 < r[\"cost_low\"] <= r[\"cost_high\"], r
" ../json &&
	test "$(wc -l <"$FAKE_LOG")" = "$n0" && ! test -e mpbuild.lock
'

# -j 1: under the default -j 2, T-002 may start (its prefix is warm) before
# T-001 has finished landing, and the events of the two interleave
expect_success '--progress json writes each event on stderr as one JSON line' '
	fake_control "{\"clear_cache\": true}" >/dev/null &&
	new_project pj && cd pj && mpbuild -j 1 --progress json >../so 2>../ev &&
	python3 - ../ev <<-"PY"
	import json, sys
	ev = [json.loads(l) for l in open(sys.argv[1])]
	kinds = [e["event"] for e in ev]
	assert kinds == ["target_started", "call_finished", "target_finished"] * 5 + ["run_finished"], kinds
	for i in range(5):
	    s, c, f = ev[3 * i:3 * i + 3]
	    t = "T-00%d" % (i + 1)
	    assert s["target"] == c["target"] == f["target"] == t, (s, c, f)
	    assert s["model"] == c["model"] == "claude-haiku-5-5"
	    assert c["outcome"] == "ok" and c["attempt"] == 1 and c["cost"] > 0 and c["output_tokens"] > 0, c
	    assert c["input_tokens"] + c["cache_write_tokens"] + c["cache_read_tokens"] > 0, c
	    assert (c["cache_read_tokens"] > 0) == (i > 0), c
	    assert f["status"] == "built" and f["done"] == i + 1 and f["total"] == 5, f
	r = ev[-1]
	assert (r["built"], r["failed"], r["skipped"]) == (5, 0, 0), r
	assert abs(r["cost"] - sum(e["cost"] for e in ev if e["event"] == "call_finished")) < 1e-6, r
	assert r["cache_read_tokens"] == sum(e["cache_read_tokens"] for e in ev if e["event"] == "call_finished")
	PY
'

expect_success 'target_finished events carry the cost of the target'"'"'s calls' '
	python3 - pj/../ev <<-"PY"
	import json, sys
	ev = [json.loads(l) for l in open(sys.argv[1])]
	for f in (e for e in ev if e["event"] == "target_finished"):
	    calls = sum(e["cost"] for e in ev if e["event"] == "call_finished" and e["target"] == f["target"])
	    assert abs(f["cost"] - calls) < 1e-9, (f, calls)
	PY
'

expect_success '--record writes a cassette that --replay reproduces byte for byte, offline' '
	new_project prec && cd prec && mpbuild --record ../cass --progress plain >../out &&
	grep "5 built" ../out &&
	(cd ../cass && ls) >../recorded && (cd "$CASSETTE" && ls) >../committed &&
	cmp_files ../committed ../recorded &&
	python3 - ../cass "$ANSWERS" <<-"PY" &&
	import glob, json, os, sys
	for p in glob.glob(os.path.join(sys.argv[1], "*.json")):
	    c = json.load(open(p))
	    a = json.load(open(os.path.join(sys.argv[2], c["target"] + ".json")))
	    assert c["answer"] == a, p
	PY
	cd .. && new_project prep && cd prep && n0=$(wc -l <"$FAKE_LOG") &&
	(unset ANTHROPIC_API_KEY ANTHROPIC_BASE_URL; mpbuild --replay ../cass --progress plain >../out) &&
	grep "5 built" ../out &&
	diff -r ../prec/demo demo && cmp_files ../prec/mpbuild.lock mpbuild.lock &&
	test "$(wc -l <"$FAKE_LOG")" = "$n0"
'

expect_success 'check commands run without the API key in their environment' '
	new_project pk && cd pk &&
	sed -i "s|check: \[\[cc, -std=c11, -Wall, -Wextra, -Werror, -fsyntax-only, demo/src/tokenize.c\]\]|check: [[env]]|" \
		plans/masterplan.yaml &&
	grep -q "check: \[\[env\]\]" plans/masterplan.yaml &&
	mpbuild T-001 -q && cat cache/logs/*/T-001.log >../env &&
	grep "^PATH=" ../env && ! grep "API_KEY" ../env && ! grep -F "$KEY" ../env
'

expect_success 'no API key in anything mpbuild wrote or printed' '
	cd proj && mpbuild -B T-002 --progress plain >../out 2>&1 && mpbuild cost >>../out 2>&1 &&
	mpbuild status >>../out 2>&1 && mpbuild log T-002 >>../out 2>&1;
	ls cache/state.db ../cass/*.json >/dev/null &&
	! grep -rlaF "$KEY" "$TRASH" &&
	! grep -rlaF "$(printf %s "$KEY" | base64)" "$TRASH"
'

done_testing
