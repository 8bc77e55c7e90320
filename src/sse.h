/* sse.h: an incremental decoder of server-sent events (text/event-stream, as
 * the WHATWG HTML standard defines it), for streamed model answers.  Pure:
 * bytes in, events out, no I/O. */
#ifndef MPBUILD_SSE_H
#define MPBUILD_SSE_H

#include "util.h"

/* the state carried from one chunk to the next; zero it to start */
struct sse {
	struct buffer line;     /* the line read so far (its end not seen yet) */
	struct buffer name;     /* the event field of the event being built */
	struct buffer data;     /* its data fields, joined by "\n" */
	int has_data;           /* a data field was seen */
	int after_cr;           /* the last byte was a CR: a LF right after it ends nothing */
	int started;            /* past the optional byte order mark */
};

/* called once per complete event: name is its event field ("message" when
 * it had none), data its data fields joined by "\n", NUL-terminated, len
 * bytes; both are valid only during the call.  Nonzero stops sse_feed */
typedef int (*sse_event_fn)(void *arg, const char *name, const char *data, size_t len);

/* feed n bytes of the stream, split anywhere (inside a line, a field name, a
 * CRLF or a UTF-8 sequence), and call fn for each event they complete, in
 * order.  Lines end in LF, CR or CRLF; a line starting with ':' is a comment
 * (a keep-alive); a field without ':' has an empty value; one space after
 * the ':' is dropped; id and retry fields and unknown fields are ignored; an
 * event is dispatched at a blank line, and one without data fields is not
 * dispatched.  Returns 0, or fn's nonzero value (the rest of the chunk is
 * then not read).  What an incomplete last event holds is never dispatched:
 * a cut stream ends without it */
int sse_feed(struct sse *s, const char *p, size_t n, sse_event_fn fn, void *arg);
/* free what s holds and zero it */
void sse_free(struct sse *s);

#endif
