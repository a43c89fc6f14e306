/*
 * test_regex.c -- unit tests for regex.c, the Go RE2 matcher behind
 * bexpr's matches operator.
 *
 * The expected answers are Go's (regexp.MatchString with default
 * flags).  Python's re agrees on most of them; where it does not, the
 * case says so (Python's "$" also matches before a final newline, its
 * \b and (?i) are Unicode-aware).  Pathological patterns are checked by
 * the matcher's step count, not by timing: each match must take at most
 * 2 * program size steps per byte (plus one program's worth at start).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portcullis.h"
#include "regex.h"
#include "tap.h"

#define NESTS	"error parsing regexp: expression nests too deeply: `"

struct mcase {
	const char	*re;
	const char	*in;
	int		 want;
};

static const struct mcase cases[] = {
	/* literals and . on code points */
	{ "abc",		"xabcx",	1 },
	{ "abc",		"ab",		0 },
	{ "",			"",		1 },
	{ "",			"x",		1 },
	{ "a.c",		"abc",		1 },
	{ "a.c",		"a\nc",		0 },
	{ "(?s)a.c",		"a\nc",		1 },
	{ "^caf.$",		"caf\xc3\xa9",	1 },
	{ "^.$",		"\xc3\xa9",	1 },
	{ "^..$",		"\xc3\xa9",	0 },
	{ "^.$",		"\xe2\x98\xba",	1 },
	{ "^.$",		"\xf0\x9f\x98\x80", 1 },
	/* invalid UTF-8 in the value: U+FFFD, one byte each */
	{ "^.$",		"\xff",		1 },
	{ "^..$",		"\xe2\x82",	1 },
	{ "^\\x{fffd}$",	"\xff",		1 },
	{ "^\xc3\xa9$",		"\xc3",		0 },
	/* bracket classes */
	{ "^[a-c]+$",		"abcba",	1 },
	{ "[a-c]",		"xyz",		0 },
	{ "^[^a-c]+$",		"xyz",		1 },
	{ "^[^a]$",		"\n",		1 },
	{ "^[]a]+$",		"]a]",		1 },
	{ "^[^]a]$",		"b",		1 },
	{ "^[a-]+$",		"-a",		1 },
	{ "^[\\^]$",		"^",		1 },
	{ "^[\\]\\[]+$",	"][",		1 },
	{ "^[\xc3\xa9-\xc3\xab]+$", "\xc3\xa9\xc3\xaa\xc3\xab", 1 },
	{ "^[\xc3\xa9]$",	"\xc3\xaa",	0 },
	{ "^[^\xc3\xa9]$",	"\xc3\xaa",	1 },
	{ "^[\\x{263a}-\\x{263c}]$", "\xe2\x98\xbb", 1 },
	{ "^[[:alpha:]]+$",	"abZ",		1 },
	{ "[[:digit:]]",	"abc",		0 },
	{ "^[[:^alpha:]]+$",	"12",		1 },
	{ "^[[:word:]]+$",	"a_1",		1 },
	{ "[[:space:]]",	"a\vb",		1 },
	{ "^[[:upper:][:digit:]]+$", "A1", 1 },
	{ "^[[:xdigit:]]+$",	"09afAF",	1 },
	{ "^[[:punct:]]+$",	"!-~",		1 },
	{ "^[[:nope]]$",	"n]",		1 },	/* not a class name */
	/* Perl classes (ASCII, as Go's) */
	{ "\\d+",		"ab12",		1 },
	{ "\\d",		"\xd9\xa3",	0 },	/* Arabic-Indic 3 */
	{ "^\\D+$",		"ab",		1 },
	{ "^\\w+$",		"a_1",		1 },
	{ "\\W",		"abc",		0 },
	{ "^\\S+$",		"a b",		0 },
	{ "\\s",		"a\vb",		0 },	/* Go's \s has no \v */
	{ "^\\s+$",		"\t\n\f\r ",	1 },
	{ "^[\\d\\s]+$",	"1 2",		1 },
	{ "^[^\\d]+$",		"abc",		1 },
	{ "^[\\D]+$",		"a1",		0 },
	{ "^[\\w.]+$",		"a_b.c",	1 },
	/* escapes */
	{ "^\\.$",		".",		1 },
	{ "\\.",		"a",		0 },
	{ "^\\\\$",		"\\",		1 },
	{ "^\\t\\n\\r\\f\\v\\a$", "\t\n\r\f\v\a", 1 },
	{ "^\\x41\\x{42}$",	"AB",		1 },
	{ "^\\x{263a}$",	"\xe2\x98\xba",	1 },
	{ "^\\101$",		"A",		1 },	/* octal */
	{ "^\\Qa.b\\E$",	"a.b",		1 },
	{ "^\\Qa.b\\E$",	"axb",		0 },
	{ "^\\Qa*",		"a*",		1 },	/* no \E: to the end */
	{ "^\\*\\+\\?\\(\\)\\{\\}\\|\\$$", "*+?(){}|$", 1 },
	{ "^a}$",		"a}",		1 },
	/* groups and alternation */
	{ "^(ab)+$",		"abab",		1 },
	{ "^(?:ab)+$",		"aba",		0 },
	{ "^(?P<x>a|b)c$",	"bc",		1 },
	{ "^(?<x>a)$",		"a",		1 },
	{ "^(a|bc|)$",		"",		1 },
	{ "^(a|bc)$",		"bc",		1 },
	{ "^(a|bc)$",		"b",		0 },
	{ "cat|dog",		"hotdog",	1 },
	{ "a|",			"x",		1 },
	{ "^()$",		"",		1 },
	{ "^(|a)+$",		"aa",		1 },
	/* repetition, greedy and not (same answers) */
	{ "^a*$",		"",		1 },
	{ "^a+$",		"",		0 },
	{ "^a?b$",		"b",		1 },
	{ "^a{2}$",		"aa",		1 },
	{ "^a{2}$",		"aaa",		0 },
	{ "^a{2,}$",		"aaaa",		1 },
	{ "^a{2,}$",		"a",		0 },
	{ "^a{2,3}$",		"aaa",		1 },
	{ "^a{2,3}$",		"aaaa",		0 },
	{ "^a{0}$",		"",		1 },
	{ "^a{0}b$",		"b",		1 },
	{ "^a{0,}$",		"aaa",		1 },
	{ "^(ab){2}$",		"abab",		1 },
	{ "^a{,2}$",		"a{,2}",	1 },	/* not a repeat */
	{ "^a{x}$",		"a{x}",		1 },
	{ "^a{1,2}?$",		"aa",		1 },
	{ "^a*?$",		"aaa",		1 },
	{ "^a+?b$",		"aab",		1 },
	{ "^a??b$",		"ab",		1 },
	{ "^x*?y$",		"y",		1 },
	{ "^(a*)*$",		"aaa",		1 },
	{ "^(a*)+$",		"",		1 },
	{ "^(a|)*b$",		"aab",		1 },
	{ "^(a+|b+)*c$",	"aabbac",	1 },
	{ "^(?:a{2}){3}$",	"aaaaaa",	1 },
	{ "^(?:a{2}){3}$",	"aaaaa",	0 },
	{ "^(?:a{1,2}){2}$",	"aaa",		1 },
	{ "^[ab]{3,5}$",	"abab",		1 },
	{ "^[ab]{3,5}$",	"ababab",	0 },
	{ "a(?i)*",		"aa",		1 },	/* * repeats the a */
	{ "^\\b*a$",		"a",		1 },
	/* anchors: ^ $ are the text's ends unless (?m) */
	{ "^a",			"ba",		0 },
	{ "a$",			"ab",		0 },
	{ "a$",			"a\n",		0 },	/* Python: 1 */
	{ "(?m)a$",		"a\nb",		1 },
	{ "(?m)^b",		"a\nb",		1 },
	{ "^b",			"a\nb",		0 },
	{ "\\Aa",		"ba",		0 },
	{ "a\\z",		"a",		1 },
	{ "a\\z",		"a\n",		0 },
	{ "(?m)\\Ab",		"a\nb",		0 },
	{ "(?m)a\\z",		"a\nb",		0 },
	{ "$a",			"a",		0 },
	{ "^$",			"",		1 },
	{ "^$",			"\n",		0 },	/* Python: 1 */
	{ "(?m)^$",		"a\n",		1 },
	{ "(?m)^$",		"ab",		0 },
	{ "a^b",		"ab",		0 },
	/* word boundaries, ASCII word characters */
	{ "\\bfoo\\b",		"a foo b",	1 },
	{ "\\bfoo\\b",		"afoob",	0 },
	{ "\\Bfoo",		"afoo",		1 },
	{ "\\Bfoo",		"foo",		0 },
	{ "\\b",		"",		0 },
	{ "\\B",		"",		1 },	/* Python: 0 */
	{ "\xc3\xa9\\b",	"\xc3\xa9",	0 },	/* Python: 1 */
	{ "a\\b\xc3\xa9",	"a\xc3\xa9",	1 },	/* Python: 0 */
	{ "a\\b",		"a\xc3\xa9",	1 },
	/* flags */
	{ "(?i)abc",		"xABCx",	1 },
	{ "(?i)\xc3\x89T\xc3\x89", "\xc3\xa9t\xc3\xa9", 1 },
	{ "(?i)k",		"\xe2\x84\xaa",	1 },	/* Kelvin sign */
	{ "(?i)\xe2\x84\xaa",	"k",		1 },
	{ "(?i)s",		"\xc5\xbf",	1 },	/* long s */
	{ "(?i)\xce\xa3",	"\xcf\x82",	1 },	/* final sigma */
	{ "(?i)\xd0\x96",	"\xd0\xb6",	1 },	/* Cyrillic zhe */
	{ "(?i)^[a-c]+$",	"ABC",		1 },
	{ "(?i)[^a]",		"A",		0 },
	{ "(?i)[[:upper:]]",	"a",		1 },
	{ "(?i)\\W",		"\xe2\x84\xaa",	0 },	/* Go folds, then negates */
	{ "a(?i)b",		"aB",		1 },
	{ "a(?i)b",		"AB",		0 },
	{ "(?i:a)b",		"Ab",		1 },
	{ "(?i:a)b",		"AB",		0 },
	{ "(?i)a(?-i)b",	"Ab",		1 },
	{ "(?i)a(?-i)b",	"AB",		0 },
	{ "(a(?i)b)c",		"aBC",		0 },	/* (?i) ends with the group */
	{ "(a(?i)b)c",		"aBc",		1 },
	{ "(?U)^a+$",		"aa",		1 },
	{ "(?s).",		"\n",		1 },
	{ "(?s-s).",		"\n",		0 },
	{ "(?ms)^a.b$",		"x\na\nb",	1 },
	{ "(?)a",		"a",		1 },
	{ NULL,			NULL,		0 }
};

struct ecase {
	const char	*re;
	const char	*why;	/* after "error parsing regexp: " */
};

static const struct ecase errors[] = {
	{ "(",		"missing closing ): `(`" },
	{ "a)",		"unexpected ): `a)`" },
	{ "(a))(",	"unexpected ): `(a))(`" },
	{ "x[a",	"missing closing ]: `[a`" },
	{ "[]",		"missing closing ]: `[]`" },
	{ "*a",		"missing argument to repetition operator: `*`" },
	{ "*?a",	"missing argument to repetition operator: `*?`" },
	{ "a|*",	"missing argument to repetition operator: `*`" },
	{ "(*)",	"missing argument to repetition operator: `*`" },
	{ "{2}",	"missing argument to repetition operator: `{2}`" },
	{ "(?i)*",	"missing argument to repetition operator: `*`" },
	{ "a**",	"invalid nested repetition operator: `**`" },
	{ "a**?",	"invalid nested repetition operator: `**?`" },
	{ "a+{2}",	"invalid nested repetition operator: `+{2}`" },
	{ "\\q",	"invalid escape sequence: `\\q`" },
	{ "\\8",	"invalid escape sequence: `\\8`" },
	{ "[\\b]",	"invalid escape sequence: `\\b`" },
	{ "\\x4",	"invalid escape sequence: `\\x4`" },
	{ "\\Z",	"invalid escape sequence: `\\Z`" },
	{ "a{2,1}",	"invalid repeat count: `{2,1}`" },
	{ "a{1001}",	"invalid repeat count: `{1001}`" },
	{ "a{0,1001}",	"invalid repeat count: `{0,1001}`" },
	{ "(a{2}){501}", "invalid repeat count: `{501}`" },
	{ "(a{2}){501}?", "invalid repeat count: `{501}?`" },
	{ "((a{10}){10}){11}", "invalid repeat count: `{11}`" },
	{ "[z-a]",	"invalid character class range: `z-a`" },
	{ "[a-\\d]",	"invalid character class range: `a-\\d`" },
	{ "[[:nope:]]",	"invalid character class range: `[:nope:]`" },
	{ "a\\",	"trailing backslash at end of expression: ``" },
	{ "(?x)",	"invalid or unsupported Perl syntax: `(?x`" },
	{ "(?",		"invalid or unsupported Perl syntax: `(?`" },
	{ "(?-)",	"invalid or unsupported Perl syntax: `(?-)`" },
	{ "(?i-)",	"invalid or unsupported Perl syntax: `(?i-)`" },
	{ "(?i",	"invalid or unsupported Perl syntax: `(?i`" },
	{ "(?P<n",	"invalid named capture: `(?P<n`" },
	{ "(?P<>a)",	"invalid named capture: `(?P<>`" },
	{ "(?P<a-b>x)",	"invalid named capture: `(?P<a-b>`" },
	{ "a\xff",	"invalid UTF-8: `\xff`" },
	{ NULL,		NULL }
};

static int
match(const char *re, const char *in, size_t inlen, char **why)
{
	struct regex	*rx;
	int		 r;

	if (regex_compile(re, strlen(re), &rx, why) == -1)
		return -1;
	r = regex_match(rx, in, inlen);
	regex_free(rx);
	return r;
}

/* s with control characters as \n, \x01: a static buffer. */
static const char *
vis(const char *s)
{
	static char	buf[2][256];
	static int	which;
	char		*o = buf[which ^= 1];
	size_t		 n = 0;

	for (; *s != '\0' && n + 5 < sizeof(buf[0]); s++) {
		if (*s == '\n')
			n += (size_t)snprintf(o + n, 5, "\\n");
		else if ((unsigned char)*s < 0x20)
			n += (size_t)snprintf(o + n, 5, "\\x%02x",
			    (unsigned char)*s);
		else
			o[n++] = *s;
	}
	o[n] = '\0';
	return o;
}

static void
table(void)
{
	char	*why;
	size_t	 i;
	int	 r;

	for (i = 0; cases[i].re != NULL; i++) {
		r = match(cases[i].re, cases[i].in, strlen(cases[i].in),
		    &why);
		ok(r == cases[i].want, "/%s/ on \"%s\" is %s, as in Go%s%s",
		    vis(cases[i].re), vis(cases[i].in), cases[i].want ? "a match" :
		    "no match", why ? ": " : "", why ? why : "");
		free(why);
	}
	/* NULs are characters, in the pattern and in the value */
	is_int(match("a\\x00b", "a\0b", 3, &why), 1,
	    "\\x00 in a pattern matches a NUL in the value");
	is_int(match("^a.b$", "a\0b", 3, &why), 1, ". matches a NUL");
	free(why);
}

static void
errors_as_go(void)
{
	struct regex	*rx;
	char		*why, want[256];
	size_t		 i;

	for (i = 0; errors[i].re != NULL; i++) {
		snprintf(want, sizeof(want), "error parsing regexp: %s",
		    errors[i].why);
		if (regex_compile(errors[i].re, strlen(errors[i].re), &rx,
		    &why) == 0) {
			regex_free(rx);
			ok(0, "/%s/ is refused", errors[i].re);
			continue;
		}
		is_str(why, want, "/%s/ is refused in Go's words",
		    errors[i].re);
		free(why);
	}
}

/*
 * Compile pat, match it against in[0..n), check the answer and that the
 * steps stay within 2 * program size per byte (and one program's worth
 * at the start): linear, whatever the pattern.
 */
static void
linear(const char *name, const char *pat, const char *in, size_t n,
    int want)
{
	struct regex	*rx;
	char		*why;
	uint64_t	 bound;
	int		 r;

	if (regex_compile(pat, strlen(pat), &rx, &why) == -1) {
		ok(0, "%s compiles: %s", name, why);
		free(why);
		return;
	}
	r = regex_match(rx, in, n);
	bound = 2 * (uint64_t)regex_size(rx) * (n + 1);
	ok(r == want && regex_steps(rx) <= bound,
	    "%s: %s in %llu steps (bound %llu: %zu bytes x %zu "
	    "instructions)", name, r ? "matches" : "no match",
	    (unsigned long long)regex_steps(rx), (unsigned long long)bound,
	    n, regex_size(rx));
	regex_free(rx);
}

static void
pathological(void)
{
	char	*buf, *pat, *p;
	size_t	 n = 100000, i;

	buf = xmalloc(n + 1);
	memset(buf, 'a', n);
	linear("(.?){900}$ on 10 KB (glibc: 14.5 s)", "(.?){900}$", buf,
	    10000, 1);
	linear("(.?){900}x on 10 KB, failing", "(.?){900}x", buf, 10000, 0);
	for (i = 0; i < n; i++)
		buf[i] = i % 3 == 0 ? 'b' : 'a';
	linear("(a|b|ab|ba)*c on 100 KB (glibc: quadratic, > 20 s)",
	    "(a|b|ab|ba)*c", buf, n, 0);
	memset(buf, 'x', n);
	linear("(x+x+)+y on 10 KB", "(x+x+)+y", buf, 10000, 0);
	linear("(x+x+)+y on 100 KB", "(x+x+)+y", buf, n, 0);
	linear("(x*)*y on 100 KB", "(x*)*y", buf, n, 0);
	linear("(x|xx)*y on 100 KB", "(x|xx)*y", buf, n, 0);
	linear("x{1000} on 1000 x", "^x{1000}$", buf, 1000, 1);
	linear("x{1000} on 999 x", "^x{1000}$", buf, 999, 0);
	linear("(x{1,1000})?$ on 10 KB", "(x{1,1000})?$", buf, 10000, 1);
	linear("(.*){1000}y on 10 KB", "(.*){1000}y", buf, 10000, 0);

	/* the deepest nesting Go allows, matched */
	pat = xmalloc(2 * 1000 + 8);
	p = pat;
	for (i = 0; i < 997; i++)
		*p++ = '(';
	p += sprintf(p, "x*y");
	for (i = 0; i < 997; i++)
		*p++ = ')';
	*p = '\0';
	linear("997 nested groups around x*y (Go's height 1000) on 100 KB",
	    pat, buf, n, 0);
	free(pat);
	free(buf);
}

static void
bounds(void)
{
	struct regex	*rx;
	char		*why, *pat, *p;
	size_t		 i, depth;
	int		 rc;

	/* nesting: Go's tree height, 1000 */
	pat = xmalloc(2 * 1001 + 8);
	for (depth = 999; depth <= 1000; depth++) {
		p = pat;
		for (i = 0; i < depth; i++)
			*p++ = '(';
		*p++ = 'a';
		for (i = 0; i < depth; i++)
			*p++ = ')';
		rc = regex_compile(pat, (size_t)(p - pat), &rx, &why);
		if (depth == 999)
			ok(rc == 0, "999 groups around a literal compile, as "
			    "in Go");
		else
			ok(rc == -1 && strncmp(why, NESTS, strlen(NESTS)) ==
			    0 && strlen(why) == strlen(NESTS) + 2001 + 1,
			    "1000 groups nest too deeply, as in Go, quoting "
			    "the whole pattern");
		regex_free(rx);
		free(why);
	}
	/* unclosed: Go says missing ), not too deep */
	memset(pat, '(', 2000);
	rc = regex_compile(pat, 2000, &rx, &why);
	ok(rc == -1 && strncmp(why, "error parsing regexp: missing closing )",
	    39) == 0, "2000 unclosed groups are a missing )");
	free(why);
	free(pat);

	/* a string of literals is one level of Go's tree */
	pat = xmalloc(2 * 1000 + 8);
	p = pat;
	for (i = 0; i < 999; i++)
		*p++ = '(';
	p += sprintf(p, "abc");
	for (i = 0; i < 999; i++)
		*p++ = ')';
	rc = regex_compile(pat, (size_t)(p - pat), &rx, &why);
	ok(rc == 0, "999 groups around a literal string compile, as in Go");
	regex_free(rx);
	free(pat);

	/* repeat counts: Go's repeatIsValid */
	rc = regex_compile("(a{2}){500}", 11, &rx, &why);
	ok(rc == 0, "nested counts multiplying to 1000 compile");
	regex_free(rx);
	rc = regex_compile("(a*){1000}", 10, &rx, &why);
	ok(rc == 0, "a star inside a count of 1000 compiles (not counted)");
	regex_free(rx);
	rc = regex_compile("(a{0,}){1000}", 13, &rx, &why);
	ok(rc == 0, "{0,} inside a count is not counted, as in Go");
	regex_free(rx);

	/*
	 * Documented difference: programs stop at REGEX_MAXPROG
	 * instructions (Go: about 3.3 million).
	 */
	rc = regex_compile("a{1000}a{1000}a{1000}a{1000}a{999}", 34, &rx,
	    &why);
	ok(rc == 0 && regex_size(rx) == 5000,
	    "a program of REGEX_MAXPROG instructions compiles");
	regex_free(rx);
	rc = regex_compile("a{1000}a{1000}a{1000}a{1000}a{1000}", 35, &rx,
	    &why);
	is_str(why, "error parsing regexp: expression too large: "
	    "`a{1000}a{1000}a{1000}a{1000}a{1000}`",
	    "difference from Go: one more instruction is too large");
	free(why);
	rc = regex_compile("((((((((((){1000}){1000}", 24, &rx, &why);
	ok(rc == -1, "empty groups repeated cannot spin the compiler");
	free(why);
}

static void
differences(void)
{
	struct regex	*rx;
	char		*why;
	int		 rc;

	/* \p{..} classes are refused (Go accepts them) */
	rc = regex_compile("\\p{Greek}", 9, &rx, &why);
	is_str(why, "error parsing regexp: invalid escape sequence: `\\p`",
	    "difference from Go: \\p{Greek} is refused");
	free(why);
	/* (?i) folds only some scripts (Go: all of Unicode) */
	is_int(match("(?i)\xc4\x81", "\xc4\x80", 2, &why), 0,
	    "difference from Go: (?i) does not fold Latin Extended-A");
	/* duplicate group names are accepted (Go refuses them) */
	rc = regex_compile("(?P<n>a)(?P<n>b)", 16, &rx, &why);
	ok(rc == 0, "difference from Go: duplicate group names compile");
	regex_free(rx);
}

int
main(void)
{
	table();
	errors_as_go();
	pathological();
	bounds();
	differences();
	return tap_done();
}
