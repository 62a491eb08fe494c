/* values.h: parsing of the typed values config.txt holds (sizes, IPs, ports, CPU lists). */
#ifndef FMLAB_VALUES_H
#define FMLAB_VALUES_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

/* "16G", "512M", "4k", "1048576", "2GiB" -> bytes. Binary units. */
bool parse_size(const char *s, uint64_t *bytes);
/* Dotted-quad IPv4 address, each part 0..255, no leading junk. */
bool parse_ipv4(const char *s, uint32_t *addr);
/* 1..65535 */
bool parse_port(const char *s, uint16_t *port);
/* Non-negative decimal integer that fits in 64 bits. */
bool parse_uint(const char *s, uint64_t *v);
/* "0,1,2" or "0-3,6": sets bits in mask (CPUs 0..CPULIST_MAX-1). */
#define CPULIST_MAX 1024
bool parse_cpulist(const char *s, uint8_t mask[CPULIST_MAX / 8]);
/* Levenshtein distance, for "did you mean". */
size_t edit_distance(const char *a, const char *b);
/* Whether v is one of the '|'-separated choices ("pool|copy|promote"); "" is none. */
bool value_in(const char *v, const char *choices);

#endif
