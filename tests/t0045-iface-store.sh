#!/bin/sh
# t0045: an interface is taken once per output content, when its target
# lands; its text goes into the content store and its hash into the record
# and the lock (SPEC 10.1).  A fresh clone (lock committed, no cache/) is a
# no-op that runs no extractor, and so is -n; a call takes what its prompt
# shows from the store or the extractor, never from the lock, so a wrong
# interface hash in a lock costs an extraction, not a wrong prompt.  The
# extractor of the project's rule appends to $RUNS each time it runs.
. "$(dirname "$0")/lib.sh"

fake_provider ANTHROPIC_API_KEY
RUNS=$TRASH/runs

# runs: how many times the extractor ran since the last : >"$RUNS"
runs() { wc -l <"$RUNS" | tr -d ' '; }

# requests TARGET: how many calls the fake server got for TARGET
requests() { python3 -c 'import json, sys; print(sum(json.loads(l)["target"] == sys.argv[2] for l in open(sys.argv[1])))' "$FAKE_LOG" "$1"; }

# iface_of PATH: the interface hash mpbuild.lock records for output PATH
iface_of() { sed -n "/^      $1:\$/,/extractor:/s/^        interface: //p" mpbuild.lock; }

# answers: A, B and C each write one function of their own
answers() {
	fake_control '{"answers": {
		"A": {"files": [{"path": "a.py", "content": "def a():\n    return 1\n"}], "summary": "a"},
		"B": {"files": [{"path": "b.py", "content": "def b():\n    return 2\n"}], "summary": "b"},
		"C": {"files": [{"path": "c.py", "content": "def c():\n    return 3\n"}], "summary": "c"}}}' >/dev/null
}

# clone DIR: what a fresh clone of p holds: plans, rules, outputs and lock, no cache/
clone() {
	rm -rf "$1" && mkdir "$1" && cp -R p/plans p/rules p/mpbuild.lock p/a.py p/b.py p/c.py "$1"/
}

mkdir -p p/plans p/rules
cat >p/rules/counted.yaml <<EOF
version: 1
name: counted
match: ["*.py"]
system: |
  Write the file.
interface:
  "*.py": [sh, -c, 'echo "\$1" >>$RUNS; grep "^def " "\$1" || true', sh, "{file}"]
EOF
cat >p/plans/masterplan.yaml <<EOF
version: 1
project: p
tasks:
  - {id: A, title: A, description: Write a., rule: counted, outputs: [a.py]}
  - {id: B, title: B, description: Write b., rule: counted, depends_on: [A], outputs: [b.py]}
  - {id: C, title: C, description: Write c., rule: counted, depends_on: [A, B], outputs: [c.py]}
EOF

expect_success 'each interface is taken once, when its target lands; the lock keeps its hash, the store its text' '
	fake_reset && answers && : >"$RUNS" && cd p && mpbuild --progress plain >../out && grep "3 built" ../out &&
	test "$(runs)" = 3 &&
	a=$(iface_of a.py) && test "$a" = "sha256:$(printf "def a():\n" | sha256sum | cut -d" " -f1)" &&
	test -n "$(iface_of b.py)" && test -n "$(iface_of c.py)" &&
	test "$(sed -n "/^      a.py:\$/{n;s/^        hash: //p;}" mpbuild.lock)" = "$(sha a.py)" &&
	grep -q "^        extractor: sha256:" mpbuild.lock &&
	test -f "cache/cas/$(echo "${a#sha256:}" | cut -c1-2)/${a#sha256:}" &&
	test "$(ledger "SELECT count(*) FROM extracted")" = 3 &&
	test "$(ledger "SELECT count(*) FROM sqlite_master WHERE name = \"iface\"")" = 0 &&
	: >"$RUNS" && mpbuild --progress plain >../out && grep "everything is up to date" ../out && test "$(runs)" = 0
'

expect_success 'a fresh clone is up to date with no extractor run, under -n too, and -n writes nothing' '
	clone c1 && cd c1 && cp mpbuild.lock ../lock.before && : >"$RUNS" && : >"$FAKE_LOG" &&
	mpbuild -n >../out && grep "nothing to do (3 targets up to date" ../out && test "$(runs)" = 0 &&
	test ! -e cache && cmp_files ../lock.before mpbuild.lock &&
	mpbuild --progress plain >../out && grep "everything is up to date (3 targets" ../out &&
	test "$(runs)" = 0 && test ! -s "$FAKE_LOG" && cmp_files ../lock.before mpbuild.lock
'

# A and B are extracted for the call; c.py lands as the lock has it, so the
# lock's hash stands for it (nothing shows it yet)
expect_success 'in a clone, a call shows interfaces this machine extracted, not the lock'"'"'s' '
	clone c2 && cd c2 && sed -i "s/Write c\./Write c again./" plans/masterplan.yaml &&
	fake_reset && answers && : >"$RUNS" && mpbuild --progress plain >../out && grep "C C: built" ../out &&
	test "$(requests A)" = 0 && test "$(requests B)" = 0 && test "$(requests C)" = 1 &&
	test "$(runs)" = 2 && last_body C >../body && grep -q "def a():" ../body && grep -q "def b():" ../body
'

expect_success 'a later call reads the interfaces back from the store: no extractor runs' '
	cd p && sed -i "s/Write c\./Write c again./" plans/masterplan.yaml &&
	fake_reset && answers && : >"$RUNS" && mpbuild --progress plain >../out && grep "C C: built" ../out &&
	test "$(requests C)" = 1 && test "$(runs)" = 0 &&
	last_body C >../body && grep -q "def a():" ../body && grep -q "def b():" ../body &&
	sed -i "s/Write c again./Write c./" plans/masterplan.yaml && mpbuild -q
'

expect_success 'a wrong interface hash in a lock costs one extraction, and the lock is put right' '
	clone c3 && cp -R p/cache c3/cache && rm -f c3/cache/state.db* && cd c3 &&
	a=$(iface_of a.py) && b=$(iface_of b.py) && sed -i "s/$a/$b/" mpbuild.lock && test "$(iface_of a.py)" = "$b" &&
	fake_reset && : >"$RUNS" && mpbuild --progress plain >../out && cat ../out &&
	grep "everything is up to date (3 targets" ../out && test ! -s "$FAKE_LOG" && test "$(runs)" = 1 &&
	test "$(iface_of a.py)" = "$a"
'

expect_success 'with a wrong interface hash in its lock, a call'"'"'s prompt and key come from the true interface' '
	clone ref && cd ref && sed -i "s/Write b\./Write b again./" plans/masterplan.yaml &&
	fake_reset && answers && mpbuild -q && key=$(lockkey B) && cd .. &&
	clone c4 && cp -R p/cache c4/cache && rm -f c4/cache/state.db* && cd c4 &&
	a=$(iface_of a.py) && b=$(iface_of b.py) && sed -i "s/$a/$b/" mpbuild.lock &&
	sed -i "s/Write b\./Write b again./" plans/masterplan.yaml &&
	fake_reset && answers && : >"$RUNS" && mpbuild --progress plain >../out && cat ../out &&
	test "$(requests B)" = 1 && last_body B >../body &&
	grep -q "def a():" ../body && ! grep -q "def b():" ../body &&
	test "$(lockkey B)" = "$key" && test "$(iface_of a.py)" = "$a"
'

expect_success 'a lock from before interfaces still says up to date; the extractor runs once to fill it' '
	clone c5 && cd c5 && python3 - mpbuild.lock <<-"PY" &&
	import re, sys
	p = sys.argv[1]
	t = open(p).read()
	t = re.sub(r"(\n      \S+):\n        hash: (\S+)\n        interface: \S+\n        extractor: \S+", r"\1: \2", t)
	open(p, "w").write(t)
	PY
	! grep -q "interface:" mpbuild.lock && : >"$RUNS" && : >"$FAKE_LOG" &&
	mpbuild -n >../out && grep "nothing to do (3 targets up to date" ../out && test "$(runs)" = 2 &&
	! grep -q "interface:" mpbuild.lock && : >"$RUNS" &&
	mpbuild --progress plain >../out && grep "everything is up to date (3 targets" ../out && test "$(runs)" = 2 &&
	test ! -s "$FAKE_LOG" && test "$(iface_of a.py)" = "$(cd ../p && iface_of a.py)" &&
	test -n "$(iface_of b.py)" && : >"$RUNS" && mpbuild -q && test "$(runs)" = 0
'

expect_success 'cache gc keeps the interface texts the lock names' '
	cd p && a=$(iface_of a.py) && mpbuild cache gc --max-size 0 >../out && cat ../out &&
	test -f "cache/cas/$(echo "${a#sha256:}" | cut -c1-2)/${a#sha256:}"
'

done_testing
