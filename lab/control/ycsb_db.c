/* ycsb_db.c: the bindings by name (--store). */
#include "ycsb_db.h"

#include <string.h>

const struct ycsb_db *ycsb_db_named(const char *name)
{
    static const struct ycsb_db *const all[] = { &ycsb_redis, &ycsb_memcached };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(name, all[i]->name) == 0)
            return all[i];
    return NULL;
}
