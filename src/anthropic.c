/* anthropic.c: the Claude Messages API (POST /v1/messages).  Layers 1-3 of a
 * request become system blocks; layer 4 (and a retry's feedback) is the one
 * user message, a block per dependency interface and one for the task; the
 * four cache breakpoints go where the request asks (choose).  The body is
 * rendered deterministically, so identical layers are identical bytes and
 * the provider's prompt cache hits across tasks and runs.  The API key lives
 * in one header string and never reaches a message or a log. */
#include "anthropic.h"
#include "http.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_VERSION "2023-06-01"
#define MAX_BREAKPOINTS 4

struct anthropic {
	const struct settings *s;
	char *key_header;       /* "x-api-key: ..."; zeroed on close */
	struct wire w;          /* {base}/v1/messages */
};

/* a cache breakpoint at the end of block b, which ends the first `at` bytes
 * of the prompt; *marked: the bytes before the last breakpoint so far */
static void mark(json_t *b, int ttl_1h, size_t at, size_t *marked)
{
	json_t *cc = json_object();

	json_object_set_new(cc, "type", json_string("ephemeral"));
	if (ttl_1h)
		json_object_set_new(cc, "ttl", json_string("1h"));
	json_object_set_new(b, "cache_control", cc);
	if (at > *marked)
		*marked = at;
}

/* a text content block holding s[0..len) */
static json_t *text_block(const char *s, size_t len)
{
	json_t *b = json_object();

	json_object_set_new(b, "type", json_string("text"));
	json_object_set_new(b, "text", wire_json_string(s, len));
	return b;
}

/* which of the four breakpoints the request gets: sys[i] for the end of
 * system layer i, l4[k] for layer4_marks[k].  The end of the last system
 * layer (the rule) first, which every task of the rule reads; then layer 4's
 * deepest shared prefix, where a task reads what the task it builds on
 * wrote (its lookback finds the shallower ones); then the other system
 * layers, last first, which tasks of other rules read (issue "what each task
 * sees": layers 1 and 2 keep their own); what is left (a layer is empty)
 * goes to layer 4's other marks.  Every breakpoint is placed whatever the
 * prefix's length (SPEC 5): one under the model's minimum is not cached and
 * costs nothing, while an estimate of its length (bytes/4 undercounts code)
 * would drop breakpoints the API could have used */
static void choose(const struct request *req, int sys[3], int l4[PROMPT_MARKS])
{
	int i, last = -1, left = MAX_BREAKPOINTS;
	size_t k, n4 = req->layer4_nmarks < PROMPT_MARKS ? req->layer4_nmarks : PROMPT_MARKS;

	for (i = 0; i < 3; i++) {
		sys[i] = 0;
		if (req->layer[i] && req->layer_len[i])
			last = i;
	}
	for (k = 0; k < PROMPT_MARKS; k++)
		l4[k] = 0;
	if (last >= 0 && left > 0)
		sys[last] = 1, left--;
	if (n4 > 0 && left > 0)
		l4[0] = 1, left--;
	for (i = last - 1; i >= 0 && left > 0; i--)
		if (req->layer[i] && req->layer_len[i])
			sys[i] = 1, left--;
	for (k = 1; k < n4 && left > 0; k++)
		l4[k] = 1, left--;
}

/* the system blocks: layers 1-3, those use names ending in a breakpoint;
 * *prefix (the bytes before them) grows by their length */
static json_t *system_blocks(const struct request *req, const int use[3], size_t *prefix, size_t *marked)
{
	json_t *sys = json_array();
	int i;

	for (i = 0; i < 3; i++) {
		json_t *b;

		if (!req->layer[i] || req->layer_len[i] == 0)
			continue;       /* the API rejects empty text blocks */
		b = text_block(req->layer[i], req->layer_len[i]);
		*prefix += req->layer_len[i];
		if (use[i])
			mark(b, req->ttl_1h, *prefix, marked);
		json_array_append_new(sys, b);
	}
	return sys;
}

/* the one user message after prefix bytes of tools and system: layer 4, one
 * block per dependency interface (those use4 names ending in a breakpoint),
 * then the task's own part, which never gets one (its unique tokens would be
 * billed as writes for nothing); then a retry's feedback.  *total: the
 * prompt's length */
static json_t *user_message(const struct request *req, const int use4[PROMPT_MARKS], size_t prefix,
			    size_t *marked, size_t *total)
{
	json_t *user = json_object(), *content = json_array();
	size_t k, j, at = 0;

	for (k = 0; k <= req->layer4_nends; k++) {
		size_t end = k < req->layer4_nends ? req->layer4_ends[k] : req->layer_len[3];
		json_t *b;

		if (end > req->layer_len[3] || end <= at)
			continue;       /* out of order, or an empty block */
		b = text_block(req->layer[3] + at, end - at);
		for (j = 0; k < req->layer4_nends && j < req->layer4_nmarks && j < PROMPT_MARKS; j++)
			if (use4[j] && req->layer4_marks[j] == end) {
				mark(b, req->ttl_1h, prefix + end, marked);
				break;
			}
		json_array_append_new(content, b);
		at = end;
	}
	if (!json_array_size(content)) {
		json_t *b = json_object();

		json_object_set_new(b, "type", json_string("text"));
		json_object_set_new(b, "text", json_string(""));
		json_array_append_new(content, b);
	}
	*total = prefix + req->layer_len[3];
	if (req->feedback && *req->feedback) {
		json_array_append_new(content, text_block(req->feedback, strlen(req->feedback)));
		*total += strlen(req->feedback);
	}
	json_object_set_new(user, "role", json_string("user"));
	json_object_set_new(user, "content", content);
	return user;
}

/* tools and tool_choice: the one tool the model must call, with schema
 * (taken) as its input_schema */
static void set_tool(json_t *o, const char *tool, json_t *schema)
{
	json_t *tools = json_array(), *t = json_object(), *tc = json_object();

	json_object_set_new(t, "name", json_string(tool));
	json_object_set_new(t, "description", json_string(wire_tool_description));
	json_object_set_new(t, "input_schema", schema);
	json_array_append_new(tools, t);
	json_object_set_new(o, "tools", tools);
	json_object_set_new(tc, "type", json_string("tool"));
	json_object_set_new(tc, "name", json_string(tool));
	json_object_set_new(o, "tool_choice", tc);
}

/* output_config: the answer's JSON schema (taken; NULL for none) and the
 * effort (NULL or empty for none); NULL when it would be empty */
static json_t *output_config(json_t *schema, const char *effort)
{
	json_t *oc = NULL;

	if (schema) {
		json_t *f = json_object();

		oc = json_object();
		json_object_set_new(f, "type", json_string("json_schema"));
		json_object_set_new(f, "schema", schema);
		json_object_set_new(oc, "format", f);
	}
	if (effort && *effort) {
		if (!oc)
			oc = json_object();
		json_object_set_new(oc, "effort", json_string(effort));
	}
	return oc;
}

/* the body (asking for a stream when stream is set), and the bytes after the
 * last breakpoint (what the input-token rate limit will probably count, the
 * cached prefix aside) */
static char *render(const struct request *req, const struct model_info *m, int stream, size_t *uncached)
{
	json_t *o = json_object(), *sys, *msgs = json_array(), *schema = NULL, *oc;
	const char *tool = req->tool_name ? req->tool_name : "write_files";
	size_t prefix = 0, total = 0, marked = 0;
	int use[3], use4[PROMPT_MARKS];
	char *s;

	(void)m;        /* its minimum cacheable length serves cost forecasts, not placement */
	choose(req, use, use4);
	if (req->format != FMT_TEXT) {
		schema = req->schema ? json_loads(req->schema, 0, NULL) : json_object();
		if (!schema)
			fatal("the answer schema is not valid JSON");
	}
	json_object_set_new(o, "model", json_string(req->model));
	json_object_set_new(o, "max_tokens", json_integer(req->max_tokens));
	/* the tool definition comes first in the cached prefix (tools, system, messages) */
	if (req->format == FMT_TOOL)
		prefix += (req->schema ? strlen(req->schema) : 2) + strlen(wire_tool_description) + strlen(tool);
	sys = system_blocks(req, use, &prefix, &marked);
	if (json_array_size(sys))
		json_object_set_new(o, "system", sys);
	else
		json_decref(sys);
	json_array_append_new(msgs, user_message(req, use4, prefix, &marked, &total));
	json_object_set_new(o, "messages", msgs);
	if (req->format == FMT_TOOL)
		set_tool(o, tool, schema);
	oc = output_config(req->format == FMT_JSON_SCHEMA ? schema : NULL, req->effort);
	if (oc)
		json_object_set_new(o, "output_config", oc);
	/* last, so the streamed body is the plain one plus this field */
	if (stream)
		json_object_set_new(o, "stream", json_true());
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!s)
		fatal("jansson: out of memory");
	if (uncached)
		*uncached = total - marked;
	return s;
}

char *anthropic_body(const struct request *req, const struct model_info *m)
{
	return render(req, m, 0, NULL);
}

static long usage_field(json_t *u, const char *name)
{
	json_t *v = json_object_get(u, name);

	return json_is_integer(v) ? (long)json_integer_value(v) : 0;
}

static void read_usage(json_t *u, struct usage *out)
{
	json_t *cc = json_object_get(u, "cache_creation");
	long write = usage_field(u, "cache_creation_input_tokens");

	out->input = usage_field(u, "input_tokens");
	out->cache_read = usage_field(u, "cache_read_input_tokens");
	out->output = usage_field(u, "output_tokens");
	if (json_is_object(cc)) {
		out->cache_write_5m = usage_field(cc, "ephemeral_5m_input_tokens");
		out->cache_write_1h = usage_field(cc, "ephemeral_1h_input_tokens");
		/* a split that does not add up: the rest was written at the 5-minute price */
		if (out->cache_write_5m + out->cache_write_1h < write)
			out->cache_write_5m = write - out->cache_write_1h;
	} else {
		out->cache_write_5m = write;
	}
}

/* the answer in message o (body: its bytes, for messages) into *res */
static void decode_message(json_t *o, const char *body, size_t len, long status, int max_tokens, struct call_result *res)
{
	json_t *content = json_object_get(o, "content"), *b;
	struct buffer text = {0};
	char *tool = NULL, *why = NULL;
	const char *sr;
	size_t i;

	if (!json_is_object(o) || !json_is_array(content)) {
		char *m = wire_excerpt(body, len);

		res->status = CALL_RETRY;
		res->error = xasprintf("provider answer is not a message (HTTP %ld): %s", status, m);
		free(m);
		return;
	}
	read_usage(json_object_get(o, "usage"), &res->usage);
	sr = json_string_value(json_object_get(o, "stop_reason"));
	if (sr)
		res->stop_reason = xstrdup(sr);
	if (sr && strcmp(sr, "max_tokens") == 0) {
		res->status = CALL_FAIL;
		res->error = xasprintf("answer cut off at max_tokens (%d)", max_tokens);
		return;
	}
	if (sr && strcmp(sr, "refusal") == 0) {
		res->status = CALL_FAIL;
		res->error = xstrdup("the model refused to answer (stop_reason refusal)");
		return;
	}
	json_array_foreach(content, i, b) {
		const char *type = json_string_value(json_object_get(b, "type"));

		if (!type)
			continue;
		/* thinking and redacted_thinking blocks are never the answer */
		if (strcmp(type, "text") == 0) {
			json_t *t = json_object_get(b, "text");

			buf_add(&text, json_string_value(t) ? json_string_value(t) : "", json_string_length(t));
		} else if (strcmp(type, "tool_use") == 0 && !tool) {
			json_t *in = json_object_get(b, "input");

			if (json_is_object(in))
				tool = json_dumps(in, JSON_COMPACT | JSON_PRESERVE_ORDER);
		}
	}
	if (tool) {
		res->answer = tool;
	} else if (text.len) {
		res->answer = wire_answer_json(text.data, text.len, 1, &why);
		res->bad_answer = !res->answer;   /* prose: the model answered, but not as asked */
	} else {
		why = xasprintf("answer holds no text and no tool call (stop_reason %s)", sr ? sr : "none");
	}
	if (!res->answer) {
		res->status = CALL_FAIL;
		res->error = why;
	}
	buf_free(&text);
}

void anthropic_decode(const struct http_response *hr, int max_tokens, struct call_result *res)
{
	wire_decode(hr, "ANTHROPIC_API_KEY", max_tokens, res, decode_message);
}

/* a streamed answer as it builds up (SSE events of the Messages API):
 * message_start gives the message and its input usage, each content block
 * comes as content_block_start, deltas and content_block_stop, message_delta
 * gives the stop reason and the cumulative usage, message_stop ends it; ping
 * is a keep-alive and error an error the status it names would have been */
struct stream {
	struct wire_stream ws;
	json_t *msg;            /* the message so far: message_start's, content growing */
	struct buffer cur;      /* text or input JSON of the block being streamed */
	json_t *block;          /* that block (borrowed from msg's content) */
};

/* the block being streamed is complete: its text or input from the deltas */
static void block_done(struct stream *st)
{
	const char *type = json_string_value(json_object_get(st->block, "type"));

	if (!st->block)
		return;
	if (type && strcmp(type, "text") == 0) {
		json_object_set_new(st->block, "text", wire_json_string(st->cur.data, st->cur.len));
	} else if (type && strcmp(type, "tool_use") == 0 && st->cur.len) {
		json_t *in = json_loadb(st->cur.data, st->cur.len, 0, NULL);

		/* input that does not parse stays {}: the judge then asks again */
		if (json_is_object(in))
			json_object_set_new(st->block, "input", in);
		else
			json_decref(in);
	}
	st->block = NULL;
	st->cur.len = 0;
}

static int on_event(void *arg, const char *name, const char *data, size_t len)
{
	struct stream *st = arg;
	json_t *o = json_loadb(data, len, 0, NULL), *d;
	const char *type = json_string_value(json_object_get(o, "type"));

	(void)name;   /* the type in the data says the same */
	if (!type) {
		json_decref(o);
		return 0;
	}
	d = json_object_get(o, "delta");
	if (strcmp(type, "message_start") == 0 && json_is_object(json_object_get(o, "message"))) {
		json_decref(st->msg);
		st->msg = json_deep_copy(json_object_get(o, "message"));
		json_object_set_new(st->msg, "content", json_array());
	} else if (strcmp(type, "content_block_start") == 0 && st->msg) {
		block_done(st);
		st->block = json_deep_copy(json_object_get(o, "content_block"));
		if (st->block) {
			json_t *t = json_object_get(st->block, "text");

			/* text the start already holds comes before the deltas' */
			if (json_is_string(t))
				buf_add(&st->cur, json_string_value(t), json_string_length(t));
			json_array_append_new(json_object_get(st->msg, "content"), st->block);
		}
	} else if (strcmp(type, "content_block_delta") == 0 && st->block) {
		const char *dt = json_string_value(json_object_get(d, "type"));
		json_t *piece = NULL;

		if (dt && strcmp(dt, "text_delta") == 0)
			piece = json_object_get(d, "text");
		else if (dt && strcmp(dt, "input_json_delta") == 0)
			piece = json_object_get(d, "partial_json");
		/* thinking_delta and signature_delta are never the answer */
		if (json_is_string(piece)) {
			buf_add(&st->cur, json_string_value(piece), json_string_length(piece));
			st->ws.progress.answer_bytes += json_string_length(piece);
		}
	} else if (strcmp(type, "content_block_stop") == 0) {
		block_done(st);
	} else if (strcmp(type, "message_delta") == 0 && st->msg) {
		json_t *u = json_object_get(o, "usage"), *mu = json_object_get(st->msg, "usage");

		if (json_is_string(json_object_get(d, "stop_reason")))
			json_object_set(st->msg, "stop_reason", json_object_get(d, "stop_reason"));
		/* its counts are cumulative: each one given replaces message_start's */
		if (json_is_object(u) && json_is_object(mu))
			json_object_update(mu, u);
		else if (json_is_object(u))
			json_object_set(st->msg, "usage", u);
		st->ws.progress.output_tokens = usage_field(u, "output_tokens");
	} else if (strcmp(type, "message_stop") == 0) {
		st->ws.done = 1;
	} else if (strcmp(type, "error") == 0) {
		wire_stream_error(&st->ws, json_object_get(o, "error"), data, len);
	}
	json_decref(o);
	return 0;
}

/* a streamed exchange into *res, once it is complete */
static void decode_stream(struct stream *st, const struct http_response *hr, int max_tokens, struct call_result *res)
{
	if (!wire_stream_end(&st->ws, hr, "ANTHROPIC_API_KEY", "message_stop", res))
		return;
	block_done(st);
	decode_message(st->msg, "(a stream)", 10, hr->status, max_tokens, res);
}

/* the rate-limit headers of a response, into the pacer */
static void note_limits(struct anthropic *a, const struct http_response *hr)
{
	static const char *const kinds[PACE_KINDS] = {"requests", "input-tokens", "output-tokens"};
	int k;

	for (k = 0; k < PACE_KINDS; k++) {
		char name[64];
		const char *rem, *reset;
		char *end;
		long n;

		snprintf(name, sizeof(name), "anthropic-ratelimit-%s-remaining", kinds[k]);
		rem = http_header(hr, name);
		snprintf(name, sizeof(name), "anthropic-ratelimit-%s-reset", kinds[k]);
		reset = http_header(hr, name);
		if (!rem || !reset)
			continue;
		n = strtol(rem, &end, 10);
		if (end == rem || *end)
			continue;
		pacer_note(&a->w.pace, k, n, pacer_time(reset));
	}
}

static void call(struct provider *pv, const struct request *req, struct call_result *res)
{
	struct anthropic *a = pv->priv;
	const struct model_info *m = model_lookup(a->s, req->model);
	const char *headers[] = {a->key_header, "anthropic-version: " API_VERSION, "content-type: application/json",
				 "accept: application/json", NULL};
	struct http_response hr = {0};
	size_t uncached;
	char *body = render(req, m, a->w.stream, &uncached);
	long need[PACE_KINDS] = {1, (long)(uncached / 4), req->max_tokens};
	struct stream st = {.ws = {.decode_event = on_event}};

	st.ws.arg = &st;
	if (a->w.stream)
		headers[3] = "accept: text/event-stream";
	if (wire_post(&a->w, headers, body, need, req, &st.ws, &hr, res) == 0) {
		note_limits(a, &hr);
		if (hr.streamed)
			decode_stream(&st, &hr, req->max_tokens, res);
		else
			anthropic_decode(&hr, req->max_tokens, res);
	}
	json_decref(st.msg);
	buf_free(&st.cur);
	wire_stream_free(&st.ws);
	http_response_free(&hr);
	free(body);
}

static void close_provider(struct provider *pv)
{
	struct anthropic *a = pv->priv;

	explicit_bzero(a->key_header, strlen(a->key_header));
	free(a->key_header);
	wire_close(&a->w);
	free(a);
	free(pv);
}

struct provider *anthropic_open(const struct settings *s, int *exit_code)
{
	const char *key = getenv("ANTHROPIC_API_KEY");
	struct provider *pv;
	struct anthropic *a;

	*exit_code = 0;
	if (!key || !*key) {
		error("ANTHROPIC_API_KEY is not set (export it, or use --replay CASSETTE)");
		*exit_code = EXIT_PROVIDER;
		return NULL;
	}
	http_global_init();
	a = xcalloc(1, sizeof(*a));
	a->s = s;
	wire_open(&a->w, s, "ANTHROPIC_BASE_URL", "https://api.anthropic.com", "/v1/messages");
	a->key_header = xasprintf("x-api-key: %s", key);
	pv = xcalloc(1, sizeof(*pv));
	pv->name = "anthropic";
	pv->family = "anthropic";
	pv->call = call;
	pv->close = close_provider;
	pv->priv = a;
	return pv;
}
