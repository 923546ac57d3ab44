/* main.c - graced's command line: options, configuration, then either
 * --check / --print-plan or the daemon itself. Nothing else lives here. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "curl_api.h"
#include "log.h"
#include "mhd_api.h"
#include "plan.h"
#include "run.h"
#include "state.h"

#define EXIT_USAGE 2
#define EXIT_OSERR 71
#define EXIT_CONFIG 78

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: graced [OPTION]...\n"
                "Supervise the workers of a configuration; stop them in order on SIGTERM or Ctrl+C.\n"
                "\n"
                "  -c, --config FILE        configuration file (default %s/graced/graced.conf)\n"
                "  -t, --check              validate the configuration and exit (0 valid, 78 not)\n"
                "      --print-plan         validate, print start/stop order and worst-case shutdown time\n"
                "      --format=FORMAT      --print-plan's output: text or json (default text)\n"
                "      --log-format=FORMAT  auto, text, dev, json or journal (default auto)\n"
                "      --color=WHEN         auto, always or never (default auto; NO_COLOR is honoured)\n"
                "      --report FILE        write the shutdown report there\n"
                "      --subreaper          adopt and reap orphaned descendants (automatic as PID 1)\n"
                "  -v, --verbose            log debug messages too\n"
                "  -q, --quiet              log warnings and errors only\n"
                "  -h, --help               show this help and exit\n"
                "  -V, --version            show the version and exit\n"
                "\n"
                "Exit status: 0 clean shutdown, 1 shutdown not clean, 2 usage error,\n"
                "71 system resource unavailable, 78 invalid configuration; after a shutdown\n"
                "begun by the exit_code_from worker, that worker's exit status when clean.\n"
                "See graced(8) and graced.conf(5).\n",
                SYSCONFDIR);
}

/* Dev mode: the pid for `kill -USR1` and how Ctrl+C works, once at start;
 * the workers get their colours in the order they are defined. */
static void dev_start(const struct conf *c, const char *config)
{
        char ctrl_c[64];

        if (log_get_format() != LOG_FORMAT_DEV)
                return;
        for (size_t i = 0; i < c->n_workers; i++)
                log_add_name(c->workers[i].name);
        if (c->force_after == 0)
                snprintf(ctrl_c, sizeof ctrl_c, "Ctrl+C stops");
        else if (c->force_after == 1)
                snprintf(ctrl_c, sizeof ctrl_c, "Ctrl+C forces a stop");
        else if (c->force_after == 2)
                snprintf(ctrl_c, sizeof ctrl_c, "Ctrl+C stops, again forces");
        else
                snprintf(ctrl_c, sizeof ctrl_c, "Ctrl+C stops, %u times forces", c->force_after);
        log_banner("graced %d: supervising %zu worker%s from %s (%s)", (int)getpid(), c->n_workers,
                   c->n_workers == 1 ? "" : "s", config, ctrl_c);
}

/* What graced does with the configuration: --print-plan wins over --check. */
enum mode { MODE_RUN, MODE_CHECK, MODE_PRINT_PLAN };
enum plan_format { PLAN_FORMAT_TEXT, PLAN_FORMAT_JSON };

struct options {
        const char *config;
        enum mode mode;
        int plan_format;  /* enum plan_format */
        bool format_given;
        int format; /* enum log_format */
        int color;  /* enum log_color */
        int level;
        int state_fd; /* STATE_FD_OPTION (internal: gracectl reexec); -1: none */
        struct run_opts run;
};

static const char *const log_format_names[] = { [LOG_FORMAT_AUTO] = "auto", [LOG_FORMAT_TEXT] = "text",
                                                [LOG_FORMAT_DEV] = "dev", [LOG_FORMAT_JSON] = "json",
                                                [LOG_FORMAT_JOURNAL] = "journal" };
static const char *const color_names[] = { [LOG_COLOR_AUTO] = "auto", [LOG_COLOR_ALWAYS] = "always",
                                           [LOG_COLOR_NEVER] = "never" };
static const char *const plan_format_names[] = { [PLAN_FORMAT_TEXT] = "text", [PLAN_FORMAT_JSON] = "json" };

/* *ret = the index of value in names[]; false after "graced: invalid
 * --OPTION 'VALUE' (NAME, ...)" when it is none of them. */
static bool option_value(const char *option, const char *value, const char *const *names, size_t n, int *ret)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(value, names[i]) == 0) {
                        *ret = (int)i;
                        return true;
                }
        fprintf(stderr, "graced: invalid --%s '%s' (", option, value);
        for (size_t i = 0; i < n; i++)
                fprintf(stderr, "%s%s", i ? ", " : "", names[i]);
        fprintf(stderr, ")\n");
        return false;
}

/* STATE_FD_OPTION's value: a descriptor number. */
static bool state_fd_option(const char *value, int *ret)
{
        char *end;
        long fd;

        errno = 0;
        fd = strtol(value, &end, 10);
        if (errno || end == value || *end || fd < 3 || fd > INT32_MAX) {
                fprintf(stderr, "graced: invalid %s '%s' (a descriptor number)\n", STATE_FD_OPTION, value);
                return false;
        }
        *ret = (int)fd;
        return true;
}

enum { OPT_PRINT_PLAN = 256, OPT_FORMAT, OPT_LOG_FORMAT, OPT_COLOR, OPT_REPORT, OPT_SUBREAPER, OPT_STATE_FD };

static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check", no_argument, NULL, 't' },
        { "print-plan", no_argument, NULL, OPT_PRINT_PLAN },
        { "format", required_argument, NULL, OPT_FORMAT },
        { "log-format", required_argument, NULL, OPT_LOG_FORMAT },
        { "color", required_argument, NULL, OPT_COLOR },
        { "colour", required_argument, NULL, OPT_COLOR },
        { "report", required_argument, NULL, OPT_REPORT },
        { "subreaper", no_argument, NULL, OPT_SUBREAPER },
        /* internal, not in --help: the graced that gracectl reexec exec'd */
        { &STATE_FD_OPTION[2], required_argument, NULL, OPT_STATE_FD },
        { "verbose", no_argument, NULL, 'v' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        {}
};

/* One option (getopt_long()'s opt, its value in optarg) into o: 1 to go
 * on, 0 when done (--help, --version), -EINVAL on a bad value (reported). */
static int take_option(int opt, struct options *o)
{
        switch (opt) {
        case 'c':
                o->config = optarg;
                return 1;
        case 't':
        case OPT_PRINT_PLAN:
                o->mode = MAX(o->mode, opt == 't' ? MODE_CHECK : MODE_PRINT_PLAN);
                return 1;
        case OPT_FORMAT:
                o->format_given = true;
                return option_value("format", optarg, plan_format_names, ELEMENTSOF(plan_format_names),
                                    &o->plan_format)
                               ? 1
                               : -EINVAL;
        case OPT_LOG_FORMAT:
                return option_value("log-format", optarg, log_format_names, ELEMENTSOF(log_format_names), &o->format)
                               ? 1
                               : -EINVAL;
        case OPT_COLOR:
                return option_value("color", optarg, color_names, ELEMENTSOF(color_names), &o->color) ? 1 : -EINVAL;
        case OPT_REPORT:
                o->run.report_path = optarg;
                return 1;
        case OPT_SUBREAPER:
                o->run.subreaper = true;
                return 1;
        case OPT_STATE_FD:
                return state_fd_option(optarg, &o->state_fd) ? 1 : -EINVAL;
        case 'v':
        case 'q':
                o->level = opt == 'v' ? LOG_DEBUG : LOG_WARNING;
                return 1;
        case 'h':
                usage(stdout);
                return 0;
        case 'V':
                printf("graced %s\n", PACKAGE_VERSION);
                return 0;
        default:
                fprintf(stderr, "Try 'graced --help' for more information.\n");
                return -EINVAL;
        }
}

/* Options that do not go together; 1, or -EINVAL (reported). */
static int check_combination(const struct options *o)
{
        if (o->format_given && o->mode != MODE_PRINT_PLAN) {
                fprintf(stderr, "graced: --format applies to --print-plan only\n"
                                "Try 'graced --help' for more information.\n");
                return -EINVAL;
        }
        if (o->state_fd >= 0 && o->mode != MODE_RUN) {
                fprintf(stderr, "graced: %s goes with neither --check nor --print-plan\n", STATE_FD_OPTION);
                return -EINVAL;
        }
        return 1;
}

/* The command line into o. Returns 1 to go on, 0 when done (--help,
 * --version), -EINVAL on a usage error (reported on stderr). */
static int parse_options(int argc, char **argv, struct options *o)
{
        int opt, r;

        while ((opt = getopt_long(argc, argv, "c:tvqhV", longopts, NULL)) != -1)
                if ((r = take_option(opt, o)) <= 0)
                        return r;
        if (optind < argc) {
                fprintf(stderr, "graced: unexpected argument '%s'\nTry 'graced --help' for more information.\n",
                        argv[optind]);
                return -EINVAL;
        }
        return check_combination(o);
}

/* A closed 0, 1 or 2 would be taken by the next open(): a pipe of ours
 * could become a worker's stdout, our logs go to a worker. */
static int open_std_fds(void)
{
        for (int fd = 0; fd < 3; fd++)
                if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open("/dev/null", fd ? O_WRONLY : O_RDONLY) != fd)
                        return -EBADF;
        return 0;
}

/* The configuration and its plan (in a child first: plan_load_isolated());
 * every problem goes to stderr. */
static int load(const struct options *o, struct conf **ret_conf, struct plan **ret_plan)
{
        /* --check and --print-plan read the env files as each start will */
        struct conf_load_opts lo = { .as_root = geteuid() == 0, .env_files = o->mode != MODE_RUN };
        struct conf_diags diags = { 0 };
        int r = plan_load_isolated(o->config, &lo, ret_conf, ret_plan, &diags);

        for (size_t i = 0; i < diags.n; i++) {
                char *s = conf_diag_format(&diags.v[i]);
                fprintf(stderr, "%s\n", s);
                free(s);
        }
        conf_diags_clear(&diags);
        return r;
}

/* The first http probe of c (its worker in *ret_w), or NULL. */
static const struct conf_probe *first_http_probe(const struct conf *c, const struct conf_worker **ret_w)
{
        for (size_t i = 0; i < c->n_workers; i++) {
                const struct conf_worker *w = &c->workers[i];
                const struct conf_probe *p = NULL;

                if (w->ready == READY_PROBE && w->ready_probe.kind == PROBE_HTTP)
                        p = &w->ready_probe;
                else if (w->health.kind == PROBE_HTTP)
                        p = &w->health;
                if (p) {
                        *ret_w = w;
                        return p;
                }
        }
        return NULL;
}

/* --check and --print-plan: the libraries graced loads when it needs them
 * are not part of the configuration, but a warning on stderr says which
 * one it would need and could not load. */
static void warn_libraries(const struct options *o, const struct conf *c)
{
        const struct conf_worker *w = NULL;
        const struct conf_probe *p = first_http_probe(c, &w);
        const char *why;

        if (p && !curl_api_load(&why))
                fprintf(stderr, "%s:%d: warning: http probe: %s\n", w->file, p->line, why);
        curl_api_done();
        if (c->http_listen && c->http_listen[0] && !mhd_api_load(&why))
                fprintf(stderr, "%s: warning: http_listen: %s\n", o->config, why);
}

/* --check and --print-plan: a valid configuration, told on stdout. */
static int print_valid(const struct options *o, struct conf *c, struct plan *p)
{
        warn_libraries(o, c);
        if (o->mode == MODE_PRINT_PLAN && o->plan_format == PLAN_FORMAT_JSON)
                plan_print_json(stdout, c, p);
        else if (o->mode == MODE_PRINT_PLAN)
                plan_print(stdout, c, p);
        else
                printf("%s: valid: %zu worker%s, %zu cleanup step%s\n", o->config, c->n_workers,
                       c->n_workers == 1 ? "" : "s", c->n_cleanup, c->n_cleanup == 1 ? "" : "s");
        plan_free(p);
        conf_free(c);
        return 0;
}

int main(int argc, char **argv)
{
        struct options o = {
                .config = SYSCONFDIR "/graced/graced.conf",
                .format = LOG_FORMAT_AUTO,
                .color = LOG_COLOR_AUTO,
                .level = LOG_INFO,
                .state_fd = -1,
        };
        struct conf *c = NULL;
        struct plan *p = NULL;
        int r;

        if (open_std_fds() < 0)
                return EXIT_OSERR;
        r = parse_options(argc, argv, &o);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : 0;
        o.run.argv = argv;
        o.run.config_path = o.config;
        if (o.state_fd >= 0) {
                /* gracectl reexec: the state, not the file, is the configuration in force */
                log_setup((enum log_format)o.format, (enum log_color)o.color, o.level);
                return run_reexec_main(o.state_fd, &o.run);
        }
        if (load(&o, &c, &p) < 0)
                return EXIT_CONFIG;
        if (o.mode != MODE_RUN)
                return print_valid(&o, c, p);
        log_setup((enum log_format)o.format, (enum log_color)o.color, o.level);
        dev_start(c, o.config);
        return run_main(c, p, &o.run);
}
