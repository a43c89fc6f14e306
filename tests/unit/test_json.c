/*
 * test_json.c -- json.c (body parsing and field-table decoding, as Go's
 * encoding/json decodes Consul's structs) and http.c's reply renderer:
 * NaN/Infinity refused, numbers beyond int64 refused for integer fields
 * with Go's text, invalid UTF-8 replaced by U+FFFD on the way in and on
 * the way out.  Cases are data: one line each.
 */
#include "config.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "json.h"
#include "req.h"
#include "tap.h"

struct target {
	int64_t			 n;
	const char		*s;
	struct json_object	*config;
};

static const struct jfield fields[] = {
	{ "N", J_INT, offsetof(struct target, n), "int64" },
	{ "S", J_STRING, offsetof(struct target, s), "string" },
	{ "Config", J_ANY, offsetof(struct target, config),
	    "map[string]interface {}" },
	{ NULL, 0, 0, NULL }
};

/* Body -> "" (decodes), the exact 400 text, or "!" (a 400, any text). */
static const struct {
	const char	*body;
	const char	*err;
} decode_cases[] = {
	{ "{\"N\": 9223372036854775807}", "" },
	{ "{\"N\": -9223372036854775808}", "" },
	{ "{\"N\": 9223372036854775808}", "json: cannot unmarshal number "
	    "9223372036854775808 into Go struct field T.N of type int64" },
	{ "{\"N\": 18446744073709551616}", "json: cannot unmarshal number "
	    "18446744073709551616 into Go struct field T.N of type int64" },
	{ "{\"N\": 123456789012345678901234567890}", "json: cannot unmarshal "
	    "number 123456789012345678901234567890 into Go struct field T.N "
	    "of type int64" },
	{ "{\"N\": -9223372036854775809}", "json: cannot unmarshal number "
	    "-9223372036854775809 into Go struct field T.N of type int64" },
	{ "{\"N\": 000000000000000000000000001}", "!" },	/* any text */
	{ "{\"N\": 1e30}", "json: cannot unmarshal number 1e30 into Go "
	    "struct field T.N of type int64" },
	{ "{\"N\": 1e400}", "json: cannot unmarshal number 1e400 into Go "
	    "struct field T.N of type int64" },
	{ "{\"N\": 1.5}", "json: cannot unmarshal number 1.5 into Go struct "
	    "field T.N of type int64" },
	{ "{\"N\": -1e-400}", "json: cannot unmarshal number -1e-400 into Go "
	    "struct field T.N of type int64" },
	{ "{\"N\": \"1\"}", "json: cannot unmarshal string into Go struct "
	    "field T.N of type int64" },
	{ "{\"Config\": {\"a\": NaN}}", "invalid character 'N' looking for "
	    "beginning of value" },
	{ "{\"Config\": {\"a\": Infinity}}", "invalid character 'I' looking "
	    "for beginning of value" },
	{ "{\"Config\": {\"a\": -Infinity}}", "invalid character 'I' in "
	    "numeric literal" },
	{ "{\"Config\": {\"a\": [1, NaN]}}", "invalid character 'N' looking "
	    "for beginning of value" },
	{ "NaN", "invalid character 'N' looking for beginning of value" },
	{ "{\"S\": \"NaN Infinity\"}", "" },
	{ "{\"Config\": {\"a\": 1e400}}", "json: cannot unmarshal number "
	    "1e400 into Go struct field T.Config of type float64" },
	{ "{\"Config\": {\"a\": {\"b\": [-1e999]}}}", "json: cannot "
	    "unmarshal number -1e999 into Go struct field T.Config of "
	    "type float64" },
	{ "{\"Config\": {\"a\": 1e308, \"b\": 18446744073709551616}}", "" },
	{ "{\"Config\": {\"a\": true, \"b\": null, \"c\": false}}", "" },
};

static void
test_decode(void)
{
	struct arena		*a;
	struct json_object	*v;
	struct target		 t;
	struct perr		 e;
	size_t			 i;
	int			 rc;

	/* The pure decoder: a body, an arena, no request. */
	for (i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
		memset(&t, 0, sizeof(t));
		a = arena_new();
		v = NULL;
		perr_clear(&e);
		rc = json_parse_text(decode_cases[i].body,
		    strlen(decode_cases[i].body), &v, &e);
		if (rc == 0)
			rc = json_decode(a, v, fields, "pkg.T", &t, NULL, &e);
		if (*decode_cases[i].err == '\0')
			ok(rc == 0, "decodes %s", decode_cases[i].body);
		else
			ok(rc == -1 && e.status == 400,
			    "refuses %s with 400", decode_cases[i].body);
		if (rc == -1 && strcmp(decode_cases[i].err, "!") != 0)
			is_str(e.msg, decode_cases[i].err, "  text of %s",
			    decode_cases[i].body);
		json_object_put(v);
		arena_free(a);
	}
}

/* Integers beyond int64 in a map keep their text (a float64 in Go). */
static void
test_big_int_in_map(void)
{
	struct json_object	*v = NULL;
	struct perr		 e;
	const char		*body = "{\"a\":18446744073709551616,"
	    "\"b\":-99999999999999999999,\"c\":9223372036854775807}";
	char			*out;
	size_t			 len;

	ok(json_parse_text(body, strlen(body), &v, &e) == 0,
	    "parses integers beyond int64");
	out = json_render(v, 0, &len);
	is_str(out, body, "and renders them as written");
	ok(json_object_is_type(json_object_object_get(v, "a"),
	    json_type_double), "a number beyond int64 is a double");
	free(out);
	json_object_put(v);
}

/* Invalid UTF-8 in a body's strings becomes U+FFFD, as Go decodes it. */
static void
test_decode_utf8(void)
{
	struct req	 req;
	struct target	 t;
	struct perr	 e;

	memset(&req, 0, sizeof(req));
	memset(&t, 0, sizeof(t));
	req.arena = arena_new();
	req.body = arena_strdup(req.arena, "{\"S\": \"a\xff\xfe\xc3\xa9\"}");
	req.bodylen = strlen(req.body);
	ok(req_decode_body(&req, fields, "pkg.T", &t, NULL, &e) == 0,
	    "decodes a request body with invalid UTF-8");
	is_str(t.s, "a\xef\xbf\xbd\xef\xbf\xbd\xc3\xa9",
	    "each invalid byte became U+FFFD, valid ones stay");
	json_object_put(req.json);
	arena_free(req.arena);
}

/* Bytes -> sequence length accepted by Go's utf8.DecodeRune (0: none). */
static const struct {
	const char	*s;
	size_t		 n;
} utf8_cases[] = {
	{ "a", 1 }, { "\xc3\xa9", 2 }, { "\xe2\x82\xac", 3 },
	{ "\xf0\x9f\x98\x80", 4 }, { "\xf4\x8f\xbf\xbf", 4 },
	{ "\xff", 0 }, { "\xfe", 0 }, { "\xc0\x80", 0 }, { "\xc1\xbf", 0 },
	{ "\xe0\x80\xaf", 0 }, { "\xed\xa0\x80", 0 }, { "\xf4\x90\x80\x80", 0 },
	{ "\xf8\x88\x80\x80\x80", 0 }, { "\xc3", 0 }, { "\xe2\x82", 0 },
	{ "\x80", 0 },
};

static void
test_utf8_seq(void)
{
	size_t	i;

	for (i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++)
		is_int(json_utf8_seq(utf8_cases[i].s, strlen(utf8_cases[i].s)),
		    utf8_cases[i].n, "utf8 sequence case %zu", i);
}

/* The renderer: string value -> compact JSON text. */
static const struct {
	const char	*in;
	const char	*out;
} render_cases[] = {
	{ "plain", "\"plain\"" },
	{ "\xff\xfe", "\"\\ufffd\\ufffd\"" },
	{ "a\xc3\xa9\xe2\x82\xac", "\"a\xc3\xa9\xe2\x82\xac\"" },
	{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" },
	{ "\xc3", "\"\\ufffd\"" },
	{ "x\xe2\x80\xa8y\xe2\x80\xa9", "\"x\\u2028y\\u2029\"" },
	{ "<&>", "\"\\u003c\\u0026\\u003e\"" },
	{ "tab\there", "\"tab\\there\"" },
	/* Runs of plain bytes around escapes (json.c copies runs whole). */
	{ "-----BEGIN X-----\nMIIB<a>&b\n", "\"-----BEGIN X-----\\nMIIB"
	    "\\u003ca\\u003e\\u0026b\\n\"" },
	{ "a{b[c]d}\xc3\xa9" "e<", "\"a{b[c]d}\xc3\xa9" "e\\u003c\"" },
	{ "", "\"\"" },
};

static void
test_render(void)
{
	struct json_object	*o, *a;
	char			*out;
	size_t			 i, len;

	for (i = 0; i < sizeof(render_cases) / sizeof(render_cases[0]); i++) {
		o = json_object_new_string(render_cases[i].in);
		out = json_render(o, 0, &len);
		is_str(out, render_cases[i].out, "renders case %zu", i);
		is_int(len, strlen(render_cases[i].out), "  its length");
		free(out);
		json_object_put(o);
	}
	/* A key with invalid UTF-8, pretty. */
	o = json_object_new_object();
	json_object_object_add(o, "k\xff", json_object_new_array());
	out = json_render(o, 1, &len);
	is_str(out, "{\n    \"k\\ufffd\": []\n}\n",
	    "renders an invalid key as \\ufffd, pretty");
	free(out);
	json_object_put(o);
	/* Pretty: brackets inside strings, empty and full containers. */
	o = json_object_new_object();
	json_object_object_add(o, "a", json_object_new_string("x{[y<"));
	json_object_object_add(o, "b", json_object_new_object());
	a = json_object_new_array();
	json_object_array_add(a, json_object_new_int(1));
	json_object_array_add(a, json_object_new_object());
	json_object_object_add(o, "c", a);
	out = json_render(o, 1, &len);
	is_str(out, "{\n    \"a\": \"x{[y\\u003c\",\n    \"b\": {},\n"
	    "    \"c\": [\n        1,\n        {}\n    ]\n}\n",
	    "renders brackets in strings and empty containers, pretty");
	is_int(len, strlen(out), "  its length");
	free(out);
	json_object_put(o);
}

/* No reply ever holds NaN or Infinity: they go out as null. */
static void
test_render_nonfinite(void)
{
	struct json_object	*o, *a;
	char			*out;
	size_t			 len;

	o = json_object_new_object();
	json_object_object_add(o, "n", json_object_new_double(NAN));
	json_object_object_add(o, "S", json_object_new_string("NaN"));
	a = json_object_new_array();
	json_object_array_add(a, json_object_new_double(INFINITY));
	json_object_array_add(a, json_object_new_double(-INFINITY));
	json_object_array_add(a, json_object_new_double(1.5));
	json_object_object_add(o, "a", a);
	out = json_render(o, 0, &len);
	is_str(out, "{\"n\":null,\"S\":\"NaN\",\"a\":[null,null,1.5]}",
	    "NaN and infinities are rendered as null");
	free(out);
	json_object_put(o);
}

/* Double -> int64 only within range: a C cast beyond it is undefined. */
static const struct {
	double	d;
	int	rc;
	int64_t	v;
} d2i_cases[] = {
	{ 0.0, 0, 0 }, { -1.9, 0, -1 }, { 1.9, 0, 1 },
	{ 9223372036854774784.0, 0, 9223372036854774784LL },
	{ -9223372036854775808.0, 0, INT64_MIN },
	{ 9223372036854775808.0, -1, 0 }, { -9223372036854777856.0, -1, 0 },
	{ 1e30, -1, 0 }, { -1e30, -1, 0 }, { INFINITY, -1, 0 },
	{ -INFINITY, -1, 0 }, { NAN, -1, 0 },
};

static void
test_double_int64(void)
{
	int64_t	v;
	size_t	i;

	for (i = 0; i < sizeof(d2i_cases) / sizeof(d2i_cases[0]); i++) {
		v = 0;
		is_int(json_double_int64(d2i_cases[i].d, &v), d2i_cases[i].rc,
		    "double %g to int64", d2i_cases[i].d);
		if (d2i_cases[i].rc == 0)
			is_int(v, d2i_cases[i].v, "  value of %g",
			    d2i_cases[i].d);
	}
}

int
main(void)
{
	test_double_int64();
	test_decode();
	test_big_int_in_map();
	test_decode_utf8();
	test_utf8_seq();
	test_render();
	test_render_nonfinite();
	return tap_done();
}
