/* output.c - pipes -> records -> log. Owns the read ends of the workers'
 * pipes. Memory per stream stays small: the partial-line buffer exists only
 * while a partial line is pending; reads go through one shared buffer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "output.h"

struct output_stream {
        struct loop_watch *watch;
        int fd;
        int stream;
        char *name; /* a copy: the worker's own may go away in a reload */
        char *pending; /* OUTPUT_RECORD_MAX bytes when allocated */
        size_t plen;
        bool eof;
        void (*on_eof)(struct output_stream *, void *);
        void (*on_record)(const char *p, size_t n, void *data);
        void *data;
        struct output_stream *prev, *next;
};

static struct output_stream *streams;
static bool paused;
static char rbuf[64 * 1024];

static void emit(struct output_stream *s, const char *p, size_t n)
{
        log_output(s->name, s->stream, p, n);
        if (s->on_record)
                s->on_record(p, n, s->data);
}

void output_on_record(struct output_stream *s, void (*fn)(const char *p, size_t n, void *data))
{
        s->on_record = fn;
}

static void flush_pending(struct output_stream *s)
{
        if (s->plen > 0)
                emit(s, s->pending, s->plen);
        s->plen = 0;
        free(s->pending);
        s->pending = NULL;
}

/* Adds to the partial line (n <= the room left). */
static void keep(struct output_stream *s, const char *p, size_t n)
{
        if (!s->pending)
                s->pending = xmalloc(OUTPUT_RECORD_MAX);
        memcpy(s->pending + s->plen, p, n);
        s->plen += n;
}

/* A line longer than a record: the partial line and room bytes of p make
 * OUTPUT_RECORD_MAX. Emits them up to the last character boundary (a
 * multi-byte character cut in two would become U+FFFD on both sides); the
 * bytes after it start the next record. Returns the bytes of p used. */
static size_t cut_record(struct output_stream *s, const char *p, size_t room)
{
        size_t k;

        if (s->plen == 0) {
                k = utf8_cut(p, OUTPUT_RECORD_MAX);
                emit(s, p, k);
                return k;
        }
        keep(s, p, room);
        k = utf8_cut(s->pending, OUTPUT_RECORD_MAX);
        emit(s, s->pending, k);
        memmove(s->pending, s->pending + k, OUTPUT_RECORD_MAX - k);
        s->plen = OUTPUT_RECORD_MAX - k;
        if (s->plen == 0)
                flush_pending(s);
        return room;
}

static void feed(struct output_stream *s, const char *p, size_t len)
{
        while (len > 0) {
                size_t room = OUTPUT_RECORD_MAX - s->plen, k;
                const char *nl = memchr(p, '\n', MIN(len, room + 1));

                if (nl) {
                        k = (size_t)(nl - p);
                        if (s->plen > 0) {
                                keep(s, p, k);
                                flush_pending(s);
                        } else {
                                emit(s, p, k);
                        }
                        k++;
                } else if (len > room) {
                        k = cut_record(s, p, room);
                } else {
                        keep(s, p, len);
                        return;
                }
                p += k;
                len -= k;
        }
}

static void finish(struct output_stream *s)
{
        flush_pending(s);
        s->eof = true;
        s->watch = loop_del_fd(s->watch);
        s->fd = safe_close(s->fd);
        if (s->on_eof)
                s->on_eof(s, s->data);
}

/* Reads until EAGAIN, EOF, congestion (unless forced) or a fairness bound. */
static bool read_some(struct output_stream *s, bool force)
{
        for (int i = 0; force || i < 4; i++) {
                ssize_t n;

                if (s->eof)
                        return true;
                if (!force && log_congested())
                        return false;
                n = read(s->fd, rbuf, sizeof rbuf);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return false;
                        log_warning(s->name, "output", "reading %s: %m",
                                    s->stream == 0 ? "stdout" : "stderr");
                        n = 0;
                }
                if (n == 0) {
                        finish(s);
                        return true;
                }
                feed(s, rbuf, (size_t)n);
        }
        return false;
}

static void on_readable(struct loop_watch *w, int fd, uint32_t events, void *data)
{
        struct output_stream *s = data;

        /* a hang-up while paused would be reported again and again: the
         * writer is gone, so what is left in the pipe is bounded; read it all */
        read_some(s, (events & (EPOLLHUP | EPOLLERR)) != 0);
}

/* output_open(); nonblock: the fd is not made non-blocking here (it is already). */
static struct output_stream *open_stream(struct loop *l, int fd, const char *name, int stream,
                                         void (*on_eof)(struct output_stream *, void *), void *data, bool nonblock)
{
        struct output_stream *s = xcalloc(1, sizeof *s);

        *s = (struct output_stream){ .fd = fd, .stream = stream, .name = xstrdup(name), .on_eof = on_eof, .data = data };
        if (!nonblock)
                (void)fd_set_nonblock(fd, true);
        s->watch = loop_add_fd(l, fd, paused ? 0 : EPOLLIN, on_readable, s);
        if (!s->watch) {
                int e = errno;
                safe_close(fd);
                free(s->name);
                free(s);
                errno = e;
                return NULL;
        }
        s->next = streams;
        if (streams)
                streams->prev = s;
        streams = s;
        return s;
}

struct output_stream *output_open(struct loop *l, int fd, const char *name, int stream,
                                  void (*on_eof)(struct output_stream *, void *), void *data)
{
        return open_stream(l, fd, name, stream, on_eof, data, false);
}

void output_rename(struct output_stream *s, const char *name)
{
        free(s->name);
        s->name = xstrdup(name);
}

struct output_stream *output_close(struct output_stream *s)
{
        if (!s)
                return NULL;
        if (!s->eof) {
                flush_pending(s);
                s->watch = loop_del_fd(s->watch);
                s->fd = safe_close(s->fd);
        }
        if (s->prev)
                s->prev->next = s->next;
        else
                streams = s->next;
        if (s->next)
                s->next->prev = s->prev;
        free(s->name);
        free(s);
        return NULL;
}

void output_set_paused(bool p)
{
        if (p == paused)
                return;
        paused = p;
        for (struct output_stream *s = streams; s; s = s->next)
                if (s->watch)
                        (void)loop_mod_fd(s->watch, p ? 0 : EPOLLIN);
}

bool output_drain(struct output_stream *s)
{
        return read_some(s, true) || s->eof;
}

/* ---- across a reexec ---- */

struct output_stream *output_next(struct output_stream *s) { return s ? s->next : streams; }
int output_fd(const struct output_stream *s) { return s->fd; }
const char *output_name(const struct output_stream *s) { return s->name; }
int output_stream_index(const struct output_stream *s) { return s->stream; }
void *output_data(const struct output_stream *s) { return s->data; }

const char *output_pending(const struct output_stream *s, size_t *len)
{
        *len = s->plen;
        return s->plen ? s->pending : NULL;
}

struct output_stream *output_adopt(struct loop *l, int fd, const char *name, int stream, const char *pending,
                                   size_t plen, void (*on_eof)(struct output_stream *s, void *data), void *data)
{
        /* O_NONBLOCK belongs to the pipe's description: it went through the exec */
        struct output_stream *s = open_stream(l, fd, name, stream, on_eof, data, true);

        /* the bytes of a line not ended yet: the next read goes on with it */
        if (s && plen)
                keep(s, pending, MIN(plen, OUTPUT_RECORD_MAX));
        return s;
}
