/* check_probe.c - unit tests of the probe mechanism (probe.c) in a real
 * loop: tcp and unix sockets on loopback and in a temp dir, small HTTP
 * servers forked by the test, `openssl s_server` for https, real exec'd
 * probes and their process groups. Each test ends by checking that the
 * module is idle (no attempt, epoll watches only the loop's timerfd, the
 * timerfd disarmed), that every fd it opened is close-on-exec, and that
 * probes_free gave back every fd. Waits are on the loop's events with a
 * bounded deadline (a test timer); the two things no event tells (a pid
 * file written by a probe, a SIGKILLed group's end) are polled, bounded. */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "curl_api.h"
#include "loop.h"
#include "probe.h"
#include "proc.h"
#include "util.h"

extern char **environ;

/* ---- fixture: a loop, the probes, the fds they started with ---------------------------- */

static struct loop *L;
static struct probes *PS;
static int fds0;
static char tmpdir[] = "/tmp/check_probe.XXXXXX";
static int max_threads;
/* An http attempt was started: from the first on, the module keeps
 * libcurl's multi handle, and with it two fds (its wakeup pair). */
static bool used_http;

static int count_dir(const char *path)
{
        DIR *d = opendir(path);
        struct dirent *de;
        int n = 0;

        ck_assert_ptr_nonnull(d);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n - (strcmp(path, "/proc/self/fd") == 0); /* opendir's own */
}

static int count_fds(void) { return count_dir("/proc/self/fd"); }

static int count_threads(void) { return count_dir("/proc/self/task"); }

/* Which fds were open at the start (the test framework's may lack
 * FD_CLOEXEC; every one opened since must have it). */
static bool fd_was_open[1024];

static void note_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;

        ck_assert_ptr_nonnull(d);
        memset(fd_was_open, 0, sizeof fd_was_open);
        while ((de = readdir(d))) {
                int fd = atoi(de->d_name);
                if (de->d_name[0] != '.' && fd >= 0 && fd < (int)ELEMENTSOF(fd_was_open))
                        fd_was_open[fd] = true;
        }
        closedir(d);
}

static void assert_new_fds_cloexec(void)
{
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;

        ck_assert_ptr_nonnull(d);
        while ((de = readdir(d))) {
                int fd = atoi(de->d_name), flags;

                if (de->d_name[0] == '.' || fd == dirfd(d) || (fd < (int)ELEMENTSOF(fd_was_open) && fd_was_open[fd]))
                        continue;
                flags = fcntl(fd, F_GETFD);
                if (flags < 0 || !(flags & FD_CLOEXEC)) {
                        char path[64], link[256] = "";
                        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
                        (void)!readlink(path, link, sizeof link - 1);
                        ck_abort_msg("fd %d (%s) is not close-on-exec", fd, link);
                }
        }
        closedir(d);
}

static void setup(void)
{
        signal(SIGPIPE, SIG_IGN);
        ck_assert_int_eq(proc_init(), 0);
        strcpy(tmpdir, "/tmp/check_probe.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        L = loop_new();
        ck_assert_ptr_nonnull(L);
        fds0 = count_fds();
        note_fds();
        PS = probes_new(L);
        max_threads = count_threads();
}

static void teardown(void)
{
        char cmd[PATH_MAX + 16];

        PS = probes_free(PS);
        L = loop_free(L);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        (void)!system(cmd);
}

/* What a done callback was told. */
struct res {
        int calls;
        bool ok;
        char reason[PROBE_REASON_MAX];
};

static void on_done(void *data, bool ok, const char *reason)
{
        struct res *r = data;

        r->calls++;
        r->ok = ok;
        snprintf(r->reason, sizeof r->reason, "%s", reason);
}

static void on_test_timer(struct loop_timer *t, void *data) { *(bool *)data = true; }

/* Runs the loop until *cond is true (an int set by a callback), or ms
 * have passed; counts the threads after each iteration. */
static bool run_until(const int *cond, int ms)
{
        bool late = false;
        struct loop_timer *t = loop_timer_new(L, on_test_timer, &late);

        loop_timer_set(t, now_mono() + (usec_t)ms * USEC_PER_MSEC);
        while (!*cond && !late) {
                ck_assert_int_eq(loop_run_once(L), 0);
                max_threads = MAX(max_threads, count_threads());
        }
        loop_timer_free(t);
        return *cond;
}

/* Runs the loop for ms (nothing of the module's may fire meanwhile). */
static void run_for(int ms)
{
        int never = 0;

        (void)run_until(&never, ms);
}

static struct res wait_result(struct res *r, int ms)
{
        ck_assert_msg(run_until(&r->calls, ms), "no result within %d ms", ms);
        return *r;
}

/* Lets exec probes that were ended be reaped. */
static void drain_module(int ms)
{
        usec_t end = now_mono() + (usec_t)ms * USEC_PER_MSEC;

        while (probes_active(PS) > 0 && now_mono() < end)
                run_for(20);
        ck_assert_uint_eq(probes_active(PS), 0);
}

/* The loop's epoll fd and timerfd, found through /proc. */
static int find_anon_fd(const char *what)
{
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        int found = -1;

        ck_assert_ptr_nonnull(d);
        while ((de = readdir(d))) {
                char path[300], link[300];
                ssize_t n;

                snprintf(path, sizeof path, "/proc/self/fd/%s", de->d_name);
                n = readlink(path, link, sizeof link - 1);
                if (n <= 0)
                        continue;
                link[n] = 0;
                if (strcmp(link, what) == 0)
                        found = atoi(de->d_name);
        }
        closedir(d);
        ck_assert_int_ge(found, 0);
        return found;
}

static char *fdinfo(int fd)
{
        char path[64], *text = malloc(16384);
        int f;
        ssize_t n;

        snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
        f = open(path, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(f, 0);
        n = read(f, text, 16383);
        close(f);
        ck_assert_int_ge(n, 0);
        text[n] = 0;
        return text;
}

/* The module holds nothing of the loop's: no attempt, epoll watches only
 * the loop's own timerfd, and that is disarmed (an idle graced sleeps). */
static void assert_idle(void)
{
        char *ep = fdinfo(find_anon_fd("anon_inode:[eventpoll]"));
        char *tf = fdinfo(find_anon_fd("anon_inode:[timerfd]"));
        int watched = 0;

        ck_assert_uint_eq(probes_active(PS), 0);
        for (char *p = ep; (p = strstr(p, "tfd:")); p++)
                watched++;
        ck_assert_msg(watched == 1, "epoll watches %d fds, not only the timerfd:\n%s", watched, ep);
        ck_assert_msg(strstr(tf, "it_value: (0, 0)"), "the timerfd is armed:\n%s", tf);
        free(ep);
        free(tf);
}

/* The end of every test: idle, then every fd given back by probes_free. */
static void end_clean(void)
{
        drain_module(3000);
        assert_idle();
        assert_new_fds_cloexec();
        /* nothing kept but libcurl's wakeup pair: no connection either */
        ck_assert_int_eq(count_fds(), fds0 + (used_http ? 2 : 0));
        PS = probes_free(PS);
        ck_assert_int_eq(count_fds(), fds0);
}

/* probe_start, noting http attempts. */
static struct probe_attempt *start(const struct conf_probe *p, const struct proc_spec *spec, struct res *r, int *err)
{
        struct probe_attempt *a = probe_start(PS, p, spec, on_done, r, err);

        used_http |= a && p->kind == PROBE_HTTP;
        return a;
}

static struct conf_probe mk_probe(enum probe_kind kind, const char *target, int timeout_ms)
{
        return (struct conf_probe){ .kind = kind,
                                    .target = (char *)target,
                                    .interval = 250 * USEC_PER_MSEC,
                                    .timeout = (usec_t)timeout_ms * USEC_PER_MSEC };
}

/* One attempt to its end. */
static struct res probe_once(const struct conf_probe *p, const struct proc_spec *spec)
{
        struct res r = { 0 };
        int err = 0;
        struct probe_attempt *a = start(p, spec, &r, &err);

        ck_assert_msg(a != NULL, "probe_start: %s", strerror(-err));
        ck_assert_int_eq(r.calls, 0); /* never from inside probe_start */
        return wait_result(&r, 5000);
}

/* ---- servers ------------------------------------------------------------------------------ */

static int listen_inet(int family, int backlog, unsigned *port)
{
        struct sockaddr_storage ss = { 0 };
        socklen_t len;
        int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -1;
        if (family == AF_INET) {
                struct sockaddr_in *a = (struct sockaddr_in *)&ss;
                a->sin_family = AF_INET;
                a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                len = sizeof *a;
        } else {
                struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
                a->sin6_family = AF_INET6;
                a->sin6_addr = in6addr_loopback;
                len = sizeof *a;
        }
        if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, backlog) < 0 ||
            getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
                close(fd);
                return -1;
        }
        *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                        : ((struct sockaddr_in6 *)&ss)->sin6_port);
        return fd;
}

/* A port nobody listens on (bound once, then closed). */
static unsigned closed_port(void)
{
        unsigned port;
        int fd = listen_inet(AF_INET, 1, &port);

        ck_assert_int_ge(fd, 0);
        close(fd);
        return port;
}

static int listen_unix(const char *path, int backlog)
{
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_uint_lt(strlen(path), sizeof sun.sun_path);
        strcpy(sun.sun_path, path);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
        ck_assert_int_eq(listen(fd, backlog), 0);
        return fd;
}

/* A forked HTTP server on lfd (closed here), until killed. mode: a status
 * ("200 OK"), "hang" (reads the request, never answers), "close" (reads
 * it, closes), "big" (200 with a 1 MiB body), "keep" (200, keeps the
 * connection open). The first request is
 * written to req_path when given. */
static pid_t http_server(int lfd, const char *mode, const char *req_path)
{
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid > 0) {
                close(lfd);
                return pid;
        }
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        signal(SIGPIPE, SIG_IGN);
        for (bool first = true;; first = false) {
                char req[4096], head[256];
                size_t n = 0;
                int c = accept(lfd, NULL, NULL);

                if (c < 0)
                        continue;
                while (n < sizeof req - 1) {
                        ssize_t k = read(c, req + n, sizeof req - 1 - n);
                        if (k <= 0)
                                break;
                        n += (size_t)k;
                        req[n] = 0;
                        if (strstr(req, "\r\n\r\n"))
                                break;
                }
                if (first && req_path) {
                        int f = open(req_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                        (void)!write(f, req, n);
                        close(f);
                }
                if (strcmp(mode, "hang") == 0) {
                        pause();
                } else if (strcmp(mode, "big") == 0) {
                        static char body[1 << 20];
                        memset(body, 'x', sizeof body);
                        snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", sizeof body);
                        (void)!write(c, head, strlen(head));
                        (void)!write(c, body, sizeof body);
                } else if (strcmp(mode, "keep") == 0) {
                        snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                        (void)!write(c, head, strlen(head));
                        while (read(c, req, sizeof req) > 0) /* until the client closes */
                                ;
                } else if (strcmp(mode, "close") != 0) {
                        snprintf(head, sizeof head,
                                 "HTTP/1.1 %s\r\nContent-Length: 2\r\nLocation: /elsewhere\r\nConnection: close\r\n\r\nok",
                                 mode);
                        (void)!write(c, head, strlen(head));
                }
                close(c);
        }
}

static void stop_server(pid_t pid)
{
        int status;

        kill(pid, SIGKILL);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
}

static char *tmp_path(const char *name)
{
        static char buf[4][PATH_MAX];
        static int i;
        char *p = buf[i++ % 4];

        snprintf(p, PATH_MAX, "%s/%s", tmpdir, name);
        return p;
}

static char *read_text(const char *path)
{
        static char buf[8192];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return NULL;
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
        buf[n > 0 ? n : 0] = 0;
        return buf;
}

/* ---- tcp ------------------------------------------------------------------------------------ */

START_TEST(test_tcp_ok_refused_localhost)
{
        unsigned port;
        int lfd = listen_inet(AF_INET, 16, &port);
        char addr[64];
        struct conf_probe p;
        struct res r;

        ck_assert_int_ge(lfd, 0);
        snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
        p = mk_probe(PROBE_TCP, addr, 1000);
        r = probe_once(&p, NULL);
        ck_assert_msg(r.ok, "%s", r.reason);
        ck_assert_str_eq(r.reason, "");

        snprintf(addr, sizeof addr, "localhost:%u", port);
        r = probe_once(&p, NULL);
        ck_assert_msg(r.ok, "%s", r.reason);
        close(lfd);

        snprintf(addr, sizeof addr, "127.0.0.1:%u", closed_port());
        r = probe_once(&p, NULL);
        ck_assert(!r.ok);
        ck_assert_str_eq(r.reason, "Connection refused");
        ck_assert_int_eq(r.calls, 1);
        end_clean();
}
END_TEST

START_TEST(test_tcp_ipv6_and_localhost_is_ipv4)
{
        unsigned port;
        int lfd = listen_inet(AF_INET6, 16, &port);
        char addr[64], url[96];
        struct conf_probe p;
        struct res r;
        pid_t srv;

        if (lfd < 0) {
                printf("SKIP test_tcp_ipv6: no IPv6 loopback (%s)\n", strerror(errno));
                end_clean();
                return;
        }
        snprintf(addr, sizeof addr, "[::1]:%u", port);
        p = mk_probe(PROBE_TCP, addr, 1000);
        r = probe_once(&p, NULL);
        ck_assert_msg(r.ok, "%s", r.reason);

        /* localhost means 127.0.0.1, where nobody listens on that port: for
         * http too, though libcurl alone would try ::1 as well */
        snprintf(addr, sizeof addr, "localhost:%u", port);
        r = probe_once(&p, NULL);
        ck_assert(!r.ok);
        ck_assert_str_eq(r.reason, "Connection refused");
        srv = http_server(lfd, "200 OK", NULL);
        snprintf(url, sizeof url, "http://[::1]:%u/", port);
        p = mk_probe(PROBE_HTTP, url, 2000);
        r = probe_once(&p, NULL);
        ck_assert_msg(r.ok, "%s", r.reason);
        snprintf(url, sizeof url, "http://localhost:%u/", port);
        r = probe_once(&p, NULL);
        ck_assert(!r.ok);
        ck_assert_msg(strstr(r.reason, "Connection refused"), "%s", r.reason);
        stop_server(srv);
        ck_assert_int_eq(max_threads, 1);
        end_clean();
}
END_TEST

/* A listener whose accept queue is full drops the SYN: the connect hangs. */
static int blackhole(unsigned *port, int *filler)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int lfd = listen_inet(AF_INET, 0, port);

        ck_assert_int_ge(lfd, 0);
        a.sin_port = htons((uint16_t)*port);
        for (int i = 0; i < 2; i++) {
                filler[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                ck_assert_int_ge(filler[i], 0);
                (void)connect(filler[i], (struct sockaddr *)&a, sizeof a);
        }
        return lfd;
}

START_TEST(test_tcp_timeout_and_cancel)
{
        unsigned port;
        int filler[2], lfd = blackhole(&port, filler), err;
        char addr[64];
        struct conf_probe p;
        struct res r = { 0 };
        struct probe_attempt *a;
        long long t0 = (long long)now_mono();

        snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
        p = mk_probe(PROBE_TCP, addr, 300);
        r = probe_once(&p, NULL);
        ck_assert(!r.ok);
        ck_assert_str_eq(r.reason, "timed out after 300ms");
        ck_assert_int_ge((long long)now_mono() - t0, 300000);

        memset(&r, 0, sizeof r);
        a = start(&p, NULL, &r, &err);
        ck_assert_ptr_nonnull(a);
        run_for(50);
        probe_cancel(a);
        assert_idle();
        run_for(400); /* past its deadline: nothing comes */
        ck_assert_int_eq(r.calls, 0);
        close(lfd);
        close(filler[0]);
        close(filler[1]);
        end_clean();
}
END_TEST

START_TEST(test_bad_targets_refused_at_once)
{
        struct conf_probe p = mk_probe(PROBE_TCP, "db.example:5432", 1000);
        struct res r = { 0 };
        int err = 0;

        ck_assert_ptr_null(start(&p, NULL, &r, &err));
        ck_assert_int_eq(err, -EINVAL);
        p = mk_probe(PROBE_HTTP, "http://db.example/", 1000);
        err = 0;
        ck_assert_ptr_null(start(&p, NULL, &r, &err));
        ck_assert_int_eq(err, -EINVAL);
        p = mk_probe(PROBE_LOG, "ready", 0);
        err = 0;
        ck_assert_ptr_null(start(&p, NULL, &r, &err));
        ck_assert_int_eq(err, -EINVAL);
        p = mk_probe(PROBE_EXEC, NULL, 1000);
        err = 0;
        ck_assert_ptr_null(start(&p, NULL, &r, &err));
        ck_assert_int_eq(err, -EINVAL);
        ck_assert_int_eq(r.calls, 0);
        ck_assert_int_eq(count_threads(), 1);
        end_clean();
}
END_TEST

/* ---- unix ----------------------------------------------------------------------------------- */

START_TEST(test_unix)
{
        char *sock = tmp_path("app.sock"), *file = tmp_path("plain"), *full = tmp_path("full.sock");
        char longpath[200];
        int lfd = listen_unix(sock, 16), ffd, filler, fd;
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        struct conf_probe p = mk_probe(PROBE_UNIX, sock, 1000);
        struct res r;

        r = probe_once(&p, NULL);
        ck_assert_msg(r.ok, "%s", r.reason);
        close(lfd);

        p.target = tmp_path("missing.sock");
        r = probe_once(&p, NULL);
        ck_assert(!r.ok);
        ck_assert_str_eq(r.reason, "No such file or directory");

        fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        close(fd);
        p.target = file;
        r = probe_once(&p, NULL);
        ck_assert(!r.ok);
        ck_assert_str_eq(r.reason, "Connection refused");

        memset(longpath, 'a', sizeof longpath - 1);
        longpath[0] = '/';
        longpath[sizeof longpath - 1] = 0;
        p.target = longpath;
        r = probe_once(&p, NULL);
        ck_assert(!r.ok);
        ck_assert_str_eq(r.reason, "socket path too long (199 bytes, at most 107)");

        /* backlog 0 holds one connection; the next is refused at once */
        ffd = listen_unix(full, 0);
        strcpy(sun.sun_path, full);
        filler = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        ck_assert_int_eq(connect(filler, (struct sockaddr *)&sun, sizeof sun), 0);
        p.target = full;
        r = probe_once(&p, NULL);
        ck_assert(!r.ok);
        ck_assert_str_eq(r.reason, "Resource temporarily unavailable (listen backlog full)");
        close(filler);
        close(ffd);
        end_clean();
}
END_TEST

/* ---- http ------------------------------------------------------------------------------------ */

static struct res http_probe(const char *mode, const char *path, const char *req_path, int timeout_ms)
{
        unsigned port;
        int lfd = listen_inet(AF_INET, 16, &port);
        char url[128];
        struct conf_probe p;
        struct res r;
        pid_t srv;

        ck_assert_int_ge(lfd, 0);
        srv = http_server(lfd, mode, req_path);
        snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
        p = mk_probe(PROBE_HTTP, url, timeout_ms);
        r = probe_once(&p, NULL);
        stop_server(srv);
        return r;
}

START_TEST(test_http_statuses)
{
        char *req = tmp_path("request");
        struct res r;

        r = http_probe("200 OK", "/healthz", req, 2000);
        ck_assert_msg(r.ok, "%s", r.reason);
        ck_assert_str_eq(r.reason, "");
        ck_assert_ptr_nonnull(strstr(read_text(req), "GET /healthz HTTP/1.1\r\n"));
        ck_assert_ptr_nonnull(strstr(read_text(req), "\r\nUser-Agent: graced-probe\r\n"));

        /* 3xx is a success, and is not followed */
        r = http_probe("301 Moved Permanently", "/", NULL, 2000);
        ck_assert_msg(r.ok, "%s", r.reason);
        r = http_probe("399 Odd", "/", NULL, 2000);
        ck_assert_msg(r.ok, "%s", r.reason);

        r = http_probe("503 Service Unavailable", "/", NULL, 2000);
        ck_assert(!r.ok);
        ck_assert_str_eq(r.reason, "HTTP 503");
        r = http_probe("404 Not Found", "/", NULL, 2000);
        ck_assert(!r.ok);
        ck_assert_str_eq(r.reason, "HTTP 404");

        /* a server that would keep the connection: the probe does not */
        r = http_probe("keep", "/", NULL, 2000);
        ck_assert_msg(r.ok, "%s", r.reason);

        /* a body longer than the bound is cut there: the status decides */
        r = http_probe("big", "/", NULL, 2000);
        ck_assert_msg(r.ok, "%s", r.reason);
        ck_assert_int_eq(max_threads, 1);
        end_clean();
}
END_TEST

START_TEST(test_http_failures)
{
        struct res r;
        char url[64];
        struct conf_probe p;

        r = http_probe("hang", "/", NULL, 300);
        ck_assert(!r.ok);
        ck_assert_str_eq(r.reason, "timed out after 300ms");

        r = http_probe("close", "/", NULL, 2000);
        ck_assert(!r.ok);
        ck_assert_str_eq(r.reason, "Empty reply from server");

        snprintf(url, sizeof url, "http://127.0.0.1:%u/", closed_port());
        p = mk_probe(PROBE_HTTP, url, 1000);
        r = probe_once(&p, NULL);
        ck_assert(!r.ok);
        ck_assert_msg(strstr(r.reason, "Connection refused"), "%s", r.reason);
        ck_assert_int_eq(max_threads, 1);
        end_clean();
}
END_TEST

/* localhost and a numeric host: libcurl never starts its resolver thread
 * (it would for any name it has to look up: see the EINVAL test above). */
START_TEST(test_http_localhost_no_thread)
{
        unsigned port;
        int lfd = listen_inet(AF_INET, 16, &port);
        char url[128], *req = tmp_path("request"), host[64];
        struct conf_probe p;
        struct res r;
        pid_t srv;

        ck_assert_int_ge(lfd, 0);
        ck_assert_int_eq(count_threads(), 1);
        srv = http_server(lfd, "204 No Content", req);
        snprintf(url, sizeof url, "http://localhost:%u/ready?x=1", port);
        p = mk_probe(PROBE_HTTP, url, 2000);
        r = probe_once(&p, NULL);
        ck_assert_msg(r.ok, "%s", r.reason);
        ck_assert_ptr_nonnull(strstr(read_text(req), "GET /ready?x=1 HTTP/1.1\r\n"));
        snprintf(host, sizeof host, "\r\nHost: localhost:%u\r\n", port);
        ck_assert_ptr_nonnull(strstr(read_text(req), host));
        snprintf(url, sizeof url, "http://127.0.0.1:%u/", port);
        r = probe_once(&p, NULL);
        ck_assert_msg(r.ok, "%s", r.reason);
        stop_server(srv);
        ck_assert_int_eq(max_threads, 1);
        ck_assert_int_eq(count_threads(), 1);
        end_clean();
}
END_TEST

START_TEST(test_http_cancel)
{
        unsigned port;
        int lfd = listen_inet(AF_INET, 16, &port), err;
        char url[128];
        struct conf_probe p;
        struct res r = { 0 };
        struct probe_attempt *a;
        pid_t srv;

        ck_assert_int_ge(lfd, 0);
        srv = http_server(lfd, "hang", NULL);
        snprintf(url, sizeof url, "http://127.0.0.1:%u/", port);
        p = mk_probe(PROBE_HTTP, url, 500);
        /* cancelled before curl even started, then in the middle of it */
        a = start(&p, NULL, &r, &err);
        ck_assert_ptr_nonnull(a);
        probe_cancel(a);
        a = start(&p, NULL, &r, &err);
        ck_assert_ptr_nonnull(a);
        run_for(100);
        probe_cancel(a);
        assert_idle();
        run_for(600);
        ck_assert_int_eq(r.calls, 0);
        stop_server(srv);
        end_clean();
}
END_TEST

/* Several at once, each with its own result. */
START_TEST(test_http_concurrent)
{
        unsigned port[3];
        int lfd[3];
        const char *modes[3] = { "200 OK", "500 Internal Server Error", "hang" };
        pid_t srv[3];
        struct res r[3] = { { 0 } };
        struct conf_probe p[3];
        char url[3][64];
        int err, all = 0;

        for (int i = 0; i < 3; i++) {
                lfd[i] = listen_inet(AF_INET, 16, &port[i]);
                ck_assert_int_ge(lfd[i], 0);
                srv[i] = http_server(lfd[i], modes[i], NULL);
                snprintf(url[i], sizeof url[i], "http://127.0.0.1:%u/", port[i]);
                p[i] = mk_probe(PROBE_HTTP, url[i], 400);
                ck_assert_ptr_nonnull(start(&p[i], NULL, &r[i], &err));
        }
        while (!all) {
                ck_assert(run_until(&r[2].calls, 3000));
                all = r[0].calls && r[1].calls;
        }
        ck_assert_msg(r[0].ok, "%s", r[0].reason);
        ck_assert_str_eq(r[1].reason, "HTTP 500");
        ck_assert_str_eq(r[2].reason, "timed out after 400ms");
        for (int i = 0; i < 3; i++) {
                ck_assert_int_eq(r[i].calls, 1);
                stop_server(srv[i]);
        }
        end_clean();
}
END_TEST

static bool have_openssl(void)
{
        return system("command -v openssl >/dev/null 2>&1") == 0;
}

/* Whether this process maps a file whose name holds what (/proc/self/maps). */
static bool maps_has(const char *what)
{
        FILE *f = fopen("/proc/self/maps", "re");
        char line[4096];
        bool found = false;

        ck_assert_ptr_nonnull(f);
        while (!found && fgets(line, sizeof line, f))
                found = strstr(line, what) != NULL;
        fclose(f);
        return found;
}

/* Each test is a process of its own (Check's fork mode), so libcurl is
 * loaded afresh in each; in one process (CK_FORK=no) an earlier test may
 * have loaded it already. */
static bool forked_tests(void)
{
        const char *e = getenv("CK_FORK");

        return !e || strcmp(e, "no") != 0;
}

/* libcurl is not mapped until the first http attempt (a tcp one does not
 * need it), and is from then on. */
START_TEST(test_http_libcurl_loaded_at_first_attempt)
{
        unsigned port;
        int lfd = listen_inet(AF_INET, 16, &port);
        char url[128];
        struct conf_probe p;
        struct res r;
        pid_t srv;

        if (!forked_tests())
                return;
        ck_assert_int_ge(lfd, 0);
        ck_assert(!maps_has("libcurl"));
        snprintf(url, sizeof url, "127.0.0.1:%u", port);
        p = mk_probe(PROBE_TCP, url, 2000);
        r = probe_once(&p, NULL);
        ck_assert_msg(r.ok, "%s", r.reason);
        ck_assert(!maps_has("libcurl"));
        ck_assert(!curl_api_loaded());

        srv = http_server(lfd, "200 OK", NULL);
        snprintf(url, sizeof url, "http://127.0.0.1:%u/", port);
        p = mk_probe(PROBE_HTTP, url, 2000);
        r = probe_once(&p, NULL);
        ck_assert_msg(r.ok, "%s", r.reason);
        ck_assert(maps_has("libcurl"));
        ck_assert(curl_api_loaded());
        stop_server(srv);
        end_clean();
}
END_TEST

/* libcurl cannot be loaded (the test knob names a library that does not
 * exist): each http attempt fails through done, from the loop, with
 * dlerror()'s words; nothing is kept (no multi handle, no fd). */
START_TEST(test_http_libcurl_missing)
{
        struct conf_probe p = mk_probe(PROBE_HTTP, "http://127.0.0.1:1/", 1000);
        const char *want = "cannot load libcurl: libgraced-test-nosuch.so.0: cannot open shared object file: "
                           "No such file or directory";

        if (!forked_tests())
                return;
        ck_assert_int_eq(setenv(CURL_SONAME_ENV, "libgraced-test-nosuch.so.0", 1), 0);
        for (int i = 0; i < 2; i++) {
                struct res r = { 0 };
                int err = 0;

                /* probe_start directly: the attempt keeps no multi handle */
                ck_assert_ptr_nonnull(probe_start(PS, &p, NULL, on_done, &r, &err));
                ck_assert_int_eq(r.calls, 0);
                r = wait_result(&r, 5000);
                ck_assert(!r.ok);
                ck_assert_str_eq(r.reason, want);
        }
        ck_assert(!maps_has("libcurl"));
        ck_assert(!curl_api_loaded());
        ck_assert_int_eq(unsetenv(CURL_SONAME_ENV), 0);
        end_clean();
}
END_TEST

/* https verifies the certificate against the system's store: a
 * self-signed one fails. */
START_TEST(test_https_self_signed_fails)
{
        char cmd[3 * PATH_MAX], line[256] = "", url[128];
        const char *key = tmp_path("key.pem"), *cert = tmp_path("cert.pem");
        int out[2];
        unsigned port = 0;
        size_t n = 0;
        pid_t srv;
        struct conf_probe p;
        struct res r;

        if (!have_openssl()) {
                printf("SKIP test_https_self_signed_fails: no openssl command\n");
                end_clean();
                return;
        }
        snprintf(cmd, sizeof cmd,
                 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout '%s' "
                 "-out '%s' -days 1 -subj /CN=localhost >/dev/null 2>&1",
                 key, cert);
        ck_assert_int_eq(system(cmd), 0);
        ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
        srv = fork();
        ck_assert_int_ge(srv, 0);
        if (srv == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                dup2(out[1], 1);
                dup2(open("/dev/null", O_WRONLY), 2); /* its alerts */
                execlp("openssl", "openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", cert, "-key", key,
                       "-www", (char *)NULL);
                _exit(127);
        }
        close(out[1]);
        /* "ACCEPT 127.0.0.1:PORT" once it listens (after other lines) */
        while (n < sizeof line - 1 && !(strstr(line, "ACCEPT") && strchr(strstr(line, "ACCEPT"), '\n'))) {
                struct pollfd pfd = { .fd = out[0], .events = POLLIN };
                ssize_t k;

                ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
                k = read(out[0], line + n, sizeof line - 1 - n);
                ck_assert_int_gt(k, 0);
                n += (size_t)k;
                line[n] = 0;
        }
        ck_assert_msg(sscanf(strstr(line, "ACCEPT"), "ACCEPT 127.0.0.1:%u", &port) == 1, "s_server said: %s", line);
        snprintf(url, sizeof url, "https://127.0.0.1:%u/", port);
        p = mk_probe(PROBE_HTTP, url, 3000);
        r = probe_once(&p, NULL);
        ck_assert(!r.ok);
        ck_assert_msg(strstr(r.reason, "certificate"), "%s", r.reason);
        snprintf(url, sizeof url, "https://localhost:%u/", port);
        r = probe_once(&p, NULL);
        ck_assert(!r.ok);
        ck_assert_msg(strstr(r.reason, "certificate"), "%s", r.reason);
        stop_server(srv);
        close(out[0]);
        ck_assert_int_eq(max_threads, 1);
        end_clean();
}
END_TEST

/* ---- exec ------------------------------------------------------------------------------------ */

static struct proc_spec mk_spec(char *const *argv)
{
        return (struct proc_spec){ .argv = argv, .envp = environ, .umask = -1, .fd_out = -1, .fd_err = -1 };
}

static struct res exec_probe(char *const *argv, int timeout_ms)
{
        struct conf_probe p = mk_probe(PROBE_EXEC, NULL, timeout_ms);
        struct proc_spec s = mk_spec(argv);

        return probe_once(&p, &s);
}

static struct res sh_probe(const char *script, int timeout_ms)
{
        char *argv[] = { (char *)"/bin/sh", (char *)"-c", (char *)script, NULL };

        return exec_probe(argv, timeout_ms);
}

START_TEST(test_exec_results)
{
        char *t[] = { (char *)"/bin/true", NULL }, *missing[] = { (char *)"/nonexistent/pg_isready", NULL };
        struct res r;

        r = exec_probe(t, 2000);
        ck_assert_msg(r.ok, "%s", r.reason);
        ck_assert_str_eq(r.reason, "");

        r = sh_probe("echo why; exit 3", 2000);
        ck_assert(!r.ok);
        ck_assert_str_eq(r.reason, "exited 3: why");
        /* the last non-empty line, stdout or stderr; trailing blanks dropped */
        r = sh_probe("echo one; echo 'two  ' >&2; echo; echo '   '; exit 2", 2000);
        ck_assert_str_eq(r.reason, "exited 2: two");
        r = sh_probe("printf 'no newline'; exit 4", 2000);
        ck_assert_str_eq(r.reason, "exited 4: no newline");
        r = sh_probe("exit 5", 2000);
        ck_assert_str_eq(r.reason, "exited 5");
        r = sh_probe("echo dying; kill -9 $$", 2000);
        ck_assert_str_eq(r.reason, "killed by SIGKILL: dying");

        r = exec_probe(missing, 2000);
        ck_assert(!r.ok);
        ck_assert_str_eq(r.reason, "exec /nonexistent/pg_isready: No such file or directory");
        end_clean();
}
END_TEST

START_TEST(test_exec_output_text)
{
        struct res r;
        const char *s;

        /* invalid UTF-8 and control characters: text, still */
        r = sh_probe("printf 'bad \\377 ctl \\001\\033 end\\r\\n'; exit 1", 2000);
        ck_assert(utf8_is_valid(r.reason, strlen(r.reason)));
        for (s = r.reason; *s; s++)
                ck_assert_int_ge((unsigned char)*s, ' ');
        ck_assert_str_eq(r.reason, "exited 1: bad " UTF8_REPLACEMENT " ctl    end");

        /* a long line is kept to PROBE_LINE_MAX bytes, not cut in a character */
        r = sh_probe("printf x; i=0; while [ $i -lt 150 ]; do printf '\\303\\251'; i=$((i+1)); done; echo; exit 1", 2000);
        ck_assert(utf8_is_valid(r.reason, strlen(r.reason)));
        ck_assert_uint_eq(strlen(r.reason), strlen("exited 1: ") + PROBE_LINE_MAX - 1);

        /* more output than a pipe holds: read as it comes, the probe never blocks */
        r = sh_probe("i=0; while [ $i -lt 3000 ]; do echo 'some forty bytes of output, and again..'; "
                     "i=$((i+1)); done; echo last; exit 6",
                     5000);
        ck_assert_str_eq(r.reason, "exited 6: last");
        end_clean();
}
END_TEST

static pid_t wait_pid_file(const char *path)
{
        usec_t end = now_mono() + 5 * USEC_PER_SEC;
        const char *t;

        while (now_mono() < end) {
                if ((t = read_text(path)) && strchr(t, '\n'))
                        return (pid_t)atoi(t);
                usleep(5000); /* the probe runs on its own: only we wait */
        }
        ck_abort_msg("no pid in %s", path);
        return -1;
}

/* SIGKILL was sent: the group dies as soon as the kernel gets to it. */
static bool wait_group_gone(pid_t pgid)
{
        usec_t end = now_mono() + 5 * USEC_PER_SEC;

        while (proc_group_alive(pgid) && now_mono() < end)
                usleep(2000);
        return !proc_group_alive(pgid);
}

/* The probe's group (sh, its sleep, a background grandchild) all gone, the
 * leader reaped (no zombie of ours). */
static void assert_group_gone(pid_t pgid, pid_t grandchild)
{
        int status;

        ck_assert_int_eq(waitpid(pgid, &status, WNOHANG), -1);
        ck_assert_int_eq(errno, ECHILD);
        ck_assert_int_eq(getpgid(grandchild) < 0 ? (int)pgid : (int)getpgid(grandchild), (int)pgid);
        ck_assert_msg(wait_group_gone(pgid), "process group %d still alive", (int)pgid);
}

START_TEST(test_exec_cancel_kills_group)
{
        char script[PATH_MAX + 64], *pidf = tmp_path("gc.pid");
        char *argv[] = { (char *)"/bin/sh", (char *)"-c", script, NULL };
        struct conf_probe p = mk_probe(PROBE_EXEC, NULL, 10000);
        struct proc_spec s = mk_spec(argv);
        struct res r = { 0 };
        struct probe_attempt *a;
        pid_t pgid, gc;
        int err;

        snprintf(script, sizeof script, "sleep 100 & echo $! > '%s'; sleep 100", pidf);
        a = start(&p, &s, &r, &err);
        ck_assert_ptr_nonnull(a);
        pgid = probe_pid(a);
        ck_assert_int_gt(pgid, 0);
        gc = wait_pid_file(pidf);
        ck_assert_int_eq(getpgid(gc), pgid);
        probe_cancel(a);
        drain_module(3000);
        ck_assert_int_eq(r.calls, 0);
        assert_group_gone(pgid, gc);
        end_clean();
}
END_TEST

START_TEST(test_exec_timeout_kills_group)
{
        char script[PATH_MAX + 64], *pidf = tmp_path("gc.pid");
        char *argv[] = { (char *)"/bin/sh", (char *)"-c", script, NULL };
        struct conf_probe p = mk_probe(PROBE_EXEC, NULL, 300);
        struct proc_spec s = mk_spec(argv);
        struct res r = { 0 };
        struct probe_attempt *a;
        pid_t pgid, gc;
        int err;

        snprintf(script, sizeof script, "sleep 100 & echo $! > '%s'; echo waiting; sleep 100", pidf);
        a = start(&p, &s, &r, &err);
        ck_assert_ptr_nonnull(a);
        pgid = probe_pid(a);
        gc = wait_pid_file(pidf);
        wait_result(&r, 3000);
        ck_assert(!r.ok);
        ck_assert_str_eq(r.reason, "timed out after 300ms");
        drain_module(3000);
        ck_assert_int_eq(r.calls, 1);
        assert_group_gone(pgid, gc);
        end_clean();
}
END_TEST

/* What a probe leaves in its group when it exits goes with it. */
START_TEST(test_exec_leftovers_killed)
{
        char script[PATH_MAX + 64], *pidf = tmp_path("gc.pid");
        char *argv[] = { (char *)"/bin/sh", (char *)"-c", script, NULL };
        struct conf_probe p = mk_probe(PROBE_EXEC, NULL, 2000);
        struct proc_spec s = mk_spec(argv);
        struct res r = { 0 };
        struct probe_attempt *a;
        pid_t pgid, gc;
        int err;

        snprintf(script, sizeof script, "sleep 100 & echo $! > '%s'; exit 0", pidf);
        a = start(&p, &s, &r, &err);
        ck_assert_ptr_nonnull(a);
        pgid = probe_pid(a);
        wait_result(&r, 3000);
        ck_assert_msg(r.ok, "%s", r.reason);
        gc = wait_pid_file(pidf);
        assert_group_gone(pgid, gc);
        end_clean();
}
END_TEST

/* A caller that reaps with waitpid(-1) hands the status over. */
START_TEST(test_exec_reaped_by_caller)
{
        char *argv[] = { (char *)"/bin/sh", (char *)"-c", (char *)"echo handed over; exit 7", NULL };
        struct conf_probe p = mk_probe(PROBE_EXEC, NULL, 2000);
        struct proc_spec s = mk_spec(argv);
        struct res r = { 0 };
        struct probe_attempt *a;
        int err, status;
        pid_t pid;

        a = start(&p, &s, &r, &err);
        ck_assert_ptr_nonnull(a);
        pid = probe_pid(a);
        ck_assert(probe_owns_pid(PS, pid));
        ck_assert(!probe_owns_pid(PS, getpid()));
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        probe_on_reaped(PS, pid, status);
        ck_assert(!probe_owns_pid(PS, pid));
        ck_assert_int_eq(r.calls, 0); /* from the loop, later */
        wait_result(&r, 3000);
        ck_assert_str_eq(r.reason, "exited 7: handed over");
        end_clean();
}
END_TEST

/* Every kind in flight, cancelled: no callback, nothing left. */
START_TEST(test_cancel_each_kind)
{
        unsigned port, hport;
        int filler[2], lfd = blackhole(&port, filler), hfd = listen_inet(AF_INET, 16, &hport), err;
        char addr[64], url[64];
        char *argv[] = { (char *)"/bin/sh", (char *)"-c", (char *)"sleep 100", NULL };
        struct proc_spec s = mk_spec(argv);
        struct conf_probe p[3];
        struct probe_attempt *a[3];
        struct res r = { 0 };
        pid_t srv = http_server(hfd, "hang", NULL), pgid;

        snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
        snprintf(url, sizeof url, "http://127.0.0.1:%u/", hport);
        p[0] = mk_probe(PROBE_TCP, addr, 1000);
        p[1] = mk_probe(PROBE_HTTP, url, 1000);
        p[2] = mk_probe(PROBE_EXEC, NULL, 1000);
        for (int i = 0; i < 3; i++) {
                a[i] = start(&p[i], &s, &r, &err);
                ck_assert_ptr_nonnull(a[i]);
        }
        pgid = probe_pid(a[2]);
        run_for(100);
        for (int i = 0; i < 3; i++)
                probe_cancel(a[i]);
        drain_module(3000);
        run_for(100);
        ck_assert_int_eq(r.calls, 0);
        ck_assert(wait_group_gone(pgid));
        stop_server(srv);
        close(lfd);
        close(filler[0]);
        close(filler[1]);
        end_clean();
}
END_TEST

/* Attempts under way when the module is freed: ended, nothing leaks. */
START_TEST(test_free_with_attempts)
{
        unsigned port;
        int filler[2], lfd = blackhole(&port, filler), err;
        char addr[64];
        char *argv[] = { (char *)"/bin/sh", (char *)"-c", (char *)"sleep 100", NULL };
        struct proc_spec s = mk_spec(argv);
        struct conf_probe tp, ep = mk_probe(PROBE_EXEC, NULL, 1000);
        struct res r = { 0 };
        struct probe_attempt *a;
        pid_t pid;
        int status;

        snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
        tp = mk_probe(PROBE_TCP, addr, 1000);
        ck_assert_ptr_nonnull(start(&tp, NULL, &r, &err));
        a = start(&ep, &s, &r, &err);
        ck_assert_ptr_nonnull(a);
        pid = probe_pid(a);
        PS = probes_free(PS);
        ck_assert_int_eq(r.calls, 0);
        /* SIGKILLed; reaped here (as graced's waitpid(-1) would) unless
         * probes_free could already */
        (void)waitpid(pid, &status, 0);
        ck_assert(wait_group_gone(pid));
        close(lfd);
        close(filler[0]);
        close(filler[1]);
        ck_assert_int_eq(count_fds(), fds0);
}
END_TEST

/* ---- log probes ------------------------------------------------------------------------------ */

START_TEST(test_regex)
{
        char err[128] = "";
        struct probe_regex *re = probe_regex_new("ready to accept( connections)?$", err, sizeof err);
        static const char nul[] = "abc\0ready to accept";
        static const char bad[] = "\xff\xfe\xc3 ready to accept connections";

        ck_assert_ptr_nonnull(re);
        ck_assert(probe_regex_match(re, "db: ready to accept connections", 31));
        ck_assert(probe_regex_match(re, "db: ready to accept", 19));
        ck_assert(!probe_regex_match(re, "db: ready to accept connections now", 35));
        ck_assert(!probe_regex_match(re, "starting", 8));
        /* only len bytes count: the text after is not seen */
        ck_assert(!probe_regex_match(re, "ready to accept connections", 10));
        ck_assert(probe_regex_match(re, nul, sizeof nul - 1));
        ck_assert(probe_regex_match(re, bad, sizeof bad - 1));
        ck_assert(!probe_regex_match(re, "", 0));
        re = probe_regex_free(re);

        re = probe_regex_new("^abc", err, sizeof err);
        ck_assert(probe_regex_match(re, nul, sizeof nul - 1));
        ck_assert(!probe_regex_match(re, nul + 4, sizeof nul - 5));
        probe_regex_free(re);

        ck_assert_ptr_null(probe_regex_new("ready (", err, sizeof err));
        ck_assert_msg(strstr(err, "parenthes") || strstr(err, "Unmatched"), "%s", err);
        ck_assert_ptr_null(probe_regex_new("a{2,1}", err, sizeof err));
        ck_assert_str_ne(err, "");
        end_clean();
}
END_TEST

static Suite *probe_suite(void)
{
        Suite *s = suite_create("probe");
        TCase *tc = tcase_create("probe");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_tcp_ok_refused_localhost);
        tcase_add_test(tc, test_tcp_ipv6_and_localhost_is_ipv4);
        tcase_add_test(tc, test_tcp_timeout_and_cancel);
        tcase_add_test(tc, test_bad_targets_refused_at_once);
        tcase_add_test(tc, test_unix);
        tcase_add_test(tc, test_http_statuses);
        tcase_add_test(tc, test_http_failures);
        tcase_add_test(tc, test_http_localhost_no_thread);
        tcase_add_test(tc, test_http_cancel);
        tcase_add_test(tc, test_http_concurrent);
        tcase_add_test(tc, test_http_libcurl_loaded_at_first_attempt);
        tcase_add_test(tc, test_http_libcurl_missing);
        tcase_add_test(tc, test_https_self_signed_fails);
        tcase_add_test(tc, test_exec_results);
        tcase_add_test(tc, test_exec_output_text);
        tcase_add_test(tc, test_exec_cancel_kills_group);
        tcase_add_test(tc, test_exec_timeout_kills_group);
        tcase_add_test(tc, test_exec_leftovers_killed);
        tcase_add_test(tc, test_exec_reaped_by_caller);
        tcase_add_test(tc, test_cancel_each_kind);
        tcase_add_test(tc, test_free_with_attempts);
        tcase_add_test(tc, test_regex);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(probe_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
