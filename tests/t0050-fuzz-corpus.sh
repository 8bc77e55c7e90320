#!/bin/sh
# t0050: the fuzz corpus.  Every stored input of tests/fuzz/corpus/FORMAT is
# fed once to that format's harness, built without libFuzzer (driver.c) under
# ASan+UBSan by make check into $FUZZDIR: a crash, a leak or undefined
# behaviour that the fuzzer once found must stay fixed.
. "$(dirname "$0")/lib.sh"

FUZZDIR=${FUZZDIR:-$SRCDIR/build/fuzzcheck}
CORPUS=$SRCDIR/tests/fuzz/corpus

for c in "$CORPUS"/*/; do
	format=$(basename "$c")
	if [ ! -x "$FUZZDIR/$format" ]; then
		skip_test "$format corpus" "no harness $FUZZDIR/$format: run make check"
		continue
	fi
	n=$(ls "$c" | wc -l)
	expect_success "$format corpus ($n inputs)" '
		"$FUZZDIR/$format" "$c" >out 2>err || { tail -40 err; false; } &&
		grep -qx "$n inputs" out
	'
done

done_testing
