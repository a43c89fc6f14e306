/*
 * blocking.h -- parked blocking queries (?index=&wait=).
 */
#ifndef BLOCKING_H
#define BLOCKING_H

struct perr;
struct req;
struct worker;

void	blocking_start(struct worker *);
int	blocking_park(struct req *, struct perr *);
void	blocking_stop(void);
size_t	blocking_count(void);

#endif /* BLOCKING_H */
