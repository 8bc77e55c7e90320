/* anthropic.h: the Claude Messages API provider (anthropic.c). */
#ifndef MPBUILD_ANTHROPIC_H
#define MPBUILD_ANTHROPIC_H

#include "wire.h"

struct http_response;

/* the Messages API at base_url, else $ANTHROPIC_BASE_URL, else
 * https://api.anthropic.com; NULL with *exit_code 4 when ANTHROPIC_API_KEY is unset */
struct provider *anthropic_open(const struct settings *s, int *exit_code);
/* the request body for req on model m: compact JSON, keys in a fixed order,
 * cache breakpoints on layers 1-3 whose prefix reaches m->min_cache; caller frees */
char *anthropic_body(const struct request *req, const struct model_info *m);
/* turn one (unstreamed) Messages API exchange into *res (zeroed by the
 * caller): status class, answer, usage, stop reason, retry-after and a message */
void anthropic_decode(const struct http_response *hr, int max_tokens, struct call_result *res);

#endif
