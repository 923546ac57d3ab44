/* run_int.h - the running daemon's insides, shared by run.c (the glue of
 * every day) and run_state.c (the reexec: the state written, the exec, the
 * state adopted). Everyone else goes through run.h. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <json-c/json.h>
#include "conf.h"
#include "hmap.h"
#include "loop.h"
#include "output.h"
#include "probe.h"
#include "run.h"
#include "sup.h"

/* A child reaped through its pidfd (fd): in run->pidwatches by pid.
 * embedded: a worker's, in its struct wmech (not freed). owned: the fd is
 * the watch's (a process nothing else knows of any more: an exec probe's,
 * adopted across a reexec), closed once it is reaped. */
struct pidwatch {
        struct run *run;
        struct loop_watch *watch;
        pid_t pid;
        int fd;
        bool embedded;
        bool owned;
};

/* What the glue holds for one worker (in its worker_mech() slot): its
 * exec-status pipe and the watch of its process. Shared with the worker's
 * output streams (refs), which may outlive the worker (w = NULL once a
 * reload has forgotten it). Fields ordered for size (one per worker). */
struct wmech {
        struct pidwatch pw; /* its process (one at a time); pw.run: the run */
        struct worker *w;
        struct loop_watch *status_watch;
        /* probes: the attempt under way, and a log probe's compiled
         * expression (with its source: a reload may change it) */
        struct probe_attempt *attempt;
        struct probe_regex *re;
        char *re_src;
        /* the variables of its env_file, read at its last start: its hooks
         * and exec probes of that run get them too */
        char **file_env;
        int status_fd;
        unsigned refs;
        enum probe_use use;
};

/* A hook's exec-status pipe, read in the loop like a worker's: only to say
 * why a hook could not be exec'd (its exit says the rest). */
struct hookstat {
        struct run *run;
        int fd;
        struct loop_watch *watch;
        struct hookstat *prev, *next;
        const char *who, *label, *argv0; /* in text; who NULL: a cleanup step */
        char text[];
};

/* One worker pipe: its worker, the epoch it was opened in (an EOF after
 * the supervisor stopped waiting for that pipe is not counted) and the run
 * (worker_starts()) it belongs to: a pipe outlives its run while something
 * the run left behind holds it, and the epoch stays the same across runs
 * while that pipe is still waited for. */
struct stream_ref {
        struct wmech *m;
        unsigned epoch;
        unsigned run;
};

struct run {
        char *report_path;           /* --report, else the configuration's */
        const char *report_override; /* --report */
        struct loop *loop;
        struct sup *sup;
        struct hookstat *hookstats; /* hooks whose exec status is not known yet */
        struct probes *probes;
        /* every child is reaped through its pidfd, in O(1), when epoll says it
         * exited; waitpid(-1) (which walks every child) only as a subreaper,
         * for orphans, or for a child that has no pidfd */
        struct hmap pidwatches; /* pid -> struct pidwatch */
        bool reap_any;
        int sigfd;
        struct loop_watch *sig_watch, *log_watch;
        struct loop_timer *timer, *wd_timer;
        sigset_t sigs;
        bool done;
        int exit_code;
        usec_t started_real;
        int devnull_w;
        struct notify_server *nsrv;
        struct logbuf *logbuf; /* what `gracectl logs` reads */
        struct control *ctl;
        struct control **retired; /* replaced by a reload; closed once the request that did it is answered */
        size_t n_retired;
        struct http *http; /* http_listen's endpoint, NULL when off */
        const char *config_path;
        /* reexec: the program graced was started from (resolved at start),
         * its arguments (without STATE_FD_OPTION), a request to carry out at
         * the end of this loop iteration, and when it was made */
        char *exe;
        char **argv;
        bool reexec_requested;
        usec_t reexec_began;
        usec_t reexec_last_read; /* the old graced's last read of the workers' output */
        /* an adopted state: freed, and the heap given back, after the first
         * loop iteration (the workers are served first) */
        struct json_object *state;
        bool trim;
};

extern const struct sup_ops run_sup_ops;
extern const struct control_hooks run_ctl_hooks;
struct http_hooks;
extern const struct http_hooks run_http_hooks;

/* run.c */
struct wmech *run_mech_of(struct run *r, struct worker *w);
void run_on_status(struct loop_watch *lw, int fd, uint32_t events, void *data);
void run_on_stream_eof(struct output_stream *os, void *data);
void run_on_worker_record(const char *p, size_t n, void *data);
void run_on_notify_msg(pid_t sender, const char *msg, void *data);
/* A child of ours, reaped through its pidfd (-1: none, then by waitpid(-1)).
 * pw: a worker's (embedded), NULL: one is allocated. */
struct pidwatch *run_watch_pid(struct run *r, pid_t pid, int pidfd, struct pidwatch *pw);
/* Reaps, now, every watched child that has exited (and every child, in
 * reap-any mode), as the loop would. */
void run_reap_watched(struct run *r);
/* A child reaped: to the probes, the supervisor, or an orphan. */
void run_reaped(pid_t pid, int status, void *data);
/* A stream's reference to its worker's run (epoch, run: see stream_ref),
 * and what the stream then takes (a log probe's records, a reference). */
struct stream_ref *run_stream_ref(struct run *r, struct worker *w, unsigned epoch, unsigned run);
void run_stream_opened(struct output_stream *os, struct stream_ref *ref, bool file);
/* Every log record, into the `gracectl logs` buffer and its followers. */
struct log_record;
void run_on_log_record(const struct log_record *rec, void *data);
/* The HTTP endpoint, before any worker starts: an address that cannot be
 * bound is fatal (71). */
void run_open_http(struct run *r, const char *configured);
/* A hook's exec-status pipe fd, watched; who NULL: a cleanup step. */
void run_add_hookstat(struct run *r, int fd, const char *who, const char *label, const char *argv0);
/* The process-wide set-up (signals, loop, timers, non-blocking log);
 * fatal (71) when any of it cannot be had. */
void run_set_up(struct run *r, const struct run_opts *o);
void run_check_nofile(const struct conf *c);
/* WATCHDOG=1 to systemd from the loop, when it asked for it. */
void run_arm_watchdog(struct run *r);
/* Everything run_set_up() and the daemon made, freed. */
void run_tear_down(struct run *r);
/* The program and arguments to exec again (from o). */
void run_init_reexec(struct run *r, const struct run_opts *o);
/* The loop until the shutdown is done, then the tear-down; the exit code. */
int run_serve(struct run *r);

/* run_state.c */
/* gracectl reexec: carried out at the end of this loop iteration. */
int run_request_reexec(void *ctx, const char **why);
/* From the idle hook, once the iteration's events are handled. */
void run_reexec_if_requested(struct run *r);
