/* strbuf.h: a growable, always NUL-terminated byte string.  The buffer owns
 * its memory; sb_free releases it and leaves an empty, reusable buffer. */
#ifndef EXAMPLE_STRBUF_H
#define EXAMPLE_STRBUF_H

#include <stddef.h>

struct strbuf {
	char *data;     /* len bytes and a NUL; NULL until the first append */
	size_t len;     /* bytes in use, not counting the NUL */
	size_t cap;     /* bytes allocated */
};

/* an empty buffer that owns nothing yet */
#define STRBUF_INIT {NULL, 0, 0}

/* append n bytes of p; 0, or -1 when memory runs out (the buffer is unchanged) */
int sb_add(struct strbuf *sb, const void *p, size_t n);
/* append a NUL-terminated string; as sb_add */
int sb_puts(struct strbuf *sb, const char *s);
/* the contents as a C string, "" for an empty buffer (never NULL) */
const char *sb_str(const struct strbuf *sb);
/* release the memory; the buffer is empty and may be used again */
void sb_free(struct strbuf *sb);

#endif
