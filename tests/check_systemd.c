/* check_systemd.c - graced under the real systemd, and its unit files.
 *
 * "units": systemd-analyze verify on units/graced.service and
 * units/graced@.service (generated, or substituted here from the .in
 * templates), and the settings the contract asks for.
 *
 * "boot": the distribution's systemd booted as PID 1 of a private PID +
 * mount namespace (the recipe of systemd-sandbox.md: tmpfs over /run, /tmp,
 * /var/tmp, /var/log, /var/lib/systemd, /var/cache and /etc/systemd/system,
 * the units that would act on the machine masked), with graced-test.service
 * made from units/graced.service.in and graced@slow.service from
 * units/graced@.service.in:
 *   - `systemctl start` reaches active, StatusText is graced's STATUS=;
 *   - WatchdogSec=2s: graced's pings keep it alive (no restart);
 *   - journalctl shows graced's records with GRACED_WORKER / GRACED_EVENT
 *     (--log-format=auto picks the journal under systemd);
 *   - graced@slow next to it: each control socket in its RuntimeDirectory,
 *     gracectl reaches both;
 *   - `systemctl stop` runs the ordered shutdown (pre_stop hook, report)
 *     with Result=success, and leaves the instance's /run/graced/slow alone;
 *   - TimeoutStopSec=2s with a worker that needs 4s to stop still ends with
 *     Result=success thanks to EXTEND_TIMEOUT_USEC=.
 * "host": afterwards, a file put in the host's /tmp before the boot is
 * still there.
 *
 * Safety (tests/sandbox.[ch]): the setup script refuses to run unless it is PID 1 of a mount
 * namespace other than the test's. Beyond the recipe (which leaves these
 * to the host: seen on these machines, a boot raised the host's
 * net.unix.max_dgram_qlen from 10 to 512), systemd also gets its own UTS
 * and network namespaces and read-only /proc/sys, /sys and /etc/machine-id,
 * and a cgroup subtree of its own (so concurrent runs cannot touch each
 * other's units), removed afterwards. Teardown is SIGKILL of that one
 * systemd pid (everything in the namespace dies with it), also when a test
 * fails or the runner dies (PR_SET_PDEATHSIG on unshare, --kill-child on
 * systemd). The "host" case checks /tmp, the hostname and those sysctls.
 *
 * The files graced and its workers need are in a directory under
 * $GRACED_TEST_TMP, else the current directory (the build directory): not
 * under /tmp, which is a fresh tmpfs inside the sandbox.
 *
 * Skipped (exit 77, with the reason on stdout) when not root, or unshare,
 * nsenter, systemctl, journalctl or systemd are missing, or namespaces
 * cannot be created; "units" still runs when systemd-analyze exists.
 *
 * Needs GRACED_BIN, GRACED_TESTWORKER, GRACED_NOTIFYWORKER, and
 * GRACED_TEST_UNITS or GRACED_TEST_DATA (to find the units). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "harness.h"
#include "sandbox.h"

#define T 5000        /* ms: things that happen at once */
#define T_SYSTEMCTL 30000 /* ms: one systemctl call at most */

static const char *notifyworker(void) { return h_env_path("GRACED_NOTIFYWORKER"); }

/* ---- small utilities --------------------------------------------------------- */

/* sandbox.h's */
#define xasprintf sb_asprintf
#define find_exe sb_find_exe
#define trim sb_trim

/* Replaces every occurrence of from with to (malloc'd). */
static char *replace_all(const char *s, const char *from, const char *to)
{
        size_t fl = strlen(from), tl = strlen(to), n = 0;
        char *r, *o;

        for (const char *p = strstr(s, from); p; p = strstr(p + fl, from))
                n++;
        r = o = malloc(strlen(s) + n * (tl > fl ? tl - fl : 0) + 1);
        if (!r)
                abort();
        for (const char *p; (p = strstr(s, from)); s = p + fl) {
                memcpy(o, s, (size_t)(p - s));
                o += p - s;
                memcpy(o, to, tl);
                o += tl;
        }
        strcpy(o, s);
        return r;
}


/* ---- the units ----------------------------------------------------------------- */

/* Rewrites every ExecStart= line of a unit text: the program becomes bin;
 * with sysconfdir, the -c argument becomes SYSCONFDIR/graced/(graced|%i).conf. */
static char *rewrite_exec_start(const char *text, const char *bin, const char *sysconfdir)
{
        size_t cap = strlen(text) + 4096, len = 0;
        char *copy = strdup(text), *out = malloc(cap), *save = NULL;

        out[0] = '\0';
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *l;

                if (strncmp(line, "ExecStart=", 10) == 0 && sysconfdir) {
                        const char *conf = strstr(line, "%i.conf") ? "%i.conf" : "graced.conf";
                        l = xasprintf("ExecStart=%s -c %s/graced/%s", bin, sysconfdir, conf);
                } else if (strncmp(line, "ExecStart=", 10) == 0) {
                        l = xasprintf("ExecStart=%s%s", bin, line + 10 + strcspn(line + 10, " "));
                } else {
                        l = strdup(line);
                }
                if (len + strlen(l) + 2 > cap)
                        out = realloc(out, cap = (len + strlen(l) + 2) * 2);
                len += (size_t)sprintf(out + len, "%s\n", l);
                free(l);
        }
        free(copy);
        return out;
}

/* The text of units/NAME ready to use, or NULL (with a message).
 * With sysconfdir (the sandbox): made from the .in template (from
 * $GRACED_TEST_UNITS, else the source tree next to $GRACED_TEST_DATA) with
 * @sbindir@ = the built graced's directory and @sysconfdir@ = sysconfdir,
 * else from the generated unit with ExecStart= rewritten.
 * Without (verify): the generated unit in $GRACED_TEST_UNITS (what gets
 * installed), its ExecStart= program replaced by the built graced, else
 * the template with @sysconfdir@ = /etc. */
static char *load_unit(const char *name, const char *sysconfdir)
{
        const char *units = getenv("GRACED_TEST_UNITS");
        const char *data = getenv("GRACED_TEST_DATA");
        const char *bin = h_graced();
        char *gen = NULL, *tmpl = NULL, *text = NULL, *t;

        if (units && *units) {
                t = xasprintf("%s/%s", units, name);
                gen = h_read_file(t);
                free(t);
                t = xasprintf("%s/%s.in", units, name);
                tmpl = h_read_file(t);
                free(t);
        }
        if (!tmpl && data && *data) {
                t = xasprintf("%s/../../units/%s.in", data, name);
                tmpl = h_read_file(t);
                free(t);
        }
        if (tmpl && (sysconfdir || !gen)) {
                char *d = strdup(bin), *b = strdup(bin);
                char *a = replace_all(tmpl, "@sysconfdir@", sysconfdir ? sysconfdir : "/etc");

                if (strcmp(basename(b), "graced") == 0) {
                        text = replace_all(a, "@sbindir@", dirname(d));
                        free(a);
                } else {
                        text = rewrite_exec_start(a, bin, sysconfdir);
                        free(a);
                }
                free(d);
                free(b);
        } else if (gen) {
                text = rewrite_exec_start(gen, bin, sysconfdir);
        } else {
                fprintf(stderr, "no units/%s(.in) under $GRACED_TEST_UNITS (%s) or $GRACED_TEST_DATA/../../units (%s)\n",
                        name, units ? units : "unset", data ? data : "unset");
        }
        free(gen);
        free(tmpl);
        return text;
}

/* The value of the first "Key=" line of a unit text (malloc'd), or NULL. */
static char *unit_value(const char *text, const char *key)
{
        size_t kl = strlen(key);

        for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
                if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
                        const char *v = p + kl + 1;
                        return strndup(v, strcspn(v, "\n"));
                }
        }
        return NULL;
}

static void assert_unit_value(const char *text, const char *key, const char *want)
{
        char *v = unit_value(text, key);

        ck_assert_msg(v && strcmp(v, want) == 0, "%s=%s, wanted %s", key, v ? v : "(none)", want);
        free(v);
}

/* seconds of a systemd time span like "120s", "2min", "2min 30s" */
static long span_s(const char *v)
{
        long total = 0;

        while (v && *v) {
                char *end;
                long n = strtol(v, &end, 10);

                if (end == v)
                        return -1;
                if (strncmp(end, "min", 3) == 0) {
                        total += n * 60;
                        end += 3;
                } else if (*end == 'h') {
                        total += n * 3600;
                        end++;
                } else if (strncmp(end, "ms", 2) == 0) {
                        end += 2;
                } else {
                        if (*end == 's')
                                end++;
                        total += n;
                }
                while (*end == ' ')
                        end++;
                v = end;
        }
        return total;
}

START_TEST(test_units_contract)
{
        char *s = load_unit("graced.service", NULL);
        char *i = load_unit("graced@.service", NULL);
        char *v;

        ck_assert_ptr_nonnull(s);
        ck_assert_ptr_nonnull(i);
        for (int k = 0; k < 2; k++) {
                const char *t = k ? i : s;

                assert_unit_value(t, "Type", "notify");
                assert_unit_value(t, "NotifyAccess", "main");
                assert_unit_value(t, "KillMode", "mixed");
                assert_unit_value(t, "Restart", "on-failure");
                v = unit_value(t, "ExecReload");
                ck_assert_msg(v && strstr(v, "kill -HUP $MAINPID"), "ExecReload=%s", v ? v : "");
                free(v);
                v = unit_value(t, "TimeoutStopSec"); /* above the default shutdown_timeout */
                ck_assert_msg(v && span_s(v) > 90, "TimeoutStopSec=%s", v ? v : "");
                free(v);
                v = unit_value(t, "WatchdogSec");
                ck_assert_msg(v && span_s(v) > 0, "WatchdogSec=%s", v ? v : "");
                free(v);
                v = unit_value(t, "Documentation");
                ck_assert_msg(v && strstr(v, "man:graced(8)"), "Documentation=%s", v ? v : "");
                free(v);
                v = unit_value(t, "ExecStart");
                ck_assert_msg(v && strncmp(v, h_graced(), strlen(h_graced())) == 0, "ExecStart=%s", v ? v : "");
                free(v);
        }
        assert_unit_value(s, "RuntimeDirectory", "graced");
        v = unit_value(s, "ExecStart");
        ck_assert_msg(strstr(v, " -c /") && strstr(v, "/graced/graced.conf"), "ExecStart=%s", v);
        free(v);
        assert_unit_value(i, "RuntimeDirectory", "graced/%i");
        v = unit_value(i, "ExecStart");
        ck_assert_msg(strstr(v, " -c /") && strstr(v, "/graced/%i.conf"), "ExecStart=%s", v);
        free(v);
        /* every placeholder was substituted */
        for (int k = 0; k < 2; k++) {
                const char *t = k ? i : s;
                for (const char *a = strchr(t, '@'); a; a = strchr(a + 1, '@')) {
                        size_t n = strspn(a + 1, "abcdefghijklmnopqrstuvwxyz_");
                        ck_assert_msg(!(n > 0 && a[1 + n] == '@'), "unsubstituted placeholder in %s: %.*s",
                                      k ? "graced@.service" : "graced.service", (int)n + 2, a);
                }
        }
        free(s);
        free(i);
}
END_TEST

/* Runs systemd-analyze verify on the units in dir: exit status, output. */
static int analyze_verify(const char *dir, char **out)
{
        char *a = xasprintf("%s/graced.service", dir), *b = xasprintf("%s/graced@.service", dir);
        int st = h_run((const char *const[]){ "systemd-analyze", "verify", "--man=no", a, b, NULL }, NULL, 60000, out);

        free(a);
        free(b);
        return h_exit_code(st);
}

START_TEST(test_units_verify)
{
        char *dir = h_tmpdir(), *out = NULL;
        int code;

        ck_assert_ptr_nonnull(dir);
        for (int k = 0; k < 2; k++) {
                const char *name = k ? "graced@.service" : "graced.service";
                char *t = load_unit(name, NULL);

                ck_assert_ptr_nonnull(t);
                ck_assert_ptr_nonnull(h_write_file(dir, name, "%s", t));
                free(t);
        }
        code = analyze_verify(dir, &out);
        fprintf(stderr, "systemd-analyze verify: exit %d, output:\n%s\n", code, out ? out : "");
        ck_assert_int_eq(code, 0);
        /* warnings (unknown keys, ...) do not change the exit status */
        for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                ck_assert_msg(!strstr(l, dir) && !strstr(l, "graced.service") && !strstr(l, "graced@"),
                              "systemd-analyze verify complains: %s", l);
        free(out);
        out = NULL;

        /* and it does look at them: a missing binary is an error */
        {
                char *p = h_path(dir, "graced.service");
                char *t = h_read_file(p);
                char *bad = replace_all(t, h_graced(), "/nonexistent/graced");

                ck_assert_ptr_nonnull(h_write_file(NULL, p, "%s", bad));
                code = analyze_verify(dir, &out);
                ck_assert_msg(code != 0 && out && strstr(out, "/nonexistent/graced"),
                              "verify did not notice a missing binary (exit %d): %s", code, out ? out : "");
                free(out);
                free(bad);
                free(t);
                free(p);
        }
        h_rmrf(dir);
        free(dir);
}
END_TEST

/* ---- the sandbox (sandbox.h) ----------------------------------------------------------- */

static struct {
        struct sb sb;         /* sb.dir: visible to graced inside: DIR/graced/{graced,slow}.conf, DIR/units */
        char *canary;         /* a file in the host's /tmp */
        char *host_state;     /* hostname and sysctls before the boot */
} B;

/* Why the boot test cannot run here (static string), or NULL. */
static const char *boot_prereq(void)
{
        static char why[512];
        const char *progs[] = { h_graced(), h_testworker(), notifyworker() };
        const char *c;

        for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++) {
                if ((c = sb_hidden(progs[i]))) {
                        snprintf(why, sizeof why, "%s is under %s, a fresh tmpfs inside the sandbox", progs[i], c);
                        return why;
                }
        }
        return sb_prereq(&B.sb);
}

/* graced's configurations and the units, in B.sb.dir. */
static bool write_sandbox_files(void)
{
        const char *d = B.sb.dir;
        char *units = h_path(d, "units"), *etc = h_path(d, "graced"), *s;
        bool ok = false;

        if (mkdir(etc, 0755) < 0)
                goto out;

        /* graced's configurations ($sysconfdir/graced/NAME.conf with $sysconfdir = DIR) */
        if (!h_write_file(etc, "graced.conf",
                          "supervisor = { name = \"sdtest\"; shutdown_timeout = \"20s\"; report_file = \"%s/main-report.json\"; };\n"
                          "workers = (\n"
                          "  { name = \"db\"; command = [\"%s\", \"--print\", \"1\", \"--block\"]; },\n"
                          "  { name = \"web\"; ready = \"notify\"; watchdog = \"3s\"; after = [\"db\"];\n"
                          "    command = [\"%s\", \"--status\", \"warming up\", \"--ready-after-ms\", \"200\",\n"
                          "               \"--ready-status\", \"serving\", \"--watchdog-every-ms\", \"300\"];\n"
                          "    pre_stop = [\"/bin/sh\", \"-c\", \"echo pre_stop > '%s/web.prestop'\"]; }\n"
                          ");\n",
                          d, h_testworker(), notifyworker(), d) ||
            !h_write_file(etc, "slow.conf",
                          "supervisor = { name = \"slow\"; shutdown_timeout = \"20s\"; report_file = \"%s/slow-report.json\"; };\n"
                          "workers = ({ name = \"slowpoke\"; stop_timeout = \"6s\";\n"
                          "             command = [\"%s\", \"--on-signal-delay\", \"TERM\", \"4000\", \"0\", \"--block\"]; });\n",
                          d, h_testworker()))
                goto out;

        /* the units: the shipped ones, placeholders filled in, plus drop-ins */
        if (!(s = load_unit("graced.service", d)))
                goto out;
        if (!h_write_file(units, "graced-test.service", "%s", s)) {
                free(s);
                goto out;
        }
        free(s);
        if (!(s = load_unit("graced@.service", d)))
                goto out;
        if (!h_write_file(units, "graced@.service", "%s", s)) {
                free(s);
                goto out;
        }
        free(s);
        s = h_path(units, "graced-test.service.d");
        (void)mkdir(s, 0755);
        if (!h_write_file(s, "test.conf", "[Unit]\nDefaultDependencies=no\n[Service]\nWatchdogSec=2s\n")) {
                free(s);
                goto out;
        }
        free(s);
        s = h_path(units, "graced@slow.service.d");
        (void)mkdir(s, 0755);
        if (!h_write_file(s, "test.conf", "[Unit]\nDefaultDependencies=no\n[Service]\nTimeoutStopSec=2s\nWatchdogSec=2s\n")) {
                free(s);
                goto out;
        }
        free(s);
        if (!h_write_file(units, "graced-test.target",
                          "[Unit]\nDescription=graced test sandbox\nDefaultDependencies=no\n"
                          "Wants=systemd-journald.socket graced-test.service\n"))
                goto out;
        ok = true;
out:
        if (!ok)
                snprintf(B.sb.why, sizeof B.sb.why, "cannot write the sandbox files in %s: %s", d, strerror(errno));
        free(units);
        free(etc);
        return ok;
}

#define NS(timeout, out, ...) SB_RUN(&B.sb, (timeout), (out), __VA_ARGS__)

static char *prop(const char *unit, const char *name) { return sb_prop(&B.sb, unit, name); }

static long long prop_ll(const char *unit, const char *name) { return sb_prop_ll(&B.sb, unit, name); }

static void assert_prop(const char *unit, const char *name, const char *want)
{
        char *v = prop(unit, name);

        ck_assert_msg(strcmp(v, want) == 0, "%s: %s=%s, wanted %s", unit, name, v, want);
        free(v);
}

static void show_status(const char *unit, const char *when) { sb_show_status(&B.sb, unit, when); }

static void boot_setup(void)
{
        int fd;

        B.host_state = sb_host_state();
        /* what the host has in /tmp must still be there afterwards */
        B.canary = strdup("/tmp/check_systemd-canary.XXXXXX");
        fd = mkstemp(B.canary);
        if (fd < 0 || write(fd, "canary\n", 7) != 7) {
                free(B.canary);
                B.canary = NULL;
        }
        if (fd >= 0)
                close(fd);
        if (!sb_prepare(&B.sb, "check_systemd"))
                return;
        if (!write_sandbox_files()) {
                sb_fail(&B.sb, "%s", B.sb.why);
                return;
        }
        (void)sb_boot(&B.sb, "graced-test.target", NULL);
}

static void boot_teardown(void)
{
        sb_teardown(&B.sb);
        h_runner_sweep();
}

static void need_boot(void)
{
        ck_assert_msg(B.sb.booted, "the sandboxed systemd did not come up: %s", B.sb.why);
}

static char *dir_path(const char *name) { return h_path(B.sb.dir, name); }

/* ---- graced under systemd ------------------------------------------------------------ */

/* sb_fail() keeps the reason it is given, also when that is B.sb.why itself
 * (it once formatted B.why into itself and logged "boot failed: "). */
START_TEST(test_fail_boot_reason)
{
        char saved[sizeof B.sb.why];
        char *console = B.sb.console;

        memcpy(saved, B.sb.why, sizeof saved);
        B.sb.console = NULL;
        snprintf(B.sb.why, sizeof B.sb.why, "no cgroup file system found");
        sb_fail(&B.sb, "%s", B.sb.why);
        ck_assert_str_eq(B.sb.why, "no cgroup file system found");
        sb_fail(&B.sb, "cannot create %s: %s", "x", "y");
        ck_assert_str_eq(B.sb.why, "cannot create x: y");
        memcpy(B.sb.why, saved, sizeof saved);
        B.sb.console = console;
}
END_TEST

START_TEST(test_sd_start)
{
        const char *u = "graced-test.service";
        char *v;

        need_boot();
        /* started by the target at boot; start is a no-op that must succeed */
        ck_assert_int_eq(NS(T_SYSTEMCTL, NULL, "systemctl", "start", u), 0);
        assert_prop(u, "ActiveState", "active");
        assert_prop(u, "SubState", "running");
        assert_prop(u, "StatusText", "running: 2/2 workers");
        assert_prop(u, "Type", "notify");
        assert_prop(u, "NotifyAccess", "main");
        assert_prop(u, "KillMode", "mixed");
        assert_prop(u, "Restart", "on-failure");
        assert_prop(u, "RuntimeDirectory", "graced");
        assert_prop(u, "WatchdogUSec", "2s");
        ck_assert_int_gt(prop_ll(u, "MainPID"), 1);
        v = prop(u, "ExecStart");
        ck_assert_msg(strstr(v, h_graced()) != NULL, "ExecStart: %s", v);
        free(v);
        show_status(u, "running");
}
END_TEST

/* WatchdogSec=2s: graced pings at 1s; 4.5s later it is the same process,
 * never restarted, and systemd saw recent pings. */
START_TEST(test_sd_watchdog)
{
        const char *u = "graced-test.service";
        long long entered, pid, restarts, ping;

        need_boot();
        entered = prop_ll(u, "ActiveEnterTimestampMonotonic");
        pid = prop_ll(u, "MainPID");
        restarts = prop_ll(u, "NRestarts");
        ck_assert_int_gt(entered, 0);
        ck_assert_int_eq(restarts, 0);
        h_sleep_ms(4500); /* more than two watchdog intervals must pass */
        assert_prop(u, "ActiveState", "active");
        ck_assert_int_eq(prop_ll(u, "MainPID"), pid);
        ck_assert_int_eq(prop_ll(u, "NRestarts"), 0);
        ck_assert_int_eq(prop_ll(u, "ActiveEnterTimestampMonotonic"), entered);
        ping = prop_ll(u, "WatchdogTimestampMonotonic");
        ck_assert_msg(ping > entered + 2500000, "last watchdog ping at %lld, active since %lld", ping, entered);
}
END_TEST

/* journalctl -o json: graced's records carry GRACED_WORKER, GRACED_EVENT and
 * the right PRIORITY (--log-format=auto chose the journal). */
static bool journal_has(const char *out, const char *worker, const char *event, const char *prio, const char *msg_part,
                        long long pid)
{
        char *copy = strdup(out), *save = NULL;
        bool found = false;

        for (char *l = strtok_r(copy, "\n", &save); l && !found; l = strtok_r(NULL, "\n", &save)) {
                struct json_object *j = json_tokener_parse(l);
                const char *w = h_json_str(j, "GRACED_WORKER"), *e = h_json_str(j, "GRACED_EVENT"),
                           *p = h_json_str(j, "PRIORITY"), *m = h_json_str(j, "MESSAGE"), *sp = h_json_str(j, "_PID");

                found = j && e && strcmp(e, event) == 0 && (!worker || (w && strcmp(w, worker) == 0)) &&
                        (!prio || (p && strcmp(p, prio) == 0)) && (!msg_part || (m && strstr(m, msg_part))) &&
                        (pid <= 0 || (sp && atoll(sp) == pid));
                json_object_put(j);
        }
        free(copy);
        return found;
}

START_TEST(test_sd_journal)
{
        const char *u = "graced-test.service";
        long long pid, start = h_now_ns();
        char *out = NULL;
        bool ok = false;

        need_boot();
        pid = prop_ll(u, "MainPID");
        while (!ok && h_ms_since(start) < 10000) {
                free(out);
                out = NULL;
                ck_assert_int_eq(NS(T_SYSTEMCTL, &out, "journalctl", "-o", "json", "--no-pager", "SYSLOG_IDENTIFIER=graced"), 0);
                ok = journal_has(out, "web", "ready", "6", "ready", pid) &&
                     journal_has(out, "web", "status", "6", "serving", pid) &&
                     journal_has(out, "db", "output", "6", "line 1", pid) && journal_has(out, NULL, "start", "5", NULL, pid);
                if (!ok)
                        h_sleep_ms(100);
        }
        if (!ok)
                fprintf(stderr, "journal:\n%s\n", out ? out : "");
        ck_assert_msg(ok, "graced's journal records are missing or lack their fields");
        free(out);
        out = NULL;
        (void)NS(T_SYSTEMCTL, &out, "journalctl", "--no-pager", "-o", "short-monotonic", "-u", u);
        fprintf(stderr, "---- journalctl -u %s ----\n%s\n---- end ----\n", u, out ? out : "");
        free(out);
}
END_TEST

static bool have_gracectl(void)
{
        if (access(h_gracectl(), X_OK) == 0 && !sb_hidden(h_gracectl()))
                return true;
        fprintf(stderr, "SKIP: gracectl checks: %s is not built or not visible in the sandbox\n", h_gracectl());
        return false;
}

/* gracectl -s SOCKET status inside the sandbox: exit code, output. */
static int gracectl_status(const char *sock, char **out)
{
        return NS(T_SYSTEMCTL, out, h_gracectl(), "-s", sock, "status");
}

/* The pid of each worker in `gracectl --json status` (the namespace's
 * pids), as "NAME=PID " in order. */
static char *worker_pids(const char *sock)
{
        char *out = NULL, *s = strdup("");
        struct json_object *root, *ws;

        ck_assert_int_eq(NS(T_SYSTEMCTL, &out, h_gracectl(), "-s", sock, "--json", "status"), 0);
        root = json_tokener_parse(out);
        ws = h_json_get(root, "workers");
        ck_assert_msg(ws && json_object_is_type(ws, json_type_array), "gracectl --json status: %s", out);
        for (size_t i = 0; i < json_object_array_length(ws); i++) {
                struct json_object *w = json_object_array_get_idx(ws, i);
                char *n = xasprintf("%s%s=%lld ", s, h_json_str(w, "name"),
                                    (long long)json_object_get_int64(h_json_get(w, "pid")));

                free(s);
                s = n;
        }
        json_object_put(root);
        free(out);
        return s;
}

/* gracectl reexec under the real systemd: RELOADING=1 then READY=1 from
 * the same main pid; the unit stays active with the same MainPID, never
 * restarted, and every worker keeps its pid. */
START_TEST(test_sd_reexec)
{
        const char *u = "graced-test.service", *sock = "/run/graced/control.sock";
        long long pid, entered;
        char *before, *after, *out = NULL;

        need_boot();
        if (!have_gracectl())
                return;
        pid = prop_ll(u, "MainPID");
        entered = prop_ll(u, "ActiveEnterTimestampMonotonic");
        before = worker_pids(sock);
        ck_assert_msg(strstr(before, "web=") && strstr(before, "db="), "%s", before);
        ck_assert_int_eq(NS(T_SYSTEMCTL, &out, h_gracectl(), "-s", sock, "reexec"), 0);
        free(out);
        assert_prop(u, "ActiveState", "active");
        assert_prop(u, "SubState", "running");
        assert_prop(u, "StatusText", "running: 2/2 workers");
        ck_assert_int_eq(prop_ll(u, "MainPID"), pid);
        ck_assert_int_eq(prop_ll(u, "NRestarts"), 0);
        ck_assert_int_eq(prop_ll(u, "ActiveEnterTimestampMonotonic"), entered);
        after = worker_pids(sock);
        ck_assert_str_eq(after, before);
        free(after);
        free(before);
        /* systemd heard it: the journal has graced's record of it, from that pid */
        out = NULL;
        ck_assert_int_eq(NS(T_SYSTEMCTL, &out, "journalctl", "-o", "json", "--no-pager", "SYSLOG_IDENTIFIER=graced"), 0);
        ck_assert_msg(journal_has(out, NULL, "reexec", NULL, "re-executed", pid), "no re-executed record from %lld", pid);
        free(out);
        show_status(u, "after reexec");
}
END_TEST

/* graced@slow next to graced-test: each has its control socket in its
 * RuntimeDirectory ($RUNTIME_DIRECTORY), and gracectl reaches both. */
START_TEST(test_sd_instance)
{
        const char *u = "graced@slow.service";
        char *out = NULL;

        need_boot();
        ck_assert_int_eq(NS(T_SYSTEMCTL, NULL, "systemctl", "start", u), 0);
        assert_prop(u, "ActiveState", "active");
        assert_prop(u, "StatusText", "running: 1/1 workers");
        assert_prop(u, "TimeoutStopUSec", "2s");
        assert_prop(u, "RuntimeDirectory", "graced/slow");
        {
                char *v = prop(u, "ExecStart");
                ck_assert_msg(strstr(v, "/graced/slow.conf") != NULL, "ExecStart: %s", v);
                free(v);
        }
        show_status(u, "running");
        ck_assert_int_eq(NS(T, NULL, "test", "-S", "/run/graced/control.sock"), 0);
        ck_assert_int_eq(NS(T, NULL, "test", "-S", "/run/graced/slow/control.sock"), 0);
        if (!have_gracectl())
                return;
        ck_assert_int_eq(gracectl_status("/run/graced/control.sock", &out), 0);
        ck_assert_msg(strstr(out, "web") && strstr(out, "db"), "gracectl status: %s", out);
        free(out);
        out = NULL;
        ck_assert_int_eq(gracectl_status("/run/graced/slow/control.sock", &out), 0);
        ck_assert_msg(strstr(out, "slowpoke") != NULL, "gracectl status: %s", out);
        free(out);
}
END_TEST

/* systemctl stop: the ordered shutdown, Result=success. */
START_TEST(test_sd_stop)
{
        const char *u = "graced-test.service";
        char *p, *t;
        struct json_object *r;

        need_boot();
        ck_assert_int_eq(NS(T_SYSTEMCTL, NULL, "systemctl", "stop", u), 0);
        show_status(u, "after stop");
        assert_prop(u, "ActiveState", "inactive");
        assert_prop(u, "Result", "success");
        assert_prop(u, "ExecMainStatus", "0");
        assert_prop(u, "NRestarts", "0");
        p = dir_path("web.prestop");
        ck_assert_msg(h_wait_file(p, T), "the pre_stop hook did not run");
        free(p);
        p = dir_path("main-report.json");
        t = h_read_file(p);
        ck_assert_msg(t != NULL, "no report at %s", p);
        r = json_tokener_parse(t);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(h_json_bool(r, "clean"), 1);
        ck_assert_str_eq(h_json_str(r, "reason"), "SIGTERM");
        ck_assert_int_lt(h_report_worker_pos(r, "web"), h_report_worker_pos(r, "db"));
        ck_assert_str_eq(h_json_str(h_json_get(h_report_worker(r, "web"), "pre_stop"), "outcome"), "ok");
        json_object_put(r);
        free(t);
        free(p);
        /* graced removed its socket; the instance's directory below
         * /run/graced survived the stop (RuntimeDirectoryPreserve=yes) */
        ck_assert_int_ne(NS(T, NULL, "test", "-e", "/run/graced/control.sock"), 0);
        ck_assert_int_eq(NS(T, NULL, "test", "-S", "/run/graced/slow/control.sock"), 0);
        assert_prop("graced@slow.service", "ActiveState", "active");
        if (have_gracectl()) {
                char *out = NULL;
                ck_assert_int_eq(gracectl_status("/run/graced/slow/control.sock", &out), 0);
                free(out);
        }
}
END_TEST

/* TimeoutStopSec=2s, a worker needing 4s to stop: EXTEND_TIMEOUT_USEC=
 * keeps systemd from killing graced; Result=success. */
START_TEST(test_sd_slow_stop)
{
        const char *u = "graced@slow.service";
        long long start, ms;
        char *p, *t;
        struct json_object *r;

        need_boot();
        ck_assert_int_eq(NS(T_SYSTEMCTL, NULL, "systemctl", "start", u), 0); /* started by test_sd_instance */
        assert_prop(u, "ActiveState", "active");
        start = h_now_ns();
        ck_assert_int_eq(NS(T_SYSTEMCTL, NULL, "systemctl", "stop", u), 0);
        ms = h_ms_since(start);
        fprintf(stderr, "systemctl stop %s took %lld ms\n", u, ms);
        show_status(u, "after stop");
        ck_assert_int_ge(ms, 3500); /* it did take longer than TimeoutStopSec= */
        assert_prop(u, "Result", "success");
        assert_prop(u, "ExecMainStatus", "0");
        p = dir_path("slow-report.json");
        t = h_read_file(p);
        ck_assert_msg(t != NULL, "no report at %s", p);
        r = json_tokener_parse(t);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(h_json_bool(r, "clean"), 1);
        ck_assert_int_eq(h_json_bool(r, "forced"), 0);
        ck_assert_str_eq(h_json_str(h_report_worker(r, "slowpoke"), "outcome"), "stopped");
        ck_assert(h_json_double(h_report_worker(r, "slowpoke"), "stop_s") >= 3.5);
        json_object_put(r);
        free(t);
        free(p);
        ck_assert_int_ne(NS(T, NULL, "test", "-e", "/run/graced/slow"), 0); /* its RuntimeDirectory is gone */
}
END_TEST

/* After the sandbox is gone: the host's /tmp kept its files, its hostname
 * and sysctls are what they were. */
START_TEST(test_host_untouched)
{
        char *t;

        if (B.host_state) {
                t = sb_host_state();
                ck_assert_msg(strcmp(t, B.host_state) == 0, "the host changed:\nbefore:\n%safter:\n%s", B.host_state, t);
                free(t);
        }

        if (!B.canary) {
                fprintf(stderr, "no canary file could be made in /tmp: nothing to check\n");
                return;
        }
        t = h_read_file(B.canary);
        ck_assert_msg(t && strcmp(t, "canary\n") == 0, "%s is gone or changed: the sandbox touched the host's /tmp",
                      B.canary);
        free(t);
}
END_TEST

static void host_teardown(void)
{
        if (B.canary)
                (void)unlink(B.canary);
        free(B.canary);
        B.canary = NULL;
        free(B.host_state);
        B.host_state = NULL;
}


int main(void)
{
        SRunner *sr;
        Suite *s;
        TCase *tc;
        const char *no_boot;
        char *analyze;
        int failed;

        (void)h_graced(); /* fail early and clearly when unset */
        (void)h_testworker();
        (void)notifyworker();
        setvbuf(stdout, NULL, _IOLBF, 0);
        no_boot = boot_prereq();
        analyze = find_exe("systemd-analyze");
        if (no_boot && !analyze) {
                printf("SKIP: %s; systemd-analyze is not installed either\n", no_boot);
                return 77;
        }
        if (h_runner_init() < 0)
                return EXIT_FAILURE;
        s = suite_create("systemd");
        tc = tcase_create("units");
        tcase_add_unchecked_fixture(tc, NULL, h_runner_sweep);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_units_contract);
        tcase_add_test(tc, test_fail_boot_reason);
        if (analyze)
                tcase_add_test(tc, test_units_verify);
        else
                printf("SKIP: systemd-analyze verify: systemd-analyze is not installed\n");
        suite_add_tcase(s, tc);
        if (!no_boot) {
                tc = tcase_create("boot");
                tcase_add_unchecked_fixture(tc, boot_setup, boot_teardown);
                tcase_set_timeout(tc, 60);
                tcase_add_test(tc, test_sd_start);
                tcase_add_test(tc, test_sd_watchdog);
                tcase_add_test(tc, test_sd_journal);
                tcase_add_test(tc, test_sd_reexec);
                tcase_add_test(tc, test_sd_instance);
                tcase_add_test(tc, test_sd_stop);
                tcase_add_test(tc, test_sd_slow_stop);
                suite_add_tcase(s, tc);
                tc = tcase_create("host");
                tcase_add_unchecked_fixture(tc, NULL, host_teardown);
                tcase_add_test(tc, test_host_untouched);
                suite_add_tcase(s, tc);
                sb_sweep_stale("check_systemd");
        } else {
                printf("SKIP: graced under the real systemd: %s\n", no_boot);
        }
        free(analyze);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        h_runner_done();
        if (failed)
                return EXIT_FAILURE;
        return no_boot ? 77 : EXIT_SUCCESS;
}
