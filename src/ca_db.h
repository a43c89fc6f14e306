/*
 * ca_db.h -- the Connect CA's store functions (ca_db.c): the
 * configuration row, the roots, serials, leaf records, the leaf cache
 * and revocations.
 */
#ifndef CA_DB_H
#define CA_DB_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "portcullis.h"

struct ca_issued;
struct ca_root;
struct store;
struct x509_info;

/* The active root's key, certificate, state key and intermediates. */
struct ca_db_active {
	char	*id, *cert, *key, *state, *inter;
};

/* The CA configuration row. */
struct ca_db_config {
	char		*provider;
	char		*config;	/* the Config map, JSON text */
	int		 force;		/* ForceWithoutCrossSigning */
	uint64_t	 create_index, modify_index;
};

int	 ca_db_serial_next(struct store *, uint64_t *, struct perr *)
	    PC_MUSTCHECK;
int	 ca_db_serial_take(struct store *, uint64_t *, struct perr *)
	    PC_MUSTCHECK;

int	 ca_db_active_get(struct store *, struct ca_db_active *, int *,
	    struct perr *) PC_MUSTCHECK;
void	 ca_db_active_clear(struct ca_db_active *);
int	 ca_db_config_get(struct store *, struct ca_db_config *, int *,
	    struct perr *) PC_MUSTCHECK;
void	 ca_db_config_clear(struct ca_db_config *);
int	 ca_db_config_put(struct store *, const char *, const char *, int,
	    struct perr *) PC_MUSTCHECK;

int	 ca_db_roots(struct store *, struct ca_root **, size_t *,
	    struct perr *) PC_MUSTCHECK;
void	 ca_db_roots_free(struct ca_root *, size_t);
int	 ca_db_root_retire(struct store *, time_t, struct perr *)
	    PC_MUSTCHECK;
int	 ca_db_root_insert(struct store *, const struct x509_info *,
	    const char *, const char *, const char *, const char *,
	    const char *, const char *, struct perr *) PC_MUSTCHECK;
int	 ca_db_prune(struct store *, int64_t, time_t, int *, struct perr *)
	    PC_MUSTCHECK;
int	 ca_db_roots_touch(struct store *, struct perr *) PC_MUSTCHECK;
void	 ca_db_prune_due(struct store *, int64_t);

/* One issued leaf to record (ca_db_leaf_record()). */
struct ca_leaf_rec {
	struct ca_issued	*is;		/* its index is set */
	const char		*service;
	const char		*uri;
	const char		*root_id;
	/* ca_db.c's */
	int			 done;
	int			 rc;
	struct perr		 err;
	struct ca_leaf_rec	*next;
};

int	 ca_db_leaf_record(struct store *, struct ca_leaf_rec *,
	    struct perr *) PC_MUSTCHECK;
int	 ca_db_leaf_insert(struct store *, const struct ca_issued *,
	    const char *, const char *, const char *, struct perr *)
	    PC_MUSTCHECK;
int	 ca_db_revoked(struct store *, time_t, uint64_t **, time_t **,
	    size_t *, struct perr *) PC_MUSTCHECK;
int	 ca_db_leaf_revoke(struct store *, uint64_t, time_t, int *,
	    struct perr *) PC_MUSTCHECK;
int	 ca_db_leaf_revoke_service(struct store *, const char *, time_t,
	    uint64_t **, size_t *, struct perr *) PC_MUSTCHECK;

#endif /* CA_DB_H */
