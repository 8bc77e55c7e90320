/* prefix.c: prompt-cache prefixes (SPEC 10.11).  A prefix is layers 1..k
 * of a request on one model that the provider caches; with -j, the first
 * call that needs a cold prefix writes it and the targets that would read it
 * wait until its answer starts, so that they read it instead of each
 * writing it again.  Called by build.c under the engine's mutex. */
#include "prefix.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* a cacheable prompt prefix (layers 1..k on one model) and who writes it */
struct prefix {
	char *id;
	enum { P_COLD, P_WARMING, P_WARM } state;
	const char *writer;     /* the target whose call writes it while P_WARMING */
	struct prefix *next;
};

/* the prefix named id, created cold, or warm when an earlier run wrote it
 * within its TTL (state meta "warm:ID" holds the expiry, in Unix seconds) */
static struct prefix *prefix_get(struct engine *e, const char *id)
{
	struct prefix *x = htab_get(&e->prefixes, id);
	char *name, *until;

	if (x)
		return x;
	/* the first prefix of a run that makes calls (never a no-op) drops the expired ones */
	if (!e->plist)
		state_meta_expire(e->st, "warm:", (double)time(NULL));
	x = xcalloc(1, sizeof(*x));
	x->id = xstrdup(id);
	x->next = e->plist;
	e->plist = x;
	htab_put(&e->prefixes, x->id, x);
	name = xasprintf("warm:%s", id);
	until = state_meta_get(e->st, name);
	if (until && atof(until) > (double)time(NULL))
		x->state = P_WARM;
	free(until);
	free(name);
	return x;
}

/* the prefixes of t's request on model that the provider caches: layers 1..k
 * whose length reaches the model's minimum (as anthropic.c places breakpoints) */
static size_t prefixes_of(struct engine *e, const struct task *t, const char *model, enum answer_format f,
			  struct prefix *out[3])
{
	const struct model_info *m = model_lookup(&e->p->settings, model);
	const char *h[3];
	size_t len[3], cum = 0, n = 0;
	struct buffer id = {0};
	int i;

	if (m->min_cache <= 0 || t->stage)
		return 0;
	prompt_shared_hashes(e->pc, t, f, h);
	prompt_shared_lens(e->pc, t, f, len);
	buf_printf(&id, "%s %s", e->family, model);
	for (i = 0; i < 3; i++) {
		cum += len[i];
		buf_printf(&id, " %s", h[i] + 7);
		if (cum / 4 >= (size_t)m->min_cache)
			out[n++] = prefix_get(e, buf_str(&id));
	}
	buf_free(&id);
	return n;
}

/* the target whose call in flight is writing a prefix t would read (t
 * waits for it), or NULL */
const char *prefix_busy(struct engine *e, const struct task *t)
{
	struct tinfo *ti = &e->ti[t->index];
	struct prefix *x[3];
	size_t i, n;

	if (e->jobs < 2)
		return NULL;
	n = prefixes_of(e, t, ti->mc.model, ti->fmt, x);
	for (i = 0; i < n; i++)
		if (x[i]->state == P_WARMING)
			return x[i]->writer;
	return NULL;
}

size_t prefix_claim(struct engine *e, const struct task *t, const char *model, enum answer_format f,
		    struct prefix *warms[3])
{
	struct prefix *x[3];
	size_t i, n = prefixes_of(e, t, model, f, x), k = 0;

	for (i = 0; i < n; i++)
		if (x[i]->state == P_COLD) {
			x[i]->state = P_WARMING;
			x[i]->writer = t->id;
			warms[k++] = x[i];
		}
	return k;
}

void prefix_settle(struct engine *e, struct prefix **warms, size_t *n, int warm, int ttl_1h)
{
	size_t i;

	for (i = 0; i < *n; i++) {
		warms[i]->state = warm ? P_WARM : P_COLD;
		if (warm) {
			char *name = xasprintf("warm:%s", warms[i]->id);
			/* wall-clock seconds: the monotonic clock restarts with the machine */
			char *until = xasprintf("%lld", (long long)time(NULL) + (ttl_1h ? 3600 : 300) - 30);

			state_meta_set(e->st, name, until);
			free(name);
			free(until);
		}
	}
	*n = 0;
}

void prefix_free_all(struct engine *e)
{
	while (e->plist) {
		struct prefix *x = e->plist;

		e->plist = x->next;
		free(x->id);
		free(x);
	}
	htab_free(&e->prefixes);
}

