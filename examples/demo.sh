#!/bin/sh
# make demo: build the demo plan (plans/) at the repository root with the replay
# provider.  The model's answers were prepared in advance and are replayed from
# examples/demo/cassette; nothing is sent anywhere.  A second run shows that
# nothing is rebuilt.
set -e
cd "$(dirname "$0")/.."
echo "== mpbuild check"
./mpbuild check
echo
echo "== mpbuild --replay examples/demo/cassette   (answers recorded in advance, replayed offline)"
./mpbuild --replay examples/demo/cassette --progress plain
echo
echo "== files written under demo/"
find demo -type f | sort
echo
echo "== mpbuild --replay examples/demo/cassette   (second run)"
./mpbuild --replay examples/demo/cassette --progress plain
echo
echo "== mpbuild status"
./mpbuild status
