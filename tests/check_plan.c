/* check_plan.c - unit tests of the dependency graph (plan.c). */
#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "parse.h"
#include "plan.h"

#define SEC USEC_PER_SEC

/* A configuration in memory: names[i] is `after` the space-separated names
 * in afters[i]; worker i is defined at test.conf:(i+1)*10. */
static struct conf *mk(size_t n, const char *const *names, const char *const *afters)
{
        struct conf *c = xcalloc(1, sizeof(*c));

        c->path = xstrdup("test.conf");
        c->name = xstrdup("test");
        c->shutdown_timeout = 90 * SEC;
        c->max_parallel = 16;
        c->workers = xcalloc(n, sizeof(*c->workers));
        c->n_workers = n;
        for (size_t i = 0; i < n; i++) {
                struct conf_worker *w = &c->workers[i];
                char *copy, *tok, *save = NULL;
                size_t k = 0;

                w->name = xstrdup(names[i]);
                w->file = xstrdup("test.conf");
                w->line = (int)(i + 1) * 10;
                w->argv = xcalloc(2, sizeof(char *));
                w->argv[0] = xstrdup("/bin/true");
                w->umask = -1;
                w->stop_timeout = DEFAULT_STOP_TIMEOUT;
                w->pre_stop_timeout = DEFAULT_HOOK_TIMEOUT;
                w->post_stop_timeout = DEFAULT_HOOK_TIMEOUT;
                if (!afters || !afters[i])
                        continue;
                w->after = xcalloc(strlen(afters[i]) + 1, sizeof(char *));
                copy = xstrdup(afters[i]);
                for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
                        w->after[k++] = xstrdup(tok);
                free(copy);
        }
        return c;
}

static struct plan *build_ok(const struct conf *c)
{
        struct conf_diags d = { 0 };
        struct plan *p = NULL;

        ck_assert_int_eq(plan_build(c, &p, &d), 0);
        ck_assert_uint_eq(d.n, 0);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq(p->n, c->n_workers);
        return p;
}

static char *print(const struct conf *c, const struct plan *p, bool *warned)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        ck_assert_ptr_nonnull(f);
        *warned = plan_print(f, c, p);
        ck_assert_int_eq(fclose(f), 0);
        return buf;
}

static void assert_order(const struct plan *p, const size_t *want)
{
        for (size_t i = 0; i < p->n; i++)
                ck_assert_msg(p->start_order[i] == want[i], "start_order[%zu] = %zu, expected %zu", i,
                              p->start_order[i], want[i]);
}

START_TEST(test_chain)
{
        static const char *const names[] = { "a", "b", "c" };
        static const char *const afters[] = { NULL, "a", "b" };
        static const size_t order[] = { 0, 1, 2 };
        struct conf *c = mk(3, names, afters);
        struct plan *p = build_ok(c);
        bool warned;
        char *out;

        assert_order(p, order);
        ck_assert_uint_eq(p->n_deps[0], 0);
        ck_assert_uint_eq(p->n_deps[1], 1);
        ck_assert_uint_eq(p->deps[1][0], 0);
        ck_assert_uint_eq(p->deps[2][0], 1);
        ck_assert_uint_eq(p->n_rdeps[0], 1);
        ck_assert_uint_eq(p->rdeps[0][0], 1);
        ck_assert_uint_eq(p->rdeps[1][0], 2);
        ck_assert_uint_eq(p->n_rdeps[2], 0);
        ck_assert_uint_eq(p->start_stage[0], 0);
        ck_assert_uint_eq(p->start_stage[1], 1);
        ck_assert_uint_eq(p->start_stage[2], 2);
        ck_assert_uint_eq(p->stop_stage[0], 2);
        ck_assert_uint_eq(p->stop_stage[1], 1);
        ck_assert_uint_eq(p->stop_stage[2], 0);
        ck_assert_uint_eq(p->n_stop_stages, 3);
        /* three default stop timeouts in a row */
        ck_assert_uint_eq(plan_worst_case(c, p), 30 * SEC);

        out = print(c, p, &warned);
        ck_assert_str_eq(out, "start order:\n"
                              "  1. a\n"
                              "  2. b\n"
                              "  3. c\n"
                              "stop order:\n"
                              "  1. c\n"
                              "  2. b\n"
                              "  3. a\n"
                              "worst case: 30s\n");
        ck_assert(!warned);
        free(out);
        plan_free(p);
        conf_free(c);
}
END_TEST

START_TEST(test_diamond)
{
        static const char *const names[] = { "db", "cache", "queue", "web" };
        static const char *const afters[] = { NULL, "db", "db", "cache queue" };
        static const size_t order[] = { 0, 1, 2, 3 };
        struct conf *c = mk(4, names, afters);
        struct plan *p = build_ok(c);
        bool warned;
        char *out;

        assert_order(p, order);
        ck_assert_uint_eq(p->n_rdeps[0], 2);
        ck_assert_uint_eq(p->rdeps[0][0], 1);
        ck_assert_uint_eq(p->rdeps[0][1], 2);
        ck_assert_uint_eq(p->n_deps[3], 2);
        ck_assert_uint_eq(p->start_stage[3], 2);
        ck_assert_uint_eq(p->stop_stage[3], 0);
        ck_assert_uint_eq(p->stop_stage[1], 1);
        ck_assert_uint_eq(p->stop_stage[2], 1);
        ck_assert_uint_eq(p->stop_stage[0], 2);
        ck_assert_uint_eq(p->n_stop_stages, 3);

        /* web 2s, cache 4s, queue 1s, db 3s: the slow path is web-cache-db */
        c->workers[0].stop_timeout = 3 * SEC;
        c->workers[1].stop_timeout = 4 * SEC;
        c->workers[2].stop_timeout = 1 * SEC;
        c->workers[3].stop_timeout = 2 * SEC;
        ck_assert_uint_eq(plan_worst_case(c, p), 9 * SEC);

        c->shutdown_timeout = 8 * SEC;
        out = print(c, p, &warned);
        ck_assert_str_eq(out, "start order:\n"
                              "  1. db\n"
                              "  2. cache, queue\n"
                              "  3. web\n"
                              "stop order:\n"
                              "  1. web\n"
                              "  2. cache, queue\n"
                              "  3. db\n"
                              "worst case: 9s\n"
                              "warning: worst case 9s exceeds shutdown_timeout 8s\n");
        ck_assert(warned);
        free(out);
        plan_free(p);
        conf_free(c);
}
END_TEST

START_TEST(test_independent)
{
        static const char *const names[] = { "a", "b", "c" };
        static const size_t order[] = { 0, 1, 2 };
        struct conf *c = mk(3, names, NULL);
        struct plan *p = build_ok(c);
        bool warned;
        char *out;

        assert_order(p, order);
        for (size_t i = 0; i < 3; i++) {
                ck_assert_uint_eq(p->start_stage[i], 0);
                ck_assert_uint_eq(p->stop_stage[i], 0);
        }
        ck_assert_uint_eq(p->n_stop_stages, 1);
        c->workers[1].stop_timeout = 7 * SEC;
        ck_assert_uint_eq(plan_worst_case(c, p), 10 * SEC);
        c->workers[1].stop_timeout = 17 * SEC;
        ck_assert_uint_eq(plan_worst_case(c, p), 17 * SEC);

        out = print(c, p, &warned);
        ck_assert_str_eq(out, "start order:\n"
                              "  1. a, b, c\n"
                              "stop order:\n"
                              "  1. a, b, c\n"
                              "worst case: 17s\n");
        free(out);
        plan_free(p);
        conf_free(c);
}
END_TEST

START_TEST(test_definition_order_ties)
{
        /* web is defined first but needs db: db, then web (the earliest
         * defined of those ready), then cache */
        static const char *const names[] = { "web", "db", "cache" };
        static const char *const afters[] = { "db", NULL, NULL };
        static const size_t order[] = { 1, 0, 2 };
        struct conf *c = mk(3, names, afters);
        struct plan *p = build_ok(c);
        bool warned;
        char *out;

        assert_order(p, order);
        out = print(c, p, &warned);
        ck_assert_str_eq(out, "start order:\n"
                              "  1. db, cache\n"
                              "  2. web\n"
                              "stop order:\n"
                              "  1. web, cache\n"
                              "  2. db\n"
                              "worst case: 20s\n");
        free(out);
        plan_free(p);
        conf_free(c);
}
END_TEST

START_TEST(test_empty)
{
        struct conf *c = mk(0, NULL, NULL);
        struct plan *p = build_ok(c);
        bool warned;
        char *out;

        ck_assert_uint_eq(p->n_stop_stages, 0);
        ck_assert_uint_eq(plan_worst_case(c, p), 0);
        out = print(c, p, &warned);
        ck_assert_str_eq(out, "start order:\n"
                              "  (no workers)\n"
                              "stop order:\n"
                              "  (no workers)\n"
                              "worst case: 0\n");
        ck_assert(!warned);
        free(out);
        plan_free(p);
        conf_free(c);
}
END_TEST

START_TEST(test_duplicate_after)
{
        static const char *const names[] = { "a", "b" };
        static const char *const afters[] = { NULL, "a a" };
        struct conf *c = mk(2, names, afters);
        struct plan *p = build_ok(c);

        ck_assert_uint_eq(p->n_deps[1], 1);
        ck_assert_uint_eq(p->n_rdeps[0], 1);
        plan_free(p);
        conf_free(c);
}
END_TEST

static void expect_build_fails(const struct conf *c, const char *expected)
{
        struct conf_diags d = { 0 };
        struct plan *p = (struct plan *)0x1;
        char *got = xstrdup("");

        ck_assert_int_eq(plan_build(c, &p, &d), -EINVAL);
        ck_assert_ptr_eq(p, (struct plan *)0x1); /* untouched */
        for (size_t i = 0; i < d.n; i++) {
                char *line = conf_diag_format(&d.v[i]), *t = xasprintf("%s%s\n", got, line);
                free(line);
                free(got);
                got = t;
        }
        ck_assert_str_eq(got, expected);
        free(got);
        conf_diags_clear(&d);
}

START_TEST(test_cycle)
{
        static const char *const names[] = { "ok", "a", "b", "c" };
        static const char *const afters[] = { NULL, "c", "a", "b ok" };
        struct conf *c = mk(4, names, afters);

        expect_build_fails(c, "test.conf:20: dependency cycle: a -> c -> b -> a\n");
        conf_free(c);
}
END_TEST

START_TEST(test_cycle_named_from_first_defined)
{
        /* found from z (a tail into the cycle), named from x, the earliest
         * defined worker of the cycle; z itself is not part of it */
        static const char *const names[] = { "z", "y", "x" };
        static const char *const afters[] = { "y", "x", "y" };
        struct conf *c = mk(3, names, afters);

        expect_build_fails(c, "test.conf:20: dependency cycle: y -> x -> y\n");
        conf_free(c);
}
END_TEST

START_TEST(test_two_cycles)
{
        static const char *const names[] = { "a", "b", "c", "d", "e" };
        static const char *const afters[] = { "b", "a", NULL, "e", "d c" };
        struct conf *c = mk(5, names, afters);

        expect_build_fails(c, "test.conf:10: dependency cycle: a -> b -> a\n"
                              "test.conf:40: dependency cycle: d -> e -> d\n");
        conf_free(c);
}
END_TEST

START_TEST(test_self_cycle)
{
        static const char *const names[] = { "web" };
        static const char *const afters[] = { "web" };
        struct conf *c = mk(1, names, afters);

        expect_build_fails(c, "test.conf:10: dependency cycle: web -> web\n");
        conf_free(c);
}
END_TEST

START_TEST(test_unknown_after)
{
        static const char *const names[] = { "db", "web" };
        static const char *const afters[] = { NULL, "dbb network db" };
        struct conf *c = mk(2, names, afters);

        expect_build_fails(c, "test.conf:20: worker \"web\": unknown worker \"dbb\" in after; did you mean \"db\"?\n"
                              "test.conf:20: worker \"web\": unknown worker \"network\" in after\n");
        conf_free(c);
}
END_TEST

/* part_of implies after (conf.c puts its names there): an unknown name is
 * reported under part_of. */
START_TEST(test_unknown_part_of)
{
        static const char *const names[] = { "db", "web" };
        static const char *const afters[] = { NULL, "cache dbb network" };
        struct conf *c = mk(2, names, afters);

        c->workers[1].part_of = strv_dup((char *[]){ (char *)"dbb", (char *)"network", NULL });
        expect_build_fails(c, "test.conf:20: worker \"web\": unknown worker \"cache\" in after\n"
                              "test.conf:20: worker \"web\": unknown worker \"dbb\" in part_of; did you mean \"db\"?\n"
                              "test.conf:20: worker \"web\": unknown worker \"network\" in part_of\n");
        conf_free(c);
}
END_TEST

/* A part of a oneshot is refused when a file is loaded (check_conf), not by
 * plan_build(): a reload builds its plan from the new workers and the
 * removed ones still stopping, and that build must not fail. */
START_TEST(test_part_of_oneshot_builds)
{
        static const char *const names[] = { "migrate", "web" };
        static const char *const afters[] = { NULL, "migrate" };
        struct conf *c = mk(2, names, afters);
        struct plan *p;

        c->workers[0].type = WORKER_TYPE_ONESHOT;
        c->workers[1].part_of = strv_dup((char *[]){ (char *)"migrate", NULL });
        p = build_ok(c);
        ck_assert_uint_eq(p->n_deps[1], 1);
        plan_free(p);
        conf_free(c);
}
END_TEST

START_TEST(test_worker_bound)
{
        static const char *const names[] = { "w" };
        struct conf *c = mk(1, names, NULL);
        struct conf_worker *w = &c->workers[0];

        w->stop_timeout = 3 * SEC;
        w->pre_stop_timeout = 2 * SEC;
        w->post_stop_timeout = 1 * SEC;
        /* hook timeouts count only when the hook exists */
        ck_assert_uint_eq(plan_worker_bound(w), 3 * SEC);
        w->pre_stop = strv_dup((char *[]){ (char *)"/bin/true", NULL });
        ck_assert_uint_eq(plan_worker_bound(w), 5 * SEC);
        w->post_stop = strv_dup((char *[]){ (char *)"/bin/true", NULL });
        ck_assert_uint_eq(plan_worker_bound(w), 6 * SEC);
        strv_free(w->pre_stop);
        w->pre_stop = NULL;
        ck_assert_uint_eq(plan_worker_bound(w), 4 * SEC);
        w->stop_timeout = 0;
        ck_assert_uint_eq(plan_worker_bound(w), 1 * SEC);
        conf_free(c);
}
END_TEST

START_TEST(test_worst_case_cleanup)
{
        static const char *const names[] = { "db", "web" };
        static const char *const afters[] = { NULL, "db" };
        struct conf *c = mk(2, names, afters);
        struct plan *p = build_ok(c);
        bool warned;
        char *out;

        /* web: 2s pre_stop + 3s + 1s post_stop; db: 5s; cleanup 2s + 0.5s */
        c->workers[1].pre_stop = strv_dup((char *[]){ (char *)"/bin/true", NULL });
        c->workers[1].pre_stop_timeout = 2 * SEC;
        c->workers[1].stop_timeout = 3 * SEC;
        c->workers[1].post_stop = strv_dup((char *[]){ (char *)"/bin/true", NULL });
        c->workers[1].post_stop_timeout = 1 * SEC;
        c->workers[0].stop_timeout = 5 * SEC;
        c->cleanup = xcalloc(2, sizeof(*c->cleanup));
        c->n_cleanup = 2;
        c->cleanup[0] = (struct conf_cleanup){ .name = xstrdup("flush-queue"), .timeout = 2 * SEC, .shielded = true };
        c->cleanup[1] = (struct conf_cleanup){ .name = xstrdup("rm"), .timeout = 500 * USEC_PER_MSEC };
        ck_assert_uint_eq(plan_worst_case(c, p), 13500 * USEC_PER_MSEC);

        c->shutdown_timeout = 13500 * USEC_PER_MSEC; /* equal: no warning */
        out = print(c, p, &warned);
        ck_assert(!warned);
        ck_assert_str_eq(out, "start order:\n"
                              "  1. db\n"
                              "  2. web\n"
                              "stop order:\n"
                              "  1. web\n"
                              "  2. db\n"
                              "cleanup:\n"
                              "  1. flush-queue (2s, shielded)\n"
                              "  2. rm (500ms)\n"
                              "worst case: 13.5s\n");
        free(out);
        plan_free(p);
        conf_free(c);
}
END_TEST

/* shutdown_delay: the drain comes first and counts in the worst case. */
START_TEST(test_worst_case_delay)
{
        static const char *const names[] = { "db", "web" };
        static const char *const afters[] = { NULL, "db" };
        struct conf *c = mk(2, names, afters);
        struct plan *p = build_ok(c);
        bool warned;
        char *out;

        c->workers[0].stop_timeout = 5 * SEC;
        c->workers[1].stop_timeout = 3 * SEC;
        c->shutdown_delay = 2500 * USEC_PER_MSEC;
        ck_assert_uint_eq(plan_worst_case(c, p), 10500 * USEC_PER_MSEC);
        c->shutdown_timeout = 10 * SEC;
        out = print(c, p, &warned);
        ck_assert(warned);
        ck_assert_str_eq(out, "start order:\n"
                              "  1. db\n"
                              "  2. web\n"
                              "stop order:\n"
                              "  1. web\n"
                              "  2. db\n"
                              "shutdown delay: 2.5s\n"
                              "worst case: 10.5s\n"
                              "warning: worst case 10.5s exceeds shutdown_timeout 10s\n");
        free(out);
        plan_free(p);
        conf_free(c);
}
END_TEST

/* The worst case rounded up to whole seconds, plus 5. */
START_TEST(test_suggested_grace)
{
        ck_assert_uint_eq(plan_suggested_grace(0), 5 * SEC);
        ck_assert_uint_eq(plan_suggested_grace(1), 6 * SEC);
        ck_assert_uint_eq(plan_suggested_grace(18 * SEC), 23 * SEC);
        ck_assert_uint_eq(plan_suggested_grace(18 * SEC + 1), 24 * SEC);
        ck_assert_uint_eq(plan_suggested_grace(13500 * USEC_PER_MSEC), 19 * SEC);
}
END_TEST

/* --print-plan --format=json, parsed. */
static struct json_object *print_json(const struct conf *c, const struct plan *p, bool *warned)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        struct json_object *o;

        ck_assert_ptr_nonnull(f);
        *warned = plan_print_json(f, c, p);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_msg(len > 0 && buf[len - 1] == '\n', "one document and a newline");
        o = json_tokener_parse(buf);
        ck_assert_msg(o && json_object_is_type(o, json_type_object), "not a JSON object: %s", buf);
        free(buf);
        return o;
}

/* o[key] as compact JSON text, e.g. [["db","metrics"],["web"]]. */
static const char *jtext(struct json_object *o, const char *key)
{
        struct json_object *v;

        ck_assert_msg(json_object_object_get_ex(o, key, &v), "no \"%s\"", key);
        return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

START_TEST(test_print_json)
{
        const char *data = getenv("GRACED_TEST_DATA");
        struct conf_diags d = { 0 };
        struct conf *c = NULL;
        struct json_object *o;
        struct plan *p;
        char *path;
        bool warned;

        ck_assert_msg(data && data[0] == '/', "GRACED_TEST_DATA must be set to an absolute path");
        path = xasprintf("%s/plan/shop.conf", data);
        ck_assert_int_eq(conf_load(path, NULL, &c, &d), 0);
        p = build_ok(c);
        o = print_json(c, p, &warned);
        ck_assert(warned);
        ck_assert_int_eq(json_object_object_length(o), 7); /* exactly these keys */
        ck_assert_str_eq(jtext(o, "start"), "[[\"db\",\"metrics\"],[\"cache\",\"queue\"],[\"web\"]]");
        ck_assert_str_eq(jtext(o, "stop"), "[[\"web\",\"metrics\"],[\"cache\",\"queue\"],[\"db\"]]");
        ck_assert_str_eq(jtext(o, "cleanup"), "[\"flush-queue\",\"rm-pid\"]");
        ck_assert_str_eq(jtext(o, "worst_case_s"), "18");
        ck_assert_str_eq(jtext(o, "shutdown_timeout_s"), "10");
        ck_assert_str_eq(jtext(o, "suggested_termination_grace_period_s"), "23");
        ck_assert_str_eq(jtext(o, "warning"), "\"worst case 18s exceeds shutdown_timeout 10s\"");
        json_object_put(o);

        /* the drain counts; a fraction of a second; no warning: null */
        c->shutdown_delay = 2500 * USEC_PER_MSEC;
        c->shutdown_timeout = 30 * SEC;
        o = print_json(c, p, &warned);
        ck_assert(!warned);
        ck_assert_str_eq(jtext(o, "worst_case_s"), "20.5");
        ck_assert_double_eq(json_object_get_double(json_object_object_get(o, "worst_case_s")), 20.5);
        ck_assert_str_eq(jtext(o, "shutdown_timeout_s"), "30");
        ck_assert_str_eq(jtext(o, "suggested_termination_grace_period_s"), "26");
        ck_assert_str_eq(jtext(o, "warning"), "null");
        json_object_put(o);
        plan_free(p);
        conf_free(c);
        free(path);

        /* no workers */
        c = mk(0, NULL, NULL);
        p = build_ok(c);
        o = print_json(c, p, &warned);
        ck_assert_str_eq(jtext(o, "start"), "[]");
        ck_assert_str_eq(jtext(o, "stop"), "[]");
        ck_assert_str_eq(jtext(o, "cleanup"), "[]");
        ck_assert_str_eq(jtext(o, "worst_case_s"), "0");
        ck_assert_str_eq(jtext(o, "suggested_termination_grace_period_s"), "5");
        json_object_put(o);
        plan_free(p);
        conf_free(c);
}
END_TEST

START_TEST(test_print_loaded_config)
{
        const char *data = getenv("GRACED_TEST_DATA");
        char *path, *out;
        struct conf_diags d = { 0 };
        struct conf *c = NULL;
        struct plan *p;
        bool warned;

        ck_assert_msg(data && data[0] == '/', "GRACED_TEST_DATA must be set to an absolute path");
        path = xasprintf("%s/plan/shop.conf", data);
        ck_assert_int_eq(conf_load(path, NULL, &c, &d), 0);
        p = build_ok(c);
        /* web 2s + 3s, queue 1.5s, db 5s + 1s; cleanup 5s + 0.5s */
        ck_assert_uint_eq(plan_worst_case(c, p), 18 * SEC);
        out = print(c, p, &warned);
        ck_assert(warned);
        ck_assert_str_eq(out, "start order:\n"
                              "  1. db, metrics\n"
                              "  2. cache, queue\n"
                              "  3. web\n"
                              "stop order:\n"
                              "  1. web, metrics\n"
                              "  2. cache, queue\n"
                              "  3. db\n"
                              "cleanup:\n"
                              "  1. flush-queue (5s, shielded)\n"
                              "  2. rm-pid (500ms)\n"
                              "worst case: 18s\n"
                              "warning: worst case 18s exceeds shutdown_timeout 10s\n");
        free(out);
        plan_free(p);
        conf_free(c);
        free(path);
}
END_TEST

static char *data_file(const char *rel)
{
        const char *data = getenv("GRACED_TEST_DATA");

        ck_assert_msg(data && data[0] == '/', "GRACED_TEST_DATA must be set to an absolute path");
        return xasprintf("%s/%s", data, rel);
}

/* part_of orders and stops like after; --print-plan shows each worker's
 * probes and parts. */
START_TEST(test_print_probes)
{
        char *path = data_file("good/probes.conf"), *out;
        struct conf_diags d = { 0 };
        struct conf *c = NULL;
        struct plan *p = NULL;
        bool warned;

        ck_assert_int_eq(plan_load(path, NULL, &c, &p, &d), 0);
        /* web: after db, part of db and cache: after both, stopped first */
        ck_assert_uint_eq(p->n_deps[2], 2);
        ck_assert_uint_eq(p->deps[2][0], 0);
        ck_assert_uint_eq(p->deps[2][1], 1);
        ck_assert_uint_eq(p->n_rdeps[1], 1);
        ck_assert_uint_eq(p->rdeps[1][0], 2);
        ck_assert_uint_eq(p->stop_stage[2], 0);
        ck_assert_uint_eq(p->stop_stage[1], 1);
        out = print(c, p, &warned);
        ck_assert(!warned);
        ck_assert_str_eq(out, "start order:\n"
                              "  1. db, cache, api, plain\n"
                              "  2. web\n"
                              "stop order:\n"
                              "  1. web, api, plain\n"
                              "  2. db, cache\n"
                              "workers:\n"
                              "  db:\n"
                              "    ready: exec pg_isready -q every 250ms, timeout 1s\n"
                              "    health: tcp 127.0.0.1:5432 every 5s, timeout 500ms, 1 failure\n"
                              "  cache:\n"
                              "    ready: tcp [::1]:6379 every 100ms, timeout 2s\n"
                              "    health: unix /run/redis/redis.sock every 10s, timeout 1s, 3 failures\n"
                              "  web:\n"
                              "    ready: log \"listening on .*:[0-9]+$\" (each captured line)\n"
                              "    health: http https://localhost:8443/healthz every 10s, timeout 1s, 5 failures\n"
                              "    part of: db, cache\n"
                              "  api:\n"
                              "    ready: http http://127.0.0.1:8080/ready every 250ms, timeout 1s\n"
                              "    health: exec /usr/bin/api --check every 30s, timeout 1s, 3 failures\n"
                              "worst case: 20s\n");
        free(out);
        plan_free(p);
        conf_free(c);
        free(path);
}
END_TEST

/* A group's name in `after` and `part_of` stands for every instance: the
 * dependent starts after all of them and stops before any; each instance
 * orders against the template's `after` on its own. --print-plan (text and
 * JSON) names the instances. */
START_TEST(test_instances)
{
        static const char head[] = "start order:\n"
                                   "  1. db, one.1, probe.1, probe.2\n"
                                   "  2. web.1, web.2, web.3\n"
                                   "  3. lb\n"
                                   "stop order:\n"
                                   "  1. lb, one.1, probe.1, probe.2\n"
                                   "  2. web.1, web.2, web.3\n"
                                   "  3. db\n"
                                   "workers:\n"
                                   "  web.1:\n"
                                   "    ready: tcp 127.0.0.1:801 every 250ms, timeout 1s\n";
        char *path = data_file("good/instances.conf"), *out;
        struct conf_diags d = { 0 };
        struct conf *c = NULL;
        struct plan *p = NULL;
        struct json_object *o;
        bool warned;

        /* 0 db, 1-3 web.1-3, 4 lb, 5 one.1, 6-7 probe.1-2 */
        ck_assert_int_eq(plan_load(path, NULL, &c, &p, &d), 0);
        ck_assert_uint_eq(p->n_deps[4], 3);
        for (size_t k = 0; k < 3; k++) {
                ck_assert_uint_eq(p->deps[4][k], 1 + k);
                ck_assert_uint_eq(p->n_deps[1 + k], 1);
                ck_assert_uint_eq(p->deps[1 + k][0], 0);
                ck_assert_uint_eq(p->n_rdeps[1 + k], 1);
                ck_assert_uint_eq(p->rdeps[1 + k][0], 4);
                ck_assert_uint_eq(p->start_stage[1 + k], 1);
                ck_assert_uint_eq(p->stop_stage[1 + k], 1);
        }
        ck_assert_uint_eq(p->n_rdeps[0], 3);
        ck_assert_uint_eq(p->start_stage[4], 2);
        ck_assert_uint_eq(p->stop_stage[4], 0);
        ck_assert_uint_eq(p->stop_stage[0], 2);
        out = print(c, p, &warned);
        ck_assert_msg(strncmp(out, head, strlen(head)) == 0, "%s", out);
        ck_assert_ptr_nonnull(strstr(out, "  lb:\n    part of: web\n"));
        /* web.1-3: 10s + pre_stop 10s, after lb (10s), before db (10s) */
        ck_assert_ptr_nonnull(strstr(out, "worst case: 40s\n"));
        free(out);
        o = print_json(c, p, &warned);
        ck_assert_str_eq(jtext(o, "start"),
                         "[[\"db\",\"one.1\",\"probe.1\",\"probe.2\"],[\"web.1\",\"web.2\",\"web.3\"],[\"lb\"]]");
        ck_assert_str_eq(jtext(o, "stop"),
                         "[[\"lb\",\"one.1\",\"probe.1\",\"probe.2\"],[\"web.1\",\"web.2\",\"web.3\"],[\"db\"]]");
        json_object_put(o);
        plan_free(p);
        conf_free(c);
        free(path);
}
END_TEST

/* plan_build() on its own (the supervisor's merged plans): a group is the
 * workers whose instance_of names it, and it wins over a worker of that
 * name (one removed by a reload and still stopping); an instance without
 * instance_of is only itself. */
START_TEST(test_group_names)
{
        static const char *const names[] = { "web", "web.1", "web.2", "web.3", "lb" };
        static const char *const afters[] = { NULL, NULL, NULL, NULL, "web" };
        struct conf *c = mk(5, names, afters);
        struct plan *p;

        c->workers[1].instance_of = xstrdup("web");
        c->workers[1].instance = 1;
        c->workers[3].instance_of = xstrdup("web");
        c->workers[3].instance = 3;
        p = build_ok(c);
        ck_assert_uint_eq(p->n_deps[4], 2);
        ck_assert_uint_eq(p->deps[4][0], 1);
        ck_assert_uint_eq(p->deps[4][1], 3);
        ck_assert_uint_eq(p->n_rdeps[0], 0);
        ck_assert_uint_eq(p->n_rdeps[2], 0);
        plan_free(p);
        conf_free(c);
}
END_TEST

/* conf_load() reads the settings only: the dependencies between workers
 * are plan_load()'s, which gives the configuration and its plan. */
START_TEST(test_load_checks_dependencies)
{
        char *path = data_file("bad/cycle.conf"), *good = data_file("plan/shop.conf"), *want, *got;
        struct conf_diags d = { 0 };
        struct conf *c = NULL;
        struct plan *p = (struct plan *)0x1;

        ck_assert_int_eq(conf_load(path, NULL, &c, &d), 0);
        ck_assert_uint_eq(d.n, 0);
        ck_assert_uint_eq(c->n_workers, 4);
        c = conf_free(c);

        ck_assert_int_eq(plan_load(path, NULL, &c, &p, &d), -EINVAL);
        ck_assert_ptr_null(c);
        ck_assert_ptr_eq(p, (struct plan *)0x1); /* untouched */
        ck_assert_uint_eq(d.n, 1);
        want = xasprintf("%s:3: dependency cycle: a -> c -> b -> a", path);
        got = conf_diag_format(&d.v[0]);
        ck_assert_str_eq(got, want);
        free(got);
        free(want);
        conf_diags_clear(&d);
        /* only checking, no diagnostics wanted */
        ck_assert_int_eq(plan_load(path, NULL, NULL, NULL, NULL), -EINVAL);

        ck_assert_int_eq(plan_load(good, NULL, &c, &p, &d), 0);
        ck_assert_uint_eq(d.n, 0);
        ck_assert_uint_eq(p->n, c->n_workers);
        ck_assert_uint_eq(plan_worst_case(c, p), 18 * SEC);
        plan_free(p);
        conf_free(c);
        ck_assert_int_eq(plan_load(good, NULL, NULL, NULL, NULL), 0);
        free(path);
        free(good);
}
END_TEST

/* The model conf_load_partial() leaves for the dependency checks: the
 * workers kept, the names dropped, whether every name could be read. */
static const struct {
        const char *file;
        size_t n_workers;
        bool names_complete;
        const char *dropped; /* the one name dropped, or NULL */
} partial[] = {
        { "bad/invalid-name-cycle.conf", 3, true, "web server" },
        { "bad/missing-name-cycle.conf", 2, false, NULL },
};

START_TEST(test_load_partial)
{
        char *path = data_file(partial[_i].file);
        struct conf_diags d = { 0 };
        struct conf *c = NULL;

        ck_assert_int_eq(conf_load_partial(path, NULL, &c, &d), -EINVAL);
        ck_assert_uint_eq(d.n, 1);
        ck_assert_uint_eq(c->n_workers, partial[_i].n_workers);
        ck_assert(c->names_complete == partial[_i].names_complete);
        ck_assert_uint_eq(c->n_dropped_names, partial[_i].dropped ? 1 : 0);
        if (partial[_i].dropped)
                ck_assert_str_eq(c->dropped_names[0], partial[_i].dropped);
        ck_assert_uint_eq(c->n_files, 1);
        ck_assert_str_eq(c->files[0], path);
        conf_free(c);
        conf_diags_clear(&d);
        free(path);
}
END_TEST

/* plan_load() appends: what diags held stays first, the new ones sorted
 * by line, the cycle among them. */
START_TEST(test_load_appends_sorted)
{
        char *path = data_file("bad/sorted.conf"), *got = NULL, *want;
        struct conf_diags d = { 0 };

        conf_diags_add(&d, "z.conf", 99, "earlier %s", "problem");
        ck_assert_int_eq(plan_load(path, NULL, NULL, NULL, &d), -EINVAL);
        for (size_t i = 0; i < d.n; i++) {
                char *line = conf_diag_format(&d.v[i]);
                str_appendf(&got, "%s\n", line);
                free(line);
        }
        want = xasprintf("z.conf:99: earlier problem\n"
                         "%1$s:4: dependency cycle: a -> b -> a\n"
                         "%1$s:7: worker \"c\": missing command\n"
                         "%1$s:8: worker \"c\": unknown signal \"NOPE\" in stop_signal\n"
                         "%1$s:12: supervisor: max_parallel must be >= 1\n",
                         path);
        ck_assert_str_eq(got, want);
        free(got);
        free(want);
        conf_diags_clear(&d);
        free(path);
}
END_TEST

START_TEST(test_large)
{
        /* a long chain and a wide fan-in stay fast */
        enum { N = 2000 };
        const char **names = xcalloc(N, sizeof(char *)), **afters = xcalloc(N, sizeof(char *));
        struct conf *c;
        struct plan *p;

        for (size_t i = 0; i < N; i++) {
                names[i] = xasprintf("w%zu", i);
                afters[i] = i ? xasprintf("w%zu", i - 1) : NULL;
        }
        c = mk(N, names, afters);
        p = build_ok(c);
        ck_assert_uint_eq(p->n_stop_stages, N);
        ck_assert_uint_eq(p->start_order[N - 1], N - 1);
        ck_assert_uint_eq(plan_worst_case(c, p), N * DEFAULT_STOP_TIMEOUT);
        plan_free(p);
        conf_free(c);
        for (size_t i = 0; i < N; i++) {
                free((char *)names[i]);
                free((char *)afters[i]);
        }
        free(names);
        free(afters);
}
END_TEST

static Suite *plan_suite(void)
{
        Suite *s = suite_create("plan");
        TCase *tc = tcase_create("plan");

        tcase_add_test(tc, test_chain);
        tcase_add_test(tc, test_diamond);
        tcase_add_test(tc, test_independent);
        tcase_add_test(tc, test_definition_order_ties);
        tcase_add_test(tc, test_empty);
        tcase_add_test(tc, test_duplicate_after);
        tcase_add_test(tc, test_cycle);
        tcase_add_test(tc, test_cycle_named_from_first_defined);
        tcase_add_test(tc, test_two_cycles);
        tcase_add_test(tc, test_self_cycle);
        tcase_add_test(tc, test_unknown_after);
        tcase_add_test(tc, test_unknown_part_of);
        tcase_add_test(tc, test_part_of_oneshot_builds);
        tcase_add_test(tc, test_worker_bound);
        tcase_add_test(tc, test_worst_case_cleanup);
        tcase_add_test(tc, test_worst_case_delay);
        tcase_add_test(tc, test_suggested_grace);
        tcase_add_test(tc, test_print_json);
        tcase_add_test(tc, test_print_loaded_config);
        tcase_add_test(tc, test_print_probes);
        tcase_add_test(tc, test_load_checks_dependencies);
        tcase_add_loop_test(tc, test_load_partial, 0, ELEMENTSOF(partial));
        tcase_add_test(tc, test_load_appends_sorted);
        tcase_add_test(tc, test_large);
        tcase_add_test(tc, test_instances);
        tcase_add_test(tc, test_group_names);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(plan_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
