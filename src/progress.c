/* progress.c: the status line and its alternatives.  Progress goes to stdout;
 * JSON events go to stderr, one object per line (SPEC section 7). */
#include "progress.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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

void progress_clear(struct progress *pr)
{
	clear_line(pr);
	fflush(stdout);
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

static int term_width(void);
static void fit(char *s, int cols);

/* the transient status line of a terminal, cut to its width */
static void PRINTF(2, 3) status_line(struct progress *pr, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fit(line, term_width() - 1);
	fputs("\r\033[K", stdout);
	fputs(line, stdout);
	fflush(stdout);
	pr->line_open = 1;
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
	status_line(pr, "[%d/%d] %s %s (%s) · $%.2f", pr->done + 1, pr->total, target, title ? title : "",
		    progress_short_model(model, sm, sizeof(sm)), pr->cost);
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
		if (pr->mode == PROGRESS_TERM && !pr->quiet)
			status_line(pr, "[%d/%d] %s %s: up to date", pr->done, pr->total, target, title ? title : "");
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

/* the terminal's width in columns (80 when it cannot be told) */
static int term_width(void)
{
	struct winsize ws;
	const char *cols = getenv("COLUMNS");

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if (cols && atoi(cols) > 0)
		return atoi(cols);
	return 80;
}

/* s cut to at most cols columns (a UTF-8 sequence counts one), in place */
static void fit(char *s, int cols)
{
	int used = 0;
	char *p;

	for (p = s; *p; p++) {
		if (((unsigned char)*p & 0xC0) == 0x80)
			continue;
		if (used == cols) {
			*p = '\0';
			return;
		}
		used++;
	}
}

/* 1234 -> "1.2k" */
static void tokens_text(char *buf, size_t n, long t)
{
	if (t < 1000)
		snprintf(buf, n, "%ld tok", t);
	else
		snprintf(buf, n, "%.1fk tok", (double)t / 1000);
}

static void live_json(struct progress *pr, const struct live_call *calls, size_t n, double t)
{
	size_t i;

	for (i = 0; i < n; i++) {
		json_t *o;

		/* a call is reported once it has run a second: quick ones never are */
		if (t - calls[i].started < 1)
			continue;
		o = json_object();

		json_object_set_new(o, "target", json_string(calls[i].target));
		json_object_set_new(o, "model", json_string(calls[i].model ? calls[i].model : ""));
		json_object_set_new(o, "elapsed", json_real((double)(long)((t - calls[i].started) * 10) / 10));
		json_object_set_new(o, "output_tokens", calls[i].tokens < 0 ? json_null() : json_integer(calls[i].tokens));
		event("call_progress", o);
	}
	(void)pr;
}

void progress_live(struct progress *pr, const struct live_call *calls, size_t n, const char *waiting)
{
	struct buffer b = {0};
	double t = now();
	size_t i;

	if (pr->quiet || pr->mode == PROGRESS_PLAIN)
		return;
	if (pr->mode == PROGRESS_JSON) {
		if (n && t - pr->last_live >= 1) {
			pr->last_live = t;
			live_json(pr, calls, n, t);
		}
		return;
	}
	if (t - pr->last_live < 0.25)
		return;
	pr->last_live = t;
	buf_printf(&b, "[%d/%d] ", pr->done, pr->total);
	if (n)
		buf_printf(&b, "%zu in flight:", n);
	for (i = 0; i < n; i++) {
		char tk[32];

		buf_printf(&b, "%s %s %.0fs", i ? "," : "", calls[i].target, t - calls[i].started);
		if (calls[i].tokens >= 0) {
			tokens_text(tk, sizeof(tk), calls[i].tokens);
			buf_printf(&b, " %s", tk);
		}
	}
	buf_printf(&b, " · $%.2f", pr->cost);
	if (waiting)
		buf_printf(&b, " · %s", waiting);
	status_line(pr, "%s", buf_str(&b));
	buf_free(&b);
}
