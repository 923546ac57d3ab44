/* bw - the benchmark worker: tells that it is running, then waits.
 *
 * Usage: bw FIFO
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

int main(int argc, char **argv)
{
        if (argc > 3 && strcmp(argv[1], "-r") == 0)
                return rate_mode(atof(argv[2]), argv[3]);
        if (argc > 1 && strcmp(argv[1], "-") != 0) {
                int fd = open(argv[1], O_WRONLY | O_CLOEXEC);
                int32_t pid = (int32_t)getpid();

                if (fd < 0)
                        return 1;
                if (write(fd, &pid, sizeof pid) != (ssize_t)sizeof pid)
                        return 1;
                close(fd);
        }
        for (;;)
                pause();
}
