/*
 * intention.c -- the Connect intentions API (spec connect.md §6):
 *
 *   GET    /v1/connect/intentions               list (?filter=)
 *   POST   /v1/connect/intentions               legacy create
 *   GET    /v1/connect/intentions/:id           legacy read
 *   PUT    /v1/connect/intentions/:id           legacy update
 *   DELETE /v1/connect/intentions/:id           legacy delete
 *   GET    /v1/connect/intentions/exact         read by names
 *   PUT    /v1/connect/intentions/exact         upsert by names
 *   DELETE /v1/connect/intentions/exact         delete by names
 *   GET    /v1/connect/intentions/check         would it be allowed
 *   GET    /v1/connect/intentions/match         matches, by precedence
 *
 * Storage follows Consul 1.9+: the intentions to one destination form
 * one config entry (intention_entry) sharing Create/ModifyIndex; an
 * intention made through the legacy (ID) API carries an ID, CreatedAt
 * and UpdatedAt, one made by name does not, and a by-name write to a
 * destination strips the legacy IDs of all its intentions.  Consul
 * answers most validation failures with 500, not 400; so do we, with
 * its texts (marked "Consul: 500" where it surprises).
 *
 * Reads are served from a per-worker snapshot of every intention in
 * evaluation order, replaced when the intentions table index moves:
 * check and match cost no SQLite query while nothing changes.
 *
 * The queries (the snapshot loader, entries, rows) are in
 * intention_db.c; this file validates, decides, renders and frames
 * each write with store_begin()/store_commit().
 */
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "acl.h"
#include "bexpr.h"
#include "intention.h"
#include "intention_db.h"
#include "json.h"
#include "req.h"
#include "route.h"
#include "store.h"
#include "util.h"

#define META_MAX_PAIRS		64
#define META_KEY_MAX		128
#define META_VALUE_MAX		512

/* The request body of every intention write (structs.Intention). */
struct ixn_in {
	const char		*id;
	const char		*description;
	const char		*source_peer;
	const char		*source_ns;
	const char		*source_name;
	const char		*dest_ns;
	const char		*dest_name;
	const char		*source_partition;
	const char		*dest_partition;
	const char		*source_sg;
	const char		*source_type;
	const char		*action;
	struct json_object	*permissions;
	struct json_object	*meta;
	int64_t			 ignored;
};

#define I(f)	offsetof(struct ixn_in, f)

static const struct jfield ixn_fields[] = {
	{ "ID", J_STRING, I(id), "string" },
	{ "Description", J_STRING, I(description), "string" },
	{ "SourcePeer", J_STRING, I(source_peer), "string" },
	{ "SourceNS", J_STRING, I(source_ns), "string" },
	{ "SourceName", J_STRING, I(source_name), "string" },
	{ "DestinationNS", J_STRING, I(dest_ns), "string" },
	{ "DestinationName", J_STRING, I(dest_name), "string" },
	{ "SourcePartition", J_STRING, I(source_partition), "string" },
	{ "DestinationPartition", J_STRING, I(dest_partition), "string" },
	{ "SourceSamenessGroup", J_STRING, I(source_sg), "string" },
	{ "SourceType", J_STRING, I(source_type), "structs.IntentionSourceType" },
	{ "Action", J_STRING, I(action), "structs.IntentionAction" },
	{ "Permissions", J_ARRAY, I(permissions),
	    "[]*structs.IntentionPermission" },
	{ "Meta", J_MAP_STRING, I(meta), "map[string]string" },
	{ "Precedence", J_INT, I(ignored), "int" },
	{ "DefaultAddr", J_IGNORE, 0, "string" },
	{ "DefaultPort", J_IGNORE, 0, "int" },
	{ "JWT", J_IGNORE, 0, "structs.IntentionJWTRequirement" },
	{ "CreatedAt", J_IGNORE, 0, "time.Time" },
	{ "UpdatedAt", J_IGNORE, 0, "time.Time" },
	{ "Hash", J_IGNORE, 0, "[]uint8" },
	{ "CreateIndex", J_IGNORE, 0, "uint64" },
	{ "ModifyIndex", J_IGNORE, 0, "uint64" },
	{ NULL, 0, 0, NULL }
};

/* L7 permission shapes, decoded only to validate them. */
struct perm_in {
	const char		*action;
	struct json_object	*http;
};
struct http_in {
	const char		*path_exact, *path_prefix, *path_regex;
	struct json_object	*header, *methods;
};
struct header_in {
	const char		*name, *exact, *prefix, *suffix, *contains;
	const char		*regex;
	int			 present, invert, ignore_case;
};

static const struct jfield perm_fields[] = {
	{ "Action", J_STRING, offsetof(struct perm_in, action),
	    "structs.IntentionAction" },
	{ "HTTP", J_ANY, offsetof(struct perm_in, http),
	    "structs.IntentionHTTPPermission" },
	{ NULL, 0, 0, NULL }
};
static const struct jfield http_fields[] = {
	{ "PathExact", J_STRING, offsetof(struct http_in, path_exact),
	    "string" },
	{ "PathPrefix", J_STRING, offsetof(struct http_in, path_prefix),
	    "string" },
	{ "PathRegex", J_STRING, offsetof(struct http_in, path_regex),
	    "string" },
	{ "Header", J_ARRAY, offsetof(struct http_in, header),
	    "[]structs.IntentionHTTPHeaderPermission" },
	{ "Methods", J_ARRAY, offsetof(struct http_in, methods),
	    "[]string" },
	{ NULL, 0, 0, NULL }
};
static const struct jfield header_fields[] = {
	{ "Name", J_STRING, offsetof(struct header_in, name), "string" },
	{ "Present", J_BOOL, offsetof(struct header_in, present), "bool" },
	{ "Exact", J_STRING, offsetof(struct header_in, exact), "string" },
	{ "Prefix", J_STRING, offsetof(struct header_in, prefix), "string" },
	{ "Suffix", J_STRING, offsetof(struct header_in, suffix), "string" },
	{ "Contains", J_STRING, offsetof(struct header_in, contains),
	    "string" },
	{ "Regex", J_STRING, offsetof(struct header_in, regex), "string" },
	{ "Invert", J_BOOL, offsetof(struct header_in, invert), "bool" },
	{ "IgnoreCase", J_BOOL, offsetof(struct header_in, ignore_case),
	    "bool" },
	{ NULL, 0, 0, NULL }
};

/* Selectors of ?filter= on the list (spec §6.5). */
static const struct bexpr_field ixn_filter_schema[] = {
	{ "ID", BF_STRING, NULL },
	{ "Description", BF_STRING, NULL },
	{ "SourceNS", BF_STRING, NULL },
	{ "SourceName", BF_STRING, NULL },
	{ "DestinationNS", BF_STRING, NULL },
	{ "DestinationName", BF_STRING, NULL },
	{ "SourcePartition", BF_STRING, NULL },
	{ "DestinationPartition", BF_STRING, NULL },
	{ "SourcePeer", BF_STRING, NULL },
	{ "SourceSamenessGroup", BF_STRING, NULL },
	{ "SourceType", BF_STRING, NULL },
	{ "Action", BF_STRING, NULL },
	{ "Precedence", BF_INT, NULL },
	{ "Meta", BF_MAP_STRING, NULL },
	{ NULL, 0, NULL }
};

/* ---------------------------------------------------------------- */
/* Precedence, matching, the default decision.                       */

/*
 * Precedence of source -> destination in CE, where namespaces are
 * always exact: 9 exact->exact, 8 *->exact, 6 exact->*, 5 *->*.
 */
int
intention_precedence(const char *src, const char *dst)
{
	int	max;

	max = strcmp(dst, "*") == 0 ? 6 : 9;
	return strcmp(src, "*") == 0 ? max - 1 : max;
}

static int
name_matches(const char *pattern, const char *name)
{
	return strcmp(pattern, "*") == 0 || strcmp(pattern, name) == 0;
}

/* Order of by_name: destination, source, source peer (the store's key). */
static int
name_cmp(const char *dst, const char *src, const char *peer,
    const struct ixn *x)
{
	int	c;

	if ((c = strcmp(dst, x->dest_name)) != 0 ||
	    (c = strcmp(src, x->source_name)) != 0)
		return c;
	return strcmp(peer, x->source_peer);
}

/*
 * The order of a snapshot's by_name (qsort() over struct ixn *):
 * destination, source, peer, bytewise.
 */
int
ixn_by_name_cmp(const void *a, const void *b)
{
	const struct ixn	*x = *(const struct ixn *const *)a;

	return name_cmp(x->dest_name, x->source_name, x->source_peer,
	    *(const struct ixn *const *)b);
}

/*
 * The intention src (from peer, "" for local) -> dst of snapshot s, or
 * NULL: a binary search of by_name, so check, authorize and exact reads
 * cost the same with 10 intentions or 10,000.
 */
const struct ixn *
ixn_snap_find(const struct ixn_snap *s, const char *src, const char *peer,
    const char *dst)
{
	size_t	lo = 0, hi = s->n, mid;
	int	c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = name_cmp(dst, src, peer, s->by_name[mid])) == 0)
			return s->by_name[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/*
 * Index snapshot s by name (its by_name, replaced): called by the
 * snapshot loader once the intentions are read.
 */
void
ixn_snap_index(struct ixn_snap *s)
{
	size_t	i;

	free(s->by_name);
	s->by_name = xcalloc(s->n + 1, sizeof(*s->by_name));
	for (i = 0; i < s->n; i++)
		s->by_name[i] = s->v[i];
	qsort(s->by_name, s->n, sizeof(*s->by_name), ixn_by_name_cmp);
}

/*
 * The first intention in evaluation order that governs src -> dst
 * (local source), or NULL when none does.  Only four can: src -> dst,
 * * -> dst, src -> *, * -> *, one per precedence (9, 8, 6, 5), so the
 * first of them that exists is the one a walk in evaluation order
 * would meet first.
 */
const struct ixn *
intention_decide(const struct ixn_snap *s, const char *src, const char *dst)
{
	const struct ixn	*x;

	if ((x = ixn_snap_find(s, src, "", dst)) != NULL ||
	    (x = ixn_snap_find(s, "*", "", dst)) != NULL ||
	    (x = ixn_snap_find(s, src, "", "*")) != NULL)
		return x;
	return ixn_snap_find(s, "*", "", "*");
}

/* ---------------------------------------------------------------- */
/* The per-worker snapshot.                                           */

static struct snap_slot	ixn_slot = SNAP_SLOT(TBIT(TBL_INTENTIONS));

/* Release a snapshot reference.  NULL is fine. */
void
ixn_snap_put(struct ixn_snap *s)
{
	snap_put(s == NULL ? NULL : &s->hdr);
}

/*
 * A reference to the current snapshot, loaded first (by
 * intention_db_snap_load()) when the intentions index moved.  Release
 * with ixn_snap_put().
 */
int
ixn_snap_get(struct req *req, struct ixn_snap **out, struct perr *e)
{
	struct snap	*s;

	if (snap_get(&ixn_slot, req->store, intention_db_snap_load, NULL, &s,
	    e) == -1)
		return -1;
	*out = (struct ixn_snap *)s;
	return 0;
}

/* ---------------------------------------------------------------- */
/* Encoding.                                                          */

static struct json_object *
parse_stored(const char *text)
{
	struct json_object	*v;

	if (text == NULL)
		return NULL;
	v = json_tokener_parse(text);
	return v;
}

/* The API object of x (structs.Intention as CE renders it). */
struct json_object *
intention_json(const struct ixn *x)
{
	struct json_object	*o, *v;

	o = json_object_new_object();
	if (x->id != NULL)
		json_object_object_add(o, "ID", json_object_new_string(x->id));
	if (x->description != NULL && *x->description != '\0')
		json_object_object_add(o, "Description",
		    json_object_new_string(x->description));
	if (x->source_peer != NULL && *x->source_peer != '\0')
		json_object_object_add(o, "SourcePeer",
		    json_object_new_string(x->source_peer));
	json_object_object_add(o, "SourceNS",
	    json_object_new_string("default"));
	json_object_object_add(o, "SourceName",
	    json_object_new_string(x->source_name));
	json_object_object_add(o, "DestinationNS",
	    json_object_new_string("default"));
	json_object_object_add(o, "DestinationName",
	    json_object_new_string(x->dest_name));
	json_object_object_add(o, "SourceType",
	    json_object_new_string(x->source_type));
	if (x->action != NULL)
		json_object_object_add(o, "Action",
		    json_object_new_string(x->action));
	if ((v = parse_stored(x->permissions)) != NULL)
		json_object_object_add(o, "Permissions", v);
	/* Meta is omitempty (older docs show "Meta": {}: pre-1.9). */
	if ((v = parse_stored(x->meta)) != NULL) {
		if (json_object_object_length(v) > 0)
			json_object_object_add(o, "Meta", json_map_sorted(v));
		json_object_put(v);
	}
	json_object_object_add(o, "Precedence",
	    json_object_new_int(x->precedence));
	if (x->created_at != NULL)
		json_object_object_add(o, "CreatedAt",
		    json_object_new_string(x->created_at));
	if (x->updated_at != NULL)
		json_object_object_add(o, "UpdatedAt",
		    json_object_new_string(x->updated_at));
	json_object_object_add(o, "CreateIndex",
	    json_object_new_uint64(x->create_index));
	json_object_object_add(o, "ModifyIndex",
	    json_object_new_uint64(x->modify_index));
	return o;
}

/* ---------------------------------------------------------------- */
/* Names in query parameters: "name", "ns/name", "ap/ns/name".        */

/*
 * Parse a service reference from a query parameter.  In CE only the
 * default namespace and partition exist; others are rejected naming
 * label ("SourceNS", "match entry namespace"), as Consul words it per
 * endpoint.  Consul: 500.
 */
static int
parse_name(struct req *req, const char *param, const char *value,
    const char *label, const char **name, struct perr *e)
{
	const char	*p, *s1 = NULL, *s2 = NULL;
	char		*ns;
	int		 slashes = 0;

	if (strncmp(value, "peer:", 5) == 0)
		return perr_set(e, 500, "%s \"%s\" is invalid: cannot specify "
		    "a peer here", param, value);
	for (p = value; *p; p++)
		if (*p == '/') {
			if (slashes == 0)
				s1 = p;
			else
				s2 = p;
			slashes++;
		}
	if (slashes > 2)
		return perr_set(e, 500, "%s \"%s\" is invalid: input can "
		    "contain at most two '/'", param, value);
	if (slashes == 0) {
		*name = value;
		return 0;
	}
	if (slashes == 2) {
		/* partition/ns/name */
		if (s1 != value && strncmp(value, "default", 7) != 0)
			return perr_set(e, 500, "Partitions are a Consul "
			    "Enterprise feature");
		ns = arena_strndup(req->arena, s1 + 1, (size_t)(s2 - s1 - 1));
		*name = s2 + 1;
	} else {
		ns = arena_strndup(req->arena, value, (size_t)(s1 - value));
		*name = s1 + 1;
	}
	if (*ns != '\0' && strcmp(ns, "default") != 0)
		return perr_set(e, 500, "Invalid %s \"%s\": Namespaces is a "
		    "Consul Enterprise feature", label, ns);
	return 0;
}

/* Consul: a missing required parameter is a 500 with this text. */
static int
required(struct req *req, const char *key, const char **out, struct perr *e)
{
	const char	*vals[2];

	if (req_query_all(req, key, vals, 2) != 1)
		return perr_set(e, 500, "required query parameter '%s' not set",
		    key);
	*out = vals[0];
	return 0;
}

/* ---------------------------------------------------------------- */
/* Validation.                                                        */

struct multierr {
	char	buf[2048];
	int	n;
};

static void PC_PRINTF(2, 3)
merr_add(struct multierr *m, const char *fmt, ...)
{
	char	line[600];
	va_list	ap;
	size_t	len = strlen(m->buf);

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	snprintf(m->buf + len, sizeof(m->buf) - len, "\t* %s\n", line);
	m->n++;
}

/* go-multierror's format: "1 error occurred:\n\t* x\n\n" (Consul: 500). */
static int
merr_done(struct multierr *m, struct perr *e)
{
	if (m->n == 0)
		return 0;
	return perr_set(e, 500, "%d error%s occurred:\n%s\n", m->n,
	    m->n == 1 ? "" : "s", m->buf);
}

static int
meta_check(struct json_object *meta, const char *pfx, struct multierr *m,
    struct perr *e)
{
	if (meta == NULL)
		return 0;
	if (json_object_object_length(meta) > META_MAX_PAIRS) {
		if (m != NULL)
			merr_add(m, "Meta exceeds maximum element count %d",
			    META_MAX_PAIRS);
		else
			return perr_set(e, 500, "%sMeta exceeds maximum "
			    "element count %d", pfx, META_MAX_PAIRS);
	}
	json_object_object_foreach(meta, k, v) {
		const char *s = v ? json_object_get_string(v) : "";

		if (strlen(k) > META_KEY_MAX) {
			if (m == NULL)
				return perr_set(e, 500, "%sMeta key \"%s\" "
				    "exceeds maximum length %d", pfx, k,
				    META_KEY_MAX);
			merr_add(m, "Meta key \"%s\" exceeds maximum length %d",
			    k, META_KEY_MAX);
		}
		if (strlen(s) > META_VALUE_MAX) {
			if (m == NULL)
				return perr_set(e, 500, "%sMeta value for key "
				    "\"%s\" exceeds maximum length %d", pfx, k,
				    META_VALUE_MAX);
			merr_add(m, "Meta value for key \"%s\" exceeds maximum "
			    "length %d", k, META_VALUE_MAX);
		}
	}
	return 0;
}

static int
partial_wildcard(const char *s)
{
	return strcmp(s, "*") != 0 && strchr(s, '*') != NULL;
}

/* Intention.Validate() of the legacy API, all errors at once. */
static int
validate_legacy(const struct ixn_in *in, struct perr *e)
{
	struct multierr	m;

	memset(&m, 0, sizeof(m));
	if (*in->source_ns == '\0')
		merr_add(&m, "SourceNS must be set");
	if (*in->source_name == '\0')
		merr_add(&m, "SourceName must be set");
	if (*in->dest_ns == '\0')
		merr_add(&m, "DestinationNS must be set");
	if (*in->dest_name == '\0')
		merr_add(&m, "DestinationName must be set");
	if (partial_wildcard(in->source_ns))
		merr_add(&m, "SourceNS: wildcard character '*' cannot be used "
		    "with partial values");
	if (partial_wildcard(in->source_name))
		merr_add(&m, "SourceName: wildcard character '*' cannot be "
		    "used with partial values");
	if (partial_wildcard(in->dest_ns))
		merr_add(&m, "DestinationNS: wildcard character '*' cannot be "
		    "used with partial values");
	if (partial_wildcard(in->dest_name))
		merr_add(&m, "DestinationName: wildcard character '*' cannot "
		    "be used with partial values");
	if (strlen(in->description) > META_VALUE_MAX)
		merr_add(&m, "Description exceeds maximum length %d",
		    META_VALUE_MAX);
	(void)meta_check(in->meta, "", &m, e);
	if (strcmp(in->action, "allow") != 0 && strcmp(in->action, "deny") != 0)
		merr_add(&m, "Action must be set to 'allow' or 'deny'");
	if (in->permissions != NULL &&
	    json_object_array_length(in->permissions) > 0)
		merr_add(&m, "Permissions must not be set when using the "
		    "legacy APIs");
	if (strcmp(in->source_type, "consul") != 0)
		merr_add(&m, "SourceType must be set to 'consul'");
	return merr_done(&m, e);
}

static int
validate_http(struct req *req, struct json_object *h, const char *pfx,
    struct perr *e)
{
	static const char *const methods[] = { "GET", "HEAD", "POST", "PUT",
	    "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", NULL };
	struct http_in		 hi;
	struct header_in	 hd;
	size_t			 j, k, l, n;
	int			 parts = 0, set;
	char			*up, *upk;

	memset(&hi, 0, sizeof(hi));
	if (json_decode(req->arena, h, http_fields,
	    "structs.IntentionHTTPPermission", &hi, NULL, e) == -1)
		return perr_prefix(e, "Request decode failed: ");
	if (hi.path_exact != NULL && *hi.path_exact != '\0') {
		parts++;
		if (hi.path_exact[0] != '/')
			return perr_set(e, 500, "%s.HTTP.PathExact doesn't "
			    "start with '/': \"%s\"", pfx, hi.path_exact);
	}
	if (hi.path_prefix != NULL && *hi.path_prefix != '\0') {
		parts++;
		if (hi.path_prefix[0] != '/')
			return perr_set(e, 500, "%s.HTTP.PathPrefix doesn't "
			    "start with '/': \"%s\"", pfx, hi.path_prefix);
	}
	if (hi.path_regex != NULL && *hi.path_regex != '\0')
		parts++;
	if (parts > 1)
		return perr_set(e, 500, "%s.HTTP should only contain at most "
		    "one of PathExact, PathPrefix, or PathRegex", pfx);
	n = hi.header ? json_object_array_length(hi.header) : 0;
	for (j = 0; j < n; j++) {
		memset(&hd, 0, sizeof(hd));
		if (json_decode(req->arena, json_object_array_get_idx(
		    hi.header, j), header_fields,
		    "structs.IntentionHTTPHeaderPermission", &hd, NULL, e) == -1)
			return perr_prefix(e, "Request decode failed: ");
		if (hd.name == NULL || *hd.name == '\0')
			return perr_set(e, 500, "%s.HTTP.Header[%zu] missing "
			    "required Name field", pfx, j);
		set = hd.present + (hd.exact && *hd.exact) +
		    (hd.prefix && *hd.prefix) + (hd.suffix && *hd.suffix) +
		    (hd.contains && *hd.contains) + (hd.regex && *hd.regex);
		if (set > 1)
			return perr_set(e, 500, "%s.HTTP.Header[%zu] should only "
			    "contain one of Present, Exact, Prefix, Suffix, "
			    "Contains, or Regex", pfx, j);
		if (hd.ignore_case && !((hd.exact && *hd.exact) ||
		    (hd.prefix && *hd.prefix) || (hd.suffix && *hd.suffix) ||
		    (hd.contains && *hd.contains)))
			return perr_set(e, 500, "%s.HTTP.Header[%zu] should set "
			    "one of Exact, Prefix, Suffix, or Contains when "
			    "using IgnoreCase", pfx, j);
	}
	l = hi.methods ? json_object_array_length(hi.methods) : 0;
	for (j = 0; j < l; j++) {
		struct json_object *mv = json_object_array_get_idx(hi.methods,
		    j);

		if (!json_object_is_type(mv, json_type_string))
			return perr_set(e, 400, "Request decode failed: json: "
			    "cannot unmarshal %s into Go struct field "
			    "IntentionHTTPPermission.Methods of type string",
			    json_type_go(mv));
		up = arena_strdup(req->arena, json_object_get_string(mv));
		for (k = 0; up[k]; k++)
			up[k] = (char)toupper((unsigned char)up[k]);
		for (k = 0; methods[k] != NULL; k++)
			if (strcmp(methods[k], up) == 0)
				break;
		if (methods[k] == NULL)
			return perr_set(e, 500, "%s.HTTP.Methods contains an "
			    "invalid method \"%s\"", pfx, up);
		for (k = 0; k < j; k++) {
			upk = arena_strdup(req->arena, json_object_get_string(
			    json_object_array_get_idx(hi.methods, k)));
			for (size_t c = 0; upk[c]; c++)
				upk[c] = (char)toupper((unsigned char)upk[c]);
			if (strcmp(up, upk) == 0)
				return perr_set(e, 500, "%s.HTTP.Methods "
				    "contains \"%s\" more than once", pfx, up);
		}
	}
	if (parts == 0 && n == 0 && l == 0)
		return perr_set(e, 500, "%s.HTTP should not be empty", pfx);
	return 0;
}

/*
 * ServiceIntentionsConfigEntry validation of source i of the entry for
 * in->dest_name (by-name writes).  Consul: 500, one error.
 */
static int
validate_source(struct req *req, const struct ixn_in *in, size_t i,
    struct perr *e)
{
	struct perm_in	 p;
	char		 pfx[64];
	size_t		 j, n;

	if (*in->dest_name == '\0')
		return perr_set(e, 500, "Name is required");
	if (partial_wildcard(in->dest_name))
		return perr_set(e, 500, "Name: wildcard character '*' cannot "
		    "be used with partial values");
	if (*in->source_name == '\0')
		return perr_set(e, 500, "Sources[%zu].Name is required", i);
	if (partial_wildcard(in->source_name))
		return perr_set(e, 500, "Sources[%zu].Name: wildcard character "
		    "'*' cannot be used with partial values", i);
	if (strlen(in->description) > META_VALUE_MAX)
		return perr_set(e, 500, "Sources[%zu].Description exceeds "
		    "maximum length %d", i, META_VALUE_MAX);
	n = in->permissions ? json_object_array_length(in->permissions) : 0;
	if (n > 0 && *in->action != '\0')
		return perr_set(e, 500, "Sources[%zu].Action must be omitted if "
		    "Permissions are specified", i);
	if (strcmp(in->source_type, "consul") != 0)
		return perr_set(e, 500, "Sources[%zu].Type must be set to "
		    "'consul'", i);
	for (j = 0; j < n; j++) {
		if (strcmp(in->dest_name, "*") == 0)
			return perr_set(e, 500, "Sources[%zu].Permissions "
			    "cannot be specified on intentions with wildcarded "
			    "destinations", i);
		snprintf(pfx, sizeof(pfx), "Sources[%zu].Permissions[%zu]", i, j);
		memset(&p, 0, sizeof(p));
		if (json_decode(req->arena, json_object_array_get_idx(
		    in->permissions, j), perm_fields,
		    "structs.IntentionPermission", &p, NULL, e) == -1)
			return perr_prefix(e, "Request decode failed: ");
		if (p.action == NULL || (strcmp(p.action, "allow") != 0 &&
		    strcmp(p.action, "deny") != 0))
			return perr_set(e, 500, "%s.Action must be set to "
			    "'allow' or 'deny'", pfx);
		if (p.http == NULL)
			return perr_set(e, 500, "%s.HTTP is required", pfx);
		if (validate_http(req, p.http, pfx, e) == -1)
			return -1;
	}
	if (n == 0 && strcmp(in->action, "allow") != 0 &&
	    strcmp(in->action, "deny") != 0)
		return perr_set(e, 500, "Sources[%zu].Action must be set to "
		    "'allow' or 'deny'", i);
	return 0;
}

/* Fill in what Consul defaults before validating. */
static void
defaults(struct ixn_in *in)
{
#define DEF(f, v)	if (in->f == NULL) in->f = (v)
	DEF(id, "");
	DEF(description, "");
	DEF(source_peer, "");
	DEF(source_ns, "");
	DEF(source_name, "");
	DEF(dest_ns, "");
	DEF(dest_name, "");
	DEF(source_partition, "");
	DEF(dest_partition, "");
	DEF(source_sg, "");
	DEF(source_type, "");
	DEF(action, "");
#undef DEF
	if (*in->source_type == '\0')
		in->source_type = "consul";
}

static int
is_default_ns(const char *ns)
{
	return *ns == '\0' || strcasecmp(ns, "default") == 0;
}

/* CE's checks of the enterprise fields of a legacy body (400). */
static int
legacy_entmeta(struct ixn_in *in, struct perr *e)
{
	if (!is_default_ns(in->source_ns))
		return perr_set(e, 400, "Invalid SourceNS(%s): Namespaces is a "
		    "Consul Enterprise feature", in->source_ns);
	if (!is_default_ns(in->dest_ns))
		return perr_set(e, 400, "Invalid DestinationNS(%s): Namespaces "
		    "is a Consul Enterprise feature", in->dest_ns);
	if (!is_default_ns(in->source_partition))
		return perr_set(e, 400, "Cannot specify a source partition with "
		    "this endpoint");
	if (!is_default_ns(in->dest_partition))
		return perr_set(e, 400, "Cannot specify a destination partition "
		    "with this endpoint");
	in->source_ns = in->dest_ns = "default";
	return 0;
}

static char *
now_rfc3339(struct req *req)
{
	struct timespec	ts;
	char		buf[40];

	clock_gettime(CLOCK_REALTIME, &ts);
	time_rfc3339_nano(&ts, buf);
	return arena_strdup(req->arena, buf);
}

static const char *
json_text(struct req *req, struct json_object *v)
{
	struct json_object	*sorted;
	const char		*s;

	if (v == NULL)
		return NULL;
	sorted = json_map_sorted(v);
	s = arena_strdup(req->arena, json_object_to_json_string_ext(sorted,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(sorted);
	return s;
}

static void
reply_bool(struct req *req, int v)
{
	req->reply = json_object_new_boolean(v);
}

/* ---------------------------------------------------------------- */
/* Handlers.                                                          */

/*
 * ACL on an intention (connect.md §6.5): read needs intentions:read on
 * the source or the destination, write needs intentions:write on the
 * destination.  Denials are Consul's bare 403 "Permission denied".
 */
static int
ixn_acl(struct req *req, enum acl_access acc, const char *src,
    const char *dst, struct perr *e)
{
	if (!acl_enabled(req))
		return 0;
	if (acl_resolve(req, e) == -1)
		return -1;
	if (acc == ACL_ACCESS_READ && src != NULL &&
	    acl_allowed(req, ACL_RES_INTENTION, ACL_ACCESS_READ, src))
		return 0;
	if (acl_allowed(req, ACL_RES_INTENTION, acc, dst))
		return 0;
	return perr_set(e, 403, "Permission denied");
}

/*
 * GET /v1/connect/intentions[?filter=]
 * Reply: every intention in evaluation order ([] when none).
 * A bad filter is a 500 (Consul).
 */
int
intention_list(struct req *req, struct perr *e)
{
	struct ixn_snap		*s;
	struct bexpr		*f = NULL;
	struct json_object	*arr, *o;
	const char		*filter;
	size_t			 i;
	int			 dropped = 0;

	filter = req_query(req, "filter");
	if (filter != NULL && *filter != '\0' &&
	    bexpr_compile(filter, ixn_filter_schema, &f, e) == -1)
		return -1;
	if (ixn_snap_get(req, &s, e) == -1) {
		bexpr_free(f);
		return -1;
	}
	arr = json_object_new_array();
	for (i = 0; i < s->n; i++) {
		/* ACL filtering first, then ?filter (connect.md §6.5). */
		if (acl_enabled(req) && !acl_allowed(req, ACL_RES_INTENTION,
		    ACL_ACCESS_READ, s->v[i]->source_name) &&
		    !acl_allowed(req, ACL_RES_INTENTION, ACL_ACCESS_READ,
		    s->v[i]->dest_name)) {
			dropped = 1;
			continue;
		}
		o = intention_json(s->v[i]);
		if (f != NULL && !bexpr_match(f, o)) {
			json_object_put(o);
			continue;
		}
		json_object_array_add(arr, o);
	}
	req->index = s->hdr.index;
	req->reply = arr;
	ixn_snap_put(s);
	bexpr_free(f);
	if (dropped && !acl_is_anonymous(req))
		req_header(req, "X-Consul-Results-Filtered-By-ACLs", "true");
	return 0;
}

/*
 * POST /v1/connect/intentions  (legacy create)
 * Reply: {"ID": "<new uuid>"}.  Decode errors and validation: 500
 * (Consul); namespace/partition fields: 400.
 */
int
intention_create(struct req *req, struct perr *e)
{
	struct ixn_in	 in;
	struct ixn_entry en;
	struct ixn	 old;
	struct ixn_row	 r;
	struct json_object *o;
	char		 id[37], *now;
	int		 found;

	memset(&in, 0, sizeof(in));
	if (req_decode_body(req, ixn_fields, "structs.Intention", &in, NULL,
	    e) == -1) {
		e->status = 500;
		return perr_prefix(e, "Failed to decode request body: ");
	}
	defaults(&in);
	if (legacy_entmeta(&in, e) == -1)
		return -1;
	if (ixn_acl(req, ACL_ACCESS_WRITE, NULL, in.dest_name, e) == -1)
		return -1;
	if (*in.id != '\0')
		return perr_set(e, 500, "ID must be empty when creating a new "
		    "intention");
	if (validate_legacy(&in, e) == -1)
		return -1;

	if (store_begin(req->store, e) == -1)
		return -1;
	if (intention_db_entry_load(req, in.dest_name, &en, e) == -1)
		goto abort;
	if (en.exists && en.nonlegacy > 0) {
		perr_set(e, 500, "cannot use legacy intention API to edit "
		    "intentions with a destination of \"%s\" after editing "
		    "them via a service-intentions config entry",
		    in.dest_name);
		goto abort;
	}
	if (intention_db_row_get(req, NULL, in.dest_name, in.source_name,
	    &old, &found, e) == -1)
		goto abort;
	if (found) {
		intention_db_ixn_clear(&old);
		perr_set(e, 500, "Sources[%zu] defines \"%s\" more than once",
		    en.nsources, in.source_name);
		goto abort;
	}
	uuid_generate_v4(id);
	now = now_rfc3339(req);
	memset(&r, 0, sizeof(r));
	r.dest = in.dest_name;
	r.source = in.source_name;
	r.action = in.action;
	r.description = in.description;
	r.source_type = in.source_type;
	r.legacy_id = id;
	r.legacy_meta = in.meta ? json_text(req, in.meta) : "{}";
	r.created_at = r.updated_at = now;
	if (intention_db_entry_touch(req, in.dest_name, en.meta, e) == -1 ||
	    intention_db_row_upsert(req, &r, e) == -1)
		goto abort;
	if (store_commit(req->store, e) == -1)
		return -1;
	o = json_object_new_object();
	json_object_object_add(o, "ID", json_object_new_string(id));
	req->reply = o;
	return 0;
abort:
	store_rollback(req->store);
	return -1;
}

/* Find by legacy ID in the snapshot. */
static int
find_id(struct req *req, struct ixn_snap **sp, const struct ixn **xp,
    struct perr *e)
{
	const char	*id = req_param(req, "id");
	size_t		 i;

	*xp = NULL;
	if (uuid_check(id, e) == -1)
		return perr_prefix(e, "failed config entry lookup: ");
	if (ixn_snap_get(req, sp, e) == -1)
		return -1;
	for (i = 0; i < (*sp)->n; i++)
		if ((*sp)->v[i]->id != NULL &&
		    strcasecmp((*sp)->v[i]->id, id) == 0)
			*xp = (*sp)->v[i];
	return 0;
}

/*
 * GET /v1/connect/intentions/:id
 * Reply: the intention.  400 for a malformed ID (text names "UUID"),
 * 404 "Intention not found".
 */
int
intention_read_id(struct req *req, struct perr *e)
{
	struct ixn_snap	*s = NULL;
	const struct ixn *x;

	if (find_id(req, &s, &x, e) == -1)
		return -1;
	if (x == NULL) {
		ixn_snap_put(s);
		return perr_set(e, 404, "Intention not found");
	}
	if (ixn_acl(req, ACL_ACCESS_READ, x->source_name, x->dest_name,
	    e) == -1) {
		ixn_snap_put(s);
		return -1;
	}
	req->index = s->hdr.index;
	req->reply = intention_json(x);
	ixn_snap_put(s);
	return 0;
}

/*
 * PUT /v1/connect/intentions/:id  (legacy update: full replace; the
 * source may change, the destination may not).
 * Reply: {"ID": id}.  Decode: 400; missing: 500; validation: 500.
 */
int
intention_update_id(struct req *req, struct perr *e)
{
	const char	*id = req_param(req, "id");
	struct ixn_in	 in;
	struct ixn	 old, dup;
	struct ixn_entry en;
	struct ixn_row	 r;
	struct json_object *o;
	int		 found, deleted;

	memset(&in, 0, sizeof(in));
	if (req_decode_body(req, ixn_fields, "structs.Intention", &in, NULL,
	    e) == -1)
		return perr_prefix(e, "Request decode failed: ");
	defaults(&in);
	if (legacy_entmeta(&in, e) == -1)
		return -1;
	if (uuid_check(id, e) == -1) {
		e->status = 500;
		return perr_prefix(e, "failed config entry lookup: ");
	}
	if (store_begin(req->store, e) == -1)
		return -1;
	if (intention_db_row_get(req, id, NULL, NULL, &old, &found, e) == -1)
		goto abort;
	if (!found) {
		perr_set(e, 500, "Cannot modify non-existent intention: '%s'",
		    id);
		goto abort;
	}
	if (ixn_acl(req, ACL_ACCESS_WRITE, NULL, old.dest_name, e) == -1 ||
	    ixn_acl(req, ACL_ACCESS_WRITE, NULL, in.dest_name, e) == -1)
		goto abort_old;
	if (strcmp(old.dest_name, in.dest_name) != 0) {
		perr_set(e, 500, "Cannot modify Destination partition/"
		    "namespace/name for an intention once it exists.");
		goto abort_old;
	}
	if (validate_legacy(&in, e) == -1)
		goto abort_old;
	if (strcmp(old.source_name, in.source_name) != 0) {
		if (intention_db_row_get(req, NULL, in.dest_name,
		    in.source_name, &dup, &found, e) == -1)
			goto abort_old;
		if (found) {
			intention_db_ixn_clear(&dup);
			if (intention_db_entry_load(req, in.dest_name, &en,
			    e) == -1)
				goto abort_old;
			perr_set(e, 500, "Sources[%zu] defines \"%s\" more than "
			    "once", en.nsources - 1, in.source_name);
			goto abort_old;
		}
		if (intention_db_row_delete(req, old.dest_name,
		    old.source_name, "", &deleted, e) == -1)
			goto abort_old;
	}
	if (intention_db_entry_load(req, in.dest_name, &en, e) == -1)
		goto abort_old;
	memset(&r, 0, sizeof(r));
	r.dest = in.dest_name;
	r.source = in.source_name;
	r.action = in.action;
	r.description = in.description;
	r.source_type = in.source_type;
	r.legacy_id = old.id;
	r.legacy_meta = in.meta ? json_text(req, in.meta) : "{}";
	r.created_at = old.created_at;
	r.updated_at = now_rfc3339(req);
	if (intention_db_entry_touch(req, in.dest_name, en.meta, e) == -1 ||
	    intention_db_row_upsert(req, &r, e) == -1)
		goto abort_old;
	intention_db_ixn_clear(&old);
	if (store_commit(req->store, e) == -1)
		return -1;
	o = json_object_new_object();
	json_object_object_add(o, "ID", json_object_new_string(id));
	req->reply = o;
	return 0;
abort_old:
	intention_db_ixn_clear(&old);
abort:
	store_rollback(req->store);
	return -1;
}

/*
 * DELETE /v1/connect/intentions/:id
 * Reply: true.  Missing: 500 (Consul).
 */
int
intention_delete_id(struct req *req, struct perr *e)
{
	const char	*id = req_param(req, "id");
	struct ixn	 old;
	int		 found, deleted;

	if (uuid_check(id, e) == -1) {
		e->status = 500;
		return perr_prefix(e, "failed config entry lookup: ");
	}
	if (store_begin(req->store, e) == -1)
		return -1;
	if (intention_db_row_get(req, id, NULL, NULL, &old, &found, e) == -1)
		goto abort;
	if (!found) {
		perr_set(e, 500, "Cannot delete non-existent intention: '%s'",
		    id);
		goto abort;
	}
	if (ixn_acl(req, ACL_ACCESS_WRITE, NULL, old.dest_name, e) == -1) {
		intention_db_ixn_clear(&old);
		goto abort;
	}
	if (intention_db_row_delete(req, old.dest_name, old.source_name,
	    old.source_peer, &deleted, e) == -1 ||
	    intention_db_entry_after_delete(req, old.dest_name, e) == -1) {
		intention_db_ixn_clear(&old);
		goto abort;
	}
	intention_db_ixn_clear(&old);
	if (store_commit(req->store, e) == -1)
		return -1;
	reply_bool(req, 1);
	return 0;
abort:
	store_rollback(req->store);
	return -1;
}

/*
 * GET /v1/connect/intentions/exact?source=&destination=
 * Reply: the intention; 404 "Intention not found".
 */
int
intention_read_exact(struct req *req, struct perr *e)
{
	struct ixn_snap		*s;
	const struct ixn	*x;
	const char		*src = NULL, *dst = NULL, *peer = "", *sv = NULL;

	if (required(req, "source", &sv, e) == -1 ||
	    required(req, "destination", &dst, e) == -1)
		return -1;
	/* Only here may the source name a peer: "peer:<p>/name". */
	if (strncmp(sv, "peer:", 5) == 0 && strchr(sv, '/') != NULL) {
		peer = arena_strndup(req->arena, sv + 5,
		    (size_t)(strchr(sv, '/') - sv - 5));
		src = strchr(sv, '/') + 1;
	} else if (parse_name(req, "source", sv,
	    "SourceNS", &src, e) == -1)
		return -1;
	if (parse_name(req, "destination", dst,
	    "DestinationNS", &dst, e) == -1)
		return -1;
	if (ixn_acl(req, ACL_ACCESS_READ, src, dst, e) == -1)
		return -1;
	if (ixn_snap_get(req, &s, e) == -1)
		return -1;
	req->index = s->hdr.index;
	if ((x = ixn_snap_find(s, src, peer, dst)) == NULL) {
		ixn_snap_put(s);
		return perr_set(e, 404, "Intention not found");
	}
	req->reply = intention_json(x);
	ixn_snap_put(s);
	return 0;
}

/*
 * PUT /v1/connect/intentions/exact?source=&destination=
 * Upsert by name.  Reply: true.  Decode: 400; validation: 500.
 */
int
intention_put_exact(struct req *req, struct perr *e)
{
	struct ixn_in	 in;
	struct ixn_entry en;
	struct ixn_row	 r;
	const char	*src, *dst, *bodymeta;
	size_t		 pos = 0;

	if (required(req, "source", &src, e) == -1 ||
	    required(req, "destination", &dst, e) == -1)
		return -1;
	memset(&in, 0, sizeof(in));
	if (req_decode_body(req, ixn_fields, "structs.Intention", &in, NULL,
	    e) == -1)
		return perr_prefix(e, "Request decode failed: ");
	defaults(&in);
	if (parse_name(req, "source", src, "SourceNS", &src, e) == -1 ||
	    parse_name(req, "destination", dst, "DestinationNS", &dst,
	    e) == -1)
		return -1;
	if (ixn_acl(req, ACL_ACCESS_WRITE, NULL, dst, e) == -1)
		return -1;
	/* The URL names the intention; body names are overwritten. */
	in.source_name = src;
	in.dest_name = dst;
	if (*in.source_peer != '\0')
		return perr_set(e, 500, "SourcePeer field is not supported on "
		    "this endpoint. Use config entries instead");
	bodymeta = in.meta && json_object_object_length(in.meta) > 0 ?
	    json_text(req, in.meta) : NULL;

	if (store_begin(req->store, e) == -1)
		return -1;
	/*
	 * One read, then the writes, which store_commit() sends with its
	 * COMMIT: on PostgreSQL three round trips under the write lock
	 * (begin, this read, the commit) instead of nine.
	 */
	if (intention_db_put_read(req, dst, src, &pos, &en, e) == -1 ||
	    validate_source(req, &in, pos, e) == -1)
		goto abort;
	if (bodymeta != NULL) {
		if (!en.exists) {
			perr_set(e, 500, "Meta must not be specified");
			goto abort;
		}
		if (en.meta == NULL || strcmp(en.meta, bodymeta) != 0) {
			perr_set(e, 500, "Meta must not be specified, or should "
			    "be unchanged during an update.");
			goto abort;
		}
	}
	if (en.with_legacy_meta > 0) {
		perr_set(e, 500, "Sources[%zu].LegacyMeta must be omitted", pos);
		goto abort;
	}
	/*
	 * A by-name write turns the whole entry into a non-legacy one.
	 * Only when some row has a legacy ID (rows exist only with their
	 * entry): one statement less under the write lock otherwise.
	 */
	if (en.nonlegacy < en.nsources &&
	    intention_db_clear_legacy(req, dst, e) == -1)
		goto abort;
	memset(&r, 0, sizeof(r));
	r.dest = dst;
	r.source = src;
	r.action = *in.action != '\0' ? in.action : NULL;
	r.permissions = in.permissions != NULL &&
	    json_object_array_length(in.permissions) > 0 ?
	    arena_strdup(req->arena, json_object_to_json_string_ext(
	    in.permissions, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE)) : NULL;
	r.description = in.description;
	r.source_type = in.source_type;
	if (intention_db_entry_touch(req, dst, en.meta, e) == -1 ||
	    intention_db_row_upsert(req, &r, e) == -1)
		goto abort;
	if (store_commit(req->store, e) == -1)
		return -1;
	reply_bool(req, 1);
	return 0;
abort:
	store_rollback(req->store);
	return -1;
}

/*
 * DELETE /v1/connect/intentions/exact?source=&destination=
 * Reply: true, also when there was nothing to delete (Consul).
 */
int
intention_delete_exact(struct req *req, struct perr *e)
{
	const char	*src, *dst;
	int		 deleted;

	if (required(req, "source", &src, e) == -1 ||
	    required(req, "destination", &dst, e) == -1)
		return -1;
	if (parse_name(req, "source", src, "SourceNS", &src, e) == -1 ||
	    parse_name(req, "destination", dst, "DestinationNS", &dst,
	    e) == -1)
		return -1;
	if (ixn_acl(req, ACL_ACCESS_WRITE, NULL, dst, e) == -1)
		return -1;
	if (store_begin(req->store, e) == -1)
		return -1;
	if (intention_db_row_delete(req, dst, src, "", &deleted, e) == -1)
		goto abort;
	if (!deleted) {
		store_rollback(req->store);	/* nothing changed */
		reply_bool(req, 1);
		return 0;
	}
	if (intention_db_entry_after_delete(req, dst, e) == -1)
		goto abort;
	if (store_commit(req->store, e) == -1)
		return -1;
	reply_bool(req, 1);
	return 0;
abort:
	store_rollback(req->store);
	return -1;
}

/*
 * GET /v1/connect/intentions/check?source=&destination=[&source-type=]
 * Reply: {"Allowed": bool}.  An L7 intention counts as deny; no match
 * falls to the default decision.
 */
int
intention_check(struct req *req, struct perr *e)
{
	struct ixn_snap		*s;
	const struct ixn	*x;
	struct json_object	*o;
	const char		*src, *dst, *t;
	int			 allowed;

	if (required(req, "source", &src, e) == -1 ||
	    required(req, "destination", &dst, e) == -1)
		return -1;
	if ((t = req_query(req, "source-type")) != NULL && *t != '\0' &&
	    strcmp(t, "consul") != 0)
		return perr_set(e, 500, "unsupported SourceType: \"%s\"", t);
	if (parse_name(req, "source", src, "source namespace", &src, e) == -1 ||
	    parse_name(req, "destination", dst, "destination namespace",
	    &dst, e) == -1)
		return -1;
	/* service:read on the destination, as Consul's code (not docs). */
	if (acl_require(req, ACL_RES_SERVICE, ACL_ACCESS_READ, dst, e) == -1)
		return -1;
	if (ixn_snap_get(req, &s, e) == -1)
		return -1;
	if ((x = intention_decide(s, src, dst)) != NULL)
		allowed = x->permissions == NULL && x->action != NULL &&
		    strcmp(x->action, "allow") == 0;
	else
		allowed = acl_intention_default_allow(req);
	req->index = s->hdr.index;
	ixn_snap_put(s);
	o = json_object_new_object();
	json_object_object_add(o, "Allowed", json_object_new_boolean(allowed));
	req->reply = o;
	return 0;
}

/*
 * GET /v1/connect/intentions/match?by=source|destination&name=a[&name=b]
 * Reply: {"a": [...], "b": null} keyed by each name as given, values in
 * evaluation order, null when nothing matches.
 */
int
intention_match(struct req *req, struct perr *e)
{
	struct ixn_snap		*s;
	struct json_object	*o, *arr;
	const char		*by = NULL, *names[64], *n;
	size_t			 nn, i, j;
	int			 bysrc;

	if (required(req, "by", &by, e) == -1)
		return -1;
	if (strcmp(by, "source") == 0)
		bysrc = 1;
	else if (strcmp(by, "destination") == 0)
		bysrc = 0;
	else
		return perr_set(e, 500, "'by' parameter must be one of "
		    "'source' or 'destination'");
	if ((nn = req_query_all(req, "name", names, 64)) == 0)
		return perr_set(e, 500, "required query parameter 'name' not "
		    "set");
	for (i = 0; i < nn; i++) {
		if (parse_name(req, "name", names[i], "match entry namespace",
		    &n, e) == -1 || acl_require(req, ACL_RES_INTENTION,
		    ACL_ACCESS_READ, n, e) == -1)
			return -1;
	}
	if (ixn_snap_get(req, &s, e) == -1)
		return -1;
	o = json_object_new_object();
	for (i = 0; i < nn; i++) {
		if (parse_name(req, "name", names[i],
		    "match entry namespace", &n, e) == -1) {
			json_object_put(o);
			ixn_snap_put(s);
			return -1;
		}
		arr = NULL;
		for (j = 0; j < s->n; j++) {
			if (!name_matches(bysrc ? s->v[j]->source_name :
			    s->v[j]->dest_name, n))
				continue;
			if (bysrc && s->v[j]->source_peer[0] != '\0')
				continue;
			if (arr == NULL)
				arr = json_object_new_array();
			json_object_array_add(arr, intention_json(s->v[j]));
		}
		json_object_object_add(o, names[i], arr);
	}
	req->index = s->hdr.index;
	ixn_snap_put(s);
	req->reply = o;
	req_header(req, "X-Consul-Effective-Consistency",
	    req_query_has(req, "consistent") ? "consistent" :
	    req_query_has(req, "stale") ? "stale" : "leader");
	return 0;
}
