/* models.c: the model table.  Capabilities decide how an answer is asked for
 * (SPEC section 6); prices feed the ledger and the budget (SPEC section 5).
 * Prices per million tokens, from the providers' published pricing pages. */
#include "models.h"

#include <pthread.h>
#include <string.h>

/* model_lookup may be called from parallel provider calls */
static pthread_mutex_t over_mu = PTHREAD_MUTEX_INITIALIZER;

/*
 * Checked 2026-11 against Anthropic's pages (USD per million tokens), and
 * again 2026-12 (stored copies of the official pages):
 * - platform.claude.com/docs/en/about-claude/pricing ("Model pricing": base
 *   input, 5m and 1h cache writes, cache hits, output): Opus 5 and Opus 4.8
 *   $5/$6.25/$10/$0.50/$25; Opus 4.1 $15/$18.75/$30/$1.50/$75.
 * - the model overviews, platform.claude.com/docs/{lang}/models/NAME/overview:
 *   opus-5-5 $4/$5/$8/$0.20/$20 (cache hits 0.05x input, not 0.1x);
 *   sonnet-5 $2/$2.50/$4/$0.20/$10; opus-5 as above; haiku-5-5 $0.10/$0.50
 *   for prompts up to 100,000 tokens and $0.50/$2.50 over, writes
 *   $0.125/$0.20 and $0.625/$1 over; sonnet-5-5 $2/$2.50/$4/$10 with cache
 *   hits at $0.20 in the stored copy, which predates Haiku 5.5 (2026-10-07).
 * - platform.claude.com/docs/en/build-with-claude/prompt-caching: at most 4
 *   breakpoints; a breakpoint also finds a cached prefix at the block
 *   boundaries "up to approximately 20 blocks before" it; 5m writes 1.25x
 *   the input price, 1h writes 2x, reads 0.1x (less on the 5.5 models above).
 * - minimum cacheable prefixes: 1,024 for Opus 4.8
 *   (platform.claude.com/docs/en/about-claude/models/whats-new-claude-4-8),
 *   512 for Opus 5 (its "what's new" page, "down from 1,024 tokens on Claude
 *   Opus 4.8").
 * - platform.claude.com/docs/en/models/sonnet-5-5/whats-new-sonnet-5-5 and the
 *   opus-5-5 overview: "forced tool use returns an error" on Sonnet 5.5 and
 *   Opus 5.5 (forced_tool = 0).
 * - platform.claude.com/docs/en/build-with-claude/structured-outputs: GA for
 *   Sonnet 4.5/4.6, Opus 4.5/4.6, Haiku 4.5 and later; Opus 4.1 only had the
 *   public beta, so it gets the tool format.
 * Not confirmed on an official page, so taken from SPEC section 5 or from
 * third-party trackers that quote the official pages:
 * - sonnet-5-5 cache read $0.10: the cut of 2026-10-07 that SPEC and the
 *   pricing trackers' release notes of 2026-10-09/10 report (the official
 *   copy above, older, still shows $0.20).
 * - haiku-5-5 cache reads $0.01, and $0.05 above 100K prompt tokens, the band
 *   applying to every token of the call (SPEC; apidog.com and
 *   pricing-tracker release notes agree).
 * - sonnet-4-6, sonnet-4-5, haiku-4-5: the usual 1.25x/2x/0.1x multipliers
 *   on $3/$15 and $1/$5.
 * - minimum cacheable prefixes: 512 for Opus 5.5 and Sonnet 5.5, 2048 for
 *   Haiku 5.5 (SPEC: no stored official page lists the 5.5 models' rows);
 *   1024 for Sonnet 5, Sonnet 4.6/4.5, Opus 4.1; 4096 for Haiku 4.5 (the
 *   prompt-caching page as quoted in anthropic-sdk-python issue 1194).  A
 *   breakpoint under the real minimum is ignored by the API, never an error.
 * - sampling parameters: rejected with a 400 by Opus 4.7 and later and by every
 *   Claude 5 model (SPEC; "temperature is deprecated for this model").
 */
static const struct model_info table[] = {
	/* id, priced, in, out, w5m, w1h, read, band, b_in, b_out, b_w5m, b_w1h, b_read, min_cache,
	 * structured, forced_tool, sampling */
	{"claude-opus-5-5", 1, 4, 20, 5, 8, 0.20, 0, 0, 0, 0, 0, 0, 512, 1, 0, 0},
	{"claude-sonnet-5-5", 1, 2, 10, 2.5, 4, 0.10, 0, 0, 0, 0, 0, 0, 512, 1, 0, 0},
	{"claude-haiku-5-5", 1, 0.10, 0.50, 0.125, 0.20, 0.01, 100000, 0.50, 2.50, 0.625, 1.0, 0.05, 2048, 1, 1, 0},
	{"claude-opus-5", 1, 5, 25, 6.25, 10, 0.50, 0, 0, 0, 0, 0, 0, 512, 1, 1, 0},
	{"claude-sonnet-5", 1, 2, 10, 2.5, 4, 0.20, 0, 0, 0, 0, 0, 0, 1024, 1, 1, 0},
	{"claude-opus-4-8", 1, 5, 25, 6.25, 10, 0.50, 0, 0, 0, 0, 0, 0, 1024, 1, 1, 0},
	{"claude-sonnet-4-6", 1, 3, 15, 3.75, 6, 0.30, 0, 0, 0, 0, 0, 0, 1024, 1, 1, 1},
	{"claude-haiku-4-5", 1, 1, 5, 1.25, 2, 0.10, 0, 0, 0, 0, 0, 0, 4096, 1, 1, 1},
	{"claude-sonnet-4-5", 1, 3, 15, 3.75, 6, 0.30, 0, 0, 0, 0, 0, 0, 1024, 1, 1, 1},
	{"claude-opus-4-1", 1, 15, 75, 18.75, 30, 1.50, 0, 0, 0, 0, 0, 0, 1024, 0, 1, 1},
};

/* an entry of `prices:` merged with the built-in one, made once and kept for
 * the life of the process (callers hold the pointers, also across threads) */
struct override {
	struct model_info m;    /* m.id is owned */
	struct override *next;
};

static struct override *overrides;

const struct model_info *model_lookup(const struct settings *s, const char *id)
{
	static _Thread_local struct model_info unknown;
	const struct model_info *base = NULL;
	struct override *o;
	size_t i;

	for (i = 0; i < LEN(table); i++)
		if (strcmp(table[i].id, id) == 0)
			base = &table[i];
	for (i = 0; s && i < s->nprices; i++) {
		const struct price_entry *e = &s->prices[i];

		if (strcmp(e->model, id) != 0)
			continue;
		pthread_mutex_lock(&over_mu);
		/* matched by value, so that a plan loaded later with other prices gets its own entry */
		for (o = overrides; o; o = o->next)
			if (strcmp(o->m.id, id) == 0 && o->m.input == e->input && o->m.output == e->output &&
			    o->m.cache_write_5m == e->cache_write_5m && o->m.cache_write_1h == e->cache_write_1h &&
			    o->m.cache_read == e->cache_read)
				break;
		if (!o) {
			o = xcalloc(1, sizeof(*o));
			o->m = base ? *base : (struct model_info){0};
			o->m.id = xstrdup(id);
			o->m.priced = 1;
			o->m.input = e->input;
			o->m.output = e->output;
			o->m.cache_write_5m = e->cache_write_5m;
			o->m.cache_write_1h = e->cache_write_1h;
			o->m.cache_read = e->cache_read;
			o->m.band_tokens = 0;
			if (!base) {
				o->m.min_cache = 1024;
				o->m.structured = strncmp(id, "claude-", 7) == 0;
				o->m.forced_tool = 1;
			}
			o->next = overrides;
			overrides = o;
		}
		pthread_mutex_unlock(&over_mu);
		return &o->m;
	}
	if (base)
		return base;
	unknown = (struct model_info){0};
	unknown.id = id;
	unknown.min_cache = 1024;
	unknown.structured = strncmp(id, "claude-", 7) == 0;
	unknown.forced_tool = 1;
	return &unknown;
}

const char *model_answer_format(const struct settings *s, const char *id)
{
	const struct model_info *m;

	if (s && strcmp(s->answer_format, "auto") != 0)
		return s->answer_format;
	m = model_lookup(s, id);
	if (m->structured)
		return "json_schema";
	if (m->forced_tool)
		return "tool";
	return "text";
}

double model_cost(const struct model_info *m, const struct usage *u)
{
	long prompt = u->input + u->cache_write_5m + u->cache_write_1h + u->cache_read;
	int band = m->band_tokens > 0 && prompt > m->band_tokens;

	if (!m->priced)
		return 0;
	if (band)
		return ((double)u->input * m->band_input + (double)u->output * m->band_output +
			(double)u->cache_write_5m * m->band_cache_write_5m +
			(double)u->cache_write_1h * m->band_cache_write_1h +
			(double)u->cache_read * m->band_cache_read) / 1e6;
	return ((double)u->input * m->input + (double)u->output * m->output +
		(double)u->cache_write_5m * m->cache_write_5m + (double)u->cache_write_1h * m->cache_write_1h +
		(double)u->cache_read * m->cache_read) / 1e6;
}

void model_estimate(const struct model_info *m, double shared, double own, int max_tokens, double *lo, double *hi)
{
	double top = m->cache_write_1h > m->input ? m->cache_write_1h : m->input;

	if (!m->priced) {
		*lo = *hi = -1;
		return;
	}
	if (m->band_tokens && m->band_cache_write_1h > top)
		top = m->band_cache_write_1h;
	*lo = (shared * m->cache_read + own * m->input) / 1e6;
	*hi = ((shared + own) * top + max_tokens * (m->band_output > m->output ? m->band_output : m->output)) / 1e6;
}

void usage_add(struct usage *to, const struct usage *u)
{
	to->input += u->input;
	to->cache_write_5m += u->cache_write_5m;
	to->cache_write_1h += u->cache_write_1h;
	to->cache_read += u->cache_read;
	to->output += u->output;
}
