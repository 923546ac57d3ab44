/* conf.c - load and validate the configuration (libconfig) into the plain
 * model of conf.h. The only file that includes <libconfig.h>. Never logs:
 * every problem becomes a "FILE:LINE: message" diagnostic, and all of them
 * are collected before giving up. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libconfig.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf.h"
#include "parse.h"
#include "plan.h"

/* Range limits of integer settings (documented in graced.conf(5)). */
#define FORCE_AFTER_MAX 100
#define START_LIMIT_BURST_MAX 10000
#define NAME_RULE "1 to 64 of A-Z a-z 0-9 _ . -"

static const char *const top_keys[] = { "supervisor", "workers" };
static const char *const supervisor_keys[] = {
        "name",        "shutdown_timeout", "signal_debounce", "force_after",
        "max_parallel", "ready_timeout",   "report_file",     "control_socket",
        "include_dir", "cleanup",
};
static const char *const worker_keys[] = {
        "name",          "command",       "type",          "env",
        "env_clear",     "cwd",           "user",          "group",
        "umask",         "after",         "ready",         "ready_timeout",
        "watchdog",      "stop_signal",   "stop_timeout",  "kill_mode",
        "pre_stop",      "pre_stop_timeout", "post_stop",  "post_stop_timeout",
        "restart",       "restart_delay", "restart_delay_max", "start_limit_burst",
        "start_limit_interval", "critical", "stdout",      "stderr",
};
static const char *const cleanup_keys[] = { "name", "command", "timeout", "shielded" };

static const char *const type_names[] = { [WORKER_TYPE_SIMPLE] = "simple", [WORKER_TYPE_ONESHOT] = "oneshot" };
static const char *const ready_names[] = { [READY_EXEC] = "exec", [READY_NOTIFY] = "notify" };
static const char *const restart_names[] = { [RESTART_NO] = "no", [RESTART_ON_FAILURE] = "on-failure",
                                             [RESTART_ALWAYS] = "always" };
static const char *const kill_mode_names[] = { [KILL_GROUP] = "group", [KILL_PROCESS] = "process" };
static const char *const out_names[] = { [OUT_LOG] = "log", [OUT_INHERIT] = "inherit", [OUT_NULL] = "null" };

struct loader {
        const struct conf_load_opts *opts;
        struct conf_diags d;
        struct conf *c;
        /* files in the order they were read: the primary sort key of diags */
        char **files;
        size_t n_files;
        /* the file being read, as passed to libconfig, and the directory
         * its relative @include names are resolved against */
        const char *cur_file;
        const char *cur_dir;
        /* For the dependency checks when some workers could not be kept:
         * names_complete is false once a worker may exist whose name is not
         * known (no name, not a group, a file that could not be read), so an
         * unknown `after` name cannot be told from a reference to it;
         * dropped_names are names given to workers that were not kept (an
         * invalid name, beyond the limit): references to them are no error
         * of their own. */
        bool names_complete;
        char **dropped_names;
        size_t n_dropped_names;
};

/* ---- diagnostics ----------------------------------------------------- */

static void diag_add(struct conf_diags *d, const char *file, int line, char *msg)
{
        d->v = xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
        d->v[d->n++] = (struct conf_diag){ .file = xstrdup(file), .line = line, .msg = msg };
}

_printf_(4, 5) static void diag_at(struct loader *L, const char *file, int line, const char *fmt, ...)
{
        va_list ap;
        char *msg;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (!msg)
                msg = xstrdup("out of memory");
        diag_add(&L->d, file, line, msg);
}

static char *path_join(const char *dir, const char *name)
{
        if (!dir || name[0] == '/')
                return xstrdup(name);
        return xasprintf("%s/%s", dir, name);
}

static char *dir_of(const char *path)
{
        const char *slash = strrchr(path, '/');

        if (!slash)
                return xstrdup(".");
        if (slash == path)
                return xstrdup("/");
        return strndup(path, (size_t)(slash - path)) ?: xstrdup(".");
}

/* The file a setting comes from, as diagnostics name it: the main file as
 * given, an @include'd one resolved against the include directory. */
static char *setting_file(struct loader *L, const config_setting_t *s)
{
        const char *f = config_setting_source_file(s);

        if (!f || strcmp(f, L->cur_file) == 0)
                return xstrdup(L->cur_file);
        return path_join(L->cur_dir, f);
}

static int setting_line(const config_setting_t *s) { return (int)config_setting_source_line(s); }

_printf_(3, 4) static void diag_s(struct loader *L, const config_setting_t *s, const char *fmt, ...)
{
        va_list ap;
        char *msg, *file;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (!msg)
                msg = xstrdup("out of memory");
        file = setting_file(L, s);
        diag_add(&L->d, file, setting_line(s), msg);
        free(file);
}

static void drop_name(struct loader *L, const char *name)
{
        L->dropped_names = xrealloc(L->dropped_names, (L->n_dropped_names + 1) * sizeof(char *));
        L->dropped_names[L->n_dropped_names++] = xstrdup(name);
}

static void register_file(struct loader *L, const char *file)
{
        for (size_t i = 0; i < L->n_files; i++)
                if (strcmp(L->files[i], file) == 0)
                        return;
        L->files = xrealloc(L->files, (L->n_files + 1) * sizeof(char *));
        L->files[L->n_files++] = xstrdup(file);
}

struct diag_key {
        struct conf_diag d;
        size_t rank, seq;
};

static int diag_key_cmp(const void *a, const void *b)
{
        const struct diag_key *x = a, *y = b;

        if (x->rank != y->rank)
                return x->rank < y->rank ? -1 : 1;
        if (x->rank == SIZE_MAX && x->d.file && y->d.file) {
                int r = strcmp(x->d.file, y->d.file);
                if (r)
                        return r;
        }
        if (x->d.line != y->d.line)
                return x->d.line < y->d.line ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Moves L's diagnostics to out, sorted by file (in reading order), then line;
 * stable otherwise. */
static void diags_flush(struct loader *L, struct conf_diags *out)
{
        struct diag_key *k;
        size_t n = L->d.n;

        if (n == 0)
                return;
        k = xcalloc(n, sizeof(*k));
        for (size_t i = 0; i < n; i++) {
                k[i].d = L->d.v[i];
                k[i].seq = i;
                k[i].rank = SIZE_MAX;
                if (!k[i].d.file)
                        k[i].rank = 0;
                else
                        for (size_t j = 0; j < L->n_files; j++)
                                if (strcmp(L->files[j], k[i].d.file) == 0) {
                                        k[i].rank = j + 1;
                                        break;
                                }
        }
        qsort(k, n, sizeof(*k), diag_key_cmp);
        out->v = xrealloc(out->v, (out->n + n) * sizeof(*out->v));
        for (size_t i = 0; i < n; i++)
                out->v[out->n++] = k[i].d;
        free(k);
        free(L->d.v);
        L->d.v = NULL;
        L->d.n = 0;
}

void conf_diags_clear(struct conf_diags *d)
{
        if (!d)
                return;
        for (size_t i = 0; i < d->n; i++) {
                free(d->v[i].file);
                free(d->v[i].msg);
        }
        free(d->v);
        d->v = NULL;
        d->n = 0;
}

char *conf_diag_format(const struct conf_diag *d)
{
        if (d->file && d->line > 0)
                return xasprintf("%s:%d: %s", d->file, d->line, d->msg);
        if (d->file)
                return xasprintf("%s: %s", d->file, d->msg);
        return xstrdup(d->msg);
}

/* ---- typed getters: each reports its own type error ------------------- */

static const char *key_of(const config_setting_t *s) { return config_setting_name(s) ?: "?"; }

static bool get_string(struct loader *L, const char *ctx, const config_setting_t *s, const char **ret)
{
        if (config_setting_type(s) != CONFIG_TYPE_STRING) {
                diag_s(L, s, "%s: %s must be a string", ctx, key_of(s));
                return false;
        }
        *ret = config_setting_get_string(s);
        return true;
}

static bool get_nonempty_string(struct loader *L, const char *ctx, const config_setting_t *s, const char **ret)
{
        if (!get_string(L, ctx, s, ret))
                return false;
        if (!**ret) {
                diag_s(L, s, "%s: %s must not be empty", ctx, key_of(s));
                return false;
        }
        return true;
}

static bool get_abs_path(struct loader *L, const char *ctx, const config_setting_t *s, const char **ret)
{
        if (!get_nonempty_string(L, ctx, s, ret))
                return false;
        if ((*ret)[0] != '/') {
                diag_s(L, s, "%s: %s must be an absolute path", ctx, key_of(s));
                return false;
        }
        return true;
}

static bool get_bool(struct loader *L, const char *ctx, const config_setting_t *s, bool *ret)
{
        if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
                diag_s(L, s, "%s: %s must be true or false", ctx, key_of(s));
                return false;
        }
        *ret = config_setting_get_bool(s);
        return true;
}

static bool get_int_range(struct loader *L, const char *ctx, const config_setting_t *s, long long min,
                          long long max, unsigned *ret)
{
        long long v;

        if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64) {
                diag_s(L, s, "%s: %s must be an integer", ctx, key_of(s));
                return false;
        }
        v = config_setting_get_int64(s);
        if (v < min) {
                diag_s(L, s, "%s: %s must be >= %lld", ctx, key_of(s), min);
                return false;
        }
        if (v > max) {
                diag_s(L, s, "%s: %s must be <= %lld", ctx, key_of(s), max);
                return false;
        }
        *ret = (unsigned)v;
        return true;
}

/* positive: 0 is refused ("must be > 0"). */
static bool get_duration(struct loader *L, const char *ctx, const config_setting_t *s, bool positive,
                         usec_t *ret)
{
        const char *key = key_of(s);
        usec_t v = 0;
        int r;

        switch (config_setting_type(s)) {
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64: {
                long long i = config_setting_get_int64(s);
                r = i < 0 ? -ERANGE : parse_duration_seconds((double)i, &v);
                if (r < 0) {
                        if (i < 0)
                                diag_s(L, s, "%s: %s must not be negative", ctx, key);
                        else
                                diag_s(L, s, "%s: %s must be at most 365d", ctx, key);
                        return false;
                }
                break;
        }
        case CONFIG_TYPE_FLOAT: {
                double f = config_setting_get_float(s);
                r = parse_duration_seconds(f, &v);
                if (r < 0) {
                        if (f < 0)
                                diag_s(L, s, "%s: %s must not be negative", ctx, key);
                        else
                                diag_s(L, s, "%s: %s must be at most 365d", ctx, key);
                        return false;
                }
                break;
        }
        case CONFIG_TYPE_STRING: {
                const char *str = config_setting_get_string(s), *p = str;
                r = parse_duration(str, &v);
                if (r == -EINVAL) {
                        diag_s(L, s, "%s: invalid duration \"%s\" in %s", ctx, str, key);
                        return false;
                }
                if (r < 0) {
                        while (*p == ' ' || *p == '\t')
                                p++;
                        if (*p == '-')
                                diag_s(L, s, "%s: %s must not be negative", ctx, key);
                        else
                                diag_s(L, s, "%s: %s must be at most 365d", ctx, key);
                        return false;
                }
                break;
        }
        default:
                diag_s(L, s, "%s: %s must be a duration (seconds, or a string such as \"10s\")", ctx, key);
                return false;
        }
        if (positive && v == 0) {
                diag_s(L, s, "%s: %s must be > 0", ctx, key);
                return false;
        }
        *ret = v;
        return true;
}

static bool is_list(const config_setting_t *s)
{
        return config_setting_type(s) == CONFIG_TYPE_LIST || config_setting_type(s) == CONFIG_TYPE_ARRAY;
}

/* A list or array of strings -> NULL-terminated vector. */
static bool get_strv(struct loader *L, const char *ctx, const config_setting_t *s, bool argv, char ***ret)
{
        const char *key = key_of(s);
        int n;
        char **v;

        if (!is_list(s))
                goto type_error;
        n = config_setting_length(s);
        if (argv && n == 0)
                goto type_error;
        for (int i = 0; i < n; i++)
                if (config_setting_type(config_setting_get_elem(s, (unsigned)i)) != CONFIG_TYPE_STRING)
                        goto type_error;
        if (argv && (size_t)n > CONF_MAX_ARGV) {
                diag_s(L, s, "%s: %s has more than %d elements", ctx, key, CONF_MAX_ARGV);
                return false;
        }
        if (!argv && (size_t)n > CONF_MAX_WORKERS) {
                diag_s(L, s, "%s: %s has more than %d elements", ctx, key, CONF_MAX_WORKERS);
                return false;
        }
        if (argv && !config_setting_get_string_elem(s, 0)[0]) {
                diag_s(L, s, "%s: %s[0] must not be empty", ctx, key);
                return false;
        }
        v = xcalloc((size_t)n + 1, sizeof(char *));
        for (int i = 0; i < n; i++)
                v[i] = xstrdup(config_setting_get_string_elem(s, (unsigned)i));
        *ret = v;
        return true;

type_error:
        diag_s(L, s, "%s: %s must be a %slist of strings", ctx, key, argv ? "non-empty " : "");
        return false;
}

static void enum_expected(char *buf, size_t len, const char *const *names, size_t n, const char *extra)
{
        size_t at = 0;
        size_t total = n + (extra ? 1 : 0);

        buf[0] = 0;
        for (size_t i = 0; i < total; i++) {
                const char *sep = i == 0 ? "" : i + 1 == total ? " or " : ", ";
                int r;
                if (i < n)
                        r = snprintf(buf + at, len - at, "%s\"%s\"", sep, names[i]);
                else
                        r = snprintf(buf + at, len - at, "%s%s", sep, extra);
                if (r < 0 || (size_t)r >= len - at)
                        return;
                at += (size_t)r;
        }
}

static void enum_error(struct loader *L, const char *ctx, const config_setting_t *s, const char *val,
                       const char *const *names, size_t n, const char *extra)
{
        const char *sug = suggest(val, names, n);
        char expected[256];

        if (sug) {
                diag_s(L, s, "%s: invalid %s \"%s\"; did you mean \"%s\"?", ctx, key_of(s), val, sug);
                return;
        }
        enum_expected(expected, sizeof(expected), names, n, extra);
        diag_s(L, s, "%s: invalid %s \"%s\" (expected %s)", ctx, key_of(s), val, expected);
}

static bool get_enum(struct loader *L, const char *ctx, const config_setting_t *s, const char *const *names,
                     size_t n, int *ret)
{
        const char *v;

        if (!get_string(L, ctx, s, &v))
                return false;
        for (size_t i = 0; i < n; i++)
                if (strcmp(v, names[i]) == 0) {
                        *ret = (int)i;
                        return true;
                }
        enum_error(L, ctx, s, v, names, n, NULL);
        return false;
}

static bool get_signal(struct loader *L, const char *ctx, const config_setting_t *s, int *ret)
{
        int sig;

        switch (config_setting_type(s)) {
        case CONFIG_TYPE_STRING: {
                const char *v = config_setting_get_string(s);
                sig = parse_signal(v);
                if (sig < 0) {
                        diag_s(L, s, "%s: unknown signal \"%s\" in %s", ctx, v, key_of(s));
                        return false;
                }
                break;
        }
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64: {
                long long v = config_setting_get_int64(s);
                char num[32];
                snprintf(num, sizeof(num), "%lld", v);
                sig = v > 0 ? parse_signal(num) : -EINVAL;
                if (sig < 0) {
                        diag_s(L, s, "%s: unknown signal %lld in %s", ctx, v, key_of(s));
                        return false;
                }
                break;
        }
        default:
                diag_s(L, s, "%s: %s must be a signal name or number", ctx, key_of(s));
                return false;
        }
        *ret = sig;
        return true;
}

static void unknown_setting(struct loader *L, const char *ctx, const config_setting_t *s,
                            const char *const *keys, size_t n)
{
        const char *key = key_of(s), *sug = suggest(key, keys, n);

        if (sug)
                diag_s(L, s, "%s%sunknown setting \"%s\"; did you mean \"%s\"?", ctx ?: "", ctx ? ": " : "",
                       key, sug);
        else
                diag_s(L, s, "%s%sunknown setting \"%s\"", ctx ?: "", ctx ? ": " : "", key);
}

/* ---- workers ------------------------------------------------------------ */

static void worker_defaults(struct conf_worker *w, const struct conf *c)
{
        *w = (struct conf_worker){
                .type = WORKER_TYPE_SIMPLE,
                .umask = -1,
                .ready = READY_EXEC,
                .ready_timeout = c->ready_timeout,
                .stop_signal = parse_signal("TERM"),
                .stop_timeout = DEFAULT_STOP_TIMEOUT,
                .kill_mode = KILL_GROUP,
                .pre_stop_timeout = DEFAULT_HOOK_TIMEOUT,
                .post_stop_timeout = DEFAULT_HOOK_TIMEOUT,
                .restart = RESTART_ON_FAILURE,
                .restart_delay = DEFAULT_RESTART_DELAY,
                .restart_delay_max = DEFAULT_RESTART_DELAY_MAX,
                .start_limit_burst = DEFAULT_START_LIMIT_BURST,
                .start_limit_interval = DEFAULT_START_LIMIT_INTERVAL,
                .out = { OUT_LOG, OUT_LOG },
        };
}

static void parse_env(struct loader *L, const char *ctx, const config_setting_t *s, struct conf_worker *w)
{
        int n;
        char **v;

        if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
                diag_s(L, s, "%s: env must be a group of string values { KEY = \"value\"; ... }", ctx);
                return;
        }
        n = config_setting_length(s);
        if (n > CONF_MAX_ENV) {
                diag_s(L, s, "%s: env has more than %d entries", ctx, CONF_MAX_ENV);
                return;
        }
        v = xcalloc((size_t)n + 1, sizeof(char *));
        for (int i = 0, j = 0; i < n; i++) {
                config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
                if (config_setting_type(e) != CONFIG_TYPE_STRING) {
                        diag_s(L, e, "%s: env.%s must be a string", ctx, key_of(e));
                        continue;
                }
                v[j++] = xasprintf("%s=%s", key_of(e), config_setting_get_string(e));
        }
        strv_free(w->env);
        w->env = v;
}

static void parse_umask(struct loader *L, const char *ctx, const config_setting_t *s, struct conf_worker *w)
{
        int mode, r;

        switch (config_setting_type(s)) {
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64: {
                r = config_setting_get_format(s) == CONFIG_FORMAT_HEX
                            ? -EINVAL
                            : parse_umask_int(config_setting_get_int64(s), &mode);
                if (r < 0) {
                        diag_s(L, s, "%s: invalid umask (octal digits 0-7, at most 0777, e.g. 0027)", ctx);
                        return;
                }
                break;
        }
        case CONFIG_TYPE_STRING: {
                const char *v = config_setting_get_string(s);
                if (parse_umask_str(v, &mode) < 0) {
                        diag_s(L, s, "%s: invalid umask \"%s\" (octal digits 0-7, at most 0777)", ctx, v);
                        return;
                }
                break;
        }
        default:
                diag_s(L, s, "%s: umask must be an octal number such as 0027 or \"0027\"", ctx);
                return;
        }
        w->umask = mode;
}

static void parse_output(struct loader *L, const char *ctx, const config_setting_t *s, int stream,
                         struct conf_worker *w)
{
        const char *v;
        struct stat st;
        char *dir;

        if (!get_string(L, ctx, s, &v))
                return;
        for (size_t i = 0; i < ELEMENTSOF(out_names); i++)
                if (strcmp(v, out_names[i]) == 0) {
                        w->out[stream] = (enum out_mode)i;
                        return;
                }
        if (v[0] != '/') {
                enum_error(L, ctx, s, v, out_names, ELEMENTSOF(out_names), "an absolute path");
                return;
        }
        if (stat(v, &st) == 0 && S_ISDIR(st.st_mode)) {
                diag_s(L, s, "%s: %s \"%s\" is a directory", ctx, key_of(s), v);
                return;
        }
        dir = dir_of(v);
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
                diag_s(L, s, "%s: directory of %s \"%s\" does not exist", ctx, key_of(s), v);
                free(dir);
                return;
        }
        free(dir);
        w->out[stream] = OUT_FILE;
        free(w->out_path[stream]);
        w->out_path[stream] = xstrdup(v);
}

static void parse_user(struct loader *L, const char *ctx, const config_setting_t *s, struct conf_worker *w)
{
        const char *v;
        struct passwd *pw;

        if (!get_nonempty_string(L, ctx, s, &v))
                return;
        if (!L->opts->as_root) {
                diag_s(L, s, "%s: user can only be set when graced runs as root", ctx);
                return;
        }
        errno = 0;
        pw = getpwnam(v);
        if (!pw) {
                diag_s(L, s, "%s: unknown user \"%s\"", ctx, v);
                return;
        }
        free(w->user);
        w->user = xstrdup(v);
        w->uid = pw->pw_uid;
        if (!w->group)
                w->gid = pw->pw_gid;
        w->set_ids = true;
}

static void parse_group(struct loader *L, const char *ctx, const config_setting_t *s, struct conf_worker *w)
{
        const char *v;
        struct group *gr;

        if (!get_nonempty_string(L, ctx, s, &v))
                return;
        if (!L->opts->as_root) {
                diag_s(L, s, "%s: group can only be set when graced runs as root", ctx);
                return;
        }
        gr = getgrnam(v);
        if (!gr) {
                diag_s(L, s, "%s: unknown group \"%s\"", ctx, v);
                return;
        }
        free(w->group);
        w->group = xstrdup(v);
        w->gid = gr->gr_gid;
        if (!w->user)
                w->uid = getuid();
        w->set_ids = true;
}

static const struct conf_worker *find_worker_n(const struct conf *c, const char *name)
{
        for (size_t i = 0; c && i < c->n_workers; i++)
                if (strcmp(c->workers[i].name, name) == 0)
                        return &c->workers[i];
        return NULL;
}

/* The `name` of a worker or cleanup step (kind: "worker", "cleanup step"):
 * a missing or invalid one is reported under ctx ("worker #3"); a valid one
 * renames ctx to `kind "NAME"` and is returned (borrowed from libconfig). */
static const char *read_name(struct loader *L, const config_setting_t *g, const config_setting_t **ret_s,
                             const char *kind, char *ctx, size_t ctxlen)
{
        const config_setting_t *name_s = config_setting_get_member(g, "name");
        const char *name;

        *ret_s = name_s;
        if (!name_s) {
                diag_s(L, g, "%s: missing name", ctx);
                return NULL;
        }
        if (!get_string(L, ctx, name_s, &name))
                return NULL;
        if (!name_is_valid(name)) {
                diag_s(L, name_s, "%s: invalid name \"%s\" (" NAME_RULE ")", ctx, name);
                return NULL;
        }
        snprintf(ctx, ctxlen, "%s \"%s\"", kind, name);
        return name;
}

/* Parses one element of a `workers` list; index is 1-based in that list. */
static void parse_worker(struct loader *L, const config_setting_t *g, unsigned index)
{
        struct conf *c = L->c;
        struct conf_worker w;
        const config_setting_t *name_s, *s, *watchdog_s = NULL, *restart_s = NULL, *delay_max_s = NULL;
        char ctx[NAME_MAX_LEN + 32];
        bool keep = true;
        int n;

        if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
                diag_s(L, g, "worker #%u must be a group { ... }", index);
                L->names_complete = false;
                return;
        }
        worker_defaults(&w, c);
        snprintf(ctx, sizeof(ctx), "worker #%u", index);
        {
                const char *name = read_name(L, g, &name_s, "worker", ctx, sizeof ctx);
                const struct conf_worker *first = name ? find_worker_n(c, name) : NULL;

                if (!name) {
                        keep = false;
                        /* an invalid name is still a name: `after` may refer to it */
                        if (name_s && config_setting_type(name_s) == CONFIG_TYPE_STRING)
                                drop_name(L, config_setting_get_string(name_s));
                        else
                                L->names_complete = false;
                } else {
                        if (first) {
                                diag_s(L, name_s, "duplicate worker name \"%s\" (first defined at %s:%d)", name,
                                       first->file, first->line);
                                keep = false;
                        }
                        w.name = xstrdup(name);
                }
        }
        w.file = setting_file(L, name_s ?: g);
        w.line = setting_line(name_s ?: g);

        n = config_setting_length(g);
        for (int i = 0; i < n; i++) {
                const char *key;
                int e;

                s = config_setting_get_elem(g, (unsigned)i);
                key = key_of(s);
                if (strcmp(key, "name") == 0)
                        continue;
                else if (strcmp(key, "command") == 0)
                        get_strv(L, ctx, s, true, &w.argv);
                else if (strcmp(key, "type") == 0) {
                        if (get_enum(L, ctx, s, type_names, ELEMENTSOF(type_names), &e))
                                w.type = (enum worker_type)e;
                } else if (strcmp(key, "env") == 0)
                        parse_env(L, ctx, s, &w);
                else if (strcmp(key, "env_clear") == 0)
                        get_bool(L, ctx, s, &w.env_clear);
                else if (strcmp(key, "cwd") == 0) {
                        const char *v;
                        if (get_abs_path(L, ctx, s, &v))
                                w.cwd = xstrdup(v);
                } else if (strcmp(key, "user") == 0)
                        parse_user(L, ctx, s, &w);
                else if (strcmp(key, "group") == 0)
                        parse_group(L, ctx, s, &w);
                else if (strcmp(key, "umask") == 0)
                        parse_umask(L, ctx, s, &w);
                else if (strcmp(key, "after") == 0)
                        get_strv(L, ctx, s, false, &w.after);
                else if (strcmp(key, "ready") == 0) {
                        if (get_enum(L, ctx, s, ready_names, ELEMENTSOF(ready_names), &e))
                                w.ready = (enum ready_mode)e;
                } else if (strcmp(key, "ready_timeout") == 0)
                        get_duration(L, ctx, s, true, &w.ready_timeout);
                else if (strcmp(key, "watchdog") == 0) {
                        if (get_duration(L, ctx, s, false, &w.watchdog))
                                watchdog_s = s;
                } else if (strcmp(key, "stop_signal") == 0)
                        get_signal(L, ctx, s, &w.stop_signal);
                else if (strcmp(key, "stop_timeout") == 0)
                        get_duration(L, ctx, s, false, &w.stop_timeout);
                else if (strcmp(key, "kill_mode") == 0) {
                        if (get_enum(L, ctx, s, kill_mode_names, ELEMENTSOF(kill_mode_names), &e))
                                w.kill_mode = (enum kill_mode)e;
                } else if (strcmp(key, "pre_stop") == 0)
                        get_strv(L, ctx, s, true, &w.pre_stop);
                else if (strcmp(key, "pre_stop_timeout") == 0)
                        get_duration(L, ctx, s, true, &w.pre_stop_timeout);
                else if (strcmp(key, "post_stop") == 0)
                        get_strv(L, ctx, s, true, &w.post_stop);
                else if (strcmp(key, "post_stop_timeout") == 0)
                        get_duration(L, ctx, s, true, &w.post_stop_timeout);
                else if (strcmp(key, "restart") == 0) {
                        if (get_enum(L, ctx, s, restart_names, ELEMENTSOF(restart_names), &e)) {
                                w.restart = (enum restart_policy)e;
                                restart_s = s;
                        }
                } else if (strcmp(key, "restart_delay") == 0)
                        get_duration(L, ctx, s, false, &w.restart_delay);
                else if (strcmp(key, "restart_delay_max") == 0) {
                        if (get_duration(L, ctx, s, false, &w.restart_delay_max))
                                delay_max_s = s;
                } else if (strcmp(key, "start_limit_burst") == 0)
                        get_int_range(L, ctx, s, 1, START_LIMIT_BURST_MAX, &w.start_limit_burst);
                else if (strcmp(key, "start_limit_interval") == 0)
                        get_duration(L, ctx, s, false, &w.start_limit_interval);
                else if (strcmp(key, "critical") == 0)
                        get_bool(L, ctx, s, &w.critical);
                else if (strcmp(key, "stdout") == 0)
                        parse_output(L, ctx, s, STREAM_STDOUT, &w);
                else if (strcmp(key, "stderr") == 0)
                        parse_output(L, ctx, s, STREAM_STDERR, &w);
                else
                        unknown_setting(L, ctx, s, worker_keys, ELEMENTSOF(worker_keys));
        }

        /* rules that involve several settings */
        if (!config_setting_get_member(g, "command"))
                diag_s(L, name_s ?: g, "%s: missing command", ctx);
        if (watchdog_s && w.watchdog > 0 && w.ready != READY_NOTIFY)
                diag_s(L, watchdog_s, "%s: watchdog requires ready = \"notify\"", ctx);
        if (restart_s && w.type == WORKER_TYPE_ONESHOT && w.restart == RESTART_ALWAYS)
                diag_s(L, restart_s, "%s: restart = \"always\" is not allowed with type = \"oneshot\"", ctx);
        if (w.restart_delay_max < w.restart_delay) {
                if (delay_max_s)
                        diag_s(L, delay_max_s, "%s: restart_delay_max must be >= restart_delay", ctx);
                else /* only restart_delay given, above the default maximum: a fixed delay */
                        w.restart_delay_max = w.restart_delay;
        }

        if (!keep) {
                conf_worker_done(&w);
                return;
        }
        if (c->n_workers >= CONF_MAX_WORKERS) {
                diag_s(L, g, "more than %d workers", CONF_MAX_WORKERS);
                drop_name(L, w.name);
                conf_worker_done(&w);
                return;
        }
        c->workers = xrealloc(c->workers, (c->n_workers + 1) * sizeof(*c->workers));
        c->workers[c->n_workers++] = w;
}

/* A list of groups `( { ... }, ... )`; `[]` is an empty array in
 * libconfig's eyes, and as good as an empty list. */
static bool is_group_list(const config_setting_t *list)
{
        return config_setting_type(list) == CONFIG_TYPE_LIST ||
               (config_setting_type(list) == CONFIG_TYPE_ARRAY && config_setting_length(list) == 0);
}

static void parse_workers(struct loader *L, const config_setting_t *list)
{
        int n;

        if (!is_group_list(list)) {
                diag_s(L, list, "workers must be a list ( { ... }, ... )");
                L->names_complete = false;
                return;
        }
        n = config_setting_length(list);
        for (int i = 0; i < n; i++)
                parse_worker(L, config_setting_get_elem(list, (unsigned)i), (unsigned)i + 1);
}

/* ---- supervisor ---------------------------------------------------------- */

static void parse_cleanup_step(struct loader *L, const config_setting_t *g, unsigned index)
{
        struct conf *c = L->c;
        struct conf_cleanup st = { .timeout = DEFAULT_CLEANUP_TIMEOUT };
        const config_setting_t *name_s;
        char ctx[NAME_MAX_LEN + 32];
        bool keep = true;
        int n;

        if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
                diag_s(L, g, "cleanup step #%u must be a group { ... }", index);
                return;
        }
        snprintf(ctx, sizeof(ctx), "cleanup step #%u", index);
        {
                const char *name = read_name(L, g, &name_s, "cleanup step", ctx, sizeof ctx);

                if (!name) {
                        keep = false;
                } else {
                        for (size_t i = 0; i < c->n_cleanup; i++)
                                if (strcmp(c->cleanup[i].name, name) == 0) {
                                        diag_s(L, name_s,
                                               "duplicate cleanup step name \"%s\" (first defined at %s:%d)",
                                               name, c->cleanup[i].file, c->cleanup[i].line);
                                        keep = false;
                                        break;
                                }
                        st.name = xstrdup(name);
                }
        }
        st.file = setting_file(L, name_s ?: g);
        st.line = setting_line(name_s ?: g);

        n = config_setting_length(g);
        for (int i = 0; i < n; i++) {
                const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
                const char *key = key_of(s);

                if (strcmp(key, "name") == 0)
                        continue;
                else if (strcmp(key, "command") == 0)
                        get_strv(L, ctx, s, true, &st.argv);
                else if (strcmp(key, "timeout") == 0)
                        get_duration(L, ctx, s, true, &st.timeout);
                else if (strcmp(key, "shielded") == 0)
                        get_bool(L, ctx, s, &st.shielded);
                else
                        unknown_setting(L, ctx, s, cleanup_keys, ELEMENTSOF(cleanup_keys));
        }
        if (!config_setting_get_member(g, "command"))
                diag_s(L, name_s ?: g, "%s: missing command", ctx);

        if (!keep) {
                free(st.name);
                strv_free(st.argv);
                free(st.file);
                return;
        }
        c->cleanup = xrealloc(c->cleanup, (c->n_cleanup + 1) * sizeof(*c->cleanup));
        c->cleanup[c->n_cleanup++] = st;
}

static void parse_cleanup(struct loader *L, const config_setting_t *list)
{
        int n;

        if (!is_group_list(list)) {
                diag_s(L, list, "supervisor: cleanup must be a list ( { ... }, ... )");
                return;
        }
        n = config_setting_length(list);
        if (n > CONF_MAX_CLEANUP) {
                diag_s(L, list, "supervisor: cleanup has more than %d steps", CONF_MAX_CLEANUP);
                return;
        }
        for (int i = 0; i < n; i++)
                parse_cleanup_step(L, config_setting_get_elem(list, (unsigned)i), (unsigned)i + 1);
}

static void parse_supervisor(struct loader *L, const config_setting_t *g, const config_setting_t **include_s)
{
        struct conf *c = L->c;
        const char *ctx = "supervisor";
        int n;

        if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
                diag_s(L, g, "supervisor must be a group { ... }");
                return;
        }
        n = config_setting_length(g);
        for (int i = 0; i < n; i++) {
                const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
                const char *key = key_of(s), *v;

                if (strcmp(key, "name") == 0) {
                        if (get_string(L, ctx, s, &v)) {
                                if (!name_is_valid(v))
                                        diag_s(L, s, "supervisor: invalid name \"%s\" (" NAME_RULE ")", v);
                                else {
                                        free(c->name);
                                        c->name = xstrdup(v);
                                }
                        }
                } else if (strcmp(key, "shutdown_timeout") == 0)
                        get_duration(L, ctx, s, true, &c->shutdown_timeout);
                else if (strcmp(key, "signal_debounce") == 0)
                        get_duration(L, ctx, s, false, &c->signal_debounce);
                else if (strcmp(key, "force_after") == 0)
                        get_int_range(L, ctx, s, 0, FORCE_AFTER_MAX, &c->force_after);
                else if (strcmp(key, "max_parallel") == 0)
                        get_int_range(L, ctx, s, 1, CONF_MAX_WORKERS, &c->max_parallel);
                else if (strcmp(key, "ready_timeout") == 0)
                        get_duration(L, ctx, s, true, &c->ready_timeout);
                else if (strcmp(key, "report_file") == 0) {
                        if (get_abs_path(L, ctx, s, &v))
                                c->report_file = xstrdup(v);
                } else if (strcmp(key, "control_socket") == 0) {
                        if (!get_string(L, ctx, s, &v))
                                continue;
                        if (v[0] && v[0] != '/')
                                diag_s(L, s, "supervisor: control_socket must be an absolute path or \"\"");
                        else if (strlen(v) >= sizeof(((struct sockaddr_un *)0)->sun_path))
                                diag_s(L, s, "supervisor: control_socket path is longer than %zu bytes",
                                       sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
                        else
                                c->control_socket = xstrdup(v);
                } else if (strcmp(key, "include_dir") == 0) {
                        if (get_nonempty_string(L, ctx, s, &v))
                                *include_s = s;
                } else if (strcmp(key, "cleanup") == 0)
                        parse_cleanup(L, s);
                else
                        unknown_setting(L, ctx, s, supervisor_keys, ELEMENTSOF(supervisor_keys));
        }
}

/* ---- files ----------------------------------------------------------------- */

/* Why a file of this type cannot be a configuration file; NULL for a
 * regular file. Nothing else is safe to hand to libconfig: it would block
 * on a FIFO, read /dev/zero forever, and exit(2) on a directory. */
static const char *file_type_problem(mode_t mode)
{
        if (S_ISREG(mode))
                return NULL;
        if (S_ISDIR(mode))
                return strerror(EISDIR);
        if (S_ISFIFO(mode))
                return "not a regular file (a FIFO)";
        if (S_ISCHR(mode))
                return "not a regular file (a character device)";
        if (S_ISBLK(mode))
                return "not a regular file (a block device)";
        if (S_ISSOCK(mode))
                return "not a regular file (a socket)";
        return "not a regular file";
}

/* Opens a configuration file without blocking (a FIFO, a terminal): the fd,
 * or -errno with *why set to the reason (strerror or file_type_problem). */
static int open_config_file(const char *path, struct stat *st, const char **why)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

        if (fd < 0) {
                int e = errno;
                *why = strerror(e);
                return -e;
        }
        if (fstat(fd, st) < 0) {
                int e = errno;
                *why = strerror(e);
                safe_close(fd);
                return -e;
        }
        *why = file_type_problem(st->st_mode);
        if (*why) {
                safe_close(fd);
                return -EINVAL;
        }
        return fd;
}

/* libconfig 1.5 (the version of Debian 12) hands every @include'd name to fopen() and flex without a check: a directory
 * (`@include "."`, `@include ""`) makes its scanner call exit(2), a FIFO
 * blocks in fopen(), /dev/zero never ends. So every file is scanned for
 * @include directives before libconfig sees it, with the lexical rules of
 * libconfig 1.5's scanner.l, and each included file must be a regular file
 * that can be opened:
 * - `^[ \t]*@include[ \t]+"` starts an include, only at the start of a line
 *   in the INITIAL state; the name runs to the next unescaped `"`, over
 *   newlines, with `\\` -> `\`, `\"` -> `"`, any other backslash dropped,
 *   and a NUL ending the rest of a run (libconfig appends C strings);
 * - `/ *` ... `* /` block comments, `#` and `//` line comments, and strings
 *   ("...", backslash escapes) are states in which @include means nothing;
 * - the state belongs to the scanner, not to a file: a file that ends
 *   inside a comment, a string or an include name goes on in that state in
 *   the file that included it; an included file starts in INITIAL;
 * - a name is read from include_dir "/" name (libconfig joins them even for
 *   an absolute name; graced always sets include_dir: the directory of the
 *   main file, or the include_dir directory), and at most 10 includes are
 *   open at once (libconfig's MAX_INCLUDE_DEPTH). */
#define INCLUDE_MAX_DEPTH 10

enum scan_state { SCAN_INITIAL, SCAN_COMMENT, SCAN_STRING, SCAN_INCLUDE };

struct scan_file {
        dev_t dev;
        ino_t ino;
        const char *path;
};

struct scan {
        struct loader *L;
        const char *dir;
        enum scan_state state;
        char *name; /* the include name being read */
        size_t n_name, cap_name;
        bool cut;   /* a NUL ended this run of the name */
        struct scan_file open[INCLUDE_MAX_DEPTH + 1]; /* [0]: the file libconfig reads */
        size_t depth;                                   /* includes open */
        bool bad;
};

struct reader {
        int fd, back, err;
        size_t pos, len;
        unsigned char buf[4096];
};

static int rd_get(struct reader *r)
{
        ssize_t n;

        if (r->back >= 0) {
                int c = r->back;
                r->back = -1;
                return c;
        }
        if (r->pos < r->len)
                return r->buf[r->pos++];
        if (r->err)
                return EOF;
        do
                n = read(r->fd, r->buf, sizeof(r->buf));
        while (n < 0 && errno == EINTR);
        if (n <= 0) {
                r->err = n < 0 ? errno : -1;
                return EOF;
        }
        r->len = (size_t)n;
        r->pos = 1;
        return r->buf[0];
}

static void rd_unget(struct reader *r, int c)
{
        if (c != EOF)
                r->back = c;
}

/* After c (a blank or '@' at the start of a line): the rest of
 * `[ \t]*@include[ \t]+"`. On a mismatch the offending character is left
 * unread; what was read before it holds no newline and starts nothing. */
static bool include_open(struct reader *r, int c)
{
        static const char word[] = "include";

        while (c == ' ' || c == '\t')
                c = rd_get(r);
        if (c != '@') {
                rd_unget(r, c);
                return false;
        }
        for (const char *w = word; *w; w++)
                if ((c = rd_get(r)) != *w) {
                        rd_unget(r, c);
                        return false;
                }
        c = rd_get(r);
        if (c != ' ' && c != '\t') {
                rd_unget(r, c);
                return false;
        }
        while (c == ' ' || c == '\t')
                c = rd_get(r);
        if (c != '"') {
                rd_unget(r, c);
                return false;
        }
        return true;
}

/* A line comment: up to the newline, which is left unread. */
static void skip_line(struct reader *r)
{
        int c;

        while ((c = rd_get(r)) != EOF && c != '\n')
                ;
        rd_unget(r, c);
}

static void name_add(struct scan *S, int c)
{
        if (S->cut)
                return;
        if (c == 0) {
                S->cut = true;
                return;
        }
        if (S->n_name + 2 > S->cap_name) {
                S->cap_name = 2 * S->cap_name + 64;
                S->name = xrealloc(S->name, S->cap_name);
        }
        S->name[S->n_name++] = (char)c;
}

/* A name as diagnostics show it: on one line, quotes and control
 * characters escaped, cut after 256 bytes. */
static char *name_quoted(const char *s)
{
        size_t n = strlen(s), cap = 4 * (n < 256 ? n : 256) + 4, at = 0;
        char *q = xmalloc(cap);

        for (size_t i = 0; i < n && i < 256; i++) {
                unsigned char c = (unsigned char)s[i];

                if (c == '"' || c == '\\')
                        at += (size_t)snprintf(q + at, cap - at, "\\%c", c);
                else if (c < 0x20 || c == 0x7f)
                        at += (size_t)snprintf(q + at, cap - at, "\\x%02x", c);
                else
                        q[at++] = (char)c;
        }
        if (n > 256)
                at += (size_t)snprintf(q + at, cap - at, "...");
        q[at] = 0;
        return q;
}

static int scan_file(struct scan *S, int fd, const char *path);

/* The closing quote of an @include name in `file` at `line`: checks the
 * file it names and scans it in turn. */
static void scan_include(struct scan *S, const char *file, int line)
{
        struct loader *L = S->L;
        char *name, *q, *path = NULL;
        const char *why;
        struct stat st;
        int fd, r;

        if (!S->name)
                S->name = xcalloc(1, S->cap_name = 64);
        S->name[S->n_name] = 0; /* name_add keeps room for it */
        name = S->name;
        q = name_quoted(name);
        S->state = SCAN_INITIAL;
        if (S->depth >= INCLUDE_MAX_DEPTH) {
                diag_at(L, file, line, "@include \"%s\": include file nesting too deep (more than %d levels)", q,
                        INCLUDE_MAX_DEPTH);
                goto fail;
        }
        if (name[0] == '/') {
                diag_at(L, file, line, "@include \"%s\": must be a name relative to %s", q, S->dir);
                goto fail;
        }
        path = xasprintf("%s/%s", S->dir, name);
        fd = open_config_file(path, &st, &why);
        if (fd < 0) {
                diag_at(L, file, line, "@include \"%s\": %s", q, why);
                goto fail;
        }
        for (size_t i = 0; i <= S->depth; i++)
                if (S->open[i].dev == st.st_dev && S->open[i].ino == st.st_ino) {
                        char *chain = xstrdup(""), *t;

                        for (size_t k = i; k <= S->depth; k++) {
                                t = xasprintf("%s%s -> ", chain, S->open[k].path);
                                free(chain);
                                chain = t;
                        }
                        diag_at(L, file, line, "@include \"%s\": include cycle: %s%s", q, chain, S->open[i].path);
                        free(chain);
                        safe_close(fd);
                        goto fail;
                }
        register_file(L, path);
        /* from here on S->name belongs to the included file's includes */
        S->open[++S->depth] = (struct scan_file){ .dev = st.st_dev, .ino = st.st_ino, .path = path };
        r = scan_file(S, fd, path);
        S->depth--;
        safe_close(fd);
        if (r < 0) {
                diag_at(L, file, line, "@include \"%s\": %s", q, strerror(-r));
                goto fail;
        }
        free(q);
        free(path);
        return;

fail:
        S->bad = true;
        free(q);
        free(path);
}

/* Scans one file (fd) for @include, continuing in S->state. Returns 0, or
 * -errno when it cannot be read to its end. */
static int scan_file(struct scan *S, int fd, const char *path)
{
        struct reader r = { .fd = fd, .back = -1 };
        int line = 1, c, d, last = '\n';

        S->cut = false;
        while ((c = rd_get(&r)) != EOF) {
                switch (S->state) {
                case SCAN_INITIAL:
                        if (last == '\n' && (c == ' ' || c == '\t' || c == '@')) {
                                if (include_open(&r, c)) {
                                        S->state = SCAN_INCLUDE;
                                        S->n_name = 0;
                                        S->cut = false;
                                }
                        } else if (c == '"')
                                S->state = SCAN_STRING;
                        else if (c == '#')
                                skip_line(&r);
                        else if (c == '/') {
                                d = rd_get(&r);
                                if (d == '*')
                                        S->state = SCAN_COMMENT;
                                else if (d == '/')
                                        skip_line(&r);
                                else
                                        rd_unget(&r, d);
                        }
                        break;
                case SCAN_COMMENT:
                        if (c == '*') {
                                if ((d = rd_get(&r)) == '/')
                                        S->state = SCAN_INITIAL;
                                else
                                        rd_unget(&r, d);
                        }
                        break;
                case SCAN_STRING:
                        if (c == '"')
                                S->state = SCAN_INITIAL;
                        else if (c == '\\') {
                                d = rd_get(&r);
                                if (d != '\\' && d != '"')
                                        rd_unget(&r, d);
                        }
                        break;
                case SCAN_INCLUDE:
                        if (c == '"') {
                                scan_include(S, path, line);
                                S->cut = false; /* a new run begins */
                        } else if (c == '\\') {
                                d = rd_get(&r);
                                S->cut = false;
                                if (d == '\\' || d == '"')
                                        name_add(S, d);
                                else
                                        rd_unget(&r, d); /* flex's default rule echoes the backslash */
                        } else
                                name_add(S, c);
                        break;
                }
                if (c == '\n')
                        line++;
                last = c;
        }
        return r.err > 0 ? -r.err : 0;
}

/* Opens the file libconfig is about to read and checks it and everything it
 * @includes (see above). false with diagnostics if anything is wrong:
 * libconfig must not see the file then. */
static bool prescan(struct loader *L, const char *path, const char *dir)
{
        struct scan S = { .L = L, .dir = dir };
        const char *why;
        struct stat st;
        int r, fd = open_config_file(path, &st, &why);

        if (fd < 0) {
                diag_at(L, path, 0, "%s", why);
                return false;
        }
        S.open[0] = (struct scan_file){ .dev = st.st_dev, .ino = st.st_ino, .path = path };
        r = scan_file(&S, fd, path);
        safe_close(fd);
        free(S.name);
        if (r < 0) {
                diag_at(L, path, 0, "%s", strerror(-r));
                return false;
        }
        return !S.bad;
}

static void check_world_writable(struct loader *L, const config_t *cfg)
{
        if (!L->opts->as_root)
                return;
        for (unsigned i = 0; i < cfg->num_filenames; i++) {
                const char *f = cfg->filenames[i];
                char *path = strcmp(f, L->cur_file) == 0 ? xstrdup(f) : path_join(L->cur_dir, f);
                struct stat st;

                if (stat(path, &st) == 0 && (st.st_mode & S_IWOTH))
                        diag_at(L, path, 0, "world-writable file refused when running as root");
                free(path);
        }
}

static void register_config_files(struct loader *L, const config_t *cfg)
{
        register_file(L, L->cur_file);
        for (unsigned i = 0; i < cfg->num_filenames; i++) {
                const char *f = cfg->filenames[i];
                char *path = strcmp(f, L->cur_file) == 0 ? xstrdup(f) : path_join(L->cur_dir, f);
                register_file(L, path);
                free(path);
        }
}

/* Reads one file with libconfig. false with a diagnostic on any error. */
static bool read_config(struct loader *L, config_t *cfg, const char *path, const char *dir)
{
        L->cur_file = path;
        L->cur_dir = dir;
        register_file(L, path);
        if (!prescan(L, path, dir))
                return false;
        config_init(cfg);
        config_set_include_dir(cfg, dir);
        if (!config_read_file(cfg, path)) {
                const char *ef = config_error_file(cfg);
                char *file = !ef || strcmp(ef, path) == 0 ? xstrdup(path) : path_join(dir, ef);

                register_config_files(L, cfg);
                if (config_error_type(cfg) == CONFIG_ERR_FILE_IO && !config_error_file(cfg))
                        diag_at(L, file, 0, "%s", config_error_text(cfg));
                else
                        diag_at(L, file, config_error_line(cfg), "%s", config_error_text(cfg));
                free(file);
                check_world_writable(L, cfg);
                config_destroy(cfg);
                return false;
        }
        register_config_files(L, cfg);
        check_world_writable(L, cfg);
        return true;
}

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void load_include_dir(struct loader *L, const config_setting_t *include_s, const char *main_dir)
{
        const char *v = config_setting_get_string(include_s);
        char *dirpath = path_join(main_dir, v);
        char **names = NULL;
        size_t n = 0;
        DIR *d;
        struct dirent *de;

        L->c->include_dir = dirpath;
        d = opendir(dirpath);
        if (!d) {
                diag_s(L, include_s, "supervisor: cannot open include_dir \"%s\": %s", dirpath, strerror(errno));
                L->names_complete = false;
                return;
        }
        while ((de = readdir(d))) {
                size_t len = strlen(de->d_name);
                struct stat st;
                char *p;

                if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".conf") != 0)
                        continue;
                p = path_join(dirpath, de->d_name);
                if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
                        names = xrealloc(names, (n + 1) * sizeof(char *));
                        names[n++] = xstrdup(de->d_name);
                }
                free(p);
        }
        closedir(d);
        if (n > 0)
                qsort(names, n, sizeof(char *), name_cmp);

        for (size_t i = 0; i < n; i++) {
                char *path = path_join(dirpath, names[i]);
                config_t cfg;

                if (read_config(L, &cfg, path, dirpath)) {
                        config_setting_t *root = config_root_setting(&cfg);
                        int m = config_setting_length(root);

                        for (int j = 0; j < m; j++) {
                                config_setting_t *s = config_setting_get_elem(root, (unsigned)j);
                                const char *key = key_of(s);

                                if (strcmp(key, "workers") == 0)
                                        parse_workers(L, s);
                                else if (strcmp(key, "supervisor") == 0)
                                        diag_s(L, s, "supervisor can only be set in the main configuration file");
                                else
                                        unknown_setting(L, NULL, s, top_keys + 1, 1);
                        }
                        config_destroy(&cfg);
                } else
                        L->names_complete = false;
                free(path);
                free(names[i]);
        }
        free(names);
}

/* ---- conf_load --------------------------------------------------------------- */

/* Unknown `after` names and cycles (plan.c) among the workers that were
 * kept, whatever else is wrong, so that one run reports everything. An
 * `after` name that is no kept worker is left out of the check when it
 * names a worker that was not kept, or when not every name is known (it
 * may name a worker that could not be read): only a name that is surely
 * unknown is reported. */
static void check_dependencies(struct loader *L)
{
        const struct conf *c = L->c;
        struct conf view = *c;
        struct plan *p = NULL;

        view.workers = xcalloc(c->n_workers ?: 1, sizeof(*view.workers));
        for (size_t i = 0; i < c->n_workers; i++) {
                const struct conf_worker *w = &c->workers[i];
                size_t n = 0;

                view.workers[i] = *w;
                if (!w->after)
                        continue;
                /* borrowed strings: only the vector is freed below */
                view.workers[i].after = xcalloc(strv_length(w->after) + 1, sizeof(char *));
                for (char **a = w->after; *a; a++) {
                        bool dropped = !L->names_complete;

                        for (size_t k = 0; !dropped && k < L->n_dropped_names; k++)
                                dropped = strcmp(*a, L->dropped_names[k]) == 0;
                        if (!dropped || find_worker_n(c, *a))
                                view.workers[i].after[n++] = *a;
                }
        }
        if (plan_build(&view, &p, &L->d) >= 0)
                plan_free(p);
        for (size_t i = 0; i < c->n_workers; i++)
                free(view.workers[i].after);
        free(view.workers);
}

static struct conf *conf_new(const char *path)
{
        struct conf *c = xcalloc(1, sizeof(*c));

        c->path = xstrdup(path);
        c->name = xstrdup("graced");
        c->shutdown_timeout = 90 * USEC_PER_SEC;
        c->signal_debounce = 500 * USEC_PER_MSEC;
        c->force_after = 2;
        c->max_parallel = 16;
        c->ready_timeout = 60 * USEC_PER_SEC;
        return c;
}

int conf_load(const char *path, const struct conf_load_opts *opts, struct conf **ret, struct conf_diags *diags)
{
        static const struct conf_load_opts default_opts = { 0 };
        struct loader L = { .opts = opts ?: &default_opts, .names_complete = true };
        const config_setting_t *include_s = NULL, *sup, *workers;
        config_setting_t *root;
        char *main_dir = dir_of(path);
        config_t cfg;
        int r = 0;

        L.c = conf_new(path);
        if (!read_config(&L, &cfg, path, main_dir)) {
                r = -EINVAL;
                goto finish;
        }
        root = config_root_setting(&cfg);
        for (int i = 0; i < config_setting_length(root); i++) {
                const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
                if (strcmp(key_of(s), "supervisor") != 0 && strcmp(key_of(s), "workers") != 0)
                        unknown_setting(&L, NULL, s, top_keys, ELEMENTSOF(top_keys));
        }
        /* the supervisor first: workers take their ready_timeout default from it */
        sup = config_setting_get_member(root, "supervisor");
        if (sup)
                parse_supervisor(&L, sup, &include_s);
        workers = config_setting_get_member(root, "workers");
        if (workers)
                parse_workers(&L, workers);
        if (include_s)
                load_include_dir(&L, include_s, main_dir);
        config_destroy(&cfg);

        check_dependencies(&L);

finish:
        if (L.d.n > 0)
                r = -EINVAL;
        if (r < 0) {
                if (diags)
                        diags_flush(&L, diags);
                else
                        conf_diags_clear(&L.d);
                conf_free(L.c);
        } else if (ret)
                *ret = L.c;
        else /* only checking */
                conf_free(L.c);
        for (size_t i = 0; i < L.n_files; i++)
                free(L.files[i]);
        free(L.files);
        for (size_t i = 0; i < L.n_dropped_names; i++)
                free(L.dropped_names[i]);
        free(L.dropped_names);
        free(main_dir);
        return r;
}

/* ---- the model ------------------------------------------------------------------ */

void conf_worker_done(struct conf_worker *w)
{
        if (!w)
                return;
        free(w->name);
        free(w->file);
        strv_free(w->argv);
        strv_free(w->env);
        free(w->cwd);
        free(w->user);
        free(w->group);
        strv_free(w->after);
        strv_free(w->pre_stop);
        strv_free(w->post_stop);
        free(w->out_path[0]);
        free(w->out_path[1]);
        *w = (struct conf_worker){ .umask = -1 };
}

struct conf_worker *conf_worker_copy(struct conf_worker *dst, const struct conf_worker *src)
{
        *dst = *src;
        dst->name = xstrdup(src->name);
        dst->file = xstrdup(src->file);
        dst->argv = strv_dup(src->argv);
        dst->env = strv_dup(src->env);
        dst->cwd = xstrdup(src->cwd);
        dst->user = xstrdup(src->user);
        dst->group = xstrdup(src->group);
        dst->after = strv_dup(src->after);
        dst->pre_stop = strv_dup(src->pre_stop);
        dst->post_stop = strv_dup(src->post_stop);
        dst->out_path[0] = xstrdup(src->out_path[0]);
        dst->out_path[1] = xstrdup(src->out_path[1]);
        return dst;
}

static bool str_eq(const char *a, const char *b)
{
        return a == b || (a && b && strcmp(a, b) == 0);
}

static bool strv_eq(char *const *a, char *const *b)
{
        /* NULL and an empty vector are the same thing here */
        return strv_equal(a, b);
}

bool conf_worker_same_process(const struct conf_worker *a, const struct conf_worker *b)
{
        if (!strv_eq(a->argv, b->argv) || !strv_eq(a->env, b->env))
                return false;
        if (a->env_clear != b->env_clear || !str_eq(a->cwd, b->cwd))
                return false;
        if (!str_eq(a->user, b->user) || !str_eq(a->group, b->group))
                return false;
        if (a->set_ids != b->set_ids || (a->set_ids && (a->uid != b->uid || a->gid != b->gid)))
                return false;
        if (a->umask != b->umask || a->ready != b->ready || a->type != b->type)
                return false;
        for (int i = 0; i < 2; i++) {
                if (a->out[i] != b->out[i])
                        return false;
                if (a->out[i] == OUT_FILE && !str_eq(a->out_path[i], b->out_path[i]))
                        return false;
        }
        return true;
}

const struct conf_worker *conf_find_worker(const struct conf *c, const char *name)
{
        return name ? find_worker_n(c, name) : NULL;
}

struct conf *conf_free(struct conf *c)
{
        if (!c)
                return NULL;
        free(c->path);
        free(c->name);
        free(c->report_file);
        free(c->control_socket);
        free(c->include_dir);
        for (size_t i = 0; i < c->n_cleanup; i++) {
                free(c->cleanup[i].name);
                strv_free(c->cleanup[i].argv);
                free(c->cleanup[i].file);
        }
        free(c->cleanup);
        for (size_t i = 0; i < c->n_workers; i++)
                conf_worker_done(&c->workers[i]);
        free(c->workers);
        free(c);
        return NULL;
}
