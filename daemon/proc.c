/* proc.c - fork/exec with an exec-status pipe, pidfd signals, reaping.
 * Between fork and exec the child makes system calls only: no malloc, no
 * stdio, no logging; everything it needs is prepared by the parent. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static struct rlimit orig_nofile;
static bool have_orig_nofile;
static int devnull = -1;

struct exec_status {
        int stage;
        int err;
};

const char *proc_stage_name(enum proc_stage s)
{
        switch (s) {
        case PROC_STAGE_SETSID: return "setsid";
        case PROC_STAGE_PDEATHSIG: return "prctl";
        case PROC_STAGE_STDIO: return "stdio";
        case PROC_STAGE_CHDIR: return "chdir";
        case PROC_STAGE_GROUPS: return "setgroups";
        case PROC_STAGE_SETGID: return "setgid";
        case PROC_STAGE_SETUID: return "setuid";
        case PROC_STAGE_RLIMIT: return "setrlimit";
        case PROC_STAGE_EXEC: return "exec";
        default: return "start";
        }
}

/* The kernel's ceiling for RLIMIT_NOFILE (fs.nr_open); 0 when unreadable. */
static uint64_t read_nr_open(void)
{
        char buf[32];
        ssize_t n;
        int fd = open("/proc/sys/fs/nr_open", O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return 0;
        n = read(fd, buf, sizeof buf - 1);
        safe_close(fd);
        if (n <= 0)
                return 0;
        buf[n] = 0;
        return strtoull(buf, NULL, 10);
}

int proc_init(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
                uint64_t nr_open = read_nr_open();

                orig_nofile = rl;
                have_orig_nofile = true;
                /* as systemd does for itself: with CAP_SYS_RESOURCE, the hard limit
                 * goes up to the kernel's ceiling (descriptors cost nothing until
                 * used, and graced never select()s); never lowered. Without the
                 * capability this fails with EPERM and the hard limit stays. */
                if (nr_open > 0 && rl.rlim_max != RLIM_INFINITY && rl.rlim_max < nr_open) {
                        struct rlimit up = { .rlim_cur = nr_open, .rlim_max = nr_open };

                        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
                                rl = up;
                }
                if (rl.rlim_cur < rl.rlim_max) {
                        rl.rlim_cur = rl.rlim_max;
                        /* best effort: a lower limit only caps the number of workers */
                        (void)setrlimit(RLIMIT_NOFILE, &rl);
                }
        }
        devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        return devnull < 0 ? -errno : 0;
}

size_t proc_workers_for_nofile(uint64_t limit, unsigned per_worker, size_t parallel, size_t reserved)
{
        uint64_t avail, m, per = per_worker ? per_worker : PROC_FDS_PER_WORKER;

        if (limit <= PROC_FDS_FIXED + (uint64_t)reserved)
                return 0;
        avail = limit - PROC_FDS_FIXED - reserved;
        /* m workers, min(m, parallel) of them starting:
         * per * m + PER_STARTING * min(m, parallel) <= avail */
        m = avail / (per + PROC_FDS_PER_STARTING);
        if (m > parallel)
                m = (avail - (uint64_t)PROC_FDS_PER_STARTING * parallel) / per;
        return m > SIZE_MAX ? SIZE_MAX : (size_t)m;
}

uint64_t proc_nofile_limit(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return 0;
        return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
}

void proc_done(void)
{
        devnull = safe_close(devnull);
}

int proc_set_subreaper(void)
{
        return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 ? -errno : 0;
}

_noreturn_ static void child_fail(int fd, enum proc_stage stage)
{
        struct exec_status st = { .stage = stage, .err = errno };

        (void)!write(fd, &st, sizeof st);
        _exit(127);
}

/* The kernel's struct sigaction: glibc's sigaction() refuses the two
 * signals it reserves (32, 33), which may still arrive ignored from our
 * parent; a worker must start with every disposition at its default. */
struct kernel_sigaction {
        void (*handler)(int);
        unsigned long flags;
        void (*restorer)(void);
        uint64_t mask;
};

_noreturn_ static void child(const struct proc_spec *s, int status_fd, pid_t parent)
{
        struct kernel_sigaction ksa = { .handler = SIG_DFL };
        sigset_t none;

        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void)syscall(SYS_rt_sigaction, sig, &ksa, NULL, sizeof ksa.mask);
        sigemptyset(&none);
        if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
                child_fail(status_fd, PROC_STAGE_SETSID);
        if (setsid() < 0)
                child_fail(status_fd, PROC_STAGE_SETSID);
        if (s->pdeath_signal > 0) {
                if (prctl(PR_SET_PDEATHSIG, s->pdeath_signal, 0, 0, 0) < 0)
                        child_fail(status_fd, PROC_STAGE_PDEATHSIG);
                /* graced died between fork and prctl: nobody would stop us */
                if (getppid() != parent)
                        _exit(127);
        }
        if (dup2(devnull, STDIN_FILENO) < 0)
                child_fail(status_fd, PROC_STAGE_STDIO);
        if (s->fd_out >= 0 && dup2(s->fd_out, STDOUT_FILENO) < 0)
                child_fail(status_fd, PROC_STAGE_STDIO);
        if (s->fd_err >= 0 && dup2(s->fd_err, STDERR_FILENO) < 0)
                child_fail(status_fd, PROC_STAGE_STDIO);
        /* fds graced inherited without CLOEXEC must not reach the worker either;
         * the status pipe stays open until exec closes it */
        (void)syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
        if (s->cwd && chdir(s->cwd) < 0)
                child_fail(status_fd, PROC_STAGE_CHDIR);
        if (s->umask >= 0)
                umask((mode_t)s->umask);
        if (s->set_ids) {
                if (setgroups(s->n_groups, s->groups) < 0)
                        child_fail(status_fd, PROC_STAGE_GROUPS);
                if (setresgid(s->gid, s->gid, s->gid) < 0)
                        child_fail(status_fd, PROC_STAGE_SETGID);
                if (setresuid(s->uid, s->uid, s->uid) < 0)
                        child_fail(status_fd, PROC_STAGE_SETUID);
        }
        if (have_orig_nofile && setrlimit(RLIMIT_NOFILE, &orig_nofile) < 0)
                child_fail(status_fd, PROC_STAGE_RLIMIT);
        execve(s->argv[0], s->argv, s->envp);
        child_fail(status_fd, PROC_STAGE_EXEC);
}

int proc_spawn(const struct proc_spec *s, struct proc_child *ret)
{
        int p[2];
        pid_t parent = getpid(), pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        /* vfork: no copy of graced's page tables (most of a fork's cost with
         * its shared libraries), and the child only makes system calls until
         * exec, on memory prepared by the parent; we resume once it has
         * exec'd or failed. ASan cannot follow a vfork child: fork there. */
#if defined(__SANITIZE_ADDRESS__)
        pid = fork();
#else
        pid = vfork();
#endif
        if (pid < 0) {
                int e = -errno;
                safe_close(p[0]);
                safe_close(p[1]);
                return e;
        }
        if (pid == 0)
                child(s, p[1], parent); /* p[0] is close-on-exec */
        safe_close(p[1]);
        (void)fd_set_nonblock(p[0], true);
        ret->pid = pid;
        ret->status_fd = p[0];
        /* the child cannot have been reaped yet: only we reap, so the pid is ours */
        ret->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (ret->pidfd >= 0)
                (void)fd_set_cloexec(ret->pidfd, true);
        return 0;
}

int proc_read_status(int fd, int *ret_err, enum proc_stage *ret_stage)
{
        struct exec_status st;
        ssize_t n;

        for (;;) {
                n = read(fd, &st, sizeof st);
                if (n >= 0 || errno != EINTR)
                        break;
        }
        if (n < 0)
                return errno == EAGAIN ? 0 : -errno;
        if (n == 0) {
                *ret_err = 0;
                *ret_stage = PROC_STAGE_NONE;
        } else {
                /* a short record cannot happen for a pipe write of 8 bytes */
                *ret_err = n == (ssize_t)sizeof st ? st.err : EIO;
                *ret_stage = n == (ssize_t)sizeof st ? (enum proc_stage)st.stage : PROC_STAGE_EXEC;
        }
        return 1;
}

int proc_signal(pid_t pid, int pidfd, int sig, bool group)
{
        if (pidfd >= 0) {
                if (syscall(SYS_pidfd_send_signal, pidfd, group ? 0 : sig, NULL, 0) < 0) {
                        /* leader already reaped: its group may still hold processes,
                         * but only while the leader's pid is unused can -pid be trusted */
                        if (!group || errno != ESRCH)
                                return -errno;
                        return kill(-pid, sig) < 0 ? -errno : 0;
                }
                if (!group)
                        return 0;
        } else if (!group) {
                return kill(pid, sig) < 0 ? -errno : 0;
        }
        return kill(-pid, sig) < 0 ? -errno : 0;
}

bool proc_group_alive(pid_t pgid)
{
        DIR *d;
        struct dirent *de;
        bool alive = false;

        if (kill(-pgid, 0) < 0)
                return errno == EPERM; /* ESRCH: nobody left */
        /* someone is there: find out whether it is more than a zombie */
        d = opendir("/proc");
        if (!d)
                return true;
        while (!alive && (de = readdir(d))) {
                char path[300], buf[512], *p;
                int fd, st_pgrp;
                ssize_t n;
                char state;

                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                n = read(fd, buf, sizeof buf - 1);
                close(fd);
                if (n <= 0)
                        continue;
                buf[n] = 0;
                /* the command may contain anything: parse after its last ')' */
                p = strrchr(buf, ')');
                if (p && sscanf(p + 1, " %c %*d %d", &state, &st_pgrp) == 2 && st_pgrp == pgid &&
                    state != 'Z' && state != 'X')
                        alive = true;
        }
        closedir(d);
        return alive;
}

char *proc_resolve(const char *cmd, const char *path)
{
        const char *p;

        if (strchr(cmd, '/'))
                return xstrdup(cmd);
        if (!path)
                path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        for (p = path; *p;) {
                const char *e = strchrnul(p, ':');
                char *full = e == p ? xasprintf("./%s", cmd) : xasprintf("%.*s/%s", (int)(e - p), p, cmd);
                struct stat st;

                if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0)
                        return full;
                free(full);
                p = *e ? e + 1 : e;
        }
        return xstrdup(cmd);
}

void proc_reap(void (*fn)(pid_t, int, void *), void *data)
{
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);

                if (pid < 0 && errno == EINTR)
                        continue;
                if (pid <= 0) /* 0: children left but none exited; ECHILD: none at all */
                        return;
                fn(pid, status, data);
        }
}

#ifndef P_PIDFD
#define P_PIDFD 3 /* Linux 5.4: glibc 2.36's <sys/wait.h> does not name it */
#endif

int proc_reap_pidfd(int pidfd, int *ret_status)
{
        siginfo_t si;

        for (;;) {
                memset(&si, 0, sizeof si);
                if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG) == 0)
                        break;
                if (errno != EINTR)
                        return -errno;
        }
        if (si.si_pid == 0)
                return 0;
        /* back to a waitpid() status, which the rest of graced reads */
        switch (si.si_code) {
        case CLD_EXITED:
                *ret_status = (si.si_status & 0xff) << 8;
                break;
        case CLD_DUMPED:
                *ret_status = (si.si_status & 0x7f) | 0x80;
                break;
        default: /* CLD_KILLED */
                *ret_status = si.si_status & 0x7f;
                break;
        }
        return 1;
}
