/* output.h - a worker's stdout/stderr pipe read in the loop, split into
 * records (a line, or at most 4096 bytes of a longer one, cut at the last
 * character boundary where it is UTF-8 there, else at 4096 bytes; a last
 * line without newline is delivered at EOF) and handed to log_output(). While the log
 * buffer is congested every such stream stops reading (the worker blocks).
 *
 * A file stream (output_open_file(), `stdout = "/path"`) copies the pipe's
 * bytes unchanged into its file instead, whole lines at a time (a line
 * longer than OUTPUT_FILE_LINE_MAX is written in pieces), so that a reopen
 * of the file (outfile.h) never splits a line between the old file and the
 * new; what is left without a newline at EOF is written as it is. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct loop;
struct output_stream;

#define OUTPUT_RECORD_MAX 4096
#define OUTPUT_FILE_LINE_MAX (64 * 1024)
/* What a file stream may hold that its file has not taken: a partial line
 * and at most one read of the pipe. */
#define OUTPUT_FILE_PENDING_MAX (2 * OUTPUT_FILE_LINE_MAX)

struct outfile;

/* Takes ownership of fd (made non-blocking); keeps a copy of name. on_eof is called
 * once, after the last record, from the loop. NULL on failure (errno). */
struct output_stream *output_open(struct loop *l, int fd, const char *name, int stream,
                                  void (*on_eof)(struct output_stream *s, void *data), void *data);
/* The same for a file stream: takes fd and the reference to file (both
 * released by output_close(), also on failure). */
struct output_stream *output_open_file(struct loop *l, int fd, struct outfile *file, const char *name, int stream,
                                       void (*on_eof)(struct output_stream *s, void *data), void *data);
/* fn sees every record of s after it is logged (with output_open()'s
 * data), e.g. to match a log probe; NULL: none. */
void output_on_record(struct output_stream *s, void (*fn)(const char *p, size_t n, void *data));
/* Closes the pipe (pending partial line is delivered first). NULL-safe. */
struct output_stream *output_close(struct output_stream *s);
void output_rename(struct output_stream *s, const char *name);

/* Called by the log's congestion hook. */
void output_set_paused(bool paused);
/* Reads everything currently in the pipe, ignoring congestion (used when a
 * worker must be drained); returns true at EOF. */
bool output_drain(struct output_stream *s);

/* ---- across a reexec ----
 * output_next(): every stream open, one after another (NULL: the first);
 * what each holds: its fd, name, stream, output_open()'s data, and the
 * bytes pending (*len bytes; NULL when none): a log stream's partial line,
 * a file stream's bytes not written to its file yet (its partial line, or
 * what the file could not take). output_adopt(): a stream again on fd,
 * with those bytes back (at most OUTPUT_RECORD_MAX for a log stream,
 * OUTPUT_FILE_PENDING_MAX for a file stream; a file stream writes their
 * complete lines at once); NULL on failure (errno; fd is closed). */
/* The last reads before the exec, made once the rest of the state is
 * written (the time that took, workers were not served): what each pipe
 * holds now is read and logged (a stream at its end, or in error, is left
 * so: the new graced finds that too); streams whose lines a policy reads
 * are not read here. */
void output_read_before_exec(void);
struct output_stream *output_next(struct output_stream *s);
int output_fd(const struct output_stream *s);
const char *output_name(const struct output_stream *s);
int output_stream_index(const struct output_stream *s);
void *output_data(const struct output_stream *s);
const char *output_pending(const struct output_stream *s, size_t *len);
/* The file of a file stream (output_open_file()), NULL for a log stream.
 * output_adopt() with file: a file stream again (takes the reference). */
struct outfile *output_file(const struct output_stream *s);
struct output_stream *output_adopt(struct loop *l, int fd, struct outfile *file, const char *name, int stream,
                                   const char *pending, size_t plen,
                                   void (*on_eof)(struct output_stream *s, void *data), void *data);
