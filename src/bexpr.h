/*
 * bexpr.h -- Consul's filter expression language (go-bexpr), used by
 * every ?filter= list endpoint and by ACL binding-rule selectors.
 * Documentation lives in bexpr.c.
 */
#ifndef BEXPR_H
#define BEXPR_H

#include <stddef.h>

#include "portcullis.h"

struct json_object;

#define BEXPR_MAXLEN	65536	/* bytes of expression text */
#define BEXPR_MAXDEPTH	64	/* nested parentheses */

/*
 * Field types of a schema, after the Go types go-bexpr reflects on.
 * BF_UINT (uint64: CreateIndex, ModifyIndex) and BF_MAP_LIST
 * (map[string][]string: binding-rule "list") were added to the
 * original set; BF_MAP_ANY takes either kind of value.
 */
enum bexpr_ftype {
	BF_STRING,
	BF_INT,
	BF_BOOL,
	BF_MAP_STRING,		/* map[string]string */
	BF_MAP_ANY,		/* map of string -> string or list of strings */
	BF_LIST_STRING,
	BF_LIST_STRUCT,		/* list of objects, fields in sub */
	BF_STRUCT,		/* nested object, fields in sub */
	BF_UINT,
	BF_MAP_LIST		/* map[string][]string */
};

struct bexpr_field {
	const char			*name;
	enum bexpr_ftype		 type;
	const struct bexpr_field	*sub;	/* BF_STRUCT, BF_LIST_STRUCT;
						   ends with name == NULL */
};

struct bexpr;

int	bexpr_compile(const char *, const struct bexpr_field *,
	    struct bexpr **, struct perr *) PC_MUSTCHECK;
int	bexpr_compilen(const char *, size_t, const struct bexpr_field *,
	    struct bexpr **, struct perr *) PC_MUSTCHECK;
int	bexpr_compile_selector(const char *, const struct bexpr_field *,
	    struct bexpr **, struct perr *) PC_MUSTCHECK;
int	bexpr_match(const struct bexpr *, struct json_object *);
void	bexpr_free(struct bexpr *);

#endif /* BEXPR_H */
