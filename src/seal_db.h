/*
 * seal_db.h -- the seal over the store (seal_db.c): start-up check and
 * migration, rotation, and the families' sealing writes.
 */
#ifndef SEAL_DB_H
#define SEAL_DB_H

#include "portcullis.h"

struct conf;
struct store;

int	seal_db_boot(struct store *, const struct conf *, struct perr *)
	    PC_MUSTCHECK;
int	seal_db_rotate(struct store *, const struct conf *, char **,
	    struct perr *) PC_MUSTCHECK;
int	seal_db_sync(struct store *, struct perr *) PC_MUSTCHECK;
int	seal_db_close(struct store *, const char *, const char *,
	    const char *, const char *, char **, struct perr *) PC_MUSTCHECK;
int	seal_db_json(struct store *, const char *, const char *,
	    const char *, const char *const *, char **, struct perr *)
	    PC_MUSTCHECK;
int	seal_db_json_open(const char *, const char *, const char *,
	    const char *const *, char **, struct perr *) PC_MUSTCHECK;

#endif /* SEAL_DB_H */
