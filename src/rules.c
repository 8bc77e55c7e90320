/* rules.c: rules/NAME.yaml, built-in and the project's (a project's rule
 * overrides a built-in one by name), and which rule an output falls under. */
#include "load.h"
#include "hash.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef PREFIX
#define PREFIX "/usr/local"
#endif

static char *exe_path;

void plan_set_exe(const char *p)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

	free(exe_path);
	if (n > 0) {
		buf[n] = '\0';
		exe_path = xstrdup(buf);
	} else {
		exe_path = xstrdup(p);
	}
}

const char *plan_builtin_rules(void)
{
	static char *dir;
	const char *env = getenv("MPBUILD_RULES");

	if (env && *env)
		return env;
	if (!dir) {
		if (exe_path) {
			char *copy = xstrdup(exe_path);
			char *d = dirname(copy);
			char *cand = xasprintf("%s/rules", d);    /* running from the source tree */

			if (path_exists(cand) && path_exists(d) && !strstr(d, "/bin")) {
				dir = cand;
			} else {
				free(cand);
				cand = xasprintf("%s/../share/mpbuild/rules", d);
				if (path_exists(cand))
					dir = cand;
				else
					free(cand);
			}
			free(copy);
		}
		if (!dir)
			dir = xstrdup(PREFIX "/share/mpbuild/rules");
	}
	return dir;
}

static int rule_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rule *)a)->name, ((const struct rule *)b)->name);
}

/* free what a rule allocated (its strings belong to its document) */
void rule_clear(struct rule *r)
{
	size_t k;

	free(r->match);
	free(r->examples);
	for (k = 0; k < r->nvalidate; k++)
		free(r->validate[k].argv.v);
	free(r->validate);
	for (k = 0; k < r->ninterface; k++)
		free(r->interface[k].argv.v);
	free(r->interface);
}

/* the rule's interface: mapping: glob -> whole | none | [command words] */
static void load_interface(struct ld *L, const struct ynode *r, struct rule *ru)
{
	static const char *const kinds[] = {"whole", "none"};
	struct ynode *v = ymap_get(r, "interface");
	size_t k;

	if (yis_null(v) || !ld_want(L, v, Y_MAP, "'interface'"))
		return;
	ru->interface = xcalloc(v->n / 2 + 1, sizeof(*ru->interface));
	for (k = 0; k < v->n; k += 2) {
		struct ynode *a = v->kids[k + 1];
		struct extractor *o = &ru->interface[ru->ninterface];
		const char *glob = v->kids[k]->str, *near;

		if (a->kind == Y_SCALAR && !yis_null(a) && strcmp(a->str, "whole") == 0) {
			o->kind = IFACE_WHOLE;
		} else if (a->kind == Y_SCALAR && !yis_null(a) && strcmp(a->str, "none") == 0) {
			o->kind = IFACE_NONE;
		} else if (a->kind == Y_SEQ && a->n > 0) {
			o->kind = IFACE_COMMAND;
			ld_get_words(L, a, &o->argv);
		} else if (a->kind == Y_SCALAR && !yis_null(a)) {
			near = closest(a->str, kinds, LEN(kinds));
			if (near)
				yerror(L->file, a, "the interface of '%s' must be whole, none or a command list, "
				       "not '%s' (did you mean '%s'?)", glob, a->str, near);
			else
				yerror(L->file, a, "the interface of '%s' must be whole, none or a command list, not '%s'",
				       glob, a->str);
			continue;
		} else {
			yerror(L->file, a, "the interface of '%s' must be whole, none or a command list, not %s", glob,
			       a->kind == Y_SEQ ? "an empty list" : ykind_name(a));
			continue;
		}
		o->glob = glob;
		ru->ninterface++;
	}
}

/* load every NAME.yaml in dir; a later directory overrides an earlier one by name */
static void load_rule_dir(struct plan *p, const char *dir, const char *shown_dir, int builtin)
{
	static const char *const keys[] = {"version", "name", "match", "system", "planning", "examples", "validate",
					   "interface"};
	struct dirent **ents = NULL;
	int n, i;

	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0)
		return;
	for (i = 0; i < n; i++) {
		const char *fn = ents[i]->d_name;
		size_t len = strlen(fn), k;
		char *path, *shown, *stem;
		struct buffer bytes = {0};
		struct ydoc *d;
		struct ynode *r, *v;
		struct rule ru = {0};
		struct ld L;

		if (len < 6 || strcmp(fn + len - 5, ".yaml") != 0 || fn[0] == '.')
			continue;
		path = path_join(dir, fn);
		shown = builtin ? xstrdup(path) : path_join(shown_dir, fn);
		stem = xstrndup(fn, len - 5);
		L.p = p;
		L.file = shown;
		if (read_file(path, &bytes, YAML_MAX_FILE) < 0) {
			yerror(shown, NULL, "cannot read: %s", strerror(errno));
			goto next;
		}
		d = ydoc_parse(shown, bytes.data ? bytes.data : "", bytes.len);
		if (!d)
			goto next;
		free(d->path);
		d->path = shown;
		shown = NULL;
		L.file = d->path;
		p->docs = xreallocarray(p->docs, p->ndocs + 1, sizeof(*p->docs));
		p->docs[p->ndocs++] = d;
		if (!(r = ld_doc_root(&L, d)))
			goto next;
		ld_check_keys(&L, r, "a rule", keys, LEN(keys));
		ru.doc = d;
		ru.path = d->path;
		ru.builtin = builtin;
		ru.name = ld_get_str(&L, r, "name", 1, "the rule");
		if (ru.name && strcmp(ru.name, stem) != 0) {
			yerror(L.file, ymap_get(r, "name"), "rule name '%s' does not match its file name '%s.yaml'",
			       ru.name, stem);
			goto next;
		}
		if (!ru.name)
			goto next;
		ru.match = ld_get_strs(&L, r, "match", &ru.nmatch, "the rule");
		ru.system = ld_get_str(&L, r, "system", 0, "the rule");
		if (!ru.system)
			ru.system = "";
		ru.examples = ld_get_strs(&L, r, "examples", &ru.nexamples, "the rule");
		v = ymap_get(r, "validate");
		if (!yis_null(v) && ld_want(&L, v, Y_MAP, "'validate'")) {
			ru.validate = xcalloc(v->n / 2 + 1, sizeof(*ru.validate));
			for (k = 0; k < v->n; k += 2) {
				struct ynode *a = v->kids[k + 1];
				struct validator *o = &ru.validate[ru.nvalidate];

				if (!ld_want(&L, a, Y_SEQ, "a validate command") || a->n == 0) {
					if (a->kind == Y_SEQ)
						yerror(L.file, a, "a validate command must not be empty");
					continue;
				}
				o->glob = v->kids[k]->str;
				ld_get_words(&L, a, &o->argv);
				ru.nvalidate++;
			}
		}
		load_interface(&L, r, &ru);
		ru.planning = ld_get_str(&L, r, "planning", 0, "the rule");
		if (!ru.planning)
			ru.planning = "";
		sha256_hex(bytes.data ? bytes.data : "", bytes.len, ru.hash);
		for (k = 0; k < p->nrules; k++)
			if (strcmp(p->rules[k].name, ru.name) == 0)
				break;
		if (k < p->nrules) {
			rule_clear(&p->rules[k]);
			p->rules[k] = ru;
		} else {
			p->rules = xreallocarray(p->rules, p->nrules + 1, sizeof(*p->rules));
			p->rules[p->nrules++] = ru;
		}
		memset(&ru, 0, sizeof(ru));
next:
		rule_clear(&ru);
		buf_free(&bytes);
		free(path);
		free(shown);
		free(stem);
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
}

void rules_load(struct plan *p)
{
	const char *bdir = plan_builtin_rules();
	char *pdir = path_join(p->root, "rules");
	char *rb = realpath(bdir, NULL), *rp = realpath(pdir, NULL);

	if (!rp || !rb || strcmp(rb, rp) != 0)
		load_rule_dir(p, bdir, bdir, 1);
	load_rule_dir(p, pdir, "rules", 0);
	if (p->nrules)
		qsort(p->rules, p->nrules, sizeof(*p->rules), rule_cmp);
	free(rb);
	free(rp);
	free(pdir);
}

const struct rule *plan_rule(const struct plan *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nrules; i++)
		if (strcmp(p->rules[i].name, name) == 0)
			return &p->rules[i];
	return NULL;
}

/* the rule for an output name: an exact file name (pyproject.toml) beats a
 * pattern (*.toml); among equals the first rule by name; generic last */
const struct rule *rule_for_output(const struct plan *p, const char *out)
{
	const char *base = strrchr(out, '/');
	size_t i, j;
	int pass;

	base = base ? base + 1 : out;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < p->nrules; i++) {
			const struct rule *r = &p->rules[i];

			if (strcmp(r->name, "generic") == 0)
				continue;
			for (j = 0; j < r->nmatch; j++) {
				int exact = !strpbrk(r->match[j], "*?[");

				if (exact != (pass == 0))
					continue;
				if (glob_match(r->match[j], base) || glob_match(r->match[j], out))
					return r;
			}
		}
	}
	return plan_rule(p, "generic");
}
