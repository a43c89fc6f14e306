/*
 * fuzz_bexpr.c -- fuzz harness for bexpr.c.  The input is an expression,
 * optionally followed by a newline and a JSON document; the expression
 * is compiled against a schema of every field type and without one, and
 * each compiled filter is matched against the document.  Built with
 * standalone.c it replays corpus/bexpr/; with -fsanitize=fuzzer it fuzzes.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "bexpr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const struct bexpr_field sub_fields[] = {
	{ "Name",	BF_STRING,	NULL },
	{ "Tags",	BF_LIST_STRING,	NULL },
	{ NULL,		BF_STRING,	NULL }
};

static const struct bexpr_field fields[] = {
	{ "Name",	BF_STRING,	NULL },
	{ "Port",	BF_INT,		NULL },
	{ "Index",	BF_UINT,	NULL },
	{ "On",		BF_BOOL,	NULL },
	{ "Meta",	BF_MAP_STRING,	NULL },
	{ "Any",	BF_MAP_ANY,	NULL },
	{ "Lists",	BF_MAP_LIST,	NULL },
	{ "Tags",	BF_LIST_STRING,	NULL },
	{ "Items",	BF_LIST_STRUCT,	sub_fields },
	{ "Sub",	BF_STRUCT,	sub_fields },
	{ NULL,		BF_STRING,	NULL }
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct bexpr_field	*schemas[2] = { fields, NULL };
	struct json_object		*doc = NULL;
	struct json_tokener		*tok;
	struct bexpr			*bx;
	struct perr			 e;
	const uint8_t			*nl;
	size_t				 len = size, i;

	if ((nl = memchr(data, '\n', size)) != NULL &&
	    size - (size_t)(nl - data) > 1 && nl[1] == '{') {
		len = (size_t)(nl - data);
		if ((tok = json_tokener_new()) != NULL) {
			doc = json_tokener_parse_ex(tok, (const char *)nl + 1,
			    (int)(size - len - 1));
			json_tokener_free(tok);
		}
	}
	for (i = 0; i < 2; i++) {
		bx = NULL;
		if (bexpr_compilen((const char *)data, len, schemas[i], &bx,
		    &e) == 0) {
			(void)bexpr_match(bx, doc);
			bexpr_free(bx);
		} else if (e.status != 500 || e.msg[0] == '\0')
			__builtin_trap();
	}
	json_object_put(doc);
	return 0;
}
