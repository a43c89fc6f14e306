/*
 * main.c -- the master process: configuration, migrations, the
 * FastCGI socket, and a pre-forked set of supervised workers.
 *
 *   portcullis -c FILE [-d]     run (foreground; logs to stderr)
 *   portcullis -c FILE -t       check the configuration and exit
 *   portcullis -R               print the routing table and exit
 *   portcullis -c FILE seal rotate   re-seal the store under a new key
 *   portcullis -c FILE audit verify
 *                               walk the audit chain in the store (audit.c)
 *
 * The master opens and migrates the store, gives it a cluster ID on
 * first start, binds the unix socket (mode 0660), then forks `workers`
 * workers.  It restarts a worker that dies (logged; exponential
 * back-off from 100 ms to 10 s for one that keeps dying young),
 * relays commit notifications to every worker (notify.c), re-reads the
 * configuration on SIGHUP (and replaces the workers one by one), and on
 * SIGTERM/SIGINT lets workers drain, then exits.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "portcullis.h"
#include "audit.h"
#include "conf.h"
#include "hooks.h"
#include "node.h"
#include "metrics.h"
#include "notify.h"
#include "router.h"
#include "seal_db.h"
#include "store.h"
#include "util.h"
#include "worker.h"

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	10000
#define DRAIN_MAX_MS	15000

struct slot {
	pid_t		pid;		/* 0: not running */
	int64_t		started_ms;
	int64_t		restart_at_ms;	/* 0: not scheduled */
	int		backoff_ms;
	int		retiring;	/* asked to stop (reload) */
};

static struct slot	 slots[NOTIFY_MAX_WORKERS];
static int		 nslots;
static int		 sigpipe_fds[2];
static struct conf	*conf;
static int		 listen_fd = -1;

static void
on_signal(int sig)
{
	unsigned char	c = (unsigned char)sig;
	int		saved = errno;

	(void)write(sigpipe_fds[1], &c, 1);
	errno = saved;
}

/*
 * -R: print the routing table, one route a line: method, pattern, ACL
 * (tab-separated).  The end-to-end ACL matrix reads it, so routes added
 * later are tested without editing the test.
 */
static void
dump_routes(void)
{
	static const char *const need[ACL_NEED__MAX] = {
		[ACL_NEED_UNSET] = "UNSET",
		[ACL_NONE] = "NONE",
		[ACL_BY_HANDLER] = "BY_HANDLER",
		[ACL_OPERATOR_READ] = "OPERATOR_READ",
		[ACL_OPERATOR_WRITE] = "OPERATOR_WRITE",
		[ACL_ACL_READ] = "ACL_READ",
		[ACL_ACL_WRITE] = "ACL_WRITE",
	};
	size_t	i;

	for (i = 0; i < nroutes; i++)
		printf("%s\t%s\t%s\n", method_name(routes[i].method),
		    routes[i].pattern, routes[i].acl < ACL_NEED__MAX &&
		    need[routes[i].acl] ? need[routes[i].acl] : "?");
}

static void
usage(void)
{
	fprintf(stderr, "usage: portcullis -c config [-d] [-t] | -R\n"
	    "       portcullis -c config seal rotate\n"
	    "       portcullis -c config audit verify\n");
	exit(2);
}

/*
 * Warn when other users may read path: the config may hold
 * initial_management, the data dir holds the store (every token).
 */
static void
warn_open_to_others(const char *what, const char *path)
{
	struct stat	sb;

	if (stat(path, &sb) == 0 && (sb.st_mode & S_IRWXO) != 0)
		log_warnx("%s %s is open to other users (mode %04o); "
		    "chmod o-rwx it", what, path, (unsigned)(sb.st_mode & 07777));
}

/* Open, migrate and bootstrap the store: cluster ID, datacenter. */
static void
init_store(void)
{
	struct store	*st;
	struct perr	 e;
	char		*path, *cid = NULL, *dc = NULL, uuid[37];
	size_t		 i;

	perr_clear(&e);
	if (mkdir(conf->data_dir, 0700) == -1 && errno != EEXIST)
		fatal("mkdir %s", conf->data_dir);
	warn_open_to_others("data_dir", conf->data_dir);
	warn_open_to_others("configuration", conf->path);
	xasprintf(&path, "%s/portcullis.db", conf->data_dir);
	store_configure(strcmp(conf->store.backend, "postgres") == 0 ?
	    STORE_POSTGRES : STORE_SQLITE, conf->store.dsn);
	store_set_sync(strcmp(conf->store.sync, "full") == 0);
	if (store_open(path, &st, &e) == -1 || store_migrate(st, &e) == -1 ||
	    store_prepare_all(st, &e) == -1)
		fatalx("store %s: %s", store_backend() == STORE_POSTGRES ?
		    "(postgres)" : path, e.msg);
	/* Before anything writes: a wrong seal key must touch nothing. */
	if (seal_db_boot(st, conf, &e) == -1)
		fatalx("refusing to start: %s", e.msg);
	if (store_meta_get(st, "cluster_id", &cid, &e) == -1 ||
	    store_meta_get(st, "datacenter", &dc, &e) == -1)
		fatalx("store %s: %s", store_backend() == STORE_POSTGRES ?
		    "(postgres)" : path, e.msg);
	if (cid == NULL) {
		/*
		 * Nodes starting together on one empty database: the first
		 * to hold the write lock creates the cluster; the others
		 * find its ID once they hold it.
		 */
		uuid_generate_v4(uuid);
		if (store_begin(st, &e) == -1)
			fatalx("store bootstrap: %s", e.msg);
		if (store_meta_get(st, "cluster_id", &cid, &e) == -1 ||
		    (cid == NULL && (store_meta_put(st, "cluster_id", uuid,
		    &e) == -1 || store_meta_put(st, "datacenter",
		    conf->datacenter, &e) == -1))) {
			store_rollback(st);
			fatalx("store bootstrap: %s", e.msg);
		}
		if (cid != NULL)
			store_rollback(st);
		else if (store_commit(st, &e) == -1)
			fatalx("store bootstrap: %s", e.msg);
		else
			log_info("new cluster %s in datacenter %s", uuid,
			    conf->datacenter);
	} else if (dc != NULL && strcmp(dc, conf->datacenter) != 0)
		log_warnx("datacenter is \"%s\" in the config but the store "
		    "was created for \"%s\"", conf->datacenter, dc);
	for (i = 0; i < nhooks; i++)
		if (hooks[i].boot != NULL && hooks[i].boot(st, conf, &e) == -1)
			fatalx("%s: %s", hooks[i].name, e.msg);
	if (store_load_shared(st, &e) == -1)
		fatalx("store: %s", e.msg);
	free(cid);
	free(dc);
	/*
	 * Close st before the node's heartbeat connection opens: SQLite
	 * checkpoints and removes the WAL when its last connection closes,
	 * so the workers start on a compact store.  With another
	 * connection open the migrations' frames stay in the WAL until the
	 * checkpointer copies them, and the files grow under the first
	 * requests.
	 */
	store_close(st);
	node_init(conf->data_dir);
	node_master_start(conf);
	free(path);
}

/*
 * `portcullis -c FILE seal rotate`: re-seal every sealed value under a
 * new seal key in one transaction (seal_db.c says where the key goes).
 * Safe while the server runs.  Returns the exit status.
 */
static int
seal_rotate(void)
{
	struct store	*st;
	struct perr	 e;
	char		*path, *where = NULL;
	int		 rc = 0;

	perr_clear(&e);
	xasprintf(&path, "%s/portcullis.db", conf->data_dir);
	store_configure(strcmp(conf->store.backend, "postgres") == 0 ?
	    STORE_POSTGRES : STORE_SQLITE, conf->store.dsn);
	if (store_open(path, &st, &e) == -1 || store_migrate(st, &e) == -1 ||
	    store_prepare_all(st, &e) == -1 ||
	    seal_db_rotate(st, conf, &where, &e) == -1) {
		fprintf(stderr, "portcullis: seal rotate: %s\n", e.msg);
		rc = 1;
	} else
		printf("seal rotate: %s\n", where);
	free(where);
	store_close(st);
	free(path);
	return rc;
}

static void
open_socket(void)
{
	struct sockaddr_un	sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(conf->socket) >= sizeof(sun.sun_path))
		fatalx("socket path too long: %s", conf->socket);
	strcpy(sun.sun_path, conf->socket);
	if ((listen_fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		fatal("socket");
	if (unlink(conf->socket) == -1 && errno != ENOENT)
		fatal("unlink %s", conf->socket);
	if (bind(listen_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("bind %s", conf->socket);
	if (chmod(conf->socket, 0660) == -1)
		fatal("chmod %s", conf->socket);
	if (listen(listen_fd, 4096) == -1)
		fatal("listen");
	/* Workers accept after epoll: a lost race must not block. */
	if (fcntl(listen_fd, F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
}

static void
raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit");
	}
}

static void
spawn(int i)
{
	sigset_t	block, old;
	pid_t		pid;

	notify_master_slot_reset(i);
	/*
	 * A SIGTERM between fork() and worker_main()'s handlers would hit
	 * the master's handler, whose pipe the child closes: lost, and the
	 * worker never drains (seen as a reload followed at once by a
	 * shutdown).  Blocked here, it waits for the worker's handler
	 * (worker_main() unblocks it in sigsuspend()).
	 */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);
	switch ((pid = fork())) {
	case -1:
		sigprocmask(SIG_SETMASK, &old, NULL);
		log_warn("fork");
		slots[i].restart_at_ms = mono_ms() + slots[i].backoff_ms;
		return;
	case 0:
		close(sigpipe_fds[0]);
		close(sigpipe_fds[1]);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGHUP, SIG_IGN);
		worker_main(conf, i, listen_fd);
	default:
		sigprocmask(SIG_SETMASK, &old, NULL);
		slots[i].pid = pid;
		slots[i].started_ms = mono_ms();
		slots[i].restart_at_ms = 0;
		slots[i].retiring = 0;
	}
}

static void
reap(int stopping)
{
	pid_t	pid;
	int	status, i;
	size_t	h;
	int64_t	lived;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < NOTIFY_MAX_WORKERS; i++)
			if (slots[i].pid == pid)
				break;
		if (i == NOTIFY_MAX_WORKERS)
			continue;
		slots[i].pid = 0;
		/* Its parked queries died with it (notify_commit()). */
		__atomic_store_n(&store_shared->parked[i], 0, __ATOMIC_SEQ_CST);
		/* And what the families kept for it (the CA's signings). */
		for (h = 0; h < nhooks; h++)
			if (hooks[h].worker_gone != NULL)
				hooks[h].worker_gone(i, (int)pid);
		if (stopping)
			continue;
		if (slots[i].retiring) {
			log_info("worker %d (pid %d) retired", i, (int)pid);
			slots[i].backoff_ms = BACKOFF_MIN_MS;
			if (i < nslots)
				spawn(i);
			continue;
		}
		if (WIFSIGNALED(status))
			log_warnx("worker %d (pid %d) killed by signal %d", i,
			    (int)pid, WTERMSIG(status));
		else
			log_warnx("worker %d (pid %d) exited with status %d",
			    i, (int)pid, WEXITSTATUS(status));
		metrics_inc(MET_WORKER_RESTART);
		lived = mono_ms() - slots[i].started_ms;
		if (lived > 5000)
			slots[i].backoff_ms = BACKOFF_MIN_MS;
		if (i < nslots) {
			slots[i].restart_at_ms = mono_ms() + slots[i].backoff_ms;
			log_info("restarting worker %d in %d ms", i,
			    slots[i].backoff_ms);
			slots[i].backoff_ms *= 2;
			if (slots[i].backoff_ms > BACKOFF_MAX_MS)
				slots[i].backoff_ms = BACKOFF_MAX_MS;
		}
	}
}

static void
reload(void)
{
	struct conf	*nc;
	struct perr	 e;
	int		 i;

	perr_clear(&e);
	if (conf_load(conf->path, &nc, &e) == -1) {
		log_warnx("reload: %s; keeping the running configuration",
		    e.msg);
		return;
	}
	if (strcmp(nc->data_dir, conf->data_dir) != 0 ||
	    strcmp(nc->socket, conf->socket) != 0)
		log_warnx("reload: data_dir and socket changes need a restart");
	free(nc->data_dir);
	nc->data_dir = xstrdup(conf->data_dir);
	free(nc->socket);
	nc->socket = xstrdup(conf->socket);
	if (nc->workers > nslots)
		nc->workers = nslots;	/* notify pipes are sized at start */
	conf_free(conf);
	conf = nc;
	audit_configure(conf);
	log_init("master", conf->log_debug);
	log_info("reloaded %s; replacing workers", conf->path);
	for (i = 0; i < NOTIFY_MAX_WORKERS; i++) {
		if (slots[i].pid == 0)
			continue;
		slots[i].retiring = 1;
		kill(slots[i].pid, SIGTERM);
	}
	nslots = conf->workers;
}

/*
 * portcullis -c FILE audit verify: walk the audit chain of the
 * configured store (audit_verify()).  Exit status 0 when whole, 1 when
 * a record was altered, inserted or removed (named on stdout), 2 when
 * the store cannot be read.
 */
static int
verify_audit(void)
{
	struct store	*st;
	struct perr	 e;
	char		*path;
	int		 rc;

	perr_clear(&e);
	xasprintf(&path, "%s/portcullis.db", conf->data_dir);
	store_configure(strcmp(conf->store.backend, "postgres") == 0 ?
	    STORE_POSTGRES : STORE_SQLITE, conf->store.dsn);
	if (store_open(path, &st, &e) == -1) {
		fprintf(stderr, "portcullis: %s\n", e.msg);
		free(path);
		return 2;
	}
	free(path);
	rc = audit_verify(st, stdout);
	store_close(st);
	if (rc == -1)
		fprintf(stderr, "portcullis: cannot read the audit log\n");
	return rc == -1 ? 2 : rc;
}

static void
shutdown_workers(void)
{
	int64_t	until;
	int	i, alive;

	for (i = 0; i < NOTIFY_MAX_WORKERS; i++)
		if (slots[i].pid != 0)
			kill(slots[i].pid, SIGTERM);
	until = mono_ms() + DRAIN_MAX_MS;
	for (;;) {
		reap(1);
		alive = 0;
		for (i = 0; i < NOTIFY_MAX_WORKERS; i++)
			alive += slots[i].pid != 0;
		if (alive == 0)
			break;
		if (mono_ms() > until) {
			log_warnx("workers did not drain in time; killing");
			for (i = 0; i < NOTIFY_MAX_WORKERS; i++)
				if (slots[i].pid != 0)
					kill(slots[i].pid, SIGKILL);
		}
		usleep(20000);
	}
}

int
main(int argc, char *argv[])
{
	struct sigaction	 sa;
	struct pollfd		 pfd[3];
	struct perr		 e;
	const char		*cfg = NULL;
	unsigned char		 sig;
	int64_t			 now, timeout;
	int			 ch, test = 0, debug = 0, i, running = 1;

	while ((ch = getopt(argc, argv, "c:dtvR")) != -1) {
		switch (ch) {
		case 'c':
			cfg = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 't':
			test = 1;
			break;
		case 'R':
			dump_routes();
			return 0;
		case 'v':
			printf("portcullis %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage();
		}
	}
	if (cfg == NULL || (optind != argc && (argc - optind != 2 ||
	    !((strcmp(argv[optind], "seal") == 0 &&
	    strcmp(argv[optind + 1], "rotate") == 0) ||
	    (strcmp(argv[optind], "audit") == 0 &&
	    strcmp(argv[optind + 1], "verify") == 0)))))
		usage();
	umask(077);	/* the store and its WAL files: 0600 */
	log_init("master", debug);
	perr_clear(&e);
	if (conf_load(cfg, &conf, &e) == -1) {
		fprintf(stderr, "portcullis: %s\n", e.msg);
		return 1;
	}
	conf->log_debug |= debug;
	if (optind != argc && strcmp(argv[optind], "seal") == 0)
		return seal_rotate();
	if (test) {
		printf("configuration OK\n");
		return 0;
	}
	audit_configure(conf);
	if (optind != argc)		/* "audit verify", checked above */
		return verify_audit();
	setvbuf(stderr, NULL, _IOLBF, 0);
	raise_nofile();
	init_store();
	open_socket();
	nslots = conf->workers;
	notify_master_init(nslots);

	if (pipe2(sigpipe_fds, O_NONBLOCK | O_CLOEXEC) == -1)
		fatal("pipe");
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	for (i = 0; i < nslots; i++) {
		slots[i].backoff_ms = BACKOFF_MIN_MS;
		spawn(i);
	}
	log_info("portcullis %s listening on %s with %d workers",
	    PACKAGE_VERSION, conf->socket, nslots);
	/* Other nodes' commits (PostgreSQL): see store.c, "The watch". */
	store_watch_start();

	while (running) {
		now = mono_ms();
		timeout = 1000;
		for (i = 0; i < nslots; i++) {
			if (slots[i].pid != 0 || slots[i].restart_at_ms == 0)
				continue;
			if (slots[i].restart_at_ms <= now)
				spawn(i);
			else if (slots[i].restart_at_ms - now < timeout)
				timeout = slots[i].restart_at_ms - now;
		}
		pfd[0].fd = sigpipe_fds[0];
		pfd[0].events = POLLIN;
		pfd[1].fd = notify_master_commit_fd();
		pfd[1].events = POLLIN;
		pfd[2].fd = store_watch_fd();	/* -1: ignored by poll */
		pfd[2].events = POLLIN;
		pfd[2].revents = 0;
		if (store_watch_timeout(now) < timeout)
			timeout = store_watch_timeout(now);
		if (node_master_timeout(now) < timeout)
			timeout = node_master_timeout(now);
		if (poll(pfd, 3, (int)timeout) == -1 && errno != EINTR)
			fatal("poll");
		if (pfd[1].revents & POLLIN)
			notify_master_fanout();
		if (store_watch_run(pfd[2].fd != -1 && pfd[2].revents != 0,
		    mono_ms()))
			notify_master_fanout();
		node_master_run(conf, mono_ms());
		if (!(pfd[0].revents & POLLIN))
			continue;
		while (read(sigpipe_fds[0], &sig, 1) == 1) {
			switch (sig) {
			case SIGCHLD:
				reap(0);
				break;
			case SIGHUP:
				reload();
				break;
			case SIGTERM:
			case SIGINT:
				running = 0;
				break;
			}
		}
	}
	log_info("shutting down");
	shutdown_workers();
	node_master_stop();
	store_log_durability();
	unlink(conf->socket);
	conf_free(conf);
	return 0;
}
