/*
 * json.h -- decoding request bodies through field tables, the way Go's
 * encoding/json with DisallowUnknownFields decodes Consul's structs.
 */
#ifndef JSON_H
#define JSON_H

#include <stddef.h>
#include <stdint.h>

#include "portcullis.h"

struct json_object;

enum jtype {
	J_STRING,	/* const char * (arena) */
	J_INT,		/* int64_t */
	J_BOOL,		/* int */
	J_MAP_STRING,	/* struct json_object * (object of strings) */
	J_ARRAY,	/* struct json_object * (array) */
	J_ANY,		/* struct json_object * */
	J_IGNORE	/* accepted, not stored (read-only fields) */
};

struct jfield {
	const char	*name;		/* Consul's JSON name */
	enum jtype	 type;
	size_t		 off;		/* offsetof in the target struct */
	const char	*gotype;	/* Go type for error texts */
};

int	json_decode(struct arena *, struct json_object *,
	    const struct jfield *, const char *, void *, uint64_t *,
	    struct perr *) PC_MUSTCHECK;
int	json_parse_text(const char *, size_t, struct json_object **,
	    struct perr *) PC_MUSTCHECK;
int	json_double_int64(double, int64_t *) PC_MUSTCHECK;
int	json_get_int64(struct json_object *, int64_t *) PC_MUSTCHECK;
struct json_object *json_map_sorted(struct json_object *);
const char	*json_number_text(struct json_object *);
size_t	json_utf8_seq(const char *, size_t);
const char	*json_type_go(struct json_object *);
char		*json_render(struct json_object *, int, size_t *);

#endif /* JSON_H */
