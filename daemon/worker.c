/* worker.c - one worker's state machine: starting, readiness, exits and
 * restarts with backoff and a start limit, the stop sequence (pre_stop,
 * stop signal, SIGKILL, drain, post_stop) and the facts of the report.
 * Policy only: no system calls (actions through env->ops, time through
 * env_now()); it never looks at another worker (that is sup.c's). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "log.h"
#include "parse.h"
#include "state.h"
#include "worker.h"

/* Its pre_stop and post_stop records: allocated while a hook is configured,
 * or while a record still counts (a run under way, or a result of the last
 * stop) after a reload removed its hook; most workers have none. */
struct worker_hooks {
        struct hook_run pre, post;
};

/* Laid out small, 10,000 of them (608 bytes, a 624-byte malloc chunk; 617
 * and more take the next 16): enums in 8-bit fields, small fields side by
 * side. */
struct worker {
        struct conf_worker c;
        unsigned idx; /* position in the supervisor's plan */
        enum worker_state state : 8;
        enum stop_phase phase : 8;
        enum stop_reason stop_reason : 8;
        enum worker_goal goal : 8;
        enum outcome outcome : 8; /* of its stop record (report) */
        bool blocked_logged;      /* "not starting: X failed" said */
        bool start_failed;        /* this run failed to get ready (or missed its watchdog, or its health probe) */
        bool leftovers_signalled; /* its group outlived a leader that ended by itself */
        /* it failed while running (watchdog, health) and its stop waits for
         * its parts (part_of) to be down: the supervisor stops it then */
        bool fail_pending;
        const char *fail_why; /* static: why this run failed, for "failed for good" (NULL: the usual words) */

        /* the current process */
        pid_t pid;
        int pidfd;
        bool alive;          /* spawned and not reaped */
        bool exec_known;     /* exec status read */
        bool notified_ready; /* READY=1 came before the exec status */
        bool has_exit;       /* exit_status below holds one */
        int exec_err;
        /* the last exit of any of its runs, kept across starts */
        int exit_status; /* waitpid status; -1 none */
        int exit_stop_signal;  /* the stop signal graced had sent to that process; 0 none */
        unsigned open_streams; /* output pipes not at EOF (all runs) */
        unsigned stream_epoch; /* bumped when open pipes stop being waited for */
        usec_t started_at;     /* monotonic */
        usec_t kill_at;        /* when SIGKILL follows the stop signal */
        usec_t recheck_delay;  /* backoff while the group outlives its leader */
        char *status_text;     /* STATUS= from the worker */
        struct timer dl;       /* the deadline of its state or stop phase */
        struct timer wd;       /* its watchdog */

        /* probes: one schedule at a time, readiness while starting, health
         * while running (probe_sync() keeps it in step with the state) */
        struct timer pt;              /* the next attempt, or the end of the one under way */
        enum probe_use probe_use : 8; /* of the schedule armed */
        bool probe_on;                /* a schedule is armed */
        bool probe_busy;              /* an attempt is under way: its result is awaited */
        bool ready_once;              /* this run got ready */
        bool ever_ready;              /* some run got ready */
        unsigned health_fails;        /* consecutive failed health attempts */
        usec_t probe_began;           /* when the last attempt began */
        unsigned health_total;        /* failed health attempts, all runs */

        /* restarts */
        unsigned starts; /* total */
        /* ring of start_limit_burst entries, made at the second start
         * counted (until then its one entry is started_at) */
        usec_t *start_times;
        usec_t next_delay;
        unsigned n_start_times;

        /* the stop record (report; its outcome is above) */
        int stop_signal_sent; /* 0: none */
        usec_t stop_began, stop_ended;
        struct worker_hooks *hooks; /* NULL: none */

        void *mech;
};

static const char *const state_names[] = { "waiting", "starting", "running", "backoff",
                                           "stopping", "down", "exited", "failed" };
static const char *const outcome_names[] = { "none", "ok", "failed", "timeout", "skipped",
                                             "stopped", "killed", "exited", "not-started" };

const char *worker_state_name(enum worker_state st) { return st <= WORKER_FAILED ? state_names[st] : "?"; }
const char *outcome_name(enum outcome o) { return o <= OUTCOME_NOT_STARTED ? outcome_names[o] : "?"; }

/* Why a run that failed while running failed (fail_why), when it is not the usual words. */
static const char health_failed[] = "health check failed";

/* ---- the shared environment -------------------------------------------- */

usec_t env_now(struct worker_env *env) { return env->ops->now(env->ctx); }

void env_timer_set(struct worker_env *env, struct timer *t, usec_t when)
{
        t->gen = ++env->gen;
        heap_set(&env->deadlines, &t->node, when);
}

void env_extend_timeout(struct worker_env *env, usec_t until)
{
        char msg[64];
        usec_t t = env_now(env);

        if (!env->shutting_down || until == USEC_INFINITY || until <= t || !env->ops->notify)
                return;
        /* a margin for the work between stages */
        snprintf(msg, sizeof msg, "EXTEND_TIMEOUT_USEC=%llu", (unsigned long long)(until - t + 5 * USEC_PER_SEC));
        env->ops->notify(env->ctx, msg);
}

const char *dur(usec_t u, char *buf)
{
        if (u != USEC_INFINITY && u >= 10 * USEC_PER_MSEC)
                u = (u + USEC_PER_MSEC / 2) / USEC_PER_MSEC * USEC_PER_MSEC;
        return format_duration(u, buf, 32);
}

static usec_t min_u(usec_t a, usec_t b) { return a < b ? a : b; }

static bool exit_ok(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

static void set_deadline(struct worker_env *env, struct worker *w, usec_t when) { env_timer_set(env, &w->dl, when); }

static bool health_failing(const struct worker *w) { return w->state == WORKER_RUNNING && w->health_fails > 0; }

/* The supervisor's counts of workers by state and goal (d: +1 or -1). */
static void account(struct worker_env *env, const struct worker *w, int d)
{
        env->n_state[w->state] += (unsigned)d;
        if (health_failing(w))
                env->n_health_failing += (unsigned)d;
        if (w->goal != GOAL_RUN)
                env->n_not_run += (unsigned)d;
        if (worker_wants_down(w))
                return;
        env->n_up[w->state] += (unsigned)d;
        if (w->state == WORKER_EXITED && w->c.type == WORKER_TYPE_ONESHOT)
                env->n_up_done += (unsigned)d;
}

static void probe_sync(struct worker_env *env, struct worker *w);

/* Every change of state and of goal goes through here: the supervisor's
 * counts follow, and it hears of it (touched). */
static void change(struct worker_env *env, struct worker *w, enum worker_state st, enum worker_goal g)
{
        account(env, w, -1);
        w->state = st;
        w->goal = g;
        account(env, w, +1);
        if (env->touched)
                env->touched(env, w);
        probe_sync(env, w); /* its probes follow its state and goal */
}

static void set_state(struct worker_env *env, struct worker *w, enum worker_state st) { change(env, w, st, w->goal); }
static void set_goal(struct worker_env *env, struct worker *w, enum worker_goal g) { change(env, w, w->state, g); }

/* ---- hooks ---------------------------------------------------------------- */

void hook_init(struct hook_run *h, struct worker *owner, const char *owner_name, const char *what, char **argv,
               usec_t timeout)
{
        memset(h, 0, sizeof *h);
        /* a worker's hook: what is "pre_stop" or "post_stop" (static), and
         * its label is made only when there is a hook (memory per worker) */
        if (owner) {
                h->what = what;
                h->label = argv ? xasprintf("%s/%s", owner_name, what) : NULL;
        } else {
                h->label = xasprintf("%s/%s", owner_name, what);
                h->what = h->label + strlen(owner_name) + 1;
        }
        h->argv = strv_dup(argv);
        h->timeout = timeout;
        h->owner = owner;
        h->pidfd = -1;
        h->exit_code = -1;
        h->deadline = USEC_INFINITY;
}

void hook_done(struct hook_run *h)
{
        free(h->label);
        strv_free(h->argv);
        h->label = NULL;
        h->argv = NULL;
}

/* The name a hook's messages are logged under, and how it is called there. */
static const char *hook_who(const struct hook_run *h) { return h->owner ? h->owner->c.name : NULL; }
static const char *hook_what(const struct hook_run *h) { return h->owner ? h->what : h->label; }

bool hook_spawn(struct worker_env *env, struct hook_run *h)
{
        struct spawned sp = { .pidfd = -1 };
        char *cmd;
        int r;

        if (hook_busy(h)) {
                /* callers wait for a previous run: never two runs of one hook */
                log_error(hook_who(h), "hook", "%s: previous run (pid %d) still running: not started again",
                          hook_what(h), (int)h->pid);
                h->outcome = OUTCOME_FAILED;
                return false;
        }
        cmd = strv_join(h->argv);
        log_info(hook_who(h), "hook", "%s started: %s", hook_what(h), cmd);
        free(cmd);
        h->started = env_now(env);
        h->exit_code = -1;
        h->exit_signal = 0;
        r = env->ops->spawn_hook(env->ctx, h, &sp);
        if (r < 0) {
                h->outcome = OUTCOME_FAILED;
                h->ended = h->started;
                log_error(hook_who(h), "hook", "%s: cannot start: %s", hook_what(h), strerror(-r));
                return false;
        }
        h->pid = sp.pid;
        h->pidfd = sp.pidfd;
        hmap_put(&env->hook_pids, (uintptr_t)h->pid, h);
        h->deadline = h->started + h->timeout;
        env_extend_timeout(env, h->deadline);
        return true;
}

void hook_kill(struct worker_env *env, struct hook_run *h, enum outcome o)
{
        if (!h || !hook_busy(h))
                return;
        (void)env->ops->signal(env->ctx, h->pid, h->pidfd, SIGKILL, true);
        if (h->outcome == OUTCOME_NONE)
                h->outcome = h->stale ? OUTCOME_SKIPPED : o; /* this stop's hook never ran */
        h->deadline = USEC_INFINITY;
}

/* The record of the hook's run, from its exit. */
static void record_hook_exit(struct worker_env *env, struct hook_run *h, int status)
{
        char b[32], e[EXIT_DESC_MAX];

        h->ended = env_now(env);
        h->deadline = USEC_INFINITY;
        if (WIFEXITED(status))
                h->exit_code = WEXITSTATUS(status);
        else if (WIFSIGNALED(status))
                h->exit_signal = WTERMSIG(status);
        if (h->outcome == OUTCOME_NONE)
                h->outcome = exit_ok(status) ? OUTCOME_OK : OUTCOME_FAILED;
        log_msg(h->outcome == OUTCOME_OK ? LOG_INFO : LOG_WARNING, hook_who(h), "hook", "%s ended: %s in %s (%s)",
                hook_what(h), outcome_name(h->outcome), dur(h->ended - h->started, b),
                format_exit(status, 0, e, sizeof e));
}

void hook_ended(struct worker_env *env, struct hook_run *h, int status)
{
        char e[EXIT_DESC_MAX];
        pid_t pid = h->pid;

        hmap_del(&env->hook_pids, (uintptr_t)h->pid);
        env->ops->release(env->ctx, h->pid, h->pidfd);
        h->pid = 0;
        h->pidfd = -1;
        if (h->stale) {
                /* a run of an earlier stop, whose record is written: the current
                 * record is this stop's (its deadline too, if it waits) */
                h->stale = false;
                log_notice(hook_who(h), "hook", "%s: previous run (pid %d) ended at last (%s)", hook_what(h), (int)pid,
                           format_exit(status, 0, e, sizeof e));
        } else {
                record_hook_exit(env, h, status);
        }
        /* the stop may have waited for it */
        if (h->owner && h->owner->state == WORKER_STOPPING)
                worker_advance_stop(env, h->owner);
}

/* ---- life ------------------------------------------------------------------ */

static void init_timer(struct timer *t, enum timer_kind kind)
{
        heap_node_init(&t->node);
        t->kind = kind;
        t->gen = 0;
}

/* Its hook records, NULL when it has none. */
static struct hook_run *pre_hook(const struct worker *w) { return w->hooks ? &w->hooks->pre : NULL; }
static struct hook_run *post_hook(const struct worker *w) { return w->hooks ? &w->hooks->post : NULL; }

/* A hook configured and not done yet in this stop. */
static bool hook_pending(const struct hook_run *h) { return h && h->argv && h->outcome == OUTCOME_NONE; }
static bool hook_running(const struct hook_run *h) { return h && hook_busy(h); }

static void hook_skip_pending(struct hook_run *h)
{
        if (hook_pending(h))
                h->outcome = OUTCOME_SKIPPED;
}

/* Nothing in the record counts: no hook, no process, no result. */
static bool hook_unused(const struct hook_run *h)
{
        return !h->argv && !hook_busy(h) && h->outcome == OUTCOME_NONE && !h->blocked;
}

static void hooks_free(struct worker *w)
{
        if (!w->hooks)
                return;
        hook_done(&w->hooks->pre);
        hook_done(&w->hooks->post);
        free(w->hooks);
        w->hooks = NULL;
}

/* Its hook records go once neither is configured nor counts any more. */
static void hooks_trim(struct worker *w)
{
        if (w->hooks && hook_unused(&w->hooks->pre) && hook_unused(&w->hooks->post))
                hooks_free(w);
}

static void hook_reconfigure(struct hook_run *h, const char *owner_name, char **argv, usec_t timeout);

/* The records follow the settings: made when a hook is configured; a run
 * under way, or the result of the last stop, keeps its record when a
 * reload removes its hook. */
static void hooks_sync(struct worker *w)
{
        if (!w->hooks && (w->c.pre_stop || w->c.post_stop)) {
                w->hooks = xcalloc(1, sizeof *w->hooks);
                hook_init(&w->hooks->pre, w, w->c.name, "pre_stop", w->c.pre_stop, w->c.pre_stop_timeout);
                hook_init(&w->hooks->post, w, w->c.name, "post_stop", w->c.post_stop, w->c.post_stop_timeout);
        } else if (w->hooks) {
                hook_reconfigure(&w->hooks->pre, w->c.name, w->c.pre_stop, w->c.pre_stop_timeout);
                hook_reconfigure(&w->hooks->post, w->c.name, w->c.post_stop, w->c.post_stop_timeout);
                hooks_trim(w);
        }
}

struct worker *worker_new(struct worker_env *env, const struct conf_worker *c)
{
        struct worker *w = xcalloc(1, sizeof *w);

        conf_worker_copy(&w->c, c);
        w->state = WORKER_WAITING;
        w->goal = GOAL_RUN;
        w->pidfd = -1;
        w->exit_status = -1;
        init_timer(&w->dl, TIMER_WORKER);
        init_timer(&w->wd, TIMER_WATCHDOG);
        init_timer(&w->pt, TIMER_PROBE);
        w->next_delay = w->c.restart_delay;
        w->outcome = OUTCOME_NOT_STARTED;
        hooks_sync(w);
        account(env, w, +1);
        return w;
}

struct worker *worker_free(struct worker_env *env, struct worker *w)
{
        if (!w)
                return NULL;
        account(env, w, -1);
        heap_remove(&env->deadlines, &w->dl.node);
        heap_remove(&env->deadlines, &w->wd.node);
        heap_remove(&env->deadlines, &w->pt.node);
        if (w->probe_busy && env->ops->probe_cancel)
                env->ops->probe_cancel(env->ctx, w);
        if (w->alive)
                hmap_del(&env->pids, (uintptr_t)w->pid);
        if (w->pidfd >= 0)
                env->ops->release(env->ctx, w->pid, w->pidfd);
        for (struct hook_run *h = pre_hook(w); h; h = h == pre_hook(w) ? post_hook(w) : NULL)
                if (hook_busy(h)) {
                        hmap_del(&env->hook_pids, (uintptr_t)h->pid);
                        env->ops->release(env->ctx, h->pid, h->pidfd);
                }
        if (env->ops->forget)
                env->ops->forget(env->ctx, w);
        conf_worker_done(&w->c);
        free(w->start_times);
        free(w->status_text);
        hooks_free(w);
        free(w);
        return NULL;
}

/* The hook's settings change; a run under way keeps its record. */
static void hook_reconfigure(struct hook_run *h, const char *owner_name, char **argv, usec_t timeout)
{
        strv_free(h->argv);
        h->argv = strv_dup(argv);
        h->timeout = timeout;
        if (argv && !h->label)
                h->label = xasprintf("%s/%s", owner_name, h->what);
}

static bool probe_same(const struct conf_probe *a, const struct conf_probe *b);
static const struct conf_probe *probe_conf(const struct worker *w, enum probe_use use);
static void probe_off(struct worker_env *env, struct worker *w);

bool worker_reconfigure(struct worker_env *env, struct worker *w, const struct conf_worker *c)
{
        bool changed = !conf_worker_same_process(&w->c, c);
        /* the probe of the schedule armed (or the one armed next) */
        bool probes = !probe_same(probe_conf(w, w->probe_use),
                                  w->probe_use == PROBE_READY ? &c->ready_probe : &c->health);
        char *name = w->c.name;

        /* changed: an attempt under way ends before the settings it was
         * started with are freed, and the schedule starts again with the
         * new ones (health: its count of failures too) */
        if (probes)
                probe_off(env, w);
        /* the name stays the same string: maps and output streams borrow it */
        w->c.name = NULL;
        account(env, w, -1); /* its type may change */
        conf_worker_done(&w->c);
        conf_worker_copy(&w->c, c);
        free(w->c.name);
        w->c.name = name;
        if (w->c.health.kind == PROBE_NONE)
                w->health_fails = 0; /* no probe: nothing failing ("-" in status, not degraded) */
        account(env, w, +1);
        hooks_sync(w);
        /* the start limit counts afresh under the new settings (a ring of
         * its burst's size is made when needed) */
        free(w->start_times);
        w->start_times = NULL;
        w->n_start_times = 0;
        w->next_delay = min_u(w->next_delay, w->c.restart_delay_max);
        if (!w->c.watchdog)
                env_timer_set(env, &w->wd, USEC_INFINITY);
        probe_sync(env, w); /* a probe added or removed too */
        return changed;
}

/* ---- starting ------------------------------------------------------------ */

static void run_ended(struct worker_env *env, struct worker *w);

static bool start_limit_hit(struct worker *w, usec_t t)
{
        unsigned burst = w->c.start_limit_burst;

        if (burst == 0 || w->n_start_times < burst)
                return false;
        /* the ring's oldest entry: the burst-th start before this one (no
         * ring: burst 1, and that start is the last one) */
        return t - (w->start_times ? w->start_times[w->starts % burst] : w->started_at) < w->c.start_limit_interval;
}

static void became_ready(struct worker_env *env, struct worker *w)
{
        w->ready_once = true;
        w->ever_ready = true;
        set_state(env, w, WORKER_RUNNING);
        set_deadline(env, w, USEC_INFINITY);
        if (w->c.watchdog && !worker_wants_down(w))
                env_timer_set(env, &w->wd, env_now(env) + w->c.watchdog);
        log_info(w->c.name, "ready", "ready");
}

static void count_start(struct worker *w, usec_t t)
{
        unsigned burst = w->c.start_limit_burst;

        if (burst) {
                /* the ring at the second start counted, with the first one's time */
                if (!w->start_times && w->n_start_times > 0) {
                        w->start_times = xcalloc(burst, sizeof(usec_t));
                        w->start_times[(w->starts - 1) % burst] = w->started_at;
                }
                if (w->start_times)
                        w->start_times[w->starts % burst] = t;
                if (w->n_start_times < burst)
                        w->n_start_times++;
        }
        w->starts++;
        w->blocked_logged = false;
        w->leftovers_signalled = false;
        w->start_failed = false;
        w->fail_pending = false;
        w->fail_why = NULL;
        w->ready_once = false;
        w->exec_known = false;
        w->exec_err = 0;
        w->notified_ready = false;
        /* has_exit/exit_status stay: the last exit is shown until the next one */
        w->started_at = t;
        free(w->status_text);
        w->status_text = NULL;
}

void worker_start(struct worker_env *env, struct worker *w)
{
        struct spawned sp = { .pidfd = -1 };
        usec_t t = env_now(env);
        char *cmd = strv_join(w->c.argv);
        int r;

        count_start(w, t);
        log_info(w->c.name, "starting", "starting: %s", cmd);
        free(cmd);
        r = w->alive || w->pidfd >= 0 ? -EBUSY : env->ops->spawn_worker(env->ctx, w, &sp);
        set_state(env, w, WORKER_STARTING);
        if (r < 0) {
                log_error(w->c.name, "start-failed", "cannot start: %s", strerror(-r));
                w->exec_known = true;
                w->exec_err = -r;
                w->has_exit = true;
                w->exit_status = 127 << 8;
                w->exit_stop_signal = 0;
                run_ended(env, w);
                return;
        }
        w->pid = sp.pid;
        w->pidfd = sp.pidfd;
        w->open_streams += sp.streams;
        w->alive = true;
        hmap_put(&env->pids, (uintptr_t)w->pid, w);
        w->outcome = OUTCOME_NONE;
        set_deadline(env, w, w->c.ready_timeout ? t + w->c.ready_timeout : USEC_INFINITY);
        log_info(w->c.name, "started", "started (pid %d)", (int)w->pid);
}

/* It ended by itself for good (exited, done, failed for good): the
 * supervisor hears of it last (stop_on_exit may shut everything down). */
static void ended_for_good(struct worker_env *env, struct worker *w)
{
        if (env->ended && !env->shutting_down && w->goal == GOAL_RUN)
                env->ended(env, w);
}

static void fail_for_good(struct worker_env *env, struct worker *w, const char *why)
{
        set_state(env, w, WORKER_FAILED);
        w->outcome = OUTCOME_FAILED;
        set_deadline(env, w, USEC_INFINITY);
        env_timer_set(env, &w->wd, USEC_INFINITY);
        log_error(w->c.name, "failed", "failed for good: %s", why);
        if (env->failed)
                env->failed(env, w);
        ended_for_good(env, w);
}

static void schedule_restart(struct worker_env *env, struct worker *w)
{
        usec_t t = env_now(env);
        char b1[32], b2[32];

        if (t - w->started_at >= RESTART_RESET_AFTER)
                w->next_delay = w->c.restart_delay;
        if (start_limit_hit(w, t + w->next_delay)) {
                char *why = xasprintf("%u starts within %s", w->c.start_limit_burst,
                                      dur(w->c.start_limit_interval, b1));
                fail_for_good(env, w, why);
                free(why);
                return;
        }
        set_state(env, w, WORKER_BACKOFF);
        set_deadline(env, w, t + w->next_delay);
        log_notice(w->c.name, "restarting", "restarting in %s (start %u of at most %u within %s)",
                   dur(w->next_delay, b1), w->starts + 1, w->c.start_limit_burst, dur(w->c.start_limit_interval, b2));
        w->next_delay = min_u(w->next_delay > 0 ? w->next_delay * 2 : 1, w->c.restart_delay_max);
}

static char *last_exit(const struct worker *w, char *buf)
{
        return format_exit(w->exit_status, w->exit_stop_signal, buf, EXIT_DESC_MAX);
}

/* A run ended by itself (not during a stop): decide what comes next. */
static void run_ended(struct worker_env *env, struct worker *w)
{
        bool failure = !w->exec_known || w->exec_err != 0 || !exit_ok(w->exit_status) || w->start_failed;
        bool restart;
        char buf[EXIT_DESC_MAX];

        set_deadline(env, w, USEC_INFINITY);
        env_timer_set(env, &w->wd, USEC_INFINITY);
        /* a failed start was stopped by us: worker_on_exit() logged its exit */
        if (w->exec_err == 0 && !w->start_failed)
                log_msg(failure ? LOG_WARNING : LOG_INFO, w->c.name, "exited", "%s", last_exit(w, buf));
        if (w->c.type == WORKER_TYPE_ONESHOT && !failure) {
                set_state(env, w, WORKER_EXITED);
                w->outcome = OUTCOME_EXITED;
                log_info(w->c.name, "ready", "done");
                ended_for_good(env, w);
                return;
        }
        if (env->shutting_down || worker_wants_down(w)) {
                set_state(env, w, failure ? WORKER_FAILED : WORKER_EXITED);
                w->outcome = failure ? OUTCOME_FAILED : OUTCOME_EXITED;
                return;
        }
        if (w->goal == GOAL_RESTART) {
                /* it was to be restarted anyway: it starts with its new settings */
                set_goal(env, w, GOAL_RUN);
                set_state(env, w, WORKER_WAITING);
                w->outcome = failure ? OUTCOME_FAILED : OUTCOME_EXITED;
                return;
        }
        restart = w->c.restart == RESTART_ALWAYS || (w->c.restart == RESTART_ON_FAILURE && failure);
        if (!restart) {
                if (failure)
                        fail_for_good(env, w,
                                      w->exec_err       ? "could not start"
                                      : w->start_failed ? (w->fail_why ? w->fail_why
                                                                       : "not ready in time, or its watchdog expired")
                                                        : last_exit(w, buf));
                else {
                        set_state(env, w, WORKER_EXITED);
                        w->outcome = OUTCOME_EXITED;
                        ended_for_good(env, w);
                }
                return;
        }
        w->outcome = failure ? OUTCOME_FAILED : OUTCOME_EXITED;
        schedule_restart(env, w);
}

void worker_on_exec_status(struct worker_env *env, struct worker *w, int err, const char *stage)
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
                became_ready(env, w);
        }
        probe_sync(env, w); /* a readiness probe starts once exec succeeded */
}

/* ---- stopping ------------------------------------------------------------ */

/* Hook h (pre_stop, post_stop) is due in w's stop: it runs, unless its
 * previous run, killed at its timeout in an earlier stop, is not reaped yet
 * (a process in uninterruptible sleep, on a hung NFS mount say, does not
 * die at once). A hook never runs twice at once: the stop waits for that
 * run up to h's timeout and runs h, in what is left of that time, once it
 * ends; if it does not, hook_deadline() skips h. True while the stop waits,
 * for h or for its previous run. */
static bool stop_hook_due(struct worker_env *env, struct worker *w, struct hook_run *h)
{
        usec_t bound;
        char b[32];

        if (hook_busy(h) && !h->stale)
                return true;
        if (env->forced) {
                h->outcome = OUTCOME_SKIPPED;
                h->deadline = USEC_INFINITY;
                log_info(w->c.name, "hook", "%s skipped (forced)", h->what);
                return false;
        }
        if (hook_busy(h)) {
                if (h->deadline == USEC_INFINITY) {
                        h->deadline = env_now(env) + h->timeout;
                        log_notice(w->c.name, "hook", "%s: previous run (pid %d) still running; waiting for it up to %s",
                                   h->what, (int)h->pid, dur(h->timeout, b));
                        env_extend_timeout(env, h->deadline);
                }
                set_deadline(env, w, h->deadline);
                return true;
        }
        /* set while a previous run was waited for: the hook's time is what is left */
        bound = h->deadline;
        h->deadline = USEC_INFINITY;
        if (!hook_spawn(env, h))
                return false;
        h->deadline = min_u(h->deadline, bound);
        set_deadline(env, w, h->deadline);
        return true;
}

/* The deadline of w's stop hook h: kill it, or stop waiting for its previous run. */
static void hook_deadline(struct worker_env *env, struct worker *w, struct hook_run *h)
{
        char b[32];

        if (!hook_running(h) || h->outcome != OUTCOME_NONE)
                return;
        if (h->stale) {
                log_warning(w->c.name, "hook", "%s: previous run (pid %d) still running; skipped", h->what, (int)h->pid);
                h->outcome = OUTCOME_SKIPPED;
                h->blocked = true;
                h->deadline = USEC_INFINITY;
                return;
        }
        log_warning(w->c.name, "hook", "%s timed out after %s", h->what, dur(h->deadline - h->started, b));
        hook_kill(env, h, OUTCOME_TIMEOUT);
}

static void signal_worker(struct worker_env *env, struct worker *w, int sig, bool process_too)
{
        (void)env->ops->signal(env->ctx, w->pid, process_too ? w->pidfd : -1, sig,
                               !process_too || w->c.kill_mode == KILL_GROUP);
}

static void send_stop_signal(struct worker_env *env, struct worker *w)
{
        char b[32];
        int r;

        w->phase = PHASE_SIGNALLED;
        w->stop_signal_sent = w->c.stop_signal;
        w->kill_at = env_now(env) + w->c.stop_timeout;
        set_deadline(env, w, w->kill_at);
        w->recheck_delay = 0;
        log_info(w->c.name, "stopping", "stopping (%s, timeout %s)", signal_name(w->c.stop_signal),
                 dur(w->c.stop_timeout, b));
        env_extend_timeout(env, w->kill_at);
        r = env->ops->signal(env->ctx, w->pid, w->pidfd, w->c.stop_signal, w->c.kill_mode == KILL_GROUP);
        if (r < 0 && r != -ESRCH)
                log_warning(w->c.name, "stopping", "sending %s: %s", signal_name(w->c.stop_signal), strerror(-r));
        /* a stopped (SIGSTOP) process would never see the signal; the pidfd
         * was just checked and the pid cannot be recycled before we reap it */
        if (r == 0 && w->c.stop_signal != SIGCONT && w->c.stop_signal != SIGKILL)
                (void)env->ops->signal(env->ctx, w->pid, -1, SIGCONT, w->c.kill_mode == KILL_GROUP);
}

static bool group_has_members(struct worker_env *env, struct worker *w)
{
        return w->c.kill_mode == KILL_GROUP && w->pid > 0 && env->ops->group_alive &&
               env->ops->group_alive(env->ctx, w->pid);
}

static void finish_stop(struct worker_env *env, struct worker *w)
{
        char b[32];

        w->stop_ended = env_now(env);
        w->phase = PHASE_NONE;
        set_deadline(env, w, USEC_INFINITY);
        if (w->stop_reason == STOP_FAILED_START) {
                /* not ready in time or watchdog missed: a failure, however it exited */
                set_state(env, w, WORKER_STARTING);
                w->stop_reason = STOP_NONE;
                w->start_failed = true;
                run_ended(env, w);
                return;
        }
        if (!env->shutting_down && (w->goal == GOAL_RUN || w->goal == GOAL_RESTART)) {
                /* a restart, or started again (gracectl start) while it was stopping */
                bool restart = w->goal == GOAL_RESTART;

                set_goal(env, w, GOAL_RUN);
                w->stop_reason = STOP_NONE;
                set_state(env, w, WORKER_WAITING);
                w->outcome = OUTCOME_NONE;
                log_info(w->c.name, "stopped", restart ? "stopped for a restart" : "stopped; starting again as requested");
                return;
        }
        set_state(env, w, WORKER_DOWN);
        log_info(w->c.name, "stopped", "stopped (%s in %s)", outcome_name(w->outcome),
                 dur(w->stop_ended - w->stop_began, b));
}

/* The leader is gone; its group may still hold processes. False while the
 * stop waits for them. */
static bool group_gone(struct worker_env *env, struct worker *w)
{
        if (w->phase != PHASE_SIGNALLED || !group_has_members(env, w))
                return true;
        /* the rest of the group gets SIGKILL at kill_at; nothing tells us
         * when it leaves earlier, so look again with a backoff (only while
         * such a stop is pending) */
        w->recheck_delay = w->recheck_delay ? min_u(w->recheck_delay * 2, USEC_PER_SEC) : 10 * USEC_PER_MSEC;
        set_deadline(env, w, min_u(w->kill_at, env_now(env) + w->recheck_delay));
        return false;
}

void worker_advance_stop(struct worker_env *env, struct worker *w)
{
        for (;;) {
                switch (w->phase) {
                case PHASE_PRE_STOP:
                        if (hook_pending(pre_hook(w)) && stop_hook_due(env, w, pre_hook(w)))
                                return;
                        if (w->alive && !env->forced) {
                                send_stop_signal(env, w);
                                return;
                        }
                        w->phase = w->alive ? PHASE_KILLED : PHASE_DRAIN;
                        continue;
                case PHASE_SIGNALLED:
                case PHASE_KILLED:
                        if (w->alive || !group_gone(env, w))
                                return;
                        w->phase = PHASE_DRAIN;
                        set_deadline(env, w, env_now(env) + w->c.stop_timeout);
                        continue;
                case PHASE_DRAIN:
                        if (w->open_streams > 0)
                                return;
                        set_deadline(env, w, USEC_INFINITY);
                        w->phase = PHASE_POST_STOP;
                        continue;
                case PHASE_POST_STOP:
                        if (hook_pending(post_hook(w)) && stop_hook_due(env, w, post_hook(w)))
                                return;
                        if (hook_running(post_hook(w)) && !post_hook(w)->stale)
                                return; /* killed: wait for the reap */
                        finish_stop(env, w);
                        return;
                case PHASE_NONE:
                        return;
                }
        }
}

/* A stop begins: a new stop record. It was not stopping before, so a hook
 * still running is a run of an earlier stop. */
static void open_stop(struct worker_env *env, struct worker *w, enum stop_reason why)
{
        w->stop_reason = why;
        w->fail_pending = false;
        set_state(env, w, WORKER_STOPPING);
        w->stop_began = env_now(env);
        w->stop_signal_sent = 0;
        for (struct hook_run *h = pre_hook(w); h; h = h == pre_hook(w) ? post_hook(w) : NULL) {
                h->stale = hook_busy(h);
                h->outcome = OUTCOME_NONE;
                h->blocked = false;
        }
        hooks_trim(w); /* a hook removed by a reload: its record counted until now */
}

void worker_begin_stop(struct worker_env *env, struct worker *w, enum stop_reason why)
{
        open_stop(env, w, why);
        w->outcome = OUTCOME_STOPPED;
        env_timer_set(env, &w->wd, USEC_INFINITY);
        w->phase = PHASE_PRE_STOP;
        worker_advance_stop(env, w);
}

void worker_settle_down(struct worker_env *env, struct worker *w)
{
        set_deadline(env, w, USEC_INFINITY);
        if (w->state == WORKER_WAITING && w->outcome == OUTCOME_NONE)
                w->outcome = OUTCOME_NOT_STARTED;
        else if (w->state == WORKER_BACKOFF && w->outcome != OUTCOME_EXITED)
                w->outcome = OUTCOME_FAILED; /* waiting to retry a failure */
        if (w->state == WORKER_WAITING || w->state == WORKER_BACKOFF)
                set_state(env, w, WORKER_DOWN);
        hook_skip_pending(pre_hook(w));
        hook_skip_pending(post_hook(w));
}

void worker_stop_leftovers(struct worker_env *env, struct worker *w)
{
        char b[32];

        if (w->state == WORKER_STOPPING || w->alive || w->open_streams == 0 || w->leftovers_signalled ||
            !group_has_members(env, w))
                return;
        w->leftovers_signalled = true;
        set_deadline(env, w, env_now(env) + w->c.stop_timeout);
        log_info(w->c.name, "stopping", "stopping what is left of its process group (%s, timeout %s)",
                 signal_name(w->c.stop_signal), dur(w->c.stop_timeout, b));
        signal_worker(env, w, w->c.stop_signal, false);
        signal_worker(env, w, SIGCONT, false);
}

/* ---- exits, output, notify ------------------------------------------------ */

void worker_on_exit(struct worker_env *env, struct worker *w, int status)
{
        char buf[EXIT_DESC_MAX];

        hmap_del(&env->pids, (uintptr_t)w->pid);
        env->ops->release(env->ctx, w->pid, w->pidfd);
        w->pidfd = -1;
        w->alive = false;
        probe_sync(env, w); /* an attempt under way is ended */
        if (w->fail_pending) {
                /* it failed (health, watchdog) and ended before its stop began */
                w->fail_pending = false;
                w->start_failed = true;
        }
        w->has_exit = true;
        w->exit_status = status;
        /* worker_begin_stop() cleared it: a stop signal sent to this very process */
        w->exit_stop_signal = w->state == WORKER_STOPPING ? w->stop_signal_sent : 0;
        if (!w->exec_known) {
                /* the exec-status pipe is read before the exit is delivered;
                 * getting here means the status was lost: count as a failure */
                w->exec_known = true;
                w->exec_err = exit_ok(status) ? 0 : EIO;
        }
        if (w->state != WORKER_STOPPING) {
                run_ended(env, w);
                return;
        }
        log_info(w->c.name, "exited", "%s", last_exit(w, buf));
        if (w->phase == PHASE_PRE_STOP || (w->phase == PHASE_DRAIN && w->stop_signal_sent == 0))
                w->outcome = exit_ok(status) ? OUTCOME_EXITED : OUTCOME_FAILED;
        worker_advance_stop(env, w);
}

/* The pipes still open are no longer waited for; their EOF, if it ever
 * comes, counts for nothing. */
static void drop_streams(struct worker *w)
{
        w->open_streams = 0;
        w->stream_epoch++;
}

void worker_on_stream_eof(struct worker_env *env, struct worker *w, unsigned epoch)
{
        if (epoch != w->stream_epoch)
                return;
        if (w->open_streams > 0)
                w->open_streams--;
        if (w->state == WORKER_STOPPING)
                worker_advance_stop(env, w);
}

/* The worker says it is ready (READY=1, a line its log probe matches). The
 * message can overtake the exec status: a process that speaks has exec'd,
 * but it is ready only once the status is read, and good. */
static void ready_said(struct worker_env *env, struct worker *w)
{
        if (w->state != WORKER_STARTING || w->c.type != WORKER_TYPE_SIMPLE)
                return;
        if (w->exec_known && w->exec_err == 0)
                became_ready(env, w);
        else
                w->notified_ready = true;
}

/* One datagram: newline-separated assignments. */
void worker_on_notify(struct worker_env *env, struct worker *w, const char *msg)
{
        for (const char *p = msg; *p;) {
                const char *e = strchrnul(p, '\n');
                size_t len = (size_t)(e - p);

                if (len == 7 && strncmp(p, "READY=1", 7) == 0) {
                        if (w->c.ready == READY_NOTIFY)
                                ready_said(env, w);
                } else if (len >= 7 && strncmp(p, "STATUS=", 7) == 0) {
                        free(w->status_text);
                        w->status_text = strndup(p + 7, len - 7);
                        log_info(w->c.name, "status", "status: %s", w->status_text ? w->status_text : "");
                } else if (len == 10 && strncmp(p, "WATCHDOG=1", 10) == 0) {
                        if (w->state == WORKER_RUNNING && w->c.watchdog)
                                env_timer_set(env, &w->wd, env_now(env) + w->c.watchdog);
                } else if (len == 10 && strncmp(p, "STOPPING=1", 10) == 0) {
                        log_info(w->c.name, "stopping", "worker says it is stopping");
                } else if (len > 0) {
                        log_debug(w->c.name, "notify", "ignoring notify field %.*s", (int)(len > 64 ? 64 : len), p);
                }
                p = *e ? e + 1 : e;
        }
}

/* ---- probes ------------------------------------------------------------------ */

static bool polled(enum probe_kind k) { return k != PROBE_NONE && k != PROBE_LOG; }

static bool str_same(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

static bool probe_same(const struct conf_probe *a, const struct conf_probe *b)
{
        return a->kind == b->kind && str_same(a->target, b->target) && strv_equal(a->argv, b->argv) &&
               a->interval == b->interval && a->timeout == b->timeout && a->failures == b->failures;
}

static const struct conf_probe *probe_conf(const struct worker *w, enum probe_use use)
{
        return use == PROBE_READY ? &w->c.ready_probe : &w->c.health;
}

/* The settings, with the defaults for what a group leaves at 0. */
static usec_t probe_interval(const struct worker *w, enum probe_use use)
{
        usec_t i = probe_conf(w, use)->interval;

        return i ? i : use == PROBE_READY ? DEFAULT_READY_PROBE_INTERVAL : DEFAULT_HEALTH_INTERVAL;
}

static usec_t probe_timeout(const struct worker *w, enum probe_use use)
{
        usec_t t = probe_conf(w, use)->timeout;

        return t ? t : DEFAULT_PROBE_TIMEOUT;
}

static unsigned health_max(const struct worker *w)
{
        return w->c.health.failures ? w->c.health.failures : DEFAULT_HEALTH_FAILURES;
}

/* The consecutive failures change: the supervisor counts the workers whose
 * health is failing (for STATUS=). */
static void set_health_fails(struct worker_env *env, struct worker *w, unsigned n)
{
        account(env, w, -1);
        w->health_fails = n;
        account(env, w, +1);
}

/* Which probe runs now: readiness once exec succeeded, until ready; health
 * once ready. None while it goes down or restarts, stops, or waits for its
 * parts to stop before its failure stop. */
static bool probe_wanted(const struct worker *w, enum probe_use *use)
{
        if (w->goal != GOAL_RUN || w->fail_pending || !w->alive || w->c.type != WORKER_TYPE_SIMPLE)
                return false;
        *use = w->state == WORKER_STARTING ? PROBE_READY : PROBE_HEALTH;
        if (w->state == WORKER_STARTING)
                return w->c.ready == READY_PROBE && polled(w->c.ready_probe.kind) && w->exec_known &&
                       w->exec_err == 0;
        return w->state == WORKER_RUNNING && polled(w->c.health.kind);
}

/* The attempt under way, if any, is ended: no result is awaited for it. */
static void end_attempt(struct worker_env *env, struct worker *w)
{
        if (!w->probe_busy)
                return;
        w->probe_busy = false;
        if (env->ops->probe_cancel)
                env->ops->probe_cancel(env->ctx, w);
}

static void probe_off(struct worker_env *env, struct worker *w)
{
        end_attempt(env, w);
        w->probe_on = false;
        env_timer_set(env, &w->pt, USEC_INFINITY);
}

/* Arms or disarms the schedule to match the state. Never begins an attempt
 * itself (TIMER_PROBE does): safe inside a change of state. */
static void probe_sync(struct worker_env *env, struct worker *w)
{
        enum probe_use use = PROBE_READY;
        bool want = probe_wanted(w, &use);

        if (want ? w->probe_on && w->probe_use == use : !w->probe_on && !w->probe_busy)
                return; /* as it should be */
        probe_off(env, w);
        if (!want)
                return; /* the count of failures stays: "failing 3/3" while it stops */
        w->probe_on = true;
        w->probe_use = use;
        if (use == PROBE_HEALTH)
                set_health_fails(env, w, 0);
        /* readiness: the first attempt at once; health: one interval after
         * ready (readiness was just proven) */
        env_timer_set(env, &w->pt, env_now(env) + (use == PROBE_READY ? 0 : probe_interval(w, use)));
}

/* It failed while running (watchdog, health): stopped with the usual
 * sequence, and a failure under its restart policy. While it has parts
 * (part_of) still up, the stop waits: the supervisor stops them first and
 * then calls worker_stop_failed(). why: for "failed for good" (static). */
static void fail_running(struct worker_env *env, struct worker *w, const char *why)
{
        w->fail_why = why;
        if (env->parts_up && env->parts_up(env, w)) {
                w->fail_pending = true; /* not ready any more: its parts stop */
                probe_sync(env, w);
                if (env->touched)
                        env->touched(env, w);
                return;
        }
        worker_begin_stop(env, w, STOP_FAILED_START);
}

void worker_stop_failed(struct worker_env *env, struct worker *w)
{
        if (w->fail_pending)
                worker_begin_stop(env, w, STOP_FAILED_START);
}

static void health_result(struct worker_env *env, struct worker *w, bool ok, const char *reason)
{
        unsigned max = health_max(w);

        if (ok) {
                if (w->health_fails)
                        log_notice(w->c.name, "health", "health ok again");
                set_health_fails(env, w, 0);
                return;
        }
        set_health_fails(env, w, w->health_fails + 1);
        w->health_total++;
        log_debug(w->c.name, "health", "health check failed: %s", reason);
        if (w->health_fails >= max) {
                log_notice(w->c.name, "health", "health failed (%u/%u): %s", w->health_fails, max, reason);
                fail_running(env, w, health_failed);
        } else if (w->health_fails == 1) {
                log_notice(w->c.name, "health", "health failing (%u/%u): %s", w->health_fails, max, reason);
        }
}

/* The attempt under way ended; the next one begins one interval after
 * this one began (at once when that is past). */
static void probe_result(struct worker_env *env, struct worker *w, bool ok, const char *reason)
{
        usec_t next = w->probe_began + probe_interval(w, w->probe_use), t = env_now(env);

        w->probe_busy = false;
        env_timer_set(env, &w->pt, next > t ? next : t);
        if (!reason || !*reason)
                reason = ok ? "ok" : "failed";
        if (w->probe_use == PROBE_HEALTH)
                health_result(env, w, ok, reason);
        else if (ok)
                became_ready(env, w); /* and the health schedule follows */
        else
                log_debug(w->c.name, "probe", "not ready yet: %s", reason);
}

/* One attempt begins now, bounded by the probe's timeout. */
static void probe_begin(struct worker_env *env, struct worker *w)
{
        enum probe_use use = w->probe_use;
        usec_t t = env_now(env);
        int r;

        w->probe_began = t;
        w->probe_busy = true;
        env_timer_set(env, &w->pt, t + probe_timeout(w, use));
        r = env->ops->probe_start ? env->ops->probe_start(env->ctx, w, use) : -EOPNOTSUPP;
        /* (should a result have come back from within probe_start, it was taken) */
        if (r < 0 && w->probe_busy && w->probe_use == use)
                probe_result(env, w, false, strerror(-r));
}

void worker_on_probe_timer(struct worker_env *env, struct worker *w)
{
        char b[32], why[64];

        if (!w->probe_on)
                return;
        if (w->probe_busy) {
                /* late: it is ended before the next one begins */
                end_attempt(env, w);
                snprintf(why, sizeof why, "timed out after %s", dur(probe_timeout(w, w->probe_use), b));
                probe_result(env, w, false, why);
                if (!w->probe_on || w->probe_began + probe_interval(w, w->probe_use) > env_now(env))
                        return;
        }
        probe_begin(env, w);
}

void worker_on_probe(struct worker_env *env, struct worker *w, enum probe_use use, bool ok, const char *reason)
{
        if (use == PROBE_READY && w->c.ready == READY_PROBE && w->c.ready_probe.kind == PROBE_LOG) {
                if (ok) /* a captured line of its current run matched */
                        ready_said(env, w);
                return;
        }
        if (!w->probe_busy || w->probe_use != use)
                return; /* no attempt of that use awaited: it no longer applies */
        probe_result(env, w, ok, reason);
}

/* ---- forcing and deadlines ------------------------------------------------ */

bool worker_force(struct worker_env *env, struct worker *w)
{
        bool began = false;

        if (w->goal != GOAL_REMOVE)
                set_goal(env, w, GOAL_DOWN);
        hook_kill(env, pre_hook(w), OUTCOME_FAILED);
        hook_kill(env, post_hook(w), OUTCOME_FAILED);
        if (w->alive) {
                if (w->state != WORKER_STOPPING) {
                        open_stop(env, w, STOP_SHUTDOWN);
                        began = true;
                }
                hook_skip_pending(pre_hook(w));
                w->outcome = OUTCOME_KILLED;
                w->phase = PHASE_KILLED;
                set_deadline(env, w, USEC_INFINITY);
                signal_worker(env, w, SIGKILL, true);
                log_warning(w->c.name, "killed", "killed (forced)");
        } else if (w->state == WORKER_STOPPING) {
                if (w->phase == PHASE_SIGNALLED && group_has_members(env, w))
                        signal_worker(env, w, SIGKILL, false);
                if (w->phase == PHASE_DRAIN)
                        drop_streams(w);
                hook_skip_pending(post_hook(w));
        }
        return began;
}

void worker_force_output(struct worker_env *env, struct worker *w)
{
        /* whatever still holds the output of a run that ended is not waited for */
        if (w->alive || w->state == WORKER_STOPPING || !w->open_streams)
                return;
        if (group_has_members(env, w))
                signal_worker(env, w, SIGKILL, false);
        log_debug(w->c.name, "output", "no longer waiting for its output (forced)");
        drop_streams(w);
}

/* The stop phase's deadline passed. */
static void stop_deadline(struct worker_env *env, struct worker *w)
{
        char b[32];

        switch (w->phase) {
        case PHASE_PRE_STOP:
                hook_deadline(env, w, pre_hook(w));
                break;
        case PHASE_SIGNALLED:
                if (!w->alive && env_now(env) < w->kill_at)
                        break; /* a re-check of the group */
                if (w->alive) {
                        log_warning(w->c.name, "killed", "killed after timeout %s", dur(w->c.stop_timeout, b));
                        w->outcome = OUTCOME_KILLED;
                } else {
                        log_warning(w->c.name, "killed", "killing what is left of its process group after %s",
                                    dur(w->c.stop_timeout, b));
                }
                w->phase = PHASE_KILLED;
                signal_worker(env, w, SIGKILL, w->alive);
                break;
        case PHASE_DRAIN:
                log_warning(w->c.name, "output", "output still open %s after exit; no longer waiting for it",
                            dur(w->c.stop_timeout, b));
                drop_streams(w);
                break;
        case PHASE_POST_STOP:
                hook_deadline(env, w, post_hook(w));
                break;
        default:
                break;
        }
        worker_advance_stop(env, w);
}

void worker_on_deadline(struct worker_env *env, struct worker *w)
{
        char b[32];

        switch (w->state) {
        case WORKER_STARTING:
                if (worker_wants_down(w) || w->goal == GOAL_RESTART)
                        return; /* being stopped anyway, in its turn */
                log_warning(w->c.name, "ready-timeout", "not ready after %s", dur(w->c.ready_timeout, b));
                worker_begin_stop(env, w, STOP_FAILED_START);
                return;
        case WORKER_BACKOFF:
                set_state(env, w, WORKER_WAITING); /* the scheduler starts it (deps, max_parallel) */
                return;
        case WORKER_STOPPING:
                stop_deadline(env, w);
                return;
        default:
                if (w->leftovers_signalled && !w->alive && w->open_streams > 0 && group_has_members(env, w)) {
                        log_warning(w->c.name, "killed", "killing what is left of its process group");
                        signal_worker(env, w, SIGKILL, false);
                }
                return;
        }
}

void worker_on_watchdog(struct worker_env *env, struct worker *w)
{
        char b[32];

        if (w->state != WORKER_RUNNING || worker_wants_down(w))
                return;
        log_warning(w->c.name, "watchdog", "watchdog timeout (%s without WATCHDOG=1)", dur(w->c.watchdog, b));
        fail_running(env, w, NULL);
}

struct worker *worker_of_timer(const struct timer *t)
{
        switch (t->kind) {
        case TIMER_WATCHDOG:
                return container_of(t, struct worker, wd);
        case TIMER_PROBE:
                return container_of(t, struct worker, pt);
        default:
                return container_of(t, struct worker, dl);
        }
}

/* ---- goals ------------------------------------------------------------------ */

void worker_set_goal(struct worker_env *env, struct worker *w, enum worker_goal g)
{
        set_goal(env, w, g);
        if (worker_wants_down(w))
                env_timer_set(env, &w->wd, USEC_INFINITY);
}

void worker_revive(struct worker_env *env, struct worker *w)
{
        set_goal(env, w, GOAL_RUN);
        if (w->state == WORKER_STOPPING || w->state == WORKER_STARTING || w->state == WORKER_RUNNING)
                return;
        set_state(env, w, WORKER_WAITING);
        w->outcome = OUTCOME_NONE;
        w->n_start_times = 0;
        w->next_delay = w->c.restart_delay;
}

bool worker_mark_blocked(struct worker *w, const char *dep)
{
        if (w->blocked_logged)
                return false;
        w->blocked_logged = true;
        w->outcome = OUTCOME_NOT_STARTED;
        log_warning(w->c.name, "blocked", "not starting: dependency %s failed", dep);
        return true;
}

/* ---- reading ------------------------------------------------------------------ */

const char *worker_name(const struct worker *w) { return w->c.name; }
const struct conf_worker *worker_conf(const struct worker *w) { return &w->c; }
enum worker_state worker_state(const struct worker *w) { return w->state; }
enum worker_goal worker_goal(const struct worker *w) { return w->goal; }
bool worker_removed(const struct worker *w) { return w->goal == GOAL_REMOVE; }
bool worker_was_ready(const struct worker *w) { return w->ever_ready; }
bool worker_alive(const struct worker *w) { return w->alive; }
pid_t worker_pid(const struct worker *w) { return w->starts ? w->pid : 0; }
int worker_pidfd(const struct worker *w) { return w->pidfd; }
usec_t worker_started_at(const struct worker *w) { return w->started_at; }
unsigned worker_starts(const struct worker *w) { return w->starts; }
unsigned worker_restarts(const struct worker *w) { return w->starts > 1 ? w->starts - 1 : 0; }
const char *worker_status_text(const struct worker *w) { return w->status_text; }
enum outcome worker_outcome(const struct worker *w) { return w->outcome; }
int worker_stop_signal_sent(const struct worker *w) { return w->stop_signal_sent; }

/* No hook records: read as records of hooks that were never configured. */
#define NO_HOOK(w) { .what = w, .pidfd = -1, .exit_code = -1, .deadline = USEC_INFINITY }
static const struct hook_run no_pre_stop = NO_HOOK("pre_stop"), no_post_stop = NO_HOOK("post_stop");

const struct hook_run *worker_pre_stop(const struct worker *w) { return w->hooks ? &w->hooks->pre : &no_pre_stop; }
const struct hook_run *worker_post_stop(const struct worker *w) { return w->hooks ? &w->hooks->post : &no_post_stop; }
unsigned worker_stream_epoch(const struct worker *w) { return w->stream_epoch; }
unsigned worker_open_streams(const struct worker *w) { return w->open_streams; }
bool worker_exec_known(const struct worker *w) { return w->exec_known; }
int worker_exit_stop_signal(const struct worker *w) { return w->exit_stop_signal; }
size_t worker_index(const struct worker *w) { return w->idx; }
void worker_set_index(struct worker *w, size_t idx) { w->idx = (unsigned)idx; }
void *worker_mech(const struct worker *w) { return w->mech; }
void worker_set_mech(struct worker *w, void *m) { w->mech = m; }

bool worker_fail_pending(const struct worker *w) { return w->fail_pending; }
bool worker_health_failing(const struct worker *w) { return health_failing(w); }
unsigned worker_health_fails(const struct worker *w) { return w->health_fails; }
unsigned worker_health_max(const struct worker *w) { return health_max(w); }
unsigned worker_health_failures(const struct worker *w) { return w->health_total; }

const char *worker_health(const struct worker *w, char *buf, size_t len)
{
        if (!polled(w->c.health.kind))
                return "-";
        switch (w->state) {
        case WORKER_WAITING:
        case WORKER_STARTING:
        case WORKER_BACKOFF:
                return "starting";
        case WORKER_RUNNING:
        case WORKER_STOPPING:
                if (!w->ready_once)
                        return "starting";
                if (!w->health_fails)
                        return "ok";
                snprintf(buf, len, "failing %u/%u", w->health_fails, health_max(w));
                return buf;
        default:
                return "-"; /* down, exited, failed: nothing to check */
        }
}

bool worker_wants_down(const struct worker *w)
{
        return w->goal == GOAL_DOWN || w->goal == GOAL_DOWN_WITH || w->goal == GOAL_REMOVE;
}

bool worker_is_ready(const struct worker *w)
{
        if (w->goal == GOAL_RESTART || w->fail_pending)
                return false;
        if (w->c.type == WORKER_TYPE_ONESHOT)
                return w->state == WORKER_EXITED;
        return w->state == WORKER_RUNNING || w->state == WORKER_EXITED;
}

bool worker_is_quiet(const struct worker *w)
{
        switch (w->state) {
        case WORKER_STARTING:
        case WORKER_RUNNING:
        case WORKER_STOPPING:
                return false;
        default:
                /* output still open (a run that ended by itself): not yet down */
                return !w->alive && w->open_streams == 0 && !hook_running(pre_hook(w)) && !hook_running(post_hook(w));
        }
}

bool worker_comes_back(const struct worker *w)
{
        return !worker_wants_down(w) && (w->state == WORKER_BACKOFF || w->state == WORKER_WAITING);
}

bool worker_has_exit(const struct worker *w, int *status)
{
        if (w->has_exit && status)
                *status = w->exit_status;
        return w->has_exit;
}

bool worker_last_exit(const struct worker *w, char *buf, size_t len)
{
        if (!w->has_exit)
                return false;
        format_exit(w->exit_status, w->exit_stop_signal, buf, len);
        return true;
}

usec_t worker_stop_duration(const struct worker *w)
{
        return w->stop_ended > w->stop_began ? w->stop_ended - w->stop_began : 0;
}

/* ---- across a reexec ------------------------------------------------------------
 * A worker's state as a member of the state's "workers" (state.h); its
 * settings are the "conf" section's. Every deadline is absolute
 * (CLOCK_MONOTONIC goes on across exec): a backoff ends when it would
 * have. */

static const char *const goal_names[] = { "run", "down", "down-with", "restart", "remove" };
static const char *const phase_names[] = { "none", "pre-stop", "signalled", "killed", "drain", "post-stop" };
static const char *const stop_reason_names[] = { "none", "shutdown", "manual", "failed-start", "restart" };
static const char *const probe_use_names[] = { "ready", "health" };

/* Where the ring of start times keeps start number i (0-based). */
static unsigned ring_at(const struct worker *w, unsigned i)
{
        return w->c.start_limit_burst ? i % w->c.start_limit_burst : 0;
}

/* The time of counted start number i (one of the last n_start_times): the
 * ring's, or started_at while there is no ring (one start counted). */
static usec_t start_time_at(const struct worker *w, unsigned i)
{
        return w->start_times ? w->start_times[ring_at(w, i)] : w->started_at;
}

static usec_t timer_when(const struct timer *t) { return t->node.idx == SIZE_MAX ? USEC_INFINITY : t->node.when; }

void worker_prepare_reexec(struct worker_env *env, struct worker *w)
{
        /* an attempt cannot outlive the exec: it counts neither way, and
         * the next one begins at once (in the new graced) */
        if (w->probe_busy) {
                end_attempt(env, w);
                env_timer_set(env, &w->pt, env_now(env));
        }
}

struct json_object *hook_save(const struct hook_run *h)
{
        struct json_object *o = json_object_new_object();

        /* the defaults are hook_init()'s */
        state_add_int_if(o, "pid", h->pid, 0);
        state_add_int_if(o, "pidfd", h->pidfd, -1);
        state_add_bool_if(o, "stale", h->stale);
        state_add_bool_if(o, "blocked", h->blocked);
        state_add_usec_if(o, "started", h->started, 0);
        state_add_usec_if(o, "ended", h->ended, 0);
        if (h->outcome != OUTCOME_NONE)
                state_add(o, "outcome", json_object_new_string(outcome_name(h->outcome)));
        state_add_int_if(o, "exit_code", h->exit_code, -1);
        state_add_int_if(o, "exit_signal", h->exit_signal, 0);
        state_add_usec_if(o, "deadline", h->deadline, USEC_INFINITY);
        return o;
}

bool hook_adopt(struct worker_env *env, struct hook_run *h, struct json_object *o, struct state_rd *rd)
{
        int outcome = h->outcome;

        if (!o)
                return !rd->bad;
        state_get_i32(rd, o, "pid", STATE_OPTIONAL, 0, INT32_MAX, &h->pid);
        state_get_fd(rd, o, "pidfd", STATE_OPTIONAL, &h->pidfd);
        state_get_bool(rd, o, "stale", STATE_OPTIONAL, &h->stale);
        state_get_bool(rd, o, "blocked", STATE_OPTIONAL, &h->blocked);
        state_get_usec(rd, o, "started", STATE_OPTIONAL, &h->started);
        state_get_usec(rd, o, "ended", STATE_OPTIONAL, &h->ended);
        state_get_enum(rd, o, "outcome", STATE_OPTIONAL, outcome_names, ELEMENTSOF(outcome_names), &outcome);
        state_get_i32(rd, o, "exit_code", STATE_OPTIONAL, -1, 255, &h->exit_code);
        state_get_i32(rd, o, "exit_signal", STATE_OPTIONAL, 0, NSIG - 1, &h->exit_signal);
        state_get_usec(rd, o, "deadline", STATE_OPTIONAL, &h->deadline);
        h->outcome = (enum outcome)outcome;
        if (!rd->bad && h->pid == 0 && h->pidfd >= 0)
                state_fail(rd, "hook %s: a pidfd without a process", h->what);
        if (rd->bad) {
                h->pid = 0;
                h->pidfd = -1;
                return false;
        }
        if (h->pid)
                hmap_put(&env->hook_pids, (uintptr_t)h->pid, h);
        return true;
}

/* A hook that never ran has nothing to say. */
static void add_hook(struct json_object *o, const char *key, const struct hook_run *h)
{
        struct json_object *ho;

        if (!h)
                return;
        ho = hook_save(h);

        if (json_object_object_length(ho) > 0)
                state_add(o, key, ho);
        else
                json_object_put(ho);
}

/* Its process, and how its last one ended (the defaults: worker_new()'s). */
static void save_process(struct json_object *o, const struct worker *w)
{
        state_add_int(o, "pid", w->pid);
        state_add_int_if(o, "pidfd", w->pidfd, -1);
        state_add_bool(o, "alive", w->alive);
        state_add_bool_if(o, "exec_known", w->exec_known);
        state_add_bool_if(o, "notified_ready", w->notified_ready);
        state_add_int_if(o, "exec_err", w->exec_err, 0);
        state_add_int_if(o, "exit_status", w->exit_status, -1);
        state_add_bool_if(o, "has_exit", w->has_exit);
        state_add_int_if(o, "exit_stop_signal", w->exit_stop_signal, 0);
        state_add_int_if(o, "open_streams", w->open_streams, 0);
        state_add_int_if(o, "stream_epoch", w->stream_epoch, 0);
        state_add_usec_if(o, "started_at", w->started_at, 0);
        if (w->status_text)
                state_add(o, "status_text", state_bytes_new(w->status_text, strlen(w->status_text)));
}

static bool adopt_process(struct state_rd *rd, struct json_object *o, struct worker *w)
{
        char *text = NULL;
        size_t n = 0;

        state_get_i32(rd, o, "pid", STATE_REQUIRED, 0, INT32_MAX, &w->pid);
        state_get_fd(rd, o, "pidfd", STATE_OPTIONAL, &w->pidfd);
        state_get_bool(rd, o, "alive", STATE_REQUIRED, &w->alive);
        state_get_bool(rd, o, "exec_known", STATE_OPTIONAL, &w->exec_known);
        state_get_bool(rd, o, "notified_ready", STATE_OPTIONAL, &w->notified_ready);
        state_get_i32(rd, o, "exec_err", STATE_OPTIONAL, 0, 4095, &w->exec_err);
        state_get_i32(rd, o, "exit_status", STATE_OPTIONAL, -1, INT32_MAX, &w->exit_status);
        state_get_bool(rd, o, "has_exit", STATE_OPTIONAL, &w->has_exit);
        state_get_i32(rd, o, "exit_stop_signal", STATE_OPTIONAL, 0, NSIG - 1, &w->exit_stop_signal);
        state_get_uint(rd, o, "open_streams", STATE_OPTIONAL, UINT32_MAX, &w->open_streams);
        state_get_uint(rd, o, "stream_epoch", STATE_OPTIONAL, UINT32_MAX, &w->stream_epoch);
        state_get_usec(rd, o, "started_at", STATE_OPTIONAL, &w->started_at);
        if (state_get_bytes(rd, o, "status_text", STATE_OPTIONAL, 64 * 1024, &text, &n) && text) {
                free(w->status_text);
                w->status_text = strndup(text, n);
        }
        free(text);
        if (!rd->bad && w->alive && w->pid <= 0)
                state_fail(rd, "alive without a pid");
        return !rd->bad;
}

/* Its probes, restart history and stop record. */
static void save_history(struct json_object *o, const struct worker *w)
{
        struct json_object *a = json_object_new_array();

        if (w->probe_use != PROBE_READY)
                state_add(o, "probe_use", json_object_new_string(probe_use_names[w->probe_use]));
        state_add_bool_if(o, "probe_on", w->probe_on);
        state_add_bool_if(o, "ready_once", w->ready_once);
        state_add_bool_if(o, "ever_ready", w->ever_ready);
        state_add_usec_if(o, "probe_began", w->probe_began, 0);
        state_add_int_if(o, "health_fails", w->health_fails, 0);
        state_add_int_if(o, "health_total", w->health_total, 0);
        state_add_int(o, "starts", w->starts);
        /* the starts that count, oldest first (the ring's newest is at starts - 1) */
        for (unsigned k = w->n_start_times; k > 0; k--)
                json_object_array_add(a, json_object_new_int64((int64_t)start_time_at(w, w->starts - k)));
        state_add(o, "start_times", a);
        state_add_usec_if(o, "next_delay", w->next_delay, w->c.restart_delay);
        if (w->outcome != OUTCOME_NOT_STARTED)
                state_add(o, "outcome", json_object_new_string(outcome_name(w->outcome)));
        state_add_int_if(o, "stop_signal_sent", w->stop_signal_sent, 0);
        state_add_usec_if(o, "stop_began", w->stop_began, 0);
        state_add_usec_if(o, "stop_ended", w->stop_ended, 0);
        state_add_usec_if(o, "kill_at", w->kill_at, 0);
        state_add_usec_if(o, "recheck_delay", w->recheck_delay, 0);
        add_hook(o, "pre_stop", pre_hook(w));
        add_hook(o, "post_stop", post_hook(w));
}

/* The starts that count for the start limit (oldest first), back into the
 * ring where they were; starts is read already. */
static bool adopt_start_times(struct state_rd *rd, struct json_object *o, struct worker *w)
{
        unsigned burst = w->c.start_limit_burst ? w->c.start_limit_burst : 1;
        struct json_object *a = state_get_arr(rd, o, "start_times", STATE_OPTIONAL, MIN(burst, w->starts));
        unsigned n = a ? (unsigned)json_object_array_length(a) : 0;

        for (unsigned k = 0; k < n; k++) {
                struct json_object *e = json_object_array_get_idx(a, k);
                usec_t t;

                if (!json_object_is_type(e, json_type_int) || json_object_get_int64(e) < 0)
                        return state_fail(rd, "start_times: not a list of times");
                t = (usec_t)json_object_get_int64(e);
                /* the ring as count_start() makes it: none while the one
                 * start counted is the current run's (started_at) */
                if (!w->start_times && w->c.start_limit_burst && (n > 1 || t != w->started_at))
                        w->start_times = xcalloc(w->c.start_limit_burst, sizeof(usec_t));
                if (w->start_times)
                        w->start_times[ring_at(w, w->starts - n + k)] = t;
        }
        w->n_start_times = w->c.start_limit_burst ? n : 0;
        return !rd->bad;
}

static bool adopt_history(struct state_rd *rd, struct json_object *o, struct worker *w)
{
        int use = w->probe_use, outcome = w->outcome;

        state_get_enum(rd, o, "probe_use", STATE_OPTIONAL, probe_use_names, ELEMENTSOF(probe_use_names), &use);
        state_get_bool(rd, o, "probe_on", STATE_OPTIONAL, &w->probe_on);
        state_get_bool(rd, o, "ready_once", STATE_OPTIONAL, &w->ready_once);
        state_get_bool(rd, o, "ever_ready", STATE_OPTIONAL, &w->ever_ready);
        state_get_usec(rd, o, "probe_began", STATE_OPTIONAL, &w->probe_began);
        state_get_uint(rd, o, "health_fails", STATE_OPTIONAL, UINT32_MAX, &w->health_fails);
        state_get_uint(rd, o, "health_total", STATE_OPTIONAL, UINT32_MAX, &w->health_total);
        state_get_uint(rd, o, "starts", STATE_REQUIRED, UINT32_MAX, &w->starts);
        adopt_start_times(rd, o, w);
        state_get_usec(rd, o, "next_delay", STATE_OPTIONAL, &w->next_delay);
        state_get_enum(rd, o, "outcome", STATE_OPTIONAL, outcome_names, ELEMENTSOF(outcome_names), &outcome);
        state_get_i32(rd, o, "stop_signal_sent", STATE_OPTIONAL, 0, NSIG - 1, &w->stop_signal_sent);
        state_get_usec(rd, o, "stop_began", STATE_OPTIONAL, &w->stop_began);
        state_get_usec(rd, o, "stop_ended", STATE_OPTIONAL, &w->stop_ended);
        state_get_usec(rd, o, "kill_at", STATE_OPTIONAL, &w->kill_at);
        state_get_usec(rd, o, "recheck_delay", STATE_OPTIONAL, &w->recheck_delay);
        w->probe_use = (enum probe_use)use;
        w->outcome = (enum outcome)outcome;
        return !rd->bad;
}

struct json_object *worker_save(const struct worker *w)
{
        struct json_object *o = json_object_new_object();

        state_add(o, "name", json_object_new_string(w->c.name));
        state_add(o, "state", json_object_new_string(state_names[w->state]));
        state_add(o, "goal", json_object_new_string(goal_names[w->goal]));
        if (w->phase != PHASE_NONE)
                state_add(o, "phase", json_object_new_string(phase_names[w->phase]));
        if (w->stop_reason != STOP_NONE)
                state_add(o, "stop_reason", json_object_new_string(stop_reason_names[w->stop_reason]));
        state_add_bool_if(o, "blocked_logged", w->blocked_logged);
        state_add_bool_if(o, "start_failed", w->start_failed);
        state_add_bool_if(o, "leftovers_signalled", w->leftovers_signalled);
        state_add_bool_if(o, "fail_pending", w->fail_pending);
        if (w->fail_why)
                state_add(o, "fail_why", json_object_new_string(w->fail_why));
        save_process(o, w);
        save_history(o, w);
        state_add_usec_if(o, "deadline", timer_when(&w->dl), USEC_INFINITY);
        state_add_usec_if(o, "watchdog_deadline", timer_when(&w->wd), USEC_INFINITY);
        state_add_usec_if(o, "probe_deadline", timer_when(&w->pt), USEC_INFINITY);
        return o;
}

/* Its state, goal, stop phase and flags. */
static bool adopt_states(struct state_rd *rd, struct json_object *o, struct worker *w)
{
        int st = w->state, goal = w->goal, phase = w->phase, why = w->stop_reason;
        char *fail_why = NULL;

        state_get_enum(rd, o, "state", STATE_REQUIRED, state_names, ELEMENTSOF(state_names), &st);
        state_get_enum(rd, o, "goal", STATE_REQUIRED, goal_names, ELEMENTSOF(goal_names), &goal);
        state_get_enum(rd, o, "phase", STATE_OPTIONAL, phase_names, ELEMENTSOF(phase_names), &phase);
        state_get_enum(rd, o, "stop_reason", STATE_OPTIONAL, stop_reason_names, ELEMENTSOF(stop_reason_names), &why);
        state_get_bool(rd, o, "blocked_logged", STATE_OPTIONAL, &w->blocked_logged);
        state_get_bool(rd, o, "start_failed", STATE_OPTIONAL, &w->start_failed);
        state_get_bool(rd, o, "leftovers_signalled", STATE_OPTIONAL, &w->leftovers_signalled);
        state_get_bool(rd, o, "fail_pending", STATE_OPTIONAL, &w->fail_pending);
        state_get_str(rd, o, "fail_why", STATE_OPTIONAL, 256, &fail_why);
        w->fail_why = fail_why && strcmp(fail_why, health_failed) == 0 ? health_failed : NULL;
        free(fail_why);
        w->state = (enum worker_state)st;
        w->goal = (enum worker_goal)goal;
        w->phase = (enum stop_phase)phase;
        w->stop_reason = (enum stop_reason)why;
        return !rd->bad;
}

/* Its hook records: a record that still counts while its hook is no
 * longer configured (a reload removed it) is made for it. */
static bool adopt_hooks(struct worker_env *env, struct state_rd *rd, struct json_object *o, struct worker *w)
{
        struct json_object *pre = state_get_obj(rd, o, "pre_stop", STATE_OPTIONAL);
        struct json_object *post = state_get_obj(rd, o, "post_stop", STATE_OPTIONAL);

        if (!pre && !post)
                return !rd->bad;
        if (!w->hooks) {
                w->hooks = xcalloc(1, sizeof *w->hooks);
                hook_init(&w->hooks->pre, w, w->c.name, "pre_stop", w->c.pre_stop, w->c.pre_stop_timeout);
                hook_init(&w->hooks->post, w, w->c.name, "post_stop", w->c.post_stop, w->c.post_stop_timeout);
        }
        hook_adopt(env, &w->hooks->pre, pre, rd);
        hook_adopt(env, &w->hooks->post, post, rd);
        hooks_trim(w);
        return !rd->bad;
}

/* Its deadlines, as they were. */
static bool adopt_timers(struct worker_env *env, struct state_rd *rd, struct json_object *o, struct worker *w)
{
        struct timer *t[] = { &w->dl, &w->wd, &w->pt };
        const char *keys[] = { "deadline", "watchdog_deadline", "probe_deadline" };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                usec_t when = USEC_INFINITY;

                if (state_get_usec(rd, o, keys[i], STATE_OPTIONAL, &when))
                        env_timer_set(env, t[i], when);
        }
        return !rd->bad;
}

void worker_disown(struct worker_env *env, struct worker *w)
{
        for (struct hook_run *h = pre_hook(w); h; h = h == pre_hook(w) ? post_hook(w) : NULL) {
                if (h->pid)
                        hmap_del(&env->hook_pids, (uintptr_t)h->pid);
                h->pid = 0;
                h->pidfd = -1;
        }
        if (w->alive)
                hmap_del(&env->pids, (uintptr_t)w->pid);
        w->alive = false;
        w->pidfd = -1;
}

bool worker_adopt(struct worker_env *env, struct worker *w, struct json_object *o, struct state_rd *rd)
{
        char *name = NULL;

        state_ctx(rd, "worker %s", w->c.name);
        if (!state_get_str(rd, o, "name", STATE_REQUIRED, NAME_MAX_LEN, &name) || strcmp(name, w->c.name) != 0)
                state_fail(rd, "its state names another worker");
        free(name);
        account(env, w, -1);
        adopt_states(rd, o, w);
        adopt_process(rd, o, w);
        adopt_history(rd, o, w);
        adopt_hooks(env, rd, o, w);
        adopt_timers(env, rd, o, w);
        account(env, w, +1);
        if (!rd->bad && w->alive)
                hmap_put(&env->pids, (uintptr_t)w->pid, w);
        if (rd->bad)
                worker_disown(env, w);
        rd->ctx[0] = 0;
        return !rd->bad;
}
