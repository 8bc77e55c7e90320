/* test_sse.c: the server-sent events decoder, fed whole and split at every
 * byte boundary: the same events must come out whatever the chunking. */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "sse.h"

/* events as "name=data|" in one string */
struct got {
	struct buffer b;
	int stop_after;         /* > 0: stop after this many events */
	int n;
};

static int on_event(void *arg, const char *name, const char *data, size_t len)
{
	struct got *g = arg;

	CHECK(strlen(data) == len);   /* NUL-terminated, no NUL inside here */
	buf_puts(&g->b, name);
	buf_putc(&g->b, '=');
	buf_add(&g->b, data, len);
	buf_putc(&g->b, '|');
	g->n++;
	return g->stop_after && g->n >= g->stop_after;
}

/* the events of stream s fed in chunks of k bytes (0: whole); caller frees */
static char *decode(const char *s, size_t k)
{
	struct sse d = {0};
	struct got g = {0};
	size_t n = strlen(s), i;

	if (!k)
		k = n ? n : 1;
	for (i = 0; i < n; i += k)
		sse_feed(&d, s + i, n - i < k ? n - i : k, on_event, &g);
	sse_free(&d);
	if (!g.b.len)
		return xstrdup("");
	return buf_take(&g.b);
}

/* s decodes to want whole and in every chunk size from 1 byte up */
static void same_split(const char *s, const char *want)
{
	size_t k, n = strlen(s);

	for (k = 0; k <= n; k++) {
		char *got = decode(s, k);

		if (strcmp(got, want) != 0) {
			printf("# chunks of %zu bytes\n", k);
			CHECK_STR(got, want);
			free(got);
			return;
		}
		free(got);
	}
}

TEST(anthropic_events_at_any_boundary)
{
	same_split("event: message_start\ndata: {\"type\":\"message_start\"}\n\n"
		   "event: ping\ndata: {\"type\": \"ping\"}\n\n"
		   "event: content_block_delta\ndata: {\"delta\":{\"text\":\"h\\u00e9 \xc3\xa9\"}}\n\n"
		   "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
		   "message_start={\"type\":\"message_start\"}|ping={\"type\": \"ping\"}|"
		   "content_block_delta={\"delta\":{\"text\":\"h\\u00e9 \xc3\xa9\"}}|"
		   "message_stop={\"type\":\"message_stop\"}|");
}

TEST(openai_data_only_and_done)
{
	same_split("data: {\"choices\":[]}\n\ndata: [DONE]\n\n", "message={\"choices\":[]}|message=[DONE]|");
}

TEST(line_ends_crlf_cr_lf)
{
	same_split("event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\rdata: 3\n\n", "a=1|b=2|message=3|");
}

TEST(fields_comments_and_multiline_data)
{
	/* a comment (keep-alive), id and retry ignored, data joined by \n, no
	 * space or two spaces after the colon, a field without a colon */
	same_split(": keep-alive\n\nid: 7\nretry: 100\ndata:x\ndata:  y\ndata\n\n", "message=x\n y\n|");
	/* an event with no data is not dispatched, and its name does not leak */
	same_split("event: lonely\n\ndata: z\n\n", "message=z|");
}

TEST(byte_order_mark)
{
	same_split("\xEF\xBB\xBF" "data: a\n\n", "message=a|");
}

TEST(cut_stream_keeps_the_incomplete_event_back)
{
	char *got = decode("data: a\n\ndata: b\n", 0);

	CHECK_STR(got, "message=a|");
	free(got);
	got = decode("data: a\n\ndata: b", 3);
	CHECK_STR(got, "message=a|");
	free(got);
}

TEST(callback_stops_the_feed)
{
	struct sse d = {0};
	struct got g = {0};
	const char *s = "data: 1\n\ndata: 2\n\ndata: 3\n\n";

	g.stop_after = 2;
	CHECK(sse_feed(&d, s, strlen(s), on_event, &g) == 1);
	CHECK(g.n == 2);
	CHECK_STR(buf_str(&g.b), "message=1|message=2|");
	buf_free(&g.b);
	sse_free(&d);
}
