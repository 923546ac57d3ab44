/* gbench - graced's benchmarks: measures graced against a minimal C "floor"
 * doing the same process work, and prints a table per benchmark.
 *
 * Usage: gbench startstop [N...]      start and stop of N independent workers
 *        gbench output [LINES]        one worker's output through graced vs cat
 *        gbench chain [K...]          ordered stop (and start) of a chain of K workers
 *        gbench ladder [L...]         ordered stop of L layers of 2 workers (each after both below)
 *        gbench idle [N [SECONDS]]    graced's wake-ups with N idle workers
 *        gbench scale [N...]          start/stop at large N in one table, chain of 50 and 1000,
 *                                     RssAnon / N, idle system calls, what graced spends after
 *                                     the last worker is gone (default N: 1000 2000 5000 10000)
 *        gbench reexec [N [REPS [TICK_MS]]]
 *                                     gracectl reexec with N workers that each log a line every
 *                                     TICK_MS: how long the workers go unserved (default 1000, 10, 1000)
 *        gbench soak [SECONDS [WORKERS [LINES_PER_S [RELOAD_S]]]]
 *                                     graced's RssAnon under output load with reloads
 *                                     (default 600 s, quick 60 s; 150 workers, 6400 lines/s, 3 s)
 *
 * Environment (run-bench.sh sets all of them):
 *   GRACED_BIN         the graced binary
 *   BENCH_BW           the bench worker (bw.c)
 *   GRACED_TESTWORKER  tests/helpers/testworker (output benchmark)
 *   GRACECTL_BIN       gracectl (reexec benchmark; default: next to GRACED_BIN)
 *   BENCH_DIR          a scratch directory (configs, FIFO, logs)
 *   BENCH_QUICK=1      fewer repetitions, 2 s idle window
 *   BENCH_REPS=N       runs per figure (medians reported); default 11 for cases
 *                      of <= 100 workers, 5 above (quick: 5 and 3); output: 3 (quick: 1)
 *   BENCH_STRACE=0     skip the strace part of "idle" (and of "scale")
 *   BENCH_FLOOR=vfork  the floors spawn with vfork() instead of fork() (no copy of
 *                      gbench's page tables: the cheapest way to start a process)
 *   BENCH_PERF=0       skip the perf part of "scale" (what graced spends after the last worker)
 *   BENCH_SOAK_FORMAT  the soak's --log-format (default json)
 *   BENCH_SOAK_MALLOC_INFO=1  at the end of the soak, glibc's malloc_info() of graced (through
 *                      gdb) into BENCH_DIR/malloc-info.xml, and its totals printed
 *
 * Every worker is bw: once exec'd it writes its pid (4 bytes) to a FIFO that
 * gbench holds open, so "N workers have exec'd" is "4N bytes were read",
 * the same signal for graced and for the floor. gbench kills only the
 * processes it started (graced, its own floor workers) and, on an error,
 * the worker pids it learned from the FIFO, by pid. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXN 20000

static const char *graced_bin, *bw_bin, *tw_bin, *dir;
static char bw_real[PATH_MAX];
static char fifo_path[PATH_MAX];
static int fifo_fd = -1;
static bool quick;
static int reps;       /* BENCH_REPS, or 0: the defaults of reps_for() */
static struct rlimit orig_nofile; /* what graced gets: the limits gbench was started with */
static uint64_t graced_hard;      /* the hard RLIMIT_NOFILE graced can reach (UINT64_MAX: none) */
static bool graced_can_raise;     /* graced can raise its hard limit (CAP_SYS_RESOURCE) */
static const char *conf_report;   /* report_file for write_conf, or NULL */
static size_t conf_parallel;      /* max_parallel for graced_startstop, or 0: its default */
static bool floor_vfork;          /* BENCH_FLOOR=vfork: the floor spawns with vfork() */

/* Repetitions for a case of n workers: small cases are cheap and noisier
 * (a scheduling hiccup is a large part of a millisecond), so they get more. */
static int reps_for(size_t n)
{
        if (reps > 0)
                return reps;
        if (n <= 100)
                return quick ? 5 : 11;
        return quick ? 3 : 5;
}

/* what to clean up on a fatal error */
static pid_t cur_graced;
static pid_t known[MAXN];
static size_t n_known;

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
        struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* Is pid still one of our bench workers (not a zombie, not a recycled pid)? */
static bool is_bw(pid_t pid)
{
        char p[64], exe[PATH_MAX];
        ssize_t n;

        snprintf(p, sizeof p, "/proc/%d/exe", (int)pid);
        n = readlink(p, exe, sizeof exe - 1);
        if (n < 0)
                return false;
        exe[n] = 0;
        return strcmp(exe, bw_real) == 0;
}

static void cleanup(void)
{
        if (cur_graced > 0) {
                kill(cur_graced, SIGKILL);
                waitpid(cur_graced, NULL, 0);
                cur_graced = 0;
        }
        for (size_t i = 0; i < n_known; i++)
                if (is_bw(known[i]))
                        kill(known[i], SIGKILL);
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
        n_known = 0;
}

static void die(const char *fmt, ...)
{
        va_list ap;

        fflush(stdout);
        fprintf(stderr, "gbench: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\n");
        cleanup();
        exit(1);
}

static int cmp_d(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
        double t[64];

        memcpy(t, v, (size_t)n * sizeof *v);
        qsort(t, (size_t)n, sizeof *t, cmp_d);
        return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static double minv(const double *v, int n)
{
        double m = v[0];
        for (int i = 1; i < n; i++)
                m = v[i] < m ? v[i] : m;
        return m;
}

struct pstat {
        char state;
        long vol, nonvol;
        long rss_kb, hwm_kb, anon_kb, pss_kb;
        long ticks; /* utime + stime */
};

static int read_pstat(pid_t pid, struct pstat *ps)
{
        char path[64], line[512];
        FILE *f;

        memset(ps, 0, sizeof *ps);
        snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
        if (!(f = fopen(path, "re")))
                return -1;
        while (fgets(line, sizeof line, f)) {
                if (!strncmp(line, "State:", 6))
                        sscanf(line + 6, " %c", &ps->state);
                else if (!strncmp(line, "voluntary_ctxt_switches:", 24))
                        ps->vol = atol(line + 24);
                else if (!strncmp(line, "nonvoluntary_ctxt_switches:", 27))
                        ps->nonvol = atol(line + 27);
                else if (!strncmp(line, "VmRSS:", 6))
                        ps->rss_kb = atol(line + 6);
                else if (!strncmp(line, "VmHWM:", 6))
                        ps->hwm_kb = atol(line + 6);
                else if (!strncmp(line, "RssAnon:", 8))
                        ps->anon_kb = atol(line + 8);
        }
        fclose(f);
        snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
        if ((f = fopen(path, "re"))) {
                while (fgets(line, sizeof line, f))
                        if (!strncmp(line, "Pss:", 4))
                                ps->pss_kb = atol(line + 4);
                fclose(f);
        }
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        if ((f = fopen(path, "re"))) {
                char buf[1024], *p;
                size_t n = fread(buf, 1, sizeof buf - 1, f);
                unsigned long ut = 0, st = 0;

                buf[n] = 0;
                p = strrchr(buf, ')');
                /* fields after ")": 3 state ... 14 utime 15 stime */
                if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
                        ps->ticks = (long)(ut + st);
                fclose(f);
        }
        return 0;
}

/* Waits until pid sleeps and makes no context switch for 3 x 20 ms:
 * it has processed everything the start produced. */
static void settle(pid_t pid)
{
        long last = -1;
        int stable = 0;
        double deadline = now_s() + 60;

        sleep_s(0.02);
        while (now_s() < deadline) {
                struct pstat ps;
                long c;

                if (read_pstat(pid, &ps) < 0)
                        die("pid %d vanished while settling", (int)pid);
                c = ps.vol + ps.nonvol;
                if (c == last && ps.state == 'S') {
                        if (++stable >= 3)
                                return;
                } else {
                        stable = 0;
                }
                last = c;
                sleep_s(0.02);
        }
        die("pid %d did not settle within 60 s", (int)pid);
}

/* ---- FIFO: "N workers have exec'd" ------------------------------------ */

static void fifo_open(void)
{
        snprintf(fifo_path, sizeof fifo_path, "%s/ready.fifo", dir);
        unlink(fifo_path);
        if (mkfifo(fifo_path, 0600) < 0)
                die("mkfifo %s: %s", fifo_path, strerror(errno));
        /* O_RDWR: never EOF, and the workers' open() never blocks */
        fifo_fd = open(fifo_path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
        if (fifo_fd < 0)
                die("open %s: %s", fifo_path, strerror(errno));
}

static void fifo_drain(void)
{
        char b[4096];
        while (read(fifo_fd, b, sizeof b) > 0)
                ;
}

/* Reads n pids; watch (graced) must not exit meanwhile. */
static void read_pids(size_t n, pid_t watch, double timeout)
{
        size_t got = 0;
        char buf[4 * 1024];
        size_t have = 0;
        double deadline = now_s() + timeout;

        n_known = 0;
        while (got < n) {
                struct pollfd p = { .fd = fifo_fd, .events = POLLIN };
                int r = poll(&p, 1, 100);
                ssize_t k;

                if (r < 0 && errno != EINTR)
                        die("poll: %s", strerror(errno));
                if (r <= 0) {
                        int st;
                        if (watch > 0 && waitpid(watch, &st, WNOHANG) == watch) {
                                cur_graced = 0;
                                die("graced exited early (status 0x%x) after %zu/%zu workers; see %s/graced.log", st,
                                    got, n, dir);
                        }
                        if (now_s() > deadline)
                                die("only %zu of %zu workers reported within %.0f s", got, n, timeout);
                        continue;
                }
                k = read(fifo_fd, buf + have, sizeof buf - have);
                if (k <= 0)
                        continue;
                have += (size_t)k;
                while (have >= 4) {
                        int32_t pid;
                        memcpy(&pid, buf, 4);
                        memmove(buf, buf + 4, have - 4);
                        have -= 4;
                        if (n_known < MAXN)
                                known[n_known++] = pid;
                        got++;
                }
        }
}

static size_t count_left(void)
{
        size_t left = 0;
        for (size_t i = 0; i < n_known; i++)
                left += is_bw(known[i]);
        return left;
}

/* ---- graced ------------------------------------------------------------ */

enum topo {
        T_INDEP,  /* no dependencies */
        T_CHAIN,  /* worker i after worker i-1 */
        T_LADDER, /* layers of 2: both of layer l after both of layer l-1 */
};

static void write_conf(const char *path, size_t n, const char *out, enum topo topo, size_t max_parallel,
                       const char *const *cmd)
{
        FILE *f = fopen(path, "w");

        if (!f)
                die("%s: %s", path, strerror(errno));
        fprintf(f, "supervisor = { name = \"bench\"; control_socket = \"\"; max_parallel = %zu; "
                   "shutdown_timeout = \"10min\";",
                max_parallel);
        if (conf_report)
                fprintf(f, " report_file = \"%s\";", conf_report);
        fprintf(f, " };\nworkers = (\n");
        for (size_t i = 0; i < n; i++) {
                fprintf(f, "  { name = \"w%zu\"; command = [", i);
                for (size_t k = 0; cmd[k]; k++)
                        fprintf(f, "%s\"%s\"", k ? ", " : "", cmd[k]);
                fprintf(f, "]; stdout = \"%s\"; stderr = \"%s\"; restart = \"no\";", out, out);
                if (topo == T_CHAIN && i > 0)
                        fprintf(f, " after = [\"w%zu\"];", i - 1);
                if (topo == T_LADDER && i >= 2)
                        fprintf(f, " after = [\"w%zu\", \"w%zu\"];", (i / 2 - 1) * 2, (i / 2 - 1) * 2 + 1);
                fprintf(f, " }%s\n", i + 1 < n ? "," : "");
        }
        fprintf(f, ");\n");
        if (fclose(f) != 0)
                die("%s: %s", path, strerror(errno));
}

static pid_t spawn_graced(const char *conf, const char *log_format, const char *logfile)
{
        pid_t pid = fork();

        if (pid < 0)
                die("fork: %s", strerror(errno));
        if (pid == 0) {
                int lf = open(logfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
                char fmt[64];

                if (lf < 0 || nul < 0)
                        _exit(126);
                dup2(nul, 0);
                dup2(nul, 1);
                dup2(lf, 2);
                /* graced starts with the limits gbench was given, not gbench's raised ones */
                setrlimit(RLIMIT_NOFILE, &orig_nofile);
                snprintf(fmt, sizeof fmt, "--log-format=%s", log_format);
                execl(graced_bin, "graced", "-c", conf, fmt, (char *)NULL);
                _exit(127);
        }
        cur_graced = pid;
        return pid;
}

/* SIGTERM to graced, wait for it; returns the seconds it took. */
static double stop_graced(pid_t pid, int *status)
{
        double t0 = now_s(), t1;

        if (kill(pid, SIGTERM) < 0)
                die("kill graced: %s", strerror(errno));
        if (waitpid(pid, status, 0) != pid)
                die("waitpid graced: %s", strerror(errno));
        t1 = now_s();
        cur_graced = 0;
        return t1 - t0;
}

static void check_clean(int status, const char *what)
{
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                die("%s: graced did not exit 0 (status 0x%x); log: %s/graced.log", what, status, dir);
}

struct run {
        double start, stop;
        long rss_kb, hwm_kb, anon_kb, pss_kb;
        size_t left;
};

static struct run graced_startstop(size_t n, const char *out, enum topo topo)
{
        char conf[PATH_MAX], log[PATH_MAX];
        const char *cmd[] = { bw_bin, fifo_path, NULL };
        struct run r = { 0 };
        struct pstat ps;
        double t0;
        pid_t g;
        int st;

        snprintf(conf, sizeof conf, "%s/bench.conf", dir);
        snprintf(log, sizeof log, "%s/graced.log", dir);
        write_conf(conf, n, out, topo, conf_parallel ? conf_parallel : topo != T_INDEP ? 16 : n, cmd);
        fifo_drain();
        t0 = now_s();
        g = spawn_graced(conf, "text", log);
        read_pids(n, g, 120);
        r.start = now_s() - t0;
        settle(g);
        read_pstat(g, &ps);
        r.rss_kb = ps.rss_kb;
        r.hwm_kb = ps.hwm_kb;
        r.anon_kb = ps.anon_kb;
        r.pss_kb = ps.pss_kb;
        r.stop = stop_graced(g, &st);
        check_clean(st, "stop");
        r.left = count_left();
        if (r.left)
                die("%zu workers left behind after graced exited", r.left);
        return r;
}

/* ---- floors ------------------------------------------------------------ */

static pid_t fork_bw(int status_w)
{
        /* the child only execs (and reports errno): vfork-safe */
        pid_t pid = floor_vfork ? vfork() : fork();

        if (pid < 0)
                die("fork: %s", strerror(errno));
        if (pid == 0) {
                execl(bw_bin, bw_bin, fifo_path, (char *)NULL);
                if (status_w >= 0)
                        (void)!write(status_w, &errno, sizeof errno);
                _exit(127);
        }
        return pid;
}

/* fork+exec N at once; then kill all, reap all. */
static struct run floor_startstop(size_t n)
{
        static pid_t pids[MAXN];
        struct run r = { 0 };
        double t0;

        fifo_drain();
        t0 = now_s();
        for (size_t i = 0; i < n; i++)
                pids[i] = fork_bw(-1);
        read_pids(n, 0, 120);
        r.start = now_s() - t0;
        sleep_s(0.1);
        t0 = now_s();
        for (size_t i = 0; i < n; i++)
                kill(pids[i], SIGTERM);
        for (size_t i = 0; i < n; i++)
                if (waitpid(-1, NULL, 0) < 0)
                        die("waitpid: %s", strerror(errno));
        r.stop = now_s() - t0;
        r.left = count_left();
        return r;
}

/* The floor of the "log" case: the same, and the one process also holds
 * each worker's stdout and stderr (a pipe each) and reads both to EOF, as
 * any supervisor that keeps the output must: stop = kill all, then every
 * pipe at EOF and every worker reaped. */
static struct run floor_startstop_pipes(size_t n)
{
        static pid_t pids[MAXN];
        struct run r = { 0 };
        struct epoll_event ev[256];
        size_t open_pipes = 0, reaped = 0;
        double t0;
        int ep = epoll_create1(EPOLL_CLOEXEC);

        if (ep < 0)
                die("epoll_create1: %s", strerror(errno));
        fifo_drain();
        t0 = now_s();
        for (size_t i = 0; i < n; i++) {
                int o[2], e[2];

                if (pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0)
                        die("pipe2: %s", strerror(errno));
                pids[i] = floor_vfork ? vfork() : fork();
                if (pids[i] < 0)
                        die("fork: %s", strerror(errno));
                if (pids[i] == 0) {
                        if (dup2(o[1], 1) < 0 || dup2(e[1], 2) < 0)
                                _exit(127);
                        execl(bw_bin, bw_bin, fifo_path, (char *)NULL);
                        _exit(127);
                }
                close(o[1]);
                close(e[1]);
                for (int k = 0; k < 2; k++) {
                        struct epoll_event x = { .events = EPOLLIN, .data.fd = k ? e[0] : o[0] };
                        if (epoll_ctl(ep, EPOLL_CTL_ADD, x.data.fd, &x) < 0)
                                die("epoll_ctl: %s", strerror(errno));
                }
                open_pipes += 2;
        }
        read_pids(n, 0, 120);
        r.start = now_s() - t0;
        sleep_s(0.1);
        t0 = now_s();
        for (size_t i = 0; i < n; i++)
                kill(pids[i], SIGTERM);
        while (open_pipes > 0 || reaped < n) {
                int k = open_pipes ? epoll_wait(ep, ev, 256, 100) : 0;
                char buf[4096];

                for (int j = 0; j < k; j++)
                        if (read(ev[j].data.fd, buf, sizeof buf) == 0) {
                                close(ev[j].data.fd);
                                open_pipes--;
                        }
                while (reaped < n && waitpid(-1, NULL, open_pipes ? WNOHANG : 0) > 0)
                        reaped++;
        }
        r.stop = now_s() - t0;
        close(ep);
        r.left = count_left();
        return r;
}

/* a chain: start one at a time, each once the previous exec'd (a CLOEXEC
 * pipe, as graced learns it); stop the last first, reap it, then the next. */
static struct run floor_chain(size_t n)
{
        static pid_t pids[MAXN];
        struct run r = { 0 };
        double t0;

        fifo_drain();
        t0 = now_s();
        for (size_t i = 0; i < n; i++) {
                int p[2], e;
                if (pipe2(p, O_CLOEXEC) < 0)
                        die("pipe2: %s", strerror(errno));
                pids[i] = fork_bw(p[1]);
                close(p[1]);
                if (read(p[0], &e, sizeof e) > 0)
                        die("exec %s: %s", bw_bin, strerror(e));
                close(p[0]);
        }
        read_pids(n, 0, 120);
        r.start = now_s() - t0;
        sleep_s(0.1);
        t0 = now_s();
        for (size_t i = n; i-- > 0;) {
                kill(pids[i], SIGTERM);
                if (waitpid(pids[i], NULL, 0) < 0)
                        die("waitpid: %s", strerror(errno));
        }
        r.stop = now_s() - t0;
        r.left = count_left();
        return r;
}

/* a ladder of L layers of 2 (worker i is in layer i/2): started at once
 * (not measured), stopped layer by layer from the top: SIGTERM to both,
 * reap both, next layer. */
static struct run floor_ladder(size_t layers)
{
        static pid_t pids[MAXN];
        size_t n = 2 * layers;
        struct run r = { 0 };
        double t0;

        fifo_drain();
        for (size_t i = 0; i < n; i++)
                pids[i] = fork_bw(-1);
        read_pids(n, 0, 120);
        sleep_s(0.1);
        t0 = now_s();
        for (size_t l = layers; l-- > 0;) {
                kill(pids[2 * l], SIGTERM);
                kill(pids[2 * l + 1], SIGTERM);
                if (waitpid(pids[2 * l], NULL, 0) < 0 || waitpid(pids[2 * l + 1], NULL, 0) < 0)
                        die("waitpid: %s", strerror(errno));
        }
        r.stop = now_s() - t0;
        r.left = count_left();
        return r;
}

/* ---- benchmarks -------------------------------------------------------- */

static const char *verdict(bool ok) { return ok ? "ok" : "MISSED"; }

static void bench_startstop(size_t *ns, size_t nn)
{
        static const char *const modes[] = { "null", "log" };
        double fs[16][64], fst[16][64], gs[16][2][64], gst[16][2][64];
        long rss[16][2][64], hwm[16][2][64], anon[16][2][64], pss[16][2][64];
        double med_rss[16][2], med_hwm[16][2], med_anon[16][2], med_pss[16][2];

        int rk[16] = { 0 };

        for (size_t k = 0; k < nn; k++) {
                int reps = rk[k] = reps_for(ns[k]);
                for (int i = 0; i < reps; i++) {
                        struct run r = floor_startstop(ns[k]);
                        fs[k][i] = r.start;
                        fst[k][i] = r.stop;
                        for (int m = 0; m < 2; m++) {
                                r = graced_startstop(ns[k], modes[m], T_INDEP);
                                gs[k][m][i] = r.start;
                                gst[k][m][i] = r.stop;
                                rss[k][m][i] = r.rss_kb;
                                hwm[k][m][i] = r.hwm_kb;
                                anon[k][m][i] = r.anon_kb;
                                pss[k][m][i] = r.pss_kb;
                        }
                }
                for (int m = 0; m < 2; m++) {
                        double a[64], b[64], c[64], d[64];
                        for (int i = 0; i < reps; i++) {
                                a[i] = (double)rss[k][m][i];
                                b[i] = (double)hwm[k][m][i];
                                c[i] = (double)anon[k][m][i];
                                d[i] = (double)pss[k][m][i];
                        }
                        med_rss[k][m] = median(a, reps);
                        med_hwm[k][m] = median(b, reps);
                        med_anon[k][m] = median(c, reps);
                        med_pss[k][m] = median(d, reps);
                }
        }

        printf("\n== 1. start: launch -> N independent workers exec'd (medians of \"runs\" runs) ==\n");
        printf("floor: one C process fork+execs N bw; graced: max_parallel = N, stdout/stderr = null | log\n");
        printf("%6s %10s %12s %7s %12s %7s %5s %15s\n", "N", "floor ms", "graced:null", "ratio", "graced:log", "ratio",
               "runs", "best null/log");
        for (size_t k = 0; k < nn; k++) {
                double f = median(fs[k], rk[k]), g0 = median(gs[k][0], rk[k]), g1 = median(gs[k][1], rk[k]);
                double bf = minv(fs[k], rk[k]);
                printf("%6zu %10.2f %12.2f %6.2fx %12.2f %6.2fx %5d %7.2fx/%5.2fx\n", ns[k], f * 1e3, g0 * 1e3, g0 / f,
                       g1 * 1e3, g1 / f, rk[k], minv(gs[k][0], rk[k]) / bf, minv(gs[k][1], rk[k]) / bf);
        }
        printf("(ratio: of the medians; best: fastest graced run / fastest floor run)\n");
        printf("graced's memory once all started and settled (KiB, /proc/PID/status and smaps_rollup):\n");
        printf("%6s %6s %8s %8s %8s %8s\n", "N", "output", "VmRSS", "VmHWM", "RssAnon", "Pss");
        for (size_t k = 0; k < nn; k++)
                for (int m = 0; m < 2; m++)
                        printf("%6zu %6s %8.0f %8.0f %8.0f %8.0f\n", ns[k], modes[m], med_rss[k][m], med_hwm[k][m],
                               med_anon[k][m], med_pss[k][m]);
        for (size_t k = 0; k < nn; k++) {
                if (ns[k] != 1000)
                        continue;
                double f = median(fs[k], rk[k]), g0 = median(gs[k][0], rk[k]), g1 = median(gs[k][1], rk[k]);
                printf("target N=1000: graced within 1.3x of the floor: null %.2fx %s, log %.2fx %s\n", g0 / f,
                       verdict(g0 / f <= 1.3), g1 / f, verdict(g1 / f <= 1.3));
                printf("target N=1000: graced RSS < 3 MiB once all started: VmRSS null %.0f KiB / log %.0f KiB %s "
                       "(VmHWM %.0f / %.0f KiB)\n",
                       med_rss[k][0], med_rss[k][1], verdict(med_rss[k][0] < 3072 && med_rss[k][1] < 3072),
                       med_hwm[k][0], med_hwm[k][1]);
        }
        printf("(VmRSS counts the shared libraries' resident pages in full; RssAnon is graced's own memory)\n");

        printf("\n== 3. stop: SIGTERM -> graced exited (waitpid), N workers exiting at once (medians) ==\n");
        printf("floor: one C process kill()s its N bw then reaps them all\n");
        printf("%6s %10s %12s %7s %12s %7s %5s %5s %15s\n", "N", "floor ms", "graced:null", "ratio", "graced:log",
               "ratio", "runs", "left", "best null/log");
        for (size_t k = 0; k < nn; k++) {
                double f = median(fst[k], rk[k]), g0 = median(gst[k][0], rk[k]), g1 = median(gst[k][1], rk[k]);
                double bf = minv(fst[k], rk[k]);
                printf("%6zu %10.2f %12.2f %6.2fx %12.2f %6.2fx %5d %5d %7.2fx/%5.2fx\n", ns[k], f * 1e3, g0 * 1e3,
                       g0 / f, g1 * 1e3, g1 / f, rk[k], 0, minv(gst[k][0], rk[k]) / bf, minv(gst[k][1], rk[k]) / bf);
        }
        for (size_t k = 0; k < nn; k++) {
                if (ns[k] != 1000)
                        continue;
                double f = median(fst[k], rk[k]), g0 = median(gst[k][0], rk[k]), g1 = median(gst[k][1], rk[k]);
                printf("target N=1000: graced within 1.2x of the floor: null %.2fx %s, log %.2fx %s\n", g0 / f,
                       verdict(g0 / f <= 1.2), g1 / f, verdict(g1 / f <= 1.2));
        }
        printf("(left: worker pids still alive after graced exited, checked through /proc/PID/exe on every run)\n");
}

static void bench_chain(size_t *ns, size_t nn)
{
        double fs[16][64], fst[16][64], gs[16][64], gst[16][64];
        int rk[16] = { 0 };

        for (size_t k = 0; k < nn; k++)
                for (int i = 0, reps = rk[k] = reps_for(ns[k]); i < reps; i++) {
                        struct run r = floor_chain(ns[k]);
                        fs[k][i] = r.start;
                        fst[k][i] = r.stop;
                        r = graced_startstop(ns[k], "null", T_CHAIN);
                        gs[k][i] = r.start;
                        gst[k][i] = r.stop;
                }
        printf("\n== 4. ordered stop: chain of K workers, each after the previous (median of %d) ==\n", rk[0]);
        printf("floor: SIGTERM to the last, reap it, then the previous...; graced: SIGTERM -> graced exited\n");
        printf("%6s %10s %10s %7s %18s %6s %10s\n", "K", "floor ms", "graced ms", "ratio", "overhead/level us", "best",
               "best o/l us");
        for (size_t k = 0; k < nn; k++) {
                double f = median(fst[k], rk[k]), g = median(gst[k], rk[k]);
                double bf = minv(fst[k], rk[k]), bg = minv(gst[k], rk[k]);
                printf("%6zu %10.2f %10.2f %6.2fx %18.1f %5.2fx %10.1f\n", ns[k], f * 1e3, g * 1e3, g / f,
                       (g - f) / (double)ns[k] * 1e6, bg / bf, (bg - bf) / (double)ns[k] * 1e6);
        }
        for (size_t k = 0; k < nn; k++)
                if (ns[k] == 50) {
                        double f = median(fst[k], rk[k]), g = median(gst[k], rk[k]);
                        printf("target K=50: within 1.2x of the floor: %.2fx %s (best runs: %.2fx)\n", g / f,
                               verdict(g / f <= 1.2), minv(gst[k], rk[k]) / minv(fst[k], rk[k]));
                }
        printf("ordered start of the same chain (each started once the previous exec'd; floor waits on a CLOEXEC pipe):\n");
        printf("%6s %10s %10s %7s %18s\n", "K", "floor ms", "graced ms", "ratio", "overhead/level us");
        for (size_t k = 0; k < nn; k++) {
                double f = median(fs[k], rk[k]), g = median(gs[k], rk[k]);
                printf("%6zu %10.2f %10.2f %6.2fx %18.1f\n", ns[k], f * 1e3, g * 1e3, g / f, (g - f) / (double)ns[k] * 1e6);
        }
}

static void bench_ladder(size_t *ls, size_t nl)
{
        double fst[16][64], gst[16][64];
        int rk[16] = { 0 };

        for (size_t k = 0; k < nl; k++)
                for (int i = 0, reps = rk[k] = reps_for(2 * ls[k]); i < reps; i++) {
                        fst[k][i] = floor_ladder(ls[k]).stop;
                        gst[k][i] = graced_startstop(2 * ls[k], "null", T_LADDER).stop;
                }
        printf("\n== 4b. ordered stop of a ladder: L layers of 2 workers, each after both of the layer below "
               "(median of %d) ==\n",
               rk[0]);
        printf("floor: SIGTERM to both workers of the top layer, reap both, then the layer below...\n");
        printf("%6s %8s %10s %10s %8s %18s %7s\n", "L", "workers", "floor ms", "graced ms", "ratio", "overhead/level us",
               "best");
        for (size_t k = 0; k < nl; k++) {
                double f = median(fst[k], rk[k]), g = median(gst[k], rk[k]);
                printf("%6zu %8zu %10.2f %10.2f %7.2fx %18.1f %6.2fx\n", ls[k], 2 * ls[k], f * 1e3, g * 1e3, g / f,
                       (g - f) / (double)ls[k] * 1e6, minv(gst[k], rk[k]) / minv(fst[k], rk[k]));
        }
}

static void bench_idle(size_t n, double window, const char *mode, size_t parallel, const char *title)
{
        char conf[PATH_MAX], log[PATH_MAX], out[PATH_MAX];
        const char *cmd[] = { bw_bin, fifo_path, NULL };
        const char *no_strace = getenv("BENCH_STRACE");
        struct pstat a, b;
        pid_t g;
        int st;

        snprintf(conf, sizeof conf, "%s/bench.conf", dir);
        snprintf(log, sizeof log, "%s/graced.log", dir);
        write_conf(conf, n, mode, T_INDEP, parallel, cmd);
        fifo_drain();
        g = spawn_graced(conf, "text", log);
        read_pids(n, g, 300);
        settle(g);
        read_pstat(g, &a);
        sleep_s(window);
        read_pstat(g, &b);
        printf("\n== %s: %zu idle workers (stdout/stderr = %s), %.0f s window after all started ==\n", title, n, mode,
               window);
        printf("graced: RssAnon %ld KiB (%.0f bytes per worker), VmRSS %ld KiB\n", b.anon_kb,
               (double)b.anon_kb * 1024 / (double)n, b.rss_kb);
        printf("%-28s %8s %8s %8s\n", "graced", "before", "after", "delta");
        printf("%-28s %8ld %8ld %8ld\n", "voluntary_ctxt_switches", a.vol, b.vol, b.vol - a.vol);
        printf("%-28s %8ld %8ld %8ld\n", "nonvoluntary_ctxt_switches", a.nonvol, b.nonvol, b.nonvol - a.nonvol);
        printf("%-28s %8ld %8ld %8ld\n", "cpu ticks (utime+stime)", a.ticks, b.ticks, b.ticks - a.ticks);
        printf("target: 0 context switches in the window: %s\n",
               verdict(b.vol - a.vol + b.nonvol - a.nonvol == 0));

        snprintf(out, sizeof out, "%s/strace.out", dir);
        if (no_strace && !strcmp(no_strace, "0")) {
                printf("strace: skipped (BENCH_STRACE=0)\n");
        } else if (access("/usr/bin/strace", X_OK) != 0 && system("command -v strace >/dev/null 2>&1") != 0) {
                printf("strace: not available, skipped\n");
        } else {
                char gp[32];
                pid_t s = fork();

                snprintf(gp, sizeof gp, "%d", (int)g);
                if (s == 0) {
                        int nul = open("/dev/null", O_RDWR);
                        dup2(nul, 1);
                        dup2(nul, 2);
                        execlp("strace", "strace", "-c", "-f", "-o", out, "-p", gp, (char *)NULL);
                        _exit(127);
                }
                sleep_s(window);
                kill(s, SIGINT);
                waitpid(s, &st, 0);
                FILE *f = fopen(out, "r");
                char line[256];
                size_t lines = 0;
                /* strace re-raises the SIGINT that made it detach */
                if (!f || !((WIFEXITED(st) && WEXITSTATUS(st) == 0) || (WIFSIGNALED(st) && WTERMSIG(st) == SIGINT))) {
                        printf("strace -c -f -p: did not work here (exit 0x%x), skipped\n", st);
                } else {
                        printf("strace -c -f -p graced for %.0f s (the epoll_wait in progress at the attach is not "
                               "counted):\n",
                               window);
                        while (fgets(line, sizeof line, f)) {
                                printf("  %s", line);
                                lines++;
                        }
                        if (lines == 0)
                                printf("  (strace counted no system call at all)\n");
                }
                if (f)
                        fclose(f);
        }
        stop_graced(g, &st);
        check_clean(st, "idle stop");
        if (count_left())
                die("workers left behind after the idle run");
}

/* ---- output throughput --------------------------------------------------- */

static double floor_output(long lines, const char *outfile)
{
        int p[2], st;
        char nb[32];
        pid_t prod, cat;
        double t0;

        snprintf(nb, sizeof nb, "%ld", lines);
        if (pipe2(p, O_CLOEXEC) < 0)
                die("pipe: %s", strerror(errno));
        t0 = now_s();
        prod = fork();
        if (prod == 0) {
                dup2(p[1], 1);
                execl(tw_bin, "testworker", "--lines-fast", nb, (char *)NULL);
                _exit(127);
        }
        cat = fork();
        if (cat == 0) {
                int fd = open(outfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                dup2(p[0], 0);
                dup2(fd, 1);
                execlp("cat", "cat", (char *)NULL);
                _exit(127);
        }
        close(p[0]);
        close(p[1]);
        if (waitpid(cat, &st, 0) != cat || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
                die("cat failed (0x%x)", st);
        t0 = now_s() - t0;
        if (waitpid(prod, &st, 0) != prod || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
                die("testworker failed (0x%x)", st);
        return t0;
}

static long count_lines(const char *path)
{
        FILE *f = fopen(path, "r");
        long n = 0;
        int c;

        if (!f)
                return -1;
        while ((c = getc_unlocked(f)) != EOF)
                n += c == '\n';
        fclose(f);
        return n;
}

/* Counts the worker's records in graced's log; returns how many are
 * "1".."lines" in order (the rest is lost, duplicated or out of order). */
static long check_graced_output(const char *path, bool json, long *records)
{
        FILE *f = fopen(path, "r");
        char *line = NULL;
        size_t cap = 0;
        long expect = 1, in_order = 0;

        *records = 0;
        if (!f)
                die("%s: %s", path, strerror(errno));
        while (getline(&line, &cap, f) > 0) {
                const char *p;
                long v;

                if (json) {
                        if (!strstr(line, "\"event\":\"output\"") || !strstr(line, "\"worker\":\"w\"") ||
                            !(p = strstr(line, "\"msg\":\"")))
                                continue;
                        p += 7;
                } else {
                        if (!(p = strstr(line, " w[stdout]: ")))
                                continue;
                        p += 12;
                }
                (*records)++;
                v = strtol(p, NULL, 10);
                if (v == expect) {
                        in_order++;
                        expect++;
                }
        }
        free(line);
        fclose(f);
        return in_order;
}

static double graced_output(long lines, bool json, long *records, long *in_order)
{
        char conf[PATH_MAX], log[PATH_MAX], nb[32], needle[64];
        double t0, t = 0, deadline;
        off_t last = -1;
        int fd, st;
        pid_t g;

        snprintf(nb, sizeof nb, "%ld", lines);
        snprintf(conf, sizeof conf, "%s/output.conf", dir);
        snprintf(log, sizeof log, "%s/graced-output.log", dir);
        if (json)
                snprintf(needle, sizeof needle, "\"msg\":\"%ld\"", lines);
        else
                snprintf(needle, sizeof needle, " w[stdout]: %ld\n", lines);
        /* one worker named "w" */
        {
                FILE *f = fopen(conf, "w");
                fprintf(f, "supervisor = { name = \"bench\"; control_socket = \"\"; };\n"
                           "workers = ( { name = \"w\"; command = [\"%s\", \"--lines-fast\", \"%s\"]; "
                           "stdout = \"log\"; stderr = \"log\"; restart = \"no\"; } );\n",
                        tw_bin, nb);
                fclose(f);
        }
        unlink(log);
        t0 = now_s();
        g = spawn_graced(conf, json ? "json" : "text", log);
        deadline = t0 + 300;
        /* done once the last line is in the file: poll its size every 2 ms */
        while ((fd = open(log, O_RDONLY | O_CLOEXEC)) < 0)
                sleep_s(0.0005);
        for (;;) {
                struct stat sb;
                if (fstat(fd, &sb) == 0 && sb.st_size != last) {
                        char tail[8192 + 1];
                        off_t off = sb.st_size > 8192 ? sb.st_size - 8192 : 0;
                        ssize_t k = pread(fd, tail, (size_t)(sb.st_size - off), off);
                        last = sb.st_size;
                        if (k > 0) {
                                tail[k] = 0;
                                if (memmem(tail, (size_t)k, needle, strlen(needle))) {
                                        t = now_s() - t0;
                                        break;
                                }
                        }
                }
                if (now_s() > deadline)
                        die("graced output: the last line did not arrive within 300 s");
                if (waitpid(g, &st, WNOHANG) == g) {
                        cur_graced = 0;
                        die("graced exited during the output benchmark (0x%x)", st);
                }
                sleep_s(0.002);
        }
        close(fd);
        sleep_s(0.05);
        stop_graced(g, &st);
        check_clean(st, "output");
        *in_order = check_graced_output(log, json, records);
        return t;
}

static void bench_output(long lines)
{
        int n = reps > 0 ? (reps < 8 ? reps : 8) : quick ? 1 : 3;
        double f[8], gt[8], gj[8];
        long rec_t = 0, ord_t = 0, rec_j = 0, ord_j = 0, cat_lines;
        char outfile[PATH_MAX];

        snprintf(outfile, sizeof outfile, "%s/cat.out", dir);
        for (int i = 0; i < n; i++) {
                long rec, ord;
                f[i] = floor_output(lines, outfile);
                gt[i] = graced_output(lines, false, &rec, &ord);
                if (i == 0 || ord < ord_t)
                        rec_t = rec, ord_t = ord;
                gj[i] = graced_output(lines, true, &rec, &ord);
                if (i == 0 || ord < ord_j)
                        rec_j = rec, ord_j = ord;
        }
        cat_lines = count_lines(outfile);
        double mf = median(f, n), mt = median(gt, n), mj = median(gj, n);
        printf("\n== 2. output: one worker writes %ld lines (testworker --lines-fast), median of %d ==\n", lines, n);
        printf("floor: testworker | cat > file; graced: stdout = \"log\", graced's stderr = a file\n");
        printf("%-22s %10s %12s %9s %10s %8s\n", "", "seconds", "lines/s", "vs floor", "records", "lost");
        printf("%-22s %10.3f %12.0f %8.2fx %10ld %8ld\n", "floor (cat)", mf, (double)lines / mf, 1.0, cat_lines,
               lines - cat_lines);
        printf("%-22s %10.3f %12.0f %8.2fx %10ld %8ld\n", "graced --log-format=text", mt, (double)lines / mt, mt / mf,
               rec_t, lines - ord_t);
        printf("%-22s %10.3f %12.0f %8.2fx %10ld %8ld\n", "graced --log-format=json", mj, (double)lines / mj, mj / mf,
               rec_j, lines - ord_j);
        printf("(graced time: launch -> the last line is in the log file, polled every 2 ms; lost: lines missing or\n"
               " out of order among the worker's records, worst run)\n");
        printf("check: no line lost: %s\n", verdict(ord_t == lines && ord_j == lines && rec_t == lines && rec_j == lines));
        unlink(outfile);
}

/* ---- scale: large N, one table ------------------------------------------ */

/* graced's own descriptors whatever the number of workers (daemon/proc.h:
 * PROC_FDS_FIXED); per worker: the pidfd, plus 2 pipes with "log"; plus
 * the exec-status pipe of each worker still starting. */
#define GRACED_FDS_FIXED 32

/* max_parallel that lets n workers with per descriptors each fit graced's
 * hard limit: n when it fits, less when the exec-status pipes of n workers
 * starting at once would not; 0 when even 1 does not fit. */
static size_t fit_parallel(size_t n, size_t per)
{
        uint64_t need = GRACED_FDS_FIXED + (uint64_t)per * n, room;

        if (graced_hard == UINT64_MAX)
                return n;
        if (need + 1 > graced_hard)
                return 0;
        room = graced_hard - need;
        return room < n ? (size_t)room : n;
}

struct tail {
        bool ok;
        double stop;       /* SIGTERM -> waitpid(graced) returned */
        double last_exit;  /* SIGTERM -> the last worker exited (sched_process_exit) */
        double reap_gap;   /* the last worker exited -> graced reaped it (its last wait4 > 0) */
        double user_tail;  /* the last reap -> graced's exit_group() */
        double kernel_tail; /* exit_group() -> gbench's waitpid() returned */
        double fsync;      /* time inside fsync() (graced), total */
        int n_fsync;
};

/* One stop of n "null" workers under `perf record` (kernel timestamps on
 * CLOCK_MONOTONIC, comparable to now_s()): where the time goes after the
 * last worker is gone. Not one of the timed runs: perf costs a little. */
static struct tail scale_tail(size_t n, const char *report)
{
        char conf[PATH_MAX], log[PATH_MAX], data[PATH_MAX], cmdline[PATH_MAX * 2], filt[64];
        const char *cmd[] = { bw_bin, fifo_path, NULL };
        struct tail t = { 0 };
        double t_term, t_waited, last_exit = 0, last_reap = 0, t_exit_group = 0, fs_enter = 0;
        pid_t g, perf;
        int st;
        FILE *f;
        char line[512];

        snprintf(conf, sizeof conf, "%s/bench.conf", dir);
        snprintf(log, sizeof log, "%s/graced.log", dir);
        snprintf(data, sizeof data, "%s/perf.data", dir);
        conf_report = report;
        write_conf(conf, n, "null", T_INDEP, fit_parallel(n, 1), cmd);
        conf_report = NULL;
        fifo_drain();
        g = spawn_graced(conf, "text", log);
        read_pids(n, g, 300);
        settle(g);
        snprintf(filt, sizeof filt, "common_pid == %d", (int)g);
        perf = fork();
        if (perf == 0) {
                int nul = open("/dev/null", O_RDWR);
                dup2(nul, 1);
                dup2(nul, 2);
                execlp("perf", "perf", "record", "-q", "-k", "CLOCK_MONOTONIC", "-a", "-o", data, "-e",
                       "sched:sched_process_exit", "-e", "syscalls:sys_exit_wait4", "--filter", filt, "-e",
                       "syscalls:sys_enter_exit_group", "--filter", filt, "-e", "syscalls:sys_enter_fsync",
                       "--filter", filt, "-e", "syscalls:sys_exit_fsync", "--filter", filt, (char *)NULL);
                _exit(127);
        }
        /* perf has no "ready" signal: give it time to set up its buffers */
        sleep_s(1.5);
        if (waitpid(perf, &st, WNOHANG) == perf) {
                stop_graced(g, &st);
                check_clean(st, "tail stop");
                return t;
        }
        t_term = now_s();
        if (kill(g, SIGTERM) < 0)
                die("kill graced: %s", strerror(errno));
        if (waitpid(g, &st, 0) != g)
                die("waitpid graced: %s", strerror(errno));
        t_waited = now_s();
        cur_graced = 0;
        check_clean(st, "tail stop");
        if (count_left())
                die("workers left behind after graced exited");
        sleep_s(0.2);
        kill(perf, SIGINT);
        waitpid(perf, &st, 0);
        snprintf(cmdline, sizeof cmdline, "perf script -i '%s' -F pid,time,event,trace 2>/dev/null", data);
        if (!(f = popen(cmdline, "r")))
                return t;
        while (fgets(line, sizeof line, f)) {
                int pid;
                double ts;
                char ev[96];
                int off = 0;

                if (sscanf(line, " %d %lf: %95s %n", &pid, &ts, ev, &off) < 3)
                        continue;
                if (!strcmp(ev, "sched:sched_process_exit:")) {
                        if (strstr(line + off, "comm=bw ") && ts > last_exit)
                                last_exit = ts;
                } else if (pid != (int)g) {
                        continue;
                } else if (!strcmp(ev, "syscalls:sys_exit_wait4:")) {
                        const char *x = strstr(line + off, "0x");
                        long long r = x ? (long long)strtoull(x, NULL, 16) : -1;
                        if (r > 0 && ts > last_reap)
                                last_reap = ts;
                } else if (!strcmp(ev, "syscalls:sys_enter_exit_group:")) {
                        t_exit_group = ts;
                } else if (!strcmp(ev, "syscalls:sys_enter_fsync:")) {
                        fs_enter = ts;
                } else if (!strcmp(ev, "syscalls:sys_exit_fsync:") && fs_enter > 0) {
                        t.fsync += ts - fs_enter;
                        t.n_fsync++;
                        fs_enter = 0;
                }
        }
        pclose(f);
        unlink(data);
        if (last_exit <= 0 || last_reap <= 0 || t_exit_group <= 0)
                return t;
        t.ok = true;
        t.stop = t_waited - t_term;
        t.last_exit = last_exit - t_term;
        t.reap_gap = last_reap - last_exit;
        t.user_tail = t_exit_group - last_reap;
        t.kernel_tail = t_waited - t_exit_group;
        return t;
}

static void bench_scale(size_t *ns, size_t nn)
{
        static const char *const modes[] = { "null", "log" };
        static const size_t per[] = { 1, 3 };
        static double fs[16][2][64], fst[16][2][64], gs[16][2][64], gst[16][2][64], anon[16][2][64];
        size_t par[16][2];
        int rk[16] = { 0 };
        const char *np = getenv("BENCH_PERF");
        size_t big = 0;

        printf("\n== S. scale: start and stop of N independent workers (medians) ==\n");
        printf("graced's RLIMIT_NOFILE: soft %llu, hard %llu at launch; it can %s its hard limit (CAP_SYS_RESOURCE)"
               " -> up to %llu descriptors\n",
               (unsigned long long)orig_nofile.rlim_cur, (unsigned long long)orig_nofile.rlim_max,
               graced_can_raise ? "raise" : "NOT raise", (unsigned long long)graced_hard);
        for (size_t k = 0; k < nn; k++) {
                for (int m = 0; m < 2; m++)
                        par[k][m] = fit_parallel(ns[k], per[m]);
                big = ns[k] > big ? ns[k] : big;
                rk[k] = reps_for(ns[k]);
                for (int i = 0; i < rk[k]; i++) {
                        struct run r = floor_startstop(ns[k]);
                        for (int m = 0; m < 2; m++) {
                                if (!par[k][m])
                                        continue;
                                /* start: both against the plain floor (the pipes' floor forks
                                 * with a table of 2 descriptors per worker: slower to start) */
                                fs[k][m][i] = r.start;
                                fst[k][m][i] = m ? floor_startstop_pipes(ns[k]).stop : r.stop;
                                conf_parallel = par[k][m];
                                r = graced_startstop(ns[k], modes[m], T_INDEP);
                                conf_parallel = 0;
                                gs[k][m][i] = r.start;
                                gst[k][m][i] = r.stop;
                                anon[k][m][i] = (double)r.anon_kb;
                        }
                }
        }
        printf("floor: one C process %s+execs N bw, then kill()s them all and reaps them (log, stop: it also\n"
               "holds each one's stdout and stderr pipes and reads both to EOF); graced: stdout/stderr = null | log,\n"
               "max_parallel = N unless the descriptor limit needs less (column par); stop: "
               "SIGTERM -> graced exited, no worker left\n", floor_vfork ? "vfork" : "fork");
        printf("%6s %4s %6s | %9s %9s %6s %7s %7s | %9s %9s %6s %7s %7s | %8s %6s %4s\n", "N", "out", "par",
               "floor ms", "graced ms", "ratio", "f us/w", "g us/w", "floor ms", "graced ms", "ratio", "f us/w",
               "g us/w", "RssAnon", "B/w", "runs");
        printf("%6s %4s %6s | %-41s | %-41s | %8s\n", "", "", "", "start (launch -> all N exec'd)",
               "stop (SIGTERM -> graced exited)", "KiB");
        for (size_t k = 0; k < nn; k++) {
                for (int m = 0; m < 2; m++) {
                        double f = median(fs[k][m], rk[k]), fsp = median(fst[k][m], rk[k]);
                        if (!par[k][m]) {
                                printf("%6zu %4s %6s | skipped: graced needs about %llu descriptors, its hard limit "
                                       "is %llu\n",
                                       ns[k], modes[m], "-",
                                       (unsigned long long)(GRACED_FDS_FIXED + (per[m] + 1) * ns[k]),
                                       (unsigned long long)graced_hard);
                                continue;
                        }
                        double g = median(gs[k][m], rk[k]), gp = median(gst[k][m], rk[k]);
                        double a = median(anon[k][m], rk[k]);
                        printf("%6zu %4s %6zu | %9.1f %9.1f %5.2fx %7.1f %7.1f | %9.1f %9.1f %5.2fx %7.1f %7.1f | "
                               "%8.0f %6.0f %4d\n",
                               ns[k], modes[m], par[k][m], f * 1e3, g * 1e3, g / f, f * 1e6 / (double)ns[k],
                               g * 1e6 / (double)ns[k], fsp * 1e3, gp * 1e3, gp / fsp, fsp * 1e6 / (double)ns[k],
                               gp * 1e6 / (double)ns[k], a, a * 1024 / (double)ns[k], rk[k]);
                }
        }
        printf("(us/w: time per worker, f = floor, g = graced: constant when nothing grows faster than N;\n"
               " RssAnon: graced's, settled after the start; B/w: RssAnon / N in bytes)\n");
        for (size_t k = 0; k < nn; k++) {
                if (ns[k] != 1000 && ns[k] != 10000)
                        continue;
                for (int m = 0; m < 2; m++) {
                        if (!par[k][m])
                                continue;
                        double rs = median(gs[k][m], rk[k]) / median(fs[k][m], rk[k]);
                        double rp = median(gst[k][m], rk[k]) / median(fst[k][m], rk[k]);
                        printf("target N=%zu %s: start %.2fx %s, stop %.2fx %s (<= 1.2x)\n", ns[k], modes[m], rs,
                               verdict(rs <= 1.2), rp, verdict(rp <= 1.2));
                }
                if (ns[k] == 10000 && par[k][0]) {
                        double a = median(anon[k][0], rk[k]);
                        printf("target N=10000: RssAnon / N <= 1.5 KiB: %.2f KiB %s\n", a / (double)ns[k],
                               verdict(a / (double)ns[k] <= 1.5));
                }
        }
        for (size_t k = 1; k < nn; k++)
                for (int m = 0; m < 2; m++)
                        if (par[k][m] && par[k - 1][m] && ns[k] > ns[k - 1])
                                printf("heap growth %s N=%zu->%zu: %.0f bytes per added worker\n", modes[m],
                                       ns[k - 1], ns[k],
                                       (median(anon[k][m], rk[k]) - median(anon[k - 1][m], rk[k - 1])) * 1024 /
                                               (double)(ns[k] - ns[k - 1]));

        /* ordered stop: the chain benchmark at 50 and 1000 */
        {
                size_t ks[] = { 50, 1000 };
                bench_chain(ks, 2);
        }

        /* idle with the largest N */
        if (fit_parallel(big, 1))
                bench_idle(big, quick ? 2 : 10, "null", fit_parallel(big, 1), "S2. idle");

        /* what graced spends after the last worker is gone */
        if (np && !strcmp(np, "0")) {
                printf("\n== S3. after the last worker: skipped (BENCH_PERF=0) ==\n");
                return;
        }
        if (system("command -v perf >/dev/null 2>&1") != 0) {
                printf("\n== S3. after the last worker: skipped, no perf ==\n");
                return;
        }
        {
                char rp[PATH_MAX];
                int runs = quick ? 1 : 3;
                size_t tn[2] = { 1000, big };

                snprintf(rp, sizeof rp, "%s/report.json", dir);
                printf("\n== S3. stop of N null workers under perf record (kernel timestamps; medians of %d; ms) ==\n",
                       runs);
                printf("%6s %7s | %8s %10s %10s %10s %10s | %9s\n", "N", "report", "stop", "last exit",
                       "-> reaped", "-> exit()", "-> waited", "fsync");
                for (int j = 0; j < 2; j++) {
                        if (j == 1 && tn[1] == tn[0])
                                break;
                        if (!fit_parallel(tn[j], 1))
                                continue;
                        for (int rep = 0; rep < 2; rep++) {
                                double v[6][8];
                                int ok = 0, nfs = 0;
                                for (int i = 0; i < runs; i++) {
                                        struct tail t = scale_tail(tn[j], rep ? rp : NULL);
                                        if (!t.ok)
                                                continue;
                                        v[0][ok] = t.stop, v[1][ok] = t.last_exit, v[2][ok] = t.reap_gap;
                                        v[3][ok] = t.user_tail, v[4][ok] = t.kernel_tail, v[5][ok] = t.fsync;
                                        nfs = t.n_fsync;
                                        ok++;
                                }
                                if (!ok) {
                                        printf("%6zu %7s | perf record did not work here\n", tn[j], rep ? "yes" : "no");
                                        continue;
                                }
                                printf("%6zu %7s | %8.2f %10.2f %10.3f %10.3f %10.3f | %6.3f/%d\n", tn[j],
                                       rep ? "yes" : "no", median(v[0], ok) * 1e3, median(v[1], ok) * 1e3,
                                       median(v[2], ok) * 1e3, median(v[3], ok) * 1e3, median(v[4], ok) * 1e3,
                                       median(v[5], ok) * 1e3, nfs);
                        }
                }
                printf("(stop: SIGTERM -> waitpid(graced); last exit: SIGTERM -> the last worker's "
                       "sched_process_exit;\n -> reaped: to graced's last wait4() > 0; -> exit(): to graced's "
                       "exit_group(); -> waited: to gbench's waitpid() return\n (the kernel tears graced down); "
                       "fsync: ms inside fsync()/number of calls, the report's file and directory)\n");
        }
}

/* ---- soak: memory under output load -------------------------------------- */

static long children_of(pid_t pid)
{
        char path[64], buf[256 * 1024];
        FILE *f;
        size_t n;
        long c = 0;

        snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
        if (!(f = fopen(path, "re")))
                return -1;
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        for (char *p = buf; *p; p++)
                c += *p == ' ';
        return c;
}

static void soak_malloc_info(pid_t g)
{
        char out[PATH_MAX], ex[PATH_MAX + 128], cmd[PATH_MAX * 3];
        FILE *f;
        char line[512];

        snprintf(out, sizeof out, "%s/malloc-info.xml", dir);
        snprintf(ex, sizeof ex, "call (int)malloc_info(0, (void *)fopen(\"%s\", \"w\"))", out);
        snprintf(cmd, sizeof cmd,
                 "gdb -q -batch -nx -p %d -ex '%s' -ex 'call (int)fflush(0)' >/dev/null 2>&1", (int)g, ex);
        if (system(cmd) != 0 || !(f = fopen(out, "r"))) {
                printf("malloc_info: gdb could not call it here\n");
                return;
        }
        printf("malloc_info() of graced at the end (%s), the totals:\n", out);
        /* the last lines: the totals of all arenas */
        {
                char last[16][512];
                int k = 0;
                while (fgets(line, sizeof line, f))
                        if (strstr(line, "<total ") || strstr(line, "<system ") || strstr(line, "<aspace "))
                                snprintf(last[k++ % 16], sizeof last[0], "%s", line);
                for (int i = k > 6 ? k - 6 : 0; i < k; i++)
                        printf("  %s", last[i % 16]);
        }
        fclose(f);
}

static void bench_soak(double seconds, size_t nw, double rate, double reload)
{
        char conf[PATH_MAX], log[PATH_MAX], go[PATH_MAX], rate_s[32];
        const char *cmd[] = { bw_bin, "-r", rate_s, go, NULL };
        const char *mi = getenv("BENCH_SOAK_MALLOC_INFO"), *fmt = getenv("BENCH_SOAK_FORMAT");
        long *anon = calloc((size_t)seconds + 2, sizeof *anon), *rss = calloc((size_t)seconds + 2, sizeof *rss);
        struct pstat ps, idle;
        double t0, next_reload, deadline;
        long ticks0, max_anon = 0, lines;
        int n = 0, st, reloads = 0, tmax = 0;
        struct stat sb;
        pid_t g;

        if (!anon || !rss)
                die("out of memory");
        if (!fmt || !*fmt)
                fmt = "json";
        snprintf(rate_s, sizeof rate_s, "%.3f", rate / (double)nw);
        snprintf(conf, sizeof conf, "%s/soak.conf", dir);
        snprintf(log, sizeof log, "%s/soak.log", dir);
        snprintf(go, sizeof go, "%s/soak.go", dir);
        unlink(go);
        write_conf(conf, nw, "log", T_INDEP, nw, cmd);
        g = spawn_graced(conf, fmt, log);
        deadline = now_s() + 60;
        while (children_of(g) < (long)nw) {
                int s2;
                if (waitpid(g, &s2, WNOHANG) == g) {
                        cur_graced = 0;
                        die("graced exited during the soak's start (0x%x); see %s", s2, log);
                }
                if (now_s() > deadline)
                        die("the soak's %zu workers did not start within 60 s", nw);
                sleep_s(0.01);
        }
        settle(g);
        read_pstat(g, &idle);
        printf("\n== soak: %zu workers, %.0f lines/s in all (stdout = stderr = log), --log-format=%s to a file, "
               "SIGHUP every %.0f s, %.0f s ==\n",
               nw, rate, fmt, reload, seconds);
        printf("idle (all started, no output yet): RssAnon %ld KiB, VmRSS %ld KiB\n", idle.anon_kb, idle.rss_kb);
        ticks0 = idle.ticks;
        {
                int fd = open(go, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                if (fd < 0)
                        die("%s: %s", go, strerror(errno));
                close(fd);
        }
        t0 = now_s();
        next_reload = t0 + reload;
        while (n <= (int)seconds) {
                double due = t0 + n;
                while (now_s() < due) {
                        double t = now_s();
                        if (t >= next_reload) {
                                kill(g, SIGHUP);
                                reloads++;
                                next_reload += reload;
                        }
                        sleep_s((next_reload < due ? next_reload : due) - t);
                }
                if (waitpid(g, &st, WNOHANG) == g) {
                        cur_graced = 0;
                        die("graced exited during the soak (0x%x); see %s", st, log);
                }
                read_pstat(g, &ps);
                anon[n] = ps.anon_kb;
                rss[n] = ps.rss_kb;
                if (ps.anon_kb > max_anon)
                        max_anon = ps.anon_kb, tmax = n;
                n++;
        }
        read_pstat(g, &ps);
        if (mi && *mi && strcmp(mi, "0") != 0)
                soak_malloc_info(g);
        stop_graced(g, &st);
        check_clean(st, "soak stop");
        lines = count_lines(log);
        stat(log, &sb);
        printf("RssAnon KiB, one sample a second from the first line on (t = 0 s)%s:\n",
               n > 120 ? "; the first and last minute in full, between them a row a minute" : "");
        for (int i = 0; i < n; i += 10) {
                if (n > 120 && i >= 60 && i < n - 60 && i % 60 != 0)
                        continue;
                printf("  t=%4d s:", i);
                for (int j = i; j < i + 10 && j < n; j++)
                        printf(" %6ld", anon[j]);
                printf("\n");
        }
        printf("summary: idle %ld KiB, at 10 s %ld KiB, max %ld KiB (t = %d s), end %ld KiB; max / idle %.2fx; "
               "VmRSS end %ld KiB\n",
               idle.anon_kb, n > 10 ? anon[10] : 0, max_anon, tmax, anon[n - 1], (double)max_anon / (double)idle.anon_kb,
               rss[n - 1]);
        printf("load: %ld records in the log (%.0f lines/s), %.0f MiB; %d reloads; graced's CPU %.1f%%\n", lines,
               (double)lines / (now_s() - t0), (double)sb.st_size / 1048576.0, reloads,
               (double)(ps.ticks - ticks0) / (double)sysconf(_SC_CLK_TCK) / seconds * 100);
        printf("target: RssAnon under load within 2x its idle value: %s\n", verdict(max_anon <= 2 * idle.anon_kb));
        unlink(go);
        if (!getenv("BENCH_SOAK_KEEP"))
                unlink(log);
        free(anon);
        free(rss);
}

/* ---- probes: the cost of health probes at scale ------------------------ */

/* A loopback listener in a child: accepts and closes, counting in *count
 * (shared memory) until stop_r is readable. Returns its pid; *port set. */
static pid_t start_acceptor(volatile unsigned long *count, int *port, int *stop_w)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), sp[2];
        pid_t pid;

        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4096) < 0 ||
            getsockname(fd, (struct sockaddr *)&a, &len) < 0 || pipe2(sp, O_CLOEXEC) < 0)
                die("acceptor: %s", strerror(errno));
        *port = ntohs(a.sin_port);
        pid = fork();
        if (pid < 0)
                die("fork: %s", strerror(errno));
        if (pid == 0) {
                struct pollfd pf[2] = { { .fd = fd, .events = POLLIN }, { .fd = sp[0], .events = POLLIN } };

                close(sp[1]);
                for (;;) {
                        if (poll(pf, 2, -1) < 0 && errno != EINTR)
                                _exit(1);
                        if (pf[1].revents)
                                _exit(0);
                        if (pf[0].revents) {
                                int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                                if (c >= 0) {
                                        (*count)++;
                                        close(c);
                                }
                        }
                }
        }
        close(fd);
        close(sp[0]);
        *stop_w = sp[1];
        return pid;
}

static void bench_probes(size_t n, double window, long interval_ms)
{
        volatile unsigned long *count = mmap(NULL, sizeof *count, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                                             -1, 0);
        char conf[PATH_MAX], log[PATH_MAX];
        struct pstat p0, p1, pi;
        unsigned long c0, c1;
        int port, stop_w, st;
        pid_t acc, g;
        double t0, t1, tick = (double)sysconf(_SC_CLK_TCK);
        FILE *f;

        if (count == MAP_FAILED)
                die("mmap: %s", strerror(errno));
        *count = 0;
        acc = start_acceptor(count, &port, &stop_w);
        snprintf(conf, sizeof conf, "%s/probes.conf", dir);
        snprintf(log, sizeof log, "%s/graced.log", dir);
        if (!(f = fopen(conf, "w")))
                die("%s: %s", conf, strerror(errno));
        fprintf(f, "supervisor = { name = \"bench\"; control_socket = \"\"; max_parallel = %zu; };\nworkers = (\n", n);
        for (size_t i = 0; i < n; i++)
                fprintf(f, "  { name = \"w%zu\"; command = [\"%s\", \"%s\"]; stdout = \"null\"; stderr = \"null\"; "
                           "health = { tcp = \"127.0.0.1:%d\"; interval = \"%ldms\"; }; }%s\n",
                        i, bw_bin, fifo_path, port, interval_ms, i + 1 < n ? "," : "");
        fprintf(f, ");\n");
        if (fclose(f) != 0)
                die("%s: %s", conf, strerror(errno));
        fifo_drain();
        g = spawn_graced(conf, "text", log);
        read_pids(n, g, 120);
        settle(g);
        read_pstat(g, &pi);
        /* every worker's health schedule under way (first check one interval after ready) */
        sleep_s(2.0 * (double)interval_ms / 1000 + 0.5);
        read_pstat(g, &p0);
        c0 = *count;
        t0 = now_s();
        sleep_s(window);
        read_pstat(g, &p1);
        c1 = *count;
        t1 = now_s();
        stop_graced(g, &st);
        check_clean(st, "probes");
        if (write(stop_w, "x", 1) < 0)
                die("stopping the acceptor: %s", strerror(errno));
        close(stop_w);
        waitpid(acc, NULL, 0);
        printf("\n== P. health probes: %zu workers, tcp probe every %ld ms, %.0f s window ==\n", n, interval_ms, window);
        printf("probes made (connections accepted): %lu in %.1f s = %.0f/s (expected %.0f/s)\n", c1 - c0, t1 - t0,
               (double)(c1 - c0) / (t1 - t0), (double)n * 1000 / (double)interval_ms);
        printf("graced's CPU time in the window: %.0f ms (utime+stime) = %.1f%% of one CPU, %.1f us per probe\n",
               (double)(p1.ticks - p0.ticks) * 1000 / tick, (double)(p1.ticks - p0.ticks) / tick / (t1 - t0) * 100,
               c1 > c0 ? (double)(p1.ticks - p0.ticks) / tick * 1e6 / (double)(c1 - c0) : 0.0);
        printf("graced's RssAnon: %ld KiB idle before the probes, %ld KiB at the window's start, %ld KiB at its end "
               "(%.0f B per worker)\n",
               pi.anon_kb, p0.anon_kb, p1.anon_kb, (double)p1.anon_kb * 1024 / (double)n);
        munmap((void *)count, sizeof *count);
}

/* ---- reexec: how long the workers go unserved -------------------------- */

/* gracectl -s SOCK reexec; the seconds it took (it must exit 0). */
static double run_reexec(const char *ctl, const char *sock)
{
        double t0 = now_s();
        int st;
        pid_t pid = fork();

        if (pid < 0)
                die("fork: %s", strerror(errno));
        if (pid == 0) {
                execl(ctl, "gracectl", "-s", sock, "reexec", (char *)NULL);
                _exit(127);
        }
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
                die("gracectl reexec failed (status 0x%x); see %s/graced.log", st, dir);
        return now_s() - t0;
}

/* A text record's timestamp (CLOCK_REALTIME, ms), or -1. */
static double record_ms(const char *line)
{
        struct tm tm = { 0 };
        int ms;
        const char *rest = strptime(line, "%Y-%m-%dT%H:%M:%S", &tm);

        if (!rest || sscanf(rest, ".%3dZ", &ms) != 1)
                return -1;
        return (double)timegm(&tm) * 1e3 + ms;
}

/* "adopted in 41ms" / "9.615ms" / "1.2s": milliseconds. */
static double dur_ms(const char *s)
{
        char *end;
        double v = strtod(s, &end);

        return strncmp(end, "ms", 2) == 0 ? v : *end == 's' ? v * 1e3 : strncmp(end, "us", 2) == 0 ? v / 1e3 : -1;
}

struct reexec_log {
        double at[64], window[64]; /* when each reexec was logged, graced's own figure */
        double unread[64];         /* graced's figure of the time no output was read */
        double delay[64];          /* the longest a line waited around it (+-1 s) */
        double from;               /* lines logged before (the workers starting) are not counted */
        double baseline;           /* the longest a line waited anywhere else */
        int n;
        long lines;
};

/* One output record "... wN[stdout]: t US": how long its line waited. */
static void account_line(struct reexec_log *L, double rec, const char *t)
{
        double wait = rec - (double)atoll(t) / 1e3;
        bool near = false;

        if (rec < L->from)
                return;
        L->lines++;
        for (int i = 0; i < L->n; i++)
                if (rec >= L->at[i] - 1000 && rec <= L->at[i] + 1000) {
                        near = true;
                        L->delay[i] = wait > L->delay[i] ? wait : L->delay[i];
                }
        if (!near && wait > L->baseline)
                L->baseline = wait;
}

static void read_reexec_log(const char *path, double from, struct reexec_log *L)
{
        FILE *f = fopen(path, "r");
        char line[512];
        const char *p;

        if (!f)
                die("%s: %s", path, strerror(errno));
        memset(L, 0, sizeof *L);
        L->from = from;
        /* first the reexecs, then the lines around them */
        while (fgets(line, sizeof line, f))
                if ((p = strstr(line, "workers adopted in ")) && L->n < 64) {
                        L->at[L->n] = record_ms(line);
                        L->window[L->n] = dur_ms(p + strlen("workers adopted in "));
                        p = strstr(p, "(output unread for ");
                        L->unread[L->n++] = p ? dur_ms(p + strlen("(output unread for ")) : -1;
                }
        rewind(f);
        while (fgets(line, sizeof line, f))
                if ((p = strstr(line, "[stdout]: t ")))
                        account_line(L, record_ms(line), p + strlen("[stdout]: t "));
        fclose(f);
}

static void bench_reexec(size_t n, int nrep, long tick_ms)
{
        char conf[PATH_MAX], log[PATH_MAX], sock[PATH_MAX], tick[32], ctlbuf[PATH_MAX];
        const char *ctl = getenv("GRACECTL_BIN");
        double rt[64], from, tick_s = (double)sysconf(_SC_CLK_TCK);
        long cpu_ticks = 0;
        struct reexec_log L;
        struct timespec ts;
        FILE *f;
        pid_t g;
        int st;

        if (!ctl || !*ctl) {
                snprintf(ctlbuf, sizeof ctlbuf, "%.*s/gracectl", (int)(strrchr(graced_bin, '/') - graced_bin),
                         graced_bin);
                ctl = ctlbuf;
        }
        snprintf(conf, sizeof conf, "%s/reexec.conf", dir);
        snprintf(log, sizeof log, "%s/graced.log", dir);
        snprintf(sock, sizeof sock, "%s/ctl.sock", dir);
        snprintf(tick, sizeof tick, "%ld", tick_ms);
        if (!(f = fopen(conf, "w")))
                die("%s: %s", conf, strerror(errno));
        fprintf(f, "supervisor = { name = \"bench\"; control_socket = \"%s\"; max_parallel = %zu; };\nworkers = (\n",
                sock, n);
        for (size_t i = 0; i < n; i++)
                fprintf(f, "  { name = \"w%zu\"; command = [\"%s\", \"-t\", \"%s\", \"%s\"]; stderr = \"null\"; }%s\n", i,
                        bw_bin, tick, fifo_path, i + 1 < n ? "," : "");
        fprintf(f, ");\n");
        if (fclose(f) != 0)
                die("%s: %s", conf, strerror(errno));
        fifo_drain();
        g = spawn_graced(conf, "text", log);
        read_pids(n, g, 120);
        sleep_s(2); /* every worker's lines flowing */
        clock_gettime(CLOCK_REALTIME, &ts);
        from = (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
        for (int i = 0; i < nrep; i++) {
                struct pstat p0, p1;

                read_pstat(g, &p0);
                rt[i] = run_reexec(ctl, sock);
                sleep_s(0.2); /* what the new graced frees after its first iteration */
                read_pstat(g, &p1);
                cpu_ticks += p1.ticks - p0.ticks;
                sleep_s(quick ? 0.3 : 1.3);
        }
        stop_graced(g, &st);
        check_clean(st, "reexec");
        read_reexec_log(log, from, &L);
        if (L.n != nrep)
                die("%d reexecs in the log, %d made", L.n, nrep);
        printf("\n== R. gracectl reexec: %zu workers, each logs a line every %ld ms (%.0f lines/s), %d reexecs ==\n",
               n, tick_ms, (double)n * 1000 / (double)tick_ms, nrep);
        printf("%4s %12s %12s %14s %20s\n", "#", "unread (ms)", "graced (ms)", "gracectl (ms)", "longest wait (ms)");
        for (int i = 0; i < nrep; i++)
                printf("%4d %12.1f %12.1f %14.1f %20.0f\n", i + 1, L.unread[i], L.window[i], rt[i] * 1e3, L.delay[i]);
        for (int i = 0; i < nrep; i++)
                rt[i] *= 1e3;
        printf("median %7.1f %12.1f %14.1f %20.0f\n", median(L.unread, nrep), median(L.window, nrep), median(rt, nrep),
               median(L.delay, nrep));
        printf("(unread: the old graced's last read of the workers' output -> the new graced's first loop\n"
               " iteration, from its log; graced: the request -> that iteration; gracectl: the request's\n"
               " round trip; longest wait: of the lines written within 1 s of a reexec, the longest from its write\n"
               " to graced's record of it, in ms of the log's timestamps; elsewhere at most %.0f ms; %ld lines\n"
               " from 2 s after the start)\n",
               L.baseline, L.lines);
        printf("graced's CPU time per reexec (utime + stime, both graceds, the 200 ms after each request): %.0f ms\n",
               (double)cpu_ticks / tick_s * 1e3 / nrep);
        printf("target: workers unserved < 50 ms: median %.1f ms %s\n", median(L.unread, nrep),
               verdict(median(L.unread, nrep) < 50));
}

/* probes [N [SECONDS [INTERVAL_MS]]] */
static void bench_probes_args(int argc, char **argv)
{
        size_t n = argc > 0 ? (size_t)atol(argv[0]) : 1000;
        double w = argc > 1 ? atof(argv[1]) : quick ? 10 : 60;
        long iv = argc > 2 ? atol(argv[2]) : 1000;

        if (n == 0 || n >= MAXN || w <= 0 || iv <= 0)
                die("bad probes arguments");
        bench_probes(n, w, iv);
}

/* reexec [N [REPS [TICK_MS]]] */
static void bench_reexec_args(int argc, char **argv)
{
        size_t n = argc > 0 ? (size_t)atol(argv[0]) : 1000;
        int r = argc > 1 ? atoi(argv[1]) : quick ? 5 : 10;
        long tk = argc > 2 ? atol(argv[2]) : 1000;

        if (n == 0 || n >= MAXN || r <= 0 || r > 64 || tk <= 0)
                die("bad reexec arguments");
        bench_reexec(n, r, tk);
}

static size_t parse_list(int argc, char **argv, size_t *v, size_t max, const size_t *def, size_t ndef)
{
        size_t n = 0;

        for (int i = 0; i < argc && n < max; i++) {
                long x = atol(argv[i]);
                if (x <= 0 || x >= MAXN)
                        die("bad count '%s'", argv[i]);
                v[n++] = (size_t)x;
        }
        if (n == 0) {
                memcpy(v, def, ndef * sizeof *def);
                n = ndef;
        }
        return n;
}

static const char *need_env(const char *k)
{
        const char *v = getenv(k);
        if (!v || !*v)
                die("%s is not set", k);
        return v;
}

/* gbench's own descriptor limit: the floor holds none per worker, but the
 * scale benchmark's perf and strace children and 10,000 pids read from the
 * FIFO must not be the limit; raised like graced raises its own (hard to
 * fs.nr_open when allowed, soft to hard). graced gets the original back. */
static void nofile_setup(void)
{
        struct rlimit rl;
        FILE *f = fopen("/proc/sys/fs/nr_open", "re");
        unsigned long long nr = 0;

        if (f) {
                if (fscanf(f, "%llu", &nr) != 1)
                        nr = 0;
                fclose(f);
        }
        if (getrlimit(RLIMIT_NOFILE, &orig_nofile) < 0)
                die("getrlimit: %s", strerror(errno));
        rl = orig_nofile;
        graced_hard = rl.rlim_max == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_max;
        if (nr > 0 && rl.rlim_max != RLIM_INFINITY && rl.rlim_max < nr) {
                struct rlimit up = { .rlim_cur = nr, .rlim_max = nr };
                if (setrlimit(RLIMIT_NOFILE, &up) == 0) {
                        graced_can_raise = true;
                        graced_hard = nr;
                        rl = up;
                }
        }
        if (rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
}

int main(int argc, char **argv)
{
        const char *q = getenv("BENCH_QUICK"), *rp = getenv("BENCH_REPS");
        size_t ns[16];

        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc < 2) {
                fprintf(stderr, "usage: gbench startstop [N...] | output [LINES] | chain [K...] | ladder [L...] | idle [N "
                                "[SECONDS]] | scale [N...] | probes [N [SECONDS [INTERVAL_MS]]] | reexec [N [REPS [TICK_MS]]] | "
                                "soak [SECONDS [WORKERS [LINES_PER_S [RELOAD_S]]]]\n");
                return 2;
        }
        /* what systemd may have given us must not reach graced */
        unsetenv("NOTIFY_SOCKET");
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_PID");
        quick = q && *q && strcmp(q, "0") != 0;
        floor_vfork = getenv("BENCH_FLOOR") && !strcmp(getenv("BENCH_FLOOR"), "vfork");
        reps = rp && atoi(rp) > 0 ? atoi(rp) : 0;
        if (reps > 63)
                reps = 63;
        graced_bin = need_env("GRACED_BIN");
        bw_bin = need_env("BENCH_BW");
        dir = need_env("BENCH_DIR");
        if (!realpath(bw_bin, bw_real))
                die("%s: %s", bw_bin, strerror(errno));
        fifo_open();
        nofile_setup();

        if (!strcmp(argv[1], "startstop")) {
                static const size_t def[] = { 10, 100, 1000 };
                size_t n = parse_list(argc - 2, argv + 2, ns, 16, def, 3);
                bench_startstop(ns, n);
        } else if (!strcmp(argv[1], "chain")) {
                static const size_t def[] = { 10, 50 };
                size_t n = parse_list(argc - 2, argv + 2, ns, 16, def, 2);
                bench_chain(ns, n);
        } else if (!strcmp(argv[1], "ladder")) {
                static const size_t def[] = { 10, 20 };
                size_t n = parse_list(argc - 2, argv + 2, ns, 16, def, 2);
                bench_ladder(ns, n);
        } else if (!strcmp(argv[1], "idle")) {
                size_t n = argc > 2 ? (size_t)atol(argv[2]) : 100;
                double w = argc > 3 ? atof(argv[3]) : quick ? 2 : 10;
                if (n == 0 || n >= MAXN || w <= 0)
                        die("bad idle arguments");
                bench_idle(n, w, "log", 16, "5. idle");
        } else if (!strcmp(argv[1], "scale")) {
                static const size_t def[] = { 1000, 2000, 5000, 10000 };
                size_t n = parse_list(argc - 2, argv + 2, ns, 16, def, 4);
                bench_scale(ns, n);
        } else if (!strcmp(argv[1], "soak")) {
                double secs = argc > 2 ? atof(argv[2]) : quick ? 60 : 600;
                long nw = argc > 3 ? atol(argv[3]) : 150;
                double rate = argc > 4 ? atof(argv[4]) : 6400, rl = argc > 5 ? atof(argv[5]) : 3;
                if (secs < 1 || nw <= 0 || nw >= MAXN || rate <= 0 || rl <= 0)
                        die("bad soak arguments");
                bench_soak(secs, (size_t)nw, rate, rl);
        } else if (!strcmp(argv[1], "probes")) {
                bench_probes_args(argc - 2, argv + 2);
        } else if (!strcmp(argv[1], "reexec")) {
                bench_reexec_args(argc - 2, argv + 2);
        } else if (!strcmp(argv[1], "output")) {
                long lines = argc > 2 ? atol(argv[2]) : 1000000;
                tw_bin = need_env("GRACED_TESTWORKER");
                if (lines <= 0)
                        die("bad line count");
                bench_output(lines);
        } else {
                die("unknown benchmark '%s'", argv[1]);
        }
        close(fifo_fd);
        unlink(fifo_path);
        return 0;
}
