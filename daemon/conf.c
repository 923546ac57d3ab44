/* conf.c - load and validate the configuration (libconfig) into the plain
 * model of conf.h. The only file that includes <libconfig.h>. Never logs:
 * every problem becomes a "FILE:LINE: message" diagnostic, and all of them
 * are collected before giving up. Knows nothing of the plan: dependencies
 * between workers are checked by the caller (plan_load()). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libconfig.h>
#include <limits.h>
#include <pwd.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf.h"
#include "hmap.h"
#include "parse.h"
#include "state.h"

/* Range limits of integer settings (documented in graced.conf(5)). */
#define FORCE_AFTER_MAX 100
#define START_LIMIT_BURST_MAX 10000
#define PROBE_FAILURES_MAX 1000
#define NAME_RULE "1 to 64 of A-Z a-z 0-9 _ . -"

static const char *const type_names[] = { [WORKER_TYPE_SIMPLE] = "simple", [WORKER_TYPE_ONESHOT] = "oneshot" };
static const char *const ready_names[] = { [READY_EXEC] = "exec", [READY_NOTIFY] = "notify" };
static const char *const restart_names[] = { [RESTART_NO] = "no", [RESTART_ON_FAILURE] = "on-failure",
                                             [RESTART_ALWAYS] = "always" };
static const char *const kill_mode_names[] = { [KILL_GROUP] = "group", [KILL_PROCESS] = "process" };
static const char *const out_names[] = { [OUT_LOG] = "log", [OUT_INHERIT] = "inherit", [OUT_NULL] = "null" };

/* The enum fields are filled through an int (KEY_ENUM). */
_Static_assert(sizeof(enum worker_type) == sizeof(int) && sizeof(enum ready_mode) == sizeof(int) &&
                       sizeof(enum restart_policy) == sizeof(int) && sizeof(enum kill_mode) == sizeof(int),
               "enum fields are int-sized");

struct loader {
        const struct conf_load_opts *opts;
        struct conf_diags d;
        struct conf *c; /* c->files: the primary sort key of diags */
        /* the file being read, as passed to libconfig, and the directory
         * its relative @include names are resolved against */
        const char *cur_file;
        const char *cur_dir;
        const config_setting_t *include_dir; /* supervisor.include_dir, once valid */
        const config_setting_t *exit_code_from; /* supervisor.exit_code_from, once valid */
        /* the worker being read has `instances`: its values that take %i
         * are checked for their % only, the rest once expanded */
        bool instanced;
        struct hmap names; /* c->workers[i].name -> (void *)(i + 1) */
};

/* ---- diagnostics ----------------------------------------------------- */

void conf_diags_addv(struct conf_diags *d, const char *file, int line, const char *fmt, va_list ap)
{
        if (!d)
                return;
        d->v = xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
        d->v[d->n++] = (struct conf_diag){ .file = xstrdup(file), .line = line, .msg = xvasprintf(fmt, ap) };
}

void conf_diags_add(struct conf_diags *d, const char *file, int line, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        conf_diags_addv(d, file, line, fmt, ap);
        va_end(ap);
}

void conf_diags_move(struct conf_diags *to, struct conf_diags *from)
{
        if (!to) {
                conf_diags_clear(from);
                return;
        }
        if (from->n == 0)
                return;
        to->v = xrealloc(to->v, (to->n + from->n) * sizeof(*to->v));
        memcpy(to->v + to->n, from->v, from->n * sizeof(*from->v));
        to->n += from->n;
        free(from->v);
        *from = (struct conf_diags){ 0 };
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

/* 0 for no file, 1 + its place among the files read, SIZE_MAX for another. */
static size_t file_rank(const struct conf *c, const char *file)
{
        if (!file)
                return 0;
        for (size_t j = 0; j < c->n_files; j++)
                if (strcmp(c->files[j], file) == 0)
                        return j + 1;
        return SIZE_MAX;
}

void conf_diags_sort(struct conf_diags *d, const struct conf *c)
{
        struct diag_key *k;

        if (d->n == 0)
                return;
        k = xcalloc(d->n, sizeof(*k));
        for (size_t i = 0; i < d->n; i++)
                k[i] = (struct diag_key){ .d = d->v[i], .seq = i, .rank = file_rank(c, d->v[i].file) };
        qsort(k, d->n, sizeof(*k), diag_key_cmp);
        for (size_t i = 0; i < d->n; i++)
                d->v[i] = k[i].d;
        free(k);
}

/* ---- where a setting comes from ------------------------------------------- */

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

/* A file libconfig names (a setting's, an error's, an @include'd one) as
 * diagnostics name it: the main file as given, an @include'd one resolved
 * against the include directory. */
static char *file_name(struct loader *L, const char *f)
{
        if (!f || strcmp(f, L->cur_file) == 0)
                return xstrdup(L->cur_file);
        return path_join(L->cur_dir, f);
}

static char *setting_file(struct loader *L, const config_setting_t *s)
{
        return file_name(L, config_setting_source_file(s));
}

static int setting_line(const config_setting_t *s) { return (int)config_setting_source_line(s); }

_printf_(3, 4) static void diag_s(struct loader *L, const config_setting_t *s, const char *fmt, ...)
{
        char *file = setting_file(L, s);
        va_list ap;

        va_start(ap, fmt);
        conf_diags_addv(&L->d, file, setting_line(s), fmt, ap);
        va_end(ap);
        free(file);
}

/* Appends a copy of s to the NULL-terminated vector v of n strings. */
static void strv_push(char ***v, size_t *n, const char *s)
{
        *v = xrealloc(*v, (*n + 2) * sizeof(char *));
        (*v)[(*n)++] = xstrdup(s);
        (*v)[*n] = NULL;
}

static void drop_name(struct loader *L, const char *name)
{
        strv_push(&L->c->dropped_names, &L->c->n_dropped_names, name);
}

static void register_file(struct loader *L, const char *file)
{
        if (file_rank(L->c, file) == SIZE_MAX)
                strv_push(&L->c->files, &L->c->n_files, file);
}

/* ---- keys: one table per section, for parsing and for suggestions ------- */

struct key;
/* Reads setting s into field, the member of the section's object a typed
 * key names. false (with a diagnostic) when the value is not valid: the
 * field keeps its default then. */
typedef bool key_get(struct loader *L, const char *ctx, const config_setting_t *s, const struct key *k,
                     void *field);
/* A section's own reader of one key, given the whole object. */
typedef bool key_fn(struct loader *L, const char *ctx, const config_setting_t *s, void *obj);

enum key_kind {
        KEY_SKIP,     /* read before the others (a name) */
        KEY_ARGV,     /* char **: a command, non-empty with a non-empty [0] */
        KEY_NAMES,    /* char **: a list of names */
        KEY_ENUM,     /* an enum (int): one of names[] */
        KEY_BOOL,     /* bool (default false) */
        KEY_DURATION, /* usec_t */
        KEY_TIMEOUT,  /* usec_t, > 0 */
        KEY_UINT,     /* unsigned, within [min, max] */
        KEY_SIGNAL,   /* int: a signal name or number */
        KEY_PATH,     /* char *: an absolute path */
        KEY_FN,       /* fn() reads it */
        _KEY_KIND_MAX,
};

struct key {
        const char *name;
        enum key_kind kind;
        size_t offset;     /* of the field in the section's object */
        long long def;     /* the default of an integer field (ENUM, DURATION, TIMEOUT, UINT, SIGNAL) */
        long long min, max; /* UINT */
        const char *const *names; /* ENUM */
        size_t n_names;
        key_fn *fn; /* FN */
        unsigned where; /* a probe group's key: PROBE_IN_* */
        bool subst;     /* ARGV: an instance's %i is expanded in it */
};

/* ---- typed getters: each reports its own type error ------------------- */

static const char *key_of(const config_setting_t *s) { return config_setting_name(s) ?: "?"; }

/* Is s of the type (CONFIG_TYPE_INT: INT or INT64)? If not, "CTX: KEY
 * must be WHAT". */
static bool has_type(struct loader *L, const char *ctx, const config_setting_t *s, int type, const char *what)
{
        int t = config_setting_type(s);

        if (t == type || (type == CONFIG_TYPE_INT && t == CONFIG_TYPE_INT64))
                return true;
        diag_s(L, s, "%s: %s must be %s", ctx, key_of(s), what);
        return false;
}

/* Is s of the right form (ok) with at most max elements? If not, "CTX: KEY
 * must be FORM" or "CTX: KEY has more than MAX WHAT". */
static bool has_form(struct loader *L, const char *ctx, const config_setting_t *s, bool ok, const char *form,
                     int max, const char *what)
{
        if (!ok)
                diag_s(L, s, "%s: %s must be %s", ctx, key_of(s), form);
        else if (config_setting_length(s) > max)
                diag_s(L, s, "%s: %s has more than %d %s", ctx, key_of(s), max, what);
        else
                return true;
        return false;
}

/* What a string setting must be beyond a string. */
enum string_rule { STR_ANY, STR_NONEMPTY, STR_ABSPATH };

static bool get_string(struct loader *L, const char *ctx, const config_setting_t *s, enum string_rule rule,
                       const char **ret)
{
        const char *v, *problem = NULL;

        if (!has_type(L, ctx, s, CONFIG_TYPE_STRING, "a string"))
                return false;
        v = config_setting_get_string(s);
        if (rule >= STR_NONEMPTY && !v[0])
                problem = "must not be empty";
        else if (rule == STR_ABSPATH && v[0] != '/')
                problem = "must be an absolute path";
        if (problem) {
                diag_s(L, s, "%s: %s %s", ctx, key_of(s), problem);
                return false;
        }
        *ret = v;
        return true;
}

/* In a worker with instances, a % in a value that takes %i must begin %i
 * (the instance number) or %% (a %): "CTX: WHAT: invalid %-specifier ...". */
static bool check_specifiers(struct loader *L, const char *ctx, const config_setting_t *s, const char *what,
                             const char *v)
{
        for (const char *p = v; L->instanced && (p = strchr(p, '%')); p += 2)
                if (p[1] != 'i' && p[1] != '%') {
                        diag_s(L, s,
                               "%s: %s: invalid %%-specifier \"%.*s\" in \"%s\" (%%i is the instance number, "
                               "%%%% a literal %%)",
                               ctx, what, p[1] ? 2 : 1, p, v);
                        return false;
                }
        return true;
}

/* Value v of setting s: why (taken; NULL: nothing) says what is wrong
 * with it; else, in a worker with instances, its % are checked. */
static bool value_ok(struct loader *L, const char *ctx, const config_setting_t *s, const char *v, char *why)
{
        if (why) {
                diag_s(L, s, "%s: %s", ctx, why);
                free(why);
                return false;
        }
        return check_specifiers(L, ctx, s, key_of(s), v);
}

static bool get_path(struct loader *L, const char *ctx, const config_setting_t *s, const struct key *k,
                     void *field)
{
        char **ret = field;
        const char *v;

        if (!get_string(L, ctx, s, STR_ABSPATH, &v))
                return false;
        free(*ret);
        *ret = xstrdup(v);
        return true;
}

static bool get_bool(struct loader *L, const char *ctx, const config_setting_t *s, const struct key *k,
                     void *field)
{
        if (!has_type(L, ctx, s, CONFIG_TYPE_BOOL, "true or false"))
                return false;
        *(bool *)field = config_setting_get_bool(s);
        return true;
}

static bool get_uint(struct loader *L, const char *ctx, const config_setting_t *s, const struct key *k,
                     void *field)
{
        long long v;

        if (!has_type(L, ctx, s, CONFIG_TYPE_INT, "an integer"))
                return false;
        v = config_setting_get_int64(s);
        if (v < k->min || v > k->max) {
                diag_s(L, s, "%s: %s must be %s %lld", ctx, key_of(s), v < k->min ? ">=" : "<=",
                       v < k->min ? k->min : k->max);
                return false;
        }
        *(unsigned *)field = (unsigned)v;
        return true;
}

/* KEY_TIMEOUT: 0 is refused ("must be > 0"). */
static bool get_duration(struct loader *L, const char *ctx, const config_setting_t *s, const struct key *k,
                         void *field)
{
        const char *key = key_of(s), *str;
        bool negative = false;
        usec_t v = 0;
        int r;

        switch (config_setting_type(s)) {
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64:
                negative = config_setting_get_int64(s) < 0;
                r = negative ? -ERANGE : parse_duration_seconds((double)config_setting_get_int64(s), &v);
                break;
        case CONFIG_TYPE_FLOAT:
                negative = config_setting_get_float(s) < 0;
                r = parse_duration_seconds(config_setting_get_float(s), &v);
                break;
        case CONFIG_TYPE_STRING:
                str = config_setting_get_string(s);
                r = parse_duration(str, &v);
                if (r == -EINVAL) {
                        diag_s(L, s, "%s: invalid duration \"%s\" in %s", ctx, str, key);
                        return false;
                }
                negative = str[strspn(str, " \t")] == '-';
                break;
        default:
                diag_s(L, s, "%s: %s must be a duration (seconds, or a string such as \"10s\")", ctx, key);
                return false;
        }
        if (r < 0 || (k->kind == KEY_TIMEOUT && v == 0)) {
                diag_s(L, s, "%s: %s must %s", ctx, key,
                       r == 0 ? "be > 0" : negative ? "not be negative" : "be at most 365d");
                return false;
        }
        *(usec_t *)field = v;
        return true;
}

/* A list or array of strings -> NULL-terminated vector. */
static bool get_strv(struct loader *L, const char *ctx, const config_setting_t *s, const struct key *k,
                     void *field)
{
        bool argv = k->kind == KEY_ARGV;
        int n = config_setting_length(s), type = config_setting_type(s);
        bool ok = (type == CONFIG_TYPE_LIST || type == CONFIG_TYPE_ARRAY) && !(argv && n == 0);
        char **v;

        for (int i = 0; ok && i < n; i++)
                ok = config_setting_type(config_setting_get_elem(s, (unsigned)i)) == CONFIG_TYPE_STRING;
        if (!has_form(L, ctx, s, ok, argv ? "a non-empty list of strings" : "a list of strings",
                      argv ? CONF_MAX_ARGV : CONF_MAX_WORKERS, "elements"))
                return false;
        if (argv && !config_setting_get_string_elem(s, 0)[0]) {
                diag_s(L, s, "%s: %s[0] must not be empty", ctx, key_of(s));
                return false;
        }
        for (int i = 0; k->subst && i < n; i++)
                if (!check_specifiers(L, ctx, s, key_of(s), config_setting_get_string_elem(s, (unsigned)i)))
                        return false;
        v = xcalloc((size_t)n + 1, sizeof(char *));
        for (int i = 0; i < n; i++)
                v[i] = xstrdup(config_setting_get_string_elem(s, (unsigned)i));
        *(char ***)field = v;
        return true;
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

/* The index of v in names[], or -1. */
static int enum_index(const char *v, const char *const *names, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(v, names[i]) == 0)
                        return (int)i;
        return -1;
}

static bool get_enum(struct loader *L, const char *ctx, const config_setting_t *s, const struct key *k,
                     void *field)
{
        const char *v;
        int i;

        if (!get_string(L, ctx, s, STR_ANY, &v))
                return false;
        i = enum_index(v, k->names, k->n_names);
        if (i < 0) {
                enum_error(L, ctx, s, v, k->names, k->n_names, NULL);
                return false;
        }
        *(int *)field = i;
        return true;
}

static bool get_signal(struct loader *L, const char *ctx, const config_setting_t *s, const struct key *k,
                       void *field)
{
        char num[32];
        int sig;

        switch (config_setting_type(s)) {
        case CONFIG_TYPE_STRING:
                sig = parse_signal(config_setting_get_string(s));
                if (sig < 0)
                        diag_s(L, s, "%s: unknown signal \"%s\" in %s", ctx, config_setting_get_string(s), key_of(s));
                break;
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64:
                snprintf(num, sizeof(num), "%lld", config_setting_get_int64(s));
                sig = config_setting_get_int64(s) > 0 ? parse_signal(num) : -EINVAL;
                if (sig < 0)
                        diag_s(L, s, "%s: unknown signal %s in %s", ctx, num, key_of(s));
                break;
        default:
                diag_s(L, s, "%s: %s must be a signal name or number", ctx, key_of(s));
                return false;
        }
        if (sig < 0)
                return false;
        *(int *)field = sig;
        return true;
}

/* ---- reading a section by its keys ---------------------------------------- */

static key_get *const getters[_KEY_KIND_MAX] = {
        [KEY_ARGV] = get_strv,         [KEY_NAMES] = get_strv,   [KEY_ENUM] = get_enum,
        [KEY_BOOL] = get_bool,         [KEY_DURATION] = get_duration, [KEY_TIMEOUT] = get_duration,
        [KEY_UINT] = get_uint,         [KEY_SIGNAL] = get_signal, [KEY_PATH] = get_path,
};

/* The defaults of the typed integer fields of obj (pointers stay NULL,
 * bools false; KEY_FN fields are the section's own). */
static void set_defaults(const struct key *keys, size_t n, void *obj)
{
        for (size_t i = 0; i < n; i++) {
                void *field = (char *)obj + keys[i].offset;
                enum key_kind kind = keys[i].kind;

                if (kind == KEY_DURATION || kind == KEY_TIMEOUT)
                        *(usec_t *)field = (usec_t)keys[i].def;
                else if (kind == KEY_UINT)
                        *(unsigned *)field = (unsigned)keys[i].def;
                else if (kind == KEY_ENUM || kind == KEY_SIGNAL)
                        *(int *)field = (int)keys[i].def;
        }
}

static const struct key *find_key(const struct key *keys, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(keys[i].name, name) == 0)
                        return &keys[i];
        return NULL;
}

static void unknown_setting(struct loader *L, const char *ctx, const config_setting_t *s, const struct key *keys,
                            size_t n)
{
        const char *key = key_of(s), *sug, **names = xcalloc(n, sizeof(char *));

        for (size_t i = 0; i < n; i++)
                names[i] = keys[i].name;
        sug = suggest(key, names, n);
        free(names);
        if (sug)
                diag_s(L, s, "%s%sunknown setting \"%s\"; did you mean \"%s\"?", ctx ?: "", ctx ? ": " : "",
                       key, sug);
        else
                diag_s(L, s, "%s%sunknown setting \"%s\"", ctx ?: "", ctx ? ": " : "", key);
}

/* Reads every setting of the group g by its key into obj, in the order
 * written, but those of the keys in skip (bit i: keys[i]; the caller
 * refused them). Returns the mask of the keys whose value was valid. */
static uint64_t parse_settings_but(struct loader *L, const char *ctx, const config_setting_t *g,
                                   const struct key *keys, size_t n, void *obj, uint64_t skip)
{
        uint64_t valid = 0;

        for (int i = 0; i < config_setting_length(g); i++) {
                const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
                const struct key *k = find_key(keys, n, key_of(s));
                bool ok;

                if (!k) {
                        unknown_setting(L, ctx, s, keys, n);
                        continue;
                }
                if (skip & (UINT64_C(1) << (k - keys)))
                        continue;
                if (k->kind == KEY_FN)
                        ok = k->fn(L, ctx, s, obj);
                else
                        ok = !getters[k->kind] || getters[k->kind](L, ctx, s, k, (char *)obj + k->offset);
                if (ok)
                        valid |= UINT64_C(1) << (k - keys);
        }
        return valid;
}

static uint64_t parse_settings(struct loader *L, const char *ctx, const config_setting_t *g, const struct key *keys,
                               size_t n, void *obj)
{
        return parse_settings_but(L, ctx, g, keys, n, obj, 0);
}

/* ---- names ------------------------------------------------------------- */

static const struct conf_worker *find_worker_n(const struct conf *c, const char *name)
{
        for (size_t i = 0; c && i < c->n_workers; i++)
                if (strcmp(c->workers[i].name, name) == 0)
                        return &c->workers[i];
        return NULL;
}

static const struct conf_worker *find_template_n(const struct conf *c, const char *name)
{
        for (size_t i = 0; c && i < c->n_templates; i++)
                if (strcmp(c->templates[i].name, name) == 0)
                        return &c->templates[i];
        return NULL;
}

/* A string that must be a valid name ("CTX: invalid name ..."). */
static bool get_name(struct loader *L, const char *ctx, const config_setting_t *s, const char **ret)
{
        if (!get_string(L, ctx, s, STR_ANY, ret))
                return false;
        if (!name_is_valid(*ret)) {
                diag_s(L, s, "%s: invalid name \"%s\" (" NAME_RULE ")", ctx, *ret);
                return false;
        }
        return true;
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
        if (!get_name(L, ctx, name_s, &name))
                return NULL;
        snprintf(ctx, ctxlen, "%s \"%s\"", kind, name);
        return name;
}

/* "duplicate KIND name "NAME" (first defined at FILE:LINE)" */
static void duplicate_name(struct loader *L, const config_setting_t *name_s, const char *kind, const char *file,
                           int line)
{
        diag_s(L, name_s, "duplicate %s name \"%s\" (first defined at %s:%d)", kind,
               config_setting_get_string(name_s), file, line);
}

/* A list of groups `( { ... }, ... )`; `[]` is an empty array in
 * libconfig's eyes, and as good as an empty list. */
static bool is_group_list(const config_setting_t *list)
{
        return config_setting_type(list) == CONFIG_TYPE_LIST ||
               (config_setting_type(list) == CONFIG_TYPE_ARRAY && config_setting_length(list) == 0);
}

static bool is_group(const config_setting_t *g) { return config_setting_type(g) == CONFIG_TYPE_GROUP; }

/* ---- workers ------------------------------------------------------------ */

static bool parse_env(struct loader *L, const char *ctx, const config_setting_t *s, void *obj)
{
        struct conf_worker *w = obj;
        int n = config_setting_length(s);
        char **v;

        if (!has_form(L, ctx, s, is_group(s), "a group of string values { KEY = \"value\"; ... }", CONF_MAX_ENV,
                      "entries"))
                return false;
        v = xcalloc((size_t)n + 1, sizeof(char *));
        for (int i = 0, j = 0; i < n; i++) {
                config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
                char what[sizeof("env.") + 256];

                if (config_setting_type(e) != CONFIG_TYPE_STRING) {
                        diag_s(L, e, "%s: env.%s must be a string", ctx, key_of(e));
                        continue;
                }
                snprintf(what, sizeof what, "env.%s", key_of(e));
                if (!check_specifiers(L, ctx, e, what, config_setting_get_string(e)))
                        continue;
                v[j++] = xasprintf("%s=%s", key_of(e), config_setting_get_string(e));
        }
        strv_free(w->env);
        w->env = v;
        return true;
}

/* env_file: absolute paths, each may begin with "-" (may be missing). The
 * files are read at every start (and by --check), not here. */
static bool parse_env_file(struct loader *L, const char *ctx, const config_setting_t *s, void *obj)
{
        struct conf_worker *w = obj;
        int n = config_setting_length(s), type = config_setting_type(s);
        bool ok = type == CONFIG_TYPE_LIST || type == CONFIG_TYPE_ARRAY;
        char **v;

        for (int i = 0; ok && i < n; i++)
                ok = config_setting_type(config_setting_get_elem(s, (unsigned)i)) == CONFIG_TYPE_STRING;
        if (!has_form(L, ctx, s, ok, "a list of strings", CONF_MAX_ENV_FILES, "elements"))
                return false;
        for (int i = 0; i < n; i++) {
                const char *f = config_setting_get_string_elem(s, (unsigned)i);

                if (f[f[0] == '-'] != '/') {
                        diag_s(L, s, "%s: env_file \"%s\" must be an absolute path (after an optional \"-\")", ctx,
                               f);
                        ok = false;
                } else if (!check_specifiers(L, ctx, s, "env_file", f))
                        ok = false;
        }
        if (!ok)
                return false;
        v = xcalloc((size_t)n + 1, sizeof(char *));
        for (int i = 0; i < n; i++)
                v[i] = xstrdup(config_setting_get_string_elem(s, (unsigned)i));
        strv_free(w->env_file);
        w->env_file = n ? v : NULL;
        if (!n)
                free(v);
        return true;
}

static bool parse_umask(struct loader *L, const char *ctx, const config_setting_t *s, void *obj)
{
        struct conf_worker *w = obj;
        int mode, r = -EINVAL;

        switch (config_setting_type(s)) {
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64:
                if (config_setting_get_format(s) != CONFIG_FORMAT_HEX)
                        r = parse_umask_int(config_setting_get_int64(s), &mode);
                if (r < 0)
                        diag_s(L, s, "%s: invalid umask (octal digits 0-7, at most 0777, e.g. 0027)", ctx);
                break;
        case CONFIG_TYPE_STRING:
                r = parse_umask_str(config_setting_get_string(s), &mode);
                if (r < 0)
                        diag_s(L, s, "%s: invalid umask \"%s\" (octal digits 0-7, at most 0777)", ctx,
                               config_setting_get_string(s));
                break;
        default:
                diag_s(L, s, "%s: umask must be an octal number such as 0027 or \"0027\"", ctx);
                break;
        }
        if (r < 0)
                return false;
        w->umask = mode;
        return true;
}

/* Why path v cannot be the file of output key ("stdout", "stderr")
 * (caller frees); NULL when it can be. */
static char *out_path_problem(const char *key, const char *v)
{
        char *dir = dir_of(v), *why = NULL;
        struct stat st;

        if (stat(v, &st) == 0 && S_ISDIR(st.st_mode))
                why = xasprintf("%s \"%s\" is a directory", key, v);
        else if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
                why = xasprintf("directory of %s \"%s\" does not exist", key, v);
        free(dir);
        return why;
}

static bool parse_output(struct loader *L, const char *ctx, const config_setting_t *s, int stream,
                         struct conf_worker *w)
{
        const char *v;
        int i;

        if (!get_string(L, ctx, s, STR_ANY, &v))
                return false;
        i = enum_index(v, out_names, ELEMENTSOF(out_names));
        if (i >= 0) {
                w->out[stream] = (enum out_mode)i;
                return true;
        }
        if (v[0] != '/') {
                enum_error(L, ctx, s, v, out_names, ELEMENTSOF(out_names), "an absolute path");
                return false;
        }
        /* with instances: checked once %i is expanded */
        if (!value_ok(L, ctx, s, v, L->instanced ? NULL : out_path_problem(key_of(s), v)))
                return false;
        w->out[stream] = OUT_FILE;
        free(w->out_path[stream]);
        w->out_path[stream] = xstrdup(v);
        return true;
}

static bool parse_stdout(struct loader *L, const char *ctx, const config_setting_t *s, void *obj)
{
        return parse_output(L, ctx, s, STREAM_STDOUT, obj);
}

static bool parse_stderr(struct loader *L, const char *ctx, const config_setting_t *s, void *obj)
{
        return parse_output(L, ctx, s, STREAM_STDERR, obj);
}

/* user and group, names only root may give, resolved now: a user alone
 * runs in its primary group, a group alone with graced's uid. */
static bool parse_id(struct loader *L, const char *ctx, const config_setting_t *s, void *obj)
{
        struct conf_worker *w = obj;
        const struct passwd *pw = NULL;
        const struct group *gr = NULL;
        bool user = strcmp(key_of(s), "user") == 0;
        const char *v;

        if (!get_string(L, ctx, s, STR_NONEMPTY, &v))
                return false;
        if (!L->opts->as_root) {
                diag_s(L, s, "%s: %s can only be set when graced runs as root", ctx, key_of(s));
                return false;
        }
        if (user ? !(pw = getpwnam(v)) : !(gr = getgrnam(v))) {
                diag_s(L, s, "%s: unknown %s \"%s\"", ctx, key_of(s), v);
                return false;
        }
        if (user) {
                w->user = xstrdup(v);
                w->uid = pw->pw_uid;
                w->gid = w->group ? w->gid : pw->pw_gid;
        } else {
                w->group = xstrdup(v);
                w->gid = gr->gr_gid;
                w->uid = w->user ? w->uid : getuid();
        }
        w->set_ids = true;
        return true;
}

#define FN_KEY(key, f) .name = key, .kind = KEY_FN, .fn = f

/* ---- probes ------------------------------------------------------------------ */

/* Where a key of a probe group belongs (struct key's where). */
enum {
        PROBE_IN_READY = 1 << 0,  /* `ready = { ... }` */
        PROBE_IN_HEALTH = 1 << 1, /* `health = { ... }` */
        PROBE_WITH_LOG = 1 << 2,  /* also beside `log` (a kind key is checked as a kind) */
};

/* The kinds, by the key that names them in a group. */
static const char *const probe_kind_names[] = { [PROBE_TCP] = "tcp", [PROBE_UNIX] = "unix", [PROBE_HTTP] = "http",
                                                [PROBE_EXEC] = "exec", [PROBE_LOG] = "log" };

static enum probe_kind probe_kind_of(const char *key)
{
        for (size_t k = PROBE_NONE + 1; k < ELEMENTSOF(probe_kind_names); k++)
                if (strcmp(key, probe_kind_names[k]) == 0)
                        return (enum probe_kind)k;
        return PROBE_NONE;
}

/* Why v cannot be the target of a probe of this kind (tcp, unix, http,
 * log), as "invalid tcp address ..." (caller frees); NULL when it can be. */
static char *probe_target_problem(enum probe_kind kind, const char *v)
{
        size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
        struct sockaddr_storage ss;
        const char *why = "";
        socklen_t len;
        char buf[256];
        regex_t re;
        int r;

        switch (kind) {
        case PROBE_TCP:
                if (parse_inet_address(v, &ss, &len, &why) < 0)
                        return xasprintf("invalid tcp address \"%s\": %s", v, why);
                return NULL;
        case PROBE_UNIX:
                return strlen(v) > max ? xasprintf("unix path is longer than %zu bytes", max) : NULL;
        case PROBE_HTTP:
                if (parse_probe_url(v, &why) < 0)
                        return xasprintf("invalid http URL \"%s\": %s", v, why);
                return NULL;
        case PROBE_LOG: /* a POSIX extended regular expression, compiled once to check it */
                r = regcomp(&re, v, REG_EXTENDED | REG_NOSUB);
                if (r == 0) {
                        regfree(&re);
                        return NULL;
                }
                regerror(r, &re, buf, sizeof(buf));
                return xasprintf("invalid log regular expression \"%s\": %s", v, buf);
        default:
                return NULL;
        }
}

/* The target of a probe group (setting s) of this kind: rule is what it
 * must be as a string; the rest is checked now, or, with instances, once
 * %i is expanded. */
static bool parse_target(struct loader *L, const char *ctx, const config_setting_t *s, enum string_rule rule,
                         enum probe_kind kind, struct conf_probe *p)
{
        const char *v;

        if (!get_string(L, ctx, s, rule, &v) ||
            !value_ok(L, ctx, s, v, L->instanced ? NULL : probe_target_problem(kind, v)))
                return false;
        free(p->target);
        p->target = xstrdup(v);
        return true;
}

static bool parse_probe_tcp(struct loader *L, const char *ctx, const config_setting_t *s, void *obj)
{
        return parse_target(L, ctx, s, STR_ANY, PROBE_TCP, obj);
}

static bool parse_probe_unix(struct loader *L, const char *ctx, const config_setting_t *s, void *obj)
{
        return parse_target(L, ctx, s, STR_ABSPATH, PROBE_UNIX, obj);
}

static bool parse_probe_http(struct loader *L, const char *ctx, const config_setting_t *s, void *obj)
{
        return parse_target(L, ctx, s, STR_ANY, PROBE_HTTP, obj);
}

static bool parse_probe_log(struct loader *L, const char *ctx, const config_setting_t *s, void *obj)
{
        return parse_target(L, ctx, s, STR_NONEMPTY, PROBE_LOG, obj);
}

#define PROBE_KEY(key, kind_, field) .name = key, .kind = kind_, .offset = offsetof(struct conf_probe, field)
#define PROBE_ANYWHERE (PROBE_IN_READY | PROBE_IN_HEALTH)

/* interval's default is the ready one; a health group's is set before. */
static const struct key probe_keys[] = {
        { FN_KEY("tcp", parse_probe_tcp), .where = PROBE_ANYWHERE },
        { FN_KEY("unix", parse_probe_unix), .where = PROBE_ANYWHERE },
        { FN_KEY("http", parse_probe_http), .where = PROBE_ANYWHERE },
        { PROBE_KEY("exec", KEY_ARGV, argv), .where = PROBE_ANYWHERE, .subst = true },
        { FN_KEY("log", parse_probe_log), .where = PROBE_IN_READY },
        { PROBE_KEY("interval", KEY_TIMEOUT, interval), .def = DEFAULT_READY_PROBE_INTERVAL, .where = PROBE_ANYWHERE },
        { PROBE_KEY("timeout", KEY_TIMEOUT, timeout), .def = DEFAULT_PROBE_TIMEOUT, .where = PROBE_ANYWHERE },
        { PROBE_KEY("failures", KEY_UINT, failures), .min = 1, .max = PROBE_FAILURES_MAX,
          .def = DEFAULT_HEALTH_FAILURES, .where = PROBE_IN_HEALTH },
};
_Static_assert(ELEMENTSOF(probe_keys) <= 64, "parse_settings() has a 64-bit mask");

/* The one kind key of the probe group g; NULL when it has none (reported
 * with the kinds of this use) or more than one (reported). */
static const config_setting_t *probe_kind_setting(struct loader *L, const char *ctx, const config_setting_t *g,
                                                  unsigned use)
{
        const config_setting_t *kind_s = NULL;
        char kinds[64] = "";
        bool several = false;

        for (int i = 0; i < config_setting_length(g); i++) {
                const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);

                if (probe_kind_of(key_of(s)) == PROBE_NONE)
                        continue;
                if (kind_s) {
                        diag_s(L, s, "%s: %s and %s cannot be in one probe group", ctx, key_of(kind_s), key_of(s));
                        several = true;
                } else
                        kind_s = s;
        }
        if (!kind_s) {
                for (size_t i = PROBE_NONE + 1; i < ELEMENTSOF(probe_kind_names); i++) {
                        const struct key *k = find_key(probe_keys, ELEMENTSOF(probe_keys), probe_kind_names[i]);

                        if (k && (k->where & use))
                                snprintf(kinds + strlen(kinds), sizeof(kinds) - strlen(kinds), "%s%s",
                                         kinds[0] ? ", " : "", k->name);
                }
                diag_s(L, g, "%s: missing probe (one of %s)", ctx, kinds);
        }
        return several ? NULL : kind_s;
}

/* The keys of the probe group g that are out of place, reported: not for
 * this use (where), or beside a log probe when they may not be. */
static uint64_t probe_keys_misplaced(struct loader *L, const char *ctx, const config_setting_t *g, unsigned use,
                                     enum probe_kind kind)
{
        const char *what = key_of(g), *other = use == PROBE_IN_READY ? "health" : "ready";
        uint64_t bad = 0;

        for (int i = 0; i < config_setting_length(g); i++) {
                const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
                const struct key *k = find_key(probe_keys, ELEMENTSOF(probe_keys), key_of(s));

                if (!k) /* unknown: reported as such */
                        continue;
                if (!(k->where & use))
                        diag_s(L, s, "%s: %s is not allowed in %s (only in %s)", ctx, k->name, what, other);
                else if (kind == PROBE_LOG && probe_kind_of(k->name) == PROBE_NONE && !(k->where & PROBE_WITH_LOG))
                        diag_s(L, s, "%s: %s is not allowed with log", ctx, k->name);
                else
                        continue;
                bad |= UINT64_C(1) << (k - probe_keys);
        }
        return bad;
}

/* The probe group g (`ready = { ... }`: use PROBE_IN_READY, `health =
 * { ... }`: PROBE_IN_HEALTH) into p; its messages begin "CTX: ready: ".
 * A key out of place is reported as such, its value is not read. p->kind
 * is set once its kind key is valid and alone, whatever else is wrong (the
 * rules between the worker's settings need it). true when all is valid. */
static bool parse_probe(struct loader *L, const char *ctx, const config_setting_t *g, unsigned use,
                        struct conf_probe *p)
{
        const config_setting_t *kind_s;
        enum probe_kind kind = PROBE_NONE;
        char pctx[NAME_MAX_LEN + 48];
        const struct key *kind_k;
        uint64_t valid, misplaced;

        *p = (struct conf_probe){ .line = setting_line(g) };
        set_defaults(probe_keys, ELEMENTSOF(probe_keys), p);
        if (use == PROBE_IN_HEALTH)
                p->interval = DEFAULT_HEALTH_INTERVAL;
        snprintf(pctx, sizeof(pctx), "%s: %s", ctx, key_of(g));
        kind_s = probe_kind_setting(L, pctx, g, use);
        kind_k = kind_s ? find_key(probe_keys, ELEMENTSOF(probe_keys), key_of(kind_s)) : NULL;
        /* "not allowed with log" only where a log probe is allowed */
        if (kind_k && (kind_k->where & use))
                kind = probe_kind_of(kind_k->name);
        misplaced = probe_keys_misplaced(L, pctx, g, use, kind);
        valid = parse_settings_but(L, pctx, g, probe_keys, ELEMENTSOF(probe_keys), p, misplaced);
        if (kind_k && (valid & (UINT64_C(1) << (kind_k - probe_keys))))
                p->kind = kind;
        if (use == PROBE_IN_READY)
                p->failures = 0;
        if (kind == PROBE_LOG)
                p->interval = p->timeout = 0; /* every captured line, as it comes */
        /* every setting known and valid: as many bits as settings (libconfig
         * refuses a name twice in a group) */
        return p->kind != PROBE_NONE && (size_t)__builtin_popcountll(valid) == (size_t)config_setting_length(g);
}

/* `ready`: "exec", "notify" or a probe group. */
static bool parse_ready(struct loader *L, const char *ctx, const config_setting_t *s, void *obj)
{
        struct conf_worker *w = obj;
        const char *v;
        int i;

        if (is_group(s)) {
                w->ready = READY_PROBE;
                return parse_probe(L, ctx, s, PROBE_IN_READY, &w->ready_probe);
        }
        if (!has_form(L, ctx, s, config_setting_type(s) == CONFIG_TYPE_STRING, "a string or a probe group { ... }",
                      INT_MAX, ""))
                return false;
        v = config_setting_get_string(s);
        i = enum_index(v, ready_names, ELEMENTSOF(ready_names));
        if (i < 0) {
                enum_error(L, ctx, s, v, ready_names, ELEMENTSOF(ready_names), "a probe group { ... }");
                return false;
        }
        w->ready = (enum ready_mode)i;
        return true;
}

static bool parse_health(struct loader *L, const char *ctx, const config_setting_t *s, void *obj)
{
        struct conf_worker *w = obj;

        if (!has_form(L, ctx, s, is_group(s), "a probe group { ... }", INT_MAX, ""))
                return false;
        return parse_probe(L, ctx, s, PROBE_IN_HEALTH, &w->health);
}

#define WORKER_KEY(key, kind_, field) .name = key, .kind = kind_, .offset = offsetof(struct conf_worker, field)
#define ENUM_NAMES(v) .names = v, .n_names = ELEMENTSOF(v)

static const struct key worker_keys[] = {
        { .name = "name", .kind = KEY_SKIP },
        { .name = "instances", .kind = KEY_SKIP }, /* read_instances() */
        { WORKER_KEY("command", KEY_ARGV, argv), .subst = true },
        { WORKER_KEY("type", KEY_ENUM, type), ENUM_NAMES(type_names), .def = WORKER_TYPE_SIMPLE },
        { FN_KEY("env", parse_env) },
        { FN_KEY("env_file", parse_env_file) },
        { WORKER_KEY("env_clear", KEY_BOOL, env_clear) },
        { WORKER_KEY("cwd", KEY_PATH, cwd) },
        { FN_KEY("user", parse_id) },
        { FN_KEY("group", parse_id) },
        { FN_KEY("umask", parse_umask) },
        { WORKER_KEY("after", KEY_NAMES, after) },
        { FN_KEY("ready", parse_ready) }, /* default: READY_EXEC */
        { FN_KEY("health", parse_health) },
        { WORKER_KEY("part_of", KEY_NAMES, part_of) },
        { WORKER_KEY("ready_timeout", KEY_TIMEOUT, ready_timeout) }, /* default: the supervisor's */
        { WORKER_KEY("watchdog", KEY_DURATION, watchdog), .def = 0 },
        { WORKER_KEY("stop_signal", KEY_SIGNAL, stop_signal), .def = SIGTERM },
        { WORKER_KEY("stop_timeout", KEY_DURATION, stop_timeout), .def = DEFAULT_STOP_TIMEOUT },
        { WORKER_KEY("kill_mode", KEY_ENUM, kill_mode), ENUM_NAMES(kill_mode_names), .def = KILL_GROUP },
        { WORKER_KEY("pre_stop", KEY_ARGV, pre_stop) },
        { WORKER_KEY("pre_stop_timeout", KEY_TIMEOUT, pre_stop_timeout), .def = DEFAULT_HOOK_TIMEOUT },
        { WORKER_KEY("post_stop", KEY_ARGV, post_stop) },
        { WORKER_KEY("post_stop_timeout", KEY_TIMEOUT, post_stop_timeout), .def = DEFAULT_HOOK_TIMEOUT },
        { WORKER_KEY("restart", KEY_ENUM, restart), ENUM_NAMES(restart_names), .def = RESTART_ON_FAILURE },
        { WORKER_KEY("restart_delay", KEY_DURATION, restart_delay), .def = DEFAULT_RESTART_DELAY },
        { WORKER_KEY("restart_delay_max", KEY_DURATION, restart_delay_max), .def = DEFAULT_RESTART_DELAY_MAX },
        { WORKER_KEY("start_limit_burst", KEY_UINT, start_limit_burst), .min = 1, .max = START_LIMIT_BURST_MAX,
          .def = DEFAULT_START_LIMIT_BURST },
        { WORKER_KEY("start_limit_interval", KEY_DURATION, start_limit_interval), .def = DEFAULT_START_LIMIT_INTERVAL },
        { WORKER_KEY("critical", KEY_BOOL, critical) },
        { WORKER_KEY("stop_on_exit", KEY_BOOL, stop_on_exit) },
        { FN_KEY("stdout", parse_stdout) },
        { FN_KEY("stderr", parse_stderr) },
};
_Static_assert(ELEMENTSOF(worker_keys) <= 64, "parse_settings() has a 64-bit mask");

/* The setting `name` of worker g when parse_settings() found it valid. */
static const config_setting_t *valid_worker_setting(const config_setting_t *g, uint64_t valid, const char *name)
{
        const struct key *k = find_key(worker_keys, ELEMENTSOF(worker_keys), name);

        return valid & (UINT64_C(1) << (k - worker_keys)) ? config_setting_get_member(g, name) : NULL;
}

static void worker_defaults(struct conf_worker *w, const struct conf *c)
{
        *w = (struct conf_worker){ .umask = -1, .out = { OUT_LOG, OUT_LOG } };
        set_defaults(worker_keys, ELEMENTSOF(worker_keys), w);
        w->ready_timeout = c->ready_timeout;
}

/* The worker (plain or an instance) or template that has this name
 * already; NULL: none. */
static const struct conf_worker *name_taken(struct loader *L, const char *name)
{
        uintptr_t i = (uintptr_t)hmap_get_str(&L->names, name);

        return i ? &L->c->workers[i - 1] : find_template_n(L->c, name);
}

/* "duplicate worker name "NAME" (...first defined at FILE:LINE...)" at s,
 * saying which instance each name belongs to (k: the new one's number). */
static void duplicate_worker(struct loader *L, const config_setting_t *s, const char *name, unsigned k,
                             const char *group, const struct conf_worker *first)
{
        char mine[NAME_MAX_LEN + 32] = "", theirs[NAME_MAX_LEN + 32] = "";

        if (k)
                snprintf(mine, sizeof mine, "instance %u of \"%s\"; ", k, group);
        if (first->instance_of)
                snprintf(theirs, sizeof theirs, " as instance %u of \"%s\"", first->instance, first->instance_of);
        diag_s(L, s, "duplicate worker name \"%s\" (%sfirst defined at %s:%d%s)", name, mine, first->file, first->line,
               theirs);
}

/* The name, file and line of worker g. false: it is not kept (no valid
 * name, or a duplicate). */
static bool read_worker_name(struct loader *L, const config_setting_t *g, char *ctx, size_t ctxlen,
                        struct conf_worker *w)
{
        const config_setting_t *name_s;
        const char *name = read_name(L, g, &name_s, "worker", ctx, ctxlen);
        const struct conf_worker *first = name ? name_taken(L, name) : NULL;

        w->file = setting_file(L, name_s ?: g);
        w->line = setting_line(name_s ?: g);
        if (!name) {
                /* an invalid name is still a name: `after` may refer to it */
                if (name_s && config_setting_type(name_s) == CONFIG_TYPE_STRING)
                        drop_name(L, config_setting_get_string(name_s));
                else
                        L->c->names_complete = false;
                return false;
        }
        w->name = xstrdup(name);
        if (first)
                duplicate_worker(L, name_s, name, 0, NULL, first);
        return !first;
}

/* Does NAME.k make a valid name? */
static bool instance_name_fits(const char *name, unsigned k)
{
        char buf[2 * NAME_MAX_LEN];

        snprintf(buf, sizeof buf, "%s.%u", name, k);
        return name_is_valid(buf);
}

/* `instances` of worker g, read before its other settings: they take %i
 * then (L->instanced). An invalid count stands for 1. */
static void read_instances(struct loader *L, const config_setting_t *g, const char *ctx, struct conf_worker *w)
{
        static const struct key count = { .name = "instances", .kind = KEY_UINT, .min = 1,
                                           .max = CONF_MAX_INSTANCES };
        const config_setting_t *s = config_setting_get_member(g, "instances");

        if (!s)
                return;
        L->instanced = true;
        w->instances = 1;
        if (get_uint(L, ctx, s, &count, &w->instances) && w->name && !instance_name_fits(w->name, w->instances))
                diag_s(L, s, "%s: instance name \"%s.%u\" is longer than %d characters", ctx, w->name,
                       w->instances, NAME_MAX_LEN);
}

static bool strv_has(char *const *v, size_t n, const char *s)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

/* part_of implies after: each of its names is added to after, once (so the
 * plan orders, checks and stops them as dependencies); a name repeated in
 * part_of is kept once. A worker's own name is refused rather than made a
 * cycle (and left out). */
static void part_of_after(struct loader *L, const config_setting_t *part_of_s, const char *ctx,
                          struct conf_worker *w)
{
        size_t n = strv_length(w->after), kept = 0;
        bool self = false;

        for (char **p = w->part_of; p && *p; p++) {
                bool is_self = w->name && strcmp(*p, w->name) == 0;

                if (is_self && !self)
                        diag_s(L, part_of_s, "%s: a worker cannot be part_of itself", ctx);
                self = self || is_self;
                if (is_self || strv_has(w->part_of, kept, *p)) {
                        free(*p);
                        continue;
                }
                w->part_of[kept++] = *p;
                if (!strv_has(w->after, n, *p))
                        strv_push(&w->after, &n, *p);
        }
        if (kept == 0) { /* `part_of = [];` is no part_of */
                free(w->part_of);
                w->part_of = NULL;
        } else
                w->part_of[kept] = NULL;
}

/* The rules of probes that involve other settings of worker g. */
static void check_probes(struct loader *L, const config_setting_t *g, const char *ctx, const struct conf_worker *w)
{
        const config_setting_t *ready_s = config_setting_get_member(g, "ready");
        const config_setting_t *health_s = config_setting_get_member(g, "health");

        if (w->ready == READY_PROBE && w->ready_probe.kind == PROBE_LOG && w->out[STREAM_STDOUT] != OUT_LOG &&
            w->out[STREAM_STDERR] != OUT_LOG)
                diag_s(L, config_setting_get_member(ready_s, "log"),
                       "%s: ready: log requires stdout = \"log\" or stderr = \"log\"", ctx);
        if (w->type != WORKER_TYPE_ONESHOT)
                return;
        if (w->ready == READY_PROBE)
                diag_s(L, ready_s, "%s: ready = { ... } is not allowed with type = \"oneshot\"", ctx);
        if (health_s)
                diag_s(L, health_s, "%s: health is not allowed with type = \"oneshot\"", ctx);
}

/* The rules that involve several settings of worker g (valid: the mask of
 * parse_settings()). */
static void check_worker(struct loader *L, const config_setting_t *g, uint64_t valid, const char *ctx,
                         struct conf_worker *w)
{
        const config_setting_t *watchdog_s = valid_worker_setting(g, valid, "watchdog");
        const config_setting_t *restart_s = valid_worker_setting(g, valid, "restart");
        const config_setting_t *delay_max_s = valid_worker_setting(g, valid, "restart_delay_max");
        const config_setting_t *part_of_s = valid_worker_setting(g, valid, "part_of");

        if (!config_setting_get_member(g, "command"))
                diag_s(L, config_setting_get_member(g, "name") ?: g, "%s: missing command", ctx);
        if (watchdog_s && w->watchdog > 0 && w->ready != READY_NOTIFY)
                diag_s(L, watchdog_s, "%s: watchdog requires ready = \"notify\"", ctx);
        if (restart_s && w->type == WORKER_TYPE_ONESHOT && w->restart == RESTART_ALWAYS)
                diag_s(L, restart_s, "%s: restart = \"always\" is not allowed with type = \"oneshot\"", ctx);
        if (w->restart_delay_max < w->restart_delay) {
                if (delay_max_s)
                        diag_s(L, delay_max_s, "%s: restart_delay_max must be >= restart_delay", ctx);
                else /* only restart_delay given, above the default maximum: a fixed delay */
                        w->restart_delay_max = w->restart_delay;
        }
        check_probes(L, g, ctx, w);
        if (part_of_s)
                part_of_after(L, part_of_s, ctx, w);
}

/* Takes w into c->workers. */
static void add_worker(struct loader *L, struct conf_worker *w)
{
        struct conf *c = L->c;

        /* by doubling (the room is implied by the count: the next power of
         * two): 10,000 instances are 14 reallocations, not 10,000 copies */
        if ((c->n_workers & (c->n_workers - 1)) == 0)
                c->workers = xrealloc(c->workers, (c->n_workers ? 2 * c->n_workers : 1) * sizeof(*c->workers));
        c->workers[c->n_workers++] = *w;
        hmap_put(&L->names, (uintptr_t)w->name, (void *)(uintptr_t)c->n_workers);
}

/* The instances of a template being loaded: a problem is reported at the
 * template's setting, for the first instance that has it only (all
 * instances share the value as written). */
struct expansion {
        struct loader *L;
        const config_setting_t *g; /* the template's group */
        const char *ctx;
        unsigned reported; /* bit i: a problem of expansion_keys[i] */
};

static const char *const expansion_keys[] = { "instances", "stdout", "stderr", "ready", "health" };

static void expansion_problem(void *data, const char *key, const char *msg)
{
        struct expansion *x = data;
        const config_setting_t *s = config_setting_lookup((config_setting_t *)x->g, key);
        size_t i;

        for (i = 0; i < ELEMENTSOF(expansion_keys); i++)
                if (strncmp(key, expansion_keys[i], strcspn(key, ".")) == 0 &&
                    !expansion_keys[i][strcspn(key, ".")])
                        break;
        if (i < ELEMENTSOF(expansion_keys) && (x->reported & (1u << i)))
                return;
        x->reported |= i < ELEMENTSOF(expansion_keys) ? 1u << i : 0;
        diag_s(x->L, s ? s : x->g, "%s: %s", x->ctx, msg);
}

/* Takes t into c->templates and its instances into c->workers (an instance
 * whose name is taken or invalid is not: reported; without any, the
 * group's name is one of a worker not kept). */
static void add_template(struct loader *L, const config_setting_t *g, const char *ctx, struct conf_worker *t)
{
        struct conf *c = L->c;
        struct expansion x = { .L = L, .g = g, .ctx = ctx };
        const config_setting_t *name_s = config_setting_get_member(g, "name");

        c->templates = xrealloc(c->templates, (c->n_templates + 1) * sizeof(*c->templates));
        c->templates[c->n_templates++] = *t;
        t = &c->templates[c->n_templates - 1];
        for (unsigned k = 1; k <= t->instances && instance_name_fits(t->name, k); k++) {
                struct conf_worker w;
                const struct conf_worker *first;

                (void)conf_worker_instance(t, k, &w, expansion_problem, &x);
                first = name_taken(L, w.name);
                if (first) {
                        duplicate_worker(L, name_s, w.name, k, t->name, first);
                        drop_name(L, w.name);
                        conf_worker_done(&w);
                } else
                        add_worker(L, &w);
        }
        if (!instance_name_fits(t->name, 1))
                drop_name(L, t->name);
}

/* Parses one element of a `workers` list; index is 1-based in that list. */
static void parse_worker(struct loader *L, const config_setting_t *g, unsigned index)
{
        struct conf *c = L->c;
        struct conf_worker w;
        char ctx[NAME_MAX_LEN + 32];
        uint64_t valid;
        bool keep;

        if (!is_group(g)) {
                diag_s(L, g, "worker #%u must be a group { ... }", index);
                c->names_complete = false;
                return;
        }
        worker_defaults(&w, c);
        snprintf(ctx, sizeof(ctx), "worker #%u", index);
        keep = read_worker_name(L, g, ctx, sizeof(ctx), &w);
        read_instances(L, g, ctx, &w);
        valid = parse_settings(L, ctx, g, worker_keys, ELEMENTSOF(worker_keys), &w);
        check_worker(L, g, valid, ctx, &w);
        L->instanced = false;
        if (keep && c->n_workers + (w.instances ? w.instances : 1) > CONF_MAX_WORKERS) {
                diag_s(L, g, "more than %d workers", CONF_MAX_WORKERS);
                drop_name(L, w.name);
                keep = false;
        }
        if (!keep)
                conf_worker_done(&w);
        else if (w.instances)
                add_template(L, g, ctx, &w);
        else
                add_worker(L, &w);
}

static void parse_workers(struct loader *L, const config_setting_t *list)
{
        if (!is_group_list(list)) {
                diag_s(L, list, "workers must be a list ( { ... }, ... )");
                L->c->names_complete = false;
                return;
        }
        for (int i = 0; i < config_setting_length(list); i++)
                parse_worker(L, config_setting_get_elem(list, (unsigned)i), (unsigned)i + 1);
}

/* ---- supervisor ---------------------------------------------------------- */

#define STEP_KEY(key, kind_, field) .name = key, .kind = kind_, .offset = offsetof(struct conf_cleanup, field)

static const struct key cleanup_keys[] = {
        { .name = "name", .kind = KEY_SKIP },
        { STEP_KEY("command", KEY_ARGV, argv) },
        { STEP_KEY("timeout", KEY_TIMEOUT, timeout), .def = DEFAULT_CLEANUP_TIMEOUT },
        { STEP_KEY("shielded", KEY_BOOL, shielded) },
};

static void cleanup_done(struct conf_cleanup *st)
{
        free(st->name);
        strv_free(st->argv);
        free(st->file);
}

/* The name, file and line of cleanup step g. false: it is not kept. */
static bool cleanup_name(struct loader *L, const config_setting_t *g, char *ctx, size_t ctxlen,
                         struct conf_cleanup *st)
{
        const struct conf *c = L->c;
        const config_setting_t *name_s;
        const char *name = read_name(L, g, &name_s, "cleanup step", ctx, ctxlen);

        st->file = setting_file(L, name_s ?: g);
        st->line = setting_line(name_s ?: g);
        if (!name)
                return false;
        st->name = xstrdup(name);
        for (size_t i = 0; i < c->n_cleanup; i++)
                if (strcmp(c->cleanup[i].name, name) == 0) {
                        duplicate_name(L, name_s, "cleanup step", c->cleanup[i].file, c->cleanup[i].line);
                        return false;
                }
        return true;
}

static void parse_cleanup_step(struct loader *L, const config_setting_t *g, unsigned index)
{
        struct conf *c = L->c;
        struct conf_cleanup st = { 0 };
        char ctx[NAME_MAX_LEN + 32];
        bool keep;

        if (!is_group(g)) {
                diag_s(L, g, "cleanup step #%u must be a group { ... }", index);
                return;
        }
        set_defaults(cleanup_keys, ELEMENTSOF(cleanup_keys), &st);
        snprintf(ctx, sizeof(ctx), "cleanup step #%u", index);
        keep = cleanup_name(L, g, ctx, sizeof(ctx), &st);
        parse_settings(L, ctx, g, cleanup_keys, ELEMENTSOF(cleanup_keys), &st);
        if (!config_setting_get_member(g, "command"))
                diag_s(L, config_setting_get_member(g, "name") ?: g, "%s: missing command", ctx);
        if (!keep) {
                cleanup_done(&st);
                return;
        }
        c->cleanup = xrealloc(c->cleanup, (c->n_cleanup + 1) * sizeof(*c->cleanup));
        c->cleanup[c->n_cleanup++] = st;
}

static bool parse_cleanup(struct loader *L, const char *ctx, const config_setting_t *list, void *obj)
{
        if (!has_form(L, ctx, list, is_group_list(list), "a list ( { ... }, ... )", CONF_MAX_CLEANUP, "steps"))
                return false;
        for (int i = 0; i < config_setting_length(list); i++)
                parse_cleanup_step(L, config_setting_get_elem(list, (unsigned)i), (unsigned)i + 1);
        return true;
}

static bool parse_supervisor_name(struct loader *L, const char *ctx, const config_setting_t *s, void *obj)
{
        struct conf *c = obj;
        const char *v;

        if (!get_name(L, ctx, s, &v))
                return false;
        free(c->name);
        c->name = xstrdup(v);
        return true;
}

static bool parse_control_socket(struct loader *L, const char *ctx, const config_setting_t *s, void *obj)
{
        struct conf *c = obj;
        size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
        const char *v;

        if (!get_string(L, ctx, s, STR_ANY, &v))
                return false;
        if (v[0] && v[0] != '/')
                diag_s(L, s, "%s: control_socket must be an absolute path or \"\"", ctx);
        else if (strlen(v) > max)
                diag_s(L, s, "%s: control_socket path is longer than %zu bytes", ctx, max);
        else {
                free(c->control_socket);
                c->control_socket = xstrdup(v);
                return true;
        }
        return false;
}

/* A worker's name; whether it has stop_on_exit is checked once every
 * worker is read (check_exit_code_from()). */
static bool parse_exit_code_from(struct loader *L, const char *ctx, const config_setting_t *s, void *obj)
{
        struct conf *c = obj;
        const char *v;

        if (!get_name(L, ctx, s, &v))
                return false;
        free(c->exit_code_from);
        c->exit_code_from = xstrdup(v);
        L->exit_code_from = s;
        return true;
}

/* The HTTP endpoint's address: numeric or localhost (no name lookup), "" off. */
static bool parse_http_listen(struct loader *L, const char *ctx, const config_setting_t *s, void *obj)
{
        struct conf *c = obj;
        struct sockaddr_storage ss;
        socklen_t len;
        const char *v, *why;

        if (!get_string(L, ctx, s, STR_ANY, &v))
                return false;
        if (v[0] && parse_inet_address(v, &ss, &len, &why) < 0) {
                diag_s(L, s, "%s: invalid http_listen address \"%s\": %s", ctx, v, why);
                return false;
        }
        free(c->http_listen);
        c->http_listen = xstrdup(v);
        return true;
}

static bool parse_include_dir(struct loader *L, const char *ctx, const config_setting_t *s, void *obj)
{
        const char *v;

        if (!get_string(L, ctx, s, STR_NONEMPTY, &v))
                return false;
        L->include_dir = s; /* read after the main file's workers */
        return true;
}

#define SUPERVISOR_KEY(key, kind_, field) .name = key, .kind = kind_, .offset = offsetof(struct conf, field)

static const struct key supervisor_keys[] = {
        { FN_KEY("name", parse_supervisor_name) },
        { SUPERVISOR_KEY("shutdown_timeout", KEY_TIMEOUT, shutdown_timeout), .def = 90 * USEC_PER_SEC },
        { SUPERVISOR_KEY("signal_debounce", KEY_DURATION, signal_debounce), .def = 500 * USEC_PER_MSEC },
        { SUPERVISOR_KEY("force_after", KEY_UINT, force_after), .min = 0, .max = FORCE_AFTER_MAX, .def = 2 },
        { SUPERVISOR_KEY("max_parallel", KEY_UINT, max_parallel), .min = 1, .max = CONF_MAX_WORKERS, .def = 16 },
        { SUPERVISOR_KEY("ready_timeout", KEY_TIMEOUT, ready_timeout), .def = 60 * USEC_PER_SEC },
        { SUPERVISOR_KEY("shutdown_delay", KEY_DURATION, shutdown_delay), .def = 0 },
        { FN_KEY("exit_code_from", parse_exit_code_from) },
        { SUPERVISOR_KEY("report_file", KEY_PATH, report_file) },
        { FN_KEY("control_socket", parse_control_socket) },
        { FN_KEY("http_listen", parse_http_listen) },
        { FN_KEY("include_dir", parse_include_dir) },
        { SUPERVISOR_KEY("log_buffer", KEY_UINT, log_buffer), .min = 0, .max = CONF_MAX_LOG_BUFFER, .def = 1000 },
        { FN_KEY("cleanup", parse_cleanup) },
};

static void parse_supervisor(struct loader *L, const config_setting_t *g)
{
        const struct key *delay_k = find_key(supervisor_keys, ELEMENTSOF(supervisor_keys), "shutdown_delay");
        uint64_t valid;
        char b[64];

        if (!is_group(g)) {
                diag_s(L, g, "supervisor must be a group { ... }");
                return;
        }
        valid = parse_settings(L, "supervisor", g, supervisor_keys, ELEMENTSOF(supervisor_keys), L->c);
        /* the drain counts in the budget: one as long leaves nothing for the stop */
        if ((valid & (UINT64_C(1) << (delay_k - supervisor_keys))) && L->c->shutdown_delay > 0 &&
            L->c->shutdown_delay >= L->c->shutdown_timeout)
                diag_s(L, config_setting_get_member(g, "shutdown_delay"),
                       "supervisor: shutdown_delay must be less than shutdown_timeout (%s)",
                       format_duration(L->c->shutdown_timeout, b, sizeof(b)));
}

/* exit_code_from names a worker with stop_on_exit (any file's): checked once
 * every worker is read; a name that may belong to a worker that could not
 * be read is left alone. */
static void check_exit_code_from(struct loader *L)
{
        const struct conf *c = L->c;
        const struct conf_worker *w;
        const char **names, *sug;

        if (!L->exit_code_from)
                return;
        w = find_worker_n(c, c->exit_code_from);
        if (!w && find_template_n(c, c->exit_code_from)) {
                diag_s(L, L->exit_code_from,
                       "supervisor: exit_code_from \"%s\" names a worker with instances (name one of them, "
                       "such as \"%s.1\")",
                       c->exit_code_from, c->exit_code_from);
                return;
        }
        if (w) {
                if (!w->stop_on_exit)
                        diag_s(L, L->exit_code_from,
                               "supervisor: exit_code_from \"%s\" names a worker without stop_on_exit = true",
                               c->exit_code_from);
                return;
        }
        if (!c->names_complete || strv_has(c->dropped_names, c->n_dropped_names, c->exit_code_from))
                return;
        names = xcalloc(c->n_workers ?: 1, sizeof(char *));
        for (size_t i = 0; i < c->n_workers; i++)
                names[i] = c->workers[i].name;
        sug = suggest(c->exit_code_from, names, c->n_workers);
        if (sug)
                diag_s(L, L->exit_code_from, "supervisor: unknown worker \"%s\" in exit_code_from; did you mean \"%s\"?",
                       c->exit_code_from, sug);
        else
                diag_s(L, L->exit_code_from, "supervisor: unknown worker \"%s\" in exit_code_from", c->exit_code_from);
        free(names);
}

/* The top level: supervisor (main file only) and workers. */
static const struct key top_keys[] = { { .name = "supervisor" }, { .name = "workers" } };

/* ---- files ----------------------------------------------------------------- */

/* Opens a configuration file without blocking (a FIFO, a terminal): the fd,
 * or -errno with *why set to the reason (strerror or file_type_problem()).
 * Nothing but a regular file is safe to hand to libconfig: it would block
 * on a FIFO, read /dev/zero forever, and exit(2) on a directory. */
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

/* "A -> B -> A" when the file of st is open already (an include cycle),
 * else NULL. */
static char *include_cycle(const struct scan *S, const struct stat *st)
{
        char *chain = NULL;

        for (size_t i = 0; i <= S->depth; i++)
                if (S->open[i].dev == st->st_dev && S->open[i].ino == st->st_ino) {
                        for (size_t k = i; k <= S->depth; k++)
                                str_appendf(&chain, "%s -> ", S->open[k].path);
                        str_appendf(&chain, "%s", S->open[i].path);
                        return chain;
                }
        return NULL;
}

/* The closing quote of an @include name in `file` at `line`: checks the
 * file it names and scans it in turn. */
static void scan_include(struct scan *S, const char *file, int line)
{
        struct loader *L = S->L;
        char *name, *q, *path = NULL, *chain;
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
                conf_diags_add(&L->d, file, line,
                               "@include \"%s\": include file nesting too deep (more than %d levels)", q,
                               INCLUDE_MAX_DEPTH);
                goto fail;
        }
        if (name[0] == '/') {
                conf_diags_add(&L->d, file, line, "@include \"%s\": must be a name relative to %s", q, S->dir);
                goto fail;
        }
        path = xasprintf("%s/%s", S->dir, name);
        fd = open_config_file(path, &st, &why);
        if (fd < 0) {
                conf_diags_add(&L->d, file, line, "@include \"%s\": %s", q, why);
                goto fail;
        }
        chain = include_cycle(S, &st);
        if (chain) {
                conf_diags_add(&L->d, file, line, "@include \"%s\": include cycle: %s", q, chain);
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
                conf_diags_add(&L->d, file, line, "@include \"%s\": %s", q, strerror(-r));
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
                conf_diags_add(&L->d, path, 0, "%s", why);
                return false;
        }
        S.open[0] = (struct scan_file){ .dev = st.st_dev, .ino = st.st_ino, .path = path };
        r = scan_file(&S, fd, path);
        safe_close(fd);
        free(S.name);
        if (r < 0) {
                conf_diags_add(&L->d, path, 0, "%s", strerror(-r));
                return false;
        }
        return !S.bad;
}

/* Every file libconfig read (the file and what it @includes): registered
 * for the order of diagnostics, and refused when it is world-writable and
 * graced runs as root. */
static void check_files_read(struct loader *L, const config_t *cfg)
{
        register_file(L, L->cur_file);
        for (unsigned i = 0; i < cfg->num_filenames; i++) {
                char *path = file_name(L, cfg->filenames[i]);
                struct stat st;

                register_file(L, path);
                if (L->opts->as_root && stat(path, &st) == 0 && (st.st_mode & S_IWOTH))
                        conf_diags_add(&L->d, path, 0, "world-writable file refused when running as root");
                free(path);
        }
}

/* Reads one file with libconfig. false with a diagnostic on any error. */
static bool read_config(struct loader *L, config_t *cfg, const char *path, const char *dir)
{
        bool ok;

        L->cur_file = path;
        L->cur_dir = dir;
        register_file(L, path);
        if (!prescan(L, path, dir))
                return false;
        config_init(cfg);
        config_set_include_dir(cfg, dir);
        ok = config_read_file(cfg, path);
        if (!ok) {
                const char *ef = config_error_file(cfg);
                char *file = file_name(L, ef);
                bool no_line = config_error_type(cfg) == CONFIG_ERR_FILE_IO && !ef;

                conf_diags_add(&L->d, file, no_line ? 0 : config_error_line(cfg), "%s", config_error_text(cfg));
                free(file);
        }
        check_files_read(L, cfg);
        if (!ok)
                config_destroy(cfg);
        return ok;
}

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* One file of include_dir: it may hold workers, nothing else. */
static void parse_include_file(struct loader *L, const char *path, const char *dir)
{
        config_t cfg;
        const config_setting_t *root;

        if (!read_config(L, &cfg, path, dir)) {
                L->c->names_complete = false;
                return;
        }
        root = config_root_setting(&cfg);
        for (int j = 0; j < config_setting_length(root); j++) {
                const config_setting_t *s = config_setting_get_elem(root, (unsigned)j);
                const char *key = key_of(s);

                if (strcmp(key, "workers") == 0)
                        parse_workers(L, s);
                else if (strcmp(key, "supervisor") == 0)
                        diag_s(L, s, "supervisor can only be set in the main configuration file");
                else
                        unknown_setting(L, NULL, s, top_keys + 1, 1);
        }
        config_destroy(&cfg);
}

static void load_include_dir(struct loader *L, const config_setting_t *include_s, const char *main_dir)
{
        char *dirpath = path_join(main_dir, config_setting_get_string(include_s));
        char **names = NULL;
        size_t n = 0;
        DIR *d;
        struct dirent *de;

        L->c->include_dir = dirpath;
        d = opendir(dirpath);
        if (!d) {
                diag_s(L, include_s, "supervisor: cannot open include_dir \"%s\": %s", dirpath, strerror(errno));
                L->c->names_complete = false;
                return;
        }
        while ((de = readdir(d))) {
                size_t len = strlen(de->d_name);
                struct stat st;
                char *p;

                if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".conf") != 0)
                        continue;
                p = path_join(dirpath, de->d_name);
                if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
                        strv_push(&names, &n, de->d_name);
                free(p);
        }
        closedir(d);
        if (n > 0)
                qsort(names, n, sizeof(char *), name_cmp);
        for (size_t i = 0; i < n; i++) {
                char *path = path_join(dirpath, names[i]);

                parse_include_file(L, path, dirpath);
                free(path);
        }
        strv_free(names);
}

/* ---- conf_load --------------------------------------------------------------- */

static struct conf *conf_new(const char *path)
{
        struct conf *c = xcalloc(1, sizeof(*c));

        c->path = xstrdup(path);
        c->name = xstrdup("graced");
        set_defaults(supervisor_keys, ELEMENTSOF(supervisor_keys), c);
        c->names_complete = true;
        return c;
}

/* The main file, read: its supervisor, its workers, then include_dir. */
static void parse_main_file(struct loader *L, const config_t *cfg, const char *main_dir)
{
        const config_setting_t *root = config_root_setting(cfg), *sup, *workers;

        for (int i = 0; i < config_setting_length(root); i++) {
                const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
                if (!find_key(top_keys, ELEMENTSOF(top_keys), key_of(s)))
                        unknown_setting(L, NULL, s, top_keys, ELEMENTSOF(top_keys));
        }
        /* the supervisor first: workers take their ready_timeout default from it */
        sup = config_setting_get_member(root, "supervisor");
        if (sup)
                parse_supervisor(L, sup);
        workers = config_setting_get_member(root, "workers");
        if (workers)
                parse_workers(L, workers);
        if (L->include_dir)
                load_include_dir(L, L->include_dir, main_dir);
        /* back to the main file (its settings are named after it) */
        L->cur_file = L->c->path;
        L->cur_dir = main_dir;
        check_exit_code_from(L);
}

int conf_load_partial(const char *path, const struct conf_load_opts *opts, struct conf **ret,
                      struct conf_diags *diags)
{
        static const struct conf_load_opts default_opts = { 0 };
        struct loader L = { .opts = opts ?: &default_opts, .c = conf_new(path), .names = HMAP_INIT_STR };
        char *main_dir = dir_of(path);
        config_t cfg;
        int r;

        if (read_config(&L, &cfg, path, main_dir)) {
                parse_main_file(&L, &cfg, main_dir);
                config_destroy(&cfg);
        } else
                L.c->names_complete = false;
        free(main_dir);
        hmap_done(&L.names);
        r = L.d.n > 0 ? -EINVAL : 0;
        conf_diags_move(diags, &L.d);
        *ret = L.c;
        return r;
}

int conf_load(const char *path, const struct conf_load_opts *opts, struct conf **ret, struct conf_diags *diags)
{
        struct conf_diags d = { 0 };
        struct conf *c;
        int r = conf_load_partial(path, opts, &c, &d);

        conf_diags_sort(&d, c);
        conf_diags_move(diags, &d);
        if (r == 0 && ret)
                *ret = c;
        else /* failed, or only checking */
                conf_free(c);
        return r;
}

/* ---- the model ------------------------------------------------------------------ */

/* What a worker owns: strings and string vectors. */
#define WORKER_FIELD(f) offsetof(struct conf_worker, f)
static const size_t worker_strings[] = { WORKER_FIELD(name),         WORKER_FIELD(file),
                                         WORKER_FIELD(cwd),          WORKER_FIELD(user),
                                         WORKER_FIELD(group),        WORKER_FIELD(out_path[0]),
                                         WORKER_FIELD(out_path[1]),  WORKER_FIELD(ready_probe.target),
                                         WORKER_FIELD(health.target), WORKER_FIELD(instance_of) };
static const size_t worker_strvs[] = { WORKER_FIELD(argv),     WORKER_FIELD(env),       WORKER_FIELD(env_file),
                                       WORKER_FIELD(after),    WORKER_FIELD(pre_stop),
                                       WORKER_FIELD(post_stop), WORKER_FIELD(ready_probe.argv),
                                       WORKER_FIELD(health.argv), WORKER_FIELD(part_of) };

static char **string_at(const struct conf_worker *w, size_t offset) { return (char **)((char *)w + offset); }
static char ***strv_at(const struct conf_worker *w, size_t offset) { return (char ***)((char *)w + offset); }

void conf_worker_done(struct conf_worker *w)
{
        if (!w)
                return;
        for (size_t i = 0; i < ELEMENTSOF(worker_strings); i++)
                free(*string_at(w, worker_strings[i]));
        for (size_t i = 0; i < ELEMENTSOF(worker_strvs); i++)
                strv_free(*strv_at(w, worker_strvs[i]));
        *w = (struct conf_worker){ .umask = -1 };
}

struct conf_worker *conf_worker_copy(struct conf_worker *dst, const struct conf_worker *src)
{
        *dst = *src;
        for (size_t i = 0; i < ELEMENTSOF(worker_strings); i++)
                *string_at(dst, worker_strings[i]) = xstrdup(*string_at(src, worker_strings[i]));
        for (size_t i = 0; i < ELEMENTSOF(worker_strvs); i++)
                *strv_at(dst, worker_strvs[i]) = strv_dup(*strv_at(src, worker_strvs[i]));
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

/* ready counts by its mode only: probes (ready_probe, health) and part_of
 * are no part of the process, a reload applies them in place. */
bool conf_worker_same_process(const struct conf_worker *a, const struct conf_worker *b)
{
        if (!strv_eq(a->argv, b->argv) || !strv_eq(a->env, b->env) || !strv_eq(a->env_file, b->env_file))
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

const struct conf_worker *conf_find_template(const struct conf *c, const char *name)
{
        return name ? find_template_n(c, name) : NULL;
}

/* ---- instances ------------------------------------------------------------------ */

/* s with %i replaced by k and %% by % (caller frees). */
static char *expand_specifiers(const char *s, unsigned k)
{
        /* "%i" (2 bytes) becomes at most 10 digits */
        char *out = xmalloc(5 * strlen(s) + 1), *o = out;

        for (; *s; s++) {
                if (s[0] == '%' && s[1] == 'i')
                        o += sprintf(o, "%u", k);
                else if (s[0] == '%' && s[1] == '%')
                        *o++ = '%';
                else {
                        *o++ = *s;
                        continue;
                }
                s++;
        }
        *o = 0;
        return out;
}

static void expand_in(char **s, unsigned k)
{
        char *e;

        if (!*s)
                return;
        e = expand_specifiers(*s, k);
        free(*s);
        *s = e;
}

static void expand_strv(char **v, unsigned k)
{
        for (; v && *v; v++)
                expand_in(v, k);
}

/* An instance's probe (use: "ready", "health"): expanded, then checked. */
static bool instance_probe(struct conf_probe *p, const char *use, unsigned k, conf_problem_fn *problem, void *data)
{
        char key[32], *why, *msg;

        expand_in(&p->target, k);
        expand_strv(p->argv, k);
        why = p->target ? probe_target_problem(p->kind, p->target) : NULL;
        if (!why)
                return true;
        snprintf(key, sizeof key, "%s.%s", use, probe_kind_names[p->kind]);
        msg = xasprintf("%s: %s", use, why);
        problem(data, key, msg);
        free(msg);
        free(why);
        return false;
}

int conf_worker_instance(const struct conf_worker *t, unsigned k, struct conf_worker *ret, conf_problem_fn *problem,
                         void *data)
{
        static const char *const out_keys[] = { [STREAM_STDOUT] = "stdout", [STREAM_STDERR] = "stderr" };
        struct conf_worker w;
        bool ok = true;
        char *why;

        conf_worker_copy(&w, t);
        free(w.name);
        free(w.instance_of);
        w.name = xasprintf("%s.%u", t->name, k);
        w.instance_of = xstrdup(t->name);
        w.instance = k;
        w.instances = 0;
        if (!name_is_valid(w.name)) {
                why = xasprintf("instance name \"%s\" is longer than %d characters", w.name, NAME_MAX_LEN);
                problem(data, "instances", why);
                free(why);
                ok = false;
        }
        expand_strv(w.argv, k);
        expand_strv(w.env, k); /* "KEY=VALUE": a key holds no % */
        expand_strv(w.env_file, k);
        for (int i = 0; i < 2; i++) {
                if (w.out[i] != OUT_FILE)
                        continue;
                expand_in(&w.out_path[i], k);
                why = out_path_problem(out_keys[i], w.out_path[i]);
                if (why)
                        problem(data, out_keys[i], why);
                ok = ok && !why;
                free(why);
        }
        if (w.ready == READY_PROBE)
                ok = instance_probe(&w.ready_probe, "ready", k, problem, data) && ok;
        ok = instance_probe(&w.health, "health", k, problem, data) && ok;
        *ret = w;
        return ok ? 0 : -EINVAL;
}

struct conf *conf_free(struct conf *c)
{
        if (!c)
                return NULL;
        free(c->path);
        free(c->name);
        free(c->report_file);
        free(c->exit_code_from);
        free(c->control_socket);
        free(c->http_listen);
        free(c->include_dir);
        for (size_t i = 0; i < c->n_cleanup; i++)
                cleanup_done(&c->cleanup[i]);
        free(c->cleanup);
        for (size_t i = 0; i < c->n_workers; i++)
                conf_worker_done(&c->workers[i]);
        free(c->workers);
        for (size_t i = 0; i < c->n_templates; i++)
                conf_worker_done(&c->templates[i]);
        free(c->templates);
        strv_free(c->files);
        strv_free(c->dropped_names);
        free(c);
        return NULL;
}

/* ---- the model as JSON (graced's state across a reexec, state.h) ------------------
 * Table-driven from the key tables above: every typed key is carried by
 * its offset and kind under its own name; what a KEY_FN key fills, and
 * what no setting names (a worker's file and line, its resolved ids, a
 * probe's kind), is described by the model fields below. A member that is
 * not found keeps its default; conf_json_missing_key() (a test) finds a
 * key that is carried by neither. */

enum mfield_type { MF_STR, MF_STRV, MF_BOOL, MF_INT, MF_UINT, MF_USEC, MF_ENUM, MF_SIGNAL, MF_ID, MF_PROBE };

struct mfield {
        const char *name;
        enum mfield_type type;
        size_t offset;
        const char *const *names; /* MF_ENUM */
        size_t n_names;
        long long min, max; /* MF_INT, MF_UINT (min 0) */
};

/* A model that grows a field must carry it: add it to a key table or to
 * the model fields below, then the size here (checked where it is known). */
#if __SIZEOF_POINTER__ == 8 && __SIZEOF_LONG__ == 8
_Static_assert(sizeof(struct conf) == 192 && sizeof(struct conf_worker) == 384 &&
                       sizeof(struct conf_cleanup) == 48 && sizeof(struct conf_probe) == 48,
               "a field was added to the configuration model: carry it in the reexec state (conf.c, model fields)");
#endif

static const char *const ready_mode_names[] = { [READY_EXEC] = "exec", [READY_NOTIFY] = "notify",
                                                [READY_PROBE] = "probe" };
static const char *const out_mode_names[] = { [OUT_LOG] = "log", [OUT_INHERIT] = "inherit", [OUT_NULL] = "null",
                                              [OUT_FILE] = "file" };
static const char *const probe_kind_words[] = { [PROBE_NONE] = "none", [PROBE_TCP] = "tcp", [PROBE_UNIX] = "unix",
                                                [PROBE_HTTP] = "http", [PROBE_EXEC] = "exec", [PROBE_LOG] = "log" };

#define MF(n, t, type_, f) { .name = n, .type = t, .offset = offsetof(type_, f)
#define MF_NAMES(v) .names = v, .n_names = ELEMENTSOF(v)

static const struct mfield worker_model[] = {
        MF("name", MF_STR, struct conf_worker, name) },
        MF("file", MF_STR, struct conf_worker, file) },
        MF("line", MF_INT, struct conf_worker, line), .min = 0, .max = INT_MAX },
        MF("env", MF_STRV, struct conf_worker, env), .max = CONF_MAX_ENV },
        MF("user", MF_STR, struct conf_worker, user) },
        MF("group", MF_STR, struct conf_worker, group) },
        MF("set_ids", MF_BOOL, struct conf_worker, set_ids) },
        MF("uid", MF_ID, struct conf_worker, uid) },
        MF("gid", MF_ID, struct conf_worker, gid) },
        MF("umask", MF_INT, struct conf_worker, umask), .min = -1, .max = 0777 },
        MF("ready", MF_ENUM, struct conf_worker, ready), MF_NAMES(ready_mode_names) },
        MF("ready_probe", MF_PROBE, struct conf_worker, ready_probe) },
        MF("health", MF_PROBE, struct conf_worker, health) },
        MF("stdout", MF_ENUM, struct conf_worker, out[STREAM_STDOUT]), MF_NAMES(out_mode_names) },
        MF("stderr", MF_ENUM, struct conf_worker, out[STREAM_STDERR]), MF_NAMES(out_mode_names) },
        MF("stdout_path", MF_STR, struct conf_worker, out_path[STREAM_STDOUT]) },
        MF("stderr_path", MF_STR, struct conf_worker, out_path[STREAM_STDERR]) },
        MF("env_file", MF_STRV, struct conf_worker, env_file), .max = CONF_MAX_ENV_FILES },
        MF("instances", MF_UINT, struct conf_worker, instances), .max = CONF_MAX_INSTANCES },
        MF("instance", MF_UINT, struct conf_worker, instance), .max = CONF_MAX_INSTANCES },
        MF("instance_of", MF_STR, struct conf_worker, instance_of) },
};

static const struct mfield probe_model[] = {
        MF("kind", MF_ENUM, struct conf_probe, kind), MF_NAMES(probe_kind_words) },
        MF("target", MF_STR, struct conf_probe, target) },
        MF("line", MF_INT, struct conf_probe, line), .min = 0, .max = INT_MAX },
};

static const struct mfield cleanup_model[] = {
        MF("name", MF_STR, struct conf_cleanup, name) },
        MF("file", MF_STR, struct conf_cleanup, file) },
        MF("line", MF_INT, struct conf_cleanup, line), .min = 0, .max = INT_MAX },
};

/* cleanup, workers and templates are lists, carried by conf_to_json() itself. */
static const struct mfield supervisor_model[] = {
        MF("path", MF_STR, struct conf, path) },
        MF("name", MF_STR, struct conf, name) },
        MF("control_socket", MF_STR, struct conf, control_socket) },
        MF("http_listen", MF_STR, struct conf, http_listen) },
        MF("exit_code_from", MF_STR, struct conf, exit_code_from) },
        MF("include_dir", MF_STR, struct conf, include_dir) },
};

/* A section: its keys and its model fields. */
struct msection {
        const struct key *keys;
        size_t n_keys;
        const struct mfield *model;
        size_t n_model;
};

static const struct msection worker_section = { worker_keys, ELEMENTSOF(worker_keys), worker_model,
                                                ELEMENTSOF(worker_model) };
static const struct msection probe_section = { probe_keys, ELEMENTSOF(probe_keys), probe_model,
                                               ELEMENTSOF(probe_model) };
static const struct msection cleanup_section = { cleanup_keys, ELEMENTSOF(cleanup_keys), cleanup_model,
                                                 ELEMENTSOF(cleanup_model) };
static const struct msection supervisor_section = { supervisor_keys, ELEMENTSOF(supervisor_keys), supervisor_model,
                                                    ELEMENTSOF(supervisor_model) };

/* The model field of a typed key; false for KEY_SKIP and KEY_FN. */
static bool key_mfield(const struct key *k, struct mfield *f)
{
        static const enum mfield_type of_kind[_KEY_KIND_MAX] = {
                [KEY_ARGV] = MF_STRV, [KEY_NAMES] = MF_STRV,    [KEY_ENUM] = MF_ENUM,     [KEY_BOOL] = MF_BOOL,
                [KEY_DURATION] = MF_USEC, [KEY_TIMEOUT] = MF_USEC, [KEY_UINT] = MF_UINT, [KEY_SIGNAL] = MF_SIGNAL,
                [KEY_PATH] = MF_STR,
        };

        if (k->kind == KEY_SKIP || k->kind == KEY_FN)
                return false;
        *f = (struct mfield){ .name = k->name, .type = of_kind[k->kind], .offset = k->offset, .names = k->names,
                              .n_names = k->n_names, .max = k->kind == KEY_UINT ? k->max : CONF_MAX_WORKERS };
        return true;
}

static struct json_object *probe_to_json(const struct conf_probe *p);

static struct json_object *mfield_to_json(const struct mfield *f, const void *obj)
{
        const void *p = (const char *)obj + f->offset;
        int e;

        switch (f->type) {
        case MF_STR:
                return state_str_new(*(char *const *)p);
        case MF_STRV:
                return state_strv_new(*(char **const *)p);
        case MF_BOOL:
                return json_object_new_boolean(*(const bool *)p);
        case MF_INT:
        case MF_SIGNAL:
                return json_object_new_int64(*(const int *)p);
        case MF_UINT:
                return json_object_new_int64(*(const unsigned *)p);
        case MF_ID:
                return json_object_new_int64(*(const uint32_t *)p);
        case MF_USEC:
                return state_usec_new(*(const usec_t *)p);
        case MF_ENUM:
                e = *(const int *)p;
                return e >= 0 && (size_t)e < f->n_names && f->names[e] ? json_object_new_string(f->names[e]) : NULL;
        case MF_PROBE:
                return probe_to_json(p);
        }
        return NULL;
}

static bool mfield_same(const struct mfield *f, const void *a, const void *b);

static bool probe_same_model(const struct conf_probe *a, const struct conf_probe *b)
{
        struct mfield f;

        for (size_t i = 0; i < probe_section.n_keys; i++)
                if (key_mfield(&probe_section.keys[i], &f) && !mfield_same(&f, a, b))
                        return false;
        for (size_t i = 0; i < probe_section.n_model; i++)
                if (!mfield_same(&probe_section.model[i], a, b))
                        return false;
        return true;
}

/* The field holds the same value in a and b. */
static bool mfield_same(const struct mfield *f, const void *a, const void *b)
{
        const void *x = (const char *)a + f->offset, *y = (const char *)b + f->offset;

        switch (f->type) {
        case MF_STR:
                return str_eq(*(char *const *)x, *(char *const *)y);
        case MF_STRV:
                return !*(char **const *)x == !*(char **const *)y && strv_equal(*(char **const *)x, *(char **const *)y);
        case MF_BOOL:
                return *(const bool *)x == *(const bool *)y;
        case MF_USEC:
                return *(const usec_t *)x == *(const usec_t *)y;
        case MF_PROBE:
                return probe_same_model(x, y);
        default: /* int-sized: MF_INT, MF_SIGNAL, MF_UINT, MF_ID, MF_ENUM */
                return *(const int *)x == *(const int *)y;
        }
}

/* Every field of obj, but those equal in def (NULL: none left out). */
static struct json_object *section_to_json(const struct msection *sec, const void *obj, const void *def)
{
        struct json_object *o = json_object_new_object();
        struct mfield f;

        for (size_t i = 0; i < sec->n_keys; i++)
                if (key_mfield(&sec->keys[i], &f) && !(def && mfield_same(&f, obj, def)))
                        state_add(o, f.name, mfield_to_json(&f, obj));
        for (size_t i = 0; i < sec->n_model; i++)
                if (!(def && mfield_same(&sec->model[i], obj, def)))
                        state_add(o, sec->model[i].name, mfield_to_json(&sec->model[i], obj));
        return o;
}

/* What a reader starts a probe group from (probe_from_json()). */
static void probe_defaults(struct conf_probe *p)
{
        *p = (struct conf_probe){ 0 };
        set_defaults(probe_keys, ELEMENTSOF(probe_keys), p);
        p->kind = PROBE_NONE;
}

static struct json_object *probe_to_json(const struct conf_probe *p)
{
        struct conf_probe def;

        probe_defaults(&def);
        return section_to_json(&probe_section, p, &def);
}

static struct json_object *worker_to_json(const struct conf_worker *w, const struct conf *c)
{
        struct conf_worker def;

        worker_defaults(&def, c);
        return section_to_json(&worker_section, w, &def);
}

struct json_object *conf_to_json(const struct conf *c)
{
        struct json_object *o = section_to_json(&supervisor_section, c, NULL), *a;
        struct conf_cleanup def = { 0 };

        set_defaults(cleanup_keys, ELEMENTSOF(cleanup_keys), &def);
        a = json_object_new_array_ext((int)c->n_cleanup);
        for (size_t i = 0; i < c->n_cleanup; i++)
                json_object_array_add(a, section_to_json(&cleanup_section, &c->cleanup[i], &def));
        state_add(o, "cleanup", a);
        a = json_object_new_array_ext((int)c->n_workers);
        for (size_t i = 0; i < c->n_workers; i++)
                json_object_array_add(a, worker_to_json(&c->workers[i], c));
        state_add(o, "workers", a);
        if (c->n_templates) {
                a = json_object_new_array_ext((int)c->n_templates);
                for (size_t i = 0; i < c->n_templates; i++)
                        json_object_array_add(a, worker_to_json(&c->templates[i], c));
                state_add(o, "templates", a);
        }
        return o;
}

/* ---- reading it back ---- */

static bool probe_from_json(struct state_rd *rd, struct json_object *o, const char *key, struct conf_probe *p);

static bool mfield_from_json(struct state_rd *rd, struct json_object *o, const struct mfield *f, void *obj)
{
        void *p = (char *)obj + f->offset;
        int64_t x;

        switch (f->type) {
        case MF_STR:
                return state_get_str(rd, o, f->name, STATE_OPTIONAL, SIZE_MAX, p);
        case MF_STRV:
                return state_get_strv(rd, o, f->name, STATE_OPTIONAL, (size_t)f->max, p);
        case MF_BOOL:
                return state_get_bool(rd, o, f->name, STATE_OPTIONAL, p);
        case MF_INT:
                return state_get_i32(rd, o, f->name, STATE_OPTIONAL, (int)f->min, (int)f->max, p);
        case MF_SIGNAL:
                return state_get_i32(rd, o, f->name, STATE_OPTIONAL, 1, NSIG - 1, p);
        case MF_UINT:
                return state_get_uint(rd, o, f->name, STATE_OPTIONAL, (unsigned)f->max, p);
        case MF_ID:
                if (state_get_int(rd, o, f->name, STATE_OPTIONAL, 0, UINT32_MAX - 1, &x) &&
                    json_object_object_get_ex(o, f->name, NULL))
                        *(uint32_t *)p = (uint32_t)x;
                return !rd->bad;
        case MF_USEC:
                return state_get_usec(rd, o, f->name, STATE_OPTIONAL, p);
        case MF_ENUM:
                return state_get_enum(rd, o, f->name, STATE_OPTIONAL, f->names, f->n_names, p);
        case MF_PROBE:
                return probe_from_json(rd, o, f->name, p);
        }
        return false;
}

static bool section_from_json(struct state_rd *rd, struct json_object *o, const struct msection *sec, void *obj)
{
        struct mfield f;

        for (size_t i = 0; i < sec->n_keys && !rd->bad; i++)
                if (key_mfield(&sec->keys[i], &f))
                        (void)mfield_from_json(rd, o, &f, obj);
        for (size_t i = 0; i < sec->n_model && !rd->bad; i++)
                (void)mfield_from_json(rd, o, &sec->model[i], obj);
        return !rd->bad;
}

static void probe_done(struct conf_probe *p)
{
        free(p->target);
        strv_free(p->argv);
}

static bool probe_from_json(struct state_rd *rd, struct json_object *o, const char *key, struct conf_probe *p)
{
        struct json_object *po = state_get_obj(rd, o, key, STATE_OPTIONAL);

        if (!po)
                return !rd->bad;
        probe_done(p);
        probe_defaults(p);
        return section_from_json(rd, po, &probe_section, p);
}

/* A worker of the list: its name and command are required. */
static bool worker_from_json(struct state_rd *rd, struct json_object *o, const struct conf *c, struct conf_worker *w)
{
        worker_defaults(w, c);
        if (!json_object_is_type(o, json_type_object))
                return state_fail(rd, "workers: not a list of objects");
        if (!section_from_json(rd, o, &worker_section, w))
                return false;
        if (!w->name || !name_is_valid(w->name))
                return state_fail(rd, "a worker without a valid name");
        if (!w->argv || !w->argv[0] || !w->argv[0][0])
                return state_fail(rd, "worker %s: no command", w->name);
        return true;
}

static bool cleanup_from_json(struct state_rd *rd, struct json_object *o, struct conf_cleanup *st)
{
        set_defaults(cleanup_keys, ELEMENTSOF(cleanup_keys), st);
        if (!json_object_is_type(o, json_type_object) || !section_from_json(rd, o, &cleanup_section, st))
                return state_fail(rd, "cleanup: not a list of steps");
        if (!st->name || !st->argv || !st->argv[0])
                return state_fail(rd, "cleanup: a step without a name or a command");
        return true;
}

/* The templates of groups of instances (unique names; a template's
 * instances are among the workers already). */
static bool templates_from_json(struct state_rd *rd, struct json_object *o, struct conf *c)
{
        struct json_object *tl = state_get_arr(rd, o, "templates", STATE_OPTIONAL, CONF_MAX_WORKERS);
        size_t n = tl ? json_object_array_length(tl) : 0;

        c->templates = xcalloc(n ? n : 1, sizeof *c->templates);
        for (size_t i = 0; i < n && !rd->bad; i++) {
                struct conf_worker *t = &c->templates[c->n_templates++];

                if (!worker_from_json(rd, json_object_array_get_idx(tl, i), c, t))
                        break;
                if (t->instance_of || t->instance)
                        return state_fail(rd, "template %s: not a template", t->name);
                for (size_t k = 0; k + 1 < c->n_templates; k++)
                        if (strcmp(c->templates[k].name, t->name) == 0)
                                return state_fail(rd, "template %s: twice", t->name);
        }
        return !rd->bad;
}

/* The lists: cleanup steps, then workers (unique names), then templates. */
static bool lists_from_json(struct state_rd *rd, struct json_object *o, struct conf *c)
{
        struct json_object *cl = state_get_arr(rd, o, "cleanup", STATE_OPTIONAL, CONF_MAX_CLEANUP);
        struct json_object *wl = state_get_arr(rd, o, "workers", STATE_REQUIRED, CONF_MAX_WORKERS);
        struct hmap names = HMAP_INIT_STR;
        size_t n = cl ? json_object_array_length(cl) : 0;

        c->cleanup = xcalloc(n ? n : 1, sizeof *c->cleanup);
        for (size_t i = 0; i < n && !rd->bad; i++)
                (void)cleanup_from_json(rd, json_object_array_get_idx(cl, i), &c->cleanup[c->n_cleanup++]);
        n = wl ? json_object_array_length(wl) : 0;
        c->workers = xcalloc(n ? n : 1, sizeof *c->workers);
        for (size_t i = 0; i < n && !rd->bad; i++) {
                struct conf_worker *w = &c->workers[c->n_workers++];

                if (!worker_from_json(rd, json_object_array_get_idx(wl, i), c, w))
                        break;
                if (hmap_get_str(&names, w->name))
                        state_fail(rd, "worker %s: twice", w->name);
                hmap_put(&names, (uintptr_t)w->name, w);
        }
        hmap_done(&names);
        return !rd->bad && templates_from_json(rd, o, c);
}

struct conf *conf_from_json(struct json_object *o, struct state_rd *rd)
{
        struct conf *c = conf_new("");

        if (!section_from_json(rd, o, &supervisor_section, c) || !lists_from_json(rd, o, c))
                return conf_free(c);
        if (!c->name) /* null in the state */
                c->name = xstrdup("graced");
        return c;
}

/* Whether the KEY_FN key k is carried by a model field of sec. */
static bool fn_key_carried(const struct key *k, const struct msection *sec)
{
        if (sec == &probe_section && probe_kind_of(k->name) != PROBE_NONE)
                return true; /* kind and target */
        for (size_t i = 0; i < sec->n_model; i++)
                if (strcmp(sec->model[i].name, k->name) == 0)
                        return true;
        return strcmp(k->name, "cleanup") == 0 && sec == &supervisor_section;
}

const char *conf_json_missing_key(void)
{
        static const struct msection *const all[] = { &worker_section, &probe_section, &cleanup_section,
                                                      &supervisor_section };

        for (size_t s = 0; s < ELEMENTSOF(all); s++)
                for (size_t i = 0; i < all[s]->n_keys; i++) {
                        const struct key *k = &all[s]->keys[i];

                        if ((k->kind == KEY_FN && !fn_key_carried(k, all[s])) ||
                            (k->kind == KEY_SKIP && !fn_key_carried(k, all[s])))
                                return k->name;
                }
        return NULL;
}
