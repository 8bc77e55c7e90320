/* engine.c: opening the engine (plan, records, rules, state) and evaluating
 * each task: its key, and whether it is up to date, stale, kept (a person's
 * file), skipped or failed before any call.  The lock is regenerated here
 * from the records. */
#include "engine.h"
#include "iface.h"
#include "check.h"
#include "graph.h"
#include "judge.h"
#include "layout.h"
#include "lockfile.h"
#include "orphan.h"
#include "stage.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

const char *const state_names[] = {"stale", "waits", "up to date", "built", "restored", "failed", "skipped", "kept"};

void engine_why(struct tinfo *ti, char *why)
{
	free(ti->why);
	ti->why = why;
}

/* the build lock: one build per project; wait up to 5 s, then name the holder */
int engine_take_lock(const char *root)
{
	char *dir = path_join(root, "cache"), *path = path_join(dir, "lock");
	int fd, i;

	mkdirs(dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0) {
		error("cannot open %s:", path);
		free(dir);
		free(path);
		return -1;
	}
	for (i = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; i++) {
		if (i == 50) {
			char buf[32] = {0};

			if (pread(fd, buf, sizeof(buf) - 1, 0) < 0)
				buf[0] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			error("another mpbuild (pid %s) is building this project; %s is locked", *buf ? buf : "?", path);
			close(fd);
			free(dir);
			free(path);
			return -1;
		}
		usleep(100000);
	}
	if (ftruncate(fd, 0) == 0) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

		if (pwrite(fd, buf, (size_t)n, 0) < 0)
			warn("cannot write %s:", path);
	}
	free(dir);
	free(path);
	return fd;   /* held until exit */
}

/* look records up by target, and the files of records of gone targets by path */
static void index_records(struct engine *e)
{
	size_t i;

	htab_free(&e->rec_by);
	htab_free(&e->gone_out);
	for (i = 0; i < e->nrec; i++) {
		const struct record *r = &e->recs[i];
		size_t j;

		htab_put(&e->rec_by, r->target, &e->recs[i]);
		for (j = 0; r->generated && j < r->n && orphan_gone(e->p, r->target); j++)
			htab_put(&e->gone_out, r->paths[j], r->hashes[j]);
	}
}

/* records from state.db, or from mpbuild.lock when the lock changed outside
 * mpbuild (a fresh clone, git checkout or pull): the lock then wins */
static int load_records(struct engine *e, int writable)
{
	const char *lh = fscache_hash(&e->fc, "mpbuild.lock");
	struct lockfile lk = {0};
	int into_state = writable && e->st;
	int rc = lh ? lockfile_sync(e->root, e->st, into_state ? NULL : &lk, lh) : 0;

	if (rc < 0)
		return -1;
	/* a lock newer than state.db (a clone, a checkout, a pull) */
	e->dirty = rc == 1;
	if (rc == 1 && !into_state) {
		e->recs = lk.targets;
		e->nrec = lk.ntargets;
		lk.targets = NULL;
		lk.ntargets = 0;
		e->approved = lk.approved_checks ? xstrdup(lk.approved_checks) : NULL;
		rulebook_from_lock(&e->rb, &lk);
		lockfile_free(&lk);
		index_records(e);
		return 0;
	}
	if (e->st) {
		e->recs = state_records(e->st, &e->nrec);
		e->approved = state_meta_get(e->st, "approved_checks");
		if (e->approved && !*e->approved) {
			free(e->approved);
			e->approved = NULL;
		}
	}
	rulebook_load(&e->rb, e->st, e->root, writable);
	index_records(e);
	return 0;
}

/* what the lock holds besides the records: the rule hashes, the approved
 * checks and which targets the plan has */
static void lock_inputs(struct engine *e, char out[HASH_HEX])
{
	struct sha256 hs;
	const char *ap = e->approved ? e->approved : "";
	size_t i;

	sha256_init(&hs);
	sha256_update(&hs, ap, strlen(ap) + 1);
	for (i = 0; i < e->p->nrules; i++) {
		sha256_update(&hs, e->p->rules[i].name, strlen(e->p->rules[i].name) + 1);
		sha256_update(&hs, e->p->rules[i].hash, strlen(e->p->rules[i].hash) + 1);
	}
	for (i = 0; i < e->p->ntasks; i++)
		sha256_update(&hs, e->p->tasks[i].id, strlen(e->p->tasks[i].id) + 1);
	sha256_final_hex(&hs, out);
}

/* regenerate mpbuild.lock from state.db (SPEC 10.8); nothing to do when no
 * record changed, the plan's targets and rules are those of the last lock and
 * the file is as mpbuild wrote it */
void engine_write_lock(struct engine *e)
{
	struct lockfile lk = {0};
	struct buffer b = {0};
	struct record *all;
	size_t n, i, j;
	char h[HASH_HEX], in[HASH_HEX];

	lock_inputs(e, in);
	if (!e->dirty) {
		char *seen_in = state_meta_get(e->st, "lock_inputs"), *seen = state_meta_get(e->st, "lock_hash");
		const char *now_h = fscache_hash(&e->fc, "mpbuild.lock");
		int same = seen_in && seen && now_h && strcmp(seen_in, in) == 0 && strcmp(seen, now_h) == 0;

		free(seen_in);
		free(seen);
		if (same)
			return;
	}
	all = state_records(e->st, &n);
	lk.targets = xcalloc(n + 1, sizeof(*lk.targets));
	for (i = 0; i < n; i++) {
		int pipeline = 0;

		for (j = 0; j < LEN(graph_pipeline); j++)
			pipeline |= strcmp(all[i].target, graph_pipeline[j]) == 0;
		if (pipeline || plan_task(e->p, all[i].target)) {
			lk.targets[lk.ntargets++] = all[i];
			memset(&all[i], 0, sizeof(all[i]));
		}
	}
	record_free_all(all, n);
	lk.approved_checks = e->approved ? xstrdup(e->approved) : NULL;
	rulebook_lock_rules(&e->rb, e->p, e->pc, e->st, &lk);
	lockfile_render(&lk, &b);
	if (lockfile_write(e->root, &b, h) == 0) {
		state_meta_set(e->st, "lock_hash", h);
		state_meta_set(e->st, "lock_inputs", in);
		fscache_note(&e->fc, "mpbuild.lock", h);
		e->dirty = 0;
	}
	buf_free(&b);
	lockfile_free(&lk);
}

const char *record_hash(const struct record *r, const char *path)
{
	size_t i;

	for (i = 0; r && i < r->n; i++)
		if (strcmp(r->paths[i], path) == 0)
			return r->hashes[i];
	return NULL;
}

/* is t one of the named targets (a task id, its milestone, its phase, or all)?
 * Unlike selection, this does not take in dependencies. */
int engine_named(const struct plan *p, const struct task *t, char **names, size_t n)
{
	size_t i, j;

	if (n == 0)
		return 1;
	for (i = 0; i < n; i++) {
		if (strcmp(names[i], t->id) == 0 || strcmp(names[i], "all") == 0)
			return 1;
		if (strncmp(names[i], "rule:", 5) == 0 && t->r && strcmp(names[i] + 5, t->r->name) == 0)
			return 1;
		if (t->milestone && strcmp(names[i], t->milestone) == 0)
			return 1;
		for (j = 0; j < p->nphases; j++)
			if (strcmp(names[i], p->phases[j].id) == 0 && t->milestone_index != (size_t)-1 &&
			    p->milestones[t->milestone_index].phase_index == j)
				return 1;
	}
	return 0;
}

/* -B forces the named targets; -B rule:NAME picks the rule's examples again
 * instead (its tasks are then stale when their layer changed) */
static int is_forced(struct engine *e, const struct task *t)
{
	size_t i;

	if (!e->o || !e->o->force)
		return 0;
	for (i = 0; i < e->o->ntargets; i++)
		if (strncmp(e->o->targets[i], "rule:", 5) != 0 && engine_named(e->p, t, &e->o->targets[i], 1))
			return 1;
	return e->o->ntargets == 0;
}

/* a record imported from the lock has no manifest: an up-to-date target gets
 * its current one, so that explain and rule reports can compare later */
static void keep_manifest(struct engine *e, const struct record *rec, const char *manifest)
{
	struct record *r = (struct record *)rec;

	if (r->manifest || r->has_manifest || !e->writable || !e->st)
		return;
	r->manifest = xstrdup(manifest);
	r->has_manifest = state_record_put(e->st, r) == 0;
}

/* decide what t needs; deps were evaluated (and built) before */
void engine_seen_free(struct tinfo *ti, const struct task *t)
{
	size_t i;

	for (i = 0; ti->seen && i < t->noutputs; i++)
		free(ti->seen[i]);
	free(ti->seen);
	ti->seen = NULL;
}

static int engine_fingerprint(struct engine *e, const struct task *t, char out[HASH_HEX]);

/* an up-to-date t with checks whose dependencies' contents changed since its
 * checks last passed (a new implementation behind the same interface, which
 * changed no key) has its checks run again before it counts as up to date */
static void recheck_state(struct engine *e, const struct task *t)
{
	struct tinfo *ti = &e->ti[t->index];
	char fp[HASH_HEX], *name, *was;

	ti->recheck = 0;
	if (!t->ncheck || !e->st || engine_fingerprint(e, t, fp) < 0)
		return;
	name = xasprintf("checked:%s", t->id);
	was = state_meta_get(e->st, name);
	if (!was && e->writable)
		state_meta_set(e->st, name, fp);        /* a record from before fingerprints: now is its basis */
	else if (was && strcmp(was, fp) != 0)
		ti->recheck = 1;
	free(was);
	free(name);
}

/* t's state from its outputs against rec (its key is computed): kept when a
 * person edited or wrote one, up to date, or stale; a stale target whose
 * outputs have nowhere to land fails before any call */
void engine_outputs_state(struct engine *e, const struct task *t, const struct record *rec)
{
	struct tinfo *ti = &e->ti[t->index];
	size_t i, existing = 0;
	const char *edited = NULL, *untracked = NULL, *missing = NULL;

	engine_seen_free(ti, t);
	ti->seen = xcalloc(t->noutputs + 1, sizeof(*ti->seen));
	for (i = 0; i < t->noutputs; i++) {
		const char *h = fscache_hash(&e->fc, t->outputs[i]), *rh = record_hash(rec, t->outputs[i]);

		ti->seen[i] = xstrdup(h ? h : "");

		/* a file a task the plan no longer has generated (a re-plan moved it
		 * here, with other outputs) is mpbuild's, not a person's */
		if (!rh)
			rh = htab_get(&e->gone_out, t->outputs[i]);

		if (!h) {
			if (!missing)
				missing = t->outputs[i];
			continue;
		}
		existing++;
		if (rh && strcmp(h, rh) != 0 && !edited)
			edited = t->outputs[i];
		if (!rh && !untracked)
			untracked = t->outputs[i];
	}
	if (ti->forced) {
		ti->s = S_PENDING;
		engine_why(ti, xstrdup("forced with -B"));
	} else if (edited) {
		ti->s = S_KEPT;
		ti->edited = 1;
		engine_why(ti, xasprintf("edited by hand: %s", edited));
	} else if (untracked && existing == t->noutputs) {
		ti->s = S_KEPT;
		engine_why(ti, xasprintf("%s exists and was not generated by mpbuild", untracked));
	} else if (untracked) {
		ti->s = S_FAILED;
		engine_why(ti, xasprintf("would overwrite %s, which mpbuild did not generate; move it away or run mpbuild -B %s",
				      untracked, t->id));
	} else if (rec && strcmp(rec->key, ti->key) == 0 && !missing) {
		ti->s = S_UPTODATE;
		engine_why(ti, NULL);
		keep_manifest(e, rec, ti->manifest);
		recheck_state(e, t);
	} else {
		ti->s = S_PENDING;
		engine_why(ti, !rec ? xstrdup("never built")
				 : strcmp(rec->key, ti->key) != 0 ? xstrdup("inputs changed")
								  : xasprintf("%s is missing", missing));
	}
	/* a target to build must have somewhere to land: no call is made for
	 * outputs a link sends out of the project or into .git, or where a
	 * directory stands */
	for (i = 0; ti->s == S_PENDING && i < t->noutputs; i++) {
		struct buffer why = {0};

		if (!judge_confined(e->root, t->outputs[i], &why)) {
			ti->s = S_FAILED;
			engine_why(ti, xstrdup(buf_str(&why)));
		}
		buf_free(&why);
	}
}

/* the interface of output path of task d: for a key (shown 0) the hash its
 * record gives will do; for a prompt (shown, or text) this machine's, with
 * its bytes appended to text.  What an extractor made here goes into d's
 * record, and so into the lock */
static int interface_of(struct engine *e, const struct task *d, const char *path, int shown, char out[HASH_HEX],
			struct buffer *text)
{
	struct record *rec = htab_get(&e->rec_by, d->id);
	struct iface_ask a = {.r = d->r, .path = path, .hash = fscache_hash(&e->fc, path)};
	size_t i, at = (size_t)-1;

	if (!a.hash)
		return -1;
	if (!e->iface_open) {
		char *cache = e->o && e->o->no_cache ? NULL : path_join(e->root, "cache");

		iface_open(&e->iface, e->st, e->root, cache, e->writable, &e->p->settings.checks);
		free(cache);
		e->iface_open = 1;
	}
	/* the record's hint holds for the content it was taken of */
	for (i = 0; rec && i < rec->n; i++)
		if (strcmp(rec->paths[i], path) == 0 && strcmp(rec->hashes[i], a.hash) == 0)
			a.hint = record_iface(rec, at = i, &a.hint_by);
	if (iface_get(&e->iface, &a, shown, text) < 0)
		return -1;
	memcpy(out, a.iface, HASH_HEX);
	if (!a.by || !e->writable || !e->st || (a.hint && !strcmp(a.hint, a.iface) && !strcmp(a.hint_by, a.by)))
		return 0;
	/* state.db writes only where its record holds this content: a record
	 * loaded before the target landed again this run is out of date */
	if (state_output_iface(e->st, d->id, path, a.hash, a.iface, a.by) == 1)
		e->dirty = 1;
	if (at != (size_t)-1)
		record_set_iface(rec, at, a.iface, a.by);
	return 0;
}

/* the interface of output path of task d (hash, and with text its bytes);
 * -1 when the file cannot be read */
static int engine_interface(struct engine *e, const struct task *d, const char *path, char out[HASH_HEX],
			    struct buffer *text)
{
	return interface_of(e, d, path, text != NULL, out, text);
}

const char *engine_closure(struct engine *e, const struct task *t, int content)
{
	struct tinfo *ti = &e->ti[t->index];
	char *slot = content ? ti->cclosure : ti->iclosure;
	struct sha256 hs;
	size_t i;

	if (*slot)
		return slot;
	sha256_init(&hs);
	for (i = 0; i < t->noutputs; i++) {
		char h[HASH_HEX];
		const char *ch = fscache_hash(&e->fc, t->outputs[i]);

		if (!ch || (!content && engine_interface(e, t, t->outputs[i], h, NULL) < 0))
			return NULL;
		sha256_update(&hs, t->outputs[i], strlen(t->outputs[i]) + 1);
		sha256_update(&hs, content ? ch : h, HASH_HEX);
	}
	/* Merkle style: what t depends on enters through their closures, so a
	 * no-op hashes each task once however deep the graph */
	for (i = 0; i < t->ndeps; i++) {
		const char *dc = engine_closure(e, t->deps[i], content);

		if (!dc)
			return NULL;
		sha256_update(&hs, t->deps[i]->id, strlen(t->deps[i]->id) + 1);
		sha256_update(&hs, dc, HASH_HEX);
	}
	sha256_final_hex(&hs, slot);
	return slot;
}

static void views_free(struct dep_view *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free((char *)v[i].text);
	free(v);
}

/* the interfaces of the n tasks of list, in that order, each output of each
 * (an empty interface, of a test or a document, is kept with len 0); into
 * ends[k] the number of non-empty ones up to and including list[k]'s.
 * NULL after a message */
static struct dep_view *views_of(struct engine *e, const size_t *list, size_t n, size_t *ends, size_t *nv)
{
	struct dep_view *v = NULL;
	size_t i, j, cap = 0, blocks = 0;

	*nv = 0;
	for (i = 0; i < n; i++) {
		const struct task *d = &e->p->tasks[list[i]];

		for (j = 0; j < d->noutputs; j++) {
			struct buffer text = {0};
			char h[HASH_HEX];

			if (engine_interface(e, d, d->outputs[j], h, &text) < 0) {
				buf_free(&text);
				views_free(v, *nv);
				return NULL;
			}
			if (*nv == cap) {
				cap = cap ? 2 * cap : 8;
				v = xreallocarray(v, cap + 1, sizeof(*v));
			}
			v[*nv].task = d->id;
			v[*nv].path = d->outputs[j];
			v[*nv].len = text.len;
			v[*nv].text = text.data ? buf_take(&text) : xstrdup("");
			blocks += v[*nv].len > 0;
			(*nv)++;
		}
		ends[i] = blocks;
	}
	return v ? v : xcalloc(1, sizeof(*v));
}

static struct layout *layout_of(struct engine *e)
{
	if (!e->layout)
		e->layout = layout_open(e->p);
	return e->layout;
}

int engine_request(struct engine *e, const struct task *t, struct request *req)
{
	size_t *list = xcalloc(e->p->ntasks + 1, sizeof(*list)), *ends = xcalloc(e->p->ntasks + 1, sizeof(*ends));
	size_t n = layout_deps(layout_of(e), t, list), nv, marks[PROMPT_MARKS], nm = 0;
	struct dep_view *v = views_of(e, list, n, ends, &nv);
	int rc = -1;

	/* layer 4 shows one block per interface, in the canonical order; its
	 * breakpoints end the prefixes t shares with other tasks */
	if (v) {
		nm = layout_marks(layout_of(e), t, list, ends, n, marks, PROMPT_MARKS);
		rc = prompt_task_request(e->pc, t, v, nv, marks, nm, req);
	}
	views_free(v, nv);
	free(list);
	free(ends);
	return rc;
}

/* the contents t's checks run against: its dependencies' content closures */
static int engine_fingerprint(struct engine *e, const struct task *t, char out[HASH_HEX])
{
	struct sha256 hs;
	size_t i;

	sha256_init(&hs);
	for (i = 0; i < t->ndeps; i++) {
		const char *c = engine_closure(e, t->deps[i], 1);

		if (!c)
			return -1;
		sha256_update(&hs, c, HASH_HEX);
	}
	sha256_final_hex(&hs, out);
	return 0;
}

void engine_checked(struct engine *e, const struct task *t)
{
	char fp[HASH_HEX], *name;

	if (!t->ncheck || !e->st || engine_fingerprint(e, t, fp) < 0)
		return;
	name = xasprintf("checked:%s", t->id);
	state_meta_set(e->st, name, fp);
	free(name);
}

void engine_forget(struct engine *e, const struct task *t)
{
	char h[HASH_HEX];
	size_t i;

	e->ti[t->index].iclosure[0] = '\0';
	e->ti[t->index].cclosure[0] = '\0';
	/* an interface is taken when its content lands (SPEC 10.1), so that
	 * the record, and the lock, carry it */
	for (i = 0; i < t->noutputs; i++)
		interface_of(e, t, t->outputs[i], 0, h, NULL);
}

/* t will be called or restored: its key must not rest on an interface hash
 * that only a record or a lock gave, since a lock is not trusted with what a
 * prompt shows (iface.h).  Every interface its dependencies show is made
 * ready for a prompt; 1 when one was not what the key used: then every
 * closure is forgotten, and t is to be evaluated again */
static int verify_interfaces(struct engine *e, const struct task *t)
{
	size_t *list = xcalloc(e->p->ntasks + 1, sizeof(*list)), n = layout_deps(layout_of(e), t, list), i, j;
	int changed = 0;

	for (i = 0; i < n; i++) {
		const struct task *d = &e->p->tasks[list[i]];

		for (j = 0; j < d->noutputs; j++) {
			char key[HASH_HEX], shown[HASH_HEX];

			/* a file that cannot be read fails t's request, with the message */
			if (interface_of(e, d, d->outputs[j], 0, key, NULL) == 0 &&
			    interface_of(e, d, d->outputs[j], 1, shown, NULL) == 0 && strcmp(key, shown) != 0)
				changed = 1;
		}
	}
	free(list);
	for (i = 0; changed && i < e->p->ntasks; i++)
		e->ti[i].iclosure[0] = '\0';
	return changed;
}

/* the first output of t's dependencies (transitively) that is missing, with
 * the task that declares it; NULL when none is */
static const char *missing_dep_output(struct engine *e, const struct task *t, const char **owner)
{
	size_t i, j;

	for (i = 0; i < t->ndeps; i++) {
		const struct task *d = t->deps[i];
		const char *m;

		for (j = 0; j < d->noutputs; j++)
			if (!fscache_hash(&e->fc, d->outputs[j])) {
				*owner = d->id;
				return d->outputs[j];
			}
		if ((m = missing_dep_output(e, d, owner)))
			return m;
	}
	return NULL;
}

int engine_deps_ready(struct engine *e, struct task *t)
{
	struct tinfo *ti = &e->ti[t->index];
	size_t i;

	for (i = 0; i < t->ndeps; i++) {
		struct tinfo *d = &e->ti[t->deps[i]->index];

		if (d->s == S_FAILED || d->s == S_SKIPPED) {
			ti->s = S_SKIPPED;
			engine_why(ti, xasprintf("%s %s", t->deps[i]->id, d->s == S_FAILED ? "failed" : "was skipped"));
			return 0;
		}
		if (d->s == S_PENDING || d->s == S_WAIT) {
			ti->s = S_WAIT;
			engine_why(ti, xasprintf("after %s", t->deps[i]->id));
			return 0;
		}
	}
	return 1;
}

void engine_eval(struct engine *e, struct task *t)
{
	struct tinfo *ti = &e->ti[t->index];
	const struct settings *s = &e->p->settings;
	struct key_input in = {0};
	const char *shared[3], **dt, **dp, **dh;
	char head[HASH_HEX];
	const struct record *rec;
	size_t i, nd = 0;

	if (!engine_deps_ready(e, t))
		return;
	ti->mc = plan_task_model(e->p, t);
	ti->fmt = prompt_format(model_answer_format(s, ti->mc.model));
	prompt_shared_hashes(e->pc, t, ti->fmt, shared);
	prompt_task_hash(e->pc, t, head);
	/* each dependency enters by the closure of its interfaces (SPEC 10.1):
	 * a new implementation behind the same interface changes no key here;
	 * each file read in full enters by its content */
	dt = xcalloc(t->ndeps + t->nreads + 1, sizeof(*dt));
	dp = xcalloc(t->ndeps + t->nreads + 1, sizeof(*dp));
	dh = xcalloc(t->ndeps + t->nreads + 1, sizeof(*dh));
	for (i = 0; i < t->ndeps; i++) {
		const char *c = engine_closure(e, t->deps[i], 0), *owner = NULL, *m;

		if (!c) {
			m = missing_dep_output(e, t, &owner);
			ti->s = S_SKIPPED;
			engine_why(ti, m ? xasprintf("%s, an output of %s, is missing", m, owner)
					 : xasprintf("the interfaces of %s cannot be read", t->deps[i]->id));
			goto out;
		}
		dt[nd] = t->deps[i]->id;
		dp[nd] = "interfaces";
		dh[nd++] = c;
	}
	for (i = 0; i < t->nreads; i++) {
		const char *h = fscache_hash(&e->fc, t->reads[i]);

		if (!h) {
			ti->s = S_SKIPPED;
			engine_why(ti, xasprintf("%s, which it reads, is missing", t->reads[i]));
			goto out;
		}
		dt[nd] = "reads";
		dp[nd] = t->reads[i];
		dh[nd++] = h;
	}
	in.family = e->family;
	in.model = ti->mc.model;
	in.effort = ti->mc.effort;
	in.max_tokens = s->max_tokens;
	in.schema_hash = prompt_schema_hash(e->pc, ti->fmt);
	in.layer[0] = shared[0];
	in.layer[1] = shared[1];
	in.layer[2] = shared[2];
	in.layer[3] = head;
	in.ndeps = nd;
	in.dep_target = dt;
	in.dep_path = dp;
	in.dep_hash = dh;
	in.task = t;
	in.retries = s->retries;
	in.escalate = s->escalate.model;
	free(ti->manifest);
	ti->manifest = key_manifest(&in);
	key_of(ti->manifest, ti->key);
	rec = htab_get(&e->rec_by, t->id);
	ti->forced = is_forced(e, t);
	ti->edited = 0;
	engine_outputs_state(e, t, rec);
out:
	free(dt);
	free(dp);
	free(dh);
	if (ti->s == S_PENDING && verify_interfaces(e, t))
		engine_eval(e, t);
}

int engine_needs_approval(struct engine *e)
{
	return e->plan_generated && (!e->approved || strcmp(e->approved, e->check_hash) != 0);
}

/* first line of s, malloc'd */
char *first_line(const char *s)
{
	return xstrndup(s, strcspn(s, "\n"));
}

/* the record of generated outputs for t with its current key (hashes are filled when it lands) */
void engine_new_record(struct engine *e, const struct task *t, const char *model, struct record *r)
{
	size_t i;

	r->target = xstrdup(t->id);
	memcpy(r->key, e->ti[t->index].key, HASH_HEX);
	r->model = xstrdup(model);
	r->generated = 1;
	r->manifest = xstrdup(e->ti[t->index].manifest);
	r->n = t->noutputs;
	r->paths = xcalloc(r->n + 1, sizeof(*r->paths));
	r->hashes = xcalloc(r->n + 1, sizeof(*r->hashes));
	for (i = 0; i < r->n; i++)
		r->paths[i] = xstrdup(t->outputs[i]);
}

/* what goes with the plan: the plan, its prompt context, the records and
 * rules, the failures and the per-task evaluations */
static int load_plan(struct engine *e)
{
	const struct record *mp;
	char h[HASH_HEX];
	int dirty = e->dirty;

	e->p = plan_load(e->root);
	if (!e->p)
		return EXIT_BADINPUT;
	if (!e->p->have_masterplan && !(e->o && e->o->pipeline)) {
		error("%s/plans/masterplan.yaml does not exist: write one (see docs/formats.md) or start with mpbuild init",
		      e->root);
		return EXIT_BADINPUT;
	}
	e->pc = prompt_open(e->p);
	if (!e->pc)
		return EXIT_BADINPUT;
	if (load_records(e, e->writable) < 0)
		return EXIT_BADINPUT;
	e->dirty |= dirty;
	rulebook_apply(&e->rb, e->p, e->pc, e->o && e->o->remote_cache ? e->o->remote_cache : e->p->settings.remote_cache);
	if (e->st)
		state_failures(e->st, &e->failures);
	/* the plan's tasks, then room for the pipeline's stages (pipeline.c) */
	e->ti = xcalloc(e->p->ntasks + LEN(stages) + 1, sizeof(*e->ti));
	mp = htab_get(&e->rec_by, "masterplan");
	e->plan_generated = mp && mp->generated;
	check_set_hash(e->p, h);
	e->check_hash = xstrdup(h);
	return 0;
}

/* free what load_plan made (the plan itself is the caller's) */
static void unload_plan(struct engine *e)
{
	size_t i;

	if (e->ti)
		for (i = 0; i < e->p->ntasks; i++) {
			free(e->ti[i].manifest);
			free(e->ti[i].why);
			free(e->ti[i].feedback);
			engine_seen_free(&e->ti[i], &e->p->tasks[i]);
		}
	free(e->ti);
	e->ti = NULL;
	layout_close(e->layout);
	e->layout = NULL;
	prompt_close(e->pc);
	e->pc = NULL;
	state_failures_free(&e->failures);
	record_free_all(e->recs, e->nrec);
	e->recs = NULL;
	e->nrec = 0;
	htab_free(&e->rec_by);
	htab_free(&e->gone_out);
	free(e->approved);
	e->approved = NULL;
	free(e->check_hash);
	e->check_hash = NULL;
	rulebook_free(&e->rb);
}

/* the engine for root: plan, state (read-only or not), records */
int engine_open(struct engine *e, const char *root, struct build_opts *o, int writable)
{
	char *cache;
	const char *pn;
	int rc;

	memset(e, 0, sizeof(*e));
	e->root = root;
	e->o = o;
	e->writable = writable;
	cache = path_join(root, "cache");
	e->st = state_open(cache, !writable);
	free(cache);
	if (writable && !e->st)
		return EXIT_BADINPUT;
	fscache_open(&e->fc, e->st, root);
	if ((rc = load_plan(e)))
		return rc;
	/* the wire family of the configured provider; replay keeps it (SPEC 10.1) */
	pn = o && o->provider && strcmp(o->provider, "replay") != 0 ? o->provider : e->p->settings.provider;
	e->family = strcmp(pn, "openai") == 0 ? "openai" : "anthropic";
	return 0;
}

int engine_reload(struct engine *e)
{
	unload_plan(e);
	/* the provider and the interface taker keep the settings they were opened with */
	plan_free(e->old_plan);
	e->old_plan = e->p;
	e->p = NULL;
	fscache_forget(&e->fc, "mpbuild.lock");
	return load_plan(e);
}

void engine_close(struct engine *e)
{
	if (e->p)
		unload_plan(e);
	if (e->iface_open)
		iface_close(&e->iface);
	if (e->pv)
		e->pv->close(e->pv);
	if (e->store)
		store_close(e->store);
	fscache_close(&e->fc);
	htab_free(&e->warned);
	state_close(e->st);
	plan_free(e->p);
	plan_free(e->old_plan);
}

/* the selected tasks in build order; NULL after an error */
struct task **engine_select(struct engine *e, char **names, size_t n, size_t *count)
{
	unsigned char *sel = xcalloc(e->p->ntasks + 1, 1);
	struct task **order = xcalloc(e->p->ntasks + 1, sizeof(*order));
	unsigned pipe = 0;
	size_t i;

	if (graph_select(e->p, names, n, sel, &pipe) < 0) {
		free(sel);
		free(order);
		return NULL;
	}
	for (i = 0; i < LEN(graph_pipeline); i++)
		if (pipe & (1u << i))
			warn("%s: plans/%s.yaml is a source here (written by a person); nothing to build", graph_pipeline[i],
			     graph_pipeline[i]);
	*count = graph_order(e->p, sel, order);
	free(sel);
	return order;
}
