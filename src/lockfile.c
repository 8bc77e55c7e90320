/* lockfile.c: mpbuild.lock.  One field per line, targets sorted, so commits
 * that touch different targets merge cleanly. */
#include "lockfile.h"
#include "yaml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rec_cmp(const void *a, const void *b)
{
	return strcmp(((const struct record *)a)->target, ((const struct record *)b)->target);
}

static int rule_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rule_rec *)a)->name, ((const struct rule_rec *)b)->name);
}

static const char *scalar(const char *file, struct ynode *n, const char *what)
{
	if (!n || n->kind != Y_SCALAR) {
		yerror(file, n, "%s must be a string", what);
		return NULL;
	}
	return yis_null(n) ? NULL : n->str;
}

static void want_hash(const char *file, struct ynode *n, const char *s, char out[HASH_HEX])
{
	if (!s || !hash_valid(s)) {
		yerror(file, n, "expected a hash like sha256:<64 hex digits>");
		out[0] = '\0';
		return;
	}
	memcpy(out, s, 72 > strlen(s) + 1 ? strlen(s) + 1 : 72);
}

/* the lock's bytes, hashed into hash_out (may be NULL) and parsed; NULL
 * with *rc 1 when there is no lock, or -1 after a message */
static struct ydoc *load(const char *root, const char *file, char hash_out[HASH_HEX], int *rc)
{
	char *path = path_join(root, file);
	struct buffer b = {0};
	struct ydoc *d;

	*rc = -1;
	if (hash_out)
		hash_out[0] = '\0';
	if (read_file(path, &b, YAML_MAX_FILE) < 0) {
		int e = errno;

		free(path);
		buf_free(&b);
		if (e == ENOENT)
			*rc = 1;
		else
			error("cannot read %s: %s", file, strerror(e));
		return NULL;
	}
	free(path);
	if (hash_out)
		sha256_hex(b.data ? b.data : "", b.len, hash_out);
	d = ydoc_parse(file, b.data ? b.data : "", b.len);
	buf_free(&b);
	return d;
}

/* the top level's keys, version and approved_checks */
static void read_top(const char *file, struct ynode *r, struct lockfile *lk)
{
	struct ynode *v;
	size_t i;

	for (i = 0; i < r->n; i += 2) {
		const char *k = r->kids[i]->str;

		if (strcmp(k, "version") && strcmp(k, "targets") && strcmp(k, "approved_checks") && strcmp(k, "rules"))
			yerror(file, r->kids[i], "unknown key '%s' in mpbuild.lock", k);
	}
	v = ymap_get(r, "version");
	if (!v || v->kind != Y_SCALAR || strcmp(v->str, "1") != 0)
		yerror(file, v ? v : r, "unsupported lock version (this mpbuild reads version 1)");
	v = ymap_get(r, "approved_checks");
	if (v && !yis_null(v)) {
		const char *s = scalar(file, v, "approved_checks");

		if (s)
			lk->approved_checks = xstrdup(s);
	}
}

/* one output of rec: path k to its content hash, or to a mapping of hash,
 * interface and extractor.  The interface is a hint only (iface.h), but it
 * must look like a hash, as it goes into keys */
static void read_output(const char *file, struct record *rec, struct ynode *k, struct ynode *v)
{
	char h[HASH_HEX], ih[HASH_HEX] = "", by[HASH_HEX] = "";
	struct ynode *f, *b;

	if (v->kind != Y_MAP) {
		want_hash(file, v, scalar(file, v, "an output hash"), h);
		record_add_output(rec, k->str, h, NULL, NULL);
		return;
	}
	f = ymap_get(v, "hash");
	want_hash(file, f ? f : v, f ? scalar(file, f, "an output hash") : NULL, h);
	f = ymap_get(v, "interface");
	b = ymap_get(v, "extractor");
	if (!f != !b)
		yerror(file, f ? f : b, "the output %s of %s needs both an interface and its extractor", k->str,
		       rec->target);
	if (f && b) {
		want_hash(file, f, scalar(file, f, "an interface hash"), ih);
		want_hash(file, b, scalar(file, b, "an extractor"), by);
	}
	record_add_output(rec, k->str, h, *ih ? ih : NULL, *by ? by : NULL);
}

/* one target's entry e into rec */
static void read_target(const char *file, struct record *rec, struct ynode *e)
{
	struct ynode *v, *o;
	const char *s;
	size_t j;

	rec->generated = 1;
	if (e->kind != Y_MAP) {
		yerror(file, e, "target %s must be a mapping", rec->target);
		return;
	}
	s = scalar(file, ymap_get(e, "key"), "key");
	want_hash(file, ymap_get(e, "key") ? ymap_get(e, "key") : e, s, rec->key);
	s = ymap_get(e, "model") ? scalar(file, ymap_get(e, "model"), "model") : NULL;
	rec->model = xstrdup(s ? s : "");
	v = ymap_get(e, "generated");
	if (v && v->kind == Y_SCALAR)
		rec->generated = strcmp(v->str, "false") != 0;
	o = ymap_get(e, "outputs");
	if (!o || yis_null(o))
		return;
	if (o->kind != Y_MAP) {
		yerror(file, o, "outputs of %s must be a mapping of path to hash", rec->target);
		return;
	}
	for (j = 0; j < o->n; j += 2)
		read_output(file, rec, o->kids[j], o->kids[j + 1]);
}

/* one rule's entry e into lr: its hash and pinned examples */
static void read_rule(const char *file, struct rule_rec *lr, struct ynode *e)
{
	struct ynode *ex;
	size_t j;

	if (e->kind != Y_MAP) {
		yerror(file, e, "rule %s must be a mapping", lr->name);
		return;
	}
	/* an entry read without its hash would be written back as "hash: ",
	 * which no later read accepts: refuse it here, as for targets */
	want_hash(file, ymap_get(e, "hash") ? ymap_get(e, "hash") : e, scalar(file, ymap_get(e, "hash"), "hash"),
		  lr->hash);
	ex = ymap_get(e, "examples");
	if (!ex || yis_null(ex))
		return;
	if (ex->kind != Y_SEQ) {
		yerror(file, ex, "examples of rule %s must be a list of 'path: sha256:...' entries", lr->name);
		return;
	}
	/* each pin is a one-entry mapping, so the list keeps the layer's order */
	for (j = 0; j < ex->n; j++) {
		struct ynode *pin = ex->kids[j];
		char h[HASH_HEX];

		if (pin->kind != Y_MAP || pin->n != 2) {
			yerror(file, pin, "a pinned example of rule %s must be one 'path: sha256:...' entry", lr->name);
			continue;
		}
		want_hash(file, pin->kids[1], scalar(file, pin->kids[1], "a pinned example's hash"), h);
		rule_rec_add_pin(lr, pin->kids[0]->str, h);
	}
}

int lockfile_read(const char *root, struct lockfile *lk, char hash_out[HASH_HEX])
{
	static const char file[] = "mpbuild.lock";
	struct ydoc *d;
	struct ynode *r, *t;
	int before = yaml_errors, rc;
	size_t i;

	memset(lk, 0, sizeof(*lk));
	if (!(d = load(root, file, hash_out, &rc)))
		return rc;
	r = d->root;
	if (!r || r->kind != Y_MAP) {
		yerror(file, r, "the lock must be a mapping");
		goto out;
	}
	read_top(file, r, lk);
	t = ymap_get(r, "targets");
	if (t && !yis_null(t) && t->kind != Y_MAP) {
		yerror(file, t, "'targets' must be a mapping");
		goto out;
	}
	if (t && !yis_null(t)) {
		lk->targets = xcalloc(t->n / 2 + 1, sizeof(*lk->targets));
		for (i = 0; i < t->n; i += 2) {
			lk->targets[lk->ntargets].target = xstrdup(t->kids[i]->str);
			read_target(file, &lk->targets[lk->ntargets++], t->kids[i + 1]);
		}
		qsort(lk->targets, lk->ntargets, sizeof(*lk->targets), rec_cmp);
	}
	t = ymap_get(r, "rules");
	if (t && !yis_null(t) && t->kind != Y_MAP) {
		yerror(file, t, "'rules' must be a mapping");
		goto out;
	}
	if (t && !yis_null(t)) {
		lk->rules = xcalloc(t->n / 2 + 1, sizeof(*lk->rules));
		for (i = 0; i < t->n; i += 2) {
			lk->rules[lk->nrules].name = xstrdup(t->kids[i]->str);
			read_rule(file, &lk->rules[lk->nrules++], t->kids[i + 1]);
		}
		qsort(lk->rules, lk->nrules, sizeof(*lk->rules), rule_cmp);
	}
out:
	ydoc_free(d);
	if (yaml_errors != before) {
		lockfile_free(lk);
		return -1;
	}
	return 0;
}

void lockfile_render(const struct lockfile *lk, struct buffer *b)
{
	size_t i, j;

	buf_puts(b, "version: 1\ntargets:");
	buf_puts(b, lk->ntargets ? "\n" : " {}\n");
	for (i = 0; i < lk->ntargets; i++) {
		const struct record *r = &lk->targets[i];

		buf_puts(b, "  ");
		yemit_scalar(b, r->target);
		buf_printf(b, ":\n    key: %s\n    model: ", r->key);
		yemit_scalar(b, r->model && *r->model ? r->model : "none");
		buf_printf(b, "\n    generated: %s\n    outputs:", r->generated ? "true" : "false");
		buf_puts(b, r->n ? "\n" : " {}\n");
		for (j = 0; j < r->n; j++) {
			const char *iface, *by;

			buf_puts(b, "      ");
			yemit_scalar(b, r->paths[j]);
			if ((iface = record_iface(r, j, &by)))
				buf_printf(b, ":\n        hash: %s\n        interface: %s\n        extractor: %s\n",
					   r->hashes[j], iface, by);
			else
				buf_printf(b, ": %s\n", r->hashes[j]);
		}
	}
	buf_printf(b, "approved_checks: %s\n", lk->approved_checks ? lk->approved_checks : "null");
	buf_puts(b, "rules:");
	buf_puts(b, lk->nrules ? "\n" : " {}\n");
	for (i = 0; i < lk->nrules; i++) {
		const struct rule_rec *lr = &lk->rules[i];

		buf_puts(b, "  ");
		yemit_scalar(b, lr->name);
		buf_printf(b, ":\n    hash: %s\n    examples:", lr->hash);
		buf_puts(b, lr->n ? "\n" : " []\n");
		for (j = 0; j < lr->n; j++) {
			buf_puts(b, "      - ");
			yemit_scalar(b, lr->paths[j]);
			buf_printf(b, ": %s\n", lr->hashes[j]);
		}
	}
}

int lockfile_write(const char *root, const struct buffer *b, char hash_out[HASH_HEX])
{
	char *path = path_join(root, "mpbuild.lock");
	struct buffer old = {0};
	int rc = 0;

	sha256_hex(b->data ? b->data : "", b->len, hash_out);
	if (read_file(path, &old, YAML_MAX_FILE) == 0 && old.len == b->len &&
	    (b->len == 0 || memcmp(old.data, b->data, b->len) == 0)) {
		free(path);
		buf_free(&old);
		return 0;
	}
	buf_free(&old);
	if (write_file_atomic(path, b->data ? b->data : "", b->len) < 0)
		rc = error("cannot write %s:", path);
	free(path);
	return rc;
}

void lockfile_free(struct lockfile *lk)
{
	record_free_all(lk->targets, lk->ntargets);
	rule_rec_free_all(lk->rules, lk->nrules);
	free(lk->approved_checks);
	memset(lk, 0, sizeof(*lk));
}

int lockfile_sync(const char *root, struct state *st, struct lockfile *out, const char *hash)
{
	struct lockfile lk;
	char *seen = NULL, h[HASH_HEX];
	int rc = 0;

	if (hash) {
		snprintf(h, sizeof(h), "%s", hash);
	} else {
		char *path = path_join(root, "mpbuild.lock");
		int missing = sha256_file(path, h) < 0;

		free(path);
		if (missing)
			return 0;
	}
	if (st)
		seen = state_meta_get(st, "lock_hash");
	if (!seen || strcmp(seen, h) != 0) {
		rc = lockfile_read(root, out ? out : &lk, h);
		if (rc == 0 && !out) {
			state_records_replace(st, lk.targets, lk.ntargets);
			state_rules_replace(st, lk.rules, lk.nrules);
			state_meta_set(st, "lock_hash", h);
			state_meta_set(st, "approved_checks", lk.approved_checks ? lk.approved_checks : "");
			lockfile_free(&lk);
		}
		rc = rc == 0 ? 1 : rc < 0 ? -1 : 0;
	}
	free(seen);
	return rc;
}
