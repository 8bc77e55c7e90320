/* test_stage.c: a stage's JSON answer becomes its plan file and reaches the
 * tasks unchanged: a string (the discovery summary here) written by
 * stage_render reads back as the same string, and shown in a task's layer 2
 * under "summary: |" (yemit of the scalar) it is a literal block holding the
 * same text, with no quotes or escapes of another style inside it. */
#include "unit.h"
#include "helpers.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "stage.h"
#include "yaml.h"

static const char *const values[] = {
	"one line",
	"Goal: count words; # not a comment",
	"\"quoted\" from the start: and 'single' ones",
	"two\nlines",
	"ends with a line break\n",
	"ends with two\n\n",
	"trailing spaces  \nand a tab\t\nthen: \"more\" # here",
	"a line\n  indented under it\n\nafter an empty line",
	"  leading spaces\nsecond",
	"yes",
	"- a dash: first",
	"x \\n is not a line break",
};

/* parse text quietly; NULL when it does not parse */
static struct ydoc *parse(const char *text)
{
	struct ydoc *d;

	capture_begin();
	d = ydoc_parse("f.yaml", text, strlen(text));
	free(capture_end());
	return d;
}

/* s without its final line breaks, plus one: what a block with clip chomping holds */
static char *clipped(const char *s)
{
	size_t n = strlen(s);

	while (n && s[n - 1] == '\n')
		n--;
	return xasprintf("%.*s\n", (int)n, s);
}

TEST(summary_round_trip)
{
	size_t i;

	for (i = 0; i < LEN(values); i++) {
		json_t *j = json_pack("{s:s}", "summary", values[i]);
		char *answer = json_dumps(j, 0), *why = NULL, *want = clipped(values[i]);
		struct buffer file = {0}, layer = {0};
		struct ydoc *d, *l = NULL;
		const struct ynode *s;

		/* the JSON answer -> plans/discovery.yaml -> the same string */
		CHECK(stage_render(answer, &file, &why) == 0);
		CHECK(strstr(buf_str(&file), "\n...\n") == NULL);
		d = parse(buf_str(&file));
		s = d ? ymap_get(d->root, "summary") : NULL;
		CHECK(s != NULL);
		if (s)
			CHECK_STR(s->str, values[i]);
		/* -> a task's layer 2: "summary: |" and the text as its block */
		if (s) {
			buf_puts(&layer, "summary: |\n");
			yemit(&layer, s, 2);
			if (values[i][0] != ' ') {
				l = parse(buf_str(&layer));
				CHECK(l != NULL);
				if (l)
					CHECK_STR(ymap_get(l->root, "summary")->str, want);
			}
			/* the first line as it is, never quoted: a leading space is
			 * taken for indentation, but nothing is escaped */
			CHECK(strncmp(buf_str(&layer) + 13, values[i], strcspn(values[i], "\n")) == 0);
			if (!strchr(values[i], '"'))
				CHECK(strchr(buf_str(&layer), '"') == NULL);
		}
		if (l)
			ydoc_free(l);
		if (d)
			ydoc_free(d);
		buf_free(&file);
		buf_free(&layer);
		free(want);
		free(why);
		free(answer);
		json_decref(j);
	}
}
