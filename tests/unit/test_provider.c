/* test_provider.c: what provider.c does to every provider message: the
 * redaction of keys and tokens a server echoes, and excerpts that never keep
 * part of a key. */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "provider.h"

#define AKEY "sk-ant-api03-Zx9_SECRET-anthropic-0123456789"
#define OKEY "local-secret-4711"

/* s after wire_redact, in a static buffer */
static const char *redact(const char *s)
{
	static char out[1024];
	struct buffer b = {0};

	buf_puts(&b, s);
	wire_redact(&b);
	snprintf(out, sizeof(out), "%s", buf_str(&b));
	buf_free(&b);
	return out;
}

static void keys(void)
{
	setenv("ANTHROPIC_API_KEY", AKEY, 1);
	setenv("OPENAI_API_KEY", OKEY, 1);
}

TEST(redact_env_keys)
{
	keys();
	CHECK_STR(redact("invalid key " AKEY " given"), "invalid key [redacted] given");
	CHECK_STR(redact("key=" OKEY "," OKEY), "key=[redacted],[redacted]");
	/* inside a word too: the value is the secret, wherever it stands */
	CHECK_STR(redact("x" OKEY "y"), "x[redacted]y");
	/* a key too short to tell from text is left to the patterns */
	setenv("OPENAI_API_KEY", "abc", 1);
	CHECK_STR(redact("abc abc"), "abc abc");
	unsetenv("ANTHROPIC_API_KEY");
	unsetenv("OPENAI_API_KEY");
	CHECK_STR(redact("nothing here"), "nothing here");
}

/* what the patterns do, with no key in the environment: {input, output} */
static const char *const patterns[][2] = {
	{"Authorization: Bearer abc.DEF-123_x=", "Authorization: Bearer [redacted]"},
	{"got authorization: bearer   tok3n-tok3n, more", "got authorization: bearer   [redacted], more"},
	{"x-api-key: hunter22", "x-api-key: [redacted]"},
	{"{\"x-api-key\": \"hunter22\", \"a\": 1}", "{\"x-api-key\": \"[redacted]\", \"a\": 1}"},
	{"X-Api-Key=hunter22; next", "X-Api-Key=[redacted]; next"},
	{"'api_key': 'hunter22'", "'api_key': '[redacted]'"},
	{"api-key:hunter22", "api-key:[redacted]"},
	{"Incorrect API key provided: sk-proj-abcdEFGH1234.", "Incorrect API key provided: [redacted]."},
	{"(sk-ant-api03-aaaaaaaaaaaa)", "([redacted])"},
	/* names alone, as in mpbuild's own hints and the servers' messages, stay */
	{"invalid x-api-key", "invalid x-api-key"},
	{"bad; check ANTHROPIC_API_KEY", "bad; check ANTHROPIC_API_KEY"},
	{"using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
	 "using Bearer auth (i.e. Authorization: Bearer [redacted])."},
	{"Bearer", "Bearer"},
	/* too short to be a key, or part of another word */
	{"sk-learn and task-abcdefghijkl", "sk-learn and task-abcdefghijkl"},
	{"risk-abcdefghijklmn", "risk-abcdefghijklmn"},
};

TEST(redact_patterns)
{
	size_t i;

	unsetenv("ANTHROPIC_API_KEY");
	unsetenv("OPENAI_API_KEY");
	for (i = 0; i < LEN(patterns); i++)
		CHECK_STR(redact(patterns[i][0]), patterns[i][1]);
}

TEST(redact_is_idempotent)
{
	const char *once;
	char copy[1024];

	keys();
	once = redact("Bearer " OKEY " x-api-key: " AKEY " \"x-api-key\":\"" AKEY "\"");
	snprintf(copy, sizeof(copy), "%s", once);
	CHECK_STR(copy, "Bearer [redacted] x-api-key: [redacted] \"x-api-key\":\"[redacted]\"");
	CHECK_STR(redact(copy), copy);
	unsetenv("ANTHROPIC_API_KEY");
	unsetenv("OPENAI_API_KEY");
}

TEST(excerpt_never_keeps_part_of_a_key)
{
	char body[400];
	char *e;

	keys();
	/* the key straddles the 200-byte cut: redacted first, then cut */
	memset(body, 'a', 190);
	body[190] = ' ';
	snprintf(body + 191, sizeof(body) - 191, "%s", AKEY);
	e = wire_excerpt(body, strlen(body));
	CHECK(strstr(e, "sk-ant") == NULL);
	CHECK(strstr(e, "Zx9") == NULL);
	CHECK(strstr(e, "[redac") != NULL);
	free(e);
	e = wire_excerpt("no key: " OKEY, strlen("no key: " OKEY));
	CHECK_STR(e, "no key: [redacted]");
	free(e);
	unsetenv("ANTHROPIC_API_KEY");
	unsetenv("OPENAI_API_KEY");
}
