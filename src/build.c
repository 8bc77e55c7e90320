/* build.c: the executor.  Tasks are visited in topological order; each is up
 * to date (key and output hashes match the record), kept (a person's file),
 * skipped (a dependency failed) or called, judged and landed.  Status,
 * explain, clean, accept and touch share the same evaluation. */
#include "build.h"
#include "check.h"
#include "confine.h"
#include "yaml.h"
#include "graph.h"
#include "judge.h"
#include "key.h"
#include "land.h"
#include "lockfile.h"
#include "models.h"
#include "orphan.h"
#include "plan.h"
#include "progress.h"
#include "prompt.h"
#include "provider.h"
#include "rulebook.h"
#include "state.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

enum tstate { S_PENDING, S_WAIT, S_UPTODATE, S_BUILT, S_RESTORED, S_FAILED, S_SKIPPED, S_KEPT };

static const char *const state_names[] = {"stale", "waits", "up to date", "built", "restored", "failed",
					  "skipped", "kept"};

struct tinfo {
	enum tstate s;
	char key[HASH_HEX];
	char *manifest;         /* owned */
	char *why;              /* owned: why stale, failed, skipped or kept */
	struct model_choice mc;
	enum answer_format fmt;
	int forced;
	int edited;             /* kept because a person edited an output */
	char **seen;            /* owned: per output, its hash when evaluated ("" for no file): landing
				 * checks the tree still holds these, so an edit made meanwhile wins */
};

struct engine {
	struct plan *p;
	const char *root;
	struct state *st;       /* NULL on a dry run without a state file */
	struct fscache fc;
	struct prompt_ctx *pc;
	struct record *recs;
	size_t nrec;
	struct htab rec_by;     /* target -> struct record* */
	struct htab gone_out;   /* path -> hash, the files generated records of gone targets name */
	struct htab failures;   /* target -> struct failure* */
	struct tinfo *ti;       /* per task */
	const char *family;
	long run;
	struct provider *pv;
	struct store *store;    /* NULL with --no-cache or on a dry run */
	int store_tried;        /* store_open was called (it reports its own failure once) */
	double saved;           /* USD that restores saved this run */
	struct progress pr;
	struct build_opts *o;
	struct usage total;
	double cost;
	int unknown_cost;
	int count[8];
	int first_ok, retry_ok;  /* landed at the first attempt / after a retry */
	int plan_generated;     /* masterplan.yaml came from a model: its checks need approval */
	char *check_hash;       /* hash of the plan's check set */
	struct htab warned;     /* validator programs reported missing */
	int auth_failed;
	int budget_hit;         /* the next call would pass the budget: start nothing new */
	int bad_input;          /* a setting makes the run impossible (exit 2) */
	double budget;          /* USD, < 0: none */
	double ttl_remaining;   /* calls the rest of the run may make, for cache_ttl auto */
	int jobs;               /* calls at once (-j, jobs:) */
	char *approved;         /* approved check set from the lock */
	int dirty;              /* records changed since mpbuild.lock was written */
	/* calls run on worker threads (-j); the main thread holds mu except while
	 * it waits on cv, and workers take it to report a try or their end */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	double reserved;        /* budget reservations of the tries in flight */
	double charged;         /* what counts against the budget: costs, plus what dropped tries keep reserved */
	struct htab prefixes;   /* id -> struct prefix* */
	struct prefix *plist;   /* every prefix, for freeing */
	struct rulebook rb;     /* rule versions and pinned examples (SPEC 10.2, 10.3) */
	int writable;           /* the state file may be written */
	struct sched *sc;       /* the run's scheduler while schedule runs, else NULL */
};

/* what schedule works with: the selected tasks in order and the calls started */
struct sched {
	struct task **order;
	size_t n;
	unsigned char *mark;    /* per task: 0 untouched, 1 needs a call, 2 started or finished */
	struct job **run;       /* started and not finished: in flight, being judged, or waiting to retry */
	size_t nrun;            /* at most e->jobs */
	size_t first;           /* order[..first) are all started or finished */
	size_t finished;
	int code;               /* the exit code of a provider that cannot be opened */
	int in_command;         /* a validator or check command runs: start only tasks already evaluated */
};

/* Ctrl-Cs so far; set from a signal handler, read on the worker threads too */
static atomic_int interrupted;

static void on_sigint(int sig)
{
	int saved = errno, n = ++interrupted;

	(void)sig;
	provider_interrupt(n >= 2 ? 2 : 1);
	errno = saved;
}

static void set_why(struct tinfo *ti, char *why)
{
	free(ti->why);
	ti->why = why;
}

/* the build lock: one build per project; wait up to 5 s, then name the holder */
static int take_lock(const char *root)
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

int build_lock(const char *root)
{
	return take_lock(root);
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
	char *seen = e->st ? state_meta_get(e->st, "lock_hash") : NULL;
	struct lockfile lk;

	if (lh && (!seen || strcmp(seen, lh) != 0)) {
		char h[HASH_HEX];
		int rc = lockfile_read(e->root, &lk, h);

		if (rc < 0) {
			free(seen);
			return -1;
		}
		if (rc == 0) {
			e->dirty = 1;
			e->recs = lk.targets;
			e->nrec = lk.ntargets;
			lk.targets = NULL;
			lk.ntargets = 0;
			e->approved = lk.approved_checks ? xstrdup(lk.approved_checks) : NULL;
			rulebook_from_lock(&e->rb, &lk);
			if (writable && e->st) {
				state_records_replace(e->st, e->recs, e->nrec);
				state_rules_replace(e->st, e->rb.recs, e->rb.n);
				state_meta_set(e->st, "lock_hash", h);
				state_meta_set(e->st, "approved_checks", e->approved ? e->approved : "");
			}
			lockfile_free(&lk);
			free(seen);
			index_records(e);
			return 0;
		}
	}
	free(seen);
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
static void write_lock(struct engine *e)
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
	retrieve_lock_rules(&e->rb, e->p, e->pc, e->st, &lk);
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

static const char *rec_hash(const struct record *r, const char *path)
{
	size_t i;

	for (i = 0; r && i < r->n; i++)
		if (strcmp(r->paths[i], path) == 0)
			return r->hashes[i];
	return NULL;
}

/* is t one of the named targets (a task id, its milestone, its phase, or all)?
 * Unlike selection, this does not take in dependencies. */
static int is_named(const struct plan *p, const struct task *t, char **names, size_t n)
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
		if (strncmp(e->o->targets[i], "rule:", 5) != 0 && is_named(e->p, t, &e->o->targets[i], 1))
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
static void seen_free(struct tinfo *ti, const struct task *t)
{
	size_t i;

	for (i = 0; ti->seen && i < t->noutputs; i++)
		free(ti->seen[i]);
	free(ti->seen);
	ti->seen = NULL;
}

static void eval(struct engine *e, struct task *t)
{
	struct tinfo *ti = &e->ti[t->index];
	const struct settings *s = &e->p->settings;
	struct key_input in = {0};
	const char *shared[3], **dt, **dp, **dh;
	char head[HASH_HEX];
	const struct record *rec;
	size_t i, j, nd = 0, existing = 0;

	for (i = 0; i < t->ndeps; i++) {
		struct tinfo *d = &e->ti[t->deps[i]->index];

		if (d->s == S_FAILED || d->s == S_SKIPPED) {
			ti->s = S_SKIPPED;
			set_why(ti, xasprintf("%s %s", t->deps[i]->id, d->s == S_FAILED ? "failed" : "was skipped"));
			return;
		}
		if (d->s == S_PENDING || d->s == S_WAIT) {
			ti->s = S_WAIT;
			set_why(ti, xasprintf("after %s", t->deps[i]->id));
			return;
		}
		nd += t->deps[i]->noutputs;
	}
	ti->mc = plan_task_model(e->p, t);
	ti->fmt = prompt_format(model_answer_format(s, ti->mc.model));
	prompt_shared_hashes(e->pc, t, ti->fmt, shared);
	prompt_task_hash(e->pc, t, head);
	dt = xcalloc(nd + 1, sizeof(*dt));
	dp = xcalloc(nd + 1, sizeof(*dp));
	dh = xcalloc(nd + 1, sizeof(*dh));
	nd = 0;
	for (i = 0; i < t->ndeps; i++) {
		for (j = 0; j < t->deps[i]->noutputs; j++) {
			const char *h = fscache_hash(&e->fc, t->deps[i]->outputs[j]);

			if (!h) {
				ti->s = S_SKIPPED;
				set_why(ti, xasprintf("%s, an output of %s, is missing", t->deps[i]->outputs[j],
						      t->deps[i]->id));
				goto out;
			}
			dt[nd] = t->deps[i]->id;
			dp[nd] = t->deps[i]->outputs[j];
			dh[nd++] = h;
		}
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
	{
		const char *edited = NULL, *untracked = NULL, *missing = NULL;

		seen_free(ti, t);
		ti->seen = xcalloc(t->noutputs + 1, sizeof(*ti->seen));
		for (i = 0; i < t->noutputs; i++) {
			const char *h = fscache_hash(&e->fc, t->outputs[i]), *rh = rec_hash(rec, t->outputs[i]);

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
			set_why(ti, xstrdup("forced with -B"));
		} else if (edited) {
			ti->s = S_KEPT;
			ti->edited = 1;
			set_why(ti, xasprintf("edited by hand: %s", edited));
		} else if (untracked && existing == t->noutputs) {
			ti->s = S_KEPT;
			set_why(ti, xasprintf("%s exists and was not generated by mpbuild", untracked));
		} else if (untracked) {
			ti->s = S_FAILED;
			set_why(ti, xasprintf("would overwrite %s, which mpbuild did not generate; move it away or run mpbuild -B %s",
					      untracked, t->id));
		} else if (rec && strcmp(rec->key, ti->key) == 0 && !missing) {
			ti->s = S_UPTODATE;
			set_why(ti, NULL);
			keep_manifest(e, rec, ti->manifest);
		} else {
			ti->s = S_PENDING;
			set_why(ti, !rec ? xstrdup("never built")
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
				set_why(ti, xstrdup(buf_str(&why)));
			}
			buf_free(&why);
		}
	}
out:
	free(dt);
	free(dp);
	free(dh);
}

/* one target's calls: prepared and judged by the main thread, made on a worker */
struct job {
	struct engine *e;
	struct task *t;
	int attempt;
	const char *model;
	char *feedback;         /* owned: why the last answer was rejected, for the next attempt */
	struct request req;
	char *l4;               /* owned: layer 4 (the prompt context reuses its buffer) */
	struct call_result res;
	double each;            /* the budget reservation of one try */
	double held;            /* what the try in flight holds of it */
	double spent;           /* what this target's calls cost */
	int budget_stop;        /* a retry was not sent: it could pass the budget */
	int running;            /* a worker makes the call */
	int done;               /* the worker has finished (under e->mu) */
	struct prefix *warms[3];/* the cache prefixes this job writes first */
	size_t nwarms;
	pthread_t th;
};

/* a cacheable prompt prefix (layers 1..k on one model) and who writes it */
struct prefix {
	char *id;
	enum { P_COLD, P_WARMING, P_WARM } state;
	struct prefix *next;
};

static double call_cost(struct engine *e, const char *model, const struct usage *u)
{
	const struct model_info *m = model_lookup(&e->p->settings, model);

	return m->priced ? model_cost(m, u) : -1;
}

static void prefixes_settle(struct engine *e, struct job *j, int warm);

/* one ledger row per transport try; settles the try's reservation and, for a
 * retry, reserves the next (SPEC 10.12).  Runs on the worker, under e->mu */
static int on_try(void *arg, const struct call_result *r, int try_no)
{
	struct job *j = arg;
	struct engine *e = j->e;
	struct ledger_row row = {0};
	double cost;
	int stop = 0;

	pthread_mutex_lock(&e->mu);
	provider_ledger_row(&row, r, model_lookup(&e->p->settings, j->model));
	cost = row.cost;
	row.run = e->run;
	row.target = j->t->id;
	row.attempt = j->attempt;
	row.try_no = try_no;
	row.model = j->model;
	state_ledger_add(e->st, &row);
	e->total.input += r->usage.input;
	e->total.cache_write_5m += r->usage.cache_write_5m;
	e->total.cache_write_1h += r->usage.cache_write_1h;
	e->total.cache_read += r->usage.cache_read;
	e->total.output += r->usage.output;
	if (cost >= 0) {
		e->cost += cost;
		j->spent += cost;
	} else
		e->unknown_cost = 1;
	/* a dropped or cut-off try keeps its whole reservation: it may be billed */
	e->reserved -= j->held;
	e->charged += provider_may_be_billed(r) ? (j->held > cost ? j->held : cost) : cost > 0 ? cost : 0;
	j->held = 0;
	if (r->status == CALL_OK || (r->http_status >= 200 && r->http_status < 300))
		prefixes_settle(e, j, 1);
	if (r->status == CALL_RETRY && try_no < PROVIDER_TRIES && e->budget >= 0) {
		/* a retry that fits once the other calls in flight settle waits for them */
		while (e->reserved > 0 && e->charged + e->reserved + j->each > e->budget &&
		       e->charged + j->each <= e->budget && !interrupted)
			pthread_cond_wait(&e->cv, &e->mu);
		if (e->charged + e->reserved + j->each > e->budget) {
			j->budget_stop = 1;
			e->budget_hit = 1;
			stop = 1;
		} else {
			j->held = j->each;
			e->reserved += j->each;
		}
	}
	progress_call(&e->pr, j->t->id, j->model, j->attempt, &r->usage, cost, r->latency, row.outcome);
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
	return stop;
}

/* keep a rejected attempt under cache/failed/TARGET/ATTEMPT/ */
static void keep_failed(struct engine *e, const struct task *t, int attempt, const char *answer, const char *err)
{
	char *dir = xasprintf("%s/cache/failed/%s/%d", e->root, t->id, attempt);
	char *a = path_join(dir, "answer.json"), *r = path_join(dir, "error.txt");

	if (answer)
		write_file_atomic(a, answer, strlen(answer));
	write_file_atomic(r, err, strlen(err));
	free(dir);
	free(a);
	free(r);
}

/* write a cassette entry for --record */
static void record_entry(struct engine *e, const struct request *req, const char *answer, const struct usage *u)
{
	json_t *o = json_object(), *us = json_object();
	char *name = xasprintf("%s-%d.json", req->key + 7, req->attempt);
	char *path = path_join(e->o->record, name), *rq = prompt_request_json(req), *s;

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
	mkdirs(e->o->record);
	if (!s || write_file_atomic(path, s, strlen(s)) < 0)
		warn("cannot write cassette entry %s:", path);
	free(s);
	free(rq);
	free(name);
	free(path);
	json_decref(o);
}

/* cache_ttl auto: 1h when the rest of the run is expected to outlast five
 * minutes, from the mean latency of earlier calls in the ledger */
static int want_1h(struct engine *e)
{
	const char *ttl = e->p->settings.cache_ttl;
	double lat;

	if (strcmp(ttl, "1h") == 0)
		return 1;
	if (strcmp(ttl, "5m") == 0)
		return 0;
	lat = state_mean_latency(e->st);
	if (lat < 0)
		lat = 30;
	return e->ttl_remaining * lat / e->jobs > 300;
}

static int needs_approval(struct engine *e)
{
	return e->plan_generated && (!e->approved || strcmp(e->approved, e->check_hash) != 0);
}

static void start_calls(struct engine *e);

/* a validator or check command on a thread of its own */
struct command {
	struct engine *e;
	struct box *box;
	char *const *argv;
	int timeout;
	struct buffer *out;
	int rc;
	int done;               /* under e->mu */
};

static void *command_main(void *arg)
{
	struct command *c = arg;
	int rc = box_run(c->box, c->argv, c->timeout, c->out);

	pthread_mutex_lock(&c->e->mu);
	c->rc = rc;
	c->done = 1;
	pthread_cond_broadcast(&c->e->cv);
	pthread_mutex_unlock(&c->e->mu);
	return NULL;
}

/* wait on e->cv for at most ms milliseconds */
static void wait_cv(struct engine *e, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&e->cv, &e->mu, &ts);
}

/* run a validator or check command (called on the main thread, holding
 * e->mu) on a thread of its own while the calls go on: those in flight
 * record their tries and retry, and a free slot goes to a task already found
 * to need a call (only those: evaluating another could restore its files
 * into the tree during the trial).  The target being judged keeps its slot,
 * for a retry.  With -j 1, or outside schedule, the command runs here */
static int run_released(struct engine *e, struct box *box, char *const argv[], int timeout, struct buffer *out)
{
	struct command c = {e, box, argv, timeout, out, 0, 0};
	pthread_t th;
	int was;

	if (!e->sc || e->jobs < 2 || pthread_create(&th, NULL, command_main, &c) != 0) {
		int rc;

		pthread_mutex_unlock(&e->mu);
		rc = box_run(box, argv, timeout, out);
		pthread_mutex_lock(&e->mu);
		return rc;
	}
	was = e->sc->in_command;
	e->sc->in_command = 1;
	for (;;) {
		start_calls(e);
		if (c.done)
			break;
		wait_cv(e, 100);
		/* a worker waiting in on_try for the budget sees a Ctrl-C too */
		if (interrupted)
			pthread_cond_broadcast(&e->cv);
	}
	e->sc->in_command = was;
	pthread_mutex_unlock(&e->mu);
	pthread_join(th, NULL);
	pthread_mutex_lock(&e->mu);
	return c.rc;
}

/* layers 3 and 4 of judging: the files are put in a box (check.h), a
 * throwaway view of the project, and validated and checked there: the tree
 * is never touched, whatever the commands do.  -1 with err set on failure */
static int trial(struct engine *e, const struct task *t, const struct answer *a, struct buffer *err, int run_checks)
{
	const struct settings *s = &e->p->settings;
	struct box *box = box_open(e->root, &s->checks);
	size_t i, j;
	int result = -1;

	if (!box) {
		buf_puts(err, "cannot make a box for the checks (see above)");
		return -1;
	}
	for (i = 0; i < t->noutputs; i++) {
		struct buffer why = {0};
		char *real = confine_resolve(e->root, t->outputs[i], &why);

		if (!real || box_put(box, real, a->files[i].content, a->files[i].len) < 0) {
			if (real)
				buf_printf(err, "cannot put %s in the box: %s", t->outputs[i], strerror(errno));
			else
				buf_printf(err, "paths: %s", buf_str(&why));
			free(real);
			buf_free(&why);
			goto out;
		}
		free(real);
		buf_free(&why);
	}
	/* 3. syntax */
	for (i = 0; i < t->noutputs; i++) {
		const char *out = t->outputs[i], *base = strrchr(out, '/');
		size_t len = strlen(out);

		base = base ? base + 1 : out;
		if (len > 5 && strcmp(out + len - 5, ".json") == 0) {
			json_error_t je;
			json_t *v = json_loadb(a->files[i].content, a->files[i].len, 0, &je);

			if (!v) {
				buf_printf(err, "syntax: %s:%d:%d: %s", out, je.line, je.column, je.text);
				goto out;
			}
			json_decref(v);
			continue;
		}
		if ((len > 5 && strcmp(out + len - 5, ".yaml") == 0) || (len > 4 && strcmp(out + len - 4, ".yml") == 0)) {
			struct ydoc *d = ydoc_parse(out, a->files[i].content, a->files[i].len);

			if (!d) {
				buf_printf(err, "syntax: %s is not valid YAML (the message above names the place)", out);
				goto out;
			}
			ydoc_free(d);
			continue;
		}
		for (j = 0; t->r && j < t->r->nvalidate; j++) {
			const struct validator *v = &t->r->validate[j];
			struct buffer o = {0};
			char **argv;
			int rc;

			if (!glob_match(v->glob, base) && !glob_match(v->glob, out))
				continue;
			argv = check_argv(&v->argv, out);
			rc = run_released(e, box, argv, s->check_timeout, &o);
			if (rc == RUN_NOTFOUND) {
				if (!htab_get(&e->warned, v->argv.v[0])) {
					htab_put(&e->warned, v->argv.v[0], (void *)1);
					warn("validator %s is not installed; %s files are not syntax-checked", v->argv.v[0], v->glob);
				}
			} else if (rc != 0) {
				buf_printf(err, "syntax: %s failed on %s (%s %d):\n%s", argv[0], out,
					   rc == RUN_TIMEOUT ? "timed out after" : "exit status",
					   rc == RUN_TIMEOUT ? s->check_timeout : rc, check_tail(buf_str(&o), 50));
				check_argv_free(argv);
				buf_free(&o);
				goto out;
			}
			check_argv_free(argv);
			buf_free(&o);
			break;
		}
	}
	/* 4. checks */
	if (!run_checks) {
		result = 0;
		goto out;
	}
	if (t->ncheck && needs_approval(e)) {
		progress_say(&e->pr, "%s: %zu check command%s not run: the plan was generated and its checks are not "
			     "approved (mpbuild approve)", t->id, t->ncheck, t->ncheck == 1 ? "" : "s");
		result = 0;
		goto out;
	}
	for (i = 0; i < t->ncheck; i++) {
		struct buffer o = {0};
		char *logdir = xasprintf("%s/cache/logs/%ld", e->root, e->run), *log = xasprintf("%s/%s.log", logdir, t->id);
		int rc;
		size_t k;

		buf_puts(&o, "$");
		for (k = 0; k < t->check[i].c; k++)
			buf_printf(&o, " %s", t->check[i].v[k]);
		buf_putc(&o, '\n');
		crashpoint("trial-check");
		rc = run_released(e, box, t->check[i].v, s->check_timeout, &o);
		buf_printf(&o, "[exit %d]\n", rc);
		mkdirs(logdir);
		{
			struct buffer all = {0};

			read_file(log, &all, 64u << 20);
			buf_add(&all, o.data, o.len);
			write_file_atomic(log, all.data, all.len);
			buf_free(&all);
		}
		free(logdir);
		if (rc != 0) {
			buf_printf(err, "checks: `%s", t->check[i].v[0]);
			for (k = 1; k < t->check[i].c; k++)
				buf_printf(err, " %s", t->check[i].v[k]);
			if (rc == RUN_TIMEOUT)
				buf_printf(err, "` was killed after %d s (log: %s); its last lines:\n%s", s->check_timeout, log,
					   check_tail(buf_str(&o), 50));
			else if (rc == RUN_NOTFOUND)
				buf_printf(err, "`: %s is not installed", t->check[i].v[0]);
			else
				buf_printf(err, "` exited %d (log: %s); its last lines:\n%s", rc, log, check_tail(buf_str(&o), 50));
			free(log);
			buf_free(&o);
			goto out;
		}
		free(log);
		buf_free(&o);
	}
	result = 0;
out:
	box_close(box);
	return result;
}

/* first line of s, malloc'd */
static char *first_line(const char *s)
{
	return xstrndup(s, strcspn(s, "\n"));
}

/* the record of generated outputs for t with its current key (hashes are filled when it lands) */
static void new_record(struct engine *e, const struct task *t, const char *model, struct record *r)
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

/* a person wrote the output path while t was being built: their file wins */
static void kept_meanwhile(struct engine *e, struct task *t, const char *path)
{
	struct tinfo *ti = &e->ti[t->index];

	fscache_forget(&e->fc, path);
	ti->s = S_KEPT;
	ti->edited = 1;
	set_why(ti, xasprintf("%s changed while the target was built; the answer is in the cache", path));
}

/* the outputs of t from the action cache, with no call: 1 restored, 0 not
 * there (or not usable: then t is built as usual) */
static int restore(struct engine *e, struct task *t)
{
	struct tinfo *ti = &e->ti[t->index];
	struct action ac = {0};
	struct answer a = {0};
	struct buffer err = {0};
	struct record r = {0};
	const char *edited = NULL;
	size_t i;
	int ok = 0, landed;

	if (!e->store || ti->forced || store_get_action(e->store, ti->key, &ac) != 0)
		return 0;
	a.files = xcalloc(ac.n + 1, sizeof(*a.files));
	for (i = 0; i < ac.n; i++) {
		struct buffer b = {0};

		if (store_get_blob(e->store, ac.hashes[i], &b) < 0) {
			buf_free(&b);
			goto out;
		}
		a.files[a.n].path = xstrdup(ac.paths[i]);
		a.files[a.n].len = b.len;
		a.files[a.n].content = b.data ? buf_take(&b) : xstrdup("");
		a.n++;
	}
	/* a restored manifest passes judge steps 1-3 before it lands (SPEC 10.14) */
	if (judge_paths(&a, t, e->root, &err) < 0) {
		warn("%s: the cached outputs do not fit the task (%s); building instead", t->id, buf_str(&err));
		goto out;
	}
	if (trial(e, t, &a, &err, 0) < 0) {
		warn("%s: the cached outputs fail validation (%s); building instead", t->id, buf_str(&err));
		goto out;
	}
	new_record(e, t, ac.model ? ac.model : "", &r);
	landed = land_files(e->st, &e->fc, e->root, &r, &a, (const char *const *)ti->seen, &edited);
	if (landed == 1) {
		ok = 1;
		kept_meanwhile(e, t, edited);
	} else if (landed == 0) {
		ok = 1;
		e->dirty = 1;
		ti->s = S_RESTORED;
		set_why(ti, ac.cost > 0 ? xasprintf("saved $%.4f", ac.cost) : NULL);
		if (ac.cost > 0)
			e->saved += ac.cost;
	}
	record_clear(&r);
out:
	buf_free(&err);
	answer_free(&a);
	action_clear(&ac);
	return ok;
}

/* ---- prompt-cache prefixes: with -j, one call writes a prefix, the rest read it ---- */

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

	if (m->min_cache <= 0)
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

/* 1 when a call in flight is writing a prefix t would read: t waits for it */
static int prefix_busy(struct engine *e, const struct task *t)
{
	struct tinfo *ti = &e->ti[t->index];
	struct prefix *x[3];
	size_t i, n;

	if (e->jobs < 2)
		return 0;
	n = prefixes_of(e, t, ti->mc.model, ti->fmt, x);
	for (i = 0; i < n; i++)
		if (x[i]->state == P_WARMING)
			return 1;
	return 0;
}

/* job j writes the cold prefixes of its request */
static void prefixes_claim(struct engine *e, struct job *j)
{
	struct prefix *x[3];
	size_t i, n = prefixes_of(e, j->t, j->model, j->req.format, x);

	j->nwarms = 0;
	for (i = 0; i < n; i++)
		if (x[i]->state == P_COLD) {
			x[i]->state = P_WARMING;
			j->warms[j->nwarms++] = x[i];
		}
}

/* j's answer has started (warm) or j gave up (cold again): waiting tasks may go */
static void prefixes_settle(struct engine *e, struct job *j, int warm)
{
	size_t i;

	for (i = 0; i < j->nwarms; i++) {
		j->warms[i]->state = warm ? P_WARM : P_COLD;
		if (warm) {
			char *name = xasprintf("warm:%s", j->warms[i]->id);
			/* wall-clock seconds: the monotonic clock restarts with the machine */
			char *until = xasprintf("%lld", (long long)time(NULL) + (j->req.ttl_1h ? 3600 : 300) - 30);

			state_meta_set(e->st, name, until);
			free(name);
			free(until);
		}
	}
	j->nwarms = 0;
}

static void prefixes_free(struct engine *e)
{
	while (e->plist) {
		struct prefix *x = e->plist;

		e->plist = x->next;
		free(x->id);
		free(x);
	}
	htab_free(&e->prefixes);
}

/* ---- calls ---- */

static void *worker(void *arg)
{
	struct job *j = arg;
	struct engine *e = j->e;

	provider_call_retrying(e->pv, &j->req, &j->res, on_try, j);
	pthread_mutex_lock(&e->mu);
	j->done = 1;
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

/* t failed with why (owned); recorded unless the cause was not the target's */
static void task_failed(struct engine *e, struct job *j, char *why)
{
	struct tinfo *ti = &e->ti[j->t->index];
	const struct settings *s = &e->p->settings;
	char *line;

	ti->s = S_FAILED;
	set_why(ti, why);
	/* an interrupted, unauthorised or budget-stopped call says nothing about the target itself */
	if (interrupted || e->auth_failed || j->budget_stop || e->bad_input)
		return;
	state_outcome_add(e->st, e->run, j->t->id, j->attempt > 1 + s->retries ? 1 + s->retries : j->attempt, 0);
	line = first_line(ti->why);
	state_failure_put(e->st, j->t->id, e->run, line);
	free(line);
}

/* start nothing new */
static int halted(const struct engine *e)
{
	return interrupted || e->auth_failed || e->budget_hit || e->bad_input || (e->o->stop && e->count[S_FAILED]);
}

/* prepare attempt j->attempt of j's target and start its call on a worker:
 * 0 started, 1 not yet (it fits the budget once calls in flight settle), -1
 * not (the target is finished: failed or skipped) */
static int job_start(struct engine *e, struct job *j)
{
	struct task *t = j->t;
	struct tinfo *ti = &e->ti[t->index];
	const struct settings *s = &e->p->settings;
	int esc = j->attempt > 1 && s->escalate.model;

	call_result_clear(&j->res);
	free(j->l4);
	j->l4 = NULL;
	memset(&j->req, 0, sizeof(j->req));
	j->model = esc ? s->escalate.model : ti->mc.model;
	j->req.key = ti->key;
	j->req.attempt = j->attempt;
	j->req.model = j->model;
	j->req.effort = esc ? s->escalate.effort : ti->mc.effort;
	j->req.max_tokens = s->max_tokens;
	j->req.format = esc ? prompt_format(model_answer_format(s, j->model)) : ti->fmt;
	j->req.feedback = j->feedback;
	j->req.ttl_1h = want_1h(e);
	if (halted(e)) {
		const char *why = interrupted ? "interrupted" : e->budget_hit ? "the budget is reached"
				  : e->o->stop && e->count[S_FAILED] ? "--stop after a failure" : "the run stops";

		/* a retry, or a first call that was waiting for the budget */
		task_failed(e, j, j->attempt == 1 ? xasprintf("not sent: %s", why)
				  : xasprintf("answer %d was rejected and not retried: %s (it is kept in cache/failed/%s/%d/)",
					      j->attempt - 1, why, j->t->id, j->attempt - 1));
		return -1;
	}
	if (prompt_task_request(e->pc, t, &j->req) < 0) {
		task_failed(e, j, xstrdup("cannot assemble the request"));
		return -1;
	}
	j->l4 = xmalloc(j->req.layer_len[3] + 1);
	memcpy(j->l4, j->req.layer[3], j->req.layer_len[3]);
	j->l4[j->req.layer_len[3]] = '\0';
	j->req.layer[3] = j->l4;
	j->each = j->held = 0;
	if (e->budget >= 0) {
		const struct model_info *m = model_lookup(s, j->model);

		if (!m->priced) {
			error("%s: model %s has no known price and a budget is set; add it under prices: in mpbuild.yaml "
			      "(prices: {%s: {input: ..., output: ...}})", t->id, j->model, j->model);
			e->bad_input = 1;
			task_failed(e, j, xasprintf("model %s has no known price", j->model));
			return -1;
		}
		j->each = provider_reservation(m, &j->req);
		if (e->charged + j->each > e->budget) {
			e->budget_hit = 1;
			ti->s = S_SKIPPED;
			set_why(ti, xasprintf("not sent: the call could cost up to $%.4f and $%.4f of the $%.4f budget is "
					      "spent", j->each, e->charged, e->budget));
			return -1;
		}
		if (e->charged + e->reserved + j->each > e->budget)
			return 1;
		j->held = j->each;
		e->reserved += j->each;
	}
	prefixes_claim(e, j);
	j->done = 0;
	j->budget_stop = 0;
	j->res.retry_after = -1;
	j->running = 1;
	if (pthread_create(&j->th, NULL, worker, j) != 0) {
		j->running = 0;
		e->reserved -= j->held;
		j->held = 0;
		prefixes_settle(e, j, 0);
		task_failed(e, j, xasprintf("cannot start a thread: %s", strerror(errno)));
		return -1;
	}
	return 0;
}

/* the answer was rejected with err: 1 when another attempt is to go, 0 when the target failed */
static int job_retry(struct engine *e, struct job *j, const char *err, const char *fmt)
{
	free(j->feedback);
	j->feedback = xasprintf(fmt, err);
	if (strlen(j->feedback) > 16000)
		j->feedback[16000] = '\0';
	if (j->attempt < 1 + e->p->settings.retries && !interrupted) {
		j->attempt++;
		return 1;
	}
	task_failed(e, j, xstrdup(err));
	return 0;
}

/* judge and land the answer of a finished call (the worker was joined):
 * 1 when the target is to be asked again, 0 when it is finished */
/* free n strings and the array */
static void strings_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* -B: a person's version of a file it replaces is saved beside it first;
 * returns, per output, the hash of what is there now ("" for no file), for
 * land_files to check again just before the renames */
static char **backup_forced(struct engine *e, const struct task *t)
{
	const struct record *rec = htab_get(&e->rec_by, t->id);
	char **now = xcalloc(t->noutputs + 1, sizeof(*now));
	size_t i;

	for (i = 0; i < t->noutputs; i++) {
		char *path = path_join(e->root, t->outputs[i]), h[HASH_HEX];
		const char *rh = rec_hash(rec, t->outputs[i]);

		now[i] = xstrdup(path_exists(path) && sha256_file(path, h) == 0 ? h : "");
		free(path);
		/* an unrecorded, edited or accepted (generated: false) file is a person's */
		if (*now[i] && (!rh || strcmp(now[i], rh) != 0 || !rec->generated)) {
			char *bak = land_backup(e->root, t->outputs[i]);

			if (bak)
				progress_say(&e->pr, "%s: saved your %s as %s", t->id, t->outputs[i], bak);
			free(bak);
		}
	}
	return now;
}

static int job_finish(struct engine *e, struct job *j)
{
	struct task *t = j->t;
	struct tinfo *ti = &e->ti[t->index];
	struct call_result *res = &j->res;
	struct answer a = {0};
	struct buffer err = {0};
	struct record r = {0};
	char **expect = NULL;
	const char *edited = NULL;
	size_t i;
	int again = 0, landed;

	prefixes_settle(e, j, 0);
	if (res->status == CALL_AUTH)
		e->auth_failed = 1;
	if (res->status != CALL_OK) {
		if (j->budget_stop)
			task_failed(e, j, xasprintf("%s: a retry could cost up to $%.4f and $%.4f of the $%.4f budget is spent",
						    res->error ? res->error : "the call failed", j->each, e->charged,
						    e->budget));
		else
			task_failed(e, j, xstrdup(res->error ? res->error : "the call failed"));
		return 0;
	}
	if (judge_structure(res->answer, &a, &err) < 0 || judge_paths(&a, t, e->root, &err) < 0) {
		keep_failed(e, t, j->attempt, res->answer, buf_str(&err));
		again = job_retry(e, j, buf_str(&err), "Your previous answer was rejected (%s). Answer again, fixing this.");
		goto out;
	}
	if (trial(e, t, &a, &err, 1) < 0) {
		keep_failed(e, t, j->attempt, res->answer, buf_str(&err));
		again = job_retry(e, j, buf_str(&err),
				  "Your previous answer was rejected. %s\nAnswer again with every file in full, fixing this.");
		goto out;
	}
	if (e->o->record)
		record_entry(e, &j->req, res->answer, &res->usage);
	/* the answer is kept before it lands: a file a person edits meanwhile
	 * keeps the answer out of the tree, not out of the cache */
	if (e->store) {
		struct action ac = {0};

		ac.target = (char *)t->id;
		ac.n = t->noutputs;
		ac.paths = (char **)t->outputs;
		ac.hashes = xcalloc(ac.n + 1, sizeof(*ac.hashes));
		for (i = 0; i < ac.n; i++)
			store_put_blob(e->store, a.files[i].content, a.files[i].len, ac.hashes[i]);
		store_put_blob(e->store, res->answer, strlen(res->answer), ac.answer);
		ac.model = (char *)j->model;
		ac.usage = res->usage;
		ac.cost = call_cost(e, j->model, &res->usage);
		ac.time = (long long)time(NULL);
		store_put_action(e->store, ti->key, &ac);
		free(ac.hashes);
	}
	if (ti->forced)
		expect = backup_forced(e, t);
	new_record(e, t, j->model, &r);
	landed = land_files(e->st, &e->fc, e->root, &r, &a, (const char *const *)(expect ? expect : ti->seen), &edited);
	if (landed == 1) {
		kept_meanwhile(e, t, edited);
		goto out;
	}
	if (landed < 0) {
		task_failed(e, j, xstrdup("cannot land the files (see above)"));
		goto out;
	}
	e->dirty = 1;
	ti->s = S_BUILT;
	set_why(ti, NULL);
	if (j->attempt == 1)
		e->first_ok++;
	else
		e->retry_ok++;
	state_outcome_add(e->st, e->run, t->id, j->attempt, 1);
out:
	strings_free(expect, t->noutputs);
	record_clear(&r);
	answer_free(&a);
	buf_free(&err);
	return again;
}

static void job_free(struct job *j)
{
	call_result_clear(&j->res);
	free(j->feedback);
	free(j->l4);
	free(j);
}

/* the engine for root: plan, state (read-only or not), records */
static int engine_open(struct engine *e, const char *root, struct build_opts *o, int writable)
{
	char *cache;

	memset(e, 0, sizeof(*e));
	e->root = root;
	e->o = o;
	e->writable = writable;
	e->p = plan_load(root);
	if (!e->p)
		return EXIT_BADINPUT;
	if (!e->p->have_masterplan) {
		error("%s/plans/masterplan.yaml does not exist: write one (see docs/formats.md) or start with mpbuild init",
		      root);
		return EXIT_BADINPUT;
	}
	cache = path_join(root, "cache");
	e->st = state_open(cache, !writable);
	free(cache);
	if (writable && !e->st)
		return EXIT_BADINPUT;
	fscache_open(&e->fc, e->st, root);
	/* the wire family of the configured provider; replay keeps it (SPEC 10.1) */
	{
		const char *pn = o && o->provider && strcmp(o->provider, "replay") != 0 ? o->provider : e->p->settings.provider;

		e->family = strcmp(pn, "openai") == 0 ? "openai" : "anthropic";
	}
	e->pc = prompt_open(e->p);
	if (!e->pc)
		return EXIT_BADINPUT;
	if (load_records(e, writable) < 0)
		return EXIT_BADINPUT;
	retrieve_apply(&e->rb, e->p, e->pc, o && o->remote_cache ? o->remote_cache : e->p->settings.remote_cache);
	if (e->st)
		state_failures(e->st, &e->failures);
	e->ti = xcalloc(e->p->ntasks + 1, sizeof(*e->ti));
	{
		const struct record *mp = htab_get(&e->rec_by, "masterplan");
		char h[HASH_HEX];

		e->plan_generated = mp && mp->generated;
		check_set_hash(e->p, h);
		e->check_hash = xstrdup(h);
	}
	return 0;
}

static void engine_close(struct engine *e)
{
	size_t i;

	if (e->ti)
		for (i = 0; i < e->p->ntasks; i++) {
			free(e->ti[i].manifest);
			free(e->ti[i].why);
			seen_free(&e->ti[i], &e->p->tasks[i]);
		}
	free(e->ti);
	if (e->pv)
		e->pv->close(e->pv);
	if (e->store)
		store_close(e->store);
	prompt_close(e->pc);
	fscache_close(&e->fc);
	state_failures_free(&e->failures);
	record_free_all(e->recs, e->nrec);
	htab_free(&e->rec_by);
	htab_free(&e->gone_out);
	free(e->approved);
	free(e->check_hash);
	htab_free(&e->warned);
	rulebook_free(&e->rb);
	state_close(e->st);
	plan_free(e->p);
}

/* the selected tasks in build order; NULL after an error */
static struct task **select_order(struct engine *e, char **names, size_t n, size_t *count)
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

static void estimate(struct engine *e, struct task *t, double *lo, double *hi)
{
	struct tinfo *ti = &e->ti[t->index];
	struct request req = {0};
	const struct model_info *m = model_lookup(&e->p->settings, ti->mc.model);
	double shared = 0;
	int i;

	*lo = *hi = 0;
	req.format = ti->fmt;
	if (!m->priced || prompt_task_request(e->pc, t, &req) < 0) {
		*lo = *hi = -1;
		return;
	}
	for (i = 0; i < 3; i++)
		shared += (double)req.layer_len[i] / 4;
	model_estimate(m, shared, (double)req.layer_len[3] / 4, e->p->settings.max_tokens, lo, hi);
}

static void money(char *buf, size_t n, double v)
{
	if (v < 0)
		snprintf(buf, n, "unknown");
	else
		snprintf(buf, n, "$%.2f", v);
}

static int dry_run(struct engine *e, struct task **order, size_t n)
{
	double lo = 0, hi = 0;
	size_t i, calls = 0, maybe = 0;
	int unknown = 0;

	for (i = 0; i < n; i++) {
		struct task *t = order[i];
		struct tinfo *ti = &e->ti[t->index];
		double a = 0, b = 0;
		char sa[32], sb[32];

		eval(e, t);
		if (ti->s == S_PENDING) {
			estimate(e, t, &a, &b);
			if (a < 0)
				unknown = 1;
			else
				lo += a, hi += b;
			calls++;
		} else if (ti->s == S_WAIT) {
			/* its key depends on outputs not yet made: priced as if it will be called */
			maybe++;
		}
		if (e->o->json) {
			struct request req = {0};
			int have = 0;

			if (ti->s == S_PENDING) {
				req.key = ti->key;
				req.attempt = 1;
				req.model = ti->mc.model;
				req.effort = ti->mc.effort;
				req.max_tokens = e->p->settings.max_tokens;
				req.format = ti->fmt;
				have = prompt_task_request(e->pc, t, &req) == 0;
			}
			progress_dry_json(t->id, state_names[ti->s], ti->s == S_WAIT || ti->s == S_SKIPPED ? NULL : ti->key,
					  ti->mc.model, ti->why, have ? &req : NULL, ti->s == S_PENDING, a, b);
			continue;
		}
		if (ti->s == S_PENDING) {
			money(sa, sizeof(sa), a);
			money(sb, sizeof(sb), b);
			printf("would call %s %s (%s, %s): %s to %s\n", t->id, t->title, ti->mc.model, ti->why, sa, sb);
		} else if (ti->s == S_WAIT) {
			printf("may call  %s %s (%s; only if that changes its outputs)\n", t->id, t->title, ti->why);
		} else if (ti->s != S_UPTODATE || e->o->verbose) {
			printf("%-9s %s %s%s%s\n", state_names[ti->s], t->id, t->title, ti->why ? ": " : "", ti->why ? ti->why : "");
		}
	}
	if (!e->o->json) {
		char sa[32], sb[32];

		money(sa, sizeof(sa), lo);
		money(sb, sizeof(sb), hi);
		if (calls + maybe == 0)
			printf("mpbuild: nothing to do (%zu targets up to date or kept)\n", n);
		else
			printf("mpbuild: %zu call%s now, up to %zu with the dependents they may change; estimated %s to %s%s\n",
			       calls, calls == 1 ? "" : "s", calls + maybe, sa, sb,
			       unknown ? " (some models have no known price)" : "");
	}
	return 0;
}

static void summary(struct engine *e, double secs)
{
	long in_side = e->total.input + e->total.cache_write_5m + e->total.cache_write_1h + e->total.cache_read;
	int *c = e->count;
	char json[512];

	snprintf(json, sizeof(json),
		 "{\"built\":%d,\"restored\":%d,\"up_to_date\":%d,\"failed\":%d,\"skipped\":%d,\"kept\":%d,"
		 "\"input_tokens\":%ld,\"cache_write_tokens\":%ld,\"cache_read_tokens\":%ld,\"output_tokens\":%ld,"
		 "\"cost\":%.6f,\"seconds\":%.3f}",
		 c[S_BUILT], c[S_RESTORED], c[S_UPTODATE], c[S_FAILED], c[S_SKIPPED], c[S_KEPT], e->total.input,
		 e->total.cache_write_5m + e->total.cache_write_1h, e->total.cache_read, e->total.output, e->cost, secs);
	progress_end(&e->pr, json);
	if (e->pr.mode == PROGRESS_JSON || e->o->quiet)
		return;
	if (c[S_BUILT] + c[S_RESTORED] + c[S_FAILED] + c[S_SKIPPED] + c[S_KEPT] == 0 && !interrupted) {
		printf("mpbuild: everything is up to date (%d target%s, %.2fs)\n", c[S_UPTODATE],
		       c[S_UPTODATE] == 1 ? "" : "s", secs);
		return;
	}
	if (e->first_ok + e->retry_ok + c[S_FAILED])
		printf("mpbuild: success: %d at the first attempt, %d after a retry, %d failed\n", e->first_ok,
		       e->retry_ok, c[S_FAILED]);
	printf("mpbuild: %d built, %d restored, %d up to date, %d failed, %d skipped, %d kept; "
	       "tokens: %ld input, %ld cache write, %ld cache read, %ld output; $%.2f%s; cache read share %.0f%%; %.2fs\n",
	       c[S_BUILT], c[S_RESTORED], c[S_UPTODATE], c[S_FAILED], c[S_SKIPPED], c[S_KEPT], e->total.input,
	       e->total.cache_write_5m + e->total.cache_write_1h, e->total.cache_read, e->total.output, e->cost,
	       e->unknown_cost ? " (plus calls of unknown price)" : "",
	       in_side ? 100.0 * (double)e->total.cache_read / (double)in_side : 0.0, secs);
	if (c[S_RESTORED])
		printf("mpbuild: %d restored from the cache with no call, saving $%.2f\n", c[S_RESTORED], e->saved);
}

/* a finished target: count it and say so */
static void task_done(struct engine *e, struct task *t, double spent)
{
	struct tinfo *ti = &e->ti[t->index];

	e->count[ti->s]++;
	if (ti->s == S_KEPT) {
		char *d = xasprintf("%s; mpbuild %s %s records it, mpbuild -B %s regenerates it", ti->why,
				    ti->edited ? "accept" : "touch", t->id, t->id);

		progress_finish(&e->pr, t->id, t->title, ti->edited ? "kept (edited by hand)" : "kept (not generated by mpbuild)",
				NULL, 0, d);
		free(d);
	} else
		progress_finish(&e->pr, t->id, t->title, state_names[ti->s], ti->mc.model, spent, ti->why);
}

/* 1 when every dependency of t is finished */
static int deps_done(const struct engine *e, const struct task *t)
{
	size_t i;

	for (i = 0; i < t->ndeps; i++) {
		enum tstate s = e->ti[t->deps[i]->index].s;

		if (s == S_PENDING || s == S_WAIT)
			return 0;
	}
	return 1;
}

/* give free slots to the tasks in plan order whose dependencies are finished:
 * evaluate each (unless a command runs, see run_released), restore it or
 * start its call */
static void start_calls(struct engine *e)
{
	struct sched *sc = e->sc;
	size_t i;

	for (i = sc->first; i < sc->n && !halted(e) && !(sc->code && !e->pv); i++) {
		struct task *t = sc->order[i];
		struct tinfo *ti = &e->ti[t->index];
		struct job *j;

		if (sc->mark[i] == 2 || (sc->mark[i] == 0 && (sc->in_command || !deps_done(e, t))))
			continue;
		if (sc->mark[i] == 0) {
			e->ttl_remaining = (double)(sc->n - sc->finished);
			eval(e, t);
			if (ti->s == S_PENDING && !e->o->no_cache && !e->store_tried) {
				char *cache = path_join(e->root, "cache");
				const char *remote = e->o->remote_cache ? e->o->remote_cache : e->p->settings.remote_cache;

				e->store = store_open(cache, remote, 3);
				e->store_tried = 1;
				free(cache);
			}
			if (ti->s != S_PENDING || restore(e, t)) {
				sc->mark[i] = 2;
				task_done(e, t, 0);
				sc->finished++;
				continue;
			}
			sc->mark[i] = 1;
		}
		if (sc->nrun == (size_t)e->jobs || prefix_busy(e, t))
			continue;
		if (!e->pv) {
			e->pv = provider_open(&e->p->settings, e->o->provider, e->o->replay, &sc->code);
			if (!e->pv) {
				e->auth_failed = sc->code == EXIT_PROVIDER;
				break;
			}
		}
		sc->mark[i] = 2;
		j = xcalloc(1, sizeof(*j));
		j->e = e;
		j->t = t;
		j->attempt = 1;
		progress_start(&e->pr, t->id, t->title, ti->mc.model);
		if (job_start(e, j) >= 0) {
			sc->run[sc->nrun++] = j;
			continue;
		}
		task_done(e, t, 0);
		sc->finished++;
		job_free(j);
	}
}

/* run the selected tasks: up to e->jobs calls at once on worker threads, a
 * task once its dependencies are finished, in plan order otherwise (with -j 1
 * exactly plan order); everything but the calls runs here, under e->mu
 * (validator and check commands on a thread of their own, while more calls
 * start: run_released).  0, or the exit code of a provider that cannot be
 * opened */
static int schedule(struct engine *e, struct task **order, size_t n)
{
	struct sched sc = {0};
	double last_lock = now();
	size_t i;

	sc.order = order;
	sc.n = n;
	sc.mark = xcalloc(n + 1, 1);
	sc.run = xcalloc((size_t)e->jobs, sizeof(*sc.run));
	e->sc = &sc;
	for (;;) {
		int ready = 0;

		/* the calls that ended: judge and land, or ask again; and the
		 * attempts that wait for the budget's calls in flight to settle.
		 * Judging may start calls (run_released): they join the end */
		for (i = 0; i < sc.nrun;) {
			struct job *j = sc.run[i];
			int rc = 0;

			if (j->running && !j->done) {
				i++;
				continue;
			}
			if (j->running) {
				pthread_join(j->th, NULL);
				j->running = 0;
				rc = job_finish(e, j) ? 1 : -1;
			}
			if (rc >= 0)
				rc = job_start(e, j);
			if (rc >= 0) {
				i++;
				continue;
			}
			task_done(e, j->t, j->spent);
			sc.finished++;
			job_free(j);
			sc.run[i] = sc.run[--sc.nrun];
		}
		start_calls(e);
		while (sc.first < n && sc.mark[sc.first] == 2)
			sc.first++;
		if (now() - last_lock > 5) {
			write_lock(e);
			last_lock = now();
		}
		if (sc.nrun == 0 || (sc.code && !e->pv))
			break;
		for (i = 0; i < sc.nrun; i++)
			ready |= sc.run[i]->done || (!sc.run[i]->running && !e->reserved);
		if (!ready) {
			wait_cv(e, 200);
			/* a worker waiting in on_try for the budget sees a Ctrl-C too */
			if (interrupted)
				pthread_cond_broadcast(&e->cv);
		}
	}
	e->sc = NULL;
	free(sc.run);
	free(sc.mark);
	return e->pv || !sc.code ? 0 : sc.code;
}

/* -B rule:NAME: pick the rule's examples again (SPEC 10.2) */
static int repick(struct engine *e)
{
	struct repick env = {
		.p = e->p, .st = e->st, .fc = &e->fc, .recs = e->recs, .nrec = e->nrec, .rec_by = &e->rec_by,
		.pc = e->pc, .rb = &e->rb, .remote = e->o->remote_cache ? e->o->remote_cache : e->p->settings.remote_cache,
		.dry = e->o->dry_run, .verbose = e->o->verbose, .out = e->o->json ? stderr : stdout,
	};

	return retrieve_repick(&env, e->o->targets, e->o->ntargets);
}

int build_run(const char *root, struct build_opts *o)
{
	struct engine e;
	struct task **order;
	size_t n;
	double t0 = now();
	int rc, lockfd = -1, code, recovered = 0;
	struct sigaction sa;

	if (!o->dry_run && !o->locked && (lockfd = take_lock(root)) < 0)
		return EXIT_BADINPUT;
	if (!o->dry_run) {
		char *cache = path_join(root, "cache");
		struct state *st = state_open(cache, 0);

		free(cache);
		/* finish interrupted landings before anything looks for hand edits */
		if (st) {
			recovered = land_recover(st, root);
			state_close(st);
		}
	}
	rc = engine_open(&e, root, o, !o->dry_run);
	e.dirty |= recovered > 0 || o->force;
	if (rc) {
		engine_close(&e);
		return rc;
	}
	order = select_order(&e, o->targets, o->ntargets, &n);
	if (!order || (o->force && repick(&e) < 0)) {
		free(order);
		engine_close(&e);
		return EXIT_BADINPUT;
	}
	if (!o->quiet)
		retrieve_report(&e.rb, e.p, e.pc, &e.rec_by, e.st, o->json ? stderr : stdout);
	if (o->dry_run) {
		rc = dry_run(&e, order, n);
		free(order);
		engine_close(&e);
		return rc;
	}
	if (progress_init(&e.pr, o->progress, o->quiet, o->verbose) < 0) {
		free(order);
		engine_close(&e);
		return error("--progress must be auto, plain or json"), EXIT_BADINPUT;
	}
	e.pr.total = (int)n;
	e.budget = o->budget >= 0 ? o->budget : e.p->settings.budget_usd;
	e.charged = o->charged;
	e.run = state_run_start(e.st, "build");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	e.jobs = o->jobs > 0 ? o->jobs : e.p->settings.jobs;
	pthread_mutex_init(&e.mu, NULL);
	pthread_cond_init(&e.cv, NULL);
	pthread_mutex_lock(&e.mu);
	code = schedule(&e, order, n);
	pthread_mutex_unlock(&e.mu);
	pthread_cond_destroy(&e.cv);
	pthread_mutex_destroy(&e.mu);
	prefixes_free(&e);
	if (code) {
		free(order);
		write_lock(&e);
		engine_close(&e);
		if (lockfd >= 0)
			close(lockfd);
		return code;
	}
	fscache_flush(&e.fc);
	write_lock(&e);
	summary(&e, now() - t0);
	if (!o->quiet && e.pr.mode != PROGRESS_JSON)
		orphan_say(e.p, e.recs, e.nrec, root, stdout);
	state_run_finish(e.st, e.run, e.count[S_BUILT], e.count[S_RESTORED], e.count[S_UPTODATE], e.count[S_FAILED],
			 e.count[S_SKIPPED], now() - t0);
	if (interrupted)
		error("interrupted; %zu target%s not started", n - (size_t)e.pr.done, n - (size_t)e.pr.done == 1 ? "" : "s");
	if (e.budget_hit)
		error("budget of $%.4f reached: spent $%.4f; nothing more was started", e.budget, e.cost);
	code = interrupted ? EXIT_INTERRUPT : e.bad_input ? EXIT_BADINPUT : e.auth_failed ? EXIT_PROVIDER
	       : e.budget_hit ? EXIT_BUDGET : e.count[S_FAILED] ? EXIT_FAILED : EXIT_OK;
	free(order);
	engine_close(&e);
	if (lockfd >= 0)
		close(lockfd);
	return code;
}

int build_status(const char *root, char **targets, size_t n)
{
	struct engine e;
	struct task **order;
	size_t cnt, i;
	int rc = engine_open(&e, root, NULL, 0);

	if (rc || !(order = select_order(&e, targets, n, &cnt))) {
		engine_close(&e);
		return rc ? rc : EXIT_BADINPUT;
	}
	retrieve_report(&e.rb, e.p, e.pc, &e.rec_by, e.st, stdout);
	for (i = 0; i < cnt; i++) {
		struct task *t = order[i];
		struct tinfo *ti = &e.ti[t->index];
		struct failure *f;
		const char *word;

		eval(&e, t);
		word = state_names[ti->s];
		f = htab_get(&e.failures, t->id);
		if (ti->s == S_KEPT)
			word = ti->edited ? "edited" : "kept";
		else if (ti->s == S_PENDING && f)
			word = "failed";
		else if (ti->s == S_PENDING && strcmp(ti->why, "never built") == 0)
			word = "never built";
		if (f && ti->s == S_PENDING)
			printf("%-12s %s %s: %s (retried on the next build)\n", word, t->id, t->title, f->reason);
		else if (ti->s == S_PENDING && strcmp(word, "never built") == 0)
			printf("%-12s %s %s\n", word, t->id, t->title);
		else
			printf("%-12s %s %s%s%s\n", word, t->id, t->title, ti->why ? ": " : "", ti->why ? ti->why : "");
	}
	if (needs_approval(&e)) {
		size_t nc = 0;

		for (i = 0; i < e.p->ntasks; i++)
			nc += e.p->tasks[i].ncheck;
		if (nc)
			printf("unapproved  %zu check command%s from the generated plan are not run until you review them "
			       "and run mpbuild approve\n", nc, nc == 1 ? "" : "s");
	}
	orphan_say(e.p, e.recs, e.nrec, root, stdout);
	free(order);
	engine_close(&e);
	return 0;
}

/* the engine of a command that changes records: the project lock first
 * (*lockfd, -1 when it could not be taken: then the engine is empty) */
static int engine_open_locked(struct engine *e, const char *root, int *lockfd)
{
	*lockfd = take_lock(root);
	if (*lockfd < 0) {
		memset(e, 0, sizeof(*e));
		return EXIT_BADINPUT;
	}
	return engine_open(e, root, NULL, 1);
}

static void engine_close_locked(struct engine *e, int lockfd)
{
	engine_close(e);
	if (lockfd >= 0)
		close(lockfd);
}

/* the engine of a verb that changes records, or under -n (dry) one that
 * only reads: no lock, state.db opened for reading (*lockfd -1) */
static int engine_open_verb(struct engine *e, const char *root, int dry, int *lockfd)
{
	*lockfd = -1;
	return dry ? engine_open(e, root, NULL, 0) : engine_open_locked(e, root, lockfd);
}

int build_approve(const char *root, int dry)
{
	struct engine e;
	int lockfd, rc = engine_open_verb(&e, root, dry, &lockfd);

	if (rc == 0 && dry) {
		printf("mpbuild: would approve the check commands of the plan (%s)%s\n", e.check_hash,
		       e.approved && strcmp(e.approved, e.check_hash) == 0 ? "; they are approved already" : "");
	} else if (rc == 0) {
		free(e.approved);
		e.approved = xstrdup(e.check_hash);
		state_meta_set(e.st, "approved_checks", e.approved);
		write_lock(&e);
		printf("mpbuild: approved the check commands of the plan (%s)\n", e.approved);
	}
	engine_close_locked(&e, lockfd);
	return rc;
}

static const char *const manifest_names[][2] = {
	{"format", "mpbuild's prompt format version"}, {"family", "the provider's wire family"},
	{"model", "the model"}, {"effort", "the effort"}, {"max_tokens", "max_tokens"},
	{"schema", "the answer format or schema"}, {"validate", "the validate commands of its rule"},
	{"check", "its check commands"}, {"retries", "retries"}, {"escalate", "the escalation model"},
};

int build_explain(const char *root, const char *target)
{
	static const char *const lnames[] = {"layer 1: mpbuild's instructions for tasks (rules/phases/task.md)",
					     "layer 2: the project (domain, summary, stack, glossary)",
					     "layer 3: its rule (instructions and examples)",
					     "layer 4: its task entry or the bounded contexts it uses"};
	struct engine e;
	struct task **order, *t;
	size_t cnt, i, j;
	char *names[1];
	int rc = engine_open(&e, root, NULL, 0), any = 0;
	struct record *rec;

	names[0] = (char *)target;
	if (rc || !(order = select_order(&e, names, 1, &cnt))) {
		engine_close(&e);
		return rc ? rc : EXIT_BADINPUT;
	}
	t = plan_task(e.p, target);
	if (!t) {
		error("explain takes a task id, not '%s'", target);
		free(order);
		engine_close(&e);
		return EXIT_BADINPUT;
	}
	for (i = 0; i < cnt; i++)
		eval(&e, order[i]);
	rec = htab_get(&e.rec_by, t->id);
	if (rec && !rec->manifest && rec->has_manifest && e.st)
		rec->manifest = state_manifest(e.st, t->id);
	{
		struct tinfo *ti = &e.ti[t->index];

		printf("%s %s: %s%s%s%s\n", t->id, t->title, state_names[ti->s], ti->why ? " (" : "", ti->why ? ti->why : "",
		       ti->why ? ")" : "");
		if (!rec) {
			printf("  it has no build record: it was never built here (or the lock has no entry for it)\n");
		} else if (ti->s == S_WAIT) {
			printf("  its key depends on dependencies that are not up to date yet\n");
		} else if (ti->manifest && rec->manifest) {
			json_t *a = json_loads(rec->manifest, 0, NULL), *b = json_loads(ti->manifest, 0, NULL);

			for (j = 0; j < LEN(manifest_names); j++) {
				json_t *x = json_object_get(a, manifest_names[j][0]), *y = json_object_get(b, manifest_names[j][0]);

				if (!json_equal(x, y)) {
					char *sx = json_dumps(x, JSON_ENCODE_ANY | JSON_COMPACT), *sy = json_dumps(y, JSON_ENCODE_ANY | JSON_COMPACT);

					printf("  changed: %s (%s -> %s)\n", manifest_names[j][1], sx ? sx : "none", sy ? sy : "none");
					free(sx);
					free(sy);
					any = 1;
				}
			}
			for (j = 0; j < 4; j++) {
				if (!json_equal(json_array_get(json_object_get(a, "layers"), j),
						json_array_get(json_object_get(b, "layers"), j))) {
					printf("  changed: %s\n", lnames[j]);
					any = 1;
				}
			}
			{
				json_t *da = json_object_get(a, "deps"), *db = json_object_get(b, "deps"), *x, *y;
				size_t k;

				json_array_foreach(db, j, y) {
					const char *path = json_string_value(json_array_get(y, 1));
					int found = 0;

					json_array_foreach(da, k, x) {
						if (strcmp(json_string_value(json_array_get(x, 1)), path) == 0) {
							found = 1;
							if (!json_equal(x, y)) {
								printf("  changed: %s, an output of %s\n", path,
								       json_string_value(json_array_get(y, 0)));
								any = 1;
							}
						}
					}
					if (!found) {
						printf("  new dependency output: %s\n", path);
						any = 1;
					}
				}
				if (json_array_size(da) > json_array_size(db)) {
					printf("  a dependency was removed\n");
					any = 1;
				}
			}
			json_decref(a);
			json_decref(b);
			for (j = 0; j < t->noutputs; j++) {
				const char *h = fscache_hash(&e.fc, t->outputs[j]), *rh = rec_hash(rec, t->outputs[j]);

				if (!h) {
					printf("  missing output: %s\n", t->outputs[j]);
					any = 1;
				} else if (!rh || strcmp(h, rh) != 0) {
					printf("  edited output: %s\n", t->outputs[j]);
					any = 1;
				}
			}
			if (!any)
				printf("  nothing changed since its last build\n");
		} else if (strcmp(rec->key, ti->key) != 0) {
			printf("  its key changed, but the lock alone does not say which input (build once here to record it)\n");
		}
	}
	free(order);
	engine_close(&e);
	return 0;
}

int build_clean(const char *root, char **targets, size_t n, int dry)
{
	struct engine e;
	struct task **order;
	struct buffer why = {0};
	size_t cnt, i, j, removed = 0;
	int rc = engine_open(&e, root, NULL, 0);

	if (rc || !(order = select_order(&e, targets, n, &cnt))) {
		engine_close(&e);
		return rc ? rc : EXIT_BADINPUT;
	}
	for (i = 0; i < cnt; i++) {
		struct task *t = order[i];
		const struct record *rec = htab_get(&e.rec_by, t->id);

		if (!is_named(e.p, t, targets, n))
			continue;
		for (j = 0; j < t->noutputs; j++) {
			const char *h = fscache_hash(&e.fc, t->outputs[j]), *rh = rec_hash(rec, t->outputs[j]);
			char *path;

			if (!h)
				continue;
			if (!rh || strcmp(h, rh) != 0) {
				printf("%s %s (%s)\n", dry ? "would keep" : "kept", t->outputs[j],
				       rh ? "edited by hand" : "not generated by mpbuild");
				continue;
			}
			/* a committed lock may name a file a link puts outside the project */
			if (!confine_check(root, t->outputs[j], &why)) {
				printf("%s %s (%s)\n", dry ? "would keep" : "kept", t->outputs[j], buf_str(&why));
				buf_reset(&why);
				continue;
			}
			if (dry) {
				printf("would remove %s\n", t->outputs[j]);
				removed++;
				continue;
			}
			path = path_join(root, t->outputs[j]);
			if (unlink(path) == 0)
				removed++;
			else
				warn("cannot remove %s:", path);
			free(path);
		}
	}
	printf("mpbuild: %s %zu file%s\n", dry ? "would remove" : "removed", removed, removed == 1 ? "" : "s");
	free(order);
	buf_free(&why);
	engine_close(&e);
	return 0;
}

int build_clean_orphans(const char *root, int dry)
{
	struct engine e;
	int lockfd, rc = engine_open_verb(&e, root, dry, &lockfd);

	if (rc == 0) {
		rc = orphan_clean(e.st, &e.fc, e.p, e.recs, e.nrec, dry);
		if (!dry)
			fscache_flush(&e.fc);
	}
	engine_close_locked(&e, lockfd);
	return rc;
}

int build_mark(const char *root, char **targets, size_t n, int touch, int dry)
{
	struct engine e;
	struct task **order;
	size_t cnt, i, j;
	int rc, lockfd, marked = 0;

	if (n == 0)
		return error("%s needs at least one target", touch ? "touch" : "accept"), EXIT_BADINPUT;
	rc = engine_open_verb(&e, root, dry, &lockfd);
	if (rc || !(order = select_order(&e, targets, n, &cnt))) {
		engine_close_locked(&e, lockfd);
		return rc ? rc : EXIT_BADINPUT;
	}
	for (i = 0; i < cnt; i++) {
		struct task *t = order[i];
		struct tinfo *ti = &e.ti[t->index];
		struct record r = {0};

		eval(&e, t);
		if (!is_named(e.p, t, targets, n))
			continue;
		if (ti->s == S_UPTODATE || ti->s == S_SKIPPED || ti->s == S_WAIT) {
			if (ti->s != S_UPTODATE)
				warn("%s: not marked (%s)", t->id, ti->why);
			continue;
		}
		r.target = xstrdup(t->id);
		memcpy(r.key, ti->key, HASH_HEX);
		r.model = xstrdup(ti->mc.model ? ti->mc.model : "");
		{
			const struct record *old = htab_get(&e.rec_by, t->id);

			r.generated = touch ? (old ? old->generated : 0) : 0;
		}
		r.manifest = xstrdup(ti->manifest);
		r.n = t->noutputs;
		r.paths = xcalloc(r.n + 1, sizeof(*r.paths));
		r.hashes = xcalloc(r.n + 1, sizeof(*r.hashes));
		for (j = 0; j < r.n; j++) {
			const char *h = fscache_hash(&e.fc, t->outputs[j]);

			r.paths[j] = xstrdup(t->outputs[j]);
			if (!h)
				break;
			memcpy(r.hashes[j], h, HASH_HEX);
		}
		if (j < r.n) {
			warn("%s: not marked: %s does not exist", t->id, t->outputs[j]);
		} else if (dry) {
			printf("would %s %s\n", touch ? "touch" : "accept", t->id);
		} else if (state_land_commit(e.st, &r) == 0) {
			printf("%s %s\n", touch ? "touched" : "accepted", t->id);
			marked++;
		}
		record_clear(&r);
	}
	if (!dry)
		fscache_flush(&e.fc);
	e.dirty = marked > 0;
	if (marked)
		write_lock(&e);
	free(order);
	engine_close_locked(&e, lockfd);
	return 0;
}
