/* loop.c - epoll + timerfd. Owns the epoll fd, the timerfd and the timer
 * heap. Must not know about workers or signals: callers add signalfds as
 * ordinary fds. Watchers deleted during dispatch are freed after it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "heap.h"
#include "loop.h"

struct loop_watch {
        struct loop *loop;
        int fd;
        uint32_t events;
        loop_fd_fn fn;
        void *data;
        bool dead;
        struct loop_watch *next_dead;
};

struct loop_timer {
        struct loop *loop;
        struct heap_node node; /* when, position in the heap */
        loop_timer_fn fn;
        void *data;
        uint64_t gen; /* when it was last set */
};

struct loop {
        int epfd;
        int tfd;
        struct loop_watch tfd_watch;
        struct heap timers;
        usec_t armed; /* what the timerfd is set to */
        struct loop_watch *dead;
        bool dispatching;
        uint64_t gen;
        void (*idle)(void *);
        void *idle_data;
};

static void rearm(struct loop *l)
{
        usec_t want = heap_next(&l->timers);
        usec_t at = want == 0 ? 1 : want; /* an it_value of 0 would disarm */
        struct itimerspec its = { 0 };

        if (want == l->armed)
                return;
        if (want != USEC_INFINITY) {
                its.it_value.tv_sec = (time_t)(at / USEC_PER_SEC);
                its.it_value.tv_nsec = (long)(at % USEC_PER_SEC) * 1000;
        }
        /* cannot fail with a valid timerfd and sane values */
        if (timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
                l->armed = want;
}

static void on_timerfd(struct loop_watch *w, int fd, uint32_t events, void *data)
{
        struct loop *l = data;
        uint64_t expirations, gen0;
        usec_t now;

        /* EAGAIN when the timer was re-armed after it fired: harmless */
        (void)!read(fd, &expirations, sizeof expirations);
        l->armed = USEC_INFINITY;
        now = now_mono();
        gen0 = l->gen;
        for (struct heap_node *top; (top = heap_top(&l->timers)) && top->when <= now;) {
                struct loop_timer *t = container_of(top, struct loop_timer, node);

                /* set again during this pass: it fires on the next iteration
                 * (the timerfd is re-armed in the past, so that is at once) */
                if (t->gen > gen0)
                        break;
                heap_remove(&l->timers, &t->node);
                t->fn(t, t->data);
        }
}

struct loop *loop_new(void)
{
        struct loop *l = xcalloc(1, sizeof *l);

        l->epfd = epoll_create1(EPOLL_CLOEXEC);
        l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        l->armed = USEC_INFINITY;
        if (l->epfd < 0 || l->tfd < 0)
                goto fail;
        l->tfd_watch = (struct loop_watch){ .loop = l, .fd = l->tfd, .events = EPOLLIN, .fn = on_timerfd, .data = l };
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->tfd,
                      &(struct epoll_event){ .events = EPOLLIN, .data.ptr = &l->tfd_watch }) < 0)
                goto fail;
        return l;
fail:
        safe_close(l->epfd);
        safe_close(l->tfd);
        free(l);
        return NULL;
}

static void free_dead(struct loop *l)
{
        while (l->dead) {
                struct loop_watch *w = l->dead;
                l->dead = w->next_dead;
                free(w);
        }
}

struct loop *loop_free(struct loop *l)
{
        if (!l)
                return NULL;
        free_dead(l);
        heap_done(&l->timers);
        safe_close(l->epfd);
        safe_close(l->tfd);
        free(l);
        return NULL;
}

struct loop_watch *loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_fn fn, void *data)
{
        struct loop_watch *w = xcalloc(1, sizeof *w);

        *w = (struct loop_watch){ .loop = l, .fd = fd, .events = events, .fn = fn, .data = data };
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &(struct epoll_event){ .events = events, .data.ptr = w }) < 0) {
                int e = errno;
                free(w);
                errno = e;
                return NULL;
        }
        return w;
}

int loop_mod_fd(struct loop_watch *w, uint32_t events)
{
        if (w->events == events)
                return 0;
        if (epoll_ctl(w->loop->epfd, EPOLL_CTL_MOD, w->fd, &(struct epoll_event){ .events = events, .data.ptr = w }) < 0)
                return -errno;
        w->events = events;
        return 0;
}

struct loop_watch *loop_del_fd(struct loop_watch *w)
{
        if (!w)
                return NULL;
        /* ENOENT/EBADF when the fd was already closed: nothing to undo */
        (void)epoll_ctl(w->loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
        w->dead = true;
        w->next_dead = w->loop->dead;
        w->loop->dead = w;
        if (!w->loop->dispatching)
                free_dead(w->loop);
        return NULL;
}

struct loop_timer *loop_timer_new(struct loop *l, loop_timer_fn fn, void *data)
{
        struct loop_timer *t = xcalloc(1, sizeof *t);

        *t = (struct loop_timer){ .loop = l, .node = HEAP_NODE_INIT, .fn = fn, .data = data };
        return t;
}

void loop_timer_set(struct loop_timer *t, usec_t when)
{
        struct loop *l = t->loop;

        if (t->node.when == when)
                return;
        t->gen = ++l->gen;
        heap_set(&l->timers, &t->node, when);
        if (!l->dispatching)
                rearm(l);
}

usec_t loop_timer_when(const struct loop_timer *t) { return t->node.when; }

struct loop_timer *loop_timer_free(struct loop_timer *t)
{
        if (!t)
                return NULL;
        heap_remove(&t->loop->timers, &t->node);
        if (!t->loop->dispatching)
                rearm(t->loop);
        free(t);
        return NULL;
}

void loop_set_idle(struct loop *l, void (*fn)(void *), void *data)
{
        l->idle = fn;
        l->idle_data = data;
}

int loop_run_once(struct loop *l)
{
        struct epoll_event ev[64];
        int n;

        rearm(l);
        n = epoll_wait(l->epfd, ev, (int)ELEMENTSOF(ev), -1);
        if (n < 0)
                return errno == EINTR ? 0 : -errno;
        l->dispatching = true;
        for (int i = 0; i < n; i++) {
                struct loop_watch *w = ev[i].data.ptr;
                if (w->dead)
                        continue;
                w->fn(w, w->fd, ev[i].events, w->data);
        }
        if (l->idle)
                l->idle(l->idle_data);
        l->dispatching = false;
        free_dead(l);
        rearm(l);
        return 0;
}
