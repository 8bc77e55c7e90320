#!/bin/sh
# t0002: mpbuild check.  The bad-plan corpus: each tests/bad/NN-name/ holds the
# plan files that differ from the good project in tests/bad/base/ and, in
# `expected`, the exact stderr of `mpbuild check` (exit 2).  Then hostile input
# generated here (too big to commit), good edge cases from tests/good/, the
# repository's own plans, init, and the command line.
. "$(dirname "$0")/lib.sh"

BAD=$SRCDIR/tests/bad
GOOD=$SRCDIR/tests/good
# hostile input must fail fast; a hang ends here instead of hanging prove
LIMIT="timeout 60"
command -v timeout >/dev/null || LIMIT=

# make_case DIR CASEDIR: the base project in DIR with CASEDIR's files on top
make_case() {
	rm -rf "$1" && mkdir -p "$1" && cp -R "$BAD/base/." "$1/" &&
	cp -R "$2/." "$1/" && rm -f "$1/expected"
}

# check_fails DIR EXPECTED: mpbuild check in DIR exits 2, prints nothing on
# stdout and exactly EXPECTED on stderr
check_fails() {
	(cd "$1" && expect_code 2 $LIMIT "$MPBUILD" check >"$TRASH/check.out" 2>"$TRASH/check.err") &&
	{ test ! -s "$TRASH/check.out" || { echo "unexpected stdout:"; cat "$TRASH/check.out"; false; }; } &&
	cmp_files "$2" "$TRASH/check.err"
}

expect_success 'the base project of the corpus is valid' '
	make_case base "$BAD/base" && cd base &&
	mpbuild check >../out && grep -x "mpbuild: the plan is valid: 4 tasks, 2 milestones, 1 phases, 6 rules" ../out
'

for c in "$BAD"/[0-9]*; do
	name=${c##*/}
	expect_success "bad: $name" '
		test -f "$c/expected" && make_case "$name" "$c" && check_fails "$name" "$c/expected"
	'
done

expect_success 'every bad case has its own expected message' '
	ls -d "$BAD"/[0-9]* | wc -l | grep -qv "^0$" &&
	for c in "$BAD"/[0-9]*; do test -s "$c/expected" || { echo "$c lacks expected"; exit 1; }; done
'

# hostile input too big to commit: generated into the trash directory
expect_success 'hostile: a scalar over 4 MiB fails fast' '
	make_case huge-scalar "$BAD/base" &&
	python3 - huge-scalar/plans/masterplan.yaml <<-PY &&
	import sys
	with open(sys.argv[1], "w") as f:
	    f.write("version: 1\ntasks:\n  - id: T-001\n    title: Note model\n    description: ")
	    f.write("x" * (4 * 1024 * 1024 + 1))
	    f.write("\n    context: [Notes]\n    outputs: [src/notes/note.py]\n")
	PY
	echo "plans/masterplan.yaml:5:18: error: scalar of 4194305 bytes is larger than the limit of 4 MiB" >want &&
	check_fails huge-scalar want
'

expect_success 'hostile: a scalar of exactly 4 MiB is allowed' '
	make_case big-scalar "$BAD/base" &&
	python3 - big-scalar/plans/masterplan.yaml <<-PY &&
	import sys
	with open(sys.argv[1], "w") as f:
	    f.write("version: 1\ntasks:\n  - id: T-001\n    title: Note model\n    description: ")
	    f.write("x" * (4 * 1024 * 1024))
	    f.write("\n    context: [Notes]\n    outputs: [src/notes/note.py]\n")
	PY
	cd big-scalar && $LIMIT "$MPBUILD" check >../out && grep "plan is valid: 1 tasks" ../out
'

expect_success 'hostile: a file over 64 MiB fails fast, before it is parsed' '
	make_case huge-file "$BAD/base" &&
	python3 - huge-file/plans/masterplan.yaml <<-PY &&
	import sys
	with open(sys.argv[1], "w") as f:
	    f.write("version: 1\n")
	    line = "# " + "x" * 1021 + "\n"
	    for i in range(64 * 1024):
	        f.write(line)
	PY
	test "$(wc -c <huge-file/plans/masterplan.yaml)" -gt $((64 * 1024 * 1024)) &&
	echo "plans/masterplan.yaml: error: file is larger than 64 MiB" >want &&
	check_fails huge-file want
'

expect_success 'hostile: a big mpbuild.yaml is refused the same way' '
	make_case huge-settings "$BAD/base" &&
	python3 -c "import sys; open(sys.argv[1], \"w\").write(\"version: 1\n\" + \"#\" * (64 << 20))" \
		huge-settings/mpbuild.yaml &&
	echo "mpbuild.yaml: error: file is larger than 64 MiB" >want &&
	check_fails huge-settings want
'

for c in "$GOOD"/[0-9]*; do
	name=${c##*/}
	expect_success "good: $name" '
		make_case "good-$name" "$c" && cd "good-$name" &&
		mpbuild check >../out 2>../err && grep "^mpbuild: the plan is valid" ../out && test ! -s ../err
	'
done

expect_success 'the repository'\''s own plans pass' '
	new_project own && cd own &&
	mpbuild check >../out 2>../err &&
	grep -x "mpbuild: the plan is valid: 5 tasks, 2 milestones, 2 phases, 6 rules" ../out &&
	test ! -s ../err &&
	test "$(ls -A)" = plans
'

expect_success 'check finds the project from a subdirectory and with -C' '
	cd own/plans && mpbuild check | grep "plan is valid" && cd "$TRASH" &&
	mpbuild -C own check | grep "plan is valid"
'

expect_success 'a project made by init passes check: plans are generated later' '
	mpbuild init fresh "a notes app" >out && grep "started a project in fresh" out &&
	cd fresh && test ! -e plans/masterplan.yaml &&
	mpbuild check >../out 2>../err && test ! -s ../err &&
	grep -x "mpbuild: the plan is valid: 0 tasks, 0 milestones, 0 phases, 6 rules" ../out
'

expect_success 'a task added to the init project is checked against its rules/' '
	cd fresh && cp "$BAD/base/plans/masterplan.yaml" "$BAD/base/plans/discovery.yaml" plans/ &&
	mpbuild check | grep "plan is valid: 4 tasks" &&
	sed -i "s/^name: python$/name: pythn/" rules/python.yaml &&
	expect_code 2 mpbuild check 2>../err &&
	grep -x "rules/python.yaml:2:7: error: rule name .pythn. does not match its file name .python.yaml." ../err
'

expect_success 'a project rule overrides the built-in one of the same name' '
	make_case override "$BAD/base" && mkdir override/rules &&
	printf "version: 1\nname: python\nmatch: [\"*.py\"]\nvalidate: {\"*.py\": [true]}\n" >override/rules/python.yaml &&
	cd override && mpbuild check | grep "6 rules" &&
	printf "version: 1\nname: python\nmatch: \"*.py\"\n" >rules/python.yaml &&
	expect_code 2 mpbuild check 2>../err &&
	grep -x "rules/python.yaml:3:8: error: .match. of the rule must be a list, not a scalar" ../err
'

expect_success 'mpbuild.yaml errors are reported all at once, each with its place' '
	make_case settings "$BAD/base" &&
	printf "version: 1\nprovider: openai\njobs: 3\nretries: 2\nbudget_usd: 2.5\ncache_ttl: 1h\nmax_tokens: 4000\n" \
		>settings/mpbuild.yaml &&
	(cd settings && mpbuild check | grep "plan is valid") &&
	printf "version: 1\njobs: 3\nretries: lots\nprovider: opnai\n" >settings/mpbuild.yaml &&
	cd settings && expect_code 2 mpbuild check 2>../err &&
	grep -x "mpbuild.yaml:4:11: error: .provider. must be one of anthropic | openai | replay, not .opnai. (did you mean .openai.?)" ../err &&
	grep -x "mpbuild.yaml:3:10: error: .retries. must be a whole number from 0 to 10" ../err &&
	test "$(wc -l <../err)" = 2
'

expect_success 'errors in several files are all reported in one run' '
	make_case several "$BAD/base" &&
	printf "version: 1\nretrys: 1\n" >several/mpbuild.yaml &&
	sed -i "s/complexity: high/complexity: hihg/" several/plans/masterplan.yaml &&
	sed -i "s/to: Storage/to: Storag/" several/plans/discovery.yaml &&
	cd several && expect_code 2 mpbuild check 2>../err &&
	grep "^mpbuild.yaml:2:1: error: unknown key .retrys. in mpbuild.yaml (did you mean .retries.?)$" ../err &&
	grep "^plans/discovery.yaml:.*unknown bounded context .Storag. (did you mean .Storage.?)$" ../err &&
	grep "^plans/masterplan.yaml:.*not .hihg. (did you mean .high.?)$" ../err
'

expect_success 'an unknown command-line option is bad input (exit 2)' '
	cd own && expect_code 2 mpbuild --frobnicate 2>../err &&
	grep -x "mpbuild: unknown option --frobnicate" ../err &&
	expect_code 2 mpbuild check --frobnicate 2>../err && grep "unknown option --frobnicate" ../err &&
	expect_code 2 mpbuild -j 2>../err && grep -x "mpbuild: option -j needs a value" ../err &&
	expect_code 2 mpbuild -j zero check 2>../err && grep "^mpbuild: -j takes a number of at least 1, not zero" ../err
'

expect_success 'check outside a project is bad input' '
	mkdir -p nowhere && cd nowhere && expect_code 2 mpbuild -C . check 2>../err &&
	grep "not an mpbuild project" ../err
'

expect_success 'aliases of a large scalar (a byte-size alias bomb) fail fast' '
	mkdir -p bytebomb/plans && cd bytebomb &&
	python3 -c "
s = \"version: 1\\ndomain: x\\nglossary:\\n  Note: &s \" + \"a\" * (1 << 20) + \"\\n\" + \"\".join(\"  K%d: *s\\n\" % i for i in range(300))
open(\"plans/discovery.yaml\", \"w\").write(s)
open(\"plans/masterplan.yaml\", \"w\").write(\"version: 1\\ntasks:\\n  - {id: A, title: a, outputs: [a.c]}\\n\")
" &&
	expect_code 2 mpbuild check 2>err && grep "aliases expand to more than 64 MiB of text" err
'

done_testing
