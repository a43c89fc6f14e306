/*
 * utf8.h -- UTF-8 as Go's unicode/utf8 reads and writes it: one decoder
 * and one encoder for every parser and writer (bexpr, regex, hcl, json).
 */
#ifndef UTF8_H
#define UTF8_H

#include <stddef.h>
#include <stdint.h>

size_t	utf8_decode_rune(const char *, size_t, uint32_t *, int *);
size_t	utf8_encode_rune(uint32_t, char [4]);

#endif /* UTF8_H */
