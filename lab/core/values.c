/*
 * values.c: parsers for the value types of config.txt.
 *
 * Kept apart from the config file logic so the same rules apply to values that come
 * from the command line or the environment. Every parser rejects trailing junk.
 */
#include "values.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool parse_uint(const char *s, uint64_t *v)
{
    char *end;

    if (!s || !isdigit((unsigned char)*s))
        return false;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *v = n;
    return true;
}

bool parse_size(const char *s, uint64_t *bytes)
{
    char *end;
    unsigned shift = 0;

    if (!s || !isdigit((unsigned char)*s))
        return false;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno)
        return false;
    switch (toupper((unsigned char)*end)) {
    case 'K': shift = 10; end++; break;
    case 'M': shift = 20; end++; break;
    case 'G': shift = 30; end++; break;
    case 'T': shift = 40; end++; break;
    default: break;
    }
    if (shift && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0))
        end += strlen(end);
    if (*end)
        return false;
    if (shift && n > (UINT64_MAX >> shift))
        return false;
    *bytes = (uint64_t)n << shift;
    return true;
}

bool parse_ipv4(const char *s, uint32_t *addr)
{
    uint32_t a = 0;
    int parts = 0;

    if (!s)
        return false;
    while (parts < 4) {
        if (!isdigit((unsigned char)*s))
            return false;
        unsigned v = 0, digits = 0;
        while (isdigit((unsigned char)*s)) {
            v = v * 10 + (unsigned)(*s++ - '0');
            if (++digits > 3 || v > 255)
                return false;
        }
        a = (a << 8) | v;
        if (++parts < 4 && *s++ != '.')
            return false;
    }
    if (*s)
        return false;
    *addr = a;
    return true;
}

bool parse_port(const char *s, uint16_t *port)
{
    uint64_t v;

    if (!parse_uint(s, &v) || v == 0 || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

static bool parse_cpu(const char **s, unsigned *cpu)
{
    unsigned v = 0;

    if (!isdigit((unsigned char)**s))
        return false;
    while (isdigit((unsigned char)**s)) {
        v = v * 10 + (unsigned)(*(*s)++ - '0');
        if (v >= CPULIST_MAX)
            return false;
    }
    *cpu = v;
    return true;
}

bool parse_cpulist(const char *s, uint8_t mask[CPULIST_MAX / 8])
{
    memset(mask, 0, CPULIST_MAX / 8);
    if (!s || !*s)
        return false;
    for (;;) {
        unsigned lo, hi;
        if (!parse_cpu(&s, &lo))
            return false;
        hi = lo;
        if (*s == '-') {
            s++;
            if (!parse_cpu(&s, &hi) || hi < lo)
                return false;
        }
        for (unsigned c = lo; c <= hi; c++)
            mask[c / 8] |= (uint8_t)(1u << (c % 8));
        if (!*s)
            return true;
        if (*s++ != ',')
            return false;
    }
}

size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *row = calloc(lb + 1, sizeof(*row));
    size_t result;

    if (!row)
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = toupper((unsigned char)a[i - 1]) != toupper((unsigned char)b[j - 1]);
            size_t best = diag + cost;
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    result = row[lb];
    free(row);
    return result;
}

bool value_in(const char *v, const char *choices)
{
    size_t n = v ? strlen(v) : 0;
    for (const char *p = choices; n && p && *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0)
            return true;
        p = bar ? bar + 1 : NULL;
    }
    return false;
}
