/* judge.c: the answer checks that need nothing but the answer and the tree:
 * its JSON shape and sizes, and its paths.  An answer is untrusted input. */
#include "judge.h"
#include "check.h"
#include "confine.h"
#include "yaml.h"

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

struct box *judge_box(const char *root, const struct sandbox_limits *lim, const struct task *t,
		      const struct answer *a, struct buffer *err)
{
	struct box *box = box_open(root, lim);
	size_t i;

	if (!box) {
		buf_puts(err, "cannot make a box for the checks (see above)");
		return NULL;
	}
	for (i = 0; i < t->noutputs; i++) {
		struct buffer why = {0};
		char *real = confine_resolve(root, t->outputs[i], &why);

		if (!real || box_put(box, real, a->files[i].content, a->files[i].len) < 0) {
			if (real)
				buf_printf(err, "cannot put %s in the box: %s", t->outputs[i], strerror(errno));
			else
				buf_printf(err, "paths: %s", buf_str(&why));
			free(real);
			buf_free(&why);
			box_close(box);
			return NULL;
		}
		free(real);
		buf_free(&why);
	}
	return box;
}

/* the in-process check of a .json or .yaml file: 1 passed, 0 not such a
 * file, -1 failed (reason in err) */
static int syntax_inline(const char *out, const struct answer_file *f, struct buffer *err)
{
	size_t len = strlen(out);

	if (len > 5 && strcmp(out + len - 5, ".json") == 0) {
		json_error_t je;
		json_t *v = json_loadb(f->content, f->len, 0, &je);

		if (!v)
			return buf_printf(err, "syntax: %s:%d:%d: %s", out, je.line, je.column, je.text), -1;
		json_decref(v);
		return 1;
	}
	if ((len > 5 && strcmp(out + len - 5, ".yaml") == 0) || (len > 4 && strcmp(out + len - 4, ".yml") == 0)) {
		struct ydoc *d = ydoc_parse(out, f->content, f->len);

		if (!d)
			return buf_printf(err, "syntax: %s is not valid YAML (the message above names the place)", out), -1;
		ydoc_free(d);
		return 1;
	}
	return 0;
}

int judge_syntax(const struct task *t, const struct answer *a, const struct judge_env *env, struct buffer *err)
{
	size_t i, j;

	for (i = 0; i < t->noutputs; i++) {
		const char *out = t->outputs[i], *base = strrchr(out, '/');
		int inl = syntax_inline(out, &a->files[i], err);

		if (inl < 0)
			return -1;
		if (inl > 0)
			continue;
		base = base ? base + 1 : out;
		for (j = 0; t->r && j < t->r->nvalidate; j++) {
			const struct validator *v = &t->r->validate[j];
			struct buffer o = {0};
			char **argv;
			int rc;

			if (!glob_match(v->glob, base) && !glob_match(v->glob, out))
				continue;
			argv = check_argv(&v->argv, out);
			rc = env->run(env->ctx, env->box, argv, env->timeout, &o);
			if (rc == RUN_NOTFOUND) {
				if (!htab_get(env->warned, v->argv.v[0])) {
					htab_put(env->warned, v->argv.v[0], (void *)1);
					warn("validator %s is not installed; %s files are not syntax-checked", v->argv.v[0], v->glob);
				}
			} else if (rc != 0) {
				buf_printf(err, "syntax: %s failed on %s (%s %d):\n%s", argv[0], out,
					   rc == RUN_TIMEOUT ? "timed out after" : "exit status",
					   rc == RUN_TIMEOUT ? env->timeout : rc, check_tail(buf_str(&o), 50));
				check_argv_free(argv);
				buf_free(&o);
				return -1;
			}
			check_argv_free(argv);
			buf_free(&o);
			break;
		}
	}
	return 0;
}

/* append o to the log of the run's checks of target */
static void append_log(const char *logdir, const char *log, const struct buffer *o)
{
	struct buffer all = {0};

	mkdirs(logdir);
	read_file(log, &all, 64u << 20);
	buf_add(&all, o->data, o->len);
	write_file_atomic(log, all.data, all.len);
	buf_free(&all);
}

int judge_checks(const struct task *t, const struct judge_env *env, struct buffer *err)
{
	char *logdir = xasprintf("%s/cache/logs/%ld", env->root, env->run_no), *log = xasprintf("%s/%s.log", logdir, t->id);
	size_t i, k;
	int rc = 0;

	for (i = 0; i < t->ncheck && rc == 0; i++) {
		struct buffer o = {0};

		buf_puts(&o, "$");
		for (k = 0; k < t->check[i].c; k++)
			buf_printf(&o, " %s", t->check[i].v[k]);
		buf_putc(&o, '\n');
		crashpoint("trial-check");
		rc = env->run(env->ctx, env->box, t->check[i].v, env->timeout, &o);
		buf_printf(&o, "[exit %d]\n", rc);
		append_log(logdir, log, &o);
		if (rc != 0) {
			buf_printf(err, "checks: `%s", t->check[i].v[0]);
			for (k = 1; k < t->check[i].c; k++)
				buf_printf(err, " %s", t->check[i].v[k]);
			if (rc == RUN_TIMEOUT)
				buf_printf(err, "` was killed after %d s (log: %s); its last lines:\n%s", env->timeout, log,
					   check_tail(buf_str(&o), 50));
			else if (rc == RUN_NOTFOUND)
				buf_printf(err, "`: %s is not installed", t->check[i].v[0]);
			else
				buf_printf(err, "` exited %d (log: %s); its last lines:\n%s", rc, log, check_tail(buf_str(&o), 50));
		}
		buf_free(&o);
	}
	free(logdir);
	free(log);
	return rc == 0 ? 0 : -1;
}
