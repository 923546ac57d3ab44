/* log.h - graced's own records and the workers' captured lines, in one of
 * four formats (text, dev, json, journal). Records are queued in a bounded
 * buffer and written to stderr without blocking; when the buffer is above
 * its high-water mark, log_congested() is true and callers stop reading
 * worker pipes (backpressure: nothing is ever dropped). Logging preserves
 * errno. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>
#include "util.h"

enum log_format { LOG_FORMAT_AUTO, LOG_FORMAT_TEXT, LOG_FORMAT_DEV, LOG_FORMAT_JSON, LOG_FORMAT_JOURNAL };
enum log_color { LOG_COLOR_AUTO, LOG_COLOR_ALWAYS, LOG_COLOR_NEVER };

/* Resolves AUTO (journal when $JOURNAL_STREAM matches stderr, dev when
 * stderr is a terminal, text otherwise). max_level: LOG_DEBUG..LOG_ERR. */
void log_setup(enum log_format fmt, enum log_color color, int max_level);
enum log_format log_get_format(void);
int log_get_max_level(void);
/* Width of the name column in dev mode (longest worker name); a longer
 * name widens its own records. */
void log_set_name_width(size_t w);
/* Dev mode with colours: give name the next colour of the palette now
 * (call in the order the workers are defined); a name never added gets
 * its colour when it first logs, and keeps it. No-op otherwise. */
void log_add_name(const char *name);
/* Non-blocking writes once the loop runs (on a description of graced's
 * own, never on the shared fd 2) / back to plain fd 2 (at exit). */
void log_set_nonblocking(bool on);
/* The fd records are written to (for the loop's EPOLLOUT watch). */
int log_get_fd(void);

void log_msg(int level, const char *worker, const char *event, const char *fmt, ...) _printf_(4, 5);
#define log_debug(w, ev, ...) log_msg(LOG_DEBUG, w, ev, __VA_ARGS__)
#define log_info(w, ev, ...) log_msg(LOG_INFO, w, ev, __VA_ARGS__)
#define log_notice(w, ev, ...) log_msg(LOG_NOTICE, w, ev, __VA_ARGS__)
#define log_warning(w, ev, ...) log_msg(LOG_WARNING, w, ev, __VA_ARGS__)
#define log_error(w, ev, ...) log_msg(LOG_ERR, w, ev, __VA_ARGS__)
/* Start-up failure: log and exit(code). */
_noreturn_ void fatal(int code, const char *fmt, ...) _printf_(2, 3);

/* One captured line of a worker (without its newline). */
void log_output(const char *worker, int stream, const char *line, size_t len);

/* A record as it is made, for the tap below. */
struct log_record {
        usec_t ts;          /* CLOCK_REALTIME */
        int level;
        const char *worker; /* never NULL: records of graced about itself are not tapped */
        const char *event;  /* "output" for a captured line */
        const char *stream; /* "stdout" / "stderr" for a captured line, NULL for graced's own */
        const char *msg;    /* not NUL-terminated; len bytes */
        size_t len;
};
/* fn sees every record about a worker that is logged (graced's own ones
 * that pass the level filter, and every captured line), in the order they
 * are made, whatever the format; NULL: none. fn must not log about a
 * worker itself (it would see its own record). */
void log_set_tap(void (*fn)(const struct log_record *r, void *data), void *data);

/* The text format of one record, appended to b: prefix (the timestamp and
 * what else precedes the name, e.g. "2026-11-24T19:00:00.123Z graced[42]: "),
 * then "NAME[STREAM]: " for a captured line (stream not NULL) or "NAME: "
 * for a record about a worker, "error: " or "warning: " for graced's own
 * records at those levels, the message with control characters other than
 * tab escaped (\xNN: a line can never forge a record) and a newline. graced's
 * text log and `gracectl logs` both print records with it. */
void log_format_text(struct sbuf *b, const char *prefix, int level, const char *worker, const char *stream,
                     const char *msg, size_t len);
/* "error", "warning", "info"...; and back (-1: none of them). */
const char *log_level_name(int level);
int log_level_from_name(const char *name);

/* A highlighted line for the person at the terminal (dev mode only;
 * bold when colours are on). A newline is added. */
void log_banner(const char *fmt, ...) _printf_(1, 2);

/* Backpressure. */
bool log_congested(void);
bool log_pending(void);
/* Write as much as possible now; returns true when everything is written. */
bool log_flush(void);
/* Block until everything is written (at exit). */
void log_flush_all(void);
/* The loop's hook: called with true when the buffer needs EPOLLOUT on fd 2,
 * false when it is empty again; and on each congestion change. */
void log_set_hooks(void (*want_write)(bool on, void *data), void (*congestion)(bool congested, void *data),
                   void *data);
