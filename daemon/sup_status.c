/* sup_status.c - what the supervisor says about itself in words: the
 * STATUS= line for systemd, the one-line summary of a shutdown and the
 * status lines of SIGUSR1. Reads the supervisor and its workers through
 * sup.h and worker.h only; no system calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "parse.h"
#include "sup.h"

static const struct worker *W(const struct sup *s, size_t i) { return sup_worker((struct sup *)s, i); }

static char *stopping_line(const struct sup *s)
{
        usec_t t = sup_now(s), end = sup_budget_deadline(s), left = end != USEC_INFINITY && end > t ? end - t : 0;
        char *r = xstrdup("stopping:"), b[32];
        struct worker *w[4];
        size_t n = sup_stopping(s, w, ELEMENTSOF(w));

        for (size_t i = 0; i < n; i++)
                str_appendf(&r, "%s %s", i ? "," : "", worker_name(w[i]));
        if (n == 0)
                str_appendf(&r, " %s", sup_cleanup_running(s) ? "cleanup" : "done");
        if (sup_forced(s))
                str_appendf(&r, " (forced)");
        else
                str_appendf(&r, ", %s left", dur(left / USEC_PER_SEC * USEC_PER_SEC, b));
        return r;
}

char *sup_status_line(const struct sup *s)
{
        unsigned running = 0, total = 0, failed = 0;
        const struct worker *restarting = NULL;

        if (sup_shutting_down(s))
                return stopping_line(s);
        /* counted as they change: no walk over every worker (only to name the
         * one that restarts) */
        for (enum worker_state st = WORKER_WAITING; st <= WORKER_FAILED; st++)
                total += sup_count_up(s, st);
        /* up: running, or a oneshot that has done its job */
        running = sup_count_up(s, WORKER_RUNNING) + sup_count_up_done(s);
        failed = sup_count_up(s, WORKER_FAILED);
        for (size_t i = 0; sup_count_up(s, WORKER_BACKOFF) && i < sup_n_workers(s) && !restarting; i++)
                if (worker_state(W(s, i)) == WORKER_BACKOFF && !worker_wants_down(W(s, i)))
                        restarting = W(s, i);
        if (restarting)
                return xasprintf("degraded: %s restarting (%u/%u)", worker_name(restarting), worker_starts(restarting),
                                 worker_conf(restarting)->start_limit_burst);
        if (failed)
                return xasprintf("degraded: %u/%u workers up, %u failed", running, total, failed);
        if (!sup_ready_notified(s))
                return xasprintf("starting: %u/%u workers ready", running, total);
        return xasprintf("running: %u/%u workers", running, total);
}

void sup_log_status(struct sup *s)
{
        usec_t t = sup_now(s);
        char b[32], e[EXIT_DESC_MAX];

        for (size_t i = 0; i < sup_n_workers(s); i++) {
                const struct worker *w = W(s, i);
                bool alive = worker_alive(w);
                const char *st = worker_status_text(w);

                log_notice(worker_name(w), "status", "%s, pid %d, up %s, %u restarts, last %s%s%s",
                           worker_state_name(worker_state(w)), alive ? (int)worker_pid(w) : 0,
                           alive ? dur((t - worker_started_at(w)) / USEC_PER_SEC * USEC_PER_SEC, b) : "-",
                           worker_restarts(w), worker_last_exit(w, e, sizeof e) ? e : "none", st ? ", status: " : "",
                           st ? st : "");
        }
}

/* What made a shutdown not clean, worker by worker. */
static void unclean_parts(const struct sup *s, char **r, bool *any)
{
        char b[32];

        for (size_t i = 0; i < sup_n_workers(s); i++) {
                const struct worker *w = W(s, i);
                const struct hook_run *h[2] = { worker_pre_stop(w), worker_post_stop(w) };

                if (worker_removed(w))
                        continue;
                if (worker_outcome(w) == OUTCOME_KILLED)
                        *any = str_appendf(r, "%s %s killed after %s", *any ? "," : "", worker_name(w),
                                           format_duration(worker_stop_duration(w), b, sizeof b));
                else if (worker_outcome(w) == OUTCOME_FAILED)
                        *any = str_appendf(r, "%s %s failed", *any ? "," : "", worker_name(w));
                for (int k = 0; k < 2; k++)
                        if (h[k]->outcome == OUTCOME_FAILED || h[k]->outcome == OUTCOME_TIMEOUT || h[k]->blocked)
                                *any = str_appendf(r, "%s %s %s %s", *any ? "," : "", worker_name(w), h[k]->what,
                                                   outcome_name(h[k]->outcome));
        }
        for (size_t i = 0; i < sup_n_cleanup(s); i++)
                if (sup_cleanup(s, i)->outcome != OUTCOME_OK)
                        *any = str_appendf(r, "%s cleanup %s %s", *any ? "," : "", sup_cleanup(s, i)->what,
                                           outcome_name(sup_cleanup(s, i)->outcome));
}

char *sup_summary(const struct sup *s)
{
        unsigned counts[OUTCOME_NOT_STARTED + 1] = { 0 };
        bool clean = sup_is_clean(s), any = false;
        usec_t took = sup_now(s) - sup_shutdown_began(s);
        char *r = xasprintf("shutdown %s in %.2fs:", clean ? "clean" : "NOT clean", (double)took / USEC_PER_SEC);

        for (size_t i = 0; i < sup_n_workers(s); i++)
                if (!worker_removed(W(s, i)))
                        counts[worker_outcome(W(s, i))]++;
        if (clean || sup_n_workers(s) == 0) {
                for (int o = OUTCOME_STOPPED; o <= OUTCOME_NOT_STARTED; o++)
                        if (counts[o])
                                any = str_appendf(&r, "%s %u %s", any ? "," : "", counts[o], outcome_name((enum outcome)o));
                if (!any)
                        str_appendf(&r, " no workers");
                return r;
        }
        if (sup_forced(s))
                any = str_appendf(&r, " forced (%s)", sup_reason(s) ? sup_reason(s) : "?");
        unclean_parts(s, &r, &any);
        if (!any)
                str_appendf(&r, " %s", sup_reason(s) ? sup_reason(s) : "");
        return r;
}
