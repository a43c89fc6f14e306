/*
 * ca.c -- the built-in Connect CA, provider "consul" (spec connect.md
 * §2-5, §10):
 *
 *   GET /v1/connect/ca/roots              roots (?pem=true: PEM chain)
 *   GET /v1/agent/connect/ca/roots        the same, agent-cached form
 *   GET /v1/connect/ca/configuration      the stored configuration
 *   PUT /v1/connect/ca/configuration      change it; may rotate the root
 *   POST /v1/connect/ca/sign              extension: sign a PEM CSR
 *   PUT /v1/connect/ca/revoke             extension: revoke leaves
 *   GET /v1/connect/ca/crl                extension: the CRL (DER/PEM)
 *
 * The master bootstraps the CA on first start (ca_bootstrap): default
 * configuration merged with the file's connect.ca_config, an EC P-256
 * key and a root.  A configuration change whose key type/bits or
 * supplied key/root differ (Consul's provider state hash) rotates: the
 * old CA cross-signs the new root (unless ForceWithoutCrossSigning),
 * the old root stays listed, inactive, until 2 x LeafCertTTL after it
 * was rotated out; then the next reader prunes it (Consul runs an
 * hourly leader loop; we have no leader, so the first worker that
 * notices does the write).
 *
 * Readers use a per-worker snapshot of roots and configuration with
 * the active CA loaded for signing, replaced when the roots or config
 * index moves, and a separate snapshot of revoked serials replaced when
 * a revocation moves its own index (not at every issuance): authorize
 * and the leaf cache's revocation check cost no SQLite query.
 *
 * Private keys: the CA key lives in ca_root.private_key, sealed
 * (ca_db.c, seal.c), or in a PKCS#11 token whose URI is stored there
 * instead (connect.ca_key), and in the snapshot's x509_ca handle; x509.c is the only code
 * that parses or uses it.  No endpoint returns it and nothing logs it.
 * The CSR rate limiter lives in memory shared by the workers of one
 * node, so CSRMaxPerSecond is a rate per node: N nodes on one database
 * sign up to N times it (Consul's single leader makes it cluster-wide).
 *
 * Every query (configuration, roots, serials, leaf records,
 * revocations) is in ca_db.c; this file decides, signs (x509.c) and
 * renders, and frames each write with store_begin()/store_commit().
 */
#include "config.h"

#include <sys/mman.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <json-c/json.h>

#include "portcullis.h"
#include "acl.h"
#include "ca.h"
#include "ca_db.h"
#include "conf.h"
#include "json.h"
#include "metrics.h"
#include "notify.h"
#include "req.h"
#include "spiffe.h"
#include "store.h"
#include "util.h"
#include "x509.h"

#define NS		1000000000LL
#define ROOT_NAME	"Consul CA Primary Cert"
#define LIMIT_WAIT_NS	(500 * 1000000LL)	/* Consul's 500 ms */
#define CRL_TTL		3600			/* nextUpdate: an hour */
#define TXT_NOCONNECT	"Connect must be enabled in order to use this endpoint"
#define TXT_NOCA	"CA has not finished initializing"
#define TXT_RATE	"Rate limit reached, try again later"

/* ---------------------------------------------------------------- */
/* Configuration: Consul's ConsulCAProviderConfig.                    */

/* snake_case keys of the agent file's ca_config (not over HTTP). */
static const struct {
	const char	*snake, *camel;
} cfg_keys[] = {
	{ "leaf_cert_ttl", "LeafCertTTL" },
	{ "intermediate_cert_ttl", "IntermediateCertTTL" },
	{ "root_cert_ttl", "RootCertTTL" },
	{ "rotation_period", "RotationPeriod" },
	{ "private_key_type", "PrivateKeyType" },
	{ "private_key_bits", "PrivateKeyBits" },
	{ "private_key", "PrivateKey" },
	{ "root_cert", "RootCert" },
	{ "csr_max_per_second", "CSRMaxPerSecond" },
	{ "csr_max_concurrent", "CSRMaxConcurrent" },
	{ "skip_validate", "SkipValidate" },
	{ NULL, NULL }
};

static struct json_object *
cfg_lookup(struct json_object *m, const char *key)
{
	if (m == NULL || !json_object_is_type(m, json_type_object))
		return NULL;
	json_object_object_foreach(m, k, v)
		if (strcasecmp(k, key) == 0)
			return v;
	return NULL;
}

/* Errors of one decode, sorted and counted as mapstructure does. */
struct derrs {
	char	 msg[4][160];
	size_t	 n;
};

static void derr(struct derrs *, const char *, ...) PC_PRINTF(2, 3);

static void
derr(struct derrs *d, const char *fmt, ...)
{
	va_list	ap;

	if (d->n >= 4)
		return;
	va_start(ap, fmt);
	vsnprintf(d->msg[d->n++], sizeof(d->msg[0]), fmt, ap);
	va_end(ap);
}

static int
strptrcmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static void
cfg_duration(struct json_object *m, const char *name, int64_t *out,
    struct derrs *d)
{
	struct json_object	*v = cfg_lookup(m, name);

	if (v == NULL)
		return;
	switch (json_object_get_type(v)) {
	case json_type_string:
		if (duration_parse(json_object_get_string(v), out) == -1)
			derr(d, "error decoding '%s': time: invalid duration "
			    "\"%s\"", name, json_object_get_string(v));
		break;
	case json_type_int:
	case json_type_double:		/* ns; out of int64: UB in C */
		if (json_double_int64(json_object_get_double(v), out) == -1)
			derr(d, "error decoding '%s': %g overflows "
			    "time.Duration", name, json_object_get_double(v));
		break;
	default:
		derr(d, "'%s' expected type 'time.Duration', got "
		    "unconvertible type '%s'", name, json_type_go(v));
	}
}

static void
cfg_int(struct json_object *m, const char *name, int64_t *out,
    struct derrs *d)
{
	struct json_object	*v = cfg_lookup(m, name);
	const char		*s;
	char			*end;

	if (v == NULL)
		return;
	switch (json_object_get_type(v)) {
	case json_type_int:
	case json_type_double:
		if (json_double_int64(json_object_get_double(v), out) == -1)
			derr(d, "error decoding '%s': %g overflows int", name,
			    json_object_get_double(v));
		break;
	case json_type_string:
		s = json_object_get_string(v);
		errno = 0;
		*out = strtoll(s, &end, 0);
		if (*s == '\0' || *end != '\0' || errno)
			derr(d, "cannot parse '%s' as int: strconv.ParseInt: "
			    "parsing \"%s\": invalid syntax", name, s);
		break;
	case json_type_boolean:
		*out = json_object_get_boolean(v);
		break;
	default:
		derr(d, "'%s' expected type 'int', got unconvertible type "
		    "'%s'", name, json_type_go(v));
	}
}

static void
cfg_float(struct json_object *m, const char *name, double *out,
    struct derrs *d)
{
	struct json_object	*v = cfg_lookup(m, name);
	const char		*s;
	char			*end;

	if (v == NULL)
		return;
	switch (json_object_get_type(v)) {
	case json_type_int:
	case json_type_double:
		*out = json_object_get_double(v);
		break;
	case json_type_string:
		s = json_object_get_string(v);
		*out = strtod(s, &end);
		if (*s == '\0' || *end != '\0')
			derr(d, "cannot parse '%s' as float: "
			    "strconv.ParseFloat: parsing \"%s\": invalid "
			    "syntax", name, s);
		break;
	default:
		derr(d, "'%s' expected type 'float64', got unconvertible "
		    "type '%s'", name, json_type_go(v));
	}
}

static void
cfg_string(struct json_object *m, const char *name, char *buf, size_t sz,
    char **dup, struct derrs *d)
{
	struct json_object	*v = cfg_lookup(m, name);

	if (v == NULL)
		return;
	if (!json_object_is_type(v, json_type_string)) {
		derr(d, "'%s' expected type 'string', got unconvertible type "
		    "'%s'", name, json_type_go(v));
		return;
	}
	if (buf != NULL)
		snprintf(buf, sz, "%s", json_object_get_string(v));
	else if (*json_object_get_string(v) != '\0')
		*dup = xstrdup(json_object_get_string(v));
}

static void
cfg_clear(struct ca_cfg *c)
{
	if (c->private_key != NULL)
		secret_free(c->private_key);
	free(c->root_cert);
	c->private_key = c->root_cert = NULL;
}

/*
 * Decode a Config map with Consul's defaults (72h leaf, 8760h
 * intermediate, 87600h root, ec/256, 50 CSR/s).  Keys match
 * case-insensitively and are weakly typed (mapstructure); unknown keys
 * are ignored.  Returns 0, or -1 with e set to the decode error text
 * (no prefix, no status).  Release c with cfg_clear().
 */
static int
cfg_parse(struct json_object *m, struct ca_cfg *c, struct perr *e)
{
	struct derrs	 d;
	struct json_object *v;
	char		 buf[512];
	size_t		 i, off;
	int64_t		 b;

	memset(c, 0, sizeof(*c));
	memset(&d, 0, sizeof(d));
	c->leaf_ttl = 72 * 3600 * NS;
	c->inter_ttl = 8760 * 3600 * NS;
	c->root_ttl = 87600 * 3600 * NS;
	snprintf(c->key_type, sizeof(c->key_type), "ec");
	c->key_bits = 256;
	c->csr_rate = 50;
	cfg_duration(m, "LeafCertTTL", &c->leaf_ttl, &d);
	cfg_duration(m, "IntermediateCertTTL", &c->inter_ttl, &d);
	cfg_duration(m, "RootCertTTL", &c->root_ttl, &d);
	cfg_string(m, "PrivateKeyType", c->key_type, sizeof(c->key_type),
	    NULL, &d);
	cfg_int(m, "PrivateKeyBits", &c->key_bits, &d);
	cfg_string(m, "PrivateKey", NULL, 0, &c->private_key, &d);
	cfg_string(m, "RootCert", NULL, 0, &c->root_cert, &d);
	cfg_float(m, "CSRMaxPerSecond", &c->csr_rate, &d);
	cfg_int(m, "CSRMaxConcurrent", &c->csr_concurrent, &d);
	if ((v = cfg_lookup(m, "SkipValidate")) != NULL) {
		b = 0;
		if (json_object_is_type(v, json_type_string))
			b = strcmp(json_object_get_string(v), "true") == 0 ||
			    strcmp(json_object_get_string(v), "1") == 0;
		else
			b = json_object_get_boolean(v);
		c->skip_validate = (int)b;
	}
	if (d.n == 0)
		return 0;
	cfg_clear(c);
	qsort(d.msg, d.n, sizeof(d.msg[0]), strptrcmp);
	off = (size_t)snprintf(buf, sizeof(buf), "error decoding config: "
	    "%zu error(s) decoding:\n", d.n);
	for (i = 0; i < d.n && off < sizeof(buf); i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
		    "\n* %s", d.msg[i]);
	return perr_set(e, 500, "%s", buf);
}

/*
 * Consul's CommonCAProviderConfig.Validate and the key checks, in its
 * order; texts without the "error configuring provider: " prefix.
 */
static int
cfg_validate(const struct ca_cfg *c, struct perr *e)
{
	char	a[64], b[64];

	if (c->root_cert != NULL && c->private_key == NULL)
		return perr_set(e, 500, "must provide a private key when "
		    "providing a root cert");
	if (c->skip_validate)
		return 0;
	if (c->root_ttl < c->inter_ttl) {
		duration_format(c->root_ttl, a);
		duration_format(c->inter_ttl, b);
		return perr_set(e, 500, "root cert TTL is set and is not "
		    "greater than intermediate cert ttl. root cert ttl: %s, "
		    "intermediate cert ttl: %s", a, b);
	}
	if (c->leaf_ttl < 3600 * NS)
		return perr_set(e, 500, "leaf cert TTL must be greater or "
		    "equal than 1h0m0s");
	if (c->leaf_ttl > 8760 * 3600 * NS)
		return perr_set(e, 500, "leaf cert TTL must be less than "
		    "8760h0m0s");
	if (c->inter_ttl < 3 * 3600 * NS)
		return perr_set(e, 500, "Intermediate Cert TTL must be greater "
		    "or equal than 3h");
	if (c->inter_ttl < 3 * c->leaf_ttl) {
		duration_format(3 * c->leaf_ttl, a);
		return perr_set(e, 500, "Intermediate Cert TTL must be greater "
		    "or equal than 3 * LeafCertTTL (>=%s).", a);
	}
	if (strcmp(c->key_type, "ec") == 0) {
		if (c->key_bits != 224 && c->key_bits != 256 &&
		    c->key_bits != 384 && c->key_bits != 521)
			return perr_set(e, 500, "EC key length must be one of "
			    "(224, 256, 384, 521) bits");
	} else if (strcmp(c->key_type, "rsa") == 0) {
		if (c->key_bits != 2048 && c->key_bits != 4096)
			return perr_set(e, 500, "RSA key length must be 2048 "
			    "or 4096 bits");
	} else
		return perr_set(e, 500, "private key type must be either 'ec' "
		    "or 'rsa'");
	return 0;
}

/*
 * Consul keys the provider's state by a hash of what makes its root:
 * a change of any of these is a new root, anything else is not.
 */
static void
cfg_state_key(const struct ca_cfg *c, char out[65])
{
	unsigned char	 h[32];
	char		*buf;
	size_t		 i;

	i = (size_t)xasprintf(&buf, "%s%c%s%c%s%c%" PRId64, c->private_key ?
	    c->private_key : "", 0, c->root_cert ? c->root_cert : "", 0,
	    c->key_type, 0, c->key_bits);
	(void)gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, i, h);
	explicit_bzero(buf, i);
	free(buf);
	for (i = 0; i < sizeof(h); i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* ---------------------------------------------------------------- */
/* The CSR limiter, shared by every worker.                            */

/*
 * What a worker that dies (SIGKILL, a crash) leaves here must not
 * outlive it.  The token bucket holds only a time: a dead worker's
 * reservation passes by itself.  The semaphore is one counter per
 * worker slot, each changed only by its own worker (and by the master
 * once that worker is reaped: ca_worker_gone()), the number in flight
 * being their sum; a single shared counter kept a dead worker's share
 * for good and answered 429 to every new leaf until a restart.
 */
struct ca_shm {
	int64_t		next_ns;	/* token bucket (burst 1): next slot */
	int64_t		inflight[NOTIFY_MAX_WORKERS]; /* CSRMaxConcurrent:
					   held, per worker slot */
};

static struct ca_shm	 shm_private;
static struct ca_shm	*shm = &shm_private;

static int64_t
mono_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static void
sleep_ns(int64_t ns)
{
	struct timespec	ts;

	if (ns <= 0)
		return;
	ts.tv_sec = ns / NS;
	ts.tv_nsec = ns % NS;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* This worker's slot, set by ca_worker_start() (0: master, unit tests). */
static int	worker_slot;

/* Worker start-up hook (hooks.c): remember our slot for limit_slot(). */
void
ca_worker_start(int slot)
{
	worker_slot = slot;
	x509_pkcs11_reinit();	/* the token's sessions: our own */
}

/* Our worker's slot in ca_shm.inflight (0 outside a worker: unit tests). */
static int
limit_slot(void)
{
	if (worker_slot < 0 || worker_slot >= NOTIFY_MAX_WORKERS)
		return 0;
	return worker_slot;
}

/* Shares held by every worker together. */
static int64_t
limit_sum(void)
{
	int64_t	n = 0;
	int	i;

	for (i = 0; i < NOTIFY_MAX_WORKERS; i++)
		n += __atomic_load_n(&shm->inflight[i], __ATOMIC_SEQ_CST);
	return n;
}

/*
 * Consul's CSR limits (§4.5): with CSRMaxPerSecond > 0 a token bucket
 * of that rate and burst 1, else with CSRMaxConcurrent > 0 a semaphore;
 * either waits up to 500 ms.  Returns 0 (*held says whether to call
 * limit_leave) or -1 with 429 and Consul's text.
 */
static int
limit_enter(const struct ca_cfg *c, int *held, struct perr *e)
{
	int64_t	 now, cur, slot, interval, start, *mine;

	*held = 0;
	if (c->csr_rate > 0) {
		/* A rate below one per ~30 years: every call waits too long. */
		interval = c->csr_rate < 1e-9 ?
		    INT64_MAX / 4 : (int64_t)((double)NS / c->csr_rate);
		for (;;) {
			now = mono_ns();
			cur = __atomic_load_n(&shm->next_ns, __ATOMIC_ACQUIRE);
			slot = cur > now ? cur : now;
			if (slot - now > LIMIT_WAIT_NS)
				return perr_set(e, 429, TXT_RATE);
			if (__atomic_compare_exchange_n(&shm->next_ns, &cur,
			    slot + interval, 0, __ATOMIC_ACQ_REL,
			    __ATOMIC_ACQUIRE))
				break;
		}
		sleep_ns(slot - now);
		return 0;
	}
	if (c->csr_concurrent <= 0)
		return 0;
	/*
	 * Take a share in our own slot, then count: of several that took
	 * one at once, the last to take it sees every share (sequentially
	 * consistent), so at most csr_concurrent keep theirs.
	 */
	mine = &shm->inflight[limit_slot()];
	start = mono_ns();
	for (;;) {
		if (limit_sum() < c->csr_concurrent) {
			__atomic_add_fetch(mine, 1, __ATOMIC_SEQ_CST);
			if (limit_sum() <= c->csr_concurrent) {
				*held = 1;
				return 0;
			}
			__atomic_sub_fetch(mine, 1, __ATOMIC_SEQ_CST);
		}
		if (mono_ns() - start >= LIMIT_WAIT_NS)
			return perr_set(e, 429, TXT_RATE);
		sleep_ns(2 * 1000000LL);
	}
}

static void
limit_leave(int held)
{
	if (held)
		__atomic_sub_fetch(&shm->inflight[limit_slot()], 1,
		    __ATOMIC_SEQ_CST);
}

/*
 * Master, once it has reaped the worker of slot (before it starts the
 * next one there): give back the CSRMaxConcurrent shares it held.
 * Returns how many there were (a worker killed while signing).
 */
int64_t
ca_worker_gone(int slot)
{
	if (slot < 0 || slot >= NOTIFY_MAX_WORKERS)
		return 0;
	return __atomic_exchange_n(&shm->inflight[slot], 0, __ATOMIC_SEQ_CST);
}

/* ---------------------------------------------------------------- */
/* Rotation and bootstrap (the SQL is in ca_db.c).                   */

static int64_t
leaf_ttl_s(const struct ca_cfg *c)
{
	/* Spec §12.13: fall back to 72h rather than prune at once. */
	return c->leaf_ttl > 0 ? c->leaf_ttl / NS : 72 * 3600;
}

/*
 * Inside the caller's transaction: make key's root (or take the
 * supplied one), cross-sign it with the old CA unless there is none or
 * force is set, retire the old root, insert the new one as active,
 * prune, and give all roots the write's index.  Never logs key
 * material.
 */
static int
install_root(struct store *st, const char *cluster_id,
    const struct ca_cfg *c, const char *state, struct x509_key *key,
    const char *supplied, const struct ca_db_active *old, int force,
    struct perr *e)
{
	struct x509_info	 info;
	struct x509_ca		*oldca = NULL;
	struct json_object	*arr = NULL;
	const char		*inter = NULL;
	char			*root = NULL, *cross = NULL, *keypem = NULL;
	uint64_t		 serial;
	time_t			 now = time(NULL);
	int			 rc = -1, changed;

	memset(&info, 0, sizeof(info));
	if (supplied != NULL) {
		root = xstrdup(supplied);
	} else {
		if (ca_db_serial_next(st, &serial, e) == -1 ||
		    x509_root_create(key, cluster_id, serial, now,
		    c->root_ttl / NS, &root, e) == -1)
			goto out;
	}
	if (x509_cert_info(root, &info, e) == -1)
		goto out;
	if (old != NULL && strcmp(old->id, info.id) == 0) {
		perr_set(e, 500, "error configuring provider: the new root "
		    "is the current root");
		goto out;
	}
	if (old != NULL && !force) {
		if (x509_ca_load(old->key, old->cert, &oldca, e) == -1 ||
		    ca_db_serial_next(st, &serial, e) == -1 ||
		    x509_cross_sign(oldca, root, serial, now, &cross, e) == -1)
			goto out;
		arr = json_object_new_array();
		json_object_array_add(arr, json_object_new_string(cross));
		inter = json_object_to_json_string_ext(arr,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	}
	if (x509_key_pem(key, &keypem, e) == -1)
		goto out;
	if (old != NULL && ca_db_root_retire(st, now, e) == -1)
		goto out;
	if (ca_db_root_insert(st, &info, ROOT_NAME, cluster_id, root, inter,
	    keypem, state, e) == -1 ||
	    ca_db_prune(st, 2 * leaf_ttl_s(c), now, &changed, e) == -1 ||
	    ca_db_roots_touch(st, e) == -1)
		goto out;
	rc = 0;
out:
	x509_info_clear(&info);
	x509_ca_free(oldca);
	json_object_put(arr);
	free(root);
	free(cross);
	if (keypem != NULL)
		secret_free(keypem);
	return rc;
}

/*
 * The key for a config's new root: the supplied PrivateKey, or a fresh
 * key of PrivateKeyType/Bits.  Errors are 500 with Consul's
 * "error configuring provider: " prefix.
 */
static int
new_key(const struct ca_cfg *c, struct x509_key **key, struct perr *e)
{
	struct x509_ca	*ca = NULL;
	int		 rc;

	*key = NULL;
	if (c->private_key != NULL)
		rc = x509_key_load(c->private_key, key, e);
	else
		rc = x509_ca_keygen(c->key_type, (int)c->key_bits, key, e);
	if (rc == 0 && c->root_cert != NULL) {
		rc = x509_ca_load(c->private_key, c->root_cert, &ca, e);
		x509_ca_free(ca);
		if (rc == -1) {
			x509_key_free(*key);
			*key = NULL;
		}
	}
	if (rc == -1) {
		e->status = 500;
		return perr_prefix(e, "error configuring provider: ");
	}
	return 0;
}

/* The bootstrap Config: defaults merged with the file's ca_config. */
static struct json_object *
bootstrap_config(const struct conf *conf)
{
	struct json_object	*m;
	const char		*name;
	size_t			 i;

	m = json_object_new_object();
	json_object_object_add(m, "IntermediateCertTTL",
	    json_object_new_string("8760h"));
	json_object_object_add(m, "LeafCertTTL", json_object_new_string("72h"));
	json_object_object_add(m, "RootCertTTL",
	    json_object_new_string("87600h"));
	if (conf->connect.ca_config == NULL ||
	    !json_object_is_type(conf->connect.ca_config, json_type_object))
		return m;
	json_object_object_foreach(conf->connect.ca_config, k, v) {
		if (strcmp(k, "cluster_id") == 0)
			continue;
		name = k;
		for (i = 0; cfg_keys[i].snake != NULL; i++)
			if (strcmp(k, cfg_keys[i].snake) == 0)
				name = cfg_keys[i].camel;
		json_object_object_add(m, name, json_object_get(v));
	}
	return m;
}

/*
 * connect.ca_config.cluster_id, which Consul uses at the CA's first
 * bootstrap (the trust domain is <cluster_id>.consul).  With one that
 * differs from *cid, replaces *cid (owned) and returns 1; 0 when there
 * is none or it is the same; -1 with e set for one that is not a UUID
 * (Consul's words: the master refuses to start rather than bootstrap a
 * CA under an ID nobody meant).
 */
static int
config_cluster_id(const struct conf *conf, char **cid, struct perr *e)
{
	struct json_object	*v;
	const char		*s;
	char			*low;
	size_t			 i;

	if (conf->connect.ca_config == NULL ||
	    !json_object_is_type(conf->connect.ca_config, json_type_object) ||
	    !json_object_object_get_ex(conf->connect.ca_config, "cluster_id",
	    &v))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return perr_set(e, 500, "cluster_id was supplied but was not "
		    "a string");
	s = json_object_get_string(v);
	if (!uuid_valid(s))
		return perr_set(e, 500, "cluster_id was supplied but was not "
		    "a valid UUID");
	low = xstrdup(s);
	for (i = 0; low[i] != '\0'; i++)
		low[i] = (char)tolower((unsigned char)low[i]);
	if (strcmp(low, *cid) == 0) {
		free(low);
		return 0;
	}
	free(*cid);
	*cid = low;
	return 1;
}

/*
 * Master, at start, before the workers: map the limiter shared by the
 * workers and, with Connect enabled and no root yet, bootstrap the CA
 * (config, key, root) in one transaction.  Returns 0, or -1 with e set
 * (a bad ca_config in the file: the master refuses to start).
 */
int
ca_bootstrap(struct store *st, const struct conf *conf, struct perr *e)
{
	struct json_object	*m = NULL;
	struct x509_key		*key = NULL;
	struct ca_db_active	 a;
	struct ca_cfg		 c;
	char			*cid = NULL, state[65];
	void			*p;
	int			 found, newcid, rc = -1;

	p = mmap(NULL, sizeof(struct ca_shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED)
		shm = p;
	memset(&c, 0, sizeof(c));
	if (!conf->connect.enabled)
		return 0;
	if (conf->connect.ca_key.pkcs11_module != NULL &&
	    x509_pkcs11_init(conf->connect.ca_key.pkcs11_module,
	    conf->connect.ca_key.pkcs11_url, conf->connect.ca_key.pin_file,
	    e) == -1)
		return -1;
	if (ca_db_active_get(st, &a, &found, e) == -1)
		return -1;
	ca_db_active_clear(&a);
	if (store_meta_get(st, "cluster_id", &cid, e) == -1)
		return -1;
	if (cid == NULL)
		return perr_set(e, 500, "no cluster ID");
	if (found) {
		if ((newcid = config_cluster_id(conf, &cid, e)) == 1)
			log_warnx("connect: ca_config cluster_id %s ignored: "
			    "the CA was bootstrapped already", cid);
		free(cid);
		return newcid == -1 ? -1 : 0;
	}
	if ((newcid = config_cluster_id(conf, &cid, e)) == -1)
		goto out;
	m = bootstrap_config(conf);
	if (cfg_parse(m, &c, e) == -1 || cfg_validate(&c, e) == -1) {
		perr_prefix(e, "connect.ca_config: ");
		goto out;
	}
	cfg_state_key(&c, state);
	if (new_key(&c, &key, e) == -1)
		goto out;
	if (store_begin(st, e) == -1)
		goto out;
	/* Another node bootstrapped it while this one made its key? */
	if (ca_db_active_get(st, &a, &found, e) == -1) {
		store_rollback(st);
		goto out;
	}
	ca_db_active_clear(&a);
	if (found) {
		store_rollback(st);
		rc = 0;
		goto out;
	}
	if ((newcid == 1 && store_meta_put(st, "cluster_id", cid, e) == -1) ||
	    ca_db_config_put(st, "consul", json_object_to_json_string_ext(m,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), 0,
	    e) == -1 ||
	    install_root(st, cid, &c, state, key, c.root_cert, NULL, 1,
	    e) == -1) {
		store_rollback(st);
		goto out;
	}
	if (store_commit(st, e) == -1)
		goto out;
	log_info("connect: CA bootstrapped (%s %" PRId64 ", cluster %s)",
	    c.key_type, c.key_bits, cid);
	rc = 0;
out:
	cfg_clear(&c);
	x509_key_free(key);
	json_object_put(m);
	free(cid);
	return rc;
}

/* ---------------------------------------------------------------- */
/* The per-worker snapshots.                                           */

static struct snap_slot	ca_slot =
    SNAP_SLOT(TBIT(TBL_CA_ROOTS) | TBIT(TBL_CA_CONFIG));
static struct snap_slot	rev_slot = SNAP_SLOT(TBIT(TBL_CA_REVOKED));

static void
snap_free(struct snap *hdr)
{
	struct ca_snap	*s = (struct ca_snap *)hdr;

	ca_db_roots_free(s->roots, s->nroots);
	free(s->trust_domain);
	free(s->cluster_id);
	free(s->inter_pem);
	free(s->json);
	cfg_clear(&s->cfg);
	x509_ca_free(s->signer);
	free(s);
}

/* Release a snapshot reference.  NULL is fine. */
void
ca_snap_put(struct ca_snap *s)
{
	snap_put(s == NULL ? NULL : &s->hdr);
}

/* The IndexedCARoots object (Go field order). */
static struct json_object *
roots_json(const struct ca_snap *s)
{
	struct json_object	*o, *arr, *r, *inter;
	const struct ca_root	*x;
	char			 t[32];
	size_t			 i;

	o = json_object_new_object();
	json_object_object_add(o, "ActiveRootID", json_object_new_string(
	    s->active != NULL ? s->active->id : ""));
	json_object_object_add(o, "TrustDomain",
	    json_object_new_string(s->trust_domain));
	arr = json_object_new_array();
	for (i = 0; i < s->nroots; i++) {
		x = &s->roots[i];
		r = json_object_new_object();
		json_object_object_add(r, "ID", json_object_new_string(x->id));
		json_object_object_add(r, "Name",
		    json_object_new_string(x->name));
		json_object_object_add(r, "SerialNumber",
		    json_object_new_uint64(x->serial));
		json_object_object_add(r, "SigningKeyID",
		    json_object_new_string(x->signing_key_id));
		json_object_object_add(r, "ExternalTrustDomain",
		    json_object_new_string(x->etd));
		time_rfc3339(x->not_before, t);
		json_object_object_add(r, "NotBefore", json_object_new_string(t));
		time_rfc3339(x->not_after, t);
		json_object_object_add(r, "NotAfter", json_object_new_string(t));
		json_object_object_add(r, "RootCert",
		    json_object_new_string(x->root_cert));
		inter = x->inter != NULL ? json_tokener_parse(x->inter) : NULL;
		json_object_object_add(r, "IntermediateCerts", inter);
		json_object_object_add(r, "Active",
		    json_object_new_boolean(x->active));
		json_object_object_add(r, "PrivateKeyType",
		    json_object_new_string(x->key_type));
		json_object_object_add(r, "PrivateKeyBits",
		    json_object_new_int(x->key_bits));
		json_object_object_add(r, "CreateIndex",
		    json_object_new_uint64(x->create_index));
		json_object_object_add(r, "ModifyIndex",
		    json_object_new_uint64(x->modify_index));
		json_object_array_add(arr, r);
	}
	json_object_object_add(o, "Roots", arr);
	return o;
}

static int
snap_load(struct req *req, uint64_t idx, struct ca_snap **out,
    struct perr *e)
{
	struct ca_snap		*s;
	struct ca_root		*x;
	struct ca_db_active	 a;
	struct ca_db_config	 cf;
	struct json_object	*m, *inter;
	size_t			 i;
	int			 found;
	time_t			 t;

	s = xcalloc(1, sizeof(*s));
	s->hdr.free = snap_free;
	s->cluster_id = xstrdup(req->worker->cluster_id);
	s->trust_domain = spiffe_trust_domain(s->cluster_id);
	s->inter_pem = xstrdup("");
	(void)cfg_parse(NULL, &s->cfg, e);

	if (ca_db_config_get(req->store, &cf, &found, e) == -1)
		goto fail;
	if (found) {
		m = json_tokener_parse(cf.config);
		if (cfg_parse(m, &s->cfg, e) == -1) {
			log_warnx("ca: stored config: %s", e->msg);
			perr_clear(e);
			(void)cfg_parse(NULL, &s->cfg, e);
		}
		json_object_put(m);
	}
	ca_db_config_clear(&cf);
	if (ca_db_roots(req->store, &s->roots, &s->nroots, e) == -1)
		goto fail;
	for (i = 0; i < s->nroots; i++) {
		x = &s->roots[i];
		if (x->active)
			s->active = x;
		else if (x->rotated_out_at != 0) {
			t = x->rotated_out_at + 2 * leaf_ttl_s(&s->cfg) + 1;
			if (s->prune_at == 0 || t < s->prune_at)
				s->prune_at = t;
		}
	}
	if (s->active != NULL && s->active->inter != NULL &&
	    (inter = json_tokener_parse(s->active->inter)) != NULL) {
		free(s->inter_pem);
		s->inter_pem = xstrdup("");
		for (i = 0; i < json_object_array_length(inter); i++) {
			char	*cat;

			xasprintf(&cat, "%s%s", s->inter_pem,
			    json_object_get_string(
			    json_object_array_get_idx(inter, i)));
			free(s->inter_pem);
			s->inter_pem = cat;
		}
		json_object_put(inter);
	}
	if (ca_db_active_get(req->store, &a, &found, e) == -1)
		goto fail;
	if (found && x509_ca_load(a.key, a.cert, &s->signer, e) == -1) {
		log_warnx("ca: cannot load the active CA: %s", e->msg);
		perr_clear(e);
		s->signer = NULL;
	}
	ca_db_active_clear(&a);
	m = roots_json(s);
	s->json = json_render(m, 0, &s->jsonlen);
	json_object_put(m);
	*out = s;
	return 0;
fail:
	snap_free(&s->hdr);
	return -1;
}

/*
 * A reference to the current CA snapshot, loading a new one when the
 * roots or config index moved (and pruning roots that are due first).
 * Release with ca_snap_put().  -1 with 500 on store errors.
 */
static int
ca_load(struct store *st, void *arg, uint64_t idx, const struct snap *base,
    struct snap **out, struct perr *e)
{
	struct ca_snap	*s;

	(void)st;
	(void)base;	/* a few roots: always a full build */
	if (snap_load(arg, idx, &s, e) == -1)
		return -1;
	*out = &s->hdr;
	return 0;
}

int
ca_snap_get(struct req *req, struct ca_snap **out, struct perr *e)
{
	struct snap	*h;
	struct ca_snap	*s;
	int		 tries;

	for (tries = 0; tries < 2; tries++) {
		if (snap_get(&ca_slot, req->store, ca_load, req, &h, e) == -1)
			return -1;
		s = (struct ca_snap *)h;
		if (s->prune_at == 0 || time(NULL) < s->prune_at || tries > 0)
			break;
		ca_db_prune_due(req->store, 2 * leaf_ttl_s(&s->cfg));
		ca_snap_put(s);
	}
	*out = s;
	return 0;
}

/* Revoked serials, sorted; a per-worker snapshot on the leaves index. */
struct rev_snap {
	struct snap	 hdr;		/* first */
	size_t		 n;
	uint64_t	*serial;
	time_t		*when;
};

static void
rev_free(struct snap *hdr)
{
	struct rev_snap	*r = (struct rev_snap *)hdr;

	free(r->serial);
	free(r->when);
	free(r);
}

static void
rev_put(struct rev_snap *r)
{
	snap_put(r == NULL ? NULL : &r->hdr);
}

static int
rev_load(struct store *st, void *arg, uint64_t idx, const struct snap *base,
    struct snap **out, struct perr *e)
{
	struct rev_snap	*r;

	(void)arg;
	(void)base;
	(void)idx;
	r = xcalloc(1, sizeof(*r));
	r->hdr.free = rev_free;
	if (ca_db_revoked(st, time(NULL), &r->serial, &r->when, &r->n,
	    e) == -1) {
		rev_free(&r->hdr);
		return -1;
	}
	*out = &r->hdr;
	return 0;
}

static int
rev_get(struct req *req, struct rev_snap **out, struct perr *e)
{
	struct snap	*h;

	if (snap_get(&rev_slot, req->store, rev_load, NULL, &h, e) == -1)
		return -1;
	*out = (struct rev_snap *)h;
	return 0;
}

/*
 * Is serial revoked?  Returns 1 with *when set, 0, or -1 (500).  Served
 * from the per-worker snapshot: no query while nothing changes.
 */
int
ca_revoked(struct req *req, uint64_t serial, time_t *when, struct perr *e)
{
	struct rev_snap	*r;
	size_t		 lo, hi, mid;
	int		 found = 0;

	if (rev_get(req, &r, e) == -1)
		return -1;
	lo = 0;
	hi = r->n;
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (r->serial[mid] == serial) {
			*when = r->when[mid];
			found = 1;
			break;
		}
		if (r->serial[mid] < serial)
			lo = mid + 1;
		else
			hi = mid;
	}
	rev_put(r);
	return found;
}

/*
 * Parse a colon-hex serial ("0a:1b", "c8"; colons optional) into *out.
 * Returns 0, or -1 when it is not hex or does not fit 64 bits.
 */
int
ca_serial_parse(const char *s, uint64_t *out)
{
	uint64_t	v = 0;
	int		digits = 0, c;

	for (; *s != '\0'; s++) {
		if (*s == ':')
			continue;
		if (!isxdigit((unsigned char)*s))
			return -1;
		c = isdigit((unsigned char)*s) ? *s - '0' :
		    tolower((unsigned char)*s) - 'a' + 10;
		if (v == 0 && c == 0)
			continue;	/* leading zeros */
		if (++digits > 16)
			return -1;
		v = v << 4 | (uint64_t)c;
	}
	*out = v;
	return 0;
}

/* ---------------------------------------------------------------- */
/* Signing.                                                            */

void
ca_issued_clear(struct ca_issued *is)
{
	free(is->cert_pem);
	memset(is, 0, sizeof(*is));
}

/*
 * Sign a checked CSR for service with the snapshot's active CA (§4.2
 * items 5-6, §4.3) and record the leaf in one write (grouped with
 * other threads' leaves: ca_db_leaf_record()): CSR limits (429), root
 * not expired (500), next serial, the leaf row.  Fills *out
 * (ca_issued_clear()).  Returns 0 or -1 with e set.
 */
int
ca_issue(struct req *req, struct ca_snap *s, const struct x509_csr *csr,
    const char *service, struct ca_issued *out, struct perr *e)
{
	struct store		*st = req->store;
	struct ca_leaf_rec	 rec;
	char			*pem = NULL;
	time_t			 now;
	int64_t			 ttl, t0 = metrics_now();
	int			 held, rc;

	memset(out, 0, sizeof(*out));
	if (s->active == NULL || s->signer == NULL)
		return perr_set(e, 500, "cluster has no CA bootstrapped yet");
	if (limit_enter(&s->cfg, &held, e) == -1)
		return -1;
	now = time(NULL);
	ttl = s->cfg.leaf_ttl / NS;
	if (ttl < 1)
		ttl = 1;
	if (x509_ca_check_expired(s->signer, now, e) == -1 ||
	    ca_db_serial_take(st, &out->serial, e) == -1) {
		limit_leave(held);
		return -1;
	}
	/* Sign outside the write transaction: other writers go on. */
	rc = x509_leaf_sign(s->signer, csr, out->serial, now, ttl, &pem, e);
	if (rc == -1) {
		e->status = 500;	/* Consul: signing errors are 500 */
		goto fail;
	}
	out->not_before = now - 60;
	out->not_after = out->not_before + ttl;
	x509_serial_hex(out->serial, out->serial_hex, sizeof(out->serial_hex));
	xasprintf(&out->cert_pem, "%s%s", pem, s->inter_pem);
	memset(&rec, 0, sizeof(rec));
	rec.is = out;
	rec.service = service;
	rec.uri = x509_csr_uri(csr);
	rec.root_id = s->active->id;
	if (ca_db_leaf_record(st, &rec, e) == -1)
		goto fail;
	limit_leave(held);
	free(pem);
	metrics_inc(MET_LEAF_SIGNED);
	metrics_time(MET_LEAF_SIGN, t0);
	return 0;
fail:
	metrics_inc(MET_LEAF_SIGN_FAILED);
	limit_leave(held);
	free(pem);
	ca_issued_clear(out);
	return -1;
}

/*
 * The IssuedCert object (Go field order): key_pem NULL omits
 * PrivateKeyPEM (the sign extension).  A new object.
 */
struct json_object *
ca_leaf_json(const struct ca_issued *is, const char *key_pem,
    const char *service, const char *uri)
{
	struct json_object	*o;
	char			 t[32];

	o = json_object_new_object();
	json_object_object_add(o, "SerialNumber",
	    json_object_new_string(is->serial_hex));
	json_object_object_add(o, "CertPEM", json_object_new_string(
	    is->cert_pem));
	if (key_pem != NULL)
		json_object_object_add(o, "PrivateKeyPEM",
		    json_object_new_string(key_pem));
	json_object_object_add(o, "Service", json_object_new_string(service));
	json_object_object_add(o, "ServiceURI", json_object_new_string(uri));
	time_rfc3339(is->not_before, t);
	json_object_object_add(o, "ValidAfter", json_object_new_string(t));
	time_rfc3339(is->not_after, t);
	json_object_object_add(o, "ValidBefore", json_object_new_string(t));
	json_object_object_add(o, "CreateIndex",
	    json_object_new_uint64(is->index));
	json_object_object_add(o, "ModifyIndex",
	    json_object_new_uint64(is->index));
	return o;
}

/* ---------------------------------------------------------------- */
/* Handlers.                                                           */

static int
connect_on(struct req *req, struct perr *e)
{
	if (!req->worker->conf->connect.enabled)
		return perr_set(e, 500, TXT_NOCONNECT);
	return 0;
}

/* The roots reply shared by both roots endpoints. */
static int
roots_reply(struct req *req, int agent, struct perr *e)
{
	struct ca_snap		*s;
	struct json_object	*o;
	static int		 seen;	/* X-Cache: MISS once per worker */
	char			*buf, *p;
	size_t			 i, len = 0;
	int			 pem = 0;

	if (connect_on(req, e) == -1)
		return -1;
	if (!agent && req_query_bool(req, "pem", &pem, e) == -1)
		return -1;
	if (ca_snap_get(req, &s, e) == -1)
		return -1;
	if (s->active == NULL) {
		ca_snap_put(s);
		return perr_set(e, 500, TXT_NOCA);
	}
	req->index = s->hdr.index;
	if (pem) {
		/* Every root, then its intermediates, as stored (§5.1). */
		for (i = 0; i < s->nroots; i++)
			len += strlen(s->roots[i].root_cert) + (s->roots[i].inter ?
			    strlen(s->roots[i].inter) : 0);
		p = buf = arena_alloc(req->arena, len + 1);
		for (i = 0; i < s->nroots; i++) {
			p = stpcpy(p, s->roots[i].root_cert);
			if (s->roots[i].inter != NULL &&
			    (o = json_tokener_parse(s->roots[i].inter)) != NULL) {
				size_t	j;

				for (j = 0; j < json_object_array_length(o); j++)
					p = stpcpy(p, json_object_get_string(
					    json_object_array_get_idx(o, j)));
				json_object_put(o);
			}
		}
		req->raw = buf;
		req->rawlen = (size_t)(p - buf);
		req->content_type = "application/pem-certificate-chain";
	} else if (req_query_has(req, "pretty")) {
		req->reply = roots_json(s);
	} else {
		req->raw = arena_strndup(req->arena, s->json, s->jsonlen);
		req->rawlen = s->jsonlen;
		req->content_type = "application/json";
	}
	ca_snap_put(s);
	if (agent) {
		if (__atomic_exchange_n(&seen, 1, __ATOMIC_ACQ_REL)) {
			req_header(req, "X-Cache", "HIT");
			req_header(req, "Age", "0");
		} else
			req_header(req, "X-Cache", "MISS");
	}
	return 0;
}

/*
 * GET /v1/connect/ca/roots[?pem=true]
 * Reply: IndexedCARoots, or with ?pem the PEM chain of every root and
 * its intermediates (application/pem-certificate-chain).  500 when
 * Connect is off or before bootstrap; 400 for a non-boolean pem.
 */
int
ca_roots(struct req *req, struct perr *e)
{
	return roots_reply(req, 0, e);
}

/*
 * GET /v1/agent/connect/ca/roots
 * Reply: IndexedCARoots with X-Cache (MISS on a worker's first call,
 * then HIT with Age: 0: the snapshot is our background refresh).
 */
int
ca_agent_roots(struct req *req, struct perr *e)
{
	return roots_reply(req, 1, e);
}

/*
 * GET /v1/connect/ca/configuration   (ACL operator:write)
 * Reply: the stored CAConfiguration; State null; no X-Consul-Index
 * (Consul's handler sets none, whatever its docs say).  Unlike Consul,
 * a supplied PrivateKey is left out: no endpoint returns a CA key.
 */
int
ca_config_get(struct req *req, struct perr *e)
{
	struct json_object	*o, *m;
	struct ca_db_config	 cf;
	int			 found;

	if (connect_on(req, e) == -1 ||
	    acl_require(req, ACL_RES_OPERATOR, ACL_ACCESS_WRITE, NULL, e) == -1)
		return -1;
	if (ca_db_config_get(req->store, &cf, &found, e) == -1)
		return -1;
	if (!found)
		return perr_set(e, 500, TXT_NOCA);
	o = json_object_new_object();
	json_object_object_add(o, "Provider",
	    json_object_new_string(cf.provider));
	m = json_tokener_parse(cf.config);
	/* Never return a CA private key (Consul echoes it back). */
	if (m != NULL && json_object_is_type(m, json_type_object)) {
		json_object_object_foreach(m, k, v) {
			(void)v;
			if (strcasecmp(k, "PrivateKey") == 0) {
				json_object_object_del(m, k);
				break;
			}
		}
	}
	json_object_object_add(o, "Config", json_map_sorted(m));
	json_object_put(m);
	json_object_object_add(o, "State", NULL);
	json_object_object_add(o, "ForceWithoutCrossSigning",
	    json_object_new_boolean(cf.force));
	json_object_object_add(o, "CreateIndex",
	    json_object_new_uint64(cf.create_index));
	json_object_object_add(o, "ModifyIndex",
	    json_object_new_uint64(cf.modify_index));
	ca_db_config_clear(&cf);
	req->reply = o;
	return 0;
}

struct cfg_in {
	const char		*provider;
	struct json_object	*config;
	struct json_object	*state;
	int			 force, force_snake;
};

static const struct jfield cfg_fields[] = {
	{ "Provider", J_STRING, offsetof(struct cfg_in, provider), "string" },
	{ "Config", J_ANY, offsetof(struct cfg_in, config),
	    "map[string]interface {}" },
	{ "State", J_ANY, offsetof(struct cfg_in, state),
	    "map[string]string" },
	{ "ForceWithoutCrossSigning", J_BOOL, offsetof(struct cfg_in, force),
	    "bool" },
	{ "force_without_cross_signing", J_BOOL,
	    offsetof(struct cfg_in, force_snake), "bool" },
	{ "CreateIndex", J_IGNORE, 0, "uint64" },
	{ "ModifyIndex", J_IGNORE, 0, "uint64" },
	{ NULL, 0, 0, NULL }
};

/*
 * PUT /v1/connect/ca/configuration   (ACL operator:write)
 * Reply: 200, empty body.  Consul's UpdateConfiguration (§3.6): 400 for
 * a bad body or a State change; identical Provider+Config is a no-op;
 * validation errors are 500 "error configuring provider: ..."; a new
 * key type/bits or supplied key/root rotates (cross-signed unless
 * ForceWithoutCrossSigning); anything else just stores the Config.
 */
int
ca_config_put(struct req *req, struct perr *e)
{
	struct cfg_in		 in;
	struct ca_cfg		 c;
	struct ca_db_active	 a;
	struct ca_db_config	 cf;
	struct x509_key		*key = NULL;
	struct json_object	*cur = NULL, *m;
	const char		*text, *curprov = NULL;
	char			 state[65];
	int			 rc = -1, found, force;

	memset(&in, 0, sizeof(in));
	memset(&c, 0, sizeof(c));
	memset(&a, 0, sizeof(a));
	memset(&cf, 0, sizeof(cf));
	if (connect_on(req, e) == -1 ||
	    acl_require(req, ACL_RES_OPERATOR, ACL_ACCESS_WRITE, NULL, e) == -1)
		return -1;
	if (req_decode_body(req, cfg_fields, "structs.CAConfiguration", &in,
	    NULL, e) == -1)
		return perr_prefix(e, "Request decode failed: ");
	if (in.config != NULL &&
	    !json_object_is_type(in.config, json_type_object))
		return perr_set(e, 400, "Request decode failed: json: cannot "
		    "unmarshal %s into Go struct field CAConfiguration.Config "
		    "of type map[string]interface {}", json_type_go(in.config));
	if (in.state != NULL && (!json_object_is_type(in.state,
	    json_type_object) || json_object_object_length(in.state) > 0))
		return perr_set(e, 400, "Provider State is read-only. It must "
		    "be omitted or identical to the current value");
	force = in.force || in.force_snake;
	if (in.provider == NULL)
		in.provider = "";
	m = in.config != NULL ? in.config : NULL;

	/* No-op when Provider and Config equal the stored ones. */
	if (ca_db_config_get(req->store, &cf, &found, e) == -1)
		goto out;
	if (found) {
		curprov = cf.provider;
		cur = json_tokener_parse(cf.config);
	}
	if (curprov != NULL && strcmp(curprov, in.provider) == 0 &&
	    json_object_equal(cur, m != NULL ? m : NULL)) {
		rc = 0;
		goto out;
	}
	if (strcmp(in.provider, "consul") != 0) {
		perr_set(e, 500, "could not initialize provider: unknown CA "
		    "provider \"%s\"", in.provider);
		goto out;
	}
	if (cfg_parse(m, &c, e) == -1 || cfg_validate(&c, e) == -1) {
		perr_prefix(e, "error configuring provider: ");
		goto out;
	}
	cfg_state_key(&c, state);
	if (ca_db_active_get(req->store, &a, &found, e) == -1)
		goto out;
	if (m == NULL)
		m = json_object_new_object();
	else
		json_object_get(m);
	text = json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (found && strcmp(a.state, state) == 0) {
		/* TTLs, CSR limits, RotationPeriod...: the same root. */
		if (store_begin(req->store, e) == -1)
			goto outm;
		if (ca_db_config_put(req->store, "consul", text, force,
		    e) == -1) {
			store_rollback(req->store);
			goto outm;
		}
		rc = store_commit(req->store, e);
		goto outm;
	}
	if (new_key(&c, &key, e) == -1)
		goto outm;
	if (store_begin(req->store, e) == -1)
		goto outm;
	/* Re-read under the write lock: another worker may have rotated. */
	ca_db_active_clear(&a);
	if (ca_db_active_get(req->store, &a, &found, e) == -1 ||
	    ca_db_config_put(req->store, "consul", text, force, e) == -1 ||
	    install_root(req->store, req->worker->cluster_id, &c, state, key,
	    c.root_cert, found ? &a : NULL, force, e) == -1) {
		store_rollback(req->store);
		goto outm;
	}
	if ((rc = store_commit(req->store, e)) == 0)
		log_info("connect: CA root rotated (%s%s)", c.root_cert ?
		    "supplied root" : c.key_type, force ?
		    ", without cross-signing" : "");
outm:
	json_object_put(m);
out:
	ca_db_active_clear(&a);
	ca_db_config_clear(&cf);
	cfg_clear(&c);
	x509_key_free(key);
	json_object_put(cur);
	return rc;
}

struct sign_in {
	const char	*csr;
};

static const struct jfield sign_fields[] = {
	{ "CSR", J_STRING, offsetof(struct sign_in, csr), "string" },
	{ NULL, 0, 0, NULL }
};

/*
 * POST /v1/connect/ca/sign   (extension; ACL service:write on the
 * CSR's service)
 * Body: a PEM CSR, raw or as {"CSR": "<pem>"}.  The CSR's one URI SAN
 * must be a service identity of our trust domain and datacenter.
 * Reply: the IssuedCert without PrivateKeyPEM.  Errors: 400 for a bad
 * body or CSR (texts as Consul's signer words them), 403, 429, 500.
 */
int
ca_sign(struct req *req, struct perr *e)
{
	struct sign_in		 in;
	struct x509_csr		*csr = NULL;
	const struct spiffe_id	*id;
	struct ca_snap		*s = NULL;
	struct ca_issued	 is;
	const char		*p;
	int			 rc = -1;

	memset(&in, 0, sizeof(in));
	memset(&is, 0, sizeof(is));
	if (connect_on(req, e) == -1)
		return -1;
	for (p = req->body; isspace((unsigned char)*p); p++)
		;
	if (strncmp(p, "-----BEGIN", 10) == 0)
		in.csr = req->body;
	else if (req_decode_body(req, sign_fields, "structs.CASignRequest",
	    &in, NULL, e) == -1)
		return perr_prefix(e, "Request decode failed: ");
	if (in.csr == NULL || *in.csr == '\0')
		return perr_set(e, 400, "CSR must be specified");
	if (x509_csr_parse(in.csr, &csr, e) == -1)
		return -1;
	id = x509_csr_id(csr);
	if (id->kind != SPIFFE_SERVICE) {
		perr_set(e, 400, "SPIFFE ID in CSR must be a service ID, not "
		    "a %s ID", spiffe_kind_name(id->kind));
		goto out;
	}
	if (acl_require(req, ACL_RES_SERVICE, ACL_ACCESS_WRITE, id->service,
	    e) == -1)
		goto out;
	if (ca_snap_get(req, &s, e) == -1)
		goto out;
	if (s->active == NULL) {
		perr_set(e, 500, TXT_NOCA);
		goto out;
	}
	if (x509_csr_check(csr, s->trust_domain, req->worker->conf->datacenter,
	    e) == -1 ||
	    ca_issue(req, s, csr, id->service, &is, e) == -1)
		goto out;
	req->index = is.index;
	req->reply = ca_leaf_json(&is, NULL, id->service, x509_csr_uri(csr));
	rc = 0;
out:
	ca_issued_clear(&is);
	ca_snap_put(s);
	x509_csr_free(csr);
	return rc;
}

struct revoke_in {
	struct json_object	*serials;
	const char		*service;
};

static const struct jfield revoke_fields[] = {
	{ "SerialNumbers", J_ARRAY, offsetof(struct revoke_in, serials),
	    "[]string" },
	{ "Service", J_STRING, offsetof(struct revoke_in, service), "string" },
	{ NULL, 0, 0, NULL }
};

/*
 * PUT /v1/connect/ca/revoke   (extension; ACL operator:write)
 * Body: {"SerialNumbers": ["0a:1b", ...]} or {"Service": "web"} (every
 * unexpired leaf of that service).  Marks the leaves revoked in one
 * write (the leaf endpoint then issues fresh ones; authorize refuses
 * them; the CRL lists them).  Reply: {"SerialNumbers": [revoked]}.
 * 400 for a bad body or serial, 404 for a serial we never issued.
 */
int
ca_revoke(struct req *req, struct perr *e)
{
	struct revoke_in	 in;
	struct json_object	*out, *v;
	uint64_t		 serial, *revoked = NULL;
	char			 hex[64];
	time_t			 now = time(NULL);
	size_t			 i, n, nrevoked;
	int			 found;

	memset(&in, 0, sizeof(in));
	if (connect_on(req, e) == -1 ||
	    acl_require(req, ACL_RES_OPERATOR, ACL_ACCESS_WRITE, NULL, e) == -1)
		return -1;
	if (req_decode_body(req, revoke_fields, "structs.CARevokeRequest",
	    &in, NULL, e) == -1)
		return perr_prefix(e, "Request decode failed: ");
	n = in.serials != NULL ? json_object_array_length(in.serials) : 0;
	if ((n > 0) == (in.service != NULL && *in.service != '\0'))
		return perr_set(e, 400, "Exactly one of SerialNumbers or "
		    "Service must be given");
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(in.serials, i);
		if (!json_object_is_type(v, json_type_string) ||
		    ca_serial_parse(json_object_get_string(v), &serial) == -1 ||
		    serial == 0)
			return perr_set(e, 400, "Invalid serial number: %s",
			    json_object_to_json_string(v));
	}
	out = json_object_new_array();
	if (store_begin(req->store, e) == -1) {
		json_object_put(out);
		return -1;
	}
	if (n == 0) {
		if (ca_db_leaf_revoke_service(req->store, in.service, now,
		    &revoked, &nrevoked, e) == -1)
			goto abort;
		for (i = 0; i < nrevoked; i++) {
			x509_serial_hex(revoked[i], hex, sizeof(hex));
			json_object_array_add(out, json_object_new_string(hex));
		}
	}
	for (i = 0; i < n; i++) {
		(void)ca_serial_parse(json_object_get_string(
		    json_object_array_get_idx(in.serials, i)), &serial);
		x509_serial_hex(serial, hex, sizeof(hex));
		if (ca_db_leaf_revoke(req->store, serial, now, &found,
		    e) == -1)
			goto abort;
		if (!found) {
			perr_set(e, 404, "Certificate not found: %s", hex);
			goto abort;
		}
		json_object_array_add(out, json_object_new_string(hex));
	}
	free(revoked);
	store_touch(req->store, TBL_CA_LEAVES);
	store_touch_id(req->store, TBL_CA_REVOKED,
	    json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
	if (store_commit(req->store, e) == -1) {
		json_object_put(out);
		return -1;
	}
	log_info("connect: revoked %zu certificate(s)%s%s",
	    json_object_array_length(out), n == 0 ? " of service " : "",
	    n == 0 ? in.service : "");
	req->reply = json_object_new_object();
	json_object_object_add(req->reply, "SerialNumbers", out);
	return 0;
abort:
	store_rollback(req->store);
	free(revoked);
	json_object_put(out);
	return -1;
}

/*
 * GET /v1/connect/ca/crl[?pem=true]   (extension; no ACL, like roots)
 * Reply: a v2 CRL signed by the active root listing every revoked,
 * unexpired leaf; DER (application/pkix-crl) or PEM
 * (application/x-pem-file).  Next update in an hour.
 */
int
ca_crl(struct req *req, struct perr *e)
{
	struct ca_snap		*s = NULL;
	struct rev_snap		*r = NULL;
	struct x509_revoked	*rv;
	unsigned char		*der = NULL;
	char			*pem = NULL;
	size_t			 derlen = 0, i;
	int			 aspem = 0, rc = -1;

	if (connect_on(req, e) == -1 ||
	    req_query_bool(req, "pem", &aspem, e) == -1)
		return -1;
	if (ca_snap_get(req, &s, e) == -1)
		return -1;
	if (s->active == NULL || s->signer == NULL) {
		perr_set(e, 500, TXT_NOCA);
		goto out;
	}
	if (rev_get(req, &r, e) == -1)
		goto out;
	rv = arena_alloc(req->arena, (r->n + 1) * sizeof(*rv));
	for (i = 0; i < r->n; i++) {
		rv[i].serial = r->serial[i];
		rv[i].when = r->when[i];
	}
	rc = x509_crl_create(s->signer, rv, r->n,
	    store_index_max(TBIT(TBL_CA_LEAVES) | TBIT(TBL_CA_ROOTS)),
	    time(NULL), CRL_TTL, aspem ? &pem : NULL, aspem ? NULL : &der,
	    aspem ? NULL : &derlen, e);
	if (rc == -1)
		goto out;
	if (aspem) {
		req->raw = arena_strdup(req->arena, pem);
		req->rawlen = strlen(pem);
		req->content_type = "application/x-pem-file";
	} else {
		req->raw = arena_alloc(req->arena, derlen + 1);
		memcpy(req->raw, der, derlen);
		req->rawlen = derlen;
		req->content_type = "application/pkix-crl";
	}
	req->index = r->hdr.index > s->hdr.index ? r->hdr.index : s->hdr.index;
out:
	free(pem);
	free(der);
	rev_put(r);
	ca_snap_put(s);
	return rc;
}
