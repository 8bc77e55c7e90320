/* provider.h: the provider interface.  A provider takes a neutral request and
 * returns the answer object, the usage and an error class; it knows nothing of
 * plans.  Implementations: replay.c, and anthropic.c and openai.c over http.c.
 * provider.c also holds what the HTTP providers share: error classes as the
 * official SDKs see them, the retry loop with backoff, and rate-limit pacing. */
#ifndef MPBUILD_PROVIDER_H
#define MPBUILD_PROVIDER_H

#include "models.h"
#include "plan.h"
#include "prompt.h"

enum call_status {
	CALL_OK,                /* answer holds the answer object */
	CALL_RETRY,             /* transient: connection, 429, 5xx, 529, cut-off body; may retry */
	CALL_FAIL,              /* this target cannot be answered (400, 404, 413, no recording, max_tokens) */
	CALL_AUTH,              /* the provider is unusable (no key, 401, 403): stop the run, exit 4 */
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
/* the provider the settings name (or replay on cassette when replay != NULL);
 * NULL with a message when it cannot be set up (exit 4 for a missing key) */
struct provider *provider_open(const struct settings *s, const char *name, const char *replay, int *exit_code);
/* the replay provider on a cassette directory */
struct provider *replay_open(const char *cassette, const char *family);

struct http_response;
struct json_t;

/* the Anthropic Messages API at base_url, else $ANTHROPIC_BASE_URL, else
 * https://api.anthropic.com; NULL with *exit_code 4 when ANTHROPIC_API_KEY is unset */
struct provider *anthropic_open(const struct settings *s, int *exit_code);
/* the request body for req on model m: compact JSON, keys in a fixed order,
 * cache breakpoints on layers 1-3 whose prefix reaches m->min_cache; caller frees */
char *anthropic_body(const struct request *req, const struct model_info *m);
/* turn one Messages API exchange into *res (zeroed by the caller): status
 * class, answer, usage, stop reason, retry-after and a message */
void anthropic_decode(const struct http_response *hr, int max_tokens, struct call_result *res);

/* OpenAI Chat Completions at base_url, else $OPENAI_BASE_URL, else
 * https://api.openai.com/v1; NULL with *exit_code 4 when OPENAI_API_KEY is
 * unset and the base URL is not a local http://127.0.0.1 or localhost one */
struct provider *openai_open(const struct settings *s, int *exit_code);
/* the request body for req on model m; official: for api.openai.com (sends
 * max_completion_tokens only; local servers also get max_tokens); caller frees */
char *openai_body(const struct request *req, const struct model_info *m, int official);
/* turn one Chat Completions exchange into *res (zeroed by the caller) */
void openai_decode(const struct http_response *hr, int max_tokens, struct call_result *res);

struct ledger_row;
/* the ledger row of try r on model m (SPEC 5): token counts, cost (< 0 when
 * m has no known price), latency and outcome; run, target, attempt, try and
 * model are the caller's */
void provider_ledger_row(struct ledger_row *row, const struct call_result *r, const struct model_info *m);
/* the budget reservation of one try of req on model m, in USD (SPEC 10.12):
 * the request's bytes (an upper bound on tokens) at the highest input-side
 * price that could apply plus max_tokens at the highest output price */
double provider_reservation(const struct model_info *m, const struct request *req);
/* 1 when try r may have been billed in full although it gave no usage (a
 * 2xx cut off, or a dropped connection): it keeps its whole reservation */
int provider_may_be_billed(const struct call_result *r);

/* tries in all, the first included */
#define PROVIDER_TRIES 5

/* call pv with retries: connection errors, 408, 409, 429, 5xx and 529 (or as
 * x-should-retry says) are tried again after exponential backoff with jitter
 * (1 s doubling, 60 s cap, PROVIDER_TRIES in all) or the retry-after the
 * server gave.  on_try (may be NULL) sees every try, so each can become a
 * ledger row; when it returns nonzero no further try is made (a budget).
 * *res (zeroed by the caller) holds the last try's result */
void provider_call_retrying(struct provider *pv, const struct request *req, struct call_result *res,
			    int (*on_try)(void *arg, const struct call_result *r, int try_no), void *arg);
/* the wait before try try_no + 1 after a retryable failure: retry_after when
 * the server gave one (>= 0, at most 10 minutes), else 2^(try_no-1) s capped at
 * 60 s, less up to 25% jitter; not yet scaled */
double provider_backoff(int try_no, double retry_after);
/* sleep seconds x $MPBUILD_BACKOFF_SCALE (a testing knob: 0.01 makes every
 * backoff and pacing wait 100 times shorter); -1 when cut short by provider_interrupt */
int provider_sleep(double seconds);
/* seconds without a byte before a call is abandoned: $MPBUILD_STALL_TIMEOUT,
 * else 600 */
long provider_stall(void);
/* level 1: no more retries or pacing waits; level 2: also abort calls in
 * flight.  Async-signal-safe, for the first and second Ctrl-C */
void provider_interrupt(int level);

/* the error class of an HTTP status as the official SDKs decide it:
 * x-should-retry ("true"/"false", may be NULL) first, then 408, 409, 429 and
 * >= 500 retry; 401 and 403 are CALL_AUTH whatever the header says */
enum call_status provider_http_class(long status, const char *should_retry);
/* seconds to wait from the retry-after-ms (milliseconds) or retry-after
 * (seconds or an HTTP date) headers, either may be NULL; -1 when neither says */
double provider_retry_after(const char *ms, const char *secs);
/* the answer object as compact JSON with its key order kept; lenient also
 * accepts prose or code fences around the object (plain-text answers); NULL
 * with *why (malloc'd) when it is not a JSON object */
char *provider_answer_json(const char *text, size_t len, int lenient, char **why);
/* a JSON string of n bytes, invalid UTF-8 replaced by U+FFFD so no byte is dropped */
struct json_t *provider_json_string(const char *s, size_t n);
/* a short one-line excerpt of an error body for messages, redacted before it
 * is cut short; caller frees */
char *provider_excerpt(const char *s, size_t n);
/* replace with "[redacted]" every secret a provider message may echo: the
 * values of ANTHROPIC_API_KEY and OPENAI_API_KEY, the token after "Bearer",
 * the value after x-api-key, api-key or api_key and ':' or '=' (quoted or
 * not), and words that look like keys (sk-ant-..., sk-...).  Every message
 * provider_call_retrying returns has been through it */
void provider_redact(struct buffer *b);

enum { PACE_REQUESTS, PACE_INPUT, PACE_OUTPUT, PACE_KINDS };

/* what the rate-limit headers last said, shared by the calls of one provider */
struct pacer {
	void *mu;                       /* pthread mutex */
	long remaining[PACE_KINDS];     /* < 0: unknown */
	double reset[PACE_KINDS];       /* wall-clock seconds (time(NULL) scale) of the reset */
};

/* a pacer knowing nothing yet */
void pacer_init(struct pacer *p);
/* free it */
void pacer_free(struct pacer *p);
/* record that kind has remaining units until wall-clock reset (<= 0: unknown) */
void pacer_note(struct pacer *p, int kind, long remaining, double reset);
/* before a call that needs need[kind] units: sleep (through provider_sleep,
 * at most 60 s each) until the reset of each kind that has fewer remaining,
 * then count the call against what remains */
void pacer_wait(struct pacer *p, const long need[PACE_KINDS]);
/* an RFC 3339 time ("2026-11-24T16:30:05Z", fractions and offsets allowed)
 * as wall-clock seconds; -1 when it does not parse */
double pacer_time(const char *s);

#endif
