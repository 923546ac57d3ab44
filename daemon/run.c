/* run.c - the glue between the supervisor's policy and the mechanisms:
 * it implements sup_ops (spawn, signal, notify, finish) with proc.c,
 * output.c and notify.c, turns signalfd, SIGCHLD, exec-status pipes and
 * the timer into sup events, and writes the report at the end. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control.h"
#include "envfile.h"
#include "hmap.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "logbuf.h"
#include "notify.h"
#include "outfile.h"
#include "output.h"
#include "parse.h"
#include "probe.h"
#include "proc.h"
#include "report.h"
#include "run_int.h"
#include "state.h"
#include "sup.h"

extern char **environ;

static usec_t op_now(void *ctx) { return now_mono(); }

static void notify_op(void *ctx, const char *msg) { notify_send(msg); }

/* One of v ("KEY=VALUE") sets the variable e ("KEY=..." of klen bytes). */
static bool sets_key(char *const *v, const char *e, size_t klen)
{
        for (char *const *o = v; o && *o; o++)
                if (strcspn(*o, "=") == klen && strncmp(*o, e, klen) == 0)
                        return true;
        return false;
}

/* The worker's environment, built in the parent: graced's (or only its
 * PATH, env_clear), then its env files' (file_env), then its env; a later
 * one wins. */
static char **build_env(const struct conf_worker *c, char *const *file_env, const char *notify_env,
                        const char **ret_path)
{
        static const char *const strip[] = { "NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC", "LISTEN_PID",
                                             "LISTEN_FDS", "LISTEN_FDNAMES" };
        size_t n = 0, cap = strv_length(environ) + strv_length(file_env) + strv_length(c->env) + 3;
        char **env = xcalloc(cap, sizeof(char *));

        for (char **e = environ; *e; e++) {
                bool drop = false;
                size_t klen = strcspn(*e, "=");

                if (c->env_clear && !(klen == 4 && strncmp(*e, "PATH", 4) == 0))
                        continue;
                for (size_t i = 0; i < ELEMENTSOF(strip) && !drop; i++)
                        drop = strlen(strip[i]) == klen && strncmp(*e, strip[i], klen) == 0;
                if (!drop && !sets_key(file_env, *e, klen) && !sets_key(c->env, *e, klen))
                        env[n++] = *e;
        }
        for (char *const *o = file_env; o && *o; o++)
                if (!sets_key(c->env, *o, strcspn(*o, "=")))
                        env[n++] = *o;
        for (char **o = c->env; o && *o; o++)
                env[n++] = *o;
        if (notify_env)
                env[n++] = (char *)notify_env;
        env[n] = NULL;
        *ret_path = NULL;
        for (size_t i = 0; i < n; i++)
                if (strncmp(env[i], "PATH=", 5) == 0)
                        *ret_path = env[i] + 5;
        return env; /* borrowed strings: free the array only */
}

static int run_reload(struct run *r, char **errors);
static void rebind_control(struct run *r, const char *configured);
static void rebind_http(struct run *r, const char *configured);

static void close_status(struct wmech *m);

/* w's mechanism data, created at its first spawn. */
struct wmech *run_mech_of(struct run *r, struct worker *w)
{
        struct wmech *m = worker_mech(w);

        if (!m) {
                m = xcalloc(1, sizeof *m);
                *m = (struct wmech){ .pw = { .run = r, .embedded = true }, .w = w, .status_fd = -1, .refs = 1 };
                worker_set_mech(w, m);
        }
        return m;
}

static void mech_unref(struct wmech *m)
{
        if (m && --m->refs == 0) {
                close_status(m);
                probe_regex_free(m->re);
                free(m->re_src);
                strv_free(m->file_env);
                free(m);
        }
}

void run_on_stream_eof(struct output_stream *os, void *data)
{
        struct stream_ref *ref = data;
        struct wmech *m = ref ? ref->m : NULL; /* NULL: a hook's pipe */
        struct run *r = m ? m->pw.run : NULL;

        output_close(os);
        if (!m)
                return;
        if (m->w && r->sup)
                sup_on_stream_eof(r->sup, m->w, ref->epoch);
        mech_unref(m);
        free(ref);
}

static void close_status(struct wmech *m)
{
        m->status_watch = loop_del_fd(m->status_watch);
        m->status_fd = safe_close(m->status_fd);
}

static void deliver_status(struct wmech *m)
{
        int err = 0;
        enum proc_stage stage = PROC_STAGE_NONE;
        int r = proc_read_status(m->status_fd, &err, &stage);

        if (r == 0)
                return;
        close_status(m);
        if (r < 0) {
                err = -r;
                stage = PROC_STAGE_NONE;
        }
        if (m->w)
                sup_on_exec_status(m->pw.run->sup, m->w, err, proc_stage_name(stage));
}

void run_on_status(struct loop_watch *lw, int fd, uint32_t events, void *data)
{
        deliver_status(data);
}

/* Opens fd 1/2 for the child as configured; *parent_end is the read end
 * of a pipe graced reads (or -1): a log pipe, or for a file (*file set)
 * the pipe whose bytes graced copies into it, so that it can reopen the
 * file. Returns the fd for the child or -1 (inherit). */
static int open_stream(struct run *r, enum out_mode mode, const char *path, int *parent_end, struct outfile **file,
                       int *err)
{
        int p[2], fd, e = 0;

        *parent_end = -1;
        *file = NULL;
        switch (mode) {
        case OUT_LOG:
                if (pipe2(p, O_CLOEXEC) < 0) {
                        *err = errno;
                        return -2;
                }
                *parent_end = p[0];
                return p[1];
        case OUT_NULL:
                fd = fcntl(r->devnull_w, F_DUPFD_CLOEXEC, 3);
                if (fd < 0) {
                        *err = errno;
                        return -2;
                }
                return fd;
        case OUT_FILE:
                *file = outfile_get(r->loop, path, &e);
                if (!*file) {
                        *err = -e;
                        log_error(NULL, "start", "opening %s: %s", path, strerror(-e));
                        return -2;
                }
                if (pipe2(p, O_CLOEXEC) < 0) {
                        *err = errno;
                        *file = outfile_put(*file);
                        return -2;
                }
                *parent_end = p[0];
                return p[1];
        default:
                return -1;
        }
}

/* A datagram from any process of a worker's process group. */
void run_on_notify_msg(pid_t sender, const char *msg, void *data)
{
        struct run *r = data;
        pid_t pgid = getpgid(sender);
        struct worker *w = sup_find_pid(r->sup, sender);

        if (!w && pgid > 0)
                w = sup_find_pid(r->sup, pgid);
        if (!w || worker_conf(w)->ready != READY_NOTIFY) {
                log_debug(NULL, "notify", "dropping a notify message from pid %d (no notify worker)", (int)sender);
                return;
        }
        sup_on_notify(r->sup, w, msg);
}

/* NOTIFY_SOCKET=... for a worker with ready = "notify" (the socket is
 * opened at the first one), NULL for the others; -errno in *err on failure. */
static char *notify_env_for(struct run *r, const struct conf_worker *c, bool is_worker, int *err)
{
        *err = 0;
        if (c->ready != READY_NOTIFY || !is_worker)
                return NULL;
        if (!r->nsrv) {
                int e = 0;

                r->nsrv = notify_server_open(r->loop, run_on_notify_msg, r, &e);
                if (!r->nsrv) {
                        log_error(c->name, "start", "cannot create the notify socket: %s", strerror(e));
                        *err = -e;
                        return NULL;
                }
        }
        return xasprintf("NOTIFY_SOCKET=%s", notify_server_address(r->nsrv));
}

/* The supplementary groups of c's user, computed in the parent. */
static int user_groups(const struct conf_worker *c, gid_t **ret, size_t *n)
{
        int ngroups = 64;
        gid_t *groups;

        *ret = NULL;
        *n = 0;
        if (!c->set_ids || !c->user)
                return 0;
        groups = xcalloc((size_t)ngroups, sizeof(gid_t));
        if (getgrouplist(c->user, c->gid, groups, &ngroups) < 0) {
                groups = xrealloc(groups, (size_t)ngroups * sizeof(gid_t));
                if (getgrouplist(c->user, c->gid, groups, &ngroups) < 0) {
                        log_error(c->name, "start", "cannot list the groups of user %s", c->user);
                        free(groups);
                        return -EINVAL;
                }
        }
        *ret = groups;
        *n = (size_t)(ngroups > 0 ? ngroups : 0);
        return 0;
}

/* ---- probes ---- */

/* A log probe's record: a match makes a starting worker ready. Only the
 * current run's streams count (a record of an earlier run, written by what
 * that run left behind, is ignored). */
void run_on_worker_record(const char *p, size_t n, void *data)
{
        struct stream_ref *ref = data;
        struct wmech *m = ref->m;
        const struct conf_worker *c;

        if (!m->w || !m->pw.run->sup || worker_state(m->w) != WORKER_STARTING ||
            ref->epoch != worker_stream_epoch(m->w) || ref->run != worker_starts(m->w))
                return;
        c = worker_conf(m->w);
        if (c->ready != READY_PROBE || c->ready_probe.kind != PROBE_LOG)
                return;
        if (!m->re || strcmp(m->re_src, c->ready_probe.target) != 0) {
                char err[256];

                m->re = probe_regex_free(m->re);
                free(m->re_src);
                m->re_src = xstrdup(c->ready_probe.target);
                m->re = probe_regex_new(c->ready_probe.target, err, sizeof err);
                if (!m->re) { /* validated at load: only memory can fail */
                        log_error(c->name, "probe", "log probe: %s", err);
                        return;
                }
        }
        if (probe_regex_match(m->re, p, n))
                sup_on_probe(m->pw.run->sup, m->w, PROBE_READY, true, NULL);
}

struct stream_ref *run_stream_ref(struct run *r, struct worker *w, unsigned epoch, unsigned run)
{
        struct stream_ref *ref = xcalloc(1, sizeof *ref);

        *ref = (struct stream_ref){ .m = run_mech_of(r, w), .epoch = epoch, .run = run };
        return ref;
}

void run_stream_opened(struct output_stream *os, struct stream_ref *ref, bool file)
{
        const struct conf_worker *c = worker_conf(ref->m->w);

        if (!file && c->ready == READY_PROBE && c->ready_probe.kind == PROBE_LOG)
                output_on_record(os, run_on_worker_record);
        ref->m->refs++;
}

/* Watches the read end of a "log" stream (file: of a file's pipe; the
 * reference goes to the stream); for a worker (w), it counts in *streams
 * and its EOF goes to the supervisor. */
static void watch_output(struct run *r, int fd, struct outfile *file, const char *logname, int stream,
                         struct worker *w, unsigned *streams)
{
        /* counted before the spawn: this run's */
        struct stream_ref *ref = w ? run_stream_ref(r, w, worker_stream_epoch(w), worker_starts(w)) : NULL;
        struct output_stream *os = file ? output_open_file(r->loop, fd, file, logname, stream, run_on_stream_eof, ref)
                                        : output_open(r->loop, fd, logname, stream, run_on_stream_eof, ref);

        if (!os) {
                log_error(logname, "output", "watching output: %m");
                free(ref);
        } else if (ref) {
                run_stream_opened(os, ref, file != NULL);
                (*streams)++;
        }
}

/* What a child needs besides its output, prepared in the parent: its
 * environment, its resolved command, its groups. */
struct prep {
        struct proc_spec spec;
        char *notify_env;
        char **env, **av;
        gid_t *groups;
};

static void prep_done(struct prep *pr)
{
        free(pr->groups);
        free(pr->env);
        free(pr->notify_env);
        strv_free(pr->av);
}

static int prep_spec(struct run *r, struct prep *pr, char *const *argv, const struct conf_worker *c, bool is_worker,
                     char *const *file_env)
{
        const char *path;
        int ret;

        *pr = (struct prep){ .spec = { .umask = c->umask, .cwd = c->cwd, .set_ids = c->set_ids, .uid = c->uid,
                                       .gid = c->gid, .pdeath_signal = c->stop_signal, .fd_out = -1, .fd_err = -1 } };
        pr->notify_env = notify_env_for(r, c, is_worker, &ret);
        if (ret < 0)
                return ret;
        pr->env = build_env(c, file_env, pr->notify_env, &path);
        pr->av = strv_dup(argv);
        free(pr->av[0]);
        pr->av[0] = proc_resolve(argv[0], path);
        ret = user_groups(c, &pr->groups, &pr->spec.n_groups);
        pr->spec.argv = pr->av;
        pr->spec.envp = pr->env;
        pr->spec.groups = pr->groups;
        return ret;
}

/* Spawns argv with c's settings (and the variables of file_env); its "log"
 * streams are logged under logname and, for a worker (w), counted in
 * *streams. */
static int spawn(struct run *r, char *const *argv, const struct conf_worker *c, char *const *file_env,
                 const char *logname, struct worker *w, struct proc_child *child, unsigned *streams)
{
        struct prep pr;
        struct outfile *file[2] = { NULL, NULL };
        int pend[2] = { -1, -1 }, cfd[2] = { -1, -1 }, err = 0;
        int ret = prep_spec(r, &pr, argv, c, w != NULL, file_env);

        *streams = 0;
        /* stdout and stderr to one file: one pipe, as `>file 2>&1`, so the
         * file keeps the order in which the worker wrote to both */
        if (ret == 0 && c->out[0] == OUT_FILE && c->out[1] == OUT_FILE && strcmp(c->out_path[0], c->out_path[1]) == 0) {
                cfd[0] = open_stream(r, OUT_FILE, c->out_path[0], &pend[0], &file[0], &err);
                if (cfd[0] == -2)
                        ret = -err;
                else if ((cfd[1] = fcntl(cfd[0], F_DUPFD_CLOEXEC, 3)) < 0)
                        ret = -errno;
        }
        for (int i = 0; i < 2 && ret == 0; i++) {
                if (cfd[i] >= 0)
                        continue;
                cfd[i] = open_stream(r, c->out[i], c->out_path[i], &pend[i], &file[i], &err);
                if (cfd[i] == -2)
                        ret = -err;
        }
        if (ret == 0) {
                pr.spec.fd_out = cfd[0];
                pr.spec.fd_err = cfd[1];
                ret = proc_spawn(&pr.spec, child);
        }
        for (int i = 0; i < 2; i++) {
                safe_close(cfd[i] >= 0 ? cfd[i] : -1);
                if (pend[i] >= 0 && ret < 0) {
                        safe_close(pend[i]);
                        outfile_put(file[i]);
                } else if (pend[i] >= 0) {
                        watch_output(r, pend[i], file[i], logname, i, w, streams);
                }
        }
        prep_done(&pr);
        return ret;
}

static void on_probe_done(void *data, bool ok, const char *reason)
{
        struct wmech *m = data;

        m->attempt = NULL;
        if (m->w && m->pw.run->sup)
                sup_on_probe(m->pw.run->sup, m->w, m->use, ok, reason);
        mech_unref(m);
}

static int op_probe_start(void *ctx, struct worker *w, enum probe_use use)
{
        struct run *r = ctx;
        struct wmech *m = run_mech_of(r, w);
        const struct conf_worker *c = worker_conf(w);
        const struct conf_probe *p = use == PROBE_READY ? &c->ready_probe : &c->health;
        struct prep pr = { 0 };
        int ret = 0;

        if (m->attempt)
                return -EBUSY; /* the policy never asks for two */
        /* an exec probe runs as the worker would: identity, cwd, environment */
        if (p->kind == PROBE_EXEC) {
                ret = prep_spec(r, &pr, p->argv, c, false, m->file_env);
                pr.spec.pdeath_signal = SIGKILL;
        }
        if (ret == 0) {
                m->use = use;
                m->attempt = probe_start(r->probes, p, p->kind == PROBE_EXEC ? &pr.spec : NULL, on_probe_done, m, &ret);
                if (m->attempt)
                        m->refs++; /* until done or cancelled */
        }
        if (p->kind == PROBE_EXEC)
                prep_done(&pr);
        return m->attempt ? 0 : ret;
}

static void op_probe_cancel(void *ctx, struct worker *w)
{
        struct wmech *m = worker_mech(w);

        if (!m || !m->attempt)
                return;
        probe_cancel(m->attempt);
        m->attempt = NULL;
        mech_unref(m);
}

static void unwatch_pid(struct run *r, pid_t pid)
{
        struct pidwatch *pw = hmap_del(&r->pidwatches, (uintptr_t)pid);

        if (pw) {
                pw->watch = loop_del_fd(pw->watch);
                if (pw->owned)
                        safe_close(pw->fd);
                if (!pw->embedded)
                        free(pw);
        }
}

static void on_pidfd(struct loop_watch *lw, int fd, uint32_t events, void *data)
{
        struct pidwatch *pw = data;
        struct run *r = pw->run;
        pid_t pid = pw->pid;
        int status = 0, k;

        /* a notify message is handled while its sender still maps to a worker */
        if (r->nsrv)
                notify_server_drain(r->nsrv);
        k = proc_reap_pidfd(fd, &status);
        if (k == 0)
                return;
        unwatch_pid(r, pid);
        if (k > 0)
                run_reaped(pid, status, r);
        /* else ECHILD: waitpid(-1) reaped it first, and handled it */
}

/* The pids watched now (the map may change while they are handled). */
static pid_t *watched_pids(struct run *r, size_t *ret_n)
{
        pid_t *pids = xcalloc(r->pidwatches.n + 1, sizeof *pids);
        size_t n = 0;

        for (size_t i = 0; i < r->pidwatches.cap; i++)
                if (r->pidwatches.v[i].val)
                        pids[n++] = (pid_t)r->pidwatches.v[i].key;
        *ret_n = n;
        return pids;
}

void run_reap_watched(struct run *r)
{
        size_t n;
        pid_t *pids = watched_pids(r, &n);

        for (size_t i = 0; i < n; i++) {
                struct pidwatch *pw = hmap_get(&r->pidwatches, (uintptr_t)pids[i]);

                if (pw)
                        on_pidfd(pw->watch, pw->fd, EPOLLIN, pw);
        }
        free(pids);
        if (r->reap_any)
                proc_reap(run_reaped, r);
}

struct pidwatch *run_watch_pid(struct run *r, pid_t pid, int pidfd, struct pidwatch *pw)
{
        if (pidfd >= 0) {
                if (!pw)
                        pw = xcalloc(1, sizeof *pw);
                *pw = (struct pidwatch){ .run = r, .pid = pid, .fd = pidfd, .embedded = pw->embedded };
                pw->watch = loop_add_fd(r->loop, pidfd, EPOLLIN, on_pidfd, pw);
                if (pw->watch) {
                        hmap_put(&r->pidwatches, (uintptr_t)pid, pw);
                        return pw;
                }
                if (!pw->embedded)
                        free(pw);
        }
        r->reap_any = true; /* no pidfd to watch: SIGCHLD and waitpid(-1) from now on */
        return NULL;
}

/* Reads c's env files for this start into m->file_env. 0, or -errno after
 * logging which file and line is wrong (the start fails). */
static int read_env_files(struct wmech *m, const struct conf_worker *c)
{
        struct envfile_vars vars = { 0 };
        struct envfile_error err = { 0 };
        int ret;

        strv_free(m->file_env);
        m->file_env = NULL;
        if (!c->env_file)
                return 0;
        ret = envfile_load(c->env_file, &vars, &err);
        if (ret < 0) {
                char *what = envfile_error_format(&err);

                log_error(c->name, "start", "env_file %s", what);
                free(what);
                envfile_vars_done(&vars);
                return ret;
        }
        m->file_env = envfile_vars_steal(&vars);
        return 0;
}

static int op_spawn_worker(void *ctx, struct worker *w, struct spawned *out)
{
        struct run *r = ctx;
        struct proc_child ch;
        struct wmech *m = run_mech_of(r, w);
        const struct conf_worker *c = worker_conf(w);
        int ret = read_env_files(m, c);

        if (ret == 0)
                ret = spawn(r, c->argv, c, m->file_env, c->name, w, &ch, &out->streams);
        if (ret < 0)
                return ret;
        out->pid = ch.pid;
        out->pidfd = ch.pidfd;
        run_watch_pid(r, ch.pid, ch.pidfd, &m->pw);
        close_status(m);
        m->status_fd = ch.status_fd;
        m->status_watch = loop_add_fd(r->loop, ch.status_fd, EPOLLIN, run_on_status, m);
        if (!m->status_watch) {
                /* cannot watch: learn the result at the exit instead */
                log_debug(c->name, "start", "watching exec status: %m");
        }
        return 0;
}

static struct hookstat *hookstat_free(struct hookstat *hs)
{
        if (!hs)
                return NULL;
        if (hs->prev)
                hs->prev->next = hs->next;
        else
                hs->run->hookstats = hs->next;
        if (hs->next)
                hs->next->prev = hs->prev;
        hs->watch = loop_del_fd(hs->watch);
        safe_close(hs->fd);
        free(hs);
        return NULL;
}

static void on_hook_status(struct loop_watch *lw, int fd, uint32_t events, void *data)
{
        struct hookstat *hs = data;
        enum proc_stage st = PROC_STAGE_NONE;
        int err = 0, r = proc_read_status(fd, &err, &st);

        if (r == 0)
                return;
        /* a missing hook binary is reported with its reason (it exits 127) */
        if (r > 0 && err)
                log_error(hs->who, "hook", "%s: %s %s: %s", hs->label, proc_stage_name(st), hs->argv0, strerror(err));
        hookstat_free(hs);
}

/* Copies what the message needs: the hook may be gone when it is read. */
void run_add_hookstat(struct run *r, int fd, const char *who, const char *label, const char *argv0)
{
        size_t lw = strlen(who ? who : "") + 1, ll = strlen(label) + 1, la = strlen(argv0) + 1;
        struct hookstat *hs = xcalloc(1, sizeof *hs + lw + ll + la);

        memcpy(hs->text, who ? who : "", lw);
        memcpy(hs->text + lw, label, ll);
        memcpy(hs->text + lw + ll, argv0, la);
        hs->run = r;
        hs->fd = fd;
        hs->who = who ? hs->text : NULL;
        hs->label = hs->text + lw;
        hs->argv0 = hs->text + lw + ll;
        hs->next = r->hookstats;
        if (hs->next)
                hs->next->prev = hs;
        r->hookstats = hs;
        hs->watch = loop_add_fd(r->loop, hs->fd, EPOLLIN, on_hook_status, hs);
        if (!hs->watch)
                hookstat_free(hs); /* its exit code still tells */
}

static int op_spawn_hook(void *ctx, struct hook_run *h, struct spawned *out)
{
        struct run *r = ctx;
        struct proc_child ch;
        struct conf_worker base = { .umask = -1, .out = { OUT_LOG, OUT_LOG }, .stop_signal = SIGKILL };
        struct conf_worker hc = h->owner ? *worker_conf(h->owner) : base;
        struct wmech *om = h->owner ? worker_mech(h->owner) : NULL;
        unsigned streams;
        int ret;

        /* hooks run with the worker's identity and environment, output logged */
        hc.out[0] = hc.out[1] = OUT_LOG;
        hc.stop_signal = SIGKILL;
        ret = spawn(r, h->argv, &hc, om ? om->file_env : NULL, h->label, NULL, &ch, &streams);
        if (ret < 0)
                return ret;
        out->pid = ch.pid;
        out->pidfd = ch.pidfd;
        run_watch_pid(r, ch.pid, ch.pidfd, NULL);
        run_add_hookstat(r, ch.status_fd, h->owner ? worker_name(h->owner) : NULL, h->label, h->argv[0]);
        return 0;
}

static int op_signal(void *ctx, pid_t pid, int pidfd, int sig, bool group)
{
        return proc_signal(pid, pidfd, sig, group);
}

static bool op_group_alive(void *ctx, pid_t pgid) { return proc_group_alive(pgid); }

static void op_release(void *ctx, pid_t pid, int pidfd)
{
        unwatch_pid(ctx, pid);
        safe_close(pidfd);
}

/* A worker removed by a reload is freed: its streams may still be open. */
static void op_forget(void *ctx, struct worker *w)
{
        struct run *r = ctx;
        struct wmech *m = worker_mech(w);

        /* its `gracectl logs` records go with it */
        logbuf_drop(r->logbuf, worker_name(w));
        if (!m)
                return;
        op_probe_cancel(ctx, w);
        worker_set_mech(w, NULL);
        m->w = NULL;
        close_status(m);
        mech_unref(m);
}

/* ---- gracectl logs ---- */

/* A record about a worker goes to its ring, and to the `logs -f` readers:
 * graced's own records about it, its captured lines and its hooks' ("web/
 * pre_stop[stdout]: ..."). The ring is made at a worker's first record and
 * dropped when the worker is forgotten. */
void run_on_log_record(const struct log_record *rec, void *data)
{
        static const char *const hooks[] = { "pre_stop", "post_stop" };
        struct run *r = data;
        struct logring *ring;
        const char *hook = NULL, *slash, *name = rec->worker;
        char buf[NAME_MAX_LEN + 1];

        if (!r->logbuf || !logbuf_wanted(r->logbuf))
                return;
        slash = rec->stream ? strchr(rec->worker, '/') : NULL;
        if (slash) {
                /* a hook's line: its worker's, when the rest names a hook */
                for (size_t i = 0; i < ELEMENTSOF(hooks) && !hook; i++)
                        if (strcmp(slash + 1, hooks[i]) == 0)
                                hook = hooks[i];
                if (!hook || (size_t)(slash - rec->worker) > NAME_MAX_LEN)
                        return; /* a cleanup step's: not about a worker */
                memcpy(buf, rec->worker, (size_t)(slash - rec->worker));
                buf[slash - rec->worker] = 0;
                name = buf;
        }
        ring = logbuf_find(r->logbuf, name);
        if (!ring && r->sup && sup_find(r->sup, name))
                ring = logbuf_ring(r->logbuf, name);
        if (ring)
                logbuf_add(ring, rec->ts, rec->level, rec->event, hook, rec->stream, rec->msg, rec->len);
}

/* SIGUSR2, gracectl reopen. */
static int run_reopen(struct run *r, unsigned *n_files, char **errors)
{
        unsigned failed = 0;
        unsigned n = outfile_reopen_all(&failed, errors);

        if (failed)
                log_warning(NULL, "reopen", "reopened %u of %u files", n, n + failed);
        else
                log_notice(NULL, "reopen", "reopened %u file%s", n, n == 1 ? "" : "s");
        if (n_files)
                *n_files = n;
        return failed ? -EIO : 0;
}

static void op_finished(void *ctx, int code)
{
        struct run *r = ctx;

        r->done = true;
        r->exit_code = code;
        if (r->report_path) {
                struct json_object *j = report_build(r->sup, r->started_real, now_mono());
                int e = report_write(r->report_path, j);

                json_object_put(j);
                if (e < 0)
                        log_error(NULL, "report", "writing report %s: %s", r->report_path, strerror(-e));
                else
                        log_info(NULL, "report", "report written to %s", r->report_path);
        }
}

const struct sup_ops run_sup_ops = {
        .now = op_now,
        .spawn_worker = op_spawn_worker,
        .spawn_hook = op_spawn_hook,
        .signal = op_signal,
        .notify = notify_op,
        .finished = op_finished,
        .release = op_release,
        .group_alive = op_group_alive,
        .forget = op_forget,
        .probe_start = op_probe_start,
        .probe_cancel = op_probe_cancel,
};

void run_reaped(pid_t pid, int status, void *data)
{
        struct run *r = data;
        struct worker *w;

        if (r->probes && probe_owns_pid(r->probes, pid)) {
                probe_on_reaped(r->probes, pid, status);
                return;
        }
        w = sup_find_pid(r->sup, pid);
        struct wmech *m = w ? worker_mech(w) : NULL;

        /* the exec status first: an exit is never the first news of a start */
        if (m && m->status_fd >= 0)
                deliver_status(m);
        if (!sup_on_exit(r->sup, pid, status))
                log_debug(NULL, "reap", "reaped orphan %d (status 0x%x)", (int)pid, (unsigned)status);
}

static void on_signal(struct loop_watch *lw, int fd, uint32_t events, void *data)
{
        struct run *r = data;
        struct signalfd_siginfo si;
        bool chld = false;

        /* drain the signalfd: several signals may be queued */
        for (;;) {
                ssize_t n = read(fd, &si, sizeof si);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n != (ssize_t)sizeof si)
                        break;
                if (si.ssi_signo == SIGCHLD)
                        chld = true;
                else if (si.ssi_signo == SIGHUP) {
                        char *errors = NULL;
                        log_notice(NULL, "reload", "SIGHUP: reloading %s", r->config_path);
                        (void)run_reload(r, &errors);
                        free(errors);
                } else if (si.ssi_signo == SIGUSR2) {
                        log_info(NULL, "reopen", "SIGUSR2: reopening the files workers write to");
                        (void)run_reopen(r, NULL, NULL);
                }
                else
                        sup_on_signal(r->sup, (int)si.ssi_signo);
        }
        if (chld && r->reap_any) {
                if (r->nsrv)
                        notify_server_drain(r->nsrv);
                proc_reap(run_reaped, r);
        }
}

static void on_timer(struct loop_timer *t, void *data)
{
        struct run *r = data;

        sup_on_time(r->sup);
}

static void on_watchdog(struct loop_timer *t, void *data)
{
        notify_send("WATCHDOG=1");
        loop_timer_set(t, now_mono() + notify_watchdog_interval());
}

void run_arm_watchdog(struct run *r)
{
        if (notify_watchdog_interval() && !r->wd_timer) {
                r->wd_timer = loop_timer_new(r->loop, on_watchdog, r);
                loop_timer_set(r->wd_timer, now_mono() + notify_watchdog_interval());
        }
}

static void close_retired(struct run *r)
{
        for (size_t i = 0; i < r->n_retired; i++)
                control_close(r->retired[i]);
        free(r->retired);
        r->retired = NULL;
        r->n_retired = 0;
}

static void on_idle(void *data)
{
        struct run *r = data;

        close_retired(r);
        sup_flush(r->sup);
        if (r->ctl) {
                control_tick(r->ctl);
                sup_flush(r->sup); /* what the answered requests asked for */
        }
        /* the iteration's records in one write (unless stderr is blocked) */
        if (log_pending())
                log_flush();
        if (r->done)
                return;
        run_reexec_if_requested(r); /* returns only when the exec failed */
        loop_timer_set(r->timer, sup_next_deadline(r->sup));
        if (r->trim) {
                r->trim = false;
                json_object_put(r->state);
                r->state = NULL;
                malloc_trim(0);
        }
}

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

static char *join_diags(const struct conf_diags *d)
{
        char *all = xstrdup("");

        for (size_t i = 0; i < d->n; i++) {
                char *line = conf_diag_format(&d->v[i]);
                char *n = xasprintf("%s%s%s", all, i ? "\n" : "", line);
                free(all);
                free(line);
                all = n;
        }
        return all;
}

/* Reload: parse and validate the file again; on success apply the
 * difference. Returns 0 or -errno with the errors (caller frees). */
static int run_reload(struct run *r, char **errors)
{
        struct conf_load_opts lo = { .as_root = geteuid() == 0 };
        struct conf_diags d = { 0 };
        struct conf *c = NULL;
        unsigned counts[4];
        char msg[96];
        int err;

        *errors = NULL;
        if (sup_shutting_down(r->sup)) {
                *errors = xstrdup("shutting down");
                return -EBUSY;
        }
        snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)now_mono());
        notify_send(msg);
        if (plan_load_isolated(r->config_path, &lo, &c, NULL, &d) < 0) {
                char *st;

                *errors = join_diags(&d);
                for (size_t i = 0; i < d.n; i++) {
                        char *line = conf_diag_format(&d.v[i]);
                        log_error(NULL, "reload", "%s", line);
                        free(line);
                }
                log_error(NULL, "reload", "configuration invalid (%zu problem%s): keeping the running one", d.n,
                          d.n == 1 ? "" : "s");
                st = xasprintf("READY=1\nSTATUS=reload failed: %.*s", (int)min_sz(strcspn(*errors, "\n"), 200),
                               *errors);
                notify_send(st);
                free(st);
                conf_diags_clear(&d);
                return -EINVAL;
        }
        err = sup_reload(r->sup, c, counts);
        if (err < 0) {
                *errors = xasprintf("cannot reload now: %s",
                                    err == -EBUSY ? "a removed worker is still stopping" : strerror(-err));
                log_error(NULL, "reload", "%s", *errors);
                notify_send("READY=1");
                conf_free(c);
                return err;
        }
        log_set_name_width(sup_label_width(r->sup));
        logbuf_set_limit(r->logbuf, c->log_buffer);
        log_notice(NULL, "reload", "reloaded %s: %u added, %u removed, %u changed, %u unchanged", r->config_path,
                   counts[0], counts[1], counts[2], counts[3]);
        if (!r->report_override) {
                free(r->report_path);
                r->report_path = xstrdup(c->report_file);
        }
        rebind_control(r, c->control_socket);
        rebind_http(r, c->http_listen);
        run_check_nofile(c);
        conf_free(c);
        /* what the parse and the old settings leave in the heap goes back: a
         * reload every few seconds would otherwise scatter it (soak benchmark) */
        malloc_trim(0);
        notify_send("READY=1");
        return 0;
}

/* A changed control_socket is bound anew; the old one stays when that fails. */
static void rebind_control(struct run *r, const char *configured)
{
        char *path = control_default_path(configured);
        const char *cur = r->ctl ? control_path(r->ctl) : NULL;
        struct control *n = NULL;
        int e = 0;

        if ((!path && !cur) || (path && cur && strcmp(path, cur) == 0)) {
                free(path);
                return;
        }
        if (path) {
                n = control_open(r->loop, path, &run_ctl_hooks, r, &e);
                if (!n) {
                        log_error(NULL, "reload", "control socket %s: %s; keeping %s", path, strerror(e),
                                  cur ? cur : "none");
                        free(path);
                        return;
                }
        }
        log_notice(NULL, "reload", "control socket: %s", path ? path : "off");
        /* the request being served may have come through r->ctl: close it
         * from the idle hook, once that request is answered */
        if (r->ctl) {
                r->retired = xrealloc(r->retired, (r->n_retired + 1) * sizeof *r->retired);
                r->retired[r->n_retired++] = r->ctl;
        }
        r->ctl = n;
        free(path);
}

static int ctl_reload(void *ctx, char **errors) { return run_reload(ctx, errors); }

static void ctl_shutdown(void *ctx, bool force)
{
        struct run *r = ctx;

        if (force)
                sup_shutdown(r->sup, "gracectl shutdown --force", true);
        else
                sup_request_shutdown(r->sup, "gracectl shutdown"); /* drains first, as SIGTERM does */
}

static struct sup *ctl_sup(void *ctx) { return ((struct run *)ctx)->sup; }
static struct logbuf *ctl_logbuf(void *ctx) { return ((struct run *)ctx)->logbuf; }
static int ctl_reopen(void *ctx, unsigned *n_files, char **errors) { return run_reopen(ctx, n_files, errors); }

const struct control_hooks run_ctl_hooks = { .reload = ctl_reload, .shutdown = ctl_shutdown, .sup = ctl_sup,
                                             .logbuf = ctl_logbuf, .reopen = ctl_reopen,
                                             .reexec = run_request_reexec };

const struct http_hooks run_http_hooks = { .sup = ctl_sup };

static const char *http_on(const char *configured) { return configured && configured[0] ? configured : NULL; }

/* A changed http_listen is bound anew (the same socket address spelled
 * otherwise is no change); the old endpoint stays when that fails. */
static void rebind_http(struct run *r, const char *configured)
{
        const char *want = http_on(configured);
        struct http *n = NULL;
        int e = 0;

        if ((!want && !r->http) || (want && http_same_address(r->http, want)))
                return;
        if (want) {
                n = http_open(r->loop, want, &run_http_hooks, r, &e);
                if (!n && e == EADDRINUSE && http_same_port(r->http, want)) {
                        /* the new address takes in the old one (0.0.0.0:P after
                         * 127.0.0.1:P): free the port first, take the old one back
                         * if the new one still cannot be had */
                        char *old = xstrdup(http_address(r->http));
                        int e2 = 0;

                        r->http = http_close(r->http);
                        n = http_open(r->loop, want, &run_http_hooks, r, &e);
                        if (!n)
                                r->http = http_open(r->loop, old, &run_http_hooks, r, &e2);
                        free(old);
                }
                if (!n) {
                        log_error(NULL, "reload", "http_listen %s: %s; keeping %s", want, http_strerror(e),
                                  r->http ? http_address(r->http) : "none");
                        return;
                }
        }
        log_notice(NULL, "reload", "http_listen: %s", want ? want : "off");
        r->http = http_close(r->http);
        r->http = n;
}

static void on_log_writable(struct loop_watch *lw, int fd, uint32_t events, void *data)
{
        log_flush();
}

static void log_want_write(bool on, void *data)
{
        struct run *r = data;

        if (on && !r->log_watch) {
                r->log_watch = loop_add_fd(r->loop, log_get_fd(), EPOLLOUT, on_log_writable, r);
                if (!r->log_watch) /* a regular file cannot block anyway */
                        log_flush_all();
        } else if (!on && r->log_watch) {
                r->log_watch = loop_del_fd(r->log_watch);
        }
}

static void log_congestion(bool congested, void *data) { output_set_paused(congested); }

/* The process-wide set-up: /dev/null, subreaper, signals through a
 * signalfd, the loop and its timers, non-blocking logging. Fatal (71) when
 * any of it cannot be had. */
void run_set_up(struct run *r, const struct run_opts *o)
{
        static const int sigs[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD };
        int e;

        notify_init();
        if ((e = proc_init()) < 0)
                fatal(71, "cannot open /dev/null: %s", strerror(-e));
        if ((o->subreaper || getpid() == 1) && (e = proc_set_subreaper()) < 0)
                fatal(71, "cannot become a child subreaper: %s", strerror(-e));
        r->devnull_w = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (r->devnull_w < 0)
                fatal(71, "cannot open /dev/null: %m");
        signal(SIGPIPE, SIG_IGN);
        sigemptyset(&r->sigs);
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
                sigaddset(&r->sigs, sigs[i]);
        if (sigprocmask(SIG_BLOCK, &r->sigs, NULL) < 0)
                fatal(71, "sigprocmask: %m");
        r->sigfd = signalfd(-1, &r->sigs, SFD_CLOEXEC | SFD_NONBLOCK);
        if (r->sigfd < 0)
                fatal(71, "signalfd: %m");
        r->loop = loop_new();
        if (!r->loop)
                fatal(71, "cannot create the event loop: %m");
        r->probes = probes_new(r->loop);
        if (!r->probes)
                fatal(71, "cannot set up probes: %m");
        r->sig_watch = loop_add_fd(r->loop, r->sigfd, EPOLLIN, on_signal, r);
        if (!r->sig_watch)
                fatal(71, "epoll: %m");
        r->timer = loop_timer_new(r->loop, on_timer, r);
        run_arm_watchdog(r);
        loop_set_idle(r->loop, on_idle, r);
        log_set_hooks(log_want_write, log_congestion, r);
        log_set_nonblocking(true);
}

/* Warns when the descriptor limit cannot hold every worker of c (each has
 * its pidfd and a pipe per "log" stream) besides the clients of the control
 * socket and of the HTTP endpoint. */
void run_check_nofile(const struct conf *c)
{
        uint64_t limit = proc_nofile_limit();
        size_t need = 0, fit;

        /* a pipe per "log" or file stream (a file's own fd is shared: not counted) */
        for (size_t i = 0; i < c->n_workers; i++) {
                need++; /* its pidfd */
                for (int k = 0; k < 2; k++)
                        need += c->workers[i].out[k] == OUT_LOG || c->workers[i].out[k] == OUT_FILE;
        }
        if (c->n_workers == 0 || limit == 0 || limit == UINT64_MAX)
                return;
        fit = proc_workers_for_nofile(limit, (unsigned)((need + c->n_workers - 1) / c->n_workers), c->max_parallel,
                                      CONTROL_MAX_CLIENTS + (http_on(c->http_listen) ? HTTP_MAX_CLIENTS + 2 : 0));
        if (c->n_workers > fit)
                log_warning(NULL, "start", "descriptor limit %llu allows about %zu workers; this configuration has %zu",
                            (unsigned long long)limit, fit, c->n_workers);
}

/* The control socket, before any worker starts: a live one of another
 * graced there is fatal (71). */
static void open_control(struct run *r, const char *configured)
{
        char *path = control_default_path(configured);
        int e = 0;

        if (!path)
                return;
        r->ctl = control_open(r->loop, path, &run_ctl_hooks, r, &e);
        if (!r->ctl && e == EADDRINUSE)
                fatal(71, "control socket %s: another graced is running there", path);
        if (!r->ctl && e != ENOSYS)
                fatal(71, "control socket %s: %s", path, strerror(e));
        free(path);
}

/* The HTTP endpoint, before any worker starts: an address that cannot be
 * bound is fatal (71), as for the control socket. */
void run_open_http(struct run *r, const char *configured)
{
        const char *addr = http_on(configured);
        int e = 0;

        if (!addr)
                return;
        r->http = http_open(r->loop, addr, &run_http_hooks, r, &e);
        if (!r->http)
                fatal(71, "http_listen %s: %s", addr, http_strerror(e));
        log_info(NULL, "http", "serving http://%s/metrics, /readyz and /livez", addr);
}

void run_tear_down(struct run *r)
{
        pid_t *pids;
        size_t n;

        r->nsrv = notify_server_close(r->nsrv);
        close_retired(r);
        r->ctl = control_close(r->ctl); /* `logs -f` readers get what is left, then EOF */
        r->http = http_close(r->http); /* it reads the supervisor */
        log_set_tap(NULL, NULL);
        /* empty (every child was reaped, its pidfd released), but after a
         * state that could not be adopted; before the workers go (a
         * worker's watch is in its struct wmech) */
        pids = watched_pids(r, &n);
        for (size_t i = 0; i < n; i++)
                unwatch_pid(r, pids[i]);
        free(pids);
        r->sup = sup_free(r->sup); /* forgets every worker: op_forget() */
        r->logbuf = logbuf_free(r->logbuf);
        r->probes = probes_free(r->probes);
        while (r->hookstats)
                hookstat_free(r->hookstats);
        hmap_done(&r->pidwatches);
        loop_timer_free(r->timer);
        loop_timer_free(r->wd_timer);
        r->sig_watch = loop_del_fd(r->sig_watch);
        r->log_watch = loop_del_fd(r->log_watch);
        log_set_hooks(NULL, NULL, NULL);
        log_flush_all();
        log_set_nonblocking(false);
        loop_free(r->loop);
        safe_close(r->sigfd);
        safe_close(r->devnull_w);
        proc_done();
        free(r->report_path);
        free(r->exe);
        strv_free(r->argv);
        json_object_put(r->state);
}

void run_init_reexec(struct run *r, const struct run_opts *o)
{
        size_t n = 0;

        /* now: once the package replaced the file, /proc/self/exe says "(deleted)" */
        r->exe = proc_self_exe();
        r->argv = xcalloc(strv_length(o->argv) + 1, sizeof(char *));
        for (char *const *a = o->argv; a && *a; a++)
                if (strncmp(*a, STATE_FD_OPTION "=", strlen(STATE_FD_OPTION) + 1) != 0)
                        r->argv[n++] = xstrdup(*a);
}

int run_serve(struct run *r)
{
        int e;

        on_idle(r);
        /* give back what parsing and the first spawns left in the heap; what
         * the state left, once the loop has served the workers (below) */
        if (!r->trim)
                malloc_trim(0);
        while (!r->done) {
                e = loop_run_once(r->loop);
                if (e < 0) {
                        /* epoll_wait cannot fail with valid arguments; do not spin */
                        log_error(NULL, "loop", "epoll_wait: %s", strerror(-e));
                        break;
                }
        }
        run_tear_down(r);
        return r->exit_code;
}

int run_main(struct conf *c, struct plan *p, const struct run_opts *o)
{
        struct run r = { .sigfd = -1, .devnull_w = -1, .config_path = o->config_path, .pidwatches = HMAP_INIT_INT,
                         .reap_any = o->subreaper || getpid() == 1 };

        run_init_reexec(&r, o);
        r.started_real = now_real();
        r.report_override = o->report_path;
        r.report_path = xstrdup(o->report_path ? o->report_path : c->report_file);
        run_set_up(&r, o);
        run_check_nofile(c);
        r.logbuf = logbuf_new(c->log_buffer);
        log_set_tap(run_on_log_record, &r);
        open_control(&r, c->control_socket);
        run_open_http(&r, c->http_listen);
        r.sup = sup_new(c, p, &run_sup_ops, &r); /* takes p */
        log_set_name_width(sup_label_width(r.sup));
        /* the supervisor keeps its own copy: the parsed file is not needed any more */
        conf_free(c);
        sup_set_dev_mode(r.sup, log_get_format() == LOG_FORMAT_DEV);
        sup_set_batched(r.sup, true);
        sup_start(r.sup);
        return run_serve(&r);
}
