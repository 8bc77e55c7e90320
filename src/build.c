/* build.c: the scheduler.  Targets (the plan's tasks, or the pipeline's
 * stages) are visited in topological order and evaluated (engine.c,
 * pipeline.c); each is up to date, kept (a person's file), skipped (a
 * dependency failed), restored from the store, or called on a worker thread
 * (-j), judged and landed.  Everything that takes the engine's mutex is
 * here: calls in flight, budget reservations, the prompt-cache prefixes they
 * wait for (prefix.c), and validator and check commands run with the mutex
 * released.  run.c drives it through one build. */
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
#include "pipeline.h"
#include "plan.h"
#include "prefix.h"
#include "progress.h"
#include "prompt.h"
#include "provider.h"
#include "replay.h"
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
	char *waiting;          /* owned: why a ready target waits, for the live display, or NULL */
	int told;               /* Ctrl-Cs the person has been told about */
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
	double started;         /* now() when the call was handed to the worker */
	atomic_long streamed;   /* output tokens received so far (written by the worker, read by live) */
	_Atomic double paced_until; /* now() until which the try waits for the rate limits, 0: none */
	int done;               /* the worker has finished (under e->mu) */
	struct prefix *warms[3];/* the cache prefixes this job writes first */
	size_t nwarms;
	pthread_t th;
};

static double call_cost(struct engine *e, const char *model, const struct usage *u)
{
	const struct model_info *m = model_lookup(&e->p->settings, model);

	return m->priced ? model_cost(m, u) : -1;
}

/* one ledger row per transport try; settles the try's reservation and, for a
 * retry, reserves the next (SPEC 10.12).  Runs on the worker, under e->mu */
static int on_try(void *arg, const struct call_result *r, int try_no)
{
	struct job *j = arg;
	struct engine *e = j->e;
	struct ledger_row row = {.run = e->run, .target = j->t->id, .attempt = j->attempt, .try_no = try_no,
				 .model = j->model};
	double cost;
	int stop = 0;

	pthread_mutex_lock(&e->mu);
	provider_ledger_row(&row, r, model_lookup(&e->p->settings, j->model));
	cost = row.cost;
	state_ledger_add(e->st, &row);
	usage_add(&e->total, &r->usage);
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
		prefix_settle(e, j->warms, &j->nwarms, 1, j->req.ttl_1h);
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

static void start_calls(struct engine *e);
static void live(struct engine *e);
static int recheck(struct engine *e, struct task *t);

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
static int run_released(void *ctx, struct box *box, char *const argv[], int timeout, struct buffer *out)
{
	struct engine *e = ctx;
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
		live(e);
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
	struct judge_env env = {e->root, NULL, s->check_timeout, e->run, &e->warned, run_released, e};
	int result = -1;

	env.box = judge_box(e->root, &s->checks, t, a, err);
	if (!env.box)
		return -1;
	if (judge_syntax(t, a, &env, err) < 0)
		goto out;
	if (run_checks && t->ncheck && engine_needs_approval(e)) {
		progress_say(&e->pr, "%s: %zu check command%s not run: the plan was generated and its checks are not "
			     "approved (mpbuild approve)", t->id, t->ncheck, t->ncheck == 1 ? "" : "s");
		run_checks = 0;
	}
	if (run_checks && judge_checks(t, &env, err) < 0)
		goto out;
	result = 0;
out:
	box_close(env.box);
	return result;
}

/* a person wrote the output path while t was being built: their file wins */
static void kept_meanwhile(struct engine *e, struct task *t, const char *path)
{
	struct tinfo *ti = &e->ti[t->index];

	fscache_forget(&e->fc, path);
	ti->s = S_KEPT;
	ti->edited = 1;
	/* a task's answer went to the store before landing; a stage's is not kept */
	engine_why(ti, xasprintf("%s changed while the target was built; %s", path,
				 t->stage ? "its answer was not used" : "the answer is in the cache"));
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

	if (!e->store || ti->forced || t->stage || store_get_action(e->store, ti->key, &ac) != 0)
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
	engine_new_record(e, t, ac.model ? ac.model : "", &r);
	landed = land_files(e->st, &e->fc, e->root, &r, &a, (const char *const *)ti->seen, &edited);
	if (landed == 1) {
		ok = 1;
		kept_meanwhile(e, t, edited);
	} else if (landed == 0) {
		ok = 1;
		e->dirty = 1;
		engine_forget(e, t);
		engine_checked(e, t);
		ti->s = S_RESTORED;
		engine_why(ti, ac.cost > 0 ? xasprintf("saved $%.4f", ac.cost) : NULL);
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
	engine_why(ti, why);
	/* an interrupted, unauthorised or budget-stopped call says nothing about the target itself */
	if (interrupted || e->auth_failed || j->budget_stop || e->bad_input)
		return;
	state_outcome_add(e->st, e->run, j->t->id, j->attempt > 1 + s->retries ? 1 + s->retries : j->attempt, 0);
	line = first_line(ti->why);
	state_failure_put(e->st, j->t->id, e->run, line);
	free(line);
}

int sched_interrupted(void)
{
	return interrupted;
}

void sched_catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* start nothing new */
int sched_halted(const struct engine *e)
{
	return interrupted || e->auth_failed || e->budget_hit || e->bad_input || (e->o->stop && e->count[S_FAILED]);
}

/* a streamed try's progress, on the worker: tokens so far, as the server
 * counts them or (until it says, which Anthropic does at the end) a
 * quarter of the answer's bytes */
static void on_stream(void *arg, const struct call_progress *cp)
{
	struct job *j = arg;
	long t = (long)(cp->answer_bytes / 4);

	atomic_store(&j->paced_until, cp->pacing > 0 ? now() + cp->pacing : 0);
	atomic_store(&j->streamed, cp->output_tokens > t ? cp->output_tokens : t);
}

/* prepare attempt j->attempt of j's target and start its call on a worker:
 * 0 started, 1 not yet (it fits the budget once calls in flight settle), -1
 * not (the target is finished: failed or skipped) */
static int job_start(struct engine *e, struct job *j)
{
	struct task *t = j->t;
	struct tinfo *ti = &e->ti[t->index];
	const struct settings *s = &e->p->settings;
	int esc = j->attempt > 1 && s->escalate.model && !t->stage;

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
	j->req.progress = on_stream;
	j->req.progress_arg = j;
	atomic_store(&j->streamed, 0);
	atomic_store(&j->paced_until, 0);
	if (sched_halted(e)) {
		const char *why = interrupted ? "interrupted" : e->budget_hit ? "the budget is reached"
				  : e->o->stop && e->count[S_FAILED] ? "--stop after a failure" : "the run stops";

		/* a retry, or a first call that was waiting for the budget */
		task_failed(e, j, j->attempt == 1 ? xasprintf("not sent: %s", why)
				  : xasprintf("answer %d was rejected and not retried: %s (it is kept in cache/failed/%s/%d/)",
					      j->attempt - 1, why, j->t->id, j->attempt - 1));
		return -1;
	}
	if (t->stage)
		pipeline_request(e, t, &j->req);
	else if (engine_request(e, t, &j->req) < 0) {
		task_failed(e, j, xstrdup("cannot assemble the request"));
		return -1;
	}
	j->l4 = xmalloc(j->req.layer_len[3] + 1);
	memcpy(j->l4, j->req.layer[3], j->req.layer_len[3]);
	j->l4[j->req.layer_len[3]] = '\0';
	j->req.layer[3] = j->l4;
	if (getenv("MPBUILD_PRINT_KEYS") && *getenv("MPBUILD_PRINT_KEYS") == '1') {
		char *json = prompt_request_json(&j->req);

		fprintf(stderr, "%s %s %d %s\n", t->id, ti->key, j->attempt, json);
		free(json);
	}
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
			engine_why(ti, xasprintf("not sent: the call could cost up to $%.4f and $%.4f of the $%.4f budget is "
					      "spent", j->each, e->charged, e->budget));
			return -1;
		}
		if (e->charged + e->reserved + j->each > e->budget)
			return 1;
		j->held = j->each;
		e->reserved += j->each;
	}
	j->nwarms = prefix_claim(e, j->t, j->model, j->req.format, j->warms);
	j->done = 0;
	j->budget_stop = 0;
	j->res.retry_after = -1;
	j->running = 1;
	j->started = now();
	if (pthread_create(&j->th, NULL, worker, j) != 0) {
		j->running = 0;
		e->reserved -= j->held;
		j->held = 0;
		prefix_settle(e, j->warms, &j->nwarms, 0, 0);
		task_failed(e, j, xasprintf("cannot start a thread: %s", strerror(errno)));
		return -1;
	}
	return 0;
}

/* the answer was rejected with err: 1 when another attempt is to go (with
 * feedback, owned), 0 when the target failed */
static int job_retry(struct engine *e, struct job *j, const char *err, char *feedback)
{
	free(j->feedback);
	j->feedback = feedback;
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
		const char *rh = record_hash(rec, t->outputs[i]);

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

/* judge j's answer (structure, paths, syntax and checks for a task; the
 * stage's own judge for a pipeline target) into a (a task's files): 0, or
 * -1 with *again set (1: asked again with the errors fed back) */
static int job_judge(struct engine *e, struct job *j, struct answer *a, int *again)
{
	static const char rejected[] = "Your previous answer was rejected (%s). Answer again, fixing this.";
	struct task *t = j->t;
	struct call_result *res = &j->res;
	struct buffer err = {0};
	const char *fmt = NULL;         /* the feedback around the errors, when rejected */
	char *fb;

	/* an answer the provider could not read as one JSON object is judged wrong, as any other */
	if (res->status == CALL_FAIL && res->bad_answer) {
		buf_puts(&err, res->error ? res->error : "the answer is not a JSON object");
		fmt = rejected;
	} else if (t->stage) {
		if (pipeline_judge(e, t, j->attempt, res->answer, &err) < 0)
			fmt = "%s";
	} else if (judge_structure(res->answer, a, &err) < 0 || judge_paths(a, t, e->root, &err) < 0) {
		fmt = rejected;
	} else if (trial(e, t, a, &err, 1) < 0) {
		fmt = "Your previous answer was rejected. %s\nAnswer again with every file in full, fixing this.";
	}
	if (!fmt) {
		buf_free(&err);
		return 0;
	}
	fb = xasprintf(fmt, buf_str(&err));
	if (t->stage) {
		/* a stage's re-plan hints come first and stay on a retry */
		char *both = pipeline_feedback(e, t, fb);

		fprintf(stderr, "%s: attempt %d was not a valid plan:\n%s\n", t->id, j->attempt, buf_str(&err));
		free(fb);
		fb = both;
	}
	keep_failed(e, t, j->attempt, res->answer, buf_str(&err));
	*again = job_retry(e, j, buf_str(&err), fb);
	buf_free(&err);
	return -1;
}

/* keep an answer that passed in the store before it lands: a file a person
 * edits meanwhile keeps the answer out of the tree, not out of the cache */
static void job_store(struct engine *e, struct job *j, const struct answer *a)
{
	const struct task *t = j->t;
	struct action ac = {0};
	size_t i;

	ac.target = (char *)t->id;
	ac.n = t->noutputs;
	ac.paths = (char **)t->outputs;
	ac.hashes = xcalloc(ac.n + 1, sizeof(*ac.hashes));
	for (i = 0; i < ac.n; i++)
		store_put_blob(e->store, a->files[i].content, a->files[i].len, ac.hashes[i]);
	store_put_blob(e->store, j->res.answer, strlen(j->res.answer), ac.answer);
	ac.model = (char *)j->model;
	ac.usage = j->res.usage;
	ac.cost = call_cost(e, j->model, &j->res.usage);
	ac.time = (long long)time(NULL);
	store_put_action(e->store, e->ti[t->index].key, &ac);
	free(ac.hashes);
}

/* judge and land the answer of a finished call (the worker was joined):
 * 1 when the target is to be asked again, 0 when it is finished */
static int job_finish(struct engine *e, struct job *j)
{
	struct task *t = j->t;
	struct tinfo *ti = &e->ti[t->index];
	struct call_result *res = &j->res;
	struct answer a = {0};
	struct record r = {0};
	char **expect = NULL;
	const char *edited = NULL;
	int again = 0, landed;

	prefix_settle(e, j->warms, &j->nwarms, 0, 0);
	if (res->status == CALL_AUTH)
		e->auth_failed = 1;
	if (res->status != CALL_OK && !(res->status == CALL_FAIL && res->bad_answer)) {
		if (j->budget_stop)
			task_failed(e, j, xasprintf("%s: a retry could cost up to $%.4f and $%.4f of the $%.4f budget is spent",
						    res->error ? res->error : "the call failed", j->each, e->charged,
						    e->budget));
		else
			task_failed(e, j, xstrdup(res->error ? res->error : "the call failed"));
		return 0;
	}
	if (job_judge(e, j, &a, &again) < 0)
		goto out;
	if (e->o->record)
		replay_record(e->o->record, &j->req, res->answer, &res->usage);
	if (e->store && !t->stage)
		job_store(e, j, &a);
	if (ti->forced)
		expect = backup_forced(e, t);
	engine_why(ti, NULL);
	if (t->stage) {
		landed = pipeline_land(e, t, j->model, (const char *const *)(expect ? expect : ti->seen), &edited);
	} else {
		engine_new_record(e, t, j->model, &r);
		landed = land_files(e->st, &e->fc, e->root, &r, &a, (const char *const *)(expect ? expect : ti->seen),
				    &edited);
	}
	if (landed == 1) {
		kept_meanwhile(e, t, edited);
		goto out;
	}
	if (landed < 0) {
		task_failed(e, j, xstrdup("cannot land the files (see above)"));
		goto out;
	}
	e->dirty = 1;
	if (!t->stage) {
		engine_forget(e, t);
		engine_checked(e, t);
	}
	ti->s = S_BUILT;
	if (j->attempt == 1)
		e->first_ok++;
	else
		e->retry_ok++;
	state_outcome_add(e->st, e->run, t->id, j->attempt, 1);
out:
	strings_free(expect, t->noutputs);
	record_clear(&r);
	answer_free(&a);
	return again;
}

static void job_free(struct job *j)
{
	call_result_clear(&j->res);
	free(j->feedback);
	free(j->l4);
	free(j);
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
	const char *writer;
	size_t i;

	free(sc->waiting);
	sc->waiting = NULL;
	for (i = sc->first; i < sc->n && !sched_halted(e) && !(sc->code && !e->pv); i++) {
		struct task *t = sc->order[i];
		struct tinfo *ti = &e->ti[t->index];
		struct job *j;

		if (sc->mark[i] == 2 || (sc->mark[i] == 0 && (sc->in_command || !deps_done(e, t))))
			continue;
		if (sc->mark[i] == 0) {
			e->ttl_remaining = (double)(sc->n - sc->finished);
			if (t->stage)
				pipeline_eval(e, t);
			else
				engine_eval(e, t);
			if (ti->s == S_PENDING && !e->o->no_cache && !e->store_tried) {
				char *cache = path_join(e->root, "cache");
				const char *remote = e->o->remote_cache ? e->o->remote_cache : e->p->settings.remote_cache;

				e->store = store_open(cache, remote, 3);
				e->store_tried = 1;
				free(cache);
			}
			if (ti->s == S_UPTODATE && ti->recheck)
				recheck(e, t);
			if (ti->s != S_PENDING || restore(e, t)) {
				sc->mark[i] = 2;
				task_done(e, t, 0);
				sc->finished++;
				continue;
			}
			sc->mark[i] = 1;
		}
		if (sc->nrun == (size_t)e->jobs)
			continue;
		if ((writer = prefix_busy(e, t))) {
			if (!sc->waiting)
				sc->waiting = xasprintf("%s waits for %s's prefix", t->id, writer);
			continue;
		}
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
		j->feedback = ti->feedback;     /* a failed re-check's, or NULL */
		ti->feedback = NULL;
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

/* t is up to date but a dependency's content changed behind the same
 * interfaces: its checks run again on its outputs as they are, with no
 * call.  0 when they pass; else t becomes stale (no restore: the cache holds
 * these very files) and its call gets the failure as feedback */
static int recheck(struct engine *e, struct task *t)
{
	struct tinfo *ti = &e->ti[t->index];
	struct answer a = {0};
	struct buffer err = {0};
	size_t i;
	int rc = 0;

	if (engine_needs_approval(e))
		return 0;
	a.files = xcalloc(t->noutputs + 1, sizeof(*a.files));
	for (i = 0; i < t->noutputs; i++) {
		struct buffer f = {0};
		char *path = path_join(e->root, t->outputs[i]);

		read_file(path, &f, ANSWER_FILE_MAX);
		free(path);
		a.files[i].path = xstrdup(t->outputs[i]);
		a.files[i].len = f.len;
		a.files[i].content = f.data ? buf_take(&f) : xstrdup("");
		a.n++;
	}
	if (trial(e, t, &a, &err, 1) == 0) {
		engine_checked(e, t);
		progress_say(&e->pr, "%s: a dependency changed behind the same interfaces; its checks pass again", t->id);
	} else {
		char *line = first_line(buf_str(&err));

		ti->s = S_PENDING;
		ti->forced = 1;
		engine_why(ti, xasprintf("its checks fail since a dependency changed: %s", line));
		free(ti->feedback);
		ti->feedback = xasprintf("The files below passed their checks before a dependency changed; now they fail "
					 "(%s). Answer again with every file in full, fixing this.", buf_str(&err));
		free(line);
		rc = -1;
	}
	buf_free(&err);
	answer_free(&a);
	return rc;
}

/* the live display: the calls in flight and why a ready target waits; and,
 * at a Ctrl-C, what mpbuild does about it */
static void live(struct engine *e)
{
	struct sched *sc = e->sc;
	struct live_call *calls = xcalloc(sc->nrun + 1, sizeof(*calls));
	const char *waiting = sc->waiting;
	char *note = NULL;
	size_t i, n = 0, flying = 0;
	int ints = interrupted;

	for (i = 0; i < sc->nrun; i++) {
		struct job *j = sc->run[i];

		if (j->running && !j->done && atomic_load(&j->paced_until) > now() && !waiting) {
			waiting = note = xasprintf("%s waits %.0fs for the rate limits", j->t->id,
						     atomic_load(&j->paced_until) - now() + 0.5);
		} else if (j->running && !j->done) {
			calls[n].target = j->t->id;
			calls[n].model = j->model;
			calls[n].started = j->started;
			calls[n].tokens = atomic_load(&j->streamed) > 0 ? atomic_load(&j->streamed) : -1;
			n++;
		} else if (!j->running && !j->done && !waiting && e->budget >= 0) {
			waiting = note = xasprintf("%s waits for the budget", j->t->id);
		}
	}
	flying = n;
	if (ints != sc->told) {
		sc->told = ints;
		if (ints == 1)
			progress_say(&e->pr, "mpbuild: interrupted: starting nothing new, finishing %zu call%s in flight; "
				     "Ctrl-C again to abort %s", flying, flying == 1 ? "" : "s", flying == 1 ? "it" : "them");
		else
			progress_say(&e->pr, "mpbuild: interrupted again: aborting the calls in flight");
	}
	progress_live(&e->pr, calls, n, waiting);
	free(note);
	free(calls);
}

/* run the selected tasks: up to e->jobs calls at once on worker threads, a
 * task once its dependencies are finished, in plan order otherwise (with -j 1
 * exactly plan order); everything but the calls runs here, under e->mu
 * (validator and check commands on a thread of their own, while more calls
 * start: run_released).  0, or the exit code of a provider that cannot be
 * opened */
int sched_run(struct engine *e, struct task **order, size_t n)
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
			engine_write_lock(e);
			last_lock = now();
		}
		if (sc.nrun == 0 || (sc.code && !e->pv))
			break;
		live(e);
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
	free(sc.waiting);
	free(sc.run);
	free(sc.mark);
	return e->pv || !sc.code ? 0 : sc.code;
}


void sched_free(struct engine *e)
{
	prefix_free_all(e);
}
