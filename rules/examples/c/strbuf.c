/* strbuf.c: the growable string of strbuf.h.  Capacity doubles, so n appends
 * cost O(n) amortised; every size computation is checked for overflow. */
#include "strbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* make room for `more` bytes and the NUL; -1 when that overflows or fails */
static int grow(struct strbuf *sb, size_t more)
{
	size_t need, cap;
	char *p;

	if (more > SIZE_MAX - sb->len - 1)
		return -1;
	need = sb->len + more + 1;
	if (need <= sb->cap)
		return 0;
	cap = sb->cap ? sb->cap : 16;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(sb->data, cap);     /* through p: on failure sb->data stays valid */
	if (!p)
		return -1;
	sb->data = p;
	sb->cap = cap;
	return 0;
}

int sb_add(struct strbuf *sb, const void *p, size_t n)
{
	if (grow(sb, n) < 0)
		return -1;
	if (n)
		memcpy(sb->data + sb->len, p, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
	return 0;
}

int sb_puts(struct strbuf *sb, const char *s)
{
	return sb_add(sb, s, strlen(s));
}

const char *sb_str(const struct strbuf *sb)
{
	return sb->data ? sb->data : "";
}

void sb_free(struct strbuf *sb)
{
	free(sb->data);
	sb->data = NULL;
	sb->len = 0;
	sb->cap = 0;
}
