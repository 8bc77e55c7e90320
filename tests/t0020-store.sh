#!/bin/sh
# t0020: the content store end to end: a build fills cache/cas and cache/ac;
# mpbuild cache stats, export/import between two projects (and a restore from
# the import), verify catching a corrupted blob, gc by size keeping what the
# lock needs, bad archives and bad arguments; cassettes packed as .tar.zst.
. "$(dirname "$0")/lib.sh"

STORE=${UNITDIR:-$SRCDIR/build/unit}/test_store
store() { MPBUILD_STORE_DRIVER=1 "$STORE" "$@"; }
hex() { printf '%s' "$1" | sha256sum | cut -c1-64; }
# the blob file of a "sha256:HEX" hash, in project $2 (default .)
blob() { h=${1#sha256:}; echo "${2:+$2/}cache/cas/$(echo "$h" | cut -c1-2)/$h"; }
# the blobs of the outputs mpbuild.lock lists
lock_hashes() { sed -n 's/^      .*: \(sha256:[0-9a-f]*\)$/\1/p' "${1:-.}/mpbuild.lock"; }

have_zstd=false
command -v zstd >/dev/null 2>&1 && tar --zstd --version >/dev/null 2>&1 && have_zstd=true

new_project proj
mkdir empty
cd proj

expect_success 'a build fills the store: one action per target, a blob per output' '
	mpbuild --replay "$CASSETTE" --progress plain >../out && grep "5 built" ../out &&
	test "$(find cache/ac -type f | wc -l)" = 5 &&
	for h in $(lock_hashes); do test -f "$(blob $h)" || { echo "no blob for $h"; exit 1; }; done &&
	for k in $(sed -n "s/^    key: sha256://p" mpbuild.lock); do
		grep -q "\"outputs\":\[{\"path\":\"demo/" cache/ac/$(echo $k | cut -c1-2)/$k || exit 1
	done
'

if $have_zstd; then
	expect_success 'blobs are zstd named by the SHA-256 of what they hold' '
		for h in $(lock_hashes); do
			test "$(zstd -q -d -c "$(blob $h)" | sha256sum | cut -c1-64)" = "${h#sha256:}" || exit 1
		done
	'
else
	skip_test 'blobs are zstd' 'zstd not installed'
fi

expect_success 'cache stats counts actions, blobs and bytes' '
	mpbuild cache stats >../out &&
	grep "^actions: 5 " ../out &&
	grep "^blobs: [0-9][0-9]* (.* on disk, .* uncompressed)" ../out &&
	grep "^lookups: 0 hits (0 local, 0 remote), 5 misses" ../out
'

expect_success 'export, then import into another project, restores everything with no call' '
	mpbuild cache export ../all.tar.zst >../out && grep "exported 5 actions and" ../out &&
	if $have_zstd; then
		tar --zstd -tf ../all.tar.zst >../list &&
		grep -c "^ac/[0-9a-f]\{64\}$" ../list | grep -qx 5 && grep -q "^cas/[0-9a-f]\{64\}$" ../list
	fi &&
	new_project ../proj2 && cd ../proj2 &&
	mpbuild cache import ../all.tar.zst >../out && grep "imported 5 actions" ../out &&
	(cd ../proj/cache && find ac cas -type f | sort) >../a.list &&
	(cd cache && find ac cas -type f | sort) >../b.list && cmp_files ../a.list ../b.list &&
	mpbuild cache verify >../out && grep "0 bad" ../out &&
	mpbuild --replay ../empty --progress plain >../out && grep "0 built, 5 restored" ../out &&
	for f in demo/src/tokenize.c demo/src/main.c demo/Makefile; do cmp ../proj/$f $f || exit 1; done &&
	mpbuild cache stats >../out && grep "^lookups: 5 hits (5 local, 0 remote)" ../out
'

expect_success 'export of named targets or keys carries those actions and their blobs only' '
	k=$(sed -n "/^  T-002:/,/key:/s/^    key: //p" mpbuild.lock) &&
	mpbuild cache export ../one.tar.zst T-001 "$k" >../out && grep "exported 2 actions" ../out &&
	new_project ../proj3 && cd ../proj3 &&
	mpbuild cache import ../one.tar.zst >/dev/null &&
	mpbuild cache stats >../out && grep "^actions: 2 " ../out &&
	expect_code 2 mpbuild cache export ../x.tar.zst T-999 2>../err &&
	grep "T-999. is neither a key nor a target of mpbuild.lock" ../err && test ! -e ../x.tar.zst
'

if $have_zstd; then
	expect_success 'import keeps only what verifies and names the archive in each message' '
		mkdir -p ../evil/cas ../evil/ac &&
		printf "good\n" >../evil/cas/$(hex "good
") &&
		printf "not what the name says\n" >../evil/cas/$(hex "something") &&
		printf "{\"target\":\"X\",\"outputs\":[{\"path\":\"a\",\"hash\":\"sha256:%s\"}]}" $(hex nowhere) \
			>../evil/ac/$(hex key) &&
		tar --zstd -cf ../evil.tar.zst -C ../evil cas ac &&
		new_project ../proj4 && cd ../proj4 &&
		expect_code 1 mpbuild cache import ../evil.tar.zst >../out 2>../err &&
		grep "mpbuild: ../evil.tar.zst: cas/$(hex something): content does not match its name; skipped" ../err &&
		grep "mpbuild: ../evil.tar.zst: ac/$(hex key): blob sha256:$(hex nowhere) is not in the archive or the cache; skipped" ../err &&
		grep "imported 0 actions and 1 blobs" ../out &&
		test -f "$(blob $(hex "good
"))" && test ! -e "$(blob $(hex something))"
	'
else
	skip_test 'import keeps only what verifies' 'zstd not installed'
fi

expect_success 'importing a missing or broken archive fails naming it' '
	expect_code 1 mpbuild cache import ../nothere.tar.zst 2>../err &&
	grep "mpbuild: ../nothere.tar.zst: cannot open" ../err &&
	printf "garbage" >../broken.tar.zst &&
	expect_code 1 mpbuild cache import ../broken.tar.zst 2>../err && grep "mpbuild: ../broken.tar.zst: " ../err
'

expect_success 'verify finds a corrupted blob, removes it and what needed it, and exits 1' '
	new_project ../proj5 && cd ../proj5 && mpbuild cache import ../all.tar.zst >/dev/null &&
	h=$(lock_hashes ../proj | head -1) && f=$(blob $h) &&
	printf "\050\265\057\375 not zstd any more" >"$f" &&
	expect_code 1 mpbuild cache verify >../out 2>../err &&
	grep "mpbuild: $f: corrupt blob (its content does not match its name); removed" ../err &&
	grep "names blob $h, which is missing; removed" ../err &&
	grep "verify: .* 2 bad" ../out && test ! -e "$f" &&
	mpbuild cache verify >../out && grep " 0 bad" ../out &&
	mpbuild cache stats >../out && grep "^actions: 4 " ../out
'

expect_success 'a build restores around a corrupted blob: that target is built, the rest restored' '
	new_project ../proj6 && cd ../proj6 && mpbuild cache import ../all.tar.zst >/dev/null &&
	h=$(sed -n "/^  T-005:/,/^  T-/s/^      .*: //p" ../proj/mpbuild.lock | head -1) &&
	printf "x" >"$(blob $h)" &&
	mpbuild --replay "$CASSETTE" --progress plain >../out 2>&1 &&
	grep "corrupt blob" ../out && grep "1 built, 4 restored" ../out
'

if test -x "$STORE"; then
	expect_success 'gc --max-size drops the least recently used and keeps what mpbuild.lock needs' '
		printf "old one\n" >../old1 && printf "old two\n" >../old2 &&
		store put cache sha256:$(hex extra) EXTRA ../old1 ../old2 >/dev/null &&
		for f in $(find cache/cas cache/ac -type f); do touch -d @1000000000 $f; done &&
		mpbuild cache gc --max-size 1 >../out 2>../err &&
		grep "gc: removed 4 entries" ../out && grep "more than --max-size" ../err &&
		test ! -e "$(blob $(hex "old one
"))" && test ! -e cache/ac/$(hex extra | cut -c1-2)/$(hex extra) &&
		for h in $(lock_hashes); do test -f "$(blob $h)" || exit 1; done &&
		test "$(find cache/ac -type f | wc -l)" = 5 &&
		mpbuild cache verify >/dev/null && new_project ../proj7 && cp mpbuild.lock ../proj7/ &&
		mpbuild cache export ../kept.tar.zst >/dev/null && cd ../proj7 && mpbuild cache import ../kept.tar.zst >/dev/null &&
		mpbuild --replay ../empty --progress plain >../out && grep "0 built, 5 restored" ../out
	'
else
	skip_test 'gc --max-size' "the unit driver $STORE is not built"
fi

expect_success 'gc with room to spare removes nothing' '
	mpbuild cache gc --max-size 2G >../out && grep "gc: removed 0 entries" ../out
'

expect_success 'bad cache commands and arguments exit 2 with a message' '
	expect_code 2 mpbuild cache gc --max-size 12Q 2>../err && grep "cache gc: bad size .12Q." ../err &&
	expect_code 2 mpbuild cache gc --keep 2>../err && grep "unknown argument .--keep." ../err &&
	expect_code 2 mpbuild cache gcc 2>../err && grep "unknown cache command .gcc. (did you mean .gc.?)" ../err &&
	expect_code 2 mpbuild cache export 2>../err && grep "usage: mpbuild cache export" ../err &&
	expect_code 2 mpbuild cache import a b 2>../err && grep "usage: mpbuild cache import" ../err &&
	expect_code 2 mpbuild cache stats now 2>../err && grep "unexpected argument" ../err
'

cd "$TRASH"
if test -x "$STORE"; then
	expect_success 'a cassette packs into .tar.zst and extracts to the same files' '
		store pack "$CASSETTE" c.tar.zst && store extract c.tar.zst >list &&
		(cd "$CASSETTE" && find . -type f | sort) >want && cmp_files want list
	'
	if $have_zstd; then
		expect_success 'an archive entry that climbs out with .. is refused' '
			mkdir -p x/y && echo evil >x/evil && (cd x/y && tar --zstd -cPf ../../evil.tar.zst ../evil) &&
			expect_code 1 store extract evil.tar.zst 2>err && grep "evil.tar.zst: unsafe entry name .\.\./evil.$" err
		'
	else
		skip_test 'entry with ..' 'zstd not installed'
	fi
else
	skip_test 'cassette pack' "the unit driver $STORE is not built"
	skip_test 'entry with ..' "the unit driver $STORE is not built"
fi

expect_success 'mpbuild --replay takes a cassette packed as .tar.zst, and leaves no temporary directory' '
	store pack "$CASSETTE" c2.tar.zst && mkdir tmp &&
	new_project p8 && cd p8 && TMPDIR=$TRASH/tmp mpbuild --no-cache --replay ../c2.tar.zst --progress plain >../out &&
	grep "5 built" ../out && test -z "$(ls ../tmp)"
'

done_testing
