/* check_control.c - the control socket and gracectl, end to end: a real
 * graced, the real gracectl, and raw clients speaking the line protocol
 * (tests/harness.h). Needs GRACED_BIN, GRACECTL_BIN, GRACED_TESTWORKER.
 * The peer credential test needs root (it adds and removes a system user);
 * it is skipped with a message otherwise. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "harness.h"

#define ARGV(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define T 10000 /* ms: a generous bound for things that happen at once */

/* ---- configurations ----------------------------------------------------------- */

static const char *sock(struct gh *g) { return gh_path(g, "ctl.sock"); }

/* graced.conf with control_socket = DIR/ctl.sock and the workers given. */
H_PRINTF(2, 3) static const char *conf(struct gh *g, const char *workers_fmt, ...)
{
        va_list ap;
        char *workers;

        va_start(ap, workers_fmt);
        ck_assert_int_ge(vasprintf(&workers, workers_fmt, ap), 0);
        va_end(ap);
        const char *path = gh_write_file(g, "graced.conf",
                                         "supervisor = { name = \"shop\"; control_socket = \"%s\"; };\n"
                                         "workers = (\n%s\n);\n",
                                         sock(g), workers);
        free(workers);
        ck_assert_ptr_nonnull(path);
        return path;
}

static const char *stamp(struct gh *g, const char *name)
{
        char *n;

        ck_assert_int_ge(asprintf(&n, "%s.stamp", name), 0);
        return gh_path(g, gh_keep(g, n));
}

/* A blocking worker that leaves DIR/NAME.stamp; extra: more settings. */
static char *worker(struct gh *g, const char *name, const char *extra)
{
        char *s;

        ck_assert_int_ge(asprintf(&s,
                                  "{ name = \"%s\"; command = [\"%s\", \"--stamp\", \"%s\", \"--block\"]; %s }",
                                  name, h_testworker(), stamp(g, name), extra ? extra : ""),
                         0);
        return gh_keep(g, s);
}

/* db <- web <- api (api runs after web, web after db), all up. */
static void start_chain(struct gh *g, const char *const *extra_args, const char *const *extra_env)
{
        const char *c = conf(g, "%s,\n%s,\n%s", worker(g, "db", NULL), worker(g, "web", "after = [\"db\"];"),
                             worker(g, "api", "after = [\"web\"];"));

        ck_assert_int_eq(gh_start(g, c, extra_args, extra_env), 0);
        ck_assert(h_wait_log(g, "api: ready", T));
        /* ready (exec) comes before the stamp is written */
        ck_assert(h_wait_file(stamp(g, "db"), T));
        ck_assert(h_wait_file(stamp(g, "web"), T));
        ck_assert(h_wait_file(stamp(g, "api"), T));
}

/* ---- gracectl ------------------------------------------------------------------- */

/* gracectl -s DIR/ctl.sock ARGS... must exit with want (else the test
 * fails, showing its output); *out: its stdout and stderr (owned by g). */
static void ctl_expect(struct gh *g, int want, char **out, const char *const *args)
{
        const char *argv[16] = { h_gracectl(), "-s", sock(g) };
        size_t n = 3;
        char *o = NULL;
        int code;

        for (size_t i = 0; args[i] && n + 1 < sizeof argv / sizeof argv[0]; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        code = h_exit_code(h_run(argv, NULL, T, &o));
        o = gh_keep(g, o ? o : strdup(""));
        ck_assert_msg(code == want, "gracectl %s%s%s: exit %d, wanted %d; output:\n%s", args[0] ? args[0] : "",
                      args[0] && args[1] ? " " : "", args[0] && args[1] ? args[1] : "", code, want, o);
        if (out)
                *out = o;
}

#define CTL(want, g, out, ...) ctl_expect(g, want, out, ARGV(__VA_ARGS__))

/* `gracectl --json status`, parsed (the caller puts it). */
static struct json_object *status_json(struct gh *g)
{
        char *out;
        struct json_object *o;

        CTL(0, g, &out, "--json", "status");
        o = json_tokener_parse(out);
        ck_assert_msg(o != NULL, "gracectl --json status printed no JSON: %s", out);
        ck_assert(json_object_is_type(o, json_type_object));
        return o;
}

static struct json_object *status_worker(struct json_object *st, const char *name)
{
        struct json_object *a = h_json_get(st, "workers");

        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                struct json_object *w = json_object_array_get_idx(a, i);
                const char *n = h_json_str(w, "name");
                if (n && strcmp(n, name) == 0)
                        return w;
        }
        return NULL;
}

static long long status_pid(struct gh *g, const char *name)
{
        struct json_object *st = status_json(g);
        long long pid = h_json_int(status_worker(st, name), "pid");

        json_object_put(st);
        return pid;
}

static const char *status_state(struct gh *g, const char *name)
{
        struct json_object *st = status_json(g);
        const char *s = h_json_str(status_worker(st, name), "state");
        char *r = gh_keep(g, strdup(s ? s : "(none)"));

        json_object_put(st);
        return r;
}

#define U_FFFD "\xef\xbf\xbd"
#define E_ACUTE "\xc3\xa9"

/* ---- a raw client ------------------------------------------------------------------ */

static int raw_connect(const char *path)
{
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
        ck_assert_msg(connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "connect %s: %s", path, strerror(errno));
        return fd;
}

static void raw_send(int fd, const char *s, size_t len)
{
        while (len > 0) {
                ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
                ck_assert_msg(n > 0, "send: %s", strerror(errno));
                s += n;
                len -= (size_t)n;
        }
}

#define RAW_SEND(fd, s) raw_send(fd, s, strlen(s))

/* One line (without its newline, malloc'd), or NULL on EOF, error or timeout.
 * Byte by byte, so that nothing after the line is consumed. */
static char *raw_line(int fd, int timeout_ms)
{
        long long start = h_now_ns();
        size_t n = 0, cap = 256;
        char *buf = malloc(cap);

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                long long left = timeout_ms - h_ms_since(start);
                char c;

                if (left <= 0 || poll(&p, 1, (int)left) <= 0 || read(fd, &c, 1) != 1) {
                        free(buf);
                        return NULL;
                }
                if (c == '\n') {
                        buf[n] = 0;
                        return buf;
                }
                if (n + 2 > cap)
                        buf = realloc(buf, cap *= 2);
                buf[n++] = c;
        }
}

/* The next answer, parsed; fails the test when there is none. */
static struct json_object *raw_answer(int fd)
{
        char *line = raw_line(fd, T);
        struct json_object *o;

        ck_assert_msg(line != NULL, "no answer from graced");
        o = json_tokener_parse(line);
        ck_assert_msg(o && json_object_is_type(o, json_type_object), "answer is not a JSON object: %s", line);
        free(line);
        return o;
}

static struct json_object *raw_request(int fd, const char *req)
{
        RAW_SEND(fd, req);
        return raw_answer(fd);
}

/* The answer is {"ok": false, "error": <contains want>}. */
static void assert_error(struct json_object *o, const char *want)
{
        const char *e = h_json_str(o, "error");

        ck_assert_int_eq(h_json_bool(o, "ok"), 0);
        ck_assert_msg(e && strstr(e, want), "error \"%s\" does not contain \"%s\"", e ? e : "(none)", want);
        json_object_put(o);
}

/* Waits until graced closes the connection (EOF or reset). */
static bool raw_eof(int fd, int timeout_ms)
{
        long long start = h_now_ns();

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                long long left = timeout_ms - h_ms_since(start);
                char buf[512];
                ssize_t n;

                if (left <= 0 || poll(&p, 1, (int)left) <= 0)
                        return false;
                n = read(fd, buf, sizeof buf);
                if (n == 0 || (n < 0 && errno == ECONNRESET))
                        return true;
                if (n < 0)
                        return false;
        }
}

/* ---- gracectl verbs -------------------------------------------------------------------- */

START_TEST(test_status)
{
        struct gh g;
        char *out, *line;
        pid_t db, web, api;
        struct json_object *st, *w;
        static const char *const keys[] = { "name",     "state",    "health",    "pid",
                                            "uptime_s", "restarts", "last_exit", "status" };

        ck_assert_int_eq(gh_init(&g), 0);
        const char *c = conf(&g, "%s,\n%s,\n%s,\n"
                             "{ name = \"cache\"; ready = \"notify\";\n"
                             "  command = [\"%s\", \"--notify\", \"STATUS=warming up\", \"--block\"]; }",
                             worker(&g, "db", NULL), worker(&g, "web", "after = [\"db\"];"),
                             worker(&g, "api", "after = [\"web\"];"), h_testworker());
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        ck_assert(h_wait_log(&g, "api: ready", T));
        /* (never ready: STATUS= only) */
        ck_assert(h_wait_log(&g, "cache: status: warming up", T));
        ck_assert(h_wait_file(stamp(&g, "db"), T));
        ck_assert(h_wait_file(stamp(&g, "web"), T));
        ck_assert(h_wait_file(stamp(&g, "api"), T));
        db = h_read_stamp_pid(stamp(&g, "db"));
        web = h_read_stamp_pid(stamp(&g, "web"));
        api = h_read_stamp_pid(stamp(&g, "api"));
        ck_assert(db > 0 && web > 0 && api > 0);

        /* the table: a header, then one row per worker with its name and pid */
        CTL(0, &g, &out, "status");
        ck_assert_ptr_nonnull(strstr(out, "NAME"));
        ck_assert_ptr_nonnull(strstr(out, "LAST EXIT"));
        ck_assert_ptr_nonnull(strstr(out, " HEALTH "));
        ck_assert_ptr_nonnull(strstr(out, "warming up"));
        {
                const char *names[] = { "db", "web", "api" };
                pid_t pids[] = { db, web, api };
                for (int i = 0; i < 3; i++) {
                        char *row, *pid;
                        ck_assert_int_ge(asprintf(&row, "\n%s ", names[i]), 0);
                        ck_assert_int_ge(asprintf(&pid, " %d ", (int)pids[i]), 0);
                        line = strstr(out, row);
                        ck_assert_msg(line != NULL, "no row for %s in:\n%s", names[i], out);
                        line = strndup(line + 1, strcspn(line + 1, "\n"));
                        ck_assert_msg(strstr(line, pid), "row \"%s\" lacks pid %d", line, (int)pids[i]);
                        ck_assert_ptr_nonnull(strstr(line, "running"));
                        free(line);
                        free(row);
                        free(pid);
                }
        }

        /* --json: {"workers": [...]} with every field */
        st = status_json(&g);
        ck_assert_int_eq(h_json_len(st, "workers"), 4);
        for (size_t i = 0; i < 4; i++) {
                w = json_object_array_get_idx(h_json_get(st, "workers"), i);
                for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
                        ck_assert_msg(h_json_has(w, keys[k]), "worker %zu has no %s", i, keys[k]);
        }
        w = status_worker(st, "web");
        ck_assert_str_eq(h_json_str(w, "state"), "running");
        ck_assert_int_eq(h_json_int(w, "pid"), web);
        ck_assert(h_json_double(w, "uptime_s") >= 0.0);
        ck_assert_int_eq(h_json_int(w, "restarts"), 0);
        ck_assert(h_json_is_null(w, "last_exit"));
        ck_assert(h_json_is_null(w, "status"));
        ck_assert_str_eq(h_json_str(w, "health"), "-"); /* no health probe */
        ck_assert_str_eq(h_json_str(status_worker(st, "cache"), "status"), "warming up");
        ck_assert_str_eq(h_json_str(st, "supervisor"), "shop");
        ck_assert_str_eq(h_json_str(st, "state"), "running");
        json_object_put(st);

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* The last exit is kept across starts: a worker that exited 3 and was
 * restarted shows RESTARTS 1 and LAST EXIT "exited 3" while it runs again
 * (--json: last_exit). One stopped by `gracectl stop` shows "exited on
 * SIGTERM" (it died of the stop signal graced sent: a normal stop), and
 * still does once started again; one that ignored it and was SIGKILLed
 * at its stop_timeout shows "killed by SIGKILL". */
START_TEST(test_status_last_exit)
{
        struct gh g;
        char *out, *row;
        struct json_object *st, *w;

        ck_assert_int_eq(gh_init(&g), 0);
        const char *c = conf(&g,
                "{ name = \"web\"; restart_delay = \"10ms\";\n"
                "  command = [\"/bin/sh\", \"-c\", \"if [ -e '%1$s' ]; then exec '%2$s' --stamp '%3$s' --block; fi; : > '%1$s'; exit 3\"]; },\n"
                "{ name = \"stubborn\"; stop_timeout = \"200ms\";\n"
                "  command = [\"%2$s\", \"--ignore\", \"TERM\", \"--stamp\", \"%4$s\", \"--block\"]; }",
                gh_path(&g, "web.ran"), h_testworker(), stamp(&g, "web"), stamp(&g, "stubborn"));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        ck_assert(h_wait_file(stamp(&g, "web"), T));
        ck_assert(h_wait_file(stamp(&g, "stubborn"), T));

        /* the table: the row of web */
        CTL(0, &g, &out, "status");
        row = strstr(out, "\nweb ");
        ck_assert_msg(row != NULL, "no row for web in:\n%s", out);
        row = gh_keep(&g, strndup(row + 1, strcspn(row + 1, "\n")));
        ck_assert_msg(strstr(row, "running") && strstr(row, " 1 ") && strstr(row, "exited 3"),
                      "row \"%s\" does not show running, 1 restart, exited 3", row);
        st = status_json(&g);
        w = status_worker(st, "web");
        ck_assert_str_eq(h_json_str(w, "state"), "running");
        ck_assert_int_eq(h_json_int(w, "pid"), h_read_stamp_pid(stamp(&g, "web")));
        ck_assert_int_eq(h_json_int(w, "restarts"), 1);
        ck_assert_str_eq(h_json_str(w, "last_exit"), "exited 3");
        ck_assert(h_json_is_null(status_worker(st, "stubborn"), "last_exit"));
        json_object_put(st);

        /* a manual stop, then a start */
        CTL(0, &g, &out, "stop", "web");
        CTL(0, &g, &out, "stop", "stubborn");
        st = status_json(&g);
        ck_assert_str_eq(h_json_str(status_worker(st, "web"), "last_exit"), "exited on SIGTERM");
        ck_assert_str_eq(h_json_str(status_worker(st, "stubborn"), "last_exit"), "killed by SIGKILL");
        json_object_put(st);
        ck_assert(h_wait_log(&g, "web: exited on SIGTERM", T));
        ck_assert(h_wait_log(&g, "stubborn: killed by SIGKILL", T));
        CTL(0, &g, &out, "start", "web");
        st = status_json(&g);
        w = status_worker(st, "web");
        ck_assert_str_eq(h_json_str(w, "state"), "running");
        ck_assert_int_eq(h_json_int(w, "restarts"), 2);
        ck_assert_str_eq(h_json_str(w, "last_exit"), "exited on SIGTERM");
        json_object_put(st);
        CTL(0, &g, &out, "status");
        ck_assert_msg(strstr(out, "exited on SIGTERM") && strstr(out, "killed by SIGKILL"), "status:\n%s", out);

        ck_assert_int_eq(gh_shutdown(&g, T), 1); /* stubborn was killed: not clean */
        gh_cleanup(&g);
}
END_TEST

/* STATUS= texts are the workers' bytes: `gracectl --json status` still
 * prints valid UTF-8 (invalid bytes replaced by U+FFFD) and a long text is
 * cut to 256 bytes between two characters. */
START_TEST(test_status_utf8)
{
        struct gh g;
        char *out, *lng, *want;
        struct json_object *st;
        size_t n = 0;

        ck_assert_int_eq(gh_init(&g), 0);
        /* "x" and 200 two-byte characters: 401 bytes, cut after 127 of them */
        lng = gh_keep(&g, malloc(8 + 1 + 400 + 1));
        n = (size_t)sprintf(lng, "STATUS=x");
        for (int i = 0; i < 200; i++)
                n += (size_t)sprintf(lng + n, E_ACUTE);
        want = gh_keep(&g, malloc(1 + 254 + 1));
        n = (size_t)sprintf(want, "x");
        for (int i = 0; i < 127; i++)
                n += (size_t)sprintf(want + n, E_ACUTE);
        const char *c = conf(&g,
                             "{ name = \"bad\"; ready = \"notify\";\n"
                             "  command = [\"%s\", \"--notify\", \"STATUS=\xff\xc3( ok \xed\xa0\x80 \xf0\x9f\x98\",\n"
                             "             \"--notify\", \"READY=1\", \"--block\"]; },\n"
                             "{ name = \"long\"; ready = \"notify\";\n"
                             "  command = [\"%s\", \"--notify\", \"%s\", \"--notify\", \"READY=1\", \"--block\"]; }",
                             h_testworker(), h_testworker(), lng);
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        ck_assert(h_wait_log(&g, "bad: ready", T));
        ck_assert(h_wait_log(&g, "long: ready", T));

        CTL(0, &g, &out, "--json", "status");
        ck_assert_msg(h_valid_utf8(out, strlen(out)), "gracectl --json status is not UTF-8: %s", out);
        st = json_tokener_parse(out);
        ck_assert_ptr_nonnull(st);
        ck_assert_str_eq(h_json_str(status_worker(st, "bad"), "status"),
                         U_FFFD U_FFFD "( ok " U_FFFD U_FFFD U_FFFD " " U_FFFD);
        ck_assert_str_eq(h_json_str(status_worker(st, "long"), "status"), want);
        ck_assert_uint_eq(strlen(want), 255);
        json_object_put(st);

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

START_TEST(test_stop_start_dependents)
{
        struct gh g;
        char *out;
        pid_t db, web, api, db2, web2, api2;
        struct json_object *st;

        ck_assert_int_eq(gh_init(&g), 0);
        start_chain(&g, NULL, NULL);
        db = h_read_stamp_pid(stamp(&g, "db"));
        web = h_read_stamp_pid(stamp(&g, "web"));
        api = h_read_stamp_pid(stamp(&g, "api"));

        /* stop db: api, then web, then db; the answer comes once all are down */
        CTL(0, &g, &out, "stop", "db");
        ck_assert(!h_pid_alive(db));
        ck_assert(!h_pid_alive(web));
        ck_assert(!h_pid_alive(api));
        ck_assert_int_ge(h_log_line(&g, "api: stopped ("), 0);
        ck_assert_int_lt(h_log_line(&g, "api: stopped ("), h_log_line(&g, "web: stopping ("));
        ck_assert_int_lt(h_log_line(&g, "web: stopped ("), h_log_line(&g, "db: stopping ("));
        ck_assert(h_wait_log(&g, "control: stop db requested by uid", T));

        /* they stay down: no restart pending */
        st = status_json(&g);
        ck_assert_str_eq(h_json_str(status_worker(st, "db"), "state"), "down");
        ck_assert_str_eq(h_json_str(status_worker(st, "web"), "state"), "down");
        ck_assert_str_eq(h_json_str(status_worker(st, "api"), "state"), "down");
        ck_assert(h_json_is_null(status_worker(st, "api"), "pid"));
        ck_assert(h_json_is_null(status_worker(st, "api"), "uptime_s"));
        ck_assert_str_eq(h_json_str(status_worker(st, "api"), "last_exit"), "exited on SIGTERM");
        json_object_put(st);

        /* start db: it and the dependents stopped with it come back */
        unlink(stamp(&g, "db"));
        unlink(stamp(&g, "web"));
        unlink(stamp(&g, "api"));
        CTL(0, &g, &out, "start", "db");
        ck_assert_str_eq(status_state(&g, "db"), "running");
        ck_assert(h_wait_file(stamp(&g, "web"), T));
        ck_assert(h_wait_file(stamp(&g, "api"), T));
        db2 = h_read_stamp_pid(stamp(&g, "db"));
        web2 = h_read_stamp_pid(stamp(&g, "web"));
        api2 = h_read_stamp_pid(stamp(&g, "api"));
        ck_assert(db2 > 0 && db2 != db);
        ck_assert(web2 > 0 && web2 != web);
        ck_assert(api2 > 0 && api2 != api);
        ck_assert(h_wait_log_count(&g, "api: ready", 2, T));
        ck_assert_int_eq(status_pid(&g, "api"), api2);

        /* stopping a leaf touches nothing else */
        CTL(0, &g, &out, "stop", "api");
        ck_assert(!h_pid_alive(api2));
        ck_assert(h_pid_alive(web2));
        ck_assert(h_pid_alive(db2));
        ck_assert_str_eq(status_state(&g, "api"), "down");
        ck_assert_str_eq(status_state(&g, "web"), "running");

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* The answer to stop comes when the worker is gone, not when it was asked. */
START_TEST(test_stop_answers_when_done)
{
        struct gh g;
        char *out;
        pid_t pid;
        long long t0;

        ck_assert_int_eq(gh_init(&g), 0);
        const char *c = conf(&g,
                             "{ name = \"slow\";\n"
                             "  command = [\"%s\", \"--on-signal-delay\", \"TERM\", \"800\", \"0\",\n"
                             "             \"--stamp\", \"%s\", \"--block\"]; }",
                             h_testworker(), stamp(&g, "slow"));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        ck_assert(h_wait_file(stamp(&g, "slow"), T));
        pid = h_read_stamp_pid(stamp(&g, "slow"));
        ck_assert_int_gt(pid, 0);

        t0 = h_now_ns();
        CTL(0, &g, &out, "--json", "stop", "slow");
        ck_assert_int_ge(h_ms_since(t0), 700);
        ck_assert(!h_pid_alive(pid));
        ck_assert_ptr_nonnull(strstr(out, "\"state\":\"down\""));

        /* -t: gracectl gives up (exit 1), the stop goes on */
        unlink(stamp(&g, "slow"));
        CTL(0, &g, &out, "start", "slow");
        ck_assert(h_wait_file(stamp(&g, "slow"), T));
        pid = h_read_stamp_pid(stamp(&g, "slow"));
        CTL(1, &g, &out, "-t", "100ms", "stop", "slow");
        ck_assert_msg(strstr(out, "no answer from graced"), "output: %s", out);
        ck_assert(h_pid_alive(pid));
        ck_assert(h_wait_pid_gone(pid, T));
        ck_assert(h_wait_log_count(&g, "slow: stopped (", 2, T));

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

START_TEST(test_restart)
{
        struct gh g;
        char *out;
        pid_t db, web, api;
        long long web2;

        ck_assert_int_eq(gh_init(&g), 0);
        start_chain(&g, NULL, NULL);
        db = h_read_stamp_pid(stamp(&g, "db"));
        web = h_read_stamp_pid(stamp(&g, "web"));
        api = h_read_stamp_pid(stamp(&g, "api"));
        unlink(stamp(&g, "api"));

        CTL(0, &g, &out, "restart", "web");
        ck_assert(!h_pid_alive(web));
        web2 = status_pid(&g, "web");
        ck_assert(web2 > 0 && web2 != web);
        ck_assert_int_eq(status_pid(&g, "db"), db); /* untouched */
        /* its dependent went down with it and comes back */
        ck_assert(!h_pid_alive(api));
        ck_assert(h_wait_file(stamp(&g, "api"), T));
        ck_assert_int_ne(h_read_stamp_pid(stamp(&g, "api")), api);

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* A start that cannot succeed answers with the failure. */
START_TEST(test_start_fails)
{
        struct gh g;
        char *out;

        ck_assert_int_eq(gh_init(&g), 0);
        const char *c = conf(&g, "{ name = \"broken\"; command = [\"%s\"]; restart = \"no\"; },\n%s",
                             gh_path(&g, "no-such-program"), worker(&g, "ok", NULL));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        ck_assert(h_wait_log(&g, "ok: ready", T));
        ck_assert(h_wait_log(&g, "failed for good", T));

        CTL(1, &g, &out, "start", "broken");
        ck_assert_msg(strstr(out, "broken failed to start"), "output: %s", out);
        ck_assert_str_eq(status_state(&g, "broken"), "failed");

        CTL(1, &g, &out, "stop", "nope");
        ck_assert_msg(strstr(out, "gracectl: no such worker: nope"), "output: %s", out);
        CTL(1, &g, &out, "restart", "nope");
        CTL(1, &g, &out, "start", "nope");

        ck_assert_int_eq(gh_shutdown(&g, T), 1); /* broken failed: not clean */
        gh_cleanup(&g);
}
END_TEST

START_TEST(test_shutdown)
{
        struct gh g;
        char *out;
        struct json_object *r;

        ck_assert_int_eq(gh_init(&g), 0);
        start_chain(&g, NULL, NULL);
        CTL(0, &g, &out, "shutdown");
        ck_assert_int_eq(gh_exit_code(&g, T), 0);
        r = gh_report(&g);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(h_json_bool(r, "forced"), 0);
        ck_assert_str_eq(h_json_str(h_report_worker(r, "db"), "outcome"), "stopped");
        /* the socket is removed at exit */
        ck_assert_int_eq(access(sock(&g), F_OK), -1);
        gh_cleanup(&g);
}
END_TEST

START_TEST(test_shutdown_force)
{
        struct gh g;
        char *out;
        struct json_object *r;

        ck_assert_int_eq(gh_init(&g), 0);
        const char *c = conf(&g,
                             "{ name = \"stubborn\"; stop_timeout = \"60s\";\n"
                             "  command = [\"%s\", \"--ignore\", \"TERM\", \"--stamp\", \"%s\", \"--block\"]; }",
                             h_testworker(), stamp(&g, "stubborn"));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        ck_assert(h_wait_file(stamp(&g, "stubborn"), T));
        CTL(0, &g, &out, "shutdown", "--force");
        ck_assert_int_eq(gh_exit_code(&g, T), 1); /* forced: not clean */
        r = gh_report(&g);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(h_json_bool(r, "forced"), 1);
        ck_assert_str_eq(h_json_str(h_report_worker(r, "stubborn"), "outcome"), "killed");
        gh_cleanup(&g);
}
END_TEST

/* During a shutdown, start/stop/restart are refused; status says so. */
START_TEST(test_shutting_down)
{
        struct gh g;
        char *out;
        struct json_object *st;

        ck_assert_int_eq(gh_init(&g), 0);
        const char *c = conf(&g,
                             "{ name = \"stubborn\"; stop_timeout = \"60s\";\n"
                             "  command = [\"%s\", \"--ignore\", \"TERM\", \"--stamp\", \"%s\", \"--block\"]; }",
                             h_testworker(), stamp(&g, "stubborn"));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        ck_assert(h_wait_file(stamp(&g, "stubborn"), T)); /* TERM is ignored from now on */
        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert(h_wait_log(&g, "stubborn: stopping (", T));

        CTL(1, &g, &out, "start", "stubborn");
        ck_assert_msg(strstr(out, "shutting down"), "output: %s", out);
        CTL(1, &g, &out, "restart", "stubborn");
        ck_assert_msg(strstr(out, "shutting down"), "output: %s", out);
        st = status_json(&g);
        ck_assert_str_eq(h_json_str(st, "state"), "shutting-down");
        ck_assert_str_eq(h_json_str(status_worker(st, "stubborn"), "state"), "stopping");
        json_object_put(st);
        CTL(0, &g, &out, "status");
        ck_assert_msg(strstr(out, "shutting-down"), "output: %s", out);

        CTL(0, &g, &out, "shutdown", "--force");
        ck_assert_int_eq(gh_exit_code(&g, T), 1);
        gh_cleanup(&g);
}
END_TEST

START_TEST(test_reload)
{
        struct gh g;
        char *out;
        const char *c;

        ck_assert_int_eq(gh_init(&g), 0);
        start_chain(&g, NULL, NULL);
        c = gh_path(&g, "graced.conf");

        /* the same file again: accepted */
        CTL(0, &g, &out, "reload");
        ck_assert(h_wait_log(&g, "control: reload requested by uid", T));

        /* an invalid file: refused with every FILE:LINE */
        ck_assert_ptr_nonnull(h_write_file(NULL, c,
                                           "supervisor = { control_socket = \"%s\"; };\n"
                                           "workers = (\n"
                                           "  { name = \"db\"; command = [\"/bin/true\"]; stop_timout = 3; },\n"
                                           "  { name = \"db\"; command = [\"/bin/true\"]; }\n"
                                           ");\n",
                                           sock(&g)));
        CTL(1, &g, &out, "reload");
        ck_assert_msg(strstr(out, "invalid configuration"), "output: %s", out);
        ck_assert_msg(strstr(out, "graced.conf:3: "), "output: %s", out);
        ck_assert_msg(strstr(out, "graced.conf:4: "), "output: %s", out);
        /* nothing changed */
        ck_assert_str_eq(status_state(&g, "api"), "running");

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

START_TEST(test_usage_and_no_daemon)
{
        struct gh g;
        char *out;
        int fd;
        struct sockaddr_un a = { .sun_family = AF_UNIX };

        ck_assert_int_eq(gh_init(&g), 0);
        /* nothing listens at DIR/ctl.sock */
        CTL(69, &g, &out, "status");
        ck_assert_msg(strstr(out, "gracectl: no graced running on"), "output: %s", out);
        CTL(69, &g, &out, "stop", "web");

        /* a socket file nobody listens on */
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        snprintf(a.sun_path, sizeof a.sun_path, "%s", sock(&g));
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
        close(fd);
        CTL(69, &g, &out, "status");
        ck_assert_msg(strstr(out, "Connection refused"), "output: %s", out);

        CTL(0, &g, &out, "--help");
        ck_assert_ptr_nonnull(strstr(out, "Usage: gracectl"));
        CTL(0, &g, &out, "--version");
        ck_assert_ptr_nonnull(strstr(out, PACKAGE_VERSION));
        ctl_expect(&g, 2, &out, (const char *const[]){ NULL });
        CTL(2, &g, &out, "stop");
        ck_assert_ptr_nonnull(strstr(out, "missing worker name"));
        CTL(2, &g, &out, "frob");
        ck_assert_ptr_nonnull(strstr(out, "unknown command: frob"));
        CTL(2, &g, &out, "status", "extra");
        CTL(2, &g, &out, "--force", "status");
        CTL(2, &g, &out, "--bogus", "status");
        CTL(2, &g, &out, "-t", "soon", "status");
        gh_cleanup(&g);
}
END_TEST

/* A worker name is checked before graced is asked: a name outside the rule
 * (1 to 64 of A-Z a-z 0-9 _ . -) is a usage error, exit 2, even with no
 * graced to connect to; a name inside it goes on to connect (69 here). */
START_TEST(test_bad_worker_name)
{
        struct gh g;
        char *out, long_name[66];

        ck_assert_int_eq(gh_init(&g), 0);
        CTL(2, &g, &out, "stop", "bad name");
        ck_assert_msg(strstr(out, "gracectl: stop: invalid worker name \"bad name\" (1 to 64 of A-Z a-z 0-9 _ . -)"),
                      "output: %s", out);
        ck_assert_msg(strstr(out, "Try 'gracectl --help'"), "output: %s", out);
        ck_assert_msg(!strstr(out, "no graced running"), "output: %s", out);
        CTL(2, &g, &out, "start", "");
        ck_assert_msg(strstr(out, "start: invalid worker name \"\""), "output: %s", out);
        CTL(2, &g, &out, "restart", "web/api");
        CTL(2, &g, &out, "start", "caf\xc3\xa9");
        /* control characters are not sent to the terminal */
        CTL(2, &g, &out, "stop", "a\033[2Jb");
        ck_assert_msg(strstr(out, "\"a?[2Jb\""), "output: %s", out);
        ck_assert_ptr_null(strchr(out, '\033'));

        /* 64 characters are a name, 65 are not (shown cut to 64, with "...") */
        memset(long_name, 'n', 65);
        long_name[65] = 0;
        CTL(2, &g, &out, "stop", long_name);
        ck_assert_msg(strstr(out, "nnnn\"... (1 to 64"), "output: %s", out);
        long_name[64] = 0;
        CTL(69, &g, &out, "stop", long_name);
        CTL(69, &g, &out, "--", "stop", "-web.1_x");
        gh_cleanup(&g);
}
END_TEST

/* ---- the socket file ------------------------------------------------------------------ */

START_TEST(test_socket_file)
{
        struct gh g;
        char *out, *dir, *path;
        struct stat st;
        const char *c;

        ck_assert_int_eq(gh_init(&g), 0);
        dir = gh_keep(&g, h_path(g.dir, "run/graced"));
        path = gh_keep(&g, h_path(dir, "ctl.sock"));
        c = gh_write_file(&g, "graced.conf", "supervisor = { control_socket = \"%s\"; };\nworkers = ( %s );\n", path,
                          worker(&g, "web", NULL));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        ck_assert(h_wait_log(&g, "web: ready", T));
        ck_assert_int_eq(stat(dir, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0755);
        ck_assert_int_eq(lstat(path, &st), 0);
        ck_assert(S_ISSOCK(st.st_mode));
        ck_assert_int_eq(st.st_mode & 07777, 0600);
        ck_assert_int_eq(st.st_uid, geteuid());
        ck_assert_int_eq(h_exit_code(h_run(ARGV(h_gracectl(), "-s", path, "status"), NULL, T, &out)), 0);
        free(out);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        ck_assert_int_eq(lstat(path, &st), -1);
        gh_cleanup(&g);
}
END_TEST

/* Without control_socket: $RUNTIME_DIRECTORY/control.sock, for gracectl too. */
START_TEST(test_default_path)
{
        struct gh g;
        char *out, *env;
        const char *c;
        struct stat st;

        ck_assert_int_eq(gh_init(&g), 0);
        c = gh_write_file(&g, "graced.conf", "workers = ( %s );\n", worker(&g, "web", NULL));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        ck_assert(h_wait_log(&g, "web: ready", T));
        ck_assert_int_eq(lstat(g.ctl_path, &st), 0);
        ck_assert(S_ISSOCK(st.st_mode));
        ck_assert_int_ge(asprintf(&env, "RUNTIME_DIRECTORY=%s:/nonexistent", g.dir), 0);
        ck_assert_int_eq(h_exit_code(h_run(ARGV(h_gracectl(), "status"), ARGV(env), T, &out)), 0);
        ck_assert_ptr_nonnull(strstr(out, "web"));
        free(out);
        free(env);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

START_TEST(test_second_graced)
{
        struct gh g, g2;
        char *out, *log;
        struct stat st1, st2;

        ck_assert_int_eq(gh_init(&g), 0);
        start_chain(&g, NULL, NULL);
        ck_assert_int_eq(lstat(sock(&g), &st1), 0);

        ck_assert_int_eq(gh_init(&g2), 0);
        ck_assert_int_eq(gh_start(&g2, gh_path(&g, "graced.conf"), NULL, NULL), 0);
        ck_assert_int_eq(gh_exit_code(&g2, T), 71);
        log = h_log_contents(&g2);
        ck_assert_msg(log && strstr(log, "another graced is running"), "log: %s", log ? log : "(none)");
        free(log);
        /* no worker of its own was started */
        ck_assert_int_eq(h_count_log(&g2, ": starting"), 0);

        /* the first one is untouched */
        ck_assert_int_eq(lstat(sock(&g), &st2), 0);
        ck_assert_int_eq(st1.st_ino, st2.st_ino);
        CTL(0, &g, &out, "status");
        gh_cleanup(&g2);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

START_TEST(test_stale_socket)
{
        struct gh g;
        char *out;
        int fd;
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        struct stat st;
        const char *c;

        ck_assert_int_eq(gh_init(&g), 0);
        /* what a crashed graced leaves: a socket file nobody listens on */
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        snprintf(a.sun_path, sizeof a.sun_path, "%s", sock(&g));
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
        close(fd);
        CTL(69, &g, &out, "status");

        c = conf(&g, "%s", worker(&g, "web", NULL));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        ck_assert(h_wait_log(&g, "web: ready", T));
        CTL(0, &g, &out, "status");
        ck_assert_ptr_nonnull(strstr(out, "web"));
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        ck_assert_int_eq(lstat(sock(&g), &st), -1);

        /* something that is not a socket is never removed */
        ck_assert_ptr_nonnull(h_write_file(NULL, sock(&g), "precious\n"));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        ck_assert_int_eq(gh_exit_code(&g, T), 71);
        out = h_read_file(sock(&g));
        ck_assert_str_eq(out, "precious\n");
        free(out);
        ck_assert_int_eq(h_count_log(&g, "web: starting"), 1); /* only the first run's */
        gh_cleanup(&g);
}
END_TEST

/* ---- the protocol, with raw clients ------------------------------------------------------ */

START_TEST(test_proto_errors)
{
        struct gh g;
        struct json_object *o;
        int fd;

        ck_assert_int_eq(gh_init(&g), 0);
        start_chain(&g, NULL, NULL);
        fd = raw_connect(sock(&g));

        assert_error(raw_request(fd, "{bad\n"), "bad JSON");
        assert_error(raw_request(fd, "[1, 2]\n"), "must be a JSON object");
        assert_error(raw_request(fd, "\"status\"\n"), "must be a JSON object");
        assert_error(raw_request(fd, "123\n"), "must be a JSON object");
        assert_error(raw_request(fd, "{\"cmd\": \"status\"\n"), "bad JSON");
        assert_error(raw_request(fd, "{\"name\": \"web\"}\n"), "missing \"cmd\"");
        assert_error(raw_request(fd, "{\"cmd\": 7}\n"), "missing \"cmd\"");
        assert_error(raw_request(fd, "{\"cmd\": \"frob\"}\n"), "unknown command: frob");
        assert_error(raw_request(fd, "{\"cmd\": \"status\"} trailing\n"), "bad JSON");
        assert_error(raw_request(fd, "{\"cmd\": \"stop\"}\n"), "missing \"name\"");
        assert_error(raw_request(fd, "{\"cmd\": \"stop\", \"name\": \"../x\"}\n"), "invalid worker name");
        assert_error(raw_request(fd, "{\"cmd\": \"stop\", \"name\": \"nope\"}\n"), "no such worker: nope");
        assert_error(raw_request(fd, "{\"cmd\": \"shutdown\", \"force\": \"yes\"}\n"), "\"force\"");
        raw_send(fd, "{\"cmd\": \"st\0atus\"}\n", 19);
        assert_error(raw_answer(fd), "bad JSON");

        /* the connection is still served; blank lines are no requests; CRLF is fine */
        o = raw_request(fd, "\n  \n{\"cmd\": \"status\"}\r\n");
        ck_assert_int_eq(h_json_bool(o, "ok"), 1);
        ck_assert_int_eq(h_json_len(o, "workers"), 3);
        json_object_put(o);

        /* several requests in one write are answered in order */
        RAW_SEND(fd, "{\"cmd\":\"frob\"}\n{\"cmd\":\"status\"}\n{\"cmd\":\"stop\",\"name\":\"nope\"}\n");
        assert_error(raw_answer(fd), "unknown command");
        o = raw_answer(fd);
        ck_assert_int_eq(h_json_bool(o, "ok"), 1);
        json_object_put(o);
        assert_error(raw_answer(fd), "no such worker");

        /* one at a time: the next request waits for the answer before it */
        RAW_SEND(fd, "{\"cmd\":\"stop\",\"name\":\"api\"}\n{\"cmd\":\"stop\",\"name\":\"api\"}\n"
                     "{\"cmd\":\"status\"}\n");
        for (int i = 0; i < 2; i++) {
                o = raw_answer(fd);
                ck_assert_int_eq(h_json_bool(o, "ok"), 1);
                ck_assert_str_eq(h_json_str(o, "name"), "api");
                ck_assert_str_eq(h_json_str(o, "state"), "down");
                ck_assert(h_json_is_null(o, "pid"));
                json_object_put(o);
        }
        o = raw_answer(fd);
        ck_assert_str_eq(h_json_str(status_worker(o, "api"), "state"), "down");
        ck_assert_str_eq(h_json_str(status_worker(o, "web"), "state"), "running");
        json_object_put(o);
        close(fd);

        /* the last request may end at a half-close, without its newline */
        fd = raw_connect(sock(&g));
        RAW_SEND(fd, "{\"cmd\": \"status\"}");
        ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
        o = raw_answer(fd);
        ck_assert_int_eq(h_json_bool(o, "ok"), 1);
        json_object_put(o);
        ck_assert(raw_eof(fd, T));
        close(fd);

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* A string holding NUL (\u0000) is refused, wherever it is: C strings
 * would end there and "status\u0000x" pass for "status". The connection
 * is served on. */
START_TEST(test_proto_nul_strings)
{
        static const char *const reqs[] = {
                "{\"cmd\": \"status\\u0000x\"}\n",
                "{\"cmd\": \"status\\u0000\"}\n",
                "{\"cmd\": \"stop\", \"name\": \"api\\u0000\"}\n",
                "{\"cmd\": \"shutdown\", \"comment\": [\"\\u0000\"]}\n",
                "{\"cmd\\u0000x\": \"status\"}\n",         /* a key (json-c cuts it at the NUL) */
                "{'cmd': 'status\\u0000x'}\n",              /* json-c's single quotes */
                "{/* \" */ \"cmd\": \"status\\u0000x\"}\n", /* a quote in a comment */
        };
        struct gh g;
        struct json_object *o;
        int fd;

        ck_assert_int_eq(gh_init(&g), 0);
        start_chain(&g, NULL, NULL);
        fd = raw_connect(sock(&g));
        for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
                o = raw_request(fd, reqs[i]);
                ck_assert_msg(h_json_bool(o, "ok") == 0, "accepted: %s", reqs[i]);
                ck_assert_str_eq(h_json_str(o, "error"), "request strings must not contain NUL");
                json_object_put(o);
        }
        /* an escaped backslash before "u0000" is no NUL */
        o = raw_request(fd, "{\"cmd\": \"st\\\\u0000atus\"}\n");
        ck_assert_str_eq(h_json_str(o, "error"), "unknown command: st\\u0000atus");
        json_object_put(o);

        /* nothing was done, and the connection is still served */
        o = raw_request(fd, "{\"cmd\": \"status\"}\n");
        ck_assert_int_eq(h_json_bool(o, "ok"), 1);
        ck_assert_str_eq(h_json_str(status_worker(o, "api"), "state"), "running");
        ck_assert_str_eq(h_json_str(o, "state"), "running");
        json_object_put(o);
        close(fd);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* The answers quote what the client sent as valid UTF-8: invalid bytes
 * become U+FFFD, and the unknown command is cut to 64 bytes between two
 * characters. */
START_TEST(test_proto_utf8)
{
        static const struct {
                const char *cmd, *shown;
        } cases[] = {
                { "\xff\xc3(", U_FFFD U_FFFD "(" },
                { "\xed\xa0\x80!", U_FFFD U_FFFD U_FFFD "!" },
                /* 63 bytes, then a character of two */
                { "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" E_ACUTE "zz",
                  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" },
                /* 62 bytes, then one of four */
                { "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\xf0\x9f\x98\x80",
                  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" },
                { E_ACUTE "\xf0\x9f\x98\x80", E_ACUTE "\xf0\x9f\x98\x80" },
        };
        struct gh g;
        int fd;

        ck_assert_int_eq(gh_init(&g), 0);
        start_chain(&g, NULL, NULL);
        fd = raw_connect(sock(&g));
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                char *req, *line, *want;
                struct json_object *o;

                ck_assert_int_gt(asprintf(&req, "{\"cmd\": \"%s\"}\n", cases[i].cmd), 0);
                ck_assert_int_gt(asprintf(&want, "unknown command: %s", cases[i].shown), 0);
                RAW_SEND(fd, req);
                line = raw_line(fd, T);
                ck_assert_msg(line != NULL, "no answer to %s", req);
                ck_assert_msg(h_valid_utf8(line, strlen(line)), "answer is not UTF-8: %s", line);
                o = json_tokener_parse(line);
                ck_assert_ptr_nonnull(o);
                ck_assert_str_eq(h_json_str(o, "error"), want);
                json_object_put(o);
                free(line);
                free(want);
                free(req);
        }
        close(fd);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

START_TEST(test_proto_oversize)
{
        struct gh g;
        struct json_object *o;
        char *big;
        int fd;
        const char *req = "{\"cmd\":\"status\"}";

        ck_assert_int_eq(gh_init(&g), 0);
        start_chain(&g, NULL, NULL);

        /* 4096 bytes (newline not counted) is the limit: served */
        big = malloc(8192);
        memset(big, ' ', 8192);
        memcpy(big, req, strlen(req));
        big[4096] = '\n';
        fd = raw_connect(sock(&g));
        raw_send(fd, big, 4097);
        o = raw_answer(fd);
        ck_assert_int_eq(h_json_bool(o, "ok"), 1);
        json_object_put(o);

        /* one more byte: an error, then the connection is closed */
        big[4096] = ' ';
        big[4097] = '\n';
        raw_send(fd, big, 4098);
        assert_error(raw_answer(fd), "request too large");
        ck_assert(raw_eof(fd, T));
        close(fd);

        /* a long line with no newline at all */
        fd = raw_connect(sock(&g));
        memset(big, 'x', 8192);
        raw_send(fd, big, 8192);
        assert_error(raw_answer(fd), "request too large");
        ck_assert(raw_eof(fd, T));
        close(fd);
        free(big);

        CTL(0, &g, NULL, "status");
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

START_TEST(test_proto_idle)
{
        struct gh g;
        struct json_object *o;
        int silent, half, busy;
        long long t0;

        ck_assert_int_eq(gh_init(&g), 0);
        start_chain(&g, NULL, ARGV("GRACED_CONTROL_IDLE_MS=400"));

        t0 = h_now_ns();
        silent = raw_connect(sock(&g));
        half = raw_connect(sock(&g));
        RAW_SEND(half, "{\"cmd\": \"sta");
        busy = raw_connect(sock(&g));

        /* meanwhile others are served at once */
        o = raw_request(busy, "{\"cmd\": \"status\"}\n");
        ck_assert_int_eq(h_json_bool(o, "ok"), 1);
        json_object_put(o);
        CTL(0, &g, NULL, "status");

        /* a client that sends nothing is dropped after the idle timeout */
        ck_assert(raw_eof(silent, 5000)); /* well before the default 10s */
        ck_assert_int_ge(h_ms_since(t0), 350);
        /* half a request: told why, then dropped */
        assert_error(raw_answer(half), "incomplete request");
        ck_assert(raw_eof(half, T));
        ck_assert(raw_eof(busy, T));
        close(silent);
        close(half);
        close(busy);

        CTL(0, &g, NULL, "status");
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

START_TEST(test_proto_disconnect)
{
        struct gh g;
        struct json_object *o;
        int a, b, c;
        pid_t slow;
        const char *cf;

        ck_assert_int_eq(gh_init(&g), 0);
        cf = conf(&g,
                  "{ name = \"slow\"; command = [\"%s\", \"--on-signal-delay\", \"TERM\", \"300\", \"0\", \"--stamp\", "
                  "\"%s\", \"--block\"]; },\n%s",
                  h_testworker(), stamp(&g, "slow"), worker(&g, "web", NULL));
        ck_assert_int_eq(gh_start(&g, cf, NULL, NULL), 0);
        ck_assert(h_wait_log(&g, "slow: ready", T));
        ck_assert(h_wait_log(&g, "web: ready", T));
        ck_assert(h_wait_file(stamp(&g, "slow"), T));
        slow = h_read_stamp_pid(stamp(&g, "slow"));

        c = raw_connect(sock(&g));
        /* half a request, then gone */
        a = raw_connect(sock(&g));
        RAW_SEND(a, "{\"cmd\": \"stop\", \"na");
        close(a);
        /* a stop, then gone before the answer: the stop still happens */
        b = raw_connect(sock(&g));
        RAW_SEND(b, "{\"cmd\": \"stop\", \"name\": \"slow\"}\n");
        ck_assert(h_wait_log(&g, "control: stop slow requested", T));
        close(b);

        /* the others are served as before */
        o = raw_request(c, "{\"cmd\": \"status\"}\n");
        ck_assert_int_eq(h_json_bool(o, "ok"), 1);
        json_object_put(o);
        ck_assert(h_wait_pid_gone(slow, T));
        ck_assert(h_wait_log(&g, "slow: stopped (", T));
        ck_assert_str_eq(status_state(&g, "slow"), "down");
        ck_assert_str_eq(status_state(&g, "web"), "running");
        o = raw_request(c, "{\"cmd\": \"status\"}\n");
        ck_assert_int_eq(h_json_bool(o, "ok"), 1);
        json_object_put(o);
        close(c);

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

START_TEST(test_proto_many_clients)
{
        enum { N = 50 };
        struct gh g;
        int fd[N], extra[300];
        size_t n_extra = 0;
        bool refused = false;

        ck_assert_int_eq(gh_init(&g), 0);
        start_chain(&g, ARGV("-v"), NULL); /* -v: connects and disconnects are logged */

        /* 50 at once, every one answered */
        for (int i = 0; i < N; i++)
                fd[i] = raw_connect(sock(&g));
        for (int i = 0; i < N; i++)
                RAW_SEND(fd[i], "{\"cmd\": \"status\"}\n");
        for (int i = N - 1; i >= 0; i--) {
                struct json_object *o = raw_answer(fd[i]);
                ck_assert_int_eq(h_json_bool(o, "ok"), 1);
                ck_assert_int_eq(h_json_len(o, "workers"), 3);
                json_object_put(o);
        }

        /* beyond the cap (256 with these 50): told so and closed */
        while (!refused && n_extra < 300) {
                int f = raw_connect(sock(&g));
                struct json_object *o;

                /* a refused client may be closed before it writes: the answer is there anyway */
                (void)!send(f, "{\"cmd\": \"status\"}\n", 18, MSG_NOSIGNAL);
                o = raw_answer(f);
                extra[n_extra++] = f;
                if (h_json_bool(o, "ok") == 0) {
                        assert_error(o, "too many clients");
                        refused = true;
                } else {
                        json_object_put(o);
                }
        }
        ck_assert(refused);
        ck_assert_int_eq(n_extra, 256 - N + 1);
        for (size_t i = 0; i < n_extra; i++)
                close(extra[i]);
        for (int i = 0; i < N; i++)
                close(fd[i]);
        /* once graced has seen them go, it serves again */
        ck_assert(h_wait_log_count(&g, " disconnected", h_count_log(&g, " connected"), T));
        CTL(0, &g, NULL, "status");
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* ---- peer credentials ----------------------------------------------------------------------- */

/* The other user: created by the runner process (a failed check ends a
 * forked test with _exit, so the test could not remove it), removed when
 * the runner exits. */
static char test_user[64];
static uid_t other_uid;
static gid_t other_gid;
static pid_t runner_pid;
static const char *user_problem;

static void remove_test_user(void)
{
        char *out = NULL;

        if (!test_user[0] || getpid() != runner_pid)
                return;
        if (h_exit_code(h_run(ARGV("userdel", test_user), NULL, T, &out)) != 0)
                fprintf(stderr, "check_control: userdel %s failed: %s\n", test_user, out ? out : "");
        free(out);
        test_user[0] = 0;
}

static void add_test_user(void)
{
        struct passwd *pw;
        char *out = NULL;

        if (geteuid() != 0) {
                user_problem = "needs root to run a client as another uid";
                return;
        }
        runner_pid = getpid();
        snprintf(test_user, sizeof test_user, "graced-test-%d", (int)getpid());
        if (h_exit_code(h_run(ARGV("useradd", "-M", "-r", "-s", "/usr/sbin/nologin", test_user), NULL, T, &out)) != 0) {
                fprintf(stderr, "check_control: useradd %s failed: %s\n", test_user, out ? out : "");
                user_problem = "useradd failed";
                test_user[0] = 0;
                free(out);
                return;
        }
        free(out);
        atexit(remove_test_user);
        pw = getpwnam(test_user);
        if (!pw || pw->pw_uid == 0) {
                user_problem = "the new user cannot be found";
                return;
        }
        other_uid = pw->pw_uid;
        other_gid = pw->pw_gid;
}

/* Runs argv as uid/gid in a child; its exit code, output in *out. */
static int run_as(uid_t uid, gid_t gid, const char *const *argv, const char *out_path, char **out)
{
        int ofd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        pid_t pid;
        int pfd, st;

        ck_assert_int_ge(ofd, 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                if (dup2(ofd, 1) < 0 || dup2(ofd, 2) < 0 || setgroups(0, NULL) < 0 || setgid(gid) < 0 ||
                    setuid(uid) < 0)
                        _exit(120);
                execv(argv[0], (char *const *)argv);
                _exit(127);
        }
        close(ofd);
        pfd = (int)syscall(SYS_pidfd_open, pid, 0);
        ck_assert_int_ge(pfd, 0);
        ck_assert_msg(poll(&(struct pollfd){ .fd = pfd, .events = POLLIN }, 1, T) == 1, "child did not exit");
        close(pfd);
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        *out = h_read_file(out_path);
        ck_assert_ptr_nonnull(*out);
        return h_exit_code(st);
}

/* A copy of the program at path in g's directory (mode 0755), for a user who
 * may not reach the build tree. */
static const char *copy_program(struct gh *g, const char *path, const char *name)
{
        const char *dst = gh_path(g, name);
        size_t len = 0;
        char *data = h_read_file_len(path, &len);
        int fd;

        ck_assert_msg(data, "cannot read %s", path);
        fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
        ck_assert_int_ge(fd, 0);
        for (size_t off = 0; off < len;) {
                ssize_t n = write(fd, data + off, len - off);
                if (n < 0 && errno == EINTR)
                        continue;
                ck_assert_int_gt(n, 0);
                off += (size_t)n;
        }
        ck_assert_int_eq(close(fd), 0);
        ck_assert_int_eq(chmod(dst, 0755), 0);
        free(data);
        return dst;
}

START_TEST(test_peer_uid)
{
        struct gh g;
        const char *ctl;
        char *out;
        uid_t uid = other_uid;
        gid_t gid = other_gid;

        if (geteuid() != 0) {
                fprintf(stderr, "check_control: test_peer_uid skipped: %s\n", user_problem);
                return;
        }
        ck_assert_msg(uid != 0, "no other user to test with: %s", user_problem ? user_problem : "?");

        ck_assert_int_eq(gh_init(&g), 0);
        start_chain(&g, NULL, NULL);
        /* the client must reach the socket at all: let it through the temp dirs */
        {
                char *parent = strdup(g.dir);
                *strrchr(parent, '/') = 0;
                ck_assert_int_eq(chmod(parent, 0711), 0);
                ck_assert_int_eq(chmod(g.dir, 0711), 0);
                free(parent);
        }

        /* the other user runs its own copy of gracectl: the build tree may sit
         * where only root can go (a clone under /root, mode 0700) */
        ctl = copy_program(&g, h_gracectl(), "gracectl");

        /* mode 0600: the file system already says no */
        ck_assert_int_eq(run_as(uid, gid, ARGV(ctl, "-s", sock(&g), "status"), gh_path(&g, "as-user.out"), &out), 69);
        ck_assert_msg(strstr(out, "Permission denied"), "output: %s", out);
        free(out);

        /* with the mode opened up, graced itself refuses the uid */
        ck_assert_int_eq(chmod(sock(&g), 0666), 0);
        ck_assert_int_eq(run_as(uid, gid, ARGV(ctl, "-s", sock(&g), "stop", "db"), gh_path(&g, "as-user.out"),
                                &out),
                         1);
        ck_assert_msg(strstr(out, "gracectl: permission denied"), "output: %s", out);
        free(out);
        ck_assert(h_wait_log(&g, "control: refused connection from uid", T));
        /* nothing was done */
        ck_assert_str_eq(status_state(&g, "db"), "running");
        ck_assert_int_eq(h_count_log(&g, "control: stop db requested"), 0);
        /* root still is served */
        CTL(0, &g, &out, "status");

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* `gracectl start w` while a `gracectl stop w` is still under way (w takes
 * about a second to stop): the start wins once the stop is done - it
 * answers 0 and w runs again as a new process (21ee2c0). */
START_TEST(test_start_while_stopping)
{
        struct gh g;
        char *out, *cmd;
        const char *c, *log;
        pid_t w1, w2, stopper;
        int status;

        ck_assert_int_eq(gh_init(&g), 0);
        ck_assert_int_ge(asprintf(&cmd, "{ name = \"w\"; command = [\"%s\", \"--on-signal-delay\", \"TERM\", \"1000\", \"0\", "
                                        "\"--stamp\", \"%s\", \"--block\"]; stop_timeout = \"10s\"; }",
                                  h_testworker(), stamp(&g, "w")),
                         0);
        c = conf(&g, "%s", (char *)gh_keep(&g, cmd));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        ck_assert(h_wait_log(&g, "w: ready", T));
        ck_assert(h_wait_file(stamp(&g, "w"), T));
        w1 = h_read_stamp_pid(stamp(&g, "w"));
        ck_assert_int_gt(w1, 0);
        ck_assert_int_eq(unlink(stamp(&g, "w")), 0);

        log = gh_path(&g, "stop.out");
        stopper = h_spawn(ARGV(h_gracectl(), "-s", sock(&g), "stop", "w"), NULL, log);
        ck_assert_int_gt(stopper, 0);
        ck_assert(h_wait_log(&g, "w: stopping", T));
        ck_assert(h_pid_alive(w1)); /* still in its 1 s stop */
        CTL(0, &g, &out, "start", "w");
        status = h_wait_child(stopper, T);
        ck_assert_msg(status >= 0, "gracectl stop did not end");

        ck_assert(h_wait_pid_reaped(w1, T));
        ck_assert_msg(h_wait_file(stamp(&g, "w"), T), "w was not started again");
        w2 = h_read_stamp_pid(stamp(&g, "w"));
        ck_assert_int_gt(w2, 0);
        ck_assert_int_ne(w2, w1);
        ck_assert(h_pid_alive(w2));
        ck_assert_str_eq(status_state(&g, "w"), "running");
        ck_assert_int_eq(status_pid(&g, "w"), w2);

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("control");
        TCase *tc = h_tcase(s, "gracectl", 60);

        tcase_add_test(tc, test_status);
        tcase_add_test(tc, test_status_last_exit);
        tcase_add_test(tc, test_status_utf8);
        tcase_add_test(tc, test_stop_start_dependents);
        tcase_add_test(tc, test_stop_answers_when_done);
        tcase_add_test(tc, test_restart);
        tcase_add_test(tc, test_start_while_stopping);
        tcase_add_test(tc, test_start_fails);
        tcase_add_test(tc, test_shutdown);
        tcase_add_test(tc, test_shutdown_force);
        tcase_add_test(tc, test_shutting_down);
        tcase_add_test(tc, test_reload);
        tcase_add_test(tc, test_usage_and_no_daemon);
        tcase_add_test(tc, test_bad_worker_name);

        tc = h_tcase(s, "socket", 60);
        tcase_add_test(tc, test_socket_file);
        tcase_add_test(tc, test_default_path);
        tcase_add_test(tc, test_second_graced);
        tcase_add_test(tc, test_stale_socket);
        tcase_add_test(tc, test_peer_uid);

        tc = h_tcase(s, "protocol", 60);
        tcase_add_test(tc, test_proto_errors);
        tcase_add_test(tc, test_proto_nul_strings);
        tcase_add_test(tc, test_proto_utf8);
        tcase_add_test(tc, test_proto_oversize);
        tcase_add_test(tc, test_proto_idle);
        tcase_add_test(tc, test_proto_disconnect);
        tcase_add_test(tc, test_proto_many_clients);
        return s;
}

int main(void)
{
        SRunner *sr;
        int failed;

        /* fail early and clearly when the environment is missing */
        (void)h_graced();
        (void)h_gracectl();
        (void)h_testworker();
        if (h_runner_init() < 0)
                return EXIT_FAILURE;
        add_test_user();
        sr = srunner_create(suite());
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        remove_test_user();
        h_runner_done();
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
