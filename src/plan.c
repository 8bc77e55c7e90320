/* plan.c: YAML nodes -> the typed plan, with every check of SPEC section 3.
 * Each problem is reported as file:line:col: error: ... and loading goes on
 * so that one run of `mpbuild check` shows all of them. */
#include "plan.h"
#include "confine.h"
#include "hash.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef PREFIX
#define PREFIX "/usr/local"
#endif

static char *exe_path;

void plan_set_exe(const char *p)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

	free(exe_path);
	if (n > 0) {
		buf[n] = '\0';
		exe_path = xstrdup(buf);
	} else {
		exe_path = xstrdup(p);
	}
}

const char *plan_builtin_rules(void)
{
	static char *dir;
	const char *env = getenv("MPBUILD_RULES");

	if (env && *env)
		return env;
	if (!dir) {
		if (exe_path) {
			char *copy = xstrdup(exe_path);
			char *d = dirname(copy);
			char *cand = xasprintf("%s/rules", d);    /* running from the source tree */

			if (path_exists(cand) && path_exists(d) && !strstr(d, "/bin")) {
				dir = cand;
			} else {
				free(cand);
				cand = xasprintf("%s/../share/mpbuild/rules", d);
				if (path_exists(cand))
					dir = cand;
				else
					free(cand);
			}
			free(copy);
		}
		if (!dir)
			dir = xstrdup(PREFIX "/share/mpbuild/rules");
	}
	return dir;
}

/* the loading context: which file, which plan */
struct ld {
	struct plan *p;
	const char *file;       /* as shown in messages */
};

static int id_ok(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')))
		return 0;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '.' || *s == '-'))
			return 0;
	return 1;
}

/* report keys of map not in allowed, with a close match */
static void check_keys(struct ld *L, const struct ynode *m, const char *what, const char *const *allowed, size_t n)
{
	size_t i, j;

	for (i = 0; i < m->n; i += 2) {
		const char *k = m->kids[i]->str, *near;

		for (j = 0; j < n; j++)
			if (strcmp(k, allowed[j]) == 0)
				break;
		if (j < n)
			continue;
		near = closest(k, allowed, n);
		if (near)
			yerror(L->file, m->kids[i], "unknown key '%s' in %s (did you mean '%s'?)", k, what, near);
		else
			yerror(L->file, m->kids[i], "unknown key '%s' in %s", k, what);
	}
}

static int want(struct ld *L, const struct ynode *n, enum ykind k, const char *what)
{
	static const char *const names[] = {"a string", "a mapping", "a list"};

	if (n && !yis_null(n) && n->kind == k)
		return 1;
	if (k == Y_SCALAR && n && n->kind == Y_SCALAR)
		return 1;
	yerror(L->file, n, "%s must be %s, not %s", what, names[k], ykind_name(n));
	return 0;
}

/* a string value; NULL when absent or null (an error if required) */
static const char *get_str(struct ld *L, const struct ynode *m, const char *key, int required, const char *what)
{
	struct ynode *v = ymap_get(m, key);

	if (yis_null(v)) {
		if (required)
			yerror(L->file, v ? v : m, "%s has no '%s'", what, key);
		return NULL;
	}
	if (v->kind != Y_SCALAR) {
		yerror(L->file, v, "'%s' of %s must be a string, not %s", key, what, ykind_name(v));
		return NULL;
	}
	return v->str;
}

/* a list of strings under key; *n set; NULL for an absent or empty list */
static const char **get_strs(struct ld *L, const struct ynode *m, const char *key, size_t *n, const char *what)
{
	struct ynode *v = ymap_get(m, key);
	const char **out;
	size_t i;

	*n = 0;
	if (yis_null(v))
		return NULL;
	if (v->kind != Y_SEQ) {
		yerror(L->file, v, "'%s' of %s must be a list, not %s", key, what, ykind_name(v));
		return NULL;
	}
	out = xcalloc(v->n + 1, sizeof(*out));
	for (i = 0; i < v->n; i++) {
		if (v->kids[i]->kind != Y_SCALAR || yis_null(v->kids[i])) {
			yerror(L->file, v->kids[i], "items of '%s' in %s must be strings, not %s", key, what,
			       ykind_name(v->kids[i]));
			free(out);
			*n = 0;         /* callers index the list up to *n: no count without a list */
			return NULL;
		}
		out[(*n)++] = v->kids[i]->str;
	}
	return out;
}

/* the words of the command list seq into out (its strings stay the
 * document's); a word that is not a string is an error and ends the list */
static void get_words(struct ld *L, const struct ynode *seq, struct argv *out)
{
	size_t j;

	out->v = xcalloc(seq->n + 1, sizeof(char *));
	out->c = 0;
	for (j = 0; j < seq->n; j++) {
		if (seq->kids[j]->kind != Y_SCALAR || yis_null(seq->kids[j])) {
			yerror(L->file, seq->kids[j], "command words must be strings, not %s", ykind_name(seq->kids[j]));
			break;
		}
		out->v[out->c++] = seq->kids[j]->str;
	}
}

static int get_int(struct ld *L, const struct ynode *m, const char *key, int def, int min, int max)
{
	struct ynode *v = ymap_get(m, key);
	char *end;
	long x;

	if (yis_null(v))
		return def;
	if (v->kind == Y_SCALAR) {
		errno = 0;
		x = strtol(v->str, &end, 10);
		if (!errno && *end == '\0' && end != v->str && x >= min && x <= max)
			return (int)x;
	}
	yerror(L->file, v, "'%s' must be a whole number from %d to %d", key, min, max);
	return def;
}

static double get_num(struct ld *L, const struct ynode *m, const char *key, double def)
{
	struct ynode *v = ymap_get(m, key);
	char *end;
	double x;

	if (yis_null(v))
		return def;
	if (v->kind == Y_SCALAR) {
		x = strtod(v->str, &end);
		if (*end == '\0' && end != v->str && x >= 0)
			return x;
	}
	yerror(L->file, v, "'%s' must be a number of at least 0", key);
	return def;
}

static const char *get_enum(struct ld *L, const struct ynode *m, const char *key, const char *def,
			    const char *const *vals, size_t n)
{
	const char *s = get_str(L, m, key, 0, "mpbuild.yaml");
	size_t i;
	struct buffer b = {0};
	const char *near;

	if (!s)
		return def;
	for (i = 0; i < n; i++)
		if (strcmp(s, vals[i]) == 0)
			return vals[i];
	for (i = 0; i < n; i++)
		buf_printf(&b, "%s%s", i ? " | " : "", vals[i]);
	near = closest(s, vals, n);
	if (near)
		yerror(L->file, ymap_get(m, key), "'%s' must be one of %s, not '%s' (did you mean '%s'?)", key,
		       buf_str(&b), s, near);
	else
		yerror(L->file, ymap_get(m, key), "'%s' must be one of %s, not '%s'", key, buf_str(&b), s);
	buf_free(&b);
	return def;
}

static void check_version(struct ld *L, const struct ynode *root)
{
	struct ynode *v = ymap_get(root, "version");

	if (!v)
		yerror(L->file, root, "missing 'version: 1'");
	else if (v->kind != Y_SCALAR || strcmp(v->str, "1") != 0)
		yerror(L->file, v, "unsupported version '%s' (this mpbuild reads version 1)",
		       v->kind == Y_SCALAR ? v->str : ykind_name(v));
}

/* load one file; NULL if missing (*missing set) or broken; the plan owns the doc */
static struct ydoc *load_doc(struct plan *p, const char *rel, int *missing)
{
	char *path = path_join(p->root, rel);
	int candidate = p->candidate && strcmp(rel, "plans/masterplan.yaml") == 0;
	struct ydoc *d = candidate ? ydoc_parse(rel, p->candidate, p->candidate_len) : ydoc_load(path, rel);
	int e = candidate ? 0 : errno;

	free(path);
	*missing = !d && e == ENOENT;
	if (!d)
		return NULL;
	p->docs = xreallocarray(p->docs, p->ndocs + 1, sizeof(*p->docs));
	p->docs[p->ndocs++] = d;
	return d;
}

/* the root mapping of a loaded document, or NULL after an error */
static struct ynode *doc_root(struct ld *L, struct ydoc *d)
{
	if (!d->root || yis_null(d->root)) {
		yerror(L->file, NULL, "file is empty (expected a mapping starting with 'version: 1')");
		return NULL;
	}
	if (d->root->kind != Y_MAP) {
		yerror(L->file, d->root, "the file must be a mapping, not %s", ykind_name(d->root));
		return NULL;
	}
	check_version(L, d->root);
	return d->root;
}

static const char *const effort_vals[] = {"low", "medium", "high", "xhigh", "max"};

static void load_model(struct ld *L, const struct ynode *models, const char *key, struct model_choice *mc)
{
	static const char *const mkeys[] = {"model", "effort"};
	struct ynode *v = ymap_get(models, key);

	if (!v)
		return;
	if (yis_null(v)) {
		mc->model = NULL;
		mc->effort = NULL;
		return;
	}
	if (v->kind == Y_SCALAR) {
		mc->model = v->str;
		mc->effort = NULL;
		return;
	}
	if (v->kind != Y_MAP) {
		yerror(L->file, v, "models.%s must be a model id or {model: ID, effort: LEVEL}, not %s", key,
		       ykind_name(v));
		return;
	}
	check_keys(L, v, "a model entry", mkeys, LEN(mkeys));
	mc->model = get_str(L, v, "model", 1, "the model entry");
	mc->effort = NULL;
	if (ymap_get(v, "effort") && !yis_null(ymap_get(v, "effort")))
		mc->effort = get_enum(L, v, "effort", NULL, effort_vals, LEN(effort_vals));
}

static void load_settings(struct plan *p)
{
	static const char *const keys[] = {"version", "provider", "base_url", "models", "prices",
					   "answer_format", "budget_usd", "jobs", "retries", "check_timeout",
					   "max_tokens", "cache_ttl", "remote_cache", "checks", "stream"};
	static const char *const ckeys[] = {"network", "cpu_seconds", "memory_mb", "file_size_mb", "processes",
					    "open_files"};
	static const char *const mkeys[] = {"discovery", "masterplan", "low", "medium", "high", "escalate"};
	static const char *const pkeys[] = {"input", "output", "cache_write_5m", "cache_write_1h", "cache_read"};
	static const char *const providers[] = {"anthropic", "openai", "replay"};
	static const char *const formats[] = {"auto", "json_schema", "tool", "text"};
	static const char *const ttls[] = {"5m", "1h", "auto"};
	static const char *const bools[] = {"false", "true"};
	struct settings *s = &p->settings;
	struct ld L = {p, "mpbuild.yaml"};
	struct ynode *r, *m;
	struct ydoc *d;
	int missing;
	size_t i;

	s->provider = "anthropic";
	s->discovery.model = s->masterplan.model = s->high.model = "claude-sonnet-5-5";
	s->low.model = s->medium.model = "claude-haiku-5-5";
	s->answer_format = "auto";
	s->budget_usd = -1;
	s->jobs = 2;
	s->retries = 1;
	s->check_timeout = 300;
	s->max_tokens = 16000;
	s->cache_ttl = "auto";
	s->stream = 1;
	s->checks = (struct sandbox_limits){0, 600, 8192, 1024, 1024, 4096};
	d = load_doc(p, "mpbuild.yaml", &missing);
	if (!d)
		return;
	p->have_settings = 1;
	if (!(r = doc_root(&L, d)))
		return;
	check_keys(&L, r, "mpbuild.yaml", keys, LEN(keys));
	s->provider = get_enum(&L, r, "provider", "anthropic", providers, LEN(providers));
	s->base_url = get_str(&L, r, "base_url", 0, "mpbuild.yaml");
	if ((m = ymap_get(r, "models")) && !yis_null(m)) {
		if (want(&L, m, Y_MAP, "'models'")) {
			check_keys(&L, m, "'models'", mkeys, LEN(mkeys));
			load_model(&L, m, "discovery", &s->discovery);
			load_model(&L, m, "masterplan", &s->masterplan);
			load_model(&L, m, "low", &s->low);
			load_model(&L, m, "medium", &s->medium);
			load_model(&L, m, "high", &s->high);
			load_model(&L, m, "escalate", &s->escalate);
			for (i = 2; i < 5; i++) {
				struct ynode *v = ymap_get(m, mkeys[i]);
				const struct model_choice *mc = i == 2 ? &s->low : i == 3 ? &s->medium : &s->high;

				if (v && !mc->model)
					yerror(L.file, v, "models.%s must name a model (tasks of that complexity use it)", mkeys[i]);
			}
			if (ymap_get(m, "discovery") && !s->discovery.model)
				yerror(L.file, ymap_get(m, "discovery"), "models.discovery must name a model");
			if (ymap_get(m, "masterplan") && !s->masterplan.model)
				yerror(L.file, ymap_get(m, "masterplan"), "models.masterplan must name a model");
		}
	}
	if ((m = ymap_get(r, "prices")) && !yis_null(m) && want(&L, m, Y_MAP, "'prices'")) {
		s->prices = xcalloc(m->n / 2 + 1, sizeof(*s->prices));
		for (i = 0; i < m->n; i += 2) {
			struct ynode *v = m->kids[i + 1];
			struct price_entry *e = &s->prices[s->nprices];

			if (!want(&L, v, Y_MAP, "a prices entry"))
				continue;
			check_keys(&L, v, "a prices entry", pkeys, LEN(pkeys));
			e->model = m->kids[i]->str;
			e->input = get_num(&L, v, "input", 0);
			e->output = get_num(&L, v, "output", 0);
			e->cache_write_5m = get_num(&L, v, "cache_write_5m", e->input * 1.25);
			e->cache_write_1h = get_num(&L, v, "cache_write_1h", e->input * 2);
			e->cache_read = get_num(&L, v, "cache_read", e->input * 0.1);
			s->nprices++;
		}
	}
	s->answer_format = get_enum(&L, r, "answer_format", "auto", formats, LEN(formats));
	s->budget_usd = get_num(&L, r, "budget_usd", -1);
	s->jobs = get_int(&L, r, "jobs", 2, 1, 64);
	s->retries = get_int(&L, r, "retries", 1, 0, 10);
	s->check_timeout = get_int(&L, r, "check_timeout", 300, 1, 86400);
	s->max_tokens = get_int(&L, r, "max_tokens", 16000, 1, 1000000);
	s->cache_ttl = get_enum(&L, r, "cache_ttl", "auto", ttls, LEN(ttls));
	s->remote_cache = get_str(&L, r, "remote_cache", 0, "mpbuild.yaml");
	s->stream = !strcmp(get_enum(&L, r, "stream", "true", bools, LEN(bools)), "true");
	if ((m = ymap_get(r, "checks")) && !yis_null(m) && want(&L, m, Y_MAP, "'checks'")) {
		struct sandbox_limits *c = &s->checks;

		check_keys(&L, m, "'checks'", ckeys, LEN(ckeys));
		c->network = !strcmp(get_enum(&L, m, "network", "false", bools, LEN(bools)), "true");
		c->cpu_seconds = get_int(&L, m, "cpu_seconds", c->cpu_seconds, 1, 1000000);
		c->memory_mb = get_int(&L, m, "memory_mb", c->memory_mb, 16, 1 << 24);
		c->file_size_mb = get_int(&L, m, "file_size_mb", c->file_size_mb, 1, 1 << 24);
		c->processes = get_int(&L, m, "processes", c->processes, 1, 1 << 22);
		c->open_files = get_int(&L, m, "open_files", c->open_files, 16, 1 << 20);
	}
}

/* MPBUILD_PROVIDER overrides provider: (SPEC 3) */
static void provider_from_env(struct plan *p)
{
	static const char *const providers[] = {"anthropic", "openai", "replay"};
	const char *env = getenv("MPBUILD_PROVIDER");
	size_t i;

	if (!env || !*env)
		return;
	for (i = 0; i < LEN(providers); i++)
		if (strcmp(env, providers[i]) == 0)
			p->settings.provider = providers[i];
	if (strcmp(p->settings.provider, env) != 0)
		yerror("MPBUILD_PROVIDER", NULL, "must be anthropic, openai or replay, not '%s'", env);
}

static void load_questions(struct plan *p)
{
	static const char *const keys[] = {"version", "summary", "entities", "questions"};
	static const char *const qkeys[] = {"id", "text", "why", "default"};
	struct ld L = {p, "plans/questions.yaml"};
	struct ynode *r, *qs;
	struct htab seen = {0};
	struct ydoc *d;
	size_t i, n;
	int missing;
	const char **ents;

	if (!(d = load_doc(p, "plans/questions.yaml", &missing)))
		return;
	p->have_questions = 1;
	if (!(r = doc_root(&L, d)))
		return;
	check_keys(&L, r, "plans/questions.yaml", keys, LEN(keys));
	get_str(&L, r, "summary", 0, "plans/questions.yaml");
	ents = get_strs(&L, r, "entities", &n, "plans/questions.yaml");
	free(ents);
	qs = ymap_get(r, "questions");
	if (yis_null(qs) || !want(&L, qs, Y_SEQ, "'questions'"))
		return;
	p->questions = xcalloc(qs->n + 1, sizeof(*p->questions));
	for (i = 0; i < qs->n; i++) {
		struct ynode *q = qs->kids[i];
		struct question *o = &p->questions[p->nquestions];

		if (!want(&L, q, Y_MAP, "a question"))
			continue;
		check_keys(&L, q, "a question", qkeys, LEN(qkeys));
		o->node = q;
		o->id = get_str(&L, q, "id", 1, "a question");
		o->text = get_str(&L, q, "text", 1, "a question");
		o->why = get_str(&L, q, "why", 0, "a question");
		o->def = get_str(&L, q, "default", 0, "a question");
		if (!o->id)
			continue;
		if (htab_put(&seen, o->id, o))
			yerror(L.file, ymap_get(q, "id"), "duplicate question id '%s'", o->id);
		p->nquestions++;
	}
	htab_free(&seen);
}

static void load_answers(struct plan *p)
{
	static const char *const keys[] = {"version", "answers"};
	struct ld L = {p, "plans/answers.yaml"};
	struct ynode *r, *a;
	struct ydoc *d;
	int missing;
	size_t i, j;

	if (!(d = load_doc(p, "plans/answers.yaml", &missing)))
		return;
	p->have_answers = 1;
	if (!(r = doc_root(&L, d)))
		return;
	check_keys(&L, r, "plans/answers.yaml", keys, LEN(keys));
	a = ymap_get(r, "answers");
	if (yis_null(a) || !want(&L, a, Y_MAP, "'answers'"))
		return;
	p->answers = a;
	for (i = 0; i < a->n; i += 2) {
		const char *id = a->kids[i]->str;
		const char **ids;
		const char *near;

		if (a->kids[i + 1]->kind != Y_SCALAR)
			yerror(L.file, a->kids[i + 1], "the answer to %s must be a string, not %s", id,
			       ykind_name(a->kids[i + 1]));
		if (!p->have_questions)
			continue;
		for (j = 0; j < p->nquestions; j++)
			if (strcmp(p->questions[j].id, id) == 0)
				break;
		if (j < p->nquestions)
			continue;
		ids = xcalloc(p->nquestions + 1, sizeof(*ids));
		for (j = 0; j < p->nquestions; j++)
			ids[j] = p->questions[j].id;
		near = closest(id, ids, p->nquestions);
		if (near)
			yerror(L.file, a->kids[i], "answer to unknown question '%s' (did you mean '%s'?)", id, near);
		else
			yerror(L.file, a->kids[i], "answer to unknown question '%s'", id);
		free(ids);
	}
}

static void str_list_field(struct ld *L, const struct ynode *m, const char *key, const char *what)
{
	size_t n;

	free(get_strs(L, m, key, &n, what));
}

static void load_discovery(struct plan *p)
{
	static const char *const keys[] = {"version", "domain", "summary", "stack", "bounded_contexts",
					   "relationships", "glossary"};
	static const char *const skeys[] = {"language", "framework", "storage", "tests"};
	static const char *const ckeys[] = {"name", "description", "aggregates", "services", "repositories"};
	static const char *const akeys[] = {"name", "entities", "value_objects", "invariants", "commands", "events"};
	static const char *const rkeys[] = {"from", "to", "kind"};
	struct ld L = {p, "plans/discovery.yaml"};
	struct discovery *D = &p->disc;
	struct ynode *r, *v;
	struct ydoc *d;
	struct htab names = {0};
	int missing;
	size_t i, j;

	if (!(d = load_doc(p, "plans/discovery.yaml", &missing)))
		return;
	p->have_discovery = 1;
	if (!(r = doc_root(&L, d)))
		return;
	check_keys(&L, r, "plans/discovery.yaml", keys, LEN(keys));
	D->domain = ymap_get(r, "domain");
	if (D->domain && !yis_null(D->domain))
		want(&L, D->domain, Y_SCALAR, "'domain'");
	D->summary = ymap_get(r, "summary");
	if (D->summary && !yis_null(D->summary))
		want(&L, D->summary, Y_SCALAR, "'summary'");
	D->stack = ymap_get(r, "stack");
	if (D->stack && !yis_null(D->stack) && want(&L, D->stack, Y_MAP, "'stack'")) {
		check_keys(&L, D->stack, "'stack'", skeys, LEN(skeys));
		for (i = 0; i < LEN(skeys); i++)
			get_str(&L, D->stack, skeys[i], 0, "'stack'");
	}
	D->glossary = ymap_get(r, "glossary");
	if (D->glossary && !yis_null(D->glossary) && want(&L, D->glossary, Y_MAP, "'glossary'"))
		for (i = 1; i < D->glossary->n; i += 2)
			if (D->glossary->kids[i]->kind != Y_SCALAR)
				yerror(L.file, D->glossary->kids[i], "glossary entries must be strings, not %s",
				       ykind_name(D->glossary->kids[i]));
	v = ymap_get(r, "bounded_contexts");
	if (!yis_null(v) && want(&L, v, Y_SEQ, "'bounded_contexts'")) {
		D->contexts = xcalloc(v->n + 1, sizeof(*D->contexts));
		for (i = 0; i < v->n; i++) {
			struct ynode *c = v->kids[i], *ag;
			const char *name;

			if (!want(&L, c, Y_MAP, "a bounded context"))
				continue;
			check_keys(&L, c, "a bounded context", ckeys, LEN(ckeys));
			name = get_str(&L, c, "name", 1, "a bounded context");
			get_str(&L, c, "description", 0, "a bounded context");
			str_list_field(&L, c, "services", "a bounded context");
			str_list_field(&L, c, "repositories", "a bounded context");
			ag = ymap_get(c, "aggregates");
			if (!yis_null(ag) && want(&L, ag, Y_SEQ, "'aggregates'")) {
				for (j = 0; j < ag->n; j++) {
					struct ynode *a = ag->kids[j];
					size_t k;

					if (!want(&L, a, Y_MAP, "an aggregate"))
						continue;
					check_keys(&L, a, "an aggregate", akeys, LEN(akeys));
					get_str(&L, a, "name", 1, "an aggregate");
					for (k = 1; k < LEN(akeys); k++)
						str_list_field(&L, a, akeys[k], "an aggregate");
				}
			}
			if (!name)
				continue;
			if (htab_put(&names, name, c))
				yerror(L.file, ymap_get(c, "name"), "duplicate bounded context '%s'", name);
			D->contexts[D->ncontexts].name = name;
			D->contexts[D->ncontexts].node = c;
			D->ncontexts++;
		}
	}
	v = ymap_get(r, "relationships");
	if (!yis_null(v) && want(&L, v, Y_SEQ, "'relationships'")) {
		const char **cn = xcalloc(D->ncontexts + 1, sizeof(*cn));

		for (i = 0; i < D->ncontexts; i++)
			cn[i] = D->contexts[i].name;
		D->rels = xcalloc(v->n + 1, sizeof(*D->rels));
		for (i = 0; i < v->n; i++) {
			struct ynode *rel = v->kids[i];
			struct relationship *o = &D->rels[D->nrels];
			const char *ends[2];

			if (!want(&L, rel, Y_MAP, "a relationship"))
				continue;
			check_keys(&L, rel, "a relationship", rkeys, LEN(rkeys));
			ends[0] = o->from = get_str(&L, rel, "from", 1, "a relationship");
			ends[1] = o->to = get_str(&L, rel, "to", 1, "a relationship");
			get_str(&L, rel, "kind", 0, "a relationship");
			o->node = rel;
			for (j = 0; j < 2; j++) {
				const char *near;

				if (!ends[j] || htab_get(&names, ends[j]))
					continue;
				near = closest(ends[j], cn, D->ncontexts);
				if (near)
					yerror(L.file, ymap_get(rel, j ? "to" : "from"),
					       "relationship names unknown bounded context '%s' (did you mean '%s'?)",
					       ends[j], near);
				else
					yerror(L.file, ymap_get(rel, j ? "to" : "from"),
					       "relationship names unknown bounded context '%s'", ends[j]);
			}
			if (o->from && o->to)
				D->nrels++;
		}
		free(cn);
	}
	htab_free(&names);
}

const char *plan_path_problem(const char *path)
{
	const char *s = path, *e;

	if (!*path)
		return "is empty";
	if (path[0] == '/')
		return "is absolute";
	if (strchr(path, '\\'))
		return "contains a backslash";
	if (path[strlen(path) - 1] == '/')
		return "ends with '/'";
	for (; *s; s = *e ? e + 1 : e) {
		e = strchr(s, '/');
		if (!e)
			e = s + strlen(s);
		if (e == s)
			return *e ? "has an empty component" : "ends with '/'";
		if ((e - s == 1 && s[0] == '.') || (e - s == 2 && s[0] == '.' && s[1] == '.'))
			return "is not normalised (has '.' or '..')";
	}
	for (s = path; *s; s = *s ? s + 1 : s)
		if ((unsigned char)*s < 0x20)
			return "contains a control character";
	return confine_reserved(path);
}

static int rule_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rule *)a)->name, ((const struct rule *)b)->name);
}

/* free what a rule allocated (its strings belong to its document) */
static void rule_clear(struct rule *r)
{
	size_t k;

	free(r->match);
	free(r->examples);
	for (k = 0; k < r->nvalidate; k++)
		free(r->validate[k].argv.v);
	free(r->validate);
	for (k = 0; k < r->ninterface; k++)
		free(r->interface[k].argv.v);
	free(r->interface);
}

/* the rule's interface: mapping: glob -> whole | none | [command words] */
static void load_interface(struct ld *L, const struct ynode *r, struct rule *ru)
{
	static const char *const kinds[] = {"whole", "none"};
	struct ynode *v = ymap_get(r, "interface");
	size_t k;

	if (yis_null(v) || !want(L, v, Y_MAP, "'interface'"))
		return;
	ru->interface = xcalloc(v->n / 2 + 1, sizeof(*ru->interface));
	for (k = 0; k < v->n; k += 2) {
		struct ynode *a = v->kids[k + 1];
		struct extractor *o = &ru->interface[ru->ninterface];
		const char *glob = v->kids[k]->str, *near;

		if (a->kind == Y_SCALAR && !yis_null(a) && strcmp(a->str, "whole") == 0) {
			o->kind = IFACE_WHOLE;
		} else if (a->kind == Y_SCALAR && !yis_null(a) && strcmp(a->str, "none") == 0) {
			o->kind = IFACE_NONE;
		} else if (a->kind == Y_SEQ && a->n > 0) {
			o->kind = IFACE_COMMAND;
			get_words(L, a, &o->argv);
		} else if (a->kind == Y_SCALAR && !yis_null(a)) {
			near = closest(a->str, kinds, LEN(kinds));
			if (near)
				yerror(L->file, a, "the interface of '%s' must be whole, none or a command list, "
				       "not '%s' (did you mean '%s'?)", glob, a->str, near);
			else
				yerror(L->file, a, "the interface of '%s' must be whole, none or a command list, not '%s'",
				       glob, a->str);
			continue;
		} else {
			yerror(L->file, a, "the interface of '%s' must be whole, none or a command list, not %s", glob,
			       a->kind == Y_SEQ ? "an empty list" : ykind_name(a));
			continue;
		}
		o->glob = glob;
		ru->ninterface++;
	}
}

/* load every NAME.yaml in dir; a later directory overrides an earlier one by name */
static void load_rule_dir(struct plan *p, const char *dir, const char *shown_dir, int builtin)
{
	static const char *const keys[] = {"version", "name", "match", "system", "planning", "examples", "validate",
					   "interface"};
	struct dirent **ents = NULL;
	int n, i;

	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0)
		return;
	for (i = 0; i < n; i++) {
		const char *fn = ents[i]->d_name;
		size_t len = strlen(fn), k;
		char *path, *shown, *stem;
		struct buffer bytes = {0};
		struct ydoc *d;
		struct ynode *r, *v;
		struct rule ru = {0};
		struct ld L;

		if (len < 6 || strcmp(fn + len - 5, ".yaml") != 0 || fn[0] == '.')
			continue;
		path = path_join(dir, fn);
		shown = builtin ? xstrdup(path) : path_join(shown_dir, fn);
		stem = xstrndup(fn, len - 5);
		L.p = p;
		L.file = shown;
		if (read_file(path, &bytes, YAML_MAX_FILE) < 0) {
			yerror(shown, NULL, "cannot read: %s", strerror(errno));
			goto next;
		}
		d = ydoc_parse(shown, bytes.data ? bytes.data : "", bytes.len);
		if (!d)
			goto next;
		free(d->path);
		d->path = shown;
		shown = NULL;
		L.file = d->path;
		p->docs = xreallocarray(p->docs, p->ndocs + 1, sizeof(*p->docs));
		p->docs[p->ndocs++] = d;
		if (!(r = doc_root(&L, d)))
			goto next;
		check_keys(&L, r, "a rule", keys, LEN(keys));
		ru.doc = d;
		ru.path = d->path;
		ru.builtin = builtin;
		ru.name = get_str(&L, r, "name", 1, "the rule");
		if (ru.name && strcmp(ru.name, stem) != 0) {
			yerror(L.file, ymap_get(r, "name"), "rule name '%s' does not match its file name '%s.yaml'",
			       ru.name, stem);
			goto next;
		}
		if (!ru.name)
			goto next;
		ru.match = get_strs(&L, r, "match", &ru.nmatch, "the rule");
		ru.system = get_str(&L, r, "system", 0, "the rule");
		if (!ru.system)
			ru.system = "";
		ru.examples = get_strs(&L, r, "examples", &ru.nexamples, "the rule");
		v = ymap_get(r, "validate");
		if (!yis_null(v) && want(&L, v, Y_MAP, "'validate'")) {
			ru.validate = xcalloc(v->n / 2 + 1, sizeof(*ru.validate));
			for (k = 0; k < v->n; k += 2) {
				struct ynode *a = v->kids[k + 1];
				struct validator *o = &ru.validate[ru.nvalidate];

				if (!want(&L, a, Y_SEQ, "a validate command") || a->n == 0) {
					if (a->kind == Y_SEQ)
						yerror(L.file, a, "a validate command must not be empty");
					continue;
				}
				o->glob = v->kids[k]->str;
				get_words(&L, a, &o->argv);
				ru.nvalidate++;
			}
		}
		load_interface(&L, r, &ru);
		ru.planning = get_str(&L, r, "planning", 0, "the rule");
		if (!ru.planning)
			ru.planning = "";
		sha256_hex(bytes.data ? bytes.data : "", bytes.len, ru.hash);
		for (k = 0; k < p->nrules; k++)
			if (strcmp(p->rules[k].name, ru.name) == 0)
				break;
		if (k < p->nrules) {
			rule_clear(&p->rules[k]);
			p->rules[k] = ru;
		} else {
			p->rules = xreallocarray(p->rules, p->nrules + 1, sizeof(*p->rules));
			p->rules[p->nrules++] = ru;
		}
		memset(&ru, 0, sizeof(ru));
next:
		rule_clear(&ru);
		buf_free(&bytes);
		free(path);
		free(shown);
		free(stem);
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
}

static void load_rules(struct plan *p)
{
	const char *bdir = plan_builtin_rules();
	char *pdir = path_join(p->root, "rules");
	char *rb = realpath(bdir, NULL), *rp = realpath(pdir, NULL);

	if (!rp || !rb || strcmp(rb, rp) != 0)
		load_rule_dir(p, bdir, bdir, 1);
	load_rule_dir(p, pdir, "rules", 0);
	if (p->nrules)
		qsort(p->rules, p->nrules, sizeof(*p->rules), rule_cmp);
	free(rb);
	free(rp);
	free(pdir);
}

const struct rule *plan_rule(const struct plan *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nrules; i++)
		if (strcmp(p->rules[i].name, name) == 0)
			return &p->rules[i];
	return NULL;
}

/* the rule for an output name: an exact file name (pyproject.toml) beats a
 * pattern (*.toml); among equals the first rule by name; generic last */
static const struct rule *rule_for_output(const struct plan *p, const char *out)
{
	const char *base = strrchr(out, '/');
	size_t i, j;
	int pass;

	base = base ? base + 1 : out;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < p->nrules; i++) {
			const struct rule *r = &p->rules[i];

			if (strcmp(r->name, "generic") == 0)
				continue;
			for (j = 0; j < r->nmatch; j++) {
				int exact = !strpbrk(r->match[j], "*?[");

				if (exact != (pass == 0))
					continue;
				if (glob_match(r->match[j], base) || glob_match(r->match[j], out))
					return r;
			}
		}
	}
	return plan_rule(p, "generic");
}

/* record id in the shared namespace, reporting a duplicate */
static void add_id(struct ld *L, struct htab *all, const char *id, struct ynode *at, void *what)
{
	if (!id_ok(id)) {
		yerror(L->file, at, "invalid id '%s' (ids match [A-Za-z][A-Za-z0-9_.-]*)", id);
		return;
	}
	if (htab_get(all, id))
		yerror(L->file, at, "duplicate id '%s'", id);
	else
		htab_put(all, id, what);
}

/* a reference to an id of one kind, with a close match from names[0..n) */
static void bad_ref(struct ld *L, const struct ynode *at, const char *who, const char *kind, const char *id,
		    const char *const *names, size_t n)
{
	const char *near = closest(id, names, n);

	if (near)
		yerror(L->file, at, "%s refers to unknown %s '%s' (did you mean '%s'?)", who, kind, id, near);
	else
		yerror(L->file, at, "%s refers to unknown %s '%s'", who, kind, id);
}

static struct argv *get_checks(struct ld *L, const struct ynode *m, size_t *n, const char *who)
{
	struct ynode *v = ymap_get(m, "check");
	struct argv *out;
	size_t i;

	*n = 0;
	if (yis_null(v))
		return NULL;
	if (v->kind != Y_SEQ) {
		yerror(L->file, v, "'check' of %s must be a list of commands, not %s", who, ykind_name(v));
		return NULL;
	}
	out = xcalloc(v->n + 1, sizeof(*out));
	for (i = 0; i < v->n; i++) {
		struct ynode *c = v->kids[i];

		if (c->kind != Y_SEQ || c->n == 0) {
			yerror(L->file, c, "each check of %s must be a non-empty list of words (an argv), not %s",
			       who, c->kind == Y_SEQ ? "an empty list" : ykind_name(c));
			continue;
		}
		get_words(L, c, &out[(*n)++]);
	}
	return out;
}

/* print the cycle through t (found by the caller's DFS) as A -> B -> A */
static void report_cycle(struct ld *L, struct task **path, size_t n, struct task *again)
{
	struct buffer b = {0};
	size_t i = 0;

	while (i < n && path[i] != again)
		i++;
	for (; i < n; i++)
		buf_printf(&b, "%s -> ", path[i]->id);
	buf_puts(&b, again->id);
	yerror(L->file, again->node, "dependency cycle: %s", buf_str(&b));
	buf_free(&b);
}

/* iterative DFS over depends_on; reports each cycle once */
static void find_cycles(struct ld *L, struct plan *p)
{
	unsigned char *mark = xcalloc(p->ntasks + 1, 1);   /* 0 new, 1 on path, 2 done */
	struct task **path = xcalloc(p->ntasks + 1, sizeof(*path));
	size_t *next = xcalloc(p->ntasks + 1, sizeof(*next));
	size_t i, depth;

	for (i = 0; i < p->ntasks; i++) {
		if (mark[i])
			continue;
		depth = 0;
		path[depth] = &p->tasks[i];
		next[depth] = 0;
		mark[i] = 1;
		depth++;
		while (depth > 0) {
			struct task *t = path[depth - 1];

			if (next[depth - 1] < t->ndeps && t->deps) {
				struct task *d = t->deps[next[depth - 1]++];

				if (!d)
					continue;
				if (mark[d->index] == 1) {
					report_cycle(L, path, depth, d);
				} else if (mark[d->index] == 0) {
					mark[d->index] = 1;
					path[depth] = d;
					next[depth] = 0;
					depth++;
				}
			} else {
				mark[t->index] = 2;
				depth--;
			}
		}
	}
	free(mark);
	free(path);
	free(next);
}

static void load_masterplan(struct plan *p, int strict)
{
	static const char *const keys[] = {"version", "project", "phases", "milestones", "tasks"};
	static const char *const phkeys[] = {"id", "title", "description"};
	static const char *const mkeys[] = {"id", "phase", "title", "description"};
	static const char *const tkeys[] = {"id", "title", "description", "milestone", "complexity", "model",
					    "rule", "depends_on", "context", "outputs", "reads", "check", "subtasks"};
	static const char *const cplx[] = {"low", "medium", "high"};
	struct ld L = {p, "plans/masterplan.yaml"};
	struct htab all = {0}, phases = {0}, miles = {0}, ctx = {0};
	const char **names = NULL, **rnames;
	struct ynode *r, *v;
	struct ydoc *d;
	int missing, before = yaml_errors;
	size_t i, j;

	if (!(d = load_doc(p, "plans/masterplan.yaml", &missing)))
		return;
	p->have_masterplan = 1;
	if (!(r = doc_root(&L, d)))
		return;
	check_keys(&L, r, "plans/masterplan.yaml", keys, LEN(keys));
	p->project = get_str(&L, r, "project", 0, "plans/masterplan.yaml");
	v = ymap_get(r, "phases");
	if (!yis_null(v) && want(&L, v, Y_SEQ, "'phases'")) {
		p->phases = xcalloc(v->n + 1, sizeof(*p->phases));
		for (i = 0; i < v->n; i++) {
			struct ynode *e = v->kids[i];
			struct phase *o = &p->phases[p->nphases];

			if (!want(&L, e, Y_MAP, "a phase"))
				continue;
			check_keys(&L, e, "a phase", phkeys, LEN(phkeys));
			o->id = get_str(&L, e, "id", 1, "a phase");
			o->title = get_str(&L, e, "title", 0, "a phase");
			o->description = get_str(&L, e, "description", 0, "a phase");
			o->node = e;
			if (!o->id)
				continue;
			add_id(&L, &all, o->id, ymap_get(e, "id"), o);
			htab_put(&phases, o->id, (void *)(p->nphases + 1));
			p->nphases++;
		}
	}
	v = ymap_get(r, "milestones");
	if (!yis_null(v) && want(&L, v, Y_SEQ, "'milestones'")) {
		p->milestones = xcalloc(v->n + 1, sizeof(*p->milestones));
		for (i = 0; i < v->n; i++) {
			struct ynode *e = v->kids[i];
			struct milestone *o = &p->milestones[p->nmilestones];

			if (!want(&L, e, Y_MAP, "a milestone"))
				continue;
			check_keys(&L, e, "a milestone", mkeys, LEN(mkeys));
			o->id = get_str(&L, e, "id", 1, "a milestone");
			o->phase = get_str(&L, e, "phase", 0, "a milestone");
			o->title = get_str(&L, e, "title", 0, "a milestone");
			o->description = get_str(&L, e, "description", 0, "a milestone");
			o->node = e;
			if (!o->id)
				continue;
			add_id(&L, &all, o->id, ymap_get(e, "id"), o);
			htab_put(&miles, o->id, (void *)(p->nmilestones + 1));
			o->phase_index = (size_t)-1;
			if (o->phase) {
				size_t ix = (size_t)htab_get(&phases, o->phase);

				if (ix) {
					o->phase_index = ix - 1;
				} else {
					const char **pn = xcalloc(p->nphases + 1, sizeof(*pn));

					for (j = 0; j < p->nphases; j++)
						pn[j] = p->phases[j].id;
					char who[160];

					snprintf(who, sizeof(who), "milestone %s", o->id);
					bad_ref(&L, ymap_get(e, "phase"), who, "phase", o->phase, pn, p->nphases);
					free(pn);
				}
			}
			p->nmilestones++;
		}
	}
	for (i = 0; i < p->disc.ncontexts; i++)
		htab_put(&ctx, p->disc.contexts[i].name, &p->disc.contexts[i]);
	v = ymap_get(r, "tasks");
	if (yis_null(v)) {
		yerror(L.file, r, "plans/masterplan.yaml has no 'tasks'");
	} else if (want(&L, v, Y_SEQ, "'tasks'")) {
		p->tasks = xcalloc(v->n + 1, sizeof(*p->tasks));
		for (i = 0; i < v->n; i++) {
			struct ynode *e = v->kids[i];
			struct task *t = &p->tasks[p->ntasks];
			char who[160];

			if (!want(&L, e, Y_MAP, "a task"))
				continue;
			check_keys(&L, e, "a task", tkeys, LEN(tkeys));
			t->node = e;
			t->id = get_str(&L, e, "id", 1, "a task");
			if (!t->id)
				continue;
			snprintf(who, sizeof(who), "task %s", t->id);
			t->title = get_str(&L, e, "title", 1, who);
			t->description = get_str(&L, e, "description", 0, who);
			t->milestone = get_str(&L, e, "milestone", 0, who);
			t->complexity = "medium";
			if (ymap_get(e, "complexity") && !yis_null(ymap_get(e, "complexity"))) {
				const char *c = get_str(&L, e, "complexity", 0, who);

				for (j = 0; c && j < LEN(cplx); j++)
					if (strcmp(c, cplx[j]) == 0)
						break;
				if (c && j == LEN(cplx)) {
					const char *near = closest(c, cplx, LEN(cplx));

					yerror(L.file, ymap_get(e, "complexity"),
					       "complexity of %s must be low, medium or high, not '%s'%s%s%s", who, c,
					       near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
				} else if (c) {
					t->complexity = cplx[j];
				}
			}
			t->model = get_str(&L, e, "model", 0, who);
			t->rule = get_str(&L, e, "rule", 0, who);
			t->depends_on = get_strs(&L, e, "depends_on", &t->ndeps, who);
			t->dep_nodes = ymap_get(e, "depends_on");
			t->has_context = ymap_get(e, "context") && !yis_null(ymap_get(e, "context"));
			t->context = get_strs(&L, e, "context", &t->ncontext, who);
			t->outputs = get_strs(&L, e, "outputs", &t->noutputs, who);
			t->reads = get_strs(&L, e, "reads", &t->nreads, who);
			t->check = get_checks(&L, e, &t->ncheck, who);
			free(get_strs(&L, e, "subtasks", &j, who));
			t->index = p->ntasks;
			t->milestone_index = (size_t)-1;
			add_id(&L, &all, t->id, ymap_get(e, "id"), t);
			if (htab_get(&all, t->id) == t)
				htab_put(&p->ids, t->id, t);
			p->ntasks++;
		}
	}
	/* references, now that every id is known */
	names = xcalloc(p->ntasks + 1, sizeof(*names));
	for (i = 0; i < p->ntasks; i++)
		names[i] = p->tasks[i].id;
	rnames = xcalloc(p->nrules + 1, sizeof(*rnames));
	for (i = 0; i < p->nrules; i++)
		rnames[i] = p->rules[i].name;
	for (i = 0; i < p->ntasks; i++) {
		struct task *t = &p->tasks[i];
		char who[160];

		snprintf(who, sizeof(who), "task %s", t->id);
		if (t->milestone) {
			size_t ix = (size_t)htab_get(&miles, t->milestone);

			if (ix) {
				t->milestone_index = ix - 1;
			} else {
				const char **mn = xcalloc(p->nmilestones + 1, sizeof(*mn));

				for (j = 0; j < p->nmilestones; j++)
					mn[j] = p->milestones[j].id;
				bad_ref(&L, ymap_get(t->node, "milestone"), who, "milestone", t->milestone, mn,
					p->nmilestones);
				free(mn);
			}
		}
		t->deps = xcalloc(t->ndeps + 1, sizeof(*t->deps));
		for (j = 0; j < t->ndeps; j++) {
			struct task *dt = htab_get(&p->ids, t->depends_on[j]);

			t->deps[j] = dt;
			if (!dt)
				bad_ref(&L, t->dep_nodes->kids[j], who, "task", t->depends_on[j], names, p->ntasks);
			else if (dt == t)
				yerror(L.file, t->dep_nodes->kids[j], "%s depends on itself", who);
			else {
				size_t k;

				for (k = 0; k < j && t->deps[k] != dt; k++)
					;
				if (k < j)
					yerror(L.file, t->dep_nodes->kids[j], "%s lists %s twice in depends_on", who, dt->id);
			}
		}
		if (p->have_discovery) {
			for (j = 0; j < t->ncontext; j++) {
				if (!htab_get(&ctx, t->context[j])) {
					const char **cn = xcalloc(p->disc.ncontexts + 1, sizeof(*cn));
					size_t k;

					for (k = 0; k < p->disc.ncontexts; k++)
						cn[k] = p->disc.contexts[k].name;
					bad_ref(&L, ymap_get(t->node, "context")->kids[j], who, "bounded context",
						t->context[j], cn, p->disc.ncontexts);
					free(cn);
				}
			}
		}
		if (strict && !t->has_context && p->disc.ncontexts > 1)
			ywarning(L.file, t->node, "%s has no 'context:'; its prompt includes every bounded context", who),
			p->warnings++;
		if (t->noutputs == 0)
			yerror(L.file, t->node, "%s declares no outputs", who);
		for (j = 0; j < t->nreads; j++) {
			const char *why = plan_path_problem(t->reads[j]);

			if (why)
				yerror(L.file, ymap_get(t->node, "reads")->kids[j], "file '%s' that %s reads %s", t->reads[j], who,
				       why);
		}
		for (j = 0; j < t->noutputs; j++) {
			const char *why = plan_path_problem(t->outputs[j]);
			struct task *other;

			if (why) {
				yerror(L.file, ymap_get(t->node, "outputs")->kids[j], "output '%s' of %s %s",
				       t->outputs[j], who, why);
				continue;
			}
			other = htab_get(&p->outputs, t->outputs[j]);
			if (other)
				yerror(L.file, ymap_get(t->node, "outputs")->kids[j],
				       "output '%s' of %s is already declared by task %s", t->outputs[j], who, other->id);
			else
				htab_put(&p->outputs, t->outputs[j], t);
		}
		if (t->rule) {
			t->r = plan_rule(p, t->rule);
			if (!t->r)
				bad_ref(&L, ymap_get(t->node, "rule"), who, "rule", t->rule, rnames, p->nrules);
		} else if (t->noutputs) {
			t->r = rule_for_output(p, t->outputs[0]);
			if (!t->r)
				yerror(L.file, t->node, "no rule matches output '%s' of %s (set 'rule:' or add rules/generic.yaml)",
				       t->outputs[0], who);
		}
	}
	/* a file cannot also be a directory: 'a' and 'a/b' are both declared */
	for (i = 0; i < p->ntasks; i++) {
		struct task *t = &p->tasks[i];

		for (j = 0; j < t->noutputs; j++) {
			char *o = xstrdup(t->outputs[j]), *s;

			while ((s = strrchr(o, '/')) != NULL) {
				struct task *other;

				*s = '\0';
				other = htab_get(&p->outputs, o);
				if (other) {
					yerror(L.file, ymap_get(t->node, "outputs")->kids[j],
					       "output '%s' of task %s is inside '%s', an output of task %s: a file cannot be a directory",
					       t->outputs[j], t->id, o, other->id);
					break;
				}
			}
			free(o);
		}
	}
	if (yaml_errors == before)
		find_cycles(&L, p);
	free(names);
	free(rnames);
	htab_free(&all);
	htab_free(&phases);
	htab_free(&miles);
	htab_free(&ctx);
}

/* plan_load, with the masterplan's bytes from data when it is not NULL */
static struct plan *load(const char *root, const char *data, size_t len)
{
	struct plan *p = xcalloc(1, sizeof(*p));
	int before = yaml_errors;
	char *req = path_join(root, "plans/request.md");

	p->root = xstrdup(root);
	p->have_request = path_exists(req);
	free(req);
	load_settings(p);
	provider_from_env(p);
	load_rules(p);
	load_questions(p);
	load_answers(p);
	load_discovery(p);
	p->candidate = data;
	p->candidate_len = len;
	load_masterplan(p, 1);
	p->candidate = NULL;
	if (yaml_errors != before) {
		plan_free(p);
		return NULL;
	}
	return p;
}

struct plan *plan_load(const char *root)
{
	return load(root, NULL, 0);
}

struct plan *plan_load_candidate(const char *root, const char *data, size_t len)
{
	return load(root, data ? data : "", len);
}

void plan_free(struct plan *p)
{
	size_t i, j;

	if (!p)
		return;
	for (i = 0; i < p->ntasks; i++) {
		struct task *t = &p->tasks[i];

		free(t->depends_on);
		free(t->context);
		free(t->outputs);
		free(t->reads);
		for (j = 0; j < t->ncheck; j++)
			free(t->check[j].v);
		free(t->check);
		free(t->deps);
	}
	free(p->tasks);
	free(p->phases);
	free(p->milestones);
	for (i = 0; i < p->nrules; i++)
		rule_clear(&p->rules[i]);
	free(p->rules);
	free(p->questions);
	free(p->disc.contexts);
	free(p->disc.rels);
	free(p->settings.prices);
	htab_free(&p->ids);
	htab_free(&p->outputs);
	for (i = 0; i < p->ndocs; i++)
		ydoc_free(p->docs[i]);
	free(p->docs);
	free(p->root);
	free(p);
}

struct task *plan_task(const struct plan *p, const char *id)
{
	return htab_get(&p->ids, id);
}

struct model_choice plan_task_model(const struct plan *p, const struct task *t)
{
	struct model_choice m = {0};

	if (t->model) {
		m.model = t->model;
		return m;
	}
	if (strcmp(t->complexity, "low") == 0)
		return p->settings.low;
	if (strcmp(t->complexity, "high") == 0)
		return p->settings.high;
	return p->settings.medium;
}
