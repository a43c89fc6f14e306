/*
 * acl.h -- ACL enforcement as handlers see it, and the ACL objects as
 * the family files (acl_token.c, acl_policy.c, acl_role.c, acl_misc.c)
 * share them.  The dispatcher calls acl_route_check() once per request
 * (token precedence, resolution through the per-worker snapshot, the
 * route's declared ACL); handlers whose answer depends on the object
 * call acl_require() / acl_allowed().
 */
#ifndef ACL_H
#define ACL_H

#include <stdint.h>

#include "portcullis.h"
#include "acl_rules.h"
#include "snap.h"

struct conf;
struct json_object;
struct req;
struct store;

#define ACL_ANONYMOUS_SECRET	"anonymous"
#define ACL_RESERVED_PREFIX	"00000000-0000-0000-0000-0000000000"
#define ACL_MGMT_POLICY_ID	"00000000-0000-0000-0000-000000000001"
/* Meta key: the bootstrap reset index, present once bootstrapped. */
#define ACL_META_BOOTSTRAP	"acl_bootstrap_index"

/* One token as the snapshot holds it (columns of sql/003-acl.sql). */
struct acl_token {
	char			*accessor_id;
	char			*secret_id;
	char			*description;
	struct json_object	*policies;	/* array of IDs, or NULL */
	struct json_object	*roles;		/* array of IDs, or NULL */
	struct json_object	*svcids;	/* ServiceIdentities, or NULL */
	struct json_object	*nodeids;	/* NodeIdentities, or NULL */
	int			 local;
	char			*auth_method;	/* "" unless login */
	char			*expiration_time;	/* NULL: never */
	int64_t			 expiration_ns;
	char			*create_time;
	char			*hash;
	uint64_t		 create_index;
	uint64_t		 modify_index;
	struct acl_authz	*authz;		/* compiled lazily (snapshot) */
	int			 refs;		/* snapshots holding it */
	uint64_t		 secret_h;	/* its bucket hash */
};

struct acl_policy {
	char			*id;
	char			*name;
	char			*description;
	char			*rules;
	struct json_object	*datacenters;	/* array, or NULL */
	char			*hash;
	uint64_t		 create_index;
	uint64_t		 modify_index;
	struct acl_policy_rules	*parsed;	/* snapshot only */
};

struct acl_role {
	char			*id;
	char			*name;
	char			*description;
	struct json_object	*policies;
	struct json_object	*svcids;
	struct json_object	*nodeids;
	char			*hash;
	uint64_t		 create_index;
	uint64_t		 modify_index;
};

/*
 * An immutable, reference-counted image of the three ACL tables,
 * replaced whole when one of their modify indexes moves.
 */
struct acl_snap {
	struct snap		 hdr;		/* first: snap.h */
	uint64_t		 idx[3];	/* tokens, policies, roles */
	struct acl_token	**tokens;	/* by AccessorID; shared
						   with patched snapshots */
	size_t			 ntokens;
	struct acl_policy	*policies;	/* by ID */
	size_t			 npolicies;
	struct acl_role		*roles;		/* by ID */
	size_t			 nroles;
	uint32_t		*buckets;	/* secret hash -> token + 1 */
	size_t			 nbuckets;
	int64_t			 next_expiry;	/* ns; INT64_MAX: none */
	int			 bootstrapped;	/* bootstrap or initial token */
	int			*pr_refs;	/* snapshots sharing the
						   policies and roles (and
						   so the authorizers) */
};

/* The request's resolved identity (arena), valid while a handler runs. */
struct acl_req {
	struct acl_snap		*snap;		/* referenced */
	const struct acl_token	*token;
	const struct acl_authz	*authz;
	const char		*accessor;	/* AccessorID */
};

/* Enforcement (acl.c). */
int	acl_resolve(struct req *, struct perr *) PC_MUSTCHECK;
int	acl_route_check(struct req *, struct perr *) PC_MUSTCHECK;
void	acl_release(struct req *);
int	acl_require(struct req *, enum acl_resource, enum acl_access,
	    const char *, struct perr *) PC_MUSTCHECK;
int	acl_allowed(struct req *, enum acl_resource, enum acl_access,
	    const char *);
int	acl_enabled(const struct req *);
int	acl_is_anonymous(const struct req *);
int	acl_intention_default_allow(struct req *);
const char *acl_req_secret(const struct req *);

/* The snapshot (acl.c). */
int	acl_snap_get(struct store *, const struct conf *, struct acl_snap **,
	    struct perr *) PC_MUSTCHECK;
void	acl_snap_put(struct acl_snap *);
int	acl_snap_build(struct store *, const struct acl_snap *,
	    struct acl_snap **, struct perr *) PC_MUSTCHECK;
const struct acl_token *acl_snap_token(const struct acl_snap *,
	    const char *);
const struct acl_token *acl_snap_token_secret(const struct acl_snap *,
	    const char *);
const struct acl_policy *acl_snap_policy(const struct acl_snap *,
	    const char *);
const struct acl_policy *acl_snap_policy_name(const struct acl_snap *,
	    const char *);
const struct acl_role *acl_snap_role(const struct acl_snap *, const char *);
const struct acl_role *acl_snap_role_name(const struct acl_snap *,
	    const char *);
struct acl_authz *acl_token_authz(struct acl_snap *, const struct conf *,
	    const struct acl_token *);
int	acl_token_expired(const struct acl_token *, int64_t);

/* Rows and objects shared by the family files (acl.c). */
void	acl_token_from_row(struct acl_token *, void *);
void	acl_token_clear(struct acl_token *);
void	acl_policy_from_row(struct acl_policy *, void *);
void	acl_policy_clear(struct acl_policy *);
void	acl_role_from_row(struct acl_role *, void *);
void	acl_role_clear(struct acl_role *);
struct json_object *acl_links_json(const struct acl_snap *,
	    struct json_object *, int);
struct json_object *acl_token_json(const struct acl_snap *,
	    const struct acl_token *, int);
struct json_object *acl_policy_json(const struct acl_policy *, int);
struct json_object *acl_role_json(const struct acl_snap *,
	    const struct acl_role *);
struct json_object *acl_jcopy(struct json_object *);
void	acl_hash(const char *const *, size_t, char [64]);
int64_t	acl_now_ns(void);
void	acl_time_format(int64_t, char [40]);
int	acl_time_parse(const char *, int64_t *);
const char *acl_json_text(struct req *, struct json_object *);
int	acl_name_valid(const char *);
int	acl_dc_allowed(struct json_object *, const char *);
int	acl_decode(struct req *, const void *, const char *, void *,
	    uint64_t *, const char *, struct perr *) PC_MUSTCHECK;
int	acl_uuid_lookup(const char *, const char *, struct perr *)
	    PC_MUSTCHECK;
int	acl_entmeta_query(struct req *, struct perr *) PC_MUSTCHECK;

/* Store start-up (acl_misc.c): builtins, anonymous, initial_management. */
int	acl_store_init(struct store *, const struct conf *, struct perr *)
	    PC_MUSTCHECK;

int	acl_policy_write(struct store *, const char *, const char *,
	    const char *, const char *, const char *, struct perr *)
	    PC_MUSTCHECK;

/* Handlers. */
int	acl_bootstrap(struct req *, struct perr *);
int	acl_replication(struct req *, struct perr *);
int	acl_translate(struct req *, struct perr *);
int	acl_translate_token(struct req *, struct perr *);
int	acl_missing_id(struct req *, struct perr *);
int	acl_token_create(struct req *, struct perr *);
int	acl_token_read(struct req *, struct perr *);
int	acl_token_self(struct req *, struct perr *);
int	acl_token_update(struct req *, struct perr *);
int	acl_token_clone(struct req *, struct perr *);
int	acl_token_delete(struct req *, struct perr *);
int	acl_token_list(struct req *, struct perr *);
int	acl_policy_create(struct req *, struct perr *);
int	acl_policy_read(struct req *, struct perr *);
int	acl_policy_read_name(struct req *, struct perr *);
int	acl_policy_update(struct req *, struct perr *);
int	acl_policy_delete(struct req *, struct perr *);
int	acl_policy_list(struct req *, struct perr *);
int	acl_role_create(struct req *, struct perr *);
int	acl_role_read(struct req *, struct perr *);
int	acl_role_read_name(struct req *, struct perr *);
int	acl_role_update(struct req *, struct perr *);
int	acl_role_delete(struct req *, struct perr *);
int	acl_role_list(struct req *, struct perr *);

/* A token made by login (acl_login.c): arrays borrowed, validated. */
struct acl_token_new {
	const char		*description;
	struct json_object	*policies;	/* array of IDs, or NULL */
	struct json_object	*roles;		/* array of IDs, or NULL */
	struct json_object	*svcids;	/* ServiceIdentities, or NULL */
	struct json_object	*nodeids;	/* NodeIdentities, or NULL */
	int			 local;
	const char		*auth_method;
	int64_t			 ttl_ns;	/* 0: never expires */
};
int	acl_token_insert(struct req *, const struct acl_token_new *,
	    char [37], struct perr *) PC_MUSTCHECK;
int	acl_token_reply(struct req *, const char *, struct perr *)
	    PC_MUSTCHECK;

/* Identities shared by tokens and roles (acl_token.c). */
int	acl_identities_check(struct req *, struct json_object *,
	    struct json_object *, const char *, int, struct json_object **,
	    struct json_object **, struct perr *) PC_MUSTCHECK;
int	acl_links_resolve(struct req *, struct json_object *, int,
	    struct json_object **, struct perr *) PC_MUSTCHECK;

#endif /* ACL_H */
