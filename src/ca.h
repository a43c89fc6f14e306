/*
 * ca.h -- the built-in Connect CA (provider "consul"): bootstrap,
 * roots, configuration and rotation, pruning, signing, revocation and
 * the CRL, plus the per-worker snapshot of roots and revocations that
 * the leaf and authorize endpoints read.
 */
#ifndef CA_H
#define CA_H

#include <stdint.h>
#include <time.h>

#include "portcullis.h"
#include "snap.h"

struct conf;
struct req;
struct store;
struct x509_ca;
struct x509_csr;

/* The Config map of the CA configuration, defaults applied. */
struct ca_cfg {
	int64_t		 leaf_ttl;	/* ns */
	int64_t		 inter_ttl;	/* ns */
	int64_t		 root_ttl;	/* ns */
	char		 key_type[16];	/* "ec", "rsa" */
	int64_t		 key_bits;
	char		*private_key;	/* PEM or NULL (secret) */
	char		*root_cert;	/* PEM or NULL */
	double		 csr_rate;	/* CSRMaxPerSecond; 0: off */
	int64_t		 csr_concurrent; /* CSRMaxConcurrent */
	int		 skip_validate;
};

/* One CARoot as the snapshot holds it (never its private key). */
struct ca_root {
	char		*id;
	char		*name;
	char		*signing_key_id;
	char		*etd;		/* ExternalTrustDomain */
	char		*root_cert;
	char		*inter;		/* IntermediateCerts, JSON, or NULL */
	char		*key_type;
	int		 key_bits;
	int		 active;
	uint64_t	 serial;
	time_t		 not_before, not_after, rotated_out_at;
	uint64_t	 create_index, modify_index;
};

/*
 * An immutable, reference-counted view of the CA (roots, config, the
 * active signer), replaced when the roots or config index moves.
 */
struct ca_snap {
	struct snap	 hdr;		/* first; index: max(roots, config) */
	char		*trust_domain;
	char		*cluster_id;
	size_t		 nroots;
	struct ca_root	*roots;		/* sorted by ID */
	const struct ca_root *active;	/* NULL before bootstrap */
	char		*inter_pem;	/* active root's intermediates, "" */
	struct ca_cfg	 cfg;
	char		*json;		/* rendered roots reply */
	size_t		 jsonlen;
	time_t		 prune_at;	/* 0: nothing to prune */
	struct x509_ca	*signer;	/* the active CA, NULL if unloadable;
					   thread-safe (its own lock) */
};

/* A leaf just signed (ca_issue()). */
struct ca_issued {
	uint64_t	 serial;
	char		 serial_hex[64];
	char		*cert_pem;	/* leaf + intermediates (free()) */
	time_t		 not_before, not_after;
	uint64_t	 index;		/* the issuing write's index */
};

int	 ca_bootstrap(struct store *, const struct conf *, struct perr *)
	    PC_MUSTCHECK;
int64_t	 ca_worker_gone(int);
void	 ca_worker_start(int);
int	 ca_snap_get(struct req *, struct ca_snap **, struct perr *)
	    PC_MUSTCHECK;
void	 ca_snap_put(struct ca_snap *);
int	 ca_revoked(struct req *, uint64_t, time_t *, struct perr *)
	    PC_MUSTCHECK;
int	 ca_serial_parse(const char *, uint64_t *);
int	 ca_issue(struct req *, struct ca_snap *, const struct x509_csr *,
	    const char *, struct ca_issued *, struct perr *)
	    PC_MUSTCHECK;
void	 ca_issued_clear(struct ca_issued *);
struct json_object *ca_leaf_json(const struct ca_issued *, const char *,
	    const char *, const char *);

int	 ca_roots(struct req *, struct perr *);
int	 ca_agent_roots(struct req *, struct perr *);
int	 ca_config_get(struct req *, struct perr *);
int	 ca_config_put(struct req *, struct perr *);
int	 ca_sign(struct req *, struct perr *);
int	 ca_revoke(struct req *, struct perr *);
int	 ca_crl(struct req *, struct perr *);

#endif /* CA_H */
