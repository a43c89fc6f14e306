/*
 * fuzz_spiffe.c -- fuzz spiffe_parse() (a certificate's URI SAN comes
 * from the network).  Beyond not crashing, checks one invariant: an ID
 * that parses formats to a URI that parses back to the same ID (with
 * the partition and the signing host compared case-insensitively,
 * since the formatter lower-cases them as Consul does).
 * Corpus: tests/fuzz/corpus/spiffe/.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "portcullis.h"
#include "spiffe.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
same(const char *a, const char *b, int icase)
{
	if (a == NULL || b == NULL)
		return a == b;
	return icase ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spiffe_id	*id, *id2;
	struct perr		 e;
	char			*s, *f;

	if (size > 4096)
		return 0;
	s = xstrndup((const char *)data, size);
	if (spiffe_parse(s, &id, &e) == 0) {
		f = spiffe_format(id);
		if (spiffe_parse(f, &id2, &e) != 0)
			abort();
		if (id2->kind != id->kind ||
		    !same(id->ns, id2->ns, 0) || !same(id->dc, id2->dc, 0) ||
		    !same(id->service, id2->service, 0) ||
		    !same(id->node, id2->node, 0) ||
		    !same(id->partition, id2->partition, 1) ||
		    !same(id->cluster_id, id2->cluster_id, 1) ||
		    !same(id->domain, id2->domain, 1) ||
		    !same(id->host, id2->host, id->kind == SPIFFE_SIGNING))
			abort();
		(void)spiffe_can_sign("1234.consul", id);
		spiffe_free(id2);
		spiffe_free(id);
		free(f);
	} else if (e.status != 400 || e.msg[0] == '\0')
		abort();
	free(s);
	return 0;
}
