/* check_conf.c - unit tests of configuration loading and validation.
 * Fixtures are found through $GRACED_TEST_DATA and $GRACED_TEST_CONF only. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "parse.h"
#include "plan.h"

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

/* Loads path as graced does (plan_load(): the settings, then the
 * dependencies between workers) and checks that the diagnostics are
 * exactly `expected` (lines joined by "\n", with @DATA@ expanded). */
static void expect_diags(const char *path, bool as_root, const char *expected)
{
        struct conf_load_opts opts = { .as_root = as_root };
        struct conf_diags d = { 0 };
        struct conf *c = NULL;
        char *want = expand(expected), *got;
        int r;

        r = plan_load(path, &opts, &c, NULL, &d);
        got = joined(&d);
        ck_assert_msg(r == -EINVAL, "%s: plan_load() = %d, expected -EINVAL", path, r);
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
        int r = plan_load(path, &opts, &c, NULL, &d);
        char *got = joined(&d);

        ck_assert_msg(r == 0, "%s: plan_load() = %d:\n%s", path, r, got);
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
        { "log-buffer-large.conf", false, B "log-buffer-large.conf:2: supervisor: log_buffer must be <= 100000" },
        { "log-buffer-negative.conf", false, B "log-buffer-negative.conf:2: supervisor: log_buffer must be >= 0" },
        { "log-buffer-type.conf", false, B "log-buffer-type.conf:2: supervisor: log_buffer must be an integer" },
        { "log-buffer-typo.conf", false,
          B "log-buffer-typo.conf:2: supervisor: unknown setting \"log_bufer\"; did you mean \"log_buffer\"?" },
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
        { "http-listen-syntax.conf", false,
          B "http-listen-syntax.conf:2: supervisor: invalid http_listen address \"9321\": expected HOST:PORT" },
        { "http-listen-host.conf", false,
          B "http-listen-host.conf:2: supervisor: invalid http_listen address \"metrics.example.com:9321\": "
            "the host must be a numeric address or localhost" },
        { "http-listen-port.conf", false,
          B "http-listen-port.conf:2: supervisor: invalid http_listen address \"127.0.0.1:0\": bad port (1-65535)" },
        { "http-listen-ipv6.conf", false,
          B "http-listen-ipv6.conf:2: supervisor: invalid http_listen address \"[::1]9321\": expected HOST:PORT" },
        { "http-listen-type.conf", false, B "http-listen-type.conf:2: supervisor: http_listen must be a string" },
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
        /* every @include'd name must be a regular file that can be read; a
         * directory made libconfig 1.5 exit(2) */
        { "include-dot.conf", false, B "include-dot.conf:2: @include \".\": Is a directory" },
        { "include-empty.conf", false, B "include-empty.conf:3: @include \"\": Is a directory" },
        { "include-dir.conf", false, B "include-dir.conf:2: @include \"fragments\": Is a directory" },
        { "include-nested.conf", false, B "fragments/includes-dir.inc:2: @include \".\": Is a directory" },
        { "include-missing.conf", false,
          B "include-missing.conf:1: @include \"fragments/no-such.inc\": No such file or directory" },
        { "include-absolute.conf", false,
          B "include-absolute.conf:2: @include \"/dev/null\": must be a name relative to @DATA@/bad" },
        { "include-cycle.conf", false,
          B "fragments/cycle-b.inc:1: @include \"fragments/cycle-a.inc\": include cycle: "
            "@DATA@/bad/fragments/cycle-a.inc -> @DATA@/bad/fragments/cycle-b.inc -> @DATA@/bad/fragments/cycle-a.inc" },
        { "include-deep.conf", false,
          B "fragments/deep/10.inc:1: @include \"fragments/deep/11.inc\": include file nesting too deep (more than 10 levels)" },
        /* readiness and health probes, part_of */
        { "probe-unknown.conf", false,
          B "probe-unknown.conf:5: worker \"db\": ready: unknown setting \"intervall\"; did you mean \"interval\"?" },
        { "probe-two-kinds.conf", false,
          B "probe-two-kinds.conf:5: worker \"db\": ready: tcp and http cannot be in one probe group" },
        { "probe-no-kind.conf", false,
          B "probe-no-kind.conf:5: worker \"db\": ready: missing probe (one of tcp, unix, http, exec, log)" },
        { "health-no-kind.conf", false,
          B "health-no-kind.conf:5: worker \"db\": health: missing probe (one of tcp, unix, http, exec)" },
        { "probe-tcp-host.conf", false,
          B "probe-tcp-host.conf:5: worker \"db\": ready: invalid tcp address \"db.internal:5432\": "
            "the host must be a numeric address or localhost" },
        { "probe-tcp-port.conf", false,
          B "probe-tcp-port.conf:5: worker \"db\": health: invalid tcp address \"127.0.0.1:65536\": bad port (1-65535)" },
        { "probe-tcp-syntax.conf", false,
          B "probe-tcp-syntax.conf:5: worker \"db\": ready: invalid tcp address \"::1:5432\": expected HOST:PORT" },
        { "probe-tcp-type.conf", false, B "probe-tcp-type.conf:5: worker \"db\": ready: tcp must be a string" },
        { "probe-http-scheme.conf", false,
          B "probe-http-scheme.conf:5: worker \"db\": health: invalid http URL \"ftp://127.0.0.1/\": "
            "expected http:// or https://" },
        { "probe-http-host.conf", false,
          B "probe-http-host.conf:5: worker \"db\": ready: invalid http URL \"http://example.com/healthz\": "
            "the host must be a numeric address or localhost" },
        { "probe-unix-relative.conf", false,
          B "probe-unix-relative.conf:5: worker \"db\": ready: unix must be an absolute path" },
        { "probe-unix-long.conf", false,
          B "probe-unix-long.conf:5: worker \"db\": ready: unix path is longer than 107 bytes" },
        { "probe-exec-empty.conf", false,
          B "probe-exec-empty.conf:5: worker \"db\": ready: exec must be a non-empty list of strings" },
        { "probe-exec-program.conf", false,
          B "probe-exec-program.conf:5: worker \"db\": health: exec[0] must not be empty" },
        { "probe-log-regex.conf", false,
          B "probe-log-regex.conf:5: worker \"db\": ready: invalid log regular expression \"ready (to accept\": "
            "Unmatched ( or \\(" },
        { "probe-log-empty.conf", false, B "probe-log-empty.conf:5: worker \"db\": ready: log must not be empty" },
        { "probe-log-captured.conf", false,
          B "probe-log-captured.conf:7: worker \"db\": ready: log requires stdout = \"log\" or stderr = \"log\"" },
        { "probe-log-interval.conf", false,
          B "probe-log-interval.conf:5: worker \"db\": ready: interval is not allowed with log" },
        { "probe-log-timeout.conf", false,
          B "probe-log-timeout.conf:5: worker \"db\": ready: timeout is not allowed with log" },
        { "health-log.conf", false,
          B "health-log.conf:5: worker \"db\": health: log is not allowed in health (only in ready)" },
        { "health-failures.conf", false, B "health-failures.conf:5: worker \"db\": health: failures must be >= 1" },
        { "health-failures-type.conf", false,
          B "health-failures-type.conf:5: worker \"db\": health: failures must be an integer" },
        { "ready-failures.conf", false,
          B "ready-failures.conf:5: worker \"db\": ready: failures is not allowed in ready (only in health)" },
        { "probe-interval-zero.conf", false,
          B "probe-interval-zero.conf:5: worker \"db\": ready: interval must be > 0" },
        { "probe-timeout-zero.conf", false,
          B "probe-timeout-zero.conf:5: worker \"db\": health: timeout must be > 0" },
        { "probe-interval-malformed.conf", false,
          B "probe-interval-malformed.conf:5: worker \"db\": health: invalid duration \"often\" in interval" },
        { "probe-watchdog.conf", false, B "probe-watchdog.conf:6: worker \"db\": watchdog requires ready = \"notify\"" },
        { "ready-type.conf", false,
          B "ready-type.conf:5: worker \"db\": ready must be a string or a probe group { ... }" },
        { "ready-word.conf", false,
          B "ready-word.conf:5: worker \"db\": invalid ready \"tcp\" (expected \"exec\", \"notify\" or a probe group { ... })" },
        { "health-type.conf", false, B "health-type.conf:5: worker \"db\": health must be a probe group { ... }" },
        { "probe-oneshot.conf", false,
          B "probe-oneshot.conf:6: worker \"db\": ready = { ... } is not allowed with type = \"oneshot\"" },
        { "health-oneshot.conf", false,
          B "health-oneshot.conf:6: worker \"db\": health is not allowed with type = \"oneshot\"" },
        { "part-of-type.conf", false, B "part-of-type.conf:5: worker \"db\": part_of must be a list of strings" },
        { "part-of-self.conf", false, B "part-of-self.conf:5: worker \"db\": a worker cannot be part_of itself" },
        /* part_of implies after: the dependency checks cover it, and say part_of */
        { "part-of-unknown.conf", false,
          B "part-of-unknown.conf:7: worker \"web\": unknown worker \"dbb\" in part_of; did you mean \"db\"?" },
        { "part-of-cycle.conf", false, B "part-of-cycle.conf:3: dependency cycle: db -> web -> db" },
        { "part-of-oneshot.conf", false,
          B "part-of-oneshot.conf:8: worker \"web\": part_of \"migrate\" is a oneshot (only a simple worker can have parts)" },
        /* env_file, stop_on_exit, exit_code_from, shutdown_delay */
        { "env-file-type.conf", false, B "env-file-type.conf:5: worker \"web\": env_file must be a list of strings" },
        { "env-file-relative.conf", false,
          B "env-file-relative.conf:5: worker \"web\": env_file \"etc/web/local.env\" must be an absolute path "
            "(after an optional \"-\")" },
        { "env-file-dash-relative.conf", false,
          B "env-file-dash-relative.conf:5: worker \"web\": env_file \"-local.env\" must be an absolute path "
            "(after an optional \"-\")" },
        { "stop-on-exit-type.conf", false,
          B "stop-on-exit-type.conf:5: worker \"tests\": stop_on_exit must be true or false" },
        { "exit-code-from-no-stop.conf", false,
          B "exit-code-from-no-stop.conf:2: supervisor: exit_code_from \"tests\" names a worker without "
            "stop_on_exit = true" },
        { "exit-code-from-unknown.conf", false,
          B "exit-code-from-unknown.conf:3: supervisor: unknown worker \"tsts\" in exit_code_from; "
            "did you mean \"tests\"?" },
        { "exit-code-from-nosuggest.conf", false,
          B "exit-code-from-nosuggest.conf:1: supervisor: unknown worker \"main\" in exit_code_from" },
        { "exit-code-from-name.conf", false,
          B "exit-code-from-name.conf:2: supervisor: invalid name \"my tests\" (1 to 64 of A-Z a-z 0-9 _ . -)" },
        /* the worker is in an include_dir file; the message at the setting */
        { "exit-code-from-include.conf", false,
          B "exit-code-from-include.conf:3: supervisor: exit_code_from \"tests\" names a worker without "
            "stop_on_exit = true" },
        { "shutdown-delay-timeout.conf", false,
          B "shutdown-delay-timeout.conf:3: supervisor: shutdown_delay must be less than shutdown_timeout (10s)" },
        { "shutdown-delay-default-timeout.conf", false,
          B "shutdown-delay-default-timeout.conf:2: supervisor: shutdown_delay must be less than shutdown_timeout "
            "(1min 30s)" },
        { "shutdown-delay-negative.conf", false,
          B "shutdown-delay-negative.conf:2: supervisor: shutdown_delay must not be negative" },
        /* instances: the count, the names, %i, and what is checked once it is expanded */
        { "instances-zero.conf", false, B "instances-zero.conf:4: worker \"web\": instances must be >= 1" },
        { "instances-large.conf", false, B "instances-large.conf:4: worker \"web\": instances must be <= 1000" },
        { "instances-type.conf", false, B "instances-type.conf:4: worker \"web\": instances must be an integer" },
        { "instances-long-name.conf", false,
          B "instances-long-name.conf:5: worker \"a234567890123456789012345678901234567890123456789012345678901\": "
            "instance name \"a234567890123456789012345678901234567890123456789012345678901.100\" is longer than 64 "
            "characters" },
        { "instances-specifier.conf", false,
          B "instances-specifier.conf:5: worker \"web\": command: invalid %-specifier \"%s\" in \"+%s\" "
            "(%i is the instance number, %% a literal %)" },
        { "instances-specifier-end.conf", false,
          B "instances-specifier-end.conf:6: worker \"web\": env.DISCOUNT: invalid %-specifier \"%\" in \"50%\" "
            "(%i is the instance number, %% a literal %)" },
        { "instances-specifier-env-file.conf", false,
          B "instances-specifier-env-file.conf:6: worker \"web\": env_file: invalid %-specifier \"%n\" in "
            "\"/etc/web/%n.env\" (%i is the instance number, %% a literal %)" },
        { "instances-specifier-stdout.conf", false,
          B "instances-specifier-stdout.conf:6: worker \"web\": stdout: invalid %-specifier \"%I\" in "
            "\"/tmp/web-%I.log\" (%i is the instance number, %% a literal %)" },
        { "instances-specifier-probe.conf", false,
          B "instances-specifier-probe.conf:6: worker \"web\": health: exec: invalid %-specifier \"%d\" in "
            "\"--id=%d\" (%i is the instance number, %% a literal %)" },
        { "instances-duplicate.conf", false,
          B "instances-duplicate.conf:8: duplicate worker name \"web.2\" (first defined at "
            "@DATA@/bad/instances-duplicate.conf:3 as instance 2 of \"web\")" },
        { "instances-duplicate-later.conf", false,
          B "instances-duplicate-later.conf:7: duplicate worker name \"web.2\" (instance 2 of \"web\"; first "
            "defined at @DATA@/bad/instances-duplicate-later.conf:3)" },
        { "instances-duplicate-group.conf", false,
          B "instances-duplicate-group.conf:8: duplicate worker name \"web\" (first defined at "
            "@DATA@/bad/instances-duplicate-group.conf:3)" },
        { "instances-tcp.conf", false,
          B "instances-tcp.conf:8: worker \"web\": ready: invalid tcp address \"127.0.0.1:65536\": "
            "bad port (1-65535)" },
        { "instances-http.conf", false,
          B "instances-http.conf:6: worker \"web\": health: invalid http URL \"http://10.0.1.300/healthz\": "
            "the host must be a numeric address or localhost" },
        { "instances-unix.conf", false,
          B "instances-unix.conf:7: worker \"web\": ready: unix path is longer than 107 bytes" },
        { "instances-regex.conf", false,
          B "instances-regex.conf:6: worker \"web\": ready: invalid log regular expression \"worker 1 (ready\": "
            "Unmatched ( or \\(" },
        { "instances-stdout-dir.conf", false,
          B "instances-stdout-dir.conf:6: worker \"web\": directory of stderr \"/nonexistent-graced-dir-1/web.log\" "
            "does not exist" },
        { "instances-exit-code-from.conf", false,
          B "instances-exit-code-from.conf:1: supervisor: exit_code_from \"tests\" names a worker with instances "
            "(name one of them, such as \"tests.1\")" },
        /* a template's problem of the plan: once, under its name */
        { "instances-after-unknown.conf", false,
          B "instances-after-unknown.conf:3: worker \"web\": unknown worker \"dbb\" in after; did you mean \"db\"?" },
        { "instances-after-suggest.conf", false,
          B "instances-after-suggest.conf:8: worker \"lb\": unknown worker \"backedn\" in after; "
            "did you mean \"backend\"?" },
        { "instances-part-of-oneshot.conf", false,
          B "instances-part-of-oneshot.conf:9: worker \"web\": part_of \"seed\" is a oneshot "
            "(only a simple worker can have parts)" },
        { "instances-cycle.conf", false, B "instances-cycle.conf:3: dependency cycle: db -> web.1 -> db" },
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

/* Every problem of a worker's probes in one run: a value error does not
 * hide the rules between settings (the log probe and its captured output). */
START_TEST(test_probe_many)
{
        char *path = data_path("bad/probe-many.conf");

        expect_diags(path, false,
                     "@DATA@/bad/probe-many.conf:4: worker \"db\": unknown worker \"cache\" in part_of\n"
                     "@DATA@/bad/probe-many.conf:8: worker \"db\": ready: timeout is not allowed with log\n"
                     "@DATA@/bad/probe-many.conf:8: worker \"db\": ready: interval is not allowed with log\n"
                     "@DATA@/bad/probe-many.conf:8: worker \"db\": ready: log requires stdout = \"log\" or stderr = \"log\"\n"
                     "@DATA@/bad/probe-many.conf:11: worker \"db\": health: tcp and exec cannot be in one probe group\n"
                     "@DATA@/bad/probe-many.conf:12: worker \"db\": health: failures must be >= 1\n"
                     "@DATA@/bad/probe-many.conf:13: worker \"db\": health: timeout must not be negative\n"
                     "@DATA@/bad/probe-many.conf:14: worker \"db\": health: tcp and log cannot be in one probe group\n"
                     "@DATA@/bad/probe-many.conf:14: worker \"db\": health: log is not allowed in health (only in ready)\n"
                     "@DATA@/bad/probe-many.conf:16: worker \"db\": a worker cannot be part_of itself\n"
                     "@DATA@/bad/probe-many.conf:21: worker \"web\": health: missing probe (one of tcp, unix, http, exec)\n");
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

/* A worker that cannot be kept (an invalid or missing name) does not hide
 * the dependency problems of the others: one run reports everything. */
START_TEST(test_dependencies_despite_names)
{
        char *p1 = data_path("bad/invalid-name-cycle.conf"), *p2 = data_path("bad/missing-name-cycle.conf");

        /* the invalid name is no "unknown worker" in b's after; "nope" is */
        expect_diags(p1, false,
                     "@DATA@/bad/invalid-name-cycle.conf:4: worker #1: invalid name \"web server\" (1 to 64 of A-Z a-z 0-9 _ . -)\n"
                     "@DATA@/bad/invalid-name-cycle.conf:5: dependency cycle: a -> b -> a\n"
                     "@DATA@/bad/invalid-name-cycle.conf:7: worker \"c\": unknown worker \"nope\" in after\n");
        /* a nameless worker could be "nope": only the cycle is sure */
        expect_diags(p2, false,
                     "@DATA@/bad/missing-name-cycle.conf:4: worker #1: missing name\n"
                     "@DATA@/bad/missing-name-cycle.conf:5: dependency cycle: a -> b -> a\n");
        free(p1);
        free(p2);
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

/* What cannot be read to an end without blocking is refused before libconfig
 * opens it: a FIFO (fopen() blocked), a device (/dev/zero never ends), as an
 * @include, as an include_dir file or as the main file. */
START_TEST(test_include_special_files)
{
        char *fifo = xasprintf("%s/fifo.inc", tmpdir), *zero = xasprintf("%s/zero.inc", tmpdir);
        char *sub = xasprintf("%s/d", tmpdir), *path, *want;

        ck_assert_int_eq(mkfifo(fifo, 0644), 0);
        ck_assert_int_eq(symlink("/dev/zero", zero), 0);
        path = write_tmp("fifo.conf", 0644, "workers = ();\n@include \"fifo.inc\"\n");
        want = xasprintf("%s:2: @include \"fifo.inc\": not a regular file (a FIFO)\n", path);
        expect_diags(path, false, want);
        free(want);
        free(path);

        path = write_tmp("zero.conf", 0644, "\n  @include \"zero.inc\"\n");
        want = xasprintf("%s:2: @include \"zero.inc\": not a regular file (a character device)\n", path);
        expect_diags(path, false, want);
        free(want);
        free(path);

        /* the main file itself */
        want = xasprintf("%s: not a regular file (a FIFO)\n", fifo);
        expect_diags(fifo, false, want);
        free(want);

        /* an include_dir file gets the same scan; its names are relative to
         * the include_dir */
        ck_assert_int_eq(mkdir(sub, 0755), 0);
        path = write_tmp("main.conf", 0644, "supervisor = { include_dir = \"d\"; };\n");
        free(write_tmp("d/10-ok.conf", 0644, "workers = ();\n"));
        free(write_tmp("d/20-dir.conf", 0644, "# here\n@include \".\"\n"));
        want = xasprintf("%s/d/20-dir.conf:2: @include \".\": Is a directory\n", tmpdir);
        expect_diags(path, false, want);
        free(want);
        free(path);
        free(sub);
        free(zero);
        free(fifo);
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

/* Instances count toward the limit of workers: ten groups of 1000 are
 * the most there may be, one worker more is too many. */
START_TEST(test_too_many_instances)
{
        char *path = xasprintf("%s/instances.conf", tmpdir), *want;
        FILE *f = fopen(path, "w");
        struct conf *c;

        ck_assert_ptr_nonnull(f);
        fprintf(f, "workers = (\n");
        for (int i = 0; i < 10; i++)
                fprintf(f, "  { name = \"g%d\"; instances = %d; command = [\"/bin/true\", \"%%i\"]; }%s\n", i,
                        CONF_MAX_INSTANCES, i < 9 ? "," : "");
        fprintf(f, ");\n");
        ck_assert_int_eq(fclose(f), 0);
        c = load_ok(path, false);
        ck_assert_uint_eq(c->n_workers, CONF_MAX_WORKERS);
        ck_assert_uint_eq(c->n_templates, 10);
        ck_assert_str_eq(c->workers[CONF_MAX_WORKERS - 1].name, "g9.1000");
        ck_assert_str_eq(c->workers[CONF_MAX_WORKERS - 1].argv[1], "1000");
        conf_free(c);
        free(path);
        path = write_tmp("instances2.conf", 0644,
                         "workers = (\n"
                         "  { name = \"plain\"; command = [\"/bin/true\"]; },\n"
                         "  { name = \"g0\"; instances = 1000; command = [\"/bin/true\"]; },\n"
                         "  { name = \"g1\"; instances = 1000; command = [\"/bin/true\"]; },\n"
                         "  { name = \"g2\"; instances = 1000; command = [\"/bin/true\"]; },\n"
                         "  { name = \"g3\"; instances = 1000; command = [\"/bin/true\"]; },\n"
                         "  { name = \"g4\"; instances = 1000; command = [\"/bin/true\"]; },\n"
                         "  { name = \"g5\"; instances = 1000; command = [\"/bin/true\"]; },\n"
                         "  { name = \"g6\"; instances = 1000; command = [\"/bin/true\"]; },\n"
                         "  { name = \"g7\"; instances = 1000; command = [\"/bin/true\"]; },\n"
                         "  { name = \"g8\"; instances = 1000; command = [\"/bin/true\"]; },\n"
                         "  { name = \"g9\"; instances = 1000; command = [\"/bin/true\"]; }\n"
                         ");\n");
        want = xasprintf("%s:12: more than %d workers\n", path, CONF_MAX_WORKERS);
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
        ck_assert_uint_eq(c->log_buffer, 1000);
        ck_assert_ptr_null(c->report_file);
        ck_assert_ptr_null(c->control_socket);
        ck_assert_ptr_null(c->http_listen);
        ck_assert_ptr_null(c->include_dir);
        ck_assert_uint_eq(c->n_cleanup, 0);
        ck_assert_uint_eq(c->n_workers, 0);
        ck_assert_uint_eq(c->shutdown_delay, 0);
        ck_assert_ptr_null(c->exit_code_from);
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
        ck_assert_uint_eq(c->log_buffer, 0);
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

START_TEST(test_ops_settings)
{
        char *path = data_path("good/ops.conf");
        struct conf *c = load_ok(path, false);
        const struct conf_worker *db, *tests;
        struct conf_worker a, b;

        ck_assert_uint_eq(c->shutdown_timeout, 30 * USEC_PER_SEC);
        ck_assert_uint_eq(c->shutdown_delay, 5 * USEC_PER_SEC);
        ck_assert_str_eq(c->exit_code_from, "tests");
        db = conf_find_worker(c, "db");
        tests = conf_find_worker(c, "tests");
        ck_assert_uint_eq(strv_length(db->env_file), 2);
        ck_assert_str_eq(db->env_file[0], "/etc/default/db");
        ck_assert_str_eq(db->env_file[1], "-/etc/db/local.env"); /* as written */
        ck_assert(!db->stop_on_exit);
        ck_assert_ptr_null(tests->env_file); /* [] is none */
        ck_assert(tests->stop_on_exit);

        /* copied deeply; another env_file is another process, stop_on_exit is not */
        conf_worker_copy(&a, db);
        ck_assert(a.env_file != db->env_file && a.env_file[1] != db->env_file[1]);
        ck_assert_str_eq(a.env_file[1], "-/etc/db/local.env");
        ck_assert(conf_worker_same_process(&a, db));
        a.stop_on_exit = true;
        ck_assert(conf_worker_same_process(&a, db));
        conf_worker_copy(&b, &a);
        b.env_file[1][1] = 'X';
        ck_assert(!conf_worker_same_process(&a, &b));
        strv_free(b.env_file);
        b.env_file = NULL;
        ck_assert(!conf_worker_same_process(&a, &b));
        conf_worker_done(&b);
        conf_worker_done(&a);
        conf_free(c);
        free(path);
}
END_TEST

START_TEST(test_env_file_limit)
{
        char *list = xstrdup("\"/e0\""), *path, *want, *t;

        for (int i = 1; i <= CONF_MAX_ENV_FILES; i++) {
                t = xasprintf("%s, \"/e%d\"", list, i);
                free(list);
                list = t;
        }
        path = write_tmp("envs.conf", 0644, "workers = (\n  { name = \"w\"; command = [\"/bin/true\"];\n    env_file = [%s]; }\n);\n",
                         list);
        want = xasprintf("%s:3: worker \"w\": env_file has more than %d elements\n", path, CONF_MAX_ENV_FILES);
        expect_diags(path, false, want);
        free(want);
        free(path);
        free(list);
}
END_TEST

/* exit_code_from may name a worker of an include_dir file. */
START_TEST(test_exit_code_from_include)
{
        char *sub = xasprintf("%s/d", tmpdir), *inc, *path;
        struct conf *c;

        ck_assert_int_eq(mkdir(sub, 0755), 0);
        inc = write_tmp("d/10-tests.conf", 0644,
                        "workers = ( { name = \"tests\"; command = [\"/bin/true\"]; stop_on_exit = true; } );\n");
        path = write_tmp("main.conf", 0644, "supervisor = { include_dir = \"d\"; exit_code_from = \"tests\"; };\n");
        c = load_ok(path, false);
        ck_assert_str_eq(c->exit_code_from, "tests");
        ck_assert(c->workers[0].stop_on_exit);
        conf_free(c);
        free(path);
        free(inc);
        free(sub);
}
END_TEST

/* --check reads every worker's env files (conf_load_opts.env_files) and
 * reports each problem at its file and line, after the configuration's own
 * problems; graced's start and reload (no env_files) do not read them. */
START_TEST(test_env_files_checked)
{
        char *good = write_tmp("good.env", 0644, "A=1\n"), *bad_env = write_tmp("bad.env", 0644, "A=1\n\nB C=2\n");
        char *quote = write_tmp("quote.env", 0644, "X='open\n"), *missing = xasprintf("%s/missing.env", tmpdir);
        char *path = write_tmp("main.conf", 0644,
                               "workers = (\n"
                               "  { name = \"a\"; command = [\"/bin/true\"];\n"
                               "    env_file = [\"%s\", \"-%s/optional.env\", \"%s\", \"%s\"]; },\n"
                               "  { name = \"b\"; command = [\"/bin/true\"]; env_file = [\"%s\", \"%s\"]; },\n"
                               "  { name = \"c\"; command = [\"/bin/true\"]; stop_timeout = -1; }\n"
                               ");\n",
                               good, tmpdir, bad_env, missing, bad_env, quote);
        struct conf_load_opts opts = { .env_files = true };
        struct conf_diags d = { 0 };
        struct conf *c = NULL;
        char *got, *want;

        ck_assert_int_eq(plan_load(path, &opts, &c, NULL, &d), -EINVAL);
        got = joined(&d);
        want = xasprintf("%s:5: worker \"c\": stop_timeout must not be negative\n"
                         "%s:3: invalid variable name \"B C\" (letters, digits and _, not beginning with a digit)\n"
                         "%s: No such file or directory\n"
                         "%s:1: unterminated single quote\n",
                         path, bad_env, missing, quote);
        ck_assert_msg(strcmp(got, want) == 0, "--- got:\n%s--- expected:\n%s", got, want);
        free(got);
        free(want);
        conf_diags_clear(&d);

        /* not read when graced starts or reloads: only the configuration's own problem */
        opts.env_files = false;
        ck_assert_int_eq(plan_load(path, &opts, &c, NULL, &d), -EINVAL);
        ck_assert_uint_eq(d.n, 1);
        conf_diags_clear(&d);
        free(good);
        free(bad_env);
        free(quote);
        free(missing);
        free(path);
}
END_TEST

static void assert_probe(const struct conf_probe *p, enum probe_kind kind, const char *target, usec_t interval,
                         usec_t timeout, unsigned failures, int line)
{
        ck_assert_int_eq(p->kind, kind);
        if (target)
                ck_assert_str_eq(p->target, target);
        else
                ck_assert_ptr_null(p->target);
        if (kind != PROBE_EXEC)
                ck_assert_ptr_null(p->argv);
        ck_assert_uint_eq(p->interval, interval);
        ck_assert_uint_eq(p->timeout, timeout);
        ck_assert_uint_eq(p->failures, failures);
        ck_assert_int_eq(p->line, line);
}

START_TEST(test_probes)
{
        char *path = data_path("good/probes.conf");
        struct conf *c = load_ok(path, false);
        const struct conf_worker *w;

        ck_assert_uint_eq(c->n_workers, 5);
        w = &c->workers[0]; /* db: an exec readiness probe with the defaults */
        ck_assert_int_eq(w->ready, READY_PROBE);
        assert_probe(&w->ready_probe, PROBE_EXEC, NULL, DEFAULT_READY_PROBE_INTERVAL, DEFAULT_PROBE_TIMEOUT, 0, 7);
        ck_assert_uint_eq(strv_length(w->ready_probe.argv), 2);
        ck_assert_str_eq(w->ready_probe.argv[0], "pg_isready"); /* resolved at start, as command[0] is */
        ck_assert_str_eq(w->ready_probe.argv[1], "-q");
        assert_probe(&w->health, PROBE_TCP, "127.0.0.1:5432", 5 * USEC_PER_SEC, 500 * USEC_PER_MSEC, 1, 8);
        ck_assert_ptr_null(w->part_of);
        ck_assert_ptr_null(w->after);

        w = &c->workers[1]; /* cache: health with the health defaults */
        assert_probe(&w->ready_probe, PROBE_TCP, "[::1]:6379", 100 * USEC_PER_MSEC, 2 * USEC_PER_SEC, 0, 14);
        assert_probe(&w->health, PROBE_UNIX, "/run/redis/redis.sock", DEFAULT_HEALTH_INTERVAL, DEFAULT_PROBE_TIMEOUT,
                     DEFAULT_HEALTH_FAILURES, 15);

        w = &c->workers[2]; /* web: log (no interval, no timeout); part_of, once each, in after */
        ck_assert_int_eq(w->ready, READY_PROBE);
        assert_probe(&w->ready_probe, PROBE_LOG, "listening on .*:[0-9]+$", 0, 0, 0, 23);
        assert_probe(&w->health, PROBE_HTTP, "https://localhost:8443/healthz", DEFAULT_HEALTH_INTERVAL,
                     DEFAULT_PROBE_TIMEOUT, 5, 24);
        ck_assert_uint_eq(strv_length(w->part_of), 2);
        ck_assert_str_eq(w->part_of[0], "db");
        ck_assert_str_eq(w->part_of[1], "cache");
        ck_assert_uint_eq(strv_length(w->after), 2);
        ck_assert_str_eq(w->after[0], "db");
        ck_assert_str_eq(w->after[1], "cache");

        w = &c->workers[3]; /* api */
        assert_probe(&w->ready_probe, PROBE_HTTP, "http://127.0.0.1:8080/ready", DEFAULT_READY_PROBE_INTERVAL,
                     DEFAULT_PROBE_TIMEOUT, 0, 29);
        assert_probe(&w->health, PROBE_EXEC, NULL, 30 * USEC_PER_SEC, DEFAULT_PROBE_TIMEOUT, DEFAULT_HEALTH_FAILURES,
                     30);
        ck_assert_str_eq(w->health.argv[1], "--check");

        w = &c->workers[4]; /* plain: no probe at all */
        ck_assert_int_eq(w->ready, READY_NOTIFY);
        ck_assert_int_eq(w->ready_probe.kind, PROBE_NONE);
        ck_assert_int_eq(w->health.kind, PROBE_NONE);
        ck_assert_ptr_null(w->health.target);
        ck_assert_ptr_null(w->part_of);
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

/* @include in a comment or a string, or not at the start of its line, is
 * no include (libconfig's scanner rules); an indented one is. */
START_TEST(test_include_lexical)
{
        char *path = data_path("good/include-lexical.conf");
        struct conf *c = load_ok(path, false);

        ck_assert_uint_eq(c->n_workers, 1);
        ck_assert_str_eq(c->workers[0].name, "web");
        ck_assert_str_eq(c->report_file, "/tmp/a name over two lines\n@include \".\" (in a string)");
        conf_free(c);
        free(path);
}
END_TEST

/* http_listen: numeric addresses and localhost, "" for off. */
START_TEST(test_http_listen)
{
        static const char *const ok[] = { "127.0.0.1:9321", "localhost:9321", "LOCALHOST:80", "0.0.0.0:65535",
                                          "[::1]:9321", "[::]:9321", "" };
        char *path = data_path("good/http-listen.conf");
        struct conf *c = load_ok(path, false);

        ck_assert_str_eq(c->http_listen, "[::1]:9321");
        conf_free(c);
        free(path);
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                path = write_tmp("http.conf", 0644, "supervisor = { http_listen = \"%s\"; };\n", ok[i]);
                c = load_ok(path, false);
                ck_assert_str_eq(c->http_listen, ok[i]);
                conf_free(c);
                free(path);
        }
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
                "stderr",       "timeout",          "shielded",        "health",      "part_of",
                "interval",     "failures",         "env_file",        "stop_on_exit", "shutdown_delay",
                "exit_code_from", "http_listen", "instances", "log_buffer",
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

/* ---- instances ------------------------------------------------------------------ */

static void assert_strv(char *const *v, const char *const *want, size_t n)
{
        ck_assert_uint_eq(strv_length(v), n);
        for (size_t i = 0; i < n; i++)
                ck_assert_str_eq(v[i], want[i]);
}

/* Each instance is a worker of its own, in the template's place; %i and %%
 * are expanded in what takes them and nowhere else; a plain worker keeps
 * every % as written. */
START_TEST(test_instances)
{
        static const char *const names[] = { "db", "web.1", "web.2", "web.3", "lb", "one.1", "probe.1", "probe.2" };
        char *path = data_path("good/instances.conf");
        struct conf *c = load_ok(path, false);
        const struct conf_worker *web2 = conf_find_worker(c, "web.2"), *t = conf_find_template(c, "web");
        const struct conf_worker *db = conf_find_worker(c, "db"), *lb = conf_find_worker(c, "lb");

        ck_assert_uint_eq(c->n_workers, ELEMENTSOF(names));
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                ck_assert_str_eq(c->workers[i].name, names[i]);
        ck_assert_ptr_null(conf_find_worker(c, "web"));
        ck_assert_ptr_null(conf_find_template(c, "db"));
        /* the templates, as written */
        ck_assert_uint_eq(c->n_templates, 3);
        ck_assert_ptr_nonnull(t);
        ck_assert_uint_eq(t->instances, 3);
        ck_assert_ptr_null(t->instance_of);
        ck_assert_str_eq(t->argv[2], "80%i");
        ck_assert_str_eq(t->ready_probe.target, "127.0.0.1:80%i");
        ck_assert_uint_eq(conf_find_template(c, "one")->instances, 1);
        /* an instance */
        ck_assert_str_eq(web2->instance_of, "web");
        ck_assert_uint_eq(web2->instance, 2);
        ck_assert_uint_eq(web2->instances, 0);
        ck_assert_int_eq(web2->line, t->line);
        assert_strv(web2->argv, (const char *const[]){ "/usr/bin/web", "--port", "802", "--load=100%", "%i" }, 5);
        assert_strv(web2->env, (const char *const[]){ "PORT=802", "NAME=web-2" }, 2);
        assert_strv(web2->env_file, (const char *const[]){ "-/etc/web/2.env", "-/etc/web/common.env" }, 2);
        ck_assert_str_eq(web2->out_path[STREAM_STDOUT], "/tmp/web.2.out");
        ck_assert_str_eq(web2->out_path[STREAM_STDERR], "/tmp/web.2.err");
        ck_assert_str_eq(web2->ready_probe.target, "127.0.0.1:802");
        assert_strv(web2->health.argv, (const char *const[]){ "/usr/bin/web-check", "--instance", "2" }, 3);
        ck_assert_uint_eq(web2->health.failures, 2);
        /* not expanded: the hooks, cwd, after */
        assert_strv(web2->pre_stop, (const char *const[]){ "/usr/bin/web", "--drain", "%i" }, 3);
        ck_assert_str_eq(web2->cwd, "/tmp");
        assert_strv(web2->after, (const char *const[]){ "db" }, 1);
        ck_assert_str_eq(conf_find_worker(c, "web.3")->argv[2], "803");
        ck_assert_str_eq(conf_find_worker(c, "one.1")->ready_probe.target, "worker 1 ready");
        ck_assert_str_eq(conf_find_worker(c, "probe.2")->ready_probe.target, "/run/probe/2.sock");
        ck_assert_str_eq(conf_find_worker(c, "probe.2")->health.target, "http://127.0.0.1:902/healthz");
        /* a plain worker: % as written, NAME as written */
        ck_assert_ptr_null(db->instance_of);
        ck_assert_uint_eq(db->instance, 0);
        assert_strv(db->argv, (const char *const[]){ "/usr/bin/db", "100%%", "%x", "%i" }, 4);
        assert_strv(db->env, (const char *const[]){ "LOAD=50%" }, 1);
        /* the group's name stands for every instance (plan.c) */
        assert_strv(lb->after, (const char *const[]){ "web" }, 1);
        assert_strv(lb->part_of, (const char *const[]){ "web" }, 1);
        conf_free(c);
        free(path);
}
END_TEST

struct problems {
        char *all; /* "KEY|MSG\n"... */
};

static void collect_problem(void *data, const char *key, const char *msg)
{
        struct problems *p = data;

        ck_assert(str_appendf(&p->all, "%s|%s\n", key, msg));
}

/* conf_worker_instance() (gracectl scale): what only an expanded value
 * shows is checked, each problem named by its setting. */
START_TEST(test_instance_api)
{
        char *path = data_path("good/instances.conf");
        struct conf *c = load_ok(path, false);
        struct conf_worker t, w;
        struct problems p = { 0 };

        /* instance 7 of web: fine, and deep */
        ck_assert_int_eq(conf_worker_instance(conf_find_template(c, "web"), 7, &w, collect_problem, &p), 0);
        ck_assert_ptr_null(p.all);
        ck_assert_str_eq(w.name, "web.7");
        ck_assert_str_eq(w.instance_of, "web");
        ck_assert_uint_eq(w.instance, 7);
        ck_assert_str_eq(w.argv[2], "807");
        ck_assert_str_eq(w.ready_probe.target, "127.0.0.1:807");
        ck_assert(w.argv != conf_find_worker(c, "web.1")->argv);
        conf_worker_done(&w);

        /* a port out of range, a directory that does not exist: both said */
        conf_worker_copy(&t, conf_find_template(c, "web"));
        free(t.ready_probe.target);
        t.ready_probe.target = xstrdup("127.0.0.1:6553%i");
        free(t.out_path[STREAM_STDERR]);
        t.out_path[STREAM_STDERR] = xstrdup("/nonexistent-graced-dir/%i.err");
        ck_assert_int_eq(conf_worker_instance(&t, 5, &w, collect_problem, &p), -EINVAL);
        conf_worker_done(&w);
        ck_assert_str_eq(p.all, "stderr|directory of stderr \"/nonexistent-graced-dir/5.err\" does not exist\n");
        free(p.all);
        p.all = NULL;
        ck_assert_int_eq(conf_worker_instance(&t, 6, &w, collect_problem, &p), -EINVAL);
        ck_assert_str_eq(w.name, "web.6"); /* set all the same */
        conf_worker_done(&w);
        ck_assert_str_eq(p.all, "stderr|directory of stderr \"/nonexistent-graced-dir/6.err\" does not exist\n"
                                "ready.tcp|ready: invalid tcp address \"127.0.0.1:65536\": bad port (1-65535)\n");
        free(p.all);
        p.all = NULL;
        conf_worker_done(&t);

        /* a name too long for the number */
        conf_worker_copy(&t, conf_find_template(c, "probe"));
        free(t.name);
        t.name = xstrdup("a234567890123456789012345678901234567890123456789012345678901");
        ck_assert_int_eq(conf_worker_instance(&t, 99, &w, collect_problem, &p), 0);
        conf_worker_done(&w);
        ck_assert_int_eq(conf_worker_instance(&t, 100, &w, collect_problem, &p), -EINVAL);
        conf_worker_done(&w);
        ck_assert_str_eq(p.all, "instances|instance name "
                                "\"a234567890123456789012345678901234567890123456789012345678901.100\" "
                                "is longer than 64 characters\n"
                                "health.http|health: invalid http URL \"http://127.0.0.1:90100/healthz\": "
                                "bad port (1-65535)\n");
        free(p.all);
        conf_worker_done(&t);
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

/* Probes and part_of are copied deeply, and apply in place on a reload:
 * they do not make another process; ready's mode still does. */
START_TEST(test_probe_copy_same)
{
        char *path = data_path("good/probes.conf");
        struct conf *c = load_ok(path, false);
        const struct conf_worker *web = &c->workers[2], *db = &c->workers[0];
        struct conf_worker a, b;

        conf_worker_copy(&a, web);
        ck_assert(a.ready_probe.target != web->ready_probe.target);
        ck_assert_str_eq(a.ready_probe.target, web->ready_probe.target);
        ck_assert(a.health.target != web->health.target);
        ck_assert_str_eq(a.health.target, web->health.target);
        ck_assert(a.part_of != web->part_of && a.part_of[0] != web->part_of[0]);
        ck_assert(strv_equal(a.part_of, web->part_of));
        ck_assert(conf_worker_same_process(&a, web));
        conf_worker_done(&a);
        ck_assert_ptr_null(a.part_of);
        ck_assert_ptr_null(a.health.target);

        conf_worker_copy(&a, db);
        ck_assert(a.ready_probe.argv != db->ready_probe.argv && a.ready_probe.argv[0] != db->ready_probe.argv[0]);
        ck_assert(strv_equal(a.ready_probe.argv, db->ready_probe.argv));

        /* what applies in place: the same process */
        conf_worker_copy(&b, &a);
        strv_free(b.ready_probe.argv);
        b.ready_probe.argv = strv_dup((char *[]){ (char *)"/bin/true", NULL });
        b.ready_probe.interval = 1;
        free(b.health.target);
        b.health.target = xstrdup("127.0.0.1:5433");
        b.health.failures = 9;
        b.part_of = strv_dup((char *[]){ (char *)"cache", NULL });
        ck_assert(conf_worker_same_process(&a, &b));
        conf_worker_done(&b);
        conf_worker_copy(&b, &a);
        b.health.kind = PROBE_NONE;
        free(b.health.target);
        b.health.target = NULL;
        ck_assert(conf_worker_same_process(&a, &b));
        conf_worker_done(&b);
        /* another ready mode: another process */
        conf_worker_copy(&b, &a);
        b.ready = READY_NOTIFY;
        ck_assert(!conf_worker_same_process(&a, &b));
        conf_worker_done(&b);

        conf_worker_done(&a);
        conf_free(c);
        free(path);
}
END_TEST

/* ---- the check in a child (conffork.c) ------------------------------------------ */

static void add_diag(struct conf_diags *d, const char *file, int line, char *msg)
{
        d->v = xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
        d->v[d->n++] = (struct conf_diag){ .file = file ? xstrdup(file) : NULL, .line = line, .msg = msg };
}

/* More than a pipe holds: the parent must read while the child writes. */
static int check_many(const char *path, const struct conf_load_opts *opts, struct conf_diags *d)
{
        (void)opts;
        for (int i = 0; i < 3000; i++)
                add_diag(d, i % 7 ? path : NULL, i, xasprintf("problem %d %0100d", i, i));
        return -EINVAL;
}

static int check_valid(const char *path, const struct conf_load_opts *opts, struct conf_diags *d)
{
        (void)path, (void)opts, (void)d;
        return 0;
}

/* What libconfig 1.5's scanner does on a read error ("input in flex scanner failed"). */
static int check_exit2(const char *path, const struct conf_load_opts *opts, struct conf_diags *d)
{
        (void)path, (void)opts, (void)d;
        _exit(2);
}

/* (not SIGTERM: Check's handler, inherited by the child, signals the
 * whole process group) */
static int check_signal(const char *path, const struct conf_load_opts *opts, struct conf_diags *d)
{
        (void)path, (void)opts, (void)d;
        raise(SIGKILL);
        return 0;
}

static int check_hang(const char *path, const struct conf_load_opts *opts, struct conf_diags *d)
{
        (void)path, (void)opts, (void)d;
        for (;;)
                pause();
        return 0;
}

/* "invalid" without a single diagnostic: not an answer to trust */
static int check_inconsistent(const char *path, const struct conf_load_opts *opts, struct conf_diags *d)
{
        (void)path, (void)opts, (void)d;
        return -EINVAL;
}

static int count_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        int n = 0;

        ck_assert_ptr_nonnull(d);
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

/* The child was reaped by its pid (graced's waitpid(-1) would find nothing)
 * and no fd of the pipe is left. */
static void assert_no_trace(int fds_before)
{
        int st;

        errno = 0;
        ck_assert_int_eq(waitpid(-1, &st, WNOHANG), -1);
        ck_assert_int_eq(errno, ECHILD);
        ck_assert_int_eq(count_fds(), fds_before);
}

/* Runs check in a child (timeout in ms) and expects exactly one diagnostic. */
static void expect_child_failure(conf_check_fn *check, usec_t timeout, const char *want)
{
        struct conf_diags d = { 0 };
        int fds = count_fds();
        char *got;

        ck_assert_int_eq(conf_check_in_child("/x/graced.conf", NULL, check, timeout, &d), -EINVAL);
        got = joined(&d);
        ck_assert_str_eq(got, want);
        free(got);
        conf_diags_clear(&d);
        assert_no_trace(fds);
}

START_TEST(test_child_answer)
{
        struct conf_diags d = { 0 };
        int fds = count_fds();

        ck_assert_int_eq(conf_check_in_child("/x/graced.conf", NULL, check_valid, CONF_CHECK_TIMEOUT, &d), 0);
        ck_assert_uint_eq(d.n, 0);
        assert_no_trace(fds);

        /* appended after what diags held, in order, every byte intact */
        add_diag(&d, "/earlier.conf", 1, xstrdup("earlier"));
        ck_assert_int_eq(conf_check_in_child("/x/graced.conf", NULL, check_many, CONF_CHECK_TIMEOUT, &d), -EINVAL);
        ck_assert_uint_eq(d.n, 3001);
        ck_assert_str_eq(d.v[0].msg, "earlier");
        for (int i = 0; i < 3000; i++) {
                char *msg = xasprintf("problem %d %0100d", i, i);
                const struct conf_diag *x = &d.v[i + 1];

                ck_assert_int_eq(x->line, i);
                ck_assert_str_eq(x->msg, msg);
                if (i % 7)
                        ck_assert_str_eq(x->file, "/x/graced.conf");
                else
                        ck_assert_ptr_null(x->file);
                free(msg);
        }
        conf_diags_clear(&d);
        assert_no_trace(fds);
}
END_TEST

/* A child that dies or hangs is one diagnostic naming the file, never the
 * caller's death or hang. */
START_TEST(test_child_failures)
{
        long long t0;
        struct timespec ts;

        expect_child_failure(check_exit2, CONF_CHECK_TIMEOUT,
                             "/x/graced.conf: the configuration parser failed: exit status 2\n");
        expect_child_failure(check_signal, CONF_CHECK_TIMEOUT,
                             "/x/graced.conf: the configuration parser failed: killed by SIGKILL\n");
        expect_child_failure(check_inconsistent, CONF_CHECK_TIMEOUT,
                             "/x/graced.conf: the configuration parser failed: incomplete or invalid answer\n");
        clock_gettime(CLOCK_MONOTONIC, &ts);
        t0 = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
        expect_child_failure(check_hang, 300 * USEC_PER_MSEC,
                             "/x/graced.conf: the configuration parser failed: no answer within 300ms\n");
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ck_assert_int_lt(ts.tv_sec * 1000LL + ts.tv_nsec / 1000000 - t0, 5000);
}
END_TEST

/* plan_load_isolated answers like plan_load. */
START_TEST(test_load_isolated)
{
        char *invalid = data_path("bad/syntax.conf"), *good = data_path("good/full.conf"), *want, *got;
        struct conf_diags d = { 0 };
        struct conf *c = NULL;
        int fds = count_fds();

        ck_assert_int_eq(plan_load_isolated(invalid, NULL, &c, NULL, &d), -EINVAL);
        ck_assert_ptr_null(c);
        got = joined(&d);
        want = expand("@DATA@/bad/syntax.conf:3: syntax error\n");
        ck_assert_str_eq(got, want);
        free(got);
        free(want);
        conf_diags_clear(&d);
        ck_assert_int_eq(plan_load_isolated(invalid, NULL, &c, NULL, NULL), -EINVAL);

        ck_assert_int_eq(plan_load_isolated(good, NULL, &c, NULL, &d), 0);
        ck_assert_ptr_nonnull(c);
        ck_assert_uint_eq(d.n, 0);
        ck_assert_uint_ge(c->n_workers, 2);
        conf_free(c);
        assert_no_trace(fds);
        free(invalid);
        free(good);
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
        tcase_add_test(tc, test_probe_many);
        tcase_add_test(tc, test_sorted);
        tcase_add_test(tc, test_dependencies_despite_names);
        tcase_add_test(tc, test_unreadable);
        tcase_add_test(tc, test_include_bad);
        tcase_add_test(tc, test_include_cycle);
        suite_add_tcase(s, tc);

        tcase_add_checked_fixture(tmp, tmp_setup, tmp_teardown);
        tcase_add_test(tmp, test_world_writable);
        tcase_add_test(tmp, test_include_special_files);
        tcase_add_test(tmp, test_limits);
        tcase_add_test(tmp, test_too_many_workers);
        tcase_add_test(tmp, test_too_many_instances);
        tcase_add_test(tmp, test_exit_code_from_include);
        tcase_add_test(tmp, test_env_file_limit);
        tcase_add_test(tmp, test_env_files_checked);
        tcase_add_test(tmp, test_http_listen);
        suite_add_tcase(s, tmp);

        tcase_add_test(good, test_defaults);
        tcase_add_test(good, test_full);
        tcase_add_test(good, test_ops_settings);
        tcase_add_test(good, test_probes);
        tcase_add_test(good, test_user_group);
        tcase_add_test(good, test_restart_delay_alone);
        tcase_add_test(good, test_at_include);
        tcase_add_test(good, test_include_lexical);
        tcase_add_test(good, test_example_graced_conf);
        tcase_add_test(good, test_example_dev_conf);
        tcase_add_test(good, test_include_good);
        tcase_add_test(good, test_instances);
        tcase_add_test(good, test_instance_api);
        suite_add_tcase(s, good);

        tcase_add_test(api, test_diag_format);
        tcase_add_test(api, test_diags_append);
        tcase_add_test(api, test_worker_copy_same);
        tcase_add_test(api, test_probe_copy_same);
        tcase_add_test(api, test_child_answer);
        tcase_add_test(api, test_child_failures);
        tcase_add_test(api, test_load_isolated);
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
