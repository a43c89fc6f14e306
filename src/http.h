/*
 * http.h -- the pipeline: reading a FastCGI request into struct req
 * (req.h), dispatching it, writing the reply.  Only http.c writes to
 * the FastCGI stream.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stdint.h>

#include "portcullis.h"
#include "req.h"

/* Reading, dispatching and answering the FastCGI request (http.c). */
int		 http_read(struct req *, struct perr *) PC_MUSTCHECK;
void		 http_reply(struct req *, const struct perr *);
void		 http_dispatch(struct req *);
int		 http_run_handler(struct req *, struct perr *);
int		 http_parse_query(struct req *, const char *, struct perr *)
		    PC_MUSTCHECK;
int		 http_check_common(struct req *, struct perr *) PC_MUSTCHECK;
void		 http_set_deadline(struct req *);

#endif /* HTTP_H */
