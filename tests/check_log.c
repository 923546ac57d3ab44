/* check_log.c - unit tests of graced's record formats (log.c), of the
 * helpers they are built with (util.c: the growable buffer, UTF-8) and of
 * the records cut from a worker's pipe (output.c).
 *
 * log.c writes to fd 2: each test (Check forks one process per test) points
 * fd 2 at a memfd, logs, flushes and compares the bytes exactly. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <json-c/json.h>

#include "log.h"
#include "loop.h"
#include "output.h"
#include "util.h"

#define R UTF8_REPLACEMENT

/* ---- capturing fd 2 ------------------------------------------------------------ */

static void capture_start(void)
{
        int fd = memfd_create("log", MFD_CLOEXEC);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
        close(fd);
}

/* What was written to fd 2 since capture_start() (malloc'd, NUL-terminated
 * after *len bytes); the capture goes on, empty again. */
static char *captured(size_t *len)
{
        size_t n = 0, cap = 4096;
        char *buf = malloc(cap);
        ssize_t r;

        log_flush_all();
        ck_assert_ptr_nonnull(buf);
        while ((r = pread(STDERR_FILENO, buf + n, cap - n - 1, (off_t)n)) > 0) {
                n += (size_t)r;
                if (cap - n < 2)
                        ck_assert_ptr_nonnull(buf = realloc(buf, cap *= 2));
        }
        ck_assert_int_eq(r, 0);
        buf[n] = 0;
        ck_assert_int_eq(ftruncate(STDERR_FILENO, 0), 0);
        ck_assert_int_eq(lseek(STDERR_FILENO, 0, SEEK_SET), 0);
        *len = n;
        return buf;
}

/* Escapes for a failure message. */
static char *shown(const char *s, size_t len)
{
        char *r = malloc(len * 4 + 1), *p = r;

        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                p += (c < 0x20 || c >= 0x7f) ? sprintf(p, "\\x%02x", c) : sprintf(p, "%c", c);
        }
        *p = 0;
        return r;
}

#define ck_assert_bytes(got, got_len, want)                                                                    \
        do {                                                                                                   \
                const char *w_ = (want);                                                                       \
                ck_assert_msg((got_len) == strlen(w_) && memcmp(got, w_, strlen(w_)) == 0,                     \
                              "got %zu bytes \"%s\",\nwanted %zu bytes \"%s\"", (size_t)(got_len),             \
                              shown(got, got_len), strlen(w_), shown(w_, strlen(w_)));                          \
        } while (0)

/* The colour sequence a dev line starts with ("\033[...m"), malloc'd. */
static char *line_color(const char *line)
{
        const char *m;

        ck_assert_msg(strncmp(line, "\033[", 2) == 0, "dev line without colour: %s", shown(line, strlen(line)));
        m = strchr(line, 'm');
        ck_assert_ptr_nonnull(m);
        return strndup(line, (size_t)(m - line) + 1);
}

/* ---- dev format ------------------------------------------------------------------ */

/* A worker name wider than the column (a reload left a removed worker
 * logging under a narrower column; names go up to 64 characters): the
 * column grows for that record, nothing is cut, nothing is read or
 * written outside the record. */
static const char wide[] = "a234567890b234567890c234567890d234567890e234567890f234567890g234";

static void setup_wide(void)
{
        ck_assert_int_eq(strlen(wide), 64);
        capture_start();
        log_setup(LOG_FORMAT_DEV, LOG_COLOR_ALWAYS, LOG_DEBUG);
        log_set_name_width(6);
}

/* graced's own records about it: dimmed, or red for errors */
START_TEST(test_dev_wide_name_own)
{
        char *out, *col, *want;
        size_t len;

        setup_wide();
        log_info(wide, "status", "x");
        log_error(wide, "exit", "%s", "");
        out = captured(&len);
        col = line_color(out);
        ck_assert_int_gt(asprintf(&want, "%s%s |\033[0m \033[2mx\033[0m\n%s%s |\033[0m \033[1;31m\033[0m\n", col, wide,
                                  col, wide),
                         0);
        ck_assert_bytes(out, len, want);
        free(want);
        free(out);

        log_setup(LOG_FORMAT_DEV, LOG_COLOR_NEVER, LOG_DEBUG);
        log_warning(wide, "status", "y");
        out = captured(&len);
        ck_assert_int_gt(asprintf(&want, "%s | y\n", wide), 0);
        ck_assert_bytes(out, len, want);
        free(want);
        free(out);
        free(col);
}
END_TEST

/* its output: a short line, an empty one */
START_TEST(test_dev_wide_name_output)
{
        char *out, *col, *want;
        size_t len;

        setup_wide();
        log_output(wide, 0, "hi", 2);
        out = captured(&len);
        col = line_color(out);
        ck_assert_int_eq(asprintf(&want, "%s%s |\033[0m hi\n", col, wide), (int)strlen(col) + 64 + 10);
        ck_assert_bytes(out, len, want);
        free(want);
        free(out);

        log_output(wide, 1, "", 0);
        out = captured(&len);
        ck_assert_int_gt(asprintf(&want, "%s%s |\033[0m \n", col, wide), 0);
        ck_assert_bytes(out, len, want);
        free(want);
        free(out);

        log_setup(LOG_FORMAT_DEV, LOG_COLOR_NEVER, LOG_DEBUG);
        log_output(wide, 0, "hi", 2);
        out = captured(&len);
        ck_assert_int_gt(asprintf(&want, "%s | hi\n", wide), 0);
        ck_assert_bytes(out, len, want);
        free(want);
        free(out);
        free(col);
}
END_TEST

/* Names narrower than the column are padded; graced's own name is bold;
 * control characters in a worker's line are shown escaped. */
START_TEST(test_dev_padding)
{
        char *out;
        size_t len;

        capture_start();
        log_setup(LOG_FORMAT_DEV, LOG_COLOR_NEVER, LOG_DEBUG);
        log_set_name_width(8);
        log_output("db", 0, "a\tb\033[31mc\x7f", 10);
        log_notice(NULL, "start", "starting %d workers", 3);
        out = captured(&len);
        ck_assert_bytes(out, len, "db       | a\tb\\x1b[31mc\\x7f\ngraced   | starting 3 workers\n");
        free(out);

        log_setup(LOG_FORMAT_DEV, LOG_COLOR_ALWAYS, LOG_DEBUG);
        log_warning(NULL, "x", "careful");
        out = captured(&len);
        ck_assert_bytes(out, len, "\033[1mgraced   |\033[0m \033[1;33mcareful\033[0m\n");
        free(out);
}
END_TEST

static char *color_of(const char *worker)
{
        char *out, *c;
        size_t len;

        log_output(worker, 0, "x", 1);
        out = captured(&len);
        c = line_color(out);
        free(out);
        return c;
}

/* db, web and jobs (one colour under the old hash) get three different
 * colours; so do the first ten names; the eleventh starts the palette
 * over; a name keeps its colour; a hook's lines take its worker's. */
START_TEST(test_dev_colors_distinct)
{
        static const char *const names[] = { "db", "web", "jobs", "cache", "migrate", "api", "mail", "cron",
                                             "search", "queue", "eleventh" };
        char *c[ELEMENTSOF(names)];

        capture_start();
        log_setup(LOG_FORMAT_DEV, LOG_COLOR_ALWAYS, LOG_INFO);
        log_set_name_width(6);
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                c[i] = color_of(names[i]);
        for (size_t i = 0; i < 10; i++)
                for (size_t j = 0; j < i; j++)
                        ck_assert_msg(strcmp(c[i], c[j]) != 0, "%s and %s have the same colour %s", names[i], names[j],
                                      shown(c[i], strlen(c[i])));
        ck_assert_str_eq(c[10], c[0]);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                char *again = color_of(names[i]);

                ck_assert_str_eq(again, c[i]);
                free(again);
        }
        {
                char *hook = color_of("web/pre_stop");

                ck_assert_str_eq(hook, c[1]);
                free(hook);
        }
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                free(c[i]);
}
END_TEST

/* log_add_name() hands out the colours in the order the workers are
 * defined, whatever order they first log in. */
START_TEST(test_dev_colors_definition_order)
{
        char *db, *web, *jobs, *first, *second, *third;

        capture_start();
        log_setup(LOG_FORMAT_DEV, LOG_COLOR_ALWAYS, LOG_INFO);
        first = color_of("one");
        second = color_of("two");
        third = color_of("three");
        /* a fresh process would give db the first colour: here the palette
         * goes on from the fourth */
        log_add_name("db");
        log_add_name("web");
        log_add_name("jobs");
        jobs = color_of("jobs");
        web = color_of("web");
        db = color_of("db");
        ck_assert_str_ne(db, first);
        ck_assert_str_ne(db, second);
        ck_assert_str_ne(db, third);
        ck_assert_str_ne(db, web);
        ck_assert_str_ne(web, jobs);
        ck_assert_str_ne(db, jobs);
        free(db);
        free(web);
        free(jobs);
        free(first);
        free(second);
        free(third);
}
END_TEST

/* ---- json format --------------------------------------------------------------- */

START_TEST(test_json_invalid_utf8)
{
        char *out;
        size_t len;
        struct json_object *o, *v;

        capture_start();
        log_setup(LOG_FORMAT_JSON, LOG_COLOR_NEVER, LOG_INFO);
        log_output("w", 0, "\xff\xc3(", 3);
        out = captured(&len);
        ck_assert_msg(utf8_is_valid(out, len), "not UTF-8: %s", shown(out, len));
        ck_assert(len > 0 && out[len - 1] == '\n');
        o = json_tokener_parse(out);
        ck_assert_ptr_nonnull(o);
        ck_assert(json_object_object_get_ex(o, "msg", &v));
        ck_assert_str_eq(json_object_get_string(v), R R "(");
        json_object_put(o);
        free(out);

        /* graced's own message quoting outside bytes; a NUL stays (escaped) */
        log_info("w", "status", "status: %s", "\xe2\x82\xac \xed\xa0\x80");
        log_output("w", 0, "a\0b", 3);
        out = captured(&len);
        ck_assert_msg(utf8_is_valid(out, len), "not UTF-8: %s", shown(out, len));
        ck_assert(strstr(out, "\"msg\":\"status: \xe2\x82\xac " R R R "\""));
        ck_assert(strstr(out, "\"msg\":\"a\\u0000b\""));
        free(out);
}
END_TEST

/* ---- the growable buffer --------------------------------------------------------------- */

START_TEST(test_sbuf)
{
        struct sbuf b = { 0 };
        char big[300];
        char *s;
        size_t n;

        memset(big, 'y', sizeof big - 1);
        big[sizeof big - 1] = 0;
        sbuf_add(&b, "ab", 2);
        sbuf_addf(&b, "%s|%d", big, 7);
        sbuf_adds(&b, "");
        sbuf_add(&b, "\0z", 2);
        ck_assert_uint_eq(b.len, 2 + 299 + 2 + 2);
        ck_assert_int_eq(memcmp(b.p, "ab", 2), 0);
        ck_assert_int_eq(memcmp(b.p + 2, big, 299), 0);
        ck_assert_int_eq(memcmp(b.p + 301, "|7\0z", 5), 0); /* NUL-terminated too */
        s = sbuf_steal(&b, &n);
        ck_assert_uint_eq(n, 305);
        ck_assert_ptr_null(b.p);
        ck_assert_uint_eq(b.len, 0);
        free(s);
        s = sbuf_steal(&b, &n); /* an empty buffer gives "" */
        ck_assert_str_eq(s, "");
        ck_assert_uint_eq(n, 0);
        free(s);
        sbuf_addf(&b, "%s", "");
        ck_assert_str_eq(b.p, "");
        sbuf_free(&b);
        sbuf_free(&b);
}
END_TEST

/* ---- UTF-8 -------------------------------------------------------------------------------- */

static const struct {
        const char *in;
        size_t len; /* 0: strlen */
        size_t max; /* 0: SIZE_MAX */
        const char *out;
        size_t out_len; /* 0: strlen */
} utf8_cases[] = {
        /* valid text is kept, NUL included */
        { "plain ascii", 0, 0, "plain ascii", 0 },
        { "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 0, 0, "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 0 },
        { "\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", 0, 0,
          "\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", 0 },
        { "a\0b", 3, 0, "a\0b", 3 },
        { "", 0, 0, "", 0 },
        /* bytes that never start a character */
        { "\xff", 0, 0, R, 0 },
        { "a\xfe" "b", 0, 0, "a" R "b", 0 },
        { "\x80", 0, 0, R, 0 },
        { "\xbf\x80", 0, 0, R R, 0 },
        { "\xf5\x80\x80\x80", 0, 0, R R R R, 0 },
        /* overlong forms */
        { "\xc0\xaf", 0, 0, R R, 0 },
        { "\xc1\xbf", 0, 0, R R, 0 },
        { "\xe0\x80\xaf", 0, 0, R R R, 0 },
        { "\xe0\x9f\xbf", 0, 0, R R R, 0 },
        { "\xf0\x80\x80\xaf", 0, 0, R R R R, 0 },
        { "\xf0\x8f\xbf\xbf", 0, 0, R R R R, 0 },
        /* surrogates */
        { "\xed\xa0\x80", 0, 0, R R R, 0 },
        { "\xed\xbf\xbf", 0, 0, R R R, 0 },
        { "\xed\xa0\xbd\xed\xb8\x80", 0, 0, R R R R R R, 0 },
        /* above U+10FFFF */
        { "\xf4\x90\x80\x80", 0, 0, R R R R, 0 },
        /* truncated sequences: one replacement each */
        { "\xc3(", 0, 0, R "(", 0 },
        { "\xff\xc3(", 0, 0, R R "(", 0 },
        { "\xe2\x82", 0, 0, R, 0 },
        { "\xe2\x82x", 0, 0, R "x", 0 },
        { "\xf0\x9f\x98", 0, 0, R, 0 },
        { "x\xf0\x9f\x98" "y", 0, 0, "x" R "y", 0 },
        { "\xf0\x9f\x98\xf0\x9f\x98\x80", 0, 0, R "\xf0\x9f\x98\x80", 0 },
        { "\x9f\x98\x80", 0, 0, R R R, 0 }, /* the rest of a cut 4-byte character */
        /* cut at max bytes, between characters */
        { "ab\xe2\x82\xac", 0, 4, "ab", 0 },
        { "ab\xe2\x82\xac", 0, 5, "ab\xe2\x82\xac", 0 },
        { "\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 0, 7, "\xf0\x9f\x98\x80", 0 },
        { "\xc3\xa9\xc3\xa9", 0, 3, "\xc3\xa9", 0 },
        { "abc", 0, 2, "ab", 0 },
        { "a\xff" "b", 0, 4, "a" R, 0 },
        { "a\xff" "b", 0, 3, "a", 0 },
        { "\xff", 0, 2, "", 0 },
        { "abc", 0, 3, "abc", 0 },
};

START_TEST(test_utf8_sanitize)
{
        const char *in = utf8_cases[_i].in;
        size_t len = utf8_cases[_i].len ? utf8_cases[_i].len : strlen(in);
        size_t max = utf8_cases[_i].max ? utf8_cases[_i].max : SIZE_MAX;
        const char *want = utf8_cases[_i].out;
        size_t want_len = utf8_cases[_i].out_len ? utf8_cases[_i].out_len : strlen(want);
        struct sbuf b = { 0 };
        size_t n, appended;
        char *got = utf8_sanitize(in, len, max, &n);

        ck_assert_msg(n == want_len && memcmp(got, want, n) == 0, "\"%s\" (max %zu): got \"%s\", wanted \"%s\"",
                      shown(in, len), max, shown(got, n), shown(want, want_len));
        ck_assert_int_eq(got[n], 0);
        ck_assert(utf8_is_valid(got, n));
        if (max == SIZE_MAX)
                ck_assert_int_eq(utf8_is_valid(in, len), n == len && memcmp(in, got, n) == 0);
        free(got);

        /* utf8_append adds to what is there and says how much */
        sbuf_adds(&b, "<");
        appended = utf8_append(&b, in, len, max);
        ck_assert_uint_eq(appended, want_len);
        ck_assert_uint_eq(b.len, want_len + 1);
        ck_assert_int_eq(memcmp(b.p + 1, want, want_len), 0);
        sbuf_free(&b);
}
END_TEST

/* utf8_cut: the cut goes before the valid start of a character the end
 * leaves incomplete; anything else at the end is cut where it is. */
START_TEST(test_utf8_cut)
{
        static const struct {
                const char *s;
                size_t cut;
        } cases[] = {
                { "", 0 },
                { "abc", 3 },
                { "ab\xc3", 2 },
                { "ab\xc3\xa9", 4 },
                { "a\xe2", 1 },
                { "a\xe2\x82", 1 },
                { "\xe2\x82\xac", 3 },
                { "a\xf0\x9f\x98", 1 },
                { "\xf0\x9f\x98\x80", 4 },
                { "a\xe0\xa0", 1 },
                { "a\xed\x9f", 1 },
                { "a\xf4\x8f\xbf", 1 },
                /* not the start of a character: C0, C1, F5..FF, overlong,
                 * surrogate, above U+10FFFF, stray continuation bytes */
                { "a\xc0", 2 },
                { "a\xc1", 2 },
                { "a\xf5", 2 },
                { "a\xff", 2 },
                { "a\xe0\x80", 3 },
                { "a\xed\xa0", 3 },
                { "a\xf4\x90", 3 },
                { "a\xe2(", 3 },
                { "\x80\x80\x80\x80", 4 },
                { "\xc3\xa9\x80", 3 },
                { "\xf0\x9f\x98\x80\x80", 5 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                ck_assert_msg(utf8_cut(cases[i].s, strlen(cases[i].s)) == cases[i].cut, "\"%s\": cut at %zu, wanted %zu",
                              shown(cases[i].s, strlen(cases[i].s)), utf8_cut(cases[i].s, strlen(cases[i].s)),
                              cases[i].cut);
}
END_TEST

START_TEST(test_json_text)
{
        struct json_object *o = json_text_new_len("\xc3\xa9\xc3\xa9\xff", 5, 3);

        ck_assert_str_eq(json_object_get_string(o), "\xc3\xa9");
        json_object_put(o);
        o = json_text_new_len("a\0b", 3, SIZE_MAX);
        ck_assert_int_eq(json_object_get_string_len(o), 3);
        ck_assert_str_eq(json_object_to_json_string(o), "\"a\\u0000b\"");
        json_object_put(o);
        o = json_text_new("\xed\xa0\x80ok");
        ck_assert_str_eq(json_object_get_string(o), R R R "ok");
        json_object_put(o);
        ck_assert_ptr_null(json_text_new(NULL));
}
END_TEST

/* ---- output.c: records cut from a pipe --------------------------------------------- */

/* n times unit, then tail */
struct piece {
        const char *unit;
        size_t n;
        const char *tail;
};

#define EURO "\xe2\x82\xac"
#define SMILE "\xf0\x9f\x98\x80"

/* The bytes written to a worker's pipe, a chunk at a time (all of each read
 * before the next is written), and the records they must give: a line
 * longer than 4096 bytes is cut at the last character boundary at or before
 * 4096 bytes where it is UTF-8 there, else at 4096; nothing is lost or
 * repeated. Text format: the bytes of a record are logged as they are. */
static const struct {
        struct piece chunk[3];
        struct piece rec[4];
} cut_cases[] = {
        /* all in one read */
        { { { "a", 4095, "\xc3\xa9z\n" } }, { { "a", 4095, "" }, { "", 0, "\xc3\xa9z" } } },
        { { { "a", 4094, EURO "\n" } }, { { "a", 4094, "" }, { "", 0, EURO } } },
        { { { "a", 4093, SMILE "z\n" } }, { { "a", 4093, "" }, { "", 0, SMILE "z" } } },
        { { { "a", 4092, SMILE "g\n" } }, { { "a", 4092, SMILE }, { "", 0, "g" } } },
        { { { EURO, 3000, "\n" } }, { { EURO, 1365, "" }, { EURO, 1365, "" }, { EURO, 270, "" } } },
        /* not UTF-8 at the cut: 4096 bytes */
        { { { "\xff", 8193, "\n" } }, { { "\xff", 4096, "" }, { "\xff", 4096, "" }, { "\xff", 1, "" } } },
        { { { "d", 4095, "\xff\xff\n" } }, { { "d", 4095, "\xff" }, { "", 0, "\xff" } } },
        { { { "d", 4095, "\xc0\x80\n" } }, { { "d", 4095, "\xc0" }, { "", 0, "\x80" } } },
        { { { "d", 4094, "\xed\xa0\x80\n" } }, { { "d", 4094, "\xed\xa0" }, { "", 0, "\x80" } } },
        /* the start of a character, whatever follows it */
        { { { "e", 4095, "\xe2(\n" } }, { { "e", 4095, "" }, { "", 0, "\xe2(" } } },
        /* a partial line kept from an earlier read */
        { { { "b", 4094, "\xe2\x82" }, { "", 0, "\xacz\n" } }, { { "b", 4094, "" }, { "", 0, EURO "z" } } },
        { { { "b", 4000, "" }, { "b", 93, SMILE "z\n" } }, { { "b", 4093, "" }, { "", 0, SMILE "z" } } },
        { { { "c", 4094, "\xf0" }, { "", 0, "\x9f\x98\x80\n" } }, { { "c", 4094, "" }, { "", 0, SMILE } } },
        { { { EURO, 1000, "" }, { EURO, 2000, "\n" } }, { { EURO, 1365, "" }, { EURO, 1365, "" }, { EURO, 270, "" } } },
        /* the last line, ended by EOF, is not cut */
        { { { "f", 4094, "\xe2\x82" } }, { { "f", 4094, "\xe2\x82" } } },
};

static char *piece_text(const struct piece *p)
{
        size_t u = strlen(p->unit), t = strlen(p->tail);
        char *s = malloc(u * p->n + t + 1);

        ck_assert_ptr_nonnull(s);
        for (size_t i = 0; i < p->n; i++)
                memcpy(s + i * u, p->unit, u);
        memcpy(s + u * p->n, p->tail, t + 1);
        return s;
}

/* Record n is want; where not, the place where they differ is shown. */
static void assert_record(size_t n, const char *got, size_t len, const char *want)
{
        size_t i = 0, wlen = strlen(want);

        while (i < len && i < wlen && got[i] == want[i])
                i++;
        ck_assert_msg(i == len && i == wlen, "record %zu: %zu bytes, wanted %zu; from byte %zu: \"%s\", wanted \"%s\"",
                      n, len, wlen, i, shown(got + i, MIN(len - i, 8)), shown(want + i, MIN(wlen - i, 8)));
}

START_TEST(test_output_cut)
{
        struct loop *l = loop_new();
        struct output_stream *s;
        char *out, *line, *want;
        size_t len, n = 0;
        int p[2];

        ck_assert_ptr_nonnull(l);
        capture_start();
        log_setup(LOG_FORMAT_TEXT, LOG_COLOR_NEVER, LOG_INFO);
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        s = output_open(l, p[0], "w", 0, NULL, NULL);
        ck_assert_ptr_nonnull(s);
        for (size_t i = 0; i < ELEMENTSOF(cut_cases[_i].chunk) && cut_cases[_i].chunk[i].unit; i++) {
                char *chunk = piece_text(&cut_cases[_i].chunk[i]);

                ck_assert_int_eq(write_all(p[1], chunk, strlen(chunk)), 0);
                ck_assert(!output_drain(s));
                free(chunk);
        }
        close(p[1]);
        ck_assert(output_drain(s));
        output_close(s);
        loop_free(l);

        /* "TS graced[PID]: w[stdout]: RECORD\n" each */
        out = captured(&len);
        for (line = out; line < out + len; n++) {
                char *end = memchr(line, '\n', (size_t)(out + len - line));
                char *t = memmem(line, (size_t)(end - line), "]: w[stdout]: ", 14);

                ck_assert_msg(end && t, "not a record: %s", shown(line, MIN((size_t)(out + len - line), 80)));
                ck_assert_msg(n < ELEMENTSOF(cut_cases[_i].rec) && cut_cases[_i].rec[n].unit, "record %zu too many", n);
                t += 14;
                ck_assert_uint_le((size_t)(end - t), 4096);
                want = piece_text(&cut_cases[_i].rec[n]);
                assert_record(n, t, (size_t)(end - t), want);
                free(want);
                line = end + 1;
        }
        ck_assert_msg(n == ELEMENTSOF(cut_cases[_i].rec) || !cut_cases[_i].rec[n].unit, "only %zu records", n);
        free(out);
}
END_TEST

static Suite *log_suite(void)
{
        Suite *s = suite_create("log");
        TCase *tc = tcase_create("dev");

        tcase_add_test(tc, test_dev_wide_name_own);
        tcase_add_test(tc, test_dev_wide_name_output);
        tcase_add_test(tc, test_dev_padding);
        tcase_add_test(tc, test_dev_colors_distinct);
        tcase_add_test(tc, test_dev_colors_definition_order);
        suite_add_tcase(s, tc);

        tc = tcase_create("json");
        tcase_add_test(tc, test_json_invalid_utf8);
        suite_add_tcase(s, tc);

        tc = tcase_create("text");
        tcase_add_test(tc, test_sbuf);
        tcase_add_loop_test(tc, test_utf8_sanitize, 0, ELEMENTSOF(utf8_cases));
        tcase_add_test(tc, test_utf8_cut);
        tcase_add_test(tc, test_json_text);
        suite_add_tcase(s, tc);

        tc = tcase_create("output");
        tcase_add_loop_test(tc, test_output_cut, 0, ELEMENTSOF(cut_cases));
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(log_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
