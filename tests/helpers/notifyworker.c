/* notifyworker - a worker that speaks sd_notify through libsystemd, for
 * graced's tests of ready = "notify" and the worker watchdog.
 *
 * Usage: notifyworker [OPTION]...
 *
 *   --status TEXT            send STATUS=TEXT right at start (before READY=1)
 *   --ready-after-ms N       send READY=1 N ms after start (default 0)
 *   --no-ready               never send READY=1
 *   --ready-status TEXT      send STATUS=TEXT in the same datagram as READY=1
 *   --stamp FILE             right before READY=1 goes out, write
 *                            "<pid> <CLOCK_MONOTONIC ns> <CLOCK_REALTIME ns>\n"
 *                            to FILE atomically (FILE.tmp.<pid>, then rename)
 *   --watchdog-every-ms N    send WATCHDOG=1 every N ms once ready
 *   --stop-watchdog-after N  stop pinging after N pings (simulates a hang)
 *   --ping-file FILE         append a line "<pid> <ping number>" to FILE at
 *                            every ping (to observe the pings)
 *   --stopping               send STOPPING=1 when SIGTERM arrives
 *   --stop-delay-ms N        on SIGTERM let N ms pass before exiting
 *   --exit-code N            exit code after SIGTERM (default 0)
 *   -h, --help               this help
 *
 * After its start-up messages it blocks until SIGTERM (or SIGINT) and then
 * exits with --exit-code. A bad command line exits 2; a failed action (a
 * stamp file that cannot be written) exits 120. sd_notify failures are
 * reported on stderr but do not end the worker (a NOTIFY_SOCKET that went
 * away must not look like a crash). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#define EXIT_USAGE 2
#define EXIT_FAILED 120

static const char usage_text[] =
        "Usage: notifyworker [OPTION]...\n"
        "Speaks sd_notify to $NOTIFY_SOCKET, then blocks until SIGTERM and exits.\n"
        "\n"
        "  --status TEXT            send STATUS=TEXT at start\n"
        "  --ready-after-ms N       send READY=1 after N ms (default 0)\n"
        "  --no-ready               never send READY=1\n"
        "  --ready-status TEXT      STATUS=TEXT in the READY=1 datagram\n"
        "  --stamp FILE             write \"<pid> <mono ns> <real ns>\" right before READY=1\n"
        "  --watchdog-every-ms N    send WATCHDOG=1 every N ms once ready\n"
        "  --stop-watchdog-after N  stop pinging after N pings\n"
        "  --ping-file FILE         append \"<pid> <n>\" to FILE at every ping\n"
        "  --stopping               send STOPPING=1 on SIGTERM\n"
        "  --stop-delay-ms N        on SIGTERM wait N ms before exiting\n"
        "  --exit-code N            exit code after SIGTERM (default 0)\n"
        "  -h, --help               this help\n";

struct opts {
        const char *status, *ready_status, *stamp, *ping_file;
        long ready_after_ms, watchdog_ms, stop_delay_ms;
        long stop_watchdog_after; /* -1: never */
        int exit_code;
        bool no_ready, stopping;
};

static long long clock_ns(clockid_t id)
{
        struct timespec ts;

        clock_gettime(id, &ts);
        return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long mono_ms(void) { return clock_ns(CLOCK_MONOTONIC) / 1000000LL; }

static bool parse_long(const char *s, long min, long max, long *out)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < min || v > max)
                return false;
        *out = v;
        return true;
}

__attribute__((format(printf, 1, 2), noreturn)) static void usage_error(const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "notifyworker: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry 'notifyworker --help'.\n");
        exit(EXIT_USAGE);
}

static void parse_args(int argc, char **argv, struct opts *o)
{
        *o = (struct opts){ .stop_watchdog_after = -1 };

        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                const char *v = i + 1 < argc ? argv[i + 1] : NULL;
                long n;

#define NEED_ARG()                                                         \
        do {                                                               \
                if (!v)                                                    \
                        usage_error("option %s needs an argument", a);    \
                i++;                                                       \
        } while (0)
#define NUM(min, max, dst)                                                 \
        do {                                                               \
                NEED_ARG();                                                \
                if (!parse_long(v, (min), (max), &n))                      \
                        usage_error("bad number '%s'", v);                 \
                (dst) = n;                                                 \
        } while (0)

                if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
                        fputs(usage_text, stdout);
                        exit(0);
                } else if (strcmp(a, "--status") == 0) {
                        NEED_ARG();
                        o->status = v;
                } else if (strcmp(a, "--ready-status") == 0) {
                        NEED_ARG();
                        o->ready_status = v;
                } else if (strcmp(a, "--stamp") == 0) {
                        NEED_ARG();
                        o->stamp = v;
                } else if (strcmp(a, "--ping-file") == 0) {
                        NEED_ARG();
                        o->ping_file = v;
                } else if (strcmp(a, "--ready-after-ms") == 0) {
                        NUM(0, INT_MAX, o->ready_after_ms);
                } else if (strcmp(a, "--watchdog-every-ms") == 0) {
                        NUM(1, INT_MAX, o->watchdog_ms);
                } else if (strcmp(a, "--stop-watchdog-after") == 0) {
                        NUM(0, INT_MAX, o->stop_watchdog_after);
                } else if (strcmp(a, "--stop-delay-ms") == 0) {
                        NUM(0, INT_MAX, o->stop_delay_ms);
                } else if (strcmp(a, "--exit-code") == 0) {
                        NUM(0, 255, o->exit_code);
                } else if (strcmp(a, "--no-ready") == 0) {
                        o->no_ready = true;
                } else if (strcmp(a, "--stopping") == 0) {
                        o->stopping = true;
                } else {
                        usage_error("unknown option '%s'", a);
                }
#undef NUM
#undef NEED_ARG
        }
}

/* One datagram: the fields of msg, plus "STATUS=<status>" when status is set. */
static void notify(const char *msg, const char *status)
{
        char *full = NULL;
        int r;

        if (status && asprintf(&full, "%s%sSTATUS=%s", msg, *msg ? "\n" : "", status) < 0) {
                fprintf(stderr, "notifyworker: out of memory\n");
                exit(EXIT_FAILED);
        }
        r = sd_notify(0, full ? full : msg);
        free(full);

        if (r < 0)
                fprintf(stderr, "notifyworker: sd_notify: %s\n", strerror(-r));
        else if (r == 0)
                fprintf(stderr, "notifyworker: NOTIFY_SOCKET is not set\n");
}

static bool write_atomic(const char *path, const char *text)
{
        char tmp[PATH_MAX];
        size_t len = strlen(text);
        int fd;

        if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
                return false;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return false;
        if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0) {
                close(fd);
                unlink(tmp);
                return false;
        }
        close(fd);
        if (rename(tmp, path) < 0) {
                unlink(tmp);
                return false;
        }
        return true;
}

static void append_line(const char *path, const char *text)
{
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

        if (fd < 0) {
                fprintf(stderr, "notifyworker: %s: %s\n", path, strerror(errno));
                exit(EXIT_FAILED);
        }
        if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
                fprintf(stderr, "notifyworker: %s: %s\n", path, strerror(errno));
                exit(EXIT_FAILED);
        }
        close(fd);
}

int main(int argc, char **argv)
{
        struct opts o;
        sigset_t ss;
        int sfd;
        long long start = mono_ms(), ready_at, next_ping = -1;
        bool ready_sent = false;
        long pings = 0;

        parse_args(argc, argv, &o);
        setvbuf(stderr, NULL, _IONBF, 0);

        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0 || (sfd = signalfd(-1, &ss, SFD_CLOEXEC)) < 0) {
                fprintf(stderr, "notifyworker: signalfd: %s\n", strerror(errno));
                return EXIT_FAILED;
        }

        if (o.status)
                notify("", o.status);
        ready_at = o.no_ready ? -1 : start + o.ready_after_ms;

        for (;;) {
                long long now = mono_ms(), next = -1;
                struct pollfd p = { .fd = sfd, .events = POLLIN };
                int timeout, r;

                if (!ready_sent && ready_at >= 0 && now >= ready_at) {
                        /* the stamp first: whatever graced starts once it
                         * has READY=1 stamps later than this */
                        if (o.stamp) {
                                char text[96];

                                snprintf(text, sizeof text, "%ld %lld %lld\n", (long)getpid(),
                                         clock_ns(CLOCK_MONOTONIC), clock_ns(CLOCK_REALTIME));
                                if (!write_atomic(o.stamp, text)) {
                                        fprintf(stderr, "notifyworker: %s: %s\n", o.stamp, strerror(errno));
                                        return EXIT_FAILED;
                                }
                        }
                        notify("READY=1", o.ready_status);
                        ready_sent = true;
                        if (o.watchdog_ms)
                                next_ping = now; /* the first ping right away */
                }
                if (ready_sent && next_ping >= 0 && now >= next_ping) {
                        if (o.stop_watchdog_after >= 0 && pings >= o.stop_watchdog_after) {
                                next_ping = -1; /* hang: no more pings */
                        } else {
                                notify("WATCHDOG=1", NULL);
                                pings++;
                                if (o.ping_file) {
                                        char line[64];

                                        snprintf(line, sizeof line, "%ld %ld\n", (long)getpid(), pings);
                                        append_line(o.ping_file, line);
                                }
                                next_ping = now + o.watchdog_ms;
                        }
                }
                if (!ready_sent && ready_at >= 0)
                        next = ready_at;
                if (next_ping >= 0 && (next < 0 || next_ping < next))
                        next = next_ping;
                timeout = next < 0 ? -1 : next > now ? (int)(next - now) : 0;
                r = poll(&p, 1, timeout);
                if (r < 0 && errno != EINTR) {
                        fprintf(stderr, "notifyworker: poll: %s\n", strerror(errno));
                        return EXIT_FAILED;
                }
                if (r > 0) {
                        struct signalfd_siginfo si;

                        if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
                                break;
                }
        }

        if (o.stopping)
                notify("STOPPING=1", NULL);
        if (o.stop_delay_ms) {
                struct timespec ts = { o.stop_delay_ms / 1000, (o.stop_delay_ms % 1000) * 1000000L };

                while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                        ;
        }
        return o.exit_code;
}
