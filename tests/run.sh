#!/bin/sh
# tests/run.sh: run the unit tests and the end-to-end scripts under prove,
# then name the scripts that skipped tests and why (skip_test in lib.sh): a
# missing tool (nginx, zstd) does not fail the run, but it is never silent.
set -u
cd "$(dirname "$0")/.."
MPBUILD_SKIPS=$(mktemp "${TMPDIR:-/tmp}/mpbuild-skips.XXXXXX") || exit 1
export MPBUILD_SKIPS
prove -f --timer -j"$(nproc 2>/dev/null || echo 2)" --exec '' "$UNITDIR"/test_* tests/t[0-9]*.sh
rc=$?
if [ -s "$MPBUILD_SKIPS" ]; then
	echo "SKIPPED (not failed; install what is missing to run them):"
	sort "$MPBUILD_SKIPS" | uniq -c | sed 's/^ *\([0-9]*\) \(.*\)/  \2 (\1 tests)/'
fi
rm -f "$MPBUILD_SKIPS"
exit $rc
