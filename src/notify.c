/*
 * notify.c -- wake blocking queries in every worker within
 * milliseconds of a commit in any worker.
 *
 * One "commit" pipe, created by the master and inherited by every
 * worker: after each commit a worker writes one byte to it.  The master
 * reads it and writes one byte to each worker's own "wake" pipe (one
 * pipe per worker slot, so every worker sees every wake-up; a single
 * shared pipe would wake only whichever worker read the byte).  Each
 * worker's blocking thread polls its wake pipe, then compares the
 * shared-memory table indexes (store.c) with what its parked requests
 * wait for.  All writes are non-blocking: a full pipe already means "a
 * wake-up is pending", so nothing is lost by dropping the byte.
 * Polling the store once a second (blocking.c) covers the rest.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "portcullis.h"
#include "notify.h"
#include "store.h"

static int	commit_pipe[2] = { -1, -1 };
static int	wake_pipes[NOTIFY_MAX_WORKERS][2];
static int	nslots;
static int	my_wake_fd = -1;	/* worker: read end of its wake pipe */
static int	my_commit_fd = -1;	/* worker: write end of the commit pipe */

static void
mkpipe(int fds[2])
{
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1)
		fatal("pipe");
}

/* Master: create the commit pipe and one wake pipe per worker slot. */
void
notify_master_init(int slots)
{
	int	i;

	if (slots > NOTIFY_MAX_WORKERS)
		fatalx("at most %d workers", NOTIFY_MAX_WORKERS);
	nslots = slots;
	mkpipe(commit_pipe);
	for (i = 0; i < NOTIFY_MAX_WORKERS; i++)
		wake_pipes[i][0] = wake_pipes[i][1] = -1;
	for (i = 0; i < slots; i++)
		mkpipe(wake_pipes[i]);
}

int
notify_master_commit_fd(void)
{
	return commit_pipe[0];
}

/* Master: drain the commit pipe and poke every worker. */
void
notify_master_fanout(void)
{
	char	buf[256];
	int	i;

	while (read(commit_pipe[0], buf, sizeof(buf)) > 0)
		;
	for (i = 0; i < nslots; i++)
		if (wake_pipes[i][1] != -1)
			(void)write(wake_pipes[i][1], "w", 1);
}

/*
 * Master: give slot a fresh wake pipe before (re)starting its worker,
 * so that a restarted worker never reads bytes meant for its dead
 * predecessor's backlog.
 */
void
notify_master_slot_reset(int slot)
{
	if (wake_pipes[slot][0] != -1) {
		close(wake_pipes[slot][0]);
		close(wake_pipes[slot][1]);
	}
	mkpipe(wake_pipes[slot]);
}

/* Worker (in the child after fork): keep only what this slot needs. */
void
notify_worker_init(int slot)
{
	int	i;

	for (i = 0; i < NOTIFY_MAX_WORKERS; i++) {
		if (wake_pipes[i][0] == -1)
			continue;
		if (i == slot) {
			close(wake_pipes[i][1]);
			my_wake_fd = wake_pipes[i][0];
		} else {
			close(wake_pipes[i][0]);
			close(wake_pipes[i][1]);
		}
	}
	close(commit_pipe[0]);
	my_commit_fd = commit_pipe[1];
}

int
notify_worker_wake_fd(void)
{
	return my_wake_fd;
}

void
notify_worker_drain(void)
{
	char	buf[256];

	while (read(my_wake_fd, buf, sizeof(buf)) > 0)
		;
}

/*
 * Any process: announce a commit (no-op outside workers), unless no
 * blocking query is parked in any worker.  No wake-up is lost: the
 * commit published its indexes before this check, and a query counts
 * itself as parked before its blocking thread first compares indexes,
 * so either we see it here or it sees the new index there.
 */
void
notify_commit(void)
{
	int64_t	n = 0;
	int	i;

	if (my_commit_fd == -1)
		return;
	for (i = 0; i < NOTIFY_MAX_WORKERS; i++)
		n += __atomic_load_n(&store_shared->parked[i], __ATOMIC_SEQ_CST);
	if (n > 0)
		(void)write(my_commit_fd, "c", 1);
}
