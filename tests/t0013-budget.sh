#!/bin/sh
# t0013: the budget end to end against tests/fake_server.py (SPEC 5, 10.12):
# a call whose worst case would pass the budget is not sent, the run exits 3
# saying what was spent and the ledger never shows more than the budget; an
# unpriced model with a budget is refused (exit 2, naming prices:); with a
# prices: entry it is called, here through the write_files tool.
. "$(dirname "$0")/lib.sh"

fake_provider ANTHROPIC_API_KEY --answers "$ANSWERS" --strict-answers

expect_success 'a budget below the first call'"'"'s worst case sends nothing (exit 3)' '
	fake_reset && new_project p0 && cd p0 &&
	expect_code 3 mpbuild --budget 0.001 --progress plain >../out 2>../err &&
	grep "T-001 Tokenizer: skipped — not sent: the call could cost up to \$0\.[0-9]* and \$0.0000 of the" ../out &&
	grep "^mpbuild: budget of \$[0-9.]* reached: spent \$0.0000; nothing more was started$" ../err &&
	! test -s "$FAKE_LOG" && test -z "$(ledger "SELECT * FROM ledger")" && ! test -e demo
'

expect_success 'the budget stops the run before it is exceeded: exit 3, the ledger within it' '
	fake_reset && new_project p1 && cd p1 &&
	budget=$(budget_of "w + 0.004") && echo "budget $budget" &&
	expect_code 3 mpbuild --budget "$budget" --progress plain >../out 2>../err &&
	cat ../out ../err &&
	grep "T-001 Tokenizer: built" ../out &&
	grep "skipped — not sent: the call could cost up to \$[0-9.]* and \$[0-9.]* of the" ../out &&
	built=$(grep -c ": built" ../out) && test "$built" -ge 1 && test "$built" -le 4 &&
	spent=$(ledger "SELECT printf(\"%.4f\", sum(cost)) FROM ledger") &&
	grep "^mpbuild: budget of \$[0-9.]* reached: spent \$$spent; nothing more was started$" ../err &&
	ledger "SELECT sum(cost) <= $budget, count(*) FROM ledger" >../sum &&
	test "$(cat ../sum)" = "1|$built" &&
	test "$(wc -l <"$FAKE_LOG")" = "$built" &&
	python3 - ../out "$budget" <<-"PY" &&
	import re, sys
	m = re.search(r"could cost up to \$([0-9.]+) and \$([0-9.]+) of the", open(sys.argv[1]).read())
	assert float(m.group(1)) + float(m.group(2)) > float(sys.argv[2]), m.group(0)
	PY
	mpbuild --progress plain >../out && grep "$((5 - built)) built, 0 restored, $built up to date, 0 failed" ../out
'

expect_success 'a call cut off after the answer was made keeps its reservation: no retry past the budget' '
	fake_reset && new_project pc && cd pc &&
	budget=$(budget_of "w * 1.5") && echo "budget $budget" &&
	fake_control "{\"faults\": [{\"target\": \"T-001\", \"cut\": true}]}" >/dev/null &&
	expect_code 3 mpbuild --budget "$budget" --progress plain >../out 2>../err &&
	cat ../out ../err &&
	test "$(grep -c "\"target\": \"T-001\"" "$FAKE_LOG")" = 1 &&
	grep "^mpbuild: budget of \$[0-9.]* reached" ../err
'

expect_success 'budget_usd in mpbuild.yaml is the same cap' '
	fake_reset && new_project p2 && cd p2 &&
	printf "version: 1\nbudget_usd: 0.001\n" >mpbuild.yaml &&
	expect_code 3 mpbuild --progress plain >../out 2>../err &&
	grep "^mpbuild: budget of \$[0-9.]* reached: spent \$0.0000" ../err && ! test -s "$FAKE_LOG" &&
	mpbuild --budget 100 --progress plain >../out && grep "5 built" ../out
'

expect_success 'an unpriced model with a budget is refused with exit 2 naming prices:' '
	fake_reset && new_project p3 && cd p3 &&
	printf "version: 1\nmodels: {low: my-model, medium: my-model}\n" >mpbuild.yaml &&
	expect_code 2 mpbuild --budget 1 --progress plain >../out 2>../err &&
	grep "my-model has no known price and a budget is set; add it under prices:" ../err &&
	! test -s "$FAKE_LOG" && ! test -e demo &&
	printf "budget_usd: 1\n" >>mpbuild.yaml &&
	expect_code 2 mpbuild check 2>../err && grep "my-model has no known price .*prices:" ../err &&
	expect_code 2 mpbuild --progress plain 2>../err && grep "prices:" ../err &&
	! test -s "$FAKE_LOG"
'

expect_success 'with a prices: entry the model is called, through the write_files tool' '
	cd p3 &&
	printf "version: 1\nmodels: {low: my-model, medium: my-model}\nbudget_usd: 1\nprices:\n  my-model: {input: 0, output: 0, cache_write_5m: 0, cache_write_1h: 0, cache_read: 0}\n" >mpbuild.yaml &&
	mpbuild check && mpbuild --progress plain >../out && grep "5 built" ../out &&
	python3 - "$FAKE_LOG" <<-"PY" &&
	import json, sys
	log = [json.loads(l) for l in open(sys.argv[1])]
	assert len(log) == 5 and all(e["status"] == 200 for e in log)
	for e in log:
	    b = json.loads(e["body"])
	    assert b["model"] == "my-model"
	    assert [t["name"] for t in b["tools"]] == ["write_files"], b["tools"]
	    assert b["tool_choice"] == {"type": "tool", "name": "write_files"}, b["tool_choice"]
	    assert "format" not in b.get("output_config", {})
	    s = b["tools"][0]["input_schema"]
	    assert s["additionalProperties"] is False and "files" in s["required"]
	PY
	test "$(ledger "SELECT count(*), sum(cost) FROM ledger")" = "5|0.0"
'

done_testing
