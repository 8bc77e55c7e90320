/* util.c: the small things every module needs: messages, checked allocation,
 * buffers, a hash table and careful file writes. */
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *argv0 = "mpbuild";

static _Thread_local struct diag *sink;  /* the calling thread's, or NULL: standard error */

struct diag *diag_capture(struct diag *d)
{
	struct diag *was = sink;

	sink = d;
	return was;
}

void diag_line(int warning, const char *line)
{
	if (!sink) {
		fprintf(stderr, "%s\n", line);
		return;
	}
	buf_printf(warning ? &sink->warnings : &sink->errors, "%s\n", line);
	if (warning)
		sink->nwarnings++;
	else
		sink->nerrors++;
}

void diag_show_warnings(struct diag *d)
{
	if (d->warnings.len)
		fputs(buf_str(&d->warnings), stderr);
	buf_reset(&d->warnings);
	d->nwarnings = 0;
}

void diag_free(struct diag *d)
{
	buf_free(&d->errors);
	buf_free(&d->warnings);
}

/* "mpbuild: PREFIX" and the message, with strerror for a format ending in ':' */
static void vmsg(int warning, const char *fmt, va_list ap)
{
	size_t n = strlen(fmt);
	int err = errno;
	struct buffer b = {0};

	buf_printf(&b, "%s: %s", argv0, warning ? "warning: " : "");
	buf_vprintf(&b, fmt, ap);
	if (n > 0 && fmt[n - 1] == ':')
		buf_printf(&b, " %s", strerror(err));
	diag_line(warning, buf_str(&b));
	buf_free(&b);
}

void warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(1, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	/* fatal always reaches the person, whatever sink is set */
	sink = NULL;
	va_start(ap, fmt);
	vmsg(0, fmt, ap);
	va_end(ap);
	exit(EXIT_BADINPUT);
}

int error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(0, fmt, ap);
	va_end(ap);
	return -1;
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		fatal("out of memory");
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (!p)
		fatal("out of memory");
	return p;
}

void *xreallocarray(void *p, size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size)
		fatal("allocation overflow");
	p = realloc(p, nmemb * size > 0 ? nmemb * size : 1);
	if (!p)
		fatal("out of memory");
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	struct buffer b = {0};
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("bad format");
	b.data = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(b.data, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return b.data;
}

static void buf_grow(struct buffer *b, size_t extra)
{
	size_t need;

	if (extra > SIZE_MAX - b->len - 1)
		fatal("buffer overflow");
	need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	if (b->cap < 64)
		b->cap = 64;
	while (b->cap < need)
		b->cap = b->cap > SIZE_MAX / 2 ? need : b->cap * 2;
	b->data = xreallocarray(b->data, b->cap, 1);
}

void buf_add(struct buffer *b, const void *p, size_t n)
{
	buf_grow(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void buf_puts(struct buffer *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_putc(struct buffer *b, int c)
{
	char ch = (char)c;

	buf_add(b, &ch, 1);
}

void buf_vprintf(struct buffer *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		fatal("bad format");
	buf_grow(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void buf_printf(struct buffer *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

const char *buf_str(struct buffer *b)
{
	buf_grow(b, 0);
	b->data[b->len] = '\0';
	return b->data;
}

char *buf_take(struct buffer *b)
{
	char *s;

	buf_str(b);
	s = b->data;
	b->data = NULL;
	b->len = b->cap = 0;
	return s;
}

void buf_reset(struct buffer *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void buf_free(struct buffer *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

static size_t htab_slot(const struct htab *h, const char *key)
{
	size_t i = (size_t)hash_str(key) & (h->cap - 1);

	while (h->keys[i] && strcmp(h->keys[i], key) != 0)
		i = (i + 1) & (h->cap - 1);
	return i;
}

void *htab_get(const struct htab *h, const char *key)
{
	size_t i;

	if (!h->cap)
		return NULL;
	i = htab_slot(h, key);
	return h->keys[i] ? h->vals[i] : NULL;
}

const char *htab_key(const struct htab *h, const char *key)
{
	size_t i;

	if (!h->cap)
		return NULL;
	i = htab_slot(h, key);
	return h->keys[i];
}

void *htab_put(struct htab *h, const char *key, void *val)
{
	size_t i;
	void *old;

	if ((h->n + 1) * 2 > h->cap) {
		struct htab n = {0};

		n.cap = h->cap ? h->cap * 2 : 16;
		n.keys = xcalloc(n.cap, sizeof(*n.keys));
		n.vals = xcalloc(n.cap, sizeof(*n.vals));
		for (i = 0; i < h->cap; i++) {
			if (h->keys[i]) {
				size_t j = htab_slot(&n, h->keys[i]);

				n.keys[j] = h->keys[i];
				n.vals[j] = h->vals[i];
				n.n++;
			}
		}
		htab_free(h);
		*h = n;
	}
	i = htab_slot(h, key);
	old = h->keys[i] ? h->vals[i] : NULL;
	if (!h->keys[i])
		h->n++;
	h->keys[i] = key;
	h->vals[i] = val;
	return old;
}

void htab_free_owned(struct htab *h, void (*free_val)(void *))
{
	size_t i;

	for (i = 0; i < h->cap; i++)
		if (h->keys[i]) {
			free((char *)h->keys[i]);
			if (free_val)
				free_val(h->vals[i]);
		}
	htab_free(h);
}

void htab_free(struct htab *h)
{
	free(h->keys);
	free(h->vals);
	h->keys = NULL;
	h->vals = NULL;
	h->cap = h->n = 0;
}

int read_file(const char *path, struct buffer *b, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	ssize_t r;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	if ((size_t)st.st_size > max) {
		errno = EFBIG;
		goto fail;
	}
	buf_grow(b, (size_t)st.st_size);
	for (;;) {
		buf_grow(b, 4096);
		r = read(fd, b->data + b->len, b->cap - b->len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (r == 0)
			break;
		b->len += (size_t)r;
		if (b->len > max) {
			errno = EFBIG;
			goto fail;
		}
	}
	b->data[b->len] = '\0';
	close(fd);
	return 0;
fail:
	r = errno;
	close(fd);
	errno = (int)r;
	return -1;
}

int fsync_parent(const char *path)
{
	char *copy = xstrdup(path);
	int fd, rc = 0;

	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd < 0)
		return -1;
	if (fsync(fd) < 0 && errno != EINVAL)
		rc = -1;
	close(fd);
	return rc;
}

int mkdirs(const char *dir)
{
	char *p = xstrdup(dir), *s;
	int rc = 0;

	for (s = p + 1; ; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;

			*s = '\0';
			if (mkdir(p, 0777) < 0 && errno != EEXIST) {
				rc = -1;
				break;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	free(p);
	return rc;
}

int write_new_at(int dirfd, const char *name, const void *data, size_t len)
{
	const char *p = data;
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666), e;

	if (fd < 0)
		return -1;
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, name, 0);
	errno = e;
	return -1;
}

int write_file_atomic(const char *path, const void *data, size_t len)
{
	return write_file_atomic_cp(path, data, len, "atomic-tmp");
}

int write_file_atomic_cp(const char *path, const void *data, size_t len, const char *point)
{
	char *copy = xstrdup(path), *tmp;
	int e;

	if (mkdirs(dirname(copy)) < 0) {
		free(copy);
		return -1;
	}
	free(copy);
	tmp = xasprintf("%s.mpbuild-tmp.%ld", path, (long)getpid());
	if (write_new_at(AT_FDCWD, tmp, data, len) < 0)
		goto fail;
	crashpoint(point);
	if (rename(tmp, path) < 0)
		goto fail_tmp;
	free(tmp);
	return fsync_parent(path);
fail_tmp:
	e = errno;
	unlink(tmp);
	errno = e;
fail:
	free(tmp);
	return -1;
}

int path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

char *path_join(const char *dir, const char *name)
{
	if (!dir || !*dir || (dir[0] == '.' && !dir[1]))
		return xstrdup(name);
	return xasprintf("%s/%s", dir, name);
}

size_t edit_distance(const char *a, const char *b, size_t max)
{
	size_t la = strlen(a), lb = strlen(b), i, j, best;
	size_t *row;

	if (la > lb + max || lb > la + max)
		return max + 1;
	row = xcalloc(lb + 1, sizeof(*row));
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		best = row[0];
		for (j = 1; j <= lb; j++) {
			size_t up = row[j], v;

			v = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < v)
				v = up + 1;
			if (row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			row[j] = v;
			diag = up;
			if (v < best)
				best = v;
		}
		if (best > max) {
			free(row);
			return max + 1;
		}
	}
	best = row[lb];
	free(row);
	return best > max ? max + 1 : best;
}

const char *closest(const char *word, const char *const *cands, size_t n)
{
	size_t len = strlen(word), max = len < 4 ? 1 : len < 8 ? 2 : 3, best = max + 1, i;
	const char *pick = NULL;

	for (i = 0; i < n; i++) {
		size_t d = edit_distance(word, cands[i], max);

		if (d < best && d > 0) {
			best = d;
			pick = cands[i];
		}
	}
	/* else one that starts the same way: budget -> budget_usd, retry -> retries */
	for (i = 0, best = 0; !pick && i < n; i++) {
		size_t l = 0;

		while (word[l] && word[l] == cands[i][l])
			l++;
		if (l >= 4 && l + 2 >= len && l > best && strcmp(word, cands[i]) != 0) {
			best = l;
			pick = cands[i];
		}
	}
	return pick;
}

double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int glob_match(const char *pat, const char *name)
{
	return fnmatch(pat, name, 0) == 0;
}

/* ---- crash points: MPBUILD_CRASH=NAME[:N] kills the process at the N-th
 * hit of crashpoint(NAME), for the crash-safety tests (like git's GIT_TEST_*
 * knobs).  The variable is read once; unset, a hit is one string compare. ---- */

static char crash_name[64];             /* the point to die at; "" when none */
static long crash_at;                   /* at its crash_at-th hit */
static atomic_long crash_hits;
static pthread_once_t crash_once = PTHREAD_ONCE_INIT;

static void crash_init(void)
{
	const char *v = getenv("MPBUILD_CRASH"), *colon;
	size_t len;
	char *end = NULL;

	if (!v || !*v)
		return;
	colon = strchr(v, ':');
	len = colon ? (size_t)(colon - v) : strlen(v);
	crash_at = colon ? strtol(colon + 1, &end, 10) : 1;
	if (len == 0 || len >= sizeof(crash_name) || crash_at < 1 || (colon && *end)) {
		warn("MPBUILD_CRASH=%s: expected NAME or NAME:N with N >= 1; ignored", v);
		return;
	}
	memcpy(crash_name, v, len);
	crash_name[len] = '\0';
}

void crashpoint(const char *name)
{
	pthread_once(&crash_once, crash_init);
	if (crash_name[0] && strcmp(name, crash_name) == 0 && atomic_fetch_add(&crash_hits, 1) + 1 == crash_at)
		raise(SIGKILL);
}

int tmp_orphaned(const char *name)
{
	const char *p = strstr(name, ".mpbuild-tmp.");
	char *end;
	long pid;

	if (!p)
		return 0;
	p += strlen(".mpbuild-tmp.");
	pid = strtol(p, &end, 10);
	if (end == p || *end || pid <= 0 || pid == (long)getpid())
		return 0;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

int tmp_sweep(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		struct stat st;
		char *p;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		p = path_join(dir, de->d_name);
		if (lstat(p, &st) == 0) {
			if (S_ISDIR(st.st_mode) && depth > 0)
				n += tmp_sweep(p, depth - 1);
			else if (S_ISREG(st.st_mode) && tmp_orphaned(de->d_name) && unlink(p) == 0)
				n++;
		}
		free(p);
	}
	closedir(d);
	return n;
}
