#!/bin/sh
# t0005: the local content store: undoing an edit restores with no call;
# deleted outputs come back from the store; --no-cache calls again.
. "$(dirname "$0")/lib.sh"

new_project proj
mkdir empty
cd proj

expect_success 'first build fills the action cache' '
	mpbuild --replay "$CASSETTE" -q && ls cache/ac >/dev/null && ls cache/cas >/dev/null
'

expect_success 'undoing an edit restores from the store with no provider call' '
	sed -i "s/Write the tokenizer module,/Write the whole tokenizer module,/" plans/masterplan.yaml &&
	make_cassette . "$ANSWERS" ../c2 && mpbuild --replay ../c2 -q &&
	sed -i "s/Write the whole tokenizer module,/Write the tokenizer module,/" plans/masterplan.yaml &&
	mpbuild --replay ../empty --progress plain >../out &&
	grep "T-001 Tokenizer: restored" ../out &&
	grep "0 built, 1 restored, 4 up to date, 0 failed" ../out &&
	mpbuild status T-001 | grep "^up to date"
'

expect_success 'a switched branch (other outputs, same lock) restores instead of calling' '
	cp mpbuild.lock ../lock.a && cp -R demo ../demo.a &&
	sed -i "s/Write the tokenizer module,/Write the whole tokenizer module,/" plans/masterplan.yaml &&
	mpbuild --replay ../c2 -q &&
	sed -i "s/Write the whole tokenizer module,/Write the tokenizer module,/" plans/masterplan.yaml &&
	cp ../lock.a mpbuild.lock && rm -rf demo/src/tokenize.c &&
	mpbuild --replay ../empty --progress plain >../out &&
	grep "1 restored" ../out && cmp_files ../demo.a/src/tokenize.c demo/src/tokenize.c
'

expect_success '--no-cache does not restore' '
	rm demo/src/tokenize.h &&
	expect_code 1 mpbuild --no-cache --replay ../empty --progress plain >../out 2>&1 &&
	grep "T-001 .*failed — no recording" ../out &&
	mpbuild --replay ../empty -q && test -f demo/src/tokenize.h
'

expect_success 'cache stats and verify see the entries' '
	mpbuild cache stats >../out && grep "actions: [1-9]" ../out &&
	mpbuild cache verify
'

expect_success 'a replay cassette may be a .tar.zst archive' '
	cd .. && new_project p2 && (cd "$CASSETTE" && tar --zstd -cf "$TRASH/c.tar.zst" .) && cd p2 &&
	mpbuild --replay ../c.tar.zst --progress plain >../out &&
	grep "5 built" ../out
'

done_testing
