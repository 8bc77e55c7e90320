#!/bin/sh
# t0044: what each task sees (SPEC 5 "Layers", 10.1): the interfaces of all
# its dependencies, direct or not, before its entry, and the files it reads
# in full; a dependency rebuilt with a new implementation behind the same
# interface calls nothing downstream, but its dependents' checks run again,
# and a failing re-check makes the dependent stale with the failure fed back.
. "$(dirname "$0")/lib.sh"

fake_provider ANTHROPIC_API_KEY --answers "$ANSWERS"

# requests TARGET: how many calls the fake server got for TARGET
requests() { python3 -c 'import json, sys; print(sum(json.loads(l)["target"] == sys.argv[2] for l in open(sys.argv[1])))' "$FAKE_LOG" "$1"; }

# answer_with TARGET INDEX PYTHON: the fixture answer of TARGET with its file
# INDEX changed by the python expression PYTHON (on s), served from now on
answer_with() {
	python3 - "$ANSWERS/$1.json" "$2" "$3" >"$TRASH/$1.changed.json" <<-'PY'
	import json, sys
	a = json.load(open(sys.argv[1]))
	s = a["files"][int(sys.argv[2])]["content"]
	a["files"][int(sys.argv[2])]["content"] = eval(sys.argv[3])
	print(json.dumps(a))
	PY
	fake_control "{\"answers\": {\"$1\": $(cat "$TRASH/$1.changed.json")}}" >/dev/null
}

# usage TARGET: the fake server's usage of TARGET's last request, as
# "input write read"
usage() {
	python3 - "$FAKE_LOG" "$1" <<-'PY'
	import json, sys
	u = None
	for line in open(sys.argv[1]):
	    e = json.loads(line)
	    if e["target"] == sys.argv[2]:
	        u = e["usage"]
	print(u["input_tokens"], u["cache_creation_input_tokens"], u["cache_read_input_tokens"])
	PY
}

expect_success 'a request shows the interfaces of every dependency, direct or not, one block each, with a breakpoint where another task shares the prefix' '
	mkdir -p chain/plans && cat >chain/plans/masterplan.yaml <<-EOF &&
	version: 1
	project: chain
	tasks:
	  - {id: A, title: A, description: Write a., outputs: [a.json]}
	  - {id: B, title: B, description: Write b., depends_on: [A], outputs: [b.json]}
	  - {id: C1, title: C1, description: Write c1., depends_on: [B], outputs: [c1.json]}
	  - {id: C2, title: C2, description: Write c2., depends_on: [B], outputs: [c2.json]}
	EOF
	cd chain && fake_reset && mpbuild -j 1 --progress plain >../out && grep "4 built" ../out &&
	last_body C1 >../body && python3 - ../body <<-"PY" &&
	import json, sys
	c = json.load(open(sys.argv[1]))["messages"][0]["content"]
	# A, then B (what B itself was shown, then B), then the task; C1 and
	# C2 share A and B: the breakpoint ends B, and its lookback finds the
	# prefix B ended with (A) one block before
	assert len(c) == 3, c
	assert c[0]["text"].startswith("# Interfaces of the tasks it depends on"), c[0]["text"][:60]
	assert "## a.json (from A)" in c[0]["text"] and "b.json" not in c[0]["text"], c[0]
	assert c[1]["text"].startswith("\n## b.json (from B)"), c[1]
	assert c[2]["text"].startswith("\nTarget: C1\n"), c[2]["text"][:60]
	assert [("cache_control" in b) for b in c] == [False, True, False], c
	PY
	last_body B >../body && python3 - ../body <<-"PY" &&
	import json, sys
	c = json.load(open(sys.argv[1]))["messages"][0]["content"]
	assert len(c) == 2 and c[0].get("cache_control") and "## a.json (from A)" in c[0]["text"], c
	assert c[1]["text"].startswith("\nTarget: B\n") and "cache_control" not in c[1]
	PY
	last_body A >../body && python3 - ../body <<-"PY" &&
	import json, sys
	c = json.load(open(sys.argv[1]))["messages"][0]["content"]
	assert len(c) == 1 and "cache_control" not in c[0] and c[0]["text"].startswith("Target: A\n"), c
	PY
	# what B wrote, C1 reads (through the lookback) and extends; C2 reads
	# what C1 wrote and writes nothing (-j 1: C2 starts after C1 wrote)
	set -- $(usage B) && b_read=$(($2 + $3)) &&
	set -- $(usage C1) && test "$3" = "$b_read" && test "$2" -gt 0 && c1_read=$(($2 + $3)) &&
	set -- $(usage C2) && test "$3" = "$c1_read" && test "$2" = 0
'

expect_success 'a new implementation behind the same interface calls nothing downstream; their checks run again' '
	new_project demo1 && cd demo1 && fake_reset && mpbuild --progress plain >../out && grep "5 built" ../out &&
	key3=$(lockkey T-003) && key4=$(lockkey T-004) &&
	answer_with T-002 1 "s + \"/* a faster implementation */\\n\"" && : >"$FAKE_LOG" &&
	mpbuild -B T-002 --progress plain >../out && grep "T-002 Word counter: built" ../out &&
	mpbuild --progress plain >../out && cat ../out &&
	test "$(requests T-003)" = 0 && test "$(requests T-004)" = 0 && test "$(requests T-005)" = 0 &&
	grep "T-003: a dependency changed behind the same interfaces; its checks pass again" ../out &&
	grep "T-004: a dependency changed behind the same interfaces; its checks pass again" ../out &&
	test "$(lockkey T-003)" = "$key3" && test "$(lockkey T-004)" = "$key4" &&
	mpbuild --progress plain >../out && grep "everything is up to date" ../out &&
	! grep "checks pass again" ../out
'

expect_success 'a changed interface rebuilds the dependents' '
	cd demo1 && answer_with T-002 0 "s + \"/* counter_top may return NULL */\\n\"" && : >"$FAKE_LOG" &&
	mpbuild -B T-002 -q && mpbuild --progress plain >../out && cat ../out &&
	test "$(requests T-003)" = 1 && test "$(requests T-004)" = 1 && grep "T-003 .*: built" ../out
'

expect_success 'a re-check that fails makes the dependent stale, and its call carries the failure' '
	new_project demo2 && cd demo2 && fake_reset && mpbuild -q && : >"$FAKE_LOG" &&
	answer_with T-002 1 "s.replace(\"counter_total(const counter *c)\", \"counter_sum(const counter *c)\")" &&
	mpbuild -B T-002 -q &&
	expect_code 1 mpbuild --progress plain >../out 2>&1 && cat ../out &&
	grep "T-004: a dependency changed behind the same interfaces; its checks pass again" ../out &&
	test "$(requests T-004)" = 0 && test "$(requests T-005)" -ge 1 &&
	python3 -c "import json, sys; print(next(json.loads(l)[\"body\"] for l in open(sys.argv[1]) if json.loads(l)[\"target\"] == \"T-005\"))" "$FAKE_LOG" >../body &&
	grep -q "passed their checks before a dependency changed; now they fail" ../body &&
	grep -q "undefined reference to .counter_total" ../body &&
	mpbuild status T-005 >../out && grep "^failed" ../out
'

expect_success 'files named under reads: are shown in full and enter the key by their content' '
	mkdir -p reads/plans && echo "ERR_EMPTY: the list is empty" >reads/messages.txt &&
	cat >reads/plans/masterplan.yaml <<-EOF &&
	version: 1
	project: reads
	tasks:
	  - {id: D, title: Docs, description: Document the messages., reads: [messages.txt], outputs: [doc.md]}
	EOF
	cd reads && fake_reset && mpbuild -q && last_body D >../body &&
	grep -q "# Files it reads in full" ../body && grep -q "ERR_EMPTY: the list is empty" ../body &&
	echo "ERR_FULL: the list is full" >>messages.txt &&
	mpbuild explain D >../out && grep "changed: messages.txt, which it reads in full" ../out &&
	mpbuild --progress plain >../out && grep "D Docs: built" ../out &&
	sed -i "s/reads: \[messages.txt\]/reads: [..\/x]/" plans/masterplan.yaml &&
	expect_code 2 mpbuild check >../out 2>&1 && cat ../out &&
	grep "file .\.\./x. that task D reads is not normalised" ../out
'

expect_success '-n and check warn when a prompt may pass the model price band' '
	mkdir -p band/plans && python3 -c "print(\"x\" * 450000)" >band/big.txt &&
	printf "version: 1\nproject: band\ntasks:\n  - {id: D, title: D, description: Sum it up., complexity: low, reads: [big.txt], outputs: [d.md]}\n" \
		>band/plans/masterplan.yaml && cd band &&
	mpbuild -n >../out 2>&1 && cat ../out &&
	grep "warning: D: its prompt may pass 100000 tokens (about [0-9]*), where claude-haiku-5-5 charges its higher band (\$0.50/\$2.50 per million" ../out &&
	grep "^mpbuild: warning: D: its prompt may pass" ../out >../want &&
	mpbuild check >../out 2>../err && cat ../out ../err &&
	grep -x "mpbuild: the plan is valid: 1 tasks, 0 milestones, 0 phases, 6 rules" ../out &&
	cmp_files ../want ../err && test ! -e cache &&
	printf "version: 1\nproject: band\ntasks:\n  - {id: D, title: D, description: Sum it up., complexity: low, outputs: [d.md]}\n" \
		>plans/masterplan.yaml && mpbuild -n >../out 2>&1 && ! grep "higher band" ../out &&
	mpbuild check >../out 2>&1 && ! grep "higher band" ../out
'

done_testing
