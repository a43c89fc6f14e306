/*
 * authmethod.h -- the auth method types (kubernetes, jwt, oidc): Config
 * validation, bearer token verification into an identity, BindName
 * interpolation and the OIDC authorization-code helpers.  Independent
 * of the store.  Documentation lives in authmethod.c.
 */
#ifndef AUTHMETHOD_H
#define AUTHMETHOD_H

#include <stddef.h>
#include <stdint.h>

#include "portcullis.h"

struct json_object;
struct bexpr_field;

enum authmethod_type {
	AM_KUBERNETES,
	AM_JWT,
	AM_OIDC,
	AM__MAX
};

/* authmethod_load() flags */
#define AM_LOAD_REMOTE	0x01	/* fetch JWKSURL / OIDCDiscoveryURL now */

#define AM_STATE_LEN	40	/* hex characters of an OIDC state, nonce */

struct authmethod;		/* a parsed, validated method */

/* Who the bearer token proved to be. */
struct authmethod_identity {
	struct json_object	*fields;	/* selector input */
	struct json_object	*vars;		/* BindName variables: strings */
};

/* Outbound limits for every auth method request. */
struct authmethod_net {
	long		 connect_ms;
	long		 timeout_ms;
	size_t		 max_bytes;
	int64_t		 cache_ttl_ms;	/* discovery documents and JWKS */
};

int	 authmethod_type_parse(const char *);
int	 authmethod_duration(const char *, int64_t *, char *, size_t)
	    PC_MUSTCHECK;
void	 authmethod_set_net(const struct authmethod_net *);

int	 authmethod_load(const char *, const char *, struct json_object *,
	    int, struct authmethod **, struct perr *) PC_MUSTCHECK;
void	 authmethod_free(struct authmethod *);
enum authmethod_type authmethod_type(const struct authmethod *);

const struct bexpr_field *authmethod_selector_fields(enum authmethod_type);
struct authmethod_identity *authmethod_identity_new(const struct authmethod *);
void	 authmethod_identity_free(struct authmethod_identity *);

int	 authmethod_verify(const struct authmethod *, const char *,
	    struct authmethod_identity **, struct perr *) PC_MUSTCHECK;

int	 authmethod_bind_name(const char *, struct json_object *, char **,
	    struct perr *) PC_MUSTCHECK;

int	 authmethod_redirect_allowed(const struct authmethod *, const char *);
void	 authmethod_oidc_state(char [AM_STATE_LEN + 1],
	    char [AM_STATE_LEN + 1]);
int	 authmethod_oidc_auth_url(const struct authmethod *, const char *,
	    const char *, const char *, char **, struct perr *) PC_MUSTCHECK;
int	 authmethod_oidc_callback(const struct authmethod *, const char *,
	    const char *, const char *, struct authmethod_identity **,
	    struct perr *) PC_MUSTCHECK;

#endif /* AUTHMETHOD_H */
