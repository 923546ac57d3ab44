/* parse.c - value syntaxes of the configuration (durations, signals, names,
 * octal modes) and their formatting for logs. Pure functions. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>

#include "parse.h"

/* Longest duration accepted anywhere: 365 days. Keeps every deadline
 * arithmetic (now + timeout, sums of bounds) far from overflowing. */
#define DURATION_MAX ((usec_t)365 * 24 * 3600 * USEC_PER_SEC)

/* The units of a duration: each with its names (any case). */
static const struct {
        usec_t usec;
        const char *names[5];
} duration_units[] = {
        { 1, { "us", "usec", "usecs" } },
        { USEC_PER_MSEC, { "ms", "msec", "msecs" } },
        { USEC_PER_SEC, { "s", "sec", "secs", "second", "seconds" } },
        { 60 * USEC_PER_SEC, { "m", "min", "mins", "minute", "minutes" } },
        { 3600 * USEC_PER_SEC, { "h", "hr", "hrs", "hour", "hours" } },
        { 86400 * USEC_PER_SEC, { "d", "day", "days" } },
};

/* The unit named by the len bytes at u, or 0. */
static usec_t duration_unit(const char *u, size_t len)
{
        for (size_t i = 0; i < ELEMENTSOF(duration_units); i++)
                for (size_t k = 0; k < ELEMENTSOF(duration_units[i].names) && duration_units[i].names[k]; k++)
                        if (strlen(duration_units[i].names[k]) == len &&
                            strncasecmp(duration_units[i].names[k], u, len) == 0)
                                return duration_units[i].usec;
        return 0;
}

static bool add_overflows(usec_t a, usec_t b, usec_t *r)
{
        *r = a + b;
        return *r < a;
}

/* One component: digits[.digits] blanks* unit?  (no unit: seconds). */
static int parse_component(const char **p, usec_t *ret)
{
        const char *s = *p, *ip, *fp = NULL, *u, *num_end;
        size_t ilen = 0, flen = 0, ulen = 0;
        usec_t unit = USEC_PER_SEC, v = 0, frac = 0, div = 1;

        ip = s;
        while (isdigit((unsigned char)*s))
                s++, ilen++;
        if (*s == '.') {
                s++;
                fp = s;
                while (isdigit((unsigned char)*s))
                        s++, flen++;
        }
        if (ilen == 0 && flen == 0)
                return -EINVAL;
        num_end = s;
        while (*s == ' ' || *s == '\t')
                s++;
        u = s;
        while (isalpha((unsigned char)*s))
                s++, ulen++;
        if (ulen == 0) {
                s = num_end;
                if (*s && !isspace((unsigned char)*s))
                        return -EINVAL; /* "1.5.3", "10-" */
        }
        if (ulen > 0) {
                unit = duration_unit(u, ulen);
                if (unit == 0)
                        return -EINVAL;
        }

        for (size_t i = 0; i < ilen; i++) {
                v = v * 10 + (usec_t)(ip[i] - '0');
                if (v > DURATION_MAX)
                        return -ERANGE;
        }
        if (v > DURATION_MAX / unit)
                return -ERANGE;
        v *= unit;
        /* Fraction: at most 9 significant digits are enough (ns). */
        for (size_t i = 0; i < flen && i < 9; i++) {
                frac = frac * 10 + (usec_t)(fp[i] - '0');
                div *= 10;
        }
        /* unit <= 86400e6 and frac < 1e9: the product fits in 64 bits. */
        if (flen > 0)
                v += (usec_t)(((unsigned __int128)frac * unit + div / 2) / div);
        *p = s;
        *ret = v;
        return 0;
}

int parse_duration(const char *s, usec_t *ret)
{
        usec_t total = 0;
        bool negative = false;
        int n = 0;

        if (!s)
                return -EINVAL;
        while (isspace((unsigned char)*s))
                s++;
        if (*s == '-') {
                negative = true;
                s++;
        } else if (*s == '+')
                s++;

        for (;;) {
                usec_t v;
                int r;

                while (isspace((unsigned char)*s))
                        s++;
                if (*s == 0)
                        break;
                r = parse_component(&s, &v);
                if (r == -EINVAL)
                        return r;
                if (r < 0 || add_overflows(total, v, &total) || total > DURATION_MAX) {
                        /* keep checking the syntax: malformed beats too large */
                        total = DURATION_MAX + 1;
                        if (r < 0)
                                while (*s && !isspace((unsigned char)*s))
                                        s++;
                }
                n++;
        }
        if (n == 0)
                return -EINVAL;
        if (negative && total > 0)
                return -ERANGE;
        if (total > DURATION_MAX)
                return -ERANGE;
        *ret = total;
        return 0;
}

int parse_duration_seconds(double secs, usec_t *ret)
{
        double u;

        if (isnan(secs))
                return -EINVAL;
        if (secs < 0)
                return -ERANGE;
        u = secs * (double)USEC_PER_SEC;
        if (!(u <= (double)DURATION_MAX))
                return -ERANGE;
        *ret = (usec_t)(u + 0.5); /* no libm: round half up */
        return 0;
}

/* "1.5" from 1500000 usec of a unit of 1000000: trailing zeros dropped. */
static size_t append_fraction(char *buf, size_t len, size_t at, usec_t v, usec_t unit,
                              const char *suffix)
{
        usec_t whole = v / unit, rest = v % unit;
        char digits[32];
        int nd = 0, r;

        if (rest) {
                usec_t u = unit;
                while (u > 1) {
                        u /= 10;
                        digits[nd++] = (char)('0' + rest / u % 10);
                }
                while (nd > 0 && digits[nd - 1] == '0')
                        nd--;
        }
        digits[nd] = 0;
        r = snprintf(buf + at, at < len ? len - at : 0, "%s%llu%s%s%s", at ? " " : "",
                     (unsigned long long)whole, nd ? "." : "", digits, suffix);
        return at + (r > 0 ? (size_t)r : 0);
}

char *format_duration(usec_t u, char *buf, size_t len)
{
        static const struct {
                const char *suffix;
                usec_t usec;
        } big[] = {
                { "d", 86400 * USEC_PER_SEC },
                { "h", 3600 * USEC_PER_SEC },
                { "min", 60 * USEC_PER_SEC },
        };
        size_t at = 0;

        if (len == 0)
                return buf;
        buf[0] = 0;
        if (u == USEC_INFINITY) {
                snprintf(buf, len, "infinity");
                return buf;
        }
        if (u == 0) {
                snprintf(buf, len, "0");
                return buf;
        }
        for (size_t i = 0; i < ELEMENTSOF(big); i++) {
                if (u >= big[i].usec) {
                        int r = snprintf(buf + at, at < len ? len - at : 0, "%s%llu%s",
                                         at ? " " : "", (unsigned long long)(u / big[i].usec),
                                         big[i].suffix);
                        at += r > 0 ? (size_t)r : 0;
                        u %= big[i].usec;
                }
        }
        if (u == 0)
                return buf;
        if (u >= USEC_PER_SEC)
                append_fraction(buf, len, at, u, USEC_PER_SEC, "s");
        else if (u >= USEC_PER_MSEC)
                append_fraction(buf, len, at, u, USEC_PER_MSEC, "ms");
        else
                append_fraction(buf, len, at, u, 1, "us");
        return buf;
}

static const struct {
        const char *name; /* without "SIG" */
        int sig;
} signal_table[] = {
        { "HUP", SIGHUP },       { "INT", SIGINT },       { "QUIT", SIGQUIT },
        { "ILL", SIGILL },       { "TRAP", SIGTRAP },     { "ABRT", SIGABRT },
        { "BUS", SIGBUS },       { "FPE", SIGFPE },       { "KILL", SIGKILL },
        { "USR1", SIGUSR1 },     { "SEGV", SIGSEGV },     { "USR2", SIGUSR2 },
        { "PIPE", SIGPIPE },     { "ALRM", SIGALRM },     { "TERM", SIGTERM },
#ifdef SIGSTKFLT
        { "STKFLT", SIGSTKFLT },
#endif
        { "CHLD", SIGCHLD },     { "CONT", SIGCONT },     { "STOP", SIGSTOP },
        { "TSTP", SIGTSTP },     { "TTIN", SIGTTIN },     { "TTOU", SIGTTOU },
        { "URG", SIGURG },       { "XCPU", SIGXCPU },     { "XFSZ", SIGXFSZ },
        { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },     { "WINCH", SIGWINCH },
        { "IO", SIGIO },
#ifdef SIGPWR
        { "PWR", SIGPWR },
#endif
        { "SYS", SIGSYS },
        /* aliases, after the canonical names so signal_name() finds those */
        { "IOT", SIGABRT },      { "CLD", SIGCHLD },      { "POLL", SIGIO },
};

static int parse_small_uint(const char *s, int max)
{
        long v = 0;

        if (!*s)
                return -EINVAL;
        for (; *s; s++) {
                if (!isdigit((unsigned char)*s))
                        return -EINVAL;
                v = v * 10 + (*s - '0');
                if (v > max)
                        return -EINVAL;
        }
        return (int)v;
}

int parse_signal(const char *s)
{
        int v;

        if (!s || !*s)
                return -EINVAL;
        if (strncasecmp(s, "SIG", 3) == 0)
                s += 3;
        if (isdigit((unsigned char)s[0])) { /* "15", and "SIG32" as signal_name() gives it */
                v = parse_small_uint(s, SIGRTMAX);
                return v >= 1 ? v : -EINVAL;
        }
        for (size_t i = 0; i < ELEMENTSOF(signal_table); i++)
                if (strcasecmp(s, signal_table[i].name) == 0)
                        return signal_table[i].sig;
        /* RTMIN, RTMIN+n, RTMAX, RTMAX-n */
        if (strncasecmp(s, "RTMIN", 5) == 0 || strncasecmp(s, "RTMAX", 5) == 0) {
                bool min = strncasecmp(s, "RTMIN", 5) == 0;
                int base = min ? SIGRTMIN : SIGRTMAX, off = 0;

                s += 5;
                if (*s) {
                        if (*s != (min ? '+' : '-'))
                                return -EINVAL;
                        off = parse_small_uint(s + 1, SIGRTMAX - SIGRTMIN);
                        if (off < 0)
                                return -EINVAL;
                }
                v = min ? base + off : base - off;
                return v >= SIGRTMIN && v <= SIGRTMAX ? v : -EINVAL;
        }
        return -EINVAL;
}

const char *signal_name(int sig)
{
        static __thread char buf[32];

        for (size_t i = 0; i < ELEMENTSOF(signal_table); i++)
                if (signal_table[i].sig == sig) {
                        snprintf(buf, sizeof(buf), "SIG%s", signal_table[i].name);
                        return buf;
                }
        if (sig == SIGRTMIN)
                return "SIGRTMIN";
        if (sig > SIGRTMIN && sig <= SIGRTMAX) {
                snprintf(buf, sizeof(buf), "SIGRTMIN+%d", sig - SIGRTMIN);
                return buf;
        }
        snprintf(buf, sizeof(buf), "SIG%d", sig);
        return buf;
}

bool name_is_valid(const char *s)
{
        size_t n = 0;

        if (!s)
                return false;
        for (; s[n]; n++) {
                char c = s[n];
                if (n >= NAME_MAX_LEN)
                        return false;
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '.' || c == '-'))
                        return false;
        }
        return n > 0;
}

int parse_umask_int(long long v, int *ret)
{
        int mode = 0, shift = 0;

        if (v < 0)
                return -EINVAL;
        if (v == 0) {
                *ret = 0;
                return 0;
        }
        while (v > 0) {
                int d = (int)(v % 10);
                if (d > 7 || shift > 6)
                        return -EINVAL;
                mode |= d << shift;
                shift += 3;
                v /= 10;
        }
        if (mode > 0777)
                return -EINVAL;
        *ret = mode;
        return 0;
}

int parse_umask_str(const char *s, int *ret)
{
        int mode = 0;
        size_t n = 0;

        if (!s)
                return -EINVAL;
        if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
                s += 2;
        for (; s[n]; n++) {
                if (s[n] < '0' || s[n] > '7' || n >= 12)
                        return -EINVAL;
                mode = mode * 8 + (s[n] - '0');
                if (mode > 0777)
                        return -EINVAL;
        }
        if (n == 0)
                return -EINVAL;
        *ret = mode;
        return 0;
}

size_t edit_distance(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b);
        size_t *row, r;

        /* Bound the work: names are short; anything longer is "far". */
        if (la > 256 || lb > 256)
                return la > lb ? la : lb;
        row = xmalloc((lb + 1) * sizeof(size_t));
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t diag = row[0];
                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t up = row[j];
                        size_t best = diag + (a[i - 1] != b[j - 1]);
                        if (row[j] + 1 < best)
                                best = row[j] + 1;
                        if (row[j - 1] + 1 < best)
                                best = row[j - 1] + 1;
                        row[j] = best;
                        diag = up;
                }
        }
        r = row[lb];
        free(row);
        return r;
}

const char *suggest(const char *word, const char *const *candidates, size_t n)
{
        size_t len = strlen(word), limit, best_d = SIZE_MAX;
        const char *best = NULL;

        /* Up to 2 edits (1 for very short words), more for long words. */
        limit = len <= 3 ? 1 : len / 3 > 2 ? len / 3 : 2;
        for (size_t i = 0; i < n; i++) {
                size_t d;

                if (!candidates[i])
                        continue;
                if (strcasecmp(word, candidates[i]) == 0)
                        return candidates[i];
                d = edit_distance(word, candidates[i]);
                if (d <= limit && d < best_d) {
                        best_d = d;
                        best = candidates[i];
                }
        }
        return best;
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

static int parse_port(const char *s, in_port_t *ret)
{
        unsigned long v = 0;

        if (!*s || strlen(s) > 5)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned long)(*p - '0');
        }
        if (v < 1 || v > 65535)
                return -EINVAL;
        *ret = htons((in_port_t)v);
        return 0;
}

int parse_inet_address(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len, const char **why)
{
        char host[INET6_ADDRSTRLEN + 1];
        const char *port, *h = s;
        size_t hlen;
        in_port_t p;

        memset(ret, 0, sizeof *ret);
        if (*s == '[') {
                const char *e = strchr(s, ']');

                if (!e || e[1] != ':')
                        goto syntax;
                h = s + 1;
                hlen = (size_t)(e - h);
                port = e + 2;
        } else {
                const char *c = strrchr(s, ':');

                if (!c || c == s)
                        goto syntax;
                hlen = (size_t)(c - s);
                if (memchr(s, ':', hlen)) /* an IPv6 address goes in brackets */
                        goto syntax;
                port = c + 1;
        }
        if (hlen == 0 || hlen >= sizeof host)
                goto host;
        memcpy(host, h, hlen);
        host[hlen] = 0;
        if (parse_port(port, &p) < 0) {
                *why = "bad port (1-65535)";
                return -EINVAL;
        }
        if (*s == '[') {
                struct sockaddr_in6 *a = (struct sockaddr_in6 *)ret;

                if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
                        goto host;
                a->sin6_family = AF_INET6;
                a->sin6_port = p;
                *ret_len = sizeof *a;
        } else {
                struct sockaddr_in *a = (struct sockaddr_in *)ret;

                if (strcasecmp(host, "localhost") == 0)
                        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                else if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
                        goto host;
                a->sin_family = AF_INET;
                a->sin_port = p;
                *ret_len = sizeof *a;
        }
        return 0;
syntax:
        *why = "expected HOST:PORT";
        return -EINVAL;
host:
        *why = "the host must be a numeric address or localhost";
        return -EINVAL;
}

int parse_probe_url(const char *url, const char **why)
{
        struct sockaddr_storage ss;
        socklen_t len;
        const char *a;
        char auth[300];
        size_t n;
        bool https = strncasecmp(url, "https://", 8) == 0;

        if (!https && strncasecmp(url, "http://", 7) != 0) {
                *why = "expected http:// or https://";
                return -EINVAL;
        }
        a = url + (https ? 8 : 7);
        n = strcspn(a, "/?#");
        if (n == 0 || n >= sizeof auth - 8 || memchr(a, '@', n)) {
                *why = "the host must be a numeric address or localhost";
                return -EINVAL;
        }
        for (const char *p = a + n; *p; p++)
                if ((unsigned char)*p <= ' ' || *p == 0x7f) {
                        *why = "spaces and control characters must be %-encoded";
                        return -EINVAL;
                }
        memcpy(auth, a, n);
        auth[n] = 0;
        /* no port: the scheme's */
        if (auth[0] == '[' ? (strchr(auth, ']') && strchr(auth, ']')[1] != ':') : !strchr(auth, ':'))
                strcat(auth, https ? ":443" : ":80");
        return parse_inet_address(auth, &ss, &len, why);
}
