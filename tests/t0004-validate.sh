#!/bin/sh
# t0004: judging generated code: syntax validators, check commands, approval,
# retries with feedback, restoring the tree when the last attempt fails.
. "$(dirname "$0")/lib.sh"

# a two-task C project in $1 whose checks are given in $2 (YAML flow list) and settings in $3
small_project() {
	mkdir -p "$1/plans" &&
	cat >"$1/plans/masterplan.yaml" <<-EOF2 &&
	version: 1
	project: small
	tasks:
	  - id: A
	    title: the library
	    description: Write src/a.c with a function a() returning 42.
	    outputs: [src/a.c]
	    check: $2
	  - id: B
	    title: the user
	    description: Write src/b.c calling a().
	    depends_on: [A]
	    outputs: [src/b.c]
	EOF2
	printf 'version: 1\n%s\n' "${3:-}" >"$1/mpbuild.yaml"
}

# fixture answers: answer NAME FILE CONTENT
answer() {
	python3 -c 'import json,sys; json.dump({"files":[{"path":sys.argv[2],"content":sys.argv[3]}],"summary":"x"}, open(sys.argv[1],"w"))' "$@"
}

GOOD='int a(void) { return 42; } /* MAGIC */
'
BAD='int a(void) { return 42 }
'
mkdir empty

expect_success 'a syntax error is fed back and fixed on the retry' '
	small_project p1 "[]" && mkdir ans &&
	answer ans/A.json src/a.c "$BAD" && answer ans/A.2.json src/a.c "$GOOD" &&
	answer ans/B.json src/b.c "int a(void); int b(void) { return a(); }
" &&
	make_cassette p1 ans c1 && cd p1 &&
	mpbuild --replay ../c1 --progress plain >../out 2>&1 &&
	grep "success: 1 at the first attempt, 1 after a retry, 0 failed" ../out &&
	grep "MAGIC" src/a.c &&
	grep "syntax: cc failed on src/a.c" cache/failed/A/1/error.txt &&
	grep "return 42 }" cache/failed/A/1/answer.json &&
	mpbuild cost >../out && grep "success (compiles and its checks pass): 1 at the first attempt, 1 after a retry, 0 failed" ../out
'

expect_success 'a failing check is fed back and fixed on the retry; output goes to cache/logs' '
	small_project p2 "[[grep, -q, MAGIC, src/a.c]]" && mkdir ans2 &&
	answer ans2/A.json src/a.c "int a(void) { return 42; }
" && answer ans2/A.2.json src/a.c "$GOOD" &&
	answer ans2/B.json src/b.c "int b(void) { return 0; }
" &&
	make_cassette p2 ans2 c2 && cd p2 &&
	mpbuild --replay ../c2 --progress plain >../out 2>&1 &&
	grep "1 after a retry" ../out &&
	grep "checks: .grep -q MAGIC src/a.c. exited 1" cache/failed/A/1/error.txt &&
	ls cache/logs/*/A.log && grep "grep -q MAGIC" cache/logs/*/A.log
'

expect_success 'a task failing twice leaves the tree byte-identical and its dependents skipped' '
	cd p2 && cp src/a.c ../a.before &&
	sed -i "s/returning 42/returning 42 always/" plans/masterplan.yaml &&
	cd .. && mkdir ans3 && answer ans3/A.json src/a.c "$BAD" && answer ans3/A.2.json src/a.c "int x = ;
" && answer ans3/B.json src/b.c "int b(void) { return 0; }
" && MKCASSETTE_KEEP_GOING=1 make_cassette p2 ans3 c3 && cd p2 &&
	expect_code 1 mpbuild --replay ../c3 --progress plain >../out 2>&1 &&
	grep "A the library: failed — syntax: cc failed on src/a.c" ../out &&
	grep "B the user: skipped — A failed" ../out &&
	cmp_files ../a.before src/a.c && ! ls src/*.mpbuild-old 2>/dev/null &&
	test -f cache/failed/A/2/error.txt &&
	mpbuild status >../out && grep "^failed .*A .*syntax" ../out
'

expect_success 'a hanging check is killed at the timeout, its process group too' '
	small_project p4 "[[sh, -c, \"sleep 60 & sleep 60\"]]" "check_timeout: 2
retries: 0" && mkdir ans4 && answer ans4/A.json src/a.c "$GOOD" &&
	answer ans4/B.json src/b.c "int b;
" && MKCASSETTE_KEEP_GOING=1 make_cassette p4 ans4 c4 && cd p4 &&
	start=$(date +%s) &&
	expect_code 1 mpbuild --replay ../c4 --progress plain >../out 2>&1 &&
	test $(( $(date +%s) - start )) -lt 30 &&
	grep "was killed after 2 s" ../out && ! test -e src/a.c
'

expect_success 'a check sees no API key, no terminal and /dev/null as stdin' '
	small_project p5 "[[sh, -c, \"env >$TRASH/env.txt; test ! -t 0 && read x; test -z \\\"\$x\\\"\"]]" &&
	mkdir ans5 && answer ans5/A.json src/a.c "$GOOD" && answer ans5/B.json src/b.c "int b;
" && make_cassette p5 ans5 c5 && rm -f env.txt && cd p5 &&
	ANTHROPIC_API_KEY=sk-secret-1 FOO_API_KEY=sk-secret-2 OPENAI_API_KEY=sk-secret-3 \
		mpbuild -B A --replay ../c5 --progress plain >../out 2>&1 &&
	grep "^PATH=" ../env.txt && ! grep -i "secret" ../env.txt && ! grep "API_KEY" ../env.txt
'

expect_success 'checks of a generated plan run only after mpbuild approve' '
	small_project p6 "[[touch, $TRASH/ran]]" && mkdir ans6 && answer ans6/A.json src/a.c "$GOOD" &&
	answer ans6/B.json src/b.c "int b;
" && make_cassette p6 ans6 c6 && rm -f ran && cd p6 &&
	printf "version: 1\ntargets:\n  masterplan:\n    key: sha256:%064d\n    model: m\n    generated: true\n    outputs: {}\napproved_checks: null\nrules: {}\n" 0 >mpbuild.lock &&
	mpbuild --replay ../c6 --progress plain >../out 2>&1 &&
	grep "A: 1 check command not run: the plan was generated" ../out && ! test -e ../ran &&
	mpbuild status | grep "^unapproved" &&
	mpbuild approve | grep "approved the check commands" &&
	grep "approved_checks: sha256:" mpbuild.lock &&
	mpbuild -B A --replay ../c6 --progress plain >../out 2>&1 && test -e ../ran &&
	! mpbuild status | grep "^unapproved" &&
	sed -i "s|touch, $TRASH/ran|touch, $TRASH/ran2|" plans/masterplan.yaml &&
	mpbuild status | grep "^unapproved"
'

expect_success 'a validator that is not installed is a warning, not a failure' '
	small_project p7 "[]" && mkdir p7/rules && cat >p7/rules/c.yaml <<-EOF2 &&
	version: 1
	name: c
	match: ["*.c"]
	system: Write C.
	validate:
	  "*.c": [no-such-validator-xyz, "{file}"]
	EOF2
	mkdir ans7 && answer ans7/A.json src/a.c "$GOOD" && answer ans7/B.json src/b.c "int b;
" && make_cassette p7 ans7 c7 && cd p7 &&
	mpbuild --replay ../c7 --progress plain >../out 2>&1 &&
	grep "warning: validator no-such-validator-xyz is not installed" ../out &&
	test "$(grep -c "no-such-validator-xyz is not installed" ../out)" = 1 &&
	grep "2 built" ../out
'

expect_success 'JSON outputs are checked in-process' '
	mkdir -p p8/plans && printf "version: 1\ntasks:\n  - {id: J, title: data, outputs: [d/x.json]}\n" >p8/plans/masterplan.yaml &&
	printf "version: 1\nretries: 0\n" >p8/mpbuild.yaml && mkdir ans8 &&
	answer ans8/J.json d/x.json "{\"a\": 1,}" && MKCASSETTE_KEEP_GOING=1 make_cassette p8 ans8 c8 && cd p8 &&
	expect_code 1 mpbuild --replay ../c8 --progress plain >../out 2>&1 &&
	grep "syntax: d/x.json:1:" ../out && ! test -e d/x.json
'

done_testing
