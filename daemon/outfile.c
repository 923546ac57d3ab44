/* outfile.c - the registry of files graced writes for workers, their
 * writes and their reopening. Owns one fd per path. A regular file always
 * takes a write whole (or fails: a full disk), so writes never wait there;
 * a FIFO or a terminal given as the path may not, and then its writers wait
 * for EPOLLOUT here instead of blocking the loop. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "outfile.h"

#define RETRY_USEC (100 * USEC_PER_MSEC) /* a target that cannot be polled but said EAGAIN */

struct waiter {
        void (*fn)(void *);
        void *data;
};

struct outfile {
        struct outfile *prev, *next;
        struct loop *loop;
        char *path;
        int fd;
        unsigned refs;
        bool failing; /* a write failed; said once, until one works again */
        struct loop_watch *watch; /* EPOLLOUT while writers wait */
        struct loop_timer *retry;
        struct waiter *waiters;
        size_t n_waiters;
};

static struct outfile *files;
static size_t n_files;

static int open_path(const char *path)
{
        /* O_NONBLOCK: a FIFO or a terminal must never block the loop (a FIFO
         * nobody reads fails with ENXIO instead of hanging graced) */
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0644);

        return fd < 0 ? -errno : fd;
}

struct outfile *outfile_get(struct loop *l, const char *path, int *ret_err)
{
        struct outfile *f;
        int fd;

        for (f = files; f; f = f->next)
                if (strcmp(f->path, path) == 0) {
                        f->refs++;
                        return f;
                }
        fd = open_path(path);
        if (fd < 0) {
                *ret_err = fd;
                return NULL;
        }
        f = xcalloc(1, sizeof *f);
        *f = (struct outfile){ .loop = l, .path = xstrdup(path), .fd = fd, .refs = 1, .next = files };
        if (files)
                files->prev = f;
        files = f;
        n_files++;
        return f;
}

const char *outfile_path(const struct outfile *f) { return f->path; }
size_t outfile_count(void) { return n_files; }

static void stop_waiting(struct outfile *f)
{
        f->watch = loop_del_fd(f->watch);
        if (f->retry)
                loop_timer_set(f->retry, USEC_INFINITY);
}

struct outfile *outfile_put(struct outfile *f)
{
        if (!f || --f->refs > 0)
                return NULL;
        stop_waiting(f);
        f->retry = loop_timer_free(f->retry);
        if (f->prev)
                f->prev->next = f->next;
        else
                files = f->next;
        if (f->next)
                f->next->prev = f->prev;
        n_files--;
        safe_close(f->fd);
        free(f->waiters);
        free(f->path);
        free(f);
        return NULL;
}

/* Every waiter once (they may wait again, or go away, meanwhile). */
static void wake_waiters(struct outfile *f)
{
        struct waiter *w = f->waiters;
        size_t n = f->n_waiters;

        stop_waiting(f);
        f->waiters = NULL;
        f->n_waiters = 0;
        for (size_t i = 0; i < n; i++)
                w[i].fn(w[i].data);
        free(w);
}

static void on_writable(struct loop_watch *lw, int fd, uint32_t events, void *data) { wake_waiters(data); }
static void on_retry(struct loop_timer *t, void *data) { wake_waiters(data); }

void outfile_wait(struct outfile *f, void (*fn)(void *), void *data)
{
        for (size_t i = 0; i < f->n_waiters; i++)
                if (f->waiters[i].data == data)
                        return;
        f->waiters = xrealloc(f->waiters, (f->n_waiters + 1) * sizeof *f->waiters);
        f->waiters[f->n_waiters++] = (struct waiter){ fn, data };
        if (f->watch || (f->retry && loop_timer_when(f->retry) != USEC_INFINITY))
                return;
        f->watch = loop_add_fd(f->loop, f->fd, EPOLLOUT, on_writable, f);
        if (f->watch)
                return;
        /* not pollable (it should not have said EAGAIN): try again soon */
        if (!f->retry)
                f->retry = loop_timer_new(f->loop, on_retry, f);
        loop_timer_set(f->retry, now_mono() + RETRY_USEC);
}

void outfile_unwait(struct outfile *f, void *data)
{
        for (size_t i = 0; i < f->n_waiters; i++)
                if (f->waiters[i].data == data) {
                        f->waiters[i] = f->waiters[--f->n_waiters];
                        break;
                }
        if (f->n_waiters == 0)
                stop_waiting(f);
}

size_t outfile_writev(struct outfile *f, const char *who, const struct iovec *iov_in, int n)
{
        struct iovec iov[8];
        size_t total = 0, done = 0;
        int i = 0;

        if (n > (int)ELEMENTSOF(iov))
                n = (int)ELEMENTSOF(iov);
        for (int k = 0; k < n; k++) {
                iov[k] = iov_in[k];
                total += iov[k].iov_len;
        }
        while (i < n) {
                ssize_t w;

                if (iov[i].iov_len == 0) {
                        i++;
                        continue;
                }
                w = writev(f->fd, iov + i, n - i);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return done;
                        if (!f->failing)
                                log_error(who, "output", "writing %s: %m; its output is lost until writing works again",
                                          f->path);
                        f->failing = true;
                        return total; /* dropped: a full disk must not stop the worker */
                }
                if (f->failing) {
                        log_notice(who, "output", "writing %s works again", f->path);
                        f->failing = false;
                }
                done += (size_t)w;
                /* a short write: go on with what is left */
                while (w > 0 && i < n) {
                        size_t k = MIN((size_t)w, iov[i].iov_len);

                        iov[i].iov_base = (char *)iov[i].iov_base + k;
                        iov[i].iov_len -= k;
                        w -= (ssize_t)k;
                        if (iov[i].iov_len == 0)
                                i++;
                }
        }
        return done;
}

unsigned outfile_reopen_all(unsigned *failed, char **errors)
{
        unsigned ok = 0, bad = 0;
        char *errs = NULL;

        for (struct outfile *f = files; f; f = f->next) {
                int fd = open_path(f->path);

                if (fd < 0) {
                        log_error(NULL, "reopen", "reopening %s: %s; still writing to the file open before",
                                  f->path, strerror(-fd));
                        str_appendf(&errs, "%s%s: %s", errs ? "\n" : "", f->path, strerror(-fd));
                        bad++;
                        continue;
                }
                /* from now on every write goes to the new file; writes are
                 * whole, so nothing is split between the two */
                stop_waiting(f);
                safe_close(f->fd);
                f->fd = fd;
                f->failing = false;
                ok++;
                if (f->n_waiters > 0) { /* they may write to the new one: from the loop, not from here */
                        if (!f->retry)
                                f->retry = loop_timer_new(f->loop, on_retry, f);
                        loop_timer_set(f->retry, now_mono());
                }
        }
        if (failed)
                *failed = bad;
        if (errors)
                *errors = errs;
        else
                free(errs);
        return ok;
}
