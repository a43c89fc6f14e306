/*
 * intention.h -- Connect intentions: the API family and the decision
 * used by check (and by authorize).
 */
#ifndef INTENTION_H
#define INTENTION_H

#include <stdint.h>

#include "portcullis.h"
#include "snap.h"

struct conf;
struct req;
struct json_object;

/* One intention as the per-worker snapshot holds it. */
struct ixn {
	char		*id;		/* legacy ID or NULL */
	char		*description;
	char		*source_name;
	char		*source_peer;
	char		*dest_name;
	char		*source_type;
	char		*action;	/* NULL for L7 */
	char		*permissions;	/* JSON text or NULL */
	char		*meta;		/* JSON text or NULL */
	char		*created_at;	/* legacy only */
	char		*updated_at;
	int		 precedence;
	uint64_t	 create_index;
	uint64_t	 modify_index;
	int		 refs;		/* snapshots holding it */
};

/*
 * An immutable snapshot (snap.h): every intention in evaluation order,
 * and the same intentions by name (ixn_snap_find()).
 */
struct ixn_snap {
	struct snap	 hdr;		/* first; hdr.index: intentions table */
	size_t		 n;
	struct ixn	**v;		/* evaluation order; shared with
					   the snapshots patched from it */
	struct ixn	**by_name;	/* v sorted by destination, source, peer */
};

int	ixn_snap_get(struct req *, struct ixn_snap **, struct perr *)
	    PC_MUSTCHECK;
void	ixn_snap_put(struct ixn_snap *);
void	ixn_snap_index(struct ixn_snap *);
int	ixn_by_name_cmp(const void *, const void *);
const struct ixn *ixn_snap_find(const struct ixn_snap *, const char *,
	    const char *, const char *);
int	intention_precedence(const char *, const char *);
const struct ixn *intention_decide(const struct ixn_snap *, const char *,
	    const char *);
struct json_object *intention_json(const struct ixn *);

int	intention_list(struct req *, struct perr *);
int	intention_create(struct req *, struct perr *);
int	intention_read_id(struct req *, struct perr *);
int	intention_update_id(struct req *, struct perr *);
int	intention_delete_id(struct req *, struct perr *);
int	intention_read_exact(struct req *, struct perr *);
int	intention_put_exact(struct req *, struct perr *);
int	intention_delete_exact(struct req *, struct perr *);
int	intention_check(struct req *, struct perr *);
int	intention_match(struct req *, struct perr *);

#endif /* INTENTION_H */
