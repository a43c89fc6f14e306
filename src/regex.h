/*
 * regex.h -- Go RE2 regular expressions for bexpr's matches operator:
 * a non-recursive parser and a linear-time matcher (Pike VM without
 * captures).  Documentation lives in regex.c.
 */
#ifndef REGEX_H
#define REGEX_H

#include <stddef.h>
#include <stdint.h>

#include "portcullis.h"

#define REGEX_MAXPROG	5000	/* instructions of one program (Go: 3.3M) */
#define REGEX_MAXHEIGHT	1000	/* parse tree height, as Go's maxHeight */
#define REGEX_MAXREPEAT	1000	/* counted repeats, nested ones multiplied */

struct regex;

int	 regex_compile(const char *, size_t, struct regex **, char **)
	    PC_MUSTCHECK;
int	 regex_match(struct regex *, const char *, size_t);
size_t	 regex_size(const struct regex *);
uint64_t regex_steps(const struct regex *);
void	 regex_free(struct regex *);

#endif /* REGEX_H */
