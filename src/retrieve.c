/* retrieve.c: the FTS5 index of example files in cache/state.db and picking
 * from it: the query for a rule or for the masterplan, bringing the index up
 * to date (changed files only), and the best matches as pins.  The index is
 * touched only when a person asks for a pick (or the masterplan is called,
 * for example plans only), so a build that does not ask never reads an
 * examples folder; what a build uses is the pins (rulebook.c). */
#include "retrieve.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define WALK_DEPTH 16           /* directory levels of an examples folder */
#define WALK_FILES 10000        /* files of one examples folder */
#define SEARCH_LIMIT 200        /* matches looked at before filtering */

/* --- where an indexed or pinned file lives --- */

char *retrieve_file(const struct plan *p, const char *name, const char **why)
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

/* the files of paths (best first) that ok(name, arg) accepts, appended to out
 * as pins while out has fewer than max and *bytes (the pins' so far) stays
 * within max_bytes */
static void pick_from(const struct plan *p, char **paths, char (*hashes)[HASH_HEX], size_t n,
		      int (*ok)(const char *, void *), void *arg, size_t max, size_t max_bytes, size_t *bytes,
		      struct rule_rec *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const char *why;
		char *file = out->n < max && ok(paths[i], arg) ? retrieve_file(p, paths[i], &why) : NULL;
		struct stat sb;

		if (file && stat(file, &sb) == 0 && *bytes + (size_t)sb.st_size <= max_bytes) {
			*bytes += (size_t)sb.st_size;
			rule_rec_add_pin(out, paths[i], hashes[i]);
		}
		free(file);
	}
}

static void free_paths(char **paths, char (*hashes)[HASH_HEX], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	free(hashes);
}

/* the best matches of query q in ix that ok(name, arg) accepts, appended to
 * out as pins: at most max files and max_bytes */
static int pick(struct state *ix, const struct plan *p, const char *q, int (*ok)(const char *, void *), void *arg,
		size_t max, size_t max_bytes, struct rule_rec *out)
{
	char **paths = NULL;
	char (*hashes)[HASH_HEX] = NULL;
	size_t n = 0, bytes = 0;
	int rc = 0;

	if (*q)
		rc = state_index_search(ix, q, SEARCH_LIMIT, &paths, &hashes, &n);
	pick_from(p, paths, hashes, n, ok, arg, max, max_bytes, &bytes, out);
	free_paths(paths, hashes, n);
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

/* the language an example plan is written in: its file name up to the first
 * '-' or '.', lower-cased ("builtin:examples/plans/c-command-line.yaml": c) */
static void plan_language(const char *name, char *out, size_t size)
{
	const char *base = strrchr(name, '/');
	size_t n = 0;

	for (base = base ? base + 1 : name; *base && *base != '-' && *base != '.' && n + 1 < size; base++)
		out[n++] = (char)(*base >= 'A' && *base <= 'Z' ? *base - 'A' + 'a' : *base);
	out[n] = '\0';
}

/* the stack's language as an example plan's name spells it: the first word of
 * stack.language (letters, digits, '+', '#'), lower-cased, without a version
 * ("C11": c, "Python 3.12": python, "c++17": c++), and a few other names
 * for the same thing ("Node.js", "js": javascript; "py": python); "" without one */
static void stack_language(const struct plan *p, char *out, size_t size)
{
	static const char *const other[][2] = {
		{"js", "javascript"}, {"node", "javascript"}, {"nodejs", "javascript"}, {"py", "python"},
	};
	const struct ynode *l = p->have_discovery ? ymap_get(p->disc.stack, "language") : NULL;
	const char *s = l && l->kind == Y_SCALAR && !yis_null(l) ? l->str : "";
	size_t n = 0, i;

	while (*s && !isalnum((unsigned char)*s))
		s++;
	for (; (isalnum((unsigned char)*s) || *s == '+' || *s == '#') && n + 1 < size; s++)
		out[n++] = (char)tolower((unsigned char)*s);
	while (n > 1 && isdigit((unsigned char)out[n - 1]) && !isdigit((unsigned char)out[0]))
		n--;
	out[n] = '\0';
	for (i = 0; i < LEN(other); i++)
		if (strcmp(out, other[i][0]) == 0)
			snprintf(out, size, "%s", other[i][1]);
}

struct plan_filter {
	const char *lang;       /* the stack's language; "" for none */
	int same;               /* accept the plans of that language (1) or the others (0) */
};

static int plan_ok(const char *name, void *arg)
{
	const struct plan_filter *f = arg;
	char lang[64];

	if (!retrieve_is_plan(name))
		return 0;
	if (!f || !*f->lang)
		return 1;
	plan_language(name, lang, sizeof(lang));
	return (strcmp(lang, f->lang) == 0) == f->same;
}

/* the example plans: those of the stack's language first (in FTS rank, then
 * those FTS did not match, by path), then the rest in FTS rank */
int retrieve_pick_plans(struct state *ix, const struct plan *p, struct rule_rec *out)
{
	char *q = retrieve_plan_query(p), **paths = NULL, **all = NULL;
	char (*hashes)[HASH_HEX] = NULL, (*all_hashes)[HASH_HEX] = NULL;
	char lang[64];
	size_t n = 0, nall = 0, bytes = 0;
	struct plan_filter same = {lang, 1}, other = {lang, 0};
	int rc = 0;

	stack_language(p, lang, sizeof(lang));
	if (*q)
		rc = state_index_search(ix, q, SEARCH_LIMIT, &paths, &hashes, &n);
	if (rc == 0 && *lang) {
		struct htab ranked = {0};
		size_t i, m = 0;

		/* a plan of the language that shares no word with the query still comes first */
		rc = state_index_list(ix, &all, &all_hashes, &nall);
		for (i = 0; i < n; i++)
			htab_put(&ranked, paths[i], (void *)1);
		for (i = 0; rc == 0 && i < nall; i++) {
			if (htab_get(&ranked, all[i])) {
				free(all[i]);
				continue;
			}
			all[m] = all[i];
			memcpy(all_hashes[m++], all_hashes[i], HASH_HEX);
		}
		nall = rc == 0 ? m : nall;
		htab_free(&ranked);
		if (rc == 0) {
			pick_from(p, paths, hashes, n, plan_ok, &same, RETRIEVE_PLANS, RETRIEVE_PLAN_BYTES, &bytes, out);
			pick_from(p, all, all_hashes, nall, plan_ok, &same, RETRIEVE_PLANS, RETRIEVE_PLAN_BYTES, &bytes, out);
		}
	}
	if (rc == 0)
		pick_from(p, paths, hashes, n, plan_ok, &other, RETRIEVE_PLANS, RETRIEVE_PLAN_BYTES, &bytes, out);
	free_paths(paths, hashes, n);
	free_paths(all, all_hashes, nall);
	free(q);
	return rc;
}
