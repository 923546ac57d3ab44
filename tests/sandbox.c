/* sandbox.c - the distribution's systemd in a private namespace for tests:
 * see sandbox.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

#include "harness.h"
#include "sandbox.h"

#define CG_PREFIX "graced-"

static const char *const masked[] = {
        "systemd-tmpfiles-setup.service", "systemd-tmpfiles-clean.timer", "systemd-sysusers.service",
        "systemd-random-seed.service", "systemd-machine-id-commit.service", "ldconfig.service",
        "systemd-update-utmp.service", "systemd-logind.service", "cron.service", "dbus.service", "dbus.socket",
        "getty.target", "console-getty.service", "systemd-firstboot.service",
};

/* What the sandbox covers with a tmpfs: nothing of the test may live there. */
static const char *const covered[] = { "/run", "/tmp", "/var/tmp", "/var/log", "/var/lib/systemd", "/var/cache",
                                       "/etc/systemd/system" };

char *sb_asprintf(const char *fmt, ...)
{
        va_list ap;
        char *s;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                abort();
        va_end(ap);
        return s;
}

char *sb_find_exe(const char *name)
{
        const char *path = getenv("PATH");
        char *dirs = sb_asprintf("%s:/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin", path ? path : "");
        char *save = NULL, *found = NULL;

        if (strchr(name, '/')) {
                free(dirs);
                return access(name, X_OK) == 0 ? strdup(name) : NULL;
        }
        for (char *d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
                char *p = sb_asprintf("%s/%s", *d ? d : ".", name);

                if (access(p, X_OK) == 0)
                        found = p;
                else
                        free(p);
        }
        free(dirs);
        return found;
}

void sb_trim(char *s)
{
        size_t n = s ? strlen(s) : 0;

        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
                s[--n] = '\0';
}

char *sb_base_dir(void)
{
        const char *base = getenv("GRACED_TEST_TMP");
        char cwd[PATH_MAX], real[PATH_MAX];

        if (!base || !*base)
                base = getcwd(cwd, sizeof cwd);
        return base && realpath(base, real) ? strdup(real) : NULL;
}

const char *sb_hidden(const char *path)
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

const char *sb_prereq(struct sb *sb)
{
        static char why[512];
        static const char *const tools[] = { "unshare", "nsenter", "systemctl", "journalctl" };
        char *out = NULL, *base;
        const char *c;
        int st;

        if (geteuid() != 0)
                return "not root (booting systemd in a namespace needs root)";
        base = sb_base_dir();
        if (!base)
                return "no directory for the sandbox's files ($GRACED_TEST_TMP or the current directory)";
        if ((c = sb_hidden(base))) {
                snprintf(why, sizeof why,
                         "%s is under %s, a fresh tmpfs inside the sandbox: set GRACED_TEST_TMP to a directory elsewhere",
                         base, c);
                free(base);
                return why;
        }
        free(base);
        for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
                char *p = sb_find_exe(tools[i]);
                if (!p) {
                        snprintf(why, sizeof why, "%s is not installed", tools[i]);
                        return why;
                }
                free(p);
        }
        free(sb->systemd);
        sb->systemd = sb_find_exe("/lib/systemd/systemd");
        if (!sb->systemd)
                sb->systemd = sb_find_exe("/usr/lib/systemd/systemd");
        if (!sb->systemd)
                return "systemd (/lib/systemd/systemd) is not installed";
        {
                struct stat mid;
                if (stat("/etc/machine-id", &mid) < 0 || mid.st_size == 0)
                        return "no /etc/machine-id: the sandboxed systemd would write one on the host";
        }
        st = h_run((const char *const[]){ "unshare", "--pid", "--fork", "--mount", "--mount-proc", "--uts", "--net", "true",
                                          NULL },
                   NULL, SB_T, &out);
        if (h_exit_code(st) != 0) {
                sb_trim(out);
                snprintf(why, sizeof why, "cannot create PID and mount namespaces (unshare: %s)", out ? out : "?");
                free(out);
                return why;
        }
        free(out);
        out = NULL;
        st = h_run((const char *const[]){ "unshare", "--help", NULL }, NULL, SB_T, &out);
        sb->kill_child = h_exit_code(st) == 0 && out && strstr(out, "--kill-child");
        free(out);
        return NULL;
}

void sb_fail(struct sb *sb, const char *fmt, ...)
{
        char why[sizeof sb->why];
        va_list ap;

        /* format into a buffer of its own: callers may pass sb->why itself */
        va_start(ap, fmt);
        vsnprintf(why, sizeof why, fmt, ap);
        va_end(ap);
        memcpy(sb->why, why, sizeof sb->why);
        fprintf(stderr, "boot failed: %s\n", sb->why);
        if (sb->console)
                h_dump_file(sb->console, 60);
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

static bool make_cgroups(struct sb *sb)
{
        struct cg_find f = { 0 };
        char *base_sd = self_cgroup("name=systemd"), *base_v2 = self_cgroup("");
        int n = 0;

        each_cgroup_mount(cg_find_fn, &f);
        if (f.systemd_mnt && base_sd)
                sb->cg_dirs[n++] = sb_asprintf("%s%s/%s", f.systemd_mnt, base_sd, sb->cg_name);
        if (f.v2_mnt && base_v2)
                sb->cg_dirs[n++] = sb_asprintf("%s%s/%s", f.v2_mnt, base_v2, sb->cg_name);
        free(f.systemd_mnt);
        free(f.v2_mnt);
        free(base_sd);
        free(base_v2);
        if (n == 0) {
                snprintf(sb->why, sizeof sb->why, "no cgroup file system found");
                return false;
        }
        for (int i = 0; i < n; i++) {
                if (mkdir(sb->cg_dirs[i], 0755) < 0) {
                        snprintf(sb->why, sizeof sb->why, "cannot create cgroup %s: %s", sb->cg_dirs[i], strerror(errno));
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
        char *dir = sb_asprintf("%s%s", mnt, v2 ? c->rel_v2 : c->rel);
        struct stat st;

        (void)opts;
        if (stat(dir, &st) == 0) {
                (void)nftw(dir, rmdir_fn, 16, FTW_DEPTH | FTW_PHYS);
                if (stat(dir, &st) == 0)
                        c->left = true;
        }
        free(dir);
}

/* Removes the sandbox's cgroups in every hierarchy (systemd also made them
 * in the v1 controllers' hierarchies, at its own root path). Only empty
 * cgroups can be removed: processes are never affected. */
static void remove_cgroups(struct sb *sb)
{
        char *base_sd = self_cgroup("name=systemd"), *base_v2 = self_cgroup("");
        char *rel = sb_asprintf("%s/%s", base_sd ? base_sd : base_v2 ? base_v2 : "", sb->cg_name);
        char *rel_v2 = sb_asprintf("%s/%s", base_v2 ? base_v2 : "", sb->cg_name);
        struct cg_clean c = { rel, rel_v2, false };
        long long start = h_now_ns();

        do {
                c.left = false;
                each_cgroup_mount(cg_clean_fn, &c);
                if (c.left)
                        h_sleep_ms(50); /* the last processes are still leaving */
        } while (c.left && h_ms_since(start) < SB_T);
        if (c.left)
                fprintf(stderr, "warning: could not remove every cgroup named %s\n", sb->cg_name);
        free(rel);
        free(rel_v2);
        free(base_sd);
        free(base_v2);
}

bool sb_prepare(struct sb *sb, const char *prefix)
{
        char *base = sb_base_dir(), *tmpl, *units;

        memset(sb->why, 0, sizeof sb->why);
        sb->booted = false;
        sb->prefix = prefix;
        tmpl = sb_asprintf("%s/%s-%d.XXXXXX", base ? base : ".", prefix, (int)getpid());
        free(base);
        if (!mkdtemp(tmpl) || chmod(tmpl, 0755) < 0) {
                sb_fail(sb, "mkdtemp %s: %s", tmpl, strerror(errno));
                free(tmpl);
                return false;
        }
        sb->dir = tmpl;
        sb->console = h_path(sb->dir, "console.log");
        units = h_path(sb->dir, "units");
        if (mkdir(units, 0755) < 0) {
                sb_fail(sb, "mkdir %s: %s", units, strerror(errno));
                free(units);
                return false;
        }
        free(units);
        sb->cg_name = sb_asprintf("%s%s-%d-%s", CG_PREFIX, prefix, (int)getpid(), strrchr(sb->dir, '.') + 1);
        if (!make_cgroups(sb)) {
                sb_fail(sb, "%s", sb->why);
                return false;
        }
        return true;
}

static bool write_script(struct sb *sb, const char *target, const char *pre_mounts)
{
        char buf[PATH_MAX], *units = h_path(sb->dir, "units"), *s;
        size_t cap = 16384, len = 0;
        char *sc;
        ssize_t n;
        bool ok = false;

        n = readlink("/proc/self/ns/mnt", buf, sizeof buf - 1);
        if (n <= 0) {
                free(units);
                return false;
        }
        buf[n] = '\0';
        sc = malloc(cap);
        if (!sc)
                abort();
        len += (size_t)snprintf(sc + len, cap - len,
                                "#!/bin/sh\n"
                                "# %s: turns a fresh PID + mount namespace into a systemd sandbox.\n"
                                "# Never run it anywhere else.\n"
                                "set -e\n"
                                "[ \"$$\" = 1 ] || { echo 'setup: not PID 1 of a new PID namespace: refusing'; exit 1; }\n"
                                "[ \"$(readlink /proc/self/ns/mnt)\" != '%s' ] || { echo 'setup: in the host mount namespace: refusing'; exit 1; }\n"
                                "mount --make-rprivate /\n"
                                "%s"
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
                                sb->prefix, buf, pre_mounts ? pre_mounts : "", units);
        for (size_t i = 0; i < sizeof masked / sizeof masked[0]; i++)
                len += (size_t)snprintf(sc + len, cap - len, " %s", masked[i]);
        len += (size_t)snprintf(sc + len, cap - len,
                                "; do\n  ln -sf /dev/null \"/etc/systemd/system/$u\"\ndone\n"
                                "# a cgroup subtree of its own: no clash with another sandbox\n");
        for (int i = 0; i < 2; i++)
                if (sb->cg_dirs[i])
                        len += (size_t)snprintf(sc + len, cap - len, "echo 0 > '%s/cgroup.procs'\n", sb->cg_dirs[i]);
        len += (size_t)snprintf(sc + len, cap - len,
                                "exec env container=other %s --system --unit=%s --log-target=console --log-level=notice\n",
                                sb->systemd, target);
        if (len < cap) {
                s = h_write_file(sb->dir, "setup.sh", "%s", sc);
                ok = s && chmod(s, 0755) == 0;
                free(s);
        }
        free(sc);
        free(units);
        return ok;
}

/* setsid unshare --pid --fork --mount --mount-proc --uts --net SCRIPT,
 * stdin /dev/null, output to the console log, dying with us. */
static pid_t spawn_sandbox(struct sb *sb)
{
        char *script = h_path(sb->dir, "setup.sh");
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
        if (sb->kill_child)
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
                in = open("/dev/null", O_RDONLY | O_CLOEXEC);
                out = open(sb->console, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
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

static bool unshare_exited(struct sb *sb)
{
        int st;

        if (sb->unshare <= 0)
                return true;
        if (waitpid(sb->unshare, &st, WNOHANG) == sb->unshare) {
                if (!sb->tearing_down)
                        fprintf(stderr, "unshare exited early: status 0x%x\n", (unsigned)st);
                sb->unshare = 0;
                return true;
        }
        return false;
}

/* systemd inside: the child of unshare once it exec'd systemd. */
static pid_t find_systemd(struct sb *sb, int timeout_ms)
{
        long long start = h_now_ns();

        while (h_ms_since(start) < timeout_ms && !unshare_exited(sb)) {
                char *p = sb_asprintf("/proc/%d/task/%d/children", (int)sb->unshare, (int)sb->unshare);
                char *kids = h_read_file(p);
                pid_t pid = kids ? (pid_t)atoi(kids) : 0;

                free(p);
                free(kids);
                if (pid > 0) {
                        char *cp = sb_asprintf("/proc/%d/comm", (int)pid);
                        char *comm = h_read_file(cp);

                        sb_trim(comm);
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

bool sb_boot(struct sb *sb, const char *target, const char *pre_mounts)
{
        long long start;
        char *state = NULL;

        if (!write_script(sb, target, pre_mounts)) {
                sb_fail(sb, "cannot write %s/setup.sh: %s", sb->dir, strerror(errno));
                return false;
        }
        start = h_now_ns();
        sb->unshare = spawn_sandbox(sb);
        if (sb->unshare < 0) {
                sb_fail(sb, "fork: %s", strerror(errno));
                return false;
        }
        sb->sd = find_systemd(sb, 10000);
        if (sb->sd <= 0) {
                sb_fail(sb, "systemd did not start in the namespace");
                return false;
        }
        for (;;) {
                free(state);
                state = NULL;
                (void)SB_RUN(sb, SB_T, &state, "systemctl", "is-system-running");
                if (state && (strcmp(state, "running") == 0 || strcmp(state, "degraded") == 0))
                        break;
                if (h_ms_since(start) > SB_T_BOOT || unshare_exited(sb)) {
                        sb_fail(sb, "systemd is not running after %lld ms: is-system-running says '%s'",
                                  h_ms_since(start), state ? state : "");
                        free(state);
                        return false;
                }
                h_sleep_ms(50);
        }
        fprintf(stderr, "sandboxed systemd (pid %d) is %s after %lld ms; files in %s\n", (int)sb->sd, state,
                h_ms_since(start), sb->dir);
        if (strcmp(state, "degraded") == 0) {
                char *out = NULL;
                (void)SB_RUN(sb, SB_T, &out, "systemctl", "--failed", "--no-pager");
                fprintf(stderr, "%s\n", out ? out : "");
                free(out);
        }
        free(state);
        sb->booted = true;
        return true;
}

void sb_teardown(struct sb *sb)
{
        sb->tearing_down = true;
        if (sb->sd > 0 && sb->unshare > 0 && h_pid_ppid(sb->sd) == sb->unshare) {
                /* the one kill: everything in the namespace dies with its PID 1 */
                (void)kill(sb->sd, SIGKILL);
        }
        if (sb->unshare > 0) {
                long long start = h_now_ns();

                while (!unshare_exited(sb) && h_ms_since(start) < SB_T)
                        h_sleep_ms(10);
                if (sb->unshare > 0) { /* still there: it is ours */
                        (void)kill(sb->unshare, SIGKILL);
                        (void)waitpid(sb->unshare, NULL, 0);
                        sb->unshare = 0;
                }
        }
        if (sb->sd > 0 && !h_wait_pid_reaped(sb->sd, SB_T))
                fprintf(stderr, "warning: the sandboxed systemd (pid %d) is still there\n", (int)sb->sd);
        sb->sd = 0;
        if (sb->cg_name)
                remove_cgroups(sb);
        if (sb->dir) {
                if (getenv("GRACED_KEEP_TEST"))
                        fprintf(stderr, "kept %s\n", sb->dir);
                else
                        h_rmrf(sb->dir);
        }
        for (int i = 0; i < 2; i++) {
                free(sb->cg_dirs[i]);
                sb->cg_dirs[i] = NULL;
        }
        free(sb->dir);
        free(sb->console);
        free(sb->cg_name);
        sb->dir = sb->console = sb->cg_name = NULL;
        sb->booted = false;
        sb->tearing_down = false;
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

struct sweep {
        char *bases[2];
        char *cg_prefix;
};

static void sweep_cg_fn(const char *mnt, bool v2, const char *opts, void *data)
{
        struct sweep *w = data;
        const char *base = v2 ? w->bases[1] : w->bases[0];
        char *dir = sb_asprintf("%s%s", mnt, base ? base : "");
        DIR *d = opendir(dir);
        struct dirent *de;

        (void)opts;
        while (d && (de = readdir(d))) {
                if (de->d_type == DT_DIR && stale_name(de->d_name, w->cg_prefix)) {
                        char *p = sb_asprintf("%s/%s", dir, de->d_name);
                        (void)nftw(p, rmdir_fn, 16, FTW_DEPTH | FTW_PHYS); /* empty cgroups only */
                        free(p);
                }
        }
        if (d)
                closedir(d);
        free(dir);
}

void sb_sweep_stale(const char *prefix)
{
        struct sweep w = { { self_cgroup("name=systemd"), self_cgroup("") }, sb_asprintf("%s%s-", CG_PREFIX, prefix) };
        char *base = sb_base_dir(), *dprefix = sb_asprintf("%s-", prefix);
        DIR *d;
        struct dirent *de;

        if (!w.bases[0])
                w.bases[0] = w.bases[1] ? strdup(w.bases[1]) : NULL;
        each_cgroup_mount(sweep_cg_fn, &w);
        free(w.bases[0]);
        free(w.bases[1]);
        free(w.cg_prefix);
        d = base ? opendir(base) : NULL;
        while (d && (de = readdir(d))) {
                if (de->d_type == DT_DIR && stale_name(de->d_name, dprefix)) {
                        char *p = sb_asprintf("%s/%s", base, de->d_name);
                        fprintf(stderr, "removing %s, left by a run that was killed\n", p);
                        h_rmrf(p);
                        free(p);
                }
        }
        if (d)
                closedir(d);
        free(dprefix);
        free(base);
}

int sb_run(struct sb *sb, int timeout_ms, char **out, const char *const *args)
{
        const char *argv[40];
        char pid[16];
        int n = 0, st;

        snprintf(pid, sizeof pid, "%d", (int)sb->sd);
        argv[n++] = "nsenter";
        argv[n++] = "-t";
        argv[n++] = pid;
        argv[n++] = "-m";
        argv[n++] = "-p";
        for (int i = 0; args[i] && n < 39; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        st = h_run(argv, NULL, timeout_ms, out);
        if (out)
                sb_trim(*out);
        return h_exit_code(st);
}

char *sb_prop(struct sb *sb, const char *unit, const char *name)
{
        char *out = NULL;

        (void)SB_RUN(sb, SB_T_SYSTEMCTL, &out, "systemctl", "show", "-p", name, "--value", unit);
        return out ? out : strdup("");
}

long long sb_prop_ll(struct sb *sb, const char *unit, const char *name)
{
        char *v = sb_prop(sb, unit, name);
        long long r = *v ? strtoll(v, NULL, 10) : -1;

        free(v);
        return r;
}

void sb_show_status(struct sb *sb, const char *unit, const char *when)
{
        char *out = NULL;

        (void)SB_RUN(sb, SB_T_SYSTEMCTL, &out, "systemctl", "status", "--no-pager", "-l", "--lines=15", unit);
        fprintf(stderr, "---- systemctl status %s (%s) ----\n%s\n---- end ----\n", unit, when, out ? out : "");
        free(out);
}

char *sb_host_state(void)
{
        static const char *const files[] = { "/proc/sys/kernel/hostname", "/proc/sys/net/unix/max_dgram_qlen",
                                             "/proc/sys/fs/file-max", "/proc/sys/fs/nr_open" };
        char *r = strdup("");

        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
                char *v = h_read_file(files[i]), *n;

                sb_trim(v);
                n = sb_asprintf("%s%s=%s\n", r, files[i], v ? v : "?");
                free(v);
                free(r);
                r = n;
        }
        return r;
}
