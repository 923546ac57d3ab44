/* http.c - the HTTP endpoint: the listening socket (ours), libmicrohttpd
 * (MHD) in its external epoll mode for the connections, and the answers.
 * MHD's epoll descriptor is one descriptor of graced's loop and MHD_run()
 * runs when it is readable or when the timeout MHD asks for comes; MHD
 * never starts a thread and never blocks. It must not change any state of
 * the supervisor: it only reads it (sup.h, worker.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "loop.h"
#include "mhd_api.h"
#include "parse.h"
#include "sup.h"

#define ACCEPT_BUDGET 32                     /* connections accepted per wakeup */
#define ACCEPT_BACKOFF (200 * USEC_PER_MSEC) /* out of fds: pause accepting this long */
/* Memory MHD gives each connection: the head is read into it, so it holds
 * HTTP_MAX_HEAD with room to spare (a head over it reaches on_request() and
 * gets our 431; one over the pool gets MHD's own 431, or 414 when the
 * request line alone does not fit). Touched only as far as a client sends. */
#define CONN_MEMORY (32 * 1024)
#define MHD_TIMEOUT_MAX (24 * 3600 * 1000ULL) /* ms: what MHD_get_timeout() may say, bounded */

/* libmicrohttpd's functions, from the first endpoint on (open_with()) */
static const struct mhd_api *mhd;
/* why libmicrohttpd could not be loaded, for http_strerror(ELIBACC) */
static const char *mhd_why;

#define TEXT_PLAIN "text/plain; charset=utf-8"
#define OPENMETRICS "application/openmetrics-text; version=1.0.0; charset=utf-8"

struct http {
        struct loop *loop;
        char *addr;
        struct sockaddr_storage ss;
        socklen_t ss_len;
        int fd;
        struct loop_watch *listen_watch, *mhd_watch;
        struct loop_timer *mhd_timer, *accept_timer;
        struct MHD_Daemon *d;
        /* answers that never change, shared by every connection */
        struct MHD_Response *not_found, *not_allowed, *too_large, *live;
        const struct http_hooks *hooks;
        void *ctx;
};

/* ---- metrics ------------------------------------------------------------- */

void http_escape_label(struct sbuf *b, const char *s)
{
        for (const char *p = s; *p;) {
                size_t n = strcspn(p, "\\\"\n");

                sbuf_add(b, p, n);
                p += n;
                if (!*p)
                        break;
                sbuf_adds(b, *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : "\\n");
                p++;
        }
}

/* "# HELP", "# TYPE" (and "# UNIT") of a family. */
static void family(struct sbuf *b, const char *name, const char *type, const char *unit, const char *help)
{
        sbuf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
        if (unit)
                sbuf_addf(b, "# UNIT %s %s\n", name, unit);
}

static void sample(struct sbuf *b, const char *name, const char *worker, const char *value)
{
        sbuf_adds(b, name);
        sbuf_adds(b, "{worker=\"");
        http_escape_label(b, worker);
        sbuf_adds(b, "\"} ");
        sbuf_adds(b, value);
        sbuf_add(b, "\n", 1);
}

enum { F_UP, F_READY, F_RESTARTS, F_HEALTH, F_START, N_FAMILIES };

char *http_metrics_text(struct sup *s, usec_t now_mono, usec_t now_real, size_t *ret_len)
{
        struct sbuf f[N_FAMILIES] = { 0 }, out = { 0 };
        size_t n = sup_n_workers(s);
        char v[48];

        family(&out, "graced_up", "gauge", NULL, "Whether graced runs (always 1 when it answers).");
        sbuf_adds(&out, "graced_up 1\n");
        family(&out, "graced_shutting_down", "gauge", NULL, "Whether a shutdown (its drain included) is under way.");
        sbuf_addf(&out, "graced_shutting_down %d\n", sup_shutting_down(s) ? 1 : 0);
        family(&f[F_UP], "graced_worker_up", "gauge", NULL, "Whether a process of the worker is running.");
        family(&f[F_READY], "graced_worker_ready", "gauge", NULL, "Whether the worker is ready.");
        family(&f[F_RESTARTS], "graced_worker_restarts", "counter", NULL,
               "Processes started for the worker after its first one.");
        family(&f[F_HEALTH], "graced_worker_health_failures", "counter", NULL,
               "Failed health probe attempts of the worker, all its processes.");
        family(&f[F_START], "graced_worker_start_time_seconds", "gauge", "seconds",
               "When the worker's current process started, in seconds since the epoch.");
        /* the samples of a family stay together: one pass, one buffer each */
        for (size_t i = 0; i < n; i++) {
                const struct worker *w = sup_worker(s, i);
                const char *name = worker_name(w);

                if (worker_removed(w) && worker_is_quiet(w)) /* removed (a reload, a scale) and down */
                        continue;
                sample(&f[F_UP], "graced_worker_up", name, worker_alive(w) ? "1" : "0");
                sample(&f[F_READY], "graced_worker_ready", name, worker_is_ready(w) ? "1" : "0");
                snprintf(v, sizeof v, "%u", worker_restarts(w));
                sample(&f[F_RESTARTS], "graced_worker_restarts_total", name, v);
                snprintf(v, sizeof v, "%u", worker_health_failures(w));
                sample(&f[F_HEALTH], "graced_worker_health_failures_total", name, v);
                if (worker_alive(w)) {
                        /* its start on the monotonic clock, on the wall clock of now */
                        usec_t age = now_mono > worker_started_at(w) ? now_mono - worker_started_at(w) : 0;
                        usec_t t = now_real > age ? now_real - age : 0;

                        snprintf(v, sizeof v, "%llu.%03llu", (unsigned long long)(t / USEC_PER_SEC),
                                 (unsigned long long)(t % USEC_PER_SEC / USEC_PER_MSEC));
                        sample(&f[F_START], "graced_worker_start_time_seconds", name, v);
                }
        }
        for (size_t k = 0; k < N_FAMILIES; k++) {
                sbuf_add(&out, f[k].p, f[k].len);
                sbuf_free(&f[k]);
        }
        sbuf_adds(&out, "# EOF\n");
        return sbuf_steal(&out, ret_len);
}

/* ---- answers -------------------------------------------------------------------- */

static struct MHD_Response *text_response(const char *body, enum MHD_ResponseMemoryMode mode)
{
        struct MHD_Response *r = mhd->create_response_from_buffer(strlen(body), (void *)body, mode);

        if (r && (mhd->add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, TEXT_PLAIN) != MHD_YES ||
                  mhd->add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES)) {
                mhd->destroy_response(r);
                r = NULL;
        }
        return r;
}

/* Queues r (NULL: out of memory, MHD then closes the connection) and
 * drops the reference of a one-off answer. */
static enum MHD_Result queue(struct MHD_Connection *c, unsigned code, struct MHD_Response *r, bool one_off)
{
        enum MHD_Result ret;

        if (!r)
                return MHD_NO;
        ret = mhd->queue_response(c, code, r);
        if (one_off)
                mhd->destroy_response(r);
        return ret;
}

static enum MHD_Result answer_metrics(struct http *h, struct MHD_Connection *c)
{
        size_t len;
        char *body = http_metrics_text(h->hooks->sup(h->ctx), now_mono(), now_real(), &len);
        struct MHD_Response *r = mhd->create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);

        if (!r) {
                free(body);
                return MHD_NO;
        }
        if (mhd->add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, OPENMETRICS) != MHD_YES ||
            mhd->add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES) {
                mhd->destroy_response(r);
                return MHD_NO;
        }
        return queue(c, MHD_HTTP_OK, r, true);
}

static enum MHD_Result answer_ready(struct http *h, struct MHD_Connection *c)
{
        char why[128], line[sizeof why + 1];
        bool ready = sup_readiness(h->hooks->sup(h->ctx), why, sizeof why);

        if (ready)
                return queue(c, MHD_HTTP_OK, text_response("ready\n", MHD_RESPMEM_PERSISTENT), true);
        snprintf(line, sizeof line, "%s\n", why);
        return queue(c, MHD_HTTP_SERVICE_UNAVAILABLE, text_response(line, MHD_RESPMEM_MUST_COPY), true);
}

static enum MHD_Result route(struct http *h, struct MHD_Connection *c, const char *url)
{
        if (strcmp(url, "/metrics") == 0)
                return answer_metrics(h, c);
        if (strcmp(url, "/readyz") == 0)
                return answer_ready(h, c);
        if (strcmp(url, "/livez") == 0)
                return queue(c, MHD_HTTP_OK, h->live, false);
        return queue(c, MHD_HTTP_NOT_FOUND, h->not_found, false);
}

/* ---- requests ----------------------------------------------------------------------- */

/* What a request's MHD context pointer holds: before the first call of
 * on_request(), the length of its raw request-target (from on_uri(),
 * shifted left by one); after it, ACCEPTED (the answer comes once the
 * request is complete). No memory is allocated per request: MHD does not
 * tell about requests it ended before on_request() (a head over its pool). */
#define ACCEPTED ((uintptr_t)1)

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
        return (void *)(uintptr_t)((uri ? strlen(uri) : 0) << 1);
}

static enum MHD_Result count_field(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                   const char *value, size_t value_size)
{
        size_t *n = cls;

        *n += key_size + 2 + value_size + 2; /* "KEY: VALUE\r\n" */
        return MHD_YES;
}

/* The size of the head as sent, spaces MHD dropped aside. */
static size_t head_size(struct MHD_Connection *c, const char *method, const char *version, size_t target)
{
        size_t n = strlen(method) + 1 + target + 1 + strlen(version) + 2 + 2;

        (void)mhd->get_connection_values_n(c, MHD_HEADER_KIND, count_field, &n);
        return n;
}

static bool has_body(struct MHD_Connection *c)
{
        const char *len = mhd->lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

        return mhd->lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) ||
               (len && strcmp(len, "0") != 0);
}

/* MHD calls this once the head is in, then for each piece of a body, then
 * once more at the end of the request. An answer queued at the first call
 * ends the connection after it (MHD reads no body then); answers to a GET
 * or HEAD without a body wait for the last call, so the connection may
 * carry the next request. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **req)
{
        struct http *h = cls;
        uintptr_t st = (uintptr_t)*req;

        if (st != ACCEPTED) {
                bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;

                if (head_size(c, method, version, st >> 1) > HTTP_MAX_HEAD)
                        return queue(c, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE, h->too_large, false);
                if (!get)
                        return queue(c, MHD_HTTP_METHOD_NOT_ALLOWED, h->not_allowed, false);
                if (has_body(c))
                        return route(h, c, url); /* and close: its body is never read */
                *req = (void *)ACCEPTED;
                return MHD_YES;
        }
        if (*upload_data_size) { /* a body MHD reads anyway: ignored */
                *upload_data_size = 0;
                return MHD_YES;
        }
        return route(h, c, url);
}

/* MHD's own messages (a request it refused, a connection it dropped). */
_printf_(2, 0) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
        char msg[512];
        size_t n;

        if (log_get_max_level() < LOG_DEBUG)
                return;
        vsnprintf(msg, sizeof msg, fmt, ap);
        n = strlen(msg);
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
                msg[--n] = '\0';
        log_debug(NULL, "http", "http: %s", msg);
}

/* ---- the loop ---------------------------------------------------------------------- */

/* MHD wants to run again within the timeout it gives (a connection's idle
 * deadline, or 0: data already read waits), else only on activity of its
 * descriptor: no connection, no timer, nothing to do while idle. */
static void arm(struct http *h)
{
        MHD_UNSIGNED_LONG_LONG ms;

        if (mhd->get_timeout(h->d, &ms) != MHD_YES) {
                loop_timer_set(h->mhd_timer, USEC_INFINITY);
                return;
        }
        if (ms > MHD_TIMEOUT_MAX)
                ms = MHD_TIMEOUT_MAX;
        loop_timer_set(h->mhd_timer, now_mono() + (usec_t)ms * USEC_PER_MSEC);
}

static void run_mhd(struct http *h)
{
        /* reads, answers, writes and closes what is ready, without blocking */
        if (mhd->run(h->d) != MHD_YES)
                log_debug(NULL, "http", "http: MHD_run failed");
        arm(h);
}

static void on_mhd_fd(struct loop_watch *lw, int fd, uint32_t events, void *data) { run_mhd(data); }

static void on_mhd_timer(struct loop_timer *t, void *data) { run_mhd(data); }

static void on_accept_resume(struct loop_timer *t, void *data)
{
        struct http *h = data;

        (void)loop_mod_fd(h->listen_watch, EPOLLIN);
}

/* New connections are ours to accept: MHD, at its limit, would stop
 * accepting and leave them waiting in the backlog; here one beyond the
 * limit is closed at once (MHD_add_connection() closes it). */
static void on_accept(struct loop_watch *lw, int lfd, uint32_t events, void *data)
{
        struct http *h = data;
        bool added = false;

        for (int i = 0; i < ACCEPT_BUDGET; i++) {
                struct sockaddr_storage ss;
                socklen_t len = sizeof ss;
                int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);

                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                break;
                        /* out of fds or memory: the listening socket stays readable, so
                         * stop watching it for a moment instead of spinning */
                        log_warning(NULL, "http", "http: accept: %s", strerror(errno));
                        (void)loop_mod_fd(h->listen_watch, 0);
                        loop_timer_set(h->accept_timer, now_mono() + ACCEPT_BACKOFF);
                        break;
                }
                /* takes fd in every case; closes it when at the limit */
                if (mhd->add_connection(h->d, fd, (const struct sockaddr *)&ss, len) == MHD_YES)
                        added = true;
                else
                        log_debug(NULL, "http", "http: connection refused: %s",
                                  errno == ENFILE ? "too many connections" : strerror(errno));
        }
        /* a new connection has its idle deadline */
        if (added)
                arm(h);
}

/* ---- the endpoint -------------------------------------------------------------------- */

static int listen_on(const struct sockaddr_storage *ss, socklen_t len)
{
        int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), on = 1;

        if (fd < 0)
                return -errno;
        /* a restarted graced binds again at once, whatever its last connections left in TIME_WAIT */
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0 ||
            bind(fd, (const struct sockaddr *)ss, len) < 0 || listen(fd, SOMAXCONN) < 0) {
                int e = -errno;
                safe_close(fd);
                return e;
        }
        return fd;
}

static unsigned idle_timeout(void)
{
        const char *env = getenv(HTTP_IDLE_ENV);
        char *end;
        unsigned long v;

        if (!env || !env[0])
                return HTTP_IDLE_TIMEOUT_S;
        errno = 0;
        v = strtoul(env, &end, 10);
        return errno || *end || v == 0 || v > 3600 ? HTTP_IDLE_TIMEOUT_S : (unsigned)v;
}

/* http_open(), http_adopt(): fd, a listening socket already (-1: one is
 * made), is the endpoint's from then on, closed on failure. */
static struct http *open_with(struct loop *l, const char *addr, int fd, const struct http_hooks *hooks, void *ctx,
                              int *ret_err)
{
        struct http *h = xcalloc(1, sizeof *h);
        const union MHD_DaemonInfo *info;
        const char *why;
        int e = ENOMEM;

        *h = (struct http){ .loop = l, .addr = xstrdup(addr), .fd = fd, .hooks = hooks, .ctx = ctx };
        if (parse_inet_address(addr, &h->ss, &h->ss_len, &why) < 0) {
                e = EINVAL;
                goto fail;
        }
        if (!mhd && !(mhd = mhd_api_load(&mhd_why))) {
                e = ELIBACC;
                goto fail;
        }
        if (h->fd < 0)
                h->fd = listen_on(&h->ss, h->ss_len);
        if (h->fd < 0) {
                e = -h->fd;
                goto fail;
        }
        /* external polling (no MHD_USE_INTERNAL_POLLING_THREAD): MHD runs only
         * inside MHD_run(); no listening socket of its own (on_accept) */
        errno = 0;
        h->d = mhd->start_daemon(MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                                on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
                                MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CLIENTS,
                                MHD_OPTION_CONNECTION_TIMEOUT, idle_timeout(),
                                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
                                MHD_OPTION_URI_LOG_CALLBACK, on_uri, h, MHD_OPTION_END);
        if (!h->d) {
                e = errno ? errno : ENOMEM;
                goto fail;
        }
        info = mhd->get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info || info->epoll_fd < 0) {
                e = EINVAL;
                goto fail;
        }
        h->live = text_response("ok\n", MHD_RESPMEM_PERSISTENT);
        h->not_found = text_response("not found\n", MHD_RESPMEM_PERSISTENT);
        h->not_allowed = text_response("method not allowed\n", MHD_RESPMEM_PERSISTENT);
        h->too_large = text_response("request header fields too large\n", MHD_RESPMEM_PERSISTENT);
        if (!h->live || !h->not_found || !h->not_allowed || !h->too_large ||
            mhd->add_response_header(h->not_allowed, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES ||
            mhd->add_response_header(h->too_large, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES)
                goto fail;
        h->mhd_timer = loop_timer_new(l, on_mhd_timer, h);
        h->accept_timer = loop_timer_new(l, on_accept_resume, h);
        h->mhd_watch = loop_add_fd(l, info->epoll_fd, EPOLLIN, on_mhd_fd, h);
        if (!h->mhd_watch) {
                e = errno;
                goto fail;
        }
        h->listen_watch = loop_add_fd(l, h->fd, EPOLLIN, on_accept, h);
        if (!h->listen_watch) {
                e = errno;
                goto fail;
        }
        return h;
fail:
        http_close(h);
        *ret_err = e;
        return NULL;
}

const char *http_strerror(int e)
{
        return e == ELIBACC && mhd_why ? mhd_why : strerror(e);
}

struct http *http_open(struct loop *l, const char *addr, const struct http_hooks *hooks, void *ctx, int *ret_err)
{
        return open_with(l, addr, -1, hooks, ctx, ret_err);
}

struct http *http_adopt(struct loop *l, const char *addr, int fd, const struct http_hooks *hooks, void *ctx,
                        int *ret_err)
{
        return open_with(l, addr, fd, hooks, ctx, ret_err);
}

int http_listen_fd(const struct http *h) { return h->fd; }

struct http *http_close(struct http *h)
{
        if (!h)
                return NULL;
        h->listen_watch = loop_del_fd(h->listen_watch);
        h->mhd_watch = loop_del_fd(h->mhd_watch);
        loop_timer_free(h->mhd_timer);
        loop_timer_free(h->accept_timer);
        /* closes its connections (answers under way are cut) and its epoll fd */
        if (h->d)
                mhd->stop_daemon(h->d);
        if (h->live)
                mhd->destroy_response(h->live);
        if (h->not_found)
                mhd->destroy_response(h->not_found);
        if (h->not_allowed)
                mhd->destroy_response(h->not_allowed);
        if (h->too_large)
                mhd->destroy_response(h->too_large);
        safe_close(h->fd);
        free(h->addr);
        free(h);
        return NULL;
}

const char *http_address(const struct http *h) { return h ? h->addr : NULL; }

bool http_same_address(const struct http *h, const char *addr)
{
        struct sockaddr_storage ss;
        socklen_t len;
        const char *why;

        return h && parse_inet_address(addr, &ss, &len, &why) == 0 && len == h->ss_len &&
               memcmp(&ss, &h->ss, len) == 0;
}

bool http_same_port(const struct http *h, const char *addr)
{
        struct sockaddr_storage ss;
        socklen_t len;
        const char *why;

        if (!h || parse_inet_address(addr, &ss, &len, &why) < 0 || ss.ss_family != h->ss.ss_family)
                return false;
        /* sin_port and sin6_port are at the same place */
        return ((const struct sockaddr_in *)&ss)->sin_port == ((const struct sockaddr_in *)&h->ss)->sin_port;
}
