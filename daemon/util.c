/* util.c - small shared helpers (time, memory, fds, string vectors, the
 * growable buffer, UTF-8). Must not log:
 * callers decide what a failure means. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

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

/* Sets or clears one flag of the fd's F_GETFL or F_GETFD word. */
static int fd_set_flag(int fd, int get, int set, int flag, bool on)
{
        int fl = fcntl(fd, get);

        if (fl < 0)
                return -errno;
        fl = on ? fl | flag : fl & ~flag;
        return fcntl(fd, set, fl) < 0 ? -errno : 0;
}

int fd_set_nonblock(int fd, bool on) { return fd_set_flag(fd, F_GETFL, F_SETFL, O_NONBLOCK, on); }
int fd_set_cloexec(int fd, bool on) { return fd_set_flag(fd, F_GETFD, F_SETFD, FD_CLOEXEC, on); }

/* ---- growable buffer ------------------------------------------------------ */

/* Room for n more bytes and the NUL after them. */
static void sbuf_reserve(struct sbuf *b, size_t n)
{
        size_t need;

        if (n > SIZE_MAX / 2 - b->len)
                oom(NULL); /* no such length can exist */
        need = b->len + n + 1;
        if (need <= b->cap)
                return;
        b->cap = need < 64 ? 64 : need < b->cap * 2 ? b->cap * 2 : need;
        b->p = xrealloc(b->p, b->cap);
}

void sbuf_add(struct sbuf *b, const void *s, size_t n)
{
        sbuf_reserve(b, n);
        if (n > 0)
                memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = 0;
}

void sbuf_adds(struct sbuf *b, const char *s) { sbuf_add(b, s, strlen(s)); }

void sbuf_addf(struct sbuf *b, const char *fmt, ...)
{
        va_list ap;
        int n;

        /* first into the room there is; when it did not fit, make exactly
         * enough and format again: the length is never taken on trust */
        sbuf_reserve(b, 0);
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
                b->p[b->len] = 0; /* a bad format: nothing appended */
                return;
        }
        if ((size_t)n >= b->cap - b->len) {
                sbuf_reserve(b, (size_t)n);
                va_start(ap, fmt);
                n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
                va_end(ap);
                if (n < 0 || (size_t)n >= b->cap - b->len) {
                        b->p[b->len] = 0;
                        return;
                }
        }
        b->len += (size_t)n;
}

char *sbuf_steal(struct sbuf *b, size_t *ret_len)
{
        char *p;

        sbuf_reserve(b, 0);
        b->p[b->len] = 0;
        p = b->p;
        if (ret_len)
                *ret_len = b->len;
        *b = (struct sbuf){ 0 };
        return p;
}

void sbuf_free(struct sbuf *b)
{
        free(b->p);
        *b = (struct sbuf){ 0 };
}

/* ---- UTF-8 --------------------------------------------------------------------- */

/* The character at s (len > 0 bytes left): its length when it is a valid
 * one (*valid = true), else the length of its longest start that could
 * have begun a valid one, at least 1 (the Unicode standard's "maximal
 * subpart", replaced by one U+FFFD). The ranges are RFC 3629's syntax. */
static size_t utf8_char(const unsigned char *s, size_t len, bool *valid)
{
        unsigned char c = s[0], lo = 0x80, hi = 0xbf;
        size_t n, i;

        *valid = false;
        if (c < 0x80) {
                *valid = true;
                return 1;
        }
        if (c >= 0xc2 && c <= 0xdf)
                n = 2;
        else if (c >= 0xe0 && c <= 0xef)
                n = 3;
        else if (c >= 0xf0 && c <= 0xf4)
                n = 4;
        else
                return 1; /* a continuation byte, C0/C1 (overlong) or F5..FF */
        /* the second byte's range excludes overlongs, surrogates, > U+10FFFF */
        if (c == 0xe0)
                lo = 0xa0;
        else if (c == 0xed)
                hi = 0x9f;
        else if (c == 0xf0)
                lo = 0x90;
        else if (c == 0xf4)
                hi = 0x8f;
        for (i = 1; i < n; i++) {
                if (i >= len || s[i] < lo || s[i] > hi)
                        return i;
                lo = 0x80;
                hi = 0xbf;
        }
        *valid = true;
        return n;
}

bool utf8_is_valid(const char *s, size_t len)
{
        const unsigned char *p = (const unsigned char *)s;
        size_t i = 0;
        bool valid;

        while (i < len) {
                i += utf8_char(p + i, len - i, &valid);
                if (!valid)
                        return false;
        }
        return true;
}

size_t utf8_cut(const char *s, size_t len)
{
        const unsigned char *p = (const unsigned char *)s;

        /* back over continuation bytes to the last start of a character */
        for (size_t k = 1; k <= 3 && k <= len; k++) {
                unsigned char c = p[len - k];
                bool valid;

                if (c >= 0x80 && c < 0xc0)
                        continue;
                /* a lead byte whose k bytes are a proper, valid start (its
                 * character needs more of them): utf8_char stops at the end */
                if (c >= 0xc2 && c <= 0xf4 && utf8_char(p + len - k, k, &valid) == k && !valid)
                        return len - k;
                return len;
        }
        return len;
}

size_t utf8_append(struct sbuf *b, const char *s, size_t len, size_t max)
{
        const unsigned char *p = (const unsigned char *)s;
        size_t i = 0, out = 0;

        while (i < len) {
                size_t start = i, run = 0, n;
                bool valid = true;

                /* a run of valid characters goes in with one copy */
                while (i < len) {
                        n = utf8_char(p + i, len - i, &valid);
                        if (!valid || out + run + n > max)
                                break;
                        run += n;
                        i += n;
                }
                sbuf_add(b, s + start, run);
                out += run;
                if (i >= len || valid) /* done, or the next character does not fit */
                        break;
                if (out + strlen(UTF8_REPLACEMENT) > max)
                        break;
                sbuf_add(b, UTF8_REPLACEMENT, strlen(UTF8_REPLACEMENT));
                out += strlen(UTF8_REPLACEMENT);
                i += n;
        }
        return out;
}

char *utf8_sanitize(const char *s, size_t len, size_t max, size_t *ret_len)
{
        struct sbuf b = { 0 };

        utf8_append(&b, s, len, max);
        return sbuf_steal(&b, ret_len);
}

struct json_object *json_text_new_len(const char *s, size_t len, size_t max)
{
        struct json_object *o;
        size_t n;
        char *t;

        if (utf8_is_valid(s, len) && len <= max && len <= INT_MAX)
                return json_object_new_string_len(s, (int)len);
        t = utf8_sanitize(s, len, max < INT_MAX ? max : INT_MAX, &n);
        o = json_object_new_string_len(t, (int)n);
        free(t);
        return o;
}

struct json_object *json_text_new(const char *s) { return s ? json_text_new_len(s, strlen(s), SIZE_MAX) : NULL; }

const char *file_type_problem(mode_t mode)
{
        if (S_ISREG(mode))
                return NULL;
        if (S_ISDIR(mode))
                return strerror(EISDIR);
        if (S_ISFIFO(mode))
                return "not a regular file (a FIFO)";
        if (S_ISCHR(mode))
                return "not a regular file (a character device)";
        if (S_ISBLK(mode))
                return "not a regular file (a block device)";
        if (S_ISSOCK(mode))
                return "not a regular file (a socket)";
        return "not a regular file";
}
