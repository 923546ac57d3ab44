/* probe.c - probe attempts in the loop: non-blocking connect() for tcp and
 * unix, libcurl's multi-socket API for http(s), proc_spawn() plus pidfd
 * for exec; the log probe's regex. Owns each attempt's fds, timer and
 * process, and libcurl's multi handle. Must not block, start a thread,
 * look a name up, call a done callback from inside probe_start, or log
 * (but once, that libcurl cannot be loaded). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "curl_api.h"
#include "hmap.h"
#include "log.h"
#include "parse.h"
#include "probe.h"

/* libcurl's functions, from the first http attempt on (http_init()) */
static const struct curl_api *curl;

/* One socket libcurl asked us to watch (its socketp), by fd in ps->csocks. */
struct csock {
        struct probes *ps;
        int fd;
        struct loop_watch *watch; /* NULL once the fd is closed */
};

struct probes {
        struct loop *loop;
        struct probe_attempt *attempts; /* every attempt not freed yet */
        size_t n_attempts;
        struct hmap pids; /* pid -> exec attempt whose process is not reaped yet */
        /* http: made at the first http attempt, kept until probes_free */
        bool curl_init;
        bool curl_missing_said; /* libcurl could not be loaded, and the log said so */
        CURLM *multi;
        struct loop_timer *curl_timer;
        struct hmap csocks; /* fd -> struct csock */
};

struct probe_attempt {
        struct probes *ps;
        struct probe_attempt *prev, *next;
        enum probe_kind kind;
        probe_done_fn done; /* NULL once cancelled: only reaping is left */
        void *data;
        usec_t timeout;
        struct loop_timer *timer; /* the deadline; at 0 once the result is known */
        bool have_result, ok;
        char reason[PROBE_REASON_MAX];

        /* tcp, unix */
        int fd;
        struct loop_watch *watch;

        /* http */
        CURL *easy;
        size_t body;
        bool body_cut;
        char errbuf[CURL_ERROR_SIZE];

        /* exec */
        pid_t pid;
        int pidfd, status_fd, out_fd;
        struct loop_watch *pid_watch, *out_watch;
        bool exec_known;
        int exec_err;
        enum proc_stage exec_stage;
        char *argv0;
        char cur[PROBE_LINE_MAX], last[PROBE_LINE_MAX];
        size_t cur_len, last_len;
};

static void on_deadline(struct loop_timer *t, void *data);

/* ---- attempts: creation, results, release -------------------------------------------- */

static struct probe_attempt *attempt_new(struct probes *ps, const struct conf_probe *p, probe_done_fn done, void *data)
{
        struct probe_attempt *a = xcalloc(1, sizeof *a);

        a->ps = ps;
        a->kind = p->kind;
        a->done = done;
        a->data = data;
        a->timeout = p->timeout;
        a->fd = a->pidfd = a->status_fd = a->out_fd = -1;
        a->timer = loop_timer_new(ps->loop, on_deadline, a);
        if (a->timeout > 0 && a->timeout != USEC_INFINITY)
                loop_timer_set(a->timer, now_mono() + a->timeout);
        a->next = ps->attempts;
        if (a->next)
                a->next->prev = a;
        ps->attempts = a;
        ps->n_attempts++;
        return a;
}

static void attempt_free(struct probe_attempt *a)
{
        struct probes *ps = a->ps;

        if (a->prev)
                a->prev->next = a->next;
        else
                ps->attempts = a->next;
        if (a->next)
                a->next->prev = a->prev;
        ps->n_attempts--;
        a->timer = loop_timer_free(a->timer);
        free(a->argv0);
        free(a);
}

/* The result is known: it is handed over from the loop (the deadline timer
 * at 0), never from the function that learnt it, which may be probe_start
 * or a curl callback. */
static void set_result(struct probe_attempt *a, bool ok, const char *fmt, ...) _printf_(3, 4);
static void set_result(struct probe_attempt *a, bool ok, const char *fmt, ...)
{
        va_list ap;

        a->have_result = true;
        a->ok = ok;
        va_start(ap, fmt);
        vsnprintf(a->reason, sizeof a->reason, fmt, ap);
        va_end(ap);
        loop_timer_set(a->timer, 0);
}

static void set_result_errno(struct probe_attempt *a, int err)
{
        set_result(a, false, "%s", strerror(err));
}

static void http_release(struct probe_attempt *a);
static void exec_kill(struct probe_attempt *a);
static void exec_unwatch(struct probe_attempt *a);

/* Closes what the attempt holds besides an exec probe's process. */
static void release(struct probe_attempt *a)
{
        a->watch = loop_del_fd(a->watch);
        a->fd = safe_close(a->fd);
        http_release(a);
        a->out_watch = loop_del_fd(a->out_watch);
        a->out_fd = safe_close(a->out_fd);
        a->status_fd = safe_close(a->status_fd);
}

/* The end of an attempt whose result is known (or that timed out): frees
 * it (an exec probe still to be reaped stays, silent), then tells. */
static void deliver(struct probe_attempt *a, bool ok, const char *reason)
{
        probe_done_fn done = a->done;
        void *data = a->data;
        char text[PROBE_REASON_MAX];

        snprintf(text, sizeof text, "%s", reason);
        release(a);
        a->done = NULL;
        if (a->pid > 0 && hmap_get(&a->ps->pids, (uintptr_t)a->pid))
                a->timer = loop_timer_free(a->timer); /* reaped later, in silence */
        else
                attempt_free(a);
        if (done)
                done(data, ok, text);
}

static void on_deadline(struct loop_timer *t, void *data)
{
        struct probe_attempt *a = data;
        char d[32], text[64];

        if (a->have_result) {
                deliver(a, a->ok, a->ok ? "" : a->reason);
                return;
        }
        if (a->kind == PROBE_EXEC)
                exec_kill(a);
        snprintf(text, sizeof text, "timed out after %s", format_duration(a->timeout, d, sizeof d));
        deliver(a, false, text);
}

/* ---- tcp and unix: a non-blocking connect() ------------------------------------------------- */

static void on_connected(struct loop_watch *w, int fd, uint32_t events, void *data)
{
        struct probe_attempt *a = data;
        int err = 0;
        socklen_t len = sizeof err;

        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                err = errno;
        if (err == 0 && !(events & EPOLLOUT)) {
                if (!(events & (EPOLLERR | EPOLLHUP)))
                        return; /* not yet */
                err = ECONNRESET;
        }
        a->watch = loop_del_fd(a->watch);
        a->fd = safe_close(a->fd);
        if (err)
                set_result_errno(a, err);
        else
                set_result(a, true, "%s", "");
}

/* 0, or -errno when graced could not even try. */
static int connect_start(struct probe_attempt *a, const struct sockaddr *sa, socklen_t len)
{
        a->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (a->fd < 0)
                return -errno;
        if (connect(a->fd, sa, len) == 0) {
                a->fd = safe_close(a->fd);
                set_result(a, true, "%s", "");
                return 0;
        }
        switch (errno) {
        case EINPROGRESS:
        case EINTR: /* the connection goes on in the background all the same */
                a->watch = loop_add_fd(a->ps->loop, a->fd, EPOLLOUT, on_connected, a);
                if (!a->watch)
                        return -errno;
                return 0;
        case EAGAIN: /* AF_UNIX: the listener's backlog is full; nothing goes on */
                a->fd = safe_close(a->fd);
                set_result(a, false, "%s (listen backlog full)", strerror(EAGAIN));
                return 0;
        default:
                a->fd = safe_close(a->fd);
                set_result_errno(a, errno);
                return 0;
        }
}

static int tcp_start(struct probe_attempt *a, const struct conf_probe *p)
{
        struct sockaddr_storage ss;
        socklen_t len;
        const char *why;

        if (!p->target || parse_inet_address(p->target, &ss, &len, &why) < 0)
                return -EINVAL;
        return connect_start(a, (const struct sockaddr *)&ss, len);
}

static int unix_start(struct probe_attempt *a, const struct conf_probe *p)
{
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        size_t n;

        if (!p->target || !*p->target)
                return -EINVAL;
        n = strlen(p->target);
        if (n >= sizeof sun.sun_path) {
                set_result(a, false, "socket path too long (%zu bytes, at most %zu)", n, sizeof sun.sun_path - 1);
                return 0;
        }
        memcpy(sun.sun_path, p->target, n + 1);
        return connect_start(a, (const struct sockaddr *)&sun,
                             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1));
}

/* ---- http: libcurl's multi-socket API in our loop --------------------------------------------- */

static void http_check_done(struct probes *ps);

static void on_curl_fd(struct loop_watch *w, int fd, uint32_t events, void *data)
{
        struct csock *cs = data;
        struct probes *ps = cs->ps; /* cs may be freed by the call below */
        int flags = 0, running;

        if (events & EPOLLIN)
                flags |= CURL_CSELECT_IN;
        if (events & EPOLLOUT)
                flags |= CURL_CSELECT_OUT;
        if (events & (EPOLLERR | EPOLLHUP))
                flags |= CURL_CSELECT_ERR;
        (void)curl->multi_socket_action(ps->multi, fd, flags, &running);
        http_check_done(ps);
}

static void on_curl_timer(struct loop_timer *t, void *data)
{
        struct probes *ps = data;
        int running;

        (void)curl->multi_socket_action(ps->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        http_check_done(ps);
}

static void csock_unwatch(struct csock *cs)
{
        cs->watch = loop_del_fd(cs->watch);
}

/* CURLMOPT_SOCKETFUNCTION: what to wait for on s. Called from inside
 * curl_multi_*(): may only change our watchers. */
static int curl_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
        struct probes *ps = userp;
        struct csock *cs = socketp;
        uint32_t events = 0;

        if (what == CURL_POLL_REMOVE) {
                if (cs) {
                        csock_unwatch(cs);
                        if (hmap_get(&ps->csocks, (uintptr_t)cs->fd) == cs)
                                hmap_del(&ps->csocks, (uintptr_t)cs->fd);
                        free(cs);
                }
                return 0;
        }
        if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
                events |= EPOLLIN;
        if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
                events |= EPOLLOUT;
        if (!cs) {
                cs = xcalloc(1, sizeof *cs);
                *cs = (struct csock){ .ps = ps, .fd = s };
                cs->watch = loop_add_fd(ps->loop, s, events, on_curl_fd, cs);
                if (!cs->watch) {
                        free(cs);
                        return -1; /* the transfer fails */
                }
                hmap_put(&ps->csocks, (uintptr_t)s, cs);
                (void)curl->multi_assign(ps->multi, s, cs);
                return 0;
        }
        if (!cs->watch)
                return -1;
        return loop_mod_fd(cs->watch, events) < 0 ? -1 : 0;
}

/* CURLMOPT_TIMERFUNCTION: when curl wants curl_multi_socket_action(TIMEOUT).
 * Never calls curl from here (forbidden): 0 ms fires from the loop. */
static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
        struct probes *ps = userp;

        loop_timer_set(ps->curl_timer, timeout_ms < 0 ? USEC_INFINITY : now_mono() + (usec_t)timeout_ms * USEC_PER_MSEC);
        return 0;
}

/* https: the system's CA bundle only (no CA directory), so that libcurl
 * keeps the parsed store in the multi handle between attempts
 * (CURLOPT_CA_CACHE_TIMEOUT, 7.87: its cache is skipped when a CA
 * directory is set, and Debian's libcurl sets one by default). Without it
 * every https attempt parsed the whole bundle inside the loop: 20-35 ms. */
static int https_store(CURL *e)
{
#if LIBCURL_VERSION_NUM >= 0x075700 /* 7.87 */
        if (curl->easy_setopt(e, CURLOPT_CAPATH, NULL) != CURLE_OK ||
            curl->easy_setopt(e, CURLOPT_CA_CACHE_TIMEOUT, 3600L) != CURLE_OK)
                return -EINVAL;
#endif
        return 0;
}

/* CURLOPT_OPENSOCKETFUNCTION: libcurl's own socket() has no SOCK_CLOEXEC. */
static curl_socket_t curl_open_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
        int fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);

        return fd < 0 ? CURL_SOCKET_BAD : fd;
}

/* CURLOPT_CLOSESOCKETFUNCTION: curl tells CURL_POLL_REMOVE before it
 * closes; should it not, the watcher goes first, so that epoll never keeps
 * (or a later EPOLL_CTL_DEL never hits) a reused fd number. */
static int curl_close_cb(void *clientp, curl_socket_t s)
{
        struct probes *ps = clientp;
        struct csock *cs = hmap_get(&ps->csocks, (uintptr_t)s);

        if (cs)
                csock_unwatch(cs);
        return close(s);
}

static size_t curl_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
        struct probe_attempt *a = userdata;
        size_t n = size * nmemb;

        a->body += n;
        if (a->body > PROBE_HTTP_BODY_MAX) {
                a->body_cut = true;
                return 0; /* ends the transfer: the status is known */
        }
        return n;
}

static int fd_cmp(const void *x, const void *y)
{
        int a = *(const int *)x, b = *(const int *)y;

        return (a > b) - (a < b);
}

/* The open fds, sorted (NULL when /proc cannot be read). */
static int *list_fds(size_t *ret_n)
{
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        int *v = NULL;
        size_t n = 0, cap = 0;

        if (!d)
                return NULL;
        while ((de = readdir(d))) {
                /* not the listing's own fd: closed below, its number is free */
                if (de->d_name[0] < '0' || de->d_name[0] > '9' || atoi(de->d_name) == dirfd(d))
                        continue;
                if (n == cap)
                        v = xrealloc(v, (cap = cap ? 2 * cap : 64) * sizeof *v);
                v[n++] = atoi(de->d_name);
        }
        closedir(d);
        qsort(v, n, sizeof *v, fd_cmp);
        *ret_n = n;
        return v;
}

/* libcurl's multi handle opens a socketpair (its wakeup) without
 * SOCK_CLOEXEC: set it on whatever appeared since `before`. */
static void cloexec_new_fds(const int *before, size_t n_before)
{
        size_t n;
        int *now = list_fds(&n);

        for (size_t i = 0; now && i < n; i++) {
                int flags;

                if (bsearch(&now[i], before, n_before, sizeof *before, fd_cmp))
                        continue;
                flags = fcntl(now[i], F_GETFD);
                if (flags >= 0 && !(flags & FD_CLOEXEC))
                        (void)fcntl(now[i], F_SETFD, flags | FD_CLOEXEC);
        }
        free(now);
}

/* libcurl loaded (the first time: dlopen(), curl_global_init()) and our
 * multi handle made. -ELIBACC with *ret_why when libcurl cannot be loaded:
 * said in the log the first time only, each attempt then fails with why. */
static int http_init(struct probes *ps, const char **ret_why)
{
        size_t n_before = 0;
        int *before;

        if (ps->multi)
                return 0;
        before = list_fds(&n_before);
        if (!ps->curl_init) {
                curl = curl_api_load(ret_why);
                if (!curl) {
                        free(before);
                        if (!ps->curl_missing_said)
                                log_error(NULL, "probe", "http probes fail: %s", *ret_why);
                        ps->curl_missing_said = true;
                        return -ELIBACC;
                }
                ps->curl_init = true;
        }
        ps->multi = curl->multi_init();
        if (before)
                cloexec_new_fds(before, n_before);
        free(before);
        if (!ps->multi)
                return -ENOMEM;
        ps->curl_timer = loop_timer_new(ps->loop, on_curl_timer, ps);
        if (curl->multi_setopt(ps->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb) != CURLM_OK ||
            curl->multi_setopt(ps->multi, CURLMOPT_SOCKETDATA, ps) != CURLM_OK ||
            curl->multi_setopt(ps->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb) != CURLM_OK ||
            curl->multi_setopt(ps->multi, CURLMOPT_TIMERDATA, ps) != CURLM_OK) {
                curl->multi_cleanup(ps->multi);
                ps->multi = NULL;
                ps->curl_timer = loop_timer_free(ps->curl_timer);
                return -ENOMEM;
        }
        return 0;
}

static void http_release(struct probe_attempt *a)
{
        if (!a->easy)
                return;
        /* may call curl_socket_cb (REMOVE), curl_close_cb and curl_timer_cb */
        (void)curl->multi_remove_handle(a->ps->multi, a->easy);
        curl->easy_cleanup(a->easy);
        a->easy = NULL;
}

static void http_result(struct probe_attempt *a, CURLcode res)
{
        long code = 0, oserr = 0;
        char d[32];

        (void)curl->easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &code);
        if (res == CURLE_OK || (res == CURLE_WRITE_ERROR && a->body_cut)) {
                if (code >= 200 && code <= 399)
                        set_result(a, true, "%s", "");
                else
                        set_result(a, false, "HTTP %ld", code);
        } else if (res == CURLE_OPERATION_TIMEDOUT) {
                set_result(a, false, "timed out after %s", format_duration(a->timeout, d, sizeof d));
        } else {
                const char *text = a->errbuf[0] ? a->errbuf : curl->easy_strerror(res);

                /* "Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't
                 * connect to server" does not say why; the errno does */
                (void)curl->easy_getinfo(a->easy, CURLINFO_OS_ERRNO, &oserr);
                if (oserr > 0 && !strstr(text, strerror((int)oserr)))
                        set_result(a, false, "%s (%s)", text, strerror((int)oserr));
                else
                        set_result(a, false, "%s", text);
        }
        http_release(a);
}

/* "localhost" is 127.0.0.1, as for tcp probes (libcurl 7.88 would try ::1
 * too); every other host is numeric (parse_probe_url): libcurl never
 * resolves a name, so it never starts its resolver thread. Read by curl
 * when a transfer starts, long after curl_easy_setopt(): static. */
static char connect_to_text[] = "localhost::127.0.0.1:";
static struct curl_slist connect_to = { .data = connect_to_text, .next = NULL };

/* Transfers that ended. Called after curl_multi_socket_action() returned,
 * so removing handles is allowed. */
static void http_check_done(struct probes *ps)
{
        CURLMsg *msg;
        int left;

        while ((msg = curl->multi_info_read(ps->multi, &left))) {
                struct probe_attempt *a;
                char *priv = NULL;

                if (msg->msg != CURLMSG_DONE)
                        continue;
                (void)curl->easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
                a = (struct probe_attempt *)(void *)priv;
                if (a && a->easy == msg->easy_handle)
                        http_result(a, msg->data.result);
        }
}

static int http_start(struct probe_attempt *a, const struct conf_probe *p)
{
        struct probes *ps = a->ps;
        const char *why;
        CURL *e;
        long ms = a->timeout > 0 && a->timeout != USEC_INFINITY ? (long)MAX(a->timeout / USEC_PER_MSEC, 1) : 0;
        int r;

        if (!p->target || parse_probe_url(p->target, &why) < 0)
                return -EINVAL;
        r = http_init(ps, &why);
        if (r == -ELIBACC) {
                /* the attempt fails, and says why, as any failed attempt does */
                set_result(a, false, "%s", why);
                return 0;
        }
        if (r < 0)
                return r;
        e = a->easy = curl->easy_init();
        if (!e)
                return -ENOMEM;
        if (curl->easy_setopt(e, CURLOPT_URL, p->target) != CURLE_OK ||
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85 */
            curl->easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
#else
            curl->easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) != CURLE_OK ||
#endif
            curl->easy_setopt(e, CURLOPT_CONNECT_TO, &connect_to) != CURLE_OK ||
            /* http_proxy and friends would send the probe elsewhere (and look a name up) */
            curl->easy_setopt(e, CURLOPT_PROXY, "") != CURLE_OK ||
            curl->easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
            curl->easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
            curl->easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) != CURLE_OK ||
            curl->easy_setopt(e, CURLOPT_USERAGENT, "graced-probe") != CURLE_OK ||
            /* each attempt connects anew, and leaves no connection behind */
            curl->easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L) != CURLE_OK ||
            curl->easy_setopt(e, CURLOPT_FORBID_REUSE, 1L) != CURLE_OK ||
            curl->easy_setopt(e, CURLOPT_TIMEOUT_MS, ms) != CURLE_OK ||
            curl->easy_setopt(e, CURLOPT_WRITEFUNCTION, curl_write_cb) != CURLE_OK ||
            curl->easy_setopt(e, CURLOPT_WRITEDATA, a) != CURLE_OK ||
            curl->easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, curl_open_cb) != CURLE_OK ||
            curl->easy_setopt(e, CURLOPT_OPENSOCKETDATA, ps) != CURLE_OK ||
            curl->easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, curl_close_cb) != CURLE_OK ||
            curl->easy_setopt(e, CURLOPT_CLOSESOCKETDATA, ps) != CURLE_OK ||
            curl->easy_setopt(e, CURLOPT_ERRORBUFFER, a->errbuf) != CURLE_OK ||
            curl->easy_setopt(e, CURLOPT_PRIVATE, a) != CURLE_OK || https_store(e) < 0) {
                curl->easy_cleanup(e);
                a->easy = NULL;
                return -EINVAL;
        }
        if (curl->multi_add_handle(ps->multi, e) != CURLM_OK) {
                curl->easy_cleanup(e);
                a->easy = NULL;
                return -ENOMEM;
        }
        return 0;
}

/* ---- exec: a process, its output, its exit ---------------------------------------------------- */

static void line_end(struct probe_attempt *a)
{
        size_t n = a->cur_len;

        while (n > 0 && (a->cur[n - 1] == '\r' || a->cur[n - 1] == ' ' || a->cur[n - 1] == '\t'))
                n--;
        if (n > 0) {
                memcpy(a->last, a->cur, n);
                a->last_len = n;
        }
        a->cur_len = 0;
}

static void take_output(struct probe_attempt *a, const char *p, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (p[i] == '\n')
                        line_end(a);
                else if (a->cur_len < sizeof a->cur)
                        a->cur[a->cur_len++] = p[i];
        }
}

/* Reads what the pipe holds now, a bounded amount (the loop comes back
 * while there is more); closes it at EOF. */
static void read_output(struct probe_attempt *a)
{
        char buf[4096];

        for (int i = 0; i < 16 && a->out_fd >= 0; i++) {
                ssize_t n = read(a->out_fd, buf, sizeof buf);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return;
                if (n <= 0) {
                        a->out_watch = loop_del_fd(a->out_watch);
                        a->out_fd = safe_close(a->out_fd);
                        return;
                }
                take_output(a, buf, (size_t)n);
        }
}

static void on_exec_output(struct loop_watch *w, int fd, uint32_t events, void *data)
{
        read_output(data);
}

/* The last non-empty line as text: valid UTF-8, no control characters. */
static char *last_line(struct probe_attempt *a)
{
        size_t n;
        char *s;

        if (a->cur_len > 0)
                line_end(a);
        if (a->last_len == 0)
                return NULL;
        /* a line cut at PROBE_LINE_MAX ends before a character cut in two */
        n = a->last_len == sizeof a->last ? utf8_cut(a->last, a->last_len) : a->last_len;
        s = utf8_sanitize(a->last, n, PROBE_LINE_MAX, &n);
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] < ' ' || s[i] == 0x7f)
                        s[i] = ' ';
        return s;
}

static void exec_unwatch(struct probe_attempt *a)
{
        if (a->pid > 0)
                hmap_del(&a->ps->pids, (uintptr_t)a->pid);
        a->pid_watch = loop_del_fd(a->pid_watch);
        a->pidfd = safe_close(a->pidfd);
}

/* The whole group, leader included: it is not reaped yet, so its pid (the
 * group's id) cannot have been reused. The leader by itself first: with
 * fork() (not vfork) it may not have called setsid() yet, and then there
 * is no group to signal (nor anything else in it). */
static void exec_kill(struct probe_attempt *a)
{
        if (a->pid > 0 && hmap_get(&a->ps->pids, (uintptr_t)a->pid)) {
                (void)proc_signal(a->pid, a->pidfd, SIGKILL, false);
                (void)proc_signal(a->pid, a->pidfd, SIGKILL, true);
        }
}

/* The process was reaped (status < 0: by someone who did not say how). */
static void exec_reaped(struct probe_attempt *a, int status, bool known)
{
        char desc[EXIT_DESC_MAX];
        char *line;

        exec_unwatch(a);
        if (!a->done) { /* cancelled or timed out: nothing to tell */
                attempt_free(a);
                return;
        }
        if (a->out_fd >= 0)
                read_output(a);
        if (!a->exec_known && a->status_fd >= 0) {
                int r = proc_read_status(a->status_fd, &a->exec_err, &a->exec_stage);

                /* not known even now: exec worked and the pipe's write end
                 * lives on in a sibling forked meanwhile (ASan's fork) */
                a->exec_known = r > 0;
        }
        a->status_fd = safe_close(a->status_fd);
        if (a->exec_known && a->exec_err) {
                if (a->exec_stage == PROC_STAGE_EXEC)
                        set_result(a, false, "exec %s: %s", a->argv0, strerror(a->exec_err));
                else
                        set_result(a, false, "%s before exec %s: %s", proc_stage_name(a->exec_stage), a->argv0,
                                   strerror(a->exec_err));
        } else if (!known) {
                set_result(a, false, "%s", "exit status lost (reaped elsewhere)");
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                set_result(a, true, "%s", "");
        } else {
                line = last_line(a);
                format_exit(status, 0, desc, sizeof desc);
                if (line)
                        set_result(a, false, "%s: %s", desc, line);
                else
                        set_result(a, false, "%s", desc);
                free(line);
        }
        release(a);
}

static void on_exec_pidfd(struct loop_watch *w, int fd, uint32_t events, void *data)
{
        struct probe_attempt *a = data;
        int status = 0, k;

        /* it has exited, and is a zombie until reaped below: what it left
         * in its group goes now, while the group's id is surely ours */
        (void)proc_signal(a->pid, fd, SIGKILL, true);
        k = proc_reap_pidfd(fd, &status);
        if (k == 0)
                return;
        exec_reaped(a, status, k > 0);
}

static int exec_start(struct probe_attempt *a, const struct proc_spec *spec)
{
        struct probes *ps = a->ps;
        struct proc_spec s;
        struct proc_child ch;
        int p[2], r;

        if (!spec || !spec->argv || !spec->argv[0])
                return -EINVAL;
        /* both ends close-on-exec: the child gets the write end as 1 and 2
         * (dup2 clears the flag there); only the read end is non-blocking */
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        if ((r = fd_set_nonblock(p[0], true)) < 0) {
                safe_close(p[0]);
                safe_close(p[1]);
                return r;
        }
        s = *spec;
        s.fd_out = s.fd_err = p[1];
        r = proc_spawn(&s, &ch);
        safe_close(p[1]);
        if (r < 0) {
                safe_close(p[0]);
                return r;
        }
        a->argv0 = xstrdup(spec->argv[0]);
        a->pid = ch.pid;
        a->pidfd = ch.pidfd;
        a->status_fd = ch.status_fd;
        a->out_fd = p[0];
        hmap_put(&ps->pids, (uintptr_t)a->pid, a);
        /* with vfork the child has exec'd (or failed) already */
        if (proc_read_status(a->status_fd, &a->exec_err, &a->exec_stage) > 0) {
                a->exec_known = true;
                a->status_fd = safe_close(a->status_fd);
        }
        a->out_watch = loop_add_fd(ps->loop, a->out_fd, EPOLLIN, on_exec_output, a);
        if (!a->out_watch)
                a->out_fd = safe_close(a->out_fd); /* no output line, the exit still tells */
        if (a->pidfd >= 0) {
                a->pid_watch = loop_add_fd(ps->loop, a->pidfd, EPOLLIN, on_exec_pidfd, a);
                if (!a->pid_watch) {
                        int e = -errno, status;

                        /* it runs, and nothing would reap it: end it here (SIGKILL
                         * is not refused, so this wait is short) */
                        exec_kill(a);
                        while (waitpid(a->pid, &status, 0) < 0 && errno == EINTR)
                                ;
                        exec_unwatch(a);
                        return e;
                }
        }
        /* else: no pidfd (old kernel); the caller reaps with waitpid(-1) and
         * hands the status over (probe_on_reaped) */
        return 0;
}

/* ---- the API ---------------------------------------------------------------------------------- */

struct probes *probes_new(struct loop *l)
{
        struct probes *ps = xcalloc(1, sizeof *ps);

        ps->loop = l;
        ps->pids = (struct hmap)HMAP_INIT_INT;
        ps->csocks = (struct hmap)HMAP_INIT_INT;
        return ps;
}

struct probes *probes_free(struct probes *ps)
{
        if (!ps)
                return NULL;
        while (ps->attempts) {
                struct probe_attempt *a = ps->attempts;

                if (a->done)
                        probe_cancel(a);
                if (ps->attempts != a)
                        continue;
                /* an exec probe being reaped: it was SIGKILLed; reap it if it
                 * is gone already, else it is the caller's waitpid(-1)'s */
                if (a->pidfd >= 0) {
                        int status;
                        (void)proc_reap_pidfd(a->pidfd, &status);
                }
                exec_unwatch(a);
                attempt_free(a);
        }
        if (ps->multi)
                curl->multi_cleanup(ps->multi);
        ps->curl_timer = loop_timer_free(ps->curl_timer);
        /* sockets curl never told us to forget */
        for (size_t i = 0; i < ps->csocks.cap; i++) {
                struct csock *cs = ps->csocks.v[i].val;
                if (cs) {
                        csock_unwatch(cs);
                        free(cs);
                }
        }
        hmap_done(&ps->csocks);
        hmap_done(&ps->pids);
        if (ps->curl_init)
                curl_api_done();
        free(ps);
        return NULL;
}

struct probe_attempt *probe_start(struct probes *ps, const struct conf_probe *p, const struct proc_spec *spec,
                                  probe_done_fn done, void *data, int *ret_err)
{
        struct probe_attempt *a;
        int r;

        switch (p->kind) {
        case PROBE_TCP:
        case PROBE_UNIX:
        case PROBE_HTTP:
        case PROBE_EXEC:
                break;
        default:
                *ret_err = -EINVAL;
                return NULL;
        }
        a = attempt_new(ps, p, done, data);
        switch (p->kind) {
        case PROBE_TCP: r = tcp_start(a, p); break;
        case PROBE_UNIX: r = unix_start(a, p); break;
        case PROBE_HTTP: r = http_start(a, p); break;
        default: r = exec_start(a, spec); break;
        }
        if (r < 0) {
                release(a);
                attempt_free(a);
                *ret_err = r;
                return NULL;
        }
        return a;
}

void probe_cancel(struct probe_attempt *a)
{
        if (!a || !a->done)
                return;
        if (a->kind == PROBE_EXEC)
                exec_kill(a);
        a->done = NULL;
        deliver(a, false, "cancelled");
}

pid_t probe_pid(const struct probe_attempt *a)
{
        return a && a->kind == PROBE_EXEC ? a->pid : 0;
}

size_t probes_active(const struct probes *ps)
{
        return ps->n_attempts;
}

bool probe_owns_pid(const struct probes *ps, pid_t pid)
{
        return hmap_get(&ps->pids, (uintptr_t)pid) != NULL;
}

void probe_on_reaped(struct probes *ps, pid_t pid, int status)
{
        struct probe_attempt *a = hmap_get(&ps->pids, (uintptr_t)pid);

        if (!a)
                return;
        /* reaped already: its group's id is only safe to use while the group
         * still holds a process, which is just what we are after */
        (void)kill(-pid, SIGKILL);
        exec_reaped(a, status, true);
}

/* ---- log probes ------------------------------------------------------------------------------- */

struct probe_regex {
        regex_t re;
};

struct probe_regex *probe_regex_new(const char *ere, char *err, size_t errlen)
{
        struct probe_regex *re = xcalloc(1, sizeof *re);
        int r = regcomp(&re->re, ere, REG_EXTENDED | REG_NOSUB);

        if (r != 0) {
                if (errlen > 0)
                        regerror(r, &re->re, err, errlen);
                free(re);
                return NULL;
        }
        return re;
}

bool probe_regex_match(const struct probe_regex *re, const char *line, size_t len)
{
#ifdef REG_STARTEND
        /* the bounds are given: NUL bytes inside are matched like others */
        regmatch_t m[1] = { { .rm_so = 0, .rm_eo = (regoff_t)len } };

        return regexec(&re->re, line, 1, m, REG_STARTEND) == 0;
#else
        char *copy = xmalloc(len + 1);
        bool ok;

        memcpy(copy, line, len);
        copy[len] = 0;
        ok = regexec(&re->re, copy, 0, NULL, 0) == 0;
        free(copy);
        return ok;
#endif
}

struct probe_regex *probe_regex_free(struct probe_regex *re)
{
        if (re) {
                regfree(&re->re);
                free(re);
        }
        return NULL;
}

void probes_each_unreaped(const struct probes *ps, void (*fn)(pid_t pid, int pidfd, void *data), void *data)
{
        for (const struct probe_attempt *a = ps->attempts; a; a = a->next)
                if (a->kind == PROBE_EXEC && a->pid > 0 && hmap_get(&ps->pids, (uintptr_t)a->pid))
                        fn(a->pid, a->pidfd, data);
}
