/* alloc.h: memory for the runner and the controller. Running out of it is not an error
 * either can recover from or report usefully further up: these print what they could not
 * get and abort, instead of handing NULL to code that does not check. */
#ifndef FMLAB_ALLOC_H
#define FMLAB_ALLOC_H

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xvasprintf(const char *fmt, va_list ap);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
