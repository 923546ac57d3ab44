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
        void *data;
        struct output_stream *prev, *next;
};

static struct output_stream *streams;
static bool paused;
static char rbuf[64 * 1024];

static void emit(struct output_stream *s, const char *p, size_t n)
{
        log_output(s->name, s->stream, p, n);
}

static void flush_pending(struct output_stream *s)
{
        if (s->plen > 0)
                emit(s, s->pending, s->plen);
        s->plen = 0;
        free(s->pending);
        s->pending = NULL;
}

static void feed(struct output_stream *s, const char *p, size_t len)
{
        while (len > 0) {
                if (s->plen > 0) {
                        size_t room = OUTPUT_RECORD_MAX - s->plen;
                        const char *nl = memchr(p, '\n', len < room + 1 ? len : room + 1);

                        if (nl) {
                                size_t k = (size_t)(nl - p);
                                memcpy(s->pending + s->plen, p, k);
                                s->plen += k;
                                flush_pending(s);
                                p += k + 1;
                                len -= k + 1;
                        } else if (len > room) {
                                memcpy(s->pending + s->plen, p, room);
                                s->plen += room;
                                flush_pending(s);
                                p += room;
                                len -= room;
                        } else {
                                memcpy(s->pending + s->plen, p, len);
                                s->plen += len;
                                return;
                        }
                        continue;
                }
                const char *nl = memchr(p, '\n', len < OUTPUT_RECORD_MAX + 1 ? len : OUTPUT_RECORD_MAX + 1);
                if (nl) {
                        emit(s, p, (size_t)(nl - p));
                        len -= (size_t)(nl - p) + 1;
                        p = nl + 1;
                } else if (len > OUTPUT_RECORD_MAX) {
                        emit(s, p, OUTPUT_RECORD_MAX);
                        p += OUTPUT_RECORD_MAX;
                        len -= OUTPUT_RECORD_MAX;
                } else {
                        s->pending = xmalloc(OUTPUT_RECORD_MAX);
                        memcpy(s->pending, p, len);
                        s->plen = len;
                        return;
                }
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

struct output_stream *output_open(struct loop *l, int fd, const char *name, int stream,
                                  void (*on_eof)(struct output_stream *, void *), void *data)
{
        struct output_stream *s = xcalloc(1, sizeof *s);

        *s = (struct output_stream){ .fd = fd, .stream = stream, .name = xstrdup(name), .on_eof = on_eof, .data = data };
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
