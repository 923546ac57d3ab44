/* soak - graced under a storm for SOAK_MINUTES, then checked.
 *
 * See tests/soak/README.md for what it does and why each check is what it
 * is. Run it with `make soak` (SOAK_MINUTES, SOAK_SEED, SOAK_KEEP,
 * SOAK_WORKERS). Exit 0 when every check passed, 1 when one failed, 2 when
 * the soak could not be set up.
 *
 * Safety: it signals only processes it started (graced, gracectl clients)
 * or that graced started for it (workers, identified by pid AND by the
 * marker variable in their environment, through a pidfd, so a recycled pid
 * is never hit); it talks to loopback only; everything lives in a private
 * temporary directory, removed at the end unless SOAK_KEEP=1.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "harness.h"

/* ---- parameters ----------------------------------------------------------------------- */

#define N_HTTP_SRV 2                 /* testworker HTTP listeners (workers hsrv0, hsrv1) */
#define N_VAR 3                      /* workers that only one config variant has */
#define N_CHANGED 5                  /* workers whose env differs between variants (restarted) */
#define N_INPLACE 5                  /* workers whose restart_delay_max differs (changed in place) */
#define SAMPLE_MS 1000               /* fd / RSS sampling */
#define WINDOW_SAMPLES 30            /* a point of the slope = the medians of this many samples */
#define FD_SLOPE_MAX 0.5             /* fds per minute */
#define RSS_SLOPE_MAX_KIB 64.0       /* KiB per minute */
#define MAX_FOLLOWERS 8
#define REST_FD_SLACK 5              /* fds at rest after the storm vs before it */

/* ---- small utilities ----------------------------------------------------------------------- */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static uint64_t rng_state;

static uint64_t rnd(void)
{
        /* xorshift64*: the storm's choices replay from SOAK_SEED */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * 2685821657736338717ULL;
}

static long rnd_range(long lo, long hi) /* [lo, hi] */
{
        return lo + (long)(rnd() % (uint64_t)(hi - lo + 1));
}

static long long now_ns(void) { return h_now_ns(); }

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
        va_list ap;
        char *s;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                abort();
        va_end(ap);
        return s;
}

static void *xcalloc(size_t n, size_t sz)
{
        void *p = calloc(n ? n : 1, sz ? sz : 1);

        if (!p)
                abort();
        return p;
}

static void *xrealloc(void *p, size_t n)
{
        p = realloc(p, n ? n : 1);
        if (!p)
                abort();
        return p;
}

/* ---- the soak's state -------------------------------------------------------------------- */

struct wspec {
        char name[16];
        int idx;
        char head[16];    /* after = [head] ("" none) */
        bool file_out;    /* stdout = DIR/files/NAME.log */
        int probe;        /* 0 none, 1 exec, 2 http, 3 tcp */
        int http_srv;     /* which hsrv for probe 2 */
        bool log_ready;   /* ready = { log = ... } */
        int rate, err, crash;
        int variant;      /* -1 both, 0 or 1 only that one */
        int changed;      /* 0, 1: env differs, 2: restart_delay_max differs */
};

struct client {
        pid_t pid;
        int kind;
        long long kill_at;  /* 0: wait for it to end */
        int hold_fd;        /* read end of a pipe nobody reads (slow follower), -1 */
        bool killed;        /* we signalled it */
};

enum { C_STATUS, C_STATUS_JSON, C_LOGS_N, C_LOGS_F, C_LOGS_F_SLOW, C_RELOAD, C_REOPEN, C_KINDS };
static const char *const kind_name[C_KINDS] = { "status", "status --json", "logs -n", "logs -f",
                                                "logs -f (slow reader)", "reload", "reopen" };

struct pending { int kind; int target; long long at; }; /* a probe to make healthy again */

struct sample { double t_min; long fd; long rss_kib; };

static struct {
        char *dir;
        const char *graced, *gracectl, *testworker, *worker;
        double minutes;
        uint64_t seed;
        bool keep;
        char *marker;        /* "SOAK_MARKER=..." */
        char *marker_val;
        int nworkers;        /* total in one variant */
        int nbase;
        struct wspec *w;     /* nbase + 2 * N_VAR */
        int nw;
        int variant;
        char *conf_path, *log_path, *report_path, *ctl_path;
        int http_port[N_HTTP_SRV], tcp_port, metrics_port;
        int reserve_fd[N_HTTP_SRV + 2];
        int tcp_fd;          /* the driver's listener for tcp probes, -1 when down */
        pid_t gpid;
        int gstatus;
        bool g_reaped;
        unsigned long long my_start_ticks;
        /* storm */
        struct client *clients;
        size_t n_clients, cap_clients;
        struct pending *pend;
        size_t n_pend, cap_pend;
        bool http_bad[N_HTTP_SRV];
        bool *sick;          /* per wspec */
        /* status snapshot */
        struct snap { char name[32]; pid_t pid; char state[16]; char health[24]; } *snap;
        size_t n_snap;
        /* samples */
        struct sample *raw, *win;
        size_t n_raw, n_win, cap_raw, cap_win;
        long long storm_start, storm_end;
        /* counters */
        long kills[4], kill_skipped, reloads_hup, reloads_ctl, reload_ctl_fail, flips[3], clients_n[C_KINDS],
                clients_killed, client_fail[C_KINDS], usr1, usr2, rotations, metrics_ok, metrics_bad,
                metrics_abort, status_snaps, status_fail;
        char *client_fail_msg;
        int failures;
} S;

static void die(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        fprintf(stderr, "soak: ");
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
        va_end(ap);
        if (S.gpid > 0 && !S.g_reaped) {
                kill(S.gpid, SIGKILL);
                waitpid(S.gpid, NULL, 0);
        }
        if (S.dir && !S.keep)
                h_rmrf(S.dir);
        exit(2);
}

static void verdict(bool ok, const char *check, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void verdict(bool ok, const char *check, const char *fmt, ...)
{
        va_list ap;

        printf("%s  %-22s ", ok ? "PASS" : "FAIL", check);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
        fflush(stdout);
        if (!ok)
                S.failures++;
}

/* ---- /proc ----------------------------------------------------------------------------------- */

static char *read_small(const char *path, size_t *len)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        size_t cap = 4096, n = 0;
        char *buf;

        if (fd < 0)
                return NULL;
        buf = xcalloc(1, cap + 1);
        for (;;) {
                ssize_t r = read(fd, buf + n, cap - n);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        break;
                n += (size_t)r;
                if (n == cap) {
                        cap *= 2;
                        buf = xrealloc(buf, cap + 1);
                }
        }
        close(fd);
        buf[n] = '\0';
        if (len)
                *len = n;
        return buf;
}

/* fields of /proc/PID/stat: state, ppid, pgrp, session, starttime. false: gone. */
static bool proc_stat(pid_t pid, char *state, pid_t *ppid, pid_t *pgrp, pid_t *sid, unsigned long long *start)
{
        char path[64], *buf, *p;
        bool ok = false;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        buf = read_small(path, NULL);
        if (!buf)
                return false;
        p = strrchr(buf, ')');
        if (p) {
                char st;
                int pp, pg, se;
                unsigned long long stt = 0;
                /* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
                 * cutime cstime priority nice threads itrealvalue starttime */
                if (sscanf(p + 2, "%c %d %d %d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                           &st, &pp, &pg, &se, &stt) == 5) {
                        if (state)
                                *state = st;
                        if (ppid)
                                *ppid = pp;
                        if (pgrp)
                                *pgrp = pg;
                        if (sid)
                                *sid = se;
                        if (start)
                                *start = stt;
                        ok = true;
                }
        }
        free(buf);
        return ok;
}

static bool environ_has_marker(pid_t pid)
{
        char path[64], *buf;
        size_t len, mlen = strlen(S.marker);
        bool found = false;

        snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
        buf = read_small(path, &len);
        if (!buf)
                return false;
        for (size_t i = 0; i < len; i += strlen(buf + i) + 1)
                if (strcmp(buf + i, S.marker) == 0 || (len - i >= mlen && memcmp(buf + i, S.marker, mlen) == 0 &&
                                                       buf[i + mlen] == '\0')) {
                        found = true;
                        break;
                }
        free(buf);
        return found;
}

static char *cmdline(pid_t pid)
{
        char path[64], *buf;
        size_t len;

        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
        buf = read_small(path, &len);
        if (!buf)
                return strdup("?");
        for (size_t i = 0; i + 1 < len; i++)
                if (buf[i] == '\0')
                        buf[i] = ' ';
        return buf;
}

static long count_fds(pid_t pid)
{
        char path[64];
        DIR *d;
        struct dirent *de;
        long n = 0;

        snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
        d = opendir(path);
        if (!d)
                return -1;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

static long rss_anon_kib(pid_t pid)
{
        char path[64], *buf, *p;
        long v = -1;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        buf = read_small(path, NULL);
        if (!buf)
                return -1;
        p = strstr(buf, "\nRssAnon:");
        if (p)
                v = strtol(p + 9, NULL, 10);
        free(buf);
        return v;
}

static int pidfd_open_(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }
static int pidfd_signal(int pfd, int sig) { return (int)syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0); }

/* Signals pid only if it is (still) a process of this soak: the pidfd pins
 * the process, then its environment must carry the marker and its command
 * line must contain want (NULL: anything). */
static bool signal_ours(pid_t pid, int sig, const char *want)
{
        int pfd = pidfd_open_(pid);
        bool ok = false;

        if (pfd < 0)
                return false;
        if (environ_has_marker(pid)) {
                char *cl = cmdline(pid);
                if (!want || strstr(cl, want))
                        ok = pidfd_signal(pfd, sig) == 0;
                free(cl);
        }
        close(pfd);
        return ok;
}

/* ---- starting processes ---------------------------------------------------------------------- */

/* fork+exec argv in its own process group, PDEATHSIG SIGKILL, stdin
 * /dev/null, stdout on out_fd, stderr on err_fd (-1: /dev/null). */
static pid_t spawn(const char *const *argv, int out_fd, int err_fd)
{
        pid_t parent = getpid(), pid;

        fflush(NULL);
        pid = fork();
        if (pid < 0)
                die("fork: %s", strerror(errno));
        if (pid == 0) {
                sigset_t none;
                int devnull = open("/dev/null", O_RDWR);
                if (setpgid(0, 0) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(127);
                dup2(devnull, 0);
                dup2(out_fd >= 0 ? out_fd : devnull, 1);
                dup2(err_fd >= 0 ? err_fd : devnull, 2);
                close_range(3, ~0U, 0);
                for (int sig = 1; sig < 32; sig++)
                        if (sig != SIGKILL && sig != SIGSTOP)
                                signal(sig, SIG_DFL);
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                execv(argv[0], (char *const *)argv);
                _exit(127);
        }
        return pid;
}

static int clients_err_fd = -1;

static void client_start(int kind)
{
        const char *argv[16];
        int n = 0, fds[2] = { -1, -1 }, out = -1;
        struct client c = { .kind = kind, .hold_fd = -1 };
        char nbuf[16];
        const char *names[4] = { 0 };
        int nn = 0;

        argv[n++] = S.gracectl;
        argv[n++] = "-s";
        argv[n++] = S.ctl_path;
        switch (kind) {
        case C_STATUS: argv[n++] = "status"; break;
        case C_STATUS_JSON: argv[n++] = "--json"; argv[n++] = "status"; break;
        case C_LOGS_N:
        case C_LOGS_F:
        case C_LOGS_F_SLOW:
                argv[n++] = "logs";
                if (kind == C_LOGS_N) {
                        snprintf(nbuf, sizeof(nbuf), "%ld", rnd_range(1, 500));
                        argv[n++] = "-n";
                        argv[n++] = nbuf;
                } else {
                        argv[n++] = "-f";
                }
                /* names of workers every variant has (an unknown NAME is an error) */
                nn = (int)rnd_range(0, 3);
                for (int i = 0; i < nn; i++) {
                        names[i] = S.w[rnd_range(0, S.nbase - 1)].name;
                        argv[n++] = names[i];
                }
                break;
        case C_RELOAD: argv[n++] = "reload"; break;
        case C_REOPEN: argv[n++] = "reopen"; break;
        }
        argv[n] = NULL;
        if (kind == C_LOGS_F_SLOW) {
                if (pipe2(fds, O_CLOEXEC) < 0)
                        die("pipe2: %s", strerror(errno));
                out = fds[1];
        }
        c.pid = spawn(argv, out, clients_err_fd);
        if (fds[1] >= 0)
                close(fds[1]);
        c.hold_fd = fds[0];
        if (kind == C_LOGS_F || kind == C_LOGS_F_SLOW)
                c.kill_at = now_ns() + rnd_range(300, 10000) * 1000000LL;
        else
                c.kill_at = now_ns() + 30000 * 1000000LL; /* a hung client: killed, counted as failed */
        if (S.n_clients == S.cap_clients) {
                S.cap_clients = S.cap_clients ? 2 * S.cap_clients : 64;
                S.clients = xrealloc(S.clients, S.cap_clients * sizeof(*S.clients));
        }
        S.clients[S.n_clients++] = c;
        S.clients_n[kind]++;
}

static size_t n_followers(void)
{
        size_t n = 0;

        for (size_t i = 0; i < S.n_clients; i++)
                if (S.clients[i].kind == C_LOGS_F || S.clients[i].kind == C_LOGS_F_SLOW)
                        n++;
        return n;
}

static void client_fail(int kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void client_fail(int kind, const char *fmt, ...)
{
        va_list ap;

        S.client_fail[kind]++;
        if (!S.client_fail_msg) {
                va_start(ap, fmt);
                if (vasprintf(&S.client_fail_msg, fmt, ap) < 0)
                        S.client_fail_msg = NULL;
                va_end(ap);
        }
}

/* Reaps ended clients, kills those due. final: a follower that ends must
 * have exited 0 (graced exited). */
static void clients_tick(bool kill_due)
{
        long long t = now_ns();

        for (size_t i = 0; i < S.n_clients;) {
                struct client *c = &S.clients[i];
                int st;
                pid_t r = waitpid(c->pid, &st, WNOHANG);

                if (r == c->pid) {
                        bool follower = c->kind == C_LOGS_F || c->kind == C_LOGS_F_SLOW;
                        if (c->killed) {
                                if (!(WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) == 130)))
                                        client_fail(c->kind, "%s pid %d: status 0x%x after our signal",
                                                    kind_name[c->kind], (int)c->pid, st);
                        } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                                client_fail(c->kind, "%s pid %d: %s %d%s", kind_name[c->kind], (int)c->pid,
                                            WIFEXITED(st) ? "exit" : "signal",
                                            WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
                                            follower ? " (a follower ended before graced)" : "");
                        }
                        if (c->hold_fd >= 0)
                                close(c->hold_fd);
                        S.clients[i] = S.clients[--S.n_clients];
                        continue;
                }
                if (c->killed && c->kill_at && t >= c->kill_at + 10000000000LL) {
                        /* it did not end on our signal (SIGINT): a failure, then SIGKILL */
                        client_fail(c->kind, "%s pid %d: still running 10s after our SIGINT/SIGKILL",
                                    kind_name[c->kind], (int)c->pid);
                        kill(c->pid, SIGKILL);
                        c->kill_at = 0;
                }
                if (kill_due && !c->killed && c->kill_at && t >= c->kill_at) {
                        bool follower = c->kind == C_LOGS_F || c->kind == C_LOGS_F_SLOW;
                        if (!follower)
                                client_fail(c->kind, "%s pid %d: no answer within 30s", kind_name[c->kind],
                                            (int)c->pid);
                        /* followers: SIGKILL mid-stream mostly, SIGINT (exit 130) sometimes */
                        kill(c->pid, follower && rnd() % 4 == 0 ? SIGINT : SIGKILL);
                        c->killed = true;
                        c->kill_at = t;
                        S.clients_killed++;
                }
                i++;
        }
}

/* ---- the configuration ------------------------------------------------------------------------- */

static void specs_init(void)
{
        S.nbase = S.nworkers - N_VAR - N_HTTP_SRV;
        if (S.nbase < 20)
                die("SOAK_WORKERS must be >= %d", 20 + N_VAR + N_HTTP_SRV);
        S.nw = S.nbase + 2 * N_VAR;
        S.w = xcalloc((size_t)S.nw, sizeof(*S.w));
        S.sick = xcalloc((size_t)S.nw, sizeof(bool));
        for (int i = 0; i < S.nw; i++) {
                struct wspec *w = &S.w[i];
                w->idx = i;
                w->variant = -1;
                if (i < S.nbase) {
                        snprintf(w->name, sizeof(w->name), "w%03d", i);
                        /* groups of 10: the first is the head, the others start after it
                         * (and stop before it: the report's order shows it) */
                        if (i % 10 && i - i % 10 < S.nbase - N_CHANGED - N_INPLACE)
                                snprintf(w->head, sizeof(w->head), "w%03d", i - i % 10);
                        w->file_out = i % 10 == 5;
                        w->probe = i % 7 == 3 ? 1 : i % 7 == 5 ? 2 : (i % 7 == 6 && i % 2 == 0) ? 3 : 0;
                        w->http_srv = (i / 7) % N_HTTP_SRV;
                        w->log_ready = i % 25 == 7;
                        if (i >= S.nbase - N_CHANGED)
                                w->changed = 1;
                        else if (i >= S.nbase - N_CHANGED - N_INPLACE)
                                w->changed = 2;
                } else {
                        int k = i - S.nbase;
                        w->variant = k / N_VAR;
                        snprintf(w->name, sizeof(w->name), "x%c%d", w->variant ? 'b' : 'a', k % N_VAR);
                }
                w->rate = (int)rnd_range(1, 3);
                w->err = i % 4 == 1 ? (int)rnd_range(2, 5) : 0;
                w->crash = i % 3 == 0 ? (int)rnd_range(45, 150) : 0;
        }
}

static void write_conf(int variant)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                die("open_memstream");
        fprintf(f, "# soak configuration, variant %c\n", variant ? 'B' : 'A');
        fprintf(f, "supervisor = {\n  name = \"soak\";\n  shutdown_timeout = \"120s\";\n  max_parallel = 32;\n"
                   "  log_buffer = 100;\n  control_socket = \"%s\";\n  http_listen = \"127.0.0.1:%d\";\n};\n",
                S.ctl_path, S.metrics_port);
        fprintf(f, "workers = (\n");
        for (int i = 0; i < S.nw; i++) {
                struct wspec *w = &S.w[i];
                if (w->variant >= 0 && w->variant != variant)
                        continue;
                fprintf(f, "  { name = \"%s\"; command = [\"%s\", \"--name\", \"%s\", \"--dir\", \"%s\", "
                           "\"--rate\", \"%d\", \"--err\", \"%d\", \"--crash\", \"%d\"];\n",
                        w->name, S.worker, w->name, S.dir, w->rate, w->err, w->crash);
                fprintf(f, "    restart = \"on-failure\"; restart_delay = \"100ms\"; restart_delay_max = \"%s\";\n"
                           "    start_limit_burst = 50; start_limit_interval = \"10s\"; stop_timeout = \"5s\";\n",
                        w->changed == 2 && variant ? "3s" : "2s");
                if (w->changed == 1)
                        fprintf(f, "    env = { SOAK_VARIANT = \"%c\"; };\n", variant ? 'B' : 'A');
                if (w->head[0])
                        fprintf(f, "    after = [\"%s\"];\n", w->head);
                if (w->file_out)
                        fprintf(f, "    stdout = \"%s/files/%s.log\";\n", S.dir, w->name);
                if (w->log_ready)
                        fprintf(f, "    ready = { log = \"^SOAK %s [0-9.]+ 1 \"; };\n", w->name);
                switch (w->probe) {
                case 1:
                        fprintf(f, "    health = { exec = [\"/usr/bin/test\", \"!\", \"-e\", \"%s/sick/%s\"]; "
                                   "interval = \"1s\"; timeout = \"1s\"; failures = 3; };\n",
                                S.dir, w->name);
                        break;
                case 2:
                        fprintf(f, "    health = { http = \"http://127.0.0.1:%d/health\"; interval = \"1s\"; "
                                   "timeout = \"1s\"; failures = 3; };\n",
                                S.http_port[w->http_srv]);
                        break;
                case 3:
                        fprintf(f, "    health = { tcp = \"127.0.0.1:%d\"; interval = \"1s\"; timeout = \"1s\"; "
                                   "failures = 3; };\n",
                                S.tcp_port);
                        break;
                }
                fprintf(f, "  },\n");
        }
        for (int k = 0; k < N_HTTP_SRV; k++)
                fprintf(f, "  { name = \"hsrv%d\"; command = [\"%s\", \"--listen-tcp\", \"%d\", \"%s/hsrv%d.stamp\", "
                           "\"--http-status-file\", \"%s/http%d.status\", \"--block\"];\n"
                           "    restart = \"on-failure\"; restart_delay = \"100ms\"; restart_delay_max = \"1s\";\n"
                           "    start_limit_burst = 50; start_limit_interval = \"10s\"; stop_timeout = \"5s\"; }%s\n",
                        k, S.testworker, S.http_port[k], S.dir, k, S.dir, k, k + 1 < N_HTTP_SRV ? "," : "");
        fprintf(f, ");\n");
        fclose(f);
        char *p = h_write_file(NULL, S.conf_path, "%s", buf);
        if (!p)
                die("cannot write %s", S.conf_path);
        free(p);
        free(buf);
        S.variant = variant;
}

/* ---- sockets ------------------------------------------------------------------------------------ */

static int bind_loopback(int port, bool reuseport, bool do_listen)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        if (fd < 0)
                return -1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (reuseport)
                setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || (do_listen && listen(fd, 64) < 0)) {
                close(fd);
                return -1;
        }
        return fd;
}

static int sock_port(int fd)
{
        struct sockaddr_in a;
        socklen_t l = sizeof(a);

        if (getsockname(fd, (struct sockaddr *)&a, &l) < 0)
                return -1;
        return ntohs(a.sin_port);
}

/* A port held by a bound (not listening) SO_REUSEPORT socket: nobody else
 * takes it, and a listener with SO_REUSEPORT may join it. */
static int reserve_port(int slot)
{
        int fd = bind_loopback(0, true, false);

        if (fd < 0)
                die("cannot reserve a loopback port: %s", strerror(errno));
        S.reserve_fd[slot] = fd;
        return sock_port(fd);
}

static void tcp_up(void)
{
        if (S.tcp_fd < 0)
                S.tcp_fd = bind_loopback(S.tcp_port, true, true);
}

static void tcp_down(void)
{
        if (S.tcp_fd >= 0)
                close(S.tcp_fd);
        S.tcp_fd = -1;
}

static void tcp_accept_all(void)
{
        int fd;

        while (S.tcp_fd >= 0 && (fd = accept4(S.tcp_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
                close(fd);
}

/* GET /metrics from graced's endpoint (or a connection dropped mid-way). */
static void metrics_client(void)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)S.metrics_port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct timeval tv = { .tv_sec = 3 };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        static const char req[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        char buf[65536];
        size_t n = 0;
        int mode = (int)(rnd() % 5); /* 0: connect and close, 1: half a request, else: whole */

        if (fd < 0)
                return;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
                S.metrics_bad++;
                close(fd);
                return;
        }
        if (mode == 0 || mode == 1) {
                if (mode == 1 && write(fd, req, 20) < 0)
                        S.metrics_bad++;
                S.metrics_abort++;
                close(fd);
                return;
        }
        if (write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1)) {
                S.metrics_bad++;
                close(fd);
                return;
        }
        for (;;) {
                ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
                if (r <= 0)
                        break;
                n += (size_t)r;
                if (n == sizeof(buf) - 1)
                        n = sizeof(buf) / 2; /* keep reading, keep the tail */
        }
        buf[n] = '\0';
        close(fd);
        if (strncmp(buf, "HTTP/1.1 200", 12) == 0 || strstr(buf, "# EOF"))
                S.metrics_ok++;
        else
                S.metrics_bad++;
}

/* ---- status snapshot, kills ----------------------------------------------------------------------- */

static bool snapshot(void)
{
        const char *argv[] = { S.gracectl, "-s", S.ctl_path, "--json", "status", NULL };
        char *out = NULL;
        int st = h_run(argv, NULL, 10000, &out);
        struct json_object *root, *ws;
        bool ok = false;

        S.status_snaps++;
        S.n_snap = 0;
        if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || !out) {
                S.status_fail++;
                free(out);
                return false;
        }
        root = json_tokener_parse(out);
        if (root && json_object_object_get_ex(root, "workers", &ws) && json_object_is_type(ws, json_type_array)) {
                size_t n = json_object_array_length(ws);
                S.snap = xrealloc(S.snap, (n + 1) * sizeof(*S.snap));
                for (size_t i = 0; i < n; i++) {
                        struct json_object *o = json_object_array_get_idx(ws, i);
                        struct snap *sn = &S.snap[S.n_snap];
                        const char *nm = h_json_str(o, "name"), *stt = h_json_str(o, "state"),
                                   *he = h_json_str(o, "health");
                        long long pid = h_json_int(o, "pid");
                        snprintf(sn->name, sizeof(sn->name), "%s", nm ? nm : "?");
                        snprintf(sn->state, sizeof(sn->state), "%s", stt ? stt : "?");
                        snprintf(sn->health, sizeof(sn->health), "%s", he ? he : "-");
                        sn->pid = pid == H_JSON_NONE ? 0 : (pid_t)pid;
                        S.n_snap++;
                }
                ok = true;
        } else {
                S.status_fail++;
        }
        if (root)
                json_object_put(root);
        free(out);
        return ok;
}

static void kill_one(void)
{
        static const int sigs[] = { SIGKILL, SIGKILL, SIGALRM, SIGUSR2 };
        size_t tries = 0;

        while (S.n_snap && tries++ < 10) {
                struct snap *sn = &S.snap[rnd() % S.n_snap];
                int k = (int)(rnd() % 4);
                char want[40];
                if (sn->pid <= 0 || strcmp(sn->state, "running") != 0)
                        continue;
                /* the command line's NULs read as blanks */
                if (strncmp(sn->name, "hsrv", 4) == 0)
                        snprintf(want, sizeof(want), "--listen-tcp");
                else
                        snprintf(want, sizeof(want), "--name %s ", sn->name);
                if (signal_ours(sn->pid, sigs[k], want))
                        S.kills[k]++;
                else
                        S.kill_skipped++; /* gone meanwhile */
                sn->pid = 0;
                return;
        }
}

/* ---- probes ------------------------------------------------------------------------------------------ */

static void set_http(int k, bool bad)
{
        char name[32];
        char *p;

        snprintf(name, sizeof(name), "http%d.status", k);
        p = h_write_file(S.dir, name, "%d\n", bad ? 503 : 200);
        free(p);
        S.http_bad[k] = bad;
}

static void set_sick(int i, bool sick)
{
        char *p = xasprintf("%s/sick/%s", S.dir, S.w[i].name);

        if (sick) {
                int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                if (fd >= 0)
                        close(fd);
        } else {
                unlink(p);
        }
        free(p);
        S.sick[i] = sick;
}

static void add_pending(int kind, int target, long long at)
{
        if (S.n_pend == S.cap_pend) {
                S.cap_pend = S.cap_pend ? 2 * S.cap_pend : 16;
                S.pend = xrealloc(S.pend, S.cap_pend * sizeof(*S.pend));
        }
        S.pend[S.n_pend++] = (struct pending){ kind, target, at };
}

static void flip_probe(void)
{
        int kind = (int)(rnd() % 3);
        long long back = now_ns() + rnd_range(500, 6000) * 1000000LL;

        if (kind == 0) {
                int i = -1;
                for (int t = 0; t < 20; t++) {
                        int c = (int)rnd_range(0, S.nbase - 1);
                        if (S.w[c].probe == 1 && !S.sick[c]) {
                                i = c;
                                break;
                        }
                }
                if (i < 0)
                        return;
                set_sick(i, true);
                add_pending(0, i, back);
        } else if (kind == 1) {
                int k = (int)(rnd() % N_HTTP_SRV);
                if (S.http_bad[k])
                        return;
                set_http(k, true);
                add_pending(1, k, back);
        } else {
                if (S.tcp_fd < 0)
                        return;
                tcp_down();
                add_pending(2, 0, back);
        }
        S.flips[kind]++;
}

static void pending_tick(bool all)
{
        long long t = now_ns();

        for (size_t i = 0; i < S.n_pend;) {
                struct pending *p = &S.pend[i];
                if (!all && t < p->at) {
                        i++;
                        continue;
                }
                if (p->kind == 0)
                        set_sick(p->target, false);
                else if (p->kind == 1)
                        set_http(p->target, false);
                else
                        tcp_up();
                S.pend[i] = S.pend[--S.n_pend];
        }
}

/* ---- signals to graced ------------------------------------------------------------------------------- */

static void rotate_files(void)
{
        /* move some stdout files away, as logrotate would, before the SIGUSR2 */
        for (int i = 0; i < S.nbase; i++) {
                if (!S.w[i].file_out || rnd() % 2)
                        continue;
                char *from = xasprintf("%s/files/%s.log", S.dir, S.w[i].name);
                char *to = xasprintf("%s/files/%s.log.%ld", S.dir, S.w[i].name, ++S.rotations);
                if (rename(from, to) < 0 && errno != ENOENT)
                        die("rename %s: %s", from, strerror(errno));
                free(from);
                free(to);
        }
}

static void signal_burst(void)
{
        int n1 = (int)rnd_range(0, 4), n2 = (int)rnd_range(0, 3);

        if (n1 + n2 == 0)
                n1 = 1;
        if (n2)
                rotate_files();
        /* n1 SIGUSR1 and n2 SIGUSR2 in a random order, back to back */
        while (n1 + n2 > 0) {
                bool usr1 = (long)(rnd() % (uint64_t)(n1 + n2)) < n1;
                if (usr1) {
                        n1--;
                        S.usr1++;
                } else {
                        n2--;
                        S.usr2++;
                }
                if (kill(S.gpid, usr1 ? SIGUSR1 : SIGUSR2) < 0)
                        die("kill graced: %s", strerror(errno));
        }
}

static void reload(void)
{
        write_conf(!S.variant);
        if (rnd() % 2) {
                if (kill(S.gpid, SIGHUP) < 0)
                        die("kill graced: %s", strerror(errno));
                S.reloads_hup++;
        } else {
                client_start(C_RELOAD);
                S.reloads_ctl++;
        }
}

/* ---- sampling -------------------------------------------------------------------------------------- */

static void push_sample(struct sample **arr, size_t *n, size_t *cap, struct sample s)
{
        if (*n == *cap) {
                *cap = *cap ? 2 * *cap : 256;
                *arr = xrealloc(*arr, *cap * sizeof(**arr));
        }
        (*arr)[(*n)++] = s;
}

static void sample(void)
{
        long fd = count_fds(S.gpid), rss = rss_anon_kib(S.gpid);
        double t = (double)(now_ns() - S.storm_start) / 60e9;

        if (fd < 0 || rss < 0)
                return;
        push_sample(&S.raw, &S.n_raw, &S.cap_raw, (struct sample){ t, fd, rss });
}

static int cmp_long(const void *a, const void *b)
{
        long x = *(const long *)a, y = *(const long *)b;
        return x < y ? -1 : x > y;
}

static long median(long *v, size_t n)
{
        qsort(v, n, sizeof(*v), cmp_long);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The points of the fit: per WINDOW_SAMPLES raw samples, their mean time
 * and the medians of fds and RssAnon. */
static void make_windows(void)
{
        long fds[WINDOW_SAMPLES], rss[WINDOW_SAMPLES];

        for (size_t i = 0; i + WINDOW_SAMPLES <= S.n_raw; i += WINDOW_SAMPLES) {
                double t = 0;
                for (size_t k = 0; k < WINDOW_SAMPLES; k++) {
                        t += S.raw[i + k].t_min;
                        fds[k] = S.raw[i + k].fd;
                        rss[k] = S.raw[i + k].rss_kib;
                }
                push_sample(&S.win, &S.n_win, &S.cap_win,
                            (struct sample){ t / WINDOW_SAMPLES, median(fds, WINDOW_SAMPLES),
                                             median(rss, WINDOW_SAMPLES) });
        }
}

/* graced at rest (every worker running and healthy, no client): the
 * medians of 20 samples 100ms apart (exec and HTTP probes come and go). */
static void rest_sample(long *fd, long *rss, const char *dump)
{
        long f[20], r[20];
        char *dpath = xasprintf("%s/%s", S.dir, dump), *fddir = xasprintf("/proc/%d/fd", (int)S.gpid);
        FILE *df = fopen(dpath, "we");
        DIR *d = opendir(fddir);
        struct dirent *de;

        /* what they are, for a closer look (SOAK_KEEP=1) */
        while (df && d && (de = readdir(d))) {
                char lp[300], target[512];
                ssize_t n;
                if (de->d_name[0] == '.')
                        continue;
                snprintf(lp, sizeof(lp), "%s/%s", fddir, de->d_name);
                n = readlink(lp, target, sizeof(target) - 1);
                target[n > 0 ? n : 0] = '\0';
                fprintf(df, "%s %s\n", de->d_name, target);
        }
        if (d)
                closedir(d);
        if (df)
                fclose(df);
        free(dpath);
        free(fddir);

        for (int i = 0; i < 20; i++) {
                f[i] = count_fds(S.gpid);
                r[i] = rss_anon_kib(S.gpid);
                tcp_accept_all();
                h_sleep_ms(100);
        }
        *fd = median(f, 20);
        *rss = median(r, 20);
}

/* least squares slope of v(t) over the samples with t >= from */
static double slope(const struct sample *s, size_t n, double from, bool rss, size_t *used)
{
        double st = 0, sv = 0, stt = 0, stv = 0;
        size_t k = 0;

        for (size_t i = 0; i < n; i++) {
                if (s[i].t_min < from)
                        continue;
                double v = rss ? (double)s[i].rss_kib : (double)s[i].fd;
                st += s[i].t_min;
                sv += v;
                stt += s[i].t_min * s[i].t_min;
                stv += s[i].t_min * v;
                k++;
        }
        *used = k;
        if (k < 3)
                return NAN;
        double d = (double)k * stt - st * st;
        return d == 0 ? NAN : ((double)k * stv - st * sv) / d;
}

/* ---- the line check ------------------------------------------------------------------------------ */

struct seqs { uint8_t *seen; uint64_t cap, max, distinct, dups; };

struct run {
        char *key;          /* "NAME RUNID" */
        struct seqs out, err;
        bool ledger;
        uint64_t l_out, l_err, l_errno, l_start;
        bool in_output;
};

static struct run **runs;
static size_t runs_cap, runs_n;
static long lines_checked, lines_bad;
static char *bad_example;

static uint64_t hash_str(const char *s)
{
        uint64_t h = 1469598103934665603ULL;
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 1099511628211ULL;
        return h;
}

static struct run *run_get(const char *name, const char *runid)
{
        char key[128];

        snprintf(key, sizeof(key), "%s %s", name, runid);
        if (runs_n * 2 >= runs_cap) {
                size_t ncap = runs_cap ? 2 * runs_cap : 4096;
                struct run **nr = xcalloc(ncap, sizeof(*nr));
                for (size_t i = 0; i < runs_cap; i++)
                        if (runs[i]) {
                                size_t j = hash_str(runs[i]->key) & (ncap - 1);
                                while (nr[j])
                                        j = (j + 1) & (ncap - 1);
                                nr[j] = runs[i];
                        }
                free(runs);
                runs = nr;
                runs_cap = ncap;
        }
        size_t j = hash_str(key) & (runs_cap - 1);
        while (runs[j]) {
                if (strcmp(runs[j]->key, key) == 0)
                        return runs[j];
                j = (j + 1) & (runs_cap - 1);
        }
        runs[j] = xcalloc(1, sizeof(struct run));
        runs[j]->key = strdup(key);
        runs_n++;
        return runs[j];
}

static void seq_add(struct seqs *s, uint64_t seq)
{
        if (seq >= s->cap) {
                uint64_t ncap = s->cap ? s->cap : 256;
                while (ncap <= seq)
                        ncap *= 2;
                s->seen = xrealloc(s->seen, ncap);
                memset(s->seen + s->cap, 0, ncap - s->cap);
                s->cap = ncap;
        }
        if (s->seen[seq])
                s->dups++;
        else
                s->distinct++;
        s->seen[seq] = 1;
        if (seq > s->max)
                s->max = seq;
}

static void bad_line(const char *where, const char *line)
{
        lines_bad++;
        if (!bad_example)
                bad_example = xasprintf("%s: \"%.200s\"", where, line);
}

/* one captured line: "SOAK NAME RUNID SEQ PAD" or "SOAKERR ..." */
static void take_line(const char *where, const char *rec_worker, const char *stream, const char *msg)
{
        char tag[16], name[64], runid[64];
        uint64_t seq;
        bool is_err;

        if (strncmp(msg, "SOAK", 4) != 0)
                return; /* testworker's, or not a soak line */
        if (sscanf(msg, "%15s %63s %63s %" SCNu64, tag, name, runid, &seq) != 4 || seq == 0 ||
            (strcmp(tag, "SOAK") && strcmp(tag, "SOAKERR"))) {
                bad_line(where, msg);
                return;
        }
        is_err = strcmp(tag, "SOAKERR") == 0;
        if ((rec_worker && strcmp(rec_worker, name) != 0) ||
            (stream && strcmp(stream, is_err ? "stderr" : "stdout") != 0)) {
                bad_line(where, msg);
                return;
        }
        struct run *r = run_get(name, runid);
        seq_add(is_err ? &r->err : &r->out, seq);
        r->in_output = true;
        lines_checked++;
}

struct logstats { long health_failing, health_ok, health_failed, reload_ok, reload_fail, errors, restarting,
                  output; };

static void parse_main_log(struct logstats *ls)
{
        FILE *f = fopen(S.log_path, "re");
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;

        if (!f)
                die("%s: %s", S.log_path, strerror(errno));
        while ((n = getline(&line, &cap, f)) > 0) {
                if (line[n - 1] != '\n') {
                        bad_line("graced.log (no newline)", line);
                        continue;
                }
                if (line[0] != '{')
                        continue;
                struct json_object *o = json_tokener_parse(line);
                if (!o) {
                        bad_line("graced.log (not JSON)", line);
                        continue;
                }
                const char *ev = h_json_str(o, "event"), *lvl = h_json_str(o, "level"), *msg = h_json_str(o, "msg");
                if (ev && msg) {
                        if (strcmp(ev, "output") == 0) {
                                ls->output++;
                                take_line("graced.log", h_json_str(o, "worker"), h_json_str(o, "stream"), msg);
                        } else if (strcmp(ev, "health") == 0) {
                                if (strstr(msg, "health failing"))
                                        ls->health_failing++;
                                else if (strstr(msg, "health ok again"))
                                        ls->health_ok++;
                                else if (strstr(msg, "health failed"))
                                        ls->health_failed++;
                        } else if (strcmp(ev, "reload") == 0 && !h_json_str(o, "worker")) {
                                if (lvl && strcmp(lvl, "error") == 0)
                                        ls->reload_fail++;
                                else if (strncmp(msg, "reloaded ", 9) == 0)
                                        ls->reload_ok++;
                        } else if (strcmp(ev, "restarting") == 0) {
                                ls->restarting++;
                        }
                }
                if (lvl && strcmp(lvl, "error") == 0) {
                        if (ls->errors++ < 5)
                                printf("      graced error record: %.300s", line);
                }
                json_object_put(o);
        }
        free(line);
        fclose(f);
}

static void parse_files(void)
{
        char *d = xasprintf("%s/files", S.dir);
        DIR *dir = opendir(d);
        struct dirent *de;

        if (!dir)
                die("%s: %s", d, strerror(errno));
        while ((de = readdir(dir))) {
                if (de->d_name[0] == '.')
                        continue;
                char *p = xasprintf("%s/%s", d, de->d_name);
                char wname[256];
                snprintf(wname, sizeof(wname), "%s", de->d_name);
                *strchrnul(wname, '.') = '\0';
                FILE *f = fopen(p, "re");
                char *line = NULL;
                size_t cap = 0;
                ssize_t n;
                while (f && (n = getline(&line, &cap, f)) > 0) {
                        if (line[n - 1] != '\n') {
                                bad_line(de->d_name, line); /* a torn line */
                                continue;
                        }
                        line[n - 1] = '\0';
                        take_line(de->d_name, wname, "stdout", line);
                }
                free(line);
                if (f)
                        fclose(f);
                free(p);
        }
        closedir(dir);
        free(d);
}

static void read_ledgers(void)
{
        char *d = xasprintf("%s/ledger", S.dir);
        DIR *dir = opendir(d);
        struct dirent *de;

        if (!dir)
                die("%s: %s", d, strerror(errno));
        while ((de = readdir(dir))) {
                if (de->d_name[0] == '.')
                        continue;
                char name[256], *dot;
                uint64_t v[4] = { 0 };
                snprintf(name, sizeof(name), "%s", de->d_name);
                dot = strchr(name, '.');
                if (!dot)
                        continue;
                *dot = '\0';
                char *p = xasprintf("%s/%s", d, de->d_name);
                int fd = open(p, O_RDONLY | O_CLOEXEC);
                if (fd >= 0) {
                        if (read(fd, v, sizeof(v)) < 0)
                                memset(v, 0, sizeof(v));
                        close(fd);
                }
                free(p);
                struct run *r = run_get(name, dot + 1);
                r->ledger = true;
                r->l_out = v[0];
                r->l_err = v[1];
                r->l_errno = v[2];
                r->l_start = v[3];
        }
        closedir(dir);
        free(d);
}

/* The seqs of a run's stream are 1..k without gap or duplicate, and k is
 * the ledger's L or L+1 (killed between its write() and the ledger). */
static bool seqs_ok(const struct seqs *s, uint64_t ledger, char *why, size_t whylen)
{
        if (s->dups) {
                snprintf(why, whylen, "%" PRIu64 " duplicate(s)", s->dups);
                return false;
        }
        if (s->distinct != s->max) {
                uint64_t gap = 0;
                for (uint64_t q = 1; q <= s->max; q++)
                        if (!s->seen[q]) {
                                gap = q;
                                break;
                        }
                snprintf(why, whylen, "%" PRIu64 " of 1..%" PRIu64 " missing, first %" PRIu64, s->max - s->distinct,
                         s->max, gap);
                return false;
        }
        if (s->max < ledger || s->max > ledger + 1) {
                snprintf(why, whylen, "logged 1..%" PRIu64 " but the worker wrote 1..%" PRIu64 "%s", s->max, ledger,
                         s->max < ledger ? " (tail lost)" : " (more than written)");
                return false;
        }
        return true;
}

/* ---- main ------------------------------------------------------------------------------------------- */

static volatile sig_atomic_t interrupted;
static void on_int(int sig) { (void)sig; interrupted = 1; }

static double env_double(const char *name, double def)
{
        const char *v = getenv(name);
        return v && *v ? strtod(v, NULL) : def;
}

static void wait_ready(int timeout_s)
{
        long long deadline = now_ns() + timeout_s * 1000000000LL;

        for (;;) {
                if (snapshot() && S.n_snap > 0) {
                        size_t up = 0, healthy = 0;
                        for (size_t i = 0; i < S.n_snap; i++) {
                                if (strcmp(S.snap[i].state, "running") == 0)
                                        up++;
                                if (strcmp(S.snap[i].health, "-") == 0 || strcmp(S.snap[i].health, "ok") == 0)
                                        healthy++;
                        }
                        if (up == S.n_snap && healthy == S.n_snap && (int)S.n_snap == S.nworkers)
                                return;
                }
                if (now_ns() > deadline) {
                        printf("      (not every worker running and healthy after %ds; going on)\n", timeout_s);
                        for (size_t i = 0; i < S.n_snap; i++)
                                if (strcmp(S.snap[i].state, "running") ||
                                    (strcmp(S.snap[i].health, "-") && strcmp(S.snap[i].health, "ok")))
                                        printf("      %s: %s, health %s\n", S.snap[i].name, S.snap[i].state,
                                               S.snap[i].health);
                        return;
                }
                if (waitpid(S.gpid, &S.gstatus, WNOHANG) == S.gpid) {
                        S.g_reaped = true;
                        return;
                }
                h_sleep_ms(500);
        }
}

int main(void)
{
        struct rlimit no_core = { 0, 0 };
        char tmpl[4096];
        const char *tmp = getenv("TMPDIR");

        setvbuf(stdout, NULL, _IOLBF, 0);
        S.graced = h_env_path("GRACED_BIN");
        S.gracectl = h_gracectl();
        S.testworker = h_testworker();
        S.worker = h_env_path("SOAK_WORKER");
        S.minutes = env_double("SOAK_MINUTES", 10);
        S.nworkers = (int)env_double("SOAK_WORKERS", 200);
        S.keep = getenv("SOAK_KEEP") && strcmp(getenv("SOAK_KEEP"), "1") == 0;
        if (getenv("SOAK_SEED") && *getenv("SOAK_SEED"))
                S.seed = strtoull(getenv("SOAK_SEED"), NULL, 0);
        else
                S.seed = (uint64_t)time(NULL) * 1000003ULL ^ (uint64_t)getpid();
        if (!(S.minutes > 0))
                die("SOAK_MINUTES must be > 0");
        rng_state = S.seed ? S.seed : 1;
        S.tcp_fd = -1;
        setrlimit(RLIMIT_CORE, &no_core); /* workers killed by a signal leave no core */
        signal(SIGPIPE, SIG_IGN);
        signal(SIGINT, on_int);
        signal(SIGTERM, on_int);
        proc_stat(getpid(), NULL, NULL, NULL, NULL, &S.my_start_ticks);

        snprintf(tmpl, sizeof(tmpl), "%s/graced-soak.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(tmpl))
                die("mkdtemp %s: %s", tmpl, strerror(errno));
        S.dir = strdup(tmpl);
        S.marker_val = xasprintf("%" PRIu64 "-%d", S.seed, (int)getpid());
        S.marker = xasprintf("SOAK_MARKER=%s", S.marker_val);
        setenv("SOAK_MARKER", S.marker_val, 1); /* every process of the soak inherits it */
        unsetenv("NOTIFY_SOCKET");
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
        for (const char *sub = "ledger\0files\0sick\0"; *sub; sub += strlen(sub) + 1) {
                char *p = xasprintf("%s/%s", S.dir, sub);
                if (mkdir(p, 0755) < 0)
                        die("mkdir %s: %s", p, strerror(errno));
                free(p);
        }
        S.conf_path = xasprintf("%s/graced.conf", S.dir);
        S.log_path = xasprintf("%s/graced.log", S.dir);
        S.report_path = xasprintf("%s/report.json", S.dir);
        S.ctl_path = xasprintf("%s/control.sock", S.dir);
        for (int k = 0; k < N_HTTP_SRV; k++) {
                S.http_port[k] = reserve_port(k);
                set_http(k, false);
        }
        S.tcp_port = reserve_port(N_HTTP_SRV);
        S.metrics_port = reserve_port(N_HTTP_SRV + 1);
        /* graced binds the metrics port itself: give it back (loopback, a
         * fresh ephemeral port, nobody else is likely to take it meanwhile) */
        close(S.reserve_fd[N_HTTP_SRV + 1]);
        tcp_up();

        specs_init();
        write_conf(0);

        printf("soak: seed %" PRIu64 " (SOAK_SEED=%" PRIu64 " replays it), %.1f minutes, %d workers, dir %s\n",
               S.seed, S.seed, S.minutes, S.nworkers, S.dir);
        printf("soak: graced %s\n", S.graced);

        /* graced */
        int logfd = open(S.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        char *errp = xasprintf("%s/clients.err", S.dir);
        clients_err_fd = open(errp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        free(errp);
        if (logfd < 0 || clients_err_fd < 0)
                die("cannot open the logs: %s", strerror(errno));
        const char *gargv[] = { S.graced, "-c", S.conf_path, "--log-format=json", "--report", S.report_path, NULL };
        S.gpid = spawn(gargv, logfd, logfd);
        close(logfd);

        wait_ready(120);
        if (S.g_reaped)
                die("graced exited at start (status 0x%x); see %s", S.gstatus, S.log_path);
        S.status_fail = 0; /* the snapshots before the control socket was there */
        S.status_snaps = 0;
        long rest_fd0, rest_rss0, rest_fd1 = -1, rest_rss1 = -1;
        /* a few probe intervals first: libcurl's connections and the like are
         * made by the first probes (a soak may let time pass) */
        h_sleep_ms(5000);
        rest_sample(&rest_fd0, &rest_rss0, "fds-at-rest-before");
        printf("soak: %zu workers up; at rest: %ld fds, RssAnon %ld KiB; the storm begins\n", S.n_snap, rest_fd0,
               rest_rss0);

        /* the storm */
        S.storm_start = now_ns();
        S.storm_end = S.storm_start + (long long)(S.minutes * 60e9);
        long long t = S.storm_start, next_sample = t, next_snap = t, next_kill = t + 1000000000LL,
                  next_reload = t + 3000000000LL, next_flip = t + 1000000000LL, next_client = t,
                  next_metrics = t + 500000000LL, next_burst = t + 5000000000LL, next_progress = t + 60000000000LL;
        while ((t = now_ns()) < S.storm_end && !interrupted) {
                if (waitpid(S.gpid, &S.gstatus, WNOHANG) == S.gpid) {
                        S.g_reaped = true;
                        break;
                }
                if (t >= next_sample) {
                        sample();
                        next_sample += SAMPLE_MS * 1000000LL;
                }
                if (t >= next_snap) {
                        snapshot();
                        next_snap = now_ns() + 2000000000LL;
                }
                if (t >= next_kill) {
                        kill_one();
                        next_kill = t + rnd_range(500, 2500) * 1000000LL;
                }
                if (t >= next_reload) {
                        reload();
                        next_reload = t + rnd_range(2000, 6000) * 1000000LL;
                }
                if (t >= next_flip) {
                        flip_probe();
                        next_flip = t + rnd_range(1000, 4000) * 1000000LL;
                }
                if (t >= next_client) {
                        int r = (int)(rnd() % 10), kind;
                        kind = r < 2 ? C_STATUS : r < 4 ? C_STATUS_JSON : r < 6 ? C_LOGS_N : r < 8 ? C_LOGS_F
                             : r < 9 ? C_LOGS_F_SLOW : C_REOPEN;
                        if ((kind == C_LOGS_F || kind == C_LOGS_F_SLOW) && n_followers() >= MAX_FOLLOWERS)
                                kind = C_STATUS;
                        client_start(kind);
                        next_client = t + rnd_range(300, 1500) * 1000000LL;
                }
                if (t >= next_metrics) {
                        metrics_client();
                        next_metrics = t + rnd_range(1000, 3000) * 1000000LL;
                }
                if (t >= next_burst) {
                        signal_burst();
                        next_burst = t + rnd_range(5000, 15000) * 1000000LL;
                }
                if (t >= next_progress) {
                        long kills = S.kills[0] + S.kills[1] + S.kills[2] + S.kills[3];
                        printf("soak: %.1f min: fds %ld, RssAnon %ld KiB, %ld kills, %ld reloads, %ld clients\n",
                               (double)(t - S.storm_start) / 60e9, S.n_raw ? S.raw[S.n_raw - 1].fd : -1,
                               S.n_raw ? S.raw[S.n_raw - 1].rss_kib : -1, kills, S.reloads_hup + S.reloads_ctl,
                               S.clients_n[0] + S.clients_n[1] + S.clients_n[2] + S.clients_n[3] +
                                       S.clients_n[4] + S.clients_n[5] + S.clients_n[6]);
                        next_progress += 60000000000LL;
                }
                pending_tick(false);
                clients_tick(true);
                tcp_accept_all();
                struct pollfd pfd = { .fd = S.tcp_fd, .events = POLLIN };
                poll(&pfd, S.tcp_fd >= 0 ? 1 : 0, 50);
        }
        double storm_min = (double)(now_ns() - S.storm_start) / 60e9;
        if (interrupted)
                printf("soak: interrupted after %.1f minutes: shutting down and checking\n", storm_min);
        if (S.g_reaped) {
                verdict(false, "graced alive", "graced ended during the storm: status 0x%x", S.gstatus);
        }

        /* quiet down: no more crashes, every probe healthy, the clients done */
        char *calm = h_write_file(S.dir, "calm", "calm\n");
        free(calm);
        pending_tick(true);
        tcp_up();
        long long cdl = now_ns() + 35000000000LL;
        for (;;) {
                bool busy = false;
                for (size_t i = 0; i < S.n_clients; i++)
                        if (S.clients[i].kind != C_LOGS_F && S.clients[i].kind != C_LOGS_F_SLOW)
                                busy = true;
                if (!busy || now_ns() > cdl)
                        break;
                clients_tick(true);
                tcp_accept_all();
                h_sleep_ms(50);
        }
        /* the followers of the storm go (those that must end with graced come next) */
        for (size_t i = 0; i < S.n_clients; i++) {
                if (!S.clients[i].killed) {
                        kill(S.clients[i].pid, SIGKILL);
                        S.clients[i].killed = true;
                        S.clients[i].kill_at = now_ns();
                }
        }
        while (S.n_clients) {
                clients_tick(false); /* bounded: one that outlives our signal by 10s gets SIGKILL */
                h_sleep_ms(20);
        }
        size_t first_final = S.n_clients;
        if (!S.g_reaped) {
                long long q0 = now_ns();
                if (S.variant != 0) {
                        /* the configuration graced started with, to compare graced at rest */
                        write_conf(0);
                        kill(S.gpid, SIGHUP);
                        S.reloads_hup++;
                        h_sleep_ms(1000);
                }
                wait_ready(90);
                printf("soak: quiet after %.1fs; %zu workers in status\n", (double)(now_ns() - q0) / 1e9, S.n_snap);
                h_sleep_ms(5000); /* as before the storm */
                rest_sample(&rest_fd1, &rest_rss1, "fds-at-rest-after");
                printf("soak: at rest: %ld fds, RssAnon %ld KiB\n", rest_fd1, rest_rss1);
                for (int i = 0; i < 3; i++)
                        client_start(C_LOGS_F);
                for (size_t i = first_final; i < S.n_clients; i++)
                        S.clients[i].kill_at = 0; /* never: they must end by themselves */
                h_sleep_ms(300);
        }
        size_t final_followers = S.n_clients;

        /* the ordered shutdown */
        int gexit = -1;
        double shut_s = 0;
        if (!S.g_reaped) {
                long long t0 = now_ns();
                kill(S.gpid, SIGTERM);
                while (now_ns() - t0 < 180000000000LL) {
                        tcp_accept_all();
                        if (waitpid(S.gpid, &S.gstatus, WNOHANG) == S.gpid) {
                                S.g_reaped = true;
                                break;
                        }
                        h_sleep_ms(20);
                }
                shut_s = (double)(now_ns() - t0) / 1e9;
                if (!S.g_reaped) {
                        printf("soak: graced still running 180s after SIGTERM: SIGKILL\n");
                        kill(S.gpid, SIGKILL);
                        waitpid(S.gpid, &S.gstatus, 0);
                        S.g_reaped = true;
                }
        }
        gexit = WIFEXITED(S.gstatus) ? WEXITSTATUS(S.gstatus) : 128 + WTERMSIG(S.gstatus);
        /* the last followers end with graced */
        long long fdl = now_ns() + 10000000000LL;
        while (S.n_clients && now_ns() < fdl) {
                clients_tick(false);
                h_sleep_ms(20);
        }
        size_t followers_left = S.n_clients;
        for (size_t i = 0; i < S.n_clients; i++) {
                kill(S.clients[i].pid, SIGKILL);
                waitpid(S.clients[i].pid, NULL, 0);
                if (S.clients[i].hold_fd >= 0)
                        close(S.clients[i].hold_fd);
        }
        S.n_clients = 0;
        tcp_down();
        for (int k = 0; k <= N_HTTP_SRV; k++)
                close(S.reserve_fd[k]);

        /* the samples, for a closer look (SOAK_KEEP=1) */
        char *sp = xasprintf("%s/samples.tsv", S.dir);
        FILE *sf = fopen(sp, "we");
        if (sf) {
                fprintf(sf, "t_min\tfds\trss_anon_kib\n");
                for (size_t i = 0; i < S.n_raw; i++)
                        fprintf(sf, "%.4f\t%ld\t%ld\n", S.raw[i].t_min, S.raw[i].fd, S.raw[i].rss_kib);
                fclose(sf);
        }
        free(sp);

        /* ---- the checks ---- */
        printf("\n---- checks (seed %" PRIu64 ", storm %.1f min, shutdown %.2fs) ----\n", S.seed, storm_min, shut_s);

        /* 1. leaks */
        double warm = storm_min * 0.2;
        make_windows();
        size_t nf, nr, nrf, nrr;
        double fd_sl = slope(S.win, S.n_win, warm, false, &nf), rss_sl = slope(S.win, S.n_win, warm, true, &nr);
        double fd_raw = slope(S.raw, S.n_raw, warm, false, &nrf), rss_raw = slope(S.raw, S.n_raw, warm, true, &nrr);
        const struct sample *first = NULL, *last = NULL;
        for (size_t i = 0; i < S.n_win; i++)
                if (S.win[i].t_min >= warm) {
                        if (!first)
                                first = &S.win[i];
                        last = &S.win[i];
                }
        long fd_lo = LONG_MAX, fd_hi = 0, rss_lo = LONG_MAX, rss_hi = 0;
        for (size_t i = 0; i < S.n_raw; i++) {
                fd_lo = S.raw[i].fd < fd_lo ? S.raw[i].fd : fd_lo;
                fd_hi = S.raw[i].fd > fd_hi ? S.raw[i].fd : fd_hi;
                rss_lo = S.raw[i].rss_kib < rss_lo ? S.raw[i].rss_kib : rss_lo;
                rss_hi = S.raw[i].rss_kib > rss_hi ? S.raw[i].rss_kib : rss_hi;
        }
        printf("      %zu samples every %dms (fds %ld..%ld, RssAnon %ld..%ld KiB over the whole run); slope over "
               "the medians of %zu windows of %d samples after the warm-up (t >= %.2f min)\n",
               S.n_raw, SAMPLE_MS, fd_lo, fd_hi, rss_lo, rss_hi, nf, WINDOW_SAMPLES, warm);
        if (first && last) {
                printf("      first point t=%.2f min: %ld fds, %ld KiB; last point t=%.2f min: %ld fds, %ld KiB\n",
                       first->t_min, first->fd, first->rss_kib, last->t_min, last->fd, last->rss_kib);
        }
        printf("      (slopes of all raw samples after the warm-up: %.3f fd/min, %.1f KiB/min)\n", fd_raw, rss_raw);
        if (nf < 3)
                printf("      too few points for a slope: run for 3 minutes at least\n");
        verdict(isfinite(fd_sl) && fd_sl < FD_SLOPE_MAX, "fd slope", "%.3f fd/min (threshold %.1f fd/min)", fd_sl,
                FD_SLOPE_MAX);
        verdict(isfinite(rss_sl) && rss_sl < RSS_SLOPE_MAX_KIB, "RSS slope",
                "%.1f KiB/min of RssAnon (threshold %.0f KiB/min)", rss_sl, RSS_SLOPE_MAX_KIB);
        verdict(rest_fd1 >= 0 && rest_fd1 <= rest_fd0 + REST_FD_SLACK, "fds at rest",
                "%ld before the storm, %ld after it, same configuration, every worker running (allowed: +%d for "
                "probes under way); RssAnon at rest %ld -> %ld KiB",
                rest_fd0, rest_fd1, REST_FD_SLACK, rest_rss0, rest_rss1);

        /* 2. lines */
        struct logstats ls = { 0 };
        parse_main_log(&ls);
        parse_files();
        read_ledgers();
        long runs_bad = 0, runs_ledger = 0, runs_plus1 = 0, werr = 0, no_ledger = 0;
        char *first_bad = NULL;
        for (size_t i = 0; i < runs_cap; i++) {
                struct run *r = runs[i];
                char why[256];
                if (!r)
                        continue;
                if (r->ledger)
                        runs_ledger++;
                if (!r->ledger) {
                        no_ledger++;
                        if (!first_bad)
                                first_bad = xasprintf("%s: lines logged but no ledger", r->key);
                        continue;
                }
                if (r->l_errno) {
                        werr++;
                        if (!first_bad)
                                first_bad = xasprintf("%s: the worker's write failed: %s", r->key,
                                                      strerror((int)r->l_errno));
                }
                if (!seqs_ok(&r->out, r->l_out, why, sizeof(why))) {
                        runs_bad++;
                        if (!first_bad)
                                first_bad = xasprintf("%s stdout: %s", r->key, why);
                } else if (!seqs_ok(&r->err, r->l_err, why, sizeof(why))) {
                        runs_bad++;
                        if (!first_bad)
                                first_bad = xasprintf("%s stderr: %s", r->key, why);
                }
                if (r->out.max == r->l_out + 1 || r->err.max == r->l_err + 1)
                        runs_plus1++;
        }
        printf("      %ld lines checked in %zu runs (%ld with a ledger), %ld output records in graced.log; "
               "%ld runs logged one line past their ledger (killed between write and ledger)\n",
               lines_checked, runs_n, runs_ledger, ls.output, runs_plus1);
        verdict(runs_bad == 0 && werr == 0 && no_ledger == 0 && lines_bad == 0 && lines_checked > 0, "no line lost",
                "%ld runs with a gap/duplicate/lost tail, %ld malformed or torn lines, %ld failed writes%s%s%s%s",
                runs_bad + no_ledger, lines_bad, werr, first_bad ? "; first: " : "", first_bad ? first_bad : "",
                bad_example ? "; malformed: " : "", bad_example ? bad_example : "");

        /* 3. orphans */
        long orphans = 0;
        char *orphan_ex = NULL;
        for (size_t i = 0; i < runs_cap; i++) {
                struct run *r = runs[i];
                unsigned long long st;
                pid_t pid = r ? (pid_t)strtol(strchr(r->key, ' ') + 1, NULL, 10) : 0;
                if (!r || !r->ledger || pid <= 0)
                        continue;
                if (proc_stat(pid, NULL, NULL, NULL, NULL, &st) && st == r->l_start) {
                        orphans++;
                        if (!orphan_ex)
                                orphan_ex = xasprintf("worker run %s still there", r->key);
                        signal_ours(pid, SIGKILL, NULL);
                }
        }
        DIR *pd = opendir("/proc");
        struct dirent *de;
        long scanned = 0;
        while (pd && (de = readdir(pd))) {
                pid_t pid = (pid_t)strtol(de->d_name, NULL, 10);
                char state = 0;
                pid_t ppid = 0;
                if (pid <= 0 || pid == getpid())
                        continue;
                scanned++;
                if (!proc_stat(pid, &state, &ppid, NULL, NULL, NULL))
                        continue;
                if (environ_has_marker(pid) || (state == 'Z' && ppid == getpid())) {
                        orphans++;
                        if (!orphan_ex) {
                                char *cl = cmdline(pid);
                                orphan_ex = xasprintf("pid %d (%c) %s", (int)pid, state, cl);
                                free(cl);
                        }
                        signal_ours(pid, SIGKILL, NULL);
                }
        }
        if (pd)
                closedir(pd);
        verdict(orphans == 0, "no orphan",
                "%ld processes of the soak left after graced exited (%zu runs' pid+start time checked, %ld "
                "processes scanned for SOAK_MARKER)%s%s",
                orphans, runs_n, scanned, orphan_ex ? ": " : "", orphan_ex ? orphan_ex : "");

        /* 4. the report */
        struct json_object *rep = json_object_from_file(S.report_path);
        long not_stopped = 0, order_bad = 0, report_restarts = 0;
        int nrep = -1;
        char *not_stopped_ex = NULL;
        if (rep) {
                struct json_object *ws;
                nrep = h_json_len(rep, "workers");
                if (json_object_object_get_ex(rep, "workers", &ws))
                        for (int i = 0; i < nrep; i++) {
                                struct json_object *o = json_object_array_get_idx(ws, i);
                                const char *oc = h_json_str(o, "outcome"), *nm = h_json_str(o, "name");
                                long long rs = h_json_int(o, "restarts");
                                if (rs != H_JSON_NONE)
                                        report_restarts += rs;
                                if (!oc || strcmp(oc, "stopped") != 0) {
                                        not_stopped++;
                                        if (!not_stopped_ex)
                                                not_stopped_ex = xasprintf("%s: %s", nm ? nm : "?", oc ? oc : "?");
                                }
                        }
                for (int i = 0; i < S.nw; i++)
                        if (S.w[i].head[0]) {
                                int a = h_report_worker_pos(rep, S.w[i].name), b = h_report_worker_pos(rep, S.w[i].head);
                                if (a < 0 || b < 0 || a > b)
                                        order_bad++;
                        }
        }
        const char *reason = rep ? h_json_str(rep, "reason") : NULL;
        int forced = rep ? h_json_bool(rep, "forced") : -1, clean = rep ? h_json_bool(rep, "clean") : -1;
        verdict(rep != NULL, "report exists", "%s", rep ? S.report_path : "missing or not JSON");
        verdict(rep && reason && strcmp(reason, "SIGTERM") == 0 && forced == 0 && order_bad == 0, "shutdown ordered",
                "reason %s, forced %d, %ld dependents stopped after (or without) their dependency", reason ? reason : "?",
                forced, order_bad);
        verdict(gexit == 0 && clean == 1, "exit code 0, clean", "graced exit status %d, clean %d", gexit, clean);
        verdict(rep && not_stopped == 0 && nrep == S.nworkers, "every worker stopped",
                "%d workers in the report (expected %d), %ld not \"stopped\"%s%s", nrep, S.nworkers, not_stopped,
                not_stopped_ex ? ": " : "", not_stopped_ex ? not_stopped_ex : "");

        /* 5. the rest of the storm */
        long cf = 0;
        for (int k = 0; k < C_KINDS; k++)
                cf += S.client_fail[k];
        verdict(cf == 0 && followers_left == 0, "gracectl clients",
                "%ld failed (exit status not 0, or no answer), %zu of %zu last followers did not end with graced%s%s",
                cf, followers_left, final_followers, S.client_fail_msg ? "; first: " : "",
                S.client_fail_msg ? S.client_fail_msg : "");
        verdict(ls.reload_fail == 0 && ls.reload_ok == S.reloads_hup + S.reloads_ctl, "every reload done",
                "%ld asked for, %ld \"reloaded\" records, %ld reload errors", S.reloads_hup + S.reloads_ctl,
                ls.reload_ok, ls.reload_fail);
        verdict(ls.errors == 0 && S.status_fail == 0 && S.metrics_bad == 0, "no error",
                "%ld error-level records in graced's log, %ld status snapshots failed, %ld /metrics answers bad",
                ls.errors, S.status_fail, S.metrics_bad);

        /* the figures */
        long kills = S.kills[0] + S.kills[1] + S.kills[2] + S.kills[3];
        long starts = (long)runs_ledger;
        printf("\n---- figures ----\n");
        printf("seed %" PRIu64 "; storm %.1f min; %d workers (%d in both variants, %d per variant only, %d HTTP "
               "listeners)\n",
               S.seed, storm_min, S.nworkers, S.nbase, N_VAR, N_HTTP_SRV);
        printf("worker runs (soakworker starts) %ld; restarts logged by graced %ld; report's restarts %ld\n", starts,
               ls.restarting, report_restarts);
        printf("kills by the driver %ld (SIGKILL %ld, SIGALRM %ld, SIGUSR2 %ld; %ld picked workers gone meanwhile)\n",
               kills, S.kills[0] + S.kills[1], S.kills[2], S.kills[3], S.kill_skipped);
        printf("reloads %ld (SIGHUP %ld, gracectl reload %ld), %ld reload records in graced's log\n",
               S.reloads_hup + S.reloads_ctl, S.reloads_hup, S.reloads_ctl, ls.reload_ok);
        printf("probe flips %ld (exec %ld, http %ld, tcp %ld); graced: %ld health failing, %ld ok again, %ld "
               "failed (worker restarted)\n",
               S.flips[0] + S.flips[1] + S.flips[2], S.flips[0], S.flips[1], S.flips[2], ls.health_failing,
               ls.health_ok, ls.health_failed);
        printf("clients:");
        long ctot = 0;
        for (int k = 0; k < C_KINDS; k++) {
                printf(" %s %ld%s", kind_name[k], S.clients_n[k], k + 1 < C_KINDS ? "," : "");
                ctot += S.clients_n[k];
        }
        printf("; %ld in all, %ld killed mid-stream; %ld status snapshots; /metrics %ld ok, %ld dropped mid-way\n",
               ctot, S.clients_killed, S.status_snaps, S.metrics_ok, S.metrics_abort);
        printf("signals to graced: SIGUSR1 %ld, SIGUSR2 %ld (%ld files rotated), SIGHUP %ld, SIGTERM 1\n", S.usr1,
               S.usr2, S.rotations, S.reloads_hup);
        printf("lines checked %ld (%ld runs, %ld output records in graced's log)\n", lines_checked, (long)runs_n,
               ls.output);
        printf("\nsoak: %s (%d check%s failed)\n", S.failures ? "FAILED" : "PASSED", S.failures,
               S.failures == 1 ? "" : "s");

        if (S.keep)
                printf("soak: kept %s\n", S.dir);
        else
                h_rmrf(S.dir);
        return S.failures ? 1 : 0;
}
