#!/bin/sh
# tests/run.sh: run the unit tests and the end-to-end scripts under prove; the
# last line of the output is prove's summary.
set -u
cd "$(dirname "$0")/.."
exec prove -f --exec '' "$UNITDIR"/test_* tests/t[0-9]*.sh
