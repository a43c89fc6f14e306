/*
 * json.c -- request-body decoding driven by field tables.
 *
 * Mirrors Go's encoding/json as Consul configures it: one JSON value
 * per body (an empty body is "EOF"), keys matched case-insensitively
 * to the struct's fields, unknown keys rejected ("json: unknown field
 * \"Foo\""), type mismatches worded as Go words them, null leaving the
 * field unset.  Error texts carry no prefix: each endpoint adds its own
 * ("Request decode failed: ", "Failed to decode request body: ").
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <strings.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "json.h"
#include "utf8.h"

/* Go's name for the JSON kind of v ("string", "number", "object"...). */
const char *
json_type_go(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_boolean:
		return "bool";
	case json_type_int:
	case json_type_double:
		return "number";
	case json_type_string:
		return "string";
	case json_type_array:
		return "array";
	case json_type_object:
		return "object";
	default:
		return "null";
	}
}

/*
 * The length of the UTF-8 sequence at s (at most n bytes) when it is
 * one that Go's utf8.DecodeRune accepts (shortest form, no surrogates,
 * at most U+10FFFF), else 0.
 */
size_t
json_utf8_seq(const char *s, size_t n)
{
	uint32_t	r;
	int		bad;
	size_t		w;

	w = utf8_decode_rune(s, n, &r, &bad);
	return bad ? 0 : w;
}

/*
 * Whether the integer literal s[0..n) (an optional '-', then digits
 * without leading zeros) lies outside int64.
 */
static int
int_overflows(const char *s, size_t n)
{
	const char	*lim = "9223372036854775807";
	size_t		 nd;
	int		 neg = *s == '-', c;

	nd = n - (size_t)neg;
	if (nd != 19)
		return nd > 19;
	c = memcmp(s + neg, neg ? "9223372036854775808" : lim, 19);
	return c > 0;
}

/* What scan() found in a body. */
struct jscan {
	int	fix;		/* rewrite: invalid UTF-8, big integers */
	size_t	word;		/* first stray letter, or SIZE_MAX */
	int	word_neg;	/* ... just after a '-' */
};

/*
 * Walk a body as Go's scanner sees it, outside and inside strings.
 * With out non-NULL, also write the text json-c should parse: each
 * invalid UTF-8 byte inside a string becomes U+FFFD (Go's decoder
 * replaces them so), and each integer literal beyond int64 gets ".0"
 * so that json-c keeps it as a double instead of saturating it
 * silently (json_parse_text() strips the ".0" again).  Returns the
 * output length.
 */
static size_t
scan(const char *t, size_t len, struct jscan *js, char *out)
{
	size_t	i = 0, j, k, w = 0;
	int	instr = 0;

#define EMIT(p, n) do {							\
	if (out != NULL)						\
		memcpy(out + w, (p), (n));				\
	w += (n);							\
} while (0)
	js->fix = 0;
	js->word = SIZE_MAX;
	js->word_neg = 0;
	while (i < len) {
		if (instr) {
			if (t[i] == '\\' && i + 1 < len) {
				EMIT(t + i, 2);
				i += 2;
			} else if ((k = json_utf8_seq(t + i, len - i)) == 0) {
				EMIT("\xef\xbf\xbd", 3);
				js->fix = 1;
				i++;
			} else {
				if (t[i] == '"')
					instr = 0;
				EMIT(t + i, k);
				i += k;
			}
			continue;
		}
		if (t[i] == '"') {
			instr = 1;
			EMIT(t + i, 1);
			i++;
			continue;
		}
		if (t[i] == '-' || isdigit((unsigned char)t[i])) {
			j = i + 1;
			while (j < len && isdigit((unsigned char)t[j]))
				j++;
			k = j;
			while (k < len && (isalnum((unsigned char)t[k]) ||
			    t[k] == '.' || t[k] == '+' || t[k] == '-'))
				k++;
			/* (A leading zero stays for json-c to refuse.) */
			if (k == j && j - i > 19 &&
			    t[i + (t[i] == '-')] != '0' &&
			    int_overflows(t + i, j - i)) {
				EMIT(t + i, j - i);
				EMIT(".0", 2);
				js->fix = 1;
				i = j;
				continue;
			}
			if (t[i] == '-' && j == i + 1 && j < len &&
			    isalpha((unsigned char)t[j]) &&
			    js->word == SIZE_MAX) {	/* -Infinity */
				js->word = w + 1;
				js->word_neg = 1;
			}
			EMIT(t + i, k - i);
			i = k;
			continue;
		}
		if (isalpha((unsigned char)t[i])) {
			j = i;
			while (j < len && isalpha((unsigned char)t[j]))
				j++;
			/*
			 * Go fails at the first letter of a word that cannot
			 * start true, false or null (NaN, Infinity).
			 */
			if (js->word == SIZE_MAX && t[i] != 't' &&
			    t[i] != 'f' && t[i] != 'n')
				js->word = w;
			EMIT(t + i, j - i);
			i = j;
			continue;
		}
		EMIT(t + i, 1);
		i++;
	}
#undef EMIT
	return w;
}

/*
 * Give back the text of the integer literals scan() marked with ".0":
 * "18446744073709551616.0" prints and is reported as written.
 */
static void
unmark(struct json_object *v)
{
	const char	*txt;
	size_t		 n, i;
	char		*orig;

	switch (json_object_get_type(v)) {
	case json_type_object: {
		json_object_object_foreach(v, k, c) {
			(void)k;
			unmark(c);
		}
		break;
	}
	case json_type_array:
		for (i = 0; i < json_object_array_length(v); i++)
			unmark(json_object_array_get_idx(v, i));
		break;
	case json_type_double:
		txt = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
		n = strlen(txt);
		if (n < 22 || strcmp(txt + n - 2, ".0") != 0)
			break;
		for (i = *txt == '-'; i < n - 2; i++)
			if (!isdigit((unsigned char)txt[i]))
				return;
		if (!int_overflows(txt, n - 2))
			break;
		orig = xstrdup(txt);
		orig[n - 2] = '\0';
		json_object_set_serializer(v,
		    json_object_userdata_to_json_string, orig,
		    json_object_free_userdata);
		break;
	default:
		break;
	}
}

/*
 * Parse text as one JSON value.  Errors (status 400) are worded like
 * Go's: "EOF", "unexpected EOF", "invalid character 'x' looking for
 * beginning of value".  NaN and Infinity, which json-c takes, are
 * refused as Go refuses them; invalid UTF-8 in strings becomes U+FFFD
 * as in Go; integers beyond int64 stay doubles with their own text (so
 * json_decode() can refuse them for integer fields).  *out is a
 * new reference.
 */
int
json_parse_text(const char *text, size_t len, struct json_object **out,
    struct perr *e)
{
	struct json_tokener	*tok;
	struct json_object	*v;
	enum json_tokener_error	 err;
	struct jscan		 js;
	char			*fixed = NULL;
	size_t			 i, off;

	for (i = 0; i < len && isspace((unsigned char)text[i]); i++)
		;
	if (i == len)
		return perr_set(e, 400, "EOF");
	if (len > INT_MAX)
		return perr_set(e, 400, "unexpected EOF");
	(void)scan(text, len, &js, NULL);
	if (js.fix) {
		fixed = xmalloc(len * 3 + 2);
		len = scan(text, len, &js, fixed);
		fixed[len] = '\0';
		if (len > INT_MAX) {
			free(fixed);
			return perr_set(e, 400, "unexpected EOF");
		}
		text = fixed;
	}
	tok = json_tokener_new_ex(64);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	v = json_tokener_parse_ex(tok, text, (int)len);
	err = json_tokener_get_error(tok);
	off = (size_t)json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (js.word != SIZE_MAX && (v != NULL ? js.word < off :
	    js.word <= off)) {
		/* json-c takes NaN and Infinity: Go's scanner stops there. */
		json_object_put(v);
		v = NULL;
		perr_set(e, 400, "invalid character '%c' %s", text[js.word],
		    js.word_neg ? "in numeric literal" :
		    "looking for beginning of value");
		goto out;
	}
	if (v == NULL && err == json_tokener_continue) {
		perr_set(e, 400, "unexpected EOF");
		goto out;
	}
	if (v == NULL) {
		if (err == json_tokener_error_depth)
			perr_set(e, 400, "exceeded max depth");
		else if (off >= len)
			perr_set(e, 400, "unexpected EOF");
		else if (isprint((unsigned char)text[off]))
			perr_set(e, 400, "invalid character '%c' "
			    "looking for beginning of value", text[off]);
		else
			perr_set(e, 400, "invalid character '\\x%02x' "
			    "looking for beginning of value",
			    (unsigned char)text[off]);
		goto out;
	}
	if (js.fix)
		unmark(v);
	/* Go's Decoder reads one value and ignores what follows it. */
	*out = v;
out:
	free(fixed);
	return v == NULL ? -1 : 0;
}

/*
 * The text Go puts after "cannot unmarshal number ": the literal as
 * the body wrote it (json-c keeps a parsed double's text).  Borrowed
 * from v.
 */
const char *
json_number_text(struct json_object *v)
{
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

/*
 * v as an int64 the way Go's encoding/json stores a number into an
 * int64: only an integer literal within range.  Returns 0, or -1 for
 * a fraction, an exponent or a number beyond int64 (Go's
 * UnmarshalTypeError).
 */
int
json_get_int64(struct json_object *v, int64_t *out)
{
	if (!json_object_is_type(v, json_type_int))
		return -1;
	*out = json_object_get_int64(v);
	/* json-c keeps 2^63..2^64-1 as uint64; get_int64 saturates. */
	if (*out == INT64_MAX && json_object_get_uint64(v) > INT64_MAX)
		return -1;
	return 0;
}

/*
 * d truncated to an int64, as Go's int64(d) for a d in range.  Returns
 * 0, or -1 (*out untouched) for NaN, infinities and values outside
 * int64, where a C cast would be undefined.  For every double-to-
 * integer conversion of request data.
 */
int
json_double_int64(double d, int64_t *out)
{
	if (!isfinite(d) || d < -9223372036854775808.0 ||
	    d >= 9223372036854775808.0)
		return -1;
	*out = (int64_t)d;
	return 0;
}

/*
 * The first non-finite number (1e400: Go fails to make a float64 of
 * it) below v, or NULL.
 */
static struct json_object *
nonfinite(struct json_object *v)
{
	struct json_object	*r;
	size_t			 i;

	switch (json_object_get_type(v)) {
	case json_type_double:
		return isfinite(json_object_get_double(v)) ? NULL : v;
	case json_type_object: {
		json_object_object_foreach(v, k, c) {
			(void)k;
			if ((r = nonfinite(c)) != NULL)
				return r;
		}
		return NULL;
	}
	case json_type_array:
		for (i = 0; i < json_object_array_length(v); i++)
			if ((r = nonfinite(json_object_array_get_idx(v, i))) !=
			    NULL)
				return r;
		return NULL;
	default:
		return NULL;
	}
}

/*
 * Decode obj into out via fields.  seen (may be NULL) gets bit i set
 * for each fields[i] present and non-null.  Strings are copied into
 * arena; json_object fields borrow from obj, which the caller keeps
 * alive (req_decode_body() keeps it in req->json).  Status 400.
 */
int
json_decode(struct arena *arena, struct json_object *obj,
    const struct jfield *fields, const char *gostruct, void *out,
    uint64_t *seen, struct perr *e)
{
	const struct jfield	*f;
	struct json_object	*bad;
	char			*base = out;
	const char		*gs;
	size_t			 i;
	int64_t			 iv;

	/* Go names the struct without its package in field errors. */
	gs = strchr(gostruct, '.') != NULL ? strchr(gostruct, '.') + 1 :
	    gostruct;
	if (seen != NULL)
		*seen = 0;
	if (!json_object_is_type(obj, json_type_object))
		return perr_set(e, 400, "json: cannot unmarshal %s into Go "
		    "value of type %s", json_type_go(obj), gostruct);
	json_object_object_foreach(obj, key, val) {
		for (i = 0, f = fields; f->name != NULL; f++, i++)
			if (strcasecmp(f->name, key) == 0)
				break;
		if (f->name == NULL)
			return perr_set(e, 400, "json: unknown field \"%s\"",
			    key);
		if (val == NULL)	/* null: leave unset, as Go does */
			continue;
		if (seen != NULL && i < 64)
			*seen |= (uint64_t)1 << i;
		switch (f->type) {
		case J_STRING:
			if (!json_object_is_type(val, json_type_string))
				goto type;
			*(const char **)(base + f->off) = arena_strdup(
			    arena, json_object_get_string(val));
			break;
		case J_INT:
			if (!json_object_is_type(val, json_type_int) &&
			    !json_object_is_type(val, json_type_double))
				goto type;
			/* Go's ParseInt: no fraction, no exponent, int64. */
			if (json_get_int64(val, &iv) == -1)
				return perr_set(e, 400, "json: cannot "
				    "unmarshal number %s into Go struct "
				    "field %s.%s of type %s",
				    json_number_text(val), gs, f->name,
				    f->gotype);
			*(int64_t *)(base + f->off) = iv;
			break;
		case J_BOOL:
			if (!json_object_is_type(val, json_type_boolean))
				goto type;
			*(int *)(base + f->off) = json_object_get_boolean(val);
			break;
		case J_MAP_STRING:
			if (!json_object_is_type(val, json_type_object))
				goto type;
			{
				json_object_object_foreach(val, mk, mv) {
					(void)mk;
					if (mv != NULL && !json_object_is_type(
					    mv, json_type_string))
						return perr_set(e, 400,
						    "json: cannot unmarshal %s "
						    "into Go struct field %s.%s "
						    "of type string",
						    json_type_go(mv),
						    strchr(gostruct, '.') ?
						    strchr(gostruct, '.') + 1 :
						    gostruct, f->name);
				}
			}
			*(struct json_object **)(base + f->off) = val;
			break;
		case J_ARRAY:
			if (!json_object_is_type(val, json_type_array))
				goto type;
			*(struct json_object **)(base + f->off) = val;
			break;
		case J_ANY:
			/*
			 * Numbers in interface{} values become float64; Go
			 * names the struct field, not the map keys below it.
			 */
			if ((strncmp(f->gotype, "map[", 4) == 0 ||
			    strcmp(f->gotype, "interface {}") == 0) &&
			    (bad = nonfinite(val)) != NULL)
				return perr_set(e, 400, "json: cannot "
				    "unmarshal number %s into Go struct "
				    "field %s.%s of type float64",
				    json_number_text(bad), gs, f->name);
			*(struct json_object **)(base + f->off) = val;
			break;
		case J_IGNORE:
			break;
		}
		continue;
type:
		return perr_set(e, 400, "json: cannot unmarshal %s into Go "
		    "struct field %s.%s of type %s", json_type_go(val),
		    strchr(gostruct, '.') ? strchr(gostruct, '.') + 1 :
		    gostruct, f->name, f->gotype);
	}
	return 0;
}

static int
keycmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * A new object with obj's keys in sorted order, as Go renders maps.
 * Values are shared (reference counted).  NULL for NULL.
 */
struct json_object *
json_map_sorted(struct json_object *obj)
{
	struct json_object	*out;
	const char		**keys;
	size_t			 n = 0, i;

	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		return json_object_get(obj);
	keys = xcalloc((size_t)json_object_object_length(obj) + 1,
	    sizeof(*keys));
	json_object_object_foreach(obj, k, v) {
		(void)v;
		keys[n++] = k;
	}
	qsort(keys, n, sizeof(*keys), keycmp);
	out = json_object_new_object();
	for (i = 0; i < n; i++)
		json_object_object_add(out, keys[i],
		    json_object_get(json_object_object_get(obj, keys[i])));
	free(keys);
	return out;
}

/*
 * Replace every NaN and infinity below v with null (json-c prints them
 * bare, which no JSON client reads).  Returns how many were replaced.
 */
static int
drop_nonfinite(struct json_object *v)
{
	struct json_object	*c;
	size_t			 i;
	int			 n = 0;

	if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, k, ch) {
			if (json_object_is_type(ch, json_type_double) &&
			    !isfinite(json_object_get_double(ch))) {
				json_object_object_add(v, k, NULL);
				n++;
			} else
				n += drop_nonfinite(ch);
		}
	} else if (json_object_is_type(v, json_type_array)) {
		for (i = 0; i < json_object_array_length(v); i++) {
			c = json_object_array_get_idx(v, i);
			if (json_object_is_type(c, json_type_double) &&
			    !isfinite(json_object_get_double(c))) {
				json_object_array_put_idx(v, i, NULL);
				n++;
			} else
				n += drop_nonfinite(c);
		}
	}
	return n;
}

/*
 * How many bytes the rendering of s[0] takes, *adv set to how many
 * bytes of s it consumes: Go's encoder writes each byte of invalid
 * UTF-8 as \ufffd and U+2028/U+2029 as \u2028/\u2029.
 */
static size_t
render_width(const char *s, size_t *adv, int pretty)
{
	size_t	k;

	*adv = 1;
	switch (s[0]) {
	case '<':
	case '>':
	case '&':
		return 6;
	case '\t':
		return pretty ? 4 : 1;
	default:
		break;
	}
	if ((unsigned char)s[0] < 0x80)
		return 1;
	if ((k = json_utf8_seq(s, strnlen(s, 4))) == 0)
		return 6;
	*adv = k;
	if (k == 3 && memcmp(s, "\xe2\x80", 2) == 0 &&
	    (s[2] == '\xa8' || s[2] == '\xa9'))
		return 6;
	return k;
}

/*
 * Whether json_render() copies byte c as it is in any mode: printable
 * ASCII but '<', '>', '&' (json-c escapes control bytes itself).  Runs
 * of them are copied whole, without render_width() per byte: a leaf's
 * reply is ~2.5 KB of PEM, and rendering it byte by byte was 7 % of an
 * issuance's CPU in the workers (issue #16).
 */
static int
plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '<' && c != '>' && c != '&';
}

/*
 * Whether json-c's text s holds a bare NaN or Infinity: outside
 * strings, json-c writes no other 'N' or 'I'.
 */
static int
has_nonfinite(const char *s)
{
	int	instr = 0;

	for (; *s != '\0'; s++) {
		if (instr && *s == '\\' && s[1] != '\0')
			s++;
		else if (*s == '"')
			instr = !instr;
		else if (!instr && (*s == 'N' || *s == 'I'))
			return 1;
	}
	return 0;
}

/*
 * Render obj as Go's encoding/json would: compact, or as MarshalIndent
 * with 4 spaces ("key": value, empty {} and [] on one line) and a
 * final newline; '<', '>' and '&' become \u003c, \u003e, \u0026.
 * The last line of defence for strict clients: invalid UTF-8 becomes
 * \ufffd as Go writes it, and a NaN or infinity (which Go refuses to
 * marshal and json-c prints bare) becomes null, with a warning; obj is
 * changed in that case.  Returns a malloc'd string and its length.
 */
char *
json_render(struct json_object *obj, int pretty, size_t *lenp)
{
	const char	*s;
	char		*out, *w;
	size_t		 n = 0, i, adv, k, j;
	int		 flags;

	flags = JSON_C_TO_STRING_NOSLASHESCAPE;
	flags |= pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_PRETTY_TAB |
	    JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN;
	s = json_object_to_json_string_ext(obj, flags);
	if (has_nonfinite(s)) {
		log_warnx("reply: %d NaN or infinite number(s) sent as null",
		    drop_nonfinite(obj));
		s = json_object_to_json_string_ext(obj, flags);
	}
	for (i = 0; s[i]; i += adv) {
		if (plain((unsigned char)s[i])) {
			n++;
			adv = 1;
			continue;
		}
		n += render_width(s + i, &adv, pretty);
	}
	w = out = xmalloc(n + 2);
	for (i = 0; s[i]; i += adv) {
		/* A run of plain bytes ('{' and '[' stop it when pretty). */
		for (j = i; plain((unsigned char)s[j]) && !(pretty &&
		    (s[j] == '{' || s[j] == '[')); j++)
			;
		if (j > i) {
			memcpy(w, s + i, j - i);
			w += j - i;
			adv = j - i;
			continue;
		}
		/*
		 * Go writes empty containers as {} and [] where json-c
		 * breaks them over two lines.  A raw newline is always
		 * formatting: json-c escapes those inside strings.
		 */
		if (pretty && (s[i] == '{' || s[i] == '[') && s[i + 1] == '\n') {
			j = i + 2;
			while (s[j] == '\t')
				j++;
			if (s[j] == (s[i] == '{' ? '}' : ']')) {
				*w++ = s[i];
				*w++ = s[j];
				i = j;
				adv = 1;
				continue;
			}
		}
		k = render_width(s + i, &adv, pretty);
		switch (s[i]) {
		case '<':
			memcpy(w, "\\u003c", 6);
			break;
		case '>':
			memcpy(w, "\\u003e", 6);
			break;
		case '&':
			memcpy(w, "\\u0026", 6);
			break;
		case '\t':	/* only indentation: json-c escapes tabs */
			memcpy(w, pretty ? "    " : "\t", k);
			break;
		default:
			if (k == 6 && adv == 1)
				memcpy(w, "\\ufffd", 6);
			else if (k == 6)
				memcpy(w, s[i + 2] == '\xa8' ? "\\u2028" :
				    "\\u2029", 6);
			else
				memcpy(w, s + i, k);
		}
		w += k;
	}
	if (pretty)
		*w++ = '\n';
	*w = '\0';
	*lenp = (size_t)(w - out);
	return out;
}
