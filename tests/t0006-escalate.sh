#!/bin/sh
# t0006: a retry against the fake server carries the exact error of the failed
# attempt and goes to the escalation model; each attempt is a ledger row.
. "$(dirname "$0")/lib.sh"

mkdir ans
python3 - <<'PY'
import json
def ans(name, content):
    json.dump({"files": [{"path": "src/a.c", "content": content}], "summary": "a"}, open("ans/" + name, "w"))
ans("A.1.json", "int a(void) { return 42 }\n")
ans("A.2.json", "int a(void) { return 42; }\n")
PY
start_fake_server --answers "$TRASH/ans" || { echo "Bail out! fake server"; exit 1; }
ANTHROPIC_API_KEY=test-key-escalate
MPBUILD_BACKOFF_SCALE=0.01
export ANTHROPIC_API_KEY MPBUILD_BACKOFF_SCALE

mkdir -p p/plans
cat >p/plans/masterplan.yaml <<'EOF2'
version: 1
tasks:
  - id: A
    title: the library
    description: Write src/a.c with a function a() returning 42.
    complexity: low
    outputs: [src/a.c]
EOF2
printf 'version: 1\nmodels:\n  low: claude-haiku-5-5\n  escalate: claude-opus-5-5\nretries: 1\n' >p/mpbuild.yaml

expect_success 'the retry goes to the escalation model with the exact error' '
	cd p && mpbuild --progress plain >../out 2>&1 &&
	grep "1 after a retry" ../out && grep "return 42;" src/a.c &&
	python3 - "$FAKE_LOG" <<-PY
	import json, sys
	reqs = [json.loads(l) for l in open(sys.argv[1])]
	assert len(reqs) == 2, len(reqs)
	b1, b2 = (json.loads(r["body"]) for r in reqs)
	assert b1["model"] == "claude-haiku-5-5", b1["model"]
	assert b2["model"] == "claude-opus-5-5", b2["model"]
	user = json.dumps(b2["messages"])
	assert "syntax: cc failed on src/a.c" in user, user[-800:]
	assert "syntax" not in json.dumps(b1["messages"])
	PY
'

expect_success 'each attempt is its own ledger row' '
	cd p && test "$(ledger "select attempt, model from ledger order by id")" = "1|claude-haiku-5-5
2|claude-opus-5-5"
'

done_testing
