/* check_reload.c - the configuration reload (SIGHUP, `gracectl reload`),
 * end to end: a real graced, real testworkers, the real gracectl and a fake
 * $NOTIFY_SOCKET (tests/harness.h). Needs GRACED_BIN, GRACECTL_BIN,
 * GRACED_TESTWORKER.
 *
 * SPEC "Reload": an invalid file changes nothing (every error logged, READY=1
 * again with the error in STATUS=); a valid one stops the removed workers (in
 * order, bounded), starts the new ones (in order), restarts the changed ones
 * and leaves the unchanged ones alone; RELOADING=1 with MONOTONIC_USEC, then
 * READY=1. Pids come from the workers' --stamp files and /proc; every wait
 * is on a log line, a file or a pid, never on time. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "harness.h"

#define ARGV(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define T 10000 /* ms: a generous bound for things that happen at once */

/* ---- configurations ----------------------------------------------------------- */

static const char *stamp(struct gh *g, const char *name)
{
        char *n;

        ck_assert_int_ge(asprintf(&n, "%s.stamp", name), 0);
        return gh_path(g, gh_keep(g, n));
}

/* DIR/events: the lines the hooks append. */
static const char *events(struct gh *g) { return gh_path(g, "events"); }

/* (Re)writes DIR/graced.conf with the workers given; returns its path. */
H_PRINTF(2, 3) static const char *conf(struct gh *g, const char *workers_fmt, ...)
{
        va_list ap;
        char *workers;

        va_start(ap, workers_fmt);
        ck_assert_int_ge(vasprintf(&workers, workers_fmt, ap), 0);
        va_end(ap);
        const char *path = gh_write_file(g, "graced.conf", "supervisor = { name = \"reload\"; };\nworkers = (\n%s\n);\n",
                                         workers);
        free(workers);
        ck_assert_ptr_nonnull(path);
        return path;
}

/* A blocking worker that leaves DIR/NAME.stamp. args: more argv items before
 * --stamp, already quoted and each followed by ", " (e.g. "\"--verbose\", ");
 * extra: more settings. */
static char *worker_args(struct gh *g, const char *name, const char *args, const char *extra)
{
        char *s;

        ck_assert_int_ge(asprintf(&s, "  { name = \"%s\"; command = [\"%s\", %s\"--stamp\", \"%s\", \"--block\"]; %s }",
                                  name, h_testworker(), args ? args : "", stamp(g, name), extra ? extra : ""),
                         0);
        return gh_keep(g, s);
}

static char *worker(struct gh *g, const char *name, const char *extra)
{
        return worker_args(g, name, NULL, extra);
}

/* A hook setting: KEY = [testworker, --append, DIR/events, TEXT]; */
static char *hook(struct gh *g, const char *key, const char *text)
{
        char *s;

        ck_assert_int_ge(asprintf(&s, "%s = [\"%s\", \"--append\", \"%s\", \"%s\"];", key, h_testworker(), events(g), text),
                         0);
        return gh_keep(g, s);
}

/* A string from parts, owned by g. */
H_PRINTF(2, 3) static char *fmt(struct gh *g, const char *f, ...)
{
        va_list ap;
        char *s;

        va_start(ap, f);
        ck_assert_int_ge(vasprintf(&s, f, ap), 0);
        va_end(ap);
        return gh_keep(g, s);
}

/* ---- workers' pids -------------------------------------------------------------- */

/* Waits for DIR/NAME.stamp and returns the pid in it, which must be alive. */
static pid_t wait_pid(struct gh *g, const char *name)
{
        pid_t pid;

        ck_assert_msg(h_wait_file(stamp(g, name), T), "%s: no stamp", name);
        pid = h_read_stamp_pid(stamp(g, name));
        ck_assert_msg(pid > 0, "%s: bad stamp", name);
        ck_assert_msg(h_pid_alive(pid), "%s: pid %d is not alive", name, (int)pid);
        return pid;
}

/* The stamp says the same pid and that process still runs. */
static void assert_same(struct gh *g, const char *name, pid_t old)
{
        pid_t pid = h_read_stamp_pid(stamp(g, name));

        ck_assert_msg(pid == old, "%s: pid %d, was %d: it was restarted", name, (int)pid, (int)old);
        ck_assert_msg(h_pid_alive(old), "%s: pid %d is gone", name, (int)old);
        ck_assert_msg(h_pid_ppid(old) == g->pid, "%s: pid %d is no longer graced's child", name, (int)old);
}

/* Forget the stamp, so that the next one (a new process) can be waited for. */
static void forget(struct gh *g, const char *name)
{
        ck_assert(unlink(stamp(g, name)) == 0 || errno == ENOENT);
}

/* A new process writes the stamp again: its pid, not old, and old is gone. */
static pid_t wait_new_pid(struct gh *g, const char *name, pid_t old)
{
        pid_t pid = wait_pid(g, name);

        ck_assert_msg(pid != old, "%s: still pid %d", name, (int)old);
        ck_assert_msg(h_wait_pid_reaped(old, T), "%s: old pid %d still there", name, (int)old);
        ck_assert_msg(h_pid_ppid(pid) == g->pid, "%s: pid %d is not graced's child", name, (int)pid);
        return pid;
}

/* ---- the log ---------------------------------------------------------------------- */

/* 0-based number of the first line after line `from` (-1: from the start)
 * containing substr, or -1. */
static int line_after(struct gh *g, const char *substr, int from)
{
        char *log = h_log_contents(g);
        int n = 0, found = -1;

        for (char *p = log; *p;) {
                char *e = strchrnul(p, '\n');
                char c = *e;

                *e = '\0';
                if (n > from && strstr(p, substr)) {
                        found = n;
                        break;
                }
                *e = c;
                p = *e ? e + 1 : e;
                n++;
        }
        free(log);
        return found;
}

/* Like line_after, and the line must be there. */
static int must_line_after(struct gh *g, const char *substr, int from)
{
        int n = line_after(g, substr, from);

        if (n < 0)
                gh_dump_log(g, 60);
        ck_assert_msg(n >= 0, "no log line '%s' after line %d", substr, from);
        return n;
}

/* The number of the log's last line so far (-1: empty), for line_after. */
static int last_line(struct gh *g) { return h_count_log(g, "") - 1; }

/* Sends SIGHUP and waits for one more line containing `outcome` (a line of
 * the reload's end) than there was. */
static void hup(struct gh *g, const char *outcome)
{
        int seen = h_count_log(g, outcome), hups = h_count_log(g, "SIGHUP: reloading");

        ck_assert_int_eq(gh_signal(g, SIGHUP), 0);
        ck_assert(h_wait_log_count(g, "SIGHUP: reloading", hups + 1, T));
        ck_assert(h_wait_log_count(g, outcome, seen + 1, T));
}

/* ---- gracectl ------------------------------------------------------------------- */

/* gracectl -s DIR/control.sock ARGS... must exit with want (else the test
 * fails, showing its output); *out: its stdout and stderr (owned by g). */
static void ctl_expect(struct gh *g, int want, char **out, const char *const *args)
{
        const char *argv[16] = { h_gracectl(), "-s", g->ctl_path };
        size_t n = 3;
        char *o = NULL;
        int code;

        for (size_t i = 0; args[i] && n + 1 < sizeof argv / sizeof argv[0]; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        code = h_exit_code(h_run(argv, NULL, T, &o));
        o = gh_keep(g, o ? o : strdup(""));
        if (code != want)
                gh_dump_log(g, 40);
        ck_assert_msg(code == want, "gracectl %s: exit %d, wanted %d; output:\n%s", args[0] ? args[0] : "", code, want,
                      o);
        if (out)
                *out = o;
}

#define CTL(want, g, out, ...) ctl_expect(g, want, out, ARGV(__VA_ARGS__))

/* The names in `gracectl --json status`, sorted by nothing: "a,b,c," in its order. */
static char *status_names(struct gh *g)
{
        char *out, *names = strdup("");
        struct json_object *o, *a;

        CTL(0, g, &out, "--json", "status");
        o = json_tokener_parse(out);
        ck_assert_msg(o != NULL, "gracectl --json status printed no JSON: %s", out);
        a = h_json_get(o, "workers");
        ck_assert_ptr_nonnull(a);
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                char *n = NULL;
                ck_assert_int_ge(asprintf(&n, "%s%s,", names, h_json_str(json_object_array_get_idx(a, i), "name")), 0);
                free(names);
                names = n;
        }
        json_object_put(o);
        return gh_keep(g, names);
}

/* The state of one worker in `gracectl --json status` (owned by g), or NULL. */
static const char *status_state(struct gh *g, const char *name)
{
        char *out, *st = NULL;
        struct json_object *o, *a;

        CTL(0, g, &out, "--json", "status");
        o = json_tokener_parse(out);
        ck_assert_msg(o != NULL, "gracectl --json status printed no JSON: %s", out);
        a = h_json_get(o, "workers");
        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                struct json_object *w = json_object_array_get_idx(a, i);
                if (strcmp(h_json_str(w, "name"), name) == 0 && h_json_str(w, "state"))
                        st = strdup(h_json_str(w, "state"));
        }
        json_object_put(o);
        return st ? gh_keep(g, st) : NULL;
}

/* The names of a JSON array of objects with "name", as "a,b,c,". */
static char *report_names(struct gh *g, struct json_object *report)
{
        struct json_object *a = h_json_get(report, "workers");
        char *names = strdup("");

        ck_assert_ptr_nonnull(a);
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                char *n = NULL;
                ck_assert_int_ge(asprintf(&n, "%s%s,", names, h_json_str(json_object_array_get_idx(a, i), "name")), 0);
                free(names);
                names = n;
        }
        return gh_keep(g, names);
}

/* Every name of want ("a,b,c") is in names and names has no other. */
static void assert_same_set(const char *names, const char *want)
{
        char *w = strdup(want), *save = NULL;
        size_t nw = 0, nn = 0;

        for (const char *p = names; *p; p++)
                nn += *p == ',';
        for (char *t = strtok_r(w, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                char *needle;
                ck_assert_int_ge(asprintf(&needle, "%s,", t), 0);
                /* at the start or after a comma */
                bool found = strncmp(names, needle, strlen(needle)) == 0;
                for (const char *p = names; !found && (p = strchr(p, ',')); p++)
                        found = strncmp(p + 1, needle, strlen(needle)) == 0;
                ck_assert_msg(found, "'%s' missing from [%s], wanted [%s]", t, names, want);
                free(needle);
                nw++;
        }
        free(w);
        ck_assert_msg(nn == nw, "[%s]: wanted exactly [%s]", names, want);
}

/* ---- notifications -------------------------------------------------------------- */

/* Receives what is queued and returns how many datagrams there are: the
 * index the next one will get. */
static size_t notify_mark(struct h_notify *n)
{
        (void)h_notify_count(n, "");
        return n->n;
}

/* Waits for a datagram containing substr among those from index `from` on;
 * returns its index (the test fails on timeout). */
static int notify_wait_from(struct h_notify *n, const char *substr, size_t from)
{
        long long start = h_now_ns();

        for (;;) {
                (void)h_notify_count(n, ""); /* receive what is queued */
                for (size_t i = from; i < n->n; i++)
                        if (strstr(n->msgs[i], substr))
                                return (int)i;
                long long left = T - h_ms_since(start);
                if (left <= 0)
                        break;
                struct pollfd p = { .fd = n->fd, .events = POLLIN };
                (void)poll(&p, 1, (int)left);
        }
        for (size_t i = 0; i < n->n; i++)
                fprintf(stderr, "notify[%zu] from %d: %s\n", i, (int)n->pids[i], n->msgs[i]);
        ck_abort_msg("no notification with '%s' from #%zu on", substr, from);
        return -1;
}

/* The message i has RELOADING=1 and a plausible MONOTONIC_USEC= (CLOCK_MONOTONIC
 * in us, taken between before_ns and now), and came from graced itself. */
static void assert_reloading(struct gh *g, struct h_notify *n, int i, long long before_ns)
{
        const char *m = n->msgs[i], *v = strstr(m, "MONOTONIC_USEC=");
        unsigned long long us;

        ck_assert_msg(strstr(m, "RELOADING=1") != NULL, "message: %s", m);
        ck_assert_msg(v != NULL, "RELOADING=1 without MONOTONIC_USEC=: %s", m);
        ck_assert_int_eq(sscanf(v, "MONOTONIC_USEC=%llu", &us), 1);
        ck_assert_msg((long long)us >= before_ns / 1000 && (long long)us <= h_now_ns() / 1000,
                      "MONOTONIC_USEC=%llu not within the reload (%lld..%lld us)", us, before_ns / 1000, h_now_ns() / 1000);
        ck_assert_int_eq(n->pids[i], g->pid);
}

/* ---- tests -------------------------------------------------------------------------- */

/* An invalid file - a syntax error, then semantic errors - changes nothing:
 * same pids, every FILE:LINE in the log and from gracectl (exit 1), and
 * systemd hears RELOADING=1, then READY=1 with a STATUS= naming the error. */
START_TEST(test_invalid_keeps_running)
{
        struct gh g;
        struct h_notify n;
        char *out;
        const char *c;
        pid_t a, b;
        int i;
        long long t0;

        ck_assert_int_eq(gh_init(&g), 0);
        ck_assert_int_eq(h_notify_open(&n, g.dir), 0);
        c = conf(&g, "%s,\n%s", worker(&g, "a", NULL), worker(&g, "b", "after = [\"a\"];"));
        ck_assert_int_eq(gh_start(&g, c, NULL, ARGV(n.env)), 0);
        a = wait_pid(&g, "a");
        b = wait_pid(&g, "b");
        (void)notify_wait_from(&n, "READY=1", 0);

        /* 1. a syntax error on line 4 (line 1 is the supervisor) */
        conf(&g, "%s,\n  { name = = \"b\"; }", worker(&g, "a", NULL));
        size_t from = notify_mark(&n);
        int l = last_line(&g);
        t0 = h_now_ns();
        hup(&g, "configuration invalid (1 problem): keeping the running one");
        must_line_after(&g, fmt(&g, "%s:4: syntax error", c), l);
        i = notify_wait_from(&n, "RELOADING=1", from);
        assert_reloading(&g, &n, i, t0);
        i = notify_wait_from(&n, "READY=1", (size_t)i + 1);
        ck_assert_msg(strstr(n.msgs[i], "STATUS=") && strstr(n.msgs[i], "graced.conf:4"),
                      "READY=1 after an invalid reload without a STATUS= naming the error: %s", n.msgs[i]);
        ck_assert_int_eq(n.pids[i], g.pid);

        CTL(1, &g, &out, "reload");
        ck_assert_msg(strstr(out, "invalid configuration"), "output: %s", out);
        ck_assert_msg(strstr(out, fmt(&g, "%s:4: ", c)), "output: %s", out);

        /* 2. semantic errors: an unknown setting (line 3), an unknown name in
         * `after` (line 4); the other worker is new and valid */
        conf(&g, "%s,\n%s,\n%s", worker(&g, "a", "stop_timout = 3;"), worker(&g, "b", "after = [\"nope\"];"),
             worker(&g, "extra", NULL));
        from = notify_mark(&n);
        l = last_line(&g);
        t0 = h_now_ns();
        hup(&g, "configuration invalid (2 problems): keeping the running one");
        ck_assert_int_ge(line_after(&g, fmt(&g, "%s:3: ", c), l), 0);
        ck_assert_int_ge(line_after(&g, fmt(&g, "%s:4: ", c), l), 0);
        ck_assert_msg(line_after(&g, "nope", l) >= 0, "the unknown `after` name is not in the log");
        ck_assert_msg(line_after(&g, "stop_timout", l) >= 0, "the unknown setting is not in the log");
        i = notify_wait_from(&n, "RELOADING=1", from);
        assert_reloading(&g, &n, i, t0);
        i = notify_wait_from(&n, "READY=1", (size_t)i + 1);
        ck_assert_msg(strstr(n.msgs[i], "STATUS=") && strstr(n.msgs[i], "graced.conf:"),
                      "READY=1 after an invalid reload without a STATUS= naming the error: %s", n.msgs[i]);

        CTL(1, &g, &out, "reload");
        ck_assert_msg(strstr(out, "invalid configuration"), "output: %s", out);
        ck_assert_msg(strstr(out, fmt(&g, "%s:3: ", c)) && strstr(out, "stop_timout"), "output: %s", out);
        ck_assert_msg(strstr(out, fmt(&g, "%s:4: ", c)) && strstr(out, "nope"), "output: %s", out);

        /* nothing changed: same processes, nothing stopped or started */
        assert_same(&g, "a", a);
        assert_same(&g, "b", b);
        ck_assert_int_eq(h_count_log(&g, "a: starting"), 1);
        ck_assert_int_eq(h_count_log(&g, "b: starting"), 1);
        ck_assert_int_eq(h_count_log(&g, ": stopping"), 0);
        ck_assert_int_eq(h_count_log(&g, "extra: "), 0);
        ck_assert_int_eq(h_count_log(&g, "reloaded "), 0);
        assert_same_set(status_names(&g), "a,b");
        ck_assert(access(stamp(&g, "extra"), F_OK) != 0);

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        ck_assert_int_eq(h_json_bool(gh_report(&g), "clean"), 1);
        assert_same_set(report_names(&g, gh_report(&g)), "a,b");
        h_notify_close(&n);
        gh_cleanup(&g);
}
END_TEST

/* One reload adds, removes and changes workers at once: exactly the right
 * pids change, the counts line says so, and settings that only steer future
 * decisions (stop_timeout, hooks, restart policy) are applied in place. */
START_TEST(test_add_remove_change)
{
        struct gh g;
        const char *c;
        char *out, *fds, *x;
        pid_t keep, cmd, envw, gone, tune, policy, added;
        int from;

        ck_assert_int_eq(gh_init(&g), 0);
        const char *envfds = gh_path(&g, "envw.fds");
        const char *envw_args = fmt(&g, "\"--report-fds\", \"%s\", ", envfds);
        const char *policy_args = "\"--on-signal\", \"USR1\", \"0\", ";
        c = conf(&g, "%s,\n%s,\n%s,\n%s,\n%s,\n%s", worker(&g, "keep", NULL), worker(&g, "cmd", NULL),
                 worker_args(&g, "envw", envw_args, "env = { X = \"1\"; };"),
                 worker(&g, "gone", fmt(&g, "%s %s", hook(&g, "pre_stop", "gone pre_stop"),
                                        hook(&g, "post_stop", "gone post_stop"))),
                 worker(&g, "tune", fmt(&g, "stop_timeout = \"10s\"; %s", hook(&g, "post_stop", "tune post_stop v1"))),
                 worker_args(&g, "policy", policy_args, "restart = \"no\";"));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        keep = wait_pid(&g, "keep");
        cmd = wait_pid(&g, "cmd");
        envw = wait_pid(&g, "envw");
        gone = wait_pid(&g, "gone");
        tune = wait_pid(&g, "tune");
        policy = wait_pid(&g, "policy");
        ck_assert(h_wait_log(&g, "running: 6/6 workers", T));
        fds = gh_keep(&g, h_read_file(envfds));
        ck_assert_str_eq(gh_keep(&g, h_field_env(fds, "X")), "1");

        /* the new file: cmd's argv and envw's env change, gone goes, added
         * comes, tune and policy change only what steers later decisions */
        forget(&g, "cmd");
        forget(&g, "envw");
        ck_assert_int_eq(unlink(envfds), 0);
        conf(&g, "%s,\n%s,\n%s,\n%s,\n%s,\n%s", worker(&g, "keep", NULL), worker_args(&g, "cmd", "\"--verbose\", ", NULL),
             worker_args(&g, "envw", envw_args, "env = { X = \"2\"; };"),
             worker(&g, "tune", fmt(&g, "stop_timeout = \"7s\"; %s", hook(&g, "post_stop", "tune post_stop v2"))),
             worker_args(&g, "policy", policy_args, "restart = \"always\"; restart_delay = \"10ms\";"),
             worker(&g, "added", NULL));
        from = last_line(&g);
        CTL(0, &g, &out, "reload");
        x = fmt(&g, "reloaded %s: 1 added, 1 removed, 2 changed, 3 unchanged", c);
        ck_assert(h_wait_log(&g, x, T));
        ck_assert_int_eq(h_count_log(&g, "reloaded "), 1);

        /* changed: new processes with the new settings */
        cmd = wait_new_pid(&g, "cmd", cmd);
        envw = wait_new_pid(&g, "envw", envw);
        ck_assert(h_wait_file(envfds, T));
        fds = gh_keep(&g, h_read_file(envfds));
        ck_assert_str_eq(gh_keep(&g, h_field_env(fds, "X")), "2");
        /* added: running */
        added = wait_pid(&g, "added");
        ck_assert(h_wait_log(&g, "added: ready", T));
        /* removed: stopped with its hooks, in their order */
        ck_assert(h_wait_pid_reaped(gone, T));
        ck_assert(h_wait_log(&g, "gone: stopped (", T));
        ck_assert(h_wait_lines(events(&g), "gone post_stop", 1, T));
        ck_assert_int_eq(h_find_line(events(&g), "gone pre_stop"), 0);
        ck_assert_int_eq(h_find_line(events(&g), "gone post_stop"), 1);
        must_line_after(&g, "gone: removed from the configuration: stopping", from);
        /* unchanged, and changed only in place: the same processes */
        assert_same(&g, "keep", keep);
        assert_same(&g, "tune", tune);
        assert_same(&g, "policy", policy);
        ck_assert_int_eq(h_count_log(&g, "keep: stopping"), 0);
        ck_assert_int_eq(h_count_log(&g, "tune: stopping"), 0);
        ck_assert_int_eq(h_count_log(&g, "policy: stopping"), 0);
        assert_same_set(status_names(&g), "keep,cmd,envw,tune,policy,added");

        /* the new restart policy is the one in force: an exit 0 is restarted */
        forget(&g, "policy");
        ck_assert_int_eq(kill(policy, SIGUSR1), 0);
        policy = wait_new_pid(&g, "policy", policy);
        ck_assert(h_wait_log(&g, "policy: restarting in", T));

        /* the final shutdown uses tune's new stop_timeout and post_stop */
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        ck_assert_int_eq(h_count_log(&g, "tune: stopping (SIGTERM, timeout 7s)"), 1);
        ck_assert_int_eq(h_count_log(&g, "tune: stopping (SIGTERM, timeout 10s)"), 0);
        ck_assert_int_eq(h_count_lines(events(&g), "tune post_stop v2"), 1);
        ck_assert_int_eq(h_count_lines(events(&g), "tune post_stop v1"), 0);
        ck_assert_int_eq(h_count_lines(events(&g), "gone "), 2);
        struct json_object *r = gh_report(&g);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(h_json_bool(r, "clean"), 1);
        assert_same_set(report_names(&g, r), "keep,cmd,envw,tune,policy,added");
        ck_assert_str_eq(h_json_str(h_json_get(h_report_worker(r, "tune"), "post_stop"), "outcome"), "ok");
        ck_assert_int_eq(h_json_int(h_report_worker(r, "keep"), "pid"), keep);
        ck_assert_int_eq(h_json_int(h_report_worker(r, "cmd"), "pid"), cmd);
        ck_assert_int_eq(h_json_int(h_report_worker(r, "added"), "pid"), added);
        ck_assert_int_eq(h_json_int(h_report_worker(r, "tune"), "pid"), tune);
        ck_assert_int_eq(h_json_int(h_report_worker(r, "policy"), "restarts"), 1);
        gh_cleanup(&g);
}
END_TEST

/* A reload that adds workers to a smaller configuration (more workers than
 * before, a chain among the new ones): they start in order, get ready, and
 * graced goes on answering; the old worker is not touched. */
START_TEST(test_add_workers)
{
        struct gh g;
        const char *c;
        char *out;
        pid_t a;

        ck_assert_int_eq(gh_init(&g), 0);
        c = conf(&g, "%s", worker(&g, "a", NULL));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        a = wait_pid(&g, "a");
        ck_assert(h_wait_log(&g, "running: 1/1 workers", T));

        conf(&g, "%s,\n%s,\n%s,\n%s", worker(&g, "a", NULL), worker(&g, "p", "after = [\"a\"];"),
             worker(&g, "q", "after = [\"p\"];"), worker(&g, "r", NULL));
        CTL(0, &g, &out, "reload");
        ck_assert(h_wait_log(&g, fmt(&g, "reloaded %s: 3 added, 0 removed, 0 changed, 1 unchanged", c), T));
        (void)wait_pid(&g, "p");
        (void)wait_pid(&g, "q");
        (void)wait_pid(&g, "r");
        ck_assert(h_wait_log(&g, "p: ready", T));
        ck_assert(h_wait_log(&g, "q: ready", T));
        ck_assert(h_wait_log(&g, "r: ready", T));
        ck_assert_int_lt(h_log_line(&g, "p: ready"), h_log_line(&g, "q: starting"));
        for (const char *const *w = ARGV("a", "p", "q", "r"); *w; w++) {
                const char *st = status_state(&g, *w);
                ck_assert_msg(st && strcmp(st, "running") == 0, "%s: %s", *w, st ? st : "(missing)");
        }
        assert_same(&g, "a", a);
        assert_same_set(status_names(&g), "a,p,q,r");

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        struct json_object *r = gh_report(&g);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(h_json_bool(r, "clean"), 1);
        assert_same_set(report_names(&g, r), "a,p,q,r");
        ck_assert_int_lt(h_report_worker_pos(r, "q"), h_report_worker_pos(r, "p"));
        ck_assert_int_lt(h_report_worker_pos(r, "p"), h_report_worker_pos(r, "a"));
        gh_cleanup(&g);
}
END_TEST

/* a <- b <- c (c after b, b after a); a and c change, b does not: c stops
 * before a, a is back (ready) before c starts, b keeps running. */
START_TEST(test_restart_order)
{
        struct gh g;
        const char *c;
        pid_t a, b, cc;
        int from, a_stop, c_stop, c_stopped, a_ready, c_start, a_start;

        ck_assert_int_eq(gh_init(&g), 0);
        c = conf(&g, "%s,\n%s,\n%s", worker(&g, "a", NULL), worker(&g, "b", "after = [\"a\"];"),
                 worker(&g, "c", "after = [\"b\"];"));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        a = wait_pid(&g, "a");
        b = wait_pid(&g, "b");
        cc = wait_pid(&g, "c");
        ck_assert(h_wait_log(&g, "running: 3/3 workers", T));

        forget(&g, "a");
        forget(&g, "c");
        conf(&g, "%s,\n%s,\n%s", worker_args(&g, "a", "\"--verbose\", ", NULL), worker(&g, "b", "after = [\"a\"];"),
             worker_args(&g, "c", "\"--verbose\", ", "after = [\"b\"];"));
        from = last_line(&g);
        hup(&g, "reloaded ");
        ck_assert_int_eq(h_count_log(&g, ": 0 added, 0 removed, 2 changed, 1 unchanged"), 1);
        a = wait_new_pid(&g, "a", a);
        cc = wait_new_pid(&g, "c", cc);
        ck_assert(h_wait_log_count(&g, "c: ready", 2, T));
        ck_assert(h_wait_log_count(&g, "a: ready", 2, T));

        c_stop = must_line_after(&g, "c: stopping", from);
        c_stopped = must_line_after(&g, "c: stopped for a restart", from);
        a_stop = must_line_after(&g, "a: stopping", from);
        a_start = must_line_after(&g, "a: starting", from);
        a_ready = must_line_after(&g, "a: ready", from);
        c_start = must_line_after(&g, "c: starting", from);
        ck_assert_msg(c_stop < a_stop && c_stopped < a_stop, "a was stopped before its dependent c was down");
        if (!(a_ready < c_start))
                gh_dump_log(&g, 30);
        ck_assert_msg(a_start < c_start, "c started again (line %d) before a (line %d)", c_start, a_start);
        ck_assert_msg(a_ready < c_start, "c started again (line %d) before a was ready (line %d)", c_start, a_ready);
        /* (no stamp comparison: with ready = "exec", a counts as ready once it
         * has exec'd, before its code writes the stamp; the log order above is
         * what graced decides) */
        /* b, unchanged, was never touched */
        assert_same(&g, "b", b);
        ck_assert_int_eq(h_count_log(&g, "b: stopping"), 0);
        ck_assert_int_eq(h_count_log(&g, "b: starting"), 1);

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        /* and the stop order of the shutdown is still c, b, a */
        struct json_object *r = gh_report(&g);
        ck_assert_int_eq(h_report_worker_pos(r, "c"), 0);
        ck_assert_int_eq(h_report_worker_pos(r, "b"), 1);
        ck_assert_int_eq(h_report_worker_pos(r, "a"), 2);
        gh_cleanup(&g);
}
END_TEST

/* A valid reload under systemd: RELOADING=1 with MONOTONIC_USEC=, then
 * READY=1, all from graced's pid. */
START_TEST(test_notify_valid)
{
        struct gh g;
        struct h_notify n;
        const char *c;
        char *out;
        int i, j;
        long long t0;

        ck_assert_int_eq(gh_init(&g), 0);
        ck_assert_int_eq(h_notify_open(&n, g.dir), 0);
        c = conf(&g, "%s", worker(&g, "a", NULL));
        ck_assert_int_eq(gh_start(&g, c, NULL, ARGV(n.env)), 0);
        (void)wait_pid(&g, "a");
        (void)notify_wait_from(&n, "READY=1", 0);
        ck_assert_int_eq(h_notify_count(&n, "RELOADING=1"), 0);

        /* gracectl reload: a worker changed (restarted) */
        pid_t a = h_read_stamp_pid(stamp(&g, "a"));
        forget(&g, "a");
        conf(&g, "%s", worker(&g, "a", "env = { K = \"2\"; };"));
        size_t from = notify_mark(&n);
        t0 = h_now_ns();
        CTL(0, &g, &out, "reload");
        i = notify_wait_from(&n, "RELOADING=1", from);
        assert_reloading(&g, &n, i, t0);
        j = notify_wait_from(&n, "READY=1", (size_t)i + 1);
        ck_assert_int_eq(n.pids[j], g.pid);
        ck_assert_msg(!strstr(n.msgs[j], "reload failed"), "a valid reload reported as failed: %s", n.msgs[j]);
        (void)wait_new_pid(&g, "a", a);

        /* SIGHUP: the same file again */
        from = notify_mark(&n);
        t0 = h_now_ns();
        hup(&g, "reloaded ");
        i = notify_wait_from(&n, "RELOADING=1", from);
        assert_reloading(&g, &n, i, t0);
        j = notify_wait_from(&n, "READY=1", (size_t)i + 1);
        ck_assert_int_eq(n.pids[j], g.pid);
        ck_assert_int_eq(h_notify_count(&n, "RELOADING=1"), 2);

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        h_notify_close(&n);
        gh_cleanup(&g);
}
END_TEST

/* SIGTERM while a removed worker takes ~1 s to stop: the shutdown goes on at
 * once (the others stop meanwhile), graced exits 0 once that worker is down
 * too, and the report is clean. */
START_TEST(test_sigterm_during_reload)
{
        struct gh g;
        const char *c;
        pid_t y, slow;
        int sd, y_stopped, slow_exit, summary;

        ck_assert_int_eq(gh_init(&g), 0);
        c = conf(&g, "%s,\n%s", worker(&g, "y", NULL),
                 worker_args(&g, "slow", "\"--on-signal-delay\", \"TERM\", \"1000\", \"0\", ", NULL));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        y = wait_pid(&g, "y");
        slow = wait_pid(&g, "slow");
        ck_assert(h_wait_log(&g, "running: 2/2 workers", T));

        conf(&g, "%s", worker(&g, "y", NULL));
        hup(&g, "reloaded ");
        ck_assert(h_wait_log(&g, "slow: stopping (SIGTERM", T));
        ck_assert(h_pid_alive(slow));
        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert_int_eq(gh_exit_code(&g, T), 0);

        /* graced ended after the slow worker, which it reaped itself */
        ck_assert_msg(!h_pid_exists(slow), "the removed worker outlived graced");
        ck_assert(!h_pid_exists(y));
        sd = must_line_after(&g, "shutting down (SIGTERM)", -1);
        y_stopped = must_line_after(&g, "y: stopped (", sd);
        slow_exit = must_line_after(&g, "slow: exited 0", -1);
        summary = must_line_after(&g, "shutdown clean", sd);
        ck_assert_msg(y_stopped < slow_exit, "y was stopped only after the slow removed worker was down");
        ck_assert(slow_exit < summary);
        ck_assert_int_eq(h_count_log(&g, "slow: starting"), 1);

        struct json_object *r = gh_report(&g);
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(h_json_str(r, "reason"), "SIGTERM");
        ck_assert_int_eq(h_json_bool(r, "clean"), 1);
        ck_assert_int_eq(h_json_bool(r, "forced"), 0);
        assert_same_set(report_names(&g, r), "y");
        ck_assert_str_eq(h_json_str(h_report_worker(r, "y"), "outcome"), "stopped");
        gh_cleanup(&g);
}
END_TEST

/* After a reload, status and the report list the workers of the current
 * configuration only. */
START_TEST(test_report_current_only)
{
        struct gh g;
        const char *c;
        pid_t x;

        ck_assert_int_eq(gh_init(&g), 0);
        c = conf(&g, "%s,\n%s,\n%s", worker(&g, "a", NULL), worker(&g, "b", "after = [\"a\"];"),
                 worker(&g, "x", "after = [\"a\"];"));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        (void)wait_pid(&g, "a");
        (void)wait_pid(&g, "b");
        x = wait_pid(&g, "x");
        assert_same_set(status_names(&g), "a,b,x");

        conf(&g, "%s,\n%s,\n%s", worker(&g, "a", NULL), worker(&g, "b", "after = [\"a\"];"), worker(&g, "n", NULL));
        hup(&g, "reloaded ");
        ck_assert_int_eq(h_count_log(&g, ": 1 added, 1 removed, 0 changed, 2 unchanged"), 1);
        ck_assert(h_wait_pid_reaped(x, T));
        (void)wait_pid(&g, "n");
        ck_assert(h_wait_log(&g, "n: ready", T));
        ck_assert(h_wait_log(&g, "x: stopped (", T));
        assert_same_set(status_names(&g), "a,b,n");

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        struct json_object *r = gh_report(&g);
        ck_assert_ptr_nonnull(r);
        assert_same_set(report_names(&g, r), "a,b,n");
        ck_assert_int_eq(h_json_len(r, "workers"), 3);
        ck_assert_int_eq(h_json_bool(r, "clean"), 1);
        /* stop order of the current plan: b before a */
        ck_assert_int_lt(h_report_worker_pos(r, "b"), h_report_worker_pos(r, "a"));
        gh_cleanup(&g);
}
END_TEST

/* The same file reloaded twice in a row (and once more by SIGHUP) changes
 * nothing. */
START_TEST(test_same_file_twice)
{
        struct gh g;
        const char *c;
        char *out, *x;
        pid_t a, b;

        ck_assert_int_eq(gh_init(&g), 0);
        c = conf(&g, "%s,\n%s", worker(&g, "a", fmt(&g, "%s", hook(&g, "post_stop", "a post_stop"))),
                 worker(&g, "b", "after = [\"a\"]; env = { K = \"v\"; }; stop_timeout = \"3s\";"));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        a = wait_pid(&g, "a");
        b = wait_pid(&g, "b");
        ck_assert(h_wait_log(&g, "running: 2/2 workers", T));

        x = fmt(&g, "reloaded %s: 0 added, 0 removed, 0 changed, 2 unchanged", c);
        CTL(0, &g, &out, "reload");
        ck_assert(h_wait_log_count(&g, x, 1, T));
        CTL(0, &g, &out, "reload");
        ck_assert(h_wait_log_count(&g, x, 2, T));
        hup(&g, x);
        ck_assert_int_eq(h_count_log(&g, x), 3);
        ck_assert_int_eq(h_count_log(&g, "reloaded "), 3);

        assert_same(&g, "a", a);
        assert_same(&g, "b", b);
        ck_assert_int_eq(h_count_log(&g, "a: starting"), 1);
        ck_assert_int_eq(h_count_log(&g, "b: starting"), 1);
        ck_assert_int_eq(h_count_log(&g, ": stopping"), 0);
        ck_assert_int_eq(h_count_log(&g, ": changed"), 0);
        ck_assert_int_eq(h_count_log(&g, ": added"), 0);
        ck_assert_int_eq(h_count_log(&g, ": removed"), 0);
        ck_assert_int_eq(h_count_lines(events(&g), "a post_stop"), -1); /* no hook ran */

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        ck_assert_int_eq(h_count_lines(events(&g), "a post_stop"), 1);
        ck_assert_int_eq(h_json_bool(gh_report(&g), "clean"), 1);
        gh_cleanup(&g);
}
END_TEST

/* A worker removed by one reload and added back by the next while it is
 * still stopping (its pre_stop waits on a gate): graced refuses that second
 * reload with a clear error (gracectl exits 1; the log says why), changes
 * nothing, keeps answering; once the worker is down the same file is
 * accepted and the worker comes back as a new process. */
START_TEST(test_readd_while_stopping)
{
        struct gh g;
        const char *c, *gate;
        char *out, *pre;
        pid_t a, x, x2;

        ck_assert_int_eq(gh_init(&g), 0);
        gate = gh_path(&g, "gate");
        pre = fmt(&g, "pre_stop = [\"%s\", \"--wait-file\", \"%s\"]; pre_stop_timeout = \"20s\";", h_testworker(), gate);
        c = conf(&g, "%s,\n%s", worker(&g, "a", NULL), worker(&g, "x", pre));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        a = wait_pid(&g, "a");
        x = wait_pid(&g, "x");
        ck_assert(h_wait_log(&g, "running: 2/2 workers", T));

        /* 1. x removed: it stops, held in its pre_stop by the gate */
        conf(&g, "%s", worker(&g, "a", NULL));
        CTL(0, &g, &out, "reload");
        ck_assert(h_wait_log(&g, "x: removed from the configuration: stopping", T));
        ck_assert(h_wait_log(&g, "x: pre_stop started", T));
        ck_assert(h_pid_alive(x));
        assert_same_set(status_names(&g), "a");

        /* 2. x back while still stopping: refused, nothing changes */
        conf(&g, "%s,\n%s", worker(&g, "a", NULL), worker(&g, "x", pre));
        CTL(1, &g, &out, "reload");
        ck_assert_msg(strstr(out, "a removed worker is still stopping"), "output: %s", out);
        ck_assert(h_wait_log(&g, "cannot reload now: a removed worker is still stopping", T));
        hup(&g, "cannot reload now");
        ck_assert_int_eq(h_count_log(&g, "cannot reload now"), 2);
        ck_assert_int_eq(h_count_log(&g, "reloaded "), 1);
        assert_same(&g, "a", a);
        ck_assert(h_pid_alive(x));
        ck_assert_int_eq(h_count_log(&g, "x: starting"), 1);
        assert_same_set(status_names(&g), "a");
        CTL(0, &g, &out, "status");
        ck_assert_int_eq(gh_signal(&g, 0), 0);

        /* 3. the gate opens: x stops; then the same file is accepted */
        ck_assert_ptr_nonnull(h_write_file(NULL, gate, "open\n"));
        ck_assert(h_wait_pid_reaped(x, T));
        ck_assert(h_wait_log(&g, "x: stopped (", T));
        forget(&g, "x");
        CTL(0, &g, &out, "reload");
        ck_assert(h_wait_log(&g, ": 1 added, 0 removed, 0 changed, 1 unchanged", T));
        x2 = wait_pid(&g, "x");
        ck_assert(h_wait_log_count(&g, "x: ready", 2, T));
        ck_assert_int_ne(x2, x);
        assert_same(&g, "a", a);
        assert_same_set(status_names(&g), "a,x");

        /* the final shutdown runs x's pre_stop again (the gate is open) */
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        struct json_object *r = gh_report(&g);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(h_json_bool(r, "clean"), 1);
        assert_same_set(report_names(&g, r), "a,x");
        ck_assert_int_eq(h_json_int(h_report_worker(r, "x"), "pid"), x2);
        gh_cleanup(&g);
}
END_TEST

/* A reload that moves the control socket (`control_socket`), asked for over
 * that very socket: the request is answered, graced goes on and answers on
 * the new socket, the old one is gone. */
START_TEST(test_reload_moves_control_socket)
{
        struct gh g;
        const char *c, *sock2;
        char *out;
        pid_t a;

        ck_assert_int_eq(gh_init(&g), 0);
        sock2 = gh_path(&g, "ctl2.sock");
        c = conf(&g, "%s", worker(&g, "a", NULL));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        a = wait_pid(&g, "a");
        CTL(0, &g, &out, "status");

        ck_assert_ptr_nonnull(h_write_file(NULL, c,
                                           "supervisor = { name = \"reload\"; control_socket = \"%s\"; };\n"
                                           "workers = (\n%s\n);\n",
                                           sock2, worker(&g, "a", NULL)));
        CTL(0, &g, &out, "reload");
        ck_assert(h_wait_log(&g, "reloaded ", T));
        ck_assert_int_eq(gh_signal(&g, 0), 0);
        {
                char *o = NULL;
                int code = h_exit_code(h_run(ARGV(h_gracectl(), "-s", sock2, "status"), NULL, T, &o));
                gh_keep(&g, o);
                ck_assert_msg(code == 0, "gracectl -s %s status: exit %d: %s", sock2, code, o ? o : "");
        }
        ck_assert_msg(access(g.ctl_path, F_OK) != 0, "the old control socket is still there");
        assert_same(&g, "a", a);

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* A worker that keeps printing is still logged under its own name after a
 * reload of the same file: its output streams must not keep a pointer to
 * the name of the old configuration (a use-after-free before 21ee2c0:
 * garbage names, or an abort under ASan). */
START_TEST(test_output_name_after_reload)
{
        struct gh g;
        const char *c;
        int r, n;
        char *log;

        ck_assert_int_eq(gh_init(&g), 0);
        c = conf(&g, "  { name = \"ticker\"; command = [\"/bin/sh\", \"-c\", \"while :; do echo tick; sleep 0.02; done\"]; }");
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        ck_assert(h_wait_log_count(&g, "ticker[stdout]: tick", 3, T));

        hup(&g, "reloaded ");
        r = must_line_after(&g, "reloaded ", -1);
        /* the reload line is in the log: 3 more output lines come after it
         * (counted under any name: a garbage one must not make this wait) */
        n = h_count_log(&g, "[stdout]: ");
        ck_assert(h_wait_log_count(&g, "[stdout]: ", n + 3, T));

        /* every output line after the reload names the worker exactly */
        log = h_log_contents(&g);
        ck_assert_ptr_nonnull(log);
        {
                int line = 0, after = 0;
                for (char *p = log; *p; line++) {
                        char *e = strchrnul(p, '\n');
                        char ch = *e;

                        *e = '\0';
                        if (line > r && strstr(p, "[stdout]: ")) {
                                const char *t = strstr(p, "ticker[stdout]: tick");
                                if (!t || (t != p && t[-1] != ' ') || strcmp(t, "ticker[stdout]: tick") != 0)
                                        gh_dump_log(&g, 30);
                                ck_assert_msg(t && (t == p || t[-1] == ' ') && strcmp(t, "ticker[stdout]: tick") == 0,
                                              "line %d after the reload: '%s'", line, p);
                                after++;
                        }
                        *e = ch;
                        p = *e ? e + 1 : e;
                }
                ck_assert_int_ge(after, 3);
        }
        free(log);

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* `gracectl restart w` (w takes about a second to stop), and a reload of
 * the same file while w is stopping: the pending restart survives the
 * reload - w runs again as a new process and gracectl restart answers 0
 * (21ee2c0). */
START_TEST(test_restart_survives_reload)
{
        struct gh g;
        const char *c, *out;
        pid_t w1, w2, ctl;
        int status;

        ck_assert_int_eq(gh_init(&g), 0);
        c = conf(&g, "%s", worker_args(&g, "w", "\"--on-signal-delay\", \"TERM\", \"1000\", \"0\", ", "stop_timeout = \"10s\";"));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        w1 = wait_pid(&g, "w");
        ck_assert(h_wait_log(&g, "running: 1/1 workers", T));
        forget(&g, "w");

        out = gh_path(&g, "restart.out");
        ctl = h_spawn(ARGV(h_gracectl(), "-s", g.ctl_path, "restart", "w"), NULL, out);
        ck_assert_int_gt(ctl, 0);
        ck_assert(h_wait_log(&g, "w: stopping", T));
        ck_assert(h_pid_alive(w1)); /* still in its 1 s stop */
        hup(&g, "reloaded ");
        ck_assert_msg(h_pid_alive(w1), "w ended before the reload was done: the test proves nothing");

        status = h_wait_child(ctl, T);
        {
                char *o = h_read_file(out);
                int code = h_exit_code(status);
                if (code != 0)
                        gh_dump_log(&g, 40);
                ck_assert_msg(code == 0, "gracectl restart w: exit %d; output:\n%s", code, o ? o : "");
                free(o);
        }
        w2 = wait_new_pid(&g, "w", w1);
        ck_assert_str_eq(status_state(&g, "w"), "running");

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        struct json_object *r = gh_report(&g);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(h_json_int(h_report_worker(r, "w"), "pid"), w2);
        gh_cleanup(&g);
}
END_TEST

/* ---- what a configuration holds never ends graced ---------------------------------- */

/* DIR/graced.conf with `@include "NAME"` on line 2 and workers a and b. */
static const char *conf_including(struct gh *g, const char *name)
{
        const char *path = gh_write_file(g, "graced.conf",
                                         "supervisor = { name = \"reload\"; };\n@include \"%s\"\nworkers = (\n%s,\n%s\n);\n",
                                         name, worker(g, "a", NULL), worker(g, "b", "after = [\"a\"];"));

        ck_assert_ptr_nonnull(path);
        return path;
}

/* `graced --check` on a file that @includes something that is no regular
 * file: exit 78 with FILE:LINE (libconfig 1.5 made it exit 2, or hang). */
START_TEST(test_check_bad_include)
{
        static const struct {
                const char *name, *why;
        } cases[] = {
                { ".", "Is a directory" },
                { "conf.d", "Is a directory" },
                { "fifo.inc", "not a regular file (a FIFO)" },
        };
        struct gh g;
        char *out;

        ck_assert_int_eq(gh_init(&g), 0);
        ck_assert_int_eq(mkdir(gh_path(&g, "conf.d"), 0755), 0);
        ck_assert_int_eq(mkfifo(gh_path(&g, "fifo.inc"), 0644), 0);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                const char *c = conf_including(&g, cases[i].name);
                const char *want = fmt(&g, "%s:2: @include \"%s\": %s\n", c, cases[i].name, cases[i].why);

                int code = h_exit_code(h_run(ARGV(h_graced(), "--check", "-c", c), NULL, T, &out));
                gh_keep(&g, out);
                ck_assert_msg(code == 78, "@include \"%s\": exit %d, wanted 78; output:\n%s", cases[i].name, code, out);
                ck_assert_msg(strcmp(out, want) == 0, "@include \"%s\": output:\n%s\nwanted:\n%s", cases[i].name, out,
                              want);
        }
        gh_cleanup(&g);
}
END_TEST

/* A reload of a file that @includes a directory, a device or a FIFO is
 * refused like any invalid file: FILE:LINE logged, every worker keeps its
 * pid, graced keeps running; a later SIGTERM still stops everything in
 * order, writes the report and removes the control socket. (libconfig 1.5
 * made graced exit(2) at once on a directory, and block on a FIFO.) */
START_TEST(test_reload_bad_include)
{
        static const struct {
                const char *name, *why;
                bool ctl; /* gracectl reload, else SIGHUP */
        } cases[] = {
                { ".", "Is a directory", false },
                { "conf.d", "Is a directory", true },
                { "", "Is a directory", false },
                { "null.inc", "not a regular file (a character device)", true },
                { "fifo.inc", "not a regular file (a FIFO)", false },
                { "/dev/null", NULL, false },
        };
        struct gh g;
        const char *c;
        char *out;
        pid_t a, b;

        ck_assert_int_eq(gh_init(&g), 0);
        ck_assert_int_eq(mkdir(gh_path(&g, "conf.d"), 0755), 0);
        ck_assert_int_eq(mkfifo(gh_path(&g, "fifo.inc"), 0644), 0);
        ck_assert_int_eq(symlink("/dev/null", gh_path(&g, "null.inc")), 0);
        c = conf(&g, "%s,\n%s", worker(&g, "a", NULL), worker(&g, "b", "after = [\"a\"];"));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        a = wait_pid(&g, "a");
        b = wait_pid(&g, "b");
        ck_assert(h_wait_log(&g, "running: 2/2 workers", T));

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                const char *why = cases[i].why ? cases[i].why : fmt(&g, "must be a name relative to %s", g.dir);
                const char *msg = fmt(&g, "%s:2: @include \"%s\": %s", c, cases[i].name, why);
                const char *refused = "configuration invalid (1 problem): keeping the running one";
                int l = last_line(&g), seen = h_count_log(&g, refused);

                ck_assert_str_eq(conf_including(&g, cases[i].name), c);
                if (cases[i].ctl) {
                        CTL(1, &g, &out, "reload");
                        ck_assert_msg(strstr(out, msg), "gracectl reload: output:\n%s\nwithout: %s", out, msg);
                        /* the answer may come before the log is written */
                        ck_assert(h_wait_log_count(&g, refused, seen + 1, T));
                } else
                        hup(&g, refused);
                must_line_after(&g, msg, l);
                ck_assert_msg(h_pid_alive(g.pid), "graced died of @include \"%s\"", cases[i].name);
                assert_same(&g, "a", a);
                assert_same(&g, "b", b);
        }
        ck_assert_int_eq(h_count_log(&g, "reloaded "), 0);
        assert_same_set(status_names(&g), "a,b");

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        int sd = must_line_after(&g, "shutting down (SIGTERM)", -1);
        int b_stopped = must_line_after(&g, "b: stopped (", sd);
        int a_stopped = must_line_after(&g, "a: stopped (", sd);
        ck_assert_msg(b_stopped < a_stopped, "a was stopped before b, which is after it");
        struct json_object *r = gh_report(&g);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(h_json_bool(r, "clean"), 1);
        assert_same_set(report_names(&g, r), "b,a");
        ck_assert_int_eq(h_json_int(h_report_worker(r, "a"), "pid"), a);
        ck_assert_msg(access(g.ctl_path, F_OK) != 0 && errno == ENOENT, "the control socket was left behind");
        gh_cleanup(&g);
}
END_TEST

/* RssAnon of a process in kB, from /proc/PID/status; -1 if not found. */
static long rss_anon_kb(pid_t pid)
{
        char *path, *text, *p;
        long kb = -1;

        ck_assert_int_ge(asprintf(&path, "/proc/%d/status", (int)pid), 0);
        text = h_read_file(path);
        free(path);
        if (text && (p = strstr(text, "\nRssAnon:")))
                kb = strtol(p + 10, NULL, 10);
        free(text);
        return kb;
}

/* One reload request on the control socket; its answer must be a refusal. */
static void reload_refused(int fd)
{
        static const char req[] = "{\"cmd\":\"reload\"}\n";
        char buf[4096];
        size_t n = 0;

        ck_assert(write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1));
        /* the answer is one line; nothing else comes before the next request */
        while (n == 0 || buf[n - 1] != '\n') {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t r;

                ck_assert_msg(poll(&p, 1, T) == 1, "no answer to reload");
                r = read(fd, buf + n, sizeof buf - 1 - n);
                ck_assert_msg(r > 0, "graced closed the connection");
                n += (size_t)r;
                ck_assert(n < sizeof buf - 1);
        }
        buf[n] = 0;
        ck_assert_msg(strstr(buf, "\"ok\":false") || strstr(buf, "\"ok\": false"), "answer: %s", buf);
        ck_assert_msg(strstr(buf, "syntax error"), "answer: %s", buf);
}

/* A failed reload costs graced nothing that lasts: 1000 reloads of a file
 * with a syntax error leave its anonymous memory where it was after 50.
 * (libconfig 1.5 leaks a string token, 64 bytes and more, on a syntax
 * error at a string; graced parsed in its own process.) */
START_TEST(test_failed_reloads_no_growth)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct gh g;
        const char *c;
        long base, end;
        int fd;

        ck_assert_int_eq(gh_init(&g), 0);
        c = conf(&g, "%s", worker(&g, "a", NULL));
        ck_assert_int_eq(gh_start(&g, c, ARGV("--quiet"), NULL), 0);
        (void)wait_pid(&g, "a"); /* the control socket is bound before workers start */
        /* the error is at a string token: the one libconfig 1.5 leaks */
        ck_assert_ptr_nonnull(gh_write_file(&g, "graced.conf", "workers = (\n  { name \"a\"; }\n);\n"));

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", g.ctl_path);
        ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "connect: %s", strerror(errno));
        for (int i = 0; i < 50; i++)
                reload_refused(fd);
        base = rss_anon_kb(g.pid);
        for (int i = 50; i < 1000; i++)
                reload_refused(fd);
        end = rss_anon_kb(g.pid);
        close(fd);
        ck_assert_int_gt(base, 0);
#ifndef __SANITIZE_ADDRESS__
        /* 64 bytes a reload would be 60 kB more (the old code: ~100 kB);
         * noise is a page or two */
        ck_assert_msg(end - base <= 24, "RssAnon grew from %ld kB to %ld kB over 950 failed reloads", base, end);
#endif
        /* (with --enable-sanitizers, ASan's allocator makes RSS say little:
         * there LeakSanitizer judges graced's exit, and the exit status) */
        ck_assert_msg(h_pid_alive(g.pid), "graced died");
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("reload");
        TCase *tc = h_tcase(s, "reload", 60);

        tcase_add_test(tc, test_invalid_keeps_running);
        tcase_add_test(tc, test_add_remove_change);
        tcase_add_test(tc, test_add_workers);
        tcase_add_test(tc, test_restart_order);
        tcase_add_test(tc, test_notify_valid);
        tcase_add_test(tc, test_sigterm_during_reload);
        tcase_add_test(tc, test_report_current_only);
        tcase_add_test(tc, test_same_file_twice);
        tcase_add_test(tc, test_readd_while_stopping);
        tcase_add_test(tc, test_reload_moves_control_socket);
        tcase_add_test(tc, test_output_name_after_reload);
        tcase_add_test(tc, test_restart_survives_reload);
        tcase_add_test(tc, test_check_bad_include);
        tcase_add_test(tc, test_reload_bad_include);
        tcase_add_test(tc, test_failed_reloads_no_growth);
        return s;
}

int main(void)
{
        /* fail early and clearly when the environment is missing */
        (void)h_graced();
        (void)h_gracectl();
        (void)h_testworker();
        return h_run_suite(suite());
}
