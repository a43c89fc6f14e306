/*
 * conf.h -- the configuration file (HCL or JSON).
 */
#ifndef CONF_H
#define CONF_H

#include <stdint.h>

#include "portcullis.h"

struct json_object;

struct conf {
	char			*path;		/* the file it came from */
	char			*datacenter;	/* "dc1" */
	char			*node_name;
	char			*data_dir;	/* required */
	char			*socket;	/* FastCGI unix socket */
	int			 workers;	/* worker processes */
	int			 threads;	/* accept threads per worker */
	int64_t			 max_body;	/* request body limit, bytes */
	int			 log_debug;
	char			*default_intention_policy;	/* NULL: unset */
	struct {
		int		 enabled;
		char		*default_policy;	/* "allow"/"deny" */
		char		*down_policy;
		int		 enable_token_persistence;
		char		*initial_management;	/* secret */
		char		*default_token;		/* secret */
		char		*agent_token;		/* secret */
		struct {	/* login/OIDC (acl_login.c) */
			int	 max_fail_addr;	/* per source address */
			int	 max_fail_method;	/* per auth method */
			int	 window_s;	/* of both counters */
			int	 timeout_ms;	/* outbound HTTPS */
			int	 state_ttl_s;	/* OIDC states */
		} login;
	} acl;
	struct {	/* the store block (store.h) */
		char		*backend;	/* "sqlite" (default), "postgres" */
		char		*dsn;		/* libpq conninfo/URI; secret */
		char		*sync;		/* "full" (default), "normal" */
	} store;
	struct {
		int			 enabled;
		struct json_object	*ca_config;	/* NULL: defaults */
		int			 authorize_td_check; /* default 1 */
	} connect;
};

int	conf_load(const char *, struct conf **, struct perr *) PC_MUSTCHECK;
int	conf_parse(const char *, size_t, int, struct conf **, struct perr *)
	    PC_MUSTCHECK;
void	conf_free(struct conf *);
int	conf_acl_default_allow(const struct conf *);
int	conf_intention_default_allow(const struct conf *);

#endif /* CONF_H */
