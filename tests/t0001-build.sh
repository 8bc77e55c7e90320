#!/bin/sh
# t0001: the build engine end to end with the replay provider: first build,
# no-op, exact staleness, early cutoff, hand edits, deleted outputs, missing
# recordings, -B, a fresh clone.
. "$(dirname "$0")/lib.sh"

new_project proj
mkdir empty
cd proj

expect_success 'first build writes every output and the lock' '
	mpbuild --replay "$CASSETTE" --progress plain >../out &&
	grep "5 built, 0 restored, 0 up to date, 0 failed" ../out &&
	for f in demo/src/tokenize.h demo/src/tokenize.c demo/src/counter.h demo/src/counter.c demo/src/main.c \
		demo/Makefile demo/README.md demo/tests/test_tokenize.c demo/tests/test_counter.c; do
		test -f $f && grep -q "$f: $(sha $f)" mpbuild.lock || { echo "lock lacks $f"; exit 1; }
	done &&
	grep -c "key: sha256:" mpbuild.lock | grep -qx 5 &&
	test -f cache/state.db
'

expect_success 'the built program compiles and runs' '
	make -s -C demo build/wordfreq >/dev/null &&
	printf "b a b\n" | demo/build/wordfreq -n 1 | grep "2 b"
'

expect_success 'a second build makes no provider call, says up to date and leaves the lock file alone' '
	cp mpbuild.lock ../lock.before && ino=$(stat -c %i mpbuild.lock) &&
	mpbuild --replay ../empty --progress plain >../out &&
	grep "everything is up to date (5 targets" ../out &&
	cmp_files ../lock.before mpbuild.lock && test "$(stat -c %i mpbuild.lock)" = "$ino"
'

expect_success 'status says up to date for every task' '
	mpbuild status >../out &&
	test "$(grep -c "^up to date" ../out)" = 5
'

expect_success 'editing one task description rebuilds exactly that task (early cutoff)' '
	sed -i "s/Write the tokenizer module,/Write the whole tokenizer module,/" plans/masterplan.yaml &&
	grep -q "Write the whole tokenizer" plans/masterplan.yaml &&
	mpbuild status >../out && grep "^stale .*T-001.*inputs changed" ../out &&
	mpbuild explain T-001 >../out && grep "changed: layer 4" ../out &&
	make_cassette . "$ANSWERS" ../c2 &&
	mpbuild --replay ../c2 --progress plain -v >../out &&
	grep "T-001 Tokenizer: built" ../out &&
	grep "1 built, 0 restored, 4 up to date" ../out
'

expect_success 'a dependency rebuilt with different outputs rebuilds its dependents' '
	cp -R "$ANSWERS" ../answers2 &&
	python3 - ../answers2/T-002.json <<-PY &&
	import json, sys
	p = sys.argv[1]; a = json.load(open(p))
	a["files"][0]["content"] += "/* changed */\n"
	json.dump(a, open(p, "w"))
	PY
	make_cassette . ../answers2 ../c3 &&
	mpbuild --replay ../c3 --progress plain >../out && grep "everything is up to date" ../out &&
	mpbuild -B T-002 --replay ../c3 --progress plain >../out &&
	grep "T-002 Word counter: built" ../out &&
	mpbuild --replay ../c3 --progress plain >../out &&
	grep "T-003 .*: built" ../out && grep "T-004 .*: built" ../out && grep "T-005 .*: built" ../out &&
	! grep "T-001 .*: built" ../out &&
	grep "3 built, 0 restored, 2 up to date" ../out &&
	mpbuild explain T-003 >../out && grep "nothing changed" ../out
'

expect_success 'a hand-edited output is reported and kept' '
	echo "/* mine */" >>demo/src/main.c && cp demo/src/main.c ../mine &&
	sed -i "s/Write main.c, the wordfreq/Write main.c, our wordfreq/" plans/masterplan.yaml &&
	mpbuild T-003 --replay ../empty --progress plain >../out &&
	grep "T-003 .*kept (edited by hand)" ../out &&
	cmp_files ../mine demo/src/main.c &&
	mpbuild status >../out && grep "^edited .*T-003" ../out
'

expect_success 'mpbuild accept records the edited output' '
	sed -i "s/Write main.c, our wordfreq/Write main.c, the wordfreq/" plans/masterplan.yaml &&
	mpbuild accept T-003 >../out && grep "accepted T-003" ../out &&
	grep "demo/src/main.c: $(sha demo/src/main.c)" mpbuild.lock &&
	mpbuild status T-003 >../out && grep "^up to date .*T-003" ../out
'

expect_success '-B regenerates an edited file after saving it as FILE.orig.N' '
	echo "/* again */" >>demo/src/main.c && cp demo/src/main.c ../mine2 &&
	mpbuild -B T-003 --replay ../c3 --progress plain >../out &&
	grep "saved your demo/src/main.c as demo/src/main.c.orig.1" ../out &&
	cmp_files ../mine2 demo/src/main.c.orig.1 &&
	! grep "again" demo/src/main.c
'

expect_success 'deleting an output rebuilds its task' '
	rm demo/src/counter.h &&
	mpbuild status >../out && grep "^stale .*T-002.*counter.h is missing" ../out &&
	mpbuild --no-cache --replay ../c3 --progress plain >../out &&
	grep "1 built, 0 restored, 4 up to date" ../out && test -f demo/src/counter.h &&
	rm demo/src/counter.h && mpbuild --replay ../empty --progress plain >../out &&
	grep "0 built, 1 restored, 4 up to date" ../out && test -f demo/src/counter.h
'

expect_success 'a missing recording fails only that target and its dependents (exit 1)' '
	cd .. && new_project p2 && cd p2 &&
	mkdir ../c4 && for f in "$CASSETTE"/*.json; do
		grep -q "\"target\": \"T-002\"" "$f" || cp "$f" ../c4/; done &&
	expect_code 1 mpbuild --replay ../c4 --progress plain >../out 2>&1 &&
	grep "T-002 .*: failed — no recording for T-002" ../out &&
	grep "T-003 .*: skipped — T-002 failed" ../out &&
	grep "T-005 .*: skipped" ../out &&
	grep "T-001 .*: built" ../out &&
	grep "1 built, 0 restored, 0 up to date, 1 failed, 3 skipped" ../out &&
	mpbuild status >../out && grep "^failed .*T-002.*no recording" ../out
'

expect_success 'the next run retries a failed target' '
	cd ../p2 && mpbuild --replay "$CASSETTE" --progress plain >../out &&
	grep "4 built, 0 restored, 1 up to date, 0 failed" ../out
'

expect_success 'a file at an output path that mpbuild did not write is never overwritten' '
	cd .. && new_project p3 && cd p3 && mkdir -p demo/src &&
	echo "mine" >demo/src/tokenize.h &&
	expect_code 1 mpbuild --replay "$CASSETTE" --progress plain >../out 2>&1 &&
	grep "T-001 .*would overwrite demo/src/tokenize.h, which mpbuild did not generate" ../out &&
	test "$(cat demo/src/tokenize.h)" = mine
'

expect_success 'a fresh clone with the lock and the outputs is up to date with no call' '
	cd .. && mkdir clone && cp -R proj/plans proj/demo proj/mpbuild.lock clone/ &&
	cd clone && mpbuild --replay ../empty --progress plain >../out &&
	grep "everything is up to date" ../out
'

expect_success 'the lock is deterministic and sorted' '
	cd ../proj && rm -rf cache && mpbuild --replay ../empty -q && cp mpbuild.lock ../l1 &&
	rm mpbuild.lock && mpbuild --replay ../empty -q && cmp_files ../l1 mpbuild.lock &&
	grep "^  T-" mpbuild.lock | sort -c
'

expect_success 'graph prints dot with clusters per milestone' '
	mpbuild graph >../out && grep "subgraph \"cluster_M1\"" ../out &&
	grep "\"T-001\" -> \"T-003\";" ../out &&
	mpbuild graph T-003 >../out && ! grep "T-004" ../out
'

expect_success 'an unknown target is bad input with a close match' '
	expect_code 2 mpbuild T-0003 2>../err; grep "unknown target .T-0003. (did you mean T-003?)" ../err
'

expect_success 'dry run lists calls with estimated cost and makes none' '
	sed -i "s/Write the whole tokenizer module,/Write the tokenizer module,/" plans/masterplan.yaml &&
	mpbuild -n >../out && grep "would call T-001" ../out && grep "may call  T-003" ../out &&
	mpbuild status T-001 | grep "^stale"
'

done_testing
