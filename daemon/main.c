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
#include "log.h"
#include "plan.h"
#include "run.h"

#define EXIT_USAGE 2
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
                "71 system resource unavailable, 78 invalid configuration.\n"
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

static int print_diags(const struct conf_diags *d)
{
        for (size_t i = 0; i < d->n; i++) {
                char *s = conf_diag_format(&d->v[i]);
                fprintf(stderr, "%s\n", s);
                free(s);
        }
        return EXIT_CONFIG;
}

int main(int argc, char **argv)
{
        enum { OPT_PRINT_PLAN = 256, OPT_LOG_FORMAT, OPT_COLOR, OPT_REPORT, OPT_SUBREAPER };
        static const struct option longopts[] = {
                { "config", required_argument, NULL, 'c' },
                { "check", no_argument, NULL, 't' },
                { "print-plan", no_argument, NULL, OPT_PRINT_PLAN },
                { "log-format", required_argument, NULL, OPT_LOG_FORMAT },
                { "color", required_argument, NULL, OPT_COLOR },
                { "colour", required_argument, NULL, OPT_COLOR },
                { "report", required_argument, NULL, OPT_REPORT },
                { "subreaper", no_argument, NULL, OPT_SUBREAPER },
                { "verbose", no_argument, NULL, 'v' },
                { "quiet", no_argument, NULL, 'q' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {}
        };
        const char *config = SYSCONFDIR "/graced/graced.conf";
        bool check = false, print_plan = false;
        enum log_format fmt = LOG_FORMAT_AUTO;
        enum log_color color = LOG_COLOR_AUTO;
        int level = LOG_INFO, opt;
        struct run_opts ro = { 0 };
        struct conf_load_opts lo = { .as_root = geteuid() == 0 };
        struct conf_diags diags = { 0 };
        struct conf *c = NULL;
        struct plan *p = NULL;

        /* a closed 0, 1 or 2 would be taken by the next open(): a pipe of
         * ours could become a worker's stdout, our logs go to a worker */
        for (int fd = 0; fd < 3; fd++)
                if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open("/dev/null", fd ? O_WRONLY : O_RDONLY) != fd)
                        return 71;

        while ((opt = getopt_long(argc, argv, "c:tvqhV", longopts, NULL)) != -1) {
                switch (opt) {
                case 'c':
                        config = optarg;
                        break;
                case 't':
                        check = true;
                        break;
                case OPT_PRINT_PLAN:
                        print_plan = true;
                        break;
                case OPT_LOG_FORMAT:
                        if (strcmp(optarg, "auto") == 0)
                                fmt = LOG_FORMAT_AUTO;
                        else if (strcmp(optarg, "text") == 0)
                                fmt = LOG_FORMAT_TEXT;
                        else if (strcmp(optarg, "dev") == 0)
                                fmt = LOG_FORMAT_DEV;
                        else if (strcmp(optarg, "json") == 0)
                                fmt = LOG_FORMAT_JSON;
                        else if (strcmp(optarg, "journal") == 0)
                                fmt = LOG_FORMAT_JOURNAL;
                        else {
                                fprintf(stderr, "graced: invalid --log-format '%s' (auto, text, dev, json, journal)\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case OPT_COLOR:
                        if (strcmp(optarg, "auto") == 0)
                                color = LOG_COLOR_AUTO;
                        else if (strcmp(optarg, "always") == 0)
                                color = LOG_COLOR_ALWAYS;
                        else if (strcmp(optarg, "never") == 0)
                                color = LOG_COLOR_NEVER;
                        else {
                                fprintf(stderr, "graced: invalid --color '%s' (auto, always, never)\n", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case OPT_REPORT:
                        ro.report_path = optarg;
                        break;
                case OPT_SUBREAPER:
                        ro.subreaper = true;
                        break;
                case 'v':
                        level = LOG_DEBUG;
                        break;
                case 'q':
                        level = LOG_WARNING;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case 'V':
                        printf("graced %s\n", PACKAGE_VERSION);
                        return 0;
                default:
                        fprintf(stderr, "Try 'graced --help' for more information.\n");
                        return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "graced: unexpected argument '%s'\nTry 'graced --help' for more information.\n",
                        argv[optind]);
                return EXIT_USAGE;
        }

        if (conf_load_isolated(config, &lo, &c, &diags) < 0) {
                print_diags(&diags);
                conf_diags_clear(&diags);
                return EXIT_CONFIG;
        }
        if (plan_build(c, &p, &diags) < 0) { /* conf_load checked it already */
                print_diags(&diags);
                conf_diags_clear(&diags);
                conf_free(c);
                return EXIT_CONFIG;
        }
        if (check || print_plan) {
                if (print_plan)
                        plan_print(stdout, c, p);
                else
                        printf("%s: valid: %zu worker%s, %zu cleanup step%s\n", config, c->n_workers,
                               c->n_workers == 1 ? "" : "s", c->n_cleanup, c->n_cleanup == 1 ? "" : "s");
                plan_free(p);
                conf_free(c);
                return 0;
        }

        log_setup(fmt, color, level);
        dev_start(c, config);
        ro.config_path = config;
        return run_main(c, p, &ro);
}
