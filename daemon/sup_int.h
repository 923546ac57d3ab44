/* sup_int.h - the supervisor's insides, shared by sup.c, sup_reload.c,
 * sup_parts.c and sup_status.c only (everyone else goes through sup.h). */
#pragma once

#include "hmap.h"
#include "plan.h"
#include "sup.h"
#include "worker.h"

struct sup {
        struct worker_env env; /* first: env->failed finds the supervisor */
        char *name;
        usec_t shutdown_timeout, signal_debounce;
        unsigned force_after, max_parallel;

        /* the configuration's workers in its order, then removed ones still stopping */
        struct worker **w;
        size_t n;
        struct hmap by_name; /* every worker in w[], by name (one per name) */
        struct plan *plan; /* its indices are w[]'s */
        /* per worker index: what a scheduling pass computes, and whether it
         * is in stop_seq */
        struct slot {
                bool down_above;  /* every dependent (transitively) is fully down */
                bool rdown_above; /* every dependent that stops or restarts is down */
                bool chain_ready; /* every dependency (transitively) is ready */
                bool in_stop_seq;
                bool has_parts; /* a dependent is part of it (part_of) */
                size_t failed_below; /* a dependency that failed for good, or SIZE_MAX */
                size_t pos;          /* its place in the start order */
                struct heap_node todo, wait; /* in stop_todo, slot_wait */
        } *slot;
        /* the stop pass looks only at the workers marked since the last one
         * (something of theirs or of a dependent changed), and at the ones
         * that wait for a free stop slot; both in reverse start order */
        struct heap stop_todo, slot_wait;

        bool started, ready_notified, dev_mode;
        bool finished, critical_failed;
        char *reason;
        usec_t shutdown_began;
        struct timer budget;
        unsigned accepted_signals;
        usec_t last_signal;

        struct hook_run *cleanup;
        size_t n_cleanup, cleanup_next;
        struct timer cleanup_dl;

        struct worker **stop_seq; /* the order workers began stopping in */
        size_t n_stop_seq;

        char *last_status;
        bool in_schedule, reschedule;
        bool batched, dirty;
};

static inline struct worker *W(const struct sup *s, size_t i) { return s->w[i]; }

/* One scheduling pass now (or, batched, at sup_flush()). */
void sup_schedule(struct sup *s);
/* Takes p for the workers of s->w (already in p's order); resets the
 * per-index state (stop order, pass results). */
void sup_adopt_plan(struct sup *s, struct plan *p);
void sup_drop_plan(struct sup *s);
/* Worker i is looked at by the next stop pass; sup_mark_all(): every one. */
void sup_mark(struct sup *s, size_t i);
void sup_mark_all(struct sup *s);
/* w and everything that depends on it, directly or not, go down (goal:
 * down, down-with or restart for w; down-with for the rest). */
void sup_mark_down(struct sup *s, struct worker *w, enum worker_goal goal);

/* The configuration the plan is built from: the first n_new workers of
 * s->w (the configuration's), then the removed ones still stopping, each
 * keeping its ordering only against workers that remain. Shallow: the
 * workers' settings are borrowed; free with sup_merged_conf_free(). */
struct conf sup_merged_conf(struct sup *s, size_t n_new);
void sup_merged_conf_free(struct conf *m, size_t n_new);

/* part_of (sup_parts.c). */
/* Finds, for the plan just adopted, the workers that have parts. */
void sup_parts_index(struct sup *s);
/* A part of worker i is not fully down. */
bool sup_parts_busy(struct sup *s, size_t i);
/* The stop pass for worker i, before its "everything above is down": when
 * it is no longer ready (restart, failure, ended by itself) outside a
 * shutdown, its parts restart (stop, then start once it is ready again); a
 * failure stop waiting for them begins once they are down. */
void sup_parts_step(struct sup *s, size_t i);
/* env->parts_up */
bool sup_parts_up(struct worker_env *env, struct worker *w);
