/* sup.h - the supervisor: the set of workers (worker.h) and their
 * sequencing: start stages, stop stages, shutdown phases and forcing,
 * reload in place, and the facts of the report. Policy only: it makes no
 * system calls. It asks for actions through struct sup_ops and is fed events
 * (exec status, exit, end of output, notify, signal, time), so tests drive
 * it with a fake clock and no fork. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include "conf.h"
#include "plan.h"
#include "util.h"
#include "worker.h"

struct sup;

/* Copies what it needs of c (the caller frees it); takes p, c's plan. */
struct sup *sup_new(const struct conf *c, struct plan *p, const struct sup_ops *ops, void *ctx);
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
void sup_on_exec_status(struct sup *s, struct worker *w, int err, const char *stage);
/* Returns false when pid is none of ours (an orphan). O(1). */
bool sup_on_exit(struct sup *s, pid_t pid, int status);
/* epoch: worker_stream_epoch() when the stream was opened */
void sup_on_stream_eof(struct sup *s, struct worker *w, unsigned epoch);
/* One notify datagram (READY=1, STATUS=, WATCHDOG=1, STOPPING=1) from w. */
void sup_on_notify(struct sup *s, struct worker *w, const char *msg);
/* An attempt of w's probe ended, or its log probe matched a line (see
 * worker_on_probe()). */
void sup_on_probe(struct sup *s, struct worker *w, enum probe_use use, bool ok, const char *reason);
/* The worker whose live process has this pid, or NULL. O(1). */
struct worker *sup_find_pid(struct sup *s, pid_t pid);
void sup_on_signal(struct sup *s, int sig);
void sup_on_time(struct sup *s);
/* The earliest deadline (absolute, monotonic), USEC_INFINITY when none. O(1). */
usec_t sup_next_deadline(const struct sup *s);

/* Shutdown; reason like "SIGTERM"; force: the forced phase at once. No
 * drain (a critical worker's failure, stop_on_exit, forcing). */
void sup_shutdown(struct sup *s, const char *reason, bool force);
/* A graceful shutdown asked for from outside (SIGTERM or SIGINT, gracectl
 * shutdown). With shutdown_delay, it begins with the drain: STOPPING=1,
 * STATUS= "draining (5s)", sup_shutting_down() and sup_draining() true,
 * every worker left alone for that long, then the ordered stop. The budget
 * runs from now; forcing ends the drain at once. Without shutdown_delay,
 * or once a shutdown is under way: sup_shutdown(s, reason, false). */
void sup_request_shutdown(struct sup *s, const char *reason);
void sup_force(struct sup *s, const char *why);

/* Applies a validated new configuration (SIGHUP, gracectl reload) in place:
 * new workers are added (and start), removed ones are marked and stop
 * (ordered, bounded) before they are forgotten, changed ones (see
 * conf_worker_same_process) restart in dependency order, the others keep
 * their process and object and take the new settings. Returns 0, or -EBUSY
 * (nothing changed) when a shutdown is under way or a worker removed by an
 * earlier reload is still stopping under a name that comes back.
 * counts: added, removed, changed, unchanged. */
int sup_reload(struct sup *s, const struct conf *c, unsigned counts[4]);

/* Operations (control socket), on a worker or on every instance of a
 * group (a worker with `instances`, by its name). Return 0, -ENOENT (no
 * such worker or group), -EBUSY (shutting down). */
int sup_stop_worker(struct sup *s, const char *name);
int sup_start_worker(struct sup *s, const char *name);
int sup_restart_worker(struct sup *s, const char *name);
/* Whether an operation asked for by the control socket is done:
 * 0 still under way, 1 done and succeeded, -1 done and failed (the worker
 * failed for good, or is blocked by a failed dependency), -ENOENT no such
 * worker (it vanished in a reload). For a group: 0 while it is under way
 * for any of its instances, else -1 when it failed for any, else 1. */
enum sup_op { SUP_OP_START, SUP_OP_STOP, SUP_OP_RESTART };
int sup_op_state(struct sup *s, const char *name, enum sup_op op);

/* Instances (sup_instances.c). */
/* The group of instances of that name (the template: its settings as
 * written, instances its count now), or NULL. */
const struct conf_worker *sup_group(const struct sup *s, const char *name);
/* gracectl scale: group name gets n instances. New ones are added after
 * the others and start as a reload's new workers do (in order, each once
 * its dependencies are ready, up to max_parallel); the highest-numbered
 * ones above n are removed: they stop one after another, the highest
 * first, each with its usual sequence (pre_stop, stop signal, post_stop),
 * and are forgotten at the next change of the set. Nothing else is
 * touched. Returns 0 with *ret_from the count before, or -errno with
 * *ret_err saying why (caller frees), nothing changed: -ENOENT no worker
 * of that name, -EINVAL a worker without instances, n out of 1 to
 * CONF_MAX_INSTANCES or an instance's value not valid once %i is expanded
 * ("web.7: ready: invalid tcp address ..."), -EBUSY shutting down or a
 * removed instance to add back still stopping, -EEXIST the name of a new
 * instance taken, -E2BIG more than CONF_MAX_WORKERS workers. */
int sup_scale(struct sup *s, const char *name, unsigned n, unsigned *ret_from, char **ret_err);
/* Whether a scale of group name from..to is done, as sup_op_state(): 0
 * while an instance from+1..to is not ready (or done) or a removed one
 * still stops, -1 when an added one failed, -ENOENT no such group. */
int sup_scale_state(struct sup *s, const char *name, unsigned from, unsigned to);
/* Shown in gracectl status: a worker of the configuration, or an instance
 * gracectl scale removed while it still stops (a worker a reload removes
 * leaves it at once, as it leaves the configuration). */
bool sup_listed(const struct sup *s, const struct worker *w);

/* Reading the state (status, report). Workers removed by a reload and
 * still stopping are counted by sup_n_workers() (worker_removed()). */
size_t sup_n_workers(const struct sup *s);
struct worker *sup_worker(struct sup *s, size_t i);
/* A worker of the current configuration by name, or NULL. O(1). */
struct worker *sup_find(struct sup *s, const char *name);
/* From the first moment of a shutdown (its drain included) to its end. */
bool sup_shutting_down(const struct sup *s);
/* The drain of a shutdown (shutdown_delay) is under way. */
bool sup_draining(const struct sup *s);
bool sup_forced(const struct sup *s);
/* Every worker, hook and step of the shutdown ended well (the report's
 * "clean"). The exit status of the exit_code_from worker whose end began
 * the shutdown does not count. */
bool sup_is_clean(const struct sup *s);
const char *sup_reason(const struct sup *s);
usec_t sup_shutdown_began(const struct sup *s);
/* Stop order for the report (workers in the order they began stopping,
 * then the rest in stop-stage order); out holds sup_n_workers() entries. */
size_t sup_stop_order(const struct sup *s, struct worker **out);
size_t sup_n_cleanup(const struct sup *s);
const struct hook_run *sup_cleanup(const struct sup *s, size_t i);
const char *sup_name(const struct sup *s);
/* The widest name its processes log under ("web", "web/post_stop", "cleanup/x"). */
size_t sup_label_width(const struct sup *s);
/* Up to max of the workers stopping now, in the order they began (the
 * latest ones are looked at first: usually no walk over every worker). */
size_t sup_stopping(const struct sup *s, struct worker **out, size_t max);
/* The counts above and the per-state ones agree with the workers (for tests). */
bool sup_counts_ok(const struct sup *s);

/* In words (sup_status.c; callers free the strings): */
/* the STATUS= line ("running: 4/4 workers", "stopping: db, 41s left"), */
char *sup_status_line(const struct sup *s);
/* one status line per worker in the log (SIGUSR1), */
void sup_log_status(struct sup *s);
/* the one-line summary of a finished shutdown, */
char *sup_summary(const struct sup *s);
/* and readiness as the HTTP endpoint's /readyz tells it: true once the
 * boot is done (what READY=1 to systemd says: every boot worker ready,
 * oneshots done) while no shutdown is under way (its drain included);
 * false with the reason in buf otherwise ("starting: 2 of 5 workers
 * ready", "shutting down", "shutting down (draining)"). A worker restarting after the boot changes
 * nothing. O(1). */
bool sup_readiness(const struct sup *s, char *buf, size_t len);

/* Across a reexec (sup_state.c): the supervisor's sections of the state
 * (state.h). sup_prepare_reexec(): probe attempts under way end (an
 * attempt cannot outlive the exec; the next begins at once). sup_save():
 * adds "conf" (the configuration in force, removed workers still stopping
 * included), "sup" and "workers" to body. sup_state_procs(): every live
 * process (workers with their stop signal and stop_timeout, hooks and
 * cleanup steps with SIGKILL), for the state's head; *ret malloc'd.
 * sup_adopt(): a supervisor made from body, its plan rebuilt (the
 * workers' processes, counters, deadlines and hooks as they were); *ret_conf
 * the configuration (the caller frees it). NULL with rd's problem: nothing
 * of it holds a process then, the caller stops them. */
struct state_proc;
struct state_rd;
struct json_object;
void sup_prepare_reexec(struct sup *s);
void sup_save(struct sup *s, struct json_object *body);
size_t sup_state_procs(struct sup *s, struct state_proc **ret);
struct sup *sup_adopt(struct json_object *body, const struct sup_ops *ops, void *ctx, struct conf **ret_conf,
                      struct state_rd *rd);
/* A supervisor whose state could not be used after all: it forgets its
 * processes (the caller stops them), then sup_free(). NULL-safe. */
struct sup *sup_drop(struct sup *s);
