/* sup_shutdown.c - what begins a shutdown besides a critical failure and
 * forcing (sup.c): the drain of shutdown_delay before a graceful shutdown
 * asked for from outside, a stop_on_exit worker's end, and the exit code
 * (exit_code_from). Policy only, like sup.c: no system calls. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "log.h"
#include "sup_int.h"

void sup_request_shutdown(struct sup *s, const char *reason)
{
        if (s->finished)
                return;
        if (s->env.shutting_down || s->shutdown_delay == 0) {
                sup_shutdown(s, reason, false);
                return;
        }
        /* /readyz and STATUS= say so at once; the workers keep running */
        sup_begin_shutdown(s, reason, false, true);
        sup_schedule(s);
}

void sup_drain_end(struct sup *s, bool forced)
{
        char b[32];

        if (!s->draining)
                return;
        s->draining = false;
        env_timer_set(&s->env, &s->drain, USEC_INFINITY);
        if (forced) {
                log_notice(NULL, "drain", "drain cut short: forcing");
                return;
        }
        log_notice(NULL, "drain", "drained for %s: stopping the workers in order", dur(s->shutdown_delay, b));
        sup_mark_all(s);
        sup_stop_all(s);
}

bool sup_draining(const struct sup *s) { return s->draining; }

void sup_on_ended(struct worker_env *env, struct worker *w)
{
        struct sup *s = container_of(env, struct sup, env);
        char *reason;

        if (!worker_conf(w)->stop_on_exit || s->env.shutting_down || s->finished)
                return;
        reason = xasprintf("worker %s exited", worker_name(w));
        if (s->exit_code_from && strcmp(s->exit_code_from, worker_name(w)) == 0)
                s->code_worker = w;
        s->by_stop_on_exit = true;
        log_notice(worker_name(w), "stop-on-exit", "ended, and stop_on_exit is set: shutting down");
        sup_shutdown(s, reason, false);
        free(reason);
}

int sup_exit_code(const struct sup *s)
{
        int st = 0;

        if (!sup_is_clean(s))
                return 1;
        if (!s->code_worker || !worker_has_exit(s->code_worker, &st))
                return 0;
        if (WIFEXITED(st))
                return WEXITSTATUS(st);
        if (WIFSIGNALED(st))
                return 128 + WTERMSIG(st);
        return 1;
}
