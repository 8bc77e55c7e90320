/* util.h: memory, errors, byte buffers, a string hash table and file helpers
 * shared by every module. */
#ifndef MPBUILD_UTIL_H
#define MPBUILD_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define PRINTF(a, b) __attribute__((format(printf, a, b)))
#define NORETURN __attribute__((noreturn))
#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* exit codes of SPEC section 7 */
enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,      /* a target failed */
	EXIT_BADINPUT = 2,    /* plans, settings, command line */
	EXIT_BUDGET = 3,      /* budget reached */
	EXIT_PROVIDER = 4,    /* provider unusable */
	EXIT_INTERRUPT = 130,
};

/* program name used as the prefix of messages */
extern const char *argv0;

/* print "mpbuild: warning: ..."; a format ending in ':' appends strerror(errno) */
void warn(const char *fmt, ...) PRINTF(1, 2);
/* print "mpbuild: ..." and exit with EXIT_BADINPUT; a trailing ':' appends strerror(errno) */
NORETURN void fatal(const char *fmt, ...) PRINTF(1, 2);
/* print "mpbuild: ..." and return -1, for library code that reports and goes on */
int error(const char *fmt, ...) PRINTF(1, 2);

/* allocation that dies on exhaustion */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PRINTF(1, 2);

/* a growable byte buffer; data is always NUL-terminated when len > 0 or after buf_str */
struct buffer {
	char *data;   /* bytes, owned */
	size_t len;   /* bytes used */
	size_t cap;   /* bytes allocated */
};

/* append n bytes */
void buf_add(struct buffer *b, const void *p, size_t n);
/* append a C string */
void buf_puts(struct buffer *b, const char *s);
/* append one byte */
void buf_putc(struct buffer *b, int c);
/* append formatted text */
void buf_printf(struct buffer *b, const char *fmt, ...) PRINTF(2, 3);
/* append formatted text from a va_list (ap is used up) */
void buf_vprintf(struct buffer *b, const char *fmt, va_list ap) PRINTF(2, 0);
/* the contents as a NUL-terminated string (never NULL) */
const char *buf_str(struct buffer *b);
/* take ownership of the contents as a malloc'd string; the buffer is reset */
char *buf_take(struct buffer *b);
/* forget the contents, keep the memory */
void buf_reset(struct buffer *b);
/* free the memory */
void buf_free(struct buffer *b);

/* where the calling thread's messages go instead of standard error while it
 * is set: error() and warn(), and yaml.c's file:line:col diagnostics.  A
 * caller that judges what it loads (a model's candidate plan) reads the
 * errors here instead of the person.  fatal() always prints.  Per thread, so
 * a worker of the task engine is never captured by another thread's sink. */
struct diag {
	struct buffer errors;   /* error lines, each ending in a newline */
	struct buffer warnings; /* warning lines, each ending in a newline */
	int nerrors, nwarnings; /* lines in each */
};
/* send the calling thread's messages to d (NULL: back to standard error);
 * returns the sink it replaces, for the caller to put back */
struct diag *diag_capture(struct diag *d);
/* one message line (without its newline): to the calling thread's sink, else standard error */
void diag_line(int warning, const char *line);
/* print d's warnings on standard error, where the person reads them, and forget them */
void diag_show_warnings(struct diag *d);
/* free d's buffers */
void diag_free(struct diag *d);

/* a string-keyed open-addressing hash table; keys are borrowed, not copied */
struct htab {
	const char **keys;  /* slot keys, NULL when empty */
	void **vals;        /* slot values */
	size_t cap;         /* slots, a power of two */
	size_t n;           /* keys stored */
};

/* the value for key, or NULL */
void *htab_get(const struct htab *h, const char *key);
/* the key the table holds that equals key (to free it, or to put a new
 * value without changing it), or NULL */
const char *htab_key(const struct htab *h, const char *key);
/* set key to val, returning the previous value or NULL; key must outlive the table */
void *htab_put(struct htab *h, const char *key, void *val);
/* free the slot arrays (not keys or values) */
void htab_free(struct htab *h);
/* htab_free for a table that owns its keys (malloc'd), and its values when
 * free_val is not NULL (called on each) */
void htab_free_owned(struct htab *h, void (*free_val)(void *));
/* FNV-1a hash of a string */
uint64_t hash_str(const char *s);

/* read a whole file into b (appending); -1 with errno set on failure, or
 * with errno EFBIG when it is larger than max bytes */
int read_file(const char *path, struct buffer *b, size_t max);
/* create name in dirfd (AT_FDCWD: the current directory), which must not
 * exist (O_CREAT|O_EXCL|O_NOFOLLOW: a temporary name that already exists is
 * an attack, not a leftover), write data and fsync it; 0, or -1 with errno
 * set and nothing left behind */
int write_new_at(int dirfd, const char *name, const void *data, size_t len);
/* write data to path atomically: temporary file in the same directory, fsync,
 * rename, fsync of the directory; creates parent directories; -1 on error */
int write_file_atomic(const char *path, const void *data, size_t len);
/* write_file_atomic, calling crashpoint(point) between the synced temporary
 * and the rename (write_file_atomic's point is "atomic-tmp") */
int write_file_atomic_cp(const char *path, const void *data, size_t len, const char *point);
/* 1 if name is a write_file_atomic temporary ("X.mpbuild-tmp.PID") whose
 * process has gone: a crash left it behind */
int tmp_orphaned(const char *name);
/* remove the orphaned temporaries in dir and in its subdirectories down to
 * depth levels; returns how many */
int tmp_sweep(const char *dir, int depth);
/* a fault-injection point for the crash tests: SIGKILL at the N-th hit of
 * NAME when the environment has MPBUILD_CRASH=NAME[:N] (N defaults to 1) */
void crashpoint(const char *name);
/* create dir and its parents (mode 0777 & ~umask); -1 on error */
int mkdirs(const char *dir);
/* fsync the directory holding path; -1 on error */
int fsync_parent(const char *path);
/* 1 if path exists (lstat) */
int path_exists(const char *path);
/* path joined with name; malloc'd */
char *path_join(const char *dir, const char *name);
/* the smallest edit distance between a and b, capped at max+1 */
size_t edit_distance(const char *a, const char *b, size_t max);
/* the closest of n candidates to word within a small distance, or NULL */
const char *closest(const char *word, const char *const *cands, size_t n);
/* monotonic time in seconds */
double now(void);
/* 1 if the glob pattern matches name (fnmatch, no special flags) */
int glob_match(const char *pat, const char *name);

#endif
