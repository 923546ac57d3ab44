/* conf.h - the configuration model: a plain in-memory tree that owns its
 * strings, built from a libconfig file (plus include_dir) and freed with one
 * call. conf.c is the only file that includes <libconfig.h>. Loading never
 * logs: every problem becomes a diagnostic "FILE:LINE: message". */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "util.h"

/* Limits on what a user controls. */
#define CONF_MAX_WORKERS 10000
#define CONF_MAX_ARGV 1024
#define CONF_MAX_ENV 1024
#define CONF_MAX_CLEANUP 256

enum worker_type { WORKER_TYPE_SIMPLE, WORKER_TYPE_ONESHOT };
enum ready_mode { READY_EXEC, READY_NOTIFY };
enum restart_policy { RESTART_NO, RESTART_ON_FAILURE, RESTART_ALWAYS };
enum kill_mode { KILL_GROUP, KILL_PROCESS };
enum out_mode { OUT_LOG, OUT_INHERIT, OUT_NULL, OUT_FILE };
enum { STREAM_STDOUT = 0, STREAM_STDERR = 1 };

struct conf_worker {
        char *name;
        char *file; /* where it is defined (for reload/errors) */
        int line;

        char **argv; /* NULL-terminated, >= 1 element */
        enum worker_type type;
        char **env;  /* NULL-terminated "KEY=VALUE" list (may be NULL) */
        bool env_clear;
        char *cwd;   /* NULL: graced's cwd */
        char *user;  /* NULL: unset */
        char *group; /* NULL: unset (user's primary group when user set) */
        bool set_ids; /* user or group given: uid/gid valid */
        uid_t uid;
        gid_t gid;
        int umask; /* -1: inherit */
        char **after; /* NULL-terminated names (may be NULL) */
        enum ready_mode ready;
        usec_t ready_timeout;
        usec_t watchdog; /* 0: none */
        int stop_signal;
        usec_t stop_timeout;
        enum kill_mode kill_mode;
        char **pre_stop;  /* NULL: none */
        usec_t pre_stop_timeout;
        char **post_stop; /* NULL: none */
        usec_t post_stop_timeout;
        enum restart_policy restart;
        usec_t restart_delay;
        usec_t restart_delay_max;
        unsigned start_limit_burst;
        usec_t start_limit_interval;
        bool critical;
        enum out_mode out[2];   /* [STREAM_STDOUT], [STREAM_STDERR] */
        char *out_path[2];      /* for OUT_FILE */
};

struct conf_cleanup {
        char *name;
        char **argv;
        usec_t timeout;
        bool shielded;
        char *file;
        int line;
};

struct conf {
        char *path; /* the main file as given */
        char *name; /* default "graced" */
        usec_t shutdown_timeout;  /* default 90s */
        usec_t signal_debounce;   /* default 500ms */
        unsigned force_after;     /* default 2; 0 = never */
        unsigned max_parallel;    /* default 16 */
        usec_t ready_timeout;     /* default 60s */
        char *report_file;        /* NULL: none */
        char *control_socket;     /* NULL: default chain; "": off */
        char *include_dir;        /* NULL: none */
        struct conf_cleanup *cleanup;
        size_t n_cleanup;
        struct conf_worker *workers; /* in definition order (main, then includes) */
        size_t n_workers;
};

/* Defaults of worker settings not given (besides the supervisor's). */
#define DEFAULT_STOP_TIMEOUT (10 * USEC_PER_SEC)
#define DEFAULT_HOOK_TIMEOUT (10 * USEC_PER_SEC)
#define DEFAULT_RESTART_DELAY (100 * USEC_PER_MSEC)
#define DEFAULT_RESTART_DELAY_MAX (30 * USEC_PER_SEC)
#define DEFAULT_START_LIMIT_BURST 5
#define DEFAULT_START_LIMIT_INTERVAL (10 * USEC_PER_SEC)
#define DEFAULT_CLEANUP_TIMEOUT (10 * USEC_PER_SEC)
/* A worker that ran this long resets its restart backoff. */
#define RESTART_RESET_AFTER (10 * USEC_PER_SEC)

struct conf_diag {
        char *file; /* may be NULL for errors without a file */
        int line;   /* 0: no line */
        char *msg;
};

struct conf_diags {
        struct conf_diag *v;
        size_t n;
};

struct conf_load_opts {
        bool as_root;  /* enforce root-only rules (world-writable file); user/group need root */
};

/* Load and validate. Returns 0 and *ret on success (diags may still hold
 * warnings? no: diags is empty on success). On failure returns -EINVAL with
 * every problem appended to diags (sorted by file, then line), *ret untouched.
 * Includes dependency checks (unknown `after`, cycles) via plan.c. */
int conf_load(const char *path, const struct conf_load_opts *opts, struct conf **ret, struct conf_diags *diags);
struct conf *conf_free(struct conf *c); /* NULL-safe, returns NULL */
void conf_diags_clear(struct conf_diags *d);
/* "FILE:LINE: msg" (or "FILE: msg" / "msg"), caller frees. */
char *conf_diag_format(const struct conf_diag *d);

const struct conf_worker *conf_find_worker(const struct conf *c, const char *name);
/* True when every setting that affects the running process is equal
 * (argv, env, env_clear, cwd, user, group, umask, out, ready, type). */
bool conf_worker_same_process(const struct conf_worker *a, const struct conf_worker *b);
/* Deep copy (for reload: the supervisor keeps its own copy per worker). */
struct conf_worker *conf_worker_copy(struct conf_worker *dst, const struct conf_worker *src);
void conf_worker_done(struct conf_worker *w); /* frees members, not w */
