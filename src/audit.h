/*
 * audit.h -- the audit log: one hash-chained record per committed
 * change, written by store_commit() in the transaction it records; the
 * sink; retention; verify.  The endpoint is audit_api.c's.
 */
#ifndef AUDIT_H
#define AUDIT_H

#include <stdio.h>

#include "portcullis.h"

struct conf;
struct json_object;
struct store;
struct store_q;

void	audit_configure(const struct conf *);
int	audit_record(struct store *, struct perr *) PC_MUSTCHECK;
void	audit_emit(struct store *);
void	audit_discard(struct store *);
void	audit_failure(struct store *, const char *, int);
int	audit_verify(struct store *, FILE *);
struct json_object *audit_row_json(struct store_q *);

#endif /* AUDIT_H */
