/* key.c: keys and the stat cache.  The key is a hash of a manifest, not of
 * wire bytes (SPEC 10.1): cache_control placement, TTL and retry feedback stay
 * out, so they can change without rebuilding anything. */
#include "key.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static json_t *argv_json(const struct argv *a)
{
	json_t *v = json_array();
	size_t i;

	for (i = 0; i < a->c; i++)
		json_array_append_new(v, json_string(a->v[i]));
	return v;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* the validate command that applies to each output of t, in output order */
static json_t *validate_json(const struct task *t)
{
	json_t *val = json_array();
	size_t i, j;

	for (i = 0; t && i < t->noutputs; i++) {
		const char *out = t->outputs[i], *base = strrchr(out, '/');

		base = base ? base + 1 : out;
		for (j = 0; t->r && j < t->r->nvalidate; j++) {
			const struct validator *v = &t->r->validate[j];

			if (glob_match(v->glob, base) || glob_match(v->glob, out)) {
				json_t *e = json_array();

				json_array_append_new(e, json_string(out));
				json_array_append_new(e, argv_json(&v->argv));
				json_array_append_new(val, e);
				break;
			}
		}
	}
	return val;
}

static char *dump(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);

	json_decref(o);
	if (!s)
		fatal("jansson: out of memory");
	return s;
}

char *key_validate(const struct task *t)
{
	return dump(validate_json(t));
}

char *key_manifest(const struct key_input *in)
{
	json_t *o = json_object(), *layers = json_array(), *chk = json_array();
	const struct task *t = in->task;
	size_t i;
	int k;

	json_object_set_new(o, "format", json_integer(PROMPT_FORMAT_VERSION));
	json_object_set_new(o, "family", json_string(in->family));
	json_object_set_new(o, "model", json_string(in->model));
	json_object_set_new(o, "effort", str_or_null(in->effort));
	json_object_set_new(o, "max_tokens", json_integer(in->max_tokens));
	json_object_set_new(o, "schema", json_string(in->schema_hash));
	for (k = 0; k < 4; k++)
		json_array_append_new(layers, json_string(in->layer[k]));
	json_object_set_new(o, "layers", layers);
	{
		json_t *deps = json_array();

		for (i = 0; i < in->ndeps; i++) {
			json_t *e = json_array();

			json_array_append_new(e, json_string(in->dep_target[i]));
			json_array_append_new(e, json_string(in->dep_path[i]));
			json_array_append_new(e, json_string(in->dep_hash[i]));
			json_array_append_new(deps, e);
		}
		json_object_set_new(o, "deps", deps);
	}
	json_object_set_new(o, "validate", validate_json(t));
	for (i = 0; t && i < t->ncheck; i++)
		json_array_append_new(chk, argv_json(&t->check[i]));
	json_object_set_new(o, "check", chk);
	json_object_set_new(o, "retries", json_integer(in->retries));
	json_object_set_new(o, "escalate", str_or_null(in->escalate));
	return dump(o);
}

void key_of(const char *manifest, char out[HASH_HEX])
{
	sha256_hex(manifest, strlen(manifest), out);
}

void fscache_open(struct fscache *c, struct state *st, const char *root)
{
	memset(c, 0, sizeof(*c));
	c->st = st;
	c->root = root;
	if (st)
		state_stat_load(st, &c->t);
}

static int64_t ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static int64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ns(&ts);
}

/* git's racy rule: a file modified within a second of when its entry was
 * written may have changed again in the same timestamp tick */
#define RACY_NS 1000000000LL

static struct stat_entry *entry_for(struct fscache *c, const char *rel, const struct stat *sb)
{
	struct stat_entry *e = htab_get(&c->t, rel);

	if (!e) {
		e = xcalloc(1, sizeof(*e));
		htab_put(&c->t, xstrdup(rel), e);
	}
	e->dev = (uint64_t)sb->st_dev;
	e->ino = (uint64_t)sb->st_ino;
	e->size = (uint64_t)sb->st_size;
	e->mtime_ns = ns(&sb->st_mtim);
	e->ctime_ns = ns(&sb->st_ctim);
	e->written_ns = wall_ns();
	e->dirty = 1;
	return e;
}

const char *fscache_hash(struct fscache *c, const char *rel)
{
	char *path = path_join(c->root, rel);
	struct stat sb;
	struct stat_entry *e;
	char h[HASH_HEX];

	if (stat(path, &sb) < 0) {
		free(path);
		return NULL;
	}
	if (!S_ISREG(sb.st_mode)) {
		free(path);
		errno = EISDIR;
		return NULL;
	}
	e = htab_get(&c->t, rel);
	if (e && e->dev == (uint64_t)sb.st_dev && e->ino == (uint64_t)sb.st_ino &&
	    e->size == (uint64_t)sb.st_size && e->mtime_ns == ns(&sb.st_mtim) && e->ctime_ns == ns(&sb.st_ctim) &&
	    e->mtime_ns < e->written_ns - RACY_NS && e->hash[0]) {
		free(path);
		return e->hash;
	}
	if (sha256_file(path, h) < 0) {
		free(path);
		return NULL;
	}
	free(path);
	c->hashed++;
	e = entry_for(c, rel, &sb);
	memcpy(e->hash, h, sizeof(h));
	return e->hash;
}

void fscache_note(struct fscache *c, const char *rel, const char *hash)
{
	char *path = path_join(c->root, rel);
	struct stat sb;

	if (stat(path, &sb) == 0) {
		struct stat_entry *e = entry_for(c, rel, &sb);

		snprintf(e->hash, sizeof(e->hash), "%s", hash);
	}
	free(path);
}

int fscache_flush(struct fscache *c)
{
	return c->st ? state_stat_flush(c->st, &c->t) : 0;
}

void fscache_close(struct fscache *c)
{
	state_stat_free(&c->t);
}
