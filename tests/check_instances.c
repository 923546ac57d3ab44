/* check_instances.c - workers with `instances`, end to end: a real graced,
 * real testworkers, the real gracectl (tests/harness.h). Needs GRACED_BIN,
 * GRACECTL_BIN, GRACED_TESTWORKER.
 *
 * What is checked: `instances = N` runs NAME.1 ... NAME.N, each its own
 * process, with %i expanded in its command, env and paths (each instance
 * writes its number to a file of its own); they are named so in gracectl
 * status, the report and /metrics; gracectl stop|start NAME acts on every
 * instance, NAME.2 on one; gracectl scale adds instances (in order) and
 * removes the highest-numbered ones one after another, each with its
 * hooks (stop signals stamped by the workers' handlers prove the order);
 * a reload sets the count from the file again, leaving the others alone.
 * Every wait is on a file, a log line, a pid or an answer, never on time. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "harness.h"

#define ARGV(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define T 10000 /* ms: a generous bound for things that happen at once */
#define STOP_MS 300 /* how long each instance takes to stop once signalled */

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

/* DIR/NAME (NAME from a format), owned by g. */
#define P(g, ...) gh_path(g, fmt(g, __VA_ARGS__))

/* (Re)writes DIR/graced.conf: supervisor settings sup, then `web` with
 * `instances = n` and `lb` after it. Each web instance appends its number
 * (%i in its command) to DIR/n.%i, reports its environment to DIR/fds.%i,
 * stamps DIR/web.%i.stamp, and stops STOP_MS after SIGTERM, stamping its
 * arrival in DIR/stop.%i; its pre_stop hook appends "pre" to DIR/events. */
static const char *conf(struct gh *g, const char *sup, unsigned n)
{
        const char *tw = h_testworker(), *d = g->dir;
        const char *path = gh_write_file(
                g, "graced.conf",
                "supervisor = { name = \"inst\"; %s };\n"
                "workers = (\n"
                "  { name = \"web\"; instances = %u;\n"
                "    command = [\"%s\", \"--append\", \"%s/n.%%i\", \"%%i\", \"--report-fds\", \"%s/fds.%%i\",\n"
                "               \"--on-signal-delay\", \"TERM\", \"%d\", \"0\", \"--signal-stamp\", \"%s/stop.%%i\",\n"
                "               \"--stamp\", \"%s/web.%%i.stamp\", \"--block\"];\n"
                "    env = { INSTANCE = \"web-%%i\"; RATE = \"100%%%%\"; };\n"
                "    pre_stop = [\"%s\", \"--append\", \"%s/events\", \"pre\"]; },\n"
                "  { name = \"lb\"; after = [\"web\"];\n"
                "    command = [\"%s\", \"--stamp\", \"%s/lb.stamp\", \"--block\"]; }\n"
                ");\n",
                sup ? sup : "", n, tw, d, d, STOP_MS, d, d, tw, d, tw, d);

        ck_assert_ptr_nonnull(path);
        return path;
}

/* Waits for DIR/NAME.stamp and returns the pid in it, which must be alive. */
static pid_t wait_pid(struct gh *g, const char *name)
{
        const char *stamp = P(g, "%s.stamp", name);
        pid_t pid;

        ck_assert_msg(h_wait_file(stamp, T), "%s: no stamp", name);
        pid = h_read_stamp_pid(stamp);
        ck_assert_msg(pid > 0 && h_pid_alive(pid), "%s: pid %d is not alive", name, (int)pid);
        return pid;
}

/* gracectl -s DIR/control.sock ARGS... must exit with want; *out: its
 * output (owned by g). */
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
        ck_assert_msg(code == want, "gracectl %s: exit %d, wanted %d; output:\n%s", args[0], code, want, o);
        if (out)
                *out = o;
}

#define CTL(want, g, out, ...) ctl_expect(g, want, out, ARGV(__VA_ARGS__))

/* "NAME STATE," for every row of `gracectl --json status`, in its order. */
static const char *status_rows(struct gh *g)
{
        struct json_object *o, *a;
        char *out, *rows = strdup("");

        CTL(0, g, &out, "--json", "status");
        o = json_tokener_parse(out);
        ck_assert_msg(o != NULL, "no JSON: %s", out);
        a = h_json_get(o, "workers");
        ck_assert_ptr_nonnull(a);
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                struct json_object *w = json_object_array_get_idx(a, i);
                char *r;

                ck_assert_int_ge(asprintf(&r, "%s%s %s,", rows, h_json_str(w, "name"), h_json_str(w, "state")), 0);
                free(rows);
                rows = r;
        }
        json_object_put(o);
        return gh_keep(g, rows);
}

/* The whole of a file, owned by g ("" when it cannot be read). */
static const char *file_text(struct gh *g, const char *path)
{
        char *t = h_read_file(path);

        return gh_keep(g, t ? t : strdup(""));
}

/* Starts graced on conf with web.1 .. web.n and lb up. */
static void start(struct gh *g, const char *conf_path, unsigned n, pid_t *pids)
{
        ck_assert_int_eq(gh_start(g, conf_path, NULL, NULL), 0);
        for (unsigned k = 1; k <= n; k++)
                pids[k] = wait_pid(g, fmt(g, "web.%u", k));
        pids[0] = wait_pid(g, "lb");
        ck_assert(h_wait_log(g, fmt(g, "running: %u/%u workers", n + 1, n + 1), T));
}

/* ---- the instances ---------------------------------------------------------------- */

/* %i in the command and env of each instance, the names everywhere, and
 * gracectl stop|start of one instance and of the group. */
START_TEST(test_instances)
{
        struct gh g;
        pid_t pid[4];
        char *out;
        struct json_object *r;

        ck_assert_int_eq(gh_init(&g), 0);
        start(&g, conf(&g, NULL, 3), 3, pid);
        for (int k = 1; k <= 3; k++) {
                char *fds, *v;

                ck_assert_str_eq(file_text(&g, P(&g, "n.%d", k)), fmt(&g, "%d\n", k));
                ck_assert(h_wait_file(P(&g, "fds.%d", k), T));
                fds = h_read_file(P(&g, "fds.%d", k));
                v = h_field_env(fds, "INSTANCE");
                ck_assert_str_eq(v ? v : "(unset)", fmt(&g, "web-%d", k));
                free(v);
                v = h_field_env(fds, "RATE");
                ck_assert_str_eq(v ? v : "(unset)", "100%");
                free(v);
                free(fds);
                ck_assert_int_eq(h_pid_ppid(pid[k]), g.pid);
        }
        ck_assert_str_eq(status_rows(&g), "web.1 running,web.2 running,web.3 running,lb running,");
        CTL(0, &g, &out, "status");
        ck_assert_msg(strstr(out, "\nweb.2  "), "%s", out);

        /* one instance: lb (after every instance) first, the others untouched */
        CTL(0, &g, &out, "--json", "stop", "web.2");
        ck_assert_msg(strstr(out, "\"name\":\"web.2\",\"state\":\"down\""), "%s", out);
        ck_assert(h_wait_pid_reaped(pid[2], T));
        ck_assert(h_wait_pid_reaped(pid[0], T));
        ck_assert(h_pid_alive(pid[1]) && h_pid_alive(pid[3]));
        ck_assert_str_eq(status_rows(&g), "web.1 running,web.2 down,web.3 running,lb down,");
        /* the group: every instance */
        CTL(0, &g, &out, "--json", "start", "web");
        ck_assert_msg(strstr(out, "\"name\":\"web\",\"instances\":[{\"name\":\"web.1\",\"state\":\"running\""), "%s",
                      out);
        pid[2] = wait_pid(&g, "web.2");
        ck_assert(h_wait_log_count(&g, "lb: ready", 2, T));
        ck_assert(h_pid_alive(pid[1]) && h_pid_alive(pid[3]));
        CTL(0, &g, NULL, "stop", "web");
        for (int k = 0; k <= 3; k++)
                ck_assert(h_wait_pid_reaped(pid[k], T));
        ck_assert_str_eq(status_rows(&g), "web.1 down,web.2 down,web.3 down,lb down,");
        CTL(1, &g, &out, "restart", "nope");
        ck_assert_msg(strstr(out, "no such worker: nope"), "%s", out);
        CTL(0, &g, NULL, "start", "web");
        /* the answer comes once the instances are ready; lb, brought back with
         * them, may still be starting then */
        ck_assert(h_wait_log_count(&g, "lb: ready", 3, T));
        ck_assert_str_eq(status_rows(&g), "web.1 running,web.2 running,web.3 running,lb running,");

        /* the report names each instance */
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        r = gh_report(&g);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(h_report_worker_pos(r, "lb"), 0);
        for (int k = 1; k <= 3; k++)
                ck_assert_str_eq(h_json_str(h_report_worker(r, fmt(&g, "web.%d", k)), "outcome"), "stopped");
        ck_assert_ptr_null(h_report_worker(r, "web"));
        ck_assert_int_eq(h_json_len(r, "workers"), 4);
        gh_cleanup(&g);
}
END_TEST

/* ---- gracectl scale ------------------------------------------------------------------ */

/* One request line on the control socket (a connection of its own) and
 * its answer line (owned by g). */
static const char *ask(struct gh *g, const char *req)
{
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        long long t0 = h_now_ns();
        char buf[4096];
        size_t n = 0;

        ck_assert_int_ge(fd, 0);
        snprintf(a.sun_path, sizeof a.sun_path, "%s", g->ctl_path);
        ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
        ck_assert_int_eq(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
        while (n + 1 < sizeof buf && !memchr(buf, '\n', n) && h_ms_since(t0) < T) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t k;

                if (poll(&p, 1, T) == 1 && (k = recv(fd, buf + n, sizeof buf - n - 1, 0)) > 0)
                        n += (size_t)k;
                else
                        break;
        }
        close(fd);
        buf[n] = '\0';
        return fmt(g, "%s", buf);
}

/* The monotonic time in stop.K (the SIGTERM's arrival at web.K). */
static long long stop_time(struct gh *g, int k)
{
        long long t = h_read_stamp_mono_ns(P(g, "stop.%d", k));

        ck_assert_msg(t > 0, "web.%d got no stop signal", k);
        return t;
}

/* Up: new instances, in order, nothing else touched; down: the highest
 * first, each fully stopped (its STOP_MS) before the next one is signalled,
 * each with its pre_stop; answered once they are down, then gone from
 * status and the report. */
START_TEST(test_scale)
{
        struct gh g;
        pid_t pid[6];
        char *out;
        struct json_object *r;

        ck_assert_int_eq(gh_init(&g), 0);
        start(&g, conf(&g, NULL, 2), 2, pid);
        CTL(0, &g, &out, "--json", "scale", "web", "5");
        ck_assert_msg(strstr(out, "{\"name\":\"web.5\",\"state\":\"running\""), "%s", out);
        for (int k = 3; k <= 5; k++) {
                pid[k] = wait_pid(&g, fmt(&g, "web.%d", k));
                ck_assert_str_eq(file_text(&g, P(&g, "n.%d", k)), fmt(&g, "%d\n", k));
        }
        ck_assert(h_log_line(&g, "web.3: starting") < h_log_line(&g, "web.4: starting"));
        ck_assert(h_log_line(&g, "web.4: starting") < h_log_line(&g, "web.5: starting"));
        ck_assert_int_eq(h_read_stamp_pid(P(&g, "web.1.stamp")), pid[1]);
        ck_assert(h_pid_alive(pid[0]) && h_pid_alive(pid[1]) && h_pid_alive(pid[2]));
        ck_assert_int_eq(h_count_log(&g, "lb: starting"), 1);
        ck_assert_str_eq(status_rows(&g), "web.1 running,web.2 running,web.3 running,web.4 running,web.5 running,"
                                          "lb running,");

        CTL(0, &g, &out, "--json", "scale", "web", "2");
        ck_assert_msg(strstr(out, "\"instances\":[{\"name\":\"web.1\",\"state\":\"running\""), "%s", out);
        /* answered once they are down */
        for (int k = 3; k <= 5; k++)
                ck_assert_msg(!h_pid_exists(pid[k]), "web.%d still there after the answer", k);
        ck_assert(stop_time(&g, 5) + STOP_MS * 1000000LL <= stop_time(&g, 4));
        ck_assert(stop_time(&g, 4) + STOP_MS * 1000000LL <= stop_time(&g, 3));
        ck_assert(h_log_line(&g, "web.5: stopped") < h_log_line(&g, "web.4: pre_stop started"));
        ck_assert(h_log_line(&g, "web.4: stopped") < h_log_line(&g, "web.3: pre_stop started"));
        ck_assert_int_eq(h_count_lines(P(&g, "events"), "pre"), 3);
        ck_assert_msg(access(P(&g, "stop.2"), F_OK) < 0, "web.2 was signalled");
        ck_assert(h_pid_alive(pid[0]) && h_pid_alive(pid[1]) && h_pid_alive(pid[2]));
        ck_assert_str_eq(status_rows(&g), "web.1 running,web.2 running,lb running,");

        /* refused, with the reason */
        CTL(1, &g, &out, "scale", "lb", "2");
        ck_assert_msg(strstr(out, "lb is not instanced (set instances in its configuration to scale it)"), "%s", out);
        CTL(1, &g, &out, "scale", "nope", "2");
        ck_assert_msg(strstr(out, "no such worker: nope"), "%s", out);
        CTL(2, &g, &out, "scale", "web", "0");
        ck_assert_msg(strstr(out, "scale: invalid count \"0\" (1 to 1000)"), "%s", out);
        /* the protocol's own checks */
        ck_assert_str_eq(ask(&g, "{\"cmd\": \"scale\", \"count\": 2}\n"),
                         "{\"ok\":false,\"error\":\"scale: missing \\\"name\\\"\"}\n");
        ck_assert_str_eq(ask(&g, "{\"cmd\": \"scale\", \"name\": \"web\"}\n"),
                         "{\"ok\":false,\"error\":\"scale: missing \\\"count\\\" (an integer)\"}\n");
        ck_assert_str_eq(ask(&g, "{\"cmd\": \"scale\", \"name\": \"web\", \"count\": \"3\"}\n"),
                         "{\"ok\":false,\"error\":\"scale: missing \\\"count\\\" (an integer)\"}\n");
        ck_assert_str_eq(ask(&g, "{\"cmd\": \"scale\", \"name\": \"web\", \"count\": 1001}\n"),
                         "{\"ok\":false,\"error\":\"scale: \\\"count\\\" must be 1 to 1000\"}\n");
        ck_assert_str_eq(ask(&g, "{\"cmd\": \"scale\", \"name\": \"a b\", \"count\": 2}\n"),
                         "{\"ok\":false,\"error\":\"invalid worker name\"}\n");
        ck_assert_str_eq(status_rows(&g), "web.1 running,web.2 running,lb running,");

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        r = gh_report(&g);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(h_json_len(r, "workers"), 3);
        ck_assert_ptr_null(h_report_worker(r, "web.3"));
        ck_assert_str_eq(h_json_str(h_report_worker(r, "web.2"), "outcome"), "stopped");
        gh_cleanup(&g);
}
END_TEST

/* A reload sets the count from the file again: the scaled-up instances
 * stop (highest first), web.1, web.2 and lb keep their process. During a
 * shutdown, scale is refused. */
START_TEST(test_scale_then_reload)
{
        struct gh g;
        pid_t pid[5];
        const char *c;
        char *out;

        ck_assert_int_eq(gh_init(&g), 0);
        /* the drain of a shutdown: the moment to ask for a scale */
        c = conf(&g, "shutdown_delay = \"1s\";", 2);
        start(&g, c, 2, pid);
        CTL(0, &g, NULL, "scale", "web", "4");
        pid[3] = wait_pid(&g, "web.3");
        pid[4] = wait_pid(&g, "web.4");
        CTL(0, &g, NULL, "reload");
        ck_assert(h_wait_log(&g, ": 0 added, 2 removed, 0 changed, 3 unchanged", T));
        ck_assert(h_wait_pid_reaped(pid[3], T));
        ck_assert(h_wait_pid_reaped(pid[4], T));
        ck_assert(stop_time(&g, 4) + STOP_MS * 1000000LL <= stop_time(&g, 3));
        for (int k = 0; k <= 2; k++)
                ck_assert(h_pid_alive(pid[k]));
        ck_assert_int_eq(h_read_stamp_pid(P(&g, "web.1.stamp")), pid[1]);
        ck_assert_str_eq(status_rows(&g), "web.1 running,web.2 running,lb running,");
        /* the file's count, raised: web.3 only */
        unlink(P(&g, "web.3.stamp"));
        conf(&g, "shutdown_delay = \"1s\";", 3);
        CTL(0, &g, NULL, "reload");
        ck_assert(h_wait_log(&g, ": 1 added, 0 removed, 0 changed, 3 unchanged", T));
        pid[3] = wait_pid(&g, "web.3");
        ck_assert_int_eq(h_read_stamp_pid(P(&g, "web.2.stamp")), pid[2]);

        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert(h_wait_log(&g, "shutting down (SIGTERM): draining", T));
        CTL(1, &g, &out, "scale", "web", "4");
        ck_assert_msg(strstr(out, "shutting down"), "%s", out);
        ck_assert_int_eq(gh_exit_code(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* ---- /metrics ---------------------------------------------------------------------- */

/* GET /metrics: the whole answer (malloc'd), read until graced closes. */
static char *metrics(int port)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        static const char req[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        long long t0 = h_now_ns();
        size_t n = 0, cap = 1 << 16;
        char *buf = malloc(cap);
        ssize_t k = 1;

        ck_assert(fd >= 0 && buf);
        ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
        ck_assert_int_eq(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
        while (k > 0 && n + 1 < cap && h_ms_since(t0) < T) {
                struct pollfd p = { .fd = fd, .events = POLLIN };

                if (poll(&p, 1, T) == 1 && (k = recv(fd, buf + n, cap - n - 1, 0)) > 0)
                        n += (size_t)k;
        }
        close(fd);
        buf[n] = '\0';
        ck_assert_msg(strstr(buf, "HTTP/1.1 200") == buf && strstr(buf, "# EOF\n"), "GET /metrics: %s", buf);
        return buf;
}

/* Instances are worker="web.2"; the ones scaled away leave. */
START_TEST(test_metrics)
{
        struct gh g;
        pid_t pid[4];
        int port = h_free_port();
        char *m;

        ck_assert_int_eq(gh_init(&g), 0);
        start(&g, conf(&g, fmt(&g, "http_listen = \"127.0.0.1:%d\";", port), 3), 3, pid);
        m = metrics(port);
        ck_assert_msg(strstr(m, "graced_worker_up{worker=\"web.2\"} 1\n"), "%s", m);
        ck_assert_msg(strstr(m, "graced_worker_ready{worker=\"web.3\"} 1\n"), "%s", m);
        ck_assert_msg(!strstr(m, "worker=\"web\""), "%s", m);
        free(m);
        CTL(0, &g, NULL, "scale", "web", "1");
        m = metrics(port);
        ck_assert_msg(strstr(m, "graced_worker_up{worker=\"web.1\"} 1\n"), "%s", m);
        ck_assert_msg(!strstr(m, "web.2") && !strstr(m, "web.3"), "%s", m);
        free(m);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("instances");
        TCase *tc = h_tcase(s, "instances", 60);

        tcase_add_test(tc, test_instances);
        tcase_add_test(tc, test_scale);
        tcase_add_test(tc, test_scale_then_reload);
        tcase_add_test(tc, test_metrics);
        return h_run_suite(s);
}
