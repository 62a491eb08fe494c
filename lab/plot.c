/*
 * plot.c: what every figure shares: the script and CSV files beside the PNG, gnuplot run
 * from an argv (a path never becomes gnuplot or shell code unquoted), numbers out of
 * result files, and median/min/max that skip the runs that did not measure a value.
 */
#include "plot.h"
#include "proc.h"
#include "result.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void plot_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        fputc(*s == '\n' ? ' ' : *s, f);
    }
    fputc('\'', f);
}

int plot_open(struct plot *p, const char *dir, const char *name, int width, int height, char *err, size_t len)
{
    snprintf(p->csv, sizeof(p->csv), "%s/%s.csv", dir, name);
    snprintf(p->gp, sizeof(p->gp), "%s/%s.gp", dir, name);
    snprintf(p->png, sizeof(p->png), "%s/%s.png", dir, name);
    p->script = fopen(p->gp, "w");
    p->data = p->script ? fopen(p->csv, "w") : NULL;
    if (!p->data) {
        snprintf(err, len, "%s: %s", p->script ? p->csv : p->gp, strerror(errno));
        if (p->script)
            fclose(p->script);
        return -1;
    }
    fprintf(p->script, "# %s.gp: drawn by fmlab plot from %s.csv (gnuplot %s.gp redraws it)\n", name, name, name);
    fprintf(p->script, "set terminal pngcairo size %d,%d font 'sans,10' noenhanced\nset output ", width, height);
    plot_quote(p->script, p->png);
    fprintf(p->script, "\nset datafile separator ','\ndata = ");
    plot_quote(p->script, p->csv);
    fprintf(p->script, "\nset grid ytics lc rgb '#dddddd'\nset key top left\n");
    return 0;
}

int plot_finish(struct plot *p, char *err, size_t len)
{
    bool written = fclose(p->data) == 0;
    written = fclose(p->script) == 0 && written;
    if (!written) {
        snprintf(err, len, "%s: cannot write it", p->gp);
        return -1;
    }
    if (!proc_in_path("gnuplot")) {
        snprintf(err, len, "gnuplot is not installed (make deps installs gnuplot-nox); %s and %s are written",
                 p->csv, p->gp);
        return -1;
    }
    unlink(p->png);
    const char *argv[] = { "gnuplot", p->gp, NULL };
    int rc = proc_run(argv);
    struct stat st;
    if (rc != 0 || stat(p->png, &st) != 0 || st.st_size == 0) {
        snprintf(err, len, "gnuplot %s failed (exit %d)", p->gp, rc);
        return -1;
    }
    return 0;
}

double plot_num(const json_t *o, const char *key)
{
    char part[128];
    const char *dot;
    while ((dot = strchr(key, '.')) && o) {
        snprintf(part, sizeof(part), "%.*s", (int)(dot - key), key);
        o = json_object_get(o, part);
        key = dot + 1;
    }
    json_t *v = o ? json_object_get(o, key) : NULL;
    return json_is_number(v) ? json_number_value(v) : NAN;
}

json_t *plot_load(const char *path, char *err, size_t len)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        snprintf(err, len, "%s: %s", path, je.text);
    return j;
}

void plot_stats(double *v, size_t n, double out[3], size_t *kept)
{
    struct stat3 s;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i]))
            v[k++] = v[i];
    *kept = k;
    if (!k) {
        out[0] = out[1] = out[2] = NAN;
        return;
    }
    stats_of(v, k, &s);
    out[0] = s.median, out[1] = s.min, out[2] = s.max;
}

double plot_percentile(const double *sorted, size_t n, double q)
{
    if (!n)
        return NAN;
    size_t i = (size_t)ceil(q * (double)n);
    return sorted[i ? i - 1 : 0];
}
