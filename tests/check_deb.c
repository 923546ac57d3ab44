/* check_deb.c - the Debian package: built, checked by lintian, installed and
 * run under the real systemd, without touching the machine.
 *
 * "build" (once per run, in an unchecked fixture): the distributed files
 * (`make distdir`, the contents of `make dist`'s tarball, debian/ included)
 * copied into a private directory, then `dpkg-buildpackage -us -uc -b` with
 * DEB_BUILD_OPTIONS="nocheck parallel=2":
 *   - the .deb holds the programs, the units, the man pages, the bash
 *     completion and the examples where they belong;
 *   - lintian on the .changes reports no error and no warning.
 * "install": systemd booted in a sandbox (sandbox.h: private PID + mount +
 * UTS + network namespaces, tmpfs over /run, /tmp, /var/tmp, /var/log,
 * /var/lib/systemd, /var/cache, /etc/systemd/system) where, before anything
 * else, /usr, /etc and /var are overlays whose upper layers live on a tmpfs
 * of the namespace: whatever dpkg writes there vanishes with it.
 *   - `dpkg -i`: installed, the units known to systemd, neither enabled nor
 *     started;
 *   - graced@example with the shipped examples/dev.conf as
 *     /etc/graced/example.conf: `systemctl start` returns once graced said
 *     READY=1 (Type=notify), gracectl reaches it in /run/graced/example;
 *   - `dpkg -i` again (an upgrade): the postinst re-executes graced in place
 *     (gracectl reexec): same main pid, same worker pids;
 *   - `systemctl stop`: Result=success, a clean report;
 *   - `dpkg --purge` with graced@quick running: the prerm stops it
 *     cleanly; the package's files are gone, the admin's stay.
 * "host": afterwards the machine has no graced package, no graced files,
 * the same /var/lib/dpkg/status, /tmp, hostname and sysctls as before.
 *
 * Skipped (exit 77, the reason on stdout) when not root, when
 * dpkg-buildpackage, dh, lintian, dpkg-deb or make is missing, in a
 * sanitizer build (the package is built from the same sources either way),
 * when graced is installed on the machine, without overlayfs, or when the
 * systemd sandbox cannot run here (see sb_prereq).
 *
 * Needs GRACED_TOP_BUILDDIR (the build tree `make distdir` runs in). The
 * files go in a directory under $GRACED_TEST_TMP, else the current
 * directory (the build directory, writable also under distcheck). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "harness.h"
#include "sandbox.h"

#define T_BUILD 900000 /* ms: the package build on a busy 2-CPU machine */
#define T_LINTIAN 240000
#define T_DPKG 90000
#define UNIT "graced@example.service"
#define SOCK "/run/graced/example/control.sock"
#define PATHS "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static struct {
        char *dir;         /* the private build directory */
        char *deb;         /* dir/graced_VERSION_ARCH.deb */
        char *changes;     /* dir/graced_VERSION_ARCH.changes */
        char why[1024];    /* why the build failed */
        long long build_ms;
        struct sb sb;
        char *host_dpkg;   /* /var/lib/dpkg/status before */
        char *host_state;  /* hostname and sysctls before */
        char *canary;      /* a file in the host's /tmp */
} D;

/* What of the package could be on the host: none of it may be there. */
static const char *const pkg_paths[] = { "/usr/sbin/graced", "/usr/bin/gracectl", "/lib/systemd/system/graced.service",
                                         "/lib/systemd/system/graced@.service", "/usr/share/doc/graced",
                                         "/usr/share/bash-completion/completions/gracectl", "/etc/graced",
                                         "/usr/share/man/man8/graced.8.gz" };

/* ---- the build ------------------------------------------------------------------ */

static void build_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void build_fail(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(D.why, sizeof D.why, fmt, ap);
        va_end(ap);
        fprintf(stderr, "build failed: %s\n", D.why);
}

/* The one file in dir whose name starts with prefix and ends with suffix
 * (malloc'd path), or NULL. */
static char *find_file(const char *dir, const char *prefix, const char *suffix)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        char *found = NULL;
        size_t pl = strlen(prefix), sl = strlen(suffix);

        while (d && (de = readdir(d))) {
                size_t l = strlen(de->d_name);
                if (l > pl + sl && strncmp(de->d_name, prefix, pl) == 0 && strcmp(de->d_name + l - sl, suffix) == 0 &&
                    !found)
                        found = h_path(dir, de->d_name);
        }
        if (d)
                closedir(d);
        return found;
}

/* The environment of make and dpkg-buildpackage: not the one `make check`
 * gave us (its jobserver, MAKEFLAGS, the build's CFLAGS). */
static const char *const build_env[] = { "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "CFLAGS", "CPPFLAGS",
                                         "LDFLAGS", "CC", "DEB_BUILD_PROFILES", "LANG=C.UTF-8", "LC_ALL",
                                         "DEB_BUILD_OPTIONS=nocheck parallel=2", NULL };

static void build_setup(void)
{
        const char *top = h_env_path("GRACED_TOP_BUILDDIR");
        char *base = sb_base_dir(), *src, *log, *out = NULL, *dd, *tdd;
        long long start;
        int st;

        D.dir = sb_asprintf("%s/check_deb-%d.XXXXXX", base ? base : ".", (int)getpid());
        free(base);
        if (!mkdtemp(D.dir) || chmod(D.dir, 0755) < 0) {
                build_fail("mkdtemp %s: %s", D.dir, strerror(errno));
                free(D.dir);
                D.dir = NULL;
                return;
        }
        /* the files of `make dist`'s tarball, without the tarball */
        src = h_path(D.dir, "graced");
        dd = sb_asprintf("distdir=%s", src);
        tdd = sb_asprintf("top_distdir=%s", src);
        start = h_now_ns();
        st = h_run((const char *const[]){ "make", "-s", "-C", top, "distdir", dd, tdd, NULL }, build_env, T_BUILD, &out);
        free(dd);
        free(tdd);
        if (h_exit_code(st) != 0) {
                build_fail("make distdir in %s: exit %d: %s", top, h_exit_code(st), out ? out : "");
                free(out);
                free(src);
                return;
        }
        free(out);
        out = NULL;
        fprintf(stderr, "make distdir: %lld ms\n", h_ms_since(start));

        /* dpkg-buildpackage in it: the .deb and the .changes land in D.dir */
        log = h_path(D.dir, "build.log");
        start = h_now_ns();
        {
                char *cmd = sb_asprintf("cd '%s' && exec dpkg-buildpackage -us -uc -b >'%s' 2>&1", src, log);
                st = h_run((const char *const[]){ "/bin/sh", "-c", cmd, NULL }, build_env, T_BUILD, NULL);
                free(cmd);
        }
        D.build_ms = h_ms_since(start);
        fprintf(stderr, "dpkg-buildpackage -us -uc -b (DEB_BUILD_OPTIONS=\"nocheck parallel=2\"): exit %d after %lld ms\n",
                h_exit_code(st), D.build_ms);
        if (h_exit_code(st) != 0) {
                h_dump_file(log, 60);
                build_fail("dpkg-buildpackage: exit %d (log above: %s)", h_exit_code(st), log);
        } else {
                D.deb = find_file(D.dir, "graced_", ".deb");
                D.changes = find_file(D.dir, "graced_", ".changes");
                if (!D.deb || !D.changes)
                        build_fail("dpkg-buildpackage left no graced_*.deb or graced_*.changes in %s", D.dir);
        }
        free(log);
        free(src);
}

static void need_build(void)
{
        ck_assert_msg(D.deb && D.changes, "the package was not built: %s", D.why);
}

/* The .deb holds what make install puts in place, where Debian wants it. */
START_TEST(test_deb_contents)
{
        static const char *const want[] = {
                "./usr/sbin/graced",
                "./usr/bin/gracectl",
                "./lib/systemd/system/graced.service",
                "./lib/systemd/system/graced@.service",
                "./usr/share/man/man8/graced.8.gz",
                "./usr/share/man/man1/gracectl.1.gz",
                "./usr/share/man/man5/graced.conf.5.gz",
                "./usr/share/bash-completion/completions/gracectl",
                "./usr/share/doc/graced/copyright",
                "./usr/share/doc/graced/examples/graced.conf",
                "./usr/share/doc/graced/examples/dev.conf",
                "./usr/share/doc/graced/examples/ci.conf",
                "./usr/share/doc/graced/examples/pod.conf",
                "./usr/share/doc/graced/examples/kubernetes.yaml",
                "./etc/graced/",
        };
        char *out = NULL;
        int st;

        need_build();
        fprintf(stderr, "dpkg-buildpackage took %lld ms\n", D.build_ms);
        st = h_run((const char *const[]){ "dpkg-deb", "-c", D.deb, NULL }, NULL, T_DPKG, &out);
        ck_assert_msg(h_exit_code(st) == 0, "dpkg-deb -c %s: %s", D.deb, out ? out : "");
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
                char *needle = sb_asprintf(" %s\n", want[i]);
                ck_assert_msg(strstr(out, needle), "%s is not in the package:\n%s", want[i], out);
                free(needle);
        }
        /* the live configuration is the admin's: none is shipped */
        ck_assert_msg(!strstr(out, "./etc/graced/graced.conf"), "the package ships /etc/graced/graced.conf");
        free(out);
        /* the libraries graced loads with dlopen(): named, since nothing links them */
        out = NULL;
        st = h_run((const char *const[]){ "dpkg-deb", "-f", D.deb, "Depends", NULL }, NULL, T_DPKG, &out);
        ck_assert_msg(h_exit_code(st) == 0 && out && strstr(out, "libcurl4 (>= 7.64)") &&
                              strstr(out, "libmicrohttpd12 (>= 0.9.75)") && strstr(out, "libconfig9"),
                      "Depends: %s", out ? out : "");
        free(out);
}
END_TEST

/* lintian: no E: and no W: line (I: and N: are shown, not counted). */
START_TEST(test_lintian)
{
        char *out = NULL, *save = NULL;
        long long start = h_now_ns();
        int st, bad = 0;

        need_build();
        st = h_run((const char *const[]){ "lintian", "--info", "--display-info", D.changes, NULL }, NULL, T_LINTIAN, &out);
        fprintf(stderr, "lintian --info --display-info %s: exit %d after %lld ms\n%s\n", D.changes, h_exit_code(st),
                h_ms_since(start), out ? out : "");
        ck_assert_msg(h_exit_code(st) >= 0, "lintian did not finish");
        for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                if (strncmp(l, "E: ", 3) == 0 || strncmp(l, "W: ", 3) == 0)
                        bad++;
        ck_assert_msg(bad == 0, "lintian: %d error or warning lines (above)", bad);
        ck_assert_msg(h_exit_code(st) == 0, "lintian exit %d", h_exit_code(st));
        free(out);
}
END_TEST

/* ---- installed in the sandbox ------------------------------------------------------- */

/* Each of /usr, /etc and /var an overlay with its upper layer on a tmpfs of
 * the namespace, mounted before anything else. */
static char *overlay_lines(void)
{
        return sb_asprintf("# the package is installed here: /usr, /etc and /var become overlays whose\n"
                           "# upper layers live on a tmpfs of this namespace (gone with it)\n"
                           "ovl='%s/ovl'\n"
                           "mkdir -p \"$ovl\"\n"
                           "mount -t tmpfs -o mode=0755 tmpfs \"$ovl\"\n"
                           "for d in usr etc var; do\n"
                           "  mkdir \"$ovl/$d\" \"$ovl/$d.work\"\n"
                           "  mount -t overlay overlay -o \"lowerdir=/$d,upperdir=$ovl/$d,workdir=$ovl/$d.work\" \"/$d\"\n"
                           "done\n"
                           "# no man-db index update at each dpkg run (seconds each; the man pages are\n"
                           "# checked in the .deb)\n"
                           "rm -f /var/lib/man-db/auto-update\n"
                           "# a machine where maintainer scripts may start and stop services (container\n"
                           "# images often forbid it with a policy-rc.d that says 101)\n"
                           "rm -f /usr/sbin/policy-rc.d\n",
                           D.sb.dir);
}

static void sandbox_setup(void)
{
        char *units, *s, *pre;

        if (!D.deb) {
                snprintf(D.sb.why, sizeof D.sb.why, "no package: %.900s", D.why);
                return;
        }
        if (!sb_prepare(&D.sb, "check_deb"))
                return;
        units = h_path(D.sb.dir, "units");
        s = h_path(units, "graced@.service.d"); /* every instance */
        if (mkdir(s, 0755) < 0 ||
            !h_write_file(s, "sandbox.conf", "# the sandbox has no sysinit.target to order after\n"
                                             "[Unit]\nDefaultDependencies=no\n") ||
            !h_write_file(units, "graced-deb.target",
                          "[Unit]\nDescription=graced package test sandbox\nDefaultDependencies=no\n"
                          "Wants=systemd-journald.socket\n")) {
                snprintf(D.sb.why, sizeof D.sb.why, "cannot write the units in %s: %s", units, strerror(errno));
                free(s);
                free(units);
                return;
        }
        free(s);
        free(units);
        pre = overlay_lines();
        (void)sb_boot(&D.sb, "graced-deb.target", pre);
        free(pre);
}

static void sandbox_teardown(void)
{
        sb_teardown(&D.sb);
        h_runner_sweep();
}

static void need_boot(void)
{
        ck_assert_msg(D.sb.booted, "the sandboxed systemd did not come up: %s", D.sb.why);
}

#define NS(timeout, out, ...) SB_RUN(&D.sb, (timeout), (out), __VA_ARGS__)

static void assert_prop(const char *unit, const char *name, const char *want)
{
        char *v = sb_prop(&D.sb, unit, name);

        ck_assert_msg(strcmp(v, want) == 0, "%s: %s=%s, wanted %s", unit, name, v, want);
        free(v);
}

/* dpkg inside the sandbox: exit code, output on stderr. */
static int ns_dpkg(const char *op, const char *arg)
{
        char *out = NULL;
        long long start = h_now_ns();
        int code = NS(T_DPKG, &out, "env", PATHS, "DEBIAN_FRONTEND=noninteractive", "dpkg", op, arg);

        fprintf(stderr, "---- dpkg %s %s: exit %d after %lld ms ----\n%s\n---- end ----\n", op, arg, code,
                h_ms_since(start), out ? out : "");
        free(out);
        return code;
}

/* gracectl status -j inside: the workers' pids as "name=pid ..." (malloc'd). */
static char *worker_pids(void)
{
        char *out = NULL, *r = strdup("");
        struct json_object *j, *a;
        int code = NS(SB_T_SYSTEMCTL, &out, "gracectl", "-s", SOCK, "-j", "status");

        ck_assert_msg(code == 0, "gracectl status: exit %d: %s", code, out ? out : "");
        j = json_tokener_parse(out);
        a = h_json_get(j, "workers");
        ck_assert_msg(a && json_object_is_type(a, json_type_array), "gracectl -j status: %s", out);
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                struct json_object *w = json_object_array_get_idx(a, i);
                long long pid = h_json_int(w, "pid");
                char *n = sb_asprintf("%s%s=%lld ", r, h_json_str(w, "name"), pid == H_JSON_NONE ? 0 : pid);

                free(r);
                r = n;
        }
        json_object_put(j);
        free(out);
        return r;
}

/* dpkg -i: installed, the units loaded, neither enabled nor started. */
START_TEST(test_install)
{
        char *out = NULL;

        need_boot();
        ck_assert_int_eq(ns_dpkg("-i", D.deb), 0);
        ck_assert_int_eq(NS(SB_T, &out, "dpkg-query", "-W", "-f", "${Status} ${Version}", "graced"), 0);
        ck_assert_msg(strncmp(out, "install ok installed ", 21) == 0, "dpkg-query: %s", out);
        free(out);
        out = NULL;
        ck_assert_int_eq(NS(SB_T, NULL, "test", "-x", "/usr/sbin/graced"), 0);
        ck_assert_int_eq(NS(SB_T, NULL, "test", "-d", "/etc/graced"), 0);
        /* the postinst's daemon-reload: systemd knows the units */
        assert_prop("graced.service", "LoadState", "loaded");
        assert_prop("graced.service", "FragmentPath", "/lib/systemd/system/graced.service");
        assert_prop("graced.service", "UnitFileState", "disabled");
        assert_prop("graced.service", "ActiveState", "inactive");
        assert_prop(UNIT, "LoadState", "loaded");
        assert_prop(UNIT, "FragmentPath", "/lib/systemd/system/graced@.service");
        assert_prop(UNIT, "ActiveState", "inactive");
        (void)NS(SB_T_SYSTEMCTL, &out, "systemctl", "is-enabled", "graced.service");
        ck_assert_str_eq(out, "disabled");
        free(out);
}
END_TEST

/* graced@example on the shipped dev.conf: active once graced sent READY=1. */
START_TEST(test_start_instance)
{
        char *out = NULL, *v;
        long long start;

        need_boot();
        ck_assert_int_eq(NS(SB_T, NULL, "cp", "/usr/share/doc/graced/examples/dev.conf", "/etc/graced/example.conf"), 0);
        start = h_now_ns();
        ck_assert_int_eq(NS(SB_T_SYSTEMCTL, NULL, "systemctl", "start", UNIT), 0);
        fprintf(stderr, "systemctl start %s: %lld ms\n", UNIT, h_ms_since(start));
        sb_show_status(&D.sb, UNIT, "started");
        assert_prop(UNIT, "ActiveState", "active");
        assert_prop(UNIT, "SubState", "running");
        assert_prop(UNIT, "Type", "notify");
        assert_prop(UNIT, "RuntimeDirectory", "graced/example");
        v = sb_prop(&D.sb, UNIT, "ExecStart");
        ck_assert_msg(strstr(v, "path=/usr/sbin/graced") && strstr(v, "-c /etc/graced/example.conf"), "ExecStart: %s", v);
        free(v);
        v = sb_prop(&D.sb, UNIT, "StatusText"); /* graced's STATUS= */
        ck_assert_msg(strncmp(v, "running: ", 9) == 0, "StatusText=%s", v);
        free(v);
        ck_assert_int_gt(sb_prop_ll(&D.sb, UNIT, "MainPID"), 1);
        /* the packaged gracectl reaches it in its RuntimeDirectory */
        ck_assert_int_eq(NS(SB_T_SYSTEMCTL, &out, "gracectl", "-s", SOCK, "status"), 0);
        fprintf(stderr, "gracectl status:\n%s\n", out);
        for (const char *const *w = (const char *const[]){ "db", "migrate", "cache", "web", "jobs", NULL }; *w; w++)
                ck_assert_msg(strstr(out, *w), "gracectl status lacks %s:\n%s", *w, out);
        free(out);
}
END_TEST

/* dpkg -i over the installed package (an upgrade): the postinst's gracectl
 * reexec keeps graced's pid and every worker. */
START_TEST(test_upgrade_reexec)
{
        long long pid;
        char *before, *after, *out = NULL;

        need_boot();
        assert_prop(UNIT, "ActiveState", "active");
        pid = sb_prop_ll(&D.sb, UNIT, "MainPID");
        before = worker_pids();
        ck_assert_int_eq(ns_dpkg("-i", D.deb), 0);
        assert_prop(UNIT, "ActiveState", "active");
        ck_assert_int_eq(sb_prop_ll(&D.sb, UNIT, "MainPID"), pid);
        ck_assert_int_eq(sb_prop_ll(&D.sb, UNIT, "NRestarts"), 0);
        after = worker_pids();
        ck_assert_msg(strcmp(before, after) == 0, "the workers changed across the upgrade: %s -> %s", before, after);
        /* it did re-execute: the journal of graced says so */
        (void)NS(SB_T_SYSTEMCTL, &out, "journalctl", "--no-pager", "-o", "cat", "-u", UNIT);
        ck_assert_msg(out && strstr(out, "re-execut"), "no re-execution in the journal:\n%s", out ? out : "");
        free(out);
        free(before);
        free(after);
}
END_TEST

/* systemctl stop: the ordered shutdown, Result=success, a clean report. */
START_TEST(test_stop)
{
        char *out = NULL;
        struct json_object *r;
        long long start;

        need_boot();
        start = h_now_ns();
        ck_assert_int_eq(NS(SB_T_SYSTEMCTL, NULL, "systemctl", "stop", UNIT), 0);
        fprintf(stderr, "systemctl stop %s: %lld ms\n", UNIT, h_ms_since(start));
        sb_show_status(&D.sb, UNIT, "stopped");
        assert_prop(UNIT, "ActiveState", "inactive");
        assert_prop(UNIT, "Result", "success");
        assert_prop(UNIT, "ExecMainStatus", "0");
        ck_assert_int_eq(NS(SB_T, &out, "cat", "/tmp/graced-dev-report.json"), 0);
        r = json_tokener_parse(out);
        ck_assert_msg(r != NULL, "report: %s", out);
        ck_assert_int_eq(h_json_bool(r, "clean"), 1);
        ck_assert_str_eq(h_json_str(r, "reason"), "SIGTERM");
        ck_assert_int_lt(h_report_worker_pos(r, "web"), h_report_worker_pos(r, "db"));
        json_object_put(r);
        free(out);
        ck_assert_int_ne(NS(SB_T, NULL, "test", "-e", SOCK), 0);
}
END_TEST

/* dpkg --purge with graced@quick running: the prerm stops it (its ordered
 * shutdown), then the files and the package are gone. */
START_TEST(test_purge)
{
        const char *u = "graced@quick.service";
        char *out = NULL, *proc;
        long long pid;

        need_boot();
        ck_assert_int_eq(NS(SB_T, NULL, "sh", "-c",
                            "echo 'workers = ({ name = \"sleeper\"; command = [\"/bin/sleep\", \"1000\"]; });' "
                            "> /etc/graced/quick.conf"),
                         0);
        ck_assert_int_eq(NS(SB_T_SYSTEMCTL, NULL, "systemctl", "start", u), 0);
        assert_prop(u, "ActiveState", "active");
        pid = sb_prop_ll(&D.sb, u, "MainPID");
        ck_assert_int_gt(pid, 1);
        ck_assert_int_eq(ns_dpkg("--purge", "graced"), 0);
        proc = sb_asprintf("/proc/%lld", pid);
        ck_assert_msg(NS(SB_T, NULL, "test", "-e", proc) != 0, "graced (pid %lld) still runs after the purge", pid);
        free(proc);
        assert_prop(u, "ActiveState", "inactive");
        (void)NS(SB_T_SYSTEMCTL, &out, "journalctl", "--no-pager", "-o", "cat", "-u", u);
        ck_assert_msg(out && strstr(out, "shutdown clean"), "no clean shutdown of %s in the journal:\n%s", u,
                      out ? out : "");
        free(out);
        ck_assert_int_ne(NS(SB_T, NULL, "dpkg-query", "-W", "graced"), 0);
        ck_assert_int_ne(NS(SB_T, NULL, "test", "-e", "/usr/sbin/graced"), 0);
        ck_assert_int_ne(NS(SB_T, NULL, "test", "-e", "/lib/systemd/system/graced@.service"), 0);
        /* the admin's files are not the package's: they stay */
        ck_assert_int_eq(NS(SB_T, NULL, "test", "-e", "/etc/graced/example.conf"), 0);
}
END_TEST

/* ---- the host --------------------------------------------------------------------------- */

/* Why graced's files on the host would make the "host" checks meaningless:
 * a static string, or NULL. */
static const char *host_has_graced(void)
{
        static char why[256];
        struct stat st;
        char *out = NULL;
        int code = h_exit_code(h_run((const char *const[]){ "dpkg-query", "-W", "graced", NULL }, NULL, SB_T, &out));

        free(out);
        if (code == 0)
                return "graced is installed on this machine (dpkg-query -W graced): the test could not tell ours from it";
        for (size_t i = 0; i < sizeof pkg_paths / sizeof pkg_paths[0]; i++) {
                if (lstat(pkg_paths[i], &st) == 0) {
                        snprintf(why, sizeof why, "%s exists on this machine: the test could not tell ours from it",
                                 pkg_paths[i]);
                        return why;
                }
        }
        return NULL;
}

static void host_setup(void)
{
        int fd;

        D.host_dpkg = h_read_file("/var/lib/dpkg/status");
        D.host_state = sb_host_state();
        D.canary = strdup("/tmp/check_deb-canary.XXXXXX");
        fd = mkstemp(D.canary);
        if (fd < 0 || write(fd, "canary\n", 7) != 7) {
                free(D.canary);
                D.canary = NULL;
        }
        if (fd >= 0)
                close(fd);
}

/* After the sandbox is gone: nothing of the package on the machine. */
START_TEST(test_host_untouched)
{
        struct stat st;
        char *t, *out = NULL;

        ck_assert_int_ne(h_exit_code(h_run((const char *const[]){ "dpkg-query", "-W", "graced", NULL }, NULL, SB_T, &out)),
                         0);
        free(out);
        for (size_t i = 0; i < sizeof pkg_paths / sizeof pkg_paths[0]; i++)
                ck_assert_msg(lstat(pkg_paths[i], &st) < 0, "%s is on the host", pkg_paths[i]);
        t = h_read_file("/var/lib/dpkg/status");
        ck_assert_msg(D.host_dpkg && t && strcmp(t, D.host_dpkg) == 0, "the host's /var/lib/dpkg/status changed");
        free(t);
        t = sb_host_state();
        ck_assert_msg(strcmp(t, D.host_state) == 0, "the host changed:\nbefore:\n%safter:\n%s", D.host_state, t);
        free(t);
        if (D.canary) {
                t = h_read_file(D.canary);
                ck_assert_msg(t && strcmp(t, "canary\n") == 0, "%s is gone or changed: the sandbox touched the host's /tmp",
                              D.canary);
                free(t);
        }
}
END_TEST

static void host_teardown(void)
{
        if (D.canary)
                (void)unlink(D.canary);
        free(D.canary);
        free(D.host_dpkg);
        free(D.host_state);
        D.canary = D.host_dpkg = D.host_state = NULL;
        if (D.dir) {
                if (getenv("GRACED_KEEP_TEST"))
                        fprintf(stderr, "kept %s\n", D.dir);
                else
                        h_rmrf(D.dir);
        }
        free(D.dir);
        free(D.deb);
        free(D.changes);
        D.dir = D.deb = D.changes = NULL;
        h_runner_sweep();
}

/* ---- main ---------------------------------------------------------------------------------- */

/* Why the test cannot run here (static string), or NULL. */
static const char *prereq(void)
{
        static char why[512];
        static const char *const tools[][2] = {
                { "dpkg-buildpackage", "dpkg-dev" }, { "dh", "debhelper" }, { "lintian", "lintian" },
                { "dpkg-deb", "dpkg" },              { "make", "make" },
        };
        const char *san = getenv("GRACED_SANITIZED"), *r;
        char *fs;

        if (geteuid() != 0)
                return "not root (installing the package into the systemd sandbox needs root)";
        for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
                char *p = sb_find_exe(tools[i][0]);
                if (!p) {
                        snprintf(why, sizeof why, "%s is not installed (Debian package %s)", tools[i][0], tools[i][1]);
                        return why;
                }
                free(p);
        }
        if (san && *san)
                return "a sanitizer build (the package is built from the same sources, without sanitizers, in the "
                       "plain build's run)";
        if ((r = host_has_graced()))
                return r;
        fs = h_read_file("/proc/filesystems");
        if (!fs || !strstr(fs, "\toverlay\n")) {
                free(fs);
                return "no overlayfs (/proc/filesystems): dpkg -i in the sandbox would write to the host";
        }
        free(fs);
        return sb_prereq(&D.sb);
}

int main(void)
{
        SRunner *sr;
        Suite *s;
        TCase *tc;
        const char *why;
        int failed;

        (void)h_env_path("GRACED_TOP_BUILDDIR"); /* fail early and clearly when unset */
        setvbuf(stdout, NULL, _IOLBF, 0);
        if ((why = prereq())) {
                printf("SKIP: the Debian package: %s\n", why);
                return 77;
        }
        if (h_runner_init() < 0)
                return EXIT_FAILURE;
        sb_sweep_stale("check_deb");
        s = suite_create("deb");
        tc = tcase_create("build");
        tcase_add_unchecked_fixture(tc, build_setup, h_runner_sweep);
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, test_deb_contents);
        tcase_add_test(tc, test_lintian);
        suite_add_tcase(s, tc);
        tc = tcase_create("install");
        tcase_add_unchecked_fixture(tc, sandbox_setup, sandbox_teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_install);
        tcase_add_test(tc, test_start_instance);
        tcase_add_test(tc, test_upgrade_reexec);
        tcase_add_test(tc, test_stop);
        tcase_add_test(tc, test_purge);
        suite_add_tcase(s, tc);
        tc = tcase_create("host");
        tcase_add_unchecked_fixture(tc, NULL, host_teardown);
        tcase_add_test(tc, test_host_untouched);
        suite_add_tcase(s, tc);
        host_setup();
        sr = srunner_create(s);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        h_runner_done();
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
