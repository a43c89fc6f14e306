/*
 * routes.c -- THE routing table.  One row per endpoint: method,
 * pattern, handler, the ACL it needs, flags, and for blocking routes
 * the table whose index it waits on.  The dispatcher (http.c) does the
 * generic work each row's flags ask for; tests/unit/test_router.c
 * checks that every row declares an ACL and that no pattern shadows
 * another.
 *
 * ACLs (spec connect.md §8.3, acl.md §1.1): the dispatcher resolves
 * the token and enforces each row's ACL (acl.c: acl_route_check());
 * intention reads and writes depend on the intention's source or
 * destination, so their handlers check them (ACL_BY_HANDLER).
 */
#include "config.h"

#include <stddef.h>

#include "portcullis.h"
#include "http.h"
#include "acl.h"
#include "acl_auth_method.h"
#include "acl_binding_rule.h"
#include "acl_login.h"
#include "agent.h"
#include "agent_metrics.h"
#include "audit_api.h"
#include "authorize.h"
#include "ca.h"
#include "intention.h"
#include "leaf.h"
#include "router.h"
#include "status.h"

#define EM	R_ENTMETA
#define OB	R_OUTBOUND	/* calls identity providers (worker.c) */
#define AF	R_AUDITFAIL	/* failures audited too (audit.c) */
#define W_IXN	TBIT(TBL_INTENTIONS)
#define W_CA	(TBIT(TBL_CA_ROOTS) | TBIT(TBL_CA_CONFIG))
#define W_TOK	TBIT(TBL_ACL_TOKENS)
#define W_POL	TBIT(TBL_ACL_POLICIES)
#define W_ROLE	TBIT(TBL_ACL_ROLES)
#define W_LEAF	(TBIT(TBL_CA_LEAVES) | TBIT(TBL_CA_ROOTS))

const struct route routes[] = {
/*	 method		pattern					handler			acl		flags			watch */
	{ M_GET,	"/v1/connect/intentions",		intention_list,		ACL_BY_HANDLER,	R_BLOCKING | EM,	W_IXN },
	{ M_POST,	"/v1/connect/intentions",		intention_create,	ACL_BY_HANDLER,	R_BODY | EM,		WATCH_NONE },
	{ M_GET,	"/v1/connect/intentions/exact",		intention_read_exact,	ACL_BY_HANDLER,	R_BLOCKING | EM,	W_IXN },
	{ M_PUT,	"/v1/connect/intentions/exact",		intention_put_exact,	ACL_BY_HANDLER,	R_BODY | EM,		WATCH_NONE },
	{ M_DELETE,	"/v1/connect/intentions/exact",		intention_delete_exact,	ACL_BY_HANDLER,	EM,			WATCH_NONE },
	{ M_GET,	"/v1/connect/intentions/check",		intention_check,	ACL_BY_HANDLER,	EM,			WATCH_NONE },
	{ M_GET,	"/v1/connect/intentions/match",		intention_match,	ACL_BY_HANDLER,	R_BLOCKING | EM,	W_IXN },
	{ M_GET,	"/v1/connect/intentions/:id",		intention_read_id,	ACL_BY_HANDLER,	R_BLOCKING,		W_IXN },
	{ M_PUT,	"/v1/connect/intentions/:id",		intention_update_id,	ACL_BY_HANDLER,	R_BODY | EM,		WATCH_NONE },
	{ M_DELETE,	"/v1/connect/intentions/:id",		intention_delete_id,	ACL_BY_HANDLER,	0,			WATCH_NONE },

	/* Connect CA, leaf certificates, authorize */
	{ M_GET,	"/v1/connect/ca/roots",			ca_roots,		ACL_NONE,	R_BLOCKING,		W_CA },
	{ M_GET,	"/v1/connect/ca/configuration",		ca_config_get,		ACL_OPERATOR_WRITE, R_NOMETA,		WATCH_NONE },
	{ M_PUT,	"/v1/connect/ca/configuration",		ca_config_put,		ACL_OPERATOR_WRITE, R_BODY,		WATCH_NONE },
	{ M_POST,	"/v1/connect/ca/sign",			ca_sign,		ACL_BY_HANDLER,	0,			WATCH_NONE },
	{ M_PUT,	"/v1/connect/ca/revoke",		ca_revoke,		ACL_OPERATOR_WRITE, R_BODY,		WATCH_NONE },
	{ M_GET,	"/v1/connect/ca/crl",			ca_crl,			ACL_NONE,	R_NOMETA,		WATCH_NONE },
	{ M_GET,	"/v1/agent/connect/ca/roots",		ca_agent_roots,		ACL_NONE,	R_BLOCKING,		W_CA },
	{ M_GET,	"/v1/agent/connect/ca/leaf/:service",	leaf_get,		ACL_BY_HANDLER,	R_BLOCKING | R_LONGWAIT | EM, W_LEAF },
	{ M_POST,	"/v1/agent/connect/authorize",		authorize,		ACL_BY_HANDLER,	R_BODY | EM,		WATCH_NONE },

	/* ACL (acl.md §1.1): acl:read for reads, acl:write for writes */
	{ M_PUT,	"/v1/acl/bootstrap",			acl_bootstrap,		ACL_NONE,	0,			WATCH_NONE },
	{ M_GET,	"/v1/acl/replication",			acl_replication,	ACL_NONE,	R_NOMETA,		WATCH_NONE },
	{ M_POST,	"/v1/acl/rules/translate",		acl_translate,		ACL_BY_HANDLER,	0,			WATCH_NONE },
	{ M_GET,	"/v1/acl/rules/translate/:accessor_id",	acl_translate_token,	ACL_BY_HANDLER,	R_NOMETA,		WATCH_NONE },
	{ M_PUT,	"/v1/acl/token",			acl_token_create,	ACL_ACL_WRITE,	R_BODY | EM,		WATCH_NONE },
	{ M_GET,	"/v1/acl/token/self",			acl_token_self,		ACL_NONE,	R_BLOCKING | EM,	W_TOK },
	{ M_GET,	"/v1/acl/token/",			acl_missing_id,		ACL_NONE,	EM,			WATCH_NONE },
	{ M_PUT,	"/v1/acl/token/",			acl_token_update,	ACL_ACL_WRITE,	R_BODY | EM,		WATCH_NONE },
	{ M_DELETE,	"/v1/acl/token/",			acl_missing_id,		ACL_NONE,	EM,			WATCH_NONE },
	{ M_GET,	"/v1/acl/token/:id",			acl_token_read,		ACL_ACL_READ,	R_BLOCKING | EM,	W_TOK },
	{ M_PUT,	"/v1/acl/token/:id",			acl_token_update,	ACL_ACL_WRITE,	R_BODY | EM,		WATCH_NONE },
	{ M_DELETE,	"/v1/acl/token/:id",			acl_token_delete,	ACL_ACL_WRITE,	EM,			WATCH_NONE },
	{ M_PUT,	"/v1/acl/token/:id/clone",		acl_token_clone,	ACL_ACL_WRITE,	R_BODY | EM,		WATCH_NONE },
	{ M_GET,	"/v1/acl/tokens",			acl_token_list,		ACL_ACL_READ,	R_BLOCKING | EM,	W_TOK },
	{ M_PUT,	"/v1/acl/policy",			acl_policy_create,	ACL_ACL_WRITE,	R_BODY | EM,		WATCH_NONE },
	{ M_GET,	"/v1/acl/policy/",			acl_missing_id,		ACL_NONE,	EM,			WATCH_NONE },
	{ M_DELETE,	"/v1/acl/policy/",			acl_missing_id,		ACL_NONE,	EM,			WATCH_NONE },
	{ M_GET,	"/v1/acl/policy/:id",			acl_policy_read,	ACL_ACL_READ,	R_BLOCKING | EM,	W_POL },
	{ M_PUT,	"/v1/acl/policy/:id",			acl_policy_update,	ACL_ACL_WRITE,	R_BODY | EM,		WATCH_NONE },
	{ M_DELETE,	"/v1/acl/policy/:id",			acl_policy_delete,	ACL_ACL_WRITE,	EM,			WATCH_NONE },
	{ M_GET,	"/v1/acl/policy/name/",			acl_missing_id,		ACL_NONE,	EM,			WATCH_NONE },
	{ M_GET,	"/v1/acl/policy/name/*name",		acl_policy_read_name,	ACL_ACL_READ,	R_BLOCKING | EM,	W_POL },
	{ M_GET,	"/v1/acl/policies",			acl_policy_list,	ACL_ACL_READ,	R_BLOCKING | EM,	W_POL },
	{ M_PUT,	"/v1/acl/role",				acl_role_create,	ACL_ACL_WRITE,	R_BODY | EM,		WATCH_NONE },
	{ M_GET,	"/v1/acl/role/",			acl_missing_id,		ACL_NONE,	EM,			WATCH_NONE },
	{ M_DELETE,	"/v1/acl/role/",			acl_missing_id,		ACL_NONE,	EM,			WATCH_NONE },
	{ M_GET,	"/v1/acl/role/:id",			acl_role_read,		ACL_ACL_READ,	R_BLOCKING | EM,	W_ROLE },
	{ M_PUT,	"/v1/acl/role/:id",			acl_role_update,	ACL_ACL_WRITE,	R_BODY | EM,		WATCH_NONE },
	{ M_DELETE,	"/v1/acl/role/:id",			acl_role_delete,	ACL_ACL_WRITE,	EM,			WATCH_NONE },
	{ M_GET,	"/v1/acl/role/name/",			acl_missing_id,		ACL_NONE,	EM,			WATCH_NONE },
	{ M_GET,	"/v1/acl/role/name/:name",		acl_role_read_name,	ACL_ACL_READ,	R_BLOCKING | EM,	W_ROLE },
	{ M_GET,	"/v1/acl/roles",			acl_role_list,		ACL_ACL_READ,	R_BLOCKING | EM,	W_ROLE },

	/* ACL auth methods, binding rules, login (acl.md §6-9) */
	{ M_PUT,	"/v1/acl/binding-rule",			acl_binding_rule_create, ACL_ACL_WRITE,	R_BODY | EM,		WATCH_NONE },
	{ M_GET,	"/v1/acl/binding-rule/",		acl_binding_rule_missing, ACL_NONE,	EM,			WATCH_NONE },
	{ M_PUT,	"/v1/acl/binding-rule/",		acl_binding_rule_create, ACL_ACL_WRITE,	R_BODY | EM,		WATCH_NONE },
	{ M_DELETE,	"/v1/acl/binding-rule/",		acl_binding_rule_missing, ACL_NONE,	EM,			WATCH_NONE },
	{ M_GET,	"/v1/acl/binding-rule/:id",		acl_binding_rule_read,	ACL_ACL_READ,	R_BLOCKING | EM,	TBIT(TBL_ACL_BINDING_RULES) },
	{ M_PUT,	"/v1/acl/binding-rule/:id",		acl_binding_rule_update, ACL_ACL_WRITE,	R_BODY | EM,		WATCH_NONE },
	{ M_DELETE,	"/v1/acl/binding-rule/:id",		acl_binding_rule_delete, ACL_ACL_WRITE,	EM,			WATCH_NONE },
	{ M_GET,	"/v1/acl/binding-rules",		acl_binding_rule_list,	ACL_ACL_READ,	R_BLOCKING | EM,	TBIT(TBL_ACL_BINDING_RULES) },
	{ M_PUT,	"/v1/acl/auth-method",			acl_auth_method_create,	ACL_ACL_WRITE,	R_BODY | EM | OB,	WATCH_NONE },
	{ M_GET,	"/v1/acl/auth-method/",			acl_auth_method_missing, ACL_NONE,	EM,			WATCH_NONE },
	{ M_PUT,	"/v1/acl/auth-method/",			acl_auth_method_create,	ACL_ACL_WRITE,	R_BODY | EM | OB,	WATCH_NONE },
	{ M_DELETE,	"/v1/acl/auth-method/",			acl_auth_method_missing, ACL_NONE,	EM,			WATCH_NONE },
	{ M_GET,	"/v1/acl/auth-method/:name",		acl_auth_method_read,	ACL_ACL_READ,	R_BLOCKING | EM,	TBIT(TBL_ACL_AUTH_METHODS) },
	{ M_PUT,	"/v1/acl/auth-method/:name",		acl_auth_method_update,	ACL_ACL_WRITE,	R_BODY | EM | OB,	WATCH_NONE },
	{ M_DELETE,	"/v1/acl/auth-method/:name",		acl_auth_method_delete,	ACL_ACL_WRITE,	EM,			WATCH_NONE },
	{ M_GET,	"/v1/acl/auth-methods",			acl_auth_method_list,	ACL_ACL_READ,	R_BLOCKING | EM,	TBIT(TBL_ACL_AUTH_METHODS) },
	{ M_POST,	"/v1/acl/login",			acl_login,		ACL_NONE,	R_BODY | EM | OB | AF,	WATCH_NONE },
	{ M_POST,	"/v1/acl/logout",			acl_logout,		ACL_NONE,	0,			WATCH_NONE },
	{ M_POST,	"/v1/acl/oidc/auth-url",		acl_oidc_auth_url,	ACL_NONE,	R_BODY | EM | OB,	WATCH_NONE },
	{ M_POST,	"/v1/acl/oidc/callback",		acl_oidc_callback,	ACL_NONE,	R_BODY | EM | OB | AF,	WATCH_NONE },

	/* Status and the agent itself (node table: node.c) */
	{ M_GET,	"/v1/status/leader",			status_leader,		ACL_NONE,	R_NOMETA,		WATCH_NONE },
	{ M_GET,	"/v1/status/peers",			status_peers,		ACL_NONE,	R_NOMETA,		WATCH_NONE },
	{ M_GET,	"/v1/status/store",			status_store,		ACL_NONE,	R_NOMETA,		WATCH_NONE },
	{ M_GET,	"/v1/agent/self",			agent_self,		ACL_BY_HANDLER,	R_NOMETA,		WATCH_NONE },
	{ M_GET,	"/v1/agent/members",			agent_members,		ACL_BY_HANDLER,	R_NOMETA | EM,		WATCH_NONE },
	/* Agent metrics (agent:read on the node, checked by the handler) */
	{ M_GET,	"/v1/agent/metrics",			agent_metrics,		ACL_BY_HANDLER,	R_NOMETA,		WATCH_NONE },

	/* Extension: the audit log (audit.c) */
	{ M_GET,	"/v1/operator/audit",			audit_list,		ACL_OPERATOR_READ, R_BLOCKING,		TBIT(TBL_AUDIT) },
};

const size_t nroutes = sizeof(routes) / sizeof(routes[0]);
