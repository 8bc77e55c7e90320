#!/bin/sh
# t0003: init, the project lock, interrupted landings, a lock changed outside
# mpbuild, a corrupt state file, clean, touch and the small commands.
. "$(dirname "$0")/lib.sh"

mkdir empty

expect_success 'init starts a project with the built-in rules' '
	mpbuild init app "a todo list in C" >out &&
	grep "started a project in app" out &&
	test -f app/mpbuild.yaml && test -f app/rules/c.yaml && test -f app/rules/generic.yaml &&
	grep "a todo list in C" app/plans/request.md &&
	grep -x "\*" app/cache/.gitignore &&
	expect_code 2 mpbuild init app 2>err && grep "exists already" err
'

expect_success 'a build without a masterplan starts discovery (and needs a key)' '
	cd app && expect_code 4 mpbuild 2>../err && grep "ANTHROPIC_API_KEY is not set" ../err &&
	test ! -e plans/questions.yaml
'

expect_success 'mpbuild finds the project from a subdirectory, and -C works' '
	new_project proj && mkdir -p proj/plans/sub && cd proj/plans/sub &&
	mpbuild check | grep "plan is valid" && cd ../../.. && mpbuild -C proj check | grep "plan is valid"
'

expect_success 'outside a project is bad input' '
	mkdir nowhere && cd nowhere && expect_code 2 mpbuild -C . status 2>../err; grep "not an mpbuild project" ../err
'

expect_success 'first build of proj' '
	cd proj && mpbuild --replay "$CASSETTE" -q && test -f mpbuild.lock
'

expect_success 'an interrupted landing is finished on the next run, not taken for a hand edit' '
	cd proj && cp demo/src/main.c ../main.new && echo "/* old */" >demo/src/main.c &&
	cp ../main.new demo/src/main.c.mpbuild-new &&
	python3 - <<-PY &&
	import json, sqlite3
	db = sqlite3.connect("cache/state.db")
	key = db.execute("select key from record where target=?", ("T-003",)).fetchone()[0]
	h = db.execute("select hash from output where target=?", ("T-003",)).fetchone()[0]
	db.execute("insert into intent values(?,?)", ("T-003", json.dumps({"key": key, "model": "m", "generated": True,
	    "manifest": None, "files": [{"path": "demo/src/main.c", "hash": h}]})))
	db.commit()
	PY
	mpbuild --replay ../empty --progress plain >../out &&
	grep "everything is up to date" ../out &&
	cmp_files ../main.new demo/src/main.c && ! test -e demo/src/main.c.mpbuild-new
'

expect_success 'a second build waits for the project lock, then exits 2' '
	cd proj && command -v flock >/dev/null || exit 0
	flock cache/lock sleep 8 & sleep 0.5 &&
	expect_code 2 mpbuild --replay ../empty 2>../err &&
	grep "another mpbuild (pid .*) is building this project" ../err &&
	mpbuild status >/dev/null && wait
'

expect_success 'a lock changed outside mpbuild (git checkout) wins over state.db' '
	cd proj && cp mpbuild.lock ../lock.good &&
	echo "/* other branch */" >>demo/src/counter.c &&
	python3 - <<-PY &&
	import hashlib
	h = "sha256:" + hashlib.sha256(open("demo/src/counter.c", "rb").read()).hexdigest()
	s = open("mpbuild.lock").read().splitlines()
	s = [("      demo/src/counter.c: " + h) if l.startswith("      demo/src/counter.c:") else l for l in s]
	open("mpbuild.lock", "w").write("\n".join(s) + "\n")
	PY
	mpbuild status T-002 >../out && grep "^up to date .*T-002" ../out &&
	sed -i "/other branch/d" demo/src/counter.c && cp ../lock.good mpbuild.lock &&
	mpbuild status >../out && test "$(grep -c "^up to date" ../out)" = 5
'

expect_success 'a corrupt state.db is a warning and a fresh start' '
	cd proj && rm -f cache/state.db-wal cache/state.db-shm && echo garbage >cache/state.db &&
	mpbuild --replay "$CASSETTE" --progress plain >../out 2>../err &&
	grep "unusable" ../err && test -f cache/state.db.corrupt
'

expect_success 'clean removes generated outputs and keeps edited ones' '
	cd proj && echo "/* mine */" >>demo/README.md &&
	mpbuild clean T-004 >../out && grep "kept demo/README.md (edited by hand)" ../out &&
	! test -e demo/Makefile && test -e demo/README.md && grep "removed 1 file" ../out
'

expect_success 'touch marks a stale target up to date without a call' '
	cd proj && mpbuild --replay "$CASSETTE" -B T-004 -q &&
	sed -i "s/Write main.c, the wordfreq/Write main.c, our wordfreq/" plans/masterplan.yaml &&
	mpbuild status T-003 | grep "^stale" &&
	mpbuild touch T-003 >../out && grep "touched T-003" ../out &&
	mpbuild --replay ../empty --progress plain | grep "everything is up to date"
'

expect_success 'progress json writes one event per line' '
	cd proj && mpbuild -B T-001 --replay "$CASSETTE" --progress json 2>../ev >/dev/null &&
	python3 -c "
import json, sys
ev = [json.loads(l)[\"event\"] for l in open(\"../ev\")]
assert ev[0] == \"target_started\" and \"call_finished\" in ev and ev[-1] == \"run_finished\", ev
"
'

expect_success '--version, --help and a bad option' '
	mpbuild --version | grep "^mpbuild [0-9]" &&
	mpbuild --help | grep "usage: mpbuild" &&
	expect_code 2 mpbuild --frobnicate 2>err && grep "unknown option --frobnicate" err &&
	expect_code 2 mpbuild -C proj --progress fancy 2>err && grep "auto, plain or json" err
'

done_testing
