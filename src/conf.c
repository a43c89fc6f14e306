/*
 * conf.c -- load the configuration file.  HCL (or JSON when the file
 * name ends in .json), parsed by hcl.c into a json-c tree and walked
 * with a key table per block.  Unknown keys and wrong types are errors
 * naming the key, so a typo never silently falls back to a default.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "conf.h"
#include "hcl.h"
#include "util.h"

enum ktype { K_STR, K_INT, K_BOOL, K_BLOCK, K_RAW };

struct key {
	const char	*name;
	enum ktype	 type;
	size_t		 off;		/* into struct conf */
	const struct key *block;	/* K_BLOCK */
};

#define O(f)	offsetof(struct conf, f)

static const struct key acl_tokens_keys[] = {
	{ "initial_management", K_STR, O(acl.initial_management), NULL },
	{ "master", K_STR, O(acl.initial_management), NULL },
	{ "default", K_STR, O(acl.default_token), NULL },
	{ "agent", K_STR, O(acl.agent_token), NULL },
	{ NULL, 0, 0, NULL }
};

static const struct key acl_login_keys[] = {
	{ "max_failures_per_address", K_INT, O(acl.login.max_fail_addr), NULL },
	{ "max_failures_per_method", K_INT, O(acl.login.max_fail_method),
	    NULL },
	{ "window_seconds", K_INT, O(acl.login.window_s), NULL },
	{ "outbound_timeout_ms", K_INT, O(acl.login.timeout_ms), NULL },
	{ "oidc_state_ttl_seconds", K_INT, O(acl.login.state_ttl_s), NULL },
	{ NULL, 0, 0, NULL }
};

static const struct key acl_keys[] = {
	{ "enabled", K_BOOL, O(acl.enabled), NULL },
	{ "default_policy", K_STR, O(acl.default_policy), NULL },
	{ "down_policy", K_STR, O(acl.down_policy), NULL },
	{ "enable_token_persistence", K_BOOL,
	    O(acl.enable_token_persistence), NULL },
	{ "hash_secrets", K_BOOL, O(acl.hash_secrets), NULL },
	{ "tokens", K_BLOCK, 0, acl_tokens_keys },
	{ "login", K_BLOCK, 0, acl_login_keys },
	{ NULL, 0, 0, NULL }
};

static const struct key ca_key_keys[] = {
	{ "pkcs11_module", K_STR, O(connect.ca_key.pkcs11_module), NULL },
	{ "pkcs11_url", K_STR, O(connect.ca_key.pkcs11_url), NULL },
	{ "pin_file", K_STR, O(connect.ca_key.pin_file), NULL },
	{ NULL, 0, 0, NULL }
};

static const struct key seal_keys[] = {
	{ "key_file", K_STR, O(seal.key_file), NULL },
	{ "key_env", K_STR, O(seal.key_env), NULL },
	{ NULL, 0, 0, NULL }
};

static const struct key connect_keys[] = {
	{ "enabled", K_BOOL, O(connect.enabled), NULL },
	{ "ca_key", K_BLOCK, 0, ca_key_keys },
	{ "ca_config", K_RAW, O(connect.ca_config), NULL },
	{ "authorize_trust_domain_check", K_BOOL,
	    O(connect.authorize_td_check), NULL },
	{ NULL, 0, 0, NULL }
};

static const struct key telemetry_keys[] = {
	{ "disable", K_BOOL, O(telemetry.disable), NULL },
	{ NULL, 0, 0, NULL }
};

static const struct key store_keys[] = {
	{ "backend", K_STR, O(store.backend), NULL },
	{ "dsn", K_STR, O(store.dsn), NULL },
	{ "sync", K_STR, O(store.sync), NULL },
	{ NULL, 0, 0, NULL }
};

static const struct key audit_keys[] = {
	{ "sink_file", K_STR, O(audit.sink_file), NULL },
	{ "sink_stdout", K_BOOL, O(audit.sink_stdout), NULL },
	{ "sink_max_bytes", K_INT, O(audit.sink_max_bytes), NULL },
	{ "retention_max_count", K_INT, O(audit.max_count), NULL },
	{ "retention_max_age", K_STR, O(audit.max_age), NULL },
	{ NULL, 0, 0, NULL }
};

static const struct key top_keys[] = {
	{ "datacenter", K_STR, O(datacenter), NULL },
	{ "node_name", K_STR, O(node_name), NULL },
	{ "advertise_addr", K_STR, O(advertise_addr), NULL },
	{ "heartbeat_interval_ms", K_INT, O(heartbeat_ms), NULL },
	{ "heartbeat_timeout_ms", K_INT, O(heartbeat_timeout_ms), NULL },
	{ "data_dir", K_STR, O(data_dir), NULL },
	{ "socket", K_STR, O(socket), NULL },
	{ "workers", K_INT, O(workers), NULL },
	{ "threads", K_INT, O(threads), NULL },
	{ "max_body_bytes", K_INT, O(max_body), NULL },
	{ "log_debug", K_BOOL, O(log_debug), NULL },
	{ "default_intention_policy", K_STR, O(default_intention_policy),
	    NULL },
	{ "acl", K_BLOCK, 0, acl_keys },
	{ "connect", K_BLOCK, 0, connect_keys },
	{ "store", K_BLOCK, 0, store_keys },
	{ "seal", K_BLOCK, 0, seal_keys },
	{ "telemetry", K_BLOCK, 0, telemetry_keys },
	{ "audit", K_BLOCK, 0, audit_keys },
	{ NULL, 0, 0, NULL }
};

static int
walk(struct conf *c, struct json_object *obj, const struct key *keys,
    const char *where, struct perr *e)
{
	const struct key	*k;
	char			**sp;
	int64_t			 v;

	if (!json_object_is_type(obj, json_type_object))
		return perr_set(e, 400, "%s must be a block", where);
	json_object_object_foreach(obj, name, val) {
		for (k = keys; k->name != NULL; k++)
			if (strcmp(k->name, name) == 0)
				break;
		if (k->name == NULL)
			return perr_set(e, 400, "unknown key \"%s\"%s%s", name,
			    *where ? " in " : "", where);
		switch (k->type) {
		case K_STR:
			if (!json_object_is_type(val, json_type_string))
				return perr_set(e, 400,
				    "%s must be a string", name);
			sp = (char **)((char *)c + k->off);
			free(*sp);
			*sp = xstrdup(json_object_get_string(val));
			break;
		case K_INT:
			if (!json_object_is_type(val, json_type_int))
				return perr_set(e, 400,
				    "%s must be an integer", name);
			v = json_object_get_int64(val);
			if (k->off == O(max_body))
				c->max_body = v;
			else
				*(int *)((char *)c + k->off) = (int)v;
			break;
		case K_BOOL:
			if (!json_object_is_type(val, json_type_boolean))
				return perr_set(e, 400,
				    "%s must be true or false", name);
			*(int *)((char *)c + k->off) =
			    json_object_get_boolean(val);
			break;
		case K_RAW:
			if (!json_object_is_type(val, json_type_object))
				return perr_set(e, 400,
				    "%s must be a block", name);
			json_object_put(c->connect.ca_config);
			c->connect.ca_config = json_object_get(val);
			break;
		case K_BLOCK:
			if (walk(c, val, k->block, name, e) == -1)
				return -1;
			break;
		}
	}
	return 0;
}

/*
 * Whether s is "a.b.c.d:port" or "[v6]:port" with a port 1-65535: the
 * advertise_addr form, which /v1/status/leader hands out verbatim.
 */
static int
addr_valid(const char *s)
{
	unsigned char	 buf[16];
	char		 host[64];
	const char	*colon;
	char		*end;
	size_t		 n;
	long		 port;
	int		 v6 = s[0] == '[';

	if ((colon = strrchr(s, ':')) == NULL || colon == s)
		return 0;
	n = (size_t)(colon - s);
	if (v6 && (n < 3 || s[n - 1] != ']'))
		return 0;
	if (v6) {
		s++;
		n -= 2;
	}
	if (n >= sizeof(host))
		return 0;
	memcpy(host, s, n);
	host[n] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, host, buf) != 1)
		return 0;
	if (colon[1] < '0' || colon[1] > '9')
		return 0;
	port = strtol(colon + 1, &end, 10);
	return *end == '\0' && port >= 1 && port <= 65535;
}

static int
validate(struct conf *c, struct perr *e)
{
	int64_t	ns;

	if (c->data_dir == NULL || *c->data_dir == '\0')
		return perr_set(e, 400, "data_dir is required");
	if (c->workers < 1 || c->workers > 64)
		return perr_set(e, 400, "workers must be between 1 and 64");
	if (c->threads < 1 || c->threads > 256)
		return perr_set(e, 400, "threads must be between 1 and 256");
	if (c->max_body < 1024)
		return perr_set(e, 400, "max_body_bytes must be >= 1024");
	if (strcmp(c->acl.default_policy, "allow") != 0 &&
	    strcmp(c->acl.default_policy, "deny") != 0)
		return perr_set(e, 400,
		    "acl.default_policy must be \"allow\" or \"deny\"");
	if (strcmp(c->acl.down_policy, "allow") != 0 &&
	    strcmp(c->acl.down_policy, "deny") != 0 &&
	    strcmp(c->acl.down_policy, "extend-cache") != 0 &&
	    strcmp(c->acl.down_policy, "async-cache") != 0)
		return perr_set(e, 400, "acl.down_policy must be one of "
		    "allow, deny, extend-cache, async-cache");
	if (c->default_intention_policy != NULL &&
	    strcmp(c->default_intention_policy, "allow") != 0 &&
	    strcmp(c->default_intention_policy, "deny") != 0)
		return perr_set(e, 400,
		    "default_intention_policy must be \"allow\" or \"deny\"");
	if (c->acl.login.max_fail_addr < 0 || c->acl.login.max_fail_method < 0)
		return perr_set(e, 400, "acl.login.max_failures_* must be >= 0");
	if (c->acl.login.window_s < 1 || c->acl.login.window_s > 86400)
		return perr_set(e, 400,
		    "acl.login.window_seconds must be between 1 and 86400");
	if (c->acl.login.timeout_ms < 100 || c->acl.login.timeout_ms > 120000)
		return perr_set(e, 400, "acl.login.outbound_timeout_ms must be "
		    "between 100 and 120000");
	if (c->acl.login.state_ttl_s < 1 || c->acl.login.state_ttl_s > 3600)
		return perr_set(e, 400, "acl.login.oidc_state_ttl_seconds must "
		    "be between 1 and 3600");
	/* Never quote the DSN here: it may hold a password. */
	if (strcmp(c->store.backend, "sqlite") != 0 &&
	    strcmp(c->store.backend, "postgres") != 0)
		return perr_set(e, 400,
		    "store.backend must be \"sqlite\" or \"postgres\"");
	if (strcmp(c->store.backend, "sqlite") == 0 && c->store.dsn != NULL)
		return perr_set(e, 400,
		    "store.dsn is only for store.backend \"postgres\"");
	if (c->seal.key_file != NULL && c->seal.key_env != NULL)
		return perr_set(e, 400,
		    "seal: set key_file or key_env, not both");
	if (c->connect.ca_key.pkcs11_module != NULL &&
	    c->connect.ca_key.pkcs11_url == NULL)
		return perr_set(e, 400,
		    "connect.ca_key: pkcs11_module needs pkcs11_url");
	if (c->heartbeat_ms < 100 || c->heartbeat_ms > 60000)
		return perr_set(e, 400,
		    "heartbeat_interval_ms must be between 100 and 60000");
	if (c->heartbeat_timeout_ms < 2 * c->heartbeat_ms ||
	    c->heartbeat_timeout_ms > 86400000)
		return perr_set(e, 400, "heartbeat_timeout_ms must be at least "
		    "twice heartbeat_interval_ms (and at most a day)");
	if (c->advertise_addr != NULL && !addr_valid(c->advertise_addr))
		return perr_set(e, 400, "advertise_addr must be \"ip:port\" "
		    "(an IPv4 address, or [IPv6], and a port 1-65535)");
	if (c->advertise_addr == NULL)
		c->advertise_addr = xstrdup(CONF_ADVERTISE_DEFAULT);
	if (c->audit.sink_max_bytes < 0 || c->audit.max_count < 0)
		return perr_set(e, 400, "audit.sink_max_bytes and "
		    "audit.retention_max_count must be >= 0");
	if (c->audit.max_age != NULL) {
		if (duration_parse(c->audit.max_age, &ns) == -1 ||
		    ns < 1000000000)
			return perr_set(e, 400, "audit.retention_max_age must "
			    "be a duration of at least 1s (\"720h\")");
		c->audit.max_age_s = ns / 1000000000;
	}
	if (strcmp(c->store.sync, "full") != 0 &&
	    strcmp(c->store.sync, "normal") != 0)
		return perr_set(e, 400,
		    "store.sync must be \"full\" or \"normal\"");
	if (c->socket == NULL)
		xasprintf(&c->socket, "%s/portcullis.sock", c->data_dir);
	return 0;
}

/*
 * Parse configuration text (HCL, or JSON when is_json).  Returns 0 and
 * a new conf in *out, or -1 with a 400 naming the problem.
 */
int
conf_parse(const char *text, size_t len, int is_json, struct conf **out,
    struct perr *e)
{
	struct json_object	*root = NULL;
	struct json_tokener	*tok;
	struct conf		*c;

	if (is_json) {
		tok = json_tokener_new();
		root = json_tokener_parse_ex(tok, text, (int)len);
		if (root == NULL || tok->char_offset != (int)len)
			perr_set(e, 400, "invalid JSON: %s",
			    json_tokener_error_desc(
			    json_tokener_get_error(tok)));
		json_tokener_free(tok);
		if (e->status)
			return -1;
	} else if (hcl_parse(text, len, &root, e) == -1)
		return -1;

	c = xcalloc(1, sizeof(*c));
	c->datacenter = xstrdup("dc1");
	c->workers = 2;
	c->threads = 4;
	c->max_body = 1 << 20;
	c->heartbeat_ms = 2000;
	c->heartbeat_timeout_ms = 15000;
	c->acl.default_policy = xstrdup("allow");
	c->acl.down_policy = xstrdup("extend-cache");
	c->acl.login.max_fail_addr = 10;
	c->acl.login.max_fail_method = 100;
	c->acl.login.window_s = 60;
	c->acl.login.timeout_ms = 10000;
	c->acl.login.state_ttl_s = 600;
	c->connect.enabled = 1;
	c->connect.authorize_td_check = 1;
	c->store.backend = xstrdup("sqlite");
	c->store.sync = xstrdup("full");
	if (walk(c, root, top_keys, "", e) == -1 || validate(c, e) == -1) {
		json_object_put(root);
		conf_free(c);
		return -1;
	}
	json_object_put(root);
	if (c->node_name == NULL)
		c->node_name = xstrdup("portcullis");
	*out = c;
	return 0;
}

/* Load the file at path.  Errors name the file. */
int
conf_load(const char *path, struct conf **out, struct perr *e)
{
	FILE		*f;
	char		*buf;
	size_t		 n, len;
	int		 rc;

	if ((f = fopen(path, "r")) == NULL)
		return perr_set(e, 400, "%s: %s", path, strerror(errno));
	buf = NULL;
	len = 0;
	for (;;) {
		buf = xrealloc(buf, len + 4096 + 1);
		n = fread(buf + len, 1, 4096, f);
		len += n;
		if (n < 4096)
			break;
		if (len > (1 << 20)) {
			fclose(f);
			free(buf);
			return perr_set(e, 400, "%s: too large", path);
		}
	}
	fclose(f);
	buf[len] = '\0';
	n = strlen(path);
	rc = conf_parse(buf, len, n > 5 && strcmp(path + n - 5, ".json") == 0,
	    out, e);
	free(buf);
	if (rc == -1)
		return perr_prefix(e, "%s: ", path);
	(*out)->path = xstrdup(path);
	return 0;
}

void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	free(c->path);
	free(c->datacenter);
	free(c->node_name);
	free(c->advertise_addr);
	free(c->data_dir);
	free(c->socket);
	free(c->default_intention_policy);
	free(c->acl.default_policy);
	free(c->acl.down_policy);
	secret_free(c->acl.initial_management);
	secret_free(c->acl.default_token);
	secret_free(c->acl.agent_token);
	free(c->store.backend);
	free(c->store.sync);
	secret_free(c->store.dsn);
	free(c->seal.key_file);
	free(c->seal.key_env);
	free(c->connect.ca_key.pkcs11_module);
	free(c->connect.ca_key.pkcs11_url);
	free(c->connect.ca_key.pin_file);
	json_object_put(c->connect.ca_config);
	free(c->audit.sink_file);
	free(c->audit.max_age);
	free(c);
}

/* 1 when a request that no rule decides is allowed. */
int
conf_acl_default_allow(const struct conf *c)
{
	return !c->acl.enabled || strcmp(c->acl.default_policy, "allow") == 0;
}

/*
 * The decision when no intention matches (spec §6.6): the
 * default_intention_policy option if set, else the ACL default
 * policy; allow while ACLs are disabled.  It depends on the config
 * alone, so acl.c asks here rather than the intentions family.
 */
int
conf_intention_default_allow(const struct conf *c)
{
	if (c->default_intention_policy != NULL)
		return strcmp(c->default_intention_policy, "allow") == 0;
	return conf_acl_default_allow(c);
}
