/* check_shutdown.c - graced's shutdown, end to end: a real graced, real
 * signals (kill()), real workers (tests/helpers/testworker), its log, the
 * files its workers and hooks leave and its JSON report.
 *
 * "order":   the stop order (chain, diamond, max_parallel = 1 and 4), proven
 *            by the lines pre_stop/post_stop hooks append and by the
 *            report's worker order.
 * "signals": SIGTERM/SIGINT (graceful, exit 0), a signal while workers are
 *            still starting, a burst within signal_debounce, the
 *            force_after-th accepted signal, SIGQUIT, force_after = 0 under a
 *            storm of signals.
 * "bounds":  stop_timeout (SIGKILL), the worker's process group, pre_stop
 *            and post_stop bounds and failures, shutdown_timeout with
 *            shielded and unshielded cleanup steps, a forcing signal during
 *            a shielded step.
 * "report":  failed workers, workers ending by themselves during the
 *            shutdown, no workers, an unwritable report path, the report's
 *            facts against what the workers observed.
 *
 * Every wait is on an event (a log line, a file, an exit) with a bound;
 * h_sleep_ms only lets a debounce window pass.
 *
 * Needs GRACED_BIN, GRACED_TESTWORKER. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "harness.h"

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define T 5000 /* ms: generous bound for things that happen at once */

/* ---- helpers ---------------------------------------------------------------------------- */

static const char *tw(void) { return h_testworker(); }

/* Starts graced on conf and waits until every one of its n workers is up. */
static void start_ready(struct gh *g, const char *conf, const char *const *extra_args, int n)
{
        char want[64];

        ck_assert_int_eq(gh_start(g, conf, extra_args, NULL), 0);
        snprintf(want, sizeof want, "running: %d/%d workers", n, n);
        ck_assert_msg(h_wait_log(g, want, T), "graced never logged '%s'", want);
}

/* The report, which must exist and parse. */
static struct json_object *report(struct gh *g)
{
        struct json_object *r = gh_report(g);

        ck_assert_msg(r != NULL, "no parsable report at %s", g->report_path);
        return r;
}

static struct json_object *worker(struct json_object *r, const char *name)
{
        struct json_object *w = h_report_worker(r, name);

        ck_assert_msg(w != NULL, "worker %s missing from the report", name);
        return w;
}

static void assert_str(struct json_object *o, const char *key, const char *want)
{
        const char *got = h_json_str(o, key);

        ck_assert_msg(got && strcmp(got, want) == 0, "%s: want \"%s\", got %s%s%s (%s)", key, want,
                      got ? "\"" : "", got ? got : "(not a string)", got ? "\"" : "",
                      o ? json_object_to_json_string(o) : "null");
}

static void assert_null(struct json_object *o, const char *key)
{
        ck_assert_msg(h_json_is_null(o, key), "%s: want null (%s)", key, o ? json_object_to_json_string(o) : "null");
}

static void assert_int(struct json_object *o, const char *key, long long want)
{
        long long got = h_json_int(o, key);

        ck_assert_msg(got == want, "%s: want %lld, got %lld (%s)", key, want, got,
                      o ? json_object_to_json_string(o) : "null");
}

static void assert_bool(struct json_object *o, const char *key, int want)
{
        ck_assert_msg(h_json_bool(o, key) == want, "%s: want %s (%s)", key, want ? "true" : "false",
                      o ? json_object_to_json_string(o) : "null");
}

/* The outcome of hook "pre_stop"/"post_stop" of worker w. */
static struct json_object *hook(struct json_object *w, const char *which)
{
        struct json_object *h = h_json_get(w, which);

        ck_assert_msg(h != NULL, "%s missing or null (%s)", which, json_object_to_json_string(w));
        return h;
}

/* The whole file must be exactly want. */
static void assert_file(const char *path, const char *want)
{
        char *got = h_read_file(path);

        ck_assert_msg(got != NULL, "cannot read %s: %s", path, strerror(errno));
        ck_assert_msg(strcmp(got, want) == 0, "%s: want\n%s---- got\n%s----", path, want, got);
        free(got);
}

/* The n lines of a file (malloc'd array of malloc'd strings). */
static char **file_lines(const char *path, int *n)
{
        char *text = h_read_file(path), *save = NULL, **v = NULL;

        ck_assert_msg(text != NULL, "cannot read %s", path);
        *n = 0;
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                v = realloc(v, (size_t)(*n + 1) * sizeof *v);
                ck_assert_ptr_nonnull(v);
                v[(*n)++] = strdup(l);
        }
        free(text);
        return v;
}

static void free_lines(char **v, int n)
{
        for (int i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

/* Waits for the stamps NAME.stamp of the named workers (NULL-terminated).
 * A worker writes its stamp after setting up its signal handling (--stamp
 * comes after --ignore / --on-signal*), so once it is there a signal meets
 * the disposition the test asked for. */
static void wait_stamps(struct gh *g, ...)
{
        va_list ap;
        const char *name;

        va_start(ap, g);
        while ((name = va_arg(ap, const char *))) {
                char file[80];

                snprintf(file, sizeof file, "%s.stamp", name);
                ck_assert_msg(h_wait_file(gh_path(g, file), T), "no %s", file);
        }
        va_end(ap);
}

/* SIGTERM/SIGINT once graced runs; exit code within T. */
static int stop(struct gh *g, int sig)
{
        ck_assert_int_eq(gh_signal(g, sig), 0);
        return gh_exit_code(g, T);
}

/* No temporary file of the atomic report write is left next to it. */
static void assert_no_report_tmp(struct gh *g)
{
        DIR *d = opendir(g->dir);
        struct dirent *e;

        ck_assert_ptr_nonnull(d);
        while ((e = readdir(d)))
                ck_assert_msg(strncmp(e->d_name, "report.json", 11) != 0 || e->d_name[11] == '\0',
                              "left behind: %s", e->d_name);
        closedir(d);
}

/* ---- order -------------------------------------------------------------------------------- */

/* c after b after a: c stops first, a last; each worker's pre_stop runs
 * before and its post_stop after its own stop, and the next one begins
 * only once the previous one's post_stop is done. */
START_TEST(test_chain)
{
        struct gh g;
        const char *conf, *out;
        struct json_object *r;

        ck_assert_int_eq(gh_init(&g), 0);
        out = gh_path(&g, "order");
        conf = gh_write_file(&g, "graced.conf",
                "workers = (\n"
                "  { name = \"wa\"; command = [\"%1$s\", \"--block\"];\n"
                "    pre_stop = [\"%1$s\", \"--append\", \"%2$s\", \"pre wa\"];\n"
                "    post_stop = [\"/bin/sh\", \"-c\", \"echo post wa >> %2$s\"]; },\n"
                "  { name = \"wb\"; after = [\"wa\"]; command = [\"%1$s\", \"--on-signal\", \"TERM\", \"0\", \"--stamp\", \"%3$s\", \"--block\"];\n"
                "    pre_stop = [\"/bin/sh\", \"-c\", \"echo pre wb >> %2$s\"];\n"
                "    post_stop = [\"%1$s\", \"--append\", \"%2$s\", \"post wb\"]; },\n"
                "  { name = \"wc\"; after = [\"wb\"]; command = [\"%1$s\", \"--on-signal-delay\", \"TERM\", \"100\", \"0\", \"--stamp\", \"%4$s\", \"--block\"];\n"
                "    pre_stop = [\"%1$s\", \"--append\", \"%2$s\", \"pre wc\"];\n"
                "    post_stop = [\"%1$s\", \"--append\", \"%2$s\", \"post wc\"]; }\n"
                ");\n",
                tw(), out, gh_path(&g, "wb.stamp"), gh_path(&g, "wc.stamp"));
        start_ready(&g, conf, NULL, 3);
        wait_stamps(&g, "wb", "wc", NULL);
        ck_assert_int_eq(stop(&g, SIGTERM), 0);
        assert_file(out, "pre wc\npost wc\npre wb\npost wb\npre wa\npost wa\n");
        r = report(&g);
        ck_assert_int_eq(h_json_len(r, "workers"), 3);
        ck_assert_int_eq(h_report_worker_pos(r, "wc"), 0);
        ck_assert_int_eq(h_report_worker_pos(r, "wb"), 1);
        ck_assert_int_eq(h_report_worker_pos(r, "wa"), 2);
        for (int i = 0; i < 3; i++) {
                struct json_object *w = json_object_array_get_idx(h_json_get(r, "workers"), (size_t)i);
                assert_str(w, "outcome", "stopped");
                assert_str(hook(w, "pre_stop"), "outcome", "ok");
                assert_str(hook(w, "post_stop"), "outcome", "ok");
        }
        assert_bool(r, "clean", 1);
        gh_cleanup(&g);
}
END_TEST

/* top after l and r, both after base: top first, l and r (in parallel, in
 * either order), base last. */
START_TEST(test_diamond)
{
        struct gh g;
        const char *conf, *out;
        struct json_object *r;
        static const char *const names[] = { "base", "left", "right", "top" };
        int pre[4], post[4];

        ck_assert_int_eq(gh_init(&g), 0);
        out = gh_path(&g, "order");
        conf = gh_write_file(&g, "graced.conf",
                "workers = (\n"
                "  { name = \"base\"; command = [\"%1$s\", \"--block\"];\n"
                "    pre_stop = [\"%1$s\", \"--append\", \"%2$s\", \"pre base\"]; post_stop = [\"%1$s\", \"--append\", \"%2$s\", \"post base\"]; },\n"
                "  { name = \"left\"; after = [\"base\"]; command = [\"%1$s\", \"--on-signal-delay\", \"TERM\", \"50\", \"0\", \"--stamp\", \"%3$s\", \"--block\"];\n"
                "    pre_stop = [\"%1$s\", \"--append\", \"%2$s\", \"pre left\"]; post_stop = [\"%1$s\", \"--append\", \"%2$s\", \"post left\"]; },\n"
                "  { name = \"right\"; after = [\"base\"]; command = [\"%1$s\", \"--block\"];\n"
                "    pre_stop = [\"%1$s\", \"--append\", \"%2$s\", \"pre right\"]; post_stop = [\"%1$s\", \"--append\", \"%2$s\", \"post right\"]; },\n"
                "  { name = \"top\"; after = [\"left\", \"right\"]; command = [\"%1$s\", \"--on-signal-delay\", \"TERM\", \"50\", \"0\", \"--stamp\", \"%4$s\", \"--block\"];\n"
                "    pre_stop = [\"%1$s\", \"--append\", \"%2$s\", \"pre top\"]; post_stop = [\"%1$s\", \"--append\", \"%2$s\", \"post top\"]; }\n"
                ");\n",
                tw(), out, gh_path(&g, "left.stamp"), gh_path(&g, "top.stamp"));
        start_ready(&g, conf, NULL, 4);
        wait_stamps(&g, "left", "top", NULL);
        ck_assert_int_eq(stop(&g, SIGTERM), 0);

        for (int i = 0; i < 4; i++) {
                char b[32];

                snprintf(b, sizeof b, "pre %s", names[i]);
                pre[i] = h_find_line(out, b);
                snprintf(b, sizeof b, "post %s", names[i]);
                post[i] = h_find_line(out, b);
                ck_assert_msg(pre[i] >= 0 && post[i] > pre[i], "%s: pre at %d, post at %d", names[i], pre[i], post[i]);
        }
        ck_assert_int_eq(h_count_lines(out, ""), 8);
        /* top fully down before left and right begin */
        ck_assert_int_eq(pre[3], 0);
        ck_assert_int_eq(post[3], 1);
        ck_assert_int_lt(post[3], pre[1]);
        ck_assert_int_lt(post[3], pre[2]);
        /* base begins only once left and right are fully down */
        ck_assert_int_gt(pre[0], post[1]);
        ck_assert_int_gt(pre[0], post[2]);
        ck_assert_int_eq(post[0], 7);

        r = report(&g);
        ck_assert_int_eq(h_json_len(r, "workers"), 4);
        ck_assert_int_eq(h_report_worker_pos(r, "top"), 0);
        ck_assert_int_ge(h_report_worker_pos(r, "left"), 1);
        ck_assert_int_le(h_report_worker_pos(r, "left"), 2);
        ck_assert_int_ge(h_report_worker_pos(r, "right"), 1);
        ck_assert_int_le(h_report_worker_pos(r, "right"), 2);
        ck_assert_int_eq(h_report_worker_pos(r, "base"), 3);
        assert_bool(r, "clean", 1);
        gh_cleanup(&g);
}
END_TEST

/* Independent workers that each take DELAY ms to stop, with pre_stop
 * appending "begin NAME" and post_stop "end NAME". */
static const char *independent_conf(struct gh *g, int n, int max_parallel, int delay_ms)
{
        char *workers = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&workers, &len);
        const char *out = gh_path(g, "order");

        ck_assert_ptr_nonnull(f);
        for (int i = 0; i < n; i++)
                fprintf(f,
                        "  { name = \"w%d\"; command = [\"%s\", \"--on-signal-delay\", \"TERM\", \"%d\", \"0\", \"--stamp\", \"%s/w%d.stamp\", \"--block\"];\n"
                        "    pre_stop = [\"%s\", \"--append\", \"%s\", \"begin w%d\"];\n"
                        "    post_stop = [\"%s\", \"--append\", \"%s\", \"end w%d\"]; }%s\n",
                        i, tw(), delay_ms, g->dir, i, tw(), out, i, tw(), out, i, i + 1 < n ? "," : "");
        fclose(f);
        gh_keep(g, workers);
        return gh_write_file(g, "graced.conf", "supervisor = { max_parallel = %d; };\nworkers = (\n%s);\n",
                             max_parallel, workers);
}

/* max_parallel = 1: one stop at a time, strictly: begin/end pairs never
 * interleave, and the report lists them in the order they stopped. */
START_TEST(test_max_parallel_1)
{
        struct gh g;
        const char *conf;
        struct json_object *r;
        char **lines;
        int n;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = independent_conf(&g, 3, 1, 150);
        start_ready(&g, conf, NULL, 3);
        wait_stamps(&g, "w0", "w1", "w2", NULL);
        ck_assert_int_eq(stop(&g, SIGTERM), 0);
        r = report(&g);
        lines = file_lines(gh_path(&g, "order"), &n);
        ck_assert_int_eq(n, 6);
        for (int i = 0; i < 3; i++) {
                ck_assert_msg(strncmp(lines[2 * i], "begin ", 6) == 0, "line %d: %s", 2 * i, lines[2 * i]);
                ck_assert_msg(strncmp(lines[2 * i + 1], "end ", 4) == 0, "line %d: %s", 2 * i + 1, lines[2 * i + 1]);
                /* the same worker ends before the next begins */
                ck_assert_str_eq(lines[2 * i] + 6, lines[2 * i + 1] + 4);
                ck_assert_int_eq(h_report_worker_pos(r, lines[2 * i] + 6), i);
                ck_assert_double_ge(h_json_double(worker(r, lines[2 * i] + 6), "stop_s"), 0.15);
                assert_str(worker(r, lines[2 * i] + 6), "outcome", "stopped");
        }
        free_lines(lines, n);
        /* one after the other: at least the sum of the three stops */
        ck_assert_double_ge(h_json_double(r, "duration_s"), 0.45);
        assert_bool(r, "clean", 1);
        gh_cleanup(&g);
}
END_TEST

/* max_parallel = 4 with 4 independent workers: all four stops begin
 * before any of them ends. */
START_TEST(test_max_parallel_4)
{
        struct gh g;
        const char *conf;
        struct json_object *r;
        char **lines;
        int n;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = independent_conf(&g, 4, 4, 400);
        start_ready(&g, conf, NULL, 4);
        wait_stamps(&g, "w0", "w1", "w2", "w3", NULL);
        ck_assert_int_eq(stop(&g, SIGTERM), 0);
        r = report(&g);
        lines = file_lines(gh_path(&g, "order"), &n);
        ck_assert_int_eq(n, 8);
        for (int i = 0; i < 4; i++) {
                ck_assert_msg(strncmp(lines[i], "begin ", 6) == 0, "line %d: %s", i, lines[i]);
                ck_assert_msg(strncmp(lines[4 + i], "end ", 4) == 0, "line %d: %s", 4 + i, lines[4 + i]);
        }
        free_lines(lines, n);
        ck_assert_int_eq(h_json_len(r, "workers"), 4);
        /* in parallel: far below the 1.6 s the four would take in a row */
        ck_assert_double_ge(h_json_double(r, "duration_s"), 0.4);
        ck_assert_double_lt(h_json_double(r, "duration_s"), 1.2);
        assert_bool(r, "clean", 1);
        gh_cleanup(&g);
}
END_TEST

/* ---- signals -------------------------------------------------------------------------------- */

/* SIGTERM (_i = 0) and SIGINT (_i = 1): a graceful shutdown, exit 0. A
 * worker that dies of its stop signal is "stopped" with exit_signal set and
 * exit_code null; one that exits 0 on it has exit_code 0. */
START_TEST(test_graceful)
{
        int sig = _i ? SIGINT : SIGTERM;
        const char *signame = _i ? "SIGINT" : "SIGTERM";
        struct gh g;
        const char *conf;
        struct json_object *r, *w;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                "supervisor = { name = \"grace-%4$s\"; };\n"
                "workers = (\n"
                "  { name = \"dies\"; command = [\"%1$s\", \"--stamp\", \"%2$s\", \"--block\"]; },\n"
                "  { name = \"polite\"; command = [\"%1$s\", \"--on-signal\", \"TERM\", \"0\", \"--stamp\", \"%3$s\", \"--block\"]; }\n"
                ");\n",
                tw(), gh_path(&g, "dies.stamp"), gh_path(&g, "polite.stamp"), signame);
        start_ready(&g, conf, NULL, 2);
        ck_assert(h_wait_file(gh_path(&g, "dies.stamp"), T));
        ck_assert(h_wait_file(gh_path(&g, "polite.stamp"), T));
        ck_assert_int_eq(stop(&g, sig), 0);

        r = report(&g);
        assert_str(r, "reason", signame);
        assert_bool(r, "clean", 1);
        assert_bool(r, "forced", 0);
        ck_assert_int_eq(h_json_len(r, "workers"), 2);
        ck_assert_int_eq(h_json_len(r, "cleanup"), 0);

        w = worker(r, "dies");
        assert_str(w, "outcome", "stopped");
        assert_str(w, "signal", "SIGTERM");
        assert_str(w, "exit_signal", "SIGTERM");
        assert_null(w, "exit_code");
        assert_int(w, "pid", h_read_stamp_pid(gh_path(&g, "dies.stamp")));
        assert_int(w, "restarts", 0);
        assert_null(w, "pre_stop");
        assert_null(w, "post_stop");

        w = worker(r, "polite");
        assert_str(w, "outcome", "stopped");
        assert_str(w, "signal", "SIGTERM");
        assert_int(w, "exit_code", 0);
        assert_null(w, "exit_signal");
        assert_int(w, "pid", h_read_stamp_pid(gh_path(&g, "polite.stamp")));

        ck_assert(!h_pid_alive(h_read_stamp_pid(gh_path(&g, "dies.stamp"))));
        ck_assert(!h_pid_alive(h_read_stamp_pid(gh_path(&g, "polite.stamp"))));
        ck_assert_int_ge(h_count_log(&g, "shutdown clean in"), 1);
        /* died of the stop signal graced sent: a normal end, in words */
        ck_assert_int_eq(h_count_log(&g, "dies: exited on SIGTERM"), 1);
        ck_assert_int_eq(h_count_log(&g, "polite: exited 0"), 1);
        ck_assert_int_eq(h_count_log(&g, "killed by"), 0);
        gh_cleanup(&g);
}
END_TEST

/* '"--wait-file", "DIR/never", "--exit", "0"' for a oneshot that never ends */
static char *gate_args(struct gh *g)
{
        char *r;

        ck_assert_int_ge(asprintf(&r, "\"--wait-file\", \"%s\", \"--exit\", \"0\"", gh_path(g, "never")), 0);
        return r;
}

/* SIGTERM while the 2nd of 3 chained workers is starting (it never gets
 * ready: _i = 0 a ready = "notify" worker that never says READY=1, _i = 1
 * a oneshot waiting on a gate that never opens): the 3rd is never started
 * ("not-started"), the 2nd and the 1st are stopped, in that order; exit 0. */
START_TEST(test_signal_during_startup)
{
        struct gh g;
        const char *conf;
        struct json_object *r, *w;
        long long t0;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                "workers = (\n"
                "  { name = \"first\"; command = [\"%1$s\", \"--stamp\", \"%2$s\", \"--block\"];\n"
                "    post_stop = [\"%1$s\", \"--append\", \"%5$s\", \"first\"]; },\n"
                "  { name = \"second\"; after = [\"first\"]; %6$s ready_timeout = \"60s\";\n"
                "    command = [\"%1$s\", \"--stamp\", \"%3$s\", %7$s];\n"
                "    post_stop = [\"%1$s\", \"--append\", \"%5$s\", \"second\"]; },\n"
                "  { name = \"third\"; after = [\"second\"]; command = [\"%1$s\", \"--stamp\", \"%4$s\", \"--block\"];\n"
                "    post_stop = [\"%1$s\", \"--append\", \"%5$s\", \"third\"]; }\n"
                ");\n",
                tw(), gh_path(&g, "first.stamp"), gh_path(&g, "second.stamp"), gh_path(&g, "third.stamp"),
                gh_path(&g, "order"), _i ? "type = \"oneshot\";" : "ready = \"notify\";",
                _i ? (const char *)gh_keep(&g, gate_args(&g)) : "\"--block\"");
        ck_assert_int_eq(gh_start(&g, conf, NULL, NULL), 0);
        ck_assert(h_wait_file(gh_path(&g, "second.stamp"), T));
        ck_assert(h_wait_log(&g, "second: started", T));
        t0 = h_now_ns();
        ck_assert_int_eq(stop(&g, SIGTERM), 0);
        /* honoured at once, not after ready_timeout */
        ck_assert_int_lt(h_ms_since(t0), 3000);

        ck_assert_int_eq(access(gh_path(&g, "third.stamp"), F_OK), -1);
        ck_assert_int_eq(h_count_log(&g, "third: starting"), 0);
        assert_file(gh_path(&g, "order"), "second\nfirst\n");

        r = report(&g);
        assert_bool(r, "clean", 1);
        assert_bool(r, "forced", 0);
        ck_assert_int_eq(h_json_len(r, "workers"), 3);
        w = worker(r, "third");
        assert_str(w, "outcome", "not-started");
        assert_null(w, "pid");
        assert_null(w, "signal");
        assert_str(hook(w, "post_stop"), "outcome", "skipped");
        w = worker(r, "second");
        assert_str(w, "outcome", "stopped");
        assert_str(w, "signal", "SIGTERM");
        assert_int(w, "pid", h_read_stamp_pid(gh_path(&g, "second.stamp")));
        w = worker(r, "first");
        assert_str(w, "outcome", "stopped");
        ck_assert_int_lt(h_report_worker_pos(r, "second"), h_report_worker_pos(r, "first"));
        gh_cleanup(&g);
}
END_TEST

/* 20 SIGTERMs in a tight loop, then 20 more once the first was accepted,
 * all within signal_debounce = 2s with force_after = 2: one graceful
 * shutdown, the repeats ignored (debug log), never forced. */
START_TEST(test_burst_within_debounce)
{
        struct gh g;
        const char *conf;
        struct json_object *r;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                "supervisor = { signal_debounce = \"2s\"; force_after = 2; };\n"
                "workers = ({ name = \"slow\"; command = [\"%s\", \"--on-signal-delay\", \"TERM\", \"500\", \"0\", \"--stamp\", \"%s\", \"--block\"]; });\n",
                tw(), gh_path(&g, "slow.stamp"));
        start_ready(&g, conf, ARGS("-v"), 1);
        wait_stamps(&g, "slow", NULL);
        for (int i = 0; i < 20; i++)
                ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert(h_wait_log(&g, "slow: stopping (SIGTERM", T));
        for (int i = 0; i < 20; i++)
                ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert(h_wait_log(&g, "ignored (within debounce)", T));
        ck_assert_int_eq(gh_exit_code(&g, T), 0);

        r = report(&g);
        assert_bool(r, "forced", 0);
        assert_bool(r, "clean", 1);
        assert_str(r, "reason", "SIGTERM");
        assert_str(worker(r, "slow"), "outcome", "stopped");
        assert_int(worker(r, "slow"), "exit_code", 0);
        ck_assert_int_eq(h_count_log(&g, "shutting down (SIGTERM)"), 1);
        ck_assert_int_eq(h_count_log(&g, "forcing shutdown"), 0);
        ck_assert_int_eq(h_count_log(&g, "already shutting down"), 0);
        gh_cleanup(&g);
}
END_TEST

/* force_after = 2: a second signal after the debounce window is accepted
 * and forces: the slow worker is SIGKILLed at once, forced, exit 1. */
START_TEST(test_second_signal_forces)
{
        struct gh g;
        const char *conf;
        struct json_object *r, *w;
        long long t0;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                "supervisor = { signal_debounce = \"300ms\"; force_after = 2; };\n"
                "workers = ({ name = \"slow\"; stop_timeout = \"20s\";\n"
                "    command = [\"%1$s\", \"--on-signal-delay\", \"TERM\", \"10000\", \"0\", \"--stamp\", \"%2$s\", \"--block\"];\n"
                "    post_stop = [\"%1$s\", \"--append\", \"%3$s\", \"post\"]; });\n",
                tw(), gh_path(&g, "slow.stamp"), gh_path(&g, "post"));
        start_ready(&g, conf, NULL, 1);
        wait_stamps(&g, "slow", NULL);
        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert(h_wait_log(&g, "slow: stopping (SIGTERM", T));
        h_sleep_ms(400); /* let the debounce window pass */
        t0 = h_now_ns();
        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert_int_eq(gh_exit_code(&g, T), 1);
        ck_assert_int_lt(h_ms_since(t0), 2000);
        ck_assert_int_ge(h_count_log(&g, "forcing shutdown"), 1);

        r = report(&g);
        assert_bool(r, "forced", 1);
        assert_bool(r, "clean", 0);
        assert_str(r, "reason", "SIGTERM");
        w = worker(r, "slow");
        assert_str(w, "outcome", "killed");
        assert_str(w, "exit_signal", "SIGKILL");
        assert_str(hook(w, "post_stop"), "outcome", "skipped");
        ck_assert_int_eq(access(gh_path(&g, "post"), F_OK), -1);
        ck_assert(!h_pid_alive(h_read_stamp_pid(gh_path(&g, "slow.stamp"))));
        ck_assert_double_lt(h_json_double(r, "duration_s"), 3.0);
        gh_cleanup(&g);
}
END_TEST

/* SIGQUIT forces at once: no pre_stop, no waiting for the stop signal. */
START_TEST(test_sigquit)
{
        struct gh g;
        const char *conf;
        struct json_object *r, *w;
        long long t0;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                "workers = ({ name = \"slow\"; stop_timeout = \"20s\";\n"
                "    command = [\"%1$s\", \"--on-signal-delay\", \"TERM\", \"10000\", \"0\", \"--stamp\", \"%2$s\", \"--block\"];\n"
                "    pre_stop = [\"%1$s\", \"--append\", \"%3$s\", \"pre\"];\n"
                "    post_stop = [\"%1$s\", \"--append\", \"%3$s\", \"post\"]; });\n",
                tw(), gh_path(&g, "slow.stamp"), gh_path(&g, "hooks"));
        start_ready(&g, conf, NULL, 1);
        wait_stamps(&g, "slow", NULL);
        t0 = h_now_ns();
        ck_assert_int_eq(gh_signal(&g, SIGQUIT), 0);
        ck_assert_int_eq(gh_exit_code(&g, T), 1);
        ck_assert_int_lt(h_ms_since(t0), 2000);

        r = report(&g);
        assert_str(r, "reason", "SIGQUIT");
        assert_bool(r, "forced", 1);
        assert_bool(r, "clean", 0);
        w = worker(r, "slow");
        assert_str(w, "outcome", "killed");
        assert_str(w, "exit_signal", "SIGKILL");
        assert_int(w, "pid", h_read_stamp_pid(gh_path(&g, "slow.stamp")));
        assert_str(hook(w, "pre_stop"), "outcome", "skipped");
        assert_str(hook(w, "post_stop"), "outcome", "skipped");
        ck_assert_int_eq(access(gh_path(&g, "hooks"), F_OK), -1);
        ck_assert_double_lt(h_json_double(r, "duration_s"), 1.5);
        gh_cleanup(&g);
}
END_TEST

/* force_after = 0, signal_debounce = 0: every SIGTERM/SIGINT is accepted,
 * none forces, even a storm of thousands. */
START_TEST(test_force_after_0_storm)
{
        struct gh g;
        const char *conf;
        struct json_object *r;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                "supervisor = { signal_debounce = 0; force_after = 0; };\n"
                "workers = ({ name = \"slow\"; command = [\"%s\", \"--on-signal-delay\", \"TERM\", \"800\", \"0\", \"--stamp\", \"%s\", \"--block\"]; });\n",
                tw(), gh_path(&g, "slow.stamp"));
        start_ready(&g, conf, NULL, 1);
        wait_stamps(&g, "slow", NULL);
        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert(h_wait_log(&g, "slow: stopping (SIGTERM", T));
        for (int i = 0; i < 3000; i++)
                ck_assert_int_eq(gh_signal(&g, i % 2 ? SIGINT : SIGTERM), 0);
        ck_assert(h_wait_log(&g, "already shutting down", T));
        ck_assert_int_eq(gh_exit_code(&g, T), 0);

        r = report(&g);
        assert_bool(r, "forced", 0);
        assert_bool(r, "clean", 1);
        assert_str(r, "reason", "SIGTERM");
        assert_str(worker(r, "slow"), "outcome", "stopped");
        assert_int(worker(r, "slow"), "exit_code", 0);
        ck_assert_int_eq(h_count_log(&g, "forcing shutdown"), 0);
        ck_assert_int_eq(h_count_log(&g, "shutting down (SIGTERM)"), 1);
        gh_cleanup(&g);
}
END_TEST

/* ---- bounds --------------------------------------------------------------------------------- */

/* A worker that ignores SIGTERM with stop_timeout = 1s is SIGKILLed after
 * exactly that: "killed", stop_s in [1.0, 1.5], exit 1. */
START_TEST(test_stubborn_killed)
{
        struct gh g;
        const char *conf;
        struct json_object *r, *w;
        long long t0, ms;
        double stop_s;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                "workers = ({ name = \"stubborn\"; stop_timeout = \"1s\";\n"
                "    command = [\"%s\", \"--ignore\", \"TERM\", \"--stamp\", \"%s\", \"--block\"]; });\n",
                tw(), gh_path(&g, "stubborn.stamp"));
        start_ready(&g, conf, NULL, 1);
        ck_assert(h_wait_file(gh_path(&g, "stubborn.stamp"), T));
        t0 = h_now_ns();
        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert_int_eq(gh_exit_code(&g, T), 1);
        ms = h_ms_since(t0);
        ck_assert_int_ge(ms, 1000);
        ck_assert_int_lt(ms, 2500);
        ck_assert_int_ge(h_count_log(&g, "stubborn: stopping (SIGTERM, timeout 1s)"), 1);
        ck_assert_int_ge(h_count_log(&g, "killed after timeout 1s"), 1);
        ck_assert_int_ge(h_count_log(&g, "shutdown NOT clean in"), 1);
        ck_assert_int_eq(h_count_log(&g, "stubborn: killed by SIGKILL"), 1);

        r = report(&g);
        assert_bool(r, "clean", 0);
        assert_bool(r, "forced", 0);
        w = worker(r, "stubborn");
        assert_str(w, "outcome", "killed");
        assert_str(w, "signal", "SIGTERM");
        assert_str(w, "exit_signal", "SIGKILL");
        assert_null(w, "exit_code");
        assert_int(w, "pid", h_read_stamp_pid(gh_path(&g, "stubborn.stamp")));
        stop_s = h_json_double(w, "stop_s");
        ck_assert_msg(stop_s >= 1.0 && stop_s <= 1.5, "stop_s %.3f not in [1.0, 1.5]", stop_s);
        ck_assert(!h_pid_alive(h_read_stamp_pid(gh_path(&g, "stubborn.stamp"))));
        gh_cleanup(&g);
}
END_TEST

/* kill_mode = "group" (the default): a grandchild that ignores SIGTERM
 * (and holds the worker's output pipes) is SIGKILLed with the group. */
START_TEST(test_grandchild_group_killed)
{
        struct gh g;
        const char *conf;
        struct json_object *r, *w;
        pid_t gc;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                "workers = ({ name = \"parent\"; stop_timeout = \"1s\";\n"
                "    command = [\"%s\", \"--stamp\", \"%s\", \"--fork-grandchild\", \"%s\", \"--block\"]; });\n",
                tw(), gh_path(&g, "parent.stamp"), gh_path(&g, "gc.pid"));
        start_ready(&g, conf, NULL, 1);
        ck_assert(h_wait_file(gh_path(&g, "gc.pid"), T));
        gc = h_read_stamp_pid(gh_path(&g, "gc.pid"));
        ck_assert_int_gt(gc, 0);
        ck_assert(h_pid_alive(gc));
        ck_assert_int_eq(h_pid_pgid(gc), h_read_stamp_pid(gh_path(&g, "parent.stamp")));

        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert_int_ge(gh_exit_code(&g, T), 0);
        /* gone by the time graced is done */
        ck_assert_msg(!h_pid_alive(gc), "grandchild %d survived graced", (int)gc);
        ck_assert(!h_pid_alive(h_read_stamp_pid(gh_path(&g, "parent.stamp"))));

        r = report(&g);
        w = worker(r, "parent");
        assert_str(w, "signal", "SIGTERM");
        /* the group's last member went at the stop_timeout, not before */
        ck_assert_double_ge(h_json_double(w, "stop_s"), 1.0);
        ck_assert_double_le(h_json_double(w, "stop_s"), 1.5);
        gh_cleanup(&g);
}
END_TEST

/* pre_stop hanging past pre_stop_timeout: killed with its process group
 * (a grandchild ignoring SIGTERM too) ("timeout"), the stop goes on, the
 * worker is stopped, exit 1. */
START_TEST(test_pre_stop_timeout)
{
        struct gh g;
        const char *conf;
        struct json_object *r, *w, *h;
        pid_t hook_pid, hook_gc;
        int timed_out, stopping;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                "workers = ({ name = \"w\"; command = [\"%1$s\", \"--stamp\", \"%2$s\", \"--block\"];\n"
                "    pre_stop = [\"%1$s\", \"--ignore\", \"TERM\", \"--fork-grandchild\", \"%4$s\", \"--stamp\", \"%3$s\", \"--block\"];\n"
                "    pre_stop_timeout = \"500ms\"; });\n",
                tw(), gh_path(&g, "w.stamp"), gh_path(&g, "pre.stamp"), gh_path(&g, "pre-gc.pid"));
        start_ready(&g, conf, NULL, 1);
        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert(h_wait_file(gh_path(&g, "pre.stamp"), T));
        hook_pid = h_read_stamp_pid(gh_path(&g, "pre.stamp"));
        hook_gc = h_read_stamp_pid(gh_path(&g, "pre-gc.pid"));
        ck_assert_int_gt(hook_gc, 0);
        ck_assert_int_eq(gh_exit_code(&g, T), 1);
        ck_assert(!h_pid_alive(hook_pid));
        /* killed with its group */
        ck_assert_msg(!h_pid_alive(hook_gc), "pre_stop's grandchild %d survived", (int)hook_gc);

        timed_out = h_log_line(&g, "pre_stop timed out after 500ms");
        stopping = h_log_line(&g, "w: stopping (SIGTERM");
        ck_assert_int_ge(timed_out, 0);
        ck_assert_int_gt(stopping, timed_out);

        r = report(&g);
        assert_bool(r, "clean", 0);
        assert_bool(r, "forced", 0);
        w = worker(r, "w");
        assert_str(w, "outcome", "stopped");
        assert_str(w, "signal", "SIGTERM");
        h = hook(w, "pre_stop");
        assert_str(h, "outcome", "timeout");
        ck_assert_double_ge(h_json_double(h, "duration_s"), 0.5);
        ck_assert_double_lt(h_json_double(h, "duration_s"), 1.0);
        gh_cleanup(&g);
}
END_TEST

/* A pre_stop killed at its timeout that does not die at once (a process
 * in uninterruptible sleep, on a hung NFS mount say; here the test holds
 * it in its exit as a ptrace tracer with PTRACE_O_TRACEEXIT: SIGKILL then
 * leaves it unreaped until the tracer lets go) is never run a second time
 * beside itself: a worker never ready is stopped (pre_stop 1), restarted,
 * stopped again; that stop waits for the old run up to pre_stop_timeout,
 * skips the hook and goes on. Let go, the old run is reaped as the hook's
 * (not an orphan) and the next stop runs the hook again. */
START_TEST(test_pre_stop_unreaped_not_run_twice)
{
        struct gh g;
        const char *conf, *runs;
        char want[128];
        pid_t first;
        int st;

        ck_assert_int_eq(gh_init(&g), 0);
        runs = gh_path(&g, "runs");
        conf = gh_write_file(&g, "graced.conf",
                "workers = ({ name = \"w\"; ready = \"notify\"; ready_timeout = \"300ms\"; restart_delay = \"10ms\";\n"
                "    start_limit_burst = 10; command = [\"%1$s\", \"--block\"];\n"
                "    pre_stop = [\"%1$s\", \"--append\", \"%2$s\", \"run\", \"--stamp\", \"%3$s\", \"--block\"];\n"
                "    pre_stop_timeout = \"600ms\"; });\n",
                tw(), runs, gh_path(&g, "pre.stamp"));
        ck_assert_int_eq(gh_start(&g, conf, ARGS("-v"), NULL), 0);
        ck_assert(h_wait_file(gh_path(&g, "pre.stamp"), T));
        first = h_read_stamp_pid(gh_path(&g, "pre.stamp"));
        ck_assert_int_gt(first, 0);
        if (ptrace(PTRACE_SEIZE, first, NULL, (void *)(long)PTRACE_O_TRACEEXIT) < 0) {
                /* no way to hold a killed process here: the unit tests of sup.c cover it */
                fprintf(stderr, "test_pre_stop_unreaped_not_run_twice: ptrace: %s: not tested here\n", strerror(errno));
                gh_cleanup(&g);
                return;
        }
        snprintf(want, sizeof want, "w: warning: pre_stop: previous run (pid %d) still running; skipped", (int)first);
        ck_assert(h_wait_log(&g, want, T));
        ck_assert_int_eq(h_count_lines(runs, "run"), 1);
        ck_assert(h_pid_exists(first));
        ck_assert_int_ge(h_count_log(&g, "w: warning: pre_stop timed out after 600ms"), 1);

        /* let it go: it is in its exit stop since graced's SIGKILL */
        ck_assert_int_eq(waitpid(first, &st, __WALL), first);
        ck_assert_msg(WIFSTOPPED(st) && st >> 16 == PTRACE_EVENT_EXIT, "tracee status 0x%x", (unsigned)st);
        ck_assert_int_eq(ptrace(PTRACE_DETACH, first, NULL, NULL), 0);
        snprintf(want, sizeof want, "w: pre_stop: previous run (pid %d) ended at last (killed by SIGKILL)", (int)first);
        ck_assert(h_wait_log(&g, want, T));
        ck_assert(h_wait_pid_reaped(first, T));
        ck_assert(h_wait_lines(runs, "run", 2, T)); /* the next stop runs it again */

        ck_assert_int_eq(stop(&g, SIGTERM), 1);
        ck_assert_int_eq(h_count_log(&g, "reaped orphan"), 0);
        gh_cleanup(&g);
}
END_TEST

/* post_stop exiting 3: "failed" with exit_code 3; exit 1. */
START_TEST(test_post_stop_fails)
{
        struct gh g;
        const char *conf;
        struct json_object *r, *w, *h;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                "workers = ({ name = \"w\"; command = [\"%1$s\", \"--block\"];\n"
                "    pre_stop = [\"%1$s\", \"--exit\", \"0\"];\n"
                "    post_stop = [\"%1$s\", \"--exit\", \"3\"]; });\n",
                tw());
        start_ready(&g, conf, NULL, 1);
        ck_assert_int_eq(stop(&g, SIGTERM), 1);

        r = report(&g);
        assert_bool(r, "clean", 0);
        assert_bool(r, "forced", 0);
        w = worker(r, "w");
        assert_str(w, "outcome", "stopped");
        h = hook(w, "pre_stop");
        assert_str(h, "outcome", "ok");
        assert_int(h, "exit_code", 0);
        h = hook(w, "post_stop");
        assert_str(h, "outcome", "failed");
        assert_int(h, "exit_code", 3);
        ck_assert_int_ge(h_count_log(&g, "shutdown NOT clean in"), 1);
        gh_cleanup(&g);
}
END_TEST

/* shutdown_timeout = 1s spent on a worker whose stop_timeout is 10s: it is
 * SIGKILLed, the unshielded cleanup step is skipped, the shielded one
 * runs; forced, exit 1, well within 2.5 s. */
START_TEST(test_shutdown_timeout)
{
        struct gh g;
        const char *conf, *out;
        struct json_object *r, *w, *c;
        long long t0, ms;

        ck_assert_int_eq(gh_init(&g), 0);
        out = gh_path(&g, "cleanup.out");
        conf = gh_write_file(&g, "graced.conf",
                "supervisor = { shutdown_timeout = \"1s\";\n"
                "  cleanup = (\n"
                "    { name = \"plain\"; command = [\"%1$s\", \"--append\", \"%3$s\", \"plain\"]; timeout = \"5s\"; },\n"
                "    { name = \"shield\"; command = [\"%1$s\", \"--append\", \"%3$s\", \"shield\"]; timeout = \"5s\"; shielded = true; }\n"
                "  ); };\n"
                "workers = ({ name = \"stubborn\"; stop_timeout = \"10s\";\n"
                "    command = [\"%1$s\", \"--ignore\", \"TERM\", \"--stamp\", \"%2$s\", \"--block\"]; });\n",
                tw(), gh_path(&g, "stubborn.stamp"), out);
        start_ready(&g, conf, NULL, 1);
        wait_stamps(&g, "stubborn", NULL);
        t0 = h_now_ns();
        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert_int_eq(gh_exit_code(&g, T), 1);
        ms = h_ms_since(t0);
        ck_assert_int_ge(ms, 1000);
        ck_assert_int_lt(ms, 2500);
        ck_assert_int_ge(h_count_log(&g, "shutdown_timeout 1s spent"), 1);
        assert_file(out, "shield\n");

        r = report(&g);
        assert_bool(r, "forced", 1);
        assert_bool(r, "clean", 0);
        assert_str(r, "reason", "SIGTERM");
        ck_assert_double_ge(h_json_double(r, "duration_s"), 1.0);
        ck_assert_double_lt(h_json_double(r, "duration_s"), 2.5);
        w = worker(r, "stubborn");
        assert_str(w, "outcome", "killed");
        assert_str(w, "exit_signal", "SIGKILL");
        ck_assert(!h_pid_alive(h_read_stamp_pid(gh_path(&g, "stubborn.stamp"))));
        ck_assert_int_eq(h_json_len(r, "cleanup"), 2);
        c = h_report_cleanup(r, "plain");
        ck_assert_ptr_nonnull(c);
        assert_str(c, "outcome", "skipped");
        c = h_report_cleanup(r, "shield");
        ck_assert_ptr_nonnull(c);
        assert_str(c, "outcome", "ok");
        assert_int(c, "exit_code", 0);
        gh_cleanup(&g);
}
END_TEST

/* SIGQUIT while a shielded cleanup step runs: it completes (file written,
 * "ok"); a further SIGQUIT does not interrupt it either; the unshielded
 * step after it is skipped. */
START_TEST(test_force_during_shielded_step)
{
        struct gh g;
        const char *conf, *done;
        struct json_object *r, *c;
        char *text;

        ck_assert_int_eq(gh_init(&g), 0);
        done = gh_path(&g, "done");
        conf = gh_write_file(&g, "graced.conf",
                "supervisor = { cleanup = (\n"
                "    { name = \"slowstep\"; command = [\"/bin/sh\", \"-c\", \"sleep 1; echo done > %2$s\"]; timeout = \"5s\"; shielded = true; },\n"
                "    { name = \"later\"; command = [\"%1$s\", \"--append\", \"%3$s\", \"later\"]; timeout = \"5s\"; }\n"
                "  ); };\n"
                "workers = ({ name = \"w\"; command = [\"%1$s\", \"--block\"]; });\n",
                tw(), done, gh_path(&g, "later.out"));
        start_ready(&g, conf, NULL, 1);
        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert(h_wait_log(&g, "slowstep started", T));
        ck_assert_int_eq(gh_signal(&g, SIGQUIT), 0);
        ck_assert(h_wait_log(&g, "forcing shutdown", T));
        ck_assert_int_eq(gh_signal(&g, SIGQUIT), 0);
        ck_assert_int_eq(gh_exit_code(&g, T), 1);

        text = h_read_file(done);
        ck_assert_msg(text != NULL, "the shielded step was interrupted: no %s", done);
        ck_assert_str_eq(text, "done\n");
        free(text);
        ck_assert_int_eq(access(gh_path(&g, "later.out"), F_OK), -1);

        r = report(&g);
        assert_bool(r, "forced", 1);
        assert_bool(r, "clean", 0);
        assert_str(worker(r, "w"), "outcome", "stopped");
        c = h_report_cleanup(r, "slowstep");
        ck_assert_ptr_nonnull(c);
        assert_str(c, "outcome", "ok");
        assert_int(c, "exit_code", 0);
        ck_assert_double_ge(h_json_double(c, "duration_s"), 0.9);
        c = h_report_cleanup(r, "later");
        ck_assert_ptr_nonnull(c);
        assert_str(c, "outcome", "skipped");
        gh_cleanup(&g);
}
END_TEST

/* A forcing signal while a pre_stop runs: the hook is SIGKILLed ("failed"
 * or "timeout", never "ok"), the worker too; graced reaps both before it
 * exits. */
START_TEST(test_force_during_pre_stop)
{
        struct gh g;
        const char *conf, *pre;
        struct json_object *r, *w;
        pid_t hook_pid, worker_pid;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                "workers = ({ name = \"w\"; command = [\"%1$s\", \"--stamp\", \"%2$s\", \"--block\"];\n"
                "    pre_stop = [\"%1$s\", \"--ignore\", \"TERM\", \"--stamp\", \"%3$s\", \"--block\"]; pre_stop_timeout = \"20s\";\n"
                "    post_stop = [\"%1$s\", \"--append\", \"%4$s\", \"post\"]; });\n",
                tw(), gh_path(&g, "w.stamp"), gh_path(&g, "pre.stamp"), gh_path(&g, "post.out"));
        start_ready(&g, conf, NULL, 1);
        wait_stamps(&g, "w", NULL);
        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert(h_wait_file(gh_path(&g, "pre.stamp"), T));
        hook_pid = h_read_stamp_pid(gh_path(&g, "pre.stamp"));
        worker_pid = h_read_stamp_pid(gh_path(&g, "w.stamp"));
        ck_assert_int_eq(gh_signal(&g, SIGQUIT), 0);
        ck_assert_int_eq(gh_exit_code(&g, T), 1);
        /* reaped by graced itself, not left to the subreaper */
        ck_assert_msg(!h_pid_exists(hook_pid), "pre_stop %d not reaped by graced", (int)hook_pid);
        ck_assert_msg(!h_pid_exists(worker_pid), "worker %d not reaped by graced", (int)worker_pid);
        ck_assert_int_eq(access(gh_path(&g, "post.out"), F_OK), -1);

        r = report(&g);
        assert_bool(r, "forced", 1);
        assert_bool(r, "clean", 0);
        w = worker(r, "w");
        assert_str(w, "outcome", "killed");
        assert_null(w, "signal"); /* the stop signal was never due */
        assert_str(w, "exit_signal", "SIGKILL");
        pre = h_json_str(hook(w, "pre_stop"), "outcome");
        ck_assert_msg(pre && (strcmp(pre, "failed") == 0 || strcmp(pre, "timeout") == 0), "pre_stop outcome %s",
                      pre ? pre : "(none)");
        assert_str(hook(w, "post_stop"), "outcome", "skipped");
        gh_cleanup(&g);
}
END_TEST

/* ---- report --------------------------------------------------------------------------------- */

/* Every worker failed (exit 1, restart = "no") before the shutdown:
 * "failed", never signalled, clean false, exit 1. */
START_TEST(test_all_failed)
{
        struct gh g;
        const char *conf;
        struct json_object *r, *w;
        static const char *const names[] = { "f1", "f2" };

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                "workers = (\n"
                "  { name = \"f1\"; restart = \"no\"; command = [\"%1$s\", \"--stamp\", \"%2$s\", \"--exit\", \"1\"]; },\n"
                "  { name = \"f2\"; restart = \"no\"; command = [\"%1$s\", \"--stamp\", \"%3$s\", \"--exit\", \"1\"]; }\n"
                ");\n",
                tw(), gh_path(&g, "f1.stamp"), gh_path(&g, "f2.stamp"));
        ck_assert_int_eq(gh_start(&g, conf, NULL, NULL), 0);
        ck_assert(h_wait_log_count(&g, "failed for good", 2, T));
        ck_assert_int_eq(stop(&g, SIGTERM), 1);

        r = report(&g);
        assert_bool(r, "clean", 0);
        assert_bool(r, "forced", 0);
        ck_assert_int_eq(h_json_len(r, "workers"), 2);
        for (int i = 0; i < 2; i++) {
                char stamp[16];

                snprintf(stamp, sizeof stamp, "%s.stamp", names[i]);
                w = worker(r, names[i]);
                assert_str(w, "outcome", "failed");
                assert_int(w, "exit_code", 1);
                assert_null(w, "exit_signal");
                assert_null(w, "signal");
                assert_int(w, "restarts", 0);
                assert_int(w, "pid", h_read_stamp_pid(gh_path(&g, stamp)));
        }
        gh_cleanup(&g);
}
END_TEST

/* Workers ending by themselves during the shutdown (while the pre_stop of
 * the worker that depends on them runs): not restarted (restart = "always"
 * and "on-failure"), recorded as they ended, "exited" (code 0) and "failed"
 * (code 4), never signalled; one that ends during its
 * own pre_stop is "exited" and gets no stop signal. */
START_TEST(test_exit_during_shutdown)
{
        struct gh g;
        const char *conf;
        struct json_object *r, *w;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                "workers = (\n"
                "  { name = \"good\"; restart = \"always\"; command = [\"%1$s\", \"--wait-file\", \"%2$s\", \"--exit\", \"0\"]; },\n"
                "  { name = \"bad\"; restart = \"on-failure\"; command = [\"%1$s\", \"--wait-file\", \"%2$s\", \"--exit\", \"4\"]; },\n"
                "  { name = \"top\"; after = [\"good\", \"bad\"]; command = [\"%1$s\", \"--block\"];\n"
                "    pre_stop = [\"%1$s\", \"--stamp\", \"%4$s\", \"--wait-file\", \"%3$s\"]; },\n"
                "  { name = \"self\"; restart = \"no\"; command = [\"%1$s\", \"--wait-file\", \"%2$s\", \"--exit\", \"0\"];\n"
                "    pre_stop = [\"%1$s\", \"--stamp\", \"%5$s\", \"--wait-file\", \"%3$s\"]; }\n"
                ");\n",
                tw(), gh_path(&g, "gate-workers"), gh_path(&g, "gate-hook"), gh_path(&g, "hook.stamp"),
                gh_path(&g, "self-hook.stamp"));
        start_ready(&g, conf, NULL, 4);
        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert(h_wait_file(gh_path(&g, "hook.stamp"), T));
        ck_assert(h_wait_file(gh_path(&g, "self-hook.stamp"), T));
        /* while top's pre_stop runs, good and bad end by themselves */
        ck_assert_ptr_nonnull(gh_write_file(&g, "gate-workers", "go\n"));
        ck_assert(h_wait_log(&g, "good: exited 0", T));
        ck_assert(h_wait_log(&g, "exited 4", T)); /* "bad: warning: exited ..." */
        ck_assert(h_wait_log(&g, "self: exited 0", T));
        ck_assert_ptr_nonnull(gh_write_file(&g, "gate-hook", "go\n"));
        ck_assert_int_eq(gh_exit_code(&g, T), 1);
        /* no restart once the shutdown began, whatever the policy */
        ck_assert_int_eq(h_count_log(&g, "good: starting"), 1);
        ck_assert_int_eq(h_count_log(&g, "bad: starting"), 1);
        ck_assert_int_eq(h_count_log(&g, "restarting"), 0);

        r = report(&g);
        assert_bool(r, "clean", 0);
        assert_bool(r, "forced", 0);
        w = worker(r, "good");
        assert_str(w, "outcome", "exited");
        assert_int(w, "exit_code", 0);
        assert_null(w, "signal");
        w = worker(r, "bad");
        assert_str(w, "outcome", "failed");
        assert_int(w, "exit_code", 4);
        assert_null(w, "signal");
        w = worker(r, "top");
        assert_str(w, "outcome", "stopped");
        assert_str(w, "signal", "SIGTERM");
        assert_str(hook(w, "pre_stop"), "outcome", "ok");
        ck_assert_int_lt(h_report_worker_pos(r, "top"), h_report_worker_pos(r, "good"));
        ck_assert_int_lt(h_report_worker_pos(r, "top"), h_report_worker_pos(r, "bad"));
        /* ended during its own pre_stop: no stop signal was due any more */
        w = worker(r, "self");
        assert_str(w, "outcome", "exited");
        assert_int(w, "exit_code", 0);
        assert_null(w, "signal");
        assert_str(hook(w, "pre_stop"), "outcome", "ok");
        gh_cleanup(&g);
}
END_TEST

/* A worker waiting to be restarted (restart = "always", it exited 0) when
 * the shutdown comes: the restart is cancelled and it is recorded as it
 * ended, "exited" with code 0; the shutdown is clean. */
START_TEST(test_backoff_at_shutdown)
{
        struct gh g;
        const char *conf;
        struct json_object *r, *w;
        int code;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                "workers = ({ name = \"again\"; restart = \"always\"; restart_delay = \"20s\";\n"
                "    command = [\"%s\", \"--stamp\", \"%s\", \"--exit\", \"0\"]; });\n",
                tw(), gh_path(&g, "again.stamp"));
        ck_assert_int_eq(gh_start(&g, conf, NULL, NULL), 0);
        ck_assert(h_wait_log(&g, "again: restarting in", T));
        code = stop(&g, SIGTERM);
        ck_assert_int_eq(h_count_log(&g, "again: starting"), 1);

        r = report(&g);
        w = worker(r, "again");
        assert_int(w, "exit_code", 0);
        assert_null(w, "signal");
        assert_int(w, "pid", h_read_stamp_pid(gh_path(&g, "again.stamp")));
        assert_str(w, "outcome", "exited");
        assert_bool(r, "clean", 1);
        ck_assert_int_eq(code, 0);
        gh_cleanup(&g);
}
END_TEST

/* No workers: ready, and the first signal ends it cleanly with workers []. */
START_TEST(test_no_workers)
{
        struct gh g;
        const char *conf;
        struct json_object *r;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf", "workers = ();\n");
        start_ready(&g, conf, NULL, 0);
        ck_assert_int_eq(stop(&g, SIGTERM), 0);
        r = report(&g);
        ck_assert_int_eq(h_json_len(r, "workers"), 0);
        ck_assert_int_eq(h_json_len(r, "cleanup"), 0);
        assert_bool(r, "clean", 1);
        assert_bool(r, "forced", 0);
        assert_str(r, "reason", "SIGTERM");
        gh_cleanup(&g);
}
END_TEST

/* A report path in a missing directory: a clear error naming the path,
 * and the exit code of the shutdown itself (0). */
START_TEST(test_report_unwritable)
{
        static const char *const bad = "/nonexistent/graced-test-dir/r.json";
        struct gh g;
        const char *conf;
        char *log, *line, *eol;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf", "workers = ({ name = \"w\"; command = [\"%s\", \"--block\"]; });\n", tw());
        start_ready(&g, conf, ARGS("--report", bad), 1);
        ck_assert_int_eq(stop(&g, SIGTERM), 0);
        ck_assert_int_eq(access(g.report_path, F_OK), -1);

        log = h_log_contents(&g);
        ck_assert_ptr_nonnull(log);
        line = strstr(log, bad);
        ck_assert_msg(line != NULL, "the log does not name %s", bad);
        while (line > log && line[-1] != '\n')
                line--;
        eol = strchr(line, '\n');
        if (eol)
                *eol = '\0';
        ck_assert_msg(strstr(line, "error") && strstr(line, strerror(ENOENT)), "not a clear error: %s", line);
        free(log);
        gh_cleanup(&g);
}
END_TEST

/* The report against the facts: pids are the workers' own (the second run
 * of a worker that failed once), restarts, hook exit codes, the
 * supervisor's name, the start time; written atomically. */
START_TEST(test_report_facts)
{
        struct gh g;
        const char *conf, *started;
        struct json_object *r, *w, *h;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                "supervisor = { name = \"facts\"; };\n"
                "workers = (\n"
                "  { name = \"flaky\"; restart = \"on-failure\"; restart_delay = \"50ms\";\n"
                "    command = [\"/bin/sh\", \"-c\", \"if [ -e %2$s ]; then exec %1$s --stamp %3$s --block; fi; : > %2$s; exit 1\"];\n"
                "    pre_stop = [\"%1$s\", \"--exit\", \"0\"];\n"
                "    post_stop = [\"/bin/sh\", \"-c\", \"exit 0\"]; },\n"
                "  { name = \"steady\"; command = [\"%1$s\", \"--stamp\", \"%4$s\", \"--block\"]; }\n"
                ");\n",
                tw(), gh_path(&g, "flaky.once"), gh_path(&g, "flaky.stamp"), gh_path(&g, "steady.stamp"));
        start_ready(&g, conf, NULL, 2);
        ck_assert(h_wait_file(gh_path(&g, "flaky.stamp"), T));
        ck_assert(h_wait_file(gh_path(&g, "steady.stamp"), T));
        ck_assert_int_eq(stop(&g, SIGTERM), 0);

        r = report(&g);
        assert_no_report_tmp(&g);
        assert_str(r, "supervisor", "facts");
        assert_str(r, "reason", "SIGTERM");
        assert_bool(r, "clean", 1);
        assert_bool(r, "forced", 0);
        started = h_json_str(r, "started");
        ck_assert_ptr_nonnull(started);
        /* 2026-11-24T19:00:00.000Z */
        ck_assert_msg(strlen(started) == 24 && started[4] == '-' && started[10] == 'T' && started[19] == '.' &&
                      started[23] == 'Z', "started: %s", started);
        ck_assert(!isnan(h_json_double(r, "duration_s")));
        ck_assert_double_ge(h_json_double(r, "duration_s"), 0.0);
        ck_assert_double_lt(h_json_double(r, "duration_s"), 3.0);

        w = worker(r, "flaky");
        assert_int(w, "restarts", 1);
        assert_int(w, "pid", h_read_stamp_pid(gh_path(&g, "flaky.stamp")));
        assert_str(w, "outcome", "stopped");
        assert_str(w, "exit_signal", "SIGTERM");
        h = hook(w, "pre_stop");
        assert_str(h, "outcome", "ok");
        assert_int(h, "exit_code", 0);
        ck_assert(!isnan(h_json_double(h, "duration_s")));
        h = hook(w, "post_stop");
        assert_str(h, "outcome", "ok");
        assert_int(h, "exit_code", 0);

        w = worker(r, "steady");
        assert_int(w, "restarts", 0);
        assert_int(w, "pid", h_read_stamp_pid(gh_path(&g, "steady.stamp")));
        assert_str(w, "outcome", "stopped");
        ck_assert(!isnan(h_json_double(w, "stop_s")));
        assert_null(w, "pre_stop");
        assert_null(w, "post_stop");
        gh_cleanup(&g);
}
END_TEST

/* A oneshot (restart = "no") that ended by itself and left a background
 * process in its group holding its stdout pipe: at the shutdown what is
 * left of its group is stopped (then killed), graced does not wait for
 * that output until shutdown_timeout, the report is not forced, and the
 * background process is gone (21ee2c0). */
START_TEST(test_oneshot_leftover_group_stopped)
{
        struct gh g;
        const char *conf, *pidfile;
        struct json_object *r;
        pid_t bg;
        long long t0;
        int code;

        ck_assert_int_eq(gh_init(&g), 0);
        pidfile = gh_path(&g, "bg.pid");
        conf = gh_write_file(&g, "graced.conf",
                "supervisor = { shutdown_timeout = \"20s\"; };\n"
                "workers = (\n"
                "  { name = \"once\"; restart = \"no\"; stop_timeout = \"1s\";\n"
                "    command = [\"/bin/sh\", \"-c\", \"sleep 300 & echo $! > %2$s.tmp; mv %2$s.tmp %2$s; echo spawned\"]; },\n"
                "  { name = \"svc\"; command = [\"%1$s\", \"--stamp\", \"%3$s\", \"--block\"]; }\n"
                ");\n",
                tw(), pidfile, gh_path(&g, "svc.stamp"));
        ck_assert_int_eq(gh_start(&g, conf, NULL, NULL), 0);
        ck_assert(h_wait_log(&g, "once[stdout]: spawned", T));
        ck_assert(h_wait_log(&g, "once: exited 0", T));
        ck_assert(h_wait_log(&g, "running: ", T));
        wait_stamps(&g, "svc", NULL);
        ck_assert(h_wait_file(pidfile, T));
        bg = h_read_stamp_pid(pidfile);
        ck_assert_int_gt(bg, 0);
        ck_assert_msg(h_pid_alive(bg), "the background sleep %d is not running", (int)bg);

        t0 = h_now_ns();
        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        code = gh_exit_code(&g, 8000);
        if (code != 0)
                gh_dump_log(&g, 40);
        ck_assert_msg(code == 0, "graced: exit %d after %lld ms (wanted 0 within 8 s)", code, h_ms_since(t0));
        ck_assert_msg(h_ms_since(t0) < 8000, "shutdown took %lld ms", h_ms_since(t0));
        ck_assert_msg(h_wait_pid_gone(bg, T), "the background sleep %d survived graced", (int)bg);

        r = report(&g);
        assert_bool(r, "forced", 0);
        assert_str(worker(r, "svc"), "outcome", "stopped");
        assert_str(worker(r, "once"), "outcome", "exited");
        gh_cleanup(&g);
}
END_TEST

/* ---- main ----------------------------------------------------------------------------------- */

static TCase *tcase(Suite *s, const char *name) { return h_tcase(s, name, 30); }

static Suite *suite(void)
{
        Suite *s = suite_create("shutdown");
        TCase *tc;

        tc = tcase(s, "order");
        tcase_add_test(tc, test_chain);
        tcase_add_test(tc, test_diamond);
        tcase_add_test(tc, test_max_parallel_1);
        tcase_add_test(tc, test_max_parallel_4);

        tc = tcase(s, "signals");
        tcase_add_loop_test(tc, test_graceful, 0, 2);
        tcase_add_loop_test(tc, test_signal_during_startup, 0, 2);
        tcase_add_test(tc, test_burst_within_debounce);
        tcase_add_test(tc, test_second_signal_forces);
        tcase_add_test(tc, test_sigquit);
        tcase_add_test(tc, test_force_after_0_storm);

        tc = tcase(s, "bounds");
        tcase_add_test(tc, test_stubborn_killed);
        tcase_add_test(tc, test_grandchild_group_killed);
        tcase_add_test(tc, test_pre_stop_timeout);
        tcase_add_test(tc, test_pre_stop_unreaped_not_run_twice);
        tcase_add_test(tc, test_post_stop_fails);
        tcase_add_test(tc, test_shutdown_timeout);
        tcase_add_test(tc, test_force_during_shielded_step);
        tcase_add_test(tc, test_force_during_pre_stop);
        tcase_add_test(tc, test_oneshot_leftover_group_stopped);

        tc = tcase(s, "report");
        tcase_add_test(tc, test_all_failed);
        tcase_add_test(tc, test_exit_during_shutdown);
        tcase_add_test(tc, test_backoff_at_shutdown);
        tcase_add_test(tc, test_no_workers);
        tcase_add_test(tc, test_report_unwritable);
        tcase_add_test(tc, test_report_facts);
        return s;
}

int main(void)
{
        (void)h_graced(); /* fail early and clearly when unset */
        (void)h_testworker();
        return h_run_suite(suite());
}
