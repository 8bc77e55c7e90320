/* wire.c: what the providers share below the provider interface (see
 * wire.h): results, error classes, the decoding preamble, redaction, the
 * interruptible sleep, rate-limit pacing and the endpoint a call goes to. */
#include "wire.h"
#include "http.h"
#include "sse.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define PACE_MAX 60.0           /* the longest single pacing wait */

const char wire_tool_description[] =
	"Write the files of the answer: every declared output, each with its full content.";

/* set from a signal handler, read on the worker threads: a lock-free atomic */
static atomic_int interrupted;

void wire_interrupt(int level)
{
	interrupted = 1;
	if (level > 1)
		http_abort();
}

int wire_interrupted(void)
{
	return interrupted;
}

void call_result_clear(struct call_result *r)
{
	free(r->answer);
	free(r->error);
	free(r->stop_reason);
	memset(r, 0, sizeof(*r));
	r->retry_after = -1;
}


long wire_stall(void)
{
	const char *e = getenv("MPBUILD_STALL_TIMEOUT");
	char *end;
	long v;

	if (!e || !*e)
		return HTTP_STALL_DEFAULT;
	v = strtol(e, &end, 10);
	return *end || v <= 0 ? HTTP_STALL_DEFAULT : v;
}


static double backoff_scale(void)
{
	const char *e = getenv("MPBUILD_BACKOFF_SCALE");
	char *end;
	double f;

	if (!e || !*e)
		return 1;
	f = strtod(e, &end);
	if (*end || f < 0 || f != f)
		return 1;
	return f;
}

int wire_sleep(double seconds)
{
	double until = now() + seconds * backoff_scale();

	for (;;) {
		double left = until - now();
		struct timespec ts;

		if (interrupted)
			return -1;
		if (left <= 0)
			return 0;
		if (left > 0.1)
			left = 0.1;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
	}
}


/* the environment variables whose values are provider keys */
static const char *const key_vars[] = {"ANTHROPIC_API_KEY", "OPENAI_API_KEY"};
/* header and field names whose value is a key, wherever a server echoes them */
static const char *const key_names[] = {"x-api-key", "api-key", "api_key"};
static const char redacted[] = "[redacted]";

/* a byte that may be part of a key or token */
static int keyish(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* the length of the value that starts at p (stops at a space, a quote, a
 * separator or a closing bracket); 0 when it is already redacted */
static size_t value_len(const char *p, const char *end)
{
	size_t n = 0;

	if ((size_t)(end - p) >= sizeof(redacted) - 1 && memcmp(p, redacted, sizeof(redacted) - 1) == 0)
		return 0;
	while (p + n < end && !strchr(" \t\r\n\"',;)}]>\\", p[n]))
		n++;
	return n;
}

/* at p (which starts a word): the length of what to keep before a secret
 * value and *vlen, the length of the value; 0 when no secret starts here */
static size_t secret_at(const char *p, const char *end, size_t *vlen)
{
	size_t k, i, n;

	*vlen = 0;
	/* Bearer TOKEN; a short word after it is prose ("using Bearer auth") */
	if (end - p > 7 && strncasecmp(p, "bearer", 6) == 0 && (p[6] == ' ' || p[6] == '\t')) {
		for (i = 6; p + i < end && (p[i] == ' ' || p[i] == '\t'); i++)
			;
		*vlen = value_len(p + i, end);
		if (*vlen < 8)
			*vlen = 0;
		return *vlen ? i : 0;
	}
	/* x-api-key: VALUE, "x-api-key": "VALUE", api_key=VALUE */
	for (k = 0; k < LEN(key_names); k++) {
		n = strlen(key_names[k]);
		if ((size_t)(end - p) <= n || strncasecmp(p, key_names[k], n) != 0)
			continue;
		i = n;
		if (p[i] == '"' || p[i] == '\'')
			i++;
		while (p + i < end && p[i] == ' ')
			i++;
		if (p + i >= end || (p[i] != ':' && p[i] != '='))
			continue;
		for (i++; p + i < end && (p[i] == ' ' || p[i] == '"' || p[i] == '\''); i++)
			;
		*vlen = value_len(p + i, end);
		return *vlen ? i : 0;
	}
	/* a word that looks like a key: sk-ant-..., sk-proj-..., sk-... */
	if (end - p > 3 && memcmp(p, "sk-", 3) == 0) {
		for (n = 3; p + n < end && keyish(p[n]); n++)
			;
		if (n >= 3 + 8) {
			*vlen = n;
			return 0;
		}
	}
	return 0;
}

/* the length of the key of keys[] (NULL entries skipped) that starts at p, or 0 */
static size_t key_at(const char *p, const char *end, const char *const keys[LEN(key_vars)])
{
	size_t k, n;

	for (k = 0; k < LEN(key_vars); k++)
		if (keys[k] && (n = strlen(keys[k])) <= (size_t)(end - p) && memcmp(p, keys[k], n) == 0)
			return n;
	return 0;
}

void wire_redact(struct buffer *b)
{
	struct buffer out = {0};
	const char *keys[LEN(key_vars)], *p, *end;
	size_t k;

	if (!b->len)
		return;
	for (k = 0; k < LEN(key_vars); k++) {
		keys[k] = getenv(key_vars[k]);
		/* a shorter one could not be told from ordinary text */
		if (keys[k] && strlen(keys[k]) < 4)
			keys[k] = NULL;
	}
	for (p = b->data, end = b->data + b->len; p < end;) {
		size_t keep = 0, vlen = key_at(p, end, keys);

		if (!vlen && (p == b->data || !keyish(p[-1])))
			keep = secret_at(p, end, &vlen);
		if (!vlen) {
			buf_putc(&out, *p++);
			continue;
		}
		buf_add(&out, p, keep);
		buf_puts(&out, redacted);
		p += keep + vlen;
	}
	buf_free(b);
	*b = out;
}


enum call_status wire_http_class(long status, const char *should_retry)
{
	if (status == 401 || status == 403)
		return CALL_AUTH;
	if (status >= 200 && status < 300)
		return CALL_OK;
	if (should_retry && strcmp(should_retry, "true") == 0)
		return CALL_RETRY;
	if (should_retry && strcmp(should_retry, "false") == 0)
		return CALL_FAIL;
	if (status == 408 || status == 409 || status == 429 || status >= 500)
		return CALL_RETRY;
	return CALL_FAIL;
}

double wire_retry_after(const char *ms, const char *secs)
{
	char *end;
	double v;

	if (ms && *ms) {
		v = strtod(ms, &end);
		if (end != ms && *end == '\0' && v >= 0)
			return v / 1000;
	}
	if (secs && *secs) {
		struct tm tm = {0};
		const char *p;

		v = strtod(secs, &end);
		if (end != secs && *end == '\0' && v >= 0)
			return v;
		/* an HTTP date: "Wed, 21 Oct 2015 07:28:00 GMT" */
		p = strptime(secs, "%a, %d %b %Y %H:%M:%S GMT", &tm);
		if (p && *p == '\0') {
			double d = (double)timegm(&tm) - (double)time(NULL);

			return d > 0 ? d : 0;
		}
	}
	return -1;
}


/* the bytes of s that are a valid UTF-8 sequence at p, or 0 */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t len, i;
	unsigned long cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2, cp = c & 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3, cp = c & 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3F);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

json_t *wire_json_string(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	struct buffer b = {0};
	json_t *j;
	size_t i, l;

	if (!s)
		return json_string("");
	j = json_stringn(s, n);
	if (j)
		return j;
	for (i = 0; i < n; i += l) {
		l = utf8_len(p + i, n - i);
		if (l) {
			buf_add(&b, p + i, l);
		} else {
			buf_puts(&b, "\xEF\xBF\xBD");
			l = 1;
		}
	}
	j = json_stringn(b.data ? b.data : "", b.len);
	buf_free(&b);
	if (!j)
		fatal("jansson: out of memory");
	return j;
}

char *wire_excerpt(const char *s, size_t n)
{
	struct buffer b = {0}, all = {0};
	size_t i;
	int space = 0;

	/* redacted before it is cut short: a key cut in two is no longer recognised */
	if (s) {
		buf_add(&all, s, n);
		wire_redact(&all);
		s = all.data, n = all.len;
	}
	for (i = 0; s && i < n && b.len < 200; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
			space = b.len > 0;
			continue;
		}
		if (c < 0x20 || c == 0x7F)
			continue;
		if (space)
			buf_putc(&b, ' ');
		space = 0;
		buf_putc(&b, c);
	}
	if (i < n && s)
		buf_puts(&b, "...");
	if (!b.len)
		buf_puts(&b, "(empty body)");
	buf_free(&all);
	return buf_take(&b);
}


char *wire_answer_json(const char *text, size_t len, int lenient, char **why)
{
	json_error_t err;
	json_t *o = json_loadb(text, len, JSON_ALLOW_NUL, &err);
	char *s;

	*why = NULL;
	if (!o && lenient) {
		/* prose or a ```json fence around the object: take the outermost braces */
		const char *a = memchr(text, '{', len), *b = NULL, *p;

		for (p = text + len; a && p > a; p--)
			if (p[-1] == '}') {
				b = p;
				break;
			}
		if (a && b)
			o = json_loadb(a, (size_t)(b - a), JSON_ALLOW_NUL, &err);
	}
	if (!o) {
		*why = xasprintf("answer is not valid JSON: %s at line %d column %d", err.text, err.line, err.column);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		*why = xstrdup("answer is JSON but not an object");
		return NULL;
	}
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!s)
		fatal("jansson: out of memory");
	return s;
}


void pacer_init(struct pacer *p)
{
	pthread_mutex_t *mu = xmalloc(sizeof(*mu));
	int i;

	pthread_mutex_init(mu, NULL);
	p->mu = mu;
	for (i = 0; i < PACE_KINDS; i++) {
		p->remaining[i] = -1;
		p->reset[i] = 0;
	}
}

void pacer_free(struct pacer *p)
{
	if (!p->mu)
		return;
	pthread_mutex_destroy(p->mu);
	free(p->mu);
	p->mu = NULL;
}

void pacer_note(struct pacer *p, int kind, long remaining, double reset)
{
	pthread_mutex_lock(p->mu);
	p->remaining[kind] = reset > 0 ? remaining : -1;
	p->reset[kind] = reset;
	pthread_mutex_unlock(p->mu);
}

void pacer_wait(struct pacer *p, const long need[PACE_KINDS], const struct request *req)
{
	for (;;) {
		double wait = 0, wall = (double)time(NULL);
		int i, k = -1;

		pthread_mutex_lock(p->mu);
		for (i = 0; i < PACE_KINDS; i++) {
			long want = i == PACE_REQUESTS ? 1 : need[i] > 0 ? need[i] : 0;

			if (p->remaining[i] < 0)
				continue;
			if (p->reset[i] <= wall) {
				/* the window has passed: what the server said is stale */
				p->remaining[i] = -1;
				continue;
			}
			if (p->remaining[i] > 0 && p->remaining[i] >= want)
				continue;
			if (p->reset[i] - wall > wait)
				wait = p->reset[i] - wall, k = i;
		}
		if (k < 0) {
			/* count this call so parallel calls pace too */
			for (i = 0; i < PACE_KINDS; i++)
				if (p->remaining[i] >= 0) {
					p->remaining[i] -= i == PACE_REQUESTS ? 1 : need[i];
					if (p->remaining[i] < 0)
						p->remaining[i] = 0;
				}
			pthread_mutex_unlock(p->mu);
			return;
		}
		pthread_mutex_unlock(p->mu);
		if (wait > PACE_MAX)
			wait = PACE_MAX;
		/* the live display says why the call has not gone yet */
		if (req && req->progress) {
			struct call_progress cp = {0};

			cp.target = req->target;
			cp.pacing = wait;
			req->progress(req->progress_arg, &cp);
		}
		if (wire_sleep(wait) < 0)
			return;
		pthread_mutex_lock(p->mu);
		/* after waiting out a window, trust the next answer's headers */
		if (p->reset[k] <= (double)time(NULL) || wait >= PACE_MAX)
			p->remaining[k] = -1;
		pthread_mutex_unlock(p->mu);
	}
}

double pacer_time(const char *s)
{
	int y, mo, d, h, mi, n = 0;
	double sec;
	struct tm tm = {0};
	double t;
	const char *p;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%lf%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = 0;
	t = (double)timegm(&tm) + sec;
	p = s + n;
	if (*p == 'Z' || *p == 'z')
		return p[1] ? -1 : t;
	if (*p == '+' || *p == '-') {
		int oh, om;

		if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2)
			return -1;
		return *p == '+' ? t - oh * 3600 - om * 60 : t + oh * 3600 + om * 60;
	}
	return *p ? -1 : t;
}

char *wire_error_message(const char *body, size_t len)
{
	json_t *o = json_loadb(body ? body : "", len, 0, NULL);
	json_t *e = json_object_get(o, "error");
	const char *m = json_string_value(json_object_get(e, "message"));
	char *s;

	if (!m)
		m = json_string_value(e);
	if (!m)
		m = json_string_value(json_object_get(o, "message"));
	if (!m)
		m = json_string_value(json_object_get(o, "detail"));
	s = m ? wire_excerpt(m, strlen(m)) : wire_excerpt(body, len);
	json_decref(o);
	return s;
}

int wire_preamble(const struct http_response *hr, const char *key_var, struct call_result *res)
{
	char *m;

	res->retry_after = wire_retry_after(http_header(hr, "retry-after-ms"), http_header(hr, "retry-after"));
	res->http_status = (int)hr->status;
	if (hr->error) {
		res->status = CALL_RETRY;
		res->error = xasprintf("connection failed: %s", hr->error);
		return 0;
	}
	res->status = wire_http_class(hr->status, http_header(hr, "x-should-retry"));
	if (res->status == CALL_OK)
		return 1;
	m = wire_error_message(hr->body.data, hr->body.len);
	if (res->status == CALL_AUTH)
		res->error = xasprintf("authentication failed (%ld): %s; check %s", hr->status, m, key_var);
	else
		res->error = xasprintf("provider answered %ld: %s", hr->status, m);
	free(m);
	return 0;
}

void wire_open(struct wire *w, const struct settings *s, const char *env, const char *def, const char *path)
{
	const char *base = s ? s->base_url : NULL;
	size_t n;

	w->origin = "base_url in mpbuild.yaml";
	if (!base || !*base) {
		base = getenv(env);
		w->origin = env;
	}
	if (!base || !*base) {
		base = def;
		w->origin = "the default";
	}
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	w->base = xstrndup(base, n);
	w->url = xasprintf("%s%s", w->base, path);
	w->stall = wire_stall();
	w->stream = s ? s->stream : 0;
	atomic_init(&w->reached, 0);
	pacer_init(&w->pace);
}

void wire_close(struct wire *w)
{
	free(w->url);
	free(w->base);
	pacer_free(&w->pace);
}

/* a streamed exchange: the SSE decoder between http.c and the provider */
struct feed {
	struct wire_stream *st;
	const struct request *req;
	struct sse sse;
};

static int feed_event(void *arg, const char *name, const char *data, size_t len)
{
	struct feed *f = arg;
	int rc = f->st->decode_event(f->st->arg, name, data, len);

	f->st->progress.events++;
	if (f->req->progress)
		f->req->progress(f->req->progress_arg, &f->st->progress);
	return rc;
}

static int feed_data(void *arg, const char *p, size_t n)
{
	struct feed *f = arg;

	f->st->progress.bytes += n;
	return sse_feed(&f->sse, p, n, feed_event, f);
}

int wire_post(struct wire *w, const char *const *headers, const char *body, const long need[PACE_KINDS],
	      const struct request *req, struct wire_stream *st, struct http_response *hr, struct call_result *res)
{
	struct http_request rq = {"POST", w->url, headers, body, strlen(body), w->stall, 0, NULL, NULL};
	struct feed f = {.st = st, .req = req};
	double start;

	if (st && w->stream) {
		rq.on_data = feed_data;
		rq.data_arg = &f;
		st->progress.target = req->target;
	}
	pacer_wait(&w->pace, need, req);
	start = now();
	http_do(&rq, hr);
	res->latency = now() - start;
	sse_free(&f.sse);
	if (hr->status)
		atomic_store(&w->reached, 1);
	else if (hr->unreachable && !atomic_load(&w->reached)) {
		/* the first calls find nobody there: a wrong base URL, not a blip */
		res->status = CALL_AUTH;
		res->error = xasprintf("cannot reach the provider at %s (from %s): %s", w->base, w->origin,
				       hr->error ? hr->error : "no connection");
		return -1;
	}
	return 0;
}

long wire_error_status(const char *type)
{
	static const struct {
		const char *type;
		long status;
	} map[] = {
		{"invalid_request_error", 400}, {"authentication_error", 401}, {"billing_error", 402},
		{"permission_error", 403},      {"not_found_error", 404},      {"request_too_large", 413},
		{"rate_limit_error", 429},      {"rate_limit_exceeded", 429},  {"insufficient_quota", 429},
		{"api_error", 500},             {"server_error", 500},         {"timeout_error", 504},
		{"overloaded_error", 529},
	};
	size_t i;

	for (i = 0; type && i < LEN(map); i++)
		if (strcmp(type, map[i].type) == 0)
			return map[i].status;
	return 500;
}

void wire_stream_error(struct wire_stream *st, json_t *e, const char *data, size_t len)
{
	const char *m = json_string_value(json_object_get(e, "message"));
	const char *t = json_string_value(json_object_get(e, "type"));

	if (!t)
		t = json_string_value(json_object_get(e, "code"));
	st->err_status = wire_error_status(t);
	free(st->err);
	st->err = wire_excerpt(m ? m : data, m ? strlen(m) : len);
}

int wire_stream_end(const struct wire_stream *st, const struct http_response *hr, const char *key_var,
		    const char *marker, struct call_result *res)
{
	if (st->err_status) {
		/* as the status it names would have been; the 200 stays, so a
		 * retryable one keeps its budget reservation like any cut-off answer */
		res->retry_after = wire_retry_after(http_header(hr, "retry-after-ms"), http_header(hr, "retry-after"));
		res->http_status = (int)hr->status;
		res->status = wire_http_class(st->err_status, NULL);
		res->error = xasprintf("provider sent an error mid-stream (%ld): %s", st->err_status, st->err);
		return 0;
	}
	if (!wire_preamble(hr, key_var, res))
		return 0;
	if (!st->done) {
		res->status = CALL_RETRY;
		res->error = xasprintf("answer cut off: the stream ended before %s", marker);
		return 0;
	}
	return 1;
}

void wire_stream_free(struct wire_stream *st)
{
	free(st->err);
	st->err = NULL;
}

void wire_decode(const struct http_response *hr, const char *key_var, int max_tokens, struct call_result *res,
		 void (*decode)(json_t *o, const char *body, size_t len, long status, int max_tokens,
				struct call_result *res))
{
	json_t *o;

	if (!wire_preamble(hr, key_var, res))
		return;
	o = json_loadb(hr->body.data ? hr->body.data : "", hr->body.len, 0, NULL);
	decode(o, hr->body.data, hr->body.len, hr->status, max_tokens, res);
	json_decref(o);
}
