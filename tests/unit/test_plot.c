/*
 * test_plot.c: the figures' arithmetic and files (lab/plot*.c): statistics that skip the
 * runs that measured nothing, nearest-rank percentiles, gnuplot quoting of hostile text,
 * nested JSON numbers, and two figures drawn end to end from files in a temporary folder
 * (gnuplot must be installed: make deps): the overhead chart's share of the baseline and
 * the latency figure's alignment of a YCSB run with a migration on the wall clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plot.h"
#include "result.h"

static void stats_skip_missing_values(void **state)
{
    (void)state;
    double v[] = { 3, NAN, 1, 2 }, out[3];
    size_t kept;
    plot_stats(v, 4, out, &kept);
    assert_int_equal(kept, 3);
    assert_true(out[0] == 2 && out[1] == 1 && out[2] == 3);
    double none[] = { NAN, NAN };
    plot_stats(none, 2, out, &kept);
    assert_int_equal(kept, 0);
    assert_true(isnan(out[0]) && isnan(out[1]) && isnan(out[2]));
}

static void percentiles_by_nearest_rank(void **state)
{
    (void)state;
    double v[100];
    for (int i = 0; i < 100; i++)
        v[i] = 100 - i;
    sort_doubles(v, 100);
    assert_true(plot_percentile(v, 100, 0.5) == 50);
    assert_true(plot_percentile(v, 100, 0.99) == 99);
    assert_true(plot_percentile(v, 100, 1.0) == 100);
    assert_true(plot_percentile(v, 1, 0.99) == 1);
    assert_true(isnan(plot_percentile(v, 0, 0.5)));
}

static void quoting_keeps_text_out_of_gnuplot(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    plot_quote(f, "a'; system('rm -rf /')\nb");
    fclose(f);
    assert_string_equal(buf, "'a''; system(''rm -rf /'') b'");
    free(buf);
}

static void numbers_of_nested_objects(void **state)
{
    (void)state;
    json_t *j = json_pack("{s:{s:i, s:s}, s:f}", "network", "source_sent_bytes", 1048576, "name", "x", "t", 1.5);
    assert_true(plot_num(j, "network.source_sent_bytes") == 1048576);
    assert_true(plot_num(j, "t") == 1.5);
    assert_true(isnan(plot_num(j, "network.name")));
    assert_true(isnan(plot_num(j, "network.missing")));
    assert_true(isnan(plot_num(j, "nothing.here")));
    assert_true(isnan(plot_num(NULL, "t")));
    json_decref(j);
}

static char dir[64];

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_file(const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static bool png_there(const char *name)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0 && st.st_size > 1000;
}

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/fmlab-test-plot-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

/* Only the files the tests wrote, in the folder mkdtemp made. */
static int remove_dir(void **state)
{
    static const char *const names[] = { "overhead.csv", "overhead-chart.csv", "overhead-chart.gp",
                                         "overhead-chart.png", "result.json", "timeline.csv", "migration.json",
                                         "latency.csv", "latency.gp", "latency.png" };
    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    return rmdir(dir);
}

static void overhead_chart_is_share_of_own_baseline(void **state)
{
    (void)state;
    char err[512];
    assert_int_equal(plot_overhead(dir, err, sizeof(err)), -1);   /* no overhead.csv yet */
    assert_non_null(strstr(err, "overhead.csv"));
    write_file("overhead.csv", "workload,tracking,period_ms,repeat,baseline_ops,sync_ops,delta_pct,copy_ms,"
                               "dirty_pages\n");
    assert_int_equal(plot_overhead(dir, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no runs"));
    write_file("overhead.csv", "workload,tracking,period_ms,repeat,baseline_ops,sync_ops,delta_pct,copy_ms,"
                               "dirty_pages\n"
                               "a,fmsync,500,1,200,100,-50,10,100\n"
                               "a,fmsync,500,2,400,300,-25,10,100\n"
                               "a,fmsync,500,3,100,,,,\n"     /* a run that measured nothing */
                               "a,stock,500,1,300,297,-1,1,10\n"
                               "a,fmsync,100,1,250,125,-50,10,100\n");
    assert_int_equal(plot_overhead(dir, err, sizeof(err)), 0);
    assert_true(png_there("overhead-chart.png"));
    char *csv = read_file("overhead-chart.csv");
    /* periods sorted; shares 50 % and 75 % -> median 62.5, min 50, max 75, of the 2 runs
     * that measured both windows; the baseline of all 3 (100, 200, 400) */
    assert_non_null(strstr(csv, "a,fmsync,500,0.800,62.50,50.00,75.00,-37.50,200.0,200.0,2\n"));
    assert_null(strstr(csv, "a,stock,100,"));   /* no run: no bar */
    assert_non_null(strstr(csv, "a,stock,500,"));
    assert_true(strstr(csv, "a,fmsync,100,") < strstr(csv, "a,fmsync,500,"));
    free(csv);
}

static void latency_lines_up_run_and_migration(void **state)
{
    (void)state;
    char err[512], path[256];
    write_file("result.json", "{\"run\": {\"start_epoch_ms\": 1000000}}");
    write_file("timeline.csv", "t_ms,op,latency_us,ok\n0,READ,2000,1\n2500,UPDATE,40000,1\n9000,READ,3000,1\n");
    snprintf(path, sizeof(path), "%s/result.json", dir);
    const char *one[] = { path };
    assert_int_equal(plot_latency(dir, "latency", one, 1, err, sizeof(err)), 0);   /* no migration: t from 0 */
    char *csv = read_file("latency.csv");
    assert_non_null(strstr(csv, "0,2.500,40.000,UPDATE,1\n"));
    free(csv);
    write_file("migration.json", "{\"mode\": \"precopy\", \"start_epoch_ms\": 1002000, \"end_epoch_ms\": 1004000}");
    assert_int_equal(plot_latency(dir, "latency", one, 1, err, sizeof(err)), 0);
    assert_true(png_there("latency.png"));
    csv = read_file("latency.csv");
    /* the run began 2 s before the migration: its requests at -2.0, 0.5 and 7.0 s */
    assert_non_null(strstr(csv, "0,-2.000,2.000,READ,1\n"));
    assert_non_null(strstr(csv, "0,0.500,40.000,UPDATE,1\n"));
    assert_non_null(strstr(csv, "0,7.000,3.000,READ,1\n"));
    free(csv);
    char *gp = read_file("latency.gp");
    assert_non_null(strstr(gp, "during: p50 40.0 ms"));   /* the one request inside 0..2 s */
    assert_non_null(strstr(gp, "set object rect from 0.000, graph 0 to 2.000"));
    free(gp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stats_skip_missing_values),
        cmocka_unit_test(percentiles_by_nearest_rank),
        cmocka_unit_test(quoting_keeps_text_out_of_gnuplot),
        cmocka_unit_test(numbers_of_nested_objects),
        cmocka_unit_test_setup_teardown(overhead_chart_is_share_of_own_baseline, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(latency_lines_up_run_and_migration, make_dir, remove_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
