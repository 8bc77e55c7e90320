/* http.c: libcurl behind http.h.  Each exchange uses its own easy handle, so
 * calls from several threads need no locking; connections are not reused
 * (a model call takes seconds, a handshake milliseconds).  Keys travel in
 * request headers only: nothing here logs headers or puts them in messages. */
#include "http.h"

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BODY_MAX_DEFAULT ((size_t)256 << 20)

static int initialised;
/* set from a signal handler, read by calls on other threads: a lock-free atomic */
static atomic_int aborted;

void http_global_init(void)
{
	if (initialised)
		return;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatal("libcurl cannot be initialised");
	initialised = 1;
}

void http_abort(void)
{
	aborted = 1;
}

/* what a transfer collects as it goes */
struct sink {
	struct http_response *res;
	const struct http_request *rq;
	size_t max;
	size_t got;             /* body bytes received, streamed or kept */
	int mode;               /* 0: not decided yet, 1: keep in res->body, 2: to rq->on_data */
	int too_big;
	int stopped;            /* on_data asked to stop */
	long stall;             /* seconds allowed without a byte either way */
	curl_off_t seen;        /* bytes moved so far, both ways */
	double last;            /* when that last changed */
	int stalled;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n;

	if (s->got + len > s->max) {
		s->too_big = 1;
		return 0;
	}
	s->got += len;
	if (!s->mode) {
		const char *ct = http_header(s->res, "content-type");

		s->mode = s->rq->on_data && s->res->status >= 200 && s->res->status < 300 && ct &&
				  strncasecmp(ct, "text/event-stream", 17) == 0
			  ? 2
			  : 1;
		s->res->streamed = s->mode == 2;
	}
	if (s->mode == 2) {
		if (s->rq->on_data(s->rq->data_arg, p, len)) {
			s->stopped = 1;
			return 0;
		}
		return len;
	}
	buf_add(&s->res->body, p, len);
	return len;
}

static void clear_headers(struct http_response *res)
{
	size_t i;

	for (i = 0; i < res->nheaders; i++) {
		free(res->headers[i].name);
		free(res->headers[i].value);
	}
	free(res->headers);
	res->headers = NULL;
	res->nheaders = 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	struct http_response *res = s->res;
	size_t len = size * n, i, nl, vs, ve;
	struct http_header *h;

	/* a status line starts a new response (after 100 Continue or a redirect);
	 * its status decides, before the body, whether the body is a stream */
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		const char *sp = memchr(p, ' ', len);

		clear_headers(res);
		res->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		return len;
	}
	for (nl = 0; nl < len && p[nl] != ':'; nl++)
		;
	if (nl == len || nl == 0)
		return len;
	vs = nl + 1;
	while (vs < len && (p[vs] == ' ' || p[vs] == '\t'))
		vs++;
	ve = len;
	while (ve > vs && (p[ve - 1] == '\r' || p[ve - 1] == '\n' || p[ve - 1] == ' ' || p[ve - 1] == '\t'))
		ve--;
	res->headers = xreallocarray(res->headers, res->nheaders + 1, sizeof(*res->headers));
	h = &res->headers[res->nheaders++];
	h->name = xstrndup(p, nl);
	for (i = 0; i < nl; i++)
		if (h->name[i] >= 'A' && h->name[i] <= 'Z')
			h->name[i] = (char)(h->name[i] - 'A' + 'a');
	h->value = xstrndup(p + vs, ve - vs);
	return len;
}

/* called about once a second and on every chunk: an abort, or no byte for too long */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct sink *s = arg;
	double t = now();

	(void)dltotal, (void)ultotal;
	if (aborted)
		return 1;
	if (dlnow + ulnow != s->seen) {
		s->seen = dlnow + ulnow;
		s->last = t;
	} else if (t - s->last >= (double)s->stall) {
		s->stalled = 1;
		return 1;
	}
	return 0;
}

int http_do(const struct http_request *rq, struct http_response *res)
{
	struct curl_slist *hl = NULL;
	struct sink s = {res, rq, rq->max ? rq->max : BODY_MAX_DEFAULT, 0, 0, 0, 0,
			 rq->stall > 0 ? rq->stall : HTTP_STALL_DEFAULT, 0, 0, 0};
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *c;
	CURLcode rc;
	double start = now();
	size_t i;

	s.last = start;
	http_global_init();
	res->status = 0;
	if (aborted) {
		res->error = xstrdup("interrupted");
		return -1;
	}
	c = curl_easy_init();
	if (!c)
		fatal("libcurl: cannot create a handle");
	for (i = 0; rq->headers && rq->headers[i]; i++)
		hl = curl_slist_append(hl, rq->headers[i]);
	/* no "Expect: 100-continue" round trip for large bodies */
	hl = curl_slist_append(hl, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, rq->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)HTTP_CONNECT_TIMEOUT);
	/* a stalled transfer (no byte for s.stall seconds) is caught in on_progress;
	 * the low-speed limit (averaged over several seconds) is the backstop */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, s.stall + 10);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &s);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "mpbuild");
	if (strcmp(rq->method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->len);
	} else if (strcmp(rq->method, "PUT") == 0) {
		/* a PUT from memory: a custom method with the POST body machinery */
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->len);
	} else if (strcmp(rq->method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	}
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
	res->elapsed = now() - start;
	if (res->body.len)
		buf_str(&res->body);
	if (rc != CURLE_OK) {
		const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);

		if (s.too_big)
			res->error = xasprintf("response larger than %zu bytes", s.max);
		else if (s.stopped)
			res->error = xstrdup("stream abandoned by its reader");
		else if (rc == CURLE_ABORTED_BY_CALLBACK && s.stalled && res->status == 0)
			res->error = xasprintf("no answer within %ld s (stalled)", s.stall);
		else if (rc == CURLE_ABORTED_BY_CALLBACK && s.stalled)
			res->error = xasprintf("answer stalled: no byte for %ld s", s.stall);
		else if (rc == CURLE_ABORTED_BY_CALLBACK)
			res->error = xstrdup("interrupted");
		else if (rc == CURLE_OPERATION_TIMEDOUT && res->status == 0)
			res->error = xasprintf("no answer: %s", why);
		else if (rc == CURLE_OPERATION_TIMEDOUT)
			res->error = xasprintf("answer stalled: %s", why);
		else if (rc == CURLE_PARTIAL_FILE)
			res->error = xasprintf("answer cut off: %s", why);
		else
			res->error = xstrdup(why);
		res->partial = res->status != 0;
		res->unreachable = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
				   rc == CURLE_COULDNT_RESOLVE_PROXY;
	}
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	return rc == CURLE_OK ? 0 : -1;
}

int http_post(const char *url, const char *const *headers, const void *body, size_t len, long stall,
	      struct http_response *res)
{
	struct http_request rq = {"POST", url, headers, body, len, stall, 0, NULL, NULL};

	return http_do(&rq, res);
}

int http_get(const char *url, const char *const *headers, long stall, struct http_response *res)
{
	struct http_request rq = {"GET", url, headers, NULL, 0, stall, 0, NULL, NULL};

	return http_do(&rq, res);
}

int http_put(const char *url, const char *const *headers, const void *body, size_t len, long stall,
	     struct http_response *res)
{
	struct http_request rq = {"PUT", url, headers, body, len, stall, 0, NULL, NULL};

	return http_do(&rq, res);
}

const char *http_header(const struct http_response *res, const char *name)
{
	size_t i = res->nheaders;

	while (i-- > 0)
		if (strcasecmp(res->headers[i].name, name) == 0)
			return res->headers[i].value;
	return NULL;
}

void http_response_free(struct http_response *res)
{
	clear_headers(res);
	buf_free(&res->body);
	free(res->error);
	memset(res, 0, sizeof(*res));
}

int http_is_local(const char *url)
{
	static const char *const hosts[] = {"127.0.0.1", "localhost", "[::1]"};
	size_t i, n;

	if (!url || strncmp(url, "http://", 7) != 0)
		return 0;
	url += 7;
	for (i = 0; i < LEN(hosts); i++) {
		n = strlen(hosts[i]);
		if (strncasecmp(url, hosts[i], n) == 0 && (url[n] == '\0' || url[n] == ':' || url[n] == '/'))
			return 1;
	}
	return 0;
}
