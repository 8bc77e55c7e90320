/* test_openai.c: the Chat Completions wire format, the decoding of answers
 * and errors, the key rules for local servers, and live calls against
 * tests/fake_server.py (skipped when it cannot be started). */
#include "unit.h"

#include <jansson.h>
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
	r.model = "gpt-5";
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

static const char msgs[] = "\"messages\":[{\"role\":\"system\",\"content\":\"L1\\nL2\\nL3\\n\"},"
			   "{\"role\":\"user\",\"content\":\"Target: T-001\\n\"}]";

TEST(body_json_schema)
{
	struct request r = small(FMT_JSON_SCHEMA);
	char *b = openai_body(&r, model_lookup(NULL, r.model), 1);
	char *want = xasprintf("{\"model\":\"gpt-5\",%s,\"max_completion_tokens\":100,\"response_format\":"
			       "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"write_files\",\"strict\":true,"
			       "\"schema\":%s}}}", msgs, SCHEMA);

	CHECK_STR(b, want);
	free(b);
	free(want);
}

TEST(body_tool_local_effort_feedback)
{
	struct request r = small(FMT_TOOL);
	char *b, *want;

	r.effort = "max";
	r.feedback = "fix: x";
	b = openai_body(&r, model_lookup(NULL, r.model), 0);
	want = xasprintf("{\"model\":\"gpt-5\",\"messages\":[{\"role\":\"system\",\"content\":\"L1\\nL2\\nL3\\n\"},"
			 "{\"role\":\"user\",\"content\":\"Target: T-001\\n\\n\\nfix: x\"}],\"max_completion_tokens\":100,"
			 "\"max_tokens\":100,\"reasoning_effort\":\"xhigh\",\"tools\":[{\"type\":\"function\",\"function\":"
			 "{\"name\":\"write_files\",\"description\":\"Write the files of the answer: every declared output, "
			 "each with its full content.\",\"parameters\":%s,\"strict\":true}}],\"tool_choice\":{\"type\":"
			 "\"function\",\"function\":{\"name\":\"write_files\"}}}", SCHEMA);
	CHECK_STR(b, want);
	free(b);
	free(want);
}

TEST(body_text)
{
	struct request r = small(FMT_TEXT);
	char *b = openai_body(&r, model_lookup(NULL, r.model), 1);
	char *want = xasprintf("{\"model\":\"gpt-5\",%s,\"max_completion_tokens\":100}", msgs);

	CHECK_STR(b, want);
	free(b);
	free(want);
}

static void decode(long status, const char *body, struct call_result *res)
{
	struct http_response hr = {0};

	hr.status = status;
	buf_puts(&hr.body, body);
	memset(res, 0, sizeof(*res));
	openai_decode(&hr, 100, res);
	http_response_free(&hr);
}

TEST(decode_answers)
{
	struct call_result r;

	decode(200, "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"reasoning_content\":\"{hmm\","
		    "\"content\":\"{\\\"files\\\": []}\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":2000,"
		    "\"completion_tokens\":7,\"prompt_tokens_details\":{\"cached_tokens\":1536}}}", &r);
	CHECK(r.status == CALL_OK);
	CHECK_STR(r.answer, "{\"files\":[]}");
	CHECK(r.usage.input == 464 && r.usage.cache_read == 1536 && r.usage.output == 7);
	call_result_clear(&r);
	decode(200, "{\"choices\":[{\"message\":{\"content\":null,\"tool_calls\":[{\"type\":\"function\",\"function\":"
		    "{\"name\":\"write_files\",\"arguments\":\"{\\\"files\\\":[],\\\"summary\\\":\\\"s\\\"}\"}}]},"
		    "\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3}}", &r);
	CHECK(r.status == CALL_OK);
	CHECK_STR(r.answer, "{\"files\":[],\"summary\":\"s\"}");
	CHECK(r.usage.input == 5 && r.usage.cache_read == 0);
	call_result_clear(&r);
	decode(200, "{\"choices\":[{\"message\":{\"content\":\"{\\\"fi\"},\"finish_reason\":\"length\"}]}", &r);
	CHECK(r.status == CALL_FAIL);
	CHECK_STR(r.error, "answer cut off at max_tokens (100)");
	call_result_clear(&r);
	decode(200, "{\"choices\":[{\"message\":{\"content\":null,\"refusal\":\"I can't\"},\"finish_reason\":\"stop\"}]}", &r);
	CHECK(r.status == CALL_FAIL);
	CHECK_STR(r.error, "the model refused to answer: I can't");
	call_result_clear(&r);
}

TEST(decode_errors)
{
	struct call_result r;

	decode(401, "{\"error\":{\"message\":\"Incorrect API key provided.\",\"type\":\"invalid_request_error\"}}", &r);
	CHECK(r.status == CALL_AUTH);
	CHECK_STR(r.error, "authentication failed (401): Incorrect API key provided.; check OPENAI_API_KEY");
	call_result_clear(&r);
	decode(400, "{\"error\":{\"message\":\"Invalid schema\",\"type\":\"invalid_request_error\"}}", &r);
	CHECK(r.status == CALL_FAIL);
	CHECK_STR(r.error, "provider answered 400: Invalid schema");
	call_result_clear(&r);
	decode(503, "{\"error\":\"Loading model\"}", &r);
	CHECK(r.status == CALL_RETRY);
	CHECK_STR(r.error, "provider answered 503: Loading model");
	call_result_clear(&r);
	decode(404, "{\"detail\":\"Not Found\"}", &r);
	CHECK(r.status == CALL_FAIL);
	CHECK_STR(r.error, "provider answered 404: Not Found");
	call_result_clear(&r);
	decode(200, "not json", &r);
	CHECK(r.status == CALL_RETRY);
	call_result_clear(&r);
}

TEST(key_rules)
{
	struct settings s = {0};
	char *old = getenv("OPENAI_API_KEY") ? xstrdup(getenv("OPENAI_API_KEY")) : NULL;
	struct provider *pv;
	int code;

	s.provider = "openai";
	unsetenv("OPENAI_API_KEY");
	unsetenv("OPENAI_BASE_URL");
	pv = openai_open(&s, &code);
	CHECK(pv == NULL && code == EXIT_PROVIDER);
	s.base_url = "http://127.0.0.1:8080/v1";
	pv = openai_open(&s, &code);
	CHECK(pv != NULL && code == 0);
	if (pv)
		pv->close(pv);
	s.base_url = "http://localhost:11434/v1/";
	pv = provider_open(&s, "openai", NULL, &code);
	CHECK(pv != NULL);
	if (pv)
		pv->close(pv);
	s.base_url = "http://10.0.0.5:8000/v1";
	CHECK(openai_open(&s, &code) == NULL);
	CHECK(http_is_local("http://[::1]:8000/v1") && !http_is_local("https://localhost/v1"));
	CHECK(!http_is_local("http://localhost.example.com/v1"));
	if (old)
		setenv("OPENAI_API_KEY", old, 1);
	free(old);
}

/* ---- live ---- */

static pid_t server_pid;
static char server_url[64];
static char dir[] = "/tmp/mpbuild-unit-XXXXXX";

static void server_stop(void)
{
	char *f;

	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
		server_pid = 0;
	}
	/* the temporary directory: port file */
	f = xasprintf("%s/port", dir);
	unlink(f);
	free(f);
	rmdir(dir);
}

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
	server_pid = fork();
	if (server_pid == 0) {
		if (!freopen("/dev/null", "w", stdout))
			_exit(127);
		execlp("python3", "python3", script, "--port", "0", "--port-file", port_file, "--openai-keyless",
		       (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 100; i++) {
		struct buffer b = {0};
		struct timespec ts = {0, 50000000};

		if (read_file(port_file, &b, 64) == 0 && b.len && b.data[b.len - 1] == '\n') {
			snprintf(server_url, sizeof(server_url), "http://127.0.0.1:%d/v1", atoi(b.data));
			ok = 1;
		}
		buf_free(&b);
		if (ok)
			break;
		nanosleep(&ts, NULL);
	}
	free(port_file);
	if (!ok) {
		printf("# skip: the fake server did not start\n");
		server_stop();
		return 0;
	}
	atexit(server_stop);
	return 1;
}

TEST(live_keyless_local_server)
{
	struct settings s = {0};
	struct provider *pv;
	struct call_result r = {0};
	struct request rq = small(FMT_JSON_SCHEMA);
	char *big = xcalloc(1, 8001);
	int code;

	if (!live()) {
		free(big);
		return;
	}
	unsetenv("OPENAI_API_KEY");
	s.provider = "openai";
	s.base_url = server_url;
	pv = openai_open(&s, &code);
	CHECK(pv != NULL);
	if (!pv) {
		free(big);
		return;
	}
	memset(big, 'y', 8000);
	rq.layer[0] = big, rq.layer_len[0] = 8000;
	pv->call(pv, &rq, &r);
	CHECK(r.status == CALL_OK);
	CHECK(r.answer && strncmp(r.answer, "{\"files\":", 9) == 0);
	CHECK(r.usage.cache_read == 0 && r.usage.input > 2000);
	call_result_clear(&r);
	pv->call(pv, &rq, &r);
	CHECK(r.status == CALL_OK);
	CHECK(r.usage.cache_read >= 1024);
	call_result_clear(&r);
	rq.format = FMT_TOOL;
	pv->call(pv, &rq, &r);
	CHECK(r.status == CALL_OK && r.stop_reason && strcmp(r.stop_reason, "tool_calls") == 0);
	call_result_clear(&r);
	rq.schema = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}}";
	pv->call(pv, &rq, &r);
	CHECK(r.status == CALL_FAIL && r.http_status == 400);
	CHECK(r.error && strstr(r.error, "Invalid schema for function 'write_files'"));
	call_result_clear(&r);
	pv->close(pv);
	free(big);
}
