/*
 * acl.c -- token resolution, the per-worker ACL snapshot and
 * authorizer cache, and enforcement of each route's declared ACL
 * (acl.md §1.3, §1.10, §12; connect.md §6.5).
 *
 * Resolution: the secret comes from ?token=, else X-Consul-Token, else
 * "Authorization: Bearer <v>", else acl.tokens.default, else the
 * request is anonymous.  "allow", "deny" and "manage" are refused (500
 * "Cannot resolve root ACL"); an unknown or expired secret is 403 "ACL
 * not found", the same answer whether or not an accessor of that value
 * exists.
 *
 * Cache: each worker holds one immutable snapshot of the token, policy
 * and role tables, tagged with the three tables' modify indexes.  A
 * request compares those tags with the indexes in shared memory
 * (store_index(): no SQLite); when one moved, the snapshot is rebuilt
 * before the request is served, so a deleted token or an edited policy
 * takes effect on the very next request in every worker (Consul allows
 * up to the token TTL, 30 s).  Secrets are found through a keyed hash
 * and confirmed with ct_streq(), so the comparison of the secret itself
 * is constant-time.  Each token's authorizer is compiled once per
 * snapshot, on first use, and shared by all threads.
 *
 * A request holds a reference to the snapshot only while its handler
 * runs (http.c calls acl_release() after it); a parked blocking query is
 * resolved again on each re-run, as Consul re-resolves per RPC.
 *
 * Expired tokens are never resolved, read or listed; the first request
 * that finds an expired token in the snapshot deletes every expired
 * token in one transaction (at most once a second per worker).
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <json-c/json.h>

#include "portcullis.h"
#include "acl.h"
#include "acl_db.h"
#include "conf.h"
#include "json.h"
#include "metrics.h"
#include "req.h"
#include "route.h"
#include "seal.h"
#include "store.h"
#include "util.h"

static struct snap_slot	 acl_slot = SNAP_SLOT(TBIT(TBL_ACL_TOKENS) |
			    TBIT(TBL_ACL_POLICIES) | TBIT(TBL_ACL_ROLES));
static pthread_once_t	 hash_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t	 reap_mtx = PTHREAD_MUTEX_INITIALIZER;
static uint64_t		 hash_key;	/* per process, for secret buckets */
static int64_t		 last_reap_ms;

/* ---------------------------------------------------------------- */
/* Small codecs.                                                      */

int64_t
acl_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* RFC 3339 with nanoseconds, trailing zeros trimmed, UTC. */
void
acl_time_format(int64_t ns, char out[40])
{
	struct timespec	ts;

	ts.tv_sec = (time_t)(ns / 1000000000);
	ts.tv_nsec = (long)(ns % 1000000000);
	time_rfc3339_nano(&ts, out);
}

/*
 * Parse an RFC 3339 time ("2024-05-03T09:15:02.5Z", "...+02:00") into
 * ns since the epoch, saturated at INT64_MIN/INT64_MAX.  Returns 0, or
 * -1 when malformed or out of range (time_parse_rfc3339()).
 */
int
acl_time_parse(const char *s, int64_t *out)
{
	const char	*what;
	int64_t		 sec;
	long		 nsec;

	if (time_parse_rfc3339(s, &sec, &nsec, &what) != 0)
		return -1;
	/* Saturate: year 9999 is a valid time beyond int64 ns. */
	if (sec > INT64_MAX / 1000000000 - 1)
		*out = INT64_MAX;
	else if (sec < INT64_MIN / 1000000000 + 1)
		*out = INT64_MIN;
	else
		*out = sec * 1000000000 + nsec;
	return 0;
}

/*
 * The Hash of an ACL object: base64 of a digest over the concatenation
 * of parts (NULL parts skipped).  Consul uses BLAKE2b-256, which GnuTLS
 * does not offer; we use SHA-256.  Clients treat the value as opaque
 * (acl.md §3.1); it changes whenever the content changes.
 */
void
acl_hash(const char *const *parts, size_t n, char out[64])
{
	digest_b64(parts, n, out);
}

/* Compact JSON text of v in the arena; NULL for NULL or []. */
const char *
acl_json_text(struct req *req, struct json_object *v)
{
	if (v == NULL || (json_object_is_type(v, json_type_array) &&
	    json_object_array_length(v) == 0))
		return NULL;
	return arena_strdup(req->arena, json_object_to_json_string_ext(v,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/*
 * A service or node identity name: 1-256 characters matching
 * ^[a-z0-9]([a-z0-9\-_]*[a-z0-9])?$ (acl.md §3.2 step 10).
 */
int
acl_name_valid(const char *s)
{
	size_t	n = strlen(s), i;

	if (n == 0 || n > 256)
		return 0;
	for (i = 0; i < n; i++) {
		if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9'))
			continue;
		if ((s[i] == '-' || s[i] == '_') && i > 0 && i < n - 1)
			continue;
		return 0;
	}
	return 1;
}

/* Whether a Datacenters list (array or NULL) admits dc. */
int
acl_dc_allowed(struct json_object *dcs, const char *dc)
{
	size_t	i, n;

	if (dcs == NULL || (n = json_object_array_length(dcs)) == 0)
		return 1;
	for (i = 0; i < n; i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(dcs,
		    i)), dc) == 0)
			return 1;
	return 0;
}

/*
 * Decode the body through a field table (json.h) as Consul's ACL
 * endpoints do: strictly, 400 "<prefix><Go error>"; a "Namespace" key
 * gets CE's "- Namespaces are a Consul Enterprise feature" suffix.
 */
int
acl_decode(struct req *req, const void *fields, const char *gostruct,
    void *out, uint64_t *seen, const char *prefix, struct perr *e)
{
	if (req_decode_body(req, fields, gostruct, out, seen, e) == 0)
		return 0;
	if (strcasecmp(e->msg, "json: unknown field \"namespace\"") == 0)
		perr_set(e, 400, "%s - Namespaces are a Consul Enterprise "
		    "feature", arena_strdup(req->arena, e->msg));
	e->status = 400;
	return perr_prefix(e, "%s", prefix);
}

/*
 * A lookup by UUID as go-memdb's index does it: 500 "<what> lookup
 * failed: index error: <why>" style texts, with what as the prefix,
 * e.g. "failed acl token lookup".
 */
int
acl_uuid_lookup(const char *id, const char *what, struct perr *e)
{
	if (uuid_check(id, e) == 0)
		return 0;
	e->status = 500;
	return perr_prefix(e, "%s: index error: ", what);
}

/*
 * ?authmethod-ns is an Enterprise parameter (acl.md §1.8); the
 * dispatcher's R_ENTMETA covers ns and partition.
 */
int
acl_entmeta_query(struct req *req, struct perr *e)
{
	const char	*v;

	if ((v = req_query(req, "authmethod-ns")) != NULL && *v != '\0')
		return perr_set(e, 400, "Invalid query parameter: "
		    "\"authmethod-ns\" - Namespaces are a Consul Enterprise "
		    "feature");
	return 0;
}

/* ---------------------------------------------------------------- */
/* Rows.                                                              */

static struct json_object *
col_json(struct store_q *st, int c)
{
	const char	*s = store_col_text(st, c);

	return s == NULL ? NULL : json_tokener_parse(s);
}

/* Fill t from a row of the acl_token_* queries (fixed columns). */
void
acl_token_from_row(struct acl_token *t, void *row)
{
	struct store_q	*st = row;

	memset(t, 0, sizeof(*t));
	t->accessor_id = store_col_dup(st, 0);
	t->secret_id = store_col_dup(st, 1);
	t->description = store_col_dup(st, 2);
	t->policies = col_json(st, 3);
	t->roles = col_json(st, 4);
	t->svcids = col_json(st, 5);
	t->nodeids = col_json(st, 6);
	t->local = (int)store_col_int(st, 7);
	t->auth_method = store_col_dup(st, 8);
	t->expiration_time = store_col_dup(st, 9);
	t->expiration_ns = store_col_isnull(st, 10) ?
	    INT64_MAX : store_col_int(st, 10);
	t->create_time = store_col_dup(st, 11);
	t->hash = store_col_dup(st, 12);
	t->create_index = (uint64_t)store_col_int(st, 13);
	t->modify_index = (uint64_t)store_col_int(st, 14);
}

/* Free what t owns (not t).  Accepts a zeroed token. */
void
acl_token_clear(struct acl_token *t)
{
	secret_free(t->secret_id);
	free(t->accessor_id);
	free(t->description);
	json_object_put(t->policies);
	json_object_put(t->roles);
	json_object_put(t->svcids);
	json_object_put(t->nodeids);
	free(t->auth_method);
	free(t->expiration_time);
	free(t->create_time);
	free(t->hash);
	acl_authz_free(t->authz);
	memset(t, 0, sizeof(*t));
}

void
acl_policy_from_row(struct acl_policy *p, void *row)
{
	struct store_q	*st = row;

	memset(p, 0, sizeof(*p));
	p->id = store_col_dup(st, 0);
	p->name = store_col_dup(st, 1);
	p->description = store_col_dup(st, 2);
	p->rules = store_col_dup(st, 3);
	p->datacenters = col_json(st, 4);
	p->hash = store_col_dup(st, 5);
	p->create_index = (uint64_t)store_col_int(st, 6);
	p->modify_index = (uint64_t)store_col_int(st, 7);
}

void
acl_policy_clear(struct acl_policy *p)
{
	free(p->id);
	free(p->name);
	free(p->description);
	free(p->rules);
	json_object_put(p->datacenters);
	free(p->hash);
	acl_rules_free(p->parsed);
	memset(p, 0, sizeof(*p));
}

void
acl_role_from_row(struct acl_role *r, void *row)
{
	struct store_q	*st = row;

	memset(r, 0, sizeof(*r));
	r->id = store_col_dup(st, 0);
	r->name = store_col_dup(st, 1);
	r->description = store_col_dup(st, 2);
	r->policies = col_json(st, 3);
	r->svcids = col_json(st, 4);
	r->nodeids = col_json(st, 5);
	r->hash = store_col_dup(st, 6);
	r->create_index = (uint64_t)store_col_int(st, 7);
	r->modify_index = (uint64_t)store_col_int(st, 8);
}

void
acl_role_clear(struct acl_role *r)
{
	free(r->id);
	free(r->name);
	free(r->description);
	json_object_put(r->policies);
	json_object_put(r->svcids);
	json_object_put(r->nodeids);
	free(r->hash);
	memset(r, 0, sizeof(*r));
}

/* ---------------------------------------------------------------- */
/* The snapshot.                                                      */

/* FNV-1a over the secret, keyed per process: picks a bucket only. */
static uint64_t
secret_hash(const char *s)
{
	uint64_t	h = 1469598103934665603ULL ^ hash_key;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

/* Drop a snapshot's hold on t; the last one frees it. */
static void
token_put(struct acl_token *t)
{
	if (__atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		acl_token_clear(t);
		free(t);
	}
}

static void
snap_free(struct snap *hdr)
{
	struct acl_snap	*s = (struct acl_snap *)hdr;
	size_t		 i;

	/* Tokens first: their authorizers point into the policies. */
	for (i = 0; i < s->ntokens; i++)
		token_put(s->tokens[i]);
	free(s->tokens);
	if (s->pr_refs == NULL ||
	    __atomic_sub_fetch(s->pr_refs, 1, __ATOMIC_ACQ_REL) == 0) {
		for (i = 0; i < s->npolicies; i++)
			acl_policy_clear(&s->policies[i]);
		for (i = 0; i < s->nroles; i++)
			acl_role_clear(&s->roles[i]);
		free(s->policies);
		free(s->roles);
		free(s->pr_refs);
	}
	free(s->buckets);
	free(s);
}

/* Step through query id, growing *v of element size sz with fill(). */
static int
load_rows(struct store *st, enum sql_id id, void **v, size_t *n, size_t sz,
    void (*fill)(void *, void *), struct perr *e)
{
	struct store_q	*q;
	size_t		 cap = 0;
	int		 rc;

	*v = NULL;
	*n = 0;
	if ((q = store_stmt(st, id)) == NULL)
		return perr_set(e, 500, "internal store error");
	while ((rc = store_step(st, q, e)) == 1) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*v = xrealloc(*v, cap * sz);
		}
		fill((char *)*v + *n * sz, q);
		(*n)++;
	}
	store_reset(q);
	return rc;
}

/* Tokens of query id (":idx" bound to since when not 0), allocated. */
static int
load_tokens(struct store *st, enum sql_id id, uint64_t since,
    struct acl_token ***v, size_t *n, struct perr *e)
{
	struct store_q	*q;
	struct acl_token *t;
	size_t		 cap = 0;
	int		 rc;

	*v = NULL;
	*n = 0;
	if ((q = store_stmt(st, id)) == NULL)
		return perr_set(e, 500, "internal store error");
	if (since != 0)
		store_bind_int(q, ":idx", (int64_t)since);
	while ((rc = store_step(st, q, e)) == 1) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*v = xrealloc(*v, cap * sizeof(**v));
		}
		t = xmalloc(sizeof(*t));
		acl_token_from_row(t, q);
		t->refs = 1;
		t->secret_h = secret_hash(t->secret_id);
		(*v)[(*n)++] = t;
	}
	store_reset(q);
	return rc;
}

static void
fill_policy(void *d, void *row)
{
	acl_policy_from_row(d, row);
}

static void
fill_role(void *d, void *row)
{
	acl_role_from_row(d, row);
}

/* The secret buckets and next expiry of s's tokens. */
static void
index_tokens(struct acl_snap *s)
{
	size_t	i, b;

	s->next_expiry = INT64_MAX;
	for (s->nbuckets = 16; s->nbuckets < 2 * s->ntokens + 1;
	    s->nbuckets *= 2)
		;
	s->buckets = xcalloc(s->nbuckets, sizeof(*s->buckets));
	for (i = 0; i < s->ntokens; i++) {
		b = s->tokens[i]->secret_h & (s->nbuckets - 1);
		while (s->buckets[b] != 0)
			b = (b + 1) & (s->nbuckets - 1);
		s->buckets[b] = (uint32_t)(i + 1);
		if (s->tokens[i]->expiration_ns < s->next_expiry)
			s->next_expiry = s->tokens[i]->expiration_ns;
	}
}

/* Build a snapshot from the store as of idx. */
static int
snap_load(struct store *st, const uint64_t idx[3], struct acl_snap **out,
    struct perr *e)
{
	struct acl_snap	*s;
	struct perr	 pe;
	char		*bidx = NULL;
	size_t		 i;

	s = xcalloc(1, sizeof(*s));
	s->hdr.free = snap_free;
	memcpy(s->idx, idx, sizeof(s->idx));
	s->pr_refs = xcalloc(1, sizeof(*s->pr_refs));
	*s->pr_refs = 1;
	if (load_tokens(st, SQL_ACL_TOKEN_ALL, 0, &s->tokens, &s->ntokens,
	    e) == -1 ||
	    load_rows(st, SQL_ACL_POLICY_ALL, (void **)&s->policies,
	    &s->npolicies, sizeof(struct acl_policy), fill_policy, e) == -1 ||
	    load_rows(st, SQL_ACL_ROLE_ALL, (void **)&s->roles, &s->nroles,
	    sizeof(struct acl_role), fill_role, e) == -1 ||
	    store_meta_get(st, ACL_META_BOOTSTRAP, &bidx, e) == -1) {
		snap_free(&s->hdr);
		return -1;
	}
	s->bootstrapped = bidx != NULL;
	free(bidx);
	for (i = 0; i < s->npolicies; i++) {
		perr_clear(&pe);
		if (acl_rules_parse_text(s->policies[i].rules,
		    strlen(s->policies[i].rules), &s->policies[i].parsed,
		    &pe) == -1)
			log_warnx("acl: policy %s: stored rules do not parse: "
			    "%s", s->policies[i].id, pe.msg);
	}
	index_tokens(s);
	*out = s;
	return 0;
}

/* acl_token_all's order (bytewise, as the column's collation). */
static int
token_cmp(const void *a, const void *b)
{
	return strcmp((*(struct acl_token *const *)a)->accessor_id,
	    (*(struct acl_token *const *)b)->accessor_id);
}

/* The first token of s from position from on not before id. */
static size_t
tok_lower(const struct acl_snap *s, size_t from, const char *id)
{
	size_t	n = s->ntokens, mid;

	while (from < n) {
		mid = from + (n - from) / 2;
		if (strcmp(s->tokens[mid]->accessor_id, id) < 0)
			from = mid + 1;
		else
			n = mid;
	}
	return from;
}

/* Deleted AccessorIDs (a growing array of copies). */
struct gone {
	char	**v;
	size_t	  n, cap;
};

static void
gone_add(void *arg, const char *id)
{
	struct gone	*g = arg;

	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 16;
		g->v = xrealloc(g->v, g->cap * sizeof(*g->v));
	}
	g->v[g->n++] = xstrdup(id);
}

/*
 * Patch base into *out when only tokens moved since it: the tokens
 * changed or deleted since base's token index are replaced or dropped,
 * every other token (and its compiled authorizer), the policies and
 * the roles are shared with base; the secret buckets are rebuilt (a
 * pass over pointers, no store read).  Returns 0, 1 when base cannot
 * be patched (policies or roles moved, too old, too much changed), -1.
 */
static int
snap_patch(struct store *st, const struct acl_snap *base,
    const uint64_t idx[3], struct acl_snap **out, struct perr *e)
{
	struct acl_snap	 *s;
	struct acl_token **cv = NULL;
	struct gone	  g;
	char		 *bidx = NULL, *drop = NULL;
	size_t		  nc = 0, i, j, end;
	int		  rc;

	if (base->idx[1] != idx[1] || base->idx[2] != idx[2])
		return 1;
	if ((rc = snap_patchable(st, base->idx[0], e)) != 1)
		return rc == 0 ? 1 : -1;
	memset(&g, 0, sizeof(g));
	if (load_tokens(st, SQL_ACL_TOKEN_SINCE, base->idx[0], &cv, &nc,
	    e) == -1 || snap_tombstones(st, TBL_ACL_TOKENS, base->idx[0],
	    gone_add, &g, e) == -1 ||
	    store_meta_get(st, ACL_META_BOOTSTRAP, &bidx, e) == -1) {
		rc = -1;
		goto out;
	}
	if (nc + g.n > base->ntokens / 4 + 16) {
		rc = 1;		/* a full read is as cheap */
		goto out;
	}
	if (nc > 0)
		qsort(cv, nc, sizeof(*cv), token_cmp);
	/* Changed ones are dropped from base too: they come from cv. */
	for (i = 0; i < nc; i++)
		gone_add(&g, cv[i]->accessor_id);
	drop = xcalloc(base->ntokens + 1, 1);
	for (i = 0; i < g.n; i++)
		if ((j = tok_lower(base, 0, g.v[i])) < base->ntokens &&
		    strcmp(base->tokens[j]->accessor_id, g.v[i]) == 0)
			drop[j] = 1;

	s = xcalloc(1, sizeof(*s));
	s->hdr.free = snap_free;
	s->hdr.incremental = 1;
	memcpy(s->idx, idx, sizeof(s->idx));
	s->policies = base->policies;
	s->npolicies = base->npolicies;
	s->roles = base->roles;
	s->nroles = base->nroles;
	s->pr_refs = base->pr_refs;
	__atomic_add_fetch(s->pr_refs, 1, __ATOMIC_RELAXED);
	s->bootstrapped = bidx != NULL;
	/* Runs of base between the new tokens, found by binary search. */
	s->tokens = xcalloc(base->ntokens + nc + 1, sizeof(*s->tokens));
	for (i = j = 0; j <= nc; j++) {
		end = j < nc ? tok_lower(base, i, cv[j]->accessor_id) :
		    base->ntokens;
		for (; i < end; i++) {
			if (drop[i])
				continue;
			__atomic_add_fetch(&base->tokens[i]->refs, 1,
			    __ATOMIC_RELAXED);
			s->tokens[s->ntokens++] = base->tokens[i];
		}
		if (j < nc)
			s->tokens[s->ntokens++] = cv[j];
	}
	free(cv);
	cv = NULL;
	nc = 0;
	index_tokens(s);
	*out = s;
	rc = 0;
out:
	for (i = 0; i < nc; i++)
		token_put(cv[i]);
	free(cv);
	for (i = 0; i < g.n; i++)
		free(g.v[i]);
	free(g.v);
	free(bidx);
	free(drop);
	return rc;
}

static void
hash_key_init(void)
{
	if (gnutls_rnd(GNUTLS_RND_NONCE, &hash_key, sizeof(hash_key)) < 0)
		hash_key = (uint64_t)acl_now_ns();
	hash_key |= 1;
}

static int
acl_load(struct store *st, void *arg, uint64_t max, const struct snap *base,
    struct snap **out, struct perr *e)
{
	struct acl_snap	*s = NULL;
	uint64_t	 idx[3];
	int		 rc;

	(void)arg;
	(void)max;
	idx[0] = store_index(TBL_ACL_TOKENS);
	idx[1] = store_index(TBL_ACL_POLICIES);
	idx[2] = store_index(TBL_ACL_ROLES);
	if (base != NULL) {
		if ((rc = snap_patch(st, (const struct acl_snap *)base, idx, &s,
		    e)) == -1)
			return -1;
		if (rc == 0) {
			*out = &s->hdr;
			return 0;
		}
	}
	if (snap_load(st, idx, &s, e) == -1)
		return -1;
	*out = &s->hdr;
	return 0;
}

/*
 * A new snapshot of the ACL tables as of now, patched from base when
 * it can be (NULL: read whole), outside any slot: for tests comparing
 * the two.  Its header's index is the caller's to set.  Release with
 * acl_snap_put().  Returns 0 or -1 (500).
 */
int
acl_snap_build(struct store *st, const struct acl_snap *base,
    struct acl_snap **out, struct perr *e)
{
	struct snap	*h;

	pthread_once(&hash_once, hash_key_init);
	if (acl_load(st, NULL, 0, base == NULL ? NULL : &base->hdr, &h,
	    e) == -1)
		return -1;
	h->refs = 1;
	*out = (struct acl_snap *)h;
	return 0;
}

/*
 * A reference to the current snapshot of the ACL tables, rebuilt first
 * when one of their modify indexes (shared memory) moved past it.
 * Release with acl_snap_put().  500 when the store fails.
 */
int
acl_snap_get(struct store *st, const struct conf *c, struct acl_snap **out,
    struct perr *e)
{
	struct snap	*h;

	(void)c;
	pthread_once(&hash_once, hash_key_init);
	if (snap_get(&acl_slot, st, acl_load, NULL, &h, e) == -1)
		return -1;
	*out = (struct acl_snap *)h;
	return 0;
}

/* Release a snapshot reference.  NULL is fine. */
void
acl_snap_put(struct acl_snap *s)
{
	snap_put(s == NULL ? NULL : &s->hdr);
}

/* The token with this AccessorID (case-insensitive), or NULL. */
const struct acl_token *
acl_snap_token(const struct acl_snap *s, const char *accessor)
{
	size_t	lo = 0, hi = s->ntokens, mid;
	int	c;

	while (lo < hi) {	/* the query sorts bytewise */
		mid = (lo + hi) / 2;
		c = strcmp(s->tokens[mid]->accessor_id, accessor);
		if (c == 0)
			return s->tokens[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (mid = 0; mid < s->ntokens; mid++)	/* other letter case */
		if (strcasecmp(s->tokens[mid]->accessor_id, accessor) == 0)
			return s->tokens[mid];
	return NULL;
}

/*
 * The token whose SecretID is secret, or NULL.  The bucket comes from a
 * keyed hash; the secret itself is compared in constant time.
 */
const struct acl_token *
acl_snap_token_secret(const struct acl_snap *s, const char *secret)
{
	const struct acl_token	*t;
	size_t			 b;
	char			 h[SEAL_TOKEN_LEN];

	secret = seal_token_stored(secret, h);	/* acl.hash_secrets */
	b = secret_hash(secret) & (s->nbuckets - 1);
	for (; s->buckets[b] != 0; b = (b + 1) & (s->nbuckets - 1)) {
		t = s->tokens[s->buckets[b] - 1];
		if (ct_streq(t->secret_id, secret))
			return t;
	}
	return NULL;
}

const struct acl_policy *
acl_snap_policy(const struct acl_snap *s, const char *id)
{
	size_t	i;

	for (i = 0; i < s->npolicies; i++)
		if (strcasecmp(s->policies[i].id, id) == 0)
			return &s->policies[i];
	return NULL;
}

const struct acl_policy *
acl_snap_policy_name(const struct acl_snap *s, const char *name)
{
	size_t	i;

	for (i = 0; i < s->npolicies; i++)
		if (strcasecmp(s->policies[i].name, name) == 0)
			return &s->policies[i];
	return NULL;
}

const struct acl_role *
acl_snap_role(const struct acl_snap *s, const char *id)
{
	size_t	i;

	for (i = 0; i < s->nroles; i++)
		if (strcasecmp(s->roles[i].id, id) == 0)
			return &s->roles[i];
	return NULL;
}

const struct acl_role *
acl_snap_role_name(const struct acl_snap *s, const char *name)
{
	size_t	i;

	for (i = 0; i < s->nroles; i++)
		if (strcasecmp(s->roles[i].name, name) == 0)
			return &s->roles[i];
	return NULL;
}

/* Whether t has expired at now (ns). */
int
acl_token_expired(const struct acl_token *t, int64_t now)
{
	return t->expiration_ns != INT64_MAX && t->expiration_ns <= now;
}

/* ---------------------------------------------------------------- */
/* Compiling a token's authorizer.                                    */

struct ruleset {
	const struct acl_policy_rules	**v;
	size_t				  n, cap;
	struct acl_policy_rules		**own;	/* identity rules */
	size_t				  nown;
};

static void
rs_add(struct ruleset *rs, const struct acl_policy_rules *r, int own)
{
	size_t	i;

	if (r == NULL)
		return;
	for (i = 0; i < rs->n; i++)
		if (rs->v[i] == r)
			return;
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 8;
		rs->v = xrealloc(rs->v, rs->cap * sizeof(*rs->v));
		rs->own = xrealloc(rs->own, rs->cap * sizeof(*rs->own));
	}
	rs->v[rs->n++] = r;
	if (own)
		rs->own[rs->nown++] = (struct acl_policy_rules *)r;
}

static void
rs_policies(struct ruleset *rs, const struct acl_snap *s,
    const struct conf *c, struct json_object *ids)
{
	const struct acl_policy	*p;
	size_t			 i;

	for (i = 0; ids != NULL && i < json_object_array_length(ids); i++) {
		p = acl_snap_policy(s, json_object_get_string(
		    json_object_array_get_idx(ids, i)));
		if (p != NULL && acl_dc_allowed(p->datacenters, c->datacenter))
			rs_add(rs, p->parsed, 0);
	}
}

static void
rs_identities(struct ruleset *rs, const struct conf *c,
    struct json_object *svcids, struct json_object *nodeids)
{
	struct json_object	*o, *v;
	size_t			 i;

	for (i = 0; svcids != NULL && i < json_object_array_length(svcids);
	    i++) {
		o = json_object_array_get_idx(svcids, i);
		if (!json_object_object_get_ex(o, "ServiceName", &v))
			continue;
		json_object_object_get_ex(o, "Datacenters", &o);
		if (!json_object_is_type(o, json_type_array))
			o = NULL;
		if (acl_dc_allowed(o, c->datacenter))
			rs_add(rs, acl_rules_service_identity(
			    json_object_get_string(v)), 1);
	}
	for (i = 0; nodeids != NULL && i < json_object_array_length(nodeids);
	    i++) {
		o = json_object_array_get_idx(nodeids, i);
		if (!json_object_object_get_ex(o, "NodeName", &v) ||
		    !json_object_object_get_ex(o, "Datacenter", &o) ||
		    strcmp(json_object_get_string(o), c->datacenter) != 0)
			continue;
		rs_add(rs, acl_rules_node_identity(json_object_get_string(v)),
		    1);
	}
}

static struct acl_authz *
compile(const struct acl_snap *s, const struct conf *c,
    const struct acl_token *t)
{
	struct ruleset		 rs;
	const struct acl_role	*r;
	struct acl_authz	*a;
	size_t			 i;

	memset(&rs, 0, sizeof(rs));
	rs_policies(&rs, s, c, t->policies);
	for (i = 0; t->roles != NULL && i < json_object_array_length(t->roles);
	    i++) {
		r = acl_snap_role(s, json_object_get_string(
		    json_object_array_get_idx(t->roles, i)));
		if (r == NULL)
			continue;
		rs_policies(&rs, s, c, r->policies);
		rs_identities(&rs, c, r->svcids, r->nodeids);
	}
	rs_identities(&rs, c, t->svcids, t->nodeids);
	a = acl_authz_new(rs.v, rs.n, strcmp(c->acl.default_policy,
	    "deny") == 0 ? ACL_DEFAULT_DENY : ACL_DEFAULT_ALLOW);
	for (i = 0; i < rs.nown; i++)
		acl_rules_free(rs.own[i]);
	free(rs.v);
	free(rs.own);
	return a;
}

/*
 * The authorizer of token t (a member of snapshot s), compiled on first
 * use and kept with the snapshot.  Borrowed: valid while the caller
 * holds its reference to s.
 */
struct acl_authz *
acl_token_authz(struct acl_snap *s, const struct conf *c,
    const struct acl_token *t)
{
	struct acl_token	*w = (struct acl_token *)t;
	struct acl_authz	*a, *expect = NULL;

	(void)s;
	a = __atomic_load_n(&w->authz, __ATOMIC_ACQUIRE);
	if (a != NULL)
		return a;
	a = compile(s, c, t);
	if (!__atomic_compare_exchange_n(&w->authz, &expect, a, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		acl_authz_free(a);	/* another thread was first */
		a = expect;
	}
	return a;
}

/* ---------------------------------------------------------------- */
/* Encoding.                                                          */

/*
 * [{ID, Name}] for the IDs in ids that still name a policy (or role,
 * when roles) in s; NULL when none do (omitted in output).
 */
struct json_object *
acl_links_json(const struct acl_snap *s, struct json_object *ids,
    int roles)
{
	struct json_object	*arr = NULL, *o;
	const char		*id, *name;
	size_t			 i;

	for (i = 0; ids != NULL && i < json_object_array_length(ids); i++) {
		id = json_object_get_string(json_object_array_get_idx(ids, i));
		if (roles) {
			const struct acl_role *r = acl_snap_role(s, id);

			name = r ? r->name : NULL;
		} else {
			const struct acl_policy *p = acl_snap_policy(s, id);

			name = p ? p->name : NULL;
		}
		if (name == NULL)
			continue;	/* deleted since: hidden (acl.md §3.1) */
		if (arr == NULL)
			arr = json_object_new_array();
		o = json_object_new_object();
		json_object_object_add(o, "ID", json_object_new_string(id));
		json_object_object_add(o, "Name", json_object_new_string(name));
		json_object_array_add(arr, o);
	}
	return arr;
}

/*
 * A private deep copy of v, for replies built from the snapshot: json-c
 * reference counts are not atomic, so threads must not share objects
 * they json_object_get() or render.
 */
struct json_object *
acl_jcopy(struct json_object *v)
{
	struct json_object	*c = NULL;

	if (v == NULL)
		return NULL;
	if (json_object_deep_copy(v, &c, NULL) != 0)
		fatalx("json_object_deep_copy");
	return c;
}

static void
add_nonempty(struct json_object *o, const char *k, struct json_object *v)
{
	if (v != NULL && json_object_is_type(v, json_type_array) &&
	    json_object_array_length(v) > 0)
		json_object_object_add(o, k, acl_jcopy(v));
}

static void
add_idx(struct json_object *o, uint64_t ci, uint64_t mi)
{
	json_object_object_add(o, "CreateIndex",
	    json_object_new_uint64(ci));
	json_object_object_add(o, "ModifyIndex",
	    json_object_new_uint64(mi));
}

/*
 * A token as Consul renders it (acl.md §3.1); SecretID is "<hidden>"
 * unless show_secret.  A new object.
 */
struct json_object *
acl_token_json(const struct acl_snap *s, const struct acl_token *t,
    int show_secret)
{
	struct json_object	*o, *l;

	o = json_object_new_object();
	json_object_object_add(o, "AccessorID",
	    json_object_new_string(t->accessor_id));
	json_object_object_add(o, "SecretID",
	    json_object_new_string(show_secret &&
	    !seal_token_is_hash(t->secret_id) ? t->secret_id : "<hidden>"));
	json_object_object_add(o, "Description",
	    json_object_new_string(t->description));
	if ((l = acl_links_json(s, t->policies, 0)) != NULL)
		json_object_object_add(o, "Policies", l);
	if ((l = acl_links_json(s, t->roles, 1)) != NULL)
		json_object_object_add(o, "Roles", l);
	add_nonempty(o, "ServiceIdentities", t->svcids);
	add_nonempty(o, "NodeIdentities", t->nodeids);
	json_object_object_add(o, "Local", json_object_new_boolean(t->local));
	if (*t->auth_method != '\0')
		json_object_object_add(o, "AuthMethod",
		    json_object_new_string(t->auth_method));
	if (t->expiration_time != NULL)
		json_object_object_add(o, "ExpirationTime",
		    json_object_new_string(t->expiration_time));
	json_object_object_add(o, "CreateTime",
	    json_object_new_string(t->create_time));
	json_object_object_add(o, "Hash", json_object_new_string(t->hash));
	add_idx(o, t->create_index, t->modify_index);
	return o;
}

/*
 * A policy: the full object, or the list stub (no Rules; Datacenters
 * null rather than omitted) when stub (acl.md §4.1).
 */
struct json_object *
acl_policy_json(const struct acl_policy *p, int stub)
{
	struct json_object	*o;
	int			 hasdc;

	o = json_object_new_object();
	json_object_object_add(o, "ID", json_object_new_string(p->id));
	json_object_object_add(o, "Name", json_object_new_string(p->name));
	json_object_object_add(o, "Description",
	    json_object_new_string(p->description));
	if (!stub)
		json_object_object_add(o, "Rules",
		    json_object_new_string(p->rules));
	hasdc = p->datacenters != NULL &&
	    json_object_array_length(p->datacenters) > 0;
	if (hasdc || stub)
		json_object_object_add(o, "Datacenters", hasdc ?
		    acl_jcopy(p->datacenters) : NULL);
	json_object_object_add(o, "Hash", json_object_new_string(p->hash));
	add_idx(o, p->create_index, p->modify_index);
	return o;
}

/* A role (acl.md §5); lists return the same full objects. */
struct json_object *
acl_role_json(const struct acl_snap *s, const struct acl_role *r)
{
	struct json_object	*o, *l;

	o = json_object_new_object();
	json_object_object_add(o, "ID", json_object_new_string(r->id));
	json_object_object_add(o, "Name", json_object_new_string(r->name));
	json_object_object_add(o, "Description",
	    json_object_new_string(r->description));
	if ((l = acl_links_json(s, r->policies, 0)) != NULL)
		json_object_object_add(o, "Policies", l);
	add_nonempty(o, "ServiceIdentities", r->svcids);
	add_nonempty(o, "NodeIdentities", r->nodeids);
	json_object_object_add(o, "Hash", json_object_new_string(r->hash));
	add_idx(o, r->create_index, r->modify_index);
	return o;
}

/* ---------------------------------------------------------------- */
/* Enforcement.                                                       */

int
acl_enabled(const struct req *req)
{
	return req->worker->conf->acl.enabled;
}

/*
 * The secret the request presents (acl.md §1.3): ?token=, else
 * X-Consul-Token, else "Authorization: Bearer <v>" (scheme compared
 * case-insensitively, the first word after it), else the configured
 * default token, else "" (anonymous).  Borrowed from the request.
 */
const char *
acl_req_secret(const struct req *req)
{
	const char	*v, *p, *q;

	if ((v = req_query(req, "token")) != NULL && *v != '\0')
		return v;
	if (req->hdr_token != NULL && *req->hdr_token != '\0')
		return req->hdr_token;
	if ((v = req->hdr_auth) != NULL) {
		while (*v == ' ')
			v++;
		if (strncasecmp(v, "bearer ", 7) == 0) {
			for (p = v + 7; *p == ' '; p++)
				;
			for (q = p; *q != '\0' && *q != ' '; q++)
				;
			if (q > p)
				return arena_strndup(req->arena, p,
				    (size_t)(q - p));
		}
	}
	v = req->worker->conf->acl.default_token;
	return v != NULL ? v : "";
}

/* Delete expired tokens now and then (see the file comment). */
static void
maybe_reap(struct req *req, const struct acl_snap *s)
{
	struct perr	e;
	int64_t		now_ms = mono_ms();

	if (s->next_expiry > acl_now_ns())
		return;
	pthread_mutex_lock(&reap_mtx);
	if (now_ms - last_reap_ms < 1000) {
		pthread_mutex_unlock(&reap_mtx);
		return;
	}
	last_reap_ms = now_ms;
	pthread_mutex_unlock(&reap_mtx);
	perr_clear(&e);
	if (acl_reap(req->store, acl_now_ns(), &e) == -1)
		log_warnx("acl: reaping expired tokens: %s", e.msg);
}

/*
 * Resolve the request's token once (memoized in req->acl until
 * acl_release()).  Returns 0 (also when ACLs are off: req->acl stays
 * NULL), or -1 with 403 "ACL not found" for an unknown or expired
 * secret, 500 "Cannot resolve root ACL" for allow/deny/manage, 500 for
 * a store failure.
 */
int
acl_resolve(struct req *req, struct perr *e)
{
	const struct conf	*c = req->worker->conf;
	const struct acl_token	*t;
	struct acl_snap		*s;
	const char		*secret;
	int64_t			 t0;

	if (!c->acl.enabled || req->acl != NULL)
		return 0;
	t0 = metrics_now();
	secret = acl_req_secret(req);
	if (strcmp(secret, "allow") == 0 || strcmp(secret, "deny") == 0 ||
	    strcmp(secret, "manage") == 0)
		return perr_set(e, 500, "Cannot resolve root ACL");
	if (acl_snap_get(req->store, c, &s, e) == -1)
		return -1;
	t = acl_snap_token_secret(s, *secret == '\0' ? ACL_ANONYMOUS_SECRET :
	    secret);
	if (t == NULL || acl_token_expired(t, acl_now_ns())) {
		/* Consul's words before the first bootstrap (its client tests). */
		if (!s->bootstrapped) {
			acl_snap_put(s);
			return perr_set(e, 403, "ACL system must be bootstrapped "
			    "before making any requests that require "
			    "authorization: ACL not found");
		}
		acl_snap_put(s);
		return perr_set(e, 403, "ACL not found");
	}
	req->acl = arena_alloc(req->arena, sizeof(*req->acl));
	req->acl->snap = s;
	req->acl->token = t;
	req->acl->accessor = t->accessor_id;
	req->acl->authz = acl_token_authz(s, c, t);
	store_audit_actor(req->store, t->accessor_id);	/* audit.c */
	metrics_time(MET_ACL_RESOLVE_TOKEN, t0);
	return 0;
}

/* Drop the request's snapshot reference (after its handler ran). */
void
acl_release(struct req *req)
{
	if (req->acl != NULL) {
		acl_snap_put(req->acl->snap);
		req->acl = NULL;
	}
}

/*
 * The dispatcher's check of the route's declared ACL (routes.c): 401
 * "ACL support disabled" for /v1/acl/ routes while ACLs are off; else,
 * with ACLs on, resolve the token (except for ACL_NONE routes, which
 * work with any token or none) and require the row's resource:level.
 * Returns 0 or -1 with e set (401, 403, 500).
 */
int
acl_route_check(struct req *req, struct perr *e)
{
	const struct route	*r = req->route;
	struct acl_snap		*s;

	if (!acl_enabled(req)) {
		if (strncmp(r->pattern, "/v1/acl/", 8) == 0)
			return perr_set(e, 401, "ACL support disabled");
		return 0;
	}
	if (r->acl == ACL_NONE)
		return 0;
	if (acl_resolve(req, e) == -1)
		return -1;
	s = req->acl->snap;
	if (s->next_expiry != INT64_MAX)
		maybe_reap(req, s);
	switch (r->acl) {
	case ACL_OPERATOR_READ:
		return acl_require(req, ACL_RES_OPERATOR, ACL_ACCESS_READ, NULL,
		    e);
	case ACL_OPERATOR_WRITE:
		return acl_require(req, ACL_RES_OPERATOR, ACL_ACCESS_WRITE,
		    NULL, e);
	case ACL_ACL_READ:
		return acl_require(req, ACL_RES_ACL, ACL_ACCESS_READ, NULL, e);
	case ACL_ACL_WRITE:
		return acl_require(req, ACL_RES_ACL, ACL_ACCESS_WRITE, NULL, e);
	default:
		return 0;	/* ACL_BY_HANDLER */
	}
}

/*
 * Require access to a resource (name may be NULL for unnamed ones).
 * Returns 0 when allowed (always with ACLs off), else -1 with Consul's
 * detailed 403, or the resolution error.
 */
int
acl_require(struct req *req, enum acl_resource res, enum acl_access acc,
    const char *name, struct perr *e)
{
	if (!acl_enabled(req))
		return 0;
	if (acl_resolve(req, e) == -1)
		return -1;
	return acl_authz_require(req->acl->authz, req->acl->accessor, res, acc,
	    name, e);
}

/* 1 when allowed (for filtering lists and redaction), else 0. */
int
acl_allowed(struct req *req, enum acl_resource res, enum acl_access acc,
    const char *name)
{
	struct perr	e;

	perr_clear(&e);
	return acl_require(req, res, acc, name, &e) == 0;
}

/* Whether the request resolved to the anonymous token. */
int
acl_is_anonymous(const struct req *req)
{
	return req->acl != NULL && strcmp(req->acl->accessor,
	    ACL_ANONYMOUS_ACCESSOR_ID) == 0;
}

/*
 * The decision when no intention matches (connect.md §6.6): the
 * default_intention_policy option, else acl.default_policy; allow with
 * ACLs off.  Token policies never decide it.
 */
int
acl_intention_default_allow(struct req *req)
{
	return conf_intention_default_allow(req->worker->conf);
}
