#!/bin/sh
# t0031: re-planning keeps work (issue 4, items 5 and 7) against the fake
# server: a changed answer re-plans discovery and masterplan with the previous
# file and unified diffs of their inputs (outside the key); tasks that come
# back identical are not rebuilt; a renamed task inherits its build record;
# orphaned outputs are listed and removed only by clean --orphans, which keeps
# a person's edits; hand edits of discovery.yaml and masterplan.yaml make only
# the tasks they touch stale and are kept when upstream changes; -n lists the
# pipeline calls; one lock covers the pipeline and the build.
. "$(dirname "$0")/lib.sh"

FIX=$SRCDIR/tests/fixtures/replan
fake_provider ANTHROPIC_API_KEY --answers "$FIX"

# answer TARGET FIXTURE: the fake server answers TARGET with $FIX/FIXTURE from now on
answer() { fake_control "{\"answers\": {\"$1\": $(cat "$FIX/$2")}}" >/dev/null; }

# asked: the targets of the requests the fake server got since the last fake_reset, sorted
asked() { python3 -c 'import json, sys; print(" ".join(sorted(json.loads(l)["target"] for l in open(sys.argv[1]))))' "$FAKE_LOG"; }

# sent TARGET: the user message text of the last request for TARGET
sent() {
	last_body "$1" | python3 -c '
import json, sys
body = sys.stdin.read()
if body:
    sys.stdout.write("\n".join(b["text"] for b in json.loads(body)["messages"][-1]["content"]))'
}


mkdir -p proj/plans && echo "Document a small shop's stock and billing." >proj/plans/request.md
cd proj

expect_success '-n on a new project lists the pipeline calls with their models and costs, and calls nothing' '
	mpbuild -n >../out &&
	grep -q "^would call questions plans/questions.yaml (claude-sonnet-5-5, never built): \$[0-9.]* to \$[0-9.]*$" ../out &&
	grep -q "^would ask answers plans/answers.yaml: the questions that questions writes$" ../out &&
	grep -q "^may call  discovery plans/discovery.yaml (claude-sonnet-5-5; after answers): " ../out &&
	grep -q "^may call  masterplan plans/masterplan.yaml (claude-sonnet-5-5; after discovery): " ../out &&
	grep -q "^mpbuild: 3 pipeline calls first; estimated \$[0-9.]* to \$[0-9.]*; the tasks are known once plans/masterplan.yaml is written$" ../out &&
	mpbuild -n --json >../json &&
	python3 -c "import json, sys; [json.loads(l) for l in open(sys.argv[1])]" ../json &&
	grep "\"target\":\"questions\"" ../json | grep -q "\"status\":\"stale\"" &&
	test ! -s "$FAKE_LOG" && test ! -e plans/questions.yaml && test ! -e cache/state.db
'

expect_success 'the whole chain builds five tasks in one run; the key -n printed is the one recorded' '
	mpbuild --defaults >../out &&
	grep -q "^\[4/4\] masterplan plans/masterplan.yaml: built" ../out &&
	grep -q "^\[9/9\] T-00[1-5] " ../out &&
	test "$(grep -c "^mpbuild: [0-9]* built" ../out)" = 1 &&
	grep -q "^mpbuild: 8 built, 0 restored, 1 up to date, 0 failed" ../out &&
	test "$(ledger "SELECT count(DISTINCT run), count(DISTINCT target) FROM ledger")" = "1|8" &&
	test "$(ledger "SELECT count(*) FROM run")" = 1 &&
	test "$(asked)" = "T-001 T-002 T-003 T-004 T-005 discovery masterplan questions" &&
	grep "\"target\":\"questions\"" ../json | grep -q "\"key\":\"$(lockkey questions)\"" &&
	test -f cache/basis/masterplan/plans/discovery.yaml &&
	cmp plans/discovery.yaml cache/basis/masterplan/plans/discovery.yaml
'

expect_success '-B masterplan sends the previous plan as a hint that stays out of the key' '
	fake_reset && answer masterplan masterplan.json &&
	before=$(lockkey masterplan) &&
	MPBUILD_PRINT_KEYS=1 mpbuild -B masterplan 2>../keys >../out &&
	test "$(grep "^masterplan sha256:" ../keys | cut -d" " -f1,2)" = "masterplan $before" &&
	test "$(lockkey masterplan)" = "$before" &&
	sent masterplan >../sent &&
	grep -q "^# Re-planning$" ../sent &&
	grep -q "^## The previous plans/masterplan.yaml$" ../sent &&
	grep -q "^Nothing: its inputs are as they were when it was made" ../sent &&
	mpbuild >../out && grep -q "everything is up to date" ../out
'

expect_success '-n names the stages a changed answer makes stale' '
	sed -i "s/^  q2: .*/  q2: yes, VAT at 20%/" plans/answers.yaml &&
	mpbuild -n masterplan >../out &&
	grep -q "^would call discovery plans/discovery.yaml (claude-sonnet-5-5, inputs changed): " ../out &&
	grep -q "^may call  masterplan plans/masterplan.yaml (claude-sonnet-5-5; after discovery): " ../out &&
	grep -q "^mpbuild: 2 pipeline calls first" ../out &&
	mpbuild -n >../out &&
	grep -q "^stale     discovery plans/discovery.yaml: its inputs changed; plan files are regenerated only when named (mpbuild discovery)$" ../out
'

expect_success 'a changed answer re-plans with the previous files and the diffs of their inputs' '
	fake_reset && answer discovery discovery.2.json && answer masterplan masterplan.2.json &&
	mpbuild masterplan >../out &&
	grep -q "^\[[0-9]*/[0-9]*\] discovery plans/discovery.yaml: built (sonnet) · \$[0-9.]* — re-planned$" ../out &&
	grep -q "^\[[0-9]*/[0-9]*\] masterplan plans/masterplan.yaml: built (sonnet) · \$[0-9.]* — re-planned$" ../out &&
	grep -q "^T-006: takes over the build record of T-003 (the same outputs)$" ../out &&
	grep -q "^mpbuild: orphaned (no task declares them): doc/invoice-format.md, doc/invoice.md; mpbuild clean --orphans removes them$" ../out &&
	test "$(asked)" = "discovery masterplan" &&
	sent discovery >../sent &&
	grep -q "^## The previous plans/discovery.yaml$" ../sent &&
	grep -q "^  description: Invoices for sold items, without tax.$" ../sent &&
	grep -q "^--- a/plans/answers.yaml$" ../sent && grep -q "^+++ b/plans/answers.yaml$" ../sent &&
	grep -q "^@@ -1,4 +1,4 @@$" ../sent &&
	grep -q "^-  q2: \"no\"$" ../sent && grep -q "^+  q2: yes, VAT at 20%$" ../sent &&
	sent masterplan >../sent &&
	grep -q "^- id: T-004$" ../sent &&
	grep -q "^--- a/plans/discovery.yaml$" ../sent &&
	grep -q "^-  description: Invoices for sold items, without tax.$" ../sent &&
	grep -q "^+  description: Invoices for sold items, with VAT at 20%.$" ../sent &&
	grep -q "^+    - Every line carries VAT at 20%.$" ../sent &&
	! grep -q "q2:" ../sent &&
	grep -q "^  T-006:$" mpbuild.lock && ! grep -q "^  T-00[34]:$" mpbuild.lock
'

expect_success 'only the tasks the re-plan touched are rebuilt; the renamed one is not a person'"'"'s file' '
	mpbuild status >../out &&
	grep -q "^stale        T-006 Stock report: inputs changed$" ../out &&
	grep -q "^up to date   T-001 " ../out && grep -q "^up to date   T-005 " ../out &&
	grep -q "^mpbuild: orphaned (no task declares them): doc/invoice-format.md, doc/invoice.md" ../out &&
	fake_reset &&
	mpbuild >../out &&
	test "$(asked)" = "T-002 T-006 T-007" &&
	grep -q "3 built, 0 restored, 2 up to date" ../out &&
	grep -q "^mpbuild: orphaned (no task declares them): doc/invoice-format.md, doc/invoice.md; mpbuild clean --orphans removes them$" ../out
'

expect_success 'clean --orphans removes orphans mpbuild wrote and keeps the one a person edited' '
	echo "my note" >>doc/invoice-format.md &&
	cp doc/invoice-format.md ../edited &&
	mpbuild clean --orphans >../out &&
	grep -q "^removed doc/invoice.md (was an output of T-004)$" ../out &&
	grep -q "^kept doc/invoice-format.md (edited by hand since mpbuild wrote it for T-004; it is yours now)$" ../out &&
	grep -q "^mpbuild: removed 1 orphaned file, kept 1 edited by hand; dropped 1 record of tasks the plan no longer has$" ../out &&
	test ! -e doc/invoice.md && cmp ../edited doc/invoice-format.md &&
	mpbuild >../out && ! grep -q orphaned ../out && grep -q "everything is up to date" ../out &&
	mpbuild clean --orphans >../out &&
	grep -q "^mpbuild: removed 0 orphaned files; dropped 0 records" ../out
'

expect_success 'clean --orphans takes no targets, and --orphans goes only with clean' '
	expect_code 2 mpbuild clean --orphans T-001 2>../err &&
	grep -q "^mpbuild: clean --orphans takes no targets, got T-001$" ../err &&
	expect_code 2 mpbuild --orphans 2>../err &&
	grep -q "^mpbuild: --orphans goes with clean (mpbuild clean --orphans), not with build$" ../err
'

expect_success 'editing one bounded context of discovery.yaml makes only the tasks that use it stale' '
	sed -i "s/^  description: Items and their stock levels.$/  description: Items, their stock levels and reorder points./" plans/discovery.yaml &&
	grep -q "reorder points" plans/discovery.yaml && cp plans/discovery.yaml ../disc.edited &&
	mpbuild -n >../out &&
	test "$(grep -c "^would call T-" ../out)" = 1 && grep -q "^would call T-001 " ../out &&
	grep -q "^stale     masterplan plans/masterplan.yaml: its inputs changed" ../out &&
	fake_reset && mpbuild >../out &&
	test "$(asked)" = "T-001 T-005 T-006" &&
	cmp ../disc.edited plans/discovery.yaml
'

expect_success 'an edited discovery.yaml is kept and reported when its inputs change, and used as it is' '
	sed -i "s/^  q1: .*/  q1: yes, two warehouses/" plans/answers.yaml &&
	fake_reset && answer masterplan masterplan.2.json &&
	mpbuild masterplan >../out &&
	grep -q "^discovery: kept (edited by hand): its inputs changed since mpbuild wrote plans/discovery.yaml; going on with it as it is (mpbuild -B discovery regenerates it after saving it as plans/discovery.yaml.orig.N)$" ../out &&
	grep -q "masterplan plans/masterplan.yaml: built (sonnet) · \$[0-9.]* — re-planned$" ../out &&
	cmp ../disc.edited plans/discovery.yaml &&
	test "$(asked)" = "masterplan" &&
	sent masterplan | grep -q "reorder points" &&
	expect_code 2 mpbuild discovery 2>../err &&
	grep -q "^mpbuild: plans/discovery.yaml: kept (edited by hand); mpbuild -B discovery regenerates it after saving it as plans/discovery.yaml.orig.N$" ../err &&
	cmp ../disc.edited plans/discovery.yaml
'

expect_success '-B discovery saves the edited file first and shows it to the model' '
	fake_reset && answer discovery discovery.2.json &&
	mpbuild -B discovery >../out 2>&1 &&
	cmp ../disc.edited plans/discovery.yaml.orig.1 &&
	! grep -q "reorder points" plans/discovery.yaml &&
	sent discovery >../sent &&
	grep -q "^A person edited or wrote this version" ../sent &&
	grep -q "reorder points" ../sent &&
	grep -q "^+  q1: yes, two warehouses$" ../sent &&
	mpbuild >/dev/null
'

expect_success 'editing one task of masterplan.yaml makes only that task stale' '
	sed -i "s/^  description: An overview of the shop.$/  description: An overview of the shop, with a map./" plans/masterplan.yaml &&
	grep -q "with a map" plans/masterplan.yaml && cp plans/masterplan.yaml ../mp.edited &&
	fake_reset && mpbuild >../out &&
	test "$(asked)" = "T-005" &&
	grep -q "1 built, 0 restored, 4 up to date" ../out
'

expect_success 'an edited masterplan.yaml is kept when named; -B saves it and re-plans from it' '
	expect_code 2 mpbuild masterplan 2>../err &&
	grep -q "^mpbuild: plans/masterplan.yaml: kept (edited by hand); mpbuild -B masterplan regenerates it after saving it as plans/masterplan.yaml.orig.N$" ../err &&
	cmp ../mp.edited plans/masterplan.yaml &&
	fake_reset && answer masterplan masterplan.2.json &&
	mpbuild -B masterplan >../out 2>&1 &&
	cmp ../mp.edited plans/masterplan.yaml.orig.1 &&
	grep -q "^masterplan: saved your plans/masterplan.yaml as plans/masterplan.yaml.orig.1$" ../out &&
	sent masterplan >../sent &&
	grep -q "^A person edited or wrote this version" ../sent &&
	grep -q "^  description: An overview of the shop, with a map.$" ../sent &&
	! grep -q "with a map" plans/masterplan.yaml
'

expect_success 'a fresh clone (plans, lock and files, no cache) re-plans from the lock'"'"'s records' '
	mpbuild >/dev/null &&
	rm -rf ../clone && mkdir ../clone && cp -R plans doc mpbuild.lock ../clone/ && cd ../clone &&
	mpbuild masterplan >../out &&
	grep -q "^masterplan: up to date$" ../out &&
	fake_reset && mpbuild >../out && grep -q "everything is up to date" ../out && test ! -s "$FAKE_LOG"
'

# edit_outputs FROM TO: replace the output list FROM (paths, comma-separated) by TO in masterplan.yaml
edit_outputs() {
	python3 - "$1" "$2" <<-'PY'
	import sys
	f = "plans/masterplan.yaml"
	lines = lambda v: "  outputs:\n" + "".join("  - %s\n" % p for p in v.split(","))
	s = open(f).read()
	assert lines(sys.argv[1]) in s, "no such outputs"
	open(f, "w").write(s.replace(lines(sys.argv[1]), lines(sys.argv[2])))
	PY
}

expect_success 'a new task declaring a gone task'"'"'s output among others rebuilds it; a person'"'"'s file still stops it' '
	sed -i "s/^- id: T-006$/- id: T-008/" plans/masterplan.yaml && grep -q "^- id: T-008$" plans/masterplan.yaml &&
	edit_outputs doc/report.md doc/report.md,doc/summary.md &&
	mpbuild status >../out && cat ../out &&
	grep -q "^never built  T-008 Stock report$" ../out &&
	fake_reset && mpbuild >../out && cat ../out &&
	test "$(asked)" = "T-008" && test -f doc/summary.md &&
	grep -q "^  T-008:$" mpbuild.lock && ! grep -q orphaned ../out &&
	echo "# mine" >doc/mine.md &&
	edit_outputs doc/report.md,doc/summary.md doc/report.md,doc/summary.md,doc/mine.md &&
	mpbuild >../out 2>&1 && cat ../out &&
	grep -q "T-008 Stock report: kept (not generated by mpbuild) — doc/mine.md exists and was not generated by mpbuild" ../out &&
	edit_outputs doc/report.md,doc/summary.md,doc/mine.md doc/report.md,doc/summary.md &&
	rm doc/mine.md && mpbuild >/dev/null
'

expect_success 'one lock covers the pipeline: a second run waits, then stops naming the first' '
	mkdir -p ../locked/plans && cp plans/request.md ../locked/plans/ && cd ../locked &&
	fake_reset && fake_control "{\"faults\": [{\"target\": \"questions\", \"delay\": 9}]}" >/dev/null &&
	{ "$MPBUILD" questions >../first.out 2>&1 & } &&
	first=$! &&
	n=0 && while [ $n -lt 100 ] && ! test -s cache/lock; do sleep 0.1; n=$((n + 1)); done &&
	expect_code 2 mpbuild questions 2>../err &&
	grep -q "^mpbuild: another mpbuild (pid $first) is building this project; cache/lock is locked$" ../err &&
	wait $first &&
	grep -q "questions plans/questions.yaml: built" ../first.out &&
	test "$(asked)" = "questions"
'

done_testing
