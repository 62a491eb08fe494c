/*
 * plot_bench.c: the figures of one make bench run, from its runs.csv (NAME,RESULT.json
 * per migration): downtime (stop to running), total time and bytes over the network per
 * mode with min-max bars; the write-through periods of its shm runs per tracking and
 * period; and the latency of the YCSB runs it made beside a migration (latency-*).
 */
#include "plot.h"
#include "alloc.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RUNS 256

struct runs {
    char *name[MAX_RUNS], *path[MAX_RUNS];
    size_t n;
};

static int read_runs(const char *dir, struct runs *r, char *err, size_t len)
{
    char path[PATH_MAX], line[PATH_MAX + 128];
    snprintf(path, sizeof(path), "%s/runs.csv", dir);
    FILE *f = fopen(path, "r");
    r->n = 0;
    if (!f) {
        snprintf(err, len, "%s: not there (make bench writes it)", path);
        return -1;
    }
    while (r->n < MAX_RUNS && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *comma = strchr(line, ',');
        if (!comma || strcmp(line, "name,result") == 0 || strncmp(line, "name,", 5) == 0)
            continue;
        *comma = '\0';
        r->name[r->n] = xstrdup(line);
        r->path[r->n++] = xstrdup(comma + 1);
    }
    fclose(f);
    return 0;
}

static void free_runs(struct runs *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->name[i]), free(r->path[i]);
}

static const char *const modes[] = { "precopy", "postcopy", "shm-copy", "shm-promote", "shm-pool-nowait", "shm-pool",
                                     "shm-pool-inplace" };
#define N_MODES (sizeof(modes) / sizeof(modes[0]))

/* One metric of every run of one mode: median, min, max (NAN when none measured it). */
static void mode_stats(const struct runs *r, const char *mode, const char *key, double scale, double out[3])
{
    double v[MAX_RUNS];
    size_t n = 0, kept;
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->name[i], mode) != 0)
            continue;
        json_t *j = json_load_file(r->path[i], 0, NULL);
        v[n++] = plot_num(j, key) * scale;
        json_decref(j);
    }
    plot_stats(v, n, out, &kept);
}

static int plot_modes(const char *dir, const struct runs *r, char *err, size_t len)
{
    static const char *const keys[] = { "stop_to_running_ms", "total_time_ms", "network.source_sent_bytes" };
    static const char *const labels[] = { "stop to running (ms)", "total time (s)", "sent over the network (MiB)" };
    static const double scale[] = { 1, 0.001, 1.0 / 1048576 };
    struct plot pl;

    if (plot_open(&pl, dir, "modes", 1500, 420, err, len))
        return -1;
    fprintf(pl.data, "x,mode,stop_ms_median,stop_ms_min,stop_ms_max,total_s_median,total_s_min,total_s_max,"
                     "network_mib_median,network_mib_min,network_mib_max\n");
    for (size_t m = 0; m < N_MODES; m++) {
        fprintf(pl.data, "%zu,%s", m, modes[m]);
        for (size_t k = 0; k < 3; k++) {
            double s[3];
            mode_stats(r, modes[m], keys[k], scale[k], s);
            fprintf(pl.data, ",%.3f,%.3f,%.3f", s[0], s[1], s[2]);
        }
        fprintf(pl.data, "\n");
    }
    FILE *g = pl.script;
    fprintf(g, "set style fill solid 0.6 border -1\nset boxwidth 0.6\nset xtics rotate by -30 nomirror\n"
               "set yrange [0:*]\nset xrange [-0.6:%zu.6]\nset multiplot layout 1,3 title 'One migration of the "
               "redis guest per mode: median, min-max of the runs (fmlab, TCG hosts, DRAM as CXL)'\n",
            N_MODES - 1);
    for (size_t k = 0; k < 3; k++) {
        fprintf(g, "set title '%s'\nplot data skip 1 using 1:%zu:xtic(2) with boxes lc rgb '#1f77b4' notitle, \\\n"
                   "  data skip 1 using 1:%zu:%zu:%zu with yerrorbars lc rgb 'black' ps 0 notitle\n",
                labels[k], 3 + 3 * k, 3 + 3 * k, 4 + 3 * k, 5 + 3 * k);
    }
    fprintf(g, "unset multiplot\n");
    return plot_finish(&pl, err, len);
}

/* "fmsync (page) every 100 ms" (no comma: it goes into the CSV): the run's tracking,
 * fmsync's granularity while the guest ran, and the sync period, from its result. */
static void run_title(const json_t *j, char *out, size_t len)
{
    const json_t *src = json_object_get(json_object_get(j, "shm"), "source");
    const char *t = json_string_value(json_object_get(src, "dirty-tracking"));
    const char *g = json_string_value(json_object_get(src, "granularity"));
    const char *p = json_string_value(json_object_get(json_object_get(j, "parameters"), "period-us"));
    snprintf(out, len, "%s%s%s%s every %ld ms", t ? t : "?", g ? " (" : "", g ? g : "", g ? ")" : "",
             p ? strtol(p, NULL, 10) / 1000 : 0L);
}

int plot_writethrough(const char *dir, const char *name, const char *const *results, size_t n, char *err,
                      size_t len)
{
    struct plot pl;
    char titles[MAX_RUNS][64];

    if (n > MAX_RUNS || plot_open(&pl, dir, name, 1300, 460, err, len))
        return -1;
    fprintf(pl.data, "run,title,t_s,copy_ms,dirty_pages\n");
    for (size_t i = 0; i < n; i++) {
        json_t *j = plot_load(results[i], err, len), *it = json_object_get(j, "iterations"), *x;
        size_t k;
        if (!j || !json_array_size(it)) {
            if (j)
                snprintf(err, len, "%s: no write-through periods in it (not an shm migration?)", results[i]);
            json_decref(j);
            fclose(pl.data), fclose(pl.script);
            return -1;
        }
        run_title(j, titles[i], sizeof(titles[i]));
        double t0 = plot_num(json_array_get(it, 0), "start-us");
        json_array_foreach(it, k, x)
            fprintf(pl.data, "%zu,%s,%.3f,%.3f,%.0f\n", i, titles[i], (plot_num(x, "start-us") - t0) / 1e6,
                    plot_num(x, "copy-us") / 1000, plot_num(x, "dirty-pages"));
        json_decref(j);
    }
    FILE *g = pl.script;
    fprintf(g, "set xlabel 's since the write-through began'\nset key top right\nset multiplot layout 1,2 title "
               "'shm write-through, one sync period after another (fmlab, TCG hosts)'\n");
    const char *cols[][2] = { { "4", "copy time per period (ms)" }, { "5", "dirty 4 KiB pages per period" } };
    for (size_t c = 0; c < 2; c++) {
        fprintf(g, "set title '%s'\nset logscale y\nplot ", cols[c][1]);
        for (size_t i = 0; i < n; i++) {
            fprintf(g, "%sdata skip 1 using ($1 == %zu ? $3 : NaN):($%s > 0 ? $%s : NaN) with linespoints pt 7 "
                       "ps 0.4 title ", i ? ", \\\n  " : "", i, cols[c][0], cols[c][0]);
            plot_quote(g, titles[i]);
        }
        fprintf(g, "\n");
    }
    fprintf(g, "unset multiplot\n");
    return plot_finish(&pl, err, len);
}

/* The paths of the runs whose name starts with prefix (and, if digit, a digit next). */
static size_t select_runs(const struct runs *r, const char *prefix, bool digit, const char **out)
{
    size_t n = 0, k = strlen(prefix);
    for (size_t i = 0; i < r->n; i++)
        if (strncmp(r->name[i], prefix, k) == 0 && (!digit || (r->name[i][k] >= '0' && r->name[i][k] <= '9')))
            out[n++] = r->path[i];
    return n;
}

int plot_bench(const char *dir, char *err, size_t len)
{
    struct runs r;
    const char *sel[MAX_RUNS];
    size_t n;
    int rc = read_runs(dir, &r, err, len);

    if (rc == 0)
        rc = plot_modes(dir, &r, err, len);
    if (rc == 0 && (n = select_runs(&r, "shm-", true, sel)))
        rc = plot_writethrough(dir, "writethrough", sel, n, err, len);
    if (rc == 0 && (n = select_runs(&r, "latency-", false, sel)))
        rc = plot_latency(dir, "latency", sel, n, err, len);
    free_runs(&r);
    return rc;
}
