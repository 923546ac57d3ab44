/* notify.c - sd_notify to systemd. Only this file includes sd-daemon.h. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "loop.h"
#include "notify.h"
#include "state.h"

static bool enabled;
static usec_t watchdog_half;

bool notify_init(void)
{
        uint64_t usec = 0;

        enabled = getenv("NOTIFY_SOCKET") != NULL;
        if (enabled && sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
                watchdog_half = usec / 2;
        /* workers must not inherit these (they get our own NOTIFY_SOCKET) */
        unsetenv("WATCHDOG_PID");
        unsetenv("WATCHDOG_USEC");
        return enabled;
}

bool notify_enabled(void) { return enabled; }
usec_t notify_watchdog_interval(void) { return watchdog_half; }

void notify_send(const char *msg)
{
        int r;

        if (!enabled)
                return;
        r = sd_notify(0, msg);
        if (r < 0)
                log_debug(NULL, "notify", "sd_notify(%s): %s", msg, strerror(-r));
}

/* ---- the workers' NOTIFY_SOCKET ---------------------------------------- */

#define NOTIFY_MAX 4096

struct notify_server {
        int fd;
        struct loop_watch *watch;
        char address[108];
        notify_msg_fn fn;
        void *data;
};

static void on_datagram(struct loop_watch *w, int fd, uint32_t events, void *data)
{
        notify_server_drain(data);
}

void notify_server_drain(struct notify_server *srv)
{
        /* bounded per call so a flood cannot starve the loop */
        for (int i = 0; i < 256; i++) {
                char buf[NOTIFY_MAX + 1];
                union {
                        struct cmsghdr cm;
                        char b[CMSG_SPACE(sizeof(struct ucred))];
                } ctl;
                struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf - 1 };
                struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof ctl };
                struct ucred *cred = NULL;
                ssize_t n = recvmsg(srv->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                log_debug(NULL, "notify", "recvmsg: %m");
                        return;
                }
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                            c->cmsg_len == CMSG_LEN(sizeof(struct ucred)))
                                cred = (struct ucred *)CMSG_DATA(c);
                        else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                                /* fd passing (FDSTORE) is not supported: close what came */
                                int *fds = (int *)CMSG_DATA(c);
                                size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                                for (size_t k = 0; k < nfd; k++)
                                        safe_close(fds[k]);
                        }
                }
                if ((mh.msg_flags & MSG_TRUNC) || n > NOTIFY_MAX) {
                        log_debug(NULL, "notify", "dropping an oversize notify datagram (%zd bytes)", n);
                        continue;
                }
                if (!cred || cred->pid <= 0 || n == 0) {
                        log_debug(NULL, "notify", "dropping a notify datagram without credentials");
                        continue;
                }
                buf[n] = 0;
                if (strlen(buf) != (size_t)n) {
                        log_debug(NULL, "notify", "dropping a notify datagram with a NUL byte from pid %d", (int)cred->pid);
                        continue;
                }
                srv->fn(cred->pid, buf, srv->data);
        }
}

struct notify_server *notify_server_open(struct loop *l, notify_msg_fn fn, void *data, int *ret_err)
{
        static unsigned counter;
        struct notify_server *srv = xcalloc(1, sizeof *srv);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        socklen_t len;
        int one = 1;

        srv->fn = fn;
        srv->data = data;
        srv->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (srv->fd < 0)
                goto fail;
        snprintf(srv->address, sizeof srv->address, "@graced/notify/%d/%u", (int)getpid(), counter++);
        /* abstract namespace: no file to clean up, private to this network namespace */
        strncpy(sa.sun_path + 1, srv->address + 1, sizeof sa.sun_path - 2);
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(srv->address));
        if (bind(srv->fd, (struct sockaddr *)&sa, len) < 0)
                goto fail;
        if (setsockopt(srv->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
                goto fail;
        srv->watch = loop_add_fd(l, srv->fd, EPOLLIN, on_datagram, srv);
        if (!srv->watch)
                goto fail;
        return srv;
fail:
        *ret_err = errno;
        safe_close(srv->fd);
        free(srv);
        return NULL;
}

const char *notify_server_address(const struct notify_server *srv) { return srv->address; }

struct notify_server *notify_server_close(struct notify_server *srv)
{
        if (!srv)
                return NULL;
        srv->watch = loop_del_fd(srv->watch);
        safe_close(srv->fd);
        free(srv);
        return NULL;
}

/* ---- across a reexec ------------------------------------------------------------ */

struct json_object *notify_save(const struct notify_server *srv, struct state_fds *fds)
{
        struct json_object *o = json_object_new_object(), *so = NULL;

        state_add_usec(o, "watchdog_half", watchdog_half);
        if (srv) {
                so = json_object_new_object();
                state_fds_add(fds, srv->fd);
                state_add_int(so, "fd", srv->fd);
                state_add(so, "address", json_object_new_string(srv->address));
        }
        state_add(o, "server", so);
        return o;
}

bool notify_adopt(struct json_object *o, struct loop *l, notify_msg_fn fn, void *data, struct state_rd *rd,
                  struct state_fdset *set, struct notify_server **ret_srv)
{
        struct json_object *so = state_get_obj(rd, o, "server", STATE_OPTIONAL);
        char *address = NULL;
        struct notify_server *srv;
        int fd = -1;

        state_get_usec(rd, o, "watchdog_half", STATE_OPTIONAL, &watchdog_half);
        if (watchdog_half == USEC_INFINITY)
                watchdog_half = 0;
        if (!so)
                return !rd->bad;
        state_get_fd(rd, so, "fd", STATE_REQUIRED, &fd);
        state_get_str(rd, so, "address", STATE_REQUIRED, sizeof srv->address - 1, &address);
        if (!rd->bad && (fd < 0 || !address || address[0] != '@'))
                state_fail(rd, "notify server: bad fd or address");
        if (!state_take_fd(rd, set, fd)) {
                free(address);
                return false;
        }
        srv = xcalloc(1, sizeof *srv);
        *srv = (struct notify_server){ .fd = fd, .fn = fn, .data = data };
        snprintf(srv->address, sizeof srv->address, "%s", address);
        free(address);
        srv->watch = loop_add_fd(l, srv->fd, EPOLLIN, on_datagram, srv);
        if (!srv->watch) {
                free(srv);
                return state_fail(rd, "notify server: %s", strerror(errno));
        }
        *ret_srv = srv;
        return true;
}
