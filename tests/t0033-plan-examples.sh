#!/bin/sh
# t0033: the masterplan's retrieved examples (SPEC 2 and 10.2): each time the
# masterplan is called, the example plans (examples/plans/ folders, the
# project's and the built-in rules') that best match discovery.yaml are
# picked (those named after the stack's language first), shown in the
# request's layer 3 and pinned in the lock as
# rules.phases/masterplan, so that a no-op and a fresh clone compute the same
# key; -n shows the picks and writes nothing, and -n --json prints the key the
# call records; a pinned file that changes keeps its pinned bytes from the
# store; the build's own lock writes keep the entry.
. "$(dirname "$0")/lib.sh"

FIX=$SRCDIR/tests/fixtures/discover
fake_provider ANTHROPIC_API_KEY --answers "$FIX"
# masterplan.json has a cycle (for t0030's retry); every call here gets the valid plan
fake_control "{\"answers\": {\"masterplan\": $(cat "$FIX/masterplan.2.json")}}" >/dev/null

# examples_block: the system block of the last masterplan request holding the example plans, or nothing
examples_block() {
	last_body masterplan | python3 -c '
import json, sys
for b in json.load(sys.stdin)["system"]:
    if b["text"].startswith("# Example plans\n"):
        print(json.dumps(b))'
}
# pins: the example plans pinned for the masterplan in mpbuild.lock, "PATH: HASH" a line
pins() { sed -n '/^  phases\/masterplan:$/,/^  [^ ]/s/^      - //p' mpbuild.lock; }

# the demo's request, questions, answers and discovery (a C program): no masterplan yet
mkdir -p proj/plans && cp "$SRCDIR"/plans/request.md "$SRCDIR"/plans/questions.yaml \
	"$SRCDIR"/plans/answers.yaml "$SRCDIR"/plans/discovery.yaml proj/plans/
cd proj
C_PLAN=builtin:examples/plans/c-command-line.yaml

expect_success 'the masterplan call pins the built-in example plans that match discovery.yaml and sends them' '
	mpbuild masterplan >../out && cat ../out &&
	grep -q "^masterplan: pinned 2 example plans: $C_PLAN, builtin:examples/plans/[a-z-]*.yaml$" ../out &&
	grep -q "masterplan plans/masterplan.yaml: built" ../out &&
	test "$(pins | head -1)" = "$C_PLAN: $(sha "$SRCDIR/rules/examples/plans/c-command-line.yaml")" &&
	test "$(pins | wc -l)" = 2 &&
	grep -q "^  phases/masterplan:$" mpbuild.lock &&
	examples_block >../block && test -s ../block &&
	python3 - ../block "$SRCDIR/rules/examples/plans/c-command-line.yaml" <<-\PY
	import json, sys
	b = json.load(open(sys.argv[1]))
	assert "## Example: builtin:examples/plans/c-command-line.yaml\n\n```yaml\n" in b["text"], b["text"][:300]
	assert open(sys.argv[2]).read() in b["text"], "the example is not sent whole"
	assert b.get("cache_control") == {"type": "ephemeral"}, "layer 3 has no breakpoint"
	PY
'

expect_success 'every field the masterplan instructions name is in the answer schema, null where they say null' '
	last_body masterplan >../body &&
	python3 - ../body <<-\PY
	import json, re, sys, yaml
	req = json.load(open(sys.argv[1]))
	text = next(b["text"] for b in req["system"] if b["text"].startswith("# Phase: masterplan"))
	fmt = req.get("output_config", {}).get("format") or req.get("output_format")
	schema = fmt["schema"] if fmt else next(t["input_schema"] for t in req["tools"])
	props = lambda s: s["properties"]
	nullable = lambda s: "null" in s["type"] if isinstance(s["type"], list) else False
	levels = {"": props(schema)}
	for k in ("phases", "milestones", "tasks"):
	    levels[k] = props(props(schema)[k]["items"])
	# the YAML shape the instructions show: its keys, level by level, are the schema
	shape = yaml.safe_load(re.search(r"```yaml\n(.*?)```", text, re.S).group(1))
	named = {"": set(shape) - {"version"}}
	for k in ("phases", "milestones", "tasks"):
	    named[k] = set().union(*(set(e) for e in shape[k]))
	for lv in levels:
	    assert named[lv] == set(levels[lv]), (lv or "top", sorted(named[lv] ^ set(levels[lv])))
	# every field the text describes (a bullet or paragraph opening with it) or
	# leaves null ("leave `model` null") is a field of the schema
	fields = set().union(*(set(v) for v in levels.values()))
	words = set(re.findall(r"(?m)^(?:- )?`([a-z_]+)`", text) + re.findall(r"`([a-z_]+)` null", text))
	for w in words:
	    assert w in fields, "the instructions name `%s`, which the schema does not have" % w
	# a paragraph or bullet about a task field says null exactly when the schema lets it be null
	for para in re.split(r"\n(?=- )|\n\n", text.split("## Tasks")[1]):
	    m = re.match(r"(?:- )?`([a-z_]+)`", para)
	    if m and m.group(1) in levels["tasks"]:
	        f = m.group(1)
	        says = re.search(r"\bnull\b", para) is not None
	        assert says == nullable(levels["tasks"][f]), (f, says, para)
	for f, s in levels["tasks"].items():
	    if nullable(s):
	        assert re.search(r"`%s`[^\n]*(\n[^\n-][^\n]*)*\bnull\b" % f, text), "nothing says %s may be null" % f
	PY
'

expect_success 'a second run and a fresh clone of the plan files and the lock compute the same key' '
	: >"$FAKE_LOG" &&
	mpbuild masterplan >../out && grep -qx "masterplan: up to date" ../out &&
	rm -rf ../clone && mkdir ../clone && cp -R plans mpbuild.lock ../clone/ &&
	(cd ../clone && mpbuild masterplan >../out) && grep -qx "masterplan: up to date" ../out &&
	test ! -s "$FAKE_LOG"
'

expect_success 'an example plan of the stack.s language comes first: Python for Python, FTS rank for a language none is named after' '
	for lang in python "Python 3.12" cobol; do
		rm -rf ../lang && mkdir -p ../lang/plans && cp plans/*.yaml plans/request.md ../lang/plans/ &&
		rm -f ../lang/plans/masterplan.yaml &&
		sed -i "s/^stack: {language: c,/stack: {language: $lang,/" ../lang/plans/discovery.yaml &&
		grep -q "language: $lang," ../lang/plans/discovery.yaml &&
		(cd ../lang && mpbuild -n masterplan >../out) && cat ../out &&
		case $lang in
		cobol) grep -q "^masterplan: would pin 2 example plans: $C_PLAN, " ../out ;;
		*) grep -q "^masterplan: would pin 2 example plans: builtin:examples/plans/python-rest-api.yaml, $C_PLAN$" ../out ;;
		esac || exit 1
	done
'

expect_success '-n -B masterplan shows a better project example first and writes nothing' '
	mkdir -p examples/plans &&
	cat >examples/plans/c-wordcount.yaml <<-\EOF &&
	# a wordfreq-like tool in C: tokenizing words, counting word frequency in a
	# hash table, the command line printing the most frequent words
	version: 1
	project: wordcount
	EOF
	cp mpbuild.lock ../lock.before && : >"$FAKE_LOG" &&
	mpbuild -n -B masterplan >../out && cat ../out &&
	grep -q "^masterplan: would pin 2 example plans: examples/plans/c-wordcount.yaml, $C_PLAN$" ../out &&
	grep -q "^would call masterplan plans/masterplan.yaml (claude-sonnet-5-5, forced with -B)" ../out &&
	cmp mpbuild.lock ../lock.before && test ! -s "$FAKE_LOG"
'

expect_success '-B masterplan picks again; -n --json printed the key the call records' '
	mpbuild -n --json -B masterplan >../json 2>../err &&
	grep -q "would pin" ../err &&
	key=$(python3 -c "import json, sys; print(json.loads(open(sys.argv[1]).readline())[\"key\"])" ../json) &&
	mpbuild -B masterplan >../out && cat ../out &&
	grep -q "^masterplan: pinned 2 example plans: examples/plans/c-wordcount.yaml, $C_PLAN$" ../out &&
	test "$(lockkey masterplan)" = "$key" &&
	test "$(pins | head -1)" = "examples/plans/c-wordcount.yaml: $(sha examples/plans/c-wordcount.yaml)" &&
	examples_block | grep -q "## Example: examples/plans/c-wordcount.yaml"
'

expect_success 'the pins of a lock from a pull or a checkout win over those in state.db' '
	cp mpbuild.lock ../lock.after && cp ../lock.before mpbuild.lock && : >"$FAKE_LOG" &&
	mpbuild masterplan >../out && grep -qx "masterplan: up to date" ../out &&
	cp ../lock.after mpbuild.lock &&
	mpbuild masterplan >../out && grep -qx "masterplan: up to date" ../out &&
	test ! -s "$FAKE_LOG"
'

expect_success 'a pinned example that changed keeps its pinned bytes from the store; without them the key changes' '
	echo "# changed" >>examples/plans/c-wordcount.yaml && : >"$FAKE_LOG" &&
	mpbuild masterplan >../out 2>../err && cat ../err &&
	grep -qx "masterplan: up to date" ../out &&
	grep -qx "mpbuild: warning: masterplan: pinned example examples/plans/c-wordcount.yaml changed since it was pinned; the layer keeps its pinned bytes from the cache (mpbuild -B masterplan picks again)" ../err &&
	rm -rf cache && mpbuild -n masterplan >../out 2>../err && cat ../out ../err &&
	grep -qx "mpbuild: warning: masterplan: pinned example examples/plans/c-wordcount.yaml changed since it was pinned and its pinned bytes are not in the cache; left out of the masterplan.s layer, so its key changes (mpbuild -B masterplan picks again)" ../err &&
	grep -q "^would call masterplan plans/masterplan.yaml (claude-sonnet-5-5, inputs changed)" ../out &&
	test ! -s "$FAKE_LOG"
'

expect_success 'the lock the task build writes keeps the pins' '
	sed -i "\$d" examples/plans/c-wordcount.yaml &&
	pins >../pins.before &&
	mkdir -p demo/src && : >demo/src/tokenize.h && : >demo/src/tokenize.c &&
	mpbuild touch T-001 >../out && grep -qx "touched T-001" ../out &&
	grep -q "^  T-001:$" mpbuild.lock && pins | cmp - ../pins.before
'

done_testing
