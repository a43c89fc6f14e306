/*
 * http.h -- one request: parsed input, the reply being built, and the
 * helpers handlers use to read parameters.  Only http.c writes to the
 * FastCGI stream.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stdint.h>

#include "portcullis.h"

struct acl_req;
struct json_object;
struct route;
struct store;
struct worker;

enum method {
	M_GET,
	M_PUT,
	M_POST,
	M_DELETE,
	M_OPTIONS,
	M__MAX
};

struct kv {
	const char	*key;
	const char	*val;
};

#define REQ_MAX_PARAMS	4
#define REQ_MAX_HEADERS	8

struct req {
	struct arena		*arena;
	struct worker		*worker;	/* process-wide state */
	struct store		*store;		/* this thread's connection */
	void			*fcgi;		/* FCGX_Request * */

	/* Input. */
	enum method		 method;
	const char		*method_name;	/* as sent */
	const char		*path;		/* percent-decoded, no query */
	struct kv		*query;		/* decoded ?k=v pairs */
	size_t			 nquery;
	const char		*hdr_token;	/* X-Consul-Token */
	const char		*hdr_auth;	/* Authorization */
	const char		*hdr_ns;	/* X-Consul-Namespace */
	const char		*hdr_partition;	/* X-Consul-Partition */
	const char		*remote_addr;
	char			*body;		/* NUL-terminated */
	size_t			 bodylen;
	struct json_object	*json;		/* decoded body (R_BODY) */
	const struct route	*route;
	struct acl_req		*acl;		/* resolved token (acl.c) */
	struct kv		 params[REQ_MAX_PARAMS];	/* :name */
	size_t			 nparams;

	/* Blocking (?index=&wait=). */
	uint64_t		 min_index;	/* 0: answer at once */
	int64_t			 deadline_ms;	/* monotonic */

	/* Reply. */
	int			 status;	/* 200 unless set */
	struct json_object	*reply;		/* JSON body, owned */
	char			*raw;		/* non-JSON body (arena) */
	size_t			 rawlen;
	const char		*content_type;	/* for raw */
	uint64_t		 index;		/* X-Consul-Index */
	int			 meta_headers;	/* send index/leader headers */
	struct kv		 headers[REQ_MAX_HEADERS];	/* extra */
	size_t			 nheaders;
};

const char	*req_query(const struct req *, const char *);
int		 req_query_has(const struct req *, const char *);
size_t		 req_query_all(const struct req *, const char *,
		    const char **, size_t);
const char	*req_param(const struct req *, const char *);
void		 req_header(struct req *, const char *, const char *);
int		 req_query_bool(const struct req *, const char *, int *,
		    struct perr *) PC_MUSTCHECK;

/* Writing and parsing the FastCGI request (http.c). */
struct worker;
int		 http_read(struct req *, struct perr *) PC_MUSTCHECK;
void		 http_reply(struct req *, const struct perr *);
char		*http_render_json(struct json_object *, int, size_t *);
void		 http_dispatch(struct req *);
int		 http_run_handler(struct req *, struct perr *);
int		 http_parse_query(struct req *, const char *, struct perr *)
		    PC_MUSTCHECK;
int		 http_check_common(struct req *, struct perr *) PC_MUSTCHECK;
void		 http_set_deadline(struct req *);

/* Helpers shared by parsers. */
int		 url_decode(char *, int);
enum method	 method_from_name(const char *);
const char	*method_name(enum method);

#endif /* HTTP_H */
