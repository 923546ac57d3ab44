/* proc.c - fork/exec with an exec-status pipe, pidfd signals, reaping.
 * Between fork and exec the child makes system calls only: no malloc, no
 * stdio, no logging; everything it needs is prepared by the parent. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

static struct rlimit orig_nofile;
static bool have_orig_nofile;
static int devnull = -1;

/* How a child gets a small descriptor table (see spawn_small()): it
 * shares graced's table for an instant and its first act is to unshare a
 * copy of only the descriptors below table_low: devnull and the reserved
 * slots, into which the parent dups the status pipe and the output pipes
 * just before the clone. Without it (kernel < 5.9, sanitizer builds), a
 * vfork child copies graced's whole table, and exec closes every
 * close-on-exec descriptor in it one by one: with 10,000 workers, that
 * copy made a full start grow with the square of the number of workers. */
enum { SLOT_STATUS, SLOT_OUT, SLOT_ERR, N_SLOTS };
static int slot[N_SLOTS] = { -1, -1, -1 };
static unsigned table_low; /* 0: spawn_small() unavailable */
#define CHILD_STACK_SIZE (256 * 1024)
static void *child_stack;

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

/* Sets up spawn_small() when the kernel can unshare part of a table
 * (close_range(CLOSE_RANGE_UNSHARE), Linux 5.9; CLONE_PIDFD is older). */
static void small_table_init(void)
{
#if !defined(__SANITIZE_ADDRESS__) /* ASan cannot follow a child that shares its memory */
        int top = devnull;

        if (syscall(SYS_close_range, ~0U, ~0U, CLOSE_RANGE_UNSHARE) < 0)
                return;
        for (int i = 0; i < N_SLOTS; i++) {
                slot[i] = fcntl(devnull, F_DUPFD_CLOEXEC, 0);
                if (slot[i] < 0)
                        goto fail;
                if (slot[i] > top)
                        top = slot[i];
        }
        child_stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                           -1, 0);
        if (child_stack == MAP_FAILED) {
                child_stack = NULL;
                goto fail;
        }
        table_low = (unsigned)top + 1;
        return;
fail:
        for (int i = 0; i < N_SLOTS; i++)
                slot[i] = safe_close(slot[i]);
#endif
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
        if (devnull < 0)
                return -errno;
        small_table_init();
        return 0;
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
        for (int i = 0; i < N_SLOTS; i++)
                slot[i] = safe_close(slot[i]);
        if (child_stack)
                (void)munmap(child_stack, CHILD_STACK_SIZE);
        child_stack = NULL;
        table_low = 0;
        devnull = safe_close(devnull);
}

bool proc_orig_nofile(uint64_t *cur, uint64_t *max)
{
        if (!have_orig_nofile)
                return false;
        *cur = orig_nofile.rlim_cur;
        *max = orig_nofile.rlim_max;
        return true;
}

void proc_set_orig_nofile(uint64_t cur, uint64_t max)
{
        orig_nofile = (struct rlimit){ .rlim_cur = cur, .rlim_max = max };
        have_orig_nofile = true;
}

char *proc_self_exe(void)
{
        static const char deleted[] = " (deleted)";
        char buf[PATH_MAX + sizeof deleted];
        ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
        size_t k = sizeof deleted - 1;

        if (n <= 0 || buf[0] != '/')
                return NULL;
        buf[n] = 0;
        if ((size_t)n > k && strcmp(buf + n - k, deleted) == 0)
                buf[n - k] = 0;
        return xstrdup(buf);
}

bool proc_is_child(pid_t pid)
{
        siginfo_t si;

        /* WNOWAIT: looks, reaps nothing; ECHILD for anything not ours */
        return pid > 0 && waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0;
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

struct small_arg {
        const struct proc_spec *spec; /* fd_out and fd_err in their slots */
        pid_t parent;
};

static int small_child(void *data)
{
        const struct small_arg *a = data;

        /* from here on the table is the child's own: descriptors < table_low */
        if (syscall(SYS_close_range, table_low, ~0U, CLOSE_RANGE_UNSHARE) < 0)
                child_fail(slot[SLOT_STATUS], PROC_STAGE_SETSID);
        child(a->spec, slot[SLOT_STATUS], a->parent);
}

/* The child shares graced's memory (as with vfork: graced waits until it
 * has exec'd or failed) and, for an instant, its descriptor table. The
 * pidfd comes with the clone. */
static pid_t spawn_small(const struct proc_spec *s, int status_fd, int *ret_pidfd)
{
        struct proc_spec c = *s;
        struct small_arg a = { .spec = &c, .parent = getpid() };
        int pidfd = -1;
        pid_t pid = -1;

        if (dup3(status_fd, slot[SLOT_STATUS], O_CLOEXEC) < 0)
                goto out;
        if (s->fd_out >= 0 && dup3(s->fd_out, slot[SLOT_OUT], O_CLOEXEC) < 0)
                goto out;
        if (s->fd_err >= 0 && dup3(s->fd_err, slot[SLOT_ERR], O_CLOEXEC) < 0)
                goto out;
        c.fd_out = s->fd_out >= 0 ? slot[SLOT_OUT] : -1;
        c.fd_err = s->fd_err >= 0 ? slot[SLOT_ERR] : -1;
        pid = clone(small_child, (char *)child_stack + CHILD_STACK_SIZE,
                    CLONE_VM | CLONE_VFORK | CLONE_FILES | CLONE_PIDFD | SIGCHLD, &a, &pidfd);
out:;
        int e = errno;

        /* the slots must not keep the pipes open (EOF is how graced learns of an exec) */
        for (int i = 0; i < N_SLOTS; i++)
                if (dup3(devnull, slot[i], O_CLOEXEC) < 0)
                        abort(); /* cannot fail: both are open, and they differ */
        if (pid < 0)
                return -e;
        *ret_pidfd = pidfd;
        return pid;
}

/* The child copies graced's whole descriptor table (see table_low). */
static pid_t spawn_vfork(const struct proc_spec *s, int status_fd, int *ret_pidfd)
{
        pid_t parent = getpid(), pid;

        /* vfork: no copy of graced's page tables (most of a fork's cost with
         * its shared libraries), and the child only makes system calls until
         * exec, on memory prepared by the parent; we resume once it has
         * exec'd or failed. ASan cannot follow a vfork child: fork there. */
#if defined(__SANITIZE_ADDRESS__)
        pid = fork();
#else
        pid = vfork();
#endif
        if (pid < 0)
                return -errno;
        if (pid == 0)
                child(s, status_fd, parent); /* the read end is close-on-exec */
        /* the child cannot have been reaped yet: only we reap, so the pid is ours */
        *ret_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (*ret_pidfd >= 0)
                (void)fd_set_cloexec(*ret_pidfd, true);
        return pid;
}

int proc_spawn(const struct proc_spec *s, struct proc_child *ret)
{
        int p[2], pidfd = -1;
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid = table_low ? spawn_small(s, p[1], &pidfd) : spawn_vfork(s, p[1], &pidfd);
        safe_close(p[1]);
        if (pid < 0) {
                safe_close(p[0]);
                return (int)pid;
        }
        (void)fd_set_nonblock(p[0], true);
        ret->pid = pid;
        ret->status_fd = p[0];
        ret->pidfd = pidfd;
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

#ifndef PIDFD_SIGNAL_PROCESS_GROUP
#define PIDFD_SIGNAL_PROCESS_GROUP (1U << 2)
#endif

/* Linux 6.9: one call signals the group of the pidfd's process, even once
 * that leader is reaped (the pidfd pins its pid: never a recycled group). */
static bool pidfd_group_unsupported;

int proc_signal(pid_t pid, int pidfd, int sig, bool group)
{
        if (pidfd >= 0 && group && !pidfd_group_unsupported) {
                if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, PIDFD_SIGNAL_PROCESS_GROUP) == 0)
                        return 0;
                if (errno != EINVAL)
                        return -errno;
                pidfd_group_unsupported = true;
        }
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
