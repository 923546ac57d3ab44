/* fuzz_output.c - a worker's output: the bytes it writes to its stdout or
 * stderr pipe, read by output.c in the pieces they come in. The first
 * input byte chooses the stream (bit 0: a file stream, stdout = "/path";
 * bit 1: stderr) and the log format of the records (bits 2-3: text, json,
 * dev); the rest, split at each FUZZ_SEP, is written to a real pipe one
 * piece at a time, each read by the stream (output_drain()) before the
 * next, then the pipe is closed and the stream drained to its end.
 * Checked: a record stream's records (log_output() and the record
 * callback) are at most OUTPUT_RECORD_MAX bytes without a newline and
 * hold every byte but the newlines; a file stream's file gets exactly the
 * bytes written. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "log.h"
#include "loop.h"
#include "outfile.h"
#include "output.h"

#define FUZZ_SEP "\xff\xfe"

#define CHECK(cond)                                                                      \
        do {                                                                             \
                if (!(cond)) {                                                           \
                        fprintf(stderr, "fuzz: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
                        abort();                                                         \
                }                                                                        \
        } while (0)

static struct loop *loop;
static char *file_path;
static size_t record_bytes, eofs;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        fuzz_log_init();
        loop = loop_new();
        CHECK(loop);
        file_path = fuzz_path("worker.out");
        return 0;
}

static void on_record(const char *p, size_t n, void *data)
{
        CHECK(n <= OUTPUT_RECORD_MAX);
        CHECK(!memchr(p, '\n', n));
        record_bytes += n;
}

static void on_eof(struct output_stream *s, void *data) { eofs++; }

/* Writes p[0..n) into the pipe, reading it out whenever it is full. */
static void put(int wfd, struct output_stream *s, const uint8_t *p, size_t n)
{
        while (n > 0) {
                ssize_t k = write(wfd, p, n);

                if (k < 0 && errno == EAGAIN) {
                        CHECK(!output_drain(s));
                        continue;
                }
                CHECK(k > 0);
                p += k;
                n -= (size_t)k;
        }
        CHECK(!output_drain(s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const enum log_format formats[] = { LOG_FORMAT_TEXT, LOG_FORMAT_JSON, LOG_FORMAT_DEV,
                                                   LOG_FORMAT_TEXT };
        struct outfile *f = NULL;
        struct output_stream *s;
        size_t total = 0, newlines = 0;
        uint8_t mode;
        int pfd[2], e = 0;
        bool file;

        if (size < 1)
                return 0;
        mode = data[0];
        file = mode & 1;
        data++;
        size--;
        log_setup(formats[(mode >> 2) & 3], LOG_COLOR_NEVER, LOG_DEBUG);
        record_bytes = eofs = 0;
        CHECK(pipe2(pfd, O_CLOEXEC | O_NONBLOCK) == 0);
        if (file) {
                CHECK(truncate(file_path, 0) == 0 || errno == ENOENT);
                f = outfile_get(loop, file_path, &e);
                CHECK(f);
                s = output_open_file(loop, pfd[0], f, "fuzz", (mode >> 1) & 1, on_eof, NULL);
        } else {
                s = output_open(loop, pfd[0], "fuzz", (mode >> 1) & 1, on_eof, NULL);
        }
        CHECK(s);
        output_on_record(s, on_record);
        for (;;) {
                size_t k = fuzz_split(data, size, FUZZ_SEP);

                put(pfd[1], s, data, k);
                total += k;
                for (size_t i = 0; i < k; i++)
                        newlines += data[i] == '\n';
                if (k == size)
                        break;
                data += k + strlen(FUZZ_SEP);
                size -= k + strlen(FUZZ_SEP);
        }
        close(pfd[1]);
        CHECK(output_drain(s));
        CHECK(eofs == 1);
        if (file) {
                struct stat st;

                CHECK(stat(file_path, &st) == 0);
                CHECK((size_t)st.st_size == total);
        } else {
                CHECK(record_bytes == total - newlines);
        }
        output_close(s);
        log_flush_all();
        return 0;
}
