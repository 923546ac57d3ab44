/* check_envfile.c - unit tests of env_file (envfile.c): the syntax of
 * systemd's EnvironmentFile= case by case, what graced refuses where
 * systemd only warns (with the line), the limits, and the reading of real
 * files (missing, optional, not regular, too large, several in order). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "envfile.h"
#include "util.h"

/* A text with its length: it may hold NUL bytes. */
#define T(s) s, sizeof(s) - 1

/* ---- what the syntax means -------------------------------------------------- */

static const struct {
        const char *text;
        size_t len;
        const char *vars[6]; /* expected "KEY=VALUE", in order */
} good[] = {
        { T("A=b\n"), { "A=b" } },
        { T("A=b"), { "A=b" } }, /* no newline at the end */
        { T(""), { NULL } },
        { T("\n\n   \n\t\n"), { NULL } },
        { T("  A = b  \n"), { "A=b" } }, /* blanks around the name, after "=", at the end */
        { T("A   =1"), { "A=1" } },
        { T("export A=b\n"), { "A=b" } },
        { T("  export \t A=b"), { "A=b" } },
        { T("export=1"), { "export=1" } }, /* a variable called export */
        { T("export =1"), { "export=1" } },
        { T("exportA=1"), { "exportA=1" } },
        { T("# comment\n; another\n\nA=1\n   # indented\n"), { "A=1" } },
        { T("#c\\\nA=1"), { "A=1" } }, /* a comment is never continued */
        { T("A=hello  big world  \n"), { "A=hello  big world" } }, /* inner blanks kept, trailing ones not */
        { T("A=x#y ;z"), { "A=x#y ;z" } },                         /* # and ; in a value are characters */
        { T("A=b=c"), { "A=b=c" } },
        { T("A=$HOME ${X}"), { "A=$HOME ${X}" } }, /* no expansion */
        { T("A='  sp  '\n"), { "A=  sp  " } },
        { T("A='a\\nb $X \"q\" \\'"), { "A=a\\nb $X \"q\" \\" } }, /* single quotes: verbatim */
        { T("A=\"x\\\"y\\\\z\\$w\\`v\""), { "A=x\"y\\z$w`v" } },   /* \" \\ \$ \` */
        { T("A=\"a\\nb\\tc\\qd\""), { "A=a\\nb\\tc\\qd" } },         /* other backslashes stay */
        { T("A=\"a\\\nb\""), { "A=ab" } },                         /* continued in double quotes */
        { T("A=one \\\ntwo\n"), { "A=one two" } },                 /* continued unquoted */
        { T("A=\\\n  x"), { "A=  x" } },
        { T("A='l1\nl2'\nB=2"), { "A=l1\nl2", "B=2" } }, /* quotes span lines */
        { T("A=\"l1\nl2\"\nB=2"), { "A=l1\nl2", "B=2" } },
        { T("A=a\\ b\\#c\\\\"), { "A=a b#c\\" } }, /* unquoted: a backslash takes the next character */
        { T("A=\\\"x\\\""), { "A=\"x\"" } },
        { T("A=a\\ "), { "A=a " } },   /* an escaped blank is kept at the end */
        { T("A=a 'b'"), { "A=a 'b'" } }, /* a quote inside an unquoted part is a character */
        { T("A=\"a\"'b'c"), { "A=abc" } }, /* parts are joined */
        { T("A=\"a\"  \"b\"  "), { "A=ab" } },
        { T("A=\n"), { "A=" } },
        { T("A=''"), { "A=" } },
        { T("A=\"\""), { "A=" } },
        { T("A="), { "A=" } },
        { T("A=1\nB=2\nA=3\n"), { "A=3", "B=2" } }, /* a later line wins, in place */
        { T("A=1\r\nB=2\r\n"), { "A=1", "B=2" } },  /* CRLF */
        { T("A=h\xc3\xa9llo w\xc3\xb6rld"), { "A=h\xc3\xa9llo w\xc3\xb6rld" } },
        { T("_X1=1\nx=2\n"), { "_X1=1", "x=2" } },
};

START_TEST(test_good)
{
        struct envfile_vars v = { 0 };
        struct envfile_error err = { 0 };
        size_t n = 0;
        int r = envfile_parse(good[_i].text, good[_i].len, &v, &err);

        ck_assert_msg(r == 0, "case %d: %d, line %d: %s", _i, r, err.line, err.msg);
        while (n < ELEMENTSOF(good[_i].vars) && good[_i].vars[n])
                n++;
        ck_assert_msg(v.n == n, "case %d: %zu variables, expected %zu", _i, v.n, n);
        for (size_t i = 0; i < n; i++)
                ck_assert_msg(strcmp(v.v[i], good[_i].vars[i]) == 0, "case %d: [%zu] is \"%s\", expected \"%s\"", _i, i,
                              v.v[i], good[_i].vars[i]);
        ck_assert(n == 0 ? v.v == NULL : v.v[n] == NULL);
        envfile_vars_done(&v);
}
END_TEST

/* ---- what it refuses ---------------------------------------------------------- */

static const struct {
        const char *text;
        size_t len;
        int line;
        const char *msg;
} bad[] = {
        { T("FOO\n"), 1, "missing \"=\" after \"FOO\"" },
        { T("A=1\nFOO BAR  \nB=2\n"), 2, "missing \"=\" after \"FOO BAR\"" },
        { T("A=1\n\n  BAD"), 3, "missing \"=\" after \"BAD\"" }, /* at the end of the file */
        { T("export FOO\n"), 1, "missing \"=\" after \"export FOO\"" },
        { T("1A=x"), 1, "invalid variable name \"1A\" (letters, digits and _, not beginning with a digit)" },
        { T("A=1\nA-B=x"), 2, "invalid variable name \"A-B\" (letters, digits and _, not beginning with a digit)" },
        { T("A B=1"), 1, "invalid variable name \"A B\" (letters, digits and _, not beginning with a digit)" },
        { T("\"A\"=1"), 1, "invalid variable name \"\\\"A\\\"\" (letters, digits and _, not beginning with a digit)" },
        { T("\x01" "A=1"), 1, "invalid variable name \"\\x01A\" (letters, digits and _, not beginning with a digit)" },
        { T("=x"), 1, "missing variable name before \"=\"" },
        { T("  = x\n"), 1, "missing variable name before \"=\"" },
        { T("A='abc\nB=2\n"), 1, "unterminated single quote" },
        { T("X=1\n\nA=\"abc\\\""), 3, "unterminated double quote" },
        { T("A=\"abc\\"), 1, "unterminated double quote" },
        { T("A=x 'y\nB='z\n"), 2, "unterminated single quote" }, /* the first quote was a character */
        { T("A=ok\nB=\xff\n"), 2, "invalid UTF-8 in the value of B" },
        { T("A='\xc3('"), 1, "invalid UTF-8 in the value of A" },
        { T("A=1\nB=\0x\n"), 2, "contains a NUL byte" },
        { T("# \0\n"), 1, "contains a NUL byte" },
};

START_TEST(test_bad)
{
        struct envfile_vars v = { 0 };
        struct envfile_error err = { .file = "keep" };
        int r = envfile_parse(bad[_i].text, bad[_i].len, &v, &err);

        ck_assert_msg(r == -EINVAL, "case %d: %d", _i, r);
        ck_assert_msg(err.line == bad[_i].line, "case %d: line %d, expected %d (%s)", _i, err.line, bad[_i].line,
                      err.msg);
        ck_assert_msg(strcmp(err.msg, bad[_i].msg) == 0, "case %d: \"%s\", expected \"%s\"", _i, err.msg, bad[_i].msg);
        ck_assert_str_eq(err.file, "keep"); /* the parser does not know the file */
        envfile_vars_done(&v);
}
END_TEST

/* What was read before the problem is kept (the caller frees it). */
START_TEST(test_bad_keeps_earlier)
{
        struct envfile_vars v = { 0 };
        struct envfile_error err = { 0 };

        ck_assert_int_eq(envfile_parse(T("A=1\nB=2\nnope\nC=3\n"), &v, &err), -EINVAL);
        ck_assert_uint_eq(v.n, 2);
        ck_assert_str_eq(v.v[1], "B=2");
        envfile_vars_done(&v);
        ck_assert_ptr_null(v.v);
        ck_assert_uint_eq(v.n, 0);
}
END_TEST

/* Several texts into one set: later ones override earlier ones in place. */
START_TEST(test_merge)
{
        struct envfile_vars v = { 0 };
        struct envfile_error err = { 0 };
        char **all;

        ck_assert_int_eq(envfile_parse(T("A=1\nB=2\n"), &v, &err), 0);
        ck_assert_int_eq(envfile_parse(T("B=two\nC=3\nAB=x\n"), &v, &err), 0);
        all = envfile_vars_steal(&v);
        ck_assert_ptr_null(v.v);
        ck_assert_str_eq(all[0], "A=1");
        ck_assert_str_eq(all[1], "B=two");
        ck_assert_str_eq(all[2], "C=3");
        ck_assert_str_eq(all[3], "AB=x");
        ck_assert_ptr_null(all[4]);
        strv_free(all);
}
END_TEST

START_TEST(test_limits)
{
        struct envfile_vars v = { 0 };
        struct envfile_error err = { 0 };
        struct sbuf b = { 0 };

        /* ENVFILE_MAX_VARS variables are fine, one more is not */
        for (int i = 0; i < ENVFILE_MAX_VARS; i++)
                sbuf_addf(&b, "V%d=%d\n", i, i);
        ck_assert_int_eq(envfile_parse(b.p, b.len, &v, &err), 0);
        ck_assert_uint_eq(v.n, ENVFILE_MAX_VARS);
        /* redefining one is no new variable */
        ck_assert_int_eq(envfile_parse(T("V7=again\n"), &v, &err), 0);
        ck_assert_str_eq(v.v[7], "V7=again");
        ck_assert_int_eq(envfile_parse(T("\nONE_MORE=1\n"), &v, &err), -EINVAL);
        ck_assert_int_eq(err.line, 2);
        ck_assert_str_eq(err.msg, "more than 4096 variables");
        envfile_vars_done(&v);
        sbuf_free(&b);

        /* ENVFILE_MAX_LINES lines are fine (with their last newline), one more is not */
        for (int i = 0; i < ENVFILE_MAX_LINES; i++)
                sbuf_adds(&b, "\n");
        ck_assert_int_eq(envfile_parse(b.p, b.len, &v, &err), 0);
        sbuf_adds(&b, "#");
        ck_assert_int_eq(envfile_parse(b.p, b.len, &v, &err), -EINVAL);
        ck_assert_int_eq(err.line, ENVFILE_MAX_LINES + 1);
        ck_assert_str_eq(err.msg, "more than 100000 lines");
        envfile_vars_done(&v);
        sbuf_free(&b);
}
END_TEST

START_TEST(test_path)
{
        bool opt = true;

        ck_assert_str_eq(envfile_path("/etc/default/web", &opt), "/etc/default/web");
        ck_assert(!opt);
        ck_assert_str_eq(envfile_path("-/etc/web/local.env", &opt), "/etc/web/local.env");
        ck_assert(opt);
}
END_TEST

START_TEST(test_error_format)
{
        struct envfile_error e = { .file = "/etc/x", .line = 3, .msg = "unterminated single quote" };
        char *s = envfile_error_format(&e);

        ck_assert_str_eq(s, "/etc/x:3: unterminated single quote");
        free(s);
        e.line = 0;
        snprintf(e.msg, sizeof e.msg, "No such file or directory");
        s = envfile_error_format(&e);
        ck_assert_str_eq(s, "/etc/x: No such file or directory");
        free(s);
}
END_TEST

/* ---- files ------------------------------------------------------------------------- */

static char tmp[] = "/tmp/check_envfile.XXXXXX";

static void tmp_setup(void) { ck_assert_ptr_nonnull(mkdtemp(tmp)); }

static void tmp_teardown(void)
{
        char *cmd = xasprintf("rm -rf '%s'", tmp);

        ck_assert_int_eq(system(cmd), 0);
        free(cmd);
        strcpy(tmp, "/tmp/check_envfile.XXXXXX");
}

/* tmp/name with the text (len bytes); its path (malloc'd). */
static char *put(const char *name, const char *text, size_t len)
{
        char *p = xasprintf("%s/%s", tmp, name);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write_all(fd, text, len), 0);
        close(fd);
        return p;
}

/* Loads the specs (NULL-terminated); the result, err as it was left. */
static int load(char *const *specs, struct envfile_vars *v, struct envfile_error *err)
{
        *v = (struct envfile_vars){ 0 };
        return envfile_load(specs, v, err);
}

START_TEST(test_load_in_order)
{
        char *a = put("a.env", T("A=1\nB=from-a\n")), *b = put("b.env", T("export B=from-b\nC='3'\n"));
        char *opt = xasprintf("-%s/missing.env", tmp), *optdir = xasprintf("-%s/no-dir/x.env", tmp);
        char *specs[] = { a, opt, b, optdir, NULL };
        struct envfile_vars v;
        struct envfile_error err = { 0 };

        ck_assert_int_eq(load(specs, &v, &err), 0);
        ck_assert_uint_eq(v.n, 3);
        ck_assert_str_eq(v.v[0], "A=1");
        ck_assert_str_eq(v.v[1], "B=from-b");
        ck_assert_str_eq(v.v[2], "C=3");
        ck_assert_ptr_null(err.file);
        envfile_vars_done(&v);
        /* none at all */
        ck_assert_int_eq(load(NULL, &v, &err), 0);
        ck_assert_uint_eq(v.n, 0);
        free(a);
        free(b);
        free(opt);
        free(optdir);
}
END_TEST

START_TEST(test_load_missing)
{
        char *missing = xasprintf("%s/missing.env", tmp), *specs[] = { missing, NULL };
        struct envfile_vars v;
        struct envfile_error err = { 0 };
        char *s;

        ck_assert_int_eq(load(specs, &v, &err), -ENOENT);
        ck_assert_str_eq(err.file, missing);
        ck_assert_int_eq(err.line, 0);
        s = envfile_error_format(&err);
        ck_assert_str_eq(s + strlen(tmp), "/missing.env: No such file or directory");
        free(s);
        envfile_vars_done(&v);
        free(missing);
}
END_TEST

/* "-" forgives a missing file only: a bad line is still an error. */
START_TEST(test_load_optional_bad)
{
        char *p = put("bad.env", T("A=1\n\n9X=2\n")), *opt = xasprintf("-%s", p), *specs[] = { opt, NULL };
        struct envfile_vars v;
        struct envfile_error err = { 0 };
        char *s;

        ck_assert_int_eq(load(specs, &v, &err), -EINVAL);
        s = envfile_error_format(&err);
        ck_assert_str_eq(s + strlen(tmp),
                         "/bad.env:3: invalid variable name \"9X\" (letters, digits and _, not beginning with a digit)");
        free(s);
        envfile_vars_done(&v);
        free(p);
        free(opt);
}
END_TEST

/* Only regular files are read: a FIFO must not block, a device not be read forever. */
START_TEST(test_load_not_regular)
{
        char *fifo = xasprintf("%s/fifo", tmp), *dir = xasprintf("%s/d", tmp), zero[] = "/dev/zero",
             null[] = "-/dev/null";
        char *s1[] = { fifo, NULL }, *s2[] = { dir, NULL }, *s3[] = { zero, NULL }, *s4[] = { null, NULL };
        struct envfile_vars v;
        struct envfile_error err = { 0 };

        ck_assert_int_eq(mkfifo(fifo, 0644), 0);
        ck_assert_int_eq(mkdir(dir, 0755), 0);
        ck_assert_int_eq(load(s1, &v, &err), -EINVAL);
        ck_assert_str_eq(err.msg, "not a regular file (a FIFO)");
        ck_assert_int_eq(load(s2, &v, &err), -EISDIR);
        ck_assert_str_eq(err.msg, "Is a directory");
        ck_assert_int_eq(load(s3, &v, &err), -EINVAL);
        ck_assert_str_eq(err.msg, "not a regular file (a character device)");
        ck_assert_int_eq(load(s4, &v, &err), -EINVAL); /* exists: "-" does not help */
        ck_assert_str_eq(err.file, "/dev/null");
        envfile_vars_done(&v);
        free(fifo);
        free(dir);
}
END_TEST

START_TEST(test_load_size)
{
        char *big = xmalloc(ENVFILE_MAX_SIZE + 1), *p, *specs[2] = { NULL, NULL };
        struct envfile_vars v;
        struct envfile_error err = { 0 };

        /* 1 MiB exactly: comment lines of 1024 bytes, then one more byte */
        for (size_t i = 0; i < ENVFILE_MAX_SIZE; i++)
                big[i] = i % 1024 == 0 ? '#' : i % 1024 == 1023 ? '\n' : 'x';
        big[ENVFILE_MAX_SIZE] = '\n';
        p = put("max.env", big, ENVFILE_MAX_SIZE);
        specs[0] = p;
        ck_assert_int_eq(load(specs, &v, &err), 0);
        free(p);
        p = put("big.env", big, ENVFILE_MAX_SIZE + 1);
        specs[0] = p;
        ck_assert_int_eq(load(specs, &v, &err), -EFBIG);
        ck_assert_str_eq(err.msg, "larger than 1 MiB");
        ck_assert_int_eq(err.line, 0);
        envfile_vars_done(&v);
        free(p);
        free(big);
}
END_TEST

static Suite *envfile_suite(void)
{
        Suite *s = suite_create("envfile");
        TCase *syntax = tcase_create("syntax"), *files = tcase_create("files");

        tcase_add_loop_test(syntax, test_good, 0, ELEMENTSOF(good));
        tcase_add_loop_test(syntax, test_bad, 0, ELEMENTSOF(bad));
        tcase_add_test(syntax, test_bad_keeps_earlier);
        tcase_add_test(syntax, test_merge);
        tcase_add_test(syntax, test_limits);
        tcase_add_test(syntax, test_path);
        tcase_add_test(syntax, test_error_format);
        suite_add_tcase(s, syntax);

        tcase_add_checked_fixture(files, tmp_setup, tmp_teardown);
        tcase_add_test(files, test_load_in_order);
        tcase_add_test(files, test_load_missing);
        tcase_add_test(files, test_load_optional_bad);
        tcase_add_test(files, test_load_not_regular);
        tcase_add_test(files, test_load_size);
        suite_add_tcase(s, files);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(envfile_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
