/*
 * fetch.h -- outbound HTTPS (libcurl, GnuTLS build) for the auth
 * methods: Kubernetes TokenReview, JWKS, OIDC discovery and token
 * endpoints; plus a small TTL cache of fetched documents.
 * Documentation lives in fetch.c.
 */
#ifndef FETCH_H
#define FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "portcullis.h"

#define FETCH_CONNECT_MS	5000		/* default connect timeout */
#define FETCH_TIMEOUT_MS	10000		/* default total timeout */
#define FETCH_MAXBYTES		(1024 * 1024)	/* default response cap */

struct fetch_req {
	const char	*method;	/* "GET" (default) or "POST" */
	const char	*url;		/* http:// or https:// */
	const char	*ca_pem;	/* trust only these CAs; NULL: system */
	const char	*bearer;	/* Authorization: Bearer; NULL: none */
	const char	*basic_user;	/* Authorization: Basic; NULL: none */
	const char	*basic_pass;
	const char	*content_type;	/* of body */
	const char	*body;		/* POST body */
	size_t		 body_len;
	long		 connect_ms;	/* 0: FETCH_CONNECT_MS */
	long		 timeout_ms;	/* 0: FETCH_TIMEOUT_MS */
	size_t		 max_bytes;	/* 0: FETCH_MAXBYTES */
};

struct fetch_resp {
	long		 status;	/* HTTP status */
	char		*body;		/* NUL-terminated, owned */
	size_t		 len;
};

struct fetch_cache;

int	 fetch_do(const struct fetch_req *, struct fetch_resp *,
	    struct perr *) PC_MUSTCHECK;
void	 fetch_resp_clear(struct fetch_resp *);
char	*fetch_urlencode(const char *);
char	*fetch_form(const char *const *);

struct fetch_cache *fetch_cache_new(int64_t, size_t);
int	 fetch_cached(struct fetch_cache *, const struct fetch_req *,
	    struct fetch_resp *, struct perr *) PC_MUSTCHECK;
void	 fetch_cache_forget(struct fetch_cache *, const char *);
void	 fetch_cache_free(struct fetch_cache *);

#endif /* FETCH_H */
