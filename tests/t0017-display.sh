#!/bin/sh
# t0017: the live display on a real terminal (tmux): the calls in flight with
# their elapsed time, why a ready target waits, a line never wider than the
# terminal, the tokens of a streamed call growing, what a Ctrl-C does; and the
# bounded call_progress JSON events.
. "$(dirname "$0")/lib.sh"

if ! command -v tmux >/dev/null 2>&1; then
	skip_test 'the live display' 'tmux is not installed'
	done_testing
	exit
fi

fake_provider ANTHROPIC_API_KEY

# notes DIR N: N independent notes of one rule (so they share a prompt prefix)
notes() {
	mkdir -p "$1/plans" && {
		printf 'version: 1\nproject: notes\ntasks:\n'
		i=1
		while [ $i -le "$2" ]; do
			printf '  - {id: T-00%d, title: Note %d, description: Write note %d., rule: docs, outputs: [n%d.md]}\n' \
				$i $i $i $i
			i=$((i + 1))
		done
	} >"$1/plans/masterplan.yaml"
}

# slow T...: each target's next call takes 3 s
slow() {
	f=""
	for t in "$@"; do f="$f${f:+,}{\"target\": \"$t\", \"delay\": 3}"; done
	fake_control "{\"faults\": [$f]}" >/dev/null
}

SESSION=mpbuild-t0017-$$
# tm ARGS...: tmux on a server of the project's own (run_tmux sets SOCK)
tm() { tmux -L "$SOCK" "$@"; }
CLEANUP="$CLEANUP for s in p1 p2 p4 p5 p6; do tmux -L $SESSION-\$s kill-server 2>/dev/null; done;"
# screen: the pane's text now, appended to screens
screen() { tm capture-pane -p -J -t "$SESSION" | tee -a screens; }

# widest: the widest live line on the screens, in characters
widest() {
	python3 -c 'import sys; print(max([len(l.rstrip("\n")) for l in open("screens", encoding="utf-8") if "in flight" in l] or [0]))'
}

# run_tmux DIR COLS ARGS...: run mpbuild ARGS in DIR on a terminal COLS wide
run_tmux() {
	d=$1
	cols=$2
	shift 2
	: >screens
	SOCK=$SESSION-$d
	tm new-session -d -s "$SESSION" -x "$cols" -y 12 \
		"cd $TRASH/$d && TERM=xterm MPBUILD_BACKOFF_SCALE=${SCALE:-0.01} ANTHROPIC_API_KEY=$KEY ANTHROPIC_BASE_URL=$FAKE_URL MPBUILD_RULES=$MPBUILD_RULES $MPBUILD $* ; echo EXIT=\$?; sleep 30"
}

expect_success 'calls in flight with their elapsed time, a waiting target, never wider than the terminal' '
	fake_reset && notes p1 3 && slow T-001 T-002 T-003 && run_tmux p1 72 -j 2 &&
	sleep 1.5 && screen >s1 && sleep 1.5 && screen >s2 &&
	n=0 && while ! grep -q "EXIT=" screens && [ $n -lt 40 ]; do sleep 0.5; screen >/dev/null; n=$((n + 1)); done &&
	cat screens && grep -q "EXIT=0" screens &&
	grep "^\[0/3\] 1 in flight: T-001 [0-9]s · \$0.00 · T-002 waits for T-001.s prefix" s1 &&
	grep "^\[0/3\] 1 in flight: T-001 [1-9]s" s2 && grep "^\[1/3\] 2 in flight: T-002 [0-9]s, T-003 [0-9]s" screens &&
	test "$(widest)" -le 71
'

expect_success 'on a narrow terminal the live line is cut, never wrapped' '
	fake_reset && notes p4 3 && slow T-001 T-002 T-003 && run_tmux p4 30 -j 2 &&
	sleep 1.5 && screen >/dev/null &&
	n=0 && while ! grep -q "EXIT=" screens && [ $n -lt 40 ]; do sleep 0.5; screen >/dev/null; n=$((n + 1)); done &&
	cat screens && grep -q "EXIT=0" screens && grep "^\[0/3\] 1 in flight: T-001 " screens &&
	test "$(widest)" -le 29
'

expect_success 'a streamed call shows its tokens growing' '
	fake_reset && notes p5 1 && long=$(python3 -c "print(\"word \" * 400)") &&
	fake_control "{\"answers\": {\"T-001\": {\"files\": [{\"path\": \"n1.md\", \"content\": \"$long\"}]}},
		\"faults\": [{\"target\": \"T-001\", \"chunk\": 1500, \"drip\": 0.3}]}" >/dev/null &&
	run_tmux p5 80 && sleep 1 &&
	n=0 && while ! grep -q "EXIT=" screens && [ $n -lt 40 ]; do sleep 0.3; screen >/dev/null; n=$((n + 1)); done &&
	cat screens && grep -q "EXIT=0" screens &&
	grep -o "T-001 [0-9]*s [0-9]* tok" screens | awk "{ print \$3 }" | uniq >toks && cat toks &&
	test "$(wc -l <toks)" -ge 2 && sort -n -c toks
'

expect_success 'a call waiting for the rate limits says so, with the seconds left' '
	fake_reset && notes p6 2 && fake_control "{\"ratelimit\": {\"anthropic-ratelimit-requests-remaining\": \"0\",
		\"anthropic-ratelimit-requests-reset\": \"+4\"}}" >/dev/null &&
	SCALE=1 run_tmux p6 80 -j 1 &&
	n=0 && while ! grep -q "EXIT=" screens && [ $n -lt 40 ]; do sleep 0.3; screen >/dev/null; n=$((n + 1)); done &&
	fake_control "{\"ratelimit\": {}}" >/dev/null && cat screens && grep -q "EXIT=0" screens &&
	grep "T-002 waits [1-4]s for the rate limits" screens
'

expect_success 'a first Ctrl-C says what it does, and the calls in flight land' '
	fake_reset && notes p2 3 && slow T-001 T-002 T-003 && run_tmux p2 80 -j 1 &&
	sleep 1.5 && tm send-keys -t "$SESSION" C-c &&
	n=0 && while ! grep -q "EXIT=" screens && [ $n -lt 40 ]; do sleep 0.5; screen >/dev/null; n=$((n + 1)); done &&
	cat screens && grep -q "EXIT=130" screens &&
	grep "interrupted: starting nothing new, finishing 1 call in flight; Ctrl-C again to abort it" screens &&
	test -f p2/n1.md && ! test -f p2/n2.md
'

expect_success '--progress json: call_progress events for a call in flight, at most one a second' '
	fake_reset && notes p3 1 && slow T-001 && cd p3 &&
	mpbuild --progress json 2>../events >/dev/null && cd .. && cat events &&
	n=$(grep -c "\"event\":\"call_progress\"" events) && test "$n" -ge 2 && test "$n" -le 4 &&
	grep "\"event\":\"call_progress\"" events | head -1 | grep "\"target\":\"T-001\""
'

done_testing
