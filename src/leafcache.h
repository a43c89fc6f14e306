/*
 * leafcache.h -- the agent leaf cache, in memory shared by every
 * worker (leafcache.c).
 */
#ifndef LEAFCACHE_H
#define LEAFCACHE_H

#include <stdint.h>
#include <time.h>

#define LEAFCACHE_SKID_MAX	200	/* SigningKeyID, colon hex, with NUL */

/* One cached leaf; what leafcache_get() fills and leafcache_put() takes. */
struct leafcache_ent {
	uint64_t	 serial;
	uint64_t	 index;		/* Create/ModifyIndex of the reply */
	time_t		 not_before, not_after;
	time_t		 renew;		/* reissue from then on (60-90 %) */
	char		 skid[LEAFCACHE_SKID_MAX]; /* root it was signed under */
	const char	*uri;		/* ServiceURI */
	const char	*cert_pem;	/* CertPEM: leaf + intermediates */
	const char	*key_pem;	/* PrivateKeyPEM (secret) */
	char		*buf;		/* get: holds the three strings */
	size_t		 buflen;
};

void	 leafcache_init(void);
int	 leafcache_get(const char *, struct leafcache_ent *);
int	 leafcache_put(const char *, const struct leafcache_ent *);
void	 leafcache_ent_clear(struct leafcache_ent *);
size_t	 leafcache_count(void);
int	 leafcache_lock(void);
void	 leafcache_unlock(void);

#endif /* LEAFCACHE_H */
