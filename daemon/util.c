/* util.c - small shared helpers (time, memory, fds, string vectors, the
 * description of an exit status). Must not log: callers decide what a
 * failure means. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "parse.h"
#include "util.h"

static usec_t clock_usec(clockid_t id)
{
        struct timespec ts;

        if (clock_gettime(id, &ts) < 0)
                abort(); /* cannot fail with a valid clock id */
        return (usec_t)ts.tv_sec * USEC_PER_SEC + (usec_t)ts.tv_nsec / 1000;
}

usec_t now_mono(void) { return clock_usec(CLOCK_MONOTONIC); }
usec_t now_real(void) { return clock_usec(CLOCK_REALTIME); }

char *format_iso8601(usec_t realtime, char *buf, size_t len)
{
        time_t sec = (time_t)(realtime / USEC_PER_SEC);
        struct tm tm;

        gmtime_r(&sec, &tm);
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (unsigned)(realtime % USEC_PER_SEC / USEC_PER_MSEC));
        return buf;
}

char *format_exit(int status, int stop_signal, char *buf, size_t len)
{
        if (WIFEXITED(status)) {
                snprintf(buf, len, "exited %d", WEXITSTATUS(status));
        } else if (WIFSIGNALED(status)) {
                int sig = WTERMSIG(status);
                /* our own stop signal ended it: the stop worked as meant. SIGKILL
                 * is never that: it always means the process was given no say. */
                bool asked = sig == stop_signal && sig != SIGKILL;

                snprintf(buf, len, "%s %s%s", asked ? "exited on" : "killed by", signal_name(sig),
                         WCOREDUMP(status) ? " (core dumped)" : "");
        } else {
                snprintf(buf, len, "ended (status 0x%x)", (unsigned)status);
        }
        return buf;
}

static void *oom(void *p)
{
        if (!p) {
                static const char msg[] = "graced: out of memory\n";
                (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
                abort();
        }
        return p;
}

void *xmalloc(size_t n) { return oom(malloc(n ? n : 1)); }
void *xcalloc(size_t n, size_t m) { return oom(calloc(n ? n : 1, m ? m : 1)); }
void *xrealloc(void *p, size_t n) { return oom(realloc(p, n ? n : 1)); }
char *xstrdup(const char *s) { return s ? oom(strdup(s)) : NULL; }

char *xvasprintf(const char *fmt, va_list ap)
{
        char *s;

        /* vasprintf fails only for want of memory (or a bad format: a bug) */
        return oom(vasprintf(&s, fmt, ap) < 0 ? NULL : s);
}

char *xasprintf(const char *fmt, ...)
{
        va_list ap;
        char *s;

        va_start(ap, fmt);
        s = xvasprintf(fmt, ap);
        va_end(ap);
        return s;
}

bool str_appendf(char **s, const char *fmt, ...)
{
        va_list ap;
        char *piece;
        size_t len = *s ? strlen(*s) : 0, n;

        va_start(ap, fmt);
        piece = xvasprintf(fmt, ap);
        va_end(ap);
        n = strlen(piece);
        *s = xrealloc(*s, len + n + 1);
        memcpy(*s + len, piece, n + 1);
        free(piece);
        return true;
}

size_t strv_length(char *const *v)
{
        size_t n = 0;

        while (v && v[n])
                n++;
        return n;
}

char **strv_dup(char *const *v)
{
        size_t n = strv_length(v);
        char **r;

        if (!v)
                return NULL;
        r = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                r[i] = xstrdup(v[i]);
        return r;
}

void strv_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

bool strv_equal(char *const *a, char *const *b)
{
        size_t n = strv_length(a);

        if (n != strv_length(b))
                return false;
        for (size_t i = 0; i < n; i++)
                if (strcmp(a[i], b[i]) != 0)
                        return false;
        return true;
}

char *strv_join(char *const *v)
{
        size_t cap = 64, len = 0;
        char *r = xmalloc(cap);

        r[0] = 0;
        for (size_t i = 0; v && v[i]; i++) {
                bool quote = v[i][0] == 0 || strpbrk(v[i], " \t\n\"'") != NULL;
                size_t need = strlen(v[i]) + 4;

                if (len + need >= cap) {
                        cap = (len + need) * 2;
                        r = xrealloc(r, cap);
                }
                len += (size_t)sprintf(r + len, quote ? "%s\"%s\"" : "%s%s", i ? " " : "", v[i]);
        }
        return r;
}

int safe_close(int fd)
{
        if (fd >= 0) {
                int saved = errno;
                close(fd); /* Linux: the fd is gone even on EINTR; never retry */
                errno = saved;
        }
        return -1;
}

int write_all(int fd, const void *buf, size_t len)
{
        const char *p = buf;

        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int fd_set_nonblock(int fd, bool on)
{
        int fl = fcntl(fd, F_GETFL);

        if (fl < 0)
                return -errno;
        fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
        return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

int fd_set_cloexec(int fd, bool on)
{
        int fl = fcntl(fd, F_GETFD);

        if (fl < 0)
                return -errno;
        fl = on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC;
        return fcntl(fd, F_SETFD, fl) < 0 ? -errno : 0;
}
