/* test_proc.c: running programs without a shell (proc.c), and the one place a value is
 * quoted for a shell: the controller's arguments, which ssh hands to backup's shell. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lab.h"
#include "argv.h"
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

/* proc_capture_all: stderr too; a command that overruns is killed with its whole process
 * group (a child it started too) and reported as timed out, not waited for. */
static void capture_all_merges_and_times_out(void **state)
{
    (void)state;
    char out[64];
    bool timed_out;
    const char *both[] = { "sh", "-c", "printf out; printf err >&2; exit 4", NULL };
    assert_int_equal(proc_capture_all(both, out, sizeof(out), 5, &timed_out), 4);
    assert_false(timed_out);
    assert_string_equal(out, "outerr");
    const char *slow[] = { "sh", "-c", "printf started; sleep 30 & wait", NULL };
    time_t t0 = time(NULL);
    assert_int_equal(proc_capture_all(slow, out, sizeof(out), 1, &timed_out), -1);
    assert_true(timed_out);
    assert_true(time(NULL) - t0 < 5);   /* the grandchild holding the pipe died too */
    assert_string_equal(out, "started");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quoted_words_survive_a_shell),
        cmocka_unit_test(capture_output_and_status),
        cmocka_unit_test(capture_all_merges_and_times_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
