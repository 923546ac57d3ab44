/* check_runc.c - graced as PID 1 of a container under a real OCI runtime
 * (runc).
 *
 * Once per run, in the runner: `make install DESTDIR=...` of the build tree
 * under test makes the base root filesystem; the shared libraries that the
 * installed graced and gracectl, /bin/sh and the test worker link (ldd, the
 * dynamic loader included) are copied in, and so is tests/helpers/testworker
 * (at TW below). A first container runs the installed `graced --version`:
 * when runc itself cannot run a container here (cgroups, namespaces, mounts),
 * the suite is skipped with runc's own error.
 *
 * Each test copies that root filesystem into a bundle of its own, writes a
 * graced.conf into it, makes config.json with `runc spec` and edits it with
 * json-c (process.args: graced in the foreground on that file with --report
 * into /marks; terminal false; a writable root; tmpfs on /tmp and /run;
 * /marks a bind mount of a directory of the test, where the workers leave
 * their stamps and hooks their marks, and graced its report, all readable
 * after the container is gone). `runc run` runs in the foreground as a
 * child of the test (output to graced.log), so its exit status is the
 * container's, i.e. graced's. The container id is unique per test; runc's
 * state lives under the base directory (--root), not in /run/runc.
 *
 * "pid1":
 *   - ordered: three workers (web after app after db), each with a pre_stop
 *     hook through /bin/sh and a post_stop hook; `runc exec` of the installed
 *     gracectl sees them running; `runc kill ID TERM`: the hooks' marks and
 *     the report are in reverse dependency order, every worker stopped,
 *     clean, and the container exits 0. graced's log says it is pid 1.
 *   - orphans: a worker double-forks a grandchild that outlives its parent
 *     (it is re-parented to graced, PID 1 of the container) and exits: it is
 *     reaped (it leaves the process table, seen from /proc of the host
 *     through NSpid), and the container still stops cleanly with 0.
 *   - not clean: a worker that ignores SIGTERM is SIGKILLed after its
 *     stop_timeout: outcome killed, clean false, the container exits 1.
 *   - exit_code_from: the worker named there ends by itself with 7: the
 *     ordered shutdown runs and the container exits 7.
 * Every case also checks that no sanitizer complained (the sanitizer build
 * puts an ASan graced into the container, with its runtime libraries).
 *
 * Skipped (exit 77, the reason on stdout) when not root, when runc is not
 * installed, or when runc cannot run a container on this machine.
 *
 * Needs GRACED_TESTWORKER, GRACED_TEST_BUILDDIR (the top build directory),
 * GRACED_INSTALL_SBINDIR and GRACED_INSTALL_BINDIR (the configured sbindir
 * and bindir); GRACED_MAKE (default "make") and RUNC (default: runc in
 * $PATH, /usr/sbin, /sbin) are optional. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "harness.h"

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define T 5000        /* ms: things that happen at once */
#define T_START 15000 /* ms: a container up and its workers running */

/* Where the test worker is in the container's root filesystem. */
#define TW "/usr/libexec/graced-tests/testworker"

/* Set up once in main(), read by the forked tests. */
static char *runc_bin;     /* the runc program */
static char *base_dir;     /* our own directory: rootfs/ and state/ */
static char *base_rootfs;  /* base_dir/rootfs: the installed tree + libraries */
static char *state_root;   /* base_dir/state: runc --root */
static char *graced_path;  /* the installed graced, inside the rootfs */
static char *gracectl_path; /* the installed gracectl, inside the rootfs */
static char *base_error;   /* why the base could not be made, or NULL */

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

/* mkdir -p, mode 0755. 0 or -1. */
static int mkdir_p(const char *path)
{
        char *p = strdup(path);

        if (!p)
                abort();
        for (char *s = p + 1;; s++) {
                if (*s != '/' && *s != '\0')
                        continue;
                char c = *s;

                *s = '\0';
                if (mkdir(p, 0755) < 0 && errno != EEXIST) {
                        fprintf(stderr, "check_runc: mkdir %s: %s\n", p, strerror(errno));
                        free(p);
                        return -1;
                }
                *s = c;
                if (c == '\0')
                        break;
        }
        free(p);
        return 0;
}

/* Copies the file src (symlinks followed) to dst, mode 0755, creating
 * dst's directory. 0 or -1 (with a message). */
static int copy_file(const char *src, const char *dst)
{
        char *dir = strdup(dst), buf[65536];
        int in = -1, out = -1, r = -1;
        ssize_t n;

        if (!dir)
                abort();
        if (mkdir_p(dirname(dir)) < 0)
                goto out;
        in = open(src, O_RDONLY | O_CLOEXEC);
        if (in < 0) {
                fprintf(stderr, "check_runc: open %s: %s\n", src, strerror(errno));
                goto out;
        }
        out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
        if (out < 0) {
                fprintf(stderr, "check_runc: create %s: %s\n", dst, strerror(errno));
                goto out;
        }
        while ((n = read(in, buf, sizeof(buf))) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        fprintf(stderr, "check_runc: read %s: %s\n", src, strerror(errno));
                        goto out;
                }
                for (ssize_t off = 0; off < n;) {
                        ssize_t w = write(out, buf + off, (size_t)(n - off));

                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w < 0) {
                                fprintf(stderr, "check_runc: write %s: %s\n", dst, strerror(errno));
                                goto out;
                        }
                        off += w;
                }
        }
        r = 0;
out:
        if (in >= 0)
                close(in);
        if (out >= 0 && close(out) < 0 && r == 0) {
                fprintf(stderr, "check_runc: close %s: %s\n", dst, strerror(errno));
                r = -1;
        }
        free(dir);
        return r;
}

/* The environment for make: the outer make's jobserver fds are not ours. */
static const char *const make_env[] = { "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", NULL };

/* Copies into the rootfs every library that `ldd bin` names, at the same
 * path (the dynamic loader too). 0, or -1 with *why set (malloc'd). */
static int copy_libs(const char *bin, const char *rootfs, char **why)
{
        char *out = NULL, *save = NULL;
        int st = h_run(ARGS("ldd", bin), NULL, 30000, &out), r = 0;

        if (st != 0 || !out) {
                *why = xasprintf("ldd %s failed (status %d): %s", bin, st, out ? out : "");
                free(out);
                return -1;
        }
        for (char *line = strtok_r(out, "\n", &save); line && r == 0; line = strtok_r(NULL, "\n", &save)) {
                char *arrow = strstr(line, "=> "), *lib, *end, *dst;

                if (strstr(line, "not found")) {
                        *why = xasprintf("ldd %s: %s", bin, line);
                        r = -1;
                        break;
                }
                lib = arrow ? arrow + 3 : line;
                while (isspace((unsigned char)*lib))
                        lib++;
                if (*lib != '/') /* linux-vdso.so.1, statically linked */
                        continue;
                end = lib + strcspn(lib, " \t");
                *end = '\0';
                dst = xasprintf("%s%s", rootfs, lib);
                if (access(dst, F_OK) != 0 && copy_file(lib, dst) < 0) {
                        *why = xasprintf("cannot copy %s into the root filesystem", lib);
                        r = -1;
                }
                free(dst);
        }
        free(out);
        return r;
}

/* The base root filesystem: the installed tree, the test worker, /bin/sh,
 * their libraries. NULL, or why not (malloc'd). */
static char *make_base(void)
{
        const char *builddir = h_env_path("GRACED_TEST_BUILDDIR");
        const char *sbindir = h_env_path("GRACED_INSTALL_SBINDIR");
        const char *bindir = h_env_path("GRACED_INSTALL_BINDIR");
        const char *make = getenv("GRACED_MAKE");
        const char *tmp = getenv("TMPDIR");
        char *destdir_arg, *out = NULL, *why = NULL, *p;
        int st;

        base_dir = xasprintf("%s/graced-runc.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(base_dir))
                return xasprintf("mkdtemp %s: %s", base_dir, strerror(errno));
        base_rootfs = h_path(base_dir, "rootfs");
        state_root = h_path(base_dir, "state");
        graced_path = xasprintf("%s/graced", sbindir);
        gracectl_path = xasprintf("%s/gracectl", bindir);

        /* the tree a user installs, as they install it */
        destdir_arg = xasprintf("DESTDIR=%s", base_rootfs);
        st = h_run(ARGS(make && *make ? make : "make", "-s", "-C", builddir, "install", destdir_arg), make_env,
                   120000, &out);
        free(destdir_arg);
        if (st != 0) {
                why = xasprintf("make install DESTDIR=%s failed (status %d): %s", base_rootfs, st, out ? out : "");
                free(out);
                return why;
        }
        free(out);
        p = xasprintf("%s%s", base_rootfs, graced_path);
        if (access(p, X_OK) != 0)
                why = xasprintf("make install did not install %s: %s", p, strerror(errno));
        free(p);
        if (why)
                return why;

        p = xasprintf("%s%s", base_rootfs, TW);
        if (copy_file(h_testworker(), p) < 0)
                why = xasprintf("cannot copy %s into the root filesystem", h_testworker());
        free(p);
        p = xasprintf("%s/bin/sh", base_rootfs);
        if (!why && copy_file("/bin/sh", p) < 0)
                why = xasprintf("cannot copy /bin/sh into the root filesystem");
        free(p);
        if (why)
                return why;
        const char *bins[] = { graced_path, gracectl_path, TW, "/bin/sh" };
        for (size_t i = 0; i < sizeof(bins) / sizeof(*bins); i++) {
                p = xasprintf("%s%s", base_rootfs, bins[i]);
                if (copy_libs(p, base_rootfs, &why) < 0) {
                        free(p);
                        return why;
                }
                free(p);
        }
        /* mount points, graced's configuration directory */
        const char *dirs[] = { "tmp", "run", "marks", "proc", "dev", "sys", "etc/graced" };
        for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++) {
                p = h_path(base_rootfs, dirs[i]);
                if (mkdir_p(p) < 0)
                        why = xasprintf("mkdir %s: %s", p, strerror(errno));
                free(p);
                if (why)
                        return why;
        }
        return NULL;
}

/* ---- the bundle ----------------------------------------------------------------- */

/* Appends a string to a json array. */
static void jarr_add(struct json_object *arr, const char *s) { json_object_array_add(arr, json_object_new_string(s)); }

static void add_mount(struct json_object *mounts, const char *dest, const char *type, const char *source,
                      const char *const *options)
{
        struct json_object *m = json_object_new_object(), *o = json_object_new_array();

        json_object_object_add(m, "destination", json_object_new_string(dest));
        json_object_object_add(m, "type", json_object_new_string(type));
        json_object_object_add(m, "source", json_object_new_string(source));
        for (; *options; options++)
                jarr_add(o, *options);
        json_object_object_add(m, "options", o);
        json_object_array_add(mounts, m);
}

/* Edits the config.json `runc spec` wrote: args, env, terminal, root,
 * mounts. 0 or -1. */
static int edit_spec(const char *path, const char *const *args, const char *marks)
{
        struct json_object *c = json_object_from_file(path), *proc, *root, *mounts, *a, *env;
        static const char *const passed_env[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", NULL };
        char *pathvar;
        int r;

        if (!c || !json_object_object_get_ex(c, "process", &proc) || !json_object_object_get_ex(c, "root", &root) ||
            !json_object_object_get_ex(c, "mounts", &mounts)) {
                fprintf(stderr, "check_runc: %s: not the spec runc writes: %s\n", path, json_util_get_last_err());
                json_object_put(c);
                return -1;
        }
        a = json_object_new_array();
        for (; *args; args++)
                jarr_add(a, *args);
        json_object_object_add(proc, "args", a);
        json_object_object_add(proc, "terminal", json_object_new_boolean(0));
        json_object_object_add(proc, "cwd", json_object_new_string("/"));
        env = json_object_new_array();
        pathvar = xasprintf("PATH=%s:%s:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                            h_env_path("GRACED_INSTALL_SBINDIR"), h_env_path("GRACED_INSTALL_BINDIR"));
        jarr_add(env, pathvar);
        free(pathvar);
        for (const char *const *v = passed_env; *v; v++) {
                const char *val = getenv(*v);

                if (val) {
                        char *kv = xasprintf("%s=%s", *v, val);

                        jarr_add(env, kv);
                        free(kv);
                }
        }
        json_object_object_add(proc, "env", env);
        json_object_object_add(root, "readonly", json_object_new_boolean(0));
        add_mount(mounts, "/tmp", "tmpfs", "tmpfs", ARGS("nosuid", "nodev", "mode=1777", "size=65536k"));
        add_mount(mounts, "/run", "tmpfs", "tmpfs", ARGS("nosuid", "nodev", "mode=755", "size=65536k"));
        add_mount(mounts, "/marks", "bind", marks, ARGS("rbind", "rw"));
        r = json_object_to_file_ext(path, c, JSON_C_TO_STRING_PRETTY);
        if (r < 0)
                fprintf(stderr, "check_runc: write %s: %s\n", path, json_util_get_last_err());
        json_object_put(c);
        return r < 0 ? -1 : 0;
}

struct ct {
        char *dir;    /* the test's temp dir */
        char *bundle; /* dir/bundle: config.json, rootfs/ */
        char *rootfs;
        char *marks;  /* dir/marks: /marks in the container */
        char *out;    /* dir/graced.log: runc's (so graced's) stdout and stderr */
        char *id;     /* the container id */
        pid_t runc;   /* `runc run`, while it runs */
        struct json_object *report;
};

/* "marks/name" in one of a few rotating buffers (valid for the next 3 calls). */
static const char *ct_mark(struct ct *c, const char *name)
{
        static char bufs[4][PATH_MAX];
        static unsigned next;
        char *b = bufs[next++ % 4];

        snprintf(b, PATH_MAX, "%s/%s", c->marks, name);
        return b;
}

/* A bundle whose graced runs on conf_text (its own `runc spec`). Returns 0,
 * or -1 with *why (malloc'd). */
static int ct_make(struct ct *c, const char *name, const char *conf_text, char **why)
{
        char *conf, *spec, *out = NULL;
        int st;

        memset(c, 0, sizeof(*c));
        *why = NULL;
        c->dir = h_tmpdir();
        if (!c->dir) {
                *why = xasprintf("no temp dir");
                return -1;
        }
        c->bundle = h_path(c->dir, "bundle");
        c->rootfs = h_path(c->bundle, "rootfs");
        c->marks = h_path(c->dir, "marks");
        c->out = h_path(c->dir, "graced.log");
        c->id = xasprintf("graced-test-%ld-%s", (long)getpid(), name);
        if (mkdir(c->bundle, 0755) < 0 || mkdir(c->marks, 0755) < 0) {
                *why = xasprintf("mkdir in %s: %s", c->dir, strerror(errno));
                return -1;
        }
        st = h_run(ARGS("cp", "-a", base_rootfs, c->rootfs), NULL, 30000, &out);
        if (st != 0) {
                *why = xasprintf("cp -a %s %s: status %d: %s", base_rootfs, c->rootfs, st, out ? out : "");
                free(out);
                return -1;
        }
        free(out);
        out = NULL;
        conf = xasprintf("%s/etc/graced/graced.conf", c->rootfs);
        if (!h_write_file(NULL, conf, "%s", conf_text)) {
                *why = xasprintf("cannot write %s", conf);
                free(conf);
                return -1;
        }
        free(conf);
        st = h_run(ARGS(runc_bin, "spec", "--bundle", c->bundle), NULL, T, &out);
        if (st != 0) {
                *why = xasprintf("runc spec: status %d: %s", st, out ? out : "");
                free(out);
                return -1;
        }
        free(out);
        spec = h_path(c->bundle, "config.json");
        st = edit_spec(spec,
                       ARGS(graced_path, "-c", "/etc/graced/graced.conf", "--log-format=text", "--color=never",
                            "--report", "/marks/report.json"),
                       c->marks);
        free(spec);
        if (st < 0) {
                *why = xasprintf("cannot edit the bundle's config.json");
                return -1;
        }
        return 0;
}

/* A bundle (ck_assert on failure). */
static void ct_init(struct ct *c, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void ct_init(struct ct *c, const char *name, const char *fmt, ...)
{
        char *text, *why = NULL;
        va_list ap;

        ck_assert_msg(base_error == NULL, "cannot test graced in a container: %s", base_error);
        va_start(ap, fmt);
        if (vasprintf(&text, fmt, ap) < 0)
                abort();
        va_end(ap);
        if (ct_make(c, name, text, &why) < 0)
                ck_abort_msg("bundle for %s: %s", name, why);
        free(text);
}

/* `runc run` in the foreground, a child of the test. */
static void ct_run(struct ct *c)
{
        c->runc = h_spawn(ARGS(runc_bin, "--root", state_root, "run", "--bundle", c->bundle, c->id), NULL, c->out);
        ck_assert_msg(c->runc > 0, "cannot start %s: %s", runc_bin, strerror(errno));
}

/* Waits for a file the container writes into /marks. */
static void ct_wait_mark(struct ct *c, const char *name, int timeout_ms)
{
        const char *p = ct_mark(c, name);
        bool ok = h_wait_file(p, timeout_ms);

        if (!ok) {
                fprintf(stderr, "check_runc: %s did not appear; the container's output:\n", p);
                h_dump_file(c->out, 40);
        }
        ck_assert_msg(ok, "the container did not write /marks/%s within %d ms", name, timeout_ms);
}

/* `runc kill ID SIG`. */
static void ct_kill(struct ct *c, const char *sig)
{
        char *out = NULL;
        int st = h_run(ARGS(runc_bin, "--root", state_root, "kill", c->id, sig), NULL, T, &out);

        ck_assert_msg(st == 0, "runc kill %s %s: status %d: %s", c->id, sig, st, out ? out : "");
        free(out);
}

/* Waits for `runc run` to end: the container's exit code (graced's). */
static int ct_exit_code(struct ct *c, int timeout_ms)
{
        int st = h_wait_child(c->runc, timeout_ms);

        c->runc = 0;
        if (st == -1)
                h_dump_file(c->out, 40);
        ck_assert_msg(st != -1, "the container did not end within %d ms", timeout_ms);
        return h_exit_code(st);
}

/* The report graced left in /marks. */
static struct json_object *ct_report(struct ct *c)
{
        json_object_put(c->report);
        c->report = json_object_from_file(ct_mark(c, "report.json"));
        ck_assert_msg(c->report != NULL, "no parsable report in %s: %s", c->marks, json_util_get_last_err());
        return c->report;
}

/* graced's output: it ran as pid 1, no sanitizer complained. */
static void ct_check_output(struct ct *c)
{
        char *log = h_read_file(c->out);

        ck_assert_msg(log != NULL, "cannot read %s", c->out);
        ck_assert_msg(strstr(log, "graced[1]: ") != NULL, "graced was not pid 1 of the container:\n%s", log);
        ck_assert_msg(!strstr(log, "Sanitizer") && !strstr(log, "runtime error:"), "a sanitizer complained:\n%s",
                      log);
        free(log);
}

/* `runc delete -f`, what is left of `runc run`, the temp dir. */
static void ct_cleanup(struct ct *c)
{
        if (c->id && state_root)
                h_run(ARGS(runc_bin, "--root", state_root, "delete", "-f", c->id), NULL, T, NULL);
        if (c->runc > 0)
                h_wait_child(c->runc, T);
        json_object_put(c->report);
        if (c->dir)
                h_rmrf(c->dir);
        free(c->dir);
        free(c->bundle);
        free(c->rootfs);
        free(c->marks);
        free(c->out);
        free(c->id);
        memset(c, 0, sizeof(*c));
}

/* The container's init, as a pid of our /proc (`runc state`). */
static pid_t ct_init_pid(struct ct *c)
{
        char *out = NULL;
        int st = h_run(ARGS(runc_bin, "--root", state_root, "state", c->id), NULL, T, &out);
        struct json_object *j = st == 0 && out ? json_tokener_parse(out) : NULL;
        long long pid = h_json_int(j, "pid");

        ck_assert_msg(j != NULL && pid > 0, "runc state %s: status %d: %s", c->id, st, out ? out : "");
        json_object_put(j);
        free(out);
        return (pid_t)pid;
}

/* ---- processes of the container, seen from here --------------------------------- */

/* From /proc/PID/status: the PPid, and the last NSpid field with the number
 * of fields (how deep its pid namespace is). -1 when it is gone. */
static int proc_status(pid_t pid, pid_t *ppid, pid_t *nspid, int *depth)
{
        char *path = xasprintf("/proc/%ld/status", (long)pid), *text = h_read_file(path), *l;

        free(path);
        if (!text)
                return -1;
        *ppid = -1;
        *nspid = -1;
        *depth = 0;
        if ((l = strstr(text, "\nPPid:")))
                *ppid = (pid_t)strtol(l + 6, NULL, 10);
        if ((l = strstr(text, "\nNSpid:"))) {
                char *p = l + 7, *end;

                for (;;) {
                        long v = strtol(p, &end, 10);

                        if (end == p)
                                break;
                        *nspid = (pid_t)v;
                        (*depth)++;
                        p = end;
                }
        }
        free(text);
        return *depth > 0 ? 0 : -1;
}

/* Is pid init or one of its descendants (zombies included: a zombie keeps
 * its PPid)? */
static bool descends_from(pid_t pid, pid_t init)
{
        for (int i = 0; i < 64 && pid > 1; i++) {
                pid_t ppid, ns;
                int depth;

                if (pid == init)
                        return true;
                if (proc_status(pid, &ppid, &ns, &depth) < 0)
                        return false;
                pid = ppid;
        }
        return pid == init;
}

/* The pid (of our /proc) of the process of init's container whose pid in
 * the container is nspid, zombies included; 0 when there is none. */
static pid_t container_pid(pid_t init, pid_t nspid)
{
        pid_t ippid, ins, found = 0;
        int idepth;
        struct dirent *de;
        DIR *d;

        if (proc_status(init, &ippid, &ins, &idepth) < 0)
                return 0;
        d = opendir("/proc");
        ck_assert_msg(d != NULL, "opendir /proc: %s", strerror(errno));
        while (!found && (de = readdir(d))) {
                pid_t pid = (pid_t)atoi(de->d_name), ppid, ns;
                int depth;

                if (pid <= 0 || proc_status(pid, &ppid, &ns, &depth) < 0)
                        continue;
                if (ns == nspid && depth == idepth && descends_from(pid, init))
                        found = pid;
        }
        closedir(d);
        return found;
}

/* ---- the tests --------------------------------------------------------------------- */

/* Reverse dependency order, hooks and report alike; clean; exit 0. */
START_TEST(test_ordered_stop)
{
        static const char *const names[] = { "web", "app", "db" }; /* stop order */
        struct ct c;
        struct json_object *r, *ws;
        char *log, *out = NULL, *stops;
        long long t0 = h_now_ns();
        int st;

        /* db <- app <- web; each: pre_stop through /bin/sh, post_stop the worker's program */
#define W(n, after)                                                                                                \
        "{ name = \"" n "\"; " after " command = [\"" TW "\", \"--stamp\", \"/marks/" n ".stamp\", \"--block\"];"  \
        " pre_stop = [\"/bin/sh\", \"-c\", \"echo " n " pre_stop >> /marks/stops\"];"                               \
        " post_stop = [\"" TW "\", \"--append\", \"/marks/stops\", \"" n " post_stop\"]; }"
        ct_init(&c, "ordered", "workers = (\n" W("db", "") ",\n" W("app", "after = [\"db\"];") ",\n"
                W("web", "after = [\"app\"];") "\n);\n");
#undef W
        ct_run(&c);
        ct_wait_mark(&c, "web.stamp", T_START); /* web starts last */
        ck_assert(h_wait_file(ct_mark(&c, "db.stamp"), T) && h_wait_file(ct_mark(&c, "app.stamp"), T));

        /* the installed gracectl, inside the container, on graced's default socket */
        st = h_run(ARGS(runc_bin, "--root", state_root, "exec", c.id, gracectl_path, "--json", "status"), NULL, T,
                   &out);
        ck_assert_msg(st == 0, "runc exec gracectl status: status %d: %s", st, out ? out : "");
        r = json_tokener_parse(strchr(out, '{') ? strchr(out, '{') : out);
        ck_assert_msg(r && h_json_len(r, "workers") == 3, "gracectl --json status: %s", out);
        json_object_put(r);
        free(out);

        ct_kill(&c, "TERM");
        ck_assert_int_eq(ct_exit_code(&c, T), 0);
        ct_check_output(&c);

        stops = h_read_file(ct_mark(&c, "stops"));
        ck_assert_msg(stops != NULL, "no hook marks");
        ck_assert_str_eq(stops, "web pre_stop\nweb post_stop\napp pre_stop\napp post_stop\n"
                                "db pre_stop\ndb post_stop\n");
        free(stops);

        r = ct_report(&c);
        ck_assert_str_eq(h_json_str(r, "reason"), "SIGTERM");
        ck_assert_int_eq(h_json_bool(r, "clean"), 1);
        ck_assert_int_eq(h_json_bool(r, "forced"), 0);
        ws = h_json_get(r, "workers");
        ck_assert_int_eq(h_json_len(r, "workers"), 3);
        for (int i = 0; i < 3; i++) {
                struct json_object *w = json_object_array_get_idx(ws, (size_t)i);

                ck_assert_str_eq(h_json_str(w, "name"), names[i]);
                ck_assert_str_eq(h_json_str(w, "outcome"), "stopped");
                ck_assert_str_eq(h_json_str(h_json_get(w, "pre_stop"), "outcome"), "ok");
                ck_assert_str_eq(h_json_str(h_json_get(w, "post_stop"), "outcome"), "ok");
        }
        log = h_read_file(c.out);
        ck_assert_msg(strstr(log, "shutdown clean"), "no clean summary:\n%s", log);
        free(log);
        fprintf(stderr, "check_runc: ordered stop: %lld ms\n", h_ms_since(t0));
        ct_cleanup(&c);
}
END_TEST

/* A grandchild re-parented to graced (PID 1) is reaped. */
START_TEST(test_orphan_reaped)
{
        struct ct c;
        struct json_object *r;
        pid_t init, worker, orphan, host;
        long long t0 = h_now_ns();

        ct_init(&c, "orphan",
                "workers = ({ name = \"parent\"; command = [\"" TW "\", \"--stamp\", \"/marks/parent.stamp\","
                " \"--orphan\", \"/marks/orphan.pid\", \"--stamp\", \"/marks/after.stamp\", \"--block\"]; });\n");
        ct_run(&c);
        ct_wait_mark(&c, "after.stamp", T_START); /* the orphan has written its pid */
        init = ct_init_pid(&c);
        worker = h_read_stamp_pid(ct_mark(&c, "parent.stamp"));
        orphan = h_read_stamp_pid(ct_mark(&c, "orphan.pid"));
        ck_assert_int_gt(worker, 1);
        ck_assert_int_gt(orphan, 1);
        /* the look-up finds the container's processes: graced (1) and its worker */
        ck_assert_int_eq(container_pid(init, 1), init);
        host = container_pid(init, worker);
        ck_assert_msg(host > 0 && h_pid_alive(host), "the worker (pid %d in the container) is not found", worker);
        /* the orphan's parent is gone; it exited too: graced must reap it
         * (until then it is a zombie child of graced) */
        host = container_pid(init, orphan);
        if (host > 0)
                ck_assert_msg(h_wait_pid_reaped(host, T), "the orphan (pid %d, %d in the container) was not reaped",
                              host, orphan);
        ck_assert_int_eq(container_pid(init, orphan), 0);

        ct_kill(&c, "TERM");
        ck_assert_int_eq(ct_exit_code(&c, T), 0);
        ct_check_output(&c);
        r = ct_report(&c);
        ck_assert_int_eq(h_json_bool(r, "clean"), 1);
        ck_assert_int_eq(h_json_len(r, "workers"), 1);
        ck_assert_str_eq(h_json_str(h_report_worker(r, "parent"), "outcome"), "stopped");
        fprintf(stderr, "check_runc: orphan: %lld ms\n", h_ms_since(t0));
        ct_cleanup(&c);
}
END_TEST

/* A worker that ignores its stop signal: SIGKILLed after stop_timeout,
 * the shutdown is not clean, the container exits 1. */
START_TEST(test_not_clean)
{
        struct ct c;
        struct json_object *r;
        long long t0 = h_now_ns();

        ct_init(&c, "killed",
                "workers = ({ name = \"polite\"; command = [\"" TW "\", \"--stamp\", \"/marks/polite.stamp\","
                " \"--block\"]; },\n"
                "  { name = \"stubborn\"; stop_timeout = \"300ms\"; command = [\"" TW "\", \"--ignore\", \"TERM\","
                " \"--stamp\", \"/marks/stubborn.stamp\", \"--block\"]; });\n");
        ct_run(&c);
        ct_wait_mark(&c, "stubborn.stamp", T_START);
        ct_wait_mark(&c, "polite.stamp", T);
        ct_kill(&c, "TERM");
        ck_assert_int_eq(ct_exit_code(&c, T), 1);
        ct_check_output(&c);
        r = ct_report(&c);
        ck_assert_int_eq(h_json_bool(r, "clean"), 0);
        ck_assert_int_eq(h_json_bool(r, "forced"), 0);
        ck_assert_str_eq(h_json_str(h_report_worker(r, "stubborn"), "outcome"), "killed");
        ck_assert_str_eq(h_json_str(h_report_worker(r, "polite"), "outcome"), "stopped");
        fprintf(stderr, "check_runc: not clean: %lld ms\n", h_ms_since(t0));
        ct_cleanup(&c);
}
END_TEST

/* exit_code_from: the container's exit code is that worker's. */
START_TEST(test_exit_code_from)
{
        struct ct c;
        struct json_object *r;
        long long t0 = h_now_ns();

        ct_init(&c, "exitcode",
                "supervisor = { exit_code_from = \"job\"; };\n"
                "workers = ({ name = \"svc\"; command = [\"" TW "\", \"--stamp\", \"/marks/svc.stamp\", \"--block\"]; },\n"
                "  { name = \"job\"; after = [\"svc\"]; stop_on_exit = true; restart = \"no\";"
                " command = [\"" TW "\", \"--stamp\", \"/marks/job.stamp\", \"--wait-file\", \"/marks/go\","
                " \"--exit\", \"7\"]; });\n");
        ct_run(&c);
        ct_wait_mark(&c, "job.stamp", T_START);
        char *gate = h_write_file(NULL, ct_mark(&c, "go"), "go\n");
        ck_assert(gate != NULL);
        free(gate);
        ck_assert_int_eq(ct_exit_code(&c, T), 7);
        ct_check_output(&c);
        r = ct_report(&c);
        ck_assert_str_eq(h_json_str(r, "reason"), "worker job exited");
        ck_assert_int_eq(h_json_bool(r, "clean"), 1);
        ck_assert_str_eq(h_json_str(h_report_worker(r, "svc"), "outcome"), "stopped");
        ck_assert_int_eq(h_json_int(h_report_worker(r, "job"), "exit_code"), 7);
        fprintf(stderr, "check_runc: exit_code_from: %lld ms\n", h_ms_since(t0));
        ct_cleanup(&c);
}
END_TEST

/* ---- main ------------------------------------------------------------------------------ */

/* The message of runc's last error line (msg="..."), or its last line
 * (malloc'd). */
static char *runc_error(const char *out)
{
        const char *m = NULL, *end;

        for (const char *p = out; (p = strstr(p, "msg=\"")); p += 5)
                m = p + 5;
        if (m) {
                end = strchr(m, '"');
                return strndup(m, end ? (size_t)(end - m) : strlen(m));
        }
        end = out + strlen(out);
        while (end > out && end[-1] == '\n')
                end--;
        m = end;
        while (m > out && m[-1] != '\n')
                m--;
        return strndup(m, (size_t)(end - m));
}

/* Runs the installed `graced --version` in a container. NULL when that
 * works; else why: *skip tells whether runc itself could not run a
 * container here (rather than our bundle being wrong). */
static char *probe(bool *skip)
{
        struct ct c = { 0 };
        char *why = NULL, *out;
        int code;

        *skip = false;
        if (ct_make(&c, "probe", "workers = ();\n", &why) < 0)
                goto out;
        /* `runc spec` was run: only the arguments change */
        char *spec = h_path(c.bundle, "config.json");
        if (edit_spec(spec, ARGS(graced_path, "--version"), c.marks) < 0)
                why = xasprintf("cannot edit %s", spec);
        free(spec);
        if (why)
                goto out;
        c.runc = h_spawn(ARGS(runc_bin, "--root", state_root, "run", "--bundle", c.bundle, c.id), NULL, c.out);
        if (c.runc < 0) {
                why = xasprintf("cannot start %s: %s", runc_bin, strerror(errno));
                c.runc = 0;
                goto out;
        }
        code = h_exit_code(h_wait_child(c.runc, 30000));
        c.runc = 0;
        out = h_read_file(c.out);
        if (code != 0) {
                char *msg = runc_error(out ? out : "");

                /* runc's own failures are logged as msg="..."; those of
                 * the machine (cgroups, namespaces, mounts, privileges)
                 * skip; the rest (a missing library, a failed exec, a
                 * config.json runc refuses) is our fault */
                static const char *const machine[] = { "cgroup", "namespace", "unshare", "mount", "pivot_root",
                                                       "ermission denied", "peration not permitted", "seccomp",
                                                       "apparmor", "selinux", "systemd", "rootless", NULL };

                *skip = false;
                for (const char *const *m = machine; out && strstr(out, "msg=\"") && *m && !*skip; m++)
                        *skip = strstr(msg, *m) != NULL && !strstr(msg, "exec:");
                why = xasprintf("%s (exit %d)", msg, code);
                free(msg);
        } else if (!out || !strstr(out, "graced")) {
                why = xasprintf("`graced --version` in the container printed: %s", out ? out : "(nothing)");
        }
        free(out);
out:
        ct_cleanup(&c);
        return why;
}

/* Containers a failed test left behind (in our state root), then our
 * directory. */
static void cleanup_base(void)
{
        char *out = NULL, *save = NULL;

        if (!base_dir)
                return;
        if (state_root && access(state_root, F_OK) == 0 &&
            h_run(ARGS(runc_bin, "--root", state_root, "list", "-q"), NULL, T, &out) == 0 && out) {
                for (char *id = strtok_r(out, "\n", &save); id; id = strtok_r(NULL, "\n", &save))
                        h_run(ARGS(runc_bin, "--root", state_root, "delete", "-f", id), NULL, T, NULL);
        }
        free(out);
        if (getenv("GRACED_KEEP_TEST"))
                fprintf(stderr, "check_runc: kept %s\n", base_dir);
        else
                h_rmrf(base_dir);
}

int main(void)
{
        const char *env_runc = getenv("RUNC");
        SRunner *sr;
        Suite *s;
        TCase *tc;
        char *why;
        bool skip;
        int failed;

        setvbuf(stdout, NULL, _IOLBF, 0);
        (void)h_testworker(); /* fail early and clearly when unset */
        (void)h_env_path("GRACED_TEST_BUILDDIR");
        (void)h_env_path("GRACED_INSTALL_SBINDIR");
        (void)h_env_path("GRACED_INSTALL_BINDIR");
        if (geteuid() != 0) {
                printf("SKIP: graced under runc: not root (runc run needs root to create namespaces and cgroups)\n");
                return 77;
        }
        runc_bin = find_exe(env_runc && *env_runc ? env_runc : "runc");
        if (!runc_bin && env_runc && *env_runc) {
                printf("SKIP: graced under runc: $RUNC (%s) is not an executable\n", env_runc);
                return 77;
        }
        if (!runc_bin) {
                printf("SKIP: graced under runc: runc is not installed (not in $PATH, /usr/sbin or /sbin)\n");
                return 77;
        }
        if (h_runner_init() < 0)
                return EXIT_FAILURE;
        base_error = make_base();
        if (!base_error) {
                long long t0 = h_now_ns();

                why = probe(&skip);
                if (why && skip) {
                        printf("SKIP: graced under runc: runc cannot run a container here: %s\n", why);
                        free(why);
                        cleanup_base();
                        h_runner_done();
                        return 77;
                }
                if (why)
                        base_error = xasprintf("the installed graced does not run in a container: %s", why);
                else
                        fprintf(stderr, "check_runc: %s runs containers (graced --version: %lld ms)\n", runc_bin,
                                h_ms_since(t0));
                free(why);
        }
        s = suite_create("runc");
        tc = tcase_create("pid1");
        tcase_add_unchecked_fixture(tc, NULL, h_runner_sweep);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_ordered_stop);
        tcase_add_test(tc, test_orphan_reaped);
        tcase_add_test(tc, test_not_clean);
        tcase_add_test(tc, test_exit_code_from);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        cleanup_base();
        h_runner_done();
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
