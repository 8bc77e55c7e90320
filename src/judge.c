/* judge.c: the answer checks that need nothing but the answer and the tree:
 * its JSON shape and sizes, and its paths.  An answer is untrusted input. */
#include "judge.h"
#include "confine.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void answer_free(struct answer *a)
{
	size_t i;

	for (i = 0; i < a->n; i++) {
		free(a->files[i].path);
		free(a->files[i].content);
	}
	free(a->files);
	free(a->summary);
	memset(a, 0, sizeof(*a));
}

int judge_structure(const char *json, struct answer *a, struct buffer *err)
{
	json_error_t je;
	json_t *o, *files, *f;
	size_t i;

	memset(a, 0, sizeof(*a));
	if (strlen(json) > ANSWER_MAX) {
		buf_printf(err, "structure: the answer is larger than %u MiB", ANSWER_MAX >> 20);
		return -1;
	}
	o = json_loads(json, JSON_REJECT_DUPLICATES, &je);
	if (!o) {
		buf_printf(err, "structure: the answer is not valid JSON: %s (at character %d)", je.text, je.position);
		return -1;
	}
	if (!json_is_object(o)) {
		buf_puts(err, "structure: the answer must be a JSON object with a \"files\" list");
		goto fail;
	}
	{
		const char *k;
		json_t *v;

		json_object_foreach(o, k, v) {
			if (strcmp(k, "files") != 0 && strcmp(k, "summary") != 0) {
				buf_printf(err, "structure: unexpected key \"%s\" in the answer (only \"files\" and \"summary\")", k);
				goto fail;
			}
		}
	}
	files = json_object_get(o, "files");
	if (!json_is_array(files)) {
		buf_puts(err, "structure: the answer has no \"files\" list");
		goto fail;
	}
	if (json_array_size(files) > ANSWER_FILES_MAX) {
		buf_printf(err, "structure: the answer has more than %d files", ANSWER_FILES_MAX);
		goto fail;
	}
	f = json_object_get(o, "summary");
	if (f && !json_is_null(f) && !json_is_string(f)) {
		buf_puts(err, "structure: \"summary\" must be a string");
		goto fail;
	}
	if (json_is_string(f))
		a->summary = xstrdup(json_string_value(f));
	a->files = xcalloc(json_array_size(files) + 1, sizeof(*a->files));
	json_array_foreach(files, i, f) {
		json_t *p = json_object_get(f, "path"), *c = json_object_get(f, "content");
		const char *k;
		json_t *v;

		if (!json_is_object(f) || !json_is_string(p) || !json_is_string(c)) {
			buf_printf(err, "structure: files[%zu] must be an object with string \"path\" and \"content\"", i);
			goto fail;
		}
		json_object_foreach(f, k, v) {
			if (strcmp(k, "path") != 0 && strcmp(k, "content") != 0) {
				buf_printf(err, "structure: unexpected key \"%s\" in files[%zu]", k, i);
				goto fail;
			}
		}
		if (json_string_length(c) > ANSWER_FILE_MAX) {
			buf_printf(err, "structure: %s is larger than %u MiB", json_string_value(p), ANSWER_FILE_MAX >> 20);
			goto fail;
		}
		a->files[a->n].path = xstrdup(json_string_value(p));
		a->files[a->n].len = json_string_length(c);
		a->files[a->n].content = xstrndup(json_string_value(c), a->files[a->n].len);
		a->n++;
	}
	json_decref(o);
	return 0;
fail:
	json_decref(o);
	answer_free(a);
	return -1;
}

int judge_confined(const char *root, const char *rel, struct buffer *err)
{
	struct buffer why = {0};
	int ok = confine_check(root, rel, &why);

	if (!ok)
		buf_printf(err, "paths: %s", buf_str(&why));
	buf_free(&why);
	return ok;
}

int judge_paths(struct answer *a, const struct task *t, const char *root, struct buffer *err)
{
	struct answer_file *sorted;
	size_t i, j;

	for (i = 0; i < a->n; i++) {
		const char *why = plan_path_problem(a->files[i].path);

		if (why) {
			buf_printf(err, "paths: \"%s\" %s", a->files[i].path, why);
			return -1;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(a->files[i].path, a->files[j].path) == 0) {
				buf_printf(err, "paths: %s is returned twice", a->files[i].path);
				return -1;
			}
		}
		for (j = 0; j < t->noutputs; j++)
			if (strcmp(a->files[i].path, t->outputs[j]) == 0)
				break;
		if (j == t->noutputs) {
			buf_printf(err, "paths: %s is not an output of %s (its outputs: ", a->files[i].path, t->id);
			for (j = 0; j < t->noutputs; j++)
				buf_printf(err, "%s%s", j ? ", " : "", t->outputs[j]);
			buf_putc(err, ')');
			return -1;
		}
	}
	sorted = xcalloc(t->noutputs + 1, sizeof(*sorted));
	for (j = 0; j < t->noutputs; j++) {
		for (i = 0; i < a->n; i++)
			if (strcmp(a->files[i].path, t->outputs[j]) == 0)
				break;
		if (i == a->n) {
			buf_printf(err, "paths: the answer lacks %s (every declared output must be returned)", t->outputs[j]);
			free(sorted);
			return -1;
		}
		sorted[j] = a->files[i];
		if (!judge_confined(root, t->outputs[j], err)) {
			free(sorted);
			return -1;
		}
	}
	free(a->files);
	a->files = sorted;
	return 0;
}
