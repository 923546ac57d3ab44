/* check_harness.c - tests of the test tools themselves: testworker
 * (tests/helpers/testworker.c) and the integration harness (harness.c),
 * without graced. Where a graced is needed, a shell script stands in for
 * it (GRACED_BIN is pointed at it). Needs GRACED_TESTWORKER. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "harness.h"

#define ARGV(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define T 5000 /* ms: generous bound for things that happen at once */

static char *tmp;

static void setup(void)
{
        tmp = h_tmpdir();
        ck_assert_ptr_nonnull(tmp);
}

static void teardown(void)
{
        h_rmrf(tmp);
        free(tmp);
        tmp = NULL;
}

/* A path in this test's directory, freed with the next call to P(). */
static const char *P(const char *name)
{
        static char *last[8];
        static unsigned i;

        free(last[i % 8]);
        last[i % 8] = h_path(tmp, name);
        return last[i++ % 8];
}

static pid_t spawn_tw(const char *const *args, const char *const *env, const char *out)
{
        const char *argv[32] = { h_testworker() };
        size_t n = 1;
        pid_t pid;

        for (; args && *args && n < 31; args++)
                argv[n++] = *args;
        argv[n] = NULL;
        pid = h_spawn(argv, env, out);
        ck_assert_int_gt(pid, 0);
        return pid;
}

static int run_tw(const char *const *args, char **out)
{
        const char *argv[32] = { h_testworker() };
        size_t n = 1;

        for (; args && *args && n < 31; args++)
                argv[n++] = *args;
        argv[n] = NULL;
        return h_run(argv, NULL, T, out);
}

static void assert_file_eq(const char *path, const char *want)
{
        char *got = h_read_file(path);

        ck_assert_msg(got != NULL, "cannot read %s", path);
        ck_assert_str_eq(got, want);
        free(got);
}

/* ---- files and directories ---------------------------------------------------------------- */

START_TEST(test_tmpdir_rmrf)
{
        char *d = h_tmpdir(), *sub, *f;
        struct stat st;

        ck_assert_ptr_nonnull(d);
        ck_assert_int_eq(stat(d, &st), 0);
        ck_assert(S_ISDIR(st.st_mode));
        ck_assert_int_eq(st.st_mode & 0777, 0700);
        ck_assert_ptr_nonnull(strstr(d, "/graced-test."));

        sub = h_path(d, "a");
        ck_assert_int_eq(mkdir(sub, 0755), 0);
        free(sub);
        sub = h_path(d, "a/b");
        ck_assert_int_eq(mkdir(sub, 0700), 0);
        f = h_write_file(sub, "deep", "x\n");
        ck_assert_ptr_nonnull(f);
        free(f);
        free(sub);
        /* a symlink is removed, never followed */
        sub = h_path(d, "link");
        ck_assert_int_eq(symlink(tmp, sub), 0);
        free(sub);
        f = h_write_file(tmp, "survivor", "still here\n");
        h_rmrf(d);
        ck_assert_int_eq(access(d, F_OK), -1);
        ck_assert_int_eq(errno, ENOENT);
        ck_assert_int_eq(access(f, F_OK), 0);
        free(f);
        free(d);
        h_rmrf("/nonexistent/graced-test.none"); /* harmless */
}
END_TEST

START_TEST(test_write_read_file)
{
        char *p = h_write_file(tmp, "x.conf", "a = %d;\n%s\n", 42, "b = \"hi\";"), *text;
        size_t len;

        ck_assert_ptr_nonnull(p);
        ck_assert_str_eq(p, P("x.conf"));
        assert_file_eq(p, "a = 42;\nb = \"hi\";\n");
        ck_assert_int_eq(access(P("x.conf.tmp"), F_OK), -1);
        free(p);

        p = h_write_file(NULL, P("nul"), "a%cb", 0);
        ck_assert_ptr_nonnull(p);
        text = h_read_file_len(p, &len);
        ck_assert_uint_eq(len, 3);
        ck_assert_mem_eq(text, "a\0b", 3);
        free(text);
        free(p);

        errno = 0;
        ck_assert_ptr_null(h_read_file(P("missing")));
        ck_assert_int_eq(errno, ENOENT);
        ck_assert_ptr_null(h_write_file("/nonexistent", "x", "y"));
}
END_TEST

START_TEST(test_wait_file_timeout)
{
        long long t0 = h_now_ns();

        ck_assert(!h_wait_file(P("never"), 150));
        ck_assert_int_ge(h_ms_since(t0), 150);
        ck_assert_int_lt(h_ms_since(t0), 1500);

        /* no directory to watch: still bounded */
        t0 = h_now_ns();
        ck_assert(!h_wait_file("/nonexistent/dir/file", 100));
        ck_assert_int_ge(h_ms_since(t0), 100);
        ck_assert_int_lt(h_ms_since(t0), 1500);

        /* an empty file does not count */
        free(h_write_file(tmp, "empty", "%s", ""));
        ck_assert(!h_wait_file(P("empty"), 50));
}
END_TEST

START_TEST(test_wait_file_appears)
{
        long long t0 = h_now_ns();
        pid_t pid = spawn_tw(ARGV("--sleep-ms", "100", "--stamp", P("late")), NULL, NULL);

        ck_assert(h_wait_file(P("late"), T));
        ck_assert_int_ge(h_ms_since(t0), 90);
        ck_assert_int_eq(h_exit_code(h_wait_child(pid, T)), 0);
}
END_TEST

START_TEST(test_field_helpers)
{
        const char *t = "fd 0 /dev/null\nfd 1 pipe:[1]\nfd 2 pipe:[2]\npgid 42\n"
                        "env A=1\nenv AB=x y\nenv EMPTY=\ncwd /\n";
        char *v;

        ck_assert_int_eq(h_field_count(t, "fd"), 3);
        ck_assert_int_eq(h_field_count(t, "env"), 3);
        ck_assert_int_eq(h_field_count(t, "nope"), 0);
        v = h_field(t, "pgid");
        ck_assert_str_eq(v, "42");
        free(v);
        v = h_field(t, "fd");
        ck_assert_str_eq(v, "0 /dev/null");
        free(v);
        ck_assert_ptr_null(h_field(t, "pg"));
        v = h_field_env(t, "AB");
        ck_assert_str_eq(v, "x y");
        free(v);
        v = h_field_env(t, "EMPTY");
        ck_assert_str_eq(v, "");
        free(v);
        ck_assert_ptr_null(h_field_env(t, "B"));
        ck_assert_ptr_null(h_field(NULL, "x"));
}
END_TEST

START_TEST(test_lines)
{
        free(h_write_file(tmp, "l", "alpha\nbeta\nalphabet\ngamma"));
        ck_assert_int_eq(h_count_lines(P("l"), "alpha"), 2);
        ck_assert_int_eq(h_count_lines(P("l"), "gamma"), 1); /* the last line has no newline */
        ck_assert_int_eq(h_count_lines(P("l"), ""), 4);
        ck_assert_int_eq(h_count_lines(P("missing"), "x"), -1);
        ck_assert_int_eq(h_find_line(P("l"), "habet"), 2);
        ck_assert_int_eq(h_find_line(P("l"), "beta"), 1);
        ck_assert_int_eq(h_find_line(P("l"), "delta"), -1);
        ck_assert(h_wait_lines(P("l"), "alpha", 2, 10));
        ck_assert(!h_wait_lines(P("l"), "alpha", 3, 50));
}
END_TEST

/* ---- processes ------------------------------------------------------------------------------- */

START_TEST(test_pid_helpers)
{
        long pid_max = 4194304;
        char *s = h_read_file("/proc/sys/kernel/pid_max");

        if (s) {
                pid_max = atol(s);
                free(s);
        }
        ck_assert(h_pid_alive(getpid()));
        ck_assert(h_pid_exists(getpid()));
        ck_assert_int_eq(h_pid_ppid(getpid()), getppid());
        ck_assert_int_eq(h_pid_pgid(getpid()), getpgrp());
        ck_assert(!h_pid_alive(-1));
        ck_assert(!h_pid_alive(0));
        ck_assert(!h_pid_alive((pid_t)pid_max + 1));
        ck_assert_int_eq(h_pid_ppid((pid_t)pid_max + 1), -1);
        ck_assert(h_wait_pid_gone((pid_t)pid_max + 1, 10));
        ck_assert(h_wait_pid_reaped((pid_t)pid_max + 1, 10));
        ck_assert_int_eq(h_exit_code(-1), -1);
}
END_TEST

START_TEST(test_spawn_exec_failure)
{
        errno = 0;
        ck_assert_int_eq(h_spawn(ARGV("/nonexistent/program"), NULL, NULL), -1);
        ck_assert_int_eq(errno, ENOENT);
        errno = 0;
        ck_assert_int_eq(h_spawn(ARGV("graced-no-such-program-in-path"), NULL, NULL), -1);
        ck_assert_int_eq(errno, ENOENT);
        ck_assert_int_eq(h_run(ARGV("/nonexistent/program"), NULL, T, NULL), -1);
        /* not ours: refused, nothing killed */
        ck_assert_int_eq(h_wait_child(getpid(), 10), -1);
        ck_assert_int_eq(errno, ECHILD);
}
END_TEST

START_TEST(test_wait_child_timeout)
{
        pid_t pid = spawn_tw(ARGV("--block"), NULL, NULL);
        long long t0 = h_now_ns();

        ck_assert_int_eq(h_wait_child(pid, 100), -1);
        ck_assert_int_ge(h_ms_since(t0), 100);
        ck_assert_int_lt(h_ms_since(t0), 3000);
        ck_assert(!h_pid_exists(pid)); /* killed and reaped */
        ck_assert_int_eq(h_wait_child(pid, 10), -1); /* no longer ours */
}
END_TEST

START_TEST(test_run_output)
{
        char *out;

        ck_assert_int_eq(h_exit_code(run_tw(ARGV("--print", "2", "--print-err", "1", "--exit", "3", "--print", "9"),
                                            &out)),
                         3);
        ck_assert_str_eq(out, "line 1\nline 2\nline 1\n");
        free(out);
        ck_assert_int_eq(h_exit_code(run_tw(ARGV("--print", "1"), NULL)), 0);
}
END_TEST

/* ---- testworker ------------------------------------------------------------------------------ */

START_TEST(test_tw_usage)
{
        char *out;

        ck_assert_int_eq(h_exit_code(run_tw(ARGV("--help"), &out)), 0);
        ck_assert_ptr_nonnull(strstr(out, "--on-signal-delay SIG MS CODE"));
        free(out);
        ck_assert_int_eq(h_exit_code(run_tw(NULL, &out)), 2);
        ck_assert_ptr_nonnull(strstr(out, "no action"));
        free(out);
        /* checked before anything runs: no stamp */
        ck_assert_int_eq(h_exit_code(run_tw(ARGV("--stamp", P("s"), "--bogus"), &out)), 2);
        ck_assert_ptr_nonnull(strstr(out, "unknown argument '--bogus'"));
        free(out);
        ck_assert_int_eq(access(P("s"), F_OK), -1);
        ck_assert_int_eq(h_exit_code(run_tw(ARGV("--print"), NULL)), 2);
        ck_assert_int_eq(h_exit_code(run_tw(ARGV("--print", "-1"), NULL)), 2);
        ck_assert_int_eq(h_exit_code(run_tw(ARGV("--print", "1x"), NULL)), 2);
        ck_assert_int_eq(h_exit_code(run_tw(ARGV("--exit", "256"), NULL)), 2);
        ck_assert_int_eq(h_exit_code(run_tw(ARGV("--ignore", "SIGNOPE"), NULL)), 2);
        ck_assert_int_eq(h_exit_code(run_tw(ARGV("--on-signal", "KILL", "1"), NULL)), 2);
        ck_assert_int_eq(h_exit_code(run_tw(ARGV("--on-signal-delay", "TERM", "10"), NULL)), 2);
        /* a failing action: 120 */
        ck_assert_int_eq(h_exit_code(run_tw(ARGV("--stamp", "/nonexistent/dir/s"), &out)), 120);
        ck_assert_ptr_nonnull(strstr(out, "/nonexistent/dir/s"));
        free(out);
        ck_assert_int_eq(h_exit_code(run_tw(ARGV("--exit", "7"), NULL)), 7);
        ck_assert_int_eq(h_exit_code(run_tw(ARGV("--exit", "0", "--exit", "1"), NULL)), 0);
}
END_TEST

START_TEST(test_tw_stamp)
{
        long long t0 = h_now_ns(), mono, real;
        struct timespec now;
        pid_t pid = spawn_tw(ARGV("--stamp", P("st")), NULL, NULL), spid;

        ck_assert_int_eq(h_exit_code(h_wait_child(pid, T)), 0);
        ck_assert(h_read_stamp(P("st"), &spid, &mono, &real));
        ck_assert_int_eq(spid, pid);
        ck_assert_int_eq(h_read_stamp_pid(P("st")), pid);
        ck_assert_int_eq(h_read_stamp_mono_ns(P("st")), mono);
        ck_assert_int_ge(mono, t0);
        ck_assert_int_le(mono, h_now_ns());
        clock_gettime(CLOCK_REALTIME, &now);
        ck_assert_int_lt(llabs((long long)now.tv_sec * 1000000000LL + now.tv_nsec - real), 60000000000LL);
        ck_assert_int_eq(access(P("st.tmp"), F_OK), -1);
        ck_assert_int_eq(h_read_stamp_pid(P("nostamp")), -1);
        ck_assert_int_eq(h_read_stamp_mono_ns(P("nostamp")), -1);
}
END_TEST

START_TEST(test_tw_print)
{
        pid_t pid = spawn_tw(ARGV("--print", "3", "--print-err", "2", "--no-newline", "--print", "1", "--print-bytes",
                                  "10", "--no-newline", "--print-err", "1"),
                             NULL, P("out"));

        ck_assert_int_eq(h_exit_code(h_wait_child(pid, T)), 0);
        assert_file_eq(P("out"), "line 1\nline 2\nline 3\nline 1\nline 2\nline 1xxxxxxxxxx\nline 1");
        ck_assert_int_eq(h_count_lines(P("out"), "line "), 7);
}
END_TEST

START_TEST(test_tw_print_bytes)
{
        size_t len;
        char *text;
        pid_t pid = spawn_tw(ARGV("--no-newline", "--print-bytes", "10000", "--print-bytes", "3"), NULL, P("out"));

        ck_assert_int_eq(h_exit_code(h_wait_child(pid, T)), 0);
        text = h_read_file_len(P("out"), &len);
        ck_assert_uint_eq(len, 10004);
        for (size_t i = 0; i < 10003; i++)
                ck_assert_int_eq(text[i], 'x');
        ck_assert_int_eq(text[10003], '\n');
        free(text);
}
END_TEST

START_TEST(test_tw_lines_fast)
{
        enum { N = 200000 };
        size_t len, want = 0;
        char *text;
        pid_t pid = spawn_tw(ARGV("--lines-fast", "200000"), NULL, P("out"));

        ck_assert_int_eq(h_exit_code(h_wait_child(pid, T)), 0);
        ck_assert_int_eq(h_count_lines(P("out"), ""), N);
        ck_assert_int_eq(h_find_line(P("out"), "199999"), 199998);
        text = h_read_file_len(P("out"), &len);
        for (long i = 1; i <= N; i++)
                want += (size_t)snprintf(NULL, 0, "%ld\n", i);
        ck_assert_uint_eq(len, want);
        ck_assert_str_eq(text + len - 7, "200000\n");
        free(text);
}
END_TEST

START_TEST(test_tw_append_read_stdin)
{
        ck_assert_int_eq(h_exit_code(run_tw(ARGV("--append", P("a"), "first", "--append", P("a"), "second line"), NULL)),
                         0);
        ck_assert_int_eq(h_exit_code(run_tw(ARGV("--append", P("a"), "third"), NULL)), 0);
        assert_file_eq(P("a"), "first\nsecond line\nthird\n");
        /* h_spawn gives /dev/null as stdin */
        ck_assert_int_eq(h_exit_code(run_tw(ARGV("--read-stdin", P("c")), NULL)), 0);
        assert_file_eq(P("c"), "0\n");
}
END_TEST

START_TEST(test_tw_report_fds)
{
        int leak = open("/dev/null", O_RDONLY); /* deliberately inheritable */
        sigset_t block, old;
        struct sigaction ign = { .sa_handler = SIG_IGN }, oldsa;
        char *t, *v, cwd[4096];
        mode_t mask = umask(022);
        pid_t pid;

        umask(mask);
        ck_assert_int_ge(leak, 0);
        /* what the test process has must not reach the child */
        sigemptyset(&block);
        sigaddset(&block, SIGUSR1);
        ck_assert_int_eq(sigprocmask(SIG_BLOCK, &block, &old), 0);
        sigemptyset(&ign.sa_mask);
        ck_assert_int_eq(sigaction(SIGUSR2, &ign, &oldsa), 0);
        setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
        setenv("LISTEN_FDS", "3", 1);
        setenv("WATCHDOG_USEC", "1000", 1);
        setenv("GRACED_T_UNSET", "x", 1);

        pid = spawn_tw(ARGV("--report-fds", P("r")), ARGV("GRACED_T1=hello world", "GRACED_T_UNSET", "GRACED_T2=a=b"),
                       NULL);
        ck_assert_int_eq(h_exit_code(h_wait_child(pid, T)), 0);

        sigprocmask(SIG_SETMASK, &old, NULL);
        sigaction(SIGUSR2, &oldsa, NULL);
        unsetenv("NOTIFY_SOCKET");
        unsetenv("LISTEN_FDS");
        unsetenv("WATCHDOG_USEC");
        unsetenv("GRACED_T_UNSET");
        close(leak);

        t = h_read_file(P("r"));
        ck_assert_ptr_nonnull(t);
        ck_assert_msg(h_field_count(t, "fd") == 3, "fds: %s", t);
        ck_assert_ptr_nonnull(strstr(t, "fd 0 /dev/null\n"));
        v = h_field(t, "sigmask");
        ck_assert_str_eq(v, "0000000000000000");
        free(v);
        v = h_field(t, "sigign");
        ck_assert_str_eq(v, "0000000000000000");
        free(v);
        v = h_field(t, "pid");
        ck_assert_int_eq(atol(v), pid);
        free(v);
        v = h_field(t, "pgid");
        ck_assert_int_eq(atol(v), pid); /* its own group */
        free(v);
        v = h_field(t, "ppid");
        ck_assert_int_eq(atol(v), getpid());
        free(v);
        v = h_field(t, "umask");
        ck_assert_int_eq(strtol(v, NULL, 8), mask);
        free(v);
        v = h_field(t, "cwd");
        ck_assert_str_eq(v, getcwd(cwd, sizeof(cwd)));
        free(v);
        ck_assert_int_eq(h_field_count(t, "uid"), 1);
        ck_assert_int_eq(h_field_count(t, "groups") + (strstr(t, "\ngroups\n") != NULL), 1);
        v = h_field_env(t, "GRACED_T1");
        ck_assert_str_eq(v, "hello world");
        free(v);
        v = h_field_env(t, "GRACED_T2");
        ck_assert_str_eq(v, "a=b");
        free(v);
        ck_assert_ptr_null(h_field_env(t, "GRACED_T_UNSET"));
        ck_assert_ptr_null(h_field_env(t, "NOTIFY_SOCKET"));
        ck_assert_ptr_null(h_field_env(t, "LISTEN_FDS"));
        ck_assert_ptr_null(h_field_env(t, "WATCHDOG_USEC"));
        v = h_field_env(t, "PATH");
        ck_assert_ptr_nonnull(v);
        free(v);
        free(t);
}
END_TEST

START_TEST(test_tw_on_signal)
{
        pid_t pid = spawn_tw(ARGV("--on-signal", "TERM", "42", "--stamp", P("ready"), "--block"), NULL, NULL);
        int st;

        ck_assert(h_wait_file(P("ready"), T));
        ck_assert_int_eq(kill(pid, SIGTERM), 0);
        st = h_wait_child(pid, T);
        ck_assert(WIFEXITED(st));
        ck_assert_int_eq(WEXITSTATUS(st), 42);

        /* numbers and SIG names work too; --default undoes a handler */
        pid = spawn_tw(ARGV("--on-signal", "10", "3", "--on-signal", "SIGTERM", "4", "--default", "term", "--stamp",
                            P("ready2"), "--block"),
                       NULL, NULL);
        ck_assert(h_wait_file(P("ready2"), T));
        ck_assert_int_eq(kill(pid, SIGTERM), 0);
        st = h_wait_child(pid, T);
        ck_assert(WIFSIGNALED(st));
        ck_assert_int_eq(WTERMSIG(st), SIGTERM);
}
END_TEST

START_TEST(test_tw_on_signal_delay)
{
        pid_t pid = spawn_tw(ARGV("--verbose", "--on-signal-delay", "TERM", "200", "43", "--stamp", P("ready"),
                                  "--block"),
                             NULL, P("out"));
        long long t0;
        int st;

        ck_assert(h_wait_file(P("ready"), T));
        t0 = h_now_ns();
        ck_assert_int_eq(kill(pid, SIGTERM), 0);
        ck_assert_int_eq(kill(pid, SIGTERM), 0); /* a repeat changes nothing */
        st = h_wait_child(pid, T);
        ck_assert_int_ge(h_ms_since(t0), 195);
        ck_assert_int_eq(h_exit_code(st), 43);
        ck_assert_int_eq(h_count_lines(P("out"), "got SIGTERM, exiting 43 in 200ms"), 1);

        /* it interrupts a --sleep-ms and comes between actions */
        pid = spawn_tw(ARGV("--on-signal-delay", "USR1", "0", "5", "--stamp", P("ready2"), "--sleep-ms", "20000",
                            "--stamp", P("never")),
                       NULL, NULL);
        ck_assert(h_wait_file(P("ready2"), T));
        t0 = h_now_ns();
        ck_assert_int_eq(kill(pid, SIGUSR1), 0);
        ck_assert_int_eq(h_exit_code(h_wait_child(pid, T)), 5);
        ck_assert_int_lt(h_ms_since(t0), 3000);
        ck_assert_int_eq(access(P("never"), F_OK), -1);
}
END_TEST

START_TEST(test_tw_wait_file)
{
        pid_t pid = spawn_tw(ARGV("--stamp", P("waiting"), "--wait-file", P("gate"), "--stamp", P("through")), NULL,
                             NULL);

        ck_assert(h_wait_file(P("waiting"), T));
        ck_assert_int_eq(access(P("through"), F_OK), -1);
        free(h_write_file(tmp, "gate", "open\n"));
        ck_assert(h_wait_file(P("through"), T));
        ck_assert_int_eq(h_exit_code(h_wait_child(pid, T)), 0);
}
END_TEST

/* connect() to 127.0.0.1:port (port > 0) or the unix socket path: 0 or
 * -errno; with request, sends it and returns the answer's first line in
 * *answer (malloc'd). */
static int connect_to(int port, const char *path, const char *request, char **answer)
{
        struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct sockaddr_un un = { .sun_family = AF_UNIX };
        int fd = socket(path ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r = 0;

        ck_assert_int_ge(fd, 0);
        if (path)
                snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
        if (path ? connect(fd, (struct sockaddr *)&un, sizeof(un)) : connect(fd, (struct sockaddr *)&in, sizeof(in)))
                r = -errno;
        if (r == 0 && request) {
                char buf[512];
                size_t used = 0;
                ssize_t n;

                ck_assert_int_eq(send(fd, request, strlen(request), MSG_NOSIGNAL), (ssize_t)strlen(request));
                while (used < sizeof(buf) - 1 && (n = read(fd, buf + used, sizeof(buf) - 1 - used)) > 0)
                        used += (size_t)n; /* up to its close */
                buf[used] = '\0';
                *answer = strndup(buf, strcspn(buf, "\r\n"));
        }
        close(fd);
        return r;
}

/* --listen-tcp: the stamp's times come before the bind, the port is the
 * one listened on (0: any); --http-status-file answers with the file's
 * status, 503 without it; --listen-unix, --listen-close. */
START_TEST(test_tw_listen)
{
        long long t0 = h_now_ns(), mono;
        pid_t pid = spawn_tw(ARGV("--listen-tcp", "0", P("tcp"), "--http-status-file", P("status"), "--wait-file",
                                  P("gate"), "--listen-close", "--listen-unix", P("sock"), P("unix"), "--block"),
                             NULL, NULL),
              spid;
        char *text, *answer = NULL;
        int port = 0;

        ck_assert(h_wait_file(P("tcp"), T));
        ck_assert(h_read_stamp(P("tcp"), &spid, &mono, NULL));
        ck_assert_int_eq(spid, pid);
        ck_assert_int_ge(mono, t0);
        text = h_read_file(P("tcp"));
        ck_assert_int_eq(sscanf(text, "%*d %*d %*d %d", &port), 1);
        free(text);
        ck_assert_int_gt(port, 0);
        ck_assert_int_eq(connect_to(port, NULL, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", &answer), 0);
        ck_assert_str_eq(answer, "HTTP/1.1 503 Test");
        free(answer);
        free(h_write_file(tmp, "status", "204\n"));
        ck_assert_int_eq(connect_to(port, NULL, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", &answer), 0);
        ck_assert_str_eq(answer, "HTTP/1.1 204 Test");
        free(answer);
        /* closed, then a unix socket */
        free(h_write_file(tmp, "gate", "open\n"));
        ck_assert(h_wait_file(P("unix"), T));
        ck_assert_int_eq(connect_to(port, NULL, NULL, NULL), -ECONNREFUSED);
        ck_assert_int_eq(connect_to(0, P("sock"), NULL, NULL), 0);
        ck_assert_int_eq(kill(pid, SIGTERM), 0);
        ck_assert_int_eq(h_exit_code(h_wait_child(pid, T)), 128 + SIGTERM);
        /* a port out of range is bad usage */
        ck_assert_int_eq(h_exit_code(run_tw(ARGV("--listen-tcp", "70000", P("x")), NULL)), 2);
        ck_assert_int_eq(access(P("x"), F_OK), -1);
}
END_TEST

/* --signal-stamp: the arrival of a delayed signal, before the delay;
 * --say. */
START_TEST(test_tw_signal_stamp_say)
{
        pid_t pid = spawn_tw(ARGV("--signal-stamp", P("sig"), "--on-signal-delay", "TERM", "200", "0", "--say",
                                  "hello there", "--stamp", P("ready"), "--block"),
                             NULL, P("out"));
        long long t0, t1;

        ck_assert(h_wait_file(P("ready"), T));
        assert_file_eq(P("out"), "hello there\n");
        ck_assert_int_eq(access(P("sig"), F_OK), -1);
        t0 = h_now_ns();
        ck_assert_int_eq(kill(pid, SIGTERM), 0);
        ck_assert(h_wait_file(P("sig"), T));
        ck_assert_int_eq(h_exit_code(h_wait_child(pid, T)), 0);
        t1 = h_now_ns();
        ck_assert_int_eq(h_read_stamp_pid(P("sig")), pid);
        ck_assert_int_ge(h_read_stamp_mono_ns(P("sig")), t0);
        ck_assert_int_le(h_read_stamp_mono_ns(P("sig")) + 190LL * 1000000LL, t1); /* before the delay */
}
END_TEST

START_TEST(test_tw_ignore)
{
        pid_t pid = spawn_tw(ARGV("--ignore", "TERM", "--ignore", "SIGINT", "--report-fds", P("r"), "--block"), NULL,
                             NULL);
        unsigned long long ign;
        char *t, *v;
        int st;

        ck_assert(h_wait_file(P("r"), T));
        t = h_read_file(P("r"));
        v = h_field(t, "sigign");
        ign = strtoull(v, NULL, 16);
        ck_assert(ign & (1ULL << (SIGTERM - 1)));
        ck_assert(ign & (1ULL << (SIGINT - 1)));
        ck_assert(!(ign & (1ULL << (SIGHUP - 1))));
        free(v);
        free(t);
        ck_assert_int_eq(kill(pid, SIGTERM), 0);
        ck_assert_int_eq(kill(pid, SIGINT), 0);
        ck_assert(!h_wait_pid_gone(pid, 100)); /* bounded: it must survive both */
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        st = h_wait_child(pid, T);
        ck_assert(WIFSIGNALED(st));
        ck_assert_int_eq(WTERMSIG(st), SIGKILL);
}
END_TEST

START_TEST(test_tw_fork_grandchild)
{
        pid_t pid, gc;
        int st;

        ck_assert_int_eq(h_subreaper(), 0);
        pid = spawn_tw(ARGV("--on-signal", "USR1", "9", "--fork-grandchild", P("gc"), "--stamp", P("ready"), "--block"),
                       NULL, NULL);
        ck_assert(h_wait_file(P("ready"), T));
        /* written before the worker went on */
        gc = h_read_stamp_pid(P("gc"));
        ck_assert_int_gt(gc, 0);
        ck_assert(h_pid_alive(gc));
        ck_assert_int_eq(h_pid_pgid(gc), pid);             /* same group */
        ck_assert_int_eq(h_pid_ppid(gc), getpid());        /* orphaned to us, the subreaper */

        /* the group gets SIGTERM: the worker dies, the grandchild stays */
        ck_assert_int_eq(kill(-pid, SIGTERM), 0);
        st = h_wait_child(pid, T);
        ck_assert(WIFSIGNALED(st));
        ck_assert_int_eq(WTERMSIG(st), SIGTERM);
        ck_assert(!h_wait_pid_gone(gc, 100));
        /* it dropped the worker's USR1 handler: the default kills it */
        ck_assert_int_eq(kill(gc, SIGUSR1), 0);
        ck_assert(h_wait_pid_gone(gc, T));
        ck_assert(h_pid_exists(gc)); /* a zombie of ours */
        ck_assert_int_eq(h_reap_orphans(), 1);
        ck_assert(!h_pid_exists(gc));
        ck_assert_int_eq(h_reap_orphans(), 0);
}
END_TEST

static bool fifo_hangup(int fd)
{
        struct pollfd p = { .fd = fd, .events = POLLIN };
        char buf[256];

        /* drain, then look for the hangup */
        while (poll(&p, 1, 0) > 0 && (p.revents & POLLIN) && read(fd, buf, sizeof(buf)) > 0)
                ;
        return poll(&p, 1, 0) > 0 && (p.revents & POLLHUP);
}

START_TEST(test_tw_grandchild_holds_output)
{
        int rd;
        pid_t pid;

        ck_assert_int_eq(h_subreaper(), 0);
        ck_assert_int_eq(mkfifo(P("fifo"), 0600), 0);
        rd = open(P("fifo"), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        ck_assert_int_ge(rd, 0);

        /* by default the grandchild keeps the worker's output open */
        pid = spawn_tw(ARGV("--fork-grandchild", P("gc1"), "--print", "1"), NULL, P("fifo"));
        ck_assert_int_eq(h_exit_code(h_wait_child(pid, T)), 0);
        ck_assert(!fifo_hangup(rd));
        ck_assert_int_eq(h_reap_orphans(), 1);
        ck_assert(fifo_hangup(rd));
        close(rd);

        /* --grandchild-devnull: it does not */
        rd = open(P("fifo"), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        ck_assert_int_ge(rd, 0);
        pid = spawn_tw(ARGV("--grandchild-devnull", "--fork-grandchild", P("gc2"), "--print", "1"), NULL, P("fifo"));
        ck_assert_int_eq(h_exit_code(h_wait_child(pid, T)), 0);
        ck_assert(fifo_hangup(rd));
        ck_assert(h_pid_alive(h_read_stamp_pid(P("gc2"))));
        ck_assert_int_eq(h_reap_orphans(), 1);
        close(rd);
}
END_TEST

START_TEST(test_tw_orphan)
{
        pid_t pid, o;

        ck_assert_int_eq(h_subreaper(), 0);
        pid = spawn_tw(ARGV("--orphan", P("o"), "--exit", "0"), NULL, NULL);
        ck_assert_int_eq(h_exit_code(h_wait_child(pid, T)), 0);
        o = h_read_stamp_pid(P("o"));
        ck_assert_int_gt(o, 0);
        ck_assert(h_wait_pid_gone(o, T));
        /* nobody reaped it but us */
        ck_assert(h_pid_exists(o));
        ck_assert_int_eq(h_pid_ppid(o), getpid());
        ck_assert_int_eq(h_reap_orphans(), 1);
        ck_assert(h_wait_pid_reaped(o, 10));
}
END_TEST

static void check_notify(const char *dir)
{
        struct h_notify n;
        pid_t pid;

        ck_assert_int_eq(h_notify_open(&n, dir), 0);
        ck_assert_int_eq(h_notify_count(&n, "READY=1"), 0);
        pid = spawn_tw(ARGV("--notify", "READY=1", "--notify", "STATUS=hi\\nX=1"), ARGV(n.env), NULL);
        ck_assert(h_notify_wait(&n, "X=1", T));
        ck_assert_int_eq(h_exit_code(h_wait_child(pid, T)), 0);
        ck_assert_uint_eq(n.n, 2);
        ck_assert_int_eq(h_notify_find(&n, "READY=1"), 0);
        ck_assert_int_eq(h_notify_find(&n, "STATUS=hi\nX=1"), 1);
        ck_assert_int_eq(h_notify_count(&n, "=1"), 2);
        ck_assert_int_eq(n.pids[0], pid);
        ck_assert_int_eq(n.pids[1], pid);
        ck_assert(!h_notify_wait(&n, "STOPPING=1", 50));
        h_notify_close(&n);
        ck_assert_int_eq(n.fd, -1);
}

START_TEST(test_tw_notify)
{
        char *out;

        check_notify(tmp);
        check_notify(NULL); /* abstract */
        ck_assert_int_eq(access(P("notify.sock"), F_OK), -1);
        /* the harness never passes the test's NOTIFY_SOCKET on */
        setenv("NOTIFY_SOCKET", "@graced-test-nobody-listens", 1);
        ck_assert_int_eq(h_exit_code(run_tw(ARGV("--notify", "READY=1"), &out)), 120);
        unsetenv("NOTIFY_SOCKET");
        ck_assert_ptr_nonnull(strstr(out, "NOTIFY_SOCKET is not set"));
        free(out);
}
END_TEST

/* ---- struct gh, with a shell script as graced ------------------------------------------------ */

static char *saved_bin;

/* Points GRACED_BIN at a script running body (with $TW = testworker). */
static void fake_graced(const char *body)
{
        char *p = h_write_file(tmp, "fake-graced", "#!/bin/sh\nTW='%s'\n%s\n", h_testworker(), body);

        ck_assert_ptr_nonnull(p);
        ck_assert_int_eq(chmod(p, 0755), 0);
        free(saved_bin);
        saved_bin = getenv("GRACED_BIN") ? strdup(getenv("GRACED_BIN")) : NULL;
        setenv("GRACED_BIN", p, 1);
        free(p);
}

static void real_graced(void)
{
        if (saved_bin)
                setenv("GRACED_BIN", saved_bin, 1);
        else
                unsetenv("GRACED_BIN");
        free(saved_bin);
        saved_bin = NULL;
}

START_TEST(test_gh_start_log_signal)
{
        struct gh g;
        const char *conf;
        char *want, *fds, *v;
        long long t0;
        int line;

        fake_graced("echo \"fake graced: $*\"\n"
                    "echo \"env RUNTIME_DIRECTORY=$RUNTIME_DIRECTORY\"\n"
                    "echo \"env NOTIFY_SOCKET=${NOTIFY_SOCKET-unset}\"\n"
                    "echo \"env GRACED_X=${GRACED_X-unset} GRACED_Y=${GRACED_Y-unset}\"\n"
                    "exec \"$TW\" --print 3 --report-fds \"$RUNTIME_DIRECTORY/fds\" --lines-fast 50000 "
                    "--on-signal TERM 0 --print-err 1 --block");
        setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
        setenv("GRACED_Y", "y", 1);
        ck_assert_int_eq(gh_init(&g), 0);
        ck_assert(g.reap_orphans);
        conf = gh_write_file(&g, "graced.conf", "# %s\n", "fake");
        ck_assert_ptr_nonnull(conf);
        ck_assert_int_eq(gh_start(&g, conf, ARGV("-v"), ARGV("GRACED_X=1", "GRACED_Y")), 0);
        unsetenv("NOTIFY_SOCKET");
        unsetenv("GRACED_Y");
        ck_assert(g.running);
        ck_assert_int_gt(g.pid, 0);
        ck_assert_int_eq(gh_start(&g, conf, NULL, NULL), -1); /* already running */
        ck_assert_int_eq(errno, EBUSY);

        /* the second "line 1" comes after the 50000 fast lines */
        ck_assert(h_wait_log(&g, "line 1", T));
        ck_assert(h_wait_log_count(&g, "line 1", 2, T));
        want = h_path(g.dir, "report.json");
        ck_assert_str_eq(g.report_path, want);
        free(want);
        ck_assert_ptr_null(gh_keep(&g, NULL));
        line = h_log_line(&g, "fake graced: -c ");
        ck_assert_int_eq(line, 0);
        {
                char *args;

                ck_assert(asprintf(&args, "fake graced: -c %s --log-format=text --color=never --report %s -v", conf,
                                   g.report_path) > 0);
                ck_assert_int_eq(h_count_log(&g, args), 1);
                free(args);
                ck_assert(asprintf(&args, "env RUNTIME_DIRECTORY=%s", g.dir) > 0);
                ck_assert_int_eq(h_count_log(&g, args), 1);
                free(args);
        }
        ck_assert_str_eq(g.ctl_path, gh_path(&g, "control.sock"));
        ck_assert_int_eq(h_count_log(&g, "env NOTIFY_SOCKET=unset"), 1);
        ck_assert_int_eq(h_count_log(&g, "env GRACED_X=1 GRACED_Y=unset"), 1);
        ck_assert_int_eq(h_count_log(&g, "line "), 4);
        ck_assert_int_eq(h_count_log(&g, ""), 4 + 4 + 50000);
        ck_assert_int_eq(h_log_line(&g, "line 3"), 6);
        ck_assert_int_eq(h_log_line(&g, "50000"), 4 + 3 + 49999);
        want = gh_keep(&g, h_log_contents(&g));
        ck_assert_ptr_nonnull(strstr(want, "\n49999\n50000\nline 1\n"));

        t0 = h_now_ns();
        ck_assert(!h_wait_log(&g, "never logged", 100));
        ck_assert_int_lt(h_ms_since(t0), 2000);
        ck_assert(!h_wait_log_count(&g, "line 1", 3, 50));

        /* graced gets fds 0-2 only, in its own group */
        ck_assert(h_wait_file(gh_path(&g, "fds"), T));
        fds = gh_keep(&g, h_read_file(gh_path(&g, "fds")));
        ck_assert_msg(h_field_count(fds, "fd") == 3, "%s", fds);
        v = gh_keep(&g, h_field(fds, "pgid"));
        ck_assert_int_eq(atol(v), g.pid);
        v = gh_keep(&g, h_field(fds, "fd"));
        ck_assert_str_eq(v, "0 /dev/null");

        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        ck_assert_int_eq(gh_exit_code(&g, T), 0);
        ck_assert(!g.running);
        ck_assert(WIFEXITED(g.status));
        ck_assert_int_eq(gh_wait_exit(&g, 0), g.status); /* stored */
        ck_assert_int_eq(gh_signal(&g, SIGTERM), -1);
        ck_assert_int_eq(errno, ESRCH);

        /* and again, on the same directory: the log goes on */
        ck_assert_int_eq(gh_start(&g, conf, NULL, NULL), 0);
        ck_assert(h_wait_log_count(&g, "fake graced: -c", 2, T));
        /* the handler is there once the last "line 1" (stderr) is out */
        ck_assert(h_wait_log_count(&g, "line 1", 4, T));
        ck_assert_int_eq(gh_shutdown(&g, T), 0);

        want = strdup(g.dir);
        gh_cleanup(&g);
        ck_assert_int_eq(access(want, F_OK), -1);
        free(want);
        ck_assert_ptr_null(g.dir);
        gh_cleanup(&g); /* twice: nothing */
        real_graced();
}
END_TEST

START_TEST(test_gh_wait_timeout_kills)
{
        struct gh g;
        long long t0;

        fake_graced("exec \"$TW\" --ignore TERM --stamp \"$RUNTIME_DIRECTORY/up\" --block");
        ck_assert_int_eq(gh_init(&g), 0);
        ck_assert_int_eq(gh_start(&g, "/dev/null", NULL, NULL), 0);
        ck_assert(h_wait_file(gh_path(&g, "up"), T));
        ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
        t0 = h_now_ns();
        ck_assert_int_eq(gh_wait_exit(&g, 200), -1);
        ck_assert_int_ge(h_ms_since(t0), 200);
        ck_assert_int_lt(h_ms_since(t0), 5000);
        ck_assert(!g.running);
        ck_assert(WIFSIGNALED(g.status));
        ck_assert_int_eq(WTERMSIG(g.status), SIGKILL);
        ck_assert(!h_pid_exists(g.pid));
        gh_cleanup(&g);
        real_graced();
}
END_TEST

START_TEST(test_gh_start_fails)
{
        struct gh g = { 0 };

        setenv("GRACED_BIN", "/nonexistent/graced", 1);
        errno = 0;
        ck_assert_int_eq(gh_start(&g, "/dev/null", NULL, NULL), -1); /* a zeroed g is initialised */
        ck_assert_int_eq(errno, ENOENT);
        ck_assert_ptr_nonnull(g.dir);
        ck_assert(!g.running);
        gh_cleanup(&g);
        gh_cleanup(&g);
        real_graced();
}
END_TEST

START_TEST(test_gh_cleanup_reaps_orphans)
{
        struct gh g;
        pid_t w, gc;

        /* a "worker" in its own session that ignores SIGTERM, with a grandchild */
        fake_graced("setsid \"$TW\" --ignore TERM --fork-grandchild \"$RUNTIME_DIRECTORY/gc\" "
                    "--stamp \"$RUNTIME_DIRECTORY/w\" --block &\n"
                    "exec \"$TW\" --block");
        ck_assert_int_eq(gh_init(&g), 0);
        ck_assert_int_eq(gh_start(&g, "/dev/null", NULL, NULL), 0);
        ck_assert(h_wait_file(gh_path(&g, "w"), T));
        w = h_read_stamp_pid(gh_path(&g, "w"));
        gc = h_read_stamp_pid(gh_path(&g, "gc"));
        ck_assert_int_gt(w, 0);
        ck_assert_int_gt(gc, 0);
        ck_assert_int_eq(h_pid_ppid(w), g.pid);
        ck_assert_int_ne(h_pid_pgid(w), g.pid);
        gh_cleanup(&g);
        ck_assert(!h_pid_exists(w));
        ck_assert(!h_pid_exists(gc));
        real_graced();
}
END_TEST

START_TEST(test_gh_report)
{
        struct gh g;
        struct json_object *r, *web, *db, *pre;

        ck_assert_int_eq(gh_init(&g), 0);
        ck_assert_ptr_null(gh_report(&g)); /* none yet */
        ck_assert_ptr_nonnull(gh_write_file(
                &g, "report.json",
                "{ \"supervisor\": \"shop\", \"reason\": \"SIGTERM\", \"forced\": false, \"clean\": true,\n"
                "  \"started\": \"2026-11-24T19:00:00.000Z\", \"duration_s\": 1.204,\n"
                "  \"workers\": [\n"
                "    { \"name\": \"web\", \"pid\": 4242, \"outcome\": \"stopped\", \"signal\": \"SIGTERM\",\n"
                "      \"exit_code\": 0, \"exit_signal\": null, \"stop_s\": 0.101, \"restarts\": 0,\n"
                "      \"pre_stop\": { \"outcome\": \"ok\", \"duration_s\": 0.010, \"exit_code\": 0 },\n"
                "      \"post_stop\": null },\n"
                "    { \"name\": \"db\", \"pid\": 4243, \"outcome\": \"killed\", \"exit_code\": null,\n"
                "      \"exit_signal\": \"SIGKILL\", \"stop_s\": 3, \"restarts\": 2, \"pre_stop\": null,\n"
                "      \"post_stop\": null }\n"
                "  ],\n"
                "  \"cleanup\": [ { \"name\": \"flush-queue\", \"outcome\": \"ok\", \"duration_s\": 0.2, "
                "\"exit_code\": 0 } ]\n"
                "}\n"));
        r = gh_report(&g);
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(h_json_str(r, "supervisor"), "shop");
        ck_assert_int_eq(h_json_bool(r, "forced"), 0);
        ck_assert_int_eq(h_json_bool(r, "clean"), 1);
        ck_assert_int_eq(h_json_bool(r, "reason"), -1);
        ck_assert(fabs(h_json_double(r, "duration_s") - 1.204) < 1e-9);
        ck_assert_int_eq(h_json_len(r, "workers"), 2);
        ck_assert_int_eq(h_json_len(r, "supervisor"), -1);

        web = h_report_worker(r, "web");
        db = h_report_worker(r, "db");
        ck_assert_ptr_nonnull(web);
        ck_assert_ptr_nonnull(db);
        ck_assert_ptr_null(h_report_worker(r, "nope"));
        ck_assert_int_eq(h_report_worker_pos(r, "web"), 0);
        ck_assert_int_eq(h_report_worker_pos(r, "db"), 1);
        ck_assert_int_eq(h_report_worker_pos(r, "nope"), -1);
        ck_assert_str_eq(h_json_str(web, "outcome"), "stopped");
        ck_assert_int_eq(h_json_int(web, "pid"), 4242);
        ck_assert_int_eq(h_json_int(web, "exit_code"), 0);
        ck_assert(h_json_is_null(web, "exit_signal"));
        ck_assert(h_json_has(web, "exit_signal"));
        ck_assert_int_eq(h_json_int(web, "exit_signal"), H_JSON_NONE);
        ck_assert_ptr_null(h_json_str(web, "exit_signal"));
        ck_assert(!h_json_is_null(web, "missing"));
        ck_assert(!h_json_has(web, "missing"));
        ck_assert(fabs(h_json_double(web, "stop_s") - 0.101) < 1e-9);
        ck_assert(fabs(h_json_double(db, "stop_s") - 3.0) < 1e-9); /* an int is a number too */
        ck_assert(isnan(h_json_double(web, "outcome")));
        ck_assert_int_eq(h_json_int(web, "stop_s"), H_JSON_NONE);
        pre = h_json_get(web, "pre_stop");
        ck_assert_str_eq(h_json_str(pre, "outcome"), "ok");
        ck_assert(h_json_is_null(web, "post_stop"));
        ck_assert_ptr_null(h_json_get(web, "post_stop"));
        ck_assert(h_json_is_null(db, "exit_code"));
        ck_assert_str_eq(h_json_str(h_report_cleanup(r, "flush-queue"), "outcome"), "ok");
        ck_assert_ptr_null(h_report_cleanup(r, "web"));
        ck_assert_ptr_null(h_json_str(NULL, "x"));
        ck_assert_ptr_null(h_report_worker(NULL, "web"));
        ck_assert_int_eq(h_json_bool(NULL, "x"), -1);

        /* re-read: the old root is released */
        ck_assert_ptr_nonnull(gh_report(&g));
        ck_assert_ptr_nonnull(gh_write_file(&g, "report.json", "{ \"workers\": [ }"));
        ck_assert_ptr_null(gh_report(&g));
        ck_assert_ptr_nonnull(gh_write_file(&g, "report.json", "{ \"workers\": [] } x"));
        ck_assert_ptr_null(gh_report(&g));
        ck_assert_ptr_nonnull(gh_write_file(&g, "report.json", "{ \"workers\": [] }\n\n"));
        ck_assert_ptr_nonnull(gh_report(&g));
        ck_assert_ptr_nonnull(gh_write_file(&g, "report.json", "%s", ""));
        ck_assert_ptr_null(gh_report(&g));
        gh_cleanup(&g);
}
END_TEST

START_TEST(test_gh_at_exit)
{
        int p[2], st;
        pid_t child, graced = 0;
        char dir[4096] = "";
        ssize_t n;

        /* a test that exits without gh_cleanup (as a failed ck_assert does) */
        fake_graced("exec \"$TW\" --ignore TERM --print 1 --stamp \"$RUNTIME_DIRECTORY/up\" --block");
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        fflush(NULL);
        child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                struct gh g;

                if (gh_init(&g) < 0 || gh_start(&g, "/dev/null", NULL, NULL) < 0 ||
                    !h_wait_file(gh_path(&g, "up"), T))
                        _exit(3);
                if (write(p[1], &g.pid, sizeof(g.pid)) < 0 || write(p[1], g.dir, strlen(g.dir)) < 0)
                        _exit(3);
                exit(1);
        }
        close(p[1]);
        ck_assert_int_eq(read(p[0], &graced, sizeof(graced)), (ssize_t)sizeof(graced));
        n = read(p[0], dir, sizeof(dir) - 1);
        ck_assert_int_gt(n, 0);
        dir[n] = '\0';
        close(p[0]);
        ck_assert_int_eq(waitpid(child, &st, 0), child);
        ck_assert_int_eq(h_exit_code(st), 1);
        ck_assert(!h_pid_exists(graced));
        ck_assert_int_eq(access(dir, F_OK), -1);
        real_graced();
}
END_TEST

START_TEST(test_runner_sweep)
{
        int p[2], st;
        pid_t runner;
        ssize_t n;
        struct {
                pid_t graced, worker, gc;
                char dir[512], base[512];
        } info;

        /* A runner whose test fails (_exit, as a failed ck_assert) while graced
         * runs a worker in its own session that ignores SIGTERM. */
        fake_graced("setsid \"$TW\" --ignore TERM --fork-grandchild \"$RUNTIME_DIRECTORY/gc\" "
                    "--stamp \"$RUNTIME_DIRECTORY/w\" --block &\n"
                    "echo graced is up\n"
                    "exec \"$TW\" --ignore TERM --block");
        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        fflush(NULL);
        runner = fork();
        ck_assert_int_ge(runner, 0);
        if (runner == 0) {
                pid_t test;

                if (h_runner_init() < 0)
                        _exit(10);
                test = fork();
                if (test < 0)
                        _exit(11);
                if (test == 0) {
                        struct gh g;

                        if (gh_init(&g) < 0 || gh_start(&g, "/dev/null", NULL, NULL) < 0 ||
                            !h_wait_file(gh_path(&g, "w"), T) || !h_wait_log(&g, "graced is up", T))
                                _exit(3);
                        memset(&info, 0, sizeof(info));
                        info.graced = g.pid;
                        info.worker = h_read_stamp_pid(gh_path(&g, "w"));
                        info.gc = h_read_stamp_pid(gh_path(&g, "gc"));
                        snprintf(info.dir, sizeof(info.dir), "%s", g.dir);
                        if (write(p[1], &info, sizeof(info)) != (ssize_t)sizeof(info))
                                _exit(3);
                        _exit(1); /* the test "fails" */
                }
                while (waitpid(test, &st, 0) < 0)
                        if (errno != EINTR)
                                _exit(12);
                if (h_exit_code(st) != 1)
                        _exit(13);
                h_runner_sweep();
                h_runner_done();
                exit(0);
        }
        close(p[1]);
        n = read(p[0], &info, sizeof(info));
        close(p[0]);
        ck_assert_int_eq(n, (ssize_t)sizeof(info));
        ck_assert_int_eq(waitpid(runner, &st, 0), runner);
        ck_assert_int_eq(h_exit_code(st), 0);
        ck_assert_int_gt(info.worker, 0);
        ck_assert_int_gt(info.gc, 0);
        ck_assert(!h_pid_exists(info.graced));
        ck_assert(!h_pid_exists(info.worker));
        ck_assert(!h_pid_exists(info.gc));
        ck_assert_int_eq(access(info.dir, F_OK), -1);
        *strrchr(info.dir, '/') = '\0';
        ck_assert_ptr_nonnull(strstr(info.dir, "/graced-tests."));
        ck_assert_int_eq(access(info.dir, F_OK), -1);
        real_graced();
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("harness");
        TCase *tc = h_tcase(s, "files", 60);

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_tmpdir_rmrf);
        tcase_add_test(tc, test_write_read_file);
        tcase_add_test(tc, test_wait_file_timeout);
        tcase_add_test(tc, test_wait_file_appears);
        tcase_add_test(tc, test_field_helpers);
        tcase_add_test(tc, test_lines);

        tc = h_tcase(s, "processes", 60);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_pid_helpers);
        tcase_add_test(tc, test_spawn_exec_failure);
        tcase_add_test(tc, test_wait_child_timeout);
        tcase_add_test(tc, test_run_output);

        tc = h_tcase(s, "testworker", 60);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_tw_usage);
        tcase_add_test(tc, test_tw_stamp);
        tcase_add_test(tc, test_tw_print);
        tcase_add_test(tc, test_tw_print_bytes);
        tcase_add_test(tc, test_tw_lines_fast);
        tcase_add_test(tc, test_tw_append_read_stdin);
        tcase_add_test(tc, test_tw_report_fds);
        tcase_add_test(tc, test_tw_on_signal);
        tcase_add_test(tc, test_tw_on_signal_delay);
        tcase_add_test(tc, test_tw_wait_file);
        tcase_add_test(tc, test_tw_listen);
        tcase_add_test(tc, test_tw_signal_stamp_say);
        tcase_add_test(tc, test_tw_ignore);
        tcase_add_test(tc, test_tw_fork_grandchild);
        tcase_add_test(tc, test_tw_grandchild_holds_output);
        tcase_add_test(tc, test_tw_orphan);
        tcase_add_test(tc, test_tw_notify);

        tc = h_tcase(s, "gh", 60);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_gh_start_log_signal);
        tcase_add_test(tc, test_gh_wait_timeout_kills);
        tcase_add_test(tc, test_gh_start_fails);
        tcase_add_test(tc, test_gh_cleanup_reaps_orphans);
        tcase_add_test(tc, test_gh_report);
        tcase_add_test(tc, test_gh_at_exit);
        tcase_add_test(tc, test_runner_sweep);
        return s;
}

int main(void)
{
        (void)h_testworker(); /* fail early and clearly when unset */
        return h_run_suite(suite());
}
