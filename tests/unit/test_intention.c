/*
 * test_intention.c -- precedence numbers and the evaluation order
 * intention_decide() follows (check and authorize use it).  Decision
 * cases are data: tests/unit/data/intention_decide.txt.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portcullis.h"
#include "intention.h"
#include "tap.h"

static const struct {
	const char	*src, *dst;
	int		 prec;
} precs[] = {
	{ "web", "db", 9 },	/* exact -> exact */
	{ "*", "db", 8 },	/* * -> exact */
	{ "web", "*", 6 },	/* exact -> * */
	{ "*", "*", 5 },	/* * -> *: CE's lowest */
};

static struct ixn	 table[64];
static size_t		 ntable;

static int
cmp(const void *a, const void *b)
{
	const struct ixn *x = a, *y = b;
	int		  c;

	/* The store's ORDER BY: precedence desc, source, destination. */
	if (x->precedence != y->precedence)
		return y->precedence - x->precedence;
	if ((c = strcmp(x->source_name, y->source_name)) != 0)
		return c;
	return strcmp(x->dest_name, y->dest_name);
}

static const char *
data_path(const char *name, char *buf, size_t sz)
{
	const char	*dir = getenv("srcdir");

	snprintf(buf, sz, "%s/tests/unit/data/%s", dir ? dir : ".", name);
	return buf;
}

int
main(void)
{
	struct ixn_snap		 snap;
	const struct ixn	*x;
	char			 path[512], line[256], a[64], b[64], c[64];
	char			 got[160];
	FILE			*f;
	size_t			 i;
	int			 lineno = 0;

	for (i = 0; i < sizeof(precs) / sizeof(precs[0]); i++)
		is_int(intention_precedence(precs[i].src, precs[i].dst),
		    precs[i].prec, "precedence %s -> %s is %d", precs[i].src,
		    precs[i].dst, precs[i].prec);

	if ((f = fopen(data_path("intention_decide.txt", path,
	    sizeof(path)), "r")) == NULL) {
		printf("Bail out! cannot open %s\n", path);
		return 1;
	}
	memset(&snap, 0, sizeof(snap));
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (strncmp(line, "reset", 5) == 0) {
			for (i = 0; i < ntable; i++) {
				free(table[i].source_name);
				free(table[i].dest_name);
				free(table[i].action);
			}
			ntable = 0;
			continue;
		}
		if (sscanf(line, "ixn %63s %63s %63s", a, b, c) == 3 &&
		    ntable < 64) {
			memset(&table[ntable], 0, sizeof(table[0]));
			table[ntable].source_name = xstrdup(a);
			table[ntable].dest_name = xstrdup(b);
			table[ntable].action = xstrdup(c);
			table[ntable].source_peer = "";
			table[ntable].precedence = intention_precedence(a, b);
			ntable++;
			qsort(table, ntable, sizeof(table[0]), cmp);
			continue;
		}
		if (sscanf(line, "check %63s %63s %63s", a, b, c) == 3) {
			snap.v = table;
			snap.n = ntable;
			x = intention_decide(&snap, a, b);
			if (x == NULL)
				snprintf(got, sizeof(got), "none");
			else
				snprintf(got, sizeof(got), "%s>%s",
				    x->source_name, x->dest_name);
			is_str(got, c, "line %d: %s -> %s governed by %s",
			    lineno, a, b, c);
			continue;
		}
		ok(0, "line %d: cannot parse \"%s\"", lineno, line);
	}
	fclose(f);
	for (i = 0; i < ntable; i++) {
		free(table[i].source_name);
		free(table[i].dest_name);
		free(table[i].action);
	}
	return tap_done();
}
