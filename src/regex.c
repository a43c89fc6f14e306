/*
 * regex.c -- Go's regexp (RE2 syntax, default flags) for bexpr's
 * matches / not matches: does the pattern match anywhere in a UTF-8
 * value, the question Go's regexp.MatchString answers.
 *
 * The parser is a loop over the pattern with an explicit stack of open
 * groups, building a tree in an array; the compiler walks that tree
 * with an explicit stack and emits a Thompson NFA program; the matcher
 * is a Pike VM without captures: one pass over the value, the set of
 * live instructions advanced one code point at a time, the start state
 * added at every position (unanchored search without restarts).  No
 * function recurses, memory is bounded by the program size, and a match
 * costs O(len(value) * program size) steps (regex_steps counts them).
 *
 * Semantics are Go's, on code points: invalid UTF-8 in the value counts
 * as U+FFFD, one byte each; "." is any character but \n ((?s): any);
 * "^" and "$" are the text's start and end ((?m): a line's, around \n;
 * unlike Perl or Python "$" does not match before a final \n); \A \z;
 * \b \B with ASCII word characters; classes, POSIX [[:name:]] classes
 * and \d \s \w (ASCII, negated forms included); flags i m s U, set with
 * (?flags) for the rest of the group or (?flags:re); non-greedy forms
 * have the greedy forms' yes/no answer.  Syntax errors are worded as
 * Go's regexp/syntax words them ("error parsing regexp: missing closing
 * ): `(`").
 *
 * Differences from Go, each with a test in tests/unit/test_regex.c:
 *  - \p{..} and \P{..} Unicode classes are refused ("invalid escape
 *    sequence");
 *  - (?i) folds ASCII, Latin-1, basic Greek and Cyrillic letters and
 *    the Kelvin sign / long s, not all of Unicode's simple folding;
 *  - a program is at most REGEX_MAXPROG instructions, where Go allows
 *    about 3.3 million: past it, Go's "expression too large".  That
 *    bounds one match to about 2 * len(value) * REGEX_MAXPROG steps;
 *  - the nesting limit uses an approximation of Go's parse tree height
 *    (literal strings and single-character alternations count as one
 *    level, as Go merges them);
 *  - duplicate capture group names are not refused.
 */
#include "config.h"

#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "portcullis.h"
#include "regex.h"
#include "utf8.h"

#define NONE		UINT32_MAX
#define MAXRUNE		0x10ffff

/* Flags, as Go's (?flags). */
#define F_FOLD		0x01	/* i */
#define F_MULTI		0x02	/* m: ^ $ at lines */
#define F_DOTNL		0x04	/* s: . matches \n */
#define F_UNGREEDY	0x08	/* U: no effect on yes/no */

/* Empty-width assertions. */
enum {
	A_BOT,			/* \A, ^ */
	A_EOT,			/* \z, $ */
	A_BOL,			/* (?m)^ */
	A_EOL,			/* (?m)$ */
	A_WORDB,		/* \b */
	A_NWORDB		/* \B */
};

enum rnop {
	RN_EMPTY,
	RN_LIT,			/* a: rune */
	RN_CLASS,		/* a: first range, b: count */
	RN_ASSERT,		/* a: kind */
	RN_CAT,			/* kid: first of a list */
	RN_ALT,
	RN_REP			/* kid; a: min, b: max (NONE: no max) */
};

struct rnode {
	uint8_t		op;
	uint8_t		lit;	/* one character (height: Go merges) */
	uint32_t	kid, next;
	uint32_t	a, b;
	uint32_t	height;
	uint32_t	copies;	/* product of nested counted repeats */
};

struct rrange {
	uint32_t	lo, hi;
};

/* An open group while parsing. */
struct rframe {
	uint32_t	alt_head, alt_tail;	/* alternatives so far */
	uint32_t	cat_head, cat_tail;	/* the current one */
	int		flags;			/* to restore at ')' */
	int		capture;
	size_t		open;			/* offset of the '(' */
};

struct rparse {
	const char	*p;
	size_t		 n, i;
	char		*why;
	int		 flags;
	struct rnode	*nodes;
	size_t		 nnodes, capnodes;
	struct rrange	*rng;			/* every class, in order */
	size_t		 nrng, caprng;
	struct rframe	*fr;
	size_t		 depth, capfr;
};

enum riop {
	I_RUNE,			/* r */
	I_CLASS,		/* ranges [x, x + y) */
	I_ASSERT,		/* r: kind */
	I_SPLIT,		/* x, y */
	I_JMP,			/* x */
	I_MATCH
};

struct rinst {
	uint32_t	op;
	uint32_t	x, y, r;
};

struct regex {
	struct rinst	*prog;
	size_t		 nprog;
	struct rrange	*rng;
	size_t		 nrng;
	uint32_t	*mark;		/* generation an inst was added in */
	uint32_t	*clist, *nlist, *stack;
	uint32_t	 gen;
	uint64_t	 steps;
};

/* Set the error: Go's "error parsing regexp: code: `frag`". */
static int
rp_why(struct rparse *rp, const char *code, const char *frag, size_t len)
{
	char	*f;

	if (rp->why != NULL)
		return -1;
	f = xmalloc(len + 1);
	memcpy(f, frag, len);
	f[len] = '\0';
	if (xasprintf(&rp->why, "error parsing regexp: %s: `%s`", code,
	    f) < 0)
		fatalx("out of memory");
	free(f);
	return -1;
}

static int
rp_large(struct rparse *rp)
{
	return rp_why(rp, "expression too large", rp->p, rp->n);
}

static uint32_t
rp_node(struct rparse *rp, int op, uint32_t a, uint32_t b)
{
	struct rnode	*nd;

	if (rp->nnodes == rp->capnodes) {
		rp->capnodes = rp->capnodes ? rp->capnodes * 2 : 64;
		rp->nodes = xrealloc(rp->nodes,
		    rp->capnodes * sizeof(*rp->nodes));
	}
	nd = &rp->nodes[rp->nnodes];
	memset(nd, 0, sizeof(*nd));
	nd->op = (uint8_t)op;
	nd->kid = nd->next = NONE;
	nd->a = a;
	nd->b = b;
	nd->height = 1;
	nd->copies = 1;
	nd->lit = op == RN_LIT;
	return (uint32_t)rp->nnodes++;
}

/*
 * Class ranges: rp->rng grows; a class being built is rng[s..nrng).
 */
static void
rr_add(struct rparse *rp, uint32_t lo, uint32_t hi)
{
	if (rp->nrng == rp->caprng) {
		rp->caprng = rp->caprng ? rp->caprng * 2 : 64;
		rp->rng = xrealloc(rp->rng, rp->caprng * sizeof(*rp->rng));
	}
	rp->rng[rp->nrng].lo = lo;
	rp->rng[rp->nrng].hi = hi;
	rp->nrng++;
}

static int
rr_cmp(const void *a, const void *b)
{
	const struct rrange	*x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi < y->hi ? -1 : x->hi > y->hi;
}

/* Sort and merge rng[s..nrng). */
static void
rr_norm(struct rparse *rp, size_t s)
{
	size_t	i, o;

	if (rp->nrng - s < 2)
		return;
	qsort(rp->rng + s, rp->nrng - s, sizeof(*rp->rng), rr_cmp);
	for (o = s, i = s + 1; i < rp->nrng; i++) {
		if (rp->rng[i].lo <= rp->rng[o].hi + 1) {
			if (rp->rng[i].hi > rp->rng[o].hi)
				rp->rng[o].hi = rp->rng[i].hi;
		} else
			rp->rng[++o] = rp->rng[i];
	}
	rp->nrng = o + 1;
}

/* Complement rng[s..nrng) within [0, MAXRUNE]. */
static void
rr_negate(struct rparse *rp, size_t s)
{
	struct rrange	*old;
	size_t		 n, i;
	uint32_t	 next = 0;

	rr_norm(rp, s);
	n = rp->nrng - s;
	old = xmalloc((n + 1) * sizeof(*old));
	memcpy(old, rp->rng + s, n * sizeof(*old));
	rp->nrng = s;
	for (i = 0; i < n; i++) {
		if (old[i].lo > next)
			rr_add(rp, next, old[i].lo - 1);
		next = old[i].hi + 1;
	}
	if (next <= MAXRUNE)
		rr_add(rp, next, MAXRUNE);
	free(old);
}

/*
 * The simple case folding orbit of r (r included): its size, the
 * members in out[].  ASCII, Latin-1, basic Greek and Cyrillic, and the
 * Kelvin sign and long s that fold with k and s; other runes fold only
 * to themselves (a documented difference: Go folds all of Unicode).
 */
static size_t
fold_orbit(uint32_t r, uint32_t out[4])
{
	uint32_t	u = r;

	out[0] = r;
	if (r == 0x212a || r == 'k' || r == 'K') {
		out[0] = 'K';
		out[1] = 'k';
		out[2] = 0x212a;
		return 3;
	}
	if (r == 0x17f || r == 's' || r == 'S') {
		out[0] = 'S';
		out[1] = 's';
		out[2] = 0x17f;
		return 3;
	}
	if (r == 0xb5 || r == 0x39c || r == 0x3bc) {
		out[0] = 0xb5;
		out[1] = 0x39c;
		out[2] = 0x3bc;
		return 3;
	}
	if (r == 0x3a3 || r == 0x3c2 || r == 0x3c3) {
		out[0] = 0x3a3;
		out[1] = 0x3c2;
		out[2] = 0x3c3;
		return 3;
	}
	if (r == 0xff || r == 0x178) {
		out[0] = 0xff;
		out[1] = 0x178;
		return 2;
	}
	if (r == 0xdf || r == 0x1e9e) {
		out[0] = 0xdf;
		out[1] = 0x1e9e;
		return 2;
	}
	if ((r >= 'a' && r <= 'z') || (r >= 0xe0 && r <= 0xfe && r != 0xf7) ||
	    (r >= 0x3b1 && r <= 0x3c9) || (r >= 0x430 && r <= 0x44f))
		u = r - 0x20;
	else if (r >= 0x450 && r <= 0x45f)
		u = r - 0x50;
	if ((u >= 'A' && u <= 'Z') || (u >= 0xc0 && u <= 0xde && u != 0xd7) ||
	    (u >= 0x391 && u <= 0x3a9 && u != 0x3a2) ||
	    (u >= 0x410 && u <= 0x42f)) {
		out[0] = u;
		out[1] = u + 0x20;
		return 2;
	}
	if (u >= 0x400 && u <= 0x40f) {
		out[0] = u;
		out[1] = u + 0x50;
		return 2;
	}
	return 1;
}

/* Runes that fold_orbit knows, as ranges. */
static const struct rrange fold_domain[] = {
	{ 'A', 'Z' }, { 'a', 'z' }, { 0xb5, 0xb5 }, { 0xc0, 0xff },
	{ 0x178, 0x178 }, { 0x17f, 0x17f }, { 0x391, 0x3c9 },
	{ 0x400, 0x45f }, { 0x1e9e, 0x1e9e }, { 0x212a, 0x212a }
};

/* Add the fold orbits of the runes in rng[s..nrng). */
static void
rr_fold(struct rparse *rp, size_t s)
{
	uint32_t	orb[4], lo, hi, r;
	size_t		i, j, k, n, end = rp->nrng;

	for (i = s; i < end; i++)
		for (j = 0; j < sizeof(fold_domain) / sizeof(fold_domain[0]);
		    j++) {
			lo = rp->rng[i].lo > fold_domain[j].lo ?
			    rp->rng[i].lo : fold_domain[j].lo;
			hi = rp->rng[i].hi < fold_domain[j].hi ?
			    rp->rng[i].hi : fold_domain[j].hi;
			for (r = lo; r <= hi && lo <= hi; r++) {
				n = fold_orbit(r, orb);
				for (k = 0; k < n; k++)
					if (orb[k] != r)
						rr_add(rp, orb[k], orb[k]);
			}
		}
	rr_norm(rp, s);
}

/* A class node for rng[s..nrng), normalised. */
static uint32_t
rp_class_node(struct rparse *rp, size_t s)
{
	rr_norm(rp, s);
	return rp_node(rp, RN_CLASS, (uint32_t)s, (uint32_t)(rp->nrng - s));
}

/* A literal, folded into a class under (?i). */
static uint32_t
rp_lit(struct rparse *rp, uint32_t r)
{
	uint32_t	orb[4], nd;
	size_t		n, k, s = rp->nrng;

	if (!(rp->flags & F_FOLD) || (n = fold_orbit(r, orb)) == 1)
		return rp_node(rp, RN_LIT, r, 0);
	for (k = 0; k < n; k++)
		rr_add(rp, orb[k], orb[k]);
	nd = rp_class_node(rp, s);
	rp->nodes[nd].lit = 1;
	return nd;
}

/* Append an atom to the current alternative of the innermost group. */
static void
rp_atom(struct rparse *rp, uint32_t nd)
{
	struct rframe	*f = &rp->fr[rp->depth];

	if (f->cat_head == NONE)
		f->cat_head = nd;
	else
		rp->nodes[f->cat_tail].next = nd;
	f->cat_tail = nd;
}

/*
 * Height of a list node over kids (Go's tree height, approximated: a
 * string of literals or an alternation of single characters is one
 * node in Go's tree).
 */
static void
rp_list_height(struct rparse *rp, uint32_t nd, int alt)
{
	struct rnode	*kid;
	uint32_t	 k, h = 0, c = 0;
	int		 flat = 1;

	for (k = rp->nodes[nd].kid; k != NONE; k = kid->next) {
		kid = &rp->nodes[k];
		if (kid->height > h)
			h = kid->height;
		if (kid->copies > c)
			c = kid->copies;
		if (!kid->lit && !(alt && kid->op == RN_CLASS))
			flat = 0;
	}
	rp->nodes[nd].height = flat ? 1 : h + 1;
	rp->nodes[nd].copies = c;
	rp->nodes[nd].lit = flat && alt;
}

/* End the current alternative: its atoms become one node. */
static void
rp_end_alt(struct rparse *rp)
{
	struct rframe	*f = &rp->fr[rp->depth];
	uint32_t	 nd;

	if (f->cat_head == NONE)
		nd = rp_node(rp, RN_EMPTY, 0, 0);
	else if (f->cat_head == f->cat_tail)
		nd = f->cat_head;
	else {
		nd = rp_node(rp, RN_CAT, 0, 0);
		rp->nodes[nd].kid = f->cat_head;
		rp_list_height(rp, nd, 0);
	}
	f->cat_head = f->cat_tail = NONE;
	if (f->alt_head == NONE)
		f->alt_head = nd;
	else
		rp->nodes[f->alt_tail].next = nd;
	f->alt_tail = nd;
}

/* End the innermost group: its alternatives become one node. */
static uint32_t
rp_end_group(struct rparse *rp)
{
	struct rframe	*f = &rp->fr[rp->depth];
	uint32_t	 nd;

	rp_end_alt(rp);
	if (f->alt_head == f->alt_tail)
		nd = f->alt_head;
	else {
		nd = rp_node(rp, RN_ALT, 0, 0);
		rp->nodes[nd].kid = f->alt_head;
		rp_list_height(rp, nd, 1);
	}
	if (f->capture) {
		/* Go's OpCapture: one more level of the tree */
		f->alt_head = nd;
		nd = rp_node(rp, RN_CAT, 0, 0);
		rp->nodes[nd].kid = f->alt_head;
		rp->nodes[nd].height = rp->nodes[f->alt_head].height + 1;
		rp->nodes[nd].copies = rp->nodes[f->alt_head].copies;
	}
	return nd;
}

static int
rp_check_height(struct rparse *rp, uint32_t nd)
{
	if (rp->nodes[nd].height > REGEX_MAXHEIGHT)
		return rp_why(rp, "expression nests too deeply", rp->p,
		    rp->n);
	return 0;
}

static int
rp_push_frame(struct rparse *rp, int capture, size_t open)
{
	struct rframe	*f;

	if (rp->depth + 1 >= rp->capfr) {
		rp->capfr = rp->capfr ? rp->capfr * 2 : 16;
		rp->fr = xrealloc(rp->fr, rp->capfr * sizeof(*rp->fr));
	}
	f = &rp->fr[++rp->depth];
	f->alt_head = f->alt_tail = f->cat_head = f->cat_tail = NONE;
	f->flags = rp->flags;
	f->capture = capture;
	f->open = open;
	return 0;
}

/* Parse \x41 or \x{263a}; rp->i is on the 'x'.  Returns the rune or -1. */
static long
rp_hex(struct rparse *rp, size_t esc)
{
	long	v = 0;
	size_t	k, end;
	int	c;

	rp->i++;
	if (rp->i < rp->n && rp->p[rp->i] == '{') {
		for (end = rp->i + 1; end < rp->n && rp->p[end] != '}'; end++)
			continue;
		if (end >= rp->n || end == rp->i + 1 || end - rp->i > 9)
			goto bad;
		for (k = rp->i + 1; k < end; k++) {
			c = rp->p[k] | 0x20;
			if (c >= '0' && c <= '9')
				v = v * 16 + (c - '0');
			else if (c >= 'a' && c <= 'f')
				v = v * 16 + (c - 'a' + 10);
			else
				goto bad;
		}
		rp->i = end + 1;
		if (v > MAXRUNE)
			goto bad;
		return v;
	}
	for (k = 0; k < 2; k++) {
		if (rp->i + k >= rp->n)
			goto bad;
		c = rp->p[rp->i + k] | 0x20;
		if (c >= '0' && c <= '9')
			v = v * 16 + (c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (c - 'a' + 10);
		else
			goto bad;
	}
	rp->i += 2;
	return v;
bad:
	return rp_why(rp, "invalid escape sequence", rp->p + esc,
	    (rp->i < rp->n ? rp->i + 1 : rp->n) - esc);
}

/* Add a Perl class (\d \s \w, negated in upper case), folded per flags. */
static void
rp_perl_class(struct rparse *rp, int c)
{
	size_t	s = rp->nrng;

	switch (c | 0x20) {
	case 'd':
		rr_add(rp, '0', '9');
		break;
	case 's':
		rr_add(rp, '\t', '\n');
		rr_add(rp, '\f', '\r');
		rr_add(rp, ' ', ' ');
		break;
	default:
		rr_add(rp, '0', '9');
		rr_add(rp, 'A', 'Z');
		rr_add(rp, 'a', 'z');
		rr_add(rp, '_', '_');
		break;
	}
	if (rp->flags & F_FOLD)
		rr_fold(rp, s);
	if (c < 'a')
		rr_negate(rp, s);
}

/*
 * One escape at rp->i (a backslash).  Returns the rune escaped; -2 when
 * a Perl class was added to rng (inclass: to the class being built;
 * else a node was appended); -3 with *kind for an assertion (\b \B \A
 * \z, not inclass); -1 on error.
 */
static long
rp_escape(struct rparse *rp, int inclass, int *kind)
{
	uint32_t r;
	size_t	 esc = rp->i, k, s;
	long	 v;
	int	 c, bad;

	if (rp->i + 1 >= rp->n)
		return rp_why(rp, "trailing backslash at end of expression",
		    "", 0);
	c = (unsigned char)rp->p[++rp->i];
	switch (c) {
	case 'd': case 'D': case 's': case 'S': case 'w': case 'W':
		rp->i++;
		s = rp->nrng;
		rp_perl_class(rp, c);
		if (!inclass)
			rp_atom(rp, rp_class_node(rp, s));
		return -2;
	case 'a':
		rp->i++;
		return '\a';
	case 'f':
		rp->i++;
		return '\f';
	case 't':
		rp->i++;
		return '\t';
	case 'n':
		rp->i++;
		return '\n';
	case 'r':
		rp->i++;
		return '\r';
	case 'v':
		rp->i++;
		return '\v';
	case 'x':
		return rp_hex(rp, esc);
	case '1': case '2': case '3': case '4': case '5': case '6': case '7':
		if (rp->i + 1 >= rp->n || rp->p[rp->i + 1] < '0' ||
		    rp->p[rp->i + 1] > '7')
			break;
		/* FALLTHROUGH */
	case '0':
		v = c - '0';
		rp->i++;
		for (k = 0; k < 2 && rp->i < rp->n && rp->p[rp->i] >= '0' &&
		    rp->p[rp->i] <= '7'; k++)
			v = v * 8 + (rp->p[rp->i++] - '0');
		return v;
	default:
		if (c < 0x80 && !(c >= '0' && c <= '9') &&
		    !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z')) {
			rp->i++;
			return c;
		}
		if (!inclass && (c == 'b' || c == 'B' || c == 'A' ||
		    c == 'z')) {
			rp->i++;
			*kind = c == 'b' ? A_WORDB : c == 'B' ? A_NWORDB :
			    c == 'A' ? A_BOT : A_EOT;
			return -3;
		}
		break;
	}
	rp->i++;
	return rp_why(rp, "invalid escape sequence", rp->p + esc, 1 +
	    utf8_decode_rune(rp->p + rp->i - 1, rp->n - rp->i + 1, &r, &bad));
}

/* POSIX classes, as RE2 defines them (ASCII): pairs of bounds. */
static const struct {
	const char	*name;
	const char	*bounds;
} posix_classes[] = {
	{ "alnum",	"09AZaz" },
	{ "alpha",	"AZaz" },
	{ "ascii",	"\x01\x7f" },
	{ "blank",	"\t\t  " },
	{ "cntrl",	"\x01\x1f\x7f\x7f" },
	{ "digit",	"09" },
	{ "graph",	"!~" },
	{ "lower",	"az" },
	{ "print",	" ~" },
	{ "punct",	"!/:@[`{~" },
	{ "space",	"\t\r  " },
	{ "upper",	"AZ" },
	{ "word",	"09AZaz__" },
	{ "xdigit",	"09AFaf" },
};

static const char *
posix_class(const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < sizeof(posix_classes) / sizeof(posix_classes[0]); i++)
		if (strlen(posix_classes[i].name) == len &&
		    memcmp(posix_classes[i].name, name, len) == 0)
			return posix_classes[i].bounds;
	return NULL;
}

/* One character of a bracket class; -2 when a class escape was added. */
static long
rp_class_char(struct rparse *rp)
{
	uint32_t	r;
	int		bad, kind;

	if (rp->p[rp->i] == '\\')
		return rp_escape(rp, 1, &kind);
	rp->i += utf8_decode_rune(rp->p + rp->i, rp->n - rp->i, &r, &bad);
	return (long)r;
}

/* A bracket class at rp->i ('['); appends its node. */
static int
rp_class(struct rparse *rp)
{
	const char	*name, *bounds;
	size_t		 start = rp->i, k, rs, nlen, s0 = rp->nrng, s;
	long		 lo, hi;
	int		 neg = 0, first = 1, cneg;

	rp->i++;
	if (rp->i < rp->n && rp->p[rp->i] == '^') {
		neg = 1;
		rp->i++;
	}
	for (;;) {
		if (rp->i >= rp->n)
			return rp_why(rp, "missing closing ]", rp->p + start,
			    rp->n - start);
		if (rp->p[rp->i] == ']' && !first) {
			rp->i++;
			break;
		}
		first = 0;
		if (rp->p[rp->i] == '[' && rp->i + 1 < rp->n &&
		    rp->p[rp->i + 1] == ':') {
			for (k = rp->i + 2; k + 1 < rp->n &&
			    !(rp->p[k] == ':' && rp->p[k + 1] == ']'); k++)
				continue;
			if (k + 1 < rp->n) {
				name = rp->p + rp->i + 2;
				nlen = k - rp->i - 2;
				if ((cneg = nlen > 0 && name[0] == '^') != 0) {
					name++;
					nlen--;
				}
				if ((bounds = posix_class(name, nlen)) == NULL)
					return rp_why(rp, "invalid character "
					    "class range", rp->p + rp->i,
					    k + 2 - rp->i);
				s = rp->nrng;
				for (; bounds[0] != '\0'; bounds += 2)
					rr_add(rp, (unsigned char)bounds[0],
					    (unsigned char)bounds[1]);
				if (rp->flags & F_FOLD)
					rr_fold(rp, s);
				if (cneg)
					rr_negate(rp, s);
				rp->i = k + 2;
				continue;
			}
		}
		rs = rp->i;
		if ((lo = rp_class_char(rp)) == -1)
			return -1;
		if (lo == -2)
			continue;
		hi = lo;
		if (rp->i + 1 < rp->n && rp->p[rp->i] == '-' &&
		    rp->p[rp->i + 1] != ']') {
			rp->i++;
			if ((hi = rp_class_char(rp)) == -1)
				return -1;
			if (hi == -2 || hi < lo)
				return rp_why(rp, "invalid character class "
				    "range", rp->p + rs, rp->i - rs);
		}
		s = rp->nrng;
		rr_add(rp, (uint32_t)lo, (uint32_t)hi);
		if (rp->flags & F_FOLD)
			rr_fold(rp, s);
	}
	if (neg)
		rr_negate(rp, s0);
	rp_atom(rp, rp_class_node(rp, s0));
	return 0;
}

/*
 * {n}, {n,} or {n,m} at rp->i: its length (*lo, *hi set; *hi NONE for
 * no maximum), 0 if not a repeat (a literal '{'), -1 if a count is bad.
 */
static long
rp_repeat(struct rparse *rp, uint32_t *plo, uint32_t *phi)
{
	size_t	k = rp->i + 1;
	long	lo = 0, hi = -1;

	if (k >= rp->n || rp->p[k] < '0' || rp->p[k] > '9')
		return 0;
	for (; k < rp->n && rp->p[k] >= '0' && rp->p[k] <= '9'; k++)
		if (lo <= 1000)
			lo = lo * 10 + (rp->p[k] - '0');
	if (k < rp->n && rp->p[k] == ',') {
		k++;
		if (k < rp->n && rp->p[k] >= '0' && rp->p[k] <= '9')
			for (hi = 0; k < rp->n && rp->p[k] >= '0' &&
			    rp->p[k] <= '9'; k++)
				if (hi <= 1000)
					hi = hi * 10 + (rp->p[k] - '0');
	} else
		hi = lo;
	if (k >= rp->n || rp->p[k] != '}')
		return 0;
	if (lo > REGEX_MAXREPEAT || hi > REGEX_MAXREPEAT ||
	    (hi >= 0 && hi < lo))
		return rp_why(rp, "invalid repeat count", rp->p + rp->i,
		    k + 1 - rp->i);
	*plo = (uint32_t)lo;
	*phi = hi < 0 ? NONE : (uint32_t)hi;
	return (long)(k + 1 - rp->i);
}

/*
 * (?flags), (?flags:, (?P<name> or (?<name> at rp->i, as Go's
 * parsePerlFlags.  Returns 0 (flags set or a group opened), -1.
 */
static int
rp_perl(struct rparse *rp)
{
	const char	*p = rp->p;
	size_t		 start = rp->i, k, end, b;
	uint32_t	 r;
	int		 flags = rp->flags, neg = 0, saw = 0, bad, c;

	if ((rp->n - start > 4 && p[start + 2] == 'P' &&
	    p[start + 3] == '<') || (rp->n - start > 3 &&
	    p[start + 2] == '<')) {
		b = start + (p[start + 2] == 'P' ? 4 : 3);
		for (end = b; end < rp->n && p[end] != '>'; end++)
			continue;
		if (end >= rp->n)
			return rp_why(rp, "invalid named capture", p + start,
			    rp->n - start);
		for (k = b; k < end; k++)
			if (!(p[k] == '_' || (p[k] >= '0' && p[k] <= '9') ||
			    ((p[k] | 0x20) >= 'a' && (p[k] | 0x20) <= 'z')))
				break;
		if (end == b || k < end)
			return rp_why(rp, "invalid named capture", p + start,
			    end + 1 - start);
		rp->i = end + 1;
		return rp_push_frame(rp, 1, start);
	}
	for (k = start + 2; k < rp->n; ) {
		c = (unsigned char)p[k];
		k += utf8_decode_rune(p + k, rp->n - k, &r, &bad);
		switch (c) {
		case 'i':
			flags = neg ? flags & ~F_FOLD : flags | F_FOLD;
			saw = 1;
			continue;
		case 'm':
			flags = neg ? flags & ~F_MULTI : flags | F_MULTI;
			saw = 1;
			continue;
		case 's':
			flags = neg ? flags & ~F_DOTNL : flags | F_DOTNL;
			saw = 1;
			continue;
		case 'U':
			flags = neg ? flags & ~F_UNGREEDY : flags | F_UNGREEDY;
			saw = 1;
			continue;
		case '-':
			if (neg)
				break;
			neg = 1;
			saw = 0;
			continue;
		case ':':
		case ')':
			if (neg && !saw)
				break;
			rp->i = k;
			if (c == ':' && rp_push_frame(rp, 0, start) == -1)
				return -1;
			rp->flags = flags;
			return 0;
		default:
			break;
		}
		break;
	}
	return rp_why(rp, "invalid or unsupported Perl syntax", p + start,
	    k - start);
}

/*
 * Apply a repetition to the last atom of the current alternative:
 * that node becomes the repeat and its old content the repeated kid.
 * counted: written with braces (Go's OpRepeat, subject to the limit on
 * nested counts).  Returns 0, -1 on error.
 */
static int
rp_apply_repeat(struct rparse *rp, uint32_t lo, uint32_t hi, int counted,
    size_t rs)
{
	struct rframe	*f = &rp->fr[rp->depth];
	struct rnode	*nd;
	uint32_t	 t = f->cat_tail, c, m;
	uint64_t	 copies;

	c = rp_node(rp, RN_EMPTY, 0, 0);
	rp->nodes[c] = rp->nodes[t];
	rp->nodes[c].next = NONE;
	nd = &rp->nodes[t];
	nd->op = RN_REP;
	nd->kid = c;
	nd->a = lo;
	nd->b = hi;
	nd->lit = 0;
	nd->height = rp->nodes[c].height + 1;
	copies = rp->nodes[c].copies;
	if (counted) {
		/* Go's repeatIsValid: the product of nested counts */
		m = hi == NONE ? lo : hi;
		copies = m == 0 ? 0 : copies * m;
		if ((lo >= 2 || (hi != NONE && hi >= 2)) &&
		    copies > REGEX_MAXREPEAT)
			return rp_why(rp, "invalid repeat count", rp->p + rs,
			    rp->i - rs);
	}
	nd->copies = copies > REGEX_MAXREPEAT ? REGEX_MAXREPEAT + 1 :
	    (uint32_t)copies;
	return rp_check_height(rp, t);
}

/*
 * Parse the pattern into rp->nodes; returns the root node or NONE with
 * rp->why set.  A loop with an explicit stack of groups: no recursion.
 */
static uint32_t
rp_parse(struct rparse *rp)
{
	const char	*p = rp->p;
	size_t		 n = rp->n, k, w, rs, rep = 0;
	uint32_t	 r, lo, hi, nd;
	long		 v, len;
	int		 last = 0;	/* 0 none, 1 atom, 2 repeat */
	int		 isbad, kind, flags;

	for (k = 0; k < n; k += w) {
		w = utf8_decode_rune(p + k, n - k, &r, &isbad);
		if (isbad) {
			rp_why(rp, "invalid UTF-8", p + k, n - k);
			return NONE;
		}
	}
	rp->depth = (size_t)-1;		/* the first frame is the top level */
	rp_push_frame(rp, 0, 0);
	while (rp->i < n) {
		switch (p[rp->i]) {
		case '\\':
			if (rp->i + 1 < n && p[rp->i + 1] == 'Q') {
				/* \Q...\E: literal text */
				for (rp->i += 2; rp->i < n; rp->i += k) {
					if (p[rp->i] == '\\' && rp->i + 1 < n &&
					    p[rp->i + 1] == 'E') {
						rp->i += 2;
						break;
					}
					k = utf8_decode_rune(p + rp->i, n - rp->i, &r,
					    &isbad);
					rp_atom(rp, rp_lit(rp, r));
				}
				last = 1;
				break;
			}
			if ((v = rp_escape(rp, 0, &kind)) == -1)
				return NONE;
			if (v == -3)
				rp_atom(rp, rp_node(rp, RN_ASSERT,
				    (uint32_t)kind, 0));
			else if (v != -2)
				rp_atom(rp, rp_lit(rp, (uint32_t)v));
			last = 1;
			break;
		case '[':
			if (rp_class(rp) == -1)
				return NONE;
			last = 1;
			break;
		case '(':
			if (rp->i + 1 < n && p[rp->i + 1] == '?') {
				flags = rp->flags;
				k = rp->depth;
				if (rp_perl(rp) == -1)
					return NONE;
				if (rp->depth > k) {
					/* a group: restore the old flags */
					rp->fr[rp->depth].flags = flags;
					last = 0;
				} else if (last == 2)
					last = 1;	/* (?i)* repeats */
				break;
			}
			rp_push_frame(rp, 1, rp->i);
			rp->i++;
			last = 0;
			break;
		case ')':
			if (rp->depth == 0) {
				rp_why(rp, "unexpected )", p, n);
				return NONE;
			}
			nd = rp_end_group(rp);
			rp->flags = rp->fr[rp->depth].flags;
			rp->depth--;
			if (rp_check_height(rp, nd) == -1)
				return NONE;
			rp_atom(rp, nd);
			rp->i++;
			last = 1;
			break;
		case '|':
			rp_end_alt(rp);
			rp->i++;
			last = 0;
			break;
		case '*':
		case '+':
		case '?':
		case '{':
			rs = rp->i;
			lo = p[rp->i] == '+' ? 1 : 0;
			hi = p[rp->i] == '?' ? 1 : NONE;
			if (p[rp->i] == '{') {
				if ((len = rp_repeat(rp, &lo, &hi)) == -1)
					return NONE;
				if (len == 0) {
					rp_atom(rp, rp_lit(rp, '{'));
					rp->i++;
					last = 1;
					break;
				}
				rp->i += (size_t)len;
			} else
				rp->i++;
			if (rp->i < n && p[rp->i] == '?')
				rp->i++;	/* non-greedy: same answer */
			if (last == 2) {
				rp_why(rp, "invalid nested repetition "
				    "operator", p + rep, rp->i - rep);
				return NONE;
			}
			if (last == 0) {
				rp_why(rp, "missing argument to repetition "
				    "operator", p + rs, rp->i - rs);
				return NONE;
			}
			if (rp_apply_repeat(rp, lo, hi, p[rs] == '{', rs) ==
			    -1)
				return NONE;
			rep = rs;
			last = 2;
			break;
		case '.':
			k = rp->nrng;
			if (rp->flags & F_DOTNL)
				rr_add(rp, 0, MAXRUNE);
			else {
				rr_add(rp, 0, '\n' - 1);
				rr_add(rp, '\n' + 1, MAXRUNE);
			}
			rp_atom(rp, rp_class_node(rp, k));
			rp->i++;
			last = 1;
			break;
		case '^':
		case '$':
			kind = p[rp->i] == '^' ?
			    (rp->flags & F_MULTI ? A_BOL : A_BOT) :
			    (rp->flags & F_MULTI ? A_EOL : A_EOT);
			rp_atom(rp, rp_node(rp, RN_ASSERT, (uint32_t)kind, 0));
			rp->i++;
			last = 1;
			break;
		default:
			k = utf8_decode_rune(p + rp->i, n - rp->i, &r, &isbad);
			rp_atom(rp, rp_lit(rp, r));
			rp->i += k;
			last = 1;
			break;
		}
	}
	if (rp->depth > 0) {
		rp_why(rp, "missing closing )", p, n);
		return NONE;
	}
	nd = rp_end_group(rp);
	if (rp_check_height(rp, nd) == -1)
		return NONE;
	return nd;
}

/*
 * Compiling: the tree to a program, walked with an explicit stack.
 * Every node's code falls through to what follows it.
 */
struct cframe {
	uint32_t	node;
	uint32_t	kid;		/* next kid to compile */
	uint32_t	k;		/* state, or copies started */
	uint32_t	split;		/* a SPLIT to patch */
	uint32_t	aux;		/* patch list, or a loop's start */
};

struct rcomp {
	struct rparse	*rp;
	struct rinst	*prog;
	size_t		 nprog, cap;
	struct cframe	*fr;
	size_t		 nfr, capfr;
	size_t		 visits;
};

static uint32_t
rc_emit(struct rcomp *rc, uint32_t op, uint32_t x, uint32_t y, uint32_t r)
{
	if (rc->nprog == rc->cap) {
		rc->cap = rc->cap ? rc->cap * 2 : 64;
		rc->prog = xrealloc(rc->prog, rc->cap * sizeof(*rc->prog));
	}
	rc->prog[rc->nprog].op = op;
	rc->prog[rc->nprog].x = x;
	rc->prog[rc->nprog].y = y;
	rc->prog[rc->nprog].r = r;
	return (uint32_t)rc->nprog++;
}

static void
rc_push(struct rcomp *rc, uint32_t node)
{
	if (rc->nfr == rc->capfr) {
		rc->capfr = rc->capfr ? rc->capfr * 2 : 64;
		rc->fr = xrealloc(rc->fr, rc->capfr * sizeof(*rc->fr));
	}
	memset(&rc->fr[rc->nfr], 0, sizeof(rc->fr[0]));
	rc->fr[rc->nfr].node = node;
	rc->fr[rc->nfr].kid = NONE;
	rc->fr[rc->nfr].split = NONE;
	rc->fr[rc->nfr].aux = NONE;
	rc->nfr++;
}

/* Point the SPLITs threaded through their y (from head) at pc. */
static void
rc_patch_y(struct rcomp *rc, uint32_t head, uint32_t pc)
{
	uint32_t	next;

	for (; head != NONE; head = next) {
		next = rc->prog[head].y;
		rc->prog[head].y = pc;
	}
}

static void
rc_patch_x(struct rcomp *rc, uint32_t head, uint32_t pc)
{
	uint32_t	next;

	for (; head != NONE; head = next) {
		next = rc->prog[head].x;
		rc->prog[head].x = pc;
	}
}

/* Returns 0, or -1 when the program grows past REGEX_MAXPROG. */
static int
rc_compile(struct rcomp *rc, uint32_t root)
{
	struct cframe	*f;
	struct rnode	*nd;
	uint32_t	 c, pc, lo, hi;

	rc_push(rc, root);
	while (rc->nfr > 0) {
		if (rc->nprog > REGEX_MAXPROG ||
		    ++rc->visits > 8 * (size_t)REGEX_MAXPROG)
			return -1;
		f = &rc->fr[rc->nfr - 1];
		nd = &rc->rp->nodes[f->node];
		pc = (uint32_t)rc->nprog;
		switch (nd->op) {
		case RN_EMPTY:
			rc->nfr--;
			break;
		case RN_LIT:
			rc_emit(rc, I_RUNE, 0, 0, nd->a);
			rc->nfr--;
			break;
		case RN_CLASS:
			rc_emit(rc, I_CLASS, nd->a, nd->b, 0);
			rc->nfr--;
			break;
		case RN_ASSERT:
			rc_emit(rc, I_ASSERT, 0, 0, nd->a);
			rc->nfr--;
			break;
		case RN_CAT:
			if (f->k == 0) {
				f->kid = nd->kid;
				f->k = 1;
			}
			if ((c = f->kid) == NONE) {
				rc->nfr--;
				break;
			}
			f->kid = rc->rp->nodes[c].next;
			rc_push(rc, c);
			break;
		case RN_ALT:
			/* k: 0 start, 1 after a kid with a next, 2 done */
			if (f->k == 2) {
				rc_patch_x(rc, f->aux, pc);
				rc->nfr--;
				break;
			}
			if (f->k == 0)
				f->kid = nd->kid;
			else {
				f->aux = rc_emit(rc, I_JMP, f->aux, 0, 0);
				rc->prog[f->split].y = (uint32_t)rc->nprog;
			}
			c = f->kid;
			f->kid = rc->rp->nodes[c].next;
			if (f->kid != NONE) {
				f->split = rc_emit(rc, I_SPLIT,
				    (uint32_t)rc->nprog + 1, NONE, 0);
				f->k = 1;
			} else
				f->k = 2;
			rc_push(rc, c);
			break;
		case RN_REP:
			lo = nd->a;
			hi = nd->b;
			c = nd->kid;
			if (hi == NONE && lo == 0) {
				/* x*: L: SPLIT(L+1, end); x; JMP L */
				if (f->k == 1) {
					rc_emit(rc, I_JMP, f->split, 0, 0);
					rc->prog[f->split].y =
					    (uint32_t)rc->nprog;
					rc->nfr--;
					break;
				}
				f->split = rc_emit(rc, I_SPLIT, pc + 1, NONE,
				    0);
				f->k = 1;
				rc_push(rc, c);
				break;
			}
			if (hi == NONE) {
				/* x{n,}: n - 1 copies, then L: x; SPLIT(L) */
				if (f->k == lo) {
					rc_emit(rc, I_SPLIT, f->aux, pc + 1, 0);
					rc->nfr--;
					break;
				}
				if (++f->k == lo)
					f->aux = pc;
				rc_push(rc, c);
				break;
			}
			/* x{n,m}: n copies, then m - n optional ones */
			if (f->k == hi) {
				rc_patch_y(rc, f->aux, pc);
				rc->nfr--;
				break;
			}
			if (++f->k > lo)
				f->aux = rc_emit(rc, I_SPLIT, pc + 1, f->aux,
				    0);
			rc_push(rc, c);
			break;
		}
	}
	rc_emit(rc, I_MATCH, 0, 0, 0);
	return rc->nprog > REGEX_MAXPROG ? -1 : 0;
}

/*
 * Compile the n bytes at p (Go RE2 syntax, default flags).  Returns 0
 * with *rep set (free with regex_free), or -1 with *why set to Go's
 * "error parsing regexp: ..." text (the caller frees it).
 */
int
regex_compile(const char *p, size_t n, struct regex **rep, char **why)
{
	struct rparse	 rp;
	struct rcomp	 rc;
	struct regex	*re;
	uint32_t	 root;

	*rep = NULL;
	*why = NULL;
	memset(&rp, 0, sizeof(rp));
	memset(&rc, 0, sizeof(rc));
	rp.p = p;
	rp.n = n;
	rc.rp = &rp;
	if ((root = rp_parse(&rp)) == NONE)
		goto fail;
	if (rc_compile(&rc, root) == -1) {
		rp_large(&rp);
		goto fail;
	}
	re = xcalloc(1, sizeof(*re));
	re->prog = rc.prog;
	re->nprog = rc.nprog;
	re->rng = rp.rng;
	re->nrng = rp.nrng;
	re->mark = xcalloc(re->nprog, sizeof(*re->mark));
	re->clist = xcalloc(re->nprog, sizeof(*re->clist));
	re->nlist = xcalloc(re->nprog, sizeof(*re->nlist));
	re->stack = xcalloc(2 * re->nprog + 2, sizeof(*re->stack));
	free(rp.nodes);
	free(rp.fr);
	free(rc.fr);
	*rep = re;
	return 0;
fail:
	*why = rp.why;
	free(rp.nodes);
	free(rp.rng);
	free(rp.fr);
	free(rc.prog);
	free(rc.fr);
	return -1;
}

static int
is_word(const char *s, size_t n, size_t pos)
{
	int	c;

	if (pos >= n)
		return 0;
	c = (unsigned char)s[pos];
	return c == '_' || (c >= '0' && c <= '9') ||
	    ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

static int
rx_assert(uint32_t kind, const char *s, size_t n, size_t pos)
{
	switch (kind) {
	case A_BOT:
		return pos == 0;
	case A_EOT:
		return pos == n;
	case A_BOL:
		return pos == 0 || s[pos - 1] == '\n';
	case A_EOL:
		return pos == n || s[pos] == '\n';
	case A_WORDB:
		return (pos > 0 && is_word(s, n, pos - 1)) !=
		    is_word(s, n, pos);
	default:
		return (pos > 0 && is_word(s, n, pos - 1)) ==
		    is_word(s, n, pos);
	}
}

static int
rx_inclass(const struct regex *re, const struct rinst *in, uint32_t r)
{
	const struct rrange	*g = re->rng + in->x;
	size_t			 lo = 0, hi = in->y, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (r < g[mid].lo)
			hi = mid;
		else if (r > g[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

/*
 * Add pc and what it reaches without consuming input at pos to list
 * (an instruction at most once per generation).  Returns 1 when that
 * reaches the match.  Each instruction marked pushes at most two, so
 * the stack holds at most 2 * nprog + 1.
 */
static inline int
rx_add(struct regex *re, uint32_t *list, size_t *nlist, uint32_t pc,
    const char *s, size_t n, size_t pos)
{
	const struct rinst	*prog = re->prog, *in;
	uint32_t		*mark = re->mark, *stack = re->stack;
	uint32_t		 gen = re->gen;
	size_t			 sp = 0, nl = *nlist;
	uint64_t		 steps = 0;
	int			 rc = 0;

	if (mark[pc] == gen)
		return 0;
	mark[pc] = gen;
	stack[sp++] = pc;
	while (sp > 0) {
		pc = stack[--sp];
		steps++;
		in = &prog[pc];
		switch (in->op) {
		case I_MATCH:
			rc = 1;
			goto out;
		case I_JMP:
			if (mark[in->x] != gen) {
				mark[in->x] = gen;
				stack[sp++] = in->x;
			}
			break;
		case I_SPLIT:
			if (mark[in->y] != gen) {
				mark[in->y] = gen;
				stack[sp++] = in->y;
			}
			if (mark[in->x] != gen) {
				mark[in->x] = gen;
				stack[sp++] = in->x;
			}
			break;
		case I_ASSERT:
			if (rx_assert(in->r, s, n, pos) &&
			    mark[pc + 1] != gen) {
				mark[pc + 1] = gen;
				stack[sp++] = pc + 1;
			}
			break;
		default:
			list[nl++] = pc;
			break;
		}
	}
out:
	*nlist = nl;
	re->steps += steps;
	return rc;
}

static void
rx_nextgen(struct regex *re)
{
	if (++re->gen == 0) {
		memset(re->mark, 0, re->nprog * sizeof(*re->mark));
		re->gen = 1;
	}
}

/*
 * Does re match anywhere in s[0..n)?  Returns 1 or 0.  One pass, at
 * most 2 * regex_size(re) steps per code point (every instruction once
 * added, every thread once advanced), 2 * regex_size(re) + 1 at the
 * start.  Not for use by two threads at once on the same re (the work
 * space is re's).
 */
int
regex_match(struct regex *re, const char *s, size_t n)
{
	const struct rinst	*in;
	uint32_t		*cl = re->clist, *nl = re->nlist, *t, r, np;
	size_t			 ncl = 0, nnl, i, pos, w;
	int			 bad, hit;

	re->steps = 0;
	rx_nextgen(re);
	if (rx_add(re, cl, &ncl, 0, s, n, 0))
		return 1;
	for (pos = 0; pos < n; pos += w) {
		w = utf8_decode_rune(s + pos, n - pos, &r, &bad);
		rx_nextgen(re);
		nnl = 0;
		re->steps += ncl;
		for (i = 0; i < ncl; i++) {
			in = &re->prog[cl[i]];
			if (in->op == I_RUNE)
				hit = in->r == r;
			else if (in->y == 1)
				hit = r >= re->rng[in->x].lo &&
				    r <= re->rng[in->x].hi;
			else
				hit = rx_inclass(re, in, r);
			if (!hit)
				continue;
			np = cl[i] + 1;
			if (re->mark[np] == re->gen)
				continue;
			if (re->prog[np].op <= I_CLASS) {
				/* the common case, without the stack */
				re->mark[np] = re->gen;
				nl[nnl++] = np;
				re->steps++;
			} else if (rx_add(re, nl, &nnl, np, s, n, pos + w))
				return 1;
		}
		/* unanchored: a new thread starts at every position */
		if (rx_add(re, nl, &nnl, 0, s, n, pos + w))
			return 1;
		t = cl;
		cl = nl;
		nl = t;
		ncl = nnl;
	}
	return 0;
}

/* Instructions in re's program. */
size_t
regex_size(const struct regex *re)
{
	return re->nprog;
}

/* Steps the last regex_match took (each bounded work). */
uint64_t
regex_steps(const struct regex *re)
{
	return re->steps;
}

/* Free a compiled regexp; NULL is allowed. */
void
regex_free(struct regex *re)
{
	if (re == NULL)
		return;
	free(re->prog);
	free(re->rng);
	free(re->mark);
	free(re->clist);
	free(re->nlist);
	free(re->stack);
	free(re);
}
