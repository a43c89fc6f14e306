/*
 * acl_rules.h -- Consul's ACL rule language and the authorizer compiled
 * from a set of policies: parsing and validation of rules, merging,
 * decisions, the 403 texts, builtin and synthetic policies (acl_rules.c),
 * and the legacy (pre-1.4) rule translation (acl_translate.c).  No
 * HTTP, no SQLite.
 */
#ifndef ACL_RULES_H
#define ACL_RULES_H

#include <stddef.h>

#include "portcullis.h"

struct json_object;

#define ACL_ANONYMOUS_ACCESSOR_ID	"00000000-0000-0000-0000-000000000002"

/* Resources as Consul names them in checks and in 403 texts. */
enum acl_resource {
	ACL_RES_ACL,
	ACL_RES_AGENT,
	ACL_RES_EVENT,
	ACL_RES_INTENTION,
	ACL_RES_KEY,
	ACL_RES_KEYRING,
	ACL_RES_MESH,
	ACL_RES_NODE,
	ACL_RES_OPERATOR,
	ACL_RES_PEERING,
	ACL_RES_QUERY,
	ACL_RES_SERVICE,
	ACL_RES_SESSION,
	ACL_RES__MAX
};

/* Access levels a check asks for; list and write-prefix: key only. */
enum acl_access {
	ACL_ACCESS_READ,
	ACL_ACCESS_LIST,
	ACL_ACCESS_WRITE,
	ACL_ACCESS_WRITE_PREFIX,	/* key subtree (recursive delete) */
	ACL_ACCESS__MAX
};

enum acl_decision {
	ACL_DENY,
	ACL_ALLOW,
	ACL_DEFAULT		/* no rule decided: ask the next authorizer */
};

/* The static authorizer at the end of the chain (acl.default_policy). */
enum acl_default_policy {
	ACL_DEFAULT_ALLOW,	/* all but acl:* */
	ACL_DEFAULT_DENY,
	ACL_DEFAULT_MANAGE	/* everything, acl:* included */
};

enum acl_builtin {
	ACL_BUILTIN_GLOBAL_MANAGEMENT,
	ACL_BUILTIN_GLOBAL_READ_ONLY,
	ACL_BUILTIN__MAX
};

struct acl_builtin_policy {
	const char	*id;
	const char	*name;
	const char	*description;
	const char	*rules;		/* HCL, byte for byte as in Consul */
	const char	*rules_json;	/* the same rules in JSON form */
};

extern const struct acl_builtin_policy acl_builtins[ACL_BUILTIN__MAX];

/* A policy synthesized from a service or node identity. */
struct acl_synthetic_policy {
	char	*id;
	char	*name;
	char	*description;
	char	*rules;
};

struct acl_policy_rules;
struct acl_authz;

int	 acl_rules_parse(struct json_object *, struct acl_policy_rules **,
	    struct perr *) PC_MUSTCHECK;
int	 acl_rules_parse_text(const char *, size_t, struct acl_policy_rules **,
	    struct perr *) PC_MUSTCHECK;
struct acl_policy_rules *acl_rules_builtin(enum acl_builtin);
struct acl_policy_rules *acl_rules_service_identity(const char *);
struct acl_policy_rules *acl_rules_node_identity(const char *);
void	 acl_rules_free(struct acl_policy_rules *);

void	 acl_synthetic_service_identity(const char *,
	    struct acl_synthetic_policy *);
void	 acl_synthetic_node_identity(const char *,
	    struct acl_synthetic_policy *);
void	 acl_synthetic_policy_clear(struct acl_synthetic_policy *);

struct acl_authz *acl_authz_new(const struct acl_policy_rules *const *,
	    size_t, enum acl_default_policy);
struct acl_authz *acl_authz_ref(struct acl_authz *);
void	 acl_authz_free(struct acl_authz *);

enum acl_decision acl_authz_decide(const struct acl_authz *,
	    enum acl_resource, enum acl_access, const char *);
enum acl_decision acl_authz_check(const struct acl_authz *,
	    enum acl_resource, enum acl_access, const char *);
int	 acl_authz_require(const struct acl_authz *, const char *,
	    enum acl_resource, enum acl_access, const char *, struct perr *)
	    PC_MUSTCHECK;
int	 acl_authz_intention_default_allow(const struct acl_authz *);
int	 acl_enforce(const struct acl_authz *, const char *, const char *,
	    const char *, int *, struct perr *) PC_MUSTCHECK;
int	 acl_denied(struct perr *, const char *, enum acl_resource,
	    enum acl_access, const char *);

const char *acl_resource_name(enum acl_resource);
const char *acl_access_name(enum acl_access);
int	 acl_resource_parse(const char *, enum acl_resource *);
int	 acl_access_parse(const char *, enum acl_access *);
const char *acl_rules_prefix_word(const char *);

int	 acl_rules_translate_legacy(const char *, size_t, char **,
	    struct perr *) PC_MUSTCHECK;

/* A growable string: acl_rules.c's, shared with acl_translate.c. */
struct acl_sbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

void	 acl_rules_sb_putn(struct acl_sbuf *, const char *, size_t);
void	 acl_rules_sb_puts(struct acl_sbuf *, const char *);
void	 acl_rules_sb_putc(struct acl_sbuf *, char);
char	*acl_rules_sb_take(struct acl_sbuf *);

#endif /* ACL_RULES_H */
