/* test_retrieve.c: the query built for a rule (weights, stopwords, order,
 * the cap on words), the example index (what is indexed, re-indexing only
 * changed files, removals, binary files skipped), picking (the rule's match
 * patterns, its own outputs and examples left out, best first, the file cap),
 * rule records in state.db, the staleness count behind "rule NAME
 * changed: N tasks stale", and the masterplan's example plans (their query
 * from discovery.yaml, picked only from examples/plans/ folders, which rules
 * never pick from, and the lock entry they are pinned in). */
#include "unit.h"
#include "helpers.h"

#include <stdlib.h>
#include <string.h>

#include "retrieve.h"
#include "rulebook.h"

static char *proj, *builtin;

static const char widget_rule[] =
	"version: 1\n"
	"name: widget\n"
	"match: [\"*.wdg\"]\n"
	"system: |\n"
	"  Widgets are gadgets. Gadgets, gadgets!\n"
	"examples: [examples/own/*.wdg]\n"
	"validate:\n"
	"  \"*.wdg\": [true, \"{file}\"]\n";

static const char plan_text[] =
	"version: 1\n"
	"tasks:\n"
	"  - id: T-001\n"
	"    title: Sprocket widget\n"
	"    description: A sprocket for the widget.\n"
	"    rule: widget\n"
	"    outputs: [out/sprocket.wdg]\n"
	"  - id: T-002\n"
	"    title: Unrelated notes about gears\n"
	"    rule: other\n"
	"    outputs: [out/gears.txt]\n";

/* a project with the widget rule and an "other" rule, built-in rules in a
 * directory of their own (with an examples/ folder) */
static struct plan *load(void)
{
	proj = tmp_dir();
	builtin = tmp_dir();
	setenv("MPBUILD_RULES", builtin, 1);
	put_file(proj, "plans/masterplan.yaml", plan_text);
	put_file(proj, "rules/widget.yaml", widget_rule);
	put_file(proj, "rules/other.yaml", "version: 1\nname: other\nmatch: [\"*.txt\"]\nsystem: Gears.\n");
	return load_plan_quietly(proj);
}

static void unload(struct plan *p)
{
	plan_free(p);
	rm_rf(proj);
	rm_rf(builtin);
	free(proj);
	free(builtin);
}

TEST(query_weights_and_order)
{
	struct plan *p = load();
	char *q;

	CHECK(p != NULL);
	if (!p)
		return;
	/* widget: name 4 + title 2 + description 1 = 7; wdg: pattern 4;
	 * sprocket: title 2 + description 1; gadgets and widgets 1 each (a word
	 * counts once per text); "are", "for", "the" are stopwords; T-002's
	 * words belong to the other rule.  Repeats: 4 * weight / 7, rounded up */
	q = retrieve_query(p, plan_rule(p, "widget"));
	CHECK_STR(q, "\"widget\" OR \"widget\" OR \"widget\" OR \"widget\" OR \"wdg\" OR \"wdg\" OR \"wdg\" OR "
		     "\"sprocket\" OR \"sprocket\" OR \"gadgets\" OR \"widgets\"");
	free(q);
	/* a name a person chose counts even when it is a stopword ("about" is one) */
	q = retrieve_query(p, plan_rule(p, "other"));
	CHECK_STR(q, "\"other\" OR \"other\" OR \"other\" OR \"other\" OR \"txt\" OR \"txt\" OR \"txt\" OR "
		     "\"txt\" OR \"gears\" OR \"gears\" OR \"gears\" OR \"notes\" OR \"notes\" OR \"unrelated\" OR "
		     "\"unrelated\"");
	free(q);
	unload(p);
}

TEST(query_capped_and_empty)
{
	struct rule r = {0};
	struct plan p = {0};
	char *q;
	size_t n = 0, i;

	r.name = "x";
	r.system = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
		   "quebec romeo sierra tango uniform victor whiskey xray yankee zulu one1 two2 three3 four4 five5 six6 "
		   "seven7 eight8 12345";
	q = retrieve_query(&p, &r);
	for (i = 0; q[i]; i++)
		n += q[i] == '"';
	/* 32 words: the name 4 times, 31 others once */
	CHECK(n == 2 * (RETRIEVE_TERMS - 1 + RETRIEVE_REPEAT));
	CHECK(strncmp(q, "\"x\" OR \"x\" OR \"x\" OR \"x\" OR \"alpha\" OR ", 39) == 0);
	CHECK(strstr(q, "12345") == NULL);                      /* numbers are not words */
	free(q);
	r.name = "";
	r.system = "the and of to";
	q = retrieve_query(&p, &r);
	CHECK_STR(q, "");
	free(q);
}

/* index the project into a scratch database; stats out */
static int index_once(struct state *ix, struct plan *p, const struct record *recs, size_t nrec, struct index_stats *s)
{
	struct fscache fc;
	int rc;

	fscache_open(&fc, NULL, p->root);
	rc = retrieve_index(ix, &fc, p, recs, nrec, s);
	fscache_close(&fc);
	return rc;
}

static char *pins(const struct rule_rec *rr)
{
	struct buffer b = {0};
	size_t i;

	for (i = 0; i < rr->n; i++)
		buf_printf(&b, "%s%s", i ? " " : "", rr->paths[i]);
	buf_str(&b);
	return buf_take(&b);
}

TEST(index_incremental_and_pick)
{
	struct plan *p = load();
	struct state *ix;
	struct index_stats s;
	struct rule_rec got = {0};
	struct record rec = {0};
	char *paths[] = {"out/sprocket.wdg", "out/old.wdg"}, *list;
	char hashes[2][HASH_HEX], *nodir = NULL;

	CHECK(p != NULL);
	if (!p)
		return;
	put_file(proj, "examples/best.wdg", "sprocket widget sprocket widget gadgets\n");
	put_file(proj, "examples/sub/good.wdg", "a widget\n");
	put_file(proj, "examples/other.txt", "widget sprocket widget sprocket\n");  /* not a widget file */
	put_file(proj, "examples/.hidden.wdg", "widget\n");
	put_file(proj, "examples/bin.wdg", "widget\n");
	{
		char *b = path_join(proj, "examples/bin.wdg");
		FILE *f = fopen(b, "wb");

		fwrite("widget\0\1", 1, 8, f);
		fclose(f);
		free(b);
	}
	put_file(proj, "examples/own/mine.wdg", "sprocket widget sprocket\n");  /* the rule's own example */
	put_file(proj, "out/sprocket.wdg", "sprocket widget widget\n");          /* T-001's own output */
	put_file(proj, "out/old.wdg", "widget sprocket\n");                      /* an accepted output */
	put_file(builtin, "examples/w/b.wdg", "gadgets widgets\n");
	sha256_hex("sprocket widget widget\n", 23, hashes[0]);
	sha256_hex("widget sprocket\n", 16, hashes[1]);
	rec.target = "T-000";
	rec.generated = 1;
	rec.n = 2;
	rec.paths = paths;
	rec.hashes = hashes;
	nodir = path_join(proj, "nocache");
	ix = state_open_scratch(nodir);
	CHECK(ix != NULL);
	if (!ix)
		goto out;
	/* best, good, other.txt, own/mine, the builtin one and both outputs;
	 * bin.wdg is binary, .hidden.wdg hidden */
	CHECK(index_once(ix, p, &rec, 1, &s) == 0);
	CHECK(s.files == 7 && s.indexed == 7 && s.unchanged == 0 && s.removed == 0 && s.skipped == 1);
	CHECK(index_once(ix, p, &rec, 1, &s) == 0);
	CHECK(s.files == 7 && s.indexed == 0 && s.unchanged == 7 && s.skipped == 1);
	put_file(proj, "examples/sub/good.wdg", "a widget, changed\n");
	rec.n = 1;                                      /* out/old.wdg is no longer a record's */
	CHECK(index_once(ix, p, &rec, 1, &s) == 0);
	CHECK(s.files == 6 && s.indexed == 1 && s.unchanged == 5 && s.removed == 1);
	rec.n = 2;
	CHECK(index_once(ix, p, &rec, 1, &s) == 0);
	CHECK(s.indexed == 1 && s.removed == 0);
	/* an output that was edited is not an accepted output */
	put_file(proj, "out/old.wdg", "edited by a person\n");
	CHECK(index_once(ix, p, &rec, 1, &s) == 0);
	CHECK(s.files == 6 && s.removed == 1);
	put_file(proj, "out/old.wdg", "widget sprocket\n");
	CHECK(index_once(ix, p, &rec, 1, &s) == 0);
	got.name = xstrdup("widget");
	CHECK(retrieve_pick(ix, p, plan_rule(p, "widget"), &got) == 0);
	list = pins(&got);
	/* only *.wdg, neither T-001's output nor the rule's own example, best
	 * first: bm25 favours rare words, and b.wdg has the only "widgets" and
	 * one of the two "gadgets", where "widget" and "sprocket" are everywhere */
	CHECK_STR(list, "builtin:examples/w/b.wdg examples/best.wdg out/old.wdg examples/sub/good.wdg");
	CHECK(got.n == 4 && strcmp(got.hashes[2], hashes[1]) == 0);
	free(list);
	rule_rec_clear(&got);
	/* at most RETRIEVE_FILES */
	put_file(proj, "examples/more.wdg", "widget\n");
	CHECK(index_once(ix, p, &rec, 1, &s) == 0 && s.indexed == 1);
	got.name = xstrdup("widget");
	CHECK(retrieve_pick(ix, p, plan_rule(p, "widget"), &got) == 0);
	CHECK(got.n == RETRIEVE_FILES);
	rule_rec_clear(&got);
	/* a file that would pass the byte cap is passed over, however well it matches */
	{
		struct buffer big = {0};

		while (big.len <= RETRIEVE_BYTES)
			buf_puts(&big, "widgets gadgets widgets\n");
		put_file(proj, "examples/huge.wdg", buf_str(&big));
		buf_free(&big);
	}
	CHECK(index_once(ix, p, &rec, 1, &s) == 0 && s.indexed == 1);
	got.name = xstrdup("widget");
	CHECK(retrieve_pick(ix, p, plan_rule(p, "widget"), &got) == 0);
	list = pins(&got);
	CHECK(got.n == RETRIEVE_FILES && strstr(list, "huge") == NULL);
	free(list);
	rule_rec_clear(&got);
	state_close(ix);
out:
	free(nodir);
	unload(p);
}

static const char discovery_text[] =
	"version: 1\n"
	"domain: Ledger keeping\n"
	"summary: A ledger of accounts and postings, the widget of bookkeeping.\n"
	"stack: {language: cobol, framework: none, storage: files, tests: none}\n"
	"bounded_contexts:\n"
	"  - name: Postings\n"
	"    description: Balanced postings between accounts.\n"
	"    aggregates: []\n"
	"    services: []\n"
	"    repositories: []\n"
	"relationships: []\n"
	"glossary: {}\n";

TEST(plan_examples)
{
	struct plan *p;
	struct state *ix;
	struct index_stats s;
	struct rule_rec got = {0};
	struct lockfile lk = {0};
	struct rulebook rb = {0};
	char *q, *list, *nodir;

	proj = tmp_dir();
	builtin = tmp_dir();
	setenv("MPBUILD_RULES", builtin, 1);
	put_file(proj, "plans/masterplan.yaml", plan_text);
	put_file(proj, "plans/discovery.yaml", discovery_text);
	put_file(proj, "rules/widget.yaml", widget_rule);
	put_file(proj, "rules/other.yaml", "version: 1\nname: other\nmatch: [\"*.txt\"]\nsystem: Gears.\n");
	p = load_plan_quietly(proj);
	CHECK(p != NULL);
	if (!p)
		goto out;
	/* the stack counts most, then domain and summary, then the contexts */
	q = retrieve_plan_query(p);
	CHECK(strncmp(q, "\"cobol\" OR \"cobol\" OR \"cobol\" OR \"cobol\" OR ", 44) == 0);
	CHECK(strstr(q, "\"ledger\"") && strstr(q, "\"postings\"") && strstr(q, "\"balanced\""));
	free(q);
	put_file(proj, "examples/plans/ledger.yaml", "project: ledger\n# cobol ledger postings accounts\n");
	put_file(proj, "examples/plans/w.wdg", "sprocket widget sprocket widget gadgets\n");
	put_file(proj, "examples/cobol.txt", "cobol ledger cobol ledger postings\n");       /* not a plan */
	put_file(builtin, "examples/plans/shop.yaml", "project: shop\n# a ledger of orders\n");
	put_file(builtin, "examples/plans/chat.yaml", "project: chat\n# messages\n");
	nodir = path_join(proj, "nocache");
	ix = state_open_scratch(nodir);
	/* the plans' own index pass reads the examples/plans/ folders only, and
	 * leaves the rest of the index alone */
	CHECK(ix != NULL && retrieve_index_plans(ix, NULL, p, &s) == 0);
	CHECK(s.files == 4 && s.indexed == 4);
	CHECK(ix && retrieve_index(ix, NULL, p, NULL, 0, &s) == 0);
	CHECK(s.files == 5 && s.indexed == 1 && s.unchanged == 4);
	CHECK(ix && retrieve_index_plans(ix, NULL, p, &s) == 0);
	CHECK(s.files == 4 && s.unchanged == 4 && s.removed == 0);
	/* only files under examples/plans/, best first, at most RETRIEVE_PLANS */
	got.name = xstrdup(RULEBOOK_PLAN_PINS);
	CHECK(ix && retrieve_pick_plans(ix, p, &got) == 0);
	list = pins(&got);
	/* ledger.yaml has the stack's word; w.wdg the summary's "widget" twice,
	 * shop.yaml its "ledger" once */
	CHECK_STR(list, "examples/plans/ledger.yaml examples/plans/w.wdg");
	free(list);
	rule_rec_clear(&got);
	/* a rule never picks an example plan, however well it matches */
	got.name = xstrdup("widget");
	CHECK(ix && retrieve_pick(ix, p, plan_rule(p, "widget"), &got) == 0);
	CHECK(got.n == 0);
	rule_rec_clear(&got);
	CHECK(retrieve_is_plan("builtin:examples/plans/a.yaml") && retrieve_is_plan("examples/plans/sub/b.yaml"));
	CHECK(!retrieve_is_plan("examples/plan.yaml") && !retrieve_is_plan("src/examples/plans/c.yaml"));
	/* the pins go in the lock's rules, in name order, beside the rules' */
	rb.recs = xcalloc(2, sizeof(*rb.recs));
	rb.recs[0].name = xstrdup(RULEBOOK_PLAN_PINS);
	snprintf(rb.recs[0].hash, HASH_HEX, "sha256:%064d", 3);
	rule_rec_add_pin(&rb.recs[0], "examples/plans/ledger.yaml", "sha256:cc");
	rb.recs[1].name = xstrdup("widget");
	rb.n = 2;
	lk.rules = xcalloc(2, sizeof(*lk.rules));
	lk.rules[0].name = xstrdup("python");
	lk.rules[1].name = xstrdup("zz");
	lk.nrules = 2;
	rulebook_lock_phases(&rb, &lk);
	CHECK(lk.nrules == 3);
	if (lk.nrules == 3) {
		CHECK_STR(lk.rules[0].name, RULEBOOK_PLAN_PINS);
		CHECK(lk.rules[0].n == 1 && strcmp(lk.rules[0].paths[0], "examples/plans/ledger.yaml") == 0);
		CHECK_STR(lk.rules[1].name, "python");
	}
	rb.recs[0].hashes[0][7] = 'd';
	rulebook_lock_phases(&rb, &lk);                 /* replaced, not added again */
	CHECK(lk.nrules == 3 && strcmp(lk.rules[0].hashes[0], "sha256:dc") == 0);
	lockfile_free(&lk);
	rulebook_free(&rb);
	if (ix)
		state_close(ix);
	free(nodir);
out:
	unload(p);
}

/* the example plans a discovery with stack language lang pins, as "A B" */
static char *picks_for(const char *lang)
{
	struct plan *p;
	struct state *ix;
	struct index_stats s;
	struct rule_rec got = {0};
	char *text, *list = NULL, *nodir;
	size_t i;
	/* FTS alone ranks these by how often they say the discovery's words:
	 * the JavaScript plan talks most of ledgers and postings, and even of
	 * Python, the C one least */
	static const char *const files[][2] = {
		{"examples/plans/javascript-ledger.yaml",
		 "project: jsledger\n# ledger postings accounts ledger postings python widget bookkeeping\n"},
		{"examples/plans/python-notes.yaml", "project: notes\n# ledger postings\n"},
		{"examples/plans/c-tool.yaml", "project: tool\n# ledger\n"},
		{"examples/plans/rust.yaml", "project: rs\n# nothing in common\n"},
	};

	proj = tmp_dir();
	builtin = tmp_dir();
	setenv("MPBUILD_RULES", builtin, 1);
	text = xstrdup(discovery_text);
	put_file(proj, "plans/masterplan.yaml", plan_text);
	/* discovery_text with its language replaced */
	{
		struct buffer b = {0};
		const char *at = strstr(text, "cobol");

		buf_add(&b, text, (size_t)(at - text));
		buf_puts(&b, lang);
		buf_puts(&b, at + 5);
		put_file(proj, "plans/discovery.yaml", buf_str(&b));
		buf_free(&b);
	}
	put_file(proj, "rules/widget.yaml", widget_rule);
	put_file(proj, "rules/other.yaml", "version: 1\nname: other\nmatch: [\"*.txt\"]\nsystem: Gears.\n");
	for (i = 0; i < LEN(files); i++)
		put_file(builtin, files[i][0], files[i][1]);
	p = load_plan_quietly(proj);
	CHECK(p != NULL);
	nodir = path_join(proj, "nocache");
	ix = p ? state_open_scratch(nodir) : NULL;
	got.name = xstrdup(RULEBOOK_PLAN_PINS);
	if (ix && retrieve_index_plans(ix, NULL, p, &s) == 0 && retrieve_pick_plans(ix, p, &got) == 0)
		list = pins(&got);
	rule_rec_clear(&got);
	if (ix)
		state_close(ix);
	free(nodir);
	free(text);
	unload(p);
	return list ? list : xstrdup("(failed)");
}

TEST(plan_examples_by_language)
{
	static const char *const cases[][2] = {
		/* an example plan of the stack's language first, whatever FTS says */
		{"python", "builtin:examples/plans/python-notes.yaml builtin:examples/plans/javascript-ledger.yaml"},
		{"\"Python 3.12\"", "builtin:examples/plans/python-notes.yaml builtin:examples/plans/javascript-ledger.yaml"},
		{"C11", "builtin:examples/plans/c-tool.yaml builtin:examples/plans/javascript-ledger.yaml"},
		{"c", "builtin:examples/plans/c-tool.yaml builtin:examples/plans/javascript-ledger.yaml"},
		{"Node.js", "builtin:examples/plans/javascript-ledger.yaml builtin:examples/plans/python-notes.yaml"},
		/* a language no example plan is named after: FTS rank alone */
		{"cobol", "builtin:examples/plans/javascript-ledger.yaml builtin:examples/plans/python-notes.yaml"},
		/* the plan named after the language is picked even when it shares no word */
		{"rust", "builtin:examples/plans/rust.yaml builtin:examples/plans/javascript-ledger.yaml"},
	};
	size_t i;

	for (i = 0; i < LEN(cases); i++) {
		char *got = picks_for(cases[i][0]);

		if (strcmp(got, cases[i][1]) != 0)
			printf("# language %s: got %s\n", cases[i][0], got);
		CHECK_STR(got, cases[i][1]);
		free(got);
	}
}

TEST(rule_records_persist)
{
	char *d = tmp_dir();
	struct state *st = state_open(d, 0);
	struct rule_rec a = {0}, b = {0}, *all;
	size_t n;

	CHECK(st != NULL);
	if (!st)
		return;
	a.name = xstrdup("python");
	snprintf(a.hash, HASH_HEX, "sha256:%064d", 1);
	rule_rec_add_pin(&a, "examples/z.py", "sha256:aa");
	rule_rec_add_pin(&a, "builtin:examples/python/cli.py", "sha256:bb");
	b.name = xstrdup("c");
	snprintf(b.hash, HASH_HEX, "sha256:%064d", 2);
	CHECK(state_rule_put(st, &a) == 0 && state_rule_put(st, &b) == 0);
	all = state_rules(st, &n);
	CHECK(n == 2);
	if (n == 2) {
		CHECK_STR(all[0].name, "c");
		CHECK(all[0].n == 0);
		CHECK_STR(all[1].name, "python");
		CHECK(all[1].n == 2);                   /* pinned order kept */
		CHECK_STR(all[1].paths[0], "examples/z.py");
		CHECK_STR(all[1].hashes[1], "sha256:bb");
	}
	rule_rec_free_all(all, n);
	CHECK(state_rules_replace(st, &b, 1) == 0);
	all = state_rules(st, &n);
	CHECK(n == 1 && strcmp(all[0].name, "c") == 0);
	rule_rec_free_all(all, n);
	rule_rec_clear(&a);
	rule_rec_clear(&b);
	state_close(st);
	rm_rf(d);
	free(d);
}

TEST(stale_count)
{
	struct plan *p = load();
	struct prompt_ctx *pc;
	struct htab by = {0};
	struct record rec = {0};
	char *manifest, l3[HASH_HEX];

	CHECK(p != NULL);
	if (!p)
		return;
	put_file(builtin, "phases/task.md", "Do the task.\n");
	pc = prompt_open(p);
	CHECK(pc != NULL);
	if (!pc) {
		unload(p);
		return;
	}
	{
		const struct rule *w = plan_rule(p, "widget");
		char *val = key_validate(plan_task(p, "T-001"));

		/* no record: not stale by the rule; a record without a manifest: counted */
		CHECK(rulebook_stale(p, pc, w, &by, NULL) == 0);
		rec.target = "T-001";
		htab_put(&by, "T-001", &rec);
		CHECK(rulebook_stale(p, pc, w, &by, NULL) == 1);
		memcpy(l3, prompt_rule_hash(pc, w), HASH_HEX);
		manifest = xasprintf("{\"layers\":[\"a\",\"b\",\"%s\",\"d\"],\"validate\":%s}", l3, val);
		rec.manifest = manifest;
		CHECK(rulebook_stale(p, pc, w, &by, NULL) == 0);
		CHECK(rulebook_stale(p, pc, plan_rule(p, "other"), &by, NULL) == 0);
		/* new pins change the layer: the task was built with another one */
		{
			char *names[] = {"examples/x.wdg"};
			struct buffer body = {0};

			buf_puts(&body, "widget\n");
			prompt_rule_examples(pc, w, 1, names, &body);
			buf_free(&body);
		}
		CHECK(strcmp(prompt_rule_hash(pc, w), l3) != 0);
		CHECK(rulebook_stale(p, pc, w, &by, NULL) == 1);
		free(manifest);
		free(val);
	}
	htab_free(&by);
	prompt_close(pc);
	unload(p);
}
