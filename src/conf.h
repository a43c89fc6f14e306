/*
 * conf.h -- the configuration file (HCL or JSON).
 */
#ifndef CONF_H
#define CONF_H

#include <stdint.h>

#include "portcullis.h"

struct json_object;

/* advertise_addr when unset: Consul's HTTP port on loopback. */
#define CONF_ADVERTISE_DEFAULT	"127.0.0.1:8500"

struct conf {
	char			*path;		/* the file it came from */
	char			*datacenter;	/* "dc1" */
	char			*node_name;
	char			*advertise_addr;	/* "ip:port" (node.c) */
	int			 heartbeat_ms;	/* node row refresh period */
	int			 heartbeat_timeout_ms; /* older: failed */
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
		int		 hash_secrets;	/* store HMACs of SecretIDs */
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
		struct {	/* ca_key: the CA key in a PKCS#11 token */
			char	*pkcs11_module;	/* NULL: sealed in the store */
			char	*pkcs11_url;	/* "pkcs11:token=..." */
			char	*pin_file;
		} ca_key;
	} connect;
	struct {	/* the seal key (seal.c); default <data_dir>/seal.key */
		char		*key_file;
		char		*key_env;	/* name of an environment variable */
	} seal;
	struct {
		int		 disable;	/* no metrics (metrics.c) */
	} telemetry;
	struct {	/* the audit block (audit.c) */
		char		*sink_file;	/* JSON lines; NULL: none */
		int		 sink_stdout;	/* also to stdout */
		int		 sink_max_bytes; /* rotate past; 0: never */
		int		 max_count;	/* records kept; 0: all */
		char		*max_age;	/* "720h"; NULL: forever */
		int64_t		 max_age_s;	/* parsed max_age */
	} audit;
};

int	conf_load(const char *, struct conf **, struct perr *) PC_MUSTCHECK;
int	conf_parse(const char *, size_t, int, struct conf **, struct perr *)
	    PC_MUSTCHECK;
void	conf_free(struct conf *);
int	conf_acl_default_allow(const struct conf *);
int	conf_intention_default_allow(const struct conf *);

#endif /* CONF_H */
