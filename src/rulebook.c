/* rulebook.c: rule versions and pinned examples (SPEC 10.2, 10.3): what
 * each rule's tasks were last built with, the pins handed to the rule
 * layers and the masterplan's, "rule NAME changed: N tasks stale", the
 * rules of mpbuild.lock, and -B rule:NAME, which picks again from the index
 * (retrieve.c) and pins the result by path and content hash. */
#include "rulebook.h"
#include "retrieve.h"
#include "key.h"
#include "store.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- rule records --- */

void rulebook_from_lock(struct rulebook *rb, struct lockfile *lk)
{
	rulebook_free(rb);
	rb->recs = lk->rules;
	rb->n = lk->nrules;
	lk->rules = NULL;
	lk->nrules = 0;
}

void rulebook_load(struct rulebook *rb, struct state *st, const char *root, int writable)
{
	struct lockfile lk;
	size_t i;

	rulebook_free(rb);
	if (st)
		rb->recs = state_rules(st, &rb->n);
	if (rb->n || lockfile_read(root, &lk, NULL) != 0)
		return;
	rulebook_from_lock(rb, &lk);
	lockfile_free(&lk);
	/* kept in st, so that the next no-op does not read the whole lock again */
	for (i = 0; writable && st && i < rb->n; i++)
		state_rule_put(st, &rb->recs[i]);
}

struct rule_rec *rulebook_get(const struct rulebook *rb, const char *name)
{
	size_t i;

	for (i = 0; i < rb->n; i++)
		if (strcmp(rb->recs[i].name, name) == 0)
			return &rb->recs[i];
	return NULL;
}

/* the record called name, made (with hash) when there is none */
static struct rule_rec *rulebook_want(struct rulebook *rb, const char *name, const char *hash)
{
	struct rule_rec *rr = rulebook_get(rb, name);

	if (rr)
		return rr;
	rb->recs = xreallocarray(rb->recs, rb->n + 1, sizeof(*rb->recs));
	rr = &rb->recs[rb->n++];
	memset(rr, 0, sizeof(*rr));
	rr->name = xstrdup(name);
	memcpy(rr->hash, hash, HASH_HEX);
	return rr;
}

void rulebook_free(struct rulebook *rb)
{
	rule_rec_free_all(rb->recs, rb->n);
	rb->recs = NULL;
	rb->n = 0;
}

static void pins_replace(struct rule_rec *rr, const struct rule_rec *with)
{
	size_t i;

	for (i = 0; i < rr->n; i++)
		free(rr->paths[i]);
	free(rr->paths);
	free(rr->hashes);
	rr->paths = NULL;
	rr->hashes = NULL;
	rr->n = 0;
	for (i = 0; i < with->n; i++)
		rule_rec_add_pin(rr, with->paths[i], with->hashes[i]);
}

static int pins_equal(const struct rule_rec *a, const struct rule_rec *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->paths[i], b->paths[i]) || strcmp(a->hashes[i], b->hashes[i]))
			return 0;
	return 1;
}

/* 1 when a record's name is a pipeline phase's (phases/NAME), not a rule's */
static int is_phase(const char *name)
{
	return strncmp(name, RULEBOOK_PHASE, strlen(RULEBOOK_PHASE)) == 0;
}

/* --- the pins into the prompt layer --- */

/* the pins of rr as names and bodies for the layer.  A file that changed or
 * vanished since it was pinned comes from the store (opened in *store on
 * first need) or is left out, with a warning either way */
static size_t load_pins(const struct plan *p, const struct rule_rec *rr, const char *remote, struct store **store,
			char **names, struct buffer *bodies)
{
	/* a phase's pins (phases/NAME) are picked again by -B NAME, a rule's by -B rule:NAME */
	int phase = is_phase(rr->name);
	char *who = phase ? xstrdup(rr->name + strlen(RULEBOOK_PHASE)) : xasprintf("rule %s", rr->name);
	char *again = phase ? xasprintf("mpbuild -B %s", who) : xasprintf("mpbuild -B rule:%s", rr->name);
	char *layer = phase ? xasprintf("the %s's layer", who) : xstrdup("the rule's layer");
	const char *keys = phase ? "its key changes" : "its tasks' keys change";
	size_t i, n = 0;

	for (i = 0; i < rr->n; i++) {
		const char *why = NULL;
		char *path = retrieve_file(p, rr->paths[i], &why), h[HASH_HEX];
		struct buffer *b = &bodies[n];

		if (!path) {
			warn("%s: pinned example %s %s; left out of %s", who, rr->paths[i], why, layer);
			continue;
		}
		buf_reset(b);
		if (read_file(path, b, RETRIEVE_FILE_MAX) == 0) {
			sha256_hex(b->data ? b->data : "", b->len, h);
			why = strcmp(h, rr->hashes[i]) == 0 ? NULL : "changed since it was pinned";
		} else {
			why = errno == ENOENT ? "is gone" : "cannot be read";
		}
		free(path);
		if (why) {
			char *cache = path_join(p->root, "cache");

			if (!*store && (remote || path_exists(cache)))
				*store = store_open(cache, remote, 3);
			free(cache);
			buf_reset(b);
			if (*store && store_get_blob(*store, rr->hashes[i], b) == 0) {
				warn("%s: pinned example %s %s; the layer keeps its pinned bytes from the cache (%s picks again)",
				     who, rr->paths[i], why, again);
			} else {
				warn("%s: pinned example %s %s and its pinned bytes are not in the cache; left out of %s, so %s "
				     "(%s picks again)", who, rr->paths[i], why, layer, keys, again);
				continue;
			}
		}
		names[n++] = rr->paths[i];
	}
	free(who);
	free(again);
	free(layer);
	return n;
}

/* give pc rr's pins for rule r; returns how many made it into the layer */
static size_t apply_one(const struct plan *p, struct prompt_ctx *pc, const struct rule *r, const struct rule_rec *rr,
			const char *remote, struct store **store)
{
	char **names = xcalloc(rr->n + 1, sizeof(*names));
	struct buffer *bodies = xcalloc(rr->n + 1, sizeof(*bodies));
	size_t n = load_pins(p, rr, remote, store, names, bodies), i;

	prompt_rule_examples(pc, r, n, names, bodies);
	for (i = 0; i <= rr->n; i++)
		buf_free(&bodies[i]);
	free(bodies);
	free(names);
	return n;
}

static int rule_used(const struct plan *p, const struct rule *r)
{
	size_t i;

	for (i = 0; i < p->ntasks; i++)
		if (p->tasks[i].r == r)
			return 1;
	return 0;
}

void rulebook_apply(const struct rulebook *rb, const struct plan *p, struct prompt_ctx *pc, const char *remote)
{
	struct store *store = NULL;
	size_t i;

	/* a rule no task uses has no layer to fill (and nothing to warn about) */
	for (i = 0; i < p->nrules; i++) {
		const struct rule_rec *rr = rulebook_get(rb, p->rules[i].name);

		if (rr && rr->n && rule_used(p, &p->rules[i]))
			apply_one(p, pc, &p->rules[i], rr, remote, &store);
	}
	if (store)
		store_close(store);
}

/* --- rule versions (SPEC 10.3) --- */

/* was the record made with another layer 3 or validate set than t's now?
 * (its manifest is read from st when the record does not hold it) */
static int built_with_other(struct prompt_ctx *pc, const struct task *t, const struct record *rec, struct state *st)
{
	char *own = !rec->manifest && rec->has_manifest && st ? state_manifest(st, rec->target) : NULL;
	const char *ms = rec->manifest ? rec->manifest : own;
	json_t *m = ms ? json_loads(ms, 0, NULL) : NULL;
	const char *l3 = json_string_value(json_array_get(json_object_get(m, "layers"), 2));
	int other = 1;

	if (m && l3 && strcmp(l3, prompt_rule_hash(pc, t->r)) == 0) {
		char *was = json_dumps(json_object_get(m, "validate"), JSON_COMPACT | JSON_ENCODE_ANY);
		char *now = key_validate(t);

		other = !was || strcmp(was, now) != 0;
		free(was);
		free(now);
	}
	json_decref(m);
	free(own);
	return other;
}

size_t rulebook_stale(const struct plan *p, struct prompt_ctx *pc, const struct rule *r, const struct htab *rec_by,
		      struct state *st)
{
	size_t i, n = 0;

	for (i = 0; i < p->ntasks; i++) {
		const struct record *rec = p->tasks[i].r == r ? htab_get(rec_by, p->tasks[i].id) : NULL;

		if (rec && built_with_other(pc, &p->tasks[i], rec, st))
			n++;
	}
	return n;
}

void rulebook_report(const struct rulebook *rb, const struct plan *p, struct prompt_ctx *pc,
		     const struct htab *rec_by, struct state *st, FILE *out)
{
	size_t i;

	for (i = 0; i < p->nrules; i++) {
		const struct rule *r = &p->rules[i];
		const struct rule_rec *rr = rulebook_get(rb, r->name);
		size_t n;

		if (!rr || !rr->hash[0] || strcmp(rr->hash, r->hash) == 0 || !rule_used(p, r))
			continue;
		n = rulebook_stale(p, pc, r, rec_by, st);
		fprintf(out, "mpbuild: rule %s changed: %zu task%s stale%s\n", r->name, n, n == 1 ? "" : "s",
			n ? "" : " (its prompt layer and validate commands are as before)");
	}
	fflush(out);
}

/* the order of mpbuild.lock's rules, the order lockfile_read gives them */
static int rec_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rule_rec *)a)->name, ((const struct rule_rec *)b)->name);
}

void rulebook_lock_rules(struct rulebook *rb, const struct plan *p, struct prompt_ctx *pc, struct state *st,
			 struct lockfile *lk)
{
	struct htab by = {0};
	size_t i;

	for (i = 0; i < lk->ntargets; i++)
		htab_put(&by, lk->targets[i].target, &lk->targets[i]);
	lk->rules = xcalloc(p->nrules + 1, sizeof(*lk->rules));
	for (i = 0; i < p->nrules; i++) {
		const struct rule *r = &p->rules[i];
		struct rule_rec *rr = rulebook_get(rb, r->name), *out;
		int changed = 0;

		if (!rule_used(p, r) && (!rr || rr->n == 0))
			continue;
		if (!rr) {
			rr = rulebook_want(rb, r->name, r->hash);
			changed = 1;
		} else if (strcmp(rr->hash, r->hash) != 0 && rulebook_stale(p, pc, r, &by, st) == 0) {
			/* every task of the rule has been built with its new version */
			memcpy(rr->hash, r->hash, HASH_HEX);
			changed = 1;
		}
		if (changed && st)
			state_rule_put(st, rr);
		out = &lk->rules[lk->nrules++];
		out->name = xstrdup(rr->name);
		memcpy(out->hash, rr->hash, HASH_HEX);
		pins_replace(out, rr);
	}
	/* the pins of pipeline phases are kept as they are */
	rulebook_lock_phases(rb, lk);
	htab_free(&by);
}

void rulebook_lock_phases(const struct rulebook *rb, struct lockfile *lk)
{
	size_t i, j;

	for (i = 0; i < rb->n; i++) {
		const struct rule_rec *rr = &rb->recs[i];

		if (!is_phase(rr->name))
			continue;
		for (j = 0; j < lk->nrules && strcmp(lk->rules[j].name, rr->name) != 0; j++)
			;
		if (j == lk->nrules) {
			lk->rules = xreallocarray(lk->rules, lk->nrules + 1, sizeof(*lk->rules));
			memset(&lk->rules[j], 0, sizeof(lk->rules[j]));
			lk->rules[j].name = xstrdup(rr->name);
			lk->nrules++;
		}
		memcpy(lk->rules[j].hash, rr->hash, HASH_HEX);
		pins_replace(&lk->rules[j], rr);
	}
	if (lk->nrules)
		qsort(lk->rules, lk->nrules, sizeof(*lk->rules), rec_name_cmp);
}

/* --- -B rule:NAME: pick again and pin --- */

/* the pins as "a, b, c" */
static char *pin_list(const struct rule_rec *rr)
{
	struct buffer b = {0};
	size_t i;

	for (i = 0; i < rr->n; i++)
		buf_printf(&b, "%s%s", i ? ", " : "", rr->paths[i]);
	buf_str(&b);
	return buf_take(&b);
}

/* keep the pinned bytes in the store, so that a later change of the file
 * does not change the layer on this machine */
static void pins_save(const struct plan *p, const struct rule_rec *rr, const char *remote)
{
	char *cache = path_join(p->root, "cache");
	struct store *s = store_open(cache, remote, 3);
	size_t i;

	for (i = 0; s && i < rr->n; i++) {
		const char *why;
		char *file = retrieve_file(p, rr->paths[i], &why), h[HASH_HEX];
		struct buffer b = {0};

		if (file && read_file(file, &b, RETRIEVE_FILE_MAX) == 0)
			store_put_blob(s, b.data ? b.data : "", b.len, h);
		buf_free(&b);
		free(file);
	}
	if (s)
		store_close(s);
	free(cache);
}

int rulebook_repick(struct repick *env, char **names, size_t n)
{
	const struct plan *p = env->p;
	struct state *ix = NULL;
	struct index_stats stats;
	size_t i;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		const struct rule *r = strncmp(names[i], "rule:", 5) == 0 ? plan_rule(p, names[i] + 5) : NULL;
		struct rule_rec picked = {0}, *rr;
		struct store *none = NULL;
		char *list;
		size_t stale;

		if (!r)
			continue;
		if (!ix) {
			char *cache = path_join(p->root, "cache");

			/* a dry run indexes into a copy in memory: it writes nothing */
			ix = env->dry || !env->st ? state_open_scratch(cache) : env->st;
			free(cache);
			if (!ix || retrieve_index(ix, env->fc, p, env->recs, env->nrec, &stats) < 0) {
				rc = -1;
				break;
			}
			if (env->verbose)
				fprintf(env->out, "mpbuild: example index: %zu files, %zu indexed, %zu unchanged, %zu removed, "
					"%zu skipped (binary, not UTF-8 or over %u KiB)\n", stats.files, stats.indexed,
					stats.unchanged, stats.removed, stats.skipped, RETRIEVE_FILE_MAX >> 10);
		}
		if (env->verbose) {
			char *q = retrieve_query(p, r);

			fprintf(env->out, "mpbuild: rule %s: query %s\n", r->name, *q ? q : "(no words)");
			free(q);
		}
		picked.name = xstrdup(r->name);
		if (retrieve_pick(ix, p, r, &picked) < 0) {
			rule_rec_clear(&picked);
			rc = -1;
			break;
		}
		rr = rulebook_want(env->rb, r->name, r->hash);
		list = pin_list(&picked);
		if (pins_equal(rr, &picked) && picked.n == 0) {
			fprintf(env->out, "mpbuild: rule %s: no example matches; nothing is pinned\n", r->name);
		} else if (pins_equal(rr, &picked)) {
			fprintf(env->out, "mpbuild: rule %s: the best matches are the %zu example%s pinned already: %s\n",
				r->name, picked.n, picked.n == 1 ? "" : "s", list);
		} else {
			pins_replace(rr, &picked);
			if (!env->dry) {
				pins_save(p, rr, env->remote);
				if (state_rule_put(env->st, rr) < 0)
					rc = -1;
			}
			apply_one(p, env->pc, r, rr, env->remote, &none);
			stale = rulebook_stale(p, env->pc, r, env->rec_by, env->st);
			if (picked.n)
				fprintf(env->out, "mpbuild: rule %s: %s %zu example%s: %s; %zu task%s %s stale\n", r->name,
					env->dry ? "would pin" : "pinned", picked.n, picked.n == 1 ? "" : "s", list, stale,
					stale == 1 ? "" : "s", env->dry ? "would be" : stale == 1 ? "is" : "are");
			else
				fprintf(env->out, "mpbuild: rule %s: no example matches; %s its pins; %zu task%s %s stale\n",
					r->name, env->dry ? "would drop" : "dropped", stale, stale == 1 ? "" : "s",
					env->dry ? "would be" : stale == 1 ? "is" : "are");
		}
		if (none)
			store_close(none);
		free(list);
		rule_rec_clear(&picked);
	}
	fflush(env->out);
	if (ix && ix != env->st)
		state_close(ix);
	return rc;
}

/* --- the masterplan's example plans --- */

size_t rulebook_plan_layer(const struct plan *p, const struct rule_rec *rr, const char *remote, struct buffer *out)
{
	char **names;
	struct buffer *bodies;
	struct store *store = NULL;
	size_t n, i;

	if (!rr || !rr->n)
		return 0;
	names = xcalloc(rr->n + 1, sizeof(*names));
	bodies = xcalloc(rr->n + 1, sizeof(*bodies));
	n = load_pins(p, rr, remote, &store, names, bodies);
	if (n)
		buf_puts(out, "# Example plans\n\nMasterplans written for other projects, shown for their shape, the size of "
			 "their tasks and the precision of their descriptions. Plan this project from its own discovery.yaml; "
			 "do not copy their tasks.\n");
	for (i = 0; i < n; i++) {
		buf_printf(out, "\n## Example: %s\n\n", names[i]);
		prompt_fenced(out, "yaml", bodies[i].data ? bodies[i].data : "", bodies[i].len);
	}
	for (i = 0; i <= rr->n; i++)
		buf_free(&bodies[i]);
	free(bodies);
	free(names);
	if (store)
		store_close(store);
	return n;
}

int rulebook_repick_plans(struct repick *env, const char *hash)
{
	const struct plan *p = env->p;
	struct rule_rec picked = {0}, *rr;
	struct index_stats stats;
	struct state *ix;
	char *cache = path_join(p->root, "cache"), *list;
	int rc = 0;

	/* a dry run indexes into a copy in memory: it writes nothing */
	ix = env->dry || !env->st ? state_open_scratch(cache) : env->st;
	free(cache);
	if (!ix || retrieve_index_plans(ix, env->fc, p, &stats) < 0 || retrieve_pick_plans(ix, p, &picked) < 0) {
		rc = -1;
		goto done;
	}
	if (env->verbose && env->out) {
		char *q = retrieve_plan_query(p);

		fprintf(env->out, "mpbuild: masterplan: query %s\n", *q ? q : "(no words)");
		free(q);
	}
	rr = rulebook_want(env->rb, RULEBOOK_PLAN_PINS, hash);
	memcpy(rr->hash, hash, HASH_HEX);
	pins_replace(rr, &picked);
	if (!env->dry) {
		pins_save(p, rr, env->remote);
		if (state_rule_put(env->st, rr) < 0)
			rc = -1;
	}
	list = pin_list(&picked);
	if (env->out && picked.n)
		fprintf(env->out, "masterplan: %s %zu example plan%s: %s\n", env->dry ? "would pin" : "pinned", picked.n,
			picked.n == 1 ? "" : "s", list);
	else if (env->out)
		fprintf(env->out, "masterplan: no example plan matches; %s\n",
			env->dry ? "nothing would be pinned" : "nothing is pinned");
	free(list);
	if (env->out)
		fflush(env->out);
done:
	rule_rec_clear(&picked);
	if (ix && ix != env->st)
		state_close(ix);
	return rc;
}
