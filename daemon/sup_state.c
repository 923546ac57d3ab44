/* sup_state.c - the supervisor across a reexec: the state's "conf" (the
 * configuration in force, not the file), "sup" and "workers" sections
 * (state.h), and a supervisor made again from them, its plan rebuilt with
 * plan_build(). Policy: no system calls; the descriptors are run_state.c's. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "state.h"
#include "sup_int.h"

void sup_prepare_reexec(struct sup *s)
{
        for (size_t i = 0; i < s->n; i++)
                worker_prepare_reexec(&s->env, W(s, i));
}

/* The workers of the configuration come first in s->w, then the removed
 * ones still stopping. */
static size_t n_configured(const struct sup *s)
{
        size_t n = 0;

        while (n < s->n && !worker_removed(W(s, n)))
                n++;
        return n;
}

/* The configuration in force, as the supervisor holds it. */
static struct json_object *conf_save(struct sup *s)
{
        size_t n_new = n_configured(s);
        struct conf m = sup_merged_conf(s, n_new);
        struct json_object *o;

        m.name = s->name;
        /* the default of the workers' ready_timeout, so that theirs need not
         * be written (the supervisor's own is not kept: its first worker's) */
        m.ready_timeout = s->n ? worker_conf(W(s, 0))->ready_timeout : 0;
        m.shutdown_timeout = s->shutdown_timeout;
        m.signal_debounce = s->signal_debounce;
        m.force_after = s->force_after;
        m.max_parallel = s->max_parallel;
        m.shutdown_delay = s->shutdown_delay;
        m.exit_code_from = s->exit_code_from;
        /* the groups with their counts now (gracectl scale's included) */
        m.templates = s->groups;
        m.n_templates = s->n_groups;
        m.n_cleanup = s->n_cleanup;
        m.cleanup = xcalloc(s->n_cleanup ? s->n_cleanup : 1, sizeof *m.cleanup);
        for (size_t i = 0; i < s->n_cleanup; i++)
                m.cleanup[i] = (struct conf_cleanup){ .name = (char *)s->cleanup[i].what, .argv = s->cleanup[i].argv,
                                                      .timeout = s->cleanup[i].timeout,
                                                      .shielded = s->cleanup[i].shielded };
        o = conf_to_json(&m);
        free(m.cleanup);
        sup_merged_conf_free(&m, n_new);
        return o;
}

static struct json_object *sup_section(const struct sup *s)
{
        struct json_object *o = json_object_new_object(), *seq = json_object_new_array(), *cl;

        state_add_bool(o, "started", s->started);
        state_add_bool(o, "ready_notified", s->ready_notified);
        state_add_bool(o, "critical_failed", s->critical_failed);
        state_add(o, "last_status", state_str_new(s->last_status));
        state_add_int(o, "accepted_signals", s->accepted_signals);
        state_add_usec(o, "last_signal", s->last_signal);
        for (size_t i = 0; i < s->n_stop_seq; i++)
                json_object_array_add(seq, json_object_new_int64((int64_t)worker_index(s->stop_seq[i])));
        state_add(o, "stop_seq", seq);
        cl = json_object_new_array();
        for (size_t i = 0; i < s->n_cleanup; i++)
                json_object_array_add(cl, hook_save(&s->cleanup[i]));
        state_add(o, "cleanup", cl);
        state_add_int(o, "cleanup_next", (int64_t)s->cleanup_next);
        return o;
}

void sup_save(struct sup *s, struct json_object *body)
{
        struct json_object *ws = json_object_new_array_ext((int)s->n);

        for (size_t i = 0; i < s->n; i++)
                json_object_array_add(ws, worker_save(W(s, i)));
        state_add(body, "conf", conf_save(s));
        state_add(body, "sup", sup_section(s));
        state_add(body, "workers", ws);
}

static void add_proc(struct state_proc **v, size_t *n, size_t *cap, struct state_proc p)
{
        if (*n == *cap)
                *v = xrealloc(*v, (*cap = *cap ? 2 * *cap : 64) * sizeof **v);
        (*v)[(*n)++] = p;
}

static void add_hook_proc(struct state_proc **v, size_t *n, size_t *cap, const struct hook_run *h)
{
        if (h && hook_busy(h))
                add_proc(v, n, cap,
                         (struct state_proc){ .pid = h->pid, .pidfd = h->pidfd, .stop_signal = SIGKILL, .group = true });
}

size_t sup_state_procs(struct sup *s, struct state_proc **ret)
{
        struct state_proc *v = NULL;
        size_t n = 0, cap = 0;

        for (size_t i = 0; i < s->n; i++) {
                struct worker *w = W(s, i);
                const struct conf_worker *c = worker_conf(w);

                if (worker_alive(w))
                        add_proc(&v, &n, &cap,
                                 (struct state_proc){ .pid = worker_pid(w), .pidfd = worker_pidfd(w),
                                                      .stop_signal = c->stop_signal, .stop_timeout = c->stop_timeout,
                                                      .group = c->kill_mode == KILL_GROUP });
                add_hook_proc(&v, &n, &cap, worker_pre_stop(w));
                add_hook_proc(&v, &n, &cap, worker_post_stop(w));
        }
        for (size_t i = 0; i < s->n_cleanup; i++)
                add_hook_proc(&v, &n, &cap, &s->cleanup[i]);
        *ret = v;
        return n;
}

/* ---- adopting ------------------------------------------------------------------ */

/* The "sup" section: flags, the stop order so far, the cleanup steps. */
static bool adopt_sup(struct sup *s, struct json_object *o, struct state_rd *rd)
{
        struct json_object *seq = state_get_arr(rd, o, "stop_seq", STATE_OPTIONAL, s->n);
        struct json_object *cl = state_get_arr(rd, o, "cleanup", STATE_OPTIONAL, s->n_cleanup);
        unsigned next = 0;

        state_get_bool(rd, o, "started", STATE_REQUIRED, &s->started);
        state_get_bool(rd, o, "ready_notified", STATE_OPTIONAL, &s->ready_notified);
        state_get_bool(rd, o, "critical_failed", STATE_OPTIONAL, &s->critical_failed);
        state_get_str(rd, o, "last_status", STATE_OPTIONAL, 64 * 1024, &s->last_status);
        state_get_uint(rd, o, "accepted_signals", STATE_OPTIONAL, UINT32_MAX, &s->accepted_signals);
        state_get_usec(rd, o, "last_signal", STATE_OPTIONAL, &s->last_signal);
        state_get_uint(rd, o, "cleanup_next", STATE_OPTIONAL, (unsigned)s->n_cleanup, &next);
        s->cleanup_next = next;
        for (size_t i = 0; seq && i < json_object_array_length(seq) && !rd->bad; i++) {
                struct json_object *e = json_object_array_get_idx(seq, i);
                int64_t k = json_object_get_int64(e);

                if (!json_object_is_type(e, json_type_int) || k < 0 || (size_t)k >= s->n || s->slot[k].in_stop_seq)
                        return state_fail(rd, "stop_seq: not a list of workers");
                s->slot[k].in_stop_seq = true;
                s->stop_seq[s->n_stop_seq++] = W(s, (size_t)k);
        }
        for (size_t i = 0; cl && i < json_object_array_length(cl) && !rd->bad; i++)
                hook_adopt(&s->env, &s->cleanup[i], json_object_array_get_idx(cl, i), rd);
        return !rd->bad;
}

/* The configuration and its plan. */
static struct conf *adopt_conf(struct json_object *body, struct plan **ret_plan, struct state_rd *rd)
{
        struct conf_diags d = { 0 };
        struct conf *c = conf_from_json(state_get_obj(rd, body, "conf", STATE_REQUIRED), rd);

        if (c && plan_build(c, ret_plan, &d) < 0) {
                char *msg = d.n ? conf_diag_format(&d.v[0]) : xstrdup("invalid plan");

                state_fail(rd, "conf: %s", msg);
                free(msg);
                conf_diags_clear(&d);
                c = conf_free(c);
        }
        return c;
}

struct sup *sup_drop(struct sup *s)
{
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n; i++)
                worker_disown(&s->env, W(s, i));
        for (size_t i = 0; i < s->n_cleanup; i++) {
                if (s->cleanup[i].pid)
                        hmap_del(&s->env.hook_pids, (uintptr_t)s->cleanup[i].pid);
                s->cleanup[i].pid = 0;
                s->cleanup[i].pidfd = -1;
        }
        return sup_free(s);
}

struct sup *sup_adopt(struct json_object *body, const struct sup_ops *ops, void *ctx, struct conf **ret_conf,
                      struct state_rd *rd)
{
        struct plan *p = NULL;
        struct conf *c = adopt_conf(body, &p, rd);
        struct json_object *ws, *so;
        struct sup *s;

        if (!c)
                return NULL;
        s = sup_new(c, p, ops, ctx); /* takes p */
        ws = state_get_arr(rd, body, "workers", STATE_REQUIRED, s->n);
        if (ws && json_object_array_length(ws) != s->n)
                state_fail(rd, "workers: %zu, the configuration has %zu", json_object_array_length(ws), s->n);
        for (size_t i = 0; ws && i < s->n && !rd->bad; i++)
                worker_adopt(&s->env, W(s, i), json_object_array_get_idx(ws, i), rd);
        so = state_get_obj(rd, body, "sup", STATE_REQUIRED);
        if (so)
                state_ctx(rd, "sup");
        if (so && adopt_sup(s, so, rd) && !sup_counts_ok(s))
                state_fail(rd, "the workers' counts do not add up");
        if (rd->bad) {
                conf_free(c);
                return sup_drop(s);
        }
        rd->ctx[0] = 0;
        sup_mark_all(s);
        *ret_conf = c;
        return s;
}
