/* worker.h - one worker: an object allocated once and never moved for its
 * whole life (across reloads too), holding its settings, its state and
 * stop phase, what it should be doing (its goal), its hooks, restart ring
 * and the facts of the report. Policy only: no system calls; actions go
 * through struct sup_ops, time through ops->now. Each state change happens
 * in one function named for the event that causes it. Other files read a
 * worker through the accessors below. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <json-c/json.h>
#include "conf.h"
#include "heap.h"
#include "hmap.h"
#include "util.h"

enum worker_state {
        WORKER_WAITING,  /* not started: waiting for dependencies or a slot */
        WORKER_STARTING, /* spawned; not ready yet */
        WORKER_RUNNING,  /* ready */
        WORKER_BACKOFF,  /* exited; restart pending */
        WORKER_STOPPING, /* stop sequence under way */
        WORKER_DOWN,     /* stopped on request; stays down */
        WORKER_EXITED,   /* ended by itself, successfully, no restart */
        WORKER_FAILED,   /* failed for good */
};
const char *worker_state_name(enum worker_state s);

/* What the worker should be doing; the supervisor moves it there. */
enum worker_goal {
        GOAL_RUN,       /* run (and restart per its policy) */
        GOAL_DOWN,      /* stop, then stay down (gracectl stop, shutdown) */
        GOAL_DOWN_WITH, /* stop, then stay down: a dependency was stopped; back with it */
        GOAL_RESTART,   /* stop, then start again (gracectl restart, changed by a reload) */
        GOAL_REMOVE,    /* gone from the configuration: stop, then forget it */
};

enum stop_phase { PHASE_NONE, PHASE_PRE_STOP, PHASE_SIGNALLED, PHASE_KILLED, PHASE_DRAIN, PHASE_POST_STOP };

enum outcome {
        OUTCOME_NONE, /* hooks: not configured */
        OUTCOME_OK,
        OUTCOME_FAILED,
        OUTCOME_TIMEOUT,
        OUTCOME_SKIPPED,
        /* workers */
        OUTCOME_STOPPED,
        OUTCOME_KILLED,
        OUTCOME_EXITED,
        OUTCOME_NOT_STARTED,
};
const char *outcome_name(enum outcome o);

enum stop_reason { STOP_NONE, STOP_SHUTDOWN, STOP_MANUAL, STOP_FAILED_START, STOP_RESTART };

/* A deadline in the supervisor's heap, tagged with what it belongs to. */
enum timer_kind { TIMER_WORKER, TIMER_WATCHDOG, TIMER_PROBE, TIMER_CLEANUP, TIMER_BUDGET, TIMER_DRAIN };

/* Which of a worker's probes (conf ready_probe or health). */
enum probe_use { PROBE_READY, PROBE_HEALTH };
/* (24 bytes: three in every worker) */
struct timer {
        struct heap_node node;
        uint64_t gen : 56; /* when it was last set (see sup_on_time; 2^56 sets: centuries) */
        enum timer_kind kind : 8;
};

/* A hook or cleanup process: a plain record, read by the report. */
struct hook_run {
        char *label;      /* "web/pre_stop", "cleanup/flush" (its output's log name); NULL: no hook */
        const char *what; /* "pre_stop", "flush": points into label */
        char **argv;      /* the owner's copy */
        usec_t timeout;
        bool shielded;
        struct worker *owner; /* NULL for cleanup steps */
        pid_t pid;            /* 0: no process (a killed one counts until it is reaped) */
        int pidfd;
        /* pid belongs to a run of an earlier stop, killed but not reaped yet
         * (uninterruptible sleep, say): a hook never runs twice at once, so
         * this stop waits for it and otherwise skips the hook */
        bool stale;
        bool blocked; /* skipped because that earlier run never ended: not clean */
        usec_t started, ended;
        enum outcome outcome; /* OUTCOME_NONE: not due (yet) */
        int exit_code;        /* -1 when none */
        int exit_signal;      /* 0 when none */
        usec_t deadline;
};

struct worker;

/* What a spawn gives back. */
struct spawned {
        pid_t pid;
        int pidfd;
        unsigned streams; /* output pipes opened ("log" and file streams) */
};

struct sup_ops {
        usec_t (*now)(void *ctx);
        /* Start w's process (output per its settings). 0 or -errno. */
        int (*spawn_worker)(void *ctx, struct worker *w, struct spawned *out);
        /* Start a hook (own session/group, output logged under h->label,
         * with its owner's identity and environment). 0 or -errno. */
        int (*spawn_hook)(void *ctx, struct hook_run *h, struct spawned *out);
        int (*signal)(void *ctx, pid_t pid, int pidfd, int sig, bool group);
        /* Anything for systemd ("READY=1", "STATUS=...", ...); may be NULL. */
        void (*notify)(void *ctx, const char *msg);
        /* Everything is done: write the report, exit with code. */
        void (*finished)(void *ctx, int exit_code);
        /* Does process group pgid still hold a live (non-zombie) process? */
        bool (*group_alive)(void *ctx, pid_t pgid);
        /* A process is gone for good: release its pidfd. */
        void (*release)(void *ctx, pid_t pid, int pidfd);
        /* Start one attempt of w's probe for use (any kind but log: a log
         * probe is matched by the mechanism on captured lines, which reports
         * a match through worker_on_probe()). The attempt's end comes back
         * through worker_on_probe() (sup_on_probe()), once, never from
         * within probe_start; the policy bounds it with the probe's timeout
         * and cancels it when late. At most one attempt per worker is under
         * way. What the attempt needs of worker_conf(w) (address, argv) is
         * copied here: a reload may replace those strings meanwhile. 0, or
         * -errno: the attempt failed at once (the policy counts it as a
         * failure, with strerror as its reason). */
        int (*probe_start)(void *ctx, struct worker *w, enum probe_use use);
        /* End w's attempt under way (its exec probe's group is SIGKILLed,
         * its socket closed): no result comes back for it. Called only while
         * an attempt is under way, once for it. */
        void (*probe_cancel)(void *ctx, struct worker *w);
        /* w is about to be freed (removed by a reload and down): drop what
         * the mechanism keeps for it. May be NULL. */
        void (*forget)(void *ctx, struct worker *w);
};

/* What every worker shares: the actions, the deadlines, the pid index and
 * the supervisor's phase. Owned by the supervisor. */
struct worker_env {
        const struct sup_ops *ops;
        void *ctx;
        struct heap deadlines;
        uint64_t gen;
        struct hmap pids;      /* live worker process -> struct worker */
        struct hmap hook_pids; /* live hook process -> struct hook_run */
        bool shutting_down, forced;
        /* workers by state; those not going down (goal run or restart) by
         * state, and their oneshots done; workers whose goal is not run;
         * running workers whose health is failing */
        unsigned n_state[WORKER_FAILED + 1], n_up[WORKER_FAILED + 1], n_up_done, n_not_run, n_health_failing;
        /* a worker failed for good (the supervisor decides about critical ones) */
        void (*failed)(struct worker_env *env, struct worker *w);
        /* outside a shutdown, w (goal run) ended by itself and no restart is
         * due: it exited, a oneshot is done, or it failed for good (after
         * failed()); the supervisor decides about stop_on_exit. May be NULL. */
        void (*ended)(struct worker_env *env, struct worker *w);
        /* a worker's state or goal changed */
        void (*touched)(struct worker_env *env, struct worker *w);
        /* w failed while running (watchdog, health): true when workers that
         * are part of it (part_of) are still up, so its stop waits (the
         * supervisor stops them, then calls worker_stop_failed()). May be NULL. */
        bool (*parts_up)(struct worker_env *env, struct worker *w);
};

usec_t env_now(struct worker_env *env);
void env_timer_set(struct worker_env *env, struct timer *t, usec_t when);
/* EXTEND_TIMEOUT_USEC= to systemd up to until (plus a margin) while shutting down. */
void env_extend_timeout(struct worker_env *env, usec_t until);
/* Durations in logs: exact below 10ms, to the millisecond above (buf >= 32). */
const char *dur(usec_t u, char *buf);

/* ---- hooks ---- */
void hook_init(struct hook_run *h, struct worker *owner, const char *owner_name, const char *what, char **argv,
               usec_t timeout);
void hook_done(struct hook_run *h);
/* Starts h unless its previous run is still unreaped; false when it did not start
 * (outcome set: failed, or skipped). */
bool hook_spawn(struct worker_env *env, struct hook_run *h);
void hook_kill(struct worker_env *env, struct hook_run *h, enum outcome o); /* NULL-safe */
static inline bool hook_busy(const struct hook_run *h) { return h->pid != 0; }
/* The hook whose process this is ended. */
void hook_ended(struct worker_env *env, struct hook_run *h, int status);

/* ---- life ---- */
struct worker *worker_new(struct worker_env *env, const struct conf_worker *c);
/* Releases what it holds (pidfd, pid index); NULL-safe; returns NULL. */
struct worker *worker_free(struct worker_env *env, struct worker *w);
/* New settings from a reload, applied in place. Returns true when the
 * process itself changed (conf_worker_same_process), so it must restart. */
bool worker_reconfigure(struct worker_env *env, struct worker *w, const struct conf_worker *c);

/* ---- events ---- */
void worker_start(struct worker_env *env, struct worker *w);
void worker_on_exec_status(struct worker_env *env, struct worker *w, int err, const char *stage);
void worker_on_exit(struct worker_env *env, struct worker *w, int status);
/* epoch: what worker_stream_epoch() said when the stream was opened */
void worker_on_stream_eof(struct worker_env *env, struct worker *w, unsigned epoch);
void worker_on_notify(struct worker_env *env, struct worker *w, const char *msg);
void worker_on_deadline(struct worker_env *env, struct worker *w);
void worker_on_watchdog(struct worker_env *env, struct worker *w);
/* An attempt of w's probe for use ended (ok, or failed with reason: "exited
 * 1: <last line>", "Connection refused", "HTTP 503"...). Results
 * that no longer apply (another use, no attempt under way, one cancelled)
 * are ignored. A log probe's match: (PROBE_READY, true), taken while it
 * starts. */
void worker_on_probe(struct worker_env *env, struct worker *w, enum probe_use use, bool ok, const char *reason);
/* TIMER_PROBE: the next attempt is due, or the one under way is late (then
 * it is cancelled, counts as failed, and the next begins when due). */
void worker_on_probe_timer(struct worker_env *env, struct worker *w);
/* Its failure stop waited for its parts (worker_fail_pending()): now. */
void worker_stop_failed(struct worker_env *env, struct worker *w);
void worker_begin_stop(struct worker_env *env, struct worker *w, enum stop_reason why);
/* Moves a stopping worker through its phases as far as it can go now. */
void worker_advance_stop(struct worker_env *env, struct worker *w);
/* Forced shutdown: SIGKILL to its process, group and hooks; true when it
 * began stopping just now. Then worker_force_output() (the output of a run
 * that ended is no longer waited for), then worker_advance_stop(). */
bool worker_force(struct worker_env *env, struct worker *w);
void worker_force_output(struct worker_env *env, struct worker *w);
/* A worker with no process reaches the down state; hooks were not due. */
void worker_settle_down(struct worker_env *env, struct worker *w);
/* Its leader ended by itself and the rest of its group holds the output:
 * the stop signal to the group now, SIGKILL at the deadline. */
void worker_stop_leftovers(struct worker_env *env, struct worker *w);
/* Set the goal (and what follows at once: no watchdog while going down). */
void worker_set_goal(struct worker_env *env, struct worker *w, enum worker_goal g);
/* Start afresh after a stop (gracectl start): waiting, counters reset. */
void worker_revive(struct worker_env *env, struct worker *w);
/* Its dependencies failed for good: say it once, outcome not-started. */
bool worker_mark_blocked(struct worker *w, const char *dep);

/* The worker a TIMER_WORKER, TIMER_WATCHDOG or TIMER_PROBE deadline belongs to. */
struct worker *worker_of_timer(const struct timer *t);

/* ---- reading ---- */
const char *worker_name(const struct worker *w);
const struct conf_worker *worker_conf(const struct worker *w);
enum worker_state worker_state(const struct worker *w);
enum worker_goal worker_goal(const struct worker *w);
bool worker_wants_down(const struct worker *w); /* goal: down, down-with or remove */
bool worker_removed(const struct worker *w);
/* Ready for its dependents to start (not while it restarts or waits for
 * its failure stop). */
bool worker_is_ready(const struct worker *w);
/* Some run of it got ready (a new one, from a reload or a scale, not yet). */
bool worker_was_ready(const struct worker *w);
/* It failed while running and its stop waits for its parts to be down. */
bool worker_fail_pending(const struct worker *w);
/* Fully down: no process, no hook, no open output, not stopping. */
bool worker_is_quiet(const struct worker *w);
/* Started once more by the scheduler if nothing else changes. */
bool worker_comes_back(const struct worker *w);
bool worker_alive(const struct worker *w);
pid_t worker_pid(const struct worker *w); /* of the current or last process, 0 none */
int worker_pidfd(const struct worker *w); /* of the live process, -1 none */
usec_t worker_started_at(const struct worker *w);
unsigned worker_starts(const struct worker *w);
unsigned worker_restarts(const struct worker *w);
const char *worker_status_text(const struct worker *w);
/* HEALTH in gracectl status: "-" (no health probe, or no process to check:
 * down, exited, failed), "starting" (not ready yet: waiting, starting,
 * backoff), "ok", "failing N/M" (N consecutive failures, M its `failures`;
 * still shown while it stops). buf >= 32. */
const char *worker_health(const struct worker *w, char *buf, size_t len);
/* Running with at least one failed health attempt since the last success. */
bool worker_health_failing(const struct worker *w);
unsigned worker_health_fails(const struct worker *w); /* N of "failing N/M" */
unsigned worker_health_max(const struct worker *w);   /* M */
unsigned worker_health_failures(const struct worker *w); /* failed attempts, all runs (metrics) */
/* How its last process ended ("exited 3", "exited on SIGTERM"...), false when none. */
bool worker_last_exit(const struct worker *w, char *buf, size_t len);
bool worker_has_exit(const struct worker *w, int *status);
enum outcome worker_outcome(const struct worker *w);
int worker_stop_signal_sent(const struct worker *w);
usec_t worker_stop_duration(const struct worker *w);
/* Its hook records; without one (no hook configured), a read-only record
 * of a hook that never ran (argv NULL, outcome none). */
const struct hook_run *worker_pre_stop(const struct worker *w);
const struct hook_run *worker_post_stop(const struct worker *w);
unsigned worker_stream_epoch(const struct worker *w);
unsigned worker_open_streams(const struct worker *w); /* output pipes still waited for */
bool worker_exec_known(const struct worker *w);
int worker_exit_stop_signal(const struct worker *w); /* the stop signal its last process got, 0 none */
/* Position in the supervisor's plan (kept by sup.c). */
size_t worker_index(const struct worker *w);
void worker_set_index(struct worker *w, size_t idx);
/* The mechanism's per-worker data (run.c), opaque here. */
void *worker_mech(const struct worker *w);
void worker_set_mech(struct worker *w, void *m);

/* ---- across a reexec: the worker's member of the state's "workers"
 * (state.h); its settings are the "conf" section's. ---- */
struct state_rd;
/* Before the state is written: an attempt of its probe under way is ended
 * (an attempt cannot outlive the exec): it counts neither way, and the
 * next begins at once. */
void worker_prepare_reexec(struct worker_env *env, struct worker *w);
/* Its state: the process (pid, pidfd), flags, counters, the restart and
 * start-limit history, health counts, its deadlines and hooks. */
struct json_object *worker_save(const struct worker *w);
/* w, just made by worker_new() from its settings, takes the state o: its
 * process goes into the pid index, its deadlines into the heap. false
 * with rd's problem; then w holds no process (as worker_disown()). */
bool worker_adopt(struct worker_env *env, struct worker *w, struct json_object *o, struct state_rd *rd);
/* w forgets its processes (a state that could not be adopted: the
 * caller stops them): worker_free() will then release nothing. */
void worker_disown(struct worker_env *env, struct worker *w);
/* A hook's (or cleanup step's) run, and back; o NULL: nothing to take. */
struct json_object *hook_save(const struct hook_run *h);
bool hook_adopt(struct worker_env *env, struct hook_run *h, struct json_object *o, struct state_rd *rd);
