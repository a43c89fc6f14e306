/*
 * leaf.c -- GET /v1/agent/connect/ca/leaf/:service (spec connect.md
 * §4.1, §4.4, §4.6).
 *
 * Consul's agent keeps a leaf per service in memory and renews it in
 * the background.  We have several workers and no agent, so the cache
 * is in memory shared by every worker (leafcache.c): a leaf is reused
 * until a random point in 60-90 % of its life, until the active root's
 * SigningKeyID changes (rotation) or until it is revoked (the per-worker
 * snapshot of revoked serials, ca_revoked()); then the next call mints
 * a fresh key and leaf (X-Cache: MISS).  The request goes through the
 * same checks as any CSR (x509.c), signed by ca_issue(), which records
 * the leaf in the store; its private key is never written there.
 *
 * ACL service:write on :service is checked on every call, cached leaf
 * or not (Consul checks only when it signs: spec §12.7).
 *
 * Blocking (?index=): the route watches the leaves and roots indexes;
 * a re-run after a rotation or revocation mints the new leaf, so a
 * parked query returns the new certificate.  Another service's leaf
 * moves the leaves index but not this answer's, so the query keeps
 * waiting (blocking.c); the default wait is Consul's 10 min for this
 * endpoint (R_LONGWAIT).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "acl.h"
#include "ca.h"
#include "conf.h"
#include "leaf.h"
#include "leafcache.h"
#include "metrics.h"
#include "req.h"
#include "spiffe.h"
#include "store.h"
#include "x509.h"

/*
 * The cached leaf of service when it may still be served under s:
 * returns 1 with req->reply set, 0 when a new one is needed, -1 (500).
 */
static int
cached(struct req *req, const struct ca_snap *s, const char *service,
    struct perr *e)
{
	struct leafcache_ent	 ent;
	struct ca_issued	 is;
	time_t			 now = time(NULL), when;
	int			 rc = 0;

	if (!leafcache_get(service, &ent))
		return 0;
	if (strcmp(ent.skid, s->active->signing_key_id) == 0 &&
	    now < ent.renew && now < ent.not_after &&
	    (rc = ca_revoked(req, ent.serial, &when, e)) == 0) {
		memset(&is, 0, sizeof(is));
		is.serial = ent.serial;
		x509_serial_hex(is.serial, is.serial_hex,
		    sizeof(is.serial_hex));
		is.cert_pem = (char *)ent.cert_pem;
		is.index = ent.index;
		is.not_before = ent.not_before;
		is.not_after = ent.not_after;
		req->reply = ca_leaf_json(&is, ent.key_pem, service, ent.uri);
		req->index = is.index;
		rc = 1;
	} else if (rc == 1)
		rc = 0;		/* revoked: issue a fresh one */
	leafcache_ent_clear(&ent);
	return rc;
}

/*
 * Mint a key and leaf for service, as the agent does (§4.1), and make
 * it the service's cached leaf, renewed at a random point in 60-90 % of
 * its life (§4.6).
 */
static int
issue(struct req *req, struct ca_snap *s, const char *service,
    struct perr *e)
{
	const struct conf	*c = req->worker->conf;
	struct x509_csr		*csr = NULL;
	struct leafcache_ent	 ent;
	struct ca_issued	 is;
	char			*uri, *key = NULL;
	int			 rc = -1;

	memset(&is, 0, sizeof(is));
	uri = spiffe_service_uri(s->trust_domain, NULL, NULL, c->datacenter,
	    service);
	if (x509_leaf_request(uri, &key, &csr, e) == -1 ||
	    x509_csr_check(csr, s->trust_domain, c->datacenter, e) == -1) {
		e->status = 500;	/* Consul: signing errors are 500 */
		goto out;
	}
	if (ca_issue(req, s, csr, service, &is, e) == -1)
		goto out;
	memset(&ent, 0, sizeof(ent));
	ent.serial = is.serial;
	ent.index = is.index;
	ent.not_before = is.not_before;
	ent.not_after = is.not_after;
	ent.renew = is.not_before + (time_t)((double)(is.not_after -
	    is.not_before) * (0.6 + 0.3 * ((double)random() /
	    (double)RAND_MAX)));
	(void)snprintf(ent.skid, sizeof(ent.skid), "%s",
	    s->active->signing_key_id);
	ent.uri = uri;
	ent.cert_pem = is.cert_pem;
	ent.key_pem = key;
	(void)leafcache_put(service, &ent);
	req->index = is.index;
	req->reply = ca_leaf_json(&is, key, service, uri);
	rc = 0;
out:
	ca_issued_clear(&is);
	x509_csr_free(csr);
	if (key != NULL)
		secret_free(key);
	free(uri);
	return rc;
}

/*
 * GET /v1/agent/connect/ca/leaf/:service   (ACL service:write)
 * Reply: the IssuedCert (SerialNumber, CertPEM with the active root's
 * intermediates, PrivateKeyPEM, Service, ServiceURI, ValidAfter,
 * ValidBefore, Create/ModifyIndex) with X-Cache HIT (Age: 0) or MISS.
 * 403 without service:write; 429 from the CSR limits; 500 when Connect
 * is off, before bootstrap, or when signing fails.
 */
int
leaf_get(struct req *req, struct perr *e)
{
	const char	*service = req_param(req, "service");
	struct ca_snap	*s;
	int		 rc;

	if (!req->worker->conf->connect.enabled)
		return perr_set(e, 500, "Connect must be enabled in order to "
		    "use this endpoint");
	if (acl_require(req, ACL_RES_SERVICE, ACL_ACCESS_WRITE, service,
	    e) == -1)
		return -1;
	if (ca_snap_get(req, &s, e) == -1)
		return -1;
	if (s->active == NULL) {
		ca_snap_put(s);
		return perr_set(e, 500, "cluster has no CA bootstrapped yet");
	}
	if ((rc = cached(req, s, service, e)) == 1) {
		req_header(req, "X-Cache", "HIT");
		req_header(req, "Age", "0");
		metrics_inc(MET_LEAF_CACHE_HIT);
		rc = 0;
	} else if (rc == 0) {
		metrics_inc(MET_LEAF_CACHE_MISS);
		rc = issue(req, s, service, e);
		req_header(req, "X-Cache", "MISS");
	}
	ca_snap_put(s);
	return rc;
}
