/* sandbox.h - the distribution's systemd booted as PID 1 of a private PID +
 * mount + UTS + network namespace, for tests that need the real systemd.
 *
 * The recipe (checked on Debian 12, systemd 252): the setup script refuses
 * to run unless it is PID 1 of a mount namespace other than the test's;
 * `mount --make-rprivate /`; read-only /proc/sys, /sys and /etc/machine-id
 * (systemd as PID 1 would raise host-wide sysctls and write the machine id);
 * a tmpfs over /etc/systemd/system with the test's units copied into it and
 * the units that would act on the machine masked; tmpfs over /run, /tmp,
 * /var/tmp, /var/log, /var/lib/systemd and /var/cache; a cgroup subtree of
 * its own (removed afterwards); then systemd --unit=TARGET. The target and
 * every service the test starts need DefaultDependencies=no.
 *
 * Teardown is SIGKILL of that one systemd pid (everything in the namespace
 * dies with it), also when a test fails or the runner dies
 * (PR_SET_PDEATHSIG on unshare, --kill-child on systemd).
 *
 * The sandbox's files (units, console log, script, whatever the test puts
 * in sb->dir) are in a directory under $GRACED_TEST_TMP, else the current
 * directory (the build directory): not under /tmp, which is a fresh tmpfs
 * inside. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#define SB_T 5000           /* ms: things that happen at once */
#define SB_T_SYSTEMCTL 30000 /* ms: one systemctl call at most */
#define SB_T_BOOT 30000     /* ms: until is-system-running says running */

struct sb {
        const char *prefix;   /* "check_xxx": names the directory and the cgroup */
        char *dir;            /* base/PREFIX-PID.XXXXXX (0755): the test's files; units in dir/units */
        char *console;        /* systemd's console output: dir/console.log */
        char *cg_name;        /* the sandbox's cgroup, below ours in each hierarchy */
        char *cg_dirs[2];     /* name=systemd and cgroup2 dirs made for it (moved into by the script) */
        char *systemd;        /* /lib/systemd/systemd */
        bool kill_child;      /* unshare knows --kill-child */
        pid_t unshare, sd;    /* unshare (our child); systemd (its child: PID 1 inside) */
        bool booted;
        char why[1024];       /* why the boot failed */
        bool tearing_down;
};

/* malloc'd printf; aborts when out of memory. */
char *sb_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An executable in $PATH or the usual sbin directories (malloc'd), or NULL.
 * A name with a slash is taken as it is. */
char *sb_find_exe(const char *name);
/* Strips trailing newlines, blanks and CRs. */
void sb_trim(char *s);

/* The directory the sandbox's files go in: $GRACED_TEST_TMP, else the
 * current directory, resolved (malloc'd), or NULL. */
char *sb_base_dir(void);
/* The tmpfs of the sandbox path is under (static string), or NULL. */
const char *sb_hidden(const char *path);
/* Why the sandbox cannot be booted here (static string), or NULL: not root,
 * a tool missing (unshare, nsenter, systemctl, journalctl, systemd), no
 * /etc/machine-id, no namespaces, the base directory under a tmpfs of the
 * sandbox. Fills sb->systemd and sb->kill_child. */
const char *sb_prereq(struct sb *sb);

/* Sets sb->why (fmt may take sb->why itself as an argument), says it on
 * stderr with the end of the console log. */
void sb_fail(struct sb *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Makes sb->dir (and dir/units, where the test writes its units and
 * drop-ins before sb_boot), sb->console and the cgroups. false with sb->why
 * set (and said on stderr). */
bool sb_prepare(struct sb *sb, const char *prefix);
/* Writes dir/setup.sh and boots systemd with --unit=target (a unit the test
 * wrote into dir/units) until is-system-running says running or degraded.
 * pre_mounts: shell lines run right after `mount --make-rprivate /`,
 * before the recipe's own mounts (NULL: none). false with sb->why set. */
bool sb_boot(struct sb *sb, const char *target, const char *pre_mounts);
/* Kills the sandbox's systemd, removes its cgroups and (unless
 * $GRACED_KEEP_TEST) sb->dir, frees everything; sb is ready for another
 * sb_prepare. */
void sb_teardown(struct sb *sb);
/* Removes what runs of PREFIX killed before their teardown left: empty
 * cgroups and directories named after pids that are gone. */
void sb_sweep_stale(const char *prefix);

/* nsenter -t SYSTEMD -m -p ARGS...: the exit code (-1 on timeout), the
 * output (stdout + stderr, trimmed) in *out when out is not NULL. */
int sb_run(struct sb *sb, int timeout_ms, char **out, const char *const *args);
#define SB_RUN(sb, timeout, out, ...) sb_run((sb), (timeout), (out), (const char *const[]){ __VA_ARGS__, NULL })
/* systemctl show -p NAME --value UNIT (malloc'd, trimmed; "" when unset). */
char *sb_prop(struct sb *sb, const char *unit, const char *name);
long long sb_prop_ll(struct sb *sb, const char *unit, const char *name);
/* systemctl status UNIT on stderr. */
void sb_show_status(struct sb *sb, const char *unit, const char *when);

/* What systemd as PID 1 could change on the host (hostname, sysctls), as
 * one string (malloc'd). */
char *sb_host_state(void);
