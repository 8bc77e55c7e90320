/* store.c: the content store under cache/ (SPEC 4, 10.14).  cas/XX/HEX holds
 * a blob zstd-compressed, named by the SHA-256 of its uncompressed bytes and
 * checked against that name on every read; ac/XX/KEYHEX holds an action as
 * JSON.  Every file is written whole (temporary file, fsync, rename), so a
 * crash leaves an entry absent, never half there.  The remote cache speaks
 * Bazel's HTTP layout (GET/PUT URL/ac/KEYHEX and URL/cas/HEX with raw bytes):
 * nothing from it is used before it verifies, and the first failure turns it
 * off for the rest of the run with one warning. */
#include "store.h"
#include "archive.h"
#include "http.h"
#include "lockfile.h"
#include "state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#define BLOB_MAX ((size_t)1 << 30)      /* largest blob read back, uncompressed */
#define AC_MAX ((size_t)16 << 20)       /* largest action entry */
#define OUTPUTS_MAX 100000              /* most outputs one action may list */
#define REMOTE_STALL 60                 /* seconds a remote transfer may stall */
#define TMP_AGE 3600                    /* seconds after which gc removes a stray temporary file */
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

/* the counters kept in cache/stats.json */
struct counts {
	long hits_local, hits_remote, misses, uploads;
	double saved;
};

/* the 64 hex digits of "sha256:HEX" or of a bare HEX into hex; -1 when s is neither */
static int to_hex(const char *s, char hex[65])
{
	char full[HASH_HEX];

	if (!strncmp(s, "sha256:", 7))
		s += 7;
	if (strlen(s) != 64)
		return -1;
	snprintf(full, sizeof(full), "sha256:%s", s);
	if (!hash_valid(full))
		return -1;
	memcpy(hex, s, 65);
	return 0;
}

/* dir/kind/XX/HEX */
static char *entry_path(const char *dir, const char *kind, const char *hex)
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
static int blob_load(const char *path, const char *hex, struct buffer *out)
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
	char *path = entry_path(s->dir, "cas", hex), *z;
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
static char *action_to_json(const struct action *a)
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
static int action_from_json(const char *data, size_t len, struct action *a, const char **why)
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
static const char *action_blob(const struct action *a, size_t i)
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
		char *path = entry_path(s->dir, "cas", hex);
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
static void stats_read(const char *dir, struct counts *c)
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
	struct counts c;
	json_t *o;

	if (!s->hits_local && !s->hits_remote && !s->misses && !s->uploads)
		return;
	stats_read(s->dir, &c);
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
	size_t i;

	if (!s)
		return;
	stats_flush(s);
	for (i = 0; i < s->sent.cap; i++)
		free((char *)s->sent.keys[i]);
	htab_free(&s->sent);
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

	if (to_hex(hash, hex) < 0)
		return error("invalid blob hash '%s'", hash);
	path = entry_path(s->dir, "cas", hex);
	rc = blob_load(path, hex, out);
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

	if (to_hex(key, hex) < 0)
		return error("invalid action key '%s'", key);
	for (i = 0; i < a->n; i++)
		if (!a->paths[i] || !hash_valid(a->hashes[i]))
			return error("%s: action output %zu has no path or an invalid hash", who, i);
	if (a->answer[0] && !hash_valid(a->answer))
		return error("%s: action answer has an invalid hash", who);
	json = action_to_json(a);
	if (!json)
		return error("%s: the action cannot be written as JSON (invalid UTF-8)", who);
	path = entry_path(s->dir, "ac", hex);
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
		bpath = entry_path(s->dir, "cas", bhex);
		rc = blob_load(bpath, bhex, &b);
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
	if (to_hex(key, hex) < 0)
		return error("invalid action key '%s'", key);
	path = entry_path(s->dir, "ac", hex);
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

/* ---- mpbuild cache ... ---- */

/* one file of the store, as the cache commands see it */
struct entry {
	char *path;
	char hex[65];
	int ac;                 /* an action entry, else a blob */
	off_t size;             /* bytes on disk */
	time_t used;            /* the later of atime and mtime */
	int gone;               /* removed by this command */
};

struct entries {
	struct entry *v;
	size_t n, cap;
};

/* add the entries of dir/kind/XX/ to es; stray temporary files older than
 * TMP_AGE are removed when clean is set */
static void scan(const char *dir, const char *kind, struct entries *es, int clean)
{
	char *top = path_join(dir, kind);
	DIR *d = opendir(top), *sd;
	struct dirent *de, *e;

	if (!d) {
		if (errno != ENOENT)
			warn("cannot open %s:", top);
		free(top);
		return;
	}
	while ((de = readdir(d))) {
		char *sub;

		if (strlen(de->d_name) != 2 || !strchr("0123456789abcdef", de->d_name[0]) ||
		    !strchr("0123456789abcdef", de->d_name[1]))
			continue;
		sub = path_join(top, de->d_name);
		if (!(sd = opendir(sub))) {
			warn("cannot open %s:", sub);
			free(sub);
			continue;
		}
		while ((e = readdir(sd))) {
			char hex[65], *p;
			struct stat st;

			if (e->d_name[0] == '.')
				continue;
			p = path_join(sub, e->d_name);
			if (lstat(p, &st) < 0 || !S_ISREG(st.st_mode)) {
				free(p);
				continue;
			}
			if (strstr(e->d_name, ".mpbuild-tmp.")) {
				if (clean && st.st_mtime + TMP_AGE < time(NULL))
					unlink(p);
				free(p);
				continue;
			}
			if (strlen(e->d_name) != 64 || to_hex(e->d_name, hex) < 0 || strncmp(hex, de->d_name, 2) != 0) {
				free(p);
				continue;
			}
			if (es->n == es->cap) {
				es->cap = es->cap ? es->cap * 2 : 256;
				es->v = xreallocarray(es->v, es->cap, sizeof(*es->v));
			}
			es->v[es->n] = (struct entry){p, "", !strcmp(kind, "ac"), st.st_size,
						      st.st_atime > st.st_mtime ? st.st_atime : st.st_mtime, 0};
			memcpy(es->v[es->n].hex, hex, 65);
			es->n++;
		}
		closedir(sd);
		free(sub);
	}
	closedir(d);
	free(top);
}

static int cmp_path(const void *x, const void *y)
{
	return strcmp(((const struct entry *)x)->path, ((const struct entry *)y)->path);
}

static int cmp_used(const void *x, const void *y)
{
	const struct entry *a = x, *b = y;

	if (a->used != b->used)
		return a->used < b->used ? -1 : 1;
	return strcmp(a->path, b->path);
}

/* every entry of the store, sorted by path */
static void scan_all(const char *dir, struct entries *es, int clean)
{
	scan(dir, "cas", es, clean);
	scan(dir, "ac", es, clean);
	if (es->n)
		qsort(es->v, es->n, sizeof(*es->v), cmp_path);
}

static void entries_free(struct entries *es)
{
	size_t i;

	for (i = 0; i < es->n; i++)
		free(es->v[i].path);
	free(es->v);
	memset(es, 0, sizeof(*es));
}

/* the action entry at path; -1 (with *why) when unreadable or invalid */
static int action_load(const char *path, struct action *a, const char **why)
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

/* n bytes for people */
static const char *human(double n, char buf[32])
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	size_t u = 0;

	while (n >= 1024 && u + 1 < LEN(units))
		n /= 1024, u++;
	if (u == 0)
		snprintf(buf, 32, "%.0f B", n);
	else
		snprintf(buf, 32, "%.1f %s", n, units[u]);
	return buf;
}

/* the uncompressed size the zstd frame at path records, or -1 */
static long long content_size(const char *path)
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

static int cmd_stats(const char *dir)
{
	struct entries es = {0};
	struct counts c;
	double acbytes = 0, disk = 0, raw = 0, worth = 0;
	size_t nac = 0, nblob = 0, i;
	char b1[32], b2[32], b3[32];

	scan_all(dir, &es, 0);
	for (i = 0; i < es.n; i++) {
		struct entry *e = &es.v[i];

		if (e->ac) {
			struct action a;
			const char *why;

			nac++;
			acbytes += (double)e->size;
			if (action_load(e->path, &a, &why) == 0 && a.cost > 0)
				worth += a.cost;
			action_clear(&a);
		} else {
			long long size = content_size(e->path);

			nblob++;
			disk += (double)e->size;
			raw += size >= 0 ? (double)size : (double)e->size;
		}
	}
	stats_read(dir, &c);
	printf("cache: %s\n", dir);
	printf("actions: %zu (%s)\n", nac, human(acbytes, b1));
	printf("blobs: %zu (%s on disk, %s uncompressed)\n", nblob, human(disk, b2), human(raw, b3));
	printf("total: %s on disk\n", human(disk + acbytes, b1));
	printf("lookups: %ld hits (%ld local, %ld remote), %ld misses, %ld uploads\n", c.hits_local + c.hits_remote,
	       c.hits_local, c.hits_remote, c.misses, c.uploads);
	printf("saved: $%.4f by restoring instead of calling\n", c.saved);
	printf("worth: $%.4f (what the cached actions cost to build)\n", worth);
	entries_free(&es);
	return EXIT_OK;
}

/* "100M", "2G", "512k", "1000": bytes, or -1 */
static long long parse_size(const char *s)
{
	char *end;
	double v;
	long long mult = 1;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !(v >= 0 && v < 9e18))
		return -1;
	switch (*end) {
	case 'k': case 'K': mult = 1LL << 10; end++; break;
	case 'm': case 'M': mult = 1LL << 20; end++; break;
	case 'g': case 'G': mult = 1LL << 30; end++; break;
	case 't': case 'T': mult = 1LL << 40; end++; break;
	default: break;
	}
	if (mult > 1 && *end == 'i')
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || v * (double)mult > 9e18)
		return -1;
	return (long long)(v * (double)mult);
}

/* keys and hashes (as hex, owned by the table) that entries must keep */
static void protect(struct htab *h, const char *hash)
{
	char hex[65];

	if (to_hex(hash, hex) == 0 && !htab_get(h, hex))
		htab_put(h, xstrdup(hex), (void *)1);
}

static void protect_free(struct htab *h)
{
	size_t i;

	for (i = 0; i < h->cap; i++)
		free((char *)h->keys[i]);
	htab_free(h);
}

/* the project directory holding cachedir */
static char *project_root(const char *dir)
{
	char *copy = xstrdup(dir), *slash;
	size_t n = strlen(copy);

	while (n > 1 && copy[n - 1] == '/')
		copy[--n] = '\0';
	slash = strrchr(copy, '/');
	if (!slash) {
		free(copy);
		return xstrdup(".");
	}
	if (slash == copy)
		slash[1] = '\0';
	else
		*slash = '\0';
	return copy;
}

/* the pinned bytes of rules' examples keep a layer stable when a pinned file changes */
static void protect_pins(struct htab *h, const struct rule_rec *rr, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < rr[i].n; j++)
			protect(h, rr[i].hashes[j]);
}

/* protect every key, output hash and pinned example that mpbuild.lock
 * (beside cachedir) and state.db record; -1 when they cannot be read (then
 * nothing may go) */
static int protect_project(const char *dir, struct htab *h)
{
	char *root = project_root(dir), *db = path_join(dir, "state.db");
	struct lockfile lk = {0};
	size_t i, j, n = 0;
	int rc = lockfile_read(root, &lk, NULL);

	if (rc < 0) {
		error("%s/mpbuild.lock cannot be read: nothing removed", root);
		goto out;
	}
	for (i = 0; i < lk.ntargets; i++) {
		protect(h, lk.targets[i].key);
		for (j = 0; j < lk.targets[i].n; j++)
			protect(h, lk.targets[i].hashes[j]);
	}
	protect_pins(h, lk.rules, lk.nrules);
	rc = 0;
	if (path_exists(db)) {
		struct state *st = state_open(dir, 1);
		struct record *r;
		struct rule_rec *rr;

		if (!st) {
			rc = error("%s cannot be read: nothing removed", db);
			goto out;
		}
		r = state_records(st, &n);
		for (i = 0; i < n; i++) {
			protect(h, r[i].key);
			for (j = 0; j < r[i].n; j++)
				protect(h, r[i].hashes[j]);
		}
		record_free_all(r, n);
		rr = state_rules(st, &n);
		protect_pins(h, rr, n);
		rule_rec_free_all(rr, n);
		state_close(st);
	}
out:
	lockfile_free(&lk);
	free(root);
	free(db);
	return rc;
}

/* 1 when every blob of a is present */
static int blobs_present(const char *dir, const struct action *a, const char **missing)
{
	const char *hex;
	size_t i;

	for (i = 0; (hex = action_blob(a, i)); i++) {
		char *p = entry_path(dir, "cas", hex);
		int there = path_exists(p);

		free(p);
		if (!there) {
			*missing = hex;
			return 0;
		}
	}
	return 1;
}

static int cmd_gc(const char *dir, char **args, size_t n)
{
	struct entries es = {0};
	struct htab keep = {0};
	long long max = -1, total = 0, freed = 0, kept = 0;
	size_t i, removed = 0, nkept = 0, nprot = 0;
	char b1[32], b2[32], b3[32];

	for (i = 0; i < n; i++) {
		const char *v = NULL;

		if (!strcmp(args[i], "--max-size") && i + 1 < n)
			v = args[++i];
		else if (!strncmp(args[i], "--max-size=", 11))
			v = args[i] + 11;
		if (!v) {
			error("cache gc: unknown argument '%s' (usage: mpbuild cache gc [--max-size SIZE])", args[i]);
			return EXIT_BADINPUT;
		}
		if ((max = parse_size(v)) < 0) {
			error("cache gc: bad size '%s' (a number of bytes, or with K, M, G or T)", v);
			return EXIT_BADINPUT;
		}
	}
	if (protect_project(dir, &keep) < 0) {
		protect_free(&keep);
		return EXIT_FAILED;
	}
	scan_all(dir, &es, 1);
	/* the blobs of protected actions (their answers too) are protected */
	for (i = 0; i < es.n; i++) {
		struct action a;
		const char *why, *hex;
		size_t j;

		if (!es.v[i].ac || !htab_get(&keep, es.v[i].hex) || action_load(es.v[i].path, &a, &why) < 0)
			continue;
		for (j = 0; (hex = action_blob(&a, j)); j++)
			protect(&keep, hex);
		action_clear(&a);
	}
	for (i = 0; i < es.n; i++)
		total += es.v[i].size;
	if (max >= 0 && total > max) {
		struct entry *sorted = xcalloc(es.n ? es.n : 1, sizeof(*sorted));

		/* least recently used first; sort a copy so es keeps path order */
		memcpy(sorted, es.v, es.n * sizeof(*sorted));
		qsort(sorted, es.n, sizeof(*sorted), cmp_used);
		for (i = 0; i < es.n && total > max; i++) {
			struct entry *e = bsearch(&sorted[i], es.v, es.n, sizeof(*es.v), cmp_path);

			if (htab_get(&keep, e->hex))
				continue;
			if (unlink(e->path) < 0 && errno != ENOENT) {
				warn("cannot remove %s:", e->path);
				continue;
			}
			e->gone = 1;
			total -= e->size;
		}
		free(sorted);
	}
	/* an action whose blobs are gone restores nothing: drop it */
	for (i = 0; i < es.n; i++) {
		struct entry *e = &es.v[i];
		struct action a;
		const char *why, *missing;

		if (!e->ac || e->gone || htab_get(&keep, e->hex) || action_load(e->path, &a, &why) < 0)
			continue;
		if (!blobs_present(dir, &a, &missing) && unlink(e->path) == 0)
			e->gone = 1;
		action_clear(&a);
	}
	for (i = 0; i < es.n; i++) {
		if (es.v[i].gone) {
			removed++;
			freed += es.v[i].size;
		} else {
			nkept++;
			kept += es.v[i].size;
			nprot += htab_get(&keep, es.v[i].hex) != NULL;
		}
	}
	printf("gc: removed %zu entries (%s); kept %zu (%s), %zu of them needed by mpbuild.lock\n", removed,
	       human((double)freed, b1), nkept, human((double)kept, b2), nprot);
	if (max >= 0 && kept > max)
		warn("the entries mpbuild.lock needs take %s, more than --max-size %s", human((double)kept, b1),
		     human((double)max, b3));
	entries_free(&es);
	protect_free(&keep);
	return EXIT_OK;
}

static int cmd_verify(const char *dir)
{
	struct entries es = {0};
	size_t i, nac = 0, nblob = 0, bad = 0;

	scan_all(dir, &es, 0);
	/* blobs first, so that an action whose blob was just removed is caught */
	for (i = 0; i < es.n; i++) {
		struct entry *e = &es.v[i];
		struct buffer b = {0};
		int rc;

		if (e->ac)
			continue;
		nblob++;
		rc = blob_load(e->path, e->hex, &b);
		buf_free(&b);
		if (rc == 2) {
			error("%s: corrupt blob (its content does not match its name); removed", e->path);
			unlink(e->path);
		}
		bad += rc != 0;
	}
	for (i = 0; i < es.n; i++) {
		struct entry *e = &es.v[i];
		struct action a;
		const char *why = NULL, *missing = NULL;

		if (!e->ac)
			continue;
		nac++;
		if (action_load(e->path, &a, &why) < 0) {
			error("%s: corrupt action entry (%s); removed", e->path, why);
			unlink(e->path);
			bad++;
		} else if (!blobs_present(dir, &a, &missing)) {
			error("%s: names blob sha256:%s, which is missing; removed", e->path, missing);
			unlink(e->path);
			bad++;
		}
		action_clear(&a);
	}
	printf("verify: %zu blobs and %zu actions checked, %zu bad\n", nblob, nac, bad);
	entries_free(&es);
	return bad ? EXIT_FAILED : EXIT_OK;
}

/* a list of distinct hex names */
struct names {
	struct htab seen;       /* hex -> non-NULL; keys are the strings of v */
	char **v;
	size_t n, cap;
};

static void names_add(struct names *ns, const char *hex)
{
	char *s;

	if (htab_get(&ns->seen, hex))
		return;
	s = xstrdup(hex);
	if (ns->n == ns->cap) {
		ns->cap = ns->cap ? ns->cap * 2 : 64;
		ns->v = xreallocarray(ns->v, ns->cap, sizeof(*ns->v));
	}
	ns->v[ns->n++] = s;
	htab_put(&ns->seen, s, (void *)1);
}

static void names_free(struct names *ns)
{
	size_t i;

	for (i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	htab_free(&ns->seen);
	memset(ns, 0, sizeof(*ns));
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the key hex for an export argument: a key, or a target of mpbuild.lock */
static int export_key(const char *dir, const char *arg, char hex[65])
{
	char *root;
	struct lockfile lk = {0};
	size_t i;
	int rc = -1;

	if (to_hex(arg, hex) == 0)
		return 0;
	root = project_root(dir);
	if (lockfile_read(root, &lk, NULL) == 0)
		for (i = 0; i < lk.ntargets && rc < 0; i++)
			if (!strcmp(lk.targets[i].target, arg))
				rc = to_hex(lk.targets[i].key, hex);
	lockfile_free(&lk);
	free(root);
	return rc;
}

static int cmd_export(const char *dir, char **args, size_t n)
{
	struct names acs = {0}, blobs = {0};
	struct htab failed = {0};
	struct tarzst *w;
	size_t i, nac = 0, nblob = 0;
	int ok = 1, rc = EXIT_OK;

	if (n < 1) {
		error("cache export: usage: mpbuild cache export FILE.tar.zst [KEY|TARGET...]");
		return EXIT_BADINPUT;
	}
	if (n == 1) {
		struct entries es = {0};

		scan_all(dir, &es, 0);
		for (i = 0; i < es.n; i++)
			names_add(es.v[i].ac ? &acs : &blobs, es.v[i].hex);
		entries_free(&es);
	}
	for (i = 1; i < n; i++) {
		char hex[65], *path;
		struct action a;
		const char *why, *bhex;
		size_t j;

		if (export_key(dir, args[i], hex) < 0) {
			error("cache export: '%s' is neither a key nor a target of mpbuild.lock", args[i]);
			rc = EXIT_BADINPUT;
			goto out;
		}
		path = entry_path(dir, "ac", hex);
		if (action_load(path, &a, &why) < 0) {
			error("cache export: %s: %s", path, why);
			free(path);
			rc = EXIT_FAILED;
			goto out;
		}
		free(path);
		names_add(&acs, hex);
		for (j = 0; (bhex = action_blob(&a, j)); j++)
			names_add(&blobs, bhex);
		action_clear(&a);
	}
	if (blobs.n)
		qsort(blobs.v, blobs.n, sizeof(*blobs.v), cmp_name);
	if (acs.n)
		qsort(acs.v, acs.n, sizeof(*acs.v), cmp_name);
	if (!(w = archive_create(args[0]))) {
		rc = EXIT_FAILED;
		goto out;
	}
	/* blobs first, verified, so that an importer reading in order sees an
	 * action's blobs before the action */
	for (i = 0; ok && i < blobs.n; i++) {
		char *path = entry_path(dir, "cas", blobs.v[i]), *name;
		struct buffer b = {0};
		int r = blob_load(path, blobs.v[i], &b);

		if (r != 0) {
			warn("%s: %s; not exported", path, r == 1 ? "missing" : "corrupt (run mpbuild cache verify)");
			htab_put(&failed, blobs.v[i], (void *)1);
		} else {
			name = xasprintf("cas/%s", blobs.v[i]);
			ok = archive_add(w, name, b.data ? b.data : "", b.len) == 0;
			nblob += ok;
			free(name);
		}
		buf_free(&b);
		free(path);
	}
	for (i = 0; ok && i < acs.n; i++) {
		char *path = entry_path(dir, "ac", acs.v[i]), *name, *json;
		struct action a;
		const char *why, *bhex = NULL;
		size_t j;

		if (action_load(path, &a, &why) < 0) {
			warn("%s: %s; not exported", path, why);
			free(path);
			continue;
		}
		for (j = 0; (bhex = action_blob(&a, j)); j++)
			if (htab_get(&failed, bhex) || !htab_get(&blobs.seen, bhex))
				break;
		if (bhex) {
			warn("%s: blob sha256:%s is missing or corrupt; not exported", path, bhex);
		} else {
			json = action_to_json(&a);
			name = xasprintf("ac/%s", acs.v[i]);
			ok = json && archive_add(w, name, json, strlen(json)) == 0;
			nac += ok;
			free(name);
			free(json);
		}
		action_clear(&a);
		free(path);
	}
	if (archive_finish(w, ok) < 0)
		rc = EXIT_FAILED;
	else
		printf("exported %zu actions and %zu blobs to %s\n", nac, nblob, args[0]);
out:
	names_free(&acs);
	names_free(&blobs);
	htab_free(&failed);
	return rc;
}

/* what an import has read so far */
struct import {
	struct store *s;
	const char *file;
	struct names acs;       /* action hex names, in archive order */
	char **texts;           /* their JSON texts, parallel to acs.v */
	size_t nblob, bad;
};

static int import_one(const char *name, const void *data, size_t len, void *arg)
{
	struct import *im = arg;
	char hex[65], got[HASH_HEX];

	if (!strncmp(name, "cas/", 4) && strlen(name + 4) == 64 && to_hex(name + 4, hex) == 0) {
		sha256_hex(data, len, got);
		if (strcmp(got + 7, hex) != 0) {
			error("%s: %s: content does not match its name; skipped", im->file, name);
			im->bad++;
		} else if (blob_write(im->s, hex, data, len) < 0) {
			return -1;
		} else {
			im->nblob++;
		}
	} else if (!strncmp(name, "ac/", 3) && strlen(name + 3) == 64 && to_hex(name + 3, hex) == 0) {
		struct action a;
		const char *why;

		if (action_from_json(data, len, &a, &why) < 0) {
			error("%s: %s: %s; skipped", im->file, name, why);
			im->bad++;
			return 0;
		}
		action_clear(&a);
		if (htab_get(&im->acs.seen, hex))
			return 0;
		names_add(&im->acs, hex);
		im->texts = xreallocarray(im->texts, im->acs.n, sizeof(*im->texts));
		im->texts[im->acs.n - 1] = xstrndup(data, len);
	} else {
		warn("%s: %s: not a cache entry; skipped", im->file, name);
	}
	return 0;
}

static int cmd_import(const char *dir, char **args, size_t n)
{
	struct import im = {0};
	size_t i, nac = 0;
	int rc;

	if (n != 1) {
		error("cache import: usage: mpbuild cache import FILE.tar.zst");
		return EXIT_BADINPUT;
	}
	if (!(im.s = store_open(dir, NULL, 3)))
		return EXIT_FAILED;
	im.file = args[0];
	rc = archive_each(args[0], import_one, &im);
	/* actions last, and only those whose blobs are all here */
	for (i = 0; i < im.acs.n; i++) {
		struct action a;
		const char *why, *missing = NULL;
		char *path;

		action_from_json(im.texts[i], strlen(im.texts[i]), &a, &why);
		if (rc == 0 && !blobs_present(dir, &a, &missing)) {
			error("%s: ac/%s: blob sha256:%s is not in the archive or the cache; skipped", im.file,
			      im.acs.v[i], missing);
			im.bad++;
		} else if (rc == 0) {
			char *json = action_to_json(&a);

			path = entry_path(dir, "ac", im.acs.v[i]);
			if (json && write_locked(im.s, path, json, strlen(json), "action-tmp") == 0)
				nac++;
			else
				im.bad++;
			free(json);
			free(path);
		}
		action_clear(&a);
		free(im.texts[i]);
	}
	free(im.texts);
	names_free(&im.acs);
	if (rc == 0)
		printf("imported %zu actions and %zu blobs from %s%s\n", nac, im.nblob, im.file,
		       im.bad ? "; some entries were rejected" : "");
	store_close(im.s);
	return rc != 0 || im.bad ? EXIT_FAILED : EXIT_OK;
}

static void usage(FILE *f)
{
	fputs("usage: mpbuild cache stats\n"
	      "       mpbuild cache gc [--max-size SIZE]\n"
	      "       mpbuild cache verify\n"
	      "       mpbuild cache export FILE.tar.zst [KEY|TARGET...]\n"
	      "       mpbuild cache import FILE.tar.zst\n",
	      f);
}

int store_command(const char *cachedir, char **args, size_t n)
{
	static const char *const cmds[] = {"stats", "gc", "verify", "export", "import"};
	const char *near;

	if (n == 0) {
		usage(stderr);
		return EXIT_BADINPUT;
	}
	if (!strcmp(args[0], "--help") || !strcmp(args[0], "-h") || !strcmp(args[0], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(args[0], "stats") || !strcmp(args[0], "verify")) {
		if (n > 1) {
			error("cache %s: unexpected argument '%s'", args[0], args[1]);
			return EXIT_BADINPUT;
		}
		return !strcmp(args[0], "stats") ? cmd_stats(cachedir) : cmd_verify(cachedir);
	}
	if (!strcmp(args[0], "gc"))
		return cmd_gc(cachedir, args + 1, n - 1);
	if (!strcmp(args[0], "export"))
		return cmd_export(cachedir, args + 1, n - 1);
	if (!strcmp(args[0], "import"))
		return cmd_import(cachedir, args + 1, n - 1);
	near = closest(args[0], cmds, LEN(cmds));
	if (near)
		error("unknown cache command '%s' (did you mean '%s'?)", args[0], near);
	else
		error("unknown cache command '%s' (stats, gc, verify, export or import)", args[0]);
	return EXIT_BADINPUT;
}
