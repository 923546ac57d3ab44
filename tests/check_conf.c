/* check_conf.c - unit tests of configuration loading and validation.
 * Fixtures are found through $GRACED_TEST_DATA and $GRACED_TEST_CONF only. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "parse.h"

static const char *data_dir(void)
{
        const char *d = getenv("GRACED_TEST_DATA");

        ck_assert_msg(d && d[0] == '/', "GRACED_TEST_DATA must be set to an absolute path");
        return d;
}

static const char *conf_dir(void)
{
        const char *d = getenv("GRACED_TEST_CONF");

        ck_assert_msg(d && d[0] == '/', "GRACED_TEST_CONF must be set to an absolute path");
        return d;
}

static char *data_path(const char *rel) { return xasprintf("%s/%s", data_dir(), rel); }

/* Replaces every "@DATA@" with the data directory. */
static char *expand(const char *tmpl)
{
        const char *d = data_dir(), *p;
        char *out = xstrdup(""), *t;

        while ((p = strstr(tmpl, "@DATA@"))) {
                t = xasprintf("%s%.*s%s", out, (int)(p - tmpl), tmpl, d);
                free(out);
                out = t;
                tmpl = p + 6;
        }
        t = xasprintf("%s%s", out, tmpl);
        free(out);
        return t;
}

static char *joined(const struct conf_diags *d)
{
        char *out = xstrdup("");

        for (size_t i = 0; i < d->n; i++) {
                char *line = conf_diag_format(&d->v[i]), *t = xasprintf("%s%s\n", out, line);
                free(line);
                free(out);
                out = t;
        }
        return out;
}

/* Loads path and checks that the diagnostics are exactly `expected`
 * (lines joined by "\n", with @DATA@ expanded). */
static void expect_diags(const char *path, bool as_root, const char *expected)
{
        struct conf_load_opts opts = { .as_root = as_root };
        struct conf_diags d = { 0 };
        struct conf *c = NULL;
        char *want = expand(expected), *got;
        int r;

        r = conf_load(path, &opts, &c, &d);
        got = joined(&d);
        ck_assert_msg(r == -EINVAL, "%s: conf_load() = %d, expected -EINVAL", path, r);
        ck_assert_ptr_null(c);
        ck_assert_msg(strcmp(got, want) == 0, "%s:\n--- got:\n%s--- expected:\n%s", path, got, want);
        free(got);
        free(want);
        conf_diags_clear(&d);
}

static struct conf *load_ok(const char *path, bool as_root)
{
        struct conf_load_opts opts = { .as_root = as_root };
        struct conf_diags d = { 0 };
        struct conf *c = NULL;
        int r = conf_load(path, &opts, &c, &d);
        char *got = joined(&d);

        ck_assert_msg(r == 0, "%s: conf_load() = %d:\n%s", path, r, got);
        ck_assert_uint_eq(d.n, 0);
        ck_assert_ptr_nonnull(c);
        free(got);
        return c;
}

/* ---- one fixture per rule --------------------------------------------- */

static const struct {
        const char *file; /* under tests/data/bad */
        bool as_root;
        const char *diag; /* exactly one diagnostic, @DATA@ = data dir */
} bad[] = {
#define B "@DATA@/bad/"
        { "syntax.conf", false, B "syntax.conf:3: syntax error" },
        { "libconfig-duplicate.conf", false, B "libconfig-duplicate.conf:5: duplicate setting name" },
        { "unknown-top.conf", false, B "unknown-top.conf:2: unknown setting \"worker\"; did you mean \"workers\"?" },
        { "unknown-supervisor.conf", false,
          B "unknown-supervisor.conf:2: supervisor: unknown setting \"shutdown_timout\"; did you mean \"shutdown_timeout\"?" },
        { "unknown-worker.conf", false,
          B "unknown-worker.conf:5: worker \"web\": unknown setting \"stop_timout\"; did you mean \"stop_timeout\"?" },
        { "unknown-nosuggest.conf", false, B "unknown-nosuggest.conf:5: worker \"web\": unknown setting \"frobnicate\"" },
        { "unknown-cleanup.conf", false,
          B "unknown-cleanup.conf:4: cleanup step \"flush\": unknown setting \"timout\"; did you mean \"timeout\"?" },
        { "supervisor-type.conf", false, B "supervisor-type.conf:1: supervisor must be a group { ... }" },
        { "workers-type.conf", false, B "workers-type.conf:1: workers must be a list ( { ... }, ... )" },
        { "worker-not-group.conf", false, B "worker-not-group.conf:2: worker #1 must be a group { ... }" },
        { "missing-name.conf", false, B "missing-name.conf:2: worker #1: missing name" },
        { "invalid-name.conf", false,
          B "invalid-name.conf:3: worker #1: invalid name \"web server\" (1 to 64 of A-Z a-z 0-9 _ . -)" },
        { "long-name.conf", false,
          B "long-name.conf:3: worker #1: invalid name "
            "\"a234567890123456789012345678901234567890123456789012345678901234x\" (1 to 64 of A-Z a-z 0-9 _ . -)" },
        { "name-type.conf", false, B "name-type.conf:3: worker #1: name must be a string" },
        { "duplicate.conf", false,
          B "duplicate.conf:11: duplicate worker name \"web\" (first defined at @DATA@/bad/duplicate.conf:3)" },
        { "missing-command.conf", false, B "missing-command.conf:3: worker \"web\": missing command" },
        { "empty-command.conf", false,
          B "empty-command.conf:4: worker \"web\": command must be a non-empty list of strings" },
        { "command-string.conf", false,
          B "command-string.conf:4: worker \"web\": command must be a non-empty list of strings" },
        { "command-nonstring.conf", false,
          B "command-nonstring.conf:4: worker \"web\": command must be a non-empty list of strings" },
        { "command-empty-program.conf", false,
          B "command-empty-program.conf:4: worker \"web\": command[0] must not be empty" },
        { "pre-stop-empty.conf", false,
          B "pre-stop-empty.conf:5: worker \"web\": pre_stop must be a non-empty list of strings" },
        { "bad-type.conf", false,
          B "bad-type.conf:5: worker \"web\": invalid type \"daemon\" (expected \"simple\" or \"oneshot\")" },
        { "bad-ready.conf", false, B "bad-ready.conf:5: worker \"web\": invalid ready \"notfy\"; did you mean \"notify\"?" },
        { "bad-restart.conf", false,
          B "bad-restart.conf:5: worker \"web\": invalid restart \"sometimes\" "
            "(expected \"no\", \"on-failure\" or \"always\")" },
        { "bad-kill-mode.conf", false,
          B "bad-kill-mode.conf:5: worker \"web\": invalid kill_mode \"everything\" (expected \"group\" or \"process\")" },
        { "enum-type.conf", false, B "enum-type.conf:5: worker \"web\": restart must be a string" },
        { "bad-stdout.conf", false,
          B "bad-stdout.conf:5: worker \"web\": invalid stdout \"file\" "
            "(expected \"log\", \"inherit\", \"null\" or an absolute path)" },
        { "stdout-relative.conf", false,
          B "stdout-relative.conf:5: worker \"web\": invalid stdout \"logs/web.log\" "
            "(expected \"log\", \"inherit\", \"null\" or an absolute path)" },
        { "stdout-nodir.conf", false,
          B "stdout-nodir.conf:5: worker \"web\": directory of stdout \"/nonexistent-graced-dir/web.log\" does not exist" },
        { "stderr-isdir.conf", false, B "stderr-isdir.conf:5: worker \"web\": stderr \"/\" is a directory" },
        { "duration-malformed.conf", false,
          B "duration-malformed.conf:5: worker \"web\": invalid duration \"10 parsecs\" in stop_timeout" },
        { "duration-negative.conf", false, B "duration-negative.conf:5: worker \"web\": stop_timeout must not be negative" },
        { "duration-negative-string.conf", false,
          B "duration-negative-string.conf:5: worker \"web\": restart_delay must not be negative" },
        { "duration-negative-float.conf", false,
          B "duration-negative-float.conf:2: supervisor: signal_debounce must not be negative" },
        { "duration-type.conf", false,
          B "duration-type.conf:5: worker \"web\": stop_timeout must be a duration (seconds, or a string such as \"10s\")" },
        { "duration-zero.conf", false, B "duration-zero.conf:2: supervisor: shutdown_timeout must be > 0" },
        { "duration-too-large.conf", false,
          B "duration-too-large.conf:5: worker \"web\": stop_timeout must be at most 365d" },
        { "hook-timeout-zero.conf", false, B "hook-timeout-zero.conf:6: worker \"web\": pre_stop_timeout must be > 0" },
        { "max-parallel.conf", false, B "max-parallel.conf:2: supervisor: max_parallel must be >= 1" },
        { "max-parallel-large.conf", false, B "max-parallel-large.conf:2: supervisor: max_parallel must be <= 10000" },
        { "force-after.conf", false, B "force-after.conf:2: supervisor: force_after must be >= 0" },
        { "int-type.conf", false, B "int-type.conf:2: supervisor: max_parallel must be an integer" },
        { "start-limit-burst.conf", false,
          B "start-limit-burst.conf:5: worker \"web\": start_limit_burst must be >= 1" },
        { "signal-unknown.conf", false,
          B "signal-unknown.conf:5: worker \"web\": unknown signal \"SIGFOO\" in stop_signal" },
        { "signal-number.conf", false, B "signal-number.conf:5: worker \"web\": unknown signal 99 in stop_signal" },
        { "signal-type.conf", false,
          B "signal-type.conf:5: worker \"web\": stop_signal must be a signal name or number" },
        { "user-not-root.conf", false,
          B "user-not-root.conf:5: worker \"web\": user can only be set when graced runs as root" },
        { "group-not-root.conf", false,
          B "group-not-root.conf:5: worker \"web\": group can only be set when graced runs as root" },
        { "user-unknown.conf", true, B "user-unknown.conf:5: worker \"web\": unknown user \"nobody2\"" },
        { "group-unknown.conf", true, B "group-unknown.conf:5: worker \"web\": unknown group \"nogroup2\"" },
        { "watchdog.conf", false, B "watchdog.conf:5: worker \"web\": watchdog requires ready = \"notify\"" },
        { "umask-digit.conf", false,
          B "umask-digit.conf:5: worker \"web\": invalid umask (octal digits 0-7, at most 0777, e.g. 0027)" },
        { "umask-string.conf", false,
          B "umask-string.conf:5: worker \"web\": invalid umask \"0099\" (octal digits 0-7, at most 0777)" },
        { "umask-type.conf", false,
          B "umask-type.conf:5: worker \"web\": umask must be an octal number such as 0027 or \"0027\"" },
        { "env-type.conf", false,
          B "env-type.conf:5: worker \"web\": env must be a group of string values { KEY = \"value\"; ... }" },
        { "env-value.conf", false, B "env-value.conf:7: worker \"web\": env.PORT must be a string" },
        { "after-type.conf", false, B "after-type.conf:5: worker \"web\": after must be a list of strings" },
        { "after-unknown.conf", false,
          B "after-unknown.conf:7: worker \"web\": unknown worker \"dbb\" in after; did you mean \"db\"?" },
        { "after-unknown-nosuggest.conf", false,
          B "after-unknown-nosuggest.conf:3: worker \"web\": unknown worker \"network\" in after" },
        { "cycle.conf", false, B "cycle.conf:3: dependency cycle: a -> c -> b -> a" },
        { "self-cycle.conf", false, B "self-cycle.conf:3: dependency cycle: web -> web" },
        { "cwd-relative.conf", false, B "cwd-relative.conf:5: worker \"web\": cwd must be an absolute path" },
        { "bool-type.conf", false, B "bool-type.conf:5: worker \"web\": critical must be true or false" },
        { "oneshot-always.conf", false,
          B "oneshot-always.conf:6: worker \"migrate\": restart = \"always\" is not allowed with type = \"oneshot\"" },
        { "restart-delay-max.conf", false,
          B "restart-delay-max.conf:6: worker \"web\": restart_delay_max must be >= restart_delay" },
        { "report-relative.conf", false,
          B "report-relative.conf:2: supervisor: report_file must be an absolute path" },
        { "control-socket-relative.conf", false,
          B "control-socket-relative.conf:2: supervisor: control_socket must be an absolute path or \"\"" },
        { "control-socket-long.conf", false,
          B "control-socket-long.conf:2: supervisor: control_socket path is longer than 107 bytes" },
        { "supervisor-name.conf", false,
          B "supervisor-name.conf:2: supervisor: invalid name \"my shop\" (1 to 64 of A-Z a-z 0-9 _ . -)" },
        { "string-type.conf", false, B "string-type.conf:2: supervisor: name must be a string" },
        { "include-dir-missing.conf", false,
          B "include-dir-missing.conf:2: supervisor: cannot open include_dir \"@DATA@/bad/no-such-dir.d\": "
            "No such file or directory" },
        { "include-dir-empty.conf", false, B "include-dir-empty.conf:2: supervisor: include_dir must not be empty" },
        { "cleanup-type.conf", false, B "cleanup-type.conf:2: supervisor: cleanup must be a list ( { ... }, ... )" },
        { "cleanup-not-group.conf", false, B "cleanup-not-group.conf:2: cleanup step #1 must be a group { ... }" },
        { "cleanup-missing-command.conf", false,
          B "cleanup-missing-command.conf:3: cleanup step \"flush\": missing command" },
        { "cleanup-duplicate.conf", false,
          B "cleanup-duplicate.conf:4: duplicate cleanup step name \"flush\" "
            "(first defined at @DATA@/bad/cleanup-duplicate.conf:3)" },
        { "cleanup-name.conf", false,
          B "cleanup-name.conf:3: cleanup step #1: invalid name \"flush queue\" (1 to 64 of A-Z a-z 0-9 _ . -)" },
        { "cleanup-timeout-zero.conf", false,
          B "cleanup-timeout-zero.conf:3: cleanup step \"flush\": timeout must be > 0" },
        /* an @include'd file is named by its own path */
        { "bad-include.conf", false,
          B "fragments/bad-worker.inc:5: worker \"web\": unknown signal \"SIGNOPE\" in stop_signal" },
#undef B
};

START_TEST(test_bad_fixture)
{
        char *path = data_path("bad/");
        char *full = xasprintf("%s%s", path, bad[_i].file), *want = xasprintf("%s\n", bad[_i].diag);

        expect_diags(full, bad[_i].as_root, want);
        free(want);
        free(full);
        free(path);
}
END_TEST

START_TEST(test_many_errors)
{
        char *path = data_path("bad/many-errors.conf");

        expect_diags(path, false,
                     "@DATA@/bad/many-errors.conf:3: supervisor: max_parallel must be >= 1\n"
                     "@DATA@/bad/many-errors.conf:4: supervisor: unknown setting \"shutdown_timout\"; did you mean \"shutdown_timeout\"?\n"
                     "@DATA@/bad/many-errors.conf:10: worker \"web\": command must be a non-empty list of strings\n"
                     "@DATA@/bad/many-errors.conf:11: worker \"web\": unknown signal \"SIGFOO\" in stop_signal\n"
                     "@DATA@/bad/many-errors.conf:12: worker \"web\": invalid duration \"10 parsecs\" in stop_timeout\n"
                     "@DATA@/bad/many-errors.conf:15: duplicate worker name \"web\" (first defined at @DATA@/bad/many-errors.conf:9)\n"
                     "@DATA@/bad/many-errors.conf:18: worker \"web\": watchdog requires ready = \"notify\"\n"
                     "@DATA@/bad/many-errors.conf:21: worker #3: invalid name \"bad name!\" (1 to 64 of A-Z a-z 0-9 _ . -)\n"
                     "@DATA@/bad/many-errors.conf:21: worker #3: missing command\n");
        free(path);
}
END_TEST

START_TEST(test_sorted)
{
        char *path = data_path("bad/sorted.conf");

        expect_diags(path, false,
                     "@DATA@/bad/sorted.conf:4: dependency cycle: a -> b -> a\n"
                     "@DATA@/bad/sorted.conf:7: worker \"c\": missing command\n"
                     "@DATA@/bad/sorted.conf:8: worker \"c\": unknown signal \"NOPE\" in stop_signal\n"
                     "@DATA@/bad/sorted.conf:12: supervisor: max_parallel must be >= 1\n");
        free(path);
}
END_TEST

START_TEST(test_unreadable)
{
        char *missing = data_path("bad/does-not-exist.conf");
        char *want = xasprintf("%s: %s\n", missing, strerror(ENOENT));
        char *dir = data_path("bad");
        char *want_dir = xasprintf("%s: %s\n", dir, strerror(EISDIR));

        expect_diags(missing, false, want);
        expect_diags(dir, false, want_dir);
        free(missing);
        free(want);
        free(dir);
        free(want_dir);
}
END_TEST

/* ---- temporary files ------------------------------------------------------ */

static char tmpdir[64];

static void tmp_setup(void)
{
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_conf.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmp_teardown(void)
{
        char *cmd = xasprintf("rm -rf '%s'", tmpdir);
        ck_assert_int_eq(system(cmd), 0);
        free(cmd);
}

_printf_(3, 4) static char *write_tmp(const char *name, mode_t mode, const char *fmt, ...)
{
        char *path = xasprintf("%s/%s", tmpdir, name);
        va_list ap;
        FILE *f = fopen(path, "w");

        ck_assert_ptr_nonnull(f);
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(chmod(path, mode), 0);
        return path;
}

START_TEST(test_world_writable)
{
        char *path, *want, *sub;
        struct conf *c;

        path = write_tmp("main.conf", 0666, "workers = ( { name = \"a\"; command = [\"/bin/true\"]; } );\n");
        want = xasprintf("%s: world-writable file refused when running as root\n", path);
        expect_diags(path, true, want);
        /* not root: a user's own business */
        c = load_ok(path, false);
        conf_free(c);
        free(want);
        free(path);

        /* an include_dir file is checked too */
        sub = xasprintf("%s/d", tmpdir);
        ck_assert_int_eq(mkdir(sub, 0755), 0);
        path = write_tmp("main2.conf", 0644, "supervisor = { include_dir = \"d\"; };\n");
        free(write_tmp("d/10-ok.conf", 0644, "workers = ();\n"));
        free(write_tmp("d/20-open.conf", 0646, "workers = ();\n"));
        want = xasprintf("%s/d/20-open.conf: world-writable file refused when running as root\n", tmpdir);
        expect_diags(path, true, want);
        free(want);
        free(path);
        free(sub);
}
END_TEST

START_TEST(test_limits)
{
        char *argv = xstrdup(""), *path, *want, *t;

        for (int i = 0; i <= CONF_MAX_ARGV; i++) {
                t = xasprintf("%s, \"a%d\"", argv, i);
                free(argv);
                argv = t;
        }
        path = write_tmp("argv.conf", 0644, "workers = (\n  { name = \"big\";\n    command = [\"/bin/echo\"%s]; }\n);\n",
                         argv);
        want = xasprintf("%s:3: worker \"big\": command has more than %d elements\n", path, CONF_MAX_ARGV);
        expect_diags(path, false, want);
        free(want);
        free(path);
        free(argv);
}
END_TEST

START_TEST(test_too_many_workers)
{
        char *path = xasprintf("%s/many.conf", tmpdir), *want;
        FILE *f = fopen(path, "w");

        ck_assert_ptr_nonnull(f);
        fprintf(f, "workers = (\n");
        for (int i = 0; i <= CONF_MAX_WORKERS; i++)
                fprintf(f, "  { name = \"w%d\"; command = [\"/bin/true\"]; }%s\n", i, i < CONF_MAX_WORKERS ? "," : "");
        fprintf(f, ");\n");
        ck_assert_int_eq(fclose(f), 0);
        want = xasprintf("%s:%d: more than %d workers\n", path, CONF_MAX_WORKERS + 2, CONF_MAX_WORKERS);
        expect_diags(path, false, want);
        free(want);
        free(path);
}
END_TEST

/* ---- good configurations --------------------------------------------------- */

START_TEST(test_defaults)
{
        char *path = data_path("good/empty.conf");
        struct conf *c = load_ok(path, false);

        ck_assert_str_eq(c->path, path);
        ck_assert_str_eq(c->name, "graced");
        ck_assert_uint_eq(c->shutdown_timeout, 90 * USEC_PER_SEC);
        ck_assert_uint_eq(c->signal_debounce, 500 * USEC_PER_MSEC);
        ck_assert_uint_eq(c->force_after, 2);
        ck_assert_uint_eq(c->max_parallel, 16);
        ck_assert_uint_eq(c->ready_timeout, 60 * USEC_PER_SEC);
        ck_assert_ptr_null(c->report_file);
        ck_assert_ptr_null(c->control_socket);
        ck_assert_ptr_null(c->include_dir);
        ck_assert_uint_eq(c->n_cleanup, 0);
        ck_assert_uint_eq(c->n_workers, 0);
        conf_free(c);
        free(path);

        path = data_path("good/no-workers.conf");
        c = load_ok(path, false);
        ck_assert_str_eq(c->name, "idle");
        ck_assert_uint_eq(c->n_workers, 0);
        conf_free(c);
        free(path);

        path = data_path("good/empty-array.conf");
        c = load_ok(path, false);
        ck_assert_uint_eq(c->n_workers, 0);
        conf_free(c);
        free(path);
}
END_TEST

START_TEST(test_full)
{
        char *path = data_path("good/full.conf");
        struct conf *c = load_ok(path, false);
        const struct conf_worker *w;

        ck_assert_str_eq(c->name, "shop");
        ck_assert_uint_eq(c->shutdown_timeout, 90 * USEC_PER_SEC);
        ck_assert_uint_eq(c->signal_debounce, 250 * USEC_PER_MSEC);
        ck_assert_uint_eq(c->force_after, 3);
        ck_assert_uint_eq(c->max_parallel, 4);
        ck_assert_uint_eq(c->ready_timeout, 45 * USEC_PER_SEC);
        ck_assert_str_eq(c->report_file, "/run/graced/last-shutdown.json");
        ck_assert_str_eq(c->control_socket, "");
        ck_assert_uint_eq(c->n_cleanup, 2);
        ck_assert_str_eq(c->cleanup[0].name, "flush-queue");
        ck_assert_str_eq(c->cleanup[0].argv[0], "/usr/bin/flush");
        ck_assert_str_eq(c->cleanup[0].argv[1], "--all");
        ck_assert_ptr_null(c->cleanup[0].argv[2]);
        ck_assert_uint_eq(c->cleanup[0].timeout, 5 * USEC_PER_SEC);
        ck_assert(c->cleanup[0].shielded);
        ck_assert_str_eq(c->cleanup[0].file, path);
        ck_assert_int_eq(c->cleanup[0].line, 12);
        ck_assert_str_eq(c->cleanup[1].name, "notify");
        ck_assert_uint_eq(c->cleanup[1].timeout, DEFAULT_CLEANUP_TIMEOUT);
        ck_assert(!c->cleanup[1].shielded);

        ck_assert_uint_eq(c->n_workers, 3);
        w = &c->workers[0];
        ck_assert_str_eq(w->name, "db");
        ck_assert_str_eq(w->file, path);
        ck_assert_int_eq(w->line, 19);
        ck_assert_uint_eq(strv_length(w->argv), 3);
        ck_assert_str_eq(w->argv[2], "/var/lib/pg");
        ck_assert_int_eq(w->type, WORKER_TYPE_SIMPLE);
        ck_assert_uint_eq(strv_length(w->env), 2);
        ck_assert_str_eq(w->env[0], "PGPORT=5432");
        ck_assert_str_eq(w->env[1], "PGDATA=/var/lib/pg");
        ck_assert(w->env_clear);
        ck_assert_str_eq(w->cwd, "/var/lib/pg");
        ck_assert_ptr_null(w->user);
        ck_assert(!w->set_ids);
        ck_assert_int_eq(w->umask, 027);
        ck_assert_ptr_null(w->after);
        ck_assert_int_eq(w->ready, READY_NOTIFY);
        ck_assert_uint_eq(w->ready_timeout, 30 * USEC_PER_SEC);
        ck_assert_uint_eq(w->watchdog, 10500 * USEC_PER_MSEC);
        ck_assert_int_eq(w->stop_signal, SIGINT);
        ck_assert_uint_eq(w->stop_timeout, 1500 * USEC_PER_MSEC);
        ck_assert_int_eq(w->kill_mode, KILL_PROCESS);
        ck_assert_str_eq(w->pre_stop[1], "checkpoint");
        ck_assert_uint_eq(w->pre_stop_timeout, 5 * USEC_PER_SEC);
        ck_assert_str_eq(w->post_stop[0], "/bin/rm");
        ck_assert_uint_eq(w->post_stop_timeout, 2 * USEC_PER_SEC);
        ck_assert_int_eq(w->restart, RESTART_ALWAYS);
        ck_assert_uint_eq(w->restart_delay, 200 * USEC_PER_MSEC);
        ck_assert_uint_eq(w->restart_delay_max, 60 * USEC_PER_SEC);
        ck_assert_uint_eq(w->start_limit_burst, 7);
        ck_assert_uint_eq(w->start_limit_interval, 120 * USEC_PER_SEC);
        ck_assert(w->critical);
        ck_assert_int_eq(w->out[STREAM_STDOUT], OUT_NULL);
        ck_assert_ptr_null(w->out_path[STREAM_STDOUT]);
        ck_assert_int_eq(w->out[STREAM_STDERR], OUT_FILE);
        ck_assert_str_eq(w->out_path[STREAM_STDERR], "/tmp/graced-db.err");

        w = &c->workers[1];
        ck_assert_str_eq(w->name, "migrate");
        ck_assert_str_eq(w->argv[0], "migrate");
        ck_assert_int_eq(w->type, WORKER_TYPE_ONESHOT);
        ck_assert_uint_eq(strv_length(w->after), 1);
        ck_assert_str_eq(w->after[0], "db");
        ck_assert_int_eq(w->umask, 077);
        ck_assert_int_eq(w->stop_signal, SIGHUP);
        ck_assert_int_eq(w->restart, RESTART_NO);
        ck_assert_int_eq(w->out[STREAM_STDOUT], OUT_INHERIT);
        ck_assert_int_eq(w->out[STREAM_STDERR], OUT_LOG);
        /* the supervisor's ready_timeout is the workers' default */
        ck_assert_uint_eq(w->ready_timeout, 45 * USEC_PER_SEC);

        w = &c->workers[2];
        ck_assert_str_eq(w->name, "web");
        ck_assert_str_eq(w->after[0], "migrate");
        ck_assert_str_eq(w->after[1], "db");
        ck_assert_ptr_null(w->after[2]);
        /* worker defaults */
        ck_assert_int_eq(w->type, WORKER_TYPE_SIMPLE);
        ck_assert_ptr_null(w->env);
        ck_assert(!w->env_clear);
        ck_assert_ptr_null(w->cwd);
        ck_assert_int_eq(w->umask, -1);
        ck_assert_int_eq(w->ready, READY_EXEC);
        ck_assert_uint_eq(w->watchdog, 0);
        ck_assert_int_eq(w->stop_signal, SIGTERM);
        ck_assert_uint_eq(w->stop_timeout, DEFAULT_STOP_TIMEOUT);
        ck_assert_int_eq(w->kill_mode, KILL_GROUP);
        ck_assert_ptr_null(w->pre_stop);
        ck_assert_ptr_null(w->post_stop);
        ck_assert_uint_eq(w->pre_stop_timeout, DEFAULT_HOOK_TIMEOUT);
        ck_assert_uint_eq(w->post_stop_timeout, DEFAULT_HOOK_TIMEOUT);
        ck_assert_int_eq(w->restart, RESTART_ON_FAILURE);
        ck_assert_uint_eq(w->restart_delay, DEFAULT_RESTART_DELAY);
        ck_assert_uint_eq(w->restart_delay_max, DEFAULT_RESTART_DELAY_MAX);
        ck_assert_uint_eq(w->start_limit_burst, DEFAULT_START_LIMIT_BURST);
        ck_assert_uint_eq(w->start_limit_interval, DEFAULT_START_LIMIT_INTERVAL);
        ck_assert(!w->critical);
        ck_assert_int_eq(w->out[STREAM_STDOUT], OUT_LOG);
        ck_assert_int_eq(w->out[STREAM_STDERR], OUT_LOG);

        ck_assert_ptr_eq(conf_find_worker(c, "web"), &c->workers[2]);
        ck_assert_ptr_eq(conf_find_worker(c, "db"), &c->workers[0]);
        ck_assert_ptr_null(conf_find_worker(c, "nope"));
        ck_assert_ptr_null(conf_find_worker(c, NULL));
        conf_free(c);
        free(path);
}
END_TEST

START_TEST(test_restart_delay_alone)
{
        char *path = data_path("good/restart-delay.conf");
        struct conf *c = load_ok(path, false);

        ck_assert_uint_eq(c->workers[0].restart_delay, 60 * USEC_PER_SEC);
        ck_assert_uint_eq(c->workers[0].restart_delay_max, 60 * USEC_PER_SEC);
        conf_free(c);
        /* without ret: only checks */
        ck_assert_int_eq(conf_load(path, NULL, NULL, NULL), 0);
        free(path);
}
END_TEST

START_TEST(test_user_group)
{
        char *path = data_path("good/user-group.conf");
        struct conf *c = load_ok(path, true);

        ck_assert_uint_eq(c->n_workers, 3);
        for (size_t i = 0; i < 3; i++) {
                ck_assert(c->workers[i].set_ids);
                ck_assert_uint_eq(c->workers[i].gid, 0);
        }
        ck_assert_str_eq(c->workers[0].user, "root");
        ck_assert_ptr_null(c->workers[0].group);
        ck_assert_uint_eq(c->workers[0].uid, 0);
        ck_assert_ptr_null(c->workers[1].user);
        ck_assert_str_eq(c->workers[1].group, "root");
        ck_assert_uint_eq(c->workers[1].uid, getuid());
        ck_assert_str_eq(c->workers[2].user, "root");
        ck_assert_str_eq(c->workers[2].group, "root");
        conf_free(c);
        free(path);
}
END_TEST

START_TEST(test_at_include)
{
        char *path = data_path("good/with-include.conf");
        char *frag = data_path("good/fragments/web.inc");
        struct conf *c;

        /* resolved next to the main file, not the cwd */
        ck_assert_int_eq(chdir("/"), 0);
        c = load_ok(path, false);
        ck_assert_uint_eq(c->n_workers, 1);
        ck_assert_str_eq(c->workers[0].name, "web");
        ck_assert_str_eq(c->workers[0].file, frag);
        ck_assert_int_eq(c->workers[0].line, 2);
        conf_free(c);
        free(path);
        free(frag);
}
END_TEST

START_TEST(test_example_graced_conf)
{
        char *path = xasprintf("%s/graced.conf", conf_dir());
        struct conf *c = load_ok(path, false);
        static const char *const settings[] = {
                "name",         "shutdown_timeout", "signal_debounce", "force_after", "max_parallel",
                "ready_timeout", "report_file",     "control_socket",  "include_dir", "cleanup",
                "command",      "type",             "env",             "env_clear",   "cwd",
                "user",         "group",            "umask",           "after",       "ready",
                "watchdog",     "stop_signal",      "stop_timeout",    "kill_mode",   "pre_stop",
                "pre_stop_timeout", "post_stop",    "post_stop_timeout", "restart",   "restart_delay",
                "restart_delay_max", "start_limit_burst", "start_limit_interval", "critical", "stdout",
                "stderr",       "timeout",          "shielded",
        };
        char buf[65536];
        FILE *f;
        size_t n;

        ck_assert_str_eq(c->name, "shop");
        ck_assert_uint_ge(c->n_workers, 3);
        ck_assert_uint_ge(c->n_cleanup, 1);
        conf_free(c);
        /* the example mentions every setting (some commented out) */
        f = fopen(path, "r");
        ck_assert_ptr_nonnull(f);
        n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = 0;
        fclose(f);
        for (size_t i = 0; i < ELEMENTSOF(settings); i++) {
                char *pat = xasprintf("%s = ", settings[i]);
                ck_assert_msg(strstr(buf, pat), "graced.conf lacks %s", settings[i]);
                free(pat);
        }
        free(path);
}
END_TEST

START_TEST(test_example_dev_conf)
{
        char *path = xasprintf("%s/dev.conf", conf_dir());
        struct conf *c;
        bool oneshot = false, hooks = false, deps = false;

        ck_assert_int_eq(chdir("/"), 0); /* must not depend on the cwd */
        c = load_ok(path, false);
        ck_assert_str_eq(c->report_file, "/tmp/graced-dev-report.json");
        ck_assert_ptr_null(c->control_socket);
        ck_assert_uint_le(c->shutdown_timeout, 30 * USEC_PER_SEC);
        ck_assert_uint_ge(c->n_workers, 3);
        ck_assert_uint_ge(c->n_cleanup, 1);
        for (size_t i = 0; i < c->n_workers; i++) {
                const struct conf_worker *w = &c->workers[i];
                oneshot = oneshot || w->type == WORKER_TYPE_ONESHOT;
                hooks = hooks || (w->pre_stop && w->post_stop);
                deps = deps || w->after;
                ck_assert_msg(w->argv[0][0] == '/', "%s: command[0] should be absolute", w->name);
        }
        ck_assert(oneshot && hooks && deps);
        conf_free(c);
        free(path);
}
END_TEST

/* ---- include_dir ------------------------------------------------------------------ */

START_TEST(test_include_good)
{
        char *path = data_path("include-good/main.conf");
        char *dir = data_path("include-good/conf.d");
        char *web = data_path("include-good/conf.d/10-web.conf");
        static const char *const order[] = { "base", "web", "web-2", "jobs" };
        struct conf *c = load_ok(path, false);

        ck_assert_str_eq(c->include_dir, dir);
        ck_assert_uint_eq(c->n_workers, ELEMENTSOF(order));
        for (size_t i = 0; i < ELEMENTSOF(order); i++)
                ck_assert_str_eq(c->workers[i].name, order[i]);
        ck_assert_str_eq(c->workers[0].file, path);
        ck_assert_str_eq(c->workers[1].file, web);
        ck_assert_int_eq(c->workers[1].line, 2);
        ck_assert_int_eq(c->workers[2].line, 3);
        conf_free(c);
        free(path);
        free(dir);
        free(web);
}
END_TEST

START_TEST(test_include_bad)
{
        char *path = data_path("include-bad/main.conf");

        expect_diags(path, false,
                     "@DATA@/include-bad/conf.d/10-dup.conf:4: duplicate worker name \"web\" (first defined at @DATA@/include-bad/main.conf:6)\n"
                     "@DATA@/include-bad/conf.d/20-supervisor.conf:2: supervisor can only be set in the main configuration file\n"
                     "@DATA@/include-bad/conf.d/20-supervisor.conf:3: worker \"jobs\": unknown setting \"stop_timout\"; did you mean \"stop_timeout\"?\n"
                     "@DATA@/include-bad/conf.d/30-syntax.conf:2: syntax error\n"
                     "@DATA@/include-bad/conf.d/40-unknown.conf:1: unknown setting \"worker\"; did you mean \"workers\"?\n");
        free(path);
}
END_TEST

START_TEST(test_include_cycle)
{
        char *path = data_path("include-cycle/main.conf");

        expect_diags(path, false, "@DATA@/include-cycle/main.conf:3: dependency cycle: db -> web -> db\n");
        free(path);
}
END_TEST

/* ---- API ------------------------------------------------------------------------ */

START_TEST(test_diag_format)
{
        struct conf_diag d1 = { .file = (char *)"a.conf", .line = 3, .msg = (char *)"boom" };
        struct conf_diag d2 = { .file = (char *)"a.conf", .line = 0, .msg = (char *)"boom" };
        struct conf_diag d3 = { .file = NULL, .line = 0, .msg = (char *)"boom" };
        char *s;

        s = conf_diag_format(&d1);
        ck_assert_str_eq(s, "a.conf:3: boom");
        free(s);
        s = conf_diag_format(&d2);
        ck_assert_str_eq(s, "a.conf: boom");
        free(s);
        s = conf_diag_format(&d3);
        ck_assert_str_eq(s, "boom");
        free(s);
}
END_TEST

START_TEST(test_diags_append)
{
        char *p1 = data_path("bad/max-parallel.conf"), *p2 = data_path("bad/watchdog.conf");
        struct conf_diags d = { 0 };
        struct conf *c = NULL;

        /* conf_load appends: earlier diagnostics stay first */
        ck_assert_int_eq(conf_load(p2, NULL, &c, &d), -EINVAL);
        ck_assert_int_eq(conf_load(p1, NULL, &c, &d), -EINVAL);
        ck_assert_ptr_null(c);
        ck_assert_uint_eq(d.n, 2);
        ck_assert_str_eq(d.v[0].file, p2);
        ck_assert_str_eq(d.v[1].file, p1);
        conf_diags_clear(&d);
        ck_assert_uint_eq(d.n, 0);
        ck_assert_ptr_null(d.v);
        conf_diags_clear(&d);
        /* no diags wanted: still fails, still no leak */
        ck_assert_int_eq(conf_load(p1, NULL, &c, NULL), -EINVAL);
        ck_assert_ptr_null(conf_free(NULL));
        free(p1);
        free(p2);
}
END_TEST

START_TEST(test_worker_copy_same)
{
        char *path = data_path("good/full.conf");
        struct conf *c = load_ok(path, false);
        struct conf_worker a, b;

        for (size_t i = 0; i < c->n_workers; i++) {
                conf_worker_copy(&a, &c->workers[i]);
                ck_assert(a.name != c->workers[i].name);
                ck_assert_str_eq(a.name, c->workers[i].name);
                ck_assert(conf_worker_same_process(&a, &c->workers[i]));
                conf_worker_done(&a);
                ck_assert_ptr_null(a.name);
        }
        ck_assert(!conf_worker_same_process(&c->workers[0], &c->workers[1]));

        conf_worker_copy(&a, &c->workers[0]);
        /* what does not affect the process: still the same */
        a.stop_timeout += 1;
        a.restart = RESTART_NO;
        a.critical = !a.critical;
        strv_free(a.after);
        a.after = NULL;
        ck_assert(conf_worker_same_process(&a, &c->workers[0]));

        /* what does: different */
        conf_worker_copy(&b, &a);
        free(b.env[0]);
        b.env[0] = xstrdup("PGPORT=5433");
        ck_assert(!conf_worker_same_process(&a, &b));
        conf_worker_done(&b);
        conf_worker_copy(&b, &a);
        b.umask = 022;
        ck_assert(!conf_worker_same_process(&a, &b));
        conf_worker_done(&b);
        conf_worker_copy(&b, &a);
        free(b.out_path[STREAM_STDERR]);
        b.out_path[STREAM_STDERR] = xstrdup("/tmp/other.err");
        ck_assert(!conf_worker_same_process(&a, &b));
        conf_worker_done(&b);
        conf_worker_copy(&b, &a);
        free(b.cwd);
        b.cwd = NULL;
        ck_assert(!conf_worker_same_process(&a, &b));
        conf_worker_done(&b);
        conf_worker_copy(&b, &a);
        b.argv[1][0] = 'X';
        ck_assert(!conf_worker_same_process(&a, &b));
        conf_worker_done(&b);
        conf_worker_copy(&b, &a);
        b.ready = READY_EXEC;
        ck_assert(!conf_worker_same_process(&a, &b));
        conf_worker_done(&b);

        conf_worker_done(&a);
        conf_free(c);
        free(path);
}
END_TEST

static Suite *conf_suite(void)
{
        Suite *s = suite_create("conf");
        TCase *tc = tcase_create("rules");
        TCase *tmp = tcase_create("tmpfiles");
        TCase *good = tcase_create("good");
        TCase *api = tcase_create("api");

        tcase_add_loop_test(tc, test_bad_fixture, 0, ELEMENTSOF(bad));
        tcase_add_test(tc, test_many_errors);
        tcase_add_test(tc, test_sorted);
        tcase_add_test(tc, test_unreadable);
        tcase_add_test(tc, test_include_bad);
        tcase_add_test(tc, test_include_cycle);
        suite_add_tcase(s, tc);

        tcase_add_checked_fixture(tmp, tmp_setup, tmp_teardown);
        tcase_add_test(tmp, test_world_writable);
        tcase_add_test(tmp, test_limits);
        tcase_add_test(tmp, test_too_many_workers);
        suite_add_tcase(s, tmp);

        tcase_add_test(good, test_defaults);
        tcase_add_test(good, test_full);
        tcase_add_test(good, test_user_group);
        tcase_add_test(good, test_restart_delay_alone);
        tcase_add_test(good, test_at_include);
        tcase_add_test(good, test_example_graced_conf);
        tcase_add_test(good, test_example_dev_conf);
        tcase_add_test(good, test_include_good);
        suite_add_tcase(s, good);

        tcase_add_test(api, test_diag_format);
        tcase_add_test(api, test_diags_append);
        tcase_add_test(api, test_worker_copy_same);
        suite_add_tcase(s, api);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(conf_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
