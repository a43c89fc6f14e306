/*
 * authorize.c -- POST /v1/agent/connect/authorize as modern Consul
 * answers it (spec connect.md §7.1-7.2, §7.5, §11), plus two checks
 * Consul does not make (README, "Differences from Consul"):
 *
 *   - trust domain: a client URI from another trust domain is not
 *     authorized ("Identity from an external trust domain: <host>",
 *     Consul 1.2's words; modern Consul skips the check);
 *   - revocation: a ClientCertSerial revoked through
 *     PUT /v1/connect/ca/revoke is not authorized.
 *
 * Everything comes from per-worker snapshots: intentions in evaluation
 * order (intention.c) and revoked serials (ca.c), both replaced only
 * when their store index moves, and the trust domain computed once.
 * No SQLite query and no policy parse while nothing changes.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "acl.h"
#include "authorize.h"
#include "ca.h"
#include "conf.h"
#include "intention.h"
#include "json.h"
#include "metrics.h"
#include "req.h"
#include "snap.h"
#include "spiffe.h"
#include "util.h"
#include "x509.h"

struct authz_in {
	const char	*target;
	const char	*uri;
	const char	*serial;
};

/* structs.ConnectAuthorizeRequest (CE: no Namespace/Partition). */
static const struct jfield authz_fields[] = {
	{ "Target", J_STRING, offsetof(struct authz_in, target), "string" },
	{ "ClientCertURI", J_STRING, offsetof(struct authz_in, uri),
	    "string" },
	{ "ClientCertSerial", J_STRING, offsetof(struct authz_in, serial),
	    "string" },
	{ NULL, 0, 0, NULL }
};

/*
 * X-Cache: MISS the first time a worker answers for a target, HIT
 * after (Consul's agent cache; our snapshot is the background refresh).
 * A fixed table of target hashes; when full, every answer is a HIT.
 */
#define SEEN_SLOTS	4096

static pthread_mutex_t	 seen_mtx = PTHREAD_MUTEX_INITIALIZER;
static uint64_t		 seen[SEEN_SLOTS];

static int
seen_before(const char *target)
{
	uint64_t	h = 1469598103934665603ULL;
	size_t		i, n;
	int		hit = 1;

	for (; *target != '\0'; target++)
		h = (h ^ (unsigned char)*target) * 1099511628211ULL;
	if (h == 0)
		h = 1;
	pthread_mutex_lock(&seen_mtx);
	for (n = 0, i = h % SEEN_SLOTS; n < SEEN_SLOTS;
	    n++, i = (i + 1) % SEEN_SLOTS) {
		if (seen[i] == h)
			break;
		if (seen[i] == 0) {
			seen[i] = h;
			hit = 0;
			break;
		}
	}
	pthread_mutex_unlock(&seen_mtx);
	return hit;
}

/* Our trust domain, computed once per worker (the cluster ID is fixed). */
static const char *
trust_domain(struct req *req)
{
	static char	*td;
	char		*mine, *expected = NULL;

	if ((mine = __atomic_load_n(&td, __ATOMIC_ACQUIRE)) != NULL)
		return mine;
	mine = spiffe_trust_domain(req->worker->cluster_id);
	if (!__atomic_compare_exchange_n(&td, &expected, mine, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		free(mine);
		return expected;
	}
	return mine;
}

/*
 * Consul's Intention.String() in CE: "default/web => default/db
 * (ID: <id>, Precedence: 9, Action: ALLOW)", the ID only for legacy
 * intentions, "Permissions: <n>" instead of the action for L7.
 */
static char *
ixn_string(struct req *req, const struct ixn *x)
{
	struct json_object	*p;
	char			 detail[64];
	int			 n = 0;

	if (x->permissions != NULL) {
		if ((p = json_tokener_parse(x->permissions)) != NULL) {
			n = (int)json_object_array_length(p);
			json_object_put(p);
		}
		snprintf(detail, sizeof(detail), "Permissions: %d", n);
	} else
		snprintf(detail, sizeof(detail), "Action: %s",
		    x->action != NULL && strcmp(x->action, "allow") == 0 ?
		    "ALLOW" : "DENY");
	return arena_printf(req->arena, "default/%s => default/%s (%s%s%s"
	    "Precedence: %d, %s)", x->source_name, x->dest_name,
	    x->id != NULL ? "ID: " : "", x->id != NULL ? x->id : "",
	    x->id != NULL ? ", " : "", x->precedence, detail);
}

static void
answer(struct req *req, int allowed, const char *reason, const char *target)
{
	struct json_object	*o;

	o = json_object_new_object();
	json_object_object_add(o, "Authorized",
	    json_object_new_boolean(allowed));
	json_object_object_add(o, "Reason", json_object_new_string(reason));
	req->reply = o;
	metrics_inc(allowed ? MET_AUTHORIZE_ALLOWED : MET_AUTHORIZE_DENIED);
	if (seen_before(target)) {
		req_header(req, "X-Cache", "HIT");
		req_header(req, "Age", "0");
	} else
		req_header(req, "X-Cache", "MISS");
}

/*
 * POST /v1/agent/connect/authorize   (ACL service:write on Target)
 * Reply: {"Authorized": bool, "Reason": "..."}; a denial is still 200.
 * 400 "Request decode failed: ...", "Target service must be
 * specified", "ClientCertURI not a valid Connect identifier",
 * "ClientCertURI not a valid Service identifier", "Mismatched
 * partitions: ..."; 403 without service:write.
 */
int
authorize(struct req *req, struct perr *e)
{
	struct authz_in		 in;
	struct spiffe_id	*id = NULL;
	struct ixn_snap		*s;
	const struct ixn	*x;
	const struct conf	*c = req->worker->conf;
	struct perr		 pe;
	uint64_t		 serial;
	time_t			 when;
	char			 t[32], hex[64];
	int			 allowed, rc = -1;

	/*
	 * A POST that only reads, answered by Consul from its agent cache:
	 * it may be answered from the snapshots a rebuild is replacing, as
	 * GETs are (snap.c, http.c).
	 */
	snap_may_serve_old(!req_query_has(req, "consistent"));
	memset(&in, 0, sizeof(in));
	if (req_decode_body(req, authz_fields,
	    "structs.ConnectAuthorizeRequest", &in, NULL, e) == -1)
		return perr_prefix(e, "Request decode failed: ");
	if (in.target == NULL || *in.target == '\0')
		return perr_set(e, 400, "Target service must be specified");
	perr_clear(&pe);
	if (in.uri == NULL || spiffe_parse(in.uri, &id, &pe) == -1)
		return perr_set(e, 400, "ClientCertURI not a valid Connect "
		    "identifier");
	if (id->kind != SPIFFE_SERVICE) {
		perr_set(e, 400, "ClientCertURI not a valid Service "
		    "identifier");
		goto out;
	}
	if (acl_require(req, ACL_RES_SERVICE, ACL_ACCESS_WRITE, in.target,
	    e) == -1)
		goto out;
	if (strcasecmp(id->partition, "default") != 0) {
		perr_set(e, 400, "Mismatched partitions: \"%s\" != "
		    "\"default\"", id->partition);
		goto out;
	}
	rc = 0;

	/*
	 * Extension 1: the trust domain.  Consul >= 1.4 does not check it;
	 * connect.authorize_trust_domain_check = false does as Consul does.
	 */
	if (req->worker->conf->connect.authorize_td_check &&
	    strcasecmp(id->host, trust_domain(req)) != 0) {
		answer(req, 0, arena_printf(req->arena, "Identity from an "
		    "external trust domain: %s", id->host), in.target);
		goto out;
	}
	/* Extension 2: revoked client certificates. */
	if (in.serial != NULL && *in.serial != '\0' &&
	    ca_serial_parse(in.serial, &serial) == 0 && serial != 0) {
		if ((rc = ca_revoked(req, serial, &when, e)) == -1)
			goto out;
		if (rc == 1) {
			rc = 0;
			x509_serial_hex(serial, hex, sizeof(hex));
			time_rfc3339(when, t);
			answer(req, 0, arena_printf(req->arena, "Client "
			    "certificate serial %s was revoked at %s", hex, t),
			    in.target);
			goto out;
		}
		rc = 0;
	}

	/* A URI namespace other than default never matches in CE (§12.14). */
	x = NULL;
	s = NULL;
	if (strcmp(id->ns, "default") == 0) {
		if (ixn_snap_get(req, &s, e) == -1) {
			rc = -1;
			goto out;
		}
		x = intention_decide(s, id->service, in.target);
	}
	if (x != NULL && x->permissions != NULL)
		answer(req, 0, arena_printf(req->arena, "Matched L7 intention: "
		    "%s", ixn_string(req, x)), in.target);
	else if (x != NULL)
		answer(req, x->action != NULL && strcmp(x->action, "allow") == 0,
		    arena_printf(req->arena, "Matched L4 intention: %s",
		    ixn_string(req, x)), in.target);
	else if (c->default_intention_policy != NULL)
		answer(req, strcmp(c->default_intention_policy, "allow") == 0,
		    "Default intention policy", in.target);
	else {
		allowed = acl_intention_default_allow(req);
		answer(req, allowed, "Default behavior configured by ACLs",
		    in.target);
	}
	ixn_snap_put(s);
out:
	spiffe_free(id);
	return rc;
}
