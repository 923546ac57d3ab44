/* sup.c - the supervisor's sequencing: which worker starts or stops when
 * (dependencies, max_parallel), the shutdown stages (ordered stop, cleanup,
 * forced phase), signals, operations and the report's facts. Each
 * worker's own state machine is worker.c's; reload is sup_reload.c's, the
 * words are sup_status.c's.
 * It makes no system calls: actions go through sup_ops, time comes from
 * ops->now, so it can be driven by tests with a fake clock. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "parse.h"
#include "sup.h"
#include "sup_int.h"

static void critical_failure(struct sup *s, struct worker *w);

static usec_t now(struct sup *s) { return env_now(&s->env); }

static void notify(struct sup *s, const char *msg)
{
        if (s->env.ops->notify)
                s->env.ops->notify(s->env.ctx, msg);
}

/* ---- construction ---------------------------------------------------- */

void sup_drop_plan(struct sup *s)
{
        heap_done(&s->stop_todo);
        heap_done(&s->slot_wait);
        s->plan = plan_free(s->plan);
        free(s->slot);
        free(s->stop_seq);
}

void sup_adopt_plan(struct sup *s, struct plan *p)
{
        s->plan = p;
        s->slot = xcalloc(s->n ? s->n : 1, sizeof *s->slot);
        for (size_t i = 0; i < s->n; i++) {
                worker_set_index(s->w[i], i);
                heap_node_init(&s->slot[i].todo);
                heap_node_init(&s->slot[i].wait);
        }
        for (size_t k = 0; k < s->n; k++)
                s->slot[p->start_order[k]].pos = (uint32_t)k;
        s->stop_seq = xcalloc(s->n ? s->n : 1, sizeof *s->stop_seq);
        s->n_stop_seq = 0;
        sup_parts_index(s);
        sup_mark_all(s);
}

/* Heap keys: the later in the start order, the sooner. */
static usec_t rev_pos(const struct sup *s, size_t i) { return (usec_t)(s->n - s->slot[i].pos); }

void sup_mark(struct sup *s, size_t i)
{
        if (s->slot[i].todo.idx == SIZE_MAX)
                heap_set(&s->stop_todo, &s->slot[i].todo, rev_pos(s, i));
}

void sup_mark_all(struct sup *s)
{
        for (size_t i = 0; i < s->n; i++)
                sup_mark(s, i);
}

/* Something of w changed: its dependencies see it in their down_above. */
static void touch(struct sup *s, struct worker *w)
{
        size_t i = worker_index(w);

        sup_mark(s, i);
        for (size_t k = 0; k < s->plan->n_deps[i]; k++)
                sup_mark(s, s->plan->deps[i][k]);
}

static void on_touched(struct worker_env *env, struct worker *w) { touch(container_of(env, struct sup, env), w); }

static void on_failed(struct worker_env *env, struct worker *w)
{
        struct sup *s = container_of(env, struct sup, env);

        if (worker_conf(w)->critical && !s->env.shutting_down)
                critical_failure(s, w);
}

struct sup *sup_new(const struct conf *c, struct plan *p, const struct sup_ops *ops, void *ctx)
{
        struct sup *s = xcalloc(1, sizeof *s);

        s->env = (struct worker_env){ .ops = ops, .ctx = ctx, .pids = HMAP_INIT_INT, .hook_pids = HMAP_INIT_INT,
                                      .failed = on_failed, .touched = on_touched, .parts_up = sup_parts_up,
                                      .ended = sup_on_ended };
        s->by_name = (struct hmap)HMAP_INIT_STR;
        s->scaled_out = (struct hmap)HMAP_INIT_INT;
        s->name = xstrdup(c->name);
        s->shutdown_timeout = c->shutdown_timeout;
        s->signal_debounce = c->signal_debounce;
        s->force_after = c->force_after;
        s->max_parallel = c->max_parallel ? c->max_parallel : 1;
        s->budget = (struct timer){ .node = HEAP_NODE_INIT, .kind = TIMER_BUDGET };
        s->drain = (struct timer){ .node = HEAP_NODE_INIT, .kind = TIMER_DRAIN };
        s->shutdown_delay = c->shutdown_delay;
        s->exit_code_from = xstrdup(c->exit_code_from);
        s->cleanup_dl = (struct timer){ .node = HEAP_NODE_INIT, .kind = TIMER_CLEANUP };
        s->n = c->n_workers;
        s->w = xcalloc(s->n ? s->n : 1, sizeof *s->w);
        for (size_t i = 0; i < s->n; i++) {
                s->w[i] = worker_new(&s->env, &c->workers[i]);
                hmap_put(&s->by_name, (uintptr_t)worker_name(s->w[i]), s->w[i]);
        }
        sup_adopt_plan(s, p);
        sup_groups_set(s, c);
        s->n_cleanup = c->n_cleanup;
        s->cleanup = xcalloc(s->n_cleanup ? s->n_cleanup : 1, sizeof *s->cleanup);
        for (size_t i = 0; i < s->n_cleanup; i++) {
                hook_init(&s->cleanup[i], NULL, "cleanup", c->cleanup[i].name, c->cleanup[i].argv,
                          c->cleanup[i].timeout);
                s->cleanup[i].shielded = c->cleanup[i].shielded;
        }
        return s;
}

struct sup *sup_free(struct sup *s)
{
        if (!s)
                return NULL;
        sup_drop_plan(s);
        for (size_t i = 0; i < s->n; i++)
                worker_free(&s->env, s->w[i]);
        for (size_t i = 0; i < s->n_cleanup; i++)
                hook_done(&s->cleanup[i]);
        free(s->cleanup);
        free(s->w);
        sup_groups_free(s);
        hmap_done(&s->by_name);
        hmap_done(&s->scaled_out);
        hmap_done(&s->env.pids);
        hmap_done(&s->env.hook_pids);
        heap_done(&s->env.deadlines);
        free(s->name);
        free(s->reason);
        free(s->exit_code_from);
        free(s->last_status);
        free(s);
        return NULL;
}

void sup_set_dev_mode(struct sup *s, bool on) { s->dev_mode = on; }

/* ---- predicates ------------------------------------------------------- */

/* A dependency, direct or not, failed for good (workers in between may
 * well be running): *which names it. Uses the arrays of compute_chains(). */
static bool dep_failed(struct sup *s, size_t i, const char **which)
{
        if (s->slot[i].failed_below == NO_SLOT)
                return false;
        *which = worker_name(W(s, s->slot[i].failed_below));
        return true;
}

/* Per worker: every dependency, direct or not, is ready (so a worker
 * restarted by a reload holds back what stands on it, even above an
 * unchanged one); and which of them, if any, failed for good. O(workers +
 * edges), in start order: dependencies come first. */
static void compute_chains(struct sup *s)
{
        for (size_t k = 0; k < s->n; k++) {
                size_t i = s->plan->start_order[k];
                bool ok = true;
                uint32_t failed = NO_SLOT;

                for (size_t d = 0; d < s->plan->n_deps[i]; d++) {
                        size_t j = s->plan->deps[i][d];

                        ok = ok && worker_is_ready(W(s, j)) && s->slot[j].chain_ready;
                        if (failed == NO_SLOT)
                                failed = worker_state(W(s, j)) == WORKER_FAILED ? (uint32_t)j : s->slot[j].failed_below;
                }
                s->slot[i].chain_ready = ok;
                s->slot[i].failed_below = failed;
        }
}

static unsigned count_state(struct sup *s, enum worker_state st) { return s->env.n_state[st]; }

static size_t count_active(struct sup *s)
{
        size_t n = 0;

        for (size_t i = 0; i < s->n; i++)
                n += !worker_is_quiet(W(s, i));
        return n;
}

static bool any_active(struct sup *s)
{
        /* a worker starting, running or stopping is: no need to look at each */
        if (count_state(s, WORKER_STARTING) + count_state(s, WORKER_RUNNING) + count_state(s, WORKER_STOPPING))
                return true;
        for (size_t i = 0; i < s->n; i++)
                if (!worker_is_quiet(W(s, i)))
                        return true;
        return false;
}

static void record_stop_seq(struct sup *s, struct worker *w)
{
        size_t i = worker_index(w);

        if (!s->slot[i].in_stop_seq) {
                s->slot[i].in_stop_seq = true;
                s->stop_seq[s->n_stop_seq++] = w;
        }
}

static void critical_failure(struct sup *s, struct worker *w)
{
        char *reason = xasprintf("critical worker %s failed", worker_name(w));

        s->critical_failed = true;
        log_error(worker_name(w), "critical", "critical worker failed: shutting down");
        sup_shutdown(s, reason, false);
        free(reason);
}

/* ---- events ------------------------------------------------------------ */

void sup_on_exec_status(struct sup *s, struct worker *w, int err, const char *stage)
{
        worker_on_exec_status(&s->env, w, err, stage);
        touch(s, w);
        sup_schedule(s);
}

struct worker *sup_find_pid(struct sup *s, pid_t pid) { return hmap_get(&s->env.pids, (uintptr_t)pid); }

bool sup_on_exit(struct sup *s, pid_t pid, int status)
{
        struct worker *w = sup_find_pid(s, pid);
        struct hook_run *h;

        if (w) {
                worker_on_exit(&s->env, w, status);
                touch(s, w); /* no longer alive: it may be quiet now */
        } else {
                h = hmap_get(&s->env.hook_pids, (uintptr_t)pid);
                if (!h)
                        return false;
                hook_ended(&s->env, h, status);
                if (h->owner)
                        touch(s, h->owner);
                else
                        env_timer_set(&s->env, &s->cleanup_dl, USEC_INFINITY);
        }
        sup_schedule(s);
        return true;
}

void sup_on_stream_eof(struct sup *s, struct worker *w, unsigned epoch)
{
        worker_on_stream_eof(&s->env, w, epoch);
        touch(s, w);
        sup_schedule(s);
}

void sup_on_notify(struct sup *s, struct worker *w, const char *msg)
{
        worker_on_notify(&s->env, w, msg);
        sup_schedule(s);
}

void sup_on_probe(struct sup *s, struct worker *w, enum probe_use use, bool ok, const char *reason)
{
        worker_on_probe(&s->env, w, use, ok, reason);
        sup_schedule(s);
}

/* ---- shutdown --------------------------------------------------------- */

void sup_force(struct sup *s, const char *why)
{
        if (s->finished)
                return;
        if (!s->env.shutting_down) {
                sup_shutdown(s, why, true);
                return;
        }
        if (s->env.forced) {
                log_debug(NULL, "signal", "already forcing (%s)", why);
                return;
        }
        s->env.forced = true;
        env_timer_set(&s->env, &s->budget, USEC_INFINITY);
        sup_drain_end(s, true); /* a drain under way ends: everything is forced at once */
        sup_mark_all(s);
        log_warning(NULL, "force", "forcing shutdown (%s): killing every worker and hook", why);
        for (size_t i = 0; i < s->n; i++)
                if (worker_force(&s->env, W(s, i)))
                        record_stop_seq(s, W(s, i));
        for (size_t i = 0; i < s->n; i++)
                worker_force_output(&s->env, W(s, i));
        for (size_t i = 0; i < s->n_cleanup; i++) {
                struct hook_run *h = &s->cleanup[i];

                if (h->shielded)
                        continue;
                if (hook_busy(h))
                        hook_kill(&s->env, h, OUTCOME_FAILED);
                else if (h->outcome == OUTCOME_NONE)
                        h->outcome = OUTCOME_SKIPPED;
        }
        for (size_t i = 0; i < s->n; i++)
                if (worker_state(W(s, i)) == WORKER_STOPPING)
                        worker_advance_stop(&s->env, W(s, i));
        sup_schedule(s);
}

static void dev_banner(struct sup *s, size_t active)
{
        char hint[64] = "", b[32], d[64] = "";
        unsigned left = s->force_after > s->accepted_signals ? s->force_after - s->accepted_signals : 0;

        if (s->force_after && left == 1)
                snprintf(hint, sizeof hint, " - press Ctrl+C again to force");
        else if (s->force_after && left > 1)
                snprintf(hint, sizeof hint, " - press Ctrl+C %u more times to force", left);
        if (s->draining)
                snprintf(d, sizeof d, "draining %s, then ", dur(s->shutdown_delay, b));
        log_banner("%sstopping %zu worker%s (budget %s)%s", d, active, active == 1 ? "" : "s",
                   dur(s->shutdown_timeout, b), hint);
}

void sup_stop_all(struct sup *s)
{
        for (size_t i = 0; i < s->n; i++)
                if (worker_goal(W(s, i)) != GOAL_REMOVE)
                        worker_set_goal(&s->env, W(s, i), GOAL_DOWN);
}

void sup_begin_shutdown(struct sup *s, const char *reason, bool force, bool drain)
{
        size_t active = count_active(s);
        char b[32], d[32];

        s->env.shutting_down = true;
        sup_mark_all(s); /* nothing comes back any more: every down_above may change */
        free(s->reason);
        s->reason = xstrdup(reason);
        s->shutdown_began = now(s);
        /* the budget runs from now, the drain included */
        env_timer_set(&s->env, &s->budget, s->shutdown_began + s->shutdown_timeout);
        notify(s, "STOPPING=1");
        env_extend_timeout(&s->env, s->budget.node.when);
        s->draining = drain;
        if (drain)
                env_timer_set(&s->env, &s->drain, s->shutdown_began + s->shutdown_delay);
        log_notice(NULL, "shutdown", "shutting down (%s): %s%s%sstopping %zu worker%s, budget %s", reason,
                   drain ? "draining " : "", drain ? dur(s->shutdown_delay, d) : "", drain ? ", then " : "", active,
                   active == 1 ? "" : "s", dur(s->shutdown_timeout, b));
        if (s->dev_mode && !force)
                dev_banner(s, active);
        if (!drain)
                sup_stop_all(s);
}

void sup_shutdown(struct sup *s, const char *reason, bool force)
{
        if (s->finished)
                return;
        if (!s->env.shutting_down)
                sup_begin_shutdown(s, reason, force, false);
        if (force)
                sup_force(s, reason);
        else
                sup_schedule(s);
}

static bool all_reaped(struct sup *s)
{
        if (s->env.pids.n || s->env.hook_pids.n)
                return false;
        return true;
}


static void finish(struct sup *s)
{
        char *sum, *st;
        int code;

        s->finished = true;
        code = sup_exit_code(s);
        sum = sup_summary(s);
        log_msg(code ? LOG_WARNING : LOG_NOTICE, NULL, "summary", "%s", sum);
        /* what systemd keeps showing once graced is gone */
        st = xasprintf("STATUS=%s", sum);
        notify(s, st);
        free(st);
        free(sum);
        s->env.ops->finished(s->env.ctx, code);
}

/* Runs the cleanup steps one after another; true when all are done. */
static bool run_cleanup(struct sup *s)
{
        while (s->cleanup_next < s->n_cleanup) {
                struct hook_run *h = &s->cleanup[s->cleanup_next];

                if (hook_busy(h))
                        return false;
                if (h->outcome != OUTCOME_NONE) {
                        s->cleanup_next++;
                        continue;
                }
                if (s->env.forced && !h->shielded) {
                        h->outcome = OUTCOME_SKIPPED;
                        log_info(NULL, "cleanup", "%s skipped (forced)", h->label);
                        continue;
                }
                if (hook_spawn(&s->env, h)) {
                        env_timer_set(&s->env, &s->cleanup_dl, h->deadline);
                        return false;
                }
        }
        return true;
}

/* ---- status ---------------------------------------------------------------- */

static void update_status(struct sup *s)
{
        char *st = sup_status_line(s);

        if (!s->last_status || strcmp(st, s->last_status) != 0) {
                char *msg = xasprintf("STATUS=%s", st);
                notify(s, msg);
                free(msg);
                free(s->last_status);
                s->last_status = st;
        } else {
                free(st);
        }
}

/* Every boot-time worker is ready, done, failed or blocked behind a failure. */
static bool settled(struct sup *s)
{
        /* not while anything not going down starts or waits to restart */
        if (s->env.n_up[WORKER_STARTING] + s->env.n_up[WORKER_BACKOFF] + s->env.n_up[WORKER_STOPPING])
                return false;
        compute_chains(s);
        for (size_t i = 0; i < s->n; i++) {
                struct worker *w = W(s, i);
                const char *dep;

                if (worker_wants_down(w) || worker_is_ready(w) || worker_state(w) == WORKER_FAILED)
                        continue;
                if (worker_state(w) == WORKER_WAITING && dep_failed(s, i, &dep))
                        continue;
                return false;
        }
        return true;
}

/* ---- the scheduler ------------------------------------------------------ */

/* "Everything above i is down" for a pass (see stop_pass). */
static void down_above(struct sup *s, size_t i)
{
        bool da = true, rda = true;

        for (size_t r = 0; r < s->plan->n_rdeps[i]; r++) {
                size_t j = s->plan->rdeps[i][r];
                struct worker *d = W(s, j);
                bool q = worker_is_quiet(d);
                /* a dependent that will be started again is not down */
                bool comes_back = !s->env.shutting_down && worker_comes_back(d);

                if (!q || comes_back || !s->slot[j].down_above)
                        da = false;
                if (((worker_goal(d) == GOAL_RESTART || worker_wants_down(d)) && !q) || !s->slot[j].rdown_above)
                        rda = false;
        }
        s->slot[i].down_above = da;
        s->slot[i].rdown_above = rda;
}

/* What the stop pass does for worker i, its down_above just computed:
 * begin its stop, settle it down, or stop what is left of its group. */
static void stop_step(struct sup *s, size_t i)
{
        struct worker *w = W(s, i);
        enum worker_state st = worker_state(w);
        bool active = st == WORKER_STARTING || st == WORKER_RUNNING;
        bool slot = count_state(s, WORKER_STOPPING) < s->max_parallel;
        bool restart = worker_goal(w) == GOAL_RESTART;

        if (restart && !active && st != WORKER_STOPPING) {
                worker_set_goal(&s->env, w, GOAL_RUN); /* no process: it starts with the new settings */
                return;
        }
        if (restart ? !s->slot[i].rdown_above : !worker_wants_down(w) || !s->slot[i].down_above)
                return;
        if (active && !slot) {
                heap_set(&s->slot_wait, &s->slot[i].wait, rev_pos(s, i));
        } else if (active) {
                worker_begin_stop(&s->env, w, restart ? STOP_RESTART : s->env.shutting_down ? STOP_SHUTDOWN : STOP_MANUAL);
                if (!restart)
                        record_stop_seq(s, w);
        } else if (!restart && st != WORKER_STOPPING && worker_is_quiet(w)) {
                if (s->env.shutting_down)
                        record_stop_seq(s, w);
                worker_settle_down(&s->env, w);
        } else if (!restart && st != WORKER_STOPPING) {
                worker_stop_leftovers(&s->env, w);
        }
}

/* Stops: a worker only once every dependent is fully down; one to restart
 * waits only for the dependents that stop or restart too. Workers are
 * looked at in reverse start order, every dependent before its
 * dependencies, so "everything above is down" is computed from theirs; only
 * the ones marked since the last pass (touch()) and, while stop slots are
 * free, the ones waiting for a slot: a chain stops in O(1) per link. */
static void stop_pass(struct sup *s)
{
        for (;;) {
                struct heap_node *t = heap_top(&s->stop_todo), *wt = NULL;
                bool da, rda;
                size_t i;

                if (count_state(s, WORKER_STOPPING) < s->max_parallel)
                        wt = heap_top(&s->slot_wait);
                if (!t && !wt)
                        return;
                if (wt && (!t || wt->when < t->when)) {
                        i = (size_t)(container_of(wt, struct slot, wait) - s->slot);
                        heap_remove(&s->slot_wait, wt);
                } else {
                        i = (size_t)(container_of(t, struct slot, todo) - s->slot);
                        heap_remove(&s->stop_todo, t);
                }
                da = s->slot[i].down_above;
                rda = s->slot[i].rdown_above;
                sup_parts_step(s, i); /* its parts may have to stop first */
                down_above(s, i);
                stop_step(s, i);
                if (da != s->slot[i].down_above || rda != s->slot[i].rdown_above)
                        for (size_t k = 0; k < s->plan->n_deps[i]; k++)
                                sup_mark(s, s->plan->deps[i][k]);
        }
}

/* Starts: in start order, once every dependency is ready, up to max_parallel.
 * False when a critical worker that can never start shut graced down. */
static bool start_pass(struct sup *s)
{
        unsigned starting = count_state(s, WORKER_STARTING);

        compute_chains(s);
        for (size_t k = 0; k < s->n && starting < s->max_parallel; k++) {
                size_t i = s->plan->start_order[k];
                struct worker *w = W(s, i);
                const char *dep;

                if (worker_state(w) != WORKER_WAITING || worker_goal(w) != GOAL_RUN)
                        continue;
                if (!s->slot[i].chain_ready) {
                        /* a critical worker that can never get ready */
                        if (dep_failed(s, i, &dep) && worker_mark_blocked(w, dep) && worker_conf(w)->critical) {
                                critical_failure(s, w);
                                return false;
                        }
                        continue;
                }
                if (sup_parts_busy(s, i))
                        continue; /* its parts stop before its new process starts */
                worker_start(&s->env, w);
                starting += worker_state(w) == WORKER_STARTING;
        }
        return true;
}

/* Workers stopped along with a dependency come back once none of their
 * dependencies is held down (gracectl start or restart of it). */
static void revive_pass(struct sup *s)
{
        for (size_t k = 0; k < s->n; k++) {
                size_t i = s->plan->start_order[k];
                bool all = worker_goal(W(s, i)) == GOAL_DOWN_WITH;

                for (size_t d = 0; d < s->plan->n_deps[i] && all; d++)
                        all = worker_goal(W(s, s->plan->deps[i][d])) == GOAL_RUN;
                if (all)
                        worker_revive(&s->env, W(s, i));
        }
}

static void schedule_once(struct sup *s)
{
        stop_pass(s);
        if (s->env.shutting_down || !s->started)
                return;
        if (s->env.n_not_run)
                revive_pass(s);
        if (s->env.n_up[WORKER_WAITING])
                (void)start_pass(s);
}

void sup_schedule(struct sup *s)
{
        if (s->finished)
                return;
        if (s->batched) {
                s->dirty = true; /* sup_flush() runs one pass for all events */
                return;
        }
        if (s->in_schedule) {
                s->reschedule = true;
                return;
        }
        s->in_schedule = true;
        do {
                s->reschedule = false;
                schedule_once(s);
                /* (the drain leaves every worker alone: none is stopping yet) */
                if (s->env.shutting_down && !s->draining && !any_active(s) && run_cleanup(s) && all_reaped(s)) {
                        s->in_schedule = false;
                        update_status(s);
                        finish(s);
                        return;
                }
        } while (s->reschedule);
        s->in_schedule = false;
        if (!s->env.shutting_down && s->started && !s->ready_notified && settled(s)) {
                s->ready_notified = true;
                update_status(s);
                notify(s, "READY=1");
                log_notice(NULL, "ready", "%s", s->last_status ? s->last_status : "ready");
        }
        update_status(s);
}

void sup_set_batched(struct sup *s, bool on) { s->batched = on; }

void sup_flush(struct sup *s)
{
        if (!s->dirty)
                return;
        s->dirty = false;
        s->batched = false;
        sup_schedule(s);
        s->batched = true;
}

void sup_start(struct sup *s)
{
        s->started = true;
        log_notice(NULL, "start", "starting %zu worker%s", s->n, s->n == 1 ? "" : "s");
        sup_schedule(s);
}

/* ---- signals and time --------------------------------------------------- */

static void on_stop_signal(struct sup *s, const char *name, usec_t t)
{
        if (s->accepted_signals > 0 && t - s->last_signal < s->signal_debounce) {
                log_debug(NULL, "signal", "%s ignored (within debounce)", name);
                return;
        }
        s->accepted_signals++;
        s->last_signal = t;
        if (s->accepted_signals == 1 && s->force_after == 1) {
                sup_shutdown(s, name, true);
        } else if (s->accepted_signals == 1) {
                sup_request_shutdown(s, name); /* drains first (shutdown_delay) */
        } else if (s->force_after > 0 && s->accepted_signals >= s->force_after) {
                char *why = xasprintf("%s #%u", name, s->accepted_signals);
                sup_force(s, why);
                free(why);
        } else {
                log_notice(NULL, "signal", "%s: already shutting down%s", name,
                           s->force_after ? "" : " (force_after = 0: never forced by signals)");
        }
}

void sup_on_signal(struct sup *s, int sig)
{
        usec_t t = now(s);
        const char *name = signal_name(sig);

        switch (sig) {
        case SIGTERM:
        case SIGINT:
                on_stop_signal(s, name, t);
                return;
        case SIGQUIT:
                s->accepted_signals++;
                s->last_signal = t;
                sup_shutdown(s, name, true);
                return;
        case SIGUSR1:
                sup_log_status(s);
                return;
        default:
                log_debug(NULL, "signal", "%s ignored", name);
                return;
        }
}

/* Expired deadlines are handled in a fixed order, as a scan of every
 * worker would meet them: the budget, then workers by plan index (its
 * state's deadline, its watchdog, its probe), then the cleanup step. */
static size_t timer_rank(const struct timer *t)
{
        switch (t->kind) {
        case TIMER_BUDGET:
        case TIMER_DRAIN:
                return 0;
        case TIMER_CLEANUP:
                return SIZE_MAX;
        default:
                return 1 + 3 * worker_index(worker_of_timer(t)) + (t->kind == TIMER_WATCHDOG) + 2 * (t->kind == TIMER_PROBE);
        }
}

static int timer_cmp(const void *a, const void *b)
{
        size_t x = timer_rank(*(struct timer *const *)a), y = timer_rank(*(struct timer *const *)b);

        return x < y ? -1 : x > y;
}

static void on_timer(struct sup *s, struct timer *t)
{
        struct hook_run *h = s->cleanup_next < s->n_cleanup ? &s->cleanup[s->cleanup_next] : NULL;
        char b[32];

        switch (t->kind) {
        case TIMER_BUDGET:
                log_warning(NULL, "timeout", "shutdown_timeout %s spent", dur(s->shutdown_timeout, b));
                sup_force(s, "shutdown_timeout");
                return;
        case TIMER_DRAIN:
                sup_drain_end(s, false);
                return;
        case TIMER_CLEANUP:
                if (!h || !hook_busy(h) || h->deadline == USEC_INFINITY)
                        return;
                log_warning(NULL, "cleanup", "%s timed out after %s", h->label, dur(h->timeout, b));
                hook_kill(&s->env, h, OUTCOME_TIMEOUT);
                return;
        case TIMER_WORKER:
                worker_on_deadline(&s->env, worker_of_timer(t));
                touch(s, worker_of_timer(t));
                return;
        case TIMER_WATCHDOG:
                worker_on_watchdog(&s->env, worker_of_timer(t));
                return;
        case TIMER_PROBE:
                worker_on_probe_timer(&s->env, worker_of_timer(t));
                return;
        }
}

void sup_on_time(struct sup *s)
{
        usec_t t = now(s);
        uint64_t gen0 = s->env.gen;
        struct timer **due = NULL;
        size_t n = 0, cap = 0;

        if (s->finished)
                return;
        for (struct heap_node *top; (top = heap_top(&s->env.deadlines)) && top->when <= t;) {
                if (n == cap)
                        due = xrealloc(due, (cap = cap ? 2 * cap : 16) * sizeof *due);
                due[n++] = container_of(top, struct timer, node);
                heap_remove(&s->env.deadlines, top);
        }
        if (n > 1)
                qsort(due, n, sizeof *due, timer_cmp);
        for (size_t i = 0; i < n; i++)
                /* set again (or cleared) by an earlier one of this pass: not due */
                if (due[i]->node.idx == SIZE_MAX && due[i]->gen <= gen0 && !s->finished)
                        on_timer(s, due[i]);
        free(due);
        sup_schedule(s);
}

usec_t sup_next_deadline(const struct sup *s) { return s->finished ? USEC_INFINITY : heap_next(&s->env.deadlines); }

/* ---- operations ----------------------------------------------------------- */

struct worker *sup_find(struct sup *s, const char *name)
{
        struct worker *w = hmap_get_str(&s->by_name, name);

        return w && !worker_removed(w) ? w : NULL;
}

void sup_mark_down(struct sup *s, struct worker *w, enum worker_goal goal)
{
        size_t i = worker_index(w);

        if (worker_wants_down(w) || (worker_goal(w) == GOAL_RESTART && goal != GOAL_RESTART))
                return;
        worker_set_goal(&s->env, w, goal);
        for (size_t k = 0; k < s->plan->n_rdeps[i]; k++)
                sup_mark_down(s, W(s, s->plan->rdeps[i][k]), GOAL_DOWN_WITH);
}

/* w (and, deps_too, the dependencies it needs that are down) runs again. */
static void bring_up(struct sup *s, struct worker *w, bool deps_too)
{
        size_t i = worker_index(w);
        enum worker_state st = worker_state(w);

        if (worker_wants_down(w) || st == WORKER_FAILED || st == WORKER_DOWN ||
            (st == WORKER_EXITED && worker_conf(w)->type == WORKER_TYPE_SIMPLE))
                worker_revive(&s->env, w);
        if (!deps_too)
                return;
        for (size_t k = 0; k < s->plan->n_deps[i]; k++) {
                struct worker *d = W(s, s->plan->deps[i][k]);
                if (worker_wants_down(d) || worker_state(d) == WORKER_DOWN)
                        bring_up(s, d, true);
        }
}

/* stop: it and its dependents go down and stay down; start: it, the
 * dependencies it needs and the dependents stopped with it come back
 * (revive_pass); restart: its dependents stop first and come back once it
 * is up again. */
static void op_stop(struct sup *s, struct worker *w) { sup_mark_down(s, w, GOAL_DOWN); }
static void op_start(struct sup *s, struct worker *w) { bring_up(s, w, true); }
static void op_restart(struct sup *s, struct worker *w) { sup_mark_down(s, w, GOAL_RESTART); }

/* A worker that is not running is just started. */
static void op_restart_or_start(struct sup *s, struct worker *w)
{
        if (worker_state(w) != WORKER_RUNNING && worker_state(w) != WORKER_STARTING)
                op_start(s, w);
        else
                op_restart(s, w);
}

/* On the worker name, or on every instance of the group name. */
static int operate(struct sup *s, const char *name, const char *what, void (*fn)(struct sup *, struct worker *))
{
        struct worker *w = sup_find(s, name);

        if (!w && !sup_group(s, name))
                return -ENOENT;
        if (s->env.shutting_down)
                return -EBUSY;
        if (w) {
                log_notice(worker_name(w), what, "%s requested", what);
                fn(s, w);
        } else
                sup_group_operate(s, name, what, fn);
        sup_schedule(s);
        return 0;
}

int sup_stop_worker(struct sup *s, const char *name) { return operate(s, name, "stop", op_stop); }
int sup_start_worker(struct sup *s, const char *name) { return operate(s, name, "start", op_start); }

int sup_restart_worker(struct sup *s, const char *name)
{
        struct worker *w = sup_find(s, name);

        if (w && worker_state(w) != WORKER_RUNNING && worker_state(w) != WORKER_STARTING)
                return sup_start_worker(s, name);
        return operate(s, name, "restart", w ? op_restart : op_restart_or_start);
}

int sup_op_state(struct sup *s, const char *name, enum sup_op op)
{
        struct worker *w = sup_find(s, name);

        return w ? sup_worker_op_state(s, w, op) : sup_group_op_state(s, name, op);
}

int sup_worker_op_state(struct sup *s, struct worker *w, enum sup_op op)
{
        const char *dep;

        if (op == SUP_OP_STOP) {
                if (!worker_wants_down(w))
                        return 1; /* started again meanwhile */
                for (size_t i = 0; i < s->n; i++)
                        if (worker_wants_down(W(s, i)) &&
                            (!worker_is_quiet(W(s, i)) || worker_state(W(s, i)) == WORKER_STOPPING))
                                return 0;
                return 1;
        }
        if (worker_goal(w) == GOAL_RESTART || worker_state(w) == WORKER_STOPPING)
                return 0;
        if (worker_is_ready(w))
                return 1;
        if (worker_state(w) == WORKER_FAILED || worker_state(w) == WORKER_DOWN)
                return -1;
        compute_chains(s);
        if (worker_state(w) == WORKER_WAITING && dep_failed(s, worker_index(w), &dep))
                return -1;
        return 0;
}

/* ---- reading ------------------------------------------------------------ */

size_t sup_n_workers(const struct sup *s) { return s->n; }
struct worker *sup_worker(struct sup *s, size_t i) { return i < s->n ? s->w[i] : NULL; }
bool sup_shutting_down(const struct sup *s) { return s->env.shutting_down; }
bool sup_forced(const struct sup *s) { return s->env.forced; }
const char *sup_reason(const struct sup *s) { return s->reason; }
usec_t sup_shutdown_began(const struct sup *s) { return s->shutdown_began; }
size_t sup_n_cleanup(const struct sup *s) { return s->n_cleanup; }
const struct hook_run *sup_cleanup(const struct sup *s, size_t i) { return &s->cleanup[i]; }
const char *sup_name(const struct sup *s) { return s->name; }


bool sup_counts_ok(const struct sup *s)
{
        unsigned all[WORKER_FAILED + 1] = { 0 }, up[WORKER_FAILED + 1] = { 0 }, done = 0, not_run = 0, failing = 0;

        for (size_t i = 0; i < s->n; i++) {
                const struct worker *w = W(s, i);
                enum worker_state st = worker_state(w);

                all[st]++;
                not_run += worker_goal(w) != GOAL_RUN;
                failing += worker_health_failing(w);
                if (worker_wants_down(w))
                        continue;
                up[st]++;
                done += st == WORKER_EXITED && worker_conf(w)->type == WORKER_TYPE_ONESHOT;
        }
        return memcmp(all, s->env.n_state, sizeof all) == 0 && memcmp(up, s->env.n_up, sizeof up) == 0 &&
               done == s->env.n_up_done && not_run == s->env.n_not_run && failing == s->env.n_health_failing;
}

size_t sup_label_width(const struct sup *s)
{
        size_t width = 6; /* "graced" */

        for (size_t i = 0; i < s->n; i++) {
                const struct worker *w = W(s, i);
                const struct hook_run *h[2] = { worker_pre_stop(w), worker_post_stop(w) };

                width = MAX(width, strlen(worker_name(w)));
                for (int k = 0; k < 2; k++)
                        if (h[k]->argv)
                                width = MAX(width, strlen(h[k]->label));
        }
        for (size_t i = 0; i < s->n_cleanup; i++)
                width = MAX(width, strlen(s->cleanup[i].label));
        return width;
}

size_t sup_stop_order(const struct sup *s, struct worker **out)
{
        size_t n = 0, total = 0;

        /* workers removed by a reload are no longer part of the story */
        for (size_t i = 0; i < s->n; i++)
                total += !worker_removed(W(s, i));
        for (size_t i = 0; i < s->n_stop_seq; i++)
                if (!worker_removed(s->stop_seq[i]))
                        out[n++] = s->stop_seq[i];
        /* never visited (no shutdown yet): by stop stage */
        for (size_t st = 0; n < total && st <= s->n; st++)
                for (size_t i = 0; i < s->n; i++)
                        if (!s->slot[i].in_stop_seq && !worker_removed(W(s, i)) && s->plan->stop_stage[i] == st)
                                out[n++] = W(s, i);
        return n;
}
