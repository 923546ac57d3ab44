/* bw - the benchmark worker: tells that it is running, then waits.
 *
 * Usage: bw FIFO
 *        bw -t MS FIFO
 *        bw -r RATE GOFILE
 *
 * Once exec'd it opens FIFO (a named pipe the measuring program holds open
 * for reading), writes its pid there as 4 raw bytes in one write() (atomic:
 * far below PIPE_BUF), closes it and blocks in pause() until a signal ends
 * it. It writes nothing on stdout/stderr and installs no handler: SIGTERM
 * (default disposition) ends it at once, so a stop measures the supervisor
 * and not the worker.
 *
 * "bw -" skips the report (idle workers).
 *
 * "bw -t MS FIFO" (the reexec benchmark): reports as above, then every MS
 * milliseconds (absolute ticks, from a phase of its own) writes one line
 * "t <CLOCK_REALTIME in microseconds>" on stdout, in one write().
 *
 * "bw -r RATE GOFILE" (the soak): waits until GOFILE exists (checked every
 * 50 ms), then writes RATE lines per second, paced every 25 ms, one write()
 * per line like a line-buffered program: lines of 30 to 230 bytes (lengths
 * from a fixed pseudo-random sequence, a tab or a quote now and then), every
 * tenth on stderr. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Its pid, 4 raw bytes in one write(), to the FIFO. */
static int report_pid(const char *fifo)
{
        int fd = open(fifo, O_WRONLY | O_CLOEXEC);
        int32_t pid = (int32_t)getpid();
        ssize_t n;

        if (fd < 0)
                return -1;
        n = write(fd, &pid, sizeof pid);
        close(fd);
        return n == (ssize_t)sizeof pid ? 0 : -1;
}

static int rate_mode(double rate, const char *gofile)
{
        static const char fill[] = "the quick brown fox jumps over the lazy dog; status=ok code=200 "
                                   "path=/api/v1/items?id=42 user=\"bench\"\tlatency_ms=12 ";
        struct timespec tick = { 0, 25 * 1000 * 1000 };
        uint32_t seed = (uint32_t)getpid() * 2654435761u;
        unsigned long n = 0;
        double t0;

        while (access(gofile, F_OK) != 0) {
                struct timespec w = { 0, 50 * 1000 * 1000 };
                nanosleep(&w, NULL);
        }
        t0 = now_s();
        for (;;) {
                unsigned long due = (unsigned long)((now_s() - t0) * rate);

                while (n < due) {
                        char line[512];
                        int len, pad;

                        seed = seed * 1103515245u + 12345u;
                        pad = (int)((seed >> 16) % 201);
                        len = snprintf(line, sizeof line, "line %lu: ", ++n);
                        for (int i = 0; i < pad; i++)
                                line[len++] = fill[i % (sizeof fill - 1)];
                        line[len++] = '\n';
                        if (write(n % 10 ? 1 : 2, line, (size_t)len) < 0)
                                return 1;
                }
                nanosleep(&tick, NULL);
        }
}

static int tick_mode(long ms)
{
        struct timespec next;

        clock_gettime(CLOCK_MONOTONIC, &next);
        /* spread the workers' ticks over the period */
        next.tv_nsec += (long)((uint32_t)getpid() * 2654435761u % (uint32_t)(ms * 1000)) * 1000;
        for (;;) {
                struct timespec rt;
                char line[64];
                int len;

                next.tv_nsec += ms * 1000000;
                while (next.tv_nsec >= 1000000000) {
                        next.tv_nsec -= 1000000000;
                        next.tv_sec++;
                }
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
                clock_gettime(CLOCK_REALTIME, &rt);
                len = snprintf(line, sizeof line, "t %lld\n",
                               (long long)rt.tv_sec * 1000000 + rt.tv_nsec / 1000);
                if (write(1, line, (size_t)len) < 0)
                        return 1;
        }
}

int main(int argc, char **argv)
{
        if (argc > 3 && strcmp(argv[1], "-r") == 0)
                return rate_mode(atof(argv[2]), argv[3]);
        if (argc > 3 && strcmp(argv[1], "-t") == 0) {
                long ms = atol(argv[2]);

                argv += 2;
                argc -= 2;
                if (ms <= 0)
                        return 2;
                if (report_pid(argv[1]) < 0)
                        return 1;
                return tick_mode(ms);
        }
        if (argc > 1 && strcmp(argv[1], "-") != 0 && report_pid(argv[1]) < 0)
                return 1;
        for (;;)
                pause();
}
