/* fuzz_rules.c: rules/NAME.yaml as plan_load reads it.  The file is named
 * after the input's first "name: X" line when X is a plain word, so a rule
 * whose name matches its file gets past that check and is matched against
 * the scratch masterplan's outputs. */
#include "fuzz.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* the rule file name for the input: NAME.yaml from "name: NAME", else fuzz.yaml */
static char *rule_file(const uint8_t *data, size_t size)
{
	static const char key[] = "name: ";
	const char *s = (const char *)data, *end = s + size, *nl;

	for (; s < end; s = nl ? nl + 1 : end) {
		const char *w = s + strlen(key), *e = w;

		nl = memchr(s, '\n', (size_t)(end - s));
		if ((size_t)(end - s) <= strlen(key) || memcmp(s, key, strlen(key)) != 0)
			continue;
		while (e < end && e - w < 64 && ((*e >= 'a' && *e <= 'z') || (*e >= '0' && *e <= '9') || *e == '_' || *e == '-'))
			e++;
		if (e > w && (e == end || *e == '\n'))
			return xasprintf("rules/%.*s.yaml", (int)(e - w), w);
		break;
	}
	return xstrdup("rules/fuzz.yaml");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *rel = rule_file(data, size);

	fuzz_plan_file(rel, data, size);
	free(rel);
	return 0;
}
