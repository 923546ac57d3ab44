/* sup_reload.c - a new configuration applied in place: the supervisor's
 * set of workers is edited (new ones added, changed ones reconfigured and
 * marked for a restart, removed ones marked and kept until they are down),
 * only the plan's indices are rebuilt. gracectl scale edits the set the
 * same way (sup_instances.c). Policy: no system calls. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sup_int.h"

/* The configuration the plan is built from: the new file's workers, then
 * the removed ones still stopping, each keeping its ordering only against
 * workers that remain (a group's name stands for its instances that
 * remain). Removed instances of a group stop one after another, the
 * highest-numbered first: each is after the next lower one removed.
 * Shallow: free with sup_merged_conf_free(). */
struct conf sup_merged_conf(struct sup *s, size_t n_new)
{
        struct conf m = { .workers = xcalloc(s->n ? s->n : 1, sizeof *m.workers), .n_workers = s->n };

        for (size_t i = 0; i < s->n; i++) {
                m.workers[i] = *worker_conf(W(s, i));
                if (i < n_new)
                        continue;
                char **after = xcalloc(strv_length(m.workers[i].after) + 2, sizeof(char *));
                size_t k = 0;

                for (char **a = m.workers[i].after; a && *a; a++)
                        if ((hmap_get_str(&s->by_name, *a) || sup_group(s, *a)) &&
                            strcmp(*a, worker_name(W(s, i))) != 0)
                                after[k++] = *a;
                after[k] = (char *)sup_removed_below(s, W(s, i));
                m.workers[i].after = after;
                m.workers[i].instance_of = NULL; /* its group's name means the others */
        }
        return m;
}

void sup_merged_conf_free(struct conf *m, size_t n_new)
{
        for (size_t i = n_new; i < m->n_workers; i++)
                free(m->workers[i].after);
        free(m->workers);
}

/* A worker that stays: new settings in place; a changed process restarts. */
static void keep_worker(struct sup *s, struct worker *w, const struct conf_worker *c, unsigned counts[4])
{
        enum worker_state st = worker_state(w);

        if (!worker_reconfigure(&s->env, w, c)) {
                counts[3]++;
                return;
        }
        counts[2]++;
        if (st == WORKER_STARTING || st == WORKER_RUNNING || st == WORKER_STOPPING) {
                if (worker_goal(w) == GOAL_RUN)
                        worker_set_goal(&s->env, w, GOAL_RESTART);
                log_notice(worker_name(w), "reload", "changed: restarting with the new settings");
        } else {
                log_notice(worker_name(w), "reload", "changed (not running)");
        }
}

/* Forgets w for good (removed and down). */
static void drop_worker(struct sup *s, struct worker *w)
{
        hmap_del(&s->by_name, (uintptr_t)worker_name(w));
        hmap_del(&s->scaled_out, (uintptr_t)w);
        worker_free(&s->env, w);
}

struct worker *sup_add_worker(struct sup *s, const struct conf_worker *c, bool *seen, const char *what)
{
        struct worker *w = hmap_get_str(&s->by_name, c->name);

        if (w) {
                /* removed earlier and down by now: a new one */
                seen[worker_index(w)] = true;
                drop_worker(s, w);
        }
        w = worker_new(&s->env, c);
        hmap_put(&s->by_name, (uintptr_t)worker_name(w), w);
        log_notice(worker_name(w), what, "added");
        return w;
}

/* The workers of the new configuration, in its order (new ones created). */
static struct worker **new_set(struct sup *s, const struct conf *c, bool *seen, unsigned counts[4])
{
        struct worker **set = xcalloc(c->n_workers + s->n + 1, sizeof *set);

        for (size_t i = 0; i < c->n_workers; i++) {
                struct worker *w = hmap_get_str(&s->by_name, c->workers[i].name);

                if (w && !worker_removed(w)) {
                        seen[worker_index(w)] = true;
                        keep_worker(s, w, &c->workers[i], counts);
                } else {
                        w = sup_add_worker(s, &c->workers[i], seen, "reload");
                        counts[0]++;
                }
                set[i] = w;
        }
        return set;
}

bool sup_stopping_as(struct sup *s, const char *name)
{
        struct worker *w = hmap_get_str(&s->by_name, name);

        return w && worker_removed(w) && !worker_is_quiet(w);
}

void sup_replace_set(struct sup *s, struct worker **set, size_t n, const bool *seen, const char *what,
                     unsigned *n_removed)
{
        struct plan *p = NULL;
        struct conf_diags d = { 0 };
        size_t n_new = n, old_n = s->n;
        struct conf m;

        /* the ones that are gone stay supervised until they are down */
        for (size_t i = 0; i < old_n; i++) {
                struct worker *w = s->w[i];

                if (seen[i])
                        continue;
                if (worker_is_quiet(w) && worker_state(w) != WORKER_STOPPING) {
                        drop_worker(s, w); /* removed while down: nothing to stop */
                        continue;
                }
                if (!worker_removed(w)) {
                        (*n_removed)++;
                        log_notice(worker_name(w), what, "%s: stopping",
                                   strcmp(what, "reload") == 0 ? "removed from the configuration" : "scaled down");
                        worker_set_goal(&s->env, w, GOAL_REMOVE);
                }
                set[n++] = w;
        }
        sup_drop_plan(s);
        free(s->w);
        s->w = set;
        s->n = n;
        m = sup_merged_conf(s, n_new);
        /* cannot fail: the new set validated and removed workers add no cycle */
        if (plan_build(&m, &p, &d) < 0)
                fatal(70, "%s: the merged plan is invalid", what);
        sup_adopt_plan(s, p);
        sup_merged_conf_free(&m, n_new);
        sup_schedule(s);
}

int sup_reload(struct sup *s, const struct conf *c, unsigned counts[4])
{
        struct worker **set;
        bool *seen;

        if (s->env.shutting_down)
                return -EBUSY;
        for (size_t i = 0; i < c->n_workers; i++)
                if (sup_stopping_as(s, c->workers[i].name))
                        return -EBUSY;
        memset(counts, 0, 4 * sizeof counts[0]);
        seen = xcalloc(s->n ? s->n : 1, sizeof(bool));
        set = new_set(s, c, seen, counts);
        /* the supervisor's settings apply from now on (a reload is refused
         * during a shutdown: no budget or debounce is under way) */
        free(s->name);
        s->name = xstrdup(c->name);
        s->shutdown_timeout = c->shutdown_timeout;
        s->signal_debounce = c->signal_debounce;
        s->force_after = c->force_after;
        s->max_parallel = c->max_parallel ? c->max_parallel : 1;
        s->shutdown_delay = c->shutdown_delay;
        free(s->exit_code_from);
        s->exit_code_from = xstrdup(c->exit_code_from);
        sup_groups_set(s, c); /* the counts of the file, again */
        sup_replace_set(s, set, c->n_workers, seen, "reload", &counts[1]);
        free(seen);
        return 0;
}
