/* sup_reload.c - a new configuration applied in place: the supervisor's
 * set of workers is edited (new ones added, changed ones reconfigured and
 * marked for a restart, removed ones marked and kept until they are down),
 * only the plan's indices are rebuilt. Policy: no system calls. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sup_int.h"

struct conf sup_merged_conf(struct sup *s, size_t n_new)
{
        struct conf m = { .workers = xcalloc(s->n ? s->n : 1, sizeof *m.workers), .n_workers = s->n };

        for (size_t i = 0; i < s->n; i++) {
                m.workers[i] = *worker_conf(W(s, i));
                if (i < n_new)
                        continue;
                char **after = xcalloc(strv_length(m.workers[i].after) + 1, sizeof(char *));
                size_t k = 0;

                for (char **a = m.workers[i].after; a && *a; a++)
                        if (hmap_get_str(&s->by_name, *a) && strcmp(*a, worker_name(W(s, i))) != 0)
                                after[k++] = *a;
                m.workers[i].after = after;
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
        worker_free(&s->env, w);
}

/* The workers of the new configuration, in its order (new ones created). */
static struct worker **new_set(struct sup *s, const struct conf *c, bool *seen, unsigned counts[4])
{
        struct worker **set = xcalloc(c->n_workers + s->n + 1, sizeof *set);

        for (size_t i = 0; i < c->n_workers; i++) {
                struct worker *w = hmap_get_str(&s->by_name, c->workers[i].name);

                if (w && worker_removed(w)) {
                        /* removed by an earlier reload and down by now: a new one */
                        seen[worker_index(w)] = true;
                        drop_worker(s, w);
                        w = NULL;
                }
                if (w) {
                        seen[worker_index(w)] = true;
                        keep_worker(s, w, &c->workers[i], counts);
                } else {
                        w = worker_new(&s->env, &c->workers[i]);
                        hmap_put(&s->by_name, (uintptr_t)worker_name(w), w);
                        counts[0]++;
                        log_notice(worker_name(w), "reload", "added");
                }
                set[i] = w;
        }
        return set;
}

int sup_reload(struct sup *s, const struct conf *c, unsigned counts[4])
{
        struct plan *p = NULL;
        struct conf_diags d = { 0 };
        struct conf m;
        struct worker **set;
        bool *seen;
        size_t n = c->n_workers, old_n = s->n;

        if (s->env.shutting_down)
                return -EBUSY;
        for (size_t i = 0; i < n; i++) {
                struct worker *w = hmap_get_str(&s->by_name, c->workers[i].name);
                if (w && worker_removed(w) && !worker_is_quiet(w))
                        return -EBUSY;
        }
        memset(counts, 0, 4 * sizeof counts[0]);
        seen = xcalloc(old_n ? old_n : 1, sizeof(bool));
        set = new_set(s, c, seen, counts);
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
                        counts[1]++;
                        log_notice(worker_name(w), "reload", "removed from the configuration: stopping");
                        worker_set_goal(&s->env, w, GOAL_REMOVE);
                }
                set[n++] = w;
        }
        free(seen);
        sup_drop_plan(s);
        free(s->w);
        s->w = set;
        s->n = n;
        m = sup_merged_conf(s, c->n_workers);
        /* cannot fail: the new file validated and removed workers add no cycle */
        if (plan_build(&m, &p, &d) < 0)
                fatal(70, "reload: the merged plan is invalid");
        sup_adopt_plan(s, p);
        sup_merged_conf_free(&m, c->n_workers);
        sup_schedule(s);
        return 0;
}
