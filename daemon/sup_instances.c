/* sup_instances.c - groups of instances (a worker with `instances`): their
 * templates and counts, an operation on every instance of a group, gracectl
 * scale (new instances added, removed ones stopped highest-numbered first,
 * one after another) and whether a scale is done. The set of workers is
 * edited as a reload edits it (sup_reload.c). Policy: no system calls. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "parse.h"
#include "sup_int.h"

void sup_groups_free(struct sup *s)
{
        for (size_t i = 0; i < s->n_groups; i++)
                conf_worker_done(&s->groups[i]);
        free(s->groups);
        s->groups = NULL;
        s->n_groups = 0;
}

void sup_groups_set(struct sup *s, const struct conf *c)
{
        sup_groups_free(s);
        s->groups = xcalloc(c->n_templates ? c->n_templates : 1, sizeof *s->groups);
        for (size_t i = 0; i < c->n_templates; i++)
                conf_worker_copy(&s->groups[i], &c->templates[i]);
        s->n_groups = c->n_templates;
}

static struct conf_worker *find_group(const struct sup *s, const char *name)
{
        for (size_t i = 0; i < s->n_groups; i++)
                if (strcmp(s->groups[i].name, name) == 0)
                        return &s->groups[i];
        return NULL;
}

const struct conf_worker *sup_group(const struct sup *s, const char *name) { return find_group(s, name); }

static bool of_group(const struct worker *w, const char *name)
{
        const char *g = worker_conf(w)->instance_of;

        return g && strcmp(g, name) == 0;
}

bool sup_listed(const struct sup *s, const struct worker *w)
{
        return !worker_removed(w) || (hmap_get(&s->scaled_out, (uintptr_t)w) && !worker_is_quiet(w));
}

const char *sup_removed_below(struct sup *s, const struct worker *w)
{
        const struct conf_worker *c = worker_conf(w);
        char name[2 * NAME_MAX_LEN];

        if (!c->instance_of)
                return NULL;
        for (unsigned k = c->instance; k-- > 1;) {
                struct worker *b;

                snprintf(name, sizeof name, "%s.%u", c->instance_of, k);
                b = hmap_get_str(&s->by_name, name);
                if (b && worker_removed(b) && of_group(b, c->instance_of))
                        return worker_name(b);
        }
        return NULL;
}

void sup_group_operate(struct sup *s, const char *name, const char *what, void (*fn)(struct sup *, struct worker *))
{
        log_notice(name, what, "%s requested (every instance)", what);
        for (size_t i = 0; i < s->n; i++)
                if (!worker_removed(W(s, i)) && of_group(W(s, i), name))
                        fn(s, W(s, i));
}

/* op's state over the instances of group name numbered from+1..to (see
 * sup_op_state()); with removed, one removed that still stops is an op
 * under way too. */
static int instances_state(struct sup *s, const char *name, enum sup_op op, unsigned from, unsigned to, bool removed)
{
        int r = 1;

        if (!find_group(s, name))
                return -ENOENT;
        for (size_t i = 0; i < s->n; i++) {
                struct worker *w = W(s, i);
                unsigned k = worker_conf(w)->instance;
                int one;

                if (!of_group(w, name))
                        continue;
                if (removed && worker_removed(w) && !worker_is_quiet(w))
                        return 0; /* still stopping */
                if (worker_removed(w) || k <= from || k > to)
                        continue;
                one = sup_worker_op_state(s, w, op);
                if (one == 0)
                        return 0;
                if (one < 0)
                        r = -1;
        }
        return r;
}

int sup_group_op_state(struct sup *s, const char *name, enum sup_op op)
{
        return instances_state(s, name, op, 0, UINT_MAX, false);
}

int sup_scale_state(struct sup *s, const char *name, unsigned from, unsigned to)
{
        return instances_state(s, name, SUP_OP_START, from, to, true);
}

/* ---- gracectl scale ------------------------------------------------------- */

/* What forbids scaling name to n now: -errno with *ret_err, or 0. */
static int scale_refused(struct sup *s, const char *name, unsigned n, char **ret_err)
{
        const struct conf_worker *g = find_group(s, name);

        if (!g && sup_find(s, name)) {
                *ret_err = xasprintf("%s is not instanced (set instances in its configuration to scale it)", name);
                return -EINVAL;
        }
        if (!g) {
                *ret_err = xasprintf("no such worker: %s", name);
                return -ENOENT;
        }
        if (n < 1 || n > CONF_MAX_INSTANCES) {
                *ret_err = xasprintf("the count must be 1 to %d", CONF_MAX_INSTANCES);
                return -EINVAL;
        }
        if (s->env.shutting_down) {
                *ret_err = xstrdup("shutting down");
                return -EBUSY;
        }
        if (n > g->instances && s->n + (n - g->instances) > CONF_MAX_WORKERS) {
                *ret_err = xasprintf("more than %d workers", CONF_MAX_WORKERS);
                return -E2BIG;
        }
        return 0;
}

/* Why the name of new instance k cannot be had: -errno with *ret_err, or 0. */
static int name_refused(struct sup *s, const char *name, char **ret_err)
{
        struct worker *w = hmap_get_str(&s->by_name, name);

        if (sup_stopping_as(s, name)) {
                *ret_err = xasprintf("%s is still stopping (removed earlier): try again once it is down", name);
                return -EBUSY;
        }
        if ((w && !worker_removed(w)) || find_group(s, name)) {
                *ret_err = xasprintf("cannot add %s: another worker has that name", name);
                return -EEXIST;
        }
        return 0;
}

static void first_problem(void *data, const char *key, const char *msg)
{
        char **err = data;

        if (!*err)
                *err = xstrdup(msg);
}

/* The settings of the instances from+1..to of template g (*ret, to - from
 * of them): 0, or -errno with *ret_err (the first problem). */
static int new_instances(struct sup *s, const struct conf_worker *g, unsigned from, unsigned to,
                         struct conf_worker **ret, char **ret_err)
{
        struct conf_worker *v = xcalloc(to > from ? to - from : 1, sizeof *v);
        char *why = NULL;
        unsigned made = 0;
        int r = 0;

        for (unsigned k = from + 1; k <= to && r == 0; k++) {
                r = conf_worker_instance(g, k, &v[made++], first_problem, &why);
                if (r < 0)
                        *ret_err = xasprintf("%s: %s", v[made - 1].name, why);
                else
                        r = name_refused(s, v[made - 1].name, ret_err);
        }
        free(why);
        if (r < 0) {
                while (made > 0)
                        conf_worker_done(&v[--made]);
                free(v);
                return r;
        }
        *ret = v;
        return 0;
}

/* The new set: every worker that stays, in its order, the new instances
 * (fresh, n_fresh) after the last instance of group name that stays;
 * seen[] marks the ones kept (and those forgotten already). */
static size_t scale_set(struct sup *s, const char *name, unsigned n, struct worker **fresh, size_t n_fresh,
                        struct worker **set, bool *seen)
{
        size_t k = 0, f = 0;

        for (size_t i = 0; i < s->n; i++) {
                struct worker *w = W(s, i);
                unsigned inst;

                if (seen[i] || worker_removed(w)) /* forgotten just now, or removed earlier */
                        continue;
                inst = worker_conf(w)->instance;
                if (of_group(w, name) && inst > n) {
                        hmap_put(&s->scaled_out, (uintptr_t)w, w); /* removed now: listed while it stops */
                        continue;
                }
                seen[i] = true;
                set[k++] = w;
                if (of_group(w, name) && inst == n - n_fresh)
                        while (f < n_fresh)
                                set[k++] = fresh[f++];
        }
        while (f < n_fresh) /* (the last instance is always there) */
                set[k++] = fresh[f++];
        return k;
}

int sup_scale(struct sup *s, const char *name, unsigned n, unsigned *ret_from, char **ret_err)
{
        struct conf_worker *g = find_group(s, name), *confs = NULL;
        struct worker **set, **fresh;
        unsigned from, removed = 0;
        size_t n_fresh;
        bool *seen;
        int r = scale_refused(s, name, n, ret_err);

        if (r < 0)
                return r;
        from = g->instances;
        n_fresh = n > from ? n - from : 0;
        if (n_fresh && (r = new_instances(s, g, from, n, &confs, ret_err)) < 0)
                return r;
        log_notice(name, "scale", "scaling from %u to %u instance%s", from, n, n == 1 ? "" : "s");
        seen = xcalloc(s->n ? s->n : 1, sizeof(bool));
        fresh = xcalloc(n_fresh ? n_fresh : 1, sizeof *fresh);
        for (size_t f = 0; f < n_fresh; f++) {
                fresh[f] = sup_add_worker(s, &confs[f], seen, "scale");
                conf_worker_done(&confs[f]);
        }
        free(confs);
        set = xcalloc(s->n + n_fresh + 1, sizeof *set);
        g->instances = n;
        sup_replace_set(s, set, scale_set(s, name, n, fresh, n_fresh, set, seen), seen, "scale", &removed);
        free(fresh);
        free(seen);
        *ret_from = from;
        return 0;
}
