/* testworker - a scriptable worker for graced's integration tests.
 *
 * Usage: testworker [--verbose] ACTION...
 *
 * The actions run in the order given; when the last one is done testworker
 * exits 0. Every argument is checked before the first action runs: a bad
 * command line prints a message and exits 2, before anything happened.
 * When an action fails (a file cannot be written, ...) testworker says why
 * on stderr and exits 120 (EXIT_FAILED below).
 *
 * Observing:
 *   --stamp FILE           write "<pid> <CLOCK_MONOTONIC ns> <CLOCK_REALTIME ns>\n"
 *                          to FILE atomically (FILE.tmp.<pid>, then rename)
 *   --append FILE TEXT     append the line "TEXT\n" to FILE (O_APPEND, one write())
 *   --report-fds FILE      write atomically, one item a line:
 *                            fd <n> <readlink of /proc/self/fd/n>   (every open fd)
 *                            sigmask <hex>  sigign <hex>  sigcgt <hex>  (SigBlk/SigIgn/SigCgt)
 *                            pid <n>  ppid <n>  pgid <n>  sid <n>
 *                            uid <real> <effective>  gid <real> <effective>
 *                            groups <g>...   (supplementary groups, may be empty)
 *                            umask <octal, 4 digits>  cwd <path>
 *                            env KEY=VALUE   (every environment variable)
 *   --read-stdin FILE      read stdin to EOF, write the byte count ("0\n") to FILE
 *
 * Listening (for readiness and health probes; loopback only):
 *   --listen-tcp PORT FILE bind a stream socket to 127.0.0.1:PORT (0: any free
 *                          port; SO_REUSEADDR and SO_REUSEPORT, so that a test
 *                          can hold the port reserved with a socket of its own
 *                          that has SO_REUSEPORT too) and listen; then write
 *                          "<pid> <mono ns> <realtime ns> <port>\n" to FILE
 *                          atomically, the times taken BEFORE the socket was
 *                          bound: nobody could connect earlier
 *   --listen-unix PATH FILE the same for a stream socket at PATH (the line has
 *                          no port); a file already at PATH is removed first
 *   --listen-close         close the listening socket (connections are refused
 *                          again; a unix socket's file is removed)
 *   --http-status-file FILE from now on, each connection to the listening
 *                          socket gets one HTTP answer, with the status in FILE
 *                          (a number; 503 while FILE does not exist) and no
 *                          body, once its request head was read
 *   While a socket listens, every wait (--block, --sleep-ms, --wait-file)
 *   accepts the connections that come in (answering them, see above) and
 *   closes them, so that they never pile up.
 *
 * Output:
 *   --print N              print "line 1" .. "line N" on stdout (stdio, flushed at the end)
 *   --say TEXT             print the line "TEXT" on stdout (flushed)
 *   --print-err N          the same on stderr
 *   --print-bytes N        print one line of N 'x' characters on stdout
 *   --no-newline           the next --print/--print-err/--print-bytes leaves out
 *                          the newline after its last line
 *   --lines-fast N         write "1\n" .. "N\n" on stdout with large write()s
 *                          (short writes and EINTR handled)
 *   --seq FROM TO          the same for "FROM\n" .. "TO\n"
 *   --write TEXT           write TEXT on stdout as it is, in one write() (the two
 *                          characters \n become a newline; no newline is added)
 *   --wait-drained FILE    wait until the reader of stdout (a pipe) has read all
 *                          that was written to it, then --stamp FILE
 *   --close-output         point stdout and stderr at /dev/null (closing the pipes
 *                          to the supervisor) and go on
 *
 * Flow:
 *   --sleep-ms N           let N ms pass (to simulate work, not to synchronise)
 *   --wait-file FILE       wait until FILE exists (a gate the test opens)
 *   --block                wait for signals forever
 *   --exit N               exit with code N now
 *   --notify MSG           send MSG as one datagram to $NOTIFY_SOCKET ("/path" or
 *                          "@abstract"); the two characters \n in MSG become a newline
 *
 * Signals (SIG: TERM, SIGTERM or a number):
 *   --ignore SIG           ignore SIG
 *   --default SIG          restore the default disposition of SIG
 *   --on-signal SIG CODE   on SIG exit with CODE at once (_exit in the handler)
 *   --on-signal-delay SIG MS CODE
 *                          on SIG, let MS ms pass, then exit with CODE (a slow
 *                          shutdown); the handler only sets a flag, the waits
 *                          (--block, --sleep-ms, --wait-file) and the gaps
 *                          between actions act on it. Further signals handled
 *                          this way are ignored once one arrived.
 *   --signal-stamp FILE    when a signal handled by --on-signal-delay arrives,
 *                          write a --stamp line to FILE with the times taken
 *                          in the handler (when it arrived), before the delay
 *   Until such an option is given every signal has the disposition testworker
 *   inherited, and the signal mask is never changed outside of a wait (so
 *   --report-fds shows what the supervisor gave).
 *
 * Children (both keep the process group and the session: no setsid):
 *   --fork-grandchild FILE double fork a grandchild that ignores SIGTERM, drops
 *                          the --on-signal handlers (keeps --ignore), writes its
 *                          pid to FILE atomically and then waits for signals
 *                          forever; testworker goes on once FILE is written
 *   --orphan FILE          double fork a grandchild that writes its pid to FILE and
 *                          exits at once, becoming a zombie for whoever inherits it
 *   --grandchild-devnull   later grandchildren point stdout/stderr at /dev/null
 *                          (by default they hold the worker's output pipes)
 *
 * Other:
 *   --verbose              (anywhere) tell on stderr when a handled signal arrives
 *   -h, --help             print this help and exit 0
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_USAGE 2
#define EXIT_FAILED 120

static const char usage_text[] =
        "Usage: testworker [--verbose] ACTION...\n"
        "Runs the actions in order, then exits 0. Bad usage: exit 2; a failed action: exit 120.\n"
        "\n"
        "  --stamp FILE                  write \"<pid> <mono ns> <realtime ns>\" to FILE atomically\n"
        "  --append FILE TEXT            append the line TEXT to FILE (one write)\n"
        "  --report-fds FILE             write fds, signal masks, ids, umask, cwd, env to FILE\n"
        "  --read-stdin FILE             read stdin to EOF, write the byte count to FILE\n"
        "  --listen-tcp PORT FILE        listen on 127.0.0.1:PORT (0: any), then stamp FILE\n"
        "                                with the time before the bind and the port\n"
        "  --listen-unix PATH FILE       listen on a stream socket at PATH, then stamp FILE\n"
        "  --listen-close                close the listening socket\n"
        "  --http-status-file FILE       answer connections with HTTP, the status from FILE\n"
        "                                (503 while it does not exist)\n"
        "  --print N                     print \"line 1\"..\"line N\" on stdout\n"
        "  --say TEXT                    print the line TEXT on stdout\n"
        "  --print-err N                 the same on stderr\n"
        "  --print-bytes N               print one line of N 'x' on stdout\n"
        "  --no-newline                  the next print leaves out its last newline\n"
        "  --lines-fast N                write \"1\"..\"N\" on stdout with large writes\n"
        "  --seq FROM TO                 write \"FROM\"..\"TO\" on stdout with large writes\n"
        "  --write TEXT                  write TEXT on stdout as it is (\\n: newline)\n"
        "  --wait-drained FILE           wait until stdout's pipe was read empty, then stamp FILE\n"
        "  --close-output                point stdout and stderr at /dev/null\n"
        "  --sleep-ms N                  let N ms pass\n"
        "  --wait-file FILE              wait until FILE exists\n"
        "  --block                       wait for signals forever\n"
        "  --exit N                      exit with code N\n"
        "  --notify MSG                  send MSG to $NOTIFY_SOCKET (\\n: newline)\n"
        "  --ignore SIG                  ignore SIG (TERM, SIGTERM or a number)\n"
        "  --default SIG                 default disposition for SIG\n"
        "  --on-signal SIG CODE          on SIG exit with CODE at once\n"
        "  --on-signal-delay SIG MS CODE on SIG wait MS ms, then exit with CODE\n"
        "  --signal-stamp FILE           stamp FILE with the arrival of a delayed signal\n"
        "  --fork-grandchild FILE        grandchild in the same group that ignores SIGTERM,\n"
        "                                writes its pid to FILE and blocks forever\n"
        "  --orphan FILE                 grandchild that writes its pid to FILE and exits\n"
        "  --grandchild-devnull          later grandchildren write to /dev/null\n"
        "  --verbose                     tell on stderr when a handled signal arrives\n"
        "  -h, --help                    this help\n";

/* ---- actions ------------------------------------------------------------ */

enum act {
        A_STAMP,
        A_APPEND,
        A_REPORT_FDS,
        A_READ_STDIN,
        A_PRINT,
        A_PRINT_ERR,
        A_PRINT_BYTES,
        A_NO_NEWLINE,
        A_LINES_FAST,
        A_CLOSE_OUTPUT,
        A_SLEEP_MS,
        A_WAIT_FILE,
        A_BLOCK,
        A_EXIT,
        A_NOTIFY,
        A_IGNORE,
        A_DEFAULT,
        A_ON_SIGNAL,
        A_ON_SIGNAL_DELAY,
        A_FORK_GRANDCHILD,
        A_ORPHAN,
        A_GRANDCHILD_DEVNULL,
        A_LISTEN_TCP,
        A_LISTEN_UNIX,
        A_LISTEN_CLOSE,
        A_HTTP_STATUS_FILE,
        A_SAY,
        A_SIGNAL_STAMP,
        A_SEQ,
        A_WRITE,
        A_WAIT_DRAINED,
};

/* Argument kinds: s = string, n = count/ms (0..LLONG_MAX), c = exit code
 * (0..255), g = signal, p = port (0..65535). */
struct opt {
        const char *name;
        enum act act;
        const char *args;
};

static const struct opt opts[] = {
        { "--stamp", A_STAMP, "s" },
        { "--append", A_APPEND, "ss" },
        { "--report-fds", A_REPORT_FDS, "s" },
        { "--read-stdin", A_READ_STDIN, "s" },
        { "--print", A_PRINT, "n" },
        { "--print-err", A_PRINT_ERR, "n" },
        { "--print-bytes", A_PRINT_BYTES, "n" },
        { "--no-newline", A_NO_NEWLINE, "" },
        { "--lines-fast", A_LINES_FAST, "n" },
        { "--close-output", A_CLOSE_OUTPUT, "" },
        { "--sleep-ms", A_SLEEP_MS, "n" },
        { "--wait-file", A_WAIT_FILE, "s" },
        { "--block", A_BLOCK, "" },
        { "--exit", A_EXIT, "c" },
        { "--notify", A_NOTIFY, "s" },
        { "--ignore", A_IGNORE, "g" },
        { "--default", A_DEFAULT, "g" },
        { "--on-signal", A_ON_SIGNAL, "gc" },
        { "--on-signal-delay", A_ON_SIGNAL_DELAY, "gnc" },
        { "--fork-grandchild", A_FORK_GRANDCHILD, "s" },
        { "--orphan", A_ORPHAN, "s" },
        { "--grandchild-devnull", A_GRANDCHILD_DEVNULL, "" },
        { "--listen-tcp", A_LISTEN_TCP, "ps" },
        { "--listen-unix", A_LISTEN_UNIX, "ss" },
        { "--listen-close", A_LISTEN_CLOSE, "" },
        { "--http-status-file", A_HTTP_STATUS_FILE, "s" },
        { "--say", A_SAY, "s" },
        { "--signal-stamp", A_SIGNAL_STAMP, "s" },
        { "--seq", A_SEQ, "nn" },
        { "--write", A_WRITE, "s" },
        { "--wait-drained", A_WAIT_DRAINED, "s" },
};

#define MAX_ARGS 3

struct action {
        enum act act;
        const char *s[MAX_ARGS];
        long long n[MAX_ARGS];
};

/* ---- signal names ------------------------------------------------------- */

static const struct {
        const char *name;
        int sig;
} signames[] = {
        { "HUP", SIGHUP },   { "INT", SIGINT },       { "QUIT", SIGQUIT }, { "ILL", SIGILL },
        { "TRAP", SIGTRAP }, { "ABRT", SIGABRT },     { "BUS", SIGBUS },   { "FPE", SIGFPE },
        { "KILL", SIGKILL }, { "USR1", SIGUSR1 },     { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 },
        { "PIPE", SIGPIPE }, { "ALRM", SIGALRM },     { "TERM", SIGTERM }, { "STKFLT", SIGSTKFLT },
        { "CHLD", SIGCHLD }, { "CONT", SIGCONT },     { "STOP", SIGSTOP }, { "TSTP", SIGTSTP },
        { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },     { "URG", SIGURG },   { "XCPU", SIGXCPU },
        { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH },
        { "IO", SIGIO },     { "PWR", SIGPWR },       { "SYS", SIGSYS },
};

static const char *signame(int sig)
{
        for (size_t i = 0; i < sizeof(signames) / sizeof(signames[0]); i++)
                if (signames[i].sig == sig)
                        return signames[i].name;
        return "?";
}

/* ---- global state --------------------------------------------------------- */

static bool verbose;
static bool grandchild_devnull;
/* --listen-tcp / --listen-unix: the listening socket (-1: none), the unix
 * socket's path, --http-status-file's file (NULL: connections are closed
 * unanswered) */
static int listen_fd = -1;
static const char *listen_path;
static const char *http_status_file;
static bool no_newline;

/* Exit codes of the handlers, per signal; written before the handler is
 * installed, read in the handler. */
static volatile sig_atomic_t handler_code[NSIG];
/* Delayed exits: delay in ms per signal (main context only). */
static long long delay_ms[NSIG];
/* Signals that have a handler of ours (to block them around waits and to
 * drop them in grandchildren). */
static sigset_t handled;
static sigset_t delayed;
/* Set by the delayed handler: the first signal that arrived, and when
 * (for --signal-stamp, whose file is written in the main context). */
static volatile sig_atomic_t pending_sig;
static struct timespec pending_mono, pending_real;
static const char *signal_stamp_path;
/* Prebuilt messages for --verbose in the immediate handler. */
static char handler_msg[NSIG][80];

static void flush_all(void);

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
        va_list ap;

        fflush(stdout);
        fprintf(stderr, "testworker[%ld]: ", (long)getpid());
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        fflush(stderr);
        _exit(EXIT_FAILED);
}

static void __attribute__((noreturn, format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
        va_list ap;

        fputs("testworker: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\nTry 'testworker --help'.\n", stderr);
        exit(EXIT_USAGE);
}

static void finish(int code)
{
        flush_all();
        exit(code);
}

/* ---- small helpers ---------------------------------------------------------- */

static long long now_ns(clockid_t clk)
{
        struct timespec ts;

        if (clock_gettime(clk, &ts) < 0)
                die("clock_gettime: %s", strerror(errno));
        return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static bool parse_ll(const char *s, long long min, long long max, long long *ret)
{
        char *end;
        long long v;

        if (!*s || isspace((unsigned char)*s))
                return false;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || *end || v < min || v > max)
                return false;
        *ret = v;
        return true;
}

static int parse_signal(const char *s)
{
        long long n;

        if (parse_ll(s, 1, NSIG - 1, &n))
                return (int)n;
        if (strncasecmp(s, "SIG", 3) == 0)
                s += 3;
        for (size_t i = 0; i < sizeof(signames) / sizeof(signames[0]); i++)
                if (strcasecmp(s, signames[i].name) == 0)
                        return signames[i].sig;
        return -1;
}

static void write_all(int fd, const char *buf, size_t len, const char *what)
{
        while (len > 0) {
                ssize_t n = write(fd, buf, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        die("write %s: %s", what, strerror(errno));
                }
                buf += n;
                len -= (size_t)n;
        }
}

static void write_atomic(const char *path, const char *buf, size_t len)
{
        char *tmp;
        int fd;

        if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0)
                die("out of memory");
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                die("open %s: %s", tmp, strerror(errno));
        write_all(fd, buf, len, tmp);
        if (close(fd) < 0)
                die("close %s: %s", tmp, strerror(errno));
        if (rename(tmp, path) < 0)
                die("rename %s to %s: %s", tmp, path, strerror(errno));
        free(tmp);
}

static void flush_all(void)
{
        if (fflush(stdout) == EOF)
                die("stdout: %s", strerror(errno));
        if (fflush(stderr) == EOF)
                die("stderr: %s", strerror(errno));
}

static void devnull_output(void)
{
        int fd;

        flush_all();
        fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                die("open /dev/null: %s", strerror(errno));
        if (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
                die("dup2: %s", strerror(errno));
        close(fd);
}

/* ---- signals ----------------------------------------------------------------- */

static void on_signal_exit(int sig)
{
        if (verbose) {
                const char *m = handler_msg[sig];
                ssize_t r = write(STDERR_FILENO, m, strlen(m));
                (void)r;
        }
        _exit(handler_code[sig]);
}

static void on_signal_delayed(int sig)
{
        if (!pending_sig) {
                int saved = errno;

                /* async-signal-safe; read only once pending_sig is set */
                (void)clock_gettime(CLOCK_MONOTONIC, &pending_mono);
                (void)clock_gettime(CLOCK_REALTIME, &pending_real);
                errno = saved;
                pending_sig = sig;
        }
}

static void set_disposition(int sig, void (*fn)(int))
{
        struct sigaction sa = { .sa_handler = fn, .sa_flags = SA_RESTART };

        sigemptyset(&sa.sa_mask);
        if (sigaction(sig, &sa, NULL) < 0)
                die("sigaction %s: %s", signame(sig), strerror(errno));
}

static void wait_event(long long deadline, int fd, bool handle_signals);
static void serve_one(void);

static void __attribute__((noreturn)) handle_pending(void)
{
        int sig = pending_sig;
        int code = handler_code[sig];

        if (signal_stamp_path) {
                char buf[96];
                int n = snprintf(buf, sizeof(buf), "%ld %lld %lld\n", (long)getpid(),
                                 (long long)pending_mono.tv_sec * 1000000000LL + pending_mono.tv_nsec,
                                 (long long)pending_real.tv_sec * 1000000000LL + pending_real.tv_nsec);

                write_atomic(signal_stamp_path, buf, (size_t)n);
        }
        if (verbose)
                fprintf(stderr, "testworker[%ld]: got SIG%s, exiting %d in %lldms\n", (long)getpid(),
                        signame(sig), code, delay_ms[sig]);
        flush_all();
        wait_event(now_ns(CLOCK_MONOTONIC) + delay_ms[sig] * 1000000LL, -1, false);
        finish(code);
        abort(); /* not reached */
}

/* Waits until the CLOCK_MONOTONIC deadline (ns; < 0: none) passes or fd
 * (when >= 0) becomes readable, acting on a delayed signal when
 * handle_signals. Our handled signals are blocked except inside ppoll(), so
 * none can slip in between the check of the flag and the wait. */
static void wait_event(long long deadline, int fd, bool handle_signals)
{
        sigset_t old;

        if (sigprocmask(SIG_BLOCK, &delayed, &old) < 0)
                die("sigprocmask: %s", strerror(errno));
        for (;;) {
                struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN }, { .fd = listen_fd, .events = POLLIN } };
                struct timespec ts, *tsp = NULL;
                int n;

                if (handle_signals && pending_sig) {
                        sigprocmask(SIG_SETMASK, &old, NULL);
                        handle_pending();
                }
                if (deadline >= 0) {
                        long long left = deadline - now_ns(CLOCK_MONOTONIC);

                        if (left <= 0)
                                break;
                        ts.tv_sec = left / 1000000000LL;
                        ts.tv_nsec = left % 1000000000LL;
                        tsp = &ts;
                }
                n = ppoll(pfd, 2, tsp, &old); /* a negative fd is skipped */
                if (n < 0 && errno != EINTR)
                        die("ppoll: %s", strerror(errno));
                if (n > 0 && pfd[1].revents)
                        serve_one();
                if (n > 0 && pfd[0].revents)
                        break;
        }
        if (sigprocmask(SIG_SETMASK, &old, NULL) < 0)
                die("sigprocmask: %s", strerror(errno));
}

/* Between actions: a delayed signal that came in meanwhile is acted on. */
static void check_pending(void)
{
        if (pending_sig)
                handle_pending();
}

/* ---- the actions ------------------------------------------------------------- */

static void do_stamp(const char *path)
{
        char buf[96];
        long long mono = now_ns(CLOCK_MONOTONIC), real = now_ns(CLOCK_REALTIME);
        int n = snprintf(buf, sizeof(buf), "%ld %lld %lld\n", (long)getpid(), mono, real);

        write_atomic(path, buf, (size_t)n);
}

static void do_append(const char *path, const char *text)
{
        size_t len = strlen(text);
        char *line = malloc(len + 2);
        int fd;

        if (!line)
                die("out of memory");
        memcpy(line, text, len);
        line[len] = '\n';
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0)
                die("open %s: %s", path, strerror(errno));
        write_all(fd, line, len + 1, path);
        if (close(fd) < 0)
                die("close %s: %s", path, strerror(errno));
        free(line);
}

static int cmp_int(const void *a, const void *b)
{
        int x = *(const int *)a, y = *(const int *)b;

        return (x > y) - (x < y);
}

static void report_status_line(FILE *out, const char *line)
{
        static const struct {
                const char *key, *out;
        } keys[] = {
                { "SigBlk:", "sigmask" }, { "SigIgn:", "sigign" }, { "SigCgt:", "sigcgt" },
                { "Uid:", "uid" },        { "Gid:", "gid" },       { "Groups:", "groups" },
        };

        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                size_t kl = strlen(keys[i].key);
                const char *v;
                long a, b;

                if (strncmp(line, keys[i].key, kl) != 0)
                        continue;
                v = line + kl;
                while (*v == ' ' || *v == '\t')
                        v++;
                if (strcmp(keys[i].out, "uid") == 0 || strcmp(keys[i].out, "gid") == 0) {
                        /* real, effective, saved, fs: keep the first two */
                        if (sscanf(v, "%ld %ld", &a, &b) == 2)
                                fprintf(out, "%s %ld %ld\n", keys[i].out, a, b);
                } else if (strcmp(keys[i].out, "groups") == 0) {
                        fputs("groups", out);
                        while (*v) {
                                char *end;
                                long g = strtol(v, &end, 10);

                                if (end == v)
                                        break;
                                fprintf(out, " %ld", g);
                                v = end;
                                while (*v == ' ' || *v == '\t')
                                        v++;
                        }
                        fputc('\n', out);
                } else {
                        size_t len = strcspn(v, "\n");

                        fprintf(out, "%s %.*s\n", keys[i].out, (int)len, v);
                }
        }
}

static void do_report_fds(const char *path)
{
        char *buf = NULL, *line = NULL, target[PATH_MAX + 1], cwd[PATH_MAX + 1];
        size_t size = 0, linecap = 0, nfds = 0, capfds = 0;
        int *fds = NULL;
        mode_t mask;
        DIR *d;
        FILE *out, *st;
        struct dirent *de;

        /* 1. the fds, before we open anything else */
        d = opendir("/proc/self/fd");
        if (!d)
                die("opendir /proc/self/fd: %s", strerror(errno));
        while ((errno = 0, de = readdir(d))) {
                long long fd;

                if (!parse_ll(de->d_name, 0, INT_MAX, &fd) || fd == dirfd(d))
                        continue;
                if (nfds == capfds) {
                        capfds = capfds ? capfds * 2 : 16;
                        fds = realloc(fds, capfds * sizeof(*fds));
                        if (!fds)
                                die("out of memory");
                }
                fds[nfds++] = (int)fd;
        }
        if (errno)
                die("readdir /proc/self/fd: %s", strerror(errno));

        out = open_memstream(&buf, &size);
        if (!out)
                die("open_memstream: %s", strerror(errno));
        if (nfds)
                qsort(fds, nfds, sizeof(*fds), cmp_int);
        for (size_t i = 0; i < nfds; i++) {
                char p[64];
                ssize_t n;

                snprintf(p, sizeof(p), "/proc/self/fd/%d", fds[i]);
                n = readlink(p, target, sizeof(target) - 1);
                if (n < 0)
                        n = 0; /* raced away */
                target[n] = '\0';
                fprintf(out, "fd %d %s\n", fds[i], target);
        }
        free(fds);
        if (closedir(d) < 0)
                die("closedir: %s", strerror(errno));

        /* 2. signals and ids from /proc/self/status */
        st = fopen("/proc/self/status", "re");
        if (!st)
                die("open /proc/self/status: %s", strerror(errno));
        while (getline(&line, &linecap, st) > 0)
                report_status_line(out, line);
        free(line);
        fclose(st);

        fprintf(out, "pid %ld\nppid %ld\npgid %ld\nsid %ld\n", (long)getpid(), (long)getppid(),
                (long)getpgid(0), (long)getsid(0));
        mask = umask(0);
        umask(mask);
        fprintf(out, "umask %04o\n", (unsigned)mask);
        if (!getcwd(cwd, sizeof(cwd)))
                snprintf(cwd, sizeof(cwd), "(%s)", strerror(errno));
        fprintf(out, "cwd %s\n", cwd);
        for (char **e = environ; e && *e; e++)
                fprintf(out, "env %s\n", *e);
        if (fclose(out) == EOF)
                die("open_memstream: %s", strerror(errno));
        write_atomic(path, buf, size);
        free(buf);
}

static void do_read_stdin(const char *path)
{
        char buf[65536], out[32];
        unsigned long long total = 0;
        int n;

        for (;;) {
                ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));

                if (r < 0) {
                        if (errno == EINTR) {
                                check_pending();
                                continue;
                        }
                        die("read stdin: %s", strerror(errno));
                }
                if (r == 0)
                        break;
                total += (unsigned long long)r;
        }
        n = snprintf(out, sizeof(out), "%llu\n", total);
        write_atomic(path, out, (size_t)n);
}

static void do_print(FILE *f, long long count)
{
        for (long long i = 1; i <= count; i++)
                fprintf(f, (i == count && no_newline) ? "line %lld" : "line %lld\n", i);
        no_newline = false;
        flush_all();
}

static void do_print_bytes(long long count)
{
        char chunk[4096];

        memset(chunk, 'x', sizeof(chunk));
        while (count > 0) {
                size_t n = count > (long long)sizeof(chunk) ? sizeof(chunk) : (size_t)count;

                if (fwrite(chunk, 1, n, stdout) != n)
                        die("stdout: %s", strerror(errno));
                count -= (long long)n;
        }
        if (!no_newline)
                fputc('\n', stdout);
        no_newline = false;
        flush_all();
}

static void do_lines_fast(long long from, long long count)
{
        enum { BUFSZ = 1 << 16 };
        char *buf = malloc(BUFSZ);
        size_t used = 0;

        if (!buf)
                die("out of memory");
        flush_all();
        for (long long i = from; i <= count; i++) {
                if (BUFSZ - used < 24) {
                        write_all(STDOUT_FILENO, buf, used, "stdout");
                        used = 0;
                        check_pending();
                }
                used += (size_t)snprintf(buf + used, BUFSZ - used, "%lld\n", i);
        }
        write_all(STDOUT_FILENO, buf, used, "stdout");
        free(buf);
}

/* TEXT with \n as a newline (malloc'd), its length in *len. */
static char *unescape(const char *msg, size_t *len)
{
        char *text = malloc(strlen(msg) + 1);
        size_t o = 0;

        if (!text)
                die("out of memory");
        for (const char *p = msg; *p; p++) {
                if (p[0] == '\\' && p[1] == 'n') {
                        text[o++] = '\n';
                        p++;
                } else {
                        text[o++] = *p;
                }
        }
        text[o] = '\0';
        *len = o;
        return text;
}

static void do_write(const char *msg)
{
        size_t len;
        char *text = unescape(msg, &len);

        flush_all();
        write_all(STDOUT_FILENO, text, len, "stdout");
        free(text);
}

/* FIONREAD on a pipe counts what is in it, whichever end asks. */
static void do_wait_drained(const char *path)
{
        int n = 1;

        flush_all();
        for (;;) {
                if (ioctl(STDOUT_FILENO, FIONREAD, &n) < 0)
                        die("--wait-drained: stdout is not a pipe: %s", strerror(errno));
                if (n == 0)
                        break;
                wait_event(now_ns(CLOCK_MONOTONIC) + 1000000LL, -1, true);
        }
        do_stamp(path);
}

static void do_wait_file(const char *path)
{
        char *dir = strdup(path), *slash;
        int ifd;

        if (!dir)
                die("out of memory");
        slash = strrchr(dir, '/');
        if (slash == dir)
                slash[1] = '\0';
        else if (slash)
                *slash = '\0';
        else
                strcpy(dir, ".");
        ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (ifd >= 0 && inotify_add_watch(ifd, dir, IN_CREATE | IN_MOVED_TO | IN_ATTRIB) < 0) {
                close(ifd);
                ifd = -1; /* the directory may appear later: poll */
        }
        while (access(path, F_OK) < 0) {
                char ev[4096];

                /* the inotify watch wakes us at once; the 100ms cap covers
                 * the directory that does not exist yet */
                wait_event(now_ns(CLOCK_MONOTONIC) + 100000000LL, ifd, true);
                while (ifd >= 0 && read(ifd, ev, sizeof(ev)) > 0)
                        ;
        }
        if (ifd >= 0)
                close(ifd);
        free(dir);
}

static void do_notify(const char *msg)
{
        const char *env = getenv("NOTIFY_SOCKET");
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        socklen_t salen;
        size_t len, o = 0;
        char *text;
        int fd;

        if (!env || !*env)
                die("--notify: NOTIFY_SOCKET is not set");
        len = strlen(env);
        if ((env[0] != '/' && env[0] != '@') || len >= sizeof(sa.sun_path))
                die("--notify: unsupported NOTIFY_SOCKET '%s'", env);
        memcpy(sa.sun_path, env, len);
        if (env[0] == '@')
                sa.sun_path[0] = '\0';
        salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (env[0] == '/'));

        text = unescape(msg, &o);

        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                die("socket: %s", strerror(errno));
        while (sendto(fd, text, o, MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0) {
                if (errno != EINTR)
                        die("--notify: sendto %s: %s", env, strerror(errno));
        }
        close(fd);
        free(text);
}

/* ---- listening ------------------------------------------------------------- */

/* The stamp of --listen-*: the times (taken before the bind), the port. */
static void write_listen_stamp(const char *path, long long mono, long long real, int port)
{
        char buf[128];
        int n = port >= 0 ? snprintf(buf, sizeof(buf), "%ld %lld %lld %d\n", (long)getpid(), mono, real, port)
                          : snprintf(buf, sizeof(buf), "%ld %lld %lld\n", (long)getpid(), mono, real);

        write_atomic(path, buf, (size_t)n);
}

static void do_listen_tcp(int port, const char *path)
{
        long long mono = now_ns(CLOCK_MONOTONIC), real = now_ns(CLOCK_REALTIME);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        int one = 1;

        if (listen_fd >= 0)
                die("--listen-tcp: a socket listens already");
        listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (listen_fd < 0)
                die("socket: %s", strerror(errno));
        if (setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            setsockopt(listen_fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
                die("setsockopt: %s", strerror(errno));
        if (bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                die("bind 127.0.0.1:%d: %s", port, strerror(errno));
        if (listen(listen_fd, SOMAXCONN) < 0)
                die("listen: %s", strerror(errno));
        if (getsockname(listen_fd, (struct sockaddr *)&sa, &len) < 0)
                die("getsockname: %s", strerror(errno));
        write_listen_stamp(path, mono, real, ntohs(sa.sin_port));
}

static void do_listen_unix(const char *sock, const char *path)
{
        long long mono = now_ns(CLOCK_MONOTONIC), real = now_ns(CLOCK_REALTIME);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        if (listen_fd >= 0)
                die("--listen-unix: a socket listens already");
        if (strlen(sock) >= sizeof(sa.sun_path))
                die("--listen-unix: path too long: %s", sock);
        strcpy(sa.sun_path, sock);
        listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (listen_fd < 0)
                die("socket: %s", strerror(errno));
        /* a socket file left by an earlier run is stale, as servers assume */
        if (unlink(sock) < 0 && errno != ENOENT)
                die("unlink %s: %s", sock, strerror(errno));
        if (bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                die("bind %s: %s", sock, strerror(errno));
        if (listen(listen_fd, SOMAXCONN) < 0)
                die("listen: %s", strerror(errno));
        listen_path = sock;
        write_listen_stamp(path, mono, real, -1);
}

static void do_listen_close(void)
{
        if (listen_fd < 0)
                die("--listen-close: no socket listens");
        if (listen_path && unlink(listen_path) < 0)
                die("unlink %s: %s", listen_path, strerror(errno));
        close(listen_fd);
        listen_fd = -1;
        listen_path = NULL;
}

/* The status --http-status-file names: 503 while the file does not exist. */
static int http_status(void)
{
        char buf[32];
        long long v;
        ssize_t n;
        int fd = open(http_status_file, O_RDONLY | O_CLOEXEC);

        if (fd < 0) {
                if (errno == ENOENT)
                        return 503;
                die("open %s: %s", http_status_file, strerror(errno));
        }
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n < 0)
                die("read %s: %s", http_status_file, strerror(errno));
        buf[n] = '\0';
        buf[strcspn(buf, " \n")] = '\0';
        if (!parse_ll(buf, 100, 999, &v))
                die("%s: '%s' is not an HTTP status", http_status_file, buf);
        return (int)v;
}

/* Reads an HTTP request head (up to the empty line, at most 8 KiB, for at
 * most 2 s: a client that sends nothing is dropped) and answers it. */
static void answer_http(int fd)
{
        char head[8192], resp[128];
        size_t used = 0;
        long long deadline = now_ns(CLOCK_MONOTONIC) + 2000000000LL;
        int status, n;

        while (used < sizeof(head) - 1) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                long long left = (deadline - now_ns(CLOCK_MONOTONIC)) / 1000000LL;
                ssize_t r;

                if (left <= 0)
                        return;
                if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
                        die("poll: %s", strerror(errno));
                r = read(fd, head + used, sizeof(head) - 1 - used);
                if (r < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                if (r <= 0)
                        return; /* gone before asking */
                used += (size_t)r;
                head[used] = '\0';
                if (strstr(head, "\r\n\r\n"))
                        break;
        }
        status = http_status();
        n = snprintf(resp, sizeof(resp), "HTTP/1.1 %d Test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status);
        /* the client may be gone (a probe that timed out): no SIGPIPE */
        (void)send(fd, resp, (size_t)n, MSG_NOSIGNAL);
}

/* A connection came in on the listening socket: answered and closed. */
static void serve_one(void)
{
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

        if (fd < 0) {
                if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                        return;
                die("accept: %s", strerror(errno));
        }
        if (http_status_file)
                answer_http(fd);
        close(fd);
}

static void write_pid_file(const char *path)
{
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

        write_atomic(path, buf, (size_t)n);
}

static void __attribute__((noreturn)) grandchild(const char *path, bool orphan, int sync_fd)
{
        char one = 1;

        /* our handlers make no sense here; --ignore dispositions stay */
        for (int sig = 1; sig < NSIG; sig++)
                if (sigismember(&handled, sig) == 1)
                        signal(sig, SIG_DFL);
        sigemptyset(&handled);
        sigemptyset(&delayed);
        pending_sig = 0;
        if (listen_fd >= 0) { /* the worker's socket is the worker's alone */
                close(listen_fd);
                listen_fd = -1;
        }
        if (!orphan && signal(SIGTERM, SIG_IGN) == SIG_ERR)
                die("signal: %s", strerror(errno));
        if (grandchild_devnull)
                devnull_output();
        write_pid_file(path);
        write_all(sync_fd, &one, 1, "sync pipe");
        close(sync_fd);
        if (orphan)
                _exit(0);
        for (;;)
                pause();
}

static void do_fork_grandchild(const char *path, bool orphan)
{
        int p[2], status;
        pid_t mid;
        char c;
        ssize_t n;

        flush_all(); /* or the children would print our buffers again */
        if (pipe2(p, O_CLOEXEC) < 0)
                die("pipe: %s", strerror(errno));
        mid = fork();
        if (mid < 0)
                die("fork: %s", strerror(errno));
        if (mid == 0) {
                pid_t gc;

                close(p[0]);
                gc = fork();
                if (gc < 0)
                        die("fork: %s", strerror(errno));
                if (gc == 0)
                        grandchild(path, orphan, p[1]);
                _exit(0);
        }
        close(p[1]);
        while (waitpid(mid, &status, 0) < 0)
                if (errno != EINTR)
                        die("waitpid: %s", strerror(errno));
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                die("the intermediate child failed (status 0x%x)", (unsigned)status);
        /* go on once the grandchild has written its pid file */
        while ((n = read(p[0], &c, 1)) < 0 && errno == EINTR)
                ;
        if (n != 1)
                die("the grandchild died before writing %s", path);
        close(p[0]);
}

static void do_handler(int sig, int code, long long ms, bool delayed_exit)
{
        if (sig == SIGKILL || sig == SIGSTOP)
                die("SIG%s cannot be caught", signame(sig));
        handler_code[sig] = code;
        delay_ms[sig] = ms;
        snprintf(handler_msg[sig], sizeof(handler_msg[sig]), "testworker[%ld]: got SIG%s, exiting %d\n",
                 (long)getpid(), signame(sig), code);
        sigaddset(&handled, sig);
        if (delayed_exit)
                sigaddset(&delayed, sig);
        else
                sigdelset(&delayed, sig);
        set_disposition(sig, delayed_exit ? on_signal_delayed : on_signal_exit);
}

static void do_plain_disposition(int sig, void (*fn)(int))
{
        if (sig == SIGKILL || sig == SIGSTOP)
                die("the disposition of SIG%s cannot be changed", signame(sig));
        sigdelset(&handled, sig);
        sigdelset(&delayed, sig);
        set_disposition(sig, fn);
}

/* The output actions; false for any other. */
static bool run_output(const struct action *a)
{
        switch (a->act) {
        case A_PRINT:
                do_print(stdout, a->n[0]);
                return true;
        case A_PRINT_ERR:
                do_print(stderr, a->n[0]);
                return true;
        case A_PRINT_BYTES:
                do_print_bytes(a->n[0]);
                return true;
        case A_NO_NEWLINE:
                no_newline = true;
                return true;
        case A_LINES_FAST:
                do_lines_fast(1, a->n[0]);
                return true;
        case A_SEQ:
                do_lines_fast(a->n[0], a->n[1]);
                return true;
        case A_WRITE:
                do_write(a->s[0]);
                return true;
        case A_WAIT_DRAINED:
                do_wait_drained(a->s[0]);
                return true;
        case A_CLOSE_OUTPUT:
                devnull_output();
                return true;
        case A_SAY:
                if (printf("%s\n", a->s[0]) < 0)
                        die("stdout: %s", strerror(errno));
                flush_all();
                return true;
        default:
                return false;
        }
}

static void run(const struct action *a)
{
        if (run_output(a))
                return;
        switch (a->act) {
        case A_STAMP:
                do_stamp(a->s[0]);
                break;
        case A_APPEND:
                do_append(a->s[0], a->s[1]);
                break;
        case A_REPORT_FDS:
                do_report_fds(a->s[0]);
                break;
        case A_READ_STDIN:
                do_read_stdin(a->s[0]);
                break;
        case A_SLEEP_MS:
                wait_event(now_ns(CLOCK_MONOTONIC) + a->n[0] * 1000000LL, -1, true);
                break;
        case A_WAIT_FILE:
                do_wait_file(a->s[0]);
                break;
        case A_BLOCK:
                flush_all();
                wait_event(-1, -1, true); /* returns only by exiting */
                break;
        case A_EXIT:
                finish((int)a->n[0]);
                break;
        case A_NOTIFY:
                do_notify(a->s[0]);
                break;
        case A_IGNORE:
                do_plain_disposition((int)a->n[0], SIG_IGN);
                break;
        case A_DEFAULT:
                do_plain_disposition((int)a->n[0], SIG_DFL);
                break;
        case A_ON_SIGNAL:
                do_handler((int)a->n[0], (int)a->n[1], 0, false);
                break;
        case A_ON_SIGNAL_DELAY:
                do_handler((int)a->n[0], (int)a->n[2], a->n[1], true);
                break;
        case A_FORK_GRANDCHILD:
                do_fork_grandchild(a->s[0], false);
                break;
        case A_ORPHAN:
                do_fork_grandchild(a->s[0], true);
                break;
        case A_GRANDCHILD_DEVNULL:
                grandchild_devnull = true;
                break;
        case A_LISTEN_TCP:
                do_listen_tcp((int)a->n[0], a->s[1]);
                break;
        case A_LISTEN_UNIX:
                do_listen_unix(a->s[0], a->s[1]);
                break;
        case A_LISTEN_CLOSE:
                do_listen_close();
                break;
        case A_HTTP_STATUS_FILE:
                http_status_file = a->s[0];
                break;
        case A_SIGNAL_STAMP:
                signal_stamp_path = a->s[0];
                break;
        default:
                break;
        }
}

/* ---- command line ------------------------------------------------------------ */

static size_t parse_args(int argc, char **argv, struct action *acts)
{
        size_t n = 0;

        for (int i = 1; i < argc; i++) {
                const char *arg = argv[i];
                const struct opt *o = NULL;
                struct action *a;

                if (strcmp(arg, "--verbose") == 0) {
                        verbose = true;
                        continue;
                }
                for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
                        if (strcmp(arg, opts[k].name) == 0)
                                o = &opts[k];
                if (!o)
                        usage_error("unknown argument '%s'", arg);
                a = &acts[n++];
                memset(a, 0, sizeof(*a));
                a->act = o->act;
                for (size_t k = 0; o->args[k]; k++) {
                        const char *v;

                        if (i + 1 >= argc)
                                usage_error("%s needs %zu argument%s", arg, strlen(o->args),
                                            strlen(o->args) > 1 ? "s" : "");
                        v = argv[++i];
                        a->s[k] = v;
                        switch (o->args[k]) {
                        case 'n':
                                if (!parse_ll(v, 0, LLONG_MAX / 1000000000LL, &a->n[k]))
                                        usage_error("%s: '%s' is not a count", arg, v);
                                break;
                        case 'p':
                                if (!parse_ll(v, 0, 65535, &a->n[k]))
                                        usage_error("%s: '%s' is not a port (0-65535)", arg, v);
                                break;
                        case 'c':
                                if (!parse_ll(v, 0, 255, &a->n[k]))
                                        usage_error("%s: '%s' is not an exit code (0-255)", arg, v);
                                break;
                        case 'g':
                                a->n[k] = parse_signal(v);
                                if (a->n[k] < 0)
                                        usage_error("%s: unknown signal '%s'", arg, v);
                                if (a->n[k] == SIGKILL || a->n[k] == SIGSTOP)
                                        usage_error("%s: the disposition of SIG%s cannot be changed",
                                                    arg, signame((int)a->n[k]));
                                break;
                        default:
                                break;
                        }
                }
        }
        return n;
}

/* Static, so that a sanitizer's leak check at an exit() from deep inside an
 * action still sees it referenced. */
static struct action *acts;

int main(int argc, char **argv)
{
        size_t n;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
                        fputs(usage_text, stdout);
                        return fflush(stdout) == EOF ? EXIT_FAILED : 0;
                }
        }
        if (argc < 2)
                usage_error("no action given");
        acts = calloc((size_t)argc, sizeof(*acts));
        if (!acts)
                die("out of memory");
        sigemptyset(&handled);
        sigemptyset(&delayed);
        for (int s = 0; s < NSIG; s++)
                handler_code[s] = 0;
        n = parse_args(argc, argv, acts);
        for (size_t i = 0; i < n; i++) {
                check_pending();
                run(&acts[i]);
        }
        check_pending();
        finish(0);
        return 0;
}
