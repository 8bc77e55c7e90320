/* replay.c: the offline provider.  A cassette is a directory of JSON entries
 * {key, target, attempt, request, answer} named KEYHEX-ATTEMPT.json (SPEC
 * 10.10).  Nothing is ever invented: a request with no recording fails its
 * target, naming the nearest recording for it and the first layer that differs. */
#include "archive.h"
#include "replay.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct replay {
	char *dir;
	int temp;               /* dir was extracted from a .tar.zst: remove it at the end */
};

static const char *const layer_names[NLAYERS] = {"layer 1 (instructions and schema)", "layer 2 (the project)",
						 "layer 3 (the rule)", "layer 4 (the task)"};

/* why the recording o differs from req, as a static phrase */
static const char *difference(json_t *o, const struct request *req)
{
	json_t *rq = json_object_get(o, "request"), *layers = json_object_get(rq, "layers");
	const char *m = json_string_value(json_object_get(rq, "model"));
	int i;

	if (m && strcmp(m, req->model) != 0)
		return "the model";
	for (i = 0; i < NLAYERS; i++) {
		json_t *l = json_array_get(layers, (size_t)i);

		if (!json_is_string(l) || json_string_length(l) != req->layer_len[i] ||
		    memcmp(json_string_value(l), req->layer[i], req->layer_len[i]) != 0)
			return layer_names[i];
	}
	if (json_integer_value(json_object_get(rq, "max_tokens")) != req->max_tokens)
		return "max_tokens";
	return "the key only (checks, validators, retries or the prompt format version)";
}

/* a miss: explain it with the nearest recording for the same target */
static char *miss(struct replay *r, const struct request *req)
{
	DIR *d = opendir(r->dir);
	struct dirent *e;
	char *best = NULL;
	const char *why = NULL;
	int best_score = 0;

	if (!d)
		return xasprintf("no recording for %s: cannot open cassette %s: %s", req->target, r->dir, strerror(errno));
	while ((e = readdir(d))) {
		char *path;
		json_t *o;
		const char *t;
		int attempt;

		if (!strstr(e->d_name, ".json"))
			continue;
		path = path_join(r->dir, e->d_name);
		o = json_load_file(path, 0, NULL);
		t = json_string_value(json_object_get(o, "target"));
		attempt = (int)json_integer_value(json_object_get(o, "attempt"));
		if (t && strcmp(t, req->target) == 0 && (attempt == req->attempt ? 2 : 1) > best_score) {
			free(best);
			best = xstrdup(e->d_name);
			why = difference(o, req);
			best_score = attempt == req->attempt ? 2 : 1;
		}
		json_decref(o);
		free(path);
	}
	closedir(d);
	if (!best)
		return xasprintf("no recording for %s (attempt %d) in cassette %s, and none for that target at all",
				 req->target, req->attempt, r->dir);
	{
		char *msg = xasprintf("no recording for %s (attempt %d, key %.19s...) in cassette %s; the nearest, %s, differs in %s",
				      req->target, req->attempt, req->key ? req->key : "?", r->dir, best, why);

		free(best);
		return msg;
	}
}

static void replay_call(struct provider *pv, const struct request *req, struct call_result *res)
{
	struct replay *r = pv->priv;
	const char *hex = req->key && strncmp(req->key, "sha256:", 7) == 0 ? req->key + 7 : "";
	char *name = xasprintf("%s-%d.json", hex, req->attempt);
	char *path = path_join(r->dir, name);
	json_error_t je;
	json_t *o, *ans, *u;
	double t0 = now();

	free(name);
	o = json_load_file(path, 0, &je);
	if (!o) {
		res->status = CALL_FAIL;
		if (path_exists(path))
			res->error = xasprintf("cassette entry %s is not valid JSON: %s", path, je.text);
		else
			res->error = miss(r, req);
		free(path);
		return;
	}
	free(path);
	ans = json_object_get(o, "answer");
	if (!json_is_object(ans)) {
		res->status = CALL_FAIL;
		res->error = xasprintf("cassette entry for %s has no answer object", req->target);
		json_decref(o);
		return;
	}
	res->answer = json_dumps(ans, JSON_COMPACT | JSON_PRESERVE_ORDER);
	u = json_object_get(o, "usage");
	res->usage.input = (long)json_integer_value(json_object_get(u, "input"));
	res->usage.cache_write_5m = (long)json_integer_value(json_object_get(u, "cache_write_5m"));
	res->usage.cache_write_1h = (long)json_integer_value(json_object_get(u, "cache_write_1h"));
	res->usage.cache_read = (long)json_integer_value(json_object_get(u, "cache_read"));
	res->usage.output = (long)json_integer_value(json_object_get(u, "output"));
	res->status = CALL_OK;
	res->stop_reason = xstrdup("end_turn");
	res->latency = now() - t0;
	json_decref(o);
}

static void replay_close(struct provider *pv)
{
	struct replay *r = pv->priv;

	if (r->temp)
		archive_remove_temp(r->dir);
	free(r->dir);
	free(r);
	free(pv);
}

struct provider *replay_open(const char *cassette, const char *family)
{
	struct provider *pv = xcalloc(1, sizeof(*pv));
	struct replay *r = xcalloc(1, sizeof(*r));

	size_t n = strlen(cassette);

	if (n > 8 && strcmp(cassette + n - 8, ".tar.zst") == 0) {
		r->dir = archive_extract_temp(cassette);
		r->temp = 1;
		if (!r->dir) {
			free(r);
			free(pv);
			return NULL;
		}
	} else {
		r->dir = xstrdup(cassette);
	}
	pv->name = "replay";
	pv->family = family;
	pv->call = replay_call;
	pv->close = replay_close;
	pv->priv = r;
	return pv;
}

void replay_record(const char *dir, const struct request *req, const char *answer, const struct usage *u)
{
	json_t *o = json_object(), *us = json_object();
	char *name = xasprintf("%s-%d.json", req->key + 7, req->attempt);
	char *path = path_join(dir, name), *rq = prompt_request_json(req), *s;

	json_object_set_new(o, "key", json_string(req->key));
	json_object_set_new(o, "target", json_string(req->target));
	json_object_set_new(o, "attempt", json_integer(req->attempt));
	json_object_set_new(o, "request", json_loads(rq, 0, NULL));
	json_object_set_new(o, "answer", json_loads(answer, 0, NULL));
	json_object_set_new(us, "input", json_integer(u->input));
	json_object_set_new(us, "cache_write_5m", json_integer(u->cache_write_5m));
	json_object_set_new(us, "cache_write_1h", json_integer(u->cache_write_1h));
	json_object_set_new(us, "cache_read", json_integer(u->cache_read));
	json_object_set_new(us, "output", json_integer(u->output));
	json_object_set_new(o, "usage", us);
	s = json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	mkdirs(dir);
	if (!s || write_file_atomic(path, s, strlen(s)) < 0)
		warn("cannot write cassette entry %s:", path);
	free(s);
	free(rq);
	free(name);
	free(path);
	json_decref(o);
}
