/* openai.h: the OpenAI Chat Completions provider (openai.c). */
#ifndef MPBUILD_OPENAI_H
#define MPBUILD_OPENAI_H

#include "wire.h"

struct http_response;

/* OpenAI Chat Completions at base_url, else $OPENAI_BASE_URL, else
 * https://api.openai.com/v1; NULL with *exit_code 4 when OPENAI_API_KEY is
 * unset and the base URL is not a local http://127.0.0.1 or localhost one */
struct provider *openai_open(const struct settings *s, int *exit_code);
/* the request body for req on model m; official: for api.openai.com (sends
 * max_completion_tokens only; local servers also get max_tokens); caller frees */
char *openai_body(const struct request *req, const struct model_info *m, int official);
/* turn one (unstreamed) Chat Completions exchange into *res (zeroed by the caller) */
void openai_decode(const struct http_response *hr, int max_tokens, struct call_result *res);

#endif
