/* check_notify.c - graced and sd_notify, both directions.
 *
 * "systemd": graced talks to a fake service manager (the test's own
 * datagram socket as $NOTIFY_SOCKET): STATUS= before READY=1, STOPPING=1
 * before the first EXTEND_TIMEOUT_USEC=, STATUS= during the stop, WATCHDOG=1
 * at half of $WATCHDOG_USEC (and never without it), every message from
 * graced's own pid, nothing breaks without $NOTIFY_SOCKET.
 *
 * "workers": workers with ready = "notify" talk to graced's NOTIFY_SOCKET:
 * systemd-notify in a shell script, libsystemd's sd_notify (notifyworker),
 * a child of the worker, a worker that never gets ready, the worker
 * watchdog, STATUS= in the log, and garbage that must be dropped.
 *
 * Needs GRACED_BIN, GRACED_TESTWORKER, GRACED_NOTIFYWORKER. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "harness.h"

#define ENV(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define T 5000 /* ms: generous bound for things that happen at once */

static const char *notifyworker(void) { return h_env_path("GRACED_NOTIFYWORKER"); }

/* ---- the fake service manager ------------------------------------------------ */

/* Does datagram msg hold a line that starts with prefix? */
static bool has_line(const char *msg, const char *prefix)
{
        size_t len = strlen(prefix);

        for (const char *p = msg; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (strncmp(p, prefix, len) == 0)
                        return true;
        return false;
}

/* Index of the first datagram at or after from with a line starting with
 * prefix, -1 if none (after receiving what is queued). */
static int find_line(struct h_notify *n, const char *prefix, int from)
{
        (void)h_notify_count(n, ""); /* drain */
        for (size_t i = from < 0 ? 0 : (size_t)from; i < n->n; i++)
                if (has_line(n->msgs[i], prefix))
                        return (int)i;
        return -1;
}

static int count_lines(struct h_notify *n, const char *prefix, int from)
{
        int c = 0;

        for (int i = find_line(n, prefix, from); i >= 0; i = find_line(n, prefix, i + 1))
                c++;
        return c;
}

static void dump_notify(struct h_notify *n)
{
        (void)h_notify_count(n, "");
        fprintf(stderr, "%zu datagrams on %s:\n", n->n, n->path);
        for (size_t i = 0; i < n->n; i++) {
                fprintf(stderr, "  [%zu] from %ld: ", i, (long)n->pids[i]);
                for (const char *c = n->msgs[i]; *c; c++)
                        fputs(*c == '\n' ? "\\n" : (char[]){ *c, '\0' }, stderr);
                fputc('\n', stderr);
        }
}

/* Waits until at least count datagrams have a line starting with prefix. */
static bool wait_lines(struct h_notify *n, const char *prefix, int count, int timeout_ms)
{
        long long start = h_now_ns();

        for (;;) {
                struct pollfd p = { .fd = n->fd, .events = POLLIN };
                long long left = timeout_ms - h_ms_since(start);

                if (count_lines(n, prefix, 0) >= count)
                        return true;
                if (left <= 0)
                        break;
                (void)poll(&p, 1, left > 100 ? 100 : (int)left);
        }
        fprintf(stderr, "no %d datagrams with '%s' within %d ms\n", count, prefix, timeout_ms);
        dump_notify(n);
        return false;
}

static void open_fake_systemd(struct gh *g, struct h_notify *n)
{
        ck_assert_int_eq(h_notify_open(n, g->dir), 0);
}

/* gh_exit_code, but reading the fake systemd's socket meanwhile, as the
 * real one does: sd_notify() blocks once the receive queue is full
 * (net.unix.max_dgram_qlen datagrams, 10 by default). */
static int exit_code_draining(struct gh *g, struct h_notify *n, int timeout_ms)
{
        long long start = h_now_ns();
        int pfd = (int)syscall(SYS_pidfd_open, g->pid, 0);

        while (pfd >= 0 && h_ms_since(start) < timeout_ms) {
                struct pollfd p[2] = { { .fd = n->fd, .events = POLLIN }, { .fd = pfd, .events = POLLIN } };
                long long left = timeout_ms - h_ms_since(start);

                (void)poll(p, 2, left > 100 ? 100 : left < 0 ? 0 : (int)left);
                (void)h_notify_count(n, "");
                if (p[1].revents)
                        break;
        }
        if (pfd >= 0)
                close(pfd);
        return gh_exit_code(g, pfd >= 0 ? T : timeout_ms);
}

/* ---- sending to graced's worker socket --------------------------------------- */

/* Sends one datagram to an abstract ("@...") or path socket, optionally
 * passing fd_to_pass (SCM_RIGHTS). Returns 0 or -errno. */
static int send_to(const char *address, const void *buf, size_t len, int fd_to_pass)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t alen = strlen(address);
        union {
                struct cmsghdr cm;
                char b[CMSG_SPACE(sizeof(int))];
        } ctl;
        struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
        struct msghdr mh = { .msg_name = &sa, .msg_iov = &iov, .msg_iovlen = 1 };
        int fd, r = 0;

        if (alen >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, address, alen);
        if (address[0] == '@')
                sa.sun_path[0] = '\0';
        mh.msg_namelen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + alen + (address[0] == '@' ? 0 : 1));
        if (fd_to_pass >= 0) {
                memset(&ctl, 0, sizeof ctl);
                mh.msg_control = &ctl;
                mh.msg_controllen = sizeof ctl;
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &fd_to_pass, sizeof(int));
        }
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* a full receive queue blocks the sender: bounded */
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &(struct timeval){ .tv_sec = T / 1000 }, sizeof(struct timeval));
        if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
                r = -errno;
        close(fd);
        return r;
}

/* ---- helpers ----------------------------------------------------------------- */

/* Waits until the stamp at path names a pid other than old (a restart). */
static pid_t wait_new_stamp_pid(const char *path, pid_t old, int timeout_ms)
{
        long long start = h_now_ns();

        while (h_ms_since(start) < timeout_ms) {
                pid_t p = h_read_stamp_pid(path);

                if (p > 0 && p != old)
                        return p;
                h_sleep_ms(10);
        }
        return -1;
}

static const char *worker_outcome(struct gh *g, const char *name)
{
        struct json_object *r = gh_report(g);

        ck_assert_ptr_nonnull(r);
        return h_json_str(h_report_worker(r, name), "outcome");
}

/* ==== graced -> systemd ======================================================== */

/* The start and the stop, message by message. */
START_TEST(test_sd_sequence)
{
        struct gh g;
        struct h_notify n;
        int ready, status0, stopping, extend, i;

        ck_assert_int_eq(gh_init(&g), 0);
        open_fake_systemd(&g, &n);
        const char *conf = gh_write_file(
                &g, "graced.conf",
                "supervisor = { name = \"seq\"; shutdown_timeout = \"30s\"; };\n"
                "workers = (\n"
                "  { name = \"db\"; command = [\"%s\", \"--block\"]; },\n"
                "  { name = \"web\"; command = [\"%s\", \"--on-signal-delay\", \"TERM\", \"300\", \"0\", \"--block\"];\n"
                "    after = [\"db\"]; pre_stop = [\"%s\", \"--append\", \"%s\", \"pre\"]; }\n"
                ");\n",
                h_testworker(), h_testworker(), h_testworker(), gh_path(&g, "pre.txt"));
        ck_assert_int_eq(gh_start(&g, conf, NULL, ENV(n.env)), 0);

        ck_assert(h_notify_wait(&n, "READY=1", T));
        ready = find_line(&n, "READY=1", 0);
        status0 = find_line(&n, "STATUS=", 0);
        ck_assert_int_ge(status0, 0);
        ck_assert_int_lt(status0, ready);
        /* the status in force when READY=1 goes out says everything runs */
        for (i = ready; i >= 0 && !has_line(n.msgs[i], "STATUS="); i--)
                ;
        ck_assert_int_ge(i, 0);
        ck_assert_str_eq(n.msgs[i], "STATUS=running: 2/2 workers");
        ck_assert_int_eq(count_lines(&n, "READY=1", 0), 1);
        ck_assert_int_eq(find_line(&n, "STOPPING=1", 0), -1);
        ck_assert_int_eq(find_line(&n, "EXTEND_TIMEOUT_USEC=", 0), -1);

        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert_int_eq(exit_code_draining(&g, &n, T), 0);
        dump_notify(&n);

        stopping = find_line(&n, "STOPPING=1", 0);
        extend = find_line(&n, "EXTEND_TIMEOUT_USEC=", 0);
        ck_assert_int_gt(stopping, ready);
        ck_assert_int_eq(count_lines(&n, "STOPPING=1", 0), 1);
        ck_assert_int_gt(extend, stopping);
        /* every extension is positive and within the budget (plus a margin) */
        for (i = extend; i >= 0; i = find_line(&n, "EXTEND_TIMEOUT_USEC=", i + 1)) {
                unsigned long long us = strtoull(strstr(n.msgs[i], "EXTEND_TIMEOUT_USEC=") + 20, NULL, 10);

                ck_assert_uint_gt(us, 0);
                ck_assert_uint_le(us, 40ULL * 1000000ULL);
        }
        /* STATUS= says what is stopping, in order, and how much budget is left */
        {
                int sw = -1, sd = -1;

                for (i = stopping; i >= 0; i = find_line(&n, "STATUS=", i + 1)) {
                        if (!has_line(n.msgs[i], "STATUS="))
                                continue;
                        /* the last one is the summary, which systemd keeps showing */
                        if (strstr(n.msgs[i], "STATUS=shutdown clean in "))
                                continue;
                        ck_assert_msg(strstr(n.msgs[i], "STATUS=stopping") != NULL, "status during stop: %s",
                                      n.msgs[i]);
                        if (sw < 0 && strstr(n.msgs[i], "web"))
                                sw = i;
                        if (sd < 0 && strstr(n.msgs[i], "db"))
                                sd = i;
                }
                ck_assert_int_gt(sw, stopping);
                ck_assert_int_gt(sd, sw);
                ck_assert_ptr_nonnull(strstr(n.msgs[sw], "left"));
        }
        /* NotifyAccess=main: all of it from graced itself */
        for (size_t k = 0; k < n.n; k++)
                ck_assert_int_eq(n.pids[k], g.pid);
        /* no $WATCHDOG_USEC: no WATCHDOG=1 */
        ck_assert_int_eq(find_line(&n, "WATCHDOG=1", 0), -1);
        ck_assert_int_eq(h_json_bool(gh_report(&g), "clean"), 1);
        ck_assert_int_eq(h_count_lines(gh_path(&g, "pre.txt"), "pre"), 1);
        h_notify_close(&n);
        gh_cleanup(&g);
}
END_TEST

/* WATCHDOG_USEC=200000: WATCHDOG=1 every 100 ms, also during a slow stop. */
START_TEST(test_sd_watchdog)
{
        struct gh g;
        struct h_notify n;
        long long first, ms;
        int stopping;

        ck_assert_int_eq(gh_init(&g), 0);
        open_fake_systemd(&g, &n);
        const char *conf = gh_write_file(
                &g, "graced.conf",
                "workers = ({ name = \"slow\"; command = [\"%s\", \"--on-signal-delay\", \"TERM\", \"800\", \"0\", \"--block\"]; });\n",
                h_testworker());
        /* no WATCHDOG_PID: sd_watchdog_enabled() accepts its absence */
        ck_assert_int_eq(gh_start(&g, conf, NULL, ENV(n.env, "WATCHDOG_USEC=200000")), 0);
        ck_assert(wait_lines(&n, "WATCHDOG=1", 1, T));
        first = h_now_ns();
        ck_assert(wait_lines(&n, "WATCHDOG=1", 4, T));
        ms = h_ms_since(first);
        fprintf(stderr, "3 more WATCHDOG=1 after %lld ms\n", ms);
        ck_assert_int_ge(ms, 250); /* every 100 ms: not faster... */
        ck_assert_int_le(ms, 1000); /* ...and not much slower */
        ck_assert(h_notify_wait(&n, "READY=1", T));

        /* the loop keeps pinging while it waits for a slow worker */
        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert(h_notify_wait(&n, "STOPPING=1", T));
        stopping = find_line(&n, "STOPPING=1", 0);
        ck_assert_int_eq(exit_code_draining(&g, &n, T), 0);
        ck_assert_int_ge(count_lines(&n, "WATCHDOG=1", stopping), 3);
        for (size_t k = 0; k < n.n; k++)
                ck_assert_int_eq(n.pids[k], g.pid);
        h_notify_close(&n);
        gh_cleanup(&g);
}
END_TEST

/* No $WATCHDOG_USEC, or one meant for another process: no WATCHDOG=1. */
START_TEST(test_sd_no_watchdog)
{
        static const char *const variants[][2] = {
                { NULL, NULL },
                { "WATCHDOG_USEC=200000", "WATCHDOG_PID=1" }, /* not ours */
                { "WATCHDOG_USEC=0", NULL },
        };

        for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
                struct gh g;
                struct h_notify n;
                const char *env[4] = { NULL };
                size_t k = 0;

                ck_assert_int_eq(gh_init(&g), 0);
                open_fake_systemd(&g, &n);
                env[k++] = n.env;
                for (size_t j = 0; j < 2; j++)
                        if (variants[v][j])
                                env[k++] = variants[v][j];
                const char *conf =
                        gh_write_file(&g, "graced.conf", "workers = ({ name = \"w\"; command = [\"%s\", \"--block\"]; });\n",
                                      h_testworker());
                ck_assert_int_eq(gh_start(&g, conf, NULL, env), 0);
                ck_assert(h_notify_wait(&n, "READY=1", T));
                /* absence needs time: 4 would-be intervals of 100 ms */
                h_sleep_ms(450);
                ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
                ck_assert_int_eq(exit_code_draining(&g, &n, T), 0);
                if (count_lines(&n, "WATCHDOG=1", 0) != 0)
                        dump_notify(&n);
                ck_assert_msg(count_lines(&n, "WATCHDOG=1", 0) == 0, "variant %zu sent WATCHDOG=1", v);
                ck_assert_int_ge(find_line(&n, "STOPPING=1", 0), 0);
                h_notify_close(&n);
                gh_cleanup(&g);
        }
}
END_TEST

/* Without $NOTIFY_SOCKET, or with one nobody listens on, nothing breaks. */
START_TEST(test_sd_absent)
{
        struct gh g;
        const char *conf;
        char *gone;

        ck_assert_int_eq(gh_init(&g), 0);
        conf = gh_write_file(&g, "graced.conf",
                             "workers = ({ name = \"w\"; command = [\"%s\", \"--block\"]; },\n"
                             "           { name = \"n\"; command = [\"%s\", \"--status\", \"fine\"]; ready = \"notify\"; after = [\"w\"]; });\n",
                             h_testworker(), notifyworker());

        /* harness default: NOTIFY_SOCKET stripped */
        ck_assert_int_eq(gh_start(&g, conf, NULL, ENV("WATCHDOG_USEC=100000")), 0);
        ck_assert(h_wait_log(&g, "running: 2/2 workers", T));
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        ck_assert_int_eq(h_json_bool(gh_report(&g), "clean"), 1);

        /* a socket path that does not exist / a directory in its place */
        gone = h_path(g.dir, "no-such.sock");
        for (int v = 0; v < 2; v++) {
                char *env = NULL;

                if (asprintf(&env, "NOTIFY_SOCKET=%s", v == 0 ? gone : g.dir) < 0)
                        ck_abort();
                ck_assert_int_eq(gh_start(&g, conf, NULL, ENV(env, "WATCHDOG_USEC=100000")), 0);
                ck_assert(h_wait_log_count(&g, "running: 2/2 workers", 2 + v, T));
                h_sleep_ms(250); /* a few failing watchdog pings */
                ck_assert_int_eq(gh_shutdown(&g, T), 0);
                ck_assert_int_eq(h_json_bool(gh_report(&g), "clean"), 1);
                free(env);
        }
        free(gone);
        gh_cleanup(&g);
}
END_TEST

/* A critical worker that never gets ready: no READY=1 at all, exit 1. */
START_TEST(test_sd_critical_never_ready)
{
        struct gh g;
        struct h_notify n;

        ck_assert_int_eq(gh_init(&g), 0);
        open_fake_systemd(&g, &n);
        const char *conf = gh_write_file(
                &g, "graced.conf",
                "workers = ({ name = \"core\"; command = [\"%s\", \"--no-ready\"]; ready = \"notify\";\n"
                "             ready_timeout = \"300ms\"; restart = \"no\"; critical = true; });\n",
                notifyworker());
        ck_assert_int_eq(gh_start(&g, conf, NULL, ENV(n.env)), 0);
        ck_assert_int_eq(exit_code_draining(&g, &n, T), 1);
        ck_assert(h_wait_log(&g, "not ready after 300ms", 0));
        dump_notify(&n);
        ck_assert_int_eq(find_line(&n, "READY=1", 0), -1);
        ck_assert_int_ge(find_line(&n, "STOPPING=1", 0), 0);
        ck_assert_int_ge(find_line(&n, "STATUS=", 0), 0);
        ck_assert_str_eq(h_json_str(gh_report(&g), "reason"), "critical worker core failed");
        ck_assert_str_eq(worker_outcome(&g, "core"), "failed");
        h_notify_close(&n);
        gh_cleanup(&g);
}
END_TEST

/* ==== workers -> graced ========================================================== */

static bool have_systemd_notify(void)
{
        char *out = NULL;
        int st = h_run((const char *const[]){ "systemd-notify", "--help", NULL }, NULL, T, &out);

        free(out);
        return h_exit_code(st) == 0;
}

/* `systemd-notify --ready` in a shell script; the dependent starts after. */
START_TEST(test_w_systemd_notify_sh)
{
        struct gh g;
        long long pre, dep;

        if (!have_systemd_notify()) {
                fprintf(stderr, "SKIP: test_w_systemd_notify_sh: systemd-notify is not installed\n");
                return;
        }
        ck_assert_int_eq(gh_init(&g), 0);
        /* the script stamps, lets 300 ms pass, then says READY=1 (and a status) */
        const char *conf = gh_write_file(
                &g, "graced.conf",
                "workers = (\n"
                "  { name = \"shell\"; ready = \"notify\"; ready_timeout = \"10s\";\n"
                "    command = [\"/bin/sh\", \"-c\", \"'%s' --stamp '%s' && sleep 0.3 && "
                "systemd-notify --ready --status='sh is up' && exec sleep 600\"]; },\n"
                "  { name = \"after\"; command = [\"%s\", \"--stamp\", \"%s\", \"--block\"]; after = [\"shell\"]; }\n"
                ");\n",
                h_testworker(), gh_path(&g, "shell.stamp"), h_testworker(), gh_path(&g, "after.stamp"));
        ck_assert_int_eq(gh_start(&g, conf, NULL, NULL), 0);
        ck_assert(h_wait_file(gh_path(&g, "after.stamp"), T));
        ck_assert(h_wait_log(&g, "shell: ready", 0));
        ck_assert(h_wait_log(&g, "shell: status: sh is up", 0));
        pre = h_read_stamp_mono_ns(gh_path(&g, "shell.stamp"));
        dep = h_read_stamp_mono_ns(gh_path(&g, "after.stamp"));
        ck_assert_int_gt(pre, 0);
        ck_assert_int_ge(dep - pre, 300LL * 1000000LL);
        ck_assert_int_lt(h_log_line(&g, "shell: ready"), h_log_line(&g, "after: starting"));
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        ck_assert_str_eq(worker_outcome(&g, "shell"), "stopped");
        gh_cleanup(&g);
}
END_TEST

/* libsystemd's sd_notify (notifyworker): STATUS=, READY=1, the dependent
 * after, the status text in the log and in SIGUSR1's status lines. */
START_TEST(test_w_sd_notify)
{
        struct gh g;
        long long ready, dep;

        ck_assert_int_eq(gh_init(&g), 0);
        const char *conf = gh_write_file(
                &g, "graced.conf",
                "workers = (\n"
                "  { name = \"api\"; ready = \"notify\"; command = [\"%s\", \"--status\", \"warming up\",\n"
                "    \"--ready-after-ms\", \"300\", \"--ready-status\", \"serving\", \"--stamp\", \"%s\"]; },\n"
                "  { name = \"front\"; command = [\"%s\", \"--stamp\", \"%s\", \"--block\"]; after = [\"api\"]; }\n"
                ");\n",
                notifyworker(), gh_path(&g, "api.stamp"), h_testworker(), gh_path(&g, "front.stamp"));
        ck_assert_int_eq(gh_start(&g, conf, NULL, NULL), 0);
        ck_assert(h_wait_file(gh_path(&g, "front.stamp"), T));
        ck_assert(h_wait_log(&g, "api: status: warming up", 0));
        ck_assert(h_wait_log(&g, "api: status: serving", 0));
        ready = h_read_stamp_mono_ns(gh_path(&g, "api.stamp"));
        dep = h_read_stamp_mono_ns(gh_path(&g, "front.stamp"));
        ck_assert_int_gt(ready, 0);
        ck_assert_int_gt(dep, ready);
        ck_assert_int_lt(h_log_line(&g, "api: status: warming up"), h_log_line(&g, "api: ready"));
        ck_assert_int_lt(h_log_line(&g, "api: ready"), h_log_line(&g, "front: starting"));

        ck_assert_int_eq(gh_signal(&g, SIGUSR1), 0);
        ck_assert(h_wait_log(&g, "status: serving", T) && h_wait_log_count(&g, "serving", 2, T));
        ck_assert(h_wait_log(&g, "api: running, pid", T));

        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        ck_assert_str_eq(worker_outcome(&g, "api"), "stopped");
        ck_assert_str_eq(worker_outcome(&g, "front"), "stopped");
        gh_cleanup(&g);
}
END_TEST

/* READY=1 from another process of the worker's process group counts. */
START_TEST(test_w_group_member)
{
        struct gh g;

        ck_assert_int_eq(gh_init(&g), 0);
        /* sh forks a child that notifies, then becomes a testworker that never
         * reaps it (the child stays a zombie of the worker's group) */
        const char *conf = gh_write_file(
                &g, "graced.conf",
                "workers = ({ name = \"fam\"; ready = \"notify\"; ready_timeout = \"10s\";\n"
                "  command = [\"/bin/sh\", \"-c\", \"'%s' --sleep-ms 100 --notify 'STATUS=from a child\\\\nREADY=1' & "
                "exec '%s' --block\"]; });\n",
                h_testworker(), h_testworker());
        ck_assert_int_eq(gh_start(&g, conf, NULL, NULL), 0);
        ck_assert(h_wait_log(&g, "fam: ready", T));
        ck_assert(h_wait_log(&g, "fam: status: from a child", 0));
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* Never READY=1: "not ready after", a failed start under the restart policy:
 * restarted until the start limit, then failed for good; its dependent never
 * starts. */
START_TEST(test_w_never_ready)
{
        struct gh g;
        struct json_object *r;

        ck_assert_int_eq(gh_init(&g), 0);
        const char *conf = gh_write_file(
                &g, "graced.conf",
                "workers = (\n"
                "  { name = \"mute\"; ready = \"notify\"; ready_timeout = \"300ms\"; command = [\"%s\", \"--no-ready\", \"--stamp\", \"%s\"];\n"
                "    restart = \"on-failure\"; restart_delay = \"100ms\"; start_limit_burst = 2; start_limit_interval = \"1min\"; },\n"
                "  { name = \"dep\"; command = [\"%s\", \"--stamp\", \"%s\", \"--block\"]; after = [\"mute\"]; }\n"
                ");\n",
                notifyworker(), gh_path(&g, "never"), h_testworker(), gh_path(&g, "dep.stamp"));
        ck_assert_int_eq(gh_start(&g, conf, NULL, NULL), 0);
        ck_assert(h_wait_log(&g, "mute: warning: not ready after 300ms", T));
        ck_assert(h_wait_log(&g, "mute: restarting", T));
        ck_assert(h_wait_log_count(&g, "not ready after 300ms", 2, T));
        ck_assert(h_wait_log(&g, "mute: error: failed for good", T));
        ck_assert(h_wait_log(&g, "dep: warning: not starting: dependency mute failed", T));
        ck_assert_int_eq(h_count_log(&g, "mute: starting"), 2);
        ck_assert_int_eq(access(gh_path(&g, "dep.stamp"), F_OK), -1);
        ck_assert_int_eq(gh_shutdown(&g, T), 1); /* a failed worker: not clean */
        r = gh_report(&g);
        ck_assert_str_eq(h_json_str(h_report_worker(r, "mute"), "outcome"), "failed");
        ck_assert_int_eq(h_json_int(h_report_worker(r, "mute"), "restarts"), 1);
        ck_assert_str_eq(h_json_str(h_report_worker(r, "dep"), "outcome"), "not-started");
        gh_cleanup(&g);
}
END_TEST

/* The worker watchdog: pings keep it alive; when they stop it is stopped
 * and restarted (a new pid), even though it exits 0 on SIGTERM. */
START_TEST(test_w_watchdog)
{
        struct gh g;
        pid_t first, second;
        int pings;

        ck_assert_int_eq(gh_init(&g), 0);
        /* the first run pings 8 times (every 100 ms: well past the 500 ms
         * watchdog) and hangs; the runs after it ping forever */
        const char *conf = gh_write_file(
                &g, "graced.conf",
                "workers = ({ name = \"dog\"; ready = \"notify\"; watchdog = \"500ms\"; restart = \"on-failure\";\n"
                "  restart_delay = \"100ms\";\n"
                "  command = [\"/bin/sh\", \"-c\", \"if [ -e '%s' ]; then exec '%s' --watchdog-every-ms 100 --stamp '%s'; "
                "else : > '%s'; exec '%s' --watchdog-every-ms 100 --stop-watchdog-after 8 --ping-file '%s' --stamp '%s'; fi\"]; });\n",
                gh_path(&g, "once"), notifyworker(), gh_path(&g, "dog.stamp"), gh_path(&g, "once"), notifyworker(),
                gh_path(&g, "pings"), gh_path(&g, "dog.stamp"));
        ck_assert_int_eq(gh_start(&g, conf, NULL, NULL), 0);
        ck_assert(h_wait_file(gh_path(&g, "dog.stamp"), T));
        first = h_read_stamp_pid(gh_path(&g, "dog.stamp"));
        ck_assert_int_gt(first, 0);
        ck_assert(h_wait_log(&g, "dog: warning: watchdog timeout", T));
        pings = h_count_lines(gh_path(&g, "pings"), " ");
        ck_assert_int_eq(pings, 8); /* all pings came before the timeout */
        second = wait_new_stamp_pid(gh_path(&g, "dog.stamp"), first, T);
        ck_assert_msg(second > 0, "not restarted after the watchdog timeout");
        ck_assert(h_wait_log(&g, "dog: restarting", 0));
        ck_assert_int_eq(h_count_log(&g, "dog: ready"), 2);
        /* the new run pings: no second timeout over two watchdog intervals */
        h_sleep_ms(1100);
        ck_assert_int_eq(h_count_log(&g, "watchdog timeout"), 1);
        ck_assert(h_pid_alive(second));
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        ck_assert_int_eq(h_json_int(h_report_worker(gh_report(&g), "dog"), "restarts"), 1);
        gh_cleanup(&g);
}
END_TEST

/* Garbage on the workers' NOTIFY_SOCKET is dropped; messages from outside
 * the workers' process groups are ignored; graced keeps working. The
 * workers' environment: graced's own NOTIFY_SOCKET, not systemd's, and no
 * WATCHDOG_*. */
START_TEST(test_w_garbage)
{
        struct gh g;
        struct h_notify n;
        char *env, *sock, *v;
        char big[10 * 1024 + 16];
        unsigned seed = 12345;
        int p[2];

        ck_assert_int_eq(gh_init(&g), 0);
        open_fake_systemd(&g, &n);
        const char *conf = gh_write_file(
                &g, "graced.conf",
                "workers = (\n"
                "  { name = \"talker\"; ready = \"notify\"; command = [\"%s\", \"--notify\", \"READY=1\", \"--report-fds\", \"%s\",\n"
                "    \"--wait-file\", \"%s\", \"--notify\", \"STATUS=after the storm\", \"--block\"]; },\n"
                "  { name = \"plain\"; command = [\"%s\", \"--report-fds\", \"%s\", \"--block\"]; },\n"
                "  { name = \"mute\"; ready = \"notify\"; ready_timeout = \"1min\"; command = [\"%s\", \"--no-ready\"]; },\n"
                "  { name = \"late\"; command = [\"%s\", \"--stamp\", \"%s\", \"--block\"]; after = [\"mute\"]; }\n"
                ");\n",
                h_testworker(), gh_path(&g, "talker.env"), gh_path(&g, "gate"), h_testworker(),
                gh_path(&g, "plain.env"), notifyworker(), h_testworker(), gh_path(&g, "late.stamp"));
        ck_assert_int_eq(gh_start(&g, conf, ENV("-v"), ENV(n.env, "WATCHDOG_USEC=10000000")), 0);
        ck_assert(h_wait_file(gh_path(&g, "talker.env"), T));
        ck_assert(h_wait_file(gh_path(&g, "plain.env"), T));
        ck_assert(h_wait_log(&g, "talker: ready", T));
        ck_assert(h_wait_log(&g, "mute: started", T));

        env = h_read_file(gh_path(&g, "talker.env"));
        ck_assert_ptr_nonnull(env);
        sock = h_field_env(env, "NOTIFY_SOCKET");
        ck_assert_ptr_nonnull(sock);
        ck_assert_msg(sock[0] == '@' && strcmp(sock, n.path) != 0, "worker NOTIFY_SOCKET=%s", sock);
        ck_assert_ptr_null(v = h_field_env(env, "WATCHDOG_USEC"));
        ck_assert_ptr_null(v = h_field_env(env, "WATCHDOG_PID"));
        free(env);
        env = h_read_file(gh_path(&g, "plain.env"));
        ck_assert_ptr_nonnull(env);
        ck_assert_ptr_null(v = h_field_env(env, "NOTIFY_SOCKET")); /* ready = "exec": none */
        ck_assert_ptr_null(v = h_field_env(env, "WATCHDOG_USEC"));
        free(env);

        /* random bytes */
        for (int i = 0; i < 300; i++) {
                unsigned char buf[512];
                size_t len = 1 + (size_t)(rand_r(&seed) % (int)sizeof buf);

                for (size_t k = 0; k < len; k++)
                        buf[k] = (unsigned char)rand_r(&seed);
                (void)send_to(sock, buf, len, -1); /* a full queue may refuse some */
        }
        /* oversize: 10 KiB, and just above the limit */
        memcpy(big, "READY=1\nSTATUS=", 15);
        memset(big + 15, 'x', sizeof big - 15);
        ck_assert_int_eq(send_to(sock, big, 10 * 1024, -1), 0);
        ck_assert_int_eq(send_to(sock, big, 4097, -1), 0);
        /* NUL bytes, an empty datagram */
        {
                static const char nul[] = "READY=1\0STATUS=nul smuggled";
                ck_assert_int_eq(send_to(sock, nul, sizeof nul - 1, -1), 0);
        }
        ck_assert_int_eq(send_to(sock, "", 0, -1), 0);
        /* well-formed, but from the test process: in no worker's group */
        {
                static const char spoof[] = "READY=1\nSTATUS=spoofed by an outsider";
                ck_assert_int_eq(send_to(sock, spoof, sizeof spoof - 1, -1), 0);
        }
        /* an fd (FDSTORE is not supported): graced must close it */
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        ck_assert_int_eq(send_to(sock, "FDSTORE=1", 9, p[1]), 0);
        close(p[1]);
        {
                struct pollfd pf = { .fd = p[0], .events = POLLIN };
                ck_assert_int_eq(poll(&pf, 1, T), 1); /* EOF once graced closed its copy */
                ck_assert(pf.revents & POLLHUP);
                close(p[0]);
        }
        ck_assert(h_wait_log(&g, "dropping an oversize notify datagram", T));
        ck_assert(h_wait_log(&g, "NUL byte", T));
        ck_assert(h_wait_log(&g, "no notify worker", T));

        /* still alive, still listening to its workers, still answering */
        ck_assert(h_pid_alive(g.pid));
        ck_assert_ptr_nonnull(h_write_file(g.dir, "gate", "open\n"));
        ck_assert(h_wait_log(&g, "talker: status: after the storm", T));
        ck_assert_int_eq(gh_signal(&g, SIGUSR1), 0);
        ck_assert(h_wait_log(&g, "mute: starting, pid", T));
        ck_assert(h_wait_log(&g, "talker: running, pid", T));

        ck_assert_int_eq(h_count_log(&g, "spoofed"), 0);
        ck_assert_int_eq(h_count_log(&g, "smuggled"), 0);
        ck_assert_int_eq(h_count_log(&g, "mute: ready"), 0);
        ck_assert_int_eq(access(gh_path(&g, "late.stamp"), F_OK), -1);
        ck_assert_int_eq(find_line(&n, "READY=1", 0), -1); /* mute is still starting */

        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert_int_eq(exit_code_draining(&g, &n, T), 0);
        ck_assert_str_eq(worker_outcome(&g, "late"), "not-started");
        ck_assert_str_eq(worker_outcome(&g, "mute"), "stopped");
        ck_assert_str_eq(worker_outcome(&g, "talker"), "stopped");
        free(sock);
        h_notify_close(&n);
        gh_cleanup(&g);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("notify");
        TCase *tc;

        tc = h_tcase(s, "systemd", 60);
        tcase_add_test(tc, test_sd_sequence);
        tcase_add_test(tc, test_sd_watchdog);
        tcase_add_test(tc, test_sd_no_watchdog);
        tcase_add_test(tc, test_sd_absent);
        tcase_add_test(tc, test_sd_critical_never_ready);

        tc = h_tcase(s, "workers", 60);
        tcase_add_test(tc, test_w_systemd_notify_sh);
        tcase_add_test(tc, test_w_sd_notify);
        tcase_add_test(tc, test_w_group_member);
        tcase_add_test(tc, test_w_never_ready);
        tcase_add_test(tc, test_w_watchdog);
        tcase_add_test(tc, test_w_garbage);
        return s;
}

int main(void)
{
        (void)h_graced(); /* fail early and clearly when unset */
        (void)h_testworker();
        (void)notifyworker();
        return h_run_suite(suite());
}
