/*
 * fuzz_hcl.c -- libFuzzer target for hcl_parse().  Any input must give
 * either -1 with a 400 "At LINE:COL: ..." error and no tree, or an
 * object whose JSON serialisation hcl_parse() reads back as the same
 * tree (JSON equivalence).  Anything else aborts, so the fuzzer reports
 * it.  Seeds: tests/fuzz/corpus/hcl/.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "hcl.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object	*o = NULL, *back = NULL;
	struct perr		 e;
	const char		*js;

	perr_clear(&e);
	if (hcl_parse((const char *)data, size, &o, &e) == -1) {
		if (o != NULL || e.status != 400 ||
		    strncmp(e.msg, "At ", 3) != 0)
			abort();
		return 0;
	}
	if (o == NULL || !json_object_is_type(o, json_type_object))
		abort();
	js = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (hcl_parse(js, strlen(js), &back, &e) == -1 ||
	    !json_object_equal(o, back))
		abort();
	json_object_put(back);
	json_object_put(o);
	return 0;
}
