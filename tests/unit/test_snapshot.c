/*
 * test_snapshot.c: what lab/snapshot.c decides without a lab: which snapshot names are
 * safe to turn into a path under CACHE_DIR/snapshots (a hostile name never leaves it).
 * Saving and restoring real labs is tests/lab_lifecycle.sh's job.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "snapshot.h"

static void names(void **state)
{
    (void)state;
    char err[256];
    const char *good[] = { "a", "auto-0123456789abcdef", "before_shm.v2", "A-Z_09" };
    const char *bad[] = { "", ".", "..", "../x", "a/b", "/etc", ".hidden", "a b", "x;rm", "a\nb",
                          "0123456789012345678901234567890123456789012345678901234567890123456789" };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(snapshot_name_check(good[i], err, sizeof(err)), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(snapshot_name_check(bad[i], err, sizeof(err)), -1);
        assert_non_null(strstr(err, "snapshot name"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
