#!/bin/sh
# t0030: the pipeline before the tasks (SPEC 2): questions, answers (on a
# pseudo-terminal, --defaults, and the message off a terminal), discovery and
# masterplan with the replay provider, the masterplan retry with plan_load's
# errors fed back, kept plan files, -B backups, and the YAML writer's
# determinism and round trip.
. "$(dirname "$0")/lib.sh"

FIX=$SRCDIR/tests/fixtures/discover

# record CASSETTE MPBUILD-ARGS...: run mpbuild until it stops missing
# recordings, adding the entries for each key it prints from $FIX
record() {
	c=$1
	shift
	mkdir -p "$c"
	for round in 1 2 3 4 5; do
		MPBUILD_PRINT_KEYS=1 "$MPBUILD" --replay "$c" "$@" 2>"$TRASH/keys" >"$TRASH/keys.out" && return 0
		grep -q "no recording" "$TRASH/keys" "$TRASH/keys.out" || { cat "$TRASH/keys" "$TRASH/keys.out"; return 1; }
		python3 "$FIX/entry.py" "$TRASH/keys" "$FIX" "$c" || return 1
	done
	return 1
}

new_request() {
	rm -rf "$1" && mkdir -p "$1/plans" && cp "$SRCDIR/plans/request.md" "$1/plans/"
}

new_request proj
cd proj

expect_success 'questions: one call writes plans/questions.yaml and records it' '
	record ../cas questions &&
	mpbuild --replay ../cas questions >../out &&
	grep "questions: up to date" ../out &&
	head -1 plans/questions.yaml | grep -qx "version: 1" &&
	grep -q "^- id: q1" plans/questions.yaml &&
	grep -q "^  default: \"no\"$" plans/questions.yaml &&
	test -z "$(tail -c1 plans/questions.yaml)" &&
	grep -q "plans/questions.yaml: $(sha plans/questions.yaml)" mpbuild.lock
'

expect_success 'the key printed for questions covers the phase text and request.md' '
	MPBUILD_PRINT_KEYS=1 mpbuild --replay ../cas -B questions 2>../keys >/dev/null;
	grep "^questions sha256:" ../keys | grep -q "Target: questions" &&
	grep "^questions sha256:" ../keys | grep -q "Phase: questions"
'

expect_success 'not on a terminal, unanswered questions stop with exit 2 and name the file' '
	expect_code 2 mpbuild --replay ../cas answers </dev/null 2>../err &&
	cat >../want <<-\EOF &&
	mpbuild: plans/answers.yaml: 6 questions have no answer; answer them on a terminal (mpbuild answers) or fill in the file, or use --defaults
	EOF
	cmp_files ../want ../err && test ! -e plans/answers.yaml
'

expect_success 'discovery refuses to run while questions have no answer' '
	expect_code 2 mpbuild --replay ../cas discovery </dev/null 2>../err &&
	grep "plans/answers.yaml: 6 questions have no answer" ../err
'

expect_success 'on a terminal: an answer, an empty line for the default, Ctrl-D stops and saves' '
	expect_code 2 python3 "$SRCDIR/tests/pty_answer.py" "tabs and spaces only" "" "^D" -- "$MPBUILD" answers >../tty &&
	grep -q "why: It fixes the tokenizer" ../tty &&
	grep -q "default: By the word, in byte order" ../tty &&
	grep -q "plans/answers.yaml: stopped with 4 questions unanswered; the answers so far are saved" ../tty &&
	cat >../want <<-\EOF &&
	version: 1
	answers:
	  q1: tabs and spaces only
	  q2: They are part of words and kept as they are; only ASCII is case-folded.
	EOF
	cmp_files ../want plans/answers.yaml
'

expect_success 'on a terminal again: existing answers are kept, the rest asked' '
	python3 "$SRCDIR/tests/pty_answer.py" "" "" "" "7" -- "$MPBUILD" answers >../tty &&
	tr "\r" "\n" <../tty | grep -q "^.\[K4 questions to answer" &&
	! grep -q "q1:" ../tty &&
	grep -q "^  q1: tabs and spaces only$" plans/answers.yaml &&
	grep -q "^  q9: \"7\"$" plans/answers.yaml &&
	python3 "$SRCDIR/tests/pty_answer.py" -- "$MPBUILD" answers >../tty &&
	! grep -q "to answer" ../tty
'

expect_success 'discovery writes the glossary back as a mapping' '
	record ../cas discovery &&
	head -1 plans/discovery.yaml | grep -qx "version: 1" &&
	grep -q "^glossary:$" plans/discovery.yaml &&
	grep -q "^  Word: " plans/discovery.yaml &&
	! grep -q "term:" plans/discovery.yaml &&
	grep -q "plans/discovery.yaml: $(sha plans/discovery.yaml)" mpbuild.lock
'

expect_success 'masterplan: a plan with a cycle is retried once with the exact errors fed back' '
	record ../cas masterplan &&
	mpbuild check &&
	grep -q "plans/masterplan.yaml: $(sha plans/masterplan.yaml)" mpbuild.lock &&
	MPBUILD_PRINT_KEYS=1 mpbuild --replay ../cas -B masterplan 2>../keys >/dev/null &&
	grep "^masterplan sha256:[0-9a-f]* 2 " ../keys | grep "\"feedback\":\"# Re-planning" |
		grep -q "plans/masterplan.yaml:[0-9]*:[0-9]*: error: dependency cycle: T-001 -> T-005" &&
	grep "^masterplan sha256:[0-9a-f]* 1 " ../keys | grep -q "\"feedback\":\"# Re-planning" &&
	! grep "^masterplan sha256:[0-9a-f]* 1 " ../keys | grep -q "dependency cycle" &&
	grep -q "attempt 1 was not a valid plan" ../keys
'

expect_success 'a masterplan that never loads leaves the old one and fails with exit 1' '
	cp plans/masterplan.yaml ../mp.before &&
	rm -rf ../fix2 && mkdir ../fix2 && cp "$FIX/masterplan.json" ../fix2/masterplan.json &&
	cp "$FIX/masterplan.json" ../fix2/masterplan.2.json &&
	MPBUILD_PRINT_KEYS=1 mpbuild --replay ../empty -B masterplan 2>../keys >/dev/null;
	python3 "$FIX/entry.py" ../keys ../fix2 ../cas2 &&
	expect_code 1 mpbuild --replay ../cas2 -B masterplan >../out 2>../err &&
	grep "attempt 2 was not a valid plan" ../err &&
	grep "^\[[0-9]/[0-9]\] masterplan plans/masterplan.yaml: failed — plans/masterplan.yaml:[0-9]*:[0-9]*: error: dependency cycle" ../out &&
	cmp_files ../mp.before plans/masterplan.yaml &&
	test -f cache/failed/masterplan/2/masterplan.yaml &&
	test -f cache/failed/masterplan/2/answer.json
'

expect_success 'a hand-edited plan file is kept; -B saves it as FILE.orig.N first' '
	echo "# my note" >>plans/questions.yaml &&
	cp plans/questions.yaml ../q.edited &&
	expect_code 2 mpbuild --replay ../cas questions 2>../err &&
	grep "plans/questions.yaml: kept (edited by hand); mpbuild -B questions regenerates it after saving it as plans/questions.yaml.orig.N" ../err &&
	cmp_files ../q.edited plans/questions.yaml &&
	mpbuild --replay ../cas -B questions 2>../err &&
	cmp_files ../q.edited plans/questions.yaml.orig.1 &&
	! grep -q "my note" plans/questions.yaml &&
	echo "# again" >>plans/questions.yaml &&
	mpbuild --replay ../cas -B questions 2>/dev/null &&
	test -f plans/questions.yaml.orig.1 && grep -q "# again" plans/questions.yaml.orig.2
'

expect_success 'a plan file with no record is a source and is not overwritten' '
	new_request ../src && cd ../src &&
	cp "$SRCDIR/plans/questions.yaml" plans/ &&
	expect_code 2 mpbuild --replay ../cas questions 2>../err &&
	grep "plans/questions.yaml: kept (not generated by mpbuild)" ../err &&
	cmp_files "$SRCDIR/plans/questions.yaml" plans/questions.yaml
'

expect_success 'a full run from request.md to a plan that passes check, with --defaults' '
	new_request ../full && cd ../full &&
	record ../cas3 --defaults masterplan &&
	for f in questions answers discovery masterplan; do test -f plans/$f.yaml || exit 1; done &&
	grep -q "^  q9: \"no\"$" plans/answers.yaml &&
	mpbuild check
'

expect_success 'the same answers give the same bytes' '
	new_request ../again && cd ../again &&
	mpbuild --replay ../cas3 --defaults masterplan >/dev/null 2>&1 &&
	for f in questions answers discovery masterplan; do cmp ../full/plans/$f.yaml plans/$f.yaml || exit 1; done
'

expect_success 'a build with no masterplan runs the pipeline first' '
	new_request ../auto && cd ../auto &&
	expect_code 2 mpbuild --replay ../cas3 </dev/null 2>../err &&
	grep "6 questions have no answer" ../err && test -f plans/questions.yaml &&
	test ! -f plans/masterplan.yaml
'

expect_success 'the repository plans round-trip through the YAML writer byte-stably' '
	rm -rf ../rt && mkdir ../rt && cp -R "$SRCDIR/plans" ../rt/plans && cd ../rt &&
	for f in plans/*.yaml; do
		MPBUILD_YAML_REWRITE=$f mpbuild questions && cp $f $f.1 &&
		MPBUILD_YAML_REWRITE=$f mpbuild questions && cmp $f.1 $f || exit 1
		python3 -c "import sys, yaml; a, b = (yaml.safe_load(open(p)) for p in sys.argv[1:]); sys.exit(a != b)" \
			"$SRCDIR/$f" $f || { echo "$f changed meaning"; exit 1; }
	done &&
	mpbuild check
'

done_testing
