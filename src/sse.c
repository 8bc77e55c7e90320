/* sse.c: server-sent events, decoded as they arrive (see sse.h).  Each line
 * is gathered in s->line until its end is seen, so a chunk boundary may fall
 * anywhere; a CR at the end of one chunk and a LF at the start of the next
 * are one line end. */
#include "sse.h"

#include <string.h>

/* one complete line (without its end) */
static int line(struct sse *s, const char *l, size_t n, sse_event_fn fn, void *arg)
{
	const char *colon;
	size_t fl, vl;
	const char *v;
	int rc = 0;

	if (n == 0) {
		/* a blank line dispatches the event */
		if (s->has_data) {
			if (s->data.len && s->data.data[s->data.len - 1] == '\n')
				s->data.len--;
			rc = fn(arg, s->name.len ? buf_str(&s->name) : "message", buf_str(&s->data), s->data.len);
		}
		s->name.len = s->data.len = 0;
		s->has_data = 0;
		return rc;
	}
	if (l[0] == ':')
		return 0;
	colon = memchr(l, ':', n);
	fl = colon ? (size_t)(colon - l) : n;
	v = colon ? colon + 1 : l + n;
	vl = (size_t)(l + n - v);
	if (vl && *v == ' ')
		v++, vl--;
	if (fl == 4 && memcmp(l, "data", 4) == 0) {
		buf_add(&s->data, v, vl);
		buf_putc(&s->data, '\n');
		s->has_data = 1;
	} else if (fl == 5 && memcmp(l, "event", 5) == 0) {
		s->name.len = 0;
		buf_add(&s->name, v, vl);
	}
	return 0;
}

int sse_feed(struct sse *s, const char *p, size_t n, sse_event_fn fn, void *arg)
{
	size_t i = 0;

	/* a UTF-8 byte order mark may open the stream, split like anything else;
	 * bytes that turn out not to be one stay as the first line's start */
	while (!s->started && i < n) {
		static const char bom[] = "\xEF\xBB\xBF";

		if (p[i] != bom[s->line.len]) {
			s->started = 1;
			break;
		}
		buf_putc(&s->line, p[i++]);
		if (s->line.len == 3) {
			s->line.len = 0;
			s->started = 1;
		}
	}
	while (i < n) {
		const char *start = p + i, *end = p + n, *q = start;
		int rc;

		if (s->after_cr && *q == '\n') {
			s->after_cr = 0;
			i++;
			continue;
		}
		s->after_cr = 0;
		while (q < end && *q != '\n' && *q != '\r')
			q++;
		if (q == end) {
			buf_add(&s->line, start, (size_t)(end - start));
			return 0;
		}
		if (s->line.len) {
			buf_add(&s->line, start, (size_t)(q - start));
			rc = line(s, s->line.data, s->line.len, fn, arg);
			s->line.len = 0;
		} else {
			rc = line(s, start, (size_t)(q - start), fn, arg);
		}
		s->after_cr = *q == '\r';
		i = (size_t)(q - p) + 1;
		if (rc)
			return rc;
	}
	return 0;
}

void sse_free(struct sse *s)
{
	buf_free(&s->line);
	buf_free(&s->name);
	buf_free(&s->data);
	memset(s, 0, sizeof(*s));
}
