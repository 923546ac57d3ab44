/* output.c - pipes -> records -> log, and pipes -> files. Owns the read
 * ends of the workers' pipes. Memory per stream stays small: the
 * partial-line buffer exists only while a partial line is pending; reads go
 * through one shared buffer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "outfile.h"
#include "output.h"

/* A file stream's own state. */
struct filestate {
        struct loop *loop;
        struct outfile *file;
        char *tail; /* the last line's start, until its newline comes */
        size_t tlen, tcap;
        char *unsent; /* what the file could not take yet (a FIFO, a terminal) */
        size_t ulen;
        bool eof_seen; /* the pipe ended while unsent bytes waited */
};

struct output_stream {
        struct loop_watch *watch;
        struct filestate *fs; /* a file stream */
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

/* ---- file streams ---- */

static void on_file_writable(void *data);
static bool finish(struct output_stream *s);

/* Writes a then b (either may be empty; nothing may be waiting already):
 * what the file does not take now waits in fs->unsent, and the pipe is not
 * read until it is written. */
static void file_write(struct output_stream *s, const char *a, size_t alen, const char *b, size_t blen)
{
        struct filestate *fs = s->fs;
        struct iovec iov[2] = { { (void *)a, alen }, { (void *)b, blen } };
        size_t done = outfile_writev(fs->file, s->name, iov, 2), total = alen + blen;

        if (done == total)
                return;
        fs->unsent = xmalloc(total - done);
        if (done < alen) {
                memcpy(fs->unsent, a + done, alen - done);
                memcpy(fs->unsent + alen - done, b, blen);
        } else {
                memcpy(fs->unsent, b + (done - alen), total - done);
        }
        fs->ulen = total - done;
        /* a watch that is only told "hang-up" again and again must go */
        s->watch = loop_del_fd(s->watch);
        outfile_wait(fs->file, on_file_writable, s);
}

/* Keeps p as (the rest of) the last line; a line that grows past the
 * limit is written as it is, in pieces. */
static void file_keep(struct output_stream *s, const char *p, size_t n)
{
        struct filestate *fs = s->fs;

        while (n > 0 && fs->ulen == 0) {
                size_t k = MIN(n, OUTPUT_FILE_LINE_MAX - fs->tlen);

                if (fs->tlen + k > fs->tcap) {
                        fs->tcap = MIN(MAX(fs->tcap * 2, fs->tlen + k), (size_t)OUTPUT_FILE_LINE_MAX);
                        fs->tail = xrealloc(fs->tail, fs->tcap);
                }
                memcpy(fs->tail + fs->tlen, p, k);
                fs->tlen += k;
                p += k;
                n -= k;
                if (fs->tlen == OUTPUT_FILE_LINE_MAX) {
                        fs->tlen = 0;
                        file_write(s, fs->tail, OUTPUT_FILE_LINE_MAX, NULL, 0);
                }
        }
        if (n > 0) { /* the file stopped taking bytes: keep them with the rest */
                fs->unsent = xrealloc(fs->unsent, fs->ulen + n);
                memcpy(fs->unsent + fs->ulen, p, n);
                fs->ulen += n;
        }
}

/* Everything up to the last newline of what was read goes out in one
 * write, with the line it completes. */
static void feed_file(struct output_stream *s, const char *p, size_t n)
{
        struct filestate *fs = s->fs;
        const char *nl = memrchr(p, '\n', n);
        size_t k;

        if (!nl) {
                file_keep(s, p, n);
                return;
        }
        k = (size_t)(nl - p) + 1;
        file_write(s, fs->tail, fs->tlen, p, k);
        /* the partial line's buffer exists only while there is one */
        free(fs->tail);
        fs->tail = NULL;
        fs->tlen = fs->tcap = 0;
        if (fs->ulen == 0)
                file_keep(s, p + k, n - k);
        else if (n > k) { /* behind what waits */
                fs->unsent = xrealloc(fs->unsent, fs->ulen + n - k);
                memcpy(fs->unsent + fs->ulen, p + k, n - k);
                fs->ulen += n - k;
        }
}

/* The last bytes, without a newline; false while the file cannot take them. */
static bool file_flush_tail(struct output_stream *s)
{
        struct filestate *fs = s->fs;

        if (fs->ulen == 0 && fs->tlen > 0) {
                size_t n = fs->tlen;

                fs->tlen = 0;
                file_write(s, fs->tail, n, NULL, 0);
        }
        return fs->ulen == 0;
}

static void on_readable(struct loop_watch *w, int fd, uint32_t events, void *data);

static void on_file_writable(void *data)
{
        struct output_stream *s = data;
        struct filestate *fs = s->fs;
        char *u = fs->unsent;
        size_t n = fs->ulen;

        fs->unsent = NULL;
        fs->ulen = 0;
        file_write(s, u, n, NULL, 0);
        free(u);
        if (fs->ulen > 0)
                return; /* waits again */
        if (fs->eof_seen) {
                (void)finish(s); /* may free s (on_eof) */
                return;
        }
        s->watch = loop_add_fd(fs->loop, s->fd, EPOLLIN, on_readable, s);
        if (!s->watch) {
                log_warning(s->name, "output", "watching output: %m");
                (void)finish(s);
        }
}

/* The end of the pipe: true when it is over (s may be freed then: on_eof),
 * false while a file stream waits for its file to take the last bytes. */
static bool finish(struct output_stream *s)
{
        if (s->fs && !file_flush_tail(s)) {
                /* the file cannot take the last bytes yet: EOF once it has */
                s->fs->eof_seen = true;
                return false;
        }
        flush_pending(s);
        s->eof = true;
        s->watch = loop_del_fd(s->watch);
        s->fd = safe_close(s->fd);
        if (s->on_eof)
                s->on_eof(s, s->data);
        return true;
}

/* Reads until EAGAIN, EOF, congestion (unless forced) or a fairness bound. */
static bool read_some(struct output_stream *s, bool force)
{
        for (int i = 0; force || i < 4; i++) {
                ssize_t n;

                if (s->eof)
                        return true;
                if (s->fs && s->fs->ulen > 0)
                        return false; /* waiting for the file */
                if (!s->fs && !force && log_congested())
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
                if (n == 0)
                        return finish(s); /* s may be gone */
                if (s->fs)
                        feed_file(s, rbuf, (size_t)n);
                else
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

/* output_open(), output_open_file(); nonblock: the fd is not made
 * non-blocking here (it is already). */
static struct output_stream *open_stream(struct loop *l, int fd, struct filestate *fs, const char *name, int stream,
                                         void (*on_eof)(struct output_stream *, void *), void *data, bool nonblock)
{
        struct output_stream *s = xcalloc(1, sizeof *s);

        *s = (struct output_stream){ .fs = fs, .fd = fd, .stream = stream, .name = xstrdup(name),
                                     .on_eof = on_eof, .data = data };
        if (!nonblock)
                (void)fd_set_nonblock(fd, true);
        /* a file stream reads whatever the log is doing */
        s->watch = loop_add_fd(l, fd, paused && !fs ? 0 : EPOLLIN, on_readable, s);
        if (!s->watch) {
                int e = errno;
                safe_close(fd);
                if (fs)
                        outfile_put(fs->file);
                free(fs);
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
        return open_stream(l, fd, NULL, name, stream, on_eof, data, false);
}

struct output_stream *output_open_file(struct loop *l, int fd, struct outfile *file, const char *name, int stream,
                                       void (*on_eof)(struct output_stream *, void *), void *data)
{
        struct filestate *fs = xcalloc(1, sizeof *fs);

        fs->loop = l;
        fs->file = file;
        return open_stream(l, fd, fs, name, stream, on_eof, data, false);
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
        if (s->fs) {
                /* what the file would take now; then it is let go */
                (void)file_flush_tail(s);
                outfile_unwait(s->fs->file, s);
                outfile_put(s->fs->file);
                free(s->fs->tail);
                free(s->fs->unsent);
                free(s->fs);
                s->fs = NULL;
        }
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
                if (s->watch && !s->fs)
                        (void)loop_mod_fd(s->watch, p ? 0 : EPOLLIN);
}

bool output_drain(struct output_stream *s)
{
        return read_some(s, true) || s->eof;
}

/* ---- across a reexec ---- */

void output_read_before_exec(void)
{
        for (struct output_stream *s = streams; s; s = s->next) {
                /* a stream whose lines a policy reads (a log probe) is left
                 * as it is: the state has its worker already */
                if (s->eof || s->on_record || (s->fs && s->fs->ulen > 0))
                        continue;
                for (int i = 0; i < 4 && !(s->fs && s->fs->ulen > 0); i++) {
                        ssize_t n = read(s->fd, rbuf, sizeof rbuf);

                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0) /* nothing now, an error or the end: the new graced sees it too */
                                break;
                        if (s->fs)
                                feed_file(s, rbuf, (size_t)n);
                        else
                                feed(s, rbuf, (size_t)n);
                }
        }
}

struct output_stream *output_next(struct output_stream *s) { return s ? s->next : streams; }
int output_fd(const struct output_stream *s) { return s->fd; }
const char *output_name(const struct output_stream *s) { return s->name; }
int output_stream_index(const struct output_stream *s) { return s->stream; }
void *output_data(const struct output_stream *s) { return s->data; }

const char *output_pending(const struct output_stream *s, size_t *len)
{
        if (s->fs) { /* while bytes wait for the file, the partial line is among them */
                *len = s->fs->ulen ? s->fs->ulen : s->fs->tlen;
                return !*len ? NULL : s->fs->ulen ? s->fs->unsent : s->fs->tail;
        }
        *len = s->plen;
        return s->plen ? s->pending : NULL;
}

struct outfile *output_file(const struct output_stream *s) { return s->fs ? s->fs->file : NULL; }

struct output_stream *output_adopt(struct loop *l, int fd, struct outfile *file, const char *name, int stream,
                                   const char *pending, size_t plen,
                                   void (*on_eof)(struct output_stream *s, void *data), void *data)
{
        struct filestate *fs = NULL;
        struct output_stream *s;

        if (file) {
                fs = xcalloc(1, sizeof *fs);
                fs->loop = l;
                fs->file = file;
        }
        /* O_NONBLOCK belongs to the pipe's description: it went through the exec */
        s = open_stream(l, fd, fs, name, stream, on_eof, data, true);

        /* the bytes of a line not ended yet: the next read goes on with it */
        if (s && plen && fs)
                feed_file(s, pending, MIN(plen, (size_t)OUTPUT_FILE_PENDING_MAX));
        else if (s && plen)
                keep(s, pending, MIN(plen, OUTPUT_RECORD_MAX));
        return s;
}
