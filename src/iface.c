/* iface.c: taking a file's interface as its rule's interface: entry says,
 * and remembering what extractors printed.  An extractor is a command run
 * in a box like a validator; its identity is the hash of its words as the
 * rule writes them and of the built-in scripts they name, so that a new
 * version of a script is run again while a moved installation is not.  The
 * texts live in the content store; state.db says which hash this machine's
 * extractor made of which content, the only thing a prompt trusts. */
#include "iface.h"
#include "confine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void iface_open(struct iface *x, struct state *st, const char *root, const char *cachedir, int keep,
		const struct sandbox_limits *lim)
{
	memset(x, 0, sizeof(*x));
	x->st = st;
	x->root = root;
	x->cachedir = cachedir ? xstrdup(cachedir) : NULL;
	x->keep = keep && cachedir;
	x->lim = lim;
}

const struct extractor *iface_extractor(const struct rule *r, const char *path)
{
	const char *base = strrchr(path, '/');
	size_t i;

	base = base ? base + 1 : path;
	for (i = 0; r && i < r->ninterface; i++)
		if (glob_match(r->interface[i].glob, base) || glob_match(r->interface[i].glob, path))
			return &r->interface[i];
	return NULL;
}

/* the identity of command e: its words, NUL-terminated, each followed by
 * the content hash of the file it names when it starts with {rules} */
static const char *identity(struct iface *x, const struct extractor *e)
{
	char key[32], *id;
	struct sha256 h;
	size_t i;

	snprintf(key, sizeof(key), "%p", (const void *)e);
	if ((id = htab_get(&x->ids, key)))
		return id;
	sha256_init(&h);
	sha256_update(&h, "mpbuild-extractor 1", 20);
	for (i = 0; i < e->argv.c; i++) {
		const char *w = e->argv.v[i];
		char fh[HASH_HEX] = "";

		sha256_update(&h, w, strlen(w) + 1);
		if (strncmp(w, "{rules}", 7) == 0 && !strstr(w, "{file}")) {
			char *p = xasprintf("%s%s", plan_builtin_rules(), w + 7);

			if (sha256_file(p, fh) < 0)
				snprintf(fh, sizeof(fh), "missing");
			free(p);
			sha256_update(&h, fh, strlen(fh) + 1);
		}
	}
	id = xmalloc(HASH_HEX);
	sha256_final_hex(&h, id);
	htab_put(&x->ids, xstrdup(key), id);
	return id;
}

/* path's bytes into b, read inside the project, checked against hash; its
 * resolved path (caller frees), or NULL with a message and b freed */
static char *read_checked(struct iface *x, const char *path, const char *hash, struct buffer *b)
{
	struct buffer why = {0};
	char *real = confine_resolve(x->root, path, &why), *full;
	char got[HASH_HEX];

	if (!real) {
		error("%s: %s", path, buf_str(&why));
		buf_free(&why);
		return NULL;
	}
	buf_free(&why);
	full = path_join(x->root, real);
	if (read_file(full, b, SIZE_MAX) < 0) {
		error("cannot read %s:", path);
		buf_free(b);
		free(full);
		free(real);
		return NULL;
	}
	free(full);
	sha256_hex(b->data ? b->data : "", b->len, got);
	if (strcmp(got, hash) != 0) {
		error("%s changed while its interface was taken (%s, now %s)", path, hash, got);
		buf_free(b);
		free(real);
		return NULL;
	}
	return real;
}

/* why rc is a failure, for the warning */
static char *failure(const struct extractor *e, int rc, const struct buffer *err)
{
	const char *tail;

	if (rc == RUN_NOTFOUND)
		return xasprintf("%s is not installed", e->argv.v[0]);
	if (rc == RUN_TIMEOUT)
		return xasprintf("timed out after %d s", IFACE_TIMEOUT);
	if (rc == RUN_ERROR)
		return xasprintf("cannot run %s", e->argv.v[0]);
	tail = check_tail(err->data ? err->data : "", 1);
	return xasprintf("exit status %d%s%.*s", rc, *tail ? ": " : "", (int)strcspn(tail, "\n"), tail);
}

/* run command e on path (bytes in file, resolved path real) into text; 0,
 * or -1 after warning (once per run for this file and extractor) */
static int extract(struct iface *x, const struct rule *r, const struct extractor *e, const char *path,
		   const char *real, const struct buffer *file, struct buffer *text)
{
	struct buffer err = {0};
	char **argv;
	char *why;
	int rc;

	if (!x->box && !(x->box = box_open(x->root, x->lim)))
		return -1;
	if (box_put(x->box, real, file->data ? file->data : "", file->len) < 0) {
		error("cannot put %s in the box:", path);
		return -1;
	}
	argv = check_argv(&e->argv, real);
	rc = box_run_stdout(x->box, argv, IFACE_TIMEOUT, text, &err);
	check_argv_free(argv);
	x->runs++;
	if (rc == 0) {
		buf_free(&err);
		return 0;
	}
	why = failure(e, rc, &err);
	warn("rule %s: cannot take the interface of %s (%s); its dependents see the whole file", r->name, path,
	     why);
	free(why);
	buf_free(&err);
	return -1;
}

/* m's text from the store, checked against m's hash: 0, or -1 when the
 * store does not have it (or not intact) */
static int fetch(struct iface *x, struct iface_memo *m)
{
	struct buffer b = {0};
	char hex[65], *path;
	int rc;

	if (!x->cachedir || hash_digits(m->hash, hex) < 0)
		return -1;
	path = store_path(x->cachedir, "cas", hex);
	rc = store_load_blob(path, hex, &b);
	free(path);
	if (rc != 0) {
		buf_free(&b);
		return -1;
	}
	m->len = b.len;
	m->text = b.data ? buf_take(&b) : xstrdup("");
	x->fetched++;
	return 0;
}

/* len bytes of text into the store, when x may keep them; a store that will
 * not open costs only a later extraction */
static void keep_text(struct iface *x, const char *text, size_t len)
{
	char h[HASH_HEX];

	if (!x->keep)
		return;
	if (!x->store && !(x->store = store_open(x->cachedir, NULL, 0))) {
		x->keep = 0;
		return;
	}
	store_put_blob(x->store, text, len, h);
}

/* run e on a's file and make m what it printed, checked, its text at hand and
 * kept (the store, state.db); when the command fails m stands for the whole
 * file.  -1 when the file cannot be read */
static int take(struct iface *x, struct iface_ask *a, const struct extractor *e, const char *id,
		struct iface_memo *m)
{
	struct buffer file = {0}, got = {0};
	char *real = read_checked(x, a->path, a->hash, &file);

	if (!real)
		return -1;
	if (extract(x, a->r, e, a->path, real, &file, &got) < 0) {
		m->failed = 1;
		buf_free(&got);
	} else {
		sha256_hex(got.data ? got.data : "", got.len, m->hash);
		m->checked = 1;
		free(m->text);
		m->len = got.len;
		m->text = got.data ? buf_take(&got) : xstrdup("");
		keep_text(x, m->text, m->len);
		if (x->st)
			state_iface_put(x->st, a->hash, id, m->hash);
	}
	free(real);
	buf_free(&file);
	return 0;
}

/* the memo of (a->hash, id), made on first ask from what state.db remembers
 * or else from a's hint (m->hash stays "" when neither knows) */
static struct iface_memo *memo_of(struct iface *x, const struct iface_ask *a, const char *id)
{
	char *key = xasprintf("%s %s", a->hash, id);
	struct iface_memo *m = htab_get(&x->memo, key);

	if (m) {
		free(key);
		return m;
	}
	m = xcalloc(1, sizeof(*m));
	htab_put(&x->memo, key, m);
	if (x->st && state_iface_get(x->st, a->hash, id, m->hash) == 1)
		m->checked = 1;
	else if (a->hint && a->hint_by && strcmp(a->hint_by, id) == 0 && hash_valid(a->hint))
		snprintf(m->hash, sizeof(m->hash), "%s", a->hint);
	return m;
}

/* the file is its own interface: its hash is the content hash, and it is
 * read only when its bytes are wanted */
static int whole(struct iface *x, struct iface_ask *a, struct buffer *text)
{
	struct buffer file = {0};
	char *real;

	snprintf(a->iface, sizeof(a->iface), "%s", a->hash);
	if (!text)
		return 0;
	if (!(real = read_checked(x, a->path, a->hash, &file)))
		return -1;
	free(real);
	buf_add(text, file.data, file.len);
	buf_free(&file);
	return 0;
}

int iface_get(struct iface *x, struct iface_ask *a, int shown, struct buffer *text)
{
	const struct extractor *e = iface_extractor(a->r, a->path);
	struct iface_memo *m;
	const char *id;

	a->by = NULL;
	if (e && e->kind == IFACE_NONE) {
		sha256_hex("", 0, a->iface);
		return 0;
	}
	if (!e || e->kind == IFACE_WHOLE)
		return whole(x, a, text);
	id = identity(x, e);
	/* once per (content, extractor) and run, even when state.db keeps
	 * nothing (a dry run): every dependent of a file asks for it */
	m = memo_of(x, a, id);
	shown |= text != NULL;
	/* a prompt shows only what this machine made, read back or made again */
	if (!m->failed && shown && m->checked && !m->text)
		fetch(x, m);
	if (!m->failed && (!m->hash[0] || (shown && (!m->checked || !m->text))) && take(x, a, e, id, m) < 0)
		return -1;
	if (m->failed)
		return whole(x, a, text);
	snprintf(a->iface, sizeof(a->iface), "%s", m->hash);
	if (m->checked)
		a->by = id;
	if (text)
		buf_add(text, m->text, m->len);
	return 0;
}

static void memo_free(void *v)
{
	struct iface_memo *m = v;

	free(m->text);
	free(m);
}

void iface_close(struct iface *x)
{
	box_close(x->box);
	store_close(x->store);
	free(x->cachedir);
	htab_free_owned(&x->ids, free);
	htab_free_owned(&x->memo, memo_free);
	memset(x, 0, sizeof(*x));
}
