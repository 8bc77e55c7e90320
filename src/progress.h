/* progress.h: what a build shows while it runs: a ninja-style status line on a
 * terminal, a line per finished target otherwise, or JSON events for front ends. */
#ifndef MPBUILD_PROGRESS_H
#define MPBUILD_PROGRESS_H

#include "provider.h"

enum progress_mode { PROGRESS_TERM, PROGRESS_PLAIN, PROGRESS_JSON };

struct progress {
	enum progress_mode mode;
	int total;              /* targets this run considers */
	int done;               /* finished so far */
	double cost;            /* USD spent so far this run */
	int quiet, verbose;
	int color;              /* colour on (a terminal, NO_COLOR unset) */
	int line_open;          /* a status line is on the screen */
	double last_live;       /* now() of the last live line or call_progress events */
	int live_open;          /* the line on the screen is the live one */
};

/* a call in flight, as the live display shows it */
struct live_call {
	const char *target;
	const char *model;
	double started;         /* now() when it was sent */
	long tokens;            /* output tokens received so far; -1: not known */
};

/* choose the mode from "auto", "plain" or "json"; -1 for an unknown name */
int progress_init(struct progress *pr, const char *mode, int quiet, int verbose);
/* a target starts */
/* take the live line off the terminal (a person is about to type there) */
void progress_clear(struct progress *pr);
void progress_start(struct progress *pr, const char *target, const char *title, const char *model);
/* a target ends with status ("built", "up to date", "failed", ...) and an optional detail */
void progress_finish(struct progress *pr, const char *target, const char *title, const char *status,
		     const char *model, double cost, const char *detail);
/* one model call ended (a JSON event; nothing in the other modes) */
void progress_call(struct progress *pr, const char *target, const char *model, int attempt,
		   const struct usage *u, double cost, double latency, const char *outcome);
/* the live state of a build: finished/total, the n calls in flight with
 * their elapsed time and tokens so far, the money spent so far, and why a
 * ready target waits (NULL: none).  On a terminal the status line is
 * redrawn at most 4 times a second, cut to the terminal's width; with
 * --progress json, call_progress events at most once a second; nothing in
 * plain mode */
void progress_live(struct progress *pr, const struct live_call *calls, size_t n, const char *waiting);
/* a line of text for the person, kept clear of the status line */
void progress_say(struct progress *pr, const char *fmt, ...) PRINTF(2, 3);
/* the run ends: the JSON event with the counts (other modes print the summary themselves) */
void progress_end(struct progress *pr, const char *json_counts);
/* one line of `mpbuild -n --json` on stdout: target, status, key (NULL: null),
 * model, why (NULL: left out), the request it would send (NULL: left out) and,
 * with cost, its estimated cost range (< 0: null) */
void progress_dry_json(const char *target, const char *status, const char *key, const char *model, const char *why,
		       const struct request *req, int cost, double lo, double hi);
/* a short model name for the status line: claude-haiku-5-5 -> haiku */
const char *progress_short_model(const char *model, char *buf, size_t n);

/* v as "$1.23", or "unknown" when v < 0 */
void progress_money(char *buf, size_t n, double v);

#endif
