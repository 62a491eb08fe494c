/*
 * cmd_plot.c: `fmlab plot PATH...`: (re)draw the figures of results already taken. A
 * folder of make bench (runs.csv) gives the per-mode, write-through and latency
 * figures; one of make bench-overhead (overhead.csv) the overhead chart; a YCSB result
 * with its timeline (fmlab ycsb --timeline) its latency over time; an shm migration's
 * result.json its write-through periods. The PNGs land next to what they are drawn from.
 */
#include "fmlab.h"
#include "plot.h"

#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void usage_plot(void)
{
    printf("usage: fmlab plot RESULT.json|DIR...\n"
           "Draws the figures of results already taken (gnuplot PNG, with the CSV and the\n"
           "gnuplot script behind each, in the same folder):\n"
           "  DIR of make bench (runs.csv): modes.png, writethrough.png, latency.png\n"
           "  DIR of make bench-overhead (overhead.csv): overhead-chart.png\n"
           "  a YCSB result.json with timeline.csv beside it (fmlab ycsb --timeline): latency.png,\n"
           "    the migration of a migration.json in the same folder shaded\n"
           "  an shm migration's result.json: writethrough.png\n");
}

static bool is_file(const char *dir, const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int plot_dir(const char *dir, char *err, size_t len)
{
    int drawn = 0;
    if (is_file(dir, "runs.csv")) {
        if (plot_bench(dir, err, len))
            return -1;
        drawn++;
    }
    if (is_file(dir, "overhead.csv")) {
        if (plot_overhead(dir, err, len))
            return -1;
        drawn++;
    }
    if (!drawn && is_file(dir, "result.json")) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/result.json", dir);
        const char *one[] = { path };
        return is_file(dir, "timeline.csv") ? plot_latency(dir, "latency", one, 1, err, len)
                                            : plot_writethrough(dir, "writethrough", one, 1, err, len);
    }
    if (!drawn)
        snprintf(err, len, "%s: nothing to draw (no runs.csv, overhead.csv or result.json)", dir);
    return drawn ? 0 : -1;
}

int cmd_plot(int argc, char **argv)
{
    char err[PATH_MAX + 256];
    int rc = 0;

    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        usage_plot();
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        char copy[PATH_MAX];
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "fmlab plot: %s: no such file or folder\n", argv[i]);
            rc = 1;
            continue;
        }
        snprintf(copy, sizeof(copy), "%s", argv[i]);
        const char *dir = S_ISDIR(st.st_mode) ? argv[i] : dirname(copy);
        if (plot_dir(dir, err, sizeof(err)) != 0) {
            fprintf(stderr, "fmlab plot: %s\n", err);
            rc = 1;
        }
    }
    return rc;
}
