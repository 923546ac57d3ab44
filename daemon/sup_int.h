/* sup_int.h - the supervisor's insides, shared by sup.c, sup_reload.c,
 * sup_parts.c, sup_shutdown.c and sup_status.c only (everyone else goes
 * through sup.h). */
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
        /* the groups of instances: their templates as the configuration
         * gives them, each with the count of instances now (instances:
         * the file's, or what gracectl scale made it) */
        struct conf_worker *groups;
        size_t n_groups;
        struct hmap scaled_out; /* worker -> itself: removed by gracectl scale (sup_listed()) */
        struct plan *plan; /* its indices are w[]'s */
        /* per worker index: what a scheduling pass computes, and whether it
         * is in stop_seq */
        struct slot {
                bool down_above;  /* every dependent (transitively) is fully down */
                bool rdown_above; /* every dependent that stops or restarts is down */
                bool chain_ready; /* every dependency (transitively) is ready */
                bool in_stop_seq;
                bool has_parts; /* a dependent is part of it (part_of) */
                /* (32 bits: fewer than 2 x CONF_MAX_WORKERS indices; one slot per worker) */
                uint32_t failed_below; /* a dependency that failed for good, or NO_SLOT */
                uint32_t pos;          /* its place in the start order */
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
        /* shutdown_delay: a graceful shutdown asked for from outside first
         * drains (workers untouched) until the drain timer */
        usec_t shutdown_delay;
        bool draining;
        struct timer drain;
        /* exit_code_from (a worker's name), and the worker whose end began
         * the shutdown when it is that one: graced exits with its code */
        char *exit_code_from;
        struct worker *code_worker;
        bool by_stop_on_exit; /* a stop_on_exit worker's end began the shutdown */
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

#define NO_SLOT UINT32_MAX

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

/* The shutdown (sup_shutdown.c). */
/* It begins (sup.c): STOPPING=1, the budget from now, the reason; unless
 * drain, every worker's goal goes down (the ordered stop begins). */
void sup_begin_shutdown(struct sup *s, const char *reason, bool force, bool drain);
/* Every worker's goal goes down: the ordered stop begins. */
void sup_stop_all(struct sup *s);
/* The drain is over (its timer, or forcing: then the workers are left to
 * sup_force()). */
void sup_drain_end(struct sup *s, bool forced);
/* env->ended: stop_on_exit. */
void sup_on_ended(struct worker_env *env, struct worker *w);
/* What graced exits with once the shutdown is done. */
int sup_exit_code(const struct sup *s);

/* Editing the set of workers (sup_reload.c). */
/* A new worker for c (logged as "added" under what: "reload", "scale"); a
 * removed one of that name still known is forgotten first (seen[its
 * index] set). The caller checked that it is down (sup_stopping_as()). */
struct worker *sup_add_worker(struct sup *s, const struct conf_worker *c, bool *seen, const char *what);
/* A worker removed earlier is still stopping under this name. */
bool sup_stopping_as(struct sup *s, const char *name);
/* The workers become set[0..n) (the new set, in its order; set has room
 * for every worker of s->w too), then every old one that is not seen (by
 * its old index): those stop, goal remove (counted in *n_removed, logged
 * under what), unless they are down already (forgotten now). The plan is
 * built anew and a scheduling pass runs. */
void sup_replace_set(struct sup *s, struct worker **set, size_t n, const bool *seen, const char *what,
                     unsigned *n_removed);

/* Instances (sup_instances.c). */
/* The groups become c's templates, with their counts. */
void sup_groups_set(struct sup *s, const struct conf *c);
void sup_groups_free(struct sup *s);
/* For a removed instance w: the name of the removed instance of its group
 * with the next lower number still in s->w (it stops after w), or NULL. */
const char *sup_removed_below(struct sup *s, const struct worker *w);
/* start, stop, restart of every instance of the group name (fn as in
 * sup.c's operate()). */
void sup_group_operate(struct sup *s, const char *name, const char *what, void (*fn)(struct sup *, struct worker *));
/* sup_op_state() of one worker, and of a group (its instances together). */
int sup_worker_op_state(struct sup *s, struct worker *w, enum sup_op op);
int sup_group_op_state(struct sup *s, const char *name, enum sup_op op);
/* The configuration the plan is built from: the first n_new workers of
 * s->w (the configuration's), then the removed ones still stopping, each
 * keeping its ordering only against workers that remain. Shallow: the
 * workers' settings are borrowed; free with sup_merged_conf_free(). */
struct conf sup_merged_conf(struct sup *s, size_t n_new);
void sup_merged_conf_free(struct conf *m, size_t n_new);

/* part_of (sup_parts.c). */
/* Finds, for the plan just adopted, the workers that have parts. */
void sup_parts_index(struct sup *s);
/* A part of worker i is not fully down (false while i was never ready). */
bool sup_parts_busy(struct sup *s, size_t i);
/* The stop pass for worker i, before its "everything above is down": when
 * it is no longer ready (restart, failure, ended by itself) outside a
 * shutdown, its parts restart (stop, then start once it is ready again); a
 * failure stop waiting for them begins once they are down. */
void sup_parts_step(struct sup *s, size_t i);
/* env->parts_up */
bool sup_parts_up(struct worker_env *env, struct worker *w);
