/*
 * acl_rules.c -- Consul's ACL rule language (acl.md §12, §1.4) as a
 * pure library: no HTTP, no SQLite.
 *
 *   rules      a json-c tree (what hcl_parse() makes of HCL rules, or the
 *              JSON form of rules) decoded and validated the way Consul's
 *              HCL v1 struct decoding and PolicyRules.Validate() do it,
 *              with Consul's error texts;
 *   authz      a set of parsed policies merged (deny > write > list >
 *              read per key) and compiled into one immutable, reference
 *              counted authorizer, chained to the static default
 *              authorizer (allow, deny or manage);
 *   decisions  exact rule, else longest prefix rule, else default; the
 *              derived intention rules and the "*" intention checks of
 *              connect.md §6.5; key write-prefix; mesh and peering
 *              falling back to operator;
 *   403 texts  the detailed "lacks permission" form, anonymous included;
 *   builtins   global-management and builtin/global-read-only as data;
 *   synthetic  service- and node-identity policies (acl.md §12.5);
 *   strings    the growable string (struct acl_sbuf) that the legacy
 *              rule translation, acl_translate.c (acl.md §11), shares.
 *
 * Where Consul's code and its docs differ we follow the code; each such
 * place says so and a unit test in tests/unit/test_acl_rules.c is named
 * after it.  Relies on json-c, hcl.c (for rules given as text) and the
 * shared core.  There is no
 * global mutable state: an authorizer is written once by acl_authz_new()
 * and only read afterwards, so threads may share it freely; only its
 * reference count changes, atomically.
 */
#include "config.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "acl_rules.h"
#include "hcl.h"

/* The rule families that carry a name, each with exact and prefix rules. */
enum acl_kind {
	ACL_KIND_AGENT,
	ACL_KIND_EVENT,
	ACL_KIND_KEY,
	ACL_KIND_NODE,
	ACL_KIND_QUERY,
	ACL_KIND_SERVICE,
	ACL_KIND_SESSION,
	ACL_KIND__MAX
};

/* The single-valued items. */
enum acl_scalar {
	ACL_SCALAR_ACL,
	ACL_SCALAR_KEYRING,
	ACL_SCALAR_OPERATOR,
	ACL_SCALAR_MESH,
	ACL_SCALAR_PEERING,
	ACL_SCALAR__MAX
};

/* A compiled access level; NONE means "no rule here". */
enum acl_level {
	ACL_LEVEL_NONE,
	ACL_LEVEL_DENY,
	ACL_LEVEL_READ,
	ACL_LEVEL_LIST,
	ACL_LEVEL_WRITE
};

/*
 * One rule of a family.  Levels are kept as written: Consul validates
 * them case-insensitively but merges them by exact spelling (see
 * takes_precedence()), and its error texts dump them verbatim.
 */
struct acl_rule {
	char	*name;
	char	*policy;	/* "" when the block sets none */
	char	*intentions;	/* service kinds only; "" when not set */
};

struct acl_rule_list {
	struct acl_rule	*v;
	size_t		 n;
};

struct acl_policy_rules {
	struct acl_rule_list	 rules[ACL_KIND__MAX][2]; /* [kind][prefix] */
	char			*scalar[ACL_SCALAR__MAX]; /* "" when absent */
};

/*
 * Per family: the words of the rule language and what Go's %#v prints
 * for a rule in "Invalid <word> policy: &acl.<Type>{...}".
 */
static const struct kind_desc {
	const char	*word;
	const char	*prefix_word;
	const char	*go_type;	/* Go struct name */
	const char	*go_key;	/* Go field holding the label */
	int		 allow_list;	/* "list" is a valid level */
	int		 has_ent;	/* struct embeds EnterpriseRule */
	int		 has_intentions;
} kinds[ACL_KIND__MAX] = {
	[ACL_KIND_AGENT] =   { "agent", "agent_prefix", "AgentRule",
				"Node", 0, 0, 0 },
	[ACL_KIND_EVENT] =   { "event", "event_prefix", "EventRule",
				"Event", 0, 0, 0 },
	[ACL_KIND_KEY] =     { "key", "key_prefix", "KeyRule",
				"Prefix", 1, 1, 0 },
	[ACL_KIND_NODE] =    { "node", "node_prefix", "NodeRule",
				"Name", 0, 1, 0 },
	[ACL_KIND_QUERY] =   { "query", "query_prefix", "PreparedQueryRule",
				"Prefix", 0, 0, 0 },
	[ACL_KIND_SERVICE] = { "service", "service_prefix", "ServiceRule",
				"Name", 0, 1, 1 },
	[ACL_KIND_SESSION] = { "session", "session_prefix", "SessionRule",
				"Node", 0, 0, 0 },
};

/* Consul validates the families in this order; the first error wins. */
static const enum acl_kind validate_order[ACL_KIND__MAX] = {
	ACL_KIND_AGENT, ACL_KIND_KEY, ACL_KIND_NODE, ACL_KIND_SERVICE,
	ACL_KIND_SESSION, ACL_KIND_EVENT, ACL_KIND_QUERY
};

static const char *const scalar_words[ACL_SCALAR__MAX] = {
	[ACL_SCALAR_ACL] = "acl",
	[ACL_SCALAR_KEYRING] = "keyring",
	[ACL_SCALAR_OPERATOR] = "operator",
	[ACL_SCALAR_MESH] = "mesh",
	[ACL_SCALAR_PEERING] = "peering",
};

static const struct resource_desc {
	const char	*word;
	int		 named;		/* checks carry a name (segment) */
} resources[ACL_RES__MAX] = {
	[ACL_RES_ACL] =		{ "acl", 0 },
	[ACL_RES_AGENT] =	{ "agent", 1 },
	[ACL_RES_EVENT] =	{ "event", 1 },
	[ACL_RES_INTENTION] =	{ "intention", 1 },
	[ACL_RES_KEY] =		{ "key", 1 },
	[ACL_RES_KEYRING] =	{ "keyring", 0 },
	[ACL_RES_MESH] =	{ "mesh", 0 },
	[ACL_RES_NODE] =	{ "node", 1 },
	[ACL_RES_OPERATOR] =	{ "operator", 0 },
	[ACL_RES_PEERING] =	{ "peering", 0 },
	[ACL_RES_QUERY] =	{ "query", 1 },
	[ACL_RES_SERVICE] =	{ "service", 1 },
	[ACL_RES_SESSION] =	{ "session", 1 },
};

/* Access words accepted by acl_access_parse() (Consul's Enforce()). */
static const char *const access_words[ACL_ACCESS__MAX] = {
	[ACL_ACCESS_READ] = "read",
	[ACL_ACCESS_LIST] = "list",
	[ACL_ACCESS_WRITE] = "write",
	[ACL_ACCESS_WRITE_PREFIX] = "write-prefix",
};

/* The family whose rules a named resource is checked against. */
static const int resource_kind[ACL_RES__MAX] = {
	[ACL_RES_ACL] = -1,
	[ACL_RES_AGENT] = ACL_KIND_AGENT,
	[ACL_RES_EVENT] = ACL_KIND_EVENT,
	[ACL_RES_INTENTION] = -1,
	[ACL_RES_KEY] = ACL_KIND_KEY,
	[ACL_RES_KEYRING] = -1,
	[ACL_RES_MESH] = -1,
	[ACL_RES_NODE] = ACL_KIND_NODE,
	[ACL_RES_OPERATOR] = -1,
	[ACL_RES_PEERING] = -1,
	[ACL_RES_QUERY] = ACL_KIND_QUERY,
	[ACL_RES_SERVICE] = ACL_KIND_SERVICE,
	[ACL_RES_SESSION] = ACL_KIND_SESSION,
};

/*
 * The builtin policies (acl.md §1.4).  The HCL texts are Consul's stored
 * Rules byte for byte (a policy update must send them back unchanged);
 * the JSON texts say the same thing for compiling without an HCL parser.
 */
const struct acl_builtin_policy acl_builtins[ACL_BUILTIN__MAX] = {
	[ACL_BUILTIN_GLOBAL_MANAGEMENT] = {
		"00000000-0000-0000-0000-000000000001",
		"global-management",
		"Builtin Policy that grants unlimited access",
		"\n"
		"acl = \"write\"\n"
		"agent_prefix \"\" {\n\tpolicy = \"write\"\n}\n"
		"event_prefix \"\" {\n\tpolicy = \"write\"\n}\n"
		"key_prefix \"\" {\n\tpolicy = \"write\"\n}\n"
		"keyring = \"write\"\n"
		"node_prefix \"\" {\n\tpolicy = \"write\"\n}\n"
		"operator = \"write\"\n"
		"mesh = \"write\"\n"
		"peering = \"write\"\n"
		"query_prefix \"\" {\n\tpolicy = \"write\"\n}\n"
		"service_prefix \"\" {\n\tpolicy = \"write\"\n"
		"\tintentions = \"write\"\n}\n"
		"session_prefix \"\" {\n\tpolicy = \"write\"\n}",
		"{\"acl\": \"write\","
		" \"agent_prefix\": {\"\": {\"policy\": \"write\"}},"
		" \"event_prefix\": {\"\": {\"policy\": \"write\"}},"
		" \"key_prefix\": {\"\": {\"policy\": \"write\"}},"
		" \"keyring\": \"write\","
		" \"node_prefix\": {\"\": {\"policy\": \"write\"}},"
		" \"operator\": \"write\", \"mesh\": \"write\","
		" \"peering\": \"write\","
		" \"query_prefix\": {\"\": {\"policy\": \"write\"}},"
		" \"service_prefix\": {\"\": {\"policy\": \"write\","
		" \"intentions\": \"write\"}},"
		" \"session_prefix\": {\"\": {\"policy\": \"write\"}}}",
	},
	[ACL_BUILTIN_GLOBAL_READ_ONLY] = {
		"00000000-0000-0000-0000-000000000002",
		"builtin/global-read-only",
		"Builtin Policy that grants unlimited read-only access to all "
		"components",
		"\n"
		"acl = \"read\"\n"
		"agent_prefix \"\" {\n\tpolicy = \"read\"\n}\n"
		"event_prefix \"\" {\n\tpolicy = \"read\"\n}\n"
		"key_prefix \"\" {\n\tpolicy = \"read\"\n}\n"
		"keyring = \"read\"\n"
		"node_prefix \"\" {\n\tpolicy = \"read\"\n}\n"
		"operator = \"read\"\n"
		"mesh = \"read\"\n"
		"peering = \"read\"\n"
		"query_prefix \"\" {\n\tpolicy = \"read\"\n}\n"
		"service_prefix \"\" {\n\tpolicy = \"read\"\n"
		"\tintentions = \"read\"\n}\n"
		"session_prefix \"\" {\n\tpolicy = \"read\"\n}",
		"{\"acl\": \"read\","
		" \"agent_prefix\": {\"\": {\"policy\": \"read\"}},"
		" \"event_prefix\": {\"\": {\"policy\": \"read\"}},"
		" \"key_prefix\": {\"\": {\"policy\": \"read\"}},"
		" \"keyring\": \"read\","
		" \"node_prefix\": {\"\": {\"policy\": \"read\"}},"
		" \"operator\": \"read\", \"mesh\": \"read\","
		" \"peering\": \"read\","
		" \"query_prefix\": {\"\": {\"policy\": \"read\"}},"
		" \"service_prefix\": {\"\": {\"policy\": \"read\","
		" \"intentions\": \"read\"}},"
		" \"session_prefix\": {\"\": {\"policy\": \"read\"}}}",
	},
};

/* ------------------------------------------------------------------ */
/*
 * A growable string (struct acl_sbuf, acl_rules.h), also used by the
 * legacy translation's printer in acl_translate.c.  Start from
 * { NULL, 0, 0 }; b->p is NUL-terminated once anything was written.
 */

static void
sb_grow(struct acl_sbuf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return;
	while (b->len + more + 1 > b->cap)
		b->cap = b->cap ? b->cap * 2 : 64;
	b->p = xrealloc(b->p, b->cap);
}

/* Append s[0..n). */
void
acl_rules_sb_putn(struct acl_sbuf *b, const char *s, size_t n)
{
	sb_grow(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Append the string s. */
void
acl_rules_sb_puts(struct acl_sbuf *b, const char *s)
{
	acl_rules_sb_putn(b, s, strlen(s));
}

/* Append the character c. */
void
acl_rules_sb_putc(struct acl_sbuf *b, char c)
{
	acl_rules_sb_putn(b, &c, 1);
}

/*
 * Hand the string over to the caller, who frees it ("" when nothing
 * was written); b is empty again.
 */
char *
acl_rules_sb_take(struct acl_sbuf *b)
{
	char	*p;

	p = b->p != NULL ? b->p : xstrdup("");
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

/* Length of the UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t
utf8_len(const unsigned char *s, size_t n, unsigned long *cp)
{
	size_t		 len, i;
	unsigned long	 c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		c = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		c = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		c = s[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) ||
	    (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/*
 * Append s quoted the way Go's %q / %#v quotes a string (strconv.Quote):
 * printable runes as they are, the C escapes, \xNN for invalid bytes.
 * Unicode printability is approximated: C1 controls, U+00AD, the line
 * and paragraph separators and U+FEFF are escaped, the rest printed.
 */
static void
sb_goquote(struct acl_sbuf *b, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n = strlen(s), len;
	unsigned long		 cp;
	char			 tmp[16];

	acl_rules_sb_putc(b, '"');
	while (n > 0) {
		if ((len = utf8_len(p, n, &cp)) == 0) {
			snprintf(tmp, sizeof(tmp), "\\x%02x", *p);
			acl_rules_sb_puts(b, tmp);
			p++;
			n--;
			continue;
		}
		switch (cp) {
		case '"':
			acl_rules_sb_puts(b, "\\\"");
			break;
		case '\\':
			acl_rules_sb_puts(b, "\\\\");
			break;
		case '\a':
			acl_rules_sb_puts(b, "\\a");
			break;
		case '\b':
			acl_rules_sb_puts(b, "\\b");
			break;
		case '\f':
			acl_rules_sb_puts(b, "\\f");
			break;
		case '\n':
			acl_rules_sb_puts(b, "\\n");
			break;
		case '\r':
			acl_rules_sb_puts(b, "\\r");
			break;
		case '\t':
			acl_rules_sb_puts(b, "\\t");
			break;
		case '\v':
			acl_rules_sb_puts(b, "\\v");
			break;
		default:
			if (cp < 0x20 || cp == 0x7f) {
				snprintf(tmp, sizeof(tmp), "\\x%02lx", cp);
				acl_rules_sb_puts(b, tmp);
			} else if ((cp >= 0x80 && cp < 0xa0) || cp == 0xad ||
			    cp == 0x2028 || cp == 0x2029 || cp == 0xfeff) {
				snprintf(tmp, sizeof(tmp), "\\u%04lx", cp);
				acl_rules_sb_puts(b, tmp);
			} else
				acl_rules_sb_putn(b, (const char *)p, len);
			break;
		}
		p += len;
		n -= len;
	}
	acl_rules_sb_putc(b, '"');
}

/* ------------------------------------------------------------------ */
/* Levels. */

/*
 * Consul's AccessLevelFromString(): case-insensitive.  Returns NONE for
 * anything that is not a level (including "").
 */
static enum acl_level
level_parse(const char *s)
{
	if (strcasecmp(s, "deny") == 0)
		return ACL_LEVEL_DENY;
	if (strcasecmp(s, "read") == 0)
		return ACL_LEVEL_READ;
	if (strcasecmp(s, "list") == 0)
		return ACL_LEVEL_LIST;
	if (strcasecmp(s, "write") == 0)
		return ACL_LEVEL_WRITE;
	return ACL_LEVEL_NONE;
}

static int
level_valid(const char *s, int allow_list)
{
	enum acl_level	l;

	l = level_parse(s);
	return l != ACL_LEVEL_NONE && (allow_list || l != ACL_LEVEL_LIST);
}

/*
 * Merge rank of a level as written.  Consul's takesPrecedenceOver()
 * compares the strings exactly, so "Write" ranks like "": it validates
 * but never wins a merge.  We follow the code (policy.go) here.
 */
static int
level_rank(const char *s)
{
	if (strcmp(s, "deny") == 0)
		return 4;
	if (strcmp(s, "write") == 0)
		return 3;
	if (strcmp(s, "list") == 0)
		return 2;
	if (strcmp(s, "read") == 0)
		return 1;
	return 0;
}

/* Does level a replace level b when merging?  deny > write > list > read. */
static int
takes_precedence(const char *a, const char *b)
{
	int	ra;

	ra = level_rank(a);
	return ra > 0 && ra >= level_rank(b);
}

/* ------------------------------------------------------------------ */
/* Names of resources and access levels. */

/*
 * The word Consul uses for a resource ("service", "intention", ...).
 */
const char *
acl_resource_name(enum acl_resource r)
{
	assert(r >= 0 && r < ACL_RES__MAX);
	return resources[r].word;
}

/*
 * The word of an access level as it appears in 403 texts; write-prefix
 * is reported as "write", as Consul does.
 */
const char *
acl_access_name(enum acl_access a)
{
	assert(a >= 0 && a < ACL_ACCESS__MAX);
	return a == ACL_ACCESS_WRITE_PREFIX ? "write" : access_words[a];
}

/*
 * Map a resource word (exact, case-sensitive, as Consul's Enforce()
 * matches it) to its enum.  Returns 0, or -1 for an unknown word.
 */
int
acl_resource_parse(const char *s, enum acl_resource *out)
{
	int	i;

	for (i = 0; i < ACL_RES__MAX; i++)
		if (strcmp(s, resources[i].word) == 0) {
			*out = i;
			return 0;
		}
	return -1;
}

/*
 * Map an access word (case-insensitive: read, list, write, write-prefix)
 * to its enum.  Returns 0, or -1 for an unknown word.
 */
int
acl_access_parse(const char *s, enum acl_access *out)
{
	int	i;

	for (i = 0; i < ACL_ACCESS__MAX; i++)
		if (strcasecmp(s, access_words[i]) == 0) {
			*out = i;
			return 0;
		}
	return -1;
}

/*
 * The _prefix form of a rule family's word ("service" ->
 * "service_prefix"), or NULL when word names no family: the renaming
 * of the legacy translation (acl_translate.c).  A static string.
 */
const char *
acl_rules_prefix_word(const char *word)
{
	int	k;

	for (k = 0; k < ACL_KIND__MAX; k++)
		if (strcmp(word, kinds[k].word) == 0)
			return kinds[k].prefix_word;
	return NULL;
}

/* Is this access level defined for this resource (Consul's Enforce())? */
static int
access_valid(enum acl_resource r, enum acl_access a)
{
	if (a == ACL_ACCESS_READ || a == ACL_ACCESS_WRITE)
		return 1;
	return r == ACL_RES_KEY;
}

/* ------------------------------------------------------------------ */
/* Decoding a json-c tree into rules, and validation on write. */

static void
rules_add(struct acl_rule_list *l, const char *name, const char *policy,
    const char *intentions)
{
	struct acl_rule	*r;

	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	r = &l->v[l->n++];
	r->name = xstrdup(name);
	r->policy = xstrdup(policy);
	r->intentions = xstrdup(intentions);
}

/*
 * Free parsed rules.  Accepts NULL.
 */
void
acl_rules_free(struct acl_policy_rules *r)
{
	size_t	 i;
	int	 k, p;

	if (r == NULL)
		return;
	for (k = 0; k < ACL_KIND__MAX; k++)
		for (p = 0; p < 2; p++) {
			for (i = 0; i < r->rules[k][p].n; i++) {
				free(r->rules[k][p].v[i].name);
				free(r->rules[k][p].v[i].policy);
				free(r->rules[k][p].v[i].intentions);
			}
			free(r->rules[k][p].v);
		}
	for (k = 0; k < ACL_SCALAR__MAX; k++)
		free(r->scalar[k]);
	free(r);
}

static struct acl_policy_rules *
rules_new(void)
{
	struct acl_policy_rules	*r;
	int			 k;

	r = xcalloc(1, sizeof(*r));
	for (k = 0; k < ACL_SCALAR__MAX; k++)
		r->scalar[k] = xstrdup("");
	return r;
}

/*
 * The text HCL v1 puts into a Go string field: strings as they are,
 * numbers and booleans as written.  NULL for anything else.
 */
static const char *
scalar_text(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_string:
	case json_type_int:
	case json_type_double:
	case json_type_boolean:
		return json_object_get_string(v);
	default:
		return NULL;
	}
}

/* The HCL v1 AST type Consul's decoder names in its errors. */
static const char *
ast_type(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_object:
		return "*ast.ObjectType";
	case json_type_array:
		return "*ast.ListType";
	default:
		return "*ast.LiteralType";
	}
}

/*
 * Decode one block body into a rule of family k.  A block body is an
 * object (policy, intentions; other keys ignored as HCL v1 ignores
 * them); a list of bodies gives one rule each.  A scalar body is what
 * HCL v1 makes of "service { policy = "read" }" (no label): the key
 * becomes the name and fills the field of the same name, if any.
 *
 * XXX error texts lack HCL's "At <line>:<col>: " (no positions here).
 */
static int
decode_body(struct acl_policy_rules *r, enum acl_kind k, int pfx,
    const char *label, struct json_object *body, struct perr *e)
{
	const struct kind_desc	*kd = &kinds[k];
	const char		*word, *policy = "", *intentions = "", *t;
	const char		*key;
	struct json_object	*el, *val;
	struct json_object_iterator it, end;
	size_t			 i, idx;

	word = pfx ? kd->prefix_word : kd->word;
	idx = r->rules[k][pfx].n;
	switch (json_object_get_type(body)) {
	case json_type_array:
		for (i = 0; i < json_object_array_length(body); i++) {
			el = json_object_array_get_idx(body, i);
			if (json_object_get_type(el) != json_type_object)
				return perr_set(e, 500, "Failed to parse ACL "
				    "rules: root.%s[%zu]: not an object type "
				    "for struct (%s)", word, idx, ast_type(el));
			if (decode_body(r, k, pfx, label, el, e) == -1)
				return -1;
			idx++;
		}
		return 0;
	case json_type_object:
		it = json_object_iter_begin(body);
		end = json_object_iter_end(body);
		for (; !json_object_iter_equal(&it, &end);
		    json_object_iter_next(&it)) {
			key = json_object_iter_peek_name(&it);
			val = json_object_iter_peek_value(&it);
			if (strcasecmp(key, "policy") == 0) {
				if ((t = scalar_text(val)) == NULL)
					return perr_set(e, 500, "Failed to "
					    "parse ACL rules: root.%s[%zu]."
					    "Policy: unknown type for string "
					    "%s", word, idx, ast_type(val));
				policy = t;
			} else if (kd->has_intentions &&
			    strcasecmp(key, "intentions") == 0) {
				if ((t = scalar_text(val)) == NULL)
					return perr_set(e, 500, "Failed to "
					    "parse ACL rules: root.%s[%zu]."
					    "Intentions: unknown type for "
					    "string %s", word, idx,
					    ast_type(val));
				intentions = t;
			}
		}
		break;
	default:
		if ((t = scalar_text(body)) == NULL)
			t = "";
		if (strcasecmp(label, "policy") == 0)
			policy = t;
		else if (kd->has_intentions &&
		    strcasecmp(label, "intentions") == 0)
			intentions = t;
		break;
	}
	rules_add(&r->rules[k][pfx], label, policy, intentions);
	return 0;
}

/*
 * Decode the value of a family key: an object of label -> body, or a
 * list of such objects (HCL's JSON form of repeated blocks).
 */
static int
decode_family(struct acl_policy_rules *r, enum acl_kind k, int pfx,
    struct json_object *v, struct perr *e)
{
	struct json_object	*el;
	struct json_object_iterator it, end;
	size_t			 i;

	switch (json_object_get_type(v)) {
	case json_type_object:
		it = json_object_iter_begin(v);
		end = json_object_iter_end(v);
		for (; !json_object_iter_equal(&it, &end);
		    json_object_iter_next(&it))
			if (decode_body(r, k, pfx,
			    json_object_iter_peek_name(&it),
			    json_object_iter_peek_value(&it), e) == -1)
				return -1;
		return 0;
	case json_type_array:
		for (i = 0; i < json_object_array_length(v); i++) {
			el = json_object_array_get_idx(v, i);
			if (decode_family(r, k, pfx, el, e) == -1)
				return -1;
		}
		return 0;
	default:
		return perr_set(e, 500, "Failed to parse ACL rules: "
		    "unknown slice type: %s", ast_type(v));
	}
}

/* Append Go's %#v of a rule: &acl.ServiceRule{Name:"web", ...}. */
static void
dump_rule(struct acl_sbuf *b, enum acl_kind k, const struct acl_rule *r)
{
	const struct kind_desc	*kd = &kinds[k];

	acl_rules_sb_puts(b, "&acl.");
	acl_rules_sb_puts(b, kd->go_type);
	acl_rules_sb_putc(b, '{');
	acl_rules_sb_puts(b, kd->go_key);
	acl_rules_sb_putc(b, ':');
	sb_goquote(b, r->name);
	acl_rules_sb_puts(b, ", Policy:");
	sb_goquote(b, r->policy);
	if (kd->has_intentions) {
		acl_rules_sb_puts(b, ", Intentions:");
		sb_goquote(b, r->intentions);
	}
	if (kd->has_ent)
		acl_rules_sb_puts(b, ", EnterpriseRule:acl.EnterpriseRule{}");
	acl_rules_sb_putc(b, '}');
}

/* Report an invalid level: "Invalid <what> policy: <dump>", 500. */
static int
invalid(struct perr *e, const char *what, struct acl_sbuf *dump)
{
	char	*d;

	d = acl_rules_sb_take(dump);
	perr_set(e, 500, "Invalid %s policy: %s", what, d);
	free(d);
	return -1;
}

static int
invalid_scalar(struct perr *e, const char *word, const char *v)
{
	struct acl_sbuf	b = { NULL, 0, 0 };

	sb_goquote(&b, v);
	return invalid(e, word, &b);
}

/*
 * Consul's PolicyRules.Validate(): every block rule needs a valid
 * level, "list" only for key rules, a service's intentions (when set)
 * a valid non-list level; single items may be empty.  Order as Consul.
 */
static int
rules_validate(const struct acl_policy_rules *r, struct perr *e)
{
	const struct kind_desc	*kd;
	const struct acl_rule	*rule;
	struct acl_sbuf		 b = { NULL, 0, 0 };
	char			 what[64];
	size_t			 i;
	int			 o, p, k;

	if (*r->scalar[ACL_SCALAR_ACL] != '\0' &&
	    !level_valid(r->scalar[ACL_SCALAR_ACL], 0))
		return invalid_scalar(e, "acl", r->scalar[ACL_SCALAR_ACL]);
	for (o = 0; o < ACL_KIND__MAX; o++) {
		k = validate_order[o];
		kd = &kinds[k];
		for (p = 0; p < 2; p++)
			for (i = 0; i < r->rules[k][p].n; i++) {
				rule = &r->rules[k][p].v[i];
				if (!level_valid(rule->policy,
				    kd->allow_list)) {
					dump_rule(&b, k, rule);
					return invalid(e, p ? kd->prefix_word :
					    kd->word, &b);
				}
				if (kd->has_intentions &&
				    *rule->intentions != '\0' &&
				    !level_valid(rule->intentions, 0)) {
					snprintf(what, sizeof(what),
					    "%s intentions", p ?
					    kd->prefix_word : kd->word);
					dump_rule(&b, k, rule);
					return invalid(e, what, &b);
				}
			}
	}
	for (k = ACL_SCALAR_KEYRING; k < ACL_SCALAR__MAX; k++)
		if (*r->scalar[k] != '\0' && !level_valid(r->scalar[k], 0))
			return invalid_scalar(e, scalar_words[k],
			    r->scalar[k]);
	return 0;
}

/*
 * Decode and validate policy rules given as a json-c tree: the result of
 * hcl_parse() on HCL rules, or the parsed JSON form of rules.  A NULL
 * tree is the empty policy (empty Rules string).  Keys match
 * case-insensitively; unknown top-level keys are ignored, as HCL v1
 * struct decoding ignores them (acl.md §14 item 19).  The tree is
 * borrowed and not modified.
 *
 * On success stores a new rule set in *out (free with acl_rules_free())
 * and returns 0.  On failure returns -1 with status 500 and Consul's
 * text ("Invalid service policy: &acl.ServiceRule{...}"), as Consul
 * answers policy writes with invalid rules (acl.md §12.1, §14 item 1).
 * An HCL syntax error is the caller's to report, as
 * "Failed to parse ACL rules: <hcl error>".
 */
int
acl_rules_parse(struct json_object *tree, struct acl_policy_rules **out,
    struct perr *e)
{
	struct acl_policy_rules	*r;
	struct json_object	*val;
	struct json_object_iterator it, end;
	const char		*t, *key;
	int			 k, found;

	*out = NULL;
	r = rules_new();
	if (tree == NULL)
		goto done;
	if (json_object_get_type(tree) != json_type_object) {
		acl_rules_free(r);
		return perr_set(e, 500, "Failed to parse ACL rules: root: not "
		    "an object type for struct (%s)", ast_type(tree));
	}
	it = json_object_iter_begin(tree);
	end = json_object_iter_end(tree);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		key = json_object_iter_peek_name(&it);
		val = json_object_iter_peek_value(&it);
		found = 0;
		for (k = 0; k < ACL_SCALAR__MAX && !found; k++) {
			if (strcasecmp(key, scalar_words[k]) != 0)
				continue;
			found = 1;
			if ((t = scalar_text(val)) == NULL) {
				perr_set(e, 500, "Failed to parse ACL rules: "
				    "root.%s: unknown type for string %s",
				    scalar_words[k], ast_type(val));
				goto fail;
			}
			free(r->scalar[k]);
			r->scalar[k] = xstrdup(t);
		}
		for (k = 0; k < ACL_KIND__MAX && !found; k++) {
			if (strcasecmp(key, kinds[k].word) == 0)
				found = 1;
			else if (strcasecmp(key, kinds[k].prefix_word) == 0)
				found = 2;
			else
				continue;
			if (decode_family(r, k, found - 1, val, e) == -1)
				goto fail;
		}
	}
	if (rules_validate(r, e) == -1)
		goto fail;
done:
	*out = r;
	return 0;
fail:
	acl_rules_free(r);
	return -1;
}

/*
 * Decode and validate policy rules given as text (the Rules field of a
 * policy, HCL or JSON), as acl_rules_parse() does for a tree.  An HCL
 * syntax error is 500 "Failed to parse ACL rules: <hcl error>", as
 * Consul answers a policy write.
 */
int
acl_rules_parse_text(const char *src, size_t len,
    struct acl_policy_rules **out, struct perr *e)
{
	struct json_object	*tree = NULL;
	int			 rc;

	*out = NULL;
	if (len == 0)
		return acl_rules_parse(NULL, out, e);
	if (hcl_parse_flags(src, len, HCL_REPEAT_LIST, &tree, e) == -1) {
		if (e != NULL)
			e->status = 500;
		return perr_prefix(e, "Failed to parse ACL rules: ");
	}
	rc = acl_rules_parse(tree, out, e);
	json_object_put(tree);
	return rc;
}

/* Parse rules we generate ourselves; they are always valid. */
static struct acl_policy_rules *
rules_from_json(const char *json)
{
	struct acl_policy_rules	*r;
	struct json_object	*tree;
	struct perr		 e;

	if ((tree = json_tokener_parse(json)) == NULL)
		fatalx("%s: bad builtin JSON", __func__);
	if (acl_rules_parse(tree, &r, &e) == -1)
		fatalx("%s: %s", __func__, e.msg);
	json_object_put(tree);
	return r;
}

/*
 * The parsed rules of a builtin policy.  Free with acl_rules_free().
 */
struct acl_policy_rules *
acl_rules_builtin(enum acl_builtin b)
{
	assert(b >= 0 && b < ACL_BUILTIN__MAX);
	return rules_from_json(acl_builtins[b].rules_json);
}

/* ------------------------------------------------------------------ */
/* Synthetic policies for service and node identities (acl.md §12.5). */

static struct json_object *
block(struct json_object *fam, const char *label, const char *policy)
{
	struct json_object	*body;

	body = json_object_new_object();
	json_object_object_add(body, "policy", json_object_new_string(policy));
	json_object_object_add(fam, label, body);
	return fam;
}

/*
 * The rules of a service identity: write on the service and on its
 * sidecar proxy, read on every service and node.  Equivalent to
 * acl_synthetic_service_identity()'s text.  The name is not validated
 * here (the token/role layer does that).  Free with acl_rules_free().
 */
struct acl_policy_rules *
acl_rules_service_identity(const char *svc)
{
	struct acl_policy_rules	*r;
	struct json_object	*tree, *svcs;
	struct perr		 e;
	char			*proxy;

	xasprintf(&proxy, "%s-sidecar-proxy", svc);
	tree = json_object_new_object();
	svcs = json_object_new_object();
	block(svcs, svc, "write");
	block(svcs, proxy, "write");
	json_object_object_add(tree, "service", svcs);
	json_object_object_add(tree, "service_prefix",
	    block(json_object_new_object(), "", "read"));
	json_object_object_add(tree, "node_prefix",
	    block(json_object_new_object(), "", "read"));
	if (acl_rules_parse(tree, &r, &e) == -1)
		fatalx("%s: %s", __func__, e.msg);
	json_object_put(tree);
	free(proxy);
	return r;
}

/*
 * The rules of a node identity: write on the node, read on every
 * service.  Free with acl_rules_free().
 */
struct acl_policy_rules *
acl_rules_node_identity(const char *node)
{
	struct acl_policy_rules	*r;
	struct json_object	*tree;
	struct perr		 e;

	tree = json_object_new_object();
	json_object_object_add(tree, "node",
	    block(json_object_new_object(), node, "write"));
	json_object_object_add(tree, "service_prefix",
	    block(json_object_new_object(), "", "read"));
	if (acl_rules_parse(tree, &r, &e) == -1)
		fatalx("%s: %s", __func__, e.msg);
	json_object_put(tree);
	return r;
}

/*
 * Fill in ID, Name and Rules of a synthetic policy.  Consul computes
 * the ID as fmt.Sprintf("%x", fnv.New128a().Sum([]byte(rules))), and
 * Sum appends the hash of nothing to its argument: the ID is the rules
 * text in hex followed by the FNV-128a offset basis, not a hash of the
 * rules as acl.md §12.5 says.  We follow the code (agent/structs/acl.go).
 */
static void
synthetic_fill(struct acl_synthetic_policy *p, char *rules)
{
	static const char	 basis[] = "6c62272e07bb014262b821756295c58d";
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i, n;

	n = strlen(rules);
	p->id = xmalloc(2 * n + sizeof(basis));
	for (i = 0; i < n; i++) {
		p->id[2 * i] = hex[(unsigned char)rules[i] >> 4];
		p->id[2 * i + 1] = hex[(unsigned char)rules[i] & 0xf];
	}
	memcpy(p->id + 2 * n, basis, sizeof(basis));
	xasprintf(&p->name, "synthetic-policy-%s", p->id);
	p->rules = rules;
}

/*
 * The synthetic policy of a service identity, texts as Consul makes
 * them: Rules (tab-indented HCL starting with a newline), ID, Name
 * "synthetic-policy-<ID>", Description
 * "synthetic policy for service identity "<svc>"".  Strings in *p are
 * the caller's; release them with acl_synthetic_policy_clear().
 * Datacenters are the identity's and stay with the caller.
 */
void
acl_synthetic_service_identity(const char *svc,
    struct acl_synthetic_policy *p)
{
	struct acl_sbuf	 b = { NULL, 0, 0 };
	char		*rules, *q;

	xasprintf(&rules, "\nservice \"%s\" {\n\tpolicy = \"write\"\n}\n"
	    "service \"%s-sidecar-proxy\" {\n\tpolicy = \"write\"\n}\n"
	    "service_prefix \"\" {\n\tpolicy = \"read\"\n}\n"
	    "node_prefix \"\" {\n\tpolicy = \"read\"\n}", svc, svc);
	synthetic_fill(p, rules);
	sb_goquote(&b, svc);
	q = acl_rules_sb_take(&b);
	xasprintf(&p->description, "synthetic policy for service identity %s",
	    q);
	free(q);
}

/*
 * The synthetic policy of a node identity; see
 * acl_synthetic_service_identity().  It is valid only in the identity's
 * datacenter, which the caller keeps.
 */
void
acl_synthetic_node_identity(const char *node, struct acl_synthetic_policy *p)
{
	struct acl_sbuf	 b = { NULL, 0, 0 };
	char		*rules, *q;

	xasprintf(&rules, "\nnode \"%s\" {\n\tpolicy = \"write\"\n}\n"
	    "service_prefix \"\" {\n\tpolicy = \"read\"\n}", node);
	synthetic_fill(p, rules);
	sb_goquote(&b, node);
	q = acl_rules_sb_take(&b);
	xasprintf(&p->description, "synthetic policy for node identity %s", q);
	free(q);
}

/*
 * Free the strings of a synthetic policy and zero it.  Accepts a zeroed
 * struct.
 */
void
acl_synthetic_policy_clear(struct acl_synthetic_policy *p)
{
	free(p->id);
	free(p->name);
	free(p->description);
	free(p->rules);
	memset(p, 0, sizeof(*p));
}

/* ------------------------------------------------------------------ */
/* The compiled authorizer. */

/*
 * One name of a family with its merged exact and prefix rules, like a
 * leaf of the radix tree Consul uses.
 */
struct acl_leaf {
	char		*name;
	size_t		 len;
	enum acl_level	 exact;		/* NONE: no exact rule */
	enum acl_level	 prefix;	/* NONE: no prefix rule */
};

struct acl_tree {
	struct acl_leaf	*leaf;		/* sorted by name, bytewise */
	size_t		 n;
	size_t		*plen;		/* prefix rule lengths, longest first */
	size_t		 nplen;
};

#define TREE_INTENTION	ACL_KIND__MAX	/* derived from service rules */
#define TREE__MAX	(ACL_KIND__MAX + 1)

struct acl_authz {
	atomic_uint		 refs;
	enum acl_default_policy	 dflt;
	struct acl_tree		 tree[TREE__MAX];
	enum acl_level		 scalar[ACL_SCALAR__MAX];
};

/* A rule on its way into a merged tree. */
struct mrule {
	const char	*name;
	const char	*policy;
	const char	*intentions;
	size_t		 seq;		/* policy order, then rule order */
	int		 prefix;
};

static int
mrule_cmp(const void *va, const void *vb)
{
	const struct mrule	*a = va, *b = vb;
	int			 c;

	if ((c = strcmp(a->name, b->name)) != 0)
		return c;
	if (a->prefix != b->prefix)
		return a->prefix - b->prefix;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int
size_desc_cmp(const void *va, const void *vb)
{
	size_t	a = *(const size_t *)va, b = *(const size_t *)vb;

	return a < b ? 1 : a > b ? -1 : 0;
}

/* Append a leaf for name unless the last one already is for it. */
static struct acl_leaf *
tree_leaf(struct acl_tree *t, const char *name)
{
	struct acl_leaf	*l;

	if (t->n > 0 && strcmp(t->leaf[t->n - 1].name, name) == 0)
		return &t->leaf[t->n - 1];
	t->leaf = xrealloc(t->leaf, (t->n + 1) * sizeof(*t->leaf));
	l = &t->leaf[t->n++];
	l->name = xstrdup(name);
	l->len = strlen(name);
	l->exact = l->prefix = ACL_LEVEL_NONE;
	return l;
}

static void
tree_index(struct acl_tree *t)
{
	size_t	i, j;

	t->plen = xcalloc(t->n, sizeof(*t->plen));
	for (i = 0; i < t->n; i++)
		if (t->leaf[i].prefix != ACL_LEVEL_NONE)
			t->plen[t->nplen++] = t->leaf[i].len;
	qsort(t->plen, t->nplen, sizeof(*t->plen), size_desc_cmp);
	for (i = j = 0; i < t->nplen; i++)
		if (j == 0 || t->plen[j - 1] != t->plen[i])
			t->plen[j++] = t->plen[i];
	t->nplen = j;
}

/*
 * The intention level of a merged service rule: its own, or derived
 * from its policy.  Consul compares the policy as written here, so only
 * "read" and "write" (lower case) derive intentions read (policy_
 * authorizer.go); connect.md §6.5.
 */
static enum acl_level
intention_level(const char *policy, const char *intentions)
{
	if (*intentions != '\0')
		return level_parse(intentions);
	if (strcmp(policy, "read") == 0 || strcmp(policy, "write") == 0)
		return ACL_LEVEL_READ;
	return ACL_LEVEL_DENY;
}

/*
 * Merge family k of every policy in the set and build its tree (and,
 * for services, the intention tree).  For one (name, exact/prefix) key
 * the level with the highest precedence wins, first come on a tie;
 * a service's intentions merge on their own (policy_merger.go).
 */
static void
tree_build(struct acl_authz *a, enum acl_kind k,
    const struct acl_policy_rules *const *set, size_t nset)
{
	const struct acl_rule_list	*l;
	struct acl_tree			*t = &a->tree[k];
	struct acl_tree			*it = &a->tree[TREE_INTENTION];
	struct acl_leaf			*leaf;
	struct mrule			*m = NULL;
	const char			*pol, *intn;
	size_t				 nm = 0, i, j, g;
	int				 p;

	for (i = 0; i < nset; i++)
		for (p = 0; p < 2; p++) {
			l = &set[i]->rules[k][p];
			m = xrealloc(m, (nm + l->n + 1) * sizeof(*m));
			for (j = 0; j < l->n; j++) {
				m[nm].name = l->v[j].name;
				m[nm].policy = l->v[j].policy;
				m[nm].intentions = l->v[j].intentions;
				m[nm].prefix = p;
				m[nm].seq = nm;
				nm++;
			}
		}
	if (nm > 0)
		qsort(m, nm, sizeof(*m), mrule_cmp);
	for (i = 0; i < nm; i = g) {
		pol = m[i].policy;
		intn = m[i].intentions;
		for (g = i + 1; g < nm && strcmp(m[g].name, m[i].name) == 0 &&
		    m[g].prefix == m[i].prefix; g++) {
			if (takes_precedence(m[g].policy, pol))
				pol = m[g].policy;
			if (takes_precedence(m[g].intentions, intn))
				intn = m[g].intentions;
		}
		leaf = tree_leaf(t, m[i].name);
		if (m[i].prefix)
			leaf->prefix = level_parse(pol);
		else
			leaf->exact = level_parse(pol);
		if (k != ACL_KIND_SERVICE)
			continue;
		leaf = tree_leaf(it, m[i].name);
		if (m[i].prefix)
			leaf->prefix = intention_level(pol, intn);
		else
			leaf->exact = intention_level(pol, intn);
	}
	free(m);
}

/*
 * Compile a set of policies into one authorizer chained to the static
 * default authorizer dflt.  The set holds a token's policies, its roles'
 * policies and the synthetic policies of its identities, already
 * filtered by datacenter; order and duplicates do not matter except for
 * Consul's own tie rules.  The rules are borrowed: the authorizer keeps
 * no pointer into them.  An empty set (n = 0) gives the default alone.
 *
 * Returns the authorizer with one reference; release it with
 * acl_authz_free().  It is immutable, so threads may share it.
 */
struct acl_authz *
acl_authz_new(const struct acl_policy_rules *const *set, size_t n,
    enum acl_default_policy dflt)
{
	struct acl_authz	*a;
	const char		*cur;
	size_t			 i;
	int			 k;

	a = xcalloc(1, sizeof(*a));
	atomic_init(&a->refs, 1);
	a->dflt = dflt;
	for (k = 0; k < ACL_KIND__MAX; k++)
		tree_build(a, k, set, n);
	for (k = 0; k < TREE__MAX; k++)
		tree_index(&a->tree[k]);
	for (k = 0; k < ACL_SCALAR__MAX; k++) {
		cur = "";
		for (i = 0; i < n; i++)
			if (takes_precedence(set[i]->scalar[k], cur))
				cur = set[i]->scalar[k];
		a->scalar[k] = level_parse(cur);
	}
	return a;
}

/*
 * Take one more reference to an authorizer.  Returns it.
 */
struct acl_authz *
acl_authz_ref(struct acl_authz *a)
{
	atomic_fetch_add(&a->refs, 1);
	return a;
}

/*
 * Drop a reference; the last one frees the authorizer.  Accepts NULL.
 */
void
acl_authz_free(struct acl_authz *a)
{
	size_t	i;
	int	k;

	if (a == NULL || atomic_fetch_sub(&a->refs, 1) != 1)
		return;
	for (k = 0; k < TREE__MAX; k++) {
		for (i = 0; i < a->tree[k].n; i++)
			free(a->tree[k].leaf[i].name);
		free(a->tree[k].leaf);
		free(a->tree[k].plen);
	}
	free(a);
}

/* Compare a leaf's name with s[0..n) as strcmp() would. */
static int
leaf_cmp(const struct acl_leaf *l, const char *s, size_t n)
{
	int	c;

	if ((c = memcmp(l->name, s, l->len < n ? l->len : n)) != 0)
		return c;
	return l->len < n ? -1 : l->len > n;
}

/* The index of the first leaf whose name is not below s[0..n). */
static size_t
tree_lower(const struct acl_tree *t, const char *s, size_t n)
{
	size_t	lo = 0, hi = t->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (leaf_cmp(&t->leaf[mid], s, n) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct acl_leaf *
tree_find(const struct acl_tree *t, const char *s, size_t n)
{
	size_t	i;

	i = tree_lower(t, s, n);
	if (i < t->n && leaf_cmp(&t->leaf[i], s, n) == 0)
		return &t->leaf[i];
	return NULL;
}

/*
 * The longest prefix rule applying to s[0..n) (its own prefix rule
 * included), or NULL.
 */
static const struct acl_leaf *
tree_prefix(const struct acl_tree *t, const char *s, size_t n)
{
	const struct acl_leaf	*l;
	size_t			 i;

	for (i = 0; i < t->nplen; i++) {
		if (t->plen[i] > n)
			continue;
		if ((l = tree_find(t, s, t->plen[i])) != NULL &&
		    l->prefix != ACL_LEVEL_NONE)
			return l;
	}
	return NULL;
}

/* The rule for a name: exact, else longest prefix, else NONE. */
static enum acl_level
tree_get(const struct acl_tree *t, const char *name)
{
	const struct acl_leaf	*l;
	size_t			 n;

	n = strlen(name);
	if ((l = tree_find(t, name, n)) != NULL && l->exact != ACL_LEVEL_NONE)
		return l->exact;
	if ((l = tree_prefix(t, name, n)) != NULL)
		return l->prefix;
	return ACL_LEVEL_NONE;
}

/* What a rule's level grants for the access needed. */
static enum acl_decision
enforce(enum acl_level l, enum acl_access need)
{
	switch (l) {
	case ACL_LEVEL_WRITE:
		return ACL_ALLOW;
	case ACL_LEVEL_LIST:
		return need == ACL_ACCESS_LIST || need == ACL_ACCESS_READ ?
		    ACL_ALLOW : ACL_DENY;
	case ACL_LEVEL_READ:
		return need == ACL_ACCESS_READ ? ACL_ALLOW : ACL_DENY;
	case ACL_LEVEL_DENY:
		return ACL_DENY;
	default:
		return ACL_DEFAULT;
	}
}

/*
 * "Any rule allows": an allowing "" prefix rule decides at once, else
 * any leaf whose prefix or exact rule allows; failing that a denying
 * "" prefix rule denies, else no decision.
 */
static enum acl_decision
any_allowed(const struct acl_tree *t, enum acl_access need)
{
	const struct acl_leaf	*l;
	enum acl_decision	 d = ACL_DEFAULT, ld;
	size_t			 i;

	if ((l = tree_find(t, "", 0)) != NULL) {
		d = enforce(l->prefix, need);
		if (d == ACL_ALLOW)
			return ACL_ALLOW;
	}
	for (i = 0; i < t->n; i++) {
		l = &t->leaf[i];
		ld = enforce(l->prefix, need);
		if (ld != ACL_ALLOW && l->exact != ACL_LEVEL_NONE)
			ld = enforce(l->exact, need);
		if (ld == ACL_ALLOW)
			return ACL_ALLOW;
	}
	return d;
}

/*
 * "All rules allow": a "" prefix rule that does not allow denies; any
 * leaf that denies (its exact rule, else its prefix rule) denies;
 * otherwise the "" prefix rule's allow, or no decision.
 */
static enum acl_decision
all_allowed(const struct acl_tree *t, enum acl_access need)
{
	const struct acl_leaf	*l;
	enum acl_decision	 d = ACL_DEFAULT, ld;
	size_t			 i;

	if ((l = tree_find(t, "", 0)) != NULL) {
		d = enforce(l->prefix, need);
		if (d == ACL_DENY)
			return ACL_DENY;
	}
	for (i = 0; i < t->n; i++) {
		l = &t->leaf[i];
		ld = enforce(l->prefix, need);
		if (ld != ACL_DENY && l->exact != ACL_LEVEL_NONE)
			ld = enforce(l->exact, need);
		if (ld == ACL_DENY)
			return ACL_DENY;
	}
	return d;
}

/*
 * Write on a whole key subtree: the longest prefix rule applying to the
 * prefix must grant write (none: no decision) and no rule at or under
 * the prefix, exact or prefix, may grant less than write.
 */
static enum acl_decision
key_write_prefix(const struct acl_tree *t, const char *p)
{
	const struct acl_leaf	*l;
	enum acl_decision	 base = ACL_DEFAULT;
	size_t			 n, i;

	n = strlen(p);
	if ((l = tree_prefix(t, p, n)) != NULL) {
		if (l->prefix != ACL_LEVEL_WRITE)
			return ACL_DENY;
		base = ACL_ALLOW;
	}
	for (i = tree_lower(t, p, n); i < t->n; i++) {
		l = &t->leaf[i];
		if (l->len < n || memcmp(l->name, p, n) != 0)
			break;
		if ((l->prefix != ACL_LEVEL_NONE &&
		    l->prefix != ACL_LEVEL_WRITE) ||
		    (l->exact != ACL_LEVEL_NONE && l->exact != ACL_LEVEL_WRITE))
			return ACL_DENY;
	}
	return base;
}

/* A single-valued item; mesh and peering fall back to operator. */
static enum acl_decision
scalar_decide(const struct acl_authz *a, enum acl_scalar s,
    enum acl_access need)
{
	if ((s == ACL_SCALAR_MESH || s == ACL_SCALAR_PEERING) &&
	    a->scalar[s] == ACL_LEVEL_NONE)
		s = ACL_SCALAR_OPERATOR;
	return enforce(a->scalar[s], need);
}

/*
 * The decision of the merged policies alone: ACL_ALLOW, ACL_DENY, or
 * ACL_DEFAULT when no rule applies.  A NULL name is "".  Intention
 * checks on the name "*" ask whether any rule allows read, or whether
 * all rules allow write (connect.md §6.5).  An access level the
 * resource does not have (list on service, say) is ACL_DENY.
 */
enum acl_decision
acl_authz_decide(const struct acl_authz *a, enum acl_resource r,
    enum acl_access need, const char *name)
{
	assert(r >= 0 && r < ACL_RES__MAX);
	if (name == NULL)
		name = "";
	if (!access_valid(r, need))
		return ACL_DENY;
	switch (r) {
	case ACL_RES_ACL:
		return scalar_decide(a, ACL_SCALAR_ACL, need);
	case ACL_RES_KEYRING:
		return scalar_decide(a, ACL_SCALAR_KEYRING, need);
	case ACL_RES_OPERATOR:
		return scalar_decide(a, ACL_SCALAR_OPERATOR, need);
	case ACL_RES_MESH:
		return scalar_decide(a, ACL_SCALAR_MESH, need);
	case ACL_RES_PEERING:
		return scalar_decide(a, ACL_SCALAR_PEERING, need);
	case ACL_RES_INTENTION:
		if (strcmp(name, "*") == 0)
			return need == ACL_ACCESS_READ ?
			    any_allowed(&a->tree[TREE_INTENTION], need) :
			    all_allowed(&a->tree[TREE_INTENTION], need);
		return enforce(tree_get(&a->tree[TREE_INTENTION], name),
		    need);
	case ACL_RES_KEY:
		if (need == ACL_ACCESS_WRITE_PREFIX)
			return key_write_prefix(&a->tree[ACL_KIND_KEY], name);
		/* FALLTHROUGH */
	default:
		return enforce(tree_get(&a->tree[resource_kind[r]], name),
		    need);
	}
}

/*
 * The final answer of the chain: the merged policies, then the default
 * authorizer (allow: everything but acl:*; deny: nothing; manage:
 * everything).  Returns ACL_ALLOW or ACL_DENY, never ACL_DEFAULT.
 */
enum acl_decision
acl_authz_check(const struct acl_authz *a, enum acl_resource r,
    enum acl_access need, const char *name)
{
	enum acl_decision	d;

	if ((d = acl_authz_decide(a, r, need, name)) != ACL_DEFAULT)
		return d;
	switch (a->dflt) {
	case ACL_DEFAULT_MANAGE:
		return ACL_ALLOW;
	case ACL_DEFAULT_ALLOW:
		return r == ACL_RES_ACL ? ACL_DENY : ACL_ALLOW;
	default:
		return ACL_DENY;
	}
}

/*
 * Whether a connection matching no intention is allowed.  Policies
 * never decide this; the default authorizer does (connect.md §6.6).
 */
int
acl_authz_intention_default_allow(const struct acl_authz *a)
{
	return a->dflt != ACL_DEFAULT_DENY;
}

/*
 * Set e to Consul's detailed 403 for a failed check (acl.md §1.10):
 *   Permission denied: token with AccessorID '<id>' lacks permission
 *   '<resource>:<level>'[ on "<name>"]
 * or, for the anonymous token,
 *   Permission denied: anonymous token lacks permission '<r>:<l>'
 *   [ on "<name>"]. The anonymous token is used implicitly when a
 *   request does not specify a token.
 * The name part appears only for named resources and a non-empty name,
 * quoted without escaping as Consul does.  A NULL accessor prints as
 * ''.  Returns -1.
 */
int
acl_denied(struct perr *e, const char *accessor, enum acl_resource r,
    enum acl_access need, const char *name)
{
	char	 on[sizeof(e->msg)];

	on[0] = '\0';
	if (resources[r].named && name != NULL && *name != '\0')
		snprintf(on, sizeof(on), " on \"%s\"", name);
	if (accessor != NULL &&
	    strcmp(accessor, ACL_ANONYMOUS_ACCESSOR_ID) == 0)
		return perr_set(e, 403, "Permission denied: anonymous token "
		    "lacks permission '%s:%s'%s. The anonymous token is used "
		    "implicitly when a request does not specify a token.",
		    acl_resource_name(r), acl_access_name(need), on);
	return perr_set(e, 403, "Permission denied: token with AccessorID "
	    "'%s' lacks permission '%s:%s'%s", accessor != NULL ? accessor : "",
	    acl_resource_name(r), acl_access_name(need), on);
}

/*
 * Require access: returns 0 when the chain allows it, else -1 with
 * e set to the 403 of acl_denied() for accessor_id (never a SecretID).
 */
int
acl_authz_require(const struct acl_authz *a, const char *accessor_id,
    enum acl_resource r, enum acl_access need, const char *name,
    struct perr *e)
{
	if (acl_authz_check(a, r, need, name) == ACL_ALLOW)
		return 0;
	return acl_denied(e, accessor_id, r, need, name);
}

/*
 * One check given as words, as POST /v1/internal/acl/authorize takes
 * them (acl.md §12.7): resource matched exactly, access
 * case-insensitively.  Sets *allowed to 1 or 0 and returns 0; returns
 * -1 with 400 "Invalid ACL resource requested: "<r>"" or
 * "Invalid access level for <r> resource: <access>" otherwise.
 */
int
acl_enforce(const struct acl_authz *a, const char *resource,
    const char *segment, const char *access, int *allowed, struct perr *e)
{
	struct acl_sbuf		 b = { NULL, 0, 0 };
	enum acl_resource	 r;
	enum acl_access		 need;
	char			*q;

	*allowed = 0;
	if (acl_resource_parse(resource, &r) == -1) {
		sb_goquote(&b, resource);
		q = acl_rules_sb_take(&b);
		perr_set(e, 400, "Invalid ACL resource requested: %s", q);
		free(q);
		return -1;
	}
	if (acl_access_parse(access, &need) == -1 || !access_valid(r, need))
		return perr_set(e, 400, "Invalid access level for %s resource: "
		    "%s", resource, access);
	*allowed = acl_authz_check(a, r, need, segment) == ACL_ALLOW;
	return 0;
}
