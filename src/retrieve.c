/* retrieve.c: pinned examples for rule layers and the masterplan's, the FTS5
 * index they are picked from, and rule versions.  The index is touched only
 * when a person asks for a pick (or the masterplan is called, for example
 * plans only), so a build that does not ask never reads an examples folder;
 * what a build uses is the pins, which are committed in the lock. */
#include "retrieve.h"
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define WALK_DEPTH 16           /* directory levels of an examples folder */
#define WALK_FILES 10000        /* files of one examples folder */
#define SEARCH_LIMIT 200        /* matches looked at before filtering */

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
	return strncmp(name, RETRIEVE_PHASE, strlen(RETRIEVE_PHASE)) == 0;
}

/* --- where a pinned or indexed file lives --- */

/* the file behind an index path: builtin:REL in the built-in rules
 * directory, else REL in the project; NULL (with *why) when REL is not a
 * plain relative path or resolves outside its directory */
static char *file_of(const struct plan *p, const char *name, const char **why)
{
	size_t pre = strlen(RETRIEVE_BUILTIN);
	int builtin = strncmp(name, RETRIEVE_BUILTIN, pre) == 0;
	const char *rel = builtin ? name + pre : name, *base = builtin ? plan_builtin_rules() : p->root;
	char *path, *real, *rbase;

	*why = plan_path_problem(rel);
	if (*why)
		return NULL;
	path = path_join(base, rel);
	/* a symbolic link must not take a prompt outside the project */
	real = realpath(path, NULL);
	rbase = realpath(base, NULL);
	if (real && rbase && strcmp(rbase, "/") != 0 &&
	    (strncmp(real, rbase, strlen(rbase)) != 0 || real[strlen(rbase)] != '/')) {
		*why = "leads outside its directory";
		free(path);
		path = NULL;
	}
	free(real);
	free(rbase);
	return path;
}

/* text the layer can carry: no NUL byte and valid UTF-8 (the neutral request
 * is JSON, and jansson refuses invalid UTF-8) */
static int is_text(const char *s, size_t len)
{
	json_t *j;

	if (len && memchr(s, 0, len))
		return 0;
	j = json_stringn(s ? s : "", len);
	json_decref(j);
	return j != NULL;
}

/* the pins of rr as names and bodies for the layer.  A file that changed or
 * vanished since it was pinned comes from the store (opened in *store on
 * first need) or is left out, with a warning either way */
static size_t load_pins(const struct plan *p, const struct rule_rec *rr, const char *remote, struct store **store,
			char **names, struct buffer *bodies)
{
	/* a phase's pins (phases/NAME) are picked again by -B NAME, a rule's by -B rule:NAME */
	int phase = is_phase(rr->name);
	char *who = phase ? xstrdup(rr->name + strlen(RETRIEVE_PHASE)) : xasprintf("rule %s", rr->name);
	char *again = phase ? xasprintf("mpbuild -B %s", who) : xasprintf("mpbuild -B rule:%s", rr->name);
	char *layer = phase ? xasprintf("the %s's layer", who) : xstrdup("the rule's layer");
	const char *keys = phase ? "its key changes" : "its tasks' keys change";
	size_t i, n = 0;

	for (i = 0; i < rr->n; i++) {
		const char *why = NULL;
		char *path = file_of(p, rr->paths[i], &why), h[HASH_HEX];
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

void retrieve_apply(const struct rulebook *rb, const struct plan *p, struct prompt_ctx *pc, const char *remote)
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

size_t retrieve_stale(const struct plan *p, struct prompt_ctx *pc, const struct rule *r, const struct htab *rec_by,
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

void retrieve_report(const struct rulebook *rb, const struct plan *p, struct prompt_ctx *pc,
		     const struct htab *rec_by, struct state *st, FILE *out)
{
	size_t i;

	for (i = 0; i < p->nrules; i++) {
		const struct rule *r = &p->rules[i];
		const struct rule_rec *rr = rulebook_get(rb, r->name);
		size_t n;

		if (!rr || !rr->hash[0] || strcmp(rr->hash, r->hash) == 0 || !rule_used(p, r))
			continue;
		n = retrieve_stale(p, pc, r, rec_by, st);
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

void retrieve_lock_rules(struct rulebook *rb, const struct plan *p, struct prompt_ctx *pc, struct state *st,
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
		} else if (strcmp(rr->hash, r->hash) != 0 && retrieve_stale(p, pc, r, &by, st) == 0) {
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
	retrieve_lock_phases(rb, lk);
	htab_free(&by);
}

void retrieve_lock_phases(const struct rulebook *rb, struct lockfile *lk)
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

/* --- the query --- */

static const char *const stopwords[] = {
	"about", "above", "after", "all", "also", "and", "answer", "any", "are", "because", "been", "before", "being",
	"below", "between", "both", "but", "can", "did", "does", "done", "each", "etc", "every", "few", "file",
	"files", "for", "from", "has", "have", "here", "how", "into", "its", "just", "like", "made", "make", "more",
	"most", "must", "never", "none", "not", "one", "only", "other", "our", "out", "over", "own", "per", "same",
	"should", "some", "such", "task", "tasks", "than", "that", "the", "their", "them", "then", "there", "these",
	"they", "this", "those", "through", "too", "under", "use", "used", "uses", "very", "via", "was", "were",
	"what", "when", "where", "which", "while", "who", "why", "will", "with", "within", "without", "would",
	"write", "written", "you", "your",
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct term {
	char *word;
	long weight;
};

/* add the words of s (ASCII letters and digits, folded to lower case, as
 * FTS5's default tokenizer splits them) with weight w, each word once however
 * often s repeats it (so that one long description does not outweigh the
 * rest).  Words a person chose (the rule's name, its match patterns) count
 * whatever they are; other words need three letters and must not be stopwords */
static void add_words(struct htab *t, const char *s, long w, int chosen)
{
	struct htab seen = {0};

	while (s && *s) {
		char word[33];
		size_t n = 0, digits = 0;
		const char *key = word;
		struct term *e;

		while (*s && !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
			s++;
		while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')) {
			if (n < sizeof(word) - 1)
				word[n++] = (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s);
			digits += *s >= '0' && *s <= '9';
			s++;
		}
		word[n] = '\0';
		if (n == 0 || digits == n ||
		    (!chosen && (n < 3 || bsearch(&key, stopwords, LEN(stopwords), sizeof(*stopwords), cmp_str))))
			continue;
		e = htab_get(t, word);
		if (!e) {
			e = xcalloc(1, sizeof(*e));
			e->word = xstrdup(word);
			htab_put(t, e->word, e);
		}
		if (!htab_get(&seen, e->word)) {
			htab_put(&seen, e->word, e);
			e->weight += w;
		}
	}
	htab_free(&seen);
}

static int term_cmp(const void *a, const void *b)
{
	const struct term *x = *(struct term *const *)a, *y = *(struct term *const *)b;

	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	return strcmp(x->word, y->word);
}

/* the query of the weighted words in t, which it frees */
static char *query_of(struct htab *t)
{
	struct term **all;
	struct buffer q = {0};
	size_t i, n = 0;
	long top;

	all = xcalloc(t->n + 1, sizeof(*all));
	for (i = 0; i < t->cap; i++)
		if (t->keys[i])
			all[n++] = t->vals[i];
	qsort(all, n, sizeof(*all), term_cmp);
	top = n ? all[0]->weight : 1;
	for (i = 0; i < n; i++) {
		/* FTS5 has no term weights, but bm25 sums over the query's phrases:
		 * a word given k times counts k times.  k grows with the word's
		 * weight against the heaviest one's, from 1 to RETRIEVE_REPEAT */
		long k, reps = (RETRIEVE_REPEAT * all[i]->weight + top - 1) / top;

		for (k = 0; i < RETRIEVE_TERMS && k < reps; k++)
			buf_printf(&q, "%s\"%s\"", q.len ? " OR " : "", all[i]->word);
		free(all[i]->word);
		free(all[i]);
	}
	free(all);
	htab_free(t);
	buf_str(&q);
	return buf_take(&q);
}

char *retrieve_query(const struct plan *p, const struct rule *r)
{
	struct htab t = {0};
	size_t i;

	add_words(&t, r->name, 4, 1);
	for (i = 0; i < r->nmatch; i++)
		add_words(&t, r->match[i], 4, 1);
	add_words(&t, r->system, 1, 0);
	for (i = 0; i < p->ntasks; i++) {
		if (p->tasks[i].r != r)
			continue;
		add_words(&t, p->tasks[i].title, 2, 0);
		add_words(&t, p->tasks[i].description, 1, 0);
	}
	return query_of(&t);
}

/* the scalars of n (of a mapping, its values only), space-separated, into b */
static void node_text(const struct ynode *n, struct buffer *b)
{
	size_t i;

	if (!n)
		return;
	if (n->kind == Y_SCALAR) {
		buf_add(b, n->str, n->len);
		buf_putc(b, ' ');
		return;
	}
	for (i = n->kind == Y_MAP ? 1 : 0; i < n->n; i += n->kind == Y_MAP ? 2 : 1)
		node_text(n->kids[i], b);
}

/* add the words of node n with weight w (each once) */
static void add_node(struct htab *t, const struct ynode *n, long w, int chosen)
{
	struct buffer b = {0};

	node_text(n, &b);
	add_words(t, buf_str(&b), w, chosen);
	buf_free(&b);
}

char *retrieve_plan_query(const struct plan *p)
{
	struct htab t = {0};
	size_t i;

	if (!p->have_discovery)
		return xstrdup("");
	/* the language, however short ("c", "go"), counts most; the rest of the stack as the domain */
	add_node(&t, ymap_get(p->disc.stack, "language"), 4, 1);
	add_node(&t, p->disc.stack, 2, 0);
	add_node(&t, p->disc.domain, 2, 0);
	add_node(&t, p->disc.summary, 2, 0);
	for (i = 0; i < p->disc.ncontexts; i++) {
		add_words(&t, p->disc.contexts[i].name, 1, 0);
		add_node(&t, ymap_get(p->disc.contexts[i].node, "description"), 1, 0);
	}
	return query_of(&t);
}

/* --- the index --- */

struct cand {
	char *name;             /* the index path */
	char *file;             /* where to read it */
	char hash[HASH_HEX];
};

struct cands {
	struct cand *v;
	size_t n;
	struct htab by;         /* the names, for lookups (values are not used) */
};

static void cand_add(struct cands *c, const char *name, const char *file, const char *hash)
{
	struct cand *e;

	c->v = xreallocarray(c->v, c->n + 1, sizeof(*c->v));
	e = &c->v[c->n++];
	e->name = xstrdup(name);
	e->file = xstrdup(file);
	snprintf(e->hash, HASH_HEX, "%s", hash);
	htab_put(&c->by, e->name, (void *)1);
}

/* every regular file under dir/rel (not following links, skipping names
 * that start with '.'), added as prefix+path with its hash */
static void walk(struct cands *c, const char *base, const char *rel, const char *prefix, struct fscache *fc,
		 int depth, size_t *budget)
{
	char *dir = path_join(base, rel);
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, NULL, alphasort), i;

	for (i = 0; i < n; i++) {
		const char *fn = ents[i]->d_name;
		char *sub = fn[0] == '.' ? NULL : path_join(rel, fn), *path = sub ? path_join(base, sub) : NULL;
		struct stat sb;

		if (sub && lstat(path, &sb) == 0) {
			if (S_ISDIR(sb.st_mode) && depth < WALK_DEPTH) {
				walk(c, base, sub, prefix, fc, depth + 1, budget);
			} else if (S_ISREG(sb.st_mode) && *budget > 0) {
				char h[HASH_HEX], *name = xasprintf("%s%s", prefix, sub);
				const char *hp = fc ? fscache_hash(fc, sub) : sha256_file(path, h) == 0 ? h : NULL;

				(*budget)--;
				if (hp)
					cand_add(c, name, path, hp);
				free(name);
			}
		}
		free(sub);
		free(path);
		free(ents[i]);
	}
	free(ents);
	free(dir);
}

/* the files that can be picked: examples folders and accepted outputs */
static void candidates(struct cands *c, struct fscache *fc, const struct plan *p, const struct record *recs,
		       size_t nrec)
{
	size_t budget = WALK_FILES, i, j;

	walk(c, p->root, "examples", "", fc, 0, &budget);
	budget = WALK_FILES;
	walk(c, plan_builtin_rules(), "examples", RETRIEVE_BUILTIN, NULL, 0, &budget);
	for (i = 0; i < nrec; i++) {
		if (!recs[i].generated)
			continue;
		for (j = 0; j < recs[i].n; j++) {
			const char *rel = recs[i].paths[j], *h;
			char *file;

			/* plan files are generated too, but they are not code to imitate */
			if (plan_path_problem(rel) || htab_get(&c->by, rel))
				continue;
			h = fscache_hash(fc, rel);
			if (!h || strcmp(h, recs[i].hashes[j]) != 0)
				continue;
			file = path_join(p->root, rel);
			cand_add(c, rel, file, h);
			free(file);
		}
	}
}

static void cands_free(struct cands *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		free(c->v[i].name);
		free(c->v[i].file);
	}
	free(c->v);
	htab_free(&c->by);
}

/* bring the index in ix up to date with the candidates c: index new and
 * changed files, drop what is no longer a candidate (of the paths in_scope
 * accepts, when it is not NULL) */
static int index_update(struct state *ix, struct cands *c, int (*in_scope)(const char *), struct index_stats *stats)
{
	char **paths;
	char (*hashes)[HASH_HEX];
	struct htab had = {0};
	size_t n, i;
	int rc = 0;

	memset(stats, 0, sizeof(*stats));
	if (state_index_open(ix) < 0 || state_index_list(ix, &paths, &hashes, &n) < 0)
		return -1;
	for (i = 0; i < n; i++)
		htab_put(&had, paths[i], hashes[i]);
	if (state_begin(ix) < 0)
		rc = -1;
	for (i = 0; rc == 0 && i < n; i++) {
		if (!htab_get(&c->by, paths[i]) && (!in_scope || in_scope(paths[i]))) {
			rc = state_index_drop(ix, paths[i]);
			stats->removed++;
		}
	}
	for (i = 0; rc == 0 && i < c->n; i++) {
		const char *was = htab_get(&had, c->v[i].name);
		struct buffer b = {0};

		stats->files++;
		if (was && strcmp(was, c->v[i].hash) == 0) {
			stats->unchanged++;
			continue;
		}
		if (read_file(c->v[i].file, &b, RETRIEVE_FILE_MAX) < 0 || !is_text(b.data, b.len)) {
			/* not worth a warning: an examples folder may hold images or archives */
			stats->skipped++;
			stats->files--;
			if (was)
				rc = state_index_drop(ix, c->v[i].name);
		} else {
			rc = state_index_put(ix, c->v[i].name, c->v[i].hash, b.data, b.len);
			stats->indexed++;
		}
		buf_free(&b);
	}
	if (rc == 0)
		rc = state_commit(ix);
	else
		state_rollback(ix);
	for (i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	free(hashes);
	htab_free(&had);
	return rc;
}

int retrieve_index(struct state *ix, struct fscache *fc, const struct plan *p, const struct record *recs,
		   size_t nrec, struct index_stats *stats)
{
	struct cands c = {0};
	int rc;

	candidates(&c, fc, p, recs, nrec);
	rc = index_update(ix, &c, NULL, stats);
	cands_free(&c);
	return rc;
}

int retrieve_index_plans(struct state *ix, struct fscache *fc, const struct plan *p, struct index_stats *stats)
{
	struct cands c = {0};
	size_t budget = WALK_FILES;
	int rc;

	walk(&c, p->root, "examples/plans", "", fc, 0, &budget);
	budget = WALK_FILES;
	walk(&c, plan_builtin_rules(), "examples/plans", RETRIEVE_BUILTIN, NULL, 0, &budget);
	rc = index_update(ix, &c, retrieve_is_plan, stats);
	cands_free(&c);
	return rc;
}

/* --- picking --- */

static int matches_rule(const struct rule *r, const char *name)
{
	size_t pre = strlen(RETRIEVE_BUILTIN), i;
	const char *rel = strncmp(name, RETRIEVE_BUILTIN, pre) == 0 ? name + pre : name, *base = strrchr(rel, '/');

	base = base ? base + 1 : rel;
	for (i = 0; i < r->nmatch; i++)
		if (glob_match(r->match[i], base) || glob_match(r->match[i], rel))
			return 1;
	return r->nmatch == 0;
}

/* paths r's tasks write and r's own examples files show: never picked again */
static void own_files(const struct plan *p, const struct rule *r, struct htab *own, glob_t *g)
{
	size_t i, j, skip = strcmp(p->root, ".") == 0 ? 0 : strlen(p->root) + 1;

	for (i = 0; i < p->ntasks; i++)
		for (j = 0; p->tasks[i].r == r && j < p->tasks[i].noutputs; j++)
			htab_put(own, p->tasks[i].outputs[j], (void *)1);
	memset(g, 0, sizeof(*g));
	for (i = 0; i < r->nexamples; i++) {
		char *pat = path_join(p->root, r->examples[i]);

		glob(pat, i ? GLOB_APPEND : 0, NULL, g);
		free(pat);
	}
	for (i = 0; i < g->gl_pathc; i++)
		if (strlen(g->gl_pathv[i]) >= skip)
			htab_put(own, g->gl_pathv[i] + skip, (void *)1);
}

/* the best matches of query q in ix that ok(name, arg) accepts, appended to
 * out as pins: at most max files and max_bytes */
static int pick(struct state *ix, const struct plan *p, const char *q, int (*ok)(const char *, void *), void *arg,
		size_t max, size_t max_bytes, struct rule_rec *out)
{
	char **paths = NULL;
	char (*hashes)[HASH_HEX] = NULL;
	size_t n = 0, i, bytes = 0;
	int rc = 0;

	if (*q)
		rc = state_index_search(ix, q, SEARCH_LIMIT, &paths, &hashes, &n);
	for (i = 0; i < n; i++) {
		const char *why;
		char *file = out->n < max && ok(paths[i], arg) ? file_of(p, paths[i], &why) : NULL;
		struct stat sb;

		if (file && stat(file, &sb) == 0 && bytes + (size_t)sb.st_size <= max_bytes) {
			bytes += (size_t)sb.st_size;
			rule_rec_add_pin(out, paths[i], hashes[i]);
		}
		free(file);
		free(paths[i]);
	}
	free(paths);
	free(hashes);
	return rc;
}

struct rule_filter {
	const struct rule *r;
	struct htab own;
};

static int rule_ok(const char *name, void *arg)
{
	struct rule_filter *f = arg;

	return !retrieve_is_plan(name) && matches_rule(f->r, name) && !htab_get(&f->own, name);
}

int retrieve_pick(struct state *ix, const struct plan *p, const struct rule *r, struct rule_rec *out)
{
	char *q = retrieve_query(p, r);
	struct rule_filter f = {r, {0}};
	glob_t g;
	int rc;

	own_files(p, r, &f.own, &g);
	rc = pick(ix, p, q, rule_ok, &f, RETRIEVE_FILES, RETRIEVE_BYTES, out);
	globfree(&g);
	htab_free(&f.own);
	free(q);
	return rc;
}

int retrieve_is_plan(const char *name)
{
	size_t pre = strlen(RETRIEVE_BUILTIN);

	if (strncmp(name, RETRIEVE_BUILTIN, pre) == 0)
		name += pre;
	return strncmp(name, "examples/plans/", 15) == 0;
}

static int plan_ok(const char *name, void *arg)
{
	(void)arg;
	return retrieve_is_plan(name);
}

int retrieve_pick_plans(struct state *ix, const struct plan *p, struct rule_rec *out)
{
	char *q = retrieve_plan_query(p);
	int rc = pick(ix, p, q, plan_ok, NULL, RETRIEVE_PLANS, RETRIEVE_PLAN_BYTES, out);

	free(q);
	return rc;
}

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
static void store_pins(const struct plan *p, const struct rule_rec *rr, const char *remote)
{
	char *cache = path_join(p->root, "cache");
	struct store *s = store_open(cache, remote, 3);
	size_t i;

	for (i = 0; s && i < rr->n; i++) {
		const char *why;
		char *file = file_of(p, rr->paths[i], &why), h[HASH_HEX];
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

int retrieve_repick(struct repick *env, char **names, size_t n)
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
				store_pins(p, rr, env->remote);
				if (state_rule_put(env->st, rr) < 0)
					rc = -1;
			}
			apply_one(p, env->pc, r, rr, env->remote, &none);
			stale = retrieve_stale(p, env->pc, r, env->rec_by, env->st);
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

size_t retrieve_plan_layer(const struct plan *p, const struct rule_rec *rr, const char *remote, struct buffer *out)
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

int retrieve_repick_plans(struct repick *env, const char *hash)
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
	rr = rulebook_want(env->rb, RETRIEVE_PLAN_PINS, hash);
	memcpy(rr->hash, hash, HASH_HEX);
	pins_replace(rr, &picked);
	if (!env->dry) {
		store_pins(p, rr, env->remote);
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
