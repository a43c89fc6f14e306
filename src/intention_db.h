/*
 * intention_db.h -- the store functions of the intentions API
 * (intention_db.c): the per-destination config entries, the intention
 * rows and the snapshot loader.
 */
#ifndef INTENTION_DB_H
#define INTENTION_DB_H

#include <stddef.h>
#include <stdint.h>

#include "portcullis.h"

struct ixn;
struct req;
struct snap;
struct store;

/* One destination's config entry (intention_db_entry_load()). */
struct ixn_entry {
	int		 exists;
	char		*meta;		/* arena, or NULL */
	size_t		 nsources;
	size_t		 nonlegacy;
	size_t		 with_legacy_meta;
};

/* One intention row to write (intention_db_row_upsert()). */
struct ixn_row {
	const char	*dest, *source, *peer, *action, *permissions;
	const char	*description, *source_type, *legacy_id;
	const char	*legacy_meta, *created_at, *updated_at;
};

int	intention_db_snap_load(struct store *, void *, uint64_t,
	    const struct snap *, struct snap **, struct perr *) PC_MUSTCHECK;
void	intention_db_ixn_clear(struct ixn *);

int	intention_db_entry_load(struct req *, const char *, struct ixn_entry *,
	    struct perr *) PC_MUSTCHECK;
int	intention_db_entry_touch(struct req *, const char *, const char *,
	    struct perr *) PC_MUSTCHECK;
int	intention_db_entry_after_delete(struct req *, const char *,
	    struct perr *) PC_MUSTCHECK;
int	intention_db_clear_legacy(struct req *, const char *, struct perr *)
	    PC_MUSTCHECK;
int	intention_db_row_upsert(struct req *, const struct ixn_row *,
	    struct perr *) PC_MUSTCHECK;
int	intention_db_row_delete(struct req *, const char *, const char *,
	    const char *, int *, struct perr *) PC_MUSTCHECK;
int	intention_db_row_get(struct req *, const char *, const char *,
	    const char *, struct ixn *, int *, struct perr *) PC_MUSTCHECK;
int	intention_db_put_read(struct req *, const char *, const char *,
	    size_t *, struct ixn_entry *, struct perr *) PC_MUSTCHECK;

#endif /* INTENTION_DB_H */
