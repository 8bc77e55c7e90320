#!/bin/sh
# t0022: crash safety (SPEC 8, 10.7).  mpbuild is killed with SIGKILL at named
# points of a build (MPBUILD_CRASH=POINT:N stops it at the N-th hit of POINT:
# before, during and after a landing, during a trial and its checks, during a
# store write) and at random moments.  Right after each kill no output and no
# store entry is torn; the next run exits 0, rebuilds no target that had
# landed, and leaves the tree, the lock and the store exactly as a build that
# was never interrupted, with no temporary file anywhere.  Also a target whose
# check fails, killed while its trial is undone.  T0022_ALL=1 kills at every
# hit of every point as well as at a sample (about 150 more kills, 10 minutes).
. "$(dirname "$0")/lib.sh"

OUTPUTS="demo/src/tokenize.h demo/src/tokenize.c demo/src/counter.h demo/src/counter.c demo/src/main.c
	demo/Makefile demo/README.md demo/tests/test_tokenize.c demo/tests/test_counter.c"
TARGETS="T-001 T-002 T-003 T-004 T-005"
mkdir empty

# landed DIR REF: the targets whose landing with the key in REF's lock is
# done or will be rolled forward: a record, or a landing intent whose
# temporaries are all written (not one still staging them)
landed() {
	python3 - "$1/cache/state.db" "$2/mpbuild.lock" <<-'PY'
	import json, os, re, sqlite3, sys
	want, t = {}, None
	for line in open(sys.argv[2]):
	    m = re.match(r"^  (\S+):$", line)
	    if m:
	        t = m.group(1)
	    m = re.match(r"^    key: (\S+)$", line)
	    if m and t:
	        want[t] = m.group(1)
	got = {}
	if os.path.exists(sys.argv[1]):
	    try:
	        db = sqlite3.connect(sys.argv[1])
	        got = dict(db.execute("SELECT target, key FROM record"))
	        for t, j in db.execute("SELECT target, json FROM intent"):
	            o = json.loads(j)
	            if not o.get("trial") and not o.get("staging"):
	                got[t] = o.get("key")
	    except sqlite3.Error:
	        pass
	print(" ".join(sorted(t for t in want if got.get(t) == want[t])))
	PY
}

# after_kill DIR REF...: just after a kill, before any recovery: every output
# in DIR is absent or byte for byte the one of a REF build (never torn), and
# every entry of the store verifies
after_kill() {
	ak_dir=$1
	shift
	for f in $OUTPUTS; do
		test -e "$ak_dir/$f" || continue
		ak_ok=false
		for ref in "$@"; do cmp -s "$ak_dir/$f" "$ref/$f" && ak_ok=true; done
		$ak_ok || { echo "$f is torn right after the kill"; return 1; }
	done
	if test -d "$ak_dir/cache/cas"; then
		mpbuild -C "$ak_dir" cache verify || { echo "a store entry is torn right after the kill"; return 1; }
	fi
}

# resumed DIR REF LANDED: in DIR, the next run finishes the build: the targets
# in LANDED up to date, the others built or restored; outputs and lock equal
# REF's; no temporary or set-aside file in the tree or cache/; a clean store
resumed() {
	mpbuild -C "$1" --replay "$CASSETTE_NOW" --progress json >"$TRASH/resume.out" 2>"$TRASH/resume.err" ||
		{ echo "the run after the kill failed:"; cat "$TRASH/resume.err"; return 1; }
	for t in $TARGETS; do
		case " $3 " in
		*" $t "*) grep -q "\"target\":\"$t\",\"status\":\"up to date\"" "$TRASH/resume.err" ||
				{ echo "$t had landed before the kill, but the next run did not find it up to date"; return 1; } ;;
		*) grep -Eq "\"target\":\"$t\",\"status\":\"(built|restored)\"" "$TRASH/resume.err" ||
				{ echo "$t was not finished by the next run"; return 1; } ;;
		esac
	done
	for f in $OUTPUTS; do cmp "$2/$f" "$1/$f" || return 1; done
	no_leftovers "$1" && cmp_files "$2/mpbuild.lock" "$1/mpbuild.lock" &&
	mpbuild -C "$1" cache verify >"$TRASH/verify.out" && grep -q ", 0 bad" "$TRASH/verify.out"
}

# no_leftovers DIR: no temporary or set-aside file in DIR, cache/ included
no_leftovers() {
	find "$1" -name "*.mpbuild-*" >"$TRASH/left" && ! test -s "$TRASH/left" ||
		{ echo "left behind:"; cat "$TRASH/left"; return 1; }
}

# crash_at POINT N FROM REF [OTHERREF]: copy project FROM, build it with
# $CASSETTE_NOW and MPBUILD_CRASH=POINT:N, expect the kill, then resume.
# Returns 2 when the build ran to its end (POINT was hit fewer than N times).
crash_at() {
	d=c-$1-$2-$3
	rm -rf "$d" && cp -R "$3" "$d" || return 1
	MPBUILD_CRASH=$1:$2 "$MPBUILD" -C "$d" --replay "$CASSETTE_NOW" --progress plain >out 2>err
	rc=$?
	test $rc = 0 && { echo "not killed: $1 was hit fewer than $2 times"; return 2; }
	test $rc = 137 || { echo "exit $rc, not killed by MPBUILD_CRASH=$1:$2"; cat err; return 1; }
	after_kill "$d" "$4" ${5:+"$5"} && l=$(landed "$d" "$4") && no_edits "$d" && resumed "$d" "$4" "$l"
}

# no_edits DIR: in a copy of DIR (DIR itself is left for the next build to
# recover), mpbuild status as the first command after the kill finishes the
# interrupted landing first, so it reports no target as edited by hand
no_edits() {
	rm -rf "$1.status" && cp -R "$1" "$1.status" && mpbuild -C "$1.status" status >"$TRASH/status.out" &&
	! grep "^edited\|^kept" "$TRASH/status.out"
}

# the plans: the demo's, less the two checks that compile and run the whole
# program (a build then takes half the time, and this script runs about 50);
# the cheap checks of T-001..T-003 stay.  The references are never
# interrupted: a first build, and a rebuild after an edit of T-001 that
# changes its interface, the header (so T-003..T-005 follow)
expect_success 'reference builds' '
	new_project base && sed -i "/check: \[\[make/d" base/plans/masterplan.yaml &&
	test "$(grep -c "check:" base/plans/masterplan.yaml)" = 3 && make_cassette base "$ANSWERS" c1 &&
	cp -R base fresh && cp -R base ref && start=$(date +%s%N) &&
	mpbuild -C ref --replay "$TRASH/c1" -q && echo $((($(date +%s%N) - start) / 1000000)) >build.ms &&
	cp -R "$ANSWERS" answers2 && python3 - answers2/T-001.json <<-PY &&
	import json, sys
	p = sys.argv[1]; a = json.load(open(p))
	a["files"][0]["content"] += "/* the second version */\n"
	json.dump(a, open(p, "w"))
	PY
	cp -R ref built && sed -i "s/Write the tokenizer module,/Write the whole tokenizer module,/" built/plans/masterplan.yaml &&
	make_cassette built answers2 c2 && cp -R built ref2 &&
	mpbuild -C ref2 --replay "$TRASH/c2" --progress plain >out && grep "4 built, 0 restored, 1 up to date" out &&
	! cmp -s ref/demo/src/tokenize.h ref2/demo/src/tokenize.h
'

# T0022_ALL=1: every hit of every point, in a first build and in a rebuild
# (T0022_ALL="POINT..." : of those points)
if [ -n "${T0022_ALL:-}" ]; then
	points=$T0022_ALL
	[ "$points" = 1 ] && points="land-staged land-intent land-rename land-renamed land-committed
		trial-check blob-tmp blob-stored action-tmp action-stored atomic-tmp"
	for point in $points; do
		for from in fresh built; do
			n=1
			while :; do
				if [ $from = fresh ]; then
					(CASSETTE_NOW=$TRASH/c1 && crash_at $point $n fresh ref) >.out 2>&1
				else
					(CASSETTE_NOW=$TRASH/c2 && crash_at $point $n built ref2 ref) >.out 2>&1
				fi
				rc=$?
				[ $rc = 2 ] && break
				test_count=$((test_count + 1))
				if [ $rc = 0 ]; then
					echo "ok $test_count - kill at $point:$n ($from)"
				else
					test_failed=$((test_failed + 1))
					echo "not ok $test_count - kill at $point:$n ($from)"
					sed 's/^/# /' .out | tail -20
				fi
				n=$((n + 1))
			done
		done
	done
fi

# a sample: N counts hits over the whole run, in plan order (land-rename
# counts files: 1-2 are T-001's, 3-4 T-002's, 5 T-003's, ...)
CASSETTE_NOW=$TRASH/c1
for pn in land-staged:1 land-intent:1 land-rename:3 land-renamed:4 land-committed:2 \
	trial-check:3 blob-tmp:1 blob-stored:3 action-tmp:1 atomic-tmp:1; do
	expect_success "kill -9 at $pn of a first build; the next run finishes it" "
		crash_at ${pn%:*} ${pn#*:} fresh ref
	"
done

# the same while T-001 and its dependents are rebuilt over older outputs: the
# previous versions are replaced, and must never be lost
for pn in land-staged:1 land-rename:1 land-renamed:1 trial-check:1 atomic-tmp:1; do
	expect_success "kill -9 at $pn of a rebuild; the next run finishes it" "
		CASSETTE_NOW=\$TRASH/c2 && crash_at ${pn%:*} ${pn#*:} built ref2 ref
	"
done

# random moments: a first build killed after a random part of the time a
# whole build takes (validators and checks run cc: many kills land in a trial)
for i in 1 2 3; do
	expect_success "kill -9 at a random moment of a first build ($i)" '
		ms=$(cat build.ms) && r=$(od -An -N2 -tu2 /dev/urandom | tr -d " ") &&
		delay=$((r % ms)) && echo "killed after ${delay} ms of about ${ms}" &&
		d=r$i && rm -rf $d && cp -R fresh $d &&
		{ "$MPBUILD" -C $d --replay "$TRASH/c1" --progress plain >out 2>err & pid=$!; } &&
		sleep $((delay / 1000)).$(printf %03d $((delay % 1000))) &&
		{ kill -KILL $pid 2>/dev/null; wait $pid; rc=$?; } &&
		echo "exit $rc" && { test $rc = 137 || test $rc = 0; } &&
		after_kill $d ref && l=$(landed $d ref) && no_edits $d && resumed $d ref "$l"
	'
done

# a target whose check fails (T-001 answers C with a warning, which its check
# makes an error, at both attempts): its candidates are judged in a box, so
# the tree keeps the previous outputs byte for byte all along; killed while a
# check runs, the next start finds nothing to undo
expect_success 'a failing check: the cassette, and the failure without a kill' '
	cp -R "$ANSWERS" answers3 &&
	python3 - answers3/T-001.json broken-files <<-PY &&
	import json, os, sys
	p = sys.argv[1]; a = json.load(open(p))
	a["files"][0]["content"] += "/* the broken version */\n"
	a["files"][1]["content"] += "int tok_unused(void) { int x; return 0; }\n"
	json.dump(a, open(p, "w"))
	json.dump(a, open(p.replace(".json", ".2.json"), "w"))
	for f in a["files"]:
	    os.makedirs(os.path.dirname(os.path.join(sys.argv[2], f["path"])), exist_ok=True)
	    open(os.path.join(sys.argv[2], f["path"]), "w").write(f["content"])
	PY
	cp -R ref broken && sed -i "s/Write the tokenizer module,/Write the whole tokenizer module,/" broken/plans/masterplan.yaml &&
	MKCASSETTE_KEEP_GOING=1 make_cassette broken answers3 c3 && test "$(ls c3 | grep -c -- -2.json)" = 1 &&
	cp -R broken b0 && expect_code 1 mpbuild -C b0 --replay "$TRASH/c3" --progress plain >out 2>&1 &&
	grep "T-001 .*failed" out && for f in $OUTPUTS; do cmp ref/$f b0/$f || exit 1; done && no_leftovers b0
'

# no_intent DIR: no landing of T-001 is open in DIR
no_intent() {
	python3 - "$1/cache/state.db" <<-'PY'
	import sqlite3, sys
	rows = sqlite3.connect(sys.argv[1]).execute("SELECT json FROM intent WHERE target = 'T-001'").fetchall()
	sys.exit("an intent is open for T-001" if rows else 0)
	PY
}

# trial-check 1: while the first attempt's check runs; 2: the retry's.  The
# box's scratch directory (under TMPDIR) that the kill left is swept by the
# next run
for pn in trial-check:1 trial-check:2; do
	expect_success "a failing check, killed at $pn: the tree never changed" "
		d=u-$pn && rm -rf \$d tmp-\$d && cp -R broken \$d && mkdir tmp-\$d &&
		{ TMPDIR=\$TRASH/tmp-\$d MPBUILD_CRASH=$pn mpbuild -C \$d --replay \"\$TRASH/c3\" --progress plain >out 2>err; rc=\$?; } ;
		test \$rc = 137 && for f in \$OUTPUTS; do cmp ref/\$f \$d/\$f || exit 1; done &&
		no_intent \$d && ls tmp-\$d | grep mpbuild-box && no_edits \$d &&
		TMPDIR=\$TRASH/tmp-\$d expect_code 1 mpbuild -C \$d --replay \"\$TRASH/c3\" --progress plain >out 2>&1 &&
		grep 'T-001 .*failed' out && grep 'T-003 .*skipped' out && ! grep 'kept (' out &&
		for f in \$OUTPUTS; do cmp ref/\$f \$d/\$f || exit 1; done &&
		cmp_files ref/mpbuild.lock \$d/mpbuild.lock && no_leftovers \$d && ! ls tmp-\$d | grep mpbuild-box &&
		mpbuild -C \$d status T-001 >out && grep '^failed' out &&
		sed -i 's/Write the whole tokenizer module,/Write the tokenizer module,/' \$d/plans/masterplan.yaml &&
		mpbuild -C \$d --replay \"\$TRASH/empty\" --progress plain >out && grep 'everything is up to date' out
	"
done

expect_success 'MPBUILD_CRASH with a bad count is a warning, and a point never hit is no crash' '
	cp -R fresh bad && MPBUILD_CRASH=land-rename:0 mpbuild -C bad --replay "$TRASH/c1" --progress plain >out 2>err &&
	test "$(cat err)" = "mpbuild: warning: MPBUILD_CRASH=land-rename:0: expected NAME or NAME:N with N >= 1; ignored" &&
	grep "5 built" out &&
	rm -rf bad && cp -R fresh bad && MPBUILD_CRASH=land-rename:10 mpbuild -C bad --replay "$TRASH/c1" -q &&
	cmp_files ref/mpbuild.lock bad/mpbuild.lock
'

done_testing
