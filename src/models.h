/* models.h: the built-in model table (prices, price bands, minimum cacheable
 * prefix, capabilities) and its overrides from `prices:` in mpbuild.yaml. */
#ifndef MPBUILD_MODELS_H
#define MPBUILD_MODELS_H

#include "plan.h"

/* tokens of one call, by kind */
struct usage {
	long input;             /* uncached input tokens */
	long cache_write_5m;    /* tokens written to the 5-minute cache */
	long cache_write_1h;    /* tokens written to the 1-hour cache */
	long cache_read;        /* tokens read from the cache */
	long output;            /* output tokens, thinking included */
};

struct model_info {
	const char *id;                 /* model id as sent to the API */
	int priced;                     /* prices below are known */
	double input, output;           /* USD per million tokens */
	double cache_write_5m, cache_write_1h, cache_read;
	long band_tokens;               /* prompt tokens above which the band prices apply; 0: none */
	double band_input, band_output; /* band prices (USD per million) */
	double band_cache_write_5m, band_cache_write_1h, band_cache_read;
	int min_cache;                  /* minimum cacheable prefix in tokens */
	int structured;                 /* supports output_config.format json_schema */
	int forced_tool;                /* accepts tool_choice forcing a tool */
	int sampling;                   /* accepts temperature/top_p/top_k */
};

/* the entry for model id: `prices:` overrides first (kept for the life of the
 * process), then the built-in table; an unknown id gets a per-thread entry,
 * valid until that thread's next lookup of an unknown id, with priced = 0 and
 * conservative defaults (structured outputs for claude-* ids, else the
 * write_files tool). Never NULL; safe to call from parallel calls. */
const struct model_info *model_lookup(const struct settings *s, const char *id);
/* the answer format for a model: "json_schema", "tool" or "text" */
const char *model_answer_format(const struct settings *s, const char *id);
/* the cost in USD of usage u on model m; the band prices apply to every token
 * of a call whose prompt (input, cache writes and reads) passes band_tokens;
 * 0 for an unpriced model */
double model_cost(const struct model_info *m, const struct usage *u);
/* the cost range (USD) of one call on m with shared tokens of cached prefix
 * and own tokens of its own: lo reads the prefix from the cache and writes
 * nothing; hi pays every input token at the highest input-side price and
 * max_tokens of output at the highest output price.  -1 when unpriced */
void model_estimate(const struct model_info *m, double shared, double own, int max_tokens, double *lo, double *hi);

/* add u to the running total to */
void usage_add(struct usage *to, const struct usage *u);

#endif
