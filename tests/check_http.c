/* check_http.c - the HTTP endpoint (http_listen), end to end: a real
 * graced, real testworkers and a raw HTTP/1.1 client on loopback, so that
 * every byte sent (a head over 8 KiB, a pipelined request, a connection
 * that says nothing) is the test's. Needs GRACED_BIN, GRACED_TESTWORKER.
 *
 * What is checked: GET /metrics (OpenMetrics: families, values after a
 * crash and restart, start times, "# EOF" last), /readyz during the boot,
 * after it, while a worker restarts and during a shutdown, /livez; 404,
 * 405 with Allow, 431 for a head over 8 KiB and the close after it; 256
 * clients at once beside working requests and the next one closed at once;
 * idle connections closed; a reload that moves, keeps or drops the
 * endpoint; a start on a busy port; every descriptor of graced
 * close-on-exec, graced single-threaded and asleep while nobody asks. Every
 * wait is on a log line, a file or an answer, never on time alone. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "http.h"
#include "util.h"

#define T 10000 /* ms: a generous bound for things that happen at once */

/* ---- a raw HTTP client ---------------------------------------------------------- */

static void send_str(int fd, const char *s)
{
        size_t n = strlen(s);

        while (n) {
                ssize_t k = send(fd, s, n, MSG_NOSIGNAL);

                ck_assert_msg(k > 0, "send: %s", strerror(errno));
                s += k;
                n -= (size_t)k;
        }
}

struct resp {
        int status;      /* 0: no complete answer */
        char *raw;       /* everything received */
        size_t len;
        const char *body; /* into raw */
        size_t body_len;
        bool eof;        /* the server closed the connection after it */
};

static void resp_free(struct resp *r)
{
        free(r->raw);
        memset(r, 0, sizeof *r);
}

/* Waits up to ms for fd to be readable; false on timeout. */
static bool wait_in(int fd, long long start_ns, int ms)
{
        int left = ms - (int)h_ms_since(start_ns);
        struct pollfd p = { .fd = fd, .events = POLLIN };

        return left > 0 && poll(&p, 1, left) == 1;
}

/* Reads one answer (head, and the body its Content-Length announces unless
 * head_only), and not a byte more (the next answer on the connection stays
 * for the next call); with to_eof, then waits for the server to close. */
static void read_resp(int fd, struct resp *r, bool head_only, bool to_eof)
{
        long long t0 = h_now_ns();
        size_t cap = 0, need = SIZE_MAX;

        memset(r, 0, sizeof *r);
        for (;;) {
                char *end;
                ssize_t k;
                size_t want;

                if (r->len >= need && !to_eof)
                        break;
                if (!wait_in(fd, t0, T))
                        break;
                if (r->len + 4096 + 1 > cap) {
                        cap = cap ? cap * 2 : 65536;
                        r->raw = realloc(r->raw, cap);
                        ck_assert_ptr_nonnull(r->raw);
                }
                /* the head byte by byte, then what the body still lacks */
                want = need == SIZE_MAX ? 1 : need > r->len ? need - r->len : cap - r->len - 1;
                if (want > cap - r->len - 1)
                        want = cap - r->len - 1;
                k = recv(fd, r->raw + r->len, want, 0);
                if (k <= 0) {
                        r->eof = true;
                        break;
                }
                r->len += (size_t)k;
                r->raw[r->len] = '\0';
                if (need == SIZE_MAX && (end = strstr(r->raw, "\r\n\r\n"))) {
                        const char *cl = strcasestr(r->raw, "\r\nContent-Length: ");

                        r->body = end + 4;
                        need = (size_t)(r->body - r->raw);
                        if (cl && cl < end && !head_only)
                                need += strtoul(cl + 18, NULL, 10);
                        r->status = sscanf(r->raw, "HTTP/1.1 %d ", &r->status) == 1 ? r->status : -1;
                }
        }
        if (r->body) {
                r->body_len = need <= r->len ? need - (size_t)(r->body - r->raw) : 0;
                if (need > r->len)
                        r->status = 0; /* cut short */
        }
}

/* One request on its own connection ("Connection: close"): the answer and
 * the close after it. */
static struct resp request(int port, const char *method, const char *path)
{
        struct resp r;
        char *req;
        int fd = h_tcp_connect(port);

        ck_assert_msg(fd >= 0, "connect to %d: %s", port, strerror(errno));
        ck_assert_int_ge(asprintf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", method, path),
                         0);
        send_str(fd, req);
        free(req);
        read_resp(fd, &r, strcmp(method, "HEAD") == 0, true);
        close(fd);
        return r;
}

/* The value of header name in r's head (malloc'd), NULL when absent. */
static char *header(const struct resp *r, const char *name)
{
        char *pat, *v = NULL;
        const char *p;

        ck_assert_int_ge(asprintf(&pat, "\r\n%s: ", name), 0);
        p = strcasestr(r->raw, pat);
        if (p && (!r->body || p < r->body))
                v = strndup(p + strlen(pat), strcspn(p + strlen(pat), "\r"));
        free(pat);
        return v;
}

#define ASSERT_HEADER(r, name, want)                                                                 \
        do {                                                                                         \
                char *v_ = header(r, name);                                                          \
                ck_assert_msg(v_ && strcmp(v_, want) == 0, "%s: got \"%s\", want \"%s\"", name,      \
                              v_ ? v_ : "(none)", want);                                             \
                free(v_);                                                                            \
        } while (0)

/* GET path: status code and body, the answer complete and closed. */
static void expect(int port, const char *path, int status, const char *body)
{
        struct resp r = request(port, "GET", path);

        ck_assert_msg(r.status == status, "GET %s: status %d, want %d:\n%s", path, r.status, status,
                      r.raw ? r.raw : "(nothing)");
        if (body)
                ck_assert_msg(r.body_len == strlen(body) && memcmp(r.body, body, r.body_len) == 0,
                              "GET %s: body \"%.*s\", want \"%s\"", path, (int)r.body_len, r.body, body);
        ck_assert(r.eof);
        resp_free(&r);
}

/* GET /metrics: the body, checked for OpenMetrics' shape (malloc'd). */
static char *metrics(int port)
{
        struct resp r = request(port, "GET", "/metrics");
        char *body, *seen = xstrdup("\n"), *save = NULL, *copy;
        char last[128] = "";

        ck_assert_msg(r.status == 200, "GET /metrics: %d", r.status);
        ASSERT_HEADER(&r, "Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8");
        body = strndup(r.body, r.body_len);
        resp_free(&r);
        /* "# EOF" is the last line and only there; every line is metadata
         * or a sample, and each family's lines come together */
        ck_assert_msg(strlen(body) >= 6 && strstr(body, "# EOF") == body + strlen(body) - 6 &&
                              strcmp(body + strlen(body) - 6, "# EOF\n") == 0,
                      "\"# EOF\" is not the last line:\n%s", body);
        copy = xstrdup(body);
        for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char fam[128];

                if (strcmp(l, "# EOF") == 0)
                        break;
                if (strncmp(l, "# HELP ", 7) == 0 || strncmp(l, "# TYPE ", 7) == 0 || strncmp(l, "# UNIT ", 7) == 0)
                        sscanf(l + 7, "%127s", fam);
                else {
                        ck_assert_msg(l[0] != '#', "bad line: %s", l);
                        sscanf(l, "%127[a-z_]", fam);
                        /* a counter's samples are NAME_total */
                        if (strlen(fam) > 6 && strcmp(fam + strlen(fam) - 6, "_total") == 0)
                                fam[strlen(fam) - 6] = '\0';
                }
                if (strcmp(fam, last) != 0) {
                        char *key = xasprintf("\n%s\n", fam);

                        ck_assert_msg(!strstr(seen, key), "family %s is split:\n%s", fam, body);
                        str_appendf(&seen, "%s\n", fam);
                        free(key);
                        snprintf(last, sizeof last, "%s", fam);
                }
        }
        free(copy);
        free(seen);
        return body;
}

/* The value of the sample line that starts with prefix (metric and labels). */
static bool metric(const char *body, const char *prefix, double *v)
{
        char *pat = xasprintf("\n%s ", prefix);
        const char *p = strstr(body, pat);

        if (p)
                *v = strtod(p + strlen(pat), NULL);
        free(pat);
        return p != NULL;
}

#define ASSERT_METRIC(body, prefix, want)                                                      \
        do {                                                                                   \
                double v_;                                                                     \
                ck_assert_msg(metric(body, prefix, &v_), "no %s in:\n%s", prefix, body);       \
                ck_assert_msg(v_ == (want), "%s = %g, want %g", prefix, v_, (double)(want));  \
        } while (0)

/* ---- graced ------------------------------------------------------------------------ */

/* A blocking worker that leaves DIR/NAME.stamp; extra: more settings. */
static const char *worker(struct gh *g, const char *name, const char *extra)
{
        char *s;

        ck_assert_int_ge(asprintf(&s, "{ name = \"%s\"; command = [\"%s\", \"--stamp\", \"%s/%s.stamp\", \"--block\"]; %s }",
                                  name, h_testworker(), g->dir, name, extra ? extra : ""),
                         0);
        return gh_keep(g, s);
}

/* Writes DIR/graced.conf: http_listen on 127.0.0.1:port (0: none), the
 * workers given (a libconfig list body). */
static const char *conf(struct gh *g, int port, const char *workers)
{
        char listen[64] = "";

        if (port)
                snprintf(listen, sizeof listen, "http_listen = \"127.0.0.1:%d\"; ", port);
        return gh_write_file(g, "graced.conf", "supervisor = { name = \"http\"; %s};\nworkers = ( %s );\n", listen,
                             workers);
}

/* Starts graced on conf and waits until it serves port. */
static void start(struct gh *g, const char *c, int port, const char *const *env)
{
        char *line;

        ck_assert_int_eq(gh_start(g, c, NULL, env), 0);
        ck_assert_int_ge(asprintf(&line, "serving http://127.0.0.1:%d/metrics", port), 0);
        ck_assert(h_wait_log(g, line, T));
        free(line);
}

static pid_t stamp_pid(struct gh *g, const char *name)
{
        char *n = xasprintf("%s.stamp", name);
        const char *path = gh_path(g, gh_keep(g, n));

        ck_assert(h_wait_file(path, T));
        return h_read_stamp_pid(path);
}

/* ---- the answers --------------------------------------------------------------------- */

START_TEST(test_escape_label)
{
        struct sbuf b = { 0 };

        http_escape_label(&b, "web.2");
        ck_assert_str_eq(b.p, "web.2");
        sbuf_free(&b);
        http_escape_label(&b, "a\\b\"c\nd\\");
        ck_assert_str_eq(b.p, "a\\\\b\\\"c\\nd\\\\");
        sbuf_free(&b);
        http_escape_label(&b, "\"\n");
        ck_assert_str_eq(b.p, "\\\"\\n");
        sbuf_free(&b);
        http_escape_label(&b, "");
        ck_assert_uint_eq(b.len, 0);
        sbuf_free(&b);
}
END_TEST

/* Every path and method: 200s with their bodies and content types, 404,
 * 405 with Allow, HEAD without a body, a query ignored, two requests on one
 * connection. */
START_TEST(test_endpoints)
{
        struct gh g;
        int port = h_free_port(), fd;
        struct resp r;
        char *body, *len;
        double t;
        long long real_ns;
        pid_t pid;

        ck_assert_int_eq(gh_init(&g), 0);
        start(&g, conf(&g, port, worker(&g, "web", NULL)), port, NULL);
        pid = stamp_pid(&g, "web");
        ck_assert(h_wait_log(&g, "running: 1/1 workers", T));

        expect(port, "/livez", 200, "ok\n");
        expect(port, "/readyz", 200, "ready\n");
        r = request(port, "GET", "/readyz");
        ASSERT_HEADER(&r, "Content-Type", "text/plain; charset=utf-8");
        resp_free(&r);

        body = metrics(port);
        ASSERT_METRIC(body, "graced_up", 1);
        ASSERT_METRIC(body, "graced_shutting_down", 0);
        ASSERT_METRIC(body, "graced_worker_up{worker=\"web\"}", 1);
        ASSERT_METRIC(body, "graced_worker_ready{worker=\"web\"}", 1);
        ASSERT_METRIC(body, "graced_worker_restarts_total{worker=\"web\"}", 0);
        ASSERT_METRIC(body, "graced_worker_health_failures_total{worker=\"web\"}", 0);
        ck_assert(strstr(body, "\n# TYPE graced_worker_restarts counter\n"));
        ck_assert(strstr(body, "\n# TYPE graced_worker_health_failures counter\n"));
        ck_assert(strstr(body, "\n# TYPE graced_worker_up gauge\n"));
        ck_assert(strstr(body, "\n# TYPE graced_worker_start_time_seconds gauge\n"));
        ck_assert(strstr(body, "\n# HELP graced_worker_ready "));
        /* started before its stamp, within a second of it */
        ck_assert(metric(body, "graced_worker_start_time_seconds{worker=\"web\"}", &t));
        ck_assert(h_read_stamp(gh_path(&g, "web.stamp"), &pid, NULL, &real_ns));
        ck_assert_msg(t <= real_ns / 1e9 + 0.002 && t > real_ns / 1e9 - 1, "start time %.3f, stamp %.3f", t,
                      real_ns / 1e9);
        free(body);

        /* HEAD: the head of GET, no body */
        r = request(port, "HEAD", "/livez");
        ck_assert_int_eq(r.status, 200);
        ck_assert_uint_eq(r.body_len, 0);
        len = header(&r, "Content-Length");
        ck_assert_str_eq(len, "3");
        free(len);
        ck_assert(r.eof);
        ck_assert_uint_eq(r.len, (size_t)(r.body - r.raw)); /* nothing after the head */
        resp_free(&r);

        expect(port, "/", 404, "not found\n");
        expect(port, "/metrics/", 404, NULL);
        expect(port, "/readyz/x", 404, NULL);
        expect(port, "/livez?verbose=1", 200, "ok\n");
        for (const char *const *m = (const char *const[]){ "POST", "PUT", "DELETE", "OPTIONS", "PATCH", NULL }; *m;
             m++) {
                r = request(port, *m, "/metrics");
                ck_assert_msg(r.status == 405, "%s /metrics: %d", *m, r.status);
                ASSERT_HEADER(&r, "Allow", "GET, HEAD");
                resp_free(&r);
        }

        /* keep-alive: two requests in one write, two answers in order */
        fd = h_tcp_connect(port);
        ck_assert_int_ge(fd, 0);
        send_str(fd, "GET /livez HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
        read_resp(fd, &r, false, false);
        ck_assert_int_eq(r.status, 200);
        ck_assert(strstr(r.body, "ok\n") == r.body);
        resp_free(&r);
        read_resp(fd, &r, false, false);
        ck_assert_int_eq(r.status, 200);
        ck_assert_msg(r.body_len == 6 && memcmp(r.body, "ready\n", 6) == 0, "%s", r.raw);
        ck_assert(!r.eof);
        resp_free(&r);
        close(fd);

        ck_assert(h_pid_alive(pid));
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* A head over 8 KiB: 431 and the connection closed; one just under: 200. */
START_TEST(test_head_too_large)
{
        struct gh g;
        int port = h_free_port(), fd;
        struct resp r;
        char *req, *conn;
        char big[9 * 1024 + 1];

        ck_assert_int_eq(gh_init(&g), 0);
        start(&g, conf(&g, port, worker(&g, "web", NULL)), port, NULL);

        memset(big, 'a', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        /* one 9 KiB header field; then one 9 KiB request-target */
        for (int k = 0; k < 2; k++) {
                fd = h_tcp_connect(port);
                ck_assert_int_ge(fd, 0);
                if (k == 0)
                        ck_assert_int_ge(asprintf(&req, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", big), 0);
                else
                        ck_assert_int_ge(asprintf(&req, "GET /metrics?%s HTTP/1.1\r\nHost: x\r\n\r\n", big), 0);
                send_str(fd, req);
                free(req);
                read_resp(fd, &r, false, true);
                ck_assert_msg(r.status == 431, "status %d:\n%.300s", r.status, r.raw ? r.raw : "");
                conn = header(&r, "Connection");
                ck_assert_str_eq(conn, "close");
                free(conn);
                ck_assert(r.eof);
                resp_free(&r);
                close(fd);
        }

        /* many small fields adding up to more than 8 KiB */
        fd = h_tcp_connect(port);
        ck_assert_int_ge(fd, 0);
        send_str(fd, "GET /livez HTTP/1.1\r\nHost: x\r\n");
        for (int i = 0; i < 100; i++) {
                char f[128];

                snprintf(f, sizeof f, "X-Field-%03d: %080d\r\n", i, i);
                send_str(fd, f);
        }
        send_str(fd, "\r\n");
        read_resp(fd, &r, false, true);
        ck_assert_int_eq(r.status, 431);
        resp_free(&r);
        close(fd);

        /* 8000 bytes of header: fine, and the connection stays open */
        big[8000] = '\0';
        fd = h_tcp_connect(port);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_ge(asprintf(&req, "GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", big), 0);
        send_str(fd, req);
        free(req);
        read_resp(fd, &r, false, false);
        ck_assert_int_eq(r.status, 200);
        ck_assert(!r.eof);
        resp_free(&r);
        send_str(fd, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
        read_resp(fd, &r, false, false);
        ck_assert_int_eq(r.status, 200);
        resp_free(&r);
        close(fd);

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* /readyz during the boot: 503 with how many workers are ready, until the
 * last boot worker is; then 200, also while a worker restarts later (the
 * metrics show that one down). */
START_TEST(test_readyz_boot)
{
        struct gh g;
        int port = h_free_port();
        char *slow, *body;
        const char *gate, *workers;
        pid_t web;

        ck_assert_int_eq(gh_init(&g), 0);
        gate = gh_path(&g, "gate");
        ck_assert_int_ge(asprintf(&slow,
                                  "{ name = \"slow\"; ready = \"notify\"; command = [\"%s\", \"--wait-file\", \"%s\", "
                                  "\"--notify\", \"READY=1\", \"--block\"]; }",
                                  h_testworker(), gate),
                         0);
        gh_keep(&g, slow);
        workers = gh_keep(&g, xasprintf("%s, %s", worker(&g, "web", "restart_delay = \"1h\";"), slow));
        start(&g, conf(&g, port, workers), port, NULL);
        ck_assert(h_wait_log(&g, "web: ready", T));
        ck_assert(h_wait_log(&g, "slow: started", T));

        expect(port, "/readyz", 503, "starting: 1 of 2 workers ready\n");
        expect(port, "/livez", 200, "ok\n");
        body = metrics(port);
        ASSERT_METRIC(body, "graced_worker_up{worker=\"slow\"}", 1);
        ASSERT_METRIC(body, "graced_worker_ready{worker=\"slow\"}", 0);
        ASSERT_METRIC(body, "graced_worker_ready{worker=\"web\"}", 1);
        free(body);

        ck_assert_ptr_nonnull(h_write_file(NULL, gate, "open\n"));
        ck_assert(h_wait_log(&g, "running: 2/2 workers", T));
        expect(port, "/readyz", 200, "ready\n");
        body = metrics(port);
        ASSERT_METRIC(body, "graced_worker_ready{worker=\"slow\"}", 1);
        free(body);

        /* after the boot, a worker that crashes and waits to restart */
        web = stamp_pid(&g, "web");
        ck_assert_int_eq(kill(web, SIGKILL), 0);
        ck_assert(h_wait_log(&g, "web: restarting in 1h", T));
        expect(port, "/readyz", 200, "ready\n");
        body = metrics(port);
        ASSERT_METRIC(body, "graced_worker_up{worker=\"web\"}", 0);
        ASSERT_METRIC(body, "graced_worker_ready{worker=\"web\"}", 0);
        ck_assert_msg(!strstr(body, "graced_worker_start_time_seconds{worker=\"web\"}"), "%s", body);
        ck_assert(strstr(body, "graced_worker_start_time_seconds{worker=\"slow\"}"));
        free(body);

        /* web was down (waiting to restart) when the shutdown began: not clean */
        ck_assert_int_eq(gh_shutdown(&g, T), 1);
        gh_cleanup(&g);
}
END_TEST

/* A crash and its restart: restarts_total 1, up and ready again, the start
 * time that of the new process. */
START_TEST(test_metrics_restart)
{
        struct gh g;
        int port = h_free_port();
        const char *st;
        pid_t first, second;
        long long real1, real2;
        double t;
        char *body;

        ck_assert_int_eq(gh_init(&g), 0);
        start(&g, conf(&g, port, worker(&g, "web", "restart = \"always\";")), port, NULL);
        st = gh_path(&g, "web.stamp");
        ck_assert(h_wait_file(st, T));
        ck_assert(h_read_stamp(st, &first, NULL, &real1));
        ck_assert(h_wait_log(&g, "web: ready", T));
        ck_assert_int_eq(unlink(st), 0);
        ck_assert_int_eq(kill(first, SIGKILL), 0);
        ck_assert(h_wait_file(st, T));
        ck_assert(h_wait_log_count(&g, "web: ready", 2, T));
        ck_assert(h_read_stamp(st, &second, NULL, &real2));
        ck_assert_int_ne(first, second);

        body = metrics(port);
        ASSERT_METRIC(body, "graced_worker_restarts_total{worker=\"web\"}", 1);
        ASSERT_METRIC(body, "graced_worker_up{worker=\"web\"}", 1);
        ASSERT_METRIC(body, "graced_worker_ready{worker=\"web\"}", 1);
        ck_assert(metric(body, "graced_worker_start_time_seconds{worker=\"web\"}", &t));
        ck_assert_msg(t > real1 / 1e9 && t <= real2 / 1e9 + 0.002, "start %.3f, stamps %.3f %.3f", t, real1 / 1e9,
                      real2 / 1e9);
        free(body);

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* While a shutdown is under way the endpoint still answers: /readyz 503,
 * graced_shutting_down 1, /livez 200. */
START_TEST(test_during_shutdown)
{
        struct gh g;
        int port = h_free_port();
        char *body;
        const char *w;

        ck_assert_int_eq(gh_init(&g), 0);
        w = gh_keep(&g, xasprintf("{ name = \"slow\"; stop_timeout = \"2min\"; command = [\"%s\", \"--on-signal-delay\", "
                                  "\"TERM\", \"120000\", \"0\", \"--stamp\", \"%s\", \"--block\"]; }",
                                  h_testworker(), gh_path(&g, "slow.stamp")));
        start(&g, conf(&g, port, w), port, NULL);
        ck_assert(h_wait_log(&g, "running: 1/1 workers", T));
        /* its SIGTERM handler is in place: the stop has to wait for it */
        ck_assert(h_wait_file(gh_path(&g, "slow.stamp"), T));
        expect(port, "/readyz", 200, "ready\n");

        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert(h_wait_log(&g, "slow: stopping", T));
        expect(port, "/readyz", 503, "shutting down\n");
        expect(port, "/livez", 200, "ok\n");
        body = metrics(port);
        ASSERT_METRIC(body, "graced_shutting_down", 1);
        ASSERT_METRIC(body, "graced_worker_up{worker=\"slow\"}", 1);
        free(body);

        ck_assert_int_eq(gh_signal(&g, SIGQUIT), 0); /* forced: the worker is killed */
        ck_assert_int_ne(gh_exit_code(&g, T), -1);
        ck_assert_int_lt(h_tcp_connect(port), 0);
        ck_assert_int_eq(errno, ECONNREFUSED);
        gh_cleanup(&g);
}
END_TEST

/* During the drain of shutdown_delay: /readyz 503 at once, every worker
 * still up and untouched; a forcing signal ends it. */
START_TEST(test_during_drain)
{
        struct gh g;
        int port = h_free_port();
        char *body;
        const char *c, *up, *got;

        ck_assert_int_eq(gh_init(&g), 0);
        up = gh_path(&g, "up");
        got = gh_path(&g, "got-term");
        c = gh_write_file(&g, "graced.conf",
                          "supervisor = { http_listen = \"127.0.0.1:%d\"; shutdown_delay = \"1min\"; };\n"
                          "workers = ( { name = \"web\"; command = [\"%s\", \"--on-signal-delay\", \"TERM\", \"0\", \"0\","
                          " \"--signal-stamp\", \"%s\", \"--stamp\", \"%s\", \"--block\"]; } );\n",
                          port, h_testworker(), got, up);
        start(&g, c, port, NULL);
        ck_assert(h_wait_file(up, T));
        ck_assert(h_wait_log(&g, "running: 1/1 workers", T));
        expect(port, "/readyz", 200, "ready\n");

        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert(h_wait_log(&g, "shutting down (SIGTERM): draining 1min, then stopping 1 worker", T));
        expect(port, "/readyz", 503, "shutting down (draining)\n");
        expect(port, "/livez", 200, "ok\n");
        body = metrics(port);
        ASSERT_METRIC(body, "graced_shutting_down", 1);
        ASSERT_METRIC(body, "graced_worker_up{worker=\"web\"}", 1);
        free(body);
        ck_assert_int_eq(access(got, F_OK), -1); /* no stop signal yet */

        ck_assert_int_eq(gh_signal(&g, SIGQUIT), 0); /* forced: the drain ends at once */
        ck_assert_int_eq(gh_exit_code(&g, T), 1);
        gh_cleanup(&g);
}
END_TEST

/* ---- connections ---------------------------------------------------------------------- */

/* 200 silent clients do not stop requests; with 256 held, the next
 * connection is closed at once and the held ones still work. */
START_TEST(test_many_clients)
{
        struct gh g;
        int port = h_free_port(), idle[HTTP_MAX_CLIENTS], fd;
        struct resp r;
        long long t0;
        char c;
        bool ok = false;

        ck_assert_int_eq(gh_init(&g), 0);
        start(&g, conf(&g, port, worker(&g, "web", NULL)), port, NULL);

        for (int i = 0; i < 200; i++) {
                idle[i] = h_tcp_connect(port);
                ck_assert_int_ge(idle[i], 0);
        }
        for (int i = 0; i < 20; i++)
                expect(port, i % 2 ? "/livez" : "/readyz", 200, NULL);
        for (int i = 200; i < HTTP_MAX_CLIENTS; i++) {
                idle[i] = h_tcp_connect(port);
                ck_assert_int_ge(idle[i], 0);
        }
        /* accepted after the 256 before it: closed at once, unanswered */
        fd = h_tcp_connect(port);
        ck_assert_int_ge(fd, 0);
        send_str(fd, "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n");
        t0 = h_now_ns();
        ck_assert_msg(wait_in(fd, t0, T), "the connection beyond the limit stays open");
        ck_assert_int_le(recv(fd, &c, 1, 0), 0);
        ck_assert_int_lt(h_ms_since(t0), HTTP_IDLE_TIMEOUT_S * 1000 / 2);
        close(fd);

        /* the held ones are served */
        for (int i = 0; i < HTTP_MAX_CLIENTS; i += 15) {
                send_str(idle[i], "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n");
                read_resp(idle[i], &r, false, false);
                ck_assert_msg(r.status == 200, "held connection %d: %d", i, r.status);
                resp_free(&r);
        }
        /* one leaves: a new client gets its place (once graced saw it go) */
        close(idle[0]);
        t0 = h_now_ns();
        while (!ok && h_ms_since(t0) < T) {
                r = request(port, "GET", "/livez");
                ok = r.status == 200;
                resp_free(&r);
        }
        ck_assert(ok);
        for (int i = 1; i < HTTP_MAX_CLIENTS; i++)
                close(idle[i]);

        ck_assert(h_pid_alive(g.pid));
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* A client that sends nothing, or half a head, is closed after the idle
 * timeout (1 s here); one that came later stays until its own. */
START_TEST(test_idle_timeout)
{
        struct gh g;
        int port = h_free_port(), quiet, half;
        char c;
        long long t0;

        ck_assert_int_eq(gh_init(&g), 0);
        start(&g, conf(&g, port, worker(&g, "web", NULL)), port, (const char *const[]){ HTTP_IDLE_ENV "=1", NULL });
        t0 = h_now_ns();
        quiet = h_tcp_connect(port);
        half = h_tcp_connect(port);
        ck_assert_int_ge(quiet, 0);
        ck_assert_int_ge(half, 0);
        send_str(half, "GET /livez HTTP/1.1\r\nHost:");
        ck_assert(wait_in(quiet, t0, T));
        ck_assert_int_le(recv(quiet, &c, 1, 0), 0);
        ck_assert(wait_in(half, t0, T));
        ck_assert_int_le(recv(half, &c, 1, 0), 0);
        ck_assert_int_ge(h_ms_since(t0), 900);
        close(quiet);
        close(half);
        expect(port, "/livez", 200, "ok\n");

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* ---- the process ------------------------------------------------------------------------ */

static long ctxt_switches(pid_t pid)
{
        char path[64], *text, *p;
        long n = 0;

        snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
        text = h_read_file(path);
        ck_assert_ptr_nonnull(text);
        for (p = text; (p = strstr(p, "ctxt_switches:")); p += 14)
                n += strtol(p + 14, NULL, 10);
        free(text);
        return n;
}

static int count_entries(const char *dir)
{
        DIR *d = opendir(dir);
        int n = 0;

        ck_assert_ptr_nonnull(d);
        for (struct dirent *e; (e = readdir(d));)
                n += e->d_name[0] != '.';
        closedir(d);
        return n;
}

/* Every descriptor of graced but 0-2 is close-on-exec, the endpoint's
 * included (listening socket, MHD's epoll fd, a client's connection); it
 * has one thread (MHD runs none); and with no client it sleeps: no wakeup
 * at all over a second. */
START_TEST(test_process)
{
        struct gh g;
        int port = h_free_port(), fd, sockets = 0, epolls = 0;
        char dir[64];
        struct resp r;
        DIR *d;
        long before, after;
        bool quiet = false;

        ck_assert_int_eq(gh_init(&g), 0);
        start(&g, conf(&g, port, worker(&g, "web", NULL)), port, NULL);
        ck_assert(h_wait_log(&g, "running: 1/1 workers", T));
        /* a connection held open, after one request on it */
        fd = h_tcp_connect(port);
        ck_assert_int_ge(fd, 0);
        send_str(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        read_resp(fd, &r, false, false);
        ck_assert_int_eq(r.status, 200);
        resp_free(&r);

        snprintf(dir, sizeof dir, "/proc/%d/fd", (int)g.pid);
        d = opendir(dir);
        ck_assert_ptr_nonnull(d);
        for (struct dirent *e; (e = readdir(d));) {
                char p[128], target[128] = "", *info, *flags;
                int n = atoi(e->d_name);
                ssize_t k;

                if (e->d_name[0] == '.' || n <= 2)
                        continue;
                snprintf(p, sizeof p, "%s/%d", dir, n);
                k = readlink(p, target, sizeof target - 1);
                if (k > 0)
                        target[k] = '\0';
                sockets += strncmp(target, "socket:", 7) == 0;
                epolls += strcmp(target, "anon_inode:[eventpoll]") == 0;
                snprintf(p, sizeof p, "/proc/%d/fdinfo/%d", (int)g.pid, n);
                info = h_read_file(p);
                if (!info)
                        continue; /* closed meanwhile */
                flags = strstr(info, "flags:");
                ck_assert_ptr_nonnull(flags);
                ck_assert_msg(strtol(flags + 6, NULL, 8) & O_CLOEXEC, "graced's fd %d (%s) is not close-on-exec", n,
                              target);
                free(info);
        }
        closedir(d);
        ck_assert_int_ge(sockets, 2); /* the listening socket and the connection */
        ck_assert_int_ge(epolls, 2);  /* graced's loop and MHD's */

        snprintf(dir, sizeof dir, "/proc/%d/task", (int)g.pid);
        ck_assert_int_eq(count_entries(dir), 1);

        /* no client: a second without a single wakeup (a few tries: the
         * closed connection's last events may still be under way) */
        close(fd);
        expect(port, "/livez", 200, "ok\n");
        for (int i = 0; i < 5 && !quiet; i++) {
                before = ctxt_switches(g.pid);
                h_sleep_ms(1000);
                after = ctxt_switches(g.pid);
                quiet = before == after;
        }
        ck_assert_msg(quiet, "graced keeps waking up with no client (%ld -> %ld context switches)", before, after);
        ck_assert_int_eq(count_entries(dir), 1);

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* ---- configuration ----------------------------------------------------------------------- */

/* A reload moves the endpoint to a new port (the old one closed), keeps it
 * for the same address spelled otherwise, keeps the old one when the new
 * port is taken, and turns it off when the setting goes. */
START_TEST(test_reload_rebind)
{
        struct gh g;
        int a = h_free_port(), b, busy, fd;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        const char *c;
        char *line, *w;

        ck_assert_int_eq(gh_init(&g), 0);
        w = (char *)worker(&g, "web", NULL);
        c = conf(&g, a, w);
        start(&g, c, a, NULL);
        expect(a, "/livez", 200, "ok\n");

        b = h_free_port();
        ck_assert_ptr_nonnull(conf(&g, b, w));
        ck_assert_int_eq(gh_signal(&g, SIGHUP), 0);
        ck_assert_int_ge(asprintf(&line, "http_listen: 127.0.0.1:%d", b), 0);
        ck_assert(h_wait_log(&g, line, T));
        free(line);
        ck_assert(h_wait_log_count(&g, "reloaded ", 1, T));
        expect(b, "/livez", 200, "ok\n");
        ck_assert_int_lt(h_tcp_connect(a), 0);
        ck_assert_int_eq(errno, ECONNREFUSED);

        /* the same address: nothing moves */
        ck_assert_ptr_nonnull(gh_write_file(&g, "graced.conf",
                                            "supervisor = { http_listen = \"localhost:%d\"; };\nworkers = ( %s );\n", b,
                                            w));
        ck_assert_int_eq(gh_signal(&g, SIGHUP), 0);
        ck_assert(h_wait_log_count(&g, "reloaded ", 2, T));
        ck_assert_int_eq(h_count_log(&g, "http_listen: "), 1);
        expect(b, "/livez", 200, "ok\n");

        /* a port that is taken: an error, the endpoint stays */
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        ck_assert_int_eq(listen(fd, 1), 0);
        {
                socklen_t len = sizeof sa;
                ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
                busy = ntohs(sa.sin_port);
        }
        ck_assert_ptr_nonnull(conf(&g, busy, w));
        ck_assert_int_eq(gh_signal(&g, SIGHUP), 0);
        ck_assert_int_ge(asprintf(&line, "http_listen 127.0.0.1:%d: Address already in use; keeping 127.0.0.1:%d",
                                  busy, b),
                         0);
        ck_assert(h_wait_log(&g, line, T));
        free(line);
        ck_assert(h_wait_log_count(&g, "reloaded ", 3, T));
        expect(b, "/livez", 200, "ok\n");
        close(fd);

        /* no http_listen any more: off */
        ck_assert_ptr_nonnull(conf(&g, 0, w));
        ck_assert_int_eq(gh_signal(&g, SIGHUP), 0);
        ck_assert(h_wait_log(&g, "http_listen: off", T));
        ck_assert(h_wait_log_count(&g, "reloaded ", 4, T));
        ck_assert_int_lt(h_tcp_connect(b), 0);
        ck_assert_int_eq(errno, ECONNREFUSED);

        /* and on again */
        ck_assert_ptr_nonnull(conf(&g, a, w));
        ck_assert_int_eq(gh_signal(&g, SIGHUP), 0);
        ck_assert(h_wait_log_count(&g, "reloaded ", 5, T));
        expect(a, "/readyz", 200, "ready\n");

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* An address that cannot be bound at start: graced exits 71 before any
 * worker starts, saying why. */
START_TEST(test_start_port_taken)
{
        struct gh g;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof sa;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        char *line;

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        ck_assert_int_eq(listen(fd, 1), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
        ck_assert_int_eq(gh_init(&g), 0);
        ck_assert_int_eq(gh_start(&g, conf(&g, ntohs(sa.sin_port), worker(&g, "web", NULL)), NULL, NULL), 0);
        ck_assert_int_eq(gh_exit_code(&g, T), 71);
        ck_assert_int_ge(asprintf(&line, "http_listen 127.0.0.1:%d: Address already in use", ntohs(sa.sin_port)), 0);
        ck_assert(h_wait_log(&g, line, T));
        free(line);
        ck_assert_int_eq(access(gh_path(&g, "web.stamp"), F_OK), -1);
        close(fd);
        gh_cleanup(&g);
}
END_TEST

/* graced maps libmicrohttpd and libcurl only once it needs them: neither
 * without http_listen and http probes; libmicrohttpd from the reload that
 * turns http_listen on (libcurl still not); libcurl from the first attempt
 * of an http probe. */
START_TEST(test_libraries_loaded_when_needed)
{
        struct gh g;
        int port = h_free_port(), db_port = h_free_port();
        const char *web, *db;
        char *line;

        ck_assert_int_eq(gh_init(&g), 0);
        web = worker(&g, "web", NULL);
        ck_assert_int_eq(gh_start(&g, conf(&g, 0, web), NULL, NULL), 0);
        ck_assert(h_wait_log(&g, "running: 1/1 workers", T));
        ck_assert(!h_pid_maps(g.pid, "libmicrohttpd"));
        ck_assert(!h_pid_maps(g.pid, "libcurl"));

        ck_assert_ptr_nonnull(conf(&g, port, web));
        ck_assert_int_eq(gh_signal(&g, SIGHUP), 0);
        ck_assert(h_wait_log_count(&g, "reloaded ", 1, T));
        ck_assert_int_ge(asprintf(&line, "http_listen: 127.0.0.1:%d", port), 0);
        ck_assert(h_wait_log(&g, line, T));
        free(line);
        expect(port, "/livez", 200, "ok\n");
        ck_assert(h_pid_maps(g.pid, "libmicrohttpd"));
        ck_assert(!h_pid_maps(g.pid, "libcurl"));

        ck_assert_ptr_nonnull(gh_write_file(&g, "status", "200\n"));
        db = gh_printf(&g,
                       "%s, { name = \"db\"; cwd = \"%s\"; command = [\"%s\", \"--listen-tcp\", \"%d\", \"db.listen\", "
                       "\"--http-status-file\", \"status\", \"--block\"]; ready = { http = \"http://127.0.0.1:%d/\"; "
                       "interval = \"50ms\"; }; }",
                       web, g.dir, h_testworker(), db_port, db_port);
        ck_assert_ptr_nonnull(conf(&g, port, db));
        ck_assert_int_eq(gh_signal(&g, SIGHUP), 0);
        ck_assert(h_wait_log(&g, "db: ready", T));
        ck_assert(h_pid_maps(g.pid, "libcurl"));
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

#define NO_MHD "cannot load libmicrohttpd: libgraced-test-nosuch.so.0: cannot open shared object file: No such file or directory"

/* libmicrohttpd cannot be loaded (the test knob names a library that does
 * not exist): --check says so in a warning, still valid; at start graced
 * exits 71 as for an address it cannot bind, before any worker starts; a
 * reload that turns http_listen on logs an error and goes on without. */
START_TEST(test_libmicrohttpd_missing)
{
        struct gh g;
        int port = h_free_port(), st;
        const char *env[] = { "GRACED_TEST_MHD_SONAME=libgraced-test-nosuch.so.0", NULL };
        const char *c, *web;
        char *line, *out = NULL;

        ck_assert_int_eq(gh_init(&g), 0);
        web = worker(&g, "web", NULL);
        c = conf(&g, port, web);
        {
                const char *argv[] = { h_graced(), "--check", "-c", c, NULL };

                st = h_run(argv, env, T, &out);
        }
        ck_assert_int_eq(h_exit_code(st), 0);
        ck_assert_int_ge(asprintf(&line, "%s: warning: http_listen: " NO_MHD "\n", c), 0);
        ck_assert_msg(strstr(out, line), "%s", out);
        free(line);
        ck_assert_int_ge(asprintf(&line, "%s: valid: 1 worker, 0 cleanup steps\n", c), 0);
        ck_assert_msg(strstr(out, line), "%s", out);
        free(line);
        free(out);

        ck_assert_int_eq(gh_start(&g, c, NULL, env), 0);
        ck_assert_int_eq(gh_exit_code(&g, T), 71);
        ck_assert_int_ge(asprintf(&line, "http_listen 127.0.0.1:%d: " NO_MHD, port), 0);
        ck_assert(h_wait_log(&g, line, T));
        free(line);
        ck_assert_int_eq(access(gh_path(&g, "web.stamp"), F_OK), -1);

        ck_assert_int_eq(gh_start(&g, conf(&g, 0, web), NULL, env), 0);
        ck_assert(h_wait_log(&g, "running: 1/1 workers", T));
        ck_assert_ptr_nonnull(conf(&g, port, web));
        ck_assert_int_eq(gh_signal(&g, SIGHUP), 0);
        ck_assert_int_ge(asprintf(&line, "http_listen 127.0.0.1:%d: " NO_MHD "; keeping none", port), 0);
        ck_assert(h_wait_log(&g, line, T));
        free(line);
        ck_assert(h_wait_log_count(&g, "reloaded ", 1, T));
        ck_assert_int_lt(h_tcp_connect(port), 0);
        ck_assert_int_eq(errno, ECONNREFUSED);
        ck_assert(!h_pid_maps(g.pid, "libmicrohttpd"));
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("http");
        TCase *tc = h_tcase(s, "http", 60);

        tcase_add_test(tc, test_escape_label);
        tcase_add_test(tc, test_endpoints);
        tcase_add_test(tc, test_head_too_large);
        tcase_add_test(tc, test_readyz_boot);
        tcase_add_test(tc, test_metrics_restart);
        tcase_add_test(tc, test_during_shutdown);
        tcase_add_test(tc, test_during_drain);
        tcase_add_test(tc, test_many_clients);
        tcase_add_test(tc, test_idle_timeout);
        tcase_add_test(tc, test_process);
        tcase_add_test(tc, test_reload_rebind);
        tcase_add_test(tc, test_start_port_taken);
        tcase_add_test(tc, test_libraries_loaded_when_needed);
        tcase_add_test(tc, test_libmicrohttpd_missing);
        return s;
}

int main(void)
{
        /* fail early and clearly when the environment is missing */
        (void)h_graced();
        (void)h_testworker();
        return h_run_suite(suite());
}
