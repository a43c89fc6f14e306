/*
 * util.h -- small codecs shared by every family: UUIDs, times, Go
 * durations.
 */
#ifndef UTIL_H
#define UTIL_H

#include <stdint.h>
#include <time.h>

#include "portcullis.h"

void	 uuid_generate_v4(char [37]);
int	 uuid_valid(const char *);
int	 uuid_check(const char *, struct perr *) PC_MUSTCHECK;
void	 time_rfc3339_nano(const struct timespec *, char [40]);
void	 time_rfc3339(time_t, char [32]);
int	 time_parse_rfc3339(const char *, int64_t *, long *, const char **);
int	 duration_parse(const char *, int64_t *);
void	 duration_format(int64_t, char [64]);
int64_t	 mono_ms(void);
int	 hex_digit(int);
int	 url_decode(char *, int);
void	 digest_b64(const char *const *, size_t, char [64]);

#endif /* UTIL_H */
