/*
 * fuzz_json.c -- request bodies through json_parse_text() and the
 * field-table decoder used by every handler.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "json.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct target {
	const char		*s;
	int64_t			 i;
	int			 b;
	struct json_object	*m, *a, *any;
};

static const struct jfield fields[] = {
	{ "Name", J_STRING, offsetof(struct target, s), "string" },
	{ "Count", J_INT, offsetof(struct target, i), "int" },
	{ "Flag", J_BOOL, offsetof(struct target, b), "bool" },
	{ "Meta", J_MAP_STRING, offsetof(struct target, m),
	    "map[string]string" },
	{ "List", J_ARRAY, offsetof(struct target, a), "[]string" },
	{ "Any", J_ANY, offsetof(struct target, any), "interface{}" },
	{ "Ignored", J_IGNORE, 0, "uint64" },
	{ NULL, 0, 0, NULL }
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct arena		*a;
	struct json_object	*v = NULL;
	struct target		 t;
	struct perr		 e;
	char			*buf;
	int			 rc;

	buf = malloc(len + 1);
	memcpy(buf, data, len);
	buf[len] = '\0';
	memset(&t, 0, sizeof(t));
	a = arena_new();
	perr_clear(&e);
	rc = json_parse_text(buf, len, &v, &e);
	if (rc == 0)
		rc = json_decode(a, v, fields, "fuzz.Target", &t, NULL, &e);
	if (rc == -1 && (e.status != 400 || e.msg[0] == '\0'))
		abort();
	json_object_put(v);
	arena_free(a);
	free(buf);
	return 0;
}
