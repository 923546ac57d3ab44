/* sup_parts.c - part_of: a worker that is part of another (its whole) is
 * stopped before the whole whenever the whole goes down or restarts for
 * any reason but a shutdown or a stop on request, and starts again once the
 * whole is ready. Built on the stop pass (a restart goal for the part,
 * down-with for what stands on it): the same ordered, bounded stops and
 * hooks. Policy: no system calls. */
#include <string.h>

#include "log.h"
#include "sup_int.h"

static bool names(char *const *v, const char *name)
{
        for (; v && *v; v++)
                if (strcmp(*v, name) == 0)
                        return true;
        return false;
}

/* Worker j (a dependent of i: part_of implies after) is part of i (by its
 * name, or as an instance by its group's). */
static bool is_part(const struct sup *s, size_t j, size_t i)
{
        const struct conf_worker *c = worker_conf(W(s, i));

        return names(worker_conf(W(s, j))->part_of, c->name) ||
               (c->instance_of && names(worker_conf(W(s, j))->part_of, c->instance_of));
}

void sup_parts_index(struct sup *s)
{
        for (size_t i = 0; i < s->n; i++) {
                s->slot[i].has_parts = false;
                for (size_t r = 0; r < s->plan->n_rdeps[i] && !s->slot[i].has_parts; r++)
                        s->slot[i].has_parts = is_part(s, s->plan->rdeps[i][r], i);
        }
}

bool sup_parts_busy(struct sup *s, size_t i)
{
        /* a whole never ready yet (new from a reload or a scale while its
         * parts run) does not wait for them: they never stopped for it */
        if (!s->slot[i].has_parts || !worker_was_ready(W(s, i)))
                return false;
        for (size_t r = 0; r < s->plan->n_rdeps[i]; r++) {
                size_t j = s->plan->rdeps[i][r];

                if (is_part(s, j, i) && !worker_is_quiet(W(s, j)))
                        return true;
        }
        return false;
}

bool sup_parts_up(struct worker_env *env, struct worker *w)
{
        struct sup *s = container_of(env, struct sup, env);

        return !env->shutting_down && sup_parts_busy(s, worker_index(w));
}

/* The whole is not ready and is not going down on request: it restarts,
 * waits for its failure stop, ended by itself, or failed for good. (One
 * that ended by itself with success and no restart is done, which counts
 * as ready: its parts are left alone, as its other dependents are. One
 * that was never ready, new from a reload or a scale while its parts run,
 * has not gone anywhere: they are left alone too.) */
static bool whole_gone(const struct sup *s, const struct worker *w)
{
        return !s->env.shutting_down && !worker_wants_down(w) && !worker_is_ready(w) &&
               (worker_was_ready(w) || worker_fail_pending(w));
}

void sup_parts_step(struct sup *s, size_t i)
{
        struct worker *w = W(s, i);

        if (!s->slot[i].has_parts || !whole_gone(s, w))
                return;
        for (size_t r = 0; r < s->plan->n_rdeps[i]; r++) {
                size_t j = s->plan->rdeps[i][r];
                struct worker *p = W(s, j);
                enum worker_state st = worker_state(p);

                if (!is_part(s, j, i) || worker_goal(p) != GOAL_RUN ||
                    (st != WORKER_STARTING && st != WORKER_RUNNING))
                        continue;
                log_notice(worker_name(p), "part-of", "stopping: part of %s, which is not ready any more (back once it is)",
                           worker_name(w));
                sup_mark_down(s, p, GOAL_RESTART);
        }
        if (worker_fail_pending(w) && worker_goal(w) == GOAL_RUN && !sup_parts_busy(s, i))
                worker_stop_failed(&s->env, w);
}
