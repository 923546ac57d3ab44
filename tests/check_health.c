/* check_health.c - readiness and health probes, and part_of, end to end:
 * the real graced, real workers (tests/helpers/testworker), real sockets on
 * the loopback, real exec probes.
 *
 * "ready":   for each kind of probe (tcp, unix, http, exec, log) a
 *            dependency that is not ready at first and a dependent that
 *            starts only once it is: the dependency's "listening since" /
 *            "said it" stamp (or the moment the test made it ready) comes
 *            before the dependent's start stamp; a log probe counts only
 *            the lines of the current run; never ready: a failed start at
 *            ready_timeout, its dependent not started, a critical one
 *            takes graced down with exit 1.
 * "health":  N failures in a row restart the worker, one success resets
 *            the count, restart = "no" leaves it failed, a hung exec probe
 *            is killed with its process group at its timeout; http on
 *            one worker for readiness and health; gracectl status' HEALTH
 *            column and --json "health".
 * "parts":   part_of: `gracectl restart db`, `gracectl stop db` / `start
 *            db`, db crashing and restarting, db failing its health probe,
 *            a reload that restarts db:
 *            the part has fully stopped before db gets its stop signal (or
 *            before db's new process starts) and comes back once db is
 *            ready again, each order proven by the workers' stamps.
 * "idle":    with every worker ready and no health probe due, graced does
 *            not wake up at all.
 *
 * Ports: a test reserves a port of 127.0.0.1 with a socket of its own bound
 * to port 0 with SO_REUSEPORT and not listening (connections are refused)
 * and keeps it for the whole test; the worker binds the same port with
 * SO_REUSEPORT when it means to listen (testworker --listen-tcp). Nobody
 * else can take the port meanwhile, and no connect() of graced's can get
 * it as its own source port (a self-connection would "succeed").
 *
 * Every wait is on an event (a log line, a file, a pid, gracectl); h_sleep_ms
 * only bounds polls of stamps, and lets time pass in the test that checks
 * that an idle graced stays idle.
 * Needs GRACED_BIN, GRACED_TESTWORKER, GRACECTL_BIN. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>

#include "harness.h"

#define ARGV(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define T 5000 /* ms: a generous bound for things that happen at once */
#define MS 1000000LL
#define TW h_testworker()

/* ---- helpers ------------------------------------------------------------------- */

/* A port of 127.0.0.1 nobody listens on, reserved for the test (see the
 * top of the file); the fd is left open until the test process ends. */
static int reserve_port(void)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)), 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
        return ntohs(sa.sin_port);
}

/* graced.conf: the workers given, each in the test's directory (cwd), so
 * that commands and probes name their files relatively. */
H_PRINTF(2, 3) static const char *conf(struct gh *g, const char *workers_fmt, ...)
{
        va_list ap;
        char *workers;
        const char *path;

        va_start(ap, workers_fmt);
        ck_assert_int_ge(vasprintf(&workers, workers_fmt, ap), 0);
        va_end(ap);
        path = gh_write_file(g, "graced.conf", "workers = (\n%s\n);\n", workers);
        free(workers);
        ck_assert_ptr_nonnull(path);
        return path;
}

/* graced -v (the probes' failures are debug records). */
static void start(struct gh *g, const char *conf_path, bool subreaper)
{
        const char *args[] = { "-v", subreaper ? "--subreaper" : NULL, NULL };

        ck_assert_int_eq(gh_start(g, conf_path, args, NULL), 0);
}

static void touch(struct gh *g, const char *name)
{
        ck_assert_ptr_nonnull(gh_write_file(g, name, "x\n"));
}

static bool exists(struct gh *g, const char *name) { return access(gh_path(g, name), F_OK) == 0; }

/* The monotonic time in a stamp (waiting for the file: a --listen-* stamp
 * is written just after the socket listens, and a probe may be quicker). */
static long long mono(struct gh *g, const char *name)
{
        long long m;

        ck_assert_msg(h_wait_file(gh_path(g, name), T), "no file %s", name);
        m = h_read_stamp_mono_ns(gh_path(g, name));
        ck_assert_msg(m > 0, "no stamp in %s", name);
        return m;
}

/* The same, once the stamp names pid (written by that run). */
static long long mono_of(struct gh *g, const char *name, pid_t pid)
{
        long long start = h_now_ns();

        while (h_read_stamp_pid(gh_path(g, name)) != pid && h_ms_since(start) < T)
                h_sleep_ms(5); /* a bounded poll, not a synchronisation */
        ck_assert_msg(h_read_stamp_pid(gh_path(g, name)) == pid, "%s: not written by %ld", name, (long)pid);
        return mono(g, name);
}

static pid_t stamp_pid(struct gh *g, const char *name)
{
        pid_t p = h_read_stamp_pid(gh_path(g, name));

        ck_assert_msg(p > 0, "no pid in %s", name);
        return p;
}

/* Waits until the stamp names a pid other than old (a new run wrote it). */
static pid_t wait_new_pid(struct gh *g, const char *name, pid_t old)
{
        long long start = h_now_ns();

        while (h_ms_since(start) < T) {
                pid_t p = h_read_stamp_pid(gh_path(g, name));

                if (p > 0 && p != old)
                        return p;
                h_sleep_ms(5); /* a bounded poll, not a synchronisation */
        }
        gh_dump_log(g, 30);
        ck_abort_msg("%s: no new pid (still %ld) within %d ms", name, (long)old, T);
        return -1;
}

/* 0-based number of the n-th (1-based) line of the log containing substr,
 * -1 when there are fewer. */
static int log_line_nth(struct gh *g, const char *substr, int n)
{
        char *text = h_log_contents(g), *line = text;
        int no = 0, found = -1;

        while (line && *line) {
                char *end = strchr(line, '\n');

                if (end)
                        *end = '\0';
                if (strstr(line, substr) && --n == 0) {
                        found = no;
                        break;
                }
                no++;
                line = end ? end + 1 : NULL;
        }
        free(text);
        return found;
}

/* Asserts that the first line with a comes before the first with b. */
#define ck_log_before(g, a, b)                                                                      \
        do {                                                                                        \
                int la_ = h_log_line(g, a), lb_ = h_log_line(g, b);                                 \
                if (la_ < 0 || lb_ < 0 || la_ >= lb_)                                               \
                        gh_dump_log(g, 60);                                                         \
                ck_assert_msg(la_ >= 0 && lb_ >= 0 && la_ < lb_, "log: '%s' (line %d) should come " \
                              "before '%s' (line %d)", a, la_, b, lb_);                             \
        } while (0)

/* gracectl -s CTL ARGS...: its exit code; *out (owned by g) its output. */
static int ctl(struct gh *g, char **out, const char *const *args)
{
        const char *argv[16] = { h_gracectl(), "-s", g->ctl_path };
        size_t n = 3;
        char *o = NULL;
        int code;

        for (size_t i = 0; args[i] && n + 1 < sizeof argv / sizeof argv[0]; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        code = h_exit_code(h_run(argv, NULL, T, &o));
        o = gh_keep(g, o ? o : strdup(""));
        if (out)
                *out = o;
        return code;
}

#define CTL_OK(g, ...)                                                                              \
        do {                                                                                        \
                char *o_;                                                                           \
                int c_ = ctl(g, &o_, ARGV(__VA_ARGS__));                                            \
                ck_assert_msg(c_ == 0, "gracectl exit %d: %s", c_, o_);                             \
        } while (0)

/* A field of the worker in `gracectl --json status` (malloc'd; "(null)"
 * for a JSON null, NULL when the worker or field is missing). */
static char *status_field(struct gh *g, const char *name, const char *key)
{
        char *out, *val = NULL;
        struct json_object *o, *a;

        ck_assert_int_eq(ctl(g, &out, ARGV("--json", "status")), 0);
        o = json_tokener_parse(out);
        ck_assert_msg(o != NULL, "gracectl --json status printed no JSON: %s", out);
        a = h_json_get(o, "workers");
        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                struct json_object *w = json_object_array_get_idx(a, i), *v;
                const char *n = h_json_str(w, "name");

                if (!n || strcmp(n, name) != 0 || !h_json_has(w, key))
                        continue;
                v = h_json_get(w, key);
                val = strdup(v ? json_object_get_string(v) : "(null)");
                break;
        }
        json_object_put(o);
        return val;
}

#define ck_status(g, name, key, want)                                                               \
        do {                                                                                        \
                char *v_ = status_field(g, name, key);                                              \
                ck_assert_msg(v_ && strcmp(v_, want) == 0, "%s's %s: '%s', wanted '%s'", name, key, \
                              v_ ? v_ : "(missing)", want);                                         \
                free(v_);                                                                           \
        } while (0)

/* The HEALTH column of `gracectl status` for the worker (malloc'd): the
 * text under the header word, up to two blanks. */
static char *status_health_column(struct gh *g, const char *name)
{
        char *out, *hdr, *col, *line;
        size_t off, nl = strlen(name);

        ck_assert_int_eq(ctl(g, &out, ARGV("status")), 0);
        hdr = out;
        col = strstr(hdr, "HEALTH");
        ck_assert_msg(col != NULL && col < strchr(hdr, '\n'), "no HEALTH column: %s", out);
        off = (size_t)(col - hdr);
        for (line = strchr(hdr, '\n'); line && *line; line = strchr(line, '\n')) {
                line++;
                if (strncmp(line, name, nl) == 0 && line[nl] == ' ') {
                        size_t len;
                        char *v = line + off, *end;

                        ck_assert_msg(strchr(line, '\n') == NULL || v < strchr(line, '\n'), "short line: %s", line);
                        end = strstr(v, "  ");
                        len = end ? (size_t)(end - v) : strcspn(v, "\n");
                        return strndup(v, len);
                }
        }
        ck_abort_msg("no line for %s in: %s", name, out);
        return NULL;
}

#define ck_health(g, name, want)                                                                    \
        do {                                                                                        \
                char *c_ = status_health_column(g, name);                                           \
                ck_assert_msg(strcmp(c_, want) == 0, "HEALTH of %s: '%s', wanted '%s'", name, c_,   \
                              want);                                                                \
                free(c_);                                                                           \
                ck_status(g, name, "health", want);                                                 \
        } while (0)

static const char *outcome(struct gh *g, const char *name)
{
        struct json_object *r = gh_report(g);

        ck_assert_ptr_nonnull(r);
        return h_json_str(h_report_worker(r, name), "outcome");
}

/* A process whose process group is pgid, other than graced's own ones. */
static bool group_has_members(pid_t pgid)
{
        DIR *d = opendir("/proc");
        struct dirent *de;
        bool found = false;

        ck_assert_ptr_nonnull(d);
        while (!found && (de = readdir(d))) {
                char *end;
                long pid = strtol(de->d_name, &end, 10);

                if (*end || pid <= 0)
                        continue;
                found = h_pid_pgid((pid_t)pid) == pgid && h_pid_alive((pid_t)pid);
        }
        closedir(d);
        return found;
}

/* The planned exec probe: DIR/plan.sh, run with the worker's cwd (DIR).
 * Each attempt takes the first character of ./plan: F fails ("planned
 * failure"), H hangs with a grandchild in its process group (first it
 * appends one line to ./probe.pids: its pid, the grandchild's, their
 * process groups), W waits until ./go exists, then succeeds; an empty plan
 * succeeds. Each attempt appends its letter (S for a success by default)
 * to ./attempts once the letter is used up: an H attempt only after its
 * line is written (one killed earlier, on a loaded machine, leaves the H
 * for the next attempt). The probe rewrites the plan only while it is not
 * empty, and a test writes a new plan only once the last one was used up
 * (its letters are in ./attempts): they never race. */
static const char plan_sh[] =
        "p=$(cat plan 2>/dev/null)\n"
        "c=${p%\"${p#?}\"}\n"
        "next() {\n"
        "  if [ -n \"$p\" ]; then printf '%s' \"${p#?}\" > plan.new && mv plan.new plan; fi\n"
        "  echo \"${c:-S}\" >> attempts\n"
        "}\n"
        "case \"$c\" in\n"
        "F) next; echo planned failure; exit 1 ;;\n"
        "H) (sleep 1000 & echo \"$$ $! $(cut -d' ' -f5 /proc/$$/stat) $(cut -d' ' -f5 /proc/$!/stat)\" >> probe.pids)\n"
        "   next; exec sleep 1000 ;;\n"
        "W) next; echo $$ > waiting; exec \"$TW\" --wait-file go ;;\n"
        "esac\n"
        "next\n"
        "exit 0\n";

static void write_plan_sh(struct gh *g)
{
        ck_assert_ptr_nonnull(gh_write_file(g, "plan.sh", "TW='%s'\n%s", TW, plan_sh));
}

/* Sets ./plan; only once the previous plan is used up (see above). */
static void plan(struct gh *g, const char *letters)
{
        ck_assert_ptr_nonnull(gh_write_file(g, "plan", "%s", letters));
}

static int attempts(struct gh *g)
{
        int n = h_count_lines(gh_path(g, "attempts"), "");

        return n < 0 ? 0 : n;
}

static void wait_attempts(struct gh *g, int n)
{
        if (!h_wait_lines(gh_path(g, "attempts"), "", n, T)) {
                gh_dump_log(g, 30);
                ck_abort_msg("fewer than %d probe attempts (%d)", n, attempts(g));
        }
}

/* ==== ready ===================================================================== */

/* tcp: db listens once the test opens its gate; web (after db) starts only
 * once db's port accepts connections. */
START_TEST(test_ready_tcp)
{
        struct gh g;
        int port = reserve_port();

        ck_assert_int_eq(gh_init(&g), 0);
        start(&g,
              conf(&g,
                   "{ name = \"db\"; cwd = \"%s\"; command = [\"%s\", \"--wait-file\", \"gate\", \"--listen-tcp\", \"%d\", \"db.listen\", \"--block\"];\n"
                   "  ready = { tcp = \"127.0.0.1:%d\"; interval = \"50ms\"; timeout = \"1s\"; }; ready_timeout = \"10s\"; },\n"
                   "{ name = \"web\"; cwd = \"%s\"; command = [\"%s\", \"--stamp\", \"web.stamp\", \"--block\"]; after = [\"db\"]; }",
                   g.dir, TW, port, port, g.dir, TW),
              false);
        ck_assert(h_wait_log(&g, "db: not ready yet: Connection refused", T));
        ck_status(&g, "db", "state", "starting");
        ck_assert(!exists(&g, "web.stamp"));
        touch(&g, "gate");
        ck_assert(h_wait_file(gh_path(&g, "web.stamp"), T));
        ck_assert_int_lt(mono(&g, "db.listen"), mono(&g, "web.stamp"));
        ck_log_before(&g, "db: ready", "web: starting");
        ck_assert_int_lt(log_line_nth(&g, "db: not ready yet", h_count_log(&g, "db: not ready yet")),
                         h_log_line(&g, "db: ready"));
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        ck_assert_str_eq(outcome(&g, "db"), "stopped");
        ck_assert_str_eq(outcome(&g, "web"), "stopped");
        gh_cleanup(&g);
}
END_TEST

/* unix: the same with a stream socket that does not exist at first. */
START_TEST(test_ready_unix)
{
        struct gh g;

        ck_assert_int_eq(gh_init(&g), 0);
        start(&g,
              conf(&g,
                   "{ name = \"db\"; cwd = \"%s\"; command = [\"%s\", \"--wait-file\", \"gate\", \"--listen-unix\", \"db.sock\", \"db.listen\", \"--block\"];\n"
                   "  ready = { unix = \"%s\"; interval = \"50ms\"; }; ready_timeout = \"10s\"; },\n"
                   "{ name = \"web\"; cwd = \"%s\"; command = [\"%s\", \"--stamp\", \"web.stamp\", \"--block\"]; after = [\"db\"]; }",
                   g.dir, TW, gh_path(&g, "db.sock"), g.dir, TW),
              false);
        ck_assert(h_wait_log(&g, "db: not ready yet: No such file or directory", T));
        ck_assert(!exists(&g, "web.stamp"));
        touch(&g, "gate");
        ck_assert(h_wait_file(gh_path(&g, "web.stamp"), T));
        ck_assert_int_lt(mono(&g, "db.listen"), mono(&g, "web.stamp"));
        ck_log_before(&g, "db: ready", "web: starting");
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* http: 503, then 404 (both not ready, each logged with its status), then
 * 302 (200-399: ready); web starts after the test switched to 302. */
START_TEST(test_ready_http)
{
        struct gh g;
        int port = reserve_port();
        long long flip;

        ck_assert_int_eq(gh_init(&g), 0);
        start(&g,
              conf(&g,
                   "{ name = \"db\"; cwd = \"%s\"; command = [\"%s\", \"--listen-tcp\", \"%d\", \"db.listen\", \"--http-status-file\", \"status\", \"--block\"];\n"
                   "  ready = { http = \"http://127.0.0.1:%d/healthz\"; interval = \"50ms\"; timeout = \"1s\"; }; ready_timeout = \"10s\"; },\n"
                   "{ name = \"web\"; cwd = \"%s\"; command = [\"%s\", \"--stamp\", \"web.stamp\", \"--block\"]; after = [\"db\"]; }",
                   g.dir, TW, port, port, g.dir, TW),
              false);
        ck_assert(h_wait_log(&g, "db: not ready yet: HTTP 503", T));
        ck_assert_ptr_nonnull(gh_write_file(&g, "status", "404\n"));
        ck_assert(h_wait_log(&g, "db: not ready yet: HTTP 404", T));
        ck_status(&g, "db", "state", "starting");
        ck_assert(!exists(&g, "web.stamp"));
        flip = h_now_ns();
        ck_assert_ptr_nonnull(gh_write_file(&g, "status", "302\n"));
        ck_assert(h_wait_file(gh_path(&g, "web.stamp"), T));
        ck_assert_int_gt(mono(&g, "web.stamp"), flip);
        ck_assert_int_lt(mono(&g, "db.listen"), flip);
        ck_log_before(&g, "db: not ready yet: HTTP 404", "db: ready");
        ck_log_before(&g, "db: ready", "web: starting");
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* exec: the probe fails twice (with the worker's cwd and environment: its
 * reason shows both), succeeds the third time; web starts after that
 * success, and no attempt follows it. */
START_TEST(test_ready_exec)
{
        struct gh g;
        char *cnt;

        ck_assert_int_eq(gh_init(&g), 0);
        start(&g,
              conf(&g,
                   "{ name = \"db\"; cwd = \"%s\"; env = { GREETING = \"hello there\"; }; command = [\"%s\", \"--block\"];\n"
                   "  ready = { exec = [\"/bin/sh\", \"-c\", \"n=$(cat cnt 2>/dev/null || echo 0); n=$((n+1)); echo $n > cnt; "
                   "[ $n -ge 3 ] || { echo not yet $n, $GREETING; exit 1; }; exec '%s' --stamp ok.stamp\"];\n"
                   "            interval = \"50ms\"; timeout = \"5s\"; }; ready_timeout = \"10s\"; },\n"
                   "{ name = \"web\"; cwd = \"%s\"; command = [\"%s\", \"--stamp\", \"web.stamp\", \"--block\"]; after = [\"db\"]; }",
                   g.dir, TW, TW, g.dir, TW),
              false);
        ck_assert(h_wait_file(gh_path(&g, "web.stamp"), T));
        ck_assert(h_wait_log(&g, "db: not ready yet: exited 1: not yet 1, hello there", 0));
        ck_assert(h_wait_log(&g, "db: not ready yet: exited 1: not yet 2, hello there", 0));
        ck_assert_int_eq(h_count_log(&g, "db: not ready yet"), 2);
        ck_assert_int_lt(mono(&g, "ok.stamp"), mono(&g, "web.stamp"));
        ck_log_before(&g, "not yet 2", "db: ready");
        ck_log_before(&g, "db: ready", "web: starting");
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        cnt = h_read_file(gh_path(&g, "cnt"));
        ck_assert_str_eq(cnt, "3\n"); /* ready: no more attempts */
        free(cnt);
        gh_cleanup(&g);
}
END_TEST

/* log: ready at the first captured line that matches, not before. */
START_TEST(test_ready_log)
{
        struct gh g;

        ck_assert_int_eq(gh_init(&g), 0);
        start(&g,
              conf(&g,
                   "{ name = \"db\"; cwd = \"%s\"; command = [\"%s\", \"--say\", \"warming up, not ready to accept connections yet\",\n"
                   "  \"--wait-file\", \"gate\", \"--stamp\", \"said.stamp\", \"--say\", \"ready to accept connections\", \"--block\"];\n"
                   "  ready = { log = \"^ready to accept conn\"; }; ready_timeout = \"10s\"; },\n"
                   "{ name = \"web\"; cwd = \"%s\"; command = [\"%s\", \"--stamp\", \"web.stamp\", \"--block\"]; after = [\"db\"]; }",
                   g.dir, TW, g.dir, TW),
              false);
        ck_assert(h_wait_log(&g, "db[stdout]: warming up", T));
        ck_status(&g, "db", "state", "starting"); /* the request was served after the line was handled */
        ck_assert(!exists(&g, "web.stamp"));
        touch(&g, "gate");
        ck_assert(h_wait_file(gh_path(&g, "web.stamp"), T));
        ck_assert_int_lt(mono(&g, "said.stamp"), mono(&g, "web.stamp"));
        ck_log_before(&g, "db[stdout]: ready to accept connections", "db: ready");
        ck_log_before(&g, "db: ready", "web: starting");
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* A log probe counts only the lines of the worker's current run. Run 1
 * says the line (ready) and leaves a process of its own in another session
 * that holds run 1's stdout; run 1 then fails and is restarted. Run 2 is
 * not ready while it has not said the line itself: not when run 1's
 * leftover says it into run 1's pipe during run 2's start. */
START_TEST(test_ready_log_current_run)
{
        struct gh g;

        ck_assert_int_eq(gh_init(&g), 0);
        start(&g,
              conf(&g,
                   "{ name = \"db\"; cwd = \"%s\"; restart = \"on-failure\"; restart_delay = \"50ms\"; ready_timeout = \"10s\";\n"
                   "  ready = { log = \"^ready to serve\"; };\n"
                   "  command = [\"/bin/sh\", \"-c\", \"if [ -e run1 ]; then exec '%s' --say 'run 2 waiting' --wait-file gate "
                   "--stamp said2.stamp --say 'ready to serve' --block; fi; : > run1; "
                   "setsid '%s' --wait-file gate2 --say 'ready to serve (run 1 leftover)' --stamp leftover.stamp & "
                   "exec '%s' --say 'ready to serve' --wait-file crash --exit 1\"]; },\n"
                   "{ name = \"web\"; cwd = \"%s\"; command = [\"%s\", \"--stamp\", \"web.stamp\", \"--block\"]; after = [\"db\"]; }",
                   g.dir, TW, TW, TW, g.dir, TW),
              false);
        ck_assert(h_wait_file(gh_path(&g, "web.stamp"), T));
        /* graced writes its records once per loop iteration: web can have
         * started before "db: ready" reached the log */
        ck_assert(h_wait_log(&g, "db: ready", T));
        ck_assert_int_eq(h_count_log(&g, "db: ready"), 1);
        touch(&g, "crash");
        ck_assert(h_wait_log(&g, "db: warning: exited 1", T));
        ck_assert(h_wait_log(&g, "db[stdout]: run 2 waiting", T));
        ck_status(&g, "db", "state", "starting");
        /* run 1's leftover says the line, in run 1's pipe */
        touch(&g, "gate2");
        ck_assert(h_wait_log(&g, "db[stdout]: ready to serve (run 1 leftover)", T));
        ck_status(&g, "db", "state", "starting"); /* served after the line was handled */
        ck_assert_int_eq(h_count_log(&g, "db: ready"), 1);
        /* run 2 says it */
        touch(&g, "gate");
        ck_assert(h_wait_log_count(&g, "db: ready", 2, T));
        ck_assert(exists(&g, "said2.stamp"));
        ck_log_before(&g, "db[stdout]: run 2 waiting", "db[stdout]: ready to serve (run 1 leftover)");
        ck_status(&g, "db", "state", "running");
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* Never ready: stopped at ready_timeout, a failed start; with restart =
 * "no" it has failed for good, its dependent is not started, and the
 * shutdown is not clean. */
START_TEST(test_never_ready)
{
        struct gh g;
        int port = reserve_port();
        pid_t db;

        ck_assert_int_eq(gh_init(&g), 0);
        start(&g,
              conf(&g,
                   "{ name = \"db\"; cwd = \"%s\"; command = [\"%s\", \"--stamp\", \"db.stamp\", \"--block\"]; restart = \"no\";\n"
                   "  ready = { tcp = \"127.0.0.1:%d\"; interval = \"50ms\"; }; ready_timeout = \"300ms\"; },\n"
                   "{ name = \"web\"; cwd = \"%s\"; command = [\"%s\", \"--stamp\", \"web.stamp\", \"--block\"]; after = [\"db\"]; }",
                   g.dir, TW, port, g.dir, TW),
              false);
        ck_assert(h_wait_log(&g, "db: error: failed for good", T));
        ck_assert(h_wait_log(&g, "web: warning: not starting: dependency db failed", T));
        ck_assert(h_wait_log(&g, "db: warning: not ready after 300ms", 0));
        ck_assert_int_ge(h_count_log(&g, "db: not ready yet: Connection refused"), 2);
        ck_log_before(&g, "db: not ready yet", "db: warning: not ready after 300ms");
        ck_log_before(&g, "db: warning: not ready after 300ms", "db: stopping (SIGTERM");
        db = stamp_pid(&g, "db.stamp");
        ck_assert(h_wait_pid_gone(db, T));
        ck_status(&g, "db", "state", "failed");
        ck_assert(!exists(&g, "web.stamp"));
        ck_assert_int_eq(gh_shutdown(&g, T), 1);
        ck_assert_str_eq(outcome(&g, "db"), "failed");
        ck_assert_str_eq(outcome(&g, "web"), "not-started");
        ck_assert_int_eq(h_json_bool(gh_report(&g), "clean"), 0);
        gh_cleanup(&g);
}
END_TEST

/* A critical worker that never gets ready takes graced down: exit 1. */
START_TEST(test_never_ready_critical)
{
        struct gh g;
        struct json_object *r;

        ck_assert_int_eq(gh_init(&g), 0);
        start(&g,
              conf(&g,
                   "{ name = \"core\"; cwd = \"%s\"; command = [\"%s\", \"--block\"]; restart = \"no\"; critical = true;\n"
                   "  ready = { exec = [\"/bin/sh\", \"-c\", \"echo still warming up; exit 3\"]; interval = \"50ms\"; }; ready_timeout = \"500ms\"; },\n"
                   "{ name = \"web\"; cwd = \"%s\"; command = [\"%s\", \"--stamp\", \"web.stamp\", \"--block\"]; after = [\"core\"]; }",
                   g.dir, TW, g.dir, TW),
              false);
        ck_assert_int_eq(gh_exit_code(&g, T), 1);
        ck_assert(h_wait_log(&g, "core: not ready yet: exited 3: still warming up", 0));
        ck_assert(h_wait_log(&g, "core: warning: not ready after 500ms", 0));
        r = gh_report(&g);
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(h_json_str(r, "reason"), "critical worker core failed");
        ck_assert_str_eq(h_json_str(h_report_worker(r, "core"), "outcome"), "failed");
        ck_assert_str_eq(h_json_str(h_report_worker(r, "web"), "outcome"), "not-started");
        ck_assert(!exists(&g, "web.stamp"));
        gh_cleanup(&g);
}
END_TEST

/* ==== health ================================================================== */

/* db with the planned health probe; extra: more settings. */
static const char *health_conf(struct gh *g, const char *probe_extra, const char *extra)
{
        write_plan_sh(g);
        return conf(g,
                    "{ name = \"db\"; cwd = \"%s\"; command = [\"%s\", \"--stamp\", \"db.stamp\", \"--block\"];\n"
                    "  health = { exec = [\"/bin/sh\", \"plan.sh\"]; interval = \"50ms\"; %s }; restart_delay = \"50ms\"; %s }",
                    g->dir, TW, probe_extra, extra);
}

/* failures = 3: three failures in a row restart the worker (a new pid);
 * the new run is healthy. */
START_TEST(test_health_restart)
{
        struct gh g;
        pid_t first, second;

        ck_assert_int_eq(gh_init(&g), 0);
        start(&g, health_conf(&g, "timeout = \"5s\"; failures = 3;", ""), false);
        ck_assert(h_wait_file(gh_path(&g, "db.stamp"), T));
        first = stamp_pid(&g, "db.stamp");
        wait_attempts(&g, 1); /* healthy */
        ck_assert_int_eq(h_count_log(&g, "health"), 0);
        plan(&g, "FFF");
        ck_assert(h_wait_log(&g, "db: health failing (1/3): exited 1: planned failure", T));
        ck_assert(h_wait_log(&g, "db: health failed (3/3): exited 1: planned failure", T));
        second = wait_new_pid(&g, "db.stamp", first);
        ck_assert(h_wait_pid_gone(first, T));
        ck_assert_int_eq(h_count_log(&g, "db: health check failed: exited 1: planned failure"), 3);
        ck_log_before(&g, "db: health failed (3/3)", "db: stopping (SIGTERM");
        ck_log_before(&g, "db: stopping (SIGTERM", "db: restarting");
        /* the new run is checked again, and is healthy */
        int n = attempts(&g);
        wait_attempts(&g, n + 2);
        ck_assert_int_eq(h_count_log(&g, "db: health failed"), 1);
        ck_assert(h_pid_alive(second));
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        ck_assert_int_eq(h_json_int(h_report_worker(gh_report(&g), "db"), "restarts"), 1);
        ck_assert_str_eq(outcome(&g, "db"), "stopped");
        gh_cleanup(&g);
}
END_TEST

/* failures = 2: fail, succeed, fail, succeed, fail, succeed never restarts
 * (one success resets the count); then two in a row do. */
START_TEST(test_health_reset)
{
        struct gh g;
        pid_t first;

        ck_assert_int_eq(gh_init(&g), 0);
        start(&g, health_conf(&g, "timeout = \"5s\"; failures = 2;", ""), false);
        ck_assert(h_wait_file(gh_path(&g, "db.stamp"), T));
        first = stamp_pid(&g, "db.stamp");
        wait_attempts(&g, 1);
        int n = attempts(&g);
        plan(&g, "FSFSFS");
        wait_attempts(&g, n + 7); /* the 7th began: the 6th's result was taken */
        ck_assert_int_eq(h_count_log(&g, "db: health failing (1/2): exited 1: planned failure"), 3);
        ck_assert_int_eq(h_count_log(&g, "db: health ok again"), 3);
        ck_assert_int_eq(h_count_log(&g, "db: health failed"), 0);
        ck_assert_int_eq(h_count_log(&g, "db: stopping"), 0);
        ck_assert_int_eq(stamp_pid(&g, "db.stamp"), first);
        ck_assert(h_pid_alive(first));
        /* the count does count */
        plan(&g, "FF");
        ck_assert(h_wait_log(&g, "db: health failed (2/2): exited 1: planned failure", T));
        (void)wait_new_pid(&g, "db.stamp", first);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        ck_assert_int_eq(h_json_int(h_report_worker(gh_report(&g), "db"), "restarts"), 1);
        gh_cleanup(&g);
}
END_TEST

/* restart = "no": a failed health check leaves the worker failed. */
START_TEST(test_health_restart_no)
{
        struct gh g;
        pid_t first;

        ck_assert_int_eq(gh_init(&g), 0);
        start(&g, health_conf(&g, "timeout = \"5s\"; failures = 2;", "restart = \"no\";"), false);
        ck_assert(h_wait_file(gh_path(&g, "db.stamp"), T));
        first = stamp_pid(&g, "db.stamp");
        wait_attempts(&g, 1);
        plan(&g, "FF");
        ck_assert(h_wait_log(&g, "db: health failed (2/2): exited 1: planned failure", T));
        ck_assert(h_wait_log(&g, "db: error: failed for good: health check failed", T));
        ck_assert(h_wait_pid_gone(first, T));
        ck_status(&g, "db", "state", "failed");
        ck_status(&g, "db", "health", "-");
        ck_assert_int_eq(h_count_log(&g, "db: starting"), 1);
        ck_assert_int_eq(gh_shutdown(&g, T), 1);
        ck_assert_str_eq(outcome(&g, "db"), "failed");
        gh_cleanup(&g);
}
END_TEST

/* A hung exec probe (with a grandchild in its process group) is killed
 * with its whole group at its timeout, a failure; nothing of it is left
 * (graced, a subreaper here, reaps the grandchild too); the next attempt
 * runs and succeeds. */
START_TEST(test_health_hung_exec)
{
        struct gh g;
        char *pids;
        long probe = 0, gc = 0, pg1 = 0, pg2 = 0;

        ck_assert_int_eq(gh_init(&g), 0);
        start(&g, health_conf(&g, "timeout = \"1s\"; failures = 10;", ""), true);
        ck_assert(h_wait_file(gh_path(&g, "db.stamp"), T));
        wait_attempts(&g, 1);
        plan(&g, "H");
        ck_assert(h_wait_log(&g, "db: health failing (1/10): timed out after 1s", T));
        ck_assert(h_wait_file(gh_path(&g, "probe.pids"), T));
        pids = h_read_file(gh_path(&g, "probe.pids"));
        ck_assert_int_eq(sscanf(pids, "%ld %ld %ld %ld", &probe, &gc, &pg1, &pg2), 4);
        free(pids);
        ck_assert_int_eq(pg1, probe); /* its own process group... */
        ck_assert_int_eq(pg2, probe); /* ...with the grandchild in it */
        ck_assert_int_ne(probe, g.pid);
        ck_assert(h_wait_pid_reaped((pid_t)probe, T));
        ck_assert(h_wait_pid_reaped((pid_t)gc, T));
        ck_assert(!group_has_members((pid_t)probe));
        ck_assert(h_wait_log(&g, "db: health ok again", T));
        /* (more than one when the machine is so slow that the shell did not
         * get to its line within 1s: the next attempt hangs again) */
        ck_assert_int_ge(h_count_log(&g, "db: health check failed: timed out after 1s"), 1);
        ck_assert_int_eq(h_count_log(&g, "db: health check failed"),
                         h_count_log(&g, "db: health check failed: timed out after 1s"));
        ck_assert_int_eq(h_count_log(&g, "db: stopping"), 0);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* http, ready and health on one worker: 503 fails the health check twice
 * (failures = 2), the worker restarts, and its new run is not ready while
 * the answer is 503; it is once the test answers 200 again. */
START_TEST(test_health_http)
{
        struct gh g;
        int port = reserve_port();
        pid_t first, second;

        ck_assert_int_eq(gh_init(&g), 0);
        ck_assert_ptr_nonnull(gh_write_file(&g, "status", "200\n"));
        start(&g,
              conf(&g,
                   "{ name = \"db\"; cwd = \"%s\"; command = [\"%s\", \"--listen-tcp\", \"%d\", \"db.listen\", \"--http-status-file\", \"status\", \"--block\"];\n"
                   "  ready = { http = \"http://localhost:%d/ready\"; interval = \"50ms\"; }; ready_timeout = \"10s\"; restart_delay = \"50ms\";\n"
                   "  health = { http = \"http://127.0.0.1:%d/live\"; interval = \"50ms\"; failures = 2; }; }",
                   g.dir, TW, port, port, port),
              false);
        ck_assert(h_wait_log(&g, "db: ready", T));
        first = stamp_pid(&g, "db.listen");
        ck_assert_ptr_nonnull(gh_write_file(&g, "status", "503\n"));
        ck_assert(h_wait_log(&g, "db: health failing (1/2): HTTP 503", T));
        ck_assert(h_wait_log(&g, "db: health failed (2/2): HTTP 503", T));
        second = wait_new_pid(&g, "db.listen", first);
        ck_assert(h_wait_log_count(&g, "db: not ready yet: HTTP 503", 1, T));
        ck_status(&g, "db", "state", "starting");
        ck_health(&g, "db", "starting");
        ck_assert_ptr_nonnull(gh_write_file(&g, "status", "200\n"));
        ck_assert(h_wait_log_count(&g, "db: ready", 2, T));
        ck_health(&g, "db", "ok");
        ck_assert(h_pid_alive(second));
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        ck_assert_int_eq(h_json_int(h_report_worker(gh_report(&g), "db"), "restarts"), 1);
        gh_cleanup(&g);
}
END_TEST

#define NO_CURL "cannot load libcurl: libgraced-test-nosuch.so.0: cannot open shared object file: No such file or directory"

/* libcurl cannot be loaded (the test knob names a library that does not
 * exist): --check says so in a warning at the probe's line, still valid;
 * graced logs the error once, and each http attempt fails with its words
 * (the health check fails, the worker restarts as for any failure). */
START_TEST(test_health_http_no_libcurl)
{
        struct gh g;
        int port = reserve_port(), st;
        const char *env[] = { "GRACED_TEST_CURL_SONAME=libgraced-test-nosuch.so.0", NULL };
        const char *c;
        char *out = NULL, *line;

        ck_assert_int_eq(gh_init(&g), 0);
        ck_assert_ptr_nonnull(gh_write_file(&g, "status", "200\n"));
        c = conf(&g,
                 "{ name = \"db\"; cwd = \"%s\"; command = [\"%s\", \"--listen-tcp\", \"%d\", \"db.listen\", \"--http-status-file\", \"status\", \"--block\"];\n"
                 "  health = { http = \"http://127.0.0.1:%d/live\"; interval = \"50ms\"; failures = 3; }; restart_delay = \"50ms\"; }",
                 g.dir, TW, port, port);
        st = h_run(ARGV(h_graced(), "--check", "-c", c), env, T, &out);
        ck_assert_int_eq(h_exit_code(st), 0);
        ck_assert_int_ge(asprintf(&line, "%s:3: warning: http probe: " NO_CURL "\n", c), 0);
        ck_assert_msg(strstr(out, line), "%s", out);
        free(line);
        ck_assert_int_ge(asprintf(&line, "%s: valid: 1 worker, 0 cleanup steps\n", c), 0);
        ck_assert_msg(strstr(out, line), "%s", out);
        free(line);
        free(out);

        ck_assert_int_eq(gh_start(&g, c, ARGV("-v"), env), 0);
        ck_assert(h_wait_log(&g, "db: health failing (1/3): " NO_CURL, T));
        ck_assert(h_wait_log(&g, "db: health failed (3/3): " NO_CURL, T));
        ck_assert(h_wait_log_count(&g, "db: health failing (1/3): " NO_CURL, 2, T)); /* its next run too */
        ck_assert_int_eq(h_count_log(&g, "error: http probes fail: " NO_CURL), 1);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* gracectl status: HEALTH (and --json "health") is "starting" until ready,
 * then "ok", "failing N/M" while failing, "ok" again; "-" without a health
 * probe. */
START_TEST(test_health_status)
{
        struct gh g;
        int port = reserve_port();

        ck_assert_int_eq(gh_init(&g), 0);
        write_plan_sh(&g);
        start(&g,
              conf(&g,
                   "{ name = \"db\"; cwd = \"%s\"; command = [\"%s\", \"--wait-file\", \"gate\", \"--listen-tcp\", \"%d\", \"db.listen\", \"--block\"];\n"
                   "  ready = { tcp = \"localhost:%d\"; interval = \"50ms\"; }; ready_timeout = \"10s\";\n"
                   "  health = { exec = [\"/bin/sh\", \"plan.sh\"]; interval = \"50ms\"; timeout = \"10s\"; failures = 3; }; },\n"
                   "{ name = \"web\"; cwd = \"%s\"; command = [\"%s\", \"--block\"]; }",
                   g.dir, TW, port, port, g.dir, TW),
              false);
        ck_assert(h_wait_log(&g, "db: not ready yet", T));
        ck_assert(h_wait_log(&g, "web: ready", T));
        ck_health(&g, "db", "starting");
        ck_health(&g, "web", "-");
        touch(&g, "gate");
        ck_assert(h_wait_log(&g, "db: ready", T));
        ck_health(&g, "db", "ok");
        wait_attempts(&g, 1);
        ck_health(&g, "db", "ok");
        plan(&g, "FFW");
        ck_assert(h_wait_file(gh_path(&g, "waiting"), T)); /* the third attempt is under way */
        ck_health(&g, "db", "failing 2/3");
        ck_health(&g, "web", "-");
        touch(&g, "go");
        ck_assert(h_wait_log(&g, "db: health ok again", T));
        ck_health(&g, "db", "ok");
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* ==== part_of ================================================================= */

/* db (ready by a tcp probe) and web, part of db: web stops slowly (300 ms
 * after SIGTERM) and stamps its post_stop; both stamp the arrival of their
 * stop signal. db's command, when cmd is NULL: stamp, wait for ./gate,
 * listen. */
static const char *parts_conf(struct gh *g, int port, const char *db_cmd, const char *db_extra)
{
        char *dflt = NULL;

        if (!db_cmd) {
                ck_assert_int_ge(asprintf(&dflt,
                                          "\"%s\", \"--signal-stamp\", \"db.sig\", \"--on-signal-delay\", \"TERM\", \"0\", \"0\", "
                                          "\"--stamp\", \"db.start\", \"--wait-file\", \"gate\", \"--listen-tcp\", \"%d\", \"db.listen\", \"--block\"",
                                          TW, port),
                                 0);
                db_cmd = gh_keep(g, dflt);
        }
        return conf(g,
                    "{ name = \"db\"; cwd = \"%s\"; command = [%s];\n"
                    "  ready = { tcp = \"localhost:%d\"; interval = \"50ms\"; }; ready_timeout = \"10s\"; restart_delay = \"50ms\"; %s },\n"
                    "{ name = \"web\"; cwd = \"%s\"; part_of = [\"db\"];\n"
                    "  command = [\"%s\", \"--signal-stamp\", \"web.sig\", \"--on-signal-delay\", \"TERM\", \"300\", \"0\", \"--stamp\", \"web.start\", \"--block\"];\n"
                    "  post_stop = [\"%s\", \"--stamp\", \"web.post\"]; }",
                    g->dir, db_cmd, port, db_extra ? db_extra : "", g->dir, TW, TW);
}

/* web's whole stop (its slow exit, its post_stop) came before db got its
 * stop signal. */
static void ck_part_stopped_first(struct gh *g)
{
        long long web_sig = mono(g, "web.sig"), web_post = mono(g, "web.post"), db_sig = mono(g, "db.sig");

        ck_assert_int_ge(db_sig - web_sig, 300 * MS);
        ck_assert_int_gt(db_sig, web_post);
        ck_log_before(g, "web: stopping (SIGTERM", "web: post_stop ended");
        ck_log_before(g, "web: post_stop ended", "db: stopping (SIGTERM");
}

/* gracectl restart db: web has fully stopped before db's SIGTERM; web is
 * back once the new db is ready (not before: db's new run is held at its
 * gate, not ready, meanwhile). */
START_TEST(test_part_restart)
{
        struct gh g;
        int port = reserve_port();
        pid_t db1, web1, db2, web2, restarter;

        ck_assert_int_eq(gh_init(&g), 0);
        touch(&g, "gate");
        start(&g, parts_conf(&g, port, NULL, NULL), false);
        ck_assert(h_wait_file(gh_path(&g, "web.start"), T));
        db1 = stamp_pid(&g, "db.start");
        web1 = stamp_pid(&g, "web.start");
        ck_assert_int_eq(unlink(gh_path(&g, "gate")), 0);
        int refused = h_count_log(&g, "db: not ready yet");
        restarter = h_spawn(ARGV(h_gracectl(), "-s", g.ctl_path, "restart", "db"), NULL, gh_path(&g, "restart.out"));
        ck_assert_int_gt(restarter, 0);
        db2 = wait_new_pid(&g, "db.start", db1);
        ck_assert(h_wait_log_count(&g, "db: not ready yet", refused + 1, T));
        ck_assert_int_eq(stamp_pid(&g, "web.start"), web1); /* not back while db is not ready */
        ck_status(&g, "web", "state", "waiting");
        ck_part_stopped_first(&g);
        ck_assert(!h_pid_alive(web1) && !h_pid_alive(db1));
        touch(&g, "gate");
        web2 = wait_new_pid(&g, "web.start", web1);
        ck_assert_int_lt(mono_of(&g, "db.listen", db2), mono(&g, "web.start"));
        ck_assert_int_eq(h_exit_code(h_wait_child(restarter, T)), 0);
        ck_log_before(&g, "db: ready", "web: starting"); /* the first ones */
        ck_assert_int_lt(log_line_nth(&g, "db: ready", 2), log_line_nth(&g, "web: starting", 2));
        ck_assert(h_pid_alive(db2) && h_pid_alive(web2));
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* gracectl stop db: web stops first and stays down with db; gracectl start
 * db brings both back, web once db is ready. */
START_TEST(test_part_stop_start)
{
        struct gh g;
        int port = reserve_port();
        pid_t web1;

        ck_assert_int_eq(gh_init(&g), 0);
        touch(&g, "gate");
        start(&g, parts_conf(&g, port, NULL, NULL), false);
        ck_assert(h_wait_file(gh_path(&g, "web.start"), T));
        web1 = stamp_pid(&g, "web.start");
        CTL_OK(&g, "stop", "db");
        ck_part_stopped_first(&g);
        ck_status(&g, "db", "state", "down");
        ck_status(&g, "web", "state", "down"); /* not waiting to start again */
        ck_assert_int_eq(h_count_log(&g, "web: starting"), 1);
        CTL_OK(&g, "start", "db");
        (void)wait_new_pid(&g, "web.start", web1);
        ck_assert_int_lt(mono_of(&g, "db.listen", stamp_pid(&g, "db.start")), mono(&g, "web.start"));
        ck_assert_int_lt(log_line_nth(&g, "db: ready", 2), log_line_nth(&g, "web: starting", 2));
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* db exits by itself (restart = "on-failure"): web is stopped at once; db's
 * new process starts only once web is down (web's slow stop outlasts db's
 * restart_delay); web is back once the new db is ready. */
START_TEST(test_part_crash)
{
        struct gh g;
        int port = reserve_port();
        char *db_cmd;
        pid_t db1, web1;

        ck_assert_int_eq(gh_init(&g), 0);
        ck_assert_int_ge(asprintf(&db_cmd,
                                  "\"/bin/sh\", \"-c\", \"if [ -e crashed ]; then exec '%s' --stamp db.start --listen-tcp %d db.listen --block; fi; "
                                  "exec '%s' --stamp db.start --listen-tcp %d db.listen --wait-file crash --append crashed x --exit 3\"",
                                  TW, port, TW, port),
                         0);
        start(&g, parts_conf(&g, port, gh_keep(&g, db_cmd), "restart = \"on-failure\";"), false);
        ck_assert(h_wait_file(gh_path(&g, "web.start"), T));
        db1 = stamp_pid(&g, "db.start");
        web1 = stamp_pid(&g, "web.start");
        touch(&g, "crash");
        (void)wait_new_pid(&g, "web.start", web1);
        ck_assert_int_ne(stamp_pid(&g, "db.start"), db1);
        ck_assert(h_wait_log(&g, "db: warning: exited 3", 0));
        /* web's whole stop, then db's new process, then web */
        ck_assert_int_gt(mono(&g, "db.start") - mono(&g, "web.sig"), 300 * MS);
        ck_assert_int_gt(mono(&g, "db.start"), mono(&g, "web.post"));
        ck_assert_int_lt(mono_of(&g, "db.listen", stamp_pid(&g, "db.start")), mono(&g, "web.start"));
        ck_log_before(&g, "db: warning: exited 3", "web: stopping: part of db, which is not ready any more");
        ck_log_before(&g, "web: stopping: part of db", "web: stopping (SIGTERM");
        ck_assert_int_lt(h_log_line(&g, "web: post_stop ended"), log_line_nth(&g, "db: starting", 2));
        ck_assert_int_lt(log_line_nth(&g, "db: ready", 2), log_line_nth(&g, "web: starting", 2));
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        ck_assert_int_eq(h_json_int(h_report_worker(gh_report(&g), "db"), "restarts"), 1);
        gh_cleanup(&g);
}
END_TEST

/* db fails its health probe: web has fully stopped before db's SIGTERM,
 * and is back once the new db is ready. */
START_TEST(test_part_health)
{
        struct gh g;
        int port = reserve_port();
        pid_t web1;

        ck_assert_int_eq(gh_init(&g), 0);
        touch(&g, "gate");
        write_plan_sh(&g);
        start(&g,
              parts_conf(&g, port, NULL,
                         "health = { exec = [\"/bin/sh\", \"plan.sh\"]; interval = \"50ms\"; timeout = \"5s\"; failures = 2; };"),
              false);
        ck_assert(h_wait_file(gh_path(&g, "web.start"), T));
        web1 = stamp_pid(&g, "web.start");
        wait_attempts(&g, 1);
        plan(&g, "FF");
        ck_assert(h_wait_log(&g, "db: health failed (2/2)", T));
        (void)wait_new_pid(&g, "web.start", web1);
        ck_part_stopped_first(&g);
        ck_log_before(&g, "db: health failed (2/2)", "web: stopping: part of db, which is not ready any more");
        ck_log_before(&g, "web: stopping: part of db", "web: stopping (SIGTERM");
        ck_assert_int_lt(mono_of(&g, "db.listen", stamp_pid(&g, "db.start")), mono(&g, "web.start"));
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* A reload that restarts db (its command changed): web has fully stopped
 * before db's SIGTERM, and is back once the new db is ready. */
START_TEST(test_part_reload)
{
        struct gh g;
        int port = reserve_port();
        char *db_cmd;
        pid_t db1, web1, db2;

        ck_assert_int_eq(gh_init(&g), 0);
        touch(&g, "gate");
        start(&g, parts_conf(&g, port, NULL, NULL), false);
        ck_assert(h_wait_file(gh_path(&g, "web.start"), T));
        db1 = stamp_pid(&g, "db.start");
        web1 = stamp_pid(&g, "web.start");
        ck_assert_int_ge(asprintf(&db_cmd,
                                  "\"%s\", \"--signal-stamp\", \"db.sig\", \"--on-signal-delay\", \"TERM\", \"0\", \"0\", "
                                  "\"--stamp\", \"db.start\", \"--say\", \"the new db\", \"--listen-tcp\", \"%d\", \"db.listen\", \"--block\"",
                                  TW, port),
                         0);
        (void)parts_conf(&g, port, gh_keep(&g, db_cmd), NULL);
        CTL_OK(&g, "reload");
        db2 = wait_new_pid(&g, "db.start", db1);
        (void)wait_new_pid(&g, "web.start", web1);
        ck_assert(h_wait_log(&g, "db[stdout]: the new db", T));
        ck_part_stopped_first(&g);
        ck_assert_int_lt(mono_of(&g, "db.listen", db2), mono(&g, "web.start"));
        ck_assert_int_lt(log_line_nth(&g, "db: ready", 2), log_line_nth(&g, "web: starting", 2));
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* ==== idle ===================================================================== */

/* Context switches of every thread of pid: a process that makes a system
 * call after it blocked in epoll_wait() has to wake up first. */
static long long ctxt_switches(pid_t pid)
{
        char *dir, *path, *text;
        long long sum = 0;
        struct dirent *de;
        DIR *d;

        ck_assert_int_ge(asprintf(&dir, "/proc/%ld/task", (long)pid), 0);
        d = opendir(dir);
        ck_assert_ptr_nonnull(d);
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                ck_assert_int_ge(asprintf(&path, "%s/%s/status", dir, de->d_name), 0);
                text = h_read_file(path);
                for (const char *p = text; p && (p = strstr(p, "ctxt_switches:")); p++)
                        sum += strtoll(p + strlen("ctxt_switches:"), NULL, 10);
                free(text);
                free(path);
        }
        closedir(d);
        free(dir);
        return sum;
}

/* Once every worker is ready (by an http, an exec and a log probe) and no
 * health probe is due (interval 1h), graced does not wake up at all: no
 * timer, no fd left watched by a probe. */
START_TEST(test_idle_no_wakeups)
{
        struct gh g;
        int port = reserve_port();
        long long before, after, start;

        ck_assert_int_eq(gh_init(&g), 0);
        ck_assert_ptr_nonnull(gh_write_file(&g, "status", "200\n"));
        ck_assert_int_eq(gh_start(&g,
                                  conf(&g,
                                       "{ name = \"http\"; cwd = \"%s\"; command = [\"%s\", \"--listen-tcp\", \"%d\", \"l\", \"--http-status-file\", \"status\", \"--block\"];\n"
                                       "  ready = { http = \"http://127.0.0.1:%d/\"; interval = \"50ms\"; };\n"
                                       "  health = { tcp = \"127.0.0.1:%d\"; interval = \"1h\"; }; },\n"
                                       "{ name = \"exec\"; cwd = \"%s\"; command = [\"%s\", \"--block\"]; ready = { exec = [\"/bin/true\"]; interval = \"50ms\"; };\n"
                                       "  health = { exec = [\"/bin/true\"]; interval = \"1h\"; }; },\n"
                                       "{ name = \"log\"; cwd = \"%s\"; command = [\"%s\", \"--say\", \"up\", \"--block\"]; ready = { log = \"^up$\"; };\n"
                                       "  health = { unix = \"%s\"; interval = \"1h\"; }; }",
                                       g.dir, TW, port, port, port, g.dir, TW, g.dir, TW, gh_path(&g, "none.sock")),
                                  NULL, NULL),
                         0);
        ck_assert(h_wait_log(&g, "running: 3/3 workers", T));
        /* what the last events left to do (a connection's close) is done */
        start = h_now_ns();
        do {
                before = ctxt_switches(g.pid);
                h_sleep_ms(50);
                after = ctxt_switches(g.pid);
        } while (after != before && h_ms_since(start) < T);
        h_sleep_ms(1000); /* absence takes time */
        after = ctxt_switches(g.pid);
        ck_assert_msg(after == before, "an idle graced woke up %lld times in 1s", after - before);
        ck_assert_int_eq(gh_shutdown(&g, T), 0);
        gh_cleanup(&g);
}
END_TEST

/* ==== main ======================================================================= */

int main(void)
{
        Suite *s = suite_create("health");
        TCase *tc;

        tc = h_tcase(s, "ready", 60);
        tcase_add_test(tc, test_ready_tcp);
        tcase_add_test(tc, test_ready_unix);
        tcase_add_test(tc, test_ready_http);
        tcase_add_test(tc, test_ready_exec);
        tcase_add_test(tc, test_ready_log);
        tcase_add_test(tc, test_ready_log_current_run);
        tcase_add_test(tc, test_never_ready);
        tcase_add_test(tc, test_never_ready_critical);

        tc = h_tcase(s, "health", 60);
        tcase_add_test(tc, test_health_restart);
        tcase_add_test(tc, test_health_reset);
        tcase_add_test(tc, test_health_restart_no);
        tcase_add_test(tc, test_health_hung_exec);
        tcase_add_test(tc, test_health_http);
        tcase_add_test(tc, test_health_http_no_libcurl);
        tcase_add_test(tc, test_health_status);

        tc = h_tcase(s, "parts", 60);
        tcase_add_test(tc, test_part_restart);
        tcase_add_test(tc, test_part_stop_start);
        tcase_add_test(tc, test_part_crash);
        tcase_add_test(tc, test_part_health);
        tcase_add_test(tc, test_part_reload);

        tc = h_tcase(s, "idle", 60);
        tcase_add_test(tc, test_idle_no_wakeups);

        return h_run_suite(s);
}
