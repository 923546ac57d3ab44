/* harness.c - helpers for graced's integration tests (see harness.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "harness.h"

#define PFX "harness: "

/* Safety net of the event-driven waits, and the step of those that have no
 * event to wait for. */
#define WAIT_CAP_MS 50
#define POLL_STEP_MS 2
/* How long a SIGKILLed child may take to be reaped. */
#define KILL_REAP_MS 10000

/* ---- memory --------------------------------------------------------------------- */

static void *oom(void *p)
{
        if (!p) {
                fputs(PFX "out of memory\n", stderr);
                abort();
        }
        return p;
}

static void *xmalloc(size_t n) { return oom(malloc(n ? n : 1)); }
static void *xrealloc(void *p, size_t n) { return oom(realloc(p, n ? n : 1)); }
static char *xstrdup(const char *s) { return oom(strdup(s)); }
static char *xstrndup(const char *s, size_t n) { return oom(strndup(s, n)); }

static char *H_PRINTF(1, 2) xasprintf(const char *fmt, ...)
{
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                oom(NULL);
        return s;
}

/* Makes room in the array v (of cap elements) for index n. */
#define GROW(v, cap, n)                                                  \
        do {                                                             \
                if ((n) >= (cap)) {                                      \
                        while ((n) >= (cap))                             \
                                (cap) = (cap) ? (cap) * 2 : 8;           \
                        (v) = xrealloc((v), (cap) * sizeof(*(v)));       \
                }                                                        \
        } while (0)

/* ---- environment -------------------------------------------------------------- */

const char *h_env_path(const char *var)
{
        const char *v = getenv(var);

        if (!v || !*v) {
                fprintf(stderr, PFX "$%s is not set: run the tests through 'make check' "
                                "or export it (see Makefile.am, AM_TESTS_ENVIRONMENT)\n", var);
                abort();
        }
        return v;
}

const char *h_graced(void) { return h_env_path("GRACED_BIN"); }
const char *h_testworker(void) { return h_env_path("GRACED_TESTWORKER"); }
const char *h_data(void) { return h_env_path("GRACED_TEST_DATA"); }

const char *h_gracectl(void)
{
        static char *derived;
        const char *v = getenv("GRACECTL_BIN"), *bin, *slash;

        if (v && *v)
                return v;
        if (!derived) {
                /* the sibling of graced, as both are built in daemon/ */
                bin = h_graced();
                slash = strrchr(bin, '/');
                derived = slash ? xasprintf("%.*s/gracectl", (int)(slash - bin), bin) : xstrdup("gracectl");
        }
        return derived;
}

/* ---- time --------------------------------------------------------------------------- */

long long h_now_ns(void)
{
        struct timespec ts;

        if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
                abort(); /* cannot fail */
        return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

long long h_ms_since(long long start_ns) { return (h_now_ns() - start_ns) / 1000000LL; }

static long long deadline_ns(int timeout_ms) { return h_now_ns() + (long long)(timeout_ms > 0 ? timeout_ms : 0) * 1000000LL; }

/* Milliseconds left until deadline, rounded up, at most cap; 0 when past. */
static int left_ms(long long deadline, int cap)
{
        long long left = deadline - h_now_ns();

        if (left <= 0)
                return 0;
        left = (left + 999999LL) / 1000000LL;
        return left > cap ? cap : (int)left;
}

void h_sleep_ms(int ms)
{
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

        if (ms <= 0)
                return;
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* ---- what the harness started (for the exit handler) ----------------------------------- */

/* Every record has the pid of the process that made it: after a fork (Check
 * runs each test in a child) only the owner acts on it. */
struct child {
        pid_t pid;
        pid_t owner;
};

struct dirrec {
        char *path;
        char *log; /* graced's log in it, shown when the test ends without gh_cleanup */
        pid_t owner;
};

static struct child *children;
static size_t n_children, cap_children;
static struct dirrec *dirs;
static size_t n_dirs, cap_dirs;

static void at_exit(void);
static char *base_dir;

static void ensure_atexit(void)
{
        static bool done;

        if (!done && atexit(at_exit) == 0)
                done = true;
}

static void child_add(pid_t pid)
{
        ensure_atexit();
        GROW(children, cap_children, n_children);
        children[n_children++] = (struct child){ .pid = pid, .owner = getpid() };
}

static bool child_known(pid_t pid)
{
        pid_t me = getpid();

        for (size_t i = 0; i < n_children; i++)
                if (children[i].pid == pid && children[i].owner == me)
                        return true;
        return false;
}

static void child_del(pid_t pid)
{
        pid_t me = getpid();

        for (size_t i = 0; i < n_children; i++) {
                if (children[i].pid == pid && children[i].owner == me) {
                        children[i] = children[--n_children];
                        return;
                }
        }
}

static struct dirrec *dir_find(const char *path)
{
        pid_t me = getpid();

        for (size_t i = 0; i < n_dirs; i++)
                if (dirs[i].owner == me && strcmp(dirs[i].path, path) == 0)
                        return &dirs[i];
        return NULL;
}

static void dir_add(const char *path)
{
        ensure_atexit();
        GROW(dirs, cap_dirs, n_dirs);
        dirs[n_dirs++] = (struct dirrec){ .path = xstrdup(path), .owner = getpid() };
}

static void dir_del(const char *path)
{
        struct dirrec *d = dir_find(path);

        if (!d)
                return;
        free(d->path);
        free(d->log);
        *d = dirs[--n_dirs];
}

static bool keep_tests(void)
{
        const char *v = getenv("GRACED_KEEP_TEST");

        return v && *v;
}

/* ---- waiting for a child --------------------------------------------------------------- */

static int pidfd_open_(pid_t pid)
{
#ifdef SYS_pidfd_open
        static bool missing; /* ENOSYS: old kernel, or valgrind < 3.20 */
        int fd;

        if (missing) {
                errno = ENOSYS;
                return -1;
        }
        fd = (int)syscall(SYS_pidfd_open, pid, 0); /* pidfds are always close-on-exec */
        if (fd < 0 && errno == ENOSYS)
                missing = true;
        return fd;
#else
        (void)pid;
        errno = ENOSYS;
        return -1;
#endif
}

/* Waits for our child pid: 1 when reaped (*status set), 0 on timeout, -1 on
 * an error (message printed). Sleeps on a pidfd when the kernel has them. */
static int reap_bounded(pid_t pid, int timeout_ms, int *status)
{
        long long deadline = deadline_ns(timeout_ms);
        int pfd = pidfd_open_(pid), ret;

        for (;;) {
                pid_t r = waitpid(pid, status, WNOHANG);
                int ms;

                if (r == pid) {
                        ret = 1;
                        break;
                }
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        fprintf(stderr, PFX "waitpid %ld: %s\n", (long)pid, strerror(errno));
                        ret = -1;
                        break;
                }
                ms = left_ms(deadline, pfd >= 0 ? 1000 : POLL_STEP_MS);
                if (ms == 0) {
                        ret = 0;
                        break;
                }
                if (pfd >= 0) {
                        struct pollfd p = { .fd = pfd, .events = POLLIN };

                        if (poll(&p, 1, ms) < 0 && errno != EINTR) {
                                close(pfd);
                                pfd = -1;
                        }
                } else {
                        h_sleep_ms(ms);
                }
        }
        if (pfd >= 0)
                close(pfd);
        return ret;
}

/* SIGKILLs the process group we created for pid (valid: pid is not reaped
 * yet, so no other group can have its id) and reaps pid. */
static int kill_group_and_reap(pid_t pid, int *status)
{
        int st, r;

        if (kill(-pid, SIGKILL) < 0 && errno != ESRCH)
                fprintf(stderr, PFX "kill -%ld: %s\n", (long)pid, strerror(errno));
        r = reap_bounded(pid, KILL_REAP_MS, &st);
        if (r == 0)
                fprintf(stderr, PFX "%ld was not reaped %d ms after SIGKILL\n", (long)pid, KILL_REAP_MS);
        if (r == 1) {
                child_del(pid);
                if (status)
                        *status = st;
        }
        return r;
}

/* ---- cleaning up after tests ---------------------------------------------------------------- */

/* h_runner_init's process; base_dir (above) is its directory, the parent
 * of every h_tmpdir, also in the forked tests. */
static pid_t runner_pid;

/* Kills what this process started and still runs, reaps the orphans, shows
 * the end of the logs of graced runs that were not cleaned up and removes
 * (or keeps) this process' temp dirs. */
static void cleanup_all(void)
{
        pid_t me = getpid();
        int on = 0;

        for (size_t i = 0; i < n_children;) {
                if (children[i].owner != me) {
                        i++;
                        continue;
                }
                fprintf(stderr, PFX "process %ld is still running: killing its group\n", (long)children[i].pid);
                if (kill_group_and_reap(children[i].pid, NULL) != 1)
                        children[i] = children[--n_children]; /* give up on it */
        }
        if (prctl(PR_GET_CHILD_SUBREAPER, &on) == 0 && on)
                h_reap_orphans();
        for (size_t i = 0; i < n_dirs; i++) {
                if (dirs[i].owner == me && dirs[i].log && !keep_tests()) {
                        fprintf(stderr, PFX "a test ended without gh_cleanup (it failed?); end of %s:\n",
                                dirs[i].log);
                        h_dump_file(dirs[i].log, 40);
                }
        }
        for (;;) {
                size_t i;

                for (i = 0; i < n_dirs && dirs[i].owner != me; i++)
                        ;
                if (i == n_dirs)
                        break;
                if (keep_tests()) {
                        fprintf(stderr, PFX "kept %s\n", dirs[i].path);
                        dir_del(dirs[i].path);
                } else {
                        h_rmrf(dirs[i].path); /* drops the record */
                }
        }
}

static void at_exit(void)
{
        int saved = errno;

        cleanup_all();
        if (base_dir && runner_pid == getpid())
                h_runner_done();
        errno = saved;
}

int h_runner_init(void)
{
        const char *tmp = getenv("TMPDIR");
        char *t;

        if (base_dir && runner_pid == getpid())
                return 0;
        /* a forked test may become a runner of its own */
        free(base_dir);
        base_dir = NULL;
        if (h_subreaper() < 0)
                return -1;
        t = xasprintf("%s/graced-tests.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(t)) {
                fprintf(stderr, PFX "mkdtemp %s: %s\n", t, strerror(errno));
                free(t);
                return -1;
        }
        base_dir = t;
        runner_pid = getpid();
        ensure_atexit();
        return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void h_runner_sweep(void)
{
        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        DIR *d;

        if (!base_dir || runner_pid != getpid())
                return;
        cleanup_all();
        if (keep_tests())
                return;
        /* what tests that died without cleaning up left behind */
        d = opendir(base_dir);
        if (!d)
                return;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                GROW(names, cap, n);
                names[n++] = xstrdup(de->d_name);
        }
        closedir(d);
        if (n)
                qsort(names, n, sizeof(*names), cmp_str);
        for (size_t i = 0; i < n; i++) {
                char *path = h_path(base_dir, names[i]), *log = h_path(path, "graced.log");

                if (access(log, F_OK) == 0) {
                        fprintf(stderr, PFX "a test left %s behind (it failed?); end of its graced.log:\n", path);
                        h_dump_file(log, 40);
                }
                h_rmrf(path);
                free(log);
                free(path);
                free(names[i]);
        }
        free(names);
}

void h_runner_done(void)
{
        if (!base_dir || runner_pid != getpid())
                return;
        h_runner_sweep();
        if (keep_tests())
                fprintf(stderr, PFX "kept %s\n", base_dir);
        else
                h_rmrf(base_dir);
        free(base_dir);
        base_dir = NULL;
        runner_pid = 0;
}

TCase *h_tcase(Suite *s, const char *name, int timeout_s)
{
        TCase *tc = tcase_create(name);

        tcase_add_unchecked_fixture(tc, NULL, h_runner_sweep);
        tcase_set_timeout(tc, timeout_s);
        suite_add_tcase(s, tc);
        return tc;
}

int h_run_suite(Suite *s)
{
        SRunner *sr;
        int failed;

        if (h_runner_init() < 0)
                return EXIT_FAILURE;
        sr = srunner_create(s);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        h_runner_done();
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ---- files ----------------------------------------------------------------------------------- */

char *h_path(const char *dir, const char *name) { return xasprintf("%s/%s", dir, name); }

char *h_tmpdir(void)
{
        const char *base = base_dir ? base_dir : getenv("TMPDIR");
        char *t;

        if (!base || !*base)
                base = "/tmp";
        t = xasprintf("%s/graced-test.XXXXXX", base);
        if (!mkdtemp(t)) {
                fprintf(stderr, PFX "mkdtemp %s: %s\n", t, strerror(errno));
                free(t);
                return NULL;
        }
        dir_add(t);
        return t;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)ftw;
        if ((flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT)
                fprintf(stderr, PFX "remove %s: %s\n", path, strerror(errno));
        return 0;
}

void h_rmrf(const char *dir)
{
        if (!dir || !*dir || strcmp(dir, "/") == 0)
                return;
        if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
                fprintf(stderr, PFX "nftw %s: %s\n", dir, strerror(errno));
        dir_del(dir);
}

static int write_all(int fd, const char *buf, size_t len)
{
        while (len > 0) {
                ssize_t n = write(fd, buf, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

static char *H_PRINTF(3, 0) vwrite_file(const char *dir, const char *name, const char *fmt, va_list ap)
{
        char *path = dir ? h_path(dir, name) : xstrdup(name), *tmp = xasprintf("%s.tmp", path), *text;
        int len = vasprintf(&text, fmt, ap), fd, err;

        if (len < 0)
                oom(NULL);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write_all(fd, text, (size_t)len) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
                err = errno;
                fprintf(stderr, PFX "write %s: %s\n", path, strerror(err));
                unlink(tmp);
                free(path);
                path = NULL;
                errno = err;
        }
        free(tmp);
        free(text);
        return path;
}

char *h_write_file(const char *dir, const char *name, const char *fmt, ...)
{
        va_list ap;
        char *p;

        va_start(ap, fmt);
        p = vwrite_file(dir, name, fmt, ap);
        va_end(ap);
        return p;
}

static char *read_fd(int fd, size_t *len)
{
        size_t cap = 4096, n = 0;
        char *buf = xmalloc(cap);

        for (;;) {
                ssize_t r;

                if (cap - n < 2048)
                        buf = xrealloc(buf, cap *= 2);
                r = read(fd, buf + n, cap - n - 1);
                if (r < 0) {
                        int err = errno;

                        if (err == EINTR)
                                continue;
                        free(buf);
                        errno = err;
                        return NULL;
                }
                if (r == 0)
                        break;
                n += (size_t)r;
        }
        buf[n] = '\0';
        if (len)
                *len = n;
        return buf;
}

char *h_read_file_len(const char *path, size_t *len)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC), err;
        char *buf;

        if (fd < 0)
                return NULL;
        buf = read_fd(fd, len);
        err = errno;
        close(fd);
        errno = err;
        return buf;
}

char *h_read_file(const char *path) { return h_read_file_len(path, NULL); }

/* Waits until cond(arg) holds, waking up on inotify events in the directory
 * of path (and every WAIT_CAP_MS anyway). */
static bool wait_cond(const char *path, int timeout_ms, bool (*cond)(void *), void *arg)
{
        long long deadline = deadline_ns(timeout_ms);
        char *dir = xstrdup(path), *slash = strrchr(dir, '/');
        int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        bool ok;

        if (slash == dir)
                slash[1] = '\0';
        else if (slash)
                *slash = '\0';
        else
                strcpy(dir, ".");
        /* the watch comes before the first check: nothing slips in between */
        if (ifd >= 0 && inotify_add_watch(ifd, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE |
                                                            IN_ATTRIB | IN_DELETE) < 0) {
                close(ifd);
                ifd = -1;
        }
        for (;;) {
                int ms;

                if ((ok = cond(arg)))
                        break;
                ms = left_ms(deadline, ifd >= 0 ? WAIT_CAP_MS : POLL_STEP_MS);
                if (ms == 0)
                        break;
                if (ifd >= 0) {
                        struct pollfd p = { .fd = ifd, .events = POLLIN };
                        char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

                        if (poll(&p, 1, ms) > 0)
                                while (read(ifd, ev, sizeof(ev)) > 0)
                                        ;
                } else {
                        h_sleep_ms(ms);
                }
        }
        if (ifd >= 0)
                close(ifd);
        free(dir);
        return ok;
}

static bool file_nonempty(void *arg)
{
        struct stat st;

        return stat(arg, &st) == 0 && st.st_size > 0;
}

bool h_wait_file(const char *path, int timeout_ms)
{
        if (wait_cond(path, timeout_ms, file_nonempty, (void *)path))
                return true;
        fprintf(stderr, PFX "%s did not appear (non-empty) within %d ms\n", path, timeout_ms);
        return false;
}

/* Counts the lines containing substr, reading only what was appended since
 * the last call: waits on a growing log stay linear. */
struct scan {
        const char *path, *substr;
        int want;
        off_t off;     /* bytes read so far */
        int count;     /* complete lines that match */
        char *tail;    /* the incomplete last line */
        size_t tail_len, tail_cap;
        bool readable; /* the file could be opened */
};

static bool line_has(const char *line, size_t len, const char *substr)
{
        return memmem(line, len, substr, strlen(substr)) != NULL;
}

static void scan_more(struct scan *s)
{
        int fd = open(s->path, O_RDONLY | O_CLOEXEC);
        char buf[65536];

        if (fd < 0)
                return;
        s->readable = true;
        for (;;) {
                ssize_t n = pread(fd, buf, sizeof(buf), s->off);
                char *p = buf, *nl;

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                s->off += n;
                while ((nl = memchr(p, '\n', (size_t)(buf + n - p)))) {
                        size_t len = (size_t)(nl - p);

                        if (s->tail_len) {
                                GROW(s->tail, s->tail_cap, s->tail_len + len);
                                memcpy(s->tail + s->tail_len, p, len);
                                s->tail_len += len;
                                s->count += line_has(s->tail, s->tail_len, s->substr);
                                s->tail_len = 0;
                        } else {
                                s->count += line_has(p, len, s->substr);
                        }
                        p = nl + 1;
                }
                if (p < buf + n) {
                        size_t len = (size_t)(buf + n - p);

                        GROW(s->tail, s->tail_cap, s->tail_len + len);
                        memcpy(s->tail + s->tail_len, p, len);
                        s->tail_len += len;
                }
        }
        close(fd);
}

/* Matching lines so far, counting the incomplete last one. */
static int scan_count(struct scan *s) { return s->count + (s->tail_len && line_has(s->tail, s->tail_len, s->substr)); }

static bool scan_cond(void *arg)
{
        struct scan *s = arg;

        scan_more(s);
        return scan_count(s) >= s->want;
}

int h_count_lines(const char *path, const char *substr)
{
        struct scan s = { .path = path, .substr = substr };
        int n;

        scan_more(&s);
        n = s.readable ? scan_count(&s) : -1;
        free(s.tail);
        return n;
}

static bool wait_lines(const char *path, const char *substr, int n, int timeout_ms, int *found)
{
        struct scan s = { .path = path, .substr = substr, .want = n };
        bool ok = wait_cond(path, timeout_ms, scan_cond, &s);

        *found = scan_count(&s);
        free(s.tail);
        return ok;
}

bool h_wait_lines(const char *path, const char *substr, int n, int timeout_ms)
{
        int found;

        if (wait_lines(path, substr, n, timeout_ms, &found))
                return true;
        fprintf(stderr, PFX "%s: %d line(s) with '%s' after %d ms, wanted %d\n", path, found, substr,
                timeout_ms, n);
        return false;
}

int h_find_line(const char *path, const char *substr)
{
        size_t len;
        char *text = h_read_file_len(path, &len), *p, *end;
        int line = 0, found = -1;

        if (!text)
                return -1;
        for (p = text, end = text + len; p < end; line++) {
                char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

                if (line_has(p, l, substr)) {
                        found = line;
                        break;
                }
                p += l + 1;
        }
        free(text);
        return found;
}

void h_dump_file(const char *path, int max_lines)
{
        size_t len;
        char *text = h_read_file_len(path, &len), *start;
        int lines = 0;

        if (!text) {
                fprintf(stderr, PFX "  (cannot read %s: %s)\n", path, strerror(errno));
                return;
        }
        /* back from the end over max_lines newlines (a last newline ends a line) */
        start = text + len;
        if (start > text && start[-1] == '\n')
                start--;
        while (start > text) {
                if (start[-1] == '\n' && ++lines == max_lines)
                        break;
                start--;
        }
        if (!len)
                fprintf(stderr, PFX "  (%s is empty)\n", path);
        while (start < text + len) {
                char *nl = memchr(start, '\n', (size_t)(text + len - start));
                size_t l = nl ? (size_t)(nl - start) : (size_t)(text + len - start);

                fprintf(stderr, PFX "  | %.*s\n", (int)l, start);
                start += l + 1;
        }
        free(text);
}

/* ---- stamps and --report-fds ----------------------------------------------------------- */

bool h_read_stamp(const char *path, pid_t *pid, long long *mono_ns, long long *real_ns)
{
        char *text = h_read_file(path);
        long p;
        long long m, r;
        bool ok;

        if (!text)
                return false;
        ok = sscanf(text, "%ld %lld %lld", &p, &m, &r) == 3 && p > 0;
        free(text);
        if (ok) {
                if (pid)
                        *pid = (pid_t)p;
                if (mono_ns)
                        *mono_ns = m;
                if (real_ns)
                        *real_ns = r;
        }
        return ok;
}

pid_t h_read_stamp_pid(const char *path)
{
        char *text = h_read_file(path);
        long p;
        bool ok;

        if (!text)
                return -1;
        ok = sscanf(text, "%ld", &p) == 1 && p > 0;
        free(text);
        return ok ? (pid_t)p : -1;
}

long long h_read_stamp_mono_ns(const char *path)
{
        long long m;

        return h_read_stamp(path, NULL, &m, NULL) ? m : -1;
}

/* The line of text that starts with prefix (of length len), or NULL. */
static const char *find_prefixed_line(const char *text, const char *prefix, size_t len)
{
        for (const char *p = text; p && *p;) {
                if (strncmp(p, prefix, len) == 0)
                        return p;
                p = strchr(p, '\n');
                if (p)
                        p++;
        }
        return NULL;
}

static char *rest_of_line(const char *p) { return xstrndup(p, strcspn(p, "\n")); }

char *h_field(const char *text, const char *key)
{
        char *prefix = xasprintf("%s ", key);
        const char *line = text ? find_prefixed_line(text, prefix, strlen(prefix)) : NULL;
        char *v = line ? rest_of_line(line + strlen(prefix)) : NULL;

        free(prefix);
        return v;
}

char *h_field_env(const char *text, const char *name)
{
        char *prefix = xasprintf("env %s=", name);
        const char *line = text ? find_prefixed_line(text, prefix, strlen(prefix)) : NULL;
        char *v = line ? rest_of_line(line + strlen(prefix)) : NULL;

        free(prefix);
        return v;
}

int h_field_count(const char *text, const char *key)
{
        size_t len = strlen(key);
        int n = 0;

        for (const char *p = text; p && *p;) {
                if (strncmp(p, key, len) == 0 && p[len] == ' ')
                        n++;
                p = strchr(p, '\n');
                if (p)
                        p++;
        }
        return n;
}

/* ---- processes -------------------------------------------------------------------------- */

static bool proc_stat(pid_t pid, char *state, pid_t *ppid, pid_t *pgrp)
{
        char path[64], buf[1024], *p;
        int fd, n;
        int pp, pg;
        char st;

        snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        do
                n = (int)read(fd, buf, sizeof(buf) - 1);
        while (n < 0 && errno == EINTR);
        close(fd);
        if (n <= 0)
                return false;
        buf[n] = '\0';
        p = strrchr(buf, ')'); /* comm may hold anything, even ")" */
        if (!p || sscanf(p + 1, " %c %d %d", &st, &pp, &pg) != 3)
                return false;
        if (state)
                *state = st;
        if (ppid)
                *ppid = pp;
        if (pgrp)
                *pgrp = pg;
        return true;
}

bool h_pid_exists(pid_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

bool h_pid_alive(pid_t pid)
{
        char st;

        return h_pid_exists(pid) && proc_stat(pid, &st, NULL, NULL) && st != 'Z' && st != 'X';
}

pid_t h_pid_ppid(pid_t pid)
{
        pid_t pp;

        return pid > 0 && proc_stat(pid, NULL, &pp, NULL) ? pp : -1;
}

pid_t h_pid_pgid(pid_t pid)
{
        pid_t pg;

        return pid > 0 && proc_stat(pid, NULL, NULL, &pg) ? pg : -1;
}

bool h_wait_pid_gone(pid_t pid, int timeout_ms)
{
        long long deadline = deadline_ns(timeout_ms);
        int pfd = pid > 0 ? pidfd_open_(pid) : -1;
        bool gone;

        /* a pidfd becomes readable when the process exits (zombie or not) */
        while (!(gone = !h_pid_alive(pid))) {
                int ms = left_ms(deadline, pfd >= 0 ? WAIT_CAP_MS : POLL_STEP_MS);
                struct pollfd p = { .fd = pfd, .events = POLLIN };

                if (ms == 0)
                        break;
                if (pfd >= 0 && poll(&p, 1, ms) > 0) {
                        close(pfd); /* readable for good: step on */
                        pfd = -1;
                } else if (pfd < 0) {
                        h_sleep_ms(ms);
                }
        }
        if (pfd >= 0)
                close(pfd);
        if (!gone)
                fprintf(stderr, PFX "process %ld still alive after %d ms\n", (long)pid, timeout_ms);
        return gone;
}

bool h_wait_pid_reaped(pid_t pid, int timeout_ms)
{
        long long deadline = deadline_ns(timeout_ms);
        int ms;

        while (h_pid_exists(pid)) {
                /* nothing to wait on for another parent's wait(): poll */
                ms = left_ms(deadline, POLL_STEP_MS);
                if (ms == 0) {
                        fprintf(stderr, PFX "process %ld not reaped after %d ms\n", (long)pid, timeout_ms);
                        return false;
                }
                h_sleep_ms(ms);
        }
        return true;
}

/* ---- starting processes --------------------------------------------------------------------- */

static bool env_match(const char *entry, const char *name, size_t len)
{
        return strncmp(entry, name, len) == 0 && entry[len] == '=';
}

static bool env_stripped(const char *entry)
{
        static const char *const exact[] = { "NOTIFY_SOCKET", "JOURNAL_STREAM" };
        static const char *const prefix[] = { "LISTEN_", "WATCHDOG_" };

        for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
                if (env_match(entry, exact[i], strlen(exact[i])))
                        return true;
        for (size_t i = 0; i < sizeof(prefix) / sizeof(prefix[0]); i++)
                if (strncmp(entry, prefix[i], strlen(prefix[i])) == 0)
                        return true;
        return false;
}

static void env_apply(char ***env, size_t *n, size_t *cap, const char *item)
{
        size_t len = strcspn(item, "=");

        for (size_t i = 0; i < *n;) {
                if (env_match((*env)[i], item, len)) {
                        memmove(&(*env)[i], &(*env)[i + 1], (*n - i) * sizeof(char *));
                        (*n)--;
                } else {
                        i++;
                }
        }
        if (item[len] == '=') {
                GROW(*env, *cap, *n + 1);
                (*env)[(*n)++] = (char *)item;
                (*env)[*n] = NULL;
        }
}

/* environ minus the systemd variables, plus pre, plus extra; the strings are
 * borrowed, only the vector is to be freed. */
static char **build_env(const char *const *pre, const char *const *extra)
{
        size_t n = 0, cap = 16;
        char **env = xmalloc(cap * sizeof(char *));

        env[0] = NULL;
        for (char **e = environ; e && *e; e++) {
                if (env_stripped(*e))
                        continue;
                GROW(env, cap, n + 1);
                env[n++] = *e;
                env[n] = NULL;
        }
        for (const char *const *e = pre; e && *e; e++)
                env_apply(&env, &n, &cap, *e);
        for (const char *const *e = extra; e && *e; e++)
                env_apply(&env, &n, &cap, *e);
        return env;
}

/* fd moved to >= 3 (a test may run with 0, 1 or 2 closed), close-on-exec. */
static int fd_above_stdio(int fd)
{
        int nfd;

        if (fd < 0 || fd > 2)
                return fd;
        nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        close(fd);
        return nfd;
}

static void close_from(unsigned lo, unsigned hi)
{
        if (lo > hi)
                return;
        if (close_range(lo, hi, 0) == 0)
                return;
        /* no close_range: the slow way */
        long max = sysconf(_SC_OPEN_MAX);

        if (max < 0 || max > 65536)
                max = 65536;
        for (long fd = lo; fd <= (long)hi && fd < max; fd++)
                close((int)fd);
}

static void __attribute__((noreturn)) child_exec(char *const *argv, char *const *envp, int in_fd, int out_fd,
                                                 int err_fd, pid_t parent)
{
        /* the kernel's struct: glibc's sigaction() refuses its reserved 32 and 33,
         * which may arrive ignored from whoever started the test */
        struct {
                void (*handler)(int);
                unsigned long flags;
                void (*restorer)(void);
                uint64_t mask;
        } ksa = { .handler = SIG_DFL };
        sigset_t none;
        int err;

        /* async-signal-safe calls only from here on */
        if (setpgid(0, 0) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                goto fail;
        if (getppid() != parent)
                _exit(127); /* the test is gone already */
        if (dup2(in_fd, STDIN_FILENO) < 0)
                goto fail;
        if (out_fd >= 0 && (dup2(out_fd, STDOUT_FILENO) < 0 || dup2(out_fd, STDERR_FILENO) < 0))
                goto fail;
        close_from(3, (unsigned)err_fd - 1);
        close_from((unsigned)err_fd + 1, ~0U);
        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void)syscall(SYS_rt_sigaction, sig, &ksa, NULL, sizeof ksa.mask);
        sigemptyset(&none);
        if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
                goto fail;
        execvpe(argv[0], argv, envp);
fail:
        err = errno;
        if (write(err_fd, &err, sizeof(err)) < 0) {
                /* nothing left to tell it with */
        }
        _exit(127);
}

/* Forks and execs argv with stdin /dev/null and stdout+stderr on out_fd (-1:
 * inherited); returns the pid once exec worked, else -1 with its errno. */
static pid_t spawn_fd(char *const *argv, char *const *envp, int out_fd)
{
        int in_fd = fd_above_stdio(open("/dev/null", O_RDONLY | O_CLOEXEC)), ep[2] = { -1, -1 };
        int err = 0, r;
        pid_t parent = getpid(), pid = -1;

        if (in_fd < 0 || pipe2(ep, O_CLOEXEC) < 0) {
                err = errno;
                goto out;
        }
        ep[0] = fd_above_stdio(ep[0]);
        ep[1] = fd_above_stdio(ep[1]);
        if (ep[0] < 0 || ep[1] < 0) {
                err = errno;
                goto out;
        }
        ensure_atexit();
        fflush(NULL); /* or the child could write our buffers out again */
        pid = fork();
        if (pid < 0) {
                err = errno;
                goto out;
        }
        if (pid == 0)
                child_exec(argv, envp, in_fd, out_fd, ep[1], parent);
        close(ep[1]);
        ep[1] = -1;
        /* EOF: exec worked (the pipe is close-on-exec); an int: its errno */
        do
                r = (int)read(ep[0], &err, sizeof(err));
        while (r < 0 && errno == EINTR);
        if (r == (int)sizeof(err)) {
                int st;

                while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                        ;
                pid = -1;
        } else {
                err = 0;
                child_add(pid);
        }
out:
        if (in_fd >= 0)
                close(in_fd);
        if (ep[0] >= 0)
                close(ep[0]);
        if (ep[1] >= 0)
                close(ep[1]);
        errno = err;
        return err ? -1 : pid;
}

static int open_out(const char *path)
{
        return fd_above_stdio(open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
}

pid_t h_spawn(const char *const *argv, const char *const *env, const char *out_path)
{
        char **envp;
        int out_fd = -1, err;
        pid_t pid;

        if (!argv || !argv[0]) {
                errno = EINVAL;
                return -1;
        }
        if (out_path && (out_fd = open_out(out_path)) < 0) {
                err = errno;
                fprintf(stderr, PFX "open %s: %s\n", out_path, strerror(err));
                errno = err;
                return -1;
        }
        envp = build_env(NULL, env);
        pid = spawn_fd((char *const *)argv, envp, out_fd);
        err = errno;
        if (pid < 0)
                fprintf(stderr, PFX "cannot start %s: %s\n", argv[0], strerror(err));
        free(envp);
        if (out_fd >= 0)
                close(out_fd);
        errno = err;
        return pid;
}

int h_wait_child(pid_t pid, int timeout_ms)
{
        int st, r;

        if (!child_known(pid)) {
                fprintf(stderr, PFX "h_wait_child: %ld is not a running child of the harness\n", (long)pid);
                errno = ECHILD;
                return -1;
        }
        r = reap_bounded(pid, timeout_ms, &st);
        if (r == 1) {
                child_del(pid);
                return st;
        }
        if (r == 0)
                fprintf(stderr, PFX "process %ld did not exit within %d ms: killing its group\n", (long)pid,
                        timeout_ms);
        kill_group_and_reap(pid, NULL);
        errno = ETIMEDOUT;
        return -1;
}

int h_run(const char *const *argv, const char *const *env, int timeout_ms, char **output)
{
        const char *base = getenv("TMPDIR");
        char *tmpl;
        int fd, st = -1, err;
        char **envp;
        pid_t pid;

        if (output)
                *output = NULL;
        if (!argv || !argv[0]) {
                errno = EINVAL;
                return -1;
        }
        tmpl = xasprintf("%s/graced-run.XXXXXX", base && *base ? base : "/tmp");
        fd = fd_above_stdio(mkostemp(tmpl, O_CLOEXEC));
        if (fd < 0) {
                err = errno;
                fprintf(stderr, PFX "mkostemp %s: %s\n", tmpl, strerror(err));
                free(tmpl);
                errno = err;
                return -1;
        }
        unlink(tmpl);
        free(tmpl);
        envp = build_env(NULL, env);
        pid = spawn_fd((char *const *)argv, envp, fd);
        err = errno;
        free(envp);
        if (pid < 0) {
                fprintf(stderr, PFX "cannot run %s: %s\n", argv[0], strerror(err));
                close(fd);
                errno = err;
                return -1;
        }
        st = h_wait_child(pid, timeout_ms);
        if (output && lseek(fd, 0, SEEK_SET) == 0)
                *output = read_fd(fd, NULL);
        close(fd);
        return st;
}

int h_exit_code(int status)
{
        if (status == -1)
                return -1;
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return -1;
}

int h_subreaper(void)
{
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
                fprintf(stderr, PFX "PR_SET_CHILD_SUBREAPER: %s\n", strerror(errno));
                return -1;
        }
        ensure_atexit();
        return 0;
}

/* The children of the calling process that the harness did not start. */
static size_t list_orphans(pid_t **ret)
{
        pid_t me = getpid(), *v = NULL;
        size_t n = 0, cap = 0;
        DIR *d = opendir("/proc");
        struct dirent *de;

        *ret = NULL;
        if (!d)
                return 0;
        while ((de = readdir(d))) {
                char *end;
                long pid = strtol(de->d_name, &end, 10);
                pid_t ppid;

                if (*end || pid <= 0 || pid == me)
                        continue;
                if (!proc_stat((pid_t)pid, NULL, &ppid, NULL) || ppid != me || child_known((pid_t)pid))
                        continue;
                GROW(v, cap, n);
                v[n++] = (pid_t)pid;
        }
        closedir(d);
        *ret = v;
        return n;
}

int h_reap_orphans(void)
{
        long long deadline = deadline_ns(KILL_REAP_MS);
        int total = 0;

        for (;;) {
                pid_t *v;
                size_t n = list_orphans(&v);

                for (size_t i = 0; i < n; i++) {
                        int st;

                        /* our child, not reaped: the pid cannot have been reused */
                        kill(v[i], SIGKILL);
                        if (reap_bounded(v[i], left_ms(deadline, KILL_REAP_MS), &st) == 1)
                                total++;
                }
                free(v);
                /* killing one re-parents its children to us: go round again */
                if (n == 0)
                        break;
                if (left_ms(deadline, 1) == 0) {
                        fprintf(stderr, PFX "orphans left after %d ms\n", KILL_REAP_MS);
                        return -1;
                }
        }
        return total;
}

/* ---- struct gh ------------------------------------------------------------------------------- */

int gh_init(struct gh *g)
{
        memset(g, 0, sizeof(*g));
        g->reap_orphans = true;
        g->dir = h_tmpdir();
        if (!g->dir)
                return -1;
        g->log_path = h_path(g->dir, "graced.log");
        g->report_path = h_path(g->dir, "report.json");
        g->ctl_path = h_path(g->dir, "control.sock");
        dir_find(g->dir)->log = xstrdup(g->log_path);
        return 0;
}

void *gh_keep(struct gh *g, void *p)
{
        if (!p)
                return NULL;
        GROW(g->kept_, g->cap_kept_, g->n_kept_);
        g->kept_[g->n_kept_++] = p;
        return p;
}

const char *gh_path(struct gh *g, const char *name) { return gh_keep(g, h_path(g->dir, name)); }

const char *gh_write_file(struct gh *g, const char *name, const char *fmt, ...)
{
        va_list ap;
        char *p;

        va_start(ap, fmt);
        p = vwrite_file(g->dir, name, fmt, ap);
        va_end(ap);
        return gh_keep(g, p);
}

const char *gh_vprintf(struct gh *g, const char *fmt, va_list ap)
{
        char *s;

        if (vasprintf(&s, fmt, ap) < 0)
                abort(); /* out of memory */
        return gh_keep(g, s);
}

const char *gh_printf(struct gh *g, const char *fmt, ...)
{
        va_list ap;
        const char *s;

        va_start(ap, fmt);
        s = gh_vprintf(g, fmt, ap);
        va_end(ap);
        return s;
}

int gh_start(struct gh *g, const char *conf_path, const char *const *extra_args, const char *const *extra_env)
{
        const char *wrapper = getenv("GRACED_WRAPPER");
        char *wcopy = NULL, *save = NULL, *word, *rundir, **envp;
        const char **argv;
        size_t n = 0, cap;
        int out_fd, err;
        pid_t pid;

        if (!g->dir && gh_init(g) < 0)
                return -1;
        if (g->running) {
                fprintf(stderr, PFX "gh_start: graced (pid %ld) is still running\n", (long)g->pid);
                errno = EBUSY;
                return -1;
        }
        if (g->reap_orphans && h_subreaper() < 0)
                return -1;

        cap = 16;
        for (const char *const *a = extra_args; a && *a; a++)
                cap++;
        if (wrapper)
                cap += strlen(wrapper);
        argv = xmalloc(cap * sizeof(char *));
        if (wrapper) {
                wcopy = xstrdup(wrapper);
                for (word = strtok_r(wcopy, " \t", &save); word; word = strtok_r(NULL, " \t", &save))
                        argv[n++] = word;
        }
        argv[n++] = h_graced();
        argv[n++] = "-c";
        argv[n++] = conf_path;
        argv[n++] = "--log-format=text";
        argv[n++] = "--color=never";
        argv[n++] = "--report";
        argv[n++] = g->report_path;
        for (const char *const *a = extra_args; a && *a; a++)
                argv[n++] = *a;
        argv[n] = NULL;

        rundir = xasprintf("RUNTIME_DIRECTORY=%s", g->dir);
        envp = build_env((const char *const[]){ rundir, NULL }, extra_env);

        if (unlink(g->report_path) < 0 && errno != ENOENT)
                fprintf(stderr, PFX "unlink %s: %s\n", g->report_path, strerror(errno));
        if (g->report_) {
                json_object_put(g->report_);
                g->report_ = NULL;
        }

        out_fd = open_out(g->log_path);
        if (out_fd < 0) {
                err = errno;
                fprintf(stderr, PFX "open %s: %s\n", g->log_path, strerror(err));
                pid = -1;
        } else {
                pid = spawn_fd((char *const *)argv, envp, out_fd);
                err = errno;
                if (pid < 0)
                        fprintf(stderr, PFX "cannot start %s: %s\n", argv[0], strerror(err));
                close(out_fd);
        }
        free(envp);
        free(rundir);
        free(argv);
        free(wcopy);
        if (pid < 0) {
                errno = err;
                return -1;
        }
        g->pid = pid;
        g->running = true;
        g->status = 0;
        return 0;
}

int gh_signal(struct gh *g, int sig)
{
        if (!g->running) {
                errno = ESRCH;
                return -1;
        }
        /* not reaped yet: g->pid is still graced, even as a zombie */
        if (kill(g->pid, sig) < 0) {
                fprintf(stderr, PFX "kill %ld: %s\n", (long)g->pid, strerror(errno));
                return -1;
        }
        return 0;
}

int gh_wait_exit(struct gh *g, int timeout_ms)
{
        int st, r;

        if (!g->pid) {
                errno = ECHILD;
                return -1;
        }
        if (!g->running)
                return g->status;
        r = reap_bounded(g->pid, timeout_ms, &st);
        if (r == 1) {
                child_del(g->pid);
                g->running = false;
                g->status = st;
                return st;
        }
        if (r == 0) {
                fprintf(stderr, PFX "graced (pid %ld) did not exit within %d ms: killing it; end of its log:\n",
                        (long)g->pid, timeout_ms);
                gh_dump_log(g, 30);
        }
        if (kill_group_and_reap(g->pid, &st) == 1) {
                g->running = false;
                g->status = st;
        }
        errno = ETIMEDOUT;
        return -1;
}

int gh_exit_code(struct gh *g, int timeout_ms) { return h_exit_code(gh_wait_exit(g, timeout_ms)); }

int gh_shutdown(struct gh *g, int timeout_ms)
{
        if (gh_signal(g, SIGTERM) < 0)
                return -1;
        return gh_exit_code(g, timeout_ms);
}

void gh_cleanup(struct gh *g)
{
        int on = 0;

        if (g->running)
                kill_group_and_reap(g->pid, NULL);
        if (g->reap_orphans && prctl(PR_GET_CHILD_SUBREAPER, &on) == 0 && on)
                h_reap_orphans();
        if (g->report_)
                json_object_put(g->report_);
        for (size_t i = 0; i < g->n_kept_; i++)
                free(g->kept_[i]);
        free(g->kept_);
        if (g->dir) {
                if (keep_tests()) {
                        fprintf(stderr, PFX "kept %s\n", g->dir);
                        dir_del(g->dir);
                } else {
                        h_rmrf(g->dir);
                }
        }
        free(g->dir);
        free(g->log_path);
        free(g->report_path);
        free(g->ctl_path);
        memset(g, 0, sizeof(*g));
}

/* ---- graced's log ------------------------------------------------------------------------------ */

bool h_wait_log_count(struct gh *g, const char *substr, int n, int timeout_ms)
{
        int found;

        if (wait_lines(g->log_path, substr, n, timeout_ms, &found))
                return true;
        fprintf(stderr, PFX "graced's log has %d line(s) with '%s' after %d ms, wanted %d; its end:\n", found,
                substr, timeout_ms, n);
        gh_dump_log(g, 30);
        return false;
}

bool h_wait_log(struct gh *g, const char *substr, int timeout_ms) { return h_wait_log_count(g, substr, 1, timeout_ms); }

int h_count_log(struct gh *g, const char *substr)
{
        int n = h_count_lines(g->log_path, substr);

        return n < 0 ? 0 : n; /* not started yet: nothing logged */
}

char *h_log_contents(struct gh *g)
{
        char *s = h_read_file(g->log_path);

        return s ? s : xstrdup("");
}

int h_log_line(struct gh *g, const char *substr) { return h_find_line(g->log_path, substr); }

void gh_dump_log(struct gh *g, int max_lines) { h_dump_file(g->log_path, max_lines); }

/* ---- the report -------------------------------------------------------------------------------- */

struct json_object *gh_report(struct gh *g)
{
        struct json_tokener *tok;
        struct json_object *obj;
        size_t len, end;
        char *text;

        if (g->report_) {
                json_object_put(g->report_);
                g->report_ = NULL;
        }
        text = h_read_file_len(g->report_path, &len);
        if (!text) {
                fprintf(stderr, PFX "cannot read the report %s: %s\n", g->report_path, strerror(errno));
                return NULL;
        }
        tok = oom(json_tokener_new());
        obj = json_tokener_parse_ex(tok, text, (int)len + 1); /* with the NUL: ends a trailing number */
        end = json_tokener_get_parse_end(tok);
        if (!obj || json_tokener_get_error(tok) != json_tokener_success) {
                fprintf(stderr, PFX "the report %s is not JSON: %s at byte %zu\n", g->report_path,
                        json_tokener_error_desc(json_tokener_get_error(tok)), end);
                json_object_put(obj);
                obj = NULL;
        } else {
                for (size_t i = end; i < len; i++) {
                        if (!strchr(" \t\r\n", text[i])) {
                                fprintf(stderr, PFX "the report %s has trailing garbage at byte %zu\n",
                                        g->report_path, i);
                                json_object_put(obj);
                                obj = NULL;
                                break;
                        }
                }
        }
        json_tokener_free(tok);
        free(text);
        g->report_ = obj;
        return obj;
}

static struct json_object *find_named(struct json_object *report, const char *list, const char *name, int *pos)
{
        struct json_object *arr;
        size_t n;

        if (pos)
                *pos = -1;
        if (!report || !json_object_object_get_ex(report, list, &arr) || !json_object_is_type(arr, json_type_array))
                return NULL;
        n = json_object_array_length(arr);
        for (size_t i = 0; i < n; i++) {
                struct json_object *el = json_object_array_get_idx(arr, i);
                const char *nm = h_json_str(el, "name");

                if (nm && strcmp(nm, name) == 0) {
                        if (pos)
                                *pos = (int)i;
                        return el;
                }
        }
        return NULL;
}

struct json_object *h_report_worker(struct json_object *report, const char *name)
{
        return find_named(report, "workers", name, NULL);
}

struct json_object *h_report_cleanup(struct json_object *report, const char *name)
{
        return find_named(report, "cleanup", name, NULL);
}

int h_report_worker_pos(struct json_object *report, const char *name)
{
        int pos;

        find_named(report, "workers", name, &pos);
        return pos;
}

struct json_object *h_json_get(struct json_object *obj, const char *key)
{
        struct json_object *v;

        if (!obj || !json_object_is_type(obj, json_type_object) || !json_object_object_get_ex(obj, key, &v))
                return NULL;
        return v;
}

bool h_json_has(struct json_object *obj, const char *key)
{
        return obj && json_object_is_type(obj, json_type_object) && json_object_object_get_ex(obj, key, NULL);
}

bool h_json_is_null(struct json_object *obj, const char *key)
{
        return h_json_has(obj, key) && h_json_get(obj, key) == NULL; /* json-c: null is a NULL object */
}

const char *h_json_str(struct json_object *obj, const char *key)
{
        struct json_object *v = h_json_get(obj, key);

        return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

long long h_json_int(struct json_object *obj, const char *key)
{
        struct json_object *v = h_json_get(obj, key);

        return v && json_object_is_type(v, json_type_int) ? (long long)json_object_get_int64(v) : H_JSON_NONE;
}

double h_json_double(struct json_object *obj, const char *key)
{
        struct json_object *v = h_json_get(obj, key);

        if (v && (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
                return json_object_get_double(v);
        return NAN;
}

int h_json_bool(struct json_object *obj, const char *key)
{
        struct json_object *v = h_json_get(obj, key);

        return v && json_object_is_type(v, json_type_boolean) ? json_object_get_boolean(v) != 0 : -1;
}

int h_json_len(struct json_object *obj, const char *key)
{
        struct json_object *v = h_json_get(obj, key);

        return v && json_object_is_type(v, json_type_array) ? (int)json_object_array_length(v) : -1;
}

/* ---- a fake $NOTIFY_SOCKET ------------------------------------------------------------------- */

int h_notify_open(struct h_notify *n, const char *dir)
{
        static unsigned counter;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        socklen_t salen;
        size_t len;
        int one = 1;

        memset(n, 0, sizeof(*n));
        n->fd = fd_above_stdio(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        if (n->fd < 0) {
                fprintf(stderr, PFX "socket: %s\n", strerror(errno));
                return -1;
        }
        if (dir)
                n->path = h_path(dir, "notify.sock");
        else
                n->path = xasprintf("@graced-test-%ld-%u-%lld", (long)getpid(), counter++, h_now_ns());
        len = strlen(n->path);
        if (len >= sizeof(sa.sun_path)) {
                fprintf(stderr, PFX "socket path too long: %s\n", n->path);
                errno = ENAMETOOLONG;
                goto fail;
        }
        memcpy(sa.sun_path, n->path, len);
        if (!dir)
                sa.sun_path[0] = '\0';
        salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (dir ? 1 : 0));
        if (setsockopt(n->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 ||
            bind(n->fd, (struct sockaddr *)&sa, salen) < 0) {
                fprintf(stderr, PFX "notify socket %s: %s\n", n->path, strerror(errno));
                goto fail;
        }
        n->env = xasprintf("NOTIFY_SOCKET=%s", n->path);
        return 0;
fail:
        close(n->fd);
        free(n->path);
        memset(n, 0, sizeof(*n));
        n->fd = -1;
        return -1;
}

static void notify_drain(struct h_notify *n)
{
        enum { MAX_MSG = 65536 };
        char *buf = xmalloc(MAX_MSG + 1);
        size_t cap = n->n;

        for (;;) {
                union {
                        struct cmsghdr h;
                        char buf[CMSG_SPACE(sizeof(struct ucred))];
                } ctl;
                struct iovec iov = { .iov_base = buf, .iov_len = MAX_MSG };
                struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl,
                                     .msg_controllen = sizeof(ctl) };
                ssize_t r = recvmsg(n->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
                pid_t sender = 0;

                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                fprintf(stderr, PFX "recvmsg %s: %s\n", n->path, strerror(errno));
                        break;
                }
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                            c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
                                struct ucred cred;

                                memcpy(&cred, CMSG_DATA(c), sizeof(cred));
                                sender = cred.pid;
                        }
                }
                if (n->n + 1 > cap) {
                        cap = cap ? cap * 2 : 16;
                        n->msgs = xrealloc(n->msgs, cap * sizeof(*n->msgs));
                        n->pids = xrealloc(n->pids, cap * sizeof(*n->pids));
                }
                n->msgs[n->n] = xstrndup(buf, (size_t)r);
                n->pids[n->n] = sender;
                n->n++;
        }
        free(buf);
}

int h_notify_find(struct h_notify *n, const char *substr)
{
        if (n->fd >= 0)
                notify_drain(n);
        for (size_t i = 0; i < n->n; i++)
                if (strstr(n->msgs[i], substr))
                        return (int)i;
        return -1;
}

int h_notify_count(struct h_notify *n, const char *substr)
{
        int c = 0;

        if (n->fd >= 0)
                notify_drain(n);
        for (size_t i = 0; i < n->n; i++)
                c += strstr(n->msgs[i], substr) != NULL;
        return c;
}

bool h_notify_wait(struct h_notify *n, const char *substr, int timeout_ms)
{
        long long deadline = deadline_ns(timeout_ms);

        for (;;) {
                struct pollfd p = { .fd = n->fd, .events = POLLIN };
                int ms;

                if (h_notify_find(n, substr) >= 0)
                        return true;
                ms = left_ms(deadline, 1000);
                if (ms == 0 || n->fd < 0)
                        break;
                if (poll(&p, 1, ms) < 0 && errno != EINTR)
                        break;
        }
        fprintf(stderr, PFX "no notification with '%s' on %s within %d ms (%zu received)\n", substr,
                n->path ? n->path : "(closed)", timeout_ms, n->n);
        for (size_t i = 0; i < n->n; i++) {
                fprintf(stderr, PFX "  from %ld: ", (long)n->pids[i]);
                for (const char *c = n->msgs[i]; *c; c++)
                        fputs(*c == '\n' ? "\\n" : (char[]){ *c, '\0' }, stderr);
                fputc('\n', stderr);
        }
        return false;
}

void h_notify_close(struct h_notify *n)
{
        if (n->fd >= 0)
                close(n->fd);
        if (n->path && n->path[0] == '/')
                unlink(n->path);
        for (size_t i = 0; i < n->n; i++)
                free(n->msgs[i]);
        free(n->msgs);
        free(n->pids);
        free(n->path);
        free(n->env);
        memset(n, 0, sizeof(*n));
        n->fd = -1;
}

/* Under --enable-sanitizers, LeakSanitizer checks graced and gracectl (their
 * exit status then fails the tests); the integration test programs
 * themselves keep their fixtures' strings until they exit, and a forked
 * Check test that fails leaves by _exit: do not count those. */
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
        return 1;
}

/* Valid UTF-8 as RFC 3629 defines it (no overlongs, surrogates or code
 * points above U+10FFFF); written here on its own, not taken from graced. */
bool h_valid_utf8(const char *str, size_t len)
{
        const unsigned char *s = (const unsigned char *)str;

        for (size_t i = 0; i < len;) {
                unsigned cp, n;

                if (s[i] < 0x80) {
                        i++;
                        continue;
                }
                if ((s[i] & 0xe0) == 0xc0)
                        n = 2, cp = s[i] & 0x1f;
                else if ((s[i] & 0xf0) == 0xe0)
                        n = 3, cp = s[i] & 0x0f;
                else if ((s[i] & 0xf8) == 0xf0)
                        n = 4, cp = s[i] & 0x07;
                else
                        return false;
                if (i + n > len)
                        return false;
                for (unsigned k = 1; k < n; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (s[i + k] & 0x3f);
                }
                if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
                    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                        return false;
                i += n;
        }
        return true;
}

/* ---- loopback TCP and /proc/PID/maps --------------------------------------------------- */

int h_free_port(void)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
        port = ntohs(a.sin_port);
        close(fd);
        return port;
}

int h_tcp_connect(int port)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
                int e = errno;
                close(fd);
                errno = e;
                return -1;
        }
        return fd;
}

int h_http_status(int port, const char *path)
{
        int fd = h_tcp_connect(port), code = -1;
        char req[256], buf[4096];
        size_t n = 0;
        ssize_t k;

        if (fd < 0)
                return -1;
        snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
        if (write(fd, req, strlen(req)) == (ssize_t)strlen(req))
                while (n < sizeof buf - 1 && (k = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
                        n += (size_t)k;
        buf[n] = 0;
        close(fd);
        if (sscanf(buf, "HTTP/1.%*d %d", &code) != 1)
                return -1;
        return code;
}

bool h_pid_maps(pid_t pid, const char *what)
{
        char path[64], *maps;
        bool found;

        snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
        maps = h_read_file(path);
        ck_assert_ptr_nonnull(maps);
        found = strstr(maps, what) != NULL;
        free(maps);
        return found;
}
