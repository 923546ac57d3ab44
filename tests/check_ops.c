/* check_ops.c - the settings for real deployments, end to end: a real
 * graced, real workers (tests/helpers/testworker), real signals.
 *
 * "env_file": a worker sees its env files' variables (in order, env on
 *             top), read again at its next start, its hooks too; a bad
 *             line or a missing file is a failed start naming FILE:LINE;
 *             --check reads them (ENVFILE:LINE: message, exit 78).
 * "exit":     stop_on_exit + exit_code_from: graced exits with the tests'
 *             code (0, 3, 137 for SIGKILL), 1 when another worker's stop
 *             was not clean; the report's reason and clean.
 * "drain":    shutdown_delay: the worker gets its stop signal no sooner
 *             than the delay after graced's SIGTERM (its own stamp of the
 *             arrival), STATUS= says draining; a second signal forces at once.
 * "plan":     --print-plan --format=json from the command line.
 * "examples": graced --check accepts every .conf file of conf/examples, and
 *             the pod's grace period is what graced suggests for its file.
 *
 * Every wait is on an event (a log line, a file, an exit) with a bound.
 * Needs GRACED_BIN, GRACED_TESTWORKER, GRACED_TEST_CONF. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "harness.h"

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define T 5000 /* ms: generous bound for things that happen at once */

static const char *tw(void) { return h_testworker(); }

static struct json_object *report(struct gh *g)
{
        struct json_object *r = gh_report(g);

        ck_assert_msg(r != NULL, "no parsable report at %s", g->report_path);
        return r;
}

static void assert_env(const char *text, const char *name, const char *want)
{
        char *v = h_field_env(text, name);

        if (!want)
                ck_assert_msg(v == NULL, "%s is set (%s)", name, v);
        else
                ck_assert_msg(v && strcmp(v, want) == 0, "%s is \"%s\", expected \"%s\"", name, v ? v : "(unset)",
                              want);
        free(v);
}

/* ---- env_file ----------------------------------------------------------------------------- */

/* Several files in order (a later one wins, "-" for a missing one), env
 * on top; the file is read again at the next start; hooks see the same. */
START_TEST(test_env_file_worker)
{
        struct gh g;
        const char *a, *b, *conf, *seen, *hook_seen;
        char *text, *out = NULL;

        ck_assert_int_eq(gh_init(&g), 0);
        a = gh_write_file(&g, "a.env",
                          "# the defaults\n"
                          "export A=1\n"
                          "B=\"two  words\" \n"
                          "E=\"two  words\" \n"
                          "C='$HOME \\n'\n"
                          "D=from-file\n"
                          "MULTI=one \\\n"
                          "two\n");
        b = gh_write_file(&g, "b.env", "B=from-b\n");
        seen = gh_path(&g, "seen");
        hook_seen = gh_path(&g, "hook-seen");
        conf = gh_write_file(&g, "graced.conf",
                             "workers = ( { name = \"w\"; command = [\"%s\", \"--report-fds\", \"%s\", \"--block\"];\n"
                             "  env_file = [\"%s\", \"-%s/missing.env\", \"%s\"]; env = { D = \"from-env\"; };\n"
                             "  pre_stop = [\"%s\", \"--report-fds\", \"%s\"]; } );\n",
                             tw(), seen, a, g.dir, b, tw(), hook_seen);
        ck_assert_int_eq(gh_start(&g, conf, NULL, NULL), 0);
        ck_assert(h_wait_file(seen, T));
        text = h_read_file(seen);
        assert_env(text, "A", "1");
        assert_env(text, "B", "from-b");
        assert_env(text, "E", "two  words");
        assert_env(text, "C", "$HOME \\n");
        assert_env(text, "D", "from-env");
        assert_env(text, "MULTI", "one two");
        free(text);

        /* an edit applies at the next start */
        gh_write_file(&g, "a.env", "A=2\n");
        ck_assert_int_eq(unlink(seen), 0);
        ck_assert_int_eq(h_exit_code(h_run(ARGS(h_gracectl(), "-s", g.ctl_path, "restart", "w"), NULL, T, &out)), 0);
        free(out);
        ck_assert(h_wait_file(seen, T));
        text = h_read_file(seen);
        assert_env(text, "A", "2");
        assert_env(text, "C", NULL);
        assert_env(text, "B", "from-b");
        free(text);

        /* the hook runs with the variables of the worker's run */
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        text = h_read_file(hook_seen);
        ck_assert_ptr_nonnull(text);
        assert_env(text, "A", "2");
        assert_env(text, "D", "from-env");
        free(text);
        gh_cleanup(&g);
}
END_TEST

/* A bad line, or a missing file: the start fails and says where. */
START_TEST(test_env_file_bad)
{
        struct gh g;
        const char *env, *conf;
        char line[512];
        struct json_object *r;

        ck_assert_int_eq(gh_init(&g), 0);
        env = gh_write_file(&g, "w.env", "A=1\n\nNOT AN ASSIGNMENT\n");
        if (_i == 1)
                env = gh_path(&g, "none.env");
        conf = gh_write_file(&g, "graced.conf",
                             "workers = ( { name = \"w\"; command = [\"%s\", \"--block\"]; env_file = [\"%s\"];"
                             " restart = \"no\"; },\n"
                             "            { name = \"ok\"; command = [\"%s\", \"--block\"]; } );\n",
                             tw(), env, tw());
        ck_assert_int_eq(gh_start(&g, conf, NULL, NULL), 0);
        if (_i == 0)
                snprintf(line, sizeof line, "w: error: env_file %s/w.env:3: missing \"=\" after \"NOT AN ASSIGNMENT\"",
                         g.dir);
        else
                snprintf(line, sizeof line, "w: error: env_file %s/none.env: No such file or directory", g.dir);
        ck_assert(h_wait_log(&g, line, T));
        ck_assert(h_wait_log(&g, "w: error: failed for good: could not start", T));
        ck_assert(h_wait_log(&g, "ok: ready", T));
        ck_assert_int_eq(gh_shutdown(&g, T), 1);
        r = report(&g);
        ck_assert_str_eq(h_json_str(h_report_worker(r, "w"), "outcome"), "failed");
        ck_assert_str_eq(h_json_str(h_report_worker(r, "ok"), "outcome"), "stopped");
        gh_cleanup(&g);
}
END_TEST

/* --check and --print-plan read the env files: ENVFILE:LINE: message and
 * 78 (graced itself starts with such a file: test_env_file_bad). */
START_TEST(test_env_file_check)
{
        struct gh g;
        const char *env, *conf;
        char *out = NULL, *want;
        int st;

        ck_assert_int_eq(gh_init(&g), 0);
        env = gh_write_file(&g, "w.env", "GOOD=1\nX='unterminated\n");
        conf = gh_write_file(&g, "graced.conf",
                             "workers = ( { name = \"w\"; command = [\"%s\", \"--block\"]; env_file = [\"%s\"]; } );\n",
                             tw(), env);
        st = h_run(ARGS(h_graced(), "-c", conf, "--check"), NULL, T, &out);
        ck_assert_int_eq(h_exit_code(st), 78);
        want = h_path(g.dir, "w.env:2: unterminated single quote\n");
        ck_assert_msg(out && strcmp(out, want) == 0, "--check said: %s", out ? out : "(nothing)");
        free(want);
        free(out);
        out = NULL;
        /* --print-plan too */
        st = h_run(ARGS(h_graced(), "-c", conf, "--print-plan"), NULL, T, &out);
        ck_assert_int_eq(h_exit_code(st), 78);
        free(out);
        out = NULL;
        /* fixed: valid */
        gh_write_file(&g, "w.env", "GOOD=1\nX='terminated'\n");
        st = h_run(ARGS(h_graced(), "-c", conf, "--check"), NULL, T, &out);
        ck_assert_msg(h_exit_code(st) == 0, "--check said: %s", out ? out : "(nothing)");
        free(out);
        gh_cleanup(&g);
}
END_TEST

/* ---- stop_on_exit, exit_code_from ------------------------------------------------------------ */

/* A CI run: db, then tests that end by themselves; graced exits with the
 * tests' code. Case 2: SIGKILLed by someone else (128 + 9). */
START_TEST(test_exit_code_from)
{
        static const int want[] = { 0, 3, 137 };
        struct gh g;
        const char *conf, *pidf = NULL, *gate;
        struct json_object *r;
        char code[8];

        ck_assert_int_eq(gh_init(&g), 0);
        snprintf(code, sizeof code, "%d", want[_i]);
        gate = gh_path(&g, "gate");
        pidf = gh_path(&g, "tests.pid");
        conf = gh_write_file(&g, "graced.conf",
                             "supervisor = { exit_code_from = \"tests\"; };\n"
                             "workers = (\n"
                             "  { name = \"db\"; command = [\"%s\", \"--block\"]; },\n"
                             "  { name = \"tests\"; command = [\"%s\", \"--stamp\", \"%s\", \"--wait-file\", \"%s\","
                             " \"--exit\", \"%s\"];\n"
                             "    after = [\"db\"]; stop_on_exit = true; restart = \"no\"; }\n"
                             ");\n",
                             tw(), tw(), pidf, gate, _i == 2 ? "0" : code);
        ck_assert_int_eq(gh_start(&g, conf, NULL, NULL), 0);
        ck_assert(h_wait_file(pidf, T));
        if (_i == 2)
                ck_assert_int_eq(kill(h_read_stamp_pid(pidf), SIGKILL), 0);
        else
                ck_assert_ptr_nonnull(h_write_file(g.dir, "gate", "go\n"));
        ck_assert_int_eq(gh_exit_code(&g, T), want[_i]);
        ck_assert(h_wait_log(&g, "shutting down (worker tests exited)", T));
        r = report(&g);
        ck_assert_str_eq(h_json_str(r, "reason"), "worker tests exited");
        ck_assert_int_eq(h_json_bool(r, "clean"), 1);
        ck_assert_str_eq(h_json_str(h_report_worker(r, "db"), "outcome"), "stopped");
        ck_assert_str_eq(h_json_str(h_report_worker(r, "tests"), "outcome"), _i == 0 ? "exited" : "failed");
        gh_cleanup(&g);
}
END_TEST

/* Another worker's stop is not clean (killed after its stop_timeout): 1. */
START_TEST(test_exit_code_from_unclean)
{
        struct gh g;
        const char *conf, *ready;
        struct json_object *r;

        ck_assert_int_eq(gh_init(&g), 0);
        ready = gh_path(&g, "db.ready");
        conf = gh_write_file(&g, "graced.conf",
                             "supervisor = { exit_code_from = \"tests\"; };\n"
                             "workers = (\n"
                             "  { name = \"db\"; command = [\"%s\", \"--ignore\", \"TERM\", \"--stamp\", \"%s\", \"--block\"];"
                             " stop_timeout = \"200ms\"; },\n"
                             "  { name = \"tests\"; command = [\"%s\", \"--wait-file\", \"%s\", \"--exit\", \"0\"];\n"
                             "    after = [\"db\"]; stop_on_exit = true; restart = \"no\"; }\n"
                             ");\n",
                             tw(), ready, tw(), ready);
        ck_assert_int_eq(gh_start(&g, conf, NULL, NULL), 0);
        ck_assert_int_eq(gh_exit_code(&g, T), 1);
        r = report(&g);
        ck_assert_str_eq(h_json_str(r, "reason"), "worker tests exited");
        ck_assert_int_eq(h_json_bool(r, "clean"), 0);
        ck_assert_str_eq(h_json_str(h_report_worker(r, "db"), "outcome"), "killed");
        ck_assert_str_eq(h_json_str(h_report_worker(r, "tests"), "outcome"), "exited");
        gh_cleanup(&g);
}
END_TEST

/* ---- shutdown_delay ---------------------------------------------------------------------- */

/* The worker records when its SIGTERM arrived: no sooner than the delay
 * after graced got its own; meanwhile STATUS= says draining. */
START_TEST(test_shutdown_delay)
{
        struct gh g;
        struct h_notify n;
        const char *conf, *up, *got;
        long long sent, arrived;
        struct json_object *r;

        ck_assert_int_eq(gh_init(&g), 0);
        ck_assert_int_eq(h_notify_open(&n, g.dir), 0);
        up = gh_path(&g, "up");
        got = gh_path(&g, "got-term");
        conf = gh_write_file(&g, "graced.conf",
                             "supervisor = { shutdown_delay = \"1s\"; shutdown_timeout = \"10s\"; };\n"
                             "workers = ( { name = \"web\"; command = [\"%s\", \"--on-signal-delay\", \"TERM\", \"0\", \"0\","
                             " \"--signal-stamp\", \"%s\", \"--stamp\", \"%s\", \"--block\"]; } );\n",
                             tw(), got, up);
        ck_assert_int_eq(gh_start(&g, conf, NULL, ARGS(n.env)), 0);
        ck_assert(h_wait_file(up, T));
        ck_assert(h_notify_wait(&n, "READY=1", T));
        sent = h_now_ns();
        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert(h_notify_wait(&n, "STATUS=draining (1s)", T));
        ck_assert(h_wait_log(&g, "shutting down (SIGTERM): draining 1s, then stopping 1 worker", T));
        /* draining: the worker has not been signalled */
        ck_assert_int_eq(access(got, F_OK), -1);
        ck_assert_int_eq(gh_exit_code(&g, T), 0);
        arrived = h_read_stamp_mono_ns(got);
        ck_assert_int_gt(arrived, 0);
        ck_assert_msg(arrived - sent >= 1000000000LL, "SIGTERM reached the worker %lld ms after graced's",
                      (arrived - sent) / 1000000);
        ck_assert_msg(arrived - sent < 1000000000LL + T * 1000000LL, "the drain took %lld ms",
                      (arrived - sent) / 1000000);
        ck_assert(h_notify_find(&n, "STOPPING=1") < h_notify_find(&n, "STATUS=draining (1s)"));
        r = report(&g);
        ck_assert_int_eq(h_json_bool(r, "clean"), 1);
        ck_assert_str_eq(h_json_str(h_report_worker(r, "web"), "outcome"), "stopped");
        h_notify_close(&n);
        gh_cleanup(&g);
}
END_TEST

/* A forcing signal during the drain forces the whole shutdown at once. */
START_TEST(test_shutdown_delay_forced)
{
        struct gh g;
        const char *conf, *up;
        long long t0;
        struct json_object *r;

        ck_assert_int_eq(gh_init(&g), 0);
        up = gh_path(&g, "up");
        conf = gh_write_file(&g, "graced.conf",
                             "supervisor = { shutdown_delay = \"60s\"; shutdown_timeout = \"90s\"; signal_debounce = 0; };\n"
                             "workers = ( { name = \"web\"; command = [\"%s\", \"--stamp\", \"%s\", \"--block\"]; } );\n",
                             tw(), up);
        ck_assert_int_eq(gh_start(&g, conf, NULL, NULL), 0);
        ck_assert(h_wait_file(up, T));
        t0 = h_now_ns();
        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert(h_wait_log(&g, "draining 1min, then stopping", T));
        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert_int_eq(gh_exit_code(&g, T), 1);
        ck_assert_msg(h_ms_since(t0) < T, "the forced shutdown took %lld ms", h_ms_since(t0));
        ck_assert(h_wait_log(&g, "drain cut short: forcing", T));
        r = report(&g);
        ck_assert_int_eq(h_json_bool(r, "forced"), 1);
        ck_assert_str_eq(h_json_str(h_report_worker(r, "web"), "outcome"), "killed");
        gh_cleanup(&g);
}
END_TEST

/* ---- --print-plan --format=json -------------------------------------------------------------- */

START_TEST(test_print_plan_json)
{
        struct gh g;
        const char *conf;
        char *out = NULL;
        struct json_object *o;
        int st;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                             "supervisor = { shutdown_delay = \"5s\"; shutdown_timeout = \"1min\";\n"
                             "  cleanup = ( { name = \"flush\"; command = [\"/bin/true\"]; timeout = \"2s\"; } ); };\n"
                             "workers = ( { name = \"db\"; command = [\"/bin/true\"]; stop_timeout = \"10s\"; },\n"
                             "  { name = \"web\"; command = [\"/bin/true\"]; after = [\"db\"]; stop_timeout = \"3.5s\"; } );\n");
        st = h_run(ARGS(h_graced(), "-c", conf, "--print-plan", "--format=json"), NULL, T, &out);
        ck_assert_int_eq(h_exit_code(st), 0);
        o = json_tokener_parse(out);
        ck_assert_msg(o != NULL, "not JSON: %s", out);
        /* 5s drain + 3.5s + 10s + 2s cleanup */
        ck_assert_double_eq(h_json_double(o, "worst_case_s"), 20.5);
        ck_assert_int_eq(h_json_int(o, "shutdown_timeout_s"), 60);
        ck_assert_int_eq(h_json_int(o, "suggested_termination_grace_period_s"), 26);
        ck_assert(h_json_is_null(o, "warning"));
        ck_assert_int_eq(h_json_len(o, "start"), 2);
        ck_assert_int_eq(h_json_len(o, "stop"), 2);
        ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(
                                 json_object_array_get_idx(h_json_get(o, "stop"), 0), 0)),
                         "web");
        ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(h_json_get(o, "cleanup"), 0)), "flush");
        json_object_put(o);
        free(out);
        out = NULL;
        /* the text plan says the drain */
        st = h_run(ARGS(h_graced(), "-c", conf, "--print-plan"), NULL, T, &out);
        ck_assert_int_eq(h_exit_code(st), 0);
        ck_assert_msg(strstr(out, "shutdown delay: 5s\nworst case: 20.5s\n"), "%s", out);
        free(out);
        out = NULL;
        /* usage errors */
        st = h_run(ARGS(h_graced(), "-c", conf, "--print-plan", "--format=yaml"), NULL, T, &out);
        ck_assert_int_eq(h_exit_code(st), 2);
        ck_assert_msg(strstr(out, "invalid --format 'yaml' (text, json)"), "%s", out);
        free(out);
        out = NULL;
        st = h_run(ARGS(h_graced(), "-c", conf, "--check", "--format=json"), NULL, T, &out);
        ck_assert_int_eq(h_exit_code(st), 2);
        free(out);
        gh_cleanup(&g);
}
END_TEST

/* ---- the shipped examples ------------------------------------------------------------------- */

START_TEST(test_examples_check)
{
        char *dir = h_path(h_env_path("GRACED_TEST_CONF"), "examples");
        DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;

        ck_assert_msg(d != NULL, "cannot open %s", dir);
        while ((de = readdir(d))) {
                size_t len = strlen(de->d_name);
                char *path, *out = NULL;
                int st;

                if (len < 6 || strcmp(de->d_name + len - 5, ".conf") != 0)
                        continue;
                path = h_path(dir, de->d_name);
                st = h_run(ARGS(h_graced(), "-c", path, "--check"), NULL, T, &out);
                ck_assert_msg(h_exit_code(st) == 0, "graced --check %s: %s", path, out ? out : "");
                free(out);
                free(path);
                n++;
        }
        closedir(d);
        ck_assert_int_ge(n, 2);
        free(dir);
}
END_TEST

/* The pod's terminationGracePeriodSeconds is what graced suggests for its
 * configuration. */
START_TEST(test_examples_grace_period)
{
        char *dir = h_path(h_env_path("GRACED_TEST_CONF"), "examples"), *conf = h_path(dir, "pod.conf");
        char *yaml_path = h_path(dir, "kubernetes.yaml"), *yaml = h_read_file(yaml_path), *out = NULL, *want = NULL;
        struct json_object *o;
        int st = h_run(ARGS(h_graced(), "-c", conf, "--print-plan", "--format=json"), NULL, T, &out);

        ck_assert_int_eq(h_exit_code(st), 0);
        o = json_tokener_parse(out);
        ck_assert_msg(o != NULL, "not JSON: %s", out);
        ck_assert_ptr_nonnull(yaml);
        ck_assert_int_ge(asprintf(&want, "\n  terminationGracePeriodSeconds: %lld\n",
                                  h_json_int(o, "suggested_termination_grace_period_s")), 0);
        ck_assert_msg(strstr(yaml, want), "kubernetes.yaml lacks \"%s\" (the suggestion for pod.conf)", want + 1);
        /* and its comment shows that very output */
        ck_assert_msg(strstr(yaml, "\"suggested_termination_grace_period_s\": "), "kubernetes.yaml shows no plan");
        json_object_put(o);
        free(want);
        free(out);
        free(yaml);
        free(yaml_path);
        free(conf);
        free(dir);
}
END_TEST

/* ---- main ----------------------------------------------------------------------------------- */

static Suite *suite(void)
{
        Suite *s = suite_create("ops");
        TCase *tc;

        tc = h_tcase(s, "env_file", 30);
        tcase_add_test(tc, test_env_file_worker);
        tcase_add_loop_test(tc, test_env_file_bad, 0, 2);
        tcase_add_test(tc, test_env_file_check);

        tc = h_tcase(s, "exit", 30);
        tcase_add_loop_test(tc, test_exit_code_from, 0, 3);
        tcase_add_test(tc, test_exit_code_from_unclean);

        tc = h_tcase(s, "drain", 30);
        tcase_add_test(tc, test_shutdown_delay);
        tcase_add_test(tc, test_shutdown_delay_forced);

        tc = h_tcase(s, "plan", 30);
        tcase_add_test(tc, test_print_plan_json);
        tcase_add_test(tc, test_examples_check);
        tcase_add_test(tc, test_examples_grace_period);
        return s;
}

int main(void)
{
        (void)h_graced(); /* fail early and clearly when unset */
        (void)h_testworker();
        return h_run_suite(suite());
}
