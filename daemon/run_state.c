/* run_state.c - the mechanism of `gracectl reexec`. In the running graced:
 * the state written to a sealed memfd (state.h), exactly the descriptors
 * it names handed over (their close-on-exec cleared for the exec, set again
 * when the exec fails) and the program graced was started from exec'd with
 * the same arguments. In the graced that starts then: the state read and
 * checked, then adopted (processes, pipes with their partial lines,
 * sockets, clients) before anything else is done; or, when it cannot be,
 * every process it names stopped before graced exits 1. The policy's part
 * is sup_state.c's and worker.c's. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control.h"
#include "http.h"
#include "logbuf.h"
#include "outfile.h"
#include "log.h"
#include "notify.h"
#include "parse.h"
#include "proc.h"
#include "run_int.h"
#include "state.h"

/* ---- the request ----------------------------------------------------------------- */

int run_request_reexec(void *ctx, const char **why)
{
        struct run *r = ctx;

        if (r->reexec_requested) {
                *why = "a reexec is already under way";
                return -EBUSY;
        }
        if (sup_shutting_down(r->sup)) {
                *why = "shutting down";
                return -EBUSY;
        }
        if (!r->exe) {
                *why = "the path of graced's program is not known (no /proc/self/exe at start)";
                return -ENOENT;
        }
        r->reexec_requested = true;
        r->reexec_began = now_mono();
        return 0;
}

/* ---- writing the state -------------------------------------------------------------- */

static struct json_object *pair(int64_t a, int64_t b)
{
        struct json_object *e = json_object_new_array_ext(2);

        json_object_array_add(e, json_object_new_int64(a));
        json_object_array_add(e, json_object_new_int64(b));
        return e;
}

struct children {
        struct json_object *a;
        struct state_fds *fds;
};

static void save_child(pid_t pid, int pidfd, void *data)
{
        struct children *c = data;

        json_object_array_add(c->a, pair(pid, pidfd));
        state_fds_add(c->fds, pidfd);
}

/* Worker and hook pipes: [FD, STREAM, WORKER, EPOCH, RUN, NAME, PENDING,
 * FILE] each (arrays: thousands of them are read in the exec's window); WORKER
 * -1 for a hook's (or a worker forgotten by a reload), then NAME is the
 * name its lines are logged under (null: the worker's); PENDING the
 * bytes not logged or written yet, base64 (null: none: see
 * output_pending()); FILE the path of a file stream's file (stdout =
 * "/path"; null: a log stream), opened again by the new graced, which
 * writes those bytes there first. */
static struct json_object *save_streams(struct state_fds *fds)
{
        struct json_object *a = json_object_new_array();

        for (struct output_stream *os = output_next(NULL); os; os = output_next(os)) {
                struct json_object *e = json_object_new_array_ext(8);
                struct stream_ref *ref = output_data(os);
                struct worker *w = ref ? ref->m->w : NULL;
                size_t plen;
                const char *pending = output_pending(os, &plen);

                state_fds_add(fds, output_fd(os));
                json_object_array_add(e, json_object_new_int(output_fd(os)));
                json_object_array_add(e, json_object_new_int(output_stream_index(os)));
                json_object_array_add(e, json_object_new_int64(w ? (int64_t)worker_index(w) : -1));
                json_object_array_add(e, json_object_new_int64(w ? ref->epoch : 0));
                json_object_array_add(e, json_object_new_int64(w ? ref->run : 0));
                json_object_array_add(e, w ? NULL : state_str_new(output_name(os)));
                json_object_array_add(e, pending ? state_bytes_new(pending, plen) : NULL);
                json_object_array_add(e, output_file(os) ? state_str_new(outfile_path(output_file(os))) : NULL);
                json_object_array_add(a, e);
        }
        return a;
}

/* The exec-status pipes not read yet: workers' ([index, fd]) and hooks'. */
static void save_status_pipes(struct run *r, struct json_object *o, struct state_fds *fds)
{
        struct json_object *ws = json_object_new_array(), *hs = json_object_new_array();

        for (size_t i = 0; i < sup_n_workers(r->sup); i++) {
                struct wmech *m = worker_mech(sup_worker(r->sup, i));

                if (!m || m->status_fd < 0)
                        continue;
                json_object_array_add(ws, pair((int64_t)i, m->status_fd));
                state_fds_add(fds, m->status_fd);
        }
        for (struct hookstat *h = r->hookstats; h; h = h->next) {
                struct json_object *e = json_object_new_object();

                state_fds_add(fds, h->fd);
                state_add_int(e, "fd", h->fd);
                state_add(e, "who", state_str_new(h->who));
                state_add(e, "label", state_str_new(h->label));
                state_add(e, "argv0", state_str_new(h->argv0));
                json_object_array_add(hs, e);
        }
        state_add(o, "status_pipes", ws);
        state_add(o, "hookstats", hs);
}

static struct json_object *save_run(struct run *r, struct state_fds *fds, int log_fd)
{
        struct json_object *o = json_object_new_object();
        struct children ch = { .a = json_object_new_array(), .fds = fds };

        state_add_usec(o, "started_real", r->started_real);
        state_add(o, "report_path", state_str_new(r->report_path));
        state_add_bool(o, "reap_any", r->reap_any);
        state_add_usec(o, "reexec_began", r->reexec_began);
        state_add_usec(o, "last_read", r->reexec_last_read);
        /* exec probes ended by sup_prepare_reexec(), not reaped yet */
        probes_each_unreaped(r->probes, save_child, &ch);
        state_add(o, "children", ch.a);
        state_add(o, "streams", save_streams(fds));
        save_status_pipes(r, o, fds);
        if (log_fd >= 0) {
                state_add_int(o, "log_records", log_fd);
                state_fds_add(fds, log_fd);
        }
        return o;
}

static struct json_object *save_proc(void)
{
        struct json_object *o = json_object_new_object(), *a = NULL;
        uint64_t cur, max;

        /* what children get back: the limit the first graced found */
        if (proc_orig_nofile(&cur, &max)) {
                a = json_object_new_array();
                json_object_array_add(a, state_usec_new(cur));
                json_object_array_add(a, state_usec_new(max));
        }
        state_add(o, "nofile", a);
        return o;
}

/* The records `gracectl logs` reads, in a memfd of their own (megabytes
 * of them would make a JSON text slow to write and to read): its fd, or -1
 * (none, or they could not be written: said in the log; the reexec goes
 * on without them). */
static int save_log_records(struct run *r)
{
        size_t len;
        char *img = logbuf_save(r->logbuf, &len);
        int fd = img ? state_blob_write("graced-logs", img, len) : -1;

        if (img && fd < 0)
                log_warning(NULL, "reexec", "cannot hand over the log records: %s; they are dropped", strerror(-fd));
        free(img);
        return fd < 0 ? -1 : fd;
}

/* The body and the processes of its head; fds: what it hands over. */
static struct json_object *save_state(struct run *r, struct state_fds *fds, struct state_proc **procs, size_t *n,
                                      int *log_fd)
{
        struct json_object *body = json_object_new_object(), *conf;

        sup_save(r->sup, body);
        /* the configuration in force as the run holds it */
        conf = json_object_object_get(body, "conf");
        state_add(conf, "report_file", state_str_new(r->report_override ? NULL : r->report_path));
        state_add(conf, "control_socket", state_str_new(r->ctl ? control_path(r->ctl) : ""));
        state_add(conf, "http_listen", state_str_new(r->http ? http_address(r->http) : NULL));
        state_add_int(conf, "log_buffer", logbuf_limit(r->logbuf));
        *n = sup_state_procs(r->sup, procs);
        for (size_t i = 0; i < *n; i++)
                state_fds_add(fds, (*procs)[i].pidfd);
        /* the workers' sections are written: what they wrote meanwhile is
         * read now, so that the window in which nobody reads is the rest */
        output_read_before_exec();
        r->reexec_last_read = now_mono();
        *log_fd = save_log_records(r);
        state_add(body, "run", save_run(r, fds, *log_fd));
        if (r->ctl)
                state_add(body, "control", control_save(r->ctl, fds));
        if (r->http) {
                /* the listening socket only: its clients are dropped */
                struct json_object *ho = json_object_new_object();

                state_add(ho, "address", state_str_new(http_address(r->http)));
                state_add_int(ho, "fd", http_listen_fd(r->http));
                state_fds_add(fds, http_listen_fd(r->http));
                state_add(body, "http", ho);
        }
        state_add(body, "notify", notify_save(r->nsrv, fds));
        state_add(body, "proc", save_proc());
        state_add(body, "fds", state_fds_save(fds));
        return body;
}

/* graced's arguments, then the state's descriptor. */
static char **exec_argv(struct run *r, int state_fd)
{
        size_t n = strv_length(r->argv);
        char **argv = xcalloc(n + 2, sizeof *argv);

        for (size_t i = 0; i < n; i++)
                argv[i] = xstrdup(r->argv[i]);
        argv[n] = xasprintf("%s=%d", STATE_FD_OPTION, state_fd);
        return argv;
}

/* Writes the state and execs; returns only when that failed: why. */
static char *exec_with_state(struct run *r)
{
        struct state_fds fds = { 0 };
        struct state_proc *procs = NULL;
        size_t n = 0;
        int log_fd = -1;
        struct json_object *body = save_state(r, &fds, &procs, &n, &log_fd);
        int sfd = state_write(procs, n, control_reexec_fd(r->ctl), body, getenv(STATE_CORRUPT_ENV)), e = sfd;
        char **argv = sfd >= 0 ? exec_argv(r, sfd) : NULL;

        /* exactly these survive the exec; every other fd is close-on-exec */
        if (sfd >= 0 && (e = state_fds_cloexec(&fds, false)) == 0 && (e = fd_set_cloexec(sfd, false)) == 0) {
                log_flush_all(); /* every record so far is written before the exec */
                execv(r->exe, argv);
                e = -errno;
        }
        /* still here (what the exec would have thrown away is freed now) */
        (void)state_fds_cloexec(&fds, true);
        safe_close(sfd);
        safe_close(log_fd);
        strv_free(argv);
        state_fds_done(&fds);
        json_object_put(body);
        free(procs);
        return sfd < 0 ? xasprintf("cannot write the state: %s", strerror(-sfd)) : xasprintf("%s", strerror(-e));
}

void run_reexec_if_requested(struct run *r)
{
        char msg[96], *why, *answer;

        if (!r->reexec_requested)
                return;
        r->reexec_requested = false;
        if (sup_shutting_down(r->sup)) { /* a signal in this very iteration */
                control_reexec_done(r->ctl, "shutting down");
                return;
        }
        snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)now_mono());
        notify_send(msg);
        log_notice(NULL, "reexec", "re-executing %s", r->exe);
        sup_prepare_reexec(r->sup);
        control_logs_reexec(r->ctl); /* closed, even if the exec then fails */
        why = exec_with_state(r);
        /* still here: nothing was handed over, nothing changed */
        answer = xasprintf("cannot re-execute %s: %s", r->exe, why);
        log_error(NULL, "reexec", "%s; carrying on", answer);
        notify_send("READY=1");
        log_flush_all();
        control_reexec_done(r->ctl, answer);
        free(answer);
        free(why);
}

/* ---- adopting it ------------------------------------------------------------------- */

/* [A, B], two integers. */
static bool get_pair(struct state_rd *rd, struct json_object *e, const char *what, int64_t *a, int64_t *b)
{
        struct json_object *x, *y;

        if (!json_object_is_type(e, json_type_array) || json_object_array_length(e) != 2 ||
            !json_object_is_type(x = json_object_array_get_idx(e, 0), json_type_int) ||
            !json_object_is_type(y = json_object_array_get_idx(e, 1), json_type_int))
                return state_fail(rd, "%s: not a list of pairs", what);
        *a = json_object_get_int64(x);
        *b = json_object_get_int64(y);
        return true;
}

/* Every process of the supervisor's (workers, hooks) and the exec probes
 * left to reap: watched through their pidfds as before. */
static bool adopt_processes(struct run *r, struct json_object *ro, struct state_rd *rd, struct state_fdset *set)
{
        struct json_object *ch = state_get_arr(rd, ro, "children", STATE_OPTIONAL, INT32_MAX);
        struct state_proc *p = NULL;
        size_t n = sup_state_procs(r->sup, &p);

        for (size_t i = 0; i < n && state_take_fd(rd, set, p[i].pidfd); i++)
                run_watch_pid(r, p[i].pid, p[i].pidfd, NULL);
        free(p);
        for (size_t i = 0; ch && i < json_object_array_length(ch) && !rd->bad; i++) {
                int64_t pid, fd;
                struct pidwatch *pw;

                if (!get_pair(rd, json_object_array_get_idx(ch, i), "children", &pid, &fd))
                        break;
                if (pid <= 0 || pid > INT32_MAX || fd < -1 || fd > INT32_MAX)
                        return state_fail(rd, "children: out of range");
                if (!state_take_fd(rd, set, (int)fd))
                        break;
                pw = run_watch_pid(r, (pid_t)pid, (int)fd, NULL);
                if (pw)
                        pw->owned = true; /* nothing else knows of it: the watch closes its pidfd */
                else
                        safe_close((int)fd);
        }
        return !rd->bad;
}

/* Element i of the array e: an integer within [min, max]. */
static bool elem_int(struct state_rd *rd, struct json_object *e, size_t i, int64_t min, int64_t max, int64_t *ret)
{
        struct json_object *v = json_object_array_get_idx(e, i);

        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < min || json_object_get_int64(v) > max)
                return state_fail(rd, "streams: element %zu out of range", i);
        *ret = json_object_get_int64(v);
        return true;
}

static bool adopt_stream(struct run *r, struct json_object *e, struct state_rd *rd, struct state_fdset *set)
{
        int64_t x[5]; /* fd, stream, worker, epoch, run */
        static const int64_t lo[5] = { 0, 0, -1, 0, 0 }, hi[5] = { INT32_MAX, 1, INT32_MAX, UINT32_MAX, UINT32_MAX };
        struct worker *w = NULL;
        struct stream_ref *ref;
        struct output_stream *os;
        char *name = NULL, *pending = NULL, *path = NULL;
        struct outfile *file = NULL;
        size_t plen = 0;
        int err = 0;

        if (!json_object_is_type(e, json_type_array) ||
            (json_object_array_length(e) != 7 && json_object_array_length(e) != 8))
                state_fail(rd, "streams: not a list of [fd, stream, worker, epoch, run, name, pending, file]");
        for (size_t i = 0; i < 5 && !rd->bad; i++)
                elem_int(rd, e, i, lo[i], hi[i], &x[i]);
        if (!rd->bad && x[2] >= 0 && !(w = sup_worker(r->sup, (size_t)x[2])))
                state_fail(rd, "streams: no worker %lld", (long long)x[2]);
        state_str_value(rd, json_object_array_get_idx(e, 5), "streams: name", 4 * NAME_MAX_LEN, &name);
        if (!rd->bad && json_object_array_length(e) == 8)
                state_str_value(rd, json_object_array_get_idx(e, 7), "streams: file", PATH_MAX, &path);
        state_bytes_value(rd, json_object_array_get_idx(e, 6), "streams: pending",
                          path ? OUTPUT_FILE_PENDING_MAX : OUTPUT_RECORD_MAX, &pending, &plen);
        if (!rd->bad && !w && !name)
                state_fail(rd, "streams: a stream with neither worker nor name");
        if (!rd->bad && path && !(file = outfile_get(r->loop, path, &err)))
                log_error(w ? worker_name(w) : name, "reexec", "stdout/stderr %s: %s; its lines are logged", path,
                          strerror(err));
        if (state_take_fd(rd, set, rd->bad ? -1 : (int)x[0]) && !rd->bad) {
                ref = w ? run_stream_ref(r, w, (unsigned)x[3], (unsigned)x[4]) : NULL;
                os = output_adopt(r->loop, (int)x[0], file, w ? worker_name(w) : name, (int)x[1], pending, plen,
                                  run_on_stream_eof, ref);
                file = NULL; /* the stream's, or put by output_adopt() */
                if (!os)
                        free(ref), state_fail(rd, "streams: %s", strerror(errno));
                else if (ref)
                        run_stream_opened(os, ref, output_file(os) != NULL);
        }
        outfile_put(file);
        free(path);
        free(name);
        free(pending);
        return !rd->bad;
}

/* The exec-status pipes not read yet: a worker's says whether its exec
 * worked; a hook's, why it did not. */
static bool adopt_status_pipes(struct run *r, struct json_object *ro, struct state_rd *rd, struct state_fdset *set)
{
        struct json_object *ws = state_get_arr(rd, ro, "status_pipes", STATE_OPTIONAL, sup_n_workers(r->sup));
        struct json_object *hs = state_get_arr(rd, ro, "hookstats", STATE_OPTIONAL, INT32_MAX);

        for (size_t i = 0; ws && i < json_object_array_length(ws) && !rd->bad; i++) {
                int64_t idx, fd;
                struct wmech *m;

                if (!get_pair(rd, json_object_array_get_idx(ws, i), "status_pipes", &idx, &fd) || idx < 0 ||
                    (size_t)idx >= sup_n_workers(r->sup) || fd < 0 || fd > INT32_MAX ||
                    !state_take_fd(rd, set, (int)fd))
                        return state_fail(rd, "status_pipes: out of range");
                m = run_mech_of(r, sup_worker(r->sup, (size_t)idx));
                m->status_fd = (int)fd;
                /* when it cannot be watched, the exit tells (as at a spawn) */
                m->status_watch = loop_add_fd(r->loop, m->status_fd, EPOLLIN, run_on_status, m);
        }
        for (size_t i = 0; hs && i < json_object_array_length(hs) && !rd->bad; i++) {
                struct json_object *e = json_object_array_get_idx(hs, i);
                char *who = NULL, *label = NULL, *argv0 = NULL;
                int fd = -1;

                state_get_fd(rd, e, "fd", STATE_REQUIRED, &fd);
                state_get_str(rd, e, "who", STATE_OPTIONAL, NAME_MAX_LEN, &who);
                state_get_str(rd, e, "label", STATE_REQUIRED, 4 * NAME_MAX_LEN, &label);
                state_get_str(rd, e, "argv0", STATE_REQUIRED, SIZE_MAX, &argv0);
                if (!rd->bad && fd >= 0 && label && argv0 && state_take_fd(rd, set, fd))
                        run_add_hookstat(r, fd, who, label, argv0);
                else
                        state_fail(rd, "hookstats: not a list of hook status pipes");
                free(who);
                free(label);
                free(argv0);
        }
        return !rd->bad;
}

/* What needs no descriptor: the supervisor and the run's facts. */
static bool adopt_policy(struct run *r, struct json_object *body, struct state_rd *rd, struct conf **ret_conf)
{
        struct json_object *ro;
        bool reap_any = false;

        r->sup = sup_adopt(body, &run_sup_ops, r, ret_conf, rd);
        ro = state_get_obj(rd, body, "run", STATE_REQUIRED);
        state_get_usec(rd, ro, "started_real", STATE_REQUIRED, &r->started_real);
        state_get_str(rd, ro, "report_path", STATE_OPTIONAL, SIZE_MAX, &r->report_path);
        state_get_bool(rd, ro, "reap_any", STATE_OPTIONAL, &reap_any);
        state_get_usec(rd, ro, "reexec_began", STATE_OPTIONAL, &r->reexec_began);
        state_get_usec(rd, ro, "last_read", STATE_OPTIONAL, &r->reexec_last_read);
        r->reap_any |= reap_any;
        /* the sections read once the loop exists, checked now */
        (void)state_get_obj(rd, body, "control", STATE_OPTIONAL);
        (void)state_get_obj(rd, body, "notify", STATE_OPTIONAL);
        (void)state_get_obj(rd, body, "http", STATE_OPTIONAL);
        (void)state_get_obj(rd, body, "proc", STATE_OPTIONAL);
        (void)state_get_arr(rd, ro, "streams", STATE_OPTIONAL, INT32_MAX);
        return !rd->bad;
}

static void adopt_nofile(struct json_object *po, struct state_rd *rd)
{
        struct json_object *a = state_get_arr(rd, po, "nofile", STATE_OPTIONAL, 2);
        int64_t cur, max;

        if (a && get_pair(rd, a, "nofile", &cur, &max) && cur >= 0 && max >= 0)
                proc_set_orig_nofile((uint64_t)cur, (uint64_t)max);
}

/* The HTTP endpoint's listening socket: it goes on taking connections
 * (those waiting in its backlog across the exec are served). When it
 * cannot be served again the endpoint is off, said in the log. */
static void adopt_http(struct run *r, struct json_object *ho, struct state_rd *rd, struct state_fdset *set)
{
        char *addr = NULL;
        int fd = -1, e = 0;

        state_get_str(rd, ho, "address", STATE_REQUIRED, 4096, &addr);
        state_get_fd(rd, ho, "fd", STATE_REQUIRED, &fd);
        if (!rd->bad && state_take_fd(rd, set, fd)) {
                r->http = http_adopt(r->loop, addr, fd, &run_http_hooks, r, &e);
                if (!r->http)
                        log_error(NULL, "reexec", "http_listen %s: %s; the HTTP endpoint is off", addr,
                                  http_strerror(e));
        }
        free(addr);
}

/* The records `gracectl logs` reads, from the memfd save_log_records()
 * wrote. Not having them is no reason to stop every worker: a problem is
 * logged and the records begin anew. */
static void adopt_log_records(struct run *r, struct json_object *body, struct state_rd *rd, struct state_fdset *set)
{
        struct json_object *ro = json_object_object_get(body, "run");
        char why[256], *img;
        size_t len;
        int fd = -1;

        if (!state_get_fd(rd, ro, "log_records", STATE_OPTIONAL, &fd) || fd < 0 || !state_take_fd(rd, set, fd))
                return;
        if (state_blob_read(fd, &img, &len, why, sizeof why) == 0) {
                if (logbuf_load(r->logbuf, img, len, why, sizeof why))
                        why[0] = 0;
                free(img);
        }
        if (why[0])
                log_warning(NULL, "reexec", "the log records kept before cannot be read (%s); they begin anew", why);
        safe_close(fd);
}

/* The descriptors, into the loop run_set_up() made. */
static bool adopt_mechanism(struct run *r, struct json_object *body, struct state_rd *rd, struct state_fdset *set)
{
        struct json_object *ro = json_object_object_get(body, "run");
        struct json_object *streams = json_object_object_get(ro, "streams");
        struct json_object *co = json_object_object_get(body, "control");
        struct json_object *no = json_object_object_get(body, "notify");
        struct json_object *po = json_object_object_get(body, "proc");
        struct json_object *ho = json_object_object_get(body, "http");

        if (po)
                adopt_nofile(po, rd);
        adopt_processes(r, ro, rd, set);
        for (size_t i = 0; streams && i < json_object_array_length(streams) && !rd->bad; i++)
                adopt_stream(r, json_object_array_get_idx(streams, i), rd, set);
        adopt_status_pipes(r, ro, rd, set);
        if (co && !rd->bad)
                r->ctl = control_adopt(r->loop, co, &run_ctl_hooks, r, rd, set);
        if (no && !rd->bad)
                notify_adopt(no, r->loop, run_on_notify_msg, r, rd, set, &r->nsrv);
        if (ho && !rd->bad)
                adopt_http(r, ho, rd, set);
        run_arm_watchdog(r);
        return !rd->bad;
}

/* Adopted: the supervisor runs on from where it was; whoever asked for
 * the reexec hears it now that this graced serves. */
static void adopted(struct run *r, const struct conf *c)
{
        size_t n = sup_n_workers(r->sup);
        char b[32], b2[32];
        usec_t t;

        if (log_get_format() == LOG_FORMAT_DEV)
                for (size_t i = 0; i < c->n_workers; i++)
                        log_add_name(c->workers[i].name);
        log_set_name_width(sup_label_width(r->sup));
        sup_set_dev_mode(r->sup, log_get_format() == LOG_FORMAT_DEV);
        sup_set_batched(r->sup, true);
        run_check_nofile(c);
        /* exits during the exec: the kernel kept them for us */
        run_reap_watched(r);
        t = now_mono();
        log_notice(NULL, "reexec", "re-executed %s: %zu worker%s adopted in %s (output unread for %s)",
                   r->exe ? r->exe : "graced", n, n == 1 ? "" : "s", r->reexec_began ? dur(t - r->reexec_began, b) : "?",
                   r->reexec_last_read && r->reexec_last_read != USEC_INFINITY ? dur(t - r->reexec_last_read, b2) : "?");
        notify_send("READY=1");
        log_flush_all(); /* by the time gracectl hears of it, the log says so */
        control_reexec_done(r->ctl, NULL);
        r->trim = true;
}

/* ---- a state that cannot be adopted ------------------------------------------------
 * Every process the head names is stopped as a shutdown would stop it: its
 * stop signal (its group too, with kill_mode = "group"), SIGKILL after its
 * stop_timeout; once its leader is gone, what is left of its group gets
 * SIGKILL (its zombie still holds the group's id); then every other child. */

#define RESCUE_KILL_WAIT (5 * USEC_PER_SEC) /* after SIGKILL: a process in uninterruptible sleep is left */

struct victim {
        pid_t pid;
        int pidfd; /* our own */
        bool group, killed, gone;
        bool draining; /* its leader is gone (a zombie, not reaped: the group's id stays), the rest killed */
        usec_t deadline;
};

static bool has_exited(pid_t pid)
{
        siginfo_t si = { 0 };

        return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid != 0;
}

static void start_victims(const struct state_proc *p, size_t n, struct victim *v)
{
        usec_t t = now_mono();

        for (size_t i = 0; i < n; i++) {
                v[i] = (struct victim){ .pid = p[i].pid, .pidfd = -1, .group = p[i].group,
                                        .deadline = t + p[i].stop_timeout };
                /* never a process that is not ours: a bad state may be wrong about anything */
                if (!proc_is_child(v[i].pid)) {
                        v[i].gone = true;
                        continue;
                }
                /* ours and not reaped: its pid cannot have been reused */
                v[i].pidfd = (int)syscall(SYS_pidfd_open, v[i].pid, 0);
                (void)proc_signal(v[i].pid, v[i].pidfd, p[i].stop_signal, v[i].group);
                if (p[i].stop_signal != SIGKILL)
                        (void)proc_signal(v[i].pid, v[i].pidfd, SIGCONT, v[i].group);
                else
                        v[i] = (struct victim){ .pid = v[i].pid, .pidfd = v[i].pidfd, .group = v[i].group,
                                                .killed = true, .deadline = t + RESCUE_KILL_WAIT };
        }
}

/* Its leader ended: what is left of its group gets SIGKILL, and the
 * leader is reaped once the group is empty (or at the deadline): then no
 * process of it is left. False once that is done. */
static bool drain_victim(struct victim *v, usec_t t, usec_t *next)
{
        if (!v->draining && v->group) {
                (void)proc_signal(v->pid, v->pidfd, SIGKILL, true);
                v->draining = true;
                v->deadline = t + RESCUE_KILL_WAIT;
        }
        if (v->group && proc_group_alive(v->pid) && t < v->deadline) {
                *next = MIN(*next, t + 10 * USEC_PER_MSEC); /* nothing tells when the group is empty */
                return true;
        }
        (void)waitpid(v->pid, NULL, 0);
        v->gone = true;
        return false;
}

/* One look at victim v at time t; false once it is gone. */
static bool watch_victim(struct victim *v, usec_t t, usec_t *next)
{
        if (v->gone)
                return false;
        if (v->draining || has_exited(v->pid))
                return drain_victim(v, t, next);
        if (!v->killed && t >= v->deadline) {
                log_warning(NULL, "reexec", "pid %d: killed after its stop_timeout", (int)v->pid);
                (void)proc_signal(v->pid, v->pidfd, SIGKILL, v->group);
                v->killed = true;
                v->deadline = t + RESCUE_KILL_WAIT;
        } else if (v->killed && t >= v->deadline) {
                log_error(NULL, "reexec", "pid %d: still there %s after SIGKILL; leaving it", (int)v->pid, "5s");
                v->gone = true;
                return false;
        }
        *next = MIN(*next, v->deadline);
        return true;
}

static void rescue_stop(const struct state_proc *p, size_t n)
{
        struct victim *v = xcalloc(n ? n : 1, sizeof *v);
        struct pollfd *pf = xcalloc(n ? n : 1, sizeof *pf);

        start_victims(p, n, v);
        for (;;) {
                usec_t t = now_mono(), next = t + 100 * USEC_PER_MSEC; /* pidfd-less ones: looked at again */
                size_t k = 0;

                /* a pidfd says when a process ends; a draining one's has said it */
                for (size_t i = 0; i < n; i++)
                        if (watch_victim(&v[i], t, &next))
                                pf[k++] = (struct pollfd){ .fd = v[i].draining ? -1 : v[i].pidfd, .events = POLLIN };
                if (k == 0)
                        break;
                (void)poll(pf, k, (int)((next - MIN(next, now_mono()) + USEC_PER_MSEC - 1) / USEC_PER_MSEC));
        }
        for (size_t i = 0; i < n; i++)
                safe_close(v[i].pidfd);
        free(pf);
        free(v);
}

/* Any child left (an orphan adopted as a subreaper, a process the state
 * did not name): SIGKILL, reaped. */
static void sweep_children(void)
{
        char path[64], buf[8192];
        ssize_t len;
        int fd;

        snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
        for (int round = 0; round < 16; round++) {
                fd = open(path, O_RDONLY | O_CLOEXEC);
                len = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
                safe_close(fd);
                if (len <= 0)
                        break;
                buf[len] = 0;
                for (char *s = buf, *end; *s; s = end) {
                        long pid = strtol(s, &end, 10);

                        if (end == s)
                                break;
                        /* its group too when it leads one (a worker, hook or probe does) */
                        struct state_proc p = { .pid = (pid_t)pid, .pidfd = -1, .stop_signal = SIGKILL,
                                                .group = getpgid((pid_t)pid) == (pid_t)pid };

                        rescue_stop(&p, 1);
                }
        }
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
}

/* What was made of the state, freed: the processes are gone by now. */
static void drop_adopted(struct run *r, const char *why)
{
        struct output_stream *os, *next;

        control_reexec_done(r->ctl, why);
        r->sup = sup_drop(r->sup);
        for (os = output_next(NULL); os; os = next) {
                next = output_next(os);
                run_on_stream_eof(os, output_data(os));
        }
        if (r->loop) {
                run_tear_down(r);
        } else {
                free(r->report_path);
                free(r->exe);
                strv_free(r->argv);
        }
}

/* The gracectl that asked, when no control socket was adopted to answer it. */
static void reply(int fd, const char *msg)
{
        struct json_object *o = json_object_new_object();
        struct stat st;
        size_t len;
        const char *s;
        char *line;

        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
                json_object_put(o);
                return;
        }
        state_add_bool(o, "ok", false);
        state_add(o, "error", json_text_new(msg));
        s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
        line = xasprintf("%s\n", s);
        (void)!send(fd, line, len + 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        free(line);
        json_object_put(o);
}

static int rescue(struct run *r, struct state_proc *procs, size_t n, int reply_fd, const char *why)
{
        char *st = xasprintf("STOPPING=1\nSTATUS=reexec failed: %s", why);

        log_error(NULL, "reexec", "cannot adopt the state: %s; stopping the %zu process%s it names", why, n,
                  n == 1 ? "" : "es");
        notify_send(st);
        free(st);
        rescue_stop(procs, n);
        sweep_children();
        st = xasprintf("the new graced could not adopt the state (%s): every worker was stopped", why);
        if (!r->ctl)
                reply(reply_fd, st);
        drop_adopted(r, st);
        free(st);
        log_error(NULL, "reexec", "every process stopped; exiting 1");
        log_flush_all();
        return 1;
}

/* STATE_GATE_ENV (tests): the window between the exec and the adoption,
 * held open. */
static void test_gate(void)
{
        const char *gate = getenv(STATE_GATE_ENV);
        char *waiting;
        int fd;

        if (!gate || !*gate)
                return;
        waiting = xasprintf("%s.waiting", gate);
        (void)!write_all(fd = open(waiting, O_WRONLY | O_CREAT | O_CLOEXEC, 0644), "waiting\n", 8);
        safe_close(fd);
        for (int i = 0; i < 3000 && access(gate, F_OK) < 0; i++)
                (void)poll(NULL, 0, 10);
        free(waiting);
}

int run_reexec_main(int state_fd, const struct run_opts *o)
{
        struct run r = { .sigfd = -1, .devnull_w = -1, .config_path = o->config_path, .pidwatches = HMAP_INIT_INT,
                         .reap_any = o->subreaper || getpid() == 1, .report_override = o->report_path };
        struct state_rd rd = { 0 };
        struct state_proc *procs = NULL;
        struct json_object *body = NULL;
        struct state_fdset *set = NULL;
        struct conf *c = NULL;
        char why[512] = "";
        size_t n = 0;
        int reply_fd = -1;
        bool ok;

        run_init_reexec(&r, o);
        test_gate();
        ok = state_read(state_fd, &procs, &n, &reply_fd, &body, why, sizeof why) == 0;
        safe_close(state_fd);
        /* everything is checked before anything is done */
        ok = ok && (set = state_fdset_adopt(body, &rd)) && adopt_policy(&r, body, &rd, &c);
        if (ok) {
                run_set_up(&r, o);
                r.logbuf = logbuf_new(c->log_buffer);
                adopt_log_records(&r, body, &rd, set);
                log_set_tap(run_on_log_record, &r);
                ok = adopt_mechanism(&r, body, &rd, set);
        }
        if (rd.bad)
                snprintf(why, sizeof why, "%s", rd.why);
        if (!ok) {
                int code;

                json_object_put(body);
                code = rescue(&r, procs, n, reply_fd, why);

                state_fdset_free(set, true);
                conf_free(c);
                free(procs);
                return code;
        }
        state_fdset_free(set, true); /* a section this graced does not know: not served */
        free(procs);
        r.state = body; /* freed once the loop has served the workers */
        adopted(&r, c);
        conf_free(c);
        return run_serve(&r);
}
