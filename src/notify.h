/*
 * notify.h -- cross-worker wake-up after a commit.
 */
#ifndef NOTIFY_H
#define NOTIFY_H

#define NOTIFY_MAX_WORKERS	64

void	notify_master_init(int);
int	notify_master_commit_fd(void);
void	notify_master_fanout(void);
void	notify_master_slot_reset(int);
void	notify_worker_init(int);
int	notify_worker_wake_fd(void);
void	notify_worker_drain(void);
void	notify_commit(void);

#endif /* NOTIFY_H */
