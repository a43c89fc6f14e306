/*
 * spiffe.h -- SPIFFE identities used by Connect certificates: parsing
 * (Consul's ParseCertURI), formatting and trust-domain helpers.
 * Documentation lives at the definitions in spiffe.c.
 */
#ifndef SPIFFE_H
#define SPIFFE_H

#include "portcullis.h"

enum spiffe_kind {
	SPIFFE_SERVICE,		/* /[ap/<p>/]ns/<ns>/dc/<dc>/svc/<service> */
	SPIFFE_AGENT,		/* /[ap/<p>/]agent/client/dc/<dc>/id/<node> */
	SPIFFE_MESH_GATEWAY,	/* /[ap/<p>/]gateway/mesh/dc/<dc> */
	SPIFFE_SERVER,		/* /agent/server/dc/<dc> */
	SPIFFE_SIGNING,		/* no path: the CA itself */
	SPIFFE__MAX
};

/*
 * A parsed SPIFFE ID.  Every string is NUL-terminated, percent-decoded
 * and owned by the struct (spiffe_free()).  Fields that the kind does
 * not carry are NULL.
 */
struct spiffe_id {
	enum spiffe_kind	 kind;
	char			*host;		/* trust domain, as written */
	char			*partition;	/* "default" when absent */
	char			*ns;		/* SPIFFE_SERVICE */
	char			*dc;		/* all but SPIFFE_SIGNING */
	char			*service;	/* SPIFFE_SERVICE */
	char			*node;		/* SPIFFE_AGENT */
	char			*cluster_id;	/* SPIFFE_SIGNING: host to 1st dot */
	char			*domain;	/* SPIFFE_SIGNING: host after it */
};

int	 spiffe_parse(const char *, struct spiffe_id **, struct perr *)
	    PC_MUSTCHECK;
struct spiffe_id *spiffe_dup(const struct spiffe_id *);
void	 spiffe_free(struct spiffe_id *);
const char *spiffe_kind_name(enum spiffe_kind);

char	*spiffe_format(const struct spiffe_id *);
char	*spiffe_service_uri(const char *, const char *, const char *,
	    const char *, const char *);
char	*spiffe_signing_uri(const char *);
char	*spiffe_trust_domain(const char *);
int	 spiffe_can_sign(const char *, const struct spiffe_id *);

#endif /* SPIFFE_H */
