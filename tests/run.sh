#!/bin/sh
# tests/run.sh: run the unit tests and the end-to-end scripts under prove; the
# last line of the output is prove's summary.
set -u
cd "$(dirname "$0")/.."
exec prove -f --timer -j"$(nproc 2>/dev/null || echo 2)" --exec '' "$UNITDIR"/test_* tests/t[0-9]*.sh
