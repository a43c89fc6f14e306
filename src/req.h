/*
 * req.h -- the request type every layer shares: struct req (parsed
 * input, the reply being built), the process context it points to
 * (struct worker: the config, the cluster ID), and the accessors
 * handlers use (req.c).  Parsing and replying are the pipeline's
 * (http.h); the families and acl.c need only this header.
 */
#ifndef REQ_H
#define REQ_H

#include <pthread.h>
#include <stdint.h>

#include "portcullis.h"

struct acl_req;
struct conf;
struct jfield;
struct json_object;
struct route;
struct store;

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
	int64_t			 start_us;	/* metrics_now() at arrival */
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

/*
 * The worker process a request runs in (req->worker).  worker.c sets
 * it up and owns it; handlers read conf and cluster_id only.
 */

/* Outbound pool (R_OUTBOUND routes), per worker: threads, queue slots. */
#define WORKER_OUTBOUND_THREADS	16
#define WORKER_OUTBOUND_QUEUE	64

struct worker {
	struct conf	*conf;
	int		 slot;
	int		 listen_fd;
	int		 ep;		/* epoll: listen_fd + idle kept conns */
	_Atomic unsigned char *idle;	/* [fd]: 1 while fd waits, kept */
	int		 nidle;		/* fds idle[] covers */
	_Atomic int	 nconn;		/* connections open, kept or busy */
	int		 accept_max;	/* nconn past which others accept */
	int		 accept_off;	/* listen_fd out of ep (accept_mtx) */
	pthread_mutex_t	 accept_mtx;
	volatile int	 drained;	/* drain over: accept threads stop */
	char		 cluster_id[64];
	char		*db_path;	/* <data_dir>/portcullis.db */
	volatile int	 draining;	/* SIGTERM: __atomic_* */

	/* Outbound pool: requests waiting in ob_q, run by ob_th. */
	pthread_mutex_t	 ob_mtx;
	pthread_cond_t	 ob_cond;
	struct req	*ob_q[WORKER_OUTBOUND_QUEUE];	/* ring */
	int		 ob_head, ob_n;
	int		 ob_stop;	/* drained: threads exit when empty */
	pthread_t	 ob_th[WORKER_OUTBOUND_THREADS];
};

const char	*req_query(const struct req *, const char *);
int		 req_query_has(const struct req *, const char *);
size_t		 req_query_all(const struct req *, const char *,
		    const char **, size_t);
const char	*req_param(const struct req *, const char *);
void		 req_header(struct req *, const char *, const char *);
int		 req_query_bool(const struct req *, const char *, int *,
		    struct perr *) PC_MUSTCHECK;
int		 req_decode_body(struct req *, const struct jfield *,
		    const char *, void *, uint64_t *, struct perr *)
		    PC_MUSTCHECK;
enum method	 method_from_name(const char *);
const char	*method_name(enum method);

#endif /* REQ_H */
