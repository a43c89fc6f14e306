/*
 * bexpr.c -- Consul's filter expression language: the ?filter= query
 * parameter of every list endpoint (GET /v1/acl/tokens,
 * /v1/connect/intentions, ...) and the Selector of ACL binding rules.
 *
 * Consul pins HashiCorp go-bexpr v0.1.2 (its go.mod and vendor/ tree)
 * and calls bexpr.CreateFilter(args.Filter, nil, reply.X), so that is
 * the version reproduced here, not the JSON-pointer dialect of later
 * go-bexpr releases:
 *
 *  - the grammar is go-bexpr's grammar.peg, run the way the pigeon PEG
 *    generator runs it, so that syntax errors read exactly as Consul
 *    prints them ("1:12 (11): rule \"string\": Unterminated string
 *    literal", "1:4 (3): no match found, expected: ...");
 *  - against a schema (the Go type go-bexpr reflects on) the expression
 *    is validated at compile time with go-bexpr's validate.go wording:
 *    unknown selector, operator not supported by the field type, value
 *    that does not coerce (strconv's own error text), bad regexp;
 *  - matching follows evaluate.go: a list of objects in the middle of
 *    a selector matches when any element does, a missing map key takes
 *    the operator's "not present" answer, a missing struct field is the
 *    Go zero value.
 *
 * Without a schema (dynamic mode) any selector is accepted and looked up
 * in the JSON at match time; operators are applied according to the JSON
 * type found there, and an operator that does not apply to that type is
 * false (its negation too): a compiled filter never fails at match time.
 *
 * Regular expressions are compiled once by regex.c: Go's RE2 syntax and
 * error texts, matched on code points in time linear in the value (a
 * Pike VM, no recursion, no backtracking).
 *
 * Limits, so that no input can cost much: BEXPR_MAXLEN bytes of
 * expression, BEXPR_MAXDEPTH nested parentheses (go-bexpr has neither),
 * regular expressions of REGEX_MAXPROG instructions each and
 * RE_MAXTOTAL in all (Go's "expression too large" comes at about 3.3
 * million instructions per regexp: a documented difference, which
 * bounds a match to about 2 * len(value) * REGEX_MAXPROG steps).
 * The parser runs in time linear in the input; all errors are 500s with
 * Consul's text, as its list endpoints return them.
 *
 * Relies on json-c for the documents and on the arena of portcullis.h
 * for the syntax tree, which lives as long as the struct bexpr.
 */
#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "bexpr.h"
#include "regex.h"
#include "utf8.h"

#define FILTER_PREFIX	"Failed to create boolean expression evaluator: "
#define PLABELS		64	/* distinct expected labels kept */
#define PERRORS		32	/* distinct parse errors kept */
#define RE_MAXTOTAL	(4 * REGEX_MAXPROG)	/* all regexps of a filter */

/* Match operators, in go-bexpr's order; names as its String() spells them. */
enum bop {
	BOP_EQ,
	BOP_NE,
	BOP_IN,
	BOP_NOTIN,
	BOP_EMPTY,
	BOP_NOTEMPTY,
	BOP_MATCHES,
	BOP_NOTMATCHES,
	BOP__MAX
};

static const char *const bop_names[BOP__MAX] = {
	"Equal", "Not Equal", "In", "Not In", "Is Empty", "Is Not Empty",
	"Matches", "Not Matches"
};

#define OPBIT(o)	(1u << (o))
#define OPS_ALL		((1u << BOP__MAX) - 1)

/* Internal value types beyond enum bexpr_ftype. */
#define BT_ANY		100	/* BF_MAP_ANY value: string or list */
#define BT_DYN		101	/* no schema: whatever the JSON holds */

struct bstr {
	char	*p;		/* NUL-terminated, may hold NULs */
	size_t	 len;
};

/* One selector part, resolved against the schema. */
struct bstep {
	struct bstr			 name;
	int				 type;	/* type of the value reached */
	const struct bexpr_field	*sub;
};

struct bmatch {
	enum bop	 op;
	struct bstep	*steps;
	size_t		 nsteps;
	int		 has_value;
	struct bstr	 raw;		/* the value as written */
	int		 int_ok, uint_ok, dbl_ok, bool_ok;
	int64_t		 ival;
	uint64_t	 uval;
	double		 dval;
	int		 bval;
	struct regex	*re;
};

enum bnkind {
	BN_AND,
	BN_OR,
	BN_NOT,
	BN_MATCH
};

struct bnode {
	enum bnkind	 kind;
	struct bnode	*kids;		/* AND, OR: list; NOT: the operand */
	struct bnode	*next;		/* sibling */
	struct bmatch	 m;
};

struct bregex {
	struct regex	*re;
	struct bregex	*next;
};

struct bexpr {
	struct arena	*arena;
	struct bnode	*root;
	struct bregex	*regs;
	size_t		 re_total;	/* instructions, all regexps */
	int		 dyn;		/* compiled without a schema */
};

/*
 * Growable byte buffer, always NUL-terminated.
 */
struct sbuf {
	char	*p;
	size_t	 len, cap;
};

static void
sb_addn(struct sbuf *b, const void *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_adds(struct sbuf *b, const char *s)
{
	sb_addn(b, s, strlen(s));
}

static void
sb_addc(struct sbuf *b, int c)
{
	char	ch = (char)c;

	sb_addn(b, &ch, 1);
}

static void	sb_printf(struct sbuf *, const char *, ...) PC_PRINTF(2, 3);

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("out of memory");
	sb_addn(b, s, (size_t)n);
	free(s);
}

/*
 * Approximation of Go's unicode.IsPrint for runes >= 0x80: spaces other
 * than U+0020, controls, format characters and private use are not
 * printable.
 */
static int
go_isprint(uint32_t r)
{
	if (r <= 0xa0 || r == 0xad || r == 0x1680 || r == 0x3000 ||
	    r == 0xfeff || (r >= 0x2000 && r <= 0x200f) ||
	    (r >= 0x2028 && r <= 0x202f) || (r >= 0x205f && r <= 0x206f) ||
	    (r >= 0xe000 && r <= 0xf8ff) || (r >= 0xfff9 && r <= 0xfffb) ||
	    r == 0xfffe || r == 0xffff || r >= 0xf0000)
		return 0;
	return 1;
}

/* Append s quoted as Go's strconv.Quote (and so fmt's %q) does. */
static void
sb_quote(struct sbuf *b, const char *s, size_t n)
{
	uint32_t	r;
	size_t		i, w;
	int		bad;

	sb_addc(b, '"');
	for (i = 0; i < n; i += w) {
		w = utf8_decode_rune(s + i, n - i, &r, &bad);
		if (bad) {
			sb_printf(b, "\\x%02x", (unsigned char)s[i]);
			continue;
		}
		switch (r) {
		case '"':
			sb_adds(b, "\\\"");
			break;
		case '\\':
			sb_adds(b, "\\\\");
			break;
		case '\a':
			sb_adds(b, "\\a");
			break;
		case '\b':
			sb_adds(b, "\\b");
			break;
		case '\f':
			sb_adds(b, "\\f");
			break;
		case '\n':
			sb_adds(b, "\\n");
			break;
		case '\r':
			sb_adds(b, "\\r");
			break;
		case '\t':
			sb_adds(b, "\\t");
			break;
		case '\v':
			sb_adds(b, "\\v");
			break;
		default:
			if (r < 0x20 || r == 0x7f)
				sb_printf(b, "\\x%02x", (unsigned)r);
			else if (r < 0x80 || go_isprint(r))
				sb_addn(b, s + i, w);
			else if (r < 0x10000)
				sb_printf(b, "\\u%04x", (unsigned)r);
			else
				sb_printf(b, "\\U%08x", (unsigned)r);
		}
	}
	sb_addc(b, '"');
}

/* Selector parts joined with ".", as go-bexpr's Selector.String(). */
static void
sb_selector(struct sbuf *b, const struct bstep *st, size_t n)
{
	struct sbuf	j = { NULL, 0, 0 };
	size_t		i;

	sb_addn(&j, "", 0);
	for (i = 0; i < n; i++) {
		if (i > 0)
			sb_addc(&j, '.');
		sb_addn(&j, st[i].name.p, st[i].name.len);
	}
	sb_quote(b, j.p, j.len);
	free(j.p);
}

/*
 * Go's strconv number and boolean parsing, error texts included, as
 * go-bexpr's Coerce* functions use them.
 */
enum {
	NUM_OK,
	NUM_SYNTAX,
	NUM_RANGE
};

static int
lower(int c)
{
	return c | ('x' - 'X');
}

/* strconv's underscoreOK: underscores only between digits. */
static int
go_underscore_ok(const char *s, size_t n)
{
	size_t	i = 0;
	int	saw = '^', hex = 0;

	if (n >= 1 && (s[0] == '-' || s[0] == '+')) {
		s++;
		n--;
	}
	if (n >= 2 && s[0] == '0' && (lower(s[1]) == 'b' ||
	    lower(s[1]) == 'o' || lower(s[1]) == 'x')) {
		i = 2;
		saw = '0';
		hex = lower(s[1]) == 'x';
	}
	for (; i < n; i++) {
		if ((s[i] >= '0' && s[i] <= '9') ||
		    (hex && lower(s[i]) >= 'a' && lower(s[i]) <= 'f')) {
			saw = '0';
			continue;
		}
		if (s[i] == '_') {
			if (saw != '0')
				return 0;
			saw = '_';
			continue;
		}
		if (saw == '_')
			return 0;
		saw = '!';
	}
	return saw != '_';
}

/* strconv.ParseUint(s, 0, 64). */
static int
go_parse_uint(const char *s, size_t n, uint64_t *out)
{
	const char	*s0 = s;
	size_t		 n0 = n, i;
	uint64_t	 v = 0, v1, cutoff;
	unsigned	 base = 10, d;
	int		 underscores = 0, c;

	*out = 0;
	if (n == 0)
		return NUM_SYNTAX;
	if (s[0] == '0') {
		if (n >= 3 && lower(s[1]) == 'b') {
			base = 2;
			s += 2;
			n -= 2;
		} else if (n >= 3 && lower(s[1]) == 'o') {
			base = 8;
			s += 2;
			n -= 2;
		} else if (n >= 3 && lower(s[1]) == 'x') {
			base = 16;
			s += 2;
			n -= 2;
		} else {
			base = 8;
			s++;
			n--;
		}
	}
	cutoff = UINT64_MAX / base + 1;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '_') {
			underscores = 1;
			continue;
		} else if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (lower(c) >= 'a' && lower(c) <= 'z')
			d = (unsigned)(lower(c) - 'a' + 10);
		else
			return NUM_SYNTAX;
		if (d >= base)
			return NUM_SYNTAX;
		if (v >= cutoff) {
			*out = UINT64_MAX;
			return NUM_RANGE;
		}
		v *= base;
		v1 = v + d;
		if (v1 < v) {
			*out = UINT64_MAX;
			return NUM_RANGE;
		}
		v = v1;
	}
	if (underscores && !go_underscore_ok(s0, n0))
		return NUM_SYNTAX;
	*out = v;
	return NUM_OK;
}

/* strconv.ParseInt(s, 0, 64). */
static int
go_parse_int(const char *s, size_t n, int64_t *out)
{
	uint64_t	u;
	int		neg = 0, rc;

	*out = 0;
	if (n == 0)
		return NUM_SYNTAX;
	if (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-';
		s++;
		n--;
	}
	rc = go_parse_uint(s, n, &u);
	if (rc == NUM_SYNTAX)
		return rc;
	if (!neg && u >= (uint64_t)1 << 63)
		return NUM_RANGE;
	if (neg && u > (uint64_t)1 << 63)
		return NUM_RANGE;
	*out = neg ? (int64_t)(0 - u) : (int64_t)u;
	return NUM_OK;
}

/* strconv.ParseBool. */
static int
go_parse_bool(const char *s, size_t n, int *out)
{
	static const char *const t[] = { "1", "t", "T", "TRUE", "true",
	    "True", NULL };
	static const char *const f[] = { "0", "f", "F", "FALSE", "false",
	    "False", NULL };
	size_t	i;

	for (i = 0; t[i] != NULL; i++)
		if (strlen(t[i]) == n && memcmp(t[i], s, n) == 0) {
			*out = 1;
			return NUM_OK;
		}
	for (i = 0; f[i] != NULL; i++)
		if (strlen(f[i]) == n && memcmp(f[i], s, n) == 0) {
			*out = 0;
			return NUM_OK;
		}
	return NUM_SYNTAX;
}

/* strconv.ParseFloat(s, 64), approximately (no underscores). */
static int
go_parse_float(const char *s, size_t n, double *out)
{
	char	*end;

	*out = 0;
	if (n == 0 || memchr(s, '\0', n) != NULL || s[0] == ' ' ||
	    s[0] == '\t' || s[0] == '\n' || s[0] == '\r' || s[0] == '\f' ||
	    s[0] == '\v' || memchr(s, '_', n) != NULL)
		return NUM_SYNTAX;
	if ((n >= 2 && s[0] == '0' && lower(s[1]) == 'x') ||
	    (n >= 3 && (s[0] == '-' || s[0] == '+') && s[1] == '0' &&
	    lower(s[2]) == 'x'))
		if (memchr(s, 'p', n) == NULL && memchr(s, 'P', n) == NULL)
			return NUM_SYNTAX;
	errno = 0;
	*out = strtod(s, &end);
	if (end != s + n)
		return NUM_SYNTAX;
	return errno == ERANGE ? NUM_RANGE : NUM_OK;
}

/* "strconv.ParseInt: parsing \"x\": invalid syntax" */
static void
sb_numerr(struct sbuf *b, const char *fn, const char *s, size_t n, int rc)
{
	sb_printf(b, "strconv.%s: parsing ", fn);
	sb_quote(b, s, n);
	sb_adds(b, rc == NUM_RANGE ? ": value out of range" :
	    ": invalid syntax");
}

/*
 * The parser: go-bexpr's grammar.peg, run as pigeon runs it.
 *
 * Each p_* function is one rule.  Pigeon tracks the farthest position at
 * which a literal, character class or "." failed (inside a !-lookahead:
 * succeeded) and the labels expected there; when the parse fails with
 * no error recorded, that is the message.  Errors are recorded by the
 * &{ } predicates of the grammar, by the string action (strconv.Unquote)
 * and by invalid UTF-8, each prefixed with line:col (offset) and the
 * rule being parsed, then deduplicated.  Alternatives that pigeon parses
 * twice from the same position (A x / A) are parsed once here: a second
 * parse repeats the same side effects, which deduplication removes, so
 * the errors stay the same while the time becomes linear.
 */
struct plabel {
	const char	*s;
	int		 inv;
};

struct perror {
	size_t		 pos;
	const char	*rule;
	const char	*msg;
};

struct pstate {
	const char	*s;
	size_t		 n;
	size_t		 pos;
	int		 invert;	/* inside a !-lookahead */
	const char	*rule;		/* as pigeon prints it */
	size_t		 failpos;
	struct plabel	 fail[PLABELS];
	size_t		 nfail;
	struct perror	 errs[PERRORS];
	size_t		 nerrs;
	int		 depth;
	int		 toodeep;
	struct arena	*a;
	/* last Selector parsed: pos, invert -> end, parts */
	int		 memo_ok;
	size_t		 memo_pos, memo_end;
	int		 memo_inv;
	struct bstr	*memo_part;
	size_t		 memo_n;
};

struct psel {
	struct bstr	*part;
	size_t		 n, cap;
};

static const char *const lbl_ws = "[ \\t\\r\\n]";
static const char *const lbl_alpha = "[a-zA-Z]";
static const char *const lbl_alnum = "[a-zA-Z0-9_]";
static const char *const lbl_19 = "[1-9]";
static const char *const lbl_09 = "[0-9]";
static const char *const lbl_dq = "\"\\\"\"";

static void
fail_at(struct pstate *ps, int ok, size_t pos, const char *label)
{
	size_t	i;

	if (ok != ps->invert || pos < ps->failpos)
		return;
	if (pos > ps->failpos) {
		ps->failpos = pos;
		ps->nfail = 0;
	}
	for (i = 0; i < ps->nfail; i++)
		if (ps->fail[i].inv == ps->invert &&
		    strcmp(ps->fail[i].s, label) == 0)
			return;
	if (ps->nfail < PLABELS) {
		ps->fail[ps->nfail].s = label;
		ps->fail[ps->nfail].inv = ps->invert;
		ps->nfail++;
	}
}

static void
p_error(struct pstate *ps, size_t pos, const char *msg)
{
	struct perror	*pe;
	size_t		 i;

	for (i = 0; i < ps->nerrs; i++) {
		pe = &ps->errs[i];
		if (pe->pos == pos && strcmp(pe->msg, msg) == 0 &&
		    (pe->rule == ps->rule || (pe->rule != NULL &&
		    ps->rule != NULL && strcmp(pe->rule, ps->rule) == 0)))
			return;
	}
	if (ps->nerrs == PERRORS)
		return;
	pe = &ps->errs[ps->nerrs++];
	pe->pos = pos;
	pe->rule = ps->rule;
	pe->msg = msg;
}

/* pigeon reads the next rune after every match: invalid UTF-8 is an error */
static void
p_check_enc(struct pstate *ps)
{
	uint32_t	r;
	int		bad;

	if (ps->pos < ps->n) {
		utf8_decode_rune(ps->s + ps->pos, ps->n - ps->pos, &r, &bad);
		if (bad)
			p_error(ps, ps->pos, "invalid encoding");
	}
}

static void
p_adv(struct pstate *ps)
{
	uint32_t	r;
	int		bad;

	if (ps->pos >= ps->n)
		return;
	ps->pos += utf8_decode_rune(ps->s + ps->pos, ps->n - ps->pos, &r, &bad);
	p_check_enc(ps);
}

/* A literal; label is its quoted form, "\"or\"". */
static int
p_lit(struct pstate *ps, const char *label)
{
	size_t	start = ps->pos, i, len = strlen(label) - 2;

	for (i = 0; i < len; i++) {
		if (ps->pos >= ps->n || ps->s[ps->pos] != label[1 + i]) {
			fail_at(ps, 0, start, label);
			ps->pos = start;
			return 0;
		}
		p_adv(ps);
	}
	fail_at(ps, 1, start, label);
	return 1;
}

/* The one-character literal '"', whose label is not its text. */
static int
p_dquote(struct pstate *ps)
{
	size_t	start = ps->pos;

	if (ps->pos >= ps->n || ps->s[ps->pos] != '"') {
		fail_at(ps, 0, start, lbl_dq);
		return 0;
	}
	p_adv(ps);
	fail_at(ps, 1, start, lbl_dq);
	return 1;
}

static int
in_class(const char *label, int c)
{
	if (label == lbl_ws)
		return c == ' ' || c == '\t' || c == '\r' || c == '\n';
	if (label == lbl_19)
		return c >= '1' && c <= '9';
	if (label == lbl_09)
		return c >= '0' && c <= '9';
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return 1;
	return label == lbl_alnum && ((c >= '0' && c <= '9') || c == '_');
}

static int
p_cls(struct pstate *ps, const char *label)
{
	size_t	start = ps->pos;

	if (ps->pos < ps->n &&
	    in_class(label, (unsigned char)ps->s[ps->pos])) {
		p_adv(ps);
		fail_at(ps, 1, start, label);
		return 1;
	}
	fail_at(ps, 0, start, label);
	return 0;
}

static int
p_any(struct pstate *ps)
{
	size_t	start = ps->pos;

	if (ps->pos >= ps->n) {
		fail_at(ps, 0, start, ".");
		return 0;
	}
	p_adv(ps);
	fail_at(ps, 1, start, ".");
	return 1;
}

/* _ "whitespace" <- [ \t\r\n]+ */
static int
p_ws(struct pstate *ps)
{
	const char	*saved = ps->rule;
	int		 ok;

	ps->rule = "\"whitespace\"";
	if ((ok = p_cls(ps, lbl_ws)) != 0)
		while (p_cls(ps, lbl_ws))
			continue;
	ps->rule = saved;
	return ok;
}

static void
p_optws(struct pstate *ps)
{
	(void)p_ws(ps);
}

/* EOF <- !. */
static int
p_eof(struct pstate *ps)
{
	const char	*saved = ps->rule;
	size_t		 p = ps->pos;
	int		 ok;

	ps->rule = "EOF";
	ps->invert = !ps->invert;
	ok = p_any(ps);
	ps->invert = !ps->invert;
	ps->pos = p;
	ps->rule = saved;
	return !ok;
}

/*
 * strconv.Unquote of a literal including its quotes, into the arena.
 * Returns 0, or -1 for Go's ErrSyntax.
 */
static int
go_unquote(struct arena *a, const char *s, size_t n, struct bstr *out)
{
	const char	*in = s + 1;
	size_t		 len = n - 2, i, k, w, o = 0;
	uint32_t	 r, v;
	char		*buf;
	int		 bad, c, digits;

	buf = arena_alloc(a, 3 * len + 1);
	if (s[0] == '`') {
		for (i = 0; i < len; i++)
			if (in[i] != '\r')
				buf[o++] = in[i];
		goto done;
	}
	for (i = 0; i < len; ) {
		c = (unsigned char)in[i];
		if (c == '\n' || c == '"')
			return -1;
		if (c != '\\') {
			if (c < 0x80) {
				buf[o++] = (char)c;
				i++;
				continue;
			}
			w = utf8_decode_rune(in + i, len - i, &r, &bad);
			o += utf8_encode_rune(r, buf + o);
			i += w;
			continue;
		}
		if (i + 1 >= len)
			return -1;
		c = (unsigned char)in[i + 1];
		i += 2;
		switch (c) {
		case 'a':
			buf[o++] = '\a';
			break;
		case 'b':
			buf[o++] = '\b';
			break;
		case 'f':
			buf[o++] = '\f';
			break;
		case 'n':
			buf[o++] = '\n';
			break;
		case 'r':
			buf[o++] = '\r';
			break;
		case 't':
			buf[o++] = '\t';
			break;
		case 'v':
			buf[o++] = '\v';
			break;
		case '\\':
			buf[o++] = '\\';
			break;
		case 'x':
		case 'u':
		case 'U':
			digits = c == 'x' ? 2 : c == 'u' ? 4 : 8;
			if (len - i < (size_t)digits)
				return -1;
			for (v = 0, k = 0; k < (size_t)digits; k++) {
				c = lower((unsigned char)in[i + k]);
				if (c >= '0' && c <= '9')
					v = v << 4 | (uint32_t)(c - '0');
				else if (c >= 'a' && c <= 'f')
					v = v << 4 | (uint32_t)(c - 'a' + 10);
				else
					return -1;
			}
			i += (size_t)digits;
			if (digits == 2) {
				buf[o++] = (char)v;
				break;
			}
			if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
				return -1;
			o += utf8_encode_rune(v, buf + o);
			break;
		case '0': case '1': case '2': case '3':
		case '4': case '5': case '6': case '7':
			if (len - i < 2)
				return -1;
			v = (uint32_t)(c - '0');
			for (k = 0; k < 2; k++) {
				c = (unsigned char)in[i + k];
				if (c < '0' || c > '7')
					return -1;
				v = v << 3 | (uint32_t)(c - '0');
			}
			if (v > 255)
				return -1;
			i += 2;
			buf[o++] = (char)v;
			break;
		default:
			return -1;
		}
	}
done:
	buf[o] = '\0';
	out->p = buf;
	out->len = o;
	return 0;
}

/* RawStringChar <- !'`' .  and  DoubleStringChar <- !'"' . */
static int
p_strchar(struct pstate *ps, int quote)
{
	const char	*saved = ps->rule;
	size_t		 p = ps->pos;
	int		 ok;

	ps->rule = quote == '`' ? "RawStringChar" : "DoubleStringChar";
	ps->invert = !ps->invert;
	ok = quote == '`' ? p_lit(ps, "\"`\"") : p_dquote(ps);
	ps->invert = !ps->invert;
	ps->pos = p;
	if (!ok)
		ok = p_any(ps);
	else
		ok = 0;
	ps->rule = saved;
	return ok;
}

/*
 * StringLiteral "string" <- ('`' RawStringChar* '`' / '"' DoubleStringChar*
 *     '"') { strconv.Unquote } / ('`' RawStringChar* / '"'
 *     DoubleStringChar*) EOF &{ Unterminated string literal }
 */
static int
p_string(struct pstate *ps, struct bstr *out)
{
	const char	*saved = ps->rule;
	size_t		 p = ps->pos;
	int		 ok = 0;

	ps->rule = "\"string\"";
	if (p_lit(ps, "\"`\"")) {
		while (p_strchar(ps, '`'))
			continue;
		if (p_lit(ps, "\"`\""))
			goto done;
	}
	ps->pos = p;
	if (p_dquote(ps)) {
		while (p_strchar(ps, '"'))
			continue;
		if (p_dquote(ps))
			goto done;
	}
	ps->pos = p;
	if (p_lit(ps, "\"`\"")) {
		while (p_strchar(ps, '`'))
			continue;
	} else if (p_dquote(ps)) {
		while (p_strchar(ps, '"'))
			continue;
	} else
		goto out;
	if (p_eof(ps))
		p_error(ps, ps->pos, "Unterminated string literal");
	goto out;
done:
	ok = 1;
	if (go_unquote(ps->a, ps->s + p, ps->pos - p, out) == -1) {
		p_error(ps, p, "invalid syntax");
		out->p = arena_strdup(ps->a, "");
		out->len = 0;
	}
out:
	if (!ok)
		ps->pos = p;
	ps->rule = saved;
	return ok;
}

/* Identifier <- [a-zA-Z] [a-zA-Z0-9_]* */
static int
p_identifier(struct pstate *ps, struct bstr *out)
{
	const char	*saved = ps->rule;
	size_t		 p = ps->pos;
	int		 ok;

	ps->rule = "Identifier";
	if ((ok = p_cls(ps, lbl_alpha)) != 0) {
		while (p_cls(ps, lbl_alnum))
			continue;
		out->p = arena_strndup(ps->a, ps->s + p, ps->pos - p);
		out->len = ps->pos - p;
	}
	ps->rule = saved;
	return ok;
}

/*
 * IndexExpression "index" <- "[" _? StringLiteral _? "]"
 *     / "[" _? !StringLiteral &{ Invalid index }
 *     / "[" _? StringLiteral _? !"]" &{ Unclosed index expression }
 */
static int
p_index(struct pstate *ps, struct bstr *out)
{
	const char	*saved = ps->rule;
	struct bstr	 tmp;
	size_t		 p = ps->pos, q;
	int		 ok = 0, found;

	ps->rule = "\"index\"";
	if (p_lit(ps, "\"[\"")) {
		p_optws(ps);
		if (p_string(ps, out)) {
			p_optws(ps);
			if ((ok = p_lit(ps, "\"]\"")) != 0)
				goto out;
		}
	}
	ps->pos = p;
	if (p_lit(ps, "\"[\"")) {
		p_optws(ps);
		q = ps->pos;
		ps->invert = !ps->invert;
		found = p_string(ps, &tmp);
		ps->invert = !ps->invert;
		ps->pos = q;
		if (!found)
			p_error(ps, q, "Invalid index");
	}
	ps->pos = p;
	if (p_lit(ps, "\"[\"")) {
		p_optws(ps);
		if (p_string(ps, &tmp)) {
			p_optws(ps);
			q = ps->pos;
			ps->invert = !ps->invert;
			found = p_lit(ps, "\"]\"");
			ps->invert = !ps->invert;
			ps->pos = q;
			if (!found)
				p_error(ps, q, "Unclosed index expression");
		}
	}
	ps->pos = p;
out:
	ps->rule = saved;
	return ok;
}

/* SelectorOrIndex <- "." Identifier / IndexExpression */
static int
p_sel_or_index(struct pstate *ps, struct bstr *out)
{
	const char	*saved = ps->rule;
	size_t		 p = ps->pos;
	int		 ok;

	ps->rule = "SelectorOrIndex";
	if ((ok = p_lit(ps, "\".\"") && p_identifier(ps, out)) == 0) {
		ps->pos = p;
		if ((ok = p_index(ps, out)) == 0)
			ps->pos = p;
	}
	ps->rule = saved;
	return ok;
}

static void
psel_push(struct pstate *ps, struct psel *sel, const struct bstr *part)
{
	struct bstr	*np;

	if (sel->n == sel->cap) {
		sel->cap = sel->cap ? sel->cap * 2 : 4;
		np = arena_alloc(ps->a, sel->cap * sizeof(*np));
		if (sel->n > 0)
			memcpy(np, sel->part, sel->n * sizeof(*np));
		sel->part = np;
	}
	sel->part[sel->n++] = *part;
}

/*
 * Selector "selector" <- Identifier SelectorOrIndex*
 * The last successful parse is remembered: pigeon parses a selector up
 * to six times from one position, always with the same outcome.
 */
static int
p_selector(struct pstate *ps, struct psel *sel)
{
	const char	*saved = ps->rule;
	struct bstr	 part;
	size_t		 p = ps->pos, q;
	int		 ok;

	memset(sel, 0, sizeof(*sel));
	if (ps->memo_ok && ps->memo_pos == p && ps->memo_inv == ps->invert) {
		sel->part = ps->memo_part;
		sel->n = sel->cap = ps->memo_n;
		ps->pos = ps->memo_end;
		return 1;
	}
	ps->rule = "\"selector\"";
	if ((ok = p_identifier(ps, &part)) != 0) {
		psel_push(ps, sel, &part);
		for (;;) {
			q = ps->pos;
			if (!p_sel_or_index(ps, &part)) {
				ps->pos = q;
				break;
			}
			psel_push(ps, sel, &part);
		}
		ps->memo_ok = 1;
		ps->memo_pos = p;
		ps->memo_inv = ps->invert;
		ps->memo_end = ps->pos;
		ps->memo_part = sel->part;
		ps->memo_n = sel->n;
		sel->cap = sel->n;
	} else
		ps->pos = p;
	ps->rule = saved;
	return ok;
}

/* IntegerOrFloat <- ("0" / [1-9][0-9]*) ("." [0-9]+)? */
static int
p_intfloat(struct pstate *ps)
{
	const char	*saved = ps->rule;
	size_t		 p = ps->pos, q;
	int		 ok = 1;

	ps->rule = "IntegerOrFloat";
	if (!p_lit(ps, "\"0\"")) {
		if (p_cls(ps, lbl_19)) {
			while (p_cls(ps, lbl_09))
				continue;
		} else {
			ps->pos = p;
			ok = 0;
		}
	}
	if (ok) {
		q = ps->pos;
		if (p_lit(ps, "\".\"") && p_cls(ps, lbl_09)) {
			while (p_cls(ps, lbl_09))
				continue;
		} else
			ps->pos = q;
	}
	ps->rule = saved;
	return ok;
}

/* AfterNumbers <- &(_ / EOF / ")") */
static int
p_after_numbers(struct pstate *ps)
{
	const char	*saved = ps->rule;
	size_t		 p = ps->pos;
	int		 ok;

	ps->rule = "AfterNumbers";
	ok = p_ws(ps);
	if (!ok) {
		ps->pos = p;
		ok = p_eof(ps);
	}
	if (!ok) {
		ps->pos = p;
		ok = p_lit(ps, "\")\"");
	}
	ps->pos = p;
	ps->rule = saved;
	return ok;
}

/*
 * NumberLiteral "number" <- "-"? IntegerOrFloat &AfterNumbers
 *     / "-"? IntegerOrFloat !AfterNumbers &{ Invalid number literal }
 */
static int
p_number(struct pstate *ps, struct bstr *out)
{
	const char	*saved = ps->rule;
	size_t		 p = ps->pos, q;
	int		 ok = 0, after;

	ps->rule = "\"number\"";
	(void)p_lit(ps, "\"-\"");
	if (p_intfloat(ps)) {
		q = ps->pos;
		if (p_after_numbers(ps)) {
			ps->pos = q;
			out->p = arena_strndup(ps->a, ps->s + p, q - p);
			out->len = q - p;
			ok = 1;
			goto out;
		}
	}
	ps->pos = p;
	(void)p_lit(ps, "\"-\"");
	if (p_intfloat(ps)) {
		q = ps->pos;
		ps->invert = !ps->invert;
		after = p_after_numbers(ps);
		ps->invert = !ps->invert;
		ps->pos = q;
		if (!after)
			p_error(ps, q, "Invalid number literal");
	}
	ps->pos = p;
out:
	ps->rule = saved;
	return ok;
}

/* Value "value" <- Selector / NumberLiteral / StringLiteral */
static int
p_value(struct pstate *ps, struct bstr *out)
{
	const char	*saved = ps->rule;
	struct psel	 sel;
	struct sbuf	 j = { NULL, 0, 0 };
	size_t		 p = ps->pos, i;
	int		 ok = 1;

	ps->rule = "\"value\"";
	if (p_selector(ps, &sel)) {
		/* the raw value is the selector text: Name == web */
		for (i = 0; i < sel.n; i++) {
			if (i > 0)
				sb_addc(&j, '.');
			sb_addn(&j, sel.part[i].p, sel.part[i].len);
		}
		out->len = j.len;
		out->p = arena_alloc(ps->a, j.len + 1);
		memcpy(out->p, j.p, j.len);
		free(j.p);
		goto out;
	}
	ps->pos = p;
	if (p_number(ps, out))
		goto out;
	ps->pos = p;
	if (p_string(ps, out))
		goto out;
	ps->pos = p;
	ok = 0;
out:
	ps->rule = saved;
	return ok;
}

/* The match operators: each a rule of literals and whitespace. */
struct opdef {
	const char	*rule;
	enum bop	 op;
	const char	*seq[7];	/* "_", "_?" or a quoted literal */
};

static const struct opdef op_eq =
    { "MatchEqual", BOP_EQ, { "_?", "\"==\"", "_?", NULL } };
static const struct opdef op_ne =
    { "MatchNotEqual", BOP_NE, { "_?", "\"!=\"", "_?", NULL } };
static const struct opdef op_contains =
    { "MatchContains", BOP_IN, { "_", "\"contains\"", "_", NULL } };
static const struct opdef op_notcontains =
    { "MatchNotContains", BOP_NOTIN,
    { "_", "\"not\"", "_", "\"contains\"", "_", NULL } };
static const struct opdef op_matches =
    { "MatchMatches", BOP_MATCHES, { "_", "\"matches\"", "_", NULL } };
static const struct opdef op_notmatches =
    { "MatchNotMatches", BOP_NOTMATCHES,
    { "_", "\"not\"", "_", "\"matches\"", "_", NULL } };
static const struct opdef op_isempty =
    { "MatchIsEmpty", BOP_EMPTY, { "_", "\"is\"", "_", "\"empty\"", NULL } };
static const struct opdef op_isnotempty =
    { "MatchIsNotEmpty", BOP_NOTEMPTY,
    { "_", "\"is\"", "_", "\"not\"", "_", "\"empty\"", NULL } };
static const struct opdef op_in =
    { "MatchIn", BOP_IN, { "_", "\"in\"", "_", NULL } };
static const struct opdef op_notin =
    { "MatchNotIn", BOP_NOTIN, { "_", "\"not\"", "_", "\"in\"", "_", NULL } };

static const struct opdef *const ops_sel_op_value[] = { &op_eq, &op_ne,
    &op_contains, &op_notcontains, &op_matches, &op_notmatches, NULL };
static const struct opdef *const ops_sel_op[] = { &op_isempty,
    &op_isnotempty, NULL };
static const struct opdef *const ops_value_op_sel[] = { &op_in, &op_notin,
    NULL };

/* The first operator of the list that matches, or -1. */
static int
p_op(struct pstate *ps, const struct opdef *const *list)
{
	const char	*saved = ps->rule;
	const char	*t;
	size_t		 i, j, p;
	int		 ok;

	for (i = 0; list[i] != NULL; i++) {
		p = ps->pos;
		ps->rule = list[i]->rule;
		ok = 1;
		for (j = 0; ok && (t = list[i]->seq[j]) != NULL; j++) {
			if (strcmp(t, "_") == 0)
				ok = p_ws(ps);
			else if (strcmp(t, "_?") == 0)
				p_optws(ps);
			else
				ok = p_lit(ps, t);
		}
		ps->rule = saved;
		if (ok)
			return (int)list[i]->op;
		ps->pos = p;
	}
	return -1;
}

static struct bnode *
match_node(struct pstate *ps, const struct psel *sel, int op,
    const struct bstr *raw)
{
	struct bnode	*n;
	size_t		 i;

	n = arena_alloc(ps->a, sizeof(*n));
	n->kind = BN_MATCH;
	n->m.op = (enum bop)op;
	n->m.nsteps = sel->n;
	n->m.steps = arena_alloc(ps->a, sel->n * sizeof(struct bstep));
	for (i = 0; i < sel->n; i++)
		n->m.steps[i].name = sel->part[i];
	if (raw != NULL) {
		n->m.has_value = 1;
		n->m.raw = *raw;
	}
	return n;
}

/*
 * MatchExpression "match" <- MatchSelectorOpValue / MatchSelectorOp
 *     / MatchValueOpSelector
 * MatchSelectorOpValue "match" <- Selector (MatchEqual / MatchNotEqual /
 *     MatchContains / MatchNotContains / MatchMatches / MatchNotMatches)
 *     Value
 * MatchSelectorOp "match" <- Selector (MatchIsEmpty / MatchIsNotEmpty)
 * MatchValueOpSelector "match" <- Value (MatchIn / MatchNotIn) Selector
 *     / Value (MatchIn / MatchNotIn) !Selector &{ Invalid selector }
 */
static struct bnode *
p_match(struct pstate *ps)
{
	const char	*saved = ps->rule;
	struct bnode	*n = NULL;
	struct psel	 sel;
	struct bstr	 raw;
	size_t		 p = ps->pos, q;
	int		 op;

	if (ps->toodeep)
		return NULL;
	ps->rule = "\"match\"";
	if (p_selector(ps, &sel) &&
	    (op = p_op(ps, ops_sel_op_value)) != -1 && p_value(ps, &raw)) {
		n = match_node(ps, &sel, op, &raw);
		goto out;
	}
	ps->pos = p;
	if (p_selector(ps, &sel) && (op = p_op(ps, ops_sel_op)) != -1) {
		n = match_node(ps, &sel, op, NULL);
		goto out;
	}
	ps->pos = p;
	if (p_value(ps, &raw) && (op = p_op(ps, ops_value_op_sel)) != -1) {
		q = ps->pos;
		if (p_selector(ps, &sel)) {
			n = match_node(ps, &sel, op, &raw);
			goto out;
		}
		/*
		 * The second alternative would parse the same value and
		 * operator again; its !Selector holds, as the selector
		 * failed on its first character, which records nothing.
		 */
		p_error(ps, q, "Invalid selector");
	}
	ps->pos = p;
out:
	ps->rule = saved;
	return n;
}

static struct bnode	*p_or(struct pstate *);

/*
 * ParenthesizedExpression "grouping" <- "(" _? OrExpression _? ")"
 *     / MatchExpression / "(" _? OrExpression _? !")"
 *     &{ Unmatched parentheses }
 * The third alternative repeats the first up to its ")", so the outcome
 * of the first is reused.
 */
static struct bnode *
p_paren(struct pstate *ps)
{
	const char	*saved = ps->rule;
	struct bnode	*n = NULL;
	size_t		 p = ps->pos, q = 0;
	int		 opened, inner = 0;

	if (ps->toodeep)
		return NULL;
	ps->rule = "\"grouping\"";
	if ((opened = p_lit(ps, "\"(\"")) != 0) {
		if (ps->depth >= BEXPR_MAXDEPTH) {
			ps->toodeep = 1;
			goto out;
		}
		ps->depth++;
		p_optws(ps);
		if ((n = p_or(ps)) != NULL) {
			inner = 1;
			p_optws(ps);
			q = ps->pos;
			if (!p_lit(ps, "\")\""))
				n = NULL;
		}
		ps->depth--;
		if (n != NULL)
			goto out;
	}
	ps->pos = p;
	if ((n = p_match(ps)) != NULL)
		goto out;
	if (opened && inner && !ps->toodeep)
		p_error(ps, q, "Unmatched parentheses");
	ps->pos = p;
out:
	ps->rule = saved;
	return n;
}

/*
 * NotExpression <- "not" _ NotExpression / ParenthesizedExpression
 * Done with a loop: after k leading "not"s, try the innermost position
 * first and fall back outwards, as the recursion does.
 */
static struct bnode *
p_not(struct pstate *ps)
{
	const char	*saved = ps->rule;
	struct bnode	*n = NULL, *nn;
	size_t		*starts = NULL, nstarts = 0, cap = 0, p, j;

	if (ps->toodeep)
		return NULL;
	ps->rule = "NotExpression";
	for (;;) {
		p = ps->pos;
		if (!p_lit(ps, "\"not\"") || !p_ws(ps)) {
			ps->pos = p;
			break;
		}
		if (nstarts == cap) {
			cap = cap ? cap * 2 : 8;
			starts = xrealloc(starts, cap * sizeof(*starts));
		}
		starts[nstarts++] = p;
	}
	for (j = nstarts; ; j--) {
		ps->pos = j == nstarts ? p : starts[j];
		if ((n = p_paren(ps)) != NULL || j == 0)
			break;
	}
	if (n == NULL)
		ps->pos = nstarts ? starts[0] : p;
	else if (j % 2) {
		/* "not not X" is X, as pigeon's action folds it */
		nn = arena_alloc(ps->a, sizeof(*nn));
		nn->kind = BN_NOT;
		nn->kids = n;
		n = nn;
	}
	free(starts);
	ps->rule = saved;
	return n;
}

/*
 * AndExpression <- NotExpression _ "and" _ AndExpression / NotExpression
 * OrExpression <- AndExpression _ "or" _ OrExpression / AndExpression
 * Both are right-recursive chains of an associative operator: parsed as
 * a loop into one node with a list of operands.
 */
static struct bnode *
p_chain(struct pstate *ps, int or)
{
	const char	*saved = ps->rule;
	struct bnode	*first, *last, *n, *res = NULL;
	size_t		 p;

	if (ps->toodeep)
		return NULL;
	ps->rule = or ? "OrExpression" : "AndExpression";
	if ((first = or ? p_chain(ps, 0) : p_not(ps)) == NULL)
		goto out;
	res = last = first;
	for (;;) {
		p = ps->pos;
		if (!p_ws(ps) || !p_lit(ps, or ? "\"or\"" : "\"and\"") ||
		    !p_ws(ps) ||
		    (n = or ? p_chain(ps, 0) : p_not(ps)) == NULL) {
			ps->pos = p;
			break;
		}
		if (res == first) {
			res = arena_alloc(ps->a, sizeof(*res));
			res->kind = or ? BN_OR : BN_AND;
			res->kids = first;
		}
		last->next = n;
		last = n;
	}
out:
	ps->rule = saved;
	return res;
}

static struct bnode *
p_or(struct pstate *ps)
{
	return p_chain(ps, 1);
}

/*
 * Input <- _? "(" _? OrExpression _? ")" _? EOF / _? OrExpression _? EOF
 */
static struct bnode *
p_input(struct pstate *ps)
{
	struct bnode	*n;

	ps->rule = "Input";
	p_optws(ps);
	if (p_lit(ps, "\"(\"")) {
		/* counts as a level, as ParenthesizedExpression would */
		ps->depth++;
		p_optws(ps);
		n = p_or(ps);
		ps->depth--;
		if (n != NULL) {
			p_optws(ps);
			if (p_lit(ps, "\")\"")) {
				p_optws(ps);
				if (p_eof(ps))
					return n;
			}
		}
	}
	if (ps->toodeep)
		return NULL;
	ps->pos = 0;
	p_optws(ps);
	if ((n = p_or(ps)) != NULL) {
		p_optws(ps);
		if (p_eof(ps))
			return n;
	}
	return NULL;
}

/* pigeon's position: line, and column counted in runes. */
static void
p_linecol(const struct pstate *ps, size_t pos, int *line, int *col)
{
	uint32_t	r;
	size_t		i = 0, w;
	int		bad;

	*line = 1;
	*col = 1;
	if (ps->n > 0 && ps->s[0] == '\n') {
		(*line)++;
		*col = 0;
	}
	while (i < pos && i < ps->n) {
		w = utf8_decode_rune(ps->s + i, ps->n - i, &r, &bad);
		i += w;
		(*col)++;
		if (i < ps->n && ps->s[i] == '\n') {
			(*line)++;
			*col = 0;
		}
	}
}

static int
label_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The parse error as pigeon words it, into b. */
static void
p_report(const struct pstate *ps, struct sbuf *b)
{
	char	*list[PLABELS];
	size_t	 i, n = 0;
	int	 line, col, eof = 0;

	if (ps->nerrs > 0) {
		for (i = 0; i < ps->nerrs; i++) {
			if (i > 0)
				sb_addc(b, '\n');
			p_linecol(ps, ps->errs[i].pos, &line, &col);
			sb_printf(b, "%d:%d (%zu): ", line, col,
			    ps->errs[i].pos);
			if (ps->errs[i].rule != NULL)
				sb_printf(b, "rule %s: ", ps->errs[i].rule);
			sb_adds(b, ps->errs[i].msg);
		}
		return;
	}
	for (i = 0; i < ps->nfail; i++) {
		if (ps->fail[i].inv && strcmp(ps->fail[i].s, ".") == 0) {
			eof = 1;
			continue;
		}
		if (xasprintf(&list[n], "%s%s", ps->fail[i].inv ? "!" : "",
		    ps->fail[i].s) < 0)
			fatalx("out of memory");
		n++;
	}
	qsort(list, n, sizeof(list[0]), label_cmp);
	if (eof)
		list[n++] = xstrdup("EOF");
	p_linecol(ps, ps->failpos, &line, &col);
	sb_printf(b, "%d:%d (%zu): no match found, expected: ", line, col,
	    ps->failpos);
	for (i = 0; i < n; i++) {
		if (i > 0)
			sb_adds(b, i + 1 == n ? " or " : ", ");
		sb_adds(b, list[i]);
		free(list[i]);
	}
}

/*
 * Compile raw as a regexp for a matches operator (regex.c: Go's RE2, in
 * linear time).  Returns 0, or -1 with go-bexpr's "Failed to compile
 * regular expression" text in err.  The programs of one expression
 * share a budget of RE_MAXTOTAL instructions, so that many regexps
 * cannot add up to much memory or time.
 */
static int
re_compile(struct bexpr *bx, struct bmatch *m, struct sbuf *err)
{
	struct bregex	*br;
	struct regex	*re;
	char		*why = NULL;

	if (regex_compile(m->raw.p, m->raw.len, &re, &why) == 0) {
		if (bx->re_total + regex_size(re) <= RE_MAXTOTAL) {
			bx->re_total += regex_size(re);
			br = xcalloc(1, sizeof(*br));
			br->re = re;
			br->next = bx->regs;
			bx->regs = br;
			m->re = re;
			return 0;
		}
		regex_free(re);
		if (xasprintf(&why, "error parsing regexp: expression too "
		    "large: `%.*s`", (int)m->raw.len, m->raw.p) < 0)
			fatalx("out of memory");
	}
	sb_adds(err, "Failed to compile regular expression ");
	sb_quote(err, m->raw.p, m->raw.len);
	sb_printf(err, ": %s", why);
	free(why);
	return -1;
}

/*
 * Validation, as go-bexpr's validate.go: resolve the selector against
 * the schema, check that the field type supports the operator, coerce
 * the value, compile the regexp.
 */
static const struct bexpr_field *
field_find(const struct bexpr_field *f, const struct bstr *name)
{
	if (f == NULL || memchr(name->p, '\0', name->len) != NULL)
		return NULL;
	for (; f->name != NULL; f++)
		if (strcmp(f->name, name->p) == 0)
			return f;
	return NULL;
}

static unsigned
type_ops(int t)
{
	switch (t) {
	case BF_STRING:
		return OPBIT(BOP_EQ) | OPBIT(BOP_NE) | OPBIT(BOP_IN) |
		    OPBIT(BOP_NOTIN) | OPBIT(BOP_MATCHES) |
		    OPBIT(BOP_NOTMATCHES);
	case BF_INT:
	case BF_UINT:
	case BF_BOOL:
		return OPBIT(BOP_EQ) | OPBIT(BOP_NE);
	case BF_MAP_STRING:
	case BF_MAP_LIST:
	case BF_MAP_ANY:
	case BF_LIST_STRING:
		return OPBIT(BOP_IN) | OPBIT(BOP_NOTIN) | OPBIT(BOP_EMPTY) |
		    OPBIT(BOP_NOTEMPTY);
	case BF_LIST_STRUCT:
		return OPBIT(BOP_EMPTY) | OPBIT(BOP_NOTEMPTY);
	case BT_ANY:
	case BT_DYN:
		return OPS_ALL;
	default:
		return 0;	/* BF_STRUCT: no operation on the struct */
	}
}

/* Parse the raw value every way a JSON value may need it. */
static void
coerce_all(struct bmatch *m)
{
	m->int_ok = go_parse_int(m->raw.p, m->raw.len, &m->ival) == NUM_OK;
	m->uint_ok = go_parse_uint(m->raw.p, m->raw.len, &m->uval) == NUM_OK;
	m->dbl_ok = go_parse_float(m->raw.p, m->raw.len, &m->dval) == NUM_OK;
	m->bool_ok = go_parse_bool(m->raw.p, m->raw.len, &m->bval) == NUM_OK;
}

static int
validate_match(struct bexpr *bx, struct bmatch *m,
    const struct bexpr_field *schema, struct sbuf *err)
{
	const struct bexpr_field	*f, *sub = schema;
	size_t				 i;
	int				 type = BF_STRUCT, rc;

	if (schema == NULL) {
		for (i = 0; i < m->nsteps; i++)
			m->steps[i].type = BT_DYN;
		type = BT_DYN;
		goto value;
	}
	for (i = 0; i < m->nsteps; i++) {
		switch (type) {
		case BF_STRUCT:
		case BF_LIST_STRUCT:
			if ((f = field_find(sub, &m->steps[i].name)) == NULL)
				goto invalid;
			type = (int)f->type;
			sub = f->sub;
			break;
		case BF_MAP_STRING:
			type = BF_STRING;
			sub = NULL;
			break;
		case BF_MAP_LIST:
			type = BF_LIST_STRING;
			sub = NULL;
			break;
		case BF_MAP_ANY:
			type = BT_ANY;
			sub = NULL;
			break;
		default:
			goto invalid;
		}
		m->steps[i].type = type;
		m->steps[i].sub = sub;
	}
	if ((type_ops(type) & OPBIT(m->op)) == 0) {
		sb_printf(err, "Invalid match operator \"%s\" for selector ",
		    bop_names[m->op]);
		sb_selector(err, m->steps, m->nsteps);
		return -1;
	}
value:
	if (!m->has_value)
		return 0;
	switch (type) {
	case BF_INT:
		rc = go_parse_int(m->raw.p, m->raw.len, &m->ival);
		if (rc != NUM_OK)
			goto coerce;
		break;
	case BF_UINT:
		rc = go_parse_uint(m->raw.p, m->raw.len, &m->uval);
		if (rc != NUM_OK)
			goto coerce;
		break;
	case BF_BOOL:
		rc = go_parse_bool(m->raw.p, m->raw.len, &m->bval);
		if (rc != NUM_OK)
			goto coerce;
		break;
	case BT_ANY:
	case BT_DYN:
		coerce_all(m);
		break;
	default:
		break;
	}
	if (m->op == BOP_MATCHES || m->op == BOP_NOTMATCHES)
		return re_compile(bx, m, err);
	return 0;
invalid:
	sb_adds(err, "Selector ");
	sb_selector(err, m->steps, i + 1);
	sb_adds(err, " is not valid");
	return -1;
coerce:
	sb_adds(err, "Failed to coerce value ");
	sb_quote(err, m->raw.p, m->raw.len);
	sb_adds(err, " for selector ");
	sb_selector(err, m->steps, m->nsteps);
	sb_adds(err, ": ");
	sb_numerr(err, type == BF_INT ? "ParseInt" : type == BF_UINT ?
	    "ParseUint" : "ParseBool", m->raw.p, m->raw.len, rc);
	return -1;
}

static int
validate(struct bexpr *bx, struct bnode *n, const struct bexpr_field *schema,
    struct sbuf *err)
{
	struct bnode	*k;

	if (n->kind == BN_MATCH)
		return validate_match(bx, &n->m, schema, err);
	for (k = n->kids; k != NULL; k = k->next)
		if (validate(bx, k, schema, err) == -1)
			return -1;
	return 0;
}

/*
 * Compile src[0..len).  filter: the ?filter= flavour (500, go-bexpr's
 * CreateFilter prefix, empty expression = no filter); otherwise the
 * bare CreateEvaluatorForType text.
 */
static int
compile(const char *src, size_t len, const struct bexpr_field *schema,
    struct bexpr **out, struct perr *e, int filter)
{
	struct pstate	*ps = NULL;
	struct bexpr	*bx = NULL;
	struct sbuf	 err = { NULL, 0, 0 };
	int		 rc = -1;

	*out = NULL;
	if (filter && len == 0)
		return 0;
	if (len > BEXPR_MAXLEN) {
		sb_printf(&err, "expression exceeds %d bytes", BEXPR_MAXLEN);
		goto fail;
	}
	bx = xcalloc(1, sizeof(*bx));
	bx->arena = arena_new();
	ps = xcalloc(1, sizeof(*ps));
	ps->s = src;
	ps->n = len;
	ps->a = bx->arena;
	p_check_enc(ps);
	bx->root = p_input(ps);
	if (ps->toodeep) {
		sb_printf(&err, "expression nests parentheses deeper than "
		    "%d levels", BEXPR_MAXDEPTH);
		goto fail;
	}
	if (ps->nerrs > 0 || bx->root == NULL) {
		p_report(ps, &err);
		goto fail;
	}
	if (validate(bx, bx->root, schema, &err) == -1)
		goto fail;
	bx->dyn = schema == NULL;
	*out = bx;
	bx = NULL;
	rc = 0;
	goto done;
fail:
	perr_set(e, 500, "%s%s", filter ? FILTER_PREFIX : "",
	    err.p != NULL ? err.p : "");
done:
	free(ps);
	free(err.p);
	bexpr_free(bx);
	return rc;
}

/*
 * Compile a ?filter= expression against schema (NULL: dynamic, any
 * selector is looked up in the JSON at match time).
 * Returns 0 with *out set, or -1 with e set to 500 and Consul's body:
 * "Failed to create boolean expression evaluator: " followed by
 * go-bexpr's text (syntax error, "Selector \"X\" is not valid", ...).
 * An empty expression is no filter: 0 with *out NULL, which
 * bexpr_match() takes as matching everything.  Expressions over
 * BEXPR_MAXLEN bytes or with parentheses nested over BEXPR_MAXDEPTH
 * deep are refused.  The caller frees *out with bexpr_free(); schema is
 * borrowed and must outlive it.
 */
int
bexpr_compile(const char *src, const struct bexpr_field *schema,
    struct bexpr **out, struct perr *e)
{
	return compile(src, strlen(src), schema, out, e, 1);
}

/* bexpr_compile() of src[0..len), which may hold NUL bytes. */
int
bexpr_compilen(const char *src, size_t len, const struct bexpr_field *schema,
    struct bexpr **out, struct perr *e)
{
	return compile(src, len, schema, out, e, 1);
}

/*
 * Compile an ACL binding-rule Selector: as bexpr_compile(), but the
 * message is go-bexpr's bare error (Consul wraps it itself: the caller
 * does perr_prefix(e, "invalid Binding Rule: Selector is invalid: ")),
 * and an empty selector is a syntax error, as CreateEvaluatorForType
 * makes it; callers skip empty selectors as Consul does.  Status 500.
 */
int
bexpr_compile_selector(const char *src, const struct bexpr_field *schema,
    struct bexpr **out, struct perr *e)
{
	return compile(src, strlen(src), schema, out, e, 0);
}

/*
 * Matching.
 */

/* The answer for a key missing from a map, as go-bexpr gives it. */
static int
not_present(enum bop op)
{
	switch (op) {
	case BOP_NE:
	case BOP_NOTIN:
	case BOP_EMPTY:
	case BOP_NOTMATCHES:
		return 1;
	default:
		/*
		 * v0.1.2 answered true for "matches" too; later go-bexpr
		 * fixed it (NotPresentDisposition): nothing matches a
		 * missing key.  XXX #bexpr-1: follow Consul's bug instead?
		 */
		return 0;
	}
}

static int
negated(enum bop op)
{
	return op == BOP_NE || op == BOP_NOTIN || op == BOP_NOTEMPTY ||
	    op == BOP_NOTMATCHES;
}

/* The member of object v named name; 0 when absent. */
static int
obj_get(struct json_object *v, const struct bstr *name,
    struct json_object **child)
{
	*child = NULL;
	if (!json_object_is_type(v, json_type_object) ||
	    memchr(name->p, '\0', name->len) != NULL)
		return 0;
	return json_object_object_get_ex(v, name->p, child) ? 1 : 0;
}

/* Positive string operators (==, in, is empty, matches) on s[0..n). */
static int
str_op(const struct bmatch *m, const char *s, size_t n)
{
	switch (m->op) {
	case BOP_EQ:
	case BOP_NE:
		return n == m->raw.len && memcmp(s, m->raw.p, n) == 0;
	case BOP_IN:
	case BOP_NOTIN:
		return m->raw.len == 0 ||
		    memmem(s, n, m->raw.p, m->raw.len) != NULL;
	case BOP_EMPTY:
	case BOP_NOTEMPTY:
		return n == 0;
	default:
		if (m->re == NULL)
			return -1;
		return regex_match(m->re, s, n);
	}
}

static int
json_str(struct json_object *v, const char **s, size_t *n)
{
	if (!json_object_is_type(v, json_type_string)) {
		*s = "";
		*n = 0;
		return 0;
	}
	*s = json_object_get_string(v);
	*n = (size_t)json_object_get_string_len(v);
	return 1;
}

/* in / is empty on an object (map keys). */
static int
obj_op(const struct bmatch *m, struct json_object *v)
{
	struct json_object	*child;

	switch (m->op) {
	case BOP_IN:
	case BOP_NOTIN:
		return obj_get(v, &m->raw, &child);
	case BOP_EMPTY:
	case BOP_NOTEMPTY:
		return !json_object_is_type(v, json_type_object) ||
		    json_object_object_length(v) == 0;
	default:
		return -1;
	}
}

/* One element of a list equals the value, converted to its type. */
static int
elem_eq(const struct bmatch *m, struct json_object *e, int strict)
{
	const char	*s;
	size_t		 n;

	switch (json_object_get_type(e)) {
	case json_type_string:
		json_str(e, &s, &n);
		return n == m->raw.len && memcmp(s, m->raw.p, n) == 0;
	case json_type_int:
		if (strict)
			return 0;
		if (m->int_ok)
			return json_object_get_int64(e) == m->ival;
		return m->uint_ok && json_object_get_uint64(e) == m->uval;
	case json_type_double:
		return !strict && m->dbl_ok &&
		    json_object_get_double(e) == m->dval;
	case json_type_boolean:
		return !strict && m->bool_ok &&
		    !!json_object_get_boolean(e) == m->bval;
	default:
		return 0;
	}
}

/* in / is empty on a list; strict: a list of strings. */
static int
list_op(const struct bmatch *m, struct json_object *v, int strict)
{
	size_t	i, n;

	if (!json_object_is_type(v, json_type_array))
		n = 0;
	else
		n = json_object_array_length(v);
	switch (m->op) {
	case BOP_IN:
	case BOP_NOTIN:
		for (i = 0; i < n; i++)
			if (elem_eq(m, json_object_array_get_idx(v, i),
			    strict))
				return 1;
		return 0;
	case BOP_EMPTY:
	case BOP_NOTEMPTY:
		return n == 0;
	default:
		return -1;
	}
}

/* The positive operator on a value of whatever JSON type it has. */
static int
dyn_op(const struct bmatch *m, struct json_object *v)
{
	const char	*s;
	size_t		 n;
	int		 eq = m->op == BOP_EQ || m->op == BOP_NE;

	switch (json_object_get_type(v)) {
	case json_type_null:
		return str_op(m, "", 0);	/* the zero value */
	case json_type_string:
		json_str(v, &s, &n);
		return str_op(m, s, n);
	case json_type_boolean:
		if (!eq || !m->bool_ok)
			return -1;
		return !!json_object_get_boolean(v) == m->bval;
	case json_type_int:
		if (!eq)
			return -1;
		if (m->int_ok)
			return json_object_get_int64(v) == m->ival;
		if (m->uint_ok)
			return json_object_get_uint64(v) == m->uval;
		return -1;
	case json_type_double:
		if (!eq || !m->dbl_ok)
			return -1;
		return json_object_get_double(v) == m->dval;
	case json_type_object:
		return obj_op(m, v);
	case json_type_array:
		return list_op(m, v, 0);
	default:
		return -1;
	}
}

/* The operator on the value v, of schema type type; missing = zero. */
static int
leaf(const struct bmatch *m, struct json_object *v, int type)
{
	const char	*s;
	size_t		 n;
	int		 r;

	switch (type) {
	case BF_STRING:
		json_str(v, &s, &n);
		r = str_op(m, s, n);
		break;
	case BF_INT:
		r = (v == NULL ? 0 : json_object_get_int64(v)) == m->ival;
		break;
	case BF_UINT:
		r = (v == NULL ? 0 : json_object_get_uint64(v)) == m->uval;
		break;
	case BF_BOOL:
		r = (v != NULL && json_object_get_boolean(v)) == m->bval;
		break;
	case BF_MAP_STRING:
	case BF_MAP_LIST:
	case BF_MAP_ANY:
		r = obj_op(m, v);
		break;
	case BF_LIST_STRING:
		r = list_op(m, v, 1);
		break;
	case BF_LIST_STRUCT:
		r = list_op(m, v, 1);
		break;
	case BT_ANY:
	case BT_DYN:
		r = dyn_op(m, v);
		break;
	default:
		r = -1;
		break;
	}
	if (r < 0)
		return 0;	/* does not apply: false, negated too */
	return negated(m->op) ? !r : r;
}

/*
 * Apply the selector from step i on to v, of type type.  nested: v was
 * reached through a key (dynamic mode: a missing key then counts as a
 * missing map key, not as a zero-valued field).  Lists inside lists are
 * flattened, as go-bexpr does, down to EV_MAXDEPTH levels.
 */
#define EV_MAXDEPTH	64

static int
ev_match(const struct bmatch *m, size_t i, struct json_object *v, int type,
    int nested, int depth)
{
	const struct bstep	*st;
	struct json_object	*child;
	size_t			 k, n;

	if (i == m->nsteps)
		return leaf(m, v, type);
	if (depth > EV_MAXDEPTH)
		return 0;
	st = &m->steps[i];
	switch (type) {
	case BF_LIST_STRUCT:
	case BT_DYN:
		if (json_object_is_type(v, json_type_array)) {
			/* go-bexpr: any element of the list */
			n = json_object_array_length(v);
			for (k = 0; k < n; k++)
				if (ev_match(m, i, json_object_array_get_idx(v,
				    k), type == BT_DYN ? BT_DYN : BF_STRUCT, 0,
				    depth + 1))
					return 1;
			return 0;
		}
		if (type == BF_LIST_STRUCT)
			return 0;
		if (obj_get(v, &st->name, &child))
			return ev_match(m, i + 1, child, BT_DYN, 1, depth);
		if (nested)
			return not_present(m->op);
		return ev_match(m, i + 1, NULL, BT_DYN, 1, depth);
	case BF_STRUCT:
		(void)obj_get(v, &st->name, &child);
		return ev_match(m, i + 1, child, st->type, 0, depth);
	case BF_MAP_STRING:
	case BF_MAP_LIST:
	case BF_MAP_ANY:
		if (!obj_get(v, &st->name, &child))
			return not_present(m->op);
		return ev_match(m, i + 1, child, st->type, 1, depth);
	default:
		return 0;
	}
}

static int
ev(const struct bnode *n, struct json_object *obj, int dyn)
{
	const struct bnode	*k;

	switch (n->kind) {
	case BN_AND:
		for (k = n->kids; k != NULL; k = k->next)
			if (!ev(k, obj, dyn))
				return 0;
		return 1;
	case BN_OR:
		for (k = n->kids; k != NULL; k = k->next)
			if (ev(k, obj, dyn))
				return 1;
		return 0;
	case BN_NOT:
		return !ev(n->kids, obj, dyn);
	default:
		return ev_match(&n->m, 0, obj, dyn ? BT_DYN : BF_STRUCT, 0, 0);
	}
}

/*
 * Returns 1 when the JSON object obj matches the compiled expression
 * (a NULL expression matches everything), 0 when not.  Never fails:
 * missing keys are zero values ("" / 0 / false / empty), a missing map
 * key answers as go-bexpr does (== false, != true, ...), and an
 * operator that does not apply to the JSON type found is false.
 * obj is borrowed and not modified.
 */
int
bexpr_match(const struct bexpr *bx, struct json_object *obj)
{
	if (bx == NULL)
		return 1;
	return ev(bx->root, obj, bx->dyn);
}

/* Free a compiled expression; NULL is allowed. */
void
bexpr_free(struct bexpr *bx)
{
	struct bregex	*br, *next;

	if (bx == NULL)
		return;
	for (br = bx->regs; br != NULL; br = next) {
		next = br->next;
		regex_free(br->re);
		free(br);
	}
	arena_free(bx->arena);
	free(bx);
}
