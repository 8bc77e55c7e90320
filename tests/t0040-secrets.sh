#!/bin/sh
# t0040: a provider that echoes the API key in an error body (a 401, a 500
# retried until mpbuild gives up, a 400 with a raw body) gets it redacted:
# the message still names the target and says what the provider said, with
# [redacted] for the key, on the terminal, in cache/state.db and everywhere
# else in the project; for both the anthropic and the openai provider.
. "$(dirname "$0")/lib.sh"

if ! start_fake_server --answers "$ANSWERS" --strict-answers; then
	skip_test 'the fake model server' 'tests/fake_server.py does not start (python3 missing?)'
	done_testing
	exit
fi
rand() { od -An -N8 -tx1 /dev/urandom | tr -d ' \n'; }
# a key shaped like Anthropic's and one that looks like no key at all
ANTHROPIC_API_KEY=sk-ant-api03-$(rand)
OPENAI_API_KEY=plain$(rand)
MPBUILD_BACKOFF_SCALE=0.01
export ANTHROPIC_API_KEY OPENAI_API_KEY MPBUILD_BACKOFF_SCALE

# no_key DIR OUT: neither key in any file under DIR (cache/state.db,
# cache/logs and mpbuild.lock included) nor in OUT
no_key() {
	for k in "$ANTHROPIC_API_KEY" "$OPENAI_API_KEY"; do
		if grep -rlaF "$k" "$1" "$2"; then
			echo "a key is in the files above"
			return 1
		fi
	done
}

# failure TARGET: the reason state.db records for TARGET's failure
failure() { ledger "SELECT reason FROM failure WHERE target = '$1'"; }

# faulty NAME PROVIDER FAULT: a fresh project NAME (the current directory
# then) on PROVIDER, and the fake server told to answer T-001 with FAULT
faulty() {
	fake_reset && new_project "$1" && cd "$1" && printf "version: 1\nprovider: %s\n" "$2" >mpbuild.yaml &&
	fake_control "{\"faults\": [$3]}" >/dev/null
}

# scenarios PROVIDER HEADER: the three failures against PROVIDER, whose key
# goes in the request header HEADER
scenarios() {
	p=$1 h=$2

	expect_success "$p: a 401 echoing the key exits 4 with the key redacted" '
		faulty $p-401 $p "{\"target\": \"T-001\", \"status\": 401,
			\"message\": \"invalid key; you sent {header:$h}\"}" &&
		expect_code 4 mpbuild --progress plain >../out 2>&1 &&
		grep "T-001 .*authentication failed (401): invalid key; you sent .*\[redacted\]" ../out &&
		no_key . ../out
	'

	expect_success "$p: a 500 echoing the key, retried and given up, is redacted everywhere" '
		faulty $p-500 $p "{\"target\": \"T-001\", \"status\": 500, \"times\": 0,
			\"message\": \"backend rejected {\\\"$h\\\": \\\"{header:$h}\\\"}\"}" &&
		expect_code 1 mpbuild --progress plain >../out 2>&1 &&
		grep "T-001 .*provider answered 500: backend rejected .*\[redacted\].* (gave up after 5 tries)" ../out &&
		failure T-001 | grep "provider answered 500: backend rejected .*\[redacted\]" &&
		mpbuild status >../st 2>&1 && grep "^failed .*T-001 .*\[redacted\]" ../st &&
		no_key . ../out && no_key . ../st
	'

	expect_success "$p: a 400 whose raw body echoes the key fails the target with it redacted" '
		faulty $p-400 $p "{\"target\": \"T-001\", \"status\": 400,
			\"body\": \"<html>400 Bad Request: $h={header:$h}; Bearer {header:$h}</html>\"}" &&
		expect_code 1 mpbuild --progress json >../out 2>&1 &&
		grep "T-001.*provider answered 400: <html>400 Bad Request: .*\[redacted\]" ../out &&
		failure T-001 | grep "400 Bad Request: .*\[redacted\]" &&
		no_key . ../out
	'
}

scenarios anthropic x-api-key
scenarios openai authorization

expect_success 'the fake server really echoed the keys (the test can fail)' '
	fake_reset &&
	fake_control "{\"faults\": [{\"status\": 400, \"body\": \"{header:x-api-key}\"}]}" >/dev/null &&
	python3 -c "
import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1] + \"/v1/messages\", data=b\"{}\", headers={
    \"x-api-key\": sys.argv[2], \"anthropic-version\": \"2023-06-01\", \"content-type\": \"application/json\"})
try:
    urllib.request.urlopen(req, timeout=10)
except urllib.error.HTTPError as e:
    sys.exit(e.read().decode() != sys.argv[2])
sys.exit(1)
" "$FAKE_URL" "$ANTHROPIC_API_KEY"
'

done_testing
