/* load.c: the helpers every loader of a plan file uses: typed values of a
 * mapping with file:line:col errors, unknown keys with a close match, the
 * version line, and the documents a plan owns. */
#include "load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* report keys of map not in allowed, with a close match */
void ld_check_keys(struct ld *L, const struct ynode *m, const char *what, const char *const *allowed, size_t n)
{
	size_t i, j;

	for (i = 0; i < m->n; i += 2) {
		const char *k = m->kids[i]->str, *near;

		for (j = 0; j < n; j++)
			if (strcmp(k, allowed[j]) == 0)
				break;
		if (j < n)
			continue;
		near = closest(k, allowed, n);
		if (near)
			yerror(L->file, m->kids[i], "unknown key '%s' in %s (did you mean '%s'?)", k, what, near);
		else
			yerror(L->file, m->kids[i], "unknown key '%s' in %s", k, what);
	}
}

int ld_want(struct ld *L, const struct ynode *n, enum ykind k, const char *what)
{
	static const char *const names[] = {"a string", "a mapping", "a list"};

	if (n && !yis_null(n) && n->kind == k)
		return 1;
	if (k == Y_SCALAR && n && n->kind == Y_SCALAR)
		return 1;
	yerror(L->file, n, "%s must be %s, not %s", what, names[k], ykind_name(n));
	return 0;
}

/* a string value; NULL when absent or null (an error if required) */
const char *ld_get_str(struct ld *L, const struct ynode *m, const char *key, int required, const char *what)
{
	struct ynode *v = ymap_get(m, key);

	if (yis_null(v)) {
		if (required)
			yerror(L->file, v ? v : m, "%s has no '%s'", what, key);
		return NULL;
	}
	if (v->kind != Y_SCALAR) {
		yerror(L->file, v, "'%s' of %s must be a string, not %s", key, what, ykind_name(v));
		return NULL;
	}
	return v->str;
}

/* a list of strings under key; *n set; NULL for an absent or empty list */
const char **ld_get_strs(struct ld *L, const struct ynode *m, const char *key, size_t *n, const char *what)
{
	struct ynode *v = ymap_get(m, key);
	const char **out;
	size_t i;

	*n = 0;
	if (yis_null(v))
		return NULL;
	if (v->kind != Y_SEQ) {
		yerror(L->file, v, "'%s' of %s must be a list, not %s", key, what, ykind_name(v));
		return NULL;
	}
	out = xcalloc(v->n + 1, sizeof(*out));
	for (i = 0; i < v->n; i++) {
		if (v->kids[i]->kind != Y_SCALAR || yis_null(v->kids[i])) {
			yerror(L->file, v->kids[i], "items of '%s' in %s must be strings, not %s", key, what,
			       ykind_name(v->kids[i]));
			free(out);
			*n = 0;         /* callers index the list up to *n: no count without a list */
			return NULL;
		}
		out[(*n)++] = v->kids[i]->str;
	}
	return out;
}

/* the words of the command list seq into out (its strings stay the
 * document's); a word that is not a string is an error and ends the list */
void ld_get_words(struct ld *L, const struct ynode *seq, struct argv *out)
{
	size_t j;

	out->v = xcalloc(seq->n + 1, sizeof(char *));
	out->c = 0;
	for (j = 0; j < seq->n; j++) {
		if (seq->kids[j]->kind != Y_SCALAR || yis_null(seq->kids[j])) {
			yerror(L->file, seq->kids[j], "command words must be strings, not %s", ykind_name(seq->kids[j]));
			break;
		}
		out->v[out->c++] = seq->kids[j]->str;
	}
}

int ld_get_int(struct ld *L, const struct ynode *m, const char *key, int def, int min, int max)
{
	struct ynode *v = ymap_get(m, key);
	char *end;
	long x;

	if (yis_null(v))
		return def;
	if (v->kind == Y_SCALAR) {
		errno = 0;
		x = strtol(v->str, &end, 10);
		if (!errno && *end == '\0' && end != v->str && x >= min && x <= max)
			return (int)x;
	}
	yerror(L->file, v, "'%s' must be a whole number from %d to %d", key, min, max);
	return def;
}

double ld_get_num(struct ld *L, const struct ynode *m, const char *key, double def)
{
	struct ynode *v = ymap_get(m, key);
	char *end;
	double x;

	if (yis_null(v))
		return def;
	if (v->kind == Y_SCALAR) {
		x = strtod(v->str, &end);
		if (*end == '\0' && end != v->str && x >= 0)
			return x;
	}
	yerror(L->file, v, "'%s' must be a number of at least 0", key);
	return def;
}

const char *ld_get_enum(struct ld *L, const struct ynode *m, const char *key, const char *def,
			    const char *const *vals, size_t n)
{
	const char *s = ld_get_str(L, m, key, 0, "mpbuild.yaml");
	size_t i;
	struct buffer b = {0};
	const char *near;

	if (!s)
		return def;
	for (i = 0; i < n; i++)
		if (strcmp(s, vals[i]) == 0)
			return vals[i];
	for (i = 0; i < n; i++)
		buf_printf(&b, "%s%s", i ? " | " : "", vals[i]);
	near = closest(s, vals, n);
	if (near)
		yerror(L->file, ymap_get(m, key), "'%s' must be one of %s, not '%s' (did you mean '%s'?)", key,
		       buf_str(&b), s, near);
	else
		yerror(L->file, ymap_get(m, key), "'%s' must be one of %s, not '%s'", key, buf_str(&b), s);
	buf_free(&b);
	return def;
}

void ld_check_version(struct ld *L, const struct ynode *root)
{
	struct ynode *v = ymap_get(root, "version");

	if (!v)
		yerror(L->file, root, "missing 'version: 1'");
	else if (v->kind != Y_SCALAR || strcmp(v->str, "1") != 0)
		yerror(L->file, v, "unsupported version '%s' (this mpbuild reads version 1)",
		       v->kind == Y_SCALAR ? v->str : ykind_name(v));
}

/* load one file; NULL if missing (*missing set) or broken; the plan owns the doc */
struct ydoc *ld_load_doc(struct plan *p, const char *rel, int *missing)
{
	char *path = path_join(p->root, rel);
	int candidate = p->candidate && strcmp(rel, "plans/masterplan.yaml") == 0;
	struct ydoc *d = candidate ? ydoc_parse(rel, p->candidate, p->candidate_len) : ydoc_load(path, rel);
	int e = candidate ? 0 : errno;

	free(path);
	*missing = !d && e == ENOENT;
	if (!d)
		return NULL;
	p->docs = xreallocarray(p->docs, p->ndocs + 1, sizeof(*p->docs));
	p->docs[p->ndocs++] = d;
	return d;
}

/* the root mapping of a loaded document, or NULL after an error */
struct ynode *ld_doc_root(struct ld *L, struct ydoc *d)
{
	if (!d->root || yis_null(d->root)) {
		yerror(L->file, NULL, "file is empty (expected a mapping starting with 'version: 1')");
		return NULL;
	}
	if (d->root->kind != Y_MAP) {
		yerror(L->file, d->root, "the file must be a mapping, not %s", ykind_name(d->root));
		return NULL;
	}
	ld_check_version(L, d->root);
	return d->root;
}
