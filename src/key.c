/* key.c: keys and the stat cache.  The key is a hash of a manifest, not of
 * wire bytes (SPEC 10.1): cache_control placement, TTL and retry feedback stay
 * out, so they can change without rebuilding anything. */
#include "key.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* the manifest is written directly, byte for byte as jansson's json_dumps
 * (JSON_COMPACT | JSON_PRESERVE_ORDER) writes it, which is what earlier keys
 * were computed from: building it as jansson objects was a sixth of a no-op
 * build.  tests/unit/test_key.c checks the bytes against jansson */
static void jstr(struct buffer *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s;

	if (!s) {
		buf_puts(b, "null");
		return;
	}
	buf_putc(b, '"');
	for (; *p; p++) {
		switch (*p) {
		case '"':
			buf_puts(b, "\\\"");
			break;
		case '\\':
			buf_puts(b, "\\\\");
			break;
		case '\b':
			buf_puts(b, "\\b");
			break;
		case '\f':
			buf_puts(b, "\\f");
			break;
		case '\n':
			buf_puts(b, "\\n");
			break;
		case '\r':
			buf_puts(b, "\\r");
			break;
		case '\t':
			buf_puts(b, "\\t");
			break;
		default:
			if (*p < 0x20) {
				buf_puts(b, "\\u00");
				buf_putc(b, hex[*p >> 4]);
				buf_putc(b, hex[*p & 15]);
			} else
				buf_putc(b, (char)*p);
		}
	}
	buf_putc(b, '"');
}

static void jargv(struct buffer *b, const struct argv *a)
{
	size_t i;

	buf_putc(b, '[');
	for (i = 0; i < a->c; i++) {
		if (i)
			buf_putc(b, ',');
		jstr(b, a->v[i]);
	}
	buf_putc(b, ']');
}

/* the validate command that applies to each output of t, in output order */
static void jvalidate(struct buffer *b, const struct task *t)
{
	size_t i, j, nv = 0;

	buf_putc(b, '[');
	for (i = 0; t && i < t->noutputs; i++) {
		const char *out = t->outputs[i], *base = strrchr(out, '/');

		base = base ? base + 1 : out;
		for (j = 0; t->r && j < t->r->nvalidate; j++) {
			const struct validator *v = &t->r->validate[j];

			if (glob_match(v->glob, base) || glob_match(v->glob, out)) {
				buf_puts(b, nv++ ? ",[" : "[");
				jstr(b, out);
				buf_putc(b, ',');
				jargv(b, &v->argv);
				buf_putc(b, ']');
				break;
			}
		}
	}
	buf_putc(b, ']');
}

char *key_validate(const struct task *t)
{
	struct buffer b = {0};

	jvalidate(&b, t);
	return buf_take(&b);
}

char *key_manifest(const struct key_input *in)
{
	const struct task *t = in->task;
	struct buffer b = {0};
	size_t i;
	int k;

	buf_printf(&b, "{\"format\":%d,\"family\":", PROMPT_FORMAT_VERSION);
	jstr(&b, in->family);
	buf_puts(&b, ",\"model\":");
	jstr(&b, in->model);
	buf_puts(&b, ",\"effort\":");
	jstr(&b, in->effort);
	buf_printf(&b, ",\"max_tokens\":%d,\"schema\":", in->max_tokens);
	jstr(&b, in->schema_hash);
	buf_puts(&b, ",\"layers\":[");
	for (k = 0; k < 4; k++) {
		if (k)
			buf_putc(&b, ',');
		jstr(&b, in->layer[k]);
	}
	buf_puts(&b, "],\"deps\":[");
	for (i = 0; i < in->ndeps; i++) {
		buf_puts(&b, i ? ",[" : "[");
		jstr(&b, in->dep_target[i]);
		buf_putc(&b, ',');
		jstr(&b, in->dep_path[i]);
		buf_putc(&b, ',');
		jstr(&b, in->dep_hash[i]);
		buf_putc(&b, ']');
	}
	buf_puts(&b, "],\"validate\":");
	jvalidate(&b, t);
	buf_puts(&b, ",\"check\":[");
	for (i = 0; t && i < t->ncheck; i++) {
		if (i)
			buf_putc(&b, ',');
		jargv(&b, &t->check[i]);
	}
	buf_printf(&b, "],\"retries\":%d,\"escalate\":", in->retries);
	jstr(&b, in->escalate);
	buf_putc(&b, '}');
	return buf_take(&b);
}

void key_of(const char *manifest, char out[HASH_HEX])
{
	sha256_hex(manifest, strlen(manifest), out);
}

void fscache_open(struct fscache *c, struct state *st, const char *root)
{
	memset(c, 0, sizeof(*c));
	c->st = st;
	c->root = root;
	if (st)
		state_stat_load(st, &c->t);
}

static int64_t ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static int64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ns(&ts);
}

/* git's racy rule: a file modified within a second of when its entry was
 * written may have changed again in the same timestamp tick */
#define RACY_NS 1000000000LL

static struct stat_entry *entry_for(struct fscache *c, const char *rel, const struct stat *sb)
{
	struct stat_entry *e = htab_get(&c->t, rel);

	if (!e) {
		e = xcalloc(1, sizeof(*e));
		htab_put(&c->t, xstrdup(rel), e);
	}
	e->dev = (uint64_t)sb->st_dev;
	e->ino = (uint64_t)sb->st_ino;
	e->size = (uint64_t)sb->st_size;
	e->mtime_ns = ns(&sb->st_mtim);
	e->ctime_ns = ns(&sb->st_ctim);
	e->written_ns = wall_ns();
	e->dirty = 1;
	return e;
}

const char *fscache_hash(struct fscache *c, const char *rel)
{
	char *path = path_join(c->root, rel);
	struct stat sb;
	struct stat_entry *e;
	char h[HASH_HEX];

	/* a file is looked at once per run, as ninja stats each node once */
	e = htab_get(&c->t, rel);
	if (e && e->seen) {
		free(path);
		return e->hash;
	}
	if (stat(path, &sb) < 0) {
		free(path);
		return NULL;
	}
	if (!S_ISREG(sb.st_mode)) {
		free(path);
		errno = EISDIR;
		return NULL;
	}
	e = htab_get(&c->t, rel);
	if (e && e->dev == (uint64_t)sb.st_dev && e->ino == (uint64_t)sb.st_ino &&
	    e->size == (uint64_t)sb.st_size && e->mtime_ns == ns(&sb.st_mtim) && e->ctime_ns == ns(&sb.st_ctim) &&
	    e->mtime_ns < e->written_ns - RACY_NS && e->hash[0]) {
		free(path);
		e->seen = 1;
		return e->hash;
	}
	if (sha256_file(path, h) < 0) {
		free(path);
		return NULL;
	}
	free(path);
	c->hashed++;
	e = entry_for(c, rel, &sb);
	memcpy(e->hash, h, sizeof(h));
	e->seen = 1;
	return e->hash;
}

void fscache_forget(struct fscache *c, const char *rel)
{
	struct stat_entry *e = htab_get(&c->t, rel);

	if (e)
		e->seen = 0;
}

void fscache_note(struct fscache *c, const char *rel, const char *hash)
{
	char *path = path_join(c->root, rel);
	struct stat sb;

	if (stat(path, &sb) == 0) {
		struct stat_entry *e = entry_for(c, rel, &sb);

		snprintf(e->hash, sizeof(e->hash), "%s", hash);
		e->seen = 1;
	}
	free(path);
}

int fscache_flush(struct fscache *c)
{
	return c->st ? state_stat_flush(c->st, &c->t) : 0;
}

void fscache_close(struct fscache *c)
{
	state_stat_free(&c->t);
}
