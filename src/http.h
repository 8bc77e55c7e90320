/* http.h: one HTTP exchange at a time over libcurl, for the model providers
 * (POST) and the remote cache (GET, PUT).  The only room that includes
 * curl/curl.h.  A transfer either yields a response (any status) or a
 * connection error; callers decide what a status means. */
#ifndef MPBUILD_HTTP_H
#define MPBUILD_HTTP_H

#include <stddef.h>
#include "util.h"

#define HTTP_STALL_DEFAULT 600      /* seconds without a byte before a transfer is abandoned */
#define HTTP_CONNECT_TIMEOUT 10     /* seconds to establish a connection */

/* one response header; names are lowercased, values trimmed */
struct http_header {
	char *name;
	char *value;
};

struct http_response {
	long status;                    /* HTTP status; 0 when no response arrived */
	struct buffer body;             /* the response body (NUL-terminated when not empty) */
	struct http_header *headers;    /* headers of the final response, in order */
	size_t nheaders;
	char *error;                    /* connection error message, NULL when a complete response arrived */
	int partial;                    /* a response started but the body was cut off */
	int unreachable;                /* no connection: refused, or the host name did not resolve */
	int streamed;                   /* the body went to the request's on_data, not into body */
	double elapsed;                 /* seconds from start to the end of the transfer */
};

/* one request; the body and headers are borrowed for the call */
struct http_request {
	const char *method;             /* "GET", "POST" or "PUT" */
	const char *url;
	const char *const *headers;     /* "Name: value" strings, NULL-terminated; may be NULL */
	const void *body;               /* request body for POST and PUT; may be NULL */
	size_t len;                     /* bytes of body */
	long stall;                     /* seconds without a byte before giving up; 0: HTTP_STALL_DEFAULT */
	size_t max;                     /* largest body accepted (streamed or not); 0: 256 MiB */
	/* a streamed answer (may be NULL): each chunk of a 2xx body whose
	 * content-type is text/event-stream goes here, split anywhere, instead of
	 * into res->body (other answers, error bodies say, are kept as usual);
	 * nonzero aborts the transfer.  Called on the calling thread */
	int (*on_data)(void *arg, const char *p, size_t n);
	void *data_arg;
};

/* initialise libcurl once per process (idempotent; call before starting threads) */
void http_global_init(void);
/* perform rq and fill *res (which the caller zeroed); 0 when a complete
 * response arrived, whatever its status; -1 with res->error set on a
 * connection error (refused, reset, timed out, stalled, cut-off body, aborted) */
int http_do(const struct http_request *rq, struct http_response *res);
/* POST body to url; as http_do */
int http_post(const char *url, const char *const *headers, const void *body, size_t len, long stall,
	      struct http_response *res);
/* GET url; as http_do */
int http_get(const char *url, const char *const *headers, long stall, struct http_response *res);
/* PUT body to url; as http_do */
int http_put(const char *url, const char *const *headers, const void *body, size_t len, long stall,
	     struct http_response *res);
/* the value of response header name (case-insensitive, last one wins), or NULL */
const char *http_header(const struct http_response *res, const char *name);
/* free what a response owns and zero it */
void http_response_free(struct http_response *res);
/* abort every transfer in flight and refuse new ones; async-signal-safe
 * (for a second Ctrl-C) */
void http_abort(void);
/* 1 if url is plain http to a loopback host (127.0.0.1, localhost, [::1]) */
int http_is_local(const char *url);

#endif
