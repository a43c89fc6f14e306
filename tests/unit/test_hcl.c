/*
 * test_hcl.c -- unit tests for hcl.c, the HCL1 parser.
 *
 * Most cases are data: tests/unit/data/hcl_cases.txt holds inputs with
 * the JSON they must give or the error they must raise (its head says
 * how to read it).  The file is argv[1], else
 * $srcdir/tests/unit/data/hcl_cases.txt, else that path from the
 * current directory.  The C cases below cover what a text file cannot
 * say well: the API contract, the depth limit, huge inputs, and a
 * mutation run checking that whatever parses also reads back as JSON.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "hcl.h"
#include "tap.h"

struct tcase {
	char	*name;
	char	*input;
	size_t	 inlen;
	int	 kind;		/* 'j' json, 't' text, 'e' error */
	char	*want;
};

static char *
slurp(const char *path, size_t *len)
{
	FILE	*f;
	char	*buf;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = xmalloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

/* Decode %XX escapes in place; returns the new length. */
static size_t
unescape(char *s, size_t n)
{
	size_t		 i, o;
	unsigned int	 b;

	for (i = o = 0; i < n; i++) {
		if (s[i] == '%' && i + 1 < n && s[i + 1] == '%') {
			s[o++] = '%';
			i++;
		} else if (s[i] == '%' && i + 2 < n &&
		    sscanf(s + i + 1, "%2x", &b) == 1) {
			s[o++] = (char)b;
			i += 2;
		} else
			s[o++] = s[i];
	}
	return o;
}

/* A malloc'd copy of exactly n bytes, so ASan sees any read past it. */
static char *
exact(const char *s, size_t n)
{
	char	*p;

	p = xmalloc(n);
	memcpy(p, s, n);
	return p;
}

/*
 * Split the case file into cases.  Returns their number; *out is an
 * xcalloc'd array.
 */
static size_t
load_cases(char *text, struct tcase **out)
{
	struct tcase	*tc = NULL, *c = NULL;
	size_t		 ntc = 0, cap = 0, in_len = 0;
	char		*line, *nl, *in = NULL, *want = NULL;
	size_t		 want_len = 0;
	int		 part = 0;	/* 0 none, 1 input, 2 expectation */
	int		 noeol = 0, esc = 0;

	for (line = text; line != NULL && *line != '\0'; line = nl) {
		size_t	len;

		if ((nl = strchr(line, '\n')) != NULL) {
			len = (size_t)(nl - line);
			nl++;
		} else
			len = strlen(line);
		if (len >= 4 && strncmp(line, "=== ", 4) == 0) {
			if (ntc == cap) {
				cap = cap ? cap * 2 : 64;
				tc = xrealloc(tc, cap * sizeof(*tc));
			}
			c = &tc[ntc++];
			memset(c, 0, sizeof(*c));
			c->name = xstrndup(line + 4, len - 4);
			noeol = strstr(c->name, "[noeol]") != NULL;
			esc = strstr(c->name, "[esc]") != NULL;
			in = xmalloc(strlen(line) + 1);
			in_len = 0;
			want = xmalloc(strlen(line) + 1);
			want_len = 0;
			c->input = in;
			c->want = want;
			part = 1;
			continue;
		}
		if (part == 0)
			continue;
		if (part == 1 && len >= 4 && strncmp(line, "--- ", 4) == 0) {
			c->kind = line[4];
			if (noeol && in_len > 0)
				in_len--;
			if (esc)
				in_len = unescape(in, in_len);
			c->inlen = in_len;
			part = 2;
			continue;
		}
		if (part == 1) {
			memcpy(in + in_len, line, len);
			in_len += len;
			in[in_len++] = '\n';
		} else {
			/* Blank lines end an expectation. */
			if (len == 0) {
				part = 0;
				continue;
			}
			if (want_len > 0)
				want[want_len++] = c->kind == 'e' ? ' ' : '\n';
			memcpy(want + want_len, line, len);
			want_len += len;
			want[want_len] = '\0';
		}
	}
	*out = tc;
	return ntc;
}

static void
run_case(const struct tcase *c)
{
	struct json_object	*got = NULL, *want;
	struct perr		 e;
	char			*in;
	int			 rc;

	perr_clear(&e);
	in = exact(c->input, c->inlen);
	rc = hcl_parse(in, c->inlen, &got, &e);
	free(in);
	switch (c->kind) {
	case 'e':
		ok(rc == -1 && got == NULL && e.status == 400 &&
		    strcmp(e.msg, c->want) == 0, "%s", c->name);
		if (rc == 0)
			printf("#   parsed: %s\n", json_object_to_json_string_ext(
			    got, JSON_C_TO_STRING_PLAIN));
		else if (strcmp(e.msg, c->want) != 0)
			printf("#   got  \"%s\"\n#   want \"%s\"\n", e.msg,
			    c->want);
		break;
	case 't':
		ok(rc == 0 && strcmp(json_object_to_json_string_ext(got,
		    JSON_C_TO_STRING_PLAIN), c->want) == 0, "%s", c->name);
		if (rc == -1)
			printf("#   error: %s\n", e.msg);
		else if (strcmp(json_object_to_json_string_ext(got,
		    JSON_C_TO_STRING_PLAIN), c->want) != 0)
			printf("#   got  %s\n#   want %s\n",
			    json_object_to_json_string_ext(got,
			    JSON_C_TO_STRING_PLAIN), c->want);
		break;
	case 'j':
		if ((want = json_tokener_parse(c->want)) == NULL) {
			ok(0, "%s: expected JSON does not parse", c->name);
			break;
		}
		ok(rc == 0 && json_object_equal(got, want), "%s", c->name);
		if (rc == -1)
			printf("#   error: %s\n", e.msg);
		else if (!json_object_equal(got, want))
			printf("#   got  %s\n#   want %s\n",
			    json_object_to_json_string_ext(got,
			    JSON_C_TO_STRING_PLAIN),
			    json_object_to_json_string_ext(want,
			    JSON_C_TO_STRING_PLAIN));
		json_object_put(want);
		break;
	default:
		ok(0, "%s: no expectation", c->name);
	}
	json_object_put(got);
}

/* Parse a NUL-terminated string; returns rc and leaves *out / *e. */
static int
parse_str(const char *s, struct json_object **out, struct perr *e)
{
	char	*in;
	int	 rc;

	perr_clear(e);
	in = exact(s, strlen(s));
	rc = hcl_parse(in, strlen(s), out, e);
	free(in);
	return rc;
}

static void
test_api(void)
{
	struct json_object	*o;
	struct perr		 e;

	o = (struct json_object *)&o;	/* not NULL: must be cleared */
	is_int(parse_str("a = ", &o, &e), -1, "an error returns -1");
	ok(o == NULL, "an error leaves *out NULL");
	is_int(e.status, 400, "an error is status 400");
	is_int(parse_str("a = 1", &o, &e), 0, "success returns 0");
	is_int(e.status, 0, "success leaves the error alone");
	ok(o != NULL && json_object_is_type(o, json_type_object),
	    "success gives an object");
	json_object_put(o);
	o = NULL;
	perr_clear(&e);
	is_int(hcl_parse(NULL, 0, &o, &e), 0, "a NULL empty input parses");
	is_str(json_object_to_json_string(o), "{ }", "into an empty object");
	json_object_put(o);
	is_int(hcl_parse("a = 1 trailing junk", 5, &o, &e), 0,
	    "only len bytes are read");
	json_object_put(o);
}

/* s repeated n times between pre and post; malloc'd. */
static char *
repeat(const char *pre, const char *s, size_t n, const char *mid,
    const char *s2, size_t n2)
{
	size_t	 l = strlen(s), l2 = strlen(s2), i, o = 0;
	char	*b;

	b = xmalloc(strlen(pre) + l * n + strlen(mid) + l2 * n2 + 1);
	memcpy(b + o, pre, strlen(pre));
	o += strlen(pre);
	for (i = 0; i < n; i++, o += l)
		memcpy(b + o, s, l);
	memcpy(b + o, mid, strlen(mid));
	o += strlen(mid);
	for (i = 0; i < n2; i++, o += l2)
		memcpy(b + o, s2, l2);
	b[o] = '\0';
	return b;
}

/* Does out, written as JSON, read back as the same tree? */
static int
roundtrips(struct json_object *o)
{
	struct json_object	*back = NULL;
	struct perr		 e;
	const char		*js;
	int			 same;

	js = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (parse_str(js, &back, &e) == -1) {
		printf("#   %s: %s\n", js, e.msg);
		return 0;
	}
	same = json_object_equal(o, back);
	json_object_put(back);
	return same;
}

static void
test_depth(void)
{
	struct json_object	*o = NULL;
	struct perr		 e;
	char			*s;
	int			 rc;

	/* Root at 1, then 99 blocks: 100 levels. */
	s = repeat("", "a {", HCL_MAX_DEPTH - 1, "", "}", HCL_MAX_DEPTH - 1);
	rc = parse_str(s, &o, &e);
	is_int(rc, 0, "%d nested levels parse", HCL_MAX_DEPTH);
	ok(rc == 0 && roundtrips(o), "and read back as JSON");
	json_object_put(o);
	free(s);
	s = repeat("", "a {", HCL_MAX_DEPTH, "", "}", HCL_MAX_DEPTH);
	is_int(parse_str(s, &o, &e), -1, "%d nested levels do not",
	    HCL_MAX_DEPTH + 1);
	is_str(e.msg, "At 1:300: nesting too deep (more than 100 levels)",
	    "the error names the brace that is too deep");
	free(s);

	/* Root at 1, then a and 98 labels: 100 levels. */
	s = repeat("a", " b", HCL_MAX_DEPTH - 2, " {", "", 0);
	s = xrealloc(s, strlen(s) + 2);
	strcat(s, "}");
	rc = parse_str(s, &o, &e);
	is_int(rc, 0, "labels count towards depth: %d levels parse",
	    HCL_MAX_DEPTH);
	json_object_put(o);
	free(s);
	s = repeat("a", " b", HCL_MAX_DEPTH - 1, " {", "", 0);
	is_int(parse_str(s, &o, &e), -1, "one more label does not");
	ok(strstr(e.msg, "nesting too deep") != NULL, "too deep: %s", e.msg);
	free(s);

	s = repeat("a = ", "[", HCL_MAX_DEPTH - 1, "", "]", HCL_MAX_DEPTH - 1);
	rc = parse_str(s, &o, &e);
	is_int(rc, 0, "%d levels of lists parse", HCL_MAX_DEPTH);
	ok(rc == 0 && roundtrips(o), "and read back as JSON");
	json_object_put(o);
	free(s);
	s = repeat("a = ", "[", HCL_MAX_DEPTH, "", "]", HCL_MAX_DEPTH);
	is_int(parse_str(s, &o, &e), -1, "one more list level does not");
	is_str(e.msg, "At 1:104: nesting too deep (more than 100 levels)",
	    "and is not wrapped 100 times");
	free(s);

	s = repeat("", "{", 200000, "", "", 0);
	is_int(parse_str(s, &o, &e), -1, "200000 braces (JSON) fail");
	free(s);
	s = repeat("a = ", "[", 200000, "", "", 0);
	is_int(parse_str(s, &o, &e), -1, "200000 brackets fail");
	free(s);
	s = repeat("a = ", "{ b = ", 200000, "", "", 0);
	is_int(parse_str(s, &o, &e), -1, "200000 objects fail");
	free(s);
	s = repeat("a", " b", 200000, " {", "", 0);
	is_int(parse_str(s, &o, &e), -1, "200000 labels fail");
	free(s);
}

static void
test_large(void)
{
	struct json_object	*o = NULL, *v;
	struct perr		 e;
	char			*s;
	int			 rc;

	s = repeat("a = \"", "x", 1 << 20, "\"", "", 0);
	rc = parse_str(s, &o, &e);
	ok(rc == 0 && json_object_object_get_ex(o, "a", &v) &&
	    json_object_get_string_len(v) == 1 << 20, "a 1 MiB string");
	json_object_put(o);
	free(s);
	s = repeat("", "service \"x\" { policy = \"read\" }\n", 20000, "",
	    "", 0);
	rc = parse_str(s, &o, &e);
	ok(rc == 0 && json_object_object_get_ex(o, "service", &v) &&
	    json_object_object_length(v) == 1, "20000 repeated blocks merge");
	json_object_put(o);
	free(s);
	s = repeat("a = ", "1", 100000, "", "", 0);
	is_int(parse_str(s, &o, &e), -1, "a 100000-digit integer fails");
	free(s);
	s = repeat("a = ", "1", 300, ".5", "", 0);
	rc = parse_str(s, &o, &e);
	is_int(rc, 0, "a 300-digit float parses");
	ok(rc == 0 && roundtrips(o), "and reads back");
	json_object_put(o);
	free(s);
}

static uint64_t
xorshift(uint64_t *st)
{
	*st ^= *st << 13;
	*st ^= *st >> 7;
	*st ^= *st << 17;
	return *st;
}

/*
 * Mutate the case inputs at random (bytes flipped, inserted, deleted,
 * tokens spliced in) and parse each result: never a crash (ASan watches),
 * always -1 with a message or 0 with a tree that reads back as JSON.
 */
static void
test_mutations(const struct tcase *tc, size_t ntc)
{
	static const char *const frag[] = {
		"{", "}", "[", "]", "=", ",", "\"", "\\", "${", "<<EOF\n",
		"\nEOF\n", "<<-X\n", "/*", "*/", "#", "//", "\n", "0x", "-",
		".", "e", "\\u", "\xff", "\0", "\r\n", "é", "true",
	};
	struct json_object	*o;
	struct perr		 e;
	uint64_t		 st = 0x9e3779b97f4a7c15ULL;
	const char		*f;
	char			*buf, *in;
	size_t			 n, i, k, pos, fl;
	int			 bad = 0, good = 0, rc, runs = 20000;

	buf = xmalloc(1 << 16);
	for (k = 0; k < (size_t)runs; k++) {
		const struct tcase *c = &tc[xorshift(&st) % ntc];

		n = c->inlen < 4096 ? c->inlen : 4096;
		memcpy(buf, c->input, n);
		for (i = xorshift(&st) % 4 + 1; i > 0; i--) {
			pos = n ? xorshift(&st) % (n + 1) : 0;
			switch (xorshift(&st) % 4) {
			case 0:
				if (pos < n)
					buf[pos] = (char)xorshift(&st);
				break;
			case 1:
				if (pos < n) {
					memmove(buf + pos, buf + pos + 1,
					    n - pos - 1);
					n--;
				}
				break;
			default:
				f = frag[xorshift(&st) % (sizeof(frag) /
				    sizeof(frag[0]))];
				fl = f[0] == '\0' ? 1 : strlen(f);
				memmove(buf + pos + fl, buf + pos, n - pos);
				memcpy(buf + pos, f, fl);
				n += fl;
				break;
			}
		}
		o = NULL;
		perr_clear(&e);
		in = exact(buf, n);
		rc = hcl_parse(in, n, &o, &e);
		free(in);
		if (rc == 0 && (o == NULL || !roundtrips(o)))
			bad++;
		else if (rc == -1 && (o != NULL || e.status != 400 ||
		    strncmp(e.msg, "At ", 3) != 0))
			bad++;
		else if (rc == 0)
			good++;
		json_object_put(o);
	}
	free(buf);
	is_int(bad, 0, "%d mutated inputs: no crash, sound results "
	    "(%d parsed)", runs, good);
}

int
main(int argc, char *argv[])
{
	struct tcase	*tc;
	const char	*srcdir;
	char		 path[4096], *text;
	size_t		 ntc, len, i;

	text = NULL;
	if (argc > 1)
		text = slurp(argv[1], &len);
	else {
		if ((srcdir = getenv("srcdir")) != NULL) {
			snprintf(path, sizeof(path),
			    "%s/tests/unit/data/hcl_cases.txt", srcdir);
			text = slurp(path, &len);
		}
		if (text == NULL)
			text = slurp("tests/unit/data/hcl_cases.txt", &len);
	}
	if (text == NULL) {
		printf("Bail out! cannot read hcl_cases.txt\n");
		return 1;
	}
	ntc = load_cases(text, &tc);
	ok(ntc >= 60, "%zu cases loaded", ntc);
	for (i = 0; i < ntc; i++)
		run_case(&tc[i]);
	test_api();
	test_depth();
	test_large();
	test_mutations(tc, ntc);
	for (i = 0; i < ntc; i++) {
		free(tc[i].name);
		free(tc[i].input);
		free(tc[i].want);
	}
	free(tc);
	free(text);
	return tap_done();
}
