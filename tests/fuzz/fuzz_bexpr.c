/*
 * fuzz_bexpr.c -- fuzz harness for bexpr.c.  The input is an expression,
 * optionally followed by a newline and a JSON document; the expression
 * is compiled against a schema of every field type and without one, and
 * each compiled filter is matched against the document.  The expression
 * is also compiled as a regexp on its own and matched against itself:
 * the match must stay within regex.c's linear step bound.  Built with
 * standalone.c it replays corpus/bexpr/; with -fsanitize=fuzzer it fuzzes.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "bexpr.h"
#include "regex.h"

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
	struct regex			*re;
	char				*why;
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

	if (regex_compile((const char *)data, len, &re, &why) == 0) {
		(void)regex_match(re, (const char *)data, size);
		if (regex_steps(re) > 2 * (uint64_t)regex_size(re) *
		    (size + 1))
			__builtin_trap();
		regex_free(re);
	} else if (why == NULL || strncmp(why, "error parsing regexp: ",
	    22) != 0)
		__builtin_trap();
	free(why);
	return 0;
}
