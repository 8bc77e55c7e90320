/* layout.c: the canonical order of a task's dependency interfaces and the
 * places of its layer-4 breakpoints (layout.h).  Layer 4 shows one block
 * per interface; the provider caches a prefix only where a breakpoint ends
 * it, and finds it again at a breakpoint or at a block boundary shortly
 * before one.  So the order makes a task's list begin with what another
 * request already ended with (its first dependency's list), and the
 * breakpoints go where a prefix is shared with another task of the same
 * rule and model: nowhere else is a write ever read back. */
#include "layout.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* plans larger than this get no layer-4 breakpoints: counting every
 * task's prefixes would cost more than a build saves */
#define COUNT_MAX 5000

struct layout {
	const struct plan *p;
	const char **model;     /* per task: the model it is sent to; NULL until asked */
	int *have_model;        /* per task: model[] is set */
	size_t *size;           /* per task: 1 + how many tasks it depends on, directly or not; 0: not yet */
	size_t **kids;          /* per task: its dependencies (plan indexes) in walk order; NULL: not yet */
	struct htab counts;     /* prefix key (owned) -> how many tasks' lists begin with it */
	int counted;            /* counts is made */
	unsigned char *seen;    /* scratch for a walk, one byte per task */
	unsigned char *mark;    /* scratch for counting, one byte per task */
};

struct layout *layout_open(const struct plan *p)
{
	struct layout *l = xcalloc(1, sizeof(*l));

	l->p = p;
	l->model = xcalloc(p->ntasks + 1, sizeof(*l->model));
	l->have_model = xcalloc(p->ntasks + 1, sizeof(*l->have_model));
	l->size = xcalloc(p->ntasks + 1, sizeof(*l->size));
	l->kids = xcalloc(p->ntasks + 1, sizeof(*l->kids));
	l->seen = xcalloc(p->ntasks + 1, 1);
	l->mark = xcalloc(p->ntasks + 1, 1);
	return l;
}

void layout_close(struct layout *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->p->ntasks; i++)
		free(l->kids[i]);
	htab_free_owned(&l->counts, NULL);
	free(l->kids);
	free(l->model);
	free(l->have_model);
	free(l->size);
	free(l->seen);
	free(l->mark);
	free(l);
}

static const char *model_of(struct layout *l, const struct task *t)
{
	if (!l->have_model[t->index]) {
		l->model[t->index] = plan_task_model(l->p, t).model;
		l->have_model[t->index] = 1;
	}
	return l->model[t->index];
}

/* mark what t depends on, directly or not; how many were new */
static size_t mark(const struct task *t, unsigned char *m)
{
	size_t i, n = 0;

	for (i = 0; i < t->ndeps; i++)
		if (!m[t->deps[i]->index]) {
			m[t->deps[i]->index] = 1;
			n += 1 + mark(t->deps[i], m);
		}
	return n;
}

/* how many tasks t depends on, directly or not */
static size_t size_of(struct layout *l, const struct task *t)
{
	if (!l->size[t->index]) {
		memset(l->mark, 0, l->p->ntasks);
		l->size[t->index] = 1 + mark(t, l->mark);
	}
	return l->size[t->index] - 1;
}

/* d comes before e among a task's dependencies: the one that depends on
 * more tasks first (its list is the longer prefix to read back), then plan
 * order.  Preferring a dependency of the task's own rule and model, whose
 * cached prefix the task could read itself, measured no better on
 * bench/layout.py's plan: siblings of the task read the prefix it writes
 * either way */
static int before(struct layout *l, const struct task *d, const struct task *e)
{
	size_t sd = size_of(l, d), se = size_of(l, e);

	if (sd != se)
		return sd > se;
	return d->index < e->index;
}

/* t's direct dependencies in walk order, sorted once (lists are short: insertion sort) */
static const size_t *kids(struct layout *l, const struct task *t)
{
	size_t *k, i, j;

	if (l->kids[t->index])
		return l->kids[t->index];
	k = xcalloc(t->ndeps + 1, sizeof(*k));
	for (i = 0; i < t->ndeps; i++) {
		const struct task *d = t->deps[i];

		for (j = i; j > 0 && before(l, d, &l->p->tasks[k[j - 1]]); j--)
			k[j] = k[j - 1];
		k[j] = d->index;
	}
	l->kids[t->index] = k;
	return k;
}

/* post-order: each dependency after its own, the first one's walk whole */
static void walk(struct layout *l, const struct task *t, size_t *out, size_t *n)
{
	const size_t *k = kids(l, t);
	size_t i;

	for (i = 0; i < t->ndeps; i++) {
		const struct task *d = &l->p->tasks[k[i]];

		if (l->seen[d->index])
			continue;
		l->seen[d->index] = 1;
		walk(l, d, out, n);
		out[(*n)++] = d->index;
	}
}

size_t layout_deps(struct layout *l, const struct task *t, size_t *out)
{
	size_t n = 0;

	memset(l->seen, 0, l->p->ntasks);
	walk(l, t, out, &n);
	return n;
}

/* FNV-1a over bytes (a collision costs a cache write, nothing else) */
static uint64_t step(uint64_t h, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return (h ^ '\n') * 1099511628211ULL;
}

/* the start of the prefix keys of t's lists: its rule and model */
static uint64_t seed(struct layout *l, const struct task *t)
{
	const char *m = model_of(l, t);
	uint64_t h = 1469598103934665603ULL;

	h = step(h, t->r ? t->r->name : "", t->r ? strlen(t->r->name) : 0);
	return step(h, m ? m : "", m ? strlen(m) : 0);
}

static void key_of(uint64_t h, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* for every task, count each prefix of its list under its rule and model */
static void count_all(struct layout *l)
{
	size_t *list = xcalloc(l->p->ntasks + 1, sizeof(*list)), i, k, n;
	char key[17];

	l->counted = 1;
	for (i = 0; i < l->p->ntasks; i++) {
		const struct task *t = &l->p->tasks[i];
		uint64_t h = seed(l, t);

		n = layout_deps(l, t, list);
		for (k = 0; k < n; k++) {
			const char *id = l->p->tasks[list[k]].id, *held;

			h = step(h, id, strlen(id));
			key_of(h, key);
			held = htab_key(&l->counts, key);
			htab_put(&l->counts, held ? held : xstrdup(key),
				 (void *)((uintptr_t)htab_get(&l->counts, key) + 1));
		}
	}
	free(list);
}

size_t layout_marks(struct layout *l, const struct task *t, const size_t *list, const size_t *ends, size_t n,
		    size_t *marks, size_t max)
{
	size_t *cand, ncand = 0, nm = 0, i, j, k;
	uint64_t h;
	char key[17];

	if (!n || !max || l->p->ntasks > COUNT_MAX)
		return 0;
	if (!l->counted)
		count_all(l);
	cand = xcalloc(n + 1, sizeof(*cand));
	h = seed(l, t);
	for (k = 0; k < n; k++) {
		const char *id = l->p->tasks[list[k]].id;
		int first;

		h = step(h, id, strlen(id));
		/* a boundary is where the first of the entries that end at it
		 * ends: tasks that go on differently share the bytes up to it */
		first = ends[k] > 0 && (k == 0 || ends[k - 1] != ends[k]);
		if (!first)
			continue;
		key_of(h, key);
		if ((uintptr_t)htab_get(&l->counts, key) >= 2)
			cand[ncand++] = ends[k];
	}
	/* the deepest shared prefix first: it writes what others read, and its
	 * lookback reads the shallower ones; then any it cannot see */
	for (i = ncand; i-- > 0 && nm < max;) {
		int covered = 0;

		for (j = 0; j < nm; j++)
			covered |= marks[j] >= cand[i] && marks[j] - cand[i] <= LAYOUT_LOOKBACK;
		if (!covered)
			marks[nm++] = cand[i];
	}
	free(cand);
	return nm;
}
