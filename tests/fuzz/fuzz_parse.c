/* fuzz_parse.c - the value parsers of the configuration (parse.c) and the
 * text helpers that outside bytes go through (util.c, state.c, envfile.c,
 * http.c). The first input byte selects the parser (modulo their number);
 * the rest is its text, NUL-terminated where the parser takes a string.
 * Results are checked where they promise something (valid UTF-8, a name's
 * alphabet, a duration that formats and reads back, base64 both ways). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "envfile.h"
#include "fuzz.h"
#include "http.h"
#include "parse.h"
#include "state.h"

#define CHECK(cond)                                                                  \
        do {                                                                         \
                if (!(cond)) {                                                       \
                        fprintf(stderr, "fuzz: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
                        abort();                                                     \
                }                                                                    \
        } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        fuzz_log_init();
        return 0;
}

static void duration(const char *s)
{
        usec_t u, back;
        char buf[64];

        if (parse_duration(s, &u) < 0)
                return;
        CHECK(format_duration(u, buf, sizeof buf) == buf);
        /* what graced prints reads back as the same duration */
        if (u != USEC_INFINITY) {
                CHECK(parse_duration(buf, &back) == 0);
                CHECK(back == u);
        }
}

static void duration_seconds(const uint8_t *p, size_t n)
{
        double d;
        usec_t u;

        if (n < sizeof d)
                return;
        memcpy(&d, p, sizeof d);
        if (parse_duration_seconds(d, &u) == 0)
                CHECK(!isnan(d) && d >= 0);
}

static void signal(const char *s)
{
        int sig = parse_signal(s);

        if (sig >= 0)
                CHECK(parse_signal(signal_name(sig)) == sig);
}

static void name(const char *s)
{
        if (!name_is_valid(s))
                return;
        CHECK(strlen(s) >= 1 && strlen(s) <= NAME_MAX_LEN);
        CHECK(strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == strlen(s));
}

static void umask_value(const char *s, const uint8_t *p, size_t n)
{
        long long v = 0;
        int m;

        if (parse_umask_str(s, &m) == 0)
                CHECK(m >= 0 && m <= 0777);
        memcpy(&v, p, MIN(n, sizeof v));
        if (parse_umask_int(v, &m) == 0)
                CHECK(m >= 0 && m <= 0777);
}

static void suggestion(const char *s)
{
        const char *cands[4] = { "command", "restart", "stop_signal", "" };
        const char *b = strchr(s, '|');
        char *a = b ? strndup(s, (size_t)(b - s)) : strdup(s);

        cands[3] = b ? b + 1 : "";
        (void)edit_distance(a, cands[3]);
        (void)suggest(a, cands, ELEMENTSOF(cands));
        free(a);
}

static void address(const char *s)
{
        struct sockaddr_storage ss;
        socklen_t len = 0;
        const char *why = NULL;

        if (parse_inet_address(s, &ss, &len, &why) == 0)
                CHECK(len > 0 && len <= sizeof ss);
        else
                CHECK(why != NULL);
}

static void url(const char *s)
{
        const char *why = NULL;

        if (parse_probe_url(s, &why) < 0)
                CHECK(why != NULL);
}

static void exit_text(const uint8_t *p, size_t n)
{
        int v[2] = { 0, 0 };
        char buf[EXIT_DESC_MAX];

        memcpy(v, p, MIN(n, sizeof v));
        CHECK(format_exit(v[0], v[1], buf, sizeof buf) == buf);
        CHECK(strlen(buf) < sizeof buf);
}

static void utf8(const char *p, size_t n)
{
        size_t max = n ? (unsigned char)p[0] : SIZE_MAX, len;
        char *s = utf8_sanitize(p, n, max, &len);
        struct json_object *o = json_text_new_len(p, n, max);
        size_t cut = utf8_cut(p, n);

        CHECK(utf8_is_valid(s, len));
        CHECK(len <= max);
        CHECK(cut <= n);
        CHECK(utf8_is_valid(json_object_get_string(o), (size_t)json_object_get_string_len(o)));
        if (utf8_is_valid(p, n))
                CHECK(max < n || (len == n && memcmp(s, p, n) == 0));
        json_object_put(o);
        free(s);
}

static void base64(const char *p, size_t n)
{
        char *out = xmalloc(n + 1), *enc;
        ssize_t k = base64_decode(p, n, out);

        if (k >= 0) {
                enc = base64_encode(out, (size_t)k);
                CHECK((size_t)k <= n);
                free(enc);
        }
        enc = base64_encode(p, n);
        k = base64_decode(enc, strlen(enc), out);
        CHECK(k == (ssize_t)n && memcmp(out, p, n) == 0);
        free(enc);
        free(out);
}

static void env_spec(const char *s)
{
        bool optional;
        const char *path = envfile_path(s, &optional);

        CHECK(path && strlen(path) <= strlen(s));
}

static void label(const char *s)
{
        struct sbuf b = { 0 };

        http_escape_label(&b, s);
        if (b.p)
                for (size_t i = 0; i < b.len; i++)
                        CHECK(b.p[i] != '\n' && (b.p[i] != '"' || (i > 0 && b.p[i - 1] == '\\')));
        sbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s;
        const char *p;
        size_t n;

        if (size < 1)
                return 0;
        p = (const char *)data + 1;
        n = size - 1;
        s = strndup(p, n); /* the text up to a NUL */
        switch (data[0] % 14) {
        case 0: duration(s); break;
        case 1: duration_seconds(data + 1, n); break;
        case 2: signal(s); break;
        case 3: name(s); break;
        case 4: umask_value(s, data + 1, n); break;
        case 5: suggestion(s); break;
        case 6: address(s); break;
        case 7: url(s); break;
        case 8: exit_text(data + 1, n); break;
        case 9: utf8(p, n); break;
        case 10: base64(p, n); break;
        case 11: env_spec(s); break;
        case 12: label(s); break;
        case 13: (void)signal_name((int)(n ? (signed char)p[0] : 0)); break;
        }
        free(s);
        return 0;
}
