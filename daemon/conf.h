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
#define CONF_MAX_ENV_FILES 64
#define CONF_MAX_INSTANCES 1000
#define CONF_MAX_LOG_BUFFER 100000 /* log_buffer: records kept per worker */

enum worker_type { WORKER_TYPE_SIMPLE, WORKER_TYPE_ONESHOT };
enum ready_mode { READY_EXEC, READY_NOTIFY, READY_PROBE };
enum probe_kind { PROBE_NONE, PROBE_TCP, PROBE_UNIX, PROBE_HTTP, PROBE_EXEC, PROBE_LOG };
enum restart_policy { RESTART_NO, RESTART_ON_FAILURE, RESTART_ALWAYS };
enum kill_mode { KILL_GROUP, KILL_PROCESS };
enum out_mode { OUT_LOG, OUT_INHERIT, OUT_NULL, OUT_FILE };
enum { STREAM_STDOUT = 0, STREAM_STDERR = 1 };

/* A readiness (`ready = { ... }`) or liveness (`health = { ... }`) probe
 * group: exactly one kind. */
struct conf_probe {
        enum probe_kind kind; /* PROBE_NONE: no group */
        /* tcp: the address as written ("127.0.0.1:5432", "[::1]:80",
         * "localhost:8080", see parse_inet_address()); unix: the socket's
         * path; http: the URL (parse_probe_url()); log: the POSIX ERE.
         * NULL for exec. */
        char *target;
        char **argv;       /* exec: NULL-terminated, argv[0] resolved as the worker's command */
        usec_t interval;   /* from the start of one attempt to the next; 0 for log */
        usec_t timeout;    /* of one attempt; 0 for log */
        unsigned failures; /* health: consecutive failures that fail the worker; 0 for ready */
        int line;          /* of the group, for messages */
};

struct conf_worker {
        char *name;
        char *file; /* where it is defined (for reload/errors) */
        int line;

        char **argv; /* NULL-terminated, >= 1 element */
        enum worker_type type;
        char **env;  /* NULL-terminated "KEY=VALUE" list (may be NULL) */
        /* NULL-terminated absolute paths as written, "-/path" for one that
         * may be missing (envfile.h); read at every start, never at load
         * (but by --check: conf_load_opts.env_files). NULL: none */
        char **env_file;
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
        struct conf_probe ready_probe; /* ready == READY_PROBE */
        struct conf_probe health;      /* kind PROBE_NONE: no liveness probe */
        char **part_of; /* NULL-terminated names (may be NULL); each is in after too */
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
        bool stop_on_exit; /* its end (no restart due) shuts graced down */
        enum out_mode out[2];   /* [STREAM_STDOUT], [STREAM_STDERR] */
        char *out_path[2];      /* for OUT_FILE */

        /* A worker defined with `instances` is a template (struct conf's
         * templates): its settings as written, its name without a number,
         * %i not expanded, instances its count. Each of its instances is a
         * worker of its own (conf_worker_instance()). */
        unsigned instances; /* a template: how many; 0 otherwise */
        unsigned instance;  /* an instance: its number, from 1; 0 otherwise */
        char *instance_of;  /* an instance: its template's name ("web" of "web.2"); NULL otherwise */
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
        usec_t shutdown_delay;    /* the drain before a graceful shutdown; default 0 */
        char *exit_code_from;     /* a stop_on_exit worker's name; NULL: none */
        char *report_file;        /* NULL: none */
        char *control_socket;     /* NULL: default chain; "": off */
        char *http_listen;        /* NULL or "": off; else HOST:PORT (parse_inet_address) */
        char *include_dir;        /* NULL: none */
        unsigned log_buffer;      /* records kept per worker for `gracectl logs`; default 1000; 0 = none */
        struct conf_cleanup *cleanup;
        size_t n_cleanup;
        /* in definition order (main, then includes); the instances of a
         * template in its place, in their order */
        struct conf_worker *workers;
        size_t n_workers;
        /* the workers defined with `instances`, as written (see struct
         * conf_worker), in definition order */
        struct conf_worker *templates;
        size_t n_templates;

        /* What loading learnt besides the settings. files: every file read,
         * in reading order (the order of diagnostics, conf_diags_sort()).
         * The rest only matters in a model that could not be loaded whole
         * (conf_load_partial()), for the dependency checks (plan_load()):
         * names_complete is false once a worker may exist whose name is
         * not known (no name, not a group, a file that could not be read);
         * dropped_names are the names of workers that were not kept (an
         * invalid name, beyond the limit). */
        char **files;
        size_t n_files;
        bool names_complete;
        char **dropped_names;
        size_t n_dropped_names;
};

/* Defaults of worker settings not given (besides the supervisor's). */
#define DEFAULT_STOP_TIMEOUT (10 * USEC_PER_SEC)
#define DEFAULT_HOOK_TIMEOUT (10 * USEC_PER_SEC)
#define DEFAULT_RESTART_DELAY (100 * USEC_PER_MSEC)
#define DEFAULT_RESTART_DELAY_MAX (30 * USEC_PER_SEC)
#define DEFAULT_START_LIMIT_BURST 5
#define DEFAULT_START_LIMIT_INTERVAL (10 * USEC_PER_SEC)
#define DEFAULT_CLEANUP_TIMEOUT (10 * USEC_PER_SEC)
#define DEFAULT_READY_PROBE_INTERVAL (250 * USEC_PER_MSEC)
#define DEFAULT_HEALTH_INTERVAL (10 * USEC_PER_SEC)
#define DEFAULT_PROBE_TIMEOUT (1 * USEC_PER_SEC)
#define DEFAULT_HEALTH_FAILURES 3
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
        /* --check and --print-plan: every worker's env_file is read too, and
         * each problem is a diagnostic "ENVFILE:LINE: message" (plan_load()).
         * graced's start and reloads leave them to each start of a worker. */
        bool env_files;
};

/* Load and validate. Returns 0 and *ret on success (nothing is appended to
 * diags then). On failure returns -EINVAL with every problem appended to
 * diags (sorted by file, then line), *ret untouched. Dependencies between
 * workers (unknown `after` names, cycles) are not checked here: see
 * plan_load(). Every file is opened without blocking and must be a regular
 * file, and is scanned for @include before libconfig reads it (see
 * conf.c): an included name that is not a regular file that can be read is
 * an error at the line of its @include. */
int conf_load(const char *path, const struct conf_load_opts *opts, struct conf **ret, struct conf_diags *diags);
/* conf_load() for a caller that checks more (plan_load()): *ret is always
 * set, on failure to the model of what could be read (the workers that
 * were kept; see names_complete and dropped_names), and the diagnostics
 * are appended unsorted: the caller adds its own, then sorts them with
 * conf_diags_sort(). Returns 0 or -EINVAL, like conf_load(). */
int conf_load_partial(const char *path, const struct conf_load_opts *opts, struct conf **ret,
                      struct conf_diags *diags);

/* The mechanism that isolates loading (plan_load_isolated()), also for
 * tests: libconfig 1.5 leaks memory on every syntax error (fixed in 1.7.3)
 * and can exit() on input it cannot read: a failed reload must cost graced
 * nothing that lasts, and graced must never die of what a file holds. So
 * check() runs in a short-lived forked child (conffork.c) that sends its
 * diagnostics back through a close-on-exec pipe and _exit()s. A child that
 * does not answer completely (an exit, a signal, no answer within timeout:
 * then it is SIGKILLed) is one diagnostic "FILE: the configuration parser
 * failed: REASON". The child is reaped here, by its pid, before returning.
 * Returns 0 (check() found nothing), -EINVAL with the child's diagnostics
 * (or the failure) appended to diags, or -errno when no child could be made
 * (nothing appended). */
#define CONF_CHECK_TIMEOUT (10 * USEC_PER_SEC)
typedef int conf_check_fn(const char *path, const struct conf_load_opts *opts, struct conf_diags *diags);
int conf_check_in_child(const char *path, const struct conf_load_opts *opts, conf_check_fn *check, usec_t timeout,
                        struct conf_diags *diags);

struct conf *conf_free(struct conf *c); /* NULL-safe, returns NULL */
void conf_diags_clear(struct conf_diags *d);
/* Appends one diagnostic (file may be NULL, line 0: none); d NULL: nothing. */
_printf_(4, 5) void conf_diags_add(struct conf_diags *d, const char *file, int line, const char *fmt, ...);
_printf_(4, 0) void conf_diags_addv(struct conf_diags *d, const char *file, int line, const char *fmt, va_list ap);
/* Moves every diagnostic of from to the end of to (to NULL: frees them). */
void conf_diags_move(struct conf_diags *to, struct conf_diags *from);
/* Sorts d the way diagnostics are shown: those without a file first, then
 * by file in c's reading order (c->files; another file after those, by
 * name), then by line; stable otherwise. */
void conf_diags_sort(struct conf_diags *d, const struct conf *c);
/* "FILE:LINE: msg" (or "FILE: msg" / "msg"), caller frees. */
char *conf_diag_format(const struct conf_diag *d);

const struct conf_worker *conf_find_worker(const struct conf *c, const char *name);
/* The template of that name (a worker defined with `instances`), or NULL. */
const struct conf_worker *conf_find_template(const struct conf *c, const char *name);

/* A problem of an instance's value: key names the setting as libconfig's
 * path does ("ready.tcp", "stdout", "instances"), msg says what is wrong,
 * beginning with the setting ("ready: invalid tcp address ..."). */
typedef void conf_problem_fn(void *data, const char *key, const char *msg);
/* Instance k (1 to CONF_MAX_INSTANCES) of template t (loading, and gracectl
 * scale): a deep copy named "NAME.k", with instance_of and instance set, in which
 * %i becomes k and %% a % in every element of command, every env value,
 * every env_file path, the stdout and stderr paths, and each probe's
 * target and exec arguments (a template's values were checked: any other %
 * is left as it is). Then the values that only now can be checked are:
 * the name's length, probe addresses, URLs, unix paths, regular
 * expressions, the directories of output files (stat()). Returns 0, or
 * -EINVAL after one problem() call per problem. *ret is set in both cases
 * (conf_worker_done() it). Never logs. */
int conf_worker_instance(const struct conf_worker *t, unsigned k, struct conf_worker *ret, conf_problem_fn *problem,
                         void *data);
/* True when every setting that affects the running process is equal
 * (argv, env, env_file, env_clear, cwd, user, group, umask, out, ready, type). */
bool conf_worker_same_process(const struct conf_worker *a, const struct conf_worker *b);
/* Deep copy (for reload: the supervisor keeps its own copy per worker). */
struct conf_worker *conf_worker_copy(struct conf_worker *dst, const struct conf_worker *src);
void conf_worker_done(struct conf_worker *w); /* frees members, not w */

/* ---- the model as JSON: the "conf" section of graced's state across a
 * reexec (state.h). Every setting is carried, table-driven from conf.c's
 * key tables; a member not found keeps its default (a newer graced reads
 * an older one's state, and what holds its default is left out); a worker's
 * name and command are required and names are unique. Dependencies are the plan's to check (plan_build()). */
struct json_object;
struct state_rd;
struct json_object *conf_to_json(const struct conf *c);
/* NULL with rd's problem when o is not a model. */
struct conf *conf_from_json(struct json_object *o, struct state_rd *rd);
/* For tests: the name of a setting of the key tables that the JSON does
 * not carry, or NULL when every one is. */
const char *conf_json_missing_key(void);
