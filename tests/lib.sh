# tests/lib.sh: a small harness in the style of git's t/: each script runs in
# its own trash directory; expect_success 'name' 'commands' blocks print TAP.
# Scripts source this file, then call done_testing at the end.
set -u
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
MPBUILD=${MPBUILD:-$SRCDIR/mpbuild}
MPBUILD_RULES=$SRCDIR/rules
export MPBUILD MPBUILD_RULES SRCDIR
unset ANTHROPIC_API_KEY OPENAI_API_KEY ANTHROPIC_BASE_URL OPENAI_BASE_URL MPBUILD_PROVIDER
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS UBSAN_OPTIONS
CASSETTE=$SRCDIR/examples/demo/cassette
ANSWERS=$SRCDIR/examples/demo/answers
TRASH=$(mktemp -d "${TMPDIR:-/tmp}/mpbuild-test.XXXXXX")
trap 'cleanup_hooks; rm -rf "$TRASH"' EXIT
cd "$TRASH" || exit 1
test_count=0
test_failed=0
CLEANUP=""

cleanup_hooks() { eval "$CLEANUP"; }

mpbuild() { "$MPBUILD" "$@"; }

# expect_success NAME BODY: BODY (an && chain) must succeed
expect_success() {
	test_count=$((test_count + 1))
	if (eval "$2") >"$TRASH/.out" 2>&1; then
		echo "ok $test_count - $1"
	else
		test_failed=$((test_failed + 1))
		echo "not ok $test_count - $1"
		sed 's/^/# /' "$TRASH/.out" | tail -40
	fi
}

# expect_code CODE CMD...: run CMD, succeed when it exits with CODE
expect_code() {
	want=$1
	shift
	"$@"
	got=$?
	if [ "$got" != "$want" ]; then
		echo "expected exit code $want, got $got: $*"
		return 1
	fi
}

# cmp_files WANT GOT: identical, else show the difference
cmp_files() { diff -u "$1" "$2"; }

# a fresh copy of the demo plan in directory $1 (default: proj)
new_project() {
	d=${1:-proj}
	rm -rf "$d" && mkdir -p "$d" && cp -R "$SRCDIR/plans" "$d/plans"
}

# the cassette for the project in $1 made from fixture answers in $2 into $3
make_cassette() {
	python3 "$SRCDIR/tests/mkcassette.py" --mpbuild "$MPBUILD" --project "$1" --answers "$2" --out "$3" >/dev/null
}

# hash of a file as mpbuild writes it
sha() { printf 'sha256:%s' "$(sha256sum "$1" | cut -d' ' -f1)"; }

done_testing() {
	echo "1..$test_count"
	[ "$test_failed" = 0 ]
}
