/* openai.c: OpenAI Chat Completions (POST {base}/chat/completions), which
 * llama.cpp's server, vLLM and Ollama also speak.  Layers 1-3 are joined into
 * one system message (several system messages break the chat templates of
 * many local models, and OpenAI's automatic prefix caching needs no
 * boundaries); layer 4 and a retry's feedback are the user message.  A local
 * server on 127.0.0.1 or localhost needs no key. */
#include "openai.h"
#include "http.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct openai {
	const struct settings *s;
	char *auth_header;      /* "Authorization: Bearer ..." or NULL for a keyless local server */
	int official;           /* api.openai.com: no max_tokens beside max_completion_tokens */
	struct wire w;          /* {base}/chat/completions */
};

/* the body; stream: ask for a stream with the usage in its last chunk */
static char *render(const struct request *req, int official, int stream)
{
	json_t *o = json_object(), *msgs = json_array(), *sysm, *user = json_object(), *schema = NULL;
	const char *tool = req->tool_name ? req->tool_name : "write_files";
	struct buffer sys = {0}, u = {0};
	char *s;
	int i;

	if (req->format != FMT_TEXT) {
		schema = req->schema ? json_loads(req->schema, 0, NULL) : json_object();
		if (!schema)
			fatal("the answer schema is not valid JSON");
	}
	for (i = 0; i < 3; i++)
		if (req->layer[i])
			buf_add(&sys, req->layer[i], req->layer_len[i]);
	json_object_set_new(o, "model", json_string(req->model));
	if (sys.len) {
		sysm = json_object();
		json_object_set_new(sysm, "role", json_string("system"));
		json_object_set_new(sysm, "content", wire_json_string(sys.data, sys.len));
		json_array_append_new(msgs, sysm);
	}
	if (req->layer[3])
		buf_add(&u, req->layer[3], req->layer_len[3]);
	if (req->feedback && *req->feedback) {
		buf_puts(&u, "\n\n");
		buf_puts(&u, req->feedback);
	}
	json_object_set_new(user, "role", json_string("user"));
	json_object_set_new(user, "content", wire_json_string(u.data ? u.data : "", u.len));
	json_array_append_new(msgs, user);
	json_object_set_new(o, "messages", msgs);
	json_object_set_new(o, "max_completion_tokens", json_integer(req->max_tokens));
	if (!official)
		json_object_set_new(o, "max_tokens", json_integer(req->max_tokens));
	if (req->effort && *req->effort)
		json_object_set_new(o, "reasoning_effort",
				    json_string(strcmp(req->effort, "max") == 0 ? "xhigh" : req->effort));
	if (req->format == FMT_JSON_SCHEMA) {
		json_t *rf = json_object(), *js = json_object();

		json_object_set_new(js, "name", json_string(tool));
		json_object_set_new(js, "strict", json_true());
		json_object_set_new(js, "schema", schema);
		json_object_set_new(rf, "type", json_string("json_schema"));
		json_object_set_new(rf, "json_schema", js);
		json_object_set_new(o, "response_format", rf);
	} else if (req->format == FMT_TOOL) {
		json_t *tools = json_array(), *t = json_object(), *fn = json_object();
		json_t *tc = json_object(), *tcf = json_object();

		json_object_set_new(fn, "name", json_string(tool));
		json_object_set_new(fn, "description", json_string(wire_tool_description));
		json_object_set_new(fn, "parameters", schema);
		json_object_set_new(fn, "strict", json_true());
		json_object_set_new(t, "type", json_string("function"));
		json_object_set_new(t, "function", fn);
		json_array_append_new(tools, t);
		json_object_set_new(o, "tools", tools);
		json_object_set_new(tcf, "name", json_string(tool));
		json_object_set_new(tc, "type", json_string("function"));
		json_object_set_new(tc, "function", tcf);
		json_object_set_new(o, "tool_choice", tc);
	}
	/* last, so the streamed body is the plain one plus these fields */
	if (stream) {
		json_t *so = json_object();

		json_object_set_new(o, "stream", json_true());
		json_object_set_new(so, "include_usage", json_true());
		json_object_set_new(o, "stream_options", so);
	}
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	buf_free(&sys);
	buf_free(&u);
	if (!s)
		fatal("jansson: out of memory");
	return s;
}

char *openai_body(const struct request *req, const struct model_info *m, int official)
{
	(void)m;
	return render(req, official, 0);
}

static long field(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	return json_is_integer(v) ? (long)json_integer_value(v) : 0;
}

/* the answer in chat completion o (body: its bytes, for messages) into *res */
static void decode_chat(json_t *o, const char *body, size_t len, long status, int max_tokens, struct call_result *res)
{
	json_t *choice, *msg, *u, *calls, *refusal;
	const char *fr, *content, *args = NULL;
	char *why = NULL;
	long cached;

	choice = json_array_get(json_object_get(o, "choices"), 0);
	msg = json_object_get(choice, "message");
	if (!json_is_object(msg)) {
		char *m = wire_excerpt(body, len);

		res->status = CALL_RETRY;
		res->error = xasprintf("provider answer is not a chat completion (HTTP %ld): %s", status, m);
		free(m);
		return;
	}
	u = json_object_get(o, "usage");
	cached = field(json_object_get(u, "prompt_tokens_details"), "cached_tokens");
	res->usage.input = field(u, "prompt_tokens") - cached;
	res->usage.cache_read = cached;
	res->usage.output = field(u, "completion_tokens");
	fr = json_string_value(json_object_get(choice, "finish_reason"));
	if (fr)
		res->stop_reason = xstrdup(fr);
	if (fr && strcmp(fr, "length") == 0) {
		res->status = CALL_FAIL;
		res->error = xasprintf("answer cut off at max_tokens (%d)", max_tokens);
		return;
	}
	refusal = json_object_get(msg, "refusal");
	if (json_is_string(refusal) && json_string_length(refusal)) {
		char *m = wire_excerpt(json_string_value(refusal), json_string_length(refusal));

		res->status = CALL_FAIL;
		res->error = xasprintf("the model refused to answer: %s", m);
		free(m);
		return;
	}
	if (fr && strcmp(fr, "content_filter") == 0) {
		res->status = CALL_FAIL;
		res->error = xstrdup("the answer was withheld by the content filter (finish_reason content_filter)");
		return;
	}
	/* reasoning_content (llama.cpp, vLLM, DeepSeek) is thinking, never the answer */
	calls = json_object_get(msg, "tool_calls");
	if (json_array_size(calls))
		args = json_string_value(json_object_get(json_object_get(json_array_get(calls, 0), "function"),
							 "arguments"));
	content = json_string_value(json_object_get(msg, "content"));
	if (args)
		res->answer = wire_answer_json(args, strlen(args), 0, &why);
	else if (content && *content)
		res->answer = wire_answer_json(content, json_string_length(json_object_get(msg, "content")), 1, &why);
	else
		why = xasprintf("answer holds no content and no tool call (finish_reason %s)", fr ? fr : "none");
	if (!res->answer) {
		res->status = CALL_FAIL;
		res->error = why;
		res->bad_answer = args || (content && *content);
	}
}

void openai_decode(const struct http_response *hr, int max_tokens, struct call_result *res)
{
	wire_decode(hr, "OPENAI_API_KEY", max_tokens, res, decode_chat);
}

/* a streamed answer as it builds up: chat.completion.chunk objects whose
 * choices[0].delta carry content, refusal or tool_calls[0].function.arguments
 * pieces, the finish_reason at the end, then (stream_options.include_usage) a
 * chunk with usage and no choices, then data: [DONE].  A chunk holding an
 * error object is an error mid-stream */
struct stream {
	struct wire_stream ws;
	struct buffer content, refusal, args;
	int has_content, has_refusal, has_tool;
	json_t *finish;         /* finish_reason */
	json_t *usage;
};

/* append the string s (if it is one) to b; 1 when it was */
static int piece(struct stream *st, struct buffer *b, json_t *s)
{
	if (!json_is_string(s))
		return 0;
	buf_add(b, json_string_value(s), json_string_length(s));
	st->ws.progress.answer_bytes += json_string_length(s);
	return 1;
}

static int on_event(void *arg, const char *name, const char *data, size_t len)
{
	struct stream *st = arg;
	json_t *o, *choice, *d, *e, *tc, *u;

	(void)name;
	if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		st->ws.done = 1;
		return 0;
	}
	o = json_loadb(data, len, 0, NULL);
	if ((e = json_object_get(o, "error")) != NULL)
		wire_stream_error(&st->ws, e, data, len);
	choice = json_array_get(json_object_get(o, "choices"), 0);
	d = json_object_get(choice, "delta");
	st->has_content |= piece(st, &st->content, json_object_get(d, "content"));
	st->has_refusal |= piece(st, &st->refusal, json_object_get(d, "refusal"));
	tc = json_array_get(json_object_get(d, "tool_calls"), 0);
	if (tc && json_integer_value(json_object_get(tc, "index")) == 0)
		st->has_tool |= piece(st, &st->args, json_object_get(json_object_get(tc, "function"), "arguments"));
	if (json_is_string(json_object_get(choice, "finish_reason"))) {
		json_decref(st->finish);
		st->finish = json_incref(json_object_get(choice, "finish_reason"));
	}
	if (json_is_object(u = json_object_get(o, "usage"))) {
		json_decref(st->usage);
		st->usage = json_incref(u);
		st->ws.progress.output_tokens = field(u, "completion_tokens");
	}
	json_decref(o);
	return 0;
}

/* a streamed exchange into *res, once it is complete: the pieces become the
 * chat completion a plain request would have had, judged the same way */
static void decode_stream(struct stream *st, const struct http_response *hr, int max_tokens, struct call_result *res)
{
	json_t *o, *choice, *msg;

	if (!wire_stream_end(&st->ws, hr, "OPENAI_API_KEY", "[DONE]", res))
		return;
	o = json_object();
	choice = json_object();
	msg = json_object();
	json_object_set_new(msg, "content",
			    st->has_content ? wire_json_string(st->content.data, st->content.len) : json_null());
	if (st->has_refusal)
		json_object_set_new(msg, "refusal", wire_json_string(st->refusal.data, st->refusal.len));
	if (st->has_tool) {
		json_t *calls = json_array(), *c = json_object(), *fn = json_object();

		json_object_set_new(fn, "arguments", wire_json_string(st->args.data, st->args.len));
		json_object_set_new(c, "function", fn);
		json_array_append_new(calls, c);
		json_object_set_new(msg, "tool_calls", calls);
	}
	json_object_set_new(choice, "message", msg);
	json_object_set(choice, "finish_reason", st->finish ? st->finish : json_null());
	json_object_set_new(o, "choices", json_array());
	json_array_append_new(json_object_get(o, "choices"), choice);
	if (st->usage)
		json_object_set(o, "usage", st->usage);
	decode_chat(o, "(a stream)", 10, hr->status, max_tokens, res);
	json_decref(o);
}

/* "1s", "6m0s", "20ms", "1h2m3.5s" as seconds; -1 when it does not parse */
static double duration(const char *s)
{
	double total = 0;
	char *end;

	if (!s || !*s)
		return -1;
	while (*s) {
		double v = strtod(s, &end);

		if (end == s)
			return -1;
		s = end;
		if (strncmp(s, "ms", 2) == 0)
			total += v / 1000, s += 2;
		else if (*s == 'h')
			total += v * 3600, s++;
		else if (*s == 'm')
			total += v * 60, s++;
		else if (*s == 's')
			total += v, s++;
		else
			return -1;
	}
	return total;
}

/* OpenAI's x-ratelimit-* headers: requests and tokens (input and output together) */
static void note_limits(struct openai *a, const struct http_response *hr)
{
	static const char *const kinds[] = {"requests", "tokens"};
	int k;

	for (k = 0; k < 2; k++) {
		char name[64];
		const char *rem, *reset;
		char *end;
		double d;
		long n;

		snprintf(name, sizeof(name), "x-ratelimit-remaining-%s", kinds[k]);
		rem = http_header(hr, name);
		snprintf(name, sizeof(name), "x-ratelimit-reset-%s", kinds[k]);
		reset = http_header(hr, name);
		if (!rem || !reset)
			continue;
		n = strtol(rem, &end, 10);
		d = duration(reset);
		if (end == rem || *end || d < 0)
			continue;
		pacer_note(&a->w.pace, k == 0 ? PACE_REQUESTS : PACE_INPUT, n, (double)time(NULL) + d);
	}
}

static void call(struct provider *pv, const struct request *req, struct call_result *res)
{
	struct openai *a = pv->priv;
	const char *headers[] = {"content-type: application/json", "accept: application/json", a->auth_header, NULL};
	struct http_response hr = {0};
	char *body = render(req, a->official, a->w.stream);
	long need[PACE_KINDS] = {1, (long)(req->layer_len[3] / 4) + req->max_tokens, 0};
	struct stream st = {.ws = {.decode_event = on_event}};

	st.ws.arg = &st;
	if (a->w.stream)
		headers[1] = "accept: text/event-stream";
	if (wire_post(&a->w, headers, body, need, req, &st.ws, &hr, res) == 0) {
		note_limits(a, &hr);
		if (hr.streamed)
			decode_stream(&st, &hr, req->max_tokens, res);
		else
			openai_decode(&hr, req->max_tokens, res);
	}
	buf_free(&st.content);
	buf_free(&st.refusal);
	buf_free(&st.args);
	json_decref(st.finish);
	json_decref(st.usage);
	wire_stream_free(&st.ws);
	http_response_free(&hr);
	free(body);
}

static void close_provider(struct provider *pv)
{
	struct openai *a = pv->priv;

	if (a->auth_header) {
		explicit_bzero(a->auth_header, strlen(a->auth_header));
		free(a->auth_header);
	}
	wire_close(&a->w);
	free(a);
	free(pv);
}

struct provider *openai_open(const struct settings *s, int *exit_code)
{
	const char *key = getenv("OPENAI_API_KEY");
	struct provider *pv;
	struct openai *a;

	*exit_code = 0;
	a = xcalloc(1, sizeof(*a));
	a->s = s;
	wire_open(&a->w, s, "OPENAI_BASE_URL", "https://api.openai.com/v1", "/chat/completions");
	if ((!key || !*key) && !http_is_local(a->w.base)) {
		wire_close(&a->w);
		free(a);
		error("OPENAI_API_KEY is not set (export it, point base_url at a local server, or use --replay CASSETTE)");
		*exit_code = EXIT_PROVIDER;
		return NULL;
	}
	http_global_init();
	a->official = strncmp(a->w.base, "https://api.openai.com", 22) == 0;
	if (key && *key)
		a->auth_header = xasprintf("Authorization: Bearer %s", key);
	pv = xcalloc(1, sizeof(*pv));
	pv->name = "openai";
	pv->family = "openai";
	pv->call = call;
	pv->close = close_provider;
	pv->priv = a;
	return pv;
}
