/* harness.h - helpers for graced's integration tests.
 *
 * A test starts a real graced on a configuration it writes, watches its
 * log and the files the workers (tests/helpers/testworker) leave, signals
 * it, waits for it to exit and reads its report:
 *
 *      struct gh g;
 *      ck_assert_int_eq(gh_init(&g), 0);
 *      const char *conf = gh_write_file(&g, "graced.conf",
 *              "workers = ({ name = \"web\"; command = [\"%s\", \"--stamp\", \"%s\", \"--block\"]; });\n",
 *              h_testworker(), gh_path(&g, "web.stamp"));
 *      ck_assert_int_eq(gh_start(&g, conf, NULL, NULL), 0);
 *      ck_assert(h_wait_file(gh_path(&g, "web.stamp"), 5000));
 *      ck_assert_int_eq(gh_signal(&g, SIGTERM), 0);
 *      ck_assert_int_eq(gh_exit_code(&g, 5000), 0);
 *      struct json_object *r = gh_report(&g);
 *      ck_assert_str_eq(h_json_str(h_report_worker(r, "web"), "outcome"), "stopped");
 *      gh_cleanup(&g);
 *
 * Conventions
 * - Timeouts are in milliseconds of CLOCK_MONOTONIC; every wait is bounded.
 *   Waits wake up on inotify / pidfd events (with a short poll as a safety
 *   net), so they return as soon as the awaited thing happens.
 * - h_* functions that return `char *` return malloc'd memory the caller
 *   frees; gh_* functions that return `const char *` return memory owned by
 *   the struct gh, freed by gh_cleanup (see gh_keep).
 * - Failures are plain return values (NULL, -1, false) with errno set where
 *   it means something, and a line on stderr starting with "harness: ".
 *   Only out of memory and a missing GRACED_* variable abort.
 * - The harness signals only processes it started itself (by their pid,
 *   or by the process group it created for them) and, with the subreaper
 *   (gh.reap_orphans), the orphans re-parented to the test process.
 * - Every fd the harness opens is close-on-exec; processes it starts get
 *   fds 0, 1 and 2 only, default signal dispositions, an empty signal mask,
 *   stdin from /dev/null, their own process group and PR_SET_PDEATHSIG
 *   SIGKILL (so they die with a test that fails or hits Check's timeout).
 * - What a test leaves behind is cleaned up even when it fails. A failed
 *   ck_assert ends Check's forked test with _exit(): no teardown, no atexit.
 *   So every process the harness starts gets PR_SET_PDEATHSIG SIGKILL, and
 *   the test program's main() calls h_runner_init() (the runner becomes a
 *   subreaper and the parent of every temp dir), h_runner_sweep() after
 *   each TCase (an unchecked fixture, run by the runner) and h_runner_done()
 *   at the end; they kill and reap what was re-parented to the runner, print
 *   the end of the graced log of each test that did not clean up, and
 *   remove the temp dirs. At a normal exit (and in CK_FORK=no mode) an
 *   atexit handler does the same for what the test process itself started.
 *
 * Environment
 *   GRACED_BIN, GRACED_TESTWORKER, GRACED_TEST_DATA: see h_graced() etc.
 *   GRACECTL_BIN: the gracectl binary, for h_gracectl().
 *   GRACED_KEEP_TEST: set to keep the temp dirs (their paths are printed).
 *   GRACED_WRAPPER: a command prefix for graced, split at blanks, e.g.
 *       "valgrind -q --error-exitcode=99 --leak-check=full".
 *   TMPDIR: where temp dirs go (default /tmp); keep it short, sockets live
 *       there and their paths are limited to 107 bytes.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct json_object;

#define H_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* ---- environment ---------------------------------------------------------- */

/* Paths from $GRACED_BIN, $GRACED_TESTWORKER, $GRACED_TEST_DATA; abort
 * with a clear message when the variable is unset. h_gracectl: $GRACECTL_BIN,
 * else "gracectl" next to $GRACED_BIN. h_env_path: any such variable. */
const char *h_env_path(const char *var);
const char *h_graced(void);
const char *h_testworker(void);
const char *h_data(void);
const char *h_gracectl(void);

/* ---- time --------------------------------------------------------------------- */

/* CLOCK_MONOTONIC in ns. */
long long h_now_ns(void);
/* Milliseconds elapsed since h_now_ns() returned start_ns. */
long long h_ms_since(long long start_ns);
/* Lets time pass on purpose (a debounce window that must expire). Never use
 * it to wait for something to happen: wait for the event instead. */
void h_sleep_ms(int ms);

/* ---- the test program -------------------------------------------------------------- */

/* In main():
 *
 *      h_runner_init();
 *      tc = tcase_create("..."); tcase_add_unchecked_fixture(tc, NULL, h_runner_sweep);
 *      ...
 *      srunner_run_all(sr, CK_ENV);
 *      failed = srunner_ntests_failed(sr);
 *      srunner_free(sr);
 *      h_runner_done();
 *
 * h_runner_init: makes this process a subreaper and creates the directory
 * $TMPDIR/graced-tests.XXXXXX that h_tmpdir then creates the temp dirs in
 * (0 or -1). h_runner_sweep: in the runner only, between tests: kills and
 * reaps the processes left over by finished tests, shows the end of the log
 * of each graced whose test did not clean up and removes the temp dirs.
 * h_runner_done: a last sweep, then removes the directory (with
 * GRACED_KEEP_TEST: keeps everything and prints where). */
int h_runner_init(void);
void h_runner_sweep(void);
void h_runner_done(void);

/* The usual shape of that, for programs that need nothing else:
 * h_tcase() creates a TCase with the sweep and a timeout (seconds) and adds
 * it to s; h_run_suite() runs s between h_runner_init and h_runner_done and
 * returns main()'s exit status. */
struct Suite;
struct TCase;
struct TCase *h_tcase(struct Suite *s, const char *name, int timeout_s);
int h_run_suite(struct Suite *s);

/* ---- files and directories ---------------------------------------------------- */

/* A fresh directory graced-test.XXXXXX (mode 0700) in h_runner_init's
 * directory, else in $TMPDIR or /tmp: its path (malloc'd), or NULL. The
 * process that made it removes it at exit (unless GRACED_KEEP_TEST). */
char *h_tmpdir(void);
/* Removes dir and everything below it (nftw, no symlinks followed). */
void h_rmrf(const char *dir);
/* "dir/name" (malloc'd). */
char *h_path(const char *dir, const char *name);
/* Writes a printf-formatted file atomically (name.tmp, rename), mode 0644,
 * into dir (NULL: name is the path). Returns its path (malloc'd) or NULL. */
char *h_write_file(const char *dir, const char *name, const char *fmt, ...) H_PRINTF(3, 4);
/* The whole file, NUL-terminated (malloc'd), or NULL with errno set.
 * h_read_file_len also gives the length (the file may hold NULs). */
char *h_read_file(const char *path);
char *h_read_file_len(const char *path, size_t *len);
/* Waits until path exists and is not empty. */
bool h_wait_file(const char *path, int timeout_ms);
/* Valid UTF-8 (RFC 3629), checked independently of graced's own code. */
bool h_valid_utf8(const char *s, size_t len);
/* Lines of the file that contain substr (a last line without newline
 * counts); -1 when the file cannot be read. */
int h_count_lines(const char *path, const char *substr);
/* Waits until at least n lines of the file contain substr. */
bool h_wait_lines(const char *path, const char *substr, int n, int timeout_ms);
/* 0-based number of the first line containing substr, -1 if none. */
int h_find_line(const char *path, const char *substr);
/* Prints the last max_lines lines of the file on stderr, prefixed. */
void h_dump_file(const char *path, int max_lines);

/* testworker's --stamp file ("<pid> <mono ns> <realtime ns>"); the pid
 * functions also read the pid files of --fork-grandchild / --orphan.
 * They return -1 when the file cannot be read or parsed. */
bool h_read_stamp(const char *path, pid_t *pid, long long *mono_ns, long long *real_ns);
pid_t h_read_stamp_pid(const char *path);
long long h_read_stamp_mono_ns(const char *path);

/* In the text of testworker's --report-fds: the value of the first line
 * "KEY VALUE" (malloc'd), e.g. h_field(t, "pgid"); NULL if none. */
char *h_field(const char *text, const char *key);
/* The value of "env NAME=VALUE" (malloc'd), NULL when NAME is not set. */
char *h_field_env(const char *text, const char *name);
/* Number of lines starting with "KEY " (h_field_count(t, "fd") = open fds). */
int h_field_count(const char *text, const char *key);

/* ---- processes -------------------------------------------------------------------- */

/* kill(pid, 0) finds it and it is not a zombie. */
bool h_pid_alive(pid_t pid);
/* It has a process table entry at all (zombies too). */
bool h_pid_exists(pid_t pid);
/* Waits until !h_pid_alive(pid) (dead, zombie or gone). */
bool h_wait_pid_gone(pid_t pid, int timeout_ms);
/* Waits until !h_pid_exists(pid) (reaped by its parent). */
bool h_wait_pid_reaped(pid_t pid, int timeout_ms);
/* From /proc/<pid>/stat; -1 when the process does not exist. */
pid_t h_pid_ppid(pid_t pid);
pid_t h_pid_pgid(pid_t pid);

/* Starts argv (argv[0] looked up in PATH) in its own process group, stdin
 * /dev/null, stdout and stderr appended to out_path (NULL: inherited).
 * env: "KEY=VALUE" sets, "KEY" unsets, on top of the test's environment
 * minus NOTIFY_SOCKET, JOURNAL_STREAM, LISTEN_* and WATCHDOG_*. Returns the
 * pid, or -1 with errno set (also when exec failed: the errno of execve). */
pid_t h_spawn(const char *const *argv, const char *const *env, const char *out_path);
/* Waits for a process started by h_spawn: its wait status, or -1 on timeout
 * (then its process group is SIGKILLed and reaped) or when pid is not one
 * of the harness' running children. */
int h_wait_child(pid_t pid, int timeout_ms);
/* Runs argv like h_spawn and waits: the wait status or -1 (timeout: killed).
 * With output, *output receives its stdout+stderr (malloc'd). */
int h_run(const char *const *argv, const char *const *env, int timeout_ms, char **output);
/* A wait status as a number: the exit code, 128 + signal, -1 for -1. */
int h_exit_code(int status);

/* Makes the calling process a child subreaper (idempotent): orphans of the
 * processes it started are re-parented to it instead of init. */
int h_subreaper(void);
/* SIGKILLs and reaps every child of the calling process that the harness
 * did not start itself (orphans re-parented to the subreaper), repeating
 * until none is left (bounded). Returns how many, -1 on error. Start every
 * process you want to keep with h_spawn/h_run/gh_start. */
int h_reap_orphans(void);

/* ---- a running graced ------------------------------------------------------------- */

struct gh {
        pid_t pid;          /* graced's pid, also its process group; 0 before gh_start */
        bool running;       /* started and not reaped yet */
        int status;         /* its wait status, once reaped */
        bool reap_orphans;  /* (default true) make the test process a subreaper at
                             * gh_start; gh_cleanup then kills and reaps what graced
                             * left behind (h_reap_orphans: every orphan of the test
                             * process, those of another graced it runs included) */
        char *dir;          /* the temp dir of this test */
        char *log_path;     /* dir/graced.log: graced's stdout and stderr (O_APPEND) */
        char *report_path;  /* dir/report.json, passed as --report */
        char *ctl_path;     /* dir/control.sock: RUNTIME_DIRECTORY is dir */
        /* private */
        struct json_object *report_;
        void **kept_;
        size_t n_kept_, cap_kept_;
};

/* Zeroes g, creates its temp dir and paths. 0, or -1. */
int gh_init(struct gh *g);
/* Keeps p (malloc'd) until gh_cleanup frees it; returns p. */
void *gh_keep(struct gh *g, void *p);
/* "dir/name", owned by g. */
const char *gh_path(struct gh *g, const char *name);
/* A string from parts (printf), owned by g. */
const char *gh_printf(struct gh *g, const char *fmt, ...) H_PRINTF(2, 3);
const char *gh_vprintf(struct gh *g, const char *fmt, va_list ap) H_PRINTF(2, 0);
/* h_write_file into g->dir; the path is owned by g. */
const char *gh_write_file(struct gh *g, const char *name, const char *fmt, ...) H_PRINTF(3, 4);

/* Starts graced (behind $GRACED_WRAPPER) as
 *   graced -c CONF --log-format=text --color=never --report DIR/report.json EXTRA_ARGS...
 * (with getopt a later --log-format or --color in extra_args wins), stdout and stderr
 * appended to g->log_path, stdin /dev/null, in its own process group, with
 * the environment of h_spawn plus RUNTIME_DIRECTORY=g->dir (so the default
 * control socket is g->ctl_path); extra_env is applied last ("K=V" sets,
 * "K" unsets). g must come from gh_init (a zeroed g is initialised here).
 * It can be started again once the previous graced was reaped (the log is
 * appended to, the report removed). Returns 0, or -1 with errno set. */
int gh_start(struct gh *g, const char *conf_path, const char *const *extra_args,
             const char *const *extra_env);
/* kill(graced, sig) while it runs; 0 or -1 (ESRCH once it was reaped). */
int gh_signal(struct gh *g, int sig);
/* Waits for graced to exit: its wait status (the stored one when already
 * reaped), or -1 on timeout, after SIGKILLing its process group and
 * reaping it. */
int gh_wait_exit(struct gh *g, int timeout_ms);
/* gh_wait_exit as a number: exit code, 128 + signal, -1 on timeout. */
int gh_exit_code(struct gh *g, int timeout_ms);
/* SIGTERM, then gh_exit_code. */
int gh_shutdown(struct gh *g, int timeout_ms);
/* SIGKILLs graced's process group if it still runs and reaps it, reaps the
 * orphans (reap_orphans), frees everything and removes the temp dir unless
 * $GRACED_KEEP_TEST is set (then prints its path). g is zeroed; calling it
 * again, or on a zeroed g, does nothing. */
void gh_cleanup(struct gh *g);

/* graced's log: wait for / count lines containing substr, read it all
 * (malloc'd), the 0-based number of the first line containing substr (or
 * -1), print its tail on stderr. A wait that times out says so on stderr
 * with the tail of the log. */
bool h_wait_log(struct gh *g, const char *substr, int timeout_ms);
bool h_wait_log_count(struct gh *g, const char *substr, int n, int timeout_ms);
int h_count_log(struct gh *g, const char *substr);
char *h_log_contents(struct gh *g);
int h_log_line(struct gh *g, const char *substr);
void gh_dump_log(struct gh *g, int max_lines);

/* ---- the report (json-c) ------------------------------------------------------------ */

/* Parses g->report_path: the root object, owned by g and valid until the
 * next gh_report or gh_cleanup; NULL (with a message) when it is missing or
 * not JSON. */
struct json_object *gh_report(struct gh *g);
/* The element of report["workers"] / report["cleanup"] whose "name" is
 * name (borrowed), or NULL. */
struct json_object *h_report_worker(struct json_object *report, const char *name);
struct json_object *h_report_cleanup(struct json_object *report, const char *name);
/* Its index in report["workers"] (the stop order), -1 if absent. */
int h_report_worker_pos(struct json_object *report, const char *name);

/* Fields of an object. obj may be NULL (then everything is "missing"). */
#define H_JSON_NONE (-9223372036854775807LL - 1) /* h_json_int: missing */
struct json_object *h_json_get(struct json_object *obj, const char *key); /* NULL: missing or null */
bool h_json_has(struct json_object *obj, const char *key);                 /* present, null included */
bool h_json_is_null(struct json_object *obj, const char *key);             /* present and null */
const char *h_json_str(struct json_object *obj, const char *key);          /* NULL unless a string */
long long h_json_int(struct json_object *obj, const char *key);            /* H_JSON_NONE unless an int */
double h_json_double(struct json_object *obj, const char *key);            /* NAN unless a number */
int h_json_bool(struct json_object *obj, const char *key);                 /* 1, 0, -1 unless a bool */
int h_json_len(struct json_object *obj, const char *key);                  /* array length, -1 */

/* ---- loopback TCP and /proc/PID/maps --------------------------------------------------- */

/* A port of 127.0.0.1 nobody listens on right now (asserts). */
int h_free_port(void);
/* A connection to 127.0.0.1:port, or -1 with errno (ECONNREFUSED...). */
int h_tcp_connect(int port);
/* The status code of `GET path HTTP/1.0` from 127.0.0.1:port (the answer
 * ends with the connection), or -1. */
int h_http_status(int port, const char *path);
/* Whether process pid maps a file whose name holds what (/proc/PID/maps). */
bool h_pid_maps(pid_t pid, const char *what);

/* ---- a fake $NOTIFY_SOCKET ------------------------------------------------------------ */

struct h_notify {
        int fd;
        char *path;  /* "/dir/notify.sock" or "@graced-test-..." (abstract) */
        char *env;   /* "NOTIFY_SOCKET=<path>", for extra_env */
        size_t n;    /* datagrams received so far */
        char **msgs; /* their text, NUL-terminated */
        pid_t *pids; /* their senders (SO_PASSCRED), 0 when unknown */
};

/* A datagram socket at dir/notify.sock, or an abstract one when dir is
 * NULL. 0, or -1. */
int h_notify_open(struct h_notify *n, const char *dir);
/* Each first receives what is queued. h_notify_wait: waits until a datagram
 * received so far contains substr; h_notify_count: how many do;
 * h_notify_find: the index of the first that does (into msgs/pids), -1. */
bool h_notify_wait(struct h_notify *n, const char *substr, int timeout_ms);
int h_notify_count(struct h_notify *n, const char *substr);
int h_notify_find(struct h_notify *n, const char *substr);
void h_notify_close(struct h_notify *n);
