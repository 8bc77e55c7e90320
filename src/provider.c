/* provider.c: the provider table and what the engine asks of any provider:
 * choosing one from the settings, the retry loop with backoff, ledger rows
 * and budget reservations.  It calls down into the providers (through
 * provider_open and the struct provider they fill) and into wire.c. */
#include "provider.h"
#include "state.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_CAP 60.0        /* seconds */
#define RETRY_AFTER_MAX 600.0   /* a longer retry-after is taken as bogus */

struct provider *provider_open(const struct settings *s, const char *name, const char *replay, int *exit_code)
{
	const char *family = strcmp(s->provider, "openai") == 0 ? "openai" : "anthropic";

	*exit_code = EXIT_BADINPUT;    /* for the replay cases below; the HTTP providers set their own */
	if (!name)
		name = s->provider;
	if (replay)
		return replay_open(replay, family);
	if (strcmp(name, "replay") == 0) {
		const char *c = getenv("MPBUILD_CASSETTE");

		if (!c || !*c) {
			error("provider replay needs a cassette: --replay CASSETTE (or MPBUILD_CASSETTE)");
			return NULL;
		}
		return replay_open(c, family);
	}
	if (strcmp(name, "anthropic") == 0)
		return anthropic_open(s, exit_code);
	if (strcmp(name, "openai") == 0)
		return openai_open(s, exit_code);
	error("unknown provider %s (expected anthropic, openai or replay)", name);
	*exit_code = EXIT_BADINPUT;
	return NULL;
}

void provider_interrupt(int level)
{
	wire_interrupt(level);
}

/* a jitter source that needs no shared state: the clock's low bits, mixed */
static double jitter(void)
{
	struct timespec ts;
	uint64_t x;

	clock_gettime(CLOCK_REALTIME, &ts);
	x = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_sec;
	x ^= x >> 31;
	x *= 0xBF58476D1CE4E5B9ull;
	x ^= x >> 27;
	return (double)(x >> 11) / 9007199254740992.0;
}

double provider_backoff(int try_no, double retry_after)
{
	double d = 1;
	int i;

	if (retry_after >= 0 && retry_after <= RETRY_AFTER_MAX)
		return retry_after;
	for (i = 1; i < try_no && d < BACKOFF_CAP; i++)
		d *= 2;
	if (d > BACKOFF_CAP)
		d = BACKOFF_CAP;
	/* the SDKs' jitter: up to a quarter less, so parallel clients spread out */
	return d * (1 - 0.25 * jitter());
}

void provider_ledger_row(struct ledger_row *row, const struct call_result *r, const struct model_info *m)
{
	row->input = r->usage.input;
	row->cache_write = r->usage.cache_write_5m + r->usage.cache_write_1h;
	row->cache_write_1h = r->usage.cache_write_1h;
	row->cache_read = r->usage.cache_read;
	row->output = r->usage.output;
	row->cost = m->priced ? model_cost(m, &r->usage) : -1;
	row->latency = r->latency;
	row->outcome = r->status == CALL_OK      ? "ok"
		       : r->status == CALL_RETRY ? "retry"
		       : r->status == CALL_AUTH  ? "auth"
						 : "failed";
}

/* s (owned) with its secrets redacted */
static char *redact_str(char *s)
{
	struct buffer b = {0};

	if (!s)
		return NULL;
	buf_puts(&b, s);
	free(s);
	wire_redact(&b);
	return buf_take(&b);
}

double provider_reservation(const struct model_info *m, const struct request *req)
{
	double in = m->input, out = m->output, bytes = 0;
	const double p[] = {m->cache_write_5m, m->cache_write_1h, m->band_input, m->band_cache_write_5m,
			    m->band_cache_write_1h};
	size_t i;

	for (i = 0; i < LEN(p); i++)
		if (p[i] > in)
			in = p[i];
	if (m->band_output > out)
		out = m->band_output;
	for (i = 0; i < NLAYERS; i++)
		bytes += (double)req->layer_len[i];
	bytes += req->feedback ? (double)strlen(req->feedback) : 0;
	bytes += strlen(req->schema);
	return (bytes * in + (double)req->max_tokens * out) / 1e6;
}

int provider_may_be_billed(const struct call_result *r)
{
	return r->status == CALL_RETRY && (r->http_status == 0 || (r->http_status >= 200 && r->http_status < 300));
}

void provider_call_retrying(struct provider *pv, const struct request *req, struct call_result *res,
			    int (*on_try)(void *arg, const struct call_result *r, int try_no), void *arg)
{
	int try_no;

	for (try_no = 1;; try_no++) {
		int stop;

		call_result_clear(res);
		pv->call(pv, req, res);
		/* every provider message passes here before it is stored, printed or logged */
		res->error = redact_str(res->error);
		stop = on_try ? on_try(arg, res, try_no) : 0;
		if (res->status != CALL_RETRY)
			return;
		if (stop) {
			char *e = xasprintf("%s (not retried)", res->error ? res->error : "transient error");

			free(res->error);
			res->error = e;
			return;
		}
		if (try_no == PROVIDER_TRIES) {
			char *e = xasprintf("%s (gave up after %d tries)", res->error ? res->error : "transient error", PROVIDER_TRIES);

			free(res->error);
			res->error = e;
			return;
		}
		if (wire_interrupted() || wire_sleep(provider_backoff(try_no, res->retry_after)) < 0) {
			char *e = xasprintf("%s (not retried: interrupted)", res->error ? res->error : "transient error");

			free(res->error);
			res->error = e;
			return;
		}
	}
}

