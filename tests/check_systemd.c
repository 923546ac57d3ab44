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
 * Safety: the setup script refuses to run unless it is PID 1 of a mount
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

#define T 5000        /* ms: things that happen at once */
#define T_SYSTEMCTL 30000 /* ms: one systemctl call at most */
#define T_BOOT 30000  /* ms: until is-system-running says running */

static const char *notifyworker(void) { return h_env_path("GRACED_NOTIFYWORKER"); }

/* ---- small utilities --------------------------------------------------------- */

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
        va_list ap;
        char *s;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                abort();
        va_end(ap);
        return s;
}

/* An executable in $PATH or the usual sbin directories (malloc'd), or NULL. */
static char *find_exe(const char *name)
{
        const char *path = getenv("PATH");
        char *dirs = xasprintf("%s:/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin", path ? path : "");
        char *save = NULL, *found = NULL;

        if (strchr(name, '/')) {
                free(dirs);
                return access(name, X_OK) == 0 ? strdup(name) : NULL;
        }
        for (char *d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
                char *p = xasprintf("%s/%s", *d ? d : ".", name);

                if (access(p, X_OK) == 0)
                        found = p;
                else
                        free(p);
        }
        free(dirs);
        return found;
}

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

static void trim(char *s)
{
        size_t n = s ? strlen(s) : 0;

        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
                s[--n] = '\0';
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

/* ---- the sandbox ------------------------------------------------------------------- */

static const char *const masked[] = {
        "systemd-tmpfiles-setup.service", "systemd-tmpfiles-clean.timer", "systemd-sysusers.service",
        "systemd-random-seed.service", "systemd-machine-id-commit.service", "ldconfig.service",
        "systemd-update-utmp.service", "systemd-logind.service", "cron.service", "dbus.service", "dbus.socket",
        "getty.target", "console-getty.service", "systemd-firstboot.service",
};

/* What the sandbox covers with a tmpfs: nothing of the test may live there. */
static const char *const covered[] = { "/run", "/tmp", "/var/tmp", "/var/log", "/var/lib/systemd", "/var/cache",
                                       "/etc/systemd/system" };

static struct {
        char *dir;            /* visible to graced inside: DIR/graced/{graced,slow}.conf, DIR/units */
        char *console;        /* systemd's console output */
        char *cg_name;        /* the sandbox's cgroup, below ours in each hierarchy */
        char *cg_dirs[2];     /* name=systemd and cgroup2 dirs made for it (moved into by the script) */
        char *systemd;        /* /lib/systemd/systemd */
        bool kill_child;      /* unshare knows --kill-child */
        pid_t unshare, sd;    /* unshare (our child); systemd (its child: PID 1 inside) */
        bool booted;
        char why[1024];       /* why the boot failed */
        char *canary;         /* a file in the host's /tmp */
        char *host_state;     /* hostname and sysctls before the boot */
        bool tearing_down;
} B;

#define CG_PREFIX "graced-check-systemd-"

/* The directory the sandbox's files go in: $GRACED_TEST_TMP, else the
 * current (build) directory, resolved (malloc'd), or NULL. */
static char *base_dir(void)
{
        const char *base = getenv("GRACED_TEST_TMP");
        char cwd[PATH_MAX], real[PATH_MAX];

        if (!base || !*base)
                base = getcwd(cwd, sizeof cwd);
        return base && realpath(base, real) ? strdup(real) : NULL;
}

/* The directory of path (resolved) is under one of the sandbox's tmpfs. */
static const char *hidden_in_sandbox(const char *path)
{
        char real[PATH_MAX];

        if (!realpath(path, real))
                return NULL;
        for (size_t i = 0; i < sizeof covered / sizeof covered[0]; i++) {
                size_t l = strlen(covered[i]);
                if (strncmp(real, covered[i], l) == 0 && (real[l] == '/' || real[l] == '\0'))
                        return covered[i];
        }
        return NULL;
}

/* Why the boot test cannot run here (static string), or NULL. */
static const char *boot_prereq(void)
{
        static char why[512];
        static const char *const tools[] = { "unshare", "nsenter", "systemctl", "journalctl" };
        const char *progs[] = { h_graced(), h_testworker(), notifyworker() };
        char *out = NULL, *base;
        const char *c;
        int st;

        if (geteuid() != 0)
                return "not root (booting systemd in a namespace needs root)";
        base = base_dir();
        if (!base)
                return "no directory for the sandbox's files ($GRACED_TEST_TMP or the current directory)";
        if ((c = hidden_in_sandbox(base))) {
                snprintf(why, sizeof why,
                         "%s is under %s, a fresh tmpfs inside the sandbox: set GRACED_TEST_TMP to a directory elsewhere",
                         base, c);
                free(base);
                return why;
        }
        free(base);
        for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++) {
                if ((c = hidden_in_sandbox(progs[i]))) {
                        snprintf(why, sizeof why, "%s is under %s, a fresh tmpfs inside the sandbox", progs[i], c);
                        return why;
                }
        }
        for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
                char *p = find_exe(tools[i]);
                if (!p) {
                        snprintf(why, sizeof why, "%s is not installed", tools[i]);
                        return why;
                }
                free(p);
        }
        B.systemd = find_exe("/lib/systemd/systemd");
        if (!B.systemd)
                B.systemd = find_exe("/usr/lib/systemd/systemd");
        if (!B.systemd)
                return "systemd (/lib/systemd/systemd) is not installed";
        {
                struct stat mid;
                if (stat("/etc/machine-id", &mid) < 0 || mid.st_size == 0)
                        return "no /etc/machine-id: the sandboxed systemd would write one on the host";
        }
        st = h_run((const char *const[]){ "unshare", "--pid", "--fork", "--mount", "--mount-proc", "--uts", "--net", "true",
                                          NULL },
                   NULL, T, &out);
        if (h_exit_code(st) != 0) {
                trim(out);
                snprintf(why, sizeof why, "cannot create PID and mount namespaces (unshare: %s)", out ? out : "?");
                free(out);
                return why;
        }
        free(out);
        out = NULL;
        st = h_run((const char *const[]){ "unshare", "--help", NULL }, NULL, T, &out);
        B.kill_child = h_exit_code(st) == 0 && out && strstr(out, "--kill-child");
        free(out);
        return NULL;
}

static void fail_boot(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail_boot(const char *fmt, ...)
{
        char why[sizeof B.why];
        va_list ap;

        /* format into a buffer of its own: callers pass B.why itself as an argument */
        va_start(ap, fmt);
        vsnprintf(why, sizeof why, fmt, ap);
        va_end(ap);
        memcpy(B.why, why, sizeof B.why);
        fprintf(stderr, "boot failed: %s\n", B.why);
        if (B.console)
                h_dump_file(B.console, 60);
}

/* "N:name=systemd:/path" / "0::/path" of /proc/self/cgroup. */
static char *self_cgroup(const char *controller)
{
        char *text = h_read_file("/proc/self/cgroup"), *r = NULL, *save = NULL;
        size_t cl = strlen(controller);

        for (char *l = text ? strtok_r(text, "\n", &save) : NULL; l && !r; l = strtok_r(NULL, "\n", &save)) {
                char *c = strchr(l, ':');
                if (c && strncmp(c + 1, controller, cl) == 0 && c[1 + cl] == ':')
                        r = strdup(c + 2 + cl);
        }
        free(text);
        if (r && strcmp(r, "/") == 0)
                r[0] = '\0';
        return r;
}

/* Mount points of cgroup file systems: fn(mount point, is_v2, super options). */
static void each_cgroup_mount(void (*fn)(const char *mnt, bool v2, const char *opts, void *), void *data)
{
        char *text = h_read_file("/proc/self/mountinfo"), *save = NULL;

        for (char *l = text ? strtok_r(text, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
                char mnt[PATH_MAX], fstype[64], opts[1024];
                const char *sep = strstr(l, " - ");

                if (!sep || sscanf(l, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
                    sscanf(sep + 3, "%63s %*s %1023s", fstype, opts) != 2)
                        continue;
                if (strcmp(fstype, "cgroup2") == 0)
                        fn(mnt, true, opts, data);
                else if (strcmp(fstype, "cgroup") == 0)
                        fn(mnt, false, opts, data);
        }
        free(text);
}

struct cg_find {
        char *systemd_mnt, *v2_mnt;
};

static void cg_find_fn(const char *mnt, bool v2, const char *opts, void *data)
{
        struct cg_find *f = data;

        if (v2 && !f->v2_mnt)
                f->v2_mnt = strdup(mnt);
        else if (!v2 && strstr(opts, "name=systemd") && !f->systemd_mnt)
                f->systemd_mnt = strdup(mnt);
}

/* Makes the sandbox's cgroup directories (the script moves systemd into
 * them). false with B.why set when it cannot. */
static bool make_cgroups(void)
{
        struct cg_find f = { 0 };
        char *base_sd = self_cgroup("name=systemd"), *base_v2 = self_cgroup("");
        int n = 0;

        each_cgroup_mount(cg_find_fn, &f);
        if (f.systemd_mnt && base_sd)
                B.cg_dirs[n++] = xasprintf("%s%s/%s", f.systemd_mnt, base_sd, B.cg_name);
        if (f.v2_mnt && base_v2)
                B.cg_dirs[n++] = xasprintf("%s%s/%s", f.v2_mnt, base_v2, B.cg_name);
        free(f.systemd_mnt);
        free(f.v2_mnt);
        free(base_sd);
        free(base_v2);
        if (n == 0) {
                snprintf(B.why, sizeof B.why, "no cgroup file system found");
                return false;
        }
        for (int i = 0; i < n; i++) {
                if (mkdir(B.cg_dirs[i], 0755) < 0) {
                        snprintf(B.why, sizeof B.why, "cannot create cgroup %s: %s", B.cg_dirs[i], strerror(errno));
                        return false;
                }
        }
        return true;
}

static int rmdir_fn(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
        (void)st;
        (void)ftw;
        if (type == FTW_DP)
                (void)rmdir(path);
        return 0;
}

struct cg_clean {
        const char *rel; /* "/base/cg" below a hierarchy's root */
        const char *rel_v2;
        bool left;
};

static void cg_clean_fn(const char *mnt, bool v2, const char *opts, void *data)
{
        struct cg_clean *c = data;
        char *dir = xasprintf("%s%s", mnt, v2 ? c->rel_v2 : c->rel);
        struct stat st;

        (void)opts;
        if (stat(dir, &st) == 0) {
                (void)nftw(dir, rmdir_fn, 16, FTW_DEPTH | FTW_PHYS);
                if (stat(dir, &st) == 0)
                        c->left = true;
        }
        free(dir);
}

/* Removes the sandbox's cgroups in every hierarchy (systemd also made
 * them in the v1 controllers' hierarchies, at its own root path). Only
 * empty cgroups can be removed: processes are never affected. */
static void remove_cgroups(void)
{
        char *base_sd = self_cgroup("name=systemd"), *base_v2 = self_cgroup("");
        char *rel = xasprintf("%s/%s", base_sd ? base_sd : base_v2 ? base_v2 : "", B.cg_name);
        char *rel_v2 = xasprintf("%s/%s", base_v2 ? base_v2 : "", B.cg_name);
        struct cg_clean c = { rel, rel_v2, false };
        long long start = h_now_ns();

        do {
                c.left = false;
                each_cgroup_mount(cg_clean_fn, &c);
                if (c.left)
                        h_sleep_ms(50); /* the last processes are still leaving */
        } while (c.left && h_ms_since(start) < T);
        if (c.left)
                fprintf(stderr, "warning: could not remove every cgroup named %s\n", B.cg_name);
        free(rel);
        free(rel_v2);
        free(base_sd);
        free(base_v2);
}

static bool write_sandbox_files(void)
{
        const char *d = B.dir;
        char *units = h_path(d, "units"), *etc = h_path(d, "graced"), *s;
        char *hostns = NULL;
        bool ok = false;
        char buf[PATH_MAX];
        ssize_t n;

        if (mkdir(units, 0755) < 0 || mkdir(etc, 0755) < 0)
                goto out;
        n = readlink("/proc/self/ns/mnt", buf, sizeof buf - 1);
        if (n <= 0)
                goto out;
        buf[n] = '\0';
        hostns = strdup(buf);

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

        /* the script that becomes systemd, PID 1 of the new namespaces */
        {
                size_t cap = 8192, len = 0;
                char *sc = malloc(cap);

                len += (size_t)snprintf(sc + len, cap - len,
                                        "#!/bin/sh\n"
                                        "# check_systemd: turns a fresh PID + mount namespace into a systemd sandbox.\n"
                                        "# Never run it anywhere else.\n"
                                        "set -e\n"
                                        "[ \"$$\" = 1 ] || { echo 'setup: not PID 1 of a new PID namespace: refusing'; exit 1; }\n"
                                        "[ \"$(readlink /proc/self/ns/mnt)\" != '%s' ] || { echo 'setup: in the host mount namespace: refusing'; exit 1; }\n"
                                        "mount --make-rprivate /\n"
                                        "# what systemd as PID 1 would change on the host: sysctls (fs.file-max is\n"
                                        "# not namespaced), /sys, the machine id\n"
                                        "mount --rbind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys\n"
                                        "mount --rbind /sys /sys && mount -o remount,bind,ro /sys\n"
                                        "mount --bind /etc/machine-id /etc/machine-id && mount -o remount,bind,ro /etc/machine-id\n"
                                        "mount -t tmpfs -o mode=0755 tmpfs /etc/systemd/system\n"
                                        "cp -R '%s/.' /etc/systemd/system/\n"
                                        "for d in /run /tmp /var/tmp /var/log /var/lib/systemd /var/cache; do\n"
                                        "  mount -t tmpfs -o mode=0755 tmpfs \"$d\"\n"
                                        "done\n"
                                        "chmod 1777 /tmp /var/tmp\n"
                                        "for u in",
                                        hostns, units);
                for (size_t i = 0; i < sizeof masked / sizeof masked[0]; i++)
                        len += (size_t)snprintf(sc + len, cap - len, " %s", masked[i]);
                len += (size_t)snprintf(sc + len, cap - len,
                                        "; do\n  ln -sf /dev/null \"/etc/systemd/system/$u\"\ndone\n"
                                        "# a cgroup subtree of its own: no clash with another sandbox\n");
                for (int i = 0; i < 2; i++)
                        if (B.cg_dirs[i])
                                len += (size_t)snprintf(sc + len, cap - len, "echo 0 > '%s/cgroup.procs'\n", B.cg_dirs[i]);
                len += (size_t)snprintf(sc + len, cap - len,
                                        "exec env container=other %s --system --unit=graced-test.target "
                                        "--log-target=console --log-level=notice\n",
                                        B.systemd);
                if (len >= cap) {
                        free(sc);
                        goto out;
                }
                s = h_write_file(d, "setup.sh", "%s", sc);
                free(sc);
                if (!s || chmod(s, 0755) < 0) {
                        free(s);
                        goto out;
                }
                free(s);
        }
        ok = true;
out:
        if (!ok)
                snprintf(B.why, sizeof B.why, "cannot write the sandbox files in %s: %s", d, strerror(errno));
        free(hostns);
        free(units);
        free(etc);
        return ok;
}

/* setsid unshare --pid --fork --mount --mount-proc SCRIPT, stdin /dev/null,
 * output to the console log, dying with us. */
static pid_t spawn_sandbox(void)
{
        char *script = h_path(B.dir, "setup.sh");
        const char *argv[12];
        int n = 0;
        pid_t parent = getpid(), pid;

        argv[n++] = "unshare";
        argv[n++] = "--pid";
        argv[n++] = "--fork";
        argv[n++] = "--mount";
        argv[n++] = "--mount-proc";
        argv[n++] = "--uts"; /* hostname_setup() */
        argv[n++] = "--net"; /* loopback_setup(), net.unix.max_dgram_qlen */
        if (B.kill_child)
                argv[n++] = "--kill-child=SIGKILL"; /* systemd dies with unshare */
        argv[n++] = script;
        argv[n] = NULL;
        fflush(NULL);
        pid = fork();
        if (pid == 0) {
                static const char *const envp[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                                    "LANG=C.UTF-8", NULL };
                sigset_t none;
                int in, out;

                (void)prctl(PR_SET_PDEATHSIG, SIGKILL); /* unshare dies with the runner */
                if (getppid() != parent)
                        _exit(127);
                (void)setsid();
                sigemptyset(&none);
                (void)sigprocmask(SIG_SETMASK, &none, NULL);
                for (int s = 1; s < NSIG; s++)
                        if (s != SIGKILL && s != SIGSTOP)
                                (void)signal(s, SIG_DFL);
                in = open("/dev/null", O_RDONLY);
                out = open(B.console, O_WRONLY | O_CREAT | O_APPEND, 0644);
                if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
                        _exit(127);
                (void)close_range(3, ~0U, 0);
                execve("/usr/bin/unshare", (char *const *)argv, (char *const *)envp);
                execvpe("unshare", (char *const *)argv, (char *const *)envp);
                _exit(127);
        }
        free(script);
        return pid;
}

static bool unshare_exited(void)
{
        int st;

        if (B.unshare <= 0)
                return true;
        if (waitpid(B.unshare, &st, WNOHANG) == B.unshare) {
                if (!B.tearing_down)
                        fprintf(stderr, "unshare exited early: status 0x%x\n", (unsigned)st);
                B.unshare = 0;
                return true;
        }
        return false;
}

/* systemd inside: the child of unshare once it exec'd systemd. */
static pid_t find_systemd(int timeout_ms)
{
        long long start = h_now_ns();

        while (h_ms_since(start) < timeout_ms && !unshare_exited()) {
                char *p = xasprintf("/proc/%d/task/%d/children", (int)B.unshare, (int)B.unshare);
                char *kids = h_read_file(p);
                pid_t pid = kids ? (pid_t)atoi(kids) : 0;

                free(p);
                free(kids);
                if (pid > 0) {
                        char *cp = xasprintf("/proc/%d/comm", (int)pid);
                        char *comm = h_read_file(cp);

                        trim(comm);
                        free(cp);
                        if (comm && strcmp(comm, "systemd") == 0) {
                                free(comm);
                                return pid;
                        }
                        free(comm);
                }
                h_sleep_ms(20);
        }
        return -1;
}

/* nsenter -t SYSTEMD -m -p ARGS...: the exit code (-1 on timeout), the
 * output (stdout + stderr, trimmed) in *out when out is not NULL. */
static int ns_vrun(int timeout_ms, char **out, const char *const *args)
{
        const char *argv[32];
        char pid[16];
        int n = 0, st;

        snprintf(pid, sizeof pid, "%d", (int)B.sd);
        argv[n++] = "nsenter";
        argv[n++] = "-t";
        argv[n++] = pid;
        argv[n++] = "-m";
        argv[n++] = "-p";
        for (int i = 0; args[i] && n < 31; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        st = h_run(argv, NULL, timeout_ms, out);
        if (out)
                trim(*out);
        return h_exit_code(st);
}

#define NS(timeout, out, ...) ns_vrun((timeout), (out), (const char *const[]){ __VA_ARGS__, NULL })

/* systemctl show -p NAME --value UNIT (malloc'd, trimmed; "" when unset). */
static char *prop(const char *unit, const char *name)
{
        char *out = NULL;

        (void)NS(T_SYSTEMCTL, &out, "systemctl", "show", "-p", name, "--value", unit);
        return out ? out : strdup("");
}

static long long prop_ll(const char *unit, const char *name)
{
        char *v = prop(unit, name);
        long long r = *v ? strtoll(v, NULL, 10) : -1;

        free(v);
        return r;
}

static void assert_prop(const char *unit, const char *name, const char *want)
{
        char *v = prop(unit, name);

        ck_assert_msg(strcmp(v, want) == 0, "%s: %s=%s, wanted %s", unit, name, v, want);
        free(v);
}

static void show_status(const char *unit, const char *when)
{
        char *out = NULL;

        (void)NS(T_SYSTEMCTL, &out, "systemctl", "status", "--no-pager", "-l", "--lines=15", unit);
        fprintf(stderr, "---- systemctl status %s (%s) ----\n%s\n---- end ----\n", unit, when, out ? out : "");
        free(out);
}

/* What systemd as PID 1 could change on the host, as one string. */
static char *host_state(void)
{
        static const char *const files[] = { "/proc/sys/kernel/hostname", "/proc/sys/net/unix/max_dgram_qlen",
                                             "/proc/sys/fs/file-max", "/proc/sys/fs/nr_open" };
        char *r = strdup("");

        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
                char *v = h_read_file(files[i]), *n;

                trim(v);
                n = xasprintf("%s%s=%s\n", r, files[i], v ? v : "?");
                free(v);
                free(r);
                r = n;
        }
        return r;
}

static void boot_setup(void)
{
        char *base = base_dir(), *tmpl;
        long long start;
        char *state = NULL;
        int fd;

        memset(&B.why, 0, sizeof B.why);
        B.booted = false;
        B.host_state = host_state();
        /* what the host has in /tmp must still be there afterwards */
        B.canary = strdup("/tmp/check_systemd-canary.XXXXXX");
        fd = mkstemp(B.canary);
        if (fd < 0 || write(fd, "canary\n", 7) != 7) {
                free(B.canary);
                B.canary = NULL;
        }
        if (fd >= 0)
                close(fd);
        tmpl = xasprintf("%s/check_systemd-%d.XXXXXX", base ? base : ".", (int)getpid());
        free(base);
        if (!mkdtemp(tmpl) || chmod(tmpl, 0755) < 0) {
                fail_boot("mkdtemp %s: %s", tmpl, strerror(errno));
                free(tmpl);
                return;
        }
        B.dir = tmpl;
        B.console = h_path(B.dir, "console.log");
        B.cg_name = xasprintf("%s%d-%s", CG_PREFIX, (int)getpid(), strrchr(B.dir, '.') + 1);
        if (!make_cgroups()) {
                fail_boot("%s", B.why);
                return;
        }
        if (!write_sandbox_files()) {
                fail_boot("%s", B.why);
                return;
        }
        start = h_now_ns();
        B.unshare = spawn_sandbox();
        if (B.unshare < 0) {
                fail_boot("fork: %s", strerror(errno));
                return;
        }
        B.sd = find_systemd(10000);
        if (B.sd <= 0) {
                fail_boot("systemd did not start in the namespace");
                return;
        }
        for (;;) {
                free(state);
                state = NULL;
                (void)NS(T, &state, "systemctl", "is-system-running");
                if (state && (strcmp(state, "running") == 0 || strcmp(state, "degraded") == 0))
                        break;
                if (h_ms_since(start) > T_BOOT || unshare_exited()) {
                        fail_boot("systemd is not running after %lld ms: is-system-running says '%s'", h_ms_since(start),
                                  state ? state : "");
                        free(state);
                        return;
                }
                h_sleep_ms(50);
        }
        fprintf(stderr, "sandboxed systemd (pid %d) is %s after %lld ms; files in %s\n", (int)B.sd, state,
                h_ms_since(start), B.dir);
        if (strcmp(state, "degraded") == 0) {
                char *out = NULL;
                (void)NS(T, &out, "systemctl", "--failed", "--no-pager");
                fprintf(stderr, "%s\n", out ? out : "");
                free(out);
        }
        free(state);
        B.booted = true;
}

static void boot_teardown(void)
{
        B.tearing_down = true;
        if (B.sd > 0 && B.unshare > 0 && h_pid_ppid(B.sd) == B.unshare) {
                /* the one kill: everything in the namespace dies with its PID 1 */
                (void)kill(B.sd, SIGKILL);
        }
        if (B.unshare > 0) {
                long long start = h_now_ns();

                while (!unshare_exited() && h_ms_since(start) < T)
                        h_sleep_ms(10);
                if (B.unshare > 0) { /* still there: it is ours */
                        (void)kill(B.unshare, SIGKILL);
                        (void)waitpid(B.unshare, NULL, 0);
                        B.unshare = 0;
                }
        }
        if (B.sd > 0 && !h_wait_pid_reaped(B.sd, T))
                fprintf(stderr, "warning: the sandboxed systemd (pid %d) is still there\n", (int)B.sd);
        B.sd = 0;
        if (B.cg_name)
                remove_cgroups();
        if (B.dir) {
                if (getenv("GRACED_KEEP_TEST"))
                        fprintf(stderr, "kept %s\n", B.dir);
                else
                        h_rmrf(B.dir);
        }
        for (int i = 0; i < 2; i++) {
                free(B.cg_dirs[i]);
                B.cg_dirs[i] = NULL;
        }
        free(B.dir);
        free(B.console);
        free(B.cg_name);
        B.dir = B.console = B.cg_name = NULL;
        B.booted = false;
        B.tearing_down = false;
        h_runner_sweep();
}

static void need_boot(void)
{
        ck_assert_msg(B.booted, "the sandboxed systemd did not come up: %s", B.why);
}

static char *dir_path(const char *name) { return h_path(B.dir, name); }

/* ---- graced under systemd ------------------------------------------------------------ */

/* fail_boot() keeps the reason it is given, also when that is B.why itself
 * (it once formatted B.why into itself and logged "boot failed: "). */
START_TEST(test_fail_boot_reason)
{
        char saved[sizeof B.why];
        char *console = B.console;

        memcpy(saved, B.why, sizeof saved);
        B.console = NULL;
        snprintf(B.why, sizeof B.why, "no cgroup file system found");
        fail_boot("%s", B.why);
        ck_assert_str_eq(B.why, "no cgroup file system found");
        fail_boot("cannot create %s: %s", "x", "y");
        ck_assert_str_eq(B.why, "cannot create x: y");
        memcpy(B.why, saved, sizeof saved);
        B.console = console;
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
        if (access(h_gracectl(), X_OK) == 0 && !hidden_in_sandbox(h_gracectl()))
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
                t = host_state();
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

/* "<prefix><pid>..." with a pid that no longer exists. */
static bool stale_name(const char *name, const char *prefix)
{
        size_t pl = strlen(prefix);
        char *end;
        long pid;

        if (strncmp(name, prefix, pl) != 0)
                return false;
        pid = strtol(name + pl, &end, 10);
        return end != name + pl && pid > 0 && (*end == '-' || *end == '.') && kill((pid_t)pid, 0) < 0 &&
               errno == ESRCH;
}

static void sweep_cg_fn(const char *mnt, bool v2, const char *opts, void *data)
{
        const char *base = v2 ? ((char **)data)[1] : ((char **)data)[0];
        char *dir = xasprintf("%s%s", mnt, base ? base : "");
        DIR *d = opendir(dir);
        struct dirent *de;

        (void)opts;
        while (d && (de = readdir(d))) {
                if (de->d_type == DT_DIR && stale_name(de->d_name, CG_PREFIX)) {
                        char *p = xasprintf("%s/%s", dir, de->d_name);
                        (void)nftw(p, rmdir_fn, 16, FTW_DEPTH | FTW_PHYS); /* empty cgroups only */
                        free(p);
                }
        }
        if (d)
                closedir(d);
        free(dir);
}

/* What a run killed before its teardown left: its (empty) cgroups and its
 * directory. */
static void sweep_stale(void)
{
        char *bases[2] = { self_cgroup("name=systemd"), self_cgroup("") };
        char *base = base_dir();
        DIR *d;
        struct dirent *de;

        if (!bases[0])
                bases[0] = bases[1] ? strdup(bases[1]) : NULL;
        each_cgroup_mount(sweep_cg_fn, bases);
        free(bases[0]);
        free(bases[1]);
        d = base ? opendir(base) : NULL;
        while (d && (de = readdir(d))) {
                if (de->d_type == DT_DIR && stale_name(de->d_name, "check_systemd-")) {
                        char *p = xasprintf("%s/%s", base, de->d_name);
                        fprintf(stderr, "removing %s, left by a run that was killed\n", p);
                        h_rmrf(p);
                        free(p);
                }
        }
        if (d)
                closedir(d);
        free(base);
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
                sweep_stale();
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
