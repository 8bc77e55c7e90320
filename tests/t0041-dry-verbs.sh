#!/bin/sh
# t0041: a dry run changes nothing, whatever the verb.  -n clean, -n clean
# --orphans, -n accept, -n touch and -n approve say what they would do; -n
# with status, explain, graph, cost, check, cache stats and a build only
# read; -n init and -n cache gc|verify|export|import are refused (exit 2).
# Each leaves the tree and cache/ (state.db included: no -wal or -shm
# appears) byte-identical.
. "$(dirname "$0")/lib.sh"

# snap: every file and directory under the project with its sha256
snap() { find . -print | LC_ALL=C sort | while read -r f; do
	if [ -f "$f" ]; then echo "$(sha256sum <"$f" | cut -d" " -f1) $f"; else echo "dir $f"; fi; done; }

# unchanged CODE VERB...: mpbuild -n VERB... exits CODE (output in ../out)
# and the project is byte for byte as before
unchanged() {
	want=$1
	shift
	snap >../before &&
	expect_code "$want" mpbuild -n "$@" >../out 2>&1 &&
	snap >../after &&
	cmp_files ../before ../after
}

new_project proj
cd proj

expect_success 'setup: a build, a hand edit, an orphan' '
	mpbuild --replay "$CASSETTE" --progress plain >/dev/null &&
	echo "/* mine */" >>demo/src/tokenize.c &&
	python3 - <<-"PY" &&
	p = "plans/masterplan.yaml"
	s = open(p).read()
	i = s.index("  - id: T-005")
	s = s[:i]
	open(p, "w").write(s)
	PY
	mpbuild status >../st && grep "^edited .*T-001" ../st &&
	grep "orphaned (no task declares them): demo/tests/test_counter.c, demo/tests/test_tokenize.c" ../st &&
	test -f cache/state.db && ! test -e cache/state.db-wal && ! test -e cache/state.db-shm
'

expect_success '-n clean lists what it would remove and removes nothing' '
	unchanged 0 clean &&
	grep "^would remove demo/src/counter.c$" ../out &&
	grep "^would keep demo/src/tokenize.c (edited by hand)$" ../out &&
	grep "^mpbuild: would remove [1-9][0-9]* files$" ../out &&
	unchanged 0 clean T-002 &&
	grep "^would remove demo/src/counter.h$" ../out && ! grep "tokenize" ../out
'

expect_success '-n clean --orphans lists the orphans and drops no record' '
	unchanged 0 clean --orphans &&
	grep "^would remove demo/tests/test_counter.c (was an output of T-005)$" ../out &&
	grep "^mpbuild: would remove 2 orphaned files; would drop 1 record of tasks the plan no longer has$" ../out
'

expect_success '-n accept and -n touch name the targets they would mark' '
	unchanged 0 accept T-001 &&
	grep "^would accept T-001$" ../out &&
	unchanged 0 touch T-001 &&
	grep "^would touch T-001$" ../out
'

expect_success '-n approve says what it would approve' '
	unchanged 0 approve &&
	grep "^mpbuild: would approve the check commands of the plan (sha256:[0-9a-f]*)" ../out
'

expect_success '-n with a verb that only reads, and a dry build, change nothing' '
	unchanged 0 status && grep "^edited .*T-001" ../out &&
	unchanged 0 explain T-001 &&
	unchanged 0 graph &&
	unchanged 0 cost &&
	unchanged 0 check &&
	unchanged 0 cache stats &&
	unchanged 0 &&
	unchanged 0 --json T-001 &&
	unchanged 0 answers
'

expect_success '-n init and -n cache gc|verify|export|import are refused with exit 2' '
	unchanged 2 init && grep "^mpbuild: -n does not go with init: it creates a project" ../out &&
	unchanged 2 init ../elsewhere && ! test -e ../elsewhere &&
	for c in gc verify "export ../x.tar.zst" "import ../x.tar.zst"; do
		unchanged 2 cache $c &&
		grep "^mpbuild: -n does not go with cache ${c%% *}: it would change the cache" ../out || return 1
	done &&
	! test -e ../x.tar.zst
'

expect_success 'the same verbs without -n do change the project (the checks can fail)' '
	snap >../before && mpbuild clean T-002 >/dev/null && snap >../after &&
	! cmp -s ../before ../after &&
	snap >../before && mpbuild approve >/dev/null && snap >../after &&
	! cmp -s ../before ../after
'

done_testing
