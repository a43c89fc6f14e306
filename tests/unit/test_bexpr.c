/*
 * test_bexpr.c -- unit tests for bexpr.c, the ?filter= language.
 *
 * The cases are data: tests/unit/data/bexpr_cases.txt, one per line,
 *
 *	schema | expression | JSON document | expected
 *
 * where schema names one of the tables below ("-" is dynamic mode), the
 * JSON document is "-" for compile-only cases, and expected is "true",
 * "false", "ok" (compiles) or "error <text>": the body after Consul's
 * "Failed to create boolean expression evaluator: " prefix, with "\n"
 * standing for a newline.  The expression may itself hold " | ".
 * The file is argv[1], else $srcdir/tests/unit/data/bexpr_cases.txt,
 * else that path from the current directory.
 *
 * Cases that do not fit on a line (tabs, NUL, invalid UTF-8, limits)
 * are written out at the end.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "bexpr.h"
#include "tap.h"

#define PREFIX	"Failed to create boolean expression evaluator: "

/* ACL token (structs.ACLToken as go-bexpr sees it, abridged). */
static const struct bexpr_field link_fields[] = {
	{ "ID",			BF_STRING,	NULL },
	{ "Name",		BF_STRING,	NULL },
	{ NULL,			BF_STRING,	NULL }
};
static const struct bexpr_field svcid_fields[] = {
	{ "ServiceName",	BF_STRING,	NULL },
	{ "Datacenters",	BF_LIST_STRING,	NULL },
	{ NULL,			BF_STRING,	NULL }
};
static const struct bexpr_field nodeid_fields[] = {
	{ "NodeName",		BF_STRING,	NULL },
	{ "Datacenter",		BF_STRING,	NULL },
	{ NULL,			BF_STRING,	NULL }
};
static const struct bexpr_field token_fields[] = {
	{ "AccessorID",		BF_STRING,	NULL },
	{ "SecretID",		BF_STRING,	NULL },
	{ "Description",	BF_STRING,	NULL },
	{ "Policies",		BF_LIST_STRUCT,	link_fields },
	{ "Roles",		BF_LIST_STRUCT,	link_fields },
	{ "ServiceIdentities",	BF_LIST_STRUCT,	svcid_fields },
	{ "NodeIdentities",	BF_LIST_STRUCT,	nodeid_fields },
	{ "Local",		BF_BOOL,	NULL },
	{ "AuthMethod",		BF_STRING,	NULL },
	{ "ExpirationTTL",	BF_INT,		NULL },
	{ "CreateIndex",	BF_UINT,	NULL },
	{ "ModifyIndex",	BF_UINT,	NULL },
	{ NULL,			BF_STRING,	NULL }
};

/* Intention, with a nested struct inside a list of structs. */
static const struct bexpr_field http_fields[] = {
	{ "PathExact",		BF_STRING,	NULL },
	{ "PathPrefix",		BF_STRING,	NULL },
	{ "Methods",		BF_LIST_STRING,	NULL },
	{ NULL,			BF_STRING,	NULL }
};
static const struct bexpr_field perm_fields[] = {
	{ "Action",		BF_STRING,	NULL },
	{ "HTTP",		BF_STRUCT,	http_fields },
	{ NULL,			BF_STRING,	NULL }
};
static const struct bexpr_field ixn_fields[] = {
	{ "ID",			BF_STRING,	NULL },
	{ "Description",	BF_STRING,	NULL },
	{ "SourceNS",		BF_STRING,	NULL },
	{ "SourceName",		BF_STRING,	NULL },
	{ "DestinationNS",	BF_STRING,	NULL },
	{ "DestinationName",	BF_STRING,	NULL },
	{ "SourceType",		BF_STRING,	NULL },
	{ "Action",		BF_STRING,	NULL },
	{ "Precedence",		BF_INT,		NULL },
	{ "Meta",		BF_MAP_STRING,	NULL },
	{ "Permissions",	BF_LIST_STRUCT,	perm_fields },
	{ "CreateIndex",	BF_UINT,	NULL },
	{ "ModifyIndex",	BF_UINT,	NULL },
	{ NULL,			BF_STRING,	NULL }
};

/* JWT/OIDC auth method selectable fields (value.x, list.x). */
static const struct bexpr_field binding_fields[] = {
	{ "value",		BF_MAP_STRING,	NULL },
	{ "list",		BF_MAP_LIST,	NULL },
	{ NULL,			BF_STRING,	NULL }
};

/* Kubernetes auth method selectable fields. */
static const struct bexpr_field sa_fields[] = {
	{ "namespace",		BF_STRING,	NULL },
	{ "name",		BF_STRING,	NULL },
	{ "uid",		BF_STRING,	NULL },
	{ NULL,			BF_STRING,	NULL }
};
static const struct bexpr_field k8s_fields[] = {
	{ "serviceaccount",	BF_STRUCT,	sa_fields },
	{ NULL,			BF_STRING,	NULL }
};

static const struct bexpr_field any_fields[] = {
	{ "x",			BF_MAP_ANY,	NULL },
	{ NULL,			BF_STRING,	NULL }
};

static const struct {
	const char			*name;
	const struct bexpr_field	*fields;
} schemas[] = {
	{ "token",	token_fields },
	{ "intention",	ixn_fields },
	{ "binding",	binding_fields },
	{ "k8s",	k8s_fields },
	{ "any",	any_fields },
	{ "-",		NULL },
};

static int
find_schema(const char *name, const struct bexpr_field **f)
{
	size_t	i;

	for (i = 0; i < sizeof(schemas) / sizeof(schemas[0]); i++)
		if (strcmp(schemas[i].name, name) == 0) {
			*f = schemas[i].fields;
			return 0;
		}
	return -1;
}

/* "{NL}" in an expected error stands for a newline. */
static char *
unescape_nl(const char *s)
{
	char	*o, *p;

	o = p = xstrdup(s);
	for (; *s != '\0'; s++) {
		if (strncmp(s, "{NL}", 4) == 0) {
			*p++ = '\n';
			s += 3;
		} else
			*p++ = *s;
	}
	*p = '\0';
	return o;
}

/* One line of the data file. */
static void
run_case(const char *file, int lineno, char *line)
{
	const struct bexpr_field	*schema;
	struct json_object		*doc = NULL;
	struct bexpr			*bx = NULL;
	struct perr			 e;
	char				*f1, *f2, *f3, *expr, *json, *want;
	char				*msg;
	int				 rc, got;

	if ((f1 = strstr(line, " | ")) == NULL ||
	    (f3 = strrchr(line, '|')) == NULL || f3 - 1 <= f1 + 1) {
		ok(0, "%s:%d: malformed case", file, lineno);
		return;
	}
	*f1 = '\0';
	expr = f1 + 3;
	f3[-1] = '\0';
	want = f3 + 2;
	if ((f2 = strrchr(expr, '|')) == NULL || f2 - 1 < expr ||
	    f2[-1] != ' ' || f2[1] != ' ') {
		ok(0, "%s:%d: malformed case", file, lineno);
		return;
	}
	f2[-1] = '\0';
	json = f2 + 2;
	if (find_schema(line, &schema) == -1) {
		ok(0, "%s:%d: unknown schema %s", file, lineno, line);
		return;
	}
	perr_clear(&e);
	rc = bexpr_compile(expr, schema, &bx, &e);
	if (strncmp(want, "error ", 6) == 0) {
		msg = unescape_nl(want + 6);
		ok(rc == -1 && e.status == 500 &&
		    strncmp(e.msg, PREFIX, strlen(PREFIX)) == 0 &&
		    strcmp(e.msg + strlen(PREFIX), msg) == 0,
		    "%s:%d: %s [%s] fails", file, lineno, expr, line);
		if (rc != -1)
			printf("#   compiled, want error \"%s\"\n", msg);
		else if (strcmp(e.msg + strlen(PREFIX), msg) != 0)
			printf("#   got  \"%s\"\n#   want \"%s\"\n",
			    e.msg + strlen(PREFIX), msg);
		free(msg);
		bexpr_free(bx);
		return;
	}
	if (rc == -1) {
		ok(0, "%s:%d: %s [%s] compiles", file, lineno, expr, line);
		printf("#   %s\n", e.msg);
		return;
	}
	if (strcmp(want, "ok") == 0) {
		ok(1, "%s:%d: %s [%s] compiles", file, lineno, expr, line);
		bexpr_free(bx);
		return;
	}
	if ((doc = json_tokener_parse(json)) == NULL) {
		ok(0, "%s:%d: bad JSON document", file, lineno);
		bexpr_free(bx);
		return;
	}
	got = bexpr_match(bx, doc);
	is_int(got, strcmp(want, "true") == 0, "%s:%d: %s [%s] on %s is %s",
	    file, lineno, expr, line, json, want);
	json_object_put(doc);
	bexpr_free(bx);
}

static void
run_file(const char *path)
{
	FILE	*f;
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 n;
	int	 lineno = 0, cases = 0;

	if ((f = fopen(path, "r")) == NULL) {
		ok(0, "open %s", path);
		return;
	}
	while ((n = getline(&line, &cap, f)) != -1) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		run_case(path, lineno, line);
		cases++;
	}
	free(line);
	fclose(f);
	ok(cases >= 80, "%s holds %d cases", path, cases);
}

/* Compile src[0..len) against schema; return the message or "". */
static const char *
compile_msg(const char *src, size_t len, const struct bexpr_field *schema,
    int *rc)
{
	static struct perr	 e;
	struct bexpr		*bx = NULL;

	perr_clear(&e);
	*rc = bexpr_compilen(src, len, schema, &bx, &e);
	bexpr_free(bx);
	if (*rc == 0)
		return "";
	return strncmp(e.msg, PREFIX, strlen(PREFIX)) == 0 ?
	    e.msg + strlen(PREFIX) : e.msg;
}

/* compile_msg() of a string literal, NULs included */
#define CMSG(lit, schema, rc)	compile_msg(lit, sizeof(lit) - 1, schema, rc)

static int
match_str(const char *expr, const struct bexpr_field *schema,
    const char *json)
{
	struct json_object	*doc;
	struct bexpr		*bx = NULL;
	struct perr		 e;
	int			 r;

	if (bexpr_compile(expr, schema, &bx, &e) == -1)
		return -1;
	doc = json_tokener_parse(json);
	r = bexpr_match(bx, doc);
	json_object_put(doc);
	bexpr_free(bx);
	return r;
}

/*
 * Compile and match a regexp (quoted into "Name matches") on a thread
 * with a 128 KiB stack, half a worker thread's: regex.c does not
 * recurse, so the deepest and largest patterns must fit.  Returns the
 * compile's return code (the match result in j.matched), the error
 * text after the prefix in msg.
 */
struct rxjob {
	const char	*re;
	int		 rc, matched;
	char		 msg[4096];
};

static void *
rx_thread(void *arg)
{
	struct rxjob		*j = arg;
	struct json_object	*doc;
	struct bexpr		*bx = NULL;
	struct perr		 e;
	char			*src;

	if (xasprintf(&src, "Name matches \"%s\"", j->re) < 0)
		return NULL;
	j->rc = bexpr_compile(src, link_fields, &bx, &e);
	if (j->rc == -1)
		snprintf(j->msg, sizeof(j->msg), "%s", e.msg + strlen(PREFIX));
	else {
		doc = json_tokener_parse("{\"Name\":\"aaa\"}");
		j->matched = bexpr_match(bx, doc);
		json_object_put(doc);
	}
	bexpr_free(bx);
	free(src);
	return NULL;
}

static int
rx_small_stack(const char *re, char *msg, size_t msglen)
{
	pthread_attr_t	 a;
	pthread_t	 t;
	struct rxjob	 j;

	memset(&j, 0, sizeof(j));
	j.re = re;
	j.rc = 99;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 128 * 1024);
	if (pthread_create(&t, &a, rx_thread, &j) != 0)
		return 98;
	pthread_join(t, NULL);
	pthread_attr_destroy(&a);
	if (msg != NULL)
		snprintf(msg, msglen, "%s", j.msg);
	return j.rc;
}

/* head, then s n times, then tail: a static buffer. */
static const char *
rep(const char *head, const char *s, size_t n, const char *tail)
{
	static char	buf[16384];
	size_t		i, len;

	len = (size_t)snprintf(buf, sizeof(buf), "%s", head);
	for (i = 0; i < n && len + strlen(s) < sizeof(buf); i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s", s);
	snprintf(buf + len, sizeof(buf) - len, "%s", tail);
	return buf;
}

static void
regexp_bounds(void)
{
	char	nest[4096], msg[4096];
	int	rc;

	/* the shapes that broke glibc's regcomp, on half the stack */
	snprintf(nest, sizeof(nest), "%s", rep("", "(", 999, "a"));
	snprintf(nest + 1000, sizeof(nest) - 1000, "%s",
	    rep("", ")", 999, ""));
	is_int(rx_small_stack(nest, NULL, 0), 0,
	    "999 nested groups compile on a 128 KiB stack, as in Go");
	is_int(rx_small_stack(rep("", "()", 1000, ""), NULL, 0), 0,
	    "1000 empty groups compile on a 128 KiB stack");
	is_int(rx_small_stack(rep("", "a?", 1000, ""), NULL, 0), 0,
	    "1000 optional atoms compile on a 128 KiB stack");
	is_int(rx_small_stack(rep("", "(^|$|\\\\b|\\\\B)", 100, ""), NULL,
	    0), 0, "a hundred alternations of assertions compile");
	is_int(rx_small_stack(rep("", "\\\\b", 1000, ""), NULL, 0), 0,
	    "a thousand assertions compile (glibc took six)");
	is_int(rx_small_stack("(()){1000}", NULL, 0), 0,
	    "a group of groups repeated 1000 times compiles, as in Go");

	/* past the bounds: Go's words, no crash */
	rc = rx_small_stack("(a{1000}){1000}", msg, sizeof(msg));
	ok(rc == -1 && strstr(msg, "invalid repeat count: `{1000}`") != NULL,
	    "nested counts multiplying past 1000 are an invalid repeat "
	    "count, as in Go (%s)", msg);
	rc = rx_small_stack("a{1001}", msg, sizeof(msg));
	ok(rc == -1 && strstr(msg, "invalid repeat count: `{1001}`") != NULL,
	    "a repeat count over 1000 is invalid, as in Go");
	rc = rx_small_stack(rep("", "[a-z]{1000}", 6, ""), msg, sizeof(msg));
	ok(rc == -1 && strstr(msg, "expression too large") != NULL,
	    "a program over REGEX_MAXPROG instructions is too large "
	    "(Go's limit is 3.3 million)");
	is_int(rx_small_stack("^(web|api)-[0-9]+$", NULL, 0), 0,
	    "an ordinary anchored regexp compiles");
}

static void
structural(void)
{
	struct bexpr	*bx = (struct bexpr *)1;
	struct perr	 e;
	char		*big, *p;
	const char	*msg;
	size_t		 i, depth;
	int		 rc;

	bexpr_free(NULL);
	ok(1, "bexpr_free(NULL) is a no-op");
	is_int(bexpr_match(NULL, NULL), 1, "no expression matches anything");

	perr_clear(&e);
	rc = bexpr_compile("", token_fields, &bx, &e);
	ok(rc == 0 && bx == NULL, "an empty filter is no filter");

	rc = bexpr_compile_selector("", binding_fields, &bx, &e);
	ok(rc == -1 && bx == NULL, "an empty selector is an error");
	is_str(e.msg, "1:1 (0): no match found, expected: \"(\", \"-\", "
	    "\"0\", \"\\\"\", \"`\", \"not\", [ \\t\\r\\n], [1-9] or [a-zA-Z]",
	    "selector errors carry no CreateFilter prefix");
	is_int(e.status, 500, "selector errors are 500");
	rc = bexpr_compile_selector("value.x == \"y\" and \"g\" in list.groups",
	    binding_fields, &bx, &e);
	ok(rc == 0 && bx != NULL, "a binding-rule selector compiles");
	bexpr_free(bx);

	msg = CMSG("\tName\r\n==\n\"x\"\t", link_fields, &rc);
	ok(rc == 0, "tabs, CR and LF are whitespace (%s)", msg);
	msg = CMSG("Name == \"x\nb\"", link_fields, &rc);
	is_str(msg, "1:9 (8): rule \"string\": invalid syntax",
	    "a raw newline in a double-quoted string is invalid");
	msg = CMSG("Name\n== 3x", link_fields, &rc);
	is_str(msg, "2:5 (9): rule \"number\": Invalid number literal",
	    "positions count lines as pigeon does");
	msg = CMSG("Name == `a\r\nb`", link_fields, &rc);
	ok(rc == 0, "a raw string may hold CR LF (%s)", msg);
	is_int(match_str("Name == `a\r\nb`", link_fields,
	    "{\"Name\":\"a\\nb\"}"), 1, "raw strings drop CR, as Go does");
	msg = CMSG("Name == \"\xff\"", link_fields, &rc);
	is_str(msg, "1:10 (9): rule \"string\": invalid encoding",
	    "invalid UTF-8 is a parse error");
	msg = CMSG("\xc3(", link_fields, &rc);
	is_str(msg, "1:1 (0): invalid encoding",
	    "invalid UTF-8 at the start has no rule");
	msg = CMSG("Name == \"a\0b\"", link_fields, &rc);
	ok(rc == 0, "a NUL inside a string literal is a character (%s)", msg);
	msg = CMSG("Name == x\0", link_fields, &rc);
	is_str(msg, "1:10 (9): no match found, expected: \".\", \"[\", "
	    "[ \\t\\r\\n], [a-zA-Z0-9_] or EOF", "a NUL after the expression");
	is_int(match_str("Name == \"\\x00\"", link_fields,
	    "{\"Name\":\"\\u0000\"}"), 1, "\\x00 matches a NUL character");
	is_int(match_str("\"é\" in Name", link_fields,
	    "{\"Name\":\"café\"}"), 1, "UTF-8 substring");
	is_int(match_str("Name matches \"^caf.$\"", link_fields,
	    "{\"Name\":\"caf\\u00e9\"}"), 1,
	    "regexps match code points, as Go's: . is one character");

	/* limits */
	big = xmalloc(BEXPR_MAXLEN + 2);
	memset(big, ' ', BEXPR_MAXLEN + 1);
	big[BEXPR_MAXLEN + 1] = '\0';
	memcpy(big, "Name == x", 9);
	msg = compile_msg(big, BEXPR_MAXLEN, link_fields, &rc);
	ok(rc == 0, "an expression of BEXPR_MAXLEN bytes compiles (%s)", msg);
	msg = compile_msg(big, BEXPR_MAXLEN + 1, link_fields, &rc);
	is_str(msg, "expression exceeds 65536 bytes", "longer is refused");
	free(big);

	big = xmalloc(4 * BEXPR_MAXDEPTH + 64);
	for (p = big, i = 0; i < BEXPR_MAXDEPTH; i++)
		*p++ = '(';
	p += sprintf(p, "Name == x");
	for (i = 0; i < BEXPR_MAXDEPTH; i++)
		*p++ = ')';
	msg = compile_msg(big, (size_t)(p - big), link_fields, &rc);
	ok(rc == 0, "%d nested parentheses compile (%s)", BEXPR_MAXDEPTH,
	    msg);
	memmove(big + 1, big, (size_t)(p - big));
	big[0] = '(';
	*++p = ')';
	p++;
	msg = compile_msg(big, (size_t)(p - big), link_fields, &rc);
	is_str(msg, "expression nests parentheses deeper than 64 levels",
	    "one more level is refused");
	free(big);

	/* a long chain is fine: or/and are loops, not recursion */
	big = xmalloc(20 * 3000 + 16);
	for (p = big, i = 0; i < 3000; i++)
		p += sprintf(p, "%sName == n%zu", i ? " or " : "", i);
	ok(match_str(big, link_fields, "{\"Name\":\"n2999\"}") == 1,
	    "3000 alternatives compile and match");
	free(big);
	big = xmalloc(4 * 10000 + 16);
	for (p = big, i = 0; i < 10001; i++)
		p += sprintf(p, "not ");
	sprintf(p, "Name == x");
	ok(match_str(big, link_fields, "{\"Name\":\"x\"}") == 0,
	    "10001 nots compile and negate");
	free(big);
	big = xmalloc(BEXPR_MAXLEN + 1);
	for (p = big, i = 0; i < BEXPR_MAXLEN / 2 - 8; i++)
		p += sprintf(p, "(");
	*p = '\0';
	msg = compile_msg(big, (size_t)(p - big), link_fields, &rc);
	ok(rc == -1, "a wall of parentheses fails cleanly (%s)", msg);
	for (p = big, i = 0; i < BEXPR_MAXLEN - 16; i++)
		*p++ = '"';
	msg = compile_msg(big, (size_t)(p - big), NULL, &rc);
	ok(rc == -1, "a wall of quotes fails cleanly (%s)", msg);
	free(big);

	/*
	 * Regexp groups nest as deep as Go's tree height allows: 999
	 * groups around a literal are 1000 levels, 1000 groups are too
	 * many ("expression nests too deeply", as Go says).
	 */
	big = xmalloc(2 * 1001 + 32);
	for (depth = 999; depth <= 1000; depth++) {
		p = big + sprintf(big, "Name matches \"");
		for (i = 0; i < depth; i++)
			*p++ = '(';
		*p++ = 'a';
		for (i = 0; i < depth; i++)
			*p++ = ')';
		*p++ = '"';
		msg = compile_msg(big, (size_t)(p - big), link_fields, &rc);
		ok(rc == (depth == 999 ? 0 : -1) && (depth == 999 ||
		    (strncmp(msg, "Failed to compile regular expression \"((",
		    40) == 0)),	/* the text is cut; test_regex.c has it */
		    "regexp groups nested %zu deep %s, as in Go", depth,
		    depth == 999 ? "compile" : "do not");
	}
	free(big);
	regexp_bounds();

	/* the regexps of one filter share 4 * REGEX_MAXPROG instructions */
	big = xmalloc(64 * 5 + 16);
	for (p = big, i = 0; i < 5; i++)
		p += sprintf(p, "%sName matches \"a{1000}a{1000}a{1000}a{1000}\"",
		    i ? " or " : "");
	msg = compile_msg(big, (size_t)(p - big) - 47, link_fields,
	    &rc);
	ok(rc == 0, "four regexps of 4001 instructions compile (%s)", msg);
	msg = compile_msg(big, (size_t)(p - big), link_fields, &rc);
	ok(rc == -1 && strstr(msg, "error parsing regexp: expression too "
	    "large: `a{1000}a{1000}a{1000}a{1000}`") != NULL,
	    "a fifth is too large: the filter's budget is spent (%s)", msg);
	free(big);

	/* the schema is borrowed: matching needs no more than the tree */
	rc = bexpr_compile("Meta.env == prod and Precedence == 9",
	    ixn_fields, &bx, &e);
	ok(rc == 0, "compile for reuse");
	for (i = 0, rc = 0; i < 3; i++) {
		struct json_object *d = json_tokener_parse(
		    "{\"Meta\":{\"env\":\"prod\"},\"Precedence\":9}");
		rc += bexpr_match(bx, d);
		json_object_put(d);
	}
	is_int(rc, 3, "a compiled filter is reusable");
	bexpr_free(bx);
}

int
main(int argc, char *argv[])
{
	const char	*srcdir;
	char		*path = NULL;

	if (argc > 1)
		path = xstrdup(argv[1]);
	else if ((srcdir = getenv("srcdir")) != NULL) {
		if (xasprintf(&path, "%s/tests/unit/data/bexpr_cases.txt",
		    srcdir) < 0)
			return 1;
	} else
		path = xstrdup("tests/unit/data/bexpr_cases.txt");
	run_file(path);
	free(path);
	structural();
	return tap_done();
}
