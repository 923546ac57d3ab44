/* gracectl.c - the client of graced's control socket: one request line
 * out, one response line back (json-c both ways; `logs`: then a record a
 * line), printed for people or passed on as JSON for scripts. It links
 * libgraced.a for its helpers, control_default_path() and the text format
 * of records (log_format_text()) only; it never touches the supervisor
 * itself. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
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

#include "conf.h"
#include "control.h"
#include "log.h"
#include "parse.h"
#include "util.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_UNAVAILABLE 69
#define EXIT_INTERRUPTED 130 /* 128 + SIGINT, as a shell reports it */

#define NAME_RULE "1 to 64 of A-Z a-z 0-9 _ . -" /* what name_is_valid() accepts */
#define DEFAULT_TIMEOUT (30 * USEC_PER_SEC) /* status, reload, shutdown, reexec */
#define MAX_RESPONSE (64u * 1024 * 1024)

static const char *socket_path;

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: gracectl [OPTION]... COMMAND [ARG]\n"
                "Talk to a running graced over its control socket.\n"
                "\n"
                "Commands:\n"
                "  status               one row per worker: name, state, health, pid, uptime,\n"
                "                       restarts, last exit, status text\n"
                "  start NAME           start a worker (and the dependents stopped with it)\n"
                "  stop NAME            stop a worker, its dependents first; they stay down\n"
                "  restart NAME         stop, then start a worker\n"
                "                       (NAME of a worker with instances: every instance)\n"
                "  scale NAME COUNT     run COUNT instances of a worker with instances\n"
                "  reload               reload the configuration\n"
                "  reexec               upgrade graced in place: exec its program again with the same\n"
                "                       pid, every worker and their output untouched\n"
                "  shutdown [--force]   shut graced down (--force: at once, as SIGQUIT)\n"
                "  logs [NAME]...       the last records about the workers named (default:\n"
                "                       all), oldest first: their output and graced's\n"
                "                       records about them\n"
                "  reopen               reopen the files workers write to (after logrotate)\n"
                "\n"
                "Options:\n"
                "  -s, --socket PATH    control socket (default: as graced chooses it)\n"
                "  -j, --json           print graced's answer as JSON\n"
                "  -t, --timeout TIME   give up waiting for the answer after TIME (\"10s\",\n"
                "                       \"500ms\", \"2min\"; 0 waits forever); default 30s, but\n"
                "                       start, stop, restart and scale wait until they are done\n"
                "      --force          with shutdown: force it\n"
                "  -n, --lines N        with logs: the last N records (default 100)\n"
                "  -f, --follow         with logs: then print new records as they come,\n"
                "                       until graced exits or gracectl is interrupted\n"
                "  -h, --help           show this help and exit\n"
                "  -V, --version        show the version and exit\n"
                "\n"
                "Exit status: 0 success, 1 graced refused or the action failed, 2 usage error,\n"
                "69 no graced answers on the socket, 130 logs --follow interrupted.\n"
                "See gracectl(1).\n");
}

_printf_(1, 2) _noreturn_ static void usage_error(const char *fmt, ...)
{
        va_list ap;

        fputs("gracectl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\nTry 'gracectl --help' for more information.\n", stderr);
        exit(EXIT_USAGE);
}

_printf_(2, 3) _noreturn_ static void die(int code, const char *fmt, ...)
{
        va_list ap;

        fputs("gracectl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        exit(code);
}

/* ---- the conversation --------------------------------------------------------- */

static int connect_to(const char *path)
{
        struct sockaddr_un addr = { .sun_family = AF_UNIX };
        int fd;

        if (strlen(path) >= sizeof addr.sun_path)
                die(EXIT_UNAVAILABLE, "socket path too long: %s", path);
        memcpy(addr.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                die(EXIT_FAIL, "socket: %s", strerror(errno));
        while (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
                if (errno == EINTR)
                        continue;
                if (errno == ENOENT || errno == ECONNREFUSED)
                        die(EXIT_UNAVAILABLE, "no graced running on %s: %s", path, strerror(errno));
                die(EXIT_UNAVAILABLE, "cannot connect to %s: %s", path, strerror(errno));
        }
        return fd;
}

/* Reads one line (the answer) within timeout (USEC_INFINITY: forever). */
static char *read_answer(int fd, usec_t timeout, size_t *ret_len)
{
        usec_t deadline = timeout == USEC_INFINITY ? USEC_INFINITY : now_mono() + timeout;
        size_t n = 0, cap = 4096;
        char *buf = xmalloc(cap);

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int ms = -1, r;
                ssize_t k;
                char *nl;

                if (deadline != USEC_INFINITY) {
                        usec_t now = now_mono();
                        if (now >= deadline)
                                die(EXIT_FAIL,
                                    "no answer from graced on %s within %llums (the action may still complete)",
                                    socket_path, (unsigned long long)(timeout / USEC_PER_MSEC));
                        ms = (int)((deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC);
                }
                r = poll(&p, 1, ms);
                if (r < 0 && errno != EINTR)
                        die(EXIT_FAIL, "poll: %s", strerror(errno));
                if (r <= 0)
                        continue;
                if (n == cap) {
                        if (cap >= MAX_RESPONSE)
                                die(EXIT_FAIL, "answer from graced too large");
                        cap *= 2;
                        buf = xrealloc(buf, cap);
                }
                k = read(fd, buf + n, cap - n);
                if (k < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        die(EXIT_UNAVAILABLE, "reading from %s: %s", socket_path, strerror(errno));
                }
                if (k == 0)
                        die(EXIT_UNAVAILABLE, "graced on %s closed the connection without answering", socket_path);
                nl = memchr(buf + n, '\n', (size_t)k);
                n += (size_t)k;
                if (nl) {
                        *ret_len = (size_t)(nl - buf);
                        return buf;
                }
        }
}

/* One line from graced as a JSON object, or NULL. */
static struct json_object *parse_line(const char *line, size_t len)
{
        struct json_tokener *tok = json_tokener_new();
        struct json_object *o = json_tokener_parse_ex(tok, line, (int)len);

        if (o && (json_tokener_get_error(tok) != json_tokener_success || !json_object_is_type(o, json_type_object))) {
                json_object_put(o);
                o = NULL;
        }
        json_tokener_free(tok);
        return o;
}

/* Connects and sends the request: the connection. */
static int send_request(struct json_object *req)
{
        const char *s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
        char *line = xasprintf("%s\n", s);
        int fd, r;

        fd = connect_to(socket_path);
        r = write_all(fd, line, strlen(line));
        /* graced may have refused us before reading (permission, too many
         * clients): its answer is still there to read */
        if (r < 0 && r != -EPIPE && r != -ECONNRESET)
                die(EXIT_UNAVAILABLE, "writing to %s: %s", socket_path, strerror(-r));
        free(line);
        return fd;
}

static struct json_object *converse(struct json_object *req, usec_t timeout)
{
        struct json_object *resp;
        char *answer;
        size_t len;
        int fd = send_request(req);

        answer = read_answer(fd, timeout, &len);
        safe_close(fd);
        resp = parse_line(answer, len);
        if (!resp)
                die(EXIT_FAIL, "malformed answer from graced: %.200s", answer);
        free(answer);
        return resp;
}

/* ---- printing ------------------------------------------------------------------- */

static const char *str_field(struct json_object *o, const char *key)
{
        struct json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !v || json_object_is_type(v, json_type_null))
                return NULL;
        return json_object_get_string(v);
}

/* Text from a worker goes to a terminal: no control characters. */
static char *printable(const char *s)
{
        char *r = xstrdup(s ? s : "-");

        for (char *p = r; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        *p = '?';
        return r;
}

/* 5s, 3min 2s, 2h 1min, 4d 2h: the two largest units, whole seconds. */
static char *format_uptime(double secs)
{
        usec_t u = secs > 0 ? (usec_t)secs * USEC_PER_SEC : 0;
        usec_t unit = u >= 86400 * USEC_PER_SEC ? 3600 * USEC_PER_SEC
                      : u >= 3600 * USEC_PER_SEC ? 60 * USEC_PER_SEC
                                                  : USEC_PER_SEC;
        char buf[64];

        if (u < USEC_PER_SEC)
                return xstrdup("0s");
        return xstrdup(format_duration(u / unit * unit, buf, sizeof buf));
}

enum { COL_NAME, COL_STATE, COL_HEALTH, COL_PID, COL_UPTIME, COL_RESTARTS, COL_LAST, COL_STATUS, N_COLS };

static void print_table(struct json_object *resp)
{
        static const char *const head[N_COLS] = { "NAME",   "STATE",    "HEALTH",    "PID",
                                                  "UPTIME", "RESTARTS", "LAST EXIT", "STATUS" };
        struct json_object *workers, *v;
        size_t n, width[N_COLS];
        char *(*cell)[N_COLS];
        const char *state = str_field(resp, "state");

        if (!json_object_object_get_ex(resp, "workers", &workers) || !json_object_is_type(workers, json_type_array))
                die(EXIT_FAIL, "malformed answer from graced: no workers");
        n = json_object_array_length(workers);
        cell = xcalloc(n + 1, sizeof *cell);
        for (size_t c = 0; c < N_COLS; c++)
                cell[0][c] = xstrdup(head[c]);
        for (size_t i = 0; i < n; i++) {
                struct json_object *w = json_object_array_get_idx(workers, i);
                char **row = cell[i + 1];

                row[COL_NAME] = printable(str_field(w, "name"));
                row[COL_STATE] = printable(str_field(w, "state"));
                row[COL_HEALTH] = printable(str_field(w, "health"));
                row[COL_PID] = printable(str_field(w, "pid"));
                if (json_object_object_get_ex(w, "uptime_s", &v) && v)
                        row[COL_UPTIME] = format_uptime(json_object_get_double(v));
                else
                        row[COL_UPTIME] = xstrdup("-");
                row[COL_RESTARTS] = printable(str_field(w, "restarts"));
                row[COL_LAST] = printable(str_field(w, "last_exit"));
                row[COL_STATUS] = printable(str_field(w, "status"));
        }
        for (size_t c = 0; c < N_COLS; c++) {
                width[c] = 0;
                for (size_t i = 0; i <= n; i++)
                        if (strlen(cell[i][c]) > width[c])
                                width[c] = strlen(cell[i][c]);
        }
        for (size_t i = 0; i <= n; i++) {
                for (size_t c = 0; c < N_COLS; c++) {
                        if (c == N_COLS - 1)
                                printf("%s\n", cell[i][c]); /* the last column is not padded */
                        else if (c == COL_PID || c == COL_RESTARTS)
                                printf("%*s  ", (int)width[c], cell[i][c]);
                        else
                                printf("%-*s  ", (int)width[c], cell[i][c]);
                        free(cell[i][c]);
                }
        }
        free(cell);
        if (n == 0)
                printf("(no workers)\n");
        if (state && strcmp(state, "running") != 0)
                printf("(graced is %s)\n", state);
}

static void print_json(struct json_object *o)
{
        int flags = isatty(STDOUT_FILENO) ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN;

        flags |= JSON_C_TO_STRING_NOSLASHESCAPE;

        printf("%s\n", json_object_to_json_string_ext(o, flags));
}

/* `--json status`: {"workers": [...]} with the supervisor's name and state. */
static void print_status_json(struct json_object *resp)
{
        static const char *const keys[] = { "supervisor", "state", "workers" };
        struct json_object *o = json_object_new_object(), *v;

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (json_object_object_get_ex(resp, keys[i], &v))
                        json_object_object_add(o, keys[i], json_object_get(v));
        print_json(o);
        json_object_put(o);
}

static int report_failure(struct json_object *resp, bool json)
{
        struct json_object *errors;
        const char *e = str_field(resp, "error");
        char *msg = printable(e ? e : "graced refused (no reason given)");

        if (json)
                print_json(resp);
        fprintf(stderr, "gracectl: %s\n", msg);
        free(msg);
        if (json_object_object_get_ex(resp, "errors", &errors) && json_object_is_type(errors, json_type_array))
                for (size_t i = 0; i < json_object_array_length(errors); i++) {
                        char *line = printable(json_object_get_string(json_object_array_get_idx(errors, i)));
                        fprintf(stderr, "%s\n", line);
                        free(line);
                }
        return EXIT_FAIL;
}

/* ---- main -------------------------------------------------------------------------- */

struct options {
        bool json, force;
        usec_t timeout;
        bool timeout_set;
        const char *verb, *name;
        unsigned count; /* scale */
        /* logs */
        bool follow, lines_set;
        int64_t lines;
        char **names;
        size_t n_names;
};

static usec_t parse_timeout(const char *s)
{
        usec_t t;

        if (strcmp(s, "infinity") == 0)
                return USEC_INFINITY;
        if (parse_duration(s, &t) < 0)
                usage_error("invalid timeout: %s", s);
        return t == 0 ? USEC_INFINITY : t;
}

static int64_t parse_lines(const char *s)
{
        char *end;
        unsigned long long v;

        if (!s[0] || s[0] < '0' || s[0] > '9')
                usage_error("invalid number of lines: %s", s);
        errno = 0;
        v = strtoull(s, &end, 10);
        if (*end || errno == ERANGE || v > (unsigned long long)INT64_MAX)
                usage_error("invalid number of lines: %s", s);
        return (int64_t)v;
}

/* The options; exits for --help, --version and a usage error. */
static void parse_options(int argc, char **argv, struct options *o)
{
        enum { OPT_FORCE = 256 };
        static const struct option longopts[] = {
                { "socket", required_argument, NULL, 's' },
                { "json", no_argument, NULL, 'j' },
                { "timeout", required_argument, NULL, 't' },
                { "force", no_argument, NULL, OPT_FORCE },
                { "lines", required_argument, NULL, 'n' },
                { "follow", no_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {}
        };
        int opt;

        while ((opt = getopt_long(argc, argv, "s:jt:n:fhV", longopts, NULL)) != -1) {
                switch (opt) {
                case 'h':
                        usage(stdout);
                        exit(0);
                case 'V':
                        printf("gracectl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
                        exit(0);
                case 's':
                        socket_path = optarg;
                        break;
                case 'j':
                        o->json = true;
                        break;
                case 't':
                        o->timeout = parse_timeout(optarg);
                        o->timeout_set = true;
                        break;
                case OPT_FORCE:
                        o->force = true;
                        break;
                case 'n':
                        o->lines = parse_lines(optarg);
                        o->lines_set = true;
                        break;
                case 'f':
                        o->follow = true;
                        break;
                default:
                        fputs("Try 'gracectl --help' for more information.\n", stderr);
                        exit(EXIT_USAGE);
                }
        }
}

/* A worker name from the command line, checked before graced is asked. */
static const char *worker_name_arg(const char *verb, const char *name)
{
        char shown[NAME_MAX_LEN + 1], *text, *p;
        size_t n, k;

        if (name_is_valid(name))
                return name;
        /* shown as a terminal can take it: UTF-8, no control characters,
         * at most 64 bytes (cut between characters) */
        text = utf8_sanitize(name, strlen(name), SIZE_MAX, NULL);
        p = printable(text);
        n = strlen(p);
        k = utf8_cut(p, MIN(n, NAME_MAX_LEN));
        snprintf(shown, sizeof shown, "%.*s", (int)k, p);
        free(p);
        free(text);
        usage_error("%s: invalid worker name \"%s\"%s (" NAME_RULE ")", verb, shown, k < n ? "..." : "");
}

/* scale's COUNT: 1 to CONF_MAX_INSTANCES. */
static unsigned count_arg(const char *arg)
{
        unsigned long n;
        char *end;

        errno = 0;
        n = strtoul(arg, &end, 10);
        if (arg[0] < '0' || arg[0] > '9' || *end || errno || n < 1 || n > CONF_MAX_INSTANCES)
                usage_error("scale: invalid count \"%.32s\" (1 to %d)", arg, CONF_MAX_INSTANCES);
        return (unsigned)n;
}

/* The command and its arguments, after the options. */
static void parse_command(int argc, char **argv, struct options *o)
{
        if (optind >= argc)
                usage_error("missing command");
        o->verb = argv[optind++];
        if (strcmp(o->verb, "scale") == 0) {
                if (optind + 2 > argc)
                        usage_error("scale: missing %s", optind >= argc ? "worker name" : "count");
                o->name = worker_name_arg(o->verb, argv[optind++]);
                o->count = count_arg(argv[optind++]);
                if (!o->timeout_set)
                        o->timeout = USEC_INFINITY; /* bounded by graced's own timeouts */
        } else if (strcmp(o->verb, "start") == 0 || strcmp(o->verb, "stop") == 0 || strcmp(o->verb, "restart") == 0) {
                if (optind >= argc)
                        usage_error("%s: missing worker name", o->verb);
                o->name = worker_name_arg(o->verb, argv[optind++]);
                if (!o->timeout_set)
                        o->timeout = USEC_INFINITY; /* bounded by graced's own timeouts */
        } else if (strcmp(o->verb, "logs") == 0) {
                o->names = argv + optind;
                for (; optind < argc; optind++, o->n_names++)
                        (void)worker_name_arg(o->verb, argv[optind]);
        } else if (strcmp(o->verb, "status") != 0 && strcmp(o->verb, "reload") != 0 &&
                   strcmp(o->verb, "shutdown") != 0 && strcmp(o->verb, "reopen") != 0 &&
                   strcmp(o->verb, "reexec") != 0) {
                usage_error("unknown command: %s", o->verb);
        }
        if (optind < argc)
                usage_error("%s: unexpected argument: %s", o->verb, argv[optind]);
        if (o->force && strcmp(o->verb, "shutdown") != 0)
                usage_error("--force goes with shutdown only");
        if ((o->follow || o->lines_set) && strcmp(o->verb, "logs") != 0)
                usage_error("--lines and --follow go with logs only");
}

/* The socket graced chooses when none is configured (caller frees). */
static char *default_socket(void)
{
        char *path = control_default_path(NULL);

        if (!path)
                die(EXIT_UNAVAILABLE, "no control socket: neither $RUNTIME_DIRECTORY nor $XDG_RUNTIME_DIR is "
                                      "set; give one with -s SOCKET");
        return path;
}

static struct json_object *make_request(const struct options *o)
{
        struct json_object *req = json_object_new_object();

        json_object_object_add(req, "cmd", json_object_new_string(o->verb));
        if (o->name)
                json_object_object_add(req, "name", json_object_new_string(o->name));
        if (strcmp(o->verb, "shutdown") == 0)
                json_object_object_add(req, "force", json_object_new_boolean(o->force));
        if (strcmp(o->verb, "scale") == 0)
                json_object_object_add(req, "count", json_object_new_int((int)o->count));
        if (strcmp(o->verb, "logs") == 0) {
                if (o->n_names > 0) {
                        struct json_object *a = json_object_new_array();

                        for (size_t i = 0; i < o->n_names; i++)
                                json_object_array_add(a, json_object_new_string(o->names[i]));
                        json_object_object_add(req, "names", a);
                }
                json_object_object_add(req, "lines", json_object_new_int64(o->lines_set ? o->lines : 100));
                json_object_object_add(req, "follow", json_object_new_boolean(o->follow));
        }
        return req;
}

/* Prints graced's answer as asked; returns the exit code. */
static int print_answer(struct json_object *resp, const struct options *o)
{
        struct json_object *v;

        if (!json_object_object_get_ex(resp, "ok", &v) || !json_object_is_type(v, json_type_boolean) ||
            !json_object_get_boolean(v))
                return report_failure(resp, o->json);
        if (strcmp(o->verb, "status") == 0)
                o->json ? print_status_json(resp) : print_table(resp);
        else if (o->json)
                print_json(resp);
        else if (strcmp(o->verb, "reopen") == 0 && json_object_object_get_ex(resp, "files", &v))
                printf("reopened %d file%s\n", json_object_get_int(v), json_object_get_int(v) == 1 ? "" : "s");
        return 0;
}

/* ---- logs ------------------------------------------------------------------------ */

static volatile sig_atomic_t interrupted;
static sigset_t unblocked; /* the mask the waits run with: SIGINT and SIGTERM let through */
static struct sbuf out;    /* logs: what is to go to stdout next */

static void on_interrupt(int sig) { interrupted = sig; }

_noreturn_ static void exit_interrupted(void)
{
        /* what stdout did not take is dropped: its reader is not reading */
        out.len = 0;
        /* SIGTERM as the default disposition would end us; SIGINT as 130 */
        if (interrupted == SIGTERM) {
                signal(SIGTERM, SIG_DFL);
                raise(SIGTERM);
        }
        exit(EXIT_INTERRUPTED);
}

/* Everything printed so far (into out) goes to stdout. SIGINT and SIGTERM
 * stay blocked outside of waits, so the wait for stdout to take more is a
 * ppoll() that lets them through, and each write() is at most PIPE_BUF
 * bytes, which a pipe that polled writable takes without blocking: a
 * reader that stops reading (a pager at rest, `| sleep`) never makes
 * gracectl deaf to an interrupt. A reader that went away (`| head`) ends
 * gracectl quietly. */
static void flush_stdout(void)
{
        size_t done = 0;

        while (done < out.len) {
                struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };
                ssize_t k;
                int r;

                if (interrupted)
                        exit_interrupted();
                r = ppoll(&p, 1, NULL, &unblocked);
                if (r < 0 && errno != EINTR)
                        die(EXIT_FAIL, "poll: %s", strerror(errno));
                if (interrupted)
                        exit_interrupted();
                if (r <= 0)
                        continue;
                k = write(STDOUT_FILENO, out.p + done, MIN(out.len - done, (size_t)PIPE_BUF));
                if (k < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        if (errno == EPIPE)
                                exit(0);
                        die(EXIT_FAIL, "writing output: %s", strerror(errno));
                }
                done += (size_t)k;
        }
        out.len = 0;
}

/* Lines of graced's answer, read as they come. */
struct reader {
        int fd;
        char *buf;
        size_t start, n, cap;
};

/* The next line (without its newline): 1, or 0 at EOF (a last line
 * without newline comes first). Waits until deadline (absolute, or
 * USEC_INFINITY); exits on an interrupt. What was printed goes out before
 * each wait. */
static int next_line(struct reader *rd, usec_t deadline, char **line, size_t *len)
{
        for (;;) {
                char *nl = rd->n > rd->start ? memchr(rd->buf + rd->start, '\n', rd->n - rd->start) : NULL;
                struct pollfd p = { .fd = rd->fd, .events = POLLIN };
                struct timespec ts, *tsp = NULL;
                ssize_t k;
                int r;

                if (nl) {
                        *line = rd->buf + rd->start;
                        *len = (size_t)(nl - *line);
                        rd->start += *len + 1;
                        return 1;
                }
                if (rd->start > 0) {
                        memmove(rd->buf, rd->buf + rd->start, rd->n - rd->start);
                        rd->n -= rd->start;
                        rd->start = 0;
                }
                if (rd->n == rd->cap) {
                        if (rd->cap >= MAX_RESPONSE)
                                die(EXIT_FAIL, "answer from graced too large");
                        rd->cap = rd->cap ? 2 * rd->cap : 64 * 1024;
                        rd->buf = xrealloc(rd->buf, rd->cap);
                }
                flush_stdout();
                if (deadline != USEC_INFINITY) {
                        usec_t now = now_mono(), left = now < deadline ? deadline - now : 0;

                        if (left == 0)
                                die(EXIT_FAIL, "no answer from graced on %s in time", socket_path);
                        ts = (struct timespec){ .tv_sec = (time_t)(left / USEC_PER_SEC),
                                                .tv_nsec = (long)(left % USEC_PER_SEC) * 1000 };
                        tsp = &ts;
                }
                /* the signals are blocked but here: none is missed between check and wait */
                if (interrupted)
                        exit_interrupted();
                r = ppoll(&p, 1, tsp, &unblocked);
                if (r < 0 && errno != EINTR)
                        die(EXIT_FAIL, "poll: %s", strerror(errno));
                if (interrupted)
                        exit_interrupted();
                if (r <= 0)
                        continue;
                k = read(rd->fd, rd->buf + rd->n, rd->cap - rd->n);
                if (k < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        die(EXIT_UNAVAILABLE, "reading from %s: %s", socket_path, strerror(errno));
                }
                if (k == 0) {
                        if (rd->n == 0)
                                return 0;
                        *line = rd->buf;
                        *len = rd->n;
                        rd->start = rd->n;
                        return 1;
                }
                rd->n += (size_t)k;
        }
}

/* One record in the text format of graced's log, without "graced[pid]: ":
 * "TS NAME[stdout]: line", "TS NAME: stopping (SIGTERM, timeout 3s)". */
static void print_record(struct json_object *rec, struct sbuf *b)
{
        struct json_object *m;
        const char *ts = str_field(rec, "ts"), *worker = str_field(rec, "worker"), *msg = "";
        int level = log_level_from_name(str_field(rec, "level"));
        size_t len = 0;
        char *prefix = xasprintf("%s ", ts ? ts : "-");

        if (json_object_object_get_ex(rec, "msg", &m) && json_object_is_type(m, json_type_string)) {
                msg = json_object_get_string(m);
                len = (size_t)json_object_get_string_len(m);
        }
        b->len = 0;
        log_format_text(b, prefix, level < 0 ? LOG_INFO : level, worker ? worker : "-", str_field(rec, "stream"), msg,
                        len);
        sbuf_add(&out, b->p, b->len);
        free(prefix);
}

/* `logs`: the answer, then a record a line until {"end": true} (or, with
 * --follow, until graced closes the connection). */
static int run_logs(const struct options *o, struct json_object *req)
{
        struct sigaction sa = { .sa_handler = on_interrupt };
        struct reader rd = { .fd = -1 };
        struct json_object *resp, *v;
        struct sbuf b = { 0 };
        sigset_t block;
        char *line;
        size_t len;
        int code = -1;

        sigemptyset(&block);
        sigaddset(&block, SIGINT);
        sigaddset(&block, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &block, &unblocked) < 0)
                die(EXIT_FAIL, "sigprocmask: %s", strerror(errno));
        sigdelset(&unblocked, SIGINT);
        sigdelset(&unblocked, SIGTERM);
        sigemptyset(&sa.sa_mask);
        (void)sigaction(SIGINT, &sa, NULL);
        (void)sigaction(SIGTERM, &sa, NULL);

        rd.fd = send_request(req);
        if (next_line(&rd, o->timeout == USEC_INFINITY ? USEC_INFINITY : now_mono() + o->timeout, &line, &len) == 0)
                die(EXIT_UNAVAILABLE, "graced on %s closed the connection without answering", socket_path);
        resp = parse_line(line, len);
        if (!resp)
                die(EXIT_FAIL, "malformed answer from graced: %.*s", (int)MIN(len, 200), line);
        if (!json_object_object_get_ex(resp, "ok", &v) || !json_object_is_type(v, json_type_boolean) ||
            !json_object_get_boolean(v)) {
                code = report_failure(resp, o->json);
                json_object_put(resp);
                free(rd.buf);
                safe_close(rd.fd);
                return code;
        }
        json_object_put(resp);
        while (code < 0) {
                struct json_object *rec;

                if (next_line(&rd, USEC_INFINITY, &line, &len) == 0) {
                        /* a follower ends with graced; a dump must get to its end */
                        if (!o->follow)
                                die(EXIT_FAIL, "graced closed the connection before the last record");
                        code = 0;
                        break;
                }
                rec = parse_line(line, len);
                if (!rec)
                        die(EXIT_FAIL, "malformed record from graced: %.*s", (int)MIN(len, 200), line);
                if (json_object_object_get_ex(rec, "end", &v)) {
                        code = 0;
                } else if (json_object_object_get_ex(rec, "reexec", &v)) {
                        /* graced re-executed: its last line to a reader */
                        if (o->json)
                                sbuf_addf(&out, "%.*s\n", (int)len, line);
                        else
                                sbuf_adds(&out, "-- graced re-executed --\n");
                } else if (o->json)
                        sbuf_addf(&out, "%.*s\n", (int)len, line);
                else if (json_object_object_get_ex(rec, "skipped", &v))
                        sbuf_addf(&out, "-- %lld records skipped --\n", (long long)json_object_get_int64(v));
                else
                        print_record(rec, &b);
                json_object_put(rec);
        }
        flush_stdout();
        sbuf_free(&out);
        sbuf_free(&b);
        free(rd.buf);
        safe_close(rd.fd);
        return code;
}

int main(int argc, char **argv)
{
        struct options o = { .timeout = DEFAULT_TIMEOUT };
        struct json_object *req, *resp;
        char *path = NULL;
        int code;

        parse_options(argc, argv, &o);
        parse_command(argc, argv, &o);
        if (!socket_path)
                socket_path = path = default_socket();
        /* a closed socket shows as EPIPE, not as a signal */
        signal(SIGPIPE, SIG_IGN);

        req = make_request(&o);
        if (strcmp(o.verb, "logs") == 0) {
                code = run_logs(&o, req);
                json_object_put(req);
                free(path);
                return code;
        }
        resp = converse(req, o.timeout);
        json_object_put(req);
        code = print_answer(resp, &o);
        json_object_put(resp);
        free(path);
        if (fflush(stdout) != 0 || ferror(stdout))
                die(EXIT_FAIL, "writing output: %s", strerror(errno));
        return code;
}
