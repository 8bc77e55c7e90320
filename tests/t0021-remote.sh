#!/bin/sh
# t0021: the remote cache against a real nginx with WebDAV PUT (Bazel's HTTP
# layout: /ac/KEYHEX as JSON, /cas/HASHHEX as raw bytes): a round trip
# between two machines, what was sent (token included), corrupt remote
# entries rejected, an unreachable or refusing remote is one warning; then the
# same end to end through mpbuild --remote-cache and remote_cache:.
. "$(dirname "$0")/lib.sh"
# the servers are on loopback: never through a proxy
no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
export no_proxy NO_PROXY

STORE=${UNITDIR:-$SRCDIR/build/unit}/test_store
store() { MPBUILD_STORE_DRIVER=1 "$STORE" "$@"; }
hex() { printf '%s' "$1" | sha256sum | cut -c1-64; }

if ! start_nginx "$TRASH/nginx"; then
	for t in 'unit round trip' 'driver round trip' 'corrupt blob' 'corrupt action' 'unreachable' 'refusing uploads' \
		'build A uploads, build B restores' 'remote_cache: setting' 'unreachable build'; do
		skip_test "$t" "nginx not installed"
	done
	done_testing
	exit
fi
ROOT=$TRASH/nginx/root
CLOSED=http://127.0.0.1:$(free_port)
have_store=false
test -x "$STORE" && have_store=true

run_store_test() {
	if $have_store; then
		expect_success "$@"
	else
		skip_test "$1" "the unit driver $STORE is not built"
	fi
}

run_store_test 'the unit tests round trip through the remote' '
	MPBUILD_TEST_REMOTE=$NGINX_URL "$STORE" >out &&
	! grep "^not ok" out && grep "^ok .* - remote_round_trip" out &&
	ls "$ROOT"/ac/* "$ROOT"/cas/* >/dev/null
'

K1=sha256:$(hex "action one")
run_store_test 'machine A uploads an action; machine B gets it from the remote alone' '
	mkdir -p a && printf "int x;\n" >a/x.c && printf "# doc\n" >a/README &&
	(cd a && export MPBUILD_STORE_REMOTE=$NGINX_URL MPBUILD_REMOTE_TOKEN=s3cret-token && store put cache $K1 T-001 x.c README \
		>../put.out 2>../put.err) &&
	test ! -s put.err &&
	# blobs are the raw bytes, the action JSON, both in the Bazel layout
	cmp a/x.c "$ROOT/cas/$(sha256sum <a/x.c | cut -c1-64)" &&
	grep "\"target\":\"T-001\"" "$ROOT/ac/${K1#sha256:}" &&
	grep "^PUT /cas/[0-9a-f]\{64\} 20[14] auth=Bearer s3cret-token$" "$NGINX_DIR/access.log" &&
	grep "^PUT /ac/${K1#sha256:} 20[14] auth=Bearer s3cret-token$" "$NGINX_DIR/access.log" &&
	# the action goes up after its blobs
	test "$(grep -n "^PUT /ac/${K1#sha256:}" "$NGINX_DIR/access.log" | cut -d: -f1)" -gt \
	     "$(grep -n "^PUT /cas/" "$NGINX_DIR/access.log" | tail -1 | cut -d: -f1)" &&
	mkdir b && (cd b && export MPBUILD_STORE_REMOTE=$NGINX_URL && store get cache out $K1 >../get.out 2>../get.err) &&
	grep "^found $K1" get.out && test ! -s get.err &&
	cmp a/x.c b/out/x.c && cmp a/README b/out/README &&
	grep "^GET /ac/${K1#sha256:} 200 auth=-$" "$NGINX_DIR/access.log" &&
	# now local on machine B: no remote needed
	(cd b && store get cache out2 $K1) >/dev/null && cmp a/x.c b/out2/x.c &&
	# the token is in no file mpbuild wrote and in no message
	! grep -r s3cret-token a/cache b/cache put.out get.out
'

run_store_test 'a corrupt remote blob is rejected with a warning and never used' '
	h=$(sha256sum <a/x.c | cut -c1-64) &&
	printf "int evil;\n" >"$ROOT/cas/$h" &&
	mkdir c && (cd c && export MPBUILD_STORE_REMOTE=$NGINX_URL && expect_code 1 store get cache out $K1 >../c.out 2>../c.err) &&
	grep "^absent" c.out &&
	grep "remote cache $NGINX_URL: cas/$h: content does not match its hash; rejected" c.err &&
	test ! -e c/out/x.c && test ! -e "c/cache/cas/$(echo $h | cut -c1-2)/$h" &&
	test ! -e "c/cache/ac/$(hex "action one" | cut -c1-2)/$(hex "action one")" &&
	(cd c && export MPBUILD_STORE_REMOTE=$NGINX_URL && expect_code 1 store blob cache sha256:$h >/dev/null 2>&1)
'

run_store_test 'a corrupt remote action entry is rejected with a warning' '
	k=$(hex "action two") &&
	printf "{\"outputs\": \"../../etc\"}" >"$ROOT/ac/$k" &&
	mkdir d && (cd d && export MPBUILD_STORE_REMOTE=$NGINX_URL && expect_code 1 store get cache out sha256:$k >../d.out 2>../d.err) &&
	grep "remote cache $NGINX_URL: ac/$k: outputs is not a list; rejected" d.err &&
	test ! -e d/cache/ac/$(echo $k | cut -c1-2)/$k
'

run_store_test 'an unreachable remote is one warning and everything goes on locally' '
	mkdir e && printf "int e;\n" >e/e.c &&
	(cd e && export MPBUILD_STORE_REMOTE=$CLOSED && store put cache $K1 T-001 e.c >/dev/null 2>../e.err) &&
	test "$(grep -c warning e.err)" = 1 && grep "remote cache $CLOSED: .*going on with the local cache only" e.err &&
	(cd e && export MPBUILD_STORE_REMOTE=$CLOSED && expect_code 1 store get cache out $K1 sha256:$(hex x) sha256:$(hex y) \
		>../e.out 2>../e.err) &&
	grep "^found $K1" e.out && grep -c "^absent" e.out | grep -qx 2 &&
	test "$(grep -c warning e.err)" = 1 && cmp e/e.c e/out/e.c
'

K3=sha256:$(hex "action three")
run_store_test 'a remote that refuses uploads is one warning; reading from it goes on in the same run' '
	mkdir f && printf "int f;\n" >f/f.c && printf "int g;\n" >f/g.c && printf "int h;\n" >f/h.c &&
	(cd f && export MPBUILD_STORE_REMOTE=$NGINX_URL && store put cache $K3 T-003 h.c >/dev/null) &&
	cp -R "$ROOT/ac" "$ROOT/cas" "$ROOT/ro/" && rm -rf f/cache &&
	(cd f && export MPBUILD_STORE_REMOTE=$NGINX_URL/ro/ &&
		store put cache $K1 T-001 f.c g.c ";" get cache out $K3 >../f.out 2>../f.err) &&
	test "$(grep -c warning f.err)" = 1 &&
	grep "remote cache $NGINX_URL/ro: PUT cas/[0-9a-f]*: HTTP 405; not uploading for the rest of this run" f.err &&
	grep "^found $K3" f.out && cmp f/h.c f/out/h.c &&
	(cd f && store get cache out $K1) >/dev/null && cmp f/f.c f/out/f.c &&
	! grep "^PUT /ro/ac/" "$NGINX_DIR/access.log"
'

# ---- end to end through mpbuild ----

mkdir empty
expect_success 'machine A builds and uploads; machine B restores everything with no provider call' '
	new_project ma && new_project mb &&
	(cd ma && mpbuild --replay "$CASSETTE" --remote-cache "$NGINX_URL/team" --progress plain >../ma.out 2>&1) &&
	grep "5 built, 0 restored" ma.out &&
	test "$(ls "$ROOT"/team/ac | wc -l)" = 5 &&
	(cd mb && mpbuild --replay ../empty --remote-cache "$NGINX_URL/team" --progress plain >../mb.out 2>&1) &&
	grep "0 built, 5 restored" mb.out && ! grep -i warning mb.out &&
	for f in demo/src/tokenize.c demo/src/main.c demo/Makefile demo/README.md; do cmp ma/$f mb/$f || exit 1; done &&
	(cd mb && mpbuild --replay ../empty --progress plain >../mb2.out) && grep "everything is up to date" mb2.out
'

expect_success 'remote_cache: in mpbuild.yaml is read through too' '
	new_project mc &&
	printf "version: 1\nremote_cache: %s/team\n" "$NGINX_URL" >mc/mpbuild.yaml &&
	(cd mc && mpbuild --replay ../empty --progress plain >../mc.out 2>&1) &&
	grep "0 built, 5 restored" mc.out
'

expect_success 'an unreachable remote cache is one warning, never a failed build' '
	new_project md &&
	(cd md && mpbuild --replay "$CASSETTE" --remote-cache "$CLOSED" --progress plain >../md.out 2>&1) &&
	grep "5 built, 0 restored" md.out &&
	test "$(grep -c "warning: remote cache" md.out)" = 1
'

done_testing
