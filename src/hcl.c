/*
 * hcl.c -- a parser for HCL version 1 (HashiCorp Configuration Language)
 * producing a json-c tree.  It reads the server's configuration file and
 * Consul ACL policy rules.
 *
 * The token set, the grammar and the error texts follow hashicorp/hcl at
 * its v1 branch (hcl/scanner/scanner.go, hcl/parser/parser.go,
 * hcl/strconv/quote.go, hcl/token/token.go).  Errors read
 * "At LINE:COL: ...", columns counting characters, as HCL1's PosError.
 *
 * The result is the JSON a consumer would decode from the same content
 * written as JSON, so that rules written either way feed one consumer:
 *
 *	service "web" { policy = "write" }
 *	    -> {"service":{"web":{"policy":"write"}}}
 *
 * A key path given twice merges when both values are objects (two
 * "service" blocks, two "acl" blocks); otherwise the last value wins.
 * With HCL_REPEAT_LIST (ACL rules) a repeated block instead becomes a
 * list of its bodies, as HCL1 decodes repeated blocks into a slice.
 * Like hcl.Parse(), input whose first non-blank character is '{' is JSON
 * and goes to json-c's strict tokener.
 *
 * Where HCL1 misbehaves we do not follow it:
 *  - a missing value at the end of the input is an error (HCL1 drops
 *    the item silently);
 *  - "<<-EOF" may end on an unindented "EOF" line (HCL1 wants at least
 *    one blank before it);
 *  - ".5e3" is 500 (HCL1 scans ".5e" and fails);
 *  - "a { b = }" reports the '}' (HCL1 skips that error and reports a
 *    later one);
 *  - escapes that would put NUL or invalid UTF-8 into a string are
 *    errors (HCL1 lets them through, or panics);
 *  - "Unknown token" names the token's type only (HCL1 prints its text,
 *    which for a bare word in the config file could be a secret);
 *  - JSON input is plain JSON: HCL1's JSON parser also flattens lists
 *    of objects into repeated blocks; we do not (XXX if rules need it).
 * Non-ASCII letters are approximated; see isletter().
 *
 * No global state: everything lives in one struct parser per call.
 */
#include "config.h"

#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "hcl.h"
#include "utf8.h"

#define CH_EOF	(-1)		/* end of input */
#define CH_BAD	(-2)		/* the first byte the scanner refuses */

enum tt {
	T_EOF,
	T_IDENT,
	T_NUMBER,
	T_FLOAT,
	T_BOOL,
	T_STRING,
	T_HEREDOC,
	T_LBRACK,
	T_LBRACE,
	T_COMMA,
	T_PERIOD,
	T_RBRACK,
	T_RBRACE,
	T_ASSIGN,
	T_ADD,
	T_SUB,
	T__MAX
};

/* Token names as HCL1's token.Type.String() spells them in errors. */
static const char *const tt_names[T__MAX] = {
	[T_EOF] = "EOF",
	[T_IDENT] = "IDENT",
	[T_NUMBER] = "NUMBER",
	[T_FLOAT] = "FLOAT",
	[T_BOOL] = "BOOL",
	[T_STRING] = "STRING",
	[T_HEREDOC] = "HEREDOC",
	[T_LBRACK] = "LBRACK",
	[T_LBRACE] = "LBRACE",
	[T_COMMA] = "COMMA",
	[T_PERIOD] = "PERIOD",
	[T_RBRACK] = "RBRACK",
	[T_RBRACE] = "RBRACE",
	[T_ASSIGN] = "ASSIGN",
	[T_ADD] = "ADD",
	[T_SUB] = "SUB",
};

struct scan {
	const char	*buf;		/* source, CR LF folded to LF */
	size_t		 len;
	size_t		 bad;		/* offset of the first bad byte, or len */
	const char	*badmsg;	/* why that byte is bad */
	size_t		 off;		/* offset of the next character */
	int		 line, col;	/* its position, both from 1 */
	struct perr	*e;
};

struct tok {
	enum tt		 type;
	size_t		 off, len;	/* text in scan.buf */
	int		 line, col;
};

struct key {
	char		*s;		/* the key, unquoted */
	struct tok	 t;		/* as written, for messages */
};

struct parser {
	struct scan	 sc;
	struct tok	 tok;		/* the last token read */
	int		 unread;	/* give tok again on the next read */
	int		 fatal;		/* error not to be wrapped by lists */
	int		 nkeys;		/* keys of the items being parsed */
	struct key	 keys[HCL_MAX_DEPTH];
	int		 flags;		/* HCL_REPEAT_LIST */
	struct perr	*e;
};

static int	parse_body(struct parser *, struct json_object *, int, int);
static int	parse_object(struct parser *, int, struct json_object **);
static int	parse_list(struct parser *, int, struct json_object **);

/*
 * json-c returns NULL only when out of memory; like x*(), give up then.
 */
static struct json_object *
jnn(struct json_object *o)
{
	if (o == NULL)
		fatalx("out of memory building JSON");
	return o;
}

static void
jadd(struct json_object *obj, const char *k, struct json_object *v)
{
	if (json_object_object_add(obj, k, v) != 0)
		fatalx("out of memory building JSON");
}

/*
 * The code point at p[0..n) (n > 0) and its width in *sz, or -1 when
 * the bytes are not UTF-8 as Go reads it (utf8.c).
 */
static int32_t
utf8_decode(const char *p, size_t n, size_t *sz)
{
	uint32_t	r;
	int		bad;

	*sz = utf8_decode_rune(p, n, &r, &bad);
	return bad ? -1 : (int32_t)r;
}

/*
 * Find the first byte HCL1's scanner refuses wherever it meets it: NUL,
 * invalid UTF-8 and U+E123.  Returns its offset (len when there is none)
 * and the scanner's text for it.
 */
static size_t
find_bad(const char *buf, size_t len, const char **why)
{
	size_t	 i, sz;
	int32_t	 c;

	*why = NULL;
	for (i = 0; i < len; i += sz) {
		sz = 1;
		if (buf[i] == '\0') {
			*why = "unexpected null character (0x00)";
			return i;
		}
		if ((unsigned char)buf[i] < 0x80)
			continue;
		c = utf8_decode(buf + i, len - i, &sz);
		if (c == -1) {
			*why = "illegal UTF-8 encoding";
			return i;
		}
		if (c == 0xe123) {
			*why = "unicode code point U+E123 reserved for "
			    "internal use";
			return i;
		}
	}
	return len;
}

/* Line and column (characters, from 1) of offset off, counted from from. */
static void
pos_walk(const char *buf, size_t from, size_t off, int *line, int *col)
{
	size_t	i;

	for (i = from; i < off; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80)
			(*col)++;
	}
}

/*
 * The character at offset off: a code point, CH_EOF or CH_BAD.  Bytes
 * before sc->bad are valid UTF-8, so decoding cannot fail there.
 */
static int32_t
ch_at(const struct scan *s, size_t off, size_t *sz)
{
	int32_t	c;

	*sz = 0;
	if (off >= s->bad)
		return s->bad == s->len ? CH_EOF : CH_BAD;
	c = utf8_decode(s->buf + off, s->len - off, sz);
	return c < 0 ? CH_BAD : c;
}

static int32_t
cur(const struct scan *s)
{
	size_t	sz;

	return ch_at(s, s->off, &sz);
}

/* The character after the current one. */
static int32_t
peek1(const struct scan *s)
{
	size_t	sz, sz2;

	if (ch_at(s, s->off, &sz) < 0)
		return CH_EOF;
	return ch_at(s, s->off + sz, &sz2);
}

static void
adv(struct scan *s)
{
	int32_t	c;
	size_t	sz;

	if ((c = ch_at(s, s->off, &sz)) < 0)
		return;
	s->off += sz;
	if (c == '\n') {
		s->line++;
		s->col = 1;
	} else
		s->col++;
}

/* A scanner error at the current position.  Returns -1. */
static int
serr(struct scan *s, const char *msg)
{
	if (cur(s) == CH_BAD)
		msg = s->badmsg;
	return perr_set(s->e, 400, "At %d:%d: %s", s->line, s->col, msg);
}

static int
isdec(int32_t c)
{
	return c >= '0' && c <= '9';
}

static int
digitval(int32_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 16;
}

/*
 * HCL1 takes any Unicode letter (Go's unicode.IsLetter).  Without
 * Unicode tables we take every non-ASCII character except the blocks of
 * spaces, punctuation, symbols and specials that people paste by
 * mistake.  XXX not the exact Unicode letter class.
 */
static int
isletter(int32_t c)
{
	static const struct {
		int32_t	lo, hi;
	} notletter[] = {
		{ 0x80, 0xa9 }, { 0xab, 0xb4 }, { 0xb6, 0xb9 }, { 0xbb, 0xbf },
		{ 0xd7, 0xd7 }, { 0xf7, 0xf7 }, { 0x2000, 0x206f },
		{ 0x2190, 0x23ff }, { 0x2500, 0x27bf }, { 0x2e00, 0x2e7f },
		{ 0x3000, 0x3004 }, { 0x3008, 0x3020 }, { 0xe000, 0xf8ff },
		{ 0xfeff, 0xfeff }, { 0xfff0, 0xffff }, { 0x1f000, 0x1faff },
	};
	size_t	i;

	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
		return 1;
	if (c < 0x80)
		return 0;
	for (i = 0; i < sizeof(notletter) / sizeof(notletter[0]); i++)
		if (c >= notletter[i].lo && c <= notletter[i].hi)
			return 0;
	return 1;
}

/* '#' and '//' comments end with the line, block comments at star-slash. */
static int
scan_comment(struct scan *s)
{
	int32_t	c;

	if (cur(s) == '/' && peek1(s) != '/' && peek1(s) != '*')
		return serr(s, "expected '/' for comment");
	if (cur(s) == '#' || peek1(s) == '/') {
		while ((c = cur(s)) != '\n' && c != CH_EOF) {
			if (c == CH_BAD)
				return serr(s, "");
			adv(s);
		}
		return 0;
	}
	adv(s);
	adv(s);
	for (;;) {
		if ((c = cur(s)) < 0)
			return serr(s, "comment not terminated");
		adv(s);
		if (c == '*' && cur(s) == '/') {
			adv(s);
			return 0;
		}
	}
}

/*
 * A number: decimal, 0x hexadecimal or 0-prefixed octal integers, and
 * floats with a fraction and/or an exponent (".5" too).  A leading '-'
 * has been consumed.  Whether the digits make a valid value is decided
 * when the token is converted, as HCL1 does.
 */
static int
scan_number(struct scan *s, enum tt *type)
{
	int32_t	c;
	int	isfloat = 0, octal = 0, bad8 = 0;

	if (cur(s) == '0') {
		adv(s);
		c = cur(s);
		if (c == 'x' || c == 'X') {
			adv(s);
			if (digitval(cur(s)) >= 16)
				return serr(s, "illegal hexadecimal number");
			while (digitval(cur(s)) < 16)
				adv(s);
			*type = T_NUMBER;
			return 0;
		}
		octal = 1;
	}
	while (isdec(c = cur(s))) {
		if (c >= '8')
			bad8 = 1;
		adv(s);
	}
	if (c == '.') {
		isfloat = 1;
		adv(s);
		while (isdec(c = cur(s)))
			adv(s);
	}
	if (c == 'e' || c == 'E') {
		isfloat = 1;
		adv(s);
		if ((c = cur(s)) == '+' || c == '-')
			adv(s);
		while (isdec(cur(s)))
			adv(s);
	}
	if (!isfloat && octal && bad8)
		return serr(s, "illegal octal number");
	*type = isfloat ? T_FLOAT : T_NUMBER;
	return 0;
}

/* n digits below base after an escape; EOF is left to the string loop. */
static int
scan_digits(struct scan *s, int base, int n)
{
	int32_t	c;

	while (n-- > 0) {
		if ((c = cur(s)) == CH_EOF)
			return 0;
		if (digitval(c) >= base)
			return serr(s, "illegal char escape");
		adv(s);
	}
	return 0;
}

/* The escape after a backslash; its value is decoded by unquote(). */
static int
scan_escape(struct scan *s)
{
	int32_t	c;

	switch ((c = cur(s))) {
	case CH_EOF:
		return 0;
	case 'a': case 'b': case 'f': case 'n': case 'r': case 't':
	case 'v': case '\\': case '"':
		adv(s);
		return 0;
	case '0': case '1': case '2': case '3':
	case '4': case '5': case '6': case '7':
		return scan_digits(s, 8, 3);
	case 'x':
		adv(s);
		return scan_digits(s, 16, 2);
	case 'u':
		adv(s);
		return scan_digits(s, 16, 4);
	case 'U':
		adv(s);
		return scan_digits(s, 16, 8);
	default:
		return serr(s, "illegal char escape");
	}
}

/*
 * A quoted string.  Inside "${...}" quotes do not end the string and
 * newlines are allowed, braces nesting, as in HCL1.
 */
static int
scan_string(struct scan *s)
{
	int32_t	c;
	size_t	braces = 0;

	adv(s);
	for (;;) {
		c = cur(s);
		if (c == CH_BAD)
			return serr(s, "");
		if (c == CH_EOF || (c == '\n' && braces == 0))
			return serr(s, "literal not terminated");
		adv(s);
		if (c == '"' && braces == 0)
			return 0;
		if (braces == 0 && c == '$' && cur(s) == '{') {
			braces++;
			adv(s);
		} else if (braces > 0 && c == '{')
			braces++;
		if (braces > 0 && c == '}')
			braces--;
		if (c == '\\' && scan_escape(s) == -1)
			return -1;
	}
}

/*
 * Does line [b, b + n) end a heredoc named name?  Blanks may precede the
 * name and carriage returns follow it (HCL1: ^[[:space:]]*NAME\r*\z).
 */
static int
heredoc_end(const char *b, size_t n, const char *name, size_t nlen)
{
	size_t	i = 0;

	while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\v' ||
	    b[i] == '\f' || b[i] == '\r'))
		i++;
	if (n - i < nlen || memcmp(b + i, name, nlen) != 0)
		return 0;
	for (i += nlen; i < n; i++)
		if (b[i] != '\r')
			return 0;
	return 1;
}

/*
 * <<NAME or <<-NAME, a newline, lines, and a line holding NAME followed
 * by a newline (HCL1 requires that last newline too).
 */
static int
scan_heredoc(struct scan *s)
{
	const char	*name;
	size_t		 start, nlen, line;
	int32_t		 c;

	adv(s);
	if (cur(s) != '<')
		return serr(s, "heredoc expected second '<', didn't see it");
	adv(s);
	start = s->off;
	if (cur(s) == '-')
		adv(s);
	while (isletter(c = cur(s)) || isdec(c))
		adv(s);
	if (c == CH_EOF)
		return serr(s, "heredoc not terminated");
	if (c != '\n')
		return serr(s, "invalid characters in heredoc anchor");
	name = s->buf + start;
	nlen = s->off - start;
	if (nlen > 0 && name[0] == '-') {
		name++;
		nlen--;
	}
	if (nlen == 0)
		return serr(s, "zero-length heredoc anchor");
	adv(s);
	line = s->off;
	for (;;) {
		if ((c = cur(s)) == CH_EOF)
			return serr(s, "heredoc not terminated");
		if (c == CH_BAD)
			return serr(s, "");
		if (c == '\n' && heredoc_end(s->buf + line, s->off - line,
		    name, nlen)) {
			adv(s);
			return 0;
		}
		adv(s);
		if (c == '\n')
			line = s->off;
	}
}

/*
 * Read the next token into t, skipping blanks and comments.  Returns 0,
 * or -1 with a scanner error set.
 */
static int
scan(struct scan *s, struct tok *t)
{
	int32_t	c;

	for (;;) {
		c = cur(s);
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			adv(s);
		else if (c == '#' || c == '/') {
			if (scan_comment(s) == -1)
				return -1;
		} else
			break;
	}
	t->off = s->off;
	t->line = s->line;
	t->col = s->col;
	if (c == CH_EOF)
		t->type = T_EOF;
	else if (c == CH_BAD)
		return serr(s, "");
	else if (isletter(c)) {
		while (isletter(c = cur(s)) || isdec(c) || c == '-' ||
		    c == '.')
			adv(s);
		t->type = T_IDENT;
		if ((s->off - t->off == 4 &&
		    memcmp(s->buf + t->off, "true", 4) == 0) ||
		    (s->off - t->off == 5 &&
		    memcmp(s->buf + t->off, "false", 5) == 0))
			t->type = T_BOOL;
	} else if (isdec(c) || (c == '.' && isdec(peek1(s)))) {
		if (scan_number(s, &t->type) == -1)
			return -1;
	} else if (c == '-' && isdec(peek1(s))) {
		adv(s);
		if (scan_number(s, &t->type) == -1)
			return -1;
	} else {
		switch (c) {
		case '"':
			t->type = T_STRING;
			if (scan_string(s) == -1)
				return -1;
			break;
		case '<':
			t->type = T_HEREDOC;
			if (scan_heredoc(s) == -1)
				return -1;
			break;
		case '[':
			t->type = T_LBRACK;
			break;
		case ']':
			t->type = T_RBRACK;
			break;
		case '{':
			t->type = T_LBRACE;
			break;
		case '}':
			t->type = T_RBRACE;
			break;
		case ',':
			t->type = T_COMMA;
			break;
		case '=':
			t->type = T_ASSIGN;
			break;
		case '+':
			t->type = T_ADD;
			break;
		case '-':
			t->type = T_SUB;
			break;
		case '.':
			t->type = T_PERIOD;
			break;
		default:
			return serr(s, "illegal char");
		}
		if (t->type != T_STRING && t->type != T_HEREDOC)
			adv(s);
	}
	t->len = s->off - t->off;
	return 0;
}

/* A parser error at token t.  Returns -1. */
static int PC_PRINTF(3, 4)
perr_at(struct parser *p, const struct tok *t, const char *fmt, ...)
{
	char	msg[sizeof(p->e->msg)];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return perr_set(p->e, 400, "At %d:%d: %s", t->line, t->col, msg);
}

/* An error at byte off inside token t. */
static int
perr_in(struct parser *p, const struct tok *t, size_t off, const char *msg)
{
	struct tok	at = *t;

	pos_walk(p->sc.buf, t->off, off, &at.line, &at.col);
	return perr_at(p, &at, "%s", msg);
}

/* Read the next token into p->tok, or take back the unread one. */
static int
next(struct parser *p)
{
	if (p->unread) {
		p->unread = 0;
		return 0;
	}
	if (scan(&p->sc, &p->tok) == -1) {
		p->fatal = 1;
		return -1;
	}
	return 0;
}

static int
too_deep(struct parser *p, const struct tok *t)
{
	p->fatal = 1;
	return perr_at(p, t, "nesting too deep (more than %d levels)",
	    HCL_MAX_DEPTH);
}

/*
 * hcl/strconv.Unquote: the text of string token t without its quotes,
 * escapes decoded except inside "${...}", which is kept as written.
 * The scanner has checked the escapes' shape.  Escapes that would put
 * NUL or invalid UTF-8 into the string are refused.  Returns 0 and a
 * NUL-terminated malloc'd *out of *outlen bytes, or -1.
 */
static int
unquote(struct parser *p, const struct tok *t, char **out, size_t *outlen)
{
	const char	*s = p->sc.buf + t->off + 1;
	size_t		 n = t->len - 2, i = 0, o = 0, esc, braces, nd, k;
	uint32_t	 v;
	char		*b, c;

	b = xmalloc(n + 1);
	while (i < n) {
		if (s[i] == '$' && i + 1 < n && s[i + 1] == '{') {
			b[o++] = s[i++];
			b[o++] = s[i++];
			for (braces = 1; i < n && braces > 0; i++) {
				if (s[i] == '{')
					braces++;
				else if (s[i] == '}')
					braces--;
				b[o++] = s[i];
			}
			continue;
		}
		if (s[i] != '\\') {
			b[o++] = s[i++];
			continue;
		}
		esc = i;
		c = s[i + 1];
		i += 2;
		nd = 0;
		switch (c) {
		case 'a':
			v = '\a';
			break;
		case 'b':
			v = '\b';
			break;
		case 'f':
			v = '\f';
			break;
		case 'n':
			v = '\n';
			break;
		case 'r':
			v = '\r';
			break;
		case 't':
			v = '\t';
			break;
		case 'v':
			v = '\v';
			break;
		case 'x':
			nd = 2;
			break;
		case 'u':
			nd = 4;
			break;
		case 'U':
			nd = 8;
			break;
		case '0': case '1': case '2': case '3':
		case '4': case '5': case '6': case '7':
			i--;
			nd = 3;
			break;
		default:
			v = (unsigned char)c;
			break;
		}
		if (nd > 0) {
			v = 0;
			for (k = 0; k < nd && i < n; k++, i++)
				v = v * (c >= '0' && c <= '7' ? 8 : 16) +
				    (uint32_t)digitval(s[i]);
			if (k < nd || v > 0x10ffff ||
			    ((c == 'x' || isdec(c)) && v >= 0x80))
				goto bad;
			if (v >= 0xd800 && v <= 0xdfff)
				v = 0xfffd;	/* as Go's utf8.EncodeRune */
		}
		if (v == 0) {
			perr_in(p, t, t->off + 1 + esc,
			    "unexpected null character (0x00)");
			free(b);
			return -1;
		}
		o += utf8_encode_rune(v, b + o);
	}
	b[o] = '\0';
	*out = b;
	*outlen = o;
	return 0;
bad:
	perr_in(p, t, t->off + 1 + esc, "illegal char escape");
	free(b);
	return -1;
}

/*
 * A heredoc's value, cut from the token text as HCL1's unindentHeredoc()
 * cuts it: "<<" keeps the lines as written; "<<-" removes the
 * terminator line's indentation from every line when all lines have it.
 */
static struct json_object *
heredoc_value(const char *t, size_t len)
{
	struct json_object	*o;
	const char		*body, *ln, *nl, *pre;
	size_t			 idx, blen, plen, bn, end;
	char			*b;
	int			 indented;

	idx = (const char *)memchr(t, '\n', len) - t;
	if (t[2] != '-') {
		end = len - idx + 1;
		return jnn(json_object_new_string_len(t + idx + 1,
		    (int)(end > idx + 1 ? end - idx - 1 : 0)));
	}
	body = t + idx + 1;
	end = len - idx + 2;
	blen = end > idx + 1 ? end - idx - 1 : 0;
	pre = memrchr(body, '\n', blen);
	pre = pre == NULL ? body : pre + 1;
	plen = body + blen - pre;
	indented = 1;
	for (ln = body; ln < pre; ln = nl + 1) {
		nl = memchr(ln, '\n', pre - ln);
		if ((size_t)(nl - ln) < plen || memcmp(ln, pre, plen) != 0) {
			indented = 0;
			break;
		}
	}
	if (!indented) {
		/* The terminator's indentation is trimmed, not the lines'. */
		bn = end - 1 > idx + 1 ? end - 1 - idx - 1 : 0;
		while (bn > 0 && (body[bn - 1] == ' ' || body[bn - 1] == '\t'))
			bn--;
		return jnn(json_object_new_string_len(body, (int)bn));
	}
	b = xmalloc(blen + 1);
	bn = 0;
	for (ln = body; ln < pre; ln = nl + 1) {
		nl = memchr(ln, '\n', pre - ln);
		memcpy(b + bn, ln + plen, nl - ln - plen);
		bn += nl - ln - plen;
		b[bn++] = '\n';
	}
	o = jnn(json_object_new_string_len(b, (int)bn));
	free(b);
	return o;
}

/*
 * strconv.ParseInt(text, 0, 64): an optional sign, then 0x hexadecimal,
 * 0-prefixed octal or decimal.  Returns 0 or -1 with *why set to Go's
 * reason.
 */
static int
parse_int(const char *s, size_t n, int64_t *out, const char **why)
{
	uint64_t	 v = 0, lim;
	size_t		 i = 0;
	int		 neg = 0, base = 10, d;

	*why = "invalid syntax";
	if (i < n && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	if (n - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
		base = 16;
		i += 2;
	} else if (n - i > 1 && s[i] == '0') {
		base = 8;
		i++;
	}
	if (i == n)
		return -1;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < n; i++) {
		if ((d = digitval(s[i])) >= base)
			return -1;
		if (v > (lim - (uint64_t)d) / (uint64_t)base) {
			*why = "value out of range";
			return -1;
		}
		v = v * (uint64_t)base + (uint64_t)d;
	}
	if (!neg)
		*out = (int64_t)v;
	else if (v == (uint64_t)INT64_MAX + 1)
		*out = INT64_MIN;
	else
		*out = -(int64_t)v;
	return 0;
}

/*
 * strconv.ParseFloat(text, 64) in the C locale, kept with the shortest
 * text that reads back to the same double, so that 0.1 serialises as
 * 0.1.  Returns 0 or -1 with *why set.
 */
static int
parse_float(const char *s, size_t n, struct json_object **out,
    const char **why)
{
	locale_t	 c_loc, old;
	char		*txt, *end, buf[40];
	double		 d;
	int		 prec, rc = -1;

	*why = "invalid syntax";
	if ((c_loc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0)) == 0)
		fatalx("newlocale: out of memory");
	old = uselocale(c_loc);
	txt = xstrndup(s, n);
	d = strtod(txt, &end);
	if (end != txt + n || n == 0)
		goto out;
	if (isinf(d)) {
		*why = "value out of range";
		goto out;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	/* "1e+03" reads better as "1000.0"; "100" would read as an integer. */
	if (strchr(buf, 'e') != NULL && d > -1e16 && d < 1e16 &&
	    d == (double)(int64_t)d)
		snprintf(buf, sizeof(buf), "%.1f", d);
	if (strpbrk(buf, ".e") == NULL)
		memcpy(buf + strlen(buf), ".0", 3);
	*out = jnn(json_object_new_double_s(d, buf));
	rc = 0;
out:
	free(txt);
	uselocale(old);
	freelocale(c_loc);
	return rc;
}

/* The JSON value of literal token t (NUMBER to HEREDOC). */
static int
literal(struct parser *p, const struct tok *t, struct json_object **out)
{
	const char	*s = p->sc.buf + t->off, *why;
	char		*str;
	size_t		 n;
	int64_t		 i;

	switch (t->type) {
	case T_BOOL:
		*out = jnn(json_object_new_boolean(s[0] == 't'));
		return 0;
	case T_NUMBER:
		if (parse_int(s, t->len, &i, &why) == -1)
			return perr_at(p, t,
			    "strconv.ParseInt: parsing \"%.*s\": %s",
			    t->len > 64 ? 64 : (int)t->len, s, why);
		*out = jnn(json_object_new_int64(i));
		return 0;
	case T_FLOAT:
		if (parse_float(s, t->len, out, &why) == -1)
			return perr_at(p, t,
			    "strconv.ParseFloat: parsing \"%.*s\": %s",
			    t->len > 64 ? 64 : (int)t->len, s, why);
		return 0;
	case T_STRING:
		if (t->len > INT_MAX)
			return perr_at(p, t, "string too long");
		if (unquote(p, t, &str, &n) == -1)
			return -1;
		*out = jnn(json_object_new_string_len(str, (int)n));
		free(str);
		return 0;
	case T_HEREDOC:
		if (t->len > INT_MAX)
			return perr_at(p, t, "string too long");
		*out = heredoc_value(s, t->len);
		return 0;
	default:
		abort();
	}
}

/*
 * Store val under dst[key]: two objects merge key by key, recursively;
 * anything else replaces what was there.  Takes ownership of val.
 */
static void
merge_set(struct json_object *dst, const char *key, struct json_object *val)
{
	struct json_object	*old;

	if (json_object_object_get_ex(dst, key, &old) &&
	    json_object_is_type(old, json_type_object) &&
	    json_object_is_type(val, json_type_object)) {
		json_object_object_foreach(val, k, v)
			merge_set(old, k, json_object_get(v));
		json_object_put(val);
		return;
	}
	jadd(dst, key, val);
}

/*
 * HCL_REPEAT_LIST: a block whose full key path was already given makes
 * a list of both bodies instead of merging them, as HCL1's decoder
 * keeps repeated blocks apart: in rules, service "web" {policy="deny"}
 * then service "web" {policy="read"} are two rules for one name, merged
 * later by precedence (deny wins), not one rule with the last value.
 * Returns 1 when it stored val (taking it), 0 to merge as usual.
 */
static int
repeat_add(struct json_object *dst, const char *key, struct json_object *val)
{
	struct json_object	*old, *arr;

	if (!json_object_is_type(val, json_type_object) ||
	    !json_object_object_get_ex(dst, key, &old))
		return 0;
	if (json_object_is_type(old, json_type_object)) {
		arr = jnn(json_object_new_array());
		json_object_array_add(arr, json_object_get(old));
		json_object_array_add(arr, val);
		jadd(dst, key, arr);
		return 1;
	}
	if (json_object_is_type(old, json_type_array) &&
	    json_object_array_length(old) > 0 &&
	    json_object_is_type(json_object_array_get_idx(old, 0),
	    json_type_object)) {
		json_object_array_add(old, val);
		return 1;
	}
	return 0;
}

/*
 * Put val at obj[k1][k2]...[kn] for the keys from base up, making (or
 * replacing non-objects by) the intermediate objects.
 */
static void
place(struct parser *p, struct json_object *obj, int base,
    struct json_object *val)
{
	struct json_object	*child;
	int			 i;

	for (i = base; i < p->nkeys - 1; i++) {
		if (!json_object_object_get_ex(obj, p->keys[i].s, &child) ||
		    !json_object_is_type(child, json_type_object)) {
			child = jnn(json_object_new_object());
			jadd(obj, p->keys[i].s, child);
		}
		obj = child;
	}
	if ((p->flags & HCL_REPEAT_LIST) && repeat_add(obj,
	    p->keys[p->nkeys - 1].s, val))
		return;
	merge_set(obj, p->keys[p->nkeys - 1].s, val);
}

/* "key 'a "b"' expected ...": the keys as written, space-separated. */
static int
key_error(struct parser *p, int base)
{
	char	buf[256];
	size_t	o = 0, n;
	int	i;

	buf[0] = '\0';
	for (i = base; i < p->nkeys && o < sizeof(buf) - 1; i++) {
		if (i > base)
			buf[o++] = ' ';
		n = p->keys[i].t.len;
		if (n > sizeof(buf) - 1 - o)
			n = sizeof(buf) - 1 - o;
		memcpy(buf + o, p->sc.buf + p->keys[i].t.off, n);
		o += n;
		buf[o] = '\0';
	}
	return perr_at(p, &p->tok, "key '%s' expected start of object ('{') "
	    "or assignment ('=')", buf);
}

static void
pop_keys(struct parser *p, int base)
{
	while (p->nkeys > base)
		free(p->keys[--p->nkeys].s);
}

/*
 * A value after '=' in an object at depth depth: a literal, an object or
 * a list.  Returns 0 with *out set, or -1.
 */
static int
parse_value(struct parser *p, int depth, struct json_object **out)
{
	if (next(p) == -1)
		return -1;
	switch (p->tok.type) {
	case T_NUMBER:
	case T_FLOAT:
	case T_BOOL:
	case T_STRING:
	case T_HEREDOC:
		return literal(p, &p->tok, out);
	case T_LBRACE:
		return parse_object(p, depth + 1, out);
	case T_LBRACK:
		return parse_list(p, depth + 1, out);
	default:
		/*
		 * HCL1 prints the whole token here ("%+v"); the text of a
		 * bare word could be a secret from the config file, so we
		 * name its type only.  At the end of the input HCL1 drops
		 * the item silently; we refuse it.
		 */
		return perr_at(p, &p->tok, "Unknown token: %s",
		    tt_names[p->tok.type]);
	}
}

/*
 * One item of an object at depth depth: keys, then "= value" or "{ body }".
 * Returns 0 when an item was stored in obj, 1 at the end of the input
 * before any key, -1 on error.
 */
static int
parse_item(struct parser *p, struct json_object *obj, int depth)
{
	struct json_object	*val = NULL;
	struct key		*k;
	size_t			 n;
	int			 base = p->nkeys, nk;

	for (;;) {
		if (next(p) == -1)
			goto fail;
		nk = p->nkeys - base;
		switch (p->tok.type) {
		case T_EOF:
			if (nk == 0)
				return 1;
			key_error(p, base);
			goto fail;
		case T_IDENT:
		case T_STRING:
			/* Two or more keys make nested objects. */
			if ((nk >= 1 && depth + nk + 1 > HCL_MAX_DEPTH) ||
			    p->nkeys >= HCL_MAX_DEPTH) {
				too_deep(p, &p->tok);
				goto fail;
			}
			k = &p->keys[p->nkeys];
			k->t = p->tok;
			if (p->tok.type == T_IDENT)
				k->s = xstrndup(p->sc.buf + p->tok.off,
				    p->tok.len);
			else if (unquote(p, &p->tok, &k->s, &n) == -1)
				goto fail;
			p->nkeys++;
			continue;
		case T_ASSIGN:
			if (nk > 1) {
				perr_at(p, &p->tok, "nested object expected: "
				    "LBRACE got: ASSIGN");
				goto fail;
			}
			if (nk == 0) {
				perr_at(p, &p->tok, "no object keys found!");
				goto fail;
			}
			if (parse_value(p, depth, &val) == -1)
				goto fail;
			break;
		case T_LBRACE:
			if (nk == 0) {
				perr_at(p, &p->tok,
				    "expected: IDENT | STRING got: LBRACE");
				goto fail;
			}
			if (parse_object(p, depth + nk, &val) == -1)
				goto fail;
			break;
		case T_RBRACE:
			if (nk > 0) {
				key_error(p, base);
				goto fail;
			}
			/* FALLTHROUGH */
		default:
			perr_at(p, &p->tok, "expected: IDENT | STRING | ASSIGN "
			    "| LBRACE got: %s", tt_names[p->tok.type]);
			goto fail;
		}
		break;
	}
	place(p, obj, base, val);
	pop_keys(p, base);
	return 0;
fail:
	pop_keys(p, base);
	return -1;
}

/*
 * Items of the object obj at depth depth until the end of the input or,
 * inbraces, a '}' (left unread).  A comma may follow each item.
 */
static int
parse_body(struct parser *p, struct json_object *obj, int depth,
    int inbraces)
{
	int	r;

	for (;;) {
		if (inbraces) {
			if (next(p) == -1)
				return -1;
			p->unread = 1;
			if (p->tok.type == T_RBRACE)
				return 0;
		}
		if ((r = parse_item(p, obj, depth)) != 0)
			return r == 1 ? 0 : -1;
		if (next(p) == -1)
			return -1;
		if (p->tok.type != T_COMMA)
			p->unread = 1;
	}
}

/* An object at depth depth, its '{' just read. */
static int
parse_object(struct parser *p, int depth, struct json_object **out)
{
	struct json_object	*obj;

	if (depth > HCL_MAX_DEPTH)
		return too_deep(p, &p->tok);
	obj = jnn(json_object_new_object());
	if (parse_body(p, obj, depth, 1) == -1 || next(p) == -1)
		goto fail;
	if (p->tok.type != T_RBRACE) {
		perr_at(p, &p->tok, "object expected closing RBRACE got: %s",
		    tt_names[p->tok.type]);
		goto fail;
	}
	*out = obj;
	return 0;
fail:
	json_object_put(obj);
	return -1;
}

/*
 * A list at depth depth, its '[' just read: literals, objects and lists,
 * comma-separated, a trailing comma allowed.  As in HCL1, stray commas
 * are skipped and a nested list needs no comma after it.
 */
static int
parse_list(struct parser *p, int depth, struct json_object **out)
{
	struct json_object	*arr, *v;
	struct tok		 open;
	int			 needcomma = 0, r;

	if (depth > HCL_MAX_DEPTH)
		return too_deep(p, &p->tok);
	arr = jnn(json_object_new_array());
	for (;;) {
		if (next(p) == -1)
			goto fail;
		open = p->tok;
		if (needcomma && open.type != T_COMMA &&
		    open.type != T_RBRACK) {
			perr_at(p, &open, "error parsing list, expected comma "
			    "or list end, got: %s", tt_names[open.type]);
			goto fail;
		}
		switch (open.type) {
		case T_NUMBER:
		case T_FLOAT:
		case T_BOOL:
		case T_STRING:
		case T_HEREDOC:
			if (literal(p, &open, &v) == -1)
				goto fail;
			needcomma = 1;
			break;
		case T_COMMA:
			needcomma = 0;
			continue;
		case T_LBRACE:
		case T_LBRACK:
			if (open.type == T_LBRACE)
				r = parse_object(p, depth + 1, &v);
			else
				r = parse_list(p, depth + 1, &v);
			if (r == -1) {
				if (!p->fatal)
					perr_prefix(p->e, "At %d:%d: error "
					    "while trying to parse %s within "
					    "list: ", open.line, open.col,
					    open.type == T_LBRACE ? "object" :
					    "list");
				goto fail;
			}
			needcomma = open.type == T_LBRACE;
			break;
		case T_RBRACK:
			*out = arr;
			return 0;
		default:
			perr_at(p, &open, "unexpected token while parsing "
			    "list: %s", tt_names[open.type]);
			goto fail;
		}
		if (json_object_array_add(arr, v) != 0)
			fatalx("out of memory building JSON");
	}
fail:
	json_object_put(arr);
	return -1;
}

/*
 * JSON input, as hcl.Parse() takes it: json-c's strict tokener, the same
 * depth limit, nothing but blanks after the object, no NUL in any
 * string or key (json-c would cut a key short at it).
 */
static int
parse_json(const char *src, size_t len, struct json_object **out,
    struct perr *e)
{
	struct json_tokener	*tok;
	struct json_object	*obj;
	const char		*why, *msg;
	size_t			 i, end;
	int			 line = 1, col = 1;

	if ((i = find_bad(src, len, &why)) < len) {
		msg = why;
		goto err;
	}
	for (i = 0; i + 1 < len; i++) {
		if (src[i] != '\\')
			continue;
		if (src[i + 1] == 'u' && len - i >= 6 &&
		    memcmp(src + i + 2, "0000", 4) == 0) {
			msg = "unexpected null character (0x00)";
			goto err;
		}
		i++;
	}
	if (len > INT_MAX) {
		i = 0;
		msg = "input too long";
		goto err;
	}
	if ((tok = json_tokener_new_ex(HCL_MAX_DEPTH)) == NULL)
		fatalx("out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, src, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (obj == NULL) {
		msg = json_tokener_error_desc(json_tokener_get_error(tok));
		if (json_tokener_get_error(tok) == json_tokener_continue)
			msg = "unexpected end of JSON input";
		json_tokener_free(tok);
		i = end > len ? len : end;
		goto err;
	}
	json_tokener_free(tok);
	for (i = end; i < len; i++)
		if (strchr(" \t\r\n", src[i]) == NULL) {
			json_object_put(obj);
			msg = "invalid character after top-level value";
			goto err;
		}
	*out = obj;
	return 0;
err:
	pos_walk(src, 0, i, &line, &col);
	return perr_set(e, 400, "At %d:%d: %s", line, col, msg);
}

/*
 * Parse len bytes of HCL1 (or, starting with '{', JSON) at src into a
 * new json-c object, which the caller json_object_put()s.  Returns 0 and
 * sets *out, or returns -1 with *out NULL and e set to status 400 and
 * "At LINE:COL: reason" in HCL1's words.  Thread-safe; src need not be
 * NUL-terminated.
 */
int
hcl_parse(const char *src, size_t len, struct json_object **out,
    struct perr *e)
{
	return hcl_parse_flags(src, len, 0, out, e);
}

/*
 * hcl_parse() with flags: HCL_REPEAT_LIST keeps repeated blocks with one
 * key path as a list of their bodies (ACL rules) instead of merging
 * them (the configuration file).
 */
int
hcl_parse_flags(const char *src, size_t len, int flags,
    struct json_object **out, struct perr *e)
{
	struct parser		*p;
	struct json_object	*root;
	char			*buf;
	size_t			 i, n;
	int			 rc;

	*out = NULL;
	for (i = 0; i < len && strchr(" \t\r\n\v\f", src[i]) != NULL &&
	    src[i] != '\0'; i++)
		;
	if (i < len && src[i] == '{')
		return parse_json(src, len, out, e);

	/* hcl.Parse() folds CR LF to LF before scanning. */
	buf = xmalloc(len + 1);
	for (i = n = 0; i < len; i++)
		if (src[i] != '\r' || i + 1 == len || src[i + 1] != '\n')
			buf[n++] = src[i];
	buf[n] = '\0';

	p = xcalloc(1, sizeof(*p));
	p->flags = flags;
	p->e = e;
	p->sc.e = e;
	p->sc.buf = buf;
	p->sc.len = n;
	p->sc.bad = find_bad(buf, n, &p->sc.badmsg);
	p->sc.line = p->sc.col = 1;
	root = jnn(json_object_new_object());
	rc = parse_body(p, root, 1, 0);
	pop_keys(p, 0);
	free(p);
	free(buf);
	if (rc == -1) {
		json_object_put(root);
		return -1;
	}
	*out = root;
	return 0;
}
