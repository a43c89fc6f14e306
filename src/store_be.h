/*
 * store_be.h -- between the generic store (store.c) and its backend
 * (store_sqlite.c).  Nothing else includes this.
 */
#ifndef STORE_BE_H
#define STORE_BE_H

#include <stdint.h>

#include "store.h"

/* Backend: process-wide driver set-up, before its first use. */
void	store_be_init(void);

/*
 * Generic: after a commit, raise the shared index of every table
 * touched[t] marks (and the global one) to idx, and wake every
 * blocking query.
 */
void	store_publish(const int *, uint64_t);

#endif /* STORE_BE_H */
