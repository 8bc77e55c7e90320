#!/bin/sh
# t0034: the pipeline stages judge and land like tasks (issue "one engine for
# every target"), against the fake server: a valid plan with a warning is
# accepted and the warning shown; --budget and budget_usd cover the pipeline's
# calls (exit 3, nothing sent past the budget); the masterplan is judged from
# memory and lands through an intent record, so a kill -9 at any point is
# recovered by the next run and never leaves the model's plan looking like a
# person's; a plan file a person writes during its call wins; -n with only a
# hand-written masterplan; a prose answer is retried
# as retries: says.
. "$(dirname "$0")/lib.sh"

FIX=$SRCDIR/tests/fixtures/replan
fake_provider ANTHROPIC_API_KEY --answers "$FIX"

# answers: the fake server answers each pipeline target with one fixed fixture
answers() {
	fake_control "{\"answers\": {\"questions\": $(cat "$FIX/questions.json"),
		\"discovery\": $(cat "$FIX/discovery.json"), \"masterplan\": $(cat "$FIX/masterplan.json")}}" >/dev/null
}

# asked TARGET: how many requests for TARGET the fake server got since the last fake_reset
asked() { python3 -c 'import json, sys; print(sum(json.loads(l)["target"] == sys.argv[2] for l in open(sys.argv[1])))' "$FAKE_LOG" "$1"; }

# new_request DIR: a project holding only plans/request.md
new_request() { rm -rf "$1" && mkdir -p "$1/plans" && echo "Document a small shop's stock and billing." >"$1/plans/request.md"; }

# no_staged DIR: no staged or temporary file is left under DIR/plans
no_staged() {
	left=$(find "$1/plans" -name '*.mpbuild-*')
	test -z "$left" || { echo "left behind: $left"; return 1; }
}

answers
new_request ref
mpbuild -C ref --defaults masterplan >/dev/null 2>&1
new_request base
mpbuild -C base --defaults discovery >/dev/null 2>&1

expect_success 'a plan whose task has no context: is accepted with a warning, not retried' '
	new_request warn && cd warn &&
	fake_reset && answers &&
	python3 - "$FIX/masterplan.json" >../mp.json <<-"PY" &&
	import json, sys
	a = json.load(open(sys.argv[1]))
	a["tasks"][4]["context"] = None
	print(json.dumps(a))
	PY
	fake_control "{\"answers\": {\"masterplan\": $(cat ../mp.json)}}" >/dev/null &&
	mpbuild --defaults masterplan >../out 2>../err &&
	grep -q "^plans/masterplan.yaml:[0-9]*:[0-9]*: warning: task T-005 has no .context:.; its prompt includes every bounded context$" ../err &&
	! grep -q "not a valid plan" ../err &&
	test "$(asked masterplan)" = 1 &&
	grep -q "masterplan plans/masterplan.yaml: built" ../out &&
	mpbuild check >../check 2>&1 && grep -q "T-005 has no .context:." ../check
'

expect_success 'the pipeline shows what its calls cost, as a line per stage and a summary, or as JSON events with call progress' '
	new_request prog && cd prog && fake_reset && answers &&
	mpbuild --defaults masterplan --progress plain >../out 2>../err && cat ../out &&
	grep -q "^\[1/4\] questions plans/questions.yaml: built (sonnet) · \$[0-9.]*$" ../out &&
	grep -q "^\[4/4\] masterplan plans/masterplan.yaml: built (sonnet) · \$[0-9.]*$" ../out &&
	grep -q "^mpbuild: 3 built, 0 restored, 1 up to date, 0 failed, 0 skipped, 0 kept; tokens: [1-9][0-9]* input, [0-9]* cache write, [0-9]* cache read, [1-9][0-9]* output; \$[0-9.]*" ../out &&
	cd .. && new_request progj && cd progj && fake_reset && answers &&
	fake_control "{\"faults\": [{\"target\": \"masterplan\", \"chunk\": 400, \"drip\": 0.2}]}" >/dev/null &&
	mpbuild --defaults masterplan --progress json >../out 2>../events && cat ../events &&
	grep -q "^{\"target\":\"masterplan\",\"model\":\"claude-sonnet-5-5\",\"elapsed\":[0-9.]*,\"output_tokens\":[0-9]*,\"event\":\"call_progress\"}$" ../events &&
	for t in questions discovery masterplan; do
		grep -q "{\"target\":\"$t\",\"model\":\"claude-sonnet-5-5\",\"event\":\"target_started\"}" ../events &&
		grep -q "\"target\":\"$t\",\"model\":\"claude-sonnet-5-5\",\"attempt\":1,.*\"event\":\"call_finished\"" ../events &&
		grep -q "\"target\":\"$t\",\"status\":\"built\",.*\"event\":\"target_finished\"" ../events || exit 1
	done &&
	grep -q "^{\"built\":3,.*\"input_tokens\":[1-9][0-9]*,.*\"event\":\"run_finished\"}$" ../events &&
	test "$(grep -c "\"event\":\"run_finished\"" ../events)" = 1
'

expect_success 'the planner sees each rule'"'"'s planning note, the precedence, and how interfaces and reads: work' '
	new_request notes && cd notes && fake_reset && answers &&
	mpbuild --defaults masterplan >../out 2>&1 && last_body masterplan >../body &&
	python3 - ../body "$SRCDIR/rules" <<-"PY"
	import json, os, re, sys
	b = json.load(open(sys.argv[1]))
	text = "".join(x["text"] for x in b["messages"][0]["content"])
	system = "".join(x["text"] for x in b["system"])
	for name in ("c", "python", "javascript", "shell", "docs", "generic"):
	    rule = open(os.path.join(sys.argv[2], name + ".yaml")).read()
	    note = re.search(r"^planning: \|\n((?:  .*\n)+)", rule, re.M).group(1)
	    first = note.splitlines()[0].strip()
	    assert first in text, "the planning note of %s is not shown: %s" % (name, first)
	assert "a task entry that says otherwise wins for that task, then the project" in text
	assert "interfaces" in system and "`reads`" in system
	schema = b["output_config"]["format"]["schema"]["properties"]["tasks"]["items"]
	assert "reads" in schema["properties"] and "reads" in schema["required"]
	PY
'

expect_success 'an invalid plan is still rejected, its errors fed back and never in plans/' '
	rm -rf cyc && cp -R base cyc && cd cyc &&
	fake_reset && answers &&
	python3 - "$FIX/masterplan.json" >../bad.json <<-"PY" &&
	import json, sys
	a = json.load(open(sys.argv[1]))
	a["tasks"][0]["depends_on"] = ["T-005"]
	print(json.dumps(a))
	PY
	fake_control "{\"answers\": {\"masterplan\": [$(cat ../bad.json), $(cat "$FIX/masterplan.json")]}}" >/dev/null &&
	MPBUILD_CRASH=land-staged expect_code 137 mpbuild masterplan >../out 2>../err;
	grep -q "attempt 1 was not a valid plan" ../err &&
	grep -q "error: dependency cycle: T-001 -> T-005 -> T-001" ../err &&
	test ! -e plans/masterplan.yaml &&
	last_body masterplan | grep -q "dependency cycle: T-001 -> T-005"
'

expect_success 'a budget below the masterplan call'"'"'s worst case stops before it (exit 3), the ledger within it' '
	new_request budget && cd budget &&
	fake_reset && answers &&
	expect_code 3 mpbuild --defaults --budget 0.5 masterplan >../out 2>../err &&
	grep -q "masterplan plans/masterplan.yaml: skipped — not sent: the call could cost up to \$[0-9.]* and \$[0-9.]* of the \$0.5000 budget is spent$" ../out &&
	grep -q "^mpbuild: budget of \$0.5000 reached" ../err &&
	test "$(asked questions) $(asked discovery) $(asked masterplan)" = "1 1 0" &&
	test ! -e plans/masterplan.yaml &&
	test "$(ledger "SELECT sum(cost) <= 0.5, count(*) FROM ledger")" = "1|2"
'

expect_success 'a budget too small for any call sends nothing; budget_usd is the same cap' '
	new_request tiny && cd tiny &&
	fake_reset && answers &&
	expect_code 3 mpbuild --defaults --budget 0.000001 >../out 2>../err &&
	grep -q "questions plans/questions.yaml: skipped — not sent: the call could cost up to" ../out &&
	test ! -s "$FAKE_LOG" && test ! -e plans/questions.yaml &&
	printf "version: 1\nbudget_usd: 0.000001\n" >mpbuild.yaml &&
	expect_code 3 mpbuild --defaults questions 2>../err &&
	test ! -s "$FAKE_LOG"
'

expect_success 'a plan file a person writes while its stage is called is theirs: kept, the answer not landed' '
	new_request edit && cd edit && fake_reset && answers &&
	fake_control "{\"faults\": [{\"target\": \"discovery\", \"delay\": 3}]}" >/dev/null &&
	{ mpbuild --defaults discovery --progress plain >../out 2>&1 & pid=$!; } &&
	n=0 && while [ $n -lt 100 ] && ! test -e plans/answers.yaml; do sleep 0.1; n=$((n + 1)); done &&
	sleep 0.5 && { cat ../base/plans/discovery.yaml && echo "# mine"; } >../mine.yaml &&
	cp ../mine.yaml plans/discovery.yaml &&
	{ wait $pid; rc=$?; } && cat ../out && test $rc = 0 &&
	cmp_files ../mine.yaml plans/discovery.yaml &&
	grep -q "discovery plans/discovery.yaml: kept (edited by hand) — plans/discovery.yaml changed while the target was built; its answer was not used" ../out &&
	! grep -q "discovery:" mpbuild.lock && no_staged .
'

for point in pipeline-judged land-staged land-intent land-renamed land-committed pipeline-landed; do
	expect_success "a kill -9 at $point while the masterplan lands: the next run finishes, nothing kept as a person's" '
		rm -rf crash && cp -R base crash && cd crash &&
		MPBUILD_CRASH='$point' expect_code 137 mpbuild masterplan >../out 2>&1 &&
		{ test ! -e plans/masterplan.yaml || cmp plans/masterplan.yaml ../ref/plans/masterplan.yaml; } &&
		mpbuild masterplan >../out 2>../err &&
		mpbuild masterplan >../out2 2>&1 && grep -q "^masterplan: up to date$" ../out2 &&
		cmp ../ref/plans/masterplan.yaml plans/masterplan.yaml &&
		grep -q "plans/masterplan.yaml: $(sha plans/masterplan.yaml)" mpbuild.lock &&
		! grep -q "kept" ../err && no_staged . && mpbuild -n >../dry && ! grep -q "masterplan" ../dry
	'
done

expect_success '-n in a project with only a hand-written masterplan lists its tasks' '
	rm -rf hand && mkdir -p hand/plans && cp "$SRCDIR/plans/masterplan.yaml" hand/plans/ && cd hand &&
	mpbuild -n >../out 2>../err &&
	grep -q "^would call T-001 " ../out && ! grep -q "request.md" ../err
'

expect_success 'a prose answer is retried with the reason fed back' '
	new_request prose && cd prose &&
	fake_reset && answers &&
	fake_control "{\"faults\": [{\"target\": \"questions\", \"text\": \"Sure! Here are my questions.\"}]}" >/dev/null &&
	mpbuild questions >../out 2>../err &&
	grep -q "questions: attempt 1 was not a valid plan" ../err &&
	test "$(asked questions)" = 2 &&
	last_body questions | grep -q "answer is not valid JSON" &&
	grep -q "plans/questions.yaml: $(sha plans/questions.yaml)" mpbuild.lock
'

expect_success 'with retries: 0 a prose answer fails at once and is kept under cache/failed' '
	new_request prose0 && cd prose0 &&
	printf "version: 1\nretries: 0\n" >mpbuild.yaml &&
	fake_reset && answers &&
	fake_control "{\"faults\": [{\"target\": \"questions\", \"text\": \"Sure! Here are my questions.\"}]}" >/dev/null &&
	expect_code 1 mpbuild questions >../out 2>../err &&
	grep -q "^\[1/1\] questions plans/questions.yaml: failed — .*answer is not valid JSON" ../out &&
	test "$(asked questions)" = 1 && test ! -e plans/questions.yaml &&
	grep -q "answer is not valid JSON" cache/failed/questions/1/error.txt
'

done_testing
