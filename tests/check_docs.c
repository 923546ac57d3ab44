/* check_docs.c - the documents a user's clone holds stay true and stand
 * alone: every option and command the programs' --help lists is in their
 * man page, no document points outside the project, and the build rules the
 * README promises (`make run` builds gracectl too) hold. */
#include <check.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "util.h"

/* The source tree: tests/data's parent's parent. */
static char *srcdir_path(const char *rel)
{
        char *top = xstrdup(h_data()), *p;

        for (int i = 0; i < 2; i++) {
                p = strrchr(top, '/');
                ck_assert_ptr_nonnull(p);
                *p = '\0';
        }
        p = h_path(top, rel);
        free(top);
        return p;
}

static char *read_src(const char *rel)
{
        char *path = srcdir_path(rel), *text = h_read_file(path);

        ck_assert_msg(text, "cannot read %s", path);
        free(path);
        return text;
}

/* The project's own documents name no file outside it. */
START_TEST(test_docs_stand_alone)
{
        static const char *const docs[] = {
                "README.md",          "daemon/graced.8.in", "daemon/gracectl.1.in", "conf/graced.conf.5.in",
                "conf/graced.conf",   "conf/dev.conf",      "units/graced.service.in",
                "units/graced@.service.in", "conf/examples/ci.conf", "conf/examples/pod.conf",
                "conf/examples/kubernetes.yaml",
        };
        static const char *const outside[] = { "SPEC.md", "STYLE.md", "../shared", "SPEC \"", "SPEC's" };

        for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
                char *text = read_src(docs[i]);
                for (size_t j = 0; j < sizeof outside / sizeof *outside; j++)
                        ck_assert_msg(!strstr(text, outside[j]), "%s refers to \"%s\", which a clone does not have",
                                      docs[i], outside[j]);
                free(text);
        }
}
END_TEST

/* "\-\-" then opt with every '-' escaped. */
static void esc_hyphens(const char *opt, char *out, size_t len)
{
        size_t k = (size_t)snprintf(out, len, "\\-\\-");

        for (; *opt && k + 3 < len; opt++) {
                if (*opt == '-')
                        out[k++] = '\\';
                out[k++] = *opt;
        }
        out[k] = '\0';
}

/* Each "--long-option" of `PROGRAM --help` appears in the man page as
 * "\-\-long-option". */
static void check_options(const char *program, const char *page)
{
        char *help = NULL, *man = read_src(page);
        int st = h_run((const char *const[]){ program, "--help", NULL }, NULL, 10000, &help);
        size_t found = 0;

        ck_assert_int_eq(h_exit_code(st), 0);
        ck_assert_ptr_nonnull(help);
        for (const char *p = help; (p = strstr(p, "--")); p += 2) {
                char opt[64], roff[80], esc[160];
                size_t n = 0;

                while (n < sizeof opt - 1 && (isalnum((unsigned char)p[2 + n]) || p[2 + n] == '-'))
                        opt[n] = p[2 + n], n++;
                opt[n] = '\0';
                if (n == 0)
                        continue;
                /* man pages escape hyphens: "\-\-print\-plan" or "\-\-print-plan" */
                snprintf(roff, sizeof roff, "\\-\\-%s", opt);
                esc_hyphens(opt, esc, sizeof esc);
                ck_assert_msg(strstr(man, roff) || strstr(man, esc), "%s --help lists --%s, %s does not", program,
                              opt, page);
                found++;
        }
        ck_assert_uint_gt(found, 3);
        free(help);
        free(man);
}

START_TEST(test_graced_options_documented) { check_options(h_graced(), "daemon/graced.8.in"); }
END_TEST

START_TEST(test_gracectl_options_documented) { check_options(h_gracectl(), "daemon/gracectl.1.in"); }
END_TEST

/* The words of the completion's list of commands, space-separated with a
 * space at each end (" status start ... "). */
static char *completion_commands(void)
{
        char *text = read_src("contrib/bash-completion/gracectl"), *p, *e, *out;

        p = strstr(text, "local commands='");
        ck_assert_msg(p, "contrib/bash-completion/gracectl has no list of commands");
        p += strlen("local commands='");
        e = strchr(p, '\'');
        ck_assert_ptr_nonnull(e);
        ck_assert_int_gt(asprintf(&out, " %.*s ", (int)(e - p), p), 0);
        free(text);
        return out;
}

/* Every command of `gracectl --help` has its own entry in gracectl(1) and
 * is completed by the bash completion. */
START_TEST(test_gracectl_commands_documented)
{
        char *help = NULL, *man = read_src("daemon/gracectl.1.in"), *save = NULL, *comp = completion_commands();
        int st = h_run((const char *const[]){ h_gracectl(), "--help", NULL }, NULL, 10000, &help);
        bool in_commands = false;
        size_t found = 0;

        ck_assert_int_eq(h_exit_code(st), 0);
        for (char *l = strtok_r(help, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char cmd[32], entry[48], entry_bi[48];

                if (strcmp(l, "Commands:") == 0) {
                        in_commands = true;
                        continue;
                }
                if (strncmp(l, "  ", 2) != 0)
                        in_commands = false; /* strtok_r skips blank lines: the next heading ends the list */
                if (!in_commands || !islower((unsigned char)l[2]) || sscanf(l + 2, "%31[a-z-]", cmd) != 1)
                        continue;
                /* an entry of the COMMANDS list: ".TP\n.B reload" or ".TP\n.BI stop \" NAME\"" */
                snprintf(entry, sizeof entry, ".TP\n.B %s", cmd);
                snprintf(entry_bi, sizeof entry_bi, ".TP\n.BI %s ", cmd);
                ck_assert_msg(strstr(man, entry) || strstr(man, entry_bi), "gracectl --help lists %s, gracectl.1 has no entry for it",
                              cmd);
                snprintf(entry, sizeof entry, " %s ", cmd);
                ck_assert_msg(strstr(comp, entry), "gracectl --help lists %s, the bash completion does not", cmd);
                found++;
        }
        ck_assert_uint_ge(found, 6);
        free(help);
        free(man);
        free(comp);
}
END_TEST

/* The README's "make run" gives a second terminal a gracectl to use, and
 * the build prints no warning of ar's (automake's default ARFLAGS "cru"). */
START_TEST(test_build_rules)
{
        char *mk = read_src("Makefile.am"), *run = strstr(mk, "\nrun:"), *eol, *ar;

        ck_assert_msg(run, "Makefile.am has no run target");
        eol = strchr(run + 1, '\n');
        ck_assert_ptr_nonnull(eol);
        *eol = '\0';
        ck_assert_msg(strstr(run, "daemon/graced") && strstr(run, "daemon/gracectl"), "run target: %s", run + 1);
        *eol = '\n';
        ar = strstr(mk, "\nARFLAGS = ");
        ck_assert_msg(ar, "Makefile.am keeps automake's ARFLAGS (cru): ar warns on every build");
        eol = strchr(ar + 1, '\n');
        ck_assert_ptr_nonnull(eol);
        *eol = '\0';
        ck_assert_msg(!strchr(ar + 11, 'u'), "ARFLAGS has u: %s", ar + 1);
        free(mk);
}
END_TEST

static Suite *docs_suite(void)
{
        Suite *s = suite_create("docs");
        TCase *tc = h_tcase(s, "docs", 30);

        tcase_add_test(tc, test_docs_stand_alone);
        tcase_add_test(tc, test_graced_options_documented);
        tcase_add_test(tc, test_gracectl_options_documented);
        tcase_add_test(tc, test_gracectl_commands_documented);
        tcase_add_test(tc, test_build_rules);
        return s;
}

int main(void) { return h_run_suite(docs_suite()); }
