/*
 * plot_latency.c: what a client sees during a migration. One panel per YCSB run (fmlab
 * ycsb --timeline): the latency of every request against the time since the migration
 * began, the migration shaded (for shm: its background copy and write-through light,
 * from the switchover request to the destination running dark), and the p50 / p99 of
 * the requests before, during and after it. The run and the migration are lined up on
 * backup's wall clock, where both were measured.
 */
#include "plot.h"
#include "result.h"
#include "alloc.h"

#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct window {
    double start_s, switchover_s, end_s;   /* from the migration's start; NAN if none */
    char title[160];
};

/* The migration.json beside the run, if any: its window relative to the run's start. */
static double window_of(const char *dir, double run_start_ms, struct window *w)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/migration.json", dir);
    json_t *m = json_load_file(path, 0, NULL);
    *w = (struct window){ .start_s = NAN, .switchover_s = NAN, .end_s = NAN };
    snprintf(w->title, sizeof(w->title), "%s: no migration", dir);
    if (!m)
        return 0;
    double start = plot_num(m, "start_epoch_ms"), sw = plot_num(m, "switchover_epoch_ms");
    const char *mode = json_string_value(json_object_get(m, "mode"));
    const char *ram = json_string_value(json_object_get(m, "dst_ram"));
    w->start_s = 0;
    w->switchover_s = isnan(sw) ? NAN : (sw - start) / 1000;
    w->end_s = (plot_num(m, "end_epoch_ms") - start) / 1000;
    snprintf(w->title, sizeof(w->title), "%s%s%s: migration %.1f s, stop to running %.0f ms, client gap %.0f ms",
             mode ? mode : "?", ram ? ", destination RAM " : "", ram ? ram : "", w->end_s,
             plot_num(m, "stop_to_running_ms"), plot_num(m, "client.max_gap_ms"));
    json_decref(m);
    return isnan(start) ? 0 : (run_start_ms - start) / 1000;
}

/* Copies run i's timeline into the figure's CSV (panel, s, ms, op, ok); latencies per
 * phase (0 before, 1 during, 2 after the migration) into ph. */
static int copy_timeline(FILE *out, size_t panel, const char *dir, double offset_s, const struct window *w,
                         double *ph[3], size_t nph[3], size_t cap)
{
    char path[PATH_MAX], line[256], op[32];
    snprintf(path, sizeof(path), "%s/timeline.csv", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        unsigned long t_ms, us;
        unsigned ok;
        if (sscanf(line, "%lu,%31[^,],%lu,%u", &t_ms, op, &us, &ok) != 4)
            continue;
        double t = offset_s + (double)t_ms / 1000, ms = (double)us / 1000;
        fprintf(out, "%zu,%.3f,%.3f,%s,%u\n", panel, t, ms, op, ok);
        int p = isnan(w->end_s) || t < w->start_s ? 0 : t <= w->end_s ? 1 : 2;
        if (nph[p] < cap)
            ph[p][nph[p]++] = ms;
    }
    fclose(f);
    return 0;
}

static void write_panel(FILE *g, size_t panel, const struct window *w, double *ph[3], size_t nph[3])
{
    static const char *const names[] = { "before", "during", "after" };
    fprintf(g, "set title ");
    plot_quote(g, w->title);
    fprintf(g, "\nunset object\nunset arrow\nunset label\n");
    if (!isnan(w->end_s)) {
        double dark = isnan(w->switchover_s) ? w->start_s : w->switchover_s;
        if (dark > w->start_s)
            fprintf(g, "set object rect from %.3f, graph 0 to %.3f, graph 1 behind fc rgb '#ffe0b2' "
                       "fs solid 1.0 noborder\n", w->start_s, dark);
        fprintf(g, "set object rect from %.3f, graph 0 to %.3f, graph 1 behind fc rgb '#ffa726' "
                   "fs solid 1.0 noborder\n", dark, w->end_s);
    }
    for (int p = 0; p < 3; p++) {
        sort_doubles(ph[p], nph[p]);
        if (nph[p])
            fprintf(g, "set label %d '%s: p50 %.1f ms, p99 %.1f ms (%zu requests)' at graph %.2f, graph 0.93 "
                       "font 'sans,9'\n", p + 1, names[p], plot_percentile(ph[p], nph[p], 0.5),
                    plot_percentile(ph[p], nph[p], 0.99), nph[p], 0.01 + 0.33 * p);
    }
    fprintf(g, "plot data skip 1 using ($1 == %zu ? $2 : NaN):3 with points pt 7 ps 0.15 lc rgb '#1f5fa8' "
               "notitle\n", panel);
}

int plot_latency(const char *dir, const char *name, const char *const *ycsb_results, size_t n, char *err,
                 size_t len)
{
    struct plot pl;
    const size_t cap = 1 << 22;
    double *ph[3];
    size_t nph[3];

    if (plot_open(&pl, dir, name, 1100, 330 * (int)n + 40, err, len))
        return -1;
    fprintf(pl.data, "panel,t_s,latency_ms,op,ok\n");
    fprintf(pl.script, "set logscale y\nset ylabel 'request latency (ms)'\nset format y '%%g'\n"
                       "set xlabel 's since the migration began (light: copy into the pool and write-through; "
                       "dark: switchover to destination running)'\nset multiplot layout %zu,1\n", n);
    for (int p = 0; p < 3; p++)
        ph[p] = xcalloc(cap, sizeof(double));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char copy[PATH_MAX];
        struct window w;
        snprintf(copy, sizeof(copy), "%s", ycsb_results[i]);
        const char *rdir = dirname(copy);
        json_t *r = plot_load(ycsb_results[i], err, len);
        double offset = r ? window_of(rdir, plot_num(r, "run.start_epoch_ms"), &w) : 0;
        json_decref(r);
        nph[0] = nph[1] = nph[2] = 0;
        if (!r || copy_timeline(pl.data, i, rdir, offset, &w, ph, nph, cap) != 0) {
            if (r)
                snprintf(err, len, "%s/timeline.csv: not there (fmlab ycsb --timeline writes it)", rdir);
            rc = -1;
            break;
        }
        write_panel(pl.script, i, &w, ph, nph);
    }
    fprintf(pl.script, "unset multiplot\n");
    for (int p = 0; p < 3; p++)
        free(ph[p]);
    if (rc) {
        fclose(pl.data), fclose(pl.script);
        return -1;
    }
    return plot_finish(&pl, err, len);
}
