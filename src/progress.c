/* progress.c: the status line and its alternatives.  Progress goes to stdout;
 * JSON events go to stderr, one object per line (SPEC section 7). */
#include "progress.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int progress_init(struct progress *pr, const char *mode, int quiet, int verbose)
{
	const char *nc = getenv("NO_COLOR");

	memset(pr, 0, sizeof(*pr));
	pr->quiet = quiet;
	pr->verbose = verbose;
	if (!mode || strcmp(mode, "auto") == 0)
		pr->mode = isatty(STDOUT_FILENO) && getenv("TERM") && strcmp(getenv("TERM"), "dumb") != 0
				   ? PROGRESS_TERM : PROGRESS_PLAIN;
	else if (strcmp(mode, "plain") == 0)
		pr->mode = PROGRESS_PLAIN;
	else if (strcmp(mode, "json") == 0)
		pr->mode = PROGRESS_JSON;
	else
		return -1;
	pr->color = pr->mode == PROGRESS_TERM && !(nc && *nc);
	return 0;
}

const char *progress_short_model(const char *model, char *buf, size_t n)
{
	const char *s = model ? model : "";

	if (strncmp(s, "claude-", 7) == 0) {
		const char *e;

		s += 7;
		e = strchr(s, '-');
		snprintf(buf, n, "%.*s", e ? (int)(e - s) : (int)strlen(s), s);
		return buf;
	}
	snprintf(buf, n, "%s", s);
	return buf;
}

static void clear_line(struct progress *pr)
{
	if (pr->line_open) {
		fputs("\r\033[K", stdout);
		pr->line_open = 0;
	}
}

static void event(const char *type, json_t *o)
{
	char *s;

	json_object_set_new(o, "event", json_string(type));
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	fprintf(stderr, "%s\n", s);
	fflush(stderr);
	free(s);
	json_decref(o);
}

void progress_start(struct progress *pr, const char *target, const char *title, const char *model)
{
	char sm[32];

	if (pr->mode == PROGRESS_JSON) {
		json_t *o = json_object();

		json_object_set_new(o, "target", json_string(target));
		json_object_set_new(o, "model", model ? json_string(model) : json_null());
		event("target_started", o);
		return;
	}
	if (pr->mode != PROGRESS_TERM || pr->quiet)
		return;
	clear_line(pr);
	printf("[%d/%d] %s %s (%s) · $%.2f", pr->done + 1, pr->total, target, title ? title : "",
	       progress_short_model(model, sm, sizeof(sm)), pr->cost);
	fflush(stdout);
	pr->line_open = 1;
}

void progress_finish(struct progress *pr, const char *target, const char *title, const char *status,
		     const char *model, double cost, const char *detail)
{
	char sm[32];

	pr->done++;
	pr->cost += cost;
	if (pr->mode == PROGRESS_JSON) {
		json_t *o = json_object();

		json_object_set_new(o, "target", json_string(target));
		json_object_set_new(o, "status", json_string(status));
		json_object_set_new(o, "model", model ? json_string(model) : json_null());
		json_object_set_new(o, "cost", json_real(cost));
		json_object_set_new(o, "done", json_integer(pr->done));
		json_object_set_new(o, "total", json_integer(pr->total));
		if (detail)
			json_object_set_new(o, "detail", json_string(detail));
		event("target_finished", o);
		return;
	}
	if (pr->quiet && strcmp(status, "failed") != 0)
		return;
	/* up-to-date targets are silent unless -v, as in make and ninja */
	if (strcmp(status, "up to date") == 0 && !pr->verbose) {
		if (pr->mode == PROGRESS_TERM && !pr->quiet) {
			clear_line(pr);
			printf("[%d/%d] %s %s: up to date", pr->done, pr->total, target, title ? title : "");
			fflush(stdout);
			pr->line_open = 1;
		}
		return;
	}
	clear_line(pr);
	printf("[%d/%d] %s %s: %s", pr->done, pr->total, target, title ? title : "", status);
	if (model && strcmp(status, "built") == 0)
		printf(" (%s) · $%.2f", progress_short_model(model, sm, sizeof(sm)), pr->cost);
	if (detail)
		printf(" — %s", detail);
	putchar('\n');
	fflush(stdout);
}

void progress_call(struct progress *pr, const char *target, const char *model, int attempt,
		   const struct usage *u, double cost, double latency, const char *outcome)
{
	json_t *o;

	if (pr->mode != PROGRESS_JSON)
		return;
	o = json_object();
	json_object_set_new(o, "target", json_string(target));
	json_object_set_new(o, "model", json_string(model));
	json_object_set_new(o, "attempt", json_integer(attempt));
	json_object_set_new(o, "input_tokens", json_integer(u->input));
	json_object_set_new(o, "cache_write_tokens", json_integer(u->cache_write_5m + u->cache_write_1h));
	json_object_set_new(o, "cache_read_tokens", json_integer(u->cache_read));
	json_object_set_new(o, "output_tokens", json_integer(u->output));
	json_object_set_new(o, "cost", cost < 0 ? json_null() : json_real(cost));
	json_object_set_new(o, "latency", json_real(latency));
	json_object_set_new(o, "outcome", json_string(outcome));
	event("call_finished", o);
}

void progress_say(struct progress *pr, const char *fmt, ...)
{
	va_list ap;

	clear_line(pr);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void progress_end(struct progress *pr, const char *json_counts)
{
	clear_line(pr);
	if (pr->mode == PROGRESS_JSON) {
		json_t *o = json_loads(json_counts, 0, NULL);

		event("run_finished", o ? o : json_object());
	}
	fflush(stdout);
}

void progress_dry_json(const char *target, const char *status, const char *key, const char *model, const char *why,
		       const struct request *req, int cost, double lo, double hi)
{
	json_t *o = json_object();
	char *s;

	json_object_set_new(o, "target", json_string(target));
	json_object_set_new(o, "status", json_string(status));
	json_object_set_new(o, "key", key ? json_string(key) : json_null());
	json_object_set_new(o, "model", json_string(model ? model : ""));
	if (why)
		json_object_set_new(o, "why", json_string(why));
	if (req) {
		char *rq = prompt_request_json(req);

		json_object_set_new(o, "request", json_loads(rq, 0, NULL));
		free(rq);
	}
	if (cost) {
		json_object_set_new(o, "cost_low", lo < 0 ? json_null() : json_real(lo));
		json_object_set_new(o, "cost_high", hi < 0 ? json_null() : json_real(hi));
	}
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	puts(s);
	free(s);
	json_decref(o);
}

void progress_money(char *buf, size_t n, double v)
{
	if (v < 0)
		snprintf(buf, n, "unknown");
	else
		snprintf(buf, n, "$%.2f", v);
}
