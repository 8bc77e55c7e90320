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

# skip_test NAME REASON: count a test that cannot run here; under tests/run.sh
# the script and the reason also go to $MPBUILD_SKIPS, which it reports at
# the end, so that a suite that skips never does so silently
skip_test() {
	test_count=$((test_count + 1))
	echo "ok $test_count # skip $2 ($1)"
	if [ -n "${MPBUILD_SKIPS:-}" ]; then
		echo "$(basename "$0"): $2" >>"$MPBUILD_SKIPS"
	fi
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_nginx DIR: nginx with WebDAV PUT serving DIR/root on a free port of
# 127.0.0.1 (DIR/root/ro/ refuses PUT), stopped when the script ends.  Sets
# NGINX_URL; DIR/access.log has "METHOD URI STATUS auth=AUTHORIZATION" lines.
# Returns 1 when nginx is not installed or does not start.  Call it at the
# top level of a script, not inside expect_success (the pid must outlive it).
start_nginx() {
	NGINX_BIN=$(command -v nginx 2>/dev/null || { test -x /usr/sbin/nginx && echo /usr/sbin/nginx; }) || return 1
	NGINX_DIR=$1
	mkdir -p "$NGINX_DIR/root/ro" "$NGINX_DIR/tmp" || return 1
	nginx_user=
	[ "$(id -u)" = 0 ] && nginx_user="user $(id -un);"
	for nginx_try in 1 2 3; do
		nginx_port=$(free_port) || return 1
		cat >"$NGINX_DIR/nginx.conf" <<-CONF
		daemon off;
		$nginx_user
		worker_processes 1;
		pid $NGINX_DIR/nginx.pid;
		error_log $NGINX_DIR/error.log;
		events { worker_connections 64; }
		http {
			log_format mpbuild '\$request_method \$uri \$status auth=\$http_authorization';
			access_log $NGINX_DIR/access.log mpbuild;
			client_body_temp_path $NGINX_DIR/tmp/body;
			proxy_temp_path $NGINX_DIR/tmp/proxy;
			fastcgi_temp_path $NGINX_DIR/tmp/fastcgi;
			uwsgi_temp_path $NGINX_DIR/tmp/uwsgi;
			scgi_temp_path $NGINX_DIR/tmp/scgi;
			server {
				listen 127.0.0.1:$nginx_port;
				root $NGINX_DIR/root;
				client_max_body_size 0;
				location / {
					dav_methods PUT;
					create_full_put_path on;
					dav_access user:rw group:r all:r;
				}
				location /ro/ {
				}
			}
		}
		CONF
		"$NGINX_BIN" -p "$NGINX_DIR" -e "$NGINX_DIR/error.log" -c "$NGINX_DIR/nginx.conf" 2>>"$NGINX_DIR/error.log" &
		NGINX_PID=$!
		CLEANUP="$CLEANUP kill $NGINX_PID 2>/dev/null; wait $NGINX_PID 2>/dev/null;"
		nginx_wait=0
		while [ $nginx_wait -lt 50 ] && kill -0 $NGINX_PID 2>/dev/null; do
			if python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
				"$nginx_port" 2>/dev/null; then
				NGINX_URL=http://127.0.0.1:$nginx_port
				return 0
			fi
			sleep 0.1
			nginx_wait=$((nginx_wait + 1))
		done
		kill $NGINX_PID 2>/dev/null
		wait $NGINX_PID 2>/dev/null
	done
	return 1
}

# start_fake_server [ARGS...]: tests/fake_server.py (ARGS passed on) on a free
# port of 127.0.0.1, stopped when the script ends.  Sets FAKE_URL, FAKE_PID and
# FAKE_LOG (one JSON object per model request, see docs/providers.md) and
# exports ANTHROPIC_BASE_URL=$FAKE_URL and OPENAI_BASE_URL=$FAKE_URL/v1.
# Returns 1 when it does not start.  Call it at the top level of a script, not
# inside expect_success (the pid must outlive it).
start_fake_server() {
	fake_n=$((${fake_n:-0} + 1))
	FAKE_DIR=$TRASH/fake-$fake_n
	FAKE_LOG=$FAKE_DIR/log
	mkdir -p "$FAKE_DIR" && : >"$FAKE_LOG" || return 1
	python3 "$SRCDIR/tests/fake_server.py" --port-file "$FAKE_DIR/port" --log "$FAKE_LOG" "$@" \
		>"$FAKE_DIR/out" 2>&1 &
	FAKE_PID=$!
	CLEANUP="$CLEANUP kill $FAKE_PID 2>/dev/null; wait $FAKE_PID 2>/dev/null;"
	fake_wait=0
	while [ $fake_wait -lt 100 ] && kill -0 $FAKE_PID 2>/dev/null; do
		if [ -s "$FAKE_DIR/port" ]; then
			FAKE_URL=http://127.0.0.1:$(cat "$FAKE_DIR/port")
			ANTHROPIC_BASE_URL=$FAKE_URL
			OPENAI_BASE_URL=$FAKE_URL/v1
			export FAKE_URL FAKE_LOG ANTHROPIC_BASE_URL OPENAI_BASE_URL
			return 0
		fi
		sleep 0.1
		fake_wait=$((fake_wait + 1))
	done
	sed 's/^/# fake_server: /' "$FAKE_DIR/out"
	return 1
}

# fake_provider VAR [ARGS...]: a random test key in $KEY, exported as VAR
# (ANTHROPIC_API_KEY or OPENAI_API_KEY), backoff and pacing waits 100 times
# shorter, and tests/fake_server.py started with ARGS, accepting only that key;
# when it cannot start, the script ends here with one skipped test
fake_provider() {
	KEY=test-key-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
	eval "$1=\$KEY; export $1"
	shift
	MPBUILD_BACKOFF_SCALE=0.01
	export MPBUILD_BACKOFF_SCALE
	if ! start_fake_server --api-key "$KEY" "$@"; then
		skip_test 'the fake model server' 'tests/fake_server.py does not start (python3 missing?)'
		done_testing
		exit
	fi
}

# lockkey TARGET: the key mpbuild.lock records for TARGET
lockkey() { sed -n "/^  $1:\$/{n;s/^    key: //p;}" mpbuild.lock; }

# last_body TARGET: the body of the last request the fake server got for TARGET
last_body() {
	python3 - "$FAKE_LOG" "$1" <<-'PY'
	import json, sys
	body = ""
	for line in open(sys.argv[1]):
	    e = json.loads(line)
	    if e["target"] == sys.argv[2]:
	        body = e["body"]
	sys.stdout.write(body)
	PY
}

# same_as_answers DIR: every file of the fixture answers is in DIR with exactly that content
same_as_answers() {
	python3 - "$ANSWERS" "$1" <<-"PY"
	import glob, json, os, sys
	answers, root = sys.argv[1], sys.argv[2]
	for p in sorted(glob.glob(os.path.join(answers, "T-*.json"))):
	    for f in json.load(open(p, encoding="utf-8"))["files"]:
	        got = open(os.path.join(root, f["path"]), "rb").read()
	        if got != f["content"].encode("utf-8"):
	            sys.exit("%s differs from the answer in %s" % (f["path"], p))
	PY
}

# budget_of EXPR: a budget computed by EXPR (python, e.g. "w * 2.5") from w,
# the worst case of T-001's call in the build here, which a run with a
# budget too small for any call reports ("could cost up to") and exits 3
budget_of() {
	expect_code 3 mpbuild --budget 0.000001 --progress plain >"$TRASH/.probe" 2>&1 || { cat "$TRASH/.probe" >&2; return 1; }
	python3 -c "import sys; w = float(sys.argv[1]); print(round($1, 6))" \
		"$(sed -n "s/.*T-001 .*could cost up to \$\([0-9.]*\) and.*/\1/p" "$TRASH/.probe")"
}

# fake_control [JSON]: POST JSON (default {}) to the fake server's /_control
# and print the state it answers (GET /_control without an argument)
fake_control() {
	python3 - "$FAKE_URL/_control" "${1-}" <<-'PY'
	import sys, urllib.request
	url, body = sys.argv[1], sys.argv[2]
	req = urllib.request.Request(url, data=body.encode() if body else None,
	                             headers={"content-type": "application/json"})
	print(urllib.request.urlopen(req, timeout=10).read().decode())
	PY
}

# fake_reset: forget faults, the prompt cache, counts and inline answers, and
# empty the request log
fake_reset() { fake_control '{"reset": true}' >/dev/null && : >"$FAKE_LOG"; }

# ledger [DB] SQL: rows of SQL on DB (default cache/state.db), fields joined
# by "|" as the sqlite3 shell prints them (sqlite3 itself may be missing);
# a change SQL makes is committed
ledger() {
	if [ $# -ge 2 ]; then ledger_db=$1; shift; else ledger_db=cache/state.db; fi
	python3 - "$ledger_db" "$1" <<-'PY'
	import sqlite3, sys
	db = sqlite3.connect(sys.argv[1])
	for row in db.execute(sys.argv[2]):
	    print("|".join("" if v is None else str(v) for v in row))
	db.commit()
	PY
}
