/* test_anthropic.c: the Messages API wire format (request bodies, cache
 * breakpoints), the decoding of answers and errors, the shared retry and
 * pacing helpers, and live calls against tests/fake_server.py on 127.0.0.1
 * (skipped when python3 or the server cannot be found). */
#include "unit.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "provider.h"

#define SCHEMA "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},\"required\":[\"a\"],\"additionalProperties\":false}"

static struct request small(enum answer_format f)
{
	struct request r = {0};

	r.target = "T-001";
	r.attempt = 1;
	r.model = "claude-sonnet-5-5";
	r.max_tokens = 100;
	r.format = f;
	r.tool_name = "write_files";
	r.schema = SCHEMA;
	r.layer[0] = "L1\n", r.layer_len[0] = 3;
	r.layer[1] = "L2\n", r.layer_len[1] = 3;
	r.layer[2] = "L3\n", r.layer_len[2] = 3;
	r.layer[3] = "Target: T-001\n", r.layer_len[3] = 14;
	return r;
}

/* every layer end gets its breakpoint, however short the layer (SPEC 5) */
#define CC ",\"cache_control\":{\"type\":\"ephemeral\"}"
static const char sys3[] = "\"system\":[{\"type\":\"text\",\"text\":\"L1\\n\"" CC "},{\"type\":\"text\",\"text\":\"L2\\n\"" CC "},"
			   "{\"type\":\"text\",\"text\":\"L3\\n\"" CC "}]";
static const char user1[] = "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Target: T-001\\n\"}]}]";

TEST(body_json_schema)
{
	struct request r = small(FMT_JSON_SCHEMA);
	char *b = anthropic_body(&r, model_lookup(NULL, r.model));
	char *want = xasprintf("{\"model\":\"claude-sonnet-5-5\",\"max_tokens\":100,%s,%s,"
			       "\"output_config\":{\"format\":{\"type\":\"json_schema\",\"schema\":%s}}}",
			       sys3, user1, SCHEMA);

	CHECK_STR(b, want);
	free(b);
	free(want);
}

TEST(body_tool)
{
	struct request r = small(FMT_TOOL);
	char *b;
	char *want;

	r.model = "claude-haiku-5-5";
	b = anthropic_body(&r, model_lookup(NULL, r.model));
	want = xasprintf("{\"model\":\"claude-haiku-5-5\",\"max_tokens\":100,%s,%s,"
			 "\"tools\":[{\"name\":\"write_files\",\"description\":\"Write the files of the answer: every "
			 "declared output, each with its full content.\",\"input_schema\":%s}],"
			 "\"tool_choice\":{\"type\":\"tool\",\"name\":\"write_files\"}}",
			 sys3, user1, SCHEMA);
	CHECK_STR(b, want);
	free(b);
	free(want);
}

TEST(body_text_effort_feedback)
{
	struct request r = small(FMT_TEXT);
	char *b;
	char *want;

	r.effort = "low";
	r.feedback = "the previous answer failed: x";
	b = anthropic_body(&r, model_lookup(NULL, r.model));
	want = xasprintf("{\"model\":\"claude-sonnet-5-5\",\"max_tokens\":100,%s,\"messages\":[{\"role\":\"user\","
			 "\"content\":[{\"type\":\"text\",\"text\":\"Target: T-001\\n\"},{\"type\":\"text\",\"text\":"
			 "\"the previous answer failed: x\"}]}],\"output_config\":{\"effort\":\"low\"}}",
			 sys3);
	CHECK_STR(b, want);
	CHECK(!strstr(b, "temperature"));
	free(b);
	free(want);
}

/* count cache_control occurrences and where they are */
static int breakpoints(const char *body, int marked[4], int *ttl1h)
{
	json_t *o = json_loads(body, 0, NULL), *sys = json_object_get(o, "system"), *b;
	json_t *content = json_object_get(json_array_get(json_object_get(o, "messages"), 0), "content");
	size_t i;
	int n = 0;

	*ttl1h = 0;
	json_array_foreach(sys, i, b) {
		json_t *cc = json_object_get(b, "cache_control");

		marked[i] = cc != NULL;
		n += cc != NULL;
		if (cc && json_string_value(json_object_get(cc, "ttl")))
			*ttl1h += strcmp(json_string_value(json_object_get(cc, "ttl")), "1h") == 0;
	}
	json_array_foreach(content, i, b)       /* in layer 4: never on the task's own, last block */
		n += json_object_get(b, "cache_control") ? (i + 1 < json_array_size(content) ? 100 : 10000) : 0;
	json_decref(o);
	return n;
}

TEST(breakpoints_rule_layer_then_layer4_then_the_other_layers)
{
	struct request r = small(FMT_JSON_SCHEMA);
	const struct model_info *m = model_lookup(NULL, "claude-sonnet-5-5");   /* 512 tokens */
	char *l0 = xcalloc(1, 1001), *l3 = xcalloc(1, 5001), *b;
	int marked[4] = {0}, ttl1h;
	json_t *o, *content;

	memset(l0, 'a', 1000);
	memset(l3, 'd', 5000);
	r.layer[0] = l0, r.layer_len[0] = 1000;   /* 250 tokens: under the minimum, marked all the same */
	r.layer[3] = l3, r.layer_len[3] = 5000;   /* the task alone: never marked */
	b = anthropic_body(&r, m);
	CHECK(breakpoints(b, marked, &ttl1h) == 3);
	CHECK(marked[0] && marked[1] && marked[2]);
	CHECK(ttl1h == 0);
	free(b);
	r.ttl_1h = 1;
	b = anthropic_body(&r, m);
	CHECK(breakpoints(b, marked, &ttl1h) == 3);
	CHECK(ttl1h == 3);
	CHECK(strstr(b, "\"cache_control\":{\"type\":\"ephemeral\",\"ttl\":\"1h\"}") != NULL);
	free(b);
	/* layer 4: three interfaces (1000, 1000 and 1000 bytes) in blocks of
	 * their own, then the task's part (2000 bytes) with no breakpoint */
	{
		static const size_t ends[] = {1000, 2000, 3000};
		size_t k, want_len[] = {1000, 1000, 1000, 2000};

		r.ttl_1h = 0;
		r.layer4_ends = ends;
		r.layer4_nends = 3;
		r.layer4_marks[0] = 3000;       /* shared with the tasks that build on this one */
		r.layer4_marks[1] = 1000;       /* what the task it builds on wrote */
		r.layer4_nmarks = 2;
		b = anthropic_body(&r, m);
		o = json_loads(b, 0, NULL);
		content = json_object_get(json_array_get(json_object_get(o, "messages"), 0), "content");
		CHECK(json_array_size(content) == 4);
		for (k = 0; k < 4 && k < json_array_size(content); k++)
			CHECK(strlen(json_string_value(json_object_get(json_array_get(content, k), "text"))) == want_len[k]);
		/* four in all: the rule layer's, layer 4's deepest, then layers 2
		 * and 1 keep theirs; the shallower layer-4 prefix is left to the
		 * lookback */
		CHECK(json_object_get(json_array_get(content, 0), "cache_control") == NULL);
		CHECK(json_object_get(json_array_get(content, 1), "cache_control") == NULL);
		CHECK(json_object_get(json_array_get(content, 2), "cache_control") != NULL);
		CHECK(json_object_get(json_array_get(content, 3), "cache_control") == NULL);
		CHECK(breakpoints(b, marked, &ttl1h) == 3 + 100);
		CHECK(marked[0] && marked[1] && marked[2]);
		json_decref(o);
		free(b);
		/* so do three layer-4 prefixes */
		r.layer4_marks[2] = 2000;
		r.layer4_nmarks = 3;
		b = anthropic_body(&r, m);
		CHECK(breakpoints(b, marked, &ttl1h) == 3 + 100);
		CHECK(marked[0] && marked[1] && marked[2]);
		free(b);
		/* with a system layer empty, its breakpoint goes to layer 4's next prefix */
		r.layer[1] = "", r.layer_len[1] = 0;
		b = anthropic_body(&r, m);
		CHECK(breakpoints(b, marked, &ttl1h) == 2 + 200);
		free(b);
		r.layer[1] = "L2\n", r.layer_len[1] = 3;
		/* with none in layer 4, every system layer has one; the blocks
		 * joined are layer 4, byte for byte */
		r.layer4_nmarks = 0;
		l3[999] = 'x', l3[2999] = 'y';
		b = anthropic_body(&r, m);
		CHECK(breakpoints(b, marked, &ttl1h) == 3);
		o = json_loads(b, 0, NULL);
		content = json_object_get(json_array_get(json_object_get(o, "messages"), 0), "content");
		{
			struct buffer all = {0};
			json_t *x;

			json_array_foreach(content, k, x)
				buf_puts(&all, json_string_value(json_object_get(x, "text")));
			CHECK(all.len == 5000 && memcmp(all.data, l3, 5000) == 0);
			buf_free(&all);
		}
		json_decref(o);
		free(b);
	}
	free(l0);
	free(l3);
}

TEST(body_is_deterministic_and_skips_empty_layers)
{
	struct request r = small(FMT_JSON_SCHEMA);
	const struct model_info *m = model_lookup(NULL, r.model);
	char *a = anthropic_body(&r, m), *b = anthropic_body(&r, m);

	CHECK_STR(a, b);
	free(a);
	free(b);
	r.layer[1] = "", r.layer_len[1] = 0;
	a = anthropic_body(&r, m);
	CHECK(strstr(a, "\"text\":\"\"") == NULL);
	CHECK(strstr(a, "L2") == NULL);
	free(a);
}

TEST(body_repairs_invalid_utf8)
{
	struct request r = small(FMT_TEXT);
	char *b;

	r.layer[2] = "caf\xE9\n", r.layer_len[2] = 5;
	b = anthropic_body(&r, model_lookup(NULL, r.model));
	CHECK(strstr(b, "\"text\":\"caf\xEF\xBF\xBD\\n\"") != NULL);
	free(b);
}

/* a response as http.c would deliver it */
static void fake(struct http_response *hr, long status, const char *body, const char *const *hdrs)
{
	size_t i;

	memset(hr, 0, sizeof(*hr));
	hr->status = status;
	if (body)
		buf_puts(&hr->body, body);
	for (i = 0; hdrs && hdrs[i]; i += 2) {
		hr->headers = xreallocarray(hr->headers, hr->nheaders + 1, sizeof(*hr->headers));
		hr->headers[hr->nheaders].name = xstrdup(hdrs[i]);
		hr->headers[hr->nheaders++].value = xstrdup(hdrs[i + 1]);
	}
}

static void decode(long status, const char *body, const char *const *hdrs, struct call_result *res)
{
	struct http_response hr;

	fake(&hr, status, body, hdrs);
	memset(res, 0, sizeof(*res));
	anthropic_decode(&hr, 16000, res);
	http_response_free(&hr);
}

TEST(decode_text_skips_thinking)
{
	struct call_result r;

	decode(200, "{\"type\":\"message\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"{not json\",\"signature\":\"x\"},"
		    "{\"type\":\"redacted_thinking\",\"data\":\"y\"},{\"type\":\"text\",\"text\":\"{\\\"files\\\": [], \\\"summary\\\": null}\"}],"
		    "\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":10,\"cache_creation_input_tokens\":30,"
		    "\"cache_read_input_tokens\":700,\"cache_creation\":{\"ephemeral_5m_input_tokens\":10,"
		    "\"ephemeral_1h_input_tokens\":20},\"output_tokens\":5}}", NULL, &r);
	CHECK(r.status == CALL_OK);
	CHECK_STR(r.answer, "{\"files\":[],\"summary\":null}");
	CHECK_STR(r.stop_reason, "end_turn");
	CHECK(r.usage.input == 10 && r.usage.cache_write_5m == 10 && r.usage.cache_write_1h == 20);
	CHECK(r.usage.cache_read == 700 && r.usage.output == 5);
	CHECK(r.http_status == 200 && r.retry_after < 0);
	call_result_clear(&r);
}

TEST(decode_tool_use_and_usage_without_split)
{
	struct call_result r;

	decode(200, "{\"type\":\"message\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"write_files\","
		    "\"input\":{\"files\":[{\"path\":\"a\",\"content\":\"b\"}],\"summary\":\"s\"}}],\"stop_reason\":\"tool_use\","
		    "\"usage\":{\"input_tokens\":1,\"cache_creation_input_tokens\":42,\"output_tokens\":2}}", NULL, &r);
	CHECK(r.status == CALL_OK);
	CHECK_STR(r.answer, "{\"files\":[{\"path\":\"a\",\"content\":\"b\"}],\"summary\":\"s\"}");
	CHECK(r.usage.cache_write_5m == 42 && r.usage.cache_write_1h == 0);
	call_result_clear(&r);
}

TEST(decode_max_tokens_and_bad_answers)
{
	struct call_result r;

	decode(200, "{\"content\":[{\"type\":\"text\",\"text\":\"{\\\"files\\\": [\"}],\"stop_reason\":\"max_tokens\","
		    "\"usage\":{\"input_tokens\":1,\"output_tokens\":16000}}", NULL, &r);
	CHECK(r.status == CALL_FAIL);
	CHECK_STR(r.error, "answer cut off at max_tokens (16000)");
	CHECK(r.usage.output == 16000);
	call_result_clear(&r);
	decode(200, "{\"content\":[{\"type\":\"text\",\"text\":\"Sure! Here you go:\\n```json\\n{\\\"files\\\":[]}\\n```\"}],"
		    "\"stop_reason\":\"end_turn\"}", NULL, &r);
	CHECK(r.status == CALL_OK);
	CHECK_STR(r.answer, "{\"files\":[]}");
	call_result_clear(&r);
	decode(200, "{\"content\":[{\"type\":\"text\",\"text\":\"no object here\"}],\"stop_reason\":\"end_turn\"}", NULL, &r);
	CHECK(r.status == CALL_FAIL && r.answer == NULL);
	CHECK(r.error && strncmp(r.error, "answer is not valid JSON", 24) == 0);
	call_result_clear(&r);
	decode(200, "{\"content\":[{\"type\":\"text\",\"text\":\"[1,2]\"}],\"stop_reason\":\"end_turn\"}", NULL, &r);
	CHECK(r.status == CALL_FAIL);
	CHECK_STR(r.error, "answer is JSON but not an object");
	call_result_clear(&r);
}

TEST(decode_errors)
{
	static const char *const h529[] = {"retry-after", "3", NULL};
	static const char *const h429[] = {"retry-after", "9", "retry-after-ms", "1500", NULL};
	static const char *const no[] = {"x-should-retry", "false", NULL};
	static const char *const yes[] = {"x-should-retry", "true", NULL};
	struct call_result r;

	decode(529, "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}", h529, &r);
	CHECK(r.status == CALL_RETRY && r.retry_after == 3 && r.http_status == 529);
	CHECK_STR(r.error, "provider answered 529: Overloaded");
	call_result_clear(&r);
	decode(429, "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"slow down\"}}", h429, &r);
	CHECK(r.status == CALL_RETRY && fabs(r.retry_after - 1.5) < 1e-9);
	call_result_clear(&r);
	decode(400, "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"max_tokens: too big\"}}",
	       NULL, &r);
	CHECK(r.status == CALL_FAIL);
	CHECK_STR(r.error, "provider answered 400: max_tokens: too big");
	call_result_clear(&r);
	decode(401, "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\",\"message\":\"invalid x-api-key\"}}",
	       NULL, &r);
	CHECK(r.status == CALL_AUTH);
	CHECK_STR(r.error, "authentication failed (401): invalid x-api-key; check ANTHROPIC_API_KEY");
	call_result_clear(&r);
	decode(500, "{}", no, &r);
	CHECK(r.status == CALL_FAIL);
	call_result_clear(&r);
	decode(400, "{}", yes, &r);
	CHECK(r.status == CALL_RETRY);
	call_result_clear(&r);
	decode(502, "<html>\n<body>Bad   gateway</body>\n</html>", NULL, &r);
	CHECK(r.status == CALL_RETRY);
	CHECK_STR(r.error, "provider answered 502: <html> <body>Bad gateway</body> </html>");
	call_result_clear(&r);
	decode(200, "<html>oops</html>", NULL, &r);
	CHECK(r.status == CALL_RETRY);
	call_result_clear(&r);
	decode(413, "{\"type\":\"error\",\"error\":{\"type\":\"request_too_large\",\"message\":\"too large\"}}", NULL, &r);
	CHECK(r.status == CALL_FAIL);
	call_result_clear(&r);
}

TEST(decode_connection_error)
{
	struct http_response hr;
	struct call_result r = {0};

	fake(&hr, 0, NULL, NULL);
	hr.error = xstrdup("Failed to connect to 127.0.0.1 port 9");
	anthropic_decode(&hr, 100, &r);
	CHECK(r.status == CALL_RETRY);
	CHECK_STR(r.error, "connection failed: Failed to connect to 127.0.0.1 port 9");
	http_response_free(&hr);
	call_result_clear(&r);
}

TEST(backoff_and_retry_after)
{
	int i;

	for (i = 0; i < 50; i++) {
		double d1 = provider_backoff(1, -1), d3 = provider_backoff(3, -1), d9 = provider_backoff(9, -1);

		CHECK(d1 >= 0.75 && d1 <= 1);
		CHECK(d3 >= 3 && d3 <= 4);
		CHECK(d9 >= 45 && d9 <= 60);
	}
	CHECK(provider_backoff(2, 7) == 7);
	CHECK(provider_backoff(2, 0) == 0);
	CHECK(provider_backoff(1, 3600) <= 1);   /* a bogus retry-after is not honoured */
	CHECK(wire_retry_after(NULL, "2") == 2);
	CHECK(wire_retry_after("250", "2") == 0.25);
	CHECK(wire_retry_after(NULL, "soon") == -1);
	CHECK(wire_retry_after(NULL, NULL) == -1);
	CHECK(wire_http_class(529, NULL) == CALL_RETRY);
	CHECK(wire_http_class(404, NULL) == CALL_FAIL);
	CHECK(wire_http_class(403, "true") == CALL_AUTH);
	CHECK(wire_http_class(408, NULL) == CALL_RETRY);
}

TEST(pacer_times)
{
	CHECK(pacer_time("1970-01-01T00:00:10Z") == 10);
	CHECK(pacer_time("1970-01-01T01:00:00+01:00") == 0);
	CHECK(fabs(pacer_time("2026-11-24T16:30:05.5Z") - 1795537805.5) < 1e-6);
	CHECK(pacer_time("tomorrow") == -1);
}

TEST(cost_with_band)
{
	const struct model_info *h = model_lookup(NULL, "claude-haiku-5-5");
	const struct model_info *o = model_lookup(NULL, "claude-opus-5-5");
	struct usage small_u = {50000, 0, 0, 0, 50000};
	struct usage big = {90000, 0, 0, 20000, 1000};
	struct usage mixed = {1000000, 1000000, 1000000, 1000000, 1000000};

	CHECK(fabs(model_cost(h, &small_u) - 0.03) < 1e-12);
	/* 110K prompt tokens: every token at the band price */
	CHECK(fabs(model_cost(h, &big) - (90000 * 0.50 + 20000 * 0.05 + 1000 * 2.50) / 1e6) < 1e-12);
	CHECK(fabs(model_cost(o, &mixed) - (4 + 5 + 8 + 0.20 + 20)) < 1e-9);
	CHECK(model_cost(model_lookup(NULL, "no-such-model"), &mixed) == 0);
}

TEST(open_needs_a_key)
{
	struct settings s = {0};
	char *old = getenv("ANTHROPIC_API_KEY") ? xstrdup(getenv("ANTHROPIC_API_KEY")) : NULL;
	struct provider *pv;
	int code = 0;

	s.provider = "anthropic";
	unsetenv("ANTHROPIC_API_KEY");
	pv = anthropic_open(&s, &code);
	CHECK(pv == NULL && code == EXIT_PROVIDER);
	setenv("ANTHROPIC_API_KEY", "sk-unit", 1);
	pv = provider_open(&s, NULL, NULL, &code);
	CHECK(pv != NULL && code == 0);
	CHECK_STR(pv ? pv->family : NULL, "anthropic");
	if (pv)
		pv->close(pv);
	if (old)
		setenv("ANTHROPIC_API_KEY", old, 1);
	else
		unsetenv("ANTHROPIC_API_KEY");
	free(old);
}

/* ---- live: tests/fake_server.py on 127.0.0.1 ---- */

static pid_t server_pid;
static char server_url[64];
static char dir[] = "/tmp/mpbuild-unit-XXXXXX";
static char *log_path;

static void server_stop(void)
{
	char *f;

	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
		server_pid = 0;
	}
	/* the temporary directory: port file and log */
	f = xasprintf("%s/port", dir);
	unlink(f);
	free(f);
	if (log_path) {
		unlink(log_path);
		free(log_path);
		log_path = NULL;
	}
	rmdir(dir);
}

/* start the fake server once; 0 when it cannot be started (tests are skipped) */
static int live(void)
{
	static int tried, ok;
	const char *script = getenv("FAKE_SERVER") ? getenv("FAKE_SERVER") : "tests/fake_server.py";
	char *port_file;
	int i;

	if (tried)
		return ok;
	tried = 1;
	if (access(script, R_OK) != 0 || !mkdtemp(dir)) {
		printf("# skip: %s not found (run from the top of the tree or set FAKE_SERVER)\n", script);
		return 0;
	}
	port_file = xasprintf("%s/port", dir);
	log_path = xasprintf("%s/log.jsonl", dir);
	server_pid = fork();
	if (server_pid == 0) {
		if (!freopen("/dev/null", "w", stdout))
			_exit(127);
		execlp("python3", "python3", script, "--port", "0", "--port-file", port_file, "--log", log_path,
		       "--api-key", "sk-live", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 100 && server_pid > 0; i++) {
		struct buffer b = {0};
		struct timespec ts = {0, 50000000};

		if (read_file(port_file, &b, 64) == 0 && b.len && b.data[b.len - 1] == '\n') {
			snprintf(server_url, sizeof(server_url), "http://127.0.0.1:%d", atoi(b.data));
			buf_free(&b);
			ok = 1;
			break;
		}
		buf_free(&b);
		nanosleep(&ts, NULL);
	}
	free(port_file);
	if (!ok) {
		printf("# skip: the fake server did not start\n");
		server_stop();
		return 0;
	}
	atexit(server_stop);
	return ok;
}

static void control(const char *json)
{
	struct http_response hr = {0};
	char *url = xasprintf("%s/_control", server_url);

	http_post(url, NULL, json, strlen(json), 10, &hr);
	CHECK(hr.status == 200);
	http_response_free(&hr);
	free(url);
}

/* the last request the server logged, as an owned JSON object */
static json_t *last_logged(void)
{
	struct buffer b = {0};
	json_t *o = NULL;
	char *end, *start;

	if (read_file(log_path, &b, 64u << 20) < 0 || !b.len) {
		buf_free(&b);
		return NULL;
	}
	end = b.data + b.len - 1;
	*end = '\0';
	start = strrchr(b.data, '\n');
	o = json_loads(start ? start + 1 : b.data, 0, NULL);
	buf_free(&b);
	return o;
}

static struct provider *live_open(const char *key, struct settings *s)
{
	int code;
	struct provider *pv;

	memset(s, 0, sizeof(*s));
	s->provider = "anthropic";
	s->base_url = server_url;
	s->answer_format = "auto";
	setenv("ANTHROPIC_API_KEY", key, 1);
	pv = anthropic_open(s, &code);
	CHECK(pv != NULL);
	return pv;
}

struct tries {
	int n;
	enum call_status status[8];
	int stop_after;         /* > 0: ask for no more tries after this one */
};

static int on_try(void *arg, const struct call_result *r, int try_no)
{
	struct tries *t = arg;

	if (try_no <= 8)
		t->status[try_no - 1] = r->status;
	t->n = try_no;
	return t->stop_after > 0 && try_no >= t->stop_after;
}

/* a request whose layers are long enough to be cached on Sonnet 5.5 */
static struct request big(char *buf)
{
	struct request r = small(FMT_JSON_SCHEMA);

	memset(buf, 'x', 3000);
	buf[3000] = '\0';
	r.layer[0] = buf, r.layer_len[0] = 3000;
	return r;
}

TEST(live_answer_cache_and_exact_bytes)
{
	struct settings s;
	struct provider *pv;
	struct call_result r = {0};
	struct request rq;
	char buf[3001];
	char *want;
	json_t *log;

	if (!live())
		return;
	pv = live_open("sk-live", &s);
	rq = big(buf);
	control("{\"reset\":true,\"answers\":{\"T-001\":{\"files\":[{\"path\":\"a.py\",\"content\":\"x\"}],\"summary\":null}},"
		"\"thinking\":true}");
	pv->call(pv, &rq, &r);
	CHECK(r.status == CALL_OK);
	CHECK_STR(r.answer, "{\"files\":[{\"path\":\"a.py\",\"content\":\"x\"}],\"summary\":null}");
	CHECK(r.usage.cache_write_5m > 0 && r.usage.cache_read == 0);
	log = last_logged();
	want = anthropic_body(&rq, model_lookup(NULL, rq.model));
	CHECK_STR(json_string_value(json_object_get(log, "body")), want);
	CHECK_STR(json_string_value(json_object_get(json_object_get(log, "headers"), "anthropic-version")), "2023-06-01");
	{
		char *all = json_dumps(log, 0);

		CHECK(all && strstr(all, "sk-live") == NULL);
		free(all);
	}
	json_decref(log);
	free(want);
	call_result_clear(&r);
	/* the same layers again: the prefix is read, not written */
	pv->call(pv, &rq, &r);
	CHECK(r.status == CALL_OK);
	CHECK(r.usage.cache_read > 0 && r.usage.cache_write_5m == 0);
	call_result_clear(&r);
	/* six minutes later the 5-minute entry has expired */
	control("{\"advance\":360}");
	pv->call(pv, &rq, &r);
	CHECK(r.usage.cache_read == 0 && r.usage.cache_write_5m > 0);
	call_result_clear(&r);
	pv->close(pv);
}

TEST(live_retries_faults)
{
	struct settings s;
	struct provider *pv;
	struct call_result r = {0};
	struct request rq = small(FMT_JSON_SCHEMA);
	struct tries t = {0};

	if (!live())
		return;
	setenv("MPBUILD_BACKOFF_SCALE", "0.01", 1);
	setenv("MPBUILD_STALL_TIMEOUT", "1", 1);
	pv = live_open("sk-live", &s);
	unsetenv("MPBUILD_STALL_TIMEOUT");
	control("{\"reset\":true,\"faults\":[{\"request\":1,\"status\":529,\"retry_after\":1},{\"request\":2,\"drop\":true},"
		"{\"request\":3,\"cut\":true},{\"request\":4,\"garbage\":true}]}");
	provider_call_retrying(pv, &rq, &r, on_try, &t);
	CHECK(r.status == CALL_OK);
	CHECK(t.n == 5);
	CHECK(t.status[0] == CALL_RETRY && t.status[3] == CALL_RETRY && t.status[4] == CALL_OK);
	call_result_clear(&r);
	/* five failures in a row: give up */
	memset(&t, 0, sizeof(t));
	control("{\"reset\":true,\"faults\":[{\"status\":503,\"times\":5}]}");
	provider_call_retrying(pv, &rq, &r, on_try, &t);
	CHECK(r.status == CALL_RETRY && t.n == 5);
	CHECK(r.error && strstr(r.error, "(gave up after 5 tries)"));
	call_result_clear(&r);
	/* on_try says stop (a budget): the retryable failure is the last try */
	memset(&t, 0, sizeof(t));
	t.stop_after = 2;
	control("{\"reset\":true,\"faults\":[{\"status\":503,\"times\":5}]}");
	provider_call_retrying(pv, &rq, &r, on_try, &t);
	CHECK(r.status == CALL_RETRY && t.n == 2);
	CHECK(r.error && strstr(r.error, "(not retried)"));
	call_result_clear(&r);
	/* no byte for longer than the stall timeout (1 s here) */
	control("{\"reset\":true,\"faults\":[{\"request\":1,\"delay\":4}]}");
	pv->call(pv, &rq, &r);
	CHECK(r.status == CALL_RETRY);
	CHECK_STR(r.error, "connection failed: no answer within 1 s (stalled)");
	CHECK(r.latency < 3);
	call_result_clear(&r);
	/* headers and half the body, then nothing */
	control("{\"reset\":true,\"faults\":[{\"request\":1,\"stall\":4}]}");
	pv->call(pv, &rq, &r);
	CHECK(r.status == CALL_RETRY);
	CHECK_STR(r.error, "connection failed: answer stalled: no byte for 1 s");
	CHECK(r.latency < 3);
	call_result_clear(&r);
	/* x-should-retry: false on a 500 is final */
	memset(&t, 0, sizeof(t));
	control("{\"reset\":true,\"faults\":[{\"request\":1,\"status\":500,\"should_retry\":false}]}");
	provider_call_retrying(pv, &rq, &r, on_try, &t);
	CHECK(r.status == CALL_FAIL && t.n == 1);
	call_result_clear(&r);
	/* max_tokens */
	control("{\"reset\":true,\"faults\":[{\"request\":1,\"stop_reason\":\"max_tokens\"}]}");
	pv->call(pv, &rq, &r);
	CHECK(r.status == CALL_FAIL);
	CHECK_STR(r.error, "answer cut off at max_tokens (100)");
	call_result_clear(&r);
	pv->close(pv);
	unsetenv("MPBUILD_BACKOFF_SCALE");
}

TEST(live_rejections)
{
	struct settings s;
	struct provider *pv;
	struct call_result r = {0};
	struct request rq = small(FMT_TOOL);

	if (!live())
		return;
	control("{\"reset\":true}");
	pv = live_open("sk-live", &s);
	/* Sonnet 5.5 rejects forced tool use */
	pv->call(pv, &rq, &r);
	CHECK(r.status == CALL_FAIL && r.http_status == 400);
	CHECK(r.error && strncmp(r.error, "provider answered 400: tool_choice:", 35) == 0);
	call_result_clear(&r);
	/* an open schema */
	rq = small(FMT_JSON_SCHEMA);
	rq.schema = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},\"required\":[\"a\"]}";
	pv->call(pv, &rq, &r);
	CHECK(r.status == CALL_FAIL);
	CHECK(r.error && strstr(r.error, "additionalProperties"));
	call_result_clear(&r);
	pv->close(pv);
	/* a wrong key */
	pv = live_open("sk-wrong", &s);
	rq = small(FMT_JSON_SCHEMA);
	pv->call(pv, &rq, &r);
	CHECK(r.status == CALL_AUTH);
	CHECK_STR(r.error, "authentication failed (401): invalid x-api-key; check ANTHROPIC_API_KEY");
	CHECK(!strstr(r.error, "sk-wrong"));
	call_result_clear(&r);
	pv->close(pv);
}

TEST(live_pacing)
{
	struct settings s;
	struct provider *pv;
	struct call_result r = {0};
	struct request rq = small(FMT_JSON_SCHEMA);
	double t0;

	if (!live())
		return;
	/* the first answer says no requests remain for 2 s: the second call waits for the reset */
	control("{\"reset\":true,\"faults\":[{\"request\":1,\"headers\":{\"anthropic-ratelimit-requests-remaining\":\"0\","
		"\"anthropic-ratelimit-requests-reset\":\"+2\"}}]}");
	pv = live_open("sk-live", &s);
	pv->call(pv, &rq, &r);
	CHECK(r.status == CALL_OK);
	call_result_clear(&r);
	t0 = now();
	pv->call(pv, &rq, &r);
	CHECK(r.status == CALL_OK);
	CHECK(now() - t0 >= 0.9);
	call_result_clear(&r);
	pv->close(pv);
}

/* what a progress callback saw */
struct seen {
	int calls;
	size_t bytes, answer_bytes;
	long output_tokens, events;
};

static void on_progress(void *arg, const struct call_progress *cp)
{
	struct seen *s = arg;

	CHECK(cp->bytes >= s->bytes && cp->events > s->events);   /* counts only grow within a try */
	s->calls++;
	s->bytes = cp->bytes;
	s->answer_bytes = cp->answer_bytes;
	s->output_tokens = cp->output_tokens;
	s->events = cp->events;
}

TEST(live_stream_same_answer_and_progress)
{
	struct settings s;
	struct provider *pv;
	struct call_result plain = {0}, r = {0};
	struct request rq = small(FMT_JSON_SCHEMA);
	struct seen seen = {0};
	int code;

	if (!live())
		return;
	pv = live_open("sk-live", &s);
	control("{\"reset\":true}");
	pv->call(pv, &rq, &plain);
	CHECK(plain.status == CALL_OK);
	pv->close(pv);
	/* streamed, split every 3 bytes, from the same cold cache */
	s.stream = 1;
	pv = anthropic_open(&s, &code);
	control("{\"reset\":true,\"chunk\":3}");
	rq.progress = on_progress;
	rq.progress_arg = &seen;
	pv->call(pv, &rq, &r);
	control("{\"chunk\":0}");
	CHECK(r.status == CALL_OK);
	CHECK_STR(r.answer, plain.answer);
	CHECK(memcmp(&r.usage, &plain.usage, sizeof(r.usage)) == 0);
	CHECK_STR(r.stop_reason, plain.stop_reason);
	CHECK(seen.calls >= 6 && seen.events == seen.calls);
	CHECK(seen.answer_bytes > 0 && seen.output_tokens == plain.usage.output);
	CHECK(seen.bytes > seen.answer_bytes);
	call_result_clear(&plain);
	call_result_clear(&r);
	pv->close(pv);
}
