/* check_loop.c - unit tests of the event loop (loop.c): fd watchers on
 * pipes, removal from inside callbacks, the timer heap and the idle hook.
 * loop_run_once() waits forever when nothing is ready, so every test makes
 * sure something is ready (a pipe it wrote itself, or a timer in the past)
 * before calling it; nothing here sleeps. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "heap.h"
#include "hmap.h"
#include "loop.h"
#include "util.h"

/* ---- helpers ------------------------------------------------------------ */

struct pipe_pair {
        int r, w;
};

static struct pipe_pair mk_pipe(void)
{
        int p[2];

        ck_assert_int_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
        return (struct pipe_pair){ p[0], p[1] };
}

static void put(int fd)
{
        ck_assert_int_eq(write(fd, "x", 1), 1);
}

static void drain(int fd)
{
        char buf[256];

        while (read(fd, buf, sizeof buf) > 0)
                ;
}

static void close_pipe(struct pipe_pair *p)
{
        if (p->r >= 0)
                close(p->r);
        if (p->w >= 0)
                close(p->w);
        p->r = p->w = -1;
}

/* Every timer and watcher a test creates is registered, so that a test that
 * fails half-way leaks nothing (teardown frees what is left). */
static struct loop_timer *timers[256];
static struct loop_watch *watches[64];

static struct loop_timer *tnew(struct loop *l, loop_timer_fn fn, void *data)
{
        struct loop_timer *t = loop_timer_new(l, fn, data);

        for (size_t i = 0; i < ELEMENTSOF(timers); i++)
                if (!timers[i]) {
                        timers[i] = t;
                        return t;
                }
        ck_abort_msg("too many timers");
        return NULL;
}

static struct loop_timer *tfree(struct loop_timer *t)
{
        for (size_t i = 0; t && i < ELEMENTSOF(timers); i++)
                if (timers[i] == t)
                        timers[i] = NULL;
        return loop_timer_free(t);
}

static struct loop_watch *wadd(struct loop *l, int fd, uint32_t events, loop_fd_fn fn, void *data)
{
        struct loop_watch *w = loop_add_fd(l, fd, events, fn, data);

        for (size_t i = 0; w && i < ELEMENTSOF(watches); i++)
                if (!watches[i]) {
                        watches[i] = w;
                        return w;
                }
        ck_assert_msg(!w, "too many watchers");
        return NULL;
}

static struct loop_watch *wdel(struct loop_watch *w)
{
        for (size_t i = 0; w && i < ELEMENTSOF(watches); i++)
                if (watches[i] == w)
                        watches[i] = NULL;
        return loop_del_fd(w);
}

/* A trace of what fired, in order: "fd:NAME", "timer:NAME", "idle". */
static char trace[4096];

static void note(const char *what)
{
        size_t len = strlen(trace);

        snprintf(trace + len, sizeof trace - len, "%s%s", len ? " " : "", what);
}

struct wctx {
        const char *name;
        unsigned calls;
        int last_fd;
        uint32_t last_events;
        bool drain;                    /* read the fd empty */
        struct loop_watch *self;       /* set by the test */
        struct loop_watch **victim;    /* delete this watcher (and NULL it) */
        bool del_self;
        struct loop_timer *arm;        /* set this timer ... */
        usec_t arm_at;                 /* ... to this deadline */
};

static void on_fd(struct loop_watch *w, int fd, uint32_t events, void *data)
{
        struct wctx *c = data;
        char buf[32];

        ck_assert_ptr_eq(w, c->self);
        c->calls++;
        c->last_fd = fd;
        c->last_events = events;
        snprintf(buf, sizeof buf, "fd:%s", c->name);
        note(buf);
        if (c->drain)
                drain(fd);
        if (c->victim && *c->victim) {
                *c->victim = wdel(*c->victim);
        }
        if (c->del_self) {
                c->self = wdel(w);
                c->del_self = false;
        }
        if (c->arm)
                loop_timer_set(c->arm, c->arm_at);
}

struct tctx {
        const char *name;
        unsigned calls;
        struct loop_timer *self;
        unsigned rearm_times;          /* re-arm itself to rearm_at this many times */
        usec_t rearm_at;
        struct loop_timer **free_victim;
        bool free_self;
};

static void on_timer(struct loop_timer *t, void *data)
{
        struct tctx *c = data;
        char buf[32];

        ck_assert_ptr_eq(t, c->self);
        c->calls++;
        snprintf(buf, sizeof buf, "timer:%s", c->name);
        note(buf);
        if (c->free_victim && *c->free_victim)
                *c->free_victim = tfree(*c->free_victim);
        if (c->rearm_times) {
                c->rearm_times--;
                loop_timer_set(t, c->rearm_at);
        }
        if (c->free_self)
                c->self = tfree(t);
}

static unsigned idle_calls;

static void on_idle(void *data)
{
        ck_assert_ptr_eq(data, &idle_calls);
        idle_calls++;
        note("idle");
}

static struct loop *L;

static void setup(void)
{
        trace[0] = 0;
        idle_calls = 0;
        L = loop_new();
        ck_assert_ptr_nonnull(L);
}

static void teardown(void)
{
        for (size_t i = 0; i < ELEMENTSOF(timers); i++)
                timers[i] = loop_timer_free(timers[i]);
        for (size_t i = 0; i < ELEMENTSOF(watches); i++)
                watches[i] = loop_del_fd(watches[i]);
        L = loop_free(L);
}

/* ---- fd watchers -------------------------------------------------------- */

START_TEST(test_fd_fires_on_pipe)
{
        struct pipe_pair p = mk_pipe();
        struct wctx c = { .name = "p", .drain = true };

        c.self = wadd(L, p.r, EPOLLIN, on_fd, &c);
        ck_assert_ptr_nonnull(c.self);
        put(p.w);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(c.calls, 1);
        ck_assert_int_eq(c.last_fd, p.r);
        ck_assert(c.last_events & EPOLLIN);

        /* level-triggered: data left unread fires again */
        c.drain = false;
        put(p.w);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(c.calls, 2);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(c.calls, 3);
        drain(p.r);

        /* the writer's end closed: EOF is reported (EPOLLHUP) */
        close(p.w);
        p.w = -1;
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(c.calls, 4);
        ck_assert(c.last_events & EPOLLHUP);

        c.self = wdel(c.self);
        ck_assert_ptr_null(c.self);
        close_pipe(&p);
}
END_TEST

START_TEST(test_fd_only_ready_ones_fire)
{
        struct pipe_pair a = mk_pipe(), b = mk_pipe();
        struct wctx ca = { .name = "a", .drain = true }, cb = { .name = "b", .drain = true };

        ca.self = wadd(L, a.r, EPOLLIN, on_fd, &ca);
        cb.self = wadd(L, b.r, EPOLLIN, on_fd, &cb);
        ck_assert_ptr_nonnull(ca.self);
        ck_assert_ptr_nonnull(cb.self);
        put(b.w);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(ca.calls, 0);
        ck_assert_uint_eq(cb.calls, 1);
        put(a.w);
        put(b.w);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(ca.calls, 1);
        ck_assert_uint_eq(cb.calls, 2);
        wdel(ca.self);
        wdel(cb.self);
        close_pipe(&a);
        close_pipe(&b);
}
END_TEST

START_TEST(test_fd_mod)
{
        struct pipe_pair a = mk_pipe(), kick = mk_pipe();
        struct wctx cw = { .name = "w" }, ck = { .name = "kick", .drain = true };

        /* the write end of an empty pipe is writable but never readable */
        cw.self = wadd(L, a.w, EPOLLIN, on_fd, &cw);
        ck.self = wadd(L, kick.r, EPOLLIN, on_fd, &ck);
        ck_assert_ptr_nonnull(cw.self);
        put(kick.w);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(cw.calls, 0);
        ck_assert_uint_eq(ck.calls, 1);

        ck_assert_int_eq(loop_mod_fd(cw.self, EPOLLOUT), 0);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(cw.calls, 1);
        ck_assert(cw.last_events & EPOLLOUT);

        ck_assert_int_eq(loop_mod_fd(cw.self, EPOLLIN), 0);
        put(kick.w);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(cw.calls, 1);
        ck_assert_uint_eq(ck.calls, 2);
        wdel(cw.self);
        wdel(ck.self);
        close_pipe(&a);
        close_pipe(&kick);
}
END_TEST

START_TEST(test_fd_regular_file_refused)
{
        char path[] = "/tmp/check_loop.XXXXXX";
        int fd = mkstemp(path);
        struct wctx c = { .name = "file" };

        ck_assert_int_ge(fd, 0);
        unlink(path);
        errno = 0;
        ck_assert_ptr_null(wadd(L, fd, EPOLLIN, on_fd, &c));
        ck_assert_int_eq(errno, EPERM);
        close(fd);
}
END_TEST

START_TEST(test_del_self_in_callback)
{
        struct pipe_pair a = mk_pipe(), kick = mk_pipe();
        struct wctx ca = { .name = "a", .del_self = true }, ck = { .name = "kick", .drain = true };

        ca.self = wadd(L, a.r, EPOLLIN, on_fd, &ca);
        ck.self = wadd(L, kick.r, EPOLLIN, on_fd, &ck);
        put(a.w); /* never read: would fire on every iteration */
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(ca.calls, 1);
        ck_assert_ptr_null(ca.self);

        /* a's fd is still readable, but it is no longer watched */
        put(kick.w);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(ca.calls, 1);
        ck_assert_uint_eq(ck.calls, 1);
        wdel(ck.self);
        close_pipe(&a);
        close_pipe(&kick);
}
END_TEST

/* Both are ready in the same iteration and each deletes the other: the one
 * dispatched first wins, the other (already in the epoll batch) must not be
 * called, and nothing touches freed memory (valgrind). */
START_TEST(test_del_other_in_callback)
{
        struct pipe_pair a = mk_pipe(), b = mk_pipe(), kick = mk_pipe();
        struct wctx ca = { .name = "a" }, cb = { .name = "b" }, ck = { .name = "kick", .drain = true };
        struct loop_watch *wa, *wb;

        wa = ca.self = wadd(L, a.r, EPOLLIN, on_fd, &ca);
        wb = cb.self = wadd(L, b.r, EPOLLIN, on_fd, &cb);
        ck.self = wadd(L, kick.r, EPOLLIN, on_fd, &ck);
        ca.victim = &wb;
        cb.victim = &wa;
        put(a.w);
        put(b.w);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(ca.calls + cb.calls, 1);
        ck_assert(wa == NULL || wb == NULL);

        /* the survivor still works; the deleted one never fires again */
        put(kick.w);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(ca.calls + cb.calls, 2);
        ck_assert_uint_eq(ca.calls == 2 || cb.calls == 2, 1);
        ck_assert_uint_eq(ck.calls, 1);
        if (wa)
                wdel(wa);
        if (wb)
                wdel(wb);
        wdel(ck.self);
        close_pipe(&a);
        close_pipe(&b);
        close_pipe(&kick);
}
END_TEST

/* A watcher deleted and its fd closed inside another's callback, then the
 * fd number reused by a new pipe watched by a new watcher: only the new one
 * fires. */
START_TEST(test_del_close_reuse_in_callback)
{
        struct pipe_pair a = mk_pipe(), b = mk_pipe(), c;
        struct wctx ca = { .name = "a", .drain = true }, cb = { .name = "b" }, cc = { .name = "c", .drain = true };
        struct loop_watch *wb;
        int bfd = b.r;

        ca.self = wadd(L, a.r, EPOLLIN, on_fd, &ca);
        wb = cb.self = wadd(L, b.r, EPOLLIN, on_fd, &cb);
        ca.victim = &wb;
        put(a.w);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(ca.calls, 1);
        ck_assert_ptr_null(wb);
        close_pipe(&b);
        c = mk_pipe();
        cc.self = wadd(L, c.r, EPOLLIN, on_fd, &cc);
        ck_assert_ptr_nonnull(cc.self);
        (void)bfd;
        put(c.w);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(cc.calls, 1);
        ck_assert_uint_eq(cb.calls, 0);
        wdel(ca.self);
        wdel(cc.self);
        close_pipe(&a);
        close_pipe(&c);
}
END_TEST

/* ---- timers ------------------------------------------------------------- */

START_TEST(test_timers_deadline_order)
{
        usec_t now = now_mono();
        struct tctx c1 = { .name = "1" }, c2 = { .name = "2" }, c3 = { .name = "3" }, c4 = { .name = "4" },
                    cfar = { .name = "far" };

        c1.self = tnew(L, on_timer, &c1);
        c2.self = tnew(L, on_timer, &c2);
        c3.self = tnew(L, on_timer, &c3);
        c4.self = tnew(L, on_timer, &c4);
        cfar.self = tnew(L, on_timer, &cfar);
        ck_assert_uint_eq(loop_timer_when(c1.self), USEC_INFINITY);
        /* armed out of order, all in the past but one */
        loop_timer_set(c3.self, now - 2000);
        loop_timer_set(cfar.self, now + 3600 * USEC_PER_SEC);
        loop_timer_set(c1.self, now - 4000);
        loop_timer_set(c4.self, now - 1000);
        loop_timer_set(c2.self, now - 3000);
        ck_assert_uint_eq(loop_timer_when(c2.self), now - 3000);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_str_eq(trace, "timer:1 timer:2 timer:3 timer:4");
        /* fired timers are disarmed */
        ck_assert_uint_eq(loop_timer_when(c1.self), USEC_INFINITY);
        ck_assert_uint_eq(loop_timer_when(c4.self), USEC_INFINITY);
        ck_assert_uint_eq(cfar.calls, 0);
        ck_assert_uint_eq(loop_timer_when(cfar.self), now + 3600 * USEC_PER_SEC);
        tfree(c1.self);
        tfree(c2.self);
        tfree(c3.self);
        tfree(c4.self);
        tfree(cfar.self);
}
END_TEST

START_TEST(test_timer_many_heap_order)
{
        enum { N = 100 };
        static struct tctx c[N];
        static char names[N][8];
        usec_t now = now_mono();
        char expect[4096] = "";

        /* a permutation of 1..N: deadlines now - 1000 * (N + 1 - k) */
        for (int i = 0; i < N; i++) {
                int k = (i * 37) % N; /* 37 is prime to 100 */
                snprintf(names[k], sizeof names[k], "%d", k);
                c[k] = (struct tctx){ .name = names[k] };
                c[k].self = tnew(L, on_timer, &c[k]);
                loop_timer_set(c[k].self, now - 1000 * (usec_t)(N + 1 - k));
        }
        /* move a few around after insertion (re-arming in the heap) */
        loop_timer_set(c[50].self, now + 3600 * USEC_PER_SEC);
        loop_timer_set(c[50].self, now - 1000 * (usec_t)(N + 1 - 50));
        loop_timer_set(c[0].self, USEC_INFINITY);
        loop_timer_set(c[0].self, now - 1000 * (usec_t)(N + 1));
        for (int k = 0; k < N; k++) {
                size_t len = strlen(expect);
                snprintf(expect + len, sizeof expect - len, "%stimer:%d", k ? " " : "", k);
        }
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_str_eq(trace, expect);
        for (int k = 0; k < N; k++)
                tfree(c[k].self);
}
END_TEST

/* Re-arming a queued timer moves it in the heap, both ways. */
START_TEST(test_timer_move_queued)
{
        usec_t now = now_mono();
        struct tctx ca = { .name = "a" }, cb = { .name = "b" }, cc = { .name = "c" }, cd = { .name = "d" };

        ca.self = tnew(L, on_timer, &ca);
        cb.self = tnew(L, on_timer, &cb);
        cc.self = tnew(L, on_timer, &cc);
        cd.self = tnew(L, on_timer, &cd);
        loop_timer_set(ca.self, now - 4000);
        loop_timer_set(cb.self, now - 3000);
        loop_timer_set(cc.self, now - 2000);
        loop_timer_set(cd.self, now - 1000);
        loop_timer_set(cd.self, now - 5000); /* a leaf moves to the front */
        loop_timer_set(ca.self, now - 500);  /* the front moves to the back */
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_str_eq(trace, "timer:d timer:b timer:c timer:a");
        tfree(ca.self);
        tfree(cb.self);
        tfree(cc.self);
        tfree(cd.self);
}
END_TEST

START_TEST(test_timer_rearm_and_cancel)
{
        usec_t now = now_mono();
        struct pipe_pair kick = mk_pipe();
        struct wctx ck = { .name = "kick", .drain = true };
        struct tctx cm = { .name = "moved" }, cc = { .name = "cancelled" }, cf = { .name = "freed" };

        ck.self = wadd(L, kick.r, EPOLLIN, on_fd, &ck);
        cm.self = tnew(L, on_timer, &cm);
        cc.self = tnew(L, on_timer, &cc);
        cf.self = tnew(L, on_timer, &cf);

        /* due, then moved to the far future before the loop ran */
        loop_timer_set(cm.self, now - 10);
        loop_timer_set(cm.self, now + 3600 * USEC_PER_SEC);
        /* due, then cancelled */
        loop_timer_set(cc.self, now - 10);
        loop_timer_set(cc.self, USEC_INFINITY);
        ck_assert_uint_eq(loop_timer_when(cc.self), USEC_INFINITY);
        /* due, then freed */
        loop_timer_set(cf.self, now - 10);
        cf.self = tfree(cf.self);

        put(kick.w);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_str_eq(trace, "fd:kick");
        ck_assert_uint_eq(loop_timer_when(cm.self), now + 3600 * USEC_PER_SEC);

        /* moved back into the past: fires (no fd needed to wake the loop) */
        loop_timer_set(cm.self, now - 5);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(cm.calls, 1);
        ck_assert_uint_eq(cc.calls, 0);
        ck_assert_uint_eq(cf.calls, 0);

        /* re-armed after firing: fires again */
        loop_timer_set(cm.self, now - 1);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(cm.calls, 2);
        ck_assert_uint_eq(cc.calls, 0);

        /* a deadline of 0 (the oldest past possible) still fires */
        loop_timer_set(cc.self, 0);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(cc.calls, 1);

        wdel(ck.self);
        tfree(cm.self);
        tfree(cc.self);
        close_pipe(&kick);
}
END_TEST

/* Armed (in the past) from an fd callback: not part of the batch that is
 * being dispatched, fires on the next iteration without any fd activity. */
START_TEST(test_timer_past_from_callback_fires_next_iteration)
{
        struct pipe_pair a = mk_pipe();
        struct wctx ca = { .name = "a", .drain = true };
        struct tctx ct = { .name = "t" };

        ct.self = tnew(L, on_timer, &ct);
        ca.self = wadd(L, a.r, EPOLLIN, on_fd, &ca);
        ca.arm = ct.self;
        ca.arm_at = now_mono() - USEC_PER_SEC;
        put(a.w);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(ca.calls, 1);
        ck_assert_uint_eq(ct.calls, 0);
        ca.arm = NULL;
        /* nothing else is ready: only the timer can end this wait */
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(ct.calls, 1);
        ck_assert_uint_eq(ca.calls, 1);
        ck_assert_str_eq(trace, "fd:a timer:t");
        wdel(ca.self);
        tfree(ct.self);
        close_pipe(&a);
}
END_TEST

/* A timer that re-arms itself in the past from its own callback fires again
 * on the next iteration, not in the same one: otherwise such a timer would
 * starve every fd (a livelock). */
START_TEST(test_timer_rearm_self_in_past_next_iteration)
{
        struct pipe_pair a = mk_pipe();
        struct wctx ca = { .name = "a", .drain = true };
        struct tctx ct = { .name = "t", .rearm_times = 2, .rearm_at = 1 };

        ct.self = tnew(L, on_timer, &ct);
        ca.self = wadd(L, a.r, EPOLLIN, on_fd, &ca);
        loop_timer_set(ct.self, 1);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(ct.calls, 1);
        ck_assert_uint_eq(loop_timer_when(ct.self), 1);
        put(a.w);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(ca.calls, 1);
        ck_assert_uint_eq(ct.calls, 2);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(ct.calls, 3);
        ck_assert_uint_eq(loop_timer_when(ct.self), USEC_INFINITY);
        wdel(ca.self);
        tfree(ct.self);
        close_pipe(&a);
}
END_TEST

/* A timer re-armed into the future from its own callback waits. */
START_TEST(test_timer_rearm_self_future)
{
        usec_t far = now_mono() + 3600 * USEC_PER_SEC;
        struct pipe_pair kick = mk_pipe();
        struct wctx ck = { .name = "kick", .drain = true };
        struct tctx ct = { .name = "t", .rearm_times = 1 };

        ct.rearm_at = far;
        ct.self = tnew(L, on_timer, &ct);
        ck.self = wadd(L, kick.r, EPOLLIN, on_fd, &ck);
        loop_timer_set(ct.self, 1);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(ct.calls, 1);
        ck_assert_uint_eq(loop_timer_when(ct.self), far);
        put(kick.w);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(ct.calls, 1);
        wdel(ck.self);
        tfree(ct.self);
        close_pipe(&kick);
}
END_TEST

/* Two due timers: the first frees the second, which must not fire (and no
 * use after free: valgrind); a timer may also free itself. */
START_TEST(test_timer_free_in_callback)
{
        usec_t now = now_mono();
        struct tctx c1 = { .name = "1" }, c2 = { .name = "2" }, c3 = { .name = "3", .free_self = true };

        c1.self = tnew(L, on_timer, &c1);
        c2.self = tnew(L, on_timer, &c2);
        c3.self = tnew(L, on_timer, &c3);
        c1.free_victim = &c2.self;
        loop_timer_set(c1.self, now - 3000);
        loop_timer_set(c2.self, now - 2000);
        loop_timer_set(c3.self, now - 1000);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_str_eq(trace, "timer:1 timer:3");
        ck_assert_ptr_null(c2.self);
        ck_assert_ptr_null(c3.self);
        tfree(c1.self);
}
END_TEST

/* Timers and fds in one iteration: both dispatched, and the idle hook runs
 * once, after all of them. */
START_TEST(test_idle_after_each_iteration)
{
        struct pipe_pair a = mk_pipe();
        struct wctx ca = { .name = "a", .drain = true };
        struct tctx ct = { .name = "t" };
        usec_t now = now_mono();

        loop_set_idle(L, on_idle, &idle_calls);
        ca.self = wadd(L, a.r, EPOLLIN, on_fd, &ca);
        ct.self = tnew(L, on_timer, &ct);

        put(a.w);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_str_eq(trace, "fd:a idle");
        ck_assert_uint_eq(idle_calls, 1);

        loop_timer_set(ct.self, now - 1);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_str_eq(trace, "fd:a idle timer:t idle");
        ck_assert_uint_eq(idle_calls, 2);

        trace[0] = 0;
        loop_timer_set(ct.self, now - 1);
        put(a.w);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(idle_calls, 3);
        ck_assert_uint_eq(ct.calls, 2);
        ck_assert_uint_eq(ca.calls, 2);
        /* the idle hook comes last, after both (their order is epoll's) */
        ck_assert_int_eq(strcmp(trace + strlen(trace) - 4, "idle"), 0);
        ck_assert_ptr_null(strstr(trace, "idle "));

        /* unset: no more calls */
        loop_set_idle(L, NULL, NULL);
        put(a.w);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(idle_calls, 3);

        wdel(ca.self);
        tfree(ct.self);
        close_pipe(&a);
}
END_TEST

/* The idle hook may arm a timer (how graced arms the supervisor's next
 * deadline): it is honoured by the next iteration. */
static struct loop_timer *idle_arms;
static void on_idle_arm(void *data)
{
        (void)data;
        idle_calls++;
        if (idle_arms) {
                loop_timer_set(idle_arms, 1);
                idle_arms = NULL;
        }
}

START_TEST(test_idle_arms_timer)
{
        struct pipe_pair a = mk_pipe();
        struct wctx ca = { .name = "a", .drain = true };
        struct tctx ct = { .name = "t" };

        ct.self = tnew(L, on_timer, &ct);
        ca.self = wadd(L, a.r, EPOLLIN, on_fd, &ca);
        idle_arms = ct.self;
        loop_set_idle(L, on_idle_arm, NULL);
        put(a.w);
        ck_assert_int_eq(loop_run_once(L), 0);
        ck_assert_uint_eq(ct.calls, 0);
        ck_assert_int_eq(loop_run_once(L), 0); /* only the timer can wake it */
        ck_assert_uint_eq(ct.calls, 1);
        ck_assert_uint_eq(idle_calls, 2);
        wdel(ca.self);
        tfree(ct.self);
        close_pipe(&a);
}
END_TEST

/* The deadline heap against a brute-force model: random sets, moves and
 * removals of 200 nodes; the top is always the earliest, every node knows
 * whether it is in the heap. */
START_TEST(test_heap_model)
{
        enum { N = 200 };
        struct heap h = { 0 };
        struct heap_node nodes[N];
        usec_t model[N];
        unsigned seed = 12345;

        for (int i = 0; i < N; i++) {
                heap_node_init(&nodes[i]);
                model[i] = USEC_INFINITY;
        }
        for (int step = 0; step < 20000; step++) {
                int i = (int)(rand_r(&seed) % N);
                int op = (int)(rand_r(&seed) % 4);
                usec_t when = op == 0 ? USEC_INFINITY : (usec_t)(rand_r(&seed) % 1000);
                usec_t min = USEC_INFINITY;
                size_t in = 0;

                if (op == 1)
                        heap_remove(&h, &nodes[i]), when = USEC_INFINITY;
                else
                        heap_set(&h, &nodes[i], when);
                model[i] = when;
                /* plain checks in the inner loop: every ck_assert writes a mark to check's pipe */
                for (int k = 0; k < N; k++) {
                        min = model[k] < min ? model[k] : min;
                        in += model[k] != USEC_INFINITY;
                        if (nodes[k].when != model[k] || (nodes[k].idx == SIZE_MAX) != (model[k] == USEC_INFINITY))
                                ck_abort_msg("step %d: node %d at %llu, model %llu", step, k,
                                             (unsigned long long)nodes[k].when, (unsigned long long)model[k]);
                }
                ck_assert_uint_eq(h.n, in);
                ck_assert_uint_eq(heap_next(&h), min);
                {
                        struct heap_node *top = heap_top(&h);
                        ck_assert(in == 0 ? top == NULL : top != NULL && top->when == min);
                }
        }
        heap_done(&h);
        for (int k = 0; k < N; k++)
                ck_assert_uint_eq(nodes[k].idx, SIZE_MAX);
}
END_TEST

/* The hash map against a brute-force model: integer keys that collide in
 * a small table, random puts and deletes (backward-shift deletion must keep
 * every other key findable); string keys compared by content. */
START_TEST(test_hmap_model)
{
        enum { N = 300 };
        struct hmap m = HMAP_INIT_INT, sm = HMAP_INIT_STR;
        void *model[N] = { 0 };
        int vals[N];
        char names[N][8];
        unsigned seed = 777;
        size_t in = 0;

        for (int step = 0; step < 30000; step++) {
                int k = (int)(rand_r(&seed) % N);

                if (rand_r(&seed) % 3 == 0) {
                        ck_assert_ptr_eq(hmap_del(&m, (uintptr_t)k * 64), model[k]);
                        in -= model[k] != NULL;
                        model[k] = NULL;
                } else {
                        in += model[k] == NULL;
                        model[k] = &vals[k];
                        hmap_put(&m, (uintptr_t)k * 64, model[k]);
                }
                if (step % 97 == 0)
                        for (int i = 0; i < N; i++)
                                if (hmap_get(&m, (uintptr_t)i * 64) != model[i])
                                        ck_abort_msg("step %d: key %d lost", step, i);
                if (m.n != in)
                        ck_abort_msg("step %d: %zu entries, model %zu", step, m.n, in);
        }
        for (int i = 0; i < N; i++) {
                snprintf(names[i], sizeof names[i], "w%d", i);
                hmap_put(&sm, (uintptr_t)names[i], &vals[i]);
        }
        ck_assert_ptr_eq(hmap_get_str(&sm, "w17"), &vals[17]);
        ck_assert_ptr_null(hmap_get_str(&sm, "w300"));
        ck_assert_ptr_eq(hmap_del(&sm, (uintptr_t) "w17"), &vals[17]);
        ck_assert_ptr_null(hmap_get_str(&sm, "w17"));
        for (int i = 0; i < N; i++)
                ck_assert_ptr_eq(hmap_get_str(&sm, names[i]), i == 17 ? NULL : &vals[i]);
        hmap_done(&m);
        hmap_done(&sm);
}
END_TEST

static Suite *loop_suite(void)
{
        Suite *s = suite_create("loop");
        TCase *tc = tcase_create("loop");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 10);
        tcase_add_test(tc, test_heap_model);
        tcase_add_test(tc, test_hmap_model);
        tcase_add_test(tc, test_fd_fires_on_pipe);
        tcase_add_test(tc, test_fd_only_ready_ones_fire);
        tcase_add_test(tc, test_fd_mod);
        tcase_add_test(tc, test_fd_regular_file_refused);
        tcase_add_test(tc, test_del_self_in_callback);
        tcase_add_test(tc, test_del_other_in_callback);
        tcase_add_test(tc, test_del_close_reuse_in_callback);
        tcase_add_test(tc, test_timers_deadline_order);
        tcase_add_test(tc, test_timer_many_heap_order);
        tcase_add_test(tc, test_timer_move_queued);
        tcase_add_test(tc, test_timer_rearm_and_cancel);
        tcase_add_test(tc, test_timer_past_from_callback_fires_next_iteration);
        tcase_add_test(tc, test_timer_rearm_self_in_past_next_iteration);
        tcase_add_test(tc, test_timer_rearm_self_future);
        tcase_add_test(tc, test_timer_free_in_callback);
        tcase_add_test(tc, test_idle_after_each_iteration);
        tcase_add_test(tc, test_idle_arms_timer);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(loop_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
