/* sup.c - the supervisor's policy: worker states, start/stop sequencing,
 * restarts with backoff and start limits, the shutdown stages (ordered
 * stop, cleanup, forced phase) and the facts of the report.
 * It makes no system calls: actions go through sup_ops, time comes from
 * ops->now, so it can be driven by tests with a fake clock. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "log.h"
#include "parse.h"
#include "sup.h"

struct sup {
        const struct sup_ops *ops;
        void *ctx;
        char *name;
        usec_t shutdown_timeout, signal_debounce;
        unsigned force_after, max_parallel;

        struct sw *w;
        size_t n;
        size_t **deps, *n_deps, **rdeps, *n_rdeps;
        size_t *start_order;
        size_t *stop_stage;

        bool started, ready_notified, dev_mode;
        bool shutting_down, forced, finished, critical_failed;
        char *reason;
        usec_t shutdown_began, budget_deadline;
        unsigned accepted_signals;
        usec_t last_signal;

        struct hook_run *cleanup;
        size_t n_cleanup, cleanup_next;

        size_t *stop_seq;
        size_t n_stop_seq;
        bool *in_stop_seq;
        bool *restart_pending;

        char *last_status;
        bool in_schedule, reschedule;
        bool batched, dirty;
        /* per scheduling pass: every dependent (transitively) is fully down /
         * every dependent that stops or restarts is down */
        bool *down_above, *rdown_above, *chain_ready;
        size_t *failed_below;
};

static void schedule(struct sup *s);

const char *worker_state_name(enum worker_state st)
{
        static const char *const n[] = { "waiting", "starting", "running", "backoff",
                                         "stopping", "down", "exited", "failed" };
        return st <= WORKER_FAILED ? n[st] : "?";
}

const char *outcome_name(enum outcome o)
{
        static const char *const n[] = { "none", "ok", "failed", "timeout", "skipped",
                                         "stopped", "killed", "exited", "not-started" };
        return o <= OUTCOME_NOT_STARTED ? n[o] : "?";
}

static usec_t now(struct sup *s) { return s->ops->now(s->ctx); }

static void notify(struct sup *s, const char *msg)
{
        if (s->ops->notify)
                s->ops->notify(s->ctx, msg);
}

/* Durations in logs: exact below 10ms, to the millisecond above. */
static const char *dur(usec_t u, char *buf)
{
        if (u != USEC_INFINITY && u >= 10 * USEC_PER_MSEC)
                u = (u + USEC_PER_MSEC / 2) / USEC_PER_MSEC * USEC_PER_MSEC;
        return format_duration(u, buf, 32);
}

static usec_t min_u(usec_t a, usec_t b) { return a < b ? a : b; }

/* ---- construction ---------------------------------------------------- */

static void hook_init(struct hook_run *h, const char *owner, const char *what, char **argv, usec_t timeout)
{
        memset(h, 0, sizeof *h);
        h->label = xasprintf("%s/%s", owner, what);
        h->what = h->label + strlen(owner) + 1;
        h->argv = argv;
        h->timeout = timeout;
        h->pidfd = -1;
        h->exit_code = -1;
        h->deadline = USEC_INFINITY;
}

static size_t *copy_idx(const size_t *v, size_t n)
{
        size_t *r = xcalloc(n ? n : 1, sizeof *r);

        if (n)
                memcpy(r, v, n * sizeof *r);
        return r;
}

struct sup *sup_new(const struct conf *c, const struct plan *p, const struct sup_ops *ops, void *ctx)
{
        struct sup *s = xcalloc(1, sizeof *s);

        s->ops = ops;
        s->ctx = ctx;
        s->name = xstrdup(c->name);
        s->shutdown_timeout = c->shutdown_timeout;
        s->signal_debounce = c->signal_debounce;
        s->force_after = c->force_after;
        s->max_parallel = c->max_parallel ? c->max_parallel : 1;
        s->n = c->n_workers;
        s->w = xcalloc(s->n, sizeof *s->w);
        s->deps = xcalloc(s->n, sizeof *s->deps);
        s->rdeps = xcalloc(s->n, sizeof *s->rdeps);
        s->n_deps = copy_idx(p->n_deps, s->n);
        s->n_rdeps = copy_idx(p->n_rdeps, s->n);
        s->start_order = copy_idx(p->start_order, s->n);
        s->stop_stage = copy_idx(p->stop_stage, s->n);
        s->stop_seq = xcalloc(s->n, sizeof *s->stop_seq);
        s->in_stop_seq = xcalloc(s->n, sizeof(bool));
        s->restart_pending = xcalloc(s->n, sizeof(bool));
        s->down_above = xcalloc(s->n, sizeof(bool));
        s->rdown_above = xcalloc(s->n, sizeof(bool));
        s->chain_ready = xcalloc(s->n, sizeof(bool));
        s->failed_below = xcalloc(s->n, sizeof(size_t));
        for (size_t i = 0; i < s->n; i++) {
                struct sw *w = &s->w[i];

                conf_worker_copy(&w->c, &c->workers[i]);
                s->deps[i] = copy_idx(p->deps[i], p->n_deps[i]);
                s->rdeps[i] = copy_idx(p->rdeps[i], p->n_rdeps[i]);
                w->idx = i;
                w->state = WORKER_WAITING;
                w->pidfd = -1;
                w->exit_status = -1;
                w->deadline = USEC_INFINITY;
                w->watchdog_deadline = USEC_INFINITY;
                w->next_delay = w->c.restart_delay;
                w->start_times = xcalloc(w->c.start_limit_burst ? w->c.start_limit_burst : 1, sizeof(usec_t));
                w->outcome = OUTCOME_NOT_STARTED;
                hook_init(&w->pre, w->c.name, "pre_stop", w->c.pre_stop, w->c.pre_stop_timeout);
                hook_init(&w->post, w->c.name, "post_stop", w->c.post_stop, w->c.post_stop_timeout);
        }
        s->n_cleanup = c->n_cleanup;
        s->cleanup = xcalloc(s->n_cleanup ? s->n_cleanup : 1, sizeof *s->cleanup);
        for (size_t i = 0; i < s->n_cleanup; i++) {
                hook_init(&s->cleanup[i], "cleanup", c->cleanup[i].name, strv_dup(c->cleanup[i].argv),
                          c->cleanup[i].timeout);
                s->cleanup[i].shielded = c->cleanup[i].shielded;
        }
        return s;
}

struct sup *sup_free(struct sup *s)
{
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n; i++) {
                conf_worker_done(&s->w[i].c);
                free(s->w[i].start_times);
                free(s->w[i].status_text);
                free(s->w[i].pre.label);
                free(s->w[i].post.label);
                free(s->deps[i]);
                free(s->rdeps[i]);
        }
        for (size_t i = 0; i < s->n_cleanup; i++) {
                free(s->cleanup[i].label);
                strv_free(s->cleanup[i].argv);
        }
        free(s->cleanup);
        free(s->w);
        free(s->deps);
        free(s->rdeps);
        free(s->n_deps);
        free(s->n_rdeps);
        free(s->start_order);
        free(s->stop_stage);
        free(s->stop_seq);
        free(s->in_stop_seq);
        free(s->restart_pending);
        free(s->down_above);
        free(s->rdown_above);
        free(s->chain_ready);
        free(s->failed_below);
        free(s->name);
        free(s->reason);
        free(s->last_status);
        free(s);
        return NULL;
}

void sup_set_dev_mode(struct sup *s, bool on) { s->dev_mode = on; }

/* ---- predicates ------------------------------------------------------- */

static bool hook_busy(const struct hook_run *h) { return h->pid != 0; }

/* Ready for its dependents to start. */
static bool is_ready(const struct sw *w)
{
        if (w->reload_restart)
                return false;
        if (w->c.type == WORKER_TYPE_ONESHOT)
                return w->state == WORKER_EXITED;
        return w->state == WORKER_RUNNING || w->state == WORKER_EXITED;
}

/* Fully down: no process, no hook, no open output, not stopping. */
static bool is_quiet(const struct sw *w)
{
        switch (w->state) {
        case WORKER_STARTING:
        case WORKER_RUNNING:
        case WORKER_STOPPING:
                return false;
        default:
                /* output still open (a run that ended by itself): not yet down */
                return !w->alive && w->open_streams == 0 && !hook_busy(&w->pre) && !hook_busy(&w->post);
        }
}

/* A dependency, direct or not, failed for good (workers in between may
 * well be running): *which names it. Uses the arrays of compute_chains(). */
static bool dep_failed(struct sup *s, size_t i, const char **which)
{
        if (s->failed_below[i] == SIZE_MAX)
                return false;
        *which = s->w[s->failed_below[i]].c.name;
        return true;
}

/* Per worker: every dependency, direct or not, is ready (so a worker
 * restarted by a reload holds back what stands on it, even above an
 * unchanged one); and which of them, if any, failed for good. O(workers +
 * edges), in start order: dependencies come first. */
static void compute_chains(struct sup *s)
{
        for (size_t k = 0; k < s->n; k++) {
                size_t i = s->start_order[k];
                bool ok = true;
                size_t failed = SIZE_MAX;

                for (size_t d = 0; d < s->n_deps[i]; d++) {
                        size_t j = s->deps[i][d];

                        ok = ok && is_ready(&s->w[j]) && s->chain_ready[j];
                        if (failed == SIZE_MAX)
                                failed = s->w[j].state == WORKER_FAILED ? j : s->failed_below[j];
                }
                s->chain_ready[i] = ok;
                s->failed_below[i] = failed;
        }
}

static unsigned count_state(struct sup *s, enum worker_state st)
{
        unsigned n = 0;

        for (size_t i = 0; i < s->n; i++)
                n += s->w[i].state == st;
        return n;
}

static bool exit_ok(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

/* How w's last process ended (buf >= EXIT_DESC_MAX). */
static char *last_exit(const struct sw *w, char *buf)
{
        return format_exit(w->exit_status, w->exit_stop_signal, buf, EXIT_DESC_MAX);
}

/* ---- starting --------------------------------------------------------- */

static void fail_for_good(struct sup *s, struct sw *w, const char *why);
static void begin_stop(struct sup *s, struct sw *w, enum stop_reason why);
static void run_ended(struct sup *s, struct sw *w);

static bool start_limit_hit(struct sw *w, usec_t t)
{
        unsigned burst = w->c.start_limit_burst;

        if (burst == 0 || w->n_start_times < burst)
                return false;
        /* the ring's oldest entry: the burst-th start before this one */
        return t - w->start_times[w->starts % burst] < w->c.start_limit_interval;
}

static void became_ready(struct sup *s, struct sw *w)
{
        w->state = WORKER_RUNNING;
        w->deadline = USEC_INFINITY;
        w->ready_sent = true;
        if (w->c.watchdog && !w->want_down)
                w->watchdog_deadline = now(s) + w->c.watchdog;
        log_info(w->c.name, "ready", "ready");
}

static void start_worker(struct sup *s, struct sw *w)
{
        usec_t t = now(s);
        char *cmd = strv_join(w->c.argv);
        int r;

        if (w->c.start_limit_burst) {
                w->start_times[w->starts % w->c.start_limit_burst] = t;
                if (w->n_start_times < w->c.start_limit_burst)
                        w->n_start_times++;
        }
        w->starts++;
        w->blocked_logged = false;
        w->leftovers_signalled = false;
        w->start_failed = false;
        w->exec_known = false;
        w->exec_err = 0;
        w->notified_ready = false;
        /* has_exit/exit_status stay: the last exit is shown until the next one */
        w->started_at = t;
        free(w->status_text);
        w->status_text = NULL;
        log_info(w->c.name, "starting", "starting: %s", cmd);
        free(cmd);
        r = s->ops->spawn_worker(s->ctx, w);
        if (r < 0) {
                log_error(w->c.name, "start-failed", "cannot start: %s", strerror(-r));
                w->exec_known = true;
                w->exec_err = -r;
                w->has_exit = true;
                w->exit_status = 127 << 8;
                w->exit_stop_signal = 0;
                w->state = WORKER_STARTING;
                run_ended(s, w);
                return;
        }
        w->alive = true;
        w->state = WORKER_STARTING;
        w->outcome = OUTCOME_NONE;
        w->deadline = w->c.ready_timeout ? t + w->c.ready_timeout : USEC_INFINITY;
        log_info(w->c.name, "started", "started (pid %d)", (int)w->pid);
}

static void schedule_restart(struct sup *s, struct sw *w)
{
        usec_t t = now(s);
        char b1[32], b2[32];

        if (t - w->started_at >= RESTART_RESET_AFTER)
                w->next_delay = w->c.restart_delay;
        if (start_limit_hit(w, t + w->next_delay)) {
                char *why = xasprintf("%u starts within %s", w->c.start_limit_burst,
                                      dur(w->c.start_limit_interval, b1));
                fail_for_good(s, w, why);
                free(why);
                return;
        }
        w->state = WORKER_BACKOFF;
        w->deadline = t + w->next_delay;
        log_notice(w->c.name, "restarting", "restarting in %s (start %u of at most %u within %s)",
                   dur(w->next_delay, b1), w->starts + 1, w->c.start_limit_burst, dur(w->c.start_limit_interval, b2));
        w->next_delay = min_u(w->next_delay > 0 ? w->next_delay * 2 : 1, w->c.restart_delay_max);
}

static void critical_failure(struct sup *s, struct sw *w)
{
        char *reason = xasprintf("critical worker %s failed", w->c.name);

        s->critical_failed = true;
        log_error(w->c.name, "critical", "critical worker failed: shutting down");
        sup_shutdown(s, reason, false);
        free(reason);
}

static void fail_for_good(struct sup *s, struct sw *w, const char *why)
{
        w->state = WORKER_FAILED;
        w->outcome = OUTCOME_FAILED;
        w->deadline = USEC_INFINITY;
        w->watchdog_deadline = USEC_INFINITY;
        log_error(w->c.name, "failed", "failed for good: %s", why);
        if (w->c.critical && !s->shutting_down)
                critical_failure(s, w);
}

/* A run ended by itself (not during a stop): decide what comes next. */
static void run_ended(struct sup *s, struct sw *w)
{
        bool failure = !w->exec_known || w->exec_err != 0 || !exit_ok(w->exit_status) || w->start_failed;
        bool restart;
        char buf[EXIT_DESC_MAX];

        w->deadline = USEC_INFINITY;
        w->watchdog_deadline = USEC_INFINITY;
        /* a failed start was stopped by us: sup_on_exit() logged its exit */
        if (w->exec_err == 0 && !w->start_failed)
                log_msg(failure ? LOG_WARNING : LOG_INFO, w->c.name, "exited", "%s", last_exit(w, buf));
        if (w->c.type == WORKER_TYPE_ONESHOT && !failure) {
                w->state = WORKER_EXITED;
                w->outcome = OUTCOME_EXITED;
                w->ready_sent = true;
                log_info(w->c.name, "ready", "done");
                return;
        }
        if (s->shutting_down || w->want_down) {
                w->state = failure ? WORKER_FAILED : WORKER_EXITED;
                w->outcome = failure ? OUTCOME_FAILED : OUTCOME_EXITED;
                return;
        }
        restart = w->c.restart == RESTART_ALWAYS || (w->c.restart == RESTART_ON_FAILURE && failure);
        if (!restart) {
                if (failure) {
                        fail_for_good(s, w,
                                      w->exec_err       ? "could not start"
                                      : w->start_failed ? "not ready in time, or its watchdog expired"
                                                        : last_exit(w, buf));
                } else {
                        w->state = WORKER_EXITED;
                        w->outcome = OUTCOME_EXITED;
                }
                return;
        }
        w->outcome = failure ? OUTCOME_FAILED : OUTCOME_EXITED;
        schedule_restart(s, w);
}

void sup_on_exec_status(struct sup *s, struct sw *w, int err, const char *stage)
{
        if (w->exec_known)
                return;
        w->exec_known = true;
        w->exec_err = err;
        if (err) {
                if (strcmp(stage, "exec") == 0)
                        log_error(w->c.name, "exec-failed", "exec %s: %s", w->c.argv[0], strerror(err));
                else
                        log_error(w->c.name, "exec-failed", "%s before exec %s: %s", stage, w->c.argv[0],
                                  strerror(err));
        } else if (w->state == WORKER_STARTING && w->c.type == WORKER_TYPE_SIMPLE &&
                   (w->c.ready == READY_EXEC || w->notified_ready)) {
                became_ready(s, w);
        }
        schedule(s);
}

/* ---- stopping --------------------------------------------------------- */

static void extend_timeout(struct sup *s, usec_t until)
{
        char msg[64];
        usec_t t = now(s);

        if (!s->shutting_down || until == USEC_INFINITY || until <= t)
                return;
        /* a margin for the work between stages */
        snprintf(msg, sizeof msg, "EXTEND_TIMEOUT_USEC=%llu", (unsigned long long)(until - t + 5 * USEC_PER_SEC));
        notify(s, msg);
}

static bool spawn_hook(struct sup *s, struct hook_run *h, struct sw *w)
{
        char *cmd;
        int r;

        if (hook_busy(h)) {
                /* callers wait for a previous run (stop_hook_due, run_cleanup):
                 * never two runs of one hook, never an overwritten pid */
                log_error(w ? w->c.name : NULL, "hook", "%s: previous run (pid %d) still running: not started again",
                          w ? h->what : h->label, (int)h->pid);
                h->outcome = OUTCOME_FAILED;
                return false;
        }
        cmd = strv_join(h->argv);
        log_info(w ? w->c.name : NULL, "hook", "%s started: %s", w ? h->what : h->label, cmd);
        free(cmd);
        h->started = now(s);
        h->exit_code = -1;
        h->exit_signal = 0;
        r = s->ops->spawn_hook(s->ctx, h, w);
        if (r < 0) {
                h->outcome = OUTCOME_FAILED;
                h->ended = h->started;
                log_error(w ? w->c.name : NULL, "hook", "%s: cannot start: %s", w ? h->what : h->label, strerror(-r));
                return false;
        }
        h->running = true;
        h->deadline = h->started + h->timeout;
        extend_timeout(s, h->deadline);
        return true;
}

static void kill_hook(struct sup *s, struct hook_run *h, enum outcome o)
{
        if (!hook_busy(h))
                return;
        (void)s->ops->signal(s->ctx, h->pid, h->pidfd, SIGKILL, true);
        if (h->outcome == OUTCOME_NONE)
                h->outcome = h->stale ? OUTCOME_SKIPPED : o; /* this stop's hook never ran */
        h->deadline = USEC_INFINITY;
}

/* Hook h (pre_stop, post_stop) is due in w's stop: it runs, unless its
 * previous run, killed at its timeout in an earlier stop, is not reaped yet
 * (a process in uninterruptible sleep, on a hung NFS mount say, does not
 * die at once). A hook never runs twice at once: the stop waits for that
 * run up to h's timeout and runs h, in what is left of that time, once it
 * ends; if it does not, hook_deadline() skips h. True while the stop waits,
 * for h or for its previous run. */
static bool stop_hook_due(struct sup *s, struct sw *w, struct hook_run *h)
{
        usec_t bound;
        char b[32];

        if (hook_busy(h) && !h->stale)
                return true;
        if (s->forced) {
                h->outcome = OUTCOME_SKIPPED;
                h->deadline = USEC_INFINITY;
                log_info(w->c.name, "hook", "%s skipped (forced)", h->what);
                return false;
        }
        if (hook_busy(h)) {
                if (h->deadline == USEC_INFINITY) {
                        h->deadline = now(s) + h->timeout;
                        log_notice(w->c.name, "hook", "%s: previous run (pid %d) still running; waiting for it up to %s",
                                   h->what, (int)h->pid, dur(h->timeout, b));
                        extend_timeout(s, h->deadline);
                }
                w->deadline = h->deadline;
                return true;
        }
        /* set while a previous run was waited for: the hook's time is what is left */
        bound = h->deadline;
        h->deadline = USEC_INFINITY;
        if (!spawn_hook(s, h, w))
                return false;
        h->deadline = min_u(h->deadline, bound);
        w->deadline = h->deadline;
        return true;
}

/* The deadline of w's stop hook h: kill it, or stop waiting for its previous run. */
static void hook_deadline(struct sup *s, struct sw *w, struct hook_run *h)
{
        char b[32];

        if (!hook_busy(h) || h->outcome != OUTCOME_NONE)
                return;
        if (h->stale) {
                log_warning(w->c.name, "hook", "%s: previous run (pid %d) still running; skipped", h->what, (int)h->pid);
                h->outcome = OUTCOME_SKIPPED;
                h->blocked = true;
                h->deadline = USEC_INFINITY;
                return;
        }
        log_warning(w->c.name, "hook", "%s timed out after %s", h->what, dur(h->deadline - h->started, b));
        kill_hook(s, h, OUTCOME_TIMEOUT);
}

static void send_stop_signal(struct sup *s, struct sw *w)
{
        char b[32];
        int r;

        w->phase = PHASE_SIGNALLED;
        w->stop_signal_sent = w->c.stop_signal;
        w->kill_at = w->deadline = now(s) + w->c.stop_timeout;
        w->recheck_delay = 0;
        log_info(w->c.name, "stopping", "stopping (%s, timeout %s)", signal_name(w->c.stop_signal),
                 dur(w->c.stop_timeout, b));
        extend_timeout(s, w->deadline);
        r = s->ops->signal(s->ctx, w->pid, w->pidfd, w->c.stop_signal, w->c.kill_mode == KILL_GROUP);
        if (r < 0 && r != -ESRCH)
                log_warning(w->c.name, "stopping", "sending %s: %s", signal_name(w->c.stop_signal), strerror(-r));
        /* a stopped (SIGSTOP) process would never see the signal; the pidfd
         * was just checked and the pid cannot be recycled before we reap it */
        if (r == 0 && w->c.stop_signal != SIGCONT && w->c.stop_signal != SIGKILL)
                (void)s->ops->signal(s->ctx, w->pid, -1, SIGCONT, w->c.kill_mode == KILL_GROUP);
}

static bool group_has_members(struct sup *s, struct sw *w)
{
        return w->c.kill_mode == KILL_GROUP && w->pid > 0 && s->ops->group_alive &&
               s->ops->group_alive(s->ctx, w->pid);
}

static void finish_stop(struct sup *s, struct sw *w)
{
        char b[32];

        w->stop_ended = now(s);
        w->phase = PHASE_NONE;
        w->deadline = USEC_INFINITY;
        switch (w->stop_reason) {
        case STOP_FAILED_START:
                /* not ready in time or watchdog missed: a failure, however it exited */
                w->state = WORKER_STARTING;
                w->stop_reason = STOP_NONE;
                w->start_failed = true;
                run_ended(s, w);
                return;
        case STOP_RESTART:
                if (s->shutting_down)
                        break; /* a shutdown came meanwhile: it is simply down */
                w->stop_reason = STOP_NONE;
                w->reload_restart = false;
                w->state = WORKER_WAITING;
                w->outcome = OUTCOME_NONE;
                log_info(w->c.name, "stopped", "stopped for a restart");
                return;
        default:
                break;
        }
        if (!w->want_down && !s->shutting_down) {
                /* started again (gracectl start/restart) while it was stopping */
                w->state = WORKER_WAITING;
                w->outcome = OUTCOME_NONE;
                log_info(w->c.name, "stopped", "stopped; starting again as requested");
                return;
        }
        w->state = WORKER_DOWN;
        log_info(w->c.name, "stopped", "stopped (%s in %s)", outcome_name(w->outcome),
                 dur(w->stop_ended - w->stop_began, b));
}

/* Moves a stopping worker through its phases as far as it can go now. */
static void advance_stop(struct sup *s, struct sw *w)
{
        char b[32];

        for (;;) {
                switch (w->phase) {
                case PHASE_PRE_STOP:
                        if (w->pre.argv && w->pre.outcome == OUTCOME_NONE && stop_hook_due(s, w, &w->pre))
                                return;
                        if (w->alive && !s->forced) {
                                send_stop_signal(s, w);
                                return;
                        }
                        w->phase = w->alive ? PHASE_KILLED : PHASE_DRAIN;
                        continue;
                case PHASE_SIGNALLED:
                case PHASE_KILLED:
                        if (w->alive)
                                return;
                        if (w->phase == PHASE_SIGNALLED && group_has_members(s, w)) {
                                /* the rest of the group gets SIGKILL at kill_at; nothing
                                 * tells us when it leaves earlier, so look again with a
                                 * backoff (only while such a stop is pending) */
                                w->recheck_delay = w->recheck_delay ? min_u(w->recheck_delay * 2, USEC_PER_SEC)
                                                                    : 10 * USEC_PER_MSEC;
                                w->deadline = min_u(w->kill_at, now(s) + w->recheck_delay);
                                return;
                        }
                        w->phase = PHASE_DRAIN;
                        w->deadline = now(s) + w->c.stop_timeout;
                        continue;
                case PHASE_DRAIN:
                        if (w->open_streams > 0)
                                return;
                        w->deadline = USEC_INFINITY;
                        w->phase = PHASE_POST_STOP;
                        continue;
                case PHASE_POST_STOP:
                        if (w->post.argv && w->post.outcome == OUTCOME_NONE && stop_hook_due(s, w, &w->post))
                                return;
                        if (hook_busy(&w->post) && !w->post.stale)
                                return; /* killed: wait for the reap */
                        finish_stop(s, w);
                        return;
                case PHASE_NONE:
                        (void)b;
                        return;
                }
        }
}

static void record_stop_seq(struct sup *s, struct sw *w)
{
        if (!s->in_stop_seq[w->idx]) {
                s->in_stop_seq[w->idx] = true;
                s->stop_seq[s->n_stop_seq++] = w->idx;
        }
}

static void begin_stop(struct sup *s, struct sw *w, enum stop_reason why)
{
        w->stop_reason = why;
        w->state = WORKER_STOPPING;
        w->stop_began = now(s);
        w->stop_signal_sent = 0;
        w->outcome = OUTCOME_STOPPED;
        w->watchdog_deadline = USEC_INFINITY;
        if (why == STOP_SHUTDOWN || why == STOP_MANUAL)
                record_stop_seq(s, w);
        /* not stopping before, so a hook still running is a run of an earlier stop */
        w->pre.stale = hook_busy(&w->pre);
        w->post.stale = hook_busy(&w->post);
        w->pre.outcome = w->post.outcome = OUTCOME_NONE;
        w->pre.blocked = w->post.blocked = false;
        w->phase = PHASE_PRE_STOP;
        advance_stop(s, w);
}

/* A worker with no process reaches the down state directly; its hooks
 * were not due. */
static void settle_down(struct sup *s, struct sw *w)
{
        if (s->shutting_down)
                record_stop_seq(s, w);
        w->deadline = USEC_INFINITY;
        if (w->state == WORKER_WAITING && w->outcome == OUTCOME_NONE)
                w->outcome = OUTCOME_NOT_STARTED;
        else if (w->state == WORKER_BACKOFF && w->outcome != OUTCOME_EXITED)
                w->outcome = OUTCOME_FAILED; /* waiting to retry a failure */
        if (w->state == WORKER_WAITING || w->state == WORKER_BACKOFF)
                w->state = WORKER_DOWN;
        if (w->pre.argv && w->pre.outcome == OUTCOME_NONE)
                w->pre.outcome = OUTCOME_SKIPPED;
        if (w->post.argv && w->post.outcome == OUTCOME_NONE)
                w->post.outcome = OUTCOME_SKIPPED;
}

/* ---- exits ------------------------------------------------------------ */

static struct hook_run *find_hook(struct sup *s, pid_t pid, struct sw **owner)
{
        for (size_t i = 0; i < s->n; i++) {
                if (s->w[i].pre.pid == pid) {
                        *owner = &s->w[i];
                        return &s->w[i].pre;
                }
                if (s->w[i].post.pid == pid) {
                        *owner = &s->w[i];
                        return &s->w[i].post;
                }
        }
        for (size_t i = 0; i < s->n_cleanup; i++)
                if (s->cleanup[i].pid == pid) {
                        *owner = NULL;
                        return &s->cleanup[i];
                }
        return NULL;
}

struct sw *sup_find_pid(struct sup *s, pid_t pid)
{
        for (size_t i = 0; i < s->n; i++)
                if (s->w[i].alive && s->w[i].pid == pid)
                        return &s->w[i];
        return NULL;
}

static void hook_ended(struct sup *s, struct hook_run *h, struct sw *owner, int status)
{
        char b[32], e[EXIT_DESC_MAX];
        pid_t pid = h->pid;

        s->ops->release(s->ctx, h->pid, h->pidfd);
        h->pid = 0;
        h->pidfd = -1;
        h->running = false;
        if (h->stale) {
                /* a run of an earlier stop, whose record is written: the current
                 * record is this stop's (its deadline too, if it waits) */
                h->stale = false;
                log_notice(owner ? owner->c.name : NULL, "hook", "%s: previous run (pid %d) ended at last (%s)",
                           owner ? h->what : h->label, (int)pid, format_exit(status, 0, e, sizeof e));
                return;
        }
        h->ended = now(s);
        h->deadline = USEC_INFINITY;
        if (WIFEXITED(status))
                h->exit_code = WEXITSTATUS(status);
        else if (WIFSIGNALED(status))
                h->exit_signal = WTERMSIG(status);
        if (h->outcome == OUTCOME_NONE)
                h->outcome = exit_ok(status) ? OUTCOME_OK : OUTCOME_FAILED;
        log_msg(h->outcome == OUTCOME_OK ? LOG_INFO : LOG_WARNING, owner ? owner->c.name : NULL, "hook",
                "%s ended: %s in %s (%s)", owner ? h->what : h->label, outcome_name(h->outcome), dur(h->ended - h->started, b),
                format_exit(status, 0, e, sizeof e));
}

bool sup_on_exit(struct sup *s, pid_t pid, int status)
{
        struct sw *w = sup_find_pid(s, pid), *owner = NULL;
        struct hook_run *h;

        if (!w) {
                h = find_hook(s, pid, &owner);
                if (!h)
                        return false;
                hook_ended(s, h, owner, status);
                if (owner && owner->state == WORKER_STOPPING)
                        advance_stop(s, owner);
                schedule(s);
                return true;
        }
        s->ops->release(s->ctx, w->pid, w->pidfd);
        w->pidfd = -1;
        w->alive = false;
        w->has_exit = true;
        w->exit_status = status;
        /* begin_stop() cleared it: a stop signal sent to this very process */
        w->exit_stop_signal = w->state == WORKER_STOPPING ? w->stop_signal_sent : 0;
        if (!w->exec_known) {
                /* the exec-status pipe is read before the exit is delivered;
                 * getting here means the status was lost: count as a failure */
                w->exec_known = true;
                w->exec_err = exit_ok(status) ? 0 : EIO;
        }
        if (w->state == WORKER_STOPPING) {
                char buf[EXIT_DESC_MAX];

                log_info(w->c.name, "exited", "%s", last_exit(w, buf));
                if (w->phase == PHASE_PRE_STOP || (w->phase == PHASE_DRAIN && w->stop_signal_sent == 0))
                        w->outcome = exit_ok(status) ? OUTCOME_EXITED : OUTCOME_FAILED;
                advance_stop(s, w);
        } else {
                run_ended(s, w);
        }
        schedule(s);
        return true;
}

void sup_on_stream_eof(struct sup *s, struct sw *w)
{
        if (w->open_streams > 0)
                w->open_streams--;
        if (w->state == WORKER_STOPPING)
                advance_stop(s, w);
        schedule(s);
}

/* ---- shutdown --------------------------------------------------------- */

static size_t count_active(struct sup *s)
{
        size_t n = 0;

        for (size_t i = 0; i < s->n; i++)
                n += !is_quiet(&s->w[i]);
        return n;
}

void sup_force(struct sup *s, const char *why)
{
        if (s->finished)
                return;
        if (!s->shutting_down) {
                sup_shutdown(s, why, true);
                return;
        }
        if (s->forced) {
                log_debug(NULL, "signal", "already forcing (%s)", why);
                return;
        }
        s->forced = true;
        s->budget_deadline = USEC_INFINITY;
        log_warning(NULL, "force", "forcing shutdown (%s): killing every worker and hook", why);
        for (size_t i = 0; i < s->n; i++) {
                struct sw *w = &s->w[i];

                w->want_down = true;
                kill_hook(s, &w->pre, OUTCOME_FAILED);
                kill_hook(s, &w->post, OUTCOME_FAILED);
                if (w->alive) {
                        if (w->state != WORKER_STOPPING) {
                                w->stop_reason = STOP_SHUTDOWN;
                                w->state = WORKER_STOPPING;
                                w->stop_began = now(s);
                                w->stop_signal_sent = 0;
                                record_stop_seq(s, w);
                                /* its stop begins here: a hook still running is an earlier stop's */
                                w->pre.stale = hook_busy(&w->pre);
                                w->post.stale = hook_busy(&w->post);
                                w->pre.outcome = w->post.outcome = OUTCOME_NONE;
                                w->pre.blocked = w->post.blocked = false;
                        }
                        if (w->pre.argv && w->pre.outcome == OUTCOME_NONE)
                                w->pre.outcome = OUTCOME_SKIPPED;
                        w->outcome = OUTCOME_KILLED;
                        w->phase = PHASE_KILLED;
                        w->deadline = USEC_INFINITY;
                        (void)s->ops->signal(s->ctx, w->pid, w->pidfd, SIGKILL, w->c.kill_mode == KILL_GROUP);
                        log_warning(w->c.name, "killed", "killed (forced)");
                } else if (w->state == WORKER_STOPPING) {
                        if (w->phase == PHASE_SIGNALLED && group_has_members(s, w))
                                (void)s->ops->signal(s->ctx, w->pid, -1, SIGKILL, true);
                        if (w->phase == PHASE_DRAIN) {
                                w->open_streams = 0;
                                w->stream_epoch++;
                        }
                        if (w->post.argv && w->post.outcome == OUTCOME_NONE)
                                w->post.outcome = OUTCOME_SKIPPED;
                }
        }
        /* whatever still holds the output of a run that ended is not waited for */
        for (size_t i = 0; i < s->n; i++)
                if (!s->w[i].alive && s->w[i].state != WORKER_STOPPING && s->w[i].open_streams) {
                        if (group_has_members(s, &s->w[i]))
                                (void)s->ops->signal(s->ctx, s->w[i].pid, -1, SIGKILL, true);
                        log_debug(s->w[i].c.name, "output", "no longer waiting for its output (forced)");
                        s->w[i].open_streams = 0;
                        s->w[i].stream_epoch++;
                }
        for (size_t i = 0; i < s->n_cleanup; i++) {
                struct hook_run *h = &s->cleanup[i];

                if (h->shielded)
                        continue;
                if (hook_busy(h))
                        kill_hook(s, h, OUTCOME_FAILED);
                else if (h->outcome == OUTCOME_NONE)
                        h->outcome = OUTCOME_SKIPPED;
        }
        for (size_t i = 0; i < s->n; i++)
                if (s->w[i].state == WORKER_STOPPING)
                        advance_stop(s, &s->w[i]);
        schedule(s);
}

void sup_shutdown(struct sup *s, const char *reason, bool force)
{
        char b[32];

        if (s->finished)
                return;
        if (!s->shutting_down) {
                size_t active = count_active(s);

                s->shutting_down = true;
                free(s->reason);
                s->reason = xstrdup(reason);
                s->shutdown_began = now(s);
                s->budget_deadline = s->shutdown_began + s->shutdown_timeout;
                notify(s, "STOPPING=1");
                extend_timeout(s, s->budget_deadline);
                log_notice(NULL, "shutdown", "shutting down (%s): stopping %zu worker%s, budget %s", reason, active,
                           active == 1 ? "" : "s", dur(s->shutdown_timeout, b));
                if (s->dev_mode && !force) {
                        char hint[64] = "";
                        unsigned left = s->force_after > s->accepted_signals ? s->force_after - s->accepted_signals : 0;

                        if (s->force_after && left == 1)
                                snprintf(hint, sizeof hint, " - press Ctrl+C again to force");
                        else if (s->force_after && left > 1)
                                snprintf(hint, sizeof hint, " - press Ctrl+C %u more times to force", left);
                        log_banner("stopping %zu worker%s (budget %s)%s", active, active == 1 ? "" : "s",
                                   dur(s->shutdown_timeout, b), hint);
                }
                for (size_t i = 0; i < s->n; i++) {
                        s->w[i].want_down = true;
                        s->w[i].watchdog_deadline = USEC_INFINITY;
                        s->restart_pending[i] = false;
                }
        }
        if (force)
                sup_force(s, reason);
        else
                schedule(s);
}

static bool all_reaped(struct sup *s)
{
        for (size_t i = 0; i < s->n; i++)
                if (s->w[i].alive || hook_busy(&s->w[i].pre) || hook_busy(&s->w[i].post))
                        return false;
        for (size_t i = 0; i < s->n_cleanup; i++)
                if (hook_busy(&s->cleanup[i]))
                        return false;
        return true;
}

bool sup_is_clean(const struct sup *s)
{
        if (s->forced || s->critical_failed)
                return false;
        for (size_t i = 0; i < s->n; i++) {
                const struct sw *w = &s->w[i];
                if (w->removed)
                        continue;
                if (w->outcome != OUTCOME_STOPPED && w->outcome != OUTCOME_EXITED && w->outcome != OUTCOME_NOT_STARTED)
                        return false;
                if (w->pre.outcome == OUTCOME_FAILED || w->pre.outcome == OUTCOME_TIMEOUT ||
                    w->post.outcome == OUTCOME_FAILED || w->post.outcome == OUTCOME_TIMEOUT)
                        return false;
                /* due, but could not run beside a stuck earlier run of itself */
                if (w->pre.blocked || w->post.blocked)
                        return false;
        }
        for (size_t i = 0; i < s->n_cleanup; i++)
                if (s->cleanup[i].outcome != OUTCOME_OK)
                        return false;
        return true;
}

static void finish(struct sup *s)
{
        char *sum;
        int code;

        s->finished = true;
        code = sup_is_clean(s) ? 0 : 1;
        sum = sup_summary(s);
        log_msg(code ? LOG_WARNING : LOG_NOTICE, NULL, "summary", "%s", sum);
        {
                /* what systemd keeps showing once graced is gone */
                char *st = xasprintf("STATUS=%s", sum);
                notify(s, st);
                free(st);
        }
        free(sum);
        s->ops->finished(s->ctx, code);
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
                if (s->forced && !h->shielded) {
                        h->outcome = OUTCOME_SKIPPED;
                        log_info(NULL, "cleanup", "%s skipped (forced)", h->label);
                        continue;
                }
                if (spawn_hook(s, h, NULL))
                        return false;
        }
        return true;
}

/* ---- the scheduler ------------------------------------------------------ */

static char *status_line(struct sup *s)
{
        unsigned running = 0, total = 0, failed = 0;
        struct sw *restarting = NULL;
        char b[32];

        if (s->shutting_down) {
                size_t len = 0, cap = 128;
                char *r = xmalloc(cap);
                usec_t t = now(s);
                int n = 0;

                len = (size_t)snprintf(r, cap, "stopping:");
                for (size_t i = 0; i < s->n && n < 4; i++) {
                        if (s->w[i].state != WORKER_STOPPING)
                                continue;
                        r = xrealloc(r, cap += strlen(s->w[i].c.name) + 4);
                        len += (size_t)snprintf(r + len, cap - len, "%s %s", n ? "," : "", s->w[i].c.name);
                        n++;
                }
                if (n == 0) {
                        r = xrealloc(r, cap += 32);
                        len += (size_t)snprintf(r + len, cap - len, " %s", s->cleanup_next < s->n_cleanup ? "cleanup" : "done");
                }
                r = xrealloc(r, cap += 48);
                if (s->forced)
                        snprintf(r + len, cap - len, " (forced)");
                else
                        snprintf(r + len, cap - len, ", %s left",
                                 dur(s->budget_deadline > t ? (s->budget_deadline - t) / USEC_PER_SEC * USEC_PER_SEC : 0, b));
                return r;
        }
        for (size_t i = 0; i < s->n; i++) {
                struct sw *w = &s->w[i];
                if (w->want_down)
                        continue;
                total++;
                /* up: running, or a oneshot that has done its job */
                running += w->state == WORKER_RUNNING ||
                           (w->state == WORKER_EXITED && w->c.type == WORKER_TYPE_ONESHOT);
                failed += w->state == WORKER_FAILED;
                if (w->state == WORKER_BACKOFF && !restarting)
                        restarting = w;
        }
        if (restarting)
                return xasprintf("degraded: %s restarting (%u/%u)", restarting->c.name, restarting->starts,
                                 restarting->c.start_limit_burst);
        if (failed)
                return xasprintf("degraded: %u/%u workers up, %u failed", running, total, failed);
        if (!s->ready_notified)
                return xasprintf("starting: %u/%u workers ready", running, total);
        return xasprintf("running: %u/%u workers", running, total);
}

static void update_status(struct sup *s)
{
        char *st = status_line(s);

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
        compute_chains(s);
        for (size_t i = 0; i < s->n; i++) {
                struct sw *w = &s->w[i];
                const char *dep;

                if (w->want_down || is_ready(w) || w->state == WORKER_FAILED)
                        continue;
                if (w->state == WORKER_WAITING && dep_failed(s, i, &dep))
                        continue;
                return false;
        }
        return true;
}

static void schedule_once(struct sup *s)
{
        unsigned starting = count_state(s, WORKER_STARTING);
        unsigned stopping = count_state(s, WORKER_STOPPING);

        /* stops: a worker only once every dependent is fully down. Walking in
         * reverse start order visits every dependent before its dependencies,
         * so "everything above is down" is computed once per worker per pass
         * (a dependency outlives everything above it, even across a oneshot
         * that has already exited). */
        for (size_t k = s->n; k-- > 0;) {
                size_t i = s->start_order[k];
                struct sw *w = &s->w[i];
                bool da = true, rda = true;

                for (size_t r = 0; r < s->n_rdeps[i]; r++) {
                        size_t j = s->rdeps[i][r];
                        struct sw *d = &s->w[j];
                        bool q = is_quiet(d);
                        /* a dependent that will be started again is not down */
                        bool comes_back = !d->want_down && !s->shutting_down &&
                                          (d->state == WORKER_BACKOFF || d->state == WORKER_WAITING);

                        if (!q || comes_back || !s->down_above[j])
                                da = false;
                        if (((d->reload_restart || d->want_down) && !q) || !s->rdown_above[j])
                                rda = false;
                }
                s->down_above[i] = da;
                s->rdown_above[i] = rda;

                if (w->reload_restart && !w->want_down) {
                        if (w->state == WORKER_STARTING || w->state == WORKER_RUNNING) {
                                if (stopping < s->max_parallel && rda) {
                                        begin_stop(s, w, STOP_RESTART);
                                        stopping += w->state == WORKER_STOPPING;
                                }
                        } else if (w->state != WORKER_STOPPING) {
                                w->reload_restart = false; /* no process: it starts with the new settings */
                        }
                        continue;
                }
                if (!w->want_down)
                        continue;
                if (w->state == WORKER_STARTING || w->state == WORKER_RUNNING) {
                        if (stopping >= s->max_parallel || !da)
                                continue;
                        begin_stop(s, w, s->shutting_down ? STOP_SHUTDOWN : STOP_MANUAL);
                        stopping += w->state == WORKER_STOPPING;
                } else if (w->state != WORKER_STOPPING && is_quiet(w) && da) {
                        settle_down(s, w);
                } else if (w->state != WORKER_STOPPING && !w->alive && da && w->open_streams > 0 &&
                           !w->leftovers_signalled && group_has_members(s, w)) {
                        /* the leader ended by itself; the rest of its group holds the
                         * pipes: it gets the stop signal now, SIGKILL at the deadline */
                        char b[32];

                        w->leftovers_signalled = true;
                        w->deadline = now(s) + w->c.stop_timeout;
                        log_info(w->c.name, "stopping", "stopping what is left of its process group (%s, timeout %s)",
                                 signal_name(w->c.stop_signal), dur(w->c.stop_timeout, b));
                        (void)s->ops->signal(s->ctx, w->pid, -1, w->c.stop_signal, true);
                        (void)s->ops->signal(s->ctx, w->pid, -1, SIGCONT, true);
                }
        }
        if (!s->shutting_down && s->started) {
                compute_chains(s);
                for (size_t k = 0; k < s->n && starting < s->max_parallel; k++) {
                        size_t i = s->start_order[k];
                        struct sw *w = &s->w[i];
                        const char *dep;

                        if (w->state != WORKER_WAITING || w->want_down)
                                continue;
                        if (!s->chain_ready[i]) {
                                if (dep_failed(s, i, &dep) && !w->blocked_logged) {
                                        w->blocked_logged = true;
                                        w->outcome = OUTCOME_NOT_STARTED;
                                        log_warning(w->c.name, "blocked", "not starting: dependency %s failed", dep);
                                        /* a critical worker that can never get ready */
                                        if (w->c.critical) {
                                                critical_failure(s, w);
                                                return;
                                        }
                                }
                                continue;
                        }
                        start_worker(s, w);
                        starting += w->state == WORKER_STARTING;
                }
        }
        /* manual restarts: start again once down */
        for (size_t i = 0; i < s->n; i++)
                if (s->restart_pending[i] && s->w[i].state == WORKER_DOWN && is_quiet(&s->w[i])) {
                        s->restart_pending[i] = false;
                        sup_start_worker(s, s->w[i].c.name);
                }
}

static void schedule(struct sup *s)
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
                if (s->shutting_down && count_active(s) == 0 && run_cleanup(s) && all_reaped(s)) {
                        s->in_schedule = false;
                        update_status(s);
                        finish(s);
                        return;
                }
        } while (s->reschedule);
        s->in_schedule = false;
        if (!s->shutting_down && s->started && !s->ready_notified && settled(s)) {
                s->ready_notified = true;
                update_status(s);
                notify(s, "READY=1");
                log_notice(NULL, "ready", "%s", s->last_status ? s->last_status : "ready");
        }
        update_status(s);
}

void sup_set_batched(struct sup *s, bool on) { s->batched = on; }

void sup_resume(struct sup *s) { schedule(s); }

void sup_flush(struct sup *s)
{
        if (!s->dirty)
                return;
        s->dirty = false;
        s->batched = false;
        schedule(s);
        s->batched = true;
}

void sup_start(struct sup *s)
{
        s->started = true;
        log_notice(NULL, "start", "starting %zu worker%s", s->n, s->n == 1 ? "" : "s");
        schedule(s);
}

/* ---- signals and time --------------------------------------------------- */

void sup_on_signal(struct sup *s, int sig)
{
        usec_t t = now(s);
        const char *name = signal_name(sig);

        switch (sig) {
        case SIGTERM:
        case SIGINT:
                if (s->accepted_signals > 0 && t - s->last_signal < s->signal_debounce) {
                        log_debug(NULL, "signal", "%s ignored (within debounce)", name);
                        return;
                }
                s->accepted_signals++;
                s->last_signal = t;
                if (s->accepted_signals == 1) {
                        sup_shutdown(s, name, s->force_after == 1);
                } else if (s->force_after > 0 && s->accepted_signals >= s->force_after) {
                        char *why = xasprintf("%s #%u", name, s->accepted_signals);
                        sup_force(s, why);
                        free(why);
                } else {
                        log_notice(NULL, "signal", "%s: already shutting down%s", name,
                                   s->force_after ? "" : " (force_after = 0: never forced by signals)");
                }
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

static void worker_deadline(struct sup *s, struct sw *w)
{
        char b[32];

        w->deadline = USEC_INFINITY;
        switch (w->state) {
        case WORKER_STARTING:
                if (w->want_down)
                        return; /* being stopped anyway, in its turn */
                log_warning(w->c.name, "ready-timeout", "not ready after %s", dur(w->c.ready_timeout, b));
                begin_stop(s, w, STOP_FAILED_START);
                return;
        case WORKER_BACKOFF:
                w->state = WORKER_WAITING; /* the scheduler starts it (deps, max_parallel) */
                return;
        case WORKER_STOPPING:
                break;
        default:
                if (w->leftovers_signalled && !w->alive && w->open_streams > 0 && group_has_members(s, w)) {
                        log_warning(w->c.name, "killed", "killing what is left of its process group");
                        (void)s->ops->signal(s->ctx, w->pid, -1, SIGKILL, true);
                }
                return;
        }
        switch (w->phase) {
        case PHASE_PRE_STOP:
                hook_deadline(s, w, &w->pre);
                break;
        case PHASE_SIGNALLED:
                if (!w->alive && now(s) < w->kill_at)
                        break; /* a re-check of the group */
                if (w->alive) {
                        log_warning(w->c.name, "killed", "killed after timeout %s", dur(w->c.stop_timeout, b));
                        w->outcome = OUTCOME_KILLED;
                } else {
                        log_warning(w->c.name, "killed", "killing what is left of its process group after %s",
                                    dur(w->c.stop_timeout, b));
                }
                w->phase = PHASE_KILLED;
                (void)s->ops->signal(s->ctx, w->pid, w->alive ? w->pidfd : -1, SIGKILL, w->c.kill_mode == KILL_GROUP);
                break;
        case PHASE_DRAIN:
                log_warning(w->c.name, "output", "output still open %s after exit; no longer waiting for it",
                            dur(w->c.stop_timeout, b));
                w->open_streams = 0;
                w->stream_epoch++; /* their EOF, if it ever comes, counts for nothing */
                break;
        case PHASE_POST_STOP:
                hook_deadline(s, w, &w->post);
                break;
        default:
                break;
        }
        advance_stop(s, w);
}

void sup_on_time(struct sup *s)
{
        usec_t t = now(s);
        char b[32];

        if (s->finished)
                return;
        if (s->shutting_down && s->budget_deadline <= t) {
                log_warning(NULL, "timeout", "shutdown_timeout %s spent", dur(s->shutdown_timeout, b));
                sup_force(s, "shutdown_timeout");
        }
        for (size_t i = 0; i < s->n; i++) {
                struct sw *w = &s->w[i];
                if (w->deadline <= t)
                        worker_deadline(s, w);
                if (w->watchdog_deadline <= t) {
                        w->watchdog_deadline = USEC_INFINITY;
                        if (w->state != WORKER_RUNNING || w->want_down)
                                continue;
                        log_warning(w->c.name, "watchdog", "watchdog timeout (%s without WATCHDOG=1)",
                                    dur(w->c.watchdog, b));
                        begin_stop(s, w, STOP_FAILED_START);
                }
        }
        for (size_t i = 0; i < s->n_cleanup; i++) {
                struct hook_run *h = &s->cleanup[i];
                if (h->deadline <= t) {
                        log_warning(NULL, "cleanup", "%s timed out after %s", h->label, dur(h->timeout, b));
                        kill_hook(s, h, OUTCOME_TIMEOUT);
                }
        }
        schedule(s);
}

usec_t sup_next_deadline(const struct sup *s)
{
        usec_t d = s->shutting_down && !s->finished ? s->budget_deadline : USEC_INFINITY;

        for (size_t i = 0; i < s->n; i++) {
                d = min_u(d, s->w[i].deadline);
                d = min_u(d, s->w[i].watchdog_deadline);
        }
        for (size_t i = 0; i < s->n_cleanup; i++)
                d = min_u(d, s->cleanup[i].deadline);
        return d;
}

/* ---- notify messages from workers ------------------------------------- */

void sup_on_notify(struct sup *s, struct sw *w, const char *msg)
{
        /* one datagram, newline-separated assignments */
        const char *p = msg;

        while (*p) {
                const char *e = strchrnul(p, '\n');
                size_t len = (size_t)(e - p);

                if (len == 7 && strncmp(p, "READY=1", 7) == 0) {
                        /* the datagram can overtake the exec status: a process
                         * that speaks has exec'd, but wait for the status anyway */
                        if (w->state == WORKER_STARTING && w->c.ready == READY_NOTIFY &&
                            w->c.type == WORKER_TYPE_SIMPLE) {
                                if (w->exec_known && w->exec_err == 0)
                                        became_ready(s, w);
                                else
                                        w->notified_ready = true;
                        }
                } else if (len >= 7 && strncmp(p, "STATUS=", 7) == 0) {
                        free(w->status_text);
                        w->status_text = strndup(p + 7, len - 7);
                        log_info(w->c.name, "status", "status: %s", w->status_text ? w->status_text : "");
                } else if (len == 10 && strncmp(p, "WATCHDOG=1", 10) == 0) {
                        if (w->state == WORKER_RUNNING && w->c.watchdog)
                                w->watchdog_deadline = now(s) + w->c.watchdog;
                } else if (len == 10 && strncmp(p, "STOPPING=1", 10) == 0) {
                        log_info(w->c.name, "stopping", "worker says it is stopping");
                } else if (len > 0) {
                        log_debug(w->c.name, "notify", "ignoring notify field %.*s", (int)(len > 64 ? 64 : len), p);
                }
                p = *e ? e + 1 : e;
        }
        schedule(s);
}

/* ---- operations ----------------------------------------------------------- */

struct sw *sup_find(struct sup *s, const char *name)
{
        for (size_t i = 0; i < s->n; i++)
                if (!s->w[i].removed && strcmp(s->w[i].c.name, name) == 0)
                        return &s->w[i];
        return NULL;
}

static void mark_down(struct sup *s, size_t i, bool with)
{
        struct sw *w = &s->w[i];

        if (w->want_down)
                return;
        w->want_down = true;
        w->down_with = with;
        w->watchdog_deadline = USEC_INFINITY;
        for (size_t k = 0; k < s->n_rdeps[i]; k++)
                mark_down(s, s->rdeps[i][k], true);
}

int sup_stop_worker(struct sup *s, const char *name)
{
        struct sw *w = sup_find(s, name);

        if (!w)
                return -ENOENT;
        if (s->shutting_down)
                return -EBUSY;
        log_notice(w->c.name, "stop", "stop requested");
        mark_down(s, w->idx, false);
        schedule(s);
        return 0;
}

static void bring_up(struct sup *s, size_t i, bool deps_too)
{
        struct sw *w = &s->w[i];

        if (w->want_down || w->state == WORKER_FAILED || w->state == WORKER_DOWN ||
            (w->state == WORKER_EXITED && w->c.type == WORKER_TYPE_SIMPLE)) {
                w->want_down = false;
                w->down_with = false;
                if (w->state != WORKER_STOPPING && w->state != WORKER_STARTING && w->state != WORKER_RUNNING) {
                        w->state = WORKER_WAITING;
                        w->outcome = OUTCOME_NONE;
                        w->n_start_times = 0;
                        w->next_delay = w->c.restart_delay;
                }
        }
        if (!deps_too)
                return;
        for (size_t k = 0; k < s->n_deps[i]; k++) {
                struct sw *d = &s->w[s->deps[i][k]];
                if (d->want_down || d->state == WORKER_DOWN)
                        bring_up(s, s->deps[i][k], true);
        }
}

int sup_start_worker(struct sup *s, const char *name)
{
        struct sw *w = sup_find(s, name);

        if (!w)
                return -ENOENT;
        if (s->shutting_down)
                return -EBUSY;
        log_notice(w->c.name, "start", "start requested");
        bring_up(s, w->idx, true);
        /* in start order, so a chain of dependents comes back whole */
        for (size_t k = 0; k < s->n; k++) {
                size_t i = s->start_order[k];
                if (s->w[i].down_with && s->w[i].want_down) {
                        /* dependents stopped along with it come back once their deps are up */
                        bool all = true;
                        for (size_t d = 0; d < s->n_deps[i]; d++)
                                all &= !s->w[s->deps[i][d]].want_down;
                        if (all)
                                bring_up(s, i, false);
                }
        }
        schedule(s);
        return 0;
}

int sup_restart_worker(struct sup *s, const char *name)
{
        struct sw *w = sup_find(s, name);
        int r;

        if (!w)
                return -ENOENT;
        if (w->state != WORKER_RUNNING && w->state != WORKER_STARTING)
                return sup_start_worker(s, name);
        r = sup_stop_worker(s, name);
        if (r == 0)
                s->restart_pending[w->idx] = true;
        schedule(s);
        return r;
}

int sup_op_state(struct sup *s, const char *name, enum sup_op op)
{
        struct sw *w = sup_find(s, name);
        const char *dep;

        if (!w)
                return -ENOENT;
        if (op == SUP_OP_STOP) {
                if (!w->want_down)
                        return 1; /* started again meanwhile */
                for (size_t i = 0; i < s->n; i++)
                        if (s->w[i].want_down && (!is_quiet(&s->w[i]) || s->w[i].state == WORKER_STOPPING))
                                return 0;
                return 1;
        }
        if (s->restart_pending[w->idx] || w->state == WORKER_STOPPING)
                return 0;
        if (is_ready(w))
                return 1;
        if (w->state == WORKER_FAILED || w->state == WORKER_DOWN)
                return -1;
        compute_chains(s);
        if (w->state == WORKER_WAITING && dep_failed(s, w->idx, &dep))
                return -1;
        return 0;
}

/* ---- reading ------------------------------------------------------------ */

size_t sup_n_workers(const struct sup *s) { return s->n; }
struct sw *sup_worker(struct sup *s, size_t i) { return i < s->n ? &s->w[i] : NULL; }
bool sup_shutting_down(const struct sup *s) { return s->shutting_down; }
bool sup_forced(const struct sup *s) { return s->forced; }
const char *sup_reason(const struct sup *s) { return s->reason; }
usec_t sup_shutdown_began(const struct sup *s) { return s->shutdown_began; }
size_t sup_n_cleanup(const struct sup *s) { return s->n_cleanup; }
const struct hook_run *sup_cleanup(const struct sup *s, size_t i) { return &s->cleanup[i]; }
const char *sup_name(const struct sup *s) { return s->name; }

size_t sup_stop_order(const struct sup *s, size_t *out)
{
        size_t n = 0, total = 0;

        /* workers removed by a reload are no longer part of the story */
        for (size_t i = 0; i < s->n; i++)
                total += !s->w[i].removed;
        for (size_t i = 0; i < s->n_stop_seq; i++)
                if (!s->w[s->stop_seq[i]].removed)
                        out[n++] = s->stop_seq[i];
        /* never visited (no shutdown yet): by stop stage */
        for (size_t st = 0; n < total && st <= s->n; st++)
                for (size_t i = 0; i < s->n; i++)
                        if (!s->in_stop_seq[i] && !s->w[i].removed && s->stop_stage[i] == st)
                                out[n++] = i;
        return n;
}

void sup_log_status(struct sup *s)
{
        usec_t t = now(s);
        char b[32], e[EXIT_DESC_MAX];

        for (size_t i = 0; i < s->n; i++) {
                struct sw *w = &s->w[i];
                log_notice(w->c.name, "status", "%s, pid %d, up %s, %u restarts, last %s%s%s",
                           worker_state_name(w->state), w->alive ? (int)w->pid : 0,
                           w->alive ? dur((t - w->started_at) / USEC_PER_SEC * USEC_PER_SEC, b) : "-",
                           w->starts ? w->starts - 1 : 0, w->has_exit ? last_exit(w, e) : "none",
                           w->status_text ? ", status: " : "", w->status_text ? w->status_text : "");
        }
}

_printf_(3, 4) static bool addf(char **r, size_t *len, const char *fmt, ...)
{
        va_list ap;
        char *piece;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&piece, fmt, ap);
        va_end(ap);
        if (n < 0)
                return false;
        *r = xrealloc(*r, *len + (size_t)n + 1);
        memcpy(*r + *len, piece, (size_t)n + 1);
        *len += (size_t)n;
        free(piece);
        return true;
}

char *sup_summary(const struct sup *s)
{
        size_t len;
        char *r = xmalloc(256);
        char b[32];
        unsigned counts[OUTCOME_NOT_STARTED + 1] = { 0 };
        bool clean = sup_is_clean(s);
        usec_t t = s->ops->now(s->ctx), took = t - s->shutdown_began;

        for (size_t i = 0; i < s->n; i++)
                if (!s->w[i].removed)
                        counts[s->w[i].outcome]++;
        snprintf(b, sizeof b, "%.2fs", (double)took / USEC_PER_SEC);
        len = (size_t)snprintf(r, 256, "shutdown %s in %s:", clean ? "clean" : "NOT clean", b);
        if (clean || s->n == 0) {
                bool any = false;
                for (int o = OUTCOME_STOPPED; o <= OUTCOME_NOT_STARTED; o++)
                        if (counts[o]) {
                                any |= addf(&r, &len, "%s %u %s", any ? "," : "", counts[o], outcome_name((enum outcome)o));
                        }
                if (!any)
                        addf(&r, &len, " no workers");
        } else {
                bool any = false;
                if (s->forced)
                        any |= addf(&r, &len, " forced (%s)", s->reason ? s->reason : "?");
                for (size_t i = 0; i < s->n; i++) {
                        const struct sw *w = &s->w[i];
                        if (w->removed)
                                continue;
                        if (w->outcome == OUTCOME_KILLED)
                                any |= addf(&r, &len, "%s %s killed after %s", any ? "," : "", w->c.name,
                                    format_duration(w->stop_ended > w->stop_began ? w->stop_ended - w->stop_began : 0, b, sizeof b));
                        else if (w->outcome == OUTCOME_FAILED)
                                any |= addf(&r, &len, "%s %s failed", any ? "," : "", w->c.name);
                        if (w->pre.outcome == OUTCOME_FAILED || w->pre.outcome == OUTCOME_TIMEOUT || w->pre.blocked)
                                any |= addf(&r, &len, "%s %s pre_stop %s", any ? "," : "", w->c.name, outcome_name(w->pre.outcome));
                        if (w->post.outcome == OUTCOME_FAILED || w->post.outcome == OUTCOME_TIMEOUT || w->post.blocked)
                                any |= addf(&r, &len, "%s %s post_stop %s", any ? "," : "", w->c.name, outcome_name(w->post.outcome));
                }
                for (size_t i = 0; i < s->n_cleanup; i++)
                        if (s->cleanup[i].outcome != OUTCOME_OK)
                                any |= addf(&r, &len, "%s cleanup %s %s", any ? "," : "", s->cleanup[i].label + strlen("cleanup/"),
                                    outcome_name(s->cleanup[i].outcome));
                if (!any)
                        addf(&r, &len, " %s", s->reason ? s->reason : "");
        }
        return r;
}

/* ---- reload ------------------------------------------------------------- */

static void move_hook(struct hook_run *dst, struct hook_run *src)
{
        dst->pid = src->pid;
        dst->pidfd = src->pidfd;
        dst->running = src->running;
        dst->started = src->started;
        dst->ended = src->ended;
        dst->outcome = src->outcome;
        dst->exit_code = src->exit_code;
        dst->exit_signal = src->exit_signal;
        dst->deadline = src->deadline;
        dst->stale = src->stale;
        dst->blocked = src->blocked;
        src->pid = 0;
        src->pidfd = -1;
}

/* Moves the runtime state of a worker (process, restarts, stop record) into
 * its new incarnation, which keeps its new settings. */
static void move_state(struct sw *dst, struct sw *src)
{
        struct conf_worker keep = dst->c;
        struct hook_run pre = dst->pre, post = dst->post;
        usec_t *times = dst->start_times;
        size_t idx = dst->idx;
        unsigned burst = keep.start_limit_burst;

        move_hook(&pre, &src->pre);
        move_hook(&post, &src->post);
        *dst = *src;
        dst->c = keep;
        dst->idx = idx;
        dst->pre = pre;
        dst->post = post;
        dst->start_times = times;
        /* the start limit counts afresh under the new settings */
        dst->n_start_times = 0;
        (void)burst;
        src->status_text = NULL;
        src->alive = false;
        src->pidfd = -1;
}

struct sup *sup_reload(struct sup *old, const struct conf *c, size_t **ret_map, int *ret_err, unsigned counts[4])
{
        struct conf merged = *c;
        struct plan *p = NULL;
        struct conf_diags d = { 0 };
        struct sup *s;
        size_t *map, n_removed = 0;

        if (old->shutting_down) {
                *ret_err = EBUSY;
                return NULL;
        }
        /* workers that are gone stay supervised until they are down */
        merged.workers = xcalloc(c->n_workers + old->n + 1, sizeof *merged.workers);
        for (size_t i = 0; i < c->n_workers; i++)
                merged.workers[i] = c->workers[i];
        for (size_t i = 0; i < old->n; i++) {
                struct sw *w = &old->w[i];
                bool kept = false;

                for (size_t k = 0; k < c->n_workers && !kept; k++)
                        kept = strcmp(c->workers[k].name, w->c.name) == 0;
                if (kept && w->removed && !is_quiet(w)) {
                        free(merged.workers);
                        *ret_err = EBUSY;
                        return NULL;
                }
                if (kept)
                        continue; /* (a quiet removed one is simply forgotten) */
                if (is_quiet(w) && w->state != WORKER_STOPPING)
                        continue; /* removed while down: nothing to stop */
                merged.workers[c->n_workers + n_removed++] = w->c;
        }
        merged.n_workers = c->n_workers + n_removed;
        /* a removed worker keeps its ordering only against workers that remain */
        for (size_t i = c->n_workers; i < merged.n_workers; i++) {
                struct conf_worker *w = &merged.workers[i];
                size_t n = 0;
                char **after = xcalloc(strv_length(w->after) + 1, sizeof(char *));

                for (char **a = w->after; a && *a; a++)
                        for (size_t k = 0; k < merged.n_workers; k++)
                                if (k != i && strcmp(merged.workers[k].name, *a) == 0) {
                                        after[n++] = *a;
                                        break;
                                }
                w->after = after;
        }
        if (plan_build(&merged, &p, &d) < 0) {
                /* cannot happen: the new file validated and removed workers add no cycle */
                conf_diags_clear(&d);
                for (size_t i = c->n_workers; i < merged.n_workers; i++)
                        free(merged.workers[i].after);
                free(merged.workers);
                *ret_err = EINVAL;
                return NULL;
        }
        s = sup_new(&merged, p, old->ops, old->ctx);
        for (size_t i = c->n_workers; i < merged.n_workers; i++)
                free(merged.workers[i].after);
        free(merged.workers);
        plan_free(p);

        s->started = old->started;
        s->ready_notified = old->ready_notified;
        s->dev_mode = old->dev_mode;
        s->batched = old->batched;
        s->accepted_signals = old->accepted_signals;
        s->last_signal = old->last_signal;
        s->last_status = old->last_status;
        old->last_status = NULL;

        memset(counts, 0, 4 * sizeof counts[0]);
        map = xcalloc(old->n ? old->n : 1, sizeof *map);
        for (size_t i = 0; i < old->n; i++) {
                struct sw *o = &old->w[i];
                struct sw *n = NULL;

                bool kept = false;

                map[i] = SIZE_MAX;
                for (size_t k = 0; k < c->n_workers && !kept; k++)
                        kept = strcmp(c->workers[k].name, o->c.name) == 0;
                kept = kept && !o->removed;
                /* a worker that stays maps into the new part, a removed one into the tail */
                for (size_t k = kept ? 0 : c->n_workers; k < (kept ? c->n_workers : s->n) && !n; k++)
                        if (strcmp(s->w[k].c.name, o->c.name) == 0)
                                n = &s->w[k];
                if (!n) {
                        /* dropped (removed and down): release what it holds */
                        if (o->pidfd >= 0)
                                old->ops->release(old->ctx, o->pid, o->pidfd);
                        o->pidfd = -1;
                        continue;
                }
                map[i] = n->idx;
                move_state(n, o);
                s->restart_pending[n->idx] = old->restart_pending[i] && n->idx < c->n_workers;
                if (n->idx >= c->n_workers) {
                        if (!n->removed) {
                                n->removed = true;
                                counts[1]++;
                                log_notice(n->c.name, "reload", "removed from the configuration: stopping");
                        }
                        n->want_down = true;
                } else if (!conf_worker_same_process(&o->c, &n->c)) {
                        counts[2]++;
                        if (n->state == WORKER_STARTING || n->state == WORKER_RUNNING || n->state == WORKER_STOPPING) {
                                n->reload_restart = true;
                                log_notice(n->c.name, "reload", "changed: restarting with the new settings");
                        } else {
                                log_notice(n->c.name, "reload", "changed (not running)");
                        }
                } else {
                        counts[3]++;
                }
                if (n->idx < c->n_workers) {
                        n->next_delay = min_u(n->next_delay, n->c.restart_delay_max);
                        if (n->watchdog_deadline != USEC_INFINITY && !n->c.watchdog)
                                n->watchdog_deadline = USEC_INFINITY;
                }
        }
        for (size_t k = 0; k < c->n_workers; k++) {
                bool existed = false;
                for (size_t i = 0; i < old->n && !existed; i++)
                        existed = map[i] == k;
                if (!existed) {
                        counts[0]++;
                        log_notice(s->w[k].c.name, "reload", "added");
                }
        }
        sup_free(old);
        *ret_map = map;
        /* no scheduling yet: the caller first moves its own per-worker state
         * to the new indices, then calls sup_resume() */
        return s;
}
