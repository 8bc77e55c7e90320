/* wire.h: what the providers share below the provider interface.  anthropic.c,
 * openai.c and replay.c fill a struct provider and a struct call_result; the
 * HTTP ones also share an endpoint (base URL and where it came from, pacing,
 * stall timeout, streaming), the decoding preamble (connection errors, error
 * classes as the official SDKs see them, error bodies), the normalised answer
 * text and the redaction of what a server may echo.  provider.c sits above
 * this file and above the providers; nothing here or in them calls up into it. */
#ifndef MPBUILD_WIRE_H
#define MPBUILD_WIRE_H

#include <stdatomic.h>

#include "models.h"
#include "plan.h"
#include "prompt.h"

enum call_status {
	CALL_OK,                /* answer holds the answer object */
	CALL_RETRY,             /* transient: connection, 429, 5xx, 529, cut-off body or stream; may retry */
	CALL_FAIL,              /* this target cannot be answered (400, 404, 413, no recording, max_tokens) */
	CALL_AUTH,              /* the provider is unusable (no key, 401, 403, or its base URL refused the
				 * first connection or does not resolve): stop the run, exit 4 */
};

struct call_result {
	enum call_status status;
	char *answer;           /* the answer object as JSON text; owned; NULL unless CALL_OK */
	char *error;            /* a one-line message naming the cause; owned; NULL on success */
	struct usage usage;
	double latency;         /* seconds */
	int http_status;        /* 0 when no HTTP was involved */
	double retry_after;     /* seconds the server asked to wait; < 0 when it did not say */
	char *stop_reason;      /* as the provider said it; owned; may be NULL */
	int bad_answer;         /* CALL_FAIL because the answer is not one JSON object (prose): a
				 * judging failure, which the caller may ask again with error as feedback */
};

struct provider {
	const char *name;       /* "anthropic", "openai", "replay" */
	const char *family;     /* wire family for keys: "anthropic" or "openai" */
	/* make one call (no retries here); fill *res, which the caller zeroed */
	void (*call)(struct provider *pv, const struct request *req, struct call_result *res);
	/* release everything */
	void (*close)(struct provider *pv);
	void *priv;             /* implementation state */
};

/* free what a result owns and zero it */
void call_result_clear(struct call_result *r);

/* the description of the answer tool (answer_format tool), the same for both APIs */
extern const char wire_tool_description[];

/* the error class of an HTTP status as the official SDKs decide it:
 * x-should-retry ("true"/"false", may be NULL) first, then 408, 409, 429 and
 * >= 500 retry; 401 and 403 are CALL_AUTH whatever the header says */
enum call_status wire_http_class(long status, const char *should_retry);
/* seconds to wait from the retry-after-ms (milliseconds) or retry-after
 * (seconds or an HTTP date) headers, either may be NULL; -1 when neither says */
double wire_retry_after(const char *ms, const char *secs);
/* the answer object as compact JSON with its key order kept; lenient also
 * accepts prose or code fences around the object (plain-text answers); NULL
 * with *why (malloc'd) when it is not a JSON object */
char *wire_answer_json(const char *text, size_t len, int lenient, char **why);
struct json_t;
/* a JSON string of n bytes, invalid UTF-8 replaced by U+FFFD so no byte is dropped */
struct json_t *wire_json_string(const char *s, size_t n);
/* a short one-line excerpt of an error body for messages, redacted before it
 * is cut short (a key cut in two is no longer recognised); caller frees */
char *wire_excerpt(const char *s, size_t n);
/* the message of an error body: {"error":{"message":..}} (both APIs), or the
 * shapes local servers use ({"error":"..."}, {"message":..}, {"detail":..}),
 * else an excerpt of the body; caller frees */
char *wire_error_message(const char *body, size_t len);
/* replace with "[redacted]" every secret a provider message may echo: the
 * values of ANTHROPIC_API_KEY and OPENAI_API_KEY, the token after "Bearer",
 * the value after x-api-key, api-key or api_key and ':' or '=' (quoted or
 * not), and words that look like keys (sk-ant-..., sk-...) */
void wire_redact(struct buffer *b);

/* level 1: no more retries or pacing waits; level 2: also abort calls in
 * flight.  Async-signal-safe */
void wire_interrupt(int level);
/* 1 once wire_interrupt was called */
int wire_interrupted(void);
/* sleep seconds x $MPBUILD_BACKOFF_SCALE (a testing knob: 0.01 makes every
 * backoff and pacing wait 100 times shorter); -1 when cut short by an interrupt */
int wire_sleep(double seconds);
/* seconds without a byte before a call is abandoned: $MPBUILD_STALL_TIMEOUT,
 * else 600 */
long wire_stall(void);

enum { PACE_REQUESTS, PACE_INPUT, PACE_OUTPUT, PACE_KINDS };

/* what the rate-limit headers last said, shared by the calls of one provider */
struct pacer {
	void *mu;                       /* pthread mutex */
	long remaining[PACE_KINDS];     /* < 0: unknown; under mu */
	double reset[PACE_KINDS];       /* wall-clock seconds (time(NULL) scale) of the reset; under mu */
};

/* a pacer knowing nothing yet */
void pacer_init(struct pacer *p);
/* free it */
void pacer_free(struct pacer *p);
/* record that kind has remaining units until wall-clock reset (<= 0: unknown) */
void pacer_note(struct pacer *p, int kind, long remaining, double reset);
/* before a call that needs need[kind] units: sleep (through wire_sleep, at
 * most 60 s each) until the reset of each kind that has fewer remaining,
 * then count the call against what remains */
void pacer_wait(struct pacer *p, const long need[PACE_KINDS], const struct request *req);
/* an RFC 3339 time ("2026-11-24T16:30:05Z", fractions and offsets allowed)
 * as wall-clock seconds; -1 when it does not parse */
double pacer_time(const char *s);

struct http_response;

/* one HTTP provider's endpoint, shared by the calls of all its threads */
struct wire {
	char *url;              /* {base}{path} */
	char *base;             /* the base URL, as the messages name it */
	const char *origin;     /* where base came from: "base_url in mpbuild.yaml", the variable's
				 * name, or "the default" */
	long stall;             /* seconds without a byte before a call is abandoned */
	int stream;             /* stream answers (the settings' stream:) */
	struct pacer pace;
	atomic_int reached;     /* some try got an HTTP answer: refusals are transient from now on */
};

/* set w up for the base URL base_url (the setting; may be NULL), else $env,
 * else def, with path appended ("/v1/messages") */
void wire_open(struct wire *w, const struct settings *s, const char *env, const char *def, const char *path);
/* free what w owns */
void wire_close(struct wire *w);

/* how a provider takes a streamed answer apart: one call per SSE event (data
 * is NUL-terminated); nonzero stops the transfer */
struct wire_stream {
	int (*decode_event)(void *arg, const char *name, const char *data, size_t len);
	void *arg;
	struct call_progress progress;  /* what the provider adds to (answer_bytes, output_tokens) */
	int done;                       /* the provider saw the stream's end (message_stop, [DONE]) */
	long err_status;                /* an error event: the status its type names; 0: none */
	char *err;                      /* its message; owned */
};

/* POST body to w with headers after pacing for need, into *hr (zeroed by
 * the caller); with st and w->stream, asks for a stream and feeds each event
 * of a text/event-stream answer to st (any other answer, an error body say,
 * lands in hr->body as usual), calling req->progress after each.  Sets
 * res->latency.  Returns 0 when the caller should decode hr; else *res is
 * final: a base URL that refuses the first connection or does not resolve
 * is CALL_AUTH, naming it and where it came from */
int wire_post(struct wire *w, const char *const *headers, const char *body, const long need[PACE_KINDS],
	      const struct request *req, struct wire_stream *st, struct http_response *hr, struct call_result *res);
/* what every exchange's decoding starts with: retry-after, the status, a
 * connection error (CALL_RETRY), an error status (its class and the server's
 * message; CALL_AUTH names key_var).  1 when hr is a 2xx whose body (or
 * stream) the provider should now decode, 0 when *res is final */
int wire_preamble(const struct http_response *hr, const char *key_var, struct call_result *res);
/* the status the type of an error event names (overloaded_error: 529,
 * rate_limit_error: 429, ...; unknown: 500) */
long wire_error_status(const char *type);
/* record the error object e of an error event (whose data is data, len
 * bytes): the status its type (else code) names and its message */
void wire_stream_error(struct wire_stream *st, struct json_t *e, const char *data, size_t len);
/* what every streamed exchange's decoding starts with: an error event (as
 * the status it names), then wire_preamble, then a stream that ended before
 * its end marker (CALL_RETRY naming marker).  1 when the provider should now
 * decode what the events built, 0 when *res is final */
int wire_stream_end(const struct wire_stream *st, const struct http_response *hr, const char *key_var,
		    const char *marker, struct call_result *res);
/* free what st owns */
void wire_stream_free(struct wire_stream *st);
/* decode an unstreamed exchange: wire_preamble, then the body as JSON to
 * decode(o, body, len, status, max_tokens, res) */
void wire_decode(const struct http_response *hr, const char *key_var, int max_tokens, struct call_result *res,
		 void (*decode)(struct json_t *o, const char *body, size_t len, long status, int max_tokens,
				struct call_result *res));

#endif
