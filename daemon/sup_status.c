/* sup_status.c - what the supervisor says about itself in words: the
 * STATUS= line for systemd, the one-line summary of a shutdown and the
 * status lines of SIGUSR1, whether a shutdown was clean, and readiness
 * for the HTTP endpoint's /readyz. Reads the
 * supervisor (sup_int.h) and its workers (worker.h); changes nothing, makes
 * no system calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "parse.h"
#include "sup_int.h"

static char *stopping_line(const struct sup *s)
{
        usec_t t = env_now((struct worker_env *)&s->env), end = s->budget.node.when, left = end != USEC_INFINITY && end > t ? end - t : 0;
        /* a worker's end is not what anyone would guess: say so */
        char *r = s->by_stop_on_exit ? xasprintf("stopping (%s):", s->reason) : xstrdup("stopping:"), b[32];
        struct worker *w[4];
        size_t n = sup_stopping(s, w, ELEMENTSOF(w));

        for (size_t i = 0; i < n; i++)
                str_appendf(&r, "%s %s", i ? "," : "", worker_name(w[i]));
        if (n == 0)
                str_appendf(&r, " %s", s->cleanup_next < s->n_cleanup ? "cleanup" : "done");
        if (s->env.forced)
                str_appendf(&r, " (forced)");
        else
                str_appendf(&r, ", %s left", dur(left / USEC_PER_SEC * USEC_PER_SEC, b));
        return r;
}

/* "degraded: web health failing (2/3)", and how many more fail their
 * health check ("..., +2 more"): the first one in the plan's order. */
static char *health_line(const struct sup *s)
{
        unsigned n = s->env.n_health_failing;
        char more[32] = "";

        for (size_t i = 0; i < s->n; i++) {
                const struct worker *w = W(s, i);

                if (!worker_health_failing(w))
                        continue;
                if (n > 1)
                        snprintf(more, sizeof more, ", +%u more", n - 1);
                return xasprintf("degraded: %s health failing (%u/%u)%s", worker_name(w), worker_health_fails(w),
                                 worker_health_max(w), more);
        }
        return xstrdup("degraded: health failing"); /* (counts drifted: never) */
}

char *sup_status_line(const struct sup *s)
{
        unsigned running = 0, total = 0, failed = 0;
        const struct worker *restarting = NULL;
        char b[32];

        if (s->draining)
                return xasprintf("draining (%s)", dur(s->shutdown_delay, b));
        if (s->env.shutting_down)
                return stopping_line(s);
        /* counted as they change: no walk over every worker (only to name the
         * one that restarts) */
        for (enum worker_state st = WORKER_WAITING; st <= WORKER_FAILED; st++)
                total += s->env.n_up[st];
        /* up: running, or a oneshot that has done its job */
        running = s->env.n_up[WORKER_RUNNING] + s->env.n_up_done;
        failed = s->env.n_up[WORKER_FAILED];
        for (size_t i = 0; s->env.n_up[WORKER_BACKOFF] && i < s->n && !restarting; i++)
                if (worker_state(W(s, i)) == WORKER_BACKOFF && !worker_wants_down(W(s, i)))
                        restarting = W(s, i);
        if (restarting)
                return xasprintf("degraded: %s restarting (%u/%u)", worker_name(restarting), worker_starts(restarting),
                                 worker_conf(restarting)->start_limit_burst);
        if (s->env.n_health_failing)
                return health_line(s);
        if (failed)
                return xasprintf("degraded: %u/%u workers up, %u failed", running, total, failed);
        if (!s->ready_notified)
                return xasprintf("starting: %u/%u workers ready", running, total);
        return xasprintf("running: %u/%u workers", running, total);
}

void sup_log_status(struct sup *s)
{
        usec_t t = env_now((struct worker_env *)&s->env);
        char b[32], e[EXIT_DESC_MAX], h[32];

        for (size_t i = 0; i < s->n; i++) {
                const struct worker *w = W(s, i);
                bool alive = worker_alive(w);
                const char *st = worker_status_text(w), *health = worker_health(w, h, sizeof h);
                bool probed = worker_conf(w)->health.kind != PROBE_NONE;

                log_notice(worker_name(w), "status", "%s, pid %d, up %s, %u restarts, last %s%s%s%s%s",
                           worker_state_name(worker_state(w)), alive ? (int)worker_pid(w) : 0,
                           alive ? dur((t - worker_started_at(w)) / USEC_PER_SEC * USEC_PER_SEC, b) : "-",
                           worker_restarts(w), worker_last_exit(w, e, sizeof e) ? e : "none", probed ? ", health " : "",
                           probed ? health : "", st ? ", status: " : "", st ? st : "");
        }
}

/* What made a shutdown not clean, worker by worker. */
static void unclean_parts(const struct sup *s, char **r, bool *any)
{
        char b[32];

        for (size_t i = 0; i < s->n; i++) {
                const struct worker *w = W(s, i);
                const struct hook_run *h[2] = { worker_pre_stop(w), worker_post_stop(w) };

                if (worker_removed(w))
                        continue;
                if (w == s->code_worker)
                        ; /* its exit status is graced's: no fault of the shutdown */
                else if (worker_outcome(w) == OUTCOME_KILLED)
                        *any = str_appendf(r, "%s %s killed after %s", *any ? "," : "", worker_name(w),
                                           format_duration(worker_stop_duration(w), b, sizeof b));
                else if (worker_outcome(w) == OUTCOME_FAILED)
                        *any = str_appendf(r, "%s %s failed", *any ? "," : "", worker_name(w));
                for (int k = 0; k < 2; k++)
                        if (h[k]->outcome == OUTCOME_FAILED || h[k]->outcome == OUTCOME_TIMEOUT || h[k]->blocked)
                                *any = str_appendf(r, "%s %s %s %s", *any ? "," : "", worker_name(w), h[k]->what,
                                                   outcome_name(h[k]->outcome));
        }
        for (size_t i = 0; i < s->n_cleanup; i++)
                if (s->cleanup[i].outcome != OUTCOME_OK)
                        *any = str_appendf(r, "%s cleanup %s %s", *any ? "," : "", s->cleanup[i].what,
                                           outcome_name(s->cleanup[i].outcome));
}

char *sup_summary(const struct sup *s)
{
        unsigned counts[OUTCOME_NOT_STARTED + 1] = { 0 };
        bool clean = sup_is_clean(s), any = false;
        usec_t took = env_now((struct worker_env *)&s->env) - s->shutdown_began;
        char *r = xasprintf("shutdown %s in %.2fs:", clean ? "clean" : "NOT clean", (double)took / USEC_PER_SEC);

        for (size_t i = 0; i < s->n; i++)
                if (!worker_removed(W(s, i)))
                        counts[worker_outcome(W(s, i))]++;
        if (clean || s->n == 0) {
                for (int o = OUTCOME_STOPPED; o <= OUTCOME_NOT_STARTED; o++)
                        if (counts[o])
                                any = str_appendf(&r, "%s %u %s", any ? "," : "", counts[o], outcome_name((enum outcome)o));
                if (!any)
                        str_appendf(&r, " no workers");
                if (s->code_worker)
                        str_appendf(&r, "; exit status %d from %s", sup_exit_code(s), worker_name(s->code_worker));
                return r;
        }
        if (s->env.forced)
                any = str_appendf(&r, " forced (%s)", s->reason ? s->reason : "?");
        unclean_parts(s, &r, &any);
        if (!any)
                str_appendf(&r, " %s", s->reason ? s->reason : "");
        return r;
}

bool sup_is_clean(const struct sup *s)
{
        if (s->env.forced || s->critical_failed)
                return false;
        for (size_t i = 0; i < s->n; i++) {
                const struct worker *w = W(s, i);
                enum outcome o = worker_outcome(w);
                const struct hook_run *pre = worker_pre_stop(w), *post = worker_post_stop(w);

                if (worker_removed(w))
                        continue;
                if (o != OUTCOME_STOPPED && o != OUTCOME_EXITED && o != OUTCOME_NOT_STARTED && w != s->code_worker)
                        return false;
                if (pre->outcome == OUTCOME_FAILED || pre->outcome == OUTCOME_TIMEOUT || pre->blocked ||
                    post->outcome == OUTCOME_FAILED || post->outcome == OUTCOME_TIMEOUT || post->blocked)
                        return false;
        }
        for (size_t i = 0; i < s->n_cleanup; i++)
                if (s->cleanup[i].outcome != OUTCOME_OK)
                        return false;
        return true;
}

size_t sup_stopping(const struct sup *s, struct worker **out, size_t max)
{
        size_t want = MIN(max, (size_t)s->env.n_state[WORKER_STOPPING]), n = 0;

        /* the ones stopping began last, mostly: stop_seq from its end */
        for (size_t k = s->n_stop_seq; k-- > 0 && n < want;)
                if (worker_state(s->stop_seq[k]) == WORKER_STOPPING)
                        out[n++] = s->stop_seq[k];
        /* restarts begun before the shutdown are not in stop_seq */
        for (size_t i = 0; i < s->n && n < want; i++)
                if (worker_state(W(s, i)) == WORKER_STOPPING && !s->slot[i].in_stop_seq)
                        out[n++] = W(s, i);
        /* in the order they began */
        for (size_t i = 0; i < n / 2; i++) {
                struct worker *t = out[i];
                out[i] = out[n - 1 - i];
                out[n - 1 - i] = t;
        }
        return n;
}

bool sup_readiness(const struct sup *s, char *buf, size_t len)
{
        unsigned ready, total = 0;

        if (s->env.shutting_down) {
                snprintf(buf, len, s->draining ? "shutting down (draining)" : "shutting down");
                return false;
        }
        if (s->ready_notified)
                return true;
        /* the counts of sup_status_line(): no walk over the workers */
        for (enum worker_state st = WORKER_WAITING; st <= WORKER_FAILED; st++)
                total += s->env.n_up[st];
        ready = s->env.n_up[WORKER_RUNNING] + s->env.n_up_done;
        snprintf(buf, len, "starting: %u of %u workers ready", ready, total);
        return false;
}
