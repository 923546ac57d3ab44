/* loop.h - one epoll instance with fd watchers and one timerfd over a heap
 * of absolute CLOCK_MONOTONIC deadlines. Knows nothing of workers.
 * A watcher or timer may be removed from inside any callback. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "util.h"

struct loop;
struct loop_watch;
struct loop_timer;

typedef void (*loop_fd_fn)(struct loop_watch *w, int fd, uint32_t events, void *data);
typedef void (*loop_timer_fn)(struct loop_timer *t, void *data);

/* NULL on failure (errno set). */
struct loop *loop_new(void);
struct loop *loop_free(struct loop *l);

/* Watch fd for events (EPOLLIN/EPOLLOUT). Returns NULL and sets errno on
 * failure (EPERM: fd is a regular file and cannot be polled). */
struct loop_watch *loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_fn fn, void *data);
int loop_mod_fd(struct loop_watch *w, uint32_t events);
/* Stops watching (does not close the fd). NULL-safe; returns NULL. */
struct loop_watch *loop_del_fd(struct loop_watch *w);

struct loop_timer *loop_timer_new(struct loop *l, loop_timer_fn fn, void *data);
/* Absolute CLOCK_MONOTONIC usec; USEC_INFINITY disarms. */
void loop_timer_set(struct loop_timer *t, usec_t when);
usec_t loop_timer_when(const struct loop_timer *t);
struct loop_timer *loop_timer_free(struct loop_timer *t);

/* Runs one iteration: waits (forever when nothing is armed) and
 * dispatches. Returns 0 or -errno (EINTR is not an error). */
int loop_run_once(struct loop *l);
/* Called after every iteration's dispatch (to batch work). */
void loop_set_idle(struct loop *l, void (*fn)(void *data), void *data);
