/*
 * leaf.h -- the agent leaf-certificate endpoint and its cache shared
 * by every worker.
 */
#ifndef LEAF_H
#define LEAF_H

#include "portcullis.h"

struct req;

int	leaf_get(struct req *, struct perr *);

#endif /* LEAF_H */
