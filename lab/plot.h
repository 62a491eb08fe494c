/* plot.h: the study's figures from fmlab's results (fmlab plot, make bench). Each figure
 * is NAME.png with the CSV behind it (NAME.csv) and the gnuplot script that drew it
 * (NAME.gp) in the same folder: a figure can be restyled without rerunning the lab. */
#ifndef FMLAB_PLOT_H
#define FMLAB_PLOT_H
#include <jansson.h>
#include <limits.h>
#include <stdio.h>

struct plot {
    char csv[PATH_MAX], gp[PATH_MAX], png[PATH_MAX];
    FILE *script, *data;
};

/* Opens dir/NAME.gp (a PNG terminal of width x height, output dir/NAME.png, comma
 * separated data) and dir/NAME.csv. 0, or -1 with err. */
int plot_open(struct plot *p, const char *dir, const char *name, int width, int height, char *err, size_t len);
/* Closes both, runs gnuplot on the script (argv, no shell); 0 once the PNG is there. */
int plot_finish(struct plot *p, char *err, size_t len);
/* s as a gnuplot single-quoted string ('' inside). */
void plot_quote(FILE *f, const char *s);

/* A number of a JSON object (key may be "a.b" for nested objects); NAN if absent. */
double plot_num(const json_t *o, const char *key);
/* path's JSON, or NULL with err. */
json_t *plot_load(const char *path, char *err, size_t len);

/* Median, min, max of the numbers in v that are not NAN (n of them kept in *kept);
 * all NAN when none. v is reordered. */
void plot_stats(double *v, size_t n, double out[3], size_t *kept);

/* The q-quantile (0..1, nearest rank) of n sorted values; NAN when n is 0. */
double plot_percentile(const double *sorted, size_t n, double q);

/* The figures. Each writes into dir; 0, or -1 with err. */
/* dir/overhead.csv (make bench-overhead) -> overhead.png: throughput with the sync
 * against the same run's throughput alone, per workload, tracking and period. */
int plot_overhead(const char *dir, char *err, size_t len);
/* One panel per YCSB run (its result.json, timeline.csv and, if there, the
 * migration.json of the migration it ran beside): latency of every request over time,
 * the migration shaded, p50/p99 before, during, after -> dir/NAME.png. */
int plot_latency(const char *dir, const char *name, const char *const *ycsb_results, size_t n, char *err,
                 size_t len);
/* Per-period copy time and dirty pages of shm migrations' write-through -> dir/NAME.png. */
int plot_writethrough(const char *dir, const char *name, const char *const *results, size_t n, char *err,
                      size_t len);
/* dir/runs.csv (make bench: NAME,RESULT.json per run) -> modes.png (stop to running,
 * total time, network bytes per mode, median with min-max), writethrough.png,
 * latency.png (the runs named latency-*). */
int plot_bench(const char *dir, char *err, size_t len);
#endif
