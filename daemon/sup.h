/* sup.h - the supervisor: every worker's state machine, start and stop
 * sequencing, restarts, the shutdown stages and the report's facts.
 * Policy only: it makes no system calls. It asks for actions through
 * struct sup_ops (spawn, signal, notify, finish) and is fed events (exec
 * status, exit, end of output, signal, time), so tests drive it with a fake
 * clock and no fork. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include "conf.h"
#include "plan.h"
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

enum stop_phase { PHASE_NONE, PHASE_PRE_STOP, PHASE_SIGNALLED, PHASE_KILLED, PHASE_DRAIN, PHASE_POST_STOP };

enum outcome {
        OUTCOME_NONE,     /* hooks: not configured */
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

/* A hook or cleanup process. */
struct hook_run {
        char *label;       /* "web/pre_stop", "cleanup/flush" (its output's log name) */
        const char *what;  /* "pre_stop", "flush": points into label */
        char **argv;       /* borrowed from the conf */
        usec_t timeout;
        bool shielded;
        pid_t pid;         /* 0: not running (not reaped yet: still running) */
        int pidfd;
        bool running;
        /* pid is a run of an earlier stop, killed but not reaped yet (stuck
         * in uninterruptible sleep, say): a hook never runs twice at once, so
         * this stop waits for it (deadline) and otherwise skips the hook; its
         * exit is logged but belongs to no record any more. */
        bool stale;
        bool blocked;      /* skipped because of such a run: the stop is not clean */
        usec_t started, ended;
        enum outcome outcome; /* OUTCOME_NONE: not due (yet) */
        int exit_code;        /* -1 when none */
        int exit_signal;      /* 0 when none */
        usec_t deadline;
};

enum stop_reason { STOP_NONE, STOP_SHUTDOWN, STOP_MANUAL, STOP_FAILED_START, STOP_RESTART };

struct sw {
        struct conf_worker c;
        size_t idx;
        enum worker_state state;
        enum stop_phase phase;
        enum stop_reason stop_reason;
        bool want_down;     /* stopped by request: no restart, no start */
        bool down_with;     /* stopped along with a dependency by `stop` */
        bool ready_sent;    /* counted as ready at least once */
        bool blocked_logged; /* "not starting: X failed" said */
        bool start_failed;  /* this run failed to get ready (or missed its watchdog) */
        bool leftovers_signalled; /* its group outlived a leader that ended by itself */
        bool reload_restart; /* changed by a reload: restart it with the new settings */
        bool removed;       /* gone from the configuration: stop it, then forget it */

        /* the current process */
        pid_t pid;
        int pidfd;
        bool alive;         /* spawned and not reaped */
        bool exec_known;    /* exec status read */
        bool notified_ready; /* READY=1 came before the exec status */
        int exec_err;
        /* the last exit of any of its runs, kept across starts (status:
         * LAST EXIT; the report: how its last process ended) */
        int exit_status;    /* waitpid status; -1 none */
        bool has_exit;
        int exit_stop_signal; /* the stop signal graced had sent to that process; 0 none */
        unsigned open_streams; /* output pipes not at EOF (all runs) */
        unsigned stream_epoch; /* bumped when open pipes stop being waited for */
        usec_t started_at;     /* monotonic */
        usec_t deadline;       /* USEC_INFINITY: none */
        usec_t kill_at;        /* when SIGKILL follows the stop signal */
        usec_t recheck_delay;  /* backoff while the group outlives its leader */
        char *status_text;     /* STATUS= from the worker */
        usec_t watchdog_deadline;

        /* restarts */
        unsigned starts;        /* total */
        usec_t *start_times;    /* ring of start_limit_burst entries */
        unsigned n_start_times;
        usec_t next_delay;

        /* the stop record (report) */
        enum outcome outcome;
        int stop_signal_sent;   /* 0: none */
        usec_t stop_began, stop_ended;
        struct hook_run pre, post;
};

struct sup;

struct sup_ops {
        usec_t (*now)(void *ctx);
        /* Start w's process: set w->pid and w->pidfd, open its output (each
         * "log" stream counted in w->open_streams). 0 or -errno. */
        int (*spawn_worker)(void *ctx, struct sw *w);
        /* Start a hook (own session/group, output logged under h->label). */
        int (*spawn_hook)(void *ctx, struct hook_run *h, struct sw *w);
        int (*signal)(void *ctx, pid_t pid, int pidfd, int sig, bool group);
        /* Anything for systemd ("READY=1", "STATUS=...", ...); may be NULL. */
        void (*notify)(void *ctx, const char *msg);
        /* Everything is done: write the report, exit with code. */
        void (*finished)(void *ctx, int exit_code);
        /* Does process group pgid still hold a live (non-zombie) process? */
        bool (*group_alive)(void *ctx, pid_t pgid);
        /* A process is gone for good: release its pidfd. */
        void (*release)(void *ctx, pid_t pid, int pidfd);
};

struct sup_settings {
        bool dev_mode; /* print the Ctrl+C banner */
};

/* Takes ownership of neither c nor p: copies what it needs. */
struct sup *sup_new(const struct conf *c, const struct plan *p, const struct sup_ops *ops, void *ctx);
struct sup *sup_free(struct sup *s);
void sup_set_dev_mode(struct sup *s, bool on);

/* Batched: events only mark the supervisor dirty and sup_flush() (from
 * the loop, once per iteration) runs one scheduling pass for all of them.
 * Unbatched (the default, for tests): every event schedules at once. */
void sup_set_batched(struct sup *s, bool on);
void sup_flush(struct sup *s);

/* Start the boot-time workers. */
void sup_start(struct sup *s);

/* Events. */
void sup_on_exec_status(struct sup *s, struct sw *w, int err, const char *stage);
/* Returns false when pid is none of ours (an orphan). */
bool sup_on_exit(struct sup *s, pid_t pid, int status);
void sup_on_stream_eof(struct sup *s, struct sw *w);
/* One notify datagram (READY=1, STATUS=, WATCHDOG=1, STOPPING=1) from w. */
void sup_on_notify(struct sup *s, struct sw *w, const char *msg);
/* The worker whose live process has this pid, or NULL. */
struct sw *sup_find_pid(struct sup *s, pid_t pid);
void sup_on_signal(struct sup *s, int sig);
void sup_on_time(struct sup *s);
/* The earliest deadline (absolute, monotonic), USEC_INFINITY when none. */
usec_t sup_next_deadline(const struct sup *s);

/* Shutdown; reason like "SIGTERM"; force: the forced phase at once. */
void sup_shutdown(struct sup *s, const char *reason, bool force);
void sup_force(struct sup *s, const char *why);

/* Applies a validated new configuration (SIGHUP, gracectl reload): new
 * workers start, removed ones stop (ordered, bounded), changed ones (see
 * conf_worker_same_process) restart in dependency order, the others keep
 * their process and take the new settings in place. Returns the new
 * supervisor (old is freed) and map[i] = new index of old worker i or
 * SIZE_MAX (caller frees map); NULL with -EBUSY when a shutdown is under way
 * or a removed worker of an earlier reload is still stopping under a name
 * that comes back. */
struct sup *sup_reload(struct sup *old, const struct conf *c, size_t **ret_map, int *ret_err,
                       unsigned counts[4] /* added, removed, changed, unchanged */);
/* After sup_reload(), once the caller's state follows the new indices:
 * apply the changes (stops, restarts, starts). */
void sup_resume(struct sup *s);

/* Operations (control socket). Return 0, -ENOENT (no such worker),
 * -EBUSY (shutting down). */
int sup_stop_worker(struct sup *s, const char *name);
int sup_start_worker(struct sup *s, const char *name);
int sup_restart_worker(struct sup *s, const char *name);
/* Whether an operation asked for by the control socket is done:
 * 0 still under way, 1 done and succeeded, -1 done and failed (the worker
 * failed for good, or is blocked by a failed dependency), -ENOENT no such
 * worker (it vanished in a reload). */
enum sup_op { SUP_OP_START, SUP_OP_STOP, SUP_OP_RESTART };
int sup_op_state(struct sup *s, const char *name, enum sup_op op);

/* Reading the state (status, report). */
size_t sup_n_workers(const struct sup *s);
struct sw *sup_worker(struct sup *s, size_t i);
struct sw *sup_find(struct sup *s, const char *name);
bool sup_shutting_down(const struct sup *s);
bool sup_forced(const struct sup *s);
bool sup_is_clean(const struct sup *s);
const char *sup_reason(const struct sup *s);
usec_t sup_shutdown_began(const struct sup *s);
/* Stop order for the report (workers in the order they began stopping,
 * then the rest in stop-stage order). */
size_t sup_stop_order(const struct sup *s, size_t *out);
size_t sup_n_cleanup(const struct sup *s);
const struct hook_run *sup_cleanup(const struct sup *s, size_t i);
const char *sup_name(const struct sup *s);
/* Log one status line per worker (SIGUSR1). */
void sup_log_status(struct sup *s);
/* The one-line summary of a finished shutdown (caller frees). */
char *sup_summary(const struct sup *s);
