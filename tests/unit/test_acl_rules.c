/*
 * test_acl_rules.c -- unit tests for src/acl_rules.c.
 *
 * Cases are data in tests/unit/data:
 *   acl_decisions.txt   policies, authorizers and one check per line;
 *   acl_validation.txt  rules (JSON) and the error Consul gives, if any;
 *   acl_translate.txt   legacy rules and their translation.
 * The data directory is argv[1], else $srcdir/tests/unit/data, else
 * tests/unit/data relative to the current directory.  Choices made where
 * the spec leaves a question open are tests named after the choice.
 * HCL forms of rules go through src/hcl.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "acl_rules.h"
#include "hcl.h"
#include "tap.h"

#define MAXNAMED	256

struct named_rules {
	char			*name;
	struct acl_policy_rules	*rules;
};

struct named_authz {
	char			*name;
	struct acl_authz	*authz;
};

static struct named_rules	policies[MAXNAMED];
static size_t			npolicies;
static struct named_authz	authzs[MAXNAMED];
static size_t			nauthzs;
static char			datadir[1024];

static FILE *
data_open(const char *file)
{
	char	path[1200];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", datadir, file);
	if ((f = fopen(path, "r")) == NULL) {
		printf("Bail out! cannot open %s\n", path);
		exit(1);
	}
	return f;
}

static void
find_datadir(int argc, char *argv[])
{
	const char	*srcdir;
	char		 probe[1200];
	FILE		*f;

	if (argc > 1) {
		snprintf(datadir, sizeof(datadir), "%s", argv[1]);
		return;
	}
	if ((srcdir = getenv("srcdir")) != NULL) {
		snprintf(datadir, sizeof(datadir), "%s/tests/unit/data",
		    srcdir);
		snprintf(probe, sizeof(probe), "%s/acl_decisions.txt",
		    datadir);
		if ((f = fopen(probe, "r")) != NULL) {
			fclose(f);
			return;
		}
	}
	snprintf(datadir, sizeof(datadir), "tests/unit/data");
}

static void
chomp(char *s)
{
	size_t	n;

	n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

static struct acl_policy_rules *
rules_json(const char *json, struct perr *e)
{
	struct acl_policy_rules	*r;
	struct json_object	*tree;
	enum json_tokener_error	 jerr;

	tree = json_tokener_parse_verbose(json, &jerr);
	if (tree == NULL && strcmp(json, "null") != 0) {
		perr_set(e, 0, "bad JSON in test data: %s", json);
		return NULL;
	}
	if (acl_rules_parse(tree, &r, e) == -1)
		r = NULL;
	json_object_put(tree);
	return r;
}

static struct acl_policy_rules *
policy_lookup(const char *name)
{
	size_t	i;

	for (i = 0; i < npolicies; i++)
		if (strcmp(policies[i].name, name) == 0)
			return policies[i].rules;
	return NULL;
}

static struct acl_authz *
authz_lookup(const char *name)
{
	size_t	i;

	for (i = 0; i < nauthzs; i++)
		if (strcmp(authzs[i].name, name) == 0)
			return authzs[i].authz;
	return NULL;
}

/* A policy reference of the data file, made on first use. */
static struct acl_policy_rules *
policy_ref(const char *ref)
{
	struct acl_policy_rules	*r;

	if ((r = policy_lookup(ref)) != NULL)
		return r;
	if (strcmp(ref, "builtin:global-management") == 0)
		r = acl_rules_builtin(ACL_BUILTIN_GLOBAL_MANAGEMENT);
	else if (strcmp(ref, "builtin:global-read-only") == 0)
		r = acl_rules_builtin(ACL_BUILTIN_GLOBAL_READ_ONLY);
	else if (strncmp(ref, "svc:", 4) == 0)
		r = acl_rules_service_identity(ref + 4);
	else if (strncmp(ref, "node:", 5) == 0)
		r = acl_rules_node_identity(ref + 5);
	else
		return NULL;
	policies[npolicies].name = xstrdup(ref);
	policies[npolicies++].rules = r;
	return r;
}

static enum acl_default_policy
default_parse(const char *s)
{
	if (strcmp(s, "deny") == 0)
		return ACL_DEFAULT_DENY;
	if (strcmp(s, "manage") == 0)
		return ACL_DEFAULT_MANAGE;
	return ACL_DEFAULT_ALLOW;
}

static const char *
decision_word(enum acl_decision d)
{
	return d == ACL_ALLOW ? "allow" : d == ACL_DENY ? "deny" : "default";
}

/* Decision tables: acl_decisions.txt. */
static void
test_decisions(void)
{
	const struct acl_policy_rules	*set[64];
	struct acl_policy_rules		*r;
	struct acl_authz		*a;
	struct perr			 e;
	enum acl_resource		 res;
	enum acl_access			 acc;
	enum acl_decision		 got, want, gotf, wantf;
	char				 line[4096], *p, *f[6], *tok, *save;
	const char			*name;
	size_t				 n, ncases = 0;
	int				 lineno = 0, nf;
	FILE				*fp;

	fp = data_open("acl_decisions.txt");
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		chomp(line);
		for (p = line; *p == ' ' || *p == '\t'; p++)
			continue;
		if (*p == '#' || *p == '\0')
			continue;
		if (strncmp(p, "policy ", 7) == 0) {
			p += 7;
			tok = p;
			p = strchr(p, ' ');
			if (p == NULL) {
				ok(0, "acl_decisions.txt:%d: bad policy",
				    lineno);
				continue;
			}
			*p++ = '\0';
			perr_clear(&e);
			r = rules_json(p, &e);
			ok(r != NULL, "decisions: policy %s parses%s%s", tok,
			    r == NULL ? ": " : "", r == NULL ? e.msg : "");
			if (r == NULL)
				continue;
			policies[npolicies].name = xstrdup(tok);
			policies[npolicies++].rules = r;
			continue;
		}
		nf = 0;
		for (tok = strtok_r(p, " \t", &save); tok != NULL && nf < 6;
		    tok = strtok_r(NULL, " \t", &save))
			f[nf++] = tok;
		if (strcmp(f[0], "authz") == 0) {
			if (nf != 4) {
				ok(0, "acl_decisions.txt:%d: bad authz",
				    lineno);
				continue;
			}
			n = 0;
			if (strcmp(f[3], "-") != 0)
				for (tok = strtok_r(f[3], ",", &save);
				    tok != NULL; tok = strtok_r(NULL, ",",
				    &save)) {
					set[n] = policy_ref(tok);
					if (set[n] == NULL) {
						ok(0, "acl_decisions.txt:%d: "
						    "unknown policy %s", lineno,
						    tok);
						break;
					}
					n++;
				}
			authzs[nauthzs].name = xstrdup(f[1]);
			authzs[nauthzs++].authz = acl_authz_new(set, n,
			    default_parse(f[2]));
			continue;
		}
		if (nf != 5 || (a = authz_lookup(f[0])) == NULL ||
		    acl_resource_parse(f[1], &res) == -1 ||
		    acl_access_parse(f[2], &acc) == -1) {
			ok(0, "acl_decisions.txt:%d: bad line", lineno);
			continue;
		}
		name = strcmp(f[3], "-") == 0 ? "" : f[3];
		if (strncmp(f[4], "default:", 8) == 0) {
			want = ACL_DEFAULT;
			wantf = strcmp(f[4] + 8, "allow") == 0 ? ACL_ALLOW :
			    ACL_DENY;
		} else {
			want = wantf = strcmp(f[4], "allow") == 0 ? ACL_ALLOW :
			    ACL_DENY;
		}
		got = acl_authz_decide(a, res, acc, name);
		gotf = acl_authz_check(a, res, acc, name);
		ncases++;
		ok(got == want && gotf == wantf, "decision %d: %s %s:%s on "
		    "\"%s\" is %s", lineno, f[0], f[1], f[2], name, f[4]);
		if (got != want || gotf != wantf)
			printf("#   got %s (final %s)\n", decision_word(got),
			    decision_word(gotf));
	}
	fclose(fp);
	ok(ncases >= 100, "at least 100 decision cases (%zu)", ncases);
}

/* Validation on write: acl_validation.txt, "<json> => ok|<status> <msg>". */
static void
test_validation(void)
{
	struct acl_policy_rules	*r;
	struct perr		 e;
	char			 line[4096], *sep, *want;
	int			 lineno = 0, status;
	FILE			*fp;

	fp = data_open("acl_validation.txt");
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		chomp(line);
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if ((sep = strstr(line, " => ")) == NULL) {
			ok(0, "acl_validation.txt:%d: no \" => \"", lineno);
			continue;
		}
		*sep = '\0';
		want = sep + 4;
		perr_clear(&e);
		r = rules_json(line, &e);
		if (strcmp(want, "ok") == 0) {
			ok(r != NULL, "validation %d: %s is accepted", lineno,
			    line);
			if (r == NULL)
				printf("#   got %d %s\n", e.status, e.msg);
		} else {
			status = atoi(want);
			want = strchr(want, ' ') + 1;
			ok(r == NULL && e.status == status &&
			    strcmp(e.msg, want) == 0, "validation %d: %s is "
			    "refused with %d", lineno, line, status);
			if (r != NULL || strcmp(e.msg, want) != 0)
				printf("#   got %d \"%s\"\n#  want \"%s\"\n",
				    e.status, e.msg, want);
		}
		acl_rules_free(r);
	}
	fclose(fp);
}

/* n nested blocks (HCL) or objects (JSON) around one assignment. */
static char *
nested(int n, int json)
{
	char	*s, *w;
	int	 i;

	w = s = xmalloc((size_t)n * 8 + 32);
	if (json)
		w += sprintf(w, "{");
	for (i = 0; i < n; i++)
		w += sprintf(w, json ? "\"k\":{" : "k {");
	w += sprintf(w, json ? "\"policy\":\"read\"" : "policy = \"read\"");
	for (i = 0; i < n; i++)
		w += sprintf(w, "}");
	if (json)
		w += sprintf(w, "}");
	return s;
}

/*
 * Deep nesting: the legacy parser used to recurse without a bound and
 * a large input overflowed a worker's stack.  It now stops where the
 * policy parser (hcl.c) stops, with a 400.
 */
static void
test_translate_depth(void)
{
	struct perr		 e;
	struct json_object	*tree;
	char			*src, *got;
	int			 n, json, tr, pol;

	for (json = 0; json <= 1; json++) {
		for (n = HCL_MAX_DEPTH - 3; n <= HCL_MAX_DEPTH + 1; n++) {
			src = nested(n, json);
			perr_clear(&e);
			tr = acl_rules_translate_legacy(src, strlen(src), &got,
			    &e);
			free(got);
			perr_clear(&e);
			tree = NULL;
			pol = hcl_parse(src, strlen(src), &tree, &e);
			json_object_put(tree);
			ok(tr == pol, "translate and the policy parser agree "
			    "on %d nested %s", n, json ? "objects" : "blocks");
			free(src);
		}
		src = nested(200000, json);
		perr_clear(&e);
		got = NULL;
		tr = acl_rules_translate_legacy(src, strlen(src), &got, &e);
		ok(tr == -1 && e.status == 400 && strstr(e.msg,
		    "nesting too deep (more than 100 levels)") != NULL,
		    "translate refuses 200000 nested %s with a 400",
		    json ? "objects" : "blocks");
		if (tr == -1)
			printf("#   %s\n", e.msg);
		free(got);
		free(src);
	}
}

/* Legacy translation: acl_translate.txt. */
static void
test_translate(void)
{
	struct perr	 e;
	char		 line[4096], *name = NULL, *got;
	struct {
		char	*p;
		size_t	 len;
	} in = { NULL, 0 }, want = { NULL, 0 };
	int		 part = 0, eof;
	FILE		*fp;

	fp = data_open("acl_translate.txt");
	for (;;) {
		eof = fgets(line, sizeof(line), fp) == NULL;
		if (eof || strncmp(line, "===", 3) == 0) {
			if (name != NULL) {
				if (want.len > 0)
					want.p[--want.len] = '\0';
				perr_clear(&e);
				if (acl_rules_translate_legacy(in.p ? in.p : "",
				    in.len, &got, &e) == -1) {
					got = NULL;
				}
				if (want.p != NULL && want.p[0] == '!') {
					ok(got == NULL && e.status == 400 &&
					    strcmp(e.msg, want.p + 1) == 0,
					    "translate: %s fails", name);
					if (got != NULL ||
					    strcmp(e.msg, want.p + 1) != 0)
						printf("#   got \"%s\"\n",
						    got ? got : e.msg);
				} else
					is_str(got, want.p ? want.p : "",
					    "translate: %s", name);
				free(got);
				free(name);
				free(in.p);
				free(want.p);
				in.p = want.p = NULL;
				in.len = want.len = 0;
				name = NULL;
			}
			if (eof)
				break;
			chomp(line);
			name = xstrdup(line[3] == ' ' ? line + 4 : line + 3);
			part = 0;
			continue;
		}
		if (name == NULL)
			continue;
		if (strcmp(line, "---\n") == 0) {
			part = 1;
			continue;
		}
		if (part == 0) {
			in.p = xrealloc(in.p, in.len + strlen(line) + 1);
			memcpy(in.p + in.len, line, strlen(line) + 1);
			in.len += strlen(line);
		} else {
			want.p = xrealloc(want.p, want.len + strlen(line) + 1);
			memcpy(want.p + want.len, line, strlen(line) + 1);
			want.len += strlen(line);
		}
	}
	fclose(fp);
}

/* The 403 text of a refused check, or "(allowed)". */
static const char *
denied(const struct acl_authz *a, const char *accessor, enum acl_resource r,
    enum acl_access acc, const char *name, struct perr *e)
{
	if (acl_authz_require(a, accessor, r, acc, name, e) == 0)
		return "(allowed)";
	return e->msg;
}

static void
test_denied_texts(void)
{
	struct acl_authz	*a;
	struct perr		 e;

	a = acl_authz_new(NULL, 0, ACL_DEFAULT_DENY);
	perr_clear(&e);
	is_int(acl_authz_require(a, "7b8c0d1e-0000-4000-8000-000000000001",
	    ACL_RES_ACL, ACL_ACCESS_WRITE, NULL, &e), -1,
	    "403: acl:write refused under default deny");
	is_int(e.status, 403, "403: status is 403");
	is_str(e.msg, "Permission denied: token with AccessorID "
	    "'7b8c0d1e-0000-4000-8000-000000000001' lacks permission "
	    "'acl:write'", "403: unnamed resource has no \"on\" part");
	is_str(denied(a, "abc", ACL_RES_SERVICE, ACL_ACCESS_WRITE,
	    "web", &e),
	    "Permission denied: token with AccessorID 'abc' lacks "
	    "permission 'service:write' on \"web\"",
	    "403: named resource quotes the name");
	is_str(denied(a, ACL_ANONYMOUS_ACCESSOR_ID, ACL_RES_ACL,
	    ACL_ACCESS_READ, NULL, &e),
	    "Permission denied: anonymous token lacks permission "
	    "'acl:read'. The anonymous token is used implicitly when a "
	    "request does not specify a token.",
	    "403: anonymous token special case (newest wording)");
	is_str(denied(a, ACL_ANONYMOUS_ACCESSOR_ID, ACL_RES_KEY,
	    ACL_ACCESS_READ, "foo", &e),
	    "Permission denied: anonymous token lacks permission "
	    "'key:read' on \"foo\". The anonymous token is used implicitly "
	    "when a request does not specify a token.",
	    "403: anonymous token with a named resource");
	is_str(denied(a, NULL, ACL_RES_SERVICE, ACL_ACCESS_READ,
	    "foobar", &e),
	    "Permission denied: token with AccessorID '' lacks "
	    "permission 'service:read' on \"foobar\"",
	    "403: missing accessor prints as ''");
	is_str(denied(a, "abc", ACL_RES_KEY, ACL_ACCESS_LIST,
	    "app/", &e),
	    "Permission denied: token with AccessorID 'abc' lacks "
	    "permission 'key:list' on \"app/\"", "403: key:list");
	is_str(denied(a, "abc", ACL_RES_KEY,
	    ACL_ACCESS_WRITE_PREFIX, "app/", &e),
	    "Permission denied: token with AccessorID 'abc' lacks "
	    "permission 'key:write' on \"app/\"",
	    "403: key write-prefix is reported as key:write");
	is_str(denied(a, "abc", ACL_RES_INTENTION, ACL_ACCESS_READ,
	    "db", &e),
	    "Permission denied: token with AccessorID 'abc' lacks "
	    "permission 'intention:read' on \"db\"", "403: intention:read");
	is_str(denied(a, "abc", ACL_RES_OPERATOR, ACL_ACCESS_WRITE,
	    "ignored", &e),
	    "Permission denied: token with AccessorID 'abc' lacks "
	    "permission 'operator:write'",
	    "403: a name given for an unnamed resource is not printed");
	is_str(denied(a, "abc", ACL_RES_SERVICE, ACL_ACCESS_READ,
	    "", &e),
	    "Permission denied: token with AccessorID 'abc' lacks "
	    "permission 'service:read'", "403: empty name has no \"on\" part");
	acl_authz_free(a);

	a = acl_authz_new(NULL, 0, ACL_DEFAULT_MANAGE);
	perr_clear(&e);
	is_int(acl_authz_require(a, "x", ACL_RES_ACL, ACL_ACCESS_WRITE, NULL,
	    &e), 0, "require: manage default allows acl:write");
	is_int(e.status, 0, "require: success leaves perr untouched");
	acl_authz_free(a);
}

static void
test_enforce_words(void)
{
	struct acl_policy_rules	*r;
	const struct acl_policy_rules *set[1];
	struct acl_authz	*a;
	struct perr		 e;
	int			 allowed;

	r = rules_json("{\"service\": {\"web\": {\"policy\": \"read\"}}}", &e);
	set[0] = r;
	a = acl_authz_new(set, 1, ACL_DEFAULT_DENY);
	ok(acl_enforce(a, "service", "web", "read", &allowed, &e) == 0 &&
	    allowed == 1, "enforce: service read web allowed");
	ok(acl_enforce(a, "service", "web", "WRITE", &allowed, &e) == 0 &&
	    allowed == 0, "enforce: access matched case-insensitively");
	ok(acl_enforce(a, "key", "x", "write-prefix", &allowed, &e) == 0 &&
	    allowed == 0, "enforce: key write-prefix is an access word");
	is_int(acl_enforce(a, "Service", "web", "read", &allowed, &e), -1,
	    "enforce: resource is case-sensitive");
	is_int(e.status, 400, "enforce: bad resource is 400");
	is_str(e.msg, "Invalid ACL resource requested: \"Service\"",
	    "enforce: bad resource text");
	is_int(acl_enforce(a, "service", "web", "List", &allowed, &e), -1,
	    "enforce: list is key-only");
	is_str(e.msg, "Invalid access level for service resource: List",
	    "enforce: bad access text keeps the spelling given");
	is_int(acl_enforce(a, "acl", "", "nope", &allowed, &e), -1,
	    "enforce: unknown access");
	is_str(e.msg, "Invalid access level for acl resource: nope",
	    "enforce: unknown access text");
	acl_authz_free(a);
	acl_rules_free(r);
}

static void
test_builtins(void)
{
	const struct acl_builtin_policy	*gm, *ro;

	gm = &acl_builtins[ACL_BUILTIN_GLOBAL_MANAGEMENT];
	ro = &acl_builtins[ACL_BUILTIN_GLOBAL_READ_ONLY];
	is_str(gm->id, "00000000-0000-0000-0000-000000000001",
	    "builtin: global-management ID");
	is_str(gm->name, "global-management", "builtin: global-management "
	    "name");
	is_str(gm->description, "Builtin Policy that grants unlimited access",
	    "builtin: global-management description");
	is_str(ro->id, "00000000-0000-0000-0000-000000000002",
	    "builtin: global-read-only is included (spec 14.13), its ID "
	    "in the policy ID space");
	is_str(ro->name, "builtin/global-read-only",
	    "builtin: global-read-only name");
	is_str(ro->description, "Builtin Policy that grants unlimited "
	    "read-only access to all components",
	    "builtin: global-read-only description");
	ok(strncmp(gm->rules, "\nacl = \"write\"\nagent_prefix \"\" {\n\t"
	    "policy = \"write\"\n}\n", 37) == 0,
	    "builtin: rules start with a newline, tab-indented");
	ok(strstr(gm->rules, "service_prefix \"\" {\n\tpolicy = \"write\"\n"
	    "\tintentions = \"write\"\n}\n") != NULL,
	    "builtin: management grants intentions write");
	ok(gm->rules[strlen(gm->rules) - 1] == '}',
	    "builtin: rules end without a newline");
	ok(strstr(ro->rules, "\tintentions = \"read\"") != NULL,
	    "builtin: read-only grants intentions read");
}

static void
test_synthetic(void)
{
	struct acl_synthetic_policy	 p;
	const char			*want_rules;
	char				 hex[1024];
	size_t				 i;

	memset(&p, 0, sizeof(p));
	acl_synthetic_service_identity("web", &p);
	want_rules = "\nservice \"web\" {\n\tpolicy = \"write\"\n}\n"
	    "service \"web-sidecar-proxy\" {\n\tpolicy = \"write\"\n}\n"
	    "service_prefix \"\" {\n\tpolicy = \"read\"\n}\n"
	    "node_prefix \"\" {\n\tpolicy = \"read\"\n}";
	is_str(p.rules, want_rules, "synthetic: service identity rules");
	for (i = 0; want_rules[i] != '\0'; i++)
		snprintf(hex + 2 * i, 3, "%02x", (unsigned char)want_rules[i]);
	strcat(hex, "6c62272e07bb014262b821756295c58d");
	is_str(p.id, hex, "synthetic: ID is hex(rules) followed by the "
	    "empty FNV-128a sum, as Consul's code computes it (spec 12.5 "
	    "says a hash)");
	ok(strncmp(p.name, "synthetic-policy-", 17) == 0 &&
	    strcmp(p.name + 17, p.id) == 0, "synthetic: name is "
	    "synthetic-policy-<ID>");
	is_str(p.description, "synthetic policy for service identity \"web\"",
	    "synthetic: service identity description");
	acl_synthetic_policy_clear(&p);
	ok(p.id == NULL && p.rules == NULL, "synthetic: clear zeroes");

	acl_synthetic_node_identity("node-1", &p);
	is_str(p.rules, "\nnode \"node-1\" {\n\tpolicy = \"write\"\n}\n"
	    "service_prefix \"\" {\n\tpolicy = \"read\"\n}",
	    "synthetic: node identity rules");
	is_str(p.description, "synthetic policy for node identity \"node-1\"",
	    "synthetic: node identity description");
	ok(strncmp(p.id, "0a6e6f646520", 12) == 0,
	    "synthetic: node identity ID starts with hex of the rules");
	acl_synthetic_policy_clear(&p);
}

/* Choices where the spec leaves a question open, each named. */
static void
test_open_questions(void)
{
	const struct acl_policy_rules	*set[2];
	struct acl_policy_rules		*r, *r2;
	struct acl_authz		*a, *b;
	struct perr			 e;

	perr_clear(&e);
	r = rules_json("{\"acl\": \"nope\"}", &e);
	ok(r == NULL && e.status == 500, "invalid rules are status 500 like "
	    "Consul's policy writes (spec 14.1)");

	r = rules_json("{\"services\": {\"x\": {\"policy\": \"bogus\"}},"
	    " \"foo\": 1}", &e);
	ok(r != NULL, "unknown top-level keys are ignored as HCL v1 "
	    "decoding ignores them (spec 14.19)");
	acl_rules_free(r);

	r = rules_json("{\"key\": {\"\": {\"policy\": \"read\"}}}", &e);
	set[0] = r;
	a = acl_authz_new(set, 1, ACL_DEFAULT_DENY);
	ok(r != NULL && acl_authz_check(a, ACL_RES_KEY, ACL_ACCESS_READ,
	    "foo") == ACL_DENY && acl_authz_check(a, ACL_RES_KEY,
	    ACL_ACCESS_READ, "") == ACL_ALLOW, "legacy-style rules "
	    "(key \"\" without _prefix) are accepted and match exactly");
	acl_authz_free(a);
	acl_rules_free(r);

	r = rules_json("{\"operator\": \"WRITE\"}", &e);
	set[0] = r;
	a = acl_authz_new(set, 1, ACL_DEFAULT_DENY);
	ok(r != NULL && acl_authz_decide(a, ACL_RES_OPERATOR,
	    ACL_ACCESS_READ, NULL) == ACL_DEFAULT, "an upper-case level "
	    "validates but never wins a merge: operator = \"WRITE\" "
	    "decides nothing, as Consul's takesPrecedenceOver");
	acl_authz_free(a);
	acl_rules_free(r);

	r = rules_json("{\"service\": {\"web\": {\"policy\": \"WRITE\"}}}",
	    &e);
	set[0] = r;
	a = acl_authz_new(set, 1, ACL_DEFAULT_ALLOW);
	ok(r != NULL && acl_authz_check(a, ACL_RES_SERVICE, ACL_ACCESS_WRITE,
	    "web") == ACL_ALLOW && acl_authz_decide(a, ACL_RES_INTENTION,
	    ACL_ACCESS_READ, "web") == ACL_DENY, "an upper-case service "
	    "policy still applies but derives intentions deny, as Consul");
	acl_authz_free(a);
	acl_rules_free(r);

	r = rules_json("{\"service_prefix\": {\"\": {\"policy\": \"write\"}}}",
	    &e);
	set[0] = r;
	a = acl_authz_new(set, 1, ACL_DEFAULT_ALLOW);
	ok(acl_authz_check(a, ACL_RES_INTENTION, ACL_ACCESS_WRITE, "db") ==
	    ACL_DENY && acl_authz_check(a, ACL_RES_INTENTION,
	    ACL_ACCESS_READ, "db") == ACL_ALLOW, "service policy write "
	    "grants intentions read, not write (connect 6.5)");
	acl_authz_free(a);
	acl_rules_free(r);

	a = acl_authz_new(NULL, 0, ACL_DEFAULT_ALLOW);
	b = acl_authz_new(NULL, 0, ACL_DEFAULT_DENY);
	ok(acl_authz_intention_default_allow(a) &&
	    !acl_authz_intention_default_allow(b), "intention default "
	    "follows acl.default_policy; no default_intention_policy here "
	    "(connect 12.11)");
	acl_authz_free(a);
	acl_authz_free(b);

	/* Repeated blocks as lists (HCL JSON form): merged by precedence. */
	r = rules_json("{\"service\": [{\"web\": {\"policy\": \"deny\"}},"
	    " {\"web\": {\"policy\": \"read\"}}]}", &e);
	set[0] = r;
	a = acl_authz_new(set, 1, ACL_DEFAULT_ALLOW);
	ok(r != NULL && acl_authz_check(a, ACL_RES_SERVICE, ACL_ACCESS_READ,
	    "web") == ACL_DENY, "repeated blocks for one name within a "
	    "policy merge by precedence (deny wins), as Consul");
	acl_authz_free(a);
	acl_rules_free(r);

	/* Reference counting. */
	r = rules_json("{\"acl\": \"read\"}", &e);
	r2 = acl_rules_builtin(ACL_BUILTIN_GLOBAL_READ_ONLY);
	set[0] = r;
	set[1] = r2;
	a = acl_authz_new(set, 2, ACL_DEFAULT_DENY);
	acl_rules_free(r);
	acl_rules_free(r2);
	b = acl_authz_ref(a);
	acl_authz_free(a);
	ok(acl_authz_check(b, ACL_RES_ACL, ACL_ACCESS_READ, NULL) ==
	    ACL_ALLOW, "authz outlives its rules and its first reference");
	acl_authz_free(b);
	acl_authz_free(NULL);
	acl_rules_free(NULL);
}

static void
test_names(void)
{
	enum acl_resource	r;
	enum acl_access		a;
	int			i;

	for (i = 0; i < ACL_RES__MAX; i++)
		ok(acl_resource_parse(acl_resource_name(i), &r) == 0 &&
		    (int)r == i, "resource word %s round-trips",
		    acl_resource_name(i));
	ok(acl_access_parse("write-prefix", &a) == 0 &&
	    a == ACL_ACCESS_WRITE_PREFIX, "access word write-prefix");
	ok(acl_access_parse("deny", &a) == -1, "deny is no access word");
}

/* HCL-form rules through acl_rules_parse_text(). */
static struct acl_policy_rules *
rules_hcl(const char *src, struct perr *e)
{
	struct acl_policy_rules	*r;

	perr_clear(e);
	if (acl_rules_parse_text(src, strlen(src), &r, e) == -1)
		return NULL;
	return r;
}

static void
test_hcl(void)
{
	static const struct {
		enum acl_resource	 r;
		enum acl_access		 a;
		const char		*name;
	} probes[] = {
		{ ACL_RES_ACL, ACL_ACCESS_READ, "" },
		{ ACL_RES_ACL, ACL_ACCESS_WRITE, "" },
		{ ACL_RES_KEY, ACL_ACCESS_WRITE, "a/b" },
		{ ACL_RES_KEY, ACL_ACCESS_LIST, "a/" },
		{ ACL_RES_SERVICE, ACL_ACCESS_WRITE, "web" },
		{ ACL_RES_SERVICE, ACL_ACCESS_WRITE, "web-sidecar-proxy" },
		{ ACL_RES_SERVICE, ACL_ACCESS_WRITE, "db" },
		{ ACL_RES_SERVICE, ACL_ACCESS_READ, "db" },
		{ ACL_RES_NODE, ACL_ACCESS_WRITE, "n1" },
		{ ACL_RES_NODE, ACL_ACCESS_READ, "n2" },
		{ ACL_RES_INTENTION, ACL_ACCESS_WRITE, "web" },
		{ ACL_RES_INTENTION, ACL_ACCESS_READ, "*" },
		{ ACL_RES_INTENTION, ACL_ACCESS_WRITE, "*" },
		{ ACL_RES_MESH, ACL_ACCESS_WRITE, "" },
		{ ACL_RES_PEERING, ACL_ACCESS_READ, "" },
		{ ACL_RES_OPERATOR, ACL_ACCESS_WRITE, "" },
		{ ACL_RES_KEYRING, ACL_ACCESS_WRITE, "" },
		{ ACL_RES_SESSION, ACL_ACCESS_WRITE, "n1" },
		{ ACL_RES_EVENT, ACL_ACCESS_WRITE, "deploy" },
		{ ACL_RES_QUERY, ACL_ACCESS_WRITE, "q" },
		{ ACL_RES_AGENT, ACL_ACCESS_READ, "n1" },
	};
	struct acl_synthetic_policy	 sp;
	const struct acl_policy_rules	*set[1];
	struct acl_policy_rules		*hr, *jr;
	struct acl_authz		*ha, *ja;
	struct perr			 e;
	const char			*texts[4];
	size_t				 i, t, bad;

	memset(&sp, 0, sizeof(sp));
	for (t = 0; t < 4; t++) {
		switch (t) {
		case 0:
		case 1:
			texts[t] = acl_builtins[t].rules;
			jr = acl_rules_builtin(t);
			break;
		case 2:
			acl_synthetic_service_identity("web", &sp);
			texts[t] = sp.rules;
			jr = acl_rules_service_identity("web");
			break;
		default:
			acl_synthetic_node_identity("n1", &sp);
			texts[t] = sp.rules;
			jr = acl_rules_node_identity("n1");
			break;
		}
		perr_clear(&e);
		hr = rules_hcl(texts[t], &e);
		ok(hr != NULL, "hcl: rules text %zu parses%s%s", t,
		    hr ? "" : ": ", hr ? "" : e.msg);
		if (hr == NULL) {
			acl_rules_free(jr);
			acl_synthetic_policy_clear(&sp);
			continue;
		}
		set[0] = hr;
		ha = acl_authz_new(set, 1, ACL_DEFAULT_DENY);
		set[0] = jr;
		ja = acl_authz_new(set, 1, ACL_DEFAULT_DENY);
		for (i = bad = 0; i < sizeof(probes) / sizeof(*probes); i++)
			if (acl_authz_decide(ha, probes[i].r, probes[i].a,
			    probes[i].name) != acl_authz_decide(ja,
			    probes[i].r, probes[i].a, probes[i].name))
				bad++;
		is_int(bad, 0, "hcl: text %zu decides as its JSON twin", t);
		acl_authz_free(ha);
		acl_authz_free(ja);
		acl_rules_free(hr);
		acl_rules_free(jr);
		acl_synthetic_policy_clear(&sp);
	}

	hr = rules_hcl("service \"web\" { policy = \"nope\" }", &e);
	ok(hr == NULL && strcmp(e.msg, "Invalid service policy: "
	    "&acl.ServiceRule{Name:\"web\", Policy:\"nope\", Intentions:\"\", "
	    "EnterpriseRule:acl.EnterpriseRule{}}") == 0,
	    "hcl: bad service level gives Consul's dump");
	if (hr == NULL && e.status != 500)
		printf("#   got %d %s\n", e.status, e.msg);
	hr = rules_hcl("service \"x\" { service = \"write\" }", &e);
	ok(hr == NULL && strstr(e.msg, "Policy:\"\"") != NULL,
	    "hcl: a block without policy is invalid");
	hr = rules_hcl("key_prefix \"\" { policy = \"list\" }\n"
	    "Key \"a\" { Policy = \"deny\" }\n", &e);
	ok(hr != NULL, "hcl: keys match case-insensitively");
	acl_rules_free(hr);
	hr = rules_hcl("", &e);
	ok(hr != NULL, "hcl: empty rules are the empty policy");
	acl_rules_free(hr);
	hr = rules_hcl("{\"service_prefix\": {\"\": {\"policy\": \"nope\"}}}",
	    &e);
	is_str(hr == NULL ? e.msg : "(accepted)", "Invalid service_prefix "
	    "policy: &acl.ServiceRule{Name:\"\", Policy:\"nope\", "
	    "Intentions:\"\", EnterpriseRule:acl.EnterpriseRule{}}",
	    "text: JSON-form rules are accepted as text");
	hr = rules_hcl("key \"\" {policy = }", &e);
	ok(hr == NULL && e.status == 500 && strncmp(e.msg, "Failed to parse "
	    "ACL rules: ", 26) == 0, "text: an HCL syntax error is 500 "
	    "\"Failed to parse ACL rules: <hcl error>\"");
	if (hr == NULL)
		printf("# %d %s\n", e.status, e.msg);
	hr = rules_hcl("service \"web\" { policy = \"deny\" }\n"
	    "service \"web\" { policy = \"read\" }\n", &e);
	if (hr != NULL) {
		set[0] = hr;
		ha = acl_authz_new(set, 1, ACL_DEFAULT_ALLOW);
		ok(acl_authz_check(ha, ACL_RES_SERVICE, ACL_ACCESS_READ,
		    "web") == ACL_DENY, "text: repeated HCL blocks for one "
		    "name stay two rules and merge by precedence (deny)");
		acl_authz_free(ha);
		acl_rules_free(hr);
	}
}

int
main(int argc, char *argv[])
{
	size_t	i;

	find_datadir(argc, argv);
	test_validation();
	test_decisions();
	test_denied_texts();
	test_enforce_words();
	test_builtins();
	test_synthetic();
	test_open_questions();
	test_names();
	test_translate();
	test_translate_depth();
	test_hcl();
	for (i = 0; i < nauthzs; i++) {
		acl_authz_free(authzs[i].authz);
		free(authzs[i].name);
	}
	for (i = 0; i < npolicies; i++) {
		acl_rules_free(policies[i].rules);
		free(policies[i].name);
	}
	return tap_done();
}
