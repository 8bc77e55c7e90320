#!/bin/sh
# test-rotate-logs.sh: tests of rotate-logs.sh in a temporary directory.
# usage: test-rotate-logs.sh   (run from the directory holding both scripts)
# Prints "ok N - name" or "not ok N - name" per test; exits 1 if any failed.
# The test bodies are single-quoted on purpose: check evaluates them.
# shellcheck disable=SC2016
set -eu

here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/test-rotate.XXXXXX")
trap 'rm -rf "$work"' EXIT HUP INT TERM
n=0
failed=0

check() {
	n=$((n + 1))
	if eval "$2" >/dev/null 2>&1; then
		printf 'ok %d - %s\n' "$n" "$1"
	else
		printf 'not ok %d - %s\n' "$n" "$1"
		failed=1
	fi
}

printf 'one\n' >"$work/app.log"
check 'rotates a log' '"$here/rotate-logs.sh" -n 2 "$work" && [ ! -s "$work/app.log" ] && [ "$(gzip -dc "$work/app.log.1.gz")" = one ]'
printf 'two\n' >"$work/app.log"
"$here/rotate-logs.sh" -n 2 "$work"
printf 'three\n' >"$work/app.log"
check 'keeps only N copies' '"$here/rotate-logs.sh" -n 2 "$work" && [ "$(gzip -dc "$work/app.log.2.gz")" = two ] && [ ! -e "$work/app.log.3.gz" ]'
check 'an empty directory is fine' 'd=$(mktemp -d "$work/e.XXXXXX") && "$here/rotate-logs.sh" "$d"'
check 'bad -n is a usage error' '{ "$here/rotate-logs.sh" -n x "$work"; [ $? -eq 2 ]; }'
check 'a missing directory is a usage error' '{ "$here/rotate-logs.sh" "$work/nope"; [ $? -eq 2 ]; }'
exit "$failed"
