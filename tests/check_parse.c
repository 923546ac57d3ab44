/* check_parse.c - unit tests of the value syntaxes (parse.c). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#define SEC USEC_PER_SEC
#define MSEC USEC_PER_MSEC

static const struct {
        const char *in;
        usec_t out;
} good_durations[] = {
        { "0", 0 },
        { "10", 10 * SEC },
        { "10s", 10 * SEC },
        { "10 s", 10 * SEC },
        { "10sec", 10 * SEC },
        { "10 seconds", 10 * SEC },
        { "500ms", 500 * MSEC },
        { "500 msec", 500 * MSEC },
        { "250us", 250 },
        { "1.5s", 1500 * MSEC },
        { "1.5", 1500 * MSEC },
        { ".5s", 500 * MSEC },
        { "2.25min", 135 * SEC },
        { "1min 30s", 90 * SEC },
        { "1min30s", 90 * SEC },
        { "1m 30", 90 * SEC },
        { "2h", 7200 * SEC },
        { "2 hours", 7200 * SEC },
        { "1hr", 3600 * SEC },
        { "1d", 86400 * SEC },
        { "1d 2h 3min 4s 5ms 6us", ((((1 * 24 + 2) * 60 + 3) * 60 + 4) * SEC) + 5 * MSEC + 6 },
        { "  7s  ", 7 * SEC },
        { "10S", 10 * SEC },
        { "1MIN", 60 * SEC },
        { "+3s", 3 * SEC },
        { "-0", 0 },
        { "365d", 365 * 86400 * SEC },
        { "0.0000001s", 0 },
        { "1.0000005s", SEC + 1 },
};

static const char *const bad_durations[] = {
        "", " ", "s", "10 parsecs", "10x", "1.5.3s", "10-", "ten", "1e3", "5s!", "-", "1 min foo", "--5s", "1..5s",
};

static const char *const negative_durations[] = { "-5s", "-1", "-0.5s", " -1min 30s" };

START_TEST(test_parse_duration_good)
{
        usec_t u = 12345;
        int r = parse_duration(good_durations[_i].in, &u);

        ck_assert_msg(r == 0, "parse_duration(\"%s\") = %d", good_durations[_i].in, r);
        ck_assert_msg(u == good_durations[_i].out, "parse_duration(\"%s\") gave %llu, expected %llu",
                      good_durations[_i].in, (unsigned long long)u, (unsigned long long)good_durations[_i].out);
}
END_TEST

START_TEST(test_parse_duration_bad)
{
        usec_t u = 12345;
        int r = parse_duration(bad_durations[_i], &u);

        ck_assert_msg(r == -EINVAL, "parse_duration(\"%s\") = %d, expected -EINVAL", bad_durations[_i], r);
        ck_assert_uint_eq(u, 12345);
}
END_TEST

START_TEST(test_parse_duration_negative)
{
        usec_t u = 12345;
        int r = parse_duration(negative_durations[_i], &u);

        ck_assert_msg(r == -ERANGE, "parse_duration(\"%s\") = %d, expected -ERANGE", negative_durations[_i], r);
        ck_assert_uint_eq(u, 12345);
}
END_TEST

START_TEST(test_parse_duration_range)
{
        usec_t u = 0;

        ck_assert_int_eq(parse_duration("366d", &u), -ERANGE);
        ck_assert_int_eq(parse_duration("99999999999999999999999s", &u), -ERANGE);
        ck_assert_int_eq(parse_duration("200d 200d", &u), -ERANGE);
        /* a malformed part wins over a too large one */
        ck_assert_int_eq(parse_duration("99999999999999999999999s foo", &u), -EINVAL);
        ck_assert_int_eq(parse_duration(NULL, &u), -EINVAL);
}
END_TEST

START_TEST(test_parse_duration_seconds)
{
        usec_t u = 0;

        ck_assert_int_eq(parse_duration_seconds(0, &u), 0);
        ck_assert_uint_eq(u, 0);
        ck_assert_int_eq(parse_duration_seconds(2.5, &u), 0);
        ck_assert_uint_eq(u, 2500 * MSEC);
        ck_assert_int_eq(parse_duration_seconds(10, &u), 0);
        ck_assert_uint_eq(u, 10 * SEC);
        ck_assert_int_eq(parse_duration_seconds(0.001, &u), 0);
        ck_assert_uint_eq(u, 1 * MSEC);
        ck_assert_int_eq(parse_duration_seconds(-1, &u), -ERANGE);
        ck_assert_int_eq(parse_duration_seconds(-0.001, &u), -ERANGE);
        ck_assert_int_eq(parse_duration_seconds(1e12, &u), -ERANGE);
}
END_TEST

static const struct {
        usec_t in;
        const char *out;
} formats[] = {
        { 0, "0" },
        { USEC_INFINITY, "infinity" },
        { 3 * SEC, "3s" },
        { 500 * MSEC, "500ms" },
        { 90 * SEC, "1min 30s" },
        { 2 * 3600 * SEC, "2h" },
        { 1500 * MSEC, "1.5s" },
        { 1250 * MSEC, "1.25s" },
        { 61500 * MSEC, "1min 1.5s" },
        { 5400 * SEC, "1h 30min" },
        { 86400 * SEC + 3600 * SEC + 60 * SEC + SEC, "1d 1h 1min 1s" },
        { 1500, "1.5ms" },
        { 250, "250us" },
        { SEC + 1, "1.000001s" },
        { 60 * SEC, "1min" },
};

START_TEST(test_format_duration)
{
        char buf[64];

        ck_assert_str_eq(format_duration(formats[_i].in, buf, sizeof(buf)), formats[_i].out);
}
END_TEST

START_TEST(test_format_roundtrip)
{
        static const usec_t values[] = { 1, 999, 1000, 1001, 1500 * MSEC, 59 * SEC, 61 * SEC + 1, 86399 * SEC,
                                         3 * 86400 * SEC + 7, 365 * 86400 * SEC };
        char buf[64];

        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                usec_t u = 0;
                format_duration(values[i], buf, sizeof(buf));
                ck_assert_msg(parse_duration(buf, &u) == 0 && u == values[i], "\"%s\" does not give back %llu",
                              buf, (unsigned long long)values[i]);
        }
}
END_TEST

START_TEST(test_format_duration_small_buffer)
{
        char buf[4];

        format_duration(90 * SEC, buf, sizeof(buf));
        ck_assert_uint_lt(strlen(buf), sizeof(buf));
}
END_TEST

START_TEST(test_parse_signal)
{
        ck_assert_int_eq(parse_signal("SIGTERM"), SIGTERM);
        ck_assert_int_eq(parse_signal("TERM"), SIGTERM);
        ck_assert_int_eq(parse_signal("term"), SIGTERM);
        ck_assert_int_eq(parse_signal("SigInt"), SIGINT);
        ck_assert_int_eq(parse_signal("15"), SIGTERM);
        ck_assert_int_eq(parse_signal("HUP"), SIGHUP);
        ck_assert_int_eq(parse_signal("SIGQUIT"), SIGQUIT);
        ck_assert_int_eq(parse_signal("KILL"), SIGKILL);
        ck_assert_int_eq(parse_signal("usr1"), SIGUSR1);
        ck_assert_int_eq(parse_signal("SIGUSR2"), SIGUSR2);
        ck_assert_int_eq(parse_signal("WINCH"), SIGWINCH);
        ck_assert_int_eq(parse_signal("SIGPWR"), SIGPWR);
        ck_assert_int_eq(parse_signal("IOT"), SIGABRT);
        ck_assert_int_eq(parse_signal("POLL"), SIGIO);
        ck_assert_int_eq(parse_signal("RTMIN"), SIGRTMIN);
        ck_assert_int_eq(parse_signal("SIGRTMIN+2"), SIGRTMIN + 2);
        ck_assert_int_eq(parse_signal("RTMAX-1"), SIGRTMAX - 1);

        ck_assert_int_eq(parse_signal("SIGFOO"), -EINVAL);
        ck_assert_int_eq(parse_signal(""), -EINVAL);
        ck_assert_int_eq(parse_signal("SIG"), -EINVAL);
        ck_assert_int_eq(parse_signal("0"), -EINVAL);
        ck_assert_int_eq(parse_signal("99"), -EINVAL);
        ck_assert_int_eq(parse_signal("15x"), -EINVAL);
        ck_assert_int_eq(parse_signal("-15"), -EINVAL);
        ck_assert_int_eq(parse_signal("SIGSIGTERM"), -EINVAL);
        ck_assert_int_eq(parse_signal("RTMIN-1"), -EINVAL);
        ck_assert_int_eq(parse_signal("RTMAX+1"), -EINVAL);
        ck_assert_int_eq(parse_signal("RTMIN+100"), -EINVAL);
        ck_assert_int_eq(parse_signal(NULL), -EINVAL);
}
END_TEST

START_TEST(test_signal_name)
{
        ck_assert_str_eq(signal_name(SIGTERM), "SIGTERM");
        ck_assert_str_eq(signal_name(SIGINT), "SIGINT");
        ck_assert_str_eq(signal_name(SIGKILL), "SIGKILL");
        ck_assert_str_eq(signal_name(SIGABRT), "SIGABRT");
        ck_assert_str_eq(signal_name(SIGCHLD), "SIGCHLD");
        ck_assert_str_eq(signal_name(SIGIO), "SIGIO");
        ck_assert_str_eq(signal_name(SIGRTMIN + 3), "SIGRTMIN+3");
        ck_assert_str_eq(signal_name(0), "SIG0");
        ck_assert_str_eq(signal_name(200), "SIG200");
        /* every name maps back to its number */
        for (int s = 1; s <= SIGRTMAX; s++)
                ck_assert_int_eq(parse_signal(signal_name(s)), s);
}
END_TEST

START_TEST(test_name_is_valid)
{
        char name[NAME_MAX_LEN + 2];

        ck_assert(name_is_valid("web"));
        ck_assert(name_is_valid("flush-queue"));
        ck_assert(name_is_valid("a.b_c-D9"));
        ck_assert(name_is_valid("0"));
        ck_assert(!name_is_valid(""));
        ck_assert(!name_is_valid(NULL));
        ck_assert(!name_is_valid("web server"));
        ck_assert(!name_is_valid("a/b"));
        ck_assert(!name_is_valid("naïve"));
        ck_assert(!name_is_valid("x!"));
        memset(name, 'a', NAME_MAX_LEN);
        name[NAME_MAX_LEN] = 0;
        ck_assert(name_is_valid(name));
        name[NAME_MAX_LEN] = 'a';
        name[NAME_MAX_LEN + 1] = 0;
        ck_assert(!name_is_valid(name));
}
END_TEST

START_TEST(test_umask)
{
        int m = -1;

        /* libconfig reads 0027 as the integer 27: its digits are octal */
        ck_assert_int_eq(parse_umask_int(27, &m), 0);
        ck_assert_int_eq(m, 027);
        ck_assert_int_eq(parse_umask_int(0, &m), 0);
        ck_assert_int_eq(m, 0);
        ck_assert_int_eq(parse_umask_int(777, &m), 0);
        ck_assert_int_eq(m, 0777);
        ck_assert_int_eq(parse_umask_int(22, &m), 0);
        ck_assert_int_eq(m, 022);
        m = -1;
        ck_assert_int_eq(parse_umask_int(28, &m), -EINVAL);
        ck_assert_int_eq(parse_umask_int(9, &m), -EINVAL);
        ck_assert_int_eq(parse_umask_int(1000, &m), -EINVAL);
        ck_assert_int_eq(parse_umask_int(-1, &m), -EINVAL);
        ck_assert_int_eq(m, -1);

        ck_assert_int_eq(parse_umask_str("0027", &m), 0);
        ck_assert_int_eq(m, 027);
        ck_assert_int_eq(parse_umask_str("027", &m), 0);
        ck_assert_int_eq(m, 027);
        ck_assert_int_eq(parse_umask_str("77", &m), 0);
        ck_assert_int_eq(m, 077);
        ck_assert_int_eq(parse_umask_str("0", &m), 0);
        ck_assert_int_eq(m, 0);
        ck_assert_int_eq(parse_umask_str("0o022", &m), 0);
        ck_assert_int_eq(m, 022);
        ck_assert_int_eq(parse_umask_str("00000777", &m), 0);
        ck_assert_int_eq(m, 0777);
        m = -1;
        ck_assert_int_eq(parse_umask_str("0028", &m), -EINVAL);
        ck_assert_int_eq(parse_umask_str("1000", &m), -EINVAL);
        ck_assert_int_eq(parse_umask_str("", &m), -EINVAL);
        ck_assert_int_eq(parse_umask_str("0o", &m), -EINVAL);
        ck_assert_int_eq(parse_umask_str("u=rwx", &m), -EINVAL);
        ck_assert_int_eq(parse_umask_str(" 022", &m), -EINVAL);
        ck_assert_int_eq(parse_umask_str(NULL, &m), -EINVAL);
        ck_assert_int_eq(m, -1);
}
END_TEST

START_TEST(test_edit_distance)
{
        ck_assert_uint_eq(edit_distance("", ""), 0);
        ck_assert_uint_eq(edit_distance("abc", ""), 3);
        ck_assert_uint_eq(edit_distance("", "abc"), 3);
        ck_assert_uint_eq(edit_distance("stop_timeout", "stop_timeout"), 0);
        ck_assert_uint_eq(edit_distance("stop_timout", "stop_timeout"), 1);
        ck_assert_uint_eq(edit_distance("kitten", "sitting"), 3);
        ck_assert_uint_eq(edit_distance("ab", "ba"), 2);
}
END_TEST

START_TEST(test_suggest)
{
        static const char *const keys[] = { "name", "command", "stop_timeout", "stop_signal", "cwd",
                                            "restart", "restart_delay", "after", "env" };
        size_t n = ELEMENTSOF(keys);

        ck_assert_str_eq(suggest("stop_timout", keys, n), "stop_timeout");
        ck_assert_str_eq(suggest("stop_signl", keys, n), "stop_signal");
        ck_assert_str_eq(suggest("comand", keys, n), "command");
        ck_assert_str_eq(suggest("Command", keys, n), "command");
        ck_assert_str_eq(suggest("restart_dealy", keys, n), "restart_delay");
        ck_assert_str_eq(suggest("restar", keys, n), "restart");
        ck_assert_str_eq(suggest("cdw", keys, n) ?: "(null)", "(null)"); /* 2 edits on 3 letters: too far */
        ck_assert_str_eq(suggest("ced", keys, n), "cwd");
        ck_assert_ptr_null(suggest("frobnicate", keys, n));
        ck_assert_ptr_null(suggest("user", keys, n));
        ck_assert_ptr_null(suggest("x", keys, n));
        ck_assert_ptr_null(suggest("stop", keys, 0));
}
END_TEST

START_TEST(test_inet_address)
{
        struct sockaddr_storage ss;
        socklen_t len;
        const char *why = NULL;

        ck_assert_int_eq(parse_inet_address("127.0.0.1:5432", &ss, &len, &why), 0);
        ck_assert_int_eq(ss.ss_family, AF_INET);
        ck_assert_int_eq(ntohs(((struct sockaddr_in *)&ss)->sin_port), 5432);
        ck_assert_int_eq(parse_inet_address("localhost:80", &ss, &len, &why), 0);
        ck_assert_uint_eq(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr), INADDR_LOOPBACK);
        ck_assert_int_eq(parse_inet_address("[::1]:8080", &ss, &len, &why), 0);
        ck_assert_int_eq(ss.ss_family, AF_INET6);
        ck_assert_int_eq(len, sizeof(struct sockaddr_in6));
        ck_assert_int_eq(parse_inet_address("db.example.com:5432", &ss, &len, &why), -EINVAL);
        ck_assert_str_eq(why, "the host must be a numeric address or localhost");
        ck_assert_int_eq(parse_inet_address("127.0.0.1", &ss, &len, &why), -EINVAL);
        ck_assert_str_eq(why, "expected HOST:PORT");
        ck_assert_int_eq(parse_inet_address("::1:80", &ss, &len, &why), -EINVAL);
        ck_assert_str_eq(why, "expected HOST:PORT");
        ck_assert_int_eq(parse_inet_address("[::1]80", &ss, &len, &why), -EINVAL);
        ck_assert_int_eq(parse_inet_address(":80", &ss, &len, &why), -EINVAL);
        ck_assert_int_eq(parse_inet_address("127.0.0.1:0", &ss, &len, &why), -EINVAL);
        ck_assert_str_eq(why, "bad port (1-65535)");
        ck_assert_int_eq(parse_inet_address("127.0.0.1:65536", &ss, &len, &why), -EINVAL);
        ck_assert_int_eq(parse_inet_address("127.0.0.1:8x", &ss, &len, &why), -EINVAL);
        ck_assert_int_eq(parse_inet_address("127.0.0.1:", &ss, &len, &why), -EINVAL);
        ck_assert_int_eq(parse_inet_address("256.0.0.1:80", &ss, &len, &why), -EINVAL);
}
END_TEST

START_TEST(test_probe_url)
{
        const char *why = NULL;

        ck_assert_int_eq(parse_probe_url("http://127.0.0.1:8080/healthz", &why), 0);
        ck_assert_int_eq(parse_probe_url("https://localhost/x?y=1", &why), 0);
        ck_assert_int_eq(parse_probe_url("HTTP://[::1]:81", &why), 0);
        ck_assert_int_eq(parse_probe_url("http://[::1]/", &why), 0);
        ck_assert_int_eq(parse_probe_url("ftp://127.0.0.1/", &why), -EINVAL);
        ck_assert_str_eq(why, "expected http:// or https://");
        ck_assert_int_eq(parse_probe_url("http://example.com/", &why), -EINVAL);
        ck_assert_str_eq(why, "the host must be a numeric address or localhost");
        ck_assert_int_eq(parse_probe_url("http://user@127.0.0.1/", &why), -EINVAL);
        ck_assert_int_eq(parse_probe_url("http:///x", &why), -EINVAL);
        ck_assert_int_eq(parse_probe_url("http://127.0.0.1:0/", &why), -EINVAL);
        ck_assert_str_eq(why, "bad port (1-65535)");
        ck_assert_int_eq(parse_probe_url("http://127.0.0.1/a b", &why), -EINVAL);
}
END_TEST

static Suite *parse_suite(void)
{
        Suite *s = suite_create("parse");
        TCase *tc = tcase_create("parse");

        tcase_add_loop_test(tc, test_parse_duration_good, 0, ELEMENTSOF(good_durations));
        tcase_add_loop_test(tc, test_parse_duration_bad, 0, ELEMENTSOF(bad_durations));
        tcase_add_loop_test(tc, test_parse_duration_negative, 0, ELEMENTSOF(negative_durations));
        tcase_add_test(tc, test_parse_duration_range);
        tcase_add_test(tc, test_parse_duration_seconds);
        tcase_add_loop_test(tc, test_format_duration, 0, ELEMENTSOF(formats));
        tcase_add_test(tc, test_format_roundtrip);
        tcase_add_test(tc, test_format_duration_small_buffer);
        tcase_add_test(tc, test_parse_signal);
        tcase_add_test(tc, test_signal_name);
        tcase_add_test(tc, test_name_is_valid);
        tcase_add_test(tc, test_umask);
        tcase_add_test(tc, test_edit_distance);
        tcase_add_test(tc, test_suggest);
        tcase_add_test(tc, test_inet_address);
        tcase_add_test(tc, test_probe_url);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(parse_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
