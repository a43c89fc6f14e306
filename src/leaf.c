/*
 * leaf.c -- GET /v1/agent/connect/ca/leaf/:service (spec connect.md
 * §4.1, §4.4, §4.6).
 *
 * Consul's agent keeps a leaf per service in memory and renews it in
 * the background.  We have several workers and no agent, so the cache
 * lives in the store (the newest ca_leaf record of the service that
 * still holds its chain and private key, in the 0600 database) where
 * every worker reads it: a leaf is reused until a random
 * point in 60-90 % of its life, until the active root's SigningKeyID
 * changes (rotation) or until it is revoked; then the next call mints
 * a fresh key and leaf (X-Cache: MISS).  The CSR goes through the same
 * checks as any other (x509.c), signed by ca_issue().
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

#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "acl.h"
#include "ca.h"
#include "conf.h"
#include "http.h"
#include "leaf.h"
#include "spiffe.h"
#include "store.h"
#include "worker.h"
#include "x509.h"

/*
 * The cached leaf of service when it may still be served under s:
 * returns 1 with req->reply set, 0 when a new one is needed, -1 (500).
 */
static int
cached(struct req *req, const struct ca_snap *s, const char *service,
    struct perr *e)
{
	struct ca_issued	 is;
	sqlite3_stmt		*st;
	time_t			 now = time(NULL);
	int			 rc, ok = 0;

	if ((st = store_stmt(req->store, SQL_CA_LEAF_CACHE_GET)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_text(st, ":service", service);
	if ((rc = store_step(req->store, st, e)) == -1)
		return -1;
	if (rc == 1 &&
	    strcmp(store_col_text(st, 3), s->active->signing_key_id) == 0 &&
	    now < (time_t)sqlite3_column_int64(st, 4) &&
	    now < (time_t)sqlite3_column_int64(st, 8) &&
	    sqlite3_column_type(st, 9) == SQLITE_NULL) {
		memset(&is, 0, sizeof(is));
		is.serial = (uint64_t)sqlite3_column_int64(st, 0);
		x509_serial_hex(is.serial, is.serial_hex,
		    sizeof(is.serial_hex));
		is.cert_pem = (char *)store_col_text(st, 1);
		is.index = (uint64_t)sqlite3_column_int64(st, 5);
		is.not_before = (time_t)sqlite3_column_int64(st, 7);
		is.not_after = (time_t)sqlite3_column_int64(st, 8);
		req->reply = ca_leaf_json(&is, store_col_text(st, 2), service,
		    store_col_text(st, 6));
		req->index = is.index;
		ok = 1;
	}
	sqlite3_reset(st);
	return ok;
}

/* Mint a key and leaf for service, as the agent does (§4.1). */
static int
issue(struct req *req, struct ca_snap *s, const char *service,
    struct perr *e)
{
	const struct conf	*c = req->worker->conf;
	struct x509_csr		*csr = NULL;
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
	if (ca_issue(req, s, csr, service, key, &is, e) == -1)
		goto out;
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
		rc = 0;
	} else if (rc == 0) {
		rc = issue(req, s, service, e);
		req_header(req, "X-Cache", "MISS");
	}
	ca_snap_put(s);
	return rc;
}
