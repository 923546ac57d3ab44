/* control.c - the control socket: accepting clients, checking their
 * credentials, reading one JSON request per line, answering one JSON line.
 * It never blocks and never trusts a client: every read is bounded, every
 * write is non-blocking and buffered, a silent client is dropped. Every
 * string it sends that holds outside bytes is made by json_text_new*(), so
 * each answer is valid UTF-8. Policy stays in sup.c; this file only asks
 * it and reports what it says. A `logs` client reads records through a
 * cursor of logbuf.c: they are formatted only while its queue has room, so
 * a client that does not read costs neither memory nor time. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "control.h"
#include "log.h"
#include "logbuf.h"
#include "loop.h"
#include "parse.h"
#include "state.h"
#include "sup.h"

#define ACCEPT_BUDGET 32                    /* connections accepted per wakeup */
#define OUT_HIGH (64 * 1024)                /* stop reading requests above this much unsent output */
#define ACCEPT_BACKOFF (200 * USEC_PER_MSEC) /* out of fds: pause accepting this long */
#define JSON_MAX_DEPTH 8

struct client {
        struct control *ctl;
        struct client *prev, *next;
        int fd;
        uid_t uid;
        pid_t pid;
        struct loop_watch *watch;
        struct loop_timer *timer;

        char in[CONTROL_MAX_REQUEST + 1]; /* a line and its newline */
        size_t n_in;
        bool eof;     /* the client shut down its side for writing */
        bool closing; /* close once the output is written */
        bool dead;    /* close now */

        char *out;
        size_t n_out, out_off, cap_out;

        /* the operation whose answer is due once it is done (reexec: the
         * graced that serves after the exec answers it) */
        bool pending, reexec;
        enum sup_op op;
        char name[NAME_MAX_LEN + 1];
        /* it is a scale of group name from scale_from to scale_to instances */
        bool scaling;
        unsigned scale_from, scale_to;

        /* a `logs` request: the records still to send (the connection is
         * its own from then on); dirty: records were queued, to be sent
         * from control_tick() */
        struct logcursor *cursor;
        bool dirty;
};

struct control {
        struct loop *loop;
        char *path;
        int fd;
        dev_t dev;
        ino_t ino;
        uid_t euid;
        usec_t idle;
        struct loop_watch *watch;
        struct loop_timer *accept_timer;
        const struct control_hooks *hooks;
        void *ctx;
        struct client *clients;
        size_t n_clients;
        size_t n_pending;
        size_t n_dirty;
};

/* ---- the socket ----------------------------------------------------------- */

const char *control_path(const struct control *c) { return c ? c->path : NULL; }

/* mkdir -p of path's parent; directories created here get mode 0755. */
static int make_parent(const char *path)
{
        char *dir = xstrdup(path);
        char *slash = strrchr(dir, '/');
        int r = 0;

        if (!slash || slash == dir) {
                free(dir);
                return 0;
        }
        *slash = 0;
        for (char *p = dir + 1;; p++) {
                bool last = *p == 0;

                if (*p != '/' && !last)
                        continue;
                *p = 0;
                if (mkdir(dir, 0755) == 0) {
                        (void)chmod(dir, 0755); /* whatever the umask */
                } else if (errno != EEXIST) {
                        r = -errno;
                        break;
                }
                if (last)
                        break;
                *p = '/';
        }
        free(dir);
        return r;
}

/* Whether a graced answers at addr: 1 yes, 0 no (stale), -errno unknown. */
static int probe_live(const struct sockaddr_un *addr)
{
        /* non-blocking: a full backlog gives EAGAIN instead of a wait */
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), r;

        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) == 0)
                r = 1;
        else if (errno == ECONNREFUSED)
                r = 0;
        else if (errno == EAGAIN) /* its backlog is full: it is alive */
                r = 1;
        else
                r = -errno;
        safe_close(fd);
        return r;
}

static int bind_socket(int fd, const struct sockaddr_un *addr)
{
        /* the socket file takes its mode from the umask at bind() */
        mode_t old = umask(0177);
        int r = bind(fd, (const struct sockaddr *)addr, sizeof *addr);
        int e = errno;

        umask(old);
        return r < 0 ? -e : 0;
}

static void on_accept(struct loop_watch *lw, int fd, uint32_t events, void *data);
static void on_accept_resume(struct loop_timer *t, void *data);

/* The listening socket fd (bound at path, whose file is dev/ino) watched
 * by l; NULL with errno when it cannot be watched (fd is not closed). */
static struct control *control_new(struct loop *l, const char *path, int fd, dev_t dev, ino_t ino,
                                   const struct control_hooks *hooks, void *ctx)
{
        struct control *c = xcalloc(1, sizeof *c);
        const char *env = getenv(CONTROL_IDLE_ENV);

        *c = (struct control){ .loop = l, .path = xstrdup(path), .fd = fd, .dev = dev, .ino = ino,
                               .euid = geteuid(), .hooks = hooks, .ctx = ctx,
                               .idle = CONTROL_IDLE_TIMEOUT_MS * USEC_PER_MSEC };
        if (env && env[0]) {
                char *end;
                unsigned long long ms = strtoull(env, &end, 10);
                if (*end == 0 && ms >= 1 && ms <= 3600 * 1000ULL)
                        c->idle = ms * USEC_PER_MSEC;
        }
        c->watch = loop_add_fd(l, fd, EPOLLIN, on_accept, c);
        if (!c->watch) {
                int e = errno;

                free(c->path);
                free(c);
                errno = e;
                return NULL;
        }
        c->accept_timer = loop_timer_new(l, on_accept_resume, c);
        return c;
}

struct control *control_open(struct loop *l, const char *path, const struct control_hooks *hooks, void *ctx,
                             int *ret_err)
{
        struct sockaddr_un addr = { .sun_family = AF_UNIX };
        struct control *c;
        struct stat st;
        int fd = -1, r;

        if (strlen(path) >= sizeof addr.sun_path) {
                *ret_err = ENAMETOOLONG;
                return NULL;
        }
        memcpy(addr.sun_path, path, strlen(path) + 1);

        r = make_parent(path);
        if (r < 0)
                goto fail;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
                r = -errno;
                goto fail;
        }
        r = bind_socket(fd, &addr);
        if (r == -EADDRINUSE) {
                if (lstat(path, &st) < 0) {
                        r = -errno;
                        goto fail;
                }
                if (!S_ISSOCK(st.st_mode)) {
                        r = -EEXIST; /* never remove something that is not a socket */
                        goto fail;
                }
                r = probe_live(&addr);
                if (r == 1)
                        r = -EADDRINUSE;
                if (r < 0)
                        goto fail;
                /* stale: a graced that died without removing it */
                if (unlink(path) < 0 && errno != ENOENT) {
                        r = -errno;
                        goto fail;
                }
                r = bind_socket(fd, &addr);
        }
        if (r < 0)
                goto fail;
        if (chmod(path, 0600) < 0 || stat(path, &st) < 0 || listen(fd, SOMAXCONN) < 0) {
                r = -errno;
                (void)unlink(path);
                goto fail;
        }

        c = control_new(l, path, fd, st.st_dev, st.st_ino, hooks, ctx);
        if (!c) {
                r = -errno;
                (void)unlink(path);
                goto fail;
        }
        return c;
fail:
        safe_close(fd);
        *ret_err = -r;
        return NULL;
}

/* ---- clients: output -------------------------------------------------------- */

static size_t out_left(const struct client *cl) { return cl->n_out - cl->out_off; }

static void touch(struct client *cl)
{
        /* an operation under way is bounded by the supervisor; a `logs`
         * reader may wait for records as long as it likes */
        if (!cl->pending && !cl->cursor)
                loop_timer_set(cl->timer, now_mono() + cl->ctl->idle);
}

/* Write what can be written now. */
static void flush_out(struct client *cl)
{
        bool progress = false;

        while (out_left(cl) > 0 && !cl->dead) {
                ssize_t n = send(cl->fd, cl->out + cl->out_off, out_left(cl), MSG_DONTWAIT | MSG_NOSIGNAL);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN && errno != EWOULDBLOCK) {
                                log_debug(NULL, "control", "control: client uid %u pid %d: %s", (unsigned)cl->uid,
                                          (int)cl->pid, strerror(errno));
                                cl->dead = true;
                        }
                        break;
                }
                cl->out_off += (size_t)n;
                progress = true;
        }
        if (out_left(cl) == 0)
                cl->n_out = cl->out_off = 0;
        if (progress)
                touch(cl);
}

/* Queue one line (takes o). */
static void queue_line(struct client *cl, struct json_object *o)
{
        size_t len;
        const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
                                                          &len);

        if (cl->n_out + len + 1 > cl->cap_out) {
                /* compact before growing */
                if (cl->out_off > 0) {
                        memmove(cl->out, cl->out + cl->out_off, out_left(cl));
                        cl->n_out -= cl->out_off;
                        cl->out_off = 0;
                }
                if (cl->n_out + len + 1 > cl->cap_out) {
                        cl->cap_out = cl->n_out + len + 1 + 256;
                        cl->out = xrealloc(cl->out, cl->cap_out);
                }
        }
        memcpy(cl->out + cl->n_out, s, len);
        cl->out[cl->n_out + len] = '\n';
        cl->n_out += len + 1;
        json_object_put(o);
}

/* Queue one response line (takes o) and try to send it at once. */
static void respond(struct client *cl, struct json_object *o)
{
        queue_line(cl, o);
        flush_out(cl);
}

static struct json_object *ok_obj(void)
{
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "ok", json_object_new_boolean(true));
        return o;
}

static struct json_object *err_obj(const char *msg)
{
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "ok", json_object_new_boolean(false));
        json_object_object_add(o, "error", json_text_new(msg));
        return o;
}

_printf_(2, 3) static void respond_error(struct client *cl, const char *fmt, ...)
{
        va_list ap;
        char *msg;

        va_start(ap, fmt);
        msg = xvasprintf(fmt, ap);
        va_end(ap);
        respond(cl, err_obj(msg));
        free(msg);
}

/* ---- clients: lifetime ------------------------------------------------------- */

/* Closing a unix socket with unread input makes the peer's next read fail
 * with ECONNRESET, possibly before it reads our last answer: discard what
 * is queued (bounded) first. */
static int close_gently(int fd)
{
        char buf[4096];

        for (int i = 0; i < 16 && recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0; i++)
                ;
        return safe_close(fd);
}

static void client_free(struct client *cl)
{
        struct control *c = cl->ctl;

        if (cl->prev)
                cl->prev->next = cl->next;
        else
                c->clients = cl->next;
        if (cl->next)
                cl->next->prev = cl->prev;
        c->n_clients--;
        if (cl->pending)
                c->n_pending--;
        if (cl->dirty)
                c->n_dirty--;
        logbuf_cursor_free(cl->cursor);
        loop_del_fd(cl->watch);
        loop_timer_free(cl->timer);
        close_gently(cl->fd);
        free(cl->out);
        free(cl);
}

static void process_input(struct client *cl);

/* After every event: close the client or watch what it needs next. */
static void client_update(struct client *cl)
{
        uint32_t want = 0;

        /* a `logs` follower that shut down its side for writing still reads */
        if (!cl->dead && (cl->closing || cl->eof) && !cl->pending && !cl->cursor && out_left(cl) == 0)
                cl->dead = true;
        if (cl->dead) {
                log_debug(NULL, "control", "control: client uid %u pid %d disconnected", (unsigned)cl->uid,
                          (int)cl->pid);
                client_free(cl);
                return;
        }
        if (!cl->eof && !cl->closing && cl->n_in < sizeof cl->in)
                want |= EPOLLIN;
        if (out_left(cl) > 0)
                want |= EPOLLOUT;
        if (loop_mod_fd(cl->watch, want) < 0) {
                cl->dead = true;
                client_free(cl);
        }
}

/* ---- requests ----------------------------------------------------------------- */

static struct sup *cur_sup(struct control *c) { return c->hooks->sup(c->ctx); }

static struct json_object *worker_obj(const struct worker *w, usec_t now)
{
        struct json_object *o = json_object_new_object();
        bool alive = worker_alive(w);
        usec_t started = worker_started_at(w);
        const char *st = worker_status_text(w);
        char b[64];

        json_object_object_add(o, "name", json_object_new_string(worker_name(w)));
        json_object_object_add(o, "state", json_object_new_string(worker_state_name(worker_state(w))));
        json_object_object_add(o, "health", json_object_new_string(worker_health(w, b, sizeof b)));
        json_object_object_add(o, "pid", alive ? json_object_new_int(worker_pid(w)) : NULL);
        if (alive && now >= started) {
                usec_t up = (now - started) / USEC_PER_MSEC;
                snprintf(b, sizeof b, "%llu.%03llu", (unsigned long long)(up / 1000), (unsigned long long)(up % 1000));
                json_object_object_add(o, "uptime_s", json_object_new_double_s((double)up / 1000.0, b));
        } else {
                json_object_object_add(o, "uptime_s", NULL);
        }
        json_object_object_add(o, "restarts", json_object_new_int((int)worker_restarts(w)));
        json_object_object_add(o, "last_exit", worker_last_exit(w, b, sizeof b) ? json_object_new_string(b) : NULL);
        json_object_object_add(o, "status", st ? json_text_new_len(st, strlen(st), CONTROL_MAX_STATUS) : NULL);
        return o;
}

static void do_status(struct client *cl)
{
        struct sup *s = cur_sup(cl->ctl);
        struct json_object *o = ok_obj(), *a = json_object_new_array();
        usec_t now = now_mono();

        json_object_object_add(o, "supervisor", json_text_new(sup_name(s)));
        json_object_object_add(o, "state", json_object_new_string(sup_shutting_down(s) ? "shutting-down" : "running"));
        for (size_t i = 0; i < sup_n_workers(s); i++)
                if (sup_listed(s, sup_worker(s, i))) /* not one a reload removed (still stopping) */
                        json_object_array_add(a, worker_obj(sup_worker(s, i), now));
        json_object_object_add(o, "workers", a);
        respond(cl, o);
}

static const char *op_verb(enum sup_op op)
{
        return op == SUP_OP_START ? "start" : op == SUP_OP_STOP ? "stop" : "restart";
}

/* The answer to cl's request is due once its operation on name is done
 * (control_tick()). */
static void set_pending(struct client *cl, const char *name)
{
        cl->pending = true;
        snprintf(cl->name, sizeof cl->name, "%s", name);
        cl->ctl->n_pending++;
        loop_timer_set(cl->timer, USEC_INFINITY); /* bounded by the supervisor, not by us */
}

static void do_worker_op(struct client *cl, enum sup_op op, const char *name)
{
        struct sup *s = cur_sup(cl->ctl);
        int r;

        if (!sup_find(s, name) && !sup_group(s, name)) {
                respond_error(cl, "no such worker: %s", name);
                return;
        }
        if (sup_shutting_down(s)) {
                respond_error(cl, "shutting down");
                return;
        }
        log_info(NULL, "control", "control: %s %s requested by uid %u", op_verb(op), name, (unsigned)cl->uid);
        r = op == SUP_OP_START ? sup_start_worker(s, name)
            : op == SUP_OP_STOP ? sup_stop_worker(s, name)
                                : sup_restart_worker(s, name);
        if (r == -ENOENT) {
                respond_error(cl, "no such worker: %s", name);
                return;
        }
        if (r == -EBUSY) {
                respond_error(cl, "shutting down");
                return;
        }
        if (r < 0) {
                respond_error(cl, "%s %s: %s", op_verb(op), name, strerror(-r));
                return;
        }
        cl->op = op;
        cl->scaling = false;
        set_pending(cl, name);
}

/* gracectl scale: answered once the new instances are ready and the
 * removed ones down. */
static void do_scale(struct client *cl, const char *name, unsigned n)
{
        struct sup *s = cur_sup(cl->ctl);
        unsigned from = 0;
        char *err = NULL;
        int r;

        log_info(NULL, "control", "control: scale %s %u requested by uid %u", name, n, (unsigned)cl->uid);
        r = sup_scale(s, name, n, &from, &err);
        if (r < 0) {
                respond_error(cl, "%s", err);
                free(err);
                return;
        }
        log_set_name_width(sup_label_width(s));
        cl->scaling = true;
        cl->scale_from = from;
        cl->scale_to = n;
        set_pending(cl, name);
}

static void do_reload(struct client *cl)
{
        struct control *c = cl->ctl;
        char *errors = NULL;
        int r;

        if (sup_shutting_down(cur_sup(c))) {
                respond_error(cl, "shutting down");
                return;
        }
        log_info(NULL, "control", "control: reload requested by uid %u", (unsigned)cl->uid);
        r = c->hooks->reload(c->ctx, &errors);
        if (r >= 0) {
                respond(cl, ok_obj());
        } else {
                struct json_object *o = err_obj(r == -EINVAL ? "invalid configuration" : strerror(-r));
                struct json_object *a = json_object_new_array();

                /* one FILE:LINE message per line */
                for (char *p = errors; p && *p;) {
                        size_t n = strcspn(p, "\n");

                        if (n > 0)
                                json_object_array_add(a, json_text_new_len(p, n, SIZE_MAX));
                        p += n + (p[n] == '\n');
                }
                json_object_object_add(o, "errors", a);
                respond(cl, o);
        }
        free(errors);
}

/* Answered once the new graced serves (control_reexec_done()). */
static void do_reexec(struct client *cl)
{
        struct control *c = cl->ctl;
        const char *why = NULL;

        if (sup_shutting_down(cur_sup(c))) {
                respond_error(cl, "shutting down");
                return;
        }
        log_info(NULL, "control", "control: reexec requested by uid %u", (unsigned)cl->uid);
        if (!c->hooks->reexec || c->hooks->reexec(c->ctx, &why) < 0) {
                respond_error(cl, "%s", why ? why : "cannot re-execute now");
                return;
        }
        cl->pending = cl->reexec = true;
        c->n_pending++;
        loop_timer_set(cl->timer, USEC_INFINITY);
}

static void do_shutdown(struct client *cl, bool force)
{
        struct control *c = cl->ctl;

        log_info(NULL, "control", "control: shutdown%s requested by uid %u", force ? " --force" : "",
                 (unsigned)cl->uid);
        c->hooks->shutdown(c->ctx, force);
        respond(cl, ok_obj());
}

/* Text from a client, safe for a log line: truncated, no control characters. */
static const char *printable(const char *s, char *buf, size_t size)
{
        size_t i;

        for (i = 0; s[i] && i + 1 < size; i++)
                buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
        buf[i] = 0;
        return buf;
}

/* Whether a string of the JSON text s (which json-c parsed) holds an
 * escaped NUL. json-c keeps it in a value, but C strings end there (a key
 * is even cut at it), so "status\u0000x" would pass for "status". The scan
 * follows json-c's lexical syntax: strings in double or single quotes,
 * comments; nothing else can hold a backslash or a quote. */
static bool has_escaped_nul(const char *s, size_t len)
{
        for (size_t i = 0; i < len; i++) {
                if (s[i] == '"' || s[i] == '\'') {
                        char q = s[i];

                        for (i++; i < len && s[i] != q; i++) {
                                if (s[i] != '\\')
                                        continue;
                                if (len - i >= 6 && memcmp(s + i + 1, "u0000", 5) == 0)
                                        return true;
                                i++; /* the escaped character */
                        }
                } else if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
                        const char *end = memmem(s + i + 2, len - i - 2, "*/", 2);

                        i = end ? (size_t)(end - s) + 1 : len;
                } else if (s[i] == '/' && i + 1 < len && s[i + 1] == '/') {
                        break; /* a comment to the end of the line */
                }
        }
        return false;
}

/* Parses a request line as one JSON value that takes the whole line: NULL
 * and the value in *ret (NULL too for a JSON null), or why it is not one. */
static const char *parse_json(const char *line, size_t len, struct json_object **ret)
{
        struct json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH);
        struct json_object *v = json_tokener_parse_ex(tok, line, (int)len);
        enum json_tokener_error e = json_tokener_get_error(tok);
        const char *why = NULL;

        if (e == json_tokener_continue) {
                /* the line is all there is: a NUL ends a bare number */
                v = json_tokener_parse_ex(tok, "", 1);
                e = json_tokener_get_error(tok);
                why = e == json_tokener_success ? NULL
                      : e == json_tokener_continue ? "unexpected end of input"
                                                   : json_tokener_error_desc(e);
        } else if (e != json_tokener_success) {
                why = json_tokener_error_desc(e);
        } else if (json_tokener_get_parse_end(tok) != len) {
                why = "trailing characters";
        }
        json_tokener_free(tok);
        if (why) {
                json_object_put(v);
                v = NULL;
        }
        *ret = v;
        return why;
}

/* ---- requests: a line into a struct control_request (no I/O) ---- */

_printf_(2, 3) static int request_error(char **error, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        *error = xvasprintf(fmt, ap);
        va_end(ap);
        return -EINVAL;
}

/* {"cmd": CMD, "name": NAME}: start, stop, restart and scale. */
static int request_name(struct json_object *o, const char *cmd, struct control_request *req, char **error)
{
        struct json_object *v;

        if (!json_object_object_get_ex(o, "name", &v) || !json_object_is_type(v, json_type_string))
                return request_error(error, "%s: missing \"name\"", cmd);
        req->name = json_object_get_string(v);
        if (!name_is_valid(req->name))
                return request_error(error, "invalid worker name");
        return 1;
}

/* {"cmd": "scale", "name": NAME, "count": N}. */
static int request_scale(struct json_object *o, struct control_request *req, char **error)
{
        struct json_object *v;
        int64_t n;
        int r = request_name(o, "scale", req, error);

        if (r < 0)
                return r;
        if (!json_object_object_get_ex(o, "count", &v) || !json_object_is_type(v, json_type_int))
                return request_error(error, "scale: missing \"count\" (an integer)");
        n = json_object_get_int64(v);
        if (n < 1 || n > CONF_MAX_INSTANCES)
                return request_error(error, "scale: \"count\" must be 1 to %d", CONF_MAX_INSTANCES);
        req->count = (unsigned)n;
        return 1;
}

/* {"cmd": "shutdown", "force": BOOL}, force optional. */
static int request_shutdown(struct json_object *o, struct control_request *req, char **error)
{
        struct json_object *v;

        if (json_object_object_get_ex(o, "force", &v) && v) {
                if (!json_object_is_type(v, json_type_boolean))
                        return request_error(error, "shutdown: \"force\" must be true or false");
                req->force = json_object_get_boolean(v);
        }
        return 1;
}

/* {"cmd": "logs", "names": [NAME...], "lines": N, "follow": BOOL}, all optional. */
static int request_logs(struct json_object *o, struct control_request *req, char **error)
{
        struct json_object *names = NULL, *v;

        if (json_object_object_get_ex(o, "names", &names) && names) {
                size_t n;

                if (!json_object_is_type(names, json_type_array))
                        return request_error(error, "logs: \"names\" must be a list of worker names");
                n = json_object_array_length(names);
                req->names = xcalloc(n ? n : 1, sizeof *req->names);
                for (size_t i = 0; i < n; i++) {
                        struct json_object *e = json_object_array_get_idx(names, i);
                        const char *name = json_object_get_string(e);

                        if (!json_object_is_type(e, json_type_string) || !name_is_valid(name))
                                return request_error(error, "invalid worker name");
                        req->names[req->n_names++] = name;
                }
        }
        if (json_object_object_get_ex(o, "lines", &v) && v) {
                int64_t k = json_object_get_int64(v);

                if (!json_object_is_type(v, json_type_int) || k < 0)
                        return request_error(error, "logs: \"lines\" must be a number >= 0");
                req->lines = (size_t)k;
        }
        if (json_object_object_get_ex(o, "follow", &v) && v) {
                if (!json_object_is_type(v, json_type_boolean))
                        return request_error(error, "logs: \"follow\" must be true or false");
                req->follow = json_object_get_boolean(v);
        }
        return 1;
}

static const char *const cmd_names[] = {
        [CONTROL_CMD_START] = "start",   [CONTROL_CMD_STOP] = "stop",         [CONTROL_CMD_RESTART] = "restart",
        [CONTROL_CMD_STATUS] = "status", [CONTROL_CMD_RELOAD] = "reload",     [CONTROL_CMD_SHUTDOWN] = "shutdown",
        [CONTROL_CMD_SCALE] = "scale",   [CONTROL_CMD_LOGS] = "logs",         [CONTROL_CMD_REOPEN] = "reopen",
        [CONTROL_CMD_REEXEC] = "reexec",
};

/* A request object: its "cmd" says what the rest must be. */
static int request_members(struct json_object *o, struct control_request *req, char **error)
{
        struct json_object *v;
        const char *cmd;
        size_t i;

        if (!json_object_object_get_ex(o, "cmd", &v) || !json_object_is_type(v, json_type_string))
                return request_error(error, "missing \"cmd\"");
        cmd = json_object_get_string(v);
        for (i = 0; i < ELEMENTSOF(cmd_names) && strcmp(cmd, cmd_names[i]) != 0; i++)
                ;
        if (i == ELEMENTSOF(cmd_names)) {
                /* at most 64 bytes of it, cut between characters */
                char *quoted = utf8_sanitize(cmd, strlen(cmd), 64, NULL);
                int r = request_error(error, "unknown command: %s", quoted);

                free(quoted);
                return r;
        }
        req->cmd = (enum control_cmd)i;
        switch (req->cmd) {
        case CONTROL_CMD_START:
        case CONTROL_CMD_STOP:
        case CONTROL_CMD_RESTART:
                return request_name(o, cmd, req, error);
        case CONTROL_CMD_SCALE:
                return request_scale(o, req, error);
        case CONTROL_CMD_SHUTDOWN:
                return request_shutdown(o, req, error);
        case CONTROL_CMD_LOGS:
                return request_logs(o, req, error);
        default:
                return 1;
        }
}

int control_request_parse(const char *line, size_t len, struct control_request *req, char **error)
{
        struct json_object *o;
        const char *why;
        size_t i;
        int r;

        *req = (struct control_request){ .lines = CONTROL_LOGS_LINES };
        *error = NULL;
        while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
                len--;
        for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
                ;
        if (i == len)
                return 0; /* a blank line is no request */
        if (memchr(line, 0, len))
                return request_error(error, "bad JSON: NUL byte in request");
        why = parse_json(line, len, &o);
        if (why)
                return request_error(error, "bad JSON: %s", why);
        if (has_escaped_nul(line, len))
                r = request_error(error, "request strings must not contain NUL");
        else if (!json_object_is_type(o, json_type_object))
                r = request_error(error, "request must be a JSON object");
        else
                r = request_members(o, req, error);
        req->json = o;
        if (r < 0)
                control_request_done(req);
        return r;
}

void control_request_done(struct control_request *req)
{
        free(req->names);
        json_object_put(req->json);
        *req = (struct control_request){ .lines = CONTROL_LOGS_LINES };
}

/* ---- logs ------------------------------------------------------------------------ */

/* One record as the JSON log format has it: ts, level, worker, event,
 * stream (captured lines), msg. */
static struct json_object *record_obj(const struct logrec_view *v)
{
        struct json_object *o = json_object_new_object();
        char ts[40];

        json_object_object_add(o, "ts", json_object_new_string(format_iso8601(v->ts, ts, sizeof ts)));
        json_object_object_add(o, "level", json_object_new_string(log_level_name(v->level)));
        json_object_object_add(o, "worker", json_text_new(v->worker));
        json_object_object_add(o, "event", json_text_new(v->event));
        if (v->stream)
                json_object_object_add(o, "stream", json_object_new_string(v->stream));
        json_object_object_add(o, "msg", json_text_new_len(v->msg, v->len, SIZE_MAX));
        return o;
}

static void mark_dirty(struct client *cl)
{
        if (!cl->dirty && out_left(cl) > 0) {
                cl->dirty = true;
                cl->ctl->n_dirty++;
        }
}

/* Formats what cl's cursor has for it while its queue has room; whether
 * anything was queued. */
static bool logs_pump(struct client *cl)
{
        struct logrec_view v;
        struct json_object *o;
        uint64_t skipped;
        bool queued = false;

        while (cl->cursor && !cl->dead && out_left(cl) < CONTROL_LOGS_QUEUE) {
                switch (logbuf_cursor_next(cl->cursor, &v, &skipped)) {
                case LOGCURSOR_RECORD:
                        queue_line(cl, record_obj(&v));
                        queued = true;
                        break;
                case LOGCURSOR_SKIPPED:
                        o = json_object_new_object();
                        skipped = MIN(skipped, (uint64_t)INT64_MAX);
                        json_object_object_add(o, "skipped", json_object_new_int64((int64_t)skipped));
                        queue_line(cl, o);
                        queued = true;
                        break;
                case LOGCURSOR_END:
                        o = json_object_new_object();
                        json_object_object_add(o, "end", json_object_new_boolean(true));
                        queue_line(cl, o);
                        cl->cursor = logbuf_cursor_free(cl->cursor);
                        cl->closing = true;
                        touch(cl); /* a reader that stops reading is dropped in time */
                        return true;
                case LOGCURSOR_NONE:
                        return queued;
                }
        }
        return queued;
}

/* Sends records while the socket takes them. What it does not take stays
 * queued, and EPOLLOUT brings the rest (a bounded amount per call, so one
 * fast reader of a long backlog does not hold up the loop). */
static void logs_drive(struct client *cl)
{
        flush_out(cl);
        for (int i = 0; i < 16 && out_left(cl) == 0; i++) {
                if (!logs_pump(cl))
                        return;
                flush_out(cl);
        }
        (void)logs_pump(cl);
}

/* New records for a follower that had read everything: queued now (from
 * inside logbuf_add(), so a record kept nowhere is not lost for it), sent
 * from control_tick() with the rest of the loop iteration's, or at once
 * when its queue is full (the socket's buffer holds more). */
static void on_logs_wake(struct logcursor *cur, void *data)
{
        struct client *cl = data;

        (void)logs_pump(cl);
        if (out_left(cl) >= CONTROL_LOGS_QUEUE) {
                flush_out(cl);
                (void)logs_pump(cl);
        }
        mark_dirty(cl);
}

/* A logs request: its names must be workers (or groups) known. */
static void do_logs(struct client *cl, const struct control_request *req)
{
        struct control *c = cl->ctl;
        struct logbuf *b = c->hooks->logbuf ? c->hooks->logbuf(c->ctx) : NULL;
        const char **list = NULL, **groups = NULL;
        size_t n = req->n_names, n_list = 0, n_groups = 0;

        if (!b) {
                respond_error(cl, "logs: not available");
                return;
        }
        list = xcalloc(n ? n : 1, sizeof *list);
        groups = xcalloc(n ? n : 1, sizeof *groups);
        for (size_t i = 0; i < n; i++) {
                const char *name = req->names[i];

                /* a worker with instances: every instance's, also those a scale adds */
                if (sup_group(cur_sup(c), name))
                        groups[n_groups++] = name;
                /* a worker removed by a reload keeps its records until it is forgotten */
                else if (sup_find(cur_sup(c), name) || logbuf_find(b, name))
                        list[n_list++] = name;
                else {
                        respond_error(cl, "no such worker: %s", name);
                        goto fail;
                }
        }
        log_debug(NULL, "control", "control: logs%s requested by uid %u", req->follow ? " -f" : "",
                  (unsigned)cl->uid);
        queue_line(cl, ok_obj());
        cl->cursor = logbuf_cursor_new(b, (char *const *)list, n_list, (char *const *)groups, n_groups, req->lines,
                                       req->follow, on_logs_wake, cl);
        loop_timer_set(cl->timer, USEC_INFINITY);
        logs_drive(cl);
fail:
        free(list);
        free(groups);
}

/* {"cmd": "reopen"}: no state changes, so a shutdown does not refuse it. */
static void do_reopen(struct client *cl)
{
        struct control *c = cl->ctl;
        char *errors = NULL;
        unsigned files = 0;
        int r;

        if (!c->hooks->reopen) {
                respond_error(cl, "reopen: not available");
                return;
        }
        log_info(NULL, "control", "control: reopen requested by uid %u", (unsigned)cl->uid);
        r = c->hooks->reopen(c->ctx, &files, &errors);
        if (r >= 0) {
                struct json_object *o = ok_obj();

                json_object_object_add(o, "files", json_object_new_int((int)files));
                respond(cl, o);
        } else {
                struct json_object *o = err_obj("cannot reopen every file");
                struct json_object *a = json_object_new_array();

                for (char *p = errors; p && *p;) {
                        size_t k = strcspn(p, "\n");

                        if (k > 0)
                                json_object_array_add(a, json_text_new_len(p, k, SIZE_MAX));
                        p += k + (p[k] == '\n');
                }
                json_object_object_add(o, "errors", a);
                respond(cl, o);
        }
        free(errors);
}

/* One request line (without its newline). */
static void handle_line(struct client *cl, const char *line, size_t len)
{
        struct control_request req;
        char *error, shown[160];
        int r = control_request_parse(line, len, &req, &error);

        if (r < 0) {
                log_debug(NULL, "control", "control: uid %u: %s", (unsigned)cl->uid,
                          printable(error, shown, sizeof shown));
                respond_error(cl, "%s", error);
                free(error);
                return;
        }
        if (r == 0)
                return;
        switch (req.cmd) {
        case CONTROL_CMD_START:
                do_worker_op(cl, SUP_OP_START, req.name);
                break;
        case CONTROL_CMD_STOP:
                do_worker_op(cl, SUP_OP_STOP, req.name);
                break;
        case CONTROL_CMD_RESTART:
                do_worker_op(cl, SUP_OP_RESTART, req.name);
                break;
        case CONTROL_CMD_STATUS:
                do_status(cl);
                break;
        case CONTROL_CMD_RELOAD:
                do_reload(cl);
                break;
        case CONTROL_CMD_SHUTDOWN:
                do_shutdown(cl, req.force);
                break;
        case CONTROL_CMD_SCALE:
                do_scale(cl, req.name, req.count);
                break;
        case CONTROL_CMD_LOGS:
                do_logs(cl, &req);
                break;
        case CONTROL_CMD_REOPEN:
                do_reopen(cl);
                break;
        case CONTROL_CMD_REEXEC:
                do_reexec(cl);
                break;
        }
        control_request_done(&req);
}

/* Handle the complete lines read so far, one at a time: a request whose
 * answer is pending, or unsent output, holds the next ones back. */
static void process_input(struct client *cl)
{
        size_t start = 0;

        while (!cl->dead && !cl->closing && !cl->pending && !cl->cursor && out_left(cl) < OUT_HIGH) {
                char *nl = memchr(cl->in + start, '\n', cl->n_in - start);
                size_t len;

                if (!nl) {
                        if (cl->n_in - start >= sizeof cl->in) {
                                log_debug(NULL, "control", "control: uid %u: request too large", (unsigned)cl->uid);
                                respond_error(cl, "request too large (limit %d bytes)", CONTROL_MAX_REQUEST);
                                cl->closing = true;
                        } else if (cl->eof && cl->n_in > start) {
                                /* the last request may go without its newline */
                                handle_line(cl, cl->in + start, cl->n_in - start);
                                start = cl->n_in;
                        }
                        break;
                }
                len = (size_t)(nl - (cl->in + start));
                handle_line(cl, cl->in + start, len);
                start += len + 1;
        }
        if (start > 0) {
                memmove(cl->in, cl->in + start, cl->n_in - start);
                cl->n_in -= start;
        }
}

/* One read (fairness: one per wakeup and client), then the lines. */
static void read_input(struct client *cl)
{
        ssize_t n;

        if (cl->eof || cl->n_in >= sizeof cl->in)
                return;
        n = recv(cl->fd, cl->in + cl->n_in, sizeof cl->in - cl->n_in, MSG_DONTWAIT);
        if (n < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                        log_debug(NULL, "control", "control: client uid %u: %s", (unsigned)cl->uid, strerror(errno));
                        cl->dead = true;
                }
                return;
        }
        if (n == 0)
                cl->eof = true;
        else
                cl->n_in += (size_t)n;
        touch(cl);
        process_input(cl);
}

static void on_client(struct loop_watch *lw, int fd, uint32_t events, void *data)
{
        struct client *cl = data;

        if (events & EPOLLERR) {
                cl->dead = true;
        } else {
                if (events & EPOLLOUT) {
                        if (cl->cursor) /* room again: the records that waited */
                                logs_drive(cl);
                        else
                                flush_out(cl);
                        process_input(cl); /* requests held back by unsent output */
                }
                if (events & (EPOLLIN | EPOLLHUP))
                        read_input(cl);
                /* gone for good (not just half-closed): nobody to answer;
                 * requests read so far were carried out */
                if ((events & EPOLLHUP) && (cl->eof || cl->pending || cl->cursor || cl->n_in >= sizeof cl->in))
                        cl->dead = true;
        }
        client_update(cl);
}

static void on_idle(struct loop_timer *t, void *data)
{
        struct client *cl = data;

        if (cl->n_in > 0) {
                log_debug(NULL, "control", "control: client uid %u pid %d: incomplete request, timed out",
                          (unsigned)cl->uid, (int)cl->pid);
                respond_error(cl, "incomplete request: timed out");
        } else {
                log_debug(NULL, "control", "control: client uid %u pid %d idle, disconnecting", (unsigned)cl->uid,
                          (int)cl->pid);
        }
        cl->dead = true;
        client_update(cl);
}

/* ---- accepting ----------------------------------------------------------------- */

/* Say no to a connection we do not serve, then close it. */
static void refuse(int fd, const char *msg)
{
        struct json_object *o = err_obj(msg);
        size_t len;
        const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
        char *line = xasprintf("%s\n", s);

        /* a fresh socket's buffer is empty: one line always fits */
        (void)!send(fd, line, len + 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        free(line);
        json_object_put(o);
        close_gently(fd);
}

/* A client on fd, watched for its requests; NULL with errno when the
 * loop refuses it (fd is not closed). */
static struct client *client_new(struct control *c, int fd, uid_t uid, pid_t pid)
{
        struct client *cl = xcalloc(1, sizeof *cl);

        *cl = (struct client){ .ctl = c, .fd = fd, .uid = uid, .pid = pid };
        cl->watch = loop_add_fd(c->loop, fd, EPOLLIN, on_client, cl);
        if (!cl->watch) {
                free(cl);
                return NULL;
        }
        cl->timer = loop_timer_new(c->loop, on_idle, cl);
        cl->next = c->clients;
        if (c->clients)
                c->clients->prev = cl;
        c->clients = cl;
        c->n_clients++;
        return cl;
}

static void on_accept_resume(struct loop_timer *t, void *data)
{
        struct control *c = data;

        (void)loop_mod_fd(c->watch, EPOLLIN);
}

static void on_accept(struct loop_watch *lw, int lfd, uint32_t events, void *data)
{
        struct control *c = data;

        for (int i = 0; i < ACCEPT_BUDGET; i++) {
                struct ucred cred;
                socklen_t cl_len = sizeof cred;
                struct client *cl;
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                return;
                        /* out of fds or memory: the listening socket stays readable, so
                         * stop watching it for a moment instead of spinning */
                        log_warning(NULL, "control", "control: accept: %s", strerror(errno));
                        (void)loop_mod_fd(c->watch, 0);
                        loop_timer_set(c->accept_timer, now_mono() + ACCEPT_BACKOFF);
                        return;
                }
                if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl_len) < 0) {
                        log_debug(NULL, "control", "control: SO_PEERCRED: %s", strerror(errno));
                        safe_close(fd);
                        continue;
                }
                if (cred.uid != 0 && cred.uid != c->euid) {
                        log_notice(NULL, "control", "control: refused connection from uid %u pid %d",
                                   (unsigned)cred.uid, (int)cred.pid);
                        refuse(fd, "permission denied");
                        continue;
                }
                if (c->n_clients >= CONTROL_MAX_CLIENTS) {
                        log_debug(NULL, "control", "control: too many clients, refusing uid %u pid %d",
                                  (unsigned)cred.uid, (int)cred.pid);
                        refuse(fd, "too many clients");
                        continue;
                }

                cl = client_new(c, fd, cred.uid, cred.pid);
                if (!cl) {
                        log_warning(NULL, "control", "control: cannot watch a client: %s", strerror(errno));
                        safe_close(fd);
                        continue;
                }
                touch(cl);
                log_debug(NULL, "control", "control: client uid %u pid %d connected", (unsigned)cl->uid, (int)cl->pid);
        }
}

/* ---- pending operations ---------------------------------------------------------- */

/* w's name, state and pid, added to o (returned). */
static struct json_object *add_worker_fields(struct json_object *o, const struct worker *w)
{
        json_object_object_add(o, "name", json_object_new_string(worker_name(w)));
        json_object_object_add(o, "state", json_object_new_string(worker_state_name(worker_state(w))));
        json_object_object_add(o, "pid", worker_alive(w) ? json_object_new_int(worker_pid(w)) : NULL);
        return o;
}

/* A start or restart that failed at w (an instance of it, for a group). */
static void respond_failed(struct client *cl, const char *verb, const struct worker *w)
{
        const char *name = worker_name(w);
        char b[64];

        if (worker_state(w) == WORKER_FAILED && worker_last_exit(w, b, sizeof b))
                respond_error(cl, "%s failed to start (%s)", name, b);
        else if (worker_state(w) == WORKER_FAILED)
                respond_error(cl, "%s failed to start", name);
        else if (worker_state(w) == WORKER_DOWN)
                respond_error(cl, "%s was stopped meanwhile", name);
        else
                respond_error(cl, "%s cannot start: a dependency failed", name);
        log_info(NULL, "control", "control: %s %s failed (%s: %s)", verb, cl->name, name,
                 worker_state_name(worker_state(w)));
}

/* The instances of group cl->name the pending operation is about. */
static bool concerns(const struct client *cl, const struct worker *w)
{
        const struct conf_worker *c = worker_conf(w);

        if (worker_removed(w) || !c->instance_of || strcmp(c->instance_of, cl->name) != 0)
                return false;
        return !cl->scaling || (c->instance > cl->scale_from && c->instance <= cl->scale_to);
}

/* A group's operation done: {"ok": true, "name": GROUP, "instances": [{"name":
 * "web.1", "state": ..., "pid": ...}, ...]}, every instance that remains. */
static struct json_object *group_obj(struct client *cl, struct sup *s)
{
        struct json_object *o = ok_obj(), *a = json_object_new_array();

        json_object_object_add(o, "name", json_object_new_string(cl->name));
        for (size_t i = 0; i < sup_n_workers(s); i++) {
                const struct worker *w = sup_worker(s, i);
                const char *g = worker_conf(w)->instance_of;

                if (!worker_removed(w) && g && strcmp(g, cl->name) == 0)
                        json_object_array_add(a, add_worker_fields(json_object_new_object(), w));
        }
        json_object_object_add(o, "instances", a);
        return o;
}

/* The instance that made a group's operation fail. */
static const struct worker *failed_instance(struct client *cl, struct sup *s)
{
        for (size_t i = 0; i < sup_n_workers(s); i++) {
                struct worker *w = sup_worker(s, i);

                if (concerns(cl, w) && sup_op_state(s, worker_name(w), cl->scaling ? SUP_OP_START : cl->op) < 0)
                        return w;
        }
        return NULL;
}

/* Answers cl's operation if it is done: true if it was. */
static bool answer_op(struct client *cl, struct sup *s)
{
        const struct worker *w = sup_find(s, cl->name);
        bool group = cl->scaling || (!w && sup_group(s, cl->name));
        int r = cl->scaling ? sup_scale_state(s, cl->name, cl->scale_from, cl->scale_to)
                            : sup_op_state(s, cl->name, cl->op);
        const char *verb = cl->scaling ? "scale" : op_verb(cl->op);

        if (r == 0 && (cl->scaling || cl->op != SUP_OP_STOP) && sup_shutting_down(s))
                r = -EBUSY; /* it will not come up any more */
        if (r == 0)
                return false;

        cl->pending = false;
        cl->ctl->n_pending--;
        if (group && r == -1)
                w = failed_instance(cl, s);
        if (r == 1 && group) {
                log_info(NULL, "control", "control: %s %s done", verb, cl->name);
                respond(cl, group_obj(cl, s));
        } else if (r == 1 && w) {
                log_info(NULL, "control", "control: %s %s done: %s", verb, cl->name, worker_state_name(worker_state(w)));
                respond(cl, add_worker_fields(ok_obj(), w));
        } else if (r == -EBUSY) {
                log_info(NULL, "control", "control: %s %s abandoned: shutting down", verb, cl->name);
                respond_error(cl, "shutting down");
        } else if (r == -ENOENT || !w) {
                respond_error(cl, "no such worker: %s", cl->name);
        } else {
                respond_failed(cl, verb, w);
        }
        touch(cl);
        process_input(cl); /* requests that waited behind this one */
        return true;
}

/* Sends what followers were given during the iteration, one write each. */
static void flush_dirty(struct control *c)
{
        struct client *next;

        for (struct client *cl = c->clients; cl && c->n_dirty > 0; cl = next) {
                next = cl->next;
                if (!cl->dirty)
                        continue;
                cl->dirty = false;
                c->n_dirty--;
                logs_drive(cl);
                client_update(cl); /* may free cl */
        }
}

void control_tick(struct control *c)
{
        bool progress = true;

        if (!c)
                return;
        if (c->n_dirty > 0)
                flush_dirty(c);
        /* Again while something was answered: the requests that waited
         * behind it may be done at once, and no event would come to tell. */
        while (progress && c->n_pending > 0) {
                struct client *next;

                progress = false;
                for (struct client *cl = c->clients; cl; cl = next) {
                        next = cl->next;
                        if (!cl->pending || cl->reexec)
                                continue;
                        /* asked each time: a request answered here may have reloaded */
                        progress |= answer_op(cl, cur_sup(c));
                        client_update(cl); /* may free cl */
                }
        }
}

/* ---- closing ---------------------------------------------------------------------- */

struct control *control_close(struct control *c)
{
        struct stat st;

        if (!c)
                return NULL;
        while (c->clients) {
                struct client *cl = c->clients;

                if (cl->pending) /* best effort: graced is exiting */
                        respond_error(cl, "shutting down");
                (void)logs_pump(cl); /* the last records, as far as they fit */
                flush_out(cl);
                client_free(cl);
        }
        loop_del_fd(c->watch);
        loop_timer_free(c->accept_timer);
        safe_close(c->fd);
        /* only our own socket: another graced may have replaced it */
        if (lstat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
                (void)unlink(c->path);
        free(c->path);
        free(c);
        return NULL;
}

/* ---- across a reexec ----------------------------------------------------------------- */

void control_reexec_done(struct control *c, const char *error)
{
        struct client *next;

        for (struct client *cl = c ? c->clients : NULL; cl; cl = next) {
                next = cl->next;
                if (!cl->reexec)
                        continue;
                cl->pending = cl->reexec = false;
                c->n_pending--;
                if (error) {
                        respond_error(cl, "%s", error);
                } else {
                        struct json_object *o = ok_obj();

                        json_object_object_add(o, "pid", json_object_new_int((int)getpid()));
                        respond(cl, o);
                }
                touch(cl);
                process_input(cl); /* requests that waited behind it */
                client_update(cl); /* may free cl */
        }
}

int control_reexec_fd(const struct control *c)
{
        for (const struct client *cl = c ? c->clients : NULL; cl; cl = cl->next)
                if (cl->reexec)
                        return cl->fd;
        return -1;
}

static const char *const op_names[] = { [SUP_OP_START] = "start", [SUP_OP_STOP] = "stop",
                                        [SUP_OP_RESTART] = "restart", [SUP_OP_RESTART + 1] = "reexec" };

static struct json_object *client_save(const struct client *cl, struct state_fds *fds)
{
        struct json_object *o = json_object_new_object();

        state_fds_add(fds, cl->fd);
        state_add_int(o, "fd", cl->fd);
        state_add_int(o, "uid", cl->uid);
        state_add_int(o, "pid", cl->pid);
        state_add(o, "in", state_bytes_new(cl->in, cl->n_in));
        state_add(o, "out", state_bytes_new(cl->out + cl->out_off, out_left(cl)));
        state_add_bool(o, "eof", cl->eof);
        state_add_bool(o, "closing", cl->closing);
        state_add(o, "pending",
                  !cl->pending ? NULL : json_object_new_string(op_names[cl->reexec ? SUP_OP_RESTART + 1 : cl->op]));
        state_add(o, "name", cl->pending && !cl->reexec ? json_object_new_string(cl->name) : NULL);
        return o;
}

void control_logs_reexec(struct control *c)
{
        struct client *next;

        if (!c)
                return;
        for (struct client *cl = c->clients; cl; cl = next) {
                struct json_object *o;

                next = cl->next;
                if (!cl->cursor)
                        continue;
                /* what it has queued and its socket takes now, then the last
                 * line (a reader whose socket is full loses it) */
                logs_drive(cl);
                o = json_object_new_object();
                json_object_object_add(o, "reexec", json_object_new_boolean(true));
                queue_line(cl, o);
                flush_out(cl);
                client_free(cl);
        }
}

struct json_object *control_save(const struct control *c, struct state_fds *fds)
{
        struct json_object *o = json_object_new_object(), *a = json_object_new_array();

        state_fds_add(fds, c->fd);
        state_add(o, "path", state_str_new(c->path));
        state_add_int(o, "fd", c->fd);
        state_add_int(o, "dev", (int64_t)c->dev);
        state_add_int(o, "ino", (int64_t)c->ino);
        for (const struct client *cl = c->clients; cl; cl = cl->next)
                json_object_array_add(a, client_save(cl, fds));
        state_add(o, "clients", a);
        return o;
}

/* What a client had read and not handled, and had not been sent yet. */
static void client_adopt_buffers(struct client *cl, struct json_object *o, struct state_rd *rd)
{
        char *in = NULL, *out = NULL;
        size_t n_in = 0, n_out = 0;

        if (state_get_bytes(rd, o, "in", STATE_OPTIONAL, sizeof cl->in, &in, &n_in) && n_in) {
                memcpy(cl->in, in, n_in);
                cl->n_in = n_in;
        }
        if (state_get_bytes(rd, o, "out", STATE_OPTIONAL, SIZE_MAX, &out, &n_out) && n_out) {
                cl->out = out;
                cl->n_out = cl->cap_out = n_out;
                out = NULL;
        }
        free(in);
        free(out);
}

static bool client_adopt(struct control *c, struct json_object *o, struct state_rd *rd, struct state_fdset *set)
{
        int fd = -1, uid = 0, pid = 0, op = -1;
        char *name = NULL;
        struct client *cl;

        state_get_fd(rd, o, "fd", STATE_REQUIRED, &fd);
        state_get_i32(rd, o, "uid", STATE_OPTIONAL, 0, INT32_MAX, &uid);
        state_get_i32(rd, o, "pid", STATE_OPTIONAL, 0, INT32_MAX, &pid);
        state_get_enum(rd, o, "pending", STATE_OPTIONAL, op_names, ELEMENTSOF(op_names), &op);
        state_get_str(rd, o, "name", STATE_OPTIONAL, NAME_MAX_LEN, &name);
        if (!rd->bad && (fd < 0 || (op >= 0 && op <= SUP_OP_RESTART && !name)))
                state_fail(rd, "control client: no fd, or an operation without a worker");
        if (!state_take_fd(rd, set, fd) || !(cl = client_new(c, fd, (uid_t)uid, (pid_t)pid))) {
                free(name);
                return rd->bad ? false : state_fail(rd, "control client: %s", strerror(errno));
        }
        state_get_bool(rd, o, "eof", STATE_OPTIONAL, &cl->eof);
        state_get_bool(rd, o, "closing", STATE_OPTIONAL, &cl->closing);
        client_adopt_buffers(cl, o, rd);
        cl->pending = op >= 0;
        cl->reexec = op == SUP_OP_RESTART + 1;
        cl->op = cl->reexec || op < 0 ? SUP_OP_START : (enum sup_op)op;
        snprintf(cl->name, sizeof cl->name, "%s", name ? name : "");
        c->n_pending += cl->pending;
        free(name);
        if (cl->pending)
                loop_timer_set(cl->timer, USEC_INFINITY);
        else
                touch(cl);
        return !rd->bad;
}

struct control *control_adopt(struct loop *l, struct json_object *o, const struct control_hooks *hooks, void *ctx,
                              struct state_rd *rd, struct state_fdset *set)
{
        struct json_object *a = state_get_arr(rd, o, "clients", STATE_OPTIONAL, CONTROL_MAX_CLIENTS);
        int64_t dev = 0, ino = 0;
        char *path = NULL;
        struct control *c;
        int fd = -1;

        state_get_str(rd, o, "path", STATE_REQUIRED, sizeof(((struct sockaddr_un *)0)->sun_path) - 1, &path);
        state_get_fd(rd, o, "fd", STATE_REQUIRED, &fd);
        state_get_int(rd, o, "dev", STATE_OPTIONAL, 0, INT64_MAX, &dev);
        state_get_int(rd, o, "ino", STATE_OPTIONAL, 0, INT64_MAX, &ino);
        if (!rd->bad && fd < 0)
                state_fail(rd, "control socket: no fd");
        if (!state_take_fd(rd, set, fd) || !(c = control_new(l, path, fd, (dev_t)dev, (ino_t)ino, hooks, ctx))) {
                free(path);
                return rd->bad ? NULL : (state_fail(rd, "control socket: %s", strerror(errno)), NULL);
        }
        free(path);
        for (size_t i = 0; a && i < json_object_array_length(a) && !rd->bad; i++)
                (void)client_adopt(c, json_object_array_get_idx(a, i), rd, set);
        if (rd->bad)
                return control_close(c);
        /* each watches what it needs (EPOLLOUT for what is left to send,
         * after which the lines held back are handled); may free it */
        for (struct client *cl = c->clients, *next; cl; cl = next) {
                next = cl->next;
                client_update(cl);
        }
        return c;
}
