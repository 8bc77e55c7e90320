/* main.c: the command line: options, verbs, finding the project, and the
 * exit codes of SPEC section 7. */
#include "run.h"
#include "verbs.h"
#include "cache.h"
#include "confine.h"
#include "discover.h"
#include "graph.h"
#include "land.h"
#include "models.h"
#include "plan.h"
#include "state.h"
#include "util.h"
#include "yaml.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define VERSION "0.1.0"

static const char usage_text[] =
	"usage: mpbuild [OPTIONS] [TARGET...]      build (default target: all)\n"
	"       mpbuild init [DIR] [REQUEST]       start a project\n"
	"       mpbuild check                      validate plans, rules and settings; no model call\n"
	"       mpbuild status [TARGET...]         per target: up to date, stale (and why), failed, never built\n"
	"       mpbuild explain TARGET             which inputs changed since its last build\n"
	"       mpbuild graph [TARGET...]          the plan as Graphviz dot\n"
	"       mpbuild cost [--by run|target|model]  tokens and money from the ledger\n"
	"       mpbuild clean [TARGET...]          remove generated, unedited outputs\n"
	"       mpbuild clean --orphans            remove unedited outputs that no task declares any more\n"
	"       mpbuild accept TARGET...           record hand-edited outputs as the target's own\n"
	"       mpbuild touch TARGET...            mark targets up to date without a call (make -t)\n"
	"       mpbuild approve                    approve the check commands of a generated plan\n"
	"       mpbuild cache stats|gc|verify|export|import   the content store\n"
	"\n"
	"targets: task, milestone and phase ids, rule:NAME (the tasks of a rule), all\n"
	"\n"
	"options:\n"
	"  -C DIR              run in DIR\n"
	"  -n                  dry run: list the calls a build would make (pipeline targets too), with estimated cost;\n"
	"                      with clean, accept, touch and approve: say what they would do and change nothing;\n"
	"                      refused with init and cache gc|verify|export|import\n"
	"      --json          with -n: one JSON object per target on stdout\n"
	"  -B                  regenerate the named targets (a person's version is saved as FILE.orig.N);\n"
	"                      for rule:NAME, pick the rule's examples again and pin them in the lock\n"
	"  -k / --stop         keep going after a failure (the default) / stop at the first failure\n"
	"  -j N                parallel model calls\n"
	"      --provider P    anthropic | openai | replay\n"
	"      --replay C      answer from cassette C (offline)\n"
	"      --record C      write each request and answer to cassette C\n"
	"      --budget USD    hard cap on what this invocation spends\n"
	"      --defaults      take each clarifying question's default answer\n"
	"      --no-cache      do not restore from the content store\n"
	"      --remote-cache URL  share the content store over HTTP (Bazel layout)\n"
	"      --progress M    auto | plain | json\n"
	"  -v, -q              more, less output\n"
	"      --version, --help\n"
	"\n"
	"exit codes: 0 success, 1 a target failed, 2 bad input, 3 budget reached,\n"
	"4 provider unusable, 130 interrupted\n";

static NORETURN void usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", argv0);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(see mpbuild --help)\n");
	exit(EXIT_BADINPUT);
}

/* the project root: -C DIR, else the nearest directory up holding mpbuild.yaml or plans/ */
static void find_root(const char *dir, int create)
{
	char cwd[4096];

	if (dir && chdir(dir) < 0) {
		if (create && errno == ENOENT && mkdirs(dir) == 0 && chdir(dir) == 0)
			return;
		fatal("cannot change to %s:", dir);
	}
	if (create)
		return;
	if (!getcwd(cwd, sizeof(cwd)))
		fatal("cannot read the current directory:");
	for (;;) {
		struct stat sb;

		if (stat("mpbuild.yaml", &sb) == 0 || (stat("plans", &sb) == 0 && S_ISDIR(sb.st_mode)))
			return;
		if (strcmp(cwd, "/") == 0 || chdir("..") < 0 || !getcwd(cwd, sizeof(cwd)))
			break;
	}
	fatal("not an mpbuild project (no mpbuild.yaml or plans/ here or in any parent); start one with mpbuild init");
}

static int copy_file(const char *from, const char *to)
{
	struct buffer b = {0};
	int rc = -1;

	if (read_file(from, &b, 16u << 20) == 0)
		rc = write_file_atomic(to, b.data ? b.data : "", b.len);
	buf_free(&b);
	return rc;
}

static int cmd_init(char **args, size_t n)
{
	const char *dir = NULL, *request = NULL;
	const char *rules = plan_builtin_rules();
	struct dirent **ents;
	int i, m;

	if (n > 2)
		usage_error("init takes at most a directory and a request, got %s more", "more arguments");
	if (n == 2)
		dir = args[0], request = args[1];
	else if (n == 1 && strpbrk(args[0], " \t"))
		request = args[0];
	else if (n == 1)
		dir = args[0];
	if (dir) {
		if (mkdirs(dir) < 0)
			fatal("cannot create %s:", dir);
		if (chdir(dir) < 0)
			fatal("cannot change to %s:", dir);
	}
	if (path_exists("mpbuild.yaml"))
		fatal("%s/mpbuild.yaml exists already: this is a project", dir ? dir : ".");
	if (write_file_atomic("mpbuild.yaml",
			      "version: 1\n"
			      "# every key has a default; see docs/formats.md\n"
			      "provider: anthropic\n"
			      "models:\n"
			      "  discovery: claude-sonnet-5-5\n"
			      "  masterplan: claude-sonnet-5-5\n"
			      "  low: claude-haiku-5-5\n"
			      "  medium: claude-haiku-5-5\n"
			      "  high: claude-sonnet-5-5\n"
			      "  escalate: null\n"
			      "retries: 1\n",
			      strlen("version: 1\n# every key has a default; see docs/formats.md\nprovider: anthropic\n"
				     "models:\n  discovery: claude-sonnet-5-5\n  masterplan: claude-sonnet-5-5\n"
				     "  low: claude-haiku-5-5\n  medium: claude-haiku-5-5\n  high: claude-sonnet-5-5\n"
				     "  escalate: null\nretries: 1\n")) < 0)
		fatal("cannot write mpbuild.yaml:");
	if (mkdirs("plans") < 0 || mkdirs("rules") < 0)
		fatal("cannot create plans/ and rules/:");
	if (!path_exists("plans/request.md")) {
		char *text = xasprintf("%s\n", request ? request : "Describe here what you want built.");

		if (write_file_atomic("plans/request.md", text, strlen(text)) < 0)
			fatal("cannot write plans/request.md:");
		free(text);
	}
	if (write_file_atomic("cache/.gitignore", "*\n!.gitignore\n", 14) < 0)
		fatal("cannot write cache/.gitignore:");
	/* the built-in rules are copied so that rule text is committed with the project (SPEC 10.3) */
	m = scandir(rules, &ents, NULL, alphasort);
	for (i = 0; i < m; i++) {
		size_t len = strlen(ents[i]->d_name);

		if (len > 5 && strcmp(ents[i]->d_name + len - 5, ".yaml") == 0) {
			char *from = path_join(rules, ents[i]->d_name), *to = path_join("rules", ents[i]->d_name);

			if (!path_exists(to) && copy_file(from, to) < 0)
				warn("cannot copy %s to %s:", from, to);
			free(from);
			free(to);
		}
		free(ents[i]);
	}
	if (m >= 0)
		free(ents);
	else
		warn("no built-in rules found in %s (set MPBUILD_RULES)", rules);
	printf("mpbuild: started a project in %s\n", dir ? dir : ".");
	return 0;
}

static int cmd_graph(char **args, size_t n)
{
	struct plan *p = plan_load(".");
	unsigned char *sel;
	unsigned pipe;
	int rc = 0;

	if (!p)
		return EXIT_BADINPUT;
	sel = xcalloc(p->ntasks + 1, 1);
	if (graph_select(p, args, n, sel, &pipe) < 0)
		rc = EXIT_BADINPUT;
	else
		graph_dot(p, sel, stdout);
	free(sel);
	plan_free(p);
	return rc;
}

struct cost_ctx {
	int rows;
	long calls, input, cw, cr, output;
	double cost;
	int unknown;
};

static void cost_row(void *arg, const char *group, long calls, long input, long cw, long cr, long output, double cost,
		     int unknown)
{
	struct cost_ctx *c = arg;
	long in_side = input + cw + cr;

	if (!c->rows++)
		printf("%-24s %6s %12s %12s %12s %12s %10s %6s\n", "group", "calls", "input", "cache write", "cache read",
		       "output", "cost", "read%");
	printf("%-24s %6ld %12ld %12ld %12ld %12ld %10.4f%s %5.0f%%\n", group, calls, input, cw, cr, output, cost,
	       unknown ? "+?" : "", in_side ? 100.0 * (double)cr / (double)in_side : 0.0);
	c->calls += calls;
	c->input += input;
	c->cw += cw;
	c->cr += cr;
	c->output += output;
	c->cost += cost;
	c->unknown |= unknown;
}

static int cmd_cost(const char *by)
{
	struct state *st = state_open("cache", 1);
	struct cost_ctx c = {0};

	if (by && strcmp(by, "run") && strcmp(by, "target") && strcmp(by, "model"))
		usage_error("--by takes run, target or model, not %s", by);
	if (!st) {
		printf("mpbuild: no calls recorded yet\n");
		return 0;
	}
	state_ledger_sum(st, by ? by : "model", 0, cost_row, &c);
	{
		long first, retry, failed;

		if (state_outcome_counts(st, &first, &retry, &failed) == 0 && first + retry + failed)
			printf("success (compiles and its checks pass): %ld at the first attempt, %ld after a retry, "
			       "%ld failed (%.0f%% first time)\n", first, retry, failed,
			       100.0 * (double)first / (double)(first + retry + failed));
	}
	if (!c.rows)
		printf("mpbuild: no calls recorded yet\n");
	else
		printf("total: %ld calls, $%.4f%s; cache read share of input-side tokens %.0f%%\n", c.calls, c.cost,
		       c.unknown ? " plus calls of unknown price" : "",
		       c.input + c.cw + c.cr ? 100.0 * (double)c.cr / (double)(c.input + c.cw + c.cr) : 0.0);
	state_close(st);
	return 0;
}

static const char *need_arg(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
		usage_error("option %s needs a value", argv[*i]);
	return argv[++*i];
}

/* what the command line says */
struct cmdline {
	struct build_opts o;    /* the options a build takes */
	char **args;            /* the words that are not options nor the verb */
	size_t nargs;
	const char *dir;        /* -C DIR, or NULL */
	const char *verb;       /* NULL until one is seen */
	const char *by;         /* cost --by, or NULL */
	int defaults;           /* --defaults */
	int orphans;            /* clean --orphans */
};

/* read the options and the verb of argv into cl; 1 when one of them
 * (--version, --help) was answered already and mpbuild is done */
static int parse_args(int argc, char **argv, struct cmdline *cl)
{
	static const char *const verbs[] = {"init", "check", "status", "explain", "graph", "cost", "clean",
					    "accept", "touch", "approve", "cache", "build"};
	struct build_opts *o = &cl->o;
	size_t k;
	int i, dashdash = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (dashdash || a[0] != '-' || !a[1]) {
			int is_verb = 0;

			if (!cl->verb && cl->nargs == 0 && !dashdash)
				for (k = 0; k < LEN(verbs); k++)
					if (strcmp(a, verbs[k]) == 0)
						cl->verb = verbs[k], is_verb = 1;
			if (!is_verb)
				cl->args[cl->nargs++] = argv[i];
			else if (strcmp(cl->verb, "cache") == 0)
				dashdash = 1;   /* the cache command parses its own options */
		} else if (!strcmp(a, "--")) {
			dashdash = 1;
		} else if (!strcmp(a, "-C")) {
			cl->dir = need_arg(argc, argv, &i);
		} else if (!strncmp(a, "-C", 2)) {
			cl->dir = a + 2;
		} else if (!strcmp(a, "-n") || !strcmp(a, "--dry-run")) {
			o->dry_run = 1;
		} else if (!strcmp(a, "--json")) {
			o->json = 1;
		} else if (!strcmp(a, "-B")) {
			o->force = 1;
		} else if (!strcmp(a, "-k")) {
			o->stop = 0;
		} else if (!strcmp(a, "--stop")) {
			o->stop = 1;
		} else if (!strcmp(a, "-j")) {
			o->jobs = atoi(need_arg(argc, argv, &i));
			if (o->jobs < 1)
				usage_error("-j takes a number of at least 1, not %s", argv[i]);
		} else if (!strcmp(a, "--provider")) {
			o->provider = need_arg(argc, argv, &i);
			if (strcmp(o->provider, "anthropic") && strcmp(o->provider, "openai") && strcmp(o->provider, "replay"))
				usage_error("--provider takes anthropic, openai or replay, not %s", o->provider);
		} else if (!strcmp(a, "--replay")) {
			o->replay = need_arg(argc, argv, &i);
		} else if (!strcmp(a, "--remote-cache")) {
			o->remote_cache = need_arg(argc, argv, &i);
		} else if (!strcmp(a, "--record")) {
			o->record = need_arg(argc, argv, &i);
		} else if (!strcmp(a, "--budget")) {
			char *end;

			o->budget = strtod(need_arg(argc, argv, &i), &end);
			if (*end || o->budget < 0)
				usage_error("--budget takes an amount in USD, not %s", argv[i]);
		} else if (!strcmp(a, "--defaults")) {
			cl->defaults = 1;
		} else if (!strcmp(a, "--orphans")) {
			cl->orphans = 1;
		} else if (!strcmp(a, "--no-cache")) {
			o->no_cache = 1;
		} else if (!strcmp(a, "--progress")) {
			o->progress = need_arg(argc, argv, &i);
			if (strcmp(o->progress, "auto") && strcmp(o->progress, "plain") && strcmp(o->progress, "json"))
				usage_error("--progress takes auto, plain or json, not %s", o->progress);
		} else if (!strncmp(a, "--progress=", 11)) {
			o->progress = a + 11;
		} else if (!strcmp(a, "--by")) {
			cl->by = need_arg(argc, argv, &i);
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			o->verbose = 1;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			o->quiet = 1;
		} else if (!strcmp(a, "--version")) {
			printf("mpbuild %s\n", VERSION);
			return 1;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage_text, stdout);
			return 1;
		} else {
			usage_error("unknown option %s", a);
		}
	}
	return 0;
}

/* the build verb: the pipeline targets (questions, answers, discovery,
 * masterplan) run first; the tasks then build from the plan they wrote */
static int cmd_build(struct cmdline *cl)
{
	struct build_opts *o = &cl->o;
	struct discover_opts dopt = {0};
	size_t kept = 0, k;
	int rc;

	if (getenv("MPBUILD_YAML_REWRITE"))
		return discover_rewrite(getenv("MPBUILD_YAML_REWRITE"));
	dopt.provider = o->provider;
	dopt.defaults = cl->defaults;
	dopt.force = o->force;
	dopt.quiet = o->quiet;
	dopt.json = o->json;
	dopt.verbose = o->verbose;
	for (k = 0; k < cl->nargs; k++)
		if (discover_target(cl->args[k]))
			dopt.which |= discover_target(cl->args[k]);
		else
			cl->args[kept++] = cl->args[k];
	o->ntargets = kept;
	o->stages = dopt.which;
	o->defaults = cl->defaults;
	dopt.build_follows = !(dopt.which && kept == 0);
	if (!o->dry_run) {
		o->pipeline = 1;
		return build_run(".", o);
	}
	rc = discover_dry_run(".", &dopt);
	/* with no masterplan yet there are no tasks to list */
	if (rc == 0 && dopt.build_follows && !discover_needed("."))
		rc = build_run(".", o);
	return rc;
}

/* run a verb other than init in the project found from cl->dir */
static int run_verb(struct cmdline *cl)
{
	const char *verb = cl->verb, *link;
	char **args = cl->args;
	size_t nargs = cl->nargs;

	if (cl->orphans && strcmp(verb, "clean") != 0)
		usage_error("--orphans goes with clean (mpbuild clean --orphans), not with %s", verb);
	find_root(cl->dir, 0);
	/* a cloned repository may carry cache/, plans/ or the lock as a link, to
	 * send mpbuild's own writes out of the project */
	if ((link = confine_project_links(".")))
		fatal("%s is a symbolic link; mpbuild writes there and follows no link out of its own files "
		      "(make it a directory or a file of the project)", link);
	cl->o.targets = args;
	cl->o.ntargets = nargs;
	/* a landing a crash interrupted is finished (when no build is running)
	 * before a verb looks at the outputs, so it never looks like a hand edit;
	 * not under -n, which changes nothing */
	if (!cl->o.dry_run && (!strcmp(verb, "status") || !strcmp(verb, "explain") || !strcmp(verb, "clean") ||
			       !strcmp(verb, "accept") || !strcmp(verb, "touch") || !strcmp(verb, "approve")))
		land_recover_idle(".");
	if (!strcmp(verb, "check"))
		return build_check(".");
	if (!strcmp(verb, "status"))
		return build_status(".", args, nargs);
	if (!strcmp(verb, "explain")) {
		if (nargs != 1)
			usage_error("explain takes one target%s", "");
		return build_explain(".", args[0]);
	}
	if (!strcmp(verb, "graph"))
		return cmd_graph(args, nargs);
	if (!strcmp(verb, "cost"))
		return cmd_cost(cl->by);
	if (!strcmp(verb, "clean") && cl->orphans) {
		if (nargs)
			usage_error("clean --orphans takes no targets, got %s", args[0]);
		return build_clean_orphans(".", cl->o.dry_run);
	}
	if (!strcmp(verb, "clean"))
		return build_clean(".", args, nargs, cl->o.dry_run);
	if (!strcmp(verb, "accept"))
		return build_mark(".", args, nargs, 0, cl->o.dry_run);
	if (!strcmp(verb, "cache"))
		return cache_command("cache", args, nargs);
	if (!strcmp(verb, "approve"))
		return build_approve(".", cl->o.dry_run);
	if (!strcmp(verb, "touch"))
		return build_mark(".", args, nargs, 1, cl->o.dry_run);
	return cmd_build(cl);
}

int main(int argc, char **argv)
{
	struct cmdline cl = {0};
	const char *verb;
	char **args;
	size_t nargs;
	int rc;

#ifdef __linux__
	/* the API keys are in our environment: other processes of the same user
	 * (a check command a model wrote, say) may not read /proc/PID/environ or
	 * ptrace us.  Children get the flag back on exec, so checks are unchanged */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		warn("cannot make the process non-dumpable:");
#endif
	plan_set_exe(argv[0]);
	cl.args = xcalloc((size_t)argc + 1, sizeof(*cl.args));
	cl.o.budget = -1;
	cl.o.progress = "auto";
	if (parse_args(argc, argv, &cl)) {
		free(cl.args);
		return 0;
	}
	if (cl.o.replay && cl.o.record)
		usage_error("--replay and --record do not go together%s", "");
	if (!cl.verb)
		cl.verb = "build";
	verb = cl.verb;
	args = cl.args;
	nargs = cl.nargs;
	/* a dry run changes nothing: the verbs that cannot show what they would
	 * do without doing it refuse -n rather than ignore it */
	if (cl.o.dry_run && strcmp(verb, "init") == 0)
		usage_error("-n does not go with %s: it creates a project, there is nothing to show first", verb);
	if (cl.o.dry_run && strcmp(verb, "cache") == 0 && nargs && strcmp(args[0], "stats") != 0 &&
	    strcmp(args[0], "help") != 0 && strcmp(args[0], "--help") != 0 && strcmp(args[0], "-h") != 0)
		usage_error("-n does not go with cache %s: it would change the cache or write an archive "
			    "(mpbuild cache stats only reads)", args[0]);
	if (strcmp(verb, "init") == 0) {
		if (cl.dir && chdir(cl.dir) < 0 && (mkdirs(cl.dir) < 0 || chdir(cl.dir) < 0))
			fatal("cannot change to %s:", cl.dir);
		rc = cmd_init(args, nargs);
	} else {
		rc = run_verb(&cl);
	}
	free(args);
	return rc;
}
