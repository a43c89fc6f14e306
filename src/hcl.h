/*
 * hcl.h -- HCL version 1 (HashiCorp Configuration Language) to json-c.
 * Used for the server's configuration file and for ACL policy rules.
 */
#ifndef HCL_H
#define HCL_H

#include <stddef.h>

#include "portcullis.h"

struct json_object;

/* Deepest nesting of the resulting JSON, the top-level object included. */
#define HCL_MAX_DEPTH	100

/* hcl_parse_flags(): repeated blocks become a list instead of merging. */
#define HCL_REPEAT_LIST	0x01

int	hcl_parse(const char *, size_t, struct json_object **, struct perr *)
	    PC_MUSTCHECK;
int	hcl_parse_flags(const char *, size_t, int, struct json_object **,
	    struct perr *) PC_MUSTCHECK;

#endif /* HCL_H */
