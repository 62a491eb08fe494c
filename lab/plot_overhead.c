/*
 * plot_overhead.c: the study's overhead chart from make bench-overhead's overhead.csv:
 * for each workload, the throughput with the shm sync running as a share of the same
 * run's throughput alone (100 % = no sync), per sync period and dirty tracking, median
 * bars with min-max whiskers and the median change written over each bar. Relative to
 * the run's own baseline because the lab's throughput drifts between runs; the absolute
 * numbers are in the CSV.
 */
#include "plot.h"
#include "alloc.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 16

struct row {
    char workload[16], tracking[32];
    long period;
    double base, ops, delta;
};

struct rows {
    struct row *v;
    size_t n;
};

static int read_rows(const char *path, struct rows *r, char *err, size_t len)
{
    FILE *f = fopen(path, "r");
    char line[512];
    size_t cap = 0;

    *r = (struct rows){ 0 };
    if (!f) {
        snprintf(err, len, "%s: not there (make bench-overhead writes it)", path);
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        struct row x = { .base = NAN, .ops = NAN, .delta = NAN };
        char *field[9] = { 0 }, *s = line;
        int k = 0;
        line[strcspn(line, "\r\n")] = '\0';
        /* strsep keeps the empty fields of a run that measured nothing */
        while (k < 9 && (field[k] = strsep(&s, ",")))
            k++;
        if (k < 7 || strcmp(field[0], "workload") == 0)
            continue;
        snprintf(x.workload, sizeof(x.workload), "%s", field[0]);
        snprintf(x.tracking, sizeof(x.tracking), "%s", field[1]);
        x.period = strtol(field[2], NULL, 10);
        x.base = *field[4] ? strtod(field[4], NULL) : NAN;
        x.ops = *field[5] ? strtod(field[5], NULL) : NAN;
        x.delta = *field[6] ? strtod(field[6], NULL) : NAN;
        if (r->n == cap)
            r->v = xrealloc(r->v, (cap = cap ? 2 * cap : 64) * sizeof(*r->v));
        r->v[r->n++] = x;
    }
    fclose(f);
    if (!r->n)
        snprintf(err, len, "%s: no runs in it", path);
    return r->n ? 0 : -1;
}

/* The distinct values of one column, in order of first appearance (periods sorted). */
struct keys {
    char name[MAX_KEYS][32];
    long period[MAX_KEYS];
    size_t n;
};

static void add_key(struct keys *k, const char *name, long period)
{
    for (size_t i = 0; i < k->n; i++)
        if (name ? strcmp(k->name[i], name) == 0 : k->period[i] == period)
            return;
    if (k->n == MAX_KEYS)
        return;
    snprintf(k->name[k->n], sizeof(k->name[0]), "%s", name ? name : "");
    k->period[k->n++] = period;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* One CSV row per (workload, tracking, period): x position, share of the baseline
 * (median, min, max), median change, median ops with and without the sync, runs. */
static void write_points(FILE *f, const struct rows *r, const struct keys *w, const struct keys *t,
                         const struct keys *p)
{
    double *share = xcalloc(r->n, sizeof(*share)), *delta = xcalloc(r->n, sizeof(*delta));
    double *ops = xcalloc(r->n, sizeof(*ops)), *base = xcalloc(r->n, sizeof(*base));
    fprintf(f, "workload,tracking,period_ms,x,share_median,share_min,share_max,delta_median,ops_median,"
               "baseline_median,runs\n");
    for (size_t wi = 0; wi < w->n; wi++)
        for (size_t ti = 0; ti < t->n; ti++)
            for (size_t pi = 0; pi < p->n; pi++) {
                size_t n = 0, kept;
                double s3[3], d3[3], o3[3], b3[3];
                for (size_t i = 0; i < r->n; i++) {
                    const struct row *x = &r->v[i];
                    if (strcmp(x->workload, w->name[wi]) || strcmp(x->tracking, t->name[ti]) || x->period != p->period[pi])
                        continue;
                    share[n] = x->ops / x->base * 100, delta[n] = x->delta, ops[n] = x->ops, base[n++] = x->base;
                }
                size_t unused;
                plot_stats(share, n, s3, &kept);   /* the runs that measured both windows */
                plot_stats(delta, n, d3, &unused);
                plot_stats(ops, n, o3, &unused);
                plot_stats(base, n, b3, &unused);
                if (!kept)
                    continue;
                double x = (double)pi + ((double)ti - (double)(t->n - 1) / 2) * 0.8 / (double)t->n;
                fprintf(f, "%s,%s,%ld,%.3f,%.2f,%.2f,%.2f,%.2f,%.1f,%.1f,%zu\n", w->name[wi], t->name[ti],
                        p->period[pi], x, s3[0], s3[1], s3[2], d3[0], o3[0], b3[0], kept);
            }
    free(share), free(delta), free(ops), free(base);
}

/* Median throughput alone over every run of workload w (the figure's title). */
static double baseline_of(const struct rows *r, const char *w)
{
    double *v = xcalloc(r->n, sizeof(*v)), out[3];
    size_t n = 0, kept;
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i].workload, w) == 0)
            v[n++] = r->v[i].base;
    plot_stats(v, n, out, &kept);
    free(v);
    return out[0];
}

static void write_panel(FILE *g, const struct rows *r, const char *w, const struct keys *t, const struct keys *p)
{
    /* bench-overhead's workloads: a-f on redis, mc-a ... on memcached */
    bool mc = strncmp(w, "mc-", 3) == 0;
    fprintf(g, "set title 'YCSB-%c, %s (alone: %.0f ops/s, median of all runs)'\nset xtics (", w[mc ? 3 : 0] & ~0x20,
            mc ? "memcached" : "redis", baseline_of(r, w));
    for (size_t i = 0; i < p->n; i++)
        fprintf(g, "%s'%ld' %zu", i ? ", " : "", p->period[i], i);
    fprintf(g, ")\nset xrange [-0.6:%zu.6]\nunset arrow\n", p->n - 1);
    fprintf(g, "set arrow from -0.6,100 to %zu.6,100 nohead dt 2 lc rgb 'black'\n", p->n - 1);
    fprintf(g, "plot ");
    static const char *const colour[] = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728" };
    for (size_t i = 0; i < t->n; i++) {
        char sel[160];
        snprintf(sel, sizeof(sel), "(strcol(1) eq '%s' && strcol(2) eq '%s' ? $4 : NaN)", w, t->name[i]);
        fprintf(g, "%sdata skip 1 using %s:5:(%.3f) with boxes lc rgb '%s' title '%s', \\\n", i ? ", " : "", sel,
                0.8 / (double)t->n, colour[i % 4], t->name[i]);
        fprintf(g, "  data skip 1 using %s:5:6:7 with yerrorbars lc rgb 'black' ps 0 notitle, \\\n", sel);
        fprintf(g, "  data skip 1 using %s:7:(sprintf('%%+.1f%%%%', $8)) with labels offset 0,0.8 "
                   "font 'sans,8' notitle", sel);
    }
    fprintf(g, "\n");
}

int plot_overhead(const char *dir, char *err, size_t len)
{
    char path[PATH_MAX];
    struct rows r;
    struct keys w = { 0 }, t = { 0 }, p = { 0 };
    struct plot pl;

    snprintf(path, sizeof(path), "%s/overhead.csv", dir);
    if (read_rows(path, &r, err, len))
        return -1;
    for (size_t i = 0; i < r.n; i++) {
        add_key(&w, r.v[i].workload, 0);
        add_key(&t, r.v[i].tracking, 0);
        add_key(&p, NULL, r.v[i].period);
    }
    qsort(p.period, p.n, sizeof(p.period[0]), cmp_long);
    if (plot_open(&pl, dir, "overhead-chart", 520 * (int)w.n, 440, err, len)) {
        free(r.v);
        return -1;
    }
    write_points(pl.data, &r, &w, &t, &p);
    FILE *g = pl.script;
    fprintf(g, "set style fill solid 0.6 border -1\nset ylabel 'throughput with the sync, %% of the same run alone'\n"
               "set xlabel 'sync period (ms)'\n"
               "set yrange [0:130]\nset key top left\n");
    fprintf(g, "set multiplot layout 1,%zu title \"Writing the running guest through to the pool: what it costs "
               "(fmlab, TCG hosts, DRAM as CXL)\\nbars: median of the runs, whiskers: min-max, labels: median change "
               "against the same run without the sync\"\n", w.n);
    for (size_t i = 0; i < w.n; i++)
        write_panel(g, &r, w.name[i], &t, &p);
    fprintf(g, "unset multiplot\n");
    free(r.v);
    return plot_finish(&pl, err, len);
}
