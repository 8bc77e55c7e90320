/* test_plan.c: output path rules, and plan_load on small projects written to
 * temporary directories: resolved references, rule choice by output name,
 * model choice by complexity, settings and their defaults, project rules
 * overriding built-in ones, and errors.  Built-in rules come from
 * $MPBUILD_RULES, else rules/ under the current directory (tests/run.sh runs
 * from the repository root); without either the plan tests are skipped. */
#include "unit.h"
#include "helpers.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

static const char discovery[] =
	"version: 1\n"
	"domain: Notes\n"
	"bounded_contexts:\n"
	"  - {name: Notes, description: notes}\n"
	"  - {name: Storage, description: files}\n";

static const char masterplan[] =
	"version: 1\n"
	"project: notes\n"
	"phases:\n"
	"  - {id: P1, title: Core}\n"
	"  - {id: P2, title: Docs}\n"
	"milestones:\n"
	"  - {id: M1, phase: P1, title: Code}\n"
	"  - {id: M2, phase: P2, title: Words}\n"
	"tasks:\n"
	"  - id: T-001\n"
	"    title: header\n"
	"    milestone: M1\n"
	"    complexity: low\n"
	"    context: [Notes]\n"
	"    outputs: [src/note.h, src/note.c]\n"
	"  - id: T-002\n"
	"    title: store\n"
	"    milestone: M1\n"
	"    complexity: high\n"
	"    depends_on: [T-001]\n"
	"    context: [Notes, Storage]\n"
	"    outputs: [store.py]\n"
	"    check: [[python3, -m, pytest, -q], [true]]\n"
	"  - id: T-003\n"
	"    title: readme\n"
	"    milestone: M2\n"
	"    depends_on: [T-002, T-001]\n"
	"    context: [Notes]\n"
	"    outputs: [README.md]\n"
	"  - id: T-004\n"
	"    title: config\n"
	"    model: my-model\n"
	"    context: [Storage]\n"
	"    outputs: [conf/app.toml]\n"
	"  - id: T-005\n"
	"    title: build\n"
	"    rule: shell\n"
	"    context: [Storage]\n"
	"    outputs: [Makefile, requirements.txt, notes.txt]\n";

static int have_rules(void)
{
	static int known = -1;
	char buf[PATH_MAX];

	if (known >= 0)
		return known;
	known = 1;
	if (getenv("MPBUILD_RULES") && *getenv("MPBUILD_RULES"))
		return known;
	if (realpath("rules", buf) && path_exists("rules/generic.yaml")) {
		setenv("MPBUILD_RULES", buf, 1);
		return known;
	}
	printf("# skipped: no built-in rules (set MPBUILD_RULES or run from the repository root)\n");
	return known = 0;
}

/* load the project in dir quietly; *err (may be NULL) gets stderr, caller frees */
static struct plan *load(const char *dir, char **err)
{
	struct plan *p;
	char *e;

	capture_begin();
	p = plan_load(dir);
	e = capture_end();
	if (err)
		*err = e;
	else
		free(e);
	return p;
}

/* a project with the files above plus mpbuild.yaml holding settings (or none) */
static char *project(const char *settings)
{
	char *d = tmp_dir();

	put_file(d, "plans/discovery.yaml", discovery);
	put_file(d, "plans/masterplan.yaml", masterplan);
	if (settings)
		put_file(d, "mpbuild.yaml", settings);
	return d;
}

static void drop(char *d)
{
	rm_rf(d);
	free(d);
}

TEST(path_problem_good)
{
	static const char *const good[] = {"a", "src/x.c", "a.b/c", ".gitignore", "cache.txt", "plans2/x", "rulesx",
					   "x/cache/y", "x/plans/y", ".github/workflows/ci.yml", "dir/.hidden",
					   "..a", "a..", "a/..b", "a/b./c", "caf\xc3\xa9.md", "a b/c d.txt",
					   "mpbuild.yaml.bak", "x/mpbuild.lock"};
	size_t i;

	for (i = 0; i < LEN(good); i++) {
		const char *why = plan_path_problem(good[i]);

		if (why)
			printf("# %s: %s\n", good[i], why);
		CHECK(why == NULL);
	}
}

TEST(path_problem_bad)
{
	static const char *const bad[][2] = {
		{"", "is empty"},
		{"/abs", "is absolute"},
		{"/", "is absolute"},
		{"../x", "is not normalised (has '.' or '..')"},
		{"a/../b", "is not normalised (has '.' or '..')"},
		{"./a", "is not normalised (has '.' or '..')"},
		{"a/.", "is not normalised (has '.' or '..')"},
		{"..", "is not normalised (has '.' or '..')"},
		{".", "is not normalised (has '.' or '..')"},
		{"a//b", "has an empty component"},
		{"a/", "ends with '/'"},
		{"src/notes/", "ends with '/'"},
		{"cache/x", "is under cache/"},
		{"cache/a/b", "is under cache/"},
		{"plans/x", "is under plans/"},
		{"rules/x.yaml", "is under rules/"},
		{".git/x", "is under .git/"},
		{".git/hooks/pre-commit", "is under .git/"},
		{"mpbuild.lock", "is a file mpbuild owns"},
		{"mpbuild.yaml", "is a file mpbuild owns"},
		{"a\\b", "contains a backslash"},
		{"a\tb", "contains a control character"},
		{"a\nb", "contains a control character"},
	};
	size_t i;

	for (i = 0; i < LEN(bad); i++) {
		const char *why = plan_path_problem(bad[i][0]);

		if (!why || strcmp(why, bad[i][1]) != 0)
			printf("# \"%s\": got %s, want %s\n", bad[i][0], why ? why : "(null)", bad[i][1]);
		CHECK(why && strcmp(why, bad[i][1]) == 0);
	}
}

TEST(load_resolves_references)
{
	char *d, *err;
	struct plan *p;
	struct task *t1, *t2, *t3;

	if (!have_rules())
		return;
	d = project(NULL);
	p = load(d, &err);
	CHECK(p != NULL);
	CHECK_STR(err, "");
	free(err);
	if (!p) {
		drop(d);
		return;
	}
	CHECK(p->ntasks == 5 && p->nmilestones == 2 && p->nphases == 2);
	CHECK(p->have_masterplan && p->have_discovery && !p->have_settings && !p->have_questions);
	CHECK_STR(p->project, "notes");
	t1 = plan_task(p, "T-001");
	t2 = plan_task(p, "T-002");
	t3 = plan_task(p, "T-003");
	CHECK(t1 == &p->tasks[0] && t2 == &p->tasks[1] && t3 == &p->tasks[2]);
	CHECK(plan_task(p, "T-009") == NULL && plan_task(p, "M1") == NULL);
	CHECK(t1->ndeps == 0 && t2->ndeps == 1 && t2->deps[0] == t1);
	CHECK(t3->ndeps == 2 && t3->deps[0] == t2 && t3->deps[1] == t1);
	CHECK_STR(t3->depends_on[0], "T-002");
	CHECK(t1->index == 0 && t3->index == 2);
	CHECK(t1->milestone_index == 0 && t3->milestone_index == 1 && p->tasks[3].milestone_index == (size_t)-1);
	CHECK(p->milestones[0].phase_index == 0 && p->milestones[1].phase_index == 1);
	CHECK(t1->has_context && t1->ncontext == 1 && strcmp(t1->context[0], "Notes") == 0);
	CHECK(t2->ncontext == 2 && strcmp(t2->context[1], "Storage") == 0);
	CHECK(p->disc.ncontexts == 2 && strcmp(p->disc.contexts[1].name, "Storage") == 0);
	CHECK(t1->noutputs == 2 && strcmp(t1->outputs[1], "src/note.c") == 0);
	CHECK(t2->ncheck == 2 && t2->check[0].c == 4 && strcmp(t2->check[0].v[3], "-q") == 0 &&
	      t2->check[0].v[4] == NULL && t2->check[1].c == 1);
	CHECK_STR(t1->complexity, "low");
	CHECK_STR(t3->complexity, "medium");         /* the default */
	CHECK(htab_get(&p->outputs, "store.py") == t2);
	plan_free(p);
	drop(d);
}

TEST(rule_by_output_name)
{
	char *d;
	struct plan *p;

	if (!have_rules())
		return;
	d = project(NULL);
	p = load(d, NULL);
	CHECK(p != NULL);
	if (p) {
		CHECK_STR(p->tasks[0].r->name, "c");          /* src/note.h */
		CHECK_STR(p->tasks[1].r->name, "python");     /* store.py */
		CHECK_STR(p->tasks[2].r->name, "docs");       /* README.md */
		CHECK_STR(p->tasks[3].r->name, "generic");    /* conf/app.toml */
		CHECK_STR(p->tasks[4].r->name, "shell");      /* rule: wins over Makefile */
		CHECK(p->tasks[0].r->builtin && p->tasks[0].r->nvalidate >= 1);
		CHECK(plan_rule(p, "python") == p->tasks[1].r && plan_rule(p, "nope") == NULL);
		CHECK(p->nrules >= 6);
		CHECK(strncmp(p->tasks[1].r->hash, "sha256:", 7) == 0 && strlen(p->tasks[1].r->hash) == 71);
		plan_free(p);
	}
	drop(d);
	/* the first output decides; an exact file name beats a pattern */
	{
		static const char *const cases[][2] = {
			{"Makefile", "c"}, {"lib/x.h", "c"}, {"requirements.txt", "python"}, {"notes.txt", "docs"},
			{"pyproject.toml", "python"}, {"web/app.ts", "javascript"}, {"package.json", "javascript"},
			{"run.sh", "shell"}, {"docs/guide.md", "docs"}, {"data.csv", "generic"}, {"Dockerfile", "generic"},
		};
		size_t i;

		for (i = 0; i < LEN(cases); i++) {
			char *text = xasprintf("version: 1\ntasks:\n  - id: A\n    title: a\n    outputs: [\"%s\", other.c]\n",
					       cases[i][0]);

			d = tmp_dir();
			put_file(d, "plans/masterplan.yaml", text);
			p = load(d, NULL);
			CHECK(p && p->tasks[0].r);
			if (p && p->tasks[0].r && strcmp(p->tasks[0].r->name, cases[i][1]) != 0)
				printf("# %s: rule %s, want %s\n", cases[i][0], p->tasks[0].r->name, cases[i][1]);
			CHECK(p && p->tasks[0].r && strcmp(p->tasks[0].r->name, cases[i][1]) == 0);
			plan_free(p);
			free(text);
			drop(d);
		}
	}
}

TEST(model_by_complexity)
{
	char *d;
	struct plan *p;
	struct model_choice m;

	if (!have_rules())
		return;
	d = project(NULL);
	p = load(d, NULL);
	CHECK(p != NULL);
	if (p) {
		m = plan_task_model(p, &p->tasks[0]);
		CHECK_STR(m.model, "claude-haiku-5-5");
		CHECK_STR(m.effort, NULL);
		CHECK_STR(plan_task_model(p, &p->tasks[1]).model, "claude-sonnet-5-5");
		CHECK_STR(plan_task_model(p, &p->tasks[2]).model, "claude-haiku-5-5");
		CHECK_STR(plan_task_model(p, &p->tasks[3]).model, "my-model");
		plan_free(p);
	}
	drop(d);
	d = project("version: 1\nmodels:\n  low: {model: small, effort: low}\n  medium: mid\n  high: {model: big}\n"
		    "  escalate: huge\n");
	p = load(d, NULL);
	CHECK(p != NULL);
	if (p) {
		m = plan_task_model(p, &p->tasks[0]);
		CHECK_STR(m.model, "small");
		CHECK_STR(m.effort, "low");
		m = plan_task_model(p, &p->tasks[1]);
		CHECK_STR(m.model, "big");
		CHECK_STR(m.effort, NULL);
		CHECK_STR(plan_task_model(p, &p->tasks[2]).model, "mid");
		CHECK_STR(plan_task_model(p, &p->tasks[3]).model, "my-model");
		CHECK_STR(p->settings.escalate.model, "huge");
		CHECK_STR(p->settings.discovery.model, "claude-sonnet-5-5");   /* untouched entries keep defaults */
		plan_free(p);
	}
	drop(d);
}

TEST(settings_defaults)
{
	char *d;
	struct plan *p;
	const struct settings *s;

	if (!have_rules())
		return;
	d = project(NULL);
	p = load(d, NULL);
	CHECK(p != NULL);
	if (p) {
		s = &p->settings;
		CHECK_STR(s->provider, "anthropic");
		CHECK_STR(s->base_url, NULL);
		CHECK_STR(s->answer_format, "auto");
		CHECK(s->budget_usd < 0);
		CHECK(s->jobs == 2 && s->retries == 1 && s->check_timeout == 300 && s->max_tokens == 16000);
		CHECK_STR(s->cache_ttl, "auto");
		CHECK_STR(s->remote_cache, NULL);
		CHECK_STR(s->discovery.model, "claude-sonnet-5-5");
		CHECK_STR(s->masterplan.model, "claude-sonnet-5-5");
		CHECK_STR(s->low.model, "claude-haiku-5-5");
		CHECK_STR(s->medium.model, "claude-haiku-5-5");
		CHECK_STR(s->high.model, "claude-sonnet-5-5");
		CHECK_STR(s->escalate.model, NULL);
		CHECK(s->nprices == 0);
		plan_free(p);
	}
	drop(d);
	/* an mpbuild.yaml with only the version keeps every default */
	d = project("version: 1\n");
	p = load(d, NULL);
	CHECK(p && p->have_settings && p->settings.jobs == 2 && strcmp(p->settings.provider, "anthropic") == 0);
	plan_free(p);
	drop(d);
}

TEST(settings_loaded)
{
	char *d;
	struct plan *p;
	const struct settings *s;

	if (!have_rules())
		return;
	d = project("version: 1\nprovider: openai\nbase_url: http://127.0.0.1:8080\nanswer_format: tool\n"
		    "budget_usd: 2.5\njobs: 8\nretries: 0\ncheck_timeout: 60\nmax_tokens: 4000\ncache_ttl: 1h\n"
		    "remote_cache: https://cache.example/mp\nprices:\n  local: {input: 1, output: 2}\n"
		    "  other: {input: 3, output: 4, cache_write_5m: 5, cache_write_1h: 6, cache_read: 0.5}\n");
	p = load(d, NULL);
	CHECK(p != NULL);
	if (p) {
		s = &p->settings;
		CHECK_STR(s->provider, "openai");
		CHECK_STR(s->base_url, "http://127.0.0.1:8080");
		CHECK_STR(s->answer_format, "tool");
		CHECK(s->budget_usd == 2.5 && s->jobs == 8 && s->retries == 0 && s->check_timeout == 60);
		CHECK(s->max_tokens == 4000);
		CHECK_STR(s->cache_ttl, "1h");
		CHECK_STR(s->remote_cache, "https://cache.example/mp");
		CHECK(s->nprices == 2);
		CHECK_STR(s->prices[0].model, "local");
		/* unset cache prices follow the input price as Anthropic's do */
		CHECK(s->prices[0].input == 1 && s->prices[0].output == 2 && s->prices[0].cache_write_5m == 1.25 &&
		      s->prices[0].cache_write_1h == 2 && s->prices[0].cache_read == 0.1);
		CHECK(s->prices[1].cache_write_5m == 5 && s->prices[1].cache_write_1h == 6 && s->prices[1].cache_read == 0.5);
		plan_free(p);
	}
	drop(d);
}

TEST(project_rule_overrides_builtin)
{
	char *d;
	struct plan *p;
	const struct rule *r;

	if (!have_rules())
		return;
	d = project(NULL);
	put_file(d, "rules/python.yaml", "version: 1\nname: python\nmatch: [\"*.py\"]\nsystem: mine\n"
					 "validate: {\"*.py\": [true, \"{file}\"]}\n");
	put_file(d, "rules/toml.yaml", "version: 1\nname: toml\nmatch: [\"*.toml\"]\n");
	p = load(d, NULL);
	CHECK(p != NULL);
	if (p) {
		r = plan_rule(p, "python");
		CHECK(r && !r->builtin && strcmp(r->system, "mine") == 0 && strcmp(r->path, "rules/python.yaml") == 0);
		CHECK(r && r->nvalidate == 1 && strcmp(r->validate[0].glob, "*.py") == 0 &&
		      r->validate[0].argv.c == 2 && strcmp(r->validate[0].argv.v[1], "{file}") == 0);
		CHECK(p->tasks[1].r == r);
		CHECK_STR(p->tasks[3].r->name, "toml");      /* a new project rule takes conf/app.toml */
		CHECK_STR(plan_rule(p, "toml")->system, "");
		CHECK(plan_rule(p, "c")->builtin);
		plan_free(p);
	}
	drop(d);
}

TEST(questions_and_answers)
{
	char *d;
	struct plan *p;

	if (!have_rules())
		return;
	d = project(NULL);
	put_file(d, "plans/questions.yaml", "version: 1\nsummary: s\nentities: [Note]\nquestions:\n"
					    "  - {id: q1, text: Tags?, why: shapes Note, default: \"no\"}\n"
					    "  - {id: q2, text: Colours?}\n");
	put_file(d, "plans/answers.yaml", "version: 1\nanswers:\n  q1: \"yes\"\n");
	put_file(d, "plans/request.md", "notes\n");
	p = load(d, NULL);
	CHECK(p != NULL);
	if (p) {
		CHECK(p->have_questions && p->have_answers && p->have_request && p->nquestions == 2);
		CHECK_STR(p->questions[0].def, "no");
		CHECK_STR(p->questions[1].why, NULL);
		CHECK_STR(ymap_get(p->answers, "q1")->str, "yes");
		plan_free(p);
	}
	drop(d);
}

TEST(no_masterplan)
{
	char *d = tmp_dir(), *err;
	struct plan *p;

	if (!have_rules()) {
		drop(d);
		return;
	}
	put_file(d, "plans/request.md", "notes\n");
	p = load(d, &err);
	CHECK(p && !p->have_masterplan && p->ntasks == 0 && p->have_request);
	CHECK_STR(err, "");
	free(err);
	plan_free(p);
	drop(d);
}

/* the errors plan_load prints for a masterplan (with the discovery above) */
static char *errors_for(const char *plan)
{
	char *d = tmp_dir(), *err;
	struct plan *p;

	put_file(d, "plans/discovery.yaml", discovery);
	put_file(d, "plans/masterplan.yaml", plan);
	p = load(d, &err);
	CHECK(p == NULL);
	plan_free(p);
	drop(d);
	return err;
}

TEST(load_errors)
{
	char *e;

	if (!have_rules())
		return;
	e = errors_for("version: 1\ntasks:\n  - {id: A, title: a, context: [Notes], outputs: [a.c]}\n"
		       "  - {id: B, title: b, context: [Notes], depends_on: [a], outputs: [b.c]}\n");
	CHECK_STR(e, "plans/masterplan.yaml:4:54: error: task B refers to unknown task 'a' (did you mean 'A'?)\n");
	free(e);
	e = errors_for("version: 1\ntasks:\n  - {id: A, title: a, context: [Notes], outputs: [a.c], depends_on: [B]}\n"
		       "  - {id: B, title: b, context: [Notes], depends_on: [A], outputs: [b.c]}\n");
	CHECK_STR(e, "plans/masterplan.yaml:3:5: error: dependency cycle: A -> B -> A\n");
	free(e);
	/* every problem is reported, not just the first */
	e = errors_for("version: 1\ntasks:\n  - {id: A, title: a, context: [Notes], outputs: [/a.c], complexity: easy}\n"
		       "  - {id: A, title: b, context: [Notez], outputs: [b.c], rule: cc}\n");
	CHECK(e && strstr(e, "3:70: error: complexity of task A must be low, medium or high, not 'easy'\n"));
	CHECK(e && strstr(e, "3:51: error: output '/a.c' of task A is absolute\n"));
	CHECK(e && strstr(e, "4:10: error: duplicate id 'A'\n"));
	CHECK(e && strstr(e, "4:33: error: task A refers to unknown bounded context 'Notez' (did you mean 'Notes'?)\n"));
	CHECK(e && strstr(e, "4:63: error: task A refers to unknown rule 'cc' (did you mean 'c'?)\n"));
	free(e);
}
