/*
 * json.c -- request-body decoding driven by field tables.
 *
 * Mirrors Go's encoding/json as Consul configures it: one JSON value
 * per body (an empty body is "EOF"), keys matched case-insensitively
 * to the struct's fields, unknown keys rejected ("json: unknown field
 * \"Foo\""), type mismatches worded as Go words them, null leaving the
 * field unset.  Error texts carry no prefix: each endpoint adds its own
 * ("Request decode failed: ", "Failed to decode request body: ").
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <strings.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "http.h"
#include "json.h"

/* Go's name for the JSON kind of v ("string", "number", "object"...). */
const char *
json_type_go(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_boolean:
		return "bool";
	case json_type_int:
	case json_type_double:
		return "number";
	case json_type_string:
		return "string";
	case json_type_array:
		return "array";
	case json_type_object:
		return "object";
	default:
		return "null";
	}
}

/*
 * Parse text as one JSON value.  Errors (status 400) are worded like
 * Go's: "EOF", "unexpected EOF", "invalid character 'x' looking for
 * beginning of value".  *out is a new reference.
 */
int
json_parse_text(const char *text, size_t len, struct json_object **out,
    struct perr *e)
{
	struct json_tokener	*tok;
	struct json_object	*v;
	enum json_tokener_error	 err;
	size_t			 i, off;

	for (i = 0; i < len && isspace((unsigned char)text[i]); i++)
		;
	if (i == len)
		return perr_set(e, 400, "EOF");
	tok = json_tokener_new_ex(64);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	v = json_tokener_parse_ex(tok, text, (int)len);
	err = json_tokener_get_error(tok);
	off = (size_t)json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (v == NULL && err == json_tokener_continue)
		return perr_set(e, 400, "unexpected EOF");
	if (v == NULL) {
		if (err == json_tokener_error_depth)
			return perr_set(e, 400, "exceeded max depth");
		if (off >= len)
			return perr_set(e, 400, "unexpected EOF");
		if (isprint((unsigned char)text[off]))
			return perr_set(e, 400, "invalid character '%c' "
			    "looking for beginning of value", text[off]);
		return perr_set(e, 400, "invalid character '\\x%02x' "
		    "looking for beginning of value",
		    (unsigned char)text[off]);
	}
	/* Go's Decoder reads one value and ignores what follows it. */
	*out = v;
	return 0;
}

/*
 * Decode obj into out via fields.  seen (may be NULL) gets bit i set
 * for each fields[i] present and non-null.  Strings are copied into
 * the request arena; json_object fields borrow from obj, which the
 * caller keeps alive (json_decode_body keeps it in req->json).
 */
int
json_decode_object(struct req *req, struct json_object *obj,
    const struct jfield *fields, const char *gostruct, void *out,
    uint64_t *seen, struct perr *e)
{
	const struct jfield	*f;
	char			*base = out;
	size_t			 i;
	int64_t			 iv;
	double			 dv;

	if (seen != NULL)
		*seen = 0;
	if (!json_object_is_type(obj, json_type_object))
		return perr_set(e, 400, "json: cannot unmarshal %s into Go "
		    "value of type %s", json_type_go(obj), gostruct);
	json_object_object_foreach(obj, key, val) {
		for (i = 0, f = fields; f->name != NULL; f++, i++)
			if (strcasecmp(f->name, key) == 0)
				break;
		if (f->name == NULL)
			return perr_set(e, 400, "json: unknown field \"%s\"",
			    key);
		if (val == NULL)	/* null: leave unset, as Go does */
			continue;
		if (seen != NULL && i < 64)
			*seen |= (uint64_t)1 << i;
		switch (f->type) {
		case J_STRING:
			if (!json_object_is_type(val, json_type_string))
				goto type;
			*(const char **)(base + f->off) = arena_strdup(
			    req->arena, json_object_get_string(val));
			break;
		case J_INT:
			if (json_object_is_type(val, json_type_double)) {
				dv = json_object_get_double(val);
				if (dv != (double)(int64_t)dv)
					return perr_set(e, 400, "json: cannot "
					    "unmarshal number %g into Go struct "
					    "field %s.%s of type %s", dv,
					    strchr(gostruct, '.') ?
					    strchr(gostruct, '.') + 1 : gostruct,
					    f->name, f->gotype);
				iv = (int64_t)dv;
			} else if (json_object_is_type(val, json_type_int))
				iv = json_object_get_int64(val);
			else
				goto type;
			*(int64_t *)(base + f->off) = iv;
			break;
		case J_BOOL:
			if (!json_object_is_type(val, json_type_boolean))
				goto type;
			*(int *)(base + f->off) = json_object_get_boolean(val);
			break;
		case J_MAP_STRING:
			if (!json_object_is_type(val, json_type_object))
				goto type;
			{
				json_object_object_foreach(val, mk, mv) {
					(void)mk;
					if (mv != NULL && !json_object_is_type(
					    mv, json_type_string))
						return perr_set(e, 400,
						    "json: cannot unmarshal %s "
						    "into Go struct field %s.%s "
						    "of type string",
						    json_type_go(mv),
						    strchr(gostruct, '.') ?
						    strchr(gostruct, '.') + 1 :
						    gostruct, f->name);
				}
			}
			*(struct json_object **)(base + f->off) = val;
			break;
		case J_ARRAY:
			if (!json_object_is_type(val, json_type_array))
				goto type;
			*(struct json_object **)(base + f->off) = val;
			break;
		case J_ANY:
			*(struct json_object **)(base + f->off) = val;
			break;
		case J_IGNORE:
			break;
		}
		continue;
type:
		return perr_set(e, 400, "json: cannot unmarshal %s into Go "
		    "struct field %s.%s of type %s", json_type_go(val),
		    strchr(gostruct, '.') ? strchr(gostruct, '.') + 1 :
		    gostruct, f->name, f->gotype);
	}
	return 0;
}

/*
 * Parse req->body and decode it into out.  The parsed tree is kept in
 * req->json (freed with the request).  Status 400 on failure.
 */
int
json_decode_body(struct req *req, const struct jfield *fields,
    const char *gostruct, void *out, uint64_t *seen, struct perr *e)
{
	if (req->json == NULL &&
	    json_parse_text(req->body, req->bodylen, &req->json, e) == -1)
		return -1;
	return json_decode_object(req, req->json, fields, gostruct, out,
	    seen, e);
}

static int
keycmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * A new object with obj's keys in sorted order, as Go renders maps.
 * Values are shared (reference counted).  NULL for NULL.
 */
struct json_object *
json_map_sorted(struct json_object *obj)
{
	struct json_object	*out;
	const char		**keys;
	size_t			 n = 0, i;

	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		return json_object_get(obj);
	keys = xcalloc((size_t)json_object_object_length(obj) + 1,
	    sizeof(*keys));
	json_object_object_foreach(obj, k, v) {
		(void)v;
		keys[n++] = k;
	}
	qsort(keys, n, sizeof(*keys), keycmp);
	out = json_object_new_object();
	for (i = 0; i < n; i++)
		json_object_object_add(out, keys[i],
		    json_object_get(json_object_object_get(obj, keys[i])));
	free(keys);
	return out;
}
