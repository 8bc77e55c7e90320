/* provider.h: the provider interface the engine calls.  A provider takes a
 * neutral request and returns the answer object, the usage and an error
 * class; it knows nothing of plans.  provider.c is the table (replay.c,
 * anthropic.c, openai.c) and what the engine asks of any provider: the retry
 * loop with backoff, ledger rows and budget reservations.  The providers and
 * what they share (wire.h) sit below it and never call up into it. */
#ifndef MPBUILD_PROVIDER_H
#define MPBUILD_PROVIDER_H

#include "anthropic.h"
#include "openai.h"
#include "replay.h"
#include "wire.h"

/* the provider the settings name (or replay on cassette when replay != NULL);
 * NULL with a message when it cannot be set up (exit 4 for a missing key) */
struct provider *provider_open(const struct settings *s, const char *name, const char *replay, int *exit_code);

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
 * 2xx cut off, a stream cut before its end, or a dropped connection): it
 * keeps its whole reservation */
int provider_may_be_billed(const struct call_result *r);

/* tries in all, the first included */
#define PROVIDER_TRIES 5

/* call pv with retries: connection errors, 408, 409, 429, 5xx and 529 (or as
 * x-should-retry says, or as a stream's error event names them) are tried
 * again after exponential backoff with jitter (1 s doubling, 60 s cap,
 * PROVIDER_TRIES in all) or the retry-after the server gave.  on_try (may be
 * NULL) sees every try, so each can become a ledger row; when it returns
 * nonzero no further try is made (a budget).  Every message in *res has been
 * through wire_redact.  *res (zeroed by the caller) holds the last try's result */
void provider_call_retrying(struct provider *pv, const struct request *req, struct call_result *res,
			    int (*on_try)(void *arg, const struct call_result *r, int try_no), void *arg);
/* the wait before try try_no + 1 after a retryable failure: retry_after when
 * the server gave one (>= 0, at most 10 minutes), else 2^(try_no-1) s capped at
 * 60 s, less up to 25% jitter; not yet scaled */
double provider_backoff(int try_no, double retry_after);
/* level 1: no more retries or pacing waits; level 2: also abort calls in
 * flight.  Async-signal-safe, for the first and second Ctrl-C */
void provider_interrupt(int level);

#endif
