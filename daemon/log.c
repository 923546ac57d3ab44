/* log.c - formats records and owns the stderr output buffer.
 * It never drops a record: graced's own records always go in; worker lines
 * go in too, but once the buffer is past HIGH_WATER the caller is told to
 * stop reading worker pipes until it drains below LOW_WATER. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "log.h"

#define HIGH_WATER (256 * 1024)
#define LOW_WATER (64 * 1024)

static enum log_format format = LOG_FORMAT_TEXT;
static bool color;
static int max_level = LOG_INFO;
static size_t name_width = 6;
static int stderr_flags = -1;

static char *buf;
static size_t buf_start, buf_end, buf_cap;
static bool congested, want_write;
static void (*hook_want_write)(bool, void *);
static void (*hook_congestion)(bool, void *);
static void *hook_data;
static void (*tap_fn)(const struct log_record *, void *);
static void *tap_data;

static bool journal_stream_matches(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino;
}

void log_setup(enum log_format fmt, enum log_color c, int level)
{
        bool tty = isatty(STDERR_FILENO);

        if (fmt == LOG_FORMAT_AUTO)
                fmt = journal_stream_matches() ? LOG_FORMAT_JOURNAL : tty ? LOG_FORMAT_DEV : LOG_FORMAT_TEXT;
        if (fmt == LOG_FORMAT_JOURNAL && access("/run/systemd/journal/socket", W_OK) < 0) {
                /* no journald here: records sent there would vanish */
                fprintf(stderr, "graced: no journal (/run/systemd/journal/socket: %m); logging text to stderr\n");
                fmt = tty ? LOG_FORMAT_DEV : LOG_FORMAT_TEXT;
        }
        format = fmt;
        if (c == LOG_COLOR_ALWAYS)
                color = true;
        else if (c == LOG_COLOR_NEVER)
                color = false;
        else
                color = tty && !getenv("NO_COLOR") && format == LOG_FORMAT_DEV;
        max_level = level;
}

enum log_format log_get_format(void) { return format; }
int log_get_max_level(void) { return max_level; }
void log_set_name_width(size_t w) { name_width = w < 6 ? 6 : w > 24 ? 24 : w; }

/* Where records go. Inside the loop, writes must not block, but fd 2's
 * file description is shared (with fd 1, the shell, workers with
 * stdout = "inherit"): setting O_NONBLOCK on it would hand them EAGAIN.
 * So a pipe or terminal is opened again (a description of our own), a
 * socket (the journal's stream) is written with MSG_DONTWAIT, and a regular
 * file never blocks anyway. */
static int log_fd = STDERR_FILENO;
static bool log_is_socket;

int log_get_fd(void) { return log_fd; }

void log_set_nonblocking(bool on)
{
        struct stat st;

        if (!on) {
                if (log_fd != STDERR_FILENO) {
                        safe_close(log_fd);
                        log_fd = STDERR_FILENO;
                }
                if (stderr_flags >= 0)
                        (void)fcntl(STDERR_FILENO, F_SETFL, stderr_flags);
                stderr_flags = -1;
                log_is_socket = false;
                return;
        }
        if (fstat(STDERR_FILENO, &st) < 0 || S_ISREG(st.st_mode))
                return;
        if (S_ISSOCK(st.st_mode)) {
                log_is_socket = true;
                return;
        }
        log_fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (log_fd >= 0)
                return;
        /* no /proc: fall back to the shared description, restored at exit */
        log_fd = STDERR_FILENO;
        stderr_flags = fcntl(STDERR_FILENO, F_GETFL);
        if (stderr_flags >= 0)
                (void)fcntl(STDERR_FILENO, F_SETFL, stderr_flags | O_NONBLOCK);
}

static ssize_t log_write(const char *p, size_t len)
{
        if (log_is_socket)
                return send(log_fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        return write(log_fd, p, len);
}

void log_set_hooks(void (*ww)(bool, void *), void (*cg)(bool, void *), void *data)
{
        hook_want_write = ww;
        hook_congestion = cg;
        hook_data = data;
}

static void set_want_write(bool on)
{
        if (on != want_write) {
                want_write = on;
                if (hook_want_write)
                        hook_want_write(on, hook_data);
        }
}

static void update_congestion(void)
{
        size_t used = buf_end - buf_start;
        bool c = congested ? used > LOW_WATER : used > HIGH_WATER;

        if (c != congested) {
                congested = c;
                if (hook_congestion)
                        hook_congestion(c, hook_data);
        }
}

bool log_congested(void) { return congested; }
bool log_pending(void) { return buf_end > buf_start; }

bool log_flush(void)
{
        while (buf_end > buf_start) {
                ssize_t n = log_write(buf + buf_start, buf_end - buf_start);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                set_want_write(true);
                                update_congestion();
                                return false;
                        }
                        /* stderr is gone (EPIPE, EIO...): nothing can be written;
                         * discard instead of growing without bound */
                        buf_start = buf_end;
                        break;
                }
                buf_start += (size_t)n;
        }
        buf_start = buf_end = 0;
        set_want_write(false);
        update_congestion();
        return true;
}

void log_flush_all(void)
{
        while (!log_flush()) {
                struct pollfd p = { .fd = log_fd, .events = POLLOUT };
                if (poll(&p, 1, 1000) < 0 && errno != EINTR)
                        break;
        }
}

static void append(const char *s, size_t len)
{
        if (buf_end + len > buf_cap) {
                if (buf_start > 0) {
                        memmove(buf, buf + buf_start, buf_end - buf_start);
                        buf_end -= buf_start;
                        buf_start = 0;
                }
                if (buf_end + len > buf_cap) {
                        buf_cap = (buf_end + len) * 2 < 4096 ? 4096 : (buf_end + len) * 2;
                        buf = xrealloc(buf, buf_cap);
                }
        }
        memcpy(buf + buf_end, s, len);
        buf_end += len;
}

/* Inside the loop, records are batched and written once per iteration
 * (log_flush from the loop's idle hook) or when a batch is large; outside
 * it (start-up, --check) each record is written at once. */
#define BATCH (64 * 1024)

static void emit(const char *s, size_t len)
{
        append(s, len);
        if (!hook_want_write || (!want_write && buf_end - buf_start >= BATCH))
                log_flush();
        else
                update_congestion();
}

static const char *const level_names[] = { "emerg", "alert", "crit", "error", "warning", "notice", "info", "debug" };

const char *log_level_name(int level)
{
        return level >= 0 && level < (int)ELEMENTSOF(level_names) ? level_names[level] : "info";
}

int log_level_from_name(const char *name)
{
        for (size_t i = 0; name && i < ELEMENTSOF(level_names); i++)
                if (strcmp(name, level_names[i]) == 0)
                        return (int)i;
        return -1;
}

void log_set_tap(void (*fn)(const struct log_record *, void *), void *data)
{
        tap_fn = fn;
        tap_data = data;
}

/* Dev mode's colours: each name gets the next colour of the palette the
 * first time it is given one (log_add_name() in the order the workers are
 * defined, else when it first logs), so the first ELEMENTSOF(palette)
 * workers all differ; then the palette starts over. A name keeps its colour
 * for graced's lifetime (across reloads). A hook or cleanup step
 * ("web/pre_stop", "cleanup/NAME") takes the colour of what comes before
 * its slash. Red is left to errors. */
static const char *const palette[] = { "\033[36m", "\033[32m", "\033[35m", "\033[33m", "\033[34m",
                                       "\033[96m", "\033[92m", "\033[95m", "\033[93m", "\033[94m" };
#define MAX_COLORED_NAMES 4096 /* beyond that many names (reloads), colours come from a hash */

struct colored_name {
        char *name;
        unsigned color;
};
static struct colored_name *colored;
static size_t n_colored;
static unsigned next_color;

static const char *name_color(const char *name)
{
        size_t len = strcspn(name, "/");
        unsigned h = 5381;

        for (size_t i = 0; i < n_colored; i++)
                if (strlen(colored[i].name) == len && memcmp(colored[i].name, name, len) == 0)
                        return palette[colored[i].color];
        if (n_colored < MAX_COLORED_NAMES) {
                colored = xrealloc(colored, (n_colored + 1) * sizeof *colored);
                colored[n_colored] = (struct colored_name){ .name = xmalloc(len + 1), .color = next_color };
                memcpy(colored[n_colored].name, name, len);
                colored[n_colored].name[len] = 0;
                next_color = (next_color + 1) % ELEMENTSOF(palette);
                return palette[colored[n_colored++].color];
        }
        for (size_t i = 0; i < len; i++)
                h = h * 33 + (unsigned char)name[i];
        return palette[h % ELEMENTSOF(palette)];
}

void log_add_name(const char *name)
{
        if (format == LOG_FORMAT_DEV && color)
                (void)name_color(name);
}

/* "<ts> graced[pid]: ", rebuilt only when the millisecond changes (it is
 * written once per captured line). */
static const char *text_prefix(usec_t now)
{
        static char prefix[96];
        static usec_t last_ms = USEC_INFINITY;
        static pid_t pid;
        usec_t ms = now / USEC_PER_MSEC;
        char ts[40];

        if (ms != last_ms) {
                if (!pid)
                        pid = getpid();
                snprintf(prefix, sizeof prefix, "%s graced[%d]: ", format_iso8601(ms * USEC_PER_MSEC, ts, sizeof ts),
                         (int)pid);
                last_ms = ms;
        }
        return prefix;
}

/* Worker lines are user data: in text formats, replace control characters
 * (other than tab) so a line can never forge a record of its own. */
static void append_sanitized(struct sbuf *b, const char *s, size_t len)
{
        size_t start = 0;

        for (size_t i = 0; i < len; i++) {
                unsigned char ch = (unsigned char)s[i];

                if ((ch >= 0x20 || ch == '\t') && ch != 0x7f)
                        continue;
                sbuf_add(b, s + start, i - start);
                sbuf_addf(b, "\\x%02x", ch);
                start = i + 1;
        }
        sbuf_add(b, s + start, len - start);
}

void log_format_text(struct sbuf *b, const char *prefix, int level, const char *worker, const char *stream,
                     const char *msg, size_t len)
{
        /* no printf: this runs for every captured line */
        sbuf_adds(b, prefix);
        if (worker)
                sbuf_adds(b, worker);
        if (stream) {
                sbuf_add(b, "[", 1);
                sbuf_adds(b, stream);
                sbuf_add(b, "]: ", 3);
        } else if (worker) {
                sbuf_add(b, ": ", 2);
        }
        if (!stream && level <= LOG_WARNING)
                sbuf_adds(b, level <= LOG_ERR ? "error: " : "warning: ");
        append_sanitized(b, msg, len);
        sbuf_add(b, "\n", 1);
}

/* The record to the tap, if there is one and it is about a worker. */
static void tap(usec_t ts, int level, const char *worker, const char *event, const char *stream, const char *msg,
                size_t len)
{
        if (tap_fn && worker)
                tap_fn(&(struct log_record){ .ts = ts, .level = level, .worker = worker, .event = event,
                                             .stream = stream, .msg = msg, .len = len },
                       tap_data);
}

static void emit_json(usec_t now, int level, const char *worker, const char *event, const char *stream,
                      const char *msg, size_t msg_len)
{
        char ts[40];
        struct json_object *o = json_object_new_object();
        const char *s;
        size_t len;

        /* every JSON line is valid UTF-8: whatever came from outside (worker
         * lines, texts quoted in messages) goes through json_text_new */
        json_object_object_add(o, "ts", json_object_new_string(format_iso8601(now, ts, sizeof ts)));
        json_object_object_add(o, "level", json_object_new_string(log_level_name(level)));
        json_object_object_add(o, "worker", json_text_new(worker));
        json_object_object_add(o, "event", json_object_new_string(event ? event : "log"));
        if (stream)
                json_object_object_add(o, "stream", json_object_new_string(stream));
        json_object_object_add(o, "msg", json_text_new_len(msg, msg_len, SIZE_MAX));
        s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        append(s, len);
        json_object_put(o);
        emit("\n", 1);
}

static void emit_journal(int level, const char *worker, const char *event, const char *stream, const char *msg,
                         size_t len)
{
        char who[96] = "";
        int r;

        /* journalctl and `systemctl status` show MESSAGE only: name the worker there too */
        if (worker && stream)
                snprintf(who, sizeof who, "%s[%s]: ", worker, stream);
        else if (worker)
                snprintf(who, sizeof who, "%s: ", worker);
        r = sd_journal_send("MESSAGE=%s%.*s", who, (int)len, msg, "PRIORITY=%d", level, "GRACED_WORKER=%s",
                            worker ? worker : "", "GRACED_EVENT=%s", event ? event : "log",
                            "SYSLOG_IDENTIFIER=graced", NULL);
        if (r < 0) {
                /* journal unreachable: fall back to stderr, never lose the record */
                char *line = xasprintf("<%d>%s%s%.*s\n", level, worker ? worker : "", worker ? ": " : "", (int)len, msg);
                emit(line, strlen(line));
                free(line);
        }
}

static void emit_record(usec_t now, int level, const char *worker, const char *event, const char *stream,
                        const char *msg, size_t len, bool is_output)
{
        struct sbuf b = { 0 };

        switch (format) {
        case LOG_FORMAT_JSON:
                emit_json(now, level, worker, event, stream, msg, len);
                return;
        case LOG_FORMAT_JOURNAL:
                emit_journal(level, worker, event, is_output ? stream : NULL, msg, len);
                return;
        case LOG_FORMAT_DEV: {
                const char *who = worker ? worker : "graced";

                /* the column is name_width wide, or as wide as the name */
                if (color)
                        sbuf_adds(&b, worker ? name_color(who) : "\033[1m");
                sbuf_addf(&b, "%-*s |", (int)name_width, who);
                sbuf_adds(&b, color ? "\033[0m " : " ");
                if (color && !is_output)
                        sbuf_adds(&b, level <= LOG_ERR       ? "\033[1;31m"
                                      : level <= LOG_WARNING ? "\033[1;33m"
                                                             : "\033[2m");
                break;
        }
        default:
                log_format_text(&b, text_prefix(now), level, worker, is_output ? stream : NULL, msg, len);
                emit(b.p, b.len);
                sbuf_free(&b);
                return;
        }
        append_sanitized(&b, msg, len);
        if (color && format == LOG_FORMAT_DEV && !is_output)
                sbuf_adds(&b, "\033[0m");
        sbuf_add(&b, "\n", 1);
        emit(b.p, b.len);
        sbuf_free(&b);
}

/* One of graced's own records, formatted (%m sees the caller's errno). */
_printf_(4, 0) static void log_va(int level, const char *worker, const char *event, const char *fmt, va_list ap)
{
        char *msg = xvasprintf(fmt, ap);
        size_t len = strlen(msg);
        usec_t now = now_real();

        emit_record(now, level, worker, event, NULL, msg, len, false);
        tap(now, level, worker, event, NULL, msg, len);
        free(msg);
}

void log_msg(int level, const char *worker, const char *event, const char *fmt, ...)
{
        int saved = errno;
        va_list ap;

        if (level <= max_level) {
                va_start(ap, fmt);
                log_va(level, worker, event, fmt, ap);
                va_end(ap);
        }
        errno = saved;
}

void log_output(const char *worker, int stream, const char *line, size_t len)
{
        int saved = errno;
        const char *sname = stream == 0 ? "stdout" : "stderr";

        usec_t now = now_real();

        emit_record(now, stream == 0 ? LOG_INFO : LOG_WARNING, worker, "output", sname, line, len, true);
        tap(now, stream == 0 ? LOG_INFO : LOG_WARNING, worker, "output", sname, line, len);
        errno = saved;
}

void log_banner(const char *fmt, ...)
{
        va_list ap;
        char *msg, *line;

        if (format != LOG_FORMAT_DEV)
                return;
        va_start(ap, fmt);
        msg = xvasprintf(fmt, ap);
        va_end(ap);
        line = color ? xasprintf("\033[1m>>> %s\033[0m\n", msg) : xasprintf(">>> %s\n", msg);
        emit(line, strlen(line));
        free(line);
        free(msg);
}

void fatal(int code, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        log_va(LOG_ERR, NULL, "fatal", fmt, ap);
        va_end(ap);
        log_flush_all();
        log_set_nonblocking(false);
        exit(code);
}
