/* plan.c - the dependency graph of a configuration: start order, stop
 * stages, cycle detection, worst-case shutdown time, --print-plan; and
 * plan_load(), the configuration with its plan: conf.c reads the file, the
 * dependency checks are made here. */
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "envfile.h"
#include "parse.h"
#include "plan.h"

static usec_t sat_add(usec_t a, usec_t b)
{
        return a > USEC_INFINITY - b ? USEC_INFINITY : a + b;
}

struct plan *plan_free(struct plan *p)
{
        if (!p)
                return NULL;
        /* one array holds deps[] and rdeps[], one block every per-worker
         * number (plan_new()) */
        for (size_t i = 0; i < 2 * p->n; i++)
                free(p->deps[i]);
        free(p->deps);
        free(p->n_deps);
        free(p);
        return NULL;
}

/* name -> index through a sorted index (configs may hold thousands), and
 * group name -> the indices of its instances (in definition order). */
struct name_index {
        const struct conf *c;
        size_t *idx;
        size_t *gidx, n_gidx; /* the instances, by group name, then index */
};

static int idx_cmp(const void *a, const void *b, void *userdata)
{
        const struct conf *c = userdata;
        size_t x = *(const size_t *)a, y = *(const size_t *)b;
        int r = strcmp(c->workers[x].name, c->workers[y].name);
        return r ? r : (x < y ? -1 : x > y);
}

static int gidx_cmp(const void *a, const void *b, void *userdata)
{
        const struct conf *c = userdata;
        size_t x = *(const size_t *)a, y = *(const size_t *)b;
        int r = strcmp(c->workers[x].instance_of, c->workers[y].instance_of);
        return r ? r : (x < y ? -1 : x > y);
}

/* The instances of the group name: *ret_first indexes ni->gidx; how many. */
static size_t group_lookup(const struct name_index *ni, const char *name, size_t *ret_first)
{
        size_t lo = 0, hi = ni->n_gidx, n = 0;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(ni->c->workers[ni->gidx[mid]].instance_of, name) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        while (lo + n < ni->n_gidx && strcmp(ni->c->workers[ni->gidx[lo + n]].instance_of, name) == 0)
                n++;
        *ret_first = lo;
        return n;
}

static ssize_t name_lookup(const struct name_index *ni, const char *name)
{
        size_t lo = 0, hi = ni->c->n_workers;

        /* lower bound: the first definition wins when names repeat */
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(ni->c->workers[ni->idx[mid]].name, name) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo < ni->c->n_workers && strcmp(ni->c->workers[ni->idx[lo]].name, name) == 0)
                return (ssize_t)ni->idx[lo];
        return -1;
}

/* Min-heap of worker indices: Kahn's algorithm picks the earliest defined. */
struct heap {
        size_t *v, n;
};

static void heap_push(struct heap *h, size_t x)
{
        size_t i = h->n++;

        h->v[i] = x;
        while (i > 0 && h->v[(i - 1) / 2] > h->v[i]) {
                size_t p = (i - 1) / 2, t = h->v[p];
                h->v[p] = h->v[i];
                h->v[i] = t;
                i = p;
        }
}

static size_t heap_pop(struct heap *h)
{
        size_t top = h->v[0], i = 0;

        h->v[0] = h->v[--h->n];
        for (;;) {
                size_t l = 2 * i + 1, r = l + 1, m = i, t;
                if (l < h->n && h->v[l] < h->v[m])
                        m = l;
                if (r < h->n && h->v[r] < h->v[m])
                        m = r;
                if (m == i)
                        break;
                t = h->v[m];
                h->v[m] = h->v[i];
                h->v[i] = t;
                i = m;
        }
        return top;
}

/* Reports each cycle among the workers Kahn's algorithm could not order:
 * every one of them has a dependency among them, so following the first
 * such dependency from any of them ends in a cycle. */
static void report_cycles(const struct conf *c, const struct plan *p, const bool *done, struct conf_diags *diags)
{
        size_t n = p->n, *stack = xcalloc(n, sizeof(size_t)), *pos = xcalloc(n, sizeof(size_t));
        unsigned char *state = xcalloc(n, 1); /* 0 new, 1 on the walk, 2 finished */

        for (size_t start = 0; start < n; start++) {
                size_t depth = 0, u = start;

                if (done[start] || state[start])
                        continue;
                while (state[u] == 0) {
                        size_t next = SIZE_MAX;

                        state[u] = 1;
                        pos[u] = depth;
                        stack[depth++] = u;
                        for (size_t k = 0; k < p->n_deps[u]; k++)
                                if (!done[p->deps[u][k]]) {
                                        next = p->deps[u][k];
                                        break;
                                }
                        if (next == SIZE_MAX)
                                break; /* cannot happen; stay safe */
                        u = next;
                }
                if (state[u] == 1) {
                        /* stack[pos[u] .. depth-1] is a cycle; name it from its
                         * earliest defined worker */
                        size_t first = pos[u], len = depth - first, min = first;
                        char *msg = NULL;
                        const struct conf_worker *w;

                        for (size_t k = first; k < depth; k++)
                                if (stack[k] < stack[min])
                                        min = k;
                        for (size_t k = 0; k <= len; k++)
                                str_appendf(&msg, "%s%s", k ? " -> " : "",
                                            c->workers[stack[first + (min - first + k) % len]].name);
                        w = &c->workers[stack[min]];
                        conf_diags_add(diags, w->file, w->line, "dependency cycle: %s", msg);
                        free(msg);
                }
                for (size_t k = 0; k < depth; k++)
                        state[stack[k]] = 2;
        }
        free(stack);
        free(pos);
        free(state);
}

static struct plan *plan_new(size_t n)
{
        struct plan *p = xcalloc(1, sizeof(*p));
        size_t *numbers = xcalloc(5 * n, sizeof(size_t));

        p->n = n;
        p->deps = xcalloc(2 * n, sizeof(size_t *));
        p->rdeps = p->deps + n;
        p->n_deps = numbers;
        p->n_rdeps = numbers + n;
        p->start_order = numbers + 2 * n;
        p->start_stage = numbers + 3 * n;
        p->stop_stage = numbers + 4 * n;
        return p;
}

static bool strv_has(char *const *v, const char *s)
{
        for (; v && *v; v++)
                if (strcmp(*v, s) == 0)
                        return true;
        return false;
}

static bool diag_known(const struct conf_diags *d, const char *file, int line, const char *msg)
{
        for (size_t i = 0; i < d->n; i++)
                if (d->v[i].line == line && d->v[i].file && strcmp(d->v[i].file, file) == 0 &&
                    strcmp(d->v[i].msg, msg) == 0)
                        return true;
        return false;
}

/* A problem of worker w, once: the instances of a template share its
 * settings, and are named by it ("worker \"web\": ..."). */
_printf_(3, 4) static void worker_diag(struct conf_diags *diags, const struct conf_worker *w, const char *fmt, ...)
{
        char *msg, *full;
        va_list ap;

        va_start(ap, fmt);
        msg = xvasprintf(fmt, ap);
        va_end(ap);
        full = xasprintf("worker \"%s\": %s", w->instance_of ? w->instance_of : w->name, msg);
        if (!diags || !diag_known(diags, w->file, w->line, full))
                conf_diags_add(diags, w->file, w->line, "%s", full);
        free(full);
        free(msg);
}

/* An `after` name that names no worker; one that came from part_of (which
 * implies after, conf.c) is reported under that key. Suggestions: the
 * names of workers and of groups of instances. */
static void unknown_after(const struct conf *c, const struct conf_worker *w, const char *name,
                          struct conf_diags *diags)
{
        const char **names = xcalloc(c->n_workers + c->n_templates, sizeof(char *));
        const char *sug, *key = strv_has(w->part_of, name) ? "part_of" : "after";

        for (size_t x = 0; x < c->n_workers; x++)
                names[x] = c->workers[x].name;
        for (size_t x = 0; x < c->n_templates; x++)
                names[c->n_workers + x] = c->templates[x].name;
        sug = suggest(name, names, c->n_workers + c->n_templates);
        if (sug)
                worker_diag(diags, w, "unknown worker \"%s\" in %s; did you mean \"%s\"?", name, key, sug);
        else
                worker_diag(diags, w, "unknown worker \"%s\" in %s", name, key);
        free(names);
}

static struct name_index name_index_new(const struct conf *c)
{
        struct name_index ni = { .c = c, .idx = xcalloc(c->n_workers ?: 1, sizeof(size_t)),
                                 .gidx = xcalloc(c->n_workers ?: 1, sizeof(size_t)) };

        for (size_t i = 0; i < c->n_workers; i++) {
                ni.idx[i] = i;
                if (c->workers[i].instance_of)
                        ni.gidx[ni.n_gidx++] = i;
        }
        if (c->n_workers > 1)
                qsort_r(ni.idx, c->n_workers, sizeof(size_t), idx_cmp, (void *)c);
        if (ni.n_gidx > 1)
                qsort_r(ni.gidx, ni.n_gidx, sizeof(size_t), gidx_cmp, (void *)c);
        return ni;
}

static void name_index_free(struct name_index *ni)
{
        free(ni->idx);
        free(ni->gidx);
}

/* The workers a name of `after` or `part_of` stands for: every instance of
 * a group of that name, else the worker of that name (none: unknown).
 * Their indices are added to *v (of *n, room for *cap), each once per
 * stamp (seen[j] == stamp: j is in *v already). Returns how many it names. */
static size_t resolve(const struct name_index *ni, const char *name, size_t **v, size_t *n, size_t *cap,
                      size_t *seen, size_t stamp)
{
        size_t first = 0, count = group_lookup(ni, name, &first), one;
        const size_t *from = ni->gidx + first;

        if (count == 0) {
                ssize_t j = name_lookup(ni, name);

                if (j < 0)
                        return 0;
                one = (size_t)j;
                from = &one;
                count = 1;
        }
        for (size_t k = 0; k < count; k++) {
                if (seen[from[k]] == stamp)
                        continue;
                seen[from[k]] = stamp;
                if (*n == *cap)
                        *v = xrealloc(*v, (*cap = *cap ? 2 * *cap : 4) * sizeof(size_t));
                (*v)[(*n)++] = from[k];
        }
        return count;
}

/* deps (deduplicated, in the order written; a group's instances in their
 * order), then rdeps (in definition order of the dependents). false when
 * an `after` name is unknown. */
static bool link_deps(const struct conf *c, struct plan *p, struct conf_diags *diags)
{
        struct name_index ni = name_index_new(c);
        size_t *seen = xcalloc(p->n, sizeof(size_t));
        bool ok = true;

        for (size_t i = 0; i < p->n; i++) {
                const struct conf_worker *w = &c->workers[i];
                size_t cap = 0;

                for (char **a = w->after; a && *a; a++)
                        if (!resolve(&ni, *a, &p->deps[i], &p->n_deps[i], &cap, seen, i + 1)) {
                                unknown_after(c, w, *a, diags);
                                ok = false;
                        }
        }
        free(seen);
        name_index_free(&ni);

        for (size_t i = 0; i < p->n; i++)
                for (size_t k = 0; k < p->n_deps[i]; k++)
                        p->n_rdeps[p->deps[i][k]]++;
        for (size_t i = 0; i < p->n; i++) {
                p->rdeps[i] = p->n_rdeps[i] ? xcalloc(p->n_rdeps[i], sizeof(size_t)) : NULL;
                p->n_rdeps[i] = 0;
        }
        for (size_t i = 0; i < p->n; i++)
                for (size_t k = 0; k < p->n_deps[i]; k++) {
                        size_t j = p->deps[i][k];
                        p->rdeps[j][p->n_rdeps[j]++] = i;
                }
        return ok;
}

/* Kahn: a worker is ready once all its deps are ordered. false when some
 * workers are in a cycle (reported). */
static bool order(const struct conf *c, struct plan *p, struct conf_diags *diags)
{
        size_t n = p->n, *indeg = xcalloc(n, sizeof(size_t)), n_done = 0;
        bool *done = xcalloc(n, sizeof(bool)), ok;
        struct heap h = { .v = xcalloc(n, sizeof(size_t)) };

        for (size_t i = 0; i < n; i++) {
                indeg[i] = p->n_deps[i];
                if (indeg[i] == 0)
                        heap_push(&h, i);
        }
        while (h.n > 0) {
                size_t u = heap_pop(&h);

                done[u] = true;
                p->start_order[n_done++] = u;
                for (size_t k = 0; k < p->n_rdeps[u]; k++)
                        if (--indeg[p->rdeps[u][k]] == 0)
                                heap_push(&h, p->rdeps[u][k]);
        }
        ok = n_done == n;
        if (!ok)
                report_cycles(c, p, done, diags);
        free(h.v);
        free(indeg);
        free(done);
        return ok;
}

/* Start stages along the start order, stop stages against it. */
static void stages(struct plan *p)
{
        for (size_t k = 0; k < p->n; k++) {
                size_t u = p->start_order[k], st = 0;
                for (size_t q = 0; q < p->n_deps[u]; q++)
                        st = MAX(st, p->start_stage[p->deps[u][q]] + 1);
                p->start_stage[u] = st;
        }
        p->n_stop_stages = 0;
        for (size_t k = p->n; k-- > 0;) {
                size_t u = p->start_order[k], st = 0;
                for (size_t q = 0; q < p->n_rdeps[u]; q++)
                        st = MAX(st, p->stop_stage[p->rdeps[u][q]] + 1);
                p->stop_stage[u] = st;
                p->n_stop_stages = MAX(p->n_stop_stages, st + 1);
        }
}

int plan_build(const struct conf *c, struct plan **ret, struct conf_diags *diags)
{
        struct plan *p = plan_new(c->n_workers);
        bool linked = link_deps(c, p, diags);

        /* a cycle is reported even when a name is unknown */
        if (!order(c, p, diags) || !linked) {
                plan_free(p);
                return -EINVAL;
        }
        stages(p);
        *ret = p;
        return 0;
}

/* ---- a configuration with its plan --------------------------------------- */

/* Some worker kept is an instance of group name. */
static bool has_instances(const struct conf *c, const char *name)
{
        for (size_t i = 0; i < c->n_workers; i++)
                if (c->workers[i].instance_of && strcmp(c->workers[i].instance_of, name) == 0)
                        return true;
        return false;
}

/* plan_build() over the workers of c that were kept, whatever else is
 * wrong with c, so that one run reports everything. An `after` name that
 * is no kept worker is left out of the check when it names a worker that
 * was not kept, or when not every name is known (it may name a worker that
 * could not be read): only a name that is surely unknown is reported. */
static int plan_build_kept(const struct conf *c, struct plan **ret, struct conf_diags *diags)
{
        struct conf view = *c;
        int r;

        view.workers = xcalloc(c->n_workers ?: 1, sizeof(*view.workers));
        for (size_t i = 0; i < c->n_workers; i++) {
                const struct conf_worker *w = &c->workers[i];
                size_t n = 0;

                view.workers[i] = *w;
                if (!w->after)
                        continue;
                /* borrowed strings: only the vector is freed below */
                view.workers[i].after = xcalloc(strv_length(w->after) + 1, sizeof(char *));
                for (char **a = w->after; *a; a++) {
                        bool dropped = !c->names_complete;

                        for (size_t k = 0; !dropped && k < c->n_dropped_names; k++)
                                dropped = strcmp(*a, c->dropped_names[k]) == 0;
                        if (!dropped || conf_find_worker(c, *a) || has_instances(c, *a))
                                view.workers[i].after[n++] = *a;
                }
        }
        r = plan_build(&view, ret, diags);
        for (size_t i = 0; i < c->n_workers; i++)
                free(view.workers[i].after);
        free(view.workers);
        return r;
}

/* A worker is part of a long-running worker only: a oneshot ends by
 * itself when it succeeds, which is no stop its parts should follow. A
 * name that is no worker is left to the dependency checks. Checked when a
 * file is loaded, not by plan_build(): the plan a reload merges from the
 * workers still stopping must build. */
static bool check_parts(const struct conf *c, struct conf_diags *diags)
{
        struct name_index ni;
        bool ok = true, any = false;

        for (size_t i = 0; i < c->n_workers && !any; i++)
                any = c->workers[i].part_of != NULL;
        if (!any)
                return true;
        ni = name_index_new(c);
        for (size_t i = 0; i < c->n_workers; i++) {
                const struct conf_worker *w = &c->workers[i];

                for (char **a = w->part_of; a && *a; a++) {
                        size_t first = 0;
                        ssize_t j = group_lookup(&ni, *a, &first) ? (ssize_t)ni.gidx[first] : name_lookup(&ni, *a);
                        bool again = false;

                        for (char **b = w->part_of; b < a; b++)
                                again = again || strcmp(*a, *b) == 0;
                        if (j < 0 || again || c->workers[j].type != WORKER_TYPE_ONESHOT)
                                continue;
                        worker_diag(diags, w, "part_of \"%s\" is a oneshot (only a simple worker can have parts)", *a);
                        ok = false;
                }
        }
        name_index_free(&ni);
        return ok;
}

/* --check: every worker's env files are read as its start would read
 * them, each problem a diagnostic "ENVFILE:LINE: message" (once, when
 * workers share a file). */
static bool check_env_files(const struct conf *c, struct conf_diags *diags)
{
        bool ok = true;

        for (size_t i = 0; i < c->n_workers; i++) {
                struct envfile_vars vars = { 0 };

                for (char **f = c->workers[i].env_file; f && *f; f++) {
                        char *one[] = { *f, NULL };
                        struct envfile_error err = { 0 };

                        if (envfile_load(one, &vars, &err) == 0)
                                continue;
                        ok = false;
                        if (!diag_known(diags, err.file, err.line, err.msg))
                                conf_diags_add(diags, err.file, err.line, "%s", err.msg);
                }
                envfile_vars_done(&vars);
        }
        return ok;
}

int plan_load(const char *path, const struct conf_load_opts *opts, struct conf **ret_conf, struct plan **ret_plan,
              struct conf_diags *diags)
{
        struct conf_diags d = { 0 };
        struct plan *p = NULL;
        struct conf *c;
        int r = conf_load_partial(path, opts, &c, &d);

        if (plan_build_kept(c, &p, &d) < 0)
                r = -EINVAL;
        if (!check_parts(c, &d))
                r = -EINVAL;
        if (opts && opts->env_files && !check_env_files(c, &d))
                r = -EINVAL;
        conf_diags_sort(&d, c);
        conf_diags_move(diags, &d);
        if (r == 0 && ret_conf) {
                *ret_conf = c;
                c = NULL;
        }
        if (r == 0 && ret_plan) {
                *ret_plan = p;
                p = NULL;
        }
        conf_free(c);
        plan_free(p);
        return r;
}

static int check_only(const char *path, const struct conf_load_opts *opts, struct conf_diags *diags)
{
        return plan_load(path, opts, NULL, NULL, diags);
}

int plan_load_isolated(const char *path, const struct conf_load_opts *opts, struct conf **ret_conf,
                       struct plan **ret_plan, struct conf_diags *diags)
{
        struct conf_diags d = { 0 };
        int r = conf_check_in_child(path, opts, check_only, CONF_CHECK_TIMEOUT, &d);

        conf_diags_move(diags, &d);
        if (r == -EINVAL)
                return r;
        /* valid in the child (or no child could be made: fork failed, and
         * the pre-scan still keeps the dangerous files from libconfig) */
        return plan_load(path, opts, ret_conf, ret_plan, diags);
}

usec_t plan_worker_bound(const struct conf_worker *w)
{
        usec_t b = w->stop_timeout;

        if (w->pre_stop)
                b = sat_add(b, w->pre_stop_timeout);
        if (w->post_stop)
                b = sat_add(b, w->post_stop_timeout);
        return b;
}

usec_t plan_worst_case(const struct conf *c, const struct plan *p)
{
        usec_t *longest, worst = 0;

        /* longest[u]: the slowest path that ends with u stopped. Its
         * dependents stop before it; visit them first (start order reversed). */
        longest = xcalloc(p->n ? p->n : 1, sizeof(usec_t));
        for (size_t k = p->n; k-- > 0;) {
                size_t u = p->start_order[k];
                usec_t before = 0;

                for (size_t q = 0; q < p->n_rdeps[u]; q++)
                        if (longest[p->rdeps[u][q]] > before)
                                before = longest[p->rdeps[u][q]];
                longest[u] = sat_add(before, plan_worker_bound(&c->workers[u]));
                if (longest[u] > worst)
                        worst = longest[u];
        }
        free(longest);
        for (size_t i = 0; i < c->n_cleanup; i++)
                worst = sat_add(worst, c->cleanup[i].timeout);
        /* the drain comes first, every worker untouched */
        return sat_add(worst, c->shutdown_delay);
}

static const char *const probe_kind_words[] = { [PROBE_NONE] = "none", [PROBE_TCP] = "tcp", [PROBE_UNIX] = "unix",
                                                [PROBE_HTTP] = "http", [PROBE_EXEC] = "exec", [PROBE_LOG] = "log" };

/* "    ready: tcp 127.0.0.1:5432 every 250ms, timeout 1s" */
static void print_probe(FILE *f, const char *what, const struct conf_probe *pr)
{
        char b1[64], b2[64], *argv;

        fprintf(f, "    %s: %s ", what, pr->kind < ELEMENTSOF(probe_kind_words) ? probe_kind_words[pr->kind] : "?");
        if (pr->kind == PROBE_LOG) {
                fprintf(f, "\"%s\" (each captured line)\n", pr->target ?: "");
                return;
        }
        if (pr->kind == PROBE_EXEC) {
                argv = strv_join(pr->argv);
                fputs(argv, f);
                free(argv);
        } else
                fputs(pr->target ?: "", f);
        fprintf(f, " every %s, timeout %s", format_duration(pr->interval, b1, sizeof(b1)),
                format_duration(pr->timeout, b2, sizeof(b2)));
        if (pr->failures > 0)
                fprintf(f, ", %u failure%s", pr->failures, pr->failures == 1 ? "" : "s");
        fputc('\n', f);
}

/* The workers with a readiness or health probe or parts: "workers:", then
 * each by name with one line per setting. Nothing when there is none. */
static void print_workers(FILE *f, const struct conf *c)
{
        bool first = true;

        for (size_t i = 0; i < c->n_workers; i++) {
                const struct conf_worker *w = &c->workers[i];

                if (w->ready != READY_PROBE && w->health.kind == PROBE_NONE && !w->part_of)
                        continue;
                if (first)
                        fputs("workers:\n", f);
                first = false;
                fprintf(f, "  %s:\n", w->name);
                if (w->ready == READY_PROBE)
                        print_probe(f, "ready", &w->ready_probe);
                if (w->health.kind != PROBE_NONE)
                        print_probe(f, "health", &w->health);
                if (w->part_of) {
                        fputs("    part of: ", f);
                        for (char **a = w->part_of; *a; a++)
                                fprintf(f, "%s%s", a == w->part_of ? "" : ", ", *a);
                        fputc('\n', f);
                }
        }
}

bool plan_print(FILE *f, const struct conf *c, const struct plan *p)
{
        char b1[64], b2[64];
        size_t n_start_stages = 0, line = 0;
        usec_t worst;

        for (size_t i = 0; i < p->n; i++)
                if (p->start_stage[i] + 1 > n_start_stages)
                        n_start_stages = p->start_stage[i] + 1;

        fputs("start order:\n", f);
        if (p->n == 0)
                fputs("  (no workers)\n", f);
        for (size_t st = 0; st < n_start_stages; st++) {
                bool first = true;
                for (size_t k = 0; k < p->n; k++) {
                        size_t u = p->start_order[k];
                        if (p->start_stage[u] != st)
                                continue;
                        if (first)
                                fprintf(f, "  %zu. ", ++line);
                        fprintf(f, "%s%s", first ? "" : ", ", c->workers[u].name);
                        first = false;
                }
                if (!first)
                        fputc('\n', f);
        }

        fputs("stop order:\n", f);
        if (p->n == 0)
                fputs("  (no workers)\n", f);
        for (size_t st = 0; st < p->n_stop_stages; st++) {
                bool first = true;
                for (size_t u = 0; u < p->n; u++) {
                        if (p->stop_stage[u] != st)
                                continue;
                        if (first)
                                fprintf(f, "  %zu. ", st + 1);
                        fprintf(f, "%s%s", first ? "" : ", ", c->workers[u].name);
                        first = false;
                }
                if (!first)
                        fputc('\n', f);
        }

        print_workers(f, c);

        if (c->n_cleanup > 0) {
                fputs("cleanup:\n", f);
                for (size_t i = 0; i < c->n_cleanup; i++)
                        fprintf(f, "  %zu. %s (%s%s)\n", i + 1, c->cleanup[i].name,
                                format_duration(c->cleanup[i].timeout, b1, sizeof(b1)),
                                c->cleanup[i].shielded ? ", shielded" : "");
        }

        if (c->shutdown_delay > 0)
                fprintf(f, "shutdown delay: %s\n", format_duration(c->shutdown_delay, b1, sizeof(b1)));
        worst = plan_worst_case(c, p);
        fprintf(f, "worst case: %s\n", format_duration(worst, b1, sizeof(b1)));
        if (worst > c->shutdown_timeout) {
                fprintf(f, "warning: worst case %s exceeds shutdown_timeout %s\n", b1,
                        format_duration(c->shutdown_timeout, b2, sizeof(b2)));
                return true;
        }
        return false;
}

/* ---- --print-plan --format=json --------------------------------------------- */

static size_t n_start_stages(const struct plan *p)
{
        size_t n = 0;

        for (size_t i = 0; i < p->n; i++)
                n = MAX(n, p->start_stage[i] + 1);
        return n;
}

/* [[names of stage 1], ...]: start stages in start order, stop stages in
 * definition order (as the text shows them). */
static struct json_object *stages_json(const struct conf *c, const struct plan *p, bool start)
{
        struct json_object *all = json_object_new_array();
        size_t n = start ? n_start_stages(p) : p->n_stop_stages;

        for (size_t st = 0; st < n; st++) {
                struct json_object *stage = json_object_new_array();

                for (size_t k = 0; k < p->n; k++) {
                        size_t u = start ? p->start_order[k] : k;

                        if ((start ? p->start_stage[u] : p->stop_stage[u]) == st)
                                json_object_array_add(stage, json_text_new(c->workers[u].name));
                }
                json_object_array_add(all, stage);
        }
        return all;
}

/* Seconds, to the millisecond (an integer when whole). */
static struct json_object *secs_json(usec_t u)
{
        char buf[32];

        if (u % USEC_PER_SEC == 0)
                return json_object_new_int64((int64_t)(u / USEC_PER_SEC));
        snprintf(buf, sizeof buf, "%llu.%03llu", (unsigned long long)(u / USEC_PER_SEC),
                 (unsigned long long)(u % USEC_PER_SEC / USEC_PER_MSEC));
        for (size_t n = strlen(buf); buf[n - 1] == '0' && buf[n - 2] != '.'; n--)
                buf[n - 1] = '\0'; /* 2.500 -> 2.5 */
        return json_object_new_double_s((double)(u / USEC_PER_MSEC) / 1000.0, buf);
}

usec_t plan_suggested_grace(usec_t worst)
{
        usec_t secs = worst / USEC_PER_SEC + (worst % USEC_PER_SEC != 0);

        return sat_add(secs * USEC_PER_SEC, 5 * USEC_PER_SEC);
}

bool plan_print_json(FILE *f, const struct conf *c, const struct plan *p)
{
        struct json_object *o = json_object_new_object(), *cleanup = json_object_new_array();
        usec_t worst = plan_worst_case(c, p);
        bool warn = worst > c->shutdown_timeout;
        char b1[64], b2[64], *w = NULL;

        for (size_t i = 0; i < c->n_cleanup; i++)
                json_object_array_add(cleanup, json_text_new(c->cleanup[i].name));
        json_object_object_add(o, "start", stages_json(c, p, true));
        json_object_object_add(o, "stop", stages_json(c, p, false));
        json_object_object_add(o, "cleanup", cleanup);
        json_object_object_add(o, "worst_case_s", secs_json(worst));
        json_object_object_add(o, "shutdown_timeout_s", secs_json(c->shutdown_timeout));
        json_object_object_add(o, "suggested_termination_grace_period_s",
                               json_object_new_int64((int64_t)(plan_suggested_grace(worst) / USEC_PER_SEC)));
        if (warn)
                w = xasprintf("worst case %s exceeds shutdown_timeout %s", format_duration(worst, b1, sizeof(b1)),
                              format_duration(c->shutdown_timeout, b2, sizeof(b2)));
        json_object_object_add(o, "warning", w ? json_object_new_string(w) : NULL);
        /* one line: for jq and scripts */
        fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
        free(w);
        json_object_put(o);
        return warn;
}
