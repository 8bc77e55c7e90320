#!/bin/sh
# t0043: the attacks of the safety issue, each reproduced as an attacker would
# try it, and what must come of it (SPEC 6, 8, 10.5, 10.15; docs/security.md):
# a planted link at a staging name, outputs naming .git or a directory, links
# in the project reaching reserved places, checks reading other processes'
# environments, using the network or writing into the tree, and a person's
# edit made while the target's call is in flight.
. "$(dirname "$0")/lib.sh"

fake_provider ANTHROPIC_API_KEY

# plan DIR TASKS...: a hand-written plan in DIR (so checks need no approval)
# with the task entries given, each a YAML flow mapping
plan() {
	pd=$1
	shift
	mkdir -p "$pd/plans" && {
		printf 'version: 1\nproject: attacks\ntasks:\n'
		for tk in "$@"; do printf '  - %s\n' "$tk"; done
	} >"$pd/plans/masterplan.yaml"
}

# tree DIR: a listing of every file under DIR with its hash (links as links)
tree() {
	(cd "$1" && find . \( -type f -o -type l \) ! -path './cache/*' | LC_ALL=C sort | while read -r f; do
		if [ -L "$f" ]; then echo "$f -> $(readlink "$f")"; else echo "$f $(sha256sum <"$f" | cut -c1-16)"; fi
	done)
}

# requests TARGET: how many calls the fake server got for TARGET
requests() { grep -c "\"target\": *\"$1\"" "$FAKE_LOG"; }

echo precious >victim
VICTIM=$(sha victim)

expect_success '1. a planted link at the staging name is not written through' '
	fake_reset && plan p1 "{id: T-001, title: X, description: Write x., outputs: [src/x.txt]}" &&
	mkdir p1/src && ln -s "$TRASH/victim" p1/src/x.txt.mpbuild-new && cd p1 &&
	expect_code 1 mpbuild --progress plain >../out 2>&1 && cat ../out &&
	test "$(sha ../victim)" = "$VICTIM" && ! test -e src/x.txt && ! test -L src/x.txt &&
	test -L src/x.txt.mpbuild-new &&
	grep "T-001: src/x.txt.mpbuild-new exists and mpbuild did not create it; it is kept (remove it to build)" ../out &&
	rm src/x.txt.mpbuild-new && mpbuild --progress plain >../out 2>&1 && test -f src/x.txt && ! test -L src/x.txt &&
	test "$(sha ../victim)" = "$VICTIM"
'

expect_success '2. an output named .git, or inside a nested .git, is refused when the plan loads' '
	plan p2 "{id: T-001, title: G, description: Git., outputs: [.git, gd/HEAD, gd/config]}" &&
	cd p2 && git init -q . && before=$(tree .git) &&
	expect_code 2 mpbuild check >../out 2>&1 && cat ../out &&
	grep "^plans/masterplan.yaml:4:[0-9]*: error: output .\.git. of task T-001 is \.git$" ../out &&
	expect_code 2 mpbuild --progress plain >../out 2>&1 && test "$(tree .git)" = "$before" &&
	! test -e .git.mpbuild-old && ! test -e gd &&
	sed -i "s|\[\.git, gd/HEAD, gd/config\]|[vendor/lib/.git/config]|" plans/masterplan.yaml &&
	expect_code 2 mpbuild check >../out 2>&1 && grep "vendor/lib/.git/config. of task T-001 is under .git/" ../out
'

expect_success '2. a directory where an output would go is kept, and no call is made' '
	fake_reset && plan p2b "{id: T-001, title: D, description: Docs., outputs: [docs]}" &&
	mkdir -p p2b/docs && echo mine >p2b/docs/guide.md && cd p2b && before=$(tree docs) &&
	expect_code 1 mpbuild --progress plain >../out 2>&1 && cat ../out &&
	grep "T-001 D: failed — paths: docs is a directory; mpbuild writes only regular files and keeps it" ../out &&
	test "$(requests T-001)" = 0 && test "$(tree docs)" = "$before" && ! test -e docs.mpbuild-old
'

expect_success '3. a link inside the project may not lead into .git or onto mpbuild.lock' '
	fake_reset && plan p3 "{id: T-001, title: H, description: Hook., outputs: [gen/hook]}" \
		"{id: T-002, title: L, description: Lock., outputs: [self/mpbuild.lock]}" &&
	cd p3 && git init -q . && ln -s .git/hooks gen && ln -s . self && before=$(tree .git) &&
	expect_code 1 mpbuild --progress plain >../out 2>&1 && cat ../out &&
	grep "T-001 H: failed — paths: gen/hook leads to .git/hooks/hook through a symbolic link, which is under .git/" ../out &&
	grep "T-002 L: failed — paths: self/mpbuild.lock leads to mpbuild.lock through a symbolic link, which is a file mpbuild owns" ../out &&
	test "$(requests T-001)" = 0 && test "$(requests T-002)" = 0 &&
	test "$(tree .git)" = "$before" && ! test -e .git/hooks/hook && ! grep -q "^version" mpbuild.lock 2>/dev/null ||
	{ test -e mpbuild.lock && ! grep -q "self/mpbuild.lock" mpbuild.lock; }
'

expect_success '3. a link the model could reach later is checked again at landing' '
	fake_reset && plan p3b "{id: T-001, title: M, description: Moved., outputs: [gen/x.txt]}" &&
	mkdir -p p3b/gen p3b/.git/hooks && cd p3b &&
	fake_control "{\"faults\": [{\"target\": \"T-001\", \"delay\": 2}]}" >/dev/null &&
	{ mpbuild --progress plain >../out 2>&1 & pid=$!; } && sleep 1 &&
	rmdir gen && ln -s .git/hooks gen && { wait $pid; rc=$?; } && cat ../out && test $rc = 1 &&
	grep "gen/x.txt leads to .git/hooks/x.txt through a symbolic link, which is under .git/" ../out &&
	! test -e .git/hooks/x.txt
'

expect_success '3. cache/, plans/ or the lock as a link out of the project is refused' '
	plan p3c "{id: T-001, title: C, description: C., outputs: [c.txt]}" && mkdir elsewhere &&
	ln -s "$TRASH/elsewhere" p3c/cache && cd p3c &&
	expect_code 2 mpbuild --progress plain >../out 2>&1 && cat ../out &&
	grep "^mpbuild: cache is a symbolic link; mpbuild writes there and follows no link out of its own files" ../out &&
	test -z "$(ls ../elsewhere)"
'

expect_success '3. clean never removes a file that a link puts outside the project, whatever the lock says' '
	plan p3d "{id: T-001, title: E, description: E., outputs: [ext/f]}" && mkdir outside3 && echo precious >outside3/f &&
	ln -s "$TRASH/outside3" p3d/ext && cd p3d &&
	printf "version: 1\ntargets:\n  T-001:\n    key: sha256:%064d\n    model: m\n    generated: true\n    outputs:\n      ext/f: %s\napproved_checks: null\nrules: {}\n" 0 "$(sha ../outside3/f)" >mpbuild.lock &&
	mpbuild clean T-001 >../out 2>&1 && cat ../out && test "$(cat ../outside3/f)" = precious &&
	grep "^kept ext/f (ext/f leads out of the project through the symbolic link ext)" ../out
'

# spy DIR: a project whose check (spy.sh) looks for the key wherever a process
# could find it, counts the processes it sees, and tries the fake server
cat >spy.sh <<-'EOF'
	tr '\0' '\n' </proc/$PPID/environ
	for f in /proc/[0-9]*/environ; do tr '\0' '\n' <"$f"; done
	echo procs=$(ls -d /proc/[0-9]* | wc -l)
	python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2)' "$1" &&
		echo net=yes || echo net=no
EOF
spy() {
	plan "$1" "{id: T-001, title: S, description: Spy., outputs: [s.txt], check: [[sh, spy.sh, \"${FAKE_URL##*:}\"]]}" &&
	cp spy.sh "$1/"
}

expect_success '4. a check sees no other process, so no key, and no network' '
	fake_reset && spy p4 && cd p4 && mpbuild --progress plain >../out 2>&1 && cat ../out &&
	log=$(ls cache/logs/*/T-001.log) && cat $log &&
	grep "^procs=[1-5]$" $log && grep "^net=no$" $log && ! grep -r "$KEY" . ../out &&
	! grep "without namespaces" ../out
'

expect_success '4. checks: {network: true} in mpbuild.yaml lets a check reach the network' '
	fake_reset && spy p4n && printf "version: 1\nchecks:\n  network: true\n" >p4n/mpbuild.yaml && cd p4n &&
	mpbuild --progress plain >../out 2>&1 && log=$(ls cache/logs/*/T-001.log) && cat $log &&
	grep "^net=yes$" $log && grep "^procs=[1-5]$" $log && ! grep -r "$KEY" .
'

expect_success '4. what a check writes never reaches the tree, nor another task'"'"'s output' '
	fake_reset && plan p4w "{id: T-001, title: A, description: A., outputs: [a.txt]}" \
		"{id: T-002, title: B, description: B., depends_on: [T-001], outputs: [b.txt], check: [[sh, -c, \"echo evil >a.txt; mkdir -p public __pycache__; echo x >public/index.html; echo y >stray.txt; cat b.txt\"]]}" &&
	cd p4w && mpbuild --progress plain >../out 2>&1 && cat ../out && grep "2 built" ../out &&
	! grep evil a.txt && ! test -e public && ! test -e __pycache__ && ! test -e stray.txt &&
	mpbuild status >../out && ! grep "^edited" ../out && mpbuild --progress plain >../out 2>&1 &&
	grep "everything is up to date" ../out
'

expect_success '4. checks run with the limits of mpbuild.yaml' '
	fake_reset && plan p4l "{id: T-001, title: L, description: L., outputs: [l.txt], check: [[python3, -c, \"import resource as r; print([r.getrlimit(x)[0] for x in (r.RLIMIT_NOFILE, r.RLIMIT_AS, r.RLIMIT_FSIZE, r.RLIMIT_NPROC, r.RLIMIT_CPU, r.RLIMIT_CORE)])\"]]}" &&
	printf "version: 1\nchecks:\n  open_files: 64\n  memory_mb: 2048\n  file_size_mb: 2\n  processes: 300\n  cpu_seconds: 30\n" >p4l/mpbuild.yaml &&
	cd p4l && mpbuild --progress plain >../out 2>&1 && cat ../out && log=$(ls cache/logs/*/T-001.log) && cat $log &&
	grep "^\[64, 2147483648, 2097152, 300, 30, 0\]$" $log
'

expect_success '4. a check over its file size limit fails, and a bad checks: setting is exit 2' '
	fake_reset && plan p4f "{id: T-001, title: F, description: F., outputs: [f.txt], check: [[sh, -c, \"head -c 3000000 /dev/zero >big\"]]}" &&
	printf "version: 1\nretries: 0\nchecks:\n  file_size_mb: 1\n" >p4f/mpbuild.yaml && cd p4f &&
	expect_code 1 mpbuild --progress plain >../out 2>&1 && cat ../out && grep "checks: .sh -c head" ../out &&
	! test -e big && printf "version: 1\nchecks:\n  netwrok: true\n" >mpbuild.yaml &&
	expect_code 2 mpbuild check >../out 2>&1 && cat ../out &&
	grep "^mpbuild.yaml:3:3: error: unknown key .netwrok. in .checks. (did you mean .network.?)" ../out
'

expect_success '4. without namespaces (MPBUILD_SANDBOX=copy) checks see a copy, with one warning per run' '
	fake_reset && plan p4c "{id: T-001, title: A, description: A., outputs: [a.txt], check: [[sh, -c, \"echo evil >a.txt; echo y >stray.txt\"]]}" \
		"{id: T-002, title: B, description: B., outputs: [b.txt], check: [[sh, -c, \"test -f b.txt && echo z >b.txt\"]]}" &&
	cd p4c && MPBUILD_SANDBOX=copy mpbuild --progress plain >../out 2>&1 && cat ../out && grep "2 built" ../out &&
	test "$(grep -c "warning: checks run without namespaces (MPBUILD_SANDBOX=copy)" ../out)" = 1 &&
	! grep evil a.txt && ! test -e stray.txt && ! grep z b.txt && ! ls "${TMPDIR:-/tmp}" | grep "mpbuild-box.$pid\."
'

expect_success '5. a person'"'"'s edit made while the call is in flight wins' '
	fake_reset && plan p5 "{id: T-001, title: A, description: A., outputs: [a.txt]}" \
		"{id: T-002, title: B, description: B., outputs: [b.txt]}" && cd p5 &&
	mpbuild -B T-001 --progress plain >../out 2>&1 && grep "1 built" ../out &&
	sed -i "s/description: A\./description: A again./" plans/masterplan.yaml &&
	fake_control "{\"faults\": [{\"target\": \"T-001\", \"delay\": 2}, {\"target\": \"T-002\", \"delay\": 2}]}" >/dev/null &&
	{ mpbuild -j 2 --progress plain >../out 2>&1 & pid=$!; } && sleep 1 &&
	echo "my version" >a.txt && echo "my new file" >b.txt && { wait $pid; rc=$?; } && cat ../out && test $rc = 0 &&
	test "$(cat a.txt)" = "my version" && test "$(cat b.txt)" = "my new file" &&
	grep "T-001 A: kept (edited by hand) — a.txt changed while the target was built; the answer is in the cache" ../out &&
	grep "T-002 B: kept (edited by hand) — b.txt changed while the target was built" ../out &&
	! ls | grep "orig\|mpbuild-" && mpbuild status >../out && grep "^edited .*T-001" ../out &&
	mpbuild -B T-001 --progress plain >../out 2>&1 && cat ../out && grep "saved your a.txt as a.txt.orig.1" ../out &&
	test "$(cat a.txt.orig.1)" = "my version" && ! test "$(cat a.txt)" = "my version"
'

done_testing
