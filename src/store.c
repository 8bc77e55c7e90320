/* store.c: the content store under cache/ (SPEC 4, 10.14).  cas/XX/HEX holds
 * a blob zstd-compressed, named by the SHA-256 of its uncompressed bytes and
 * checked against that name on every read; ac/XX/KEYHEX holds an action as
 * JSON.  Every file is written whole (temporary file, fsync, rename), so a
 * crash leaves an entry absent, never half there.  The remote cache speaks
 * Bazel's HTTP layout (GET/PUT URL/ac/KEYHEX and URL/cas/HEX with raw bytes):
 * nothing from it is used before it verifies, and the first failure turns it
 * off for the rest of the run with one warning.  The cache verb that walks
 * the entries (stats, gc, verify, export, import) is cache.c. */
#include "store.h"
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define BLOB_MAX ((size_t)1 << 30)      /* largest blob read back, uncompressed */
#define AC_MAX ((size_t)16 << 20)       /* largest action entry */
#define OUTPUTS_MAX 100000              /* most outputs one action may list */
#define REMOTE_STALL 60                 /* seconds a remote transfer may stall */
#define CHUNK ((size_t)128 << 10)       /* bytes decompressed at a time */

struct store {
	char *dir;              /* the cache directory */
	char *remote;           /* base URL without a trailing '/'; NULL when none */
	char *shown;            /* remote without user:password@, for messages */
	char *auth;             /* "Authorization: Bearer ..." or NULL; never printed */
	int level;              /* zstd level of new blobs */
	pthread_mutex_t mu;     /* guards what follows and serialises local writes */
	int remote_down;        /* unreachable or failing: local only from now on */
	int uploads_off;        /* uploads refused: read only from now on */
	int warned;             /* the run's one warning about the remote was printed */
	struct htab sent;       /* blob hex -> non-NULL: uploaded this run (keys owned) */
	long hits_local, hits_remote, misses, uploads;
	double saved;           /* recorded cost of the actions found */
};

/* dir/kind/XX/HEX */
char *store_path(const char *dir, const char *kind, const char *hex)
{
	return xasprintf("%s/%s/%.2s/%s", dir, kind, hex, hex);
}

/* mark an entry used: gc removes the least recently used first */
static void touch(const char *path)
{
	utimensat(AT_FDCWD, path, NULL, 0);
}

/* write data to path atomically (crash point `point` before the rename); one
 * writer at a time, since the temporary name is per process and two threads
 * may store the same blob */
static int write_locked(struct store *s, const char *path, const void *data, size_t len, const char *point)
{
	int rc;

	pthread_mutex_lock(&s->mu);
	rc = write_file_atomic_cp(path, data, len, point);
	pthread_mutex_unlock(&s->mu);
	if (rc < 0)
		return error("cannot write %s:", path);
	return 0;
}

/* append the decompressed contents of z to out; -1 (out unchanged) when z is
 * not complete zstd or decompresses to more than BLOB_MAX bytes */
static int decompress(const void *z, size_t zlen, struct buffer *out)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	ZSTD_inBuffer in = {z, zlen, 0};
	char *chunk = xmalloc(CHUNK);
	size_t start = out->len, ret = 1;
	int rc = 0;

	if (!d)
		fatal("zstd: cannot create a decompression context");
	for (;;) {
		ZSTD_outBuffer o = {chunk, CHUNK, 0};

		ret = ZSTD_decompressStream(d, &o, &in);
		if (ZSTD_isError(ret) || out->len - start + o.pos > BLOB_MAX) {
			rc = -1;
			break;
		}
		buf_add(out, chunk, o.pos);
		if (in.pos == in.size && o.pos < o.size)
			break;
	}
	if (rc == 0 && ret != 0)
		rc = -1;        /* the last frame is cut off */
	if (rc < 0) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
	}
	ZSTD_freeDCtx(d);
	free(chunk);
	return rc;
}

/* the blob at path appended to out, checked against hex: 0 when good, 1 when
 * absent, 2 when corrupt, -1 when it cannot be read (after a message) */
int store_load_blob(const char *path, const char *hex, struct buffer *out)
{
	struct buffer z = {0};
	char got[HASH_HEX];
	size_t start = out->len;
	int rc = 0;

	if (read_file(path, &z, BLOB_MAX) < 0) {
		if (errno == ENOENT)
			rc = 1;
		else if (errno == EFBIG)
			rc = 2;
		else
			rc = error("cannot read %s:", path);
		goto out;
	}
	if (decompress(z.data ? z.data : "", z.len, out) < 0) {
		rc = 2;
		goto out;
	}
	sha256_hex(out->data ? out->data + start : "", out->len - start, got);
	if (strcmp(got + 7, hex) != 0) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
		rc = 2;
	}
out:
	buf_free(&z);
	return rc;
}

/* store len bytes whose digest is hex, unless already there */
static int blob_write(struct store *s, const char *hex, const void *data, size_t len)
{
	char *path = store_path(s->dir, "cas", hex), *z;
	size_t bound = ZSTD_compressBound(len), n;
	int rc;

	if (path_exists(path)) {
		touch(path);
		free(path);
		return 0;
	}
	z = xmalloc(bound ? bound : 1);
	n = ZSTD_compress(z, bound, data, len, s->level);
	if (ZSTD_isError(n))
		rc = error("%s: zstd: %s", path, ZSTD_getErrorName(n));
	else if ((rc = write_locked(s, path, z, n, "blob-tmp")) == 0)
		crashpoint("blob-stored");
	free(z);
	free(path);
	return rc;
}

/* ---- actions as JSON ---- */

/* the JSON text of a; malloc'd, NULL when a holds what JSON cannot (bad UTF-8) */
char *action_to_json(const struct action *a)
{
	json_t *o = json_object(), *outs = json_array(), *u = json_object();
	char *text;
	size_t i;
	int bad = 0;

	for (i = 0; i < a->n; i++) {
		json_t *f = json_object(), *p = json_string(a->paths[i]);

		bad |= !p;
		json_object_set_new(f, "path", p ? p : json_null());
		json_object_set_new(f, "hash", json_string(a->hashes[i]));
		json_array_append_new(outs, f);
	}
	json_object_set_new(u, "input", json_integer(a->usage.input));
	json_object_set_new(u, "cache_write_5m", json_integer(a->usage.cache_write_5m));
	json_object_set_new(u, "cache_write_1h", json_integer(a->usage.cache_write_1h));
	json_object_set_new(u, "cache_read", json_integer(a->usage.cache_read));
	json_object_set_new(u, "output", json_integer(a->usage.output));
	bad |= json_object_set_new(o, "target", json_string(a->target ? a->target : "")) < 0;
	json_object_set_new(o, "outputs", outs);
	json_object_set_new(o, "answer", a->answer[0] ? json_string(a->answer) : json_null());
	bad |= json_object_set_new(o, "model", a->model ? json_string(a->model) : json_null()) < 0;
	json_object_set_new(o, "usage", u);
	json_object_set_new(o, "cost", a->cost >= 0 ? json_real(a->cost) : json_null());
	json_object_set_new(o, "time", json_integer(a->time));
	text = bad ? NULL : json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

/* a token count from usage object u; -1 when present and not a count */
static int usage_field(json_t *u, const char *name, long *out)
{
	json_t *v = json_object_get(u, name);

	*out = 0;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > (json_int_t)1 << 48)
		return -1;
	*out = (long)json_integer_value(v);
	return 0;
}

/* parse an action entry into a (zeroed first); -1 with *why set when it is
 * not one; what came from outside is checked, never trusted */
int action_from_json(const char *data, size_t len, struct action *a, const char **why)
{
	json_error_t err;
	json_t *o = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err), *outs, *v, *u;
	size_t i;

	memset(a, 0, sizeof(*a));
	a->cost = -1;
	if (!json_is_object(o)) {
		*why = "not a JSON object";
		goto bad;
	}
	v = json_object_get(o, "target");
	if (v && !json_is_string(v)) {
		*why = "target is not a string";
		goto bad;
	}
	a->target = xstrdup(v ? json_string_value(v) : "");
	outs = json_object_get(o, "outputs");
	if (!json_is_array(outs) || json_array_size(outs) > OUTPUTS_MAX) {
		*why = "outputs is not a list";
		goto bad;
	}
	a->n = json_array_size(outs);
	a->paths = xcalloc(a->n ? a->n : 1, sizeof(*a->paths));
	a->hashes = xcalloc(a->n ? a->n : 1, sizeof(*a->hashes));
	for (i = 0; i < a->n; i++) {
		json_t *f = json_array_get(outs, i);
		const char *p = json_string_value(json_object_get(f, "path"));
		const char *h = json_string_value(json_object_get(f, "hash"));

		if (!p || !*p || !h || !hash_valid(h)) {
			*why = "an output lacks a path or a valid hash";
			goto bad;
		}
		a->paths[i] = xstrdup(p);
		snprintf(a->hashes[i], HASH_HEX, "%s", h);
	}
	v = json_object_get(o, "answer");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v) || !hash_valid(json_string_value(v))) {
			*why = "answer is not a valid hash";
			goto bad;
		}
		snprintf(a->answer, HASH_HEX, "%s", json_string_value(v));
	}
	v = json_object_get(o, "model");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v)) {
			*why = "model is not a string";
			goto bad;
		}
		a->model = xstrdup(json_string_value(v));
	}
	u = json_object_get(o, "usage");
	if (u && !json_is_object(u)) {
		*why = "usage is not an object";
		goto bad;
	}
	if (usage_field(u, "input", &a->usage.input) < 0 || usage_field(u, "cache_write_5m", &a->usage.cache_write_5m) < 0 ||
	    usage_field(u, "cache_write_1h", &a->usage.cache_write_1h) < 0 ||
	    usage_field(u, "cache_read", &a->usage.cache_read) < 0 || usage_field(u, "output", &a->usage.output) < 0) {
		*why = "usage holds something other than token counts";
		goto bad;
	}
	v = json_object_get(o, "cost");
	if (v && !json_is_null(v)) {
		if (!json_is_number(v) || json_number_value(v) < 0) {
			*why = "cost is not a number";
			goto bad;
		}
		a->cost = json_number_value(v);
	}
	v = json_object_get(o, "time");
	if (v && !json_is_integer(v)) {
		*why = "time is not an integer";
		goto bad;
	}
	a->time = v ? (long long)json_integer_value(v) : 0;
	json_decref(o);
	return 0;
bad:
	json_decref(o);
	action_clear(a);
	return -1;
}

void action_clear(struct action *a)
{
	size_t i;

	for (i = 0; a->paths && i < a->n; i++)
		free(a->paths[i]);
	free(a->paths);
	free(a->hashes);
	free(a->target);
	free(a->model);
	memset(a, 0, sizeof(*a));
}

/* the hex digits of blob i of a: outputs first, then the answer; NULL past the end */
const char *action_blob(const struct action *a, size_t i)
{
	if (i < a->n)
		return a->hashes[i] + 7;
	if (i == a->n && a->answer[0])
		return a->answer + 7;
	return NULL;
}

/* ---- the remote cache ---- */

/* stop using the remote (only for uploads when refused_put: a cache that
 * lets this client read but not write is a normal setup), with one warning
 * per run whatever happens next */
static void remote_fail(struct store *s, int refused_put, const char *fmt, ...) PRINTF(3, 4);
static void remote_fail(struct store *s, int refused_put, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int first;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&s->mu);
	first = !s->warned;
	s->warned = 1;
	s->uploads_off = 1;
	if (!refused_put)
		s->remote_down = 1;
	pthread_mutex_unlock(&s->mu);
	if (first)
		warn("remote cache %s: %s; %s", s->shown, msg,
		     refused_put ? "not uploading for the rest of this run" : "going on with the local cache only");
}

/* 1 when the remote is configured and may be used for reading (for_put 0)
 * or writing (for_put 1) */
static int remote_up(struct store *s, int for_put)
{
	int up;

	if (!s->remote)
		return 0;
	pthread_mutex_lock(&s->mu);
	up = !s->remote_down && !(for_put && s->uploads_off);
	pthread_mutex_unlock(&s->mu);
	return up;
}

/* GET remote kind/hex into out: 0 when it arrived, 1 when the remote does not
 * have it (or there is none), -1 on a failure (reported once) or when the
 * remote was turned off by one */
static int remote_get(struct store *s, const char *kind, const char *hex, struct buffer *out)
{
	const char *hdrs[] = {s->auth, NULL};
	struct http_response res = {0};
	char *url;
	int rc;

	if (!s->remote)
		return 1;
	if (!remote_up(s, 0))
		return -1;
	url = xasprintf("%s/%s/%s", s->remote, kind, hex);
	if (http_get(url, s->auth ? hdrs : NULL, REMOTE_STALL, &res) < 0) {
		remote_fail(s, 0, "GET %s/%s: %s", kind, hex, res.error);
		rc = -1;
	} else if (res.status == 200) {
		buf_add(out, res.body.data ? res.body.data : "", res.body.len);
		rc = 0;
	} else if (res.status == 404) {
		rc = 1;
	} else {
		remote_fail(s, 0, "GET %s/%s: HTTP %ld", kind, hex, res.status);
		rc = -1;
	}
	http_response_free(&res);
	free(url);
	return rc;
}

/* PUT data to remote kind/hex; -1 on a failure (reported once) */
static int remote_put(struct store *s, const char *kind, const char *hex, const void *data, size_t len)
{
	const char *hdrs[] = {!strcmp(kind, "ac") ? "Content-Type: application/json" : "Content-Type: application/octet-stream",
			      s->auth, NULL};
	struct http_response res = {0};
	char *url;
	int rc = 0;

	if (!remote_up(s, 1))
		return -1;
	url = xasprintf("%s/%s/%s", s->remote, kind, hex);
	if (http_put(url, hdrs, data, len, REMOTE_STALL, &res) < 0) {
		remote_fail(s, 0, "PUT %s/%s: %s", kind, hex, res.error);
		rc = -1;
	} else if (res.status != 200 && res.status != 201 && res.status != 204) {
		remote_fail(s, res.status < 500, "PUT %s/%s: HTTP %ld", kind, hex, res.status);
		rc = -1;
	}
	http_response_free(&res);
	free(url);
	return rc;
}

/* download blob hex, verify it and store it locally (and append it to out
 * when out is not NULL): 0 when done, 1 when the remote lacks it, -1 when it
 * failed or was rejected (after a warning) */
static int blob_fetch(struct store *s, const char *hex, struct buffer *out)
{
	struct buffer b = {0};
	char got[HASH_HEX];
	int rc = remote_get(s, "cas", hex, &b);

	if (rc == 0) {
		sha256_hex(b.data ? b.data : "", b.len, got);
		if (strcmp(got + 7, hex) != 0) {
			warn("remote cache %s: cas/%s: content does not match its hash; rejected", s->shown, hex);
			rc = -1;
		} else if (blob_write(s, hex, b.data ? b.data : "", b.len) < 0) {
			rc = -1;
		} else if (out) {
			buf_add(out, b.data ? b.data : "", b.len);
		}
	}
	buf_free(&b);
	return rc;
}

/* make every blob of a present locally, fetching what is missing: 0 when all
 * are there; else blob_fetch's code, and *missing names the first missing one */
static int blobs_ready(struct store *s, const struct action *a, const char **missing)
{
	const char *hex;
	size_t i;

	for (i = 0; (hex = action_blob(a, i)); i++) {
		char *path = store_path(s->dir, "cas", hex);
		int rc = path_exists(path) ? 0 : blob_fetch(s, hex, NULL);

		free(path);
		if (rc != 0) {
			*missing = hex;
			return rc;
		}
	}
	return 0;
}

/* the remote's action for hex, its blobs fetched and all of it stored locally
 * at path: 0 when found and usable, else 1 */
static int action_fetch(struct store *s, const char *hex, const char *path, struct action *a)
{
	struct buffer b = {0};
	const char *why = NULL, *missing = NULL;
	char *json;
	int rc;

	if (remote_get(s, "ac", hex, &b) != 0) {
		buf_free(&b);
		return 1;
	}
	rc = action_from_json(b.data ? b.data : "", b.len, a, &why);
	buf_free(&b);
	if (rc < 0) {
		warn("remote cache %s: ac/%s: %s; rejected", s->shown, hex, why);
		return 1;
	}
	rc = blobs_ready(s, a, &missing);
	if (rc != 0) {
		if (rc == 1)
			warn("remote cache %s: ac/%s names blob %s that it does not hold; ignored", s->shown, hex, missing);
		action_clear(a);
		return 1;
	}
	json = action_to_json(a);
	if (json)
		write_locked(s, path, json, strlen(json), "action-tmp");
	free(json);
	return 0;
}

/* ---- the store ---- */

/* url without the user:password@ of its authority */
static char *redact(const char *url)
{
	const char *host = strstr(url, "://"), *end, *at;

	if (!host)
		return xstrdup(url);
	host += 3;
	end = host + strcspn(host, "/?#");
	at = memchr(host, '@', (size_t)(end - host));
	while (at && memchr(at + 1, '@', (size_t)(end - at - 1)))
		at = memchr(at + 1, '@', (size_t)(end - at - 1));
	if (!at)
		return xstrdup(url);
	return xasprintf("%.*s%s", (int)(host - url), url, at + 1);
}

struct store *store_open(const char *cachedir, const char *remote, int zstd_level)
{
	static const char *const kinds[] = {"cas", "ac"};
	struct store *s = xcalloc(1, sizeof(*s));
	const char *token = getenv("MPBUILD_REMOTE_TOKEN");
	size_t i;

	s->dir = xstrdup(cachedir);
	for (i = 0; i < LEN(kinds); i++) {
		char *p = path_join(cachedir, kinds[i]);
		int rc = mkdirs(p);

		if (rc < 0)
			error("cannot create %s:", p);
		free(p);
		if (rc < 0)
			goto fail;
	}
	s->level = zstd_level ? zstd_level : 3;
	if (s->level < ZSTD_minCLevel())
		s->level = ZSTD_minCLevel();
	if (s->level > ZSTD_maxCLevel())
		s->level = ZSTD_maxCLevel();
	if (remote && *remote) {
		/* a remote that cannot work is a warning, never a failed build */
		if (strncmp(remote, "http://", 7) && strncmp(remote, "https://", 8)) {
			char *shown = redact(remote);

			warn("remote cache %s: not an http:// or https:// URL; ignored", shown);
			free(shown);
			remote = NULL;
		}
	}
	if (remote && *remote) {
		size_t n = strlen(remote);

		while (n > 0 && remote[n - 1] == '/')
			n--;
		s->remote = xstrndup(remote, n);
		s->shown = redact(s->remote);
		if (token && strpbrk(token, "\r\n")) {
			warn("MPBUILD_REMOTE_TOKEN holds a line break; not sent");
		} else if (token && *token) {
			s->auth = xasprintf("Authorization: Bearer %s", token);
			if (!strncmp(remote, "http://", 7) && !http_is_local(remote))
				warn("MPBUILD_REMOTE_TOKEN is sent in clear text to %s (plain http)", s->shown);
		}
		http_global_init();
	}
	pthread_mutex_init(&s->mu, NULL);
	return s;
fail:
	free(s->dir);
	free(s);
	return NULL;
}

/* cache/stats.json into c (zeros when absent or unreadable) */
void store_stats_read(const char *dir, struct store_counts *c)
{
	char *path = path_join(dir, "stats.json");
	json_t *o = json_load_file(path, 0, NULL);

	memset(c, 0, sizeof(*c));
	if (json_is_object(o)) {
		c->hits_local = (long)json_integer_value(json_object_get(o, "hits_local"));
		c->hits_remote = (long)json_integer_value(json_object_get(o, "hits_remote"));
		c->misses = (long)json_integer_value(json_object_get(o, "misses"));
		c->uploads = (long)json_integer_value(json_object_get(o, "uploads"));
		c->saved = json_number_value(json_object_get(o, "saved"));
	}
	json_decref(o);
	free(path);
}

/* add this run's counters to cache/stats.json; concurrent runs may lose a
 * count, which statistics can afford */
static void stats_flush(struct store *s)
{
	char *path, *text;
	struct store_counts c;
	json_t *o;

	if (!s->hits_local && !s->hits_remote && !s->misses && !s->uploads)
		return;
	store_stats_read(s->dir, &c);
	o = json_pack("{s:I, s:I, s:I, s:I, s:f}", "hits_local", (json_int_t)(c.hits_local + s->hits_local),
		      "hits_remote", (json_int_t)(c.hits_remote + s->hits_remote), "misses",
		      (json_int_t)(c.misses + s->misses), "uploads", (json_int_t)(c.uploads + s->uploads), "saved",
		      c.saved + s->saved);
	text = json_dumps(o, JSON_COMPACT);
	path = path_join(s->dir, "stats.json");
	if (text && write_file_atomic(path, text, strlen(text)) < 0)
		warn("cannot write %s:", path);
	free(text);
	free(path);
	json_decref(o);
}

void store_close(struct store *s)
{
	if (!s)
		return;
	stats_flush(s);
	htab_free_owned(&s->sent, NULL);
	pthread_mutex_destroy(&s->mu);
	free(s->dir);
	free(s->remote);
	free(s->shown);
	free(s->auth);
	free(s);
}

int store_put_blob(struct store *s, const void *data, size_t len, char out[HASH_HEX])
{
	sha256_hex(data, len, out);
	return blob_write(s, out + 7, data ? data : "", len);
}

int store_get_blob(struct store *s, const char *hash, struct buffer *out)
{
	char hex[65], *path;
	int rc;

	if (hash_digits(hash, hex) < 0)
		return error("invalid blob hash '%s'", hash);
	path = store_path(s->dir, "cas", hex);
	rc = store_load_blob(path, hex, out);
	if (rc == 0) {
		touch(path);
	} else if (rc == 2) {
		warn("%s: corrupt blob (its content does not match its name); removed", path);
		unlink(path);
	}
	free(path);
	if (rc == 0)
		return 0;
	return blob_fetch(s, hex, out) == 0 ? 0 : -1;
}

int store_put_action(struct store *s, const char *key, const struct action *a)
{
	const char *who = a->target ? a->target : key, *bhex;
	char hex[65], *path, *json;
	size_t i;

	if (hash_digits(key, hex) < 0)
		return error("invalid action key '%s'", key);
	for (i = 0; i < a->n; i++)
		if (!a->paths[i] || !hash_valid(a->hashes[i]))
			return error("%s: action output %zu has no path or an invalid hash", who, i);
	if (a->answer[0] && !hash_valid(a->answer))
		return error("%s: action answer has an invalid hash", who);
	json = action_to_json(a);
	if (!json)
		return error("%s: the action cannot be written as JSON (invalid UTF-8)", who);
	path = store_path(s->dir, "ac", hex);
	if (write_locked(s, path, json, strlen(json), "action-tmp") < 0) {
		free(json);
		free(path);
		return -1;
	}
	free(path);
	crashpoint("action-stored");
	/* blobs first, the action last: a reader that sees the action finds its blobs */
	for (i = 0; remote_up(s, 1) && (bhex = action_blob(a, i)); i++) {
		struct buffer b = {0};
		char *bpath;
		int sent, rc;

		pthread_mutex_lock(&s->mu);
		sent = htab_get(&s->sent, bhex) != NULL;
		pthread_mutex_unlock(&s->mu);
		if (sent)
			continue;
		bpath = store_path(s->dir, "cas", bhex);
		rc = store_load_blob(bpath, bhex, &b);
		free(bpath);
		if (rc != 0) {
			warn("%s: not uploaded: blob sha256:%s is not in the local store", who, bhex);
			buf_free(&b);
			break;
		}
		rc = remote_put(s, "cas", bhex, b.data ? b.data : "", b.len);
		buf_free(&b);
		if (rc < 0)
			break;
		pthread_mutex_lock(&s->mu);
		if (!htab_get(&s->sent, bhex))
			htab_put(&s->sent, xstrdup(bhex), (void *)1);
		pthread_mutex_unlock(&s->mu);
	}
	if (s->remote && !action_blob(a, i) && remote_put(s, "ac", hex, json, strlen(json)) == 0) {
		pthread_mutex_lock(&s->mu);
		s->uploads++;
		pthread_mutex_unlock(&s->mu);
	}
	free(json);
	return 0;
}

int store_get_action(struct store *s, const char *key, struct action *a)
{
	char hex[65], *path;
	struct buffer b = {0};
	const char *why = NULL, *missing = NULL;
	int rc = 1, local = 0;

	memset(a, 0, sizeof(*a));
	if (hash_digits(key, hex) < 0)
		return error("invalid action key '%s'", key);
	path = store_path(s->dir, "ac", hex);
	if (read_file(path, &b, AC_MAX) == 0) {
		if (action_from_json(b.data ? b.data : "", b.len, a, &why) < 0) {
			warn("%s: corrupt action entry (%s); removed", path, why);
			unlink(path);
		} else if (blobs_ready(s, a, &missing) == 0) {
			touch(path);
			rc = 0;
			local = 1;
		} else {
			action_clear(a);    /* its blobs are gone: as good as absent */
		}
	} else if (errno != ENOENT && errno != ENOTDIR) {
		warn("cannot read %s:", path);
	}
	buf_free(&b);
	if (rc != 0)
		rc = action_fetch(s, hex, path, a);
	free(path);
	pthread_mutex_lock(&s->mu);
	if (rc == 0 && local)
		s->hits_local++;
	else if (rc == 0)
		s->hits_remote++;
	else
		s->misses++;
	if (rc == 0 && a->cost > 0)
		s->saved += a->cost;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* ---- single entries, for the cache verb (cache.c) ---- */

int action_load(const char *path, struct action *a, const char **why)
{
	struct buffer b = {0};
	int rc;

	memset(a, 0, sizeof(*a));
	if (read_file(path, &b, AC_MAX) < 0) {
		*why = strerror(errno);
		buf_free(&b);
		return -1;
	}
	rc = action_from_json(b.data ? b.data : "", b.len, a, why);
	buf_free(&b);
	return rc;
}

long long store_blob_size(const char *path)
{
	unsigned char head[18];      /* ZSTD_FRAMEHEADERSIZE_MAX, in the static-only API */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	unsigned long long size;

	if (fd < 0)
		return -1;
	n = read(fd, head, sizeof(head));
	close(fd);
	if (n <= 0)
		return -1;
	size = ZSTD_getFrameContentSize(head, (size_t)n);
	if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN)
		return -1;
	return (long long)size;
}
