/* soakworker - the worker of the soak test (tests/soak/README.md).
 *
 * Usage: soakworker --name NAME --dir DIR --rate N [--err K] [--crash S]
 *
 * Writes numbered lines at a steady rate of N a second (absolute
 * CLOCK_MONOTONIC ticks), each with one write() of fewer than PIPE_BUF
 * bytes, so that a pipe takes it whole or not at all:
 *
 *      SOAK NAME RUNID SEQ [PADDING]          on stdout, SEQ = 1, 2, 3, ...
 *      SOAKERR NAME RUNID ESEQ [PADDING]      on stderr after every K-th stdout
 *                                             line (--err K; 0: never)
 *
 * RUNID is "<pid>.<CLOCK_MONOTONIC us at start>": pids wrap (pid_max may be
 * 32768) and a soak starts thousands of runs, the pair does not.
 *
 * The ledger: DIR/ledger/NAME.RUNID, a small file mapped MAP_SHARED, holds
 * the last stdout and stderr sequence numbers whose write() returned, the
 * errno of a failed write and the process' start time (field 22 of
 * /proc/self/stat). It lives in the page cache, so it survives a SIGKILL:
 * the soak driver compares it with what graced logged.
 *
 * --crash S: exit by itself with a non-zero status (3..7) after about S
 * seconds on average (a random draw at each line), unless DIR/calm exists.
 * A failed write: exit 97. Bad usage: exit 2. SIGTERM (default
 * disposition) ends it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

struct ledger {
        uint64_t out;      /* last stdout SEQ written whole */
        uint64_t err;      /* last stderr ESEQ written whole */
        uint64_t werrno;   /* errno of a failed write, 0 */
        uint64_t starttime; /* /proc/self/stat field 22 (clock ticks since boot) */
};

static unsigned long long start_ticks(void)
{
        char buf[1024];
        int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
        ssize_t n;
        unsigned long long v = 0;

        if (fd < 0)
                return 0;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        char *p = strrchr(buf, ')');
        if (!p)
                return 0;
        p += 2; /* field 3 */
        for (int field = 3; field < 22 && p; field++) {
                p = strchr(p, ' ');
                if (p)
                        p++;
        }
        if (p)
                v = strtoull(p, NULL, 10);
        return v;
}

static int write_whole(int fd, const char *buf, size_t len)
{
        ssize_t n;

        do
                n = write(fd, buf, len);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if ((size_t)n != len)
                return -EIO; /* cannot happen on a pipe below PIPE_BUF */
        return 0;
}

static void usage(void)
{
        fprintf(stderr, "usage: soakworker --name NAME --dir DIR --rate N [--err K] [--crash S]\n");
        exit(2);
}

int main(int argc, char **argv)
{
        const char *name = NULL, *dir = NULL;
        long rate = 0, err_every = 0, crash_s = 0;
        char path[4096], calm[4096], runid[64], line[1024];
        struct timespec now, tick;
        struct ledger *lg;
        uint64_t seq = 0, eseq = 0;
        int fd;

        for (int i = 1; i < argc; i++) {
                if (i + 1 >= argc)
                        usage();
                if (strcmp(argv[i], "--name") == 0)
                        name = argv[++i];
                else if (strcmp(argv[i], "--dir") == 0)
                        dir = argv[++i];
                else if (strcmp(argv[i], "--rate") == 0)
                        rate = strtol(argv[++i], NULL, 10);
                else if (strcmp(argv[i], "--err") == 0)
                        err_every = strtol(argv[++i], NULL, 10);
                else if (strcmp(argv[i], "--crash") == 0)
                        crash_s = strtol(argv[++i], NULL, 10);
                else
                        usage();
        }
        if (!name || !dir || rate < 1 || rate > 1000 || err_every < 0 || crash_s < 0)
                usage();

        clock_gettime(CLOCK_MONOTONIC, &now);
        snprintf(runid, sizeof(runid), "%ld.%lld", (long)getpid(),
                 (long long)now.tv_sec * 1000000LL + now.tv_nsec / 1000);
        snprintf(path, sizeof(path), "%s/ledger/%s.%s", dir, name, runid);
        snprintf(calm, sizeof(calm), "%s/calm", dir);
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 || ftruncate(fd, sizeof(*lg)) < 0) {
                fprintf(stderr, "soakworker: %s: %s\n", path, strerror(errno));
                return 96;
        }
        lg = mmap(NULL, sizeof(*lg), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (lg == MAP_FAILED) {
                fprintf(stderr, "soakworker: mmap %s: %s\n", path, strerror(errno));
                return 96;
        }
        close(fd);
        lg->starttime = start_ticks();
        srandom((unsigned)(now.tv_nsec ^ getpid()));

        long period_ns = 1000000000L / rate;
        tick = now;
        for (;;) {
                int pad = random() % 20 == 0 ? (int)(random() % 600) : (int)(random() % 40);
                int n = snprintf(line, sizeof(line), "SOAK %s %s %" PRIu64 " %.*s\n", name, runid, seq + 1, pad,
                                 "................................................................"
                                 "................................................................"
                                 "................................................................"
                                 "................................................................"
                                 "................................................................"
                                 "................................................................"
                                 "................................................................"
                                 "................................................................"
                                 "................................................................"
                                 "................................................................");
                int r = write_whole(STDOUT_FILENO, line, (size_t)n);
                if (r < 0) {
                        lg->werrno = (uint64_t)-r;
                        _exit(97);
                }
                lg->out = ++seq;
                if (err_every > 0 && seq % (uint64_t)err_every == 0) {
                        n = snprintf(line, sizeof(line), "SOAKERR %s %s %" PRIu64 " %.*s\n", name, runid, eseq + 1,
                                     (int)(random() % 30), "..............................");
                        r = write_whole(STDERR_FILENO, line, (size_t)n);
                        if (r < 0) {
                                lg->werrno = (uint64_t)-r;
                                _exit(97);
                        }
                        lg->err = ++eseq;
                }
                if (crash_s > 0 && random() % (rate * crash_s) == 0 && access(calm, F_OK) != 0)
                        _exit(3 + (int)(random() % 5));
                tick.tv_nsec += period_ns;
                while (tick.tv_nsec >= 1000000000L) {
                        tick.tv_nsec -= 1000000000L;
                        tick.tv_sec++;
                }
                while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &tick, NULL) == EINTR)
                        ;
        }
}
