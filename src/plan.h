/* plan.h: the typed plan: settings (mpbuild.yaml), questions, answers,
 * discovery, masterplan and rules, loaded from YAML and checked as SPEC
 * section 3 says.  The plan owns everything it loaded and frees it in one call. */
#ifndef MPBUILD_PLAN_H
#define MPBUILD_PLAN_H

#include <stddef.h>
#include "util.h"
#include "yaml.h"

/* a model choice from settings: an id and an optional effort */
struct model_choice {
	const char *model;      /* model id, NULL when unset */
	const char *effort;     /* low|medium|high|xhigh|max, or NULL */
};

/* one entry under prices: (USD per million tokens) */
struct price_entry {
	const char *model;
	double input, output, cache_write_5m, cache_write_1h, cache_read;
};

/* what a validator or check may use (mpbuild.yaml checks:; docs/security.md) */
struct sandbox_limits {
	int network;                    /* 1: the network is reachable (off by default) */
	int cpu_seconds;                /* RLIMIT_CPU */
	int memory_mb;                  /* RLIMIT_AS */
	int file_size_mb;               /* RLIMIT_FSIZE */
	int processes;                  /* RLIMIT_NPROC */
	int open_files;                 /* RLIMIT_NOFILE */
};

struct settings {
	const char *provider;           /* anthropic | openai | replay */
	const char *base_url;           /* NULL: from the environment or the provider's default */
	struct model_choice discovery, masterplan, low, medium, high, escalate;
	struct price_entry *prices;     /* user prices, overriding the built-in table */
	size_t nprices;
	const char *answer_format;      /* auto | json_schema | tool | text */
	double budget_usd;              /* < 0: no budget */
	int jobs;                       /* parallel model calls */
	int retries;                    /* validation retries per task */
	int check_timeout;              /* seconds per check command */
	int max_tokens;                 /* per task answer */
	const char *cache_ttl;          /* 5m | 1h | auto */
	const char *remote_cache;       /* URL or NULL */
	int stream;                     /* ask providers to stream answers (SSE); 0 for servers that cannot */
	struct sandbox_limits checks;   /* how validators and checks run */
};

/* an argv list, NULL-terminated */
struct argv {
	char **v;               /* argc strings and a NULL */
	size_t c;
};

/* one validate entry of a rule */
struct validator {
	const char *glob;       /* file name pattern */
	struct argv argv;       /* command with {file} */
};

/* how a rule gets a file's interface (SPEC 10.1): what its dependents see of it */
enum { IFACE_WHOLE, IFACE_NONE, IFACE_COMMAND };

/* one interface entry of a rule */
struct extractor {
	const char *glob;       /* file name pattern, as for validate */
	int kind;               /* IFACE_WHOLE: the file; IFACE_NONE: nothing; IFACE_COMMAND: argv's stdout */
	struct argv argv;       /* IFACE_COMMAND: command with {file} and {rules} */
};

struct rule {
	const char *name;
	const char *path;               /* the file it came from, as shown in messages */
	int builtin;                    /* from the built-in rules directory */
	const char **match;
	size_t nmatch;
	const char *system;             /* instructions; "" when absent */
	const char **examples;          /* example file patterns, relative to the project */
	size_t nexamples;
	struct validator *validate;
	size_t nvalidate;
	struct extractor *interface;    /* in file order; the first match wins, none: IFACE_WHOLE */
	size_t ninterface;
	const char *planning;           /* a note for the masterplan prompt; "" when absent */
	char hash[72];                  /* "sha256:..." of the rule file's bytes */
	struct ydoc *doc;               /* owning document */
};

struct phase {
	const char *id, *title, *description;
	struct ynode *node;
};

struct milestone {
	const char *id, *phase, *title, *description;
	struct ynode *node;
	size_t phase_index;             /* index into plan->phases */
};

struct task {
	const char *id, *title, *description, *milestone, *complexity, *model, *rule;
	const char **depends_on;
	size_t ndeps;
	const char **context;           /* NULL with ncontext 0 and has_context 0: all contexts */
	size_t ncontext;
	int has_context;
	const char **outputs;
	size_t noutputs;
	const char **reads;             /* files whose full content the prompt shows (reads:) */
	size_t nreads;
	struct argv *check;             /* check commands */
	size_t ncheck;
	struct ynode *node;             /* the entry, rendered into the task layer */
	struct ynode *dep_nodes;        /* the depends_on node, for messages */
	size_t index;                   /* position in plan order */
	size_t milestone_index;
	struct task **deps;             /* resolved depends_on */
	const struct rule *r;           /* resolved rule */
	unsigned stage;                 /* a pipeline stage's DISCOVER_* bit (pipeline.c), 0 for a task */
};

/* a bounded context of the discovery file */
struct context {
	const char *name;
	struct ynode *node;
};

struct relationship {
	const char *from, *to;
	struct ynode *node;
};

struct discovery {
	struct ynode *domain, *summary, *stack, *glossary;   /* layer 2 material */
	struct context *contexts;
	size_t ncontexts;
	struct relationship *rels;
	size_t nrels;
};

struct question {
	const char *id, *text, *why, *def;
	struct ynode *node;
};

struct plan {
	char *root;                     /* project directory */
	struct settings settings;
	int have_settings;              /* mpbuild.yaml exists */
	int have_request;               /* plans/request.md exists */
	struct question *questions;     /* plans/questions.yaml, if present */
	size_t nquestions;
	int have_questions;
	struct ynode *answers;          /* mapping of answers, if present */
	int have_answers;
	struct discovery disc;
	int have_discovery;
	int have_masterplan;
	const char *project;
	struct phase *phases;
	size_t nphases;
	struct milestone *milestones;
	size_t nmilestones;
	struct task *tasks;
	size_t ntasks;
	struct rule *rules;             /* sorted by name */
	size_t nrules;
	struct htab ids;                /* id -> struct task/phase/milestone (see id_kind) */
	struct htab outputs;            /* output path -> struct task */
	struct ydoc **docs;             /* owned documents */
	size_t ndocs;
	int warnings;                   /* warnings printed while loading */
	const char *candidate;          /* plan_load_candidate: plans/masterplan.yaml's bytes, borrowed while loading */
	size_t candidate_len;
};

/* where built-in rules live: $MPBUILD_RULES, else beside the executable, else PREFIX */
const char *plan_builtin_rules(void);
/* the executable's path for plan_builtin_rules; set from main */
void plan_set_exe(const char *argv0path);

/* load and check every plan file of the project at root; on error print
 * file:line:col messages and return NULL.  strict: also warn about soft problems */
struct plan *plan_load(const char *root);
/* plan_load with plans/masterplan.yaml read from data instead of the tree:
 * a model's candidate plan is judged before it lands; messages name
 * plans/masterplan.yaml as if it were there */
struct plan *plan_load_candidate(const char *root, const char *data, size_t len);
/* free the plan and everything loaded from it */
void plan_free(struct plan *p);
/* the task with id, or NULL */
struct task *plan_task(const struct plan *p, const char *id);
/* the rule named name, or NULL */
const struct rule *plan_rule(const struct plan *p, const char *name);
/* the model choice for task t (model:, else models[complexity]) */
struct model_choice plan_task_model(const struct plan *p, const struct task *t);
/* check an output path: relative, normalised, inside, not under cache/ plans/ rules/ .git/;
 * NULL if fine, else a static reason */
const char *plan_path_problem(const char *path);

#endif
