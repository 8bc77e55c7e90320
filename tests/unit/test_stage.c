/* test_stage.c: a stage's JSON answer becomes its plan file and reaches the
 * tasks unchanged: a string (the discovery summary here) written by
 * stage_render reads back as the same string, and shown in a task's layer 2
 * ("summary:" and yemit_value, as prompt.c writes it) it reads back as the
 * same text, in one style: a literal block with no quotes inside, or a quoted
 * scalar, never a block holding a quoted one. */
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

TEST(summary_round_trip)
{
	size_t i;

	for (i = 0; i < LEN(values); i++) {
		json_t *j = json_pack("{s:s}", "summary", values[i]);
		char *answer = json_dumps(j, 0), *why = NULL;
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
		/* -> a task's layer 2, as prompt.c writes it */
		if (s) {
			buf_puts(&layer, "summary:");
			yemit_value(&layer, s, 2);
			l = parse(buf_str(&layer));
			CHECK(l != NULL);
			if (l)
				CHECK_STR(ymap_get(l->root, "summary")->str, values[i]);
			/* a block is never followed by a quoted scalar (the old bug) */
			CHECK(strncmp(buf_str(&layer), "summary: |", 10) != 0 || buf_str(&layer)[strcspn(buf_str(&layer), "\n") + 3] != '"');
		}
		if (l)
			ydoc_free(l);
		if (d)
			ydoc_free(d);
		buf_free(&file);
		buf_free(&layer);
		free(why);
		free(answer);
		json_decref(j);
	}
}
