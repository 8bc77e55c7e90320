#!/bin/sh
# t0032: example retrieval (SPEC 10.2) and rule versions (SPEC 10.3): the FTS5
# index over examples folders and accepted outputs, re-indexed file by file;
# mpbuild -B rule:NAME pins its picks in the lock, changes only that rule's
# keys and shows them in the requests; -n -B rule:NAME writes nothing; a fresh
# clone computes the same keys; pinned files that change or vanish; unsafe
# pins; bad rule names; "rule NAME changed: N tasks stale".
. "$(dirname "$0")/lib.sh"

# the demo's fixture answers plus T-006, a shell task beside the C ones
mkdir answers && cp "$ANSWERS"/*.json answers/ &&
cat >answers/T-006.json <<'EOF'
{"files": [{"path": "demo/run.sh", "content": "#!/bin/sh\n# run.sh: count the words of README.md\nset -eu\nexec ./build/wordfreq -n 3 README.md\n"}], "summary": "a script"}
EOF
fake_provider ANTHROPIC_API_KEY --answers "$TRASH/answers"

new_project proj
# no check commands (they build the demo; not what this script is about), and a shell task
sed -i '/^    check:/d' proj/plans/masterplan.yaml
cat >>proj/plans/masterplan.yaml <<'EOF'
  - id: T-006
    title: Run script
    description: A script that runs wordfreq on the README.
    milestone: M2
    complexity: low
    rule: shell
    context: [CommandLine]
    outputs: [demo/run.sh]
EOF
mkdir -p proj/examples/c proj/examples/sh
cat >proj/examples/c/wordlist.c <<'EOF'
/* wordlist.c: a word counter for a wordfreq-like tool: each word of the
 * input, as the tokenizer gives it, counted in a growable array; free all
 * memory; include only the C11 standard library. */
#include <stdlib.h>
#include <string.h>

struct word_count { char *word; size_t count; };
struct counter { struct word_count *words; size_t n, cap; };

/* the counter of word (len bytes), added when new; NULL when memory runs out */
size_t *counter_slot(struct counter *c, const char *word, size_t len);
EOF
printf '/* tokenize helpers: split a line into lower-case words */\n' >proj/examples/c/tok.h
printf '#!/bin/sh\n# greet.sh: say hello\nprintf "hello\\n"\n' >proj/examples/sh/greet.sh
printf '# Notes\n\nNothing to see.\n' >proj/examples/notes.md
printf '\211PNG\r\n\032\n\000\000' >proj/examples/logo.png

# key_of TARGET: the key of TARGET in ./mpbuild.lock
key_of() {
	sed -n "/^  $1:/,/^    key:/s/^    key: //p" mpbuild.lock
}

# pins RULE [LOCK]: the pinned examples of RULE in the lock, "path hash" per line
pins() {
	python3 - "$1" "${2:-mpbuild.lock}" <<-"PY"
	import sys
	rule, lock = sys.argv[1], open(sys.argv[2]).read().split("\n")
	i = lock.index("  %s:" % rule)
	assert lock[i + 2].startswith("    examples:"), lock[i + 2]
	for l in lock[i + 3:]:
	    if not l.startswith("      - "):
	        break
	    path, h = l[8:].rsplit(": ", 1)
	    print(path.strip('"'), h)
	PY
}

builtin_files=$(find "$SRCDIR/rules/examples" -type f | wc -l)

expect_success 'the plan builds; no examples are pinned until asked' '
	cd proj && mpbuild --progress plain >../out 2>&1 &&
	grep "6 built, 0 restored, 0 up to date, 0 failed" ../out &&
	test "$(pins c)" = "" && test "$(pins shell)" = "" &&
	test "$(ledger "SELECT count(*) FROM sqlite_master WHERE name = '\''example'\''")" = 0 &&
	cp mpbuild.lock ../lock0
'

expect_success 'mpbuild -n -B rule:c shows the picks and writes nothing' '
	cd proj && (cd cache && find . -type f ! -name "state.db-*" -exec sha256sum {} + | sort) >../before &&
	mpbuild -n -v -B rule:c >../out 2>&1 &&
	cat ../out &&
	grep "^mpbuild: example index: $((builtin_files + 14)) files, $((builtin_files + 14)) indexed, 0 unchanged, 0 removed, 1 skipped" ../out &&
	grep "^mpbuild: rule c: query \"" ../out >../query &&
	grep -F "\"c\" OR \"c\"" ../query && grep -F "\"counter\"" ../query && ! grep -F "\"python\"" ../query &&
	grep "^mpbuild: rule c: would pin 4 examples: .*examples/c/wordlist.c.*; 5 tasks would be stale$" ../out &&
	grep "^would call T-001 Tokenizer (claude-haiku-5-5, inputs changed)" ../out &&
	! grep "T-006" ../out &&
	mpbuild -n --json -B rule:c >../json 2>../err &&
	python3 -c "import json, sys; [json.loads(l) for l in open(sys.argv[1])]" ../json &&
	grep "^mpbuild: rule c: would pin 4 examples" ../err &&
	cmp mpbuild.lock ../lock0 &&
	(cd cache && find . -type f ! -name "state.db-*" -exec sha256sum {} + | sort) >../after && cmp ../before ../after &&
	! test -s cache/state.db-wal &&
	test "$(ledger "SELECT count(*) FROM sqlite_master WHERE name = '\''example'\''")" = 0
'

expect_success 'mpbuild -B rule:c pins the picks in the lock and rebuilds only the C tasks' '
	cd proj && n0=$(wc -l <"$FAKE_LOG") &&
	for t in T-001 T-002 T-003 T-004 T-005 T-006; do echo "$t $(key_of $t)"; done >../keys0 &&
	mpbuild -v -B rule:c --progress plain >../out 2>&1 && cat ../out &&
	grep "^mpbuild: example index: $((builtin_files + 14)) files, $((builtin_files + 14)) indexed, 0 unchanged" ../out &&
	grep "^mpbuild: rule c: pinned 4 examples: .*; 5 tasks are stale$" ../out &&
	grep "5 built, 0 restored, 0 up to date, 0 failed" ../out &&
	pins c >../pins && cat ../pins && test "$(wc -l <../pins)" = 4 &&
	grep "^examples/c/wordlist.c $(sha examples/c/wordlist.c)$" ../pins &&
	while read -r path h; do
		case $path in
		builtin:*) f=$SRCDIR/rules/${path#builtin:} ;;
		*) f=$path ;;
		esac
		test "$(sha "$f")" = "$h" || { echo "pin $path: $h is not $(sha "$f")"; exit 1; }
		case $path in *.c|*.h|*Makefile) ;; *) echo "pin $path does not match the c rule"; exit 1 ;; esac
	done <../pins &&
	for t in T-001 T-002 T-003 T-004 T-005 T-006; do echo "$t $(key_of $t)"; done >../keys1 &&
	test "$(grep T-006 ../keys0)" = "$(grep T-006 ../keys1)" &&
	for t in T-001 T-002 T-003 T-004 T-005; do
		test "$(grep $t ../keys0)" != "$(grep $t ../keys1)" || { echo "$t kept its key"; exit 1; }
	done &&
	tail -n +$((n0 + 1)) "$FAKE_LOG" >../new && test "$(wc -l <../new)" = 5 &&
	python3 - ../new <<-"PY"
	import json, sys
	layers = set()
	for l in open(sys.argv[1]):
	    e = json.loads(l)
	    system = json.loads(e["body"])["system"]
	    rule = system[2]["text"]
	    assert "## Example: examples/c/wordlist.c\n" in rule, e["target"]
	    assert "struct word_count { char *word; size_t count; };" in rule
	    layers.add(rule)
	assert len(layers) == 1, "the C tasks saw %d different rule layers" % len(layers)
	PY
'

expect_success 'a second run is a no-op' '
	cd proj && n0=$(wc -l <"$FAKE_LOG") &&
	mpbuild --progress plain >../out 2>&1 && grep "everything is up to date (6 targets" ../out &&
	mpbuild -n >../out && grep "nothing to do" ../out &&
	test "$(wc -l <"$FAKE_LOG")" = "$n0"
'

expect_success 'picking again re-indexes only the file that changed and keeps the same pins' '
	cd proj && n0=$(wc -l <"$FAKE_LOG") &&
	printf "# Notes\n\nSomething new.\n" >examples/notes.md &&
	touch examples/c/tok.h &&
	cp mpbuild.lock ../lock1 &&
	mpbuild -v -B rule:c --progress plain >../out 2>&1 && cat ../out &&
	grep "^mpbuild: example index: $((builtin_files + 14)) files, 1 indexed, $((builtin_files + 13)) unchanged, 0 removed, 1 skipped" ../out &&
	grep "^mpbuild: rule c: the best matches are the 4 examples pinned already" ../out &&
	grep "everything is up to date" ../out &&
	cmp mpbuild.lock ../lock1 && test "$(wc -l <"$FAKE_LOG")" = "$n0" &&
	rm examples/sh/greet.sh &&
	mpbuild -n -v -B rule:c >../out 2>&1 &&
	grep "^mpbuild: example index: $((builtin_files + 13)) files, 0 indexed, $((builtin_files + 13)) unchanged, 1 removed" ../out
'

expect_success 'accepted outputs are indexed: -B rule:docs picks demo/README.md, an output of T-004' '
	cd proj && mpbuild -B rule:docs >../out 2>&1 && cat ../out &&
	grep "^mpbuild: rule docs: pinned [1-4] examples*: .*; 0 tasks are stale$" ../out &&
	pins docs >../pins && grep "^demo/README.md $(sha demo/README.md)$" ../pins &&
	grep "^examples/notes.md " ../pins && ! grep "\.c " ../pins &&
	mpbuild -n >../out && grep "nothing to do" ../out
'

expect_success 'a fresh clone computes the same keys: nothing to do, every target up to date' '
	rm -rf clone && cp -R proj clone && rm -rf clone/cache && cd clone &&
	mpbuild -n >../out 2>&1 && cat ../out && grep "nothing to do (6 targets" ../out &&
	mpbuild status >../out 2>&1 && test "$(grep -c "^up to date " ../out)" = 6 &&
	! grep -v "^up to date " ../out &&
	mpbuild -n -B rule:c >../out 2>&1 && grep "the best matches are the 4 examples pinned already" ../out &&
	test ! -e cache
'

expect_success 'a pinned file that changed keeps its pinned bytes from the cache (gc keeps them); without them it is left out' '
	cd proj && mpbuild cache gc --max-size 1 >../out && cat ../out &&
	printf "/* changed */\n" >>examples/c/wordlist.c &&
	mpbuild status >../out 2>../err && cat ../err &&
	grep "^mpbuild: warning: rule c: pinned example examples/c/wordlist.c changed since it was pinned; the layer keeps its pinned bytes from the cache (mpbuild -B rule:c picks again)$" ../err &&
	test "$(grep -c "^up to date " ../out)" = 6 &&
	cd ../clone && printf "/* changed */\n" >>examples/c/wordlist.c &&
	mpbuild status >../out 2>../err && cat ../err &&
	grep "^mpbuild: warning: rule c: pinned example examples/c/wordlist.c changed since it was pinned and its pinned bytes are not in the cache; left out of the rule.s layer, so its tasks. keys change (mpbuild -B rule:c picks again)$" ../err &&
	grep "^stale        T-001 Tokenizer: inputs changed" ../out &&
	rm examples/c/wordlist.c && mpbuild status 2>../err >/dev/null &&
	grep "pinned example examples/c/wordlist.c is gone and its pinned bytes are not in the cache" ../err
'

expect_success 'a pin in the lock that leaves the project is refused' '
	rm -rf hostile && cp -R proj hostile && rm -rf hostile/cache && cd hostile &&
	echo TOPSECRET-42 >../secret.c &&
	sed -i "s|^      - examples/c/wordlist.c:|      - ../secret.c:|" mpbuild.lock &&
	grep -q "^      - ../secret.c:" mpbuild.lock &&
	mpbuild -n --json >../out 2>../err && cat ../err &&
	grep "^mpbuild: warning: rule c: pinned example ../secret.c is not normalised (has .\.. or .\.\..); left out of the rule.s layer$" ../err &&
	! grep -q TOPSECRET ../out &&
	mkdir -p examples/c && ln -s "$TRASH/secret.c" examples/c/link.c &&
	sed -i "s|^      - ../secret.c:|      - examples/c/link.c:|" mpbuild.lock &&
	mpbuild -n --json >../out 2>../err && cat ../err &&
	grep "^mpbuild: warning: rule c: pinned example examples/c/link.c leads outside its directory; left out" ../err &&
	! grep -q TOPSECRET ../out
'

expect_success 'a bad pin in the lock is bad input with its place' '
	rm -rf badlock && cp -R proj badlock && cd badlock &&
	sed -i "s|^\(      - examples/c/wordlist.c\): sha256:.*|\1|" mpbuild.lock &&
	expect_code 2 mpbuild status 2>../err && cat ../err &&
	grep "^mpbuild.lock:[0-9]*:9: error: a pinned example of rule c must be one .path: sha256:\.\.\.. entry$" ../err
'

expect_success 'an unknown rule:NAME is bad input with a close match' '
	cd proj && expect_code 2 mpbuild -B rule:cc 2>../err && cat ../err &&
	grep "^mpbuild: unknown rule .cc. in target .rule:cc. (did you mean rule:c?)$" ../err &&
	expect_code 2 mpbuild -n -B rule:pyton 2>../err && grep "(did you mean rule:python?)" ../err &&
	expect_code 2 mpbuild status rule:zzzzzzzz 2>../err && grep "unknown rule .zzzzzzzz." ../err &&
	mpbuild status rule:shell >../out && test "$(wc -l <../out)" = 1 && grep "T-006" ../out
'

expect_success 'a changed rule is reported with the tasks it makes stale, once per rule' '
	cd proj && mkdir -p rules && cp "$SRCDIR/rules/shell.yaml" "$SRCDIR/rules/c.yaml" rules/ &&
	mpbuild status >../out && ! grep "rule .* changed" ../out &&
	printf "# a comment only\n" >>rules/c.yaml &&
	sed -i "s/You are writing shell scripts/You write shell scripts/" rules/shell.yaml &&
	mpbuild status >../out && cat ../out &&
	test "$(grep -c "changed:" ../out)" = 2 &&
	grep "^mpbuild: rule c changed: 0 tasks stale (its prompt layer and validate commands are as before)$" ../out &&
	grep "^mpbuild: rule shell changed: 1 task stale$" ../out &&
	grep "^stale        T-006 Run script: inputs changed" ../out &&
	mpbuild -n >../out && grep "^mpbuild: rule shell changed: 1 task stale$" ../out &&
	grep -A1 "^  shell:" mpbuild.lock | grep "hash: $(sha "$SRCDIR/rules/shell.yaml")" &&
	mpbuild --progress plain >../out 2>&1 && cat ../out &&
	test "$(grep -c "^mpbuild: rule shell changed: 1 task stale$" ../out)" = 1 &&
	grep "1 built, 0 restored, 5 up to date" ../out &&
	grep -A1 "^  shell:" mpbuild.lock | grep "hash: $(sha rules/shell.yaml)" &&
	grep -A1 "^  c:" mpbuild.lock | grep "hash: $(sha rules/c.yaml)" &&
	mpbuild status >../out && ! grep "changed:" ../out
'

expect_success 'the report waits until every task of the rule was rebuilt' '
	cd proj && sed -i "s/You are writing C for/You write C for/" rules/c.yaml &&
	mpbuild T-001 --progress plain >../out 2>&1 && cat ../out &&
	grep "^mpbuild: rule c changed: 5 tasks stale$" ../out &&
	mpbuild status >../out && grep "^mpbuild: rule c changed: 4 tasks stale$" ../out &&
	mpbuild -q && mpbuild status >../out && ! grep "changed:" ../out
'

done_testing
