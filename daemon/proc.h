/* proc.h - process mechanics: spawning with an exec-status pipe, pidfds,
 * signals to a process or its group, and reaping every child. No policy:
 * the supervisor decides what a spawn or an exit means. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "util.h"

struct proc_spec {
        char *const *argv; /* argv[0]: a path (see proc_resolve) */
        char *const *envp;
        const char *cwd;    /* NULL: keep */
        int umask;          /* -1: keep */
        bool set_ids;
        uid_t uid;
        gid_t gid;
        const gid_t *groups; /* supplementary groups, computed in the parent */
        size_t n_groups;
        int fd_out;          /* dup'ed to 1; -1: inherit graced's */
        int fd_err;          /* dup'ed to 2; -1: inherit graced's */
        int pdeath_signal;   /* 0: none */
};

/* What failed in the child before exec worked. */
enum proc_stage {
        PROC_STAGE_NONE = 0,
        PROC_STAGE_SETSID,
        PROC_STAGE_PDEATHSIG,
        PROC_STAGE_STDIO,
        PROC_STAGE_CHDIR,
        PROC_STAGE_GROUPS,
        PROC_STAGE_SETGID,
        PROC_STAGE_SETUID,
        PROC_STAGE_RLIMIT,
        PROC_STAGE_EXEC,
};
const char *proc_stage_name(enum proc_stage s);

struct proc_child {
        pid_t pid;
        int pidfd;     /* -1 when the kernel has no pidfd_open */
        int status_fd; /* read end of the exec-status pipe (non-blocking, cloexec) */
};

/* Once at start: remembers RLIMIT_NOFILE for children (they get both
 * limits back before exec); raises the hard limit to the kernel's
 * fs.nr_open when allowed (CAP_SYS_RESOURCE; never lowers it), then the
 * soft limit to the hard one; opens /dev/null for stdin. */
int proc_init(void);

/* Descriptors per worker, for the limit above: its pidfd, plus the read end
 * of its stdout and of its stderr pipe when they are "log" (at most
 * PROC_FDS_PER_WORKER); while it starts, also the read end of its
 * exec-status pipe. */
#define PROC_FDS_PER_WORKER 3
#define PROC_FDS_PER_STARTING 1
/* graced's own, whatever the number of workers: 0-2, the log, epoll,
 * timerfd, signalfd, two /dev/null, the notify and control sockets, the
 * three pipe ends of the spawn in progress, a report or configuration file
 * being written or read; rounded up for hooks and cleanup steps. */
#define PROC_FDS_FIXED 32

/* Pure: about how many workers a descriptor limit allows, each holding
 * per_worker descriptors (1 + its "log" streams; 0 means the worst case,
 * PROC_FDS_PER_WORKER), up to `parallel` of them starting at once
 * (max_parallel), `reserved` more kept for other uses (e.g. control
 * clients). 0 when the limit does not even cover graced's own. */
size_t proc_workers_for_nofile(uint64_t limit, unsigned per_worker, size_t parallel, size_t reserved);

/* graced's RLIMIT_NOFILE soft limit now (after proc_init: the one workers
 * count against); UINT64_MAX for unlimited, 0 when unknown. */
uint64_t proc_nofile_limit(void);
void proc_done(void);
/* RLIMIT_NOFILE as graced found it at start (what children get back),
 * and, after proc_init() in a graced that re-executed itself, the one the
 * first graced found. False when unknown. */
bool proc_orig_nofile(uint64_t *cur, uint64_t *max);
void proc_set_orig_nofile(uint64_t cur, uint64_t max);
/* The absolute path of graced's own program (/proc/self/exe, without the
 * " (deleted)" the kernel adds once the file was replaced: the path then
 * names the new program); NULL when unknown. Caller frees. */
char *proc_self_exe(void);
/* Whether pid is a child of graced (alive or a zombie not reaped). */
bool proc_is_child(pid_t pid);
/* Becomes a child subreaper (PR_SET_CHILD_SUBREAPER). */
int proc_set_subreaper(void);

/* Forks and execs; 0 or -errno (fork/pipe failed: nothing was started).
 * The child runs in its own session and process group. */
int proc_spawn(const struct proc_spec *spec, struct proc_child *ret);

/* Reads the exec status: returns 1 when it is known (*ret_err = 0 when
 * exec succeeded, else errno, *ret_stage where it failed), 0 when it is
 * not known yet (EAGAIN), -errno on a read error. */
int proc_read_status(int status_fd, int *ret_err, enum proc_stage *ret_stage);

/* Signal through the pidfd (never a recycled pid); with group, the whole
 * process group (the child's pid is its pgid): in one call where the
 * kernel can (Linux 6.9), else after checking through the pidfd that the
 * leader has not been reaped. 0 or -errno (ESRCH: gone). */
int proc_signal(pid_t pid, int pidfd, int sig, bool group);

/* True when process group pgid still holds a process that is not a
 * zombie (zombies of an exited group wait for their reaper, not for us). */
bool proc_group_alive(pid_t pgid);

/* Resolves a relative argv[0] through PATH (the worker's PATH when given);
 * returns a newly allocated path, or a copy of cmd when not found (exec
 * will then fail with ENOENT and be reported). */
char *proc_resolve(const char *cmd, const char *path);

/* Reaps the child behind pidfd if it has exited (the pidfd is readable
 * then): 1 and its waitpid() status, 0 not yet, -errno (ECHILD: reaped
 * already). O(1), where waitpid(-1) walks every child. */
int proc_reap_pidfd(int pidfd, int *ret_status);

/* Reaps every child that has exited; calls fn for each (status as from
 * waitpid). Loops until nothing is left (0 / ECHILD). */
void proc_reap(void (*fn)(pid_t pid, int status, void *data), void *data);
