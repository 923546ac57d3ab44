/* check_run.c - graced running real workers (tests/helpers/testworker).
 *
 * "order":    start order from the workers' own --stamp files (chain and
 *             diamond), max_parallel.
 * "restart":  exec failure, restart policies, backoff doubling up to
 *             restart_delay_max, start_limit_burst, critical workers.
 * "oneshot":  a dependent starts only after its oneshot exited 0; a failed
 *             oneshot blocks its dependents (directly and transitively).
 * "process":  what a worker gets: environment, env_clear, cwd, umask, fds
 *             0/1/2 only, stdin /dev/null, clean signal state, its own
 *             session; PR_SET_PDEATHSIG; subreaper and PID 1; SIGUSR1;
 *             an empty configuration.
 * "output":   captured lines exact and complete (1,000,000 lines), partial
 *             last line, the 4096-byte cap, stderr, json records, null,
 *             inherit and appended files.
 *
 * Every wait is on an event (a log line, a file, a pid); nothing sleeps to
 * synchronise. Needs GRACED_BIN, GRACED_TESTWORKER. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <sys/resource.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "harness.h"
#include "util.h"

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define T 5000 /* ms: generous bound for things that happen at once */

#define TW h_testworker()

/* ---- helpers ------------------------------------------------------------------- */

static void start(struct gh *g, const char *conf, const char *const *args, const char *const *env)
{
        ck_assert_int_eq(gh_start(g, conf, args, env), 0);
}

/* SIGTERM, expect exit code `code`, and a report. */
static struct json_object *stop_expect(struct gh *g, int code)
{
        int rc = gh_shutdown(g, T);

        if (rc != code)
                gh_dump_log(g, 40);
        ck_assert_int_eq(rc, code);
        struct json_object *r = gh_report(g);
        ck_assert_ptr_nonnull(r);
        return r;
}

static void wait_log(struct gh *g, const char *substr)
{
        ck_assert_msg(h_wait_log(g, substr, T), "no log line with '%s'", substr);
}

static long long stamp_mono(const char *path)
{
        long long t = h_read_stamp_mono_ns(path);

        ck_assert_msg(t > 0, "cannot read stamp %s", path);
        return t;
}

static pid_t stamp_pid(const char *path)
{
        pid_t p = h_read_stamp_pid(path);

        ck_assert_msg(p > 0, "cannot read pid from %s", path);
        return p;
}

static void wait_file(const char *path)
{
        ck_assert_msg(h_wait_file(path, T), "%s did not appear", path);
}

static void touch(const char *path)
{
        char *p = h_write_file(NULL, path, "go\n");

        ck_assert_ptr_nonnull(p);
        free(p);
}

static const char *outcome(struct json_object *r, const char *name)
{
        const char *o = h_json_str(h_report_worker(r, name), "outcome");

        ck_assert_msg(o != NULL, "no outcome for worker %s in the report", name);
        return o;
}

/* Number of occurrences of needle in hay. */
static int count_substr(const char *hay, const char *needle)
{
        int n = 0;

        for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

/* Number of lines of text that are exactly line. */
static int count_exact_lines(const char *text, const char *line)
{
        size_t len = strlen(line);
        int n = 0;

        for (const char *p = text; *p;) {
                const char *end = strchrnul(p, '\n');

                if ((size_t)(end - p) == len && memcmp(p, line, len) == 0)
                        n++;
                p = *end ? end + 1 : end;
        }
        return n;
}

/* The text of the line after graced's own prefix ("TS graced[PID]: "), or NULL. */
static const char *after_prefix(const char *line, const char *end)
{
        const char *p = memmem(line, (size_t)(end - line), "]: ", 3);

        return p ? p + 3 : NULL;
}

/* The captured records of NAME[STREAM] in graced's text log, in order
 * (a NULL-terminated array of malloc'd strings). */
static char **records(struct gh *g, const char *name, const char *stream, size_t *count)
{
        char *log = h_log_contents(g);
        char *tag;
        size_t n = 0, cap = 16, tlen;
        char **v = malloc(cap * sizeof(char *));

        ck_assert_ptr_nonnull(log);
        ck_assert_int_gt(asprintf(&tag, "%s[%s]: ", name, stream), 0);
        tlen = strlen(tag);
        for (char *line = log; *line;) {
                char *end = strchr(line, '\n');
                const char *t;

                if (!end)
                        end = line + strlen(line);
                t = after_prefix(line, end);
                if (t && (size_t)(end - t) >= tlen && memcmp(t, tag, tlen) == 0) {
                        if (n + 2 > cap)
                                v = realloc(v, (cap *= 2) * sizeof(char *));
                        v[n++] = strndup(t + tlen, (size_t)(end - t - (long)tlen));
                }
                line = *end ? end + 1 : end;
        }
        v[n] = NULL;
        free(tag);
        free(log);
        *count = n;
        return v;
}

static void free_strv(char **v)
{
        for (char **p = v; p && *p; p++)
                free(*p);
        free(v);
}

static bool all_x(const char *s, size_t n)
{
        if (strlen(s) != n)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] != 'x')
                        return false;
        return true;
}

/* Milliseconds of the day of a text log line "2026-11-24T19:00:00.123Z ...", -1. */
static long long line_ms(const char *line)
{
        int h, m, s, ms;

        if (sscanf(line, "%*4d-%*2d-%*2dT%2d:%2d:%2d.%3dZ", &h, &m, &s, &ms) != 4)
                return -1;
        return ((h * 60LL + m) * 60 + s) * 1000 + ms;
}

/* Timestamps (ms of the day) of the log lines containing substr; count in *n. */
static size_t line_times(struct gh *g, const char *substr, long long *out, size_t max)
{
        char *log = h_log_contents(g);
        size_t n = 0;

        ck_assert_ptr_nonnull(log);
        for (char *line = log; *line && n < max;) {
                char *end = strchr(line, '\n');

                if (!end)
                        end = line + strlen(line);
                if (memmem(line, (size_t)(end - line), substr, strlen(substr)))
                        out[n++] = line_ms(line);
                line = *end ? end + 1 : end;
        }
        free(log);
        return n;
}

#define U_FFFD "\xef\xbf\xbd"

/* ---- order ----------------------------------------------------------------- */

/* a <- b <- c: each dependency takes a while to get ready (notify after
 * its stamp); a dependent started too early would stamp before it. */
START_TEST(test_order_chain)
{
        struct gh g;
        const char *A, *B, *C, *conf;

        ck_assert_int_eq(gh_init(&g), 0);
        A = gh_path(&g, "a.stamp");
        B = gh_path(&g, "b.stamp");
        C = gh_path(&g, "c.stamp");
        /* listed in reverse on purpose: the order comes from after, not the file */
        conf = gh_write_file(&g, "graced.conf",
                             "workers = (\n"
                             "  { name = \"c\"; after = [\"b\"]; command = [\"%s\", \"--stamp\", \"%s\", \"--block\"]; },\n"
                             "  { name = \"b\"; after = [\"a\"]; ready = \"notify\";\n"
                             "    command = [\"%s\", \"--sleep-ms\", \"100\", \"--stamp\", \"%s\", \"--notify\", \"READY=1\", \"--block\"]; },\n"
                             "  { name = \"a\"; ready = \"notify\";\n"
                             "    command = [\"%s\", \"--sleep-ms\", \"100\", \"--stamp\", \"%s\", \"--notify\", \"READY=1\", \"--block\"]; }\n"
                             ");\n",
                             TW, C, TW, B, TW, A);
        start(&g, conf, NULL, NULL);
        wait_file(C);
        wait_log(&g, "c: ready");
        ck_assert_int_lt(stamp_mono(A), stamp_mono(B));
        ck_assert_int_lt(stamp_mono(B), stamp_mono(C));
        ck_assert_int_lt(h_log_line(&g, "a: ready"), h_log_line(&g, "b: starting:"));
        ck_assert_int_lt(h_log_line(&g, "b: ready"), h_log_line(&g, "c: starting:"));
        ck_assert_int_eq(h_count_log(&g, "c: starting:"), 1);
        struct json_object *r = stop_expect(&g, 0);
        /* stop order: reverse */
        ck_assert_int_lt(h_report_worker_pos(r, "c"), h_report_worker_pos(r, "b"));
        ck_assert_int_lt(h_report_worker_pos(r, "b"), h_report_worker_pos(r, "a"));
        gh_cleanup(&g);
}
END_TEST

/* top <- {l, r} <- bottom: bottom waits for the slower branch too. */
START_TEST(test_order_diamond)
{
        struct gh g;
        const char *TOP, *L, *R, *BOT, *conf;

        ck_assert_int_eq(gh_init(&g), 0);
        TOP = gh_path(&g, "top.stamp");
        L = gh_path(&g, "l.stamp");
        R = gh_path(&g, "r.stamp");
        BOT = gh_path(&g, "bottom.stamp");
        conf = gh_write_file(&g, "graced.conf",
                             "workers = (\n"
                             "  { name = \"bottom\"; after = [\"l\", \"r\"]; command = [\"%s\", \"--stamp\", \"%s\", \"--block\"]; },\n"
                             "  { name = \"l\"; after = [\"top\"]; ready = \"notify\";\n"
                             "    command = [\"%s\", \"--sleep-ms\", \"20\", \"--stamp\", \"%s\", \"--notify\", \"READY=1\", \"--block\"]; },\n"
                             "  { name = \"r\"; after = [\"top\"]; ready = \"notify\";\n"
                             "    command = [\"%s\", \"--sleep-ms\", \"200\", \"--stamp\", \"%s\", \"--notify\", \"READY=1\", \"--block\"]; },\n"
                             "  { name = \"top\"; ready = \"notify\";\n"
                             "    command = [\"%s\", \"--sleep-ms\", \"50\", \"--stamp\", \"%s\", \"--notify\", \"READY=1\", \"--block\"]; }\n"
                             ");\n",
                             TW, BOT, TW, L, TW, R, TW, TOP);
        start(&g, conf, NULL, NULL);
        wait_file(BOT);
        wait_log(&g, "bottom: ready");
        long long top = stamp_mono(TOP), l = stamp_mono(L), r = stamp_mono(R), bot = stamp_mono(BOT);
        ck_assert_int_lt(top, l);
        ck_assert_int_lt(top, r);
        ck_assert_int_lt(l, bot);
        ck_assert_int_lt(r, bot);
        /* l and r are independent: both started once top was ready, before either was ready */
        ck_assert_int_lt(h_log_line(&g, "top: ready"), h_log_line(&g, "l: starting:"));
        ck_assert_int_lt(h_log_line(&g, "top: ready"), h_log_line(&g, "r: starting:"));
        ck_assert_int_lt(h_log_line(&g, "r: starting:"), h_log_line(&g, "l: ready"));
        ck_assert_int_lt(h_log_line(&g, "l: starting:"), h_log_line(&g, "r: ready"));
        ck_assert_int_lt(h_log_line(&g, "r: ready"), h_log_line(&g, "bottom: starting:"));
        stop_expect(&g, 0);
        gh_cleanup(&g);
}
END_TEST

/* max_parallel = 1: a oneshot holds the only slot until it exits. */
START_TEST(test_max_parallel)
{
        struct gh g;
        const char *H1, *H2, *GATE, *O, *P, *conf;

        ck_assert_int_eq(gh_init(&g), 0);
        H1 = gh_path(&g, "hold1.stamp");
        H2 = gh_path(&g, "hold2.stamp");
        GATE = gh_path(&g, "gate");
        O = gh_path(&g, "other.stamp");
        P = gh_path(&g, "third.stamp");
        conf = gh_write_file(&g, "graced.conf",
                             "supervisor = { max_parallel = 1; };\n"
                             "workers = (\n"
                             "  { name = \"a_hold\"; type = \"oneshot\";\n"
                             "    command = [\"%s\", \"--stamp\", \"%s\", \"--wait-file\", \"%s\", \"--stamp\", \"%s\"]; },\n"
                             "  { name = \"b_other\"; command = [\"%s\", \"--stamp\", \"%s\", \"--block\"]; },\n"
                             "  { name = \"c_third\"; command = [\"%s\", \"--stamp\", \"%s\", \"--block\"]; }\n"
                             ");\n",
                             TW, H1, GATE, H2, TW, O, TW, P);
        start(&g, conf, NULL, NULL);
        wait_file(H1);
        wait_log(&g, "a_hold: started");
        /* the slot is taken: nobody else may have been started */
        ck_assert_int_eq(h_count_log(&g, "b_other: starting"), 0);
        ck_assert_int_eq(h_count_log(&g, "c_third: starting"), 0);
        ck_assert_int_eq(access(O, F_OK), -1);
        ck_assert_int_eq(access(P, F_OK), -1);
        touch(GATE);
        wait_file(O);
        wait_file(P);
        wait_log(&g, "c_third: ready");
        /* b_other started only once a_hold had exited */
        ck_assert_int_gt(stamp_mono(O), stamp_mono(H2));
        ck_assert_int_lt(h_log_line(&g, "a_hold: done"), h_log_line(&g, "b_other: starting"));
        /* and c_third only once b_other was ready */
        ck_assert_int_lt(h_log_line(&g, "b_other: ready"), h_log_line(&g, "c_third: starting"));
        struct json_object *r = stop_expect(&g, 0);
        ck_assert_str_eq(outcome(r, "a_hold"), "exited");
        ck_assert_str_eq(outcome(r, "b_other"), "stopped");
        gh_cleanup(&g);
}
END_TEST

/* ---- restart ----------------------------------------------------------------- */

START_TEST(test_exec_failure_restarts)
{
        struct gh g;
        const char *conf;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                             "workers = (\n"
                             "  { name = \"bad\"; command = [\"/nonexistent/x\"]; restart = \"on-failure\";\n"
                             "    restart_delay = \"20ms\"; start_limit_burst = 3; start_limit_interval = \"60s\"; },\n"
                             "  { name = \"dep\"; after = [\"bad\"]; command = [\"%s\", \"--block\"]; },\n"
                             "  { name = \"ok\"; command = [\"%s\", \"--block\"]; }\n"
                             ");\n",
                             TW, TW);
        start(&g, conf, NULL, NULL);
        wait_log(&g, "bad: error: failed for good");
        wait_log(&g, "ok: ready");
        ck_assert_int_eq(h_count_log(&g, "bad: error: exec /nonexistent/x: No such file or directory"), 3);
        ck_assert_int_eq(h_count_log(&g, "bad: starting:"), 3);
        ck_assert_int_eq(h_count_log(&g, "bad: restarting in 20ms"), 1);
        ck_assert_int_eq(h_count_log(&g, "bad: restarting in 40ms"), 1);
        ck_assert_int_eq(h_count_log(&g, "failed for good"), 1);
        /* never mistaken for a running worker */
        ck_assert_int_eq(h_count_log(&g, "bad: ready"), 0);
        ck_assert_int_eq(h_count_log(&g, "dep: starting"), 0);
        struct json_object *r = stop_expect(&g, 1);
        ck_assert_str_eq(outcome(r, "bad"), "failed");
        ck_assert_int_eq(h_json_int(h_report_worker(r, "bad"), "restarts"), 2);
        ck_assert_str_eq(outcome(r, "dep"), "not-started");
        ck_assert_str_eq(outcome(r, "ok"), "stopped");
        ck_assert_int_eq(h_json_bool(r, "clean"), 0);
        gh_cleanup(&g);
}
END_TEST

START_TEST(test_exec_failure_no_restart)
{
        struct gh g;
        const char *conf;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                             "workers = ({ name = \"bad\"; command = [\"/nonexistent/x\"]; restart = \"no\"; });\n");
        start(&g, conf, NULL, NULL);
        wait_log(&g, "bad: error: failed for good");
        ck_assert_int_eq(h_count_log(&g, "exec /nonexistent/x: No such file or directory"), 1);
        ck_assert_int_eq(h_count_log(&g, "bad: starting:"), 1);
        ck_assert_int_eq(h_count_log(&g, "restarting"), 0);
        ck_assert_int_eq(h_count_log(&g, "bad: ready"), 0);
        struct json_object *r = stop_expect(&g, 1);
        ck_assert_str_eq(outcome(r, "bad"), "failed");
        ck_assert_int_eq(h_json_int(h_report_worker(r, "bad"), "restarts"), 0);
        gh_cleanup(&g);
}
END_TEST

START_TEST(test_backoff)
{
        struct gh g;
        const char *conf;
        long long t[8];
        size_t n;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                             "workers = ({ name = \"bo\"; command = [\"%s\", \"--exit\", \"1\"];\n"
                             "  restart_delay = \"50ms\"; restart_delay_max = \"400ms\";\n"
                             "  start_limit_burst = 4; start_limit_interval = \"60s\"; });\n",
                             TW);
        start(&g, conf, NULL, NULL);
        wait_log(&g, "bo: error: failed for good");
        ck_assert_int_eq(h_count_log(&g, "bo: starting:"), 4);
        ck_assert_int_eq(h_count_log(&g, "bo: warning: exited 1"), 4);
        ck_assert_int_eq(h_count_log(&g, "bo: restarting in"), 3);
        ck_assert_int_eq(h_count_log(&g, "bo: restarting in 50ms"), 1);
        ck_assert_int_eq(h_count_log(&g, "bo: restarting in 100ms"), 1);
        ck_assert_int_eq(h_count_log(&g, "bo: restarting in 200ms"), 1);
        ck_assert_int_lt(h_log_line(&g, "restarting in 50ms"), h_log_line(&g, "restarting in 100ms"));
        ck_assert_int_lt(h_log_line(&g, "restarting in 100ms"), h_log_line(&g, "restarting in 200ms"));
        ck_assert_int_lt(h_log_line(&g, "restarting in 200ms"), h_log_line(&g, "failed for good"));
        /* the delays really passed between the starts */
        n = line_times(&g, "bo: starting:", t, 8);
        ck_assert_int_eq(n, 4);
        for (size_t i = 0; i < 4; i++)
                ck_assert_int_ge(t[i], 0);
        ck_assert_int_ge(t[1] - t[0], 50 - 1);
        ck_assert_int_ge(t[2] - t[1], 100 - 1);
        ck_assert_int_ge(t[3] - t[2], 200 - 1);
        ck_assert_int_lt(t[3] - t[0], 350 + 3000);
        struct json_object *r = stop_expect(&g, 1);
        ck_assert_str_eq(outcome(r, "bo"), "failed");
        ck_assert_int_eq(h_json_int(h_report_worker(r, "bo"), "restarts"), 3);
        ck_assert_int_eq(h_json_int(h_report_worker(r, "bo"), "exit_code"), 1);
        gh_cleanup(&g);
}
END_TEST

/* The delay stops doubling at restart_delay_max. */
START_TEST(test_backoff_max)
{
        struct gh g;
        const char *conf;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                             "workers = ({ name = \"bo\"; command = [\"%s\", \"--exit\", \"2\"];\n"
                             "  restart_delay = \"10ms\"; restart_delay_max = \"25ms\";\n"
                             "  start_limit_burst = 5; start_limit_interval = \"60s\"; });\n",
                             TW);
        start(&g, conf, NULL, NULL);
        wait_log(&g, "bo: error: failed for good");
        ck_assert_int_eq(h_count_log(&g, "bo: restarting in 10ms"), 1);
        ck_assert_int_eq(h_count_log(&g, "bo: restarting in 20ms"), 1);
        ck_assert_int_eq(h_count_log(&g, "bo: restarting in 25ms"), 2);
        ck_assert_int_eq(h_count_log(&g, "bo: starting:"), 5);
        stop_expect(&g, 1);
        gh_cleanup(&g);
}
END_TEST

START_TEST(test_restart_always)
{
        struct gh g;
        const char *conf;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                             "workers = ({ name = \"al\"; restart = \"always\"; command = [\"%s\", \"--exit\", \"0\"];\n"
                             "  restart_delay = \"20ms\"; start_limit_burst = 3; start_limit_interval = \"60s\"; });\n",
                             TW);
        start(&g, conf, NULL, NULL);
        wait_log(&g, "al: error: failed for good");
        ck_assert_int_eq(h_count_log(&g, "al: exited 0"), 3);
        ck_assert_int_eq(h_count_log(&g, "al: restarting in 20ms"), 1);
        ck_assert_int_eq(h_count_log(&g, "al: restarting in 40ms"), 1);
        ck_assert_int_eq(h_count_log(&g, "al: starting:"), 3);
        ck_assert_int_lt(h_log_line(&g, "al: exited 0"), h_log_line(&g, "al: restarting in 20ms"));
        struct json_object *r = stop_expect(&g, 1);
        ck_assert_int_eq(h_json_int(h_report_worker(r, "al"), "restarts"), 2);
        gh_cleanup(&g);
}
END_TEST

START_TEST(test_on_failure_exit0)
{
        struct gh g;
        const char *conf;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                             "workers = (\n"
                             "  { name = \"of\"; restart = \"on-failure\"; restart_delay = \"10ms\"; command = [\"%s\", \"--exit\", \"0\"]; },\n"
                             "  { name = \"no\"; restart = \"no\"; restart_delay = \"10ms\"; command = [\"%s\", \"--exit\", \"5\"]; }\n"
                             ");\n",
                             TW, TW);
        start(&g, conf, NULL, NULL);
        wait_log(&g, "of: exited 0");
        wait_log(&g, "no: warning: exited 5");
        wait_log(&g, "no: error: failed for good");
        /* a restart would be scheduled in the same step as the exit */
        ck_assert_int_eq(h_count_log(&g, "restarting"), 0);
        ck_assert_int_eq(h_count_log(&g, "of: starting:"), 1);
        ck_assert_int_eq(h_count_log(&g, "no: starting:"), 1);
        ck_assert_int_eq(h_count_log(&g, "of: error"), 0);
        struct json_object *r = stop_expect(&g, 1);
        ck_assert_str_eq(outcome(r, "of"), "exited");
        ck_assert_int_eq(h_json_int(h_report_worker(r, "of"), "exit_code"), 0);
        ck_assert_int_eq(h_json_int(h_report_worker(r, "of"), "restarts"), 0);
        ck_assert_str_eq(outcome(r, "no"), "failed");
        ck_assert_int_eq(h_json_int(h_report_worker(r, "no"), "exit_code"), 5);
        gh_cleanup(&g);
}
END_TEST

START_TEST(test_critical)
{
        struct gh g;
        const char *conf, *S;
        int rc;

        ck_assert_int_eq(gh_init(&g), 0);
        S = gh_path(&g, "other.stamp");
        conf = gh_write_file(&g, "graced.conf",
                             "workers = (\n"
                             "  { name = \"other\"; command = [\"%s\", \"--stamp\", \"%s\", \"--block\"]; },\n"
                             "  { name = \"crit\"; critical = true; command = [\"%s\", \"--wait-file\", \"%s\", \"--exit\", \"3\"];\n"
                             "    restart_delay = \"10ms\"; start_limit_burst = 2; start_limit_interval = \"60s\"; }\n"
                             ");\n",
                             TW, S, TW, gh_path(&g, "other.stamp"));
        start(&g, conf, NULL, NULL);
        /* graced shuts down by itself */
        rc = gh_exit_code(&g, T);
        if (rc != 1)
                gh_dump_log(&g, 40);
        ck_assert_int_eq(rc, 1);
        ck_assert_int_eq(h_count_log(&g, "crit: starting:"), 2);
        ck_assert_int_eq(h_count_log(&g, "crit: error: failed for good"), 1);
        ck_assert_int_eq(h_count_log(&g, "critical worker failed"), 1);
        ck_assert_int_lt(h_log_line(&g, "crit: error: failed for good"), h_log_line(&g, "other: stopping"));
        struct json_object *r = gh_report(&g);
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(h_json_str(r, "reason"), "critical worker crit failed");
        ck_assert_int_eq(h_json_bool(r, "clean"), 0);
        ck_assert_int_eq(h_json_bool(r, "forced"), 0);
        ck_assert_str_eq(outcome(r, "crit"), "failed");
        ck_assert_str_eq(outcome(r, "other"), "stopped");
        ck_assert_str_eq(h_json_str(h_report_worker(r, "other"), "exit_signal"), "SIGTERM");
        ck_assert(!h_pid_alive(stamp_pid(S)));
        gh_cleanup(&g);
}
END_TEST

/* ---- oneshot ----------------------------------------------------------------- */

START_TEST(test_oneshot_gating)
{
        struct gh g;
        const char *I1, *I2, *GATE, *A, *conf;

        ck_assert_int_eq(gh_init(&g), 0);
        I1 = gh_path(&g, "init1.stamp");
        I2 = gh_path(&g, "init2.stamp");
        GATE = gh_path(&g, "gate");
        A = gh_path(&g, "app.stamp");
        conf = gh_write_file(&g, "graced.conf",
                             "workers = (\n"
                             "  { name = \"app\"; after = [\"init\"]; command = [\"%s\", \"--stamp\", \"%s\", \"--block\"]; },\n"
                             "  { name = \"init\"; type = \"oneshot\";\n"
                             "    command = [\"%s\", \"--stamp\", \"%s\", \"--wait-file\", \"%s\", \"--stamp\", \"%s\", \"--exit\", \"0\"]; }\n"
                             ");\n",
                             TW, A, TW, I1, GATE, I2);
        start(&g, conf, NULL, NULL);
        wait_file(I1);
        wait_log(&g, "init: started");
        ck_assert_int_eq(h_count_log(&g, "app: starting"), 0);
        ck_assert_int_eq(access(A, F_OK), -1);
        touch(GATE);
        wait_file(A);
        ck_assert_int_gt(stamp_mono(A), stamp_mono(I2));
        ck_assert_int_lt(h_log_line(&g, "init: exited 0"), h_log_line(&g, "app: starting"));
        struct json_object *r = stop_expect(&g, 0);
        ck_assert_str_eq(outcome(r, "init"), "exited");
        ck_assert_str_eq(outcome(r, "app"), "stopped");
        gh_cleanup(&g);
}
END_TEST

START_TEST(test_oneshot_failure_blocks)
{
        struct gh g;
        const char *conf;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                             "workers = (\n"
                             "  { name = \"init\"; type = \"oneshot\"; restart = \"no\"; command = [\"%s\", \"--exit\", \"4\"]; },\n"
                             "  { name = \"app\"; after = [\"init\"]; command = [\"%s\", \"--block\"]; },\n"
                             "  { name = \"ind\"; command = [\"%s\", \"--block\"]; }\n"
                             ");\n",
                             TW, TW, TW);
        start(&g, conf, NULL, NULL);
        wait_log(&g, "init: warning: exited 4");
        wait_log(&g, "ind: ready");
        ck_assert_msg(h_wait_log(&g, "app: warning: not starting: dependency init failed", T),
                      "the blocked dependent is not reported in the log");
        ck_assert_int_eq(h_count_log(&g, "app: starting"), 0);
        struct json_object *r = stop_expect(&g, 1);
        ck_assert_str_eq(outcome(r, "init"), "failed");
        ck_assert_int_eq(h_json_int(h_report_worker(r, "init"), "exit_code"), 4);
        ck_assert_str_eq(outcome(r, "app"), "not-started");
        ck_assert_str_eq(outcome(r, "ind"), "stopped");
        ck_assert_int_eq(h_count_log(&g, "app: starting"), 0);
        gh_cleanup(&g);
}
END_TEST

/* A worker behind a blocked worker is blocked too: never started, reported
 * not-started, and graced still gets settled and says READY=1. */
START_TEST(test_oneshot_failure_blocks_transitively)
{
        struct gh g;
        struct h_notify n;
        const char *conf;

        ck_assert_int_eq(gh_init(&g), 0);
        ck_assert_int_eq(h_notify_open(&n, g.dir), 0);
        conf = gh_write_file(&g, "graced.conf",
                             "workers = (\n"
                             "  { name = \"init\"; type = \"oneshot\"; restart = \"no\"; command = [\"%s\", \"--exit\", \"4\"]; },\n"
                             "  { name = \"app\"; after = [\"init\"]; command = [\"%s\", \"--block\"]; },\n"
                             "  { name = \"app2\"; after = [\"app\"]; command = [\"%s\", \"--block\"]; }\n"
                             ");\n",
                             TW, TW, TW);
        start(&g, conf, NULL, ARGS(n.env));
        wait_log(&g, "init: error: failed for good");
        ck_assert_msg(h_notify_wait(&n, "READY=1", T), "graced never got ready with a blocked chain");
        h_notify_close(&n); /* nobody reads it from now on: graced must not block on it */
        ck_assert_int_eq(h_count_log(&g, "app: starting"), 0);
        ck_assert_int_eq(h_count_log(&g, "app2: starting"), 0);
        struct json_object *r = stop_expect(&g, 1);
        ck_assert_str_eq(outcome(r, "app"), "not-started");
        ck_assert_str_eq(outcome(r, "app2"), "not-started");
        gh_cleanup(&g);
}
END_TEST

/* ---- process ----------------------------------------------------------------- */

START_TEST(test_env_cwd_umask)
{
        struct gh g;
        const char *R1, *R2, *R3, *WD, *conf, *ns;
        char *t1, *t2, *t3, *v, *wd_real;
        const char *path = getenv("PATH");

        ck_assert_ptr_nonnull(path);
        ck_assert_int_eq(gh_init(&g), 0);
        /* a socket nobody listens on: graced's sd_notify fails, harmlessly */
        ck_assert_int_gt(asprintf((char **)&ns, "NOTIFY_SOCKET=%s", gh_path(&g, "no-systemd.sock")), 0);
        gh_keep(&g, (void *)ns);
        R1 = gh_path(&g, "e1.fds");
        R2 = gh_path(&g, "e2.fds");
        R3 = gh_path(&g, "e4.fds");
        WD = gh_path(&g, "wd");
        ck_assert_int_eq(mkdir(WD, 0755), 0);
        wd_real = realpath(WD, NULL);
        ck_assert_ptr_nonnull(wd_real);
        conf = gh_write_file(&g, "graced.conf",
                             "workers = (\n"
                             "  { name = \"e1\"; env = { GRACED_T_OVER = \"new\"; GRACED_T_ADD = \"added\"; };\n"
                             "    cwd = \"%s\"; umask = 0027; command = [\"%s\", \"--report-fds\", \"%s\", \"--block\"]; },\n"
                             "  { name = \"e2\"; env_clear = true; env = { GRACED_T_ADD = \"added\"; }; umask = \"0077\";\n"
                             "    command = [\"%s\", \"--report-fds\", \"%s\", \"--block\"]; },\n"
                             "  { name = \"e3\"; umask = 0; command = [\"testworker-not-in-path-%d\"]; restart = \"no\"; },\n"
                             "  { name = \"e4\"; umask = 0; command = [\"%s\", \"--report-fds\", \"%s\", \"--block\"]; }\n"
                             ");\n",
                             WD, TW, R1, TW, R2, (int)getpid(), TW, R3);
        start(&g, conf, NULL,
              ARGS("GRACED_T_KEEP=kept", "GRACED_T_OVER=old", ns, "WATCHDOG_USEC=60000000", "WATCHDOG_PID=1",
                   "LISTEN_PID=1", "LISTEN_FDS=2", "LISTEN_FDNAMES=a:b"));
        wait_file(R1);
        wait_file(R2);
        wait_file(R3);
        t1 = h_read_file(R1);
        t2 = h_read_file(R2);
        t3 = h_read_file(R3);
        ck_assert_ptr_nonnull(t1);
        ck_assert_ptr_nonnull(t2);
        ck_assert_ptr_nonnull(t3);

        /* e1: graced's environment plus env, env wins, nothing twice */
        v = h_field_env(t1, "GRACED_T_KEEP");
        ck_assert_pstr_eq(v, "kept");
        free(v);
        v = h_field_env(t1, "GRACED_T_OVER");
        ck_assert_pstr_eq(v, "new");
        free(v);
        ck_assert_int_eq(count_substr(t1, "\nenv GRACED_T_OVER="), 1);
        v = h_field_env(t1, "GRACED_T_ADD");
        ck_assert_pstr_eq(v, "added");
        free(v);
        v = h_field_env(t1, "PATH");
        ck_assert_pstr_eq(v, path);
        free(v);
        /* what systemd gave graced is not passed on */
        static const char *const sd[] = { "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
                                          "LISTEN_PID",    "LISTEN_FDS",    "LISTEN_FDNAMES" };
        for (size_t i = 0; i < sizeof(sd) / sizeof(sd[0]); i++) {
                ck_assert_msg(h_field_env(t1, sd[i]) == NULL, "e1 got %s", sd[i]);
                ck_assert_msg(h_field_env(t2, sd[i]) == NULL, "e2 got %s", sd[i]);
        }
        v = h_field(t1, "cwd");
        ck_assert_pstr_eq(v, wd_real);
        free(v);
        v = h_field(t1, "umask");
        ck_assert_pstr_eq(v, "0027");
        free(v);

        /* e2: PATH and env only */
        v = h_field_env(t2, "PATH");
        ck_assert_pstr_eq(v, path);
        free(v);
        v = h_field_env(t2, "GRACED_T_ADD");
        ck_assert_pstr_eq(v, "added");
        free(v);
        ck_assert_ptr_null(h_field_env(t2, "GRACED_T_KEEP"));
        ck_assert_ptr_null(h_field_env(t2, "RUNTIME_DIRECTORY"));
        ck_assert_int_eq(h_field_count(t2, "env"), 2);
        v = h_field(t2, "umask");
        ck_assert_pstr_eq(v, "0077");
        free(v);

        /* e4: umask 0 really is 0 (not "unset") */
        v = h_field(t3, "umask");
        ck_assert_pstr_eq(v, "0000");
        free(v);
        /* e3: a relative command not found in PATH is an exec failure */
        wait_log(&g, "e3: error: failed for good");
        ck_assert_int_eq(h_count_log(&g, "e3: ready"), 0);

        free(t1);
        free(t2);
        free(t3);
        free(wd_real);
        stop_expect(&g, 1);
        gh_cleanup(&g);
}
END_TEST

static bool hex_zero(const char *text, const char *key)
{
        char *v = h_field(text, key), *end;
        bool zero;

        ck_assert_msg(v != NULL, "no %s in the report", key);
        zero = strtoull(v, &end, 16) == 0 && end != v;
        free(v);
        return zero;
}

static long field_long(const char *text, const char *key)
{
        char *v = h_field(text, key);
        long n;

        ck_assert_msg(v != NULL, "no %s in the report", key);
        n = strtol(v, NULL, 10);
        free(v);
        return n;
}

START_TEST(test_worker_process)
{
        struct gh g;
        const char *R, *S, *conf;
        char *t, *v;
        pid_t pid;

        ck_assert_int_eq(gh_init(&g), 0);
        R = gh_path(&g, "w.fds");
        S = gh_path(&g, "w.stdin");
        conf = gh_write_file(&g, "graced.conf",
                             "workers = ({ name = \"w\"; command = [\"%s\", \"--read-stdin\", \"%s\", \"--report-fds\", \"%s\", \"--block\"]; });\n",
                             TW, S, R);
        start(&g, conf, NULL, NULL);
        wait_file(R);
        t = h_read_file(R);
        ck_assert_ptr_nonnull(t);
        v = h_read_file(S);
        ck_assert_pstr_eq(v, "0\n");
        free(v);
        /* fds 0, 1, 2 only; stdin /dev/null, output pipes */
        ck_assert_int_eq(h_field_count(t, "fd"), 3);
        ck_assert_ptr_nonnull(strstr(t, "fd 0 /dev/null\n"));
        ck_assert_ptr_nonnull(strstr(t, "fd 1 pipe:"));
        ck_assert_ptr_nonnull(strstr(t, "fd 2 pipe:"));
        /* signals reset although graced blocks some and ignores SIGPIPE */
        ck_assert_msg(hex_zero(t, "sigmask"), "signal mask not empty:\n%s", t);
        ck_assert_msg(hex_zero(t, "sigign"), "ignored signals:\n%s", t);
        ck_assert_msg(hex_zero(t, "sigcgt"), "caught signals:\n%s", t);
        /* its own session and process group, child of graced */
        pid = (pid_t)field_long(t, "pid");
        ck_assert_int_gt(pid, 0);
        ck_assert_int_eq(field_long(t, "pgid"), pid);
        ck_assert_int_eq(field_long(t, "sid"), pid);
        ck_assert_int_eq(field_long(t, "ppid"), g.pid);
        ck_assert_int_eq(h_pid_pgid(pid), pid);
        ck_assert_int_ne(h_pid_pgid(g.pid), pid);
        free(t);
        stop_expect(&g, 0);
        gh_cleanup(&g);
}
END_TEST

/* graced inherits an fd without close-on-exec; its worker must not. */
START_TEST(test_worker_fds_inherited)
{
        struct gh g;
        const char *R, *W, *conf, *old;
        char *wrapper, *t, lnk[64], target[PATH_MAX];
        ssize_t n;

        ck_assert_int_eq(gh_init(&g), 0);
        R = gh_path(&g, "w.fds");
        W = gh_write_file(&g, "wrap.sh", "#!/bin/sh\nexec 9<\"$0\" 8>>\"$0.out\"\nexec \"$@\"\n");
        ck_assert_ptr_nonnull(W);
        ck_assert_int_eq(chmod(W, 0755), 0);
        old = getenv("GRACED_WRAPPER");
        ck_assert_int_gt(asprintf(&wrapper, "%s%s%s", W, old ? " " : "", old ? old : ""), 0);
        conf = gh_write_file(&g, "graced.conf",
                             "workers = ({ name = \"w\"; command = [\"%s\", \"--report-fds\", \"%s\", \"--block\"]; });\n",
                             TW, R);
        ck_assert_int_eq(setenv("GRACED_WRAPPER", wrapper, 1), 0);
        start(&g, conf, NULL, NULL);
        if (old)
                setenv("GRACED_WRAPPER", old, 1);
        else
                unsetenv("GRACED_WRAPPER");
        free(wrapper);
        wait_file(R);
        wait_log(&g, "w: ready");
        /* the set-up works: graced does hold fd 9 (unless a wrapper command sits between) */
        if (!old) {
                snprintf(lnk, sizeof(lnk), "/proc/%ld/fd/9", (long)g.pid);
                n = readlink(lnk, target, sizeof(target) - 1);
                ck_assert_int_gt(n, 0);
                target[n] = '\0';
                ck_assert_ptr_nonnull(strstr(target, "wrap.sh"));
        }
        t = h_read_file(R);
        ck_assert_ptr_nonnull(t);
        ck_assert_msg(h_field_count(t, "fd") == 3, "the worker has other fds than 0, 1, 2:\n%s", t);
        for (const char *p = t; (p = strstr(p, "wrap.sh")); p++) {
                const char *bol = p;

                while (bol > t && bol[-1] != '\n')
                        bol--;
                ck_assert_msg(strncmp(bol, "fd ", 3) != 0, "graced's inherited fd reached the worker:\n%s", t);
        }
        free(t);
        stop_expect(&g, 0);
        gh_cleanup(&g);
}
END_TEST

/* graced SIGKILLed: each worker gets its stop signal. */
START_TEST(test_pdeathsig)
{
        struct gh g;
        const char *A, *B, *conf;
        pid_t a, b;

        ck_assert_int_eq(gh_init(&g), 0);
        A = gh_path(&g, "a.stamp");
        B = gh_path(&g, "b.stamp");
        conf = gh_write_file(&g, "graced.conf",
                             "workers = (\n"
                             "  { name = \"a\"; command = [\"%s\", \"--stamp\", \"%s\", \"--block\"]; },\n"
                             /* dies of SIGINT only */
                             "  { name = \"b\"; stop_signal = \"SIGINT\"; command = [\"%s\", \"--ignore\", \"TERM\", \"--stamp\", \"%s\", \"--block\"]; }\n"
                             ");\n",
                             TW, A, TW, B);
        start(&g, conf, NULL, NULL);
        wait_file(A);
        wait_file(B);
        a = stamp_pid(A);
        b = stamp_pid(B);
        ck_assert(h_pid_alive(a));
        ck_assert(h_pid_alive(b));
        ck_assert_int_eq(gh_signal(&g, SIGKILL), 0);
        ck_assert_int_eq(gh_exit_code(&g, T), 128 + SIGKILL);
        ck_assert_msg(h_wait_pid_gone(a, T), "worker a survived graced");
        ck_assert_msg(h_wait_pid_gone(b, T), "worker b (stop_signal SIGINT) survived graced");
        gh_cleanup(&g);
}
END_TEST

/* --subreaper: an orphaned grandchild is re-parented to graced and reaped. */
START_TEST(test_subreaper)
{
        struct gh g;
        const char *F, *conf;
        char want[64];
        pid_t orphan;

        ck_assert_int_eq(gh_init(&g), 0);
        F = gh_path(&g, "orphan.pid");
        conf = gh_write_file(&g, "graced.conf",
                             "workers = ({ name = \"w\"; command = [\"%s\", \"--orphan\", \"%s\", \"--block\"]; });\n",
                             TW, F);
        start(&g, conf, ARGS("--subreaper", "-v"), NULL);
        wait_file(F);
        orphan = stamp_pid(F);
        snprintf(want, sizeof(want), "reaped orphan %ld (", (long)orphan);
        wait_log(&g, want);
        ck_assert(h_wait_pid_reaped(orphan, T));
        stop_expect(&g, 0);
        gh_cleanup(&g);
}
END_TEST

/* Without --subreaper (and not PID 1) graced adopts nothing: the orphan goes
 * to the nearest subreaper above graced, the test process. */
START_TEST(test_no_subreaper)
{
        struct gh g;
        const char *F, *conf;
        pid_t orphan;

        ck_assert_int_eq(gh_init(&g), 0);
        F = gh_path(&g, "orphan.pid");
        conf = gh_write_file(&g, "graced.conf",
                             "workers = ({ name = \"w\"; command = [\"%s\", \"--orphan\", \"%s\", \"--stamp\", \"%s\", \"--block\"]; });\n",
                             TW, F, gh_path(&g, "w.stamp"));
        start(&g, conf, ARGS("-v"), NULL);
        wait_file(gh_path(&g, "w.stamp"));
        orphan = stamp_pid(F);
        ck_assert(h_wait_pid_gone(orphan, T));
        ck_assert_int_eq(h_pid_ppid(orphan), getpid()); /* a zombie of ours */
        ck_assert_int_eq(h_count_log(&g, "reaped orphan"), 0);
        stop_expect(&g, 0);
        gh_cleanup(&g);
}
END_TEST

static bool in_path(const char *prog)
{
        const char *path = getenv("PATH");
        char *copy, *save = NULL;
        bool found = false;

        if (!path)
                return false;
        copy = strdup(path);
        for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
                char *p = h_path(d, prog);
                found = access(p, X_OK) == 0;
                free(p);
        }
        free(copy);
        return found;
}

/* graced as PID 1 of a new pid namespace is a subreaper without being told. */
START_TEST(test_pid1)
{
        struct gh g;
        const char *F, *GATE, *conf, *old;
        char *wrapper, *out = NULL, want[64];
        pid_t orphan;
        int rc;

        if (geteuid() != 0 || !in_path("unshare")) {
                printf("SKIP test_pid1: needs root and unshare(1)\n");
                return;
        }
        rc = h_run(ARGS("unshare", "--pid", "--fork", "--mount-proc", "true"), NULL, T, &out);
        if (rc != 0) {
                printf("SKIP test_pid1: unshare --pid --fork --mount-proc does not work here: %s\n", out ? out : "");
                free(out);
                return;
        }
        free(out);
        ck_assert_int_eq(gh_init(&g), 0);
        F = gh_path(&g, "orphan.pid");
        GATE = gh_path(&g, "gate");
        /* the critical worker ends it all once the test opens the gate:
         * no signal has to cross into the namespace */
        conf = gh_write_file(&g, "graced.conf",
                             "workers = ({ name = \"w\"; critical = true; restart = \"no\";\n"
                             "  command = [\"%s\", \"--orphan\", \"%s\", \"--wait-file\", \"%s\", \"--exit\", \"1\"]; });\n",
                             TW, F, GATE);
        old = getenv("GRACED_WRAPPER");
        ck_assert_int_gt(asprintf(&wrapper, "unshare --pid --fork --mount-proc%s%s", old ? " " : "", old ? old : ""), 0);
        ck_assert_int_eq(setenv("GRACED_WRAPPER", wrapper, 1), 0);
        start(&g, conf, ARGS("-v"), NULL);
        if (old)
                setenv("GRACED_WRAPPER", old, 1);
        else
                unsetenv("GRACED_WRAPPER");
        free(wrapper);
        wait_file(F);
        orphan = stamp_pid(F); /* a pid of the namespace */
        wait_log(&g, "graced[1]: ");
        snprintf(want, sizeof(want), "graced[1]: reaped orphan %ld (", (long)orphan);
        wait_log(&g, want);
        touch(GATE);
        rc = gh_exit_code(&g, T);
        if (rc != 1)
                gh_dump_log(&g, 30);
        ck_assert_int_eq(rc, 1);
        struct json_object *r = gh_report(&g);
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(h_json_str(r, "reason"), "critical worker w failed");
        gh_cleanup(&g);
}
END_TEST

START_TEST(test_sigusr1_status)
{
        struct gh g;
        const char *A, *conf;
        char want[96];

        ck_assert_int_eq(gh_init(&g), 0);
        A = gh_path(&g, "a.stamp");
        conf = gh_write_file(&g, "graced.conf",
                             "workers = (\n"
                             "  { name = \"a\"; command = [\"%s\", \"--stamp\", \"%s\", \"--block\"]; },\n"
                             "  { name = \"b\"; type = \"oneshot\"; command = [\"%s\", \"--exit\", \"0\"]; }\n"
                             ");\n",
                             TW, A, TW);
        start(&g, conf, NULL, NULL);
        wait_file(A);
        wait_log(&g, "a: ready");
        wait_log(&g, "b: done");
        ck_assert_int_eq(gh_signal(&g, SIGUSR1), 0);
        snprintf(want, sizeof(want), "a: running, pid %ld,", (long)stamp_pid(A));
        wait_log(&g, want);
        wait_log(&g, "b: exited, pid 0");
        ck_assert_int_eq(h_count_log(&g, "a: running, pid"), 1);
        ck_assert_int_eq(h_count_log(&g, "b: exited, pid"), 1);
        /* once per signal */
        ck_assert_int_eq(gh_signal(&g, SIGUSR1), 0);
        ck_assert(h_wait_log_count(&g, want, 2, T));
        ck_assert(h_wait_log_count(&g, "b: exited, pid 0", 2, T));
        /* and nothing else happened */
        ck_assert_int_eq(h_count_log(&g, "shutting down"), 0);
        ck_assert(h_pid_alive(stamp_pid(A)));
        stop_expect(&g, 0);
        gh_cleanup(&g);
}
END_TEST

/* Dev mode (asked for by name here; on a terminal it is the default):
 * one line at start with graced's pid, for `kill -USR1`; each worker its
 * own colour. */
/* A descriptor limit that cannot hold every worker is said at start, with
 * the numbers (graced raises its hard limit only with CAP_SYS_RESOURCE:
 * where it could, there is nothing to say). */
START_TEST(test_nofile_warning)
{
        struct gh g;
        const char *conf;
        struct rlimit old, low = { 300, 300 };
        char *path, *limits, *line;
        unsigned long long soft = 0;

        ck_assert_int_eq(gh_init(&g), 0);
        /* 300 - 32 graced's own - 256 control clients = 12; 3 per worker (pidfd,
         * two log pipes) + 1 while it starts: about 3 workers, the file has 4 */
        conf = gh_write_file(&g, "graced.conf", "workers = (%s, %s, %s, %s);\n", (char *)
                             gh_keep(&g, xasprintf("{ name = \"a\"; command = [\"%s\", \"--block\"]; }", TW)),
                             (char *)gh_keep(&g, xasprintf("{ name = \"b\"; command = [\"%s\", \"--block\"]; }", TW)),
                             (char *)gh_keep(&g, xasprintf("{ name = \"c\"; command = [\"%s\", \"--block\"]; }", TW)),
                             (char *)gh_keep(&g, xasprintf("{ name = \"d\"; command = [\"%s\", \"--block\"]; }", TW)));
        ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
        start(&g, conf, NULL, NULL);
        /* without CAP_SYS_RESOURCE a lowered hard limit stays lowered: this
         * test runs in a process of its own (check forks each test) */
        (void)setrlimit(RLIMIT_NOFILE, &old);
        wait_log(&g, "running: 4/4 workers");
        path = xasprintf("/proc/%d/limits", (int)g.pid);
        limits = h_read_file(path);
        free(path);
        ck_assert_ptr_nonnull(limits);
        line = strstr(limits, "Max open files");
        ck_assert_ptr_nonnull(line);
        ck_assert_int_eq(sscanf(line, "Max open files %llu", &soft), 1);
        free(limits);
        if (soft <= 300)
                ck_assert_int_eq(
                        h_count_log(&g, "warning: descriptor limit 300 allows about 3 workers; this configuration has 4"), 1);
        else /* raised its hard limit: nothing to say */
                ck_assert_int_eq(h_count_log(&g, "descriptor limit"), 0);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

START_TEST(test_dev_mode)
{
        static const char *const names[] = { "db", "web", "jobs" };
        struct gh g;
        const char *conf;
        char *log, *want, *colors[3] = { 0 };
        int banners = 0;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                             "workers = (\n"
                             "  { name = \"db\"; command = [\"%s\", \"--print\", \"1\", \"--block\"]; },\n"
                             "  { name = \"web\"; command = [\"%s\", \"--print\", \"1\", \"--block\"]; },\n"
                             "  { name = \"jobs\"; command = [\"%s\", \"--print\", \"1\", \"--block\"]; }\n"
                             ");\n",
                             TW, TW, TW);
        start(&g, conf, ARGS("--log-format=dev", "--color=always"), NULL);
        wait_log(&g, "running: 3/3 workers");
        ck_assert_int_gt(asprintf(&want,
                                  "\033[1m>>> graced %d: supervising 3 workers from %s (Ctrl+C stops, again forces)"
                                  "\033[0m",
                                  (int)g.pid, conf),
                         0);
        log = h_log_contents(&g);
        ck_assert_ptr_nonnull(log);
        for (char *line = log; *line;) {
                char *end = strchrnul(line, '\n');
                char *m;

                if (strstr(line, ">>> graced ") && strstr(line, ">>> graced ") < end) {
                        banners++;
                        ck_assert_msg((size_t)(end - line) == strlen(want) && strncmp(line, want, strlen(want)) == 0,
                                      "start line \"%.*s\", wanted \"%s\"", (int)(end - line), line, want);
                }
                /* "\033[36mdb     |\033[0m ..." */
                for (size_t i = 0; i < 3; i++) {
                        size_t len = strlen(names[i]);

                        m = strchr(line, 'm');
                        if (strncmp(line, "\033[", 2) == 0 && m && m < end && strncmp(m + 1, names[i], len) == 0 &&
                            m[1 + len] == ' ' && !colors[i])
                                colors[i] = strndup(line, (size_t)(m + 1 - line));
                }
                line = *end ? end + 1 : end;
        }
        ck_assert_int_eq(banners, 1);
        for (size_t i = 0; i < 3; i++)
                ck_assert_msg(colors[i] != NULL, "no coloured line of %s", names[i]);
        ck_assert_str_ne(colors[0], colors[1]);
        ck_assert_str_ne(colors[1], colors[2]);
        ck_assert_str_ne(colors[0], colors[2]);
        for (size_t i = 0; i < 3; i++)
                free(colors[i]);
        free(log);
        free(want);
        stop_expect(&g, 0);
        gh_cleanup(&g);
}
END_TEST

START_TEST(test_no_workers)
{
        struct gh g;
        const char *conf;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf", "workers = ();\n");
        start(&g, conf, ARGS("--log-format=json"), NULL);
        wait_log(&g, "\"event\":\"ready\"");
        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert_int_eq(gh_exit_code(&g, T), 0);
        struct json_object *r = gh_report(&g);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(h_json_len(r, "workers"), 0);
        ck_assert_int_eq(h_json_bool(r, "clean"), 1);
        ck_assert_str_eq(h_json_str(r, "reason"), "SIGTERM");
        gh_cleanup(&g);
}
END_TEST

/* ---- output ---------------------------------------------------------------------- */

#define MILLION 1000000

START_TEST(test_million_lines)
{
        struct gh g;
        const char *conf;
        char *log;
        long expect = 1, bad_at = -1, records = 0;
        const char tag[] = "big[stdout]: ";

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                             "workers = ({ name = \"big\"; type = \"oneshot\"; command = [\"%s\", \"--lines-fast\", \"%d\"]; });\n",
                             TW, MILLION);
        start(&g, conf, NULL, NULL);
        ck_assert(h_wait_log(&g, "big: done", 30000));
        /* at once: what is still in the pipe must be drained before graced exits */
        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert_int_eq(gh_exit_code(&g, 30000), 0);
        log = h_log_contents(&g);
        ck_assert_ptr_nonnull(log);
        for (char *line = log; *line;) {
                char *end = strchr(line, '\n');
                const char *t;

                if (!end)
                        end = line + strlen(line);
                t = after_prefix(line, end);
                if (t && (size_t)(end - t) >= sizeof(tag) - 1 && memcmp(t, tag, sizeof(tag) - 1) == 0) {
                        const char *num = t + sizeof(tag) - 1;
                        char *e;
                        long v = strtol(num, &e, 10);

                        records++;
                        if (e != end || v != expect) {
                                if (bad_at < 0) {
                                        bad_at = expect;
                                        fprintf(stderr, "record %ld: expected '%ld', got '%.*s'\n", records, expect,
                                                (int)(end - num > 80 ? 80 : end - num), num);
                                }
                        }
                        expect = v + 1;
                }
                line = *end ? end + 1 : end;
        }
        free(log);
        ck_assert_int_eq(records, MILLION);
        ck_assert_int_eq(bad_at, -1);
        ck_assert_int_eq(expect, MILLION + 1);
        gh_cleanup(&g);
}
END_TEST

START_TEST(test_lines_exact)
{
        struct gh g;
        const char *conf;
        char **v;
        size_t n;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                             "workers = (\n"
                             "  { name = \"part\"; type = \"oneshot\"; command = [\"%s\", \"--print\", \"3\", \"--no-newline\", \"--print\", \"2\"]; },\n"
                             "  { name = \"p4096\"; type = \"oneshot\"; command = [\"%s\", \"--print-bytes\", \"4096\", \"--print\", \"1\"]; },\n"
                             "  { name = \"p4097\"; type = \"oneshot\"; command = [\"%s\", \"--print-bytes\", \"4097\", \"--print\", \"1\"]; },\n"
                             "  { name = \"p8192\"; type = \"oneshot\"; command = [\"%s\", \"--print-bytes\", \"8193\"]; },\n"
                             "  { name = \"perr\"; type = \"oneshot\"; command = [\"%s\", \"--print\", \"1\", \"--print-err\", \"2\"]; },\n"
                             "  { name = \"pblk\"; command = [\"%s\", \"--no-newline\", \"--print\", \"1\", \"--stamp\", \"%s\", \"--block\"]; }\n"
                             ");\n",
                             TW, TW, TW, TW, TW, TW, gh_path(&g, "pblk.stamp"));
        start(&g, conf, NULL, NULL);
        wait_log(&g, "part: done");
        wait_log(&g, "p4096: done");
        wait_log(&g, "p4097: done");
        wait_log(&g, "p8192: done");
        wait_log(&g, "perr: done");
        wait_log(&g, "pblk: ready");
        /* written once its partial line is out (ready only says it exec'd) */
        ck_assert(h_wait_file(gh_path(&g, "pblk.stamp"), T));
        /* a partial line of a running worker is delivered once its pipe closes */
        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert_int_eq(gh_exit_code(&g, T), 0);

        /* "line 1".."line 3\n" then "line 1\nline 2" (no newline at the end) */
        v = records(&g, "part", "stdout", &n);
        ck_assert_int_eq(n, 5);
        ck_assert_str_eq(v[0], "line 1");
        ck_assert_str_eq(v[2], "line 3");
        ck_assert_str_eq(v[3], "line 1");
        ck_assert_str_eq(v[4], "line 2");
        free_strv(v);

        v = records(&g, "p4096", "stdout", &n);
        ck_assert_int_eq(n, 2);
        ck_assert_msg(all_x(v[0], 4096), "the 4096-byte line is not one record (%zu bytes)", strlen(v[0]));
        ck_assert_str_eq(v[1], "line 1");
        free_strv(v);

        v = records(&g, "p4097", "stdout", &n);
        ck_assert_int_eq(n, 3);
        ck_assert(all_x(v[0], 4096));
        ck_assert_str_eq(v[1], "x");
        ck_assert_str_eq(v[2], "line 1");
        free_strv(v);

        v = records(&g, "p8192", "stdout", &n);
        ck_assert_int_eq(n, 3);
        ck_assert(all_x(v[0], 4096));
        ck_assert(all_x(v[1], 4096));
        ck_assert_str_eq(v[2], "x");
        free_strv(v);

        v = records(&g, "perr", "stdout", &n);
        ck_assert_int_eq(n, 1);
        ck_assert_str_eq(v[0], "line 1");
        free_strv(v);
        v = records(&g, "perr", "stderr", &n);
        ck_assert_int_eq(n, 2);
        ck_assert_str_eq(v[0], "line 1");
        ck_assert_str_eq(v[1], "line 2");
        free_strv(v);

        v = records(&g, "pblk", "stdout", &n);
        ck_assert_int_eq(n, 1);
        ck_assert_str_eq(v[0], "line 1");
        free_strv(v);
        gh_cleanup(&g);
}
END_TEST

/* graced with --log-format=json on conf until its oneshot worker is done,
 * then stopped: its log (malloc'd). */
static char *json_log_of(struct gh *g, const char *conf)
{
        char *log;

        start(g, conf, ARGS("--log-format=json"), NULL);
        wait_log(g, "\"msg\":\"done\"");
        ck_assert_int_eq(gh_signal(g, SIGTERM), 0);
        ck_assert_int_eq(gh_exit_code(g, T), 0);
        log = h_log_contents(g);
        ck_assert_ptr_nonnull(log);
        return log;
}

START_TEST(test_json_output)
{
        struct gh g;
        const char *conf;
        char *log;
        int lines = 0, out_n = 0, err_n = 0;
        char x4096[4097];
        const char *got_out[16] = { 0 };
        struct json_object *objs[64] = { 0 };
        int nobj = 0;

        memset(x4096, 'x', 4096);
        x4096[4096] = '\0';
        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                             "workers = ({ name = \"js\"; type = \"oneshot\";\n"
                             "  command = [\"%s\", \"--print\", \"2\", \"--print-err\", \"1\", \"--print-bytes\", \"4097\",\n"
                             "             \"--no-newline\", \"--print\", \"1\"]; });\n",
                             TW);
        log = json_log_of(&g, conf);
        for (char *line = log; *line;) {
                char *end = strchr(line, '\n');
                struct json_object *o;
                enum json_tokener_error jerr;

                ck_assert_msg(end != NULL, "last log line without newline");
                *end = '\0';
                o = json_tokener_parse_verbose(line, &jerr);
                ck_assert_msg(o && json_object_is_type(o, json_type_object), "not a JSON object: %.200s", line);
                lines++;
                ck_assert_ptr_nonnull(h_json_str(o, "ts"));
                ck_assert_ptr_nonnull(h_json_str(o, "level"));
                ck_assert(h_json_has(o, "worker"));
                ck_assert_ptr_nonnull(h_json_str(o, "event"));
                ck_assert_ptr_nonnull(h_json_str(o, "msg"));
                if (strcmp(h_json_str(o, "event"), "output") == 0) {
                        const char *stream = h_json_str(o, "stream");

                        ck_assert_pstr_eq(h_json_str(o, "worker"), "js");
                        ck_assert_ptr_nonnull(stream);
                        if (strcmp(stream, "stdout") == 0) {
                                ck_assert_int_lt(out_n, 16);
                                got_out[out_n++] = h_json_str(o, "msg");
                        } else {
                                ck_assert_str_eq(stream, "stderr");
                                ck_assert_str_eq(h_json_str(o, "msg"), "line 1");
                                err_n++;
                        }
                }
                if (nobj < 64)
                        objs[nobj++] = o;
                else
                        json_object_put(o);
                line = end + 1;
        }
        ck_assert_int_gt(lines, 5);
        ck_assert_int_eq(err_n, 1);
        ck_assert_int_eq(out_n, 5);
        ck_assert_str_eq(got_out[0], "line 1");
        ck_assert_str_eq(got_out[1], "line 2");
        ck_assert_str_eq(got_out[2], x4096);
        ck_assert_str_eq(got_out[3], "x");
        ck_assert_str_eq(got_out[4], "line 1"); /* the last line, without newline */
        for (int i = 0; i < nobj; i++)
                json_object_put(objs[i]);
        free(log);
        gh_cleanup(&g);
}
END_TEST

/* A worker's bytes are not always UTF-8, and a 4-byte character can
 * straddle the 4096-byte cap: every JSON line graced writes is still valid
 * UTF-8 that json-c parses, each invalid sequence replaced by U+FFFD, valid
 * characters kept (the cap cuts before a character, not through it). */
START_TEST(test_json_output_utf8)
{
        struct gh g;
        const char *conf;
        char *log;
        const char *msgs[8] = { 0 };
        struct json_object *objs[64] = { 0 };
        int nobj = 0, n = 0;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                             "workers = ({ name = \"bin\"; type = \"oneshot\";\n"
                             "  command = [\"/bin/sh\", \"-c\", \"printf '\\\\377\\\\303(\\\\n'; "
                             "printf '%%4095s' '' | tr ' ' a; printf '\\\\360\\\\237\\\\230\\\\200\\\\n'; "
                             "printf 'caf\\\\303\\\\251 \\\\360\\\\237\\\\230\\\\200 "
                             "\\\\355\\\\240\\\\200\\\\n'\"]; });\n");
        log = json_log_of(&g, conf);
        for (char *line = log; *line;) {
                char *end = strchr(line, '\n');
                struct json_object *o;

                ck_assert_msg(end != NULL, "last log line without newline");
                *end = '\0';
                ck_assert_msg(h_valid_utf8(line, (size_t)(end - line)), "log line is not UTF-8: %.300s", line);
                o = json_tokener_parse(line);
                ck_assert_msg(o && json_object_is_type(o, json_type_object), "not a JSON object: %.200s", line);
                if (strcmp(h_json_str(o, "event"), "output") == 0) {
                        ck_assert_int_lt(n, 8);
                        msgs[n++] = h_json_str(o, "msg");
                }
                ck_assert_int_lt(nobj, 64);
                objs[nobj++] = o;
                line = end + 1;
        }
        ck_assert_int_eq(n, 4);
        ck_assert_str_eq(msgs[0], U_FFFD U_FFFD "(");
        /* 4095 a, then the character whole: the cap cuts before it */
        ck_assert_uint_eq(strlen(msgs[1]), 4095);
        ck_assert_uint_eq(strspn(msgs[1], "a"), 4095);
        ck_assert_str_eq(msgs[2], "\xf0\x9f\x98\x80");
        ck_assert_str_eq(msgs[3], "caf\xc3\xa9 \xf0\x9f\x98\x80 " U_FFFD U_FFFD U_FFFD);
        for (int i = 0; i < nobj; i++)
                json_object_put(objs[i]);
        free(log);
        gh_cleanup(&g);
}
END_TEST

/* A line longer than 4096 bytes is cut at the last character boundary at
 * or before 4096 bytes: a multi-byte character that straddles byte 4096
 * starts the next record whole, so both JSON records parse, hold no U+FFFD,
 * and together are the line, byte for byte. */
START_TEST(test_json_output_utf8_cut)
{
        static const struct {
                char pad;
                size_t n;
                const char *ch;
        } lines[] = {
                { 'a', 4095, "\xc3\xa9" },         /* é: 1 byte + 1 */
                { 'b', 4094, "\xe2\x82\xac" },     /* €: 2 + 1 */
                { 'c', 4093, "\xf0\x9f\x98\x80" }, /* U+1F600: 3 + 1 */
                { 'd', 4095, "\xf0\x9f\x98\x80" }, /* 1 + 3 */
        };
        enum { N = sizeof lines / sizeof lines[0] };
        struct gh g;
        const char *conf;
        char *log, *line, *orig[N], text[N * 4104] = "";
        size_t n = 0;
        struct json_object *objs[16] = { 0 };
        const char *msgs[16] = { 0 };

        /* each line: the padding, the character, ";" */
        for (size_t i = 0; i < N; i++) {
                orig[i] = malloc(lines[i].n + 8);
                ck_assert_ptr_nonnull(orig[i]);
                memset(orig[i], lines[i].pad, lines[i].n);
                sprintf(orig[i] + lines[i].n, "%s;", lines[i].ch);
                strcat(strcat(text, orig[i]), "\n");
        }
        ck_assert_int_eq(gh_init(&g), 0);
        ck_assert_ptr_nonnull(gh_write_file(&g, "lines.txt", "%s", text));
        conf = gh_write_file(&g, "graced.conf",
                             "workers = ({ name = \"cut\"; type = \"oneshot\"; command = [\"/bin/cat\", \"%s\"]; });\n",
                             gh_path(&g, "lines.txt"));
        log = json_log_of(&g, conf);
        for (line = log; *line;) {
                char *end = strchr(line, '\n');
                struct json_object *o;

                ck_assert_msg(end != NULL, "last log line without newline");
                *end = '\0';
                o = json_tokener_parse(line);
                ck_assert_msg(o && json_object_is_type(o, json_type_object), "not a JSON object: %.200s", line);
                if (strcmp(h_json_str(o, "event"), "output") == 0) {
                        ck_assert_int_lt(n, sizeof msgs / sizeof msgs[0]);
                        objs[n] = o;
                        msgs[n++] = h_json_str(o, "msg");
                } else {
                        json_object_put(o);
                }
                line = end + 1;
        }
        ck_assert_int_eq(n, 2 * N);
        for (size_t i = 0; i < N; i++) {
                const char *first = msgs[2 * i], *second = msgs[2 * i + 1];
                char *both;

                /* the cut is right before the character */
                ck_assert_msg(strlen(first) == lines[i].n, "line %zu: the first record has %zu bytes, not %zu", i,
                              strlen(first), lines[i].n);
                ck_assert_int_ge(asprintf(&both, "%s%s", first, second), 0);
                ck_assert_msg(strcmp(both, orig[i]) == 0, "line %zu: the records are not the line: ...%s | %s", i,
                              first + strlen(first) - 4, second);
                free(both);
                free(orig[i]);
        }
        for (size_t i = 0; i < n; i++)
                json_object_put(objs[i]);
        free(log);
        gh_cleanup(&g);
}
END_TEST

/* A worker with stderr = "inherit" shares the open file behind graced's
 * stderr: graced must never make that description non-blocking, or the
 * worker (and a shell holding it) gets EAGAIN. */
START_TEST(test_inherit_stays_blocking)
{
        struct gh g;
        const char *F, *conf;
        char *text, *flags;
        unsigned long fl;

        ck_assert_int_eq(gh_init(&g), 0);
        F = gh_path(&g, "fdinfo.txt");
        conf = gh_write_file(&g, "graced.conf",
                             "workers = (\n"
                             "  { name = \"inh\"; stderr = \"inherit\";\n"
                             "    command = [\"/bin/sh\", \"-c\", \"cat /proc/$$/fdinfo/2 > %s.tmp; mv %s.tmp %s; exec sleep 300\"]; }\n"
                             ");\n",
                             F, F, F);
        start(&g, conf, NULL, NULL);
        ck_assert(h_wait_log(&g, "running: 1/1 workers", T));
        ck_assert(h_wait_file(F, T));
        text = h_read_file(F);
        ck_assert_ptr_nonnull(text);
        flags = strstr(text, "flags:");
        ck_assert_ptr_nonnull(flags);
        fl = strtoul(flags + 6, NULL, 8);
        ck_assert_msg((fl & O_NONBLOCK) == 0, "the inherited stderr is non-blocking (flags %lo)", fl);
        free(text);
        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert_int_eq(gh_exit_code(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

START_TEST(test_output_null_inherit_file)
{
        struct gh g;
        const char *F, *conf;
        char *text;
        char **v;
        size_t n;
        static const char once[] = "line 1\nline 2\nline 1\n";

        ck_assert_int_eq(gh_init(&g), 0);
        F = gh_write_file(&g, "out.txt", "pre\n");
        conf = gh_write_file(&g, "graced.conf",
                             "workers = (\n"
                             "  { name = \"wnull\"; type = \"oneshot\"; stdout = \"null\"; stderr = \"null\";\n"
                             "    command = [\"%s\", \"--print\", \"3\", \"--print-err\", \"3\"]; },\n"
                             "  { name = \"winh\"; type = \"oneshot\"; stdout = \"inherit\";\n"
                             "    command = [\"%s\", \"--print\", \"1\", \"--print-err\", \"1\"]; },\n"
                             "  { name = \"wfile\"; type = \"oneshot\"; stdout = \"%s\"; stderr = \"%s\";\n"
                             "    command = [\"%s\", \"--print\", \"2\", \"--print-err\", \"1\"]; }\n"
                             ");\n",
                             TW, TW, F, F, TW);
        for (int run = 1; run <= 2; run++) {
                start(&g, conf, NULL, NULL);
                ck_assert(h_wait_log_count(&g, "wnull: done", run, T));
                ck_assert(h_wait_log_count(&g, "winh: done", run, T));
                ck_assert(h_wait_log_count(&g, "wfile: done", run, T));
                ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
                ck_assert_int_eq(gh_exit_code(&g, T), 0);
        }
        /* null: nothing anywhere */
        v = records(&g, "wnull", "stdout", &n);
        ck_assert_int_eq(n, 0);
        free_strv(v);
        v = records(&g, "wnull", "stderr", &n);
        ck_assert_int_eq(n, 0);
        free_strv(v);
        /* inherit: graced's own stdout (the log file), raw; stderr still captured */
        text = h_log_contents(&g);
        ck_assert_ptr_nonnull(text);
        ck_assert_int_eq(count_exact_lines(text, "line 1"), 2);
        ck_assert_int_eq(count_exact_lines(text, "line 2"), 0);
        free(text);
        v = records(&g, "winh", "stdout", &n);
        ck_assert_int_eq(n, 0);
        free_strv(v);
        v = records(&g, "winh", "stderr", &n);
        ck_assert_int_eq(n, 2);
        free_strv(v);
        /* a file: appended by both streams, by both runs */
        v = records(&g, "wfile", "stdout", &n);
        ck_assert_int_eq(n, 0);
        free_strv(v);
        text = h_read_file(F);
        ck_assert_ptr_nonnull(text);
        char *want;
        ck_assert_int_gt(asprintf(&want, "pre\n%s%s", once, once), 0);
        ck_assert_str_eq(text, want);
        free(want);
        free(text);
        gh_cleanup(&g);
}
END_TEST

/* ---- main -------------------------------------------------------------------- */

static TCase *tcase(Suite *s, const char *name) { return h_tcase(s, name, 60); }

static Suite *suite(void)
{
        Suite *s = suite_create("run");
        TCase *tc;

        tc = tcase(s, "order");
        tcase_add_test(tc, test_order_chain);
        tcase_add_test(tc, test_order_diamond);
        tcase_add_test(tc, test_max_parallel);

        tc = tcase(s, "restart");
        tcase_add_test(tc, test_exec_failure_restarts);
        tcase_add_test(tc, test_exec_failure_no_restart);
        tcase_add_test(tc, test_backoff);
        tcase_add_test(tc, test_backoff_max);
        tcase_add_test(tc, test_restart_always);
        tcase_add_test(tc, test_on_failure_exit0);
        tcase_add_test(tc, test_critical);

        tc = tcase(s, "oneshot");
        tcase_add_test(tc, test_oneshot_gating);
        tcase_add_test(tc, test_oneshot_failure_blocks);
        tcase_add_test(tc, test_oneshot_failure_blocks_transitively);

        tc = tcase(s, "process");
        tcase_add_test(tc, test_env_cwd_umask);
        tcase_add_test(tc, test_worker_process);
        tcase_add_test(tc, test_worker_fds_inherited);
        tcase_add_test(tc, test_pdeathsig);
        tcase_add_test(tc, test_subreaper);
        tcase_add_test(tc, test_no_subreaper);
        tcase_add_test(tc, test_pid1);
        tcase_add_test(tc, test_sigusr1_status);
        tcase_add_test(tc, test_no_workers);
        tcase_add_test(tc, test_dev_mode);
        tcase_add_test(tc, test_nofile_warning);

        tc = tcase(s, "output");
        tcase_add_test(tc, test_million_lines);
        tcase_add_test(tc, test_lines_exact);
        tcase_add_test(tc, test_json_output);
        tcase_add_test(tc, test_json_output_utf8);
        tcase_add_test(tc, test_json_output_utf8_cut);
        tcase_add_test(tc, test_output_null_inherit_file);
        tcase_add_test(tc, test_inherit_stays_blocking);
        return s;
}

int main(void)
{
        (void)h_graced(); /* fail early and clearly when unset */
        (void)h_testworker();
        return h_run_suite(suite());
}
