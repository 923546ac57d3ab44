/* check_logs.c - `gracectl logs` and the files graced writes for workers.
 *
 * The records kept per worker (logbuf.c) are tested as a unit first: rings,
 * the merged order, readers that fall behind. Then end to end, with a real
 * graced, real workers and the real gracectl (tests/harness.h): the merged
 * text output and -n, graced's own records about a worker, -f until graced
 * exits (0) or an interrupt (130), unknown names, a follower that never
 * reads while a worker writes 1,000,000 lines (the main log keeps every
 * line, the worker is not slowed, the follower is told what it missed),
 * log_buffer = 0 and reloads; `stdout = "/path"`: raw bytes, reopened by
 * `gracectl reopen` and SIGUSR2 under a continuous writer without a line
 * lost, duplicated or split. Needs GRACED_BIN, GRACECTL_BIN,
 * GRACED_TESTWORKER. Every wait is on a file, a line or a process. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "harness.h"
#include "logbuf.h"

#define ARGV(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define T 10000 /* ms: a generous bound for things that happen at once */
#define TW h_testworker()

/* ---- logbuf, as a unit ------------------------------------------------------------ */

static void add(struct logring *r, const char *msg)
{
        logbuf_add(r, 1000000, 6, "output", NULL, "stdout", msg, strlen(msg));
}

/* What the cursor has now, as "name:msg" lines ("-N-" for N skipped), and
 * whether it ended. */
static char *drain(struct logcursor *c, bool *ended)
{
        char *s = strdup("");
        struct logrec_view v;
        uint64_t skipped;
        enum logcursor_item it;

        *ended = false;
        while ((it = logbuf_cursor_next(c, &v, &skipped)) != LOGCURSOR_NONE) {
                char *n;

                if (it == LOGCURSOR_END) {
                        *ended = true;
                        break;
                }
                if (it == LOGCURSOR_SKIPPED)
                        ck_assert_int_ge(asprintf(&n, "%s-%llu- ", s, (unsigned long long)skipped), 0);
                else
                        ck_assert_int_ge(asprintf(&n, "%s%s:%s ", s, v.worker, v.msg), 0);
                free(s);
                s = n;
        }
        return s;
}

static int wakes;
static void count_wake(struct logcursor *c, void *data) { wakes++; }

static char quiet_name[] = "quiet", z_name[] = "z";

START_TEST(test_unit_rings)
{
        struct logbuf *b = logbuf_new(3);
        struct logring *a = logbuf_ring(b, "a"), *z = logbuf_ring(b, "z");
        struct logcursor *c;
        bool end;
        char *s;

        ck_assert_ptr_eq(logbuf_ring(b, "a"), a);
        ck_assert_ptr_eq(logbuf_find(b, "z"), z);
        ck_assert_ptr_null(logbuf_find(b, "y"));
        add(a, "1");
        add(z, "2");
        add(a, "3");
        add(a, "4");
        add(a, "5"); /* a keeps 3, 4, 5 */
        add(z, "6");
        ck_assert_uint_eq(logbuf_ring_len(a), 3);
        ck_assert_uint_eq(logbuf_ring_len(z), 2);
        ck_assert_uint_eq(logbuf_n_records(b), 5);

        /* merged in the order they were made; the last n */
        c = logbuf_cursor_new(b, NULL, 0, NULL, 0, 100, false, count_wake, NULL);
        s = drain(c, &end);
        ck_assert_str_eq(s, "z:2 a:3 a:4 a:5 z:6 ");
        ck_assert(end);
        free(s);
        logbuf_cursor_free(c);
        c = logbuf_cursor_new(b, NULL, 0, NULL, 0, 2, false, count_wake, NULL);
        s = drain(c, &end);
        ck_assert_str_eq(s, "a:5 z:6 ");
        free(s);
        logbuf_cursor_free(c);
        /* one worker's */
        c = logbuf_cursor_new(b, (char *[]){ z_name }, 1, NULL, 0, 100, false, count_wake, NULL);
        s = drain(c, &end);
        ck_assert_str_eq(s, "z:2 z:6 ");
        free(s);
        logbuf_cursor_free(c);

        /* a group: its instances NAME.DIGITS, not another name */
        {
                struct logring *w1 = logbuf_ring(b, "web.1"), *w12 = logbuf_ring(b, "web.12"),
                               *wx = logbuf_ring(b, "web.x"), *web = logbuf_ring(b, "web");
                static char web_name[] = "web";

                add(w1, "i1");
                add(wx, "x");
                add(web, "plain");
                add(w12, "i12");
                c = logbuf_cursor_new(b, NULL, 0, (char *[]){ web_name }, 1, 100, false, count_wake, NULL);
                s = drain(c, &end);
                ck_assert_str_eq(s, "web.1:i1 web.12:i12 ");
                free(s);
                logbuf_cursor_free(c);
                c = logbuf_cursor_new(b, (char *[]){ web_name }, 1, (char *[]){ z_name }, 1, 100, false, count_wake,
                                      NULL);
                s = drain(c, &end);
                ck_assert_str_eq(s, "web:plain ");
                free(s);
                logbuf_cursor_free(c);
                logbuf_drop(b, "web.1");
                logbuf_drop(b, "web.12");
                logbuf_drop(b, "web.x");
                logbuf_drop(b, "web");
        }

        /* a smaller limit trims; a dropped ring takes its records */
        logbuf_set_limit(b, 1);
        ck_assert_uint_eq(logbuf_n_records(b), 2);
        logbuf_drop(b, "a");
        ck_assert_ptr_null(logbuf_find(b, "a"));
        ck_assert_uint_eq(logbuf_n_records(b), 1);
        logbuf_free(b);
}
END_TEST

/* A reader that falls behind counts what left the rings before it read it,
 * also records of a busy worker made after the quiet one's it waits at. */
START_TEST(test_unit_behind)
{
        struct logbuf *b = logbuf_new(2);
        struct logring *quiet = logbuf_ring(b, "quiet"), *busy = logbuf_ring(b, "busy");
        struct logcursor *c, *only;
        bool end;
        char *s;

        add(quiet, "q1");
        c = logbuf_cursor_new(b, NULL, 0, NULL, 0, 1, true, count_wake, NULL);
        only = logbuf_cursor_new(b, (char *[]){ quiet_name }, 1, NULL, 0, 0, true, count_wake, NULL);
        for (int i = 1; i <= 5; i++) {
                char m[8];
                snprintf(m, sizeof m, "b%d", i);
                add(busy, m);
        }
        /* q1 is still there; b1..b3 are gone */
        s = drain(c, &end);
        ck_assert_str_eq(s, "quiet:q1 -3- busy:b4 busy:b5 ");
        ck_assert(!end);
        free(s);
        /* none of those were its worker's */
        s = drain(only, &end);
        ck_assert_str_eq(s, "");
        free(s);
        wakes = 0;
        add(quiet, "q2");
        ck_assert_int_eq(wakes, 2); /* both had read everything */
        s = drain(only, &end);
        ck_assert_str_eq(s, "quiet:q2 ");
        free(s);
        logbuf_cursor_free(only);
        /* a reader that reads nothing while 4 records go: told once, in place */
        add(busy, "b6");
        add(busy, "b7");
        add(busy, "b8");
        add(busy, "b9");
        s = drain(c, &end);
        ck_assert_str_eq(s, "quiet:q2 -2- busy:b8 busy:b9 ");
        free(s);
        logbuf_cursor_free(c);
        logbuf_free(b);
}
END_TEST

/* log_buffer = 0: nothing kept, a follower still sees what it can take
 * when it comes, and what it could not is counted. */
static struct logcursor *reader;
static bool take;
static char got[256];

static void take_wake(struct logcursor *c, void *data)
{
        struct logrec_view v;
        uint64_t skipped;
        enum logcursor_item it;

        while (take && (it = logbuf_cursor_next(c, &v, &skipped)) != LOGCURSOR_NONE) {
                size_t n = strlen(got);

                if (it == LOGCURSOR_SKIPPED)
                        snprintf(got + n, sizeof got - n, "-%llu- ", (unsigned long long)skipped);
                else
                        snprintf(got + n, sizeof got - n, "%s ", v.msg);
        }
}

START_TEST(test_unit_unbuffered)
{
        struct logbuf *b = logbuf_new(0);
        struct logring *r = logbuf_ring(b, "w");
        bool end;
        char *s;

        add(r, "before");
        ck_assert_uint_eq(logbuf_n_records(b), 0);
        reader = logbuf_cursor_new(b, NULL, 0, NULL, 0, 100, true, take_wake, NULL);
        s = drain(reader, &end);
        ck_assert_str_eq(s, "");
        free(s);
        take = true;
        add(r, "1");
        take = false;
        add(r, "2");
        add(r, "3");
        take = true;
        add(r, "4");
        ck_assert_str_eq(got, "1 -2- 4 ");
        ck_assert_uint_eq(logbuf_n_records(b), 0);
        logbuf_cursor_free(reader);
        logbuf_free(b);
}
END_TEST

/* The image a reexec hands over: every kept record back, in order, with
 * its time, level, stream, event and hook; the new limit trims each ring;
 * an image that is not one is refused whole, saying why. */
START_TEST(test_unit_image)
{
        struct logbuf *b = logbuf_new(10), *b2;
        struct logring *a = logbuf_ring(b, "a"), *z = logbuf_ring(b, "z");
        struct logcursor *c;
        struct logrec_view v;
        uint64_t skipped;
        char why[256], *img, *out, bad[64];
        size_t len;
        bool ended;

        img = logbuf_save(b, &len);
        ck_assert_ptr_null(img);
        ck_assert_uint_eq(len, 0);
        logbuf_add(a, 5 * USEC_PER_SEC, 6, "output", NULL, "stdout", "a1", 2);
        logbuf_add(z, 6 * USEC_PER_SEC, 3, "output", "pre_stop", "stderr", "z1\0x", 4);
        logbuf_add(a, 7 * USEC_PER_SEC, 5, "exited", NULL, NULL, "a2", 2);
        add(a, "a3");
        img = logbuf_save(b, &len);
        ck_assert_ptr_nonnull(img);

        b2 = logbuf_new(2);
        ck_assert(logbuf_load(b2, img, len, why, sizeof why));
        ck_assert_uint_eq(logbuf_n_records(b2), 3); /* a1 left ring a (limit 2) */
        c = logbuf_cursor_new(b2, NULL, 0, NULL, 0, 10, false, count_wake, NULL);
        ck_assert_int_eq(logbuf_cursor_next(c, &v, &skipped), LOGCURSOR_RECORD);
        ck_assert_str_eq(v.worker, "z/pre_stop");
        ck_assert_str_eq(v.stream, "stderr");
        ck_assert_uint_eq(v.len, 4);
        ck_assert_mem_eq(v.msg, "z1\0x", 4);
        ck_assert_int_eq(v.level, 3);
        ck_assert_uint_eq(v.ts, 6 * USEC_PER_SEC);
        ck_assert_int_eq(logbuf_cursor_next(c, &v, &skipped), LOGCURSOR_RECORD);
        ck_assert_str_eq(v.worker, "a");
        ck_assert_str_eq(v.event, "exited");
        ck_assert_ptr_null(v.stream);
        ck_assert_int_eq(v.level, 5);
        out = drain(c, &ended);
        ck_assert_str_eq(out, "a:a3 ");
        ck_assert(ended);
        free(out);
        logbuf_cursor_free(c);
        /* new records come after the carried ones */
        add(logbuf_ring(b2, "a"), "a4");
        c = logbuf_cursor_new(b2, NULL, 0, NULL, 0, 10, false, count_wake, NULL);
        out = drain(c, &ended);
        ck_assert_str_eq(out, "z/pre_stop:z1 a:a3 a:a4 "); /* a2 left: limit 2 */
        free(out);
        logbuf_cursor_free(c);
        logbuf_free(b2);

        /* refused whole */
        b2 = logbuf_new(10);
        ck_assert(!logbuf_load(b2, "GLB2", 4, why, sizeof why));
        ck_assert_str_eq(why, "log records: not an image of them");
        ck_assert(!logbuf_load(b2, img, len - 1, why, sizeof why));
        ck_assert_str_eq(why, "log records: record 4: truncated record");
        memcpy(bad, img, 4 + 2 + 1 + 8); /* "GLB1", 1, "a", the meta of a1 */
        bad[4 + 2 + 1 + 7] |= (char)0x60; /* stdout and stderr */
        memcpy(bad + 15, "a1", 2);
        ck_assert(!logbuf_load(b2, bad, 17, why, sizeof why));
        ck_assert_str_eq(why, "log records: record 1: bad stream");
        memcpy(bad, "GLB1\0\0", 6); /* a name of length 0 */
        ck_assert(!logbuf_load(b2, bad, 6 + 8, why, sizeof why));
        ck_assert_str_eq(why, "log records: record 1: bad worker name");
        ck_assert_uint_eq(logbuf_n_records(b2), 0);
        logbuf_free(b2);
        free(img);
        logbuf_free(b);
}
END_TEST

/* ---- a running graced ------------------------------------------------------------- */

static const char *sock(struct gh *g) { return gh_path(g, "ctl.sock"); }

/* graced.conf with control_socket = DIR/ctl.sock, more supervisor settings
 * (sup, may be "") and the workers given. */
H_PRINTF(3, 4) static const char *conf(struct gh *g, const char *sup, const char *workers_fmt, ...)
{
        va_list ap;
        char *workers;

        va_start(ap, workers_fmt);
        ck_assert_int_ge(vasprintf(&workers, workers_fmt, ap), 0);
        va_end(ap);
        const char *path = gh_write_file(g, "graced.conf",
                                         "supervisor = { control_socket = \"%s\"; %s };\n"
                                         "workers = (\n%s\n);\n",
                                         sock(g), sup, workers);
        free(workers);
        ck_assert_ptr_nonnull(path);
        return path;
}

/* gracectl -s DIR/ctl.sock ARGS... must exit with want; *out: its stdout
 * and stderr (owned by g). */
static void ctl_expect(struct gh *g, int want, char **out, const char *const *args)
{
        const char *argv[16] = { h_gracectl(), "-s", sock(g) };
        size_t n = 3;
        char *o = NULL;
        int code;

        for (size_t i = 0; args[i] && n + 1 < sizeof argv / sizeof argv[0]; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        code = h_exit_code(h_run(argv, NULL, T, &o));
        o = gh_keep(g, o ? o : strdup(""));
        ck_assert_msg(code == want, "gracectl %s %s: exit %d, wanted %d; output:\n%s", args[0] ? args[0] : "",
                      args[0] && args[1] ? args[1] : "", code, want, o);
        if (out)
                *out = o;
}

#define CTL(want, g, out, ...) ctl_expect(g, want, out, ARGV(__VA_ARGS__))

/* A `gracectl logs ARGS...` running on its own, its output in DIR/name. */
static pid_t follower(struct gh *g, const char *name, const char *const *args)
{
        const char *argv[16] = { h_gracectl(), "-s", sock(g), "logs" };
        size_t n = 4;
        pid_t pid;

        for (size_t i = 0; args[i] && n + 1 < sizeof argv / sizeof argv[0]; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        pid = h_spawn(argv, NULL, gh_path(g, name));
        ck_assert_int_gt(pid, 0);
        return pid;
}

/* "2026-11-24T19:00:00.123Z " at the start of line: the rest, else NULL. */
static const char *after_ts(const char *line)
{
        static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddZ ";

        for (size_t i = 0; i < sizeof pat - 1; i++) {
                if (pat[i] == 'd' ? (line[i] < '0' || line[i] > '9') : line[i] != pat[i])
                        return NULL;
        }
        return line + sizeof pat - 1;
}

/* The lines of text (a copy each, NULL-terminated), every one checked to
 * begin with a timestamp; the timestamps are cut off. */
static char **records_of(const char *text, size_t *n)
{
        char *copy = strdup(text), *save = NULL, **v = calloc(1, sizeof *v);
        size_t k = 0;

        for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                const char *rest = after_ts(l);

                ck_assert_msg(rest, "not a record: \"%s\" in:\n%s", l, text);
                v = realloc(v, (k + 2) * sizeof *v);
                v[k++] = strdup(rest);
                v[k] = NULL;
        }
        free(copy);
        *n = k;
        return v;
}

static void free_strv(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

static int find(char **v, const char *s)
{
        for (int i = 0; v[i]; i++)
                if (strcmp(v[i], s) == 0)
                        return i;
        return -1;
}

/* Two workers whose lines come in a known order: a's first line, then b's
 * (b waits for gate b, which the test opens once a's line is logged), then
 * a's two stderr lines (gate a). */
static void start_ab(struct gh *g, const char *sup)
{
        const char *c = conf(g, sup,
                             "{ name = \"a\"; command = [\"%s\", \"--print\", \"1\", \"--wait-file\", \"%s\", "
                             "\"--print-err\", \"2\", \"--block\"]; },\n"
                             "{ name = \"b\"; command = [\"%s\", \"--wait-file\", \"%s\", \"--print\", \"1\", "
                             "\"--block\"]; }",
                             TW, gh_path(g, "gate-a"), TW, gh_path(g, "gate-b"));

        ck_assert_int_eq(gh_start(g, c, NULL, NULL), 0);
        ck_assert(h_wait_log(g, "a[stdout]: line 1", T));
        ck_assert_ptr_nonnull(gh_write_file(g, "gate-b", "go\n"));
        ck_assert(h_wait_log(g, "b[stdout]: line 1", T));
        ck_assert_ptr_nonnull(gh_write_file(g, "gate-a", "go\n"));
        ck_assert(h_wait_log(g, "a[stderr]: line 2", T));
}

START_TEST(test_logs_order)
{
        struct gh g;
        char *out, **v;
        size_t n;
        int a1, b1, a2, a3;

        ck_assert_int_eq(gh_init(&g), 0);
        start_ab(&g, "");
        CTL(0, &g, &out, "logs");
        v = records_of(out, &n);
        a1 = find(v, "a[stdout]: line 1");
        b1 = find(v, "b[stdout]: line 1");
        a2 = find(v, "a[stderr]: line 1");
        a3 = find(v, "a[stderr]: line 2");
        ck_assert_msg(a1 >= 0 && b1 > a1 && a2 > b1 && a3 == a2 + 1, "order a1 %d b1 %d a2 %d a3 %d in:\n%s", a1, b1,
                      a2, a3, out);
        /* graced's records about each worker are there, its records about itself are not */
        ck_assert_int_ge(find(v, "a: ready"), 0);
        ck_assert_int_ge(find(v, "b: ready"), 0);
        ck_assert_msg(!strstr(out, "running: 2/2") && !strstr(out, "starting 2 workers") && !strstr(out, "graced["),
                      "%s", out);
        free_strv(v);

        /* the last N, the workers named */
        CTL(0, &g, &out, "logs", "-n", "2");
        v = records_of(out, &n);
        ck_assert_int_eq(n, 2);
        ck_assert_str_eq(v[0], "a[stderr]: line 1");
        ck_assert_str_eq(v[1], "a[stderr]: line 2");
        free_strv(v);
        CTL(0, &g, &out, "logs", "--lines", "1", "b");
        v = records_of(out, &n);
        ck_assert_int_eq(n, 1);
        ck_assert_str_eq(v[0], "b[stdout]: line 1");
        free_strv(v);
        CTL(0, &g, &out, "logs", "-n", "0");
        ck_assert_str_eq(out, "");
        /* both named: the same as all */
        CTL(0, &g, &out, "logs", "-n", "1000", "b", "a");
        {
                char *all;
                CTL(0, &g, &all, "logs", "-n", "1000");
                ck_assert_str_eq(out, all);
        }
        /* --json: the records as the JSON log format has them */
        CTL(0, &g, &out, "--json", "logs", "-n", "1", "b");
        {
                struct json_object *o = json_tokener_parse(out);
                ck_assert_msg(o, "%s", out);
                ck_assert_str_eq(h_json_str(o, "worker"), "b");
                ck_assert_str_eq(h_json_str(o, "stream"), "stdout");
                ck_assert_str_eq(h_json_str(o, "event"), "output");
                ck_assert_str_eq(h_json_str(o, "msg"), "line 1");
                json_object_put(o);
        }
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* graced's own records about a worker, in the text format of its log
 * (the same timestamp, the same words), merged with the worker's lines. */
START_TEST(test_logs_own_records)
{
        struct gh g;
        char *out, **v, *log, *line, *want;
        size_t n;
        int i;

        ck_assert_int_eq(gh_init(&g), 0);
        const char *c = conf(&g, "",
                             "{ name = \"web\"; stop_timeout = \"3s\"; pre_stop = [\"/bin/echo\", \"draining\"];\n"
                             "  command = [\"%s\", \"--print\", \"1\", \"--block\"]; },\n"
                             "{ name = \"other\"; command = [\"%s\", \"--block\"]; }",
                             TW, TW);
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        ck_assert(h_wait_log(&g, "web[stdout]: line 1", T));
        CTL(0, &g, NULL, "stop", "web");
        CTL(0, &g, &out, "logs", "web");
        v = records_of(out, &n);
        i = find(v, "web: stopping (SIGTERM, timeout 3s)");
        ck_assert_msg(i >= 0, "%s", out);
        ck_assert_int_lt(find(v, "web[stdout]: line 1"), i);
        ck_assert_int_ge(find(v, "web: stop requested"), 0);
        /* the hook's output comes with its worker */
        ck_assert_int_ge(find(v, "web/pre_stop[stdout]: draining"), 0);
        ck_assert_msg(!strstr(out, "other"), "%s", out);
        free_strv(v);

        /* the same record in graced's log: "TS graced[PID]: web: stopping ..." */
        line = strstr(out, " web: stopping (SIGTERM, timeout 3s)\n");
        ck_assert_ptr_nonnull(line);
        ck_assert_int_ge(asprintf(&want, "%.*s graced[%d]: web: stopping (SIGTERM, timeout 3s)\n", 24, line - 24,
                                  (int)g.pid),
                         0);
        log = h_log_contents(&g);
        ck_assert_msg(strstr(log, want), "%s not in the log", want);
        free(want);
        free(log);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* -f: what there is, then new records as they come, until graced exits
 * (exit 0); the records of the shutdown come too. */
START_TEST(test_logs_follow_until_exit)
{
        struct gh g;
        const char *out;
        pid_t f;
        char *text;

        ck_assert_int_eq(gh_init(&g), 0);
        start_ab(&g, "");
        f = follower(&g, "f.out", ARGV("-f", "-n", "1", "a"));
        out = gh_path(&g, "f.out");
        ck_assert(h_wait_lines(out, "a[stderr]: line 2", 1, T));
        CTL(0, &g, NULL, "restart", "b"); /* not a's */
        CTL(0, &g, NULL, "restart", "a");
        ck_assert(h_wait_lines(out, "a[stdout]: line 1", 1, T));
        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert_int_eq(h_exit_code(h_wait_child(f, T)), 0);
        ck_assert_int_eq(gh_exit_code(&g, T), 0);
        ck_assert_int_eq(h_count_lines(out, "a: stopping (SIGTERM"), 2);
        ck_assert_int_eq(h_count_lines(out, "a: stopped ("), 1); /* the shutdown's, the last */
        ck_assert_int_eq(h_count_lines(out, " b: "), 0);
        ck_assert_int_eq(h_count_lines(out, " b["), 0);
        text = h_read_file(out);
        ck_assert_msg(strstr(text, "a: stopped (") && strstr(strstr(text, "a: stopped ("), "\n")[1] == 0, "%s", text);
        free(text);
        gh_cleanup(&g);
}
END_TEST

/* -f ends with 130 on an interrupt; logs and reopen are answered while a
 * shutdown is under way. */
START_TEST(test_logs_follow_interrupt_and_shutdown)
{
        struct gh g;
        pid_t f;
        char *out;

        ck_assert_int_eq(gh_init(&g), 0);
        const char *c = conf(&g, "",
                             "{ name = \"stubborn\"; stop_timeout = \"60s\"; stdout = \"%s\";\n"
                             "  command = [\"%s\", \"--ignore\", \"TERM\", \"--stamp\", \"%s\", \"--block\"]; }",
                             gh_path(&g, "stubborn.out"), TW, gh_path(&g, "stubborn.stamp"));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        ck_assert(h_wait_file(gh_path(&g, "stubborn.stamp"), T));
        f = follower(&g, "f.out", ARGV("--follow"));
        ck_assert(h_wait_lines(gh_path(&g, "f.out"), "stubborn: ready", 1, T));
        ck_assert_int_eq(kill(f, SIGINT), 0);
        ck_assert_int_eq(h_exit_code(h_wait_child(f, T)), 130);

        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert(h_wait_log(&g, "stubborn: stopping (", T));
        CTL(0, &g, &out, "logs", "stubborn");
        ck_assert_msg(strstr(out, "stubborn: stopping (SIGTERM, timeout 1min)"), "%s", out);
        CTL(0, &g, &out, "reopen");
        ck_assert_str_eq(out, "reopened 1 file\n");
        CTL(1, &g, &out, "restart", "stubborn");
        CTL(0, &g, NULL, "shutdown", "--force");
        ck_assert_int_eq(gh_exit_code(&g, T), 1);
        gh_cleanup(&g);
}
END_TEST

/* A follower whose reader stops reading (a pager at rest, a stalled pipe)
 * still ends at once on SIGINT, with 130: it waits for its output with
 * the signal let through, never in a write() that blocks it for good. */
START_TEST(test_logs_follow_interrupt_blocked_output)
{
        struct gh g;
        const char *fifo;
        int rfd, size, queued = 0;
        pid_t f;

        ck_assert_int_eq(gh_init(&g), 0);
        const char *c = conf(&g, "",
                             "{ name = \"w\"; type = \"oneshot\"; command = [\"%s\", \"--wait-file\", \"%s\", "
                             "\"--lines-fast\", \"200000\"]; }",
                             TW, gh_path(&g, "gate"));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        ck_assert(h_wait_log(&g, "w: started", T));
        /* the follower writes into a FIFO that nobody reads */
        fifo = gh_path(&g, "f.fifo");
        ck_assert_int_eq(mkfifo(fifo, 0600), 0);
        rfd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        ck_assert_int_ge(rfd, 0);
        size = fcntl(rfd, F_GETPIPE_SZ);
        ck_assert_int_gt(size, 0);
        f = follower(&g, "f.fifo", ARGV("-f"));
        ck_assert_ptr_nonnull(gh_write_file(&g, "gate", "go\n"));
        /* 200000 records are far more than the FIFO and the socket hold: the
         * FIFO is full long before w is done, and the follower has more to write */
        ck_assert(h_wait_log(&g, "w: done", 60000));
        ck_assert_int_eq(ioctl(rfd, FIONREAD, &queued), 0);
        ck_assert_int_gt(queued, size / 2);
        ck_assert(h_pid_alive(f));
        ck_assert_int_eq(kill(f, SIGINT), 0);
        ck_assert_int_eq(h_exit_code(h_wait_child(f, T)), 130);
        close(rfd);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

START_TEST(test_logs_usage)
{
        struct gh g;
        char *out;

        ck_assert_int_eq(gh_init(&g), 0);
        ck_assert_int_eq(
                gh_start(&g, conf(&g, "", "{ name = \"a\"; command = [\"%s\", \"--block\"]; }", TW), NULL, NULL), 0);
        ck_assert(h_wait_log(&g, "a: ready", T));
        CTL(1, &g, &out, "logs", "a", "nosuch");
        ck_assert_msg(strstr(out, "no such worker: nosuch"), "%s", out);
        CTL(2, &g, &out, "logs", "bad/name");
        CTL(2, &g, &out, "logs", "-n", "many");
        CTL(2, &g, &out, "logs", "-n", "-1");
        CTL(2, &g, &out, "status", "-f");
        CTL(2, &g, &out, "-n", "3", "reopen");
        CTL(2, &g, &out, "reopen", "a");
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        /* nobody answers */
        CTL(69, &g, &out, "logs");
        CTL(69, &g, &out, "reopen");
        gh_cleanup(&g);
}
END_TEST

/* A worker with instances: its name means every instance, also one a
 * scale adds while a follower reads. */
START_TEST(test_logs_instances)
{
        struct gh g;
        char *out;
        pid_t f;

        ck_assert_int_eq(gh_init(&g), 0);
        ck_assert_int_eq(gh_start(&g,
                                  conf(&g, "",
                                       "{ name = \"web\"; instances = 2; command = [\"%s\", \"--print\", \"1\", "
                                       "\"--block\"]; },\n"
                                       "{ name = \"web.x\"; command = [\"%s\", \"--print\", \"1\", \"--block\"]; }",
                                       TW, TW),
                                  NULL, NULL),
                         0);
        ck_assert(h_wait_log(&g, "web.1[stdout]: line 1", T));
        ck_assert(h_wait_log(&g, "web.2[stdout]: line 1", T));
        ck_assert(h_wait_log(&g, "web.x[stdout]: line 1", T));
        CTL(0, &g, &out, "logs", "web");
        ck_assert_msg(strstr(out, " web.1[stdout]: line 1\n") && strstr(out, " web.2[stdout]: line 1\n"), "%s", out);
        ck_assert_msg(!strstr(out, "web.x"), "%s", out);
        CTL(0, &g, &out, "logs", "web.2");
        ck_assert_msg(!strstr(out, "web.1") && strstr(out, " web.2[stdout]: line 1\n"), "%s", out);
        f = follower(&g, "f.out", ARGV("-f", "-n", "1", "web"));
        ck_assert(h_wait_lines(gh_path(&g, "f.out"), "web.", 1, T));
        CTL(0, &g, NULL, "scale", "web", "3");
        ck_assert(h_wait_lines(gh_path(&g, "f.out"), " web.3[stdout]: line 1", 1, T));
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        ck_assert_int_eq(h_exit_code(h_wait_child(f, T)), 0);
        ck_assert_int_eq(h_count_lines(gh_path(&g, "f.out"), "web.x"), 0);
        gh_cleanup(&g);
}
END_TEST

/* ---- a follower that never reads --------------------------------------------------- */

#define MILLION 1000000

static long long cpu_ms(pid_t pid)
{
        char path[64], buf[1024], *p;
        unsigned long long ut, st;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        f = fopen(path, "r");
        ck_assert_ptr_nonnull(f);
        ck_assert_ptr_nonnull(fgets(buf, sizeof buf, f));
        fclose(f);
        p = strrchr(buf, ')');
        ck_assert_ptr_nonnull(p);
        /* after the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
        ck_assert_int_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st), 2);
        return (long long)(ut + st) * 1000 / sysconf(_SC_CLK_TCK);
}

static int raw_connect(const char *path)
{
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
        ck_assert_msg(connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "connect %s: %s", path, strerror(errno));
        return fd;
}

/* One line (malloc'd, without its newline) read byte by byte, NULL on EOF or timeout. */
static char *raw_line(int fd, int timeout_ms)
{
        long long start = h_now_ns();
        size_t n = 0, cap = 256;
        char *buf = malloc(cap);

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                long long left = timeout_ms - h_ms_since(start);
                char ch;

                if (left <= 0 || poll(&p, 1, (int)left) <= 0 || read(fd, &ch, 1) != 1) {
                        free(buf);
                        return NULL;
                }
                if (ch == '\n') {
                        buf[n] = 0;
                        return buf;
                }
                if (n + 2 > cap)
                        buf = realloc(buf, cap *= 2);
                buf[n++] = ch;
        }
}

/* Every "big[stdout]: N" of graced's log, N = 1..MILLION once each in order.
 * Line by line with lengths (a sanitizer's strstr() measures the whole rest
 * of a 60 MB text at every call). */
static void assert_log_lossless(struct gh *g)
{
        static const char tag[] = " big[stdout]: ";
        size_t len, tl = sizeof tag - 1;
        char *log = h_read_file_len(g->log_path, &len), *end;
        long expect = 1, records = 0, bad = -1;

        ck_assert_ptr_nonnull(log);
        end = log + len;
        for (char *p = log; p < end;) {
                char *nl = memchr(p, '\n', (size_t)(end - p)), *t;

                if (!nl)
                        nl = end;
                t = memmem(p, (size_t)(nl - p), tag, tl);
                if (t) {
                        char *e;
                        long v = strtol(t + tl, &e, 10);

                        records++;
                        if ((e != nl || v != expect) && bad < 0)
                                bad = records;
                        expect = v + 1;
                }
                p = nl + 1;
        }
        free(log);
        ck_assert_msg(bad < 0, "record %ld of the log is out of sequence", bad);
        ck_assert_int_eq(records, MILLION);
}

/* One run of a worker writing a million lines once the gate opens; with a
 * follower that sends its request and then never reads (its socket is
 * returned in *stuck), or without. Returns graced's CPU time (ms) for it. */
static long long million_run(struct gh *g, bool with_stuck, int *stuck, long long *wall_ms)
{
        const char *gate = gh_path(g, "gate");
        char *line;
        long long t0, cpu;

        (void)unlink(gate);
        ck_assert_int_eq(gh_start(g,
                                  conf(g, "",
                                       "{ name = \"big\"; type = \"oneshot\"; command = [\"%s\", \"--wait-file\", "
                                       "\"%s\", \"--lines-fast\", \"%d\"]; }",
                                       TW, gate, MILLION),
                                  NULL, NULL),
                         0);
        ck_assert(h_wait_log(g, "big: started", T));
        *stuck = -1;
        if (with_stuck) {
                *stuck = raw_connect(sock(g));
                ck_assert_int_eq(write(*stuck, "{\"cmd\": \"logs\", \"follow\": true, \"lines\": 0}\n", 45), 45);
                line = raw_line(*stuck, T);
                ck_assert_msg(line && strcmp(line, "{\"ok\":true}") == 0, "answer: %s", line ? line : "(none)");
                free(line);
        }
        t0 = h_now_ns();
        ck_assert_ptr_nonnull(gh_write_file(g, "gate", "go\n"));
        ck_assert(h_wait_log(g, "big: done", 60000));
        *wall_ms = h_ms_since(t0);
        cpu = cpu_ms(g->pid);
        /* graced answers while the follower is stuck */
        CTL(0, g, NULL, "status");
        return cpu;
}

START_TEST(test_logs_stuck_follower)
{
        struct gh g;
        long long cpu_base, cpu_stuck, wall_base, wall_stuck, skipped = -1, last = 0, numbered = 0;
        bool done = false;
        int fd;

        ck_assert_int_eq(gh_init(&g), 0);
        cpu_base = million_run(&g, false, &fd, &wall_base);
        ck_assert_int_eq(gh_shutdown(&g, 30000), 0);
        assert_log_lossless(&g);
        ck_assert_int_eq(truncate(g.log_path, 0), 0);

        cpu_stuck = million_run(&g, true, &fd, &wall_stuck);
        assert_log_lossless(&g);
        ck_assert_msg(cpu_stuck <= cpu_base * 3 / 2 + 150,
                      "graced used %lld ms of CPU with a stuck follower, %lld ms without (wall %lld / %lld ms)",
                      cpu_stuck, cpu_base, wall_stuck, wall_base);

        /* now it reads: what it got before it stopped, the count of what it
         * missed, the rest; every line once, in order */
        while (!done) {
                char *l = raw_line(fd, T);
                struct json_object *o;
                const char *msg;

                ck_assert_msg(l, "the follower's stream ended before big's \"done\"");
                o = json_tokener_parse(l);
                ck_assert_msg(o, "not JSON: %s", l);
                if (h_json_has(o, "skipped")) {
                        ck_assert_int_eq(skipped, -1); /* told once */
                        skipped = h_json_int(o, "skipped");
                } else if ((msg = h_json_str(o, "msg")) && h_json_str(o, "stream")) {
                        long long v = strtoll(msg, NULL, 10);
                        ck_assert_int_gt(v, last);
                        ck_assert_msg(skipped >= 0 || v == last + 1, "line %lld after %lld, nothing said skipped", v,
                                      last);
                        last = v;
                        numbered++;
                } else if (msg && strcmp(msg, "done") == 0) {
                        done = true;
                }
                json_object_put(o);
                free(l);
        }
        ck_assert_int_gt(skipped, 0);
        ck_assert_int_eq(last, MILLION);
        ck_assert_int_eq(numbered + skipped, MILLION);
        close(fd);
        ck_assert_int_eq(gh_shutdown(&g, 30000), 0);
        gh_cleanup(&g);
}
END_TEST

/* gracectl shows the count in its place. */
START_TEST(test_logs_skipped_line)
{
        struct gh g;
        int fd;
        char *out;
        pid_t f;

        ck_assert_int_eq(gh_init(&g), 0);
        const char *c = conf(&g, "log_buffer = 5;",
                             "{ name = \"w\"; type = \"oneshot\"; command = [\"%s\", \"--wait-file\", \"%s\", "
                             "\"--lines-fast\", \"200000\"]; }",
                             TW, gh_path(&g, "gate"));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        ck_assert(h_wait_log(&g, "w: started", T));
        /* gracectl stopped (SIGSTOP) reads nothing for a while */
        f = follower(&g, "f.out", ARGV("-f"));
        ck_assert(h_wait_lines(gh_path(&g, "f.out"), "w: started", 1, T));
        ck_assert_int_eq(kill(f, SIGSTOP), 0);
        ck_assert_ptr_nonnull(gh_write_file(&g, "gate", "go\n"));
        ck_assert(h_wait_log(&g, "w: done", 60000));
        ck_assert_int_eq(kill(f, SIGCONT), 0);
        ck_assert(h_wait_lines(gh_path(&g, "f.out"), "w: done", 1, T));
        out = h_read_file(gh_path(&g, "f.out"));
        ck_assert_msg(strstr(out, "\n-- ") && strstr(out, " records skipped --\n"), "%s", out);
        free(out);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        ck_assert_int_eq(h_exit_code(h_wait_child(f, T)), 0);
        (void)fd;
        gh_cleanup(&g);
}
END_TEST

/* log_buffer = 0: nothing is kept, -f still follows. */
START_TEST(test_log_buffer_zero)
{
        struct gh g;
        char *out;
        pid_t f;

        ck_assert_int_eq(gh_init(&g), 0);
        start_ab(&g, "log_buffer = 0;");
        CTL(0, &g, &out, "logs");
        ck_assert_str_eq(out, "");
        /* -v: graced says when the follower is in */
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        ck_assert_int_eq(gh_start(&g, gh_path(&g, "graced.conf"), ARGV("-v"), NULL), 0);
        ck_assert(h_wait_log_count(&g, "a: ready", 2, T));
        f = follower(&g, "f.out", ARGV("-f", "b"));
        ck_assert(h_wait_log(&g, "control: logs -f requested", T));
        CTL(0, &g, NULL, "restart", "b");
        ck_assert(h_wait_lines(gh_path(&g, "f.out"), "b: started (pid", 1, T));
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        ck_assert_int_eq(h_exit_code(h_wait_child(f, T)), 0);
        ck_assert_int_eq(h_count_lines(gh_path(&g, "f.out"), " a: "), 0);
        ck_assert_int_eq(h_count_lines(gh_path(&g, "f.out"), " a["), 0);
        ck_assert_int_ge(h_count_lines(gh_path(&g, "f.out"), "b: stopping (SIGTERM"), 2);
        gh_cleanup(&g);
}
END_TEST

/* A reload applies a new log_buffer; a worker it removes keeps its
 * records until it is forgotten (the next reload). */
START_TEST(test_logs_reload)
{
        struct gh g;
        char *out, **v;
        size_t n;

        ck_assert_int_eq(gh_init(&g), 0);
        start_ab(&g, "");
        conf(&g, "log_buffer = 2;", "{ name = \"a\"; command = [\"%s\", \"--print\", \"1\", \"--wait-file\", \"%s\", "
                                    "\"--print-err\", \"2\", \"--block\"]; }",
             TW, gh_path(&g, "gate-a"));
        CTL(0, &g, NULL, "reload");
        ck_assert(h_wait_log(&g, "b: stopped", T));
        CTL(0, &g, &out, "logs", "b");
        v = records_of(out, &n);
        ck_assert_int_eq(n, 2);
        ck_assert_msg(strncmp(v[1], "b: stopped (", 12) == 0, "%s", out);
        free_strv(v);
        CTL(0, &g, &out, "logs", "a");
        v = records_of(out, &n);
        ck_assert_int_eq(n, 2);
        ck_assert_str_eq(v[0], "a[stderr]: line 1");
        ck_assert_str_eq(v[1], "a[stderr]: line 2");
        free_strv(v);
        /* the next reload forgets b, and its records */
        CTL(0, &g, NULL, "reload");
        CTL(1, &g, &out, "logs", "b");
        ck_assert_msg(strstr(out, "no such worker: b"), "%s", out);
        CTL(0, &g, &out, "logs");
        v = records_of(out, &n);
        ck_assert_int_eq(n, 2);
        ck_assert_msg(!strstr(out, "b[") && !strstr(out, "b:"), "%s", out);
        free_strv(v);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* ---- stdout = "/path" ------------------------------------------------------------- */

/* The worker's bytes as they are: no newline added to a last line, a line
 * longer than graced's piece size whole, stdout and stderr of one file in
 * the order written. */
START_TEST(test_file_raw)
{
        struct gh g;
        const char *F, *L;
        char *text, *want;
        size_t len;

        ck_assert_int_eq(gh_init(&g), 0);
        F = gh_path(&g, "w.out");
        L = gh_path(&g, "long.out");
        const char *c = conf(&g, "",
                             "{ name = \"w\"; type = \"oneshot\"; stdout = \"%s\"; stderr = \"%s\";\n"
                             "  command = [\"%s\", \"--print\", \"2\", \"--print-err\", \"1\", \"--print\", \"1\", "
                             "\"--no-newline\", \"--print-err\", \"1\"]; },\n"
                             "{ name = \"long\"; type = \"oneshot\"; stdout = \"%s\";\n"
                             "  command = [\"%s\", \"--print-bytes\", \"200000\", \"--no-newline\", \"--print\", "
                             "\"1\"]; }",
                             F, F, TW, L, TW);
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        ck_assert(h_wait_log(&g, "w: done", T));
        ck_assert(h_wait_log(&g, "long: done", T));
        text = h_read_file_len(F, &len);
        ck_assert_str_eq(text, "line 1\nline 2\nline 1\nline 1\nline 1");
        free(text);
        text = h_read_file_len(L, &len);
        want = malloc(200000 + 8);
        memset(want, 'x', 200000);
        memcpy(want + 200000, "\nline 1", 8);
        ck_assert_uint_eq(len, 200007);
        ck_assert(memcmp(text, want, len) == 0);
        free(want);
        free(text);
        ck_assert_int_eq(h_count_log(&g, "[stdout]"), 0);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* The numbers 1..N each once, in order, whole lines, across the files. */
static long check_numbers(const char *const *paths)
{
        long expect = 1;

        for (size_t i = 0; paths[i]; i++) {
                size_t len;
                char *text = h_read_file_len(paths[i], &len), *p = text, *e;

                ck_assert_msg(text, "%s: %s", paths[i], strerror(errno));
                ck_assert_msg(len > 0 && text[len - 1] == '\n', "%s does not end with a whole line", paths[i]);
                while (p < text + len) {
                        long v = strtol(p, &e, 10);

                        ck_assert_msg(*e == '\n' && v == expect, "%s: %ld where %ld was due", paths[i], v, expect);
                        expect++;
                        p = e + 1;
                }
                free(text);
        }
        return expect - 1;
}

/* logrotate's way: rename the file, then `gracectl reopen` (or SIGUSR2);
 * the writer never stops, and no line is lost, doubled or split. */
START_TEST(test_reopen_continuous)
{
        struct gh g;
        const char *F, *F1, *F2, *stop;
        char *out;
        long total;

        ck_assert_int_eq(gh_init(&g), 0);
        F = gh_path(&g, "app.log");
        F1 = gh_path(&g, "app.log.1");
        F2 = gh_path(&g, "app.log.2");
        stop = gh_path(&g, "stop");
        const char *c = conf(&g, "",
                             "{ name = \"w\"; type = \"oneshot\"; stdout = \"%s\";\n"
                             "  command = [\"/bin/sh\", \"-c\", "
                             "\"i=0; while [ ! -e %s ]; do i=$((i+1)); echo $i; done\"]; }",
                             F, stop);
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        ck_assert(h_wait_lines(F, "", 1000, T));
        ck_assert_int_eq(rename(F, F2), 0);
        CTL(0, &g, &out, "reopen");
        ck_assert_str_eq(out, "reopened 1 file\n");
        ck_assert(h_wait_lines(F, "", 1000, T)); /* the new file, still written */
        ck_assert_int_eq(rename(F2, gh_path(&g, "app.log.3")), 0);
        ck_assert_int_eq(rename(F, F2), 0);
        ck_assert_int_eq(rename(gh_path(&g, "app.log.3"), F1), 0); /* oldest: .1 ... newest: app.log */
        /* F1 = the first part, F2 = the second; now by signal */
        ck_assert_int_eq(gh_signal(&g, SIGUSR2), 0);
        ck_assert(h_wait_lines(F, "", 1000, T));
        ck_assert(h_wait_log(&g, "reopened 1 file", T));
        ck_assert_ptr_nonnull(gh_write_file(&g, "stop", "\n"));
        ck_assert(h_wait_log(&g, "w: done", T));
        total = check_numbers((const char *const[]){ F1, F2, F, NULL });
        ck_assert_int_gt(total, 3000);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* A path that cannot be opened again keeps the old file: exit 1, the
 * reason, and the lines go on into the old file. */
START_TEST(test_reopen_failure)
{
        struct gh g;
        const char *D, *F, *moved;
        char *out;

        ck_assert_int_eq(gh_init(&g), 0);
        D = gh_path(&g, "logs");
        F = gh_path(&g, "logs/app.log");
        moved = gh_path(&g, "logs.old/app.log");
        ck_assert_int_eq(mkdir(D, 0755), 0);
        const char *c = conf(&g, "",
                             "{ name = \"w\"; type = \"oneshot\"; stdout = \"%s\";\n"
                             "  command = [\"/bin/sh\", \"-c\", "
                             "\"i=0; while [ ! -e %s ]; do i=$((i+1)); echo $i; done\"]; }",
                             F, gh_path(&g, "stop"));
        ck_assert_int_eq(gh_start(&g, c, NULL, NULL), 0);
        ck_assert(h_wait_lines(F, "", 100, T));
        ck_assert_int_eq(rename(D, gh_path(&g, "logs.old")), 0);
        CTL(1, &g, &out, "reopen");
        ck_assert_msg(strstr(out, F) && strstr(out, "No such file or directory"), "%s", out);
        ck_assert(h_wait_log(&g, "reopening ", T));
        {
                int before = h_count_lines(moved, "");
                ck_assert(h_wait_lines(moved, "", before + 100, T)); /* still written */
        }
        ck_assert_ptr_nonnull(gh_write_file(&g, "stop", "\n"));
        ck_assert(h_wait_log(&g, "w: done", T));
        ck_assert_int_gt(check_numbers((const char *const[]){ moved, NULL }), 200);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* A write that fails (a full disk: /dev/full) drops the output and is
 * logged once, not once per line. */
START_TEST(test_file_write_error_once)
{
        struct gh g;
        const char *gate;

        ck_assert_int_eq(gh_init(&g), 0);
        gate = gh_path(&g, "gate");
        ck_assert_int_eq(gh_start(&g,
                                  conf(&g, "",
                                       "{ name = \"w\"; type = \"oneshot\"; stdout = \"/dev/full\";\n"
                                       "  command = [\"%s\", \"--print\", \"1\", \"--wait-file\", \"%s\", "
                                       "\"--print\", \"2\"]; }",
                                       TW, gate),
                                  NULL, NULL),
                         0);
        ck_assert(h_wait_log(&g, "w: error: writing /dev/full: No space left on device; its output is lost until "
                                 "writing works again",
                             T));
        ck_assert_ptr_nonnull(gh_write_file(&g, "gate", "go\n"));
        ck_assert(h_wait_log(&g, "w: done", T));
        ck_assert_int_eq(h_count_log(&g, "writing /dev/full"), 1);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* A FIFO nobody reads for a while: graced does not block on it (status
 * answers), the worker waits, and once the FIFO is read every line comes,
 * in order, once. */
START_TEST(test_file_fifo)
{
        enum { LINES = 200000 };
        struct gh g;
        const char *F;
        char *buf;
        size_t n = 0, cap = 4 << 20;
        long long start;
        int fd, avail = 0;

        ck_assert_int_eq(gh_init(&g), 0);
        F = gh_path(&g, "fifo");
        ck_assert_int_eq(mkfifo(F, 0600), 0);
        fd = open(F, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* a reader, so that graced may open it */
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(gh_start(&g,
                                  conf(&g, "",
                                       "{ name = \"w\"; type = \"oneshot\"; stdout = \"%s\";\n"
                                       "  command = [\"%s\", \"--lines-fast\", \"%d\"]; }",
                                       F, TW, LINES),
                                  NULL, NULL),
                         0);
        /* the FIFO fills up: graced's writes get EAGAIN from now on (no
         * event says a pipe is full: its fill is looked at, bounded) */
        start = h_now_ns();
        while (ioctl(fd, FIONREAD, &avail) == 0 && avail < 60000 && h_ms_since(start) < T)
                h_sleep_ms(5);
        ck_assert_int_ge(avail, 60000);
        CTL(0, &g, NULL, "status");
        ck_assert_int_eq(h_count_log(&g, "w: done"), 0);
        buf = malloc(cap);
        start = h_now_ns();
        while (h_ms_since(start) < 30000) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t k;

                if (poll(&p, 1, 1000) < 0)
                        break;
                k = read(fd, buf + n, cap - n);
                if (k > 0)
                        n += (size_t)k;
                else if (k == 0 && h_count_log(&g, "w: done") > 0)
                        break; /* graced closed it and the worker is done */
                if (n == cap)
                        break;
        }
        {
                long expect = 1;
                for (char *p = buf, *e; p < buf + n; p = e + 1) {
                        long v = strtol(p, &e, 10);
                        ck_assert_msg(*e == '\n' && v == expect, "%ld where %ld was due", v, expect);
                        expect++;
                }
                ck_assert_int_eq(expect - 1, LINES);
        }
        free(buf);
        close(fd);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("logs");
        TCase *tc;

        tc = h_tcase(s, "logbuf", 30);
        tcase_add_test(tc, test_unit_rings);
        tcase_add_test(tc, test_unit_behind);
        tcase_add_test(tc, test_unit_unbuffered);
        tcase_add_test(tc, test_unit_image);

        tc = h_tcase(s, "logs", 60);
        tcase_add_test(tc, test_logs_order);
        tcase_add_test(tc, test_logs_own_records);
        tcase_add_test(tc, test_logs_follow_until_exit);
        tcase_add_test(tc, test_logs_follow_interrupt_and_shutdown);
        tcase_add_test(tc, test_logs_follow_interrupt_blocked_output);
        tcase_add_test(tc, test_logs_usage);
        tcase_add_test(tc, test_log_buffer_zero);
        tcase_add_test(tc, test_logs_reload);
        tcase_add_test(tc, test_logs_instances);

        tc = h_tcase(s, "slow-follower", 180);
        tcase_add_test(tc, test_logs_stuck_follower);
        tcase_add_test(tc, test_logs_skipped_line);

        tc = h_tcase(s, "files", 60);
        tcase_add_test(tc, test_file_raw);
        tcase_add_test(tc, test_reopen_continuous);
        tcase_add_test(tc, test_reopen_failure);
        tcase_add_test(tc, test_file_write_error_once);
        tcase_add_test(tc, test_file_fifo);
        return s;
}

int main(void)
{
        (void)h_graced();
        (void)h_gracectl();
        (void)h_testworker();
        return h_run_suite(suite());
}
