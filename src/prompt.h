/* prompt.h: the provider-neutral request of a target, built in the four layers
 * of SPEC section 5 (phase instructions and schema, project, rule, task), and
 * the key-side hashes of those layers (SPEC 10.1).  Every byte is
 * deterministic: no times, no ids, no unordered maps. */
#ifndef MPBUILD_PROMPT_H
#define MPBUILD_PROMPT_H

#include "hash.h"
#include "plan.h"

enum answer_format { FMT_JSON_SCHEMA, FMT_TOOL, FMT_TEXT };

#define NLAYERS 4
/* cache breakpoints layer 4 may ask for: the API takes four, and the end of
 * the rule layer keeps one */
#define PROMPT_MARKS 3

/* what a streamed try has received so far, handed to request.progress after
 * each event of a streamed call (and before a wait for the rate limits);
 * counts start again at 0 on every try */
struct call_progress {
	const char *target;     /* the request's target */
	size_t bytes;           /* response bytes received so far */
	size_t answer_bytes;    /* bytes of answer text (text and tool-input deltas) so far */
	long output_tokens;     /* output tokens as the server last reported them (0 until it says) */
	long events;            /* stream events so far, pings included */
	double pacing;          /* > 0: the try waits this many seconds for the rate limits before it is sent */
};

/* a request as every provider receives it; providers turn it into their wire format */
struct request {
	const char *target;             /* target name, for messages and cassettes */
	const char *key;                /* the target's key (sha256:...) */
	int attempt;                    /* 1 for the first call, 2 for the first retry, ... */
	const char *model;              /* model id */
	const char *effort;             /* NULL or low|medium|high|xhigh|max */
	int max_tokens;
	enum answer_format format;      /* how the answer is asked for */
	const char *tool_name;          /* "write_files" (the tool name for FMT_TOOL) */
	const char *schema;             /* the answer's JSON schema, wire dialect (SPEC 10.11) */
	const char *layer[NLAYERS];     /* layer texts: 0-2 are system blocks, 3 is the user message */
	size_t layer_len[NLAYERS];
	const size_t *layer4_ends;      /* where layer 4's blocks end, byte offsets in increasing order: one
					 * block per dependency interface; the rest (the task) is the last
					 * block.  Owned by whoever filled the request (prompt_task_request:
					 * the context, until its next request for the same task) */
	size_t layer4_nends;
	size_t layer4_marks[PROMPT_MARKS]; /* offsets among layer4_ends whose block ends with a cache
					 * breakpoint, the most valuable first */
	size_t layer4_nmarks;
	const char *feedback;           /* appended to layer 4, outside the key (SPEC 10.1): a retry's
					 * error, or a re-plan's hints (previous plan file, diffs); may be NULL */
	int ttl_1h;                     /* breakpoints with a one-hour TTL */
	/* live progress of a streamed call (may be NULL; outside the key and the
	 * wire): called on the calling worker thread after each stream event with
	 * what the current try has received so far (counts restart at each try).
	 * It must be quick and do its own locking; the struct is valid only
	 * during the call */
	void (*progress)(void *arg, const struct call_progress *cp);
	void *progress_arg;             /* its first argument */
};

/* everything shared by the requests of one run: layers 1-3 rendered once */
struct prompt_ctx;

/* start the context for plan p (reads rules/phases/task.md, renders layer 2) */
struct prompt_ctx *prompt_open(const struct plan *p);
/* free it */
void prompt_close(struct prompt_ctx *c);
/* the hash of the answer format and schema for format f */
const char *prompt_schema_hash(struct prompt_ctx *c, enum answer_format f);
/* append layer 1 to b: a phase's instructions (md), then how to answer in
 * format f (tool: the tool's name) with schema; the one copy of that text,
 * for the tasks and the pipeline stages alike */
void prompt_layer1(struct buffer *b, const char *md, size_t mdlen, enum answer_format f, const char *tool,
		   const char *schema);
/* the hash of answer format f with schema, as keys take it */
void prompt_schema_digest(enum answer_format f, const char *schema, char out[HASH_HEX]);
/* layer hashes 1-3 for task t with answer format f (cached); out[i] point into the context */
void prompt_shared_hashes(struct prompt_ctx *c, const struct task *t, enum answer_format f, const char *out[3]);
/* the byte lengths of those layers */
void prompt_shared_lens(struct prompt_ctx *c, const struct task *t, enum answer_format f, size_t len[3]);
/* examples picked for rule r's layer (its pinned examples, SPEC 10.2), shown
 * after the rule's own examples files under their names: n names and bodies,
 * copied; they replace earlier ones and the layer is rendered again */
void prompt_rule_examples(struct prompt_ctx *c, const struct rule *r, size_t n, char *const *names,
			  const struct buffer *bodies);
/* the hash of rule r's layer (layer 3), the same for every task of the rule */
const char *prompt_rule_hash(struct prompt_ctx *c, const struct rule *r);
/* the key-side hash of layer 4 without dependency outputs: the task entry, its
 * bounded contexts and relationships (dependency outputs enter the key by
 * content hash, beside it) */
void prompt_task_hash(struct prompt_ctx *c, const struct task *t, char out[HASH_HEX]);
/* one interface a task's prompt shows: an output of a task it depends on */
struct dep_view {
	const char *task;       /* the task that declares it */
	const char *path;       /* the output */
	const char *text;       /* its interface (extracted by its rule) */
	size_t len;
};

/* fill req for task t: layer texts; layer 4 holds the n interfaces of deps
 * (all its dependencies, direct or not, in the order given), each non-empty
 * one a block of its own, then in a last block its entry and domain model
 * and the files it reads in full.  marks (nmarks, at most PROMPT_MARKS,
 * most valuable first) are block counts: a breakpoint after the marks[i]-th
 * interface block.  -1 with a message when a file cannot be read */
int prompt_task_request(struct prompt_ctx *c, const struct task *t, const struct dep_view *deps, size_t ndeps,
			const size_t *marks, size_t nmarks, struct request *req);
/* append s (len bytes) to b as a Markdown code block: a fence longer than
 * any run of backticks in s, then info (a language name or ""), s, a newline
 * unless s ends with one, and the fence again */
void prompt_fenced(struct buffer *b, const char *info, const char *s, size_t len);
/* the neutral request as JSON text (for cassettes, logs and `-n --json`); caller frees */
char *prompt_request_json(const struct request *req);
/* the write_files answer schema (SPEC section 6) in the wire dialect */
extern const char prompt_files_schema[];
/* the answer format named s ("json_schema", "tool", "text") */
enum answer_format prompt_format(const char *s);
/* the name of format f */
const char *prompt_format_name(enum answer_format f);

#endif
