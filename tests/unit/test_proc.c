/* test_proc.c: running programs without a shell (proc.c), and the one place a value is
 * quoted for a shell: the controller's arguments, which ssh hands to backup's shell. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "lab.h"
#include "proc.h"

/* What backup's shell makes of a quoted word must be the word: through a real sh. */
static void quoted_words_survive_a_shell(void **state)
{
    (void)state;
    static const char *const words[] = { "/dev/dax0.0", "/tmp/x;id>/tmp/p", "$(id)", "`id`", "a b",
                                         "it's", "''", "\"\\n\"", "*", "", NULL };
    for (int i = 0; words[i]; i++) {
        char quoted[256], line[300], out[256];
        assert_int_equal(lab_shell_quote(words[i], quoted, sizeof(quoted)), 0);
        snprintf(line, sizeof(line), "printf %%s %s", quoted);
        const char *argv[] = { "sh", "-c", line, NULL };
        assert_int_equal(proc_capture(argv, out, sizeof(out)), 0);
        assert_string_equal(out, words[i]);
    }
    char small[8];
    assert_int_equal(lab_shell_quote("abcdefgh", small, sizeof(small)), -1);   /* never cut */
}

/* proc_capture: the output, cut to the buffer, the exit status; a missing program is -1. */
static void capture_output_and_status(void **state)
{
    (void)state;
    char out[8];
    const char *echo[] = { "sh", "-c", "printf 0123456789; echo oops >&2; exit 3", NULL };
    assert_int_equal(proc_capture(echo, out, sizeof(out)), 3);
    assert_string_equal(out, "0123456");
    const char *none[] = { "fmlab-no-such-program", NULL };
    assert_int_equal(proc_capture(none, out, sizeof(out)), -1);
    assert_true(proc_in_path("sh"));
    assert_false(proc_in_path("fmlab-no-such-program"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quoted_words_survive_a_shell),
        cmocka_unit_test(capture_output_and_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
