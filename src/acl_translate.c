/*
 * acl_translate.c -- legacy ACL rule translation (acl.md §11), behind
 * POST /v1/acl/rules/translate (acl_misc.c): acl_rules_translate_legacy(),
 * a pure function, no HTTP, no SQLite.
 *
 * Consul 1.4-1.10 parsed the legacy rules with HCL v1, renamed the keys
 * agent, event, key, node, query, service and session to their _prefix
 * forms, and printed the tree with the HCL v1 printer.  The printer's
 * layout depends on source positions (adjacent one-line items are
 * aligned) and on comments, so we parse the text here ourselves,
 * keeping positions and comments, rather than going through a json-c
 * tree or hcl.c.  Heredocs are not supported.  Which keys are renamed:
 * see hrename().
 *
 * Relies on the shared core (arena, x* allocators, perr) and on
 * acl_rules.c's growable string (struct acl_sbuf).  No global state:
 * each call works in an arena of its own.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portcullis.h"
#include "acl_rules.h"
#include "hcl.h"

enum htok {
	HT_EOF,
	HT_ILLEGAL,
	HT_COMMENT,
	HT_IDENT,
	HT_NUMBER,
	HT_FLOAT,
	HT_BOOL,
	HT_STRING,
	HT_HEREDOC,
	HT_LBRACK,
	HT_LBRACE,
	HT_COMMA,
	HT_PERIOD,
	HT_RBRACK,
	HT_RBRACE,
	HT_ASSIGN,
	HT_ADD,
	HT_SUB,
	HT__MAX
};

/* The token names HCL v1 prints in its parse errors. */
static const char *const htok_names[HT__MAX] = {
	"EOF", "ILLEGAL", "COMMENT", "IDENT", "NUMBER", "FLOAT", "BOOL",
	"STRING", "HEREDOC", "LBRACK", "LBRACE", "COMMA", "PERIOD", "RBRACK",
	"RBRACE", "ASSIGN", "ADD", "SUB"
};

struct hpos {
	size_t	off;
	int	line;		/* 0: no position */
	int	col;
};

struct htoken {
	enum htok	 type;
	struct hpos	 pos;
	const char	*text;
	size_t		 len;
	int		 endline;	/* last line (block comments) */
};

/* Comments with no other token and no blank line between them. */
struct hgroup {
	struct htoken	**c;
	size_t		  n;
	int		  attached;	/* lead or line comment of an item */
};

struct hval;

struct hitem {
	struct htoken	 *keys;		/* copies; renamed in place */
	size_t		  nkeys;
	struct hpos	  assign;	/* line 0: block, no '=' */
	struct hval	 *val;
	struct hgroup	 *lead;
	struct hgroup	 *line;
};

enum hval_kind {
	HV_LITERAL,
	HV_OBJECT,
	HV_LIST
};

struct hval {
	enum hval_kind	  kind;
	struct hpos	  pos;		/* the literal, '{' or '[' */
	struct hpos	  end;		/* '}' or ']' */
	struct htoken	  tok;		/* literal */
	struct hitem	**items;	/* object */
	size_t		  nitems;
	struct hval	**elems;	/* list */
	size_t		  nelems;
};

struct hparser {
	struct arena	 *ar;
	const char	 *src;
	size_t		  len;
	struct htoken	 *raw;		/* every token, comments included */
	size_t		  nraw;
	size_t		  ri;		/* next raw token */
	struct htoken	 *tok;		/* current token */
	int		  unscanned;
	struct hgroup	**groups;
	size_t		  ngroups;
	struct hgroup	 *lead;		/* pending lead comment */
	struct hgroup	 *line;		/* pending line comment */
	int		  json;		/* the source is JSON */
	int		  depth;	/* objects and lists open */
	int		  fatal;	/* error no '}' may recover from */
	struct perr	 *e;
};

/*
 * Make room for element n of an arena array: capacity is 4, then
 * doubles whenever n reaches a power of two.
 */
static void *
apush(struct arena *ar, void *v, size_t n, size_t sz)
{
	void	*nv;
	size_t	 cap;

	if (v != NULL && (n < 4 || (n & (n - 1)) != 0))
		return v;
	cap = n < 4 ? 4 : 2 * n;
	nv = arena_alloc(ar, cap * sz);
	if (n > 0)
		memcpy(nv, v, n * sz);
	return nv;
}

static int
hperr(struct hparser *p, struct hpos pos, const char *fmt, ...)
    PC_PRINTF(3, 4);

static int
hperr(struct hparser *p, struct hpos pos, const char *fmt, ...)
{
	va_list	ap;
	char	msg[400];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return perr_set(p->e, 400, "Failed to parse rules: At %d:%d: %s",
	    pos.line, pos.col, msg);
}

/*
 * Open one more object or list at pos.  The parsers recurse once per
 * level, so the depth is bounded as the policy parser (hcl.c) bounds
 * it: past HCL_MAX_DEPTH levels a fatal 400.  Returns 0 or -1.
 */
static int
hdescend(struct hparser *p, struct hpos pos)
{
	if (++p->depth <= HCL_MAX_DEPTH)
		return 0;
	p->fatal = 1;
	return hperr(p, pos, "nesting too deep (more than %d levels)",
	    HCL_MAX_DEPTH);
}

static int
is_letter(int c)
{
	return isalpha(c) || c == '_' || c >= 0x80;
}

/* Split the source into tokens, comments included. */
static int
hlex(struct hparser *p)
{
	const char	*s = p->src;
	struct htoken	 t;
	size_t		 i = 0, cap = 0, j;
	int		 line = 1, col = 1, braces;

#define ADV()	do {						\
	if (s[i] == '\n') {					\
		line++;						\
		col = 1;					\
	} else							\
		col++;						\
	i++;							\
} while (0)

	for (;;) {
		while (i < p->len && (s[i] == ' ' || s[i] == '\t' ||
		    s[i] == '\n' || s[i] == '\r'))
			ADV();
		memset(&t, 0, sizeof(t));
		t.pos.off = i;
		t.pos.line = line;
		t.pos.col = col;
		t.text = s + i;
		if (i >= p->len) {
			t.type = HT_EOF;
		} else if (s[i] == '#' || (s[i] == '/' && i + 1 < p->len &&
		    s[i + 1] == '/')) {
			t.type = HT_COMMENT;
			while (i < p->len && s[i] != '\n')
				ADV();
		} else if (s[i] == '/' && i + 1 < p->len && s[i + 1] == '*') {
			t.type = HT_COMMENT;
			ADV();
			ADV();
			while (i + 1 < p->len &&
			    !(s[i] == '*' && s[i + 1] == '/'))
				ADV();
			if (i + 1 >= p->len)
				return hperr(p, t.pos,
				    "comment not terminated");
			ADV();
			ADV();
		} else if (s[i] == '/') {
			return hperr(p, t.pos, "expected '/' for comment");
		} else if (s[i] == '"') {
			t.type = HT_STRING;
			ADV();
			braces = 0;
			while (i < p->len && (s[i] != '"' || braces > 0)) {
				if (s[i] == '\n')
					break;
				if (s[i] == '\\' && i + 1 < p->len)
					ADV();
				else if (s[i] == '$' && i + 1 < p->len &&
				    s[i + 1] == '{')
					braces++;
				else if (s[i] == '}' && braces > 0)
					braces--;
				ADV();
			}
			if (i >= p->len || s[i] != '"')
				return hperr(p, t.pos,
				    "literal not terminated");
			ADV();
		} else if (isdigit((unsigned char)s[i]) || (s[i] == '-' &&
		    i + 1 < p->len && isdigit((unsigned char)s[i + 1]))) {
			t.type = HT_NUMBER;
			ADV();
			while (i < p->len && (isalnum((unsigned char)s[i]) ||
			    s[i] == '.' || ((s[i] == '-' || s[i] == '+') &&
			    (s[i - 1] == 'e' || s[i - 1] == 'E')))) {
				if (s[i] == '.' || s[i] == 'e' || s[i] == 'E')
					t.type = HT_FLOAT;
				ADV();
			}
		} else if (is_letter((unsigned char)s[i])) {
			t.type = HT_IDENT;
			while (i < p->len && (is_letter((unsigned char)s[i]) ||
			    isdigit((unsigned char)s[i]) || s[i] == '-' ||
			    s[i] == '.'))
				ADV();
		} else if (s[i] == '<' && i + 1 < p->len && s[i + 1] == '<') {
			/* XXX heredocs are rare in ACL rules; not supported. */
			return hperr(p, t.pos, "heredoc not supported");
		} else {
			switch (s[i]) {
			case '[':
				t.type = HT_LBRACK;
				break;
			case '{':
				t.type = HT_LBRACE;
				break;
			case ',':
				t.type = HT_COMMA;
				break;
			case '.':
				t.type = HT_PERIOD;
				break;
			case ']':
				t.type = HT_RBRACK;
				break;
			case '}':
				t.type = HT_RBRACE;
				break;
			case '=':
				t.type = HT_ASSIGN;
				break;
			case ':':
				if (!p->json)
					return hperr(p, t.pos, "illegal char");
				t.type = HT_ASSIGN;
				break;
			case '+':
				t.type = HT_ADD;
				break;
			case '-':
				t.type = HT_SUB;
				break;
			default:
				return hperr(p, t.pos, "illegal char");
			}
			ADV();
		}
		t.len = (size_t)(s + i - t.text);
		t.endline = t.pos.line;
		for (j = 0; t.type == HT_COMMENT && j < t.len; j++)
			if (t.text[j] == '\n')
				t.endline++;
		if (t.type == HT_IDENT && ((t.len == 4 &&
		    memcmp(t.text, "true", 4) == 0) || (t.len == 5 &&
		    memcmp(t.text, "false", 5) == 0)))
			t.type = HT_BOOL;
		if (p->nraw == cap) {
			cap = cap ? cap * 2 : 64;
			p->raw = xrealloc(p->raw, cap * sizeof(*p->raw));
		}
		p->raw[p->nraw++] = t;
		if (t.type == HT_EOF)
			return 0;
	}
#undef ADV
}

/* Take comments with start line <= endline + n as one group. */
static struct hgroup *
hgroup_take(struct hparser *p, int n, int *endline)
{
	struct hgroup	*g;

	g = arena_alloc(p->ar, sizeof(*g));
	*endline = p->tok->pos.line;
	while (p->tok->type == HT_COMMENT && p->tok->pos.line <= *endline + n) {
		g->c = apush(p->ar, g->c, g->n, sizeof(*g->c));
		g->c[g->n++] = p->tok;
		*endline = p->tok->endline;
		p->tok = &p->raw[p->ri++];
	}
	p->groups = apush(p->ar, p->groups, p->ngroups, sizeof(*p->groups));
	p->groups[p->ngroups++] = g;
	return g;
}

/*
 * Advance to the next token, gathering comments on the way: a group on
 * the line of the previous token is a line comment when the next token
 * is on another line; the last group is a lead comment when the next
 * token follows on the very next line (and is not a closing bracket).
 */
static struct htoken *
hscan(struct hparser *p)
{
	struct hgroup	*g = NULL;
	int		 prevline, endline;

	if (p->unscanned) {
		p->unscanned = 0;
		return p->tok;
	}
	prevline = p->tok != NULL ? p->tok->pos.line : 0;
	if (p->tok == NULL || p->tok->type != HT_EOF)
		p->tok = &p->raw[p->ri++];
	if (p->tok->type != HT_COMMENT)
		return p->tok;
	if (p->tok->pos.line == prevline) {
		g = hgroup_take(p, 0, &endline);
		if (p->tok->pos.line != endline)
			p->line = g;
	}
	endline = -1;
	while (p->tok->type == HT_COMMENT)
		g = hgroup_take(p, 1, &endline);
	if (endline + 1 == p->tok->pos.line && p->tok->type != HT_RBRACE &&
	    p->tok->type != HT_RBRACK)
		p->lead = g;
	return p->tok;
}

static void
hunscan(struct hparser *p)
{
	p->unscanned = 1;
}

static int hobject_list(struct hparser *, int, struct hitem ***, size_t *);
static int hvalue(struct hparser *, struct hval **);

#define HEOF	1	/* end of input where an item could start */

static int
hobject_type(struct hparser *p, struct hval **out)
{
	struct hval	*v;
	int		 rc;

	if (hdescend(p, p->tok->pos) == -1)
		return -1;
	v = arena_alloc(p->ar, sizeof(*v));
	v->kind = HV_OBJECT;
	v->pos = p->tok->pos;
	rc = hobject_list(p, 1, &v->items, &v->nitems);
	if (rc == -1 && (p->fatal || p->tok->type != HT_RBRACE))
		return -1;
	/* HCL v1 carries on after an error that stopped at a '}'. */
	if (rc == -1)
		perr_clear(p->e);
	if (hscan(p)->type != HT_RBRACE)
		return hperr(p, p->tok->pos, "object expected closing RBRACE "
		    "got: %s", htok_names[p->tok->type]);
	v->end = p->tok->pos;
	p->depth--;
	*out = v;
	return 0;
}

static int
hlist_type(struct hparser *p, struct hval **out)
{
	struct hval	*v, *el;
	struct htoken	*t;
	int		 need_comma = 0;

	if (hdescend(p, p->tok->pos) == -1)
		return -1;
	v = arena_alloc(p->ar, sizeof(*v));
	v->kind = HV_LIST;
	v->pos = p->tok->pos;
	for (;;) {
		t = hscan(p);
		if (need_comma && t->type != HT_COMMA && t->type != HT_RBRACK)
			return hperr(p, t->pos, "error parsing list, expected "
			    "comma or list end, got: %s", htok_names[t->type]);
		switch (t->type) {
		case HT_COMMA:
			need_comma = 0;
			continue;
		case HT_RBRACK:
			v->end = t->pos;
			p->depth--;
			*out = v;
			return 0;
		case HT_NUMBER:
		case HT_FLOAT:
		case HT_BOOL:
		case HT_STRING:
		case HT_LBRACE:
		case HT_LBRACK:
			hunscan(p);
			if (hvalue(p, &el) != 0)
				return -1;
			break;
		default:
			return hperr(p, t->pos, "unexpected token while "
			    "parsing list: %s", htok_names[t->type]);
		}
		v->elems = apush(p->ar, v->elems, v->nelems, sizeof(*v->elems));
		v->elems[v->nelems++] = el;
		need_comma = 1;
	}
}

/* A value after '=': literal, object or list.  HEOF at end of input. */
static int
hvalue(struct hparser *p, struct hval **out)
{
	struct hval	*v;
	struct htoken	*t;

	t = hscan(p);
	switch (t->type) {
	case HT_NUMBER:
	case HT_FLOAT:
	case HT_BOOL:
	case HT_STRING:
		v = arena_alloc(p->ar, sizeof(*v));
		v->kind = HV_LITERAL;
		v->pos = t->pos;
		v->tok = *t;
		*out = v;
		return 0;
	case HT_LBRACE:
		return hobject_type(p, out);
	case HT_LBRACK:
		return hlist_type(p, out);
	case HT_EOF:
		return HEOF;
	default:
		return hperr(p, t->pos, "Unknown token: %s",
		    htok_names[t->type]);
	}
}

/*
 * The keys of an item, up to '=' or '{'.  Returns 0, HEOF at end of
 * input (keys may have been read), or -1.
 */
static int
hkeys(struct hparser *p, struct hitem *it)
{
	struct htoken	*t;

	for (;;) {
		t = hscan(p);
		switch (t->type) {
		case HT_EOF:
			return HEOF;
		case HT_ASSIGN:
			if (it->nkeys > 1)
				return hperr(p, t->pos, "nested object "
				    "expected: LBRACE got: %s",
				    htok_names[t->type]);
			if (it->nkeys == 0)
				return hperr(p, t->pos, "expected: IDENT | "
				    "STRING got: %s", htok_names[t->type]);
			return 0;
		case HT_LBRACE:
			if (it->nkeys == 0)
				return hperr(p, t->pos, "expected: IDENT | "
				    "STRING got: %s", htok_names[t->type]);
			return 0;
		case HT_IDENT:
		case HT_STRING:
			it->keys = apush(p->ar, it->keys, it->nkeys,
			    sizeof(*it->keys));
			it->keys[it->nkeys++] = *t;
			break;
		default:
			return hperr(p, t->pos, "expected: IDENT | STRING | "
			    "ASSIGN | LBRACE got: %s", htok_names[t->type]);
		}
	}
}

static int
hparse_item(struct hparser *p, struct hitem **out)
{
	struct hitem	*it;
	struct acl_sbuf	 b = { NULL, 0, 0 };
	size_t		 i;
	int		 rc;
	char		*k;

	it = arena_alloc(p->ar, sizeof(*it));
	rc = hkeys(p, it);
	if (it->nkeys > 0 && rc == HEOF)
		rc = 0;
	if (rc == -1 && it->nkeys > 0 && p->tok->type == HT_RBRACE) {
		/* Keys then '}': report the missing value (as HCL v1). */
		p->tok->type = HT_EOF;
		rc = 0;
	}
	if (rc != 0)
		return rc;
	if (p->lead != NULL) {
		it->lead = p->lead;
		it->lead->attached = 1;
		p->lead = NULL;
	}
	if (rc == 0 && p->tok->type == HT_ASSIGN) {
		it->assign = p->tok->pos;
		if ((rc = hvalue(p, &it->val)) != 0)
			return rc;
	} else if (rc == 0 && p->tok->type == HT_LBRACE) {
		if (hobject_type(p, &it->val) == -1)
			return -1;
	} else {
		for (i = 0; i < it->nkeys; i++) {
			if (i > 0)
				acl_rules_sb_putc(&b, ' ');
			acl_rules_sb_putn(&b, it->keys[i].text,
			    it->keys[i].len);
		}
		k = acl_rules_sb_take(&b);
		hperr(p, p->tok->pos, "key '%s' expected start of object "
		    "('{') or assignment ('=')", k);
		free(k);
		return -1;
	}
	if (p->line != NULL) {
		it->line = p->line;
		p->line = NULL;
	}
	hscan(p);
	if (it->val->pos.line == it->keys[0].pos.line && p->line != NULL) {
		it->line = p->line;
		p->line = NULL;
	}
	hunscan(p);
	if (it->line != NULL)
		it->line->attached = 1;
	*out = it;
	return 0;
}

/* Items up to end of input (top level) or up to '}' (in an object). */
static int
hobject_list(struct hparser *p, int obj, struct hitem ***items, size_t *n)
{
	struct hitem	*it;
	int		 rc;

	for (;;) {
		if (obj) {
			if (hscan(p)->type == HT_RBRACE) {
				hunscan(p);
				break;
			}
			hunscan(p);
		}
		if ((rc = hparse_item(p, &it)) == HEOF)
			break;
		if (rc != 0)
			return -1;
		*items = apush(p->ar, *items, *n, sizeof(**items));
		(*items)[(*n)++] = it;
		if (hscan(p)->type != HT_COMMA)
			hunscan(p);
	}
	return 0;
}

/*
 * Undo the quoting of a key for comparison: the text between the quotes,
 * with \" and \\ unescaped.  Returns -1 for other escapes (such a key
 * matches no legacy word anyway).
 */
static int
hunquote(const struct htoken *t, char *buf, size_t size)
{
	size_t	i, n = 0;

	if (t->type != HT_STRING) {
		if (t->len >= size)
			return -1;
		memcpy(buf, t->text, t->len);
		buf[t->len] = '\0';
		return 0;
	}
	for (i = 1; i + 1 < t->len && n + 1 < size; i++) {
		if (t->text[i] == '\\') {
			i++;
			if (t->text[i] != '"' && t->text[i] != '\\')
				return -1;
		}
		buf[n++] = t->text[i];
	}
	if (i + 1 != t->len)
		return -1;
	buf[n] = '\0';
	return 0;
}

/*
 * Rename the first key of every item, at any depth: a legacy word (bare
 * or quoted) becomes its _prefix form and a quoted "policy" a bare one;
 * labels and values stay.  This is the rule Consul shipped from 1.4.1 on
 * (TranslateLegacyRules after GH-5493), which also makes JSON rules
 * translate; acl.md §11 describes the first, every-key version.
 */
static void
hrename(struct hval *v)
{
	struct hitem	*it;
	const char	*pw;
	char		 word[32];
	size_t		 i;

	for (i = 0; v->kind == HV_LIST && i < v->nelems; i++)
		hrename(v->elems[i]);
	for (i = 0; v->kind == HV_OBJECT && i < v->nitems; i++) {
		it = v->items[i];
		hrename(it->val);
		if (it->nkeys == 0 || hunquote(&it->keys[0], word,
		    sizeof(word)) == -1)
			continue;
		if (strcmp(word, "policy") == 0) {
			it->keys[0].text = "policy";
			it->keys[0].len = 6;
		}
		if ((pw = acl_rules_prefix_word(word)) != NULL) {
			it->keys[0].text = pw;
			it->keys[0].len = strlen(pw);
		}
	}
}

/*
 * JSON rules.  HCL v1 reads a source whose first non-blank character is
 * '{' as JSON: the outer object is the file, and an item whose value is
 * a non-empty object of objects (or a non-empty list of objects) is
 * flattened into one item per member, its key appended (so
 * {"key": {"a/": {...}}} reads as key "a/" {...}).
 */
static int	hjson_value(struct hparser *, struct hval **);

static int
hjson_object(struct hparser *p, struct hval **out)
{
	struct hval	*v;
	struct hitem	*it;
	struct htoken	*t;

	if (hdescend(p, p->tok->pos) == -1)
		return -1;
	v = arena_alloc(p->ar, sizeof(*v));
	v->kind = HV_OBJECT;
	v->pos = p->tok->pos;
	for (;;) {
		t = hscan(p);
		if (t->type == HT_RBRACE && v->nitems == 0)
			break;
		if (t->type != HT_STRING)
			return hperr(p, t->pos, "expected: STRING got: %s",
			    htok_names[t->type]);
		it = arena_alloc(p->ar, sizeof(*it));
		it->keys = arena_alloc(p->ar, sizeof(*it->keys));
		it->keys[0] = *t;
		it->nkeys = 1;
		if ((t = hscan(p))->type != HT_ASSIGN)
			return hperr(p, t->pos, "expected: COLON got: %s",
			    htok_names[t->type]);
		it->assign = t->pos;
		if (hjson_value(p, &it->val) == -1)
			return -1;
		v->items = apush(p->ar, v->items, v->nitems, sizeof(*v->items));
		v->items[v->nitems++] = it;
		t = hscan(p);
		if (t->type == HT_RBRACE)
			break;
		if (t->type != HT_COMMA)
			return hperr(p, t->pos, "object expected closing "
			    "RBRACE got: %s", htok_names[t->type]);
	}
	v->end = t->pos;
	p->depth--;
	*out = v;
	return 0;
}

static int
hjson_value(struct hparser *p, struct hval **out)
{
	struct hval	*v, *el;
	struct htoken	*t;

	t = hscan(p);
	switch (t->type) {
	case HT_LBRACE:
		return hjson_object(p, out);
	case HT_LBRACK:
		if (hdescend(p, t->pos) == -1)
			return -1;
		v = arena_alloc(p->ar, sizeof(*v));
		v->kind = HV_LIST;
		v->pos = t->pos;
		for (;;) {
			if (hscan(p)->type == HT_RBRACK && v->nelems == 0)
				break;
			hunscan(p);
			if (hjson_value(p, &el) == -1)
				return -1;
			v->elems = apush(p->ar, v->elems, v->nelems,
			    sizeof(*v->elems));
			v->elems[v->nelems++] = el;
			t = hscan(p);
			if (t->type == HT_RBRACK)
				break;
			if (t->type != HT_COMMA)
				return hperr(p, t->pos, "error parsing list, "
				    "expected comma or list end, got: %s",
				    htok_names[t->type]);
		}
		v->end = p->tok->pos;
		p->depth--;
		*out = v;
		return 0;
	case HT_STRING:
	case HT_NUMBER:
	case HT_FLOAT:
	case HT_BOOL:
		break;
	default:
		if (t->type == HT_IDENT && t->len == 4 &&
		    memcmp(t->text, "null", 4) == 0)
			break;
		return hperr(p, t->pos, "Unexpected token: %s",
		    htok_names[t->type]);
	}
	v = arena_alloc(p->ar, sizeof(*v));
	v->kind = HV_LITERAL;
	v->pos = t->pos;
	v->tok = *t;
	*out = v;
	return 0;
}

static void
hflatten_item(struct hparser *p, struct hitem *it, struct hitem ***out,
    size_t *n)
{
	struct hitem	*sub;
	struct hval	*v = it->val;
	size_t		 i;

	if (v->kind == HV_OBJECT && v->nitems > 0) {
		for (i = 0; i < v->nitems; i++)
			if (v->items[i]->val->kind != HV_OBJECT)
				goto keep;
		for (i = 0; i < v->nitems; i++) {
			sub = arena_alloc(p->ar, sizeof(*sub));
			*sub = *it;
			sub->nkeys = it->nkeys + v->items[i]->nkeys;
			sub->keys = arena_alloc(p->ar,
			    sub->nkeys * sizeof(*sub->keys));
			memcpy(sub->keys, it->keys,
			    it->nkeys * sizeof(*it->keys));
			memcpy(sub->keys + it->nkeys, v->items[i]->keys,
			    v->items[i]->nkeys * sizeof(*it->keys));
			sub->val = v->items[i]->val;
			hflatten_item(p, sub, out, n);
		}
		return;
	}
	if (v->kind == HV_LIST && v->nelems > 0) {
		for (i = 0; i < v->nelems; i++)
			if (v->elems[i]->kind != HV_OBJECT)
				goto keep;
		for (i = 0; i < v->nelems; i++) {
			sub = arena_alloc(p->ar, sizeof(*sub));
			*sub = *it;
			sub->val = v->elems[i];
			hflatten_item(p, sub, out, n);
		}
		return;
	}
keep:
	*out = apush(p->ar, *out, *n, sizeof(**out));
	(*out)[(*n)++] = it;
}

/* Flatten the items of an object, then of every object below. */
static void
hflatten(struct hparser *p, struct hval *v)
{
	struct hitem	**items = NULL;
	size_t		  n = 0, i;

	if (v->kind == HV_LIST) {
		for (i = 0; i < v->nelems; i++)
			hflatten(p, v->elems[i]);
		return;
	}
	if (v->kind != HV_OBJECT)
		return;
	for (i = 0; i < v->nitems; i++)
		hflatten_item(p, v->items[i], &items, &n);
	v->items = items;
	v->nitems = n;
	for (i = 0; i < n; i++)
		hflatten(p, items[i]->val);
}

/*
 * The printer: the HCL v1 printer's layout with 2-space indentation.
 * Top-level items are separated by a blank line; in an object, runs of
 * one-line items on adjacent source lines are aligned on '=' (and on
 * their line comments), other items and runs are separated by a blank
 * line; comments that are neither lead nor line comments are printed
 * where they fall between items.
 */
struct hprinter {
	struct hgroup	**sa;		/* standalone comment groups */
	size_t		  nsa;
	struct hpos	  prev;
};

static int
pos_before(struct hpos p, struct hpos u)
{
	return u.off > p.off || u.line > p.line;
}

static int
pos_after(struct hpos p, struct hpos u)
{
	return u.off < p.off || u.line < p.line;
}

static void	hprint_item(struct hprinter *, const struct hitem *,
		    struct acl_sbuf *);
static void	hprint_value(struct hprinter *, const struct hval *,
		    struct acl_sbuf *);

/* Append n spaces. */
static void
sb_pad(struct acl_sbuf *b, size_t n)
{
	while (n-- > 0)
		acl_rules_sb_putc(b, ' ');
}

/* Append src with each non-empty line indented by two spaces. */
static void
hindent(struct acl_sbuf *out, const char *src, size_t n)
{
	size_t	i;
	int	bol = 1;

	for (i = 0; i < n; i++) {
		if (bol && src[i] != '\n')
			acl_rules_sb_puts(out, "  ");
		acl_rules_sb_putc(out, src[i]);
		bol = src[i] == '\n';
	}
}

static size_t
hlines(const struct acl_sbuf *b)
{
	size_t	i, n = 1;

	for (i = 0; i < b->len; i++)
		if (b->p[i] == '\n')
			n++;
	return n;
}

static void
hprint_comments(const struct hgroup *g, struct acl_sbuf *out, int newlines)
{
	size_t	i;

	for (i = 0; g != NULL && i < g->n; i++) {
		acl_rules_sb_putn(out, g->c[i]->text, g->c[i]->len);
		if (newlines)
			acl_rules_sb_putc(out, '\n');
	}
}

static void
hprint_aligned(struct hprinter *pr, struct hitem **items, size_t n,
    struct acl_sbuf *out)
{
	struct acl_sbuf	 v = { NULL, 0, 0 };
	size_t		 i, j, klen = 0, vlen = 0;
	long		 pad;

	for (i = 0; i < n; i++) {
		if (items[i]->keys[0].len > klen)
			klen = items[i]->keys[0].len;
		v.len = 0;
		hprint_value(pr, items[i]->val, &v);
		if (v.len > vlen)
			vlen = v.len;
	}
	for (i = 0; i < n; i++) {
		hprint_comments(items[i]->lead, out, 1);
		for (j = 0; j < items[i]->nkeys; j++) {
			acl_rules_sb_putn(out, items[i]->keys[j].text,
			    items[i]->keys[j].len);
			pad = (long)klen - (long)items[i]->keys[j].len + 1;
			sb_pad(out, pad > 0 ? (size_t)pad : 0);
			if (j == items[i]->nkeys - 1 && items[i]->nkeys == 1)
				acl_rules_sb_puts(out, "= ");
		}
		v.len = 0;
		hprint_value(pr, items[i]->val, &v);
		if (v.p != NULL)
			acl_rules_sb_putn(out, v.p, v.len);
		if (items[i]->val->pos.line == items[i]->keys[0].pos.line &&
		    items[i]->line != NULL) {
			sb_pad(out, vlen - v.len + 1);
			hprint_comments(items[i]->line, out, 0);
		}
		if (i != n - 1)
			acl_rules_sb_putc(out, '\n');
	}
	free(v.p);
}

static void
hprint_object(struct hprinter *pr, const struct hval *o, struct acl_sbuf *out)
{
	struct hitem	**aligned;
	struct acl_sbuf	  tmp = { NULL, 0, 0 };
	struct hpos	  next, cur, prevpos, nextpos;
	size_t		  index = 0, naligned, g, c;
	int		  commented = 0, newline = 0;

	aligned = xcalloc(o->nitems + 1, sizeof(*aligned));
	acl_rules_sb_putc(out, '{');
	for (;;) {
		for (g = 0; g < pr->nsa; g++)
			for (c = 0; c < pr->sa[g]->n; c++) {
				next = index != o->nitems ?
				    o->items[index]->keys[0].pos : o->end;
				cur = pr->sa[g]->c[c]->pos;
				if (!pos_after(cur, pr->prev) ||
				    !pos_before(cur, next))
					continue;
				if (!newline) {
					newline = 1;
					acl_rules_sb_putc(out, '\n');
				}
				if (index > 0) {
					commented = 1;
					acl_rules_sb_putc(out, '\n');
				}
				hindent(out, pr->sa[g]->c[c]->text,
				    pr->sa[g]->c[c]->len);
				acl_rules_sb_putc(out, '\n');
				if (index != o->nitems)
					acl_rules_sb_putc(out, '\n');
			}
		if (index == o->nitems) {
			pr->prev = o->end;
			break;
		}
		if (!newline) {
			acl_rules_sb_putc(out, '\n');
			newline = 1;
		}
		naligned = 0;
		while (index < o->nitems && o->nitems > 1) {
			tmp.len = 0;
			hprint_item(pr, o->items[index], &tmp);
			if (hlines(&tmp) > 2)
				break;
			cur = o->items[index]->keys[0].pos;
			memset(&nextpos, 0, sizeof(nextpos));
			memset(&prevpos, 0, sizeof(prevpos));
			if (index != o->nitems - 1)
				nextpos = o->items[index + 1]->keys[0].pos;
			if (index != 0)
				prevpos = o->items[index - 1]->keys[0].pos;
			if (cur.line + 1 == nextpos.line) {
				aligned[naligned++] = o->items[index++];
				continue;
			}
			if (cur.line - 1 == prevpos.line) {
				aligned[naligned++] = o->items[index++];
				if (cur.line + 1 != nextpos.line)
					break;
				continue;
			}
			break;
		}
		if (!commented && index != naligned)
			acl_rules_sb_putc(out, '\n');
		tmp.len = 0;
		if (naligned > 0) {
			pr->prev = aligned[naligned - 1]->keys[0].pos;
			hprint_aligned(pr, aligned, naligned, &tmp);
		} else {
			pr->prev = o->items[index]->keys[0].pos;
			hprint_item(pr, o->items[index], &tmp);
			index++;
		}
		if (tmp.p != NULL)
			hindent(out, tmp.p, tmp.len);
		acl_rules_sb_putc(out, '\n');
	}
	acl_rules_sb_putc(out, '}');
	free(tmp.p);
	free(aligned);
}

static void
hprint_list(struct hprinter *pr, const struct hval *l, struct acl_sbuf *out)
{
	struct acl_sbuf	 v = { NULL, 0, 0 };
	size_t		 i;
	int		 space = 0;

	acl_rules_sb_putc(out, '[');
	for (i = 0; i < l->nelems; i++) {
		v.len = 0;
		hprint_value(pr, l->elems[i], &v);
		if (l->elems[i]->pos.line != l->pos.line) {
			acl_rules_sb_putc(out, '\n');
			space = 0;
			if (v.p != NULL)
				hindent(out, v.p, v.len);
			acl_rules_sb_putc(out, ',');
			if (i == l->nelems - 1)
				acl_rules_sb_putc(out, '\n');
		} else {
			if (space)
				acl_rules_sb_putc(out, ' ');
			space = 0;
			if (v.p != NULL)
				acl_rules_sb_putn(out, v.p, v.len);
			if (i != l->nelems - 1) {
				acl_rules_sb_putc(out, ',');
				space = 1;
			}
		}
	}
	acl_rules_sb_putc(out, ']');
	free(v.p);
}

static void
hprint_value(struct hprinter *pr, const struct hval *v, struct acl_sbuf *out)
{
	switch (v->kind) {
	case HV_LITERAL:
		acl_rules_sb_putn(out, v->tok.text, v->tok.len);
		break;
	case HV_OBJECT:
		hprint_object(pr, v, out);
		break;
	case HV_LIST:
		hprint_list(pr, v, out);
		break;
	}
}

static void
hprint_item(struct hprinter *pr, const struct hitem *it, struct acl_sbuf *out)
{
	size_t	i;

	hprint_comments(it->lead, out, 1);
	for (i = 0; i < it->nkeys; i++) {
		acl_rules_sb_putn(out, it->keys[i].text, it->keys[i].len);
		acl_rules_sb_putc(out, ' ');
		if (it->assign.line > 0 && i == it->nkeys - 1 &&
		    it->nkeys == 1)
			acl_rules_sb_puts(out, "= ");
	}
	hprint_value(pr, it->val, out);
	if (it->val->pos.line == it->keys[0].pos.line && it->line != NULL) {
		acl_rules_sb_putc(out, ' ');
		hprint_comments(it->line, out, 0);
	}
}

static void
hprint_file(struct hprinter *pr, const struct hval *root, struct acl_sbuf *out)
{
	struct hpos	 next, cur;
	size_t		 index = 0, g, c;

	for (;;) {
		for (g = 0; g < pr->nsa; g++)
			for (c = 0; c < pr->sa[g]->n; c++) {
				memset(&next, 0, sizeof(next));
				next.off = next.line = 1 << 30;
				if (index != root->nitems)
					next = root->items[index]->keys[0].pos;
				cur = pr->sa[g]->c[c]->pos;
				if (!pos_after(cur, pr->prev) ||
				    !pos_before(cur, next))
					continue;
				if (pr->prev.line > 0 && index == root->nitems)
					acl_rules_sb_puts(out, "\n\n");
				acl_rules_sb_putn(out, pr->sa[g]->c[c]->text,
				    pr->sa[g]->c[c]->len);
				acl_rules_sb_putc(out, '\n');
				if (index != root->nitems)
					acl_rules_sb_putc(out, '\n');
			}
		if (index == root->nitems)
			break;
		pr->prev = root->items[index]->keys[0].pos;
		hprint_item(pr, root->items[index], out);
		if (index != root->nitems - 1)
			acl_rules_sb_puts(out, "\n\n");
		index++;
	}
}

/*
 * Translate legacy ACL rules (HCL text, src[0..len)) to the current
 * syntax and store the new HCL text in *out (the caller frees it), as
 * POST /v1/acl/rules/translate answered in Consul 1.4-1.10: no trailing
 * newline, "" for empty input.  JSON rules are accepted too, as HCL v1
 * accepts them.  Returns 0, or -1 with 400
 * "Failed to parse rules: At <line>:<col>: <error>".  HCL v1's error
 * wording is followed for the common cases only.
 */
int
acl_rules_translate_legacy(const char *src, size_t len, char **out,
    struct perr *e)
{
	struct hparser	 p;
	struct hprinter	 pr;
	struct hval	 root, *proot;
	struct acl_sbuf	 b = { NULL, 0, 0 };
	size_t		 i;
	int		 rc = -1;

	*out = NULL;
	memset(&p, 0, sizeof(p));
	memset(&pr, 0, sizeof(pr));
	memset(&root, 0, sizeof(root));
	p.ar = arena_new();
	p.src = src;
	p.len = len;
	p.e = e;
	for (i = 0; i < len && isspace((unsigned char)src[i]); i++)
		continue;
	p.json = i < len && src[i] == '{';
	if (hlex(&p) == -1)
		goto out;
	root.kind = HV_OBJECT;
	/*
	 * Count as hcl.c does: in HCL the file is the top-level object;
	 * JSON goes through json-c there, which stops one level earlier.
	 */
	p.depth = 1;
	if (p.json) {
		if (hscan(&p)->type != HT_LBRACE ||
		    hjson_object(&p, &proot) == -1)
			goto out;
		if (hscan(&p)->type != HT_EOF) {
			hperr(&p, p.tok->pos, "unexpected %s after the object",
			    htok_names[p.tok->type]);
			goto out;
		}
		root.items = proot->items;
		root.nitems = proot->nitems;
		hflatten(&p, &root);
	} else if (hobject_list(&p, 0, &root.items, &root.nitems) == -1)
		goto out;
	hrename(&root);
	pr.sa = xcalloc(p.ngroups + 1, sizeof(*pr.sa));
	for (i = 0; i < p.ngroups; i++)
		if (!p.groups[i]->attached)
			pr.sa[pr.nsa++] = p.groups[i];
	hprint_file(&pr, &root, &b);
	*out = acl_rules_sb_take(&b);
	rc = 0;
out:
	free(pr.sa);
	free(p.raw);
	arena_free(p.ar);
	return rc;
}
