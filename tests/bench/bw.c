/* bw - the benchmark worker: tells that it is running, then waits.
 *
 * Usage: bw FIFO
 *
 * Once exec'd it opens FIFO (a named pipe the measuring program holds open
 * for reading), writes its pid there as 4 raw bytes in one write() (atomic:
 * far below PIPE_BUF), closes it and blocks in pause() until a signal ends
 * it. It writes nothing on stdout/stderr and installs no handler: SIGTERM
 * (default disposition) ends it at once, so a stop measures the supervisor
 * and not the worker.
 *
 * "bw -" skips the report (idle workers). */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
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
