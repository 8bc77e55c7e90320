/* test_yaml.c: the YAML room: node positions, kinds and nulls; the limits that
 * make hostile input fail fast, with their messages; and yemit: deterministic
 * output that parses back to the same text (parse -> emit -> parse -> emit). */
#include "unit.h"
#include "helpers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "yaml.h"

/* parse text quietly; *err (may be NULL) gets what was printed, caller frees */
static struct ydoc *parse(const char *text, size_t len, char **err)
{
	struct ydoc *d;
	char *e;

	capture_begin();
	d = ydoc_parse("f.yaml", text, len);
	e = capture_end();
	if (err)
		*err = e;
	else
		free(e);
	return d;
}

static struct ydoc *parse_s(const char *text)
{
	return parse(text, strlen(text), NULL);
}

/* the error message text parses to (NULL when it parses) */
static char *parse_error(const char *text, size_t len)
{
	char *err;
	struct ydoc *d = parse(text, len, &err);

	if (d) {
		ydoc_free(d);
		free(err);
		return NULL;
	}
	return err;
}

static char *emit(const struct ynode *n)
{
	struct buffer b = {0};

	yemit(&b, n, 0);
	return buf_take(&b);
}

/* yemit of the parse of text; NULL when it does not parse */
static char *reemit(const char *text)
{
	struct ydoc *d = parse_s(text);
	char *s;

	if (!d)
		return NULL;
	s = emit(d->root);
	ydoc_free(d);
	return s;
}

/* parse -> emit -> parse -> emit gives the same text both times, and the
 * first emission is want (when want is not NULL) */
static void round_trip(const char *text, const char *want)
{
	char *one = reemit(text), *two = one ? reemit(one) : NULL;

	CHECK(one != NULL);
	if (want)
		CHECK_STR(one, want);
	CHECK_STR(two, one);
	free(one);
	free(two);
}

TEST(positions)
{
	struct ydoc *d = parse_s("# comment\nversion: 1\ntasks:\n  - id: T-001\n    outputs: [a.c, \"b c\"]\n");
	struct ynode *r, *tasks, *t, *outs;

	CHECK(d && d->root);
	if (!d || !d->root)
		return;
	r = d->root;
	CHECK(r->kind == Y_MAP && r->n == 4 && r->line == 2 && r->col == 1);
	CHECK(r->kids[0]->line == 2 && r->kids[0]->col == 1);          /* version */
	CHECK(r->kids[1]->line == 2 && r->kids[1]->col == 10);         /* 1 */
	tasks = ymap_get(r, "tasks");
	CHECK(tasks && tasks->kind == Y_SEQ && tasks->n == 1 && tasks->line == 4 && tasks->col == 3);
	t = tasks->kids[0];
	CHECK(t->kind == Y_MAP && t->line == 4 && t->col == 5);
	CHECK_STR(ymap_get(t, "id")->str, "T-001");
	CHECK(ymap_get(t, "id")->line == 4 && ymap_get(t, "id")->col == 9);
	outs = ymap_get(t, "outputs");
	CHECK(outs->kind == Y_SEQ && outs->n == 2 && outs->line == 5 && outs->col == 14);
	CHECK(outs->kids[0]->line == 5 && outs->kids[0]->col == 15 && outs->kids[0]->plain);
	CHECK(outs->kids[1]->line == 5 && outs->kids[1]->col == 20 && !outs->kids[1]->plain);
	CHECK_STR(outs->kids[1]->str, "b c");
	CHECK(ymap_get(r, "nothing") == NULL && ymap_get(outs, "a.c") == NULL && ymap_get(NULL, "x") == NULL);
	ydoc_free(d);
}

TEST(scalars_maps_seqs)
{
	struct ydoc *d = parse_s("s: plain\nq: 'it''s'\ndq: \"a\\tb\\u00e9\"\nlit: |\n  one\n  two\nfold: >-\n  one\n  two\n"
				 "m: {a: 1, b: [x, {c: d}]}\nempty_m: {}\nempty_s: []\n");
	struct ynode *r, *m;

	CHECK(d != NULL);
	if (!d)
		return;
	r = d->root;
	CHECK_STR(ymap_get(r, "s")->str, "plain");
	CHECK_STR(ymap_get(r, "q")->str, "it's");
	CHECK_STR(ymap_get(r, "dq")->str, "a\tb\xc3\xa9");
	CHECK(ymap_get(r, "dq")->len == 5);
	CHECK_STR(ymap_get(r, "lit")->str, "one\ntwo\n");
	CHECK_STR(ymap_get(r, "fold")->str, "one two");
	m = ymap_get(r, "m");
	CHECK(m->kind == Y_MAP && m->n == 4);
	CHECK(ymap_get(m, "b")->kind == Y_SEQ && ymap_get(m, "b")->n == 2);
	CHECK_STR(ymap_get(ymap_get(m, "b")->kids[1], "c")->str, "d");
	CHECK(ymap_get(r, "empty_m")->kind == Y_MAP && ymap_get(r, "empty_m")->n == 0);
	CHECK(ymap_get(r, "empty_s")->kind == Y_SEQ && ymap_get(r, "empty_s")->n == 0);
	CHECK_STR(ykind_name(m), "a mapping");
	CHECK_STR(ykind_name(ymap_get(m, "b")), "a list");
	CHECK_STR(ykind_name(ymap_get(r, "s")), "a scalar");
	ydoc_free(d);
}

TEST(nulls)
{
	struct ydoc *d = parse_s("a:\nb: ~\nc: null\nd: Null\ne: NULL\nf: \"null\"\ng: ''\nh: nil\ni: [~, x]\n");
	struct ynode *r;

	CHECK(d != NULL);
	if (!d)
		return;
	r = d->root;
	CHECK(yis_null(ymap_get(r, "a")) && yis_null(ymap_get(r, "b")) && yis_null(ymap_get(r, "c")));
	CHECK(yis_null(ymap_get(r, "d")) && yis_null(ymap_get(r, "e")));
	CHECK(!yis_null(ymap_get(r, "f")));    /* quoted: the string "null" */
	CHECK(!yis_null(ymap_get(r, "g")));    /* quoted empty string */
	CHECK(!yis_null(ymap_get(r, "h")));
	CHECK(yis_null(ymap_get(r, "i")->kids[0]) && !yis_null(ymap_get(r, "i")->kids[1]));
	CHECK(yis_null(NULL));
	CHECK(yis_null(ymap_get(r, "missing")));
	CHECK_STR(ykind_name(ymap_get(r, "a")), "null");
	ydoc_free(d);
}

TEST(empty_documents)
{
	struct ydoc *d = parse_s("");

	CHECK(d && d->root == NULL);
	ydoc_free(d);
	d = parse_s("# only a comment\n");
	CHECK(d && d->root == NULL);
	ydoc_free(d);
	d = parse_s("--- x\n...\n");
	CHECK(d && d->root && strcmp(d->root->str, "x") == 0);
	ydoc_free(d);
}

/* text with n nested flow sequences around x */
static char *nested(int n)
{
	struct buffer b = {0};
	int i;

	for (i = 0; i < n; i++)
		buf_putc(&b, '[');
	buf_putc(&b, 'x');
	for (i = 0; i < n; i++)
		buf_putc(&b, ']');
	buf_putc(&b, '\n');
	return buf_take(&b);
}

TEST(limit_depth)
{
	char *ok = nested(YAML_MAX_DEPTH), *bad = nested(YAML_MAX_DEPTH + 1), *e;

	e = parse_error(ok, strlen(ok));
	CHECK_STR(e, NULL);
	free(e);
	e = parse_error(bad, strlen(bad));
	CHECK_STR(e, "f.yaml:1:65: error: nesting deeper than 64 levels\n");
	free(e);
	free(ok);
	free(bad);
	/* block style counts the same way */
	{
		struct buffer b = {0};
		int i;

		for (i = 0; i < 70; i++)
			buf_printf(&b, "%*sk:\n", i * 2, "");
		e = parse_error(b.data, b.len);
		CHECK_STR(e, "f.yaml:65:129: error: nesting deeper than 64 levels\n");
		free(e);
		buf_free(&b);
	}
}

TEST(limit_alias_bomb)
{
	struct buffer b = {0};
	char *e;
	int i, j;

	buf_puts(&b, "a: &a [x, x, x, x, x, x, x, x, x, x]\n");
	for (i = 1; i < 9; i++) {
		buf_printf(&b, "%c: &%c [", 'a' + i, 'a' + i);
		for (j = 0; j < 10; j++)
			buf_printf(&b, "%s*%c", j ? ", " : "", 'a' + i - 1);
		buf_puts(&b, "]\n");
	}
	e = parse_error(b.data, b.len);
	CHECK(e && strstr(e, "error: aliases expand to more than 8388608 nodes (an alias bomb?)"));
	CHECK(e && strncmp(e, "f.yaml:7:32: ", 13) == 0);
	free(e);
	buf_free(&b);
	/* a few aliases are fine, and share the anchored node */
	{
		struct ydoc *d = parse_s("base: &b {model: m, effort: low}\nlow: *b\nhigh: *b\n");

		CHECK(d && ymap_get(d->root, "low") == ymap_get(d->root, "base"));
		CHECK(d && d->root->weight == 1 + 3 + 3 * 5);
		ydoc_free(d);
	}
}

TEST(limit_recursive_and_unknown_alias)
{
	char *e = parse_error("a: &a [x, *a]\n", 14);

	CHECK_STR(e, "f.yaml:1:11: error: alias '*a' refers to a node that contains it\n");
	free(e);
	e = parse_error("a: &a {b: {c: *a}}\n", 19);
	CHECK_STR(e, "f.yaml:1:15: error: alias '*a' refers to a node that contains it\n");
	free(e);
	e = parse_error("a: *nope\n", 9);
	CHECK(e && strstr(e, "f.yaml:1:4: error:"));
	free(e);
}

TEST(limit_bytes)
{
	char *e;

	e = parse_error("a: b\nc: d\0e\n", 12);
	CHECK_STR(e, "f.yaml:2:5: error: NUL byte in file (plan files are UTF-8 text)\n");
	free(e);
	e = parse_error("a: caf\xc3\xa9 \xff\n", 11);
	CHECK_STR(e, "f.yaml:1:9: error: invalid UTF-8 byte 0xff (plan files are UTF-8 text)\n");
	free(e);
	/* overlong, surrogate, truncated at the end, beyond U+10FFFF */
	e = parse_error("a: \xc0\xaf\n", 6);
	CHECK(e && strstr(e, "f.yaml:1:4: error: invalid UTF-8 byte 0xc0"));
	free(e);
	e = parse_error("a: \xe0\x80\xaf\n", 7);
	CHECK(e && strstr(e, "invalid UTF-8 byte 0xe0"));
	free(e);
	e = parse_error("a: \xed\xa0\x80\n", 7);
	CHECK(e && strstr(e, "invalid UTF-8 byte 0xed"));
	free(e);
	e = parse_error("a: \xe2\x82", 5);
	CHECK(e && strstr(e, "f.yaml:1:4: error: invalid UTF-8 byte 0xe2"));
	free(e);
	e = parse_error("a: \xf4\x90\x80\x80\n", 8);
	CHECK(e && strstr(e, "invalid UTF-8 byte 0xf4"));
	free(e);
	/* good multi-byte text, and columns count characters */
	e = parse_error("a: \xe2\x82\xac \xf0\x9f\x98\x80\n", 12);
	CHECK_STR(e, NULL);
	free(e);
	e = parse_error("\xe2\x82\xac: \xff\n", 7);
	CHECK_STR(e, "f.yaml:1:4: error: invalid UTF-8 byte 0xff (plan files are UTF-8 text)\n");
	free(e);
}

TEST(limit_scalar_and_file_size)
{
	size_t n = YAML_MAX_SCALAR + 1;
	char *big = xmalloc(n + 8), *e;

	memcpy(big, "a: ", 3);
	memset(big + 3, 'x', n);
	big[3 + n] = '\n';
	e = parse_error(big, n + 4);
	CHECK_STR(e, "f.yaml:1:4: error: scalar of 4194305 bytes is larger than the limit of 4 MiB\n");
	free(e);
	e = parse_error(big, n + 3 - 1);     /* exactly the limit */
	CHECK_STR(e, NULL);
	free(e);
	free(big);
	/* the size check comes before anything reads the bytes */
	e = parse_error("", (size_t)YAML_MAX_FILE + 1);
	CHECK_STR(e, "f.yaml: error: file is larger than 64 MiB\n");
	free(e);
}

TEST(limit_documents_and_keys)
{
	char *e;

	e = parse_error("a: 1\n---\nb: 2\n", 14);
	CHECK_STR(e, "f.yaml:2:1: error: more than one YAML document in the file\n");
	free(e);
	e = parse_error("a: 1\nb:\n  c: 1\n  c: 2\n", 22);
	CHECK_STR(e, "f.yaml:4:3: error: duplicate key 'c'\n");
	free(e);
	e = parse_error("{a: 1, a: 1}\n", 13);
	CHECK_STR(e, "f.yaml:1:8: error: duplicate key 'a'\n");
	free(e);
	e = parse_error("[a]: 1\n", 7);
	CHECK_STR(e, "f.yaml:1:1: error: mapping keys must be plain strings\n");
	free(e);
	e = parse_error("a: [1, 2\n", 9);
	CHECK(e && strncmp(e, "f.yaml:2:1: error: did not find expected ',' or ']'", 50) == 0);
	free(e);
	/* tabs get a hint, whatever libyaml calls the problem */
	e = parse_error("a:\n\tb: 1\n", 9);
	CHECK_STR(e, "f.yaml:2:1: error: found character that cannot start any token while scanning for the next "
		     "token (indent with spaces, not tabs)\n");
	free(e);
	e = parse_error("a:\n  - b\n\t  c: 1\n", 17);
	CHECK(e && strstr(e, "f.yaml:3:1: error: found a tab character that violates indentation"));
	CHECK(e && strstr(e, "(indent with spaces, not tabs)\n"));
	free(e);
}

TEST(errors_counted)
{
	int before = yaml_errors;
	char *e = parse_error("a: [\n", 5);

	CHECK(yaml_errors == before + 1);
	free(e);
	capture_begin();
	yerror("x.yaml", NULL, "no place %d", 1);
	ywarning("x.yaml", NULL, "careful");
	e = capture_end();
	CHECK_STR(e, "x.yaml: error: no place 1\nx.yaml: warning: careful\n");
	CHECK(yaml_errors == before + 2);
	free(e);
}

TEST(load_missing_and_present)
{
	char *dir = tmp_dir(), *path = path_join(dir, "p.yaml");
	struct ydoc *d;

	capture_begin();
	d = ydoc_load(path, "p.yaml");
	{
		char *e = capture_end();

		CHECK(d == NULL && errno == ENOENT);
		CHECK_STR(e, "");
		free(e);
	}
	put_file(dir, "p.yaml", "version: 1\n");
	d = ydoc_load(path, "shown.yaml");
	CHECK(d && strcmp(d->path, "shown.yaml") == 0 && strcmp(ymap_get(d->root, "version")->str, "1") == 0);
	ydoc_free(d);
	rm_rf(dir);
	free(path);
	free(dir);
}

TEST(emit_deterministic)
{
	const char *text = "version: 1\ntasks:\n  - id: T-001\n    outputs: [a.c, b.c]\n    check: [[cc, -c, a.c]]\n";
	char *a = reemit(text), *b = reemit(text);

	CHECK_STR(a, b);
	CHECK_STR(a, "version: 1\ntasks:\n  - id: T-001\n    outputs:\n      - a.c\n      - b.c\n    check:\n"
		     "      - - cc\n        - -c\n        - a.c\n");
	free(a);
	free(b);
}

TEST(emit_maps_lists)
{
	round_trip("b: 2\na: 1\n", "b: 2\na: 1\n");                      /* plan order, not sorted */
	round_trip("a: {}\nb: []\nc:\n", "a: {}\nb: []\nc: null\n");
	round_trip("- x\n- y\n", "- x\n- y\n");
	round_trip("- [a, b]\n- []\n- {}\n", "- - a\n  - b\n- []\n- {}\n");
	round_trip("{a: {b: {c: [1, {d: e}]}}}\n", "a:\n  b:\n    c:\n      - 1\n      - d: e\n");
}

TEST(emit_nested_lists_of_maps)
{
	round_trip("tasks:\n  - id: T-1\n    deps: [T-0]\n    sub:\n      - {a: 1, b: [x, y]}\n      - c: d\n  - id: T-2\n",
		   "tasks:\n  - id: T-1\n    deps:\n      - T-0\n    sub:\n      - a: 1\n        b:\n          - x\n"
		   "          - y\n      - c: d\n  - id: T-2\n");
	round_trip("- - - a\n    - b\n  - c\n- d: [[e]]\n", NULL);
}

TEST(emit_multiline)
{
	/* literal blocks: clip (final newline), strip (none), keep (several) */
	round_trip("a: \"one\\ntwo\\n\"\n", "a: |\n  one\n  two\n");
	round_trip("a: \"one\\ntwo\"\n", "a: |-\n  one\n  two\n");
	round_trip("a: \"one\\n\\n\"\n", "a: |+\n  one\n\n");
	round_trip("a: \"one\\n\\n  two\\n\"\n", "a: |\n  one\n\n    two\n");
	round_trip("- \"x\\ny\"\n", "- |-\n  x\n  y\n");
	round_trip("k:\n  - d: |\n      line 1\n      line 2\n", "k:\n  - d: |\n      line 1\n      line 2\n");
	/* not a literal block: leading space, trailing space on a line, leading newline */
	round_trip("a: \"  one\\ntwo\"\n", "a: \"  one\\ntwo\"\n");
	round_trip("a: \"one \\ntwo\"\n", "a: \"one \\ntwo\"\n");
	round_trip("a: \"\\none\"\n", "a: \"\\none\"\n");
	round_trip("a: \"\\tone\\ntwo\"\n", "a: \"\\tone\\ntwo\"\n");   /* libyaml rejects a block starting with a tab */
	/* the text itself survives */
	{
		struct ydoc *d = parse_s("a: |+\n  one\n\n\n");
		char *s = emit(d->root);
		struct ydoc *d2 = parse_s(s);

		CHECK_STR(ymap_get(d2->root, "a")->str, "one\n\n\n");
		ydoc_free(d);
		ydoc_free(d2);
		free(s);
	}
}

TEST(emit_quoting)
{
	round_trip("a: \"yes\"\n", "a: \"yes\"\n");
	round_trip("a: yes\n", "a: yes\n");         /* plain stays plain: the person wrote it so */
	round_trip("a: \"1.5\"\n", "a: \"1.5\"\n");
	round_trip("a: 1.5\n", "a: 1.5\n");
	round_trip("a: \": x\"\n", "a: \": x\"\n");
	round_trip("a: \"#a\"\n", "a: \"#a\"\n");
	round_trip("a: \"b #c\"\n", "a: \"b #c\"\n");
	round_trip("a: b#c\n", "a: b#c\n");
	round_trip("a: \"- x\"\n", "a: \"- x\"\n");
	round_trip("a: \"-\"\n", "a: \"-\"\n");
	round_trip("a: \"--x\"\n", "a: \"--x\"\n");
	round_trip("a: \"-x\"\n", "a: -x\n");
	round_trip("a: \"-1\"\n", "a: \"-1\"\n");
	round_trip("a: \"\"\n", "a: \"\"\n");
	round_trip("a: \"null\"\n", "a: \"null\"\n");
	round_trip("a: \"~\"\n", "a: \"~\"\n");
	round_trip("a: \"x:\"\n", "a: \"x:\"\n");
	round_trip("a: \" x\"\n", "a: \" x\"\n");
	round_trip("a: \"x \"\n", "a: \"x \"\n");
	round_trip("a: \"[x]\"\n", "a: \"[x]\"\n");
	round_trip("a: \"*x\"\n", "a: \"*x\"\n");
	round_trip("a: \"say \\\"hi\\\" \\\\ now\"\n", "a: say \"hi\" \\ now\n");
	round_trip("a: \"tab\\there\"\n", "a: \"tab\\there\"\n");
	round_trip("a: \"bell\\x07\"\n", "a: \"bell\\x07\"\n");
	round_trip("a: caf\xc3\xa9\n", "a: caf\xc3\xa9\n");
	round_trip("\"yes\": 1\n\"1\": 2\n\"a b\": 3\n\"\": 4\n", "\"yes\": 1\n\"1\": 2\na b: 3\n\"\": 4\n");
	/* yemit_scalar always quotes what a reader could take for something else */
	{
		struct buffer b = {0};

		yemit_scalar(&b, "yes");
		buf_putc(&b, ' ');
		yemit_scalar(&b, "T-001");
		buf_putc(&b, ' ');
		yemit_scalar(&b, "12");
		buf_putc(&b, ' ');
		yemit_scalar(&b, "");
		CHECK_STR(buf_str(&b), "\"yes\" T-001 \"12\" \"\"");
		buf_free(&b);
	}
}

/* b parses, and its key k holds want */
static void reads_k(struct buffer *b, const char *want)
{
	struct ydoc *d = parse_s(buf_str(b));

	CHECK(d != NULL);
	if (d) {
		CHECK_STR(ymap_get(d->root, "k")->str, want);
		ydoc_free(d);
	}
}

/* characters a YAML reader takes for line breaks, or refuses, come back as
 * they were written: escaped in double quotes, never plain or literal */
TEST(emit_unicode_breaks)
{
	static const char *const values[] = {
		"a\xc2\x85" "b", "a\xe2\x80\xa8" "b", "a\xe2\x80\xa9" "b", "x\xc2\x80", "x\xc2\x9f",
		"\xef\xbb\xbf" "x", "x\xef\xbf\xbe", "x\xef\xbf\xbf", "two\nlines\xe2\x80\xa8 here\n",
		"caf\xc3\xa9 \xe2\x80\xa6 \xc2\xa0ok",   /* é, an ellipsis, a no-break space: written as they are */
	};
	size_t i;

	for (i = 0; i < LEN(values); i++) {
		struct buffer b = {0};
		struct ynode *m = ynode_new(Y_MAP);

		ymap_put(m, "k", ynode_str(values[i], 0));
		yemit(&b, m, 0);
		reads_k(&b, values[i]);
		/* the plan files' writer (libyaml's emitter) too */
		buf_reset(&b);
		CHECK(yaml_write(&b, m) == 0);
		reads_k(&b, values[i]);
		buf_reset(&b);
		yemit_scalar(&b, values[i]);
		CHECK((i == LEN(values) - 1) == (strstr(buf_str(&b), "\\u") == NULL));
		buf_free(&b);
		ynode_free(m);
	}
}

TEST(emit_plan_files)
{
	/* the repository's own plans survive a round trip (run from the repo root) */
	static const char *const files[] = {"plans/masterplan.yaml", "plans/discovery.yaml", "plans/questions.yaml",
					    "rules/c.yaml", "rules/python.yaml", "tests/bad/base/plans/masterplan.yaml"};
	size_t i;

	for (i = 0; i < LEN(files); i++) {
		struct buffer b = {0};

		if (read_file(files[i], &b, YAML_MAX_FILE) < 0) {
			printf("# skipped %s: not run from the repository root\n", files[i]);
			continue;
		}
		round_trip(buf_str(&b), NULL);
		buf_free(&b);
	}
}

TEST(emit_indent)
{
	struct ydoc *d = parse_s("a: 1\nb: [x]\n");
	struct buffer b = {0};

	yemit(&b, d->root, 4);
	CHECK_STR(buf_str(&b), "    a: 1\n    b:\n      - x\n");
	buf_free(&b);
	yemit(&b, NULL, 0);
	CHECK(b.len == 0);
	buf_free(&b);
	ydoc_free(d);
}
