/* plan.h - the dependency graph of a configuration: start order, stop
 * stages, cycle detection and the worst-case shutdown time; and the
 * configuration with its plan, loaded in one step (plan_load()). Pure: no
 * I/O except plan_print*() and the loading of plan_load*() (conf.c, envfile.c).
 * Indices refer to conf->workers[]. */
#pragma once

#include <stdio.h>
#include "conf.h"

/* deps and rdeps are one allocation, n_deps to stop_stage another. */
struct plan {
        size_t n;
        size_t **deps;    /* deps[i]: n_deps[i] indices worker i is `after` (NULL when none) */
        size_t *n_deps;
        size_t **rdeps;   /* rdeps[i]: workers that are `after` i (its dependents; NULL when none) */
        size_t *n_rdeps;
        size_t *start_order; /* n indices, topological, ties by definition order */
        size_t *start_stage; /* per worker: 0 for no deps, else 1 + max(stage of deps) */
        size_t *stop_stage;  /* per worker: 0 when no dependents, else 1 + max(stop_stage of rdeps) */
        size_t n_stop_stages;
};

/* Builds the graph. Unknown `after` names and cycles are appended to diags
 * ("FILE:LINE: worker \"web\": unknown worker \"nope\" in after", or "in
 * part_of" for a name of part_of, which conf.c adds to after;
 *  "FILE:LINE: dependency cycle: a -> b -> c -> a") and give -EINVAL. */
int plan_build(const struct conf *c, struct plan **ret, struct conf_diags *diags);
struct plan *plan_free(struct plan *p);

/* Loads path (conf_load_partial()) and builds its plan: returns 0 with
 * *ret_conf and *ret_plan (either may be NULL: not wanted), or -EINVAL with
 * every problem appended to diags, sorted by file, then line, and both
 * untouched. The dependency checks (unknown `after` names, cycles; a
 * part_of that names a oneshot) run over the workers that were kept even
 * when the file has other problems, so that one run reports everything.
 * With opts->env_files, the env_file files of the workers kept are read
 * as well (envfile_load()): each problem is one more diagnostic, named by
 * the env file (sorted after the configuration's own files). */
int plan_load(const char *path, const struct conf_load_opts *opts, struct conf **ret_conf, struct plan **ret_plan,
              struct conf_diags *diags);
/* plan_load() as graced itself uses it (start-up, --check, reload): the
 * file is checked first by plan_load() in a short-lived forked child
 * (conf_check_in_child(), CONF_CHECK_TIMEOUT), and only when the child
 * found nothing wrong is it loaded here; when no child can be made (fork
 * fails), it is loaded here directly. Same contract as plan_load(). */
int plan_load_isolated(const char *path, const struct conf_load_opts *opts, struct conf **ret_conf,
                       struct plan **ret_plan, struct conf_diags *diags);

/* Bound of stopping one worker: pre_stop_timeout (if pre_stop) +
 * stop_timeout + post_stop_timeout (if post_stop). */
usec_t plan_worker_bound(const struct conf_worker *w);
/* shutdown_delay, plus the longest stop path (sum of bounds along it), plus
 * every cleanup timeout. */
usec_t plan_worst_case(const struct conf *c, const struct plan *p);
/* What to give Kubernetes' terminationGracePeriodSeconds, docker's --time,
 * systemd's TimeoutStopSec=: the worst case rounded up to whole seconds,
 * plus 5 seconds. */
usec_t plan_suggested_grace(usec_t worst);

/* The --print-plan output (see graced(8), --print-plan). Returns true when
 * the worst case exceeds shutdown_timeout (a warning line was printed). */
bool plan_print(FILE *f, const struct conf *c, const struct plan *p);
/* --print-plan --format=json: one JSON document (see graced(8)):
 * {"start": [[names of stage 1], ...], "stop": [[...], ...], "cleanup":
 * [names], "worst_case_s": N, "shutdown_timeout_s": N,
 * "suggested_termination_grace_period_s": N, "warning": null or "text"}.
 * Returns true when the worst case exceeds shutdown_timeout. */
bool plan_print_json(FILE *f, const struct conf *c, const struct plan *p);
