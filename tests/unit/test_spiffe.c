/*
 * test_spiffe.c -- spiffe.c: parsing (Consul's ParseCertURI cases and
 * error texts), formatting, round trips and trust-domain helpers.
 * Cases are data: a new one is one line.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portcullis.h"
#include "spiffe.h"
#include "tap.h"

#define TD	"1234.consul"

/*
 * One parse case.  kind -1 means an error, whose text is in err; else
 * the expected fields (NULL: the kind does not carry it) and, in err,
 * what spiffe_format() gives back (NULL: the input itself).
 */
static const struct pcase {
	const char	*uri;
	int		 kind;
	const char	*host, *ap, *ns, *dc, *svc, *node, *cid, *dom;
	const char	*err;
} pcases[] = {
	/* Consul's uri_test.go cases. */
	{ "spiffe://1234.consul/ns/default/dc/dc01/svc/web", SPIFFE_SERVICE,
	    TD, "default", "default", "dc01", "web", NULL, NULL, NULL, NULL },
	{ "spiffe://1234.consul/ap/bizdev/ns/default/dc/dc01/svc/web",
	    SPIFFE_SERVICE, TD, "bizdev", "default", "dc01", "web", NULL,
	    NULL, NULL, NULL },
	{ "spiffe://1234.consul/agent/client/dc/dc1/id/uuid", SPIFFE_AGENT,
	    TD, "default", NULL, "dc1", NULL, "uuid", NULL, NULL, NULL },
	{ "spiffe://1234.consul/ap/bizdev/agent/client/dc/dc1/id/uuid",
	    SPIFFE_AGENT, TD, "bizdev", NULL, "dc1", NULL, "uuid", NULL, NULL,
	    NULL },
	{ "spiffe://1234.consul/agent/server/dc/dc1", SPIFFE_SERVER, TD, NULL,
	    NULL, "dc1", NULL, NULL, NULL, NULL, NULL },
	{ "spiffe://1234.consul/gateway/mesh/dc/dc1", SPIFFE_MESH_GATEWAY,
	    TD, "default", NULL, "dc1", NULL, NULL, NULL, NULL, NULL },
	{ "spiffe://1234.consul/ap/bizdev/gateway/mesh/dc/dc1",
	    SPIFFE_MESH_GATEWAY, TD, "bizdev", NULL, "dc1", NULL, NULL, NULL,
	    NULL, NULL },
	{ "spiffe://1234.consul/ns/foo%2Fbar/dc/bar%2Fbaz/svc/baz%2Fqux",
	    SPIFFE_SERVICE, TD, "default", "foo/bar", "bar/baz", "baz/qux",
	    NULL, NULL, NULL, NULL },
	{ "spiffe://1234.consul/ap/biz%2Fdev/ns/foo%2Fbar/dc/bar%2Fbaz/svc/"
	    "baz%2Fqux", SPIFFE_SERVICE, TD, "biz/dev", "foo/bar", "bar/baz",
	    "baz/qux", NULL, NULL, NULL, NULL },
	{ "spiffe://1234.consul", SPIFFE_SIGNING, TD, NULL, NULL, NULL, NULL,
	    NULL, "1234", "consul", NULL },
	/* What Go's url.Parse does before Consul looks. */
	{ "SPIFFE://1234.consul/ns/default/dc/dc1/svc/web", SPIFFE_SERVICE,
	    TD, "default", "default", "dc1", "web", NULL, NULL, NULL,
	    "spiffe://1234.consul/ns/default/dc/dc1/svc/web" },
	{ "spiffe://1234.consul/ns/default/dc/dc1/svc/web?x=1#frag",
	    SPIFFE_SERVICE, TD, "default", "default", "dc1", "web", NULL,
	    NULL, NULL, "spiffe://1234.consul/ns/default/dc/dc1/svc/web" },
	{ "spiffe://user@1234.consul/ns/default/dc/dc1/svc/web",
	    SPIFFE_SERVICE, TD, "default", "default", "dc1", "web", NULL,
	    NULL, NULL, "spiffe://1234.consul/ns/default/dc/dc1/svc/web" },
	{ "spiffe://1234.consul/ns/default/dc/dc1/svc/a+b%20c",
	    SPIFFE_SERVICE, TD, "default", "default", "dc1", "a+b c", NULL,
	    NULL, NULL, NULL },
	{ "spiffe://1234.consul/ns/default/dc/dc1/svc/%77eb", SPIFFE_SERVICE,
	    TD, "default", "default", "dc1", "web", NULL, NULL, NULL,
	    "spiffe://1234.consul/ns/default/dc/dc1/svc/web" },
	{ "spiffe://1234.consul/ap/default/ns/default/dc/dc1/svc/web",
	    SPIFFE_SERVICE, TD, "default", "default", "dc1", "web", NULL,
	    NULL, NULL, "spiffe://1234.consul/ns/default/dc/dc1/svc/web" },
	{ "spiffe://1234.consul:8500", SPIFFE_SIGNING, "1234.consul:8500",
	    NULL, NULL, NULL, NULL, NULL, "1234", "consul:8500", NULL },
	{ "spiffe:/ns/default/dc/dc1/svc/web", SPIFFE_SERVICE, "", "default",
	    "default", "dc1", "web", NULL, NULL, NULL,
	    "spiffe:///ns/default/dc/dc1/svc/web" },

	/* Errors, worded as Consul (or Go's url.Parse) words them. */
	{ "http://google.com/", -1, .err =
	    "SPIFFE ID must have 'spiffe' scheme" },
	{ "", -1, .err = "SPIFFE ID must have 'spiffe' scheme" },
	{ "spiffe", -1, .err = "SPIFFE ID must have 'spiffe' scheme" },
	{ "spiffer://1234.consul", -1, .err =
	    "SPIFFE ID must have 'spiffe' scheme" },
	{ "1spiffe://1234.consul", -1, .err =
	    "SPIFFE ID must have 'spiffe' scheme" },
	{ ":foo", -1, .err = "parse \":foo\": missing protocol scheme" },
	{ "spiffe://1234.consul/", -1, .err =
	    "SPIFFE ID is not in the expected format: spiffe://1234.consul/" },
	{ "spiffe://1234.consul/ns/default/dc/dc1/svc/", -1, .err =
	    "SPIFFE ID is not in the expected format: spiffe://1234.consul/"
	    "ns/default/dc/dc1/svc/" },
	{ "spiffe://1234.consul/ns//dc/dc1/svc/web", -1, .err =
	    "SPIFFE ID is not in the expected format: spiffe://1234.consul/"
	    "ns//dc/dc1/svc/web" },
	{ "spiffe://1234.consul/ns/default/dc/dc1/svc/web/x", -1, .err =
	    "SPIFFE ID is not in the expected format: spiffe://1234.consul/"
	    "ns/default/dc/dc1/svc/web/x" },
	{ "spiffe://1234.consul/ap//ns/default/dc/dc1/svc/web", -1, .err =
	    "SPIFFE ID is not in the expected format: spiffe://1234.consul/"
	    "ap//ns/default/dc/dc1/svc/web" },
	{ "spiffe://1234.consul/ap/x/agent/server/dc/dc1", -1, .err =
	    "SPIFFE ID is not in the expected format: spiffe://1234.consul/"
	    "ap/x/agent/server/dc/dc1" },
	{ "spiffe://1234.consul/agent/web", -1, .err =
	    "SPIFFE ID is not in the expected format: spiffe://1234.consul/"
	    "agent/web" },
	{ "spiffe://consul", -1, .err =
	    "SPIFFE ID is not in the expected format: spiffe://consul" },
	{ "spiffe://.consul", -1, .err =
	    "SPIFFE ID is not in the expected format: spiffe://.consul" },
	{ "spiffe://", -1, .err =
	    "SPIFFE ID is not in the expected format: spiffe://" },
	{ "spiffe:opaque.x", -1, .err =
	    "SPIFFE ID is not in the expected format: spiffe:opaque.x" },
	{ "SpIfFe://x/y", -1, .err =
	    "SPIFFE ID is not in the expected format: spiffe://x/y" },
	{ "spiffe://1234.consul/ns/%zz/dc/dc1/svc/web", -1, .err =
	    "Invalid namespace: invalid URL escape \"%zz\"" },
	{ "spiffe://1234.consul/ap/%2/ns/default/dc/dc1/svc/web", -1, .err =
	    "Invalid admin partition: invalid URL escape \"%2\"" },
	{ "spiffe://1234.consul/ns/default/dc/%G1/svc/web", -1, .err =
	    "Invalid datacenter: invalid URL escape \"%G1\"" },
	{ "spiffe://1234.consul/ns/default/dc/dc1/svc/web%", -1, .err =
	    "Invalid service: invalid URL escape \"%\"" },
	{ "spiffe://1234.consul/ns/default/dc/dc1/svc/web%00evil", -1, .err =
	    "Invalid service: invalid URL escape \"%00\"" },
	{ "spiffe://1234.consul/agent/client/dc/dc1/id/%zz", -1, .err =
	    "Invalid node: invalid URL escape \"%zz\"" },
	{ "spiffe://1234.consul/agent/client/dc/d%c/id/n", -1, .err =
	    "Invalid datacenter: invalid URL escape \"%c\"" },
	{ "spiffe://1234.consul/gateway/mesh/dc/%x", -1, .err =
	    "Invalid datacenter: invalid URL escape \"%x\"" },
	{ "spiffe://1234.consul/agent/server/dc/%", -1, .err =
	    "Invalid datacenter: invalid URL escape \"%\"" },
	{ "spiffe://1234.consul/ns/default/dc/dc1/svc/w\teb", -1, .err =
	    "parse \"spiffe://1234.consul/ns/default/dc/dc1/svc/w\\teb\": "
	    "net/url: invalid control character in URL" },
	{ "spiffe://12 34.consul", -1, .err =
	    "parse \"spiffe://12 34.consul\": invalid character \" \" in host "
	    "name" },
	{ "spiffe://1234.consul:80x/ns/default/dc/dc1/svc/web", -1, .err =
	    "parse \"spiffe://1234.consul:80x/ns/default/dc/dc1/svc/web\": "
	    "invalid port after host" },
	{ "spiffe://12%34.consul", -1, .err =
	    "parse \"spiffe://12%34.consul\": invalid character \"%\" in host "
	    "name" },
};

static void
test_parse(void)
{
	const struct pcase	*c;
	struct spiffe_id	*id, *dup;
	struct perr		 e;
	char			*f;
	size_t			 i;
	int			 r;

	for (i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
		c = &pcases[i];
		perr_clear(&e);
		r = spiffe_parse(c->uri, &id, &e);
		if (c->kind == -1) {
			ok(r == -1 && id == NULL, "%s is refused", c->uri);
			is_int(e.status, 400, "... with 400");
			is_str(e.msg, c->err, "... saying so");
			continue;
		}
		ok(r == 0 && id != NULL, "%s parses (%s)", c->uri, e.msg);
		if (r != 0)
			continue;
		is_str(spiffe_kind_name(id->kind),
		    spiffe_kind_name((enum spiffe_kind)c->kind),
		    "... as %s", spiffe_kind_name((enum spiffe_kind)c->kind));
		is_str(id->host, c->host, "... host");
		is_str(id->partition, c->ap, "... partition");
		is_str(id->ns, c->ns, "... namespace");
		is_str(id->dc, c->dc, "... datacenter");
		is_str(id->service, c->svc, "... service");
		is_str(id->node, c->node, "... node");
		is_str(id->cluster_id, c->cid, "... cluster id");
		is_str(id->domain, c->dom, "... domain");
		f = spiffe_format(id);
		is_str(f, c->err != NULL ? c->err : c->uri,
		    "... and formats back");
		free(f);
		dup = spiffe_dup(id);
		f = spiffe_format(dup);
		is_str(f, c->err != NULL ? c->err : c->uri, "... dup too");
		free(f);
		spiffe_free(dup);
		spiffe_free(id);
	}
}

static void
test_format(void)
{
	static const struct {
		const char	*td, *ap, *ns, *dc, *svc;
		const char	*want;
	} t[] = {
		{ TD, NULL, "default", "dc1", "web",
		    "spiffe://1234.consul/ns/default/dc/dc1/svc/web" },
		{ TD, NULL, NULL, "dc1", "web",
		    "spiffe://1234.consul/ns/default/dc/dc1/svc/web" },
		{ TD, "", "", "dc1", "web",
		    "spiffe://1234.consul/ns/default/dc/dc1/svc/web" },
		{ TD, "default", "default", "dc1", "web",
		    "spiffe://1234.consul/ns/default/dc/dc1/svc/web" },
		{ TD, "DEFAULT", "default", "dc1", "web",
		    "spiffe://1234.consul/ns/default/dc/dc1/svc/web" },
		{ TD, "BizDev", "default", "dc1", "web",
		    "spiffe://1234.consul/ap/bizdev/ns/default/dc/dc1/svc/web" },
		{ TD, NULL, "default", "dc1", "a b/c?d#e%f",
		    "spiffe://1234.consul/ns/default/dc/dc1/svc/"
		    "a%20b%2Fc%3Fd%23e%25f" },
		{ TD, NULL, "default", "dc1", "x$&+,:;=@-._~y",
		    "spiffe://1234.consul/ns/default/dc/dc1/svc/"
		    "x$&+,:;=@-._~y" },
		{ TD, NULL, "default", "dc1", "caf\xc3\xa9!*'()",
		    "spiffe://1234.consul/ns/default/dc/dc1/svc/"
		    "caf%C3%A9%21%2A%27%28%29" },
	};
	struct spiffe_id	*id;
	struct perr		 e;
	char			*s;
	size_t			 i;
	int			 r;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		s = spiffe_service_uri(t[i].td, t[i].ap, t[i].ns, t[i].dc,
		    t[i].svc);
		is_str(s, t[i].want, "service URI %zu", i);
		r = spiffe_parse(s, &id, &e);
		ok(r == 0 && strcmp(id->service, t[i].svc) == 0,
		    "... parses back to service \"%s\"", t[i].svc);
		if (r == 0)
			spiffe_free(id);
		free(s);
	}
}

static void
test_format_kinds(void)
{
	struct spiffe_id	id;
	char			*s;

	memset(&id, 0, sizeof(id));
	id.kind = SPIFFE_AGENT;
	id.host = TD;
	id.dc = "dc1";
	id.node = "node 1";
	s = spiffe_format(&id);
	is_str(s, "spiffe://1234.consul/agent/client/dc/dc1/id/node%201",
	    "agent URI");
	free(s);
	id.partition = "Part";
	s = spiffe_format(&id);
	is_str(s, "spiffe://1234.consul/ap/part/agent/client/dc/dc1/id/"
	    "node%201", "agent URI in a partition");
	free(s);
	id.kind = SPIFFE_MESH_GATEWAY;
	s = spiffe_format(&id);
	is_str(s, "spiffe://1234.consul/ap/part/gateway/mesh/dc/dc1",
	    "mesh gateway URI in a partition");
	free(s);
	id.kind = SPIFFE_SERVER;
	s = spiffe_format(&id);
	is_str(s, "spiffe://1234.consul/agent/server/dc/dc1",
	    "server URI ignores the partition");
	free(s);
	memset(&id, 0, sizeof(id));
	id.kind = SPIFFE_SIGNING;
	id.cluster_id = "ABCD";
	id.domain = "Consul";
	s = spiffe_format(&id);
	is_str(s, "spiffe://abcd.consul", "signing URI is lower-cased");
	free(s);
}

static void
test_trust_domain(void)
{
	char	*s;

	s = spiffe_trust_domain("7F42F496-FBC7-8692-05ED-334AA5340C1E");
	is_str(s, "7f42f496-fbc7-8692-05ed-334aa5340c1e.consul",
	    "trust domain: lower-cased cluster id + .consul");
	free(s);
	s = spiffe_signing_uri("7F42F496-fbc7-8692-05ed-334aa5340c1e.Consul");
	is_str(s, "spiffe://7f42f496-fbc7-8692-05ed-334aa5340c1e.consul",
	    "signing URI: spiffe://<td>, lower-cased");
	free(s);
}

static void
test_can_sign(void)
{
	static const struct {
		const char	*uri;
		int		 want;
	} t[] = {
		{ "spiffe://1234.consul/ns/default/dc/dc1/svc/web", 1 },
		{ "spiffe://1234.CONSUL/ns/default/dc/dc1/svc/web", 1 },
		{ "spiffe://5678.consul/ns/default/dc/dc1/svc/web", 0 },
		{ "spiffe://1234.consul/gateway/mesh/dc/dc1", 1 },
		{ "spiffe://5678.consul/gateway/mesh/dc/dc1", 0 },
		{ "spiffe://1234.consul/agent/server/dc/dc1", 1 },
		{ "spiffe://5678.consul/agent/server/dc/dc1", 0 },
		{ "spiffe://5678.consul/agent/client/dc/dc1/id/n", 1 },
		{ "spiffe://1234.consul", 1 },
		{ "spiffe://1234.Consul", 1 },
		{ "spiffe://5678.consul", 0 },
	};
	struct spiffe_id	*id;
	struct perr		 e;
	size_t			 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (spiffe_parse(t[i].uri, &id, &e) == -1) {
			ok(0, "%s: %s", t[i].uri, e.msg);
			continue;
		}
		is_int(spiffe_can_sign(TD, id), t[i].want,
		    "%s CA may%s sign %s", TD, t[i].want ? "" : " not",
		    t[i].uri);
		spiffe_free(id);
	}
}

int
main(void)
{
	test_parse();
	test_format();
	test_format_kinds();
	test_trust_domain();
	test_can_sign();
	is_str(spiffe_kind_name(SPIFFE__MAX), "unknown", "kind name guard");
	spiffe_free(NULL);
	ok(spiffe_dup(NULL) == NULL, "dup(NULL) is NULL");
	return tap_done();
}
