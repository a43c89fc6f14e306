/*
 * test_intention.c -- precedence numbers and the evaluation order
 * intention_decide() follows (check and authorize use it).  Decision
 * cases are data: tests/unit/data/intention_decide.txt.  decide() looks
 * the four candidates up by name (ixn_snap_find()); random tables check
 * it against a walk of the whole table in evaluation order.
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
static struct ixn	*ptrs[64];	/* a snapshot's v: table's rows */
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

/* The definition: the first intention in evaluation order that matches. */
static const struct ixn *
walk(const char *src, const char *dst)
{
	size_t	i;

	for (i = 0; i < ntable; i++)
		if (table[i].source_peer[0] == '\0' &&
		    (strcmp(table[i].source_name, "*") == 0 ||
		    strcmp(table[i].source_name, src) == 0) &&
		    (strcmp(table[i].dest_name, "*") == 0 ||
		    strcmp(table[i].dest_name, dst) == 0))
			return &table[i];
	return NULL;
}

static void
table_clear(void)
{
	size_t	i;

	for (i = 0; i < ntable; i++) {
		free(table[i].source_name);
		free(table[i].dest_name);
		free(table[i].action);
	}
	ntable = 0;
}

/* Add src -> dst (from peer) unless the table has it (the store's key). */
static void
table_add(const char *src, const char *dst, const char *peer,
    const char *action)
{
	size_t	i;

	for (i = 0; i < ntable; i++)
		if (strcmp(table[i].source_name, src) == 0 &&
		    strcmp(table[i].dest_name, dst) == 0 &&
		    strcmp(table[i].source_peer, peer) == 0)
			return;
	if (ntable == sizeof(table) / sizeof(table[0]))
		return;
	memset(&table[ntable], 0, sizeof(table[0]));
	table[ntable].source_name = xstrdup(src);
	table[ntable].dest_name = xstrdup(dst);
	table[ntable].action = xstrdup(action);
	table[ntable].source_peer = (char *)peer;
	table[ntable].precedence = intention_precedence(src, dst);
	ntable++;
	qsort(table, ntable, sizeof(table[0]), cmp);
}

/*
 * Random tables over a few names, some from a peer: decide() agrees
 * with walk() for every pair, and ixn_snap_find() finds every row.
 */
static void
test_random_tables(struct ixn_snap *snap)
{
	static const char	*names[] = { "*", "a", "b", "c", "db", "web" };
	static const char	*peers[] = { "", "", "", "p1" };
	const size_t		 nn = sizeof(names) / sizeof(names[0]);
	size_t			 round, k, i, j, bad = 0, lost = 0;

	srandom(7);
	for (round = 0; round < 500; round++) {
		table_clear();
		for (k = (size_t)random() % 20; k > 0; k--)
			table_add(names[random() % nn], names[random() % nn],
			    peers[random() % 4], random() % 2 ? "allow" : "deny");
		for (i = 0; i < ntable; i++)
			ptrs[i] = &table[i];
		snap->v = ptrs;
		snap->n = ntable;
		ixn_snap_index(snap);
		for (i = 0; i < nn; i++)
			for (j = 0; j < nn; j++)
				if (intention_decide(snap, names[i],
				    names[j]) != walk(names[i], names[j]))
					bad++;
		for (i = 0; i < ntable; i++)
			if (ixn_snap_find(snap, table[i].source_name,
			    table[i].source_peer, table[i].dest_name) !=
			    &table[i])
				lost++;
	}
	is_int((long)bad, 0, "decide() = a walk in evaluation order, "
	    "500 random tables x %zu pairs", nn * nn);
	is_int((long)lost, 0, "ixn_snap_find() finds every intention");
	ok(ixn_snap_find(snap, "nobody", "", "db") == NULL,
	    "ixn_snap_find() of a missing pair is NULL");
	table_clear();
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
	size_t			 i, k;
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
			table_clear();
			continue;
		}
		if (sscanf(line, "ixn %63s %63s %63s", a, b, c) == 3) {
			table_add(a, b, "", c);
			continue;
		}
		if (sscanf(line, "check %63s %63s %63s", a, b, c) == 3) {
			for (k = 0; k < ntable; k++)
				ptrs[k] = &table[k];
			snap.v = ptrs;
			snap.n = ntable;
			ixn_snap_index(&snap);
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
	test_random_tables(&snap);
	free(snap.by_name);
	return tap_done();
}
